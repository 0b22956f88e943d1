//! Reassignments over an image: grow, complete in the ISR change that takes in the last added
//! replica, replace, cancel, and what is refused.

use super::*;
use crate::controller::metadata::alter_partition::alter_partition;
use crate::controller::metadata::election::on_fence;
use crate::controller::metadata::reassign::{alter_reassignments, ongoing};
use crate::messages::quorum::{IsrChange, Reassignment};
use crate::types::ErrorCode;

/// Brokers 1..=5 registered at indexes 1..=5 and unfenced at 6; topic "t" (id 7) with one
/// partition on `replicas`, led by the first, created at 7.
fn five_brokers_and(replicas: &[u64]) -> MetadataImage {
    let mut entries: Vec<Vec<MetadataRecord>> = (1..=5).map(|b| vec![register(b, 1)]).collect();
    entries.push((1..=5).map(|b| unfence(b, b)).collect());
    entries.push(vec![create_topic("t", 7), create_partition(7, 0, replicas)]);
    image_of(&entries)
}

fn asked(replicas: Option<&[u64]>) -> Reassignment {
    Reassignment {
        topic: "t".into(),
        partition: 0,
        replicas: replicas.map(nodes),
    }
}

/// `image` after the reassignment `replicas` (`None`: cancel), asserting it was accepted.
fn reassigned(image: &MetadataImage, replicas: Option<&[u64]>) -> MetadataImage {
    let plan = alter_reassignments(image, &[asked(replicas)], true);
    assert_eq!(plan.outcomes.len(), 1);
    assert!(plan.outcomes[0].result.is_ok(), "{:?}", plan.outcomes);
    applied(image, &plan.records)
}

fn applied(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
    let mut after = image.clone();
    let skipped = after.apply_entry(image.applied_index() + 1, records);
    assert!(skipped.is_empty(), "{skipped:?}");
    after.check().unwrap();
    after
}

/// The refusal's code for the reassignment `replicas`.
fn refused(image: &MetadataImage, replicas: Option<&[u64]>, allow_rf_change: bool) -> ErrorCode {
    let plan = alter_reassignments(image, &[asked(replicas)], allow_rf_change);
    assert!(plan.records.is_empty());
    plan.outcomes[0].result.clone().unwrap_err().code
}

fn partition(image: &MetadataImage) -> &PartitionImage {
    image.partition(&tid(7), 0).unwrap()
}

use crate::controller::metadata::image::PartitionImage;

/// The partition's leader asks for `isr` (each member with its current broker epoch).
fn isr_change(image: &MetadataImage, isr: &[u64]) -> MetadataImage {
    let p = partition(image);
    let leader = p.leader.unwrap();
    let change = IsrChange {
        topic_id: tid(7),
        partition: 0,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        new_isr: (isr.iter())
            .map(|b| (n(*b), Some(image.broker(n(*b)).unwrap().epoch)))
            .collect(),
        resign: false,
    };
    let plan = alter_partition(image, leader, &[change]);
    let state = plan.outcomes[0].result.clone().unwrap();
    let after = applied(image, &plan.records);
    // The leader is answered with the partition as the metadata now has it.
    let now = partition(&after);
    assert_eq!(
        (
            state.leader,
            state.leader_epoch,
            state.partition_epoch,
            &state.isr
        ),
        (now.leader, now.leader_epoch, now.partition_epoch, &now.isr)
    );
    after
}

