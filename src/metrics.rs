//! The broker's metrics: their names, and the few helpers that record them.
//!
//! Names are Kafka's JMX names as the Prometheus JMX exporter's Kafka rules translate them
//! (`kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=t` →
//! `kafka_server_brokertopicmetrics_bytesin_total{topic="t"}`), so a dashboard made for Kafka
//! ports by changing little (docs/metrics.md lists every one with its Kafka source; Rill's own,
//! where Kafka has no equivalent, start with `rill_`).
//!
//! Recording goes through the `metrics` facade and is write-only: nothing in the broker reads
//! a metric back, so counting never changes what a node does. Only `rill server` installs a
//! recorder (the admin endpoint's Prometheus exporter, `crate::host::admin`); without one — the
//! simulator, unit tests — every call here is a no-op. Actor code may count events through
//! these helpers (they touch no clock, socket, file or RNG); durations are measured by the
//! host, which owns the clocks.
//!
//! Labels are `&'static str` where they come from a fixed set (an API's name), so the hot
//! paths allocate nothing to count; topic names are the exception, counted once per produced
//! or fetched partition.

/// Bytes of record batches produced to a topic (Kafka's `BytesInPerSec`).
pub const BYTES_IN: &str = "kafka_server_brokertopicmetrics_bytesin_total";
/// Records produced to a topic (Kafka's `MessagesInPerSec`).
pub const MESSAGES_IN: &str = "kafka_server_brokertopicmetrics_messagesin_total";
/// Bytes of record batches fetched by consumers (Kafka's `BytesOutPerSec`).
pub const BYTES_OUT: &str = "kafka_server_brokertopicmetrics_bytesout_total";
/// Produce requests refused for a partition (Kafka's `FailedProduceRequestsPerSec`).
pub const FAILED_PRODUCE: &str = "kafka_server_brokertopicmetrics_failedproducerequests_total";

/// Requests answered, by API (Kafka's `RequestsPerSec`, `request` label).
pub const REQUESTS: &str = "kafka_network_requestmetrics_requests_total";
/// A request's time from its last byte read to its answer written, in ms, by API (Kafka's
/// `TotalTimeMs`; a histogram here, a summary in the JMX exporter).
pub const REQUEST_TOTAL_TIME_MS: &str = "kafka_network_requestmetrics_totaltimems";
/// The throttle a quota put on an answer, in ms, by API (Kafka's `ThrottleTimeMs`).
pub const REQUEST_THROTTLE_TIME_MS: &str = "kafka_network_requestmetrics_throttletimems";
/// Requests read and not yet answered, over every connection (Kafka's `RequestQueueSize`).
pub const REQUEST_QUEUE_SIZE: &str = "kafka_network_requestchannel_requestqueuesize";
/// Open client connections, by listener (Kafka's `connection-count`).
pub const CONNECTION_COUNT: &str = "kafka_server_socketservermetrics_connection_count";
/// Connections accepted, by listener (Kafka's `connection-creation-total`).
pub const CONNECTIONS_CREATED: &str = "kafka_server_socketservermetrics_connection_creation_total";

/// A log's bytes, segments, first and next offsets (Kafka's `kafka.log:type=Log` gauges).
pub const LOG_SIZE: &str = "kafka_log_log_size";
pub const LOG_SEGMENTS: &str = "kafka_log_log_numlogsegments";
pub const LOG_START_OFFSET: &str = "kafka_log_log_logstartoffset";
pub const LOG_END_OFFSET: &str = "kafka_log_log_logendoffset";
/// The time of one flush job (a log's appends synced, with its index or directory where they
/// changed), in ms (Kafka's `LogFlushRateAndTimeMs`).
pub const LOG_FLUSH_TIME_MS: &str = "kafka_log_logflushstats_logflushrateandtimems";
/// Appends one fsync made durable together (Rill's group commit; Kafka has none).
pub const GROUP_COMMIT_APPENDS: &str = "rill_log_group_commit_appends";

/// Partitions this broker leads / holds (Kafka's `LeaderCount`, `PartitionCount`).
pub const LEADER_COUNT: &str = "kafka_server_replicamanager_leadercount";
pub const PARTITION_COUNT: &str = "kafka_server_replicamanager_partitioncount";
/// Partitions led here with fewer in-sync replicas than replicas (Kafka's
/// `UnderReplicatedPartitions`), and the same per partition (Kafka's `UnderReplicated`).
pub const UNDER_REPLICATED: &str = "kafka_server_replicamanager_underreplicatedpartitions";
pub const PARTITION_UNDER_REPLICATED: &str = "kafka_cluster_partition_underreplicated";
/// Partitions led here whose ISR is below the topic's `min.insync.replicas`.
pub const UNDER_MIN_ISR: &str = "kafka_server_replicamanager_underminisrpartitioncount";
/// ISR changes a leader here asked for (Kafka's `IsrShrinksPerSec`, `IsrExpandsPerSec`).
pub const ISR_SHRINKS: &str = "kafka_server_replicamanager_isrshrinks_total";
pub const ISR_EXPANDS: &str = "kafka_server_replicamanager_isrexpands_total";

