//! Careless and hostile requests against a real `rill server` (issue 9, items 2, 4, 5 and two
//! Low ones). Each test opens with the probe that broke the broker, sends it, and then checks
//! what every hostile-input test checks: the broker is alive, a bystander's produce and fetch
//! round trip completes within a bound, and a restart on the same data succeeds.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use rill::limits::REQUEST_ENTRIES_MAX;
use rill::storage::batch::build_batch;

use common::{call, create_topic, RillServer};

/// A bystander's produce + fetch must complete within this, attack or not (the attacks took
/// 0.6 s to 20 s before; a healthy debug build answers in milliseconds).
const BYSTANDER_BOUND: Duration = Duration::from_secs(2);

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn batch(value: &[u8]) -> Bytes {
    Bytes::from(build_batch(&[(None, value)], 1_700_000_000_000))
}

fn produce_request(
    topic: &str,
    entries: impl Iterator<Item = (i32, Bytes)>,
    acks: i16,
) -> ProduceRequest {
    let partitions = entries
        .map(|(index, records)| {
            PartitionProduceData::default()
                .with_index(index)
                .with_records(Some(records))
        })
        .collect();
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(partitions)])
}

fn fetch_request(
    topic: &str,
    partitions: impl Iterator<Item = (i32, i64)>,
    max_bytes: i32,
) -> FetchRequest {
    let partitions = partitions
        .map(|(partition, offset)| {
            FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(i32::MAX)
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(partitions)])
}

/// Sends a request without reading its answer.
fn send(stream: &mut TcpStream, key: ApiKey, version: i16, request: &impl Encodable) {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7);
    let mut body = bytes::BytesMut::new();
    header
        .encode(&mut body, key.request_header_version(version))
        .unwrap();
    request.encode(&mut body, version).unwrap();
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).unwrap();
}

fn closed_by_broker(stream: &mut TcpStream) -> bool {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

/// Produces one record to `topic`-0 and fetches it back on a fresh connection; returns how long
/// that took and asserts it is within [`BYSTANDER_BOUND`].
fn bystander_round_trip(server: &RillServer, topic: &str) -> Duration {
    let started = Instant::now();
    let mut stream = server.connect();
    let produced: ProduceResponse = call(
        &mut stream,
        ApiKey::Produce,
        7,
        &produce_request(topic, [(0, batch(b"bystander"))].into_iter(), -1),
    );
    let p = &produced.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    let fetched: FetchResponse = call(
        &mut stream,
        ApiKey::Fetch,
        11,
        &fetch_request(topic, [(0, p.base_offset)].into_iter(), 1 << 20),
    );
    let data = &fetched.responses[0].partitions[0];
    assert_eq!(data.error_code, 0);
    assert!(
        !data.records.as_ref().unwrap().is_empty(),
        "the bystander reads its record"
    );
    let took = started.elapsed();
    assert!(took < BYSTANDER_BOUND, "bystander round trip took {took:?}");
    took
}

/// The closing checks of every test: alive, bystander served, restart on the same data works
/// and still holds `topic`.
fn survives(server: RillServer, topic: &str) {
    bystander_round_trip(&server, topic);
    let server = server.restart(&[]);
    bystander_round_trip(&server, topic);
}

fn high_watermark(server: &RillServer, topic: &str) -> i64 {
    let mut stream = server.connect();
    let listed: ListOffsetsResponse = call(
        &mut stream,
        ApiKey::ListOffsets,
        5,
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1)])]),
    );
    listed.topics[0].partitions[0].offset
}

