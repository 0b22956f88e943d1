//! The bookkeeping around one actor, with no runtime: [`ActorCell`].
//!
//! A driver (the production host's per-actor task in `host/node.rs`; later an in-process
//! multi-node stepper) owns the mailbox and the clock. It hands the cell one [`CellInput`] at a
//! time together with the current time, and executes the [`CellOutput`]s the cell pushes. Every
//! decision that does not need a runtime is made here, once, for every driver: timer deadlines
//! and their firing order, which reply goes to whom, self-sends. The driver only has to sleep
//! until [`Cell::next_deadline_ns`] and then feed [`CellInput::TimerDue`].
//!
//! Deadlines are nanoseconds of the driver's monotonic clock (not milliseconds) so that a timer
//! armed `after_ms` fires exactly `after_ms` after the input that armed it, as it did when the
//! host kept tokio `Instant`s: the simulator's event order, and so its trace hashes, depend on it.

use std::collections::{BTreeMap, VecDeque};

use rand::rngs::SmallRng;

use super::timers::Timers;
use super::{Actor, Addr, Ctx, Effect, Input, Now, Outbox, RequestId};
use crate::storage::SyncHandle;

/// The time a driver hands a cell with each input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellNow {
    /// What the actor sees as [`Ctx::now`].
    pub now: Now,
    /// The same monotonic instant as `now.mono_ms`, to the nanosecond: timer deadlines.
    pub mono_ns: u64,
}

impl CellNow {
    /// A time on a millisecond grid (unit tests, a stepper with virtual time).
    pub fn at_ms(unix_ms: i64, mono_ms: u64) -> Self {
        Self {
            now: Now { unix_ms, mono_ms },
            mono_ns: mono_ms.saturating_mul(NS_PER_MS),
        }
    }
}

const NS_PER_MS: u64 = 1_000_000;

/// What a driver feeds a cell. `R` is how the driver answers a host-side request (a oneshot
/// sender in production): the cell keeps it until the actor replies.
#[derive(Debug)]
pub enum CellInput<M, R> {
    /// Once, first, when the actor (re)starts.
    Start,
    Msg {
        from: Addr,
        msg: M,
    },
    /// A request from the host side; the answer comes back as [`CellOutput::Reply`] to `reply`.
    Request {
        reply: R,
        msg: M,
    },
    Synced {
        token: u64,
        result: Result<(), String>,
    },
    /// The earliest deadline ([`Cell::next_deadline_ns`]) has come: fire that timer.
    TimerDue,
}

/// What a cell asks its driver to do, in order.
#[derive(Debug)]
pub enum CellOutput<M, R> {
    /// Deliver to another actor (never this one: self-sends stay inside the cell).
    Send { to: Addr, msg: M },
    /// Answer a host-side request.
    Reply { to: R, msg: M },
    /// fsync off the actor, then feed [`CellInput::Synced`] with `token`.
    Sync { token: u64, handle: SyncHandle },
}

/// An actor with its bookkeeping, behind a type that hides the actor's own types (its timer
/// type), so a driver can hold cells of different actors. Handling an input is one call.
pub trait Cell<M, R>: Send {
    /// Handles `input`, then every input the actor sent itself meanwhile, pushing outputs to
    /// `out` in the order the actor recorded them.
    fn on(&mut self, now: CellNow, input: CellInput<M, R>, out: &mut Vec<CellOutput<M, R>>);

    /// When the earliest armed timer is due (driver's monotonic nanoseconds), if any.
    fn next_deadline_ns(&self) -> Option<u64>;
}

/// The runtime-neutral state of one actor: the actor itself, its RNG, its armed timers, the
/// host-side requests it has not answered yet, and what it sent itself.
pub struct ActorCell<M, A: Actor<M>, R> {
    me: Addr,
    actor: A,
    /// Seeded by the driver: from the simulator's seed under madsim, from entropy otherwise.
    rng: SmallRng,
    timers: Timers<A::Timer, u64>,
    /// Host-side requests awaiting the actor's reply, with the driver's way to answer each.
    requests: BTreeMap<RequestId, R>,
    next_request_id: u64,
    /// Self-sends: handled before the cell returns, before anything else from the mailbox.
    own: VecDeque<Input<M, A::Timer>>,
    /// Reused across inputs: no allocation per input.
    outbox: Outbox<M, A::Timer>,
}

impl<M, A: Actor<M>, R> ActorCell<M, A, R> {
    pub fn new(me: Addr, actor: A, rng: SmallRng) -> Self {
        Self {
            me,
            actor,
            rng,
            timers: Timers::default(),
            requests: BTreeMap::new(),
            next_request_id: 0,
            own: VecDeque::new(),
            outbox: Outbox::default(),
        }
    }

    /// Runs the handler for one input and turns its effects into outputs.
    fn handle(&mut self, now: CellNow, input: Input<M, A::Timer>, out: &mut Vec<CellOutput<M, R>>) {
        let mut ctx = Ctx::new(now.now, self.me, &mut self.rng, &mut self.outbox);
        self.actor.handle(&mut ctx, input);
        // Taken out and put back so the buffer's allocation is reused.
        let mut effects = std::mem::take(&mut self.outbox.effects);
        for effect in effects.drain(..) {
            self.apply(now, effect, out);
        }
        self.outbox.effects = effects;
    }

    fn apply(
        &mut self,
        now: CellNow,
        effect: Effect<M, A::Timer>,
        out: &mut Vec<CellOutput<M, R>>,
    ) {
        match effect {
            Effect::Send { to, msg } if to == self.me => {
                self.own.push_back(Input::Msg { from: self.me, msg });
            }
            Effect::Send { to, msg } => out.push(CellOutput::Send { to, msg }),
            Effect::Reply { id, msg } => match self.requests.remove(&id) {
                Some(to) => out.push(CellOutput::Reply { to, msg }),
                None => tracing::error!(me = ?self.me, ?id, "reply to an unknown request"),
            },
            Effect::SetTimer { key, after_ms } => {
                let deadline = now
                    .mono_ns
                    .saturating_add(after_ms.saturating_mul(NS_PER_MS));
                self.timers.set(key, deadline);
            }
            Effect::CancelTimer { key } => self.timers.cancel(&key),
            Effect::Sync { token, handle } => out.push(CellOutput::Sync { token, handle }),
        }
    }
}

impl<M: Send, A: Actor<M>, R: Send> Cell<M, R> for ActorCell<M, A, R> {
    fn on(&mut self, now: CellNow, input: CellInput<M, R>, out: &mut Vec<CellOutput<M, R>>) {
        let input = match input {
            CellInput::Start => Input::Start,
            CellInput::Msg { from, msg } => Input::Msg { from, msg },
            CellInput::Request { reply, msg } => {
                let id = RequestId(self.next_request_id);
                self.next_request_id += 1;
                self.requests.insert(id, reply);
                Input::Request { id, msg }
            }
            CellInput::Synced { token, result } => Input::Synced { token, result },
            CellInput::TimerDue => match self.timers.pop_next() {
                Some((_, key)) => Input::Timer { key },
                None => return, // cancelled meanwhile: nothing is due
            },
        };
        self.handle(now, input, out);
        while let Some(input) = self.own.pop_front() {
            self.handle(now, input, out);
        }
    }

    fn next_deadline_ns(&self) -> Option<u64> {
        self.timers.next_deadline()
    }
}

#[cfg(test)]
mod tests;
