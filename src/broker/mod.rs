//! Per-node request routing: decodes each Kafka request, answers it (directly, or by asking the
//! node's actors), and encodes the response. One file per API family (`groups` for the group
//! coordinator's, `txn` for the transaction coordinator's).
//!
//! An API is advertised in [`crate::protocol::versions`] only when it is served here; any other
//! key is answered like Kafka answers an API it does not know — by closing the connection.

mod acls;
mod admin;
mod alter_configs;
mod authorize;
#[cfg(test)]
mod authorize_tests;
mod client_quotas;
mod cluster;
mod codec;
pub mod configs;
mod create_partitions;
mod describe_cluster;
mod describe_log_dirs;
mod describe_producers;
mod describe_quorum;
mod describe_topic_partitions;
mod elect_leaders;
mod error;
mod fetch;
mod fetch_encode;
mod groups;
mod leader_epochs;
mod metadata;
mod mutation_quota;
mod partitions;
mod per_partition;
mod produce;
pub mod quota;
mod reassignments;
mod records;
mod request_quota;
pub mod sasl;
mod scram;
pub mod service;
pub mod settings;
#[cfg(test)]
mod tests;
mod throttle;
mod txn;
mod write_txn_markers;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::actor::client::ActorClient;
use crate::limits::{LARGE_DECODES_AT_ONCE, RECORD_WALKS_AT_ONCE};
use crate::messages::acls::PublishedAcls;
use crate::messages::call::ask;
use crate::messages::quotas::PublishedQuotas;
use crate::messages::{ListTopicsRequest, NodeMsg, TopicMeta};
use crate::protocol::{api_versions, frame, versions};
pub use error::GatewayError;
use service::{KafkaRequest, KafkaService, MonoClock, Pending};
use settings::GatewaySettings;

/// The broker's [`KafkaService`]. It asks the node's actors through `C`: the host's node
/// handle in the server, a fake in tests. Generic rather than `dyn`, so the produce and fetch
/// paths call the handle directly and box nothing more.
pub struct BrokerService<C> {
    node: C,
    settings: GatewaySettings,
    /// Turns for decoding and handling requests with many entries ([`codec::decode`]).
    large_decodes: tokio::sync::Semaphore,
    /// Turns for walking the records of Produce requests too costly to walk on the runtime
    /// (`produce::walk`).
    record_walks: tokio::sync::Semaphore,
    /// The ACLs as this node applied them, read for every request checked (with
    /// `settings.authorizer`; see [`authorize`]).
    acls: PublishedAcls,
    /// The client quotas as this node applied them: enforced and described from here.
    quotas: PublishedQuotas,
    /// The client quotas' buckets (this broker's measure of each client's rate).
    quota_state: Arc<quota::SharedQuotaState>,
    /// The host's monotonic clock (virtual under the simulator): the quotas' time, and the
    /// mutes' (the listener reads it too).
    clock: Arc<dyn MonoClock>,
    /// `settings.authorizer`, shared with the checks of answers completed later.
    authorizer: Option<Arc<crate::security::acl::AuthorizerSettings>>,
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// A gateway that checks requests against no ACL (with an authorizer configured, only
    /// super users, or everyone where `allow.everyone.if.no.acl.found` says so): tests.
    pub fn new(node: C, settings: GatewaySettings) -> Arc<Self> {
        Self::with_acls(node, settings, PublishedAcls::default())
    }

    /// A gateway that authorizes requests against the ACLs the node's metadata voter
    /// publishes to `acls`.
    pub fn with_acls(node: C, settings: GatewaySettings, acls: PublishedAcls) -> Arc<Self> {
        let clock = Arc::new(service::ManualClock::default());
        Self::with_views(node, settings, acls, PublishedQuotas::default(), clock)
    }

