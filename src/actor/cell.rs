//! The bookkeeping around one actor, with no runtime: [`ActorCell`].
//!
//! A driver (the production host's per-actor task in `host/node.rs`, or the in-process
//! multi-node stepper, [`super::stepper`]) owns the mailbox and the clock. It hands the cell one [`CellInput`] at a
//! time together with the current time, and executes the [`CellOutput`]s the cell pushes. Every
//! decision that does not need a runtime is made here, once, for every driver: timer deadlines
//! and their firing order, which reply goes to whom (a host-side requester or a calling actor),
//! self-sends, and the calls this actor is waiting on: each ends in exactly one
//! [`Input::Reply`] or [`Input::CallFailed`]; a reply after the timeout, or a second one, is
//! dropped here. The driver only has to sleep until [`Cell::next_deadline_ns`] and then feed
//! [`CellInput::TimerDue`].
//!
//! Deadlines are nanoseconds of the driver's monotonic clock (not milliseconds) so that a timer
//! armed `after_ms` fires exactly `after_ms` after the input that armed it, as it did when the
//! host kept tokio `Instant`s: the simulator's event order, and so its trace hashes, depend on it.

use std::collections::{BTreeMap, VecDeque};

use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::timers::Timers;
use super::{Actor, Addr, CallFailure, CallId, Ctx, Effect, Input, Now, Origin, Outbox, RequestId};
use crate::storage::persist::PersistJob;

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

/// Nanoseconds per millisecond: deadlines are kept in ns (the clock's unit), asked for in ms.
pub const NS_PER_MS: u64 = 1_000_000;

/// The deadline `after_ms` from `now`, in the driver's monotonic nanoseconds.
fn deadline(now: CellNow, after_ms: u64) -> u64 {
    now.mono_ns
        .saturating_add(after_ms.saturating_mul(NS_PER_MS))
}

/// What a message between actors is, besides its payload; it travels with the message (the
/// inter-node frame carries it) and decides which [`CellInput`] it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A plain [`Input::Msg`].
    Msg,
    /// A request from the sender's [`crate::actor::Ctx::call`].
    Call { call: CallId },
    /// The answer to this actor's call.
    Reply { call: CallId },
}

impl<M, R> CellInput<M, R> {
    /// The input for a message that arrived from actor `from`.
    pub fn delivered(from: Addr, kind: Kind, msg: M) -> Self {
        match kind {
            Kind::Msg => Self::Msg { from, msg },
            Kind::Call { call } => Self::Call { from, call, msg },
            Kind::Reply { call } => Self::Reply { call, msg },
        }
    }
}

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
    /// Another actor's call; the answer goes back as [`CellOutput::CallReply`].
    Call {
        from: Addr,
        call: CallId,
        msg: M,
    },
    /// An answer to one of this actor's calls; dropped unless that call is still waiting.
    Reply {
        call: CallId,
        msg: M,
    },
    /// The driver could not send this actor's [`CellOutput::Call`].
    Unreachable {
        call: CallId,
    },
    Synced {
        token: u64,
        result: Result<(), String>,
    },
    /// The earliest deadline ([`Cell::next_deadline_ns`]) has come: fire that timer (or fail
    /// that call with [`CallFailure::TimedOut`]).
    TimerDue,
}

/// What a cell asks its driver to do, in order.
#[derive(Debug)]
pub enum CellOutput<M, R> {
    /// Deliver to another actor (never this one: self-sends stay inside the cell).
    Send { to: Addr, msg: M },
    /// Answer a host-side request.
    Reply { to: R, msg: M },
    /// Send a call (never to this actor). If it cannot be sent, feed [`CellInput::Unreachable`].
    Call { to: Addr, call: CallId, msg: M },
    /// Answer another actor's call: deliver as [`Kind::Reply`].
    CallReply { to: Addr, call: CallId, msg: M },
    /// Run the job off the actor, then feed [`CellInput::Synced`] with `token`.
    Persist { token: u64, job: PersistJob },
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

/// Who is owed the answer to a request.
enum Caller<R> {
    Host(R),
    Actor { addr: Addr, call: CallId },
}

/// What a deadline in the cell's one timer table stands for: the actor's own timer, or the
/// timeout of one of its calls. One table gives one firing order for both.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due<T> {
    Timer(T),
    /// Armed while the call waits for its answer: its presence *is* "the call is pending".
    CallTimeout(CallId),
}

