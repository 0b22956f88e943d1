//! A consumer group as records and back (Kafka's `GroupMetadataManager` replay of the
//! `ConsumerGroup*` records): [`image`] is every record the group's state stands for now, a step
//! writes the [`changes`] between the image before and after it, and a load folds the records
//! ([`Replay`]) and [`restore`]s each group from what is left.
//!
//! Deadlines are not records: a restored member gets a fresh session (Kafka schedules every
//! loaded member's session timeout the same way), and a member that was revoking gets a fresh
//! rebalance timeout.

use std::collections::BTreeMap;

use crate::group::output::{Clock, OffsetsRecord};
use crate::group::records::consumer::{
    ConsumerKey, ConsumerValue, CurrentAssignmentValue, MemberMetadataValue,
};

use super::group::ConsumerGroup;
use super::member::{ConsumerMember, MemberState};

/// Every record `group`'s state stands for, by key.
pub fn image(group: &ConsumerGroup) -> BTreeMap<ConsumerKey, ConsumerValue> {
    let g = || group.id.clone();
    let mut out = BTreeMap::new();
    out.insert(
        ConsumerKey::Metadata { group: g() },
        ConsumerValue::Metadata { epoch: group.epoch },
    );
    out.insert(
        ConsumerKey::TargetMetadata { group: g() },
        ConsumerValue::TargetMetadata {
            assignment_epoch: group.target_epoch,
        },
    );
    for (id, target) in &group.target {
        let key = ConsumerKey::TargetMember {
            group: g(),
            member: id.clone(),
        };
        out.insert(key, ConsumerValue::TargetMember(target.clone()));
    }
    for (id, m) in &group.members {
        let member = || id.clone();
        let metadata = MemberMetadataValue {
            instance_id: m.instance_id.clone(),
            rack_id: m.rack_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            subscribed_topic_names: m.subscribed.iter().cloned().collect(),
            subscribed_topic_regex: m.subscribed_regex.clone(),
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            server_assignor: m.server_assignor.clone(),
        };
        let key = ConsumerKey::Member {
            group: g(),
            member: member(),
        };
        out.insert(key, ConsumerValue::Member(metadata));
        let current = CurrentAssignmentValue {
            member_epoch: m.epoch,
            previous_member_epoch: m.previous_epoch,
            state: state_byte(m.state),
            assigned: m.assigned.clone(),
            pending_revocation: m.pending_revocation.clone(),
        };
        let key = ConsumerKey::CurrentAssignment {
            group: g(),
            member: member(),
        };
        out.insert(key, ConsumerValue::CurrentAssignment(current));
    }
    out
}

/// The records that turn `before` into `after`: tombstones first (a member's current
/// assignment, then its target, then its metadata, as Kafka removes a member), then the new
/// and changed values in key order.
pub fn changes(
    before: &BTreeMap<ConsumerKey, ConsumerValue>,
    after: &BTreeMap<ConsumerKey, ConsumerValue>,
) -> Vec<OffsetsRecord> {
    let gone = (before.keys().rev())
        .filter(|k| !after.contains_key(*k))
        .map(|key| OffsetsRecord::Consumer {
            key: key.clone(),
            value: None,
        });
    let set = (after.iter())
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(key, value)| OffsetsRecord::Consumer {
            key: key.clone(),
            value: Some(value.clone()),
        });
    gone.chain(set).collect()
}

/// The records deleting `group` (Kafka's `createGroupTombstoneRecords`): a tombstone for
/// each of its records, members' first and the group epoch's last.
pub fn tombstones(group: &ConsumerGroup) -> Vec<OffsetsRecord> {
    changes(&image(group), &BTreeMap::new())
}

/// The consumer group records of a load, last one per key (a tombstone removes the key).
#[derive(Debug, Default)]
pub struct Replay {
    records: BTreeMap<ConsumerKey, ConsumerValue>,
}

