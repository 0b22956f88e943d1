//! The answer a group request gets when the coordinator cannot serve it at all (this node does
//! not coordinate the group, its partition is still loading, the internal topic does not
//! exist yet, or the API is not served here), shaped as that request's reply.

use crate::messages::groups::{
    ConsumerGroupDescription, ConsumerHeartbeatResult, GroupDescription, GroupOffsets, GroupsReply,
    GroupsRequest, LeaveGroupResult, LeftMember, ListGroupsResult, OffsetDeleteResult,
};
use crate::types::ErrorCode;

use super::state::{join_error, sync_error};

/// `request` refused with `code`: every group and partition it names gets the code.
/// While the coordinator loads, SyncGroup and Heartbeat get Kafka's answers instead of
/// COORDINATOR_LOAD_IN_PROGRESS, which older clients (Java's among them) do not expect from
/// these two APIs and hand to the application: a sync is told REBALANCE_IN_PROGRESS (the member
/// joins again, and its join waits for the load), a heartbeat NONE (Kafka "responds blindly";
/// the next heartbeat after the load tells the truth).
pub fn refused(request: &GroupsRequest, code: ErrorCode) -> GroupsReply {
    let loading = code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    match request {
        GroupsRequest::Join(r) => join_error(code, &r.member_id),
        GroupsRequest::Sync(_) if loading => sync_error(ErrorCode::REBALANCE_IN_PROGRESS),
        GroupsRequest::Sync(_) => sync_error(code),
        GroupsRequest::Heartbeat(_) if loading => GroupsReply::Heartbeat(ErrorCode::NONE),
        GroupsRequest::Heartbeat(_) => GroupsReply::Heartbeat(code),
        GroupsRequest::Leave(r) => GroupsReply::Left(LeaveGroupResult {
            error_code: code,
            members: (r.members.iter())
                .map(|(member_id, instance_id)| LeftMember {
                    member_id: member_id.clone(),
                    instance_id: instance_id.clone(),
                    error_code: code,
                })
                .collect(),
        }),
        GroupsRequest::OffsetCommit(r) => {
            GroupsReply::Committed(r.offsets.iter().map(|(tp, _)| (tp.clone(), code)).collect())
        }
        GroupsRequest::TxnOffsetCommit(r) => {
            GroupsReply::Committed(r.offsets.iter().map(|(tp, _)| (tp.clone(), code)).collect())
        }
        GroupsRequest::OffsetFetch(r) => GroupsReply::Fetched(
            r.groups
                .iter()
                .map(|(group, _)| fetch_refused(group, code))
                .collect(),
        ),
        GroupsRequest::Describe(r) => GroupsReply::Described(described(&r.groups, code)),
        GroupsRequest::ConsumerDescribe(r) => GroupsReply::ConsumerDescribed(
            (r.groups.iter())
                .map(|group| consumer_described_refused(group, code))
                .collect(),
        ),
        GroupsRequest::List(_) => GroupsReply::Listed(ListGroupsResult {
            error_code: code,
            groups: Vec::new(),
        }),
        GroupsRequest::Delete(r) => {
            GroupsReply::Deleted(r.groups.iter().map(|g| (g.clone(), code)).collect())
        }
        GroupsRequest::OffsetDelete(_) => GroupsReply::OffsetsDeleted(OffsetDeleteResult {
            error_code: code,
            partitions: Vec::new(),
        }),
        GroupsRequest::ConsumerHeartbeat(_) => {
            GroupsReply::ConsumerHeartbeat(ConsumerHeartbeatResult {
                error_code: code,
                error_message: None,
                member_id: None,
                member_epoch: -1,
                heartbeat_interval_ms: 0,
                assignment: None,
            })
        }
    }
}

/// One group of an OffsetFetch that cannot be read here.
pub fn fetch_refused(group: &str, code: ErrorCode) -> GroupOffsets {
    GroupOffsets {
        group: group.to_owned(),
        error_code: code,
        partitions: Vec::new(),
    }
}

fn described(groups: &[String], code: ErrorCode) -> Vec<GroupDescription> {
    groups
        .iter()
        .map(|group| described_refused(group, code))
        .collect()
}

/// One group of a DescribeGroups that cannot be described here.
pub fn described_refused(group: &str, code: ErrorCode) -> GroupDescription {
    GroupDescription {
        group: group.to_owned(),
        error_code: code,
        error_message: None,
        state: String::new(),
        protocol_type: String::new(),
        protocol: String::new(),
        members: Vec::new(),
    }
}

/// ConsumerGroupDescribe's entry for a group refused with `code`.
pub fn consumer_described_refused(group: &str, code: ErrorCode) -> ConsumerGroupDescription {
    ConsumerGroupDescription {
        group: group.to_owned(),
        error_code: code,
        error_message: None,
        state: String::new(),
        group_epoch: -1,
        assignment_epoch: -1,
        assignor: String::new(),
        members: Vec::new(),
    }
}

