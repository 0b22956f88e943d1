//! WriteTxnMarkers (27) v1: transaction markers a client asks this broker to write to the
//! partitions it leads. Kafka's coordinators send it to the partitions' leaders (Rill's own
//! coordinator uses the inter-node `WriteMarkers` call instead, `txn::actor`); an admin sends
//! it to abort a hanging transaction (kafka-transactions `abort`, `rill transactions abort`,
//! KIP-664), with the producer id and epoch and the coordinator epoch DescribeProducers showed.
//!
//! Each marker's partitions go to the partitions actor as one `WriteMarkers` call, the call the
//! coordinator makes: a partition this broker does not lead answers NOT_LEADER_OR_FOLLOWER,
//! one nobody knows UNKNOWN_TOPIC_OR_PARTITION, and a marker is checked as Kafka's
//! `appendEndTxnMarker` checks it (an older producer epoch is INVALID_PRODUCER_EPOCH, an older
//! coordinator epoch TRANSACTION_COORDINATOR_FENCED), appended as the leader, and answered once
//! acknowledged as an acks=-1 write. A marker on a `__consumer_offsets` partition completes
//! the producer's pending offset commits there, as the coordinator's does.
//!
//! Kafka lets only the cluster itself send it: with an authorizer, the principal needs
//! CLUSTER_ACTION on the cluster (an admin aborting a hanging transaction is given it, or is
//! a super user), else every partition is answered CLUSTER_AUTHORIZATION_FAILED.
//!
//! A partition listed twice within one marker is written once; a request may name at most
//! [`REQUEST_PARTITIONS_MAX`] marker partitions in all, each one an append on the node's one
//! partitions actor, as a Produce's partitions are.

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    self as kafka, ApiKey, TopicName, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::service::{KafkaRequest, Pending};
use super::{codec, per_partition, BrokerService};
use crate::actor::client::ActorClient;
use crate::limits::REQUEST_PARTITIONS_MAX;
use crate::messages::call::submit;
use crate::messages::{MarkerWrite, NodeMsg, ProducePartitionResult, WriteMarkersRequest};
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, ProducerId, TopicPartition};

/// How long the markers' appends may wait to be acknowledged: Kafka's `request.timeout.ms`
/// default (30 s), which its WriteTxnMarkers handler gives the append; past it a partition
/// answers REQUEST_TIMED_OUT (its marker stays written).
const MARKERS_TIMEOUT_MS: i32 = 30_000;

/// One marker of the request, its partitions deduplicated, in the order listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MarkerAsk {
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
    pub partitions: Vec<TopicPartition>,
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn write_txn_markers(
        &self,
        request: &KafkaRequest,
        body: WriteTxnMarkersRequest,
    ) -> Pending {
        let key = ApiKey::WriteTxnMarkers;
        let markers = match marker_asks(&body) {
            Ok(markers) => markers,
            Err(e) => return Pending::Close(format!("WriteTxnMarkers: {e}")),
        };
        drop(body);
        // Kafka's check: CLUSTER_ACTION on the cluster (markers are the cluster's own
        // writes), else every partition is refused.
        if !(self.access(request, "WriteTxnMarkers")).allows_cluster(AclOperation::ClusterAction) {
            let refused = (markers.iter())
                .flat_map(|m| m.partitions.iter().cloned())
                .map(|tp| {
                    let code = ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
                    (tp, ProducePartitionResult::refused(code, None))
                })
                .collect();
            return codec::respond(request, key, &markers_response(&markers, refused));
        }
        let writes = marker_writes(&markers);
        if writes.is_empty() {
            return codec::respond(request, key, &markers_response(&markers, Vec::new()));
        }
        let call = WriteMarkersRequest {
            markers: writes,
            timeout_ms: MARKERS_TIMEOUT_MS,
        };
        // Submitted now, so this connection's requests reach the partitions actor in order.
        let reply = match submit(&self.node, call).await {
            Ok(reply) => reply,
            Err(e) => return Pending::Close(format!("WriteTxnMarkers: {e}")),
        };
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            let results = reply.await.map_err(|e| e.to_string())?;
            let response = markers_response(&markers, results);
            codec::encode(prefix, key, &response).map(|bytes| Some(bytes.into()))
        }))
    }
}

/// The request's markers, each with its partitions listed once; more than
/// [`REQUEST_PARTITIONS_MAX`] marker partitions in all is refused.
pub(super) fn marker_asks(body: &WriteTxnMarkersRequest) -> Result<Vec<MarkerAsk>, String> {
    let mut total = 0usize;
    let mut asks = Vec::new();
    for marker in &body.markers {
        let listed = (marker.topics.iter()).flat_map(|t| {
            (t.partition_indexes.iter()).map(move |&partition| (t.name.0.as_str(), partition, ()))
        });
        let partitions: Vec<TopicPartition> = (per_partition::merge(listed)?.into_iter())
            .map(|(tp, ())| tp)
            .collect();
        total += partitions.len();
        if total > REQUEST_PARTITIONS_MAX {
            return Err(format!(
                "the request lists more than {REQUEST_PARTITIONS_MAX} marker partitions"
            ));
        }
        asks.push(MarkerAsk {
            producer_id: ProducerId(marker.producer_id.0),
            producer_epoch: marker.producer_epoch,
            coordinator_epoch: marker.coordinator_epoch,
            commit: marker.transaction_result,
            partitions,
        });
    }
    Ok(asks)
}

/// One write per marker partition, in the markers' order.
fn marker_writes(markers: &[MarkerAsk]) -> Vec<MarkerWrite> {
    (markers.iter())
        .flat_map(|m| {
            (m.partitions.iter()).map(move |tp| MarkerWrite {
                tp: tp.clone(),
                producer_id: m.producer_id,
                producer_epoch: m.producer_epoch,
                coordinator_epoch: m.coordinator_epoch,
                commit: m.commit,
            })
        })
        .collect()
}

/// The response: per marker, its partitions' codes by topic, taken in order from `results`
/// (one per marker partition, as the partitions actor answers a `WriteMarkers`). A partition
/// the answer lacks — which the actor never does — is UNKNOWN_SERVER_ERROR.
pub(super) fn markers_response(
    markers: &[MarkerAsk],
    results: Vec<(TopicPartition, ProducePartitionResult)>,
) -> WriteTxnMarkersResponse {
    let mut results = results.into_iter();
    let answered = (markers.iter())
        .map(|marker| {
            let partitions = (marker.partitions.iter()).map(|tp| {
                let code = match results.next() {
                    Some((answered, result)) if answered == *tp => result.error_code,
                    other => {
                        tracing::error!(?tp, ?other, "WriteTxnMarkers: an answer out of order");
                        ErrorCode::UNKNOWN_SERVER_ERROR
                    }
                };
                let partition = WritableTxnMarkerPartitionResult::default()
                    .with_partition_index(tp.partition)
                    .with_error_code(code.wire());
                (tp.clone(), partition)
            });
            let topics = (per_partition::group_by_topic(partitions).into_iter())
                .map(|(name, partitions)| {
                    WritableTxnMarkerTopicResult::default()
                        .with_name(TopicName(StrBytes::from_string(name)))
                        .with_partitions(partitions)
                })
                .collect();
            WritableTxnMarkerResult::default()
                .with_producer_id(kafka::ProducerId(marker.producer_id.0))
                .with_topics(topics)
        })
        .collect();
    WriteTxnMarkersResponse::default().with_markers(answered)
}
