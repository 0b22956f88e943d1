//! The admin APIs against a real `rill server` process: DescribeConfigs, IncrementalAlterConfigs
//! and AlterConfigs (topic configs persisted across `kill -9` and pushed to the partition logs),
//! DeleteRecords (log start offset moves; reads below it are out of range), CreatePartitions
//! (the new partitions take writes and show in Metadata). Each API at its min and max version.
#![cfg(not(madsim))]

mod common;

use std::net::TcpStream;

use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use common::{call, RillServer};

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn create_topic(s: &mut TcpStream, topic: &str, partitions: i32) {
    let (code, message) = create_topic_with(s, topic, partitions, &[]);
    assert_eq!(code, 0, "{message}");
}

/// CreateTopics v7 of one topic with config overrides; returns (error code, message).
fn create_topic_with(
    s: &mut TcpStream,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> (i16, String) {
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(text(k))
                            .with_value(Some(text(v)))
                    })
                    .collect(),
            )])
        .with_timeout_ms(5000);
    let response: CreateTopicsResponse = call(s, ApiKey::CreateTopics, 7, &request);
    let topic = &response.topics[0];
    (
        topic.error_code,
        topic
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

fn describe(
    s: &mut TcpStream,
    version: i16,
    kind: i8,
    resource: &str,
    keys: Option<&[&str]>,
    extras: bool,
) -> DescribeConfigsResult {
    let request = DescribeConfigsRequest::default()
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(text(resource))
            .with_configuration_keys(
                keys.map(|ks| ks.iter().map(|k| text(k)).collect()),
            )])
        .with_include_synonyms(extras)
        .with_include_documentation(extras && version >= 3);
    let mut response: DescribeConfigsResponse = call(s, ApiKey::DescribeConfigs, version, &request);
    assert_eq!(response.results.len(), 1);
    response.results.remove(0)
}

/// (value, config_source) of one key of a topic.
fn topic_config(s: &mut TcpStream, topic: &str, key: &str) -> (String, i8) {
    let result = describe(s, 4, TOPIC, topic, Some(&[key]), false);
    assert_eq!(result.error_code, 0, "{result:?}");
    let entry = &result.configs[0];
    (
        entry.value.as_ref().unwrap().to_string(),
        entry.config_source,
    )
}

/// IncrementalAlterConfigs of one topic; returns (error code, message).
fn alter(
    s: &mut TcpStream,
    version: i16,
    kind: i8,
    resource: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, String) {
    let configs = ops
        .iter()
        .map(|(k, op, v)| {
            AlterableConfig::default()
                .with_name(text(k))
                .with_config_operation(*op)
                .with_value(v.map(text))
        })
        .collect();
    let request = IncrementalAlterConfigsRequest::default()
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(text(resource))
            .with_configs(configs)])
        .with_validate_only(validate_only);
    let response: IncrementalAlterConfigsResponse =
        call(s, ApiKey::IncrementalAlterConfigs, version, &request);
    let r = &response.responses[0];
    assert_eq!(r.resource_name.as_str(), resource);
    (
        r.error_code,
        r.error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

fn produce(s: &mut TcpStream, topic: &str, partition: i32, values: &[&[u8]]) -> (i16, i64) {
    let records: Vec<(Option<&[u8]>, &[u8])> = values.iter().map(|v| (None, *v)).collect();
    let batch = rill::storage::batch::build_batch(&records, 1_700_000_000_000);
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch.into()))])]);
    let response: ProduceResponse = call(s, ApiKey::Produce, 9, &request);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn earliest_offset(s: &mut TcpStream, topic: &str, partition: i32) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(-2)])]);
    let response: ListOffsetsResponse = call(s, ApiKey::ListOffsets, 7, &request);
    let p = &response.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// Fetch v12 from `offset`: (error code, log start offset).
fn fetch(s: &mut TcpStream, topic: &str, offset: i64) -> (i16, i64) {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(1 << 20)])]);
    let response: FetchResponse = call(s, ApiKey::Fetch, 12, &request);
    let p = &response.responses[0].partitions[0];
    (p.error_code, p.log_start_offset)
}

