//! Unit tests of the log on [`MemStorage`] (crash semantics included).

use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::storage::batch::{
    build_batch, build_batch_with_timestamps, validate_all, BatchError, Batches, HEADER_BYTES,
};
use crate::storage::mem::MemStorage;
use crate::storage::persist::PersistJob;

const DIR: &str = "topic-0";

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 200,
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn open(mem: &MemStorage, config: LogConfig) -> Log {
    Log::open(Arc::new(mem.clone()), Path::new(DIR), config, 0).expect("open")
}

/// A batch of `records` records, each value naming the batch, stamped `ts`.
fn batch(tag: u32, records: usize, ts: i64) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..records)
        .map(|i| format!("{tag}-{i}-xxxxxxxxxx").into_bytes())
        .collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, v.as_slice())).collect();
    build_batch(&recs, ts)
}

fn append(log: &mut Log, tag: u32, records: usize, ts: i64) -> AppendInfo {
    let mut b = batch(tag, records, ts);
    log.append(&mut b, 5, ts).expect("append")
}

/// Every batch from the log start to the end as `(base_offset, bytes)`.
fn read_all(log: &Log) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 1000).expect("read");
        assert!(!slice.bytes.is_empty(), "no progress at {offset}");
        for item in Batches::new(&slice.bytes, usize::MAX) {
            let (pos, h) = item.expect("served batches are valid");
            out.push((
                h.base_offset,
                slice.bytes[pos..pos + h.total_bytes()].to_vec(),
            ));
        }
        offset = slice.next_offset;
    }
    out
}

/// Base offsets of every batch, reading headers only (no CRC check).
fn read_all_unchecked(log: &Log) -> Vec<i64> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 1).expect("read");
        out.push(slice.first_offset);
        offset = slice.next_offset;
    }
    out
}

fn file_len(mem: &MemStorage, name: &str) -> Option<usize> {
    mem.read_file(&Path::new(DIR).join(name)).map(|b| b.len())
}

fn seg_name(base: i64, suffix: &str) -> String {
    format!("{base:020}{suffix}")
}

#[test]
fn append_assigns_dense_offsets_and_patches_epoch() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    let a = append(&mut log, 1, 3, 100);
    let b = append(&mut log, 2, 1, 200);
    assert_eq!((a.first_offset, a.last_offset, a.record_count), (0, 2, 3));
    assert_eq!((b.first_offset, b.last_offset), (3, 3));
    assert_eq!(log.log_end_offset(), 4);
    let all = read_all(&log);
    assert_eq!(all.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![0, 3]);
    let h = batch::validate_batch(&all[1].1, usize::MAX).unwrap();
    assert_eq!((h.base_offset, h.partition_leader_epoch), (3, 5));
}

#[test]
fn multi_batch_append_and_read_rules() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    let mut buf = [batch(1, 2, 10), batch(2, 3, 30), batch(3, 1, 20)].concat();
    let info = log.append(&mut buf, 0, 0).unwrap();
    assert_eq!(
        (info.first_offset, info.last_offset, info.batch_count),
        (0, 5, 3)
    );
    assert_eq!(
        (info.max_timestamp_ms, info.offset_of_max_timestamp),
        (30, 2)
    );

    // Reading from inside a batch returns the whole batch containing the offset.
    let s = log.read(3, 1 << 20).unwrap();
    assert_eq!((s.first_offset, s.next_offset), (2, 6));
    // max_bytes smaller than one batch still returns that one batch.
    let s = log.read(0, 1).unwrap();
    assert_eq!((s.first_offset, s.next_offset), (0, 2));
    assert_eq!(validate_all(&s.bytes, usize::MAX).unwrap().batch_count, 1);
    // At the log end: empty. Past it or below the start: out of range.
    let s = log.read(6, 100).unwrap();
    assert!(s.bytes.is_empty());
    assert_eq!(s.next_offset, 6);
    assert!(matches!(
        log.read(7, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        log.read(-1, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Bounded by a high watermark at a batch boundary.
    let s = log.read_bounded(0, 1 << 20, 2).unwrap();
    assert_eq!(s.next_offset, 2);
    assert!(log.read_bounded(2, 1 << 20, 2).unwrap().bytes.is_empty());
}

/// The produce path's append skips the CRCs its caller checked, but nothing else: header
/// rules still refuse, and a caller that lied about the CRCs trips the debug assertion (tests
/// and the simulator run with debug assertions), so the trust cannot silently spread.
#[test]
fn an_append_trusting_the_crc_still_enforces_the_header_rules() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    let mut good = batch(1, 3, 0);
    let info = log
        .append_crc_checked(&mut good, 0, 0)
        .expect("valid batch");
    assert_eq!((info.first_offset, info.last_offset), (0, 2));
    log.set_config(LogConfig {
        batch_bytes_max: HEADER_BYTES + 10,
        ..config()
    })
    .unwrap();
    assert!(matches!(
        log.append_crc_checked(&mut batch(2, 50, 0), 0, 0),
        Err(LogError::InvalidBatch {
            source: BatchError::BatchTooLarge { .. },
            ..
        })
    ));
    assert!(matches!(
        log.append_crc_checked(&mut [], 0, 0),
        Err(LogError::InvalidBatch { .. })
    ));
    assert_eq!(log.log_end_offset(), 3);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "CRCs do not hold")]
fn an_append_trusting_a_wrong_crc_panics_in_debug_builds() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    let mut bad = batch(1, 1, 0);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let _ = log.append_crc_checked(&mut bad, 0, 0);
}

#[test]
fn invalid_append_leaves_the_log_untouched() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    append(&mut log, 1, 1, 0);
    let before = mem
        .read_file(&Path::new(DIR).join(seg_name(0, ".log")))
        .unwrap();
    let good = batch(2, 1, 0);
    let mut bad = batch(3, 1, 0);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let mut buf = [good.clone(), bad].concat();
    let err = log.append(&mut buf, 0, 0).unwrap_err();
    assert!(
        matches!(err, LogError::InvalidBatch { position, source: BatchError::CrcMismatch { .. } } if position == good.len()),
        "{err}"
    );
    let mut too_big = batch(4, 50, 0);
    log.set_config(LogConfig {
        batch_bytes_max: HEADER_BYTES + 10,
        ..config()
    })
    .unwrap();
    assert!(matches!(
        log.append(&mut too_big, 0, 0),
        Err(LogError::InvalidBatch {
            source: BatchError::BatchTooLarge { .. },
            ..
        })
    ));
    assert!(matches!(
        log.append(&mut [], 0, 0),
        Err(LogError::InvalidBatch { .. })
    ));
    assert_eq!(log.log_end_offset(), 1);
    assert_eq!(
        mem.read_file(&Path::new(DIR).join(seg_name(0, ".log")))
            .unwrap(),
        before
    );
}

#[test]
fn roll_by_size_and_reads_across_segments() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 3,
            ..config()
        },
    );
    for tag in 0..10 {
        append(&mut log, tag, 2, 0);
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 6, 12, 18]);
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(read_all(&log).len(), 10);
    // A read stops at the segment end (Kafka serves one segment per read).
    let s = log.read(2, 1 << 20).unwrap();
    assert_eq!((s.first_offset, s.next_offset), (2, 6));
    // Rolls sync nothing; the flush job syncs the sealed segments and moves the recovery point.
    assert_eq!((log.synced_offset(), log.recovery_point()), (0, 0));
    let (job, point) = log.flush_job().expect("rolled segments to flush");
    assert_eq!(point.recovery_point, Some(18));
    job.run().unwrap();
    log.flushed(point);
    assert_eq!((log.synced_offset(), log.recovery_point()), (20, 18));
    assert!(!log.has_pending());
}

