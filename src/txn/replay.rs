//! A coordinator's state rebuilt from its `__transaction_state` partition: the records in log
//! order, the last one of each transactional id winning and a tombstone (null value) removing
//! the id (Kafka's `TransactionStateManager.loadTransactionsForTxnTopicPartition`). What the
//! load leaves to do: transactions prepared but not completed get their markers written again
//! ([`Replayed::to_complete`]); open ones are left to the timeout.

use std::collections::BTreeMap;

use super::records::{decode_key, decode_value};
use super::state::TxnState;
use super::transitions::TxnMetadata;

/// The ids replayed so far, and how many records could not be read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub ids: BTreeMap<String, TxnMetadata>,
    /// Records skipped: a key or value that does not decode (a newer Kafka's, or damage the
    /// log's CRCs did not catch). Logged by the caller; the id keeps its earlier record.
    pub skipped: usize,
}

impl Replayed {
    /// Applies one record (`value` `None`: a tombstone).
    pub fn apply(&mut self, key: Option<&[u8]>, value: Option<&[u8]>) {
        let Some(Ok(id)) = key.map(decode_key) else {
            self.skipped += 1;
            return;
        };
        match value.map(decode_value) {
            None => {
                self.ids.remove(&id);
            }
            Some(Ok(value)) => {
                self.ids.insert(id, TxnMetadata::from_record(&value));
            }
            Some(Err(_)) => self.skipped += 1,
        }
    }

    /// The ids whose transaction was prepared (the end decided and written) but not
    /// completed: their markers are written again before the completion.
    pub fn to_complete(&self) -> impl Iterator<Item = (&String, &TxnMetadata)> {
        (self.ids.iter()).filter(|(_, meta)| {
            matches!(meta.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::records::{encode_key, encode_value, TxnLogValue};

    fn value(state: TxnState, epoch: i16) -> Vec<u8> {
        let partitions = match state {
            TxnState::Empty => Default::default(),
            _ => [("t".to_string(), [0].into_iter().collect())].into(),
        };
        encode_value(&TxnLogValue {
            producer_id: 5,
            producer_epoch: epoch,
            timeout_ms: 1000,
            state,
            partitions,
            last_update_ms: 1,
            start_ms: 1,
        })
        .unwrap()
    }

    #[test]
    fn the_last_record_of_each_id_wins_and_a_tombstone_removes_it() {
        let (a, b, c) = (
            encode_key("a").unwrap(),
            encode_key("b").unwrap(),
            encode_key("c").unwrap(),
        );
        let mut replay = Replayed::default();
        replay.apply(Some(&a), Some(&value(TxnState::Empty, 0)));
        replay.apply(Some(&a), Some(&value(TxnState::Ongoing, 0)));
        replay.apply(Some(&a), Some(&value(TxnState::PrepareCommit, 0)));
        replay.apply(Some(&b), Some(&value(TxnState::Ongoing, 3)));
        replay.apply(Some(&c), Some(&value(TxnState::Empty, 0)));
        replay.apply(Some(&c), None);
        replay.apply(Some(&b), Some(b"\x00\x00garbage"));
        replay.apply(None, Some(&value(TxnState::Empty, 0)));
        assert_eq!(replay.skipped, 2);
        assert_eq!(replay.ids.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            replay.ids["b"].state,
            TxnState::Ongoing,
            "kept its earlier record"
        );
        let due: Vec<&String> = replay.to_complete().map(|(id, _)| id).collect();
        assert_eq!(due, ["a"], "prepared, not completed: its markers again");
    }
}
