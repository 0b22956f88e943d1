//! FindCoordinator: which broker coordinates a key: the leader of the key's partition of its
//! coordinator's internal topic (Kafka's rule): a group's `__consumer_offsets` partition, a
//! transactional id's `__transaction_state` partition, both placed by
//! [`coordinator_partition`]. The first request for a kind of key creates its topic (Kafka
//! creates them lazily too), and until that succeeds, or while the partition has no live
//! leader, clients get COORDINATOR_NOT_AVAILABLE and retry.
//!
//! v0–3 ask for one key (v0 a group only); v4+ (KIP-699) ask for a batch in `coordinator_keys`
//! and are answered in `coordinators`.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::text;
use crate::actor::client::ActorClient;
use crate::broker::authorize::{GROUP_NOT_AUTHORIZED, TXN_ID_NOT_AUTHORIZED};
use crate::broker::service::KafkaRequest;
use crate::broker::{BrokerService, GatewayError};
use crate::messages::call::ask;
use crate::messages::{EnsureInternalRequest, InternalTopic, NodeMsg, TopicMeta};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::placement::coordinator_partition;
use crate::types::ErrorCode;

/// `CoordinatorType.GROUP`.
const KEY_TYPE_GROUP: i8 = 0;
/// `CoordinatorType.TRANSACTION`.
const KEY_TYPE_TRANSACTION: i8 = 1;

