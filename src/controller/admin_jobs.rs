//! The administrations a client asks for (CreateTopics, DeleteTopics, CreatePartitions,
//! Incremental/AlterConfigs), as jobs of [`super::admin::Admin`]: each topic is checked here
//! for what only this broker knows, decided by the controller quorum's leader, then this
//! node's replicas of it are opened, deleted or reconfigured.

use std::collections::{BTreeSet, VecDeque};

use super::admin::{internal_refusal, Next, OnFullDisk, Resume, World};
use super::config_ops::{apply_ops, replacement};
use super::sweep::{Sweep, SweepKind};
use super::topic_config;
use super::topics::unknown_topic;
use crate::limits::{PARTITIONS_PER_REQUEST_MAX, TOPIC_PARTITIONS_MAX};
use crate::messages::quorum::{LeaderRequest, TopicGrowth, TopicSpec, TopicView};
use crate::messages::{
    AlterConfigsRequest, ConfigChange, CreatePartitionsRequest, DeleteTopicsRequest, Growth,
    InternalTopic, NewTopic, Refusal, TopicChange, TopicDeletion, TopicMeta, TopicRef, TopicsReply,
};
use crate::storage::disk_full;
use crate::types::topic_name::shown;
use crate::types::{ErrorCode, NodeId};

/// A manual assignment in partition order: CreateTopics names each partition's index, and
/// Kafka wants them to be 0, 1, ... in some order (INVALID_REPLICA_ASSIGNMENT otherwise); a
/// negative broker id is no broker (also INVALID_REPLICA_ASSIGNMENT, from the controller).
fn manual_assignment(
    name: &str,
    assignments: &[(i32, Vec<i32>)],
) -> Result<Vec<Vec<NodeId>>, Refusal> {
    let mut by_index: Vec<&(i32, Vec<i32>)> = assignments.iter().collect();
    by_index.sort_by_key(|(index, _)| *index);
    let mut placed = Vec::with_capacity(by_index.len());
    for (expected, (index, brokers)) in by_index.into_iter().enumerate() {
        if i64::from(*index) != expected as i64 {
            return Err(Refusal::new(
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "topic '{}': partitions of a manual assignment must be numbered from 0 without gaps",
                    shown(name)
                ),
            ));
        }
        if brokers.is_empty() {
            return Err(Refusal::new(
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                format!("topic '{}': partition {index} has no replica", shown(name)),
            ));
        }
        placed.push(broker_ids(brokers));
    }
    Ok(placed)
}

/// Broker ids as a request gives them; a negative one becomes an id no broker has, which the
/// controller refuses as an unknown broker.
fn broker_ids(brokers: &[i32]) -> Vec<NodeId> {
    (brokers.iter())
        .map(|b| NodeId(u64::try_from(*b).unwrap_or(u64::MAX)))
        .collect()
}

/// The one topic outcome of a one-topic proposal.
fn single(resume: Option<Resume>) -> Result<TopicView, Refusal> {
    let (_, mut outcomes) = Resume::proposed(resume)?;
    match outcomes.pop() {
        Some(outcome) if outcomes.is_empty() => outcome,
        _ => Err(Refusal::new(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            "the controller answered a different number of topics",
        )),
    }
}

/// The answer to a creation whose logs could not all be opened.
fn creation_failed(error: &str) -> Refusal {
    Refusal::new(
        ErrorCode::KAFKA_STORAGE_ERROR,
        format!("cannot create the topic's logs: {error}"),
    )
}

/// CreateTopics (and auto-creation): each topic is decided by the controller, then this
/// node's replicas are opened; a topic whose logs here cannot all open is deleted again (so
/// Metadata never shows a topic without logs, issue 9's zombie topics) and answered
/// KAFKA_STORAGE_ERROR with the reason.
pub struct CreateTopics {
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
    /// The creation is asked of the controller.
    Deciding {
        name: String,
    },
    /// The logs of an earlier topic of the name are deleted first.
    Clearing {
        meta: TopicMeta,
        sweep: Sweep,
    },
    Opening {
        meta: TopicMeta,
        sweep: Sweep,
    },
    RollingBack {
        error: String,
        meta: TopicMeta,
        sweep: Sweep,
    },
    /// The topic's logs here are gone again; its deletion is asked of the controller.
    Unregistering {
        error: String,
    },
}

