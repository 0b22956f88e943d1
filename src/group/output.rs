//! What the pure group state machines hand back to their shard instead of touching `Ctx`:
//! answers, timer wakes, and writes to `__consumer_offsets` with what to do once the write is
//! acknowledged (or fails).
//!
//! The shard (lane B) turns a [`GroupOut`] into effects: `Answer` into a reply, `Wake`/`Cancel`
//! into its own timer keys (it wraps a [`GroupTimer`] with the partition and group), `Write`
//! into a `PartitionsRequest::Append`, whose outcome it feeds back to `written` (groups) or
//! [`super::offsets::Offsets::written`] (commits) in issue order.

use crate::messages::groups::{
    CommittedOffset, ConsumerHeartbeatResult, GroupsReply, LeaveGroupResult,
};
use crate::types::{ErrorCode, TopicPartition};

use super::records::consumer::{
    encode_consumer_key, encode_consumer_value, ConsumerKey, ConsumerValue,
};
use super::records::{
    encode_group_value, encode_key, encode_offset_value, GroupValue, OffsetValue, OffsetsKey,
    RecordError,
};

/// The time a step runs at. `mono_ms` drives every timeout; `unix_ms` is only for what is
/// persisted and must mean something after a restart (commit and state timestamps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub mono_ms: u64,
    pub unix_ms: i64,
}

/// A group's own timers. They only wake the group: the deadline each one serves lives in the
/// group's state, so a stale or early firing re-arms for what is left and never acts early.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupTimer {
    /// A member's (or a MEMBER_ID_REQUIRED pending member's) session, by member id.
    Session(String),
    /// The join phase: the initial rebalance delay, then the rebalance timeout.
    Rebalance,
    /// CompletingRebalance (and Stable until every member synced): members that have not sent
    /// SyncGroup by the rebalance timeout are removed.
    Sync,
    /// A KIP-848 consumer group's one timer: its earliest member deadline (session or
    /// revocation).
    Consumer,
}

/// One `__consumer_offsets` record to append; `None` values are tombstones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsRecord {
    Group {
        group: String,
        value: Option<GroupValue>,
    },
    Offset {
        group: String,
        tp: TopicPartition,
        value: Option<OffsetValue>,
    },
    /// A KIP-848 consumer group record (key versions 3, 5–8).
    Consumer {
        key: ConsumerKey,
        value: Option<ConsumerValue>,
    },
}

impl OffsetsRecord {
    /// The record's key and value bytes, in Kafka's format.
    pub fn encode(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), RecordError> {
        match self {
            OffsetsRecord::Group { group, value } => {
                let key = encode_key(&OffsetsKey::Group {
                    group: group.clone(),
                })?;
                Ok((key, value.as_ref().map(encode_group_value).transpose()?))
            }
            OffsetsRecord::Offset { group, tp, value } => {
                let key = encode_key(&OffsetsKey::Offset {
                    group: group.clone(),
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                })?;
                Ok((key, value.as_ref().map(encode_offset_value).transpose()?))
            }
            OffsetsRecord::Consumer { key, value } => {
                let value = value.as_ref().map(encode_consumer_value).transpose()?;
                Ok((encode_consumer_key(key)?, value))
            }
        }
    }
}

