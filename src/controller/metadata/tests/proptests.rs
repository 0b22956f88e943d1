//! Random logs against the rules: a log is built from random operations the way a controller
//! would propose them (read the image, emit records — elections included), with stale epochs,
//! taken names and malformed partitions mixed in, and applied entry by entry.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::controller::metadata::election::{on_fence, on_unfence, UNCLEAN_ELECTION_KEY};
use crate::controller::metadata::placement::{place_replicas, PlacementRequest, PlacementSeed};
use crate::controller::metadata::records::{decode, encode};
use crate::controller::metadata::snapshot::SNAPSHOT_FORMAT_VERSION;
use crate::controller::metadata::Skip;

const NODES: u8 = 5;
/// Topic ids 1 to 4, and 0, which Kafka reserves.
const TOPIC_IDS: u8 = 5;
/// Names that collide ('.' and '_') and one that is illegal.
const NAMES: [&str; 6] = ["a", "b", "a.b", "a_b", "c", "no good"];
const CONFIG_KEYS: [&str; 3] = ["retention.ms", UNCLEAN_ELECTION_KEY, "segment.ms"];
const CONFIG_VALUES: [&str; 3] = ["true", "false", "5"];

#[derive(Clone, Debug)]
enum Op {
    Init(u8),
    Register {
        node: u8,
        incarnation: u8,
    },
    Fence {
        node: u8,
        stale: bool,
        unclean: bool,
    },
    Unfence {
        node: u8,
        stale: bool,
    },
    Unregister {
        node: u8,
        stale: bool,
    },
    CreateTopic {
        name: u8,
        id: u8,
        partitions: u8,
        replication_factor: u8,
        seed: (u32, u32),
    },
    /// A partition as the log may hold it by mistake: any replicas, ISR and leader.
    RawPartition {
        topic: u8,
        skip_ahead: bool,
        replicas: Vec<u8>,
        isr: Vec<u8>,
        leader: Option<u8>,
    },
    RawChange {
        topic: u8,
        partition: u8,
        leader: Option<Option<u8>>,
        isr: Option<Vec<u8>>,
    },
    Delete {
        topic: u8,
    },
    Config {
        topic: u8,
        key: u8,
        value: Option<u8>,
    },
    Allocate {
        node: u8,
        stale: bool,
        off_by: i8,
    },
    Noop,
}

fn node_list() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..NODES, 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    let topic = 0..TOPIC_IDS;
    let stale = prop::bool::weighted(0.2);
    prop_oneof![
        1 => any::<u8>().prop_map(Op::Init),
        6 => (node.clone(), 0u8..3).prop_map(|(node, incarnation)| Op::Register { node, incarnation }),
        3 => (node.clone(), stale, any::<bool>())
            .prop_map(|(node, stale, unclean)| Op::Fence { node, stale, unclean }),
        4 => (node.clone(), stale).prop_map(|(node, stale)| Op::Unfence { node, stale }),
        1 => (node.clone(), stale).prop_map(|(node, stale)| Op::Unregister { node, stale }),
        4 => (0..NAMES.len() as u8, topic.clone(), 1u8..5, 1u8..4, (any::<u32>(), any::<u32>()))
            .prop_map(|(name, id, partitions, replication_factor, seed)| Op::CreateTopic {
                name, id, partitions, replication_factor, seed,
            }),
        1 => (topic.clone(), prop::bool::weighted(0.2), node_list(), node_list(), prop::option::of(node.clone()))
            .prop_map(|(topic, skip_ahead, replicas, isr, leader)| Op::RawPartition {
                topic, skip_ahead, replicas, isr, leader,
            }),
        2 => (topic.clone(), 0u8..4, prop::option::of(prop::option::of(node.clone())), prop::option::of(node_list()))
            .prop_map(|(topic, partition, leader, isr)| Op::RawChange { topic, partition, leader, isr }),
        1 => topic.clone().prop_map(|topic| Op::Delete { topic }),
        1 => (topic, 0..CONFIG_KEYS.len() as u8, prop::option::of(0..CONFIG_VALUES.len() as u8))
            .prop_map(|(topic, key, value)| Op::Config { topic, key, value }),
        2 => (node, stale, prop::sample::select(vec![0i8, 0, 0, -1, 1]))
            .prop_map(|(node, stale, off_by)| Op::Allocate { node, stale, off_by }),
        1 => Just(Op::Noop),
    ]
}

