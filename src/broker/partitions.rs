//! Keeping the PARTITIONS actor's set of logs equal to the topic registry, and InitProducerId.

use std::collections::BTreeSet;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::BrokerService;
use crate::controller::topic_config;
use crate::messages::{NodeMsg, PartitionsReply, PartitionsRequest, TopicMeta, PARTITIONS};
use crate::types::{self, ErrorCode, TopicPartition};

impl BrokerService {
    /// Opens (or creates) every partition log of `topic`. Idempotent: run at start-up for every
    /// registered topic, and after every creation or partition increase.
    pub async fn ensure_partitions(&self, topic: &str, meta: &TopicMeta) -> Result<(), String> {
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
            let ask = PartitionsRequest::Ensure {
                tp,
                config: config.clone(),
            };
            if let Err(error) = self.partitions_done(ask).await {
                first_error.get_or_insert(format!("partition {partition}: {error}"));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub(super) async fn delete_partitions(
        &self,
        topic: &str,
        partitions: i32,
    ) -> Result<(), String> {
        for partition in 0..partitions {
            let tp = TopicPartition {
                topic: topic.to_string(),
                partition,
            };
            self.partitions_done(PartitionsRequest::Delete { tp })
                .await?;
        }
        Ok(())
    }

    /// Clean shutdown of every partition log (sync, snapshot, close).
    pub async fn close_partitions(&self) -> Result<(), String> {
        self.partitions_done(PartitionsRequest::Shutdown).await
    }

    /// The offline partitions of `topics` (every topic when `None`): the partitions actor's view,
    /// which the registry does not have. One request however many topics are asked for.
    pub(super) async fn offline_partitions(
        &self,
        topics: Option<Vec<String>>,
    ) -> Result<BTreeSet<TopicPartition>, String> {
        let ask = PartitionsRequest::Offline { topics };
        match self
            .node
            .request(PARTITIONS, NodeMsg::Partitions(ask))
            .await
        {
            Ok(NodeMsg::PartitionsReply(PartitionsReply::Offline(offline))) => {
                Ok(offline.into_iter().collect())
            }
            other => Err(format!("unexpected offline partitions reply {other:?}")),
        }
    }

    /// Sends a request answered with `Done`, turning a Kafka error code into an error.
    async fn partitions_done(&self, ask: PartitionsRequest) -> Result<(), String> {
        match self
            .node
            .request(PARTITIONS, NodeMsg::Partitions(ask))
            .await
        {
            Ok(NodeMsg::PartitionsReply(PartitionsReply::Done {
                error_code: ErrorCode::NONE,
                ..
            })) => Ok(()),
            // Deleting a partition that was never opened is fine.
            Ok(NodeMsg::PartitionsReply(PartitionsReply::Done {
                error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ..
            })) => Ok(()),
            Ok(NodeMsg::PartitionsReply(PartitionsReply::Done {
                error_code,
                message,
            })) => Err(format!(
                "partition request failed with error {error_code}: {}",
                message.unwrap_or_default()
            )),
            other => Err(format!("unexpected partitions reply {other:?}")),
        }
    }

    pub(super) async fn init_producer_id(
        &self,
        body: InitProducerIdRequest,
    ) -> Result<InitProducerIdResponse, String> {
        let ask = PartitionsRequest::InitProducerId {
            transactional_id: body.transactional_id.map(|t| t.0.to_string()),
            producer_id: types::ProducerId(body.producer_id.0),
            producer_epoch: body.producer_epoch,
        };
        match self
            .node
            .request(PARTITIONS, NodeMsg::Partitions(ask))
            .await
        {
            Ok(NodeMsg::PartitionsReply(PartitionsReply::InitProducerId {
                error_code,
                producer_id,
                producer_epoch,
            })) => Ok(InitProducerIdResponse::default()
                .with_error_code(error_code.wire())
                .with_producer_id(ProducerId(producer_id.0))
                .with_producer_epoch(producer_epoch)),
            other => Err(format!("unexpected init producer id reply {other:?}")),
        }
    }
}
