//! Topic administration, one operation at a time, inside the topics actor.
//!
//! The metadata log decides what topics exist, where their replicas are and which configs
//! they have: an administration works out locally what only this broker knows (its defaults
//! for `-1` counts, its check of config values, the internal topic's settings), asks the
//! controller quorum's leader through its node's voter ([`Next::Propose`], a
//! [`LeaderRequest`]), and once the change is applied here (the voter answers only then)
//! opens, deletes or reconfigures this node's own replicas of it, one partition request at a
//! time ([`super::sweep`]). Other brokers' replicas follow by reconciliation
//! ([`super::reconcile`]), which runs in the same queue.
//!
//! [`Admin`] runs one operation ([`AdminOp`]) from its first step to its answer before it
//! starts the next: the others wait in its queue. So a delete racing a re-create of the same
//! topic cannot interleave here, by construction (it once did, when the gateway ran these
//! steps itself: the new topic was left without logs).
//!
//! It is a state machine with no runtime: it asks with [`Ctx::call`] and continues when the
//! answer is fed back ([`Admin::answered`]; a lost call, a `CallFailure`, counts as a failed
//! partition or an unreachable quorum). A quorum that has no leader for the moment (an
//! election, a voter reopening its files) is asked again after [`RETRY_PAUSE_MS`] until
//! [`QUORUM_DEADLINE_MS`] passed, as Kafka's forwarding retries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::admin_jobs::{AlterConfigs, CreatePartitions, CreateTopics, DeleteTopics};
use super::quorum::LEADER_APPLYING;
use super::reconcile::{OpenAll, Reconcile};
use super::sweep::Answer;
use crate::actor::{Addr, CallId, Ctx, RequestId};
use crate::messages::quorum::{LeaderRequest, QuorumReply, TopicView};
use crate::messages::{
    AlterConfigsRequest, AppliedTopics, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteTopicsRequest, InternalTopic, NodeMsg, Refusal, TopicMeta, TopicsReply, PARTITIONS,
    QUORUM,
};
use crate::storage::disk_full;
use crate::storage::log::LogConfig;
use crate::types::{ErrorCode, NodeId};

/// How long one call to the node's voter may take (it forwards to the leader and waits until
/// it applied the change itself).
const QUORUM_CALL_TIMEOUT_MS: u64 = 5_000;
/// The pause before asking the quorum again when it had no leader to decide.
pub const RETRY_PAUSE_MS: u64 = 250;
/// How long an administration keeps asking a quorum without a leader before it answers
/// REQUEST_TIMED_OUT (or the voter's failure).
pub const QUORUM_DEADLINE_MS: u64 = 15_000;

/// The topics actor's only timer: ask the quorum again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TopicsTimer {
    Retry,
}

/// What topic administration reads of the broker's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminSettings {
    /// `node.id`: which replicas are this node's.
    pub node_id: NodeId,
    /// The broker's defaults for every partition log, on which topic overrides are resolved.
    pub log: LogConfig,
    /// `num.partitions`: partitions of an auto-created topic.
    pub num_partitions: u32,
    /// `default.replication.factor`: of an auto-created topic.
    pub default_replication_factor: u16,
    /// How `__consumer_offsets` is created (`offsets.topic.*`), by `EnsureInternal`.
    pub offsets_topic: InternalTopicSpec,
    /// How `__transaction_state` is created (`transaction.state.log.*`), by `EnsureInternal`.
    pub txn_state_topic: InternalTopicSpec,
}

/// The settings an internal topic is created with, instead of the broker defaults an
/// auto-created topic gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalTopicSpec {
    pub partitions: i32,
    /// As configured; creation takes at most the live brokers there are (as Kafka does).
    pub replication_factor: i16,
    /// Topic config overrides, as a client's CreateTopics would give them (a
    /// `min.insync.replicas` above the replication factor the topic gets is lowered to it).
    pub configs: BTreeMap<String, String>,
}