/// Issue 9 item 2: one partition listed 20 times with max_bytes = 2^31-1 answered every listing
/// with the whole log (a 369-byte request, a 990 MB response). Duplicates are merged and the
/// total is capped by `fetch.max.bytes`, except the first batch, which is whole (KIP-74).
#[test]
fn a_duplicate_fetch_is_answered_once_within_fetch_max_bytes() {
    let server = RillServer::start(&["--override", "fetch.max.bytes=100000"]);
    let mut stream = server.connect();
    create_topic(&mut stream, "big", 1);
    let value = vec![7u8; 30_000];
    for _ in 0..20 {
        let done: ProduceResponse = call(
            &mut stream,
            ApiKey::Produce,
            7,
            &produce_request("big", [(0, batch(&value))].into_iter(), 1),
        );
        assert_eq!(done.responses[0].partition_responses[0].error_code, 0);
    }
    let fetched: FetchResponse = call(
        &mut stream,
        ApiKey::Fetch,
        11,
        &fetch_request("big", (0..20).map(|_| (0, 0)), i32::MAX),
    );
    assert_eq!(fetched.responses.len(), 1);
    let partitions = &fetched.responses[0].partitions;
    assert_eq!(
        partitions.len(),
        1,
        "a partition listed 20 times is answered once"
    );
    let bytes = partitions[0].records.as_ref().unwrap().len();
    assert!(
        bytes <= 100_000,
        "{bytes} bytes: fetch.max.bytes is the cap"
    );
    assert!(
        bytes >= 60_000,
        "{bytes} bytes: as many whole batches as fit"
    );

    // A cap smaller than one batch still returns that batch, or the consumer would stall.
    let tiny = RillServer::start(&["--override", "fetch.max.bytes=10"]);
    let mut small = tiny.connect();
    create_topic(&mut small, "big", 1);
    let _: ProduceResponse = call(
        &mut small,
        ApiKey::Produce,
        7,
        &produce_request("big", [(0, batch(&value))].into_iter(), 1),
    );
    let fetched: FetchResponse = call(
        &mut small,
        ApiKey::Fetch,
        11,
        &fetch_request("big", [(0, 0)].into_iter(), i32::MAX),
    );
    let bytes = fetched.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .len();
    assert!(
        bytes > 30_000,
        "the first batch is returned whole ({bytes} bytes)"
    );
    survives(server, "big");
}

/// Issue 9 item 4: a Produce listing one partition a million times appended a million times on
/// the one partitions actor (a bystander's produce stalled 20 s). Kafka keeps the last listing.
#[test]
fn a_duplicate_produce_appends_once() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "dup", 1);
    let last = batch(b"the last listing");
    let entries = (0..100_000)
        .map(|_| (0, batch(b"an earlier listing")))
        .chain([(0, last)]);
    let started = Instant::now();
    let produced: ProduceResponse = call(
        &mut stream,
        ApiKey::Produce,
        7,
        &produce_request("dup", entries, -1),
    );
    let took = started.elapsed();
    assert_eq!(produced.responses.len(), 1);
    let answered = &produced.responses[0].partition_responses;
    assert_eq!(answered.len(), 1, "one answer per partition");
    assert_eq!((answered[0].error_code, answered[0].base_offset), (0, 0));
    assert_eq!(
        high_watermark(&server, "dup"),
        1,
        "one record appended, not 100,001"
    );
    let fetched: FetchResponse = call(
        &mut stream,
        ApiKey::Fetch,
        11,
        &fetch_request("dup", [(0, 0)].into_iter(), 1 << 20),
    );
    let records = fetched.responses[0].partitions[0].records.clone().unwrap();
    let needle = b"the last listing";
    assert!(
        records.windows(needle.len()).any(|w| w == needle),
        "the last listing is the one stored"
    );
    eprintln!("100,001-listing produce answered in {took:?}");
    survives(server, "dup");
}

/// Issue 9 item 4: Metadata naming one topic a million times answered a million entries.
#[test]
fn duplicate_metadata_names_are_answered_once() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "meta", 1);
    let topics = (0..200_000)
        .map(|_| MetadataRequestTopic::default().with_name(Some(name("meta"))))
        .collect();
    let answer: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        8,
        &MetadataRequest::default().with_topics(Some(topics)),
    );
    assert_eq!(answer.topics.len(), 1);
    assert_eq!(answer.topics[0].error_code, 0);
    survives(server, "meta");
}

fn metadata_naming(topic: &str, times: u64) -> MetadataRequest {
    let topics = (0..times)
        .map(|_| MetadataRequestTopic::default().with_name(Some(name(topic))))
        .collect();
    MetadataRequest::default().with_topics(Some(topics))
}

/// Issue 9 item 4: after duplicates were merged, a Produce listing one partition a million
/// times (77 MB) and a Metadata naming one topic a million times still cost hundreds of
/// milliseconds of a runtime worker each, decoding the million entries. More than
/// `REQUEST_ENTRIES_MAX` array entries is now refused from the declared count, before the
/// decode, and closes only that connection.
#[test]
fn a_million_entry_request_is_refused_before_decoding() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "wide", 1);
    let million = 1_000_000;
    assert!(million > REQUEST_ENTRIES_MAX);
    let mut hostile = server.connect();
    let one = batch(b"x");
    let entries = (0..million).map(|_| (0, one.clone()));
    send(
        &mut hostile,
        ApiKey::Produce,
        7,
        &produce_request("wide", entries, -1),
    );
    let sent = Instant::now();
    assert!(closed_by_broker(&mut hostile), "the produce is refused");
    let refused_in = sent.elapsed();
    assert_eq!(high_watermark(&server, "wide"), 0, "nothing was appended");
    let mut hostile = server.connect();
    send(
        &mut hostile,
        ApiKey::Metadata,
        8,
        &metadata_naming("wide", million),
    );
    assert!(closed_by_broker(&mut hostile), "the metadata is refused");
    // One at the limit is still answered (once: duplicates are merged).
    let at_limit: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        8,
        &metadata_naming("wide", REQUEST_ENTRIES_MAX),
    );
    assert_eq!(at_limit.topics.len(), 1);
    eprintln!("million-entry produce refused {refused_in:?} after it was sent");
    survives(server, "wide");
}

