//! Running a clean on a [`Log`] and replacing the cleaned segments crash-safely.
//!
//! The log's owner plans a [`CleanJob`] ([`Log::clean_job`]), which pins the sealed segments it
//! covers by their open log files; anyone may run it ([`CleanJob::run`]: step 1 below, reading
//! each pinned segment twice); the owner then checks the pins still hold ([`Log::swap_job`]),
//! and otherwise discards the result. If they hold, that is the decision to commit, and the
//! rest (steps 2–5) is a [`SwapJob`], again run by anyone ([`SwapJob::run`]: off the actor in
//! production), whose reopened segments the owner installs ([`Log::swap_done`]). A sealed
//! segment's file is never written again, and a truncation bumps the log's generation, so
//! "same open file, same size, same generation" means the bytes the job read are still the
//! segment's.
//!
//! For each cleaned segment `B` (Kafka's `.cleaned` / `.swap` protocol, log file only; the
//! indexes are rebuilt from the new file):
//! 1. the cleaned batches are written to `B.log.cleaned` and fsynced;
//! 2. each `.cleaned` is renamed to `B.log.swap` and the directory fsynced, oldest segment
//!    first: that segment's commit point. Before it, the next open deletes its `.cleaned`
//!    file (the old segment stands); after it, the next open finishes its swap;
//! 3. `B.index` and `B.timeindex` are removed and the directory fsynced, so an index of the
//!    old file can never be trusted against the new one;
//! 4. `B.log.swap` is renamed over `B.log`, the directory fsynced;
//! 5. the segment is reopened and its indexes rebuilt and fsynced.
//!
//! A crash in the middle of step 2 leaves the oldest segments swapped and the others not.
//! That is a correct log: a record removed from a swapped segment was superseded by a later
//! record of the same key, which a segment that was not swapped still holds (the old files
//! hold every record); a tombstone removed from a swapped segment has no older value left in
//! the older segments, which were swapped before it.
//! A segment whose every batch stayed as it was gets no `.cleaned` file and no swap, and the
//! open only syncs when it finds an interrupted swap, after a crash.
//!
//! # While the swap job runs
//! The pins are checked by the owner before the job exists, so a committed swap never names a
//! segment that retention or a truncation changed — provided nothing changes those segments
//! until the owner installed the new ones. So while the log is [`Log::swap_in_flight`]:
//! * reads go on from the old segments: their open files stay readable after a rename over
//!   their path (a POSIX descriptor does; `MemStorage` and the simulator's disk keep the
//!   inode; `FileStorage`'s descriptor cache keeps the descriptor of a file renamed over
//!   instead of reopening its path, see `storage::file::fd_cache`), and the old segments'
//!   indexes are in memory, so step 3's removals do not reach them;
//! * appends, rolls and flush jobs go on: they touch the active segment, and the swapped
//!   segments are below the recovery point, so no flush job syncs their files;
//! * retention leaves every segment in place (`enforce_retention` deletes nothing) and
//!   DeleteRecords only moves the log start (reads refuse below it at once; the next
//!   retention check after the swap removes the segments below it): deleting a segment would
//!   queue removals of its paths, which the job is renaming new files onto;
//! * truncations (`truncate_to`, `truncate_fully_and_start_at`) and `close_job` are refused
//!   with [`LogError::SwapRunning`], and no other clean is planned or swapped. No actor path
//!   truncates yet; the partitions actor defers a close, a directory removal and a reopen of
//!   the partition until the job completed (waiting was chosen over refusing there because
//!   the job is short and always completes).
//!
//! Why not a second phase of the first job: the owner must check the pins between the two,
//! and the log may have changed while step 1 ran. The cleaner checkpoint removal an opaque
//! clean part needs is in the swap job too (the owner moves its fence first, so no flush job
//! writes a position meanwhile); the discard of a clean whose pins broke stays on the owner
//! (unlinks, no sync).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::filter::{filter_batch, Filtered, OffsetMap};
use super::plan::{plan, CleanPlan, PlanBounds, SegmentStat};
use super::CleanConfig;
use crate::storage::batch::{self, BatchError, BatchHeader};
use crate::storage::log::error::IoContext;
use crate::storage::log::segment::{
    file_path, PinnedLog, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};
