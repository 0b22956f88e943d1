//! Elections over an image.

use super::*;
use crate::controller::metadata::election::{
    choose_leader, on_fence, on_unfence, Election, LeaderChoice, UNCLEAN_ELECTION_KEY,
};
use crate::types::ErrorCode;

fn change(partition: i32, leader: Option<Option<u64>>, isr: Option<&[u64]>) -> MetadataRecord {
    MetadataRecord::ChangePartition {
        topic_id: tid(7),
        partition,
        leader: leader.map(|l| l.map(NodeId)),
        isr: isr.map(nodes),
    }
}

/// `image` after the fence of `broker` (at its epoch) and the election's records, in one
/// entry as the controller proposes them.
fn fenced(image: &MetadataImage, broker: u64, unclean_default: bool) -> (MetadataImage, Election) {
    let election = on_fence(image, n(broker), unclean_default);
    let epoch = image.broker(n(broker)).unwrap().epoch.0;
    let mut entry = vec![fence(broker, epoch)];
    entry.extend(election.records.iter().cloned());
    let mut after = image.clone();
    let skipped = after.apply_entry(image.applied_index() + 1, &entry);
    assert!(skipped.is_empty(), "{skipped:?}");
    after.check().unwrap();
    (after, election)
}

fn set_unclean(image: &mut MetadataImage, value: &str) {
    let record = MetadataRecord::SetTopicConfig {
        topic_id: tid(7),
        key: UNCLEAN_ELECTION_KEY.into(),
        value: Some(value.into()),
    };
    image.apply(image.applied_index() + 1, &record).unwrap();
}

#[test]
fn the_leader_is_the_first_acceptable_isr_member_in_assignment_order_not_isr_order() {
    let replicas = nodes(&[3, 1, 2]);
    let all = |_: NodeId| true;
    assert_eq!(
        choose_leader(&replicas, &nodes(&[2, 1]), all, false),
        LeaderChoice::Clean(n(1))
    );
    let not_1 = |r: NodeId| r != n(1);
    assert_eq!(
        choose_leader(&replicas, &nodes(&[2, 1]), not_1, false),
        LeaderChoice::Clean(n(2))
    );
    assert_eq!(
        choose_leader(&replicas, &nodes(&[1]), not_1, false),
        LeaderChoice::Offline
    );
    assert_eq!(
        choose_leader(&replicas, &nodes(&[1]), not_1, true),
        LeaderChoice::Unclean(n(3))
    );
    assert_eq!(
        choose_leader(&replicas, &nodes(&[1]), |_| false, true),
        LeaderChoice::Offline
    );
}

#[test]
fn a_fenced_leader_hands_over_to_the_next_live_isr_member() {
    let image = three_brokers_and(&[&[1, 2, 3], &[2, 3, 1]]);
    let (after, election) = fenced(&image, 1, false);
    assert_eq!(
        election.records,
        vec![
            change(0, Some(Some(2)), Some(&[2, 3])),
            change(1, None, Some(&[2, 3])),
        ]
    );
    assert!(election.unclean.is_empty() && election.offline.is_empty());
    let p0 = after.partition(&tid(7), 0).unwrap();
    assert_eq!(
        (p0.leader, p0.leader_epoch.0, p0.partition_epoch),
        (Some(n(2)), 1, 1)
    );
    let p1 = after.partition(&tid(7), 1).unwrap();
    assert_eq!(
        (p1.leader, p1.leader_epoch.0, p1.partition_epoch),
        (Some(n(2)), 0, 1)
    );
}

#[test]
fn a_fenced_broker_outside_every_isr_changes_nothing() {
    let mut image = three_brokers_and(&[&[1, 2, 3]]);
    image.apply(6, &change(0, None, Some(&[1, 2]))).unwrap();
    assert_eq!(on_fence(&image, n(3), true), Election::default());
}

/// Kafka keeps the last ISR member (ELR aside): the partition waits for it, offline.
#[test]
fn the_last_isr_member_stays_in_the_isr_and_the_partition_goes_offline() {
    let image = three_brokers_and(&[&[1, 2]]);
    let (image, _) = fenced(&image, 2, false);
    assert_eq!(image.partition(&tid(7), 0).unwrap().isr, nodes(&[1]));
    let (image, election) = fenced(&image, 1, false);
    assert_eq!(election.records, vec![change(0, Some(None), None)]);
    assert_eq!(election.offline, vec![(tid(7), 0)]);
    let p = image.partition(&tid(7), 0).unwrap();
    assert_eq!((p.leader, &p.isr), (None, &nodes(&[1])));
}

#[test]
fn unclean_election_takes_the_first_live_replica_and_resets_the_isr_to_it() {
    let image = three_brokers_and(&[&[1, 2, 3]]);
    // 2 and 3 leave the ISR; 1 is alone in it.
    let (image, _) = fenced(&image, 2, false);
    let (mut image, _) = fenced(&image, 3, false);
    // 2 comes back (a new incarnation, then unfenced) but is outside the ISR.
    let index = image.applied_index() + 1;
    image.apply_entry(index, &[register(2, 9), unfence(2, index)]);
    set_unclean(&mut image, "TRUE");
    let (after, election) = fenced(&image, 1, false);
    assert_eq!(election.records, vec![change(0, Some(Some(2)), Some(&[2]))]);
    assert_eq!(election.unclean, vec![(tid(7), 0)]);
    assert!(election.offline.is_empty());
    assert_eq!(after.partition(&tid(7), 0).unwrap().leader, Some(n(2)));
}

