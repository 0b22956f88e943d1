//! Small demo actors for the drivers' tests.
//!
//! [`PingPong`] is what the transport tests run: the real-TCP test (`tests/actor_tcp.rs`) and
//! the simulator's determinism test (`sim/tests/determinism.rs`) run this same code. Each
//! `PingPong` actor pings its peers on a randomized timer (RNG injected by the host) and
//! answers pings with pongs. Every handled input is folded into a shared [`Trace`], whose hash
//! shows whether two runs did exactly the same thing at exactly the same (virtual) times.
//!
//! [`Asker`] exercises calls: it calls its targets on a randomized timer and counts how each
//! call ended; the stepper's tests ([`super::stepper`]) run it under a faulty network.

use std::sync::{Arc, Mutex};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Actor, Addr, Ctx, Input, NodeId, Origin};

/// The one actor id the demo uses on every node.
pub const PING_PONG: super::ActorId = super::ActorId(1);

/// The demo's one timer: time to ping the peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tick;
/// Pings go out every `TICK_MS_MIN..TICK_MS_MAX` ms (drawn from the injected RNG).
const TICK_MS_MIN: u64 = 5;
const TICK_MS_MAX: u64 = 40;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PingMsg {
    Ping {
        seq: u64,
        payload: Vec<u8>,
    },
    Pong {
        seq: u64,
    },
    /// Request from the host side: how much traffic has this actor seen?
    Stats,
    StatsReply(PingStats),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingStats {
    pub pings_sent: u64,
    pub pings_received: u64,
    pub pongs_received: u64,
}

/// An order-sensitive fingerprint of everything the demo actors handled (FNV-1a 64).
#[derive(Debug)]
pub struct Trace {
    pub events: u64,
    pub hash: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Self {
            events: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Trace {
    pub fn record(&mut self, event: &str) {
        self.events += 1;
        for byte in event.bytes().chain(std::iter::once(b'\n')) {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

pub type TraceSink = Arc<Mutex<Trace>>;

pub struct PingPong {
    peers: Vec<NodeId>,
    next_seq: u64,
    stats: PingStats,
    trace: TraceSink,
}

impl PingPong {
    pub fn new(peers: Vec<NodeId>, trace: TraceSink) -> Self {
        Self {
            peers,
            next_seq: 0,
            stats: PingStats::default(),
            trace,
        }
    }

    fn arm_tick(ctx: &mut Ctx<'_, PingMsg, Tick>) {
        let after_ms = ctx.rng.gen_range(TICK_MS_MIN..TICK_MS_MAX);
        ctx.set_timer(Tick, after_ms);
    }

    fn record(&self, ctx: &Ctx<'_, PingMsg, Tick>, what: std::fmt::Arguments<'_>) {
        let event = format!("{} n{} {}", ctx.now.unix_ms, ctx.me.node, what);
        self.trace.lock().expect("trace lock").record(&event);
    }
}

impl Actor<PingMsg> for PingPong {
    type Timer = Tick;

    fn handle(&mut self, ctx: &mut Ctx<'_, PingMsg, Tick>, input: Input<PingMsg, Tick>) {
        match input {
            Input::Start => {
                self.record(ctx, format_args!("start"));
                Self::arm_tick(ctx);
            }
            Input::Timer { key: Tick } => {
                for &node in &self.peers {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    let payload_bytes = ctx.rng.gen_range(0..64);
                    let payload = (0..payload_bytes).map(|_| ctx.rng.gen()).collect();
                    ctx.send(
                        Addr {
                            node,
                            actor: PING_PONG,
                        },
                        PingMsg::Ping { seq, payload },
                    );
                    self.stats.pings_sent += 1;
                }
                self.record(ctx, format_args!("tick sent={}", self.stats.pings_sent));
                Self::arm_tick(ctx);
            }
            Input::Msg {
                from,
                msg: PingMsg::Ping { seq, payload },
            } => {
                self.stats.pings_received += 1;
                self.record(
                    ctx,
                    format_args!("ping from n{} seq={seq} len={}", from.node, payload.len()),
                );
                ctx.send(from, PingMsg::Pong { seq });
            }
            Input::Msg {
                from,
                msg: PingMsg::Pong { seq },
            } => {
                self.stats.pongs_received += 1;
                self.record(ctx, format_args!("pong from n{} seq={seq}", from.node));
            }
            Input::Request {
                id,
                msg: PingMsg::Stats,
                ..
            } => ctx.reply(id, PingMsg::StatsReply(self.stats)),
            other => self.record(ctx, format_args!("unexpected {other:?}")),
        }
    }
}

/// The actor id of the call demo ([`Asker`]).
pub const ASKER: super::ActorId = super::ActorId(2);

/// Asks go out every `ASK_MS_MIN..ASK_MS_MAX` ms (drawn from the injected RNG).
const ASK_MS_MIN: u64 = 5;
const ASK_MS_MAX: u64 = 30;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AskMsg {
    /// A call between [`Asker`]s; answered with the same `seq`.
    Ask {
        seq: u64,
    },
    Answer {
        seq: u64,
    },
    /// Host request: the [`AskStats`] so far.
    Stats,
    StatsReply(AskStats),
    /// Host request: stop asking (calls in flight still end); answered with `Quiet`.
    Quiesce,
    Quiet,
}

/// What an [`Asker`] saw. Every call it made ends exactly once: when nothing is pending,
/// `calls == replies + timed_out + unreachable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskStats {
    pub calls: u64,
    pub replies: u64,
    pub timed_out: u64,
    pub unreachable: u64,
    /// Calls still waiting for their end.
    pub pending: u64,
    /// Asks it answered (a duplicated ask is answered twice).
    pub answered: u64,
    /// Asks it had answered before (the network duplicated them).
    pub duplicate_asks: u64,
    /// Ends of calls that were not pending, and replies that do not match their call: both must
    /// stay 0, because the cell drops late and duplicate answers.
    pub violations: u64,
}

/// The call demo: on a randomized timer it calls every target with `Ask` (timing out after
/// `timeout_ms`), answers other askers' asks, and checks that each of its calls ends once, with
/// the right answer.
pub struct Asker {
    targets: Vec<Addr>,
    timeout_ms: u64,
    next_seq: u64,
    /// Pending calls and the `seq` their answer must carry.
    pending: std::collections::BTreeMap<super::CallId, u64>,
    /// Every ask answered, with its caller: how a duplicate is recognised. Grows with the run,
    /// which is fine for a test actor.
    asks_seen: std::collections::BTreeSet<(Option<Addr>, u64)>,
    asking: bool,
    stats: AskStats,
}

impl Asker {
    pub fn new(targets: Vec<Addr>, timeout_ms: u64) -> Self {
        Self {
            targets,
            timeout_ms,
            next_seq: 0,
            pending: std::collections::BTreeMap::new(),
            asks_seen: std::collections::BTreeSet::new(),
            asking: true,
            stats: AskStats::default(),
        }
    }

    fn arm(ctx: &mut Ctx<'_, AskMsg, Tick>) {
        let after_ms = ctx.rng.gen_range(ASK_MS_MIN..ASK_MS_MAX);
        ctx.set_timer(Tick, after_ms);
    }

    fn ask_all(&mut self, ctx: &mut Ctx<'_, AskMsg, Tick>) {
        for &to in &self.targets {
            let seq = self.next_seq;
            self.next_seq += 1;
            let call = ctx.call(to, AskMsg::Ask { seq }, self.timeout_ms);
            self.pending.insert(call, seq);
            self.stats.calls += 1;
        }
    }

    /// Ends `call`; `Some(seq)` if it was pending.
    fn end(&mut self, call: super::CallId) -> Option<u64> {
        let seq = self.pending.remove(&call);
        if seq.is_none() {
            self.stats.violations += 1;
        }
        seq
    }
}

impl Actor<AskMsg> for Asker {
    type Timer = Tick;

    fn handle(&mut self, ctx: &mut Ctx<'_, AskMsg, Tick>, input: Input<AskMsg, Tick>) {
        match input {
            Input::Start => Self::arm(ctx),
            Input::Timer { key: Tick } if self.asking => {
                self.ask_all(ctx);
                Self::arm(ctx);
            }
            Input::Request { id, msg, from } => {
                let answer = match msg {
                    AskMsg::Ask { seq } => {
                        self.stats.answered += 1;
                        let caller = match from {
                            Origin::Actor(addr) => Some(addr),
                            Origin::Host => None,
                        };
                        if !self.asks_seen.insert((caller, seq)) {
                            self.stats.duplicate_asks += 1;
                        }
                        AskMsg::Answer { seq }
                    }
                    AskMsg::Quiesce => {
                        self.asking = false;
                        ctx.cancel_timer(Tick);
                        AskMsg::Quiet
                    }
                    _ => AskMsg::StatsReply(AskStats {
                        pending: self.pending.len() as u64,
                        ..self.stats
                    }),
                };
                ctx.reply(id, answer);
            }
            Input::Reply { call, msg } => {
                if let Some(seq) = self.end(call) {
                    self.stats.replies += 1;
                    if msg != (AskMsg::Answer { seq }) {
                        self.stats.violations += 1;
                    }
                }
            }
            Input::CallFailed { call, why } => {
                if self.end(call).is_some() {
                    match why {
                        super::CallFailure::TimedOut => self.stats.timed_out += 1,
                        super::CallFailure::Unreachable => self.stats.unreachable += 1,
                    }
                }
            }
            Input::Timer { .. } | Input::Msg { .. } | Input::Synced { .. } => {}
        }
    }
}
