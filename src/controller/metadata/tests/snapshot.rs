//! Snapshots.

use super::*;
use crate::controller::metadata::snapshot::{SnapshotError, SNAPSHOT_FORMAT_VERSION};

fn sample_log() -> Vec<Vec<MetadataRecord>> {
    vec![
        vec![MetadataRecord::InitCluster {
            cluster_id: [1; 16],
        }],
        vec![register(1, 1)],
        vec![register(2, 1)],
        vec![unfence(1, 2), unfence(2, 3)],
        vec![
            create_topic("a", 1),
            create_partition(1, 0, &[1, 2]),
            create_partition(1, 1, &[2, 1]),
        ],
        vec![MetadataRecord::AllocateProducerIds {
            node_id: n(2),
            broker_epoch: BrokerEpoch(3),
            first_id: 0,
            count: 1000,
        }],
        vec![create_topic("b", 2), create_partition(2, 0, &[2])],
        vec![fence(2, 3)],
        vec![MetadataRecord::DeleteTopic { topic_id: tid(2) }],
    ]
}

#[test]
fn an_image_comes_back_from_its_snapshot() {
    let image = image_of(&sample_log());
    let bytes = image.to_snapshot();
    assert_eq!(bytes[0], SNAPSHOT_FORMAT_VERSION);
    let loaded = MetadataImage::from_snapshot(&bytes).unwrap();
    assert_eq!(loaded, image);
    assert_eq!(loaded.topic_by_name("a").unwrap().id, tid(1));
    let empty = MetadataImage::default();
    assert_eq!(
        MetadataImage::from_snapshot(&empty.to_snapshot()),
        Ok(empty)
    );
}

#[test]
fn replaying_the_whole_log_onto_a_snapshot_skips_what_the_snapshot_holds() {
    let log = sample_log();
    let whole = image_of(&log);
    for cut in 0..=log.len() {
        let prefix = image_of(&log[..cut]);
        let mut image = MetadataImage::from_snapshot(&prefix.to_snapshot()).unwrap();
        for (index, entry) in (1..).zip(&log) {
            image.apply_entry(index, entry);
        }
        assert_eq!(image, whole, "cut after entry {cut}");
    }
}

#[test]
fn bytes_that_are_no_snapshot_are_refused() {
    let bytes = image_of(&sample_log()).to_snapshot();
    assert_eq!(MetadataImage::from_snapshot(&[]), Err(SnapshotError::Empty));
    let mut other = bytes.clone();
    other[0] = SNAPSHOT_FORMAT_VERSION + 1;
    assert_eq!(
        MetadataImage::from_snapshot(&other),
        Err(SnapshotError::UnknownVersion(SNAPSHOT_FORMAT_VERSION + 1))
    );
    for len in 1..bytes.len() {
        assert!(
            MetadataImage::from_snapshot(&bytes[..len]).is_err(),
            "{len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(7);
    assert_eq!(
        MetadataImage::from_snapshot(&longer),
        Err(SnapshotError::TrailingBytes(1))
    );
}

#[test]
fn a_snapshot_that_breaks_an_invariant_is_refused() {
    let good = image_of(&sample_log());
    let refused = |image: &MetadataImage| match MetadataImage::from_snapshot(&image.to_snapshot()) {
        Err(SnapshotError::Inconsistent(why)) => why,
        other => panic!("{other:?}"),
    };
    let mut leader_outside_isr = good.clone();
    let p = (leader_outside_isr.topics.get_mut(&tid(1)).unwrap())
        .partitions
        .get_mut(&0)
        .unwrap();
    p.isr = nodes(&[2]);
    assert!(refused(&leader_outside_isr).contains("leader is not in the ISR"));

    let mut same_name = good.clone();
    let mut twin = same_name.topics[&tid(1)].clone();
    twin.id = tid(5);
    same_name.topics.insert(tid(5), twin);
    assert!(refused(&same_name).contains("share a name"));

    let mut gap = good.clone();
    let topic = gap.topics.get_mut(&tid(1)).unwrap();
    let p1 = topic.partitions.remove(&1).unwrap();
    topic.partitions.insert(2, p1);
    assert!(refused(&gap).contains("gap"));

    let mut future_epoch = good.clone();
    future_epoch.brokers.get_mut(&n(1)).unwrap().epoch = BrokerEpoch(99);
    assert!(refused(&future_epoch).contains("past the applied index"));
}