impl CreateTopics {
    pub fn new(topics: Vec<NewTopic>, validate_only: bool) -> Self {
        Self {
            todo: topics.into(),
            validate_only,
            internal: false,
            done: Vec::new(),
            phase: CreatePhase::Next,
        }
    }

    /// The creation of an internal topic (`__consumer_offsets`, `__transaction_state`) as its
    /// settings say, with at most the registered brokers as replicas: a single node needs no
    /// `offsets.topic.replication.factor=1`, but a cluster whose brokers are registered and not
    /// all live yet (a start, a restart) is refused (COORDINATOR_NOT_AVAILABLE to the client,
    /// which retries) rather than given an internal topic with fewer replicas for good (Kafka
    /// refuses until enough brokers are up). A `min.insync.replicas` of its settings above the
    /// replicas it gets is lowered to them, so a cluster of fewer brokers than
    /// `transaction.state.log.min.isr` can still write it.
    ///
    /// An import ([`InternalTopic::ConsumerOffsetsImported`]) has every partition on this
    /// broker (a single-node release's topic, whose logs are here).
    pub fn internal(world: &World<'_>, topic: InternalTopic) -> Self {
        let (spec, here) = match topic {
            InternalTopic::ConsumerOffsets => (&world.settings.offsets_topic, false),
            InternalTopic::ConsumerOffsetsImported => (&world.settings.offsets_topic, true),
            InternalTopic::TransactionState => (&world.settings.txn_state_topic, false),
        };
        let registered = i16::try_from(world.topics.applied.brokers.len()).unwrap_or(i16::MAX);
        let me = i32::try_from(world.me().0).unwrap_or(i32::MAX);
        // The replicas each partition gets: one (this broker) for an import.
        let replicas = if here {
            1
        } else {
            spec.replication_factor.min(registered.max(1))
        };
        let mut configs = spec.configs.clone();
        if let Some(min_isr) = configs.get_mut("min.insync.replicas") {
            if (min_isr.trim().parse::<i64>()).is_ok_and(|n| n > i64::from(replicas)) {
                *min_isr = replicas.to_string();
            }
        }
        let topic = NewTopic {
            name: topic.name().to_owned(),
            partitions: if here { -1 } else { spec.partitions },
            replication_factor: if here { -1 } else { replicas },
            configs,
            assignments: if here {
                (0..spec.partitions.min(TOPIC_PARTITIONS_MAX))
                    .map(|p| (p, vec![me]))
                    .collect()
            } else {
                Vec::new()
            },
        };
        Self {
            internal: true,
            ..Self::new(vec![topic], false)
        }
    }

    /// The creation of `name` with the broker defaults; its settings are read when it runs.
    pub fn auto(name: String) -> Self {
        let topic = NewTopic {
            name,
            partitions: -1,
            replication_factor: -1,
            configs: Default::default(),
            assignments: Vec::new(),
        };
        Self::new(vec![topic], false)
    }

