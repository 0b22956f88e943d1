//! The controller quorum's observer: while the run lasts it asks every voter, one after the
//! other, for the quorum (DescribeQuorum v2, which a follower forwards to its leader) and for
//! the cluster id its Metadata reports, and records each answer (`Event::QuorumSeen`) for
//! `checker::quorum`. An answer that fails or names no leader records nothing: only what the
//! cluster claims is checked.
//!
//! It also asks each node for the brokers it knows (DescribeCluster v2, fenced ones included:
//! `Event::BrokersSeen`), during the faults and for [`AFTER_HEALING`] after them, when every
//! broker must be registered and unfenced again; and, after healing, for every topic with its
//! partitions' leaders and leader epochs (Metadata: `Event::TopicsSeen`), which every broker
//! must list alike, and no epoch may name two leaders.
//!
//! [`producer_ids`] asks every node at once for a fresh producer id (InitProducerId, no
//! transactional id), round after round, and records each answer (`Event::Identity`): the
//! brokers take their blocks from the quorum at the same moment, so a leader that hands two of
//! them the same block shows as one id given twice.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest,
    DescribeQuorumResponse, InitProducerIdRequest, InitProducerIdResponse, MetadataRequest,
    MetadataResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::{Workload, CALL_TIMEOUT};
use crate::client::Connection;
use crate::history::Event;

/// The pause between two rounds of questions.
const ROUND_PAUSE: Duration = Duration::from_millis(200);

/// How long after healing the brokers are observed (`checker::quorum` wants them all
/// unfenced from [`crate::checker::BROKERS_SETTLE_MS`] after healing on).
pub const AFTER_HEALING: Duration = Duration::from_secs(14);

/// Asks every voter in turn until `until` (the quorum, the brokers and the topics), then, once
/// the run healed, the brokers and topics only for [`AFTER_HEALING`].
pub async fn observer(w: Workload, voters: Vec<(u64, SocketAddr)>, until: Instant) {
    let nodes: Vec<u64> = voters.iter().map(|v| v.0).collect();
    while Instant::now() < until {
        for &(asked, addr) in &voters {
            if let Some(seen) = observe(asked, addr).await {
                w.record(seen);
            }
            if let Some(seen) = brokers(asked, addr, &nodes).await {
                w.record(seen);
            }
            // During the faults too: leaders change then, and each epoch must name one.
            if let Some(seen) = topics(asked, addr).await {
                w.record(seen);
            }
        }
        tokio::time::sleep(ROUND_PAUSE).await;
    }
    while !w.history.healed() {
        tokio::time::sleep(ROUND_PAUSE).await;
    }
    let healed = Instant::now();
    while Instant::now() < healed + AFTER_HEALING {
        for &(asked, addr) in &voters {
            if let Some(seen) = brokers(asked, addr, &nodes).await {
                w.record(seen);
            }
            if let Some(seen) = topics(asked, addr).await {
                w.record(seen);
            }
        }
        tokio::time::sleep(ROUND_PAUSE).await;
    }
}

/// The `producer` number the prober's identities are recorded under: this plus the node
/// asked (the workload's own producers count from 0).
pub const PROBE_PRODUCER_BASE: u32 = 1_000_000;

/// How often the prober asks every node for a producer id.
const PROBE_PAUSE: Duration = Duration::from_millis(500);

/// Until `until`, asks every voter at once for a producer id, and records the ids given.
pub async fn producer_ids(w: Workload, voters: Vec<(u64, SocketAddr)>, until: Instant) {
    while Instant::now() < until {
        let asks: Vec<_> = (voters.iter())
            .map(|&(asked, addr)| tokio::spawn(init_producer_id(asked, addr)))
            .collect();
        for ask in asks {
            if let Ok(Some((asked, producer_id, epoch))) = ask.await {
                w.record(Event::Identity {
                    producer: PROBE_PRODUCER_BASE + asked as u32,
                    producer_id,
                    epoch,
                });
            }
        }
        tokio::time::sleep(PROBE_PAUSE).await;
    }
}