fn delete_records(
    s: &mut TcpStream,
    version: i16,
    topic: &str,
    offsets: &[(i32, i64)],
) -> Vec<(i32, i16, i64)> {
    let partitions = offsets
        .iter()
        .map(|(p, o)| {
            DeleteRecordsPartition::default()
                .with_partition_index(*p)
                .with_offset(*o)
        })
        .collect();
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name(topic))
            .with_partitions(partitions)]);
    let response: DeleteRecordsResponse = call(s, ApiKey::DeleteRecords, version, &request);
    assert_eq!(response.topics.len(), 1);
    assert_eq!(response.topics[0].name.0.as_str(), topic);
    response.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.low_watermark))
        .collect()
}

fn segment_files(server: &RillServer, topic: &str) -> usize {
    std::fs::read_dir(server.data_dir.path().join(format!("{topic}-0")))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".log")
        })
        .count()
}

#[test]
fn topic_configs_are_described_altered_validated_and_survive_kill_9() {
    let flags = ["--override", "log.segment.bytes=2097152"];
    let server = RillServer::start(&flags);
    let mut s = server.connect();
    create_topic(&mut s, "cfg", 2);

    // Before any override: the built-in default and the server's static setting.
    assert_eq!(
        topic_config(&mut s, "cfg", "retention.ms"),
        ("604800000".into(), 5),
        "DEFAULT_CONFIG"
    );
    assert_eq!(
        topic_config(&mut s, "cfg", "segment.bytes"),
        ("2097152".into(), 4),
        "STATIC_BROKER_CONFIG"
    );
    // The whole set at the min and max versions; documentation and synonyms only when asked.
    let v1 = describe(&mut s, 1, TOPIC, "cfg", None, false);
    assert_eq!(
        v1.configs.len(),
        35,
        "every topic config of Kafka 4's LogConfig"
    );
    assert!(v1
        .configs
        .iter()
        .all(|c| !c.read_only && !c.is_sensitive && c.synonyms.is_empty()));
    let v4 = describe(&mut s, 4, TOPIC, "cfg", None, true);
    let segment = v4
        .configs
        .iter()
        .find(|c| c.name.as_str() == "segment.bytes")
        .unwrap();
    assert_eq!(segment.config_type, 3, "INT");
    assert!(segment.documentation.is_some());
    let synonyms: Vec<(&str, i8)> = segment
        .synonyms
        .iter()
        .map(|y| (y.name.as_str(), y.source))
        .collect();
    assert_eq!(
        synonyms,
        [("log.segment.bytes", 4), ("log.segment.bytes", 5)]
    );

    // Alter at v0 (min) and v1 (max); validate_only changes nothing.
    let ops = [
        ("retention.ms", SET, Some("3600000")),
        ("segment.bytes", SET, Some("1048576")),
    ];
    assert_eq!(alter(&mut s, 0, TOPIC, "cfg", &ops, false).0, 0);
    assert_eq!(
        alter(
            &mut s,
            1,
            TOPIC,
            "cfg",
            &[("segment.ms", SET, Some("60000"))],
            true
        )
        .0,
        0
    );
    assert_eq!(
        topic_config(&mut s, "cfg", "segment.ms"),
        ("604800000".into(), 5)
    );

    // Refusals change nothing.
    let (code, message) = alter(
        &mut s,
        1,
        TOPIC,
        "cfg",
        &[("retention.ms", SET, Some("soon"))],
        false,
    );
    assert_eq!(code, 40, "INVALID_CONFIG");
    assert!(message.contains("retention.ms"), "{message}");
    let (code, message) = alter(
        &mut s,
        1,
        TOPIC,
        "cfg",
        &[
            ("segment.ms", SET, Some("5")),
            ("segment.bytes", SET, Some("-3")),
        ],
        false,
    );
    assert_eq!(code, 40);
    assert!(message.contains("segment.bytes"), "{message}");
    assert_eq!(
        alter(
            &mut s,
            1,
            TOPIC,
            "cfg",
            &[("no.such.key", SET, Some("1"))],
            false
        )
        .0,
        40
    );
    assert_eq!(
        alter(
            &mut s,
            1,
            TOPIC,
            "cfg",
            &[("retention.ms", APPEND, Some("1"))],
            false
        )
        .0,
        42
    );
    assert_eq!(
        alter(
            &mut s,
            1,
            TOPIC,
            "nope",
            &[("retention.ms", SET, Some("1"))],
            false
        )
        .0,
        3
    );
    let (code, message) = alter(
        &mut s,
        1,
        BROKER,
        "1",
        &[("log.retention.ms", SET, Some("1"))],
        false,
    );
    // Only the replication throttle rates are dynamic: a static key is INVALID_CONFIG, as
    // Kafka's "Cannot update these configs dynamically".
    assert_eq!(code, 40);
    assert!(message.contains("static"), "{message}");
    assert_eq!(
        topic_config(&mut s, "cfg", "segment.ms"),
        ("604800000".into(), 5)
    );

    let result = describe(
        &mut s,
        2,
        TOPIC,
        "cfg",
        Some(&["retention.ms", "segment.bytes"]),
        false,
    );
    let shown: Vec<(&str, Option<&str>, i8)> = result
        .configs
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.value.as_ref().map(|v| v.as_str()),
                c.config_source,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("retention.ms", Some("3600000"), 1),
            ("segment.bytes", Some("1048576"), 1)
        ],
        "DYNAMIC_TOPIC_CONFIG"
    );
    assert_eq!(
        describe(&mut s, 4, TOPIC, "nope", None, false).error_code,
        3
    );

    let broker = describe(&mut s, 4, BROKER, "1", None, false);
    assert_eq!(broker.error_code, 0);
    // Static settings are read-only; the replication throttle rates are dynamic (unset:
    // Kafka's unlimited default), and so is the cluster-wide min.insync.replicas, which the
    // controller wrote into the metadata log from its static value (1).
    let min_isr = (broker.configs.iter())
        .find(|c| c.name.as_str() == "min.insync.replicas")
        .expect("min.insync.replicas described");
    assert_eq!(
        (
            min_isr.value.as_ref().map(|v| v.to_string()).as_deref(),
            min_isr.config_source,
            min_isr.read_only
        ),
        (Some("1"), 3, false),
        "DYNAMIC_DEFAULT_BROKER_CONFIG"
    );
    let dynamic = [
        "min.insync.replicas",
        "leader.replication.throttled.rate",
        "follower.replication.throttled.rate",
        "replica.alter.log.dirs.io.max.bytes.per.second",
    ];
    for c in &broker.configs {
        let is_dynamic = dynamic.contains(&c.name.as_str());
        assert_eq!(c.read_only, !is_dynamic, "{}", c.name.as_str());
        if is_dynamic && c.name.as_str() != "min.insync.replicas" {
            let value = c.value.as_ref().map(|v| v.to_string());
            assert_eq!(
                (value.as_deref(), c.config_source),
                (Some("9223372036854775807"), 5)
            );
        }
    }
    let setting = |key: &str| {
        let c = broker
            .configs
            .iter()
            .find(|c| c.name.as_str() == key)
            .expect(key);
        (c.value.as_ref().unwrap().to_string(), c.config_source)
    };
    assert_eq!(setting("log.segment.bytes"), ("2097152".into(), 4));
    assert_eq!(setting("num.partitions"), ("1".into(), 5));
    assert_eq!(setting("message.max.bytes").1, 5);
    assert_eq!(describe(&mut s, 1, BROKER, "7", None, false).error_code, 42);

    let server = server.restart(&flags);
    let mut s = server.connect();
    assert_eq!(
        topic_config(&mut s, "cfg", "retention.ms"),
        ("3600000".into(), 1)
    );
    assert_eq!(
        topic_config(&mut s, "cfg", "segment.bytes"),
        ("1048576".into(), 1)
    );

    // DELETE returns a key to the broker's value.
    assert_eq!(
        alter(
            &mut s,
            1,
            TOPIC,
            "cfg",
            &[("retention.ms", DELETE, None)],
            false
        )
        .0,
        0
    );
    assert_eq!(
        topic_config(&mut s, "cfg", "retention.ms"),
        ("604800000".into(), 5)
    );

    // The legacy AlterConfigs (v0 and v2) replaces the whole override set.
    for (version, value) in [(0, "60000"), (2, "120000")] {
        let request =
            AlterConfigsRequest::default().with_resources(vec![LegacyResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(text("cfg"))
                .with_configs(vec![LegacyConfig::default()
                    .with_name(text("segment.ms"))
                    .with_value(Some(text(value)))])]);
        let response: AlterConfigsResponse = call(&mut s, ApiKey::AlterConfigs, version, &request);
        assert_eq!(response.responses[0].error_code, 0, "v{version}");
        assert_eq!(topic_config(&mut s, "cfg", "segment.ms"), (value.into(), 1));
        assert_eq!(
            topic_config(&mut s, "cfg", "segment.bytes"),
            ("2097152".into(), 4)
        );
    }
}

