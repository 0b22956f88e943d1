//! A KIP-848 consumer group (Kafka's `ConsumerGroup` with the heartbeat of
//! `GroupMetadataManager`): the server computes the assignment, members converge on it by
//! heartbeats. Pure like the classic group: every step takes a clock, deadlines live in the
//! state, and the shard arms one timer per group for [`ConsumerGroup::next_deadline_ms`].
//!
//! * [`member`] — one member: its epochs, subscription, assigned and revoking partitions.
//! * [`reconcile`] — Kafka's `CurrentAssignmentBuilder`: one member's next step toward its
//!   target, never taking a partition its previous owner has not yet revoked.
//! * [`group`] — the group: its epoch, the target assignment, heartbeats, leave and timeouts.
//! * [`persist`] — the group as `ConsumerGroup*` records, and back from a load.
//! * [`settings`] — the `group.consumer.*` settings.
//! * [`topic_regex`] — `SubscribedTopicRegex`: compiled once per group, matched against the
//!   cluster's topic names when they change.

pub mod group;
pub mod member;
pub mod persist;
pub mod reconcile;
pub mod settings;
pub mod topic_regex;

pub use group::{ConsumerGroup, TopicInfo, TopicView};
pub use member::{ConsumerMember, MemberState};
pub use settings::ConsumerSettings;

/// The member epoch of a member leaving (ConsumerGroupHeartbeat `member_epoch` −1).
pub const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The member epoch of a static member leaving for now (−2): its assignment waits for it.
pub const LEAVE_GROUP_STATIC_MEMBER_EPOCH: i32 = -2;

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_proptest;
