//! The controller's side of a partition leader's ISR change (Kafka's AlterPartition v3,
//! `ReplicationControlManager.alterPartition` with `validateAlterPartitionData`): which
//! changes apply, the records that make them, and each partition's answer.
//!
//! A change is refused, per partition, when:
//! * the topic or partition is not known (UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION), or
//!   the request names the partition twice (INVALID_REQUEST);
//! * it was worked out in another leadership (FENCED_LEADER_EPOCH for an older leader epoch,
//!   UNKNOWN_LEADER_EPOCH for one the controller has not made) or by a replica that does not
//!   lead (INVALID_REQUEST);
//! * it was worked out from another state of the partition (INVALID_UPDATE_VERSION: another
//!   change got there first, and the leader learns it from the metadata);
//! * the new ISR is not a set of assigned replicas holding the leader (INVALID_REQUEST);
//! * a member of the new ISR cannot be one (INELIGIBLE_REPLICA): not registered, fenced, or
//!   registered again since the fetch the leader judged it by (KIP-903: a broker back with an
//!   empty disk does not enter the ISR through its earlier incarnation's fetch).
//!
//! A leader may instead resign its leadership (`IsrChange::resign`, beyond Kafka: its log was
//! cut back after a failed write): another ISR member, or the same leader, leads in a new
//! leader epoch.
//!
//! A change to the ISR the partition has already is answered with the partition as it is, and
//! no record. A change never moves the leader, so it never bumps the leader epoch (Kafka's
//! MetadataVersion 3.6 and later); it bumps the partition epoch.
//!
//! The requester's own broker epoch is checked first, for the whole request
//! (STALE_BROKER_EPOCH): the caller does it, as it answers the request.

use std::collections::BTreeSet;

use super::election::{choose_leader, LeaderChoice};
use super::image::{MetadataImage, PartitionImage};
use super::reassign;
use super::records::MetadataRecord;
use crate::messages::quorum::{IsrChange, IsrOutcome, IsrState};
use crate::types::{ErrorCode, LeaderEpoch, NodeId};

/// An AlterPartition's records (one `ChangePartition` per partition whose ISR changes) and
/// each change's outcome, in request order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IsrPlan {
    pub records: Vec<MetadataRecord>,
    pub outcomes: Vec<IsrOutcome>,
}

/// Works out `leader`'s `changes` against `image` (the controller's newest state, entries in
/// flight included). `leader`'s registration was checked by the caller.
pub fn alter_partition(image: &MetadataImage, leader: NodeId, changes: &[IsrChange]) -> IsrPlan {
    let mut plan = IsrPlan::default();
    let mut seen = BTreeSet::new();
    for change in changes {
        let key = (change.topic_id, change.partition);
        let result = if seen.insert(key) {
            decide(image, leader, change)
        } else {
            Err(ErrorCode::INVALID_REQUEST)
        };
        let result = result.map(|(state, record)| {
            plan.records.extend(record);
            state
        });
        plan.outcomes.push(IsrOutcome {
            topic_id: change.topic_id,
            partition: change.partition,
            result,
        });
    }
    plan
}