use crate::storage::log::{Log, LogError};
use crate::storage::{Storage, StorageFile};

/// Suffix of a cleaned segment log being written (deleted by the next open).
pub(crate) const CLEANED_SUFFIX: &str = ".log.cleaned";
/// Suffix of a cleaned segment log committed to replace the original (finished by the next
/// open).
pub(crate) const SWAP_SUFFIX: &str = ".log.swap";

/// What a clean did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    pub segments: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Distinct keys in the dirty part the job mapped.
    pub keys: usize,
    /// Bytes the job read ([`CleanJob::bytes_to_read`]): with the cleaner's I/O bound, when
    /// the next clean may start.
    pub bytes_read: u64,
}

/// `B` from `{B:020}{suffix}`.
fn base_of(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Whether a directory entry is a `.cleaned` file (a clean that had not committed): the
/// open deletes it with the other leftovers.
pub(crate) fn is_uncommitted(name: &str) -> bool {
    base_of(name, CLEANED_SUFFIX).is_some()
}

/// The segment base of a committed `.swap` file.
pub(crate) fn committed_swap(name: &str) -> Option<i64> {
    base_of(name, SWAP_SUFFIX)
}

/// Opening a log: finishes the committed swaps of the segments at `bases` (steps 3 and 4
/// above, with their directory syncs).
pub(crate) fn finish_interrupted_swaps(
    storage: &dyn Storage,
    dir: &Path,
    bases: &[i64],
) -> Result<(), LogError> {
    tracing::warn!(dir = %dir.display(), segments = bases.len(), "finishing an interrupted log clean");
    replace_logs(storage, dir, bases)
}

/// Steps 3 and 4 for the segments at `bases`, whose `.swap` files are committed.
fn replace_logs(storage: &dyn Storage, dir: &Path, bases: &[i64]) -> Result<(), LogError> {
    for &base in bases {
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = file_path(dir, base, suffix);
            if storage.exists(&path) {
                storage.remove_file(&path).at(&path)?;
            }
        }
    }
    storage.sync_dir(dir).at(dir)?;
    for &base in bases {
        let swap = file_path(dir, base, SWAP_SUFFIX);
        let log = file_path(dir, base, LOG_SUFFIX);
        storage.rename(&swap, &log).at(&swap)?;
    }
    storage.sync_dir(dir).at(dir)
}

/// A clean planned by the log's owner and run by anyone (off the actor in production): the
/// sealed segments it covers are pinned by their open log files, which are never written
/// again. [`CleanJob::run`] does step 1 only, so it never touches what the owner may change;
/// [`Log::swap_job`] checks the pins still hold and hands out the rest ([`SwapJob`]).
#[derive(Clone)]
pub struct CleanJob {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    segments: Vec<PinnedLog>,
    /// The log's truncation generation when planned: a truncation since voids the job.
    generation: u64,
    /// The cleaner's position when planned. The segments below it (the clean part) were
    /// compacted before, so no key appears twice there: they are filtered but not mapped; the
    /// key map covers the dirty part only (Kafka's way), and its bounds bound that part.
    first_dirty_offset: i64,
    /// Whether an earlier clean kept a batch it could not look into in the clean part.
    clean_part_opaque: bool,
    cleanable_end: i64,
    config: CleanConfig,
    now_ms: i64,
    /// Keys the map may hold before the job cleans only the segments mapped so far.
    keys_max: usize,
}

/// What [`CleanJob::run`] wrote: one synced `.cleaned` file per pinned segment the clean
/// changed.
pub struct Cleaned {
    job: CleanJob,
    pub stats: CleanStats,
    /// Bases of the pinned segments whose every batch stayed as it was (most of the part an
    /// earlier clean left): no `.cleaned` file, nothing to swap.
    unchanged: BTreeSet<i64>,
    /// Whether the clean kept a batch it could not look into (it joins the clean part).
    opaque: bool,
}

