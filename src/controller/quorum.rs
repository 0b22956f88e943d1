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

use super::liveness::BrokerLiveness;
use super::metadata::{
    acls, alter_partition, broker_config, client_quotas, election, eligible, reassign, records,
    scram, topic_admin, MetadataImage, MetadataRecord, TopicDefaults,
};
use super::raft::core::RaftConfig;
use super::raft::log_file::ENTRY_BYTES_MAX;
use super::raft::node::{NodeOut, RaftNode};
use crate::actor::{Actor, Addr, CallId, Ctx, Input, RequestId};
use crate::faults::{canary, Canary, FaultPoint};
use crate::limits::PRODUCER_ID_BLOCK_SIZE;
use crate::messages::acls::PublishedAcls;
use crate::messages::quorum::{
    ElectionOutcome, ElectionType, IsrOutcome, LeaderRequest, Payload, QuorumReply, QuorumRequest,
    QuorumState, RaftMsg, ReassignOutcome, RegisteredBroker, TopicView,
};
use crate::messages::quotas::PublishedQuotas;
use crate::messages::{
    AppliedTopics, BrokerStatus, NodeMsg, TopicMeta, TopicsRequest, QUORUM, TOPICS,
};
use crate::storage::Storage;
use crate::types::{BrokerEpoch, ErrorCode, NodeId, Refusal};

/// Where the voter keeps its files, under the node's storage root (Kafka's name for the
/// metadata log's directory).
pub const METADATA_DIR: &str = "__cluster_metadata-0";

/// A new leader's answer until it applied its own term's first entry: ask again.
pub const LEADER_APPLYING: &str = "the leader is still applying its log";

/// At most this many forwarded answers wait for this voter to apply their entry; past it the
/// oldest is answered now (its caller has given up long since, or the voter is far behind).
const HELD_MAX: usize = 64;

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
    /// Kafka's `broker.session.timeout.ms`: a broker the leader has not heard from for this
    /// long is fenced.
    pub broker_session_timeout_ms: u64,
    /// The node is a broker: its topics actor is sent the applied topics
    /// ([`TopicsRequest::MetadataApplied`]). A controller-only node has none.
    pub feeds_topics: bool,
    /// How often the leader moves partition leaderships back to their preferred replicas
    /// (Kafka's `leader.imbalance.check.interval.seconds`, when `auto.leader.rebalance.enable`);
    /// `None`: never.
    pub leader_balance_interval_ms: Option<u64>,
    /// The broker-level `min.insync.replicas` and `unclean.leader.election.enable` that
    /// elections and eligible leader replicas read for a topic without its own.
    pub topic_defaults: TopicDefaults,
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
    /// Proposals waiting to be applied: index → (term it was appended in, who asked, what
    /// they are answered once it is).
    waiting: BTreeMap<u64, (u64, RequestId, Settle)>,
    /// Leading: when each broker was last heard from.
    liveness: BrokerLiveness,
    /// The term in which this voter, leading, proposed the cluster id.
    cluster_id_proposed_in: u64,
    /// The term in which this voter, leading, wrote its static `min.insync.replicas` as the
    /// cluster-wide one ([`broker_config::seed_min_isr`]).
    min_isr_seeded_in: u64,
    /// Leading: when the next preferred-leader balance runs (`None` until the first tick of a
    /// leadership, which schedules it an interval away, as Kafka does).
    next_balance_ms: Option<u64>,
    /// Leading: the image with every entry this leader proposed in `term` applied, committed
    /// or not (Kafka's controller decides on its in-memory state the same way), so that a
    /// decision never contradicts one still in flight: two producer-id blocks never overlap,
    /// and a fence's election sees the fences and elections before it. Rebuilt from the
    /// applied image whenever nothing of the term is in flight, and as long as it was built
    /// on an image without the term's first entry (one that may miss what earlier leaders
    /// committed: found in review, the cluster id's proposal built it that early).
    projected: Option<Projected>,
    /// Requests forwarded to the leader: the call → who asked here.
    forwarded: BTreeMap<CallId, RequestId>,
    /// The leader's answers to topic administrations and SCRAM credential changes forwarded
    /// from here, held until this voter applied their entry too (so the node's topics actor
    /// has the change first).
    held: Vec<(u64, RequestId, QuorumReply)>,
    /// The topics last sent to the node's topics actor.
    fed: Option<AppliedTopics>,
    /// Where the ACLs applied here are published for the node's gateway (a broker's), set
    /// with [`QuorumActor::publishing_acls`].
    acls_view: Option<PublishedAcls>,
    /// The applied index of the ACLs and client quotas last published. Never backwards (as the topics actor's
    /// view): a voter that reopens its files starts again from its snapshot, and publishing
    /// that older image would bring back ACLs deleted since, and drop DENYs added since, until
    /// it caught up again (found in review).
    published_at: u64,
    /// Where the client quotas applied here are published for the node's gateway, set with
    /// [`QuorumActor::publishing_quotas`]; published with the ACLs, never backwards either.
    quotas_view: Option<PublishedQuotas>,
    failed: Option<String>,
    /// The pause before the next reopen, while one is armed.
    reopen_in_ms: Option<u64>,
    /// The pause the next failure waits (doubling while failures follow each other).
    reopen_backoff_ms: u64,
    /// The commit index after the last step (the simulator's checker is told each one a
    /// leader reaches).
    commit_seen: u64,
}

impl QuorumActor {
    pub fn new(settings: QuorumSettings, storage: Arc<dyn Storage>) -> Self {
        Self {
            liveness: BrokerLiveness::new(settings.broker_session_timeout_ms),
            settings,
            storage,
            node: None,
            image: MetadataImage::default(),
            last_saved: 0,
            waiting: BTreeMap::new(),
            cluster_id_proposed_in: 0,
            min_isr_seeded_in: 0,
            next_balance_ms: None,
            projected: None,
            forwarded: BTreeMap::new(),
            held: Vec::new(),
            fed: None,
            acls_view: None,
            published_at: 0,
            quotas_view: None,
            failed: None,
            reopen_in_ms: None,
            reopen_backoff_ms: REOPEN_FIRST_MS,
            commit_seen: 0,
        }
    }

    /// Publishes the ACLs this voter applies to `view` (the broker's gateway reads them there
    /// for every request it authorizes), each change before the answers it settles.
    pub fn publishing_acls(mut self, view: PublishedAcls) -> Self {
        self.acls_view = Some(view);
        self
    }

