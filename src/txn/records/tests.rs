use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn value(state: TxnState, partitions: &[(&str, &[i32])]) -> TxnLogValue {
    TxnLogValue {
        producer_id: 4000,
        producer_epoch: 3,
        timeout_ms: 60_000,
        state,
        partitions: (partitions.iter())
            .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
            .collect(),
        last_update_ms: 1_700_000_000_123,
        start_ms: 1_700_000_000_001,
    }
}

/// A key is `int16 0` then the id as a `string` (i16 length), byte for byte Kafka's.
#[test]
fn a_key_is_version_zero_and_the_id() {
    let bytes = encode_key("tx-1").unwrap();
    assert_eq!(bytes, [0, 0, 0, 4, b't', b'x', b'-', b'1']);
    assert_eq!(decode_key(&bytes).unwrap(), "tx-1");
    assert!(matches!(
        decode_key(&[0, 1, 0, 0]),
        Err(RecordError::UnknownVersion { version: 1, .. })
    ));
    assert!(matches!(
        decode_key(&[0, 0, 0, 1, b'a', 9]),
        Err(RecordError::TrailingBytes { left: 1, .. })
    ));
}

/// Version 0 of a value, written out by hand from the schema: producer id, epoch, timeout,
/// status, the partitions (topics with their ids), last update, start.
#[test]
fn an_ongoing_value_is_kafkas_version_zero() {
    let v = value(TxnState::Ongoing, &[("a", &[2, 0])]);
    let mut expected = vec![0, 0]; // version
    expected.extend(4000i64.to_be_bytes());
    expected.extend(3i16.to_be_bytes());
    expected.extend(60_000i32.to_be_bytes());
    expected.push(1); // Ongoing
    expected.extend(1i32.to_be_bytes()); // one topic
    expected.extend([0, 1, b'a']);
    expected.extend(2i32.to_be_bytes()); // two partition ids, in order
    expected.extend(0i32.to_be_bytes());
    expected.extend(2i32.to_be_bytes());
    expected.extend(1_700_000_000_123i64.to_be_bytes());
    expected.extend(1_700_000_000_001i64.to_be_bytes());
    assert_eq!(encode_value(&v).unwrap(), expected);
    assert_eq!(decode_value(&expected).unwrap(), v);
}

/// Kafka writes an Empty id's partitions as a null array (and refuses partitions there); null
/// reads back as none.
#[test]
fn an_empty_value_has_null_partitions() {
    let bytes = encode_value(&value(TxnState::Empty, &[])).unwrap();
    let at = 2 + 8 + 2 + 4 + 1;
    assert_eq!(bytes[at..at + 4], (-1i32).to_be_bytes());
    let back = decode_value(&bytes).unwrap();
    assert_eq!(back.state, TxnState::Empty);
    assert!(back.partitions.is_empty());
}

/// Version 1 is flexible: compact lengths and tagged fields, which are skipped (Kafka 4 writes
/// it with transaction version 2's previous/next producer ids).
#[test]
fn a_flexible_version_one_value_is_read_with_its_tags_skipped() {
    let mut bytes = vec![0, 1];
    bytes.extend(7i64.to_be_bytes());
    bytes.extend(1i16.to_be_bytes());
    bytes.extend(10_000i32.to_be_bytes());
    bytes.push(2); // PrepareCommit
    bytes.push(2); // compact array: one topic
    bytes.extend([2, b't']); // compact string "t"
    bytes.push(2); // compact array: one partition id
    bytes.extend(5i32.to_be_bytes());
    bytes.push(0); // the topic's tagged fields
    bytes.extend(11i64.to_be_bytes());
    bytes.extend(10i64.to_be_bytes());
    // Two tagged fields: PreviousProducerId (tag 0) and ClientTransactionVersion (tag 2).
    bytes.extend([2, 0, 8]);
    bytes.extend(6i64.to_be_bytes());
    bytes.extend([2, 2]);
    bytes.extend(2i16.to_be_bytes());
    let v = decode_value(&bytes).unwrap();
    assert_eq!(v.producer_id, 7);
    assert_eq!(v.state, TxnState::PrepareCommit);
    let expected: BTreeMap<String, BTreeSet<i32>> =
        [("t".to_string(), [5].into_iter().collect())].into();
    assert_eq!(v.partitions, expected);
    assert_eq!((v.last_update_ms, v.start_ms), (11, 10));
}

#[test]
fn unknown_versions_and_states_are_refused_and_the_in_memory_fence_is_never_written() {
    let mut bytes = encode_value(&value(TxnState::Ongoing, &[("a", &[0])])).unwrap();
    bytes[1] = 2;
    assert!(matches!(
        decode_value(&bytes),
        Err(RecordError::UnknownVersion { version: 2, .. })
    ));
    let mut bytes = encode_value(&value(TxnState::Ongoing, &[("a", &[0])])).unwrap();
    bytes[2 + 8 + 2 + 4] = 9;
    assert!(matches!(
        decode_value(&bytes),
        Err(RecordError::UnknownValue { value: 9, .. })
    ));
    assert!(matches!(
        encode_value(&value(TxnState::PrepareEpochFence, &[])),
        Err(RecordError::NotWritten { .. })
    ));
}

fn any_state() -> impl Strategy<Value = TxnState> {
    proptest::sample::select(TxnState::ALL.to_vec())
        .prop_filter("never written", |s| *s != TxnState::PrepareEpochFence)
}

proptest! {
    #[test]
    fn values_round_trip(
        producer_id in any::<i64>(),
        producer_epoch in any::<i16>(),
        timeout_ms in any::<i32>(),
        state in any_state(),
        partitions in prop::collection::btree_map(
            "[a-z]{1,5}",
            prop::collection::btree_set(0i32..100, 1..4),
            0..4,
        ),
        last_update_ms in any::<i64>(),
        start_ms in any::<i64>(),
    ) {
        let partitions = if state == TxnState::Empty { BTreeMap::new() } else { partitions };
        let v = TxnLogValue {
            producer_id, producer_epoch, timeout_ms, state, partitions, last_update_ms, start_ms,
        };
        prop_assert_eq!(decode_value(&encode_value(&v).unwrap()).unwrap(), v);
    }

    #[test]
    fn keys_round_trip(id in "\\PC{0,40}") {
        prop_assert_eq!(decode_key(&encode_key(&id).unwrap()).unwrap(), id);
    }

    /// Untrusted bytes: an error at worst, never a panic (and no allocation by an unchecked
    /// count: every count is bounded by the bytes left before anything is taken).
    #[test]
    fn any_bytes_decode_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_key(&bytes);
        let _ = decode_value(&bytes);
        let mut flexible = bytes.clone();
        if flexible.len() >= 2 {
            flexible[0] = 0;
            flexible[1] = 1;
        }
        let _ = decode_value(&flexible);
    }
}
