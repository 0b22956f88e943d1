//! The partition log: Kafka's on-disk log for one partition, in one directory.
//!
//! A [`Log`] is a sequence of segments (`{base_offset:020}.log` + `.index` + `.timeindex`, and
//! `.txnindex` once a transaction aborted in one: `aborted.rs`)
//! holding RecordBatch v2 bytes exactly as produced, with dense offsets patched in. The
//! format and the recovery algorithm are described with byte diagrams in `docs/log-format.md`.
//!
//! The log is a plain synchronous state machine over the [`Storage`] trait: time comes in as
//! `now_ms`, nothing blocks except storage calls, and the expensive fsyncs are taken off the
//! caller with [`Log::flush_job`] / [`Log::flushed`] (group commit, see
//! [`crate::storage::group_commit`]). A segment roll fsyncs nothing: it records the sealed
//! segment, the directory and the new recovery point for the next flush job
//! ([`durability`]).
//!
//! Invariants (checked by `tests/log_proptest.rs` against a `Vec` model, crashes included):
//! * offsets are dense: every batch starts where the previous one ended, segments too;
//! * `log_start_offset <= log_end_offset` and `synced_offset <= log_end_offset`;
//! * the recovery point is at or below the base of every segment not yet synced, and moves up
//!   only when a flush job that synced those segments completed ([`Log::flushed`]);
//! * everything below `synced_offset` survives a crash; recovery never serves a torn or
//!   corrupt batch; offsets never go back below the persisted log start.

mod aborted;
mod checkpoint;
pub mod clean;
pub mod config;
mod durability;
pub mod epoch_cache;
mod epochs;
mod error;
mod index;
pub mod partition_metadata;
mod reader;
mod recovery;
mod retention;
mod segment;
mod time_index;
pub mod txn_index;
mod txn_index_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::{
    Compaction, FlushPolicy, LogConfig, TimestampType, LOG_SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX,
    SEGMENT_BYTES_MIN, SEGMENT_MS_MIN, SEVEN_DAYS_MS,
};
pub use error::LogError;

use crate::storage::batch::{self, BatchHeader, BatchesSummary, Crc};
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::Storage;
use checkpoint::Kind;
pub use durability::FlushPoint;
use epoch_cache::{EpochEndOffset, EpochEntry};
use error::IoContext;
use segment::Segment;

/// Largest single append: one write, and positions in a segment must stay below 2^32.
pub const APPEND_BYTES_MAX: usize = i32::MAX as usize;

/// What an append wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// Largest batch `maxTimestamp` of the append (-1 if none carries one).
    pub max_timestamp_ms: i64,
    /// Base offset of the first batch carrying `max_timestamp_ms`.
    pub offset_of_max_timestamp: i64,
    pub batch_count: usize,
    pub record_count: i64,
    pub bytes: usize,
    /// The time the batches were stamped with under [`TimestampType::LogAppendTime`]
    /// (the Produce response's `log_append_time_ms`); -1 when they keep their CreateTime.
    pub log_append_time_ms: i64,
}

/// Whole batches read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSlice {
    /// Concatenated batches, exactly as stored.
    pub bytes: Vec<u8>,
    /// Base offset of the first batch (≤ the requested offset); the requested offset when
    /// empty.
    pub first_offset: i64,
    /// Offset after the last batch returned; the requested offset when empty.
    pub next_offset: i64,
}

impl ReadSlice {
    fn empty(offset: i64) -> Self {
        Self {
            bytes: Vec::new(),
            first_offset: offset,
            next_offset: offset,
        }
    }
}

