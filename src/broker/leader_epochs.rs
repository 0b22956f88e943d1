//! OffsetForLeaderEpoch (API 23) v2-4: where a leader epoch ends in each partition's log.
//! Consumers ask it after a leader change to check that their position still exists on the
//! new leader (KIP-320: librdkafka sends v2, kafka-python v2-4); a follower finds where its
//! log diverged from the leader's (KIP-101/279). The partitions actor answers
//! (`partition::epoch_ends`); this file maps the request and the answer.
//!
//! `replica_id` (v3+: -1 a consumer, a broker id a follower) changes nothing: only the leader
//! answers, as in Kafka (`ReplicaManager.lastOffsetForLeaderEpoch`, `fetchOnlyFromLeader`).
//! A partition listed more than once is answered once, like Produce and Fetch
//! (`per_partition`); at most `REQUEST_PARTITIONS_MAX` distinct ones, or the connection closes.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::service::KafkaRequest;
use super::{per_partition, BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{EpochEndAsk, EpochEndsRequest, NodeMsg};
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::types::{ErrorCode, LeaderEpoch};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn offset_for_leader_epoch(
        &self,
        body: OffsetForLeaderEpochRequest,
        frame: &KafkaRequest,
    ) -> Result<OffsetForLeaderEpochResponse, GatewayError> {
        // Kafka's checks, whoever asks: CLUSTER_ACTION on the cluster (a follower's right)
        // allows every partition, else DESCRIBE on each topic; a refused partition is answered
        // TOPIC_AUTHORIZATION_FAILED.
        let access = self.access(frame, "OffsetForLeaderEpoch");
        let cluster_action = access.sees(
            AclOperation::ClusterAction,
            ResourceType::Cluster,
            CLUSTER_NAME,
        );
        let allowed = |topic: &str| {
            cluster_action || access.allows(AclOperation::Describe, ResourceType::Topic, topic)
        };
        let listed = body.topics.iter().flat_map(|topic| {
            let name = topic.topic.0.as_str();
            (topic.partitions.iter()).map(move |p| {
                let epochs = (p.current_leader_epoch, p.leader_epoch);
                (name, p.partition, epochs)
            })
        });
        let merged =
            per_partition::merge(listed).map_err(|e| format!("OffsetForLeaderEpoch: {e}"))?;
        let (merged, refused): (Vec<_>, Vec<_>) =
            merged.into_iter().partition(|(tp, _)| allowed(&tp.topic));
        let refused = refused.into_iter().map(|(tp, _)| {
            let partition = EpochEndOffset::default()
                .with_partition(tp.partition)
                .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.wire())
                .with_leader_epoch(-1)
                .with_end_offset(-1);
            (tp, partition)
        });
        let partitions: Vec<EpochEndAsk> = merged
            .into_iter()
            .map(|(tp, (current, asked))| EpochEndAsk {
                tp,
                current_leader_epoch: LeaderEpoch(current),
                leader_epoch: LeaderEpoch(asked),
            })
            .collect();
        let ends = match partitions.is_empty() {
            true => Vec::new(),
            false => ask(&self.node, EpochEndsRequest { partitions }).await?,
        };
        let answered = ends.into_iter().map(|end| {
            let partition = EpochEndOffset::default()
                .with_partition(end.tp.partition)
                .with_error_code(end.error_code.wire())
                .with_leader_epoch(end.leader_epoch.into())
                .with_end_offset(end.end_offset.into());
            (end.tp, partition)
        });
        let topics = per_partition::group_by_topic(answered.chain(refused))
            .into_iter()
            .map(|(name, partitions)| {
                OffsetForLeaderTopicResult::default()
                    .with_topic(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
            .collect();
        Ok(OffsetForLeaderEpochResponse::default().with_topics(topics))
    }
}
