//! The cleaner against a model (proptest), and crashes at every step of a swap.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::storage::batch::{self, build_batch_records, BatchHeader, Batches};
use crate::storage::log::LogError;
use crate::storage::log::{Log, LogConfig};
use crate::storage::mem::MemStorage;
use crate::storage::{Storage, StorageFile};

const DIR: &str = "compacted-0";

/// One record as a reader sees it: `(offset, key, value)`.
type Rec = (i64, u8, Option<u16>);

fn config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 100,
        retention_ms: None,
        ..LogConfig::default()
    }
}

fn clean_config(delete_retention_ms: i64) -> CleanConfig {
    CleanConfig {
        delete_retention_ms,
        min_cleanable_dirty_ratio: 0.0,
        ..CleanConfig::default()
    }
}

fn open(storage: Arc<dyn Storage>) -> Log {
    Log::open(storage, Path::new(DIR), config(), 0).expect("open")
}

/// Appends one batch of `(key, value)` records stamped `ts` and syncs (the cleaner only
/// rewrites synced segments).
fn append(log: &mut Log, records: &[(u8, Option<u16>)], ts: i64) -> i64 {
    let keys: Vec<[u8; 1]> = records.iter().map(|(k, _)| [*k]).collect();
    let values: Vec<Option<[u8; 2]>> = records
        .iter()
        .map(|(_, v)| v.map(|v| v.to_be_bytes()))
        .collect();
    let recs: Vec<(Option<&[u8]>, Option<&[u8]>)> = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| (Some(&k[..]), v.as_ref().map(|v| &v[..])))
        .collect();
    let mut b = build_batch_records(&recs, ts);
    let info = log.append(&mut b, 1, ts).expect("append");
    log.sync().expect("sync");
    info.first_offset
}

/// Every record from the log start, checking what a consumer relies on: valid batches (CRC
/// included) and strictly increasing offsets.
fn read_records(log: &Log) -> Vec<Rec> {
    let mut out: Vec<Rec> = Vec::new();
    let mut offset = log.log_start_offset();
    let mut next_batch: Option<i64> = None;
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 300).expect("read");
        assert!(slice.next_offset > offset, "no progress at {offset}");
        for item in Batches::stored(&slice.bytes) {
            let (at, header) = item.expect("served batches are valid");
            if let Some(expected) = next_batch {
                assert_eq!(header.base_offset, expected, "batches stay dense");
            }
            next_batch = Some(header.next_offset());
            let bytes = &slice.bytes[at..at + header.total_bytes()];
            for record in batch::records(bytes) {
                let record = record.expect("records walk");
                if record.offset < offset {
                    continue;
                }
                let key = record.key.expect("every test record has a key")[0];
                let value = record.value.map(|v| u16::from_be_bytes([v[0], v[1]]));
                if let Some(last) = out.last() {
                    assert!(last.0 < record.offset, "offsets must strictly increase");
                }
                out.push((record.offset, key, value));
            }
        }
        offset = slice.next_offset;
    }
    out
}

/// Every record appended, for the model: offset → (key, value, timestamp).
type Model = BTreeMap<i64, (u8, Option<u16>, i64)>;

/// Checks the log's records against everything appended (`model`) after cleans up to
/// `cleaned_end`, the last at `clean_ms`; `horizons` holds each tombstone's delete horizon
/// (the first clean that covered it, plus `delete.retention.ms`).
fn check_cleaned(
    records: &[Rec],
    model: &Model,
    cleaned_end: i64,
    clean_ms: i64,
    horizons: &BTreeMap<i64, i64>,
) -> Result<(), TestCaseError> {
    // Unchanged: each record read is the one appended at its offset.
    for (offset, key, value) in records {
        let appended = model.get(offset).expect("a record read was appended");
        prop_assert_eq!(
            (appended.0, appended.1),
            (*key, *value),
            "offset {}",
            offset
        );
    }
    let present: BTreeMap<i64, (u8, Option<u16>)> =
        records.iter().map(|(o, k, v)| (*o, (*k, *v))).collect();
    // Every key's latest record survives (a tombstone only until a clean at its horizon).
    let mut latest: BTreeMap<u8, i64> = BTreeMap::new();
    for (offset, (key, _, _)) in model {
        latest.insert(*key, *offset);
    }
    for (key, offset) in &latest {
        let (_, value, _) = model[offset];
        let may_go = value.is_none() && horizons.get(offset).is_some_and(|h| clean_ms >= *h);
        prop_assert!(
            may_go || present.contains_key(offset),
            "key {}'s latest record at {} is gone",
            key,
            offset
        );
    }
    // Below the cleaner point nothing older than a key's latest value in that range survives.
    let mut seen_below: BTreeMap<u8, i64> = BTreeMap::new();
    for (offset, key, _) in records.iter().filter(|r| r.0 < cleaned_end) {
        if let Some(earlier) = seen_below.insert(*key, *offset) {
            prop_assert!(
                false,
                "key {} survives at {} and {} below the cleaner point {}",
                key,
                earlier,
                offset,
                cleaned_end
            );
        }
    }
    // Records never written out of order: above the cleaner point everything stays.
    for (offset, (key, value, _)) in model.range(cleaned_end..) {
        prop_assert_eq!(present.get(offset), Some(&(*key, *value)));
    }
    Ok(())
}

