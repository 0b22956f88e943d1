//! Byte vectors written out by hand from Kafka's schemas (`OffsetCommitKey`,
//! `OffsetCommitValue`, `GroupMetadataKey`, `GroupMetadataValue`), round trips at every
//! version, and hostile bytes.

use super::*;
use proptest::prelude::*;

/// Hex with spaces for readability; the vectors below group it by field.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

// Strings: "g" 67, "t" 74, "m" 6d, "consumer" 636f6e73756d6572, "range" 72616e6765,
// "m1" 6d31, "c" 63, "/h" 2f68, "i1" 6931.
const OFFSET_KEY_V1: &str = "0001  0001 67  0001 74  00000003";
const OFFSET_KEY_V0: &str = "0000  0001 67  0001 74  00000003";
const GROUP_KEY_V2: &str = "0002  0001 67";

//                            version offset            epoch     metadata commit_timestamp
const OFFSET_V3: &str = "0003 0000000000000005 00000002 0001 6d 0000000000000102";
// Flexible: compact string (length + 1), then an empty tagged-field section.
const OFFSET_V4: &str = "0004 0000000000000005 00000002 02 6d 0000000000000102 00";
// The same with one unknown tagged field (tag 5, two bytes), which is skipped.
const OFFSET_V4_TAGGED: &str =
    "0004 0000000000000005 00000002 02 6d 0000000000000102 01 05 02 aabb";
//                                                    metadata commit_timestamp  expire_timestamp
const OFFSET_V1: &str = "0001 0000000000000005 0001 6d 0000000000000102 0000000000000200";
const OFFSET_V0: &str = "0000 0000000000000005 0001 6d 0000000000000102";
const OFFSET_V2: &str = "0002 0000000000000005 0001 6d 0000000000000102";

// protocol_type, generation, protocol, leader, current_state_timestamp, 1 member:
// member_id, group_instance_id (null), client_id, client_host, rebalance_timeout,
// session_timeout, subscription [1, 2], assignment [].
const GROUP_V3: &str = "0003  0008 636f6e73756d6572  00000001  0005 72616e6765  0002 6d31
    0000000000000007  00000001
    0002 6d31  ffff  0001 63  0002 2f68  00000010  00000020  00000002 0102  00000000";
// Flexible: compact strings/bytes/array (n + 1, 0 = null) and a tagged-field section after
// the member and after the group.
const GROUP_V4: &str = "0004  09 636f6e73756d6572  00000001  06 72616e6765  03 6d31
    0000000000000007  02
    03 6d31  00  02 63  03 2f68  00000010  00000020  03 0102  01  00
    00";
// Version 0: no current_state_timestamp, group_instance_id or rebalance_timeout.
const GROUP_V0: &str = "0000  0008 636f6e73756d6572  00000001  0005 72616e6765  0002 6d31
    00000001
    0002 6d31  0001 63  0002 2f68  00000020  00000002 0102  00000000";
// Version 3, empty: null protocol and leader, timestamp -1, no members.
const GROUP_V3_EMPTY: &str =
    "0003  0008 636f6e73756d6572  00000000  ffff  ffff  ffffffffffffffff  00000000";

fn offset_key() -> OffsetsKey {
    OffsetsKey::Offset {
        group: "g".into(),
        topic: "t".into(),
        partition: 3,
    }
}

fn offset_value() -> OffsetValue {
    OffsetValue {
        offset: 5,
        leader_epoch: 2,
        metadata: "m".into(),
        commit_timestamp_ms: 0x102,
        expire_timestamp_ms: None,
    }
}

fn group_value() -> GroupValue {
    GroupValue {
        protocol_type: "consumer".into(),
        generation: 1,
        protocol: Some("range".into()),
        leader: Some("m1".into()),
        current_state_timestamp_ms: 7,
        members: vec![MemberValue {
            member_id: "m1".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/h".into(),
            rebalance_timeout_ms: 0x10,
            session_timeout_ms: 0x20,
            subscription: vec![1, 2],
            assignment: vec![],
        }],
    }
}

#[test]
fn keys_match_the_schemas_bytes() {
    assert_eq!(encode_key(&offset_key()).unwrap(), hex(OFFSET_KEY_V1));
    assert_eq!(decode_key(&hex(OFFSET_KEY_V1)).unwrap(), offset_key());
    assert_eq!(decode_key(&hex(OFFSET_KEY_V0)).unwrap(), offset_key());
    let group = OffsetsKey::Group { group: "g".into() };
    assert_eq!(encode_key(&group).unwrap(), hex(GROUP_KEY_V2));
    assert_eq!(decode_key(&hex(GROUP_KEY_V2)).unwrap(), group);
}

