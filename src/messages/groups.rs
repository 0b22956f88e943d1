//! The group coordinator's requests, replies and events ([`super::GROUPS`]).
//!
//! The gateway decodes a Kafka group request into one of the `*Args` below (the client id and
//! host come from the request header and the connection) and gets one reply per request. The
//! partitions actor tells the coordinator which `__consumer_offsets` partitions this node leads
//! with [`GroupsEvent`]s, tagged with a [`LeaderTerm`], so a write is acknowledged only by the
//! very leadership that appended it.
//!
//! Like every type of this module's parent, variant and field order is the node's wire
//! (postcard): append, never reorder.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{ErrorCode, LeaderEpoch, Offset, TopicPartition};

/// Kafka's internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One leadership of one partition: its leader epoch and the partitions actor's replica id.
/// The replica id changes whenever the log is reopened (after a failed sync cut it), which the
/// epoch does not see on a single node, so both are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LeaderTerm {
    pub epoch: LeaderEpoch,
    pub replica: u64,
}

/// What the partitions actor tells the coordinator about the `__consumer_offsets` partitions
/// it leads (Kafka's `onElection`/`onResignation`). Sent, never asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupsEvent {
    /// The partition became readable under `term`; everything below `log_end` is durable, and
    /// committed below `high_watermark` (a new leader's records from its predecessor are
    /// committed only once its followers have them).
    Elected {
        partition: i32,
        term: LeaderTerm,
        log_end: Offset,
        high_watermark: Offset,
    },
    /// The partition's `term` ended (log offline, deleted, or the node stopping).
    Resigned { partition: i32, term: LeaderTerm },
    /// A transaction marker of `producer_id` was written at `marker_offset` on the partition
    /// and acknowledged: its pending transactional offsets there are committed (`commit`) or
    /// dropped (Kafka's `onTransactionCompleted`).
    TxnCompleted {
        partition: i32,
        producer_id: crate::types::ProducerId,
        commit: bool,
        marker_offset: Offset,
    },
}

/// Requests to [`super::GROUPS`], one per Kafka group API, each with its own type.
#[derive(Debug, Serialize, Deserialize)]
pub enum GroupsRequest {
    Join(JoinGroupArgs),
    Sync(SyncGroupArgs),
    Heartbeat(HeartbeatArgs),
    Leave(LeaveGroupArgs),
    OffsetCommit(OffsetCommitArgs),
    OffsetFetch(OffsetFetchArgs),
    Describe(DescribeGroupsArgs),
    List(ListGroupsArgs),
    Delete(DeleteGroupsArgs),
    OffsetDelete(OffsetDeleteArgs),
    ConsumerHeartbeat(ConsumerHeartbeatCall),
    ConsumerDescribe(ConsumerDescribeArgs),
    /// TxnOffsetCommit: offsets committed as part of a producer's transaction, answered as
    /// an OffsetCommit.
    TxnOffsetCommit(TxnOffsetCommitArgs),
}

/// TxnOffsetCommit: `producer_id`'s transaction commits these offsets of `group`; they
/// become the group's committed offsets when the transaction commits (its marker reaches the
/// group's `__consumer_offsets` partition) and are dropped if it aborts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOffsetCommitArgs {
    pub transactional_id: String,
    pub group: String,
    pub producer_id: crate::types::ProducerId,
    pub producer_epoch: i16,
    /// v3+ (KIP-447): the member the consumer's group metadata names; -1, "" and none
    /// before, and then nothing is checked.
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub offsets: Vec<(TopicPartition, CommittedOffset)>,
}

/// JoinGroup (classic protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroupArgs {
    pub group: String,
    /// Empty on a member's first join.
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    /// JoinGroup v0 has none: the gateway passes the session timeout.
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    /// (protocol name, metadata), in the member's preference order.
    pub protocols: Vec<(String, Vec<u8>)>,
    /// v4+: a first join gets MEMBER_ID_REQUIRED and must rejoin with the id given.
    pub requires_known_member_id: bool,
    pub reason: Option<String>,
    /// v9+: a static leader rejoining a Stable group may be told to skip the assignment.
    pub can_skip_assignment: bool,
}

/// The JoinGroup answer. `members` is filled for the leader only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroupResult {
    pub error_code: ErrorCode,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    /// v9: a static leader rejoining a Stable group must not assign again.
    pub skip_assignment: bool,
    pub member_id: String,
    pub members: Vec<JoinedMember>,
}

/// One member as the leader sees it in a JoinGroup answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Vec<u8>,
}

/// SyncGroup. Only the leader sends `assignments` (member id, assignment bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGroupArgs {
    pub group: String,
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncGroupResult {
    pub error_code: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Vec<u8>,
}

/// Heartbeat (classic protocol); answered with an error code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatArgs {
    pub group: String,
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
}

