//! The scrape's gauges and the readiness decision, from hand-made snapshots.

use std::collections::BTreeMap;

use super::collect::{GroupSnapshot, Snapshot};
use super::{gauges, health};
use crate::messages::lifecycle::BrokerStatus;
use crate::messages::quorum::{PartitionView, QuorumState};
use crate::messages::{LogDirPartition, TopicMeta};
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId, TopicPartition};

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

fn partition(leader: Option<u64>, replicas: &[u64], isr: &[u64]) -> PartitionView {
    PartitionView {
        replicas: replicas.iter().map(|&n| NodeId(n)).collect(),
        isr: isr.iter().map(|&n| NodeId(n)).collect(),
        leader: leader.map(NodeId),
        leader_epoch: LeaderEpoch(1),
        partition_epoch: 1,
        adding: Vec::new(),
        removing: Vec::new(),
        elr: Vec::new(),
    }
}

fn log(tp: TopicPartition, end: i64, high_watermark: i64, leader: bool) -> LogDirPartition {
    LogDirPartition {
        tp,
        size_bytes: 100 * end as u64,
        offset_lag: 0,
        segments: 2,
        log_start_offset: 0,
        log_end_offset: end,
        high_watermark,
        leader,
    }
}

fn quorum(leader: Option<u64>, commit: u64, applied: u64) -> QuorumState {
    QuorumState {
        node_id: NodeId(1),
        leader: leader.map(NodeId),
        term: 7,
        commit_index: commit,
        applied_index: applied,
        last_index: commit + 2,
        cluster_id: Some([1; 16]),
        followers: vec![(NodeId(2), commit), (NodeId(3), commit - 5)],
        observers: Vec::new(),
        brokers: Vec::new(),
    }
}

/// Node 1 of three: leads t-0 (fully in sync) and t-1 (node 3 out of the ISR); t-2 is led by
/// node 2, t-3 by nobody; min.insync.replicas of t is 3.
fn cluster_snapshot() -> Snapshot {
    let mut snapshot = Snapshot::empty(NodeId(1));
    snapshot.quorum = Some(quorum(Some(1), 40, 40));
    snapshot.lifecycle = Some(BrokerStatus {
        broker_epoch: Some(BrokerEpoch(5)),
        fenced: false,
    });
    let mut configs = BTreeMap::new();
    configs.insert("min.insync.replicas".to_string(), "3".to_string());
    snapshot.topics.insert(
        "t".to_string(),
        TopicMeta {
            id: [9; 16],
            partitions: 4,
            replication_factor: 3,
            configs,
            assignment: vec![
                partition(Some(1), &[1, 2, 3], &[1, 2, 3]),
                partition(Some(1), &[1, 2, 3], &[1, 2]),
                partition(Some(2), &[2, 3, 1], &[2, 3, 1]),
                partition(None, &[3, 1, 2], &[]),
            ],
        },
    );
    snapshot.logs = vec![
        log(tp("t", 0), 10, 10, true),
        log(tp("t", 1), 8, 7, true),
        log(tp("t", 2), 5, 5, false),
    ];
    snapshot.groups = vec![GroupSnapshot {
        group: "g".to_string(),
        state: "Stable".to_string(),
        members: 2,
        committed: [(tp("t", 0), 4), (tp("t", 1), 7), (tp("other", 0), 3)]
            .into_iter()
            .collect(),
    }];
    snapshot
}

