//! Offset retention (KIP-211; Kafka's `ClassicGroup.offsetExpirationCondition`,
//! `OffsetExpirationConditionImpl.isOffsetExpired` and `OffsetMetadataManager
//! .cleanupExpiredOffsets`): which committed offsets of one group have expired, and whether the
//! group goes with them. Pure: the shard asks on its `offsets.retention.check.interval.ms` wake
//! and writes the answer as tombstones.
//!
//! * An Empty group with a protocol type measures from when it became Empty (its persisted
//!   state timestamp; a record without one falls back to each commit's timestamp).
//! * A group without a protocol type (a simple consumer's or a tool's, generation −1 commits,
//!   or offsets without a group at all) measures each offset from its commit.
//! * A Stable consumer group expires, by commit timestamp, only offsets of topics none of its
//!   members subscribes to; when a member's subscription does not decode, nothing. Any other
//!   state (a rebalance in progress, a protocol type other than "consumer") keeps everything.
//! * An offset with an explicit expiry (OffsetCommit v2–4 `retention_time_ms`, a v1 value)
//!   expires then, whatever the group.
//! * An offset with a commit of it still in flight is kept (its write lands after).
//!
//! The group itself goes (its record gets a tombstone) when it is Empty, or has no record, and
//! every offset it had expired (or it had none), as Kafka's `maybeDeleteGroup`.

use std::collections::{BTreeMap, BTreeSet};

use crate::faults::{self, Canary};
use crate::types::TopicPartition;

use super::consumer::ConsumerGroup;
use super::delete::{member_topics, Subscribed, CONSUMER_PROTOCOL_TYPE};
use super::offsets::StoredOffset;
use super::state::{ClassicGroup, GroupState};

/// What an offset's age is measured from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryBase {
    /// An Empty group with a protocol: since it became Empty (unix ms), or since each commit
    /// when its record carries no state timestamp (−1).
    BecameEmpty(i64),
    /// A simple group: since each commit.
    Committed,
    /// A Stable consumer group: since each commit, for topics outside `subscribed` only.
    Unsubscribed(BTreeSet<String>),
}

/// How `group`'s offsets age, or `None` while none of them can expire.
pub fn expiry_base<W: Copy>(group: Option<&ClassicGroup<W>>) -> Option<ExpiryBase> {
    let Some(g) = group else {
        return Some(ExpiryBase::Committed);
    };
    if g.protocol_type().is_some() && faults::canary(Canary::RetentionIgnoresMembers) {
        // The canary ages every group's offsets as an Empty group's, members or not.
        return Some(ExpiryBase::BecameEmpty(g.state_timestamp_ms()));
    }
    match (g.protocol_type(), g.state()) {
        (None, _) => Some(ExpiryBase::Committed),
        (Some(_), GroupState::Empty) => Some(ExpiryBase::BecameEmpty(g.state_timestamp_ms())),
        (Some(CONSUMER_PROTOCOL_TYPE), GroupState::Stable) => match member_topics(g) {
            Subscribed::Topics(topics) => Some(ExpiryBase::Unsubscribed(topics)),
            Subscribed::Everything => None,
        },
        (Some(_), _) => None,
    }
}

/// Whether `offset` of `topic` has expired at `now_unix_ms` under `offsets.retention.minutes`
/// (`retention_ms`), aging from `base`.
pub fn is_expired(
    offset: &StoredOffset,
    topic: &str,
    base: &ExpiryBase,
    now_unix_ms: i64,
    retention_ms: i64,
) -> bool {
    if let ExpiryBase::Unsubscribed(subscribed) = base {
        if subscribed.contains(topic) {
            return false;
        }
    }
    if let Some(expire_ms) = offset.expire_timestamp_ms {
        return now_unix_ms >= expire_ms;
    }
    let since_ms = match base {
        ExpiryBase::BecameEmpty(ms) if *ms >= 0 => *ms,
        _ => offset.commit_timestamp_ms,
    };
    now_unix_ms.saturating_sub(since_ms) >= retention_ms
}

/// What expired of one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Its offsets to tombstone, in partition order.
    pub partitions: Vec<TopicPartition>,
    /// Whether the group goes too (a group tombstone).
    pub group: bool,
}

impl Expired {
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty() && !self.group
    }
}

/// `group`'s expired offsets at `now_unix_ms` (`stored`: its committed offsets; `pending`:
/// partitions with a commit in flight, which are kept), and whether the group goes.
pub fn expired<W: Copy>(
    group: Option<&ClassicGroup<W>>,
    stored: Option<&BTreeMap<TopicPartition, StoredOffset>>,
    pending: &BTreeSet<TopicPartition>,
    now_unix_ms: i64,
    retention_ms: i64,
) -> Expired {
    if group.is_some_and(|g| g.state() == GroupState::Dead) {
        return Expired::default(); // being deleted already
    }
    let Some(base) = expiry_base(group) else {
        return Expired::default();
    };
    let partitions = expired_partitions(stored, pending, &base, now_unix_ms, retention_ms);
    let kept = stored.map_or(0, BTreeMap::len) - partitions.len();
    let all_expired = pending.is_empty() && kept == 0;
    let empty = group.is_none_or(|g| g.state() == GroupState::Empty);
    Expired {
        partitions,
        group: all_expired && empty,
    }
}

/// A KIP-848 group's expired offsets (Kafka's `ConsumerGroup` retention): offsets of topics no
/// member subscribes to age from their commit; those of subscribed topics never expire. A
/// group without members whose offsets all expired (or that has none) goes too (Kafka's
/// `maybeDeleteGroup`).
pub fn consumer_group_expired(
    group: &ConsumerGroup,
    stored: Option<&BTreeMap<TopicPartition, StoredOffset>>,
    pending: &BTreeSet<TopicPartition>,
    now_unix_ms: i64,
    retention_ms: i64,
) -> Expired {
    let partitions = match group.subscribed() {
        Subscribed::Topics(topics) => {
            let base = ExpiryBase::Unsubscribed(topics);
            expired_partitions(stored, pending, &base, now_unix_ms, retention_ms)
        }
        // A member's pattern not matched yet (just loaded): it may subscribe to anything.
        Subscribed::Everything => Vec::new(),
    };
    let kept = stored.map_or(0, BTreeMap::len) - partitions.len();
    Expired {
        partitions,
        group: pending.is_empty() && kept == 0 && group.members.is_empty(),
    }
}

/// The partitions of `stored` expired under `base` (a commit in flight keeps its partition).
fn expired_partitions(
    stored: Option<&BTreeMap<TopicPartition, StoredOffset>>,
    pending: &BTreeSet<TopicPartition>,
    base: &ExpiryBase,
    now_unix_ms: i64,
    retention_ms: i64,
) -> Vec<TopicPartition> {
    (stored.into_iter().flatten())
        .filter(|(tp, offset)| {
            !pending.contains(*tp) && is_expired(offset, &tp.topic, base, now_unix_ms, retention_ms)
        })
        .map(|(tp, _)| tp.clone())
        .collect()
}
