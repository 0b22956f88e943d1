//! Eligible leader replicas (Kafka's KIP-966 ELR, `PartitionChangeBuilder.maybePopulateTargetElr`):
//! which replicas outside the ISR may still lead without losing a committed record.
//!
//! A leader's high watermark stays where it is while its ISR is smaller than the effective
//! `min.insync.replicas` (KAFKA-15583; `partition::role`). So a replica that leaves the ISR
//! while the ISR is, or becomes, that small holds everything below the high watermark for as
//! long as the ISR stays small. Those replicas are the partition's ELR:
//! * an ISR change that leaves at least min.insync.replicas members empties the ELR;
//! * one that leaves fewer adds the replicas that left the ISR to the ELR; a replica that
//!   joins the ISR or leaves the assignment leaves the ELR (`apply` does that part);
//! * a broker that restarts after an unclean shutdown (it may have lost what it had not
//!   synced; an empty disk is one) leaves every ELR, and the ISRs it is the fenced last member
//!   of when an eligible replica remains ([`super::election::on_unclean_restart`]).
//!
//! Elections ([`super::election`]) take an ISR member first; when none can lead, the first
//! acceptable ELR member in assignment order, whose ISR is then itself alone. So "the last
//! replica standing" (KIP-966's case: the ISR shrank to the leader, which then crashed and
//! lost its unsynced suffix) no longer leads again over a replica that still holds it: with
//! min.insync.replicas = N, acknowledged records survive N − 1 such losses.
//!
//! Rill keeps Kafka's rules with one difference of form: the ISR is emptied only when an
//! unclean restart removes its last member and an eligible replica remains (Kafka empties it
//! whenever its last member is fenced and moves that member to the ELR; here the fenced last
//! member stays in the ISR, which elects the same replicas in the same order). Nothing here
//! replaces Kafka's "last known leader": a partition whose every replica restarted uncleanly
//! keeps its last ISR member, which leads again when it is back, as before KIP-966.

use super::defaults::TopicDefaults;
use super::image::{MetadataImage, PartitionImage, TopicImage};
use super::records::{MetadataRecord, TopicId};
use crate::faults::{canary, Canary};
use crate::types::NodeId;

/// The topic config read here (Kafka's, with the broker's default).
pub const MIN_ISR_KEY: &str = "min.insync.replicas";

/// The effective `min.insync.replicas` of `partition` of `topic`: the topic's (or the broker's
/// `default`), at most its replication factor (Kafka's `effectiveMinIsr`).
pub fn min_isr(topic: &TopicImage, partition: &PartitionImage, default: u32) -> usize {
    let configured = (topic.configs.get(MIN_ISR_KEY))
        .and_then(|value| value.trim().parse::<u32>().ok())
        .unwrap_or(default);
    (configured as usize).clamp(1, partition.replicas.len().max(1))
}

/// The ELR once a change took the partition from `before` to `after` (`after.elr` already
/// without the replicas that joined the ISR or left the assignment): empty with enough in-sync
/// replicas, else the replicas that were in the ISR or the ELR and are not in the ISR now, but
/// `unclean` (a broker back from an unclean shutdown), in assignment order.
pub fn next(
    before: &PartitionImage,
    after: &PartitionImage,
    min_isr: usize,
    unclean: Option<NodeId>,
) -> Vec<NodeId> {
    if after.isr.len() >= min_isr {
        return Vec::new();
    }
    let was_eligible =
        |r: &NodeId| before.isr.contains(r) || before.elr.contains(r) || after.elr.contains(r);
    (after.replicas.iter().copied())
        .filter(|r| was_eligible(r) && !after.isr.contains(r) && Some(*r) != unclean)
        .collect()
}

