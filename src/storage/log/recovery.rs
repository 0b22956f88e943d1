//! Opening a log: find the segments, trust what the checkpoints vouch for, re-validate the
//! rest, cut a torn or corrupt tail, rebuild damaged indexes.
//!
//! Algorithm (also in `docs/log-format.md`):
//! 0. Finish what a crash interrupted in the log cleaner: `*.log.cleaned` files are deleted,
//!    committed `*.log.swap` files replace their segment's log (see [`super::clean`]).
//! 1. Delete leftovers: `*.tmp` files, index files without a `.log`, and segments entirely
//!    below the log-start checkpoint (a crash during retention).
//! 2. With a valid clean-shutdown marker every segment is trusted; otherwise a segment is
//!    trusted when it ends at or below the recovery point. A trusted segment's indexes are
//!    loaded and sanity-checked; if they are damaged it is recovered like the others. (An
//!    entry before the last is checked by the reads that go through it: `Segment::scan_start`.)
//! 3. Recovering a segment validates every batch (header rules, CRC, dense offsets from the
//!    segment base); the file is cut at the first bad batch, the indexes are rebuilt, and
//!    every later segment is deleted (offsets must stay dense).
//! 4. No segment left → a new one at the largest offset any checkpoint remembers. A log-start
//!    checkpoint past the recovered end (records deleted, then their tail lost) → restart the
//!    log empty at the log start (as Kafka does), so offsets never go back.
//! 5. The leader-epoch cache (loaded from its file; the epochs of recovered batches assigned
//!    while they are validated) is truncated to the recovered log end and log start; if that
//!    changed it, the first flush job writes its file (see [`super::epochs`]), before the
//!    recovery point.
//! 6. The clean-shutdown marker is removed. Nothing is synced inline: the recovered
//!    segments' files, the directory (every removal and creation above) and the recovery point
//!    at the active segment are recorded as the log's pending durability work, which the first
//!    [`Log::flush_job`] carries. Until that job completed the log must take no append: an
//!    append acknowledged before the marker's removal is durable could leave a stale "clean"
//!    marker over torn bytes after a crash. [`Log::open`] runs that job inline;
//!    [`Log::open_unflushed`] leaves it to the caller (the partitions actor runs it as a
//!    persist effect and parks the partition's requests until it completed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checkpoint::{self, Kind, TMP_SUFFIX};
use super::clean;
use super::epochs::{self, Epochs, Loaded};
use super::error::IoContext;
use super::segment::{
    file_path, parse_file_name, FileKind, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX,
};
use super::txn_index_file::TXN_INDEX_SUFFIX;
use super::{Log, LogConfig, LogError};
use crate::storage::Storage;

/// What the directory holds.
struct Listing {
    /// Base offsets of segments with a `.log` file.
    bases: Vec<i64>,
    /// Files to delete before anything else (temp files, orphan indexes, uncommitted cleans).
    leftovers: Vec<PathBuf>,
    /// Segments whose committed clean a crash interrupted (`{base}.log.swap`).
    swaps: Vec<i64>,
}

impl Listing {
    fn read(storage: &dyn Storage, dir: &Path) -> Result<Self, LogError> {
        let mut logs = BTreeSet::new();
        let mut indexes: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut leftovers = Vec::new();
        let mut swaps = Vec::new();
        for name in storage.list(dir).at(dir)? {
            match parse_file_name(&name) {
                Some((base, FileKind::Log)) => {
                    logs.insert(base);
                }
                Some((base, FileKind::Index | FileKind::TimeIndex | FileKind::TxnIndex)) => {
                    indexes.entry(base).or_default().push(name)
                }
                None if name.ends_with(TMP_SUFFIX) || clean::is_uncommitted(&name) => {
                    leftovers.push(dir.join(name))
                }
                None => swaps.extend(clean::committed_swap(&name)),
            }
        }
        for (base, names) in indexes {
            if !logs.contains(&base) {
                leftovers.extend(names.into_iter().map(|n| dir.join(n)));
            }
        }
        Ok(Self {
            bases: logs.into_iter().collect(),
            leftovers,
            swaps,
        })
    }
}

