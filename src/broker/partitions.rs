//! What the gateway asks the PARTITIONS actor besides records: which logs are offline, and
//! InitProducerId without a transactional id (an idempotent producer's id; with one, the
//! request is the transaction coordinator's, `txn.rs`).

use std::collections::BTreeSet;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages;
use crate::messages::call::ask;
use crate::messages::{NodeMsg, OfflineRequest};
use crate::types::{self, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// The offline partitions of `topics` (every topic when `None`): the partitions actor's view,
    /// which the registry does not have. One request however many topics are asked for.
    pub(super) async fn offline_partitions(
        &self,
        topics: Option<Vec<String>>,
    ) -> Result<BTreeSet<TopicPartition>, GatewayError> {
        let offline = ask(&self.node, OfflineRequest { topics }).await?;
        Ok(offline.into_iter().collect())
    }

    /// An idempotent producer's id (`body` names no transactional id: `txn.rs` routes the
    /// others to the transaction coordinator).
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