    /// What to wait for next, or the answer once every topic has its outcome.
    pub fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            match &mut self.phase {
                CreatePhase::Next => {
                    let Some(mut topic) = self.todo.pop_front() else {
                        return Next::Done(TopicsReply::Created(std::mem::take(&mut self.done)));
                    };
                    let existing = world.view().get(&topic.name);
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
                    let assignment = if topic.assignments.is_empty() {
                        None
                    } else if topic.partitions != -1 || topic.replication_factor != -1 {
                        self.done.push(Err(Refusal::new(
                            ErrorCode::INVALID_REQUEST,
                            "both a partition count or replication factor and a manual assignment were given (give -1 for the count and the factor)",
                        )));
                        continue;
                    } else {
                        match manual_assignment(&topic.name, &topic.assignments) {
                            Ok(assignment) => {
                                topic.partitions = assignment.len() as i32;
                                topic.replication_factor = assignment
                                    .first()
                                    .map_or(0, |replicas| replicas.len() as i16);
                                Some(assignment)
                            }
                            Err(refusal) => {
                                self.done.push(Err(refusal));
                                continue;
                            }
                        }
                    };
                    // -1 means "the broker default" (KIP-464; every auto-created topic).
                    if topic.partitions == -1 {
                        topic.partitions = world.settings.num_partitions as i32;
                    }
                    if topic.replication_factor == -1 {
                        topic.replication_factor = world.settings.default_replication_factor as i16;
                    }
                    if let Err(message) = topic_config::resolve(&world.settings.log, &topic.configs)
                    {
                        let refusal = Refusal::new(ErrorCode::INVALID_CONFIG, message);
                        self.done.push(Err(refusal));
                        continue;
                    }
                    if topic.replication_factor < 1 {
                        self.done.push(Err(Refusal::new(
                            ErrorCode::INVALID_REPLICATION_FACTOR,
                            format!(
                                "replication factor must be at least 1, got {}",
                                topic.replication_factor
                            ),
                        )));
                        continue;
                    }
                    let spec = TopicSpec {
                        name: topic.name.clone(),
                        partitions: topic.partitions,
                        replication_factor: topic.replication_factor,
                        configs: topic.configs,
                        assignment,
                    };
                    self.phase = CreatePhase::Deciding { name: topic.name };
                    let request = LeaderRequest::CreateTopics {
                        topics: vec![spec],
                        validate_only: self.validate_only,
                    };
                    return Next::Propose(request, OnFullDisk::Answer);
                }
                CreatePhase::Deciding { name } => {
                    let name = std::mem::take(name);
                    match single(resume.take()) {
                        // Another broker created the internal topic first: it is the answer.
                        Err(refusal)
                            if self.internal && refusal.code == ErrorCode::TOPIC_ALREADY_EXISTS =>
                        {
                            self.done
                                .push(world.view().get(&name).cloned().ok_or(refusal));
                            self.phase = CreatePhase::Next;
                        }
                        Err(refusal) => {
                            self.done.push(Err(refusal));
                            self.phase = CreatePhase::Next;
                        }
                        Ok(view) if self.validate_only => {
                            self.done.push(Ok(TopicMeta::from_view(&view)));
                            self.phase = CreatePhase::Next;
                        }
                        Ok(view) => {
                            let meta = TopicMeta::from_view(&view);
                            self.phase = match world.stale_logs(&name, meta.id) {
                                Some(stale) => {
                                    let sweep = Sweep::new(&name, stale, SweepKind::Delete);
                                    CreatePhase::Clearing { meta, sweep }
                                }
                                None => {
                                    let mine = meta.replicas_on(world.me());
                                    let sweep = Sweep::ensure(&name, &meta, mine, world.settings);
                                    CreatePhase::Opening { meta, sweep }
                                }
                            };
                        }
                    }
                }
                CreatePhase::Clearing { meta, sweep } => {
                    if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                        return Next::Call(call);
                    }
                    let topic = sweep.topic.clone();
                    let mine = meta.replicas_on(world.me());
                    let meta = meta.clone();
                    if let Some(error) = sweep.error() {
                        // Opening on them would serve the old topic's records as the new one's.
                        tracing::error!(topic, %error, "cannot delete the earlier topic's logs");
                        let sweep = Sweep::new(&topic, mine, SweepKind::Delete);
                        self.phase = CreatePhase::RollingBack { error, meta, sweep };
                        continue;
                    }
                    world.logs_follow(&topic, None);
                    let sweep = Sweep::ensure(&topic, &meta, mine, world.settings);
                    self.phase = CreatePhase::Opening { meta, sweep };
                }
                CreatePhase::Opening { meta, sweep } => {
                    if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                        return Next::Call(call);
                    }
                    match sweep.error() {
                        None => {
                            world.logs_follow(&sweep.topic, Some(meta));
                            self.done.push(Ok(meta.clone()));
                            self.phase = CreatePhase::Next;
                        }
                        Some(error) => {
                            let topic = sweep.topic.as_str();
                            tracing::error!(topic, %error, "cannot open the new topic's logs; removing it");
                            let mine = meta.replicas_on(world.me());
                            let sweep = Sweep::new(topic, mine, SweepKind::Delete);
                            let meta = meta.clone();
                            self.phase = CreatePhase::RollingBack { error, meta, sweep };
                        }
                    }
                }
                CreatePhase::RollingBack { error, meta, sweep } => {
                    if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                        return Next::Call(call);
                    }
                    if let Some((_, cleanup)) = &sweep.failure {
                        let topic = sweep.topic.as_str();
                        tracing::warn!(topic, error = %cleanup, "cannot remove the new topic's partial logs");
                    }
                    world.logs_follow(&sweep.topic, None);
                    let request = LeaderRequest::DeleteTopics {
                        topics: vec![TopicRef::Id(meta.id)],
                    };
                    let error = std::mem::take(error);
                    self.phase = CreatePhase::Unregistering { error };
                    return Next::Propose(request, OnFullDisk::Answer);
                }
                CreatePhase::Unregistering { error } => {
                    if let Err(refusal) = single(resume.take()) {
                        tracing::warn!(error = %refusal.message, "cannot delete the topic whose logs could not be created");
                    }
                    self.done.push(Err(creation_failed(error)));
                    self.phase = CreatePhase::Next;
                }
            }
        }
    }
}

