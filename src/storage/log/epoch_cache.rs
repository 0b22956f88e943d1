//! The leader-epoch cache: which leader epoch each range of the log was written in, as Kafka's
//! `LeaderEpochFileCache` keeps it in the partition directory's `leader-epoch-checkpoint`.
//!
//! It answers OffsetForLeaderEpoch and the Fetch `diverging_epoch` check ("where does epoch E
//! end in my log?"), which is how a follower truncates by leader epoch instead of by its high
//! watermark (KIP-101; back-to-back elections, KIP-279). One entry per epoch: the epoch and the
//! offset of its first record.
//!
//! This module is pure: it holds the entries, applies Kafka's rules and turns them into the
//! checkpoint's bytes and back ([`LeaderEpochCache::to_bytes`], [`LeaderEpochCache::parse`];
//! format in `docs/log-format.md` and [`format`]). Reading and (atomically) replacing the file
//! is the log's job.
//!
//! Invariants, after every operation: epochs strictly increase, start offsets strictly
//! increase, no epoch or offset is negative, and there are at most
//! [`LEADER_EPOCH_ENTRIES_MAX`] entries.

mod format;
#[cfg(test)]
mod tests;

pub use format::{EpochCheckpointError, CHECKPOINT_BYTES_MAX};

use crate::limits::LEADER_EPOCH_ENTRIES_MAX;

/// The file's name in the partition directory, as Kafka names it.
pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";

/// Kafka's `OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH`: no epoch known.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH_OFFSET`: no end offset known.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One epoch and the offset of its first record (Kafka's `EpochEntry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The answer to "where does this epoch end": OffsetForLeaderEpoch's `{leader_epoch,
/// end_offset}` and Fetch's `diverging_epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub epoch: i32,
    pub end_offset: i64,
}

impl EpochEndOffset {
    /// Kafka's "nothing known" answer; a follower then falls back to its high watermark.
    pub const UNDEFINED: Self = Self {
        epoch: UNDEFINED_EPOCH,
        end_offset: UNDEFINED_EPOCH_OFFSET,
    };
}

