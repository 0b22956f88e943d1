//! The `QUORUM` actor: this node's voter of the controller quorum. It hosts a [`RaftNode`]
//! (the Raft core with its files) and the [`MetadataImage`] it applies from committed entries,
//! saves the image as the Raft snapshot every `snapshot_every_entries`, and answers the node's
//! other parts: Describe (KRaft's DescribeQuorum) and Propose (an entry of metadata records,
//! answered once it is committed and applied here).
//!
//! Like every actor it does no I/O itself: Raft messages go out as [`NodeMsg::Raft`] sends,
//! the files' syncs as persist jobs, and time and randomness come from the context (the
//! election timeouts, and the cluster id the first leader proposes).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::metadata::{records, MetadataImage, MetadataRecord};
use super::raft::core::RaftConfig;
use super::raft::node::{NodeOut, RaftNode};
use crate::actor::{Actor, Addr, CallId, Ctx, Input, RequestId};
use crate::messages::quorum::{Payload, QuorumReply, QuorumRequest, QuorumState};
use crate::messages::{NodeMsg, QUORUM};
use crate::storage::Storage;
use crate::types::NodeId;

/// Where the voter keeps its files, under the node's storage root (Kafka's name for the
/// metadata log's directory).
pub const METADATA_DIR: &str = "__cluster_metadata-0";

/// How long a follower waits for the leader's answer to a forwarded describe.
const FORWARD_TIMEOUT_MS: u64 = 2_000;

/// A failed voter (a write or sync failed, or its files did not load) opens its files again
/// after this pause, doubled after each failure up to [`REOPEN_MAX_MS`]: Raft takes it as a
/// voter that crashed and restarted, with what its files hold.
const REOPEN_FIRST_MS: u64 = 1_000;
const REOPEN_MAX_MS: u64 = 30_000;

/// The voter's settings, from the node's configuration.
#[derive(Clone, Debug)]
pub struct QuorumSettings {
    pub node_id: NodeId,
    /// Every voter, this node included (Kafka's `controller.quorum.voters`).
    pub voters: Vec<NodeId>,
    pub raft: RaftConfig,
    /// Save the image as the log's snapshot each time this many more entries were applied.
    pub snapshot_every_entries: u64,
    pub dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum QuorumTimer {
    /// The Raft core's next deadline (an election timeout or a heartbeat).
    Tick,
    /// A failed voter opens its files again.
    Reopen,
}

pub struct QuorumActor {
    settings: QuorumSettings,
    storage: Arc<dyn Storage>,
    node: Option<RaftNode>,
    image: MetadataImage,
    /// The applied index at the last snapshot saved (or loaded).
    last_saved: u64,
    /// Proposals waiting to be applied: index → (term it was appended in, who asked).
    waiting: BTreeMap<u64, (u64, RequestId)>,
    /// The term in which this voter, leading, proposed the cluster id.
    cluster_id_proposed_in: u64,
    /// Describes forwarded to the leader: the call → who asked here.
    forwarded: BTreeMap<CallId, RequestId>,
    failed: Option<String>,
    /// The pause before the next reopen, while one is armed.
    reopen_in_ms: Option<u64>,
    /// The pause the next failure waits (doubling while failures follow each other).
    reopen_backoff_ms: u64,
}

impl QuorumActor {
    pub fn new(settings: QuorumSettings, storage: Arc<dyn Storage>) -> Self {
        Self {
            settings,
            storage,
            node: None,
            image: MetadataImage::default(),
            last_saved: 0,
            waiting: BTreeMap::new(),
            cluster_id_proposed_in: 0,
            forwarded: BTreeMap::new(),
            failed: None,
            reopen_in_ms: None,
            reopen_backoff_ms: REOPEN_FIRST_MS,
        }
    }

    /// Opens the Raft node on its files (at start, and again after a failure).
    fn open(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>) -> Option<NodeOut> {
        let s = &self.settings;
        match RaftNode::open(
            self.storage.clone(),
            &s.dir,
            s.node_id,
            &s.voters,
            s.raft,
            ctx.now.mono_ms,
            ctx.rng,
        ) {
            Ok((node, out)) => {
                tracing::info!(node_id = %s.node_id, voters = ?s.voters, last_index = node.core().last_index(), "controller quorum voter started");
                self.node = Some(node);
                Some(out)
            }
            Err(error) => {
                tracing::error!(%error, "the controller quorum's files do not load");
                self.failed = Some(error.to_string());
                None
            }
        }
    }

