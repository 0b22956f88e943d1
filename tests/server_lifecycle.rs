//! `rill server` stops cleanly on SIGTERM: in-flight answers are written, every partition log
//! is synced and closed with its clean-shutdown marker, the process exits 0, and the data is
//! all there after a restart.
#![cfg(not(madsim))]

mod common;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse, ProduceRequest,
    ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rill::storage::batch::build_batch;

use common::{call, RillServer};

fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str("life"))
}

fn produce(stream: &mut std::net::TcpStream, value: &[u8]) -> i64 {
    let records = build_batch(&[(Some(b"k".as_slice()), value)], 1_700_000_000_000);
    let data = PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(records.into()));
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic())
            .with_partition_data(vec![data])]);
    let response: ProduceResponse = call(stream, ApiKey::Produce, 9, &request);
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 0);
    partition.base_offset
}

fn fetch_all(stream: &mut std::net::TcpStream) -> (i64, usize) {
    let partition = FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(0)
        .with_partition_max_bytes(1 << 20);
    let request = FetchRequest::default()
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic())
            .with_partitions(vec![partition])]);
    let response: FetchResponse = call(stream, ApiKey::Fetch, 12, &request);
    let data = &response.responses[0].partitions[0];
    assert_eq!(data.error_code, 0);
    (
        data.high_watermark,
        data.records.as_ref().map_or(0, |r| r.len()),
    )
}

#[test]
fn sigterm_flushes_closes_and_exits_zero() {
    let mut server = RillServer::start(&["--override", "log.flush.interval.ms=600000"]);
    let mut s = server.connect();
    let created: CreateTopicsResponse = call(
        &mut s,
        ApiKey::CreateTopics,
        7,
        &CreateTopicsRequest::default()
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic())
                .with_num_partitions(1)
                .with_replication_factor(1)])
            .with_timeout_ms(5000),
    );
    assert_eq!(created.topics[0].error_code, 0);
    // With a 10-minute flush interval nothing is synced by the appends themselves: only the
    // clean shutdown makes these durable.
    for (i, value) in [b"one".as_slice(), b"two", b"three"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(produce(&mut s, value), i as i64);
    }
    let (hw_before, bytes_before) = fetch_all(&mut s);
    assert_eq!(hw_before, 3);

    assert_eq!(server.terminate(), Some(0), "clean exit: {}", server.log());
    let log = server.log();
    assert!(log.contains("partition logs flushed and closed"), "{log}");
    let marker = server.data_dir.path().join("life-0").join("clean-shutdown");
    assert!(marker.exists(), "clean-shutdown marker written");

    let again = server.start_again(&[]);
    let mut s = again.connect();
    assert_eq!(
        fetch_all(&mut s),
        (hw_before, bytes_before),
        "everything is back after the restart"
    );
}