/// One topic administration, as the gateway asked for it (or the node itself).
#[derive(Debug)]
pub enum AdminOp {
    /// The whole request: its topics are created in order, each answered on its own.
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    CreatePartitions(CreatePartitionsRequest),
    /// Incremental or legacy AlterConfigs: the new overrides are worked out from the topic's
    /// overrides as they are when the operation runs (after every operation queued before it).
    AlterConfigs(AlterConfigsRequest),
    /// Metadata named an unknown topic: create it with the broker defaults (an internal
    /// topic's name with its own settings, as [`AdminOp::EnsureInternal`] does).
    AutoCreate(String),
    /// The broker needs an internal topic: create it with its settings
    /// ([`AdminSettings::offsets_topic`], [`AdminSettings::txn_state_topic`]); one that
    /// exists already is the answer.
    EnsureInternal(InternalTopic),
    /// Start-up: open (recover) this node's replica of every partition the metadata has.
    OpenAll,
    /// The metadata changed: bring this node's logs in line (no requester).
    Reconcile,
}

/// What the topics actor knows of topics: the metadata as its voter applied it, and what its
/// partition logs were last brought in line with.
#[derive(Default)]
pub struct TopicsState {
    pub applied: AppliedTopics,
    /// `None` until start-up opened the logs ([`AdminOp::OpenAll`]): no reconciliation runs
    /// before, so a log is never deleted on what a voter still catching up applied.
    pub reconciled: Option<BTreeMap<String, TopicMeta>>,
    /// The default `min.insync.replicas` the reconciled logs run with: a reconciliation that
    /// finds another (the cluster-wide one changed) reconfigures the logs of every topic.
    /// `None` when it is not known that every log has it (a reconciliation failed for some
    /// topic): the next one reconfigures them all.
    pub reconciled_min_isr: Option<u32>,
    /// The deleted topic ids whose stray directories were looked for ([`super::strays`]);
    /// only ids the metadata still lists are kept.
    pub strays_swept: BTreeSet<[u8; 16]>,
}

/// A proposal's outcome as a job sees it: the entry's index and each topic's outcome, or why
/// the quorum did not decide.
pub type Proposed = Result<(u64, Vec<Result<TopicView, Refusal>>), Refusal>;

/// What a parked job continues with: the outcome of what it waited for.
pub enum Resume {
    Answer(Answer),
    Proposed(Proposed),
}

impl Resume {
    /// The partitions answer (what a job asking the partitions actor waits for).
    pub fn answer(self) -> Option<Answer> {
        match self {
            Resume::Answer(answer) => Some(answer),
            Resume::Proposed(_) => None,
        }
    }

    /// The quorum's outcome (what a proposing job waits for); anything else is no outcome.
    pub fn proposed(resume: Option<Self>) -> Proposed {
        match resume {
            Some(Resume::Proposed(outcome)) => outcome,
            _ => Err(Refusal::new(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                "the topic change has no outcome from the controller",
            )),
        }
    }
}

/// What a job does next.
pub enum Next {
    /// Ask the partitions actor; the job continues with the answer.
    Call(NodeMsg),
    /// Ask the quorum's leader; the job continues with its outcome.
    Propose(LeaderRequest, OnFullDisk),
    /// The operation is over: answer its request (if it has one).
    Done(TopicsReply),
}

/// Whether a voter that failed for want of space is asked again or answered at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFullDisk {
    /// The job decides (a deletion frees the topic's own logs first).
    Answer,
    /// Keep asking until the deadline (the voter reopens once there is space).
    Retry,
}

/// What an operation needs besides itself.
pub struct World<'a> {
    pub topics: &'a mut TopicsState,
    pub settings: &'a AdminSettings,
}

