//! The consumer-group APIs against a real `rill server`, over TCP with the protocol crate's own
//! encoders: every advertised version of FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch and the admin APIs (DescribeGroups, ListGroups,
//! DeleteGroups, OffsetDelete) encodes, decodes and does what Kafka does —
//! MEMBER_ID_REQUIRED from JoinGroup v4 (with a `protocol_name` of "" where it is not
//! nullable), an immediate join before v4, OffsetFetch's `topics` (v1-7) and `groups` (v8)
//! shapes, a generation -1 commit on a group that does not exist yet, the lazily created
//! `__consumer_offsets` (internal, 50 partitions, closed to clients' writes), a commit that
//! survives `kill -9`, and offsets that expire after `offsets.retention.minutes` (KIP-211).
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // tests may read the clock and spawn processes

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use common::{call, create_topic, topic_name, RillServer};
use rill::messages::OFFSETS_TOPIC;
use rill::types::ErrorCode;

const NONE: i16 = ErrorCode::NONE.wire();
const UNKNOWN_TOPIC_OR_PARTITION: i16 = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.wire();
const COORDINATOR_LOAD_IN_PROGRESS: i16 = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.wire();
const COORDINATOR_NOT_AVAILABLE: i16 = ErrorCode::COORDINATOR_NOT_AVAILABLE.wire();
const NOT_COORDINATOR: i16 = ErrorCode::NOT_COORDINATOR.wire();
const INVALID_TOPIC_EXCEPTION: i16 = ErrorCode::INVALID_TOPIC_EXCEPTION.wire();
const INVALID_GROUP_ID: i16 = ErrorCode::INVALID_GROUP_ID.wire();
const MEMBER_ID_REQUIRED: i16 = ErrorCode::MEMBER_ID_REQUIRED.wire();

/// How long the coordinator may take to become available (topic creation, shard load).
const COORDINATOR_WAIT: Duration = Duration::from_secs(30);

/// The group APIs and the versions Rill advertises for them (issue 12's M1 column).
const ADVERTISED: [(ApiKey, i16, i16); 13] = [
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn group_id(s: &str) -> GroupId {
    GroupId(text(s))
}

/// A server whose joins complete without Kafka's 3 s initial rebalance delay.
fn server() -> RillServer {
    RillServer::start(&["--override", "group.initial.rebalance.delay.ms=0"])
}

/// Retries `ask` while it answers a code the coordinator gives while it is being created or
/// loaded (all four clients retry these), and returns the first other answer.
fn retrying<R>(mut ask: impl FnMut() -> R, code: impl Fn(&R) -> i16) -> R {
    let deadline = Instant::now() + COORDINATOR_WAIT;
    loop {
        let answer = ask();
        let retriable = [
            COORDINATOR_LOAD_IN_PROGRESS,
            COORDINATOR_NOT_AVAILABLE,
            NOT_COORDINATOR,
        ];
        if !retriable.contains(&code(&answer)) || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find_coordinator(s: &mut TcpStream, version: i16, key: &str) -> FindCoordinatorResponse {
    let request = FindCoordinatorRequest::default().with_key(text(key));
    call(s, ApiKey::FindCoordinator, version, &request)
}

/// FindCoordinator until the coordinator is available; asserts it is.
fn coordinator(s: &mut TcpStream, version: i16, group: &str) -> FindCoordinatorResponse {
    let found = retrying(|| find_coordinator(s, version, group), |r| r.error_code);
    assert_eq!(found.error_code, NONE, "v{version}: {found:?}");
    found
}

fn join_request(group: &str, member_id: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(group_id(group))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(text(member_id))
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(text("range"))
            .with_metadata(Bytes::from_static(b"subscription"))])
}

fn join(s: &mut TcpStream, version: i16, group: &str, member_id: &str) -> JoinGroupResponse {
    retrying(
        || {
            call(
                s,
                ApiKey::JoinGroup,
                version,
                &join_request(group, member_id),
            )
        },
        |r: &JoinGroupResponse| r.error_code,
    )
}

/// Joins `group` as its only member at `version`, through MEMBER_ID_REQUIRED from v4; returns
/// the join answer (generation 1, this member the leader).
fn join_alone(s: &mut TcpStream, version: i16, group: &str) -> JoinGroupResponse {
    let mut member_id = String::new();
    if version >= 4 {
        let first = join(s, version, group, "");
        assert_eq!(
            first.error_code, MEMBER_ID_REQUIRED,
            "v{version}: {first:?}"
        );
        assert!(
            !first.member_id.is_empty(),
            "v{version}: no member id given"
        );
        assert_eq!(first.generation_id, -1);
        // Not nullable before v7: "" (a null would make Java and librdkafka fail the decode).
        if version < 7 {
            assert_eq!(first.protocol_name.as_deref(), Some(""), "v{version}");
        }
        member_id = first.member_id.to_string();
    }
    let joined = join(s, version, group, &member_id);
    assert_eq!(joined.error_code, NONE, "v{version}: {joined:?}");
    assert_eq!(joined.generation_id, 1, "v{version}");
    if version >= 4 {
        assert_eq!(joined.member_id.as_str(), member_id, "v{version}");
    } else {
        // Before v4 the member joins at once, with an id the coordinator made.
        assert!(!joined.member_id.is_empty(), "v{version}");
    }
    assert_eq!(
        joined.leader, joined.member_id,
        "v{version}: the only member leads"
    );
    assert_eq!(joined.protocol_name.as_deref(), Some("range"), "v{version}");
    assert_eq!(
        joined.members.len(),
        1,
        "v{version}: the leader sees itself"
    );
    assert_eq!(joined.members[0].metadata.as_ref(), b"subscription");
    joined
}

fn sync(
    s: &mut TcpStream,
    version: i16,
    group: &str,
    joined: &JoinGroupResponse,
) -> SyncGroupResponse {
    let mut request = SyncGroupRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(joined.generation_id)
        .with_member_id(joined.member_id.clone())
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(joined.member_id.clone())
            .with_assignment(Bytes::from_static(b"assignment"))]);
    if version >= 5 {
        request = request
            .with_protocol_type(Some(text("consumer")))
            .with_protocol_name(Some(text("range")));
    }
    call(s, ApiKey::SyncGroup, version, &request)
}

