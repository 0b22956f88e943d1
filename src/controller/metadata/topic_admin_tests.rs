//! The controller's topic administration on images of three brokers.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::types::BrokerEpoch;

fn n(id: u64) -> NodeId {
    NodeId(id)
}

/// Brokers 1..=3 registered (at entries 1..=3) and unfenced, but those in `fenced`.
fn brokers(fenced: &[u64]) -> MetadataImage {
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
    image
}

fn spec(name: &str, partitions: i32, replication_factor: i16) -> TopicSpec {
    TopicSpec {
        name: name.into(),
        partitions,
        replication_factor,
        configs: BTreeMap::new(),
        assignment: None,
    }
}

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(5)
}

/// Applies the plan's records as the next entry, checking the image's invariants.
fn applied(mut image: MetadataImage, plan: &Plan) -> MetadataImage {
    let index = image.applied_index() + 1;
    let skipped = image.apply_entry(index, &plan.records);
    assert!(skipped.is_empty(), "{skipped:?}");
    image.check().unwrap();
    image
}

fn codes(plan: &Plan) -> Vec<ErrorCode> {
    (plan.outcomes.iter())
        .map(|o| o.as_ref().map_or_else(|r| r.code, |_| ErrorCode::NONE))
        .collect()
}

#[test]
fn a_topic_is_spread_over_the_live_brokers_with_every_replica_in_sync() {
    let image = brokers(&[]);
    let plan = create_topics(&image, &[spec("spread", 6, 2)], false, &mut rng());
    let image = applied(image, &plan);
    let topic = image.topic_by_name("spread").expect("created");
    assert_eq!(Ok(&view(topic)), plan.outcomes[0].as_ref());
    let mut led: BTreeMap<NodeId, usize> = BTreeMap::new();
    for p in topic.partitions.values() {
        assert_eq!(p.replicas.len(), 2);
        assert_ne!(p.replicas[0], p.replicas[1]);
        assert_eq!(
            p.isr, p.replicas,
            "every replica of a new partition is in sync"
        );
        assert_eq!(p.leader, Some(p.replicas[0]), "the preferred leader leads");
        *led.entry(p.leader.unwrap()).or_default() += 1;
    }
    assert_eq!(
        led.values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "leaders round-robin over the three brokers: {led:?}"
    );
}

#[test]
fn creations_are_refused_as_kafka_refuses_them_and_validation_changes_nothing() {
    let image = applied(
        brokers(&[]),
        &create_topics(&brokers(&[]), &[spec("a.b", 1, 1)], false, &mut rng()),
    );
    let mut unknown_key = spec("keys", 1, 1);
    unknown_key.configs.insert("no.such.key".into(), "1".into());
    let mut unknown_broker = spec("manual", 0, 0);
    unknown_broker.assignment = Some(vec![vec![n(1), n(9)]]);
    let mut uneven = spec("uneven", 0, 0);
    uneven.assignment = Some(vec![vec![n(1), n(2)], vec![n(3)]]);
    let plan = create_topics(
        &image,
        &[
            spec("a.b", 1, 1),
            spec("a_b", 1, 1),
            spec("twice", 1, 1),
            spec("twice", 1, 1),
            spec("wide", 1, 4),
            spec("none", 0, 1),
            spec("bad/name", 1, 1),
            unknown_key,
            unknown_broker,
            uneven,
            spec("fine", 2, 3),
        ],
        true,
        &mut rng(),
    );
    assert_eq!(
        codes(&plan),
        [
            ErrorCode::TOPIC_ALREADY_EXISTS,
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            ErrorCode::INVALID_REQUEST,
            ErrorCode::INVALID_REQUEST,
            ErrorCode::INVALID_REPLICATION_FACTOR,
            ErrorCode::INVALID_PARTITIONS,
            ErrorCode::INVALID_TOPIC_EXCEPTION,
            ErrorCode::INVALID_CONFIG,
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            ErrorCode::NONE,
        ]
    );
    assert!(plan.records.is_empty(), "validate_only proposes nothing");
    let fine = plan.outcomes[10].as_ref().unwrap();
    assert_eq!(fine.partitions.len(), 2);
}

/// A fenced broker takes no replica of a placed topic; a manual assignment may name it, but it
/// neither leads nor counts as in sync until it is back.
#[test]
fn a_fenced_broker_gets_no_placed_replica_and_does_not_lead_an_assigned_one() {
    let image = brokers(&[3]);
    let plan = create_topics(&image, &[spec("placed", 4, 2)], false, &mut rng());
    let image = applied(image, &plan);
    let placed = image.topic_by_name("placed").unwrap();
    assert!((placed.partitions.values()).all(|p| !p.replicas.contains(&n(3))));
    let wide = create_topics(&image, &[spec("wide", 1, 3)], false, &mut rng());
    assert_eq!(codes(&wide), [ErrorCode::INVALID_REPLICATION_FACTOR]);
    let mut manual = spec("manual", 0, 0);
    manual.assignment = Some(vec![vec![n(3), n(1)], vec![n(3), n(2)]]);
    let plan = create_topics(&image, &[manual], false, &mut rng());
    let image = applied(image, &plan);
    let partitions: Vec<_> = (image.topic_by_name("manual").unwrap().partitions.values())
        .map(|p| (p.leader, p.isr.clone()))
        .collect();
    assert_eq!(
        partitions,
        [(Some(n(1)), vec![n(1)]), (Some(n(2)), vec![n(2)])]
    );
    let mut all_fenced = spec("all-fenced", 0, 0);
    all_fenced.assignment = Some(vec![vec![n(3)]]);
    let plan = create_topics(&image, &[all_fenced], false, &mut rng());
    assert_eq!(codes(&plan), [ErrorCode::INVALID_REPLICA_ASSIGNMENT]);
}