/// The one group a request is about, when it names exactly one (the requests one shard
/// serves); `None` for the multi-group requests (and a Delete of several groups).
pub fn single_group(request: &GroupsRequest) -> Option<&str> {
    match request {
        GroupsRequest::Join(r) => Some(&r.group),
        GroupsRequest::Sync(r) => Some(&r.group),
        GroupsRequest::Heartbeat(r) => Some(&r.group),
        GroupsRequest::Leave(r) => Some(&r.group),
        GroupsRequest::OffsetCommit(r) => Some(&r.group),
        GroupsRequest::TxnOffsetCommit(r) => Some(&r.group),
        GroupsRequest::OffsetDelete(r) => Some(&r.group),
        GroupsRequest::ConsumerHeartbeat(r) => Some(&r.args.group),
        // The gateway asks for one group per DeleteGroups call (each is its own write).
        GroupsRequest::Delete(r) if r.groups.len() == 1 => Some(&r.groups[0]),
        GroupsRequest::OffsetFetch(_)
        | GroupsRequest::Describe(_)
        | GroupsRequest::ConsumerDescribe(_)
        | GroupsRequest::List(_)
        | GroupsRequest::Delete(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::groups::{
        ConsumerDescribeArgs, DescribeGroupsArgs, HeartbeatArgs, OffsetFetchArgs, SyncGroupArgs,
    };

    #[test]
    fn a_loading_coordinator_answers_sync_and_heartbeat_as_kafka_does() {
        let sync = GroupsRequest::Sync(SyncGroupArgs {
            group: "g".to_owned(),
            generation: 1,
            member_id: "m".to_owned(),
            instance_id: None,
            protocol_type: None,
            protocol_name: None,
            assignments: Vec::new(),
        });
        let heartbeat = GroupsRequest::Heartbeat(HeartbeatArgs {
            group: "g".to_owned(),
            generation: 1,
            member_id: "m".to_owned(),
            instance_id: None,
        });
        let code_of = |reply| match reply {
            GroupsReply::Synced(r) => r.error_code,
            GroupsReply::Heartbeat(code) => code,
            other => panic!("unexpected {other:?}"),
        };
        let loading = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        assert_eq!(
            code_of(refused(&sync, loading)),
            ErrorCode::REBALANCE_IN_PROGRESS
        );
        assert_eq!(code_of(refused(&heartbeat, loading)), ErrorCode::NONE);
        // Other refusals pass through unchanged.
        let moved = ErrorCode::NOT_COORDINATOR;
        assert_eq!(code_of(refused(&sync, moved)), moved);
        assert_eq!(code_of(refused(&heartbeat, moved)), moved);
    }

    /// A multi-group read refused as a whole (the GROUPS actor before it knows the partition
    /// count) still answers every group it names, in request order: clients match each
    /// group's answer by name, and a group left out is never answered.
    #[test]
    fn a_refused_multi_group_read_answers_every_group_it_names() {
        let names = || vec!["a".to_owned(), "b".to_owned()];
        let code = ErrorCode::COORDINATOR_NOT_AVAILABLE;
        let expected = [("a", code), ("b", code)];
        let describe = GroupsRequest::Describe(DescribeGroupsArgs {
            groups: names(),
            include_authorized_operations: false,
        });
        let GroupsReply::Described(described) = refused(&describe, code) else {
            panic!("a DescribeGroups reply");
        };
        let answered: Vec<_> = (described.iter())
            .map(|d| (d.group.as_str(), d.error_code))
            .collect();
        assert_eq!(answered, expected);

        let describe = GroupsRequest::ConsumerDescribe(ConsumerDescribeArgs {
            groups: names(),
            include_authorized_operations: false,
        });
        let GroupsReply::ConsumerDescribed(described) = refused(&describe, code) else {
            panic!("a ConsumerGroupDescribe reply");
        };
        let answered: Vec<_> = (described.iter())
            .map(|d| (d.group.as_str(), d.error_code))
            .collect();
        assert_eq!(answered, expected);

        let fetch = GroupsRequest::OffsetFetch(OffsetFetchArgs {
            groups: names().into_iter().map(|g| (g, None)).collect(),
            require_stable: false,
            members: Default::default(),
        });
        let GroupsReply::Fetched(fetched) = refused(&fetch, code) else {
            panic!("an OffsetFetch reply");
        };
        let answered: Vec<_> = (fetched.iter())
            .map(|f| (f.group.as_str(), f.error_code))
            .collect();
        assert_eq!(answered, expected);
    }
}