fn heartbeat(s: &mut TcpStream, version: i16, group: &str, joined: &JoinGroupResponse) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(joined.generation_id)
        .with_member_id(joined.member_id.clone());
    let answer: HeartbeatResponse = call(s, ApiKey::Heartbeat, version, &request);
    answer.error_code
}

fn leave(s: &mut TcpStream, version: i16, group: &str, member_id: &StrBytes) -> LeaveGroupResponse {
    let request = if version >= 3 {
        LeaveGroupRequest::default()
            .with_group_id(group_id(group))
            .with_members(vec![
                MemberIdentity::default().with_member_id(member_id.clone())
            ])
    } else {
        LeaveGroupRequest::default()
            .with_group_id(group_id(group))
            .with_member_id(member_id.clone())
    };
    call(s, ApiKey::LeaveGroup, version, &request)
}

/// OffsetCommit of `offset` for each (topic, partition), as a simple consumer (generation -1).
fn commit(
    s: &mut TcpStream,
    version: i16,
    group: &str,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommitResponse {
    let topics = offsets
        .iter()
        .map(|&(topic, partition, offset)| {
            OffsetCommitRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_metadata(Some(text("meta")))])
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(topics);
    retrying(
        || call(s, ApiKey::OffsetCommit, version, &request),
        |r: &OffsetCommitResponse| r.topics[0].partitions[0].error_code,
    )
}

/// OffsetFetch of `topic`'s `partitions` for `group` at `version`.
fn fetch_offsets(
    s: &mut TcpStream,
    version: i16,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> OffsetFetchResponse {
    let request = if version >= 8 {
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(group_id(group))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(topic_name(topic))
                .with_partition_indexes(partitions.to_vec())]))])
    } else {
        OffsetFetchRequest::default()
            .with_group_id(group_id(group))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partition_indexes(partitions.to_vec())]))
    };
    retrying(
        || call(s, ApiKey::OffsetFetch, version, &request),
        |r: &OffsetFetchResponse| match r.groups.first() {
            Some(group) => group.error_code,
            None => r.error_code,
        },
    )
}

/// (partition, committed offset, metadata, error code) of each partition of a fetch answer,
/// whichever shape its version has.
/// One partition of a fetch answer; a null metadata reads as "".
fn row(
    partition: i32,
    offset: i64,
    metadata: &Option<StrBytes>,
    code: i16,
) -> (i32, i64, String, i16) {
    let metadata = metadata.as_deref().unwrap_or("").to_string();
    (partition, offset, metadata, code)
}

