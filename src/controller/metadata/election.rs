//! Who leads a partition after a broker is fenced or unfenced, as the changes the controller
//! proposes (Kafka's `ReplicationControlManager.generateLeaderAndIsrUpdates` with its
//! `bestLeader` choice; `PartitionChangeBuilder.electAnyLeader` is the newer form of the same
//! rules).
//!
//! For each partition concerned:
//! * the fenced broker leaves the ISR, unless it is the last member: the last member stays
//!   and the partition waits, offline, for it to come back — or for one of its eligible
//!   leader replicas ([`super::eligible`], KIP-966);
//! * the leader stays if it is still in the ISR; otherwise the new leader is the first
//!   replica, in assignment order, that is in the ISR and acceptable (registered, unfenced and
//!   not the broker being fenced);
//! * else the first acceptable eligible leader replica, in assignment order, which becomes the
//!   ISR alone (it holds everything below the high watermark; the ELR that follows is
//!   [`super::eligible::follow`]'s);
//! * with none, the partition has no leader (offline) — unless unclean election is enabled
//!   for the topic, when the first acceptable replica leads even outside the ISR, and the ISR
//!   becomes that replica alone (records the ISR had may be lost: the election says it was
//!   unclean so the controller can log it, as Kafka logs "UNCLEAN partition change").
//!
//! The functions read the image and return records; they change nothing. The controller puts
//! the records in the same entry as the `FenceBroker` / `UnfenceBroker` they follow from.

use super::eligible;
use super::image::{MetadataImage, PartitionImage, TopicImage};
use super::records::{MetadataRecord, TopicId};
use crate::controller::config_values::boolean;
use crate::faults::{canary, Canary};
use crate::messages::quorum::{ElectionOutcome, ElectionType};
use crate::types::{ErrorCode, NodeId};

/// The topic config that allows an unclean election (Kafka's, with the broker's default).
pub const UNCLEAN_ELECTION_KEY: &str = "unclean.leader.election.enable";

/// The outcome of choosing a leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderChoice {
    /// An ISR member: no committed record is lost.
    Clean(NodeId),
    /// A replica outside the ISR (unclean election enabled): records may be lost.
    Unclean(NodeId),
    /// No acceptable replica: the partition is offline.
    Offline,
}

/// Kafka's `bestLeader`: the first replica in assignment order that is `acceptable` and in the
/// ISR; else, if `unclean_allowed`, the first acceptable replica; else none.
pub fn choose_leader(
    replicas: &[NodeId],
    isr: &[NodeId],
    acceptable: impl Fn(NodeId) -> bool,
    unclean_allowed: bool,
) -> LeaderChoice {
    let candidates = || replicas.iter().copied().filter(|r| acceptable(*r));
    if canary(Canary::LeaderOutsideIsr) {
        if let Some(leader) = candidates().next() {
            return LeaderChoice::Clean(leader);
        }
    }
    if let Some(leader) = candidates().find(|r| isr.contains(r)) {
        return LeaderChoice::Clean(leader);
    }
    match candidates().next() {
        Some(leader) if unclean_allowed => LeaderChoice::Unclean(leader),
        _ => LeaderChoice::Offline,
    }
}