/// A clean covered the model's records below `end`: a tombstone there that no clean covered
/// before gets its delete horizon.
fn covered(horizons: &mut BTreeMap<i64, i64>, model: &Model, end: i64, horizon_ms: i64) {
    for (offset, (_, value, _)) in model.range(..end) {
        if value.is_none() {
            horizons.entry(*offset).or_insert(horizon_ms);
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u8, Option<u16>)>),
    Roll,
    Clean,
    /// A clean bounded to one dirty segment and two keys.
    CleanBounded,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let record = (0u8..6, prop::option::weighted(0.85, any::<u16>()));
    prop_oneof![
        6 => prop::collection::vec(record, 1..5).prop_map(Op::Append),
        2 => Just(Op::Roll),
        2 => Just(Op::Clean),
        2 => Just(Op::CleanBounded),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cleaning_keeps_every_keys_latest_value(ops in prop::collection::vec(op(), 1..60)) {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut log = open(storage.clone());
        let mut model = Model::new();
        let mut now_ms = 1_000i64;
        let retention_ms = 50;
        let mut cleaned_end = 0;
        let mut last_clean_ms = 0;
        let mut horizons: BTreeMap<i64, i64> = BTreeMap::new();
        for op in ops {
            now_ms += 7;
            match op {
                Op::Append(records) => {
                    let first = append(&mut log, &records, now_ms);
                    for (i, (key, value)) in records.into_iter().enumerate() {
                        model.insert(first + i as i64, (key, value, now_ms));
                    }
                }
                Op::Roll => {
                    log.roll(now_ms).expect("roll");
                    log.sync().expect("sync");
                }
                Op::Clean => {
                    let end = log.log_end_offset();
                    if log.clean(&clean_config(retention_ms), end, now_ms).expect("clean").is_some() {
                        cleaned_end = log.first_dirty_offset();
                        last_clean_ms = now_ms;
                        covered(&mut horizons, &model, cleaned_end, now_ms + retention_ms);
                    }
                    prop_assert_eq!(log.log_start_offset(), 0, "the log start never moves");
                }
                Op::CleanBounded => {
                    let end = log.log_end_offset();
                    if let Some(job) = log.clean_job(&clean_config(retention_ms), end, now_ms) {
                        let cleaned = job.bounded(1, 2).run(&mut |_| {}).expect("run");
                        prop_assert!(log.swap_cleaned(cleaned).expect("swap"));
                        // A bounded clean may end below where an earlier one got (a
                        // truncation-free log never lowers the position, but take no
                        // chances).
                        cleaned_end = cleaned_end.max(log.first_dirty_offset());
                        last_clean_ms = now_ms;
                        let end = log.first_dirty_offset();
                        covered(&mut horizons, &model, end, now_ms + retention_ms);
                    }
                }
                Op::Reopen => {
                    let position = log.first_dirty_offset();
                    log.close().expect("close");
                    log = open(storage.clone());
                    // The close wrote the cleaner's position: the clean part stays clean.
                    prop_assert_eq!(log.first_dirty_offset(), position);
                }
            }
            let records = read_records(&log);
            check_cleaned(&records, &model, cleaned_end, last_clean_ms, &horizons)?;
        }
        let end = log.log_end_offset();
        let before = read_records(&log);
        log.close().expect("close");
        let log = open(storage);
        prop_assert_eq!(log.log_end_offset(), end);
        prop_assert_eq!(read_records(&log), before, "a reopened log reads the same");
    }
}

/// A log of `rounds` segments, each writing every key of `0..keys` once (key 0 deleted in the
/// last round), all synced; returns it with its records.
fn populated(storage: Arc<dyn Storage>, rounds: u16, keys: u8) -> (Log, Vec<Rec>) {
    let mut log = open(storage);
    for round in 0..rounds {
        for key in 0..keys {
            let deleted = round == rounds - 1 && key == 0;
            let value = if deleted { None } else { Some(round) };
            append(&mut log, &[(key, value)], 1_000 + round as i64);
        }
        log.roll(2_000).expect("roll");
        log.sync().expect("sync");
    }
    let records = read_records(&log);
    (log, records)
}

#[test]
fn a_clean_shrinks_the_log_to_the_latest_values() {
    let (mut log, before) = populated(Arc::new(MemStorage::new()), 4, 5);
    assert_eq!(before.len(), 20);
    let size_before = log.size_bytes();
    let stats = log
        .clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    assert_eq!((stats.segments, stats.keys), (4, 5));
    let after = read_records(&log);
    // Keys 1..5 keep round 3's value; key 0's tombstone stays (retention not over).
    let latest: Vec<Rec> = (15..20)
        .map(|o| (o, (o - 15) as u8, (o != 15).then_some(3)))
        .collect();
    assert_eq!(after, latest);
    assert!(log.size_bytes() < size_before);
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.first_dirty_offset(), 20);
    assert_eq!(
        log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
            .expect("clean"),
        None,
        "nothing dirty is left"
    );
    let overdue = CleanConfig {
        max_compaction_lag_ms: 0,
        ..clean_config(100)
    };
    assert_eq!(
        log.clean(&overdue, i64::MAX, 10_000).expect("clean"),
        None,
        "max.compaction.lag.ms applies to dirty records only"
    );
}

/// Segments a clean left holding only record-less batches do not end a read: one read from
/// the log start goes on to the first record (a consumer handed only record-less batches takes
/// them for a record too large to fetch).
#[test]
fn a_read_from_the_start_of_a_cleaned_log_reaches_a_record() {
    let (mut log, _) = populated(Arc::new(MemStorage::new()), 4, 5);
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    let slice = log.read(0, 1 << 20).expect("read");
    let batches: Vec<BatchHeader> = Batches::stored(&slice.bytes)
        .map(|item| item.expect("valid").1)
        .collect();
    assert_eq!(
        batches.first().map(|h| h.base_offset),
        Some(0),
        "dense from 0"
    );
    assert!(
        batches.iter().any(|h| h.records_count > 0),
        "the answer holds a record: {batches:?}"
    );
    assert_eq!(slice.next_offset, 20, "and everything up to the log end");
    let small = log.read(0, 1).expect("read");
    assert_eq!(
        Batches::stored(&small.bytes).count(),
        1,
        "past max_bytes only the first batch is served"
    );
}

/// KIP-534: a tombstone stays `delete.retention.ms` after the first clean that kept it,
/// however old its own timestamp; that clean stamps the batch with the horizon and every
/// record keeps its timestamp.
#[test]
fn the_tombstone_goes_delete_retention_after_the_first_clean_that_kept_it() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, _) = populated(storage.clone(), 3, 2);
    // Long past the tombstone's own timestamp (1_002): the first clean keeps it anyway.
    let first_clean_ms = 100_000;
    log.clean(&clean_config(500), i64::MAX, first_clean_ms)
        .expect("clean")
        .expect("due");
    assert!(
        read_records(&log).iter().any(|r| r.1 == 0),
        "kept by the first clean"
    );
    let slice = log.read(4, 10_000).expect("read");
    let (_, header) = Batches::stored(&slice.bytes)
        .next()
        .expect("one")
        .expect("valid");
    assert_eq!(header.delete_horizon_ms(), Some(first_clean_ms + 500));
    let tombstone = batch::records(&slice.bytes[..header.total_bytes()])
        .next()
        .expect("a record")
        .expect("valid");
    assert_eq!(
        (tombstone.offset, tombstone.timestamp_ms, tombstone.value),
        (4, 1_002, None),
        "the record keeps its offset and timestamp"
    );
    assert!(
        log.clean_job(&clean_config(500), i64::MAX, first_clean_ms + 10_000)
            .is_none(),
        "nothing dirty"
    );
    // Reopened without its cleaner checkpoint (as a log cleaned before checkpoints, or after
    // an opaque clean) the whole log is dirty again: a clean before the horizon keeps the
    // tombstone, one at it removes it.
    for (now_ms, kept) in [(first_clean_ms + 499, true), (first_clean_ms + 500, false)] {
        log.close().expect("close");
        let checkpoint = Path::new(DIR).join("cleaner-offset.checkpoint");
        storage
            .remove_file(&checkpoint)
            .expect("the close wrote the checkpoint");
        log = open(storage.clone());
        log.clean(&clean_config(500), i64::MAX, now_ms)
            .expect("clean")
            .expect("due");
        assert_eq!(
            read_records(&log).iter().any(|r| r.1 == 0),
            kept,
            "at {now_ms}"
        );
    }
    let after = read_records(&log);
    assert!(after.iter().all(|r| r.1 != 0), "key 0 is gone: {after:?}");
    // Offsets stay dense: the removed batches are covered by record-less or extended ones.
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4, 6]);
    let slice = log.read(0, 10_000).expect("read");
    let spans: Vec<(i64, i32, i32)> = Batches::stored(&slice.bytes)
        .map(|item| item.expect("valid").1)
        .map(|h| (h.base_offset, h.last_offset_delta, h.records_count))
        .collect();
    assert_eq!(
        spans,
        vec![(0, 1, 0), (2, 1, 0), (4, 0, 0), (5, 0, 1)],
        "fillers span the removed records; the read goes on through them to a record"
    );
}

