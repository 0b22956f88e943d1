//! How the stepper carries out one step: the event queue and the timers, delivery to a cell,
//! and the cell's outputs (sends through the faulty network, replies, persist jobs).

use std::collections::VecDeque;
use std::fmt::Write as _;

use rand::Rng;

use super::{Cluster, RequestError, Ticket, UNIX_EPOCH_MS};
use crate::actor::cell::NS_PER_MS;
use crate::actor::cell::{CellInput, CellNow, CellOutput, Kind};
use crate::actor::{Addr, CallId, NodeId, Wire};
use crate::storage::persist::PersistJob;

/// A message on its way.
pub(super) enum Body<M> {
    /// Between actors of one node: not encoded, as in the host.
    Local(M),
    /// Between nodes: the postcard bytes, decoded on delivery.
    Wire(Vec<u8>),
}

/// Something that happens at a set time. Timers are not events: they stay in the cells, and
/// [`Cluster::step`] compares the earliest deadline with the queue's head.
pub(super) enum Event<M> {
    Deliver {
        from: Addr,
        to: Addr,
        kind: Kind,
        body: Body<M>,
    },
    Request {
        ticket: Ticket,
        to: Addr,
        msg: M,
    },
    /// A persist job finishing: the job runs when this is handled, so a crash before it loses
    /// what it would have made durable.
    Synced {
        at: Addr,
        token: u64,
        job: PersistJob,
    },
}

impl<M> Event<M> {
    /// Whether a crash of `node` makes this event vanish.
    pub(super) fn involves(&self, node: NodeId) -> bool {
        match self {
            Event::Deliver { from, to, .. } => from.node == node || to.node == node,
            Event::Request { to, .. } => to.node == node,
            Event::Synced { at, .. } => at.node == node,
        }
    }
}

impl<M: Wire> Cluster<M> {
    /// One step, if the next thing is due by `until_ms`.
    pub(super) fn step_until(&mut self, until_ms: u64) -> bool {
        let timer = self.next_timer();
        let event_at = self.queue.first_key_value().map(|(&(at, _), _)| at);
        match (timer, event_at) {
            // A due timer goes before an event queued for the same time.
            (Some((at, to)), _) if at <= until_ms && event_at.is_none_or(|e| at <= e) => {
                self.now_ms = self.now_ms.max(at);
                self.feed(to, CellInput::TimerDue);
            }
            (_, Some(at)) if at <= until_ms => {
                let (_, event) = self.queue.pop_first().expect("the head exists");
                self.now_ms = self.now_ms.max(at);
                self.dispatch(event);
            }
            _ => return false,
        }
        true
    }

    /// The earliest deadline of any running actor, in ms, and whose it is (ties: lowest
    /// address).
    pub(super) fn next_timer(&self) -> Option<(u64, Addr)> {
        let mut next: Option<(u64, Addr)> = None;
        for (&node, sim) in &self.nodes {
            for (&actor, cell) in sim.cells.iter().flatten() {
                let Some(ns) = cell.next_deadline_ns() else {
                    continue;
                };
                let at = ns.div_ceil(NS_PER_MS);
                if next.is_none_or(|(best, _)| at < best) {
                    next = Some((at, Addr { node, actor }));
                }
            }
        }
        next
    }

    pub(super) fn schedule(&mut self, at_ms: u64, event: Event<M>) {
        self.queue.insert((at_ms, self.next_seq), event);
        self.next_seq += 1;
    }

    fn dispatch(&mut self, event: Event<M>) {
        match event {
            Event::Deliver {
                from,
                to,
                kind,
                body,
            } => {
                if self.is_cut(from.node, to.node) {
                    self.note(format_args!("cut {from:?} -> {to:?}"));
                    return;
                }
                let msg = match body {
                    Body::Local(msg) => msg,
                    Body::Wire(bytes) => match postcard::from_bytes(&bytes) {
                        Ok(msg) => msg,
                        Err(e) => {
                            tracing::error!(error = %e, ?from, ?to, "undecodable message dropped");
                            return;
                        }
                    },
                };
                // An unknown actor there: dropped, and the sender's call (if any) times out.
                self.feed(to, CellInput::delivered(from, kind, msg));
            }
            Event::Request { ticket, to, msg } => {
                self.feed(to, CellInput::Request { reply: ticket, msg });
            }
            Event::Synced { at, token, job } => {
                let result = job.run().map_err(|e| e.to_string());
                self.feed(at, CellInput::Synced { token, result });
            }
        }
    }

    fn is_cut(&self, a: NodeId, b: NodeId) -> bool {
        self.cut.contains(&(a.min(b), a.max(b)))
    }

