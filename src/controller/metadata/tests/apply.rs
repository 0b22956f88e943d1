//! Apply, rule by rule.

use std::collections::BTreeMap;

use super::*;
use crate::controller::metadata::Skip;

fn change(leader: Option<Option<u64>>, isr: Option<&[u64]>) -> MetadataRecord {
    MetadataRecord::ChangePartition {
        topic_id: tid(7),
        partition: 0,
        leader: leader.map(|l| l.map(NodeId)),
        isr: isr.map(nodes),
    }
}

fn allocate(node: u64, epoch: u64, first_id: i64, count: i32) -> MetadataRecord {
    MetadataRecord::AllocateProducerIds {
        node_id: n(node),
        broker_epoch: BrokerEpoch(epoch),
        first_id,
        count,
    }
}

/// Why a partition with an empty ISR is refused unless it waits for an eligible leader.
const EMPTY_ISR: &str = "empty ISR with a leader or without eligible leader replicas";

#[test]
fn the_first_init_cluster_wins_and_later_ones_are_skipped() {
    let mut image = MetadataImage::default();
    assert_eq!(image.cluster_id(), None);
    let init = |byte| MetadataRecord::InitCluster {
        cluster_id: [byte; 16],
    };
    assert_eq!(image.apply(1, &init(1)), Ok(()));
    assert_eq!(image.apply(2, &init(2)), Err(Skip::ClusterIdAlreadySet));
    assert_eq!(image.cluster_id(), Some([1; 16]));
}

#[test]
fn a_broker_s_epoch_is_the_index_of_its_registration_and_it_starts_fenced() {
    let mut image = MetadataImage::default();
    image.apply_entry(1, &[]);
    assert_eq!(image.apply_entry(5, &[register(3, 9)]), vec![]);
    let broker = image.broker(n(3)).unwrap();
    assert_eq!(broker.epoch, BrokerEpoch(5));
    assert_eq!(broker.incarnation_id, [9; 16]);
    assert!(broker.fenced);
    assert!(!image.is_unfenced(n(3)));
    assert_eq!(image.live_brokers(), vec![]);
}

#[test]
fn a_new_incarnation_replaces_the_registration_with_a_higher_epoch_and_fences_it() {
    let mut image = image_of(&[vec![register(1, 1)], vec![unfence(1, 1)]]);
    assert!(image.is_unfenced(n(1)));
    assert_eq!(image.apply_entry(3, &[register(1, 2)]), vec![]);
    let broker = image.broker(n(1)).unwrap();
    assert_eq!(
        (broker.epoch, broker.incarnation_id),
        (BrokerEpoch(3), [2; 16])
    );
    assert!(broker.fenced, "a new incarnation starts fenced");
    // The old incarnation's epoch no longer unfences it.
    assert_eq!(
        image.apply(4, &unfence(1, 1)),
        Err(Skip::StaleBrokerEpoch {
            node: n(1),
            epoch: BrokerEpoch(1),
            current: BrokerEpoch(3)
        })
    );
    assert!(!image.is_unfenced(n(1)));
}

/// A broker that retries its registration (its answer was lost) must get the epoch it already
/// has, not a new one that would make its first one stale.
#[test]
fn the_same_incarnation_registering_again_keeps_its_first_epoch() {
    let mut image = image_of(&[vec![register(1, 1)]]);
    assert_eq!(
        image.apply(2, &register(1, 1)),
        Err(Skip::SameIncarnation(n(1)))
    );
    assert_eq!(image.broker(n(1)).unwrap().epoch, BrokerEpoch(1));
}

#[test]
fn two_registrations_of_one_broker_in_one_entry_keep_the_first() {
    let mut image = MetadataImage::default();
    let skipped = image.apply_entry(1, &[register(1, 1), register(1, 2)]);
    assert_eq!(
        skipped,
        vec![Skipped {
            position: 1,
            skip: Skip::RegisteredTwiceInOneEntry(n(1))
        }]
    );
    assert_eq!(image.broker(n(1)).unwrap().incarnation_id, [1; 16]);
}

#[test]
fn a_fence_with_a_stale_epoch_is_ignored() {
    let mut image = image_of(&[
        vec![register(1, 1)],
        vec![register(1, 2)],
        vec![unfence(1, 2)],
    ]);
    let before = image.clone();
    assert!(matches!(
        image.apply(4, &fence(1, 1)),
        Err(Skip::StaleBrokerEpoch { .. })
    ));
    assert!(image.is_unfenced(n(1)));
    assert_eq!(image.brokers, before.brokers);
    assert_eq!(image.apply(5, &fence(9, 1)), Err(Skip::UnknownBroker(n(9))));
}