#[test]
fn the_upper_bound_and_the_active_segment_are_never_cleaned() {
    let (mut log, before) = populated(Arc::new(MemStorage::new()), 3, 2);
    append(&mut log, &[(1, Some(9))], 5_000);
    assert_eq!(
        log.clean(&clean_config(0), 2, 6_000)
            .expect("clean")
            .map(|s| s.segments),
        Some(1)
    );
    let after = read_records(&log);
    // Offsets 0 and 1 are the only ones of their keys below 2: nothing to remove there.
    assert_eq!(
        &after[..],
        &[before.clone(), vec![(6, 1, Some(9))]].concat()[..]
    );
}

#[test]
fn a_producer_s_last_batch_keeps_its_header() {
    let mut log = open(Arc::new(MemStorage::new()));
    for seq in 0..3 {
        let mut b = batch::build_idempotent_batch(&[(Some(b"k"), b"v")], 1_000, 7, 0, seq);
        log.append(&mut b, 1, 1_000).expect("append");
    }
    append(&mut log, &[(b'k', Some(1))], 1_000);
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(0), i64::MAX, 2_000)
        .expect("clean")
        .expect("due");
    let slice = log.read(0, 10_000).expect("read");
    let headers: Vec<BatchHeader> = Batches::stored(&slice.bytes)
        .map(|item| item.expect("valid").1)
        .collect();
    let shape: Vec<(i64, i64, i32)> = headers
        .iter()
        .map(|h| (h.base_offset, h.producer_id, h.records_count))
        .collect();
    // Producer 7's first two batches go (one record-less batch without a producer spans
    // them); its last stays as an empty header with its sequence.
    assert_eq!(shape, vec![(0, -1, 0), (2, 7, 0), (3, -1, 1)]);
    assert_eq!(headers[0].last_offset_delta, 1);
    assert_eq!(headers[1].base_sequence, 2);
}

/// Offsets 0 (`first`, key `a`), 1-2 (key 9, superseded by offset 3) and 3, cleaned: the
/// batches' `(base offset, producer id, lastOffsetDelta, records)`.
fn cleaned_spans(first: Vec<u8>) -> Vec<(i64, i64, i32, i32)> {
    let mut log = open(Arc::new(MemStorage::new()));
    let mut first = first;
    log.append(&mut first, 1, 1_000).expect("append");
    for value in 1..=3 {
        append(&mut log, &[(9, Some(value))], 1_000);
    }
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(0), i64::MAX, 2_000)
        .expect("clean")
        .expect("due");
    let slice = log.read(0, 10_000).expect("read");
    Batches::stored(&slice.bytes)
        .map(|item| item.expect("valid").1)
        .map(|h| {
            (
                h.base_offset,
                h.producer_id,
                h.last_offset_delta,
                h.records_count,
            )
        })
        .collect()
}

#[test]
fn a_kept_plain_batch_is_extended_over_the_removed_ones_and_a_producer_batch_gets_a_filler() {
    let plain = batch::build_batch(&[(Some(b"a"), b"v")], 1_000);
    assert_eq!(
        cleaned_spans(plain),
        vec![(0, -1, 2, 1), (3, -1, 0, 1)],
        "the plain batch's lastOffsetDelta covers offsets 1-2; no filler"
    );
    // A producer's lastOffsetDelta also states its sequence range: it stays, and a
    // record-less batch spans the removed offsets.
    let idempotent = batch::build_idempotent_batch(&[(Some(b"a"), b"v")], 1_000, 7, 0, 0);
    assert_eq!(
        cleaned_spans(idempotent),
        vec![(0, 7, 0, 1), (1, -1, 1, 0), (3, -1, 0, 1)]
    );
}

/// A storage that power-fails (`MemStorage::crash`) right before its `n`-th namespace
/// operation, and refuses everything afterwards: a crash at every step of a swap.
struct CrashBefore {
    mem: MemStorage,
    left: AtomicUsize,
}

impl CrashBefore {
    fn step(&self) -> io::Result<()> {
        let left = self.left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(io::Error::other("crashed"));
        }
        self.left.store(left - 1, Ordering::SeqCst);
        if left == 1 {
            self.mem.crash();
            return Err(io::Error::other("crashed"));
        }
        Ok(())
    }
}

impl Storage for CrashBefore {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        self.step()?;
        self.mem.open(path, create)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.mem.list(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.step()?;
        self.mem.create_dir_all(dir)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.step()?;
        self.mem.remove_file(path)
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.step()?;
        self.mem.remove_dir_all(dir)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step()?;
        self.mem.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.step()?;
        self.mem.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.mem.exists(path)
    }
}

#[test]
fn a_crash_at_every_step_of_a_clean_reads_a_log_between_before_and_after() {
    let expected_after = {
        let (mut log, _) = populated(Arc::new(MemStorage::new()), 3, 3);
        log.clean(&clean_config(0), i64::MAX, 5_000).expect("clean");
        read_records(&log)
    };
    let mut finished = false;
    for steps in 1.. {
        let mem = MemStorage::new();
        let (log, before) = populated(Arc::new(mem.clone()), 3, 3);
        drop(log);
        let crashing = Arc::new(CrashBefore {
            mem: mem.clone(),
            left: AtomicUsize::new(usize::MAX),
        });
        let mut log = open(crashing.clone());
        crashing.left.store(steps, Ordering::SeqCst);
        let outcome = log.clean(&clean_config(0), i64::MAX, 5_000);
        drop(log);
        if outcome.is_ok() {
            mem.crash();
            finished = true;
        }
        let log = open(Arc::new(mem.clone()));
        let recovered = read_records(&log);
        // Never more than before, never less than after, and every key's latest value.
        assert!(
            recovered.iter().all(|r| before.contains(r)),
            "step {steps}: a record that was not there: {recovered:?}"
        );
        assert!(
            expected_after.iter().all(|r| recovered.contains(r)),
            "step {steps}: lost a record: {recovered:?}"
        );
        let leftovers: Vec<_> = mem
            .file_names()
            .into_iter()
            .filter(|p| {
                let name = p.to_string_lossy();
                name.ends_with(".cleaned") || name.ends_with(".swap")
            })
            .collect();
        assert!(leftovers.is_empty(), "step {steps}: {leftovers:?}");
        if finished {
            assert_eq!(recovered, expected_after, "a finished clean is durable");
            assert!(steps > 5, "the clean took more than a few steps");
            break;
        }
    }
}

/// No `.cleaned` or `.swap` file is left in the log's directory.
fn no_clean_files_left(storage: &dyn Storage) {
    let names = storage.list(Path::new(DIR)).expect("list");
    assert!(
        names
            .iter()
            .all(|n| !n.contains(".cleaned") && !n.contains(".swap")),
        "{names:?}"
    );
}