fn node_ids(ids: &[u8]) -> Vec<NodeId> {
    ids.iter().map(|id| NodeId(u64::from(*id))).collect()
}

/// The epoch a record about `node` carries: its registration's, or a wrong one when `stale`
/// (or when it is not registered).
fn epoch_for(image: &MetadataImage, node: NodeId, stale: bool) -> BrokerEpoch {
    match image.broker(node) {
        Some(b) if !stale => b.epoch,
        Some(b) => BrokerEpoch(b.epoch.0.saturating_sub(1)),
        None => BrokerEpoch(1),
    }
}

/// The entry a controller holding `image` would propose for `op`.
fn entry_for(op: &Op, image: &MetadataImage) -> Vec<MetadataRecord> {
    use MetadataRecord as R;
    let node = |id: u8| NodeId(u64::from(id));
    match op {
        Op::Init(byte) => vec![R::InitCluster {
            cluster_id: [*byte; 16],
        }],
        Op::Register { node, incarnation } => vec![register(u64::from(*node), *incarnation)],
        Op::Fence {
            node: id,
            stale,
            unclean,
        } => {
            let broker_epoch = epoch_for(image, node(*id), *stale);
            let mut entry = vec![R::FenceBroker {
                node_id: node(*id),
                broker_epoch,
            }];
            entry.extend(on_fence(image, node(*id), *unclean).records);
            entry
        }
        Op::Unfence { node: id, stale } => {
            let broker_epoch = epoch_for(image, node(*id), *stale);
            let mut entry = vec![R::UnfenceBroker {
                node_id: node(*id),
                broker_epoch,
            }];
            entry.extend(on_unfence(image, node(*id), false).records);
            entry
        }
        Op::Unregister { node: id, stale } => {
            let broker_epoch = epoch_for(image, node(*id), *stale);
            let mut entry = on_fence(image, node(*id), false).records;
            entry.push(R::UnregisterBroker {
                node_id: node(*id),
                broker_epoch,
            });
            entry
        }
        Op::CreateTopic {
            name,
            id,
            partitions,
            replication_factor,
            seed,
        } => create_topic_entry(image, *name, *id, *partitions, *replication_factor, *seed),
        Op::RawPartition {
            topic,
            skip_ahead,
            replicas,
            isr,
            leader,
        } => {
            let topic_id = tid(*topic);
            let next = image
                .topic(&topic_id)
                .map_or(0, |t| t.partitions.len() as i32);
            vec![R::CreatePartition {
                topic_id,
                partition: next + i32::from(*skip_ahead),
                replicas: node_ids(replicas),
                isr: node_ids(isr),
                leader: leader.map(node),
                leader_epoch: LeaderEpoch::INITIAL,
                partition_epoch: 0,
            }]
        }
        Op::RawChange {
            topic,
            partition,
            leader,
            isr,
        } => vec![R::ChangePartition {
            topic_id: tid(*topic),
            partition: i32::from(*partition),
            leader: leader.map(|l| l.map(node)),
            isr: isr.as_deref().map(node_ids),
        }],
        Op::Delete { topic } => vec![R::DeleteTopic {
            topic_id: tid(*topic),
        }],
        Op::Config { topic, key, value } => vec![R::SetTopicConfig {
            topic_id: tid(*topic),
            key: CONFIG_KEYS[*key as usize].into(),
            value: value.map(|v| CONFIG_VALUES[v as usize].into()),
        }],
        Op::Allocate {
            node: id,
            stale,
            off_by,
        } => vec![R::AllocateProducerIds {
            node_id: node(*id),
            broker_epoch: epoch_for(image, node(*id), *stale),
            first_id: image.next_producer_id() + i64::from(*off_by),
            count: 1000,
        }],
        Op::Noop => vec![],
    }
}

