//! One partition replica hosted by [`super::actor::Partitions`]: its log, its producer state,
//! its role and high watermark ([`super::role`]), and the group-commit bookkeeping for appends
//! that wait to be acknowledged.
//!
//! Two watermarks bound what acks=all acknowledges: the durable offset (synced) and the high
//! watermark (replicated). A waiting append is released when both passed its end
//! ([`Replica::ack_offset`]); on one node the high watermark is the log end, so that is when
//! the sync covering it completed.
//!
//! On a single node every replica leads alone, so the high watermark (computed after every
//! append) is the log end offset, and consumers are served up to it even before an fsync — as
//! Kafka serves up to the HW, which on one node is the leader's log end.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::errors;
use super::producer_snapshot;
use super::producer_state::{Check, MarkerCheck, ProducerBatch, ProducerStates};
use super::role::{FollowerProgress, ReplicaState, Role};
use super::txn_state::{CompletedTxn, TxnState};
use crate::faults::{self, Canary};
use crate::limits::{PRODUCER_ID_EXPIRATION_MS, PRODUCER_STATE_SCAN_BYTES};
use crate::messages::{LeaderTerm, RecordError, RecordsChecked};
use crate::storage::batch::{self, BatchHeader, HEADER_BYTES};
use crate::storage::disk_full;
use crate::storage::group_commit::GroupCommit;
use crate::storage::log::clean::{CleanSlot, Cleaned};
use crate::storage::log::txn_index::AbortedTxn;
use crate::storage::log::{FlushPoint, FlushPolicy, Log, LogConfig, LogError, TimestampType};
use crate::storage::marker::{self, Control, Marker};
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::records::{self, RecordsError, RecordsErrorKind};
use crate::storage::Storage;
use crate::types::{
    topic_name, BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Offset, ProducerId, Refusal,
    TopicPartition,
};

/// A produce request's partition slot waiting to be acknowledged (group commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    /// Key of the pending produce request in the actor.
    pub produce: u64,
    /// Index of this partition in the request's results.
    pub slot: usize,
}

/// A partition slot of a parked DeleteRecords request, answered once the new log start is
/// durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStartWaiter {
    /// Key of the parked DeleteRecords request in the actor.
    pub request: u64,
    /// Index of this partition in the request's results.
    pub slot: usize,
}

/// Who appends as the leader (Kafka's `AppendOrigin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// A client's produce: idempotent sequences are checked.
    Client,
    /// A coordinator's own write to its internal topic.
    Coordinator,
}

/// Where a replica is in its clean close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    No,
    /// Asked to close while a flush job ran: the close job follows its completion.
    Wanted,
    /// The close job is running.
    Running,
}

/// What a finished close released.
#[derive(Debug)]
pub struct Closed {
    /// Produce waiters: durable if `result` is `Ok`, else failed.
    pub produce: Vec<Waiter>,
    /// DeleteRecords waiters: their log start is durable if `result` is `Ok`.
    pub log_start: Vec<LogStartWaiter>,
    pub result: Result<(), String>,
}

/// The job that deletes `tp`'s directory durably, as Kafka does: rename it out of the way
/// (`topic-partition.<hash>-delete`), sync the storage root, then remove it and sync again. A
/// crash halfway through a removal leaves either the whole directory under its name or a
/// `-delete` one (removed at the next start, [`is_deleting_dir`]), never a partition
/// directory without some of its files: one that had lost its `partition.metadata` first
/// would be taken by the next topic of its name, records and all.
pub fn removal_job(storage: Arc<dyn Storage>, tp: &TopicPartition) -> PersistJob {
    let doomed = deleting_dir_for(tp);
    PersistJob::new(
        storage,
        vec![
            // What an earlier removal of this directory left (a rename onto it would fail).
            PersistOp::RemoveDirAll(doomed.clone()),
            PersistOp::RenameDir {
                from: dir_for(tp),
                to: doomed.clone(),
            },
            PersistOp::SyncDir(PathBuf::new()),
            PersistOp::RemoveDirAll(doomed),
            PersistOp::SyncDir(PathBuf::new()),
        ],
    )
}

/// Suffix of a directory being removed (Kafka's `-delete`).
const DELETING_SUFFIX: &str = "-delete";
/// The longest file name Linux takes (`NAME_MAX`).
const NAME_BYTES_MAX: usize = 255;
/// The most keyless records one partition's refusal names (Kafka names them all; the answer
/// should not grow with the batch: librdkafka needs two to fail each named one alone).
const KEYLESS_NAMED_MAX: usize = 100;

/// Where [`removal_job`] moves `tp`'s directory: `<dir>.<crc32c of dir, hex>-delete`, the
/// directory's name cut (topic names are ASCII) so that the whole stays a legal file name. It
/// ends in a letter, so it is never a partition directory.
pub fn deleting_dir_for(tp: &TopicPartition) -> PathBuf {
    let dir = format!("{}-{}", tp.topic, tp.partition);
    let hash = format!(".{:08x}{DELETING_SUFFIX}", crc32c::crc32c(dir.as_bytes()));
    let mut keep = dir.len().min(NAME_BYTES_MAX - hash.len());
    while !dir.is_char_boundary(keep) {
        keep -= 1;
    }
    PathBuf::from(format!("{}{hash}", &dir[..keep]))
}

/// Whether a name in the storage root is a directory [`removal_job`] moved away to remove.
pub fn is_deleting_dir(name: &str) -> bool {
    name.ends_with(DELETING_SUFFIX)
        && name.rsplit_once('.').is_some_and(|(_, tail)| {
            let hash = &tail[..tail.len() - DELETING_SUFFIX.len()];
            hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// The partition whose directory has this name in the storage root ([`dir_for`]'s inverse),
/// if it is one.
pub fn partition_of_dir(name: &str) -> Option<TopicPartition> {
    let (topic, partition) = name.rsplit_once('-')?;
    if !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tp = TopicPartition {
        topic: topic.to_string(),
        partition: partition.parse().ok()?,
    };
    (valid_topic_partition(&tp) && dir_for(&tp).as_os_str() == name).then_some(tp)
}

/// Why one partition's records were refused: the refusal the client gets, and the records at
/// fault when the refusal is pinned to some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub refusal: Refusal,
    /// The records at fault, for Produce v8+ `record_errors`.
    pub record_errors: Vec<RecordError>,
}

impl From<Refusal> for Rejection {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            record_errors: Vec::new(),
        }
    }
}

impl Rejection {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal::new(code, message).into()
    }

    /// A refusal of the record walk, answered as Kafka's `LogValidator` answers one: a fault
    /// pinned to a record (INVALID_RECORD, INVALID_TIMESTAMP) names it in `record_errors` and
    /// gets Kafka's summary as `error_message` (the Java producer fails the named records with
    /// the error and the rest of the batch as collateral); a fault of the whole payload
    /// (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE) names no record. The walk stops at the first fault,
    /// so at most one record is named where Kafka may list several.
    fn from_records(e: RecordsError) -> Self {
        let code = errors::records_error_code(e.kind);
        let pinned = matches!(
            e.kind,
            RecordsErrorKind::Invalid | RecordsErrorKind::InvalidTimestamp
        );
        let Some(batch_index) = e.record_index.filter(|_| pinned) else {
            return Self::new(code, e.message);
        };
        let message = if code == ErrorCode::INVALID_TIMESTAMP {
            "One or more records have been rejected due to invalid timestamp".to_string()
        } else {
            format!(
                "One or more records have been rejected due to 1 record errors in total, and \
                 only showing the first three errors at most: [RecordError(batchIndex=\
                 {batch_index}, message='{}')]",
                e.message
            )
        };
        Self {
            refusal: Refusal::new(code, message),
            record_errors: vec![RecordError {
                batch_index,
                message: Some(e.message),
            }],
        }
    }

    fn from_log(error: &LogError) -> Self {
        Self::new(errors::log_error_code(error), error.to_string())
    }
}

/// What a produce did to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Written {
        first_offset: Offset,
        last_offset: Offset,
        /// The time the batch was stamped with (LogAppendTime topics), else -1.
        log_append_time_ms: i64,
    },
    /// An idempotent retry of a batch already in the log: nothing was written.
    Duplicate {
        first_offset: Offset,
        last_offset: Offset,
        /// The stored original's append time (LogAppendTime batches), else -1 — what Kafka
        /// answers a retry with.
        log_append_time_ms: i64,
    },
}

impl Appended {
    pub fn offsets(&self) -> (Offset, Offset) {
        match *self {
            Appended::Written {
                first_offset,
                last_offset,
                ..
            }
            | Appended::Duplicate {
                first_offset,
                last_offset,
                ..
            } => (first_offset, last_offset),
        }
    }

    /// The Produce response's `log_append_time_ms`.
    pub fn log_append_time_ms(&self) -> i64 {
        match *self {
            Appended::Written {
                log_append_time_ms, ..
            }
            | Appended::Duplicate {
                log_append_time_ms, ..
            } => log_append_time_ms,
        }
    }
}

