//! A consumer group's committed offsets, as an admin sees them: FindCoordinator, OffsetFetch
//! and OffsetCommit on the group's coordinator. Commits are written the way Kafka's
//! kafka-consumer-groups does for an inactive group: generation -1 and an empty member id.
#![allow(clippy::disallowed_methods)] // host-side client: sleeps between retries

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::Client;
use super::connection::Connection;
use super::error::{ClientError, ClientResult};
use super::limits::{RETRIES_MAX, RETRY_BACKOFF_MS};
use crate::types::ErrorCode;

/// FindCoordinator's key type of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;
/// OffsetCommit's generation for a commit from outside the group (Kafka's admin tools).
const GENERATION_NONE: i32 = -1;
/// OffsetCommit v2-4's "use the broker's offsets.retention.minutes".
const RETENTION_TIME_DEFAULT: i64 = -1;
/// OffsetCommit's "no leader epoch known".
const LEADER_EPOCH_NONE: i32 = -1;

/// `(topic, partition)`, ordered as the tools print them.
pub type TopicPartition = (String, i32);

/// One consumer group, reached through its coordinator.
pub struct GroupAdmin {
    group: String,
    coordinator: Arc<Connection>,
}

impl GroupAdmin {
    /// Finds `group`'s coordinator (retrying while the broker is still loading or creating the
    /// offsets topic) and connects to it.
    pub async fn connect(client: &Client, group: &str) -> ClientResult<Self> {
        if group.is_empty() {
            return Err(ClientError::Invalid(
                "the group id must not be empty".into(),
            ));
        }
        // The broker list the coordinator's node id is resolved against.
        client.metadata(Some(&[]), false).await?;
        let mut tries = 0;
        loop {
            match find_coordinator(client, group).await {
                Ok(node_id) => {
                    let coordinator = client.broker(node_id).await?;
                    return Ok(Self {
                        group: group.to_string(),
                        coordinator,
                    });
                }
                Err(e) if e.is_retriable() && tries < RETRIES_MAX => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// The group's committed offsets: of every partition it has committed (`topics` `None`),
    /// or of the named topics' partitions. Partitions without a commit are left out.
    pub async fn committed(
        &self,
        topics: Option<&BTreeMap<String, Vec<i32>>>,
    ) -> ClientResult<BTreeMap<TopicPartition, i64>> {
        let version = self.coordinator.version(ApiKey::OffsetFetch)?;
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_topics(topics.map(|topics| {
                topics
                    .iter()
                    .map(|(name, partitions)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partition_indexes(partitions.clone())
                    })
                    .collect()
            }));
        let response: OffsetFetchResponse = self
            .coordinator
            .call(ApiKey::OffsetFetch, version, &request)
            .await?;
        let context = format!("fetching the offsets of group '{}'", self.group);
        if let Some(e) =
            ClientError::from_code(ErrorCode::from_wire(response.error_code), Some(&context))
        {
            return Err(e);
        }
        let mut offsets = BTreeMap::new();
        for topic in response.topics {
            for p in topic.partitions {
                let context = format!("offset of {}-{}", topic.name.0, p.partition_index);
                if let Some(e) =
                    ClientError::from_code(ErrorCode::from_wire(p.error_code), Some(&context))
                {
                    return Err(e);
                }
                // -1: the group has no commit for this partition.
                if p.committed_offset >= 0 {
                    offsets.insert(
                        (topic.name.0.to_string(), p.partition_index),
                        p.committed_offset,
                    );
                }
            }
        }
        Ok(offsets)
    }

    /// Commits `offsets` from outside the group (generation -1, no member id); the broker
    /// accepts that only while the group has no members.
    pub async fn commit(&self, offsets: &BTreeMap<TopicPartition, i64>) -> ClientResult<()> {
        let version = self.coordinator.version(ApiKey::OffsetCommit)?;
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((topic, partition), offset) in offsets {
            by_topic.entry(topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(*partition)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(LEADER_EPOCH_NONE),
            );
        }
        let mut request = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_generation_id_or_member_epoch(GENERATION_NONE)
            .with_member_id(StrBytes::from_static_str(""))
            .with_topics(
                by_topic
                    .into_iter()
                    .map(|(name, partitions)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(topic_name(name))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        if (2..=4).contains(&version) {
            request.retention_time_ms = RETENTION_TIME_DEFAULT;
        }
        let response: OffsetCommitResponse = self
            .coordinator
            .call(ApiKey::OffsetCommit, version, &request)
            .await?;
        for topic in response.topics {
            for p in topic.partitions {
                let context = format!(
                    "committing the offset of {}-{} for group '{}'",
                    topic.name.0, p.partition_index, self.group
                );
                if let Some(e) =
                    ClientError::from_code(ErrorCode::from_wire(p.error_code), Some(&context))
                {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// The node id of `group`'s coordinator.
async fn find_coordinator(client: &Client, group: &str) -> ClientResult<i32> {
    let connection = client.bootstrap().clone();
    let version = connection.version(ApiKey::FindCoordinator)?;
    let request = FindCoordinatorRequest::default()
        .with_key(str_bytes(group))
        .with_key_type(KEY_TYPE_GROUP);
    let response: FindCoordinatorResponse = connection
        .call(ApiKey::FindCoordinator, version, &request)
        .await?;
    let message = response.error_message.as_ref().map(|m| m.to_string());
    let context = message.unwrap_or_else(|| format!("finding the coordinator of group '{group}'"));
    if let Some(e) =
        ClientError::from_code(ErrorCode::from_wire(response.error_code), Some(&context))
    {
        return Err(e);
    }
    Ok(response.node_id.0)
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn topic_name(name: &str) -> TopicName {
    TopicName(str_bytes(name))
}
