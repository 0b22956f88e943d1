//! The web console's data: `/api/cluster.json` (the cluster as this node's metadata has it:
//! brokers with their admin endpoints, the controller quorum as its leader sees it, every
//! topic's partitions) and `/api/node.json` (what only this node knows: the replicas it holds,
//! the groups it coordinates). The page (`console.html`) reads the first from the node it was
//! loaded from and the second from every node, and joins them: a partition's offsets are its
//! leader's, a group's lag is its committed offsets against those.

use serde_json::{json, Value};

use super::collect::Snapshot;
use crate::messages::quorum::{QuorumState, ADMIN_LISTENER};

/// The admin addresses `brokers` registered, as the origins of their console pages
/// (`http://host:port`).
pub fn admin_origins(brokers: &[crate::messages::quorum::RegisteredBroker]) -> Vec<String> {
    (brokers.iter().flat_map(|b| b.listeners.iter()))
        .filter(|l| l.name == ADMIN_LISTENER)
        .map(|l| format!("http://{}:{}", l.host, l.port))
        .collect()
}

/// The cluster: `leader_view` is the quorum as its leader describes it (followers' progress).
pub fn cluster(snapshot: &Snapshot, leader_view: Option<&QuorumState>) -> Value {
    let quorum = snapshot.quorum.as_ref();
    let brokers: Vec<Value> = (quorum.iter().flat_map(|q| q.brokers.iter()))
        .map(|broker| {
            let kafka = (broker.listeners.first())
                .filter(|l| !l.name.starts_with("RILL_"))
                .map(|l| format!("{}:{}", l.host, l.port));
            let admin = admin_origins(std::slice::from_ref(broker)).pop();
            json!({
                "id": broker.node_id.0,
                "epoch": broker.epoch.0,
                "fenced": broker.fenced,
                "rack": broker.rack,
                "kafka": kafka,
                "admin": admin,
            })
        })
        .collect();
    let replicas = |view: &QuorumState, list: &[(crate::types::NodeId, u64)]| -> Vec<Value> {
        (list.iter())
            .map(|(node, index)| {
                json!({ "id": node.0, "index": index, "lag": view.last_index.saturating_sub(*index) })
            })
            .collect()
    };
    let quorum_json = match (quorum, leader_view) {
        (None, _) => Value::Null,
        (Some(mine), view) => json!({
            "leader": mine.leader.map(|n| n.0),
            "epoch": mine.term,
            "commit_index": mine.commit_index,
            "applied_index": mine.applied_index,
            "last_index": view.map_or(mine.last_index, |v| v.last_index),
            "voters": view.map(|v| replicas(v, &v.followers)).unwrap_or_default(),
            "observers": view.map(|v| replicas(v, &v.observers)).unwrap_or_default(),
        }),
    };
    let topics: Vec<Value> = (snapshot.topics.iter())
        .map(|(name, meta)| {
            let partitions: Vec<Value> = (meta.assignment.iter().enumerate())
                .map(|(index, p)| {
                    json!({
                        "partition": index,
                        "leader": p.leader.map(|n| n.0),
                        "leader_epoch": p.leader_epoch.0,
                        "replicas": p.replicas.iter().map(|n| n.0).collect::<Vec<_>>(),
                        "isr": p.isr.iter().map(|n| n.0).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "name": name,
                "internal": name.starts_with("__"),
                "replication_factor": meta.replication_factor,
                "configs": meta.configs,
                "partitions": partitions,
            })
        })
        .collect();
    let cluster_id =
        (quorum.and_then(|q| q.cluster_id)).map(|id| crate::types::cluster_id_text(&id));
    json!({
        "node_id": snapshot.me.0,
        "cluster_id": cluster_id,
        "quorum": quorum_json,
        "brokers": brokers,
        "topics": topics,
    })
}

/// What only this node knows: the replicas it holds and the groups it coordinates.
pub fn node(snapshot: &Snapshot) -> Value {
    let logs: Vec<Value> = (snapshot.logs.iter())
        .map(|log| {
            json!({
                "topic": log.tp.topic,
                "partition": log.tp.partition,
                "leader": log.leader,
                "size_bytes": log.size_bytes,
                "segments": log.segments,
                "log_start_offset": log.log_start_offset,
                "log_end_offset": log.log_end_offset,
                "high_watermark": log.high_watermark,
            })
        })
        .collect();
    let groups: Vec<Value> = (snapshot.groups.iter())
        .map(|group| {
            let committed: Vec<Value> = (group.committed.iter())
                .map(|(tp, offset)| {
                    json!({ "topic": tp.topic, "partition": tp.partition, "offset": offset })
                })
                .collect();
            json!({
                "group": group.group,
                "state": group.state,
                "members": group.members,
                "committed": committed,
            })
        })
        .collect();
    json!({ "node_id": snapshot.me.0, "logs": logs, "groups": groups })
}