/// An empty active segment is never rolled: a batch larger than `segment.bytes` goes into it,
/// and an explicit roll of it does nothing (a second segment with its base would replace it).
#[test]
fn an_empty_active_segment_is_not_rolled() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one - 1,
            ..config()
        },
    );
    log.roll(0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0]);
    append(&mut log, 0, 2, 0);
    assert_eq!(
        log.segment_base_offsets(),
        vec![0],
        "the oversized batch went in"
    );
    append(&mut log, 1, 2, 0);
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    log.roll(0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4]);
    log.roll(0).unwrap();
    assert_eq!(
        log.segment_base_offsets(),
        vec![0, 2, 4],
        "the new one is empty"
    );
    assert_eq!(read_all(&log).len(), 2);
}

#[test]
fn roll_by_age_uses_batch_timestamps_then_creation_time() {
    let mem = MemStorage::new();
    let mut log = open(
        &mem,
        LogConfig {
            segment_ms: 100,
            ..config()
        },
    );
    append(&mut log, 0, 1, 1_000);
    append(&mut log, 1, 1, 1_100);
    assert_eq!(log.segment_count(), 1, "exactly segment_ms old: not yet");
    append(&mut log, 2, 1, 1_101);
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // Batches without timestamps: the segment's creation time (now_ms) counts.
    let mut b = batch(3, 1, -1);
    log.roll(5_000).unwrap();
    log.append(&mut b, 0, 5_000).unwrap();
    let mut b = batch(4, 1, -1);
    log.append(&mut b, 0, 5_050).unwrap();
    assert_eq!(log.segment_count(), 3);
    let mut b = batch(5, 1, -1);
    log.append(&mut b, 0, 5_101).unwrap();
    assert_eq!(log.segment_count(), 4);
    assert_eq!(read_all(&log).len(), 6);
}

#[test]
fn retention_by_time_advances_log_start_and_keeps_offsets() {
    let mem = MemStorage::new();
    let mut log = open(
        &mem,
        LogConfig {
            retention_ms: Some(1_000),
            ..config()
        },
    );
    append(&mut log, 0, 2, 100);
    log.roll(100).unwrap();
    append(&mut log, 1, 2, 5_000);
    log.roll(5_000).unwrap();
    append(&mut log, 2, 2, 5_500);
    assert_eq!(log.enforce_retention(2_000).unwrap(), 1);
    assert_eq!(log.log_start_offset(), 2);
    assert!(matches!(
        log.read(0, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let has_first_segment = |mem: &MemStorage| {
        mem.file_names()
            .iter()
            .any(|p| p.ends_with(seg_name(0, ".log")))
    };
    assert!(
        has_first_segment(&mem),
        "removed by the next flush job only"
    );
    assert_eq!(log.durable_log_start(), 0);
    log.sync().unwrap();
    assert!(!has_first_segment(&mem));
    assert_eq!(log.durable_log_start(), 2);
    // Everything expired: the active segment is rolled and a new one continues at the end.
    assert_eq!(log.enforce_retention(100_000).unwrap(), 2);
    assert_eq!(log.segment_base_offsets(), vec![6]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 6));
    let info = append(&mut log, 3, 1, 100_000);
    assert_eq!(info.first_offset, 6);
    // The start survives a crash: offsets never reset.
    log.sync().unwrap();
    drop(log);
    mem.crash();
    let log = open(&mem, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 7));
}

#[test]
fn retention_by_size() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 2,
            retention_bytes: Some(one * 3),
            ..config()
        },
    );
    for tag in 0..7 {
        append(&mut log, tag, 2, 0);
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8, 12]);
    // 7 batches, limit 3: deleting [0,4) and [4,8) leaves 3 batches.
    assert_eq!(log.enforce_retention(0).unwrap(), 2);
    assert_eq!(log.log_start_offset(), 8);
    assert_eq!(log.size_bytes(), one * 3);
    // High watermark bound: nothing at or above it goes.
    append(&mut log, 8, 2, 0);
    assert_eq!(log.enforce_retention_below(0, 8).unwrap(), 0);
}

#[test]
fn truncate_to_cuts_at_batch_boundary_durably() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 2,
            ..config()
        },
    );
    for tag in 0..6 {
        append(&mut log, tag, 2, 0);
    }
    log.sync().unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8]);
    // Offset 5 is inside the batch [4, 6): the cut lands at 4.
    assert_eq!(log.truncate_to(5).unwrap(), 4);
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.segment_base_offsets(), vec![0, 4]);
    assert!(log.synced_offset() <= 4);
    assert_eq!(log.truncate_to(100).unwrap(), 4, "past the end: no-op");
    let info = append(&mut log, 9, 1, 0);
    assert_eq!(info.first_offset, 4);
    // Unsynced re-append is lost on crash, but the truncated data must not come back.
    drop(log);
    mem.crash();
    let log = open(&mem, config());
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(read_all(&log).len(), 2);
}

/// The canary's cut at open rides the open's persist job: no sync inline, the old batch
/// back after a crash before the job, gone for good after it.
#[test]
fn dropping_the_last_batch_at_open_is_made_durable_by_the_open_job() {
    for run_job in [false, true] {
        let mem = MemStorage::new();
        let mut log = open(&mem, config());
        for tag in 0..3 {
            append(&mut log, tag, 2, 0);
        }
        log.sync().unwrap();
        drop(log);
        let mut log =
            Log::open_unflushed(Arc::new(mem.clone()), Path::new(DIR), config(), 0).unwrap();
        mem.forbid_sync(true);
        assert_eq!(log.cut_at_open(5).unwrap(), 4);
        mem.forbid_sync(false);
        assert_eq!(log.log_end_offset(), 4);
        assert!(log.has_pending(), "the cut waits for the open's job");
        if run_job {
            let (job, point) = log.flush_job().expect("the open's job");
            job.run().unwrap();
            log.flushed(point);
        }
        drop(log);
        mem.crash();
        let log = open(&mem, config());
        assert_eq!(
            log.log_end_offset(),
            if run_job { 4 } else { 6 },
            "job ran: {run_job}"
        );
    }
}

/// An open after an unclean shutdown recovers the active segment, here rebuilding its lost
/// index (a file new in the directory): the open's job syncs the directory.
#[test]
fn an_unclean_open_that_rebuilt_an_index_syncs_the_directory_in_its_job() {
    use crate::storage::persist::PersistOp;
    use crate::storage::Storage;
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    append(&mut log, 0, 2, 0);
    log.sync().unwrap();
    drop(log);
    let index = Path::new(DIR).join(seg_name(0, ".index"));
    mem.remove_file(&index).unwrap();
    let mut log = Log::open_unflushed(Arc::new(mem.clone()), Path::new(DIR), config(), 0).unwrap();
    assert!(mem.read_file(&index).is_some(), "the index is rebuilt");
    let (job, _) = log.flush_job().expect("the open's job");
    assert!(
        job.ops()
            .iter()
            .any(|op| matches!(op, PersistOp::SyncDir(_))),
        "{job:?}"
    );
}

