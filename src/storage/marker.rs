//! Transaction markers: the control batches that end a transaction on a partition (Kafka's
//! `EndTransactionMarker` and `ControlRecordType`; `docs/log-format.md`, "Transaction
//! markers"). A marker is a batch with the transactional and control bits set, the producer's
//! id and epoch, base sequence −1 and one record whose key says COMMIT or ABORT and whose value
//! carries the coordinator epoch that wrote it:
//!
//! ```text
//! key   | version int16 (0) | type int16 (0 ABORT, 1 COMMIT) |
//! value | version int16 (0) | coordinator_epoch int32 |
//! ```
//!
//! Control batches also carry KRaft's records (leader change, snapshot header and footer,
//! voters) in Kafka's metadata log; a partition log never holds them, and [`read_control`]
//! reports any type but ABORT and COMMIT as [`Control::Other`] for the caller to skip.

use thiserror::Error;

use super::batch::{
    build_stamped_batch, records, BatchError, BatchHeader, ProducerStamp, CONTROL_BIT,
    TRANSACTIONAL_BIT,
};

/// The control record key version written (Kafka's `CURRENT_CONTROL_RECORD_KEY_VERSION`).
const KEY_VERSION: i16 = 0;
/// The marker value version written (Kafka's `CURRENT_END_TXN_MARKER_VERSION`).
const VALUE_VERSION: i16 = 0;
const ABORT_TYPE: i16 = 0;
const COMMIT_TYPE: i16 = 1;

/// How a transaction ended on a partition, and which coordinator epoch said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// What a control batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Marker(Marker),
    /// A control type that is no transaction marker (KRaft's, or one from a newer Kafka).
    Other(i16),
}

/// Why a batch could not be read as a control batch.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MarkerError {
    #[error("not a control batch")]
    NotControl,
    #[error("a control batch without a record")]
    Empty,
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("control record key of {0} bytes (needs 4)")]
    ShortKey(usize),
    #[error("negative control record key version {0}")]
    NegativeVersion(i16),
    #[error("transaction marker value of {0} bytes (needs 6)")]
    ShortValue(usize),
}

/// A marker batch for `producer_id`/`producer_epoch`'s transaction, stamped `timestamp_ms`
/// (base offset 0 and leader epoch −1: the log assigns both when it appends it).
pub fn build_marker(
    producer_id: i64,
    producer_epoch: i16,
    marker: Marker,
    timestamp_ms: i64,
) -> Vec<u8> {
    let kind = if marker.commit {
        COMMIT_TYPE
    } else {
        ABORT_TYPE
    };
    let mut key = KEY_VERSION.to_be_bytes().to_vec();
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = VALUE_VERSION.to_be_bytes().to_vec();
    value.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    let stamp = ProducerStamp {
        producer_id,
        producer_epoch,
        base_sequence: -1,
        attributes: TRANSACTIONAL_BIT | CONTROL_BIT,
    };
    build_stamped_batch(&[(Some(&key), Some(&value))], timestamp_ms, stamp)
}

