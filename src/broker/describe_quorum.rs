//! DescribeQuorum (KRaft's API 55): the controller quorum as its leader sees it, which
//! kafka-metadata-quorum and `rill metadata-quorum` print. Any node answers: its voter forwards
//! to the leader, where the voters' progress is known.
//!
//! Offsets are Kafka's: the metadata log's entries are numbered from 1 in Rill's Raft, so the
//! log end offset (the next entry's offset, counted from 0) is the last index, and the high
//! watermark (one past the last committed) is the commit index.

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{self as kafka, BrokerId, DescribeQuorumResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::acls::CLUSTER_NOT_AUTHORIZED;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::{DescribeLeaderRequest, QuorumReply, QuorumState};
use crate::messages::NodeMsg;
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, NodeId};

/// Kafka's name of the metadata log's topic; its one partition is 0.
pub const METADATA_TOPIC: &str = "__cluster_metadata";

/// Kafka's name for the listener voters reach each other on.
const CONTROLLER_LISTENER: &str = "CONTROLLER";

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_quorum(
        &self,
        request: kafka::DescribeQuorumRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<DescribeQuorumResponse, GatewayError> {
        // Kafka's check: DESCRIBE on the cluster, else the whole request is refused.
        if !self
            .access(frame, "DescribeQuorum")
            .allows_cluster(AclOperation::Describe)
        {
            let response = DescribeQuorumResponse::default()
                .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.wire());
            return Ok(match version >= 2 {
                true => response
                    .with_error_message(Some(StrBytes::from_static_str(CLUSTER_NOT_AUTHORIZED))),
                false => response,
            });
        }
        let asks_metadata_log = matches!(request.topics.as_slice(),
            [topic] if topic.topic_name.0.as_str() == METADATA_TOPIC
                && matches!(topic.partitions.as_slice(), [p] if p.partition_index == 0));
        if !asks_metadata_log {
            // Kafka's answer (KafkaRaftClient.handleDescribeQuorumRequest): every partition
            // asked for, each UNKNOWN_TOPIC_OR_PARTITION.
            let message = format!("only {METADATA_TOPIC} partition 0 has a quorum");
            let topics = request
                .topics
                .into_iter()
                .map(|topic| {
                    let partitions = topic
                        .partitions
                        .iter()
                        .map(|p| {
                            let code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
                            partition_error(code, &message, version)
                                .with_partition_index(p.partition_index)
                        })
                        .collect();
                    TopicData::default()
                        .with_topic_name(topic.topic_name)
                        .with_partitions(partitions)
                })
                .collect();
            return Ok(DescribeQuorumResponse::default().with_topics(topics));
        }
        let partition = match ask(&self.node, DescribeLeaderRequest).await? {
            QuorumReply::Described(state) if state.leader == Some(state.node_id) => {
                leader_view(&state)
            }
            QuorumReply::Described(_) | QuorumReply::NotLeader { .. } => partition_error(
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                "no leader known here",
                version,
            ),
            QuorumReply::Failed(why) => {
                return Ok(refused(ErrorCode::UNKNOWN_SERVER_ERROR, why, version))
            }
            QuorumReply::Committed { .. }
            | QuorumReply::LeadersElected(_)
            | QuorumReply::Reassigned(_)
            | QuorumReply::Reassignments(_)
            | QuorumReply::BrokerConfigsAltered(_)
            | QuorumReply::ScramCredentialsAltered { .. }
            | QuorumReply::ClientQuotasAltered { .. }
            | QuorumReply::AclsCreated { .. }
            | QuorumReply::AclsDeleted { .. }
            | QuorumReply::Registered { .. }
            | QuorumReply::Heartbeat { .. }
            | QuorumReply::StaleBrokerEpoch
            | QuorumReply::ShutdownReady
            | QuorumReply::Displaced
            | QuorumReply::DuplicateRegistration
            | QuorumReply::ProducerIds { .. }
            | QuorumReply::PartitionsAltered(_)
            | QuorumReply::Topics(_)
            | QuorumReply::TopicsChanged { .. } => {
                return Err(GatewayError::Close(
                    "DescribeQuorum: an unexpected answer".into(),
                ))
            }
        };
        let topic = TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
            .with_partitions(vec![partition]);
        let mut response = DescribeQuorumResponse::default().with_topics(vec![topic]);
        if version >= 2 {
            response = response.with_nodes(self.voter_nodes());
        }
        Ok(response)
    }

    /// v2's nodes: every voter with its controller listener.
    fn voter_nodes(&self) -> Vec<Node> {
        self.settings
            .voters
            .iter()
            .map(|(id, address)| {
                // A quorum of one without a controller listener listens on no fixed port.
                let listeners = (address.port != 0).then(|| {
                    Listener::default()
                        .with_name(StrBytes::from_static_str(CONTROLLER_LISTENER))
                        .with_host(StrBytes::from_string(address.host.clone()))
                        .with_port(address.port)
                });
                Node::default()
                    .with_node_id(broker_id(*id))
                    .with_listeners(listeners.into_iter().collect())
            })
            .collect()
    }
}

/// The partition as the leader sees it: its own log end, each follower's matched index, and
/// each observer's (broker-only nodes following the log: KRaft's `observers`).
fn leader_view(state: &QuorumState) -> PartitionData {
    let leader = state.node_id;
    let mut voters = vec![replica(leader, state.last_index)];
    voters.extend(
        state
            .followers
            .iter()
            .map(|&(id, matched)| replica(id, matched)),
    );
    voters.sort_by_key(|r| r.replica_id.0);
    PartitionData::default()
        .with_partition_index(0)
        .with_leader_id(broker_id(leader))
        .with_leader_epoch(i32::try_from(state.term).unwrap_or(i32::MAX))
        .with_high_watermark(offset(state.commit_index))
        .with_current_voters(voters)
        .with_observers(
            (state.observers.iter())
                .map(|&(id, matched)| replica(id, matched))
                .collect(),
        )
}

fn replica(id: NodeId, log_end: u64) -> ReplicaState {
    // Rill keeps no fetch times yet: -1 is Kafka's "unknown".
    ReplicaState::default()
        .with_replica_id(broker_id(id))
        .with_log_end_offset(offset(log_end))
        .with_last_fetch_timestamp(-1)
        .with_last_caught_up_timestamp(-1)
}

fn partition_error(code: ErrorCode, message: &str, version: i16) -> PartitionData {
    let data = PartitionData::default()
        .with_partition_index(0)
        .with_error_code(code.wire())
        .with_leader_id(BrokerId(-1))
        .with_leader_epoch(-1)
        .with_high_watermark(-1);
    match version >= 2 {
        true => data.with_error_message(Some(StrBytes::from_string(message.to_owned()))),
        false => data,
    }
}

fn refused(code: ErrorCode, message: String, version: i16) -> DescribeQuorumResponse {
    let response = DescribeQuorumResponse::default().with_error_code(code.wire());
    match version >= 2 {
        true => response.with_error_message(Some(StrBytes::from_string(message))),
        false => response,
    }
}

pub(super) fn broker_id(id: NodeId) -> BrokerId {
    BrokerId(i32::try_from(id.0).unwrap_or(i32::MAX))
}

fn offset(index: u64) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}