/// What a finished sync released.
#[derive(Debug, Default)]
pub struct SyncOutcome {
    pub durable: Vec<Waiter>,
    pub failed: Vec<Waiter>,
}

/// `<topic>-<partition>` relative to the storage root, like Kafka. The topic name must have
/// been checked with [`valid_topic_partition`].
pub fn dir_for(tp: &TopicPartition) -> PathBuf {
    PathBuf::from(format!("{}-{}", tp.topic, tp.partition))
}

/// Kafka's topic name rule ([`topic_name::is_legal`]) — which also keeps the directory name
/// from escaping the storage root — and a non-negative partition.
pub fn valid_topic_partition(tp: &TopicPartition) -> bool {
    topic_name::is_legal(&tp.topic) && tp.partition >= 0
}

/// Bytes Kafka's cleaner counts per key in `log.cleaner.dedupe.buffer.size` (a 16-byte MD5 of
/// the key and an 8-byte offset): the buffer size over it bounds a clean's key map.
const OFFSET_MAP_SLOT_BYTES: u64 = 24;

pub struct Replica {
    /// Unique per open replica within the actor: names its sync token and flush timer, so a
    /// completion for a deleted (or re-created) partition is recognised as stale.
    pub id: u64,
    storage: Arc<dyn Storage>,
    log: Log,
    producers: ProducerStates,
    /// Open and not-yet-replicated transactions: the last stable offset.
    txns: TxnState,
    state: ReplicaState,
    /// How many replicas the partition has (1 before the metadata says): the effective
    /// min.insync.replicas is at most this many.
    replication_factor: usize,
    commit: GroupCommit<Waiter>,
    sync_in_flight: Option<FlushPoint>,
    /// The producer state as of a roll's new segment base, snapshotted by the next flush job,
    /// after it synced the sealed segments (a snapshot must describe durable batches only).
    snapshot_after_flush: Option<(i64, ProducerStates)>,
    /// The periodic tick wants a snapshot at the log end in the next flush job.
    snapshot_due: bool,
    /// The directory's label (its topic id) to write first in the next flush job.
    label: Option<PersistOp>,
    /// The newest snapshot offset the running job writes.
    snapshot_in_flight: Option<i64>,
    /// DeleteRecords answers waiting until their log start is durable.
    log_start_waiters: Vec<(i64, LogStartWaiter)>,
    closing: Closing,
    /// A flush timer is armed (IntervalMs policy).
    pub flush_timer_armed: bool,
    /// Offset of the newest producer snapshot on disk, -1 if none.
    snapshot_offset: i64,
    /// A sync failed: the log refuses appends and starts no syncs until reopened.
    failed: bool,
    /// The failed sync failed because the disk was full (ENOSPC).
    sync_out_of_space: bool,
    /// The cut this open made ([`Self::open`]'s `cut_to`): a retry after a failed first job
    /// cuts there again (the opening log's synced offset is only the first recovered segment).
    cut_on_open: Option<i64>,
    /// The log's recovery is not durable yet: its first persist job (`start_sync`) is still to
    /// run or complete, and nothing may be appended (`partition::opening`).
    opening: bool,
    /// Simulation canary only: the next append is acknowledged one offset too low.
    reuse_offset_canary: bool,
}

