//! A whole cluster in one thread, stepped by hand: [`Cluster`].
//!
//! Unit tests of multi-node protocols (calls today; Raft and replication later) run the nodes'
//! actors in one process, through the same [`ActorCell`] the production host drives, under a
//! virtual clock that only [`Cluster::step`] and [`Cluster::run_for`] advance. Every choice the
//! network or the disk makes (loss, duplication, delay, completion time) is drawn from one
//! `SmallRng` seeded by [`Cluster::new`], and every pending thing sits in one queue ordered by
//! (time, sequence number): a run is a pure function of its seed and of the test's calls, so a
//! failing seed replays exactly, and [`Cluster::trace_hash`] (a hash of every input delivered to
//! an actor, with its time) shows that it did.
//!
//! ```
//! use rill::actor::stepper::{Cluster, NetFaults, StepActor};
//! use rill::actor::testkit::{AskMsg, Asker, ASKER};
//! use rill::actor::{Addr, NodeId};
//!
//! let mut cluster = Cluster::new(42);
//! let (a, b) = (NodeId(1), NodeId(2));
//! for (node, peer) in [(a, b), (b, a)] {
//!     let peer = Addr { node: peer, actor: ASKER };
//!     cluster.add_node(node, move |_storage| vec![(ASKER, StepActor::new(Asker::new(vec![peer], 100)))]);
//! }
//! cluster.set_faults(NetFaults { drop: 0.2, duplicate: 0.1, delay_ms: 0..50 });
//! cluster.run_for(1_000);
//! cluster.partition(a, b);
//! cluster.run_for(500);
//! cluster.heal();
//! let stats = cluster.ask(Addr { node: a, actor: ASKER }, AskMsg::Stats, 1_000);
//! assert!(matches!(stats, Ok(AskMsg::StatsReply(s)) if s.calls > 0 && s.violations == 0));
//! ```
//!
//! # What it models
//! * **Network.** A message between nodes is postcard-encoded when sent and decoded when
//!   delivered, as the transport does, so what cannot cross the wire fails here too, and a
//!   duplicate is a second decode (no `M: Clone`). [`NetFaults`] drops, duplicates and delays
//!   (which reorders) each message independently. [`Cluster::partition`] cuts a pair of nodes
//!   ([`Cluster::isolate`] one node from all) until [`Cluster::heal`]: a message that would be delivered across a cut is lost, including
//!   one sent before the cut. Messages between actors of one node are never lost or reordered
//!   and are not encoded, as in the host.
//! * **Calls**, as in `host/node.rs`: a call to an unknown node or to an unknown actor of the
//!   caller's own node is [`CallFailure::Unreachable`](super::CallFailure) at once; one lost on
//!   the way, or sent to a down node or an unknown actor of another node, ends in `TimedOut`.
//!   The cell ends every call exactly once either way.
//! * **Disk.** Each node has a [`MemStorage`]. A `Persist` effect completes `disk_delay_ms` later:
//!   the job runs then, and `Synced` follows. [`Cluster::crash`] crashes the storage (unsynced
//!   bytes are lost; [`Cluster::crash_torn`] may keep part of the last write), throws away the node's actors with their timers, pending calls and
//!   unanswered requests, and drops every queued event of the node: messages to and from it,
//!   its host requests (answered [`RequestError::ActorGone`]) and its unfinished syncs.
//!   [`Cluster::restart`] rebuilds the actors with the node's factory from what the storage
//!   kept, and delivers `Start`.
//! * **Host requests.** [`Cluster::request`] plays a client connection: the answer (or why
//!   there is none) is collected by [`Cluster::take_answer`]; [`Cluster::ask`] does both.
//!
//! # Where it differs from the host
//! * No mailbox or link queue bounds: nothing is refused for lack of room, so a call never
//!   fails `Unreachable` because a link queue is full.
//! * Time is one virtual clock for all nodes, in whole milliseconds; `Now::mono_ms` does not
//!   restart at zero when a node restarts, and `Now::unix_ms` is a fixed epoch plus it.
//! * Actors of different nodes never run at the same time: each input is handled to the end,
//!   its outputs queued, before the next one. A timer due at the same time as a queued event
//!   goes first (the host's `biased` select prefers due timers over mail as well).
//! * Partitions are symmetric and cut at delivery time; a crashed node's messages that were
//!   already in flight are dropped with it.

mod net;
mod run;
mod trace;

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub use self::net::NetFaults;
use self::run::Event;
use self::trace::TraceHash;
use super::cell::{ActorCell, Cell, CellInput};
use super::{Actor, ActorId, Addr, NodeId, Wire};
use crate::storage::mem::{MemStorage, TornWrite};

/// The wall clock the actors see at virtual time 0 (2024-01-01T00:00:00Z): record timestamps
/// look real, and a run does not depend on when it ran.
const UNIX_EPOCH_MS: i64 = 1_704_067_200_000;

/// A host-side request sent with [`Cluster::request`]: how its answer is found again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(pub u64);

