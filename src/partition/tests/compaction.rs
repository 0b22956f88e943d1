//! Log compaction driven by the partitions actor: the `Clean` timer plans a clean, the clean
//! runs as a persist job, the owner swaps it in on completion.

use std::collections::BTreeMap;

use super::*;
use crate::storage::log::Compaction;

const BACKOFF_MS: u64 = 1000;

fn compacted() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        compaction: Compaction {
            compact: true,
            min_cleanable_dirty_ratio_bits: 0.01f64.to_bits(),
            delete_retention_ms: 0,
            cleaner_backoff_ms: BACKOFF_MS,
            ..Compaction::default()
        },
        ..config(None)
    }
}

fn keyed(key: &str, value: &str) -> Vec<u8> {
    build_batch(&[(Some(key.as_bytes()), value.as_bytes())], T0_MS)
}

/// Every record from offset 0 as (offset, key, value), fetching on (a read stops at the end
/// of a segment).
fn read_all(h: &mut Harness, a: &TopicPartition) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    let mut next = 0;
    while next < h.log_end(a) {
        let results = fetch_results(h.ask(fetch(&[(a, next)], 0, 1 << 20)));
        let mut bytes = &results[0].records[..];
        assert!(!bytes.is_empty(), "nothing served at {next}");
        while !bytes.is_empty() {
            // A clean leaves record-less batches (Kafka's too): stored, not produced, rules.
            let header = batch::BatchHeader::parse(bytes).unwrap();
            header.check_stored(usize::MAX).unwrap();
            for record in batch::records(&bytes[..header.total_bytes()]) {
                let r = record.unwrap();
                let text =
                    |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or(b"")).into_owned();
                out.push((r.offset, text(r.key), text(r.value)));
            }
            next = header.next_offset();
            bytes = &bytes[header.total_bytes()..];
        }
    }
    out
}

/// Produces `rounds` values for each of three keys (value = round number), acks=-1.
fn produce_rounds(h: &mut Harness, a: &TopicPartition, rounds: usize) {
    for round in 0..rounds {
        for key in ["k0", "k1", "k2"] {
            let reply = h.ask_after_jobs(produce(
                -1,
                vec![(a.clone(), keyed(key, &format!("{round:03}")))],
            ));
            assert_eq!(produce_results(reply)[0].1.error_code, ErrorCode::NONE);
        }
    }
}

/// The persist jobs of a clean in `effects` (their token has the clean bit).
fn clean_jobs(effects: &Effects) -> Vec<(u64, PersistJob)> {
    syncs(effects)
        .into_iter()
        .filter(|(_, job)| matches!(job.ops(), [PersistOp::Clean(_)]))
        .collect()
}

/// Per key, values read in offset order never go back (an older value after a newer one).
fn assert_monotonic(records: &[(i64, String, String)]) {
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (offset, key, value) in records {
        if let Some(prev) = last.insert(key, value) {
            assert!(
                prev < value.as_str(),
                "{key} went from {prev} to {value} at {offset}"
            );
        }
    }
}

#[test]
fn a_compacted_replica_cleans_on_its_timer_keeping_each_keys_latest_value() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    h.ensure(&a, compacted());
    produce_rounds(&mut h, &a, 20);
    let before = read_all(&mut h, &a);
    assert_eq!(before.len(), 60);
    let id = h.actor.replica(&a).unwrap().id;
    let effects = fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS);
    let jobs = clean_jobs(&effects);
    assert_eq!(jobs.len(), 1, "{effects:?}");
    // The swap renames and syncs on completion (the owner's step, see the module docs).
    h.allow_sync = true;
    let after_effects = h.complete(jobs);
    h.allow_sync = false;
    let after = read_all(&mut h, &a);
    assert!(after.len() < before.len(), "{} records left", after.len());
    assert_monotonic(&after);
    for key in ["k0", "k1", "k2"] {
        let latest = after.iter().rev().find(|(_, k, _)| k == key).unwrap();
        assert_eq!(latest.2, "019", "{key}");
    }
    // Offsets never move: the log end and each kept record's offset are as produced.
    assert_eq!(h.log_end(&a), 60);
    for record in &after {
        assert!(
            before.contains(record),
            "{record:?} was not produced at that offset"
        );
    }
    // The timer is armed again for the next clean.
    assert!(timers(&after_effects)
        .iter()
        .any(|(key, ms)| *key == PartitionsTimer::Clean(id) && *ms == BACKOFF_MS));
}

#[test]
fn a_crash_before_the_swap_loses_nothing_and_a_crash_after_it_keeps_the_latest_values() {
    for swap_before_crash in [false, true] {
        let storage = Arc::new(MemStorage::new());
        let mut h = Harness::new(storage.clone());
        let a = tp("c");
        h.ensure(&a, compacted());
        produce_rounds(&mut h, &a, 20);
        let id = h.actor.replica(&a).unwrap().id;
        let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
        assert_eq!(jobs.len(), 1);
        if swap_before_crash {
            h.allow_sync = true;
            h.complete(jobs);
        } else {
            jobs[0].1.run().unwrap(); // `.cleaned` files written, never swapped
        }
        storage.crash();
        let mut h = Harness::new(storage.clone());
        h.ensure(&a, compacted());
        assert_eq!(h.log_end(&a), 60);
        let after = read_all(&mut h, &a);
        assert_monotonic(&after);
        for key in ["k0", "k1", "k2"] {
            let latest = after.iter().rev().find(|(_, k, _)| k == key).unwrap();
            assert_eq!(
                latest.2, "019",
                "{key} (swapped before the crash: {swap_before_crash})"
            );
        }
        assert_eq!(after.len() < 60, swap_before_crash);
    }
}