fn fetched(version: i16, answer: &OffsetFetchResponse) -> Vec<(i32, i64, String, i16)> {
    if version >= 8 {
        assert!(answer.topics.is_empty(), "v{version}: groups only");
        assert_eq!(answer.groups.len(), 1);
        assert_eq!(answer.groups[0].error_code, NONE);
        answer.groups[0].topics[0]
            .partitions
            .iter()
            .map(|p| {
                row(
                    p.partition_index,
                    p.committed_offset,
                    &p.metadata,
                    p.error_code,
                )
            })
            .collect()
    } else {
        assert!(answer.groups.is_empty(), "v{version}: topics only");
        assert_eq!(answer.error_code, NONE);
        answer.topics[0]
            .partitions
            .iter()
            .map(|p| {
                row(
                    p.partition_index,
                    p.committed_offset,
                    &p.metadata,
                    p.error_code,
                )
            })
            .collect()
    }
}

#[test]
fn the_group_apis_are_advertised_with_their_planned_versions() {
    let server = server();
    let mut s = server.connect();
    let versions: ApiVersionsResponse = call(
        &mut s,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    );
    for (key, min, max) in ADVERTISED {
        let row = versions
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .unwrap_or_else(|| panic!("{key:?} is not advertised"));
        assert_eq!((row.min_version, row.max_version), (min, max), "{key:?}");
    }
}

#[test]
fn every_advertised_version_of_the_membership_apis_round_trips() {
    let server = server();
    let mut s = server.connect();
    let (_, _, join_max) = ADVERTISED[3];
    for version in 0..=join_max {
        let group = format!("members-v{version}");
        coordinator(&mut s, version.min(3), &group);
        let joined = join_alone(&mut s, version, &group);

        // Sync, heartbeat and leave at the nearest version each has, so all are covered.
        let sync_version = version.min(5);
        let synced = sync(&mut s, sync_version, &group, &joined);
        assert_eq!(synced.error_code, NONE, "SyncGroup v{sync_version}");
        assert_eq!(synced.assignment.as_ref(), b"assignment");
        if sync_version >= 5 {
            assert_eq!(synced.protocol_name.as_deref(), Some("range"));
        }
        let heartbeat_version = version.min(4);
        let beat = heartbeat(&mut s, heartbeat_version, &group, &joined);
        assert_eq!(beat, NONE, "Heartbeat v{heartbeat_version}");

        let leave_version = version.min(5);
        let left = leave(&mut s, leave_version, &group, &joined.member_id);
        assert_eq!(left.error_code, NONE, "LeaveGroup v{leave_version}");
        if leave_version >= 3 {
            assert_eq!(left.members.len(), 1);
            assert_eq!(left.members[0].member_id, joined.member_id);
            assert_eq!(left.members[0].error_code, NONE);
        }
        // Gone: its heartbeat is no longer accepted.
        let beat = heartbeat(&mut s, heartbeat_version, &group, &joined);
        assert_ne!(
            beat, NONE,
            "v{version}: a member that left still heartbeats"
        );
    }
}

#[test]
fn an_empty_group_id_is_refused_by_the_membership_apis() {
    let server = server();
    let mut s = server.connect();
    let answer: JoinGroupResponse = call(&mut s, ApiKey::JoinGroup, 5, &join_request("", ""));
    assert_eq!(answer.error_code, INVALID_GROUP_ID);
    assert_eq!(answer.protocol_name.as_deref(), Some(""));
    let beat: HeartbeatResponse = call(
        &mut s,
        ApiKey::Heartbeat,
        4,
        &HeartbeatRequest::default().with_member_id(text("m")),
    );
    assert_eq!(beat.error_code, INVALID_GROUP_ID);
}

#[test]
fn every_advertised_version_of_commit_and_fetch_round_trips() {
    let server = server();
    let mut s = server.connect();
    create_topic(&mut s, "orders", 3);
    coordinator(&mut s, 3, "offsets");
    let (_, commit_min, commit_max) = ADVERTISED[0];
    let (_, fetch_min, fetch_max) = ADVERTISED[1];
    for version in commit_min..=commit_max {
        let offset = 100 + i64::from(version);
        // Generation -1 on a group nobody joined: a simple consumer's (or a tool's) commit.
        let committed = commit(&mut s, version, "offsets", &[("orders", 1, offset)]);
        assert_eq!(committed.topics[0].name.0.as_str(), "orders");
        let codes: Vec<_> = committed.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        assert_eq!(codes, [(1, NONE)], "v{version}");
        for fetch_version in fetch_min..=fetch_max {
            let answer = fetch_offsets(&mut s, fetch_version, "offsets", "orders", &[1, 2]);
            // Partition 2 has no commit: offset -1.
            let expected = vec![
                (1, offset, "meta".to_string(), NONE),
                (2, -1, String::new(), NONE),
            ];
            assert_eq!(
                fetched(fetch_version, &answer),
                expected,
                "commit v{version}, fetch v{fetch_version}"
            );
        }
    }
}