/// (value, source, [(synonym name, source)]) of one key, described at v4 with synonyms.
fn described(s: &mut TcpStream, topic: &str, key: &str) -> (String, i8, Vec<(String, i8)>) {
    let result = describe(s, 4, TOPIC, topic, Some(&[key]), true);
    assert_eq!(result.error_code, 0, "{result:?}");
    let entry = &result.configs[0];
    assert_eq!(entry.name.as_str(), key);
    (
        entry.value.as_ref().unwrap().to_string(),
        entry.config_source,
        entry
            .synonyms
            .iter()
            .map(|y| (y.name.to_string(), y.source))
            .collect(),
    )
}

/// The topic configs Kafka accepts that Rill stores without acting on yet (the compaction keys,
/// replication throttles, tiered storage, ...): created with a topic, described with their
/// source and broker synonyms, altered, checked as Kafka checks them, and kept across `kill -9`.
#[test]
fn stored_only_topic_configs_are_described_altered_and_survive_kill_9() {
    let server = RillServer::start(&[]);
    let mut s = server.connect();
    let created = [
        ("delete.retention.ms", "3600000"),
        ("min.compaction.lag.ms", "1000"),
        ("max.compaction.lag.ms", "86400000"),
        ("min.cleanable.dirty.ratio", "0.25"),
        ("preallocate", "true"),
        ("leader.replication.throttled.replicas", "0:1"),
    ];
    assert_eq!(create_topic_with(&mut s, "kept", 1, &created).0, 0);

    let dynamic =
        |key: &str, broker_key: &str| vec![(key.to_string(), 1), (broker_key.to_string(), 5)];
    // Created overrides: DYNAMIC_TOPIC_CONFIG, then the broker synonym at its default.
    assert_eq!(
        described(&mut s, "kept", "delete.retention.ms"),
        (
            "3600000".into(),
            1,
            dynamic("delete.retention.ms", "log.cleaner.delete.retention.ms")
        )
    );
    assert_eq!(
        described(&mut s, "kept", "min.cleanable.dirty.ratio"),
        (
            "0.25".into(),
            1,
            dynamic(
                "min.cleanable.dirty.ratio",
                "log.cleaner.min.cleanable.ratio"
            )
        )
    );
    assert_eq!(
        topic_config(&mut s, "kept", "min.compaction.lag.ms"),
        ("1000".into(), 1)
    );
    assert_eq!(
        topic_config(&mut s, "kept", "max.compaction.lag.ms"),
        ("86400000".into(), 1)
    );
    // No broker setting stands behind the throttle lists: the override is the only synonym.
    assert_eq!(
        described(&mut s, "kept", "leader.replication.throttled.replicas"),
        (
            "0:1".into(),
            1,
            vec![("leader.replication.throttled.replicas".into(), 1)]
        )
    );
    // Keys left alone: Kafka's default, DEFAULT_CONFIG.
    assert_eq!(
        described(&mut s, "kept", "segment.jitter.ms"),
        ("0".into(), 5, vec![("log.roll.jitter.ms".into(), 5)])
    );
    assert_eq!(
        described(&mut s, "kept", "remote.storage.enable"),
        ("false".into(), 5, vec![])
    );

    // Values are checked as Kafka checks them; nothing is created on a refusal.
    for (configs, named) in [
        (&[("delete.retention.ms", "-1")][..], "delete.retention.ms"),
        (
            &[("min.cleanable.dirty.ratio", "1.5")][..],
            "min.cleanable.dirty.ratio",
        ),
        (
            &[("max.compaction.lag.ms", "0")][..],
            "max.compaction.lag.ms",
        ),
        (&[("preallocate", "yes")][..], "preallocate"),
        (&[("remote.storage.enable", "true")][..], "Tiered Storage"),
        (
            &[
                ("min.compaction.lag.ms", "2000"),
                ("max.compaction.lag.ms", "1000"),
            ][..],
            "conflict topic config setting",
        ),
        // Still refused: Rill does not recompress.
        (
            &[("delete.retention.ms", "900"), ("compression.type", "lz4")][..],
            "does not recompress",
        ),
        (&[("cleanup.policy", "shred")][..], "not a cleanup policy"),
        (
            &[("message.downconversion.enable", "true")][..],
            "unknown topic config",
        ),
    ] {
        let (code, message) = create_topic_with(&mut s, "refused", 1, configs);
        assert_eq!(code, 40, "INVALID_CONFIG for {configs:?}");
        assert!(message.contains(named), "{configs:?}: {message}");
    }
    assert_eq!(
        describe(&mut s, 4, TOPIC, "refused", None, false).error_code,
        3
    );

    // Altered like any other key.
    let ops = [
        ("delete.retention.ms", SET, Some("7200000")),
        ("preallocate", DELETE, None),
        (
            "follower.replication.throttled.replicas",
            APPEND,
            Some("0:1"),
        ),
        ("compression.zstd.level", SET, Some("-5")),
    ];
    assert_eq!(alter(&mut s, 1, TOPIC, "kept", &ops, false).0, 0);
    let (code, message) = alter(
        &mut s,
        1,
        TOPIC,
        "kept",
        &[("max.compaction.lag.ms", SET, Some("500"))],
        false,
    );
    assert_eq!(code, 40, "min.compaction.lag.ms 1000 > 500");
    assert!(message.contains("conflict"), "{message}");
    let altered = |s: &mut TcpStream| {
        assert_eq!(
            topic_config(s, "kept", "delete.retention.ms"),
            ("7200000".into(), 1)
        );
        assert_eq!(topic_config(s, "kept", "preallocate"), ("false".into(), 5));
        assert_eq!(
            topic_config(s, "kept", "follower.replication.throttled.replicas"),
            ("0:1".into(), 1)
        );
        assert_eq!(
            topic_config(s, "kept", "compression.zstd.level"),
            ("-5".into(), 1)
        );
        assert_eq!(
            topic_config(s, "kept", "max.compaction.lag.ms"),
            ("86400000".into(), 1)
        );
    };
    altered(&mut s);

    let server = server.restart(&[]);
    let mut s = server.connect();
    altered(&mut s);
    assert_eq!(
        described(&mut s, "kept", "min.cleanable.dirty.ratio").0,
        "0.25",
        "created overrides survive kill -9"
    );
}