    /// Publishes the client quotas this voter applies to `view` (the broker's gateway enforces
    /// and describes them from there), each change before the answers it settles.
    pub fn publishing_quotas(mut self, view: PublishedQuotas) -> Self {
        self.quotas_view = Some(view);
        self
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
                let role = match node.core().is_observer() {
                    true => "an observer (broker-only: no vote)",
                    false => "a voter",
                };
                tracing::info!(node_id = %s.node_id, voters = ?s.voters, last_index = node.core().last_index(), "controller quorum member started as {role}");
                if !node.core().is_observer() {
                    let hard = node.core().hard_state();
                    let voted_for = hard.voted_for.map(|n| n.0);
                    crate::faults::observe::quorum_opened(s.node_id.0, hard.term, voted_for);
                }
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
        // Forwarded answers held for this voter to apply their entry stay held: the leader
        // committed it, and the reopened voter applies it again (answering them `Failed` would
        // refuse a change that was made).
        for id in self.waiting.values().map(|(_, id, _)| *id) {
            let reply = QuorumReply::Failed(failed.clone());
            ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
        self.waiting.clear();
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
        self.fed = None;
        self.last_saved = 0;
        self.cluster_id_proposed_in = 0;
        self.min_isr_seeded_in = 0;
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
            observers: core.observers(),
            brokers: (self.image.brokers())
                .map(|(node_id, b)| RegisteredBroker {
                    node_id,
                    epoch: b.epoch,
                    fenced: b.fenced,
                    listeners: b.listeners.clone(),
                    rack: b.rack.clone(),
                })
                .collect(),
        })
    }

    /// The applied topics and their partitions.
    fn describe_topics(&self) -> QuorumReply {
        QuorumReply::Topics(self.image.topics().map(topic_admin::view).collect())
    }

    /// The image as this leader's proposals in flight will leave it (see `projected`).
    fn projected(&mut self) -> &mut MetadataImage {
        let (term, current) = match &self.node {
            Some(node) => (node.core().term(), current_leader(node, &self.image)),
            None => (0, false),
        };
        let stale = match &self.projected {
            Some(p) => {
                p.term != term
                    || !p.current
                    || p.image.applied_index() <= self.image.applied_index()
            }
            None => true,
        };
        if stale {
            let image = self.image.clone();
            self.projected = Some(Projected {
                term,
                current,
                image,
            });
        }
        &mut self.projected.as_mut().expect("set above").image
    }

    /// Proposes `records` as one entry if this voter leads, and applies them to the projected
    /// image: the entry's index, or the leader to ask.
    fn propose_records(&mut self, records: &[MetadataRecord]) -> (Result<u64, Refused>, NodeOut) {
        let projected_before = self.projected().applied_index();
        // Every ISR change with the eligible leader replicas it leaves (KIP-966).
        let defaults = self.settings.topic_defaults;
        let records = &eligible::follow(self.projected(), records.to_vec(), &defaults);
        let Some(node) = self.node.as_mut() else {
            return (Err(Refused::NotLeader(None)), NodeOut::default());
        };
        // The log refuses to load a larger entry (it takes it for damage): one is never
        // appended, so a committed entry is never lost at a restart.
        let entry = records::encode(records);
        if entry.len() > ENTRY_BYTES_MAX {
            return (Err(Refused::TooLarge(entry.len())), NodeOut::default());
        }
        let (result, out) = node.propose(entry);
        let result = result.map_err(Refused::NotLeader);
        if let Ok(index) = result {
            if index > projected_before {
                self.projected().apply_entry(index, records);
            }
        }
        (result, out)
    }

    /// Sends the node's topics actor the applied topics when they changed (or the brokers or
    /// their dynamic configs, or the SCRAM credentials, did) and publishes the applied ACLs to
    /// the gateway (never an older image), then answers the forwarded administrations this
    /// voter has applied now: the topics actor and the gateway see the change before the
    /// answer.
    fn feed_topics(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>) {
        let applied = self.image.applied_index();
        let leads =
            self.node.as_ref().and_then(|n| n.core().leader()) == Some(self.settings.node_id);
        let skipped = !leads && canary(Canary::TopicsFeedSkipped);
        if self.settings.feeds_topics && applied > 0 && !skipped {
            let now = applied_topics(&self.image);
            let same = self.fed.as_ref().is_some_and(|fed| {
                fed.live_brokers == now.live_brokers
                    && fed.topics == now.topics
                    && fed.deleted_topic_ids == now.deleted_topic_ids
                    && fed.brokers == now.brokers
                    && fed.broker_configs == now.broker_configs
                    && fed.scram_credentials == now.scram_credentials
                    && fed.acls == now.acls
            });
            if !same {
                let to = Addr {
                    node: ctx.me.node,
                    actor: TOPICS,
                };
                let msg = TopicsRequest::MetadataApplied(Box::new(now.clone()));
                ctx.send(to, NodeMsg::Topics(msg));
                self.fed = Some(now);
            }
        }
        // Before any answer below: the broker that made a change checks with it at once.
        if applied >= self.published_at {
            if let Some(view) = &self.acls_view {
                view.publish(self.image.acls());
            }
            if let Some(view) = &self.quotas_view {
                if !canary(Canary::QuotaNotPublished) {
                    view.publish(self.image.client_quotas());
                }
            }
            self.published_at = applied;
        }
        let (ready, held): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(index, _, _)| *index <= applied);
        self.held = held;
        for (_, id, reply) in ready {
            ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
    }

    /// Why this voter cannot serve: its own failure, or its Raft node's (a write or sync).
    fn failure(&self) -> Option<String> {
        let node_failed = self.node.as_ref().and_then(RaftNode::failed);
        self.failed.as_deref().or(node_failed).map(str::to_owned)
    }

    /// Carries out what the node asked for, applies what it committed, answers the proposals
    /// that are settled, and re-arms the tick.
    fn apply_out(&mut self, ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>, out: NodeOut) {
        if let Some(core) = self.node.as_ref().map(RaftNode::core) {
            let me = ctx.me.node.0;
            let commit = core.commit_index();
            if core.role() == crate::controller::raft::core::Role::Leader {
                crate::faults::observe::quorum_led(me, core.term());
                if let Some(entry_term) = core.term_at(commit).filter(|_| commit > self.commit_seen)
                {
                    crate::faults::observe::leader_committed(me, core.term(), commit, entry_term);
                }
            }
            self.commit_seen = commit;
        }
        for envelope in out.sends {
            if let RaftMsg::VoteReply {
                term,
                granted: true,
                pre_vote: false,
            } = envelope.msg
            {
                let candidate = envelope.to;
                crate::faults::observe::vote_sent(ctx.me.node.0, term, candidate.0);
                let _ = crate::fault_point!(
                    FaultPoint::CrashAfterVoteGranted,
                    format!("vote for {candidate} in term {term}")
                );
            }
            let to = Addr {
                node: envelope.to,
                actor: QUORUM,
            };
            ctx.send(to, NodeMsg::Raft(envelope.msg));
        }
        if let Some(job) = out.persist {
            ctx.persist(0, job);
        }
        let applied_before = self.image.applied_index();
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
            crate::faults::observe::metadata_applied(ctx.me.node.0, index, entry.term, || {
                match &entry.payload {
                    Payload::Noop => 0,
                    Payload::Command(bytes) => crate::faults::observe::digest(bytes),
                }
            });
            if self.node.as_ref().and_then(|n| n.core().leader()) == Some(ctx.me.node) {
                count_elections(&records);
            }
            let skipped = self.image.apply_entry(index, &records);
            for skipped in &skipped {
                tracing::debug!(index, ?skipped, "a metadata record did not apply");
            }
            if let Some((term, id, settle)) = self.waiting.remove(&index) {
                // A block is the broker's only if its record applied (the others answer
                // from the image as it is now).
                let settle = match settle {
                    Settle::ProducerIds { .. }
                        if !skipped.is_empty() && !canary(Canary::ProducerIdsReused) =>
                    {
                        Settle::Skipped
                    }
                    settle => settle,
                };
                settled.push((id, index, term == entry.term, settle));
            }
        }
        self.liveness.applied(self.image.applied_index());
        // Only an apply can change the topics or release a held answer (this runs on every
        // Raft message and tick).
        if self.image.applied_index() != applied_before {
            self.feed_topics(ctx);
        }
        let leader = self.node.as_ref().and_then(|n| n.core().leader());
        for (id, index, committed, settle) in settled {
            let reply = if committed {
                settle.reply(index, &self.image)
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
            .filter(|(&index, &(t, _, _))| t != term || !leads || index <= applied)
            .map(|(&index, _)| index)
            .collect();
        for index in lost {
            let (_, id, _) = self.waiting.remove(&index).expect("listed");
            let leader = node.core().leader();
            ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::NotLeader { leader }));
        }
        // The first leader of the quorum names the cluster (no format step, unlike Kafka);
        // applying keeps only the first id committed.
        if leads && self.image.cluster_id().is_none() && self.cluster_id_proposed_in != term {
            self.cluster_id_proposed_in = term;
            let mut cluster_id = [0u8; 16];
            rand::RngCore::fill_bytes(ctx.rng, &mut cluster_id);
            let (_, more) = self.propose_records(&[MetadataRecord::InitCluster { cluster_id }]);
            return self.apply_out(ctx, more);
        }
        // The first current leader writes its static min.insync.replicas as the cluster's
        // (Kafka's activation with eligible leader replicas on); a leader that has applied
        // every earlier term's entries knows whether one is there.
        let activated =
            leads && self.image.cluster_id().is_some() && current_leader(node, &self.image);
        if activated && self.min_isr_seeded_in != term {
            let static_value = self.settings.topic_defaults.min_insync_replicas;
            // On the projected image: a write of it in flight is not overwritten.
            if let Some(seed) = broker_config::seed_min_isr(self.projected(), static_value) {
                self.min_isr_seeded_in = term;
                tracing::info!(
                    min_insync_replicas = static_value,
                    "the metadata log has no cluster-wide min.insync.replicas: this controller's is written"
                );
                let (_, more) = self.propose_records(&[seed]);
                return self.apply_out(ctx, more);
            }
        }
        // The leader fences the brokers it has not heard from for a session.
        if activated {
            self.liveness.lead(term, ctx.now.mono_ms);
            let expired = self.liveness.expired(&self.image, ctx.now.mono_ms);
            // One entry per broker (its elections bound the entry's size); the next expired
            // broker is fenced by the call below, on the projected image this one leaves.
            if let Some(&(node_id, broker_epoch)) = expired.first() {
                let defaults = self.settings.topic_defaults;
                let changes = [(node_id, broker_epoch, true)];
                let fence = fencing_entry(self.projected(), &changes, &defaults);
                if fence.is_empty() {
                    // A registration in flight replaced this one: the broker is alive.
                    self.liveness.heard(node_id, ctx.now.mono_ms);
                    return self.apply_out(ctx, NodeOut::default());
                }
                let (result, more) = self.propose_records(&fence);
                if let Ok(index) = result {
                    tracing::warn!(broker = %node_id, session_timeout_ms = self.settings.broker_session_timeout_ms, "no heartbeat from the broker for a session: fenced");
                    self.liveness.proposed(node_id, index);
                }
                return self.apply_out(ctx, more);
            }
        }
        if !leads {
            self.next_balance_ms = None;
        }
        if activated {
            if let Some(more) = self.maybe_balance_leaders(ctx.now.mono_ms) {
                return self.apply_out(ctx, more);
            }
        }
        let Some(node) = self.node.as_mut() else {
            return;
        };
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
        match records::decode(&entry) {
            Ok(records) => {
                self.propose_for(ctx, id, &records, Settle::Committed);
            }
            Err(error) => {
                let reply =
                    QuorumReply::Failed(format!("not an entry of metadata records: {error}"));
                ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
        }
    }

    /// Appends `records` as one entry if this voter leads; `id` is answered by `settle` once
    /// it is applied (or refused now). Returns the entry's index.
    fn propose_for(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        id: RequestId,
        records: &[MetadataRecord],
        settle: Settle,
    ) -> Option<u64> {
        let Some(node) = self.node.as_ref() else {
            let reply = QuorumReply::Failed("not started".to_owned());
            ctx.reply(id, NodeMsg::QuorumReply(reply));
            return None;
        };
        let term = node.core().term();
        let (result, out) = self.propose_records(records);
        let index = match result {
            Ok(index) => {
                self.waiting.insert(index, (term, id, settle));
                Some(index)
            }
            Err(Refused::NotLeader(leader)) => {
                ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::NotLeader { leader }));
                None
            }
            Err(Refused::TooLarge(bytes)) => {
                let why = format!(
                    "the change is {bytes} bytes of metadata, more than the {ENTRY_BYTES_MAX} \
                     one entry may hold: ask for less at once"
                );
                let reply = match settle {
                    // Asking again cannot help: each topic is refused as Kafka refuses a
                    // request its policy finds too large.
                    Settle::Topics { outcomes, .. } => QuorumReply::TopicsChanged {
                        index: 0,
                        outcomes: (outcomes.iter())
                            .map(|_| Err(Refusal::new(ErrorCode::POLICY_VIOLATION, why.clone())))
                            .collect(),
                    },
                    // Likewise each entry of an AlterClientQuotas too large for one entry.
                    Settle::ClientQuotas(results) => QuorumReply::ClientQuotasAltered {
                        index: 0,
                        results: (results.iter())
                            .map(|_| Err(Refusal::new(ErrorCode::POLICY_VIOLATION, why.clone())))
                            .collect(),
                    },
                    // Likewise each binding of a CreateAcls too large for one entry.
                    Settle::AclsCreated(results) => QuorumReply::AclsCreated {
                        index: 0,
                        results: (results.iter())
                            .map(|_| Err(Refusal::new(ErrorCode::POLICY_VIOLATION, why.clone())))
                            .collect(),
                    },
                    _ => QuorumReply::Failed(why),
                };
                ctx.reply(id, NodeMsg::QuorumReply(reply));
                None
            }
        };
        self.apply_out(ctx, out);
        index
    }

    /// A request only the leader answers: handled here if this voter leads, else forwarded
    /// once to the leader it knows.
    fn to_leader(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        id: RequestId,
        request: LeaderRequest,
        forwarded: bool,
    ) {
        let request = match request {
            // This node's broker asks: its metadata is this voter's image.
            LeaderRequest::BrokerHeartbeat {
                node_id,
                broker_epoch,
                ..
            } if !forwarded => LeaderRequest::BrokerHeartbeat {
                node_id,
                broker_epoch,
                applied_index: self.image.applied_index(),
            },
            other => other,
        };
        let mut request = request;
        // This node's partitions actor asks: the registration is this voter's image's.
        if let Some((node_id, broker_epoch)) = request.registration_to_fill().filter(|_| !forwarded)
        {
            match self.image.broker(node_id) {
                Some(broker) => *broker_epoch = broker.epoch,
                None => {
                    let reply = QuorumReply::StaleBrokerEpoch;
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
            }
        }
        let Some(node) = self.node.as_ref() else {
            let reply = QuorumReply::Failed("not started".to_owned());
            return ctx.reply(id, NodeMsg::QuorumReply(reply));
        };
        let leader = node.core().leader();
        if leader == Some(self.settings.node_id) {
            if !current_leader(node, &self.image) {
                // Until its own term's first entry is applied, its image may miss what
                // earlier leaders committed (a registration among them): the broker retries.
                let reply = QuorumReply::Failed(LEADER_APPLYING.into());
                return ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
            let term = node.core().term();
            self.liveness.lead(term, ctx.now.mono_ms);
            return self.lead_request(ctx, id, request);
        }
        match leader {
            Some(leader) if !forwarded => {
                let to = Addr {
                    node: leader,
                    actor: QUORUM,
                };
                let ask = NodeMsg::Quorum(QuorumRequest::ToLeader {
                    request,
                    forwarded: true,
                });
                let call = ctx.call(to, ask, FORWARD_TIMEOUT_MS);
                self.forwarded.insert(call, id);
            }
            _ => ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::NotLeader { leader })),
        }
    }

    /// Proposes fencing (a controlled shutdown, answered once it is applied) or unfencing (a
    /// heartbeat, answered likewise) the broker's registration at `broker_epoch`, and marks
    /// the change in flight so that no second one is proposed before it applies.
    fn propose_fencing(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        id: RequestId,
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
        fence: bool,
    ) {
        let settle = if fence {
            Settle::Shutdown {
                node_id,
                broker_epoch,
            }
        } else {
            Settle::Heartbeat {
                node_id,
                broker_epoch,
            }
        };
        let defaults = self.settings.topic_defaults;
        let entry = fencing_entry(
            self.projected(),
            &[(node_id, broker_epoch, fence)],
            &defaults,
        );
        if let Some(index) = self.propose_for(ctx, id, &entry, settle) {
            self.liveness.proposed(node_id, index);
        }
    }

    /// The leader's part of a broker's membership.
    fn lead_request(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        id: RequestId,
        request: LeaderRequest,
    ) {
        let now_ms = ctx.now.mono_ms;
        match request {
            LeaderRequest::RegisterBroker {
                node_id,
                incarnation_id,
                listeners,
                rack,
                clean_shutdown,
                displaced,
            } => {
                let known = self.image.broker(node_id);
                if let Some(broker) = known.filter(|b| b.incarnation_id == incarnation_id) {
                    // A retry of a registration already committed.
                    self.liveness.heard(node_id, now_ms);
                    let reply = QuorumReply::Registered {
                        broker_epoch: broker.epoch,
                    };
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                if displaced && self.liveness.heard_within_session(node_id, now_ms) {
                    // Kafka's DUPLICATE_BROKER_REGISTRATION, for a broker that another
                    // registration displaced: the process holding it was heard within the
                    // session, so this one waits (two processes configured with one node.id).
                    // A registration whose process stays silent gives way a session after it
                    // was made: one sent by a process that has since died and delivered late,
                    // which displaced the live broker (seed 1051). A new process is not held
                    // to it (Kafka holds it until the previous process's session ends): a
                    // restarted broker registers at once, fencing its previous incarnation.
                    // Not `heard`: the refused process's retries must not keep the holder's
                    // session alive.
                    let reply = QuorumReply::DuplicateRegistration;
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.liveness.heard(node_id, now_ms);
                let register = MetadataRecord::RegisterBroker {
                    node_id,
                    incarnation_id,
                    listeners,
                    rack,
                };
                let defaults = self.settings.topic_defaults;
                let projected = self.projected();
                let known = projected.broker(node_id).is_some();
                let entry = registration_entry(
                    projected,
                    register,
                    node_id,
                    (known, clean_shutdown),
                    &defaults,
                );
                let settle = Settle::Registered {
                    node_id,
                    incarnation_id,
                };
                self.propose_for(ctx, id, &entry, settle);
            }
            LeaderRequest::BrokerHeartbeat {
                node_id,
                broker_epoch,
                applied_index,
            } => {
                let known = self.image.broker(node_id);
                let Some(broker) = known.filter(|b| b.epoch == broker_epoch) else {
                    return ctx.reply(id, NodeMsg::QuorumReply(stale(known, broker_epoch)));
                };
                if !canary(Canary::HeartbeatsIgnored) {
                    self.liveness.heard(node_id, now_ms);
                }
                // Unfenced once it applied its own registration (Kafka: caught up with the
                // metadata log), one unfence at a time.
                let unfence = broker.fenced
                    && applied_index >= broker_epoch.0
                    && !self.liveness.changing(node_id);
                if !unfence {
                    let reply = QuorumReply::Heartbeat {
                        fenced: broker.fenced,
                    };
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                tracing::info!(broker = %node_id, %broker_epoch, "the broker caught up: unfencing");
                self.propose_fencing(ctx, id, node_id, broker_epoch, false);
            }
            LeaderRequest::ControlledShutdown {
                node_id,
                broker_epoch,
            } => {
                let known = self.image.broker(node_id);
                let Some(broker) = known.filter(|b| b.epoch == broker_epoch) else {
                    return ctx.reply(id, NodeMsg::QuorumReply(stale(known, broker_epoch)));
                };
                // Fenced with no unfence in flight: done. With one in flight, the fence is
                // proposed anyway and lands after it (answering now would let the unfence
                // bring the stopped broker back).
                if broker.fenced && !self.liveness.changing(node_id) {
                    return ctx.reply(id, NodeMsg::QuorumReply(QuorumReply::ShutdownReady));
                }
                tracing::info!(broker = %node_id, %broker_epoch, "controlled shutdown: fencing the broker");
                self.propose_fencing(ctx, id, node_id, broker_epoch, true);
            }
            LeaderRequest::AllocateProducerIds {
                node_id,
                broker_epoch,
                at_least,
            } => self.allocate_producer_ids(ctx, id, node_id, broker_epoch, at_least),
            LeaderRequest::CreateTopics {
                topics,
                validate_only,
            } => {
                let projected = self.projected();
                let plan = topic_admin::create_topics(projected, &topics, validate_only, ctx.rng);
                self.propose_topics(ctx, id, plan, TopicChange::Created);
            }
            LeaderRequest::DeleteTopics { topics } => {
                let plan = topic_admin::delete_topics(self.projected(), &topics);
                self.propose_topics(ctx, id, plan, TopicChange::Deleted);
            }
            LeaderRequest::CreatePartitions {
                topics,
                validate_only,
            } => {
                let projected = self.projected();
                let plan =
                    topic_admin::create_partitions(projected, &topics, validate_only, ctx.rng);
                self.propose_topics(ctx, id, plan, TopicChange::Grown);
            }
            LeaderRequest::AlterTopicConfigs {
                topics,
                validate_only,
            } => {
                let plan =
                    topic_admin::alter_topic_configs(self.projected(), &topics, validate_only);
                self.propose_topics(ctx, id, plan, TopicChange::Altered);
            }
            LeaderRequest::AlterBrokerConfigs {
                resources,
                validate_only,
            } => {
                let (records, outcomes) = broker_config::alter_broker_configs(
                    self.projected(),
                    &resources,
                    validate_only,
                );
                if records.is_empty() {
                    let reply = QuorumReply::BrokerConfigsAltered(outcomes);
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.propose_for(ctx, id, &records, Settle::BrokerConfigs(outcomes));
            }
            LeaderRequest::AlterScramCredentials {
                deletions,
                upsertions,
            } => {
                let (records, results) =
                    scram::alter_credentials(self.projected(), &deletions, &upsertions);
                if records.is_empty() {
                    let reply = QuorumReply::ScramCredentialsAltered { index: 0, results };
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.propose_for(ctx, id, &records, Settle::Scram(results));
            }
            LeaderRequest::AlterClientQuotas {
                entries,
                validate_only,
            } => {
                let (records, results) =
                    client_quotas::alter_client_quotas(self.projected(), &entries, validate_only);
                if records.is_empty() {
                    let reply = QuorumReply::ClientQuotasAltered { index: 0, results };
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.propose_for(ctx, id, &records, Settle::ClientQuotas(results));
            }
            LeaderRequest::CreateAcls { bindings } => {
                let (records, results) = acls::create_acls(self.projected(), &bindings, ctx.rng);
                if records.is_empty() {
                    let reply = QuorumReply::AclsCreated { index: 0, results };
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.propose_for(ctx, id, &records, Settle::AclsCreated(results));
            }
            LeaderRequest::DeleteAcls { filters } => {
                let (records, results) = acls::delete_acls(self.projected(), &filters);
                if records.is_empty() {
                    let reply = QuorumReply::AclsDeleted { index: 0, results };
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.propose_for(ctx, id, &records, Settle::AclsDeleted(results));
            }
            LeaderRequest::AlterPartition {
                node_id,
                broker_epoch,
                changes,
            } => {
                // Kafka's `validateBrokerEpoch`: the whole request, before any partition.
                let known = self.projected().broker(node_id);
                if known.filter(|b| b.epoch == broker_epoch).is_none() {
                    return ctx.reply(id, NodeMsg::QuorumReply(stale(known, broker_epoch)));
                }
                let plan = alter_partition::alter_partition(self.projected(), node_id, &changes);
                if plan.records.is_empty() {
                    let reply = QuorumReply::PartitionsAltered(plan.outcomes);
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                self.propose_for(ctx, id, &plan.records, Settle::Isr(plan.outcomes));
            }
            LeaderRequest::ElectLeaders {
                election_type,
                partitions,
            } => {
                let (records, outcomes) =
                    election::elect_leaders(self.projected(), election_type, partitions.as_deref());
                if records.is_empty() {
                    let reply = QuorumReply::LeadersElected(outcomes);
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                for outcome in outcomes.iter().filter(|o| o.result.is_ok()) {
                    tracing::info!(topic = %outcome.topic, partition = outcome.partition, ?election_type, "electing a partition leader on request");
                }
                self.propose_for(ctx, id, &records, Settle::Elected(outcomes));
            }
            LeaderRequest::AlterReassignments {
                reassignments,
                allow_replication_factor_change,
            } => {
                let plan = reassign::alter_reassignments(
                    self.projected(),
                    &reassignments,
                    allow_replication_factor_change,
                );
                if plan.records.is_empty() {
                    let reply = QuorumReply::Reassigned(plan.outcomes);
                    return ctx.reply(id, NodeMsg::QuorumReply(reply));
                }
                for outcome in plan.outcomes.iter().filter(|o| o.result.is_ok()) {
                    tracing::info!(topic = %outcome.topic, partition = outcome.partition, "reassigning a partition's replicas on request");
                }
                self.propose_for(ctx, id, &plan.records, Settle::Reassigned(plan.outcomes));
            }
            LeaderRequest::ListReassignments { partitions } => {
                // The committed state (Kafka's controller answers from its own).
                let ongoing = reassign::ongoing(&self.image, partitions.as_deref());
                ctx.reply(
                    id,
                    NodeMsg::QuorumReply(QuorumReply::Reassignments(ongoing)),
                );
            }
        }
    }

    /// Kafka's automatic preferred-leader election (`auto.leader.rebalance.enable`; KRaft's
    /// `maybeBalancePartitionLeaders`): every interval, each partition whose first assigned
    /// replica is in the ISR and unfenced but does not lead is handed back to it, at most
    /// [`BALANCE_ELECTIONS_MAX`] per entry (the rest at the next tick). The proposal's output,
    /// if it proposed.
    fn maybe_balance_leaders(&mut self, now_ms: u64) -> Option<NodeOut> {
        let interval_ms = self.settings.leader_balance_interval_ms?;
        let due = *self.next_balance_ms.get_or_insert(now_ms + interval_ms);
        if now_ms < due {
            return None;
        }
        let (mut records, _) =
            election::elect_leaders(self.projected(), ElectionType::Preferred, None);
        let more_left = records.len() > BALANCE_ELECTIONS_MAX;
        records.truncate(BALANCE_ELECTIONS_MAX);
        // The rest at a later tick (not this one: the proposal's output runs the tick again).
        let next_ms = if more_left {
            now_ms + 1
        } else {
            now_ms + interval_ms
        };
        self.next_balance_ms = Some(next_ms);
        if records.is_empty() {
            return None;
        }
        tracing::info!(
            partitions = records.len(),
            "moving partition leaderships back to their preferred replicas"
        );
        let (_, more) = self.propose_records(&records);
        Some(more)
    }

    /// Proposes a topic administration's records, answered once they are applied; with none
    /// (only validating, or every topic refused) answered now.
    fn propose_topics(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        id: RequestId,
        plan: topic_admin::Plan,
        change: TopicChange,
    ) {
        if plan.records.is_empty() {
            let reply = QuorumReply::TopicsChanged {
                index: 0,
                outcomes: plan.outcomes,
            };
            return ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
        let settle = Settle::Topics {
            change,
            outcomes: plan.outcomes,
        };
        self.propose_for(ctx, id, &plan.records, settle);
    }

    /// Proposes the broker's next block of producer ids (Kafka's `ProducerIdControlManager`):
    /// after every id handed out or in flight in this term, and at `at_least` or later.
    fn allocate_producer_ids(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, QuorumTimer>,
        id: RequestId,
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
        at_least: i64,
    ) {
        let known = self.image.broker(node_id);
        if known.filter(|b| b.epoch == broker_epoch).is_none() {
            return ctx.reply(id, NodeMsg::QuorumReply(stale(known, broker_epoch)));
        }
        // After every block applied or still in flight.
        let mut first_id = self.projected().next_producer_id().max(at_least);
        if canary(Canary::ProducerIdsReused) {
            // Planted: every block starts where the applied image's does, in flight or not.
            first_id = self.image.next_producer_id().max(at_least);
        }
        let count = PRODUCER_ID_BLOCK_SIZE as i32;
        if first_id.checked_add(i64::from(count)).is_none() {
            let reply = QuorumReply::Failed("producer ids are exhausted".into());
            return ctx.reply(id, NodeMsg::QuorumReply(reply));
        }
        let entry = [MetadataRecord::AllocateProducerIds {
            node_id,
            broker_epoch,
            first_id,
            count,
        }];
        self.propose_for(ctx, id, &entry, Settle::ProducerIds { first_id, count });
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
                    match msg {
                        NodeMsg::QuorumReply(
                            reply @ (QuorumReply::TopicsChanged { index, .. }
                            | QuorumReply::ScramCredentialsAltered { index, .. }
                            | QuorumReply::ClientQuotasAltered { index, .. }
                            | QuorumReply::AclsCreated { index, .. }
                            | QuorumReply::AclsDeleted { index, .. }),
                        ) if index > self.image.applied_index() => {
                            if self.held.len() == HELD_MAX {
                                let (_, oldest, reply) = self.held.remove(0);
                                ctx.reply(oldest, NodeMsg::QuorumReply(reply));
                            }
                            self.held.push((index, id, reply))
                        }
                        msg => ctx.reply(id, msg),
                    }
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
            Input::Request {
                id,
                msg: NodeMsg::Quorum(QuorumRequest::DescribeTopics),
                ..
            } => {
                let reply = self.describe_topics();
                return ctx.reply(id, NodeMsg::QuorumReply(reply));
            }
            Input::Request {
                id,
                msg: NodeMsg::Quorum(QuorumRequest::ToLeader { request, forwarded }),
                ..
            } => return self.to_leader(ctx, id, request, forwarded),
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

/// Why an entry was not appended.
enum Refused {
    /// This voter does not lead: the leader it knows.
    NotLeader(Option<NodeId>),
    /// The entry's bytes: more than the log loads back.
    TooLarge(usize),
}

/// The leader's projected image (see `QuorumActor::projected`).
struct Projected {
    term: u64,
    /// Built on an applied image that holds the term's first entry.
    current: bool,
    image: MetadataImage,
}

/// What a proposal's requester is answered once its entry is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Settle {
    /// [`QuorumReply::Committed`] (a Propose).
    Committed,
    /// The registration's epoch, if this incarnation is the one registered.
    Registered {
        node_id: NodeId,
        incarnation_id: [u8; 16],
    },
    /// The heartbeat's answer, as the registration is now.
    Heartbeat {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
    },
    /// Ready once the registration is fenced.
    Shutdown {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
    },
    /// The block is the broker's.
    ProducerIds { first_id: i64, count: i32 },
    /// A record of the entry did not apply (another change got there first): the requester
    /// asks again.
    Skipped,
    /// A topic administration's outcomes as planned, each checked against the image once the
    /// entry applied.
    Topics {
        change: TopicChange,
        outcomes: Vec<Result<TopicView, Refusal>>,
    },
    /// An AlterPartition's outcomes as planned, each checked against the image once the entry
    /// applied.
    Isr(Vec<IsrOutcome>),
    /// An ElectLeaders' outcomes as planned (the entry applied whole, or it is `Skipped`).
    Elected(Vec<ElectionOutcome>),
    /// An AlterPartitionReassignments' outcomes as planned, likewise.
    Reassigned(Vec<ReassignOutcome>),
    /// An Incremental/AlterConfigs of broker resources' outcomes as planned, likewise.
    BrokerConfigs(Vec<Result<(), Refusal>>),
    /// An AlterUserScramCredentials' results as planned, likewise.
    Scram(Vec<(String, Result<(), Refusal>)>),
    /// An AlterClientQuotas' outcomes as planned, likewise.
    ClientQuotas(crate::messages::quotas::QuotaAlterations),
    /// A CreateAcls' outcomes as planned.
    AclsCreated(crate::messages::acls::AclCreations),
    /// A DeleteAcls' outcomes as planned.
    AclsDeleted(crate::messages::acls::AclDeletions),
}

/// Which topic administration a [`Settle::Topics`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TopicChange {
    Created,
    Deleted,
    Grown,
    Altered,
}

impl TopicChange {
    /// A planned topic as the applied image has it, or why the change did not apply.
    fn settled(self, planned: TopicView, image: &MetadataImage) -> Result<TopicView, Refusal> {
        let now = image.topic(&planned.id);
        let applied = match self {
            TopicChange::Deleted => {
                return if now.is_none() {
                    Ok(planned)
                } else {
                    Err(raced())
                }
            }
            TopicChange::Grown => now.filter(|t| t.partitions.len() >= planned.partitions.len()),
            TopicChange::Created | TopicChange::Altered => now,
        };
        applied.map(topic_admin::view).ok_or_else(raced)
    }
}

/// Kafka's leader election count, at the active controller: every committed record that gives
/// a partition a leader (a leaderless change is no election).
fn count_elections(records: &[MetadataRecord]) {
    let elected = (records.iter())
        .filter(|record| {
            matches!(
                record,
                MetadataRecord::ChangePartition {
                    leader: Some(Some(_)),
                    ..
                } | MetadataRecord::ReassignPartition {
                    leader: Some(Some(_)),
                    ..
                }
            )
        })
        .count();
    if elected > 0 {
        crate::metrics::count(crate::metrics::LEADER_ELECTIONS, elected as u64);
    }
}

/// A planned topic change that did not apply: another change to the metadata got there first.
fn raced() -> Refusal {
    Refusal::new(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        "a concurrent change to the topic's metadata got there first; try again",
    )
}

impl Settle {
    fn reply(self, index: u64, image: &MetadataImage) -> QuorumReply {
        match self {
            Settle::Committed => QuorumReply::Committed { index },
            Settle::Registered {
                node_id,
                incarnation_id,
            } => match image.broker(node_id) {
                Some(b) if b.incarnation_id == incarnation_id => QuorumReply::Registered {
                    broker_epoch: b.epoch,
                },
                _ => QuorumReply::StaleBrokerEpoch,
            },
            Settle::Heartbeat {
                node_id,
                broker_epoch,
            } => match image.broker(node_id).filter(|b| b.epoch == broker_epoch) {
                Some(b) => QuorumReply::Heartbeat { fenced: b.fenced },
                None => QuorumReply::StaleBrokerEpoch,
            },
            Settle::Shutdown {
                node_id,
                broker_epoch,
            } => match image.broker(node_id).filter(|b| b.epoch == broker_epoch) {
                Some(b) if b.fenced => QuorumReply::ShutdownReady,
                Some(_) => QuorumReply::Heartbeat { fenced: false },
                None => QuorumReply::StaleBrokerEpoch,
            },
            Settle::ProducerIds { first_id, count } => QuorumReply::ProducerIds { first_id, count },
            Settle::Topics { change, outcomes } => QuorumReply::TopicsChanged {
                index,
                outcomes: (outcomes.into_iter())
                    .map(|outcome| outcome.and_then(|planned| change.settled(planned, image)))
                    .collect(),
            },
            Settle::Isr(outcomes) => QuorumReply::PartitionsAltered(
                (outcomes.into_iter())
                    .map(|outcome| settled_isr(outcome, image))
                    .collect(),
            ),
            Settle::Elected(outcomes) => QuorumReply::LeadersElected(outcomes),
            Settle::Reassigned(outcomes) => QuorumReply::Reassigned(outcomes),
            Settle::BrokerConfigs(outcomes) => QuorumReply::BrokerConfigsAltered(outcomes),
            Settle::Scram(results) => QuorumReply::ScramCredentialsAltered { index, results },
            Settle::ClientQuotas(results) => QuorumReply::ClientQuotasAltered { index, results },
            Settle::AclsCreated(results) => QuorumReply::AclsCreated { index, results },
            Settle::AclsDeleted(results) => QuorumReply::AclsDeleted { index, results },
            Settle::Skipped => QuorumReply::Failed(format!(
                "entry {index} changed nothing: the metadata moved on; ask again"
            )),
        }
    }
}

/// The topics actor's view of `image` (what [`TopicsRequest::MetadataApplied`] carries).
pub fn applied_topics(image: &MetadataImage) -> AppliedTopics {
    AppliedTopics {
        index: image.applied_index(),
        live_brokers: image.live_brokers().len() as u32,
        topics: (image.topics())
            .map(|t| (t.name.clone(), TopicMeta::from_view(&topic_admin::view(t))))
            .collect(),
        deleted_topic_ids: image.deleted_topic_ids().copied().collect(),
        brokers: (image.brokers())
            .map(|(id, b)| {
                let status = BrokerStatus {
                    epoch: b.epoch,
                    fenced: b.fenced,
                };
                (id, status)
            })
            .collect(),
        broker_configs: image.all_broker_configs().clone(),
        scram_credentials: image.scram_credentials().clone(),
        acls: image.acls().clone(),
    }
}

/// A planned ISR change as the applied image has it: the partition at the planned partition
/// epoch and ISR, or INVALID_UPDATE_VERSION (another change got there first, which the leader
/// learns from the metadata).
fn settled_isr(mut outcome: IsrOutcome, image: &MetadataImage) -> IsrOutcome {
    if let Ok(planned) = &outcome.result {
        let now =
            (image.topic(&outcome.topic_id)).and_then(|t| t.partitions.get(&outcome.partition));
        let applied = now.is_some_and(|p| {
            p.partition_epoch == planned.partition_epoch
                && p.leader_epoch == planned.leader_epoch
                && p.isr == planned.isr
        });
        if !applied {
            outcome.result = Err(ErrorCode::INVALID_UPDATE_VERSION);
        }
    }
    outcome
}

/// The answer to a heartbeat or shutdown whose epoch is not the registration's: displaced if
/// a later registration (another process with this node id) took its place, else stale.
fn stale(
    known: Option<&super::metadata::BrokerRegistration>,
    broker_epoch: BrokerEpoch,
) -> QuorumReply {
    match known {
        Some(current) if current.epoch > broker_epoch => QuorumReply::Displaced,
        _ => QuorumReply::StaleBrokerEpoch,
    }
}

/// One entry that fences or unfences each broker of `changes` (node, epoch, fence?) in turn,
/// with the leader and ISR changes each calls for ([`election`]) worked out on `image` as the
/// changes before it leave it: a fenced broker's partitions elect another leader (or go
/// offline), an unfenced one lets offline partitions elect one again.
pub(crate) fn fencing_entry(
    image: &MetadataImage,
    changes: &[(NodeId, BrokerEpoch, bool)],
    defaults: &TopicDefaults,
) -> Vec<MetadataRecord> {
    let mut scratch = image.clone();
    let index = scratch.applied_index() + 1;
    let mut entry = Vec::new();
    for &(node_id, broker_epoch, fence) in changes {
        let record = if fence {
            MetadataRecord::FenceBroker {
                node_id,
                broker_epoch,
            }
        } else {
            MetadataRecord::UnfenceBroker {
                node_id,
                broker_epoch,
            }
        };
        // `None`: a stale epoch, nothing to elect for.
        entry.extend(
            with_elections(&mut scratch, index, record, (node_id, fence), defaults)
                .unwrap_or_default(),
        );
    }
    entry
}

/// `record` (a change of broker `node_id`) applied to `scratch` at `index`, followed by the
/// leader and ISR changes it calls for (applied too): those of a fence when `fenced`, of an
/// unfence otherwise. `None` when the record does not apply.
fn with_elections(
    scratch: &mut MetadataImage,
    index: u64,
    record: MetadataRecord,
    (node_id, fenced): (NodeId, bool),
    defaults: &TopicDefaults,
) -> Option<Vec<MetadataRecord>> {
    scratch.apply(index, &record).ok()?;
    let unclean_default = defaults.unclean_leader_election;
    let elected = if fenced {
        election::on_fence(scratch, node_id, unclean_default)
    } else {
        election::on_unfence(scratch, node_id, unclean_default)
    };
    log_election(scratch, node_id, &elected);
    let mut records = vec![record];
    for record in elected.records {
        let _ = scratch.apply(index, &record);
        records.push(record);
    }
    Some(records)
}

/// Says which partitions a broker's fence or unfence left offline or elected uncleanly.
fn log_election(image: &MetadataImage, node_id: NodeId, elected: &election::Election) {
    for (topic, partition) in &elected.offline {
        let topic = image.topic(topic).map(|t| t.name.clone());
        tracing::warn!(broker = %node_id, ?topic, partition, "no in-sync replica left to lead: the partition is offline");
    }
    for (topic, partition) in &elected.unclean {
        let topic = image.topic(topic).map(|t| t.name.clone());
        tracing::warn!(broker = %node_id, ?topic, partition, "UNCLEAN leader election: records may be lost");
    }
}

/// A broker's registration. A broker already registered under another incarnation restarted
/// (after a crash, perhaps having lost what it had not synced): its new registration starts
/// fenced, and the same entry takes its leaderships away as a fence does, so it leads again
/// only once unfenced, in a new leader epoch (an epoch names one leadership, never one that
/// outlived a crash).
pub(crate) fn registration_entry(
    image: &MetadataImage,
    register: MetadataRecord,
    node_id: NodeId,
    (known, clean_shutdown): (bool, bool),
    defaults: &TopicDefaults,
) -> Vec<MetadataRecord> {
    let mut scratch = image.clone();
    let index = scratch.applied_index() + 1;
    let mut entry = match known {
        true => with_elections(
            &mut scratch,
            index,
            register.clone(),
            (node_id, true),
            defaults,
        ),
        false => scratch
            .apply(index, &register)
            .ok()
            .map(|()| vec![register.clone()]),
    };
    let Some(records) = entry.take() else {
        return vec![register];
    };
    if clean_shutdown {
        return records;
    }
    // It may have lost what it had not synced: no longer an eligible leader (KIP-966). The
    // fence's own ISR changes first get the ELR they leave (it may take the broker in: it just
    // left an ISR), so that the unclean restart takes it out again.
    let records = eligible::follow(image, records, defaults);
    let mut scratch = image.clone();
    let _ = scratch.apply_entry(index, &records);
    let min_isr = defaults.min_isr_in(&scratch);
    let elected = election::on_unclean_restart(&scratch, node_id, min_isr);
    log_election(&scratch, node_id, &elected);
    records.into_iter().chain(elected.records).collect()
}

/// The most preferred-leader elections one balancing entry carries (Kafka's
/// `maxElectionsPerImbalance` is 1,000; an entry stays well under its size bound with this).
const BALANCE_ELECTIONS_MAX: usize = 200;

/// Whether a leading voter has applied its own term's first entry, and so everything earlier
/// leaders committed: only then does its image answer for the cluster.
fn current_leader(node: &RaftNode, image: &MetadataImage) -> bool {
    let core = node.core();
    core.term_at(image.applied_index()) == Some(core.term())
}
