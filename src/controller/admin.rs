//! Topic administration, one operation at a time, inside the topics actor.
//!
//! An administration changes the registry and then the partition logs in several steps
//! (register, then open every log; or unregister, then delete every log), each log a request to
//! the partitions actor. [`Admin`] runs one operation ([`AdminOp`]) from its validation to its
//! last partition answer before it starts the next: the others wait in its queue. So a delete
//! racing a re-create of the same topic cannot interleave, by construction (it once did, when
//! the gateway ran these steps itself: the new topic was left without logs).
//!
//! It is a state machine with no runtime: it stages a change of the [`TopicStore`] and hands
//! its write to the host ([`Ctx::persist`], token [`RegistryWrite`]), asks the partitions actor
//! with [`Ctx::call`], and continues when the outcome is fed back: the write's completion
//! ([`Admin::written`]: committed, or dropped and refused with KAFKA_STORAGE_ERROR) or the
//! partitions answer ([`Answer`]; a lost call, [`CallFailure`], counts as a failed partition).
//! So no handler waits for a disk, and nothing is answered (nor any log opened) before the
//! registry change it rests on is durable.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::rngs::SmallRng;

use super::config_ops::{apply_ops, replacement};
use super::store::TopicStore;
use super::topic_config;
use super::topics::check_growth;
use crate::actor::client::WrongReply;
use crate::actor::{Addr, CallFailure, CallId, Ctx, NoTimer, RequestId};
use crate::limits::{PARTITIONS_PER_REQUEST_MAX, PARTITION_ADMIN_CALL_TIMEOUT_MS};
use crate::messages::{
    AlterConfigsRequest, ConfigChange, CreatePartitionsRequest, CreateTopicsRequest,
    DeletePartitionRequest, DeleteTopicsRequest, Done, EnsureRequest, Growth, InternalTopic,
    NewTopic, NodeMsg, OpenAllReport, Refusal, SetConfigRequest, TopicChange, TopicDeletion,
    TopicMeta, TopicRef, TopicsReply, OFFSETS_TOPIC, PARTITIONS,
};
use crate::storage::disk_full;
use crate::storage::log::LogConfig;
use crate::types::topic_name::shown;
use crate::types::{ErrorCode, NodeId, TopicPartition};

/// What topic administration reads of the broker's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminSettings {
    /// `node.id`: the only broker an explicit replica assignment may name.
    pub node_id: NodeId,
    /// The broker's defaults for every partition log, on which topic overrides are resolved.
    pub log: LogConfig,
    /// `num.partitions`: partitions of an auto-created topic.
    pub num_partitions: u32,
    /// `default.replication.factor`: of an auto-created topic.
    pub default_replication_factor: u16,
    /// How `__consumer_offsets` is created (`offsets.topic.*`), by `EnsureInternal`.
    pub offsets_topic: InternalTopicSpec,
}

/// The settings an internal topic is created with, instead of the broker defaults an
/// auto-created topic gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalTopicSpec {
    pub partitions: i32,
    /// As configured; creation takes at most the brokers there are (Kafka does the same).
    pub replication_factor: i16,
    /// Topic config overrides, as a client's CreateTopics would give them.
    pub configs: BTreeMap<String, String>,
}

impl AdminSettings {
    /// This broker's id as Kafka's wire carries it (an INT32; `node.id` is validated to fit).
    fn broker_id(&self) -> i32 {
        i32::try_from(self.node_id.0).unwrap_or(i32::MAX)
    }
}

/// One topic administration, as the gateway asked for it.
#[derive(Debug)]
pub enum AdminOp {
    /// The whole request: its topics are created in order, each answered on its own.
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    CreatePartitions(CreatePartitionsRequest),
    /// Incremental or legacy AlterConfigs: the new overrides are worked out from the topic's
    /// overrides as they are when the operation runs (after every operation queued before it).
    AlterConfigs(AlterConfigsRequest),
    /// Metadata named an unknown topic: create it with the broker defaults (the internal
    /// topic's name with its own settings, as [`AdminOp::EnsureInternal`] does).
    AutoCreate(String),
    /// The broker needs an internal topic: create it with its settings
    /// ([`AdminSettings::offsets_topic`]); one that exists already is the answer.
    EnsureInternal(InternalTopic),
    /// Start-up: open (recover) every registered partition log.
    OpenAll,
}

/// The partitions actor's answer to a call, or why there is none.
pub type Answer = Result<NodeMsg, CallFailure>;

