//! FindCoordinator: which broker coordinates a group: the leader of the group's
//! `__consumer_offsets` partition (Kafka's rule), once that topic exists: the first request
//! creates it (Kafka creates it lazily too), and until that succeeds, or while the partition
//! has no leader, clients get COORDINATOR_NOT_AVAILABLE and retry. Transactions are not
//! supported, so a transaction coordinator is never available; saying so at once keeps a
//! transactional producer from retrying forever.
//!
//! v0–3 ask for one key (v0 a group only); v4+ (KIP-699) ask for a batch in `coordinator_keys`
//! and are answered in `coordinators`.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::text;
use crate::actor::client::ActorClient;
use crate::broker::{BrokerService, GatewayError};
use crate::group::placement::offsets_partition;
use crate::messages::call::ask;
use crate::messages::{EnsureInternalRequest, InternalTopic, NodeMsg, TopicMeta, OFFSETS_TOPIC};
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
    ) -> Result<FindCoordinatorResponse, GatewayError> {
        let keys: Vec<String> = if version >= 4 {
            request
                .coordinator_keys
                .iter()
                .map(|k| k.to_string())
                .collect()
        } else {
            vec![request.key.to_string()]
        };
        // v0 has no key type: it asks for a group coordinator.
        let answers = match request.key_type {
            KEY_TYPE_GROUP => self.group_coordinators(keys).await,
            KEY_TYPE_TRANSACTION => {
                let refused = Found::Refused(
                    ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    "transactions are not supported".into(),
                );
                keys.into_iter().map(|key| (key, refused.clone())).collect()
            }
            other => {
                let refused = Found::Refused(
                    ErrorCode::INVALID_REQUEST,
                    format!("unknown coordinator key type {other}"),
                );
                keys.into_iter().map(|key| (key, refused.clone())).collect()
            }
        };
        Ok(response(answers, version))
    }

    /// Each group's coordinator: the leader of its `__consumer_offsets` partition (the topic
    /// is created here if it does not exist).
    async fn group_coordinators(&self, groups: Vec<String>) -> Vec<(String, Found)> {
        let offsets = match self.offsets_topic().await {
            Ok(meta) => meta,
            Err(refused) => return groups.into_iter().map(|g| (g, refused.clone())).collect(),
        };
        let cluster = self.cluster_brokers().await;
        let me = self.settings.broker_id();
        groups
            .into_iter()
            .map(|group| {
                let partition = offsets_partition(&group, offsets.partitions);
                // A topic with no assignment (tests): this broker holds it.
                let leader = match offsets.assignment.get(partition as usize) {
                    Some(view) => view.leader.and_then(|l| i32::try_from(l.0).ok()),
                    None => Some(me),
                };
                let found = match leader.and_then(|id| Some((id, cluster.by_id.get(&id)?))) {
                    Some((id, (host, port))) => Found::Node(id, host.clone(), i32::from(*port)),
                    None => Found::Refused(
                        ErrorCode::COORDINATOR_NOT_AVAILABLE,
                        format!("{OFFSETS_TOPIC} partition {partition} has no live leader"),
                    ),
                };
                (group, found)
            })
            .collect()
    }

    /// `__consumer_offsets` (created here if it does not exist), or why not.
    async fn offsets_topic(&self) -> Result<TopicMeta, Found> {
        if let Some(meta) = self.offsets_topic_meta().await {
            return Ok(meta);
        }
        {
            let ensure = EnsureInternalRequest {
                topic: InternalTopic::ConsumerOffsets,
            };
            let refusal = match ask(&self.node, ensure).await {
                Ok(changes) => match changes.into_iter().next() {
                    Some(Ok(_)) => None,
                    Some(Err(refusal)) => Some(refusal.message),
                    None => Some("no answer for the offsets topic".into()),
                },
                Err(e) => Some(e.to_string()),
            };
            if let Some(reason) = refusal {
                tracing::debug!(%reason, "cannot create {OFFSETS_TOPIC}");
                return Err(Found::Refused(
                    ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    format!("the offsets topic is not available: {reason}"),
                ));
            }
        }
        self.offsets_topic_meta().await.ok_or_else(|| {
            Found::Refused(
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                format!("{OFFSETS_TOPIC} is not in this broker's metadata yet"),
            )
        })
    }

    /// `__consumer_offsets` as this broker's metadata has it (an unanswered ask counts as
    /// none).
    async fn offsets_topic_meta(&self) -> Option<TopicMeta> {
        let mut topics = self.list_topics().await.ok()?;
        topics.remove(OFFSETS_TOPIC)
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