#[test]
fn a_job_run_while_the_log_takes_appends_and_rolls_is_swapped_in() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, _) = populated(storage.clone(), 4, 5);
    let job = log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("due");
    let to_read = job.bytes_to_read();
    // What the owner does meanwhile: the active segment takes records and rolls.
    append(&mut log, &[(1, Some(7))], 2_500);
    log.roll(2_600).expect("roll");
    log.sync().expect("sync");
    let mut paced = 0u64;
    let cleaned = job.run(&mut |bytes| paced += bytes).expect("run");
    assert_eq!(paced, to_read, "the pacer is told every byte read");
    let before_swap = read_records(&log);
    assert_eq!(before_swap.len(), 21, "nothing changes before the swap");
    assert!(log.swap_cleaned(cleaned).expect("swap"), "the pins held");
    let after = read_records(&log);
    let mut expected: Vec<Rec> = (15..20)
        .map(|o| (o, (o - 15) as u8, (o != 15).then_some(3)))
        .collect();
    expected.push((20, 1, Some(7)));
    assert_eq!(after, expected);
    no_clean_files_left(storage.as_ref());
}

#[test]
fn a_job_the_log_changed_under_is_discarded_and_the_log_untouched() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    // Retention removed a pinned segment.
    let (mut log, before) = populated(storage.clone(), 4, 5);
    let job = log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("due");
    log.delete_records_before(5, 3_000).expect("delete records");
    let cleaned = job.run(&mut |_| {}).expect("run");
    assert!(!log.swap_cleaned(cleaned).expect("swap"), "a pin is gone");
    assert_eq!(read_records(&log), before[5..].to_vec());
    assert_eq!(log.first_dirty_offset(), 0, "the position did not move");
    no_clean_files_left(storage.as_ref());

    // A truncation (a follower's) changed the log, even where the segments look the same.
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, before) = populated(storage.clone(), 4, 5);
    let job = log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("due");
    append(&mut log, &[(1, Some(9))], 2_500);
    log.truncate_to(20).expect("truncate");
    let cleaned = job.run(&mut |_| {}).expect("run");
    assert!(!log.swap_cleaned(cleaned).expect("swap"));
    assert_eq!(read_records(&log), before);
    no_clean_files_left(storage.as_ref());

    // A reopened log is another owner: its files are not the pinned ones.
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (log, before) = populated(storage.clone(), 4, 5);
    let job = log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("due");
    log.close().expect("close");
    let mut log = open(storage.clone());
    let cleaned = job.run(&mut |_| {}).expect("run");
    assert!(!log.swap_cleaned(cleaned).expect("swap"));
    assert_eq!(read_records(&log), before);
    no_clean_files_left(storage.as_ref());
}