/// Kafka's ElectLeaders at the controller (`ReplicationControlManager.electLeaders`): the
/// `ChangePartition` records and each partition's outcome. `partitions` `None` asks for every
/// partition, and then the partitions that need no election are left out of the outcomes.
/// * Preferred: the first assigned replica leads if it is in the ISR and unfenced
///   (PREFERRED_LEADER_NOT_AVAILABLE otherwise; ELECTION_NOT_NEEDED if it leads already).
/// * Unclean: a partition without a leader gets one, from the ISR first, else any unfenced
///   replica, which becomes the ISR alone (ELIGIBLE_LEADERS_NOT_AVAILABLE with none;
///   ELECTION_NOT_NEEDED if it has a leader).
pub fn elect_leaders(
    image: &MetadataImage,
    election_type: ElectionType,
    partitions: Option<&[(String, i32)]>,
) -> (Vec<MetadataRecord>, Vec<ElectionOutcome>) {
    let mut records = Vec::new();
    let mut outcomes = Vec::new();
    let mut decide = |topic: &TopicImage, index: i32| {
        let result = match topic.partitions.get(&index) {
            None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            Some(p) => elect_one(image, p, election_type).map(|(leader, isr)| {
                records.push(MetadataRecord::ChangePartition {
                    topic_id: topic.id,
                    partition: index,
                    leader: Some(Some(leader)),
                    isr,
                });
            }),
        };
        ElectionOutcome {
            topic: topic.name.clone(),
            partition: index,
            result,
        }
    };
    match partitions {
        None => {
            for topic in image.topics() {
                for &index in topic.partitions.keys() {
                    let outcome = decide(topic, index);
                    if outcome.result != Err(ErrorCode::ELECTION_NOT_NEEDED) {
                        outcomes.push(outcome);
                    }
                }
            }
        }
        Some(asked) => {
            // A partition named twice is elected once (and answered once).
            let mut seen = std::collections::BTreeSet::new();
            for (name, index) in asked.iter().filter(|tp| seen.insert(*tp)) {
                outcomes.push(match image.topic_by_name(name) {
                    Some(topic) => decide(topic, *index),
                    None => ElectionOutcome {
                        topic: name.clone(),
                        partition: *index,
                        result: Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    },
                });
            }
        }
    }
    (records, outcomes)
}

/// One partition's election: the new leader and, for an unclean one, the new ISR.
fn elect_one(
    image: &MetadataImage,
    p: &PartitionImage,
    election_type: ElectionType,
) -> Result<(NodeId, Option<Vec<NodeId>>), ErrorCode> {
    let live = |r: NodeId| image.is_unfenced(r);
    match election_type {
        ElectionType::Preferred => {
            let preferred = *p
                .replicas
                .first()
                .ok_or(ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE)?;
            if p.leader == Some(preferred) {
                return Err(ErrorCode::ELECTION_NOT_NEEDED);
            }
            if !p.isr.contains(&preferred) || !live(preferred) {
                return Err(ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE);
            }
            Ok((preferred, None))
        }
        ElectionType::Unclean => {
            if p.leader.is_some() {
                return Err(ErrorCode::ELECTION_NOT_NEEDED);
            }
            // Kafka's order: the ISR, the eligible leader replicas, then any live replica.
            if let LeaderChoice::Clean(leader) = choose_leader(&p.replicas, &p.isr, live, false) {
                return Ok((leader, None));
            }
            if let Some(leader) = eligible_leader(p, &live) {
                return Ok((leader, Some(vec![leader])));
            }
            match choose_leader(&p.replicas, &p.isr, live, true) {
                LeaderChoice::Clean(leader) => Ok((leader, None)),
                LeaderChoice::Unclean(leader) => Ok((leader, Some(vec![leader]))),
                LeaderChoice::Offline => Err(ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE),
            }
        }
    }
}

/// The changes an election produced, and what the controller should say about them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Election {
    /// `ChangePartition` records, by topic id then partition.
    pub records: Vec<MetadataRecord>,
    /// Partitions whose new leader was elected from outside the ISR.
    pub unclean: Vec<(TopicId, i32)>,
    /// Partitions left without a leader by these changes.
    pub offline: Vec<(TopicId, i32)>,
}

/// The changes that fencing `broker` calls for: it leaves every ISR it is in (but the last
/// member of one), and the partitions it led elect another leader.
/// `unclean_default` is the broker's `unclean.leader.election.enable`, which a topic's own
/// config overrides.
pub fn on_fence(image: &MetadataImage, broker: NodeId, unclean_default: bool) -> Election {
    let acceptable = |r: NodeId| r != broker && image.is_unfenced(r);
    elect(
        image,
        unclean_default,
        |p| p.isr.contains(&broker),
        |p, unclean_allowed| change(p, Some(broker), &acceptable, unclean_allowed),
    )
}

