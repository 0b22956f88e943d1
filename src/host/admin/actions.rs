//! The console's writes, made as Kafka requests through this broker's own gateway under the
//! logged-in principal: the gateway validates them, authorizes them against the ACLs (a super
//! user passes) and answers with Kafka's error codes, exactly as for a client on a listener —
//! the console adds no second path into the metadata.
//!
//! * create a topic (CreateTopics), delete one (DeleteTopics), raise its partition count
//!   (CreatePartitions): any broker forwards these to the controller quorum's leader;
//! * reset a consumer group's committed offsets (OffsetCommit from outside the group,
//!   generation -1, as `kafka-consumer-groups --reset-offsets` does): only at the group's
//!   coordinator, and only while the group has no members (checked first with
//!   DescribeGroups, for the tool's message). The page sends it to the coordinator's endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, GroupId, OffsetCommitRequest, OffsetCommitResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::broker::service::{ConnectionContext, KafkaRequest, KafkaService, Mute, Pending};
use crate::protocol::frame::peek_header;
use crate::security::principal::KafkaPrincipal;
use crate::types::ErrorCode;

/// How long the controller may take over a topic change (the tools' default).
const ADMIN_TIMEOUT_MS: i32 = 30_000;
/// The versions asked: each in the range the broker advertises (`protocol::versions`).
const CREATE_TOPICS_VERSION: i16 = 7;
const DELETE_TOPICS_VERSION: i16 = 6;
const CREATE_PARTITIONS_VERSION: i16 = 3;
const DESCRIBE_GROUPS_VERSION: i16 = 5;
const OFFSET_COMMIT_VERSION: i16 = 8;
/// The most partitions one reset may name.
pub const RESET_PARTITIONS_MAX: usize = 10_000;

/// The way into this broker's gateway, and the listener its requests are said to come from.
#[derive(Clone)]
pub struct Writer {
    pub service: Arc<dyn KafkaService>,
    pub listener: String,
}

/// Why a write did not happen: the HTTP status and the message shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionError {
    pub status: u16,
    pub message: String,
}

impl ActionError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A Kafka error code the gateway answered, with its message: 409 for a state the change
    /// does not fit (the topic exists, the group is busy, this node does not coordinate it), 403
    /// for an authorization failure, 400 for the rest (the request's own fault).
    fn kafka(code: ErrorCode, message: Option<&StrBytes>, what: &str) -> Self {
        // `TOPIC_ALREADY_EXISTS(36)`: Kafka's name and its number (a code without a name too).
        let name = format!("{code:?}");
        let detail = (message.map(|m| m.as_str()).filter(|m| !m.is_empty()))
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let status = match code {
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
            | ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED => 403,
            ErrorCode::TOPIC_ALREADY_EXISTS
            | ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::REBALANCE_IN_PROGRESS
            | ErrorCode::NOT_CONTROLLER
            | ErrorCode::REQUEST_TIMED_OUT => 409,
            _ => 400,
        };
        Self::new(status, format!("{what}: {name}{detail}"))
    }
}

