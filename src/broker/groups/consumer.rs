//! KIP-848's APIs: ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69).
//!
//! The heartbeat goes to the coordinator with the cluster's topics as the registry has them
//! now: the coordinator resolves subscriptions by name to topic ids and partition counts, so
//! a topic created or grown after a member subscribed starts a new group epoch at the next
//! heartbeat. v0 lets the coordinator make a joining member's id; v1 (KIP-1082, the only
//! version librdkafka sends) has the client make it, and an empty one is refused.
//!
//! ConsumerGroupDescribe names topics in assignments, so ids are mapped back to names here.

use std::collections::BTreeMap;

use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribedAssignment, DescribedGroup, Member, TopicPartitions as DescribedTopic,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicName,
};
use uuid::Uuid;

use super::{codec, opt_text, text, Caller};
use crate::actor::client::ActorClient;
use crate::broker::authorize::{Access, TOPIC_NOT_AUTHORIZED};
use crate::broker::authorize::{GROUP_OPERATIONS, OPERATIONS_NOT_ASKED};
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::BrokerService;
use crate::group::refusal::consumer_described_refused;
use crate::messages::{
    ConsumerDescribeArgs, ConsumerGroupDescription, ConsumerHeartbeatArgs, ConsumerHeartbeatCall,
    ConsumerHeartbeatResult, NodeMsg,
};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::ErrorCode;

/// ConsumerGroupDescribe `member_type` (v1): a member of the consumer protocol.
const CONSUMER_MEMBER_TYPE: i8 = 1;

/// Topic ids to names, for ConsumerGroupDescribe.
type TopicNames = BTreeMap<[u8; 16], String>;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn consumer_group_heartbeat(
        &self,
        request: &KafkaRequest,
        body: ConsumerGroupHeartbeatRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let key = ApiKey::ConsumerGroupHeartbeat;
        // Kafka's checks: READ on the group, then DESCRIBE on every topic subscribed by name.
        let access = self.access(request, "ConsumerGroupHeartbeat");
        let args = heartbeat_args(body);
        let refused = if !access.allows(AclOperation::Read, ResourceType::Group, &args.group) {
            Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
        } else if (args.subscribed_topic_names.iter().flatten())
            .any(|t| !access.allows(AclOperation::Describe, ResourceType::Topic, t))
        {
            Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
        } else {
            None
        };
        if let Some(error_code) = refused {
            let response = heartbeat_response(ConsumerHeartbeatResult {
                error_code,
                error_message: None,
                member_id: None,
                member_epoch: 0,
                heartbeat_interval_ms: 0,
                assignment: None,
            });
            return codec::respond(request, key, &response);
        }
        let topics = match self.list_topics().await {
            Ok(topics) => topics,
            Err(e) => return Pending::Close(e.to_string()),
        };
        let caller = Caller::of(request);
        let call = ConsumerHeartbeatCall {
            args,
            client_id: caller.client_id,
            client_host: caller.client_host,
            topics: (topics.into_iter())
                .map(|(name, meta)| (name, meta.id, meta.partitions))
                .collect(),
            assign_member_id: version == 0,
        };
        self.ask_later(request, key, call, heartbeat_response).await
    }

    pub(super) async fn consumer_group_describe(
        &self,
        request: &KafkaRequest,
        body: ConsumerGroupDescribeRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let names: TopicNames = match self.list_topics().await {
            Ok(topics) => (topics.into_iter())
                .map(|(name, meta)| (meta.id, name))
                .collect(),
            Err(e) => return Pending::Close(e.to_string()),
        };
        // Kafka's check: DESCRIBE on each group; the others are answered
        // GROUP_AUTHORIZATION_FAILED after the described ones.
        let access = self.access(request, "ConsumerGroupDescribe");
        let (groups, refused): (Vec<String>, Vec<String>) = (body.group_ids.iter())
            .map(|g| g.to_string())
            .partition(|g| access.allows(AclOperation::Describe, ResourceType::Group, g));
        let refused: Vec<_> = (refused.into_iter())
            .map(|group| consumer_described_refused(&group, ErrorCode::GROUP_AUTHORIZATION_FAILED))
            .collect();
        let args = ConsumerDescribeArgs {
            groups,
            include_authorized_operations: body.include_authorized_operations,
        };
        let key = ApiKey::ConsumerGroupDescribe;
        let asked = args.include_authorized_operations;
        if args.groups.is_empty() {
            let response = describe_response(refused, &names, version, |_| OPERATIONS_NOT_ASKED);
            return codec::respond(request, key, &response);
        }
        self.ask_later(request, key, args, move |groups| {
            let mut groups: Vec<_> = (groups.into_iter())
                .map(|g| hide_undescribable(g, &names, &access))
                .collect();
            groups.extend(refused);
            let operations = |group: &str| match asked {
                true => access.operations(ResourceType::Group, group, &GROUP_OPERATIONS),
                false => OPERATIONS_NOT_ASKED,
            };
            describe_response(groups, &names, version, operations)
        })
        .await
    }
}

