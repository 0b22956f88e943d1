//! The log's pending durability work, run off the caller as one flush job at a time.
//!
//! A segment roll used to fsync the sealed segment, the directory and the recovery-point
//! checkpoint inline (six fsyncs inside a produce). Now the roll only records what must become
//! durable here; [`super::Log::flush_job`] turns it, together with the active file's appends,
//! into one [`PersistJob`] whose ops run in this order: the sealed segments' files, the active
//! file, the directory, the leader-epoch checkpoint (when an epoch started or the log start
//! moved, see [`super::epochs`]), the log-start checkpoint, the recovery-point checkpoint, the
//! removal of segments retention or DeleteRecords dropped (then the directory again), and the
//! caller's extra ops (producer snapshots). The recovery point therefore never vouches for a
//! segment before that segment and its epochs are on disk, and a removed segment's files go
//! only after the log start that excludes them is durable: a crash leaves either the old log
//! start with all the data, or the new one (the next open drops the segments below it). The
//! log start goes before the recovery point because a segment removed before its roll was
//! flushed is never synced: a recovery point past it must not land without the log start that
//! discards it. [`super::Log::flushed`] applies the job's effect (synced offset, recovery
//! point, durable log start) when it completed.
//!
//! A truncation that lowers the recovery point must win over an older job still running: the
//! job's checkpoint write is fenced by the log's truncation generation ([`Fence`]), and
//! `flushed` ignores a job from an older generation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::checkpoint::{self, Kind};
use super::segment::Segment;
use crate::storage::persist::{Fence, PersistOp};
use crate::storage::StorageFile;

/// What a job from [`super::Log::flush_job`] will make durable; pass it back to
/// [`super::Log::flushed`] once the job completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushPoint {
    /// Every offset below is durable once the job completed.
    pub covers_offset: i64,
    /// The recovery point the job writes, if it writes one.
    pub recovery_point: Option<i64>,
    /// The log start offset the job writes, if it writes one.
    pub log_start: Option<i64>,
    /// The log's truncation generation when the job was made.
    pub(super) generation: u64,
}

/// Durability work recorded since the last flush job was taken.
#[derive(Default)]
pub(super) struct Pending {
    /// Files of segments sealed by a roll (.log, .index, .timeindex, and .txnindex if any,
    /// each), oldest first.
    sealed: Vec<(i64, Vec<Arc<dyn StorageFile>>)>,
    /// A segment file was created: the directory must be synced.
    dir_dirty: bool,
    /// The recovery point to write once the sealed segments are synced.
    recovery_point: Option<i64>,
    /// Write `recovery_point` even if it is not above the log's (open: the checkpoint on disk
    /// may vouch for more than the recovered log holds, or be missing).
    rewrite_recovery_point: bool,
    /// The log start offset to write (retention or DeleteRecords moved it).
    log_start: Option<i64>,
    /// The log cleaner's position to write (a clean moved it, or open lowered it).
    cleaner_offset: Option<i64>,
    /// The cleaner checkpoint's own fence: bumped (under its lock) whenever the position is
    /// lowered or forgotten, so a job's write of an older position never lands after that.
    /// Separate from the truncation generation, which also fences the recovery point.
    cleaner_fence: Arc<Mutex<u64>>,
    /// Files of segments that left the log, removed after the log-start checkpoint.
    remove: Vec<PathBuf>,
    /// Aborted-transaction indexes of sealed segments written since the last job, by segment
    /// base (dropped with their segment, as `sealed`).
    txn_indexes: Vec<(i64, Arc<dyn StorageFile>)>,
    /// A job writing a recovery point is running: the checkpoint on disk may be ahead of the
    /// log's `recovery_point` until it completes.
    recovery_point_in_flight: bool,
    /// A job writing a log start is running: a truncation meanwhile fences that write, so it
    /// writes the log start itself.
    log_start_in_flight: bool,
    /// The truncation generation, shared with fenced checkpoint writes of running jobs.
    fence: Arc<Mutex<u64>>,
}

impl Pending {
    pub(super) fn has_work(&self) -> bool {
        !self.sealed.is_empty()
            || !self.txn_indexes.is_empty()
            || self.dir_dirty
            || self.recovery_point.is_some()
            || self.log_start.is_some()
            || self.cleaner_offset.is_some()
            || !self.remove.is_empty()
    }

    /// The cleaner's position moved to `offset`; the next job writes it.
    pub(super) fn cleaner_moved(&mut self, offset: i64) {
        self.cleaner_offset = Some(offset);
    }

