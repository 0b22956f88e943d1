//! AlterPartitionReassignments (45) and ListPartitionReassignments (46): moving partitions'
//! replicas between brokers, which kafka-reassign-partitions, `rill reassign-partitions` and
//! the admin clients send. Any broker answers: its voter forwards the request to the
//! controller quorum's leader (`controller::metadata::reassign` decides), which answers once
//! the change is committed; the move itself then runs on the brokers.

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    self as kafka, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::acls::CLUSTER_NOT_AUTHORIZED;
use super::describe_quorum::broker_id;
use super::per_partition;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::{
    AlterReassignmentsArgs, ListReassignmentsArgs, OngoingReassignment, QuorumReply,
    ReassignOutcome, Reassignment,
};
use crate::messages::NodeMsg;
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, NodeId, Refusal, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn alter_partition_reassignments(
        &self,
        request: kafka::AlterPartitionReassignmentsRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<AlterPartitionReassignmentsResponse, GatewayError> {
        // Kafka's check: ALTER on the cluster, else the whole request is refused.
        if !(self.access(frame, "AlterPartitionReassignments")).allows_cluster(AclOperation::Alter)
        {
            return Ok(AlterPartitionReassignmentsResponse::default()
                .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.wire())
                .with_error_message(Some(StrBytes::from_static_str(CLUSTER_NOT_AUTHORIZED))));
        }
        // Broker ids are never negative: such a target is refused here, the rest go on.
        let mut refused = Vec::new();
        let mut reassignments = Vec::new();
        for topic in &request.topics {
            for p in &topic.partitions {
                let name = topic.name.0.to_string();
                let replicas = p.replicas.as_ref().map(|rs| {
                    (rs.iter())
                        .map(|r| u64::try_from(r.0).map(NodeId))
                        .collect::<Result<Vec<_>, _>>()
                });
                match replicas.transpose() {
                    Ok(replicas) => reassignments.push(Reassignment {
                        topic: name,
                        partition: p.partition_index,
                        replicas,
                    }),
                    Err(_) => refused.push(ReassignOutcome {
                        topic: name,
                        partition: p.partition_index,
                        result: Err(Refusal::new(
                            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            "a broker id is negative",
                        )),
                    }),
                }
            }
        }
        // v0 has no such field: any replication factor (KIP-860's default).
        let allow_replication_factor_change =
            version == 0 || request.allow_replication_factor_change;
        let mut response = AlterPartitionReassignmentsResponse::default();
        if version >= 1 {
            response.allow_replication_factor_change = allow_replication_factor_change;
        }
        if reassignments.is_empty() {
            return Ok(response.with_responses(by_topic(refused)));
        }
        let args = AlterReassignmentsArgs {
            reassignments,
            allow_replication_factor_change,
        };
        let (code, message) = match ask(&self.node, args).await {
            Ok(QuorumReply::Reassigned(mut outcomes)) => {
                outcomes.extend(refused);
                return Ok(response.with_responses(by_topic(outcomes)));
            }
            Ok(other) => (
                ErrorCode::NOT_CONTROLLER,
                format!("the controller quorum did not reassign: {other:?}"),
            ),
            Err(e) => (
                ErrorCode::REQUEST_TIMED_OUT,
                format!("the controller quorum did not answer: {e}"),
            ),
        };
        tracing::warn!(%message, "AlterPartitionReassignments refused");
        Ok(response
            .with_error_code(code.wire())
            .with_error_message(Some(StrBytes::from_string(message))))
    }

    pub(super) async fn list_partition_reassignments(
        &self,
        request: kafka::ListPartitionReassignmentsRequest,
        frame: &KafkaRequest,
    ) -> Result<ListPartitionReassignmentsResponse, GatewayError> {
        // Kafka's check: DESCRIBE on the cluster, else the whole request is refused.
        if !(self.access(frame, "ListPartitionReassignments"))
            .allows_cluster(AclOperation::Describe)
        {
            return Ok(ListPartitionReassignmentsResponse::default()
                .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.wire())
                .with_error_message(Some(StrBytes::from_static_str(CLUSTER_NOT_AUTHORIZED))));
        }
        let partitions = request.topics.as_ref().map(|topics| {
            (topics.iter())
                .flat_map(|t| (t.partition_indexes.iter()).map(|p| (t.name.0.to_string(), *p)))
                .collect()
        });
        let (code, message) = match ask(&self.node, ListReassignmentsArgs { partitions }).await {
            Ok(QuorumReply::Reassignments(ongoing)) => {
                return Ok(ListPartitionReassignmentsResponse::default()
                    .with_topics(ongoing_by_topic(ongoing)));
            }
            Ok(other) => (
                ErrorCode::NOT_CONTROLLER,
                format!("the controller quorum did not list: {other:?}"),
            ),
            Err(e) => (
                ErrorCode::REQUEST_TIMED_OUT,
                format!("the controller quorum did not answer: {e}"),
            ),
        };
        Ok(ListPartitionReassignmentsResponse::default()
            .with_error_code(code.wire())
            .with_error_message(Some(StrBytes::from_string(message))))
    }
}

/// The outcomes grouped by topic, in the order the topics first appear.
fn by_topic(outcomes: Vec<ReassignOutcome>) -> Vec<ReassignableTopicResponse> {
    let partitions = outcomes.into_iter().map(|outcome| {
        let (code, message) = match outcome.result {
            Ok(()) => (ErrorCode::NONE, None),
            Err(refusal) => (refusal.code, Some(StrBytes::from_string(refusal.message))),
        };
        let partition = ReassignablePartitionResponse::default()
            .with_partition_index(outcome.partition)
            .with_error_code(code.wire())
            .with_error_message(message);
        (topic_partition(outcome.topic, outcome.partition), partition)
    });
    (per_partition::group_by_topic(partitions).into_iter())
        .map(|(name, partitions)| {
            ReassignableTopicResponse::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect()
}

/// The reassignments under way grouped by topic.
fn ongoing_by_topic(ongoing: Vec<OngoingReassignment>) -> Vec<OngoingTopicReassignment> {
    let ids = |nodes: Vec<NodeId>| -> Vec<BrokerId> { nodes.into_iter().map(broker_id).collect() };
    let partitions = ongoing.into_iter().map(|o| {
        let partition = OngoingPartitionReassignment::default()
            .with_partition_index(o.partition)
            .with_replicas(ids(o.replicas))
            .with_adding_replicas(ids(o.adding))
            .with_removing_replicas(ids(o.removing));
        (topic_partition(o.topic, o.partition), partition)
    });
    (per_partition::group_by_topic(partitions).into_iter())
        .map(|(name, partitions)| {
            OngoingTopicReassignment::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect()
}

fn topic_partition(topic: String, partition: i32) -> TopicPartition {
    TopicPartition { topic, partition }
}
