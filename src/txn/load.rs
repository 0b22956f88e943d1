//! The replay of one `__transaction_state` partition when a coordinator shard takes it over
//! (Kafka's `TransactionStateManager.loadTransactionsForTxnTopicPartition`): read
//! `[log start, log_end)` in chunks of [`TXN_LOAD_READ_BYTES`], apply every record in offset
//! order to a [`Replayed`], and hand it back once the log end is reached.
//!
//! The walk is the group coordinator's (`group::load`): whole batches only, the next read
//! starting at the end of the last whole one (a batch cut by the byte limit is read again in
//! full), nothing at or past `log_end` (what the partitions actor vouched durable), and a log
//! start moved past the read (retention of a compacted topic, DeleteRecords) followed.

use crate::limits::TXN_LOAD_READ_BYTES;
use crate::messages::partitions::{FetchPartition, FetchPartitionResult, FetchRequest};
use crate::storage::batch::{self, Batches};
use crate::types::{ErrorCode, LeaderEpoch, Offset, TopicPartition};

use super::replay::Replayed;

/// One load in progress.
#[derive(Debug)]
pub struct Load {
    /// Where the next read starts.
    next: Offset,
    /// The load ends here (exclusive).
    log_end: Offset,
    replayed: Replayed,
}

/// What the load needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadStep {
    /// Read from this offset.
    Read(Offset),
    /// Every record below the log end was applied.
    Done,
}

impl Load {
    /// A load of everything below `log_end`.
    pub fn new(log_end: Offset) -> Self {
        Self {
            next: Offset(0),
            log_end,
            replayed: Replayed::default(),
        }
    }

    /// What comes next: a read, or nothing (more) to read.
    pub fn step(&self) -> LoadStep {
        if self.next >= self.log_end {
            LoadStep::Done
        } else {
            LoadStep::Read(self.next)
        }
    }

    /// The read of `tp` from `from`.
    pub fn read(tp: TopicPartition, from: Offset) -> FetchRequest {
        FetchRequest {
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: TXN_LOAD_READ_BYTES,
            isolation_level: 0,
            partitions: vec![FetchPartition {
                tp,
                fetch_offset: from,
                partition_max_bytes: TXN_LOAD_READ_BYTES,
                current_leader_epoch: LeaderEpoch::UNKNOWN,
            }],
        }
    }

    /// Applies one read's answer and says what comes next. A read that failed, or that
    /// brought no whole batch below the log end, fails the load.
    pub fn fetched(&mut self, read: &FetchPartitionResult) -> Result<LoadStep, String> {
        if read.error_code == ErrorCode::OFFSET_OUT_OF_RANGE && read.log_start_offset > self.next {
            self.next = read.log_start_offset;
            return Ok(self.step());
        }
        if read.error_code != ErrorCode::NONE {
            return Err(format!(
                "the read at {} failed: {:?}",
                self.next, read.error_code
            ));
        }
        let before = self.next;
        for item in Batches::stored(&read.records) {
            let Ok((at, header)) = item else {
                break; // a cut tail batch: read again from its start
            };
            let bytes = &read.records[at..at + header.total_bytes()];
            // No transaction ever writes here, but a marker holds no coordinator record.
            if !header.is_control() {
                self.apply_batch(bytes);
            }
            self.next = Offset(header.next_offset()).min(self.log_end);
            if self.next >= self.log_end {
                break;
            }
        }
        if self.next == before {
            return Err(format!("the read at {before} brought no whole batch"));
        }
        Ok(self.step())
    }

    fn apply_batch(&mut self, bytes: &[u8]) {
        for record in batch::records(bytes) {
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    // Clients cannot produce here, so a batch this cannot walk is a foreign
                    // writer's (or damage the CRC did not catch).
                    tracing::error!(%error, "skipping a __transaction_state batch the coordinator cannot read");
                    self.replayed.skipped += 1;
                    return;
                }
            };
            if record.offset >= self.log_end.0 {
                return;
            }
            self.replayed.apply(record.key, record.value);
        }
    }

    /// The state the replay rebuilt.
    pub fn finish(self) -> Replayed {
        self.replayed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::{build_batch_records, set_base_offset};
    use crate::txn::records::{encode_key, encode_value, TxnLogValue};
    use crate::txn::state::TxnState;

    fn record(id: &str, state: TxnState, epoch: i16) -> (Vec<u8>, Option<Vec<u8>>) {
        let value = TxnLogValue {
            producer_id: 1,
            producer_epoch: epoch,
            timeout_ms: 60_000,
            state,
            partitions: Default::default(),
            last_update_ms: 0,
            start_ms: -1,
        };
        (encode_key(id).unwrap(), Some(encode_value(&value).unwrap()))
    }

    /// One batch at `offset` of `records`.
    fn batch_at(offset: i64, records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
        let recs: Vec<(Option<&[u8]>, Option<&[u8]>)> = (records.iter())
            .map(|(k, v)| (Some(&k[..]), v.as_deref()))
            .collect();
        let mut bytes = build_batch_records(&recs, 0);
        set_base_offset(&mut bytes, offset).unwrap();
        bytes
    }

    fn answer(records: Vec<u8>) -> FetchPartitionResult {
        FetchPartitionResult {
            tp: TopicPartition {
                topic: "__transaction_state".into(),
                partition: 0,
            },
            error_code: ErrorCode::NONE,
            high_watermark: Offset(10),
            last_stable_offset: Offset(10),
            log_start_offset: Offset(0),
            records,
            aborted: None,
        }
    }

    #[test]
    fn a_load_walks_whole_batches_to_the_log_end_and_rereads_a_cut_one() {
        let first = batch_at(
            0,
            &[
                record("a", TxnState::Empty, 0),
                record("b", TxnState::Ongoing, 0),
            ],
        );
        let second = batch_at(2, &[record("a", TxnState::Ongoing, 1)]);
        let third = batch_at(3, &[record("b", TxnState::PrepareAbort, 0)]);
        let mut load = Load::new(Offset(3));
        assert_eq!(load.step(), LoadStep::Read(Offset(0)));
        // The first batch whole and the second cut by the read's limit: read again from 2.
        let mut bytes = first.clone();
        bytes.extend_from_slice(&second[..second.len() - 1]);
        assert_eq!(load.fetched(&answer(bytes)), Ok(LoadStep::Read(Offset(2))));
        // The third batch is at the log end: not the load's.
        let mut bytes = second.clone();
        bytes.extend_from_slice(&third);
        assert_eq!(load.fetched(&answer(bytes)), Ok(LoadStep::Done));
        let replayed = load.finish();
        assert_eq!(replayed.ids["a"].state, TxnState::Ongoing);
        assert_eq!(replayed.ids["a"].epoch, 1);
        assert_eq!(
            replayed.ids["b"].state,
            TxnState::Ongoing,
            "its PrepareAbort is past the end"
        );
    }

    #[test]
    fn a_failed_or_empty_read_fails_the_load_and_a_moved_log_start_is_followed() {
        let mut load = Load::new(Offset(5));
        let mut moved = answer(Vec::new());
        moved.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
        moved.log_start_offset = Offset(4);
        assert_eq!(load.fetched(&moved), Ok(LoadStep::Read(Offset(4))));
        assert!(load.fetched(&answer(Vec::new())).is_err(), "no whole batch");
        let mut failed = answer(Vec::new());
        failed.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER;
        assert!(load.fetched(&failed).is_err());
        assert_eq!(
            Load::new(Offset(0)).step(),
            LoadStep::Done,
            "an empty partition"
        );
    }
}