/// What the control batch at `batch[0]` holds, read from its first record as Kafka does (a
/// newer key or value version is read by the fields it shares with version 0). Untrusted bytes:
/// an error, never a panic.
pub fn read_control(batch: &[u8]) -> Result<Control, MarkerError> {
    let header = BatchHeader::parse(batch)?;
    if !header.is_control() {
        return Err(MarkerError::NotControl);
    }
    let record = records(batch).next().ok_or(MarkerError::Empty)??;
    let key = record.key.unwrap_or_default();
    let [v0, v1, t0, t1, ..] = *key else {
        return Err(MarkerError::ShortKey(key.len()));
    };
    let version = i16::from_be_bytes([v0, v1]);
    if version < 0 {
        return Err(MarkerError::NegativeVersion(version));
    }
    let kind = i16::from_be_bytes([t0, t1]);
    if kind != ABORT_TYPE && kind != COMMIT_TYPE {
        return Ok(Control::Other(kind));
    }
    let value = record.value.unwrap_or_default();
    let [_, _, e0, e1, e2, e3, ..] = *value else {
        return Err(MarkerError::ShortValue(value.len()));
    };
    Ok(Control::Marker(Marker {
        commit: kind == COMMIT_TYPE,
        coordinator_epoch: i32::from_be_bytes([e0, e1, e2, e3]),
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::storage::batch::{build_batch, validate_batch, RecordView};

    /// Byte for byte what Kafka's `MemoryRecords.withEndTransactionMarker` writes: the header's
    /// producer fields and bits, and the record's key and value.
    #[test]
    fn a_commit_marker_is_kafkas_control_batch() {
        let marker = Marker {
            commit: true,
            coordinator_epoch: 7,
        };
        let batch = build_marker(4000, 3, marker, 1_700_000_000_000);
        let header = validate_batch(&batch, 1 << 20).expect("a valid batch with its CRC");
        assert!(header.is_control() && header.is_transactional());
        assert_eq!((header.producer_id, header.producer_epoch), (4000, 3));
        assert_eq!(header.base_sequence, -1);
        assert_eq!((header.records_count, header.last_offset_delta), (1, 0));
        assert_eq!(header.compression(), 0);
        let views: Vec<RecordView<'_>> = records(&batch).map(Result::unwrap).collect();
        assert_eq!(views[0].key, Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(views[0].value, Some(&[0u8, 0, 0, 0, 0, 7][..]));
        assert_eq!(read_control(&batch), Ok(Control::Marker(marker)));
        let abort = Marker {
            commit: false,
            coordinator_epoch: 0,
        };
        assert_eq!(
            read_control(&build_marker(1, 0, abort, 0)),
            Ok(Control::Marker(abort))
        );
    }

    #[test]
    fn other_control_types_and_bad_records_are_told_apart() {
        let control = |key: &[u8], value: &[u8]| {
            let stamp = ProducerStamp {
                producer_id: 1,
                producer_epoch: 0,
                base_sequence: -1,
                attributes: TRANSACTIONAL_BIT | CONTROL_BIT,
            };
            build_stamped_batch(&[(Some(key), Some(value))], 0, stamp)
        };
        // KRaft's LeaderChange (type 2): not a marker, skipped by the caller.
        assert_eq!(
            read_control(&control(&[0, 0, 0, 2], &[])),
            Ok(Control::Other(2))
        );
        // A newer key version is read by its first fields.
        let newer = control(&[0, 1, 0, 0, 9], &[0, 0, 0, 0, 0, 5, 1]);
        let marker = Marker {
            commit: false,
            coordinator_epoch: 5,
        };
        assert_eq!(read_control(&newer), Ok(Control::Marker(marker)));
        assert_eq!(
            read_control(&control(&[0, 0, 0], &[])),
            Err(MarkerError::ShortKey(3))
        );
        assert_eq!(
            read_control(&control(&[0xff, 0xff, 0, 1], &[])),
            Err(MarkerError::NegativeVersion(-1))
        );
        assert_eq!(
            read_control(&control(&[0, 0, 0, 1], &[0, 0, 0])),
            Err(MarkerError::ShortValue(3))
        );
        assert_eq!(
            read_control(&build_batch(&[(None, b"v")], 0)),
            Err(MarkerError::NotControl)
        );
    }

    proptest! {
        #[test]
        fn markers_round_trip(
            pid in any::<i64>(), epoch in any::<i16>(), commit in any::<bool>(),
            coordinator_epoch in any::<i32>(), ts in 0i64..i64::MAX / 2,
        ) {
            let marker = Marker { commit, coordinator_epoch };
            let batch = build_marker(pid, epoch, marker, ts);
            prop_assert!(validate_batch(&batch, 1 << 20).is_ok());
            prop_assert_eq!(read_control(&batch), Ok(Control::Marker(marker)));
        }

        /// Untrusted bytes: an error at worst, never a panic.
        #[test]
        fn any_bytes_read_without_panicking(
            bytes in prop::collection::vec(any::<u8>(), 0..120),
            tail in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let _ = read_control(&bytes);
            // A marker's header (the control bit set) over any record bytes.
            let marker = Marker { commit: true, coordinator_epoch: 1 };
            let mut batch = build_marker(1, 0, marker, 0);
            batch.truncate(crate::storage::batch::HEADER_BYTES);
            batch.extend_from_slice(&tail);
            let _ = read_control(&batch);
        }
    }
}
