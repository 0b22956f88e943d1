//! KIP-848 consumer groups against a real `rill server`, over TCP with the protocol crate's own
//! encoders: every advertised version of ConsumerGroupHeartbeat and ConsumerGroupDescribe
//! round-trips (v0: the coordinator makes the member id; v1: the client does); a member's
//! commit is checked against its member epoch (OffsetCommit v9); a classic JoinGroup on a
//! consumer group and a ConsumerGroupHeartbeat on a busy classic group get Kafka's refusals; a
//! subscribed topic that grows starts a new group epoch; the group comes back after
//! `kill -9` from its `__consumer_offsets` records, its member at the same epoch; OffsetFetch
//! v9 checks the member and its epoch; and an Empty consumer group can be deleted for good.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // tests may read the clock and spawn processes

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use common::{call, create_topic, topic_name, RillServer};
use rill::types::ErrorCode;

const NONE: i16 = ErrorCode::NONE.wire();
const RETRIABLE: [i16; 3] = [
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.wire(),
    ErrorCode::COORDINATOR_NOT_AVAILABLE.wire(),
    ErrorCode::NOT_COORDINATOR.wire(),
];
/// How long the coordinator may take to become available (topic creation, shard load).
const COORDINATOR_WAIT: Duration = Duration::from_secs(30);
/// How many heartbeats a lone member may need to reach its whole assignment.
const MAX_BEATS: usize = 10;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Retries `ask` while it answers a code of a coordinator being created or loaded.
fn retrying<R>(mut ask: impl FnMut() -> R, code: impl Fn(&R) -> i16) -> R {
    let deadline = Instant::now() + COORDINATOR_WAIT;
    loop {
        let answer = ask();
        if !RETRIABLE.contains(&code(&answer)) || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One ConsumerGroupHeartbeat; `owned` is `None` when unchanged.
fn beat(
    s: &mut TcpStream,
    version: i16,
    group: &str,
    member: &str,
    epoch: i32,
    owned: Option<Vec<TopicPartitions>>,
) -> ConsumerGroupHeartbeatResponse {
    let mut request = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_member_id(text(member))
        .with_member_epoch(epoch)
        .with_topic_partitions(owned);
    if epoch == 0 {
        request = request
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![topic_name("orders")]));
    }
    retrying(
        || call(s, ApiKey::ConsumerGroupHeartbeat, version, &request),
        |r: &ConsumerGroupHeartbeatResponse| r.error_code,
    )
}

/// The partitions of an assignment, sorted.
fn partitions(answer: &ConsumerGroupHeartbeatResponse) -> Option<Vec<i32>> {
    answer.assignment.as_ref().map(|a| {
        let mut ps: Vec<i32> = (a.topic_partitions.iter())
            .flat_map(|t| t.partitions.iter().copied())
            .collect();
        ps.sort_unstable();
        ps
    })
}

/// Joins `group` and heartbeats (acknowledging what it was given) until it holds `want`
/// partitions; returns (member id, member epoch, the topic's id).
fn join_until_assigned(
    s: &mut TcpStream,
    version: i16,
    group: &str,
    member: &str,
    want: usize,
) -> (String, i32, uuid::Uuid) {
    let joined = beat(s, version, group, member, 0, Some(Vec::new()));
    assert_eq!(
        joined.error_code, NONE,
        "v{version}: {:?}",
        joined.error_message
    );
    let id = joined.member_id.clone().expect("a member id").to_string();
    assert!(!id.is_empty());
    if version >= 1 {
        assert_eq!(id, member, "v1: the client's id is kept");
    }
    let mut last = joined;
    for _ in 0..MAX_BEATS {
        let held = partitions(&last).unwrap_or_default();
        if held.len() == want {
            let topic = last.assignment.as_ref().unwrap().topic_partitions[0].topic_id;
            return (id, last.member_epoch, topic);
        }
        let owned = last.assignment.as_ref().map(|a| {
            (a.topic_partitions.iter())
                .map(|t| {
                    TopicPartitions::default()
                        .with_topic_id(t.topic_id)
                        .with_partitions(t.partitions.clone())
                })
                .collect()
        });
        last = beat(s, version, group, &id, last.member_epoch, owned);
        assert_eq!(last.error_code, NONE, "{:?}", last.error_message);
    }
    panic!("v{version}: not assigned {want} partitions: {last:?}");
}

