//! Routing by Kafka Metadata, as real clients do: a partition's reads and writes go to its
//! leader, which any broker names (Metadata v12), and a client asks again once the leader
//! refuses (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION: it drops the connection and
//! routes afresh). Brokers place partitions over every live broker, so the bootstrap broker
//! alone does not serve them all.

use std::net::SocketAddr;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::client::Connection;

/// The Kafka address a broker entry (Metadata, FindCoordinator) advertises, if it parses.
pub fn broker_addr(host: &str, port: i32) -> Option<SocketAddr> {
    format!("{host}:{port}").parse().ok()
}

/// The leader of `topic`'s `partition` as the first broker that knows one says: the bootstrap
/// first, then the others in order. A broker that cannot be reached, or answers without a
/// leader (it just restarted and its metadata is behind), passes the question on. `None` when
/// none names a leader (the partition is offline, or the topic unknown).
pub async fn leader(w: &Workload, topic: &str, partition: i32) -> Option<SocketAddr> {
    ask(w, topic, partition).await.map(|(leader, _, _)| leader)
}

/// The leader as [`leader`] finds it, with the broker that named it and the connection asked
/// on.
async fn ask(
    w: &Workload,
    topic: &str,
    partition: i32,
) -> Option<(SocketAddr, SocketAddr, Connection)> {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]))
        .with_allow_auto_topic_creation(false);
    let others = (w.brokers.iter().copied()).filter(|addr| *addr != w.broker);
    for asked in std::iter::once(w.broker).chain(others) {
        let Ok(mut conn) = Connection::connect(asked, CALL_TIMEOUT).await else {
            continue;
        };
        let Ok(metadata) = conn
            .call::<_, MetadataResponse>(ApiKey::Metadata, 12, &request, CALL_TIMEOUT)
            .await
        else {
            continue;
        };
        if let Some(leader) = leader_in(&metadata, topic, partition) {
            return Some((leader, asked, conn));
        }
    }
    None
}

/// A partition as the first broker that names its leader lists it: (leader, replicas, ISR).
pub async fn partition_state(
    w: &Workload,
    topic: &str,
    partition: i32,
) -> Option<(u64, Vec<u64>, Vec<u64>)> {
    let (_, _, mut conn) = ask(w, topic, partition).await?;
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]))
        .with_allow_auto_topic_creation(false);
    let metadata = conn
        .call::<_, MetadataResponse>(ApiKey::Metadata, 12, &request, CALL_TIMEOUT)
        .await
        .ok()?;
    let t = (metadata.topics.iter())
        .find(|t| t.error_code == 0 && t.name.as_ref().is_some_and(|n| n.as_str() == topic))?;
    let p = (t.partitions.iter()).find(|p| p.partition_index == partition)?;
    let ids = |ids: &[kafka_protocol::messages::BrokerId]| -> Vec<u64> {
        ids.iter()
            .filter_map(|id| u64::try_from(id.0).ok())
            .collect()
    };
    let leader = u64::try_from(p.leader_id.0).ok()?;
    Some((leader, ids(&p.replica_nodes), ids(&p.isr_nodes)))
}

/// The address of the partition's leader in one Metadata answer.
fn leader_in(metadata: &MetadataResponse, topic: &str, partition: i32) -> Option<SocketAddr> {
    let t = (metadata.topics.iter())
        .find(|t| t.error_code == 0 && t.name.as_ref().is_some_and(|n| n.as_str() == topic))?;
    // The leader id alone decides: an offline partition names -1 (LEADER_NOT_AVAILABLE), and
    // one missing a follower may name its leader with an error (REPLICA_NOT_AVAILABLE).
    let p = (t.partitions.iter()).find(|p| p.partition_index == partition)?;
    if p.leader_id.0 < 0 {
        return None;
    }
    let broker = (metadata.brokers.iter()).find(|b| b.node_id == p.leader_id)?;
    broker_addr(&broker.host, broker.port)
}

/// One attempt to connect to the partition's leader: `None` when no broker names one or it
/// cannot be reached. A broker that names itself keeps the connection it was asked on, as a
/// client keeps one connection per broker.
pub async fn try_connect_leader(w: &Workload, topic: &str, partition: i32) -> Option<Connection> {
    let (leader, asked, conn) = ask(w, topic, partition).await?;
    if leader == asked {
        return Some(conn);
    }
    drop(conn);
    Connection::connect(leader, CALL_TIMEOUT).await.ok()
}

impl Workload {
    /// A connection to the partition's leader, asked again (after [`RETRY_BACKOFF`]) until one
    /// is named and reachable.
    pub async fn connect_leader(&self, topic: &str, partition: i32) -> Connection {
        loop {
            if let Some(conn) = try_connect_leader(self, topic, partition).await {
                return conn;
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }
}