/// The topics actor's persist token: the registry write it waits for. The registry file is the
/// only thing it persists, one write at a time; the number matches a completion to its write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryWrite(pub u64);

/// The operations of one topics actor: the one running and the ones waiting for it.
#[derive(Default)]
pub struct Admin {
    queue: VecDeque<(RequestId, AdminOp)>,
    running: Option<Running>,
    /// The number of the next [`RegistryWrite`].
    next_write: u64,
}

struct Running {
    id: RequestId,
    job: Job,
    /// What the job waits for before it can go on.
    waiting: Option<Waiting>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// The partitions actor's answer to this call.
    Call(CallId),
    /// The completion of this write of the staged registry.
    Write(RegistryWrite),
}

/// What a parked job continues with: the outcome of what it waited for.
enum Resume {
    Answer(Answer),
    Written(Result<(), Refusal>),
}

impl Resume {
    /// The partitions answer (what a job asking the partitions actor waits for).
    fn answer(self) -> Option<Answer> {
        match self {
            Resume::Answer(answer) => Some(answer),
            Resume::Written(_) => None,
        }
    }
}

/// The outcome of the registry write a job waits for. [`Admin`] resumes such a job only with
/// it; anything else counts as a failed write, which refuses rather than claims durability.
fn written(resume: Option<Resume>) -> Result<(), Refusal> {
    match resume {
        Some(Resume::Written(outcome)) => outcome,
        _ => Err(Refusal::new(
            ErrorCode::KAFKA_STORAGE_ERROR,
            "the topic metadata write has no outcome",
        )),
    }
}

/// What an operation needs besides itself: the registry, the settings and the actor's RNG.
struct World<'a> {
    store: &'a mut TopicStore,
    settings: &'a AdminSettings,
    rng: &'a mut SmallRng,
}

/// What a job does next.
enum Next {
    /// Ask the partitions actor; the job continues with the answer.
    Call(NodeMsg),
    /// Write the staged registry; the job continues with the write's outcome (the change is
    /// committed or dropped by then).
    Write,
    /// The operation is over: answer its request.
    Done(TopicsReply),
}

impl Admin {
    /// Queues `op` (request `id`), and starts it if nothing else runs.
    pub fn submit(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, NoTimer>,
        store: &mut TopicStore,
        settings: &AdminSettings,
        id: RequestId,
        op: AdminOp,
    ) {
        self.queue.push_back((id, op));
        self.drive(ctx, store, settings, None);
    }

    /// The answer to `call`: the running operation continues with it (and, once it is over,
    /// the next one starts). An answer to no call of the running operation is ignored.
    pub fn answered(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, NoTimer>,
        store: &mut TopicStore,
        settings: &AdminSettings,
        call: CallId,
        answer: Answer,
    ) {
        match &mut self.running {
            Some(running) if running.waiting == Some(Waiting::Call(call)) => running.waiting = None,
            _ => return,
        }
        self.drive(ctx, store, settings, Some(Resume::Answer(answer)));
    }

    /// The completion of the registry write with persist `token`: the staged change is
    /// committed (or dropped, on an error) and the running operation continues with the
    /// outcome. A completion of no write of the running operation is ignored.
    pub fn written(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, NoTimer>,
        store: &mut TopicStore,
        settings: &AdminSettings,
        token: u64,
        result: Result<(), String>,
    ) {
        match &mut self.running {
            Some(running) if running.waiting == Some(Waiting::Write(RegistryWrite(token))) => {
                running.waiting = None
            }
            _ => return,
        }
        if let Err(error) = &result {
            tracing::error!(%error, "cannot write the topic metadata; the change is refused");
        }
        let outcome = store.written(result);
        self.drive(ctx, store, settings, Some(Resume::Written(outcome)));
    }

    /// Operations not finished (the running one included).
    pub fn pending(&self) -> usize {
        self.queue.len() + usize::from(self.running.is_some())
    }

