//! `rill-log-bench`: append throughput of the partition log on the real disk, per record size,
//! batch size and flush policy, plus fsync latency and appends per fsync under group commit.
//!
//! ```text
//! cargo run --release --bin rill-log-bench -- [--secs N] [--dir D]
//! ```
//!
//! Every row runs [`PRODUCERS`] threads appending pre-built batches (`build_batch`, as a
//! Kafka producer would send them) to one `Log` on `FileStorage` behind a mutex — the partition
//! actor serialises appends the same way. Per policy:
//! * `every-append+gc`: each producer waits until its append is durable before the next one
//!   (acks after fsync); one syncer thread loops `flush_job` → `run()` (outside the lock)
//!   → `flushed`, so one fsync covers every append that arrived meanwhile (group commit).
//! * `interval-1000ms`: producers sync inline whenever `flush_due` says so (Kafka `flush.ms`).
//! * `os`: never sync on the append path (Kafka's default); segment rolls still sync.
//!
//! See `bench/README.md` for how to read the table.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock and runs OS threads

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rill::storage::batch::build_batch;
use rill::storage::file::FileStorage;
use rill::storage::log::{FlushPolicy, Log, LogConfig};
use rill::storage::Storage;

/// Producer threads per row.
const PRODUCERS: usize = 4;
/// Largest batch the bench builds; the log's `batch_bytes_max` is set to this.
const BATCH_BYTES_MAX: usize = 1 << 20;
const DEFAULT_SECS_PER_ROW: f64 = 3.0;
const RECORD_SIZES: [usize; 2] = [100, 1024];
const BATCH_SIZES: [usize; 2] = [16 * 1024, BATCH_BYTES_MAX];

#[derive(Clone, Copy, Debug)]
enum Policy {
    EveryAppendGroupCommit,
    Interval1000Ms,
    Os,
}

impl Policy {
    const ALL: [Policy; 3] = [
        Policy::EveryAppendGroupCommit,
        Policy::Interval1000Ms,
        Policy::Os,
    ];

    fn flush(self) -> FlushPolicy {
        match self {
            Policy::EveryAppendGroupCommit => FlushPolicy::EveryAppend,
            Policy::Interval1000Ms => FlushPolicy::IntervalMs(1000),
            Policy::Os => FlushPolicy::Os,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Policy::EveryAppendGroupCommit => "every-append+gc",
            Policy::Interval1000Ms => "interval-1000ms",
            Policy::Os => "os",
        }
    }
}

struct Args {
    secs_per_row: f64,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        secs_per_row: DEFAULT_SECS_PER_ROW,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--secs" => {
                let text = value()?;
                args.secs_per_row = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| *s > 0.0 && s.is_finite())
                    .ok_or(format!("--secs: not a positive number of seconds: {text}"))?;
            }
            "--dir" => args.dir = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!("usage: rill-log-bench [--secs SECONDS_PER_ROW] [--dir PARENT_DIR]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(args)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A batch of `record_bytes` records as close to `batch_bytes` as possible without exceeding it.
fn batch_of(record_bytes: usize, batch_bytes: usize) -> (Vec<u8>, usize) {
    let value: Vec<u8> = (0..record_bytes).map(|i| (i % 251) as u8).collect();
    let build = |count: usize| {
        let records: Vec<(Option<&[u8]>, &[u8])> = (0..count).map(|_| (None, &value[..])).collect();
        build_batch(&records, now_ms())
    };
    let mut count = (batch_bytes / (record_bytes + 8)).max(1);
    loop {
        let batch = build(count);
        if batch.len() <= batch_bytes || count == 1 {
            return (batch, count);
        }
        let overshoot = batch.len() - batch_bytes;
        count -= (overshoot / (record_bytes + 8)).clamp(1, count - 1);
    }
}

/// Sorted durations → (p50, p99) in milliseconds.
fn percentiles_ms(mut samples: Vec<Duration>) -> Option<(f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort();
    let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
    Some((at(50).as_secs_f64() * 1e3, at(99).as_secs_f64() * 1e3))
}

/// The log and the counters, behind one mutex like a partition actor.
struct State {
    log: Log,
    appends: u64,
    bytes: u64,
    records: u64,
    fsyncs: u64,
    fsync_latencies: Vec<Duration>,
    ack_latencies: Vec<Duration>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled after an append (wakes the syncer).
    appended: Condvar,
    /// Signalled after a sync completed (wakes waiting producers).
    synced: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("a bench thread panicked")
    }
}

struct RowResult {
    batch_bytes: usize,
    records_per_batch: usize,
    secs: f64,
    appends: u64,
    bytes: u64,
    records: u64,
    fsyncs: u64,
    fsync_ms: Option<(f64, f64)>,
    ack_ms: Option<(f64, f64)>,
}

fn producer(shared: &Shared, policy: Policy, mut batch: Vec<u8>, records: u64, deadline: Instant) {
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut state = shared.lock();
        let info = state.log.append(&mut batch, 0, now_ms()).expect("append");
        state.appends += 1;
        state.bytes += batch.len() as u64;
        state.records += records;
        match policy {
            Policy::EveryAppendGroupCommit => {
                shared.appended.notify_one();
                while state.log.synced_offset() <= info.last_offset {
                    state = shared.synced.wait(state).expect("a bench thread panicked");
                }
                state.ack_latencies.push(started.elapsed());
            }
            Policy::Interval1000Ms if state.log.flush_due(now_ms()) => {
                let (handle, point) = state.log.flush_job().expect("unsynced appends to flush");
                drop(state);
                let sync_started = Instant::now();
                handle.run().expect("fsync");
                let took = sync_started.elapsed();
                let mut state = shared.lock();
                state.log.flushed(point);
                state.fsyncs += 1;
                state.fsync_latencies.push(took);
            }
            Policy::Interval1000Ms | Policy::Os => {}
        }
    }
}

