//! A leader's ISR changes (Kafka's `Partition.maybeShrinkIsr` and `maybeExpandIsr`, sent as
//! AlterPartition by its `AlterPartitionManager`): which followers leave or join the in-sync
//! replicas, and the request that asks the controller for it.
//!
//! * **Shrink**, checked on a timer: an in-sync follower not caught up for
//!   `replica.lag.time.max.ms` leaves (`ReplicaState::lagging` has Kafka's rule). The leader
//!   stays, even alone.
//! * **Expand**, checked on each fetch of a follower outside the ISR: it joins once its log
//!   end reaches the high watermark and the start of this leader's epoch (`isFollowerInSync`),
//!   and it is eligible (`isReplicaIsrEligible`): registered, unfenced, and fetching in its
//!   registration's broker epoch (KIP-903).
//! * One change at a time per partition: while one is asked (`ReplicaState::proposed_isr`),
//!   nothing else is, and the high watermark counts both ISRs' members. An asked change whose
//!   call failed (a timeout, no controller leader) stays asked and is sent again by the next
//!   check, as Kafka's manager retries; the controller's answer or the metadata ends it.
//!
//! The functions decide; the actor sends and applies (`actor.rs`: `check_isr`,
//! `maybe_expand_isr`, `on_isr_altered`).

use std::collections::{BTreeMap, BTreeSet};

use super::replica::Replica;
use super::role::Role;
use crate::actor::CallId;
use crate::messages::quorum::IsrChange;
use crate::messages::BrokerStatus;
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId, Offset, TopicPartition};

/// Kafka's `replica.lag.time.max.ms` default: a follower not caught up for this long leaves
/// the ISR.
pub const REPLICA_LAG_TIME_MAX_MS_DEFAULT: u64 = 30_000;

/// How often a leader looks for followers to drop and changes to ask again: Kafka checks every
/// half `replica.lag.time.max.ms`; a retry should not wait that long, so at most this.
pub const ISR_CHECK_INTERVAL_MS_MAX: u64 = 1_000;

/// How long the node's voter has to answer an AlterPartition (it forwards it to the
/// controller's leader and answers once the change is committed).
pub const ALTER_PARTITION_TIMEOUT_MS: u64 = 5_000;

/// The interval between ISR checks for a given `replica.lag.time.max.ms`.
pub fn check_interval_ms(replica_lag_time_max_ms: u64) -> u64 {
    (replica_lag_time_max_ms / 2).clamp(1, ISR_CHECK_INTERVAL_MS_MAX)
}

/// An AlterPartition call in flight: the partition, the replica (one open of its log) that
/// asked, and what it asked (an answer to an earlier ask is not taken for a later one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub tp: TopicPartition,
    pub replica_id: u64,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: i32,
    pub isr: BTreeSet<NodeId>,
}

/// Whether `replica` still asks what `asked` asked: the same leadership and partition state,
/// the same ISR proposed.
pub fn still_asked(replica: &Replica, asked: &Asked) -> bool {
    let Role::Leader {
        epoch,
        partition_epoch,
        ..
    } = replica.role()
    else {
        return false;
    };
    *epoch == asked.leader_epoch
        && *partition_epoch == asked.partition_epoch
        && replica.proposed_isr() == Some(&asked.isr)
}

/// The AlterPartition calls in flight, at most one per partition.
#[derive(Debug, Default)]
pub struct IsrCalls {
    calls: BTreeMap<CallId, Asked>,
}

impl IsrCalls {
    pub fn sent(&mut self, call: CallId, asked: Asked) {
        self.calls.insert(call, asked);
    }

    pub fn is_call(&self, call: CallId) -> bool {
        self.calls.contains_key(&call)
    }

    pub fn answered(&mut self, call: CallId) -> Option<Asked> {
        self.calls.remove(&call)
    }

    pub fn in_flight(&self, tp: &TopicPartition) -> bool {
        self.calls.values().any(|asked| asked.tp == *tp)
    }
}

/// The ISR to ask for now that the in-sync followers `lagging` fell behind: the committed
/// ISR without them (never without the leader). `None` with none lagging, or while a change
/// is asked.
pub fn shrunk(replica: &Replica, lagging: &[NodeId]) -> Option<BTreeSet<NodeId>> {
    let isr = committed_isr(replica)?;
    if lagging.is_empty() || replica.proposed_isr().is_some() {
        return None;
    }
    Some(
        isr.iter()
            .filter(|n| !lagging.contains(n))
            .copied()
            .collect(),
    )
}

/// The ISR to ask for now that `follower` fetched from `fetch_offset` in broker epoch
/// `broker_epoch`: the committed ISR with it, if it is caught up (at the high watermark and
/// past the start of this leader's epoch) and eligible (`status`: registered, unfenced, in
/// that epoch). `None` otherwise, for a member already, or while a change is asked.
pub fn expanded(
    replica: &Replica,
    follower: NodeId,
    fetch_offset: Offset,
    broker_epoch: BrokerEpoch,
    status: Option<BrokerStatus>,
) -> Option<BTreeSet<NodeId>> {
    let isr = committed_isr(replica)?;
    if isr.contains(&follower) || replica.proposed_isr().is_some() {
        return None;
    }
    let epoch_start = replica.leader_epoch_start()?;
    let caught_up = fetch_offset >= replica.high_watermark() && fetch_offset >= epoch_start;
    let eligible = status.is_some_and(|s| !s.fenced && s.epoch == broker_epoch);
    if !caught_up || !eligible {
        return None;
    }
    let mut isr = isr.clone();
    isr.insert(follower);
    Some(isr)
}

/// The AlterPartition change asking for `replica`'s proposed ISR, each follower with the
/// broker epoch of its last fetch in this leadership (`None` for the leader itself, which the
/// controller knows as the requester, and for a member not heard from).
pub fn change(
    replica: &Replica,
    partition: i32,
    topic_id: [u8; 16],
    me: NodeId,
) -> Option<IsrChange> {
    let Role::Leader {
        epoch,
        partition_epoch,
        ..
    } = replica.role()
    else {
        return None;
    };
    // A resignation names no ISR (the controller works it out).
    let none = BTreeSet::new();
    let proposed = match replica.proposed_isr() {
        Some(proposed) => proposed,
        None if replica.resigning() => &none,
        None => return None,
    };
    let followers = replica.followers();
    let new_isr = (proposed.iter())
        .map(|node| match *node == me {
            true => (*node, None),
            // A fetch that named no broker epoch (0) is not checked, as Kafka's -1.
            false => {
                let fetched = followers.get(node).map(|f| f.broker_epoch);
                (*node, fetched.filter(|epoch| epoch.0 != 0))
            }
        })
        .collect();
    Some(IsrChange {
        topic_id,
        partition,
        leader_epoch: *epoch,
        partition_epoch: *partition_epoch,
        new_isr,
        resign: replica.resigning(),
    })
}

/// The committed ISR of a leader; `None` on a follower.
fn committed_isr(replica: &Replica) -> Option<&BTreeSet<NodeId>> {
    match replica.role() {
        Role::Leader { isr, .. } => Some(isr),
        Role::Follower { .. } => None,
    }
}
