//! The partition log against a boring model: a `Vec` of `(base_offset, batch bytes)`.
//!
//! Random sequences of append (valid and corrupt), read, offset-for-timestamp, roll,
//! retention, truncate, delete-records, sync, clean close, crash (plain or with a torn
//! last write), and a crash between a roll and the completion of its flush job run on [`MemStorage`] with tiny segments so rolls and index entries happen all
//! the time. After every operation the log must serve exactly the model's batches, byte for
//! byte, with dense offsets. After a crash the log end `E` must satisfy
//! `synced_before_crash <= E <= model_end` and the log must equal the model's prefix up to `E`
//! (nothing synced lost, nothing half-written served), `E` on a batch edge unless the log
//! restarted empty at a persisted log start; the model is then cut to `E`.
//! Appends are stamped with a leader epoch that a `NewEpoch` op raises; the log's leader-epoch
//! cache must always name the epochs of the model's visible batches (crashes included: an
//! entry only for data that survived, none past the log end).

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rill::storage::batch::{build_batch_with_timestamps, BatchHeader, Batches, HEADER_BYTES};
use rill::storage::log::{FlushPolicy, Log, LogConfig, LogError, TimestampType};
use rill::storage::mem::MemStorage;

const DIR: &str = "t-0";

#[derive(Debug, Clone)]
enum Op {
    /// Batches of (record count, value length) appended in one call.
    Append(Vec<(usize, usize)>),
    /// A single batch with one byte flipped at `at` (a CRC-covered position).
    AppendCorrupt {
        at: usize,
    },
    /// Read at a fraction of the way from the log start to the end.
    Read {
        frac: f64,
        max_bytes: usize,
    },
    OffsetForTimestamp {
        back_ms: i64,
    },
    Roll,
    AdvanceTime(i64),
    Retention,
    Truncate {
        frac: f64,
    },
    DeleteRecords {
        frac: f64,
    },
    Sync,
    /// Sync through the group-commit path: handle, then append more, then mark.
    SyncRacingAppend,
    /// Sync handle taken, then the log is truncated and re-appended before the sync is marked.
    SyncRacingTruncate {
        frac: f64,
    },
    CloseReopen,
    Crash {
        torn: bool,
    },
    /// Append, roll, append, take the flush job (which syncs the sealed segment and writes
    /// the recovery point), maybe run it, then crash before its completion is reported.
    RollThenCrashMidFlush {
        run_job: bool,
        torn: bool,
    },
    /// Later appends are stamped with the next leader epoch.
    NewEpoch,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => prop::collection::vec((1usize..4, 0usize..60), 1..3).prop_map(Op::Append),
        1 => (0usize..200).prop_map(|at| Op::AppendCorrupt { at }),
        4 => (0.0f64..=1.0, 1usize..400).prop_map(|(frac, max_bytes)| Op::Read { frac, max_bytes }),
        1 => (0i64..3_000).prop_map(|back_ms| Op::OffsetForTimestamp { back_ms }),
        1 => Just(Op::Roll),
        2 => (0i64..2_000).prop_map(Op::AdvanceTime),
        1 => Just(Op::Retention),
        1 => (0.0f64..=1.0).prop_map(|frac| Op::Truncate { frac }),
        1 => (0.0f64..=0.5).prop_map(|frac| Op::DeleteRecords { frac }),
        2 => Just(Op::Sync),
        1 => Just(Op::SyncRacingAppend),
        1 => (0.0f64..=1.0).prop_map(|frac| Op::SyncRacingTruncate { frac }),
        1 => Just(Op::CloseReopen),
        2 => any::<bool>().prop_map(|torn| Op::Crash { torn }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(run_job, torn)| Op::RollThenCrashMidFlush { run_job, torn }),
        1 => Just(Op::NewEpoch),
    ]
}

fn log_config() -> impl Strategy<Value = LogConfig> {
    (
        150u64..1_200,
        0u64..400,
        prop::option::of(1_000u64..4_000),
        prop::option::of(2_000i64..8_000),
        any::<bool>(),
    )
        .prop_map(
            |(segment_bytes, index_interval_bytes, retention_bytes, retention_ms, stamped)| {
                LogConfig {
                    segment_bytes,
                    segment_ms: 1_000_000,
                    retention_ms,
                    retention_bytes,
                    index_interval_bytes,
                    batch_bytes_max: 1 << 16,
                    flush: FlushPolicy::EveryAppend,
                    timestamp_type: if stamped {
                        TimestampType::LogAppendTime
                    } else {
                        TimestampType::CreateTime
                    },
                    ..LogConfig::default()
                }
            },
        )
}