/// The changes that unfencing `broker` calls for: every partition without a leader elects
/// one, `broker` now among the candidates (Kafka elects over all leaderless partitions here).
pub fn on_unfence(image: &MetadataImage, broker: NodeId, unclean_default: bool) -> Election {
    let acceptable = |r: NodeId| r == broker || image.is_unfenced(r);
    elect(
        image,
        unclean_default,
        |p| p.leader.is_none(),
        |p, unclean_allowed| change(p, None, &acceptable, unclean_allowed),
    )
}

/// Whether `topic` allows unclean elections: its own config if it has a valid one, else the
/// broker's default.
pub fn unclean_allowed(topic: &TopicImage, default: bool) -> bool {
    (topic.configs.get(UNCLEAN_ELECTION_KEY))
        .and_then(|value| boolean(UNCLEAN_ELECTION_KEY, value).ok())
        .unwrap_or(default)
}

/// What a partition becomes: its leader, its ISR, and whether the election was unclean.
struct Outcome {
    leader: Option<NodeId>,
    isr: Vec<NodeId>,
    unclean: bool,
}

/// Runs `decide` over every partition that `concerned` picks, in image order, with its topic's
/// unclean setting, and turns each outcome that differs from the partition into a record.
fn elect(
    image: &MetadataImage,
    unclean_default: bool,
    concerned: impl Fn(&PartitionImage) -> bool,
    decide: impl Fn(&PartitionImage, bool) -> Outcome,
) -> Election {
    let mut election = Election::default();
    for topic in image.topics() {
        let unclean = unclean_allowed(topic, unclean_default);
        for (&index, partition) in (topic.partitions.iter()).filter(|(_, p)| concerned(p)) {
            let outcome = decide(partition, unclean);
            let leader_moves = outcome.leader != partition.leader;
            let isr_moves = outcome.isr != partition.isr;
            if !leader_moves && !isr_moves {
                continue;
            }
            if outcome.unclean {
                election.unclean.push((topic.id, index));
            }
            if outcome.leader.is_none() && partition.leader.is_some() {
                election.offline.push((topic.id, index));
            }
            election.records.push(MetadataRecord::ChangePartition {
                topic_id: topic.id,
                partition: index,
                leader: leader_moves.then_some(outcome.leader),
                isr: isr_moves.then_some(outcome.isr),
            });
        }
    }
    election
}

/// Kafka's per-partition step: drop `remove` from the ISR, keep a leader still in it or
/// choose another, and never leave the ISR empty.
fn change(
    p: &PartitionImage,
    remove: Option<NodeId>,
    acceptable: &dyn Fn(NodeId) -> bool,
    unclean_allowed: bool,
) -> Outcome {
    let isr: Vec<NodeId> = (p.isr.iter().copied())
        .filter(|r| Some(*r) != remove)
        .collect();
    let choice = match p.leader {
        Some(leader) if isr.contains(&leader) => LeaderChoice::Clean(leader),
        _ => match choose_leader(&p.replicas, &isr, acceptable, false) {
            LeaderChoice::Offline => match eligible_leader(p, acceptable) {
                Some(leader) => {
                    return Outcome {
                        leader: Some(leader),
                        isr: vec![leader],
                        unclean: false,
                    }
                }
                None => choose_leader(&p.replicas, &isr, acceptable, unclean_allowed),
            },
            clean => clean,
        },
    };
    match choice {
        LeaderChoice::Unclean(leader) => Outcome {
            leader: Some(leader),
            isr: vec![leader],
            unclean: true,
        },
        LeaderChoice::Clean(leader) => Outcome {
            leader: Some(leader),
            // The leader is in the ISR already, but under the planted `LeaderOutsideIsr`.
            isr: joined(isr, leader),
            unclean: false,
        },
        LeaderChoice::Offline => Outcome {
            leader: None,
            isr: if isr.is_empty() { p.isr.clone() } else { isr },
            unclean: false,
        },
    }
}