/// A cut at open across segments: later segments go, the cut one is active again, nothing
/// syncs inline; a crash before the open's job recovers a dense prefix of the old log.
#[test]
fn a_cut_at_open_across_segments_is_durable_after_the_open_job_only() {
    let small = || LogConfig {
        segment_bytes: 150,
        ..config()
    };
    for run_job in [false, true] {
        let mem = MemStorage::new();
        let mut log = open(&mem, small());
        for tag in 0..6 {
            append(&mut log, tag, 2, 0);
        }
        log.sync().unwrap();
        assert!(log.segment_base_offsets().len() >= 3, "rolled");
        drop(log);
        let mut log =
            Log::open_unflushed(Arc::new(mem.clone()), Path::new(DIR), small(), 0).unwrap();
        mem.forbid_sync(true);
        assert_eq!(log.cut_at_open(3).unwrap(), 2, "the batch [2, 4) goes");
        mem.forbid_sync(false);
        assert_eq!(
            log.segment_base_offsets(),
            vec![0, 2],
            "later segments gone"
        );
        if run_job {
            let (job, point) = log.flush_job().expect("the open's job");
            job.run().unwrap();
            log.flushed(point);
        }
        drop(log);
        mem.crash();
        let log = open(&mem, small());
        let offsets = read_all_unchecked(&log);
        if run_job {
            assert_eq!(log.log_end_offset(), 2);
        } else {
            assert!(log.log_end_offset() >= 2);
        }
        let expected: Vec<i64> = (0..log.log_end_offset()).step_by(2).collect();
        assert_eq!(offsets, expected, "dense batches (job ran: {run_job})");
    }
}

#[test]
fn delete_records_persists_the_log_start() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 2,
            ..config()
        },
    );
    for tag in 0..5 {
        append(&mut log, tag, 2, 0);
    }
    log.sync().unwrap();
    assert!(matches!(
        log.delete_records_before(11, 0),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records_before(5, 0).unwrap(), 5);
    assert_eq!(
        log.segment_base_offsets(),
        vec![4, 8],
        "[0,4) deleted, [4,8) holds offset 5"
    );
    assert!(matches!(
        log.read(4, 100),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // The batch containing offset 5 is served (consumers skip offset 4).
    assert_eq!(log.read(5, 1).unwrap().first_offset, 4);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((5, 0)));
    assert_eq!(
        log.delete_records_before(3, 0).unwrap(),
        5,
        "never moves back"
    );
    assert_eq!(log.durable_log_start(), 0, "written by the next flush job");
    // A crash before (or inside) the job: see the test below.
    let (job, point) = log.flush_job().expect("the log start is pending");
    job.run().unwrap();
    log.flushed(point);
    assert_eq!(log.durable_log_start(), 5);
    drop(log);
    mem.crash();
    let log = open(&mem, config());
    assert_eq!(log.log_start_offset(), 5);
    assert_eq!(log.log_end_offset(), 10);
}

/// A crash after any prefix of a DeleteRecords job's ops recovers either the old log start
/// with all the data or the new one, never a log start pointing into removed files.
#[test]
fn a_crash_inside_a_delete_records_job_keeps_the_old_or_the_new_log_start() {
    let one = batch(0, 2, 0).len() as u64;
    let small = LogConfig {
        segment_bytes: one * 2,
        ..config()
    };
    let prepare = || {
        let mem = MemStorage::new();
        let mut log = open(&mem, small.clone());
        for tag in 0..5 {
            append(&mut log, tag, 2, 0);
        }
        log.sync().unwrap();
        assert_eq!(log.delete_records_before(9, 0).unwrap(), 9);
        let (job, _) = log.flush_job().expect("pending");
        (mem, job)
    };
    let (_, job) = prepare();
    let ops = job.ops().to_vec();
    let kinds: Vec<String> = ops.iter().map(|op| format!("{op:?}")).collect();
    let checkpoint_at = kinds
        .iter()
        .position(|k| k.contains("log-start-offset.checkpoint"))
        .expect("writes the log start");
    let first_removal = kinds
        .iter()
        .position(|k| k.starts_with("RemoveFile"))
        .expect("removes files");
    assert!(checkpoint_at < first_removal, "{kinds:?}");
    for done in 0..=ops.len() {
        let (mem, _) = prepare();
        PersistJob::new(Arc::new(mem.clone()), ops[..done].to_vec())
            .run()
            .unwrap();
        mem.crash();
        let log = open(&mem, small.clone());
        let records = read_all(&log);
        if done <= checkpoint_at {
            assert_eq!(log.log_start_offset(), 0, "after {done} ops");
            assert_eq!(records.len(), 5, "after {done} ops");
        } else {
            assert_eq!(log.log_start_offset(), 9, "after {done} ops");
            assert_eq!(records.first().map(|r| r.0), Some(8), "after {done} ops");
        }
    }
}

/// A truncation writes a still-pending DeleteRecords log start inline (it fences the job that
/// would have written it), without syncing the data below it; a later DeleteRecords is only
/// in memory. A crash that then loses the unsynced data restarts the log empty at the durable
/// log start, inside a batch: Kafka's rule (a log start may be inside a batch, and the log
/// restarts there when its records are gone). Neither the lost batch's end nor the later,
/// never-durable log start comes back.
#[test]
fn a_crash_after_a_truncation_restarts_empty_at_the_durable_log_start() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    append(&mut log, 0, 1, 0); // [0, 1)
    log.roll(0).unwrap();
    append(&mut log, 1, 3, 0); // [1, 4): the log starts inside it below
    append(&mut log, 2, 2, 0); // [4, 6)
    log.roll(0).unwrap();
    append(&mut log, 3, 2, 0); // [6, 8)
    assert_eq!(log.delete_records_before(2, 0).unwrap(), 2);
    assert_eq!(log.durable_log_start(), 0, "pending for the next flush job");
    // Cut at the third segment's base: the data below stays unsynced.
    assert_eq!(log.truncate_to(6).unwrap(), 6);
    assert_eq!(log.durable_log_start(), 2, "the truncation wrote it inline");
    assert_eq!(log.synced_offset(), 0);
    append(&mut log, 4, 2, 0); // [6, 8)
    assert_eq!(log.delete_records_before(3, 0).unwrap(), 3);
    assert_eq!(log.durable_log_start(), 2, "the second move is not durable");
    drop(log);
    mem.crash();
    let mut log = open(&mem, config());
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (2, 2),
        "restarted empty at the durable log start"
    );
    assert!(read_all(&log).is_empty());
    assert_eq!(append(&mut log, 5, 1, 0).first_offset, 2);
}

#[test]
fn reopen_after_clean_close_skips_validation() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    for tag in 0..20 {
        append(&mut log, tag, 1, tag as i64);
    }
    let before = read_all(&log);
    log.close().unwrap();
    assert!(file_len(&mem, "clean-shutdown").is_some());
    // Flip a record byte of the last batch: with a clean shutdown the CRC is not re-checked
    // (that is the point of the marker), so the batch is still served as stored.
    let path = Path::new(DIR).join(seg_name(0, ".log"));
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let file = storage.open(&path, false).unwrap();
    let len = file.len_bytes().unwrap();
    file.write_at(len - 1, b"Z").unwrap();
    file.sync().unwrap();
    let log = open(&mem, config());
    assert!(
        file_len(&mem, "clean-shutdown").is_none(),
        "marker removed at open"
    );
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(log.synced_offset(), 20);
    assert_eq!(
        read_all_unchecked(&log),
        before.iter().map(|(o, _)| *o).collect::<Vec<_>>()
    );
    assert_eq!(log.read(19, 1).unwrap().bytes.last(), Some(&b'Z'));
    assert_eq!(log.offset_for_timestamp(19).unwrap(), Some((19, 19)));
    // Without the marker (crash after reopen), the same bytes are validated and cut.
    drop(log);
    mem.crash();
    let log = open(&mem, config());
    assert_eq!(log.log_end_offset(), 19);
    assert_eq!(read_all(&log), before[..19].to_vec());
}