/// DeleteTopics: each topic is deleted by the controller, then this node's logs of it (the
/// other brokers delete theirs when they apply the deletion). A log that cannot be deleted
/// fails the whole request (the connection is closed), as it did before.
///
/// On a full disk the voter's write fails for want of space (issue 11: deleting a topic to
/// free space failed), and the topic's own logs are that space: then this node's logs of it are
/// deleted first and the controller is asked again (the voter reopens its files meanwhile). A
/// crash between the two leaves the topic in the metadata without files here; start-up opens
/// its partitions as empty logs, so the broker starts and the topic is there, empty, until the
/// delete is repeated.
pub struct DeleteTopics {
    /// The topics as asked (by name, or by id: the controller resolves an id, so a stale
    /// view here never deletes a newer topic of the name).
    todo: VecDeque<TopicRef>,
    done: Vec<TopicDeletion>,
    /// The topic whose deletion is asked of the controller.
    deciding: Option<Deciding>,
    deleting: Option<Deleting>,
}

struct Deciding {
    asked: TopicRef,
    /// Its name as this node knows it (`None`: an id this node does not know).
    known: Option<String>,
    /// Its logs here are gone already (the disk was full the first time).
    logs_gone: bool,
}

struct Deleting {
    asked: TopicRef,
    meta: TopicMeta,
    sweep: Sweep,
    /// Still in the metadata: ask the controller again once the logs freed the space.
    decide_after: bool,
}

impl DeleteTopics {
    pub fn new(request: DeleteTopicsRequest, _world: &World<'_>) -> Self {
        Self {
            todo: request.topics.into(),
            done: Vec::new(),
            deciding: None,
            deleting: None,
        }
    }

    fn decide(&mut self, asked: TopicRef, known: Option<String>, logs_gone: bool) -> Next {
        let request = LeaderRequest::DeleteTopics {
            topics: vec![asked.clone()],
        };
        self.deciding = Some(Deciding {
            asked,
            known,
            logs_gone,
        });
        let on_full_disk = if logs_gone {
            OnFullDisk::Retry
        } else {
            OnFullDisk::Answer
        };
        Next::Propose(request, on_full_disk)
    }