/// Why a host request got no answer from its actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("no node {0} in the cluster")]
    NoSuchNode(NodeId),
    #[error("node {0} is down")]
    NodeDown(NodeId),
    #[error("no actor {0:?}")]
    NoSuchActor(Addr),
    /// The node crashed before the actor answered.
    #[error("actor {0:?} crashed before answering")]
    ActorGone(Addr),
    /// [`Cluster::ask`] ran out of time (the request stays pending).
    #[error("no answer within the time given")]
    NoAnswerYet,
}

/// An actor to run on a stepper node: hides the actor's type (as the host's `NodeActor` does),
/// so one node's factory returns actors of different kinds.
pub struct StepActor<M> {
    build: Box<dyn FnOnce(Addr, SmallRng) -> StepCell<M>>,
}

/// A running actor with its bookkeeping, as the stepper holds it.
type StepCell<M> = Box<dyn Cell<M, Ticket>>;

impl<M: Wire> StepActor<M> {
    pub fn new<A: Actor<M>>(actor: A) -> Self {
        Self {
            build: Box::new(move |me, rng| Box::new(ActorCell::new(me, actor, rng))),
        }
    }
}

/// Builds a node's actors from its storage: at [`Cluster::add_node`] and at every restart.
type Factory<M> = Box<dyn Fn(&MemStorage) -> Vec<(ActorId, StepActor<M>)>>;

struct SimNode<M> {
    storage: MemStorage,
    make: Factory<M>,
    /// `None` while the node is down.
    cells: Option<BTreeMap<ActorId, StepCell<M>>>,
}

/// Several nodes' actors in one process, driven by a virtual clock and a seeded RNG.
pub struct Cluster<M: Wire> {
    now_ms: u64,
    /// Every random choice of the network, the disk and the actors' own RNG seeds.
    rng: SmallRng,
    /// Pending events by (due time, sequence): equal times keep the order they were queued in.
    queue: BTreeMap<(u64, u64), Event<M>>,
    next_seq: u64,
    nodes: BTreeMap<NodeId, SimNode<M>>,
    faults: NetFaults,
    disk_delay_ms: u64,
    /// Cut pairs of nodes, smaller id first.
    cut: BTreeSet<(NodeId, NodeId)>,
    trace: TraceHash,
    next_ticket: u64,
    /// Host requests not answered yet, and where they went.
    waiting: BTreeMap<Ticket, Addr>,
    answers: BTreeMap<Ticket, Result<M, RequestError>>,
}

impl<M: Wire> Cluster<M> {
    /// An empty cluster at time 0 with a perfect network and a 1 ms disk.
    pub fn new(seed: u64) -> Self {
        Self {
            now_ms: 0,
            rng: SmallRng::seed_from_u64(seed),
            queue: BTreeMap::new(),
            next_seq: 0,
            nodes: BTreeMap::new(),
            faults: NetFaults::NONE,
            disk_delay_ms: 1,
            cut: BTreeSet::new(),
            trace: TraceHash::default(),
            next_ticket: 0,
            waiting: BTreeMap::new(),
            answers: BTreeMap::new(),
        }
    }

    /// Applies to messages sent from now on.
    pub fn set_faults(&mut self, faults: NetFaults) {
        assert!(
            (0.0..=1.0).contains(&faults.drop) && (0.0..=1.0).contains(&faults.duplicate),
            "fault probabilities must be in 0..=1: {faults:?}"
        );
        self.faults = faults;
    }

    /// How long a sync takes, for syncs started from now on.
    pub fn set_disk_delay_ms(&mut self, disk_delay_ms: u64) {
        self.disk_delay_ms = disk_delay_ms;
    }

    /// Adds node `id` with a fresh storage and starts the actors `make` builds from it. `make`
    /// runs again at every [`Cluster::restart`].
    pub fn add_node(
        &mut self,
        id: NodeId,
        make: impl Fn(&MemStorage) -> Vec<(ActorId, StepActor<M>)> + 'static,
    ) {
        let node = SimNode {
            storage: MemStorage::new(),
            make: Box::new(make),
            cells: None,
        };
        assert!(
            self.nodes.insert(id, node).is_none(),
            "node {id} added twice"
        );
        self.boot(id);
    }