/// A sealed segment below the recovery point keeps its indexes and is not re-validated at a
/// reopen (only segments past the recovery point are): a flipped byte in it is served as
/// stored, as in the active segment after a clean close.
#[test]
fn reopen_loads_a_sealed_segment_without_validating_it() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    for tag in 0..5 {
        append(&mut log, tag, 1, tag as i64);
    }
    log.roll(5).unwrap();
    append(&mut log, 5, 1, 5);
    log.sync().unwrap();
    drop(log);
    mem.crash();
    let path = Path::new(DIR).join(seg_name(0, ".log"));
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let file = storage.open(&path, false).unwrap();
    let len = file.len_bytes().unwrap();
    file.write_at(len - 1, b"Z").unwrap();
    file.sync().unwrap();
    let log = open(&mem, config());
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.read(4, 1).unwrap().bytes.last(), Some(&b'Z'));
}

#[test]
fn crash_loses_only_unsynced_appends() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    append(&mut log, 0, 3, 0);
    log.sync().unwrap();
    append(&mut log, 1, 3, 0);
    assert_eq!(log.synced_offset(), 3);
    drop(log);
    mem.crash();
    let mut log = open(&mem, config());
    assert_eq!(log.log_end_offset(), 3);
    // Torn write of the next append: whatever prefix survives, the log ends at a batch.
    let mut rng = SmallRng::seed_from_u64(7);
    for round in 0..20 {
        append(&mut log, round, 2, 0);
        let synced = log.synced_offset();
        let end = log.log_end_offset();
        drop(log);
        mem.crash_torn(&mut rng);
        log = open(&mem, config());
        let e = log.log_end_offset();
        assert!(synced <= e && e <= end, "{synced} <= {e} <= {end}");
        assert_eq!(
            read_all(&log)
                .last()
                .map(|(o, b)| o + batch::BatchHeader::parse(b).unwrap().offset_count()),
            Some(e)
        );
    }
}

#[test]
fn corruption_inside_a_segment_cuts_it_and_drops_later_segments() {
    let mem = MemStorage::new();
    let one = batch(0, 1, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 3,
            ..config()
        },
    );
    for tag in 0..7 {
        append(&mut log, tag, 1, 0);
    }
    log.sync().unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 3, 6]);
    drop(log);
    // Damage batch 4 (second of segment 3) and remove the recovery point, so segment 3 is
    // re-validated.
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let file = storage
        .open(&Path::new(DIR).join(seg_name(3, ".log")), false)
        .unwrap();
    file.write_at(one + HEADER_BYTES as u64, b"!").unwrap();
    file.sync().unwrap();
    storage
        .remove_file(&Path::new(DIR).join("recovery-point.checkpoint"))
        .unwrap();
    let log = open(&mem, config());
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.segment_base_offsets(), vec![0, 3]);
    assert_eq!(read_all(&log).len(), 4);
    assert!(file_len(&mem, &seg_name(6, ".log")).is_none());
}

/// A sealed segment below the recovery point is trusted with its indexes, but not when its
/// log file is empty (lost at rest): it is recovered, and the log ends where it began. With
/// index entries the index check alone sees it; without any (segments smaller than the index
/// interval) only the size check does.
#[test]
fn an_emptied_sealed_segment_is_recovered_not_trusted() {
    let one = batch(0, 1, 0).len() as u64;
    for index_interval_bytes in [one, one * 100] {
        let mem = MemStorage::new();
        let config = LogConfig {
            segment_bytes: one * 10,
            index_interval_bytes,
            ..config()
        };
        let mut log = open(&mem, config.clone());
        for tag in 0..25 {
            append(&mut log, tag, 1, 1_000);
        }
        log.sync().unwrap();
        let before = read_all(&log);
        drop(log);
        mem.crash();
        overwrite(&mem, &Path::new(DIR).join(seg_name(10, ".log")), &[]);
        let log = open(&mem, config);
        assert_eq!(
            log.log_end_offset(),
            10,
            "index interval {index_interval_bytes}"
        );
        assert_eq!(read_all(&log), before[..10]);
    }
}

/// 25 one-record batches (timestamps 1000..1025) in segments of ten, an offset-index entry
/// due at every batch, synced, then a crash: the config to reopen with and every batch read
/// before the crash.
fn indexed_log_after_a_crash(mem: &MemStorage) -> (LogConfig, Vec<(i64, Vec<u8>)>) {
    let one = batch(0, 1, 0).len() as u64;
    let config = LogConfig {
        segment_bytes: one * 10,
        index_interval_bytes: one,
        ..config()
    };
    let mut log = open(mem, config.clone());
    for tag in 0..25 {
        append(&mut log, tag, 1, 1_000 + tag as i64);
    }
    log.sync().unwrap();
    let before = read_all(&log);
    assert_eq!(before.len(), 25);
    drop(log);
    mem.crash();
    (config, before)
}

/// Replaces the whole content of the file at `path`, durably.
fn overwrite(mem: &MemStorage, path: &Path, bytes: &[u8]) {
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let f = storage.open(path, false).unwrap();
    f.truncate(0).unwrap();
    f.append(bytes).unwrap();
    f.sync().unwrap();
}

/// Index entries name offsets relative to their segment's base (Kafka's format), in a later
/// segment too: segment 10's entries for the batches at 11 to 18 say 1 to 8 (its batches are
/// each longer than the interval: an entry at every one but the first), in both indexes.
#[test]
fn a_later_segments_index_entries_are_relative_to_its_base() {
    use super::index::{Entry, OffsetEntry};
    use super::time_index::TimeEntry;
    let mem = MemStorage::new();
    indexed_log_after_a_crash(&mem);
    assert!(mem
        .read_file(&Path::new(DIR).join(seg_name(19, ".log")))
        .is_some());
    let one = batch(10, 1, 0).len() as u32;
    let file = |suffix| {
        mem.read_file(&Path::new(DIR).join(seg_name(10, suffix)))
            .unwrap()
    };
    let offsets: Vec<(u32, u32)> = (file(".index").chunks(OffsetEntry::BYTES))
        .map(OffsetEntry::decode)
        .map(|e| (e.relative_offset, e.position))
        .collect();
    assert_eq!(
        offsets,
        (1..=8).map(|rel| (rel, rel * one)).collect::<Vec<_>>(),
        "(relative offset, position)"
    );
    let times: Vec<(i64, u32)> = (file(".timeindex").chunks(TimeEntry::BYTES))
        .map(TimeEntry::decode)
        .map(|e| (e.timestamp_ms, e.relative_offset))
        .collect();
    let expected: Vec<(i64, u32)> = (1..=8).map(|rel| (1_010 + rel as i64, rel)).collect();
    assert_eq!(times, expected);
}

/// The entry a roll adds to the sealed segment's time index carries its largest timestamp,
/// which a reopen takes from there without scanning (ListOffsets -3 answers it).
#[test]
fn a_sealed_segments_largest_timestamp_survives_a_reopen() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    // Too few bytes for an index entry: only the roll's final entry records 5_000.
    append(&mut log, 0, 1, 1_000);
    append(&mut log, 1, 1, 5_000);
    log.roll(5_000).unwrap();
    append(&mut log, 2, 1, 2_000);
    assert_eq!(log.max_timestamp().unwrap(), Some((5_000, 1)));
    log.sync().unwrap();
    drop(log);
    mem.crash();
    let log = open(&mem, config());
    assert_eq!(log.max_timestamp().unwrap(), Some((5_000, 1)));
}

