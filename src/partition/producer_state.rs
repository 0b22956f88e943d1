//! Idempotent-producer state of one partition: per producer id, its epoch and the last few
//! batches' sequence and offset ranges (Kafka's `ProducerStateManager`).
//!
//! It decides, before an append, whether a batch is new, a retry of a batch already written
//! (answer with the original offsets, write nothing), out of order, or from a fenced epoch; and
//! it is rebuilt at open from a snapshot plus the batch headers after it (see
//! [`super::producer_snapshot`]). Batches with producer id -1 never reach it.

use std::collections::{BTreeMap, VecDeque};

use crate::limits::PRODUCER_BATCHES_RETAINED;
use crate::storage::batch::BatchHeader;
use crate::types::{ErrorCode, ProducerId};

/// Sequence and offset range of one batch a producer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// What a partition remembers about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// The last [`PRODUCER_BATCHES_RETAINED`] batches of `epoch`, oldest first.
    pub batches: VecDeque<BatchMeta>,
    /// `now_ms` of the last append (or of the open that rebuilt the entry): drives expiry.
    pub last_timestamp_ms: i64,
}

/// The verdict on an idempotent batch before it is appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// New and in order: append it, then [`ProducerStates::record`] it.
    Append,
    /// A retry of a batch already in the log: acknowledge with these offsets, write nothing.
    Duplicate { first_offset: i64, last_offset: i64 },
    /// Refuse with this Kafka error code.
    Reject(ErrorCode),
}

/// A batch to remember, once its offsets are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: ProducerId,
    pub epoch: i16,
    pub meta: BatchMeta,
}

impl ProducerBatch {
    /// From a header whose `base_offset` is the batch's real offset (as stored in the log).
    pub fn from_stored_header(header: &BatchHeader) -> Self {
        Self::from_header_at(header, header.base_offset)
    }

    /// From a client header, for a batch that was appended at `first_offset`.
    pub fn from_header_at(header: &BatchHeader, first_offset: i64) -> Self {
        Self {
            producer_id: ProducerId(header.producer_id),
            epoch: header.producer_epoch,
            meta: BatchMeta {
                first_seq: header.base_sequence,
                last_seq: increment_sequence(header.base_sequence, header.last_offset_delta),
                first_offset,
                last_offset: first_offset + header.last_offset_delta as i64,
            },
        }
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: sequences wrap from `i32::MAX` to 0.
/// Wrapping arithmetic, as in Java: never panics, whatever a client put in the header.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX.wrapping_sub(increment) {
        increment
            .wrapping_sub(i32::MAX.wrapping_sub(sequence))
            .wrapping_sub(1)
    } else {
        sequence.wrapping_add(increment)
    }
}

/// Whether `next` directly follows `last` (with wrap-around).
fn in_sequence(last: i32, next: i32) -> bool {
    next as i64 == last as i64 + 1 || (next == 0 && last == i32::MAX)
}

/// Producer id → entry for one partition. BTreeMap: snapshots are written in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    producers: BTreeMap<ProducerId, ProducerEntry>,
}

