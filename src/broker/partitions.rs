//! Keeping the PARTITIONS actor's set of logs equal to the topic registry, and InitProducerId.

use std::collections::BTreeSet;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::controller::topic_config;
use crate::messages;
use crate::messages::call::{ask, Call};
use crate::messages::{
    DeletePartitionRequest, Done, EnsureRequest, NodeMsg, OfflineRequest, ShutdownRequest,
    TopicMeta,
};
use crate::types::{self, ErrorCode, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// Opens (or creates) every partition log of `topic`. Idempotent: run at start-up for every
    /// registered topic, and after every creation or partition increase.
    pub async fn ensure_partitions(
        &self,
        topic: &str,
        meta: &TopicMeta,
    ) -> Result<(), GatewayError> {
        let (config, skipped) = topic_config::resolve_stored(&self.settings.log, &meta.configs);
        for error in skipped {
            tracing::warn!(topic, %error, "stored topic config no longer valid; using the default");
        }
        // Every partition is asked for, even after one fails: the failed ones stay offline in
        // the actor (KAFKA_STORAGE_ERROR, retried) and the others serve.
        let mut first_error = None;
        for partition in 0..meta.partitions {
            let tp = TopicPartition {
                topic: topic.to_string(),
                partition,
            };
            let ensure = EnsureRequest {
                tp,
                config: config.clone(),
            };
            if let Err(error) = self.partitions_done(ensure).await {
                first_error.get_or_insert(format!("partition {partition}: {error}"));
            }
        }
        first_error.map_or(Ok(()), |e| Err(GatewayError::Close(e)))
    }

    pub(super) async fn delete_partitions(
        &self,
        topic: &str,
        partitions: i32,
    ) -> Result<(), GatewayError> {
        for partition in 0..partitions {
            let tp = TopicPartition {
                topic: topic.to_string(),
                partition,
            };
            self.partitions_done(DeletePartitionRequest { tp }).await?;
        }
        Ok(())
    }

    /// Clean shutdown of every partition log (sync, snapshot, close).
    pub async fn close_partitions(&self) -> Result<(), GatewayError> {
        self.partitions_done(ShutdownRequest).await
    }

    /// The offline partitions of `topics` (every topic when `None`): the partitions actor's view,
    /// which the registry does not have. One request however many topics are asked for.
    pub(super) async fn offline_partitions(
        &self,
        topics: Option<Vec<String>>,
    ) -> Result<BTreeSet<TopicPartition>, GatewayError> {
        let offline = ask(&self.node, OfflineRequest { topics }).await?;
        Ok(offline.into_iter().collect())
    }

    /// Asks a request answered with [`Done`], turning a Kafka error code into an error.
    async fn partitions_done<R: Call<Reply = Done>>(&self, request: R) -> Result<(), GatewayError> {
        match ask(&self.node, request).await?.into_result() {
            Ok(()) => Ok(()),
            // Deleting a partition that was never opened is fine.
            Err(refusal) if refusal.code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => Ok(()),
            Err(refusal) => Err(GatewayError::Close(format!(
                "partition request failed with error {}: {}",
                refusal.code, refusal.message
            ))),
        }
    }

    pub(super) async fn init_producer_id(
        &self,
        body: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, GatewayError> {
        let init = messages::InitProducerIdRequest {
            transactional_id: body.transactional_id.map(|t| t.0.to_string()),
            producer_id: types::ProducerId(body.producer_id.0),
            producer_epoch: body.producer_epoch,
        };
        let granted = ask(&self.node, init).await?;
        Ok(InitProducerIdResponse::default()
            .with_error_code(granted.error_code.wire())
            .with_producer_id(ProducerId(granted.producer_id.0))
            .with_producer_epoch(granted.producer_epoch))
    }
}