#[test]
fn damaged_indexes_are_rebuilt() {
    let mem = MemStorage::new();
    let (config, before) = indexed_log_after_a_crash(&mem);
    let index0 = mem
        .read_file(&Path::new(DIR).join(seg_name(0, ".index")))
        .unwrap();
    // An entry once more than index_interval_bytes were written since the last (Kafka's
    // rule): batches 2, 4, 6 and 8 of the ten.
    assert_eq!(index0.len(), 8 * 4, "entries every other batch");
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    // Segment 0: wrong size multiple. Segment 10: entries out of order. Time index of 0:
    // points past the end. Segment 10's time index: deleted.
    let f = storage
        .open(&dir.join(seg_name(0, ".index")), false)
        .unwrap();
    f.append(&[1, 2, 3]).unwrap();
    f.sync().unwrap();
    let mut swapped = mem.read_file(&dir.join(seg_name(10, ".index"))).unwrap();
    swapped[..8].copy_from_slice(&[0, 0, 0, 9, 0, 0, 0xff, 0]);
    overwrite(&mem, &dir.join(seg_name(10, ".index")), &swapped);
    storage
        .remove_file(&dir.join(seg_name(10, ".timeindex")))
        .unwrap();

    let log = open(&mem, config.clone());
    assert_eq!(read_all(&log), before);
    assert_eq!(
        mem.read_file(&dir.join(seg_name(0, ".index"))).unwrap(),
        index0
    );
    for offset in 0..25 {
        let s = log.read(offset, 1).unwrap();
        assert_eq!(s.first_offset, offset);
        assert_eq!(
            log.offset_for_timestamp(1_000 + offset).unwrap(),
            Some((offset, 1_000 + offset))
        );
    }
    let timeindex10 = mem
        .read_file(&dir.join(seg_name(10, ".timeindex")))
        .unwrap();
    assert!(!timeindex10.is_empty() && timeindex10.len() % 12 == 0);
}

#[test]
fn offset_for_timestamp_edges() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 4,
            index_interval_bytes: 1,
            ..config()
        },
    );
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None, "empty log");
    // Timestamps 100, 200, ..., one batch of 2 records each; one out-of-order batch.
    for i in 0..10 {
        append(&mut log, i, 2, 100 * (i as i64 + 1));
    }
    append(&mut log, 10, 2, 150);
    assert!(log.segment_count() >= 3);
    assert_eq!(
        log.offset_for_timestamp(0).unwrap(),
        Some((0, 100)),
        "before the first"
    );
    assert_eq!(
        log.offset_for_timestamp(100).unwrap(),
        Some((0, 100)),
        "exact"
    );
    assert_eq!(
        log.offset_for_timestamp(101).unwrap(),
        Some((2, 200)),
        "between"
    );
    assert_eq!(
        log.offset_for_timestamp(700).unwrap(),
        Some((12, 700)),
        "in a later segment"
    );
    assert_eq!(
        log.offset_for_timestamp(1_000).unwrap(),
        Some((18, 1_000)),
        "the last"
    );
    assert_eq!(
        log.offset_for_timestamp(1_001).unwrap(),
        None,
        "past the last"
    );
}

#[test]
fn offset_for_timestamp_passes_over_a_batch_whose_late_records_lie_below_the_log_start() {
    let mem = MemStorage::new();
    let mut log = open(
        &mem,
        LogConfig {
            index_interval_bytes: 1,
            ..config()
        },
    );
    append(&mut log, 0, 2, 100);
    // Offsets 2 and 3 stamped 300 and 100: the batch's maxTimestamp (300) reaches the target
    // 250, but its only record that late (offset 2) lies below the log start 3. The search
    // must move on to the next batch, which does not start the segment.
    let mut mixed = build_batch_with_timestamps(&[(None, b"late"), (None, b"early")], &[300, 100]);
    log.append(&mut mixed, 5, 300).expect("append");
    append(&mut log, 2, 2, 400);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.delete_records_before(3, 0).unwrap(), 3);
    assert_eq!(log.offset_for_timestamp(250).unwrap(), Some((4, 400)));
}

/// A batch claiming `count` records. Marked gzip: the log checks a compressed batch's header
/// and CRC, never its records (the partition validated them), so a few bytes can span 2^31
/// offsets.
fn claiming(count: i32) -> Vec<u8> {
    let mut b = batch(0, 1, 0);
    b[21..23].copy_from_slice(&1i16.to_be_bytes()); // attributes: gzip
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes()); // lastOffsetDelta
    b[57..61].copy_from_slice(&count.to_be_bytes()); // recordsCount
    let crc = batch::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn one_append_may_span_u32_max_offsets_and_not_one_more() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    // 2 * (2^31 - 1) + 2 offsets: one more than a segment's relative index can tell apart.
    let mut too_many = [claiming(i32::MAX), claiming(i32::MAX), claiming(2)].concat();
    assert!(matches!(
        log.append(&mut too_many, 5, 0),
        Err(LogError::InvalidBatch {
            position: 0,
            source: BatchError::CorruptBatch { .. }
        })
    ));
    assert_eq!(log.log_end_offset(), 0, "nothing written");
    let mut most = [claiming(i32::MAX), claiming(i32::MAX), claiming(1)].concat();
    let info = log
        .append(&mut most, 5, 0)
        .expect("u32::MAX offsets fit one segment");
    assert_eq!(
        (info.first_offset, info.last_offset),
        (0, u32::MAX as i64 - 1)
    );
    assert_eq!(log.log_end_offset(), u32::MAX as i64);
}

#[test]
fn a_segment_rolls_only_when_an_offset_would_not_fit_its_u32_relative_index() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    for count in [i32::MAX, i32::MAX, 2] {
        let mut b = claiming(count);
        log.append(&mut b, 5, 0).unwrap();
    }
    // Relative offset u32::MAX still fits segment 0's index.
    assert_eq!(log.log_end_offset(), u32::MAX as i64 + 1);
    assert_eq!(log.segment_base_offsets(), vec![0]);
    // The next one would not.
    log.append(&mut claiming(1), 5, 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, u32::MAX as i64 + 1]);
}

#[test]
fn a_full_truncation_may_restart_at_offset_0_but_not_below() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    append(&mut log, 0, 3, 0);
    assert!(matches!(
        log.truncate_fully_and_start_at(-1, 0),
        Err(LogError::OffsetOutOfRange { offset: -1, .. })
    ));
    assert_eq!(log.log_end_offset(), 3, "a refusal changes nothing");
    log.truncate_fully_and_start_at(0, 0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    assert!(read_all(&log).is_empty());
}

#[test]
fn follower_append_keeps_offsets_and_must_be_contiguous() {
    let mem = MemStorage::new();
    let mut leader = open(&mem, config());
    append(&mut leader, 0, 2, 0);
    append(&mut leader, 1, 3, 0);
    let fetched = leader.read(0, 1 << 20).unwrap().bytes;

    let follower_mem = MemStorage::new();
    let mut follower = open(&follower_mem, config());
    let info = follower.append_as_follower(&fetched, 0).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 4));
    assert_eq!(read_all(&follower), read_all(&leader));
    // A gap, or re-sending the same batches, is refused.
    assert!(matches!(
        follower.append_as_follower(&fetched, 0),
        Err(LogError::NonContiguousAppend {
            expected: 5,
            got: 0
        })
    ));
    let mut gap = batch(2, 1, 0);
    batch::set_base_offset(&mut gap, 6).unwrap();
    assert!(matches!(
        follower.append_as_follower(&gap, 0),
        Err(LogError::NonContiguousAppend { .. })
    ));
    assert_eq!(follower.log_end_offset(), 5);
    // A follower restarting from a leader's later log start.
    follower.truncate_fully_and_start_at(100, 0).unwrap();
    assert_eq!(
        (follower.log_start_offset(), follower.log_end_offset()),
        (100, 100)
    );
    batch::set_base_offset(&mut gap, 100).unwrap();
    follower.append_as_follower(&gap, 0).unwrap();
    drop(follower);
    follower_mem.crash();
    let follower = open(&follower_mem, config());
    assert_eq!(follower.log_start_offset(), 100);
    assert!(follower.log_end_offset() >= 100);
}