#[test]
fn delete_records_moves_the_log_start_offset() {
    // Tiny segments so deleting records also deletes whole segments. A client may not ask
    // for smaller ones than 1 MiB (Kafka 4's minimum) or the operator's own smaller default.
    let server = RillServer::start(&["--override", "log.segment.bytes=1024"]);
    let mut s = server.connect();
    create_topic(&mut s, "dr", 1);
    let (code, message) = alter(
        &mut s,
        1,
        TOPIC,
        "dr",
        &[("segment.bytes", SET, Some("1023"))],
        false,
    );
    assert_eq!(
        code, 40,
        "INVALID_CONFIG below the broker's default: {message:?}"
    );
    assert!(message.contains("segment.bytes"), "{message}");
    let value = [b'x'; 300];
    for i in 0..10 {
        assert_eq!(produce(&mut s, "dr", 0, &[&value, &value]), (0, i * 2));
    }
    let segments_before = segment_files(&server, "dr");
    assert!(
        segments_before >= 5,
        "segment.bytes=1024 rolled the log: {segments_before}"
    );

    assert_eq!(delete_records(&mut s, 0, "dr", &[(0, 4)]), [(0, 0, 4)]);
    assert_eq!(earliest_offset(&mut s, "dr", 0), 4);
    assert_eq!(
        fetch(&mut s, "dr", 2).0,
        1,
        "OFFSET_OUT_OF_RANGE below the log start"
    );
    assert_eq!(fetch(&mut s, "dr", 4), (0, 4));

    // -1 = up to the high watermark; an offset past the end and an unknown partition fail.
    assert_eq!(
        delete_records(&mut s, 2, "dr", &[(0, -1), (3, 1)]),
        [(0, 0, 20), (3, 3, -1)]
    );
    assert_eq!(delete_records(&mut s, 2, "dr", &[(0, 99)])[0].1, 1);
    assert_eq!(delete_records(&mut s, 1, "nope", &[(0, 1)])[0].1, 3);
    assert_eq!(earliest_offset(&mut s, "dr", 0), 20);
    assert!(segment_files(&server, "dr") < segments_before);

    let server = server.restart(&[]);
    let mut s = server.connect();
    assert_eq!(earliest_offset(&mut s, "dr", 0), 20, "survived kill -9");
    assert_eq!(produce(&mut s, "dr", 0, &[b"after"]), (0, 20));
}

