//! A run's schedule: what it records of its faults and client operations, and how a run given a
//! kept set leaves the rest out (`cargo sim --shrink`, `--schedule`; the items are
//! `rill_sim_runner::schedule::Item`).
//!
//! Every random draw of the simulated world comes from madsim's one seeded generator, shared by
//! the nemesis, the clients, the network and the scheduler, so leaving one fault out changes
//! every draw after it: the next "step 5" would be another fault at another time. The nemesis
//! therefore draws through a tape ([`NemesisRng`]): a run records each step's start time and
//! draws ([`NemesisPlan`]), and a replay starts each kept step at its recorded time with its
//! recorded draws (taking a draw of the same shape from the generator each time, so a replay
//! that keeps everything runs exactly as the recorded run did). The other items are left out
//! where they happen, without changing what is drawn before them: a fault point's firing is
//! refused by the harness's hook (`fault_points`), and a producer's batch is drawn but never
//! sent (`workload::producer`). Items past the recorded run's (a later firing, a later batch)
//! are left out too, so a replayed schedule holds at most what was kept.
//!
//! Like the fault points' hook, the state is per thread: one simulation runs on one thread.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use madsim::rand::GlobalRng;
use rand::RngCore;
use rill_sim_runner::schedule::Item;

/// One draw of the nemesis' generator, as taken.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Draw {
    U32(u32),
    U64(u64),
    Bytes(Vec<u8>),
}

/// One nemesis step as a run took it.
#[derive(Clone, Debug, Default)]
pub struct NemesisStep {
    /// When it started, from the run's start: exact, so a replay starts it at the same instant.
    pub start: Duration,
    draws: Vec<Draw>,
}

/// Every nemesis step of a run, the last one included (it drew the wait that ended the
/// faults, or found none left).
#[derive(Clone, Debug, Default)]
pub struct NemesisPlan {
    pub steps: Vec<NemesisStep>,
}

/// One item of a run's schedule as it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub item: Item,
    pub at_ms: u64,
    /// What it was, in words ("kill broker 2", "producer 0 batch 17: p0-40..p0-42").
    pub what: String,
}

/// A run's schedule as it happened: what a shrink may leave out, and the nemesis' plan a
/// replay follows.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// In the order they happened.
    pub items: Vec<Scheduled>,
    pub plan: NemesisPlan,
}

/// What a run replays: only `kept` of a recorded run's items, its nemesis after `plan`.
#[derive(Clone, Debug)]
pub struct Replay {
    pub kept: Arc<BTreeSet<Item>>,
    pub plan: Arc<NemesisPlan>,
}

#[derive(Default)]
struct State {
    replay: Option<Replay>,
    recorded: Recorded,
    /// Firings of each point so far, refused ones included (an item's number).
    firings: BTreeMap<&'static str, u32>,
}

impl State {
    fn kept(&self, item: &Item) -> bool {
        self.replay.as_ref().is_none_or(|r| r.kept.contains(item))
    }

    fn happened(&mut self, item: Item, at_ms: u64, what: String) {
        self.recorded.items.push(Scheduled { item, at_ms, what });
    }
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Starts recording this thread's run; with `replay`, it runs only what is kept.
pub fn install(replay: Option<Replay>) {
    STATE.with(|s| {
        *s.borrow_mut() = Some(State {
            replay,
            ..State::default()
        })
    });
}

/// What this thread's run recorded, and stops recording.
pub fn take() -> Recorded {
    STATE.with(|s| s.borrow_mut().take().unwrap_or_default().recorded)
}

fn with<T>(f: impl FnOnce(&mut State) -> T) -> Option<T> {
    STATE.with(|s| s.borrow_mut().as_mut().map(f))
}

/// Producer `producer`'s batch number `batch`, drawn at `at_ms`: whether it is sent (and
/// recorded, described by `what`).
pub fn batch(producer: u32, batch: u32, at_ms: u64, what: impl FnOnce() -> String) -> bool {
    with(|state| {
        let item = Item::Batch { producer, batch };
        let kept = state.kept(&item);
        if kept {
            state.happened(item, at_ms, what());
        }
        kept
    })
    .unwrap_or(true)
}

/// A crash or acting fault point would fire now on broker `node`: whether it does (and is
/// recorded).
pub fn point_fires(name: &'static str, node: u64, at_ms: u64) -> bool {
    with(|state| {
        let firing = state.firings.entry(name).or_default();
        let nth = *firing;
        *firing += 1;
        let item = Item::Point {
            name: name.to_string(),
            nth,
        };
        let kept = state.kept(&item);
        if kept {
            state.happened(item, at_ms, format!("{name} on broker {node}"));
        }
        kept
    })
    .unwrap_or(true)
}

/// Nemesis step `step` acts at `at_ms`, doing `what` (a step left out, or one that found
/// nothing to do, never gets here: it is not in the run's schedule).
pub fn acts(step: u32, at_ms: u64, what: String) {
    with(|state| state.happened(Item::Nemesis(step), at_ms, what));
}

/// What the nemesis does with one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepPlan {
    /// Draws its wait and starts after it, as always.
    Draw,
    /// Starts at this time from the run's start (a replay), and acts only if `kept`.
    Replay { start: Duration, kept: bool },
    /// A replay past the recorded run's last step: the faults are over.
    End,
}

