//! The harness side of the named fault points (`rill::faults::points`): the hook that records
//! each firing in the history and, for a crash point, power-fails the node; and the crasher
//! that then kills the node, crashes its disk and restarts it after a seeded hold — as the
//! nemesis does for a random kill.
//!
//! Why the hook only cuts the power and leaves the kill to the crasher (a task of the harness):
//! madsim's `Handle::kill` of the current node marks it killed, but the task that reached the
//! point keeps running until its next `.await`, and its synchronous code would go on writing
//! and syncing. With the power cut first ([`PowerSwitches::cut`]) none of that can become
//! durable; the kill follows at once (or, after a produce answer, once it can have reached the
//! client, so the crash is certainly after the ack was seen).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use madsim::runtime::Handle;
use rand::Rng;
use rill::faults::points::{self, Effect, PointCount};
use rill::faults::FaultPoint;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::history::{Event, History};
use crate::power::PowerSwitches;
use crate::schedule;
use crate::storage::SimDisks;

/// After a produce answer (or a vote) is written, the node dies this much later: longer than
/// the slowest simulated link (the nemesis sets at most ~41 ms), so the client (the candidate)
/// can have read it.
const KILL_AFTER_ACK: Duration = Duration::from_millis(60);
/// Simulated time between the restart after one point crash and the next one may fire: drawn
/// from this range, so a run keeps making progress between crashes.
const CRASH_GAP_MS: std::ops::Range<u64> = 2_000..6_000;
/// How long a point-crashed node stays down.
const HOLD_MS: std::ops::Range<u64> = 50..1_500;

/// A broker the hook may crash: madsim's node id → Kafka node.id (its disk).
pub type Brokers = BTreeMap<madsim::task::NodeId, u64>;

/// One accepted crash, for the crasher.
struct Crash {
    node: madsim::task::NodeId,
    node_id: u64,
    point: FaultPoint,
}

#[derive(Default)]
struct Gate {
    /// A point crash is being handled (the power is cut, the restart not done).
    pending: bool,
    /// No point crash before this.
    next_at: Option<Instant>,
    /// The point of the last crash.
    last: Option<FaultPoint>,
    /// The crasher runs (the fault phase): before it starts (topic creation) and after it
    /// stops (healing) no crash point fires, as nobody would kill and restart the node.
    open: bool,
}

/// Installs the hook for this simulation thread; run [`Crasher::run`] alongside the nemesis.
pub fn install(
    history: History,
    started: Instant,
    brokers: Brokers,
    power: PowerSwitches,
) -> Crasher {
    let (tx, rx) = mpsc::unbounded_channel();
    let gate = Rc::new(RefCell::new(Gate::default()));
    let hook_gate = gate.clone();
    let hook: points::Hook = Rc::new(move |point: FaultPoint, detail: String| {
        let node = madsim::plugin::node();
        let Some(&node_id) = brokers.get(&node) else {
            return false;
        };
        if point.effect() == Effect::Act && !hook_gate.borrow().open {
            // After healing nothing unusual happens any more.
            return false;
        }
        let at_ms = started.elapsed().as_millis() as u64;
        if point.effect() == Effect::Act && !schedule::point_fires(point.name(), node_id, at_ms) {
            // Left out of a shrink's replay (`crate::schedule`).
            return false;
        }
        if point.effect() == Effect::Crash {
            let mut gate = hook_gate.borrow_mut();
            let now = Instant::now();
            // The coordinator replays its log right after a restart, inside the gap: a
            // crash there skips the gap, but never twice in a row.
            let skips_gap = point == FaultPoint::CrashDuringGroupLoad
                && gate.last != Some(FaultPoint::CrashDuringGroupLoad);
            let in_gap = gate.next_at.is_some_and(|at| now < at) && !skips_gap;
            if gate.pending || !gate.open || in_gap {
                return false;
            }
            if !schedule::point_fires(point.name(), node_id, at_ms) {
                // Left out of a shrink's replay (`crate::schedule`): the gate stays as it was.
                return false;
            }
            gate.pending = true;
            gate.last = Some(point);
            power.cut(node_id);
            let _ = tx.send(Crash {
                node,
                node_id,
                point,
            });
        }
        history.record(
            at_ms,
            Event::FaultPoint {
                name: point.name(),
                node: node_id,
                detail,
            },
        );
        true
    });
    points::set_hook(Some(hook));
    Crasher { rx, gate }
}

/// This thread's per-point counts (zero for every point when no hook was installed).
pub fn counts() -> Vec<(FaultPoint, PointCount)> {
    points::counts()
}

/// Kills, crashes and restarts the nodes whose crash points fired.
pub struct Crasher {
    rx: mpsc::UnboundedReceiver<Crash>,
    gate: Rc<RefCell<Gate>>,
}

/// What the crasher needs from the harness.
pub struct Harness<'a> {
    pub handle: &'a Handle,
    pub disks: &'a SimDisks,
    pub history: &'a History,
    pub started: Instant,
    /// Held while a node is down or paused, so the nemesis and the crasher never act on a
    /// node at the same time.
    pub node_faults: &'a tokio::sync::Mutex<()>,
}

impl Crasher {
    /// Opens the gate and serves crashes until `until`, then closes it and finishes any crash already
    /// accepted (its node's power is cut: it must be restarted before healing).
    pub async fn run(mut self, harness: Harness<'_>, until: Instant) {
        self.gate.borrow_mut().open = true;
        loop {
            let crash = tokio::select! {
                biased;
                crash = self.rx.recv() => crash,
                _ = tokio::time::sleep_until(until) => None,
            };
            match crash {
                Some(crash) => self.crash(&harness, crash).await,
                None => break,
            }
        }
        self.gate.borrow_mut().open = false;
        while let Ok(crash) = self.rx.try_recv() {
            self.crash(&harness, crash).await;
        }
    }

    async fn crash(&self, harness: &Harness<'_>, crash: Crash) {
        if [
            FaultPoint::CrashAfterProduceAck,
            FaultPoint::CrashAfterCommitAnswer,
            FaultPoint::CrashAfterVoteGranted,
        ]
        .contains(&crash.point)
        {
            tokio::time::sleep(KILL_AFTER_ACK).await;
        }
        let mut rng = madsim::rand::thread_rng();
        let hold = Duration::from_millis(rng.gen_range(HOLD_MS));
        let record = |kind: &'static str, detail: String| {
            harness.history.record(
                harness.started.elapsed().as_millis() as u64,
                Event::Fault { kind, detail },
            )
        };
        {
            let _one_at_a_time = harness.node_faults.lock().await;
            harness.handle.kill(crash.node);
            let outcome = harness.disks.crash(crash.node_id, &mut rng);
            // Recorded as a kill: the checker excuses lost non-durable acks after one.
            record(
                "kill",
                format!(
                    "broker {} at {}; disk {outcome:?}",
                    crash.node_id,
                    crash.point.name()
                ),
            );
            tokio::time::sleep(hold).await;
            harness.handle.restart(crash.node);
            record("restart", format!("broker {}", crash.node_id));
        }
        let gap = Duration::from_millis(rng.gen_range(CRASH_GAP_MS));
        let mut gate = self.gate.borrow_mut();
        gate.pending = false;
        gate.next_at = Some(Instant::now() + gap);
    }
}