impl Replay {
    pub fn apply(&mut self, key: ConsumerKey, value: Option<ConsumerValue>) {
        match value {
            Some(value) => self.records.insert(key, value),
            None => self.records.remove(&key),
        };
    }

    /// The groups the records leave: those whose group epoch record survives.
    pub fn finish(self, now: Clock, session_ms: u64) -> Vec<ConsumerGroup> {
        let mut by_group: BTreeMap<String, Vec<(ConsumerKey, ConsumerValue)>> = BTreeMap::new();
        for (key, value) in self.records {
            by_group
                .entry(key.group().to_owned())
                .or_default()
                .push((key, value));
        }
        (by_group.into_iter())
            .filter_map(|(id, records)| restore(id, records, now, session_ms))
            .collect()
    }
}

/// One group from its records; `None` without its group epoch record (deleted).
pub fn restore(
    id: String,
    records: Vec<(ConsumerKey, ConsumerValue)>,
    now: Clock,
    session_ms: u64,
) -> Option<ConsumerGroup> {
    let mut epoch = None;
    let mut target_epoch = 0;
    let mut target = BTreeMap::new();
    let mut members: BTreeMap<String, ConsumerMember> = BTreeMap::new();
    for (key, value) in records {
        match (key, value) {
            (ConsumerKey::Metadata { .. }, ConsumerValue::Metadata { epoch: e }) => epoch = Some(e),
            (
                ConsumerKey::TargetMetadata { .. },
                ConsumerValue::TargetMetadata { assignment_epoch },
            ) => target_epoch = assignment_epoch,
            (ConsumerKey::TargetMember { member: m, .. }, ConsumerValue::TargetMember(a)) => {
                target.insert(m, a);
            }
            (ConsumerKey::Member { member: id, .. }, ConsumerValue::Member(v)) => {
                let m = (members.entry(id.clone())).or_insert_with(|| ConsumerMember::new(id));
                m.instance_id = v.instance_id;
                m.rack_id = v.rack_id;
                m.client_id = v.client_id;
                m.client_host = v.client_host;
                m.subscribed = v.subscribed_topic_names.into_iter().collect();
                m.subscribed_regex = v.subscribed_topic_regex.filter(|r| !r.is_empty());
                m.rebalance_timeout_ms = v.rebalance_timeout_ms;
                m.server_assignor = v.server_assignor;
            }
            (
                ConsumerKey::CurrentAssignment { member: id, .. },
                ConsumerValue::CurrentAssignment(v),
            ) => {
                let m = (members.entry(id.clone())).or_insert_with(|| ConsumerMember::new(id));
                m.epoch = v.member_epoch;
                m.previous_epoch = v.previous_member_epoch;
                m.state = state_of(v.state);
                m.assigned = v.assigned;
                m.pending_revocation = v.pending_revocation;
            }
            // A key with another kind's value cannot be decoded; nothing else reaches here.
            _ => {}
        }
    }
    let epoch = epoch?;
    for m in members.values_mut() {
        m.session_deadline_ms = now.mono_ms + session_ms;
        if m.state == MemberState::UnrevokedPartitions {
            m.revocation_deadline_ms = Some(now.mono_ms + m.rebalance_timeout_ms.max(0) as u64);
        }
    }
    Some(ConsumerGroup::restore(
        id,
        epoch,
        target_epoch,
        target,
        members.into_values().collect(),
    ))
}

/// Kafka's `MemberState` byte as the current assignment record stores it.
fn state_byte(state: MemberState) -> i8 {
    match state {
        MemberState::Stable => 0,
        MemberState::UnrevokedPartitions => 1,
        MemberState::UnreleasedPartitions => 2,
    }
}

fn state_of(byte: i8) -> MemberState {
    match byte {
        1 => MemberState::UnrevokedPartitions,
        2 => MemberState::UnreleasedPartitions,
        _ => MemberState::Stable,
    }
}
