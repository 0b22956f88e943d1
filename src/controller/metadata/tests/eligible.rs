//! Eligible leader replicas (KIP-966) as the controller keeps them: the ELR each ISR change
//! leaves, elections from it, and an unclean restart's removal from it.

use super::*;
use crate::controller::metadata::eligible::{self, MIN_ISR_KEY};
use crate::controller::metadata::TopicDefaults;
use crate::controller::quorum::{fencing_entry, registration_entry};

/// `records` as the controller proposes them (each ISR change followed by its ELR), applied
/// to `image` as one entry, nothing skipped.
fn propose(image: &MetadataImage, records: Vec<MetadataRecord>) -> MetadataImage {
    let entry = eligible::follow(image, records, &TopicDefaults::default());
    let mut after = image.clone();
    let skipped = after.apply_entry(image.applied_index() + 1, &entry);
    assert!(skipped.is_empty(), "{skipped:?}");
    after.check().unwrap();
    after
}

fn isr_change(isr: &[u64]) -> MetadataRecord {
    MetadataRecord::ChangePartition {
        topic_id: tid(7),
        partition: 0,
        leader: None,
        isr: Some(nodes(isr)),
    }
}

/// (leader, ISR, ELR) of partition 0.
fn state(image: &MetadataImage) -> (Option<u64>, Vec<u64>, Vec<u64>) {
    let p = image.partition(&tid(7), 0).unwrap();
    let ids = |set: &[NodeId]| set.iter().map(|n| n.0).collect();
    (p.leader.map(|l| l.0), ids(&p.isr), ids(&p.elr))
}

/// Three brokers, partition 0 on [1, 2, 3] led by 1, min.insync.replicas = `min_isr`.
fn cluster(min_isr: &str) -> MetadataImage {
    let mut image = three_brokers_and(&[&[1, 2, 3]]);
    let config = MetadataRecord::SetTopicConfig {
        topic_id: tid(7),
        key: MIN_ISR_KEY.into(),
        value: Some(min_isr.into()),
    };
    image.apply(image.applied_index() + 1, &config).unwrap();
    image
}

/// The ISR shrinks to [1, 2] (min.insync.replicas still met: node 3 is not eligible), then
/// to the leader alone (node 2 is).
fn alone(image: &MetadataImage) -> MetadataImage {
    let image = propose(image, vec![isr_change(&[1, 2])]);
    propose(&image, vec![isr_change(&[1])])
}

/// The controller's entry for fencing (or unfencing) `broker` at its epoch.
fn fencing(image: &MetadataImage, broker: u64, fence: bool) -> Vec<MetadataRecord> {
    let epoch = image.broker(n(broker)).unwrap().epoch;
    fencing_entry(
        image,
        &[(n(broker), epoch, fence)],
        &TopicDefaults::default(),
    )
}

fn fence_entry(image: &MetadataImage, broker: u64) -> Vec<MetadataRecord> {
    fencing(image, broker, true)
}

fn unfence_entry(image: &MetadataImage, broker: u64) -> Vec<MetadataRecord> {
    fencing(image, broker, false)
}

/// `broker` registers again after an unclean shutdown: the registration fences it, and the
/// same entry takes it out of the ELRs (the controller's `registration_entry`).
fn unclean_restart_entry(image: &MetadataImage, broker: u64) -> Vec<MetadataRecord> {
    let known = image.broker(n(broker)).is_some();
    registration_entry(
        image,
        register(broker, 9),
        n(broker),
        (known, false),
        &TopicDefaults::default(),
    )
}

#[test]
fn replicas_that_leave_an_isr_below_min_insync_replicas_are_eligible_until_it_grows_back() {
    let image = cluster("2");
    let image = propose(&image, vec![isr_change(&[1, 2])]);
    assert_eq!(
        state(&image),
        (Some(1), vec![1, 2], vec![]),
        "still min.isr"
    );
    let image = propose(&image, vec![isr_change(&[1])]);
    assert_eq!(state(&image), (Some(1), vec![1], vec![2]));
    // Node 3, which left while the ISR had enough, is not eligible; node 2 joining again
    // takes the ISR back to min.insync.replicas and empties the ELR.
    let image = propose(&image, vec![isr_change(&[1, 2])]);
    assert_eq!(state(&image), (Some(1), vec![1, 2], vec![]));
}

