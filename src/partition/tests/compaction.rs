//! Log compaction driven by the partitions actor: the `Clean` timer plans a clean, the clean
//! runs as a persist job, the owner checks its pins on completion and hands the swap to a
//! second persist job, and installs the swapped segments when that one completed. The handler
//! never syncs (the harness forbids it): every rename and fsync is in the jobs.

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

/// The persist jobs of a clean's swap in `effects`.
fn swap_jobs(effects: &Effects) -> Vec<(u64, PersistJob)> {
    syncs(effects)
        .into_iter()
        .filter(|(_, job)| matches!(job.ops(), [PersistOp::SwapCleaned(_)]))
        .collect()
}

/// Completes a clean's job, then the swap job it starts: the effects of both completions.
fn complete_clean(h: &mut Harness, jobs: Vec<(u64, PersistJob)>) -> Effects {
    let mut effects = h.complete(jobs);
    let swaps = swap_jobs(&effects);
    assert_eq!(swaps.len(), 1, "the pins held: one swap job {effects:?}");
    effects.extend(h.complete(swaps));
    effects
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
    let after_effects = complete_clean(&mut h, jobs);
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

/// The clean honours the topic's own settings (`Compaction::clean_config`), not the
/// defaults: with `min.compaction.lag.ms` at an hour, records produced a second ago are not
/// cleaned; an hour later they are.
#[test]
fn a_topic_s_min_compaction_lag_holds_its_clean_off_until_the_records_are_that_old() {
    const LAG_MS: i64 = 60 * 60 * 1000;
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    let mut config = compacted();
    config.compaction.min_compaction_lag_ms = LAG_MS;
    h.ensure(&a, config);
    produce_rounds(&mut h, &a, 20);
    let id = h.actor.replica(&a).unwrap().id;
    let effects = fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS);
    assert!(clean_jobs(&effects).is_empty(), "too young: {effects:?}");
    let effects = fire(&mut h, PartitionsTimer::Clean(id), LAG_MS as u64);
    assert_eq!(clean_jobs(&effects).len(), 1, "old enough: {effects:?}");
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
            complete_clean(&mut h, jobs);
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
    let effects = complete_clean(&mut h, jobs);
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
        complete_clean(&mut h, jobs);
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

/// While the swap job runs (its renames done, not yet reported), fetches read the old
/// segments' bytes, produces append, and retention leaves the segments in place; the
/// completion installs the cleaned segments.
#[test]
fn while_the_swap_job_runs_the_log_serves_the_old_segments_and_takes_appends() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    h.ensure(&a, compacted());
    produce_rounds(&mut h, &a, 20);
    let before = read_all(&mut h, &a);
    let id = h.actor.replica(&a).unwrap().id;
    let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
    let swaps = swap_jobs(&h.complete(jobs));
    assert_eq!(swaps.len(), 1);
    assert!(h.actor.replica(&a).unwrap().log().swap_in_flight());
    let segments = h.actor.replica(&a).unwrap().log().segment_count();
    // The job runs to its end (every file renamed, the new indexes synced) but its completion
    // has not reached the actor.
    swaps[0].1.run().unwrap();
    assert_eq!(
        read_all(&mut h, &a),
        before,
        "the old bytes, not the renamed files'"
    );
    let ticked = fire(&mut h, PartitionsTimer::Retention, 0);
    h.complete(syncs(&ticked));
    assert_eq!(h.actor.replica(&a).unwrap().log().segment_count(), segments);
    // A clean planned now would pin the segments being swapped: none is.
    assert!(h
        .actor
        .replica(&a)
        .unwrap()
        .plan_clean(h.now.unix_ms)
        .is_none());
    let reply = h.ask_after_jobs(produce(-1, vec![(a.clone(), keyed("k0", "020"))]));
    assert_eq!(produce_results(reply)[0].1.error_code, ErrorCode::NONE);
    h.complete(swaps);
    assert!(!h.actor.replica(&a).unwrap().log().swap_in_flight());
    let after = read_all(&mut h, &a);
    assert!(after.len() < before.len(), "{} records left", after.len());
    assert_eq!(after.last().unwrap(), &(60, "k0".into(), "020".into()));
    assert_monotonic(&after);
}