/// The nemesis' generator: madsim's, with each step's draws recorded, or replayed from the
/// plan of a recorded run.
pub struct NemesisRng {
    global: GlobalRng,
    /// The current step's recorded draws and the next one to give; `None` when drawing
    /// afresh (recording, or a replay whose step drew differently from its recording).
    tape: Option<(Vec<Draw>, usize)>,
}

impl Default for NemesisRng {
    fn default() -> Self {
        Self::new()
    }
}

impl NemesisRng {
    pub fn new() -> Self {
        Self {
            global: madsim::rand::thread_rng(),
            tape: None,
        }
    }

    /// Begins nemesis step `step` (from 0): what to do with it.
    pub fn begin_step(&mut self, step: u32) -> StepPlan {
        let planned = with(|state| {
            state.recorded.plan.steps.push(NemesisStep::default());
            let replay = state.replay.as_ref()?;
            let kept = state.kept(&Item::Nemesis(step));
            Some(match replay.plan.steps.get(step as usize) {
                Some(recorded) => (
                    StepPlan::Replay {
                        start: recorded.start,
                        kept,
                    },
                    Some(recorded.draws.clone()),
                ),
                None => (StepPlan::End, None),
            })
        })
        .flatten();
        let (plan, draws) = planned.unwrap_or((StepPlan::Draw, None));
        self.tape = draws.map(|draws| (draws, 0));
        plan
    }

    /// The current step starts `start` after the run's start.
    pub fn started(&self, start: Duration) {
        with(|state| {
            if let Some(current) = state.recorded.plan.steps.last_mut() {
                current.start = start;
            }
        });
    }

    fn record(&self, draw: Draw) {
        with(|state| {
            if let Some(current) = state.recorded.plan.steps.last_mut() {
                current.draws.push(draw);
            }
        });
    }

    /// The recorded draw if the tape has one of this shape next (the generator's own draw is
    /// taken all the same, as the recorded run took it); otherwise `fresh`, and the tape is
    /// dropped for the rest of the step (its draws no longer line up).
    fn replayed(&mut self, fresh: Draw) -> Draw {
        let Some((draws, next)) = &mut self.tape else {
            return fresh;
        };
        let same_shape = match (draws.get(*next), &fresh) {
            (Some(Draw::U32(_)), Draw::U32(_)) | (Some(Draw::U64(_)), Draw::U64(_)) => true,
            (Some(Draw::Bytes(recorded)), Draw::Bytes(now)) => recorded.len() == now.len(),
            _ => false,
        };
        if !same_shape {
            self.tape = None;
            return fresh;
        }
        *next += 1;
        draws[*next - 1].clone()
    }
}

impl RngCore for NemesisRng {
    fn next_u32(&mut self) -> u32 {
        let fresh = Draw::U32(self.global.next_u32());
        let draw = self.replayed(fresh);
        self.record(draw.clone());
        match draw {
            Draw::U32(value) => value,
            _ => unreachable!("same shape"),
        }
    }

    fn next_u64(&mut self) -> u64 {
        let fresh = Draw::U64(self.global.next_u64());
        let draw = self.replayed(fresh);
        self.record(draw.clone());
        match draw {
            Draw::U64(value) => value,
            _ => unreachable!("same shape"),
        }
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.global.fill_bytes(dest);
        let draw = self.replayed(Draw::Bytes(dest.to_vec()));
        if let Draw::Bytes(bytes) = &draw {
            dest.copy_from_slice(bytes);
        }
        self.record(draw);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
