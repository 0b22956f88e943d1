//! The records of KIP-848 consumer groups (key versions 3 and 5–8), from Kafka's coordinator
//! schemas `ConsumerGroupMetadata*`, `ConsumerGroupMemberMetadata*`,
//! `ConsumerGroupTargetAssignmentMetadata*`, `ConsumerGroupTargetAssignmentMember*` and
//! `ConsumerGroupCurrentMemberAssignment*`. Keys are classic structs (`int16` version, then the
//! group id and, per member, the member id); every value is version 0 and flexible. Key 4
//! (`ConsumerGroupPartitionMetadata`) is deprecated since Kafka 4.1 (the group epoch's
//! `MetadataHash` replaced it) and is not written: the subscribed topics' metadata is
//! re-read from the cluster after a load.
//!
//! Tagged fields Kafka added later (`MetadataHash`, `CreationTimeMs`, `AssignmentTimestamp`,
//! `AssignmentEpochs`, `ClassicMemberMetadata`) are skipped on read and not written, which
//! Kafka reads as their defaults.

use super::RecordError;
use crate::group::assign::Assignment;
use crate::storage::schema::{Reader, Writer};

/// The key of a consumer group record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConsumerKey {
    /// 3: the group epoch.
    Metadata { group: String },
    /// 5: a member's subscription and identity.
    Member { group: String, member: String },
    /// 6: the target assignment's epoch.
    TargetMetadata { group: String },
    /// 7: a member's target assignment.
    TargetMember { group: String, member: String },
    /// 8: a member's current assignment and epochs.
    CurrentAssignment { group: String, member: String },
}

impl ConsumerKey {
    pub fn version(&self) -> i16 {
        match self {
            ConsumerKey::Metadata { .. } => 3,
            ConsumerKey::Member { .. } => 5,
            ConsumerKey::TargetMetadata { .. } => 6,
            ConsumerKey::TargetMember { .. } => 7,
            ConsumerKey::CurrentAssignment { .. } => 8,
        }
    }

    pub fn group(&self) -> &str {
        match self {
            ConsumerKey::Metadata { group }
            | ConsumerKey::Member { group, .. }
            | ConsumerKey::TargetMetadata { group }
            | ConsumerKey::TargetMember { group, .. }
            | ConsumerKey::CurrentAssignment { group, .. } => group,
        }
    }
}

/// `ConsumerGroupMemberMetadataValue`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberMetadataValue {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
}

/// `ConsumerGroupCurrentMemberAssignmentValue`; `state` is Kafka's `MemberState` byte
/// (0 stable, 1 unrevoked partitions, 2 unreleased partitions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CurrentAssignmentValue {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: i8,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

/// The value of a consumer group record, by key kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerValue {
    Metadata { epoch: i32 },
    Member(MemberMetadataValue),
    TargetMetadata { assignment_epoch: i32 },
    TargetMember(Assignment),
    CurrentAssignment(CurrentAssignmentValue),
}

pub fn encode_consumer_key(key: &ConsumerKey) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::new(key.version());
    w.string(key.group(), "group")?;
    match key {
        ConsumerKey::Member { member, .. }
        | ConsumerKey::TargetMember { member, .. }
        | ConsumerKey::CurrentAssignment { member, .. } => w.string(member, "member_id")?,
        ConsumerKey::Metadata { .. } | ConsumerKey::TargetMetadata { .. } => {}
    }
    Ok(w.out)
}

/// A key of version 3 or 5–8; `None` for any other version (the caller's `OffsetsKey` knows
/// those).
pub fn decode_consumer_key(bytes: &[u8]) -> Result<Option<ConsumerKey>, RecordError> {
    const RECORD: &str = "consumer group key";
    let mut r = Reader::new(bytes);
    let version = r.i16("key version")?;
    let key = match version {
        3 | 6 => {
            let group = r.string("group")?;
            if version == 3 {
                ConsumerKey::Metadata { group }
            } else {
                ConsumerKey::TargetMetadata { group }
            }
        }
        5 | 7 | 8 => {
            let group = r.string("group")?;
            let member = r.string("member_id")?;
            match version {
                5 => ConsumerKey::Member { group, member },
                7 => ConsumerKey::TargetMember { group, member },
                _ => ConsumerKey::CurrentAssignment { group, member },
            }
        }
        _ => return Ok(None),
    };
    r.finish(RECORD)?;
    Ok(Some(key))
}