fn commit(s: &mut TcpStream, group: &str, member: &str, epoch: i32, offset: i64) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_member_id(text(member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name("orders"))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    let answer: OffsetCommitResponse = call(s, ApiKey::OffsetCommit, 9, &request);
    answer.topics[0].partitions[0].error_code
}

fn describe(s: &mut TcpStream, version: i16, group: &str) -> ConsumerGroupDescribeResponse {
    let request =
        ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(text(group))]);
    retrying(
        || call(s, ApiKey::ConsumerGroupDescribe, version, &request),
        |r: &ConsumerGroupDescribeResponse| r.groups[0].error_code,
    )
}

fn server() -> RillServer {
    RillServer::start(&["--override", "group.initial.rebalance.delay.ms=0"])
}

/// FindCoordinator, as every client sends first: it creates `__consumer_offsets`.
fn find_coordinator(s: &mut TcpStream) {
    let request = FindCoordinatorRequest::default().with_key(text("any"));
    let found: FindCoordinatorResponse = retrying(
        || call(s, ApiKey::FindCoordinator, 3, &request),
        |r: &FindCoordinatorResponse| r.error_code,
    );
    assert_eq!(found.error_code, NONE);
}

#[test]
fn every_advertised_version_of_heartbeat_and_describe_round_trips() {
    let server = server();
    let mut s = server.connect();
    find_coordinator(&mut s);
    create_topic(&mut s, "orders", 3);
    for version in 0..=1i16 {
        let group = format!("kip848-v{version}");
        let (member, epoch, topic) = join_until_assigned(&mut s, version, &group, "member-a", 3);
        assert!(epoch >= 1);

        // Commits carry the member epoch: the current one is stored, an older one is stale.
        assert_eq!(commit(&mut s, &group, &member, epoch, 7), NONE);
        let stale = commit(&mut s, &group, &member, epoch - 1, 8);
        assert_eq!(stale, ErrorCode::STALE_MEMBER_EPOCH.wire());
        let fenced = commit(&mut s, &group, "someone-else", epoch, 8);
        assert_eq!(fenced, ErrorCode::UNKNOWN_MEMBER_ID.wire());

        for describe_version in 0..=1i16 {
            let described = describe(&mut s, describe_version, &group);
            let g = &described.groups[0];
            assert_eq!(g.error_code, NONE);
            assert_eq!(
                (g.group_state.as_str(), g.group_epoch, g.assignment_epoch),
                ("Stable", epoch, epoch)
            );
            assert_eq!(g.assignor_name.as_str(), "uniform");
            assert_eq!(g.members.len(), 1);
            let m = &g.members[0];
            assert_eq!(
                (m.member_id.as_str(), m.member_epoch),
                (member.as_str(), epoch)
            );
            assert_eq!(m.client_id.as_str(), "rill-test");
            let assigned = &m.assignment.topic_partitions[0];
            assert_eq!(assigned.topic_id, topic);
            assert_eq!(assigned.topic_name.0.as_str(), "orders");
            assert_eq!(assigned.partitions, vec![0, 1, 2]);
            if describe_version >= 1 {
                assert_eq!(m.member_type, 1, "a consumer-protocol member");
            }
        }

        // Leaving (epoch -1) empties the group.
        let left = beat(&mut s, version, &group, &member, -1, None);
        assert_eq!((left.error_code, left.member_epoch), (NONE, -1));
        let g = &describe(&mut s, 1, &group).groups[0];
        assert_eq!((g.group_state.as_str(), g.members.len()), ("Empty", 0));
    }
    // A group nobody made, and an empty member id at v1.
    let unknown = &describe(&mut s, 0, "nobody").groups[0];
    assert_eq!(unknown.error_code, ErrorCode::GROUP_ID_NOT_FOUND.wire());
    let refused = beat(&mut s, 1, "kip848-v1", "", 0, Some(Vec::new()));
    assert_eq!(refused.error_code, ErrorCode::INVALID_REQUEST.wire());
}