/// A read cut by `max_bytes` inside a segment ends there: it never goes on into the next
/// segment past the batches it left out (a consumer would skip them).
#[test]
fn a_read_cut_inside_a_cleaned_segment_does_not_skip_its_rest() {
    let mut log = open(Arc::new(MemStorage::new()));
    append(&mut log, &[(0, Some(0))], 1_000);
    append(&mut log, &[(1, Some(1)), (2, Some(2)), (3, Some(3))], 1_000);
    log.roll(2_000).expect("roll");
    append(&mut log, &[(0, Some(9))], 1_000);
    log.roll(2_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    let second_segment_batch = log.read(4, 1 << 20).expect("read").bytes.len();
    let filler = log.read(0, 1).expect("read");
    assert_eq!(
        filler.next_offset, 1,
        "offset 0 went: a record-less batch covers it"
    );
    // Room for the filler and for the next segment's batch, not for the 3-record batch.
    let cut = log
        .read(0, filler.bytes.len() + second_segment_batch)
        .expect("read");
    assert_eq!(
        cut.next_offset, 1,
        "the 3-record batch comes next, not offset 5"
    );
    let rest = log.read(cut.next_offset, 1 << 20).expect("read");
    assert_eq!(rest.first_offset, 1);
}

/// A batch the cleaner cannot look into (compressed, transactional) may hold an older value
/// of a key: that key's tombstone stays, whatever `delete.retention.ms` says, or the older
/// value would be the key's latest again.
#[test]
fn a_tombstone_stays_while_an_opaque_batch_may_hide_an_older_value() {
    let value = build_batch_records(&[(Some(&b"k"[..]), Some(&b"v1"[..]))], 1_000);
    let tombstone = build_batch_records(&[(Some(&b"k"[..]), None)], 1_000);
    let header_of = |bytes: &[u8]| {
        Batches::stored(bytes)
            .next()
            .expect("one")
            .expect("valid")
            .1
    };
    let mut opaque = header_of(&value);
    opaque.attributes |= 0x10; // transactional: not looked into
    let tomb = header_of(&tombstone);

    // The first clean stamps the horizon (10_000 + 0); the next, past it, removes it.
    let mut plain = OffsetMap::default();
    plain.add_batch(&tomb, &tombstone).expect("map");
    let Filtered::Rebuilt(stamped) =
        filter_batch(&tombstone, &tomb, &plain, 10_000, 0).expect("filter")
    else {
        panic!("the first clean keeps the tombstone and stamps its horizon");
    };
    let stamped_header = header_of(&stamped);
    assert_eq!(stamped_header.delete_horizon_ms(), Some(10_000));
    let gone = filter_batch(&stamped, &stamped_header, &plain, 10_000, 0).expect("filter");
    assert_eq!(gone, Filtered::Removed, "at its horizon the tombstone goes");

    let mut hiding = OffsetMap::default();
    hiding.add_batch(&opaque, &value).expect("map");
    hiding.add_batch(&stamped_header, &stamped).expect("map");
    let kept = filter_batch(&stamped, &stamped_header, &hiding, 20_000, 0).expect("filter");
    assert_eq!(
        kept,
        Filtered::Unchanged,
        "an older value may hide in the opaque batch"
    );
}

/// The horizon stamp rewrites every record's timestamp delta against the new base timestamp:
/// each record reads back with its own timestamp, key and value.
#[test]
fn stamping_a_delete_horizon_keeps_every_record_s_timestamp() {
    let original = batch::build_batch_with_timestamps(
        &[(Some(b"a"), b"1"), (Some(b"b"), b"2"), (Some(b"c"), b"3")],
        &[1_000, 900, 5_000_000_000],
    );
    let header = BatchHeader::parse(&original).expect("header");
    let spans: Vec<&[u8]> = {
        let mut out = Vec::new();
        let mut walk = batch::records(&original);
        while let Some(record) = walk.next_with_span() {
            out.push(&original[record.expect("valid").1]);
        }
        out
    };
    let before: Vec<(i64, i64)> = batch::records(&original)
        .map(|r| r.expect("valid"))
        .map(|r| (r.offset, r.timestamp_ms))
        .collect();
    let stamped = batch::rebuild_with_delete_horizon(&original, &spans, 7_777).expect("stamp");
    let (_, stamped_header) = Batches::stored(&stamped)
        .next()
        .expect("one")
        .expect("valid, CRC included");
    assert_eq!(stamped_header.delete_horizon_ms(), Some(7_777));
    assert_eq!(stamped_header.max_timestamp_ms, header.max_timestamp_ms);
    let after: Vec<(i64, i64)> = batch::records(&stamped)
        .map(|r| r.expect("valid"))
        .map(|r| (r.offset, r.timestamp_ms))
        .collect();
    assert_eq!(after, before);
    let values: Vec<Option<&[u8]>> = batch::records(&stamped)
        .map(|r| r.expect("valid").value)
        .collect();
    assert_eq!(
        values,
        vec![Some(&b"1"[..]), Some(&b"2"[..]), Some(&b"3"[..])]
    );
}

/// Appends `rounds` more rounds of every key of `0..keys` to a `populated` log, one segment
/// each (values from `first_value` on).
fn more_rounds(log: &mut Log, rounds: u16, keys: u8, first_value: u16) {
    for round in 0..rounds {
        for key in 0..keys {
            append(log, &[(key, Some(first_value + round))], 2_000);
        }
        log.roll(2_000).expect("roll");
        log.sync().expect("sync");
    }
}

/// The key map covers the dirty part only, and the job's bounds bound that part: a clean
/// part larger than the I/O bound or the key bound never keeps a job from reaching the dirty
/// segments (Kafka maps from the cleaner checkpoint on).
#[test]
fn bounds_count_the_dirty_part_so_cleans_progress_past_a_large_clean_part() {
    let (mut log, _) = populated(Arc::new(MemStorage::new()), 4, 5);
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    assert_eq!(log.first_dirty_offset(), 20);
    let clean_part_bytes = log.size_bytes();
    more_rounds(&mut log, 2, 5, 10);
    let one_segment = log.size_bytes() - clean_part_bytes;
    // Each job may map one dirty segment's bytes (less than the clean part) and one key.
    let open_files = |log: &Log| -> Vec<Arc<dyn StorageFile>> {
        log.segments.values().map(|s| s.pin().file).collect()
    };
    let mut before_second = Vec::new();
    for (expected_end, keys) in [(25, 5), (30, 5)] {
        before_second = open_files(&log);
        let job = log
            .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
            .expect("due")
            .bounded(one_segment / 2, 1);
        let cleaned = job.run(&mut |_| {}).expect("run");
        assert_eq!(cleaned.stats.keys, keys, "only the dirty segment is mapped");
        assert!(log.swap_cleaned(cleaned).expect("swap"));
        assert_eq!(log.first_dirty_offset(), expected_end);
    }
    // The second clean changed only the segment at 20 (its values now superseded): the four
    // below, left holding nothing it removes, kept their files (no rewrite, no swap).
    let after = open_files(&log);
    let kept: Vec<bool> = (before_second.iter().zip(&after))
        .map(|(a, b)| Arc::ptr_eq(a, b))
        .collect();
    assert_eq!(kept[..5], [true, true, true, true, false]);
    // Every key once, with its latest value, below the cleaner's position.
    let after = read_records(&log);
    let expected: Vec<Rec> = (25..30).map(|o| (o, (o - 25) as u8, Some(11))).collect();
    assert_eq!(after, expected);
}

/// Filtering the clean part still knows each producer's last batch and every opaque batch
/// there, though it maps none of their keys.
#[test]
fn the_clean_part_s_producers_and_opaque_batches_are_still_known() {
    // A producer whose last batch is in the clean part keeps its header when a dirty record
    // supersedes that batch's record.
    let mut log = open(Arc::new(MemStorage::new()));
    let mut b = batch::build_idempotent_batch(&[(Some(b"k"), b"v")], 1_000, 7, 0, 0);
    log.append(&mut b, 1, 1_000).expect("append");
    append(&mut log, &[(b'j', Some(1))], 1_000);
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(0), i64::MAX, 2_000)
        .expect("clean")
        .expect("due");
    assert_eq!(log.first_dirty_offset(), 2);
    append(&mut log, &[(b'k', Some(2))], 1_000);
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(0), i64::MAX, 2_000)
        .expect("clean")
        .expect("due");
    let mut shape: Vec<(i64, i64, i32)> = Vec::new();
    let mut offset = 0;
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 10_000).expect("read");
        shape.extend(
            Batches::stored(&slice.bytes)
                .map(|item| item.expect("valid").1)
                .map(|h| (h.base_offset, h.producer_id, h.records_count)),
        );
        offset = slice.next_offset;
    }
    assert_eq!(shape, vec![(0, 7, 0), (1, -1, 1), (2, -1, 1)]);

    // A transactional batch in the clean part may hide an older value of a key whose
    // tombstone is in the dirty part: the tombstone stays.
    let mut log = open(Arc::new(MemStorage::new()));
    let mut txn = batch::build_idempotent_batch(&[(Some(b"t"), b"v1")], 1_000, 9, 0, 0);
    txn[22] |= 0x10; // the attributes' transactional bit (low byte of bytes 21..23)
    let crc = batch::compute_crc(&txn);
    txn[17..21].copy_from_slice(&crc.to_be_bytes());
    log.append(&mut txn, 1, 1_000).expect("append");
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(0), i64::MAX, 2_000)
        .expect("clean")
        .expect("due");
    append(&mut log, &[(b't', None)], 1_000);
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(0), i64::MAX, 10_000)
        .expect("clean")
        .expect("due");
    let read = log.read(1, 10_000).expect("read");
    let records: Vec<i32> = Batches::stored(&read.bytes)
        .map(|item| item.expect("valid").1.records_count)
        .collect();
    assert_eq!(records, vec![1], "the tombstone at offset 1 stays");
}

/// `records` in one batch at base offset 0 compressed with `codec` (snappy in xerial framing
/// when `xerial`).
fn compressed_batch(codec: u8, xerial: bool, records: &[(&[u8], Option<&[u8]>)]) -> Vec<u8> {
    let plain: Vec<(Option<&[u8]>, Option<&[u8]>)> =
        records.iter().map(|(k, v)| (Some(*k), *v)).collect();
    let plain = build_batch_records(&plain, 1_000);
    let section = crate::storage::records::encode(codec, &plain[batch::HEADER_BYTES..], xerial)
        .expect("compress");
    batch::with_records_section(&plain, codec, &section, records.len() as i32)
}

/// (offset, key, value) of every record of a batch, decompressed by the produce path's own
/// decoder.
fn decompressed_records(b: &[u8]) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
    let header = BatchHeader::parse(b).expect("header");
    let section = crate::storage::records::decompress_all(
        header.compression(),
        &b[batch::HEADER_BYTES..],
        1 << 20,
    )
    .expect("decompress");
    let plain = batch::with_records_section(b, 0, &section, header.records_count);
    batch::records(&plain)
        .map(|r| {
            let r = r.expect("record");
            (
                r.offset,
                r.key.unwrap().to_vec(),
                r.value.map(<[u8]>::to_vec),
            )
        })
        .collect()
}

