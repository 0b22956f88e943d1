//! The classic group protocol's membership APIs: JoinGroup, SyncGroup, Heartbeat and LeaveGroup.
//! An empty group id is refused here with INVALID_GROUP_ID, as Kafka's coordinator refuses it
//! for these four APIs (commits and fetches accept it); everything else is the coordinator's.

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{
    ApiKey, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};

use super::{codec, opt_text, text, Caller};
use crate::actor::client::ActorClient;
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::BrokerService;
use crate::messages::{
    HeartbeatArgs, JoinGroupArgs, JoinGroupResult, LeaveGroupArgs, LeaveGroupResult, LeftMember,
    NodeMsg, SyncGroupArgs, SyncGroupResult,
};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::ErrorCode;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// Why a membership request is refused before the coordinator sees it: Kafka checks READ
    /// on the group first (GROUP_AUTHORIZATION_FAILED), then the coordinator refuses an
    /// empty group id (INVALID_GROUP_ID).
    fn membership_refusal(
        &self,
        request: &KafkaRequest,
        api: &'static str,
        group: &str,
    ) -> Option<ErrorCode> {
        if !(self.access(request, api)).allows(AclOperation::Read, ResourceType::Group, group) {
            return Some(ErrorCode::GROUP_AUTHORIZATION_FAILED);
        }
        group.is_empty().then_some(ErrorCode::INVALID_GROUP_ID)
    }

    pub(super) async fn join_group(
        &self,
        request: &KafkaRequest,
        body: JoinGroupRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let caller = Caller::of(request);
        let args = join_args(body, version, caller);
        if let Some(error_code) = self.membership_refusal(request, "JoinGroup", &args.group) {
            let refused = JoinGroupResult {
                error_code,
                generation: -1,
                protocol_type: None,
                protocol_name: None,
                leader: String::new(),
                skip_assignment: false,
                member_id: args.member_id,
                members: Vec::new(),
            };
            return codec::respond(request, ApiKey::JoinGroup, &join_response(refused, version));
        }
        self.ask_later(request, ApiKey::JoinGroup, args, move |joined| {
            join_response(joined, version)
        })
        .await
    }

    pub(super) async fn sync_group(
        &self,
        request: &KafkaRequest,
        body: SyncGroupRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let args = SyncGroupArgs {
            group: body.group_id.to_string(),
            generation: body.generation_id,
            member_id: body.member_id.to_string(),
            instance_id: body.group_instance_id.map(|s| s.to_string()),
            protocol_type: body.protocol_type.map(|s| s.to_string()),
            protocol_name: body.protocol_name.map(|s| s.to_string()),
            assignments: body
                .assignments
                .into_iter()
                .map(|a| (a.member_id.to_string(), a.assignment.to_vec()))
                .collect(),
        };
        if let Some(error_code) = self.membership_refusal(request, "SyncGroup", &args.group) {
            let refused = SyncGroupResult {
                error_code,
                protocol_type: None,
                protocol_name: None,
                assignment: Vec::new(),
            };
            return codec::respond(request, ApiKey::SyncGroup, &sync_response(refused, version));
        }
        self.ask_later(request, ApiKey::SyncGroup, args, move |synced| {
            sync_response(synced, version)
        })
        .await
    }

    pub(super) async fn heartbeat(
        &self,
        request: &KafkaRequest,
        body: HeartbeatRequest,
    ) -> Pending {
        let args = HeartbeatArgs {
            group: body.group_id.to_string(),
            generation: body.generation_id,
            member_id: body.member_id.to_string(),
            instance_id: body.group_instance_id.map(|s| s.to_string()),
        };
        if let Some(error_code) = self.membership_refusal(request, "Heartbeat", &args.group) {
            let refused = heartbeat_response(error_code);
            return codec::respond(request, ApiKey::Heartbeat, &refused);
        }
        self.ask_later(request, ApiKey::Heartbeat, args, heartbeat_response)
            .await
    }

    pub(super) async fn leave_group(
        &self,
        request: &KafkaRequest,
        body: LeaveGroupRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let members = if version >= 3 {
            body.members
                .into_iter()
                .map(|m| {
                    let instance = m.group_instance_id.map(|s| s.to_string());
                    (m.member_id.to_string(), instance)
                })
                .collect()
        } else {
            vec![(body.member_id.to_string(), None)]
        };
        let args = LeaveGroupArgs {
            group: body.group_id.to_string(),
            members,
        };
        if let Some(error_code) = self.membership_refusal(request, "LeaveGroup", &args.group) {
            let refused = LeaveGroupResult {
                error_code,
                members: Vec::new(),
            };
            return codec::respond(
                request,
                ApiKey::LeaveGroup,
                &leave_response(refused, version),
            );
        }
        self.ask_later(request, ApiKey::LeaveGroup, args, move |left| {
            leave_response(left, version)
        })
        .await
    }
}

