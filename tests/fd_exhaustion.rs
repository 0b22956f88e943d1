//! Issue 9, items 1, 6, 7, the partial-frame item and connections per address, against a real `rill server` run under a
//! lowered descriptor limit (`ulimit -n 256`, so the attacks are fast).
//!
//! The story: every segment kept its three files open for life, CreateTopics had no partition
//! cap, Metadata auto-created topics without bound, connections had no cap and no idle timeout,
//! the registry was written before the logs were opened, and start-up aborted when one log
//! could not open. Each attack used to end with "Too many open files" and a broker that would
//! not start again. Every test ends the same way: the broker is alive, a bystander's round trip
//! succeeds within a bound, and a restart on the same data (same limit) serves again.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{call, create_topic, fetch_all, produce, topic_name, RillServer};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, MetadataRequest, MetadataResponse,
};

const NOFILE: u64 = 256;

/// A bystander's produce + fetch round trip on its own topic, within `bound`.
fn bystander_round_trip(server: &RillServer, topic: &str, bound: Duration) {
    common::bystander_round_trip_within(server, topic, b"bystander", bound);
}

fn create(stream: &mut TcpStream, topics: &[(&str, i32)]) -> CreateTopicsResponse {
    let topics = topics
        .iter()
        .map(|(name, partitions)| {
            CreatableTopic::default()
                .with_name(topic_name(name))
                .with_num_partitions(*partitions)
                .with_replication_factor(1)
        })
        .collect();
    let request = CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(30_000);
    call(stream, ApiKey::CreateTopics, 7, &request)
}

fn metadata(stream: &mut TcpStream, topics: &[String]) -> MetadataResponse {
    let topics = topics
        .iter()
        .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
        .collect();
    let request = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(true);
    call(stream, ApiKey::Metadata, 12, &request)
}

#[test]
fn oversized_creations_are_refused_and_thousands_of_partitions_fit_in_256_descriptors() {
    let server = RillServer::start_limited(NOFILE, &[]);
    let mut admin = server.connect();
    admin
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    create_topic(&mut admin, "bystander", 1);

    // The attack: 100,000 partitions in one CreateTopics. Kafka's per-request bound
    // answers POLICY_VIOLATION for every topic of the request.
    let refused = create(&mut admin, &[("huge", 100_000), ("small", 1)]);
    for topic in &refused.topics {
        assert_eq!(topic.error_code, 44, "{topic:?}");
    }
    assert!(
        server.log().contains("file descriptor limit"),
        "{}",
        server.log()
    );

    // 2,000 partitions: 6,000 segment files, which used to need 6,000 descriptors.
    let names: Vec<String> = (0..20).map(|i| format!("many-{i}")).collect();
    for name in &names {
        let created = create(&mut admin, &[(name, 100)]);
        assert_eq!(created.topics[0].error_code, 0, "{:?}", created.topics[0]);
    }
    for name in names.iter().step_by(5) {
        produce(&mut admin, name, b"v");
    }
    let fds = server.open_fds();
    assert!(fds < NOFILE as usize, "{fds} descriptors open");
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));

    let server = server.restart_limited(NOFILE, &[]);
    let mut stream = server.connect();
    let (high_watermark, _) = fetch_all(&mut stream, "many-5");
    assert_eq!(high_watermark, 1, "data survives the restart");
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
}

#[test]
fn auto_created_topics_do_not_exhaust_descriptors() {
    let server = RillServer::start_limited(NOFILE, &[]);
    let mut stream = server.connect();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    create_topic(&mut stream, "bystander", 1);
    // Metadata naming 600 new topics (one partition each): 1,800 segment files.
    for chunk in 0..6 {
        let names: Vec<String> = (0..100).map(|i| format!("auto-{chunk}-{i}")).collect();
        let answer = metadata(&mut stream, &names);
        for topic in &answer.topics {
            assert!(
                matches!(topic.error_code, 0 | 5),
                "{:?}: {}",
                topic,
                server.log()
            );
        }
    }
    assert!(server.open_fds() < NOFILE as usize);
    produce(&mut stream, "auto-5-99", b"v");
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));

    let server = server.restart_limited(NOFILE, &[]);
    let mut stream = server.connect();
    assert_eq!(fetch_all(&mut stream, "auto-5-99").0, 1);
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
}