#[test]
fn newer_key_versions_are_other_and_skipped() {
    assert_eq!(
        decode_key(&hex("0003 0001 67")).unwrap(),
        OffsetsKey::Other(3)
    );
    assert_eq!(decode_key(&hex("0008")).unwrap(), OffsetsKey::Other(8));
    assert_eq!(decode_key(&hex("0009 ffff")).unwrap(), OffsetsKey::Other(9));
    assert_eq!(
        decode_key(&hex("7fff")).unwrap(),
        OffsetsKey::Other(i16::MAX)
    );
    assert_eq!(
        encode_key(&OffsetsKey::Other(3)),
        Err(RecordError::NotEncodable(3))
    );
    assert_eq!(
        decode_key(&hex("ffff 0001 67")),
        Err(RecordError::UnknownVersion {
            record: "key",
            version: -1
        })
    );
}

#[test]
fn offset_values_match_the_schemas_bytes() {
    assert_eq!(
        encode_offset_value(&offset_value()).unwrap(),
        hex(OFFSET_V3)
    );
    assert_eq!(
        decode_offset_value(&hex(OFFSET_V3)).unwrap(),
        offset_value()
    );
    assert_eq!(
        decode_offset_value(&hex(OFFSET_V4)).unwrap(),
        offset_value()
    );
    assert_eq!(
        write_offset_value(&offset_value(), 4).unwrap(),
        hex(OFFSET_V4)
    );
    assert_eq!(
        decode_offset_value(&hex(OFFSET_V4_TAGGED)).unwrap(),
        offset_value()
    );
    let no_epoch = OffsetValue {
        leader_epoch: -1,
        ..offset_value()
    };
    assert_eq!(decode_offset_value(&hex(OFFSET_V0)).unwrap(), no_epoch);
    assert_eq!(decode_offset_value(&hex(OFFSET_V2)).unwrap(), no_epoch);
    let expiring = OffsetValue {
        expire_timestamp_ms: Some(0x200),
        ..no_epoch.clone()
    };
    assert_eq!(encode_offset_value(&expiring).unwrap(), hex(OFFSET_V1));
    assert_eq!(decode_offset_value(&hex(OFFSET_V1)).unwrap(), expiring);
    // Version 1 with the default expiry (-1) has none.
    let v1_default = hex("0001 0000000000000005 0001 6d 0000000000000102 ffffffffffffffff");
    assert_eq!(decode_offset_value(&v1_default).unwrap(), no_epoch);
}

#[test]
fn group_values_match_the_schemas_bytes() {
    assert_eq!(encode_group_value(&group_value()).unwrap(), hex(GROUP_V3));
    assert_eq!(decode_group_value(&hex(GROUP_V3)).unwrap(), group_value());
    assert_eq!(decode_group_value(&hex(GROUP_V4)).unwrap(), group_value());
    assert_eq!(write_group_value(&group_value(), 4).unwrap(), hex(GROUP_V4));

    let mut old = group_value();
    old.current_state_timestamp_ms = -1;
    // Version 0 has no rebalance timeout: the loader uses the session timeout.
    old.members[0].rebalance_timeout_ms = 0x20;
    assert_eq!(decode_group_value(&hex(GROUP_V0)).unwrap(), old);

    let empty = GroupValue {
        protocol_type: "consumer".into(),
        generation: 0,
        protocol: None,
        leader: None,
        current_state_timestamp_ms: -1,
        members: vec![],
    };
    assert_eq!(encode_group_value(&empty).unwrap(), hex(GROUP_V3_EMPTY));
    assert_eq!(decode_group_value(&hex(GROUP_V3_EMPTY)).unwrap(), empty);

    let mut static_member = group_value();
    static_member.members[0].group_instance_id = Some("i1".into());
    let bytes = hex(&GROUP_V3.replace("ffff  0001 63", "0002 6931  0001 63"));
    assert_eq!(encode_group_value(&static_member).unwrap(), bytes);
    assert_eq!(decode_group_value(&bytes).unwrap(), static_member);
}

/// Whether a decoder accepts the bytes.
type Decodes = fn(&[u8]) -> bool;

/// Every valid vector, with the decoder that reads it.
fn vectors() -> Vec<(&'static str, Decodes)> {
    let key: Decodes = |b| decode_key(b).is_ok();
    let offset: Decodes = |b| decode_offset_value(b).is_ok();
    let group: Decodes = |b| decode_group_value(b).is_ok();
    vec![
        (OFFSET_KEY_V1, key),
        (OFFSET_KEY_V0, key),
        (GROUP_KEY_V2, key),
        (OFFSET_V0, offset),
        (OFFSET_V1, offset),
        (OFFSET_V2, offset),
        (OFFSET_V3, offset),
        (OFFSET_V4, offset),
        (OFFSET_V4_TAGGED, offset),
        (GROUP_V0, group),
        (GROUP_V3, group),
        (GROUP_V3_EMPTY, group),
        (GROUP_V4, group),
    ]
}