pub fn encode_consumer_value(value: &ConsumerValue) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::new(0);
    w.flexible = true;
    match value {
        ConsumerValue::Metadata { epoch } => w.i32(*epoch),
        ConsumerValue::TargetMetadata { assignment_epoch } => w.i32(*assignment_epoch),
        ConsumerValue::Member(m) => {
            w.nullable_string(m.instance_id.as_deref(), "instance_id")?;
            w.nullable_string(m.rack_id.as_deref(), "rack_id")?;
            w.string(&m.client_id, "client_id")?;
            w.string(&m.client_host, "client_host")?;
            w.count(m.subscribed_topic_names.len(), "subscribed_topic_names")?;
            for name in &m.subscribed_topic_names {
                w.string(name, "subscribed_topic_name")?;
            }
            w.nullable_string(
                m.subscribed_topic_regex.as_deref(),
                "subscribed_topic_regex",
            )?;
            w.i32(m.rebalance_timeout_ms);
            w.nullable_string(m.server_assignor.as_deref(), "server_assignor")?;
        }
        ConsumerValue::TargetMember(a) => write_partitions(&mut w, a)?,
        ConsumerValue::CurrentAssignment(c) => {
            w.i32(c.member_epoch);
            w.i32(c.previous_member_epoch);
            w.i8(c.state);
            write_partitions(&mut w, &c.assigned)?;
            write_partitions(&mut w, &c.pending_revocation)?;
        }
    }
    w.tagged_fields();
    Ok(w.out)
}

/// The value of a record with key `key`.
pub fn decode_consumer_value(
    key: &ConsumerKey,
    bytes: &[u8],
) -> Result<ConsumerValue, RecordError> {
    const RECORD: &str = "consumer group value";
    let mut r = Reader::new(bytes);
    let version = r.i16("value version")?;
    if version != 0 {
        return Err(RecordError::UnknownVersion {
            record: RECORD,
            version,
        });
    }
    r.flexible = true;
    let value = match key {
        ConsumerKey::Metadata { .. } => ConsumerValue::Metadata {
            epoch: r.i32("epoch")?,
        },
        ConsumerKey::TargetMetadata { .. } => ConsumerValue::TargetMetadata {
            assignment_epoch: r.i32("assignment_epoch")?,
        },
        ConsumerKey::Member { .. } => {
            let instance_id = r.nullable_string("instance_id")?;
            let rack_id = r.nullable_string("rack_id")?;
            let client_id = r.string("client_id")?;
            let client_host = r.string("client_host")?;
            let n = r.count("subscribed_topic_names")?;
            let mut subscribed_topic_names = Vec::new();
            for _ in 0..n {
                subscribed_topic_names.push(r.string("subscribed_topic_name")?);
            }
            ConsumerValue::Member(MemberMetadataValue {
                instance_id,
                rack_id,
                client_id,
                client_host,
                subscribed_topic_names,
                subscribed_topic_regex: r.nullable_string("subscribed_topic_regex")?,
                rebalance_timeout_ms: r.i32("rebalance_timeout_ms")?,
                server_assignor: r.nullable_string("server_assignor")?,
            })
        }
        ConsumerKey::TargetMember { .. } => ConsumerValue::TargetMember(read_partitions(&mut r)?),
        ConsumerKey::CurrentAssignment { .. } => {
            ConsumerValue::CurrentAssignment(CurrentAssignmentValue {
                member_epoch: r.i32("member_epoch")?,
                previous_member_epoch: r.i32("previous_member_epoch")?,
                state: r.i8("state")?,
                assigned: read_partitions(&mut r)?,
                pending_revocation: read_partitions(&mut r)?,
            })
        }
    };
    r.tagged_fields()?;
    r.finish(RECORD)?;
    Ok(value)
}

/// `[]TopicPartitions`: (uuid, []int32, tagged fields) per topic.
fn write_partitions(w: &mut Writer, a: &Assignment) -> Result<(), RecordError> {
    w.count(a.len(), "topic_partitions")?;
    for (topic, partitions) in a {
        w.uuid(topic);
        w.count(partitions.len(), "partitions")?;
        for &p in partitions {
            w.i32(p);
        }
        w.tagged_fields();
    }
    Ok(())
}

