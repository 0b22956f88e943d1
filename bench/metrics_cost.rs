//! `rill-metrics-bench`: what the broker's counting costs per request, measured alone (the
//! end-to-end A/B, `bench/metrics_ab.sh`, is within this machine's run-to-run noise). Times the
//! exact calls a Produce request makes — the request queue gauge up and down, the request
//! counted by API with its latency sample, one partition's bytes and records counted by topic
//! (`rill::metrics`) — and a Fetch's (its bytes out by topic), in this process with the
//! admin endpoint's Prometheus recorder installed (`--recorder on`, as `rill server` runs with
//! `admin.listener` set) or without any (`--recorder off`: the facade's no-op). A render
//! (what a scrape does) runs every 100,000 requests, as a busy broker scraped every 15 s would.
//!
//! ```text
//! cargo run --release --bin rill-metrics-bench -- --recorder on
//! cargo run --release --bin rill-metrics-bench -- --recorder off
//! ```
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::Instant;

const REQUESTS: u64 = 2_000_000;
const RUNS: usize = 5;
const TOPICS: usize = 10;

fn main() {
    let recorder = match std::env::args().nth(2).as_deref() {
        Some("off") => false,
        Some("on") | None => true,
        Some(other) => panic!("--recorder on|off, not {other}"),
    };
    let handle =
        recorder.then(|| rill::host::admin::recorder::global().expect("the recorder installs"));
    let topics: Vec<String> = (0..TOPICS).map(|i| format!("topic-{i}")).collect();
    let mut per_request_ns = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        for i in 0..REQUESTS {
            let topic = &topics[i as usize % TOPICS];
            rill::metrics::queued(1.0);
            if i % 2 == 0 {
                rill::metrics::produced(topic, 16_384, 160);
                rill::metrics::answered("Produce", 0.7, 0);
            } else {
                rill::metrics::fetched(topic, 16_384);
                rill::metrics::answered("Fetch", 0.4, 0);
            }
            rill::metrics::queued(-1.0);
            if i % 100_000 == 0 {
                if let Some(handle) = handle {
                    handle.run_upkeep();
                    std::hint::black_box(handle.render());
                }
            }
        }
        per_request_ns.push(started.elapsed().as_nanos() as f64 / REQUESTS as f64);
    }
    per_request_ns.sort_by(f64::total_cmp);
    println!(
        "recorder {}: {:.0} ns per request (median of {RUNS} runs of {REQUESTS}; runs {:.0}–{:.0} ns)",
        if recorder { "on" } else { "off" },
        per_request_ns[RUNS / 2],
        per_request_ns[0],
        per_request_ns[RUNS - 1],
    );
}
