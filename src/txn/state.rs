//! A transactional id's states (Kafka's `TransactionState`), with the ids Kafka writes in
//! `__transaction_state` and the transitions Kafka's coordinator allows
//! (`TransactionState.validPreviousStates`).

/// Where a transactional id's current transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnState {
    /// No transaction open (after InitProducerId, before the first AddPartitions).
    Empty,
    /// Partitions added: the transaction is open.
    Ongoing,
    /// EndTxn(commit) written: markers are being written, the commit will complete.
    PrepareCommit,
    /// EndTxn(abort) or a timeout written: markers are being written.
    PrepareAbort,
    /// Every COMMIT marker written.
    CompleteCommit,
    /// Every ABORT marker written.
    CompleteAbort,
    /// The id expired: its record is about to be removed (a tombstone follows).
    Dead,
    /// An open transaction is being aborted because a newer producer of the id fenced it
    /// (in memory only: written as PrepareAbort).
    PrepareEpochFence,
}

impl TxnState {
    /// Every state, in id order.
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    /// The id Kafka writes for the state (`TransactionLogValue.TransactionStatus`).
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state of a stored id; `None` for an id no Kafka version writes.
    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|state| state.id() == id)
    }

    /// The name Kafka's admin APIs and tools show (DescribeTransactions, ListTransactions'
    /// state filter, `kafka-transactions.sh`).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Whether Kafka's coordinator moves an id from `self` to `next`
    /// (`TransactionState.VALID_PREVIOUS_STATES` read the other way round). Empty and
    /// Complete* → PrepareAbort belong to transaction version 2 (KIP-890 part 2: an EndTxn
    /// abort from a client unsure of the state), which the coordinator's own checks refuse
    /// while Rill speaks version 1 only.
    pub fn may_become(self, next: TxnState) -> bool {
        use TxnState::*;
        match next {
            Empty => matches!(self, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(self, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => self == Ongoing,
            PrepareAbort => matches!(
                self,
                Ongoing | PrepareEpochFence | Empty | CompleteCommit | CompleteAbort
            ),
            CompleteCommit => self == PrepareCommit,
            CompleteAbort => self == PrepareAbort,
            Dead => matches!(self, Empty | CompleteAbort | CompleteCommit),
            PrepareEpochFence => self == Ongoing,
        }
    }

    /// Whether a transaction is open or finishing: the id holds partitions whose markers are
    /// not all written.
    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            TxnState::Ongoing
                | TxnState::PrepareCommit
                | TxnState::PrepareAbort
                | TxnState::PrepareEpochFence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::TxnState::{self, *};

    #[test]
    fn ids_are_kafkas_and_read_back() {
        let ids: Vec<i8> = TxnState::ALL.iter().map(|s| s.id()).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6, 7]);
        for state in TxnState::ALL {
            assert_eq!(TxnState::from_id(state.id()), Some(state));
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(TxnState::from_id(-1), None);
    }

    /// Kafka's `validPreviousStates`, written out as the list of (from, to) pairs it allows.
    #[test]
    fn transitions_are_kafkas() {
        let allowed = [
            (Empty, Empty),
            (CompleteCommit, Empty),
            (CompleteAbort, Empty),
            (Ongoing, Ongoing),
            (Empty, Ongoing),
            (CompleteCommit, Ongoing),
            (CompleteAbort, Ongoing),
            (Ongoing, PrepareCommit),
            (Ongoing, PrepareAbort),
            (PrepareEpochFence, PrepareAbort),
            (Empty, PrepareAbort),
            (CompleteCommit, PrepareAbort),
            (CompleteAbort, PrepareAbort),
            (PrepareCommit, CompleteCommit),
            (PrepareAbort, CompleteAbort),
            (Empty, Dead),
            (CompleteAbort, Dead),
            (CompleteCommit, Dead),
            (Ongoing, PrepareEpochFence),
        ];
        for from in TxnState::ALL {
            for to in TxnState::ALL {
                assert_eq!(
                    from.may_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }
}
