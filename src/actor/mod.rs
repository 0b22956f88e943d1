//! The actor contract: synchronous state machines that record effects.
//!
//! An actor never performs I/O and never awaits. The host calls [`Actor::handle`] with the
//! current time, an injected RNG and one [`Input`]; the actor pushes [`Effect`]s into the
//! [`Ctx`]; the host executes them after the handler returns. That is what lets the very same
//! actor run on real TCP and disk (`host`), inside the madsim simulator (`rill-sim`), and under
//! proptest with no runtime at all (just build a [`Ctx`] and call `handle`).
//!
//! Nothing in this module (or in any actor) may touch tokio, sockets, files, the wall clock or
//! the thread RNG; docs/architecture.md#determinism-rules says why.

pub mod cell;
pub mod client;
#[cfg(test)]
pub mod fake_client;
pub mod stepper;
pub mod testkit;
pub mod timers;

use rand::rngs::SmallRng;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use std::sync::Arc;

use crate::storage::persist::PersistJob;
use crate::storage::StorageFile;

pub use crate::types::NodeId;

/// An actor's name within its node. Fixed per role, so a peer can address e.g. "the controller on
/// node 3" without a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorId(pub u32);

/// Where an actor lives: node + actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Addr {
    pub node: NodeId,
    pub actor: ActorId,
}

/// A request (from the host side, e.g. a Kafka client connection, or from another actor's call)
/// that expects exactly one [`Effect::Reply`]. Ids are unique per actor instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A call an actor made ([`Ctx::call`]): matches the answer ([`Input::Reply`] or
/// [`Input::CallFailed`]) to the question. Unique per actor instance (allocated by its outbox).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CallId(pub u64);

/// Who sent a request: host-side code (a client connection) or another actor's [`Ctx::call`].
/// Either way the actor answers with [`Ctx::reply`]; the driver routes the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Host,
    Actor(Addr),
}

/// Why a call ended without a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallFailure {
    /// No reply within the call's `timeout_ms` (lost on the way, a dead peer, a slow callee).
    TimedOut,
    /// The call could not even be sent: no such local actor, an unknown peer, a full link.
    Unreachable,
}

/// The timer type of an actor that sets no timers: it has no values, so `Input::Timer` cannot
/// reach such an actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoTimer {}

/// The time as the host sees it when it calls a handler. Virtual under the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    /// Wall clock, milliseconds since the Unix epoch: record timestamps, time-based retention.
    pub unix_ms: i64,
    /// Monotonic milliseconds since the node started: timeouts and durations.
    pub mono_ms: u64,
}

/// A message type that may cross the network between nodes.
pub trait Wire: Serialize + DeserializeOwned + Send + std::fmt::Debug + 'static {}
impl<T: Serialize + DeserializeOwned + Send + std::fmt::Debug + 'static> Wire for T {}

/// What an actor is asked to react to. `T` is the actor's [`Actor::Timer`].
#[derive(Debug)]
pub enum Input<M, T> {
    /// Delivered once, first, every time the actor (re)starts with its node.
    Start,
    /// A message from another actor, on this node or another one.
    Msg { from: Addr, msg: M },
    /// A request, from the host side or another actor's [`Ctx::call`]; answer it exactly once
    /// with [`Ctx::reply`] (now or later).
    Request { id: RequestId, from: Origin, msg: M },
    /// The answer to this actor's call. At most one per call, and never after its
    /// [`Input::CallFailed`]: late and duplicate answers are dropped before the actor.
    Reply { call: CallId, msg: M },
    /// The call got no answer. Exactly one of `Reply` and `CallFailed` ends every call.
    CallFailed { call: CallId, why: CallFailure },
    /// A timer set with [`Ctx::set_timer`] fired (once per arming).
    Timer { key: T },
    /// A [`Effect::Persist`] job finished (every op ran, or the first error stopped it); `Err`
    /// carries the I/O error text.
    Synced {
        token: u64,
        result: Result<(), String>,
    },
}