/// `(offset, timestamp)` of every record of a batch this test built (uncompressed, no key, no
/// headers), decoded independently of the broker's record walker. A LogAppendTime batch gives
/// every record its `maxTimestamp`, as Kafka's readers do.
fn model_records(batch: &[u8]) -> Vec<(i64, i64)> {
    fn varint(b: &[u8], at: &mut usize) -> i64 {
        let (mut raw, mut shift) = (0u64, 0);
        loop {
            let byte = b[*at];
            *at += 1;
            raw |= ((byte & 0x7f) as u64) << shift;
            if byte < 0x80 {
                return ((raw >> 1) as i64) ^ -((raw & 1) as i64);
            }
            shift += 7;
        }
    }
    let header = BatchHeader::parse(batch).expect("model batch");
    let mut at = HEADER_BYTES;
    let mut out = Vec::new();
    for _ in 0..header.records_count {
        let length = varint(batch, &mut at) as usize;
        let end = at + length;
        at += 1; // attributes
        let timestamp_delta = varint(batch, &mut at);
        let offset_delta = varint(batch, &mut at);
        let timestamp = if header.is_log_append_time() {
            header.max_timestamp_ms
        } else {
            header.base_timestamp_ms + timestamp_delta
        };
        out.push((header.base_offset + offset_delta, timestamp));
        at = end;
    }
    out
}

/// The reference: batches with their offsets, and the log start offset.
#[derive(Debug, Default)]
struct Model {
    batches: Vec<(i64, Vec<u8>)>,
    log_start: i64,
}

fn next_of(base: i64, bytes: &[u8]) -> i64 {
    base + BatchHeader::parse(bytes)
        .expect("model batch")
        .offset_count()
}

impl Model {
    fn end(&self) -> i64 {
        // After a crash lost records below a persisted log start, the log restarts empty at
        // the log start (Kafka's rule), past the last surviving batch.
        let last = self
            .batches
            .last()
            .map_or(self.log_start, |(b, bytes)| next_of(*b, bytes));
        last.max(self.log_start)
    }

    /// Batches still visible: those holding an offset ≥ the log start.
    fn visible(&self) -> Vec<(i64, Vec<u8>)> {
        self.batches
            .iter()
            .filter(|(b, bytes)| next_of(*b, bytes) > self.log_start)
            .cloned()
            .collect()
    }

    /// Keeps batches ending at or below `end`.
    fn cut_to(&mut self, end: i64) {
        self.batches.retain(|(b, bytes)| next_of(*b, bytes) <= end);
    }

    /// The leader-epoch entries the visible batches imply: each epoch at its first batch, the
    /// first one starting at the log start at the earliest.
    fn epochs(&self) -> Vec<(i32, i64)> {
        let mut out: Vec<(i32, i64)> = Vec::new();
        for (base, bytes) in self.visible() {
            let epoch = BatchHeader::parse(&bytes)
                .expect("model batch")
                .partition_leader_epoch;
            if out.last().map(|(e, _)| *e) != Some(epoch) {
                out.push((epoch, base.max(self.log_start)));
            }
        }
        out
    }

    fn is_boundary(&self, offset: i64) -> bool {
        offset == self.log_start || self.is_batch_edge(offset)
    }

    /// Whether a batch starts or ends at `offset`.
    fn is_batch_edge(&self, offset: i64) -> bool {
        self.batches
            .iter()
            .any(|(b, bytes)| *b == offset || next_of(*b, bytes) == offset)
    }
}