    /// The cleaner's position is lowered or forgotten: no pending or running write of the old
    /// one may land any more. Write or remove the file while holding the returned guard.
    pub(super) fn fence_cleaner(&mut self) -> MutexGuard<'_, u64> {
        self.cleaner_offset = None;
        let mut fence = locked(&self.cleaner_fence);
        *fence += 1;
        fence
    }

    /// A clean close writes the recovery point at the active segment's base.
    pub(super) fn want_recovery_point(&mut self, offset: i64) {
        self.recovery_point = Some(self.recovery_point.map_or(offset, |rp| rp.max(offset)));
    }

    /// The log start moved up to `offset` in memory; the next job makes it durable.
    pub(super) fn log_start_moved(&mut self, offset: i64) {
        self.log_start = Some(self.log_start.map_or(offset, |pending| pending.max(offset)));
    }

    /// A segment left the log: its files go in the next job, after the log-start checkpoint.
    pub(super) fn remove_segment(&mut self, paths: Vec<PathBuf>) {
        self.remove.extend(paths);
    }

    /// A roll sealed `segment` and created a new one at `new_base`.
    pub(super) fn sealed(&mut self, segment: &Segment, new_base: i64) {
        let files = segment.files();
        self.sealed.push((segment.base_offset, files));
        self.dir_dirty = true;
        self.recovery_point = Some(new_base);
    }

    /// A truncation cut the log inside the segment at `base`: later segments are gone, that
    /// one is active again, and no recovery point above `base` may be written any more.
    pub(super) fn truncated(&mut self, base: i64) {
        self.sealed.retain(|(sealed_base, _)| *sealed_base < base);
        self.txn_indexes
            .retain(|(index_base, _)| *index_base < base);
        self.recovery_point = self.recovery_point.map(|rp| rp.min(base));
        // The truncation writes the log start inline.
        self.log_start = None;
    }

    /// A log not flushed since its open was cut inside the segment at `base` (later segments
    /// unlinked): their files need no sync, the directory does, and the open's recovery point
    /// lands at `base` at most.
    pub(super) fn cut_at_open(&mut self, base: i64) {
        self.sealed.retain(|(sealed_base, _)| *sealed_base < base);
        self.txn_indexes
            .retain(|(index_base, _)| *index_base < base);
        self.dir_dirty = true;
        self.recovery_point = Some(self.recovery_point.map_or(base, |rp| rp.min(base)));
        self.rewrite_recovery_point = true;
    }

    /// Open recovered (cut, or rebuilt the indexes of) `segment`: its files must be synced
    /// before the recovery point moves past it.
    pub(super) fn recovered(&mut self, segment: &Segment) {
        self.sealed.push((segment.base_offset, segment.files()));
    }

    /// The aborted-transaction index `file` of a sealed segment changed (a replay recorded
    /// or cut entries): the next job syncs it with the sealed segments, and the directory
    /// too when the file was `created`. Not a sealed segment for the recovery point: what
    /// such an index lacks after a crash is recorded again by the next open's replay, which
    /// starts at or below every entry not yet synced (see `partition::replica`).
    pub(super) fn txn_index_written(
        &mut self,
        base: i64,
        file: Arc<dyn StorageFile>,
        created: bool,
    ) {
        self.txn_indexes.push((base, file));
        self.dir_dirty |= created;
    }

    /// Open removed or created files in the directory (leftovers, segments, the clean-shutdown
    /// marker): the directory must be synced.
    pub(super) fn dir_changed(&mut self) {
        self.dir_dirty = true;
    }

    /// Open ends with the recovery point at `offset` (the active segment's base), whatever the
    /// checkpoint on disk says.
    pub(super) fn opened_at(&mut self, offset: i64) {
        self.recovery_point = Some(offset);
        self.rewrite_recovery_point = true;
    }

    /// Retention removed every segment below `base`: their files need no sync any more (and
    /// a removed file may not be reopenable to sync it).
    pub(super) fn removed_below(&mut self, base: i64) {
        self.sealed.retain(|(sealed_base, _)| *sealed_base >= base);
        self.txn_indexes
            .retain(|(index_base, _)| *index_base >= base);
    }

    /// The smallest base of a sealed segment not yet synced by a job, if any.
    pub(super) fn oldest_unsynced_base(&self) -> Option<i64> {
        self.sealed.first().map(|(base, _)| *base)
    }

    /// The log restarted empty: nothing recorded before matters, except the removals, which
    /// are handed back to be done at once (a new segment may reuse a removed file's name).
    pub(super) fn cleared(&mut self) -> Vec<PathBuf> {
        self.sealed.clear();
        self.txn_indexes.clear();
        self.dir_dirty = false;
        self.recovery_point = None;
        self.rewrite_recovery_point = false;
        self.log_start = None;
        self.cleaner_offset = None;
        std::mem::take(&mut self.remove)
    }

    /// Whether the checkpoint on disk may hold a value the log does not know yet.
    pub(super) fn recovery_point_in_flight(&self) -> bool {
        self.recovery_point_in_flight
    }

    /// Holds the generation lock: a running job's fenced checkpoint write waits, or has
    /// finished. Bump the generation and write inline checkpoints while holding it.
    pub(super) fn lock_generation(&self) -> MutexGuard<'_, u64> {
        locked(&self.fence)
    }

    /// Takes the recorded work as ops, in durability order, the active file's sync included
    /// and `extra` last. `recovery_point` is the log's current one: a target at or below it is
    /// not rewritten. `epochs` are the bytes of `leader-epoch-checkpoint` when it changed:
    /// written before the recovery point, so that one never covers a batch whose epoch entry is
    /// not durable. Returns the ops and the recovery point and log start they write.
    pub(super) fn take_ops(
        &mut self,
        dir: &Path,
        active: Vec<Arc<dyn StorageFile>>,
        recovery_point: i64,
        generation: u64,
        epochs: Option<Vec<u8>>,
        extra: Vec<PersistOp>,
    ) -> (Vec<PersistOp>, Option<i64>, Option<i64>) {
        let mut ops = Vec::with_capacity(5 + self.remove.len() + extra.len());
        let sealed: Vec<Arc<dyn StorageFile>> = std::mem::take(&mut self.sealed)
            .into_iter()
            .flat_map(|(_, files)| files)
            .chain(self.txn_indexes.drain(..).map(|(_, file)| file))
            .collect();
        if !sealed.is_empty() {
            ops.push(PersistOp::SyncFiles(sealed));
        }
        ops.push(PersistOp::SyncFiles(active));
        if std::mem::take(&mut self.dir_dirty) {
            ops.push(PersistOp::SyncDir(dir.to_path_buf()));
        }
        if let Some(bytes) = epochs {
            ops.push(PersistOp::ReplaceFile {
                path: super::epochs::path(dir),
                bytes,
                fence: Some(Fence::new(self.fence.clone(), generation)),
            });
        }
        let log_start = self.log_start.take();
        if let Some(offset) = log_start {
            self.log_start_in_flight = true;
            ops.push(self.fenced_checkpoint(dir, Kind::LogStart, offset, generation));
        }
        let rewrite = std::mem::take(&mut self.rewrite_recovery_point);
        let target = self
            .recovery_point
            .take()
            .filter(|&rp| rewrite || rp > recovery_point);
        if let Some(rp) = target {
            ops.push(self.fenced_checkpoint(dir, Kind::RecoveryPoint, rp, generation));
            self.recovery_point_in_flight = true;
        }
        // The cleaned segments below it were made durable by the clean's swap itself.
        if let Some(offset) = self.cleaner_offset.take() {
            let fence = Fence::new(self.cleaner_fence.clone(), *locked(&self.cleaner_fence));
            ops.push(checkpoint_op(dir, Kind::CleanerOffset, offset, fence));
        }
        if !self.remove.is_empty() {
            ops.extend(self.remove.drain(..).map(PersistOp::RemoveFile));
            ops.push(PersistOp::SyncDir(dir.to_path_buf()));
        }
        ops.extend(extra);
        (ops, target, log_start)
    }

    /// A checkpoint replacement that a later truncation (a new generation) skips.
    pub(super) fn fenced_checkpoint(
        &self,
        dir: &Path,
        kind: Kind,
        offset: i64,
        generation: u64,
    ) -> PersistOp {
        checkpoint_op(
            dir,
            kind,
            offset,
            Fence::new(self.fence.clone(), generation),
        )
    }

    /// The job that wrote (or was fenced from writing) a checkpoint completed.
    pub(super) fn job_done(&mut self) {
        self.recovery_point_in_flight = false;
        self.log_start_in_flight = false;
    }

    /// Whether a log start moved in memory is not known to be on disk: pending, or in a job a
    /// truncation may fence.
    pub(super) fn log_start_unsettled(&self) -> bool {
        self.log_start.is_some() || self.log_start_in_flight
    }
}

/// The op replacing `dir`'s checkpoint of `kind` with `offset`, skipped once `fence` moved on.
fn checkpoint_op(dir: &Path, kind: Kind, offset: i64, fence: Fence) -> PersistOp {
    PersistOp::ReplaceFile {
        path: dir.join(kind.file_name()),
        bytes: checkpoint::encode(kind, offset).to_vec(),
        fence: Some(fence),
    }
}

/// A fence counter's lock (a panic while holding it leaves a number, still good to read).
fn locked(counter: &Mutex<u64>) -> MutexGuard<'_, u64> {
    counter
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