/// JoinGroup's args: v0 has no rebalance timeout (the session timeout is used, as Kafka does),
/// v4+ members must rejoin with the id they are given (KIP-394), v5+ carry an instance id and
/// v8+ a reason, v9+ take `skip_assignment`.
pub(super) fn join_args(body: JoinGroupRequest, version: i16, caller: Caller) -> JoinGroupArgs {
    let rebalance_timeout_ms = if version >= 1 {
        body.rebalance_timeout_ms
    } else {
        body.session_timeout_ms
    };
    JoinGroupArgs {
        group: body.group_id.to_string(),
        member_id: body.member_id.to_string(),
        instance_id: body.group_instance_id.map(|s| s.to_string()),
        client_id: caller.client_id,
        client_host: caller.client_host,
        session_timeout_ms: body.session_timeout_ms,
        rebalance_timeout_ms,
        protocol_type: body.protocol_type.to_string(),
        protocols: body
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata.to_vec()))
            .collect(),
        requires_known_member_id: version >= 4,
        reason: body.reason.map(|s| s.to_string()),
        can_skip_assignment: version >= 9,
    }
}

/// JoinGroup's response at `version`. Before v7 `protocol_name` is not nullable, but the crate
/// writes `None` as a null (-1) there, which clients reject: Kafka answers "" (its
/// `JoinGroupResponse` constructor does the same for errors and MEMBER_ID_REQUIRED).
pub(super) fn join_response(joined: JoinGroupResult, version: i16) -> JoinGroupResponse {
    let protocol_name = match joined.protocol_name {
        None if version < 7 => Some(String::new()),
        name => name,
    };
    let members = joined
        .members
        .into_iter()
        .map(|m| {
            let member = JoinGroupResponseMember::default()
                .with_member_id(text(&m.member_id))
                .with_metadata(Bytes::from(m.metadata));
            if version >= 5 {
                member.with_group_instance_id(opt_text(m.instance_id))
            } else {
                member
            }
        })
        .collect();
    let mut response = JoinGroupResponse::default()
        .with_error_code(joined.error_code.wire())
        .with_generation_id(joined.generation)
        .with_protocol_name(opt_text(protocol_name))
        .with_leader(text(&joined.leader))
        .with_member_id(text(&joined.member_id))
        .with_members(members);
    if version >= 7 {
        response = response.with_protocol_type(opt_text(joined.protocol_type));
    }
    if version >= 9 {
        response = response.with_skip_assignment(joined.skip_assignment);
    }
    response
}

/// SyncGroup's response at `version`; the protocol type and name exist from v5.
pub(super) fn sync_response(synced: SyncGroupResult, version: i16) -> SyncGroupResponse {
    let response = SyncGroupResponse::default()
        .with_error_code(synced.error_code.wire())
        .with_assignment(Bytes::from(synced.assignment));
    if version >= 5 {
        response
            .with_protocol_type(opt_text(synced.protocol_type))
            .with_protocol_name(opt_text(synced.protocol_name))
    } else {
        response
    }
}

/// Heartbeat's response: the same fields at every version (the throttle time stays 0).
pub(super) fn heartbeat_response(code: ErrorCode) -> HeartbeatResponse {
    HeartbeatResponse::default().with_error_code(code.wire())
}

/// LeaveGroup's response at `version`. v3+ answer each member; v0–2 only one code, which is the
/// request's own or, if that is NONE, the first member's error (Kafka's `LeaveGroupResponse`).
pub(super) fn leave_response(left: LeaveGroupResult, version: i16) -> LeaveGroupResponse {
    if version >= 3 {
        let members = left
            .members
            .into_iter()
            .map(|m: LeftMember| {
                MemberResponse::default()
                    .with_member_id(text(&m.member_id))
                    .with_group_instance_id(opt_text(m.instance_id))
                    .with_error_code(m.error_code.wire())
            })
            .collect();
        return LeaveGroupResponse::default()
            .with_error_code(left.error_code.wire())
            .with_members(members);
    }
    let code = if left.error_code != ErrorCode::NONE {
        left.error_code
    } else {
        left.members
            .iter()
            .map(|m| m.error_code)
            .find(|code| *code != ErrorCode::NONE)
            .unwrap_or(ErrorCode::NONE)
    };
    LeaveGroupResponse::default().with_error_code(code.wire())
}