/// Every batch the log serves from its start, checking density.
fn read_everything(log: &Log, max_bytes: usize) -> Result<Vec<(i64, Vec<u8>)>, TestCaseError> {
    let mut out: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let slice = log
            .read(offset, max_bytes)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            !slice.bytes.is_empty(),
            "empty read at {} < {}",
            offset,
            log.log_end_offset()
        );
        prop_assert!(slice.first_offset <= offset && slice.next_offset > offset);
        for item in Batches::new(&slice.bytes, usize::MAX) {
            let (pos, h) = item.map_err(|(at, e)| {
                TestCaseError::fail(format!("served a bad batch at {at}: {e}"))
            })?;
            if let Some((b, bytes)) = out.last() {
                prop_assert_eq!(h.base_offset, next_of(*b, bytes), "offsets not dense");
            }
            out.push((
                h.base_offset,
                slice.bytes[pos..pos + h.total_bytes()].to_vec(),
            ));
        }
        offset = slice.next_offset;
    }
    Ok(out)
}

fn check(log: &Log, model: &Model, max_bytes: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(log.log_start_offset(), model.log_start);
    prop_assert_eq!(log.log_end_offset(), model.end());
    prop_assert!(log.synced_offset() <= log.log_end_offset());
    let served = read_everything(log, max_bytes)?;
    prop_assert_eq!(served, model.visible());
    let end = log.log_end_offset();
    let entries = log.epoch_entries();
    prop_assert!(
        entries.iter().all(|e| e.start_offset <= end),
        "an epoch starts past the log end {}: {:?}",
        end,
        entries
    );
    // An epoch starting exactly at the log end holds no record yet (retention emptied the
    // log after it started); the model has no batch to name it.
    let with_records: Vec<(i32, i64)> = entries
        .iter()
        .filter(|e| e.start_offset < end)
        .map(|e| (e.epoch, e.start_offset))
        .collect();
    prop_assert_eq!(with_records, model.epochs());
    Ok(())
}

struct Harness {
    mem: MemStorage,
    config: LogConfig,
    log: Option<Log>,
    model: Model,
    now_ms: i64,
    tag: u32,
    /// The leader epoch appends are stamped with.
    epoch: i32,
    rng: SmallRng,
}

impl Harness {
    fn open(&mut self) -> Log {
        Log::open(
            Arc::new(self.mem.clone()),
            Path::new(DIR),
            self.config.clone(),
            self.now_ms,
        )
        .expect("open")
    }

    fn log(&mut self) -> &mut Log {
        self.log.as_mut().expect("open log")
    }

    fn make_batch(&mut self, records: usize, value_len: usize) -> Vec<u8> {
        self.tag += 1;
        let values: Vec<Vec<u8>> = (0..records)
            .map(|i| vec![(self.tag as u8).wrapping_add(i as u8); value_len])
            .collect();
        let recs: Vec<(Option<&[u8]>, &[u8])> =
            values.iter().map(|v| (None, v.as_slice())).collect();
        // Records created at different times, not in order (a lingering producer's batch).
        let timestamps: Vec<i64> = (0..records as i64)
            .map(|i| self.now_ms - (self.tag as i64 * 37 + i * 101) % 700)
            .collect();
        build_batch_with_timestamps(&recs, &timestamps)
    }

