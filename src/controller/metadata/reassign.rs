//! Moving a partition's replicas (Kafka's AlterPartitionReassignments at the controller:
//! `ReplicationControlManager.alterPartitionReassignments`, `PartitionReassignmentReplicas`
//! and `PartitionChangeBuilder.completeReassignmentIfNeeded`), in three steps:
//! 1. **grow**: the assignment becomes the target followed by the current replicas the target
//!    drops; `adding` = target − current, `removing` = current − target; leader and ISR stay;
//! 2. **catch up**: the added replicas (this node's reconciliation opens their logs) fetch from
//!    the leader, which asks for each in the ISR (AlterPartition) once it reaches the high
//!    watermark;
//! 3. **complete**, in the entry of the ISR change that makes it possible ([`complete`], called
//!    from [`super::alter_partition`]): once every added replica is in the ISR, the assignment
//!    becomes the target, the ISR loses the removed replicas, a removed leader hands over to
//!    the first target replica in the ISR that is unfenced, and the leader epoch goes up when a
//!    replica left (its fetches are fenced; Kafka bumps it likewise). The removed replicas'
//!    brokers delete their logs when they apply it.
//!
//! So the target's replicas hold every committed record before any old one goes: a move
//! never lowers the number of copies. A reassignment that adds nothing completes at once.
//!
//! A new reassignment of a partition under way replaces it, starting from the replicas before
//! it (those it was adding leave unless the new target keeps them); a cancellation (no target)
//! goes back to them. Either is refused when the ISR would be left empty (the in-sync
//! replicas are all ones being added): Kafka refuses it too, unless unclean election is on.
//!
//! The functions read the image and return records; they change nothing.

use std::collections::BTreeSet;

use super::election::{choose_leader, LeaderChoice};
use super::image::{MetadataImage, PartitionImage};
use super::records::{MetadataRecord, TopicId};
use crate::faults::{canary, Canary};
use crate::messages::quorum::{OngoingReassignment, ReassignOutcome, Reassignment};
use crate::types::{ErrorCode, NodeId, Refusal};

/// An AlterPartitionReassignments' records (one per partition that changes) and each
/// partition's outcome, in request order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReassignPlan {
    pub records: Vec<MetadataRecord>,
    pub outcomes: Vec<ReassignOutcome>,
}

/// Works out `asked` against `image` (the controller's newest state, entries in flight
/// included).
pub fn alter_reassignments(
    image: &MetadataImage,
    asked: &[Reassignment],
    allow_replication_factor_change: bool,
) -> ReassignPlan {
    let mut plan = ReassignPlan::default();
    let mut seen = BTreeSet::new();
    for reassignment in asked {
        let key = (reassignment.topic.as_str(), reassignment.partition);
        let result = if seen.insert(key) {
            decide(image, reassignment, allow_replication_factor_change)
        } else {
            Err(refusal(
                ErrorCode::INVALID_REQUEST,
                "the partition is named twice".into(),
            ))
        };
        let result = result.map(|record| plan.records.extend(record));
        plan.outcomes.push(ReassignOutcome {
            topic: reassignment.topic.clone(),
            partition: reassignment.partition,
            result,
        });
    }
    plan
}

/// The reassignments under way of the partitions `asked` names (`None`: every one), by topic
/// then partition. A partition that is not known, or not being reassigned, is left out.
pub fn ongoing(image: &MetadataImage, asked: Option<&[(String, i32)]>) -> Vec<OngoingReassignment> {
    let wanted = asked.map(|asked| asked.iter().cloned().collect::<BTreeSet<_>>());
    let mut ongoing = Vec::new();
    for topic in image.topics() {
        for (&index, p) in topic.partitions.iter().filter(|(_, p)| p.reassigning()) {
            let named = (wanted.as_ref()).is_none_or(|w| w.contains(&(topic.name.clone(), index)));
            if named {
                ongoing.push(OngoingReassignment {
                    topic: topic.name.clone(),
                    partition: index,
                    replicas: p.replicas.clone(),
                    adding: p.adding.clone(),
                    removing: p.removing.clone(),
                });
            }
        }
    }
    ongoing.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    ongoing
}

/// One partition's record (none when nothing changes), or why not.
fn decide(
    image: &MetadataImage,
    asked: &Reassignment,
    allow_replication_factor_change: bool,
) -> Result<Option<MetadataRecord>, Refusal> {
    let unknown = || {
        let message = format!("no partition {}-{}", asked.topic, asked.partition);
        refusal(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, message)
    };
    let topic = image.topic_by_name(&asked.topic).ok_or_else(unknown)?;
    let before = topic.partitions.get(&asked.partition).ok_or_else(unknown)?;
    let original = original(before);
    let grown = match &asked.replicas {
        Some(target) => {
            check_target(image, target)?;
            if !allow_replication_factor_change && target.len() != original.len() {
                let message = format!(
                    "the target has {} replicas where the partition has {}, and the request \
                     does not allow a replication factor change",
                    target.len(),
                    original.len()
                );
                return Err(refusal(ErrorCode::INVALID_REPLICATION_FACTOR, message));
            }
            grow(image, before, target)?
        }
        None if !before.reassigning() => {
            let message = format!(
                "partition {}-{} is not being reassigned",
                asked.topic, asked.partition
            );
            return Err(refusal(ErrorCode::NO_REASSIGNMENT_IN_PROGRESS, message));
        }
        None => grow(image, before, &original)?,
    };
    let after = complete(image, &grown).unwrap_or(grown);
    Ok(record(topic.id, asked.partition, before, &after))
}

/// The replicas before the reassignment under way (all of them, with none).
fn original(p: &PartitionImage) -> Vec<NodeId> {
    (p.replicas.iter().copied())
        .filter(|r| !p.adding.contains(r))
        .collect()
}

