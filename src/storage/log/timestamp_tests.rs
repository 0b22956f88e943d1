//! Unit tests of the log's timestamp answers: ListOffsets by timestamp per record (Kafka's
//! `FileRecords.searchForTimestamp`), ListOffsets -3 (the record holding the max timestamp),
//! and `message.timestamp.type=LogAppendTime` stamping.
//!
//! The story behind them: a producer with `linger.ms` sends many records created at different
//! times in one batch. Rill used to answer a timestamp lookup with the batch's base offset, so
//! `offsets_for_times` inside such a batch rewound consumers to the batch start.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::storage::batch::{build_batch, build_batch_with_timestamps, compute_crc, validate_all};
use crate::storage::mem::MemStorage;

fn open(mem: &MemStorage, timestamp_type: TimestampType) -> Log {
    let config = LogConfig {
        index_interval_bytes: 64,
        retention_ms: None,
        timestamp_type,
        ..LogConfig::default()
    };
    Log::open(Arc::new(mem.clone()), Path::new("t-0"), config, 0).expect("open")
}

/// One batch, one record per timestamp.
fn batch_at(timestamps_ms: &[i64]) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..timestamps_ms.len())
        .map(|i| format!("value-{i}").into_bytes())
        .collect();
    let records: Vec<(Option<&[u8]>, &[u8])> =
        values.iter().map(|v| (None, v.as_slice())).collect();
    build_batch_with_timestamps(&records, timestamps_ms)
}

fn append(log: &mut Log, mut batch: Vec<u8>, now_ms: i64) -> AppendInfo {
    log.append(&mut batch, 0, now_ms).expect("append")
}

/// Rewrites the CRC after a test changed covered bytes: the batch is then valid as far as
/// the append path checks (headers and CRC), whatever its records hold.
fn fix_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Offsets 0-1 at 50, one ten-record batch (offsets 2-11) at 1_000, 2_000, ..., 10_000, then
/// offsets 12-13 at 20_000.
fn three_batches(mem: &MemStorage) -> Log {
    let mut log = open(mem, TimestampType::CreateTime);
    append(&mut log, batch_at(&[50, 50]), 0);
    let linger: Vec<i64> = (1..=10).map(|i| 1_000 * i).collect();
    append(&mut log, batch_at(&linger), 0);
    append(&mut log, batch_at(&[20_000, 20_000]), 0);
    log
}

#[test]
fn offset_for_timestamp_answers_the_first_record_at_or_after_the_target() {
    let mem = MemStorage::new();
    let log = three_batches(&mem);
    let find = |ms| log.offset_for_timestamp(ms).unwrap();
    assert_eq!(find(0), Some((0, 50)), "before the first record");
    assert_eq!(find(51), Some((2, 1_000)), "between batches");
    assert_eq!(find(3_500), Some((5, 4_000)), "inside a batch");
    assert_eq!(
        find(4_000),
        Some((5, 4_000)),
        "equal to a record's timestamp"
    );
    assert_eq!(find(10_000), Some((11, 10_000)), "the batch's last record");
    assert_eq!(find(10_001), Some((12, 20_000)), "past a batch's max");
    assert_eq!(find(20_001), None, "after the last record");
}

#[test]
fn offset_for_timestamp_survives_reopen_and_walks_large_batches() {
    let mem = MemStorage::new();
    let mut log = three_batches(&mem);
    // Records far larger than the walker's read buffer: only their first bytes are read.
    let big = vec![b'x'; 150_000];
    let records: Vec<(Option<&[u8]>, &[u8])> = vec![(None, &big), (None, &big), (None, b"z")];
    append(
        &mut log,
        build_batch_with_timestamps(&records, &[30_000, 31_000, 32_000]),
        0,
    );
    log.close().unwrap();
    let log = open(&mem, TimestampType::CreateTime);
    assert_eq!(log.offset_for_timestamp(7_001).unwrap(), Some((9, 8_000)));
    assert_eq!(
        log.offset_for_timestamp(31_500).unwrap(),
        Some((16, 32_000))
    );
}

#[test]
fn record_order_inside_a_batch_is_log_order_not_time_order() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::CreateTime);
    append(&mut log, batch_at(&[5_000, 1_000, 3_000]), 0);
    // Kafka answers the first record in log order whose timestamp reaches the target.
    assert_eq!(log.offset_for_timestamp(2_000).unwrap(), Some((0, 5_000)));
    assert_eq!(log.offset_for_timestamp(500).unwrap(), Some((0, 5_000)));
    assert_eq!(log.offset_for_timestamp(5_001).unwrap(), None);
}

#[test]
fn offset_for_timestamp_respects_a_log_start_inside_a_batch() {
    let mem = MemStorage::new();
    let mut log = three_batches(&mem);
    log.sync().unwrap();
    assert_eq!(log.delete_records_before(7, 0).unwrap(), 7);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((7, 6_000)));
    assert_eq!(log.offset_for_timestamp(8_500).unwrap(), Some((10, 9_000)));
}

#[test]
fn a_compressed_batch_answers_with_its_base_offset() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::CreateTime);
    append(&mut log, batch_at(&[10, 10]), 0);
    // The broker has no codec: a compressed batch's records cannot be walked, so the lookup
    // falls back to the whole batch (consumers skip the earlier records themselves).
    let mut gzip = batch_at(&[1_000, 2_000, 3_000]);
    gzip[22] |= 1;
    fix_crc(&mut gzip);
    append(&mut log, gzip, 0);
    assert_eq!(log.offset_for_timestamp(2_500).unwrap(), Some((2, 3_000)));
    assert_eq!(log.max_timestamp().unwrap(), Some((3_000, 2)));
}