/// LeaveGroup: one member (v0-2) or a batch of (member id, instance id) (v3+).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveGroupArgs {
    pub group: String,
    pub members: Vec<(String, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveGroupResult {
    /// The request's own code (the group is unknown, not coordinated here, ...).
    pub error_code: ErrorCode,
    /// Each member's outcome, in request order.
    pub members: Vec<LeftMember>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub error_code: ErrorCode,
}

/// OffsetCommit. The gateway has already refused topics the registry does not know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommitArgs {
    pub group: String,
    /// -1 for a commit from outside the group protocol (a simple consumer or a tool).
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    /// OffsetCommit v2-4 `retention_time_ms`; -1 is the broker default.
    pub retention_ms: i64,
    pub offsets: Vec<(TopicPartition, CommittedOffset)>,
    /// The request's version: a member of a KIP-848 consumer group must commit with v9 or
    /// later (Kafka answers UNSUPPORTED_VERSION below).
    pub api_version: i16,
}

/// One committed position, as stored and as OffsetFetch returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    pub offset: Offset,
    pub leader_epoch: LeaderEpoch,
    pub metadata: Option<String>,
}

/// OffsetFetch: per group, the partitions asked for (`None`: every committed one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetFetchArgs {
    pub groups: Vec<(String, Option<Vec<TopicPartition>>)>,
    pub require_stable: bool,
    /// v9: the member id (null from an admin client) and member epoch each group was asked
    /// with; a KIP-848 group checks them. Empty before v9.
    pub members: BTreeMap<String, (Option<String>, i32)>,
}

/// One group of an OffsetFetch answer. A partition with no commit has offset -1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffsets {
    pub group: String,
    pub error_code: ErrorCode,
    pub partitions: Vec<(TopicPartition, CommittedOffset, ErrorCode)>,
}

/// DescribeGroups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeGroupsArgs {
    pub groups: Vec<String>,
    pub include_authorized_operations: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescription {
    pub group: String,
    pub error_code: ErrorCode,
    pub error_message: Option<String>,
    /// Kafka's state name: Empty, PreparingRebalance, CompletingRebalance, Stable or Dead.
    pub state: String,
    pub protocol_type: String,
    /// The chosen protocol's name.
    pub protocol: String,
    pub members: Vec<DescribedMember>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Vec<u8>,
    pub assignment: Vec<u8>,
}

/// ListGroups, with the v4 state and v5 type filters (empty: no filter).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListGroupsArgs {
    pub states: Vec<String>,
    pub types: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListGroupsResult {
    pub error_code: ErrorCode,
    pub groups: Vec<ListedGroup>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedGroup {
    pub group: String,
    pub protocol_type: String,
    pub state: String,
    /// "classic" or "consumer".
    pub group_type: String,
}

/// DeleteGroups; answered with (group, error code) in request order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteGroupsArgs {
    pub groups: Vec<String>,
}

/// OffsetDelete: the group's committed offsets of these partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetDeleteArgs {
    pub group: String,
    pub partitions: Vec<TopicPartition>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetDeleteResult {
    pub error_code: ErrorCode,
    pub partitions: Vec<(TopicPartition, ErrorCode)>,
}

/// ConsumerGroupHeartbeat (KIP-848). Topics are named by id, as the protocol does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerHeartbeatArgs {
    pub group: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    /// `None`: unchanged since the last heartbeat.
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns now; `None`: unchanged.
    pub owned: Option<Vec<([u8; 16], Vec<i32>)>>,
}

/// A ConsumerGroupHeartbeat as the gateway hands it over: the request, who sent it, and the
/// cluster's topics now (the coordinator computes assignments from them; a change in a
/// subscribed topic's partition count starts a new group epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerHeartbeatCall {
    pub args: ConsumerHeartbeatArgs,
    pub client_id: String,
    pub client_host: String,
    /// (name, topic id, partition count) of every topic.
    pub topics: Vec<(String, [u8; 16], i32)>,
    /// v0: the coordinator gives a joining member its id (v1+ clients make their own).
    pub assign_member_id: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerHeartbeatResult {
    pub error_code: ErrorCode,
    pub error_message: Option<String>,
    pub member_id: Option<String>,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// The member's target assignment by topic id; `None`: unchanged.
    pub assignment: Option<Vec<([u8; 16], Vec<i32>)>>,
}

/// ConsumerGroupDescribe (KIP-848).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerDescribeArgs {
    pub groups: Vec<String>,
    pub include_authorized_operations: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerGroupDescription {
    pub group: String,
    pub error_code: ErrorCode,
    pub error_message: Option<String>,
    pub state: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<ConsumerMemberDescription>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub assignment: Vec<([u8; 16], Vec<i32>)>,
    pub target_assignment: Vec<([u8; 16], Vec<i32>)>,
}

/// Replies from [`super::GROUPS`], one per request kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupsReply {
    Joined(JoinGroupResult),
    Synced(SyncGroupResult),
    Heartbeat(ErrorCode),
    Left(LeaveGroupResult),
    Committed(Vec<(TopicPartition, ErrorCode)>),
    Fetched(Vec<GroupOffsets>),
    Described(Vec<GroupDescription>),
    Listed(ListGroupsResult),
    Deleted(Vec<(String, ErrorCode)>),
    OffsetsDeleted(OffsetDeleteResult),
    ConsumerHeartbeat(ConsumerHeartbeatResult),
    ConsumerDescribed(Vec<ConsumerGroupDescription>),
}