/// The leader epochs of one partition's log, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    /// Sorted by epoch and by start offset, both strictly increasing.
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest epoch (the one being written to), if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`, following Kafka's `assign`. Returns whether
    /// the entries changed (and so the checkpoint must be written again).
    ///
    /// * Re-assigning the latest epoch at the same or a later offset changes nothing: every batch
    ///   of an epoch is assigned, only the first one counts.
    /// * Otherwise every entry at the end whose epoch is ≥ `epoch` or whose start is ≥
    ///   `start_offset` is dropped first, so that epochs and offsets keep increasing: the latest
    ///   epoch assigned at a smaller offset moves its start there, and an epoch that started at
    ///   `start_offset` with no record yet (a new leader's entry at its log end) is replaced.
    ///   An epoch older than the latest is not ignored either: the log below it was rewritten
    ///   (a follower's truncation not yet applied here), so the later entries go.
    /// * A negative epoch or offset is ignored. Kafka throws there, and its callers skip batches
    ///   without a leader epoch (`RecordBatch.NO_PARTITION_LEADER_EPOCH`, -1) beforehand; here
    ///   such a batch simply assigns nothing.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if let Some(latest) = self.entries.last() {
            if latest.epoch == epoch && start_offset >= latest.start_offset {
                return false;
            }
        }
        while let Some(last) = self.entries.last() {
            if last.epoch >= epoch || last.start_offset >= start_offset {
                self.entries.pop();
            } else {
                break;
            }
        }
        if self.entries.len() >= LEADER_EPOCH_ENTRIES_MAX {
            // Past the bound the oldest epoch is forgotten, as retention would forget it: a
            // request for it is then answered like one for an epoch below the first
            // (Kafka has no such bound; see the limit's reason).
            self.entries.remove(0);
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.debug_check(self.entries.len() - 1);
        true
    }

    /// Forgets every epoch that starts at or after `end_offset`: the log was truncated to
    /// `end_offset` (Kafka's `truncateFromEnd`; a negative offset is ignored as there). Returns
    /// whether the entries changed.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        if end_offset < 0 {
            return false;
        }
        let keep = self
            .entries
            .partition_point(|e| e.start_offset < end_offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// Forgets the epochs that end at or before `log_start_offset` and moves the start of the
    /// first remaining one there: records below the log start were deleted (Kafka's
    /// `truncateFromStart`; exclusive, so an entry starting exactly at `log_start_offset` stays).
    /// Returns whether the entries changed.
    pub fn truncate_from_start(&mut self, log_start_offset: i64) -> bool {
        // Entries starting at or below the new log start; the last of them is the epoch the
        // record at `log_start_offset` was written in.
        let at_or_below = self
            .entries
            .partition_point(|e| e.start_offset <= log_start_offset);
        if at_or_below == 0 {
            return false;
        }
        let first_kept = at_or_below - 1;
        let changed = first_kept > 0 || self.entries[first_kept].start_offset != log_start_offset;
        self.entries.drain(..first_kept);
        self.entries[0].start_offset = log_start_offset;
        self.debug_check(0);
        changed
    }

    /// Kafka's `endOffsetFor`: the largest epoch ≤ `requested_epoch` and the offset where it
    /// ends (the start of the next larger epoch, or `log_end_offset` for the latest epoch).
    ///
    /// * `requested_epoch` is [`UNDEFINED_EPOCH`] → [`EpochEndOffset::UNDEFINED`] (a
    ///   bootstrapping follower; a batch written without epochs).
    /// * It is the latest epoch → `(requested_epoch, log_end_offset)`: a consumer checking its
    ///   position after a rebalance asks for the current epoch.
    /// * It is larger than every epoch, or the cache is empty → [`EpochEndOffset::UNDEFINED`].
    /// * It is smaller than every epoch → `(requested_epoch, start of the first epoch)`: its
    ///   records are gone (retention), and the follower must start from the leader's first epoch.
    /// * Otherwise → `(largest epoch ≤ requested, start of the next epoch)`.
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> EpochEndOffset {
        if requested_epoch == UNDEFINED_EPOCH {
            return EpochEndOffset::UNDEFINED;
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return EpochEndOffset {
                epoch: requested_epoch,
                end_offset: log_end_offset,
            };
        }
        let higher = self.entries.partition_point(|e| e.epoch <= requested_epoch);
        let Some(next) = self.entries.get(higher) else {
            return EpochEndOffset::UNDEFINED;
        };
        let epoch = match higher.checked_sub(1) {
            Some(floor) => self.entries[floor].epoch,
            None => requested_epoch,
        };
        EpochEndOffset {
            epoch,
            end_offset: next.start_offset,
        }
    }

    /// The epoch the record at `offset` was written in: the last epoch starting at or below it
    /// (Kafka's `epochForOffset`, answered with ListOffsets). `None` below the first epoch.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let at_or_below = self.entries.partition_point(|e| e.start_offset <= offset);
        at_or_below
            .checked_sub(1)
            .map(|last| self.entries[last].epoch)
    }

    /// The checkpoint file's bytes (Kafka's text format).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(&self.entries)
    }

    /// A cache from checkpoint bytes, bounded and never panicking. Entries are assigned in file
    /// order, as Kafka loads them, so a file whose entries do not increase is repaired the way
    /// Kafka repairs it. After loading, the log must call
    /// [`truncate_from_end`](Self::truncate_from_end) with its log end offset (and
    /// [`truncate_from_start`](Self::truncate_from_start) with its log start): the file may
    /// predate a truncation that a crash undid.
    pub fn parse(bytes: &[u8]) -> Result<Self, EpochCheckpointError> {
        let mut cache = Self::new();
        format::decode(bytes, |entry| {
            cache.assign(entry.epoch, entry.start_offset);
        })?;
        Ok(cache)
    }

    /// The invariants in the module doc around `index`, the one entry an operation changed,
    /// checked in debug builds (tests, the simulator); O(1), so the checks stay on. The model
    /// proptest checks all entries after every operation.
    fn debug_check(&self, index: usize) {
        debug_assert!(self.entries.len() <= LEADER_EPOCH_ENTRIES_MAX);
        let increasing =
            |a: &EpochEntry, b: &EpochEntry| a.epoch < b.epoch && a.start_offset < b.start_offset;
        if let Some(entry) = self.entries.get(index) {
            debug_assert!(entry.epoch >= 0 && entry.start_offset >= 0, "{entry:?}");
            if let Some(before) = index.checked_sub(1).and_then(|i| self.entries.get(i)) {
                debug_assert!(increasing(before, entry), "{before:?} then {entry:?}");
            }
            if let Some(after) = self.entries.get(index + 1) {
                debug_assert!(increasing(entry, after), "{entry:?} then {after:?}");
            }
        }
    }
}
