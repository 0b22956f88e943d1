//! Runs the `log_open` fuzz body (`rill::storage::fuzz_support::open_arbitrary_dir`) in plain
//! `cargo test`: over random inputs from proptest, and over inputs the fuzzer once crashed
//! on. Whatever a log directory holds, opening, reading, appending to and reopening the log
//! must not panic.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rill::storage::fuzz_support::{open_arbitrary_dir, FuzzOutcome};

/// Runs `cases` random inputs from `strategy` and returns how far each got.
fn run(cases: u32, strategy: impl Strategy<Value = Vec<u8>>) -> Vec<FuzzOutcome> {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcomes = std::cell::RefCell::new(Vec::new());
    runner
        .run(&strategy, |data| {
            outcomes.borrow_mut().push(open_arbitrary_dir(&data));
            Ok(())
        })
        .unwrap();
    outcomes.into_inner()
}

fn report(outcomes: &[FuzzOutcome]) -> (usize, usize, usize, usize) {
    let count = |f: fn(&FuzzOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    (
        count(|o| o.opened),
        count(|o| o.recovered_bytes > 0),
        count(|o| o.appended),
        count(|o| o.reopened),
    )
}

#[test]
fn log_open_never_panics_on_random_bytes() {
    let outcomes = run(2000, proptest::collection::vec(any::<u8>(), 0..2048));
    let (opened, recovered, appended, reopened) = report(&outcomes);
    println!(
        "opened {opened} recovered-data {recovered} appended {appended} reopened {reopened} of {}",
        outcomes.len()
    );
    assert!(opened > outcomes.len() / 4, "most inputs should open a log");
    assert!(reopened > 0);
}

/// Small byte values pick the structured branches (segment files, valid batches) more often,
/// so these inputs reach deeper into recovery: some must recover existing data.
#[test]
fn log_open_never_panics_on_structured_bytes() {
    let outcomes = run(2000, proptest::collection::vec(0u8..8, 0..512));
    let (opened, recovered, appended, reopened) = report(&outcomes);
    println!(
        "opened {opened} recovered-data {recovered} appended {appended} reopened {reopened} of {}",
        outcomes.len()
    );
    assert!(
        recovered > outcomes.len() / 20,
        "inputs should often recover batches"
    );
    assert!(reopened > 0);
}

#[test]
fn empty_input_opens_an_empty_log() {
    let outcome = open_arbitrary_dir(&[]);
    assert!(
        outcome.opened && outcome.appended && outcome.reopened,
        "{outcome:?}"
    );
}