/// A topic and its partitions placed on the live brokers (on broker 0 when placement refuses,
/// as a controller with a stale view might).
fn create_topic_entry(
    image: &MetadataImage,
    name: u8,
    id: u8,
    partitions: u8,
    replication_factor: u8,
    (start_index, replica_shift): (u32, u32),
) -> Vec<MetadataRecord> {
    let topic_id = tid(id);
    let request = PlacementRequest {
        first_partition: 0,
        count: i32::from(partitions),
        replication_factor: i16::from(replication_factor),
    };
    let seed = PlacementSeed {
        start_index,
        replica_shift,
    };
    let placed = place_replicas(&image.live_brokers(), request, seed)
        .unwrap_or_else(|_| vec![vec![NodeId(0)]; partitions as usize]);
    let mut entry = vec![MetadataRecord::CreateTopic {
        name: NAMES[name as usize].into(),
        topic_id,
        configs: BTreeMap::new(),
    }];
    for (partition, replicas) in (0..).zip(placed) {
        entry.push(MetadataRecord::CreatePartition {
            topic_id,
            partition,
            isr: replicas.clone(),
            leader: replicas.first().copied(),
            replicas,
            leader_epoch: LeaderEpoch::INITIAL,
            partition_epoch: 0,
        });
    }
    entry
}

/// What the rules promise across a whole log, checked while it is built.
#[derive(Default)]
struct Witness {
    /// Producer-id blocks applied, in log order.
    blocks: Vec<(i64, i64)>,
    /// The last epoch each node was registered with.
    epochs: BTreeMap<NodeId, BrokerEpoch>,
}

impl Witness {
    fn saw(
        &mut self,
        before: &MetadataImage,
        after: &MetadataImage,
        entry: &[MetadataRecord],
        skipped: &[Skipped],
    ) {
        for (position, record) in entry.iter().enumerate() {
            if skipped.iter().any(|s| s.position == position) {
                continue;
            }
            match record {
                MetadataRecord::AllocateProducerIds {
                    first_id, count, ..
                } => {
                    self.blocks.push((*first_id, first_id + i64::from(*count)));
                }
                MetadataRecord::RegisterBroker { node_id, .. } => {
                    let epoch = after.broker(*node_id).unwrap().epoch;
                    if let Some(old) = self.epochs.insert(*node_id, epoch) {
                        assert!(epoch > old, "{node_id}: epoch {old} then {epoch}");
                    }
                }
                MetadataRecord::FenceBroker { node_id, .. } if position == 0 => {
                    assert_fenced_broker_leads_nothing(before, after, *node_id);
                }
                _ => {}
            }
        }
    }
}

/// After a fence and its election: the broker leads nothing and is in an ISR only as its
/// last member (where it was already alone, or the partition had nobody else to keep).
fn assert_fenced_broker_leads_nothing(
    before: &MetadataImage,
    after: &MetadataImage,
    broker: NodeId,
) {
    for topic in after.topics() {
        for (index, p) in &topic.partitions {
            assert_ne!(p.leader, Some(broker), "{}-{index}", topic.name);
            if p.isr.contains(&broker) {
                assert_eq!(p.isr, vec![broker], "{}-{index}", topic.name);
                let was = before.partition(&topic.id, *index).unwrap();
                assert_eq!(
                    was.isr,
                    vec![broker],
                    "{}-{index}: it was not alone",
                    topic.name
                );
            }
        }
    }
}

/// The log `ops` make, each entry proposed against the image of the entries before it, with
/// the rules checked as it goes.
fn build_log(ops: &[Op]) -> Vec<Vec<MetadataRecord>> {
    let mut image = MetadataImage::default();
    let mut witness = Witness::default();
    let mut log = Vec::new();
    for (index, op) in (1..).zip(ops) {
        let entry = entry_for(op, &image);
        let before = image.clone();
        let skipped = image.apply_entry(index, &entry);
        if let Err(broken) = image.check() {
            panic!("entry {index} {entry:?} broke the image: {broken}");
        }
        witness.saw(&before, &image, &entry, &skipped);
        log.push(entry);
    }
    for pair in witness.blocks.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "blocks {pair:?} overlap or go back");
    }
    log
}