#[test]
fn sync_points_and_flush_policy() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    assert!(!log.flush_due(0));
    append(&mut log, 0, 2, 0);
    assert!(log.flush_due(0), "EveryAppend wants a sync at once");
    let (handle, point) = log.flush_job().expect("unsynced appends to flush");
    assert_eq!(point.covers_offset, 2);
    append(&mut log, 1, 2, 0);
    handle.run().unwrap();
    log.flushed(point);
    assert_eq!(log.synced_offset(), 2, "the later append is not covered");
    // A sync racing with a truncation does not mark re-appended data durable.
    let (handle, point) = log.flush_job().expect("unsynced appends to flush");
    log.truncate_to(2).unwrap();
    append(&mut log, 2, 2, 0);
    handle.run().unwrap();
    log.flushed(point);
    assert_eq!(log.synced_offset(), 2);

    log.set_config(LogConfig {
        flush: FlushPolicy::IntervalMs(50),
        ..config()
    })
    .unwrap();
    log.sync().unwrap();
    append(&mut log, 3, 1, 1_000);
    assert!(!log.flush_due(1_049));
    assert!(log.flush_due(1_050));
    log.set_config(LogConfig {
        flush: FlushPolicy::Os,
        ..config()
    })
    .unwrap();
    assert!(!log.flush_due(1_000_000));
}

#[test]
fn bad_configs_are_refused() {
    let mem = MemStorage::new();
    for bad in [
        LogConfig {
            segment_bytes: 10,
            ..config()
        },
        LogConfig {
            segment_bytes: 1 << 40,
            ..config()
        },
        LogConfig {
            segment_ms: 0,
            ..config()
        },
        LogConfig {
            batch_bytes_max: 0,
            ..config()
        },
    ] {
        let err = Log::open(Arc::new(mem.clone()), Path::new(DIR), bad, 0).unwrap_err();
        assert!(matches!(err, LogError::InvalidConfig { .. }), "{err}");
    }
}

#[test]
fn garbage_files_never_panic_open() {
    let mem = MemStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    storage.create_dir_all(dir).unwrap();
    let mut state = 0x9e37_79b9u32;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    };
    for (name, len) in [
        (seg_name(0, ".log"), 500),
        (seg_name(0, ".index"), 17),
        (seg_name(0, ".timeindex"), 24),
        (seg_name(7, ".index"), 8),
        ("recovery-point.checkpoint".to_string(), 20),
        ("log-start-offset.checkpoint".to_string(), 3),
        ("clean-shutdown".to_string(), 20),
        ("junk.tmp".to_string(), 4),
    ] {
        let f = storage.open(&dir.join(name), true).unwrap();
        f.append(&noise(len)).unwrap();
        f.sync().unwrap();
    }
    let mut log = open(&mem, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    assert!(
        file_len(&mem, &seg_name(7, ".index")).is_none(),
        "orphan index removed"
    );
    assert!(file_len(&mem, "junk.tmp").is_none());
    append(&mut log, 0, 1, 0);
    assert_eq!(read_all(&log).len(), 1);
}

#[test]
fn works_on_real_files_across_clean_and_unclean_reopen() {
    use crate::storage::file::FileStorage;
    let root = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(root.path().to_path_buf()));
    let one = batch(0, 2, 0).len() as u64;
    let config = LogConfig {
        segment_bytes: one * 3,
        ..config()
    };
    let mut log = Log::open(storage.clone(), Path::new(DIR), config.clone(), 0).unwrap();
    for tag in 0..8 {
        append(&mut log, tag, 2, tag as i64);
    }
    let before = read_all(&log);
    log.close().unwrap();
    assert!(root.path().join(DIR).join("clean-shutdown").exists());
    let mut log = Log::open(storage.clone(), Path::new(DIR), config.clone(), 0).unwrap();
    assert_eq!(read_all(&log), before);
    append(&mut log, 8, 2, 8);
    log.sync().unwrap();
    drop(log); // no close: the next open recovers the active segment
    let log = Log::open(storage, Path::new(DIR), config, 0).unwrap();
    assert_eq!(log.log_end_offset(), 18);
    assert_eq!(read_all(&log)[..8], before[..]);
    assert_eq!(log.offset_for_timestamp(5).unwrap(), Some((10, 5)));
}

/// A log whose segments hold one 2-record batch each, with two batches appended: one roll
/// (segments 0 and 2) recorded but not flushed. The roll ran with fsyncs forbidden.
fn rolled_unflushed(mem: &MemStorage) -> Log {
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        mem,
        LogConfig {
            segment_bytes: one,
            ..config()
        },
    );
    mem.forbid_sync(true);
    append(&mut log, 0, 2, 0);
    append(&mut log, 1, 2, 0);
    mem.forbid_sync(false);
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    assert!(log.has_pending());
    assert_eq!((log.synced_offset(), log.recovery_point()), (0, 0));
    log
}

fn recovery_point_on_disk(mem: &MemStorage) -> Option<i64> {
    checkpoint::read(mem, Path::new(DIR), checkpoint::Kind::RecoveryPoint).unwrap()
}

#[test]
fn a_roll_fsyncs_nothing_and_its_flush_job_moves_the_recovery_point() {
    let mem = MemStorage::new();
    let mut log = rolled_unflushed(&mem);
    let (job, point) = log.flush_job().unwrap();
    assert_eq!(
        job.ops().len(),
        5,
        "sealed files, active file, dir, epoch checkpoint (epoch 5 started), recovery point: {job:?}"
    );
    assert_eq!((point.covers_offset, point.recovery_point), (4, Some(2)));
    assert!(!log.has_pending(), "taken by the job");
    assert!(
        log.flush_job().is_some(),
        "the active file is still unsynced"
    );
    job.run().unwrap();
    assert_eq!(
        log.recovery_point(),
        0,
        "moves only when the job is reported done"
    );
    log.flushed(point);
    assert_eq!((log.synced_offset(), log.recovery_point()), (4, 2));
    assert_eq!(recovery_point_on_disk(&mem), Some(2));
    assert!(log.flush_job().is_none(), "nothing left to do");
}

#[test]
fn a_crash_before_the_flush_job_recovers_from_the_old_recovery_point() {
    let mem = MemStorage::new();
    let log = rolled_unflushed(&mem);
    drop(log);
    mem.crash();
    assert_eq!(recovery_point_on_disk(&mem), Some(0));
    let log = open(&mem, config());
    // Nothing was synced after open, so nothing had to survive; what did is whole batches.
    assert_eq!(log.log_end_offset() % 2, 0);
    assert_eq!(read_all(&log).len() as i64, log.log_end_offset() / 2);
}