/// One partition's new committed offset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct NewOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl Writer {
    /// Creates `name` with `partitions` partitions of `replication_factor` replicas (-1 for
    /// either: the broker's default).
    pub async fn create_topic(
        &self,
        who: &KafkaPrincipal,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<String, ActionError> {
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_num_partitions(partitions)
                .with_replication_factor(replication_factor)]);
        let response: CreateTopicsResponse = self
            .call(who, ApiKey::CreateTopics, CREATE_TOPICS_VERSION, &request)
            .await?;
        let what = format!("creating topic '{name}'");
        let result = (response.topics.iter())
            .find(|t| t.name.0.as_str() == name)
            .ok_or_else(|| ActionError::new(502, format!("{what}: no answer for the topic")))?;
        check(result.error_code, result.error_message.as_ref(), &what)?;
        Ok(format!(
            "created topic '{name}' ({} partitions, replication factor {})",
            result.num_partitions, result.replication_factor
        ))
    }

    /// Deletes `name`.
    pub async fn delete_topic(
        &self,
        who: &KafkaPrincipal,
        name: &str,
    ) -> Result<String, ActionError> {
        let request = DeleteTopicsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topics(vec![DeleteTopicState::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))]);
        let response: DeleteTopicsResponse = self
            .call(who, ApiKey::DeleteTopics, DELETE_TOPICS_VERSION, &request)
            .await?;
        let what = format!("deleting topic '{name}'");
        let result = (response.responses.iter())
            .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(name))
            .ok_or_else(|| ActionError::new(502, format!("{what}: no answer for the topic")))?;
        check(result.error_code, result.error_message.as_ref(), &what)?;
        Ok(format!("deleted topic '{name}'"))
    }

    /// Raises `name`'s partition count to `count`.
    pub async fn create_partitions(
        &self,
        who: &KafkaPrincipal,
        name: &str,
        count: i32,
    ) -> Result<String, ActionError> {
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(TopicName(StrBytes::from_string(name.to_string())))
                .with_count(count)
                .with_assignments(None)]);
        let response: CreatePartitionsResponse = self
            .call(
                who,
                ApiKey::CreatePartitions,
                CREATE_PARTITIONS_VERSION,
                &request,
            )
            .await?;
        let what = format!("raising topic '{name}' to {count} partitions");
        let result = (response.results.iter())
            .find(|t| t.name.0.as_str() == name)
            .ok_or_else(|| ActionError::new(502, format!("{what}: no answer for the topic")))?;
        check(result.error_code, result.error_message.as_ref(), &what)?;
        Ok(format!("topic '{name}' has {count} partitions"))
    }

    /// Commits `offsets` for `group` from outside it, if it has no members.
    pub async fn reset_offsets(
        &self,
        who: &KafkaPrincipal,
        group: &str,
        offsets: &[NewOffset],
    ) -> Result<String, ActionError> {
        if offsets.is_empty() || offsets.len() > RESET_PARTITIONS_MAX {
            return Err(ActionError::new(
                400,
                format!("a reset names 1 to {RESET_PARTITIONS_MAX} partitions"),
            ));
        }
        if let Some(bad) = offsets.iter().find(|o| o.offset < 0 || o.partition < 0) {
            return Err(ActionError::new(
                400,
                format!(
                    "{}-{}: offset {} is not an offset (0 or more)",
                    bad.topic, bad.partition, bad.offset
                ),
            ));
        }
        let group_id = || GroupId(StrBytes::from_string(group.to_string()));
        let describe = DescribeGroupsRequest::default().with_groups(vec![group_id()]);
        let described: DescribeGroupsResponse = self
            .call(
                who,
                ApiKey::DescribeGroups,
                DESCRIBE_GROUPS_VERSION,
                &describe,
            )
            .await?;
        let what = format!("resetting the offsets of group '{group}'");
        let state = (described.groups.first())
            .ok_or_else(|| ActionError::new(502, format!("{what}: no answer for the group")))?;
        check(state.error_code, None, &what).map_err(|mut e| {
            if matches!(
                ErrorCode::from_wire(state.error_code),
                ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            ) {
                // This node holds no shard for the group: not its coordinator, or not yet.
                e.message.push_str(
                    " (offsets are reset at the group's coordinator: the node the console \
                     lists for the group)",
                );
            }
            e
        })?;
        // Kafka's tool: "Assignments can only be reset if the group '…' is inactive".
        if !matches!(state.group_state.as_str(), "Empty" | "Dead") {
            return Err(ActionError::new(
                409,
                format!(
                    "{what}: offsets can only be reset while the group is inactive, but it is {} \
                     with {} member(s)",
                    state.group_state.as_str(),
                    state.members.len()
                ),
            ));
        }
        let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for o in offsets {
            by_topic.entry(&o.topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(o.partition)
                    .with_committed_offset(o.offset)
                    .with_committed_leader_epoch(-1),
            );
        }
        let commit = OffsetCommitRequest::default()
            .with_group_id(group_id())
            .with_generation_id_or_member_epoch(-1)
            .with_topics(
                (by_topic.into_iter())
                    .map(|(topic, partitions)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let response: OffsetCommitResponse = self
            .call(who, ApiKey::OffsetCommit, OFFSET_COMMIT_VERSION, &commit)
            .await?;
        let answered: BTreeMap<(&str, i32), ErrorCode> = (response.topics.iter())
            .flat_map(|t| {
                (t.partitions.iter()).map(|p| {
                    let code = ErrorCode::from_wire(p.error_code);
                    ((t.name.0.as_str(), p.partition_index), code)
                })
            })
            .collect();
        commit_outcome(group, offsets, &answered)
    }

    /// Sends `request` through the gateway as `who` and decodes its answer.
    async fn call<Q: Encodable, R: Decodable>(
        &self,
        who: &KafkaPrincipal,
        api: ApiKey,
        version: i16,
        request: &Q,
    ) -> Result<R, ActionError> {
        let internal = |message: String| ActionError::new(500, message);
        let mut frame = BytesMut::new();
        RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(1)
            .with_client_id(Some(StrBytes::from_static_str("rill-console")))
            .encode(&mut frame, api.request_header_version(version))
            .map_err(|e| internal(format!("encoding the {api:?} header: {e}")))?;
        request
            .encode(&mut frame, version)
            .map_err(|e| internal(format!("encoding {api:?}: {e}")))?;
        let frame: Bytes = frame.freeze();
        let prefix = peek_header(&frame).map_err(|e| internal(format!("{api:?}: {e:?}")))?;
        let request = KafkaRequest {
            prefix,
            frame,
            client: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            context: Arc::new(ConnectionContext {
                listener: self.listener.clone(),
                principal: who.clone(),
            }),
            mute: Mute::default(),
        };
        let answer = match self.service.dispatch(request).await {
            Pending::Ready(Some(answer)) | Pending::Last(answer) => answer,
            Pending::Later(later) => match later.await {
                Ok(Some(answer)) => answer,
                Ok(None) => return Err(internal(format!("{api:?}: no answer"))),
                Err(error) => return Err(ActionError::new(502, format!("{api:?}: {error}"))),
            },
            Pending::Ready(None) => return Err(internal(format!("{api:?}: no answer"))),
            Pending::Close(reason) => {
                return Err(ActionError::new(400, format!("{api:?} refused: {reason}")))
            }
        };
        // The answer's size prefix, then its header and body.
        let mut bytes = Bytes::from(answer.as_chunks().concat());
        if bytes.len() < 4 {
            return Err(internal(format!("{api:?}: a short answer")));
        }
        let mut body = bytes.split_off(4);
        let bad = |e: anyhow::Error| internal(format!("decoding the {api:?} answer: {e}"));
        ResponseHeader::decode(&mut body, api.response_header_version(version)).map_err(bad)?;
        R::decode(&mut body, version).map_err(bad)
    }
}

/// A reset's result from each partition's answer: every partition committed, or an error
/// naming how many did and why each other one did not (a partition with no answer included).
fn commit_outcome(
    group: &str,
    offsets: &[NewOffset],
    answered: &BTreeMap<(&str, i32), ErrorCode>,
) -> Result<String, ActionError> {
    let mut failed = Vec::new();
    let mut worst = None;
    for o in offsets {
        match answered.get(&(o.topic.as_str(), o.partition)) {
            Some(&ErrorCode::NONE) => {}
            Some(code) => {
                failed.push(format!("{}-{}: {code:?}", o.topic, o.partition));
                worst.get_or_insert(*code);
            }
            None => failed.push(format!("{}-{}: no answer", o.topic, o.partition)),
        }
    }
    let total = offsets.len();
    if failed.is_empty() {
        return Ok(format!("reset {total} partition(s) of group '{group}'"));
    }
    let mut error = match worst {
        Some(code) => ActionError::kafka(code, None, ""),
        None => ActionError::new(502, ""),
    };
    let mut message = format!(
        "resetting the offsets of group '{group}': {} of {total} partition(s) committed; {}",
        total - failed.len(),
        failed.join(", ")
    );
    if worst == Some(ErrorCode::UNKNOWN_MEMBER_ID) {
        // A commit from outside the group (generation -1) while it has members: how a group
        // of the consumer protocol (KIP-848), which DescribeGroups calls Dead, refuses it.
        message.push_str(" (offsets can only be reset while the group is inactive)");
    }
    error.message = message;
    Err(error)
}

/// `Err` for an error code other than NONE.
fn check(code: i16, message: Option<&StrBytes>, what: &str) -> Result<(), ActionError> {
    match ErrorCode::from_wire(code) {
        ErrorCode::NONE => Ok(()),
        code => Err(ActionError::kafka(code, message, what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_become_http_statuses_with_kafkas_names() {
        let e = ActionError::kafka(ErrorCode::TOPIC_ALREADY_EXISTS, None, "creating topic 't'");
        assert_eq!(e.status, 409);
        assert_eq!(e.message, "creating topic 't': TOPIC_ALREADY_EXISTS(36)");
        let message = StrBytes::from_static_str("no such topic");
        let e = ActionError::kafka(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, Some(&message), "x");
        assert_eq!(
            (e.status, e.message.as_str()),
            (400, "x: UNKNOWN_TOPIC_OR_PARTITION(3): no such topic")
        );
        let e = ActionError::kafka(ErrorCode::TOPIC_AUTHORIZATION_FAILED, None, "x");
        assert_eq!(e.status, 403);
        assert!(check(0, None, "x").is_ok());
        let e = ActionError::kafka(ErrorCode::from_wire(-77), None, "x");
        assert_eq!(e.message, "x: ErrorCode(-77)");
    }

    #[test]
    fn every_version_asked_is_one_the_broker_serves() {
        for (api, version) in [
            (ApiKey::CreateTopics, CREATE_TOPICS_VERSION),
            (ApiKey::DeleteTopics, DELETE_TOPICS_VERSION),
            (ApiKey::CreatePartitions, CREATE_PARTITIONS_VERSION),
            (ApiKey::DescribeGroups, DESCRIBE_GROUPS_VERSION),
            (ApiKey::OffsetCommit, OFFSET_COMMIT_VERSION),
        ] {
            let served = crate::protocol::versions::supported(api as i16).unwrap();
            assert!(
                (served.min..=served.max).contains(&version),
                "{api:?} v{version}"
            );
        }
    }

    #[test]
    fn a_reset_reports_every_partition_that_did_not_commit() {
        let offsets: Vec<NewOffset> = (0..3)
            .map(|partition| NewOffset {
                topic: "t".into(),
                partition,
                offset: 5,
            })
            .collect();
        let all: BTreeMap<(&str, i32), ErrorCode> =
            (0..3).map(|p| (("t", p), ErrorCode::NONE)).collect();
        assert_eq!(
            commit_outcome("g", &offsets, &all),
            Ok("reset 3 partition(s) of group 'g'".to_string())
        );
        let mut some = all.clone();
        some.insert(("t", 1), ErrorCode::UNKNOWN_MEMBER_ID);
        some.remove(&("t", 2));
        let e = commit_outcome("g", &offsets, &some).unwrap_err();
        assert_eq!(e.status, 409);
        assert!(
            e.message.contains("1 of 3 partition(s) committed"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("t-1: UNKNOWN_MEMBER_ID(25)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("t-2: no answer"), "{}", e.message);
        assert!(e.message.contains("inactive"), "{}", e.message);
        let none = BTreeMap::new();
        assert_eq!(
            commit_outcome("g", &offsets, &none).unwrap_err().status,
            502
        );
    }
}
