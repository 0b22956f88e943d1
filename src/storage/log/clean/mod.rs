//! Log compaction (Kafka's log cleaner) for topics with `cleanup.policy` containing `compact`.
//!
//! A clean keeps, for every key, only its latest record, and drops tombstones (null values)
//! `delete.retention.ms` after the first clean that kept them (KIP-534: that clean stamps the
//! batch with its delete horizon). It works on the sealed segments below the
//! *first uncleanable offset* ([`plan`]) and in three steps:
//! 1. [`plan`] decides whether the log is worth cleaning (`min.cleanable.dirty.ratio`, or
//!    `max.compaction.lag.ms` exceeded) and how far (never into the active segment, past the
//!    high watermark / last stable offset, past the recovery point, or into a segment with a
//!    record newer than `min.compaction.lag.ms`);
//! 2. an [`OffsetMap`] built over the dirty part of that range (from the cleaner's position
//!    on; the part an earlier clean left holds each key once) maps each key to its latest
//!    offset, and [`filter_batch`] rewrites each batch of the whole range keeping only the
//!    records the map names (Kafka's `MemoryRecords.filterTo`);
//! 3. `swap` writes each cleaned segment next to the original and replaces it crash-safely.
//!
//! What is kept exactly as Kafka does: every surviving record keeps its offset and timestamp;
//! a partially kept batch keeps its base offset, `lastOffsetDelta` (the batch still ends where
//! it did), producer id, epoch and base sequence, with its CRC recomputed; a batch whose
//! records all went disappears, its offsets covered by raising the previous kept batch's
//! `lastOffsetDelta` (or by one record-less batch spanning the removed run), so offsets stay
//! dense from batch to batch as recovery checks. The last batch of each producer stays as a
//! header with no records (idempotence state is rebuilt from it), as in Kafka. Control and
//! transactional batches are never touched, and their records do not
//! enter the map. The log start offset never moves: a clean removes records, never offsets.
//!
//! [`Log::clean`](crate::storage::log::Log::clean) runs all three steps in one call;
//! [`CleanJob`] and [`SwapJob`] split them for a cleaner off the actor: the owner plans, the
//! clean job in between only reads pinned sealed segments and writes `.cleaned` files, paced by
//! a [`Throttler`] (`log.cleaner.io.max.bytes.per.second`); the owner then checks the pins
//! (which decides to commit) and the swap job does the renames, directory syncs and index
//! rebuilds, while the log keeps serving from the old segments' open files; the owner installs
//! what it reopened (see [`swap`] for what the log refuses meanwhile).
//!
//! The partitions actor schedules cleans (`PartitionsTimer::Clean`) and runs both jobs as
//! [`CleanSlot`] persist jobs, so no rename, fsync or whole-segment read of a clean runs on it.
//! Compressed batches are looked into through their uncompressed copies and compressed again
//! ([`compressed`]).

mod compressed;
mod filter;
mod plan;
mod slot;
mod swap;
mod throttle;

pub use filter::{filter_batch, Filtered, OffsetMap};
pub use plan::{plan, CleanPlan, PlanBounds, SegmentStat};
pub use slot::CleanSlot;
pub(super) use swap::{committed_swap, finish_interrupted_swaps, is_uncommitted};
pub use swap::{CleanJob, CleanStats, Cleaned, SwapJob, Swapped};
pub use throttle::Throttler;

/// The topic configs a clean honours (Kafka's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanConfig {
    /// `delete.retention.ms`: how long a tombstone stays after the first clean that kept it
    /// (KIP-534's delete horizon).
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean once dirty bytes / cleanable bytes reach it.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: a record stays uncompacted at least this long.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this makes the log due whatever the
    /// ratio.
    pub max_compaction_lag_ms: i64,
}

impl Default for CleanConfig {
    fn default() -> Self {
        Self {
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

#[cfg(test)]
mod tests;