/// A fresh producer id from `addr`, if it gives one at the first try.
async fn init_producer_id(asked: u64, addr: SocketAddr) -> Option<(u64, i64, i16)> {
    let mut conn = Connection::connect(addr, CALL_TIMEOUT).await.ok()?;
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = conn
        .call(ApiKey::InitProducerId, 4, &request, CALL_TIMEOUT)
        .await
        .ok()?;
    (r.error_code == 0).then_some((asked, r.producer_id.0, r.producer_epoch))
}

async fn brokers(asked: u64, addr: SocketAddr, nodes: &[u64]) -> Option<Event> {
    let mut conn = Connection::connect(addr, CALL_TIMEOUT).await.ok()?;
    let request = DescribeClusterRequest::default()
        .with_endpoint_type(1)
        .with_include_fenced_brokers(true);
    let described: DescribeClusterResponse = conn
        .call(ApiKey::DescribeCluster, 2, &request, CALL_TIMEOUT)
        .await
        .ok()?;
    if described.error_code != 0 {
        return None;
    }
    Some(Event::BrokersSeen {
        asked,
        brokers: (described.brokers.iter())
            .map(|b| (b.broker_id.0, b.is_fenced))
            .collect(),
        nodes: nodes.to_vec(),
    })
}

/// Every topic `addr` lists, with its partitions' leaders in partition order.
async fn topics(asked: u64, addr: SocketAddr) -> Option<Event> {
    let mut conn = Connection::connect(addr, CALL_TIMEOUT).await.ok()?;
    let request = MetadataRequest::default()
        .with_topics(None)
        .with_allow_auto_topic_creation(false);
    let metadata: MetadataResponse = conn
        .call(ApiKey::Metadata, 12, &request, CALL_TIMEOUT)
        .await
        .ok()?;
    let mut topics: Vec<(String, Vec<i32>)> = (metadata.topics.iter())
        .map(|t| {
            let mut partitions: Vec<(i32, i32)> = (t.partitions.iter())
                .map(|p| (p.partition_index, p.leader_id.0))
                .collect();
            partitions.sort_unstable();
            let name = t.name.as_ref().map_or_else(String::new, |n| n.to_string());
            (
                name,
                partitions.into_iter().map(|(_, leader)| leader).collect(),
            )
        })
        .collect();
    topics.sort();
    let mut epochs: Vec<(String, i32, i32, i32, String)> = (metadata.topics.iter())
        .flat_map(|t| {
            let id = t.topic_id.to_string();
            let name = t.name.as_ref().map_or_else(String::new, |n| n.to_string());
            (t.partitions.iter()).map(move |p| {
                let leader = p.leader_id.0;
                (
                    id.clone(),
                    p.partition_index,
                    p.leader_epoch,
                    leader,
                    name.clone(),
                )
            })
        })
        .collect();
    epochs.sort();
    Some(Event::TopicsSeen {
        asked,
        topics,
        epochs,
    })
}

async fn observe(asked: u64, addr: SocketAddr) -> Option<Event> {
    let mut conn = Connection::connect(addr, CALL_TIMEOUT).await.ok()?;
    let metadata = MetadataRequest::default().with_topics(Some(Vec::new()));
    let metadata: MetadataResponse = conn
        .call(ApiKey::Metadata, 12, &metadata, CALL_TIMEOUT)
        .await
        .ok()?;
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let described: DescribeQuorumResponse = conn
        .call(ApiKey::DescribeQuorum, 2, &request, CALL_TIMEOUT)
        .await
        .ok()?;
    let partition = described.topics.first()?.partitions.first()?;
    if described.error_code != 0 || partition.error_code != 0 || partition.leader_id.0 < 0 {
        return None;
    }
    let leader_log_end = (partition.current_voters.iter())
        .find(|v| v.replica_id == partition.leader_id)?
        .log_end_offset;
    Some(Event::QuorumSeen {
        asked,
        leader: partition.leader_id.0,
        epoch: partition.leader_epoch,
        high_watermark: partition.high_watermark,
        leader_log_end,
        cluster_id: metadata.cluster_id?.to_string(),
    })
}
