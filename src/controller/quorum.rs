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
use crate::actor::{Actor, Addr, Ctx, Input, RequestId};
use crate::messages::quorum::{Payload, QuorumReply, QuorumRequest, QuorumState};
use crate::messages::{NodeMsg, QUORUM};
use crate::storage::Storage;
use crate::types::NodeId;

/// Where the voter keeps its files, under the node's storage root (Kafka's name for the
/// metadata log's directory).
pub const METADATA_DIR: &str = "__cluster_metadata-0";

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
    failed: Option<String>,
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
            failed: None,
        }
    }

    fn describe(&self) -> QuorumReply {
        if let Some(failed) = self.failure() {
            return QuorumReply::Failed(failed);
        }
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
        if let Some(failed) = self.failure() {
            return ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::Failed(failed)));
        }
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
        let now_ms = ctx.now.mono_ms;
        if let Some(failed) = &self.failed {
            if let Input::Request { id, .. } = input {
                ctx.reply(
                    id,
                    NodeMsg::QuorumReply(QuorumReply::Failed(failed.clone())),
                );
            }
            return;
        }
        let out = match input {
            Input::Start => {
                let s = &self.settings;
                match RaftNode::open(
                    self.storage.clone(),
                    &s.dir,
                    s.node_id,
                    &s.voters,
                    s.raft,
                    now_ms,
                    ctx.rng,
                ) {
                    Ok((node, out)) => {
                        tracing::info!(node_id = %s.node_id, voters = ?s.voters, last_index = node.core().last_index(), "controller quorum voter started");
                        self.node = Some(node);
                        out
                    }
                    Err(error) => {
                        tracing::error!(%error, "the controller quorum's files do not load; this voter stops");
                        self.failed = Some(error.to_string());
                        return;
                    }
                }
            }
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
                Some(node) => node.synced(result),
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
            Input::Request { id, msg, .. } => {
                let reply = QuorumReply::Failed(format!("not a quorum request: {msg:?}"));
                return ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
            Input::Msg { .. } | Input::Reply { .. } | Input::CallFailed { .. } => return,
        };
        self.apply_out(ctx, out);
    }
}
