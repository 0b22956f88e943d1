//! Tests of the metadata state machine: records and their bytes, apply rule by rule,
//! snapshots, elections over an image, and random logs (`proptests`) against the invariants.
//! Placement's tests are in its own file: it needs no image.

mod apply;
mod election;
mod eligible;
mod proptests;
mod reassign;
mod records;
mod snapshot;

use std::collections::BTreeMap;

use super::records::{Listener, MetadataRecord, TopicId};
use super::{MetadataImage, Skipped};
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId};

pub(super) fn n(id: u64) -> NodeId {
    NodeId(id)
}

pub(super) fn nodes(ids: &[u64]) -> Vec<NodeId> {
    ids.iter().copied().map(NodeId).collect()
}

pub(super) fn tid(byte: u8) -> TopicId {
    [byte; 16]
}

pub(super) fn register(node: u64, incarnation: u8) -> MetadataRecord {
    MetadataRecord::RegisterBroker {
        node_id: NodeId(node),
        incarnation_id: [incarnation; 16],
        listeners: vec![Listener {
            name: "PLAINTEXT".into(),
            host: format!("broker{node}"),
            port: 9092,
        }],
        rack: None,
    }
}

pub(super) fn fence(node: u64, epoch: u64) -> MetadataRecord {
    MetadataRecord::FenceBroker {
        node_id: NodeId(node),
        broker_epoch: BrokerEpoch(epoch),
    }
}

pub(super) fn unfence(node: u64, epoch: u64) -> MetadataRecord {
    MetadataRecord::UnfenceBroker {
        node_id: NodeId(node),
        broker_epoch: BrokerEpoch(epoch),
    }
}

pub(super) fn create_topic(name: &str, id: u8) -> MetadataRecord {
    MetadataRecord::CreateTopic {
        name: name.into(),
        topic_id: tid(id),
        configs: BTreeMap::new(),
    }
}

/// A new partition as Kafka creates one: the ISR is every replica, the first one leads, both
/// epochs 0.
pub(super) fn create_partition(id: u8, partition: i32, replicas: &[u64]) -> MetadataRecord {
    MetadataRecord::CreatePartition {
        topic_id: tid(id),
        partition,
        replicas: nodes(replicas),
        isr: nodes(replicas),
        leader: replicas.first().copied().map(NodeId),
        leader_epoch: LeaderEpoch::INITIAL,
        partition_epoch: 0,
    }
}

/// An image that applied `entries` at indexes 1, 2, …, asserting that nothing was skipped.
pub(super) fn image_of(entries: &[Vec<MetadataRecord>]) -> MetadataImage {
    let mut image = MetadataImage::default();
    for (index, entry) in (1..).zip(entries) {
        let skipped: Vec<Skipped> = image.apply_entry(index, entry);
        assert!(skipped.is_empty(), "entry {index}: {skipped:?}");
    }
    image
}

/// Brokers 1, 2 and 3 registered at indexes 1 to 3 and unfenced at 4; topic "t" (id 7)
/// with the given partitions' replicas, created at index 5.
pub(super) fn three_brokers_and(partitions: &[&[u64]]) -> MetadataImage {
    let mut topic = vec![create_topic("t", 7)];
    topic.extend(
        (0..)
            .zip(partitions)
            .map(|(p, r)| create_partition(7, p, r)),
    );
    image_of(&[
        vec![register(1, 1)],
        vec![register(2, 1)],
        vec![register(3, 1)],
        vec![unfence(1, 1), unfence(2, 2), unfence(3, 3)],
        topic,
    ])
}