impl World<'_> {
    pub fn view(&self) -> &BTreeMap<String, TopicMeta> {
        &self.topics.applied.topics
    }

    pub fn me(&self) -> NodeId {
        self.settings.node_id
    }

    /// This node's logs of an earlier topic of this name (another id) not deleted yet: the
    /// partitions to delete before the new topic's logs open in the same directories (the
    /// deletion's reconciliation may still wait in the queue behind the creation).
    pub fn stale_logs(&self, name: &str, id: [u8; 16]) -> Option<Vec<i32>> {
        let old = self.topics.reconciled.as_ref()?.get(name)?;
        (old.id != id).then(|| old.replicas_on(self.me()))
    }

    /// An administration of a topic that stays (configs, more partitions) brought this node's
    /// logs of `name` in line with `meta`'s configs and, when `with_added`, opened the
    /// partitions `meta` has beyond the reconciled ones. Only that is taken as reconciled: the
    /// reconciled assignment of the other partitions stays, so a reassignment applied
    /// meanwhile is still the reconciliation's to carry out (found by the simulator, seed 321:
    /// a config change recorded a move away as done, the moved replica's log was never
    /// deleted, and it followed the new leader as a replica it no longer was). Nothing is
    /// taken for a topic not reconciled here under `meta`'s id.
    pub fn logs_follow_kept(&mut self, name: &str, meta: &TopicMeta, with_added: bool) {
        let Some(reconciled) = &mut self.topics.reconciled else {
            return;
        };
        let Some(old) = reconciled.get_mut(name).filter(|old| old.id == meta.id) else {
            return;
        };
        old.configs = meta.configs.clone();
        if with_added {
            let added = meta.assignment.iter().skip(old.assignment.len()).cloned();
            old.assignment.extend(added.collect::<Vec<_>>());
            old.partitions = old.assignment.len() as i32;
        }
    }

    /// This node's partitions of `meta`'s topic whose logs are open here as reconciled (before
    /// start-up reconciled anything: those `meta` places here).
    pub fn open_replicas(&self, name: &str, meta: &TopicMeta) -> Vec<i32> {
        match &self.topics.reconciled {
            None => meta.replicas_on(self.me()),
            Some(reconciled) => (reconciled.get(name))
                .filter(|old| old.id == meta.id)
                .map(|old| old.replicas_on(self.me()))
                .unwrap_or_default(),
        }
    }

    /// An administration brought this node's logs of `name` in line with `meta` (`None`: it
    /// deleted them): a reconciliation after it must not redo that, nor undo it (a topic
    /// deleted and created again under its name shares its log directories).
    pub fn logs_follow(&mut self, name: &str, meta: Option<&TopicMeta>) {
        if let Some(reconciled) = &mut self.topics.reconciled {
            let old = match meta {
                Some(meta) => reconciled.insert(name.to_owned(), meta.clone()),
                None => reconciled.remove(name),
            };
            // An earlier topic's logs it deleted are no strays to look for.
            if let Some(old) = old.filter(|old| meta.is_none_or(|new| new.id != old.id)) {
                self.topics.strays_swept.insert(old.id);
            }
        }
    }
}

/// The operations of one topics actor: the one running and the ones waiting for it.
#[derive(Default)]
pub struct Admin {
    queue: VecDeque<(Option<RequestId>, AdminOp)>,
    running: Option<Running>,
    /// A reconciliation waits in the queue (one is enough: it reads the latest view).
    reconcile_queued: bool,
}

struct Running {
    /// Who is answered (none for a reconciliation).
    id: Option<RequestId>,
    job: Job,
    waiting: Option<Waiting>,
    /// The proposal being asked, while the job waits for it.
    proposal: Option<Proposal>,
}

struct Proposal {
    request: LeaderRequest,
    on_full_disk: OnFullDisk,
    /// When asking again stops.
    deadline_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// The partitions actor's answer to this call.
    Partitions(CallId),
    /// The voter's answer to this call.
    Quorum(CallId),
    /// The pause before asking the quorum again.
    Pause,
}

type AdminCtx<'c, 'a> = &'c mut Ctx<'a, NodeMsg, TopicsTimer>;

impl Admin {
    /// Queues `op` (request `id`), and starts it if nothing else runs.
    pub fn submit(
        &mut self,
        ctx: AdminCtx<'_, '_>,
        topics: &mut TopicsState,
        settings: &AdminSettings,
        id: Option<RequestId>,
        op: AdminOp,
    ) {
        if matches!(op, AdminOp::Reconcile) {
            if self.reconcile_queued {
                return;
            }
            self.reconcile_queued = true;
        }
        self.queue.push_back((id, op));
        self.drive(ctx, topics, settings, None);
    }