    /// Runs operations until one waits for an answer or none is left.
    fn drive(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, NoTimer>,
        store: &mut TopicStore,
        settings: &AdminSettings,
        mut resume: Option<Resume>,
    ) {
        loop {
            if self.running.is_none() {
                let Some((id, op)) = self.queue.pop_front() else {
                    return;
                };
                let job = Job::start(op, store, settings);
                self.running = Some(Running {
                    id,
                    job,
                    waiting: None,
                });
            }
            let running = self.running.as_mut().expect("set above");
            if running.waiting.is_some() && resume.is_none() {
                return; // the running operation waits for its partitions answer or write
            }
            let mut world = World {
                store: &mut *store,
                settings,
                rng: &mut *ctx.rng,
            };
            match running.job.step(&mut world, resume.take()) {
                Next::Call(msg) => {
                    let to = Addr {
                        node: ctx.me.node,
                        actor: PARTITIONS,
                    };
                    let call = ctx.call(to, msg, PARTITION_ADMIN_CALL_TIMEOUT_MS);
                    running.waiting = Some(Waiting::Call(call));
                    return;
                }
                Next::Write => match store.write() {
                    Ok(job) => {
                        let write = RegistryWrite(self.next_write);
                        self.next_write += 1;
                        ctx.persist(write.0, job);
                        running.waiting = Some(Waiting::Write(write));
                        return;
                    }
                    // Not even started (the directory cannot be made): a failed write.
                    Err(refusal) => resume = Some(Resume::Written(Err(refusal))),
                },
                Next::Done(reply) => {
                    let id = running.id;
                    self.running = None;
                    ctx.reply(id, NodeMsg::TopicsReply(reply));
                }
            }
        }
    }
}

enum Job {
    Create(CreateTopics),
    AutoCreate(CreateTopics),
    Delete(DeleteTopics),
    Grow(CreatePartitions),
    Alter(AlterConfigs),
    OpenAll(OpenAll),
}

impl Job {
    /// The job of `op`, reading the registry as it is now (after every earlier operation).
    fn start(op: AdminOp, store: &TopicStore, settings: &AdminSettings) -> Self {
        match op {
            AdminOp::CreateTopics(request) => {
                Job::Create(CreateTopics::new(request.topics, request.validate_only))
            }
            AdminOp::AutoCreate(name) if name == OFFSETS_TOPIC => {
                let spec = &settings.offsets_topic;
                Job::AutoCreate(CreateTopics::internal(OFFSETS_TOPIC, spec, store.brokers()))
            }
            AdminOp::AutoCreate(name) => Job::AutoCreate(CreateTopics::auto(name)),
            AdminOp::EnsureInternal(InternalTopic::ConsumerOffsets) => {
                let spec = &settings.offsets_topic;
                Job::Create(CreateTopics::internal(OFFSETS_TOPIC, spec, store.brokers()))
            }
            AdminOp::DeleteTopics(request) => Job::Delete(DeleteTopics::new(request, store)),
            AdminOp::CreatePartitions(request) => Job::Grow(CreatePartitions::new(request, store)),
            AdminOp::AlterConfigs(request) => Job::Alter(AlterConfigs::new(request)),
            AdminOp::OpenAll => Job::OpenAll(OpenAll::new(store)),
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
        }
    }
}

/// Why one partition request failed.
#[derive(Debug)]
enum PartitionFailure {
    /// The partitions actor answered with this error.
    Refused(Refusal),
    /// No usable answer: the call failed or the reply was of the wrong kind.
    Lost(String),
}

impl std::fmt::Display for PartitionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(refusal) => write!(
                f,
                "partition request failed with error {}: {}",
                refusal.code, refusal.message
            ),
            Self::Lost(reason) => f.write_str(reason),
        }
    }
}

enum SweepKind {
    Ensure(LogConfig),
    Delete,
    SetConfig(LogConfig),
}

/// One request to the partitions actor for each partition of a topic, in partition order, one
/// at a time. Opening goes on past a failure (the failed logs stay offline and are retried,
/// the others serve); deleting and reconfiguring stop at the first.
struct Sweep {
    topic: String,
    kind: SweepKind,
    next: i32,
    end: i32,
    failure: Option<(i32, PartitionFailure)>,
}

impl Sweep {
    fn new(topic: &str, partitions: i32, kind: SweepKind) -> Self {
        Self {
            topic: topic.to_string(),
            kind,
            next: 0,
            end: partitions,
            failure: None,
        }
    }

    /// Opens every partition of `meta` with its stored configs on the broker defaults.
    fn ensure(topic: &str, meta: &TopicMeta, settings: &AdminSettings) -> Self {
        let (config, skipped) = topic_config::resolve_stored(&settings.log, &meta.configs);
        for error in skipped {
            tracing::warn!(topic, %error, "stored topic config no longer valid; using the default");
        }
        Self::new(topic, meta.partitions, SweepKind::Ensure(config))
    }