fn delete_segment_files(storage: &dyn Storage, dir: &Path, base: i64) -> Result<(), LogError> {
    for suffix in [
        LOG_SUFFIX,
        INDEX_SUFFIX,
        TIME_INDEX_SUFFIX,
        TXN_INDEX_SUFFIX,
    ] {
        let path = file_path(dir, base, suffix);
        if storage.exists(&path) {
            storage.remove_file(&path).at(&path)?;
        }
    }
    Ok(())
}

/// A recovered batch whose epoch is older than the one the loaded checkpoint gives its
/// offset: the checkpoint is wrong.
#[derive(Debug)]
struct Contradicted {
    offset: i64,
    batch_epoch: i32,
    cached: Option<i32>,
}

/// The checkpoints found at open.
struct Checkpoints {
    log_start: Option<i64>,
    recovery_point: Option<i64>,
    clean_end: Option<i64>,
    /// Where the log cleaner stopped; `None`: never cleaned (or not trusted), all dirty.
    cleaner_offset: Option<i64>,
    /// The leader-epoch checkpoint is damaged: trust no segment, so that recovery re-assigns
    /// every batch's epoch.
    rebuild_epochs: bool,
}

impl Log {
    /// Opens (creating if needed) the log in `dir`, recovering from an unclean shutdown, and
    /// makes the recovery durable inline. Never panics on disk contents: bad bytes are cut
    /// off, bad indexes rebuilt.
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<Log, LogError> {
        let mut log = Self::open_unflushed(storage, dir, config, now_ms)?;
        log.sync()?;
        Ok(log)
    }

