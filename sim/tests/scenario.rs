//! The simulator itself is tested here: a seed replays exactly, and the checker catches every
//! planted canary bug while the same seeds pass without one.
#![cfg(madsim)]

use rill::faults::Canary;
use rill_sim::run::{run_seed, Kind, RunOptions};

const SIM_SECS: u64 = 30;
/// Each canary must be caught within this many seeds of 30 simulated seconds (today every
/// canary is caught by seed 1 or 2; ack-before-fsync in 4 of seeds 1..=10).
const SEEDS_PER_CANARY: u64 = 8;

#[test]
fn a_seed_replays_exactly_and_another_seed_differs() {
    let options = RunOptions::new(SIM_SECS);
    let first = run_seed(11, options);
    let again = run_seed(11, options);
    let other = run_seed(12, options);
    assert_eq!(first.kind, Kind::Pass, "{:?}", first.verdict);
    assert!(
        first.stats.contains("acked=") && !first.stats.contains("acked=0 "),
        "the workload ran: {}",
        first.stats
    );
    assert_eq!(
        (first.hash, &first.history),
        (again.hash, &again.history),
        "same seed, same history"
    );
    assert_ne!(first.hash, other.hash, "another seed, another history");
}

#[test]
fn every_canary_is_caught_and_the_clean_build_passes_the_same_seeds() {
    for canary in Canary::ALL {
        let caught = (1..=SEEDS_PER_CANARY).find(|&seed| {
            let result = run_seed(
                seed,
                RunOptions {
                    canary: Some(canary),
                    ..RunOptions::new(SIM_SECS)
                },
            );
            result.kind == Kind::Safety
        });
        assert!(
            caught.is_some(),
            "canary {} was not caught in {SEEDS_PER_CANARY} seeds",
            canary.name()
        );
        eprintln!(
            "canary {} caught at seed {}",
            canary.name(),
            caught.unwrap()
        );
    }
    for seed in 1..=3 {
        let result = run_seed(
            seed,
            RunOptions::new(SIM_SECS),
        );
        assert_eq!(
            result.kind,
            Kind::Pass,
            "seed {seed} without a canary: {:?}",
            result.verdict
        );
    }
}
