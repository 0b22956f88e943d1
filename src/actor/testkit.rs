//! A small demo actor used by the transport tests: the real-TCP test (`tests/actor_tcp.rs`) and
//! the simulator's determinism test (`sim/tests/determinism.rs`) run this same code.
//!
//! Each `PingPong` actor pings its peers on a randomized timer (RNG injected by the host) and
//! answers pings with pongs. Every handled input is folded into a shared [`Trace`], whose hash
//! shows whether two runs did exactly the same thing at exactly the same (virtual) times.

use std::sync::{Arc, Mutex};

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Actor, Addr, Ctx, Input, NodeId};

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