impl std::fmt::Debug for CleanJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanJob")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("cleanable_end", &self.cleanable_end)
            .finish()
    }
}

impl CleanJob {
    /// Bounds the job: it maps at most `bytes_max` bytes of dirty segments (at least one, so
    /// a clean always progresses) and its key map holds at most about `keys_max` keys; past
    /// either bound it cleans up to the end of the dirty segments it mapped and the next job
    /// goes on from there. The clean part below is read once whatever the bound
    /// ([`CleanJob::bytes_to_read`] says how much the job reads in all).
    pub fn bounded(mut self, bytes_max: u64, keys_max: usize) -> Self {
        let clean = self.clean_part();
        let mut bytes = 0u64;
        let within = self.segments[clean..]
            .iter()
            .take_while(|s| {
                bytes = bytes.saturating_add(s.size_bytes);
                bytes <= bytes_max
            })
            .count();
        self.keep_prefix(clean + within.max(1));
        self.keys_max = keys_max.max(1);
        self
    }

    /// How many of the pinned segments lie below the cleaner's position (the clean part).
    fn clean_part(&self) -> usize {
        self.segments
            .iter()
            .take_while(|s| s.next_offset <= self.first_dirty_offset)
            .count()
    }

    /// Keeps the first `count` pinned segments; the clean then ends where the next began.
    fn keep_prefix(&mut self, count: usize) {
        if count < self.segments.len() {
            self.cleanable_end = self.segments[count].base_offset;
            self.segments.truncate(count);
        }
    }

    /// Bytes the job reads: every pinned segment in the filter pass, and the dirty ones also
    /// in the map pass (the clean part's headers only, not counted).
    pub fn bytes_to_read(&self) -> u64 {
        let dirty = &self.segments[self.clean_part()..];
        self.segments.iter().map(|s| s.size_bytes).sum::<u64>()
            + dirty.iter().map(|s| s.size_bytes).sum::<u64>()
    }

    /// Step 1: builds the key map over the pinned segments and writes and syncs every
    /// `.cleaned` file. `pace` is told the bytes read after every batch (the cleaner's I/O
    /// bound sleeps there). Touches nothing the log's owner reads.
    pub fn run(mut self, pace: &mut dyn FnMut(u64)) -> Result<Cleaned, LogError> {
        let mut map = OffsetMap::default();
        if self.clean_part_opaque {
            map.set_opaque();
        }
        let clean = self.clean_part();
        for segment in &self.segments[..clean] {
            segment.for_each_header(&mut |header| map.add_header(header))?;
        }
        let mut mapped = clean;
        for segment in &self.segments[clean..] {
            segment.for_each_batch(&mut |header, batch| {
                pace(batch.len() as u64);
                map.add_batch(header, batch)
                    .map_err(|e| corrupt(&segment.path, header.base_offset, e))
            })?;
            mapped += 1;
            if map.len() >= self.keys_max {
                break; // the map is full: clean the prefix it covers (Kafka does the same)
            }
        }
        self.keep_prefix(mapped);
        let mut stats = CleanStats {
            segments: self.segments.len(),
            keys: map.len(),
            bytes_read: self.bytes_to_read(),
            ..CleanStats::default()
        };
        let mut unchanged = BTreeSet::new();
        for segment in &self.segments {
            stats.bytes_before += segment.size_bytes;
            let (written, changed) = self.write_cleaned(segment, &map, pace)?;
            stats.bytes_after += written;
            if !changed {
                let path = file_path(&self.dir, segment.base_offset, CLEANED_SUFFIX);
                self.storage.remove_file(&path).at(&path)?;
                unchanged.insert(segment.base_offset);
            }
        }
        Ok(Cleaned {
            job: self,
            stats,
            unchanged,
            opaque: map.is_opaque(),
        })
    }

