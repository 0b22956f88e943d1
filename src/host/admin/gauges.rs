//! A scrape's gauges of the node's state ([`Snapshot`]), rendered by a Prometheus recorder of
//! their own made for the scrape: a partition or group gone since the last scrape is simply
//! absent (the global exporter would keep its last value for ever).

use std::collections::BTreeMap;

use metrics::gauge;
use metrics_exporter_prometheus::PrometheusBuilder;

use super::collect::Snapshot;
use crate::metrics::*;
use crate::types::TopicPartition;

/// The gauges of `snapshot` in Prometheus' text format. `min_insync_default` is the broker's
/// `min.insync.replicas` (a topic's own override wins).
pub fn render(snapshot: &Snapshot, min_insync_default: u32) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || record(snapshot, min_insync_default));
    recorder.handle().render()
}

fn record(snapshot: &Snapshot, min_insync_default: u32) {
    let me = snapshot.me;
    // The logs held here.
    let mut high_watermarks: BTreeMap<&TopicPartition, i64> = BTreeMap::new();
    for log in &snapshot.logs {
        let labels = partition_labels(&log.tp);
        gauge!(LOG_SIZE, &labels).set(log.size_bytes as f64);
        gauge!(LOG_SEGMENTS, &labels).set(log.segments as f64);
        gauge!(LOG_START_OFFSET, &labels).set(log.log_start_offset as f64);
        gauge!(LOG_END_OFFSET, &labels).set(log.log_end_offset as f64);
        high_watermarks.insert(&log.tp, log.high_watermark);
    }
    gauge!(PARTITION_COUNT).set(snapshot.logs.len() as f64);
    // What the metadata says this node leads, and how well replicated it is.
    let (mut leading, mut under_replicated, mut under_min_isr) = (0, 0, 0);
    let mut offline = 0;
    for (topic, meta) in &snapshot.topics {
        let min_insync = (meta.configs.get("min.insync.replicas"))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(min_insync_default as usize);
        for (index, partition) in meta.assignment.iter().enumerate() {
            if partition.leader.is_none() {
                offline += 1;
            }
            if partition.leader != Some(me) {
                continue;
            }
            leading += 1;
            let under = partition.isr.len() < partition.replicas.len();
            under_replicated += usize::from(under);
            under_min_isr += usize::from(partition.isr.len() < min_insync);
            let tp = TopicPartition {
                topic: topic.clone(),
                partition: index as i32,
            };
            gauge!(PARTITION_UNDER_REPLICATED, &partition_labels(&tp)).set(f64::from(under));
        }
    }
    let broker = snapshot.lifecycle.is_some();
    if broker {
        gauge!(LEADER_COUNT).set(leading as f64);
        gauge!(UNDER_REPLICATED).set(under_replicated as f64);
        gauge!(UNDER_MIN_ISR).set(under_min_isr as f64);
    }
    // The metadata quorum.
    if let Some(quorum) = &snapshot.quorum {
        let active = quorum.leader == Some(me);
        gauge!(ACTIVE_CONTROLLER).set(f64::from(active));
        // Kafka reports offline partitions at the active controller only.
        gauge!(OFFLINE_PARTITIONS).set(if active { offline as f64 } else { 0.0 });
        gauge!(RAFT_LEADER).set(quorum.leader.map_or(-1.0, |n| n.0 as f64));
        gauge!(RAFT_EPOCH).set(quorum.term as f64);
        gauge!(RAFT_HIGH_WATERMARK).set(quorum.commit_index as f64);
        gauge!(RAFT_LOG_END_OFFSET).set(quorum.last_index as f64);
        gauge!(METADATA_APPLIED).set(quorum.applied_index as f64);
        let lag = quorum.commit_index.saturating_sub(quorum.applied_index);
        gauge!(METADATA_LAG).set(lag as f64);
        for (replica, index) in quorum.followers.iter().chain(&quorum.observers) {
            let behind = quorum.last_index.saturating_sub(*index);
            gauge!(RAFT_FOLLOWER_LAG, "replica" => replica.0.to_string()).set(behind as f64);
        }
    }
    // The groups coordinated here: lag against the high watermark of the replicas held here.
    for group in &snapshot.groups {
        let name = group.group.clone();
        gauge!(GROUP_MEMBERS, "consumergroup" => name.clone()).set(group.members as f64);
        if !group.state.is_empty() {
            let state = group.state.clone();
            gauge!(GROUP_STATE, "consumergroup" => name.clone(), "state" => state).set(1.0);
        }
        for (tp, &committed) in &group.committed {
            let labels = group_labels(&name, tp);
            gauge!(GROUP_CURRENT_OFFSET, &labels).set(committed as f64);
            if let Some(&high_watermark) = high_watermarks.get(tp) {
                let lag = (high_watermark - committed).max(0);
                gauge!(GROUP_LAG, &labels).set(lag as f64);
            }
        }
    }
}

fn partition_labels(tp: &TopicPartition) -> [(&'static str, String); 2] {
    [
        ("topic", tp.topic.clone()),
        ("partition", tp.partition.to_string()),
    ]
}

fn group_labels(group: &str, tp: &TopicPartition) -> [(&'static str, String); 3] {
    [
        ("consumergroup", group.to_string()),
        ("topic", tp.topic.clone()),
        ("partition", tp.partition.to_string()),
    ]
}
