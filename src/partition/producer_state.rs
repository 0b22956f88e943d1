//! Idempotent-producer state of one partition: per producer id, its epoch and the last few
//! batches' sequence and offset ranges (Kafka's `ProducerStateManager`).
//!
//! It decides, before an append, whether a batch is new, a retry of a batch already written
//! (answer with the original offsets, write nothing), out of order, or from a fenced epoch; and
//! it is rebuilt at open from a snapshot plus the batch headers after it (see
//! [`super::producer_snapshot`]). Batches with producer id -1 never reach it.
//!
//! Transactions (issue 15): a producer's transactional batch opens its transaction here
//! (`current_txn_first_offset`), a non-transactional batch while one is open is refused
//! (INVALID_TXN_STATE, as Kafka's `ProducerAppendInfo`), and a marker
//! ([`ProducerStates::apply_marker`]) closes it after Kafka's epoch and coordinator-epoch
//! checks. A producer with a transaction open never expires.

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
    /// The coordinator epoch of the last marker written for this producer (−1: none); a
    /// marker from an older coordinator epoch is fenced.
    pub coordinator_epoch: i32,
    /// The first offset of the producer's open transaction here, if one is open.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    /// An entry with no batches and no transaction.
    pub fn new(epoch: i16, last_timestamp_ms: i64) -> Self {
        Self {
            epoch,
            batches: VecDeque::new(),
            last_timestamp_ms,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }
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
    /// Part of a transaction (the header's transactional bit).
    pub transactional: bool,
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
            transactional: header.is_transactional(),
        }
    }
}

