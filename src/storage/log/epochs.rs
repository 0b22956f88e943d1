//! The log's leader-epoch cache and its file, `leader-epoch-checkpoint`: loaded at open, fed by
//! appends and recovery, truncated with the log, written by the flush job or inline by a
//! truncation. The rules of the cache itself are in [`super::epoch_cache`].
//!
//! Why the file never misleads a reopen (checked by the log tests and `tests/log_proptest.rs`):
//! * An append assigns its epoch at its base offset and marks the cache dirty; the next flush
//!   job replaces the file *before* it writes a recovery point. So a recovery point never
//!   covers a batch whose epoch entry is not durable.
//! * Batches above the recovery point are re-validated at open, and their epochs are assigned
//!   again from their `partitionLeaderEpoch` (Kafka's `LogSegment.recover`), so an entry that
//!   was not written yet comes back exactly when its data survived.
//! * After loading and recovery the cache is truncated to the recovered log end and log start;
//!   if that changed it, the file is rewritten before anything is appended, so an entry for
//!   lost data cannot outlive the open and later stand for other data.
//! * A truncation (`truncate_to`, `truncate_fully_and_start_at`) rewrites the file inline after
//!   bumping the log's generation, so an older flush job's write is fenced off or overwritten.
//! * A damaged file is treated like a damaged recovery-point checkpoint: ignored, at the price
//!   of a longer recovery — every segment is re-validated, which rebuilds the cache from the
//!   batches. Kafka fails the log directory instead; here a damaged small file never takes a
//!   partition offline, and the rebuild reuses the recovery scan (no second reader).
//! * A missing file is an empty cache: logs written before the file existed.

use std::path::{Path, PathBuf};

use super::epoch_cache::{
    EpochEndOffset, EpochEntry, LeaderEpochCache, CHECKPOINT_BYTES_MAX,
    LEADER_EPOCH_CHECKPOINT_FILE,
};
use super::error::IoContext;
use super::LogError;
use crate::storage::{persist, read_exact_at, Storage};

/// What open found in the file.
pub(super) enum Loaded {
    /// The entries of a readable file (none for a missing one).
    Cache(LeaderEpochCache),
    /// The file is unreadable as a checkpoint: rebuild the cache from the batches.
    Damaged,
}

/// The path of the file in the log directory `dir`.
pub(super) fn path(dir: &Path) -> PathBuf {
    dir.join(LEADER_EPOCH_CHECKPOINT_FILE)
}

/// Reads the file in `dir`. Only I/O errors are errors; bad contents are [`Loaded::Damaged`].
pub(super) fn load(storage: &dyn Storage, dir: &Path) -> Result<Loaded, LogError> {
    let path = path(dir);
    if !storage.exists(&path) {
        return Ok(Loaded::Cache(LeaderEpochCache::new()));
    }
    let file = storage.open(&path, false).at(&path)?;
    let len = file.len_bytes().at(&path)?;
    if len > CHECKPOINT_BYTES_MAX as u64 {
        tracing::warn!(path = %path.display(), len, "leader-epoch checkpoint too large; rebuilding it from the batches");
        return Ok(Loaded::Damaged);
    }
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(file.as_ref(), 0, &mut bytes).at(&path)?;
    match LeaderEpochCache::parse(&bytes) {
        Ok(cache) => Ok(Loaded::Cache(cache)),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "damaged leader-epoch checkpoint; rebuilding it from the batches");
            Ok(Loaded::Damaged)
        }
    }
}

/// The cache with what its file lacks.
#[derive(Debug, Default)]
pub(super) struct Epochs {
    cache: LeaderEpochCache,
    /// Changed since its bytes were last handed to a write.
    dirty: bool,
    /// A flush job carrying the file's bytes may be running: the file on disk may hold
    /// entries the cache no longer has until it completed.
    in_flight: bool,
}

impl Epochs {
    pub(super) fn new(cache: LeaderEpochCache) -> Self {
        Self {
            cache,
            dirty: false,
            in_flight: false,
        }
    }

    /// An empty cache for a damaged file: recovery rebuilds the entries, and the file is
    /// rewritten at the end of the open even if no batch carries an epoch.
    pub(super) fn rebuilding() -> Self {
        Self {
            dirty: true,
            ..Self::default()
        }
    }

    pub(super) fn entries(&self) -> &[EpochEntry] {
        self.cache.entries()
    }

