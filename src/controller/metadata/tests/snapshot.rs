//! Snapshots.

use super::*;
use crate::controller::metadata::snapshot::{SnapshotError, SNAPSHOT_FORMAT_VERSION};
use crate::messages::quotas::{
    EntityName, QuotaEntity, QuotaValue, CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE,
};
use crate::security::acl::{
    AccessControlEntry, AclBinding, AclId, AclOperation, AclPermissionType, ResourcePattern,
    ResourceType,
};
use crate::security::scram::{ScramCredential, ScramMechanism};

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
        vec![
            MetadataRecord::SetBrokerConfig {
                broker: None,
                key: "leader.replication.throttled.rate".into(),
                value: Some("1000".into()),
            },
            MetadataRecord::SetBrokerConfig {
                broker: Some(n(2)),
                key: "follower.replication.throttled.rate".into(),
                value: Some("5".into()),
            },
        ],
        vec![
            scram("alice", ScramMechanism::Sha256, 8192),
            scram("alice", ScramMechanism::Sha512, 4096),
            scram("bob", ScramMechanism::Sha512, 4096),
        ],
        vec![
            acl([1; 16], "orders", "User:alice"),
            acl([2; 16], "payments", "User:bob"),
            acl([3; 16], "gone", "User:carol"),
        ],
        vec![MetadataRecord::RemoveAcl { id: [3; 16] }],
        vec![
            quota(Some("alice"), None, PRODUCER_BYTE_RATE, Some(1024.0)),
            quota(None, Some(None), CONSUMER_BYTE_RATE, Some(2048.0)),
            quota(
                Some("bob"),
                Some(Some("app")),
                REQUEST_PERCENTAGE,
                Some(0.5),
            ),
        ],
        vec![quota(
            Some("bob"),
            Some(Some("app")),
            REQUEST_PERCENTAGE,
            None,
        )],
    ]
}

/// A [`MetadataRecord::SetClientQuota`] of the entity `user` (named) and `client` (`Some(None)`:
/// the default client id).
fn quota(
    user: Option<&str>,
    client: Option<Option<&str>>,
    key: &str,
    value: Option<f64>,
) -> MetadataRecord {
    MetadataRecord::SetClientQuota {
        entity: QuotaEntity {
            user: user.map(|u| EntityName::Named(u.into())),
            client_id: client.map(EntityName::from_wire),
        },
        key: key.into(),
        value: value.map(|v| QuotaValue::new(key, v).unwrap()),
    }
}

fn acl(id: AclId, topic: &str, principal: &str) -> MetadataRecord {
    let binding = AclBinding::new(
        ResourcePattern::prefixed(ResourceType::Topic, topic),
        AccessControlEntry::new(principal, "*", AclOperation::Read, AclPermissionType::Allow),
    );
    MetadataRecord::CreateAcl { id, binding }
}

fn scram(user: &str, mechanism: ScramMechanism, iterations: u32) -> MetadataRecord {
    let password = format!("{user}-secret");
    let credential =
        ScramCredential::from_password(mechanism, password.as_bytes(), b"salt", iterations);
    MetadataRecord::SetScramCredential {
        user: user.into(),
        mechanism,
        credential: Some(credential),
    }
}