#[test]
fn a_commit_naming_an_unknown_topic_is_refused_for_that_partition_only() {
    let server = server();
    let mut s = server.connect();
    create_topic(&mut s, "known", 1);
    coordinator(&mut s, 3, "mixed");
    let answer = commit(
        &mut s,
        8,
        "mixed",
        &[("known", 0, 5), ("unknown", 0, 5), ("known", 9, 5)],
    );
    let mut codes: Vec<(String, i32, i16)> = Vec::new();
    for topic in &answer.topics {
        for p in &topic.partitions {
            codes.push((topic.name.0.to_string(), p.partition_index, p.error_code));
        }
    }
    codes.sort();
    let expected = vec![
        ("known".to_string(), 0, NONE),
        ("known".to_string(), 9, UNKNOWN_TOPIC_OR_PARTITION),
        ("unknown".to_string(), 0, UNKNOWN_TOPIC_OR_PARTITION),
    ];
    assert_eq!(codes, expected);
    let answer = fetch_offsets(&mut s, 8, "mixed", "known", &[0]);
    assert_eq!(fetched(8, &answer), [(0, 5, "meta".to_string(), NONE)]);
}

fn metadata_of(s: &mut TcpStream, topic: &str) -> MetadataResponse {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name(topic)))
        ]))
        .with_allow_auto_topic_creation(false);
    call(s, ApiKey::Metadata, 12, &request)
}

#[test]
fn the_first_find_coordinator_creates_the_internal_offsets_topic() {
    let server = server();
    let mut s = server.connect();
    let before = metadata_of(&mut s, OFFSETS_TOPIC);
    assert_eq!(
        before.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION,
        "created eagerly"
    );

    let found = coordinator(&mut s, 3, "g");
    let broker = &before.brokers[0];
    assert_eq!(found.node_id, broker.node_id);
    assert_eq!(
        (found.host.as_str(), found.port),
        (broker.host.as_str(), broker.port)
    );
    assert_eq!(found.port, i32::from(server.addr.port()));

    let after = metadata_of(&mut s, OFFSETS_TOPIC);
    assert_eq!(after.topics[0].error_code, NONE);
    assert!(
        after.topics[0].is_internal,
        "Metadata must mark it internal"
    );
    assert_eq!(
        after.topics[0].partitions.len(),
        50,
        "offsets.topic.num.partitions"
    );
    // Asked again, the existing topic answers at once, at every version.
    for version in 0..=3 {
        let again = find_coordinator(&mut s, version, "g");
        assert_eq!(
            (again.error_code, again.node_id),
            (NONE, broker.node_id),
            "v{version}"
        );
    }

    let described = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["topics", "--bootstrap-server", &server.addr.to_string()])
        .args(["--describe", "--topic", OFFSETS_TOPIC])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&described.stdout);
    assert!(described.status.success(), "{out}");
    assert!(out.contains("PartitionCount: 50"), "{out}");
}

/// A transactional id's coordinator is the leader of its `__transaction_state` partition,
/// which the first FindCoordinator of key type 1 creates (Kafka's 50 partitions).
#[test]
fn the_first_transaction_coordinator_lookup_creates_the_transaction_state_topic() {
    let server = server();
    let mut s = server.connect();
    let before = metadata_of(&mut s, "__transaction_state");
    assert_eq!(before.topics[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    for version in 1..=3 {
        let request = FindCoordinatorRequest::default()
            .with_key(text("txn"))
            .with_key_type(1);
        let found = retrying(
            || -> FindCoordinatorResponse {
                call(&mut s, ApiKey::FindCoordinator, version, &request)
            },
            |r| r.error_code,
        );
        assert_eq!(found.error_code, NONE, "v{version}: {found:?}");
        assert_eq!(found.node_id, before.brokers[0].node_id);
    }
    let after = metadata_of(&mut s, "__transaction_state");
    assert_eq!(after.topics[0].error_code, NONE);
    assert_eq!(after.topics[0].partitions.len(), 50);
}

#[test]
fn clients_cannot_write_the_offsets_topic() {
    let server = server();
    let mut s = server.connect();
    coordinator(&mut s, 3, "g");
    let (code, _) = common::produce_values(&mut s, OFFSETS_TOPIC, &[b"forged"], 5000);
    assert_eq!(code, INVALID_TOPIC_EXCEPTION);

    let request = DeleteRecordsRequest::default()
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(OFFSETS_TOPIC))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(-1)])])
        .with_timeout_ms(5000);
    let answer: DeleteRecordsResponse = call(&mut s, ApiKey::DeleteRecords, 2, &request);
    assert_eq!(
        answer.topics[0].partitions[0].error_code,
        INVALID_TOPIC_EXCEPTION
    );
}

