//! The log's aborted transactions: each segment's `.txnindex` ([`super::txn_index_file`]),
//! written as the partition learns of aborts (a marker appended, or replayed at open), read
//! by `read_committed` fetches to tell the client which producers' records to drop.
//!
//! The partition drives it: the log cannot tell an ABORT marker's transaction from its bytes
//! alone (where the transaction began is producer state). What the indexes may lack after a
//! crash is what the partition replays at open from its newest producer snapshot on
//! ([`Log::record_aborted`] for each abort replayed, then [`Log::finish_aborted_replay`]): a
//! snapshot is written only after everything below it, indexes included, was synced. A
//! damaged index (the open reports where entries may be missing,
//! [`Log::txn_index_missing_from`]) is rebuilt by a replay from a snapshot at or below that
//! point, written over the damaged bytes, which go only once the replay is done.

use super::txn_index::AbortedTxn;
use super::{Log, LogError};

impl Log {
    /// Records the aborted transaction `entry` in the index of the segment holding its
    /// marker, unless it is there already. A marker outside the log is ignored.
    pub fn record_aborted(&mut self, entry: &AbortedTxn) -> Result<(), LogError> {
        self.check_usable()?;
        let result = self.record_aborted_now(entry);
        self.poison_on_failure(result)
    }

    fn record_aborted_now(&mut self, entry: &AbortedTxn) -> Result<(), LogError> {
        let first_base = *self.segments.keys().next().expect("never empty");
        if entry.last_offset < first_base || entry.last_offset >= self.log_end_offset() {
            debug_assert!(false, "an abort outside the log: {entry:?}");
            return Ok(());
        }
        let base = self.segment_base_containing(entry.last_offset);
        let active_base = self.active().base_offset;
        let storage = self.storage.clone();
        let segment = self.segments.get_mut(&base).expect("found above");
        let Some(created) = segment.txn_index.append(storage.as_ref(), entry)? else {
            return Ok(());
        };
        if base == active_base {
            // The flush job syncs the active segment's index with its log.
            if created {
                self.durability.dir_changed();
            }
        } else {
            let file = segment.txn_index.file().cloned().expect("just written");
            self.durability.txn_index_written(base, file, created);
        }
        Ok(())
    }

    /// The partition's replay at open recorded every abort it met: the damaged bytes the
    /// open found after the valid entries of an index are cut now.
    pub fn finish_aborted_replay(&mut self) -> Result<(), LogError> {
        self.check_usable()?;
        let result = self.cut_txn_index_damage();
        self.poison_on_failure(result)
    }

    fn cut_txn_index_damage(&mut self) -> Result<(), LogError> {
        let active_base = self.active().base_offset;
        for (base, segment) in self.segments.iter_mut() {
            if segment.txn_index.cut_damage()? && *base != active_base {
                let file = segment.txn_index.file().cloned().expect("it had damage");
                self.durability.txn_index_written(*base, file, false);
            }
        }
        self.txn_index_missing_from = None;
        Ok(())
    }

    /// Where the open found a damaged index: aborted transactions from there on may be
    /// missing until the partition replays from a producer snapshot at or below it.
    pub fn txn_index_missing_from(&self) -> Option<i64> {
        self.txn_index_missing_from
    }