#[test]
fn a_truncation_wins_over_a_flush_job_made_before_it() {
    for run_before_truncation in [false, true] {
        let mem = MemStorage::new();
        let mut log = rolled_unflushed(&mem);
        let (job, point) = log.flush_job().unwrap();
        assert_eq!(point.recovery_point, Some(2));
        if run_before_truncation {
            job.run().unwrap();
            assert_eq!(recovery_point_on_disk(&mem), Some(2));
        }
        // Cut inside the first segment: it is active again and the recovery point drops to 0.
        assert_eq!(log.truncate_to(1).unwrap(), 0);
        assert_eq!(recovery_point_on_disk(&mem), Some(0));
        append(&mut log, 5, 2, 0);
        if !run_before_truncation {
            job.run().unwrap();
        }
        log.flushed(point);
        assert_eq!(
            (log.recovery_point(), recovery_point_on_disk(&mem)),
            (0, Some(0)),
            "the stale job raised nothing (ran before the truncation: {run_before_truncation})"
        );
        assert_eq!(
            log.synced_offset(),
            0,
            "the re-appended batch is not durable yet"
        );
        log.sync().unwrap();
        assert_eq!(log.synced_offset(), log.log_end_offset());
    }
}

/// A mutation other than an append that finds the disk full cannot be undone: the log fails,
/// and says it was for want of space (the partition reports that, not a broken disk).
#[test]
fn a_truncation_that_finds_the_disk_full_fails_the_log_as_out_of_space() {
    use crate::storage::disk_full::full_disk::FullDisk;
    let disk = FullDisk::new();
    let mut log = Log::open(Arc::new(disk.clone()), Path::new(DIR), config(), 0).unwrap();
    append(&mut log, 1, 3, 10);
    log.sync().unwrap();
    disk.set_full(true);
    let error = log.truncate_to(1).unwrap_err();
    assert!(matches!(error, LogError::Io { .. }), "{error}");
    assert!(error.is_storage_full(), "{error}");
    assert!(log.failed_out_of_space());
}

#[test]
fn an_append_refused_for_want_of_space_is_undone_and_the_log_stays_usable() {
    use crate::storage::disk_full::full_disk::FullDisk;
    let disk = FullDisk::new();
    let mut log = Log::open(Arc::new(disk.clone()), Path::new(DIR), config(), 0).unwrap();
    append(&mut log, 1, 3, 10);
    let size = log.size_bytes();
    disk.set_full(true);
    let mut refused = batch(2, 3, 20);
    let error = log.append(&mut refused, 5, 20).unwrap_err();
    assert!(matches!(error, LogError::OutOfSpace { .. }), "{error}");
    assert!(error.is_storage_full());
    assert!(
        log.out_of_space() && !log.is_failed(),
        "undone, not poisoned"
    );
    assert_eq!(log.size_bytes(), size);
    assert_eq!(log.log_end_offset(), 3);
    disk.set_full(false);
    append(&mut log, 3, 2, 30);
    assert!(!log.out_of_space(), "a write that succeeds clears it");
    assert_eq!(log.log_end_offset(), 5);
    // No torn half-batch in the file: the next open finds exactly what was acknowledged.
    drop(log);
    let log = Log::open(Arc::new(disk.mem.clone()), Path::new(DIR), config(), 0).unwrap();
    assert_eq!(
        read_all(&log).iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        vec![0, 3]
    );
}

#[test]
fn a_cut_below_the_log_start_is_refused_and_a_cut_at_the_end_changes_nothing() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    for tag in 0..3 {
        append(&mut log, tag, 2, 0);
    }
    log.sync().unwrap();
    let synced = log.synced_offset();
    assert_eq!(log.truncate_to(6).unwrap(), 6, "at the end: nothing to cut");
    assert_eq!(
        log.synced_offset(),
        synced,
        "a cut that cuts nothing unsyncs nothing"
    );
    assert_eq!(log.delete_records_before(4, 0).unwrap(), 4);
    assert!(matches!(
        log.truncate_to(2),
        Err(LogError::OffsetOutOfRange {
            offset: 2,
            log_start_offset: 4,
            ..
        })
    ));
    assert_eq!(log.log_end_offset(), 6, "a refused cut cuts nothing");
}

#[test]
fn validate_takes_every_bound_itself_and_refuses_just_past_it() {
    let ok = |c: LogConfig| c.validate().is_ok();
    let base = config();
    assert!(ok(LogConfig {
        retention_ms: Some(0),
        ..base.clone()
    }));
    assert!(!ok(LogConfig {
        retention_ms: Some(-1),
        ..base.clone()
    }));
    assert!(ok(LogConfig {
        segment_bytes: HEADER_BYTES as u64,
        ..base.clone()
    }));
    assert!(!ok(LogConfig {
        segment_bytes: HEADER_BYTES as u64 - 1,
        ..base.clone()
    }));
    assert!(ok(LogConfig {
        segment_bytes: SEGMENT_BYTES_MAX,
        ..base.clone()
    }));
    assert!(!ok(LogConfig {
        segment_bytes: SEGMENT_BYTES_MAX + 1,
        ..base.clone()
    }));
    assert!(ok(LogConfig {
        segment_ms: 1,
        ..base.clone()
    }));
    assert!(!ok(LogConfig {
        segment_ms: 0,
        ..base.clone()
    }));
    assert!(ok(LogConfig {
        batch_bytes_max: HEADER_BYTES,
        ..base.clone()
    }));
    assert!(!ok(LogConfig {
        batch_bytes_max: HEADER_BYTES - 1,
        ..base
    }));
}

#[test]
fn a_sealed_index_whose_last_entry_misses_its_batch_is_rebuilt() {
    let mem = MemStorage::new();
    let (config, before) = indexed_log_after_a_crash(&mem);
    // Segment 0's last entry (relative offset u32, position u32) now points one byte into its
    // batch: sorted and in range, so only the spot check sees it.
    let path = Path::new(DIR).join(seg_name(0, ".index"));
    let index0 = mem.read_file(&path).unwrap();
    let mut damaged = index0.clone();
    let at = damaged.len() - 4;
    let position = u32::from_be_bytes(damaged[at..].try_into().unwrap());
    damaged[at..].copy_from_slice(&(position + 1).to_be_bytes());
    overwrite(&mem, &path, &damaged);

    let log = open(&mem, config);
    assert_eq!(mem.read_file(&path).unwrap(), index0, "rebuilt");
    assert_eq!(read_all(&log), before);
    for offset in 0..25 {
        assert_eq!(log.read(offset, 1).unwrap().first_offset, offset);
    }
}

/// An entry before the last one pointing into its batch passes the open's sanity check (the
/// entries stay sorted and in range, the last one is right): reads through it scan from an
/// earlier entry instead of failing as corrupt. Found by the simulator (seed 31 with
/// `--sasl`): a bit flip at rest in a sealed segment's index, and a group member whose fetch
/// at the offset its commits were reset to answered KAFKA_STORAGE_ERROR for good.
#[test]
fn an_earlier_index_entry_that_misses_its_batch_is_read_around() {
    let mem = MemStorage::new();
    let (config, before) = indexed_log_after_a_crash(&mem);
    // Segment 0's first entry (the batch at offset 1) now points one byte into its batch.
    let path = Path::new(DIR).join(seg_name(0, ".index"));
    let mut damaged = mem.read_file(&path).unwrap();
    let position = u32::from_be_bytes(damaged[4..8].try_into().unwrap());
    damaged[4..8].copy_from_slice(&(position + 1).to_be_bytes());
    overwrite(&mem, &path, &damaged);

    let log = open(&mem, config);
    assert_eq!(
        mem.read_file(&path).unwrap(),
        damaged,
        "not seen at the open"
    );
    for offset in 0..25 {
        assert_eq!(log.read(offset, 1).unwrap().first_offset, offset);
    }
    assert_eq!(read_all(&log), before);
}

