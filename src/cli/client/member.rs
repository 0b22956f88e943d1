//! A classic-protocol consumer group member (eager, the `range` assignor), as the Java consumer
//! runs it: JoinGroup (the first answer MEMBER_ID_REQUIRED hands out the member id, KIP-394),
//! the leader computes every member's partitions, SyncGroup delivers them, Heartbeat keeps the
//! membership alive and tells of a rebalance, OffsetCommit with the generation, LeaveGroup.
#![allow(clippy::disallowed_methods)] // host-side client: reads the clock, sleeps between retries

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::time::Instant;

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use super::group::{
    decode_assignment, str_bytes, topic_name, GroupAdmin, TopicPartition, CONSUMER_PROTOCOL_TYPE,
};
use super::limits::RETRY_BACKOFF_MS;
use crate::types::ErrorCode;

/// The one assignor this member offers.
const RANGE_ASSIGNOR: &str = "range";
/// The consumer-protocol version of the subscription and assignment it writes.
const CONSUMER_PROTOCOL_VERSION: i16 = 0;

/// Membership timing under the Java consumer's names.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// `session.timeout.ms`: without a heartbeat for this long the coordinator drops the member.
    pub session_timeout_ms: i32,
    /// `max.poll.interval.ms`, sent as the rebalance timeout: how long the coordinator waits for
    /// every member to rejoin. Kept below the request timeout, which a JoinGroup waits out.
    pub rebalance_timeout_ms: i32,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
}

impl Default for MemberConfig {
    fn default() -> Self {
        Self {
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 20_000,
            heartbeat_interval: Duration::from_secs(3),
        }
    }
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Nothing changed (or no heartbeat was due).
    Stable,
    /// The group is rebalancing or this member was dropped: commit, then [`Member::rejoin`].
    Rejoin,
}

/// One member of a consumer group, subscribed to `topics`.
pub struct Member {
    client: Arc<Client>,
    admin: GroupAdmin,
    topics: Vec<String>,
    config: MemberConfig,
    member_id: String,
    generation: i32,
    assignment: Vec<TopicPartition>,
    next_heartbeat: Instant,
}

impl Member {
    /// Finds the coordinator, joins the group and waits for this member's assignment.
    pub async fn join(
        client: Arc<Client>,
        group: &str,
        topics: &[String],
        config: MemberConfig,
    ) -> ClientResult<Self> {
        let admin = GroupAdmin::connect(&client, group).await?;
        let mut member = Self {
            client,
            admin,
            topics: topics.to_vec(),
            config,
            member_id: String::new(),
            generation: -1,
            assignment: Vec::new(),
            next_heartbeat: Instant::now(),
        };
        member.rejoin().await?;
        Ok(member)
    }