fn read_partitions(r: &mut Reader<'_>) -> Result<Assignment, RecordError> {
    let mut a = Assignment::new();
    for _ in 0..r.count("topic_partitions")? {
        let topic = r.uuid("topic_id")?;
        let n = r.count("partitions")?;
        let mut partitions = std::collections::BTreeSet::new();
        for _ in 0..n {
            partitions.insert(r.i32("partition")?);
        }
        r.tagged_fields()?;
        if !partitions.is_empty() {
            a.entry(topic).or_default().extend(partitions);
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment() -> Assignment {
        Assignment::from([([1; 16], [0, 2].into()), ([2; 16], [5].into())])
    }

    #[test]
    fn every_record_round_trips() {
        let member = || ("g".to_string(), "m".to_string());
        let cases = [
            (
                ConsumerKey::Metadata { group: "g".into() },
                ConsumerValue::Metadata { epoch: 7 },
            ),
            (
                ConsumerKey::TargetMetadata { group: "g".into() },
                ConsumerValue::TargetMetadata {
                    assignment_epoch: 7,
                },
            ),
            (
                ConsumerKey::Member {
                    group: member().0,
                    member: member().1,
                },
                ConsumerValue::Member(MemberMetadataValue {
                    instance_id: Some("i".into()),
                    rack_id: None,
                    client_id: "c".into(),
                    client_host: "/h".into(),
                    subscribed_topic_names: vec!["a".into(), "b".into()],
                    subscribed_topic_regex: Some("(^rx-.*)".into()),
                    rebalance_timeout_ms: 30_000,
                    server_assignor: Some("uniform".into()),
                }),
            ),
            (
                ConsumerKey::TargetMember {
                    group: member().0,
                    member: member().1,
                },
                ConsumerValue::TargetMember(assignment()),
            ),
            (
                ConsumerKey::CurrentAssignment {
                    group: member().0,
                    member: member().1,
                },
                ConsumerValue::CurrentAssignment(CurrentAssignmentValue {
                    member_epoch: 7,
                    previous_member_epoch: 6,
                    state: 1,
                    assigned: assignment(),
                    pending_revocation: Assignment::from([([3; 16], [1].into())]),
                }),
            ),
        ];
        for (key, value) in cases {
            let kb = encode_consumer_key(&key).expect("key");
            assert_eq!(decode_consumer_key(&kb), Ok(Some(key.clone())));
            let vb = encode_consumer_value(&value).expect("value");
            assert_eq!(decode_consumer_value(&key, &vb).as_ref(), Ok(&value));
            // Every cut is refused, never a panic.
            for cut in 0..vb.len() {
                assert!(
                    decode_consumer_value(&key, &vb[..cut]).is_err(),
                    "{key:?} {cut}"
                );
            }
        }
    }

    #[test]
    fn a_string_past_127_bytes_gets_kafkas_multi_byte_compact_length() {
        // A compact string's length is an unsigned varint of length + 1: 201 = 0xC9 0x01.
        let client_id = "c".repeat(200);
        let value = ConsumerValue::Member(MemberMetadataValue {
            client_id: client_id.clone(),
            ..MemberMetadataValue::default()
        });
        let bytes = encode_consumer_value(&value).expect("value");
        let at = (bytes.windows(200))
            .position(|w| w == client_id.as_bytes())
            .expect("the client id written");
        assert_eq!(bytes[at - 2..at], [0xC9, 0x01], "{bytes:?}");
        let key = ConsumerKey::Member {
            group: "g".into(),
            member: "m".into(),
        };
        assert_eq!(decode_consumer_value(&key, &bytes), Ok(value));
    }

    #[test]
    fn the_layout_is_kafkas() {
        // ConsumerGroupMetadataKey "g": version 3, int16 length 1, 'g'.
        let key = ConsumerKey::Metadata { group: "g".into() };
        assert_eq!(
            encode_consumer_key(&key).expect("key"),
            vec![0, 3, 0, 1, b'g']
        );
        // Value version 0, epoch 5, an empty tagged-field section.
        let v = encode_consumer_value(&ConsumerValue::Metadata { epoch: 5 }).expect("value");
        assert_eq!(v, vec![0, 0, 0, 0, 0, 5, 0]);
        // A tagged MetadataHash (tag 0, 8 bytes) written by Kafka 4.1 is skipped.
        let mut tagged = vec![0, 0, 0, 0, 0, 5, 1, 0, 8];
        tagged.extend([0u8; 8]);
        assert_eq!(
            decode_consumer_value(&key, &tagged),
            Ok(ConsumerValue::Metadata { epoch: 5 })
        );
        // Other key versions are not consumer records.
        assert_eq!(decode_consumer_key(&[0, 2, 0, 1, b'g']), Ok(None));
        assert_eq!(decode_consumer_key(&[0, 4, 0, 1, b'g']), Ok(None));
    }
}