#[test]
fn the_max_timestamp_ignores_segments_below_the_log_start() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 2,
            ..config()
        },
    );
    // Segment 0 holds the largest timestamp; DeleteRecords then moves the log start past it
    // (removing the segment).
    for (tag, ts) in [(0, 900), (1, 100), (2, 200), (3, 300)] {
        append(&mut log, tag, 2, ts);
    }
    assert_eq!(log.max_timestamp().unwrap(), Some((900, 0)));
    assert_eq!(log.delete_records_before(4, 0).unwrap(), 4);
    assert_eq!(log.max_timestamp().unwrap(), Some((300, 6)));
    // Everything deleted: the active segment stays, wholly below the log start, and carries
    // no record a consumer may still read.
    assert_eq!(log.delete_records_before(8, 0).unwrap(), 8);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.max_timestamp().unwrap(), None);
}

#[test]
fn a_truncation_keeps_the_unsynced_segments_below_its_cut_pending_their_sync() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 2,
            ..config()
        },
    );
    for tag in 0..7 {
        append(&mut log, tag, 2, 0);
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8, 12]);
    // Segments 0, 4 and 8 were sealed but never synced; the cut lands inside segment 8.
    assert_eq!(log.truncate_to(10).unwrap(), 10);
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8]);
    let (job, point) = log.flush_job().unwrap();
    let synced_files: Vec<usize> = job
        .ops()
        .iter()
        .filter_map(|op| match op {
            crate::storage::persist::PersistOp::SyncFiles(files) => Some(files.len()),
            _ => None,
        })
        .collect();
    // The three files of each of segments 0 and 4 (still in the log, not yet durable), then
    // the active segment's log: the flush's recovery point passes them, so they must be synced.
    assert_eq!(synced_files, vec![6, 1], "{job:?}");
    job.run().expect("sync");
    log.flushed(point);
    assert_eq!(log.synced_offset(), 10);
}

#[test]
fn a_truncation_to_the_log_start_leaves_the_log_start_checkpoint_alone() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    append(&mut log, 0, 2, 0);
    append(&mut log, 1, 2, 0);
    let checkpoint = || file_len(&mem, super::checkpoint::LOG_START_FILE);
    assert_eq!(checkpoint(), None, "log start 0 was never written");
    // The cut ends the log at its start, which does not move: nothing to write (the write
    // is synchronous, a temporary file and two syncs on the truncation's path).
    assert_eq!(log.truncate_to(0).unwrap(), 0);
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(checkpoint(), None);
}

/// Once the flush job that wrote a checkpoint is reported done, the log knows what is on disk:
/// a truncation that leaves the recovery point (or the log start) where that job put it writes
/// no checkpoint (the write is synchronous, a temporary file and two syncs on the
/// truncation's path). Only while such a job may still be running must the cut write it
/// itself. A disk refusing every write that grows a file would fail any such write.
#[test]
fn a_truncation_after_a_completed_flush_job_rewrites_no_checkpoint_that_job_wrote() {
    // A job writing the recovery point alone.
    let mem = MemStorage::new();
    let mut log = rolled_unflushed(&mem);
    let (job, point) = log.flush_job().unwrap();
    assert_eq!((point.recovery_point, point.log_start), (Some(2), None));
    job.run().unwrap();
    log.flushed(point);
    mem.fail_writes(Some(std::io::ErrorKind::Other));
    assert_eq!(log.truncate_to(3).unwrap(), 2, "the recovery point stays 2");
    assert_eq!(recovery_point_on_disk(&mem), Some(2));

    // A job writing the log start alone (and removing the segment below it).
    let mem = MemStorage::new();
    let mut log = rolled_unflushed(&mem);
    append(&mut log, 2, 2, 0);
    log.sync().unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4]);
    assert_eq!(log.delete_records_before(2, 0).unwrap(), 2);
    let (job, point) = log.flush_job().unwrap();
    assert_eq!((point.recovery_point, point.log_start), (None, Some(2)));
    job.run().unwrap();
    log.flushed(point);
    mem.fail_writes(Some(std::io::ErrorKind::Other));
    assert_eq!(log.truncate_to(5).unwrap(), 4, "the log start stays 2");
    assert_eq!(log.durable_log_start(), 2);
}

#[test]
fn sealed_segments_removed_before_their_sync_are_not_synced() {
    let mem = MemStorage::new();
    let one = batch(0, 2, 0).len() as u64;
    let mut log = open(
        &mem,
        LogConfig {
            segment_bytes: one * 2,
            ..config()
        },
    );
    for tag in 0..6 {
        append(&mut log, tag, 2, 0);
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 4, 8]);
    // Segments 0 and 4 were sealed but never synced; DeleteRecords removes both.
    assert_eq!(log.delete_records_before(8, 0).unwrap(), 8);
    assert_eq!(log.segment_base_offsets(), vec![8]);
    let (job, point) = log.flush_job().unwrap();
    let synced_files: usize = job
        .ops()
        .iter()
        .map(|op| match op {
            crate::storage::persist::PersistOp::SyncFiles(files) => files.len(),
            _ => 0,
        })
        .sum();
    // Only the active segment's log file, not the six of the removed segments: a removed file
    // may not be reopenable to sync it (the descriptor cache reopens by path).
    assert_eq!(synced_files, 1, "{job:?}");
    job.run()
        .expect("the job syncs only files that still exist");
    log.flushed(point);
    assert_eq!(log.synced_offset(), log.log_end_offset());
}

#[test]
fn an_append_of_more_than_i32_max_bytes_is_refused_as_too_large() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    // Zeroed pages are mapped lazily: the size check comes before any byte is read.
    let mut huge = vec![0u8; APPEND_BYTES_MAX + 1];
    assert!(matches!(
        log.append(&mut huge, 5, 0),
        Err(LogError::AppendTooLarge { bytes, max })
            if bytes == APPEND_BYTES_MAX + 1 && max == APPEND_BYTES_MAX
    ));
    drop(huge);
    assert_eq!(log.log_end_offset(), 0);
    append(&mut log, 1, 2, 10);
    assert_eq!(log.log_end_offset(), 2, "the log is still usable");
}

/// A follower's restart (`Log::restart_ops`): checkpoints first, then every other file but the
/// label, then the directory; the open after it starts empty at the offset. A crash right
/// after the checkpoints (the rest not run) opens a log that holds nothing below the new start
/// and trusts no segment without recovering it.
#[test]
fn a_restart_writes_its_checkpoints_first_and_opens_empty_at_the_offset() {
    let mem = MemStorage::new();
    let mut log = open(&mem, config());
    for tag in 0..5 {
        append(&mut log, tag, 2, 1_000);
    }
    log.sync().unwrap();
    drop(log);
    let ops = Log::restart_ops(&mem, Path::new(DIR), 50).unwrap();
    assert!(matches!(ops[0], PersistOp::ReplaceFile { .. }));
    assert!(matches!(ops[1], PersistOp::ReplaceFile { .. }));
    assert!(matches!(ops.last(), Some(PersistOp::SyncDir(_))));
    // Crashed after the checkpoints: everything the log held is below the new start.
    let checkpoints = PersistJob::new(Arc::new(mem.clone()), ops[..2].to_vec());
    checkpoints.run().unwrap();
    let log = open(&mem, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (50, 50));
    drop(log);
    // The whole job.
    let mut log = open(&mem, config());
    append(&mut log, 9, 1, 2_000);
    log.sync().unwrap();
    drop(log);
    let ops = Log::restart_ops(&mem, Path::new(DIR), 70).unwrap();
    PersistJob::new(Arc::new(mem.clone()), ops).run().unwrap();
    let log = open(&mem, config());
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (70, 70));
    assert!(log.epoch_entries().is_empty());
}