/// The bytes a snapshot ends with from `format` on (the sections each format added, in order):
/// what a snapshot of the format before lacks.
fn sections_from(image: &MetadataImage, format: u8) -> Vec<u8> {
    let mut tail = Vec::new();
    if format <= 5 {
        tail.extend(postcard::to_allocvec(image.all_broker_configs()).unwrap());
    }
    if format <= 6 {
        tail.extend(postcard::to_allocvec(&**image.scram_credentials()).unwrap());
    }
    if format <= 7 {
        tail.extend(postcard::to_allocvec(&**image.acls()).unwrap());
    }
    if format <= 8 {
        tail.extend(postcard::to_allocvec(&**image.client_quotas()).unwrap());
    }
    tail
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

#[test]
fn deleted_topic_ids_survive_a_snapshot_and_never_come_back() {
    let image = image_of(&sample_log());
    assert_eq!(image.deleted_topic_ids().collect::<Vec<_>>(), [&tid(2)]);
    let mut loaded = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
    assert!(loaded.was_deleted(&tid(2)));
    // The deleted id is refused to a new topic, whatever its name.
    let next = loaded.applied_index() + 1;
    assert_eq!(
        loaded.apply(next, &create_topic("c", 2)),
        Err(crate::controller::metadata::Skip::TopicIdTaken(tid(2)))
    );
    let mut reused = image.clone();
    let mut back = reused.topics[&tid(1)].clone();
    back.id = tid(2);
    back.name = "again".into();
    reused.topics.insert(tid(2), back);
    reused.index_names();
    let refused = MetadataImage::from_snapshot(&reused.to_snapshot());
    assert!(
        matches!(&refused, Err(SnapshotError::Inconsistent(why)) if why.contains("deleted topic's id")),
        "{refused:?}"
    );
}

/// Format 4 is format 5 without the trailing dynamic broker configs: it loads with none.
#[test]
fn a_snapshot_of_the_format_before_broker_configs_still_loads() {
    let image = image_of(&sample_log());
    assert_eq!(
        image.all_broker_configs().len(),
        2,
        "the sample sets two entities"
    );
    let bytes = image.to_snapshot();
    let tail = sections_from(&image, 5);
    assert!(bytes.ends_with(&tail));
    let mut old = bytes[..bytes.len() - tail.len()].to_vec();
    old[0] = 4;
    let loaded = MetadataImage::from_snapshot(&old).unwrap();
    assert!(loaded.all_broker_configs().is_empty());
    assert!(loaded.scram_credentials().is_empty());
    assert_eq!(loaded.topic_by_name("a").unwrap().id, tid(1));
    // The same bytes as format 5 lack the configs: refused, not misread.
    old[0] = 5;
    assert!(MetadataImage::from_snapshot(&old).is_err());
}

/// Format 5 is format 6 without the trailing SCRAM credentials: it loads with none, and
/// everything else as it was.
#[test]
fn a_snapshot_of_the_format_before_scram_credentials_still_loads() {
    let image = image_of(&sample_log());
    assert_eq!(image.scram_credentials().len(), 2, "alice and bob");
    let bytes = image.to_snapshot();
    let tail = sections_from(&image, 6);
    assert!(bytes.ends_with(&tail));
    let mut old = bytes[..bytes.len() - tail.len()].to_vec();
    old[0] = 5;
    let loaded = MetadataImage::from_snapshot(&old).unwrap();
    assert!(loaded.scram_credentials().is_empty());
    assert!(loaded.acls().is_empty());
    assert_eq!(loaded.all_broker_configs(), image.all_broker_configs());
    let mut without = image.clone();
    let next = without.applied_index() + 1;
    let removals: Vec<MetadataRecord> = [
        ("alice", ScramMechanism::Sha256),
        ("alice", ScramMechanism::Sha512),
        ("bob", ScramMechanism::Sha512),
    ]
    .into_iter()
    .map(|(user, mechanism)| MetadataRecord::SetScramCredential {
        user: user.into(),
        mechanism,
        credential: None,
    })
    .collect();
    assert_eq!(without.apply_entry(next, &removals), vec![]);
    assert_eq!(
        (loaded.scram_credentials(), loaded.applied_index()),
        (without.scram_credentials(), image.applied_index())
    );
    // The same bytes as format 6 lack the credentials: refused, not misread.
    old[0] = 6;
    assert!(MetadataImage::from_snapshot(&old).is_err());
}

/// Format 6 is format 7 without the trailing ACLs: it loads with none, and everything else
/// as it was.
#[test]
fn a_snapshot_of_the_format_before_acls_still_loads() {
    let image = image_of(&sample_log());
    assert_eq!(
        image.acls().len(),
        2,
        "alice's and bob's; carol's was removed"
    );
    let bytes = image.to_snapshot();
    let tail = sections_from(&image, 7);
    assert!(bytes.ends_with(&tail));
    let mut old = bytes[..bytes.len() - tail.len()].to_vec();
    old[0] = 6;
    let loaded = MetadataImage::from_snapshot(&old).unwrap();
    assert!(loaded.acls().is_empty());
    assert_eq!(loaded.scram_credentials(), image.scram_credentials());
    assert_eq!(loaded.applied_index(), image.applied_index());
    // The same bytes as format 7 lack the ACLs: refused, not misread.
    old[0] = 7;
    assert!(MetadataImage::from_snapshot(&old).is_err());
}

/// Format 7 is format 8 without the trailing client quotas: it loads with none, and
/// everything else as it was.
#[test]
fn a_snapshot_of_the_format_before_client_quotas_still_loads() {
    let image = image_of(&sample_log());
    let entities: Vec<String> = (image.client_quotas().iter())
        .map(|(e, _)| e.to_string())
        .collect();
    assert_eq!(
        entities,
        ["client-id=<default>", "user=alice"],
        "bob's went with its last key"
    );
    let loaded = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
    assert_eq!(loaded.client_quotas(), image.client_quotas());
    let bytes = image.to_snapshot();
    let tail = sections_from(&image, 8);
    assert!(bytes.ends_with(&tail));
    let mut old = bytes[..bytes.len() - tail.len()].to_vec();
    old[0] = 7;
    let loaded = MetadataImage::from_snapshot(&old).unwrap();
    assert!(loaded.client_quotas().is_empty());
    assert_eq!(loaded.acls(), image.acls());
    // The same bytes as format 8 lack the quotas: refused, not misread.
    old[0] = SNAPSHOT_FORMAT_VERSION;
    assert_eq!(SNAPSHOT_FORMAT_VERSION, 8);
    assert!(MetadataImage::from_snapshot(&old).is_err());
}

/// The ACLs come back from a snapshot by id, and a snapshot holding one the image could not
/// keep (two ids for one binding) is refused.
#[test]
fn acls_survive_a_snapshot_and_repeated_ones_are_refused() {
    let image = image_of(&sample_log());
    let loaded = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
    assert_eq!(loaded.acls(), image.acls());
    let ids: Vec<AclId> = loaded.acls().iter().map(|(id, _)| id).collect();
    assert_eq!(ids, [[1; 16], [2; 16]]);
    let bytes = image.to_snapshot();
    let tail = sections_from(&image, 7);
    let mut forged = bytes[..bytes.len() - tail.len()].to_vec();
    let (_, binding) = image.acls().iter().next().unwrap();
    let twice = vec![([1u8; 16], binding.clone()), ([5u8; 16], binding.clone())];
    forged.extend(postcard::to_allocvec(&twice).unwrap());
    assert!(matches!(
        MetadataImage::from_snapshot(&forged),
        Err(SnapshotError::Malformed(_))
    ));
}

/// The credentials come back from a snapshot with their keys, and a snapshot whose
/// credentials break the image's rules is refused.
#[test]
fn scram_credentials_survive_a_snapshot_and_bad_ones_are_refused() {
    let image = image_of(&sample_log());
    let loaded = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
    let alice = loaded
        .scram_credential("alice", ScramMechanism::Sha256)
        .unwrap();
    assert_eq!(
        alice,
        &ScramCredential::from_password(ScramMechanism::Sha256, b"alice-secret", b"salt", 8192)
    );
    let refused = |image: &MetadataImage| match MetadataImage::from_snapshot(&image.to_snapshot()) {
        Err(SnapshotError::Inconsistent(why)) => why,
        other => panic!("{other:?}"),
    };
    let mut few = image.clone();
    let users = std::sync::Arc::make_mut(&mut few.scram);
    (users
        .get_mut("bob")
        .unwrap()
        .get_mut(&ScramMechanism::Sha512)
        .unwrap())
    .iterations = 10;
    assert!(refused(&few).contains("iteration"), "{}", refused(&few));
    let mut empty = image.clone();
    std::sync::Arc::make_mut(&mut empty.scram).insert("carol".into(), Default::default());
    assert!(refused(&empty).contains("without a credential"));
}

#[test]
fn a_snapshot_of_the_format_before_deleted_ids_still_loads() {
    let image = image_of(&sample_log());
    let bytes = image.to_snapshot();
    // Format 1 is format 2 without the trailing deleted ids.
    let mut old = vec![1u8];
    old.extend(postcard::to_allocvec(&image).unwrap());
    assert!(bytes[1..].starts_with(&old[1..]));
    let loaded = MetadataImage::from_snapshot(&old).unwrap();
    assert_eq!(loaded.deleted_topic_ids().count(), 0);
    assert_eq!(loaded.topic_by_name("a").unwrap().id, tid(1));
}

#[test]
fn the_image_keeps_only_the_newest_deleted_ids() {
    let mut image = MetadataImage::default();
    let kept = crate::limits::DELETED_TOPIC_IDS_KEPT;
    for i in 0..kept + 5 {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        image.remember_deleted(id);
    }
    assert_eq!(image.deleted_topic_ids().count(), kept);
    let first = image.deleted_topic_ids().next().unwrap();
    assert_eq!(first[..8], (6u64).to_be_bytes());
    image.check().unwrap();
}
