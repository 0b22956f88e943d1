//! Unit tests of the log's leader-epoch cache wiring (`epochs.rs`): assigned on append, written
//! by the flush job before the recovery point, truncated with the log, loaded and repaired at
//! open, crashes included.

use std::path::Path;
use std::sync::Arc;

use super::epoch_cache::{EpochEndOffset, EpochEntry, LeaderEpochCache};
use super::*;
use crate::storage::batch::build_batch;
use crate::storage::mem::MemStorage;
use crate::storage::persist::{self, PersistOp};

const DIR: &str = "e-0";

fn config() -> LogConfig {
    LogConfig {
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn open(mem: &MemStorage) -> Log {
    Log::open(Arc::new(mem.clone()), Path::new(DIR), config(), 0).expect("open")
}

/// Appends one batch of `records` records as the leader in `epoch`; returns its base offset.
fn append_in(log: &mut Log, epoch: i32, records: usize) -> i64 {
    let values: Vec<Vec<u8>> = (0..records).map(|i| vec![b'v'; 10 + i]).collect();
    let recs: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, v.as_slice())).collect();
    let mut batch = build_batch(&recs, 0);
    log.append(&mut batch, epoch, 0)
        .expect("append")
        .first_offset
}

fn entries(pairs: &[(i32, i64)]) -> Vec<EpochEntry> {
    pairs
        .iter()
        .map(|&(epoch, start_offset)| EpochEntry {
            epoch,
            start_offset,
        })
        .collect()
}

/// The entries of `leader-epoch-checkpoint` as a crash would find it; `None` if absent.
fn durable_entries(mem: &MemStorage) -> Option<Vec<EpochEntry>> {
    let bytes = mem.durable_file(&epochs::path(Path::new(DIR)))?;
    let cache = LeaderEpochCache::parse(&bytes).expect("the log writes valid checkpoints");
    Some(cache.entries().to_vec())
}

fn flush(log: &mut Log) {
    let (job, point) = log.flush_job().expect("something to flush");
    job.run().expect("job runs");
    log.flushed(point);
}

/// Epoch 0 (two batches) then epoch 3 (one batch), all flushed. Returns the log and the start
/// of epoch 3.
fn two_epochs(mem: &MemStorage) -> (Log, i64) {
    let mut log = open(mem);
    append_in(&mut log, 0, 2);
    append_in(&mut log, 0, 1);
    let start_of_3 = append_in(&mut log, 3, 2);
    flush(&mut log);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, start_of_3)]));
    (log, start_of_3)
}

#[test]
fn a_new_epoch_is_assigned_at_its_first_batch_and_written_by_the_next_flush_job() {
    let mem = MemStorage::new();
    let mut log = open(&mem);
    assert!(log.epoch_entries().is_empty() && log.latest_epoch().is_none());
    append_in(&mut log, 0, 2);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0)]));
    assert!(
        !log.has_pending(),
        "a new epoch alone asks for no flush: it rides the next job"
    );
    assert_eq!(durable_entries(&mem), None, "nothing written inline");
    let (job, point) = log.flush_job().unwrap();
    match job.ops() {
        [PersistOp::SyncFiles(active), PersistOp::ReplaceFile { path, fence, .. }] => {
            assert_eq!(active.len(), 1);
            assert_eq!(path, &Path::new(DIR).join("leader-epoch-checkpoint"));
            assert!(fence.is_some(), "a truncation fences it off");
        }
        other => panic!("unexpected ops {other:?}"),
    }
    job.run().unwrap();
    log.flushed(point);
    assert_eq!(durable_entries(&mem), Some(entries(&[(0, 0)])));

    append_in(&mut log, 0, 1);
    assert!(!log.has_pending(), "the same epoch changes nothing");
    let (job, point) = log.flush_job().unwrap();
    assert!(
        matches!(job.ops(), [PersistOp::SyncFiles(_)]),
        "the hot path stays one op: {job:?}"
    );
    job.run().unwrap();
    log.flushed(point);

    let start_of_3 = append_in(&mut log, 3, 1);
    assert_eq!(start_of_3, 3);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, 3)]));
    assert_eq!(log.latest_epoch(), Some(3));
    assert_eq!(
        log.end_offset_for(0),
        EpochEndOffset {
            epoch: 0,
            end_offset: 3
        }
    );
    assert_eq!(
        log.end_offset_for(3),
        EpochEndOffset {
            epoch: 3,
            end_offset: 4
        },
        "the latest epoch ends at the log end"
    );
    flush(&mut log);
    assert_eq!(durable_entries(&mem), Some(entries(&[(0, 0), (3, 3)])));
}