/// A Shutdown waits for a running swap before the close job (which writes the clean-shutdown
/// marker) starts; a Delete waits for it before the directory goes.
#[test]
fn a_shutdown_or_a_delete_waits_for_the_running_swap() {
    for delete in [false, true] {
        let storage = Arc::new(MemStorage::new());
        let mut h = Harness::new(storage.clone());
        let a = tp("c");
        h.ensure(&a, compacted());
        produce_rounds(&mut h, &a, 20);
        let id = h.actor.replica(&a).unwrap().id;
        let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
        let swaps = swap_jobs(&h.complete(jobs));
        assert_eq!(swaps.len(), 1);
        let request = if delete {
            PartitionsRequest::Delete(DeletePartitionRequest { tp: a.clone() })
        } else {
            PartitionsRequest::Shutdown
        };
        let (asked, mut effects) = h.send(request);
        assert!(take_reply(&mut effects, asked).is_none());
        assert!(
            syncs(&effects).is_empty(),
            "nothing starts beside the swap: {effects:?}"
        );
        let mut effects = h.complete(swaps);
        let next = syncs(&effects);
        assert_eq!(next.len(), 1, "{effects:?}");
        let described = format!("{:?}", next[0].1);
        let expected = if delete {
            "RemoveDirAll"
        } else {
            "clean-shutdown"
        };
        assert!(described.contains(expected), "{described}");
        assert!(take_reply(&mut effects, asked).is_none());
        let mut effects = h.complete(next);
        assert!(
            take_reply(&mut effects, asked).is_some(),
            "answered once the {expected} job completed"
        );
        assert_eq!(storage.exists(Path::new("c-0")), !delete);
        if !delete {
            // The closed log is the cleaned one, and its next open trusts the marker.
            let mut h = Harness::new(storage.clone());
            h.ensure(&a, compacted());
            let after = read_all(&mut h, &a);
            assert!(after.len() < 60, "{} records", after.len());
            assert_monotonic(&after);
        }
    }
}

/// A flush job fails while the swap runs: the partition goes offline, and no open (not even an
/// explicit Ensure) runs beside the swap, which renames files in its directory; once the swap
/// completed the partition reopens, cleaned.
#[test]
fn a_partition_taken_offline_during_a_swap_reopens_after_it() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    h.ensure(&a, compacted());
    produce_rounds(&mut h, &a, 20);
    let id = h.actor.replica(&a).unwrap().id;
    let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
    let swaps = swap_jobs(&h.complete(jobs));
    assert_eq!(swaps.len(), 1);
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), keyed("k0", "020"))]));
    let flush = syncs(&effects);
    assert_eq!(flush.len(), 1, "{effects:?}");
    h.step(Input::Synced {
        token: flush[0].0,
        result: Err("EIO".into()),
    });
    assert!(h.actor.replica(&a).is_none(), "offline");
    let reply = h.ask(PartitionsRequest::Ensure(EnsureRequest {
        tp: a.clone(),
        config: compacted(),
        topic_id: [0; 16],
    }));
    assert!(
        matches!(
            &reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::KAFKA_STORAGE_ERROR,
                message: Some(m),
            }) if m.contains("swapping")
        ),
        "{reply:?}"
    );
    assert!(h.actor.replica(&a).is_none(), "not opened beside the swap");
    let effects = h.complete(swaps);
    assert!(h.actor.replica(&a).is_some(), "reopened: {effects:?}");
    h.complete(syncs(&effects));
    let after = read_all(&mut h, &a);
    assert!(after.len() < 60, "the swap stands: {} records", after.len());
    assert_monotonic(&after);
    for key in ["k1", "k2"] {
        let latest = after.iter().rev().find(|(_, k, _)| k == key).unwrap();
        assert_eq!(latest.2, "019", "{key}");
    }
}

/// A swap job that failed (here before it renamed anything) takes the partition offline like a
/// failed flush; the reopen finds the log as it was.
#[test]
fn a_failed_swap_job_takes_the_partition_offline_and_the_reopen_finds_every_record() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    h.ensure(&a, compacted());
    produce_rounds(&mut h, &a, 20);
    let before = read_all(&mut h, &a);
    let id = h.actor.replica(&a).unwrap().id;
    let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
    let swaps = swap_jobs(&h.complete(jobs));
    assert_eq!(swaps.len(), 1);
    h.step(Input::Synced {
        token: swaps[0].0,
        result: Err("EIO".into()),
    });
    assert!(h.actor.replica(&a).is_none(), "offline");
    assert_eq!(h.actor.offline_count(), 1);
    h.ensure(&a, compacted());
    assert_eq!(read_all(&mut h, &a), before);
}

/// A Shutdown waiting for a swap job that fails answers KAFKA_STORAGE_ERROR: the replica is
/// closed with the swap's error rather than left offline with the Shutdown unanswered.
#[test]
fn a_shutdown_waiting_for_a_swap_job_that_fails_answers_the_error() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("c");
    h.ensure(&a, compacted());
    produce_rounds(&mut h, &a, 20);
    let id = h.actor.replica(&a).unwrap().id;
    let jobs = clean_jobs(&fire(&mut h, PartitionsTimer::Clean(id), BACKOFF_MS));
    let swaps = swap_jobs(&h.complete(jobs));
    assert_eq!(swaps.len(), 1);
    let (asked, mut effects) = h.send(PartitionsRequest::Shutdown);
    assert!(take_reply(&mut effects, asked).is_none());
    let mut effects = h.step(Input::Synced {
        token: swaps[0].0,
        result: Err("EIO".into()),
    });
    let reply = take_reply(&mut effects, asked).expect("answered once the swap failed");
    assert!(
        matches!(
            &reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::KAFKA_STORAGE_ERROR,
                message: Some(m),
            }) if m.contains("EIO")
        ),
        "{reply:?}"
    );
    assert!(h.actor.replica(&a).is_none());
    assert_eq!(h.actor.offline_count(), 0, "closed, not offline");
}
