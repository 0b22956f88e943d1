//! The consumer-group APIs: each Kafka request is decoded into its `messages::groups` args and
//! handed to the node's group coordinator (`GROUPS`), whose answer is built into the response
//! of the request's version. One file per family: [`find_coordinator`], [`membership`] (join,
//! sync, heartbeat, leave), [`offsets`] (commit, fetch), [`admin`] (describe, list, delete,
//! offset delete) and [`consumer`] (KIP-848's heartbeat and describe).
//!
//! Requests go to the coordinator with `submit` and are answered through `Pending::Later`, as
//! Produce is: a JoinGroup may wait for a whole rebalance (up to the rebalance timeout), and the
//! connection's reader must keep reading meanwhile (heartbeats of other members on a shared
//! connection, the next request). The coordinator takes requests in arrival order and the
//! listener writes answers in request order, as Kafka's muted channel would.
//!
//! The protocol crate refuses to encode a field that the response version lacks, and that error
//! closes the connection, so every builder here sets a field only from the version that has it.

mod admin;
mod consumer;
mod find_coordinator;
mod membership;
mod offsets;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::service::{KafkaRequest, Pending};
use super::{answer, codec, BrokerService};
use crate::actor::client::ActorClient;
use crate::messages::call::{submit, Call};
use crate::messages::NodeMsg;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// Answers one group request (the caller checked that `key` is a group API and that its
    /// version is served).
    pub(super) async fn group_api(&self, key: ApiKey, request: &KafkaRequest) -> Pending {
        let version = request.prefix.api_version;
        let gate = &self.large_decodes;
        match key {
            ApiKey::FindCoordinator => {
                answer(request, key, gate, |body, _turn| {
                    self.find_coordinator(body, version, request)
                })
                .await
            }
            ApiKey::JoinGroup => match decode(request, key, gate).await {
                Ok(body) => self.join_group(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::SyncGroup => match decode(request, key, gate).await {
                Ok(body) => self.sync_group(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::Heartbeat => match decode(request, key, gate).await {
                Ok(body) => self.heartbeat(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::LeaveGroup => match decode(request, key, gate).await {
                Ok(body) => self.leave_group(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::OffsetCommit => match decode(request, key, gate).await {
                Ok(body) => self.offset_commit(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::TxnOffsetCommit => match decode(request, key, gate).await {
                Ok(body) => self.txn_offset_commit(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::OffsetFetch => match decode(request, key, gate).await {
                Ok(body) => self.offset_fetch(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::DescribeGroups => match decode(request, key, gate).await {
                Ok(body) => self.describe_groups(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::ListGroups => match decode(request, key, gate).await {
                Ok(body) => self.list_groups(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::DeleteGroups => match decode(request, key, gate).await {
                Ok(body) => self.delete_groups(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::OffsetDelete => match decode(request, key, gate).await {
                Ok(body) => self.offset_delete(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::ConsumerGroupHeartbeat => match decode(request, key, gate).await {
                Ok(body) => self.consumer_group_heartbeat(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::ConsumerGroupDescribe => match decode(request, key, gate).await {
                Ok(body) => self.consumer_group_describe(request, body).await,
                Err(closed) => closed,
            },
            other => Pending::Close(format!("{other:?} is not a group API served here")),
        }
    }

    /// Puts `call` in the coordinator's mailbox now (so it is taken in request order) and
    /// answers once it replies, with the response `build` makes of the reply.
    async fn ask_later<R, Resp>(
        &self,
        request: &KafkaRequest,
        key: ApiKey,
        call: R,
        build: impl FnOnce(R::Reply) -> Resp + Send + 'static,
    ) -> Pending
    where
        R: Call,
        Resp: Encodable,
    {
        let reply = match submit(&self.node, call).await {
            Ok(reply) => reply,
            Err(e) => return Pending::Close(e.to_string()),
        };
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            let reply = reply.await.map_err(|e| e.to_string())?;
            codec::encode(prefix, key, &build(reply)).map(|bytes| Some(bytes.into()))
        }))
    }
}

/// Decodes the body; a request that cannot be decoded closes the connection. The decode's turn
/// (a large request) is released at once: group requests are small and merged nowhere.
async fn decode<R: Decodable>(
    request: &KafkaRequest,
    key: ApiKey,
    gate: &tokio::sync::Semaphore,
) -> Result<R, Pending> {
    match codec::decode::<R>(request, key, gate).await {
        Ok((body, _turn)) => Ok(body),
        Err(e) => Err(Pending::Close(e)),
    }
}

/// Who sent a request, as the coordinator records a member: the header's client id and the
/// connection's host (Kafka's `clientHost`, the address without the port, with its leading `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Caller {
    pub client_id: String,
    pub client_host: String,
}

impl Caller {
    pub(super) fn of(request: &KafkaRequest) -> Self {
        Self {
            client_id: client_id(request),
            client_host: format!("/{}", request.client.ip()),
        }
    }
}

/// The header's client id; "" when null or unreadable. The bounds check has passed the frame by
/// the time a body is decoded, so the header reads.
fn client_id(request: &KafkaRequest) -> String {
    let prefix = request.prefix;
    let Ok(key) = ApiKey::try_from(prefix.api_key) else {
        return String::new();
    };
    let mut buf: Bytes = request.frame.clone();
    RequestHeader::decode(&mut buf, key.request_header_version(prefix.api_version))
        .ok()
        .and_then(|header| header.client_id)
        .map(|id| id.to_string())
        .unwrap_or_default()
}

pub(super) fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn opt_text(s: Option<String>) -> Option<StrBytes> {
    s.map(StrBytes::from_string)
}

#[cfg(test)]
mod tests;