/// 1 on the quorum's leader, 0 elsewhere (Kafka's `ActiveControllerCount`).
pub const ACTIVE_CONTROLLER: &str = "kafka_controller_kafkacontroller_activecontrollercount";
/// Partitions without a leader, reported by the quorum's leader (Kafka's
/// `OfflinePartitionsCount`; 0 elsewhere, as Kafka).
pub const OFFLINE_PARTITIONS: &str = "kafka_controller_kafkacontroller_offlinepartitionscount";
/// Partition leaders the quorum's leader elected while it led (Kafka's
/// `LeaderElectionRateAndTimeMs` count).
pub const LEADER_ELECTIONS: &str =
    "kafka_controller_controllerstats_leaderelectionrateandtimems_count";
/// The metadata quorum as this node sees it (Kafka's `raft-metrics`).
pub const RAFT_LEADER: &str = "kafka_server_raft_metrics_current_leader";
pub const RAFT_EPOCH: &str = "kafka_server_raft_metrics_current_epoch";
pub const RAFT_HIGH_WATERMARK: &str = "kafka_server_raft_metrics_high_watermark";
pub const RAFT_LOG_END_OFFSET: &str = "kafka_server_raft_metrics_log_end_offset";
/// The metadata log's entries this node applied (Kafka's `last-applied-record-offset`), and how
/// far that is behind the commit index it knows (Kafka's `broker-metadata-metrics`' lag).
pub const METADATA_APPLIED: &str =
    "kafka_server_broker_metadata_metrics_last_applied_record_offset";
pub const METADATA_LAG: &str = "kafka_server_broker_metadata_metrics_last_applied_record_lag";
/// At the quorum's leader: how many entries each voter or observer is behind its log end.
pub const RAFT_FOLLOWER_LAG: &str = "rill_raft_follower_lag_entries";

/// Consumer groups coordinated here (kafka_exporter's names, which Kafka dashboards use).
pub const GROUP_MEMBERS: &str = "kafka_consumergroup_members";
pub const GROUP_CURRENT_OFFSET: &str = "kafka_consumergroup_current_offset";
pub const GROUP_LAG: &str = "kafka_consumergroup_lag";
/// 1 for the group's state (label `state`), like Kafka's `GroupCountByState`.
pub const GROUP_STATE: &str = "rill_consumergroup_state";

/// Every metric the broker serves (docs/metrics.md documents each; the Grafana dashboard in
/// docs/grafana/ uses only these).
pub const ALL: &[&str] = &[
    BYTES_IN,
    MESSAGES_IN,
    BYTES_OUT,
    FAILED_PRODUCE,
    REQUESTS,
    REQUEST_TOTAL_TIME_MS,
    REQUEST_THROTTLE_TIME_MS,
    REQUEST_QUEUE_SIZE,
    CONNECTION_COUNT,
    CONNECTIONS_CREATED,
    LOG_SIZE,
    LOG_SEGMENTS,
    LOG_START_OFFSET,
    LOG_END_OFFSET,
    LOG_FLUSH_TIME_MS,
    GROUP_COMMIT_APPENDS,
    LEADER_COUNT,
    PARTITION_COUNT,
    UNDER_REPLICATED,
    PARTITION_UNDER_REPLICATED,
    UNDER_MIN_ISR,
    ISR_SHRINKS,
    ISR_EXPANDS,
    ACTIVE_CONTROLLER,
    OFFLINE_PARTITIONS,
    LEADER_ELECTIONS,
    RAFT_LEADER,
    RAFT_EPOCH,
    RAFT_HIGH_WATERMARK,
    RAFT_LOG_END_OFFSET,
    METADATA_APPLIED,
    METADATA_LAG,
    RAFT_FOLLOWER_LAG,
    GROUP_MEMBERS,
    GROUP_CURRENT_OFFSET,
    GROUP_LAG,
    GROUP_STATE,
];

/// Every histogram, with the bucket bounds it is exported with.
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    (REQUEST_TOTAL_TIME_MS, LATENCY_BUCKETS_MS),
    (REQUEST_THROTTLE_TIME_MS, LATENCY_BUCKETS_MS),
    (LOG_FLUSH_TIME_MS, LATENCY_BUCKETS_MS),
    (GROUP_COMMIT_APPENDS, COUNT_BUCKETS),
];