    /// Takes the answer to the previous request; the next request, or `None` when done.
    fn step(&mut self, answer: Option<Answer>) -> Option<NodeMsg> {
        if let Some(answer) = answer {
            if let Err(failure) = self.outcome(answer) {
                self.failure.get_or_insert((self.next - 1, failure));
            }
        }
        let stop = self.failure.is_some() && !matches!(self.kind, SweepKind::Ensure(_));
        if stop || self.next >= self.end {
            return None;
        }
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: self.next,
        };
        self.next += 1;
        Some(match &self.kind {
            SweepKind::Ensure(config) => EnsureRequest {
                tp,
                config: config.clone(),
            }
            .into(),
            SweepKind::Delete => DeletePartitionRequest { tp }.into(),
            SweepKind::SetConfig(config) => SetConfigRequest {
                tp,
                config: config.clone(),
            }
            .into(),
        })
    }

    fn outcome(&self, answer: Answer) -> Result<(), PartitionFailure> {
        let done = match answer {
            Ok(msg) => Done::try_from(msg)
                .map_err(|wrong: WrongReply| PartitionFailure::Lost(wrong.to_string()))?,
            Err(why) => {
                return Err(PartitionFailure::Lost(format!(
                    "the partitions actor did not answer ({why:?})"
                )))
            }
        };
        match done.into_result() {
            Ok(()) => Ok(()),
            // Opening is idempotent and deleting a partition that was never opened is fine.
            Err(refusal)
                if refusal.code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    && !matches!(self.kind, SweepKind::SetConfig(_)) =>
            {
                Ok(())
            }
            Err(refusal) => Err(PartitionFailure::Refused(refusal)),
        }
    }

    /// The first failure, naming its partition.
    fn error(&self) -> Option<String> {
        self.failure
            .as_ref()
            .map(|(partition, failure)| format!("partition {partition}: {failure}"))
    }
}

/// CreateTopics (and auto-creation): each topic is registered, then its logs are opened; a
/// topic whose logs cannot all open is unregistered again (and the logs that did open are
/// deleted), so Metadata never shows a topic without logs (issue 9's zombie topics), and it is
/// answered KAFKA_STORAGE_ERROR with the reason.
struct CreateTopics {
    todo: VecDeque<NewTopic>,
    validate_only: bool,
    /// The broker's own creation of an internal topic: its name is allowed, and a topic that
    /// exists already is the outcome (clients may not create an internal topic at all).
    internal: bool,
    done: Vec<TopicChange>,
    phase: CreatePhase,
}

enum CreatePhase {
    Next,
    /// The topic is staged; the job waits for the registry write.
    Registering {
        meta: TopicMeta,
        name: String,
    },
    Opening {
        meta: TopicMeta,
        sweep: Sweep,
    },
    RollingBack {
        error: String,
        sweep: Sweep,
    },
    /// The topic's logs are gone again and its removal is staged; the job waits for the write.
    Unregistering {
        error: String,
        name: String,
    },
}

impl CreateTopics {
    fn new(topics: Vec<NewTopic>, validate_only: bool) -> Self {
        Self {
            todo: topics.into(),
            validate_only,
            internal: false,
            done: Vec::new(),
            phase: CreatePhase::Next,
        }
    }

    /// The creation of internal topic `name` as `spec` says, with at most `brokers` replicas
    /// (Kafka takes the brokers there are when fewer than configured).
    fn internal(name: &str, spec: &InternalTopicSpec, brokers: i16) -> Self {
        let topic = NewTopic {
            name: name.to_owned(),
            partitions: spec.partitions,
            replication_factor: spec.replication_factor.min(brokers),
            configs: spec.configs.clone(),
        };
        Self {
            internal: true,
            ..Self::new(vec![topic], false)
        }
    }

    /// The creation of `name` with the broker defaults; its settings are read when it runs.
    fn auto(name: String) -> Self {
        let topic = NewTopic {
            name,
            partitions: -1,
            replication_factor: -1,
            configs: Default::default(),
        };
        Self::new(vec![topic], false)
    }

