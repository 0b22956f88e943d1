//! Deterministic simulation of Rill (built with `RUSTFLAGS="--cfg madsim"`; run it with
//! `cargo sim`).
//!
//! # Layout
//! * [`storage`]  — `SimDisks`/`SimStorage`: per-node disks with crash semantics (unsynced
//!   bytes lost, torn last write), surviving simulated restarts.
//! * `run`        — one seeded run: the production server on a madsim node, workload, nemesis,
//!   healing, final read, verdict.
//! * `workload`, `client` — Kafka-protocol producers/consumers over simulated TCP.
//! * `history`, `checker` — the Jepsen-style history and the checks over it.
pub mod storage;

#[cfg(madsim)]
pub mod checker;
#[cfg(madsim)]
pub mod client;
#[cfg(madsim)]
pub mod history;
#[cfg(madsim)]
pub mod run;
#[cfg(madsim)]
pub mod workload;