/// A topic to grow: name, new partition count, replica assignments of the new partitions.
type Growth<'a> = (&'a str, i32, Option<Vec<Vec<i32>>>);

fn grow(
    s: &mut TcpStream,
    version: i16,
    topics: &[Growth],
    validate_only: bool,
) -> Vec<(i16, Option<String>)> {
    let topics = topics
        .iter()
        .map(|(t, count, assignments)| {
            CreatePartitionsTopic::default()
                .with_name(name(t))
                .with_count(*count)
                .with_assignments(assignments.as_ref().map(|a| {
                    a.iter()
                        .map(|ids| {
                            CreatePartitionsAssignment::default()
                                .with_broker_ids(ids.iter().map(|b| BrokerId(*b)).collect())
                        })
                        .collect()
                }))
        })
        .collect();
    let request = CreatePartitionsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(5000)
        .with_validate_only(validate_only);
    let response: CreatePartitionsResponse = call(s, ApiKey::CreatePartitions, version, &request);
    response
        .results
        .iter()
        .map(|r| {
            (
                r.error_code,
                r.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect()
}

fn partition_count(s: &mut TcpStream, topic: &str) -> usize {
    let request = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(name(topic))),
    ]));
    let response: MetadataResponse = call(s, ApiKey::Metadata, 12, &request);
    assert_eq!(response.topics[0].error_code, 0);
    response.topics[0].partitions.len()
}