#[test]
fn a_topic_s_own_setting_overrides_the_broker_default_for_unclean_election() {
    let image = three_brokers_and(&[&[1, 2]]);
    let (mut image, _) = fenced(&image, 2, false);
    let index = image.applied_index() + 1;
    image.apply_entry(index, &[register(2, 9), unfence(2, index)]);
    assert!(!on_fence(&image, n(1), true).unclean.is_empty());
    set_unclean(&mut image, "false");
    let election = on_fence(&image, n(1), true);
    assert_eq!(election.unclean, vec![]);
    assert_eq!(election.offline, vec![(tid(7), 0)]);
    // A value that is no boolean falls back to the default.
    set_unclean(&mut image, "maybe");
    assert_eq!(on_fence(&image, n(1), false).unclean, vec![]);
}

#[test]
fn unfencing_the_last_isr_member_brings_its_partition_back_online() {
    let image = three_brokers_and(&[&[1, 2], &[3]]);
    let (image, _) = fenced(&image, 2, false);
    let (mut image, _) = fenced(&image, 1, false);
    // Broker 3 coming back leads nothing: it is in no leaderless partition's ISR.
    assert_eq!(on_unfence(&image, n(3), false), Election::default());
    let election = on_unfence(&image, n(1), false);
    assert_eq!(election.records, vec![change(0, Some(Some(1)), None)]);
    let mut entry = vec![unfence(1, 1)];
    entry.extend(election.records);
    let index = image.applied_index() + 1;
    assert_eq!(image.apply_entry(index, &entry), vec![]);
    let p = image.partition(&tid(7), 0).unwrap();
    assert_eq!((p.leader, p.leader_epoch.0), (Some(n(1)), 2));
}

/// ElectLeaders' preferred election: the first assigned replica leads again once it is in
/// the ISR and live; asked for every partition, those that need nothing are left out.
#[test]
fn a_preferred_election_moves_leadership_back_to_the_first_replica_once_it_is_in_sync() {
    use crate::controller::metadata::election::elect_leaders;
    use crate::messages::quorum::{ElectionOutcome, ElectionType};
    let image = three_brokers_and(&[&[1, 2, 3], &[2, 3, 1]]);
    let (mut image, _) = fenced(&image, 1, false);
    let outcome = |partition, result| ElectionOutcome {
        topic: "t".into(),
        partition,
        result,
    };
    // Broker 1 is fenced and out of the ISR: partition 0 cannot have it; partition 1 has its
    // preferred leader.
    let (records, outcomes) = elect_leaders(&image, ElectionType::Preferred, None);
    assert!(records.is_empty());
    assert_eq!(
        outcomes,
        vec![outcome(0, Err(ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE))]
    );
    // Back, unfenced and in sync again: partition 0 elects it, in a new leader epoch.
    let epoch = image.broker(n(1)).unwrap().epoch.0;
    let back = vec![unfence(1, epoch), change(0, None, Some(&[1, 2, 3]))];
    assert!(image
        .apply_entry(image.applied_index() + 1, &back)
        .is_empty());
    let (records, outcomes) = elect_leaders(&image, ElectionType::Preferred, None);
    assert_eq!(records, vec![change(0, Some(Some(1)), None)]);
    assert_eq!(outcomes, vec![outcome(0, Ok(()))]);
    assert!(image
        .apply_entry(image.applied_index() + 1, &records)
        .is_empty());
    let p0 = image.partition(&tid(7), 0).unwrap();
    assert_eq!((p0.leader, p0.leader_epoch.0), (Some(n(1)), 2));
    // Named partitions are each answered once, the ones needing nothing and unknown ones too.
    let asked = [
        ("t".to_string(), 1),
        ("t".to_string(), 5),
        ("t".to_string(), 1),
        ("u".to_string(), 0),
    ];
    let (records, outcomes) = elect_leaders(&image, ElectionType::Preferred, Some(&asked));
    assert!(records.is_empty());
    let codes: Vec<_> = outcomes.iter().map(|o| o.result).collect();
    assert_eq!(
        codes,
        vec![
            Err(ErrorCode::ELECTION_NOT_NEEDED),
            Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        ]
    );
}

/// ElectLeaders' unclean election: only a partition without a leader gets one, from outside
/// the ISR when no in-sync replica is live, and the ISR is then that replica alone.
#[test]
fn an_unclean_election_gives_an_offline_partition_a_live_replica() {
    use crate::controller::metadata::election::elect_leaders;
    use crate::messages::quorum::ElectionType;
    let mut image = three_brokers_and(&[&[1, 2, 3]]);
    image.apply(6, &change(0, None, Some(&[1]))).unwrap();
    let asked = [("t".to_string(), 0)];
    let (records, outcomes) = elect_leaders(&image, ElectionType::Unclean, Some(&asked));
    assert!(records.is_empty());
    assert_eq!(outcomes[0].result, Err(ErrorCode::ELECTION_NOT_NEEDED));
    let (image, election) = fenced(&image, 1, false);
    assert_eq!(election.offline, vec![(tid(7), 0)]);
    let (records, outcomes) = elect_leaders(&image, ElectionType::Unclean, Some(&asked));
    assert_eq!(records, vec![change(0, Some(Some(2)), Some(&[2]))]);
    assert_eq!(outcomes[0].result, Ok(()));
    // A preferred election cannot help it: broker 1 is fenced.
    let (_, outcomes) = elect_leaders(&image, ElectionType::Preferred, Some(&asked));
    assert_eq!(
        outcomes[0].result,
        Err(ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE)
    );
}