impl Replica {
    /// Opens (or creates) the log and rebuilds producer state: newest valid snapshot, then
    /// the headers of every batch after it. `cut_to` (a reopen after a failed sync,
    /// [`Self::reopen_cut`]) cuts the log to its last good sync first: a failed fsync may have
    /// lost bytes the page cache still shows, and none of them was acknowledged.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        storage: Arc<dyn Storage>,
        tp: &TopicPartition,
        config: LogConfig,
        now_ms: i64,
        id: u64,
        node: NodeId,
        role: Role,
        replication_factor: usize,
        cut_to: Option<i64>,
    ) -> Result<Self, LogError> {
        let dir = dir_for(tp);
        let min_isr = effective_min_isr(&config, replication_factor);
        let mut log = Log::open_unflushed(storage.clone(), &dir, config, now_ms)?;
        let log_start = Offset(log.log_start_offset());
        let log_end = Offset(log.log_end_offset());
        let mut state = ReplicaState::new(node, role, min_isr, log_start, log_end);
        if let Some(cut) = cut_to.filter(|cut| *cut < log.log_end_offset()) {
            let log_end = log.cut_at_open(cut.max(log.log_start_offset()))?;
            tracing::warn!(dir = %dir.display(), log_end, "cut the log to its last good sync");
            state.truncated(Offset(log_end));
        }
        if faults::canary(Canary::DropLastBatchOnRestart)
            && log.log_end_offset() > log.log_start_offset()
        {
            let log_end = log.cut_at_open(log.log_end_offset() - 1)?;
            state.truncated(Offset(log_end));
        }
        // The replay records the aborts it meets in the log's aborted-transaction indexes:
        // what a crash lost of them since the snapshot is written again (the rest is there:
        // a snapshot is written only once everything below it was synced). A damaged index
        // is rebuilt by replaying from a snapshot at or below the damage.
        let missing_from = log.txn_index_missing_from();
        let upto = missing_from.map_or(log.log_end_offset(), |m| m.min(log.log_end_offset()));
        let loaded = producer_snapshot::load(storage.as_ref(), &dir, upto).map_err(|source| {
            LogError::Io {
                path: dir.clone(),
                source,
            }
        })?;
        let (snapshot_offset, mut producers) = usable_snapshot(&log, loaded);
        let rebuilt = rebuild_producers(&log, snapshot_offset.max(0), &mut producers, now_ms)?;
        for entry in &rebuilt.aborted {
            log.record_aborted(entry)?;
        }
        log.finish_aborted_replay()?;
        let mut txns = TxnState::rebuilt(open_transactions(&producers), rebuilt.completed);
        txns.on_high_watermark(state.high_watermark().0);
        begin_leader_epoch(&mut log, state.role());
        let acked = ack_offset(&log, &state);
        let opening = log.has_pending();
        Ok(Self {
            id,
            storage,
            replication_factor,
            commit: GroupCommit::new(acked),
            log,
            producers,
            txns,
            state,
            sync_in_flight: None,
            snapshot_after_flush: None,
            snapshot_due: false,
            label: None,
            snapshot_in_flight: None,
            log_start_waiters: Vec::new(),
            closing: Closing::No,
            flush_timer_armed: false,
            snapshot_offset,
            failed: false,
            sync_out_of_space: false,
            cut_on_open: cut_to,
            opening,
            reuse_offset_canary: faults::canary(Canary::ReuseOffsetAfterRecovery),
        })
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn producers(&self) -> &ProducerStates {
        &self.producers
    }

    /// The last stable offset (exclusive): `read_committed` reads below it. The high watermark
    /// while no transaction is open or unreplicated here.
    pub fn last_stable_offset(&self) -> Offset {
        let hw = self.high_watermark();
        // Never below the log start (retention or DeleteRecords may have removed an open
        // transaction's first batch; Kafka's `maybeIncrementFirstUnstableOffset`), nor above
        // the HW.
        let log_start = self.log.log_start_offset().min(hw.0);
        Offset(self.txns.last_stable_offset(hw.0).max(log_start))
    }

    /// The high watermark: below it, offsets are committed (see [`super::role`]).
    pub fn high_watermark(&self) -> Offset {
        self.state.high_watermark()
    }

    /// This replica's leadership: its epoch and its id, which a reopen changes even when the
    /// epoch does not (one node), so a coordinator write is acknowledged by the very replica
    /// that appended it.
    pub fn term(&self) -> LeaderTerm {
        LeaderTerm {
            epoch: self.state.role().epoch(),
            replica: self.id,
        }
    }

    pub fn role(&self) -> &Role {
        self.state.role()
    }

    /// A leader's committed in-sync replicas, counted; `None` on a follower.
    pub fn in_sync_count(&self) -> Option<usize> {
        match self.state.role() {
            Role::Leader { isr, .. } => Some(isr.len()),
            Role::Follower { .. } => None,
        }
    }

    /// Appends batches fetched from the leader as they are (offsets, epochs; Kafka's
    /// `appendAsFollower`), and applies their idempotent producers to the producer state, so
    /// this replica deduplicates a retried batch if it becomes the leader. Then the high
    /// watermark follows the leader's.
    pub fn append_as_follower(
        &mut self,
        records: &[u8],
        leader_hw: Offset,
        now_ms: i64,
    ) -> Result<(), LogError> {
        debug_assert!(!self.opening && !self.state.role().is_leader());
        let stamped;
        let records = if faults::canary(Canary::FollowerStampsItsEpoch) {
            stamped = stamp_epoch(records, self.state.role().epoch().0);
            &stamped[..]
        } else {
            records
        };
        if !records.is_empty() {
            self.log.append_as_follower(records, now_ms)?;
            // Validated (CRCs included) by the append above.
            let hw = self.state.high_watermark().0;
            for item in batch::Batches::stored_with_crc(records, batch::Crc::AlreadyChecked) {
                let Ok((at, header)) = item else { break };
                let bytes = &records[at..at + header.total_bytes()];
                if header.producer_id < 0 {
                    continue;
                }
                if header.is_control() {
                    // A marker: the producer's transaction here ends (as on the leader).
                    if let Ok(Control::Marker(m)) = marker::read_control(bytes) {
                        let pid = ProducerId(header.producer_id);
                        let (epoch, at) = (header.producer_epoch, header.base_offset);
                        // Indexed first, as on the leader (`append_marker`).
                        self.record_if_aborted(self.txns.ending(pid, at, !m.commit))?;
                        (self.producers).apply_marker(pid, epoch, m.coordinator_epoch, now_ms);
                        self.txns.on_marker(pid, at, !m.commit, hw);
                    }
                    continue;
                }
                let batch = ProducerBatch::from_stored_header(&header);
                // Only a batch the producer state took opens a transaction: the two agree.
                if self.producers.record(batch, now_ms) && batch.transactional {
                    (self.txns).on_transactional_batch(batch.producer_id, batch.meta.first_offset);
                }
            }
        }
        self.follow_high_watermark(leader_hw);
        Ok(())
    }

    /// A fetch answer's high watermark, on a follower (see
    /// [`ReplicaState::follow_high_watermark`]).
    pub fn follow_high_watermark(&mut self, leader_hw: Offset) {
        let log_start = Offset(self.log.log_start_offset());
        let log_end = Offset(self.log.log_end_offset());
        self.state
            .follow_high_watermark(leader_hw, log_start, log_end);
    }

    /// A follower whose log diverged from its leader's cuts it at `offset` (never at its high
    /// watermark: KIP-101), reloads its producer state from the newest snapshot at or below the
    /// cut, and is opening again until the next flush job made the cut durable (see
    /// [`Log::truncate_as_follower`]). Only while no flush job runs. Returns the new log end.
    ///
    /// An error after the log was cut (reloading the producers) fails the replica: the caller
    /// takes it offline, and the reopen rebuilds everything from the disk.
    pub fn truncate_as_follower(
        &mut self,
        offset: Offset,
        now_ms: i64,
    ) -> Result<Offset, LogError> {
        debug_assert!(self.sync_in_flight.is_none() && !self.state.role().is_leader());
        let old_end = self.log.log_end_offset();
        let end = self.log.truncate_as_follower(offset.0)?;
        if end == old_end {
            return Ok(Offset(end)); // only the epoch cache was cut
        }
        // Nothing is appended until the cut is durable; a failed cut's job reopens the log
        // cut at its last good sync, which is at or below the cut.
        self.opening = true;
        self.cut_on_open = Some(self.log.synced_offset());
        self.state.truncated(Offset(end));
        self.commit = GroupCommit::new(self.ack_offset());
        if let Err(error) = self.reload_producers(end, now_ms) {
            self.failed = true;
            self.log.mark_failed();
            return Err(error);
        }
        Ok(Offset(end))
    }

    /// The producer state as of the log end `end`: the newest snapshot at or below it, then
    /// the batches after it. Snapshots past it describe batches that are gone: `load` removes
    /// them (the cut's job syncs the directory before anything is appended again).
    fn reload_producers(&mut self, end: i64, now_ms: i64) -> Result<(), LogError> {
        let dir = self.log.dir().to_path_buf();
        let loaded = producer_snapshot::load(self.storage.as_ref(), &dir, end)
            .map_err(|source| LogError::Io { path: dir, source })?;
        let (snapshot_offset, mut producers) = usable_snapshot(&self.log, loaded);
        let rebuilt = rebuild_producers(&self.log, snapshot_offset.max(0), &mut producers, now_ms)?;
        // The cut removed the aborts past it; those below are there already (a record is
        // written only if missing).
        for entry in &rebuilt.aborted {
            self.log.record_aborted(entry)?;
        }
        self.txns = TxnState::rebuilt(open_transactions(&producers), rebuilt.completed);
        self.txns.on_high_watermark(self.state.high_watermark().0);
        self.producers = producers;
        self.snapshot_offset = snapshot_offset;
        self.snapshot_after_flush = None;
        Ok(())
    }

    /// The log failed (an I/O error, a failed sync): nothing is appended or synced until it
    /// is reopened.
    pub fn is_failed(&self) -> bool {
        self.failed || self.log.is_failed()
    }

    /// A follower's log start follows its leader's (Kafka's `maybeIncrementLogStartOffset`
    /// on a fetch answer: DeleteRecords and retention on the leader reach the followers), up
    /// to its own high watermark. Written by the next flush job.
    pub fn follow_log_start(&mut self, leader_start: Offset, now_ms: i64) -> Result<(), LogError> {
        let target = leader_start.min(self.high_watermark());
        if target.0 > self.log.log_start_offset() {
            self.log.delete_records_before(target.0, now_ms)?;
        }
        Ok(())
    }

    /// A follower's fetch was served (see [`ReplicaState::follower_fetched`]). When it moved
    /// the high watermark, returns the acks=all waiters now acknowledged (the high watermark,
    /// and the sync too under `flush.messages=1`, passed their batch).
    pub fn follower_fetched(
        &mut self,
        follower: NodeId,
        offsets: (Offset, Offset),
        epochs: (BrokerEpoch, Option<BrokerEpoch>),
        now_ms: i64,
    ) -> Vec<Waiter> {
        let log_end = Offset(self.log.log_end_offset());
        let state = &mut self.state;
        if !state.follower_fetched(follower, offsets, epochs, now_ms, log_end) {
            return Vec::new();
        }
        self.commit.advanced(self.ack_offset())
    }

    /// A follower's sync notice (see [`ReplicaState::follower_synced`]): the acks=all waiters
    /// the high watermark passed, if it moved.
    pub fn follower_synced(
        &mut self,
        follower: NodeId,
        synced_offset: Offset,
        broker_epoch: BrokerEpoch,
        now_ms: i64,
    ) -> Vec<Waiter> {
        let log_end = Offset(self.log.log_end_offset());
        let state = &mut self.state;
        if !state.follower_synced(follower, synced_offset, broker_epoch, now_ms, log_end) {
            return Vec::new();
        }
        self.commit.advanced(self.ack_offset())
    }

    /// The ISR this leader asked the controller for and has no answer to yet.
    pub fn proposed_isr(&self) -> Option<&BTreeSet<NodeId>> {
        self.state.proposed_isr()
    }

    /// This leader asks the controller for `isr` (see [`ReplicaState::propose_isr`]).
    pub fn propose_isr(&mut self, isr: BTreeSet<NodeId>) {
        self.state.propose_isr(isr);
    }

    /// The controller refused the change for good: the committed ISR alone counts again,
    /// which may move the high watermark (the acks=all waiters it passed are returned).
    pub fn withdraw_isr(&mut self) -> Vec<Waiter> {
        self.state.withdraw_isr(Offset(self.log.log_end_offset()));
        self.release_acknowledged()
    }

    /// The controller committed this leader's ISR change (see
    /// [`ReplicaState::isr_committed`]): `None` if it was not taken, else the acks=all
    /// waiters the high watermark passed.
    pub fn isr_committed(
        &mut self,
        epoch: LeaderEpoch,
        partition_epoch: i32,
        isr: BTreeSet<NodeId>,
    ) -> Option<Vec<Waiter>> {
        let log_end = Offset(self.log.log_end_offset());
        (self.state)
            .isr_committed(epoch, partition_epoch, isr, log_end)
            .then(|| self.release_acknowledged())
    }

    /// The in-sync followers not caught up within `max_lag_ms` (see
    /// [`ReplicaState::lagging`]).
    pub fn lagging(&mut self, now_ms: i64, max_lag_ms: i64) -> Vec<NodeId> {
        let log_end = Offset(self.log.log_end_offset());
        self.state.lagging(now_ms, log_end, max_lag_ms)
    }

    /// Where this leader's epoch starts in its log (Kafka's `leaderEpochStartOffsetOpt`): a
    /// follower joins the ISR only once it has everything before it. `None` on a follower.
    pub fn leader_epoch_start(&self) -> Option<Offset> {
        let Role::Leader { epoch, .. } = self.state.role() else {
            return None;
        };
        (self.log.epoch_entries().iter())
            .find(|entry| entry.epoch == epoch.0)
            .map(|entry| Offset(entry.start_offset))
    }

    /// The acks=all waiters acknowledged by now (after the ISR changed: the high watermark
    /// may have moved without a sync or a fetch).
    pub fn release_acknowledged(&mut self) -> Vec<Waiter> {
        self.commit.advanced(self.ack_offset())
    }

    /// The followers' progress in this leadership.
    pub fn followers(&self) -> &std::collections::BTreeMap<NodeId, FollowerProgress> {
        self.state.followers()
    }

    /// Writes `op` (the directory's topic id, `partition.metadata`) before anything else the
    /// next flush job makes durable.
    pub fn label_before_next_sync(&mut self, op: PersistOp) {
        self.label = Some(op);
    }

    /// Gives this leadership up: its log was cut back after a failed write, so followers may
    /// hold records it no longer has under its leader epoch (see `IsrChange::resign`). No
    /// append is taken until the metadata names the next leadership.
    pub fn resign(&mut self) {
        self.state.resign();
    }

    pub fn resigning(&self) -> bool {
        self.state.resigning()
    }

    /// The metadata changed this replica's role (see `super::leaders`) or its assignment
    /// (`replication_factor` replicas).
    pub fn set_role(&mut self, role: Role, replication_factor: usize) {
        let log_end = Offset(self.log.log_end_offset());
        self.replication_factor = replication_factor;
        let min_isr = effective_min_isr(self.log.config(), replication_factor);
        self.state.set_role_and_min_isr(role, min_isr, log_end);
        begin_leader_epoch(&mut self.log, self.state.role());
    }

    /// Why an acks=all append is refused before it is written (Kafka's NOT_ENOUGH_REPLICAS),
    /// or answered NOT_ENOUGH_REPLICAS_AFTER_APPEND: fewer in-sync replicas than the effective
    /// min.insync.replicas. `None` on a follower (it refuses every produce) or with enough.
    pub fn too_few_in_sync(&self) -> Option<String> {
        let (needed, in_sync) = self.state.under_min_isr()?;
        Some(format!(
            "acks=all needs min.insync.replicas={needed} in-sync replicas, {in_sync} in sync"
        ))
    }

    pub fn flush_policy(&self) -> FlushPolicy {
        self.log.config().flush
    }

    pub fn set_config(&mut self, config: LogConfig) -> Result<(), LogError> {
        self.log.set_config(config)?;
        let min_isr = effective_min_isr(self.log.config(), self.replication_factor);
        let log_end = Offset(self.log.log_end_offset());
        self.state.set_min_isr(min_isr, log_end);
        Ok(())
    }

    /// The clean this compacted log is due for, bounded by the cleaner's settings, as a
    /// persist job's slot; `None` when the topic is not compacted, the cleaner is off, the
    /// replica is opening or closing, or the log is not dirty enough.
    pub fn plan_clean(&self, now_ms: i64) -> Option<CleanSlot> {
        let compaction = self.log.config().compaction;
        if !compaction.cleans() || self.failed || self.is_opening() || self.is_closing() {
            return None;
        }
        let keys_max =
            usize::try_from(compaction.cleaner_dedupe_buffer_bytes / OFFSET_MAP_SLOT_BYTES)
                .unwrap_or(usize::MAX);
        let job =
            self.log
                .clean_job(&compaction.clean_config(), self.high_watermark().0, now_ms)?;
        Some(CleanSlot::new(
            job.bounded(compaction.job_bytes_max(), keys_max),
        ))
    }

    /// The owner's part of a finished clean's swap: the slot of the [`SwapJob`] to run as a
    /// persist job (then [`Self::finish_swap`]), or `None` when the clean is discarded (the
    /// log changed under it, the replica is closing or its log failed: a closing replica's
    /// close job must not run beside a swap, a failed log is reopened anyway).
    ///
    /// [`SwapJob`]: crate::storage::log::clean::SwapJob
    pub fn swap_job(&mut self, cleaned: Cleaned) -> Result<Option<CleanSlot>, LogError> {
        if self.is_closing() || self.log.is_failed() {
            cleaned.discard();
            return Ok(None);
        }
        Ok(self.log.swap_job(cleaned)?.map(CleanSlot::swap))
    }

    /// The swap job of `slot` completed with `result`: installs the swapped segments. An
    /// error (the job's, or the job's result missing) fails the log.
    pub fn finish_swap(
        &mut self,
        slot: &CleanSlot,
        result: Result<(), String>,
    ) -> Result<(), LogError> {
        let swapped = slot.take_swapped().unwrap_or_else(|| {
            Err(LogError::Io {
                path: self.log.dir().to_path_buf(),
                source: std::io::Error::other(
                    result
                        .err()
                        .unwrap_or_else(|| "the swap job did not run".into()),
                ),
            })
        });
        self.log.swap_done(swapped)
    }

    /// Validates and appends one partition's records (idempotence checks included). Nothing
    /// is written on error. `checked` is the broker's walk of these records
    /// ([`records::check_produced`]); `None` walks them here.
    pub fn produce(
        &mut self,
        records: Vec<u8>,
        checked: Option<RecordsChecked>,
        now_ms: i64,
    ) -> Result<Appended, Rejection> {
        self.refuse_append()?;
        self.produce_checked(records, checked, now_ms, Origin::Client)
    }

    /// Appends a coordinator's own batch as the leader (Kafka's `AppendOrigin.COORDINATOR`): as
    /// [`Self::produce`], but a producer's batch (a transactional offset commit) has only its
    /// epoch checked, not its sequence.
    pub fn append_for_coordinator(
        &mut self,
        records: Vec<u8>,
        now_ms: i64,
    ) -> Result<Appended, Rejection> {
        self.refuse_append()?;
        self.produce_checked(records, None, now_ms, Origin::Coordinator)
    }

    /// Appends a transaction marker of `producer_id` as the leader (the coordinator's
    /// WriteTxnMarkers): refused for an older producer epoch (INVALID_PRODUCER_EPOCH) or an
    /// older coordinator epoch (TRANSACTION_COORDINATOR_FENCED), as Kafka's
    /// `appendEndTxnMarker`; then the producer's transaction here is closed.
    pub fn append_marker(
        &mut self,
        producer_id: ProducerId,
        producer_epoch: i16,
        marker: Marker,
        now_ms: i64,
    ) -> Result<Appended, Rejection> {
        self.refuse_append()?;
        let coordinator_epoch = marker.coordinator_epoch;
        let check = (self.producers).check_marker(producer_id, producer_epoch, coordinator_epoch);
        if let MarkerCheck::Reject(code) = check {
            let why = format!(
                "marker of producer {} epoch {producer_epoch} (coordinator epoch \
                 {coordinator_epoch}) refused",
                producer_id.0
            );
            return Err(Rejection::new(code, why));
        }
        let mut records = marker::build_marker(producer_id.0, producer_epoch, marker, now_ms);
        let segments_before = self.log.segment_count();
        let epoch = self.state.role().epoch().into();
        let info = (self.log.append_crc_checked(&mut records, epoch, now_ms))
            .map_err(|e| Rejection::from_log(&e))?;
        self.state
            .maybe_advance_hw(Offset(self.log.log_end_offset()));
        if self.log.segment_count() > segments_before {
            // As a produce's roll: the state as of the new segment's base (before the marker).
            self.snapshot_after_flush = Some((info.first_offset, self.producers.clone()));
        }
        let at = info.first_offset;
        // The abort is indexed before the transaction ends here: a failure poisons the log
        // (the marker is written but not indexed) with the transaction still open, so the
        // LSO stays before it until the replica's reopen replays the marker into the index.
        let ending = self.txns.ending(producer_id, at, !marker.commit);
        (self.record_if_aborted(ending)).map_err(|e| Rejection::from_log(&e))?;
        (self.producers).apply_marker(producer_id, producer_epoch, coordinator_epoch, now_ms);
        let hw = self.state.high_watermark().0;
        self.txns.on_marker(producer_id, at, !marker.commit, hw);
        Ok(Appended::Written {
            first_offset: Offset(at),
            last_offset: Offset(info.last_offset),
            log_append_time_ms: info.log_append_time_ms,
        })
    }

    /// Records an aborted `completed` transaction in the log's aborted-transaction index, for
    /// `read_committed` fetches.
    fn record_if_aborted(&mut self, completed: Option<CompletedTxn>) -> Result<(), LogError> {
        match completed {
            Some(completed) if completed.aborted => {
                let entry = self.txns.aborted_entry(&completed);
                self.log.record_aborted(&entry)
            }
            _ => Ok(()),
        }
    }

    /// Why nothing can be appended here now (as the leader): not leading, failed, resigning,
    /// opening or closing.
    fn refuse_append(&self) -> Result<(), Rejection> {
        let refusal = self.state.role().refuse_produce();
        if let Some(refusal) = refusal.filter(|_| !faults::canary(Canary::WritesWithoutLeadership))
        {
            return Err(refusal.into());
        }
        if self.failed {
            return Err(Rejection::new(
                ErrorCode::KAFKA_STORAGE_ERROR,
                "the log failed to sync; it must be reopened",
            ));
        }
        if self.state.resigning() {
            return Err(Rejection::new(
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                "the leader's log was cut back after a failed write; it resigned",
            ));
        }
        if self.opening {
            // The actor parks requests for an opening partition; this guards the invariant.
            return Err(Rejection::new(
                super::opening::REFUSED,
                "the partition log is opening",
            ));
        }
        if self.closing != Closing::No {
            return Err(Rejection::new(
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                "the partition is shutting down",
            ));
        }
        Ok(())
    }

    /// The rest of [`Self::produce`], past the guards.
    fn produce_checked(
        &mut self,
        records: Vec<u8>,
        checked: Option<RecordsChecked>,
        now_ms: i64,
        origin: Origin,
    ) -> Result<Appended, Rejection> {
        let mut records = records;
        let checked = checked
            .or_else(|| records::check_produced(&mut records, &mut records::WalkBudget::request()));
        // A walk only exists for batches whose headers and CRCs held (`check_produced`), so
        // the append need not compute the CRCs again; without one, the append reports why.
        let crc_checked = checked.is_some();
        if let Some(checked) = checked {
            self.check_records(checked, &records, now_ms)?;
        }
        let idempotent = idempotent_header(&records)?;
        if let Some(header) = &idempotent {
            let check = match origin {
                Origin::Client => self.producers.check(header),
                Origin::Coordinator => self.producers.check_coordinator(header),
            };
            match check {
                Check::Append => {}
                Check::Reject(code) => {
                    return Err(Rejection::new(
                        code,
                        format!(
                            "producer {} epoch {} sequence {} refused",
                            header.producer_id, header.producer_epoch, header.base_sequence
                        ),
                    ))
                }
                Check::Duplicate {
                    first_offset,
                    last_offset,
                } => {
                    batch::validate_all(&records, self.log.config().batch_bytes_max).map_err(
                        |(_, e)| Rejection::new(errors::batch_error_code(&e), e.to_string()),
                    )?;
                    return Ok(Appended::Duplicate {
                        first_offset: Offset(first_offset),
                        last_offset: Offset(last_offset),
                        log_append_time_ms: self.stored_log_append_time(first_offset),
                    });
                }
            }
        }
        let segments_before = self.log.segment_count();
        let epoch = self.state.role().epoch().into();
        let info = if crc_checked {
            self.log.append_crc_checked(&mut records, epoch, now_ms)
        } else {
            self.log.append(&mut records, epoch, now_ms)
        }
        .map_err(|e| Rejection::from_log(&e))?;
        self.state
            .maybe_advance_hw(Offset(self.log.log_end_offset()));
        if self.log.segment_count() > segments_before {
            // The append rolled. The state as of the new segment's base (before this append)
            // is snapshotted by the next flush job, after it synced the sealed segments
            // (`start_sync`), so it describes durable batches only.
            self.snapshot_after_flush = Some((info.first_offset, self.producers.clone()));
        }
        if let Some(header) = &idempotent {
            let batch = ProducerBatch::from_header_at(header, info.first_offset);
            if self.producers.record(batch, now_ms) && batch.transactional {
                (self.txns).on_transactional_batch(batch.producer_id, info.first_offset);
            }
        }
        let mut first_offset = info.first_offset;
        if std::mem::take(&mut self.reuse_offset_canary)
            && first_offset > self.log.log_start_offset()
        {
            first_offset -= 1;
        }
        Ok(Appended::Written {
            first_offset: Offset(first_offset),
            last_offset: Offset(info.last_offset),
            log_append_time_ms: info.log_append_time_ms,
        })
    }

    /// Refuses records the walk found broken, and CreateTime records outside the topic's
    /// timestamp bounds (Kafka's `LogValidator.validateTimestamp`).
    fn check_records(
        &self,
        checked: RecordsChecked,
        batches: &[u8],
        now_ms: i64,
    ) -> Result<(), Rejection> {
        let seen = checked.map_err(Rejection::from_records)?;
        let config = self.log.config();
        if config.timestamp_type == TimestampType::CreateTime {
            if let Some(refused) = records::timestamp_out_of_range(
                &seen,
                now_ms,
                config.timestamp_before_max_ms,
                config.timestamp_after_max_ms,
            ) {
                return Err(Rejection::from_records(refused));
            }
        }
        if let (true, Some(first)) = (config.compaction.compact, seen.keyless_at) {
            return Err(self.keyless(first, batches));
        }
        Ok(())
    }

    /// A compacted topic refuses a record without a key (Kafka's `LogValidator.validateKey`:
    /// the cleaner could never remove it), in a compressed batch too, naming every such record
    /// in `record_errors` as Kafka does (up to [`KEYLESS_NAMED_MAX`]; `first` is the one the walk
    /// found, [`records::RecordTimestamps::keyless_at`]), with Kafka's summary of the first
    /// three as the error message.
    fn keyless(&self, first: i32, batches: &[u8]) -> Rejection {
        let partition = self
            .log
            .dir()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let message = format!(
            "Compacted topic cannot accept message without key in topic partition {partition}."
        );
        let mut indexes = records::keyless_records(batches, KEYLESS_NAMED_MAX);
        if indexes.is_empty() {
            indexes.push(first);
        }
        let shown: Vec<String> = (indexes.iter().take(3))
            .map(|index| format!("RecordError(batchIndex={index}, message='{message}')"))
            .collect();
        Rejection {
            refusal: Refusal::new(
                ErrorCode::INVALID_RECORD,
                format!(
                    "One or more records have been rejected due to {} record errors in total, and \
                     only showing the first three errors at most: [{}]",
                    indexes.len(),
                    shown.join(", ")
                ),
            ),
            record_errors: (indexes.into_iter())
                .map(|batch_index| RecordError {
                    batch_index,
                    message: Some(message.clone()),
                })
                .collect(),
        }
    }

    /// The append time stamped into the stored batch holding `offset` if it is a
    /// LogAppendTime batch, else -1 (also when it can no longer be read: retention may have
    /// removed it, and the answer is informational).
    fn stored_log_append_time(&self, offset: i64) -> i64 {
        let Ok(slice) = self.log.read(offset, 0) else {
            return batch::NO_TIMESTAMP;
        };
        match BatchHeader::parse(&slice.bytes) {
            Ok(header) if header.is_log_append_time() => header.max_timestamp_ms,
            _ => batch::NO_TIMESTAMP,
        }
    }

    /// Registers `waiter` until offsets below `end_offset` are acknowledged (durable and
    /// below the high watermark, [`Self::ack_offset`]); returns it at once if they already are.
    pub fn wait_acked(&mut self, end_offset: Offset, waiter: Waiter) -> Option<Waiter> {
        self.commit.wait(end_offset, waiter)
    }

    /// Removes every acknowledgement waiter (the leadership they wait on ended), in offset
    /// order.
    pub fn take_waiters(&mut self) -> Vec<Waiter> {
        // Not `failed()`: a sync in flight still completes and is accounted for.
        self.commit.take(|_| true)
    }

    /// Removes the waiters of produce `produce` (it timed out): a later sync no longer
    /// releases them. Returns them, in offset order.
    pub fn forget_waiters(&mut self, produce: u64) -> Vec<Waiter> {
        self.commit.take(|waiter| waiter.produce == produce)
    }

    /// The offset below which acks=all appends are acknowledged: min(durable, high watermark).
    pub fn ack_offset(&self) -> Offset {
        ack_offset(&self.log, &self.state)
    }

    pub fn is_unsynced(&self) -> bool {
        self.log.synced_offset() < self.log.log_end_offset()
    }

    /// The recovery of an open is not durable yet: serve nothing for this partition until
    /// the first sync completed ([`Self::finish_sync`]).
    pub fn is_opening(&self) -> bool {
        self.opening
    }

    pub fn sync_in_flight(&self) -> bool {
        self.sync_in_flight.is_some()
    }

    /// Whether a sync should start now: none is running, the replica is not closing, and
    /// someone waits for one, the policy wants every append synced, a roll, retention or
    /// DeleteRecords left work for a flush job (under every policy, as Kafka flushes a rolled
    /// segment and deletes segments in the background), or the tick wants a snapshot.
    pub fn needs_sync(&self) -> bool {
        let wanted = self.commit.should_start()
            || (self.flush_policy() == FlushPolicy::EveryAppend && self.is_unsynced())
            || self.log.has_pending()
            || self.snapshot_due
            || self.label.is_some();
        !self.failed && self.sync_in_flight.is_none() && self.closing == Closing::No && wanted
    }

    /// Starts a flush of everything appended (and rolled, removed, snapshotted) so far, if
    /// there is anything to flush; run the job, then [`Self::finish_sync`].
    pub fn start_sync(&mut self) -> Option<PersistJob> {
        let snapshots = self.snapshot_ops(false);
        let (job, point) = match (self.log.flush_job_with(snapshots), self.label.take()) {
            (Some((job, point)), Some(label)) => (job.after(self.storage.clone(), label), point),
            (Some(flush), None) => flush,
            // Nothing else to flush: the label alone.
            (None, Some(label)) => self.log.flush_job_with(vec![label])?,
            (None, None) => return None,
        };
        self.commit.started(point.covers_offset);
        self.sync_in_flight = Some(point);
        Some(job)
    }

    /// The ops writing the wanted producer snapshots (the roll's, the tick's or, when
    /// `closing`, one at the log end), noting the newest in flight. A snapshot is only wanted
    /// after durable batches, which the job syncs before it runs these ops. A listing error
    /// skips them: the next open rebuilds from an older snapshot.
    fn snapshot_ops(&mut self, closing: bool) -> Vec<PersistOp> {
        let end = self.log.log_end_offset();
        // A truncation may have cut the log below the roll's snapshot: drop it.
        let after_roll = self
            .snapshot_after_flush
            .take()
            .filter(|(offset, _)| *offset <= end);
        let at_end = std::mem::take(&mut self.snapshot_due) || closing;
        let mut new: Vec<(i64, &ProducerStates)> = Vec::new();
        if let Some((offset, states)) = &after_roll {
            new.push((*offset, states));
        }
        if at_end && end != self.snapshot_offset && new.last().is_none_or(|(o, _)| *o != end) {
            new.push((end, &self.producers));
        }
        if new.is_empty() {
            return Vec::new();
        }
        let newest = new.iter().map(|(offset, _)| *offset).max();
        match producer_snapshot::ops(self.storage.as_ref(), self.log.dir(), &new) {
            Ok(ops) => {
                self.snapshot_in_flight = newest;
                ops
            }
            Err(error) => {
                tracing::warn!(dir = %self.log.dir().display(), %error, "producer snapshot skipped");
                Vec::new()
            }
        }
    }

    /// The sync started by [`Self::start_sync`] returned.
    pub fn finish_sync(&mut self, result: Result<(), String>) -> SyncOutcome {
        let Some(point) = self.sync_in_flight.take() else {
            tracing::warn!(dir = %self.log.dir().display(), "sync completion with none in flight");
            return SyncOutcome::default();
        };
        let snapshot = self.snapshot_in_flight.take();
        match result {
            Ok(()) => {
                self.opening = false;
                self.log.flushed(point);
                if let Some(offset) = snapshot {
                    self.snapshot_offset = offset;
                }
                let mut acked = self.ack_offset();
                if faults::canary(Canary::AckUnsyncedSingleRecord)
                    && self
                        .log
                        .read(acked.0, 1)
                        .is_ok_and(|r| r.first_offset == acked.0 && r.next_offset == acked.0 + 1)
                {
                    // Planted bug: a one-record batch appended while this sync ran (the first
                    // one after what the sync covered) is acknowledged with it.
                    acked = Offset(acked.0 + 1);
                }
                let done = self.commit.synced(acked);
                // The appends this fsync made durable together (Rill's group-commit batch).
                if !done.ready.is_empty() {
                    let appends = done.ready.len() as f64;
                    crate::metrics::sample(crate::metrics::GROUP_COMMIT_APPENDS, appends);
                }
                SyncOutcome {
                    durable: done.ready,
                    failed: Vec::new(),
                }
            }
            Err(error) => {
                if !disk_full::is_storage_full_message(&error) {
                    // A full disk is logged once by the partitions actor, not per sync.
                    tracing::error!(dir = %self.log.dir().display(), %error, "log sync failed");
                }
                self.sync_out_of_space = disk_full::is_storage_full_message(&error);
                self.failed = true;
                self.log.mark_failed();
                let waiters = self.commit.failed();
                if faults::canary(Canary::AckAfterFailedSync) {
                    // Planted bug: the waiters of the failed sync are acknowledged anyway.
                    return SyncOutcome {
                        durable: waiters,
                        failed: Vec::new(),
                    };
                }
                SyncOutcome {
                    durable: Vec::new(),
                    failed: waiters,
                }
            }
        }
    }

    /// Periodic housekeeping: retention (its removals go into the next flush job), producer
    /// expiry, and a producer snapshot in the next flush job when the whole log is durable and
    /// the state moved since the last one.
    pub fn tick(&mut self, now_ms: i64) {
        if self.failed || self.opening || self.closing != Closing::No {
            return;
        }
        if let Err(error) = self.log.enforce_retention(now_ms) {
            tracing::warn!(dir = %self.log.dir().display(), %error, "retention failed");
        }
        self.producers.expire(now_ms, PRODUCER_ID_EXPIRATION_MS);
        self.txns.on_high_watermark(self.state.high_watermark().0);
        let end = self.log.log_end_offset();
        if !self.is_unsynced()
            && end != self.snapshot_offset
            && self.snapshot_in_flight != Some(end)
        {
            self.snapshot_due = true;
        }
    }

    /// DeleteRecords: moves the log start up in memory at once; it is durable (and the answer
    /// may go) once [`Self::log_start_durable`] says so.
    pub fn delete_records_before(&mut self, offset: i64, now_ms: i64) -> Result<i64, LogError> {
        self.log.delete_records_before(offset, now_ms)
    }

    /// Registers `waiter` until the log start `low_watermark` is durable; returns it at once if
    /// it already is.
    pub fn wait_log_start(
        &mut self,
        low_watermark: i64,
        waiter: LogStartWaiter,
    ) -> Option<LogStartWaiter> {
        if self.log.durable_log_start() >= low_watermark {
            return Some(waiter);
        }
        self.log_start_waiters.push((low_watermark, waiter));
        None
    }

    /// The DeleteRecords waiters whose log start is durable now; all of them, as failed, when
    /// the log failed (`(durable, failed)`).
    pub fn log_start_durable(&mut self) -> (Vec<LogStartWaiter>, Vec<LogStartWaiter>) {
        if self.failed {
            let failed = self.log_start_waiters.drain(..).map(|(_, w)| w).collect();
            return (Vec::new(), failed);
        }
        let durable_start = self.log.durable_log_start();
        let (done, waiting) = std::mem::take(&mut self.log_start_waiters)
            .into_iter()
            .partition(|(needed, _)| *needed <= durable_start);
        self.log_start_waiters = waiting;
        (done.into_iter().map(|(_, w)| w).collect(), Vec::new())
    }

    /// Whether the log failed on a write and can be reopened to recover: a failed segment roll
    /// (out of descriptors) or append (out of space). A failed sync takes the partition
    /// offline at once instead (`Partitions::sync_failed` in actor.rs), and its reopen cuts the
    /// log to its last good sync ([`Self::reopen_cut`]).
    pub fn reopenable_after_failure(&self) -> bool {
        self.log.is_failed()
            && (!self.failed || self.sync_out_of_space)
            && self.sync_in_flight.is_none()
            && !self.log.swap_in_flight()
    }

    /// Where a reopen must cut the log: its last good sync if a sync failed, else nowhere
    /// (recovery cuts a torn tail on its own).
    pub fn reopen_cut(&self) -> Option<i64> {
        self.failed.then(|| self.log.synced_offset())
    }

    /// Where a retry of this open cuts the log, after its first persist job failed.
    pub fn cut_on_open(&self) -> Option<i64> {
        self.cut_on_open
    }

    /// Whether the log failed because the disk was full: it recovers once space is back.
    pub fn failed_out_of_space(&self) -> bool {
        (self.failed && self.sync_out_of_space) || self.log.failed_out_of_space()
    }

    /// Drops the replica without a clean close (its log failed); the next open recovers it
    /// from its files. Returns the produce and DeleteRecords waiters, which will not be
    /// satisfied.
    pub fn abandon(mut self) -> (Vec<Waiter>, Vec<LogStartWaiter>) {
        let log_start = self.log_start_waiters.drain(..).map(|(_, w)| w).collect();
        (self.commit.failed(), log_start)
    }

    /// Drops the replica for a partition delete; the caller removes its directory with
    /// [`removal_job`] once no job of this replica runs any more. Returns the waiters, which
    /// will never be satisfied.
    pub fn delete(self) -> (Vec<Waiter>, Vec<LogStartWaiter>) {
        self.abandon()
    }

    /// Clean shutdown, first step: no more appends or flushes; the close job starts now
    /// (returned) or, if a flush job or a clean's swap job is running, after its completion
    /// ([`Self::close_job`]).
    pub fn begin_close(&mut self) -> Option<Result<PersistJob, LogError>> {
        self.closing = Closing::Wanted;
        if self.sync_in_flight.is_some() || self.log.swap_in_flight() {
            return None;
        }
        Some(self.close_job())
    }

    /// Whether the close [`Self::begin_close`] deferred may start: no flush job and no clean's
    /// swap job runs any more.
    pub fn close_wanted(&self) -> bool {
        self.closing == Closing::Wanted
            && self.sync_in_flight.is_none()
            && !self.log.swap_in_flight()
    }

    /// Whether a Shutdown is closing this replica.
    pub fn is_closing(&self) -> bool {
        self.closing != Closing::No
    }

    /// Whether the running job is the close job.
    pub fn close_running(&self) -> bool {
        self.closing == Closing::Running
    }

    /// The one close job: the log's flush, a producer snapshot at its end (so the next open
    /// rebuilds nothing) and the clean-shutdown marker ([`Log::close_job`]). Run it, then
    /// [`Self::finish_close`]. Only while no other job runs.
    pub fn close_job(&mut self) -> Result<PersistJob, LogError> {
        debug_assert!(self.sync_in_flight.is_none());
        if self.failed {
            return Err(LogError::Failed {
                dir: self.log.dir().to_path_buf(),
            });
        }
        let snapshots = self.snapshot_ops(true);
        let (job, point) = self.log.close_job(snapshots)?;
        self.closing = Closing::Running;
        self.sync_in_flight = Some(point);
        Ok(job)
    }

    /// The close job completed (or could not be made: `result` is the error). Returns the
    /// waiters with whether they are now durable.
    pub fn finish_close(mut self, result: Result<(), String>) -> Closed {
        let point = self.sync_in_flight.take();
        let log_start = self.log_start_waiters.drain(..).map(|(_, w)| w).collect();
        match (result, point) {
            (Ok(()), Some(point)) => {
                self.log.flushed(point);
                let produce = self.commit.reset(self.ack_offset());
                Closed {
                    produce,
                    log_start,
                    result: Ok(()),
                }
            }
            (Ok(()), None) => unreachable!("a close job without a point"),
            (Err(error), _) => Closed {
                produce: self.commit.failed(),
                log_start,
                result: Err(error),
            },
        }
    }
}