#[test]
fn every_truncation_is_an_error() {
    for (vector, decodes) in vectors() {
        let bytes = hex(vector);
        assert!(decodes(&bytes), "{vector}");
        for len in 0..bytes.len() {
            assert!(!decodes(&bytes[..len]), "{vector} cut to {len} bytes");
        }
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    for (vector, decodes) in vectors() {
        let mut bytes = hex(vector);
        bytes.push(0);
        assert!(!decodes(&bytes), "{vector} + 00");
    }
    assert_eq!(
        decode_offset_value(&hex(&format!("{OFFSET_V3} 00"))),
        Err(RecordError::TrailingBytes {
            record: "OffsetCommitValue",
            left: 1
        })
    );
}

#[test]
fn lengths_beyond_the_bytes_left_are_errors() {
    assert_eq!(
        decode_key(&hex("0002 7fff 67")),
        Err(RecordError::TooLong {
            what: "group",
            declared: 0x7fff,
            left: 1
        })
    );
    // A member count of i32::MAX with nothing after it: refused before any allocation.
    let huge_count =
        GROUP_V3_EMPTY.replace("ffffffffffffffff  00000000", "0000000000000000 7fffffff");
    assert_eq!(
        decode_group_value(&hex(&huge_count)),
        Err(RecordError::TooLong {
            what: "members",
            declared: i64::from(i32::MAX),
            left: 0
        })
    );
    let huge_bytes = GROUP_V3.replace("00000002 0102  00000000", "7fffffff 0102  00000000");
    assert!(matches!(
        decode_group_value(&hex(&huge_bytes)),
        Err(RecordError::TooLong {
            what: "subscription",
            ..
        })
    ));
    // Compact length u32::MAX - 1 (varint ff ff ff ff 0f).
    let huge_compact = OFFSET_V4.replace("02 6d", "ffffffff0f 6d");
    assert!(matches!(
        decode_offset_value(&hex(&huge_compact)),
        Err(RecordError::TooLong {
            what: "metadata",
            ..
        })
    ));
    let huge_tag = OFFSET_V4.replace("0102 00", "0102 01 05 7f aabb");
    assert!(matches!(
        decode_offset_value(&hex(&huge_tag)),
        Err(RecordError::TooLong {
            what: "tagged field",
            ..
        })
    ));
}

#[test]
fn malformed_fields_are_typed_errors() {
    assert_eq!(
        decode_key(&hex("0002 fffe")),
        Err(RecordError::NegativeLength {
            what: "group",
            length: -2
        })
    );
    assert_eq!(
        decode_key(&hex("0002 ffff")),
        Err(RecordError::UnexpectedNull { what: "group" })
    );
    assert_eq!(
        decode_key(&hex("0002 0001 ff")),
        Err(RecordError::NotUtf8 { what: "group" })
    );
    assert_eq!(
        decode_offset_value(&hex(&OFFSET_V4.replace("02 6d", "ffffffffff 6d"))),
        Err(RecordError::BadVarint { what: "metadata" })
    );
    for (bytes, record) in [("0005", "OffsetCommitValue"), ("ffff", "OffsetCommitValue")] {
        let version = i16::from_be_bytes(hex(bytes).try_into().unwrap());
        assert_eq!(
            decode_offset_value(&hex(bytes)),
            Err(RecordError::UnknownVersion { record, version })
        );
    }
    assert_eq!(
        decode_group_value(&hex("0005")),
        Err(RecordError::UnknownVersion {
            record: "GroupMetadataValue",
            version: 5
        })
    );
}

#[test]
fn a_string_too_long_for_its_length_field_is_not_encoded() {
    let group = "g".repeat(usize::from(i16::MAX as u16) + 1);
    assert_eq!(
        encode_key(&OffsetsKey::Group { group }),
        Err(RecordError::TooLongToEncode {
            what: "group",
            length: 0x8000
        })
    );
}

/// What a value reads back as after a trip through `version`: the fields it lacks take the
/// values the decoder gives them.
fn offset_at(mut v: OffsetValue, version: i16) -> OffsetValue {
    if version < 3 {
        v.leader_epoch = -1;
    }
    if version != 1 {
        v.expire_timestamp_ms = None;
    }
    v
}

fn group_at(mut v: GroupValue, version: i16) -> GroupValue {
    if version < 2 {
        v.current_state_timestamp_ms = -1;
    }
    for m in &mut v.members {
        if version < 3 {
            m.group_instance_id = None;
        }
        if version < 1 {
            m.rebalance_timeout_ms = m.session_timeout_ms;
        }
    }
    v
}

fn any_offset_value() -> impl Strategy<Value = OffsetValue> {
    (
        any::<i64>(),
        any::<i32>(),
        "\\PC{0,6}",
        any::<i64>(),
        prop::option::of(0i64..),
    )
        .prop_map(|(offset, leader_epoch, metadata, ts, expire)| OffsetValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp_ms: ts,
            expire_timestamp_ms: expire,
        })
}

