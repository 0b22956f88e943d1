//! The records of `__transaction_state`, in Kafka's byte format so Kafka's tools read them and
//! a log Kafka wrote loads here (docs/log-format.md, "`__transaction_state` records", has the
//! byte diagrams).
//!
//! Kafka has no wire schema for these in the `kafka-protocol` crate; they are written here by
//! hand from Kafka's coordinator record schemas `TransactionLogKey` and `TransactionLogValue`
//! (transaction-coordinator's `common/message/`), with the primitive types of
//! [`crate::storage::schema`].
//!
//! A key is an `int16` version (0, the only one), then the transactional id as a `string`. A
//! value is an `int16` version, then the struct: version 0 is classic and is what Rill writes
//! (Kafka writes it too while transactions are at version 1); version 1 is flexible, read only,
//! and its tagged fields (the previous and next producer ids and the client's transaction
//! version, all of transaction version 2) are skipped. A null value is a tombstone: the id
//! expired.
//!
//! Decoding takes untrusted bytes: it never panics, never allocates by a count it has not
//! checked against the bytes left, and refuses bytes left over after the struct.

use std::collections::{BTreeMap, BTreeSet};

use super::state::TxnState;
use crate::storage::schema::{Reader, RecordError, Writer};

/// The only key version.
pub const KEY_VERSION: i16 = 0;
/// The value version written.
pub const VALUE_VERSION: i16 = 0;
/// The newest value version read (the first flexible one).
const LAST_VALUE_VERSION: i16 = 1;

/// `TransactionLogValue`: where a transactional id stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnLogValue {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// The partitions of the transaction, by topic (written as null when Empty, as Kafka
    /// does; null reads as none).
    pub partitions: BTreeMap<String, BTreeSet<i32>>,
    pub last_update_ms: i64,
    /// When the transaction's first partition was added; −1 when none is open.
    pub start_ms: i64,
}

/// The key of a transactional id's records.
pub fn encode_key(transactional_id: &str) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::new(KEY_VERSION);
    w.string(transactional_id, "transactional id")?;
    Ok(w.out)
}

/// The transactional id a key names.
pub fn decode_key(bytes: &[u8]) -> Result<String, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16("key version")?;
    if version != KEY_VERSION {
        return Err(RecordError::UnknownVersion {
            record: "TransactionLogKey",
            version,
        });
    }
    let id = r.string("transactional id")?;
    r.finish("TransactionLogKey")?;
    Ok(id)
}

/// A value, written as [`VALUE_VERSION`]. A state Kafka never writes (PrepareEpochFence, kept
/// in memory only) is refused.
pub fn encode_value(value: &TxnLogValue) -> Result<Vec<u8>, RecordError> {
    if value.state == TxnState::PrepareEpochFence {
        return Err(RecordError::NotWritten {
            what: "transaction state PrepareEpochFence",
        });
    }
    let mut w = Writer::new(VALUE_VERSION);
    w.i64(value.producer_id);
    w.i16(value.producer_epoch);
    w.i32(value.timeout_ms);
    w.i8(value.state.id());
    if value.state == TxnState::Empty {
        w.null_array("transaction partitions")?;
    } else {
        w.count(value.partitions.len(), "transaction partitions")?;
        for (topic, partitions) in &value.partitions {
            w.string(topic, "topic")?;
            w.count(partitions.len(), "partition ids")?;
            for &partition in partitions {
                w.i32(partition);
            }
            w.tagged_fields();
        }
    }
    w.i64(value.last_update_ms);
    w.i64(value.start_ms);
    w.tagged_fields();
    Ok(w.out)
}

/// A value of any version Kafka writes (0 and 1).
pub fn decode_value(bytes: &[u8]) -> Result<TxnLogValue, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16("value version")?;
    if !(0..=LAST_VALUE_VERSION).contains(&version) {
        return Err(RecordError::UnknownVersion {
            record: "TransactionLogValue",
            version,
        });
    }
    r.flexible = version >= 1;
    let producer_id = r.i64("producer id")?;
    let producer_epoch = r.i16("producer epoch")?;
    let timeout_ms = r.i32("transaction timeout")?;
    let status = r.i8("transaction status")?;
    let state = TxnState::from_id(status).ok_or(RecordError::UnknownValue {
        what: "transaction status",
        value: i64::from(status),
    })?;
    let mut partitions: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    if let Some(topics) = r.nullable_count("transaction partitions")? {
        for _ in 0..topics {
            let topic = r.string("topic")?;
            let count = r.count("partition ids")?;
            let ids = partitions.entry(topic).or_default();
            for _ in 0..count {
                ids.insert(r.i32("partition id")?);
            }
            r.tagged_fields()?;
        }
    }
    let last_update_ms = r.i64("last update timestamp")?;
    let start_ms = r.i64("start timestamp")?;
    r.tagged_fields()?;
    r.finish("TransactionLogValue")?;
    Ok(TxnLogValue {
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        last_update_ms,
        start_ms,
    })
}

#[cfg(test)]
mod tests;
