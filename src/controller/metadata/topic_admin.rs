//! The controller's topic administration (Kafka's `ReplicationControlManager.createTopics`,
//! `deleteTopics` and `createPartitions`, and `ConfigurationControlManager` for topic configs):
//! what a request changes, worked out on an image (the leader's projected one) as the records
//! of one entry, with each topic's outcome in request order.
//!
//! Each topic is checked against the image as the topics before it in the request leave it
//! (a scratch copy the records are applied to), so a request never contradicts itself. The
//! records go into one entry and are applied together; should a concurrent change make one
//! skip, the leader answers that topic with an error once the entry applied.
//!
//! Pure: the caller passes the random numbers (topic ids, where placement starts).

use std::collections::{BTreeMap, BTreeSet};

use super::image::{MetadataImage, TopicImage};
use super::placement::{place_replicas, PlacementRequest, PlacementSeed};
use super::records::{MetadataRecord, TopicId};
use crate::controller::topics::{check_config_keys, check_name, collision_key, unknown_topic};
use crate::limits::{BROKER_PARTITIONS_MAX, TOPIC_PARTITIONS_MAX};
use crate::messages::quorum::{PartitionView, TopicGrowth, TopicSpec, TopicView};
use crate::messages::TopicRef;
use crate::types::topic_name::shown;
use crate::types::{ErrorCode, LeaderEpoch, NodeId, Refusal};

/// The random numbers a request may need, drawn by the caller from its seeded RNG.
pub trait Draw {
    /// A new topic id (16 random bytes).
    fn topic_id(&mut self) -> TopicId;
    /// Where placement starts: each number uniform below `brokers`.
    fn placement(&mut self, brokers: u32) -> PlacementSeed;
}

impl<R: rand::Rng> Draw for R {
    fn topic_id(&mut self) -> TopicId {
        let mut id = [0u8; 16];
        self.fill_bytes(&mut id);
        id
    }

    fn placement(&mut self, brokers: u32) -> PlacementSeed {
        let n = brokers.max(1);
        PlacementSeed {
            start_index: self.gen_range(0..n),
            replica_shift: self.gen_range(0..n),
        }
    }
}

/// A request worked out: the entry's records (none when nothing changes or it only
/// validates) and each topic's outcome, in request order.
#[derive(Debug, Default)]
pub struct Plan {
    pub records: Vec<MetadataRecord>,
    pub outcomes: Vec<Result<TopicView, Refusal>>,
}

impl Plan {
    /// Applies `records` (one topic's) to the scratch image (`base` with the records kept so
    /// far) and keeps them, unless only validating; the topic's outcome is its view afterwards.
    fn commit(
        &mut self,
        base: &MetadataImage,
        scratch: &mut MetadataImage,
        records: Vec<MetadataRecord>,
        validate_only: bool,
        view_of: impl Fn(&MetadataImage) -> Option<TopicView>,
    ) {
        // Only a validation works on a copy; a change goes into the scratch image itself (no
        // copy of the whole image per topic), which is rebuilt in the rare case that a record
        // checked above still does not fit.
        let mut trial = validate_only.then(|| scratch.clone());
        let target = trial.as_mut().unwrap_or(scratch);
        let index = target.applied_index() + 1;
        for record in &records {
            if let Err(skip) = target.apply(index, record) {
                if !validate_only {
                    *scratch = base.clone();
                    let index = scratch.applied_index() + 1;
                    for kept in &self.records {
                        let _ = scratch.apply(index, kept);
                    }
                }
                let refusal = Refusal::new(ErrorCode::INVALID_REQUEST, skip.to_string());
                self.outcomes.push(Err(refusal));
                return;
            }
        }
        let view = view_of(trial.as_ref().unwrap_or(scratch));
        if !validate_only {
            self.records.extend(records);
        }
        self.outcomes.push(view.ok_or_else(|| {
            Refusal::new(ErrorCode::UNKNOWN_SERVER_ERROR, "the change left no topic")
        }));
    }
}

/// A topic as a client is told of it.
pub fn view(topic: &TopicImage) -> TopicView {
    TopicView {
        name: topic.name.clone(),
        id: topic.id,
        configs: topic.configs.clone(),
        partitions: (topic.partitions.values())
            .map(|p| PartitionView {
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                adding: p.adding.clone(),
                removing: p.removing.clone(),
                elr: p.elr.clone(),
            })
            .collect(),
    }
}