/// What an actor asks the host to do. Executed in order, after the handler returns. `T` is the
/// actor's [`Actor::Timer`].
#[derive(Debug)]
pub enum Effect<M, T> {
    /// Deliver to another actor. Remote delivery may be lost; protocols on top must retry.
    Send { to: Addr, msg: M },
    /// Answer a [`Input::Request`].
    Reply { id: RequestId, msg: M },
    /// Send `msg` to `to` as a request; [`Input::Reply`] or, after `timeout_ms` or if it cannot
    /// be sent, [`Input::CallFailed`] follows. Recorded by [`Ctx::call`], which picks `call`.
    Call {
        to: Addr,
        call: CallId,
        msg: M,
        timeout_ms: u64,
    },
    /// Arm a timer `after_ms` from now. Setting a key that is already armed re-arms it: it
    /// fires once, at the new deadline.
    SetTimer { key: T, after_ms: u64 },
    /// Disarm a timer; ignored if it is not armed (it may have fired already).
    CancelTimer { key: T },
    /// Run this durability work off the actor (fsyncs, a checkpoint replaced, removals);
    /// [`Input::Synced`] with `token` follows. A crash before the completion may lose it.
    Persist { token: u64, job: PersistJob },
}

/// Where a handler's effects go. It outlives one handler call (the driver reuses it), which
/// is where per-actor state of the effect buffer lives.
#[derive(Debug)]
pub struct Outbox<M, T> {
    effects: Vec<Effect<M, T>>,
    /// The next [`CallId`]: ids must stay unique across handler calls, so they live here.
    next_call: u64,
}

impl<M, T> Default for Outbox<M, T> {
    fn default() -> Self {
        Self {
            effects: Vec::new(),
            next_call: 0,
        }
    }
}

impl<M, T> Outbox<M, T> {
    /// Takes the recorded effects out, leaving the outbox empty.
    pub fn take_effects(&mut self) -> Vec<Effect<M, T>> {
        std::mem::take(&mut self.effects)
    }
}

/// Everything a handler gets besides its input: time, identity, randomness and the outbox.
pub struct Ctx<'a, M, T> {
    pub now: Now,
    pub me: Addr,
    /// Seeded by the host: from the simulator's seed under madsim, from entropy otherwise.
    pub rng: &'a mut SmallRng,
    outbox: &'a mut Outbox<M, T>,
}

impl<'a, M, T> Ctx<'a, M, T> {
    pub fn new(now: Now, me: Addr, rng: &'a mut SmallRng, outbox: &'a mut Outbox<M, T>) -> Self {
        Self {
            now,
            me,
            rng,
            outbox,
        }
    }

    pub fn send(&mut self, to: Addr, msg: M) {
        self.outbox.effects.push(Effect::Send { to, msg });
    }

    pub fn reply(&mut self, id: RequestId, msg: M) {
        self.outbox.effects.push(Effect::Reply { id, msg });
    }

    /// Asks `to` with `msg`; the answer comes back as [`Input::Reply`] with the returned id, or
    /// as [`Input::CallFailed`] (after `timeout_ms` at the latest): exactly one of the two.
    pub fn call(&mut self, to: Addr, msg: M, timeout_ms: u64) -> CallId {
        let call = CallId(self.outbox.next_call);
        self.outbox.next_call += 1;
        self.outbox.effects.push(Effect::Call {
            to,
            call,
            msg,
            timeout_ms,
        });
        call
    }

    pub fn set_timer(&mut self, key: T, after_ms: u64) {
        self.outbox.effects.push(Effect::SetTimer { key, after_ms });
    }

    pub fn cancel_timer(&mut self, key: T) {
        self.outbox.effects.push(Effect::CancelTimer { key });
    }

    /// Runs `job` off the actor; [`Input::Synced`] with `token` follows.
    pub fn persist(&mut self, token: u64, job: PersistJob) {
        self.outbox.effects.push(Effect::Persist { token, job });
    }

    /// fsyncs `files` off the actor: the one-op [`Ctx::persist`].
    pub fn sync(&mut self, token: u64, files: Vec<Arc<dyn StorageFile>>) {
        self.persist(token, PersistJob::sync_files(files));
    }
}

/// A sans-IO state machine. One instance per (node, [`ActorId`]); the host calls `handle` for one
/// input at a time, never concurrently.
pub trait Actor<M>: Send + 'static {
    /// The actor's timer names, usually an enum (`enum MyTimer { Tick, Retry(PeerId) }`); use
    /// [`NoTimer`] if it sets none. One armed timer per value: setting a value that is already
    /// armed re-arms it. Timers fire in deadline order (ties in arming order), never in key order.
    type Timer: Clone + Ord + std::fmt::Debug + Send + 'static;

    fn handle(&mut self, ctx: &mut Ctx<'_, M, Self::Timer>, input: Input<M, Self::Timer>);
}