#[test]
fn an_acknowledged_commit_survives_kill_9() {
    let server = server();
    let mut s = server.connect();
    create_topic(&mut s, "kept", 2);
    coordinator(&mut s, 3, "durable");
    let answer = commit(&mut s, 8, "durable", &[("kept", 0, 7), ("kept", 1, 11)]);
    assert!(answer.topics[0]
        .partitions
        .iter()
        .all(|p| p.error_code == NONE));
    drop(s);

    let server = server.restart(&["--override", "group.initial.rebalance.delay.ms=0"]);
    let mut s = server.connect();
    coordinator(&mut s, 3, "durable");
    let answer = fetch_offsets(&mut s, 8, "durable", "kept", &[0, 1]);
    let expected = vec![
        (0, 7, "meta".to_string(), NONE),
        (1, 11, "meta".to_string(), NONE),
    ];
    assert_eq!(fetched(8, &answer), expected);
}

/// Bytes of every segment file of `__consumer_offsets-0`.
fn offsets_log_bytes(server: &RillServer) -> u64 {
    let dir = server.data_dir.path().join(format!("{OFFSETS_TOPIC}-0"));
    (std::fs::read_dir(dir).unwrap().map(Result::unwrap))
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn the_offsets_topic_is_compacted_and_a_restart_replays_the_cleaned_log() {
    // One offsets partition of small segments, cleaned often.
    let flags = [
        "--override",
        "group.initial.rebalance.delay.ms=0",
        "--override",
        "offsets.topic.num.partitions=1",
        "--override",
        "log.segment.bytes=4096",
        "--override",
        "offsets.topic.segment.bytes=4096",
        "--override",
        "log.cleaner.backoff.ms=100",
    ];
    let server = RillServer::start(&flags);
    let mut s = server.connect();
    create_topic(&mut s, "squeezed", 2);
    coordinator(&mut s, 3, "churn");
    coordinator(&mut s, 3, "deleted");
    commit(&mut s, 8, "deleted", &[("squeezed", 0, 3)]);
    assert_eq!(
        delete_groups(&mut s, 2, &["deleted"]),
        [("deleted".into(), NONE)]
    );
    const COMMITS: i64 = 600;
    for offset in 1..=COMMITS {
        let answer = commit(
            &mut s,
            8,
            "churn",
            &[("squeezed", 0, offset), ("squeezed", 1, 2 * offset)],
        );
        assert!(answer.topics[0]
            .partitions
            .iter()
            .all(|p| p.error_code == NONE));
    }
    // Uncleaned, each of these records takes 60 bytes or more (a batch of two per commit);
    // the cleaner leaves the latest commits, the tombstones, record-less filler batches and
    // the active segment.
    let (records, _) = common::fetch_all(&mut s, OFFSETS_TOPIC);
    assert!(
        records > 2 * COMMITS,
        "{records} records in __consumer_offsets-0"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut bytes = offsets_log_bytes(&server);
    while bytes > records as u64 * 8 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        bytes = offsets_log_bytes(&server);
    }
    assert!(
        bytes <= records as u64 * 8,
        "the cleaner left {bytes} bytes of {records} records in __consumer_offsets-0"
    );
    drop(s);

    let server = server.restart(&flags);
    let mut s = server.connect();
    coordinator(&mut s, 3, "churn");
    let answer = fetch_offsets(&mut s, 8, "churn", "squeezed", &[0, 1]);
    let expected = vec![
        (0, COMMITS, "meta".to_string(), NONE),
        (1, 2 * COMMITS, "meta".to_string(), NONE),
    ];
    assert_eq!(
        fetched(8, &answer),
        expected,
        "the latest commits, replayed cleaned"
    );
    assert!(
        is_gone(&mut s, "deleted"),
        "the deletion's tombstones were replayed"
    );
    let answer = fetch_offsets(&mut s, 8, "deleted", "squeezed", &[0]);
    assert_eq!(fetched(8, &answer)[0].1, -1, "no commit came back");
}

fn describe(s: &mut TcpStream, version: i16, groups: &[&str]) -> DescribeGroupsResponse {
    let request =
        DescribeGroupsRequest::default().with_groups(groups.iter().map(|g| group_id(g)).collect());
    retrying(
        || call(s, ApiKey::DescribeGroups, version, &request),
        |r: &DescribeGroupsResponse| {
            (r.groups.iter().map(|g| g.error_code))
                .find(|code| *code != NONE)
                .unwrap_or(NONE)
        },
    )
}

fn list(s: &mut TcpStream, version: i16, states: &[&str]) -> ListGroupsResponse {
    let request = ListGroupsRequest::default()
        .with_states_filter(states.iter().map(|state| text(state)).collect());
    retrying(
        || call(s, ApiKey::ListGroups, version, &request),
        |r: &ListGroupsResponse| r.error_code,
    )
}

/// A Stable group of one member (joined and synced at v5) with assignment "assignment".
fn stable_group(s: &mut TcpStream, group: &str) -> JoinGroupResponse {
    coordinator(s, 3, group);
    let joined = join_alone(s, 5, group);
    let synced = sync(s, 5, group, &joined);
    assert_eq!(synced.error_code, NONE, "{synced:?}");
    joined
}

#[test]
fn every_advertised_version_of_describe_groups_round_trips() {
    let server = server();
    let mut s = server.connect();
    let joined = stable_group(&mut s, "described");
    let (_, _, max) = ADVERTISED[7];
    for version in 0..=max {
        let unknown = format!("nobody-v{version}");
        let answer = describe(&mut s, version, &["described", &unknown]);
        let (known, missing) = (&answer.groups[0], &answer.groups[1]);
        assert_eq!(known.error_code, NONE, "v{version}: {known:?}");
        assert_eq!(known.group_state.as_str(), "Stable", "v{version}");
        assert_eq!(known.protocol_type.as_str(), "consumer", "v{version}");
        assert_eq!(known.protocol_data.as_str(), "range", "v{version}");
        assert_eq!(
            known.authorized_operations,
            i32::MIN,
            "v{version}: not asked"
        );
        assert_eq!(known.members.len(), 1, "v{version}");
        let member = &known.members[0];
        assert_eq!(member.member_id, joined.member_id, "v{version}");
        assert_eq!(member.client_host.as_str(), "/127.0.0.1", "v{version}");
        assert_eq!(
            member.member_metadata.as_ref(),
            b"subscription",
            "v{version}"
        );
        assert_eq!(
            member.member_assignment.as_ref(),
            b"assignment",
            "v{version}"
        );
        assert_eq!(missing.group_state.as_str(), "Dead", "v{version}");
        if version >= 6 {
            let not_found = ErrorCode::GROUP_ID_NOT_FOUND.wire();
            assert_eq!(missing.error_code, not_found, "v{version}");
            assert!(missing.error_message.is_some(), "v{version}");
        } else {
            assert_eq!(missing.error_code, NONE, "v{version}: Dead, no error");
        }
    }
    let asked = DescribeGroupsRequest::default()
        .with_groups(vec![group_id("described")])
        .with_include_authorized_operations(true);
    let answer: DescribeGroupsResponse = call(&mut s, ApiKey::DescribeGroups, 3, &asked);
    assert_ne!(
        answer.groups[0].authorized_operations,
        i32::MIN,
        "asked: a bit field"
    );
}

#[test]
fn every_advertised_version_of_list_groups_round_trips() {
    let server = server();
    let mut s = server.connect();
    stable_group(&mut s, "listed");
    create_topic(&mut s, "tool-topic", 1);
    // A tool's commit (generation -1) makes a group with offsets only: Empty, protocol "".
    coordinator(&mut s, 3, "tool");
    commit(&mut s, 8, "tool", &[("tool-topic", 0, 3)]);
    let (_, _, max) = ADVERTISED[8];
    for version in 0..=max {
        let answer = list(&mut s, version, &[]);
        assert_eq!(answer.error_code, NONE, "v{version}");
        let row = |name: &str| {
            (answer.groups.iter())
                .find(|g| g.group_id.as_str() == name)
                .unwrap_or_else(|| panic!("v{version}: {name} not listed: {answer:?}"))
        };
        let (listed, tool) = (row("listed"), row("tool"));
        assert_eq!(listed.protocol_type.as_str(), "consumer", "v{version}");
        assert_eq!(tool.protocol_type.as_str(), "", "v{version}");
        if version >= 4 {
            assert_eq!(listed.group_state.as_str(), "Stable", "v{version}");
            assert_eq!(tool.group_state.as_str(), "Empty", "v{version}");
        }
        if version >= 5 {
            assert_eq!(listed.group_type.as_str(), "classic", "v{version}");
        }
    }
    let empty_only = list(&mut s, 4, &["Empty"]);
    let names: Vec<&str> = empty_only
        .groups
        .iter()
        .map(|g| g.group_id.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["tool"],
        "the states filter keeps Empty groups only"
    );
}

fn delete_groups(s: &mut TcpStream, version: i16, groups: &[&str]) -> Vec<(String, i16)> {
    let request = DeleteGroupsRequest::default()
        .with_groups_names(groups.iter().map(|g| group_id(g)).collect());
    let answer: DeleteGroupsResponse = retrying(
        || call(s, ApiKey::DeleteGroups, version, &request),
        |r: &DeleteGroupsResponse| {
            (r.results.iter().map(|g| g.error_code))
                .find(|code| *code != NONE)
                .unwrap_or(NONE)
        },
    );
    (answer.results.iter())
        .map(|r| (r.group_id.to_string(), r.error_code))
        .collect()
}

fn offset_delete(
    s: &mut TcpStream,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> OffsetDeleteResponse {
    use kafka_protocol::messages::offset_delete_request::{
        OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
    };
    let request = OffsetDeleteRequest::default()
        .with_group_id(group_id(group))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                (partitions.iter())
                    .map(|&p| OffsetDeleteRequestPartition::default().with_partition_index(p))
                    .collect(),
            )]);
    retrying(
        || call(s, ApiKey::OffsetDelete, 0, &request),
        |r: &OffsetDeleteResponse| r.error_code,
    )
}