/// One change's outcome: the partition's state after it, and the record that makes it (none
/// when nothing changes).
fn decide(
    image: &MetadataImage,
    leader: NodeId,
    change: &IsrChange,
) -> Result<(IsrState, Option<MetadataRecord>), ErrorCode> {
    let topic = image
        .topic(&change.topic_id)
        .ok_or(ErrorCode::UNKNOWN_TOPIC_ID)?;
    let partition =
        (topic.partitions.get(&change.partition)).ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if change.leader_epoch < partition.leader_epoch {
        return Err(ErrorCode::FENCED_LEADER_EPOCH);
    }
    if change.leader_epoch > partition.leader_epoch {
        return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
    }
    if partition.leader != Some(leader) {
        return Err(ErrorCode::INVALID_REQUEST);
    }
    if change.partition_epoch != partition.partition_epoch {
        return Err(ErrorCode::INVALID_UPDATE_VERSION);
    }
    if change.resign {
        return Ok(resign(image, leader, change, partition));
    }
    let isr = new_isr(partition, leader, change)?;
    let ineligible = |(node, epoch): &(NodeId, Option<_>)| {
        let registration = image.broker(*node);
        *node != leader
            && !registration.is_some_and(|b| !b.fenced && epoch.is_none_or(|e| e == b.epoch))
    };
    if change.new_isr.iter().any(ineligible) {
        return Err(ErrorCode::INELIGIBLE_REPLICA);
    }
    // The ISR change that takes in a reassignment's last added replica completes it.
    let mut grown = partition.clone();
    grown.isr = isr.clone();
    if let Some(done) = reassign::complete(image, &grown) {
        let state = IsrState {
            leader: done.leader,
            leader_epoch: match reassign::bumps_leader_epoch(partition, &done) {
                true => LeaderEpoch(partition.leader_epoch.0.saturating_add(1)),
                false => partition.leader_epoch,
            },
            partition_epoch: partition.partition_epoch + 1,
            isr: done.isr.clone(),
        };
        let record = reassign::record(change.topic_id, change.partition, partition, &done);
        return Ok((state, record));
    }
    let changed = isr != partition.isr;
    let record = changed.then(|| MetadataRecord::ChangePartition {
        topic_id: change.topic_id,
        partition: change.partition,
        leader: None,
        isr: Some(isr.clone()),
    });
    let state = IsrState {
        leader: partition.leader,
        leader_epoch: partition.leader_epoch,
        partition_epoch: partition.partition_epoch + i32::from(changed),
        isr,
    };
    Ok((state, record))
}

/// A leader's resignation (see [`IsrChange::resign`]): the first other ISR member that is
/// unfenced leads, with the ISR without the resigning leader; with none, the same leader again
/// with the same ISR. Both in a new leader epoch (a `ChangePartition` naming a leader bumps it).
fn resign(
    image: &MetadataImage,
    leader: NodeId,
    change: &IsrChange,
    partition: &PartitionImage,
) -> (IsrState, Option<MetadataRecord>) {
    let others: Vec<NodeId> = (partition.isr.iter().copied())
        .filter(|r| *r != leader)
        .collect();
    let acceptable = |r: NodeId| r != leader && image.is_unfenced(r);
    let (next, isr) = match choose_leader(&partition.replicas, &others, acceptable, false) {
        LeaderChoice::Clean(next) => (next, others),
        LeaderChoice::Unclean(_) | LeaderChoice::Offline => (leader, partition.isr.clone()),
    };
    let record = MetadataRecord::ChangePartition {
        topic_id: change.topic_id,
        partition: change.partition,
        leader: Some(Some(next)),
        isr: (isr != partition.isr).then(|| isr.clone()),
    };
    let state = IsrState {
        leader: Some(next),
        leader_epoch: LeaderEpoch(partition.leader_epoch.0.saturating_add(1)),
        partition_epoch: partition.partition_epoch + 1,
        isr,
    };
    (state, Some(record))
}