    fn offset_at(&self, frac: f64) -> i64 {
        let (start, end) = (self.model.log_start, self.model.end());
        start + ((end - start) as f64 * frac).floor() as i64
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Append(specs) => {
                let parts: Vec<Vec<u8>> =
                    specs.iter().map(|&(r, v)| self.make_batch(r, v)).collect();
                let mut buf = parts.concat();
                let now_ms = self.now_ms;
                let epoch = self.epoch;
                let info = self
                    .log()
                    .append(&mut buf, epoch, now_ms)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(info.first_offset, self.model.end());
                let stamped = self.config.timestamp_type == TimestampType::LogAppendTime;
                prop_assert_eq!(info.log_append_time_ms, if stamped { now_ms } else { -1 });
                let mut at = 0;
                for item in Batches::new(&buf, usize::MAX) {
                    let (pos, h) = item.map_err(|(_, e)| TestCaseError::fail(e.to_string()))?;
                    self.model
                        .batches
                        .push((h.base_offset, buf[pos..pos + h.total_bytes()].to_vec()));
                    at = pos + h.total_bytes();
                }
                prop_assert_eq!(at, buf.len());
            }
            Op::AppendCorrupt { at } => {
                let mut b = self.make_batch(2, 10);
                // Bytes 0..8 (baseOffset) and 12..16 (leader epoch) are patched, not checked.
                let covered: Vec<usize> = (8..12).chain(16..b.len()).collect();
                let pos = covered[at % covered.len()];
                b[pos] ^= 0x41;
                let now_ms = self.now_ms;
                let result = self.log().append(&mut b, 3, now_ms);
                let refused = matches!(result, Err(LogError::InvalidBatch { .. }));
                prop_assert!(refused, "{:?}", result);
            }
            Op::Read { frac, max_bytes } => {
                let offset = self.offset_at(*frac);
                let slice = self
                    .log()
                    .read(offset, *max_bytes)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let expected: Vec<(i64, Vec<u8>)> = self
                    .model
                    .visible()
                    .into_iter()
                    .filter(|(b, bytes)| next_of(*b, bytes) > offset)
                    .collect();
                match expected.first() {
                    None => prop_assert!(slice.bytes.is_empty()),
                    Some((base, first)) => {
                        prop_assert_eq!(slice.first_offset, *base);
                        prop_assert!(slice.bytes.starts_with(first), "first batch differs");
                        prop_assert!(slice.bytes.len() <= (*max_bytes).max(first.len()));
                        let mut joined = Vec::new();
                        for (_, b) in &expected {
                            joined.extend_from_slice(b);
                            if joined.len() >= slice.bytes.len() {
                                break;
                            }
                        }
                        prop_assert_eq!(&joined[..slice.bytes.len()], &slice.bytes[..]);
                    }
                }
                let model_end = self.model.end();
                let past_end = self.log().read(model_end + 1, 10);
                let refused = matches!(past_end, Err(LogError::OffsetOutOfRange { .. }));
                prop_assert!(refused, "{:?}", past_end);
            }
            Op::OffsetForTimestamp { back_ms } => {
                let ts = self.now_ms - back_ms;
                let start = self.model.log_start;
                // Kafka's searchForTimestamp: in the first batch whose maxTimestamp reaches
                // the target, the first record at or after it (and at or above the start).
                let expected = self
                    .model
                    .visible()
                    .into_iter()
                    .filter(|(_, bytes)| BatchHeader::parse(bytes).unwrap().max_timestamp_ms >= ts)
                    .find_map(|(_, bytes)| {
                        model_records(&bytes)
                            .into_iter()
                            .find(|&(offset, record_ts)| record_ts >= ts && offset >= start)
                    });
                let got = self
                    .log()
                    .offset_for_timestamp(ts)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got, expected);
            }
            Op::Roll => {
                let now_ms = self.now_ms;
                self.log()
                    .roll(now_ms)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Op::AdvanceTime(ms) => self.now_ms += ms,
            Op::Retention => {
                let now_ms = self.now_ms;
                let before = self.model.log_start;
                self.log()
                    .enforce_retention(now_ms)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let start = self.log().log_start_offset();
                prop_assert!(start >= before && start <= self.model.end());
                prop_assert!(
                    self.model.is_boundary(start),
                    "retention start {} inside a batch",
                    start
                );
                if let Some(max) = self.config.retention_bytes {
                    let log = self.log.as_ref().unwrap();
                    // Only whole segments go, so at most one segment's worth stays over.
                    prop_assert!(
                        log.size_bytes() <= max + self.config.segment_bytes + (1 << 16)
                            || log.segment_count() == 1
                    );
                }
                self.model.log_start = start;
            }
            Op::Truncate { frac } => {
                let offset = self.offset_at(*frac);
                let new_end = self
                    .log()
                    .truncate_to(offset)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let expected = self
                    .model
                    .batches
                    .iter()
                    .find(|(b, bytes)| next_of(*b, bytes) > offset)
                    .map_or(self.model.end(), |(b, _)| *b);
                prop_assert_eq!(new_end, expected);
                self.model.cut_to(new_end);
                if self.model.log_start > new_end {
                    self.model.log_start = new_end;
                }
            }
            Op::DeleteRecords { frac } => {
                let offset = self.offset_at(*frac);
                let now_ms = self.now_ms;
                let start = self
                    .log()
                    .delete_records_before(offset, now_ms)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(start, offset.max(self.model.log_start));
                self.model.log_start = start;
            }
            Op::Sync => {
                self.log()
                    .sync()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(self.log().synced_offset(), self.model.end());
            }
            Op::SyncRacingAppend => {
                // Nothing unsynced: no job to race with.
                let Some((handle, point)) = self.log().flush_job() else {
                    return Ok(());
                };
                prop_assert_eq!(point.covers_offset, self.model.end());
                self.apply(&Op::Append(vec![(1, 5)]))?;
                handle
                    .run()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                self.log().flushed(point);
                prop_assert!(self.log().synced_offset() >= point.covers_offset);
                prop_assert!(self.log().synced_offset() < self.model.end());
            }
            Op::SyncRacingTruncate { frac } => {
                // Nothing unsynced: no job to race with.
                let Some((handle, point)) = self.log().flush_job() else {
                    return Ok(());
                };
                self.apply(&Op::Truncate { frac: *frac })?;
                self.apply(&Op::Append(vec![(2, 7)]))?;
                handle
                    .run()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                self.log().flushed(point);
            }
            Op::CloseReopen => {
                let log = self.log.take().unwrap();
                log.close()
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                self.log = Some(self.open());
            }
            Op::Crash { torn } => self.crash(*torn)?,
            Op::NewEpoch => self.epoch += 1,
            Op::RollThenCrashMidFlush { run_job, torn } => {
                self.apply(&Op::Append(vec![(1, 9)]))?;
                self.apply(&Op::Roll)?;
                self.apply(&Op::Append(vec![(2, 3)]))?;
                let (job, point) = self.log().flush_job().expect("a roll and appends to flush");
                prop_assert_eq!(point.covers_offset, self.model.end());
                if *run_job {
                    job.run().map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                // The completion (`flushed`) never comes: the crash checks what was synced
                // before the job; a job that ran made everything it covers durable.
                self.crash(*torn)?;
                if *run_job {
                    prop_assert_eq!(self.log().log_end_offset(), point.covers_offset);
                }
            }
        }
        Ok(())
    }