/// A marker's verdict (Kafka's `ProducerAppendInfo.appendEndTxnMarker` checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerCheck {
    /// Write it, then [`ProducerStates::apply_marker`] it.
    Apply,
    /// Refuse with this Kafka error code.
    Reject(ErrorCode),
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
            if header.is_transactional()
                && crate::faults::canary(crate::faults::Canary::FencedEpochAccepted)
            {
                return Check::Append;
            }
            return Check::Reject(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if entry.current_txn_first_offset.is_some() && !header.is_transactional() {
            // Kafka: "Expected transactional write from producer".
            return Check::Reject(ErrorCode::INVALID_TXN_STATE);
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

    /// A coordinator's own batch (Kafka's `AppendOrigin.COORDINATOR`: a transactional offset
    /// commit stamped with its producer): only an older epoch than the producer's is refused
    /// (INVALID_PRODUCER_EPOCH); its sequence is not checked, the coordinator keeps none.
    pub fn check_coordinator(&self, header: &BatchHeader) -> Check {
        match self.producers.get(&ProducerId(header.producer_id)) {
            Some(entry) if header.producer_epoch < entry.epoch => {
                Check::Reject(ErrorCode::INVALID_PRODUCER_EPOCH)
            }
            _ => Check::Append,
        }
    }

    /// Remembers an appended batch (whether it did: a fenced epoch's is ignored). A newer epoch
    /// replaces the producer's batch history. A transactional batch opens the producer's
    /// transaction here if none is open.
    pub fn record(&mut self, batch: ProducerBatch, now_ms: i64) -> bool {
        let entry = (self.producers)
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry::new(batch.epoch, now_ms));
        if batch.epoch < entry.epoch {
            return false; // a fenced epoch never replaces a newer one (only reachable via rebuild)
        }
        if batch.epoch != entry.epoch {
            entry.epoch = batch.epoch;
            entry.batches.clear();
        }
        if batch.transactional && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(batch.meta.first_offset);
        }
        entry.batches.push_back(batch.meta);
        while entry.batches.len() > PRODUCER_BATCHES_RETAINED {
            entry.batches.pop_front();
        }
        entry.last_timestamp_ms = entry.last_timestamp_ms.max(now_ms);
        true
    }

    /// Judges a marker of `producer_id` at `producer_epoch` from `coordinator_epoch`'s
    /// coordinator: an older producer epoch is INVALID_PRODUCER_EPOCH, an older coordinator
    /// epoch TRANSACTION_COORDINATOR_FENCED (Kafka's `checkProducerEpoch` and
    /// `checkCoordinatorEpoch`).
    pub fn check_marker(
        &self,
        producer_id: ProducerId,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> MarkerCheck {
        let Some(entry) = self.producers.get(&producer_id) else {
            return MarkerCheck::Apply;
        };
        if producer_epoch < entry.epoch {
            return MarkerCheck::Reject(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return MarkerCheck::Reject(ErrorCode::TRANSACTION_COORDINATOR_FENCED);
        }
        MarkerCheck::Apply
    }

    /// Remembers a marker written: the producer's transaction here is closed, and the first
    /// offset it had is returned (`None` when none was open). Its epoch and coordinator epoch
    /// become the marker's (a marker may carry a bumped epoch: the coordinator fenced the
    /// producer).
    pub fn apply_marker(
        &mut self,
        producer_id: ProducerId,
        producer_epoch: i16,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Option<i64> {
        let entry = (self.producers)
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::new(producer_epoch, now_ms));
        if producer_epoch > entry.epoch {
            entry.epoch = producer_epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp_ms = entry.last_timestamp_ms.max(now_ms);
        entry.current_txn_first_offset.take()
    }

    /// Forgets producers idle for `expiration_ms` or longer, but never one with a transaction
    /// open here (Kafka's `isProducerExpired`); returns how many.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp_ms) < expiration_ms
        });
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

#[cfg(test)]
mod txn_tests {
    use super::*;
    use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};

    fn header(pid: i64, epoch: i16, seq: i32, transactional: bool) -> BatchHeader {
        let stamp = ProducerStamp {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            attributes: if transactional { TRANSACTIONAL_BIT } else { 0 },
        };
        let batch = build_stamped_batch(&[(None, Some(b"v"))], 0, stamp);
        BatchHeader::parse(&batch).unwrap()
    }

    /// Kafka's `ProducerAppendInfo`: a transactional batch opens the transaction, a plain
    /// batch while it is open is INVALID_TXN_STATE, and the marker closes it at the first
    /// offset it had.
    #[test]
    fn a_transaction_opens_with_its_first_batch_and_closes_with_its_marker() {
        let mut states = ProducerStates::default();
        let first = header(7, 0, 0, true);
        assert_eq!(states.check(&first), Check::Append);
        states.record(ProducerBatch::from_header_at(&first, 10), 1);
        let second = header(7, 0, 1, true);
        states.record(ProducerBatch::from_header_at(&second, 12), 2);
        assert_eq!(
            states.get(ProducerId(7)).unwrap().current_txn_first_offset,
            Some(10)
        );
        assert_eq!(
            states.check(&header(7, 0, 2, false)),
            Check::Reject(ErrorCode::INVALID_TXN_STATE)
        );
        assert_eq!(states.check_marker(ProducerId(7), 0, 3), MarkerCheck::Apply);
        assert_eq!(states.apply_marker(ProducerId(7), 0, 3, 3), Some(10));
        assert_eq!(
            states.get(ProducerId(7)).unwrap().current_txn_first_offset,
            None
        );
        assert_eq!(states.check(&header(7, 0, 2, false)), Check::Append);
        // A marker with no transaction open here ends none.
        assert_eq!(states.apply_marker(ProducerId(7), 0, 3, 4), None);
    }

    /// Markers from a fenced producer epoch or an older coordinator are refused; a bumped
    /// epoch (the coordinator fenced the producer) is taken and fences the producer's older
    /// batches.
    #[test]
    fn markers_are_checked_against_the_producer_and_coordinator_epochs() {
        let mut states = ProducerStates::default();
        states.record(ProducerBatch::from_header_at(&header(7, 2, 0, true), 0), 1);
        states.apply_marker(ProducerId(7), 2, 5, 1);
        assert_eq!(
            states.check_marker(ProducerId(7), 1, 5),
            MarkerCheck::Reject(ErrorCode::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(
            states.check_marker(ProducerId(7), 2, 4),
            MarkerCheck::Reject(ErrorCode::TRANSACTION_COORDINATOR_FENCED)
        );
        assert_eq!(
            states.check_marker(ProducerId(9), 0, 0),
            MarkerCheck::Apply,
            "unknown"
        );
        states.apply_marker(ProducerId(7), 3, 5, 2);
        assert_eq!(
            states.check(&header(7, 2, 1, true)),
            Check::Reject(ErrorCode::INVALID_PRODUCER_EPOCH)
        );
    }

    #[test]
    fn a_producer_with_an_open_transaction_never_expires() {
        let mut states = ProducerStates::default();
        states.record(ProducerBatch::from_header_at(&header(1, 0, 0, true), 0), 0);
        states.record(ProducerBatch::from_header_at(&header(2, 0, 0, false), 1), 0);
        assert_eq!(states.expire(1_000_000, 10), 1);
        assert!(states.get(ProducerId(1)).is_some() && states.get(ProducerId(2)).is_none());
        states.apply_marker(ProducerId(1), 0, 0, 0);
        assert_eq!(states.expire(1_000_000, 10), 1);
    }
}