    /// Step 1 for one segment: writes and syncs `B.log.cleaned`; returns its size and whether
    /// any batch changed (when none did, the file holds the segment's own bytes).
    fn write_cleaned(
        &self,
        segment: &PinnedLog,
        map: &OffsetMap,
        pace: &mut dyn FnMut(u64),
    ) -> Result<(u64, bool), LogError> {
        let path = file_path(&self.dir, segment.base_offset, CLEANED_SUFFIX);
        let file = self.storage.open(&path, true).at(&path)?;
        file.truncate(0).at(&path)?;
        let mut writer = DenseWriter::default();
        let mut changed = false;
        segment.for_each_batch(&mut |header, batch| {
            pace(batch.len() as u64);
            let filtered = filter_batch(
                batch,
                header,
                map,
                self.now_ms,
                self.config.delete_retention_ms,
            )
            .map_err(|e| corrupt(&segment.path, header.base_offset, e))?;
            changed |= filtered != Filtered::Unchanged;
            let ready = match filtered {
                Filtered::Unchanged => writer.keep(header, batch.to_vec()),
                Filtered::Rebuilt(rebuilt) => writer.keep(header, rebuilt),
                Filtered::Removed => {
                    writer.removed(header, batch);
                    None
                }
            };
            ready.map_or(Ok(()), |bytes| writer.write(file.as_ref(), &path, &bytes))
        })?;
        if let Some(last) = writer.finish() {
            writer.write(file.as_ref(), &path, &last)?;
        }
        // An unchanged copy is removed, not swapped in: no need to make it durable.
        if changed {
            file.sync().at(&path)?;
        }
        Ok((writer.written, changed))
    }

    /// Removes the `.cleaned` files of a job that will not be swapped in (best effort: the
    /// next open deletes any left).
    fn discard(&self, unchanged: &BTreeSet<i64>) {
        for segment in &self.segments {
            if unchanged.contains(&segment.base_offset) {
                continue;
            }
            let path = file_path(&self.dir, segment.base_offset, CLEANED_SUFFIX);
            if let Err(error) = self.storage.remove_file(&path) {
                tracing::warn!(path = %path.display(), %error, "cannot remove a discarded clean");
            }
        }
    }
}

impl Cleaned {
    /// Drops a clean that will not be swapped in, removing its `.cleaned` files (best effort:
    /// the next open deletes any left).
    pub fn discard(self) {
        self.job.discard(&self.unchanged);
    }
}

/// Steps 2–5 of a clean whose pins the owner checked ([`Log::swap_job`]), run off the owner
/// (a persist job in production): the renames, the directory syncs, the reopening of the
/// swapped segments and their rebuilt, synced indexes. It touches no file the log serves from
/// by path: the old segments keep being read through their open files (renaming over a path
/// leaves an open file readable, on every [`Storage`]), and the log refuses whatever would
/// remove or cut them until [`Log::swap_done`].
pub struct SwapJob {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    /// The segments whose `.cleaned` file replaces them, oldest first.
    bases: Vec<i64>,
    now_ms: i64,
    index_interval_bytes: u64,
    /// The clean part became opaque: remove the cleaner checkpoint after the swap.
    forget_cleaner_checkpoint: bool,
    cleanable_end: i64,
    opaque: bool,
}

/// What a [`SwapJob`] made: the swapped segments, open, for [`Log::swap_done`].
pub struct Swapped {
    segments: Vec<Segment>,
    cleanable_end: i64,
    opaque: bool,
}

impl std::fmt::Debug for SwapJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwapJob")
            .field("dir", &self.dir)
            .field("bases", &self.bases)
            .finish()
    }
}

impl SwapJob {
    /// Bases of the segments the job swaps, oldest first.
    pub fn bases(&self) -> &[i64] {
        &self.bases
    }