    /// After a failure: every proposal waiting here is answered, and a reopen is armed (once
    /// no persist job is running, so that no old write lands after the files are read).
    fn arm_reopen(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>) {
        let Some(failed) = self.failure() else {
            return;
        };
        for (_, (_, id)) in std::mem::take(&mut self.waiting) {
            let reply = QuorumReply::Failed(failed.clone());
            ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
        if self.reopen_in_ms.is_none() {
            let after_ms = self.reopen_backoff_ms;
            tracing::warn!(%failed, after_ms, "the controller quorum's voter stopped; it reopens its files after a pause");
            self.reopen_in_ms = Some(after_ms);
            self.reopen_backoff_ms = (after_ms * 2).min(REOPEN_MAX_MS);
            ctx.set_timer(QuorumTimer::Reopen, after_ms);
        }
    }

    fn reopen(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>) {
        if self.node.as_ref().is_some_and(RaftNode::busy) {
            return ctx.set_timer(QuorumTimer::Reopen, REOPEN_FIRST_MS);
        }
        self.reopen_in_ms = None;
        self.node = None;
        self.failed = None;
        self.image = MetadataImage::default();
        self.last_saved = 0;
        self.cluster_id_proposed_in = 0;
        if let Some(out) = self.open(ctx) {
            self.apply_out(ctx, out);
        }
        self.arm_reopen(ctx);
    }

    /// Answers from the leader's view: here if this voter leads, else forwarded to the leader.
    fn describe_leader(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>, id: RequestId) {
        let leader = self.node.as_ref().and_then(|n| n.core().leader());
        match leader {
            Some(leader) if leader == self.settings.node_id => {
                let reply = self.describe();
                ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
            Some(leader) => {
                let to = Addr {
                    node: leader,
                    actor: QUORUM,
                };
                let ask = NodeMsg::Quorum(QuorumRequest::Describe);
                let call = ctx.call(to, ask, FORWARD_TIMEOUT_MS);
                self.forwarded.insert(call, id);
            }
            None => {
                let reply = QuorumReply::NotLeader { leader: None };
                ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
        }
    }

    /// (A failed voter never gets here: `handle_input` refuses every request while it is.)
    fn describe(&self) -> QuorumReply {
        let Some(node) = &self.node else {
            return QuorumReply::Failed("not started".to_owned());
        };
        let core = node.core();
        QuorumReply::Described(QuorumState {
            node_id: self.settings.node_id,
            leader: core.leader(),
            term: core.term(),
            commit_index: core.commit_index(),
            applied_index: self.image.applied_index(),
            last_index: core.last_index(),
            cluster_id: self.image.cluster_id(),
            followers: core
                .followers()
                .into_iter()
                .map(|(id, _, matched)| (id, matched))
                .collect(),
            registered_brokers: self.image.brokers().map(|(id, _)| id).collect(),
        })
    }

    /// Why this voter cannot serve: its own failure, or its Raft node's (a write or sync).
    fn failure(&self) -> Option<String> {
        let node_failed = self.node.as_ref().and_then(RaftNode::failed);
        self.failed.as_deref().or(node_failed).map(str::to_owned)
    }

    /// Carries out what the node asked for, applies what it committed, answers the proposals
    /// that are settled, and re-arms the tick.
    fn apply_out(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>, out: NodeOut) {
        for envelope in out.sends {
            let to = Addr {
                node: envelope.to,
                actor: QUORUM,
            };
            ctx.send(to, NodeMsg::Raft(envelope.msg));
        }
        if let Some(job) = out.persist {
            ctx.persist(0, job);
        }
        if let Some(snapshot) = out.restore {
            match MetadataImage::from_snapshot(&snapshot.data) {
                Ok(image) => {
                    self.image = image;
                    self.last_saved = snapshot.meta.index;
                }
                Err(error) => {
                    // Every voter wrote it from an image; one that does not load is damage.
                    tracing::error!(%error, index = snapshot.meta.index, "the metadata snapshot does not load; this voter stops");
                    self.failed = Some(format!("the metadata snapshot does not load: {error}"));
                    // Nothing is applied to (or saved from) the image it did not replace.
                    return;
                }
            }
        }
        let mut settled = Vec::new();
        for (index, entry) in out.committed {
            let records = match &entry.payload {
                Payload::Noop => Vec::new(),
                Payload::Command(bytes) => records::decode(bytes).unwrap_or_else(|error| {
                    tracing::warn!(%error, index, "a metadata entry does not decode; skipped");
                    Vec::new()
                }),
            };
            for skipped in self.image.apply_entry(index, &records) {
                tracing::debug!(index, ?skipped, "a metadata record did not apply");
            }
            if let Some((term, id)) = self.waiting.remove(&index) {
                settled.push((id, index, term == entry.term));
            }
        }
        let leader = self.node.as_ref().and_then(|n| n.core().leader());
        for (id, index, committed) in settled {
            let reply = if committed {
                QuorumReply::Committed { index }
            } else {
                QuorumReply::NotLeader { leader }
            };
            ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
        let Some(node) = self.node.as_mut() else {
            return;
        };
        // Proposals of a term this voter no longer leads may never commit: say so (a client
        // retries with the new leader; metadata records are safe to repeat).
        let term = node.core().term();
        let leads = node.core().leader() == Some(self.settings.node_id);
        let applied = self.image.applied_index();
        let lost: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(&index, &(t, _))| t != term || !leads || index <= applied)
            .map(|(&index, _)| index)
            .collect();
        for index in lost {
            let (_, id) = self.waiting.remove(&index).expect("listed");
            let leader = node.core().leader();
            ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::NotLeader { leader }));
        }
        // The first leader of the quorum names the cluster (no format step, unlike Kafka);
        // applying keeps only the first id committed.
        if leads && self.image.cluster_id().is_none() && self.cluster_id_proposed_in != term {
            self.cluster_id_proposed_in = term;
            let mut cluster_id = [0u8; 16];
            rand::RngCore::fill_bytes(ctx.rng, &mut cluster_id);
            let entry = records::encode(&[MetadataRecord::InitCluster { cluster_id }]);
            let (_, more) = node.propose(entry);
            return self.apply_out(ctx, more);
        }
        let every = self.settings.snapshot_every_entries;
        if every > 0 && applied >= self.last_saved + every {
            self.last_saved = applied;
            let more = node.save_snapshot(applied, self.image.to_snapshot());
            return self.apply_out(ctx, more);
        }
        let after_ms = node
            .core()
            .next_deadline_ms()
            .saturating_sub(ctx.now.mono_ms)
            .max(1);
        ctx.set_timer(QuorumTimer::Tick, after_ms);
    }

    fn propose(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>, id: RequestId, entry: Vec<u8>) {
        if let Err(error) = records::decode(&entry) {
            let reply = QuorumReply::Failed(format!("not an entry of metadata records: {error}"));
            return ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
        let Some(node) = self.node.as_mut() else {
            let reply = QuorumReply::Failed("not started".to_owned());
            return ctx.reply(id, NodeMsg::QuorumReply(reply));
        };
        let term = node.core().term();
        let (result, out) = node.propose(entry);
        match result {
            Ok(index) => {
                self.waiting.insert(index, (term, id));
            }
            Err(leader) => ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::NotLeader { leader })),
        }
        self.apply_out(ctx, out);
    }
}

impl Actor<NodeMsg> for QuorumActor {
    type Timer = QuorumTimer;

    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        input: Input<NodeMsg, QuorumTimer>,
    ) {
        self.handle_input(ctx, input);
        // Whatever failed while handling it: answer who waits, and arm the reopen.
        self.arm_reopen(ctx);
    }
}

