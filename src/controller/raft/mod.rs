//! Raft for the controller quorum (KRaft's role), our own and sans-IO
//! (`docs/architecture.md#the-controller-quorum-raft` says why not openraft or raft-rs).
//!
//! * [`msg`]  — what voters say to each other, and the log's entries.
//! * [`core`] — the protocol as a pure state machine: [`core::RaftCore`] takes messages, ticks
//!   and proposals and hands back a [`core::Ready`]: what to make durable, what to send once it
//!   is durable, how far the log is committed. No storage, no clock, no RNG of its own.
//! * [`log_file`] — the durable half on the [`crate::storage::Storage`] trait: the log's
//!   segment files (CRC-framed entries, a torn tail cut at load), the snapshot file and the
//!   `quorum-state` file (term, vote).
//! * [`fuzz_support`] — fuzz bodies for its files and the metadata entries (`fuzz/`).
//! * [`node`] — a voter as an actor hosts it: core + files, one persist job at a time, and
//!   every message held until the writes made before it are synced.
//!
//! # The rules that keep it safe (each has a test in `model_tests`)
//! * **Persist before send.** A vote, a term and appended entries are written and fsynced
//!   before any message that was produced after them leaves the node ([`node::RaftNode`]);
//!   a leader counts its own log only up to what it has synced.
//! * **Pre-vote and leader stickiness.** A node whose election timer fired first asks for
//!   pre-votes without raising its term; a voter that heard from a leader within the minimum
//!   election timeout refuses pre-votes and ignores real vote requests, so a node that comes
//!   back from a partition cannot depose a healthy leader.
//! * **Candidates ask again** (as KRaft's do): every heartbeat interval, a (pre-)candidate
//!   re-sends its question to the voters that have not answered, so a voter that restarted or
//!   reconnected during the election still hears it.
//! * **Check-quorum.** A leader that has not heard from a majority within an election timeout
//!   steps down.
//! * **Commit only the current term's entries** by counting replicas (Raft §5.4.2); a new
//!   leader appends a no-op entry at once so that earlier entries commit through it.
//! * **A snapshot is durable before the log it replaces goes**: the core compacts only after
//!   the host saved the snapshot, and a follower's install removes its old segments in the
//!   same persist job, after the snapshot file. A state machine never goes back: a snapshot no
//!   newer than the commit index is answered and ignored.

pub mod core;
pub mod fuzz_support;
pub mod log_file;
pub mod msg;
pub mod node;

#[cfg(test)]
mod core_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod snapshot_tests;