fn any_member() -> impl Strategy<Value = MemberValue> {
    (
        (
            "\\PC{0,6}",
            prop::option::of("\\PC{0,4}"),
            "\\PC{0,4}",
            "\\PC{0,4}",
        ),
        (any::<i32>(), any::<i32>()),
        (
            prop::collection::vec(any::<u8>(), 0..6),
            prop::collection::vec(any::<u8>(), 0..6),
        ),
    )
        .prop_map(
            |((member_id, group_instance_id, client_id, client_host), (rb, st), (sub, asg))| {
                MemberValue {
                    member_id,
                    group_instance_id,
                    client_id,
                    client_host,
                    rebalance_timeout_ms: rb,
                    session_timeout_ms: st,
                    subscription: sub,
                    assignment: asg,
                }
            },
        )
}

fn any_group_value() -> impl Strategy<Value = GroupValue> {
    (
        "\\PC{0,6}",
        any::<i32>(),
        prop::option::of("\\PC{0,4}"),
        prop::option::of("\\PC{0,4}"),
        any::<i64>(),
        prop::collection::vec(any_member(), 0..3),
    )
        .prop_map(
            |(protocol_type, generation, protocol, leader, ts, members)| GroupValue {
                protocol_type,
                generation,
                protocol,
                leader,
                current_state_timestamp_ms: ts,
                members,
            },
        )
}

/// Decodes `bytes` with every decoder (which must return, not panic), and checks that what
/// decodes at a version this module writes encodes back to the same bytes.
fn decode_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    let version = bytes.get(..2).map(|v| i16::from_be_bytes([v[0], v[1]]));
    if let Ok(key) = decode_key(bytes) {
        if version == Some(OFFSET_KEY_VERSION) || version == Some(GROUP_KEY_VERSION) {
            prop_assert_eq!(encode_key(&key).unwrap(), bytes);
        }
    }
    if let Ok(value) = decode_offset_value(bytes) {
        if version == Some(OFFSET_VALUE_VERSION) {
            prop_assert_eq!(encode_offset_value(&value).unwrap(), bytes);
        }
    }
    if let Ok(value) = decode_group_value(bytes) {
        if version == Some(GROUP_VALUE_VERSION) {
            prop_assert_eq!(encode_group_value(&value).unwrap(), bytes);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn offset_values_round_trip_at_every_version(v in any_offset_value(), version in 0i16..=4) {
        let bytes = write_offset_value(&v, version).unwrap();
        prop_assert_eq!(decode_offset_value(&bytes).unwrap(), offset_at(v.clone(), version));
        let written = encode_offset_value(&v).unwrap();
        let version = if v.expire_timestamp_ms.is_some() { 1 } else { 3 };
        prop_assert_eq!(decode_offset_value(&written).unwrap(), offset_at(v, version));
    }

    #[test]
    fn group_values_round_trip_at_every_version(v in any_group_value(), version in 0i16..=4) {
        let bytes = write_group_value(&v, version).unwrap();
        prop_assert_eq!(decode_group_value(&bytes).unwrap(), group_at(v.clone(), version));
        let written = encode_group_value(&v).unwrap();
        prop_assert_eq!(decode_group_value(&written).unwrap(), v);
    }

    #[test]
    fn keys_round_trip(group in "\\PC{0,8}", topic in "\\PC{0,8}", partition in any::<i32>()) {
        for key in [
            OffsetsKey::Offset { group: group.clone(), topic, partition },
            OffsetsKey::Group { group },
        ] {
            prop_assert_eq!(decode_key(&encode_key(&key).unwrap()).unwrap(), key);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        decode_all(&bytes)?;
    }

    #[test]
    fn damaged_vectors_never_panic(which in 0usize..13, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let all = vectors();
        let (vector, _) = all[which % all.len()];
        let mut bytes = hex(vector);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        decode_all(&bytes)?;
    }
}
