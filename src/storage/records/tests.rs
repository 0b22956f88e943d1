//! The record walk against hand-built batches: valid ones of every codec pass, and each field
//! broken on its own is refused with Kafka's code.

use std::io::Write;

use super::RecordsErrorKind;
use super::*;

const CORRUPT_MESSAGE: RecordsErrorKind = RecordsErrorKind::Corrupt;
const INVALID_RECORD: RecordsErrorKind = RecordsErrorKind::Invalid;
const MESSAGE_TOO_LARGE: RecordsErrorKind = RecordsErrorKind::TooLarge;
use crate::storage::batch::{build_batch_with_timestamps, validate_batch, BatchHeader};

const T0: i64 = 1_700_000_000_000;
const BIG: u64 = 1 << 30;

fn zz(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint(out: &mut Vec<u8>, v: i64) {
    let mut u = zz(v);
    while u >= 0x80 {
        out.push(u as u8 | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// One record's fields, encodable with any of them broken.
#[derive(Clone)]
struct Rec {
    length_adjust: i64,
    ts_delta: i64,
    offset_delta: i64,
    key: Option<Vec<u8>>,
    key_len_override: Option<i64>,
    value: Vec<u8>,
    headers: Vec<(Option<Vec<u8>>, Option<Vec<u8>>)>,
    header_count_override: Option<i64>,
}

fn rec(index: i64) -> Rec {
    Rec {
        length_adjust: 0,
        ts_delta: index,
        offset_delta: index,
        key: Some(b"k".to_vec()),
        key_len_override: None,
        value: format!("value-{index}").into_bytes(),
        headers: vec![
            (Some(b"h".to_vec()), Some(b"v".to_vec())),
            (Some(vec![]), None),
        ],
        header_count_override: None,
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &Option<Vec<u8>>) {
    match b {
        None => varint(out, -1),
        Some(b) => {
            varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

fn encode(r: &Rec) -> Vec<u8> {
    let mut body = vec![0u8];
    varint(&mut body, r.ts_delta);
    varint(&mut body, r.offset_delta);
    match r.key_len_override {
        Some(n) => varint(&mut body, n),
        None => put_bytes(&mut body, &r.key),
    }
    put_bytes(&mut body, &Some(r.value.clone()));
    varint(
        &mut body,
        r.header_count_override.unwrap_or(r.headers.len() as i64),
    );
    for (k, v) in &r.headers {
        put_bytes(&mut body, k);
        put_bytes(&mut body, v);
    }
    let mut out = Vec::new();
    varint(&mut out, body.len() as i64 + r.length_adjust);
    out.extend_from_slice(&body);
    out
}

/// A batch whose records section is `section` (compressed with `codec` if nonzero), claiming
/// `count` records, with a correct CRC.
fn batch_with(section: &[u8], count: i32, codec: u8) -> Vec<u8> {
    batch_with_payload(&compress(codec, section), count, codec)
}

/// A batch of `count` records whose records section is `payload`, already compressed.
fn batch_with_payload(payload: &[u8], count: i32, codec: u8) -> Vec<u8> {
    let mut b = build_batch_with_timestamps(&[(None, b"x")], &[T0]);
    b.truncate(HEADER_BYTES);
    b.extend_from_slice(payload);
    let batch_length = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&batch_length.to_be_bytes());
    b[21..23].copy_from_slice(&(codec as i16).to_be_bytes());
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    let max = T0 + count as i64 - 1;
    b[35..43].copy_from_slice(&max.to_be_bytes());
    fix_crc(&mut b);
    b
}

fn fix_crc(b: &mut [u8]) {
    let crc = batch::compute_crc(b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

fn compress(codec: u8, data: &[u8]) -> Vec<u8> {
    match codec {
        0 => data.to_vec(),
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        2 => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        3 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        4 => zstd::bulk::compress(data, 1).unwrap(),
        _ => unreachable!(),
    }
}

/// xerial-framed snappy, as Kafka's Java producer writes it (blocks of `block` bytes).
fn xerial(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    for chunk in data.chunks(block) {
        let c = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
        out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        out.extend_from_slice(&c);
    }
    out
}

fn section(recs: &[Rec]) -> Vec<u8> {
    recs.iter().flat_map(encode).collect()
}

fn good(n: i64) -> Vec<Rec> {
    (0..n).map(rec).collect()
}

fn check(mut b: Vec<u8>) -> Result<RecordTimestamps, RecordsError> {
    validate_batch(&b, usize::MAX).expect("the header and CRC are valid");
    check_batches(&mut b, &mut WalkBudget::new(BIG, u64::MAX))
}

fn code(r: Result<RecordTimestamps, RecordsError>) -> RecordsErrorKind {
    r.expect_err("must be refused").kind
}

#[test]
fn valid_batches_of_every_codec_pass_and_report_their_timestamps() {
    for codec in 0..=4u8 {
        let seen = check(batch_with(&section(&good(50)), 50, codec)).unwrap();
        assert_eq!(seen.range, Some((T0, T0 + 49)), "codec {codec}");
        assert_eq!(seen.batch_max_ms, T0 + 49);
    }
}

/// The walk names the first record without a key (null, not empty) in every codec, and in
/// the first batch that has one when several are produced together.
#[test]
fn the_walk_names_the_first_keyless_record_of_every_codec() {
    for codec in 0..=4u8 {
        assert_eq!(
            check(batch_with(&section(&good(5)), 5, codec))
                .unwrap()
                .keyless_at,
            None
        );
        let mut recs = good(5);
        recs[1].key = Some(vec![]); // empty: a key
        recs[3].key = None;
        recs[4].key = None;
        let seen = check(batch_with(&section(&recs), 5, codec)).unwrap();
        assert_eq!(seen.keyless_at, Some(3), "codec {codec}");
        let mut two = batch_with(&section(&good(2)), 2, codec);
        two.extend(batch_with(&section(&recs), 5, codec));
        assert_eq!(check(two).unwrap().keyless_at, Some(3), "codec {codec}");
    }
}

/// A compacted topic's refusal names every keyless record, by its index within its batch (as
/// Kafka's `LogValidator`; librdkafka fails exactly those with INVALID_RECORD), in every codec,
/// up to the bound it is given.
#[test]
fn every_keyless_record_is_listed_up_to_the_bound() {
    for codec in 0..=4u8 {
        let mut recs = good(30);
        for index in [0, 10, 20, 29] {
            recs[index].key = None;
        }
        let batch = batch_with(&section(&recs), 30, codec);
        assert_eq!(
            keyless_records(&batch, 100),
            vec![0, 10, 20, 29],
            "codec {codec}"
        );
        assert_eq!(keyless_records(&batch, 2), vec![0, 10], "codec {codec}");
        let keyed = batch_with(&section(&good(30)), 30, codec);
        assert!(keyless_records(&keyed, 100).is_empty(), "codec {codec}");
    }
}

#[test]
fn xerial_framed_snappy_passes_and_a_damaged_frame_is_corrupt() {
    let data = section(&good(2000));
    let mut b = batch_with(&[], 1, 0);
    b.truncate(HEADER_BYTES);
    let framed = xerial(&data, 32 * 1024);
    b.extend_from_slice(&framed);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[21..23].copy_from_slice(&2i16.to_be_bytes());
    b[23..27].copy_from_slice(&1999i32.to_be_bytes());
    b[57..61].copy_from_slice(&2000i32.to_be_bytes());
    fix_crc(&mut b);
    assert_eq!(check(b.clone()).unwrap().range, Some((T0, T0 + 1999)));
    // A block length pointing past the payload.
    b[HEADER_BYTES + 16..HEADER_BYTES + 20].copy_from_slice(&u32::MAX.to_be_bytes());
    fix_crc(&mut b);
    assert_eq!(code(check(b)), CORRUPT_MESSAGE);
}

#[test]
fn the_issues_seventy_bytes_of_ff_with_a_correct_crc_are_an_invalid_record() {
    assert_eq!(code(check(batch_with(&[0xff; 70], 1, 0))), INVALID_RECORD);
}

#[test]
fn garbage_payloads_of_every_codec_are_corrupt() {
    for codec in 1..=4u8 {
        let mut b = batch_with(&section(&good(1)), 1, codec);
        b.truncate(HEADER_BYTES);
        b.extend_from_slice(&[0xffu8; 40]);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        fix_crc(&mut b);
        assert_eq!(code(check(b)), CORRUPT_MESSAGE, "codec {codec}");
    }
}

#[test]
fn a_compressed_batch_claiming_two_billion_records_is_refused() {
    // The issue's 69-byte request: one real record, recordsCount 2^31-1.
    for codec in 1..=4u8 {
        let b = batch_with(&section(&good(1)), i32::MAX, codec);
        let e = check(b).unwrap_err();
        assert_eq!(e.kind, INVALID_RECORD, "codec {codec}");
        assert!(
            e.message.contains("ends inside or before record 1"),
            "{e:?}"
        );
    }
}

#[test]
fn decompression_past_the_budget_is_refused_without_holding_it() {
    // 20,000 records (~500 KB decompressed) against a 100 KB budget: refused once the walk
    // passes the budget, whatever the codec.
    let data = section(&good(20_000));
    for codec in 1..=4u8 {
        let mut b = batch_with(&data, 20_000, codec);
        let mut budget = WalkBudget::new(100_000, u64::MAX);
        let e = check_batches(&mut b, &mut budget).unwrap_err();
        assert_eq!(e.kind, MESSAGE_TOO_LARGE, "codec {codec}: {e:?}");
        assert!(budget.ran_out, "codec {codec}");
        // Within budget, the same batch passes and the budget shrinks by what it cost.
        let mut budget = WalkBudget::new(BIG, u64::MAX);
        check_batches(&mut b, &mut budget).unwrap();
        assert_eq!(BIG - budget.bytes, data.len() as u64, "codec {codec}");
        // One per record and one per header (`rec` gives each record two).
        assert_eq!(u64::MAX - budget.entries, 3 * 20_000, "codec {codec}");
        assert!(!budget.ran_out);
    }
}

/// The walk may consume its whole limit: a records section whose last byte is a header value
/// (read as a run, not a varint) ends exactly at the limit — the section's own length when it
/// is uncompressed, the budget when it is decompressed — and an exact budget is enough.
#[test]
fn a_walk_may_end_exactly_at_its_limit() {
    let mut last = rec(0);
    last.headers = vec![(Some(b"h".to_vec()), Some(b"value".to_vec()))];
    let data = section(&[last]);
    let mut plain = batch_with(&data, 1, 0);
    check_batches(&mut plain, &mut WalkBudget::new(BIG, u64::MAX)).unwrap();
    for codec in 1..=4u8 {
        let mut b = batch_with(&data, 1, codec);
        let mut budget = WalkBudget::new(data.len() as u64, u64::MAX);
        check_batches(&mut b, &mut budget).unwrap();
        assert_eq!(budget.bytes, 0, "codec {codec}");
        let mut budget = WalkBudget::new(data.len() as u64 - 1, u64::MAX);
        assert!(check_batches(&mut b, &mut budget).is_err(), "codec {codec}");
    }
}

/// Issue 9: one gzip record with millions of empty headers (`00 01`) is a few KB on the wire
/// and seconds of walk. Every record and header is charged to the request's entries budget,
/// and past it the batch is refused with INVALID_RECORD naming the record, compressed or not.
#[test]
fn records_and_headers_past_the_entries_budget_are_refused() {
    let headers = 10_000u64;
    let mut data = Vec::new();
    let mut body = vec![0u8]; // attributes
    for v in [0, 0, -1, -1, headers as i64] {
        varint(&mut body, v); // timestamp, offset delta, null key, null value, header count
    }
    varint(&mut data, body.len() as i64 + 2 * headers as i64);
    data.extend_from_slice(&body);
    for _ in 0..headers {
        data.extend_from_slice(&[0x00, 0x01]); // empty key, null value
    }
    for codec in [0u8, 1, 4] {
        let mut b = batch_with(&data, 1, codec);
        // One record plus its headers fit exactly.
        let mut budget = WalkBudget::new(BIG, headers + 1);
        check_batches(&mut b, &mut budget).unwrap();
        assert_eq!(budget.entries, 0, "codec {codec}");
        let mut budget = WalkBudget::new(BIG, headers);
        let e = check_batches(&mut b, &mut budget).unwrap_err();
        assert_eq!(
            (e.kind, e.record_index),
            (INVALID_RECORD, Some(0)),
            "codec {codec}"
        );
        assert!(
            budget.ran_out,
            "codec {codec}: a budget refusal, retried off the runtime"
        );
    }
}

#[test]
fn a_zstd_frame_declaring_a_huge_window_is_corrupt() {
    // Frame header: magic, descriptor 0 (window descriptor follows, no checksum, no size),
    // window descriptor 0xF8 = exponent 31 → a 2 TiB window.
    let mut payload = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8];
    payload.extend_from_slice(&[0x01, 0x00, 0x00]); // an empty raw last block
    let mut b = batch_with(&[], 1, 0);
    b.truncate(HEADER_BYTES);
    b.extend_from_slice(&payload);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[21..23].copy_from_slice(&4i16.to_be_bytes());
    fix_crc(&mut b);
    assert_eq!(code(check(b)), CORRUPT_MESSAGE);
}

/// A zstd batch whose frame declares a `window_log` window (streamed, so the encoder cannot
/// shrink the window to the input's size).
fn zstd_batch_with_window_log(window_log: u32) -> Vec<u8> {
    let recs = good(3);
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    e.set_parameter(zstd::zstd_safe::CParameter::WindowLog(window_log))
        .unwrap();
    e.write_all(&section(&recs)).unwrap();
    batch_with_payload(&e.finish().unwrap(), 3, 4)
}

#[test]
fn zstd_windows_up_to_the_limit_pass_and_larger_ones_are_corrupt() {
    // The limit itself (8 MiB, window log 23: what zstd levels 1-19 use) must decode; one
    // step beyond must be refused by libzstd before it allocates the window.
    check(zstd_batch_with_window_log(23)).expect("an 8 MiB window is within the limit");
    assert_eq!(code(check(zstd_batch_with_window_log(24))), CORRUPT_MESSAGE);
}

/// A producer's batch with the LogAppendTime bit (attributes bit 3) was range-checked against
/// its header's `maxTimestamp`, which then became every record's timestamp: Kafka refuses it.
#[test]
fn a_batch_setting_the_log_append_time_bit_is_an_invalid_timestamp() {
    for codec in [0u8, 1, 4] {
        let mut b = batch_with(&section(&good(2)), 2, codec);
        b[21..23].copy_from_slice(&(codec as i16 | 0x08).to_be_bytes());
        fix_crc(&mut b);
        let e = check(b).unwrap_err();
        assert_eq!(e.kind, RecordsErrorKind::InvalidTimestamp, "codec {codec}");
        assert_eq!(e.record_index, Some(0), "codec {codec}");
    }
}

/// Control batches (attributes bit 5, transaction markers) are the broker's to write: Kafka's
/// `LogValidator.validateBatch` refuses a producer's with INVALID_RECORD, naming no record, and
/// a transactional data batch (bit 4 alone) is not one.
#[test]
fn a_producers_control_batch_is_an_invalid_record() {
    for codec in [0u8, 1] {
        let with = |bits: i16| {
            let mut b = batch_with(&section(&good(2)), 2, codec);
            b[21..23].copy_from_slice(&(codec as i16 | bits).to_be_bytes());
            fix_crc(&mut b);
            check(b)
        };
        let e = with(0x30).unwrap_err();
        assert_eq!(e.kind, RecordsErrorKind::Invalid, "codec {codec}");
        assert_eq!(e.record_index, None, "codec {codec}");
        assert_eq!(code(with(0x20)), INVALID_RECORD, "codec {codec}");
        with(0x10).expect("a transactional data batch");
    }
}

/// Each rule broken on its own, in an uncompressed and a gzip batch.
#[test]
fn every_broken_field_is_an_invalid_record() {
    type Break = fn(&mut Vec<Rec>);
    let cases: &[(&str, Break)] = &[
        ("offset delta skips", |r| r[1].offset_delta = 2),
        ("offset delta repeats", |r| r[2].offset_delta = 1),
        ("length too long", |r| r[1].length_adjust = 1),
        ("length too short", |r| r[1].length_adjust = -1),
        ("negative length", |r| r[1].length_adjust = -1000),
        ("key length below -1", |r| r[0].key_len_override = Some(-2)),
        ("key past the record", |r| r[0].key_len_override = Some(100)),
        ("negative header count", |r| {
            r[0].header_count_override = Some(-1)
        }),
        ("header count beyond the record", |r| {
            r[0].header_count_override = Some(3)
        }),
        ("null header key", |r| r[0].headers[0].0 = None),
    ];
    for (name, damage) in cases {
        let mut recs = good(3);
        damage(&mut recs);
        for codec in [0u8, 1] {
            let e = check(batch_with(&section(&recs), 3, codec)).unwrap_err();
            assert_eq!(e.kind, INVALID_RECORD, "{name}, codec {codec}: {e:?}");
            assert!(e.record_index.is_some(), "{name}: {e:?}");
        }
    }
}

#[test]
fn records_count_must_match_the_records_present() {
    for codec in [0u8, 1] {
        let data = section(&good(3));
        // Fewer records than claimed (uncompressed: the header check already bounds it).
        let e = check(batch_with(&data, 4, codec)).unwrap_err();
        assert_eq!(e.kind, INVALID_RECORD, "codec {codec}");
        // More records than claimed: bytes remain.
        let e = check(batch_with(&data, 2, codec)).unwrap_err();
        assert_eq!(e.kind, INVALID_RECORD, "codec {codec}");
        assert!(e.message.contains("remain"), "{e:?}");
    }
}

#[test]
fn a_lying_max_timestamp_is_rewritten_with_a_valid_crc() {
    let mut b = batch_with(&section(&good(3)), 3, 0);
    b[35..43].copy_from_slice(&i64::MAX.to_be_bytes());
    fix_crc(&mut b);
    let seen = check_batches(&mut b, &mut WalkBudget::new(BIG, u64::MAX)).unwrap();
    let header = validate_batch(&b, usize::MAX).expect("CRC recomputed");
    assert_eq!(header.max_timestamp_ms, T0 + 2);
    assert_eq!(seen.range, Some((T0, T0 + 2)));
}

#[test]
fn records_without_timestamps_are_not_range_checked() {
    let mut recs = good(2);
    recs[0].ts_delta = 0;
    recs[1].ts_delta = 0;
    let mut b = batch_with(&section(&recs), 2, 0);
    b[27..35].copy_from_slice(&(-1i64).to_be_bytes());
    fix_crc(&mut b);
    let seen = check_batches(&mut b, &mut WalkBudget::new(BIG, u64::MAX)).unwrap();
    assert_eq!(seen.range, None);
    assert_eq!(seen.batch_max_ms, -1);
    assert_eq!(timestamp_out_of_range(&seen, T0, 0, 0), None);
}

#[test]
fn timestamp_bounds_hold_at_the_i64_extremes() {
    let at = |ts: i64| RecordTimestamps {
        range: Some((ts, ts)),
        range_at: (0, 0),
        batch_max_ms: ts,
        keyless_at: None,
    };
    let hour = 3_600_000;
    // Kafka's defaults: before unbounded, after one hour.
    assert_eq!(timestamp_out_of_range(&at(T0), T0, i64::MAX, hour), None);
    assert_eq!(timestamp_out_of_range(&at(0), T0, i64::MAX, hour), None);
    assert_eq!(
        timestamp_out_of_range(&at(T0 + hour), T0, i64::MAX, hour),
        None
    );
    assert!(timestamp_out_of_range(&at(T0 + hour + 1), T0, i64::MAX, hour).is_some());
    assert!(timestamp_out_of_range(&at(i64::MAX), T0, i64::MAX, hour).is_some());
    assert!(timestamp_out_of_range(&at(i64::MIN), T0, i64::MAX, hour).is_some());
    // Unbounded both ways (Long.MAX_VALUE, as Kafka 3.x allowed): nothing is refused.
    assert_eq!(
        timestamp_out_of_range(&at(i64::MAX), T0, i64::MAX, i64::MAX),
        None
    );
    assert!(timestamp_out_of_range(&at(T0 - 11), T0, 10, hour).is_some());
    assert_eq!(timestamp_out_of_range(&at(T0 - 10), T0, 10, hour), None);
}

#[test]
fn several_batches_in_one_buffer_are_all_walked() {
    let mut buf = batch_with(&section(&good(2)), 2, 0);
    buf.extend(batch_with(&section(&good(3)), 3, 4));
    let mut bad = good(2);
    bad[1].offset_delta = 5;
    let mut with_bad = buf.clone();
    with_bad.extend(batch_with(&section(&bad), 2, 1));
    assert_eq!(
        check_batches(&mut buf, &mut WalkBudget::new(BIG, u64::MAX))
            .unwrap()
            .range,
        Some((T0, T0 + 2))
    );
    let e = check_batches(&mut with_bad, &mut WalkBudget::new(BIG, u64::MAX)).unwrap_err();
    assert_eq!(e.kind, INVALID_RECORD);
    let _ = BatchHeader::parse(&buf).unwrap();
}

#[test]
fn arbitrary_record_bytes_never_panic() {
    let mut seed = 0x2545f4914f6cdd1du64;
    for round in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 200) as usize;
        let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 56)) as u8).collect();
        let codec = (round % 5) as u8;
        let mut b = batch_with(&[], 1, 0);
        b.truncate(HEADER_BYTES);
        b.extend_from_slice(&bytes);
        let total = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&total.to_be_bytes());
        b[21..23].copy_from_slice(&(codec as i16).to_be_bytes());
        fix_crc(&mut b);
        let _ = check_batches(&mut b, &mut WalkBudget::new(BIG, u64::MAX));
    }
}

mod trailing;

#[test]
fn a_batch_shorter_than_its_header_is_refused_even_without_validation() {
    // check_batches trusts validate_all's header checks, but not blindly: a batch length
    // too short for the header (under 49 bytes) is refused, never walked.
    for batch_length in [0i32, 12, 48] {
        let mut b = batch_with(&section(&good(1)), 1, 0);
        b[8..12].copy_from_slice(&batch_length.to_be_bytes());
        let e = check_batches(&mut b, &mut WalkBudget::new(BIG, u64::MAX)).unwrap_err();
        assert_eq!(e.kind, CORRUPT_MESSAGE, "batch length {batch_length}");
    }
}

/// A header-only batch (61 bytes, batch length 49) is not short: a compressed one with an
/// empty section passes `validate_all` (the fit check is for uncompressed sections), and the
/// walk judges its records — snappy decodes nothing, so record 0 is missing (INVALID_RECORD),
/// the other codecs cannot decode an empty stream (CORRUPT_MESSAGE) — rather than calling the
/// batch cut off.
#[test]
fn a_compressed_batch_of_only_a_header_is_refused_by_the_walk_not_as_cut_off() {
    for codec in 1..=4u8 {
        let mut b = batch_with_payload(&[], 1, codec);
        assert_eq!(b.len(), HEADER_BYTES);
        let e = check_produced(&mut b, &mut WalkBudget::new(BIG, u64::MAX))
            .expect("the header and CRC are valid")
            .unwrap_err();
        if codec == 2 {
            assert_eq!((e.kind, e.record_index), (INVALID_RECORD, Some(0)), "{e:?}");
        } else {
            assert_eq!(e.kind, CORRUPT_MESSAGE, "codec {codec}");
            assert!(e.message.starts_with("cannot decompress"), "{e:?}");
        }
    }
}

#[test]
fn lz4_frames_with_every_optional_field_are_read_and_their_tails_checked() {
    use lz4_flex::frame::{FrameEncoder, FrameInfo};
    let data = section(&good(3));
    for (content_size, content_checksum, block_checksums) in [
        (true, false, false),
        (false, true, false),
        (false, false, true),
        (true, true, true),
    ] {
        let info = FrameInfo::new()
            .content_size(content_size.then_some(data.len() as u64))
            .content_checksum(content_checksum)
            .block_checksums(block_checksums);
        let mut e = FrameEncoder::with_frame_info(info, Vec::new());
        e.write_all(&data).unwrap();
        let payload = e.finish().unwrap();
        let what = format!("size {content_size} sum {content_checksum} blocks {block_checksums}");
        assert!(check(batch_with_payload(&payload, 3, 3)).is_ok(), "{what}");
        let mut longer = payload.clone();
        longer.push(0);
        assert_eq!(
            code(check(batch_with_payload(&longer, 3, 3))),
            CORRUPT_MESSAGE,
            "{what}"
        );
    }
}

/// When several records share the largest timestamp, the refusal names the first of them (the
/// record `range_at` documents), not a later one with the same timestamp.
#[test]
fn a_refusal_for_a_timestamp_too_new_names_the_first_record_that_carries_it() {
    let mut recs = good(3);
    for (r, ts_delta) in recs.iter_mut().zip([0, 5, 5]) {
        r.ts_delta = ts_delta;
    }
    let seen = check(batch_with(&section(&recs), 3, 0)).unwrap();
    assert_eq!(seen.range, Some((T0, T0 + 5)));
    assert_eq!(seen.range_at, (0, 1));
    let e = timestamp_out_of_range(&seen, T0, 0, 4).expect("T0 + 5 is 5 ms after now");
    assert_eq!(e.record_index, Some(1));
}

#[test]
fn the_timestamp_range_tracks_the_smallest_record_even_when_it_comes_later() {
    // Timestamps T0 + 2, T0, T0 + 1: the smallest is neither the first nor the last record, so
    // the range's low end (and the index a refusal names) must move when a smaller one arrives.
    let mut recs = good(3);
    for (r, ts_delta) in recs.iter_mut().zip([2, 0, 1]) {
        r.ts_delta = ts_delta;
    }
    let seen = check(batch_with(&section(&recs), 3, 0)).unwrap();
    assert_eq!(seen.range, Some((T0, T0 + 2)));
    assert_eq!(seen.range_at, (1, 0));
    // Refused for being too old: the record named is the smallest one, index 1.
    let e = timestamp_out_of_range(&seen, T0 + 10, 9, 0).expect("T0 is 10 ms before now");
    assert_eq!(e.record_index, Some(1));
}
