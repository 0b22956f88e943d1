//! Operability of a failing seed (issue 17): its timeline page shows every node, the faults
//! and the first violation with the records it names; a shrink ends with a schedule no larger
//! than the seed's that still fails, and replays exactly.
#![cfg(madsim)]

use std::sync::Arc;

use rill::faults::Canary;
use rill_sim::run::{run_seed, Kind, RunOptions};
use rill_sim::{shrink, timeline};

const SIM_SECS: u64 = 30;

/// `reassignment-completes-early` is caught at seed 1 (a quorum of three): several nodes with
/// roles that move.
#[test]
fn a_failing_seed_draws_every_node_its_faults_and_its_first_violation() {
    let options = RunOptions {
        canary: Some(Canary::ReassignmentCompletesEarly),
        ..RunOptions::new(SIM_SECS)
    };
    let run = run_seed(1, options);
    assert_eq!(run.kind, Kind::Safety, "{:?}", run.verdict);
    let page = timeline::render(&run, "cargo sim --seed 1").expect("a history to draw");
    let first = &run.verdict.safety[0];
    assert!(
        page.contains(&timeline::escape(first)),
        "the first violation's text: {first}"
    );
    // Every record value it names is listed and marked.
    let values: Vec<&str> = (first.split(|c: char| c.is_whitespace() || c == ','))
        .filter(|w| w.starts_with('p') && w.contains('-') && !w.contains('@'))
        .collect();
    assert!(!values.is_empty(), "{first}");
    for value in values {
        assert!(
            page.contains(&format!("sends {value} to partition")),
            "{value} sent, in {first}"
        );
    }
    assert!(page.contains("class=\"involved\""), "the records marked");
    assert!(page.contains("class=\"band\""), "the violation's band");
    assert!(run.config.brokers >= 3);
    for node in 1..=run.config.brokers {
        assert!(
            page.contains(&format!("data-lane=\"node {node}\"")),
            "a lane for node {node}"
        );
    }
    assert!(page.contains("class=\"role-controller\"") && page.contains("class=\"role-leader\""));
    let fault_intervals = ["down", "paused", "cut", "disk", "net"]
        .iter()
        .filter(|class| page.contains(&format!("<rect class=\"{class}\" x=")))
        .count();
    assert!(fault_intervals >= 1, "a fault interval");
    // Self-contained: nothing to fetch.
    for outside in ["<script", "<link", "https://", "src="] {
        assert!(!page.contains(outside), "{outside}");
    }
}

/// `ack-before-fsync` is caught at seed 1 (one broker): the shrink leaves faults and batches
/// out while it still fails, and its schedule replays exactly.
#[test]
fn a_shrunk_schedule_still_fails_is_no_larger_and_replays_exactly() {
    let options = RunOptions {
        canary: Some(Canary::AckBeforeFsync),
        ..RunOptions::new(SIM_SECS)
    };
    let mut lines = Vec::new();
    let shrunk = shrink::shrink(1, options, 10, &mut |line| lines.push(line.to_string()))
        .unwrap_or_else(|(why, _)| panic!("{why}"));
    assert!(
        shrunk.replays_exactly,
        "the whole schedule replays the seed's run"
    );
    assert_ne!(shrunk.run.kind, Kind::Pass, "{lines:#?}");
    assert!(shrunk.attempts.used <= 10, "{:?}", shrunk.attempts);
    // A line per run, and the whole schedule's replay first.
    assert_eq!(lines.len() as u64, shrunk.attempts.used + 1, "{lines:#?}");
    assert!(lines[1].contains("whole schedule"), "{}", lines[1]);
    let original = shrunk.original.schedule.items.len();
    assert!(
        shrunk.kept.len() < original,
        "something went: {} of {original}",
        shrunk.kept.len()
    );
    // What the shrunk run did is all kept.
    for scheduled in &shrunk.run.schedule.items {
        assert!(shrunk.kept.contains(&scheduled.item), "{scheduled:?}");
    }
    let plan = Arc::new(shrunk.original.schedule.plan.clone());
    let again = shrink::replay(1, options, &plan, &shrunk.kept);
    assert_eq!(
        (again.hash, again.kind),
        (shrunk.run.hash, shrunk.run.kind),
        "the same seed and schedule, the same run"
    );
}
