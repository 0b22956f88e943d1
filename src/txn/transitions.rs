//! What the transaction coordinator decides for each request about one transactional id, as
//! pure functions of the id's metadata (Kafka's `TransactionCoordinator.handleInitProducerId`,
//! `handleAddPartitionsToTransaction`, `endTransaction` and `abortTimedOutTransactions`, with
//! `TransactionMetadata`'s `prepare…` transitions; transaction version 1, the one every client
//! Rill supports speaks).
//!
//! A decision is either an answer with nothing to write, or new metadata to write to
//! `__transaction_state`: the coordinator answers (and takes the new metadata as current) only
//! once that write is acknowledged. While a write is in flight every request for the id is
//! CONCURRENT_TRANSACTIONS (the caller checks that before asking here).

use std::collections::{BTreeMap, BTreeSet};

use super::records::TxnLogValue;
use super::state::TxnState;
use crate::types::{ErrorCode, TopicPartition};

/// No producer epoch yet (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
pub const NO_EPOCH: i16 = -1;

/// Kafka's `TransactionMetadata.isEpochExhausted`: the last epochs are kept for fencing, so
/// one that reached `i16::MAX - 1` makes the next InitProducerId rotate to a new producer id.
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// A transactional id's metadata (Kafka's `TransactionMetadata`, without the pending state,
/// which the caller keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub producer_id: i64,
    /// The producer id before the last rotation (KIP-360: a retry of the InitProducerId that
    /// rotated is recognised), −1 when none.
    pub last_producer_id: i64,
    pub epoch: i16,
    /// The epoch before the last bump by InitProducerId, when the producer asked for it
    /// (KIP-360: a retried bump answers the same epoch), else [`NO_EPOCH`].
    pub last_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeMap<String, BTreeSet<i32>>,
    /// When the open transaction's first partition was added; −1 when none is open.
    pub start_ms: i64,
    pub last_update_ms: i64,
}

impl TxnMetadata {
    /// A new id: Empty, with no epoch yet (the first InitProducerId bumps it to 0).
    pub fn fresh(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            producer_id,
            last_producer_id: -1,
            epoch: NO_EPOCH,
            last_epoch: NO_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeMap::new(),
            start_ms: -1,
            last_update_ms: now_ms,
        }
    }

    /// The record written for it (the fields `__transaction_state` keeps).
    pub fn to_record(&self) -> TxnLogValue {
        TxnLogValue {
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
            timeout_ms: self.timeout_ms,
            state: self.state,
            partitions: self.partitions.clone(),
            last_update_ms: self.last_update_ms,
            start_ms: self.start_ms,
        }
    }

    /// The metadata a record restores (a load replays the last record of each id; the fields
    /// only memory had are unknown then, as in Kafka).
    pub fn from_record(value: &TxnLogValue) -> Self {
        Self {
            producer_id: value.producer_id,
            last_producer_id: -1,
            epoch: value.producer_epoch,
            last_epoch: NO_EPOCH,
            timeout_ms: value.timeout_ms,
            state: value.state,
            partitions: value.partitions.clone(),
            start_ms: value.start_ms,
            last_update_ms: value.last_update_ms,
        }
    }

    fn with(&self, state: TxnState, now_ms: i64) -> Self {
        Self {
            state,
            last_update_ms: now_ms,
            ..self.clone()
        }
    }
}

/// What InitProducerId does with an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitDecision {
    /// Write this metadata (Empty, the new epoch or producer id), then answer with its
    /// producer id and epoch.
    Write(TxnMetadata),
    /// A transaction is open: abort it under a bumped epoch (this PrepareAbort metadata, then
    /// its markers), and answer CONCURRENT_TRANSACTIONS; the client's retry bumps again
    /// (Kafka's PrepareEpochFence).
    FenceOpen(TxnMetadata),
}