#[test]
fn unfence_makes_a_broker_live_and_fence_takes_it_back() {
    let mut image = image_of(&[vec![register(2, 1), register(1, 1)]]);
    image.apply(2, &unfence(2, 1)).unwrap();
    image.apply(2, &unfence(1, 1)).unwrap();
    assert_eq!(image.live_brokers(), nodes(&[1, 2]));
    image.apply(3, &fence(1, 1)).unwrap();
    assert_eq!(image.live_brokers(), nodes(&[2]));
    // Fencing twice changes nothing and is no fault.
    assert_eq!(image.apply(4, &fence(1, 1)), Ok(()));
}

#[test]
fn unregistering_needs_the_current_epoch_and_removes_the_broker() {
    let mut image = image_of(&[vec![register(1, 1)], vec![register(1, 2)]]);
    let unregister = |epoch| MetadataRecord::UnregisterBroker {
        node_id: n(1),
        broker_epoch: BrokerEpoch(epoch),
    };
    assert!(image.apply(3, &unregister(1)).is_err());
    assert!(image.broker(n(1)).is_some());
    assert_eq!(image.apply(4, &unregister(2)), Ok(()));
    assert_eq!(image.broker(n(1)), None);
    assert_eq!(image.brokers().count(), 0);
}

#[test]
fn a_topic_is_created_only_under_a_free_legal_name_and_a_fresh_id() {
    let mut image = image_of(&[vec![create_topic("a.b", 1)]]);
    let topic = image.topic_by_name("a.b").unwrap();
    assert_eq!(topic.id, tid(1));
    assert_eq!(image.topic(&tid(1)).unwrap().name, "a.b");
    assert_eq!(
        image.apply(2, &create_topic("a.b", 2)),
        Err(Skip::TopicExists("a.b".into()))
    );
    assert_eq!(
        image.apply(2, &create_topic("a_b", 2)),
        Err(Skip::TopicCollides {
            name: "a_b".into(),
            other: "a.b".into()
        })
    );
    assert!(matches!(
        image.apply(2, &create_topic("bad name", 2)),
        Err(Skip::IllegalTopicName(message)) if message.contains("illegal")
    ));
    assert_eq!(
        image.apply(2, &create_topic("c", 1)),
        Err(Skip::TopicIdTaken(tid(1)))
    );
    assert_eq!(
        image.apply(2, &create_topic("c", 0)),
        Err(Skip::TopicIdTaken(tid(0)))
    );
    assert_eq!(image.topics().count(), 1);
    image.check().unwrap();
}

#[test]
fn partitions_are_created_in_order_and_well_formed() {
    let mut image = image_of(&[vec![create_topic("t", 7)]]);
    assert_eq!(
        image.apply(2, &create_partition(8, 0, &[1])),
        Err(Skip::UnknownTopic(tid(8)))
    );
    assert_eq!(
        image.apply(2, &create_partition(7, 1, &[1])),
        Err(Skip::PartitionOutOfOrder {
            expected: 0,
            got: 1
        })
    );
    let bad =
        |replicas: &[u64], isr: &[u64], leader: Option<u64>| MetadataRecord::CreatePartition {
            topic_id: tid(7),
            partition: 0,
            replicas: nodes(replicas),
            isr: nodes(isr),
            leader: leader.map(NodeId),
            leader_epoch: LeaderEpoch::INITIAL,
            partition_epoch: 0,
        };
    for (record, why) in [
        (bad(&[], &[], None), "no replicas"),
        (bad(&[1, 1], &[1], Some(1)), "a replica appears twice"),
        (bad(&[1, 2], &[], None), EMPTY_ISR),
        (
            bad(&[1, 2], &[3], Some(3)),
            "the ISR is not a set of replicas",
        ),
        (bad(&[1, 2], &[1], Some(2)), "the leader is not in the ISR"),
    ] {
        assert_eq!(
            image.apply(2, &record),
            Err(Skip::BadPartition { partition: 0, why })
        );
    }
    assert_eq!(image.apply(2, &create_partition(7, 0, &[2, 1])), Ok(()));
    assert_eq!(image.apply(2, &create_partition(7, 1, &[1, 2])), Ok(()));
    let p1 = image.partition(&tid(7), 1).unwrap();
    assert_eq!((p1.leader, &p1.isr), (Some(n(1)), &nodes(&[1, 2])));
    image.check().unwrap();
}