    pub(super) fn latest_epoch(&self) -> Option<i32> {
        self.cache.latest_epoch()
    }

    pub(super) fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.cache.epoch_for_offset(offset)
    }

    pub(super) fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> EpochEndOffset {
        self.cache.end_offset_for(epoch, log_end_offset)
    }

    /// Whether the next flush job must write the file.
    pub(super) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// A batch written in `epoch` starts at `base_offset` (an append).
    pub(super) fn assign(&mut self, epoch: i32, base_offset: i64) {
        self.dirty |= self.cache.assign(epoch, base_offset);
    }

    /// A batch re-validated by recovery: its epoch counts only if it is newer than every epoch
    /// known (Kafka's `LogSegment.recover`), so a rescanned older segment cannot rewrite the
    /// entries the file already holds for it.
    pub(super) fn recovered(&mut self, epoch: i32, base_offset: i64) {
        if self
            .cache
            .latest_epoch()
            .is_none_or(|latest| epoch > latest)
        {
            self.assign(epoch, base_offset);
        }
    }

    pub(super) fn truncate_from_end(&mut self, log_end_offset: i64) {
        self.dirty |= self.cache.truncate_from_end(log_end_offset);
    }

    pub(super) fn truncate_from_start(&mut self, log_start_offset: i64) {
        self.dirty |= self.cache.truncate_from_start(log_start_offset);
    }

    /// The log restarted empty: no epoch is known any more.
    pub(super) fn clear(&mut self) {
        self.dirty |= !self.cache.is_empty();
        self.cache = LeaderEpochCache::new();
    }

    /// The file's bytes for the next flush job, if it must be written.
    pub(super) fn take_for_job(&mut self) -> Option<Vec<u8>> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        self.in_flight = true;
        Some(self.cache.to_bytes())
    }

    /// The flush job made last completed (jobs run one at a time).
    pub(super) fn job_done(&mut self) {
        self.in_flight = false;
    }

    /// Writes the file inline (open, truncation) if it may differ from the cache: changed, or
    /// an older job's bytes may have landed. The caller fences older jobs first.
    pub(super) fn write_if_stale(
        &mut self,
        storage: &dyn Storage,
        dir: &Path,
    ) -> Result<(), LogError> {
        if !self.dirty && !self.in_flight {
            return Ok(());
        }
        let path = path(dir);
        persist::replace_file(storage, &path, &self.cache.to_bytes()).at(&path)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    const DIR: &str = "e-0";

    fn mem() -> MemStorage {
        let mem = MemStorage::new();
        mem.create_dir_all(Path::new(DIR)).unwrap();
        mem
    }

    fn file(mem: &MemStorage) -> Option<Vec<u8>> {
        mem.read_file(&path(Path::new(DIR)))
    }

    /// A damaged file is rewritten at the end of the open even when no batch gave the rebuilt
    /// cache an entry: otherwise every later open finds it damaged and re-validates the log.
    #[test]
    fn a_rebuilding_cache_is_written_even_without_entries() {
        let mem = mem();
        let mut epochs = Epochs::rebuilding();
        epochs.write_if_stale(&mem, Path::new(DIR)).unwrap();
        let bytes = file(&mem).expect("written");
        assert!(LeaderEpochCache::parse(&bytes)
            .unwrap()
            .entries()
            .is_empty());
    }

    /// Once the flush job that carried the file's bytes completed, the file matches the cache:
    /// an inline write (a truncation that changed nothing) is skipped.
    #[test]
    fn a_completed_job_leaves_nothing_to_write_inline() {
        let mem = mem();
        let mut epochs = Epochs::new(LeaderEpochCache::new());
        epochs.write_if_stale(&mem, Path::new(DIR)).unwrap();
        assert_eq!(file(&mem), None, "clean and no job: nothing written");
        epochs.dirty = true;
        assert!(epochs.take_for_job().is_some());
        assert!(epochs.take_for_job().is_none(), "taken once");
        // The job has not completed: its bytes may land later, so the inline write happens.
        epochs.write_if_stale(&mem, Path::new(DIR)).unwrap();
        assert!(file(&mem).is_some(), "written while the job was in flight");
        Storage::remove_file(&mem, &path(Path::new(DIR))).unwrap();
        epochs.job_done();
        epochs.write_if_stale(&mem, Path::new(DIR)).unwrap();
        assert_eq!(file(&mem), None, "the completed job's file is trusted");
    }
}
