//! The group admin APIs: DescribeGroups, ListGroups, DeleteGroups and OffsetDelete. The coordinator answers what it has; this file shapes it per version:
//!
//! * DescribeGroups v0–5 answer an unknown group with no error in state Dead; v6 (KIP-1043)
//!   with GROUP_ID_NOT_FOUND and a message. `authorized_operations` stays Kafka's "not asked"
//!   (i32::MIN) unless the request asks (v3+); then the bit field of what the principal may
//!   do to the group (READ, DELETE, DESCRIBE), everything without an authorizer.
//! * ListGroups v4 adds the states filter and `group_state`, v5 the types filter and
//!   `group_type`.
//! * DeleteGroups asks the coordinator once per group (each group is its own write, on its
//!   own shard), all submitted at once so they are taken in request order; answered in
//!   request order. OffsetDelete (v0 only) asks once.

use bytes::Bytes;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup as WireListedGroup;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, GroupId, ListGroupsRequest, ListGroupsResponse, OffsetDeleteRequest,
    OffsetDeleteResponse, TopicName,
};

use super::{codec, opt_text, text};
use crate::actor::client::ActorClient;
use crate::broker::authorize::{GROUP_OPERATIONS, OPERATIONS_NOT_ASKED};
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::BrokerService;
use crate::group::refusal::described_refused;
use crate::messages::call::submit;
use crate::messages::{
    DeleteGroupsArgs, DescribeGroupsArgs, GroupDescription, ListGroupsArgs, ListGroupsResult,
    NodeMsg, OffsetDeleteArgs, OffsetDeleteResult,
};
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::types::{ErrorCode, TopicPartition};

/// DescribeGroups v6 is the first to answer an unknown group GROUP_ID_NOT_FOUND.
const NOT_FOUND_SINCE: i16 = 6;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_groups(
        &self,
        request: &KafkaRequest,
        body: DescribeGroupsRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        // Kafka's check: DESCRIBE on each group; the others are answered
        // GROUP_AUTHORIZATION_FAILED after the described ones.
        let access = self.access(request, "DescribeGroups");
        let (groups, refused): (Vec<String>, Vec<String>) = (body.groups.iter())
            .map(|g| g.to_string())
            .partition(|g| access.allows(AclOperation::Describe, ResourceType::Group, g));
        let args = DescribeGroupsArgs {
            groups,
            include_authorized_operations: version >= 3 && body.include_authorized_operations,
        };
        let asked = args.include_authorized_operations;
        let refused: Vec<_> = (refused.into_iter())
            .map(|group| described_refused(&group, ErrorCode::GROUP_AUTHORIZATION_FAILED))
            .collect();
        let operations = move |group: &str| match asked {
            true => access.operations(ResourceType::Group, group, &GROUP_OPERATIONS),
            false => OPERATIONS_NOT_ASKED,
        };
        if args.groups.is_empty() {
            let response = describe_response(refused, version, operations);
            return codec::respond(request, ApiKey::DescribeGroups, &response);
        }
        self.ask_later(
            request,
            ApiKey::DescribeGroups,
            args,
            move |mut described| {
                described.extend(refused);
                describe_response(described, version, operations)
            },
        )
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
        // Kafka's check: DESCRIBE on the CLUSTER lists every group; else only the groups the
        // principal may DESCRIBE (the others are left out unseen).
        let access = self.access(request, "ListGroups");
        let all = access.sees(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME);
        self.ask_later(request, ApiKey::ListGroups, args, move |mut listed| {
            if !all {
                (listed.groups)
                    .retain(|g| access.sees(AclOperation::Describe, ResourceType::Group, &g.group));
            }
            list_response(listed, version)
        })
        .await
    }
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn delete_groups(
        &self,
        request: &KafkaRequest,
        body: DeleteGroupsRequest,
    ) -> Pending {
        let mut replies = Vec::with_capacity(body.groups_names.len());
        // Kafka's check: DELETE on each group.
        let access = self.access(request, "DeleteGroups");
        for group in body.groups_names.iter().map(|g| g.to_string()) {
            if !access.allows(AclOperation::Delete, ResourceType::Group, &group) {
                replies.push((group, None));
                continue;
            }
            let args = DeleteGroupsArgs {
                groups: vec![group.clone()],
            };
            match submit(&self.node, args).await {
                Ok(reply) => replies.push((group, Some(reply))),
                Err(e) => return Pending::Close(e.to_string()),
            }
        }
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            let mut results = Vec::with_capacity(replies.len());
            for (group, reply) in replies {
                let Some(reply) = reply else {
                    results.push((group, ErrorCode::GROUP_AUTHORIZATION_FAILED));
                    continue;
                };
                let answer = reply.await.map_err(|e| e.to_string())?;
                let code = (answer.into_iter().find(|(g, _)| *g == group))
                    .map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |(_, code)| code);
                results.push((group, code));
            }
            let response = delete_response(results);
            codec::encode(prefix, ApiKey::DeleteGroups, &response).map(|bytes| Some(bytes.into()))
        }))
    }

    pub(super) async fn offset_delete(
        &self,
        request: &KafkaRequest,
        body: OffsetDeleteRequest,
    ) -> Pending {
        let partitions: Vec<TopicPartition> = (body.topics.iter())
            .flat_map(|t| {
                t.partitions.iter().map(|p| TopicPartition {
                    topic: t.name.to_string(),
                    partition: p.partition_index,
                })
            })
            .collect();
        // Kafka's checks: DELETE on the group (else the whole request is refused), then READ
        // on each topic.
        let access = self.access(request, "OffsetDelete");
        if !access.allows(AclOperation::Delete, ResourceType::Group, &body.group_id) {
            let refused = OffsetDeleteResult {
                error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
                partitions: Vec::new(),
            };
            return codec::respond(
                request,
                ApiKey::OffsetDelete,
                &offset_delete_response(refused),
            );
        }
        let (partitions, unauthorized): (Vec<_>, Vec<_>) = (partitions.into_iter())
            .partition(|tp| access.allows(AclOperation::Read, ResourceType::Topic, &tp.topic));
        let args = OffsetDeleteArgs {
            group: body.group_id.to_string(),
            partitions,
        };
        self.ask_later(request, ApiKey::OffsetDelete, args, move |mut deleted| {
            // A group-level error answers the request alone (Kafka drops the partitions).
            if deleted.error_code == ErrorCode::NONE {
                let refused = (unauthorized.into_iter())
                    .map(|tp| (tp, ErrorCode::TOPIC_AUTHORIZATION_FAILED));
                deleted.partitions.extend(refused);
            }
            offset_delete_response(deleted)
        })
        .await
    }
}