/// Kafka's `PartitionRegistration.merge`: a record that carries a leader bumps the leader
/// epoch (even when it sets no leader), and every record bumps the partition epoch.
#[test]
fn a_change_that_sets_the_leader_bumps_the_leader_epoch_and_every_change_the_partition_epoch() {
    let mut image = three_brokers_and(&[&[1, 2, 3]]);
    let epochs = |image: &MetadataImage| {
        let p = image.partition(&tid(7), 0).unwrap();
        (p.leader_epoch.0, p.partition_epoch)
    };
    assert_eq!(epochs(&image), (0, 0));
    image.apply(6, &change(None, Some(&[1, 2]))).unwrap();
    assert_eq!(
        epochs(&image),
        (0, 1),
        "an ISR change keeps the leader epoch"
    );
    image.apply(7, &change(Some(Some(2)), None)).unwrap();
    assert_eq!(epochs(&image), (1, 2));
    image.apply(8, &change(Some(None), None)).unwrap();
    assert_eq!(
        epochs(&image),
        (2, 3),
        "losing the leader is a leader change"
    );
    image.apply(9, &change(None, None)).unwrap();
    assert_eq!(epochs(&image), (2, 4));
    let p = image.partition(&tid(7), 0).unwrap();
    assert_eq!((p.leader, &p.isr), (None, &nodes(&[1, 2])));
}

#[test]
fn a_change_that_would_break_the_partition_is_skipped() {
    let mut image = three_brokers_and(&[&[1, 2, 3]]);
    let before = image.clone();
    let why = |image: &mut MetadataImage, record| match image.apply(6, &record) {
        Err(Skip::BadPartition { why, .. }) => why,
        other => panic!("{other:?}"),
    };
    assert_eq!(why(&mut image, change(None, Some(&[]))), EMPTY_ISR);
    assert_eq!(
        why(&mut image, change(None, Some(&[2, 3]))),
        "the leader is not in the ISR"
    );
    assert_eq!(
        why(&mut image, change(Some(Some(4)), None)),
        "the leader is not in the ISR"
    );
    assert_eq!(
        why(&mut image, change(None, Some(&[1, 4]))),
        "the ISR is not a set of replicas"
    );
    let unknown = MetadataRecord::ChangePartition {
        topic_id: tid(7),
        partition: 1,
        leader: None,
        isr: None,
    };
    assert_eq!(
        image.apply(6, &unknown),
        Err(Skip::UnknownPartition {
            topic: tid(7),
            partition: 1
        })
    );
    image.applied_index = before.applied_index;
    assert_eq!(image, before);
}

#[test]
fn an_epoch_at_its_maximum_is_not_wrapped() {
    let mut image = three_brokers_and(&[&[1]]);
    (image
        .topics
        .get_mut(&tid(7))
        .unwrap()
        .partitions
        .get_mut(&0))
    .unwrap()
    .leader_epoch = LeaderEpoch(i32::MAX);
    assert_eq!(
        image.apply(6, &change(Some(Some(1)), None)),
        Err(Skip::EpochExhausted(0))
    );
    assert_eq!(image.apply(6, &change(None, Some(&[1]))), Ok(()));
}

#[test]
fn deleting_a_topic_removes_its_partitions_and_frees_its_name() {
    let mut image = three_brokers_and(&[&[1], &[2], &[3]]);
    let delete = MetadataRecord::DeleteTopic { topic_id: tid(7) };
    assert_eq!(image.apply(6, &delete), Ok(()));
    assert_eq!(image.topic(&tid(7)), None);
    assert_eq!(image.topic_by_name("t"), None);
    assert_eq!(image.partition(&tid(7), 0), None);
    assert_eq!(image.apply(7, &delete), Err(Skip::UnknownTopic(tid(7))));
    // The name is free again, under a new id.
    image.apply(8, &create_topic("t", 8)).unwrap();
    assert_eq!(image.topic_by_name("t").unwrap().partitions.len(), 0);
    image.check().unwrap();
}

#[test]
fn topic_configs_are_set_and_removed_one_key_at_a_time() {
    let mut image = three_brokers_and(&[&[1]]);
    let set = |key: &str, value: Option<&str>| MetadataRecord::SetTopicConfig {
        topic_id: tid(7),
        key: key.into(),
        value: value.map(String::from),
    };
    image.apply(6, &set("retention.ms", Some("5"))).unwrap();
    image.apply(6, &set("segment.ms", Some("9"))).unwrap();
    image.apply(6, &set("retention.ms", Some("6"))).unwrap();
    image.apply(6, &set("segment.ms", None)).unwrap();
    image.apply(6, &set("never.set", None)).unwrap();
    let configs = &image.topic(&tid(7)).unwrap().configs;
    assert_eq!(
        configs,
        &BTreeMap::from([("retention.ms".to_string(), "6".to_string())])
    );
    let elsewhere = MetadataRecord::SetTopicConfig {
        topic_id: tid(8),
        key: "retention.ms".into(),
        value: None,
    };
    assert_eq!(image.apply(7, &elsewhere), Err(Skip::UnknownTopic(tid(8))));
}