/// Whether the server closed `stream` (read returns 0 or a reset) within `within`.
fn closed_by_server(stream: &TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Whether `stream` is served: an ApiVersions v0 gets an answer. (A connection can sit in the
/// listen backlog for a while and only then be refused, so "not closed yet" proves nothing.)
fn answers_api_versions(stream: &mut TcpStream) -> bool {
    let mut frame = 10i32.to_be_bytes().to_vec();
    // ApiVersions v0, correlation id 9, no client id.
    frame.extend_from_slice(&[0, 18, 0, 0, 0, 0, 0, 9, 0xff, 0xff]);
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut size = [0u8; 4];
    let answered = stream.write_all(&frame).is_ok() && stream.read_exact(&mut size).is_ok();
    if answered {
        let mut body = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
        stream.read_exact(&mut body).unwrap();
    }
    stream.set_read_timeout(None).unwrap();
    answered
}

#[test]
fn idle_connections_are_capped_and_reaped_and_segments_still_roll() {
    // Small segments: every produce below rolls a segment (new descriptors needed).
    let args = [
        "--override",
        "connections.max.idle.ms=2000",
        "--override",
        "log.segment.bytes=1024",
    ];
    let server = RillServer::start_limited(NOFILE, &args);
    let mut admin = server.connect();
    create_topic(&mut admin, "rolling", 1);
    create_topic(&mut admin, "bystander", 1);
    drop(admin);

    // 400 idle connections against a 256-descriptor process.
    let idle: Vec<TcpStream> = (0..400)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = idle
        .iter()
        .filter(|s| closed_by_server(s, Duration::from_millis(5)))
        .count();
    // max.connections defaults to half of what is left after the reserve: (256 - 64) / 2.
    assert!(refused >= 400 - 96, "only {refused} of 400 closed at once");
    assert!(server.open_fds() < NOFILE as usize);

    // The connections held do not starve the log: a produce that rolls a segment works.
    // (It needs a connection slot: the reaper frees them after connections.max.idle.ms.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        let mut s = server.connect();
        if answers_api_versions(&mut s) {
            break s;
        }
        assert!(Instant::now() < deadline, "no connection slot freed");
        std::thread::sleep(Duration::from_millis(200));
    };
    for i in 0..20 {
        let value = vec![b'x'; 600];
        assert_eq!(produce(&mut stream, "rolling", &value), i);
    }
    // Idle connections are all reaped within connections.max.idle.ms (+ slack).
    std::thread::sleep(Duration::from_millis(2500));
    let still_open = idle
        .iter()
        .filter(|s| !closed_by_server(s, Duration::from_millis(5)))
        .count();
    assert_eq!(still_open, 0, "idle connections must be closed");
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));

    drop(idle);
    let server = server.restart_limited(NOFILE, &args);
    let mut stream = server.connect();
    assert_eq!(fetch_all(&mut stream, "rolling").0, 20);
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
}

#[test]
fn a_log_that_cannot_open_does_not_stop_start_up_and_comes_back() {
    let server = RillServer::start_limited(NOFILE, &[]);
    let mut stream = server.connect();
    create_topic(&mut stream, "broken", 1);
    create_topic(&mut stream, "bystander", 1);
    produce(&mut stream, "broken", b"kept");
    drop(stream);
    // Make the partition's log unopenable: its .log file replaced by a directory.
    let dir = server.data_dir.path().join("broken-0");
    let log = dir.join(format!("{:020}.log", 0));
    let saved = server.data_dir.path().join("saved.log");
    let server = {
        let mut server = server;
        server.terminate();
        std::fs::rename(&log, &saved).unwrap();
        std::fs::create_dir(&log).unwrap();
        server.start_again(&[])
    };
    // Start-up went on; the partition answers KAFKA_STORAGE_ERROR, not UNKNOWN.
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
    let mut stream = server.connect();
    let answer = metadata(&mut stream, &["broken".to_string()]);
    assert_eq!(answer.topics[0].error_code, 0, "still registered");
    let error = produce_error(&mut stream, "broken");
    assert_eq!(error, 56, "{}", server.log());
    assert!(server.log().contains("cannot open partition log"));
    // Metadata shows what produce meets, as Kafka shows a partition whose log dir is offline:
    // the registry alone said it was healthy (issue 9, item 7).
    let node = server_node_id(&answer);
    assert_eq!(partition_state(&mut stream, "broken"), (56, vec![node]));
    assert_eq!(partition_state(&mut stream, "bystander"), (0, vec![]));
    assert_eq!(all_topics_state(&mut stream, "broken"), (56, vec![node]));
    // v1 (no offline_replicas field) still carries the error and encodes.
    assert_eq!(partition_error_v1(&mut stream, "broken"), 56);
    // librdkafka still lists the topic and its partition.
    let listed = kcat_metadata(&server, "broken");
    assert!(
        listed.contains("\"broken\"") && listed.contains("\"partition\":0"),
        "{listed}"
    );

    // The cause goes away: the next produce after the retry interval opens it.
    std::fs::remove_dir(&log).unwrap();
    std::fs::rename(&saved, &log).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(produce(&mut stream, "broken", b"again"), 1);
    assert_eq!(partition_state(&mut stream, "broken"), (0, vec![]));
    assert_eq!(all_topics_state(&mut stream, "broken"), (0, vec![]));
}

