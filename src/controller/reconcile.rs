//! This node's partition logs brought in line with the metadata log: at start-up
//! ([`OpenAll`]: open, recovering, this node's replica of every partition) and after every
//! applied change ([`Reconcile`]: open the replicas newly placed here, reconfigure those whose
//! topic configs changed, delete those of deleted topics or moved away). Both end with a
//! [`StraySweep`]: directories of topics deleted while this broker was down. Jobs of
//! [`super::admin::Admin`], in the same queue as administrations.
//!
//! A log that cannot open does not stop the broker (issue 9: one unopenable log made it
//! unrestartable): that partition answers KAFKA_STORAGE_ERROR and is retried when used.

use std::collections::{BTreeMap, VecDeque};

use super::admin::{Next, World};
use super::metadata::eligible::MIN_ISR_KEY;
use super::strays::StraySweep;
use super::sweep::{log_config, Answer, PartitionFailure, Sweep, SweepKind};
use crate::messages::{OpenAllReport, TopicMeta, TopicsReply};

/// Start-up: opens this node's replica of every partition of the metadata.
pub struct OpenAll {
    /// The topics the logs are opened for (they become the reconciled state).
    basis: BTreeMap<String, TopicMeta>,
    todo: VecDeque<Sweep>,
    report: OpenAllReport,
    opening: Option<Sweep>,
    strays: StraySweep,
    /// The default `min.insync.replicas` the logs are opened with.
    min_isr: u32,
}

impl OpenAll {
    pub fn new(world: &World<'_>) -> Self {
        let basis = world.view().clone();
        let me = world.me();
        let mut report = OpenAllReport::default();
        let mut todo = VecDeque::new();
        for (name, meta) in &basis {
            let mine = meta.replicas_on(me);
            if mine.is_empty() {
                continue;
            }
            report.topics += 1;
            report.partitions += mine.len() as i64;
            todo.push_back(Sweep::ensure(name, meta, mine, world.settings));
        }
        let strays = StraySweep::at_start(&world.topics.applied.deleted_topic_ids);
        Self {
            basis,
            todo,
            report,
            opening: None,
            strays,
            min_isr: world.settings.log.min_insync_replicas,
        }
    }

    pub fn step(&mut self, world: &mut World<'_>, mut answer: Option<Answer>) -> Next {
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
            let Some(sweep) = self.todo.pop_front() else {
                break;
            };
            self.opening = Some(sweep);
        }
        if let Some(call) = self.strays.step(answer, &mut world.topics.strays_swept) {
            return Next::Call(call);
        }
        world.topics.reconciled = Some(std::mem::take(&mut self.basis));
        world.topics.reconciled_min_isr = Some(self.min_isr);
        Next::Done(TopicsReply::Opened(std::mem::take(&mut self.report)))
    }
}

/// After a change applied: every difference between the reconciled topics and the view, as
/// sweeps of this node's replicas.
pub struct Reconcile {
    basis: BTreeMap<String, TopicMeta>,
    /// The reconciled topics it started from (a topic whose sweep failed keeps its entry, so
    /// the next reconciliation tries again).
    before: BTreeMap<String, TopicMeta>,
    failed: Vec<String>,
    todo: VecDeque<Sweep>,
    running: Option<Sweep>,
    strays: StraySweep,
    /// The default `min.insync.replicas` the logs are brought to.
    min_isr: u32,
}

impl Reconcile {
    /// Nothing to do before start-up opened the logs (`TopicsState::reconciled`).
    pub fn new(world: &World<'_>) -> Self {
        let basis = world.view().clone();
        let before = world.topics.reconciled.clone();
        let todo = (before.as_ref())
            .map(|before| differences(before, &basis, world))
            .unwrap_or_default();
        let strays = match &world.topics.reconciled {
            Some(reconciled) => {
                let known = reconciled.values().map(|meta| meta.id).collect();
                let topics = &world.topics;
                StraySweep::after_change(
                    &topics.applied.deleted_topic_ids,
                    &known,
                    &topics.strays_swept,
                )
            }
            None => StraySweep::idle(),
        };
        Self {
            basis,
            before: before.unwrap_or_default(),
            failed: Vec::new(),
            todo,
            running: None,
            strays,
            min_isr: world.settings.log.min_insync_replicas,
        }
    }