/// Whether DescribeGroups v6 says `group` does not exist.
fn is_gone(s: &mut TcpStream, group: &str) -> bool {
    let answer = describe(s, 6, &[group]);
    answer.groups[0].error_code == ErrorCode::GROUP_ID_NOT_FOUND.wire()
}

#[test]
fn every_advertised_version_of_the_deletions_round_trips_and_deletions_survive_kill_9() {
    let server = server();
    let mut s = server.connect();
    create_topic(&mut s, "deleted-topic", 2);
    stable_group(&mut s, "busy");
    let (_, _, max) = ADVERTISED[9];
    for version in 0..=max {
        let gone = format!("gone-v{version}");
        let never = format!("never-v{version}");
        coordinator(&mut s, 3, &gone);
        commit(&mut s, 8, &gone, &[("deleted-topic", 0, 5)]);
        assert!(
            !is_gone(&mut s, &gone),
            "v{version}: committed, so it exists"
        );
        let answer = delete_groups(&mut s, version, &[&gone, "busy", &never]);
        let expected = vec![
            (gone.clone(), NONE),
            ("busy".to_string(), ErrorCode::NON_EMPTY_GROUP.wire()),
            (never.clone(), ErrorCode::GROUP_ID_NOT_FOUND.wire()),
        ];
        assert_eq!(answer, expected, "v{version}");
        assert!(is_gone(&mut s, &gone), "v{version}: deleted");
        let offsets = fetch_offsets(&mut s, 8, &gone, "deleted-topic", &[0]);
        assert_eq!(
            fetched(8, &offsets)[0].1,
            -1,
            "v{version}: its offsets went too"
        );
    }

    coordinator(&mut s, 3, "partial");
    commit(
        &mut s,
        8,
        "partial",
        &[("deleted-topic", 0, 7), ("deleted-topic", 1, 9)],
    );
    let answer = offset_delete(&mut s, "partial", "deleted-topic", &[0]);
    assert_eq!(answer.error_code, NONE, "{answer:?}");
    assert_eq!(answer.topics[0].partitions[0].error_code, NONE);
    // "busy"'s member metadata is no ConsumerProtocolSubscription: it may read anything.
    let refused = offset_delete(&mut s, "busy", "deleted-topic", &[0]);
    assert_eq!(refused.error_code, NONE);
    let subscribed = ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC.wire();
    assert_eq!(refused.topics[0].partitions[0].error_code, subscribed);
    let unknown = offset_delete(&mut s, "nobody", "deleted-topic", &[0]);
    assert_eq!(unknown.error_code, ErrorCode::GROUP_ID_NOT_FOUND.wire());
    drop(s);

    let server = server.restart(&["--override", "group.initial.rebalance.delay.ms=0"]);
    let mut s = server.connect();
    coordinator(&mut s, 3, "gone-v0");
    assert!(is_gone(&mut s, "gone-v0"), "the deletion was replayed");
    let offsets = fetch_offsets(&mut s, 8, "partial", "deleted-topic", &[0, 1]);
    let rows: Vec<(i32, i64)> = fetched(8, &offsets).iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(
        rows,
        vec![(0, -1), (1, 9)],
        "the offset deletion was replayed"
    );
}

