//! Runs the controller quorum's fuzz bodies (`rill::controller::raft::fuzz_support`) in plain
//! `cargo test` over random inputs from proptest: whatever a voter's directory holds, loading,
//! appending and loading again never panics and loses no append; whatever bytes arrive as
//! metadata entries, decoding and applying them never panics and the image's snapshot loads
//! back equal.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rill::controller::raft::fuzz_support::{
    apply_arbitrary_entries, load_arbitrary_dir, RaftFuzzOutcome,
};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn a_voter_directory_of_any_bytes_loads_or_is_refused_and_takes_appends() {
    let outcomes = std::cell::RefCell::new(Vec::<RaftFuzzOutcome>::new());
    runner(3000)
        .run(&prop::collection::vec(any::<u8>(), 0..600), |data| {
            outcomes.borrow_mut().push(load_arbitrary_dir(&data));
            Ok(())
        })
        .unwrap();
    let outcomes = outcomes.into_inner();
    let loaded = outcomes.iter().filter(|o| o.loaded).count();
    let with_entries = outcomes.iter().filter(|o| o.entries > 0).count();
    let with_snapshot = outcomes.iter().filter(|o| o.snapshot_index > 0).count();
    eprintln!("{loaded} loaded, {with_entries} with entries, {with_snapshot} after a snapshot");
    // The inputs reached every path: refusals, loads with entries, loads after a snapshot.
    assert!(loaded > 300 && loaded < 2900, "{loaded} of 3000 loaded");
    assert!(with_entries > 30, "{with_entries} loaded entries");
    assert!(with_snapshot > 30, "{with_snapshot} loaded a snapshot");
}

#[test]
fn metadata_entries_of_any_bytes_apply_or_are_skipped_without_a_panic() {
    runner(2000)
        .run(&prop::collection::vec(any::<u8>(), 0..400), |data| {
            apply_arbitrary_entries(&data);
            Ok(())
        })
        .unwrap();
}
