//! A follower's fetch loop, as bookkeeping: which partitions have a fetch in flight to their
//! leader (one at most each), which wait out a backoff after an error, and what a fetch asks
//! and where a diverged log is cut. The actor sends, receives and applies (Kafka's
//! `ReplicaFetcherThread`, without threads: the leader holds each fetch until it has
//! something new, so a follower never spins).
//!
//! A fetch is sent when a replica here follows a known leader elsewhere, is open and not
//! cutting (its truncation's job still running), and has no fetch in flight or backoff: after
//! the metadata changes its role, after its open's or cut's job completed, after every answer,
//! and when its backoff ends. An answer to a fetch sent under an older role (leader, epoch) is
//! dropped, and a fetch under the current one is sent instead.

use std::collections::BTreeMap;

use super::replica::Replica;
use super::role::Role;
use crate::actor::CallId;
use crate::messages::{ReplicaFetchRequest, ReplicaSyncedNotice};
use crate::storage::batch::BatchHeader;
use crate::storage::log::epoch_cache::EpochEndOffset;
use crate::storage::log::{FlushPolicy, Log};
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId, Offset, TopicPartition};

/// Kafka's `replica.fetch.max.bytes` default: at least one batch is returned even if larger.
pub const REPLICA_FETCH_MAX_BYTES: u32 = 1 << 20;
/// Kafka's `replica.fetch.wait.max.ms` default: how long the leader holds a fetch.
pub const REPLICA_FETCH_WAIT_MAX_MS: u32 = 500;
/// Kafka's `replica.fetch.backoff.ms` default: the pause after a failed fetch.
pub const REPLICA_FETCH_BACKOFF_MS: u64 = 1_000;
/// The pause before a cut retried because a job of the log was running: a flush is short.
pub const REPLICA_CUT_RETRY_MS: u64 = 20;
/// How long a fetch may go unanswered before it counts as failed: the leader's hold and a
/// margin for the network (Kafka's `replica.socket.timeout.ms` is 30 s; a held fetch here is
/// answered within its wait, so an answer this late means the leader or the link is gone).
pub const REPLICA_FETCH_TIMEOUT_MS: u64 = REPLICA_FETCH_WAIT_MAX_MS as u64 + 4_500;

/// A fetch in flight: for which open replica (its id: a log reopened or created again is
/// another), to whom and under which role it was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub tp: TopicPartition,
    pub replica_id: u64,
    pub leader: NodeId,
    pub epoch: LeaderEpoch,
    /// The synced offset the leader last heard of from this follower in this fetch: the
    /// fetch's own, or a later [`crate::messages::ReplicaSyncedNotice`]'s.
    pub synced: Offset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    InFlight(CallId),
    /// Until the backoff timer of this replica id fires.
    BackingOff(u64),
}

#[derive(Debug, Default)]
pub struct Following {
    partitions: BTreeMap<TopicPartition, State>,
    calls: BTreeMap<CallId, Sent>,
    backoffs: BTreeMap<u64, TopicPartition>,
}

impl Following {
    /// Whether `tp` may send a fetch now: none in flight, no backoff running.
    pub fn idle(&self, tp: &TopicPartition) -> bool {
        !self.partitions.contains_key(tp)
    }

    pub fn sent(&mut self, call: CallId, sent: Sent) {
        self.partitions
            .insert(sent.tp.clone(), State::InFlight(call));
        self.calls.insert(call, sent);
    }

    /// The fetch in flight for `tp`, if there is one.
    pub fn in_flight_mut(&mut self, tp: &TopicPartition) -> Option<&mut Sent> {
        match self.partitions.get(tp)? {
            State::InFlight(call) => self.calls.get_mut(call),
            State::BackingOff(_) => None,
        }
    }

    /// Whether `call` is one of the fetches in flight.
    pub fn is_fetch(&self, call: CallId) -> bool {
        self.calls.contains_key(&call)
    }

    /// The fetch `call` was answered (or failed): its partition is idle again.
    pub fn answered(&mut self, call: CallId) -> Option<Sent> {
        let sent = self.calls.remove(&call)?;
        if self.partitions.get(&sent.tp) == Some(&State::InFlight(call)) {
            self.partitions.remove(&sent.tp);
        }
        Some(sent)
    }

    /// `tp` has a new role: the fetch in flight (to the old leader, or in the old epoch) is
    /// forgotten, its answer dropped when it comes, so the next fetch goes out at once rather
    /// than after the old leader's hold or the call's timeout. A backoff stays.
    pub fn forget_in_flight(&mut self, tp: &TopicPartition) {
        if let Some(State::InFlight(call)) = self.partitions.get(tp).copied() {
            self.partitions.remove(tp);
            self.calls.remove(&call);
        }
    }