fn server_node_id(answer: &MetadataResponse) -> i32 {
    answer.brokers[0].node_id.0
}

/// Partition 0's Metadata (v12) error code and offline replicas, asking for `topic` by name.
fn partition_state(stream: &mut TcpStream, topic: &str) -> (i16, Vec<i32>) {
    let answer = metadata(stream, &[topic.to_string()]);
    assert_eq!(answer.topics[0].error_code, 0, "{:?}", answer.topics[0]);
    state_of(&answer.topics[0].partitions[0])
}

/// The same, from a Metadata request for every topic (the other path through the broker).
fn all_topics_state(stream: &mut TcpStream, topic: &str) -> (i16, Vec<i32>) {
    let request = MetadataRequest::default().with_topics(None);
    let answer: MetadataResponse = call(stream, ApiKey::Metadata, 12, &request);
    let entry = answer
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic))
        .unwrap_or_else(|| panic!("{topic} not listed: {answer:?}"));
    state_of(&entry.partitions[0])
}

fn state_of(
    partition: &kafka_protocol::messages::metadata_response::MetadataResponsePartition,
) -> (i16, Vec<i32>) {
    let offline = partition.offline_replicas.iter().map(|b| b.0).collect();
    (partition.error_code, offline)
}

fn partition_error_v1(stream: &mut TcpStream, topic: &str) -> i16 {
    let request = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(topic_name(topic))),
    ]));
    let answer: MetadataResponse = call(stream, ApiKey::Metadata, 1, &request);
    answer.topics[0].partitions[0].error_code
}

/// `kcat -L -J -t topic` (librdkafka's metadata request), which must succeed.
fn kcat_metadata(server: &RillServer, topic: &str) -> String {
    let output = std::process::Command::new("kcat")
        .args(["-b", &server.addr.to_string(), "-L", "-J", "-t", topic])
        .args(["-m", "10"])
        .output()
        .expect("kcat must be installed");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kcat failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn a_topic_whose_logs_cannot_be_created_is_not_registered() {
    let server = RillServer::start_limited(NOFILE, &[]);
    // A file where the partition directory must go: the log cannot be created.
    std::fs::write(server.data_dir.path().join("zombie-0"), b"in the way").unwrap();
    let mut stream = server.connect();
    let created = create(&mut stream, &[("zombie", 1)]);
    assert_eq!(created.topics[0].error_code, 56, "{:?}", created.topics[0]);
    // Not in Metadata (no auto-create): registry and logs agree.
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name("zombie")))
        ]))
        .with_allow_auto_topic_creation(false);
    let answer: MetadataResponse = call(&mut stream, ApiKey::Metadata, 12, &request);
    assert_eq!(answer.topics[0].error_code, 3, "{:?}", answer.topics[0]);
    // Once the obstacle is gone, the same name can be created.
    std::fs::remove_file(server.data_dir.path().join("zombie-0")).unwrap();
    assert_eq!(
        create(&mut stream, &[("zombie", 1)]).topics[0].error_code,
        0
    );
    let server = server.restart_limited(NOFILE, &[]);
    let mut stream = server.connect();
    assert_eq!(produce(&mut stream, "zombie", b"v"), 0);
}

/// Produces one record to partition 0 and returns the partition's error code.
fn produce_error(stream: &mut TcpStream, topic: &str) -> i16 {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
    let records = rill::storage::batch::build_batch(&[(None, b"v".as_slice())], 1_700_000_000_000);
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records.into()))])]);
    let response: ProduceResponse = call(stream, ApiKey::Produce, 9, &request);
    response.responses[0].partition_responses[0].error_code
}