/// Names the request has more than once: Kafka refuses every copy.
fn twice<'a>(names: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    names
        .filter(|n| !seen.insert(*n))
        .map(str::to_owned)
        .collect()
}

fn duplicate(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::INVALID_REQUEST,
        format!(
            "topic '{}' appears more than once in the request",
            shown(name)
        ),
    )
}

/// Kafka's CreateTopics.
pub fn create_topics(
    image: &MetadataImage,
    topics: &[TopicSpec],
    validate_only: bool,
    draw: &mut dyn Draw,
) -> Plan {
    let names = topics.iter().map(|t| t.name.as_str());
    each_once(image, topics, names, validate_only, |scratch, spec| {
        creation(scratch, spec, draw)
    })
}

/// Plans `change` for each topic of a request in turn, on the image as the topics before it
/// leave it; a name the request has twice is refused every time (Kafka's rule).
fn each_once<'a, T>(
    image: &MetadataImage,
    topics: &[T],
    names: impl Iterator<Item = &'a str>,
    validate_only: bool,
    mut change: impl FnMut(&MetadataImage, &T) -> Result<(TopicId, Vec<MetadataRecord>), Refusal>,
) -> Plan {
    let mut scratch = image.clone();
    let mut plan = Plan::default();
    let names: Vec<&str> = names.collect();
    let twice = twice(names.iter().copied());
    for (topic, name) in topics.iter().zip(names) {
        if twice.contains(name) {
            plan.outcomes.push(Err(duplicate(name)));
            continue;
        }
        match change(&scratch, topic) {
            Ok((id, records)) => {
                plan.commit(image, &mut scratch, records, validate_only, |image| {
                    image.topic(&id).map(view)
                })
            }
            Err(refusal) => plan.outcomes.push(Err(refusal)),
        }
    }
    plan
}

/// The records that create `spec`, checked against `image`.
fn creation(
    image: &MetadataImage,
    spec: &TopicSpec,
    draw: &mut dyn Draw,
) -> Result<(TopicId, Vec<MetadataRecord>), Refusal> {
    let name = spec.name.as_str();
    check_name(name)?;
    if image.topic_by_name(name).is_some() {
        return Err(Refusal::new(
            ErrorCode::TOPIC_ALREADY_EXISTS,
            format!("topic '{name}' already exists"),
        ));
    }
    let key = collision_key(name);
    if let Some(other) = image.topics().find(|t| collision_key(&t.name) == key) {
        return Err(Refusal::new(
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            format!(
                "topic '{name}' collides with existing topic '{}' ('.' and '_' are treated alike)",
                other.name
            ),
        ));
    }
    check_config_keys(&spec.configs)?;
    let replicas = match &spec.assignment {
        Some(assignment) => {
            let rf = assignment.first().map_or(0, Vec::len);
            check_assignment(image, name, assignment, rf)?;
            if assignment.len() as i64 > i64::from(TOPIC_PARTITIONS_MAX) {
                return Err(Refusal::new(
                    ErrorCode::INVALID_PARTITIONS,
                    format!(
                        "topic '{name}': more than the {TOPIC_PARTITIONS_MAX} partitions allowed"
                    ),
                ));
            }
            assignment.clone()
        }
        None => place(image, 0, spec.partitions, spec.replication_factor, draw)?,
    };
    check_broker_partitions(image, &replicas)?;
    let mut id = draw.topic_id();
    while id == [0; 16] || image.topic(&id).is_some() || image.was_deleted(&id) {
        id = draw.topic_id();
    }
    let mut records = vec![MetadataRecord::CreateTopic {
        name: name.to_owned(),
        topic_id: id,
        configs: spec.configs.clone(),
    }];
    records.extend(new_partitions(image, id, 0, replicas));
    Ok((id, records))
}

/// Kafka's placement over the unfenced brokers.
fn place(
    image: &MetadataImage,
    first_partition: i32,
    count: i32,
    replication_factor: i16,
    draw: &mut dyn Draw,
) -> Result<Vec<Vec<NodeId>>, Refusal> {
    let brokers = image.live_brokers();
    let request = PlacementRequest {
        first_partition,
        count,
        replication_factor,
    };
    place_replicas(&brokers, request, draw.placement(brokers.len() as u32))
}

