//! DeleteGroups and OffsetDelete of one group (Kafka's `GroupMetadataManager.deleteGroups`
//! and `OffsetMetadataManager.deleteOffsets`): the checks, and the tombstones that make the
//! deletion durable. The shard writes them as one batch and applies the deletion only once
//! it is acknowledged; a load replays the tombstones, so a deleted group stays deleted.

use std::collections::BTreeSet;

use crate::types::{ErrorCode, TopicPartition};

use super::output::OffsetsRecord;
use super::state::{ClassicGroup, GroupState};

/// The protocol type of groups whose members' metadata is a `ConsumerProtocolSubscription`.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// Whether DeleteGroups may delete `group` (the shard's group of that name, if any;
/// `has_offsets`: it has committed offsets). Only an Empty group, or one with offsets only,
/// goes; a group being deleted (Dead) is already gone.
pub fn may_delete<W: Copy>(
    group: Option<&ClassicGroup<W>>,
    has_offsets: bool,
) -> Result<(), ErrorCode> {
    match group.map(ClassicGroup::state) {
        Some(GroupState::Empty) => Ok(()),
        Some(GroupState::Dead) => Err(ErrorCode::GROUP_ID_NOT_FOUND),
        Some(_) => Err(ErrorCode::NON_EMPTY_GROUP),
        None if has_offsets => Ok(()),
        None => Err(ErrorCode::GROUP_ID_NOT_FOUND),
    }
}

/// A tombstone for each of `group`'s commits of `partitions`.
pub fn offset_tombstones<'a>(
    group: &'a str,
    partitions: impl IntoIterator<Item = TopicPartition> + 'a,
) -> impl Iterator<Item = OffsetsRecord> + 'a {
    partitions.into_iter().map(|tp| OffsetsRecord::Offset {
        group: group.to_owned(),
        tp,
        value: None,
    })
}

/// The records deleting `group`: a tombstone for each committed partition, then one for the
/// group's own record.
pub fn group_tombstones(
    group: &str,
    committed: impl IntoIterator<Item = TopicPartition>,
) -> Vec<OffsetsRecord> {
    let offsets = offset_tombstones(group, committed);
    let record = OffsetsRecord::Group {
        group: group.to_owned(),
        value: None,
    };
    offsets.chain(std::iter::once(record)).collect()
}

/// The topics a group's members subscribe to, as OffsetDelete needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscribed {
    Topics(BTreeSet<String>),
    /// A member's metadata does not decode: it may subscribe to anything (Kafka's view).
    Everything,
}

impl Subscribed {
    pub fn covers(&self, topic: &str) -> bool {
        match self {
            Subscribed::Topics(topics) => topics.contains(topic),
            Subscribed::Everything => true,
        }
    }
}

/// Whether OffsetDelete may touch `group`, and which topics it must leave alone. An Empty
/// group (or one with offsets only) subscribes to nothing; a group with members must be a
/// consumer group, whose subscriptions come from its members' metadata.
pub fn offsets_deletable<W: Copy>(
    group: Option<&ClassicGroup<W>>,
    has_offsets: bool,
) -> Result<Subscribed, ErrorCode> {
    let nothing = Subscribed::Topics(BTreeSet::new());
    let Some(g) = group else {
        return if has_offsets {
            Ok(nothing)
        } else {
            Err(ErrorCode::GROUP_ID_NOT_FOUND)
        };
    };
    match g.state() {
        GroupState::Dead => return Err(ErrorCode::GROUP_ID_NOT_FOUND),
        GroupState::Empty => return Ok(nothing),
        _ => {}
    }
    if g.protocol_type() != Some(CONSUMER_PROTOCOL_TYPE) {
        return Err(ErrorCode::NON_EMPTY_GROUP);
    }
    Ok(member_topics(g))
}

/// The topics `g`'s members subscribe to, from their metadata (a consumer group's
/// `ConsumerProtocolSubscription`s); one that does not decode subscribes to everything.
pub fn member_topics<W: Copy>(g: &ClassicGroup<W>) -> Subscribed {
    let mut topics = BTreeSet::new();
    for member in g.members().values() {
        // Before a protocol is chosen, the member's first choice tells its subscription.
        let metadata = match g.protocol() {
            Some(protocol) => member.metadata(protocol),
            None => member
                .protocols
                .first()
                .map_or(&[][..], |(_, m)| m.as_slice()),
        };
        match subscription(metadata) {
            Some(subscribed) => topics.extend(subscribed),
            None => return Subscribed::Everything,
        }
    }
    Subscribed::Topics(topics)
}