    /// What to wait for next, or the answer once every topic has its outcome.
    fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            match &mut self.phase {
                CreatePhase::Next => {
                    let Some(mut topic) = self.todo.pop_front() else {
                        return Next::Done(TopicsReply::Created(std::mem::take(&mut self.done)));
                    };
                    let existing = world.store.registry().topics.get(&topic.name);
                    match (self.internal, existing) {
                        (true, Some(meta)) => {
                            self.done.push(Ok(meta.clone()));
                            continue;
                        }
                        (false, _) => {
                            if let Some(refusal) = internal_refusal(&topic.name, "create") {
                                self.done.push(Err(refusal));
                                continue;
                            }
                        }
                        (true, None) => {}
                    }
                    // -1 means "the broker default" (KIP-464; every auto-created topic).
                    if topic.partitions == -1 {
                        topic.partitions = world.settings.num_partitions as i32;
                    }
                    if topic.replication_factor == -1 {
                        topic.replication_factor = world.settings.default_replication_factor as i16;
                    }
                    let name = topic.name.clone();
                    let outcome = match topic_config::resolve(&world.settings.log, &topic.configs) {
                        Err(message) => Err(Refusal::new(ErrorCode::INVALID_CONFIG, message)),
                        Ok(_) => world.store.create(world.rng, topic, self.validate_only),
                    };
                    match outcome {
                        Ok(meta) if !self.validate_only => {
                            self.phase = CreatePhase::Registering { meta, name };
                            return Next::Write;
                        }
                        outcome => self.done.push(outcome),
                    }
                }
                CreatePhase::Registering { meta, name } => match written(resume.take()) {
                    Ok(()) => {
                        let sweep = Sweep::ensure(name, meta, world.settings);
                        let meta = meta.clone();
                        self.phase = CreatePhase::Opening { meta, sweep };
                    }
                    Err(refusal) => {
                        self.done.push(Err(refusal));
                        self.phase = CreatePhase::Next;
                    }
                },
                CreatePhase::Opening { meta, sweep } => {
                    if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                        return Next::Call(call);
                    }
                    match sweep.error() {
                        None => {
                            self.done.push(Ok(meta.clone()));
                            self.phase = CreatePhase::Next;
                        }
                        Some(error) => {
                            let topic = sweep.topic.as_str();
                            tracing::error!(topic, %error, "cannot open the new topic's logs; removing it");
                            let sweep = Sweep::new(topic, meta.partitions, SweepKind::Delete);
                            self.phase = CreatePhase::RollingBack { error, sweep };
                        }
                    }
                }
                CreatePhase::RollingBack { error, sweep } => {
                    if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                        return Next::Call(call);
                    }
                    let topic = sweep.topic.as_str();
                    if let Some((_, cleanup)) = &sweep.failure {
                        // Unregistered anyway: a registry naming logs that do not exist is the bug.
                        tracing::warn!(topic, error = %cleanup, "cannot remove the new topic's partial logs");
                    }
                    let (error, name) = (std::mem::take(error), sweep.topic.clone());
                    // Refused (already gone) or not, the creation failed.
                    if world.store.delete(&name).is_ok() {
                        self.phase = CreatePhase::Unregistering { error, name };
                        return Next::Write;
                    }
                    self.done.push(Err(creation_failed(&error)));
                    self.phase = CreatePhase::Next;
                }
                CreatePhase::Unregistering { error, name } => {
                    if let Err(refusal) = written(resume.take()) {
                        let topic = name.as_str();
                        tracing::warn!(topic, error = %refusal.message, "cannot unregister the topic whose logs could not be created");
                    }
                    self.done.push(Err(creation_failed(error)));
                    self.phase = CreatePhase::Next;
                }
            }
        }
    }
}

/// Clients may not create, delete or grow an internal topic: the broker creates it with its
/// own settings, and its partition count places every group (Kafka refuses the same).
fn internal_refusal(name: &str, action: &str) -> Option<Refusal> {
    (name == OFFSETS_TOPIC).then(|| {
        Refusal::new(
            ErrorCode::INVALID_REQUEST,
            format!(
                "topic '{name}' is internal: the broker creates it, a client may not {action} it"
            ),
        )
    })
}

/// The answer to a creation whose logs could not all be opened.
fn creation_failed(error: &str) -> Refusal {
    Refusal::new(
        ErrorCode::KAFKA_STORAGE_ERROR,
        format!("cannot create the topic's logs: {error}"),
    )
}

/// DeleteTopics: each topic is unregistered, then its logs are deleted. A log that cannot be
/// deleted fails the whole request (the connection is closed), as it did before.
///
/// On a full disk the registry write fails for want of space (issue 11: deleting a topic to
/// free space failed), and the topic's own logs are that space: then its logs are deleted
/// first and the registry is written again. A crash between the two leaves the topic
/// registered without files; start-up opens its partitions as empty logs (as after a crash
/// between a creation's registry write and its logs), so the broker starts and the topic is
/// there, empty, until the delete is repeated. Never a registry without the topic but with
/// its files, nor a start-up that fails.
struct DeleteTopics {
    /// The topics by name; `None` for an id no topic has.
    todo: VecDeque<Option<String>>,
    done: Vec<TopicDeletion>,
    /// The topic whose removal is staged: the job waits for the registry write.
    unregistering: Option<Unregistering>,
    deleting: Option<Deleting>,
}