    /// The answer to `call`: the running operation continues with it (and, once it is over,
    /// the next one starts). An answer to no call of the running operation is ignored.
    pub fn answered(
        &mut self,
        ctx: AdminCtx<'_, '_>,
        topics: &mut TopicsState,
        settings: &AdminSettings,
        call: CallId,
        answer: Answer,
    ) {
        let Some(running) = &mut self.running else {
            return;
        };
        let resume = match running.waiting {
            Some(Waiting::Partitions(c)) if c == call => Resume::Answer(answer),
            Some(Waiting::Quorum(c)) if c == call => {
                match quorum_outcome(answer, running.proposal.as_ref(), ctx.now.mono_ms) {
                    Some(outcome) => Resume::Proposed(outcome),
                    None => {
                        running.waiting = Some(Waiting::Pause);
                        return ctx.set_timer(TopicsTimer::Retry, RETRY_PAUSE_MS);
                    }
                }
            }
            _ => return,
        };
        running.waiting = None;
        if matches!(resume, Resume::Proposed(_)) {
            running.proposal = None;
        }
        self.drive(ctx, topics, settings, Some(resume));
    }

    /// The pause before asking the quorum again is over.
    pub fn retry(&mut self, ctx: AdminCtx<'_, '_>) {
        let Some(running) = &mut self.running else {
            return;
        };
        if running.waiting != Some(Waiting::Pause) {
            return;
        }
        let Some(proposal) = &running.proposal else {
            return;
        };
        let call = ask_quorum(ctx, proposal.request.clone());
        running.waiting = Some(Waiting::Quorum(call));
    }

    /// Operations not finished (the running one included).
    pub fn pending(&self) -> usize {
        self.queue.len() + usize::from(self.running.is_some())
    }

    /// Runs operations until one waits for an answer or none is left.
    fn drive(
        &mut self,
        ctx: AdminCtx<'_, '_>,
        topics: &mut TopicsState,
        settings: &AdminSettings,
        mut resume: Option<Resume>,
    ) {
        loop {
            if self.running.is_none() {
                let Some((id, op)) = self.queue.pop_front() else {
                    return;
                };
                if matches!(op, AdminOp::Reconcile) {
                    self.reconcile_queued = false;
                }
                let world = World { topics, settings };
                self.running = Some(Running {
                    id,
                    job: Job::start(op, &world),
                    waiting: None,
                    proposal: None,
                });
            }
            let running = self.running.as_mut().expect("set above");
            if running.waiting.is_some() && resume.is_none() {
                return; // the running operation waits
            }
            let mut world = World { topics, settings };
            match running.job.step(&mut world, resume.take()) {
                Next::Call(msg) => {
                    let to = Addr {
                        node: ctx.me.node,
                        actor: PARTITIONS,
                    };
                    let call = ctx.call(to, msg, crate::limits::PARTITION_ADMIN_CALL_TIMEOUT_MS);
                    running.waiting = Some(Waiting::Partitions(call));
                    return;
                }
                Next::Propose(request, on_full_disk) => {
                    let call = ask_quorum(ctx, request.clone());
                    running.waiting = Some(Waiting::Quorum(call));
                    running.proposal = Some(Proposal {
                        request,
                        on_full_disk,
                        deadline_ms: ctx.now.mono_ms + QUORUM_DEADLINE_MS,
                    });
                    return;
                }
                Next::Done(reply) => {
                    let id = running.id;
                    self.running = None;
                    if let Some(id) = id {
                        ctx.reply(id, NodeMsg::TopicsReply(reply));
                    }
                }
            }
        }
    }
}

fn ask_quorum(ctx: AdminCtx<'_, '_>, request: LeaderRequest) -> CallId {
    let to = Addr {
        node: ctx.me.node,
        actor: QUORUM,
    };
    ctx.call(to, request.to_own_voter(), QUORUM_CALL_TIMEOUT_MS)
}