/// Durable (synced) and replicated (below the high watermark): what acks=all waits for. The
/// high watermark only matters once followers exist; on one node it is the log end.
/// A leader's epoch starts at its log end the moment it leads (see [`Log::begin_epoch`]), at
/// open as at a role change.
fn begin_leader_epoch(log: &mut Log, role: &Role) {
    if let Role::Leader { epoch, .. } = role {
        log.begin_epoch(epoch.0);
    }
}

fn ack_offset(log: &Log, state: &ReplicaState) -> Offset {
    match log.config().flush {
        // Durable default: acknowledged once synced here and replicated over the ISR.
        FlushPolicy::EveryAppend => Offset(log.synced_offset()).min(state.high_watermark()),
        // Kafka's way: replicated over the ISR, synced whenever the policy syncs.
        FlushPolicy::IntervalMs(_) | FlushPolicy::Os => state.high_watermark(),
    }
}

/// The header of the idempotent batch in `records`, if any. Kafka requires such a batch to
/// be alone in its partition's records (one request = one batch = one sequence range). A
/// malformed buffer yields `None`: the log's validation then reports it precisely.
fn idempotent_header(records: &[u8]) -> Result<Option<BatchHeader>, Refusal> {
    let (mut at, mut count, mut found) = (0usize, 0usize, None);
    while at < records.len() {
        // A header that fails the checks the log makes anyway (e.g. a negative lastOffsetDelta,
        // found by review) must not reach the sequence arithmetic: leave it to the log's
        // validation, which refuses it precisely.
        let Ok(header) = BatchHeader::parse(&records[at..]) else {
            return Ok(None);
        };
        if header.check(usize::MAX).is_err() {
            return Ok(None);
        }
        // `check` bounds batchLength below, so every step moves past a whole header.
        let total_bytes = header.total_bytes();
        if header.producer_id >= 0 {
            found = Some(header);
        }
        count += 1;
        at = at.saturating_add(total_bytes);
    }
    if found.is_some() && count > 1 {
        return Err(Refusal::new(
            ErrorCode::INVALID_RECORD,
            "an idempotent batch must be the only batch of its partition in a request",
        ));
    }
    Ok(found)
}