/// Group commit: sync whatever is unsynced, outside the lock, until stopped.
fn syncer(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        while state.log.synced_offset() >= state.log.log_end_offset() {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            state = shared
                .appended
                .wait_timeout(state, Duration::from_millis(10))
                .expect("a bench thread panicked")
                .0;
        }
        let (handle, point) = state.log.flush_job().expect("unsynced appends to flush");
        drop(state);
        let started = Instant::now();
        handle.run().expect("fsync");
        let took = started.elapsed();
        state = shared.lock();
        state.log.flushed(point);
        state.fsyncs += 1;
        state.fsync_latencies.push(took);
        shared.synced.notify_all();
    }
}

fn run_row(
    root: &Path,
    row: usize,
    record_bytes: usize,
    batch_bytes: usize,
    policy: Policy,
    secs: f64,
) -> RowResult {
    let storage = Arc::new(FileStorage::new(root.to_path_buf()));
    let dir = PathBuf::from(format!("row-{row}"));
    let config = LogConfig {
        flush: policy.flush(),
        retention_ms: None,
        batch_bytes_max: BATCH_BYTES_MAX,
        ..LogConfig::default()
    };
    let log = Log::open(storage.clone(), &dir, config, now_ms()).expect("open log");
    let (batch, records_per_batch) = batch_of(record_bytes, batch_bytes);
    let shared = Shared {
        state: Mutex::new(State {
            log,
            appends: 0,
            bytes: 0,
            records: 0,
            fsyncs: 0,
            fsync_latencies: Vec::new(),
            ack_latencies: Vec::new(),
        }),
        appended: Condvar::new(),
        synced: Condvar::new(),
        stop: AtomicBool::new(false),
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let elapsed = thread::scope(|scope| {
        let syncer_thread = matches!(policy, Policy::EveryAppendGroupCommit)
            .then(|| scope.spawn(|| syncer(&shared)));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|_| {
                let batch = batch.clone();
                let shared = &shared;
                scope.spawn(move || {
                    producer(shared, policy, batch, records_per_batch as u64, deadline)
                })
            })
            .collect();
        for handle in producers {
            handle.join().expect("producer panicked");
        }
        let elapsed = started.elapsed();
        shared.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = syncer_thread {
            handle.join().expect("syncer panicked");
        }
        elapsed
    });
    let secs = elapsed.as_secs_f64();
    let state = shared.state.into_inner().expect("a bench thread panicked");
    let result = RowResult {
        batch_bytes: batch.len(),
        records_per_batch,
        secs,
        appends: state.appends,
        bytes: state.bytes,
        records: state.records,
        fsyncs: state.fsyncs,
        fsync_ms: percentiles_ms(state.fsync_latencies),
        ack_ms: percentiles_ms(state.ack_latencies),
    };
    drop(state.log);
    storage.remove_dir_all(&dir).expect("remove row dir");
    result
}

fn fmt_pair(pair: Option<(f64, f64)>) -> String {
    pair.map_or("-".to_string(), |(p50, p99)| format!("{p50:.2}/{p99:.2}"))
}

fn fmt_size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.0} MiB", bytes as f64 / (1 << 20) as f64)
    } else if bytes >= 1024 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("rill-log-bench: {err}");
            std::process::exit(2);
        }
    };
    let root = args
        .dir
        .join(format!("rill-log-bench-{}", std::process::id()));
    println!(
        "rill-log-bench: {PRODUCERS} producer threads, {:.1} s per row, data in {}",
        args.secs_per_row,
        root.display()
    );
    println!(
        "{:>6} {:>7} {:>5} {:<16} {:>8} {:>10} {:>11} {:>7} {:>13} {:>15} {:>15}",
        "record",
        "batch",
        "recs",
        "policy",
        "MB/s",
        "appends/s",
        "records/s",
        "fsyncs",
        "appends/fsync",
        "fsync p50/p99",
        "ack p50/p99"
    );
    let mut row = 0;
    for record_bytes in RECORD_SIZES {
        for batch_bytes in BATCH_SIZES {
            for policy in Policy::ALL {
                let r = run_row(
                    &root,
                    row,
                    record_bytes,
                    batch_bytes,
                    policy,
                    args.secs_per_row,
                );
                row += 1;
                let per_fsync = if r.fsyncs == 0 {
                    "-".to_string()
                } else {
                    format!("{:.1}", r.appends as f64 / r.fsyncs as f64)
                };
                println!(
                    "{:>6} {:>7} {:>5} {:<16} {:>8.1} {:>10.0} {:>11.0} {:>7} {:>13} {:>15} {:>15}",
                    fmt_size(record_bytes),
                    fmt_size(r.batch_bytes),
                    r.records_per_batch,
                    policy.name(),
                    r.bytes as f64 / r.secs / 1e6,
                    r.appends as f64 / r.secs,
                    r.records as f64 / r.secs,
                    r.fsyncs,
                    per_fsync,
                    fmt_pair(r.fsync_ms),
                    fmt_pair(r.ack_ms),
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    println!("MB = 10^6 bytes of record batches appended; latencies in ms (p50/p99); '-' = none measured");
}
