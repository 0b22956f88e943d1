//! One member of a consumer group (Kafka's `ConsumerGroupMember`).

use std::collections::BTreeSet;

use crate::group::assign::Assignment;

/// Where a member is in its reconciliation (Kafka's `MemberState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberState {
    /// At its target: the member epoch is the target assignment's epoch.
    Stable,
    /// It must revoke `pending_revocation` first; its epoch waits.
    UnrevokedPartitions,
    /// At the target epoch, but some target partitions are still held by their previous owner.
    UnreleasedPartitions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerMember {
    pub id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// The member epoch: the target epoch it last reached (0 before its first).
    pub epoch: i32,
    /// The epoch before the last bump: a heartbeat retried across a bump carries it.
    pub previous_epoch: i32,
    pub state: MemberState,
    pub subscribed: BTreeSet<String>,
    /// `SubscribedTopicRegex` (never empty: an empty one is none): the member also subscribes
    /// to every topic it matches.
    pub subscribed_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub rebalance_timeout_ms: i32,
    /// What the member may own now.
    pub assigned: Assignment,
    /// What it must give up before it goes on (owned by it until it does).
    pub pending_revocation: Assignment,
    /// Mono ms at which the member is removed unless it heartbeats.
    pub session_deadline_ms: u64,
    /// Mono ms by which it must have revoked `pending_revocation` (rebalance timeout).
    pub revocation_deadline_ms: Option<u64>,
}

impl ConsumerMember {
    pub fn new(id: String) -> Self {
        Self {
            id,
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            epoch: 0,
            previous_epoch: 0,
            state: MemberState::Stable,
            subscribed: BTreeSet::new(),
            subscribed_regex: None,
            server_assignor: None,
            rebalance_timeout_ms: 0,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            session_deadline_ms: 0,
            revocation_deadline_ms: None,
        }
    }

    /// The partitions this member holds: assigned, or revoking but not yet revoked.
    pub fn held(&self) -> impl Iterator<Item = ([u8; 16], i32)> + '_ {
        self.assigned
            .iter()
            .chain(self.pending_revocation.iter())
            .flat_map(|(&t, ps)| ps.iter().map(move |&p| (t, p)))
    }

    /// Its earliest deadline.
    pub fn deadline_ms(&self) -> u64 {
        self.revocation_deadline_ms
            .map_or(self.session_deadline_ms, |r| {
                r.min(self.session_deadline_ms)
            })
    }
}