#[test]
fn topics_are_deleted_by_name_or_id_once() {
    let image = brokers(&[]);
    let plan = create_topics(
        &image,
        &[spec("one", 1, 1), spec("two", 1, 1)],
        false,
        &mut rng(),
    );
    let image = applied(image, &plan);
    let two = image.topic_by_name("two").unwrap().id;
    let plan = delete_topics(
        &image,
        &[
            TopicRef::Name("one".into()),
            TopicRef::Id(two),
            TopicRef::Name("one".into()),
            TopicRef::Id([9; 16]),
        ],
    );
    assert_eq!(
        codes(&plan),
        [
            ErrorCode::INVALID_REQUEST,
            ErrorCode::NONE,
            ErrorCode::INVALID_REQUEST,
            ErrorCode::UNKNOWN_TOPIC_ID,
        ],
        "a topic named twice is refused every time (Kafka's rule)"
    );
    assert_eq!(plan.outcomes[1].as_ref().unwrap().name, "two", "as it was");
    let image = applied(image, &plan);
    let left: Vec<&str> = image.topics().map(|t| t.name.as_str()).collect();
    assert_eq!(left, ["one"]);
    let plan = delete_topics(&image, &[TopicRef::Name("one".into())]);
    let image = applied(image, &plan);
    assert_eq!(image.topics().count(), 0);
}

#[test]
fn partitions_are_added_with_the_topic_s_replication_factor() {
    let image = brokers(&[]);
    let plan = create_topics(&image, &[spec("grow", 2, 2)], false, &mut rng());
    let image = applied(image, &plan);
    let growth = |count: i32, assignment: Option<Vec<Vec<NodeId>>>| TopicGrowth {
        name: "grow".into(),
        count,
        assignment,
    };
    let refused = create_partitions(
        &image,
        &[
            growth(2, None),
            TopicGrowth {
                name: "nope".into(),
                count: 3,
                assignment: None,
            },
        ],
        false,
        &mut rng(),
    );
    assert_eq!(
        codes(&refused),
        [
            ErrorCode::INVALID_PARTITIONS,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    let wrong_count = create_partitions(
        &image,
        &[growth(4, Some(vec![vec![n(1), n(2)]]))],
        false,
        &mut rng(),
    );
    assert_eq!(codes(&wrong_count), [ErrorCode::INVALID_REPLICA_ASSIGNMENT]);
    let plan = create_partitions(&image, &[growth(5, None)], false, &mut rng());
    let image = applied(image, &plan);
    let grown = image.topic_by_name("grow").unwrap();
    assert_eq!(grown.partitions.len(), 5);
    assert!(grown.partitions.values().all(|p| p.replicas.len() == 2));
    let manual = create_partitions(
        &image,
        &[growth(6, Some(vec![vec![n(3), n(1)]]))],
        false,
        &mut rng(),
    );
    let image = applied(image, &manual);
    assert_eq!(
        image.topic_by_name("grow").unwrap().partitions[&5].replicas,
        [n(3), n(1)]
    );
}

#[test]
fn config_overrides_are_replaced_key_by_key() {
    let image = brokers(&[]);
    let mut configured = spec("conf", 1, 1);
    configured.configs.extend([
        ("retention.ms".into(), "5".into()),
        ("segment.ms".into(), "9".into()),
    ]);
    let image = applied(
        image.clone(),
        &create_topics(&image, &[configured], false, &mut rng()),
    );
    let replacement = BTreeMap::from([
        ("retention.ms".to_string(), "6".to_string()),
        ("cleanup.policy".to_string(), "compact".to_string()),
    ]);
    let plan = alter_topic_configs(
        &image,
        &[
            ("conf".into(), replacement.clone()),
            ("nope".into(), BTreeMap::new()),
        ],
        false,
    );
    assert_eq!(
        codes(&plan),
        [ErrorCode::NONE, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION]
    );
    let refused = alter_topic_configs(
        &image,
        &[
            (
                "conf".into(),
                BTreeMap::from([("bad.key".into(), "1".into())]),
            ),
            ("twice".into(), BTreeMap::new()),
            ("twice".into(), BTreeMap::new()),
        ],
        false,
    );
    assert_eq!(
        codes(&refused),
        [
            ErrorCode::INVALID_CONFIG,
            ErrorCode::INVALID_REQUEST,
            ErrorCode::INVALID_REQUEST
        ]
    );
    assert_eq!(plan.records.len(), 3, "segment.ms removed, two keys set");
    let image = applied(image, &plan);
    assert_eq!(image.topic_by_name("conf").unwrap().configs, replacement);
}