struct Unregistering {
    name: String,
    meta: TopicMeta,
    /// Its logs are deleted already (the disk was full the first time).
    logs_gone: bool,
}

struct Deleting {
    meta: TopicMeta,
    sweep: Sweep,
    /// Still registered: unregister once the logs are gone (they freed the space).
    unregister_after: bool,
}

/// Whether a refused registry write failed for want of space.
fn out_of_space(refusal: &Refusal) -> bool {
    disk_full::is_storage_full_message(&refusal.message)
}

impl DeleteTopics {
    fn new(request: DeleteTopicsRequest, store: &TopicStore) -> Self {
        let topics = &store.registry().topics;
        let todo = request
            .topics
            .into_iter()
            .map(|topic| match topic {
                TopicRef::Name(name) => Some(name),
                TopicRef::Id(id) => topics
                    .iter()
                    .find(|(_, meta)| meta.id == id)
                    .map(|(name, _)| name.clone()),
            })
            .collect();
        Self {
            todo,
            done: Vec::new(),
            unregistering: None,
            deleting: None,
        }
    }

    /// Takes `name` out of the registry in memory and starts the registry write
    /// (`true`: the caller returns `Next::Write`); a refusal is recorded as the topic's outcome.
    /// `logs_gone`: its logs were already deleted (a full disk made the first write fail).
    fn unregister(&mut self, world: &mut World<'_>, name: String, logs_gone: bool) -> bool {
        match world.store.delete(&name) {
            Ok(meta) => {
                self.unregistering = Some(Unregistering {
                    name,
                    meta,
                    logs_gone,
                });
                true
            }
            Err(refusal) => {
                self.done.push(TopicDeletion {
                    name: Some(name),
                    outcome: Err(refusal),
                });
                false
            }
        }
    }

    fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            if let Some(Unregistering {
                name,
                meta,
                logs_gone,
            }) = self.unregistering.take()
            {
                match written(resume.take()) {
                    Ok(()) if logs_gone => self.done.push(TopicDeletion {
                        name: Some(name),
                        outcome: Ok(meta),
                    }),
                    Err(refusal) if !logs_gone && out_of_space(&refusal) => {
                        tracing::warn!(topic = %name, "disk full: deleting the topic's logs before its registry entry, to free the space the registry write needs");
                        self.deleting = Some(Deleting {
                            sweep: Sweep::new(&name, meta.partitions, SweepKind::Delete),
                            meta,
                            unregister_after: true,
                        });
                    }
                    Ok(()) => {
                        self.deleting = Some(Deleting {
                            sweep: Sweep::new(&name, meta.partitions, SweepKind::Delete),
                            meta,
                            unregister_after: false,
                        });
                    }
                    Err(refusal) => self.done.push(TopicDeletion {
                        name: Some(name),
                        outcome: Err(refusal),
                    }),
                }
            }
            if let Some(deleting) = &mut self.deleting {
                let sweep = &mut deleting.sweep;
                if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                    return Next::Call(call);
                }
                if let Some((_, failure)) = &sweep.failure {
                    return Next::Done(TopicsReply::Failed(failure.to_string()));
                }
                let deleting = self.deleting.take().expect("matched above");
                let name = deleting.sweep.topic;
                if !deleting.unregister_after {
                    self.done.push(TopicDeletion {
                        name: Some(name),
                        outcome: Ok(deleting.meta),
                    });
                    continue;
                }
                if self.unregister(world, name, true) {
                    return Next::Write;
                }
                continue;
            }
            let Some(name) = self.todo.pop_front() else {
                return Next::Done(TopicsReply::Deleted(std::mem::take(&mut self.done)));
            };
            let Some(name) = name else {
                self.done.push(TopicDeletion {
                    name: None,
                    outcome: Err(Refusal::new(
                        ErrorCode::UNKNOWN_TOPIC_ID,
                        "no topic has this id",
                    )),
                });
                continue;
            };
            if let Some(refusal) = internal_refusal(&name, "delete") {
                self.done.push(TopicDeletion {
                    name: Some(name),
                    outcome: Err(refusal),
                });
                continue;
            }
            if self.unregister(world, name, false) {
                return Next::Write;
            }
        }
    }
}