/// Applies the producer batches of the log from `from_offset` to the end to `states`,
/// reading whole batches but looking only at their headers.
/// Replays the batch headers from `from_offset` into `states` (and every marker: the
/// transactions it completed are returned, oldest first).
fn rebuild_producers(
    log: &Log,
    from_offset: i64,
    states: &mut ProducerStates,
    now_ms: i64,
) -> Result<Rebuilt, LogError> {
    let mut completed = Vec::new();
    let mut aborted = Vec::new();
    // From the snapshot on, below the log start too while its segment is kept (a marker there
    // may close a transaction the snapshot has open).
    let mut offset = from_offset;
    while offset < log.log_end_offset() {
        let slice = log.read_for_replay(offset, PRODUCER_STATE_SCAN_BYTES)?;
        let mut at = 0usize;
        while at < slice.bytes.len() {
            let Ok(header) = BatchHeader::parse(&slice.bytes[at..]) else {
                break;
            };
            if header.total_bytes() < HEADER_BYTES {
                break;
            }
            let applies = header.producer_id >= 0 && header.next_offset() > from_offset;
            let bytes = &slice.bytes[at..(at + header.total_bytes()).min(slice.bytes.len())];
            match (applies, header.is_control()) {
                (false, _) => {}
                (true, false) => {
                    states.record(ProducerBatch::from_stored_header(&header), now_ms);
                }
                (true, true) => {
                    if let Ok(Control::Marker(m)) = marker::read_control(bytes) {
                        let pid = ProducerId(header.producer_id);
                        let epoch = header.producer_epoch;
                        let first = states.apply_marker(pid, epoch, m.coordinator_epoch, now_ms);
                        // A marker ending nothing here completes nothing (Kafka's).
                        if let Some(first_offset) = first {
                            completed.push(CompletedTxn {
                                producer_id: pid,
                                first_offset,
                                last_offset: header.base_offset,
                                aborted: !m.commit,
                            });
                            if !m.commit {
                                aborted.push(aborted_entry(states, pid, first_offset, &header));
                            }
                        }
                    }
                }
            }
            at += header.total_bytes();
        }
        if slice.next_offset <= offset {
            break;
        }
        offset = slice.next_offset;
    }
    Ok(Rebuilt { completed, aborted })
}

