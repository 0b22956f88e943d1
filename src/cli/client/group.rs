//! Consumer groups as an admin sees them: FindCoordinator, then DescribeGroups, OffsetFetch and
//! OffsetCommit on the group's coordinator; ListGroups of every broker. Commits are written the way Kafka's
//! kafka-consumer-groups does for an inactive group: generation -1 and an empty member id.
#![allow(clippy::disallowed_methods)] // host-side client: sleeps between retries

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    ConsumerProtocolAssignment, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

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

/// The protocol type of groups whose members are Kafka consumers.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// One member as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// Its partitions, decoded from a consumer-protocol assignment (empty otherwise).
    pub assignment: Vec<TopicPartition>,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Kafka's state name: Empty, Stable, PreparingRebalance, CompletingRebalance, Dead.
    pub state: String,
    pub protocol_type: String,
    /// The chosen assignor (e.g. `range`), while the group is Stable.
    pub protocol: String,
    pub members: Vec<GroupMember>,
    /// The coordinator's node id and `host:port`.
    pub coordinator: (i32, String),
}

/// One group of ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group: String,
    pub protocol_type: String,
    pub state: String,
}

/// One consumer group, reached through its coordinator.
pub struct GroupAdmin {
    group: String,
    coordinator_id: i32,
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
                        coordinator_id: node_id,
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

    /// The connection to the group's coordinator.
    pub(super) fn coordinator(&self) -> &Arc<Connection> {
        &self.coordinator
    }

