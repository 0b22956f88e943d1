//! `cargo sim`'s command line ([`args`]), run summary ([`report`]), progress bar
//! ([`progress`]), the items of a run's schedule and their text ([`schedule`]) and the delta
//! debugging that shrinks a failing schedule ([`shrink`]), shared by the runner binary and by
//! `rill-sim`. The standard library and `indicatif` only, so the runner stays a cheap build.
pub mod args;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod shrink;