/// The snapshot a replay starts from: none when it describes batches older than the log's
/// first segment (retention removed the batches between it and the log, so its open
/// transactions could never be closed by the markers among them; Kafka then starts from an
/// empty state as well).
fn usable_snapshot(log: &Log, loaded: Option<(i64, ProducerStates)>) -> (i64, ProducerStates) {
    match loaded {
        Some((offset, states)) if offset >= log.first_segment_base() => (offset, states),
        _ => (-1, ProducerStates::default()),
    }
}

/// What a replay of the log found besides the producer state.
struct Rebuilt {
    /// The transactions completed by the markers replayed.
    completed: Vec<CompletedTxn>,
    /// The aborted-transaction index entries of the ABORT markers replayed, in log order.
    aborted: Vec<AbortedTxn>,
}

/// The index entry of `pid`'s transaction from `first_offset`, aborted by the marker
/// `header` during a replay: its stable offset is the first offset of the earliest
/// transaction still open then, as [`TxnState::aborted_entry`] has it live.
fn aborted_entry(
    states: &ProducerStates,
    pid: ProducerId,
    first_offset: i64,
    header: &BatchHeader,
) -> AbortedTxn {
    let next_open = (states.entries())
        .filter(|(id, _)| **id != pid)
        .filter_map(|(_, entry)| entry.current_txn_first_offset)
        .min();
    AbortedTxn {
        producer_id: pid.0,
        first_offset,
        last_offset: header.base_offset,
        last_stable_offset: next_open.unwrap_or(header.base_offset + 1),
    }
}