#[test]
fn each_protocol_is_refused_on_the_other_kind_of_group() {
    let server = server();
    let mut s = server.connect();
    find_coordinator(&mut s);
    create_topic(&mut s, "orders", 2);
    join_until_assigned(&mut s, 1, "new-kind", "member-a", 2);
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(text("new-kind")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default().with_name(text("range"))
        ]);
    let joined: JoinGroupResponse = call(&mut s, ApiKey::JoinGroup, 5, &join);
    assert_eq!(
        joined.error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.wire()
    );

    // A classic group with a member: a consumer-protocol heartbeat is told it is not one.
    let classic = join.with_group_id(GroupId(text("old-kind")));
    let first: JoinGroupResponse = retrying(
        || call(&mut s, ApiKey::JoinGroup, 5, &classic),
        |r: &JoinGroupResponse| r.error_code,
    );
    let member = first.member_id.clone();
    let joined: JoinGroupResponse = call(
        &mut s,
        ApiKey::JoinGroup,
        5,
        &classic.clone().with_member_id(member),
    );
    assert_eq!(joined.error_code, NONE);
    let refused = beat(&mut s, 1, "old-kind", "member-b", 0, Some(Vec::new()));
    assert_eq!(refused.error_code, ErrorCode::GROUP_ID_NOT_FOUND.wire());
    assert_eq!(
        refused.error_message.as_deref(),
        Some("Group old-kind is not a consumer group.")
    );
}

#[test]
fn a_grown_topic_and_a_broker_kill_keep_the_member_and_its_epoch() {
    let server = server();
    let mut s = server.connect();
    find_coordinator(&mut s);
    create_topic(&mut s, "orders", 2);
    let (member, epoch, _) = join_until_assigned(&mut s, 1, "grows", "member-a", 2);
    assert_eq!(commit(&mut s, "grows", &member, epoch, 5), NONE);

    // A third partition: the next heartbeat starts a new epoch that assigns it.
    let grow = CreatePartitionsRequest::default()
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(topic_name("orders"))
            .with_count(3)
            .with_assignments(None)])
        .with_timeout_ms(5_000);
    let grown: CreatePartitionsResponse = call(&mut s, ApiKey::CreatePartitions, 3, &grow);
    assert_eq!(grown.results[0].error_code, NONE);
    let next = beat(&mut s, 1, "grows", &member, epoch, None);
    assert_eq!(next.error_code, NONE);
    assert!(next.member_epoch > epoch);
    assert_eq!(partitions(&next), Some(vec![0, 1, 2]));
    let epoch = next.member_epoch;

    // kill -9: the member, its epoch and the commit come back from __consumer_offsets.
    let server = server.restart(&["--override", "group.initial.rebalance.delay.ms=0"]);
    let mut s = server.connect();
    let after = beat(&mut s, 1, "grows", &member, epoch, None);
    assert_eq!(after.error_code, NONE, "{:?}", after.error_message);
    assert_eq!(after.member_epoch, epoch);
    let g = &describe(&mut s, 1, "grows").groups[0];
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.members[0].member_id.as_str(), member);
    let mut held = g.members[0].assignment.topic_partitions[0]
        .partitions
        .clone();
    held.sort_unstable();
    assert_eq!(held, vec![0, 1, 2]);
    assert_eq!(commit(&mut s, "grows", &member, epoch, 6), NONE);
}

/// OffsetFetch v9 of `group`'s partition 0 of `orders` as `member` at `epoch` (`None`: an
/// admin's fetch): (group error code, committed offset).
fn fetch_as(s: &mut TcpStream, group: &str, member: Option<&str>, epoch: i32) -> (i16, i64) {
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    let request =
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(text(group)))
            .with_member_id(member.map(text))
            .with_member_epoch(epoch)
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(topic_name("orders"))
                .with_partition_indexes(vec![0])]))]);
    let answer: OffsetFetchResponse = call(s, ApiKey::OffsetFetch, 9, &request);
    let g = &answer.groups[0];
    let offset = (g.topics.first()).map_or(-1, |t| t.partitions[0].committed_offset);
    (g.error_code, offset)
}