pub(super) fn delete_response(results: Vec<(String, ErrorCode)>) -> DeleteGroupsResponse {
    let results = (results.into_iter())
        .map(|(group, code)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(text(&group)))
                .with_error_code(code.wire())
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}

/// OffsetDelete's response: partitions grouped by topic in the order first listed.
pub(super) fn offset_delete_response(deleted: OffsetDeleteResult) -> OffsetDeleteResponse {
    let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
    for (tp, code) in deleted.partitions {
        let partition = OffsetDeleteResponsePartition::default()
            .with_partition_index(tp.partition)
            .with_error_code(code.wire());
        match topics.iter_mut().find(|t| t.name.as_str() == tp.topic) {
            Some(topic) => topic.partitions.push(partition),
            None => topics.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(TopicName(text(&tp.topic)))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    OffsetDeleteResponse::default()
        .with_error_code(deleted.error_code.wire())
        .with_topics(topics)
}

pub(super) fn describe_response(
    described: Vec<GroupDescription>,
    version: i16,
    operations: impl Fn(&str) -> i32,
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
            // Kafka reports them only for a group described without an error.
            let authorized_operations = match version >= 3 && d.error_code == ErrorCode::NONE {
                true => operations(&d.group),
                false => OPERATIONS_NOT_ASKED,
            };
            DescribedGroup::default()
                .with_error_code(error_code.wire())
                .with_error_message(opt_text(error_message))
                .with_group_id(GroupId(text(&d.group)))
                .with_group_state(text(&d.state))
                .with_protocol_type(text(&d.protocol_type))
                .with_protocol_data(text(&d.protocol))
                .with_members(members)
                .with_authorized_operations(authorized_operations)
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