#[test]
fn with_min_insync_replicas_one_there_is_never_an_eligible_replica() {
    let image = cluster("1");
    let image = propose(&image, vec![isr_change(&[1])]);
    assert_eq!(state(&image), (Some(1), vec![1], vec![]));
    let image = propose(&image, fence_entry(&image, 1));
    assert_eq!(state(&image), (None, vec![1], vec![]), "waits for node 1");
}

/// KIP-966's case: the ISR shrank to its leader, which is then lost. Node 2 left while the
/// high watermark was frozen, so it holds every committed record and leads; node 1 is
/// eligible in turn.
#[test]
fn the_fenced_last_isr_member_hands_over_to_an_eligible_replica() {
    let image = alone(&cluster("2"));
    let image = propose(&image, fence_entry(&image, 1));
    assert_eq!(state(&image), (Some(2), vec![2], vec![1]));
}

/// The last ISR member restarts after an unclean shutdown (it may have lost its unsynced
/// suffix) while the eligible replica is down: it leaves the ISR, which stays empty, and the
/// partition waits for the eligible replica rather than electing what the crash left.
#[test]
fn an_unclean_restart_of_the_last_isr_member_waits_for_the_eligible_replica() {
    let image = alone(&cluster("2"));
    let image = propose(&image, fence_entry(&image, 2));
    let image = propose(&image, fence_entry(&image, 1));
    assert_eq!(state(&image), (None, vec![1], vec![2]), "node 2 is fenced");
    let image = propose(&image, unclean_restart_entry(&image, 1));
    assert_eq!(state(&image), (None, vec![], vec![2]));
    // Node 1 is unfenced again: still no leader.
    let epoch = image.broker(n(1)).unwrap().epoch.0;
    let image = propose(&image, unfence_entry(&image, 1));
    assert_eq!(image.broker(n(1)).unwrap().epoch.0, epoch);
    assert_eq!(state(&image), (None, vec![], vec![2]));
    // Node 2 is back: it leads, alone in the ISR.
    let image = propose(&image, unfence_entry(&image, 2));
    assert_eq!(state(&image), (Some(2), vec![2], vec![]));
}

/// Every eligible replica restarted uncleanly: the last replica standing stays in the ISR
/// and leads when it is back (Kafka's last known leader), whatever it lost.
#[test]
fn without_an_eligible_replica_the_last_replica_standing_keeps_the_isr() {
    let image = alone(&cluster("2"));
    let image = propose(&image, fence_entry(&image, 2));
    let image = propose(&image, unclean_restart_entry(&image, 2));
    assert_eq!(
        state(&image),
        (Some(1), vec![1], vec![]),
        "node 2 lost its place"
    );
    let image = propose(&image, fence_entry(&image, 1));
    let image = propose(&image, unclean_restart_entry(&image, 1));
    assert_eq!(state(&image), (None, vec![1], vec![]));
    let image = propose(&image, unfence_entry(&image, 1));
    assert_eq!(state(&image), (Some(1), vec![1], vec![]));
}

/// A clean restart keeps the replica eligible (its data is whole).
#[test]
fn an_eligible_replica_that_restarts_cleanly_stays_eligible() {
    let image = propose(&cluster("3"), vec![isr_change(&[1, 2])]);
    assert_eq!(state(&image), (Some(1), vec![1, 2], vec![3]));
    let image = propose(&image, vec![isr_change(&[1])]);
    assert_eq!(state(&image), (Some(1), vec![1], vec![2, 3]));
    let image = propose(&image, unclean_restart_entry(&image, 3));
    assert_eq!(
        state(&image),
        (Some(1), vec![1], vec![2]),
        "3 restarted uncleanly"
    );
    let image = propose(&image, fence_entry(&image, 2));
    assert_eq!(
        state(&image),
        (Some(1), vec![1], vec![2]),
        "fenced, still eligible"
    );
}

#[test]
fn a_snapshot_keeps_the_eligible_replicas() {
    let image = alone(&cluster("2"));
    let loaded = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
    assert_eq!(loaded, image);
    assert_eq!(state(&loaded).2, vec![2]);
}