    fn crash(&mut self, torn: bool) -> Result<(), TestCaseError> {
        let log = self.log.take().unwrap();
        let synced = log.synced_offset();
        // Retention and DeleteRecords move the log start in memory at once; a crash before
        // their flush job recovers the durable one (and the data above it, never less).
        let durable_start = log.durable_log_start();
        drop(log);
        if torn {
            self.mem.crash_torn(&mut self.rng);
        } else {
            self.mem.crash();
        }
        let log = self.open();
        let end = log.log_end_offset();
        prop_assert!(
            synced <= end && end <= self.model.end(),
            "synced {} <= end {} <= model {}",
            synced,
            end,
            self.model.end()
        );
        prop_assert_eq!(log.synced_offset(), end, "recovered data is synced at open");
        let start = log.log_start_offset();
        // The end is a batch edge, unless recovery lost the records above a persisted log
        // start and restarted the log empty there (Kafka's rule; a log start may be inside a
        // batch). That log start is one a crash can find on disk: the durable one (a truncation
        // writes a pending one inline, before the data below it is synced), or the in-memory
        // one if a job wrote it; a later DeleteRecords' start is in memory only.
        let restarted_empty =
            end == start && (start == durable_start || start == self.model.log_start);
        prop_assert!(
            self.model.is_batch_edge(end) || restarted_empty,
            "recovered end {} is inside a batch (log start {}, durable {}, in memory {})",
            end,
            start,
            durable_start,
            self.model.log_start
        );
        prop_assert!(
            durable_start <= start && start <= self.model.log_start.max(end),
            "recovered log start {} outside [{}, {}]",
            start,
            durable_start,
            self.model.log_start
        );
        self.model.log_start = start;
        self.model.cut_to(end);
        self.log = Some(log);
        Ok(())
    }
}

/// 1000 cases per run; `PROPTEST_CASES` overrides it (an explicit `cases` would ignore it) for
/// a longer hunt.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(config in log_config(), ops in prop::collection::vec(op(), 1..70), seed in any::<u64>(), read_max in 1usize..500) {
        let mem = MemStorage::new();
        let mut h = Harness {
            mem,
            config,
            log: None,
            model: Model::default(),
            now_ms: 1_000_000,
            tag: 0,
            epoch: 0,
            rng: SmallRng::seed_from_u64(seed),
        };
        h.log = Some(h.open());
        for op in &ops {
            h.apply(op)?;
            check(h.log.as_ref().unwrap(), &h.model, read_max)?;
        }
    }
}