/// From 0.1 ms (an answer from memory) to 30 s (a long fetch wait, a throttle).
const LATENCY_BUCKETS_MS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0,
    5_000.0, 10_000.0, 30_000.0,
];
const COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// Counts `n` of the event `name` with no labels.
pub fn count(name: &'static str, n: u64) {
    metrics::counter!(name).increment(n);
}

/// Records one sample of the histogram `name` with no labels.
pub fn sample(name: &'static str, value: f64) {
    metrics::histogram!(name).record(value);
}

/// Counts an answered request of API `request`: its time since its last byte was read, and
/// the throttle its answer carries (0: none).
pub fn answered(request: &'static str, total_ms: f64, throttle_ms: i32) {
    metrics::counter!(REQUESTS, "request" => request).increment(1);
    metrics::histogram!(REQUEST_TOTAL_TIME_MS, "request" => request).record(total_ms);
    if throttle_ms > 0 {
        metrics::histogram!(REQUEST_THROTTLE_TIME_MS, "request" => request)
            .record(f64::from(throttle_ms));
    }
}

/// A request joins (`+1.0`) or leaves (`-1.0`) the queue of requests read and not answered.
pub fn queued(delta: f64) {
    metrics::gauge!(REQUEST_QUEUE_SIZE).increment(delta);
}

/// Counts a produce of `bytes` in `records` records to `topic`: per topic and broker-wide (the
/// unlabelled series, as Kafka's topic-less `BrokerTopicMetrics`).
pub fn produced(topic: &str, bytes: u64, records: u64) {
    metrics::counter!(BYTES_IN).increment(bytes);
    metrics::counter!(MESSAGES_IN).increment(records);
    metrics::counter!(BYTES_IN, "topic" => topic.to_string()).increment(bytes);
    metrics::counter!(MESSAGES_IN, "topic" => topic.to_string()).increment(records);
}

/// Counts `bytes` of records fetched from `topic` by a consumer.
pub fn fetched(topic: &str, bytes: u64) {
    metrics::counter!(BYTES_OUT).increment(bytes);
    metrics::counter!(BYTES_OUT, "topic" => topic.to_string()).increment(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric names an expression or a document mentions (a histogram's series by its name).
    fn mentioned(text: &str) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let rest = &text[at..];
            let starts = rest.starts_with("kafka_") || rest.starts_with("rill_");
            let boundary =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            if starts && boundary {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                names.insert(rest[..len].to_string());
                at += len;
            } else {
                at += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        names
    }

    /// A series name as the exporter writes it, back to its metric: a histogram's `_bucket`,
    /// `_sum` and `_count`.
    fn metric_of(series: &str) -> &str {
        let histograms: Vec<&str> = HISTOGRAMS.iter().map(|(name, _)| *name).collect();
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(name) = series.strip_suffix(suffix) {
                if histograms.contains(&name) {
                    return name;
                }
            }
        }
        series
    }

    #[test]
    fn every_metric_is_documented_and_the_dashboard_uses_only_served_ones() {
        let doc = include_str!("../docs/metrics.md");
        // Names in code spans (the prose names tools, e.g. kafka_exporter).
        let spans: Vec<&str> = doc.split('`').skip(1).step_by(2).collect();
        let documented = mentioned(&spans.join(" "));
        for name in ALL {
            assert!(
                documented.contains(*name),
                "{name} is not in docs/metrics.md"
            );
        }
        for name in &documented {
            assert!(
                ALL.contains(&metric_of(name)),
                "docs/metrics.md names {name}, not served"
            );
        }
        let dashboard = include_str!("../docs/grafana/rill-dashboard.json");
        let parsed: serde_json::Value = serde_json::from_str(dashboard).expect("valid JSON");
        assert!(parsed["panels"].as_array().is_some_and(|p| p.len() > 20));
        let used = mentioned(dashboard);
        assert!(used.len() > 25, "{used:?}");
        for name in &used {
            assert!(
                ALL.contains(&metric_of(name)),
                "the dashboard uses {name}, not served"
            );
        }
    }

    #[test]
    fn names_follow_prometheus_rules() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ALL {
            assert!(seen.insert(*name), "{name} twice");
            assert!(name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
        for (name, buckets) in HISTOGRAMS {
            assert!(ALL.contains(name));
            assert!(
                buckets.windows(2).all(|w| w[0] < w[1]),
                "{name}'s buckets must rise"
            );
        }
    }
}