#[test]
fn producer_id_blocks_never_overlap_and_need_the_broker_s_epoch() {
    let mut image = image_of(&[vec![register(1, 1)], vec![register(2, 1)]]);
    assert_eq!(image.next_producer_id(), 0);
    image.apply(3, &allocate(1, 1, 0, 1000)).unwrap();
    image.apply(4, &allocate(2, 2, 1000, 1000)).unwrap();
    assert_eq!(image.next_producer_id(), 2000);
    assert_eq!(
        image.apply(5, &allocate(1, 1, 1000, 1000)),
        Err(Skip::ProducerIdsOutOfOrder {
            expected: 2000,
            got: 1000
        })
    );
    assert_eq!(
        image.apply(5, &allocate(2, 2, 1999, 1000)),
        Err(Skip::ProducerIdsOutOfOrder {
            expected: 2000,
            got: 1999
        }),
        "one id of the block is handed out already"
    );
    // A block may skip ids (an upgraded single node's own file had handed them out).
    image.apply(5, &allocate(2, 2, 5000, 1000)).unwrap();
    assert_eq!(image.next_producer_id(), 6000);
    assert!(matches!(
        image.apply(5, &allocate(1, 7, 6000, 1000)),
        Err(Skip::StaleBrokerEpoch { .. })
    ));
    assert_eq!(
        image.apply(5, &allocate(3, 1, 6000, 1000)),
        Err(Skip::UnknownBroker(n(3)))
    );
    assert_eq!(
        image.apply(5, &allocate(1, 1, 6000, 0)),
        Err(Skip::BadProducerIdCount(0))
    );
    image.next_producer_id = i64::MAX - 10;
    assert_eq!(
        image.apply(5, &allocate(1, 1, i64::MAX - 10, 1000)),
        Err(Skip::ProducerIdsExhausted)
    );
    assert_eq!(image.next_producer_id(), i64::MAX - 10);
}

#[test]
fn an_entry_at_or_before_the_applied_index_is_skipped_whole() {
    let mut image = image_of(&[vec![register(1, 1)], vec![]]);
    assert_eq!(image.applied_index(), 2);
    for index in [1, 2] {
        assert_eq!(
            image.apply_entry(index, &[register(2, 1)]),
            vec![Skipped {
                position: 0,
                skip: Skip::AlreadyApplied { index, applied: 2 }
            }]
        );
    }
    assert_eq!(image.broker(n(2)), None);
    assert_eq!(
        image.apply(1, &register(2, 1)),
        Err(Skip::AlreadyApplied {
            index: 1,
            applied: 2
        })
    );
}

#[test]
fn an_empty_entry_only_moves_the_applied_index() {
    let mut image = image_of(&[vec![register(1, 1)]]);
    let before = image.clone();
    assert_eq!(image.apply_entry(9, &[]), vec![]);
    assert_eq!(image.applied_index(), 9);
    image.applied_index = 1;
    assert_eq!(image, before);
}

#[test]
fn a_skip_names_the_record_s_position_in_its_entry_and_the_rest_applies() {
    let mut image = MetadataImage::default();
    let skipped = image.apply_entry(
        1,
        &[
            create_partition(7, 0, &[1]),
            create_topic("t", 7),
            create_partition(7, 0, &[1]),
            create_partition(7, 2, &[1]),
        ],
    );
    assert_eq!(
        skipped.iter().map(|s| s.position).collect::<Vec<_>>(),
        vec![0, 3]
    );
    assert_eq!(image.topic_by_name("t").unwrap().partitions.len(), 1);
}

#[test]
fn live_brokers_are_the_registered_unfenced_ones_in_id_order() {
    let image = image_of(&[
        vec![register(5, 1), register(3, 1), register(4, 1)],
        vec![unfence(5, 1), unfence(3, 1)],
    ]);
    assert_eq!(image.live_brokers(), nodes(&[3, 5]));
    assert_eq!(
        image.brokers().map(|(id, _)| id).collect::<Vec<_>>(),
        nodes(&[3, 4, 5])
    );
}