fn delete_group(s: &mut TcpStream, group: &str) -> i16 {
    let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(text(group))]);
    let answer: DeleteGroupsResponse = retrying(
        || call(s, ApiKey::DeleteGroups, 2, &request),
        |r: &DeleteGroupsResponse| r.results[0].error_code,
    );
    answer.results[0].error_code
}

/// Kafka's checks of a consumer group's commits and fetches (OffsetCommit below v9 from a
/// member, OffsetFetch v9 at a stale epoch or from a stranger), and DeleteGroups of a consumer
/// group once its members left: its records and commits get tombstones, so it stays deleted
/// after kill -9.
#[test]
fn a_consumer_group_checks_member_fetches_and_is_deleted_once_empty() {
    let server = server();
    let mut s = server.connect();
    find_coordinator(&mut s);
    create_topic(&mut s, "orders", 2);
    let (member, epoch, _) = join_until_assigned(&mut s, 1, "doomed", "member-d", 2);
    assert_eq!(commit(&mut s, "doomed", &member, epoch, 11), NONE);

    let old = OffsetCommitRequest::default()
        .with_group_id(GroupId(text("doomed")))
        .with_member_id(text(&member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name("orders"))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(12)])]);
    let answer: OffsetCommitResponse = call(&mut s, ApiKey::OffsetCommit, 8, &old);
    assert_eq!(
        answer.topics[0].partitions[0].error_code,
        ErrorCode::UNSUPPORTED_VERSION.wire(),
        "a KIP-848 member must commit with v9"
    );
    assert_eq!(fetch_as(&mut s, "doomed", Some(&member), epoch), (NONE, 11));
    assert_eq!(fetch_as(&mut s, "doomed", None, -1), (NONE, 11), "an admin");
    assert_eq!(
        fetch_as(&mut s, "doomed", Some(&member), epoch + 1).0,
        ErrorCode::STALE_MEMBER_EPOCH.wire()
    );
    assert_eq!(
        fetch_as(&mut s, "doomed", Some("stranger"), epoch).0,
        ErrorCode::UNKNOWN_MEMBER_ID.wire()
    );

    // The tool describes it by ConsumerGroupDescribe (DescribeGroups is for classic groups).
    let tool = |flag: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
            .args([
                "consumer-groups",
                "--bootstrap-server",
                &server.addr.to_string(),
            ])
            .args(["--describe", "--group", "doomed", flag])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let members = tool("--members");
    assert!(members.contains(&member), "{members}");
    let state = tool("--state");
    assert!(
        state.contains("Stable") && state.contains("uniform"),
        "{state}"
    );
    let classic = DescribeGroupsRequest::default().with_groups(vec![GroupId(text("doomed"))]);
    let answer: DescribeGroupsResponse = call(&mut s, ApiKey::DescribeGroups, 6, &classic);
    assert_eq!(
        (
            answer.groups[0].error_code,
            answer.groups[0].group_state.as_str()
        ),
        (ErrorCode::GROUP_ID_NOT_FOUND.wire(), "Dead"),
        "not a classic group"
    );

    assert_eq!(
        delete_group(&mut s, "doomed"),
        ErrorCode::NON_EMPTY_GROUP.wire()
    );
    let left = beat(&mut s, 1, "doomed", &member, -1, None);
    assert_eq!(left.error_code, NONE);
    assert_eq!(delete_group(&mut s, "doomed"), NONE);
    assert_eq!(
        describe(&mut s, 1, "doomed").groups[0].error_code,
        ErrorCode::GROUP_ID_NOT_FOUND.wire()
    );
    assert_eq!(fetch_as(&mut s, "doomed", None, -1), (NONE, -1));
    drop(s);

    let server = server.restart(&["--override", "group.initial.rebalance.delay.ms=0"]);
    let mut s = server.connect();
    find_coordinator(&mut s);
    assert_eq!(
        describe(&mut s, 1, "doomed").groups[0].error_code,
        ErrorCode::GROUP_ID_NOT_FOUND.wire(),
        "the deletion was replayed"
    );
    assert_eq!(fetch_as(&mut s, "doomed", None, -1), (NONE, -1));
}