/// Kafka's cleaner looks into compressed batches and writes what it keeps compressed again
/// with the batch's codec: so does this one, for every codec (snappy in both framings), and a
/// consumer's decoder reads the rewritten batch.
#[test]
fn a_compressed_batch_is_compacted_and_compressed_again_with_its_codec() {
    for (codec, xerial) in [(1, false), (2, false), (2, true), (3, false), (4, false)] {
        let original = compressed_batch(
            codec,
            xerial,
            &[(b"a", Some(b"1")), (b"b", Some(b"2")), (b"a", Some(b"3"))],
        );
        let header = BatchHeader::parse(&original).expect("header");
        let mut map = OffsetMap::default();
        map.add_batch(&header, &original).expect("map");
        assert_eq!(map.latest(b"a"), Some(2), "codec {codec}: keys mapped");
        let Filtered::Rebuilt(rebuilt) =
            filter_batch(&original, &header, &map, 5_000, 0).expect("filter")
        else {
            panic!("codec {codec}: the older value of a goes");
        };
        let (_, kept) = Batches::stored(&rebuilt)
            .next()
            .expect("one")
            .expect("a valid batch, CRC included");
        assert_eq!(
            (
                kept.compression(),
                kept.records_count,
                kept.last_offset_delta
            ),
            (codec, 2, 2),
            "codec {codec}"
        );
        assert_eq!(
            crate::storage::records::is_xerial(&rebuilt[batch::HEADER_BYTES..]),
            xerial,
            "codec {codec}: snappy keeps its framing"
        );
        assert_eq!(
            decompressed_records(&rebuilt),
            vec![
                (1, b"b".to_vec(), Some(b"2".to_vec())),
                (2, b"a".to_vec(), Some(b"3".to_vec())),
            ],
            "codec {codec}"
        );
    }
}

/// A compressed batch the cleaner cannot decompress is kept whole, and makes the map opaque
/// (no tombstone may go while an older value may hide in it).
#[test]
fn a_compressed_batch_that_does_not_decompress_is_kept_whole_and_opaque() {
    let good = compressed_batch(4, false, &[(b"a", Some(b"1")), (b"a", Some(b"2"))]);
    // Not zstd at all (its magic number broken), or zstd of bytes that are not records.
    let mut not_zstd = good.clone();
    not_zstd[batch::HEADER_BYTES] ^= 0xff;
    let garbage = zstd::stream::encode_all(&b"\xff\xff\xff\xff\xff\xff"[..], 1).unwrap();
    let not_records = batch::with_records_section(&good, 4, &garbage, 2);
    for mut bad in [not_zstd, not_records] {
        let crc = batch::compute_crc(&bad);
        bad[17..21].copy_from_slice(&crc.to_be_bytes());
        let header = BatchHeader::parse(&bad).expect("header");
        let mut map = OffsetMap::default();
        map.add_batch(&header, &bad).expect("map");
        assert!(map.is_opaque(), "a batch the cleaner cannot look into");
        assert_eq!(
            filter_batch(&bad, &header, &map, 5_000, 0).expect("filter"),
            Filtered::Unchanged
        );
    }
}

/// Through the log: compressed batches of every codec, updating two keys over and over, shrink
/// to each key's latest value, and a reopened log reads the recompressed segments back.
#[test]
fn a_log_of_compressed_batches_keeps_the_latest_value_of_each_key() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let mut log = open(storage.clone());
    for round in 0..40u8 {
        let value = [b'v', round];
        let mut batch = compressed_batch(
            1 + round % 4,
            round % 8 == 1,
            &[
                (b"x", Some(&value)),
                (b"y", Some(&value)),
                (&[b'z', round], Some(b"once")),
            ],
        );
        log.append(&mut batch, 1, 1_000).expect("append");
    }
    append(&mut log, &[(b'x', Some(7))], 1_000);
    log.roll(1_000).expect("roll");
    append(&mut log, &[(b'w', Some(1))], 1_000);
    let end = log.log_end_offset();
    let before = log.size_bytes();
    log.clean(&clean_config(60_000), end, 5_000)
        .expect("clean")
        .expect("due");
    assert!(
        log.size_bytes() < before,
        "{} -> {}",
        before,
        log.size_bytes()
    );
    drop(log);
    let log = open(storage);
    let mut latest: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut count = 0;
    let mut bytes = Vec::new();
    let mut next = 0;
    while next < log.log_end_offset() {
        let slice = log.read(next, 1 << 24).expect("read");
        bytes.extend_from_slice(&slice.bytes);
        next = slice.next_offset;
    }
    for item in Batches::stored(&bytes) {
        let (at, header) = item.expect("valid batches after the clean");
        let b = &bytes[at..at + header.total_bytes()];
        let records = if header.compression() == 0 {
            batch::records(b)
                .map(|r| {
                    let r = r.unwrap();
                    (
                        r.offset,
                        r.key.unwrap().to_vec(),
                        r.value.map(<[u8]>::to_vec),
                    )
                })
                .collect()
        } else {
            decompressed_records(b)
        };
        for (_, key, value) in records {
            count += 1;
            latest.insert(key, value.unwrap());
        }
    }
    assert_eq!(latest[&b"x".to_vec()], 7u16.to_be_bytes().to_vec());
    assert_eq!(latest[&b"y".to_vec()], vec![b'v', 39]);
    assert_eq!(latest.len(), 43, "w, x, y and forty z keys");
    assert!(
        count <= 43,
        "older values of x and y went: {count} records left"
    );
}

/// The cleaner's position is checkpointed by the flush job after a clean (Kafka's
/// `cleaner-offset-checkpoint`): a restart maps only what was appended since, and the clean
/// part is not rewritten.
#[test]
fn the_cleaner_s_position_survives_a_restart() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, _) = populated(storage.clone(), 4, 5);
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    assert_eq!(log.first_dirty_offset(), 20);
    log.sync().expect("the flush job writes the checkpoint");
    drop(log); // a crash: no close job
    let mut log = open(storage.clone());
    assert_eq!(
        log.first_dirty_offset(),
        20,
        "not dirty again after a restart"
    );
    assert_eq!(
        log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
            .expect("clean"),
        None,
        "nothing to clean until something is appended"
    );
    // A checkpoint past what the log holds (a cut at recovery) is lowered to the log end,
    // and the open's flush job writes the lowered value.
    drop(log);
    let dir = Path::new(DIR);
    crate::storage::log::checkpoint::write(
        storage.as_ref(),
        dir,
        crate::storage::log::checkpoint::Kind::CleanerOffset,
        500,
    )
    .expect("write");
    let mut log = open(storage.clone());
    assert_eq!(log.first_dirty_offset(), log.log_end_offset());
    log.sync().expect("sync");
    let on_disk = crate::storage::log::checkpoint::read(
        storage.as_ref(),
        dir,
        crate::storage::log::checkpoint::Kind::CleanerOffset,
    )
    .expect("read");
    assert_eq!(on_disk, Some(log.log_end_offset()));
}

/// A truncation to exactly the cleaner's position leaves the position alone: lowering it
/// would fence off the checkpoint write still pending, and with no file yet a restart would
/// map the whole log again.
#[test]
fn a_truncation_at_the_cleaner_s_position_keeps_its_pending_checkpoint() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, _) = populated(storage.clone(), 4, 5);
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    assert_eq!(log.first_dirty_offset(), 20);
    let file = Path::new(DIR).join("cleaner-offset.checkpoint");
    assert!(!storage.exists(&file), "the position waits for a flush job");
    // Appended after the clean, not synced, and cut off again.
    let mut b = build_batch_records(&[(Some(&b"k"[..]), Some(&b"v"[..]))], 3_000);
    log.append(&mut b, 1, 3_000).expect("append");
    assert_eq!(log.truncate_to(20).expect("truncate"), 20);
    assert_eq!(log.first_dirty_offset(), 20);
    log.sync().expect("the flush job writes the checkpoint");
    drop(log);
    assert_eq!(open(storage).first_dirty_offset(), 20, "not dirty again");
}