/// The producers with a transaction open, and where it began.
fn open_transactions(states: &ProducerStates) -> Vec<(ProducerId, i64)> {
    (states.entries())
        .filter_map(|(id, entry)| Some((*id, entry.current_txn_first_offset?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::storage::batch::{build_batch, build_idempotent_batch, compute_crc};
    use crate::storage::mem::MemStorage;
    use crate::types::ProducerId;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    #[test]
    fn partition_directory_names_and_removal_names_never_mix() {
        for t in [
            tp("a", 0),
            tp("a.b-c", 12),
            tp("x-1", 7),
            tp(&"z".repeat(249), i32::MAX),
        ] {
            let name = dir_for(&t).to_string_lossy().into_owned();
            assert_eq!(partition_of_dir(&name), Some(t.clone()));
            assert!(!is_deleting_dir(&name));
            let doomed = deleting_dir_for(&t).to_string_lossy().into_owned();
            assert!(doomed.len() <= 255, "{}", doomed.len());
            assert!(is_deleting_dir(&doomed), "{doomed}");
            assert_eq!(partition_of_dir(&doomed), None, "{doomed}");
        }
        for other in [
            "a-01",
            "a-",
            "-1",
            "a-x",
            "..-1",
            "a-1.tmp",
            "meta.properties",
            "a-1-delete",
        ] {
            assert_eq!(partition_of_dir(other), None, "{other}");
        }
        assert!(!is_deleting_dir("a-1-delete"), "no hash: a topic named so");
    }

    /// A disk whose directory removals die halfway: the label goes first, then EIO (a
    /// `remove_dir_all` interrupted by a crash or an error, in readdir order).
    struct HalfRemovals(MemStorage);

    impl Storage for HalfRemovals {
        fn open(
            &self,
            path: &Path,
            create: bool,
        ) -> std::io::Result<Arc<dyn crate::storage::StorageFile>> {
            self.0.open(path, create)
        }
        fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
            self.0.list(dir)
        }
        fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
            self.0.create_dir_all(dir)
        }
        fn remove_file(&self, path: &Path) -> std::io::Result<()> {
            self.0.remove_file(path)
        }
        fn remove_dir_all(&self, dir: &Path) -> std::io::Result<()> {
            if !self.0.exists(dir) {
                return Ok(());
            }
            let _ = self.0.remove_file(&dir.join("partition.metadata"));
            Err(std::io::Error::other("EIO halfway through"))
        }
        fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
            self.0.rename(from, to)
        }
        fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
            self.0.sync_dir(dir)
        }
        fn exists(&self, path: &Path) -> bool {
            self.0.exists(path)
        }
    }

    /// A removal renames the directory away first, so a removal that dies halfway never leaves
    /// a partition directory that lost its label but kept its segments (the next topic of the
    /// name would take it, records and all); it leaves a `-delete` directory, which a later
    /// removal (or the leftover sweep) finishes.
    #[test]
    fn a_removal_that_dies_halfway_never_leaves_a_partition_directory_without_its_label() {
        let t = tp("t", 0);
        let dir = dir_for(&t);
        let mem = MemStorage::new();
        mem.create_dir_all(&dir).unwrap();
        for file in ["partition.metadata", "00000000000000000000.log"] {
            mem.open(&dir.join(file), true)
                .unwrap()
                .append(b"x")
                .unwrap();
        }
        let half = Arc::new(HalfRemovals(mem.clone()));
        assert!(removal_job(half, &t).run().is_err());
        assert!(!mem.exists(&dir), "{:?}", mem.file_names());
        let doomed = deleting_dir_for(&t);
        assert!(mem.exists(&doomed.join("00000000000000000000.log")));
        assert!(is_deleting_dir(doomed.to_str().unwrap()));
        // (Removing the directory in place, as before, left `t-0` with its segment and no
        // label.) Run again on a sound disk, the job finishes the leftover.
        removal_job(Arc::new(mem.clone()), &t).run().unwrap();
        assert!(mem.file_names().is_empty(), "{:?}", mem.file_names());
    }

    /// A file where the partition's directory would be is not the removal's to move or delete:
    /// the job fails and the file stays where its owner put it.
    #[test]
    fn a_removal_fails_on_a_file_in_the_directorys_place_and_leaves_it() {
        let t = tp("t", 0);
        let mem = MemStorage::new();
        mem.open(&dir_for(&t), true)
            .unwrap()
            .append(b"in the way")
            .unwrap();
        assert!(removal_job(Arc::new(mem.clone()), &t).run().is_err());
        assert_eq!(mem.file_names(), [dir_for(&t)]);
    }

    #[test]
    fn rebuilding_producers_applies_only_idempotent_batches_from_the_snapshot_on() {
        let storage = Arc::new(MemStorage::new());
        let mut log = Log::open(storage, Path::new("t-0"), LogConfig::default(), 0).unwrap();
        let pid = 3;
        for mut batch in [
            build_idempotent_batch(&[(None, b"a")], 0, pid, 0, 0), // offset 0: in the snapshot
            build_batch(&[(None, b"plain")], 0),                   // offset 1: no producer
            build_idempotent_batch(&[(None, b"b")], 0, pid, 0, 1), // offset 2: after it
        ] {
            log.append(&mut batch, 0, 0).unwrap();
        }
        let mut states = ProducerStates::default();
        rebuild_producers(&log, 1, &mut states, 0).unwrap();
        assert_eq!(states.len(), 1, "only the idempotent producer: {states:?}");
        let entry = states.get(ProducerId(pid)).expect("the producer");
        let seqs: Vec<i32> = entry.batches.iter().map(|b| b.first_seq).collect();
        assert_eq!(seqs, [1], "the batch at offset 0 is the snapshot's");
    }

    /// A replay from a snapshot below the log start (DeleteRecords moved it inside a segment)
    /// reads from the snapshot on, as Kafka's rebuild reads the segments: the ABORT there
    /// closes the transaction the snapshot has open (else it stayed open, holding the LSO at
    /// the log start for good), and its index entry is made.
    #[test]
    fn a_replay_from_a_snapshot_below_the_log_start_reads_the_markers_there() {
        use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
        let storage = Arc::new(MemStorage::new());
        let mut log = Log::open(storage, Path::new("t-0"), LogConfig::default(), 0).unwrap();
        let pid = 7;
        let stamp = ProducerStamp {
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            attributes: TRANSACTIONAL_BIT,
        };
        let mut txn = build_stamped_batch(&[(None, Some(b"t"))], 0, stamp);
        log.append(&mut txn, 0, 0).unwrap(); // offset 0
                                             // The snapshot at 1: the transaction open from 0.
        let mut states = ProducerStates::default();
        rebuild_producers(&log, 0, &mut states, 0).unwrap();
        let open = |states: &ProducerStates| {
            states
                .get(ProducerId(pid))
                .unwrap()
                .current_txn_first_offset
        };
        assert_eq!(open(&states), Some(0));
        let abort = Marker {
            commit: false,
            coordinator_epoch: 0,
        };
        log.append(&mut marker::build_marker(pid, 0, abort, 0), 0, 0)
            .unwrap(); // offset 1
        log.append(&mut build_batch(&[(None, b"p")], 0), 0, 0)
            .unwrap(); // offset 2
        log.delete_records_before(2, 0).unwrap();
        let rebuilt = rebuild_producers(&log, 1, &mut states, 0).unwrap();
        assert_eq!(
            open(&states),
            None,
            "closed by the marker below the log start"
        );
        assert_eq!(rebuilt.aborted.len(), 1);
    }

    /// A transaction marker (a control batch) carries its producer's id and epoch but no
    /// sequence (-1): as in Kafka's `ProducerStateManager`, it never enters the producer's
    /// window of batches, which holds its data batches only.
    #[test]
    fn rebuilding_producers_leaves_control_batches_out_of_the_sequence_window() {
        let storage = Arc::new(MemStorage::new());
        let mut log = Log::open(storage, Path::new("t-0"), LogConfig::default(), 0).unwrap();
        let pid = 3;
        let mut data = build_idempotent_batch(&[(Some(b"k"), b"v")], 0, pid, 0, 0);
        log.append(&mut data, 0, 0).unwrap();
        let mut marker = build_idempotent_batch(&[(Some(b"k"), b"v")], 0, pid, 0, -1);
        marker[21 + 1] |= 0x30; // attributes (@21): transactional and control
        let crc = compute_crc(&marker);
        marker[17..21].copy_from_slice(&crc.to_be_bytes()); // crc (@17)
        let attributes = BatchHeader::parse(&marker).unwrap().attributes;
        assert_eq!(attributes & 0x30, 0x30, "{attributes:#x}");
        log.append(&mut marker, 0, 0).unwrap();
        let mut states = ProducerStates::default();
        rebuild_producers(&log, 0, &mut states, 0).unwrap();
        let entry = states.get(ProducerId(pid)).expect("the producer");
        let seqs: Vec<i32> = entry.batches.iter().map(|b| b.first_seq).collect();
        assert_eq!(seqs, [0], "the marker is not a batch of the window");
    }

    /// The scan reads the log in slices of `PRODUCER_STATE_SCAN_BYTES` and goes on to its end.
    #[test]
    fn rebuilding_producers_reads_past_the_first_slice() {
        let storage = Arc::new(MemStorage::new());
        let mut log = Log::open(storage, Path::new("t-0"), LogConfig::default(), 0).unwrap();
        let mut first = build_idempotent_batch(&[(None, b"a")], 0, 3, 0, 0);
        log.append(&mut first, 0, 0).unwrap();
        let filler = vec![0u8; 64 << 10];
        let slices = PRODUCER_STATE_SCAN_BYTES / filler.len() + 2;
        for _ in 0..slices {
            log.append(&mut build_batch(&[(None, &filler)], 0), 0, 0)
                .unwrap();
        }
        let mut last = build_idempotent_batch(&[(None, b"z")], 0, 4, 0, 0);
        log.append(&mut last, 0, 0).unwrap();
        let mut states = ProducerStates::default();
        rebuild_producers(&log, 0, &mut states, 0).unwrap();
        assert!(states.get(ProducerId(3)).is_some());
        assert!(
            states.get(ProducerId(4)).is_some(),
            "the producer past 1 MiB"
        );
    }
}

/// `records` with every batch's partition leader epoch set to `epoch`: the planted
/// `FollowerStampsItsEpoch` (simulation only).
fn stamp_epoch(records: &[u8], epoch: i32) -> Vec<u8> {
    let mut stamped = records.to_vec();
    let at: Vec<usize> = (batch::Batches::stored(records))
        .map_while(Result::ok)
        .map(|(at, _)| at)
        .collect();
    for at in at {
        let _ = batch::set_partition_leader_epoch(&mut stamped[at..], epoch);
    }
    stamped
}

/// Kafka's `effectiveMinIsr`: the topic's `min.insync.replicas`, at most the replication
/// factor (a topic with one replica and min.insync.replicas=2 still takes acks=all).
fn effective_min_isr(config: &LogConfig, replication_factor: usize) -> usize {
    (config.min_insync_replicas as usize).min(replication_factor.max(1))
}