fn heartbeat_args(body: ConsumerGroupHeartbeatRequest) -> ConsumerHeartbeatArgs {
    ConsumerHeartbeatArgs {
        group: body.group_id.to_string(),
        member_id: body.member_id.to_string(),
        member_epoch: body.member_epoch,
        instance_id: body.instance_id.map(|s| s.to_string()),
        rack_id: body.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: body.rebalance_timeout_ms,
        subscribed_topic_names: (body.subscribed_topic_names)
            .map(|names| names.into_iter().map(|n| n.0.to_string()).collect()),
        subscribed_topic_regex: body.subscribed_topic_regex.map(|s| s.to_string()),
        server_assignor: body.server_assignor.map(|s| s.to_string()),
        owned: (body.topic_partitions).map(|topics| {
            (topics.into_iter())
                .map(|t| (*t.topic_id.as_bytes(), t.partitions))
                .collect()
        }),
    }
}

fn heartbeat_response(r: ConsumerHeartbeatResult) -> ConsumerGroupHeartbeatResponse {
    let assignment = r.assignment.map(|topics| {
        let topic_partitions = (topics.into_iter())
            .map(|(id, partitions)| {
                TopicPartitions::default()
                    .with_topic_id(Uuid::from_bytes(id))
                    .with_partitions(partitions)
            })
            .collect();
        Assignment::default().with_topic_partitions(topic_partitions)
    });
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(r.error_code.wire())
        .with_error_message(opt_text(r.error_message))
        .with_member_id(opt_text(r.member_id))
        .with_member_epoch(r.member_epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_assignment(assignment)
}

/// Kafka 4.0's check (KAFKA-18813): a group whose members are assigned (or targeted) a topic
/// the principal may not DESCRIBE is answered TOPIC_AUTHORIZATION_FAILED, without members,
/// so the description does not tell the topic's name.
fn hide_undescribable(
    group: ConsumerGroupDescription,
    names: &TopicNames,
    access: &Access,
) -> ConsumerGroupDescription {
    let hidden = (group.members.iter())
        .flat_map(|m| m.assignment.iter().chain(&m.target_assignment))
        .filter_map(|(id, _)| names.get(id))
        .any(|topic| !access.allows(AclOperation::Describe, ResourceType::Topic, topic));
    if group.error_code != ErrorCode::NONE || !hidden {
        return group;
    }
    ConsumerGroupDescription {
        error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        error_message: Some(TOPIC_NOT_AUTHORIZED.to_string()),
        members: Vec::new(),
        ..group
    }
}

/// The response; `operations` gives a group's `authorized_operations` (reported only for a
/// group described without an error, as Kafka does).
fn describe_response(
    groups: Vec<ConsumerGroupDescription>,
    names: &TopicNames,
    version: i16,
    operations: impl Fn(&str) -> i32,
) -> ConsumerGroupDescribeResponse {
    let groups = (groups.into_iter())
        .map(|g| {
            let members = (g.members.into_iter())
                .map(|m| {
                    let member = Member::default()
                        .with_member_id(text(&m.member_id))
                        .with_instance_id(opt_text(m.instance_id))
                        .with_rack_id(opt_text(m.rack_id))
                        .with_member_epoch(m.member_epoch)
                        .with_client_id(text(&m.client_id))
                        .with_client_host(text(&m.client_host))
                        .with_subscribed_topic_names(
                            (m.subscribed_topic_names.iter())
                                .map(|n| TopicName(text(n)))
                                .collect(),
                        )
                        .with_subscribed_topic_regex(opt_text(m.subscribed_topic_regex))
                        .with_assignment(described_assignment(&m.assignment, names))
                        .with_target_assignment(described_assignment(&m.target_assignment, names));
                    if version >= 1 {
                        member.with_member_type(CONSUMER_MEMBER_TYPE)
                    } else {
                        member
                    }
                })
                .collect();
            DescribedGroup::default()
                .with_error_code(g.error_code.wire())
                .with_error_message(opt_text(g.error_message))
                .with_group_id(text(&g.group).into())
                .with_group_state(text(&g.state))
                .with_group_epoch(g.group_epoch)
                .with_assignment_epoch(g.assignment_epoch)
                .with_assignor_name(text(&g.assignor))
                .with_members(members)
                .with_authorized_operations(match g.error_code == ErrorCode::NONE {
                    true => operations(&g.group),
                    false => OPERATIONS_NOT_ASKED,
                })
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

fn described_assignment(
    topics: &[([u8; 16], Vec<i32>)],
    names: &TopicNames,
) -> DescribedAssignment {
    let topic_partitions = (topics.iter())
        .map(|(id, partitions)| {
            let name = names.get(id).map_or("", String::as_str);
            DescribedTopic::default()
                .with_topic_id(Uuid::from_bytes(*id))
                .with_topic_name(TopicName(text(name)))
                .with_partitions(partitions.clone())
        })
        .collect();
    DescribedAssignment::default().with_topic_partitions(topic_partitions)
}