/// A manual assignment: every partition with `rf` distinct replicas, each a registered
/// broker (Kafka: INVALID_REPLICA_ASSIGNMENT otherwise).
fn check_assignment(
    image: &MetadataImage,
    name: &str,
    assignment: &[Vec<NodeId>],
    rf: usize,
) -> Result<(), Refusal> {
    let refuse = |why: String| {
        Err(Refusal::new(
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            format!("topic '{name}': {why}"),
        ))
    };
    if assignment.is_empty() {
        return refuse("an assignment of no partitions".into());
    }
    for (index, replicas) in assignment.iter().enumerate() {
        if replicas.is_empty() || replicas.len() != rf {
            return refuse(format!(
                "partition {index} has {} replica(s), not {rf}",
                replicas.len()
            ));
        }
        if replicas.iter().collect::<BTreeSet<_>>().len() != replicas.len() {
            return refuse(format!("partition {index} names a broker twice"));
        }
        if let Some(broker) = replicas.iter().find(|b| image.broker(**b).is_none()) {
            return refuse(format!("unknown broker {broker} in the assignment"));
        }
        // Kafka's rule: some replica must be able to lead.
        if !replicas.iter().any(|b| image.is_unfenced(*b)) {
            return refuse(format!(
                "every broker of partition {index}'s assignment is fenced"
            ));
        }
    }
    Ok(())
}

/// Kafka's per-broker bound on replicas: POLICY_VIOLATION past [`BROKER_PARTITIONS_MAX`].
fn check_broker_partitions(image: &MetadataImage, added: &[Vec<NodeId>]) -> Result<(), Refusal> {
    let mut hosted: BTreeMap<NodeId, i64> = BTreeMap::new();
    for topic in image.topics() {
        for partition in topic.partitions.values() {
            for replica in &partition.replicas {
                *hosted.entry(*replica).or_default() += 1;
            }
        }
    }
    for replica in added.iter().flatten() {
        let count = hosted.entry(*replica).or_default();
        *count += 1;
        if *count > BROKER_PARTITIONS_MAX {
            return Err(Refusal::new(
                ErrorCode::POLICY_VIOLATION,
                format!("broker {replica} would host more than its limit of {BROKER_PARTITIONS_MAX} partitions"),
            ));
        }
    }
    Ok(())
}

/// The records of new partitions `first..` with these replicas: the in-sync replicas are the
/// unfenced ones, and the first of them leads (none: the partition starts offline).
fn new_partitions(
    image: &MetadataImage,
    topic_id: TopicId,
    first: i32,
    replicas: Vec<Vec<NodeId>>,
) -> impl Iterator<Item = MetadataRecord> + '_ {
    (first..).zip(replicas).map(move |(partition, replicas)| {
        let live: Vec<NodeId> = (replicas.iter().copied())
            .filter(|r| image.is_unfenced(*r))
            .collect();
        // Kafka never records an empty ISR: with no replica alive, they all stay in it.
        let isr = if live.is_empty() {
            replicas.clone()
        } else {
            live
        };
        let leader = (replicas.iter().copied()).find(|r| image.is_unfenced(*r));
        MetadataRecord::CreatePartition {
            topic_id,
            partition,
            replicas,
            isr,
            leader,
            leader_epoch: LeaderEpoch(0),
            partition_epoch: 0,
        }
    })
}

/// Kafka's DeleteTopics (by name or id).
pub fn delete_topics(image: &MetadataImage, topics: &[TopicRef]) -> Plan {
    let mut scratch = image.clone();
    let mut plan = Plan::default();
    let mut seen = BTreeSet::new();
    let twice: BTreeSet<&TopicRef> = topics.iter().filter(|t| !seen.insert(*t)).collect();
    for topic in topics {
        if twice.contains(topic) {
            let refusal = match topic {
                TopicRef::Name(name) => duplicate(name),
                TopicRef::Id(_) => Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    "a topic id appears more than once in the request",
                ),
            };
            plan.outcomes.push(Err(refusal));
            continue;
        }
        let found = match topic {
            TopicRef::Name(name) => scratch
                .topic_by_name(name)
                .ok_or_else(|| unknown_topic(name)),
            TopicRef::Id(id) => scratch
                .topic(id)
                .ok_or_else(|| Refusal::new(ErrorCode::UNKNOWN_TOPIC_ID, "no topic has this id")),
        };
        match found.map(|t| (t.id, view(t))) {
            Ok((id, before)) => {
                let records = vec![MetadataRecord::DeleteTopic { topic_id: id }];
                plan.commit(image, &mut scratch, records, false, |_| {
                    Some(before.clone())
                });
            }
            Err(refusal) => plan.outcomes.push(Err(refusal)),
        }
    }
    plan
}