#[test]
fn a_move_grows_the_assignment_then_completes_once_the_new_replica_is_in_sync() {
    let image = five_brokers_and(&[1, 2, 3]);
    let grown = reassigned(&image, Some(&[1, 2, 4]));
    let p = partition(&grown);
    assert_eq!(p.replicas, nodes(&[1, 2, 4, 3]));
    assert_eq!(
        (p.adding.clone(), p.removing.clone()),
        (nodes(&[4]), nodes(&[3]))
    );
    assert_eq!(p.isr, nodes(&[1, 2, 3]));
    assert_eq!(p.leader, Some(n(1)));
    // Growing moves no leadership: the leader epoch stays, the partition epoch moves.
    assert_eq!(p.leader_epoch, partition(&image).leader_epoch);
    assert_eq!(p.partition_epoch, partition(&image).partition_epoch + 1);
    assert_eq!(ongoing(&grown, None).len(), 1);

    let done = isr_change(&grown, &[1, 2, 3, 4]);
    let p = partition(&done);
    assert_eq!(p.replicas, nodes(&[1, 2, 4]));
    assert_eq!(p.isr, nodes(&[1, 2, 4]));
    assert!(!p.reassigning());
    assert_eq!(p.leader, Some(n(1)));
    // Replica 3 left: a new leader epoch fences its fetches.
    assert_eq!(p.leader_epoch.0, partition(&grown).leader_epoch.0 + 1);
    assert!(ongoing(&done, None).is_empty());
}

#[test]
fn an_isr_change_that_leaves_an_added_replica_out_does_not_complete() {
    let image = five_brokers_and(&[1, 2, 3]);
    let grown = reassigned(&image, Some(&[1, 4, 5]));
    let half = isr_change(&grown, &[1, 2, 3, 4]);
    let p = partition(&half);
    assert_eq!(p.replicas, nodes(&[1, 4, 5, 2, 3]));
    assert_eq!(p.isr, nodes(&[1, 4, 2, 3]));
    assert!(p.reassigning());
    let done = isr_change(&half, &[1, 2, 3, 4, 5]);
    assert_eq!(partition(&done).replicas, nodes(&[1, 4, 5]));
    assert_eq!(partition(&done).isr, nodes(&[1, 4, 5]));
}

#[test]
fn a_leader_that_is_moved_away_hands_over_to_the_first_in_sync_target_replica() {
    let image = five_brokers_and(&[1, 2, 3]);
    let grown = reassigned(&image, Some(&[4, 3, 2]));
    assert_eq!(partition(&grown).leader, Some(n(1)));
    let done = isr_change(&grown, &[1, 2, 3, 4]);
    let p = partition(&done);
    assert_eq!(p.replicas, nodes(&[4, 3, 2]));
    assert_eq!(p.isr, nodes(&[4, 3, 2]));
    // 4 is first in the target and in sync.
    assert_eq!(p.leader, Some(n(4)));
}

#[test]
fn removing_or_reordering_replicas_completes_at_once() {
    let image = five_brokers_and(&[1, 2, 3]);
    let shrunk = reassigned(&image, Some(&[2, 1]));
    let p = partition(&shrunk);
    assert_eq!(
        (p.replicas.clone(), p.isr.clone()),
        (nodes(&[2, 1]), nodes(&[2, 1]))
    );
    assert!(!p.reassigning());
    assert_eq!(p.leader_epoch.0, partition(&image).leader_epoch.0 + 1);

    let reordered = reassigned(&image, Some(&[3, 1, 2]));
    let p = partition(&reordered);
    assert_eq!(p.replicas, nodes(&[3, 1, 2]));
    assert_eq!(p.leader, Some(n(1)));
    // Nobody left and the leader stays: no new leader epoch.
    assert_eq!(p.leader_epoch, partition(&image).leader_epoch);

    // The same assignment again changes nothing.
    let plan = alter_reassignments(&image, &[asked(Some(&[1, 2, 3]))], true);
    assert!(plan.records.is_empty());
    assert!(plan.outcomes[0].result.is_ok());
}

#[test]
fn a_new_target_replaces_the_reassignment_under_way_and_a_cancel_reverts_it() {
    let image = five_brokers_and(&[1, 2, 3]);
    let grown = reassigned(&image, Some(&[1, 2, 4]));
    let replaced = reassigned(&grown, Some(&[1, 2, 5]));
    let p = partition(&replaced);
    assert_eq!(p.replicas, nodes(&[1, 2, 5, 3]));
    assert_eq!(
        (p.adding.clone(), p.removing.clone()),
        (nodes(&[5]), nodes(&[3]))
    );
    // 4 left the assignment.
    assert_eq!(p.leader_epoch.0, partition(&grown).leader_epoch.0 + 1);

    let cancelled = reassigned(&replaced, None);
    let p = partition(&cancelled);
    assert_eq!(p.replicas, nodes(&[1, 2, 3]));
    assert_eq!(p.isr, nodes(&[1, 2, 3]));
    assert!(!p.reassigning());
    assert_eq!(
        refused(&cancelled, None, true),
        ErrorCode::NO_REASSIGNMENT_IN_PROGRESS
    );
}