/// A broker back from a crash before its session ran out is still in the ISR when it
/// registers: the registration's fence takes it out, and it must not land in the ELR the
/// fence leaves (its disk may be empty).
#[test]
fn a_broker_back_before_its_fence_is_not_eligible() {
    let image = propose(&cluster("2"), vec![isr_change(&[1, 2])]);
    let image = propose(&image, unclean_restart_entry(&image, 2));
    assert_eq!(state(&image), (Some(1), vec![1], vec![]));
    // Back cleanly instead, it is eligible: it holds everything below the frozen HW.
    let clean = propose(&cluster("2"), vec![isr_change(&[1, 2])]);
    let again = registration_entry(
        &clean,
        register(2, 9),
        n(2),
        (true, true),
        &TopicDefaults::default(),
    );
    let clean = propose(&clean, again);
    assert_eq!(state(&clean), (Some(1), vec![1], vec![2]));
}

/// The last eligible replica of an empty ISR back from an unclean shutdown: the last replica
/// standing, in the ISR again (where it leads once unfenced).
#[test]
fn the_last_eligible_replica_of_an_empty_isr_back_uncleanly_is_the_last_replica_standing() {
    let image = alone(&cluster("2"));
    let image = propose(&image, fence_entry(&image, 2));
    let image = propose(&image, fence_entry(&image, 1));
    let image = propose(&image, unclean_restart_entry(&image, 1));
    assert_eq!(state(&image), (None, vec![], vec![2]));
    let image = propose(&image, unclean_restart_entry(&image, 2));
    assert_eq!(state(&image), (None, vec![2], vec![]));
    let image = propose(&image, unfence_entry(&image, 2));
    assert_eq!(state(&image), (Some(2), vec![2], vec![]));
}

/// Another min.insync.replicas empties the ELRs (the old freeze says nothing of the new).
#[test]
fn a_new_min_insync_replicas_clears_the_eligible_replicas() {
    let image = alone(&cluster("2"));
    assert_eq!(state(&image).2, vec![2]);
    let config = MetadataRecord::SetTopicConfig {
        topic_id: tid(7),
        key: MIN_ISR_KEY.into(),
        value: Some("1".into()),
    };
    let image = propose(&image, vec![config]);
    assert_eq!(state(&image), (Some(1), vec![1], vec![]));
}

/// The broker-level defaults (`min.insync.replicas`, `unclean.leader.election.enable` in the
/// controller's config) hold for a topic without its own: with a default of 2, a topic with no
/// config keeps an eligible replica; with unclean elections on by default, a partition whose
/// last in-sync replica is fenced elects another replica; a topic's own setting still wins.
#[test]
fn the_broker_level_defaults_hold_for_topics_without_their_own() {
    let strict = TopicDefaults {
        min_insync_replicas: 2,
        unclean_leader_election: false,
    };
    let unconfigured = three_brokers_and(&[&[1, 2, 3]]);
    let shrink = |image: &MetadataImage, isr: &[u64], defaults: &TopicDefaults| {
        let entry = eligible::follow(image, vec![isr_change(isr)], defaults);
        let mut after = image.clone();
        assert!(after
            .apply_entry(image.applied_index() + 1, &entry)
            .is_empty());
        after
    };
    let image = shrink(&shrink(&unconfigured, &[1, 2], &strict), &[1], &strict);
    assert_eq!(
        state(&image),
        (Some(1), vec![1], vec![2]),
        "min.insync.replicas=2 by default"
    );
    let image = shrink(
        &shrink(&unconfigured, &[1, 2], &TopicDefaults::default()),
        &[1],
        &TopicDefaults::default(),
    );
    assert_eq!(
        state(&image),
        (Some(1), vec![1], vec![]),
        "Kafka's default: 1"
    );

    let lenient = TopicDefaults {
        min_insync_replicas: 1,
        unclean_leader_election: true,
    };
    let fence = |image: &MetadataImage, defaults: &TopicDefaults| {
        let epoch = image.broker(n(1)).unwrap().epoch;
        let entry = fencing_entry(image, &[(n(1), epoch, true)], defaults);
        let mut after = image.clone();
        assert!(after
            .apply_entry(image.applied_index() + 1, &entry)
            .is_empty());
        after
    };
    let alone = shrink(&unconfigured, &[1], &lenient);
    assert_eq!(
        state(&fence(&alone, &lenient)),
        (Some(2), vec![2], vec![]),
        "unclean by default"
    );
    assert_eq!(
        state(&fence(&alone, &strict)),
        (None, vec![1], vec![]),
        "Kafka's default: offline"
    );
    // The topic's own `unclean.leader.election.enable=false` wins over the broker's true.
    let mut own = alone.clone();
    let config = MetadataRecord::SetTopicConfig {
        topic_id: tid(7),
        key: "unclean.leader.election.enable".into(),
        value: Some("false".into()),
    };
    own.apply(own.applied_index() + 1, &config).unwrap();
    assert_eq!(
        state(&fence(&own, &lenient)),
        (None, vec![1], vec![]),
        "the topic's own wins"
    );
}