/// InitProducerId for a transactional id. `current` is `None` for an id never seen (it is
/// created with `new_producer_id()`); `expected` is the producer's own (id, epoch) when it
/// asks to bump (KIP-360, v3+). `new_producer_id` is called only when a new id is needed.
pub fn init_producer_id(
    current: Option<&TxnMetadata>,
    timeout_ms: i32,
    max_timeout_ms: i32,
    expected: Option<(i64, i16)>,
    now_ms: i64,
    new_producer_id: &mut dyn FnMut() -> i64,
) -> Result<InitDecision, ErrorCode> {
    if timeout_ms <= 0 || timeout_ms > max_timeout_ms {
        return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
    }
    let meta = match current {
        Some(meta) => meta.clone(),
        None => TxnMetadata::fresh(new_producer_id(), timeout_ms, now_ms),
    };
    // Kafka's isValidProducerId: a brand-new id, the current producer id, or the previous one
    // with an exhausted epoch (a retry of the rotation).
    let valid = |(id, epoch): (i64, i16)| {
        meta.epoch == NO_EPOCH
            || id == meta.producer_id
            || (id == meta.last_producer_id && is_epoch_exhausted(epoch))
    };
    if !expected.is_none_or(valid) {
        return Err(ErrorCode::PRODUCER_FENCED);
    }
    match meta.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
            let rotate = is_epoch_exhausted(meta.epoch)
                && expected.is_none_or(|(_, epoch)| epoch == meta.epoch);
            let mut next = TxnMetadata {
                timeout_ms,
                partitions: BTreeMap::new(),
                start_ms: -1,
                ..meta.with(TxnState::Empty, now_ms)
            };
            if rotate {
                next.last_producer_id = meta.producer_id;
                next.producer_id = new_producer_id();
                next.epoch = 0;
                next.last_epoch = if expected.is_some() {
                    meta.epoch
                } else {
                    NO_EPOCH
                };
                return Ok(InitDecision::Write(next));
            }
            let bumped = meta.epoch.saturating_add(1);
            let (epoch, last_epoch) = match expected {
                None => (bumped, NO_EPOCH),
                Some((_, asked)) if meta.epoch == NO_EPOCH || asked == meta.epoch => {
                    (bumped, meta.epoch)
                }
                // A retry of a bump whose answer was lost: the same epoch again.
                Some((_, asked)) if asked == meta.last_epoch => (meta.epoch, meta.last_epoch),
                Some(_) => return Err(ErrorCode::PRODUCER_FENCED),
            };
            next.epoch = epoch;
            next.last_epoch = last_epoch;
            Ok(InitDecision::Write(next))
        }
        TxnState::Ongoing => {
            let mut fenced = meta.with(TxnState::PrepareAbort, now_ms);
            fenced.epoch = meta.epoch.saturating_add(1).min(i16::MAX);
            fenced.last_epoch = NO_EPOCH;
            Ok(InitDecision::FenceOpen(fenced))
        }
        // Never stored as current: a load never yields them, and the caller drops Dead ids.
        TxnState::Dead | TxnState::PrepareEpochFence => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
    }
}

/// [`check_producer`] of an id that may be unknown (INVALID_PRODUCER_ID_MAPPING).
pub fn check_known_producer(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
) -> Result<(), ErrorCode> {
    let meta = current.ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
    check_producer(meta, producer_id, epoch)
}

/// Checks a client's (producer id, epoch) against the id's (AddPartitionsToTxn,
/// AddOffsetsToTxn, EndTxn): another producer id is INVALID_PRODUCER_ID_MAPPING, another
/// epoch PRODUCER_FENCED.
fn check_producer(meta: &TxnMetadata, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
    if producer_id != meta.producer_id {
        return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
    }
    if epoch != meta.epoch {
        return Err(ErrorCode::PRODUCER_FENCED);
    }
    Ok(())
}

/// AddPartitionsToTxn (and AddOffsetsToTxn, whose partition is the group's
/// `__consumer_offsets` partition): `None` means nothing to write (they are in the open
/// transaction already); else the Ongoing metadata to write. An unknown id is
/// INVALID_PRODUCER_ID_MAPPING.
pub fn add_partitions(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    partitions: &BTreeMap<String, BTreeSet<i32>>,
    now_ms: i64,
) -> Result<Option<TxnMetadata>, ErrorCode> {
    let meta = current.ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
    check_producer(meta, producer_id, epoch)?;
    match meta.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort => {
            return Err(ErrorCode::CONCURRENT_TRANSACTIONS)
        }
        TxnState::Dead | TxnState::PrepareEpochFence => {
            return Err(ErrorCode::CONCURRENT_TRANSACTIONS)
        }
        TxnState::Ongoing
        | TxnState::Empty
        | TxnState::CompleteCommit
        | TxnState::CompleteAbort => {}
    }
    let already = |(topic, ids): (&String, &BTreeSet<i32>)| {
        (meta.partitions.get(topic)).is_some_and(|held| ids.is_subset(held))
    };
    if meta.state == TxnState::Ongoing && partitions.iter().all(already) {
        return Ok(None);
    }
    let mut next = meta.with(TxnState::Ongoing, now_ms);
    if meta.state != TxnState::Ongoing {
        next.partitions.clear();
        next.start_ms = now_ms;
    }
    for (topic, ids) in partitions {
        next.partitions
            .entry(topic.clone())
            .or_default()
            .extend(ids);
    }
    Ok(Some(next))
}