#[test]
fn partial_frames_are_bounded_by_queued_max_request_bytes() {
    // Frames up to 8 MiB; at most 16 MiB of large frames buffered across connections.
    let args = [
        "--override",
        "socket.request.max.bytes=8388608",
        "--override",
        "queued.max.request.bytes=16777216",
    ];
    let server = RillServer::start(&args);
    let mut admin = server.connect();
    create_topic(&mut admin, "bystander", 1);
    let rss_before = server.rss_kib();
    // 20 connections each send 6 MiB of an 8 MiB frame and stop: 120 MiB if all were held.
    let chunk = vec![0u8; 1 << 20];
    let mut attackers = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let _ = s.write_all(&(8i32 << 20).to_be_bytes());
        for _ in 0..6 {
            if s.write_all(&chunk).is_err() {
                break; // not read: the pool is full (what we want)
            }
        }
        attackers.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let grown_mib = server.rss_kib().saturating_sub(rss_before) / 1024;
    // 16 MiB of pool plus socket buffers and slack; the unbounded broker held 120 MiB here.
    assert!(grown_mib < 60, "RSS grew by {grown_mib} MiB");
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
    drop(attackers);
    let server = server.restart(&args);
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
}

/// A connection to `server` from the source address `from` (any 127.0.0.x is local).
fn connect_from(server: &RillServer, from: [u8; 4]) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let source = std::net::SocketAddr::from((from, 0));
    socket.bind(&source.into()).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    socket.into()
}

#[test]
fn one_address_cannot_take_every_connection() {
    // 127.0.0.3 may hold 3 connections, 127.0.0.4 none, everyone else 2.
    let args = [
        "--override",
        "max.connections.per.ip=2",
        "--override",
        "max.connections.per.ip.overrides=127.0.0.3:3,127.0.0.4:0",
    ];
    let server = RillServer::start(&args);
    let mut admin = server.connect();
    create_topic(&mut admin, "bystander", 1);
    drop(admin);
    std::thread::sleep(Duration::from_millis(100));

    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| connect_from(&server, [127, 0, 0, 3]))
        .collect();
    let over = connect_from(&server, [127, 0, 0, 3]);
    assert!(
        closed_by_server(&over, Duration::from_secs(2)),
        "4th from 127.0.0.3 is closed"
    );
    for stream in &held {
        assert!(
            !closed_by_server(stream, Duration::from_millis(20)),
            "the first 3 stay"
        );
    }
    let barred = connect_from(&server, [127, 0, 0, 4]);
    assert!(
        closed_by_server(&barred, Duration::from_secs(2)),
        "override 0 admits none"
    );

    // Another address (127.0.0.1, limit 2) is served meanwhile.
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
    let a = connect_from(&server, [127, 0, 0, 2]);
    let b = connect_from(&server, [127, 0, 0, 2]);
    let c = connect_from(&server, [127, 0, 0, 2]);
    assert!(!closed_by_server(&a, Duration::from_millis(20)));
    assert!(!closed_by_server(&b, Duration::from_millis(20)));
    assert!(
        closed_by_server(&c, Duration::from_secs(2)),
        "default limit 2"
    );

    // A closed connection frees its address's place.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(200));
    let mut again = connect_from(&server, [127, 0, 0, 3]);
    assert!(!closed_by_server(&again, Duration::from_millis(200)));
    assert!(produce(&mut again, "bystander", b"from 127.0.0.3") >= 0);

    drop((held, a, b, again));
    let server = server.restart(&args);
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
}

#[test]
fn a_frame_trickling_in_is_closed_at_the_frame_deadline() {
    // The frame deadline is 30 s, or connections.max.idle.ms when shorter.
    let args = ["--override", "connections.max.idle.ms=2000"];
    let server = RillServer::start(&args);
    let mut admin = server.connect();
    create_topic(&mut admin, "bystander", 1);
    // A 1000-byte frame sent one byte every 200 ms: never idle for 2 s, never complete.
    let mut slow = server.connect();
    slow.write_all(&1000i32.to_be_bytes()).unwrap();
    let started = Instant::now();
    let closed_after = loop {
        if slow.write_all(&[0u8]).is_err() || closed_by_server(&slow, Duration::from_millis(200)) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the trickle was never cut off"
        );
    };
    assert!(
        closed_after >= Duration::from_millis(1500),
        "closed after {closed_after:?}: before the deadline"
    );
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
    let server = server.restart(&args);
    bystander_round_trip(&server, "bystander", Duration::from_secs(2));
}
