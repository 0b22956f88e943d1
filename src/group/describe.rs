//! DescribeGroups and ListGroups of one shard's groups (Kafka's `ClassicGroup.describe` and
//! `GroupMetadataManager.listGroups`), read from what the shard has applied.
//!
//! A group exists when the shard has it (joined at least once) or it has committed offsets
//! only (a "simple" group: a tool or a consumer without the group protocol, generation -1),
//! which Kafka reports as Empty with protocol type "". Members carry their metadata and
//! assignment only while the group is Stable, and the chosen protocol is named only then,
//! as Kafka's summary does.

use crate::messages::groups::{DescribedMember, GroupDescription, ListGroupsArgs, ListedGroup};
use crate::types::ErrorCode;

use super::state::{ClassicGroup, GroupState};

/// ListGroups' `group_type` of every group here (KIP-848 groups come with a later lane).
pub const CLASSIC_GROUP_TYPE: &str = "classic";

/// `name`'s description. `group` is the shard's group of that name, `has_offsets` whether it
/// has committed offsets. An unknown group is GROUP_ID_NOT_FOUND in state Dead (DescribeGroups
/// v0–5 answer it with no error: the gateway drops the code there).
pub fn describe<W: Copy>(
    name: &str,
    group: Option<&ClassicGroup<W>>,
    has_offsets: bool,
) -> GroupDescription {
    let live = group.filter(|g| g.state() != GroupState::Dead);
    let Some(g) = live else {
        if has_offsets {
            return simple(name);
        }
        return GroupDescription {
            group: name.to_owned(),
            error_code: ErrorCode::GROUP_ID_NOT_FOUND,
            error_message: Some(format!("Group {name} not found.")),
            state: GroupState::Dead.name().to_owned(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: Vec::new(),
        };
    };
    let stable = g.state() == GroupState::Stable;
    let protocol = if stable {
        g.protocol().unwrap_or("")
    } else {
        ""
    };
    let members = (g.members().values())
        .map(|m| DescribedMember {
            member_id: m.id.clone(),
            instance_id: m.instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            metadata: if stable {
                m.metadata(protocol).to_vec()
            } else {
                Vec::new()
            },
            assignment: if stable {
                m.assignment.clone()
            } else {
                Vec::new()
            },
        })
        .collect();
    GroupDescription {
        group: name.to_owned(),
        error_code: ErrorCode::NONE,
        error_message: None,
        state: g.state().name().to_owned(),
        protocol_type: g.protocol_type().unwrap_or("").to_owned(),
        protocol: protocol.to_owned(),
        members,
    }
}

/// A group with committed offsets and no membership.
fn simple(name: &str) -> GroupDescription {
    GroupDescription {
        group: name.to_owned(),
        error_code: ErrorCode::NONE,
        error_message: None,
        state: GroupState::Empty.name().to_owned(),
        protocol_type: String::new(),
        protocol: String::new(),
        members: Vec::new(),
    }
}

/// The ListGroups row of `name` (`group` and `has_offsets` as for [`describe`]); `None` for a
/// group that does not exist (or is Dead) or that `filter` leaves out. Both filters compare
/// case-insensitively, as Kafka's do; an empty filter keeps everything.
pub fn listed<W: Copy>(
    name: &str,
    group: Option<&ClassicGroup<W>>,
    has_offsets: bool,
    filter: &ListGroupsArgs,
) -> Option<ListedGroup> {
    let description = describe(name, group, has_offsets);
    if description.error_code != ErrorCode::NONE {
        return None;
    }
    let row = ListedGroup {
        group: description.group,
        protocol_type: description.protocol_type,
        state: description.state,
        group_type: CLASSIC_GROUP_TYPE.to_owned(),
    };
    let keeps = |wanted: &[String], value: &str| {
        wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
    };
    (keeps(&filter.states, &row.state) && keeps(&filter.types, &row.group_type)).then_some(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::output::Clock;
    use crate::group::records::{GroupValue, MemberValue};

    const NOW: Clock = Clock {
        mono_ms: 0,
        unix_ms: 1_000,
    };

    /// A group as loaded from its record: Stable with `members`, Empty without.
    fn group(members: &[&str]) -> ClassicGroup<u32> {
        let value = GroupValue {
            protocol_type: "consumer".into(),
            generation: 3,
            protocol: Some("range".into()),
            leader: members.first().map(|m| m.to_string()),
            current_state_timestamp_ms: 1_000,
            members: (members.iter())
                .map(|m| MemberValue {
                    member_id: m.to_string(),
                    group_instance_id: None,
                    client_id: "client".into(),
                    client_host: "/127.0.0.1".into(),
                    rebalance_timeout_ms: 10_000,
                    session_timeout_ms: 10_000,
                    subscription: b"metadata".to_vec(),
                    assignment: b"assignment".to_vec(),
                })
                .collect(),
        };
        ClassicGroup::from_record("g".into(), value, NOW, &mut Vec::new())
    }

    fn no_filter() -> ListGroupsArgs {
        ListGroupsArgs {
            states: Vec::new(),
            types: Vec::new(),
        }
    }

    #[test]
    fn a_stable_group_is_described_with_its_protocol_and_its_members_bytes() {
        let g = group(&["m1"]);
        let d = describe("g", Some(&g), false);
        assert_eq!(d.error_code, ErrorCode::NONE);
        assert_eq!(
            (d.state.as_str(), d.protocol_type.as_str()),
            ("Stable", "consumer")
        );
        assert_eq!(d.protocol, "range");
        assert_eq!(d.members.len(), 1);
        let m = &d.members[0];
        assert_eq!(
            (m.member_id.as_str(), m.client_id.as_str()),
            ("m1", "client")
        );
        assert_eq!(m.client_host, "/127.0.0.1");
        assert_eq!(
            (m.metadata.as_slice(), m.assignment.as_slice()),
            (&b"metadata"[..], &b"assignment"[..])
        );
    }

    #[test]
    fn a_group_that_is_not_stable_names_no_protocol_and_no_member_bytes() {
        let mut g = group(&["m1"]);
        g.set_state(GroupState::PreparingRebalance, NOW);
        let d = describe("g", Some(&g), false);
        assert_eq!(d.state, "PreparingRebalance");
        assert_eq!(d.protocol, "");
        assert!(d.members[0].metadata.is_empty() && d.members[0].assignment.is_empty());
        assert_eq!(d.members[0].member_id, "m1");
    }

    #[test]
    fn unknown_groups_are_dead_and_not_found_and_offsets_only_groups_are_empty() {
        let unknown = describe::<u32>("nope", None, false);
        assert_eq!(unknown.error_code, ErrorCode::GROUP_ID_NOT_FOUND);
        assert_eq!(unknown.state, "Dead");
        assert_eq!(
            unknown.error_message.as_deref(),
            Some("Group nope not found.")
        );
        let simple = describe::<u32>("tool", None, true);
        assert_eq!(simple.error_code, ErrorCode::NONE);
        assert_eq!(
            (simple.state.as_str(), simple.protocol_type.as_str()),
            ("Empty", "")
        );
        assert!(listed::<u32>("nope", None, false, &no_filter()).is_none());
    }

    #[test]
    fn list_filters_compare_states_and_types_case_insensitively() {
        let (stable, empty) = (group(&["m1"]), group(&[]));
        let row = listed("g", Some(&stable), false, &no_filter()).expect("listed");
        assert_eq!(
            (row.state.as_str(), row.group_type.as_str()),
            ("Stable", "classic")
        );
        assert_eq!(row.protocol_type, "consumer");
        let stable_only = ListGroupsArgs {
            states: vec!["stable".into()],
            types: vec!["CLASSIC".into()],
        };
        assert!(listed("g", Some(&stable), false, &stable_only).is_some());
        assert!(listed("g", Some(&empty), false, &stable_only).is_none());
        let consumer_only = ListGroupsArgs {
            states: Vec::new(),
            types: vec!["consumer".into()],
        };
        assert!(listed("g", Some(&stable), false, &consumer_only).is_none());
    }
}