/// EndTxn from the client: `None` means answer NONE with nothing to write (a retry of an end
/// already complete); else the PrepareCommit/PrepareAbort metadata to write, answered NONE
/// once written (the markers follow). Kafka's rules: a retry of an end still being written is
/// CONCURRENT_TRANSACTIONS, the other end or no open transaction INVALID_TXN_STATE.
pub fn end_txn(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    now_ms: i64,
) -> Result<Option<TxnMetadata>, ErrorCode> {
    let meta = current.ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
    check_producer(meta, producer_id, epoch)?;
    let same = |done_commit: bool| done_commit == commit;
    match meta.state {
        TxnState::Ongoing => {
            let next = if commit {
                TxnState::PrepareCommit
            } else {
                TxnState::PrepareAbort
            };
            Ok(Some(meta.with(next, now_ms)))
        }
        TxnState::CompleteCommit if same(true) => Ok(None),
        TxnState::CompleteAbort if same(false) => Ok(None),
        TxnState::PrepareCommit if same(true) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        TxnState::PrepareAbort if same(false) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        TxnState::Dead | TxnState::PrepareEpochFence => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
}

/// KIP-890 part 1's question from a partition leader: is `tp` in the open transaction of
/// this producer id and epoch? NONE if so; a foreign producer INVALID_PRODUCER_ID_MAPPING,
/// another epoch PRODUCER_FENCED, a transaction ending CONCURRENT_TRANSACTIONS (the write
/// is asked again and then finds it ended), and anything else (no transaction open, or `tp`
/// not in it: a write late from an earlier transaction) INVALID_TXN_STATE.
pub fn verify(
    current: Option<&TxnMetadata>,
    producer_id: i64,
    epoch: i16,
    tp: &TopicPartition,
) -> ErrorCode {
    if let Err(code) = check_known_producer(current, producer_id, epoch) {
        return code;
    }
    let Some(meta) = current else {
        return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
    };
    let added = (meta.partitions.get(&tp.topic)).is_some_and(|ids| ids.contains(&tp.partition));
    match meta.state {
        TxnState::Ongoing if added => ErrorCode::NONE,
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
            ErrorCode::CONCURRENT_TRANSACTIONS
        }
        _ => ErrorCode::INVALID_TXN_STATE,
    }
}

/// The abort of an open transaction that outlived its timeout, under a bumped epoch so the
/// zombie producer's later writes are fenced at every partition the markers reach (Kafka's
/// `abortTimedOutTransactions` through `prepareFenceProducerEpoch`). `None` when the id has
/// no open transaction past its timeout.
pub fn abort_timed_out(meta: &TxnMetadata, now_ms: i64) -> Option<TxnMetadata> {
    let expired = meta.start_ms.saturating_add(i64::from(meta.timeout_ms)) < now_ms;
    if meta.state != TxnState::Ongoing || !expired {
        return None;
    }
    let mut next = meta.with(TxnState::PrepareAbort, now_ms);
    // An epoch at the very top is not bumped (Kafka logs it and aborts with it).
    next.epoch = meta.epoch.checked_add(1).unwrap_or(meta.epoch);
    next.last_epoch = NO_EPOCH;
    Some(next)
}

/// Every marker is written: CompleteCommit or CompleteAbort, with no partitions.
pub fn complete(meta: &TxnMetadata, now_ms: i64) -> Option<TxnMetadata> {
    let done = match meta.state {
        TxnState::PrepareCommit => TxnState::CompleteCommit,
        TxnState::PrepareAbort => TxnState::CompleteAbort,
        _ => return None,
    };
    let mut next = meta.with(done, now_ms);
    next.partitions.clear();
    Some(next)
}

#[cfg(test)]
mod tests;
