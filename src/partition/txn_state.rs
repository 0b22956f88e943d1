//! One partition's transactions (issue 15): which producers have a transaction open here, the
//! transactions completed whose marker is not yet replicated, and from them the **last stable
//! offset** (Kafka's `ProducerStateManager` ongoing/unreplicated transactions and
//! `firstUnstableOffset`).
//!
//! The LSO is **exclusive**: `read_committed` consumers see offsets strictly below it. It is
//! the first offset of the earliest transaction not yet decided and replicated (open, or
//! completed with its marker at or above the high watermark), and never above the high
//! watermark. An ABORT gives the aborted-transaction index its entry
//! ([`TxnState::aborted_entry`]).
//!
//! Pure state: the replica feeds it every transactional batch and marker it appends (as
//! leader and as follower, so a new leader knows the open transactions), and rebuilds it with
//! the producer state at open and after a truncation. The high watermark is read where the LSO
//! is asked for (a completed transaction holds the LSO while its marker is at or above it), and
//! the housekeeping tick forgets the completed transactions below it.

use std::collections::BTreeMap;

use crate::storage::log::txn_index::AbortedTxn;
use crate::types::ProducerId;

/// A transaction a marker ended on this partition (Kafka's `CompletedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: ProducerId,
    /// Its first batch here.
    pub first_offset: i64,
    /// The marker's offset.
    pub last_offset: i64,
    pub aborted: bool,
}

/// The open and not-yet-replicated transactions of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnState {
    /// Producer → first offset of its open transaction.
    open: BTreeMap<ProducerId, i64>,
    /// First offset → producer, for the earliest open transaction.
    open_by_first: BTreeMap<i64, ProducerId>,
    /// Completed transactions whose marker is at or above the high watermark, by first offset.
    unreplicated: BTreeMap<i64, CompletedTxn>,
}

impl TxnState {
    /// A transactional batch of `producer_id` appended at `first_offset`: it opens the
    /// producer's transaction here unless one is open already.
    pub fn on_transactional_batch(&mut self, producer_id: ProducerId, first_offset: i64) {
        if self.open.contains_key(&producer_id) {
            return;
        }
        self.open.insert(producer_id, first_offset);
        self.open_by_first.insert(first_offset, producer_id);
    }

    /// The first offset of `producer_id`'s open transaction here, if any.
    pub fn open_first_offset(&self, producer_id: ProducerId) -> Option<i64> {
        self.open.get(&producer_id).copied()
    }

    /// A marker of `producer_id` appended at `marker_offset`: the transaction it ends, kept as
    /// unreplicated until the high watermark passes the marker (`high_watermark` is the one at
    /// the append: a marker already below it is replicated at once). `None` when no
    /// transaction of the producer was open here (Kafka writes markers to every partition of
    /// a transaction; one it wrote nothing to neither holds the LSO nor is indexed, as Kafka's
    /// `appendEndTxnMarker` emits no `CompletedTxn` for it).
    pub fn on_marker(
        &mut self,
        producer_id: ProducerId,
        marker_offset: i64,
        aborted: bool,
        high_watermark: i64,
    ) -> Option<CompletedTxn> {
        let completed = self.ending(producer_id, marker_offset, aborted)?;
        self.open.remove(&producer_id);
        self.open_by_first.remove(&completed.first_offset);
        if marker_offset >= high_watermark {
            self.unreplicated.insert(completed.first_offset, completed);
        }
        Some(completed)
    }

    /// The transaction a marker of `producer_id` at `marker_offset` ends, without ending it:
    /// its aborted-index entry is written first, so the LSO never passes an abort the index
    /// does not hold (seed 156: a full disk failed the index write after the marker's).
    pub fn ending(
        &self,
        producer_id: ProducerId,
        marker_offset: i64,
        aborted: bool,
    ) -> Option<CompletedTxn> {
        let first_offset = *self.open.get(&producer_id)?;
        Some(CompletedTxn {
            producer_id,
            first_offset,
            last_offset: marker_offset,
            aborted,
        })
    }