/// Kafka's CreatePartitions.
pub fn create_partitions(
    image: &MetadataImage,
    topics: &[TopicGrowth],
    validate_only: bool,
    draw: &mut dyn Draw,
) -> Plan {
    let names = topics.iter().map(|t| t.name.as_str());
    each_once(image, topics, names, validate_only, |scratch, growth| {
        grown(scratch, growth, draw)
    })
}

fn grown(
    image: &MetadataImage,
    growth: &TopicGrowth,
    draw: &mut dyn Draw,
) -> Result<(TopicId, Vec<MetadataRecord>), Refusal> {
    let name = growth.name.as_str();
    let topic = image
        .topic_by_name(name)
        .ok_or_else(|| unknown_topic(name))?;
    let current = topic.partitions.len() as i32;
    if growth.count <= current {
        return Err(Refusal::new(
            ErrorCode::INVALID_PARTITIONS,
            format!(
                "topic '{name}' has {current} partitions; the new count {} must be larger",
                growth.count
            ),
        ));
    }
    if growth.count > TOPIC_PARTITIONS_MAX {
        return Err(Refusal::new(
            ErrorCode::INVALID_PARTITIONS,
            format!(
                "topic '{name}': {} partitions is more than the {TOPIC_PARTITIONS_MAX} allowed",
                growth.count
            ),
        ));
    }
    let rf = topic.partitions.get(&0).map_or(1, |p| p.replicas.len());
    let added = growth.count - current;
    let replicas = match &growth.assignment {
        Some(assignment) => {
            if assignment.len() as i64 != i64::from(added) {
                return Err(Refusal::new(
                    ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                    format!(
                        "topic '{name}': {} replica assignments for {added} new partitions",
                        assignment.len()
                    ),
                ));
            }
            check_assignment(image, name, assignment, rf)?;
            assignment.clone()
        }
        None => place(image, current, added, rf as i16, draw)?,
    };
    check_broker_partitions(image, &replicas)?;
    let id = topic.id;
    Ok((id, new_partitions(image, id, current, replicas).collect()))
}

/// Topic config overrides replaced: a `SetTopicConfig` for each key that changes.
pub fn alter_topic_configs(
    image: &MetadataImage,
    topics: &[(String, BTreeMap<String, String>)],
    validate_only: bool,
) -> Plan {
    let mut scratch = image.clone();
    let mut plan = Plan::default();
    let twice = twice(topics.iter().map(|(name, _)| name.as_str()));
    for (name, configs) in topics {
        if twice.contains(name) {
            plan.outcomes.push(Err(duplicate(name)));
            continue;
        }
        let Some(topic) = scratch.topic_by_name(name) else {
            plan.outcomes.push(Err(unknown_topic(name)));
            continue;
        };
        if let Err(refusal) = check_config_keys(configs) {
            plan.outcomes.push(Err(refusal));
            continue;
        }
        let id = topic.id;
        let removed = (topic.configs.keys())
            .filter(|k| !configs.contains_key(*k))
            .map(|key| MetadataRecord::SetTopicConfig {
                topic_id: id,
                key: key.clone(),
                value: None,
            });
        let set = (configs.iter())
            .filter(|(k, v)| topic.configs.get(*k) != Some(*v))
            .map(|(key, value)| MetadataRecord::SetTopicConfig {
                topic_id: id,
                key: key.clone(),
                value: Some(value.clone()),
            });
        let records = removed.chain(set).collect();
        plan.commit(image, &mut scratch, records, validate_only, |image| {
            image.topic(&id).map(view)
        });
    }
    plan
}

#[cfg(test)]
#[path = "topic_admin_tests.rs"]
mod tests;