pub struct Log {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    config: LogConfig,
    /// Base offset → segment; the last one is the active segment. Never empty.
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    /// The log start offset in the checkpoint on disk (or implied by the files at open):
    /// behind `log_start_offset` until the flush job carrying the new one completed.
    durable_log_start: i64,
    /// Every offset below is durable.
    synced_offset: i64,
    /// Persisted recovery point: segments ending at or below it are synced and valid, so
    /// an unclean open only re-validates the segments after it.
    recovery_point: i64,
    /// `now_ms` of the oldest append not covered by a sync handle (for `IntervalMs`).
    unsynced_since_ms: Option<i64>,
    /// Bumped by every truncation: a flush job made before it neither raises the synced offset
    /// nor writes its recovery point ([`FlushPoint`], [`durability`]).
    generation: u64,
    /// Durability work recorded by rolls, retention and DeleteRecords for the next flush job.
    durability: durability::Pending,
    /// The leader epochs of the log and whether `leader-epoch-checkpoint` lags them.
    epochs: epochs::Epochs,
    /// The log cleaner's position (Kafka's cleaner checkpoint): the records below were
    /// compacted by the last clean. Written to `cleaner-offset.checkpoint` by the flush job
    /// after a clean, so a restart maps only the dirty part; a truncation below it rewrites it
    /// at once, and it is not kept while the clean part is opaque (that flag is not on disk).
    first_dirty_offset: i64,
    /// Whether a clean kept a batch it could not look into (transactional, or compressed past
    /// what it decompresses) below `first_dirty_offset`: later cleans read only the headers
    /// there, so they are told (no tombstone may go while an older value may hide there).
    /// Cleared only when the log starts over (a process restart maps the whole log again; a
    /// log restarted empty holds none of those batches).
    clean_part_opaque: bool,
    /// A clean's [`clean::SwapJob`] was handed out and has not completed ([`Log::swap_done`]):
    /// it renames files over the sealed segments it swaps while reads still go to their open
    /// files, so retention and DeleteRecords leave segments in place, and truncations, a
    /// restart, a close and another clean are refused until then.
    swap_in_flight: bool,
    /// Set after an I/O error left the files in an unknown state; every mutation then fails.
    failed: bool,
    /// The last write failed because the disk was full (ENOSPC); cleared by a write that
    /// succeeds. With `failed`, the failure that poisoned the log was a full disk.
    out_of_space: bool,
    /// The open found a damaged aborted-transaction index: from this offset on, aborted
    /// transactions may be missing from the indexes until the partition replayed the log from
    /// a producer snapshot at or below it ([`Log::txn_index_missing_from`]).
    txn_index_missing_from: Option<i64>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("log_start_offset", &self.log_start_offset)
            .field("log_end_offset", &self.log_end_offset())
            .field("synced_offset", &self.synced_offset)
            .field("segments", &self.segments.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Log {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the configuration (topic config change); applies from the next operation.
    pub fn set_config(&mut self, config: LogConfig) -> Result<(), LogError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The log start offset a crash would recover: [`Self::log_start_offset`] once the flush
    /// job carrying it completed. DeleteRecords answers only then.
    pub fn durable_log_start(&self) -> i64 {
        self.durable_log_start
    }

    /// The offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    /// Every offset below this is durable (survives a crash).
    pub fn synced_offset(&self) -> i64 {
        self.synced_offset
    }

    /// Bytes of all segment `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size_bytes).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has an active segment")
    }

    fn check_usable(&self) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Failed {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Marks the log failed when a mutation hit an I/O error or inconsistent files midway.
    fn poison_on_failure<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        match &result {
            Err(error @ (LogError::Io { .. } | LogError::Corrupt { .. })) => {
                self.failed = true;
                self.out_of_space = error.is_storage_full();
            }
            // Undone: the log is as it was.
            Err(LogError::OutOfSpace { .. }) => self.out_of_space = true,
            Err(_) => {}
            Ok(_) => self.out_of_space = false,
        }
        result
    }

    fn validate_append(&self, batches: &[u8], crc: Crc) -> Result<BatchesSummary, LogError> {
        let checked = batch::validate_all_with(batches, self.config.batch_bytes_max, crc);
        self.check_append_summary(batches, checked)
    }

    /// The bounds every append keeps, on the batches' `checked` summary.
    fn check_append_summary(
        &self,
        batches: &[u8],
        checked: Result<BatchesSummary, (usize, batch::BatchError)>,
    ) -> Result<BatchesSummary, LogError> {
        if batches.len() > APPEND_BYTES_MAX {
            return Err(LogError::AppendTooLarge {
                bytes: batches.len(),
                max: APPEND_BYTES_MAX,
            });
        }
        let summary =
            checked.map_err(|(position, source)| LogError::InvalidBatch { position, source })?;
        if summary.offset_count > u32::MAX as i64
            || self
                .log_end_offset()
                .checked_add(summary.offset_count)
                .is_none()
        {
            return Err(LogError::InvalidBatch {
                position: 0,
                source: batch::BatchError::CorruptBatch {
                    reason: "the append spans more offsets than a segment can index",
                },
            });
        }
        Ok(summary)
    }

    /// Appends one or more client batches as the leader: validates them all (nothing is
    /// written if any is bad), assigns dense offsets from the log end by patching
    /// `baseOffset`, stamps `partitionLeaderEpoch` and, under
    /// [`TimestampType::LogAppendTime`], the append time `now_ms` (Kafka's `LogValidator`:
    /// attribute bit and `maxTimestamp`, CRC recomputed), rolls if needed, writes.
    pub fn append(
        &mut self,
        batches: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.append_with(batches, leader_epoch, now_ms, Crc::Check)
    }

    /// [`Self::append`] for batches whose CRCs the caller has already checked over these
    /// exact bytes: the produce path checks them with the record walk, on the connection's
    /// task, and computing them again here cost a second pass over every produced byte on the
    /// shared partitions actor. Every header rule is still enforced; recovery, followers and
    /// every other caller go through [`Self::append`]. Debug builds (tests, the simulator)
    /// recompute the CRCs anyway, so a caller that breaks the promise fails there.
    pub fn append_crc_checked(
        &mut self,
        batches: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        debug_assert!(
            batch::validate_all_with(batches, usize::MAX, Crc::AlreadyChecked).is_err()
                || batch::validate_all(batches, usize::MAX).is_ok(),
            "append_crc_checked given batches whose CRCs do not hold"
        );
        self.append_with(batches, leader_epoch, now_ms, Crc::AlreadyChecked)
    }

    fn append_with(
        &mut self,
        batches: &mut [u8],
        leader_epoch: i32,
        now_ms: i64,
        crc: Crc,
    ) -> Result<AppendInfo, LogError> {
        self.check_usable()?;
        let mut summary = self.validate_append(batches, crc)?;
        let log_append_time_ms = match self.config.timestamp_type {
            TimestampType::CreateTime => None,
            TimestampType::LogAppendTime => Some(now_ms),
        };
        let first_offset = self.log_end_offset();
        let mut next = first_offset;
        let mut at = 0usize;
        while at < batches.len() {
            let patch = &mut batches[at..];
            let invalid = |source| LogError::InvalidBatch {
                position: at,
                source,
            };
            let header = BatchHeader::parse(patch).map_err(invalid)?;
            batch::set_base_offset(patch, next).map_err(invalid)?;
            batch::set_partition_leader_epoch(patch, leader_epoch).map_err(invalid)?;
            if let Some(ms) = log_append_time_ms {
                batch::set_log_append_time(patch, ms).map_err(invalid)?;
            }
            next += header.offset_count();
            at += header.total_bytes();
        }
        if let Some(ms) = log_append_time_ms {
            // Every batch now carries `ms`: the first one holds the largest timestamp.
            summary.max_timestamp_ms = ms;
            summary.max_timestamp_batch = 0;
            summary.first_max_timestamp_ms = ms;
        }
        let result = self
            .write_batches(batches, &summary, first_offset, now_ms)
            .map(|info| AppendInfo {
                log_append_time_ms: log_append_time_ms.unwrap_or(batch::NO_TIMESTAMP),
                ..info
            });
        let info = self.poison_on_failure(result)?;
        // Every batch carries `leader_epoch`: it starts at the first one, if it is new.
        self.epochs.assign(leader_epoch, first_offset);
        Ok(info)
    }

    /// Appends batches fetched from the leader, keeping their offsets and epochs. They must
    /// continue the log densely from the log end offset.
    pub fn append_as_follower(
        &mut self,
        batches: &[u8],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_usable()?;
        // The leader's batches as it stores them: a compacted topic's may have lost records
        // to its cleaner (found by the simulator: the followers of `__consumer_offsets`
        // refused its cleaned batches and fell out of its ISR).
        let summary = self.check_append_summary(batches, batch::validate_all_stored(batches))?;
        let first_offset = self.log_end_offset();
        let mut expected = first_offset;
        // Where the leader's epochs change in these batches, for the epoch cache.
        let mut epoch_starts: Vec<(i32, i64)> = Vec::new();
        for item in batch::Batches::stored_with_crc(batches, Crc::AlreadyChecked) {
            let (position, header) =
                item.map_err(|(position, source)| LogError::InvalidBatch { position, source })?;
            if header.base_offset != expected {
                let _ = position;
                return Err(LogError::NonContiguousAppend {
                    expected,
                    got: header.base_offset,
                });
            }
            if epoch_starts.last().map(|(epoch, _)| *epoch) != Some(header.partition_leader_epoch) {
                epoch_starts.push((header.partition_leader_epoch, header.base_offset));
            }
            expected = header.next_offset();
        }
        let result = self.write_batches(batches, &summary, first_offset, now_ms);
        let info = self.poison_on_failure(result)?;
        for (epoch, base_offset) in epoch_starts {
            self.epochs.assign(epoch, base_offset);
        }
        Ok(info)
    }

    fn write_batches(
        &mut self,
        batches: &[u8],
        summary: &BatchesSummary,
        first_offset: i64,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let last_offset = first_offset + summary.offset_count - 1;
        self.maybe_roll(
            batches.len() as u64,
            summary.max_timestamp_ms,
            last_offset,
            now_ms,
        )?;
        let interval = self.config.index_interval_bytes;
        self.active_mut().append(batches, interval, now_ms)?;
        debug_assert_eq!(self.log_end_offset(), last_offset + 1);
        self.unsynced_since_ms.get_or_insert(now_ms);
        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp_ms: summary.max_timestamp_ms,
            offset_of_max_timestamp: offset_of_batch(batches, summary.max_timestamp_batch),
            batch_count: summary.batch_count,
            record_count: summary.record_count,
            bytes: batches.len(),
            log_append_time_ms: batch::NO_TIMESTAMP,
        })
    }

    /// Kafka's `shouldRoll`: the append would overflow `segment_bytes`, the segment is older
    /// than `segment_ms` (by batch timestamps when the segment's first batch has one, else by
    /// `now_ms` since creation), or the offsets would not fit the u32 relative index.
    fn maybe_roll(
        &mut self,
        append_bytes: u64,
        append_timestamp_ms: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let active = self.active();
        if active.is_empty() {
            return Ok(());
        }
        let full = active.size_bytes + append_bytes > self.config.segment_bytes;
        let waited_ms = match active.first_batch_timestamp_ms {
            Some(first_ms) if first_ms >= 0 => append_timestamp_ms.saturating_sub(first_ms),
            _ => now_ms.saturating_sub(active.created_ms),
        };
        let aged = waited_ms > self.config.segment_ms;
        let offsets_overflow = last_offset - active.base_offset > u32::MAX as i64;
        if full || aged || offsets_overflow {
            self.roll_now(now_ms)?;
        }
        Ok(())
    }

    /// Starts a new active segment at the log end offset (no-op if the active segment is
    /// empty). Nothing is synced here: the sealed segment, the directory and the new recovery
    /// point go into the next [`Log::flush_job`].
    pub fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.check_usable()?;
        let result = self.roll_now(now_ms);
        self.poison_on_failure(result)
    }

    fn roll_now(&mut self, now_ms: i64) -> Result<(), LogError> {
        if self.active().is_empty() {
            return Ok(());
        }
        let new_base = self.log_end_offset();
        self.active_mut().append_final_time_entry()?;
        let segment = Segment::create(self.storage.as_ref(), &self.dir, new_base, now_ms)?;
        let sealed = self.segments.values().next_back().expect("never empty");
        self.durability.sealed(sealed, new_base);
        self.segments.insert(new_base, segment);
        let _ = crate::fault_point!(
            crate::faults::FaultPoint::CrashAfterSegmentRoll,
            format!("{} rolled at {new_base}", self.dir.display())
        );
        Ok(())
    }

    /// The persisted recovery point: segments ending at or below it are synced and valid.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Lowers the cleaner's checkpoint to `offset` inline, if there is one (a truncation cut
    /// the log below it; a job's write of the higher one no longer lands). Without one a
    /// restart takes the whole log as dirty, which is right. Nothing while the clean part is
    /// opaque (no checkpoint may exist then).
    fn lower_cleaner_checkpoint(&mut self, offset: i64) -> Result<(), LogError> {
        let (storage, dir) = (self.storage.clone(), self.dir.clone());
        let opaque = self.clean_part_opaque;
        let _fence = self.durability.fence_cleaner();
        let path = dir.join(Kind::CleanerOffset.file_name());
        if opaque || !storage.exists(&path) {
            return Ok(());
        }
        checkpoint::write(storage.as_ref(), &dir, Kind::CleanerOffset, offset)
    }

    /// Removes the cleaner's checkpoint, durably (no pending or running write brings it back):
    /// the next open maps the whole log.
    pub(super) fn forget_cleaner_checkpoint(&mut self) -> Result<(), LogError> {
        let (storage, dir) = (self.storage.clone(), self.dir.clone());
        let _fence = self.durability.fence_cleaner();
        if checkpoint::remove(storage.as_ref(), &dir, Kind::CleanerOffset)? {
            storage.sync_dir(&dir).at(&dir)?;
        }
        Ok(())
    }

    /// Writes the log start inline (truncation), under the generation lock so it cannot
    /// interleave with a running job's fenced write.
    fn set_log_start_checkpoint(&mut self, offset: i64) -> Result<(), LogError> {
        let _generation = self.durability.lock_generation();
        checkpoint::write(self.storage.as_ref(), &self.dir, Kind::LogStart, offset)?;
        self.log_start_offset = offset;
        self.durable_log_start = offset;
        // The epochs below the new log start are gone with their records; the next flush job
        // writes the file (a stale one is harmless: open truncates it to the log start).
        self.epochs.truncate_from_start(offset);
        Ok(())
    }

    /// Moves the log start up in memory (reads refuse below it at once); the next flush job
    /// writes the checkpoint and the leader-epoch file cut below it.
    fn move_log_start(&mut self, offset: i64) {
        self.log_start_offset = offset;
        self.durability.log_start_moved(offset);
        self.epochs.truncate_from_start(offset);
    }

    /// This replica became the leader in `epoch`: the epoch starts at the log end (Kafka's
    /// `assign(leaderEpoch, logEndOffset)` on becoming leader), so where the previous epochs
    /// end is answered right before the first append in `epoch` (back-to-back elections,
    /// Kafka PR 5678). An epoch not newer than the latest known changes nothing: a stale view
    /// of the metadata must never cut the entries of newer epochs. The file is written by the
    /// next flush job, as an append's epoch is: until a record of `epoch` is durable, a crash
    /// that loses the entry loses nothing it describes.
    pub fn begin_epoch(&mut self, epoch: i32) {
        if self
            .epochs
            .latest_epoch()
            .is_none_or(|latest| epoch > latest)
        {
            self.epochs.assign(epoch, self.log_end_offset());
        }
    }

    /// The newest leader epoch the log holds records of (or was last assigned), if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// Where leader epoch `epoch` ends in this log (Kafka's `endOffsetFor`, answered to
    /// OffsetForLeaderEpoch and Fetch's diverging-epoch check); see
    /// [`epoch_cache::LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for(&self, epoch: i32) -> EpochEndOffset {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The leader epoch the record at `offset` was written in, if the cache knows it (not
    /// below its first epoch; not for records written before the cache existed).
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.epochs.epoch_for_offset(offset)
    }

    /// The leader-epoch cache's entries, oldest first.
    pub fn epoch_entries(&self) -> &[EpochEntry] {
        self.epochs.entries()
    }

    /// Rewrites `leader-epoch-checkpoint` inline after a truncation changed the cache (or an
    /// older job's bytes may have landed). Called after the truncation bumped the generation,
    /// and under the generation lock, so no older job's write lands after this one.
    fn rewrite_epochs_after_truncation(&mut self) -> Result<(), LogError> {
        let _generation = self.durability.lock_generation();
        self.epochs.write_if_stale(self.storage.as_ref(), &self.dir)
    }

    /// The largest timestamp at or above the log start and the offset of the first record
    /// carrying it (ListOffsets `-3`; Kafka's `offsetOfMaxTimestamp`), raised to the log start.
    /// The record is found by walking the first batch with that `maxTimestamp`; for a batch
    /// whose records cannot be walked (compressed) it is the batch's base offset. `None` when
    /// no batch carries a timestamp.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<&Segment> = None;
        for segment in self.segments.values() {
            if segment.next_offset <= self.log_start_offset || segment.max_timestamp_ms < 0 {
                continue;
            }
            if best.is_none_or(|b| segment.max_timestamp_ms > b.max_timestamp_ms) {
                best = Some(segment);
            }
        }
        let Some(segment) = best else {
            return Ok(None);
        };
        let offset = segment
            .offset_of_record_with(segment.offset_of_max_timestamp, segment.max_timestamp_ms)?;
        Ok(Some((
            segment.max_timestamp_ms,
            offset.max(self.log_start_offset),
        )))
    }

    /// Whether an I/O error left the files in an unknown state: every mutation fails until the
    /// log is reopened (which recovers it from its files).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Whether the log failed because the disk was full (not a broken disk or corrupt files).
    pub fn failed_out_of_space(&self) -> bool {
        self.failed && self.out_of_space
    }

    /// Whether the last write failed because the disk was full (the log may be usable: an
    /// append refused for want of space is undone, [`LogError::OutOfSpace`]).
    pub fn out_of_space(&self) -> bool {
        self.out_of_space
    }

    /// Marks the log failed after a sync run through a [`PersistJob`] reported an error: the
    /// kernel may have dropped the dirty pages, so nothing appended since the last good sync
    /// can be trusted (and a later successful sync would not prove otherwise). Every
    /// mutation fails from now on; reopen the log to recover.
    pub fn mark_failed(&mut self) {
        self.failed = true;
    }

    /// Starts a new truncation generation and writes `offset` as the recovery point inline,
    /// both under the generation lock: a flush job made before can no longer write its
    /// (higher) recovery point, and one that already wrote it is overwritten here.
    fn fence_recovery_point(&mut self, offset: i64) -> Result<(), LogError> {
        let mut generation = self.durability.lock_generation();
        self.generation += 1;
        *generation = self.generation;
        if offset != self.recovery_point || self.durability.recovery_point_in_flight() {
            checkpoint::write(
                self.storage.as_ref(),
                &self.dir,
                Kind::RecoveryPoint,
                offset,
            )?;
        }
        drop(generation);
        self.recovery_point = offset;
        Ok(())
    }

    /// Starts a new truncation generation without writing: an older job's fenced checkpoint
    /// writes (recovery point, log start) are skipped from now on.
    fn new_generation(&mut self) {
        let mut generation = self.durability.lock_generation();
        self.generation += 1;
        *generation = self.generation;
    }

    /// Whole batches starting with the one containing `offset`, up to `max_bytes` but at
    /// least one batch. Empty at the log end; `OffsetOutOfRange` outside
    /// `[log_start_offset, log_end_offset]`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadSlice, LogError> {
        self.read_bounded(offset, max_bytes, i64::MAX)
    }

    /// The first offset the log still holds a segment for (at or below the log start).
    pub fn first_segment_base(&self) -> i64 {
        *self.segments.keys().next().expect("never empty")
    }

    /// [`Log::read`] for a replay of the producer state from a snapshot, which may be below the
    /// log start (DeleteRecords moves it inside a segment, and the snapshot describes the
    /// batches from its offset on): reads below the log start are served while their segment
    /// is kept. Kafka's rebuild starts at the log start; reading the kept batches below it is
    /// Rill's choice, so that a marker there still closes the transaction the snapshot has
    /// open (else it would hold the last stable offset at the log start for good).
    pub fn read_for_replay(&self, offset: i64, max_bytes: usize) -> Result<ReadSlice, LogError> {
        let offset = offset.max(self.first_segment_base());
        if offset >= self.log_start_offset {
            return self.read(offset, max_bytes);
        }
        let segment = (self.segments.range(..=offset).next_back())
            .map(|(_, s)| s)
            .expect("at or above the first base");
        let read = segment.read(offset, max_bytes, self.log_end_offset())?;
        // Nothing found (a hole a foreign cleaner left): the next segment is next.
        let past = ReadSlice {
            next_offset: segment.next_offset,
            ..ReadSlice::empty(offset)
        };
        Ok(read.map_or(past, |read| ReadSlice {
            bytes: read.bytes,
            first_offset: read.first_offset,
            next_offset: read.next_offset,
        }))
    }

    /// [`Log::read`] that returns no batch ending past `upper_bound_offset` (the high
    /// watermark, for consumers).
    pub fn read_bounded(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound_offset: i64,
    ) -> Result<ReadSlice, LogError> {
        let log_end_offset = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset,
            });
        }
        let bound = upper_bound_offset.min(log_end_offset);
        if offset >= bound {
            return Ok(ReadSlice::empty(offset));
        }
        let floor = self
            .segments
            .range(..=offset)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        let mut slice = ReadSlice::empty(offset);
        let mut has_records = false;
        // One segment's batches, as Kafka reads; but a cleaned segment may hold only the
        // record-less batches that keep offsets dense, and a consumer handed nothing but those
        // takes it for a record too large to fetch (librdkafka doubles its fetch size on each
        // such answer, then fails with MSG_SIZE_TOO_LARGE): go on into the next segments until
        // a record is in the answer or `max_bytes` is used.
        for segment in self.segments.range(floor..).map(|(_, s)| s) {
            if segment.next_offset <= slice.next_offset {
                continue;
            }
            let room = max_bytes.saturating_sub(slice.bytes.len());
            if has_records || (!slice.bytes.is_empty() && room == 0) {
                break;
            }
            let Some(read) = segment.read(slice.next_offset, room, bound)? else {
                break;
            };
            if slice.bytes.is_empty() {
                slice.first_offset = read.first_offset;
                slice.bytes = read.bytes; // the usual answer: one segment's, no copy
            } else if read.bytes.len() > room {
                break; // past `max_bytes`: only the first batch of an answer may be
            } else {
                slice.bytes.extend_from_slice(&read.bytes);
            }
            slice.next_offset = read.next_offset;
            has_records = read.has_records;
            if read.next_offset < segment.next_offset {
                break; // `max_bytes` or the bound cut this segment: the rest comes next time
            }
        }
        Ok(slice)
    }

    /// ListOffsets by timestamp, per record like Kafka: the first record (at or above the log
    /// start) whose timestamp is ≥ `timestamp_ms`, as `(offset, its timestamp)`, searched in
    /// the first batch whose `maxTimestamp` reaches the target (see `Segment::find_timestamp`).
    /// A compressed batch cannot be looked into, so it answers with its base offset and
    /// `maxTimestamp` (consumers skip the earlier records). `None` if no record is that recent.
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<(i64, i64)>, LogError> {
        for segment in self.segments.values() {
            if segment.next_offset <= self.log_start_offset
                || segment.max_timestamp_ms < timestamp_ms
            {
                continue;
            }
            if let Some((base, max_ms)) =
                segment.find_timestamp(timestamp_ms, self.log_start_offset)?
            {
                return Ok(Some((base.max(self.log_start_offset), max_ms)));
            }
        }
        Ok(None)
    }

    /// Whether a roll, retention or DeleteRecords left durability work (sealed segments,
    /// directory, checkpoints, file removals) that only a flush job does. A changed
    /// leader-epoch cache is not such work: its file only has to land before a recovery point
    /// covers the new entries (recovery rebuilds the entries above it), so it rides the next
    /// job, which a roll or the flush policy starts.
    pub fn has_pending(&self) -> bool {
        self.durability.has_work()
    }

    /// The job that makes everything appended so far durable, with what it covers; `None` if
    /// there is nothing to do. Run the job anywhere (off the actor), then pass the point to
    /// [`Log::flushed`]. Without a roll or a change of the leader-epoch cache (a new epoch, a
    /// new log start) since the last job it is one op syncing one file.
    /// Take one at a time: the next one may only start after this one completed.
    pub fn flush_job(&mut self) -> Option<(PersistJob, FlushPoint)> {
        self.flush_job_with(Vec::new())
    }

    /// [`Log::flush_job`] that runs `extra` last, once everything below the log end is
    /// synced (producer snapshots, which must describe durable batches only). A job is made
    /// even with nothing else to do when `extra` is not empty.
    pub fn flush_job_with(&mut self, extra: Vec<PersistOp>) -> Option<(PersistJob, FlushPoint)> {
        let epochs_dirty = self.epochs.is_dirty();
        if self.synced_offset >= self.log_end_offset()
            && !self.has_pending()
            && !epochs_dirty
            && extra.is_empty()
        {
            return None;
        }
        self.unsynced_since_ms = None;
        let active = self.active_files();
        let (job, recovery_point, log_start) =
            if self.has_pending() || epochs_dirty || !extra.is_empty() {
                let epochs = self.epochs.take_for_job();
                let (ops, recovery_point, log_start) = self.durability.take_ops(
                    &self.dir,
                    active,
                    self.recovery_point,
                    self.generation,
                    epochs,
                    extra,
                );
                let job = PersistJob::new(self.storage.clone(), ops);
                (job, recovery_point, log_start)
            } else {
                (PersistJob::sync_files(active), None, None)
            };
        let point = FlushPoint {
            covers_offset: self.log_end_offset(),
            recovery_point,
            log_start,
            generation: self.generation,
        };
        Some((job, point))
    }

    /// The active segment's files a flush syncs: its log, and its aborted-transaction index
    /// (its other indexes are rebuilt by recovery; that one is not).
    fn active_files(&self) -> Vec<Arc<dyn crate::storage::StorageFile>> {
        let active = self.active();
        let mut files = vec![active.log_file().clone()];
        files.extend(active.txn_index.file().cloned());
        files
    }

    /// The job of a clean close: everything [`Log::flush_job`] would do, then the active
    /// segment's indexes (after their final time entry), the recovery point at the active
    /// segment's base, `extra` (a producer snapshot) and last the clean-shutdown marker at the
    /// log end, so the next open skips validation. Take it when no other job is running and
    /// pass the point to [`Log::flushed`]; the log takes no more writes afterwards.
    pub fn close_job(
        &mut self,
        extra: Vec<PersistOp>,
    ) -> Result<(PersistJob, FlushPoint), LogError> {
        self.check_usable()?;
        self.check_no_swap()?;
        let result = self.active_mut().append_final_time_entry();
        self.poison_on_failure(result)?;
        let active_base = self.active().base_offset;
        self.durability.want_recovery_point(active_base);
        let mut tail = vec![PersistOp::SyncFiles(self.active().files().to_vec())];
        tail.extend(extra);
        tail.push(self.durability.fenced_checkpoint(
            &self.dir,
            Kind::CleanShutdown,
            self.log_end_offset(),
            self.generation,
        ));
        Ok(self
            .flush_job_with(tail)
            .expect("extra ops always make a job"))
    }

    /// Records that the job for `point` completed: raises the synced offset, the recovery
    /// point and the durable log start, unless a truncation happened meanwhile (then the
    /// truncation's values stand).
    pub fn flushed(&mut self, point: FlushPoint) {
        if point.recovery_point.is_some() || point.log_start.is_some() {
            self.durability.job_done();
        }
        // Jobs run one at a time: whatever epoch bytes were handed out have landed or were
        // fenced off.
        self.epochs.job_done();
        if point.generation != self.generation {
            return;
        }
        let covered = point.covers_offset.min(self.log_end_offset());
        self.synced_offset = self.synced_offset.max(covered);
        if let Some(recovery_point) = point.recovery_point {
            self.recovery_point = self.recovery_point.max(recovery_point);
        }
        if let Some(log_start) = point.log_start {
            self.durable_log_start = self.durable_log_start.max(log_start);
        }
        debug_assert!(self.synced_offset <= self.log_end_offset());
        debug_assert!(self.durable_log_start <= self.log_start_offset);
        debug_assert!(self.recovery_point <= self.active().base_offset);
        debug_assert!(self
            .durability
            .oldest_unsynced_base()
            .is_none_or(|base| self.recovery_point <= base));
    }

    /// Flushes inline: [`Log::flush_job`], run, [`Log::flushed`].
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.check_usable()?;
        let Some((job, point)) = self.flush_job() else {
            return Ok(());
        };
        let flushed = job.run().at(&self.dir);
        self.poison_on_failure(flushed)?;
        self.flushed(point);
        Ok(())
    }

    /// Whether the flush policy wants a sync now.
    pub fn flush_due(&self, now_ms: i64) -> bool {
        if self.synced_offset >= self.log_end_offset() {
            return false;
        }
        match self.config.flush {
            FlushPolicy::EveryAppend => true,
            FlushPolicy::IntervalMs(interval_ms) => self
                .unsynced_since_ms
                .is_some_and(|since| now_ms.saturating_sub(since) >= interval_ms as i64),
            FlushPolicy::Os => false,
        }
    }

    /// Syncs everything and writes the clean-shutdown marker inline ([`Log::close_job`], run),
    /// so the next open skips validation.
    pub fn close(mut self) -> Result<(), LogError> {
        let (job, point) = self.close_job(Vec::new())?;
        let closed = job.run().at(&self.dir);
        self.poison_on_failure(closed)?;
        self.flushed(point);
        Ok(())
    }

    /// Removes every batch containing an offset ≥ `offset` (a follower diverged from its
    /// leader). The cut lands on a batch boundary: the new log end offset (returned) is the
    /// base of the batch containing `offset`. Durable before returning. No-op at or past the
    /// log end; `OffsetOutOfRange` below the log start.
    ///
    /// It syncs inline, so no actor handler calls it (nothing does yet: single-node logs are
    /// never truncated). Follower truncation (replication) must make it a persist job, and
    /// park appends until that job lowered the recovery point on disk: an append's torn tail
    /// below the old recovery point would be trusted by the next open without validation.
    pub fn truncate_to(&mut self, offset: i64) -> Result<i64, LogError> {
        self.check_no_swap()?;
        if let Some(end) = self.cut_needed(offset)? {
            return Ok(end);
        }
        let result = self.truncate_now(offset);
        self.poison_on_failure(result)
    }

    fn truncate_now(&mut self, offset: i64) -> Result<i64, LogError> {
        let base = self.segment_base_containing(offset);
        // A log start still pending, or in a job this truncation fences, is written here.
        let log_start_unsettled = self.durability.log_start_unsettled();
        // Lower the recovery point first: a crash midway then re-validates from this segment.
        self.fence_recovery_point(self.recovery_point.min(base))?;
        self.durability.truncated(base);
        let interval = self.config.index_interval_bytes;
        let segment = self.segments.get_mut(&base).expect("found above");
        let new_end = segment.truncate_to(offset, interval)?;
        self.delete_segments_after(base)?;
        self.synced_offset = self.synced_offset.min(new_end);
        // Records appended after the cut are new: the cleaner has not seen them.
        if self.first_dirty_offset > new_end {
            self.first_dirty_offset = new_end;
            self.lower_cleaner_checkpoint(new_end)?;
        }
        if self.log_start_offset > new_end || log_start_unsettled {
            self.set_log_start_checkpoint(self.log_start_offset.min(new_end))?;
        }
        self.epochs.truncate_from_end(new_end);
        self.rewrite_epochs_after_truncation()?;
        Ok(new_end)
    }

    /// Deletes all segments with a base above `base`, newest first, durably.
    fn delete_segments_after(&mut self, base: i64) -> Result<(), LogError> {
        if self.unlink_segments_after(base)? {
            self.storage.sync_dir(&self.dir).at(&self.dir)?;
        }
        Ok(())
    }

    /// Removes every segment with a base above `base` from the log and unlinks its files,
    /// newest first (a crash midway leaves a dense prefix), without syncing the directory.
    /// Returns whether any went.
    fn unlink_segments_after(&mut self, base: i64) -> Result<bool, LogError> {
        let mut any = false;
        while self
            .segments
            .last_key_value()
            .is_some_and(|(b, _)| *b > base)
        {
            let (_, later) = self.segments.pop_last().expect("checked above");
            later.delete(self.storage.as_ref())?;
            any = true;
        }
        Ok(any)
    }

    /// Whether a cut at `offset` has work: `Some(log end)` when `offset` is at or past the
    /// end (nothing to cut), `None` when it must cut, `OffsetOutOfRange` below the log start.
    fn cut_needed(&self, offset: i64) -> Result<Option<i64>, LogError> {
        self.check_usable()?;
        let end = self.log_end_offset();
        if offset >= end {
            return Ok(Some(end));
        }
        if offset < self.log_start_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: end,
            });
        }
        Ok(None)
    }

    /// Base offset of the segment holding `offset` (at or above the first segment's base).
    fn segment_base_containing(&self, offset: i64) -> i64 {
        *self
            .segments
            .range(..=offset)
            .next_back()
            .expect("offset is at or above the first segment")
            .0
    }

    /// Cuts a log just opened with [`Log::open_unflushed`] before the batch containing
    /// `offset` (no-op at or past the log end), the way recovery cuts a torn batch: later
    /// segments are unlinked newest first and the cut segment becomes the active one, all
    /// without syncing. The open's first persist job, which the partition waits for before it
    /// takes appends (`partition::opening`), makes the cut durable and rewrites the recovery
    /// point at the cut segment. A crash before that job leaves the old files or a prefix of
    /// them, which the next open recovers (a gap left by an unlink that did not survive is cut
    /// there: recovery step 3). Used after a failed sync (the page cache may show bytes the
    /// disk lost) and by the simulation canary `DropLastBatchOnRestart`. Returns the new log
    /// end. Only valid before the log's first flush job was taken.
    pub fn cut_at_open(&mut self, offset: i64) -> Result<i64, LogError> {
        debug_assert!(!self.swap_in_flight, "cut_at_open after a clean started");
        if let Some(end) = self.cut_needed(offset)? {
            return Ok(end);
        }
        let result = self.cut_unsynced(offset);
        self.poison_on_failure(result)
    }

    /// A follower's truncation (its log diverged from its leader's, KIP-101/279/595): cuts the
    /// batch containing `offset` and everything after it as [`Log::cut_at_open`] does, without
    /// syncing. The caller takes no append until the log's next flush job, which makes the cut
    /// durable and lowers the recovery point on disk, completed (the replica is opening again:
    /// an append's torn tail below the old recovery point would be trusted by the next open).
    /// A crash before that job finds the old files or a prefix of them, as after
    /// [`Log::cut_at_open`]: a follower that loses its cut only fetches and cuts again.
    ///
    /// At or past the log end only the epoch cache is cut (Kafka's `truncateTo` always cuts
    /// it): an epoch begun at the log end while this replica led, with no record in it, would
    /// else be sent as the last fetched epoch again and again. Only while no flush job of this
    /// log runs and no clean's swap does. Returns the new log end.
    pub fn truncate_as_follower(&mut self, offset: i64) -> Result<i64, LogError> {
        self.check_usable()?;
        self.check_no_swap()?;
        if let Some(end) = self.cut_needed(offset)? {
            self.epochs.truncate_from_end(end);
            return Ok(end);
        }
        // A clean planned before the cut must not swap the cut segment's old bytes back in:
        // its pins name the generation (`clean::swap`).
        self.new_generation();
        let result = self.cut_unsynced(offset);
        self.poison_on_failure(result)
    }

    fn cut_unsynced(&mut self, offset: i64) -> Result<i64, LogError> {
        let base = self.segment_base_containing(offset);
        self.unlink_segments_after(base)?;
        self.durability.cut_at_open(base);
        let interval = self.config.index_interval_bytes;
        let segment = self.segments.get_mut(&base).expect("found above");
        let new_end = segment.cut_unsynced(offset, interval)?;
        self.durability.recovered(segment);
        if new_end < self.log_start_offset {
            self.log_start_offset = new_end;
            self.durable_log_start = self.durable_log_start.min(new_end);
            self.durability.log_start_moved(new_end);
        }
        self.synced_offset = self.synced_offset.min(new_end);
        self.recovery_point = self.recovery_point.min(base);
        self.epochs.truncate_from_end(new_end);
        // Records appended after the cut are new; the opening job (before any append)
        // writes the lowered position over the one open read.
        if self.first_dirty_offset > new_end {
            self.first_dirty_offset = new_end;
            self.durability.cleaner_moved(new_end);
        }
        Ok(new_end)
    }

    /// The ops that restart a closed log empty at `offset` (Kafka's `truncateFullyAndStartAt`:
    /// a follower whose log ends below its leader's log start, or whose whole log diverged):
    /// every file of the directory but its topic-id label goes (segments, indexes, epochs,
    /// checkpoints, producer snapshots), then the log-start and recovery-point checkpoints say
    /// `offset`. The checkpoints are replaced first (atomically and durably), then the rest is
    /// removed and the directory synced. The next open finds no segment and starts the log at
    /// `offset`. A crash before the checkpoints leaves the old log; one after them leaves some
    /// of the old segments, each whole, none trusted without recovery (the recovery point is
    /// `offset`, at or below them, or they are below the new start and dropped): the open keeps
    /// a run of them, with epochs rebuilt from their batches, and the follower restarts again.
    /// Lists the directory; no fsync in the caller.
    pub fn restart_ops(
        storage: &dyn Storage,
        dir: &Path,
        offset: i64,
    ) -> Result<Vec<PersistOp>, LogError> {
        let names = storage.list(dir).at(dir)?;
        let kept = [
            partition_metadata::FILE_NAME,
            Kind::LogStart.file_name(),
            Kind::RecoveryPoint.file_name(),
        ];
        // The checkpoints first: from then on no open trusts a segment without recovering it
        // (the recovery point is at or below every segment left) or keeps one below the new
        // start, so whichever removals a crash keeps, the open rebuilds epochs from what is
        // left instead of trusting a cache that lost its file.
        let mut ops: Vec<PersistOp> = [Kind::LogStart, Kind::RecoveryPoint]
            .into_iter()
            .map(|kind| PersistOp::ReplaceFile {
                path: dir.join(kind.file_name()),
                bytes: checkpoint::encode(kind, offset).to_vec(),
                fence: None,
            })
            .collect();
        ops.extend(
            (names.iter())
                .filter(|name| !kept.contains(&name.as_str()))
                .map(|name| PersistOp::RemoveFile(dir.join(name))),
        );
        ops.push(PersistOp::SyncDir(dir.to_path_buf()));
        Ok(ops)
    }

    /// Drops the whole log and restarts it empty at `offset` (a follower whose log is out of
    /// the leader's range). The log start offset becomes `offset`.
    pub fn truncate_fully_and_start_at(
        &mut self,
        offset: i64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        self.check_usable()?;
        self.check_no_swap()?;
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        let result = self.restart_at(offset, now_ms);
        self.poison_on_failure(result)
    }

    fn restart_at(&mut self, offset: i64, now_ms: i64) -> Result<(), LogError> {
        // A running job's fenced log-start write must not land after this one.
        self.new_generation();
        // Every record from here on is new: the cleaner has seen none of them. Forgotten
        // first, so a crash anywhere below leaves no position over the old records.
        self.forget_cleaner_checkpoint()?;
        self.first_dirty_offset = offset;
        self.clean_part_opaque = false;
        self.set_log_start_checkpoint(offset)?;
        self.fence_recovery_point(offset)?;
        for path in self.durability.cleared() {
            if self.storage.exists(&path) {
                self.storage.remove_file(&path).at(&path)?;
            }
        }
        self.epochs.clear();
        self.rewrite_epochs_after_truncation()?;
        // Newest first: a crash midway leaves a prefix of the old log, which the next open
        // discards because it ends below the log start checkpoint.
        while let Some((_, segment)) = self.segments.pop_last() {
            segment.delete(self.storage.as_ref())?;
        }
        let segment = Segment::create(self.storage.as_ref(), &self.dir, offset, now_ms)?;
        self.storage.sync_dir(&self.dir).at(&self.dir)?;
        self.segments.insert(offset, segment);
        self.synced_offset = offset;
        self.unsynced_since_ms = None;
        Ok(())
    }
}

/// Base offset of the `index`-th batch of a validated buffer (-1 if there is none).
fn offset_of_batch(batches: &[u8], index: usize) -> i64 {
    let mut at = 0usize;
    let mut i = 0usize;
    while let Ok(header) = BatchHeader::parse(batches.get(at..).unwrap_or(&[])) {
        if i == index {
            return header.base_offset;
        }
        at += header.total_bytes().max(1);
        i += 1;
    }
    -1
}

#[cfg(test)]
mod epoch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timestamp_tests;
