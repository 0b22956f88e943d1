//! ElectLeaders (43): preferred (v0+) and unclean (v1+) leader elections, which
//! kafka-leader-election, `rill leader-election` and the admin clients' electLeaders send. Any
//! broker answers: its voter forwards the request to the controller quorum's leader, which
//! elects and answers once the changes are committed.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{self as kafka, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::acls::CLUSTER_NOT_AUTHORIZED;
use super::per_partition;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::{ElectLeadersArgs, ElectionOutcome, ElectionType, QuorumReply};
use crate::messages::NodeMsg;
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn elect_leaders(
        &self,
        request: kafka::ElectLeadersRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<ElectLeadersResponse, GatewayError> {
        // Kafka's check: ALTER on the cluster, else every partition is refused.
        if !self
            .access(frame, "ElectLeaders")
            .allows_cluster(AclOperation::Alter)
        {
            let (code, message) = (
                ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
                CLUSTER_NOT_AUTHORIZED,
            );
            return Ok(refused(code, message, &request, version));
        }
        // v0 has no election type: it elects preferred leaders.
        let election_type = match (version, request.election_type) {
            (0, _) | (_, 0) => ElectionType::Preferred,
            (_, 1) => ElectionType::Unclean,
            (_, other) => {
                let message = format!("unknown election type {other}: 0 is preferred, 1 unclean");
                return Ok(refused(
                    ErrorCode::INVALID_REQUEST,
                    &message,
                    &request,
                    version,
                ));
            }
        };
        let partitions = request.topic_partitions.as_ref().map(|topics| {
            (topics.iter())
                .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
                .collect()
        });
        let args = ElectLeadersArgs {
            election_type,
            partitions,
        };
        let (code, message) = match ask(&self.node, args).await {
            Ok(QuorumReply::LeadersElected(outcomes)) => {
                let results = by_topic(outcomes);
                return Ok(ElectLeadersResponse::default().with_replica_election_results(results));
            }
            Ok(other) => (
                ErrorCode::NOT_CONTROLLER,
                format!("the controller quorum did not elect: {other:?}"),
            ),
            Err(e) => (
                ErrorCode::REQUEST_TIMED_OUT,
                format!("the controller quorum did not answer: {e}"),
            ),
        };
        Ok(refused(code, &message, &request, version))
    }
}

/// The outcomes grouped by topic, in the order the topics first appear.
fn by_topic(outcomes: Vec<ElectionOutcome>) -> Vec<ReplicaElectionResult> {
    let partitions = outcomes.into_iter().map(|outcome| {
        let (code, message) = match outcome.result {
            Ok(()) => (ErrorCode::NONE, None),
            Err(code) => (code, Some(StrBytes::from_string(describe(code)))),
        };
        let partition = PartitionResult::default()
            .with_partition_id(outcome.partition)
            .with_error_code(code.wire())
            .with_error_message(message);
        let tp = TopicPartition {
            topic: outcome.topic,
            partition: outcome.partition,
        };
        (tp, partition)
    });
    (per_partition::group_by_topic(partitions).into_iter())
        .map(|(name, partition_result)| {
            ReplicaElectionResult::default()
                .with_topic(TopicName(StrBytes::from_string(name)))
                .with_partition_result(partition_result)
        })
        .collect()
}

/// The words a refused partition's election gets.
fn describe(code: ErrorCode) -> String {
    match code {
        ErrorCode::ELECTION_NOT_NEEDED => "the partition has the leader asked for already".into(),
        ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE => {
            "the preferred replica is not in the ISR or not live".into()
        }
        ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE => "no live replica can lead".into(),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => "no such topic or partition".into(),
        other => format!("{other:?}"),
    }
}

/// The whole request refused: the top-level error from v1, and each partition asked (v0 has
/// no top-level error) with the same code.
fn refused(
    code: ErrorCode,
    message: &str,
    request: &kafka::ElectLeadersRequest,
    version: i16,
) -> ElectLeadersResponse {
    let outcomes = (request.topic_partitions.iter().flatten())
        .flat_map(|t| {
            (t.partitions.iter()).map(|p| ElectionOutcome {
                topic: t.topic.0.to_string(),
                partition: *p,
                result: Err(code),
            })
        })
        .collect();
    // An authorization refusal is the authorizer's to log (sampled): a client repeating it
    // must not flood the log.
    if code != ErrorCode::CLUSTER_AUTHORIZATION_FAILED {
        tracing::warn!(%message, "ElectLeaders refused");
    }
    let response =
        ElectLeadersResponse::default().with_replica_election_results(by_topic(outcomes));
    if version >= 1 {
        response.with_error_code(code.wire())
    } else {
        response
    }
}