    /// Steps 2–5. Each segment's commit point is its own, oldest first: a crash between two
    /// leaves the older segments cleaned and the newer ones as they were, never the reverse
    /// (a newer segment whose tombstone went, over an older one still holding the value the
    /// tombstone deleted, would bring that value back).
    pub fn run(self) -> Result<Swapped, LogError> {
        let storage = self.storage.as_ref();
        let dir = self.dir.as_path();
        for &base in &self.bases {
            let cleaned = file_path(dir, base, CLEANED_SUFFIX);
            let swap = file_path(dir, base, SWAP_SUFFIX);
            storage.rename(&cleaned, &swap).at(&cleaned)?;
            storage.sync_dir(dir).at(dir)?;
            crate::fault_point!(
                crate::faults::FaultPoint::CrashDuringCleanSwap,
                format!("{} segment {base} committed", dir.display())
            );
        }
        replace_logs(storage, dir, &self.bases)?;
        let mut segments = Vec::with_capacity(self.bases.len());
        for &base in &self.bases {
            let (mut segment, _) = Segment::open(storage, dir, base, self.now_ms)?;
            segment.recover(self.index_interval_bytes, false, &mut |_| {})?;
            for file in segment.files() {
                file.sync().at(segment.log_path())?;
            }
            segments.push(segment);
        }
        if self.forget_cleaner_checkpoint
            && super::super::checkpoint::remove(
                storage,
                dir,
                super::super::checkpoint::Kind::CleanerOffset,
            )?
        {
            storage.sync_dir(dir).at(dir)?;
        }
        Ok(Swapped {
            segments,
            cleanable_end: self.cleanable_end,
            opaque: self.opaque,
        })
    }
}