#[test]
fn a_compacted_topic_refuses_a_record_without_a_key() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    h.ensure(&a, compacted());
    let refused = h.produce_one(1, &a, plain(b"no key"));
    assert_eq!(refused.error_code, ErrorCode::INVALID_RECORD);
    assert_eq!(
        refused.record_errors[0].message.as_deref(),
        Some("Compacted topic cannot accept message without key in topic partition c-0.")
    );
    assert_eq!(h.log_end(&a), 0);
}

/// `records` (key, value) in one batch compressed with `codec` (1 gzip, 2 snappy, 3 lz4,
/// 4 zstd), as a producer sends it.
fn compressed(codec: u8, records: &[(Option<&[u8]>, &[u8])]) -> Vec<u8> {
    let plain: Vec<_> = records.iter().map(|(k, v)| (*k, Some(*v))).collect();
    let plain = batch::build_batch_records(&plain, T0_MS);
    let section = crate::storage::records::encode(codec, &plain[batch::HEADER_BYTES..], false)
        .expect("compress");
    batch::with_records_section(&plain, codec, &section, records.len() as i32)
}

/// Kafka refuses a keyless record in a compressed batch too (`LogValidator.validateKey` runs
/// on every record it decompresses): nothing of the batch is appended, and the refusal names
/// the record; the same batch with keys is taken.
#[test]
fn a_compacted_topic_refuses_a_keyless_record_in_a_compressed_batch() {
    for codec in 1..=4u8 {
        let mut h = Harness::new(Arc::new(MemStorage::new()));
        let a = tp("c");
        h.ensure(&a, compacted());
        let keyless = compressed(codec, &[(Some(b"k"), b"v0"), (None, b"v1")]);
        let refused = h.produce_one(1, &a, keyless);
        assert_eq!(
            refused.error_code,
            ErrorCode::INVALID_RECORD,
            "codec {codec}"
        );
        assert_eq!(refused.record_errors.len(), 1, "codec {codec}");
        assert_eq!(refused.record_errors[0].batch_index, 1, "codec {codec}");
        assert_eq!(
            refused.record_errors[0].message.as_deref(),
            Some("Compacted topic cannot accept message without key in topic partition c-0.")
        );
        assert_eq!(h.log_end(&a), 0, "codec {codec}: nothing appended");

        // An empty key is a key (only a null one is none).
        let keyed = compressed(codec, &[(Some(b"k"), b"v0"), (Some(b""), b"v1")]);
        let taken = h.produce_one(1, &a, keyed);
        assert_eq!(taken.error_code, ErrorCode::NONE, "codec {codec}");
        assert_eq!(h.log_end(&a), 2, "codec {codec}");
    }
}

/// A topic that is not compacted takes keyless records, compressed or not.
#[test]
fn a_topic_that_is_not_compacted_takes_keyless_compressed_records() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("d");
    h.ensure(&a, config(None));
    let taken = h.produce_one(1, &a, compressed(3, &[(None, b"v0"), (None, b"v1")]));
    assert_eq!(taken.error_code, ErrorCode::NONE);
    assert_eq!(h.log_end(&a), 2);
}

/// `log.cleaner.io.max.bytes.per.second` holds on average: a job that read more than the rate
/// allows in one backoff (it maps at least one dirty segment) holds the next clean off for as
/// long as its reads take at that rate.
#[test]
fn a_clean_that_read_past_the_io_rate_holds_the_next_one_off() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    let rate_bytes_per_second = 100;
    let mut config = compacted();
    config.compaction.cleaner_io_max_bytes_per_second = rate_bytes_per_second;
    h.ensure(&a, config);
    produce_rounds(&mut h, &a, 20);
    let id = h.actor.replica(&a).unwrap().id;
    let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
    assert_eq!(jobs.len(), 1);
    h.allow_sync = true;
    let effects = h.complete(jobs);
    h.allow_sync = false;
    let armed: Vec<u64> = timers(&effects)
        .iter()
        .filter(|(key, _)| *key == PartitionsTimer::Clean(id))
        .map(|(_, ms)| *ms)
        .collect();
    // One dirty segment (up to 400 bytes) read twice, map and filter: seconds at 100 B/s,
    // where the backoff alone would be one.
    assert_eq!(armed.len(), 1, "{effects:?}");
    assert!(armed[0] >= 5 * BACKOFF_MS, "next clean in {} ms", armed[0]);
}

/// `log.cleaner.dedupe.buffer.size` bounds one clean's key map at 24 bytes a key: with room
/// for two keys the map is full after the first dirty segment (it holds all three keys) and
/// the clean stops there, as Kafka's does; with room for a hundred, one clean covers every
/// segment below the active one.
#[test]
fn the_dedupe_buffer_bounds_how_far_one_clean_gets() {
    for (keys, covers_every_segment) in [(2u64, false), (100, true)] {
        let mut h = Harness::new(Arc::new(MemStorage::new()));
        let a = tp("c");
        let mut config = compacted();
        config.compaction.cleaner_dedupe_buffer_bytes = keys * 24;
        h.ensure(&a, config);
        produce_rounds(&mut h, &a, 20);
        let replica = h.actor.replica(&a).unwrap();
        let (id, bases) = (replica.id, replica.log().segment_base_offsets());
        let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
        assert_eq!(jobs.len(), 1);
        h.allow_sync = true;
        h.complete(jobs);
        h.allow_sync = false;
        let first_dirty = h.actor.replica(&a).unwrap().log().first_dirty_offset();
        let expected = if covers_every_segment {
            bases[bases.len() - 1]
        } else {
            bases[1]
        };
        assert_eq!(
            first_dirty, expected,
            "a buffer of {keys} keys' bytes; segments at {bases:?}"
        );
    }
}