/// CreatePartitions: the registry first, then the new partition logs. The registry is
/// persisted before the logs are opened and start-up opens the logs of every registered
/// partition, so a grown topic never lacks logs after a restart.
struct CreatePartitions {
    todo: VecDeque<Growth>,
    validate_only: bool,
    /// Names the request has more than once: Kafka refuses every copy.
    twice: BTreeSet<String>,
    done: Vec<Result<(), Refusal>>,
    /// The growth staged: the job waits for the registry write.
    registering: Option<(String, TopicMeta)>,
    opening: Option<Sweep>,
}

impl CreatePartitions {
    fn new(request: CreatePartitionsRequest, store: &TopicStore) -> Self {
        let known = &store.registry().topics;
        let mut seen = BTreeSet::new();
        let twice = request
            .topics
            .iter()
            .map(|t| t.name.clone())
            .filter(|n| !seen.insert(n.clone()))
            .collect();
        // Kafka's per-request bound on partitions created, all topics together.
        let added: i64 = request
            .topics
            .iter()
            .map(|t| {
                let before = known.get(&t.name).map_or(0, |m| m.partitions);
                i64::from(t.count.saturating_sub(before).max(0))
            })
            .sum();
        let mut job = Self {
            todo: request.topics.into(),
            validate_only: request.validate_only,
            twice,
            done: Vec::new(),
            registering: None,
            opening: None,
        };
        if added > PARTITIONS_PER_REQUEST_MAX {
            let message = format!("Excessively large number of partitions per request: {added} requested, limit {PARTITIONS_PER_REQUEST_MAX}.");
            job.done = job
                .todo
                .drain(..)
                .map(|_| Err(Refusal::new(ErrorCode::POLICY_VIOLATION, message.clone())))
                .collect();
        }
        job
    }

    fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            if let Some((name, meta)) = self.registering.take() {
                match written(resume.take()) {
                    Ok(()) => self.opening = Some(Sweep::ensure(&name, &meta, world.settings)),
                    Err(refusal) => self.done.push(Err(refusal)),
                }
            }
            if let Some(sweep) = &mut self.opening {
                if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                    return Next::Call(call);
                }
                // The registry has the new count; a log that cannot open yet stays offline
                // (KAFKA_STORAGE_ERROR, retried when used and at each retention tick) rather
                // than unknown, and the client learns why.
                self.done.push(match sweep.error() {
                    None => Ok(()),
                    Some(error) => Err(Refusal::new(
                        ErrorCode::KAFKA_STORAGE_ERROR,
                        format!("partitions added, but not every log could be opened yet: {error}"),
                    )),
                });
                self.opening = None;
            }
            let Some(growth) = self.todo.pop_front() else {
                return Next::Done(TopicsReply::PartitionsCreated(std::mem::take(
                    &mut self.done,
                )));
            };
            match self.grow(world, &growth) {
                Ok(Some(meta)) => {
                    self.registering = Some((growth.name, meta));
                    return Next::Write;
                }
                Ok(None) => self.done.push(Ok(())),
                Err(refusal) => self.done.push(Err(refusal)),
            }
        }
    }

    /// Registers the growth; the grown topic when its logs are to be opened.
    fn grow(&self, world: &mut World<'_>, growth: &Growth) -> Result<Option<TopicMeta>, Refusal> {
        let name = growth.name.as_str();
        if let Some(refusal) = internal_refusal(name, "add partitions to") {
            return Err(refusal);
        }
        if self.twice.contains(name) {
            return Err(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                format!(
                    "topic '{}' appears more than once in the request",
                    shown(name)
                ),
            ));
        }
        let Some(meta) = world.store.registry().topics.get(name) else {
            return Err(Refusal::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{}' does not exist", shown(name)),
            ));
        };
        check_growth(
            name,
            meta,
            growth.count,
            growth.assignments.as_deref(),
            world.settings.broker_id(),
        )?;
        let meta = world
            .store
            .add_partitions(name, growth.count, self.validate_only)?;
        Ok((!self.validate_only).then_some(meta))
    }
}

/// Incremental/AlterConfigs of topics: each topic's new overrides are persisted, then every
/// partition gets the resolved log config.
struct AlterConfigs {
    todo: VecDeque<(String, ConfigChange)>,
    validate_only: bool,
    done: Vec<Result<(), Refusal>>,
    /// The new overrides staged: the job waits for the registry write.
    saving: Option<(String, TopicMeta, LogConfig)>,
    applying: Option<Sweep>,
}