/// `records` (one entry, worked out against `image`) with each partition change followed by
/// the `SetEligibleLeaders` it calls for. A `SetEligibleLeaders` already in `records` stays
/// after the one inserted for the same change, so it has the last word (an unclean restart's).
pub fn follow(
    image: &MetadataImage,
    records: Vec<MetadataRecord>,
    defaults: &TopicDefaults,
) -> Vec<MetadataRecord> {
    let moves_elrs = |r: &MetadataRecord| partition_key(r).is_some() || min_isr_change(r).is_some();
    if !records.iter().any(moves_elrs) {
        return records; // no image to copy: most entries (registrations, topics, ids)
    }
    let mut scratch = image.clone();
    let index = scratch.applied_index() + 1;
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let before = partition_key(&record)
            .and_then(|(topic, partition)| partition_of(&scratch, &topic, partition).cloned());
        let applied = scratch.apply(index, &record).is_ok();
        let sets = match applied {
            true => called_for(&scratch, &record, before.as_ref(), defaults),
            false => Vec::new(),
        };
        out.push(record);
        for set in sets {
            let _ = scratch.apply(index, &set);
            out.push(set);
        }
    }
    out
}

/// The `SetEligibleLeaders` records `record`, just applied to `image`, calls for: a partition
/// change (from `before`), the ELR it leaves; a write of a topic's min.insync.replicas, every
/// ELR of the topic emptied, and of the cluster-wide one, every ELR of the cluster, changed or
/// not (the high watermark froze under the old value, so the ELR says nothing under the new
/// one; Kafka clears them the same way), but a partition none of whose ISR can lead (Kafka's
/// empty ISR; Rill keeps a fenced last member there), whose ELR is all it has left.
fn called_for(
    image: &MetadataImage,
    record: &MetadataRecord,
    before: Option<&PartitionImage>,
    defaults: &TopicDefaults,
) -> Vec<MetadataRecord> {
    let set = |topic_id, partition, elr| MetadataRecord::SetEligibleLeaders {
        topic_id,
        partition,
        elr,
    };
    if let Some(scope) = min_isr_change(record) {
        if canary(Canary::ElrKeptOnMinIsrChange) && scope.is_none() {
            return Vec::new();
        }
        return (image.topics())
            .filter(|t| scope.is_none_or(|id| t.id == *id))
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |(partition, p)| (t.id, partition, p))
            })
            // Spared: a partition none of whose ISR can lead (empty, or its fenced last
            // member, which Rill keeps in the ISR): its ELR is what it has left.
            .filter(|(_, _, p)| !p.elr.is_empty() && p.isr.iter().any(|r| image.is_unfenced(*r)))
            .map(|(topic_id, partition, _)| set(topic_id, *partition, Vec::new()))
            .collect();
    }
    let (Some((topic_id, partition)), Some(before)) = (partition_key(record), before) else {
        return Vec::new();
    };
    let Some(topic) = image.topic(&topic_id) else {
        return Vec::new();
    };
    let Some(after) = topic.partitions.get(&partition) else {
        return Vec::new();
    };
    let elr = next(
        before,
        after,
        min_isr(topic, after, defaults.min_isr_in(image)),
        None,
    );
    match elr != after.elr {
        true => vec![set(topic_id, partition, elr)],
        false => Vec::new(),
    }
}

/// The partition a change of one partition (its ISR, leader or assignment) names.
fn partition_key(record: &MetadataRecord) -> Option<(TopicId, i32)> {
    match record {
        MetadataRecord::ChangePartition {
            topic_id,
            partition,
            ..
        }
        | MetadataRecord::ReassignPartition {
            topic_id,
            partition,
            ..
        } => Some((*topic_id, *partition)),
        _ => None,
    }
}

/// Which `min.insync.replicas` `record` writes: a topic's (`Some(Some(id))`) or the
/// cluster-wide default (`Some(None)`).
fn min_isr_change(record: &MetadataRecord) -> Option<Option<&TopicId>> {
    match record {
        MetadataRecord::SetTopicConfig { topic_id, key, .. } if key == MIN_ISR_KEY => {
            Some(Some(topic_id))
        }
        MetadataRecord::SetBrokerConfig {
            broker: None, key, ..
        } if key == MIN_ISR_KEY => Some(None),
        _ => None,
    }
}

fn partition_of<'a>(
    image: &'a MetadataImage,
    topic: &TopicId,
    index: i32,
) -> Option<&'a PartitionImage> {
    image.topic(topic)?.partitions.get(&index)
}