    /// A gateway that authorizes requests against the ACLs and holds clients to the quotas
    /// the node's metadata voter publishes to `acls` and `quotas`, measuring time with `clock`.
    pub fn with_views(
        node: C,
        settings: GatewaySettings,
        acls: PublishedAcls,
        quotas: PublishedQuotas,
        clock: Arc<dyn MonoClock>,
    ) -> Arc<Self> {
        Arc::new(Self {
            quota_state: Arc::new(quota::SharedQuotaState::new(settings.quota_window)),
            clock,
            node,
            authorizer: settings.authorizer.clone().map(Arc::new),
            settings,
            large_decodes: tokio::sync::Semaphore::new(LARGE_DECODES_AT_ONCE),
            record_walks: tokio::sync::Semaphore::new(RECORD_WALKS_AT_ONCE),
            acls,
            quotas,
        })
    }

    async fn answer(&self, request: KafkaRequest) -> Pending {
        let prefix = request.prefix;
        tracing::trace!(?prefix, client = %request.client, "kafka request");
        let Ok(key) = ApiKey::try_from(prefix.api_key) else {
            return Pending::Close(format!("unknown api key {}", prefix.api_key));
        };
        if key == ApiKey::ApiVersions {
            // Answered without decoding the body: a too-new version must still get the fallback.
            let (body, version) = api_versions::answer(prefix.api_version);
            return match frame::encode_response(
                prefix.correlation_id,
                api_versions::RESPONSE_HEADER_VERSION,
                &body,
                version,
            ) {
                Ok(bytes) => Pending::Ready(Some(bytes.into())),
                Err(e) => Pending::Close(e.to_string()),
            };
        }
        match versions::supported(prefix.api_key) {
            Some(s) if (s.min..=s.max).contains(&prefix.api_version) => {}
            _ => return Pending::Close(format!("{key:?} v{} is not served", prefix.api_version)),
        }
        let version = prefix.api_version;
        match key {
            ApiKey::Produce => match codec::decode(&request, key, &self.large_decodes).await {
                Ok((body, _turn)) => self.produce(&request, body).await,
                Err(e) => Pending::Close(e),
            },
            ApiKey::Fetch => match codec::decode(&request, key, &self.large_decodes).await {
                Ok((body, _turn)) => self.fetch(&request, body).await,
                Err(e) => Pending::Close(e),
            },
            ApiKey::ListOffsets => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.list_offsets(body, version, &request)
                })
                .await
            }
            ApiKey::Metadata => {
                answer(&request, key, &self.large_decodes, |body, turn| {
                    self.metadata(body, version, turn, &request)
                })
                .await
            }
            ApiKey::CreateTopics => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.create_topics(body, version, &request)
                })
                .await
            }
            ApiKey::DeleteTopics => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.delete_topics(body, version, &request)
                })
                .await
            }
            // With a transactional id, InitProducerId is the transaction coordinator's; so are
            // the admin reads ListTransactions and DescribeTransactions.
            ApiKey::InitProducerId
            | ApiKey::AddPartitionsToTxn
            | ApiKey::AddOffsetsToTxn
            | ApiKey::EndTxn
            | ApiKey::ListTransactions
            | ApiKey::DescribeTransactions => self.txn_api(key, &request).await,
            // The partitions' side of transactions, for kafka-transactions' find-hanging and
            // abort: any replica's producers, and markers for the partitions led here.
            ApiKey::DescribeProducers => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_producers(body, &request)
                })
                .await
            }
            ApiKey::WriteTxnMarkers => {
                match codec::decode(&request, key, &self.large_decodes).await {
                    Ok((body, _turn)) => self.write_txn_markers(&request, body).await,
                    Err(e) => Pending::Close(e),
                }
            }
            ApiKey::CreatePartitions => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.create_partitions(body, &request)
                })
                .await
            }
            ApiKey::ElectLeaders => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.elect_leaders(body, version, &request)
                })
                .await
            }
            ApiKey::AlterPartitionReassignments => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.alter_partition_reassignments(body, version, &request)
                })
                .await
            }
            ApiKey::ListPartitionReassignments => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.list_partition_reassignments(body, &request)
                })
                .await
            }
            ApiKey::DescribeTopicPartitions => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_topic_partitions(body, &request)
                })
                .await
            }
            ApiKey::DescribeLogDirs => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_log_dirs(body, version, &request)
                })
                .await
            }
            ApiKey::DescribeConfigs => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_configs(body, version, &request)
                })
                .await
            }
            ApiKey::IncrementalAlterConfigs => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.incremental_alter_configs(body, &request)
                })
                .await
            }
            ApiKey::AlterConfigs => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.alter_configs(body, &request)
                })
                .await
            }
            ApiKey::DeleteRecords => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.delete_records(body, &request)
                })
                .await
            }
            ApiKey::DescribeQuorum => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_quorum(body, version, &request)
                })
                .await
            }
            ApiKey::DescribeCluster => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_cluster(body, &request)
                })
                .await
            }
            ApiKey::DescribeUserScramCredentials => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_user_scram_credentials(body, &request)
                })
                .await
            }
            ApiKey::AlterUserScramCredentials => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.alter_user_scram_credentials(body, &request)
                })
                .await
            }
            ApiKey::DescribeClientQuotas => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_client_quotas(body, &request)
                })
                .await
            }
            ApiKey::AlterClientQuotas => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.alter_client_quotas(body, &request)
                })
                .await
            }
            ApiKey::CreateAcls => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.create_acls(body, &request)
                })
                .await
            }
            ApiKey::DescribeAcls => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.describe_acls(body, &request)
                })
                .await
            }
            ApiKey::DeleteAcls => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.delete_acls(body, &request)
                })
                .await
            }
            ApiKey::OffsetForLeaderEpoch => {
                answer(&request, key, &self.large_decodes, |body, _turn| {
                    self.offset_for_leader_epoch(body, &request)
                })
                .await
            }
            ApiKey::FindCoordinator
            | ApiKey::JoinGroup
            | ApiKey::SyncGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::OffsetCommit
            | ApiKey::TxnOffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::DescribeGroups
            | ApiKey::ListGroups
            | ApiKey::DeleteGroups
            | ApiKey::OffsetDelete
            | ApiKey::ConsumerGroupHeartbeat
            | ApiKey::ConsumerGroupDescribe => self.group_api(key, &request).await,
            // Authentication is over (or this listener has none): `before_authentication`
            // answers these on a SASL listener's new connections.
            ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => sasl::illegal_state(&request, key),
            other => Pending::Close(format!("{other:?} is advertised but has no handler")),
        }
    }

    async fn list_topics(&self) -> Result<BTreeMap<String, TopicMeta>, GatewayError> {
        Ok(ask(&self.node, ListTopicsRequest).await?)
    }
}