/// A `ConsumerProtocolSubscription` (version 0) of `topics`: a member's metadata.
fn subscription_of(topics: &[&str]) -> Bytes {
    use kafka_protocol::protocol::Encodable;
    let body = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| text(t)).collect());
    let mut buf = bytes::BytesMut::new();
    bytes::BufMut::put_i16(&mut buf, 0);
    body.encode(&mut buf, 0).expect("encodes");
    buf.freeze()
}

/// A Stable group of one member subscribing to `topics` (JoinGroup and SyncGroup v5).
fn stable_subscribed(s: &mut TcpStream, group: &str, topics: &[&str]) -> JoinGroupResponse {
    coordinator(s, 3, group);
    let request = |member_id: &str| {
        join_request(group, member_id).with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(text("range"))
            .with_metadata(subscription_of(topics))])
    };
    let first: JoinGroupResponse = retrying(
        || call(s, ApiKey::JoinGroup, 5, &request("")),
        |r: &JoinGroupResponse| r.error_code,
    );
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED, "{first:?}");
    let joined: JoinGroupResponse = call(s, ApiKey::JoinGroup, 5, &request(&first.member_id));
    assert_eq!(joined.error_code, NONE, "{joined:?}");
    let synced = sync(s, 5, group, &joined);
    assert_eq!(synced.error_code, NONE, "{synced:?}");
    joined
}

