//! `cargo sim`'s command line ([`args`]) and run summary ([`report`]), shared by the runner
//! binary and by `rill-sim`. Standard library only, so the runner stays a cheap build.
pub mod args;
pub mod report;