impl Log {
    /// The cleaner's position: records below were compacted by the last clean.
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty_offset
    }

    /// The clean the log is due for under `config`, never at or past `upper_bound_offset`
    /// (the high watermark or last stable offset) nor past the recovery point.
    pub fn clean_plan(
        &self,
        config: &CleanConfig,
        upper_bound_offset: i64,
        now_ms: i64,
    ) -> Option<CleanPlan> {
        let stats: Vec<SegmentStat> = self
            .segments
            .values()
            .map(|s| SegmentStat {
                base_offset: s.base_offset,
                next_offset: s.next_offset,
                size_bytes: s.size_bytes,
                first_timestamp_ms: s.first_batch_timestamp_ms.unwrap_or(s.max_timestamp_ms),
                max_timestamp_ms: s.max_timestamp_ms,
            })
            .collect();
        let bounds = PlanBounds {
            first_dirty_offset: self.first_dirty_offset,
            upper_bound_offset: upper_bound_offset.min(self.recovery_point),
            now_ms,
        };
        plan(&stats, &bounds, config)
    }

    /// The job for the clean the log is due for ([`Log::clean_plan`]), pinning its segments.
    pub fn clean_job(
        &self,
        config: &CleanConfig,
        upper_bound_offset: i64,
        now_ms: i64,
    ) -> Option<CleanJob> {
        if self.failed || self.swap_in_flight {
            return None;
        }
        let plan = self.clean_plan(config, upper_bound_offset, now_ms)?;
        Some(CleanJob {
            storage: self.storage.clone(),
            dir: self.dir.clone(),
            segments: self
                .segments
                .values()
                .take(plan.segments)
                .map(Segment::pin)
                .collect(),
            generation: self.generation,
            first_dirty_offset: self.first_dirty_offset,
            clean_part_opaque: self.clean_part_opaque,
            cleanable_end: plan.cleanable_end,
            config: *config,
            now_ms,
            keys_max: usize::MAX,
        })
    }

    /// Whether every segment `job` pinned is still in this log as it was pinned (same open
    /// file, same size, no truncation since).
    fn pins_hold(&self, job: &CleanJob) -> bool {
        job.dir == self.dir
            && job.generation == self.generation
            && job.segments.iter().all(|pin| {
                self.segments.get(&pin.base_offset).is_some_and(|s| {
                    let now = s.pin();
                    Arc::ptr_eq(&now.file, &pin.file) && now.size_bytes == pin.size_bytes
                })
            })
    }

    /// Whether a [`SwapJob`] handed out by [`Log::swap_job`] has not completed yet
    /// ([`Log::swap_done`]): the log then refuses whatever would remove, cut or rewrite its
    /// sealed segments (see the module docs).
    pub fn swap_in_flight(&self) -> bool {
        self.swap_in_flight
    }

    /// Refuses a truncation, a restart or a close while a swap job runs.
    pub(in crate::storage::log) fn check_no_swap(&self) -> Result<(), LogError> {
        if self.swap_in_flight {
            return Err(LogError::SwapRunning {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// The owner's part of steps 2–5 for a clean [`CleanJob::run`] wrote: decides whether to
    /// commit (the pins still hold) and hands the rest out as a [`SwapJob`], to run off the
    /// owner and complete with [`Log::swap_done`]. `Ok(None)` (the cleaned files removed, the
    /// log untouched) when the log changed under the job — a segment was removed by retention
    /// or DeleteRecords, the log was truncated or reopened — or another swap is still running.
    /// Until the job completed the log is [`Log::swap_in_flight`].
    pub fn swap_job(&mut self, cleaned: Cleaned) -> Result<Option<SwapJob>, LogError> {
        self.check_usable()?;
        if self.swap_in_flight || !self.pins_hold(&cleaned.job) {
            cleaned.job.discard(&cleaned.unchanged);
            return Ok(None);
        }
        let job = &cleaned.job;
        let bases: Vec<i64> = (job.segments.iter())
            .map(|s| s.base_offset)
            .filter(|base| !cleaned.unchanged.contains(base))
            .collect();
        let forget_cleaner_checkpoint = cleaned.opaque && !self.clean_part_opaque;
        if forget_cleaner_checkpoint {
            // A restart must map the opaque batch again to know of it: no checkpoint. The
            // fence moves now, so no flush job writes a position from here on; the swap job
            // removes the file.
            drop(self.durability.fence_cleaner());
        }
        self.swap_in_flight = true;
        Ok(Some(SwapJob {
            storage: self.storage.clone(),
            dir: self.dir.clone(),
            bases,
            now_ms: job.now_ms,
            index_interval_bytes: self.config.index_interval_bytes,
            forget_cleaner_checkpoint,
            cleanable_end: job.cleanable_end,
            opaque: cleaned.opaque,
        }))
    }

    /// A [`SwapJob`] completed: installs the reopened segments in place of the old ones (the
    /// reads served meanwhile came from the old files) and moves the cleaner's position. An
    /// error of the job fails the log (reopen it to recover: the next open finishes the
    /// committed swaps and deletes the rest).
    pub fn swap_done(&mut self, swapped: Result<Swapped, LogError>) -> Result<(), LogError> {
        debug_assert!(self.swap_in_flight, "a swap completed with none in flight");
        self.swap_in_flight = false;
        // Not `poison_on_failure` on success: a log that failed meanwhile stays failed as it
        // was (its full disk included); the segments go in all the same, as they are on disk.
        let swapped = match swapped {
            Ok(swapped) => swapped,
            Err(error) => return self.poison_on_failure(Err(error)),
        };
        for mut segment in swapped.segments {
            debug_assert!(
                (self.segments.get(&segment.base_offset))
                    .is_some_and(|old| old.next_offset == segment.next_offset),
                "a swapped segment covers the offsets of the one it replaces"
            );
            // The clean keeps offsets and every transactional and control batch: the aborted
            // transactions of the old segment are the new one's, in the same file.
            if let Some(old) = self.segments.get_mut(&segment.base_offset) {
                std::mem::swap(&mut segment.txn_index, &mut old.txn_index);
            }
            self.segments.insert(segment.base_offset, segment);
        }
        self.first_dirty_offset = self.first_dirty_offset.max(swapped.cleanable_end);
        if swapped.opaque {
            self.clean_part_opaque = true;
        }
        if !self.clean_part_opaque {
            self.durability.cleaner_moved(self.first_dirty_offset);
        }
        Ok(())
    }

    /// Steps 2–5 inline: [`Log::swap_job`], [`SwapJob::run`], [`Log::swap_done`]. `Ok(false)`
    /// when the clean was discarded. Syncs inline: call it where a disk wait is allowed.
    pub fn swap_cleaned(&mut self, cleaned: Cleaned) -> Result<bool, LogError> {
        let Some(job) = self.swap_job(cleaned)? else {
            return Ok(false);
        };
        self.swap_done(job.run())?;
        Ok(true)
    }

    /// Cleans the log if [`Log::clean_plan`] says it is due, all in one call
    /// ([`Log::clean_job`], [`CleanJob::run`], [`Log::swap_cleaned`]); returns what it did.
    /// Syncs inline: call it off the actors. An I/O error fails the log (reopen it to recover).
    pub fn clean(
        &mut self,
        config: &CleanConfig,
        upper_bound_offset: i64,
        now_ms: i64,
    ) -> Result<Option<CleanStats>, LogError> {
        self.check_usable()?;
        let Some(job) = self.clean_job(config, upper_bound_offset, now_ms) else {
            return Ok(None);
        };
        let result = job.run(&mut |_| {});
        let cleaned = self.poison_on_failure(result)?;
        let stats = cleaned.stats;
        self.swap_cleaned(cleaned)?;
        Ok(Some(stats))
    }
}

/// Writes the kept batches of one segment so that offsets stay dense, as recovery and every
/// reader expect (each batch starts where the previous one ended): the batches removed after a
/// kept batch are covered by raising its `lastOffsetDelta` (Kafka's v2 format keeps a batch's
/// end through compaction anyway); where that batch cannot be extended (it has a producer, whose
/// sequence range `lastOffsetDelta` also states, or it is a control, transactional or
/// compressed batch) or there is none (the segment's first batches went), one record-less
/// batch spans the removed ones.
#[derive(Default)]
struct DenseWriter {
    /// The last kept batch (and whether it may be extended), held back until the next kept
    /// batch or the segment's end says whether to extend it.
    pending: Option<(bool, Vec<u8>)>,
    /// The first batch removed since `pending`, and where the removed run ends.
    gap: Option<(Vec<u8>, i64)>,
    written: u64,
}

impl DenseWriter {
    /// A kept batch; returns the bytes now ready to be written.
    fn keep(&mut self, header: &BatchHeader, bytes: Vec<u8>) -> Option<Vec<u8>> {
        let filler = self.close_gap();
        let extendable = header.producer_id < 0
            && super::filter::compactable(header)
            && header.compression() == 0;
        let previous = self.pending.replace((extendable, bytes)).map(|(_, b)| b);
        join(previous, filler)
    }

    fn removed(&mut self, header: &BatchHeader, batch: &[u8]) {
        match &mut self.gap {
            Some((_, end)) => *end = header.next_offset(),
            None => self.gap = Some((batch.to_vec(), header.next_offset())),
        }
    }

    /// Covers the removed run, if any: extends `pending`, or returns a filler batch to write
    /// after it.
    fn close_gap(&mut self) -> Option<Vec<u8>> {
        let (first_removed, end) = self.gap.take()?;
        match &mut self.pending {
            Some((true, pending)) => {
                batch::extend_to(pending, end);
                None
            }
            _ => Some(batch::empty_spanning(&first_removed, end)),
        }
    }

    /// Everything not written yet, at the end of the segment.
    fn finish(&mut self) -> Option<Vec<u8>> {
        let filler = self.close_gap();
        join(self.pending.take().map(|(_, b)| b), filler)
    }

    fn write(&mut self, file: &dyn StorageFile, path: &Path, bytes: &[u8]) -> Result<(), LogError> {
        file.append(bytes).at(path)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// `first` then `second`, whichever exist.
fn join(first: Option<Vec<u8>>, second: Option<Vec<u8>>) -> Option<Vec<u8>> {
    match (first, second) {
        (Some(first), Some(second)) => Some([first, second].concat()),
        (first, second) => first.or(second),
    }
}

fn corrupt(path: &Path, offset: i64, e: BatchError) -> LogError {
    LogError::Corrupt {
        path: path.to_path_buf(),
        position: 0,
        reason: format!("the cleaner cannot read the batch at offset {offset}: {e}"),
    }
}
