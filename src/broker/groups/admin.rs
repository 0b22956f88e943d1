//! The group admin APIs: DescribeGroups and ListGroups (DeleteGroups and OffsetDelete below
//! them). The coordinator answers what it has; this file shapes it per version:
//!
//! * DescribeGroups v0–5 answer an unknown group with no error in state Dead; v6 (KIP-1043)
//!   with GROUP_ID_NOT_FOUND and a message. `authorized_operations` stays Kafka's "not asked"
//!   (i32::MIN) unless the request asks (v3+); Rill has no ACLs, so everything a group allows
//!   is allowed.
//! * ListGroups v4 adds the states filter and `group_state`, v5 the types filter and
//!   `group_type`.

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup as WireListedGroup;
use kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, GroupId, ListGroupsRequest,
    ListGroupsResponse,
};

use super::{opt_text, text};
use crate::actor::client::ActorClient;
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::BrokerService;
use crate::messages::{
    DescribeGroupsArgs, GroupDescription, ListGroupsArgs, ListGroupsResult, NodeMsg,
};
use crate::types::ErrorCode;

/// Kafka's `authorized_operations` when the request did not ask for them.
const OPERATIONS_NOT_ASKED: i32 = i32::MIN;

/// Kafka's `AclOperation` codes a group allows: READ (3), DELETE (6) and DESCRIBE (8), as the
/// bit field `authorized_operations` is.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// DescribeGroups v6 is the first to answer an unknown group GROUP_ID_NOT_FOUND.
const NOT_FOUND_SINCE: i16 = 6;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_groups(
        &self,
        request: &KafkaRequest,
        body: DescribeGroupsRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let args = DescribeGroupsArgs {
            groups: body.groups.iter().map(|g| g.to_string()).collect(),
            include_authorized_operations: version >= 3 && body.include_authorized_operations,
        };
        let operations = if args.include_authorized_operations {
            GROUP_OPERATIONS
        } else {
            OPERATIONS_NOT_ASKED
        };
        self.ask_later(request, ApiKey::DescribeGroups, args, move |described| {
            describe_response(described, version, operations)
        })
        .await
    }

    pub(super) async fn list_groups(
        &self,
        request: &KafkaRequest,
        body: ListGroupsRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let args = ListGroupsArgs {
            states: body.states_filter.iter().map(|s| s.to_string()).collect(),
            types: body.types_filter.iter().map(|s| s.to_string()).collect(),
        };
        self.ask_later(request, ApiKey::ListGroups, args, move |listed| {
            list_response(listed, version)
        })
        .await
    }
}

pub(super) fn describe_response(
    described: Vec<GroupDescription>,
    version: i16,
    operations: i32,
) -> DescribeGroupsResponse {
    let groups = described
        .into_iter()
        .map(|d| {
            let (error_code, error_message) =
                if d.error_code == ErrorCode::GROUP_ID_NOT_FOUND && version < NOT_FOUND_SINCE {
                    (ErrorCode::NONE, None)
                } else if version < NOT_FOUND_SINCE {
                    (d.error_code, None)
                } else {
                    (d.error_code, d.error_message)
                };
            let members = (d.members.into_iter())
                .map(|m| {
                    DescribedGroupMember::default()
                        .with_member_id(text(&m.member_id))
                        .with_group_instance_id(if version >= 4 {
                            opt_text(m.instance_id)
                        } else {
                            None
                        })
                        .with_client_id(text(&m.client_id))
                        .with_client_host(text(&m.client_host))
                        .with_member_metadata(Bytes::from(m.metadata))
                        .with_member_assignment(Bytes::from(m.assignment))
                })
                .collect();
            DescribedGroup::default()
                .with_error_code(error_code.wire())
                .with_error_message(opt_text(error_message))
                .with_group_id(GroupId(text(&d.group)))
                .with_group_state(text(&d.state))
                .with_protocol_type(text(&d.protocol_type))
                .with_protocol_data(text(&d.protocol))
                .with_members(members)
                .with_authorized_operations(if version >= 3 {
                    operations
                } else {
                    OPERATIONS_NOT_ASKED
                })
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub(super) fn list_response(listed: ListGroupsResult, version: i16) -> ListGroupsResponse {
    let groups = (listed.groups.into_iter())
        .map(|g| {
            let row = WireListedGroup::default()
                .with_group_id(GroupId(text(&g.group)))
                .with_protocol_type(text(&g.protocol_type));
            let row = if version >= 4 {
                row.with_group_state(text(&g.state))
            } else {
                row
            };
            if version >= 5 {
                row.with_group_type(text(&g.group_type))
            } else {
                row
            }
        })
        .collect();
    ListGroupsResponse::default()
        .with_error_code(listed.error_code.wire())
        .with_groups(groups)
}
