//! `rill-clean-bench`: what one clean of a compacted log costs on the real disk, for plain
//! batches and for batches of each codec (which the cleaner decompresses, filters and
//! compresses again).
//!
//! ```text
//! cargo run --release --bin rill-clean-bench -- [--batches N] [--dir D]
//! ```
//!
//! Per codec, the same `N` batches (default 4,096) of 16 records are written and synced: 512-byte
//! JSON-like values (a hex payload: gzip and zstd halve it, snappy and lz4 barely shrink it)
//! over 1,000 keys, each key updated many times, as a changelog topic is. The log is rolled and cleaned
//! once with `Log::clean` (the map, the filter pass, the `.cleaned` files and their syncs, the
//! swap). The row gives the log's bytes before and after and the clean's wall time, as
//! records and uncompressed MiB cleaned per second. See `bench/RESULTS.md`.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rill::storage::batch::{build_batch_records, with_records_section, HEADER_BYTES};
use rill::storage::file::FileStorage;
use rill::storage::log::clean::CleanConfig;
use rill::storage::log::{Log, LogConfig};
use rill::storage::records::encode;

const KEYS: u32 = 1_000;
const RECORDS_PER_BATCH: usize = 16;
const VALUE_BYTES: usize = 512;
const SEGMENT_BYTES: u64 = 8 << 20;
const CODECS: [(&str, u8); 5] = [
    ("none", 0),
    ("gzip", 1),
    ("snappy", 2),
    ("lz4", 3),
    ("zstd", 4),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// A 512-byte JSON-like value: a hex payload drawn from `seed`.
fn value(key: &str, round: u64, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut hex = String::with_capacity(VALUE_BYTES);
    while hex.len() < VALUE_BYTES {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        hex.push_str(&format!("{:016x}", state >> 1));
    }
    let mut v = format!("{{\"key\":\"{key}\",\"round\":{round},\"payload\":\"{hex}").into_bytes();
    v.truncate(VALUE_BYTES);
    v
}

/// One batch of [`RECORDS_PER_BATCH`] updates starting at key `first`, compressed with
/// `codec`.
fn batch(first: u32, round: u64, codec: u8) -> Vec<u8> {
    let keys: Vec<String> = (0..RECORDS_PER_BATCH as u32)
        .map(|i| format!("key-{:05}", (first + i) % KEYS))
        .collect();
    let values: Vec<Vec<u8>> = (keys.iter().enumerate())
        .map(|(i, k)| value(k, round, round * RECORDS_PER_BATCH as u64 + i as u64))
        .collect();
    let records: Vec<(Option<&[u8]>, Option<&[u8]>)> = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| (Some(k.as_bytes()), Some(&v[..])))
        .collect();
    let plain = build_batch_records(&records, now_ms());
    if codec == 0 {
        return plain;
    }
    let section = encode(codec, &plain[HEADER_BYTES..], false).expect("compress");
    with_records_section(&plain, codec, &section, RECORDS_PER_BATCH as i32)
}

fn row(root: &Path, name: &str, codec: u8, batches: u64) {
    let storage = Arc::new(FileStorage::new(root.to_path_buf()));
    let dir = PathBuf::from(format!("clean-{name}"));
    let config = LogConfig {
        segment_bytes: SEGMENT_BYTES,
        retention_ms: None,
        ..LogConfig::default()
    };
    let mut log = Log::open(storage, &dir, config, now_ms()).expect("open log");
    let mut first = 0u32;
    for round in 0..batches {
        let mut b = batch(first, round, codec);
        log.append(&mut b, 0, now_ms()).expect("append");
        first = (first + RECORDS_PER_BATCH as u32) % KEYS;
    }
    log.roll(now_ms()).expect("roll");
    log.sync().expect("sync");
    let before = log.size_bytes();
    let clean = CleanConfig {
        min_cleanable_dirty_ratio: 0.0,
        ..CleanConfig::default()
    };
    let started = Instant::now();
    let stats = log
        .clean(&clean, i64::MAX, now_ms())
        .expect("clean")
        .expect("a clean is due");
    let secs = started.elapsed().as_secs_f64();
    let after = log.size_bytes();
    let records = batches as f64 * RECORDS_PER_BATCH as f64;
    let plain_mib = records * VALUE_BYTES as f64 / (1 << 20) as f64;
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    println!(
        "| {name:6} | {:7.1} | {:9.2} | {:4} | {:7.2} | {:9.0} | {:8.1} |",
        mib(before),
        mib(after),
        stats.segments,
        secs,
        records / secs,
        plain_mib / secs,
    );
    drop(log);
    let _ = std::fs::remove_dir_all(root.join(&dir));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let batches: u64 = flag("--batches").map_or(4_096, |v| v.parse().expect("--batches N"));
    let root = flag("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let root = root.join(format!("rill-clean-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("bench dir");
    println!("| codec | log MiB | after MiB | segs | clean s | records/s | value MiB/s |");
    println!("|---|---|---|---|---|---|---|");
    for (name, codec) in CODECS {
        row(&root, name, codec, batches);
    }
    let _ = std::fs::remove_dir_all(&root);
}