impl QuorumActor {
    fn handle_input(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        input: Input<NodeMsg, QuorumTimer>,
    ) {
        let now_ms = ctx.now.mono_ms;
        let input = match input {
            Input::Timer {
                key: QuorumTimer::Reopen,
            } => return self.reopen(ctx),
            Input::Reply { call, msg } => {
                if let Some(id) = self.forwarded.remove(&call) {
                    ctx.reply(id, msg);
                }
                return;
            }
            Input::CallFailed { call, .. } => {
                if let Some(id) = self.forwarded.remove(&call) {
                    let leader = self.node.as_ref().and_then(|n| n.core().leader());
                    let reply = QuorumReply::NotLeader { leader };
                    ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                return;
            }
            other => other,
        };
        if let Some(failed) = self.failure() {
            // Stopped until it reopens: requests are refused; a running job may still end.
            match input {
                Input::Request { id, .. } => {
                    ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::Failed(failed)))
                }
                Input::Synced { result, .. } => {
                    if let Some(node) = self.node.as_mut().filter(|n| n.busy()) {
                        // A job it starts still runs (a node stopped by its voter, not by its
                        // own failure, goes on syncing), so that the reopen is not kept
                        // waiting for a job that never ran.
                        if let Some(job) = node.synced(result).persist {
                            ctx.persist(0, job);
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        let out = match input {
            Input::Start => match self.open(ctx) {
                Some(out) => out,
                None => return self.arm_reopen(ctx),
            },
            Input::Msg {
                from,
                msg: NodeMsg::Raft(msg),
            } => match self.node.as_mut() {
                Some(node) => node.step(now_ms, from.node, msg, ctx.rng),
                None => return,
            },
            Input::Timer {
                key: QuorumTimer::Tick,
            } => match self.node.as_mut() {
                Some(node) => node.tick(now_ms, ctx.rng),
                None => return,
            },
            Input::Synced { result, .. } => match self.node.as_mut() {
                Some(node) => {
                    if result.is_ok() {
                        // Its disk took a sync: the next failure pauses briefly again (a disk
                        // that reads but cannot write keeps doubling the pause).
                        self.reopen_backoff_ms = REOPEN_FIRST_MS;
                    }
                    node.synced(result)
                }
                None => return,
            },
            Input::Request {
                id,
                msg: NodeMsg::Quorum(QuorumRequest::Describe),
                ..
            } => {
                let reply = self.describe();
                return ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
            Input::Request {
                id,
                msg: NodeMsg::Quorum(QuorumRequest::Propose { entry }),
                ..
            } => return self.propose(ctx, id, entry),
            Input::Request {
                id,
                msg: NodeMsg::Quorum(QuorumRequest::DescribeLeader),
                ..
            } => return self.describe_leader(ctx, id),
            Input::Request { id, msg, .. } => {
                let reply = QuorumReply::Failed(format!("not a quorum request: {msg:?}"));
                return ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
            Input::Msg { .. }
            | Input::Reply { .. }
            | Input::CallFailed { .. }
            | Input::Timer {
                key: QuorumTimer::Reopen,
            } => return,
        };
        self.apply_out(ctx, out);
    }
}