    /// This member's partitions in the current generation, sorted.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The group's committed offsets of this member's partitions (those without a commit are
    /// left out), finding the coordinator again while it restarts or moves.
    pub async fn committed(&mut self) -> ClientResult<BTreeMap<TopicPartition, i64>> {
        let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in &self.assignment {
            topics.entry(topic.clone()).or_default().push(*partition);
        }
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let deadline = self.rebalance_deadline();
        loop {
            match self.admin.committed(Some(&topics)).await {
                Ok(committed) => return Ok(committed),
                Err(e) if worth_retrying(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                    if coordinator_lost(&e) {
                        self.reconnect(deadline).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Connects to the coordinator again if its connection closed (the broker restarted), so
    /// that nothing is sent on a dead connection.
    pub async fn ensure_coordinator(&mut self) -> ClientResult<()> {
        if self.admin.coordinator().is_closed() {
            let deadline = self.rebalance_deadline();
            self.reconnect(deadline).await?;
        }
        Ok(())
    }

    /// How long a rejoin (or a coordinator search) may take: `max.poll.interval.ms` from now.
    fn rebalance_deadline(&self) -> Instant {
        let timeout_ms = u64::try_from(self.config.rebalance_timeout_ms).unwrap_or(0);
        Instant::now() + Duration::from_millis(timeout_ms)
    }

    /// Finds the coordinator again (it restarted or moved), retrying until `deadline`.
    async fn reconnect(&mut self, deadline: Instant) -> ClientResult<()> {
        loop {
            match GroupAdmin::connect(&self.client, self.admin.group()).await {
                Ok(admin) => {
                    self.admin = admin;
                    return Ok(());
                }
                Err(e) if worth_retrying(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Commits `offsets` as this member of the current generation.
    pub async fn commit(&self, offsets: &BTreeMap<TopicPartition, i64>) -> ClientResult<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        (self.admin)
            .commit_as(offsets, self.generation, &self.member_id)
            .await
    }

    /// A heartbeat, when one is due.
    pub async fn heartbeat_if_due(&mut self) -> ClientResult<Beat> {
        if Instant::now() < self.next_heartbeat {
            return Ok(Beat::Stable);
        }
        self.next_heartbeat = Instant::now() + self.config.heartbeat_interval;
        let connection = self.admin.coordinator();
        let version = connection.version(ApiKey::Heartbeat)?;
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(self.admin.group())))
            .with_generation_id(self.generation)
            .with_member_id(str_bytes(&self.member_id));
        let response: HeartbeatResponse =
            match connection.call(ApiKey::Heartbeat, version, &request).await {
                Ok(response) => response,
                // The coordinator restarted or moved: find it again through a rejoin.
                Err(e) if e.is_retriable() => return Ok(Beat::Rejoin),
                Err(e) => return Err(e),
            };
        let code = ErrorCode::from_wire(response.error_code);
        if rejoin_code(code) {
            return Ok(Beat::Rejoin);
        }
        match ClientError::from_code(code, Some("heartbeat")) {
            Some(e) => Err(e),
            None => Ok(Beat::Stable),
        }
    }

    /// Joins (again) and syncs until this member has an assignment in a new generation,
    /// finding the coordinator again when it restarted or moved; gives up after the rebalance
    /// timeout.
    pub async fn rejoin(&mut self) -> ClientResult<()> {
        let deadline = self.rebalance_deadline();
        loop {
            if self.admin.coordinator().is_closed() {
                self.reconnect(deadline).await?;
            }
            match self.join_and_sync().await {
                Ok(()) => {
                    self.next_heartbeat = Instant::now() + self.config.heartbeat_interval;
                    return Ok(());
                }
                Err(e) if worth_retrying(&e) && Instant::now() < deadline => {
                    if e.code() == Some(ErrorCode::UNKNOWN_MEMBER_ID) {
                        self.member_id.clear();
                    }
                    if e.code() != Some(ErrorCode::REBALANCE_IN_PROGRESS) {
                        tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                    }
                    if coordinator_lost(&e) {
                        self.reconnect(deadline).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Leaves the group, so that the others rebalance at once rather than after the session
    /// timeout.
    pub async fn leave(&self) -> ClientResult<()> {
        let connection = self.admin.coordinator();
        let version = connection.version(ApiKey::LeaveGroup)?;
        let mut request =
            LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(self.admin.group())));
        if version >= 3 {
            request.members =
                vec![MemberIdentity::default().with_member_id(str_bytes(&self.member_id))];
        } else {
            request.member_id = str_bytes(&self.member_id);
        }
        let response: LeaveGroupResponse = connection
            .call(ApiKey::LeaveGroup, version, &request)
            .await?;
        let codes = std::iter::once(response.error_code)
            .chain(response.members.iter().map(|m| m.error_code));
        for code in codes {
            if let Some(e) = ClientError::from_code(ErrorCode::from_wire(code), Some("leaving")) {
                return Err(e);
            }
        }
        Ok(())
    }

    async fn join_and_sync(&mut self) -> ClientResult<()> {
        let joined = self.join_once().await?;
        let assignments = if joined.leader == joined.member_id {
            self.assign(&joined).await?
        } else {
            Vec::new()
        };
        let connection = self.admin.coordinator();
        let version = connection.version(ApiKey::SyncGroup)?;
        let mut request = SyncGroupRequest::default()
            .with_group_id(GroupId(str_bytes(self.admin.group())))
            .with_generation_id(self.generation)
            .with_member_id(str_bytes(&self.member_id))
            .with_assignments(assignments);
        if version >= 5 {
            request.protocol_type = Some(StrBytes::from_static_str(CONSUMER_PROTOCOL_TYPE));
            request.protocol_name = Some(StrBytes::from_static_str(RANGE_ASSIGNOR));
        }
        let response: SyncGroupResponse = connection
            .call(ApiKey::SyncGroup, version, &request)
            .await?;
        if let Some(e) =
            ClientError::from_code(ErrorCode::from_wire(response.error_code), Some("SyncGroup"))
        {
            return Err(e);
        }
        let mut assignment = decode_assignment(response.assignment);
        assignment.sort();
        self.assignment = assignment;
        Ok(())
    }

    /// JoinGroup, repeated once with the member id a MEMBER_ID_REQUIRED answer hands out.
    async fn join_once(&mut self) -> ClientResult<JoinGroupResponse> {
        let connection = self.admin.coordinator().clone();
        let version = connection.version(ApiKey::JoinGroup)?;
        let metadata = encode_subscription(&self.topics)?;
        loop {
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(str_bytes(self.admin.group())))
                .with_session_timeout_ms(self.config.session_timeout_ms)
                .with_rebalance_timeout_ms(self.config.rebalance_timeout_ms)
                .with_member_id(str_bytes(&self.member_id))
                .with_protocol_type(StrBytes::from_static_str(CONSUMER_PROTOCOL_TYPE))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str(RANGE_ASSIGNOR))
                    .with_metadata(metadata.clone())]);
            let response: JoinGroupResponse = connection
                .call(ApiKey::JoinGroup, version, &request)
                .await?;
            let code = ErrorCode::from_wire(response.error_code);
            if code == ErrorCode::MEMBER_ID_REQUIRED && self.member_id.is_empty() {
                if response.member_id.is_empty() {
                    // Asking again would loop: the broker gave no id to join with.
                    return Err(ClientError::Broker {
                        code,
                        message: "JoinGroup: MEMBER_ID_REQUIRED without a member id".to_owned(),
                    });
                }
                self.member_id = response.member_id.to_string();
                continue;
            }
            if let Some(e) = ClientError::from_code(code, Some("JoinGroup")) {
                return Err(e);
            }
            self.member_id = response.member_id.to_string();
            self.generation = response.generation_id;
            return Ok(response);
        }
    }

    /// The leader's SyncGroup assignments: the range assignor over every member's subscription.
    async fn assign(
        &self,
        joined: &JoinGroupResponse,
    ) -> ClientResult<Vec<SyncGroupRequestAssignment>> {
        let mut subscriptions = BTreeMap::new();
        for m in &joined.members {
            subscriptions.insert(m.member_id.to_string(), decode_subscription(&m.metadata)?);
        }
        let mut topics: Vec<&str> = subscriptions
            .values()
            .flatten()
            .map(String::as_str)
            .collect();
        topics.sort_unstable();
        topics.dedup();
        let metadata = self.client.metadata(Some(&topics), false).await?;
        // A topic that does not exist (yet) has no partitions to hand out.
        let partitions: BTreeMap<String, i32> = topics
            .iter()
            .filter_map(|t| metadata.topic(t).ok())
            .map(|info| (info.name.clone(), info.partitions.len() as i32))
            .collect();
        let plan = range_assign(&subscriptions, &partitions);
        (subscriptions.keys())
            .map(|member| {
                let assigned = plan.get(member).cloned().unwrap_or_default();
                Ok(SyncGroupRequestAssignment::default()
                    .with_member_id(str_bytes(member))
                    .with_assignment(encode_assignment(&assigned)?))
            })
            .collect()
    }
}

/// Codes after which the member joins again: the group moved on without it, or it has to find
/// its coordinator again (or wait for it to load the group).
fn rejoin_code(code: ErrorCode) -> bool {
    code == ErrorCode::REBALANCE_IN_PROGRESS
        || code == ErrorCode::ILLEGAL_GENERATION
        || code == ErrorCode::UNKNOWN_MEMBER_ID
        || code == ErrorCode::NOT_COORDINATOR
        || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
}

/// Errors a member outlives by trying again: a retriable one, a broker that cannot be reached
/// (restarting), or a group code that asks for a rejoin.
pub(super) fn worth_retrying(e: &ClientError) -> bool {
    e.is_retriable()
        || matches!(e, ClientError::Connect { .. })
        || e.code().is_some_and(rejoin_code)
}

fn coordinator_lost(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Disconnected { .. }
            | ClientError::Connect { .. }
            | ClientError::Timeout { .. }
    ) || e.code() == Some(ErrorCode::NOT_COORDINATOR)
        || e.code() == Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
}

/// Kafka's RangeAssignor: per topic, its subscribers sorted by member id; each gets
/// `partitions / members` consecutive partitions, the first `partitions % members` one more.
fn range_assign(
    subscriptions: &BTreeMap<String, Vec<String>>,
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut plan: BTreeMap<String, Vec<TopicPartition>> = BTreeMap::new();
    for (topic, count) in partitions {
        let members: Vec<&String> = (subscriptions.iter())
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(member, _)| member)
            .collect();
        if members.is_empty() {
            continue;
        }
        let share = *count / members.len() as i32;
        let extra = *count % members.len() as i32;
        for (i, member) in members.into_iter().enumerate() {
            let i = i as i32;
            let start = i * share + i.min(extra);
            let length = share + i32::from(i < extra);
            if length == 0 {
                continue;
            }
            plan.entry(member.clone())
                .or_default()
                .extend((start..start + length).map(|p| (topic.clone(), p)));
        }
    }
    plan
}

/// A consumer-protocol message: its version, then the body.
fn encode_versioned(body: &impl Encodable) -> ClientResult<Bytes> {
    let mut buf = BytesMut::new();
    buf.put_i16(CONSUMER_PROTOCOL_VERSION);
    body.encode(&mut buf, CONSUMER_PROTOCOL_VERSION)
        .map_err(|e| {
            ClientError::Protocol(format!("cannot encode a consumer protocol message: {e}"))
        })?;
    Ok(buf.freeze())
}

fn encode_subscription(topics: &[String]) -> ClientResult<Bytes> {
    encode_versioned(
        &ConsumerProtocolSubscription::default()
            .with_topics(topics.iter().map(|t| str_bytes(t)).collect()),
    )
}

fn decode_subscription(metadata: &Bytes) -> ClientResult<Vec<String>> {
    use bytes::Buf;
    let mut bytes = metadata.clone();
    if bytes.remaining() < 2 {
        return Err(ClientError::Protocol(
            "a member's subscription is empty".into(),
        ));
    }
    // Newer versions only append fields, so a body is read as at most the version known.
    let version = bytes.get_i16().clamp(0, 3);
    let subscription = ConsumerProtocolSubscription::decode(&mut bytes, version)
        .map_err(|e| ClientError::Protocol(format!("cannot decode a subscription: {e}")))?;
    Ok(subscription.topics.iter().map(|t| t.to_string()).collect())
}

fn encode_assignment(partitions: &[TopicPartition]) -> ClientResult<Bytes> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    encode_versioned(
        &ConsumerProtocolAssignment::default().with_assigned_partitions(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    AssignedTopic::default()
                        .with_topic(topic_name(topic))
                        .with_partitions(partitions)
                })
                .collect(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriptions(members: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        (members.iter())
            .map(|(m, topics)| {
                (
                    m.to_string(),
                    topics.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn range_assignor_gives_the_first_members_the_extra_partitions() {
        let subs = subscriptions(&[("b", &["t", "u"]), ("a", &["t"]), ("c", &["t", "u"])]);
        let partitions = BTreeMap::from([("t".to_string(), 7), ("u".to_string(), 1)]);
        let plan = range_assign(&subs, &partitions);
        let of = |m: &str| plan.get(m).cloned().unwrap_or_default();
        let tp = |t: &str, p: i32| (t.to_string(), p);
        assert_eq!(of("a"), [tp("t", 0), tp("t", 1), tp("t", 2)]);
        assert_eq!(of("b"), [tp("t", 3), tp("t", 4), tp("u", 0)]);
        assert_eq!(of("c"), [tp("t", 5), tp("t", 6)]);
        // More members than partitions: the last ones get none.
        let one = BTreeMap::from([("u".to_string(), 1)]);
        assert!(!range_assign(&subs, &one).contains_key("c"));
    }

    #[test]
    fn subscription_and_assignment_round_trip() {
        let encoded = encode_subscription(&["t".into(), "u".into()]).unwrap();
        assert_eq!(&encoded[..2], &[0, 0], "version 0 prefix");
        assert_eq!(decode_subscription(&encoded).unwrap(), ["t", "u"]);
        assert!(decode_subscription(&Bytes::from_static(&[0])).is_err());
        let partitions = vec![("t".to_string(), 2), ("t".to_string(), 0)];
        let decoded = decode_assignment(encode_assignment(&partitions).unwrap());
        assert_eq!(decoded, partitions);
    }
}
