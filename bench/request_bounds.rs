//! What the request bounds walk costs next to the `kafka-protocol` decode it protects:
//! `cargo run --release --bin rill-bounds-bench`.
//!
//! For a few representative requests (a Produce carrying one 16 KiB batch, a Fetch of 100
//! partitions, a Metadata naming 20 topics, a CreateTopics of 10 topics with configs) it times,
//! over many iterations, the walk alone, the crate's decode alone, and both (what the broker
//! runs), and prints ns per request and the walk's share.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rill::protocol::{bounds, request};

const ITERATIONS: u32 = 200_000;

fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(name("bench")));
    let mut out = bytes::BytesMut::new();
    header
        .encode(&mut out, key.request_header_version(version))
        .unwrap();
    body.encode(&mut out, version).unwrap();
    out.freeze()
}

fn cases() -> Vec<(&'static str, ApiKey, i16, Bytes)> {
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(name("bench-topic")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(vec![7u8; 16 * 1024])))])]);
    let fetch = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(name("bench-topic")))
            .with_partitions(
                (0..100)
                    .map(|p| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(1_000)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )]);
    let metadata = MetadataRequest::default().with_topics(Some(
        (0..20)
            .map(|i| {
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(name(&format!("topic-{i}")))))
            })
            .collect(),
    ));
    let create = CreateTopicsRequest::default().with_topics(
        (0..10)
            .map(|i| {
                CreatableTopic::default()
                    .with_name(TopicName(name(&format!("topic-{i}"))))
                    .with_num_partitions(3)
                    .with_replication_factor(1)
                    .with_configs(vec![
                        CreatableTopicConfig::default()
                            .with_name(name("retention.ms"))
                            .with_value(Some(name("86400000"))),
                        CreatableTopicConfig::default()
                            .with_name(name("segment.bytes"))
                            .with_value(Some(name("104857600"))),
                    ])
            })
            .collect(),
    );
    vec![
        (
            "Produce v9, one 16 KiB batch",
            ApiKey::Produce,
            9,
            frame(ApiKey::Produce, 9, &produce),
        ),
        (
            "Produce v7, one 16 KiB batch",
            ApiKey::Produce,
            7,
            frame(ApiKey::Produce, 7, &produce),
        ),
        (
            "Fetch v12, 100 partitions",
            ApiKey::Fetch,
            12,
            frame(ApiKey::Fetch, 12, &fetch),
        ),
        (
            "Fetch v11, 100 partitions",
            ApiKey::Fetch,
            11,
            frame(ApiKey::Fetch, 11, &fetch),
        ),
        (
            "Metadata v12, 20 topics",
            ApiKey::Metadata,
            12,
            frame(ApiKey::Metadata, 12, &metadata),
        ),
        (
            "CreateTopics v7, 10 topics",
            ApiKey::CreateTopics,
            7,
            frame(ApiKey::CreateTopics, 7, &create),
        ),
    ]
}

fn ns_per(iterations: u32, f: impl Fn()) -> f64 {
    for _ in 0..iterations / 10 {
        f(); // warm-up
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn main() {
    println!("| request | bytes | walk ns | crate decode ns | walk + decode ns | walk share |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, key, version, frame) in cases() {
        let header_version = key.request_header_version(version);
        let walk = ns_per(ITERATIONS, || {
            bounds::check_request(black_box(&frame), key, version, header_version).unwrap();
        });
        let decode = ns_per(ITERATIONS, || {
            let mut buf = frame.clone();
            RequestHeader::decode(&mut buf, header_version).unwrap();
            black_box(request::crate_decode_unchecked(key, version, &buf).unwrap());
        });
        let both = ns_per(ITERATIONS, || {
            black_box(request::decode_any(black_box(&frame)).unwrap());
        });
        println!(
            "| {label} | {} | {walk:.0} | {decode:.0} | {both:.0} | {:.0} % |",
            frame.len(),
            100.0 * walk / both
        );
    }
}
