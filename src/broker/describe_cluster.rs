//! DescribeCluster (API 60): the cluster's id, its "controller" (this broker, KRaft's rule) and its brokers, from the
//! metadata this node's voter applied (Kafka's admin clients ask it for `describeCluster`).
//! Any node answers, from its own copy: a broker shows once its registration is committed and
//! it is unfenced (v2 asks for fenced ones too, flagged).
//!
//! Each broker is listed with its endpoint on the listener the request came in on (as Metadata
//! names it); a broker without that listener is left out, as in Kafka.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;

use super::authorize::OPERATIONS_NOT_ASKED;
use super::describe_quorum::broker_id;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::{DescribeRequest, QuorumReply, RegisteredBroker};
use crate::messages::NodeMsg;
use crate::types::ErrorCode;

/// DescribeCluster's `endpoint_type` for brokers (2 asks for controllers).
const BROKERS: i8 = 1;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_cluster(
        &self,
        request: DescribeClusterRequest,
        frame: &KafkaRequest,
    ) -> Result<DescribeClusterResponse, GatewayError> {
        let listener = frame.context.listener.as_str();
        let cluster_id = StrBytes::from_string(self.settings.cluster_id.clone());
        // Answered to anyone, as in Kafka; the principal's operations on the cluster only
        // when asked.
        let operations = match request.include_cluster_authorized_operations {
            true => self.access(frame, "DescribeCluster").cluster_operations(),
            false => OPERATIONS_NOT_ASKED,
        };
        let response = DescribeClusterResponse::default()
            .with_cluster_id(cluster_id)
            .with_endpoint_type(request.endpoint_type)
            .with_controller_id(BrokerId(-1))
            .with_cluster_authorized_operations(operations);
        if request.endpoint_type != BROKERS {
            // Controllers are reached on the inter-node protocol, not by Kafka clients.
            return Ok(response
                .with_error_code(ErrorCode::UNSUPPORTED_ENDPOINT_TYPE.wire())
                .with_error_message(Some(StrBytes::from_static_str(
                    "only brokers (endpoint type 1) are described",
                ))));
        }
        let state = match ask(&self.node, DescribeRequest).await? {
            QuorumReply::Described(state) => state,
            other => {
                let message = format!("the metadata is not readable here: {other:?}");
                return Ok(response
                    .with_error_code(ErrorCode::UNKNOWN_SERVER_ERROR.wire())
                    .with_error_message(Some(StrBytes::from_string(message))));
            }
        };
        let brokers = (state.brokers.iter())
            .filter(|b| request.include_fenced_brokers || !b.fenced)
            .filter_map(|b| described(b, listener))
            .collect();
        // KRaft's rule (KIP-590), as Metadata: a live broker, which forwards admin requests
        // to the quorum's leader; this one (see `metadata.rs`).
        let controller = BrokerId(self.settings.broker_id());
        Ok(response
            .with_controller_id(controller)
            .with_brokers(brokers))
    }
}

fn described(broker: &RegisteredBroker, listener: &str) -> Option<DescribeClusterBroker> {
    let listener = broker.listeners.iter().find(|l| l.name == listener)?;
    Some(
        DescribeClusterBroker::default()
            .with_broker_id(broker_id(broker.node_id))
            .with_host(StrBytes::from_string(listener.host.clone()))
            .with_port(i32::from(listener.port))
            .with_rack(broker.rack.clone().map(StrBytes::from_string))
            .with_is_fenced(broker.fenced),
    )
}