/// A cut at open (a failed sync, the canary) lowers the cleaner's position to the cut and
/// never raises it: records between the position and a cut above it were never cleaned.
#[test]
fn a_cut_at_open_lowers_the_cleaner_s_position_and_never_raises_it() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, _) = populated(storage.clone(), 4, 5);
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    for key in 0..5 {
        append(&mut log, &[(key, Some(9))], 3_000); // offsets 20..25; the syncs checkpoint 20
    }
    drop(log);
    let reopen =
        || Log::open_unflushed(storage.clone(), Path::new(DIR), config(), 0).expect("open");
    let mut log = reopen();
    assert_eq!(log.first_dirty_offset(), 20);
    assert_eq!(log.cut_at_open(22).expect("cut"), 22);
    assert_eq!(log.first_dirty_offset(), 20, "20 and 21 are still dirty");
    drop(log);
    let mut log = reopen();
    assert_eq!(log.first_dirty_offset(), 20);
    assert_eq!(log.cut_at_open(17).expect("cut"), 17);
    assert_eq!(
        log.first_dirty_offset(),
        17,
        "nothing at or past the cut is clean"
    );
}

/// A clean that kept a batch it cannot look into leaves no checkpoint: the opaque flag is not
/// on disk, so a restart must map that batch again (and keep the tombstones it protects).
#[test]
fn an_opaque_clean_part_leaves_no_cleaner_checkpoint() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let mut log = open(storage.clone());
    let mut opaque = compressed_batch(4, false, &[(b"a", Some(b"1")), (b"a", Some(b"2"))]);
    opaque[batch::HEADER_BYTES] ^= 0xff; // not zstd any more
    let crc = batch::compute_crc(&opaque);
    opaque[17..21].copy_from_slice(&crc.to_be_bytes());
    // The log checks headers and CRCs only (the produce path would refuse this batch).
    log.append(&mut opaque, 1, 1_000).expect("append");
    append(&mut log, &[(1, Some(1))], 1_000);
    append(&mut log, &[(1, Some(2))], 1_000);
    log.roll(1_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    assert!(log.first_dirty_offset() > 0);
    log.sync().expect("sync");
    drop(log);
    let log = open(storage);
    assert_eq!(
        log.first_dirty_offset(),
        0,
        "all dirty again: the opaque batch is mapped"
    );
}

/// A compressed batch the filter pass finds it cannot rewrite (here: records that do not
/// walk, in the clean part, which is not mapped) is kept whole, and a tombstone after it in the
/// same pass stays even past its horizon: the kept batch may hold an older value of its key.
#[test]
fn a_batch_kept_whole_in_the_filter_pass_keeps_the_tombstones_after_it() {
    let tombstone = build_batch_records(&[(Some(&b"k"[..]), None)], 1_000);
    let header_of = |bytes: &[u8]| BatchHeader::parse(bytes).expect("header");
    let mut map = OffsetMap::default();
    map.add_batch(&header_of(&tombstone), &tombstone)
        .expect("map");
    let Filtered::Rebuilt(stamped) =
        filter_batch(&tombstone, &header_of(&tombstone), &map, 10_000, 0).expect("filter")
    else {
        panic!("stamped");
    };
    let stamped_header = header_of(&stamped);
    let good = compressed_batch(4, false, &[(b"k", Some(b"old"))]);
    let garbage = zstd::stream::encode_all(&b"\xff\xff\xff\xff"[..], 1).unwrap();
    let bad = batch::with_records_section(&good, 4, &garbage, 1);
    assert!(!map.is_opaque());
    assert_eq!(
        filter_batch(&bad, &header_of(&bad), &map, 20_000, 0).expect("filter"),
        Filtered::Unchanged
    );
    assert!(
        map.is_opaque(),
        "the pass learnt of a batch it cannot look into"
    );
    assert_eq!(
        filter_batch(&stamped, &stamped_header, &map, 20_000, 0).expect("filter"),
        Filtered::Unchanged,
        "past its horizon, but an older value may hide in the kept batch"
    );
}

/// A log restarted empty (a follower out of its leader's range) forgets its cleaner
/// checkpoint before anything else, and a flush job taken before, carrying the old position,
/// does not bring it back: the position must never cover records no clean compacted.
#[test]
fn a_restarted_log_forgets_its_cleaner_checkpoint_and_an_older_job_does_not_restore_it() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, _) = populated(storage.clone(), 4, 5);
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    log.sync().expect("sync");
    let file = Path::new(DIR).join("cleaner-offset.checkpoint");
    assert!(storage.exists(&file));
    // Dirty again, cleaned again: the new position waits for the next job.
    for key in 0..5 {
        append(&mut log, &[(key, Some(9))], 3_000);
    }
    log.roll(3_000).expect("roll");
    log.sync().expect("sync");
    log.clean(&clean_config(i64::MAX), i64::MAX, 4_000)
        .expect("clean")
        .expect("due");
    let (job, point) = log.flush_job().expect("the position is pending");
    log.truncate_fully_and_start_at(100, 5_000)
        .expect("restart");
    assert!(!storage.exists(&file), "forgotten at once");
    job.run().expect("the older job runs late");
    log.flushed(point);
    assert!(
        !storage.exists(&file),
        "the older job's write was fenced off"
    );
    drop(log);
    let log = open(storage);
    assert_eq!(log.first_dirty_offset(), 0, "no position: all dirty");
    assert_eq!(log.log_start_offset(), 100);
}

/// A log whose clean ran and whose swap job was handed out (not run): the job and the
/// records before.
fn swapping(storage: Arc<dyn Storage>) -> (Log, SwapJob, Vec<Rec>) {
    let (mut log, before) = populated(storage, 4, 5);
    let job = log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("due");
    let cleaned = job.run(&mut |_| {}).expect("run");
    let swap = log
        .swap_job(cleaned)
        .expect("swap job")
        .expect("the pins held");
    assert!(log.swap_in_flight());
    (log, swap, before)
}

/// The swap job renames every cleaned file over its segment's log before the owner hears of
/// it: meanwhile reads return the old segments' bytes through their open files — on the real
/// file system too, where the descriptor cache reopens files by path (one descriptor for the
/// whole log here, so every read reopens) — and appends go on; the completion installs the
/// cleaned segments.
#[test]
fn a_read_during_the_swap_job_returns_the_old_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disks: [Arc<dyn Storage>; 2] = [
        Arc::new(MemStorage::new()),
        Arc::new(crate::storage::file::FileStorage::with_open_files_max(
            dir.path().to_path_buf(),
            1,
        )),
    ];
    for storage in disks {
        let (mut log, swap, before) = swapping(storage.clone());
        let swapped = swap.run();
        let names = storage.list(Path::new(DIR)).expect("list");
        assert!(names.iter().all(|n| !n.contains(".swap")), "{names:?}");
        assert_eq!(read_records(&log), before, "the old bytes");
        append(&mut log, &[(1, Some(7))], 2_500);
        let mut expected_old = before.clone();
        expected_old.push((20, 1, Some(7)));
        assert_eq!(read_records(&log), expected_old);
        log.swap_done(swapped).expect("installed");
        assert!(!log.swap_in_flight());
        let mut expected: Vec<Rec> = (15..20)
            .map(|o| (o, (o - 15) as u8, (o != 15).then_some(3)))
            .collect();
        expected.push((20, 1, Some(7)));
        assert_eq!(read_records(&log), expected);
        assert_eq!(log.first_dirty_offset(), 20);
        // The next open finds the same cleaned log, indexes included.
        log.close().expect("close");
        assert_eq!(read_records(&open(storage)), expected);
    }
}