#[test]
fn the_epoch_file_is_written_before_the_recovery_point_in_a_rolling_job() {
    let mem = MemStorage::new();
    let one = build_batch(&[(None, b"xxxxxxxxxx")], 0).len() as u64;
    let mut log = Log::open(
        Arc::new(mem.clone()),
        Path::new(DIR),
        LogConfig {
            segment_bytes: one,
            ..config()
        },
        0,
    )
    .unwrap();
    append_in(&mut log, 2, 1);
    append_in(&mut log, 2, 1); // rolls
    let (job, _) = log.flush_job().unwrap();
    let replaced: Vec<&Path> = job
        .ops()
        .iter()
        .filter_map(|op| match op {
            PersistOp::ReplaceFile { path, .. } => Some(path.as_path()),
            _ => None,
        })
        .collect();
    assert_eq!(
        replaced,
        vec![
            Path::new(DIR).join("leader-epoch-checkpoint").as_path(),
            Path::new(DIR).join("recovery-point.checkpoint").as_path()
        ]
    );
}

#[test]
fn truncating_below_the_start_of_an_epoch_removes_it_durably() {
    let mem = MemStorage::new();
    let (mut log, start_of_3) = two_epochs(&mem);
    assert_eq!(log.truncate_to(start_of_3 + 1).unwrap(), start_of_3);
    assert_eq!(
        log.epoch_entries(),
        entries(&[(0, 0)]),
        "epoch 3 started at the new log end"
    );
    assert_eq!(durable_entries(&mem), Some(entries(&[(0, 0)])), "inline");
    assert!(!log.has_pending());
    // A cut inside an epoch keeps its entry; a cut at its start removes it.
    assert_eq!(log.truncate_to(2).unwrap(), 2);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0)]));
    assert_eq!(
        log.truncate_to(1).unwrap(),
        0,
        "the first batch holds two records"
    );
    assert!(log.epoch_entries().is_empty());
    assert_eq!(durable_entries(&mem), Some(Vec::new()));
}

#[test]
fn an_older_flush_job_cannot_bring_back_a_truncated_epoch() {
    for run_before_truncation in [false, true] {
        let mem = MemStorage::new();
        let mut log = open(&mem);
        append_in(&mut log, 0, 1);
        flush(&mut log);
        let start_of_3 = append_in(&mut log, 3, 1);
        let (job, point) = log.flush_job().unwrap();
        if run_before_truncation {
            job.run().unwrap();
            assert_eq!(
                durable_entries(&mem),
                Some(entries(&[(0, 0), (3, start_of_3)]))
            );
        }
        log.truncate_to(start_of_3).unwrap();
        if !run_before_truncation {
            job.run().unwrap();
        }
        log.flushed(point);
        assert_eq!(
            durable_entries(&mem),
            Some(entries(&[(0, 0)])),
            "ran before the truncation: {run_before_truncation}"
        );
    }
}

#[test]
fn a_reopen_loads_the_cache_after_a_clean_close_and_after_a_crash() {
    let mem = MemStorage::new();
    let (log, start_of_3) = two_epochs(&mem);
    log.close().unwrap();
    let log = open(&mem);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, start_of_3)]));
    drop(log);
    mem.crash();
    let log = open(&mem);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, start_of_3)]));
}

#[test]
fn a_crash_before_the_flush_loses_the_entry_with_its_data() {
    let mem = MemStorage::new();
    let mut log = open(&mem);
    append_in(&mut log, 0, 2);
    flush(&mut log);
    append_in(&mut log, 3, 2);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, 2)]));
    drop(log);
    mem.crash();
    let log = open(&mem);
    assert_eq!(log.log_end_offset(), 2, "the unsynced batch is gone");
    assert_eq!(log.epoch_entries(), entries(&[(0, 0)]));
    assert_eq!(durable_entries(&mem), Some(entries(&[(0, 0)])));
}