    /// Builds the node's actors and delivers `Start` to each, in actor id order.
    fn boot(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).expect("booting a known node");
        let mut cells = BTreeMap::new();
        for (actor, spawn) in (node.make)(&node.storage) {
            let me = Addr { node: id, actor };
            let rng = SmallRng::seed_from_u64(self.rng.gen());
            let fresh = cells.insert(actor, (spawn.build)(me, rng)).is_none();
            assert!(fresh, "node {id} builds actor {actor:?} twice");
        }
        let actors: Vec<ActorId> = cells.keys().copied().collect();
        node.cells = Some(cells);
        for actor in actors {
            self.feed(Addr { node: id, actor }, CellInput::Start);
        }
    }

    /// Power cut: see the module doc. A node that is already down stays down.
    pub fn crash(&mut self, id: NodeId) {
        if self.take_down(id) {
            self.nodes[&id].storage.crash();
        }
    }

    /// [`Cluster::crash`], but the node's most recently appended-to file keeps a random part
    /// of its unsynced tail ([`MemStorage::crash_torn`]); says what it kept, if anything was
    /// torn.
    pub fn crash_torn(&mut self, id: NodeId) -> Option<TornWrite> {
        if !self.take_down(id) {
            return None;
        }
        let torn = self.nodes[&id].storage.crash_torn(&mut self.rng);
        self.note(format_args!("torn {torn:?}"));
        torn
    }

    /// Stops the node's actors and forgets everything queued for or by it; false if it was
    /// already down. The caller crashes the storage.
    fn take_down(&mut self, id: NodeId) -> bool {
        let node = self.nodes.get_mut(&id).expect("crashing a known node");
        if node.cells.take().is_none() {
            return false;
        }
        self.queue.retain(|_, event| !event.involves(id));
        let gone: Vec<(Ticket, Addr)> = self
            .waiting
            .iter()
            .filter(|(_, to)| to.node == id)
            .map(|(&ticket, &to)| (ticket, to))
            .collect();
        for (ticket, to) in gone {
            self.answer(ticket, Err(RequestError::ActorGone(to)));
        }
        self.note(format_args!("crash n{id}"));
        true
    }

    /// Starts a crashed node again from what its storage kept.
    pub fn restart(&mut self, id: NodeId) {
        let down = self.nodes.get(&id).is_some_and(|node| node.cells.is_none());
        assert!(down, "restarting node {id}, which is not a crashed node");
        self.note(format_args!("restart n{id}"));
        self.boot(id);
    }

    /// Cuts `a` from `b` (both ways) until [`Cluster::heal`].
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.cut.insert((a.min(b), a.max(b)));
        self.note(format_args!("partition n{a} n{b}"));
    }

    /// Cuts `node` from every other node.
    pub fn isolate(&mut self, node: NodeId) {
        let others: Vec<NodeId> = self.nodes.keys().copied().filter(|&n| n != node).collect();
        for other in others {
            self.partition(node, other);
        }
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.note(format_args!("heal"));
    }

    /// Sends `msg` to actor `to` as a host-side request (a client connection's). Its outcome
    /// is kept for [`Cluster::take_answer`]; it fails at once if there is no such actor now.
    pub fn request(&mut self, to: Addr, msg: M) -> Ticket {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        match self.check_actor(to) {
            Ok(()) => {
                self.waiting.insert(ticket, to);
                self.schedule(self.now_ms, Event::Request { ticket, to, msg });
            }
            Err(e) => {
                self.answers.insert(ticket, Err(e));
            }
        }
        ticket
    }

    /// The outcome of a request, once there is one (taken out: a second call returns `None`).
    pub fn take_answer(&mut self, ticket: Ticket) -> Option<Result<M, RequestError>> {
        self.answers.remove(&ticket)
    }

    /// [`Cluster::request`], then steps until it is answered, for at most `within_ms`.
    pub fn ask(&mut self, to: Addr, msg: M, within_ms: u64) -> Result<M, RequestError> {
        let ticket = self.request(to, msg);
        let until_ms = self.now_ms.saturating_add(within_ms);
        loop {
            if let Some(answer) = self.take_answer(ticket) {
                return answer;
            }
            if !self.step_until(until_ms) {
                self.now_ms = self.now_ms.max(until_ms);
                return Err(RequestError::NoAnswerYet);
            }
        }
    }

    /// Handles the next event or due timer, advancing the clock to it. False if nothing is
    /// pending at all.
    pub fn step(&mut self) -> bool {
        self.step_until(u64::MAX)
    }

    /// Runs everything due within the next `ms`, then sets the clock to that time.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now_ms.saturating_add(ms));
    }

    /// Runs everything due up to `until_ms` (inclusive), then sets the clock to it.
    pub fn run_until(&mut self, until_ms: u64) {
        while self.step_until(until_ms) {}
        self.now_ms = self.now_ms.max(until_ms);
    }

    /// Nothing queued and no timer armed on a running node: the run has come to rest.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.next_timer().is_none()
    }

    /// Host requests that have no outcome yet.
    pub fn pending_requests(&self) -> usize {
        self.waiting.len()
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|node| node.cells.is_some())
    }

    /// The node's disk, e.g. to look at what is durable.
    pub fn storage(&self, id: NodeId) -> &MemStorage {
        &self.nodes.get(&id).expect("a known node").storage
    }

    /// A hash of every input delivered to an actor (with its time and address) and of every
    /// fault and test action, in order: equal for two runs exactly when they did the same.
    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    /// How many events went into [`Cluster::trace_hash`].
    pub fn trace_events(&self) -> u64 {
        self.trace.events()
    }
}

#[cfg(test)]
mod tests;