    /// Completed transactions whose marker is below `high_watermark` are replicated and no
    /// longer hold the LSO: forget them (Kafka's `onHighWatermarkUpdated`).
    pub fn on_high_watermark(&mut self, high_watermark: i64) {
        self.unreplicated
            .retain(|_, completed| completed.last_offset >= high_watermark);
    }

    /// The first offset not yet stable under `high_watermark`: the earliest open transaction's
    /// first offset, or a completed one's whose marker is not below it (Kafka's
    /// `firstUnstableOffset`).
    pub fn first_unstable_offset(&self, high_watermark: i64) -> Option<i64> {
        let open = self.open_by_first.keys().next().copied();
        let unreplicated = (self.unreplicated.values())
            .find(|completed| completed.last_offset >= high_watermark)
            .map(|completed| completed.first_offset);
        match (open, unreplicated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The last stable offset (exclusive) under `high_watermark`: never above it.
    pub fn last_stable_offset(&self, high_watermark: i64) -> i64 {
        // The canary `LsoInclusive` takes the LSO one past the first open offset.
        let past = i64::from(crate::faults::canary(crate::faults::Canary::LsoInclusive));
        let lso = (self.first_unstable_offset(high_watermark))
            .map_or(high_watermark, |first| (first + past).min(high_watermark));
        debug_assert!(
            lso <= high_watermark,
            "LSO {lso} above the HW {high_watermark}"
        );
        lso
    }

    /// The open transactions as the producer state rebuilt them (producer, first offset), and
    /// the markers the rebuild replayed after its snapshot (kept until the HW passes them).
    pub fn rebuilt(
        open: impl IntoIterator<Item = (ProducerId, i64)>,
        completed: impl IntoIterator<Item = CompletedTxn>,
    ) -> Self {
        let mut txns = TxnState::default();
        for completed in completed {
            txns.unreplicated.insert(completed.first_offset, completed);
        }
        for (producer_id, first_offset) in open {
            txns.on_transactional_batch(producer_id, first_offset);
        }
        txns
    }

    /// The aborted-transaction index entry of an aborted `completed` (after [`Self::on_marker`]):
    /// its stable offset is the first offset of the earliest transaction still open here, or
    /// just past the marker when none is (Kafka's `lastStableOffset(completedTxn)`).
    pub fn aborted_entry(&self, completed: &CompletedTxn) -> AbortedTxn {
        let next_open = (self.open_by_first.iter())
            .find(|(_, producer)| **producer != completed.producer_id)
            .map(|(first, _)| *first);
        AbortedTxn {
            producer_id: completed.producer_id.0,
            first_offset: completed.first_offset,
            last_offset: completed.last_offset,
            last_stable_offset: next_open.unwrap_or(completed.last_offset + 1),
        }
    }

    /// How many transactions are open here.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const A: ProducerId = ProducerId(1);
    const B: ProducerId = ProducerId(2);

    #[test]
    fn the_lso_stops_at_the_earliest_open_transaction_and_moves_once_its_marker_is_replicated() {
        let mut txns = TxnState::default();
        assert_eq!(txns.last_stable_offset(10), 10, "none open: the HW");
        let rebuilt = TxnState::rebuilt(
            [(B, 6)],
            [CompletedTxn {
                producer_id: A,
                first_offset: 2,
                last_offset: 4,
                aborted: false,
            }],
        );
        assert_eq!(
            rebuilt.last_stable_offset(4),
            2,
            "A's marker is not below the HW yet"
        );
        assert_eq!(
            rebuilt.last_stable_offset(5),
            5,
            "it is now; B holds from 6"
        );
        assert_eq!(rebuilt.last_stable_offset(9), 6);
        txns.on_transactional_batch(A, 3);
        txns.on_transactional_batch(B, 5);
        txns.on_transactional_batch(A, 6);
        assert_eq!(txns.open_first_offset(A), Some(3));
        assert_eq!(
            txns.last_stable_offset(10),
            3,
            "exclusive: offset 3 is not stable"
        );
        assert_eq!(txns.last_stable_offset(2), 2, "never above the HW");
        let completed = txns.on_marker(A, 7, false, 7).unwrap();
        assert_eq!((completed.first_offset, completed.last_offset), (3, 7));
        assert_eq!(
            txns.last_stable_offset(7),
            3,
            "the marker is not below the HW yet"
        );
        assert_eq!(txns.last_stable_offset(8), 5, "it is now");
        txns.on_high_watermark(8);
        assert_eq!(
            txns.last_stable_offset(8),
            5,
            "B's transaction is still open"
        );
        txns.on_marker(B, 8, true, 9);
        assert_eq!(
            txns.last_stable_offset(9),
            9,
            "B's marker is below the HW already"
        );
        assert_eq!(txns.open_count(), 0);
    }

    #[test]
    fn a_marker_without_batches_here_completes_nothing() {
        let mut txns = TxnState::default();
        assert_eq!(txns.on_marker(A, 4, true, 0), None);
        assert_eq!(txns.last_stable_offset(4), 4, "nothing holds the LSO");
        txns.on_transactional_batch(A, 5);
        let completed = txns.on_marker(A, 6, true, 0).unwrap();
        assert_eq!((completed.first_offset, completed.last_offset), (5, 6));
        assert_eq!(txns.last_stable_offset(6), 5, "its marker is at the HW");
        assert_eq!(txns.last_stable_offset(10), 10, "below it: replicated");
        txns.on_high_watermark(7);
        assert_eq!(txns.first_unstable_offset(0), None, "forgotten");
    }

    /// Kafka's `lastStableOffset(completedTxn)`: the earliest other open transaction, or just
    /// past the marker.
    #[test]
    fn an_abort_indexes_the_stable_offset_after_it() {
        let mut txns = TxnState::default();
        txns.on_transactional_batch(A, 0);
        txns.on_transactional_batch(B, 2);
        let completed = txns.on_marker(A, 4, true, 0).unwrap();
        assert_eq!(
            txns.aborted_entry(&completed),
            AbortedTxn {
                producer_id: 1,
                first_offset: 0,
                last_offset: 4,
                last_stable_offset: 2
            }
        );
        let completed = txns.on_marker(B, 5, true, 0).unwrap();
        assert_eq!(txns.aborted_entry(&completed).last_stable_offset, 6);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Data,
        Txn(u8),
        Marker(u8, bool),
        Hw(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Data),
            (0u8..3).prop_map(Op::Txn),
            (0u8..3, any::<bool>()).prop_map(|(p, a)| Op::Marker(p, a)),
            (0u8..=100).prop_map(Op::Hw),
        ]
    }

    proptest! {
        /// Against a model that keeps every batch: the LSO is the HW, or the first offset of
        /// the earliest transaction whose marker is missing or not below the HW, if smaller.
        #[test]
        fn the_lso_matches_a_model_of_every_batch(ops in prop::collection::vec(op(), 0..60)) {
            let mut txns = TxnState::default();
            // Model: (producer, first offset, marker offset if ended).
            let mut model: Vec<(u8, i64, Option<i64>)> = Vec::new();
            let (mut end, mut hw) = (0i64, 0i64);
            for op in ops {
                match op {
                    Op::Data => end += 1,
                    Op::Txn(p) => {
                        txns.on_transactional_batch(ProducerId(i64::from(p)), end);
                        if !model.iter().any(|(q, _, m)| *q == p && m.is_none()) {
                            model.push((p, end, None));
                        }
                        end += 1;
                    }
                    Op::Marker(p, aborted) => {
                        txns.on_marker(ProducerId(i64::from(p)), end, aborted, hw);
                        // A marker with nothing open here completes nothing.
                        if let Some(open) = model.iter_mut().find(|(q, _, m)| *q == p && m.is_none()) {
                            open.2 = Some(end);
                        }
                        end += 1;
                    }
                    Op::Hw(percent) => {
                        // Only ever forward, up to the log end.
                        hw = hw.max(end * i64::from(percent) / 100);
                        txns.on_high_watermark(hw);
                    }
                }
                let unstable = (model.iter())
                    .filter(|(_, _, marker)| marker.is_none_or(|m| m >= hw))
                    .map(|(_, first, _)| *first)
                    .min();
                let expected = unstable.map_or(hw, |first| first.min(hw));
                prop_assert_eq!(txns.last_stable_offset(hw), expected);
            }
        }
    }
}