fn replay(log: &[Vec<MetadataRecord>]) -> (MetadataImage, Vec<Vec<Skipped>>) {
    let mut image = MetadataImage::default();
    let skips = (1..)
        .zip(log)
        .map(|(index, entry)| image.apply_entry(index, entry))
        .collect();
    (image, skips)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Apply keeps every invariant, epochs only grow, a fence leaves its broker leading
    /// nothing, producer-id blocks never overlap; and two nodes applying the same log (from
    /// its bytes, as a follower gets it) hold equal images and skip the same records.
    #[test]
    fn apply_is_deterministic_and_keeps_every_rule(ops in prop::collection::vec(op(), 1..80)) {
        let log = build_log(&ops);
        let from_bytes: Vec<Vec<MetadataRecord>> =
            log.iter().map(|entry| decode(&encode(entry)).unwrap()).collect();
        prop_assert_eq!(&from_bytes, &log);
        let (first, first_skips) = replay(&log);
        let (second, second_skips) = replay(&from_bytes);
        prop_assert_eq!(first, second);
        prop_assert_eq!(first_skips, second_skips);
    }

    /// Loading the snapshot of a prefix and applying the rest gives the image of the whole
    /// log, as does applying the whole log onto that snapshot.
    #[test]
    fn a_snapshot_of_a_prefix_then_the_tail_equals_the_whole_log(
        ops in prop::collection::vec(op(), 1..80),
        cut in any::<prop::sample::Index>(),
    ) {
        let log = build_log(&ops);
        let cut = cut.index(log.len() + 1);
        let (whole, _) = replay(&log);
        let (prefix, _) = replay(&log[..cut]);
        let mut loaded = MetadataImage::from_snapshot(&prefix.to_snapshot()).unwrap();
        prop_assert_eq!(&loaded, &prefix);
        let mut onto_snapshot = loaded.clone();
        for (index, entry) in (1..).zip(&log).skip(cut) {
            loaded.apply_entry(index, entry);
        }
        prop_assert_eq!(&loaded, &whole);
        for (index, entry) in (1..).zip(&log) {
            let skipped = onto_snapshot.apply_entry(index, entry);
            if index <= cut as u64 {
                let already = matches!(skipped.as_slice(), [Skipped { skip: Skip::AlreadyApplied { .. }, .. }]);
                prop_assert!(already);
            }
        }
        prop_assert_eq!(&onto_snapshot, &whole);
    }

    #[test]
    fn decoding_arbitrary_bytes_errors_or_succeeds_without_panicking(
        body in prop::collection::vec(any::<u8>(), 0..300),
        versioned in any::<bool>(),
    ) {
        let mut bytes = body;
        if versioned {
            bytes.insert(0, crate::controller::metadata::records::RECORDS_FORMAT_VERSION);
        }
        let _ = decode(&bytes);
        if let (true, Some(first)) = (versioned, bytes.first_mut()) {
            *first = SNAPSHOT_FORMAT_VERSION;
        }
        let _ = MetadataImage::from_snapshot(&bytes);
    }

    /// A damaged entry or snapshot decodes to something or is refused; it never panics, and a
    /// snapshot that loads still holds every invariant.
    #[test]
    fn damaged_entries_and_snapshots_never_panic(
        ops in prop::collection::vec(op(), 1..30),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let log = build_log(&ops);
        let mut entry = encode(&log.concat());
        let mut snapshot = replay(&log).0.to_snapshot();
        for (at, byte) in &damage {
            let i = at.index(entry.len());
            entry[i] ^= byte | 1;
            let j = at.index(snapshot.len());
            snapshot[j] ^= byte | 1;
        }
        let _ = decode(&entry);
        if let Ok(image) = MetadataImage::from_snapshot(&snapshot) {
            prop_assert_eq!(image.check(), Ok(()));
        }
    }
}