    pub fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            if let Some(Deciding {
                asked,
                known,
                logs_gone,
            }) = self.deciding.take()
            {
                let here = known.as_ref().and_then(|n| world.view().get(n)).cloned();
                match single(resume.take()) {
                    Ok(view) if logs_gone => self.done.push(TopicDeletion {
                        name: Some(view.name.clone()),
                        outcome: Ok(TopicMeta::from_view(&view)),
                    }),
                    Ok(view) => {
                        let meta = TopicMeta::from_view(&view);
                        let all = (0..meta.partitions).collect();
                        self.deleting = Some(Deleting {
                            asked,
                            sweep: Sweep::new(&view.name, all, SweepKind::Delete),
                            meta,
                            decide_after: false,
                        });
                    }
                    Err(refusal)
                        if !logs_gone
                            && disk_full::is_storage_full_message(&refusal.message)
                            && here.is_some() =>
                    {
                        let meta = here.expect("matched above");
                        let name = known.expect("known with its topic");
                        tracing::warn!(topic = %name, "disk full: deleting the topic's logs here before asking the controller again, to free the space its write needs");
                        let all = (0..meta.partitions).collect();
                        self.deleting = Some(Deleting {
                            asked,
                            sweep: Sweep::new(&name, all, SweepKind::Delete),
                            meta,
                            decide_after: true,
                        });
                    }
                    Err(refusal) => self.done.push(TopicDeletion {
                        name: known,
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
                world.logs_follow(&name, None);
                if deleting.decide_after {
                    return self.decide(deleting.asked, Some(name), true);
                }
                self.done.push(TopicDeletion {
                    name: Some(name),
                    outcome: Ok(deleting.meta),
                });
                continue;
            }
            let Some(asked) = self.todo.pop_front() else {
                return Next::Done(TopicsReply::Deleted(std::mem::take(&mut self.done)));
            };
            let known = match &asked {
                TopicRef::Name(name) => Some(name.clone()),
                TopicRef::Id(id) => (world.view().iter())
                    .find(|(_, meta)| meta.id == *id)
                    .map(|(name, _)| name.clone()),
            };
            if let Some(refusal) = known.as_deref().and_then(|n| internal_refusal(n, "delete")) {
                self.done.push(TopicDeletion {
                    name: known,
                    outcome: Err(refusal),
                });
                continue;
            }
            return self.decide(asked, known, false);
        }
    }
}

/// CreatePartitions: each growth is decided by the controller, then this node's replicas of
/// the new partitions are opened.
pub struct CreatePartitions {
    todo: VecDeque<Growth>,
    validate_only: bool,
    /// Names the request has more than once: Kafka refuses every copy.
    twice: BTreeSet<String>,
    done: Vec<Result<(), Refusal>>,
    /// The growth asked of the controller.
    deciding: Option<String>,
    opening: Option<Sweep>,
}

impl CreatePartitions {
    pub fn new(request: CreatePartitionsRequest, world: &World<'_>) -> Self {
        let known = world.view();
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
            deciding: None,
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

    pub fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            if let Some(name) = self.deciding.take() {
                match single(resume.take()) {
                    Ok(_) if self.validate_only => self.done.push(Ok(())),
                    Ok(view) => {
                        let meta = TopicMeta::from_view(&view);
                        let mine = meta.replicas_on(world.me());
                        self.opening = Some(Sweep::ensure(&name, &meta, mine, world.settings));
                        world.logs_follow_kept(&name, &meta, true);
                    }
                    Err(refusal) => self.done.push(Err(refusal)),
                }
            }
            if let Some(sweep) = &mut self.opening {
                if let Some(call) = sweep.step(resume.take().and_then(Resume::answer)) {
                    return Next::Call(call);
                }
                // The metadata has the new count; a log that cannot open yet stays offline
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
            match self.check(&growth) {
                Err(refusal) => self.done.push(Err(refusal)),
                Ok(()) => {
                    let assignment = (growth.assignments.as_deref())
                        .map(|a| a.iter().map(|b| broker_ids(b)).collect());
                    let request = LeaderRequest::CreatePartitions {
                        topics: vec![TopicGrowth {
                            name: growth.name.clone(),
                            count: growth.count,
                            assignment,
                        }],
                        validate_only: self.validate_only,
                    };
                    self.deciding = Some(growth.name);
                    return Next::Propose(request, OnFullDisk::Answer);
                }
            }
        }
    }