/// The cluster-wide min.insync.replicas (resource "") of the metadata log.
fn cluster_default(min_isr: &str) -> MetadataRecord {
    MetadataRecord::SetBrokerConfig {
        broker: None,
        key: MIN_ISR_KEY.into(),
        value: Some(min_isr.into()),
    }
}

/// Once the metadata log holds the cluster-wide min.insync.replicas, it is the default every
/// ISR change is judged by, whatever this controller's static value (`TopicDefaults`, 1).
#[test]
fn the_cluster_wide_min_insync_replicas_of_the_log_wins_over_the_static_default() {
    let image = three_brokers_and(&[&[1, 2, 3]]);
    let image = propose(&image, vec![cluster_default("2")]);
    assert_eq!(image.cluster_min_isr(), Some(2));
    let image = propose(&image, vec![isr_change(&[1])]);
    assert_eq!(
        state(&image),
        (Some(1), vec![1], vec![2, 3]),
        "below the log's value, not the static 1"
    );
}

/// Kafka's rule (KIP-966): every write of the cluster-wide value clears every ELR of the
/// cluster, even one that leaves it unchanged, but a partition's whose ISR is empty (its
/// eligible replicas are all it has left).
#[test]
fn every_write_of_the_cluster_wide_min_insync_replicas_clears_every_eligible_replica() {
    let image = three_brokers_and(&[&[1, 2, 3], &[1, 2, 3]]);
    let image = propose(&image, vec![cluster_default("3")]);
    let shrink = |partition| MetadataRecord::ChangePartition {
        topic_id: tid(7),
        partition,
        leader: None,
        isr: Some(nodes(&[1, 2])),
    };
    let image = propose(&image, vec![shrink(0), shrink(1)]);
    let elr = |image: &MetadataImage, p| image.partition(&tid(7), p).unwrap().elr.clone();
    assert_eq!((elr(&image, 0), elr(&image, 1)), (nodes(&[3]), nodes(&[3])));
    let unchanged = propose(&image, vec![cluster_default("3")]);
    assert_eq!(
        (elr(&unchanged, 0), elr(&unchanged, 1)),
        (vec![], vec![]),
        "an unchanged value clears them too"
    );
    let lowered = propose(&image, vec![cluster_default("2")]);
    assert_eq!((elr(&lowered, 0), elr(&lowered, 1)), (vec![], vec![]));
}

/// A partition none of whose ISR can lead keeps its ELR at a write of min.insync.replicas:
/// Rill keeps a fenced last member in the ISR where Kafka empties it, and the ELR is all it
/// has left (cleared, the fenced member would lead again, maybe after losing what it had not
/// synced, without the records the eligible replica holds).
#[test]
fn a_write_of_min_insync_replicas_spares_the_elr_of_a_partition_whose_isr_cannot_lead() {
    let image = alone(&cluster("2"));
    let image = propose(&image, fence_entry(&image, 2));
    let image = propose(&image, fence_entry(&image, 1));
    let (_, isr, elr) = state(&image);
    assert_eq!((isr, elr.clone()), (vec![1], vec![2]), "waits for either");
    let again = MetadataRecord::SetTopicConfig {
        topic_id: tid(7),
        key: MIN_ISR_KEY.into(),
        value: Some("2".into()),
    };
    let image = propose(&image, vec![again, cluster_default("2")]);
    assert_eq!(state(&image).2, elr, "kept");
}
