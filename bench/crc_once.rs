//! `rill-crc-bench`: what computing a produced batch's CRC a second time cost the partitions
//! actor (issue 9, item 3). The broker's record walk checks every CRC on the connection's task;
//! `Log::append` used to check them again on the shared actor. This times, per record, the
//! actor's append with the CRC check (`Log::append`, as before) and without it
//! (`Log::append_crc_checked`, the produce path now), on `MemStorage` so the disk does not
//! hide the difference, and the CRC alone.
//!
//! ```text
//! cargo run --release --bin rill-crc-bench
//! ```
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rill::storage::batch::{build_batch, compute_crc};
use rill::storage::log::{Log, LogConfig};
use rill::storage::mem::MemStorage;

/// Bytes appended per measurement: enough for steady timings, small enough for memory.
const BYTES_PER_RUN: usize = 256 << 20;
/// Record bytes per batch (librdkafka fills batches of this order with linger.ms=5).
const BATCH_BYTES: usize = 64 << 10;
const RUNS: usize = 5;

fn main() {
    println!("| record | batch | append with CRC ns/rec | append, CRC already checked ns/rec | saved | CRC alone ns/rec |");
    println!("|---|---|---|---|---|---|");
    for record_bytes in [100usize, 1024] {
        let value = vec![b'x'; record_bytes];
        let per_batch = BATCH_BYTES / record_bytes;
        let records: Vec<(Option<&[u8]>, &[u8])> =
            (0..per_batch).map(|_| (None, &value[..])).collect();
        let batch = build_batch(&records, 1_700_000_000_000);
        let batches = BYTES_PER_RUN / batch.len();
        let total_records = (batches * per_batch) as f64;
        let mut with_crc = Vec::new();
        let mut without = Vec::new();
        for _ in 0..RUNS {
            with_crc.push(run(&batch, batches, false) / total_records);
            without.push(run(&batch, batches, true) / total_records);
        }
        let started = Instant::now();
        let mut sink = 0u32;
        for _ in 0..batches {
            sink ^= compute_crc(std::hint::black_box(&batch));
        }
        std::hint::black_box(sink);
        let crc_alone = started.elapsed().as_nanos() as f64 / total_records;
        let (a, b) = (median(with_crc), median(without));
        println!(
            "| {record_bytes} B | {} KiB | {a:.1} | {b:.1} | {:.0} % | {crc_alone:.1} |",
            batch.len() >> 10,
            (a - b) / a * 100.0
        );
    }
}

/// Nanoseconds to append `batches` copies of `batch` to a fresh log.
fn run(batch: &[u8], batches: usize, crc_checked: bool) -> f64 {
    let config = LogConfig {
        segment_bytes: 1 << 30,
        batch_bytes_max: 1 << 20,
        ..LogConfig::default()
    };
    let mut log =
        Log::open(Arc::new(MemStorage::new()), Path::new("p-0"), config, 0).expect("open");
    let mut copy = batch.to_vec();
    let started = Instant::now();
    for _ in 0..batches {
        if crc_checked {
            log.append_crc_checked(&mut copy, 0, 0).expect("append");
        } else {
            log.append(&mut copy, 0, 0).expect("append");
        }
    }
    started.elapsed().as_nanos() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