/// `name{labels} value` lines of the rendered text, comments dropped.
fn lines(text: &str) -> Vec<String> {
    (text.lines())
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn has(text: &str, line: &str) -> bool {
    lines(text).iter().any(|l| l == line)
}

#[test]
fn the_gauges_describe_the_node_as_kafka_names_it() {
    let text = gauges::render(&cluster_snapshot(), 1);
    for line in [
        "kafka_log_log_logendoffset{topic=\"t\",partition=\"1\"} 8",
        "kafka_log_log_numlogsegments{topic=\"t\",partition=\"0\"} 2",
        "kafka_log_log_size{topic=\"t\",partition=\"2\"} 500",
        "kafka_server_replicamanager_partitioncount 3",
        "kafka_server_replicamanager_leadercount 2",
        "kafka_server_replicamanager_underreplicatedpartitions 1",
        "kafka_cluster_partition_underreplicated{topic=\"t\",partition=\"0\"} 0",
        "kafka_cluster_partition_underreplicated{topic=\"t\",partition=\"1\"} 1",
        // The topic's own min.insync.replicas (3), not the broker's (1).
        "kafka_server_replicamanager_underminisrpartitioncount 1",
        "kafka_controller_kafkacontroller_activecontrollercount 1",
        "kafka_controller_kafkacontroller_offlinepartitionscount 1",
        "kafka_server_raft_metrics_current_leader 1",
        "kafka_server_raft_metrics_current_epoch 7",
        "kafka_server_raft_metrics_high_watermark 40",
        "kafka_server_raft_metrics_log_end_offset 42",
        "kafka_server_broker_metadata_metrics_last_applied_record_lag 0",
        "rill_raft_follower_lag_entries{replica=\"3\"} 7",
        "kafka_consumergroup_members{consumergroup=\"g\"} 2",
        "rill_consumergroup_state{consumergroup=\"g\",state=\"Stable\"} 1",
        // Lag against the high watermark, not the log end.
        "kafka_consumergroup_lag{consumergroup=\"g\",topic=\"t\",partition=\"0\"} 6",
        "kafka_consumergroup_lag{consumergroup=\"g\",topic=\"t\",partition=\"1\"} 0",
        "kafka_consumergroup_current_offset{consumergroup=\"g\",topic=\"other\",partition=\"0\"} 3",
    ] {
        assert!(has(&text, line), "missing {line} in:\n{text}");
    }
    // No replica here, no lag claimed; no ISR gauge for a partition led elsewhere.
    assert!(!text.contains("kafka_consumergroup_lag{consumergroup=\"g\",topic=\"other\""));
    assert!(!text.contains("kafka_cluster_partition_underreplicated{topic=\"t\",partition=\"2\"}"));
}

#[test]
fn a_follower_of_the_quorum_reports_no_offline_partitions_and_its_lag() {
    let mut snapshot = cluster_snapshot();
    snapshot.quorum = Some(quorum(Some(2), 40, 35));
    let text = gauges::render(&snapshot, 1);
    assert!(has(
        &text,
        "kafka_controller_kafkacontroller_activecontrollercount 0"
    ));
    assert!(has(
        &text,
        "kafka_controller_kafkacontroller_offlinepartitionscount 0"
    ));
    assert!(has(
        &text,
        "kafka_server_broker_metadata_metrics_last_applied_record_lag 5"
    ));
}

#[test]
fn a_scrape_renders_only_what_exists_now() {
    let mut snapshot = cluster_snapshot();
    let before = gauges::render(&snapshot, 1);
    assert!(before.contains("topic=\"t\",partition=\"2\""));
    snapshot.logs.truncate(1);
    snapshot.groups.clear();
    let after = gauges::render(&snapshot, 1);
    assert!(!after.contains("partition=\"2\"}"), "{after}");
    assert!(!after.contains("consumergroup"), "{after}");
    assert!(has(&after, "kafka_server_replicamanager_partitioncount 1"));
}

#[test]
fn ready_once_serving_registered_caught_up_and_leading() {
    let snapshot = cluster_snapshot();
    assert_eq!(
        health::not_ready(&snapshot, true, true),
        Vec::<String>::new()
    );
    let reasons = health::not_ready(&snapshot, false, true);
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].contains("not serving"), "{reasons:?}");
}

#[test]
fn not_ready_says_why() {
    let mut snapshot = cluster_snapshot();
    snapshot.quorum = Some(quorum(Some(2), 40, 12));
    snapshot.lifecycle = Some(BrokerStatus {
        broker_epoch: Some(BrokerEpoch(5)),
        fenced: true,
    });
    // t-1 is led here by the metadata but not open as a leader.
    snapshot.logs[1].leader = false;
    let reasons = health::not_ready(&snapshot, true, true);
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("applied 12 of 40"), "{reasons:?}");
    assert!(reasons[1].contains("fenced"), "{reasons:?}");
    assert!(reasons[2].contains("1 partition(s)") && reasons[2].contains("t-1"));
    // A controller-only node needs only the quorum.
    snapshot.quorum = Some(quorum(Some(2), 40, 40));
    assert!(health::not_ready(&snapshot, true, false).is_empty());
    snapshot.quorum = None;
    let reasons = health::not_ready(&snapshot, true, false);
    assert!(reasons[0].contains("does not answer"), "{reasons:?}");
    // Not registered yet.
    let mut snapshot = cluster_snapshot();
    snapshot.lifecycle = Some(BrokerStatus::default());
    let reasons = health::not_ready(&snapshot, true, true);
    assert!(reasons[0].contains("not registered"), "{reasons:?}");
}

#[test]
fn the_console_joins_what_each_node_knows() {
    use crate::messages::quorum::{Listener, RegisteredBroker, ADMIN_LISTENER};
    let mut snapshot = cluster_snapshot();
    let listener = |name: &str, port| Listener {
        name: name.to_string(),
        host: "127.0.0.1".to_string(),
        port,
    };
    if let Some(quorum) = snapshot.quorum.as_mut() {
        quorum.brokers = vec![RegisteredBroker {
            node_id: NodeId(1),
            epoch: BrokerEpoch(5),
            fenced: false,
            listeners: vec![
                listener("PLAINTEXT", 9092),
                listener("RILL_INTER_NODE", 19092),
                listener(ADMIN_LISTENER, 9644),
            ],
            rack: None,
        }];
    }
    let leader_view = quorum(Some(1), 40, 40);
    let cluster = super::console::cluster(&snapshot, Some(&leader_view));
    assert_eq!(cluster["brokers"][0]["kafka"], "127.0.0.1:9092");
    assert_eq!(cluster["brokers"][0]["admin"], "http://127.0.0.1:9644");
    assert_eq!(cluster["quorum"]["leader"], 1);
    assert_eq!(cluster["quorum"]["voters"][1]["lag"], 7);
    let topic = &cluster["topics"][0];
    assert_eq!(topic["name"], "t");
    assert_eq!(topic["partitions"][1]["isr"], serde_json::json!([1, 2]));
    assert_eq!(topic["partitions"][3]["leader"], serde_json::Value::Null);
    let node = super::console::node(&snapshot);
    assert_eq!(node["logs"][1]["high_watermark"], 7);
    assert_eq!(node["groups"][0]["state"], "Stable");
    assert_eq!(
        node["groups"][0]["committed"].as_array().map(Vec::len),
        Some(3)
    );
}