/// What a write was for, handed back with its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterWrite<W> {
    /// The leader's SyncGroup assignment of `generation`: on success the group becomes Stable
    /// and the parked syncs are answered; on failure they get the error and the group
    /// rebalances. Goes to `ClassicGroup::written`.
    Assignment { generation: i32 },
    /// A static member's new member id in a Stable group whose protocol it does not change
    /// (KIP-345): on success its parked JoinGroup gets the current generation; on failure the
    /// replacement is undone and the join gets the error. Goes to `ClassicGroup::written`.
    StaticRejoin(StaticRejoin),
    /// A membership change with nothing parked on it (the group went Empty). Goes to
    /// `ClassicGroup::written`, which only logs a failure: the next rebalance writes again.
    Membership { generation: i32 },
    /// A membership change a LeaveGroup caused (its last members left: the group went Empty):
    /// as `Membership`, and the LeaveGroup is answered `reply` once the record is written (the
    /// client's code on failure), so a restart cannot bring the members back after their
    /// leave was acknowledged. Goes to the shard.
    Left {
        generation: i32,
        waiter: W,
        reply: LeaveGroupResult,
    },
    /// An OffsetCommit: `results` is the answer in request order (partitions refused before
    /// the write keep their code), `offsets` what becomes committed on success. Goes to
    /// `Offsets::written`.
    Commit {
        waiter: W,
        group: String,
        results: Vec<(TopicPartition, ErrorCode)>,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
        commit_timestamp_ms: i64,
        expire_timestamp_ms: Option<i64>,
    },
    /// A TxnOffsetCommit, written as `producer_id`'s transactional batch: on success the
    /// offsets are pending in the producer's transaction (committed by its COMMIT marker,
    /// dropped by its ABORT); `results` is the answer. Goes to `Offsets::written`.
    TxnCommit {
        waiter: W,
        group: String,
        producer_id: i64,
        producer_epoch: i16,
        results: Vec<(TopicPartition, ErrorCode)>,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
        commit_timestamp_ms: i64,
    },
    /// A DeleteGroups of the write's group: on success the group and its offsets go; the
    /// waiter gets NONE or the client's code for the failure. Goes to the shard.
    DeleteGroup { waiter: W },
    /// An OffsetDelete: `results` is the answer (subscribed partitions keep their code), and
    /// on success the commits of `partitions` go. Goes to the shard.
    DeleteOffsets {
        waiter: W,
        results: Vec<(TopicPartition, ErrorCode)>,
        partitions: Vec<TopicPartition>,
    },
    /// Offset retention's tombstones: on success the commits of `partitions` go, and the
    /// group too when `group` (it was made Dead when the write was issued). Nobody waits.
    /// Goes to the shard.
    Expire {
        partitions: Vec<TopicPartition>,
        group: bool,
    },
    /// A ConsumerGroupHeartbeat's answer, sent once its records (if any) and every earlier
    /// write are acknowledged; on failure the waiter gets the client's code. Goes to the shard.
    ConsumerHeartbeat {
        waiter: W,
        reply: ConsumerHeartbeatResult,
    },
}

/// A static member's rejoin without a rebalance, as its write carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRejoin {
    /// The generation the rejoin was answered in.
    pub generation: i32,
    /// The member id the rejoin gave the instance.
    pub member_id: String,
    /// The member id it replaced (restored if the write fails).
    pub old_member_id: String,
    /// The member's protocols and timeouts before the rejoin (restored if the write fails).
    pub old_protocols: Vec<(String, Vec<u8>)>,
    pub old_session_timeout_ms: i32,
    pub old_rebalance_timeout_ms: i32,
    /// The leader before the rejoin: a pre-v9 rejoining leader is told this (its old) id, so
    /// it syncs as a follower and keeps the current assignment (Kafka's `currentLeader`).
    pub leader_before: Option<String>,
    /// JoinGroup v9+: a rejoining leader gets the members with `skip_assignment` instead.
    pub can_skip_assignment: bool,
}

/// One output of a step, in the order the shard must apply them.
#[derive(Debug, PartialEq, Eq)]
pub enum GroupOut<W> {
    /// A parked or immediate answer to the request with waiter `W`.
    Answer(W, GroupsReply),
    /// Arm (or re-arm) `timer` to fire at `at_mono_ms`.
    Wake { timer: GroupTimer, at_mono_ms: u64 },
    /// The timer is not needed any more (firing it would be harmless).
    Cancel(GroupTimer),
    /// Append `records` as one batch; feed the outcome back with `then`.
    Write {
        records: Vec<OffsetsRecord>,
        then: AfterWrite<W>,
    },
}

/// What a failed `__consumer_offsets` write was for: the client code depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    Commit,
    GroupMetadata,
}

/// Kafka's coordinator mapping of a failed append to the code a client gets (Kafka's
/// `GroupMetadataManager`/`OffsetMetadataManager` error translation): "try another
/// coordinator" for leadership loss, "retry" for an unreplicated or timed-out write.
pub fn client_code(append: ErrorCode, kind: WriteKind) -> ErrorCode {
    match append {
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::NOT_ENOUGH_REPLICAS
        | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        | ErrorCode::REQUEST_TIMED_OUT => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::KAFKA_STORAGE_ERROR => {
            ErrorCode::NOT_COORDINATOR
        }
        ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE => match kind {
            WriteKind::Commit => ErrorCode::INVALID_COMMIT_OFFSET_SIZE,
            WriteKind::GroupMetadata => ErrorCode::UNKNOWN_SERVER_ERROR,
        },
        // Codes the coordinator itself answers with pass through (a shard that unloaded
        // answers NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE itself).
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => append,
        // A transactional commit of a fenced producer epoch: the producer's own error.
        ErrorCode::INVALID_PRODUCER_EPOCH => append,
        _ => ErrorCode::UNKNOWN_SERVER_ERROR,
    }
}