/// The runtime-neutral state of one actor: the actor itself, its RNG, its armed timers, the
/// requests it has not answered yet, the calls it is waiting on, and what it sent itself.
pub struct ActorCell<M, A: Actor<M>, R> {
    me: Addr,
    actor: A,
    /// Seeded by the driver: from the simulator's seed under madsim, from entropy otherwise.
    rng: SmallRng,
    /// The actor's timers and its pending calls' timeouts.
    timers: Timers<Due<A::Timer>, u64>,
    /// Requests awaiting the actor's reply, with whom to answer.
    requests: BTreeMap<RequestId, Caller<R>>,
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

    fn request(&mut self, caller: Caller<R>, msg: M) -> Input<M, A::Timer> {
        let from = match caller {
            Caller::Host(_) => Origin::Host,
            Caller::Actor { addr, .. } => Origin::Actor(addr),
        };
        let id = RequestId(self.next_request_id);
        self.next_request_id += 1;
        self.requests.insert(id, caller);
        Input::Request { id, from, msg }
    }

    /// Ends a pending call with `end`; `None` if the call already ended (a late or duplicate
    /// reply, a failure after the reply): whatever it was is dropped.
    fn end_call(&mut self, call: CallId, end: Input<M, A::Timer>) -> Option<Input<M, A::Timer>> {
        if self.timers.cancel(&Due::CallTimeout(call)) {
            Some(end)
        } else {
            tracing::debug!(me = ?self.me, ?call, "answer to a call that already ended; dropped");
            None
        }
    }

    /// Turns a driver's input into the actor's, or `None` if nothing reaches the actor.
    fn admit(&mut self, input: CellInput<M, R>) -> Option<Input<M, A::Timer>> {
        Some(match input {
            CellInput::Start => Input::Start,
            CellInput::Msg { from, msg } => Input::Msg { from, msg },
            CellInput::Request { reply, msg } => self.request(Caller::Host(reply), msg),
            CellInput::Call { from, call, msg } => {
                self.request(Caller::Actor { addr: from, call }, msg)
            }
            CellInput::Reply { call, msg } => {
                return self.end_call(call, Input::Reply { call, msg })
            }
            CellInput::Unreachable { call } => {
                let why = CallFailure::Unreachable;
                return self.end_call(call, Input::CallFailed { call, why });
            }
            CellInput::Synced { token, result } => Input::Synced { token, result },
            CellInput::TimerDue => match self.timers.pop_next()? {
                (_, Due::Timer(key)) => Input::Timer { key },
                (_, Due::CallTimeout(call)) => Input::CallFailed {
                    call,
                    why: CallFailure::TimedOut,
                },
            },
        })
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
                Some(Caller::Host(to)) => out.push(CellOutput::Reply { to, msg }),
                Some(Caller::Actor { addr, call }) if addr == self.me => {
                    // A call to itself: the same rules as an answer from afar.
                    if let Some(input) = self.end_call(call, Input::Reply { call, msg }) {
                        self.own.push_back(input);
                    }
                }
                Some(Caller::Actor { addr, call }) => out.push(CellOutput::CallReply {
                    to: addr,
                    call,
                    msg,
                }),
                None => tracing::error!(me = ?self.me, ?id, "reply to an unknown request"),
            },
            Effect::Call {
                to,
                call,
                msg,
                timeout_ms,
            } => {
                self.timers
                    .set(Due::CallTimeout(call), deadline(now, timeout_ms));
                if to == self.me {
                    let input = self.request(Caller::Actor { addr: to, call }, msg);
                    self.own.push_back(input);
                } else {
                    out.push(CellOutput::Call { to, call, msg });
                }
            }
            Effect::SetTimer { key, after_ms } => {
                self.timers.set(Due::Timer(key), deadline(now, after_ms));
            }
            Effect::CancelTimer { key } => {
                self.timers.cancel(&Due::Timer(key));
            }
            Effect::Persist { token, job } => out.push(CellOutput::Persist { token, job }),
        }
    }
}

impl<M: Send, A: Actor<M>, R: Send> Cell<M, R> for ActorCell<M, A, R> {
    fn on(&mut self, now: CellNow, input: CellInput<M, R>, out: &mut Vec<CellOutput<M, R>>) {
        // `None`: a timer cancelled after the driver read the deadline, or a call that ended.
        if let Some(input) = self.admit(input) {
            self.handle(now, input, out);
        }
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