    /// The aborted transactions a `read_committed` fetch of `[fetch_offset, upper_bound)`
    /// must be told of (Kafka's `collectAbortedTransactions`): those overlapping the range,
    /// from the segment holding `fetch_offset` on until an entry says no later one can, at
    /// most `max`. Segments past the range are searched too: a transaction with records in
    /// the range may have aborted long after (others open below the LSO meanwhile).
    pub fn aborted_between(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
        max: usize,
    ) -> Result<Vec<AbortedTxn>, LogError> {
        let mut found = Vec::new();
        let from = self
            .segments
            .range(..=fetch_offset)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        for segment in self.segments.range(from..).map(|(_, s)| s) {
            if found.len() >= max {
                break;
            }
            if segment.txn_index.is_empty() {
                continue;
            }
            if segment
                .txn_index
                .collect(fetch_offset, upper_bound, &mut found, max)?
            {
                break;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::storage::batch::build_batch;
    use crate::storage::log::LogConfig;
    use crate::storage::mem::MemStorage;
    use crate::storage::Storage;

    const DIR: &str = "t-0";

    fn one() -> Vec<u8> {
        build_batch(&[(None, b"v")], 0)
    }

    /// Two batches a segment.
    fn open(mem: &MemStorage) -> Log {
        let config = LogConfig {
            segment_bytes: one().len() as u64 * 2,
            retention_ms: None,
            ..LogConfig::default()
        };
        Log::open(Arc::new(mem.clone()), Path::new(DIR), config, 0).expect("open")
    }

    fn append(log: &mut Log, count: usize) {
        for _ in 0..count {
            log.append(&mut one(), 0, 0).expect("append");
        }
    }

    fn aborted(producer_id: i64, first_offset: i64, last_offset: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id,
            first_offset,
            last_offset,
            last_stable_offset: last_offset + 1,
        }
    }

    fn index_path(base: i64) -> std::path::PathBuf {
        Path::new(DIR).join(format!("{base:020}.txnindex"))
    }

    #[test]
    fn an_abort_is_indexed_in_its_markers_segment_synced_with_it_and_removed_with_it() {
        let mem = MemStorage::new();
        let mut log = open(&mem);
        append(&mut log, 5);
        assert_eq!(log.segment_base_offsets(), [0, 2, 4]);
        let (sealed, active) = (aborted(1, 0, 1), aborted(2, 2, 4));
        log.record_aborted(&sealed).unwrap();
        log.record_aborted(&active).unwrap();
        log.record_aborted(&sealed).unwrap(); // a replay's: written once
        assert!(!mem.exists(&index_path(2)), "no abort there: no file");
        assert_eq!(log.aborted_between(0, 5, 10).unwrap(), [sealed, active]);
        assert_eq!(log.aborted_between(2, 5, 10).unwrap(), [active]);
        assert_eq!(
            log.aborted_between(2, 3, 10).unwrap(),
            [active],
            "its marker is past the range, in a later segment"
        );
        assert_eq!(log.aborted_between(0, 5, 1).unwrap(), [sealed], "bounded");
        log.sync().unwrap();
        for (base, entry) in [(0, sealed), (4, active)] {
            let durable = mem.durable_file(&index_path(base));
            assert_eq!(
                durable,
                Some(entry.encode().to_vec()),
                "synced by the flush"
            );
        }

        // A crash loses what was not synced, the index's entries with their marker.
        append(&mut log, 1);
        log.record_aborted(&aborted(3, 5, 5)).unwrap();
        drop(log);
        mem.crash();
        let mut log = open(&mem);
        assert_eq!(log.txn_index_missing_from(), None);
        assert_eq!(log.aborted_between(0, 6, 10).unwrap(), [sealed, active]);

        // A truncation cuts the entries of the markers it cuts.
        log.truncate_to(4).unwrap();
        assert_eq!(log.aborted_between(0, 4, 10).unwrap(), [sealed]);
        append(&mut log, 2);

        // Retention removes the segment with its index.
        log.delete_records_before(2, 0).unwrap();
        log.sync().unwrap();
        log.enforce_retention(0).unwrap();
        log.sync().unwrap();
        assert_eq!(log.segment_base_offsets()[0], 2);
        assert!(!mem.exists(&index_path(0)));
        assert!(log.aborted_between(2, 6, 10).unwrap().is_empty());
    }

    #[test]
    fn an_orphan_index_goes_and_a_damaged_one_is_reported_at_open() {
        let mem = MemStorage::new();
        let mut log = open(&mem);
        append(&mut log, 3);
        log.record_aborted(&aborted(1, 0, 1)).unwrap();
        log.close().unwrap();
        let orphan = index_path(100);
        mem.open(&orphan, true).unwrap().append(&[0; 34]).unwrap();
        let file = mem.open(&index_path(0), false).unwrap();
        file.write_at(1, &[7]).unwrap(); // an unknown entry version
        let mut log = open(&mem);
        assert!(
            !mem.exists(&orphan),
            "an index without its segment is removed"
        );
        assert_eq!(log.txn_index_missing_from(), Some(0));
        assert!(log.aborted_between(0, 3, 10).unwrap().is_empty());
        // The partition replays from a snapshot at or below it: the entry is written over the
        // damaged bytes, which go only once the replay is done.
        file.append(&[0xff; 50]).unwrap();
        log.record_aborted(&aborted(1, 0, 1)).unwrap();
        assert_eq!(log.aborted_between(0, 3, 10).unwrap(), [aborted(1, 0, 1)]);
        assert_eq!(
            file.len_bytes().unwrap(),
            34 + 50,
            "the damage stays meanwhile"
        );
        log.finish_aborted_replay().unwrap();
        assert_eq!(log.txn_index_missing_from(), None);
        assert_eq!(file.len_bytes().unwrap(), 34, "the damage is cut");
        assert_eq!(log.aborted_between(0, 3, 10).unwrap(), [aborted(1, 0, 1)]);
    }
}