#[test]
fn a_crash_after_the_data_but_before_the_epoch_file_rebuilds_the_entry_from_the_batches() {
    let mem = MemStorage::new();
    let mut log = open(&mem);
    append_in(&mut log, 0, 2);
    flush(&mut log);
    append_in(&mut log, 3, 2);
    // Only the data reaches the disk: the job's first op, then a crash.
    let (job, _) = log.flush_job().unwrap();
    let PersistOp::SyncFiles(files) = &job.ops()[0] else {
        panic!("the job starts with the active file: {job:?}");
    };
    for file in files {
        file.sync().unwrap();
    }
    drop(log);
    mem.crash();
    assert_eq!(durable_entries(&mem), Some(entries(&[(0, 0)])));
    let log = open(&mem);
    assert_eq!(log.log_end_offset(), 4, "the data survived");
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, 2)]));
    assert_eq!(
        durable_entries(&mem),
        Some(entries(&[(0, 0), (3, 2)])),
        "written before the recovery point moved over it"
    );
}

#[test]
fn an_entry_past_the_recovered_log_end_is_dropped_from_the_file_at_open() {
    let mem = MemStorage::new();
    let mut log = open(&mem);
    append_in(&mut log, 0, 2);
    flush(&mut log);
    append_in(&mut log, 3, 2);
    // The epoch file reaches the disk, the data does not.
    let (job, _) = log.flush_job().unwrap();
    let PersistOp::ReplaceFile { path, bytes, .. } = &job.ops()[1] else {
        panic!("the epoch file follows the active file: {job:?}");
    };
    persist::replace_file(&mem, path, bytes).unwrap();
    drop(log);
    mem.crash();
    assert_eq!(durable_entries(&mem), Some(entries(&[(0, 0), (3, 2)])));
    let log = open(&mem);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0)]));
    assert_eq!(
        durable_entries(&mem),
        Some(entries(&[(0, 0)])),
        "rewritten before anything can be appended"
    );
}

#[test]
fn a_damaged_file_is_rebuilt_from_the_batches() {
    let mem = MemStorage::new();
    let (log, start_of_3) = two_epochs(&mem);
    log.close().unwrap();
    for garbage in [&b"0\n2\n0 0\n"[..], b"\xff\xfe", b"7\n0\n"] {
        persist::replace_file(&mem, &epochs::path(Path::new(DIR)), garbage).unwrap();
        let log = open(&mem);
        assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, start_of_3)]));
        assert_eq!(
            durable_entries(&mem),
            Some(entries(&[(0, 0), (3, start_of_3)])),
            "rewritten at open"
        );
        log.close().unwrap();
    }
    // Too large to be read at all.
    let huge = vec![b'0'; epoch_cache::CHECKPOINT_BYTES_MAX + 1];
    persist::replace_file(&mem, &epochs::path(Path::new(DIR)), &huge).unwrap();
    assert_eq!(
        open(&mem).epoch_entries(),
        entries(&[(0, 0), (3, start_of_3)])
    );
}

/// Seed 902: a bit flip turned the file's "0 0" into "8 0", which still parses; the follower
/// then asked its leader for epoch 8 at every fetch and never caught up. A recovered batch
/// older than the epoch the file gives its offset shows the file wrong: it is rebuilt.
#[test]
fn a_readable_file_the_batches_contradict_is_rebuilt_from_them() {
    let mem = MemStorage::new();
    let (log, start_of_3) = two_epochs(&mem);
    drop(log); // no clean shutdown: the active segment is recovered at the next open
    let flipped = b"0\n1\n8 0\n";
    persist::replace_file(&mem, &epochs::path(Path::new(DIR)), flipped).unwrap();
    let log = open(&mem);
    assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, start_of_3)]));
    assert_eq!(
        durable_entries(&mem),
        Some(entries(&[(0, 0), (3, start_of_3)])),
        "rewritten at open"
    );
}

#[test]
fn log_start_moves_cut_the_epochs_below_it() {
    let mem = MemStorage::new();
    let (mut log, start_of_3) = two_epochs(&mem);
    log.delete_records_before(1, 0).unwrap();
    assert_eq!(log.epoch_entries(), entries(&[(0, 1), (3, start_of_3)]));
    flush(&mut log); // nothing unsynced: the changed cache alone makes the job

    assert_eq!(
        durable_entries(&mem),
        Some(entries(&[(0, 1), (3, start_of_3)]))
    );
    log.delete_records_before(start_of_3 + 1, 0).unwrap();
    assert_eq!(log.epoch_entries(), entries(&[(3, start_of_3 + 1)]));
    // Not flushed: the crash keeps the old log start (its checkpoint rides the same job as the
    // file), so the reopened cache starts there too.
    drop(log);
    mem.crash();
    let mut log = open(&mem);
    assert_eq!(log.epoch_entries(), entries(&[(0, 1), (3, start_of_3)]));
    // Flushed: the checkpoint and the file land together; a reopen sees both cut.
    log.delete_records_before(start_of_3 + 1, 0).unwrap();
    flush(&mut log);
    drop(log);
    mem.crash();
    assert_eq!(open(&mem).epoch_entries(), entries(&[(3, start_of_3 + 1)]));
}