    /// `tp`'s replica `replica_id` waits out a backoff (its timer) before its next fetch.
    pub fn back_off(&mut self, tp: &TopicPartition, replica_id: u64) {
        self.partitions
            .insert(tp.clone(), State::BackingOff(replica_id));
        self.backoffs.insert(replica_id, tp.clone());
    }

    /// The backoff timer of `replica_id` fired: the partition that may fetch again.
    pub fn backoff_done(&mut self, replica_id: u64) -> Option<TopicPartition> {
        let tp = self.backoffs.remove(&replica_id)?;
        if self.partitions.get(&tp) == Some(&State::BackingOff(replica_id)) {
            self.partitions.remove(&tp);
        }
        Some(tp)
    }
}

/// The leader `replica` follows on another node, if it should fetch at all.
pub fn leader_to_fetch_from(replica: &Replica, me: NodeId) -> Option<(NodeId, LeaderEpoch)> {
    match replica.role() {
        Role::Follower {
            leader: Some(leader),
            epoch,
        } if *leader != me
            && !replica.is_opening()
            && !replica.is_closing()
            && !replica.is_failed() =>
        {
            Some((*leader, *epoch))
        }
        _ => None,
    }
}

/// What `replica` reports as durable: its synced offset if it syncs every append (only what
/// it synced counts for the high watermark then: acks=all is on the disk of every in-sync
/// replica, beyond Kafka, whose followers never sync for it), else its log end.
pub fn synced_offset(replica: &Replica) -> Offset {
    let log = replica.log();
    match replica.flush_policy() {
        FlushPolicy::EveryAppend => Offset(log.synced_offset()),
        _ => Offset(log.log_end_offset()),
    }
}

/// The notice telling the leader of `replica`'s sync (see [`synced_offset`]).
pub fn synced_notice(
    tp: &TopicPartition,
    topic_id: [u8; 16],
    replica: &Replica,
    me: NodeId,
    broker_epoch: BrokerEpoch,
    epoch: LeaderEpoch,
) -> ReplicaSyncedNotice {
    ReplicaSyncedNotice {
        tp: tp.clone(),
        topic_id,
        replica: me,
        broker_epoch,
        current_leader_epoch: epoch,
        synced_offset: synced_offset(replica),
    }
}

/// The fetch `replica` sends: from its log end, with the epoch of its last batch.
pub fn request(
    tp: &TopicPartition,
    topic_id: [u8; 16],
    replica: &Replica,
    me: NodeId,
    broker_epoch: BrokerEpoch,
    epoch: LeaderEpoch,
) -> ReplicaFetchRequest {
    let log = replica.log();
    ReplicaFetchRequest {
        tp: tp.clone(),
        topic_id,
        replica: me,
        broker_epoch,
        current_leader_epoch: epoch,
        fetch_offset: Offset(log.log_end_offset()),
        synced_offset: synced_offset(replica),
        last_fetched_epoch: log.latest_epoch().map_or(LeaderEpoch::UNKNOWN, LeaderEpoch),
        log_start_offset: Offset(log.log_start_offset()),
        max_bytes: REPLICA_FETCH_MAX_BYTES,
        max_wait_ms: REPLICA_FETCH_WAIT_MAX_MS,
    }
}

/// The base offset of the first batch in `records`, if there is one.
pub fn first_batch_base(records: &[u8]) -> Option<Offset> {
    let header = BatchHeader::parse(records).ok()?;
    Some(Offset(header.base_offset))
}

/// Where a follower cuts its log when the leader answered that it diverged: `leader_epoch`
/// ends at `leader_end` on the leader (Kafka's `getOffsetTruncationState`, KIP-279):
/// * the follower has that epoch too: the smaller of the two ends;
/// * its largest epoch at or below it is another one: the end of that epoch here (the next
///   fetch, from there, may diverge again and cut further);
/// * it knows no such epoch: the smaller of the leader's end and its own log end.
///
/// Never the high watermark (KIP-101: cutting there lost committed records).
pub fn truncation_offset(log: &Log, leader_epoch: LeaderEpoch, leader_end: Offset) -> Offset {
    let mine = log.end_offset_for(leader_epoch.0);
    if mine == EpochEndOffset::UNDEFINED {
        return leader_end.min(Offset(log.log_end_offset()));
    }
    if mine.epoch != leader_epoch.0 {
        return Offset(mine.end_offset);
    }
    leader_end.min(Offset(mine.end_offset))
}
