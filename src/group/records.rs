//! The records of `__consumer_offsets`, in Kafka's byte format so Kafka's tools read them
//! (docs/log-format.md, "`__consumer_offsets` records", has the byte diagrams).
//!
//! Kafka has no wire schema for these in the `kafka-protocol` crate; they are written here by
//! hand from Kafka's coordinator record schemas `OffsetCommitKey`, `OffsetCommitValue`,
//! `GroupMetadataKey` and `GroupMetadataValue` (group-coordinator's `common/message/`).
//!
//! A key is an `int16` version, then a classic (never flexible) struct; the version says which
//! record it is: 0 and 1 an offset commit, 2 a group's metadata, 3 and up the records of
//! KIP-848 consumer groups and of share groups, which this coordinator skips
//! ([`OffsetsKey::Other`]). A value is an `int16` version, then the struct of that version; a
//! null value is a tombstone (the callers carry it as `Option<value>`).
//!
//! Decoding takes untrusted bytes (a log may be damaged or written by another broker): it
//! never panics, never allocates by a count it has not checked against the bytes left, and
//! refuses bytes left over after the struct.

pub mod consumer;

pub use crate::storage::schema::RecordError;
use crate::storage::schema::{Reader, Writer};

/// The key of a `__consumer_offsets` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffsetsKey {
    /// `OffsetCommitKey` (key versions 0 and 1, the same layout): a committed offset.
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    /// `GroupMetadataKey` (key version 2): a classic group's membership.
    Group { group: String },
    /// A key version this coordinator does not read (3–8: KIP-848 consumer groups; 9 and up:
    /// share groups): the record is skipped.
    Other(i16),
}

/// `OffsetCommitValue`: one committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    /// The leader epoch of the last consumed record, −1 when unknown (and in versions 0–2).
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Only version 1 has it: an expiry the client asked for (OffsetCommit v2–4
    /// `retention_time_ms`). A value with one is written as version 1, which has no leader
    /// epoch, as Kafka does; a stored −1 reads as `None`.
    pub expire_timestamp_ms: Option<i64>,
}

/// `GroupMetadataValue`: a classic group's membership after a rebalance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// When the group last changed state; −1 in versions 0 and 1.
    pub current_state_timestamp_ms: i64,
    pub members: Vec<MemberValue>,
}

/// One member in a [`GroupValue`] (`MemberMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    /// Static membership (versions 3 and up; `None` before).
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Versions 1 and up; a version 0 member reads its session timeout here, as Kafka's
    /// loader does.
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Vec<u8>,
    pub assignment: Vec<u8>,
}

/// The key version of an `OffsetCommitKey` written here (1; Kafka reads 0 the same).
pub const OFFSET_KEY_VERSION: i16 = 1;
/// The key version of a `GroupMetadataKey`.
pub const GROUP_KEY_VERSION: i16 = 2;
/// The `OffsetCommitValue` version written when the value has no expiry.
pub const OFFSET_VALUE_VERSION: i16 = 3;
/// The `OffsetCommitValue` version written for a value with an expiry.
const OFFSET_VALUE_EXPIRY_VERSION: i16 = 1;
/// The `GroupMetadataValue` version written.
pub const GROUP_VALUE_VERSION: i16 = 3;
/// The newest value versions read (4 is the first flexible one, KIP-915).
const LAST_VALUE_VERSION: i16 = 4;

pub fn encode_key(key: &OffsetsKey) -> Result<Vec<u8>, RecordError> {
    match key {
        OffsetsKey::Offset {
            group,
            topic,
            partition,
        } => {
            let mut w = Writer::new(OFFSET_KEY_VERSION);
            w.string(group, "group")?;
            w.string(topic, "topic")?;
            w.i32(*partition);
            Ok(w.out)
        }
        OffsetsKey::Group { group } => {
            let mut w = Writer::new(GROUP_KEY_VERSION);
            w.string(group, "group")?;
            Ok(w.out)
        }
        OffsetsKey::Other(version) => Err(RecordError::NotEncodable(*version)),
    }
}

pub fn decode_key(bytes: &[u8]) -> Result<OffsetsKey, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.i16("key version")?;
    let key = match version {
        0 | 1 => OffsetsKey::Offset {
            group: r.string("group")?,
            topic: r.string("topic")?,
            partition: r.i32("partition")?,
        },
        2 => OffsetsKey::Group {
            group: r.string("group")?,
        },
        v if v > 2 => return Ok(OffsetsKey::Other(v)),
        v => {
            return Err(RecordError::UnknownVersion {
                record: "key",
                version: v,
            })
        }
    };
    r.finish("key")?;
    Ok(key)
}

pub fn encode_offset_value(value: &OffsetValue) -> Result<Vec<u8>, RecordError> {
    let version = match value.expire_timestamp_ms {
        Some(_) => OFFSET_VALUE_EXPIRY_VERSION,
        None => OFFSET_VALUE_VERSION,
    };
    write_offset_value(value, version)
}