    /// Hands `input` to the actor at `to` (dropped if the node is down or has no such actor)
    /// and carries out what comes out; calls that cannot be sent go back in as `Unreachable`
    /// before anything else happens, as in the host.
    pub(super) fn feed(&mut self, to: Addr, input: CellInput<M, Ticket>) {
        let mut next = Some(input);
        let mut unsent = VecDeque::new();
        let mut outputs = Vec::new();
        while let Some(input) = next.take().or_else(|| {
            unsent
                .pop_front()
                .map(|call| CellInput::Unreachable { call })
        }) {
            let now = CellNow::at_ms(UNIX_EPOCH_MS + self.now_ms as i64, self.now_ms);
            let cell = self
                .nodes
                .get_mut(&to.node)
                .and_then(|node| node.cells.as_mut())
                .and_then(|cells| cells.get_mut(&to.actor));
            let Some(cell) = cell else {
                self.note(format_args!("undeliverable {to:?}"));
                return;
            };
            let _ = write!(self.trace, "{} {to:?} {input:?}", self.now_ms);
            self.trace.end_event();
            cell.on(now, input, &mut outputs);
            for output in outputs.drain(..) {
                if let Some(call) = self.execute(to, output) {
                    unsent.push_back(call);
                }
            }
        }
    }

    pub(super) fn check_actor(&self, to: Addr) -> Result<(), RequestError> {
        let node = self
            .nodes
            .get(&to.node)
            .ok_or(RequestError::NoSuchNode(to.node))?;
        let cells = node.cells.as_ref().ok_or(RequestError::NodeDown(to.node))?;
        match cells.contains_key(&to.actor) {
            true => Ok(()),
            false => Err(RequestError::NoSuchActor(to)),
        }
    }

    /// Carries out one output of the actor at `from`; returns the call if it could not be sent.
    fn execute(&mut self, from: Addr, output: CellOutput<M, Ticket>) -> Option<CallId> {
        match output {
            CellOutput::Send { to, msg } => {
                self.transmit(from, to, Kind::Msg, msg);
                None
            }
            CellOutput::Reply { to, msg } => {
                self.answer(to, Ok(msg));
                None
            }
            CellOutput::Call { to, call, msg } => {
                (!self.transmit(from, to, Kind::Call { call }, msg)).then_some(call)
            }
            CellOutput::CallReply { to, call, msg } => {
                // Lost on the way: the caller's call times out.
                self.transmit(from, to, Kind::Reply { call }, msg);
                None
            }
            CellOutput::Persist { token, job } => {
                let at = self.now_ms.saturating_add(self.disk_delay_ms);
                let event = Event::Synced {
                    at: from,
                    token,
                    job,
                };
                self.schedule(at, event);
                None
            }
        }
    }

    /// Puts a message on its way. False if it was refused at the sender, as the host's router
    /// refuses: no such node, or no such actor on the sender's own node, or not encodable.
    /// True says nothing about delivery.
    fn transmit(&mut self, from: Addr, to: Addr, kind: Kind, msg: M) -> bool {
        if to.node == from.node {
            if self.check_actor(to).is_err() {
                return false;
            }
            let body = Body::Local(msg);
            self.schedule(
                self.now_ms,
                Event::Deliver {
                    from,
                    to,
                    kind,
                    body,
                },
            );
            return true;
        }
        if !self.nodes.contains_key(&to.node) {
            return false;
        }
        let bytes = match postcard::to_stdvec(&msg) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(error = %e, ?to, "cannot encode message");
                return false;
            }
        };
        if self.rng.gen_bool(self.faults.drop) {
            self.note(format_args!("lost {from:?} -> {to:?}"));
            return true;
        }
        if self.rng.gen_bool(self.faults.duplicate) {
            self.note(format_args!("duplicated {from:?} -> {to:?}"));
            let body = Body::Wire(bytes.clone());
            self.send_after_delay(from, to, kind, body);
        }
        self.send_after_delay(from, to, kind, Body::Wire(bytes));
        true
    }

    fn send_after_delay(&mut self, from: Addr, to: Addr, kind: Kind, body: Body<M>) {
        let at = self.now_ms.saturating_add(self.faults.delay(&mut self.rng));
        self.schedule(
            at,
            Event::Deliver {
                from,
                to,
                kind,
                body,
            },
        );
    }

    pub(super) fn answer(&mut self, ticket: Ticket, answer: Result<M, RequestError>) {
        if self.waiting.remove(&ticket).is_some() {
            self.answers.insert(ticket, answer);
        }
    }

    /// Folds a non-delivery event (a fault, a test action) into the trace.
    pub(super) fn note(&mut self, what: std::fmt::Arguments<'_>) {
        let _ = write!(self.trace, "{} {what}", self.now_ms);
        self.trace.end_event();
    }
}