#[test]
fn create_partitions_grows_a_topic_that_then_takes_writes() {
    let server = RillServer::start(&[]);
    let mut s = server.connect();
    create_topic(&mut s, "grow", 1);

    assert_eq!(grow(&mut s, 0, &[("grow", 3, None)], true), [(0, None)]);
    assert_eq!(
        partition_count(&mut s, "grow"),
        1,
        "validate_only changes nothing"
    );

    assert_eq!(grow(&mut s, 3, &[("grow", 3, None)], false), [(0, None)]);
    assert_eq!(partition_count(&mut s, "grow"), 3);
    assert_eq!(produce(&mut s, "grow", 2, &[b"new"]), (0, 0));

    let refused = grow(&mut s, 3, &[("grow", 2, None), ("nope", 4, None)], false);
    assert_eq!((refused[0].0, refused[1].0), (37, 3));
    assert!(
        refused[0].1.as_ref().unwrap().contains("3 partitions"),
        "{refused:?}"
    );
    assert!(refused[1].1.as_ref().unwrap().contains("nope"));
    let assignments = Some(vec![vec![2]]);
    assert_eq!(grow(&mut s, 1, &[("grow", 4, assignments)], false)[0].0, 39);
    let twice = grow(&mut s, 2, &[("grow", 5, None), ("grow", 5, None)], false);
    assert_eq!((twice[0].0, twice[1].0), (42, 42));
    assert_eq!(
        grow(&mut s, 2, &[("grow", 4, Some(vec![vec![1]]))], false)[0].0,
        0
    );
    assert_eq!(partition_count(&mut s, "grow"), 4);

    let server = server.restart(&[]);
    let mut s = server.connect();
    assert_eq!(partition_count(&mut s, "grow"), 4, "survived kill -9");
    assert_eq!(produce(&mut s, "grow", 2, &[b"again"]), (0, 1));
    assert_eq!(produce(&mut s, "grow", 3, &[b"last"]), (0, 0));
}