/// The topics of a `ConsumerProtocolSubscription` (an i16 version, then the body, not
/// flexible in any version, whose first field is the topics array); `None` when it does not
/// read. Read by hand, bounded by the bytes there are: the crate's decoder sizes its vectors by
/// the count it reads, which garbage could make huge.
pub fn subscription(metadata: &[u8]) -> Option<Vec<String>> {
    let mut rest = metadata;
    let version = i16::from_be_bytes(take(&mut rest)?);
    if version < 0 {
        return None;
    }
    let count = usize::try_from(i32::from_be_bytes(take(&mut rest)?)).ok()?;
    // Each topic takes at least its 2-byte length.
    if count > rest.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(i16::from_be_bytes(take(&mut rest)?)).ok()?;
        let name = rest.get(..len)?;
        topics.push(std::str::from_utf8(name).ok()?.to_owned());
        rest = &rest[len..];
    }
    Some(topics)
}

/// The next `N` bytes of `rest`, consumed.
fn take<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
    let bytes: [u8; N] = rest.get(..N)?.try_into().ok()?;
    *rest = &rest[N..];
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::output::Clock;
    use crate::group::records::{GroupValue, MemberValue};
    use crate::group::tests::encoded_subscription;

    const NOW: Clock = Clock {
        mono_ms: 0,
        unix_ms: 1_000,
    };

    fn group(protocol_type: &str, subscriptions: &[Vec<u8>]) -> ClassicGroup<u32> {
        let value = GroupValue {
            protocol_type: protocol_type.into(),
            generation: 1,
            protocol: Some("range".into()),
            leader: None,
            current_state_timestamp_ms: 1_000,
            members: (subscriptions.iter().enumerate())
                .map(|(i, subscription)| MemberValue {
                    member_id: format!("m{i}"),
                    group_instance_id: None,
                    client_id: "c".into(),
                    client_host: "/h".into(),
                    rebalance_timeout_ms: 1_000,
                    session_timeout_ms: 1_000,
                    subscription: subscription.clone(),
                    assignment: Vec::new(),
                })
                .collect(),
        };
        ClassicGroup::from_record("g".into(), value, NOW, &mut Vec::new())
    }

    #[test]
    fn only_empty_or_offsets_only_groups_may_be_deleted() {
        let stable = group("consumer", &[encoded_subscription(&["t"])]);
        assert_eq!(
            may_delete(Some(&stable), true),
            Err(ErrorCode::NON_EMPTY_GROUP)
        );
        assert_eq!(may_delete(Some(&group("consumer", &[])), false), Ok(()));
        assert_eq!(may_delete::<u32>(None, true), Ok(()));
        assert_eq!(
            may_delete::<u32>(None, false),
            Err(ErrorCode::GROUP_ID_NOT_FOUND)
        );
        let mut dead = group("consumer", &[]);
        dead.set_state(GroupState::Dead, NOW);
        assert_eq!(
            may_delete(Some(&dead), true),
            Err(ErrorCode::GROUP_ID_NOT_FOUND)
        );
    }

    #[test]
    fn deleting_a_group_tombstones_its_offsets_then_its_record() {
        let tp = TopicPartition {
            topic: "t".into(),
            partition: 2,
        };
        let records = group_tombstones("g", vec![tp.clone()]);
        assert_eq!(
            records,
            vec![
                OffsetsRecord::Offset {
                    group: "g".into(),
                    tp,
                    value: None
                },
                OffsetsRecord::Group {
                    group: "g".into(),
                    value: None
                },
            ]
        );
    }

    #[test]
    fn a_consumer_group_with_members_protects_the_topics_they_subscribe_to() {
        let g = group(
            "consumer",
            &[encoded_subscription(&["a"]), encoded_subscription(&["b"])],
        );
        let subscribed = offsets_deletable(Some(&g), true).expect("a consumer group");
        assert!(subscribed.covers("a") && subscribed.covers("b"));
        assert!(!subscribed.covers("c"));
        let garbled = group("consumer", &[b"\x00".to_vec()]);
        assert_eq!(
            offsets_deletable(Some(&garbled), true),
            Ok(Subscribed::Everything)
        );
        // A huge count in garbage is refused, not allocated.
        assert_eq!(subscription(b"\x00\x01\x7f\xff\xff\xff\x00\x01a"), None);
        assert_eq!(subscription(b"subscription"), None);
        let connect = group("connect", &[b"anything".to_vec()]);
        assert_eq!(
            offsets_deletable(Some(&connect), true),
            Err(ErrorCode::NON_EMPTY_GROUP)
        );
        let empty = group("consumer", &[]);
        assert!(!offsets_deletable(Some(&empty), true)
            .expect("empty")
            .covers("a"));
        assert_eq!(
            offsets_deletable::<u32>(None, false),
            Err(ErrorCode::GROUP_ID_NOT_FOUND)
        );
    }

    /// The count's bound (two bytes a topic) lets every real subscription through: several
    /// topics, and names as short as can be, filling the bytes left exactly.
    #[test]
    fn a_subscription_naming_several_topics_reads_them_all() {
        assert_eq!(
            subscription(&encoded_subscription(&["a", "bb", "c"])),
            Some(vec!["a".into(), "bb".into(), "c".into()])
        );
        // Version 0, then two topics with empty names: 4 bytes left for a count of 2.
        assert_eq!(
            subscription(b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00"),
            Some(vec![String::new(), String::new()])
        );
    }
}