/// Issue 9 item 4: two clients sending requests at `REQUEST_ENTRIES_MAX` back to back (a
/// Produce listing one partition 199,999 times, a Metadata naming one topic 200,000 times) each
/// kept a runtime worker busy decoding; on two cores a bystander waited for both. Large decodes
/// now take turns (`LARGE_DECODES_AT_ONCE`), so the bystander always finds a free worker.
#[test]
fn bystanders_are_served_while_two_clients_send_requests_at_the_entry_limit() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "victim", 1);
    create_topic(&mut stream, "shared", 1);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let one = batch(b"x");
    let produce = produce_request(
        "victim",
        (0..REQUEST_ENTRIES_MAX - 1).map(|_| (0, one.clone())),
        1,
    );
    let metadata = metadata_naming("victim", REQUEST_ENTRIES_MAX);
    let attackers = [
        std::thread::spawn({
            let (mut attacker, stop, answered) = (server.connect(), stop.clone(), answered.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let r: ProduceResponse = call(&mut attacker, ApiKey::Produce, 7, &produce);
                    assert_eq!(r.responses[0].partition_responses.len(), 1);
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }),
        std::thread::spawn({
            let (mut attacker, stop, answered) = (server.connect(), stop.clone(), answered.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let r: MetadataResponse = call(&mut attacker, ApiKey::Metadata, 8, &metadata);
                    assert_eq!(r.topics.len(), 1);
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }),
    ];
    std::thread::sleep(Duration::from_millis(500));
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        slowest = slowest.max(bystander_round_trip(&server, "shared"));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    for attacker in attackers {
        attacker.join().expect("the attack requests are answered");
    }
    let answered = answered.load(Ordering::SeqCst);
    assert!(answered >= 2, "the attack ran ({answered} answered)");
    eprintln!("slowest bystander round trip {slowest:?} while {answered} requests at the limit were answered");
    survives(server, "shared");
}

/// ListOffsets: Kafka answers a partition listed twice with INVALID_REQUEST, once here.
#[test]
fn duplicate_list_offsets_partitions_are_invalid_requests() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "lo", 2);
    let partition = |p| {
        ListOffsetsPartition::default()
            .with_partition_index(p)
            .with_timestamp(-1)
    };
    let listed: ListOffsetsResponse = call(
        &mut stream,
        ApiKey::ListOffsets,
        5,
        &ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name("lo"))
                .with_partitions(vec![partition(0), partition(1), partition(0)])]),
    );
    let answers: Vec<(i32, i16)> = listed.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    assert_eq!(
        answers,
        [(0, 42), (1, 0)],
        "INVALID_REQUEST (42) for the duplicate"
    );
    survives(server, "lo");
}

/// Issue 9 item 5: parked fetches listing one partition many times were re-read once per
/// listing on every append to it (0.6 s per append). Each parked fetch now reads it once.
#[test]
fn parked_duplicate_fetches_do_not_slow_appends() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "parked", 1);
    let _: ProduceResponse = call(
        &mut stream,
        ApiKey::Produce,
        7,
        &produce_request("parked", [(0, batch(b"x"))].into_iter(), 1),
    );
    // 40 fetches × 20,000 listings, each wanting more bytes than will ever come.
    let mut parked: Vec<TcpStream> = (0..40).map(|_| server.connect()).collect();
    let request = fetch_request("parked", (0..20_000).map(|_| (0, 0)), 1 << 20)
        .with_max_wait_ms(30_000)
        .with_min_bytes(i32::MAX);
    for conn in &mut parked {
        send(conn, ApiKey::Fetch, 11, &request);
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut took = Duration::ZERO;
    for _ in 0..5 {
        took = took.max(bystander_round_trip(&server, "parked"));
    }
    eprintln!("slowest bystander round trip with 40 parked fetches: {took:?}");
    drop(parked);
    survives(server, "parked");
}