    pub fn step(&mut self, world: &mut World<'_>, mut answer: Option<Answer>) -> Next {
        loop {
            if let Some(sweep) = &mut self.running {
                if let Some(call) = sweep.step(answer.take()) {
                    return Next::Call(call);
                }
                if let Some(error) = sweep.error() {
                    let refused = matches!(sweep.failure, Some((_, PartitionFailure::Refused(_))));
                    // A topic replacing an earlier one of its name: the refusal may be the
                    // earlier topic's directory that could not be removed, which nothing
                    // retries but the next reconciliation (the earlier topic stays reconciled,
                    // so its deletion still deletes whatever the name holds).
                    let replacing = (self.before.get(&sweep.topic))
                        .zip(self.basis.get(&sweep.topic))
                        .is_some_and(|(old, new)| old.id != new.id);
                    if sweep.is_ensure() && refused && !replacing {
                        // The partitions actor holds a log that failed to open offline and
                        // retries it on its own timer: the topic is reconciled, so that its
                        // deletion or a move deletes that log too (found by the simulator,
                        // seed 301: a log reopened by the retry outlived its topic's
                        // deletion, which this node's reconciliation had never taken in).
                        tracing::warn!(topic = %sweep.topic, %error, "a partition log could not open; it stays offline and is retried");
                    } else {
                        tracing::warn!(topic = %sweep.topic, %error, "a partition log could not follow the metadata; tried again at the next change");
                        self.failed.push(sweep.topic.clone());
                    }
                }
                self.running = None;
            }
            let Some(sweep) = self.todo.pop_front() else {
                break;
            };
            self.running = Some(sweep);
        }
        if let Some(call) = self.strays.step(answer, &mut world.topics.strays_swept) {
            return Next::Call(call);
        }
        // Only a reconciliation after start-up runs at all (see `TopicsState`).
        if world.topics.reconciled.is_some() {
            let mut reconciled = std::mem::take(&mut self.basis);
            for name in &self.failed {
                match self.before.get(name) {
                    Some(old) => reconciled.insert(name.clone(), old.clone()),
                    None => reconciled.remove(name),
                };
            }
            world.topics.reconciled = Some(reconciled);
            // A topic whose sweep failed keeps its old entry, and may have missed the default:
            // then the next reconciliation brings every log the default it finds.
            world.topics.reconciled_min_isr = self.failed.is_empty().then_some(self.min_isr);
        }
        Next::Done(TopicsReply::Opened(OpenAllReport::default()))
    }
}

/// The sweeps that take this node's logs from `before` to `after`: deletions first, then
/// openings and config changes.
///
/// A topic deleted and created again under its name (another id) deletes only the old
/// partitions the new topic does not place here: the new topic's Ensure of a partition held
/// for the old one removes that first (`partition::actor`'s `held_for_another_topic` and
/// `foreign_dir`). A Delete by name there could remove the new topic's own log, opened meanwhile
/// by an administration of the new topic (a CreatePartitions, whose Ensures open every
/// partition placed here) that could not record itself as reconciled over the old topic.
fn differences(
    before: &BTreeMap<String, TopicMeta>,
    after: &BTreeMap<String, TopicMeta>,
    world: &World<'_>,
) -> VecDeque<Sweep> {
    let me = world.me();
    // The cluster-wide min.insync.replicas changed: every log takes it but a topic's own.
    let min_isr_moved =
        world.topics.reconciled_min_isr != Some(world.settings.log.min_insync_replicas);
    let mut deletes = VecDeque::new();
    let mut rest = VecDeque::new();
    for (name, old) in before {
        let old_mine = old.replicas_on(me);
        let gone: Vec<i32> = match after.get(name) {
            None => old_mine,
            Some(new) => {
                let new_mine = new.replicas_on(me);
                (old_mine.into_iter())
                    .filter(|p| !new_mine.contains(p))
                    .collect()
            }
        };
        if !gone.is_empty() {
            deletes.push_back(Sweep::new(name, gone, SweepKind::Delete));
        }
    }
    for (name, new) in after {
        let new_mine = new.replicas_on(me);
        let old = before.get(name).filter(|old| old.id == new.id);
        let old_mine = old.map(|o| o.replicas_on(me)).unwrap_or_default();
        let (kept, added): (Vec<i32>, Vec<i32>) =
            new_mine.into_iter().partition(|p| old_mine.contains(p));
        if !added.is_empty() {
            rest.push_back(Sweep::ensure(name, new, added, world.settings));
        }
        let default_moved = min_isr_moved && !new.configs.contains_key(MIN_ISR_KEY);
        if old.is_some_and(|o| o.configs != new.configs || default_moved) && !kept.is_empty() {
            let config = log_config(name, new, world.settings);
            rest.push_back(Sweep::new(name, kept, SweepKind::SetConfig(config)));
        }
    }
    deletes.extend(rest);
    deletes
}
