//! `cargo sim --shrink`: a failing seed run again and again with items of its schedule left
//! out (`crate::schedule`), delta-debugging style (`rill_sim_runner::shrink::ddmin`), while it
//! still fails: first its faults (nemesis steps and fault point firings, every batch kept),
//! then its producers' batches (the faults kept). A candidate fails on any violation; one
//! that breaks the seed's first claim is preferred.

use std::collections::BTreeSet;
use std::sync::Arc;

use rill_sim_runner::schedule::Item;
use rill_sim_runner::shrink::{ddmin, Attempts, Outcome};

use crate::run::{run_seed, run_seed_with, Kind, RunOptions, RunResult};
use crate::schedule::{NemesisPlan, Replay};

/// The claim a failing run broke first: its first violation's check ("lost acknowledged
/// write"), or "panic".
pub fn first_claim(run: &RunResult) -> Option<String> {
    if run.kind == Kind::Crash {
        return Some("panic".into());
    }
    let first = run
        .verdict
        .safety
        .first()
        .or(run.verdict.liveness.first())?;
    Some(first.split(": ").next().unwrap_or(first).to_string())
}

/// How `run` ended for a shrink looking for `claim`.
pub fn outcome(run: &RunResult, claim: &str) -> Outcome {
    let lines = || run.verdict.safety.iter().chain(&run.verdict.liveness);
    match run.kind {
        Kind::Pass => Outcome::Passes,
        Kind::Crash if claim == "panic" => Outcome::FailsAlike,
        _ if lines().any(|l| l.starts_with(&format!("{claim}: "))) => Outcome::FailsAlike,
        _ => Outcome::FailsOtherwise,
    }
}

/// The seed's schedule replayed: the run with only `kept` of `plan`'s recorded run.
pub fn replay(
    seed: u64,
    options: RunOptions,
    plan: &Arc<NemesisPlan>,
    kept: &BTreeSet<Item>,
) -> RunResult {
    let replay = Replay {
        kept: Arc::new(kept.clone()),
        plan: plan.clone(),
    };
    run_seed_with(seed, options, Some(replay))
}

/// A shrink's result.
pub struct Shrunk {
    /// The seed's whole run.
    pub original: RunResult,
    /// The claim it broke first.
    pub claim: String,
    /// Whether replaying its whole schedule gave the same history (it must).
    pub replays_exactly: bool,
    /// The smallest failing schedule found, and its run.
    pub kept: BTreeSet<Item>,
    pub run: RunResult,
    pub attempts: Attempts,
}

impl Shrunk {
    /// (faults, operations) of the original run's schedule.
    pub fn original_size(&self) -> (usize, usize) {
        size(self.original.schedule.items.iter().map(|s| &s.item))
    }

    /// (faults, operations) kept.
    pub fn kept_size(&self) -> (usize, usize) {
        size(self.kept.iter())
    }
}

/// "3 faults and 1 operation".
pub fn describe_size((faults, ops): (usize, usize)) -> String {
    let plural = |n: usize, one: &str| match n {
        1 => format!("1 {one}"),
        n => format!("{n} {one}s"),
    };
    format!(
        "{} and {}",
        plural(faults, "fault"),
        plural(ops, "operation")
    )
}

fn size<'a>(items: impl Iterator<Item = &'a Item>) -> (usize, usize) {
    let (mut faults, mut ops) = (0, 0);
    for item in items {
        match item.is_fault() {
            true => faults += 1,
            false => ops += 1,
        }
    }
    (faults, ops)
}

/// Shrinks seed `seed`'s failing schedule in at most `max_attempts` runs (besides the seed's
/// own run), telling `progress` a line per run. `Err` says why there is nothing to shrink.
pub fn shrink(
    seed: u64,
    options: RunOptions,
    max_attempts: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<Shrunk, (String, Box<RunResult>)> {
    let original = run_seed(seed, options);
    let Some(claim) = first_claim(&original) else {
        return Err((
            format!("seed {seed} passes: nothing to shrink"),
            Box::new(original),
        ));
    };
    if original.kind == Kind::Crash {
        // The schedule is recorded on the run's thread, which the panic unwound.
        return Err((
            format!("seed {seed} panicked: its schedule is lost with the run, nothing to shrink"),
            Box::new(original),
        ));
    }
    let plan = Arc::new(original.schedule.plan.clone());
    let items: Vec<Item> = (original.schedule.items.iter())
        .map(|s| s.item.clone())
        .collect();
    let (faults, ops): (Vec<Item>, Vec<Item>) = items.iter().cloned().partition(Item::is_fault);
    progress(&format!(
        "shrink: seed {seed} fails ({claim}) with {}; at most {max_attempts} runs",
        describe_size((faults.len(), ops.len()))
    ));
    // The runs made, the whole schedule's replay first; ddmin counts its own the same way.
    let mut runs = 0u64;
    // The last failing runs, by their kept set: the result is one of them.
    let mut failing: Vec<(BTreeSet<Item>, RunResult)> = Vec::new();
    let mut attempt = |kept: BTreeSet<Item>, phase: &str| {
        runs += 1;
        let run = replay(seed, options, &plan, &kept);
        let result = outcome(&run, &claim);
        progress(&format!(
            "shrink: run {runs}/{max_attempts} ({phase}): {} → {}  [{:.1} s]",
            describe_size(size(kept.iter())),
            match result {
                Outcome::Passes => "passes".to_string(),
                Outcome::FailsAlike => format!("fails alike ({claim})"),
                Outcome::FailsOtherwise => format!(
                    "fails otherwise ({})",
                    first_claim(&run).unwrap_or_default()
                ),
            },
            run.wall_ms as f64 / 1000.0
        ));
        let hash = run.hash;
        if result.fails() {
            failing.push((kept, run));
            if failing.len() > FAILING_KEPT {
                failing.remove(0);
            }
        }
        (result, hash)
    };
    let mut attempts = Attempts::new(max_attempts);
    // Replaying everything must be the seed's own run (the nemesis' tape lines up).
    attempts.used += 1;
    let everything: BTreeSet<Item> = items.iter().cloned().collect();
    let (_, hash) = attempt(everything.clone(), "whole schedule");
    let replays_exactly = hash == original.hash;
    let ops_all: BTreeSet<Item> = ops.iter().cloned().collect();
    let kept_faults = ddmin(faults, &mut attempts, |candidate| {
        let kept = candidate
            .iter()
            .cloned()
            .chain(ops_all.iter().cloned())
            .collect();
        attempt(kept, "faults").0
    });
    let kept_ops = ddmin(ops, &mut attempts, |candidate| {
        let kept = kept_faults
            .iter()
            .cloned()
            .chain(candidate.iter().cloned())
            .collect();
        attempt(kept, "operations").0
    });
    let kept: BTreeSet<Item> = kept_faults.into_iter().chain(kept_ops).collect();
    let found = failing.into_iter().rev().find(|(set, _)| *set == kept);
    let run = match found {
        Some((_, run)) => run,
        // Nothing could go: the whole schedule, whose run is the seed's own.
        None if kept == everything && replays_exactly => run_seed(seed, options),
        // Not among the last failing runs (cannot happen: ddmin's result is its last
        // accepted candidate): run it again.
        None => replay(seed, options, &plan, &kept),
    };
    Ok(Shrunk {
        original,
        claim,
        replays_exactly,
        kept,
        run,
        attempts,
    })
}

/// How many of the last failing runs are kept (each holds its history).
const FAILING_KEPT: usize = 4;