/// While a swap job runs nothing removes or cuts the segments it renames over: retention and
/// DeleteRecords leave them (the log start still moves), truncations, a restart and a close
/// are refused, no other clean is planned. After the completion retention removes what the
/// log start left behind.
#[test]
fn retention_and_truncation_wait_for_the_swap() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (mut log, swap, before) = swapping(storage.clone());
    let segments = log.segment_count();
    assert_eq!(log.delete_records_before(10, 3_000).expect("moves"), 10);
    assert_eq!(log.segment_count(), segments, "the segments stay");
    assert_eq!(log.enforce_retention(3_000).expect("retention"), 0);
    assert_eq!(read_records(&log), before[10..].to_vec());
    let refused = |result: Result<(), LogError>| {
        assert!(
            matches!(result, Err(LogError::SwapRunning { .. })),
            "{result:?}"
        );
    };
    refused(log.truncate_to(12).map(drop));
    refused(log.truncate_fully_and_start_at(30, 3_000));
    refused(log.close_job(Vec::new()).map(drop));
    assert!(log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .is_none());
    assert!(!log.is_failed(), "a refusal is not a failure");
    log.swap_done(swap.run()).expect("installed");
    assert_eq!(log.enforce_retention(3_000).expect("retention"), 2);
    assert_eq!(log.segment_base_offsets()[0], 10);
    let expected: Vec<Rec> = (15..20)
        .map(|o| (o, (o - 15) as u8, (o != 15).then_some(3)))
        .collect();
    assert_eq!(read_records(&log), expected);
    assert_eq!(log.truncate_to(18).expect("truncate"), 18);
}

/// A crash at every step of the swap job (after the owner decided to commit) recovers, on the
/// next open, a log between before and after the clean: the committed `.swap` files are
/// finished, the `.cleaned` ones deleted. A failed job fails the log.
#[test]
fn a_crash_at_every_step_of_the_swap_job_recovers() {
    let expected_after = {
        let (mut log, _) = populated(Arc::new(MemStorage::new()), 4, 5);
        log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
            .expect("clean");
        read_records(&log)
    };
    let mut swap_files_seen = false;
    for steps in 1.. {
        let mem = MemStorage::new();
        let crashing = Arc::new(CrashBefore {
            mem: mem.clone(),
            left: AtomicUsize::new(usize::MAX),
        });
        let (mut log, swap, before) = swapping(crashing.clone());
        crashing.left.store(steps, Ordering::SeqCst);
        let swapped = swap.run();
        let finished = swapped.is_ok();
        let outcome = log.swap_done(swapped);
        assert_eq!(outcome.is_ok(), finished);
        assert_eq!(log.is_failed(), !finished, "step {steps}");
        drop(log);
        if finished {
            mem.crash();
        }
        swap_files_seen |= mem
            .file_names()
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".swap"));
        let recovered = read_records(&open(Arc::new(mem.clone())));
        assert!(
            recovered.iter().all(|r| before.contains(r)),
            "step {steps}: {recovered:?}"
        );
        assert!(
            expected_after.iter().all(|r| recovered.contains(r)),
            "step {steps}: {recovered:?}"
        );
        no_clean_files_left(&mem);
        if finished {
            assert_eq!(recovered, expected_after, "a finished swap is durable");
            assert!(steps > 5, "the swap took more than a few steps");
            break;
        }
    }
    assert!(
        swap_files_seen,
        "some crash left a committed swap to finish"
    );
}

#[test]
fn an_offset_map_is_empty_until_a_keyed_record_is_mapped() {
    let mut map = OffsetMap::default();
    assert!(map.is_empty());
    let keyless = build_batch_records(&[(None, Some(&b"v"[..]))], 0);
    let header = BatchHeader::parse(&keyless).expect("header");
    map.add_batch(&header, &keyless).expect("map");
    assert!(map.is_empty(), "a record without a key maps nothing");
    let keyed = build_batch_records(&[(Some(&b"k"[..]), Some(&b"v"[..]))], 0);
    let header = BatchHeader::parse(&keyed).expect("header");
    map.add_batch(&header, &keyed).expect("map");
    assert!(!map.is_empty());
    assert_eq!(map.len(), 1);
}

/// Bases of the `.cleaned` files in the log's directory, oldest first.
fn cleaned_files(storage: &dyn Storage) -> Vec<i64> {
    let names = storage.list(Path::new(DIR)).expect("list");
    names
        .iter()
        .filter_map(|n| n.strip_suffix(swap::CLEANED_SUFFIX))
        .map(|base| base.parse().expect("a base offset"))
        .collect()
}

/// A clean that will not be swapped in is discarded: its `.cleaned` files go and the log
/// reads as before.
#[test]
fn a_discarded_clean_removes_its_cleaned_files_and_leaves_the_log_as_it_was() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (log, before) = populated(storage.clone(), 4, 5);
    let job = log
        .clean_job(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("due");
    let cleaned = job.run(&mut |_| {}).expect("run");
    assert!(!cleaned_files(storage.as_ref()).is_empty());
    cleaned.discard();
    no_clean_files_left(storage.as_ref());
    assert_eq!(read_records(&log), before);
}

#[test]
fn a_swap_job_swaps_the_segments_that_have_a_cleaned_file() {
    let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
    let (_log, swap, _) = swapping(storage.clone());
    let cleaned = cleaned_files(storage.as_ref());
    assert!(cleaned.len() > 1, "{cleaned:?}");
    assert_eq!(swap.bases(), cleaned);
}

/// A clean keeps offsets (and every transactional and control batch): a cleaned segment's
/// aborted transactions are still listed, from the same file, after the swap and a reopen.
#[test]
fn a_clean_keeps_the_segments_aborted_transactions() {
    use crate::storage::log::txn_index::AbortedTxn;
    let mem = Arc::new(MemStorage::new());
    let (mut log, _) = populated(mem.clone(), 4, 5);
    let entry = AbortedTxn {
        producer_id: 9,
        first_offset: 5,
        last_offset: 7,
        last_stable_offset: 8,
    };
    log.record_aborted(&entry).unwrap();
    log.sync().unwrap();
    log.clean(&clean_config(i64::MAX), i64::MAX, 3_000)
        .expect("clean")
        .expect("due");
    assert_eq!(log.aborted_between(0, 20, 10).unwrap(), [entry]);
    log.close().unwrap();
    let log = open(mem);
    assert_eq!(log.aborted_between(0, 20, 10).unwrap(), [entry]);
}