/// Decodes the body, runs `handle`, encodes its response; an error closes the connection.
/// `handle` gets the decode's turn of `gate` (if it took one): most ignore it, so it is
/// released once the request is decoded; Metadata keeps it while it merges the names.
async fn answer<'g, Req, Resp, F, Fut>(
    request: &KafkaRequest,
    key: ApiKey,
    gate: &'g tokio::sync::Semaphore,
    handle: F,
) -> Pending
where
    Req: Decodable,
    Resp: Encodable,
    F: FnOnce(Req, Option<tokio::sync::SemaphorePermit<'g>>) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, GatewayError>>,
{
    let (body, turn) = match codec::decode(request, key, gate).await {
        Ok(decoded) => decoded,
        Err(e) => return Pending::Close(e),
    };
    match handle(body, turn).await {
        Ok(response) => codec::respond(request, key, &response),
        Err(e) => Pending::Close(e.to_string()),
    }
}

impl<C: ActorClient<NodeMsg>> KafkaService for BrokerService<C> {
    fn dispatch(&self, request: KafkaRequest) -> BoxFuture<'_, Pending> {
        let handling = |request| -> BoxFuture<'_, Pending> { Box::pin(self.answer(request)) };
        match self.request_quota(&request) {
            None => handling(request),
            Some(charge) => charge.timed(handling(request), Arc::clone(&self.clock)),
        }
    }

    fn authenticate<'a>(
        &'a self,
        request: KafkaRequest,
        session: &'a mut sasl::SaslSession,
    ) -> BoxFuture<'a, Pending> {
        Box::pin(self.before_authentication(request, session))
    }

    fn mute_clock(&self) -> Option<Arc<dyn MonoClock>> {
        Some(Arc::clone(&self.clock))
    }
}