/// The new ISR in assignment order, if it is a set of assigned replicas holding the leader.
fn new_isr(
    partition: &PartitionImage,
    leader: NodeId,
    change: &IsrChange,
) -> Result<Vec<NodeId>, ErrorCode> {
    let members: BTreeSet<NodeId> = change.new_isr.iter().map(|(node, _)| *node).collect();
    let valid = members.len() == change.new_isr.len()
        && members.contains(&leader)
        && members.iter().all(|m| partition.replicas.contains(m));
    if !valid {
        return Err(ErrorCode::INVALID_REQUEST);
    }
    Ok((partition.replicas.iter())
        .filter(|r| members.contains(r))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::types::{BrokerEpoch, LeaderEpoch};

    const TOPIC: [u8; 16] = [7; 16];

    fn n(id: u64) -> NodeId {
        NodeId(id)
    }

    /// Brokers 1..=3 registered at entries 1..=3 (so broker `i`'s epoch is `i`), unfenced but
    /// those in `fenced`; one topic with partition 0 on [1, 2, 3], led by 1 with ISR `isr`.
    fn image(fenced: &[u64], isr: &[u64]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for id in 1..=3u64 {
            let register = MetadataRecord::RegisterBroker {
                node_id: n(id),
                incarnation_id: [id as u8; 16],
                listeners: vec![],
                rack: None,
            };
            image.apply(id, &register).unwrap();
        }
        for id in (1..=3u64).filter(|id| !fenced.contains(id)) {
            let unfence = MetadataRecord::UnfenceBroker {
                node_id: n(id),
                broker_epoch: BrokerEpoch(id),
            };
            image.apply(4, &unfence).unwrap();
        }
        let entry = [
            MetadataRecord::CreateTopic {
                name: "t".into(),
                topic_id: TOPIC,
                configs: BTreeMap::new(),
            },
            MetadataRecord::CreatePartition {
                topic_id: TOPIC,
                partition: 0,
                replicas: vec![n(1), n(2), n(3)],
                isr: isr.iter().map(|&i| n(i)).collect(),
                leader: Some(n(1)),
                leader_epoch: LeaderEpoch(5),
                partition_epoch: 9,
            },
        ];
        assert!(image.apply_entry(5, &entry).is_empty());
        image
    }

    fn change(isr: &[(u64, Option<u64>)]) -> IsrChange {
        IsrChange {
            topic_id: TOPIC,
            partition: 0,
            leader_epoch: LeaderEpoch(5),
            partition_epoch: 9,
            new_isr: isr
                .iter()
                .map(|&(i, e)| (n(i), e.map(BrokerEpoch)))
                .collect(),
            resign: false,
        }
    }

    fn outcome(image: &MetadataImage, changes: &[IsrChange]) -> Vec<Result<IsrState, ErrorCode>> {
        let plan = alter_partition(image, n(1), changes);
        plan.outcomes.into_iter().map(|o| o.result).collect()
    }

    #[test]
    fn a_shrink_and_an_expansion_apply_without_moving_the_leader_epoch() {
        let mut image = image(&[], &[1, 2, 3]);
        // Shrink to {1, 2}, given in any order: kept in assignment order.
        let plan = alter_partition(&image, n(1), &[change(&[(2, Some(2)), (1, None)])]);
        let expected = IsrState {
            leader: Some(n(1)),
            leader_epoch: LeaderEpoch(5),
            partition_epoch: 10,
            isr: vec![n(1), n(2)],
        };
        assert_eq!(plan.outcomes[0].result, Ok(expected.clone()));
        assert!(image.apply_entry(6, &plan.records).is_empty());
        let applied = &image.topic(&TOPIC).unwrap().partitions[&0];
        assert_eq!(
            (&applied.isr, applied.leader_epoch, applied.partition_epoch),
            (
                &expected.isr,
                expected.leader_epoch,
                expected.partition_epoch
            ),
            "the plan says what the record does"
        );
        // Back to all three, from the new state.
        let mut grow = change(&[(1, None), (2, Some(2)), (3, Some(3))]);
        grow.partition_epoch = 10;
        let plan = alter_partition(&image, n(1), &[grow]);
        assert_eq!(plan.records.len(), 1);
        assert_eq!(plan.outcomes[0].result.as_ref().map(|s| s.isr.len()), Ok(3));
    }

    /// Applies `plan` to `image` and checks the partition is what the plan's outcome says.
    fn applied_as_said(image: &mut MetadataImage, plan: &IsrPlan) -> IsrState {
        assert!(image.apply_entry(6, &plan.records).is_empty());
        let p = &image.topic(&TOPIC).unwrap().partitions[&0];
        let state = IsrState {
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr: p.isr.clone(),
        };
        assert_eq!(
            plan.outcomes[0].result,
            Ok(state.clone()),
            "the plan says what the record does"
        );
        state
    }

    #[test]
    fn a_resigning_leader_hands_over_to_the_next_unfenced_isr_member_in_a_new_epoch() {
        let mut resign = change(&[]);
        resign.resign = true;
        // Broker 2 is fenced: broker 3 leads, and the ISR drops the resigning leader.
        let mut image = image(&[2], &[1, 2, 3]);
        let plan = alter_partition(&image, n(1), &[resign.clone()]);
        let state = applied_as_said(&mut image, &plan);
        assert_eq!(state.leader, Some(n(3)));
        assert_eq!(state.leader_epoch, LeaderEpoch(6));
        assert_eq!(state.isr, vec![n(2), n(3)]);
        // A resignation from the old leadership is refused like any change.
        let plan = alter_partition(&image, n(1), &[resign]);
        assert_eq!(plan.outcomes[0].result, Err(ErrorCode::FENCED_LEADER_EPOCH));
        assert!(plan.records.is_empty());
    }

    #[test]
    fn a_resigning_leader_with_no_one_to_hand_over_to_leads_again_in_a_new_epoch() {
        let mut resign = change(&[]);
        resign.resign = true;
        for (fenced, isr) in [(&[][..], &[1][..]), (&[2, 3][..], &[1, 2, 3][..])] {
            let mut image = image(fenced, isr);
            let plan = alter_partition(&image, n(1), &[resign.clone()]);
            let state = applied_as_said(&mut image, &plan);
            assert_eq!(state.leader, Some(n(1)));
            assert_eq!(
                state.leader_epoch,
                LeaderEpoch(6),
                "a new epoch: followers truncate"
            );
            assert_eq!(state.isr, isr.iter().map(|&i| n(i)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_isr_it_has_already_is_answered_without_a_record() {
        let image = image(&[], &[1, 2]);
        let plan = alter_partition(&image, n(1), &[change(&[(1, None), (2, Some(2))])]);
        assert!(plan.records.is_empty());
        assert_eq!(
            plan.outcomes[0].result.as_ref().map(|s| s.partition_epoch),
            Ok(9)
        );
    }

    #[test]
    fn a_change_from_another_leadership_or_state_is_refused() {
        let image = image(&[], &[1, 2, 3]);
        let mut stale_leader = change(&[(1, None)]);
        stale_leader.leader_epoch = LeaderEpoch(4);
        let mut future_leader = change(&[(1, None)]);
        future_leader.leader_epoch = LeaderEpoch(6);
        let mut stale_state = change(&[(1, None)]);
        stale_state.partition_epoch = 8;
        let mut unknown_topic = change(&[(1, None)]);
        unknown_topic.topic_id = [8; 16];
        let mut unknown_partition = change(&[(1, None)]);
        unknown_partition.partition = 1;
        let each: Vec<_> = [
            stale_leader,
            future_leader,
            stale_state,
            unknown_topic,
            unknown_partition,
        ]
        .into_iter()
        .map(|change| outcome(&image, &[change]).remove(0))
        .collect();
        assert_eq!(
            each,
            vec![
                Err(ErrorCode::FENCED_LEADER_EPOCH),
                Err(ErrorCode::UNKNOWN_LEADER_EPOCH),
                Err(ErrorCode::INVALID_UPDATE_VERSION),
                Err(ErrorCode::UNKNOWN_TOPIC_ID),
                Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            ]
        );
        // Only the leader asks.
        let plan = alter_partition(&image, n(2), &[change(&[(1, None), (2, None)])]);
        assert_eq!(plan.outcomes[0].result, Err(ErrorCode::INVALID_REQUEST));
        assert!(plan.records.is_empty());
    }

    #[test]
    fn the_new_isr_must_be_assigned_replicas_holding_the_leader_named_once() {
        let image = image(&[], &[1, 2, 3]);
        let mut twice = vec![change(&[(1, None), (2, None)])];
        twice.push(twice[0].clone());
        assert_eq!(
            outcome(&image, &twice)[1],
            Err(ErrorCode::INVALID_REQUEST),
            "a partition named twice"
        );
        for isr in [
            vec![(2, None)],
            vec![(1, None), (4, None)],
            vec![(1, None), (2, None), (2, None)],
            vec![],
        ] {
            assert_eq!(
                outcome(&image, &[change(&isr)]),
                vec![Err(ErrorCode::INVALID_REQUEST)],
                "{isr:?}"
            );
        }
    }

    /// KIP-903: a member fenced, not registered, or registered again since the fetch the
    /// leader judged it by is not added.
    #[test]
    fn an_ineligible_member_is_refused() {
        let image = image(&[3], &[1, 2]);
        assert_eq!(
            outcome(&image, &[change(&[(1, None), (2, None), (3, Some(3))])]),
            vec![Err(ErrorCode::INELIGIBLE_REPLICA)],
            "fenced"
        );
        assert_eq!(
            outcome(&image, &[change(&[(1, None), (2, Some(1)), (3, None)])])[0],
            Err(ErrorCode::INELIGIBLE_REPLICA),
            "an earlier incarnation's epoch"
        );
        let unfenced = self::image(&[], &[1, 2]);
        assert!(outcome(
            &unfenced,
            &[change(&[(1, None), (2, Some(2)), (3, Some(3))])]
        )[0]
        .is_ok());
    }
}
