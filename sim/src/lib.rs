//! Deterministic simulation of Rill (built with `RUSTFLAGS="--cfg madsim"`; run it with
//! `cargo sim`).
//!
//! # Layout
//! * [`storage`]  — `SimDisks`/`SimStorage`: per-node disks with crash semantics (unsynced
//!   bytes lost, torn last write), surviving simulated restarts.
//! * [`power`]    — a node's disk behind a power switch: a crash point cuts it, so nothing
//!   the node does after the point becomes durable.
//! * `fault_points` — the hook behind `rill::faults::points`: records each firing in the
//!   history, power-fails the node at a crash point, kills and restarts it.
//! * `run`        — one seeded run: the production server on a madsim node, workload, nemesis,
//!   healing, final read, verdict.
//! * `role_faults` — the nemesis' faults aimed at a replicated partition's leader and
//!   followers (isolation, a follower restarted then its leader killed, double failover, an
//!   empty data disk).
//! * `workload`, `client` — Kafka-protocol producers/consumers over simulated TCP.
//! * `sasl` — a SASL run's logins on every workload connection (`--sasl`): right ones, wrong
//!   ones the broker must refuse, and requests without a login.
//! * `history`, `checker` — the Jepsen-style history and the checks over it.
//! * `schedule` — what a run records of its faults and client operations, and how a run
//!   replays only some of them (`cargo sim --shrink`, `--schedule`).
//! * `shrink` — `cargo sim --shrink`: a failing seed run again with items of its schedule left
//!   out while it still fails.
//! * `timeline` — a run as a self-contained HTML page (`cargo sim --timeline`): a lane per node
//!   and client over simulated time, the faults, and the first violation.
pub mod power;
pub mod storage;

#[cfg(madsim)]
pub mod checker;
#[cfg(madsim)]
pub mod client;
#[cfg(madsim)]
pub mod fault_points;
#[cfg(madsim)]
pub mod history;
#[cfg(madsim)]
pub mod role_faults;
#[cfg(madsim)]
pub mod run;
#[cfg(madsim)]
pub mod sasl;
#[cfg(madsim)]
pub mod schedule;
#[cfg(madsim)]
pub mod shrink;
#[cfg(madsim)]
pub mod timeline;
#[cfg(madsim)]
pub mod workload;

#[cfg(test)]
mod tests {
    /// `cargo sim --help` is written in the runner, which cannot see the canaries: keep it in
    /// step with them.
    #[test]
    fn help_names_every_canary() {
        for canary in rill::faults::Canary::ALL {
            assert!(
                rill_sim_runner::args::HELP.contains(canary.name()),
                "cargo sim --help does not name the canary {}",
                canary.name()
            );
        }
    }
}