    /// [`Log::open`] without any fsync: the recovery's durability is the log's pending work
    /// ([`Log::has_pending`]). Run the first [`Log::flush_job`] and pass its point to
    /// [`Log::flushed`] before the first append.
    pub fn open_unflushed(
        storage: Arc<dyn Storage>,
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<Log, LogError> {
        match Self::open_once(storage.clone(), dir, config.clone(), now_ms, false)? {
            Ok(log) => Ok(log),
            // A checkpoint that parses but names an epoch its batches contradict (seed 902:
            // a bit flip made "0 0" read "8 0"; the follower then asked its leader for epoch
            // 8 for good): opened again with every batch's epoch re-read.
            Err(Contradicted {
                offset,
                batch_epoch,
                cached,
            }) => {
                tracing::warn!(
                    dir = %dir.display(), offset, batch_epoch, ?cached,
                    "the leader-epoch checkpoint contradicts the batches; rebuilding it from them"
                );
                // With the file ignored nothing is compared: this open cannot be contradicted.
                Self::open_once(storage, dir, config, now_ms, true)?.map_err(|c| {
                    LogError::Corrupt {
                        path: epochs::path(dir),
                        position: 0,
                        reason: format!("leader epochs contradicted while rebuilt: {c:?}"),
                    }
                })
            }
        }
    }

    /// One open; `Err(Contradicted)` when a recovered batch's epoch is older than the one the
    /// loaded checkpoint gives its offset (a batch is written in the epoch the cache records
    /// for it, so the file is wrong), unless `rebuild_epochs` already ignores the file.
    fn open_once(
        storage: Arc<dyn Storage>,
        dir: &Path,
        config: LogConfig,
        now_ms: i64,
        rebuild_epochs: bool,
    ) -> Result<Result<Log, Contradicted>, LogError> {
        config.validate()?;
        storage.create_dir_all(dir).at(dir)?;
        let mut listing = Listing::read(storage.as_ref(), dir)?;
        let swaps_finished = !listing.swaps.is_empty();
        if swaps_finished {
            clean::finish_interrupted_swaps(storage.as_ref(), dir, &listing.swaps)?;
            listing = Listing::read(storage.as_ref(), dir)?;
        }
        for path in &listing.leftovers {
            storage.remove_file(path).at(path)?;
        }
        let loaded = match rebuild_epochs {
            true => Loaded::Damaged,
            false => epochs::load(storage.as_ref(), dir)?,
        };
        let (epochs, rebuild_epochs) = match loaded {
            Loaded::Cache(cache) => (Epochs::new(cache), false),
            Loaded::Damaged => (Epochs::rebuilding(), true),
        };
        let checkpoints = Checkpoints {
            log_start: checkpoint::read(storage.as_ref(), dir, Kind::LogStart)?,
            recovery_point: checkpoint::read(storage.as_ref(), dir, Kind::RecoveryPoint)?,
            clean_end: checkpoint::read(storage.as_ref(), dir, Kind::CleanShutdown)?,
            cleaner_offset: checkpoint::read(storage.as_ref(), dir, Kind::CleanerOffset)?,
            rebuild_epochs,
        };
        let mut log = Log {
            storage,
            dir: dir.to_path_buf(),
            config,
            segments: BTreeMap::new(),
            log_start_offset: 0,
            durable_log_start: 0,
            synced_offset: 0,
            recovery_point: checkpoints.recovery_point.unwrap_or(-1),
            unsynced_since_ms: None,
            generation: 0,
            durability: Default::default(),
            epochs,
            first_dirty_offset: 0,
            clean_part_opaque: false,
            swap_in_flight: false,
            failed: false,
            out_of_space: false,
            txn_index_missing_from: None,
        };
        if swaps_finished || !listing.leftovers.is_empty() {
            log.durability.dir_changed();
        }
        let bases = log.drop_segments_below_start(&listing.bases, checkpoints.log_start)?;
        let (recovered, contradicted) = log.load_segments(&bases, &checkpoints, now_ms)?;
        if let Some(contradicted) = contradicted {
            return Ok(Err(contradicted));
        }
        if !bases.is_empty() {
            let _ = crate::fault_point!(
                crate::faults::FaultPoint::CrashDuringRecovery,
                format!("{} ({} segments recovered)", dir.display(), recovered.len())
            );
        }
        log.finish_open(&checkpoints, &recovered, now_ms)?;
        Ok(Ok(log))
    }

    /// Deletes segments whose every offset is below the log-start checkpoint; returns the
    /// remaining bases.
    fn drop_segments_below_start(
        &mut self,
        bases: &[i64],
        log_start: Option<i64>,
    ) -> Result<Vec<i64>, LogError> {
        let start = log_start.unwrap_or(0);
        let below = bases.windows(2).take_while(|w| w[1] <= start).count();
        for &base in &bases[..below] {
            delete_segment_files(self.storage.as_ref(), &self.dir, base)?;
        }
        if below > 0 {
            self.durability.dir_changed();
        }
        Ok(bases[below..].to_vec())
    }

    /// Loads or recovers each segment in order. Returns the bases of recovered segments, and
    /// the first recovered batch the loaded epochs contradict.
    fn load_segments(
        &mut self,
        bases: &[i64],
        checkpoints: &Checkpoints,
        now_ms: i64,
    ) -> Result<(Vec<i64>, Option<Contradicted>), LogError> {
        let recovery_point = checkpoints.recovery_point.unwrap_or(-1);
        let mut recovered = Vec::new();
        let mut contradicted = None;
        for (i, &base) in bases.iter().enumerate() {
            if contradicted.is_some() {
                break; // the open starts again with every epoch re-read
            }
            let dense = self
                .segments
                .values()
                .next_back()
                .is_none_or(|prev| prev.next_offset == base);
            if !dense {
                tracing::warn!(dir = %self.dir.display(), base, "deleting segments after a gap in offsets");
                for &later in bases[i..].iter().rev() {
                    delete_segment_files(self.storage.as_ref(), &self.dir, later)?;
                }
                self.durability.dir_changed();
                break;
            }
            let (mut segment, indexes_existed) =
                Segment::open(self.storage.as_ref(), &self.dir, base, now_ms)?;
            let next_base = bases.get(i + 1).copied();
            let trusted = indexes_existed
                && !checkpoints.rebuild_epochs
                && (checkpoints.clean_end.is_some()
                    || next_base.is_some_and(|next| next <= recovery_point));
            let loaded = trusted
                && match next_base {
                    Some(next) => segment.load_sealed(next)?,
                    None => {
                        segment.load_active_clean()?
                            && checkpoints.clean_end == Some(segment.next_offset)
                    }
                };
            if !loaded {
                let epochs = &mut self.epochs;
                let check = !checkpoints.rebuild_epochs;
                let outcome =
                    segment.recover(self.config.index_interval_bytes, true, &mut |h| {
                        let cached = epochs.epoch_for_offset(h.base_offset);
                        let older = cached.is_some_and(|c| h.partition_leader_epoch < c);
                        if check && older && contradicted.is_none() {
                            contradicted = Some(Contradicted {
                                offset: h.base_offset,
                                batch_epoch: h.partition_leader_epoch,
                                cached,
                            });
                        }
                        epochs.recovered(h.partition_leader_epoch, h.base_offset)
                    })?;
                if let Some(reason) = &outcome.reason {
                    tracing::warn!(
                        path = %segment.log_path().display(),
                        truncated_bytes = outcome.truncated_bytes,
                        reason = %reason,
                        "cut the segment at the first invalid batch"
                    );
                }
                recovered.push(base);
            }
            self.segments.insert(base, segment);
        }
        Ok((recovered, contradicted))
    }

    fn finish_open(
        &mut self,
        checkpoints: &Checkpoints,
        recovered: &[i64],
        now_ms: i64,
    ) -> Result<(), LogError> {
        let log_start_checkpoint = checkpoints.log_start.unwrap_or(0);
        if self.segments.is_empty() {
            let base = log_start_checkpoint
                .max(checkpoints.recovery_point.unwrap_or(0))
                .max(0);
            self.create_first_segment(base, now_ms)?;
        }
        let first_base = *self.segments.keys().next().expect("created above");
        self.log_start_offset = first_base.max(log_start_checkpoint);
        // Nothing below it is on disk any more (or the checkpoint says it is gone).
        self.durable_log_start = self.log_start_offset;
        if self.log_start_offset > self.log_end_offset() {
            tracing::warn!(
                dir = %self.dir.display(),
                log_start_offset = self.log_start_offset,
                log_end_offset = self.log_end_offset(),
                "log end is below the log start checkpoint; restarting the log at the log start"
            );
            while let Some((_, segment)) = self.segments.pop_last() {
                segment.delete(self.storage.as_ref())?;
            }
            self.create_first_segment(self.log_start_offset, now_ms)?;
        }
        self.load_txn_indexes()?;
        let mut first_recovered = None;
        for base in recovered {
            if let Some(segment) = self.segments.get(base) {
                self.durability.recovered(segment);
                first_recovered.get_or_insert(*base);
            }
        }
        if !recovered.is_empty() {
            self.durability.dir_changed();
        }
        // A recovered segment's bytes may still sit in the page cache only.
        self.synced_offset = first_recovered
            .unwrap_or(i64::MAX)
            .min(self.log_end_offset());
        // The first flush job writes a changed cache before the recovery point moves over the
        // recovered segments: their epochs are known from their batches only until then.
        self.epochs.truncate_from_end(self.log_end_offset());
        self.epochs.truncate_from_start(self.log_start_offset);
        let active_base = self.active().base_offset;
        let on_disk = checkpoints.recovery_point.unwrap_or(-1);
        // Until the flush job rewrote it, the checkpoint may vouch for more than the log holds.
        self.recovery_point = on_disk.min(active_base);
        if on_disk != active_base {
            self.durability.opened_at(active_base);
        }
        if checkpoint::remove(self.storage.as_ref(), &self.dir, Kind::CleanShutdown)? {
            self.durability.dir_changed();
        }
        if let Some(offset) = checkpoints.cleaner_offset {
            // Recovery may have cut the log below it (a damaged segment): the records past
            // the cut will be new, so the open's flush job (before any append) lowers it.
            self.first_dirty_offset = offset.clamp(self.log_start_offset, self.log_end_offset());
            if self.first_dirty_offset != offset {
                self.durability.cleaner_moved(self.first_dirty_offset);
            }
        }
        Ok(())
    }

    /// Loads every segment's aborted-transaction index, noting from where entries may be
    /// missing when one is damaged. Entries past the log end name markers a crash cut off.
    fn load_txn_indexes(&mut self) -> Result<(), LogError> {
        let log_end = self.log_end_offset();
        for segment in self.segments.values_mut() {
            let (base, next) = (segment.base_offset, segment.next_offset);
            if let Some(damage) = segment.txn_index.load(base, next, log_end)? {
                tracing::warn!(
                    path = %segment.txn_index.path().display(),
                    missing_from = damage.missing_from,
                    "damaged aborted-transaction index: rebuilt from the log"
                );
                let missing_from = self.txn_index_missing_from.get_or_insert(i64::MAX);
                *missing_from = (*missing_from).min(damage.missing_from);
            }
        }
        Ok(())
    }

    fn create_first_segment(&mut self, base: i64, now_ms: i64) -> Result<(), LogError> {
        let segment = Segment::create(self.storage.as_ref(), &self.dir, base, now_ms)?;
        self.durability.dir_changed();
        self.segments.insert(base, segment);
        Ok(())
    }
}