/// More distinct partitions than `REQUEST_PARTITIONS_MAX` (50,000) in one request closes its
/// connection instead of occupying the shared partitions actor; one at the limit is served.
#[test]
fn too_many_distinct_partitions_close_only_that_connection() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "wide", 1);
    let at_limit: FetchResponse = call(
        &mut stream,
        ApiKey::Fetch,
        11,
        &fetch_request("wide", (0..50_000).map(|p| (p, 0)), 1 << 20),
    );
    assert_eq!(at_limit.responses[0].partitions.len(), 50_000);
    let mut hostile = server.connect();
    send(
        &mut hostile,
        ApiKey::Fetch,
        11,
        &fetch_request("wide", (0..50_001).map(|p| (p, 0)), 1 << 20),
    );
    assert!(closed_by_broker(&mut hostile));
    survives(server, "wide");
}

/// Issue 9, Low: Kafka closes the connection when an acks=0 produce fails (the producer gets
/// no answer, so that is how it learns); Rill kept it open and the producer never knew.
#[test]
fn a_failed_acks_zero_produce_closes_the_connection() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "fire", 1);
    // A successful acks=0 produce keeps the connection: the next request is answered.
    send(
        &mut stream,
        ApiKey::Produce,
        7,
        &produce_request("fire", [(0, batch(b"ok"))].into_iter(), 0),
    );
    let answer: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        8,
        &MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("fire")))
        ])),
    );
    assert_eq!(answer.topics[0].error_code, 0);
    // Partition 5 does not exist: UNKNOWN_TOPIC_OR_PARTITION, so the connection is closed.
    send(
        &mut stream,
        ApiKey::Produce,
        7,
        &produce_request("fire", [(5, batch(b"lost"))].into_iter(), 0),
    );
    assert!(closed_by_broker(&mut stream));
    assert_eq!(high_watermark(&server, "fire"), 1);
    survives(server, "fire");
}

/// Issue 9, Low: CreateTopics with a 32,000-byte name closed the connection: the error message
/// quoted the name whole and could not be encoded (Kafka strings hold 32,767 bytes).
#[test]
fn a_32_kb_topic_name_gets_an_error_not_a_closed_connection() {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    let long = "t".repeat(32_000);
    for version in [2, 7] {
        let created: CreateTopicsResponse = call(
            &mut stream,
            ApiKey::CreateTopics,
            version,
            &CreateTopicsRequest::default()
                .with_topics(vec![CreatableTopic::default()
                    .with_name(name(&long))
                    .with_num_partitions(1)
                    .with_replication_factor(1)])
                .with_timeout_ms(5000),
        );
        assert_eq!(created.topics[0].error_code, 17, "INVALID_TOPIC_EXCEPTION");
    }
    create_topic(&mut stream, "named", 1);
    survives(server, "named");
}

/// Issue 9 item 4: large record sets are written from the bytes read from the log, between
/// parts of the encoded response, instead of being copied into one buffer. A client must still
/// get the crate's exact Fetch answer, for the oldest, the last non-flexible and the flexible
/// version, with several partitions (large and small record sets, one unknown partition).
#[test]
fn fetch_answers_with_large_record_sets_decode_exactly() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "wide", 3);
    let large = |seed: u8| {
        (0..300_000u32)
            .map(|i| (i % 251) as u8 ^ seed)
            .collect::<Vec<u8>>()
    };
    let batches = [batch(&large(1)), batch(&large(2)), batch(b"small")];
    for (partition, records) in batches.iter().enumerate() {
        let done: ProduceResponse = call(
            &mut stream,
            ApiKey::Produce,
            7,
            &produce_request("wide", [(partition as i32, records.clone())].into_iter(), 1),
        );
        assert_eq!(done.responses[0].partition_responses[0].error_code, 0);
    }
    for version in [4, 11, 12] {
        let listed = [(0, 0), (1, 0), (2, 0), (7, 0)].into_iter();
        let fetched: FetchResponse = call(
            &mut stream,
            ApiKey::Fetch,
            version,
            &fetch_request("wide", listed, i32::MAX),
        );
        let partitions = &fetched.responses[0].partitions;
        assert_eq!(partitions.len(), 4, "v{version}");
        for (partition, produced) in batches.iter().enumerate() {
            let p = &partitions[partition];
            assert_eq!((p.partition_index, p.error_code), (partition as i32, 0));
            assert_eq!(p.high_watermark, 1, "v{version}");
            let records = p.records.as_ref().expect("records");
            // Stored as produced from the magic byte on (base offset 0; the leader epoch
            // before it is the broker's).
            assert_eq!(records.len(), produced.len(), "v{version} p{partition}");
            assert!(records[17..] == produced[17..], "v{version} p{partition}");
        }
        assert_eq!(partitions[3].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    }
    survives(server, "wide");
}