/// The first acceptable eligible leader replica, in assignment order.
fn eligible_leader(p: &PartitionImage, acceptable: &dyn Fn(NodeId) -> bool) -> Option<NodeId> {
    (p.replicas.iter().copied()).find(|r| p.elr.contains(r) && acceptable(*r))
}

/// The changes that `broker`'s restart after an unclean shutdown calls for (Kafka's
/// `handleBrokerUncleanShutdown`; KIP-966): it may have lost what it had not synced, so it
/// leaves every ELR, and the ISR it is the last (fenced) member of when an eligible replica
/// remains — which leads if it can, else the partition waits for one with no ISR. A partition
/// with no eligible replica left keeps `broker` in its ISR: the last replica standing leads
/// again when it is back (Kafka's last known leader), whatever it lost. `image` has the
/// registration's fence applied (`broker` in no other ISR), so `broker` is no candidate.
pub fn on_unclean_restart(image: &MetadataImage, broker: NodeId, default_min_isr: u32) -> Election {
    let acceptable = |r: NodeId| r != broker && image.is_unfenced(r);
    let mut election = Election::default();
    for topic in image.topics() {
        let concerned = |p: &&PartitionImage| p.isr.contains(&broker) || p.elr.contains(&broker);
        for (&index, p) in topic.partitions.iter().filter(|(_, p)| concerned(p)) {
            let without = |set: &[NodeId]| -> Vec<NodeId> {
                set.iter().copied().filter(|r| *r != broker).collect()
            };
            let (mut isr, elr) = (without(&p.isr), without(&p.elr));
            if isr.is_empty() && elr.is_empty() {
                // The last replica standing: in the ISR (it may have been its last member, or
                // the last eligible replica of an empty one), where it leads again once back.
                isr = vec![broker];
            }
            let mut after = PartitionImage {
                isr: isr.clone(),
                elr,
                ..p.clone()
            };
            if !after.leader.is_some_and(|l| isr.contains(&l)) {
                after.leader = match choose_leader(&p.replicas, &isr, &acceptable, false) {
                    LeaderChoice::Clean(leader) => Some(leader),
                    _ => eligible_leader(&after, &acceptable),
                };
                if let Some(leader) = after.leader.filter(|l| !isr.contains(l)) {
                    after.isr = vec![leader];
                }
            }
            after.elr.retain(|r| !after.isr.contains(r));
            let elr = eligible::next(
                p,
                &after,
                eligible::min_isr(topic, p, default_min_isr),
                Some(broker),
            );
            let changes = after.leader != p.leader || after.isr != p.isr;
            if changes {
                if after.leader.is_none() && p.leader.is_some() {
                    election.offline.push((topic.id, index));
                }
                election.records.push(MetadataRecord::ChangePartition {
                    topic_id: topic.id,
                    partition: index,
                    leader: (after.leader != p.leader).then_some(after.leader),
                    isr: (after.isr != p.isr).then(|| after.isr.clone()),
                });
            }
            // Always after a change: `eligible::follow` inserts the ELR the change alone calls
            // for (with `broker` in it) before this one.
            if changes || elr != p.elr {
                election.records.push(MetadataRecord::SetEligibleLeaders {
                    topic_id: topic.id,
                    partition: index,
                    elr,
                });
            }
        }
    }
    election
}

/// `isr` with `leader` in it.
fn joined(mut isr: Vec<NodeId>, leader: NodeId) -> Vec<NodeId> {
    if !isr.contains(&leader) {
        isr.push(leader);
    }
    isr
}