#[test]
fn malformed_records_behind_a_valid_crc_fall_back_to_the_batch() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::CreateTime);
    let mut bad = batch_at(&[1_000, 2_000, 3_000]);
    bad[crate::storage::batch::HEADER_BYTES] = 0x01; // first record's length: -1
    fix_crc(&mut bad);
    append(&mut log, bad, 0);
    assert_eq!(log.offset_for_timestamp(2_500).unwrap(), Some((0, 3_000)));
    assert_eq!(log.max_timestamp().unwrap(), Some((3_000, 0)));
}

#[test]
fn max_timestamp_names_the_record_holding_it() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::CreateTime);
    assert_eq!(log.max_timestamp().unwrap(), None, "empty log");
    append(&mut log, batch_at(&[100, 200]), 0);
    append(&mut log, batch_at(&[1_000, 9_000, 3_000, 9_000]), 0);
    append(&mut log, batch_at(&[500]), 0);
    assert_eq!(log.max_timestamp().unwrap(), Some((9_000, 3)));
    log.close().unwrap();
    let log = open(&mem, TimestampType::CreateTime);
    assert_eq!(
        log.max_timestamp().unwrap(),
        Some((9_000, 3)),
        "after reopen"
    );
}

#[test]
fn max_timestamp_is_none_without_timestamps_and_some_at_zero() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::CreateTime);
    // Batches whose records carry no timestamp (-1, Kafka's NO_TIMESTAMP): nothing to answer.
    append(&mut log, batch_at(&[-1, -1]), 0);
    append(&mut log, batch_at(&[-1]), 0);
    assert_eq!(log.max_timestamp().unwrap(), None, "no timestamp carried");
    // Zero is a timestamp like any other.
    let zero_mem = MemStorage::new();
    let mut zero = open(&zero_mem, TimestampType::CreateTime);
    append(&mut zero, batch_at(&[-1]), 0);
    append(&mut zero, batch_at(&[0, 0]), 0);
    assert_eq!(zero.max_timestamp().unwrap(), Some((0, 1)), "largest is 0");
}

#[test]
fn log_append_time_stamps_each_batch_with_now() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::LogAppendTime);
    let two = [batch_at(&[10, 20]), build_batch(&[(None, b"c")], 30)].concat();
    let mut buf = two;
    let info = log.append(&mut buf, 0, 5_000).unwrap();
    assert_eq!(info.log_append_time_ms, 5_000);
    assert_eq!(
        (info.max_timestamp_ms, info.offset_of_max_timestamp),
        (5_000, 0)
    );
    let stored = log.read(0, 1 << 20).unwrap().bytes;
    assert_eq!(stored, buf, "the caller's buffer holds what was stored");
    let summary = validate_all(&stored, usize::MAX).expect("CRCs were recomputed");
    assert_eq!(summary.batch_count, 2);
    for item in crate::storage::batch::Batches::new(&stored, usize::MAX) {
        let (_, header) = item.unwrap();
        assert!(header.is_log_append_time());
        assert_eq!(header.max_timestamp_ms, 5_000);
    }
    // A CreateTime log leaves the producer's timestamps alone.
    let plain_mem = MemStorage::new();
    let mut plain = open(&plain_mem, TimestampType::CreateTime);
    let info = append(&mut plain, batch_at(&[10, 20]), 5_000);
    assert_eq!((info.log_append_time_ms, info.max_timestamp_ms), (-1, 20));
}

#[test]
fn log_append_time_drives_lookups_and_survives_reopen() {
    let mem = MemStorage::new();
    let mut log = open(&mem, TimestampType::LogAppendTime);
    // The producers' timestamps are an hour old; the broker's clock decides.
    append(&mut log, batch_at(&[1, 2, 3]), 10_000);
    append(&mut log, batch_at(&[4, 5]), 20_000);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 10_000)));
    assert_eq!(log.offset_for_timestamp(10_001).unwrap(), Some((3, 20_000)));
    assert_eq!(log.offset_for_timestamp(20_001).unwrap(), None);
    assert_eq!(log.max_timestamp().unwrap(), Some((20_000, 3)));
    log.sync().unwrap();
    drop(log);
    mem.crash(); // recovery rebuilds the indexes from the stamped headers
    let log = open(&mem, TimestampType::CreateTime);
    assert_eq!(log.offset_for_timestamp(10_001).unwrap(), Some((3, 20_000)));
}

#[test]
fn a_follower_keeps_the_leaders_stamps() {
    let leader_mem = MemStorage::new();
    let mut leader = open(&leader_mem, TimestampType::LogAppendTime);
    append(&mut leader, batch_at(&[1, 2]), 7_000);
    let fetched = leader.read(0, 1 << 20).unwrap().bytes;
    let follower_mem = MemStorage::new();
    let mut follower = open(&follower_mem, TimestampType::LogAppendTime);
    follower.append_as_follower(&fetched, 99_000).unwrap();
    assert_eq!(follower.read(0, 1 << 20).unwrap().bytes, fetched);
}