impl ProducerStates {
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    pub fn get(&self, producer_id: ProducerId) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&ProducerId, &ProducerEntry)> {
        self.producers.iter()
    }

    pub fn insert(&mut self, producer_id: ProducerId, entry: ProducerEntry) {
        self.producers.insert(producer_id, entry);
    }

    /// Judges an idempotent batch (`producer_id >= 0`) against what this partition saw.
    pub fn check(&self, header: &BatchHeader) -> Check {
        if crate::faults::canary(crate::faults::Canary::SkipIdempotenceCheck) {
            return Check::Append;
        }
        if header.base_sequence < 0 || header.producer_epoch < 0 {
            return Check::Reject(ErrorCode::INVALID_RECORD);
        }
        // Kafka accepts any sequence from a producer it knows nothing about (its state may
        // have expired or been deleted with old segments).
        let Some(entry) = self.producers.get(&ProducerId(header.producer_id)) else {
            return Check::Append;
        };
        if header.producer_epoch < entry.epoch {
            return Check::Reject(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if header.producer_epoch > entry.epoch {
            return if header.base_sequence == 0 {
                Check::Append
            } else {
                Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        let last_seq = increment_sequence(header.base_sequence, header.last_offset_delta);
        if let Some(original) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == header.base_sequence && b.last_seq == last_seq)
        {
            return Check::Duplicate {
                first_offset: original.first_offset,
                last_offset: original.last_offset,
            };
        }
        match entry.batches.back() {
            Some(last) if !in_sequence(last.last_seq, header.base_sequence) => {
                Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            }
            _ => Check::Append,
        }
    }

    /// Remembers an appended batch. A newer epoch replaces the producer's batch history.
    pub fn record(&mut self, batch: ProducerBatch, now_ms: i64) {
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: batch.epoch,
                batches: VecDeque::new(),
                last_timestamp_ms: now_ms,
            });
        if batch.epoch < entry.epoch {
            return; // a fenced epoch never replaces a newer one (only reachable via rebuild)
        }
        if batch.epoch != entry.epoch {
            entry.epoch = batch.epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(batch.meta);
        while entry.batches.len() > PRODUCER_BATCHES_RETAINED {
            entry.batches.pop_front();
        }
        entry.last_timestamp_ms = entry.last_timestamp_ms.max(now_ms);
    }

    /// Forgets producers idle for `expiration_ms` or longer; returns how many.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp_ms) < expiration_ms);
        before - self.producers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::build_idempotent_batch;

    fn header(pid: i64, epoch: i16, seq: i32, records: usize) -> BatchHeader {
        let values: Vec<&[u8]> = vec![b"v"; records];
        let recs: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, *v)).collect();
        BatchHeader::parse(&build_idempotent_batch(&recs, 0, pid, epoch, seq)).unwrap()
    }

    #[test]
    fn sequence_wraps_like_kafka() {
        assert_eq!(increment_sequence(5, 2), 7);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert!(in_sequence(i32::MAX, 0));
        assert!(!in_sequence(3, 5));
    }

    #[test]
    fn a_sequence_that_lands_exactly_on_i32_max_does_not_wrap() {
        assert_eq!(increment_sequence(i32::MAX - 5, 5), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX - 5, 6), 0);
        assert_eq!(increment_sequence(0, i32::MAX), i32::MAX);
    }

    #[test]
    fn duplicates_gaps_epochs_and_history_bound() {
        let mut states = ProducerStates::default();
        assert_eq!(states.check(&header(7, 0, 0, 2)), Check::Append);
        let mut offset = 100;
        for seq in (0..14).step_by(2) {
            let h = header(7, 0, seq, 2);
            assert_eq!(states.check(&h), Check::Append, "seq {seq}");
            states.record(ProducerBatch::from_header_at(&h, offset), 1);
            offset += 2;
        }
        // Batches seq 4..13 are remembered (the last 5), seq 0..3 are not.
        assert_eq!(
            states.check(&header(7, 0, 12, 2)),
            Check::Duplicate {
                first_offset: 112,
                last_offset: 113
            }
        );
        assert_eq!(
            states.check(&header(7, 0, 4, 2)),
            Check::Duplicate {
                first_offset: 104,
                last_offset: 105
            }
        );
        assert_eq!(
            states.check(&header(7, 0, 0, 2)),
            Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(
            states.check(&header(7, 0, 15, 1)),
            Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(states.check(&header(7, 0, 14, 1)), Check::Append);
        assert_eq!(
            states.check(&header(7, 1, 3, 1)),
            Check::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            "a new epoch starts at 0"
        );
        let bumped = header(7, 1, 0, 1);
        assert_eq!(states.check(&bumped), Check::Append);
        states.record(ProducerBatch::from_header_at(&bumped, offset), 2);
        assert_eq!(
            states.check(&header(7, 0, 14, 1)),
            Check::Reject(ErrorCode::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(states.get(ProducerId(7)).unwrap().batches.len(), 1);
    }

    #[test]
    fn idle_producers_expire() {
        let mut states = ProducerStates::default();
        states.record(ProducerBatch::from_header_at(&header(1, 0, 0, 1), 0), 1_000);
        states.record(ProducerBatch::from_header_at(&header(2, 0, 0, 1), 1), 5_000);
        assert_eq!(states.expire(10_000, 6_000), 1);
        assert!(states.get(ProducerId(1)).is_none() && states.get(ProducerId(2)).is_some());
    }

    #[test]
    fn the_states_are_empty_until_a_batch_is_recorded_and_again_once_it_expired() {
        let mut states = ProducerStates::default();
        assert!(states.is_empty());
        states.record(ProducerBatch::from_header_at(&header(1, 0, 0, 1), 0), 1_000);
        assert!(!states.is_empty());
        states.expire(10_000, 6_000);
        assert!(states.is_empty());
    }
}