impl AlterConfigs {
    fn new(request: AlterConfigsRequest) -> Self {
        Self {
            todo: request.topics.into(),
            validate_only: request.validate_only,
            done: Vec::new(),
            saving: None,
            applying: None,
        }
    }

    fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            if let Some((name, meta, config)) = self.saving.take() {
                match written(resume.take()) {
                    Ok(()) => {
                        let sweep =
                            Sweep::new(&name, meta.partitions, SweepKind::SetConfig(config));
                        self.applying = Some(sweep);
                    }
                    Err(refusal) => self.done.push(Err(refusal)),
                }
            }
            if let Some(sweep) = &mut self.applying {
                if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                    return Next::Call(call);
                }
                match sweep.failure.take() {
                    None => self.done.push(Ok(())),
                    Some((partition, PartitionFailure::Refused(refused))) => {
                        self.done.push(Err(Refusal::new(
                            refused.code,
                            format!(
                                "configs saved, but partition {partition} could not apply them: {}",
                                refused.message
                            ),
                        )))
                    }
                    Some((_, lost @ PartitionFailure::Lost(_))) => {
                        return Next::Done(TopicsReply::Failed(lost.to_string()))
                    }
                }
                self.applying = None;
            }
            let Some((name, change)) = self.todo.pop_front() else {
                return Next::Done(TopicsReply::ConfigsAltered(std::mem::take(&mut self.done)));
            };
            match self.alter(world, &name, &change) {
                Ok(Some((meta, config))) => {
                    self.saving = Some((name, meta, config));
                    return Next::Write;
                }
                Ok(None) => self.done.push(Ok(())),
                Err(refusal) => self.done.push(Err(refusal)),
            }
        }
    }

    /// Stages the topic's new overrides, worked out from its current ones; the topic and its
    /// resolved log config when its partitions are to get it.
    fn alter(
        &self,
        world: &mut World<'_>,
        name: &str,
        change: &ConfigChange,
    ) -> Result<Option<(TopicMeta, LogConfig)>, Refusal> {
        let Some(meta) = world.store.registry().topics.get(name) else {
            return Err(Refusal::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{}' does not exist", shown(name)),
            ));
        };
        let configs = match change {
            ConfigChange::Incremental(ops) => apply_ops(&meta.configs, ops)?,
            ConfigChange::Replace(configs) => replacement(configs)?,
        };
        let resolved = topic_config::resolve(&world.settings.log, &configs)
            .map_err(|message| Refusal::new(ErrorCode::INVALID_CONFIG, message))?;
        let meta = world
            .store
            .alter_configs(name, configs, self.validate_only)?;
        Ok((!self.validate_only).then_some((meta, resolved)))
    }
}

/// Start-up: opens the logs of every registered topic (recovering them). A log that cannot
/// open does not stop the broker (issue 9: one unopenable log made it unrestartable): that
/// partition answers KAFKA_STORAGE_ERROR and is retried.
struct OpenAll {
    todo: VecDeque<(String, TopicMeta)>,
    report: OpenAllReport,
    opening: Option<Sweep>,
}

impl OpenAll {
    fn new(store: &TopicStore) -> Self {
        let topics = &store.registry().topics;
        Self {
            todo: topics
                .iter()
                .map(|(name, meta)| (name.clone(), meta.clone()))
                .collect(),
            report: OpenAllReport {
                topics: topics.len(),
                partitions: topics.values().map(|m| i64::from(m.partitions)).sum(),
                topics_with_offline_partitions: 0,
            },
            opening: None,
        }
    }

    fn step(&mut self, world: &mut World<'_>, mut answer: Option<Answer>) -> Next {
        loop {
            if let Some(sweep) = &mut self.opening {
                if let Some(call) = sweep.step(answer.take()) {
                    return Next::Call(call);
                }
                if let Some(error) = sweep.error() {
                    self.report.topics_with_offline_partitions += 1;
                    tracing::error!(topic = %sweep.topic, %error, "topic has partitions that cannot be opened yet; retrying them when used");
                }
                self.opening = None;
            }
            let Some((name, meta)) = self.todo.pop_front() else {
                return Next::Done(TopicsReply::Opened(std::mem::take(&mut self.report)));
            };
            self.opening = Some(Sweep::ensure(&name, &meta, world.settings));
        }
    }
}

#[cfg(test)]
#[path = "admin_tests.rs"]
mod tests;