#[test]
fn a_restart_at_a_later_offset_forgets_every_epoch() {
    let mem = MemStorage::new();
    let (mut log, _) = two_epochs(&mem);
    log.truncate_fully_and_start_at(100, 0).unwrap();
    assert!(log.epoch_entries().is_empty());
    assert_eq!(durable_entries(&mem), Some(Vec::new()));
    append_in(&mut log, 7, 1);
    assert_eq!(log.epoch_entries(), entries(&[(7, 100)]));
}

#[test]
fn a_follower_append_assigns_each_epoch_the_leader_wrote() {
    let leader_mem = MemStorage::new();
    let mut leader = open(&leader_mem);
    append_in(&mut leader, 1, 2);
    append_in(&mut leader, 1, 1);
    append_in(&mut leader, 4, 1);
    let fetched = leader.read(0, 1 << 20).unwrap().bytes;
    let mem = MemStorage::new();
    let mut follower = open(&mem);
    follower.append_as_follower(&fetched, 0).unwrap();
    assert_eq!(follower.epoch_entries(), entries(&[(1, 0), (4, 3)]));
    assert_eq!(follower.epoch_entries(), leader.epoch_entries());
}

#[test]
fn a_log_without_the_file_opens_with_no_epochs() {
    let mem = MemStorage::new();
    let (log, _) = two_epochs(&mem);
    log.close().unwrap();
    mem.remove_file(&epochs::path(Path::new(DIR))).unwrap();
    let mut log = open(&mem);
    assert!(log.epoch_entries().is_empty(), "existing data, no file");
    let next = append_in(&mut log, 3, 1);
    assert_eq!(log.epoch_entries(), entries(&[(3, next)]));
}

/// A new leader's epoch starts at the log end at once and is written by the next flush job;
/// an epoch not newer than the latest (a stale view of the metadata) changes nothing.
#[test]
fn a_new_leaders_epoch_begins_at_the_log_end_and_an_older_one_changes_nothing() {
    let mem = MemStorage::new();
    let (mut log, start_of_3) = two_epochs(&mem);
    let end = log.log_end_offset();
    for stale in [0, 2, 3] {
        log.begin_epoch(stale);
        assert_eq!(log.epoch_entries(), entries(&[(0, 0), (3, start_of_3)]));
    }
    assert!(
        log.flush_job().is_none(),
        "nothing changed, nothing to write"
    );
    log.begin_epoch(7);
    assert_eq!(
        log.epoch_entries(),
        entries(&[(0, 0), (3, start_of_3), (7, end)])
    );
    assert_eq!(
        log.end_offset_for(3).end_offset,
        end,
        "epoch 3 ends where 7 began"
    );
    flush(&mut log);
    assert_eq!(
        durable_entries(&mem),
        Some(entries(&[(0, 0), (3, start_of_3), (7, end)]))
    );
    // Its first append adds nothing.
    append_in(&mut log, 7, 1);
    assert_eq!(
        log.epoch_entries(),
        entries(&[(0, 0), (3, start_of_3), (7, end)])
    );
}

/// A follower copies a compacted leader's batches as they are: one extended over removed
/// batches (`lastOffsetDelta` past its records) and one emptied by the cleaner (no records)
/// are taken, and offsets stay where the leader has them; a produce of such a batch is not.
#[test]
fn a_follower_takes_the_cleaners_batch_shapes_a_producer_may_not_send() {
    let mem = MemStorage::new();
    let mut log = open(&mem);
    let mut extended = build_batch(&[(Some(b"k"), b"v")], 0);
    batch::set_partition_leader_epoch(&mut extended, 3).unwrap();
    batch::extend_to(&mut extended, 5);
    let mut emptied = batch::empty_spanning(&extended, 9);
    batch::set_base_offset(&mut emptied, 5).unwrap();
    batch::extend_to(&mut emptied, 9);
    let mut copied = extended.clone();
    copied.extend_from_slice(&emptied);
    log.append_as_follower(&copied, 0)
        .expect("the leader's stored batches");
    assert_eq!(log.log_end_offset(), 9);
    assert_eq!(log.latest_epoch(), Some(3));
    let mut produced = extended.clone();
    assert!(
        log.append(&mut produced, 3, 0).is_err(),
        "a producer's batch must be dense"
    );
}
