//! The bytes of an entry.

use super::*;
use crate::controller::metadata::records::{decode, encode, DecodeError, RECORDS_FORMAT_VERSION};
use crate::security::scram::{ScramCredential, ScramMechanism};

/// One record of every kind.
pub(super) fn one_of_each() -> Vec<MetadataRecord> {
    vec![
        MetadataRecord::InitCluster {
            cluster_id: [3; 16],
        },
        register(1, 4),
        fence(1, 2),
        unfence(1, 2),
        MetadataRecord::UnregisterBroker {
            node_id: n(1),
            broker_epoch: BrokerEpoch(2),
        },
        MetadataRecord::CreateTopic {
            name: "orders".into(),
            topic_id: tid(9),
            configs: BTreeMap::from([("retention.ms".into(), "1000".into())]),
        },
        create_partition(9, 0, &[1, 2, 3]),
        MetadataRecord::ChangePartition {
            topic_id: tid(9),
            partition: 0,
            leader: Some(None),
            isr: Some(nodes(&[2])),
        },
        MetadataRecord::DeleteTopic { topic_id: tid(9) },
        MetadataRecord::SetTopicConfig {
            topic_id: tid(9),
            key: "segment.ms".into(),
            value: None,
        },
        MetadataRecord::AllocateProducerIds {
            node_id: n(1),
            broker_epoch: BrokerEpoch(2),
            first_id: 1000,
            count: 1000,
        },
        MetadataRecord::SetScramCredential {
            user: "alice".into(),
            mechanism: ScramMechanism::Sha512,
            credential: Some(ScramCredential::from_password(
                ScramMechanism::Sha512,
                b"alice-secret",
                b"salt",
                4096,
            )),
        },
        MetadataRecord::SetScramCredential {
            user: "alice".into(),
            mechanism: ScramMechanism::Sha256,
            credential: None,
        },
    ]
}

/// The SCRAM record's layout: its variant's position (14, after SetBrokerConfig), the user,
/// the mechanism's position in `ScramMechanism` (SHA-256 0, SHA-512 1), then the optional
/// credential (salt, stored key, server key, iterations). Moving any of these changes what a
/// node reads from its log.
#[test]
fn a_scram_record_keeps_its_bytes() {
    let removal = MetadataRecord::SetScramCredential {
        user: "al".into(),
        mechanism: ScramMechanism::Sha512,
        credential: None,
    };
    assert_eq!(
        postcard::to_allocvec(&removal).unwrap(),
        [14, 2, b'a', b'l', 1, 0]
    );
    let credential = ScramCredential {
        salt: vec![9],
        stored_key: vec![1],
        server_key: vec![2],
        iterations: 4096,
    };
    let set = MetadataRecord::SetScramCredential {
        user: "al".into(),
        mechanism: ScramMechanism::Sha256,
        credential: Some(credential),
    };
    // 4096 is the varint 0x80 0x20.
    assert_eq!(
        postcard::to_allocvec(&set).unwrap(),
        [14, 2, b'a', b'l', 0, 1, 1, 9, 1, 1, 1, 2, 0x80, 0x20]
    );
}

#[test]
fn an_entry_comes_back_from_its_bytes() {
    let records = one_of_each();
    let bytes = encode(&records);
    assert_eq!(bytes[0], RECORDS_FORMAT_VERSION);
    assert_eq!(decode(&bytes), Ok(records));
    assert_eq!(decode(&encode(&[])), Ok(vec![]));
}

#[test]
fn bytes_without_a_known_version_are_refused() {
    assert_eq!(decode(&[]), Err(DecodeError::Empty));
    let mut bytes = encode(&one_of_each());
    for version in [0, RECORDS_FORMAT_VERSION + 1, u8::MAX] {
        bytes[0] = version;
        assert_eq!(decode(&bytes), Err(DecodeError::UnknownVersion(version)));
    }
}

/// postcard's encoding delimits itself, so no strict prefix of an entry is a whole entry.
#[test]
fn every_truncation_of_an_entry_is_refused() {
    let bytes = encode(&one_of_each());
    for len in 1..bytes.len() {
        assert!(
            matches!(decode(&bytes[..len]), Err(DecodeError::Malformed(_))),
            "{len} bytes decoded"
        );
    }
}

#[test]
fn bytes_after_the_last_record_are_refused() {
    let mut bytes = encode(&[register(1, 1)]);
    bytes.push(0);
    assert_eq!(decode(&bytes), Err(DecodeError::TrailingBytes(1)));
}

/// A count of four billion records in six bytes: postcard reserves at most 1 MiB for it
/// and fails when the records run out.
#[test]
fn a_huge_declared_count_is_refused_without_reserving_it() {
    let bytes = [RECORDS_FORMAT_VERSION, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
    // The same inside a record: a replica list of 2^32 − 1 entries.
    let mut bytes = encode(&[create_partition(1, 0, &[1])]);
    let replicas_at = 1 + 1 + 1 + 16 + 1;
    bytes.truncate(replicas_at);
    bytes.extend([0xff, 0xff, 0xff, 0xff, 0x0f, 1]);
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}

#[test]
fn an_unknown_record_kind_is_refused() {
    let bytes = [RECORDS_FORMAT_VERSION, 1, 200];
    assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
}