#[test]
fn a_cancel_that_would_leave_no_in_sync_replica_is_refused() {
    // [1, 2] moves to [3, 4]; 3 catches up; then 1 and 2 are fenced: only 3 is in sync.
    let image = five_brokers_and(&[1, 2]);
    let grown = reassigned(&image, Some(&[3, 4]));
    let caught_up = isr_change(&grown, &[1, 2, 3]);
    let mut now = caught_up;
    for broker in [1, 2] {
        let epoch = now.broker(n(broker)).unwrap().epoch.0;
        let mut entry = vec![fence(broker, epoch)];
        entry.extend(on_fence(&now, n(broker), false).records);
        now = applied(&now, &entry);
    }
    assert_eq!(partition(&now).isr, nodes(&[3]));
    assert_eq!(partition(&now).leader, Some(n(3)));
    assert_eq!(
        refused(&now, None, true),
        ErrorCode::INVALID_REPLICA_ASSIGNMENT
    );
    assert_eq!(
        refused(&now, Some(&[1, 2]), true),
        ErrorCode::INVALID_REPLICA_ASSIGNMENT
    );
}

#[test]
fn bad_targets_are_refused_partition_by_partition() {
    let image = five_brokers_and(&[1, 2, 3]);
    for bad in [&[][..], &[1, 1, 2], &[1, 2, 9]] {
        assert_eq!(
            refused(&image, Some(bad), true),
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            "{bad:?}"
        );
    }
    assert_eq!(
        refused(&image, Some(&[1, 2]), false),
        ErrorCode::INVALID_REPLICATION_FACTOR
    );
    let unknown = Reassignment {
        topic: "t".into(),
        partition: 1,
        replicas: Some(nodes(&[1])),
    };
    let twice = [asked(Some(&[1, 2, 4])), asked(Some(&[1, 2, 5])), unknown];
    let plan = alter_reassignments(&image, &twice, true);
    let codes: Vec<Option<ErrorCode>> = (plan.outcomes.iter())
        .map(|o| o.result.as_ref().err().map(|r| r.code))
        .collect();
    assert_eq!(
        codes,
        [
            None,
            Some(ErrorCode::INVALID_REQUEST),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        ]
    );
    assert_eq!(plan.records.len(), 1);
}

#[test]
fn a_snapshot_keeps_the_reassignment_under_way() {
    let image = five_brokers_and(&[1, 2, 3]);
    let grown = reassigned(&image, Some(&[1, 2, 4]));
    let loaded = MetadataImage::from_snapshot(&grown.to_snapshot()).unwrap();
    assert_eq!(loaded, grown);
    assert_eq!(partition(&loaded).adding, nodes(&[4]));
    assert_eq!(
        ongoing(&loaded, Some(&[("t".into(), 0)])),
        ongoing(&grown, None)
    );
    assert!(ongoing(&loaded, Some(&[("t".into(), 1)])).is_empty());
}

#[test]
fn a_record_that_adds_a_replica_outside_the_assignment_is_skipped() {
    let image = five_brokers_and(&[1, 2, 3]);
    let bad = MetadataRecord::ReassignPartition {
        topic_id: tid(7),
        partition: 0,
        replicas: nodes(&[1, 2, 3]),
        adding: nodes(&[4]),
        removing: vec![],
        leader: None,
        isr: None,
    };
    let mut after = image.clone();
    let skipped = after.apply_entry(image.applied_index() + 1, &[bad]);
    assert_eq!(skipped.len(), 1);
    assert_eq!(partition(&after), partition(&image));
}