    /// What the broker refuses before asking: the internal topic, a name given twice.
    fn check(&self, growth: &Growth) -> Result<(), Refusal> {
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
        Ok(())
    }
}

/// Incremental/AlterConfigs of topics: each topic's new overrides are decided by the
/// controller, then this node's replicas get the resolved log config.
pub struct AlterConfigs {
    todo: VecDeque<(String, ConfigChange)>,
    validate_only: bool,
    done: Vec<Result<(), Refusal>>,
    /// The new overrides asked of the controller, resolved.
    deciding: Option<(String, crate::storage::log::LogConfig)>,
    applying: Option<Sweep>,
}

impl AlterConfigs {
    pub fn new(request: AlterConfigsRequest) -> Self {
        Self {
            todo: request.topics.into(),
            validate_only: request.validate_only,
            done: Vec::new(),
            deciding: None,
            applying: None,
        }
    }

    pub fn step(&mut self, world: &mut World<'_>, mut resume: Option<Resume>) -> Next {
        loop {
            if let Some((name, config)) = self.deciding.take() {
                match single(resume.take()) {
                    Ok(_) if self.validate_only => self.done.push(Ok(())),
                    Ok(view) => {
                        // The logs open here take the configs; a log the view moved here or
                        // away since is the reconciliation's to open or delete.
                        let meta = TopicMeta::from_view(&view);
                        let open = world.open_replicas(&name, &meta);
                        let sweep = Sweep::new(&name, open, SweepKind::SetConfig(config));
                        self.applying = Some(sweep);
                        world.logs_follow_kept(&name, &meta, false);
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
                    Some((partition, super::sweep::PartitionFailure::Refused(refused))) => {
                        self.done.push(Err(Refusal::new(
                            refused.code,
                            format!(
                                "configs saved, but partition {partition} could not apply them: {}",
                                refused.message
                            ),
                        )))
                    }
                    Some((_, lost @ super::sweep::PartitionFailure::Lost(_))) => {
                        return Next::Done(TopicsReply::Failed(lost.to_string()))
                    }
                }
                self.applying = None;
            }
            let Some((name, change)) = self.todo.pop_front() else {
                return Next::Done(TopicsReply::ConfigsAltered(std::mem::take(&mut self.done)));
            };
            match alteration(world, &name, &change) {
                Err(refusal) => self.done.push(Err(refusal)),
                Ok((configs, resolved)) => {
                    let request = LeaderRequest::AlterTopicConfigs {
                        topics: vec![(name.clone(), configs)],
                        validate_only: self.validate_only,
                    };
                    self.deciding = Some((name, resolved));
                    return Next::Propose(request, OnFullDisk::Answer);
                }
            }
        }
    }
}

/// The topic's new overrides, worked out from its current ones, and their log config.
fn alteration(
    world: &World<'_>,
    name: &str,
    change: &ConfigChange,
) -> Result<
    (
        std::collections::BTreeMap<String, String>,
        crate::storage::log::LogConfig,
    ),
    Refusal,
> {
    let meta = world.view().get(name).ok_or_else(|| unknown_topic(name))?;
    let configs = match change {
        ConfigChange::Incremental(ops) => apply_ops(&meta.configs, ops)?,
        ConfigChange::Replace(configs) => replacement(configs)?,
    };
    let resolved = topic_config::resolve(&world.settings.log, &configs)
        .map_err(|message| Refusal::new(ErrorCode::INVALID_CONFIG, message))?;
    Ok((configs, resolved))
}