/// OffsetCommit v8 of `offset` for each (topic, partition 0) by `joined`'s member.
fn member_commit(
    s: &mut TcpStream,
    group: &str,
    joined: &JoinGroupResponse,
    offsets: &[(&str, i64)],
) {
    let topics = (offsets.iter())
        .map(|&(topic, offset)| {
            OffsetCommitRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)])
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(joined.generation_id)
        .with_member_id(joined.member_id.clone())
        .with_topics(topics);
    let answer: OffsetCommitResponse = call(s, ApiKey::OffsetCommit, 8, &request);
    let codes: Vec<i16> = (answer.topics.iter())
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    assert_eq!(codes, vec![NONE; offsets.len()], "{answer:?}");
}

/// `group`'s committed offset of `topic`'s partition 0 (-1: none).
fn committed_offset(s: &mut TcpStream, group: &str, topic: &str) -> i64 {
    fetched(8, &fetch_offsets(s, 8, group, topic, &[0]))[0].1
}

/// Offset retention (KIP-211) with `offsets.retention.minutes=1`: a simple group's commit
/// expires a minute after it was made, an active consumer group keeps its subscribed topic's
/// commit and loses the one of a topic it does not subscribe to, and the expiry is durable
/// (tombstones in `__consumer_offsets`): a `kill -9` and restart do not bring the offsets back.
#[test]
fn offsets_expire_after_the_retention_unless_their_group_still_reads_them() {
    let args = [
        "--override",
        "group.initial.rebalance.delay.ms=0",
        "--override",
        "offsets.retention.minutes=1",
        "--override",
        "offsets.retention.check.interval.ms=500",
    ];
    let server = RillServer::start(&args);
    let mut s = server.connect();
    create_topic(&mut s, "aging", 1);
    create_topic(&mut s, "unread", 1);
    let joined = stable_subscribed(&mut s, "active", &["aging"]);
    // Taken before the commits: nothing may expire within a minute of it.
    let before_commits = Instant::now();
    member_commit(&mut s, "active", &joined, &[("aging", 5), ("unread", 6)]);
    coordinator(&mut s, 3, "simple");
    commit(&mut s, 8, "simple", &[("aging", 0, 3)]);
    assert_eq!(committed_offset(&mut s, "simple", "aging"), 3);
    assert_eq!(committed_offset(&mut s, "active", "unread"), 6);

    // The member heartbeats throughout; the retention is a minute from the commits.
    let deadline = before_commits + Duration::from_secs(90);
    loop {
        assert_eq!(heartbeat(&mut s, 4, "active", &joined), NONE);
        let simple = committed_offset(&mut s, "simple", "aging");
        let unread = committed_offset(&mut s, "active", "unread");
        if simple == -1 && unread == -1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not expired 90 s after the commit: simple {simple}, unread {unread}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        before_commits.elapsed() >= Duration::from_secs(60),
        "expired before the retention"
    );
    assert_eq!(
        committed_offset(&mut s, "active", "aging"),
        5,
        "the subscribed topic's commit stays while the group is Stable"
    );
    drop(s);

    let server = server.restart(&args);
    let mut s = server.connect();
    coordinator(&mut s, 3, "simple");
    assert_eq!(committed_offset(&mut s, "simple", "aging"), -1);
    assert_eq!(committed_offset(&mut s, "active", "unread"), -1);
    assert_eq!(committed_offset(&mut s, "active", "aging"), 5);
}