/// Kafka's checks of a target assignment: some replicas, each once, each a registered broker
/// (fenced ones too: a broker down for maintenance may be the target, and the move waits).
fn check_target(image: &MetadataImage, target: &[NodeId]) -> Result<(), Refusal> {
    let invalid = |message: String| Err(refusal(ErrorCode::INVALID_REPLICA_ASSIGNMENT, message));
    if target.is_empty() {
        return invalid("the target assignment has no replicas".into());
    }
    if target.len() > i16::MAX as usize {
        return invalid(format!("{} replicas are too many", target.len()));
    }
    let distinct: BTreeSet<&NodeId> = target.iter().collect();
    if distinct.len() != target.len() {
        return invalid("the target assignment names a broker twice".into());
    }
    if let Some(unknown) = target.iter().find(|r| image.broker(**r).is_none()) {
        return invalid(format!(
            "the target assignment includes broker {unknown}, but no such broker is registered"
        ));
    }
    Ok(())
}

/// Step 1: the partition with `target` under way, from the replicas before any reassignment.
fn grow(
    image: &MetadataImage,
    p: &PartitionImage,
    target: &[NodeId],
) -> Result<PartitionImage, Refusal> {
    if !p.reassigning() && p.replicas == target {
        return Ok(p.clone());
    }
    let original = original(p);
    let mut next = p.clone();
    next.replicas = (target.iter().copied())
        .chain(original.iter().copied().filter(|r| !target.contains(r)))
        .collect();
    next.adding = (target.iter().copied())
        .filter(|r| !original.contains(r))
        .collect();
    next.removing = (original.iter().copied())
        .filter(|r| !target.contains(r))
        .collect();
    next.isr = (next.replicas.iter().copied())
        .filter(|r| p.isr.contains(r))
        .collect();
    if next.isr.is_empty() {
        let message = "the change would leave no in-sync replica (every one in sync is being \
                       added): let the reassignment under way complete first"
            .to_owned();
        return Err(refusal(ErrorCode::INVALID_REPLICA_ASSIGNMENT, message));
    }
    next.leader = match p.leader {
        Some(leader) if next.isr.contains(&leader) => Some(leader),
        None => None,
        // It was being added and leaves: the first in-sync replica that is unfenced leads.
        Some(_) => {
            match choose_leader(&next.replicas, &next.isr, |r| image.is_unfenced(r), false) {
                LeaderChoice::Clean(leader) => Some(leader),
                LeaderChoice::Unclean(_) | LeaderChoice::Offline => {
                    let message =
                        "no in-sync replica left by the change is live to lead".to_owned();
                    return Err(refusal(ErrorCode::INVALID_REPLICA_ASSIGNMENT, message));
                }
            }
        }
    };
    Ok(next)
}

/// Step 3: the partition with its reassignment completed, if every added replica is in the
/// ISR and the target has an in-sync replica to lead (the current leader if it stays, else
/// the first unfenced one in target order). `None`: not yet (or nothing under way).
pub fn complete(image: &MetadataImage, p: &PartitionImage) -> Option<PartitionImage> {
    if !p.reassigning() {
        return None;
    }
    let caught_up = p.adding.iter().all(|r| p.isr.contains(r));
    if !caught_up && !canary(Canary::ReassignmentCompletesEarly) {
        return None;
    }
    let target: Vec<NodeId> = (p.replicas.iter().copied())
        .filter(|r| !p.removing.contains(r))
        .collect();
    let mut isr: Vec<NodeId> = (target.iter().copied())
        .filter(|r| p.isr.contains(r))
        .collect();
    if canary(Canary::ReassignmentCompletesEarly) {
        // Planted: the target is taken as in sync, caught up or not.
        isr = target.clone();
    }
    if isr.is_empty() {
        return None;
    }
    let leader = match p.leader {
        None => None,
        Some(leader) if isr.contains(&leader) => Some(leader),
        Some(_) => match choose_leader(&target, &isr, |r| image.is_unfenced(r), false) {
            LeaderChoice::Clean(leader) => Some(leader),
            // No target replica can lead yet: the move waits (Kafka would leave the
            // partition offline).
            LeaderChoice::Unclean(_) | LeaderChoice::Offline => return None,
        },
    };
    Some(PartitionImage {
        replicas: target,
        isr,
        leader,
        adding: Vec::new(),
        removing: Vec::new(),
        ..p.clone()
    })
}

/// Whether going from `before` to `after` needs a new leader epoch: the leader changes, or a
/// replica leaves the assignment (its fetches in the old epoch are then fenced).
pub fn bumps_leader_epoch(before: &PartitionImage, after: &PartitionImage) -> bool {
    after.leader != before.leader || before.replicas.iter().any(|r| !after.replicas.contains(r))
}

/// The record taking the partition from `before` to `after` (epochs aside), if they differ.
pub fn record(
    topic_id: TopicId,
    partition: i32,
    before: &PartitionImage,
    after: &PartitionImage,
) -> Option<MetadataRecord> {
    let same = before.replicas == after.replicas
        && before.adding == after.adding
        && before.removing == after.removing
        && before.isr == after.isr
        && before.leader == after.leader;
    if same {
        return None;
    }
    Some(MetadataRecord::ReassignPartition {
        topic_id,
        partition,
        replicas: after.replicas.clone(),
        adding: after.adding.clone(),
        removing: after.removing.clone(),
        leader: bumps_leader_epoch(before, after).then_some(after.leader),
        isr: (before.isr != after.isr).then(|| after.isr.clone()),
    })
}

fn refusal(code: ErrorCode, message: String) -> Refusal {
    Refusal::new(code, message)
}