/// The voter's answer as the job's outcome, or `None`: ask again after a pause (no leader to
/// decide yet, and the deadline has not passed).
fn quorum_outcome(answer: Answer, proposal: Option<&Proposal>, now_ms: u64) -> Option<Proposed> {
    let retry_until = proposal.map_or(0, |p| p.deadline_ms);
    let on_full_disk = proposal.map_or(OnFullDisk::Answer, |p| p.on_full_disk);
    let refusal = match answer {
        Ok(NodeMsg::QuorumReply(QuorumReply::TopicsChanged { index, outcomes })) => {
            return Some(Ok((index, outcomes)))
        }
        Ok(NodeMsg::QuorumReply(QuorumReply::NotLeader { .. })) => Refusal::new(
            ErrorCode::REQUEST_TIMED_OUT,
            "the controller quorum has no leader to decide the change",
        ),
        Ok(NodeMsg::QuorumReply(QuorumReply::Failed(why))) if why == LEADER_APPLYING => {
            Refusal::new(
                ErrorCode::REQUEST_TIMED_OUT,
                "the controller quorum's new leader is still applying its log",
            )
        }
        Ok(NodeMsg::QuorumReply(QuorumReply::Failed(why))) => {
            let refusal = Refusal::new(
                ErrorCode::KAFKA_STORAGE_ERROR,
                format!("the controller quorum's voter cannot serve: {why}"),
            );
            if disk_full::is_storage_full_message(&why) && on_full_disk == OnFullDisk::Answer {
                return Some(Err(refusal));
            }
            refusal
        }
        Ok(other) => {
            return Some(Err(Refusal::new(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                format!("the controller answered {other:?}"),
            )))
        }
        Err(why) => Refusal::new(
            ErrorCode::REQUEST_TIMED_OUT,
            format!("the controller quorum did not answer ({why:?})"),
        ),
    };
    (now_ms >= retry_until).then_some(Err(refusal))
}

enum Job {
    Create(CreateTopics),
    AutoCreate(CreateTopics),
    Delete(DeleteTopics),
    Grow(CreatePartitions),
    Alter(AlterConfigs),
    OpenAll(OpenAll),
    Reconcile(Reconcile),
}

impl Job {
    /// The job of `op`, reading the topics as they are now (after every earlier operation).
    fn start(op: AdminOp, world: &World<'_>) -> Self {
        match op {
            AdminOp::CreateTopics(request) => {
                Job::Create(CreateTopics::new(request.topics, request.validate_only))
            }
            AdminOp::AutoCreate(name) => match InternalTopic::named(&name) {
                Some(topic) => Job::AutoCreate(CreateTopics::internal(world, topic)),
                None => Job::AutoCreate(CreateTopics::auto(name)),
            },
            AdminOp::EnsureInternal(topic) => Job::Create(CreateTopics::internal(world, topic)),
            AdminOp::DeleteTopics(request) => Job::Delete(DeleteTopics::new(request, world)),
            AdminOp::CreatePartitions(request) => Job::Grow(CreatePartitions::new(request, world)),
            AdminOp::AlterConfigs(request) => Job::Alter(AlterConfigs::new(request)),
            AdminOp::OpenAll => Job::OpenAll(OpenAll::new(world)),
            AdminOp::Reconcile => Job::Reconcile(Reconcile::new(world)),
        }
    }

    fn step(&mut self, world: &mut World<'_>, resume: Option<Resume>) -> Next {
        match self {
            Job::Create(job) => job.step(world, resume),
            Job::AutoCreate(job) => match job.step(world, resume) {
                Next::Done(TopicsReply::Created(mut done)) => {
                    Next::Done(TopicsReply::AutoCreated(done.pop().and_then(Result::ok)))
                }
                next => next,
            },
            Job::Delete(job) => job.step(world, resume),
            Job::Grow(job) => job.step(world, resume),
            Job::Alter(job) => job.step(world, resume),
            Job::OpenAll(job) => job.step(world, resume.and_then(Resume::answer)),
            Job::Reconcile(job) => job.step(world, resume.and_then(Resume::answer)),
        }
    }
}

/// Clients may not create, delete or grow an internal topic (`__consumer_offsets`,
/// `__transaction_state`): the broker creates it with its own settings, and its partition
/// count places every group or transactional id (Kafka refuses the same).
pub fn internal_refusal(name: &str, action: &str) -> Option<Refusal> {
    InternalTopic::named(name).map(|_| {
        Refusal::new(
            ErrorCode::INVALID_REQUEST,
            format!(
                "topic '{name}' is internal: the broker creates it, a client may not {action} it"
            ),
        )
    })
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