/// `value` as `OffsetCommitValue` `version` (0–4): the fields that version lacks are dropped.
fn write_offset_value(value: &OffsetValue, version: i16) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::new(version);
    w.flexible = version >= 4;
    w.i64(value.offset);
    if version >= 3 {
        w.i32(value.leader_epoch);
    }
    w.string(&value.metadata, "metadata")?;
    w.i64(value.commit_timestamp_ms);
    if version == 1 {
        w.i64(value.expire_timestamp_ms.unwrap_or(-1));
    }
    w.tagged_fields();
    Ok(w.out)
}

pub fn decode_offset_value(bytes: &[u8]) -> Result<OffsetValue, RecordError> {
    const RECORD: &str = "OffsetCommitValue";
    let mut r = Reader::new(bytes);
    let version = value_version(&mut r, RECORD)?;
    let offset = r.i64("offset")?;
    let leader_epoch = if version >= 3 {
        r.i32("leader_epoch")?
    } else {
        -1
    };
    let metadata = r.string("metadata")?;
    let commit_timestamp_ms = r.i64("commit_timestamp")?;
    let expire_timestamp_ms = if version == 1 {
        Some(r.i64("expire_timestamp")?).filter(|&t| t != -1)
    } else {
        None
    };
    r.tagged_fields()?;
    r.finish(RECORD)?;
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
        expire_timestamp_ms,
    })
}

pub fn encode_group_value(value: &GroupValue) -> Result<Vec<u8>, RecordError> {
    write_group_value(value, GROUP_VALUE_VERSION)
}

/// `value` as `GroupMetadataValue` `version` (0–4): the fields that version lacks are dropped.
fn write_group_value(value: &GroupValue, version: i16) -> Result<Vec<u8>, RecordError> {
    let mut w = Writer::new(version);
    w.flexible = version >= 4;
    w.string(&value.protocol_type, "protocol_type")?;
    w.i32(value.generation);
    w.nullable_string(value.protocol.as_deref(), "protocol")?;
    w.nullable_string(value.leader.as_deref(), "leader")?;
    if version >= 2 {
        w.i64(value.current_state_timestamp_ms);
    }
    w.count(value.members.len(), "members")?;
    for m in &value.members {
        w.string(&m.member_id, "member_id")?;
        if version >= 3 {
            w.nullable_string(m.group_instance_id.as_deref(), "group_instance_id")?;
        }
        w.string(&m.client_id, "client_id")?;
        w.string(&m.client_host, "client_host")?;
        if version >= 1 {
            w.i32(m.rebalance_timeout_ms);
        }
        w.i32(m.session_timeout_ms);
        w.bytes(&m.subscription, "subscription")?;
        w.bytes(&m.assignment, "assignment")?;
        w.tagged_fields();
    }
    w.tagged_fields();
    Ok(w.out)
}

pub fn decode_group_value(bytes: &[u8]) -> Result<GroupValue, RecordError> {
    const RECORD: &str = "GroupMetadataValue";
    let mut r = Reader::new(bytes);
    let version = value_version(&mut r, RECORD)?;
    let protocol_type = r.string("protocol_type")?;
    let generation = r.i32("generation")?;
    let protocol = r.nullable_string("protocol")?;
    let leader = r.nullable_string("leader")?;
    let current_state_timestamp_ms = if version >= 2 {
        r.i64("current_state_timestamp")?
    } else {
        -1
    };
    let count = r.count("members")?;
    // Not `with_capacity(count)`: the count is bounded by the bytes left, not by them over
    // a member's size.
    let mut members = Vec::new();
    for _ in 0..count {
        members.push(read_member(&mut r, version)?);
    }
    r.tagged_fields()?;
    r.finish(RECORD)?;
    Ok(GroupValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}

fn read_member(r: &mut Reader<'_>, version: i16) -> Result<MemberValue, RecordError> {
    let member_id = r.string("member_id")?;
    let group_instance_id = if version >= 3 {
        r.nullable_string("group_instance_id")?
    } else {
        None
    };
    let client_id = r.string("client_id")?;
    let client_host = r.string("client_host")?;
    let rebalance_timeout_ms = if version >= 1 {
        Some(r.i32("rebalance_timeout")?)
    } else {
        None
    };
    let session_timeout_ms = r.i32("session_timeout")?;
    let subscription = r.bytes("subscription")?;
    let assignment = r.bytes("assignment")?;
    r.tagged_fields()?;
    Ok(MemberValue {
        member_id,
        group_instance_id,
        client_id,
        client_host,
        rebalance_timeout_ms: rebalance_timeout_ms.unwrap_or(session_timeout_ms),
        session_timeout_ms,
        subscription,
        assignment,
    })
}

/// A value's version, checked to be one of 0–4; sets the reader flexible from version 4.
fn value_version(r: &mut Reader<'_>, record: &'static str) -> Result<i16, RecordError> {
    let version = r.i16("value version")?;
    if !(0..=LAST_VALUE_VERSION).contains(&version) {
        return Err(RecordError::UnknownVersion { record, version });
    }
    r.flexible = version >= 4;
    Ok(version)
}

#[cfg(test)]
mod tests;