/// The answer for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// This broker: (node id, host, port).
    Node(i32, String, i32),
    Refused(ErrorCode, String),
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn find_coordinator(
        &self,
        request: FindCoordinatorRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<FindCoordinatorResponse, GatewayError> {
        let listener = frame.context.listener.as_str();
        let keys: Vec<String> = if version >= 4 {
            request
                .coordinator_keys
                .iter()
                .map(|k| k.to_string())
                .collect()
        } else {
            vec![request.key.to_string()]
        };
        // Kafka's check: DESCRIBE on each key's group or transactional id; a refused key is
        // not looked up (nor its internal topic created).
        let access = self.access(frame, "FindCoordinator");
        let (resource_type, refusal, refused_text) = match request.key_type {
            KEY_TYPE_TRANSACTION => (
                ResourceType::TransactionalId,
                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                TXN_ID_NOT_AUTHORIZED,
            ),
            _ => (
                ResourceType::Group,
                ErrorCode::GROUP_AUTHORIZATION_FAILED,
                GROUP_NOT_AUTHORIZED,
            ),
        };
        // An unknown key type is refused below without a check (Kafka authorizes none).
        let known_type = matches!(request.key_type, KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION);
        let (keys, refused): (Vec<String>, Vec<String>) = (keys.into_iter()).partition(|key| {
            !known_type || access.allows(AclOperation::Describe, resource_type, key)
        });
        let refused = (refused.into_iter())
            .map(|key| (key, Found::Refused(refusal, refused_text.to_string())));
        // v0 has no key type: it asks for a group coordinator.
        let answers = match request.key_type {
            _ if keys.is_empty() => Vec::new(),
            KEY_TYPE_GROUP => {
                self.coordinators(InternalTopic::ConsumerOffsets, keys, listener)
                    .await
            }
            KEY_TYPE_TRANSACTION => {
                self.coordinators(InternalTopic::TransactionState, keys, listener)
                    .await
            }
            other => {
                let refused = Found::Refused(
                    ErrorCode::INVALID_REQUEST,
                    format!("unknown coordinator key type {other}"),
                );
                keys.into_iter().map(|key| (key, refused.clone())).collect()
            }
        };
        Ok(response(
            answers.into_iter().chain(refused).collect(),
            version,
        ))
    }

    /// Each key's coordinator: the leader of the key's partition of the internal topic `internal`
    /// (created here if it does not exist).
    async fn coordinators(
        &self,
        internal: InternalTopic,
        keys: Vec<String>,
        listener: &str,
    ) -> Vec<(String, Found)> {
        let topic = internal.name();
        let meta = match self.internal_topic(internal).await {
            Ok(meta) => meta,
            Err(reason) => {
                let refused = Found::Refused(ErrorCode::COORDINATOR_NOT_AVAILABLE, reason);
                return keys.into_iter().map(|k| (k, refused.clone())).collect();
            }
        };
        let cluster = self.cluster_brokers(listener).await;
        let me = self.settings.broker_id();
        keys.into_iter()
            .map(|key| {
                let partition = coordinator_partition(&key, meta.partitions);
                // A topic with no assignment (tests): this broker holds it.
                let leader = match meta.assignment.get(partition as usize) {
                    Some(view) => view.leader.and_then(|l| i32::try_from(l.0).ok()),
                    None => Some(me),
                };
                let found = match leader.and_then(|id| Some((id, cluster.by_id.get(&id)?))) {
                    Some((id, (host, port))) => Found::Node(id, host.clone(), i32::from(*port)),
                    None => Found::Refused(
                        ErrorCode::COORDINATOR_NOT_AVAILABLE,
                        format!("{topic} partition {partition} has no live leader"),
                    ),
                };
                (key, found)
            })
            .collect()
    }

    /// The internal topic `internal` (created here if it does not exist), or why it is not
    /// available (a coordinator's clients retry on COORDINATOR_NOT_AVAILABLE). Also what
    /// AddOffsetsToTxn places a group by (`broker::txn`).
    pub(in crate::broker) async fn internal_topic(
        &self,
        internal: InternalTopic,
    ) -> Result<TopicMeta, String> {
        let topic = internal.name();
        if let Some(meta) = self.topic_meta(topic).await {
            return Ok(meta);
        }
        let ensure = EnsureInternalRequest { topic: internal };
        let refusal = match ask(&self.node, ensure).await {
            Ok(changes) => match changes.into_iter().next() {
                Some(Ok(_)) => None,
                Some(Err(refusal)) => Some(refusal.message),
                None => Some(format!("no answer for {topic}")),
            },
            Err(e) => Some(e.to_string()),
        };
        if let Some(reason) = refusal {
            tracing::debug!(%reason, "cannot create {topic}");
            return Err(format!("{topic} is not available: {reason}"));
        }
        let meta = self.topic_meta(topic).await;
        meta.ok_or_else(|| format!("{topic} is not in this broker's metadata yet"))
    }

    /// `topic` as this broker's metadata has it (an unanswered ask counts as none).
    async fn topic_meta(&self, topic: &str) -> Option<TopicMeta> {
        let mut topics = self.list_topics().await.ok()?;
        topics.remove(topic)
    }
}

/// The response of `version` for these keys' answers (one key below v4). An error names no
/// node: id -1, host "", port -1 (Kafka's `Node.noNode()`).
pub(super) fn response(answers: Vec<(String, Found)>, version: i16) -> FindCoordinatorResponse {
    let parts = |found: &Found| match found {
        Found::Node(id, host, port) => (ErrorCode::NONE, None, *id, host.clone(), *port),
        Found::Refused(code, message) => (*code, Some(message.clone()), -1, String::new(), -1),
    };
    if version >= 4 {
        let coordinators = answers
            .iter()
            .map(|(key, found)| {
                let (code, message, id, host, port) = parts(found);
                Coordinator::default()
                    .with_key(text(key))
                    .with_node_id(BrokerId(id))
                    .with_host(text(&host))
                    .with_port(port)
                    .with_error_code(code.wire())
                    .with_error_message(message.as_deref().map(text))
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let Some((_, found)) = answers.first() else {
        return FindCoordinatorResponse::default();
    };
    let (code, message, id, host, port) = parts(found);
    let response = FindCoordinatorResponse::default()
        .with_error_code(code.wire())
        .with_node_id(BrokerId(id))
        .with_host(text(&host))
        .with_port(port);
    if version >= 1 {
        response.with_error_message(message.as_deref().map(text))
    } else {
        response
    }
}