    /// Deletes the group and its offsets (refused by the broker while it has members).
    pub async fn delete(&self) -> ClientResult<()> {
        let version = self.coordinator.version(ApiKey::DeleteGroups)?;
        let request =
            DeleteGroupsRequest::default().with_groups_names(vec![GroupId(str_bytes(&self.group))]);
        let response: DeleteGroupsResponse = self
            .coordinator
            .call(ApiKey::DeleteGroups, version, &request)
            .await?;
        let result = response
            .results
            .iter()
            .find(|r| r.group_id.0.as_str() == self.group)
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "the DeleteGroups answer has no entry for group '{}'",
                    self.group
                ))
            })?;
        let context = format!("deleting group '{}'", self.group);
        match ClientError::from_code(ErrorCode::from_wire(result.error_code), Some(&context)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Deletes the group's offsets of `partitions` (topic → partitions): each partition's
    /// outcome. A group-level error (e.g. GROUP_ID_NOT_FOUND) fails the whole call.
    pub async fn delete_offsets(
        &self,
        partitions: &BTreeMap<String, Vec<i32>>,
    ) -> ClientResult<BTreeMap<TopicPartition, ClientResult<()>>> {
        let version = self.coordinator.version(ApiKey::OffsetDelete)?;
        let request = OffsetDeleteRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_topics(
                partitions
                    .iter()
                    .map(|(topic, partitions)| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(topic_name(topic))
                            .with_partitions(
                                (partitions.iter())
                                    .map(|p| {
                                        OffsetDeleteRequestPartition::default()
                                            .with_partition_index(*p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response: OffsetDeleteResponse = self
            .coordinator
            .call(ApiKey::OffsetDelete, version, &request)
            .await?;
        let context = format!("deleting the offsets of group '{}'", self.group);
        if let Some(e) =
            ClientError::from_code(ErrorCode::from_wire(response.error_code), Some(&context))
        {
            return Err(e);
        }
        let mut outcomes = BTreeMap::new();
        for topic in response.topics {
            for p in topic.partitions {
                let context = format!("offset of {}-{}", topic.name.0, p.partition_index);
                let outcome = match ClientError::from_code(
                    ErrorCode::from_wire(p.error_code),
                    Some(&context),
                ) {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
                outcomes.insert((topic.name.0.to_string(), p.partition_index), outcome);
            }
        }
        Ok(outcomes)
    }

    /// The group's state and members; a group the coordinator does not know is state Dead.
    /// As Kafka's admin client: ConsumerGroupDescribe first (a KIP-848 group), DescribeGroups
    /// when the group is not one (or the broker has no KIP-848).
    pub async fn describe(&self) -> ClientResult<GroupDescription> {
        if let Some(described) = self.describe_consumer_group().await? {
            return Ok(described);
        }
        self.describe_classic().await
    }

    /// ConsumerGroupDescribe of the group: `None` if it is not a KIP-848 group.
    async fn describe_consumer_group(&self) -> ClientResult<Option<GroupDescription>> {
        if !self.coordinator.supports(ApiKey::ConsumerGroupDescribe) {
            return Ok(None);
        }
        let version = self.coordinator.version(ApiKey::ConsumerGroupDescribe)?;
        let request = ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(str_bytes(&self.group))]);
        let response: ConsumerGroupDescribeResponse = self
            .coordinator
            .call(ApiKey::ConsumerGroupDescribe, version, &request)
            .await?;
        let Some(described) =
            (response.groups.into_iter()).find(|g| g.group_id.0.as_str() == self.group)
        else {
            return Ok(None);
        };
        let code = ErrorCode::from_wire(described.error_code);
        if code == ErrorCode::GROUP_ID_NOT_FOUND {
            return Ok(None); // a classic group, or none
        }
        let context = described.error_message.as_ref().map(|m| m.to_string());
        let context = context.unwrap_or_else(|| format!("describing group '{}'", self.group));
        if let Some(e) = ClientError::from_code(code, Some(&context)) {
            return Err(e);
        }
        let members = (described.members.into_iter())
            .map(|m| {
                let mut assignment: Vec<TopicPartition> = (m.assignment.topic_partitions)
                    .into_iter()
                    .flat_map(|t| {
                        let topic = t.topic_name.0.to_string();
                        t.partitions.into_iter().map(move |p| (topic.clone(), p))
                    })
                    .collect();
                assignment.sort();
                GroupMember {
                    member_id: m.member_id.to_string(),
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    assignment,
                }
            })
            .collect();
        Ok(Some(GroupDescription {
            state: described.group_state.to_string(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
            protocol: described.assignor_name.to_string(),
            members,
            coordinator: (self.coordinator_id, self.coordinator.addr().to_string()),
        }))
    }

    /// DescribeGroups of the group (the classic protocol's view).
    async fn describe_classic(&self) -> ClientResult<GroupDescription> {
        let version = self.coordinator.version(ApiKey::DescribeGroups)?;
        let request =
            DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(&self.group))]);
        let response: DescribeGroupsResponse = self
            .coordinator
            .call(ApiKey::DescribeGroups, version, &request)
            .await?;
        let described = response
            .groups
            .into_iter()
            .find(|g| g.group_id.0.as_str() == self.group)
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "the DescribeGroups answer has no entry for group '{}'",
                    self.group
                ))
            })?;
        let code = ErrorCode::from_wire(described.error_code);
        // v6 answers an unknown group GROUP_ID_NOT_FOUND, older versions state Dead.
        if code != ErrorCode::GROUP_ID_NOT_FOUND {
            let context = described.error_message.as_ref().map(|m| m.to_string());
            let context = context.unwrap_or_else(|| format!("describing group '{}'", self.group));
            if let Some(e) = ClientError::from_code(code, Some(&context)) {
                return Err(e);
            }
        }
        let consumer = described.protocol_type.as_str() == CONSUMER_PROTOCOL_TYPE;
        let members = described
            .members
            .into_iter()
            .map(|m| GroupMember {
                member_id: m.member_id.to_string(),
                client_id: m.client_id.to_string(),
                host: m.client_host.to_string(),
                assignment: if consumer {
                    decode_assignment(m.member_assignment)
                } else {
                    Vec::new()
                },
            })
            .collect();
        Ok(GroupDescription {
            state: if code == ErrorCode::GROUP_ID_NOT_FOUND {
                "Dead".to_string()
            } else {
                described.group_state.to_string()
            },
            protocol_type: described.protocol_type.to_string(),
            protocol: described.protocol_data.to_string(),
            members,
            coordinator: (self.coordinator_id, self.coordinator.addr().to_string()),
        })
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
        self.commit_as(offsets, GENERATION_NONE, "").await
    }

    /// Commits `offsets` as `member_id` of `generation` (a member's own commit).
    pub async fn commit_as(
        &self,
        offsets: &BTreeMap<TopicPartition, i64>,
        generation: i32,
        member_id: &str,
    ) -> ClientResult<()> {
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
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(str_bytes(member_id))
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

/// Every group of every broker (each coordinator lists its own), sorted by name.
pub async fn list_groups(client: &Client) -> ClientResult<Vec<ListedGroup>> {
    let metadata = client.metadata(Some(&[]), false).await?;
    let mut groups = BTreeMap::new();
    for node_id in metadata.brokers.keys() {
        let connection = client.broker(*node_id).await?;
        let version = connection.version(ApiKey::ListGroups)?;
        let response: ListGroupsResponse = connection
            .call(ApiKey::ListGroups, version, &ListGroupsRequest::default())
            .await?;
        let context = format!("listing the groups of broker {node_id}");
        if let Some(e) =
            ClientError::from_code(ErrorCode::from_wire(response.error_code), Some(&context))
        {
            return Err(e);
        }
        for g in response.groups {
            let group = g.group_id.0.to_string();
            groups.insert(
                group.clone(),
                ListedGroup {
                    group,
                    protocol_type: g.protocol_type.to_string(),
                    state: g.group_state.to_string(),
                },
            );
        }
    }
    Ok(groups.into_values().collect())
}

/// The partitions of a consumer-protocol assignment (a version prefix, then the body); an
/// undecodable one is reported as no partitions rather than failing the whole description.
pub(super) fn decode_assignment(mut bytes: bytes::Bytes) -> Vec<TopicPartition> {
    use bytes::Buf;
    if bytes.remaining() < 2 {
        return Vec::new();
    }
    let version = bytes.get_i16().min(3);
    let Ok(assignment) = ConsumerProtocolAssignment::decode(&mut bytes, version.max(0)) else {
        return Vec::new();
    };
    assignment
        .assigned_partitions
        .into_iter()
        .flat_map(|t| {
            let topic = t.topic.0.to_string();
            t.partitions.into_iter().map(move |p| (topic.clone(), p))
        })
        .collect()
}

/// The node id of `group`'s coordinator.
async fn find_coordinator(client: &Client, group: &str) -> ClientResult<i32> {
    let connection = client.live_bootstrap().await?;
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

pub(super) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub(super) fn topic_name(name: &str) -> TopicName {
    TopicName(str_bytes(name))
}
