//! The per-version response builders: every served version of each group API encodes (the crate
//! refuses a field the version lacks, which would close the client's connection) and decodes
//! back to what the coordinator answered, for a success and for an error. Then the gateway's own
//! answers, with a fake node standing in for the actors.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatResponse,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchResponse, RequestHeader, ResponseHeader, SyncGroupResponse,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, Message, StrBytes};

use super::find_coordinator::{self, Found};
use super::membership::{
    heartbeat_response, join_args, join_response, leave_response, sync_response,
};
use super::offsets::{commit_response, fetch_response, split_known};
use super::Caller;
use crate::actor::fake_client::FakeClient;
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::settings::{BrokerAddress, GatewaySettings};
use crate::broker::BrokerService;
use crate::messages::quorum::{
    Listener, PartitionView, QuorumReply, QuorumRequest, QuorumState, RegisteredBroker,
};
use crate::messages::txn::TXN_STATE_TOPIC;
use crate::messages::QUORUM;
use crate::messages::{
    CommittedOffset, GroupOffsets, GroupsReply, GroupsRequest, InternalTopic, JoinGroupResult,
    JoinedMember, LeaveGroupResult, LeftMember, NodeMsg, SyncGroupResult, TopicMeta, TopicsReply,
    TopicsRequest, GROUPS, TOPICS,
};
use crate::protocol::frame::peek_header;
use crate::protocol::versions::GROUP_VERSIONS;
use crate::types::{BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Offset, Refusal, TopicPartition};

/// Every version the gateway serves of `key` (the crate's whole request range for
/// FindCoordinator, whose batch form is built too).
fn served(key: ApiKey) -> std::ops::RangeInclusive<i16> {
    if key == ApiKey::FindCoordinator {
        let all = FindCoordinatorRequest::VERSIONS;
        return all.min..=all.max;
    }
    let row = GROUP_VERSIONS.iter().find(|s| s.key == key).unwrap();
    row.min..=row.max
}

/// Encodes at `version` and decodes back; a field the version lacks fails the encode.
fn round_trip<R: Encodable + Decodable>(response: &R, version: i16) -> R {
    let mut buf = BytesMut::new();
    response
        .encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("v{version}: {e}"));
    let mut bytes = buf.freeze();
    let decoded = R::decode(&mut bytes, version).unwrap();
    assert!(bytes.is_empty(), "v{version}: trailing bytes");
    decoded
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

fn committed(offset: i64) -> CommittedOffset {
    CommittedOffset {
        offset: Offset(offset),
        leader_epoch: LeaderEpoch(3),
        metadata: Some("m".into()),
    }
}

fn joined(error_code: ErrorCode) -> JoinGroupResult {
    let ok = error_code == ErrorCode::NONE;
    JoinGroupResult {
        error_code,
        generation: if ok { 1 } else { -1 },
        protocol_type: ok.then(|| "consumer".into()),
        protocol_name: ok.then(|| "range".into()),
        leader: if ok { "m-1".into() } else { String::new() },
        skip_assignment: false,
        member_id: "m-1".into(),
        members: if ok {
            vec![JoinedMember {
                member_id: "m-1".into(),
                instance_id: Some("i-1".into()),
                metadata: vec![1, 2, 3],
            }]
        } else {
            Vec::new()
        },
    }
}

#[test]
fn join_group_answers_encode_at_every_version() {
    for version in served(ApiKey::JoinGroup) {
        let ok: JoinGroupResponse =
            round_trip(&join_response(joined(ErrorCode::NONE), version), version);
        assert_eq!((ok.error_code, ok.generation_id), (0, 1), "v{version}");
        assert_eq!(ok.protocol_name.as_deref(), Some("range"));
        assert_eq!((ok.leader.as_str(), ok.member_id.as_str()), ("m-1", "m-1"));
        assert_eq!(ok.members.len(), 1);
        assert_eq!(ok.members[0].metadata.as_ref(), [1, 2, 3]);
        let instance = ok.members[0].group_instance_id.as_deref();
        assert_eq!(instance, (version >= 5).then_some("i-1"), "v{version}");
        let protocol_type = ok.protocol_type.as_deref();
        assert_eq!(protocol_type, (version >= 7).then_some("consumer"));

        let required = join_response(joined(ErrorCode::MEMBER_ID_REQUIRED), version);
        let required: JoinGroupResponse = round_trip(&required, version);
        assert_eq!(required.error_code, ErrorCode::MEMBER_ID_REQUIRED.wire());
        assert_eq!(required.member_id.as_str(), "m-1");
        // Not nullable before v7: Kafka's "" (the crate would write a null).
        let name = required.protocol_name.as_deref();
        assert_eq!(
            name,
            if version < 7 { Some("") } else { None },
            "v{version}"
        );
    }
}

#[test]
fn join_group_v9_says_skip_assignment() {
    let mut result = joined(ErrorCode::NONE);
    result.skip_assignment = true;
    assert!(round_trip(&join_response(result.clone(), 9), 9).skip_assignment);
    // Before v9 the field does not exist and is left unset.
    assert!(!join_response(result, 8).skip_assignment);
}

#[test]
fn join_args_follow_the_version() {
    let caller = Caller {
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    };
    let body = JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_session_timeout_ms(6000)
        .with_rebalance_timeout_ms(30_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_reason(Some(StrBytes::from_static_str("why")));
    let v0 = join_args(body.clone(), 0, caller.clone());
    assert_eq!(v0.rebalance_timeout_ms, 6000, "v0 has none: the session's");
    assert!(!v0.requires_known_member_id);
    let v4 = join_args(body, 4, caller);
    assert_eq!(v4.rebalance_timeout_ms, 30_000);
    assert!(v4.requires_known_member_id);
    assert_eq!(
        (v4.client_id.as_str(), v4.client_host.as_str()),
        ("c", "/127.0.0.1")
    );
    assert_eq!(v4.protocol_type, "consumer");
}

#[test]
fn sync_group_answers_encode_at_every_version() {
    for version in served(ApiKey::SyncGroup) {
        for code in [ErrorCode::NONE, ErrorCode::REBALANCE_IN_PROGRESS] {
            let result = SyncGroupResult {
                error_code: code,
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignment: vec![9, 9],
            };
            let back: SyncGroupResponse = round_trip(&sync_response(result, version), version);
            assert_eq!(back.error_code, code.wire());
            assert_eq!(back.assignment.as_ref(), [9, 9]);
            let name = back.protocol_name.as_deref();
            assert_eq!(name, (version >= 5).then_some("range"), "v{version}");
        }
    }
}

#[test]
fn heartbeat_answers_encode_at_every_version() {
    for version in served(ApiKey::Heartbeat) {
        for code in [ErrorCode::NONE, ErrorCode::ILLEGAL_GENERATION] {
            let back: HeartbeatResponse = round_trip(&heartbeat_response(code), version);
            assert_eq!(back.error_code, code.wire(), "v{version}");
        }
    }
}

#[test]
fn leave_group_answers_encode_at_every_version() {
    let left = |top: ErrorCode, member: ErrorCode| LeaveGroupResult {
        error_code: top,
        members: vec![
            LeftMember {
                member_id: "a".into(),
                instance_id: None,
                error_code: ErrorCode::NONE,
            },
            LeftMember {
                member_id: "b".into(),
                instance_id: Some("i".into()),
                error_code: member,
            },
        ],
    };
    for version in served(ApiKey::LeaveGroup) {
        let ok = left(ErrorCode::NONE, ErrorCode::NONE);
        let back: LeaveGroupResponse = round_trip(&leave_response(ok, version), version);
        assert_eq!(back.error_code, 0);
        assert_eq!(back.members.len(), if version >= 3 { 2 } else { 0 });

        let one_unknown = left(ErrorCode::NONE, ErrorCode::UNKNOWN_MEMBER_ID);
        let back: LeaveGroupResponse = round_trip(&leave_response(one_unknown, version), version);
        if version >= 3 {
            assert_eq!(back.error_code, 0);
            assert_eq!(
                back.members[1].error_code,
                ErrorCode::UNKNOWN_MEMBER_ID.wire()
            );
            assert_eq!(back.members[1].group_instance_id.as_deref(), Some("i"));
        } else {
            // One code only: the member's error stands for the request's.
            assert_eq!(
                back.error_code,
                ErrorCode::UNKNOWN_MEMBER_ID.wire(),
                "v{version}"
            );
        }

        let refused = left(ErrorCode::NOT_COORDINATOR, ErrorCode::NONE);
        let back: LeaveGroupResponse = round_trip(&leave_response(refused, version), version);
        assert_eq!(back.error_code, ErrorCode::NOT_COORDINATOR.wire());
    }
}

#[test]
fn offset_commit_answers_encode_at_every_version() {
    for version in served(ApiKey::OffsetCommit) {
        let results = vec![
            (tp("a", 0), ErrorCode::NONE),
            (tp("b", 0), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            (tp("a", 1), ErrorCode::ILLEGAL_GENERATION),
        ];
        let back: OffsetCommitResponse = round_trip(&commit_response(results), version);
        let got: Vec<(String, Vec<(i32, i16)>)> = back
            .topics
            .iter()
            .map(|t| {
                let ps = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition_index, p.error_code));
                (t.name.0.to_string(), ps.collect())
            })
            .collect();
        let expected = vec![
            (
                "a".to_string(),
                vec![(0, 0), (1, ErrorCode::ILLEGAL_GENERATION.wire())],
            ),
            (
                "b".to_string(),
                vec![(0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.wire())],
            ),
        ];
        assert_eq!(got, expected, "v{version}");
    }
}

fn fetched(error_code: ErrorCode) -> Vec<GroupOffsets> {
    let partitions = if error_code == ErrorCode::NONE {
        vec![(tp("a", 0), committed(42), ErrorCode::NONE)]
    } else {
        Vec::new()
    };
    vec![GroupOffsets {
        group: "g".into(),
        error_code,
        partitions,
    }]
}

/// (topic, partition, offset, epoch, metadata, code) of each partition of a v1-7 answer.
type Row = (String, i32, i64, i32, Option<String>, i16);

fn rows_v7(back: &OffsetFetchResponse) -> Vec<Row> {
    let mut rows = Vec::new();
    for t in &back.topics {
        for p in &t.partitions {
            let metadata = p.metadata.as_ref().map(|m| m.to_string());
            let row = (t.name.0.to_string(), p.partition_index, p.committed_offset);
            rows.push((
                row.0,
                row.1,
                row.2,
                p.committed_leader_epoch,
                metadata,
                p.error_code,
            ));
        }
    }
    rows
}

#[test]
fn offset_fetch_answers_encode_at_every_version() {
    let asked = [tp("a", 0), tp("a", 1)];
    for version in served(ApiKey::OffsetFetch) {
        let ok = fetch_response(fetched(ErrorCode::NONE), Some(&asked), version);
        let back: OffsetFetchResponse = round_trip(&ok, version);
        let loading = fetch_response(
            fetched(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            Some(&asked),
            version,
        );
        let back_err: OffsetFetchResponse = round_trip(&loading, version);
        let load = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.wire();
        if version >= 8 {
            assert!(back.topics.is_empty(), "v{version}: groups only");
            let g = &back.groups[0];
            assert_eq!((g.group_id.0.as_str(), g.error_code), ("g", 0));
            let p = &g.topics[0].partitions[0];
            assert_eq!((g.topics[0].name.0.as_str(), p.partition_index), ("a", 0));
            assert_eq!((p.committed_offset, p.committed_leader_epoch), (42, 3));
            assert_eq!(p.metadata.as_deref(), Some("m"));
            assert_eq!(back_err.groups[0].error_code, load);
            continue;
        }
        assert!(back.groups.is_empty(), "v{version}: topics only");
        let epoch = if version >= 5 { 3 } else { -1 };
        let row = ("a".to_string(), 0, 42, epoch, Some("m".to_string()), 0);
        assert_eq!(rows_v7(&back), vec![row], "v{version}");
        if version >= 2 {
            assert_eq!(back_err.error_code, load, "v{version}");
            assert!(back_err.topics.is_empty());
        } else {
            // No top-level code in v1: each partition asked carries it.
            let row = |p| ("a".to_string(), p, -1, -1, Some(String::new()), load);
            assert_eq!(rows_v7(&back_err), vec![row(0), row(1)]);
        }
    }
}

#[test]
fn find_coordinator_answers_encode_at_every_version() {
    let node = Found::Node(1, "localhost".into(), 9092);
    let refused = Found::Refused(
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        "the coordinator is not available".into(),
    );
    for version in served(ApiKey::FindCoordinator) {
        let answers = vec![
            ("g".to_string(), node.clone()),
            ("h".to_string(), refused.clone()),
        ];
        let back: FindCoordinatorResponse =
            round_trip(&find_coordinator::response(answers, version), version);
        if version >= 4 {
            let c = &back.coordinators;
            assert_eq!(c.len(), 2);
            assert_eq!(
                (c[0].key.as_str(), c[0].node_id.0, c[0].port),
                ("g", 1, 9092)
            );
            assert_eq!(c[1].error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.wire());
            assert_eq!(c[1].node_id.0, -1);
            continue;
        }
        // One key below v4: the first answer.
        assert_eq!((back.error_code, back.node_id.0, back.port), (0, 1, 9092));
        assert_eq!(back.host.as_str(), "localhost");
        let only_refused = vec![("h".to_string(), refused.clone())];
        let back: FindCoordinatorResponse =
            round_trip(&find_coordinator::response(only_refused, version), version);
        assert_eq!(back.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.wire());
        assert_eq!(
            (back.node_id.0, back.host.as_str(), back.port),
            (-1, "", -1)
        );
        if version >= 1 {
            // v0 has no message (the crate decodes its default).
            let message = back.error_message.as_deref();
            assert_eq!(
                message,
                Some("the coordinator is not available"),
                "v{version}"
            );
        }
    }
}

#[test]
fn a_commit_is_split_by_what_the_registry_knows() {
    let meta = TopicMeta {
        id: [0; 16],
        partitions: 2,
        replication_factor: 1,
        configs: BTreeMap::new(),
        assignment: Vec::new(),
    };
    let topics = BTreeMap::from([("a".to_string(), meta)]);
    let offsets = vec![
        (tp("a", 1), committed(1)),
        (tp("a", 2), committed(2)),
        (tp("nope", 0), committed(3)),
        (tp("a", -1), committed(4)),
    ];
    let (known, unknown) = split_known(offsets, &topics, super::offsets::Known::Partition);
    assert_eq!(known, vec![(tp("a", 1), committed(1))]);
    assert_eq!(unknown, vec![tp("a", 2), tp("nope", 0), tp("a", -1)]);
}

// The gateway's handlers, with a fake node, called through `group_api` directly.

/// The broker tests' settings, with an advertised listener for FindCoordinator to name.
fn settings() -> GatewaySettings {
    GatewaySettings {
        node_id: NodeId(7),
        cluster_id: "test-cluster".to_owned(),
        voters: Vec::new(),
        advertised: Some(BrokerAddress {
            host: "broker.example".into(),
            port: 9092,
        }),
        ..crate::broker::tests::settings()
    }
}

fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> KafkaRequest {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(5)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let frame = buf.freeze();
    KafkaRequest {
        prefix: peek_header(&frame).unwrap(),
        frame,
        client: "10.1.2.3:5555".parse().unwrap(),
        context: Default::default(),
        mute: Default::default(),
    }
}

/// Runs the request through `group_api`; the fake answers at once, so nothing waits.
fn run<Resp: Decodable>(
    service: &BrokerService<FakeClient<NodeMsg>>,
    key: ApiKey,
    request: KafkaRequest,
) -> Resp {
    let version = request.prefix.api_version;
    let pending = service
        .group_api(key, &request)
        .now_or_never()
        .expect("no wait");
    let answer = match pending {
        Pending::Ready(answer) => answer,
        Pending::Later(later) => later.now_or_never().expect("no wait").unwrap(),
        Pending::Close(reason) => panic!("closed: {reason}"),
        Pending::Last(_) => panic!("a group API never closes after answering"),
    };
    let bytes: Vec<u8> = answer
        .expect("answered")
        .as_chunks()
        .iter()
        .flat_map(|c| c.to_vec())
        .collect();
    let mut body = Bytes::from(bytes).slice(4..);
    let header = ResponseHeader::decode(&mut body, key.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, 5);
    Resp::decode(&mut body, version).unwrap()
}

fn offsets_topic_listed() -> NodeMsg {
    let meta = TopicMeta {
        id: [1; 16],
        partitions: 50,
        replication_factor: 1,
        configs: BTreeMap::new(),
        assignment: Vec::new(),
    };
    let topics = BTreeMap::from([(crate::messages::OFFSETS_TOPIC.to_string(), meta)]);
    NodeMsg::TopicsReply(TopicsReply::List(topics))
}

#[test]
fn find_coordinator_names_this_broker_once_the_offsets_topic_exists() {
    let client = FakeClient::default();
    client.reply(TOPICS, offsets_topic_listed());
    let service = BrokerService::new(client.clone(), settings());
    let body = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let back: FindCoordinatorResponse = run(
        &service,
        ApiKey::FindCoordinator,
        frame(ApiKey::FindCoordinator, 1, &body),
    );
    assert_eq!((back.error_code, back.node_id.0, back.port), (0, 7, 9092));
    assert_eq!(back.host.as_str(), "broker.example");
    let asked = client.take_asked();
    assert!(
        matches!(
            asked.as_slice(),
            [
                (_, NodeMsg::Topics(TopicsRequest::List)),
                (_, NodeMsg::Quorum(QuorumRequest::Describe))
            ]
        ),
        "the topics and the brokers: {asked:?}"
    );
}

#[test]
fn find_coordinator_names_the_broker_leading_the_groups_offsets_partition() {
    let client = FakeClient::default();
    // Group "g" hashes to partition 1 of 2; broker 9 leads it, broker 7 (this one) the other.
    let view = |leader: u64| PartitionView {
        replicas: vec![NodeId(leader)],
        isr: vec![NodeId(leader)],
        leader: Some(NodeId(leader)),
        leader_epoch: LeaderEpoch(0),
        partition_epoch: 0,
        adding: vec![],
        removing: vec![],
        elr: vec![],
    };
    assert_eq!(crate::group::placement::offsets_partition("g", 2), 1);
    let meta = TopicMeta {
        id: [1; 16],
        partitions: 2,
        replication_factor: 1,
        configs: BTreeMap::new(),
        assignment: vec![view(7), view(9)],
    };
    let topics = BTreeMap::from([(crate::messages::OFFSETS_TOPIC.to_string(), meta)]);
    client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::List(topics)));
    let broker = |id: u64, host: &str, fenced: bool| RegisteredBroker {
        node_id: NodeId(id),
        epoch: BrokerEpoch(1),
        fenced,
        listeners: vec![Listener {
            name: "PLAINTEXT".into(),
            host: host.into(),
            port: 9000 + id as u16,
        }],
        rack: None,
    };
    let state = QuorumState {
        node_id: NodeId(7),
        leader: Some(NodeId(7)),
        term: 1,
        commit_index: 5,
        applied_index: 5,
        last_index: 5,
        cluster_id: Some([2; 16]),
        followers: Vec::new(),
        observers: Vec::new(),
        brokers: vec![broker(7, "seven", false), broker(9, "nine", false)],
    };
    client.reply(
        QUORUM,
        NodeMsg::QuorumReply(QuorumReply::Described(state.clone())),
    );
    let service = BrokerService::new(client.clone(), settings());
    let body = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let back: FindCoordinatorResponse = run(
        &service,
        ApiKey::FindCoordinator,
        frame(ApiKey::FindCoordinator, 1, &body),
    );
    assert_eq!((back.error_code, back.node_id.0, back.port), (0, 9, 9009));
    assert_eq!(back.host.as_str(), "nine");

    // Fenced, broker 9 is no coordinator: retriable COORDINATOR_NOT_AVAILABLE.
    client.reply(
        TOPICS,
        NodeMsg::TopicsReply(TopicsReply::List(BTreeMap::from([(
            crate::messages::OFFSETS_TOPIC.to_string(),
            TopicMeta {
                id: [1; 16],
                partitions: 2,
                replication_factor: 1,
                configs: BTreeMap::new(),
                assignment: vec![view(7), view(9)],
            },
        )]))),
    );
    let fenced = QuorumState {
        brokers: vec![broker(7, "seven", false), broker(9, "nine", true)],
        ..state
    };
    client.reply(QUORUM, NodeMsg::QuorumReply(QuorumReply::Described(fenced)));
    let back: FindCoordinatorResponse = run(
        &service,
        ApiKey::FindCoordinator,
        frame(ApiKey::FindCoordinator, 1, &body),
    );
    assert_eq!(back.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.wire());
    assert_eq!(back.node_id.0, -1);
}

#[test]
fn find_coordinator_creates_the_offsets_topic_or_says_not_available() {
    let client = FakeClient::default();
    client.reply(
        TOPICS,
        NodeMsg::TopicsReply(TopicsReply::List(BTreeMap::new())),
    );
    let refusal = Refusal::new(ErrorCode::COORDINATOR_NOT_AVAILABLE, "not yet".to_string());
    client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::Refused(refusal)));
    let service = BrokerService::new(client.clone(), settings());
    let body = FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g"));
    let back: FindCoordinatorResponse = run(
        &service,
        ApiKey::FindCoordinator,
        frame(ApiKey::FindCoordinator, 2, &body),
    );
    assert_eq!(back.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.wire());
    assert_eq!(back.node_id.0, -1);
    let asked = client.take_asked();
    assert!(
        matches!(
            asked[1].1,
            NodeMsg::Topics(TopicsRequest::EnsureInternal(_))
        ),
        "{asked:?}"
    );
}

#[test]
fn find_coordinator_for_a_transactional_id_names_the_leader_of_its_state_partition() {
    let client = FakeClient::default();
    let meta = TopicMeta {
        id: [3; 16],
        partitions: 50,
        replication_factor: 1,
        configs: BTreeMap::new(),
        assignment: Vec::new(),
    };
    let topics = BTreeMap::from([(TXN_STATE_TOPIC.to_string(), meta)]);
    client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::List(topics)));
    let service = BrokerService::new(client.clone(), settings());
    let body = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("txn"))
        .with_key_type(1);
    let back: FindCoordinatorResponse = run(
        &service,
        ApiKey::FindCoordinator,
        frame(ApiKey::FindCoordinator, 3, &body),
    );
    assert_eq!((back.error_code, back.node_id.0, back.port), (0, 7, 9092));
    assert_eq!(back.host.as_str(), "broker.example");
    let asked = client.take_asked();
    assert!(
        matches!(
            asked.as_slice(),
            [
                (_, NodeMsg::Topics(TopicsRequest::List)),
                (_, NodeMsg::Quorum(QuorumRequest::Describe))
            ]
        ),
        "the topics and the brokers, nothing created: {asked:?}"
    );
}

#[test]
fn find_coordinator_for_a_transactional_id_creates_the_state_topic_or_says_not_available() {
    let client = FakeClient::default();
    // Only the offsets topic exists: the transaction state topic is still to be created.
    client.reply(TOPICS, offsets_topic_listed());
    let refusal = Refusal::new(ErrorCode::COORDINATOR_NOT_AVAILABLE, "not yet".to_string());
    client.reply(TOPICS, NodeMsg::TopicsReply(TopicsReply::Refused(refusal)));
    let service = BrokerService::new(client.clone(), settings());
    let body = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("txn"))
        .with_key_type(1);
    let back: FindCoordinatorResponse = run(
        &service,
        ApiKey::FindCoordinator,
        frame(ApiKey::FindCoordinator, 3, &body),
    );
    assert_eq!(back.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.wire());
    assert_eq!(back.node_id.0, -1);
    let message = back.error_message.as_deref().unwrap_or_default();
    assert!(message.contains(TXN_STATE_TOPIC), "{message}");
    let asked = client.take_asked();
    assert!(
        matches!(
            &asked[1].1,
            NodeMsg::Topics(TopicsRequest::EnsureInternal(ensure))
                if ensure.topic == InternalTopic::TransactionState
        ),
        "{asked:?}"
    );
}

#[test]
fn a_join_carries_the_callers_client_id_and_host_to_the_coordinator() {
    let client = FakeClient::default();
    client.reply(
        GROUPS,
        NodeMsg::GroupsReply(GroupsReply::Joined(joined(ErrorCode::MEMBER_ID_REQUIRED))),
    );
    let service = BrokerService::new(client.clone(), settings());
    let body = JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_session_timeout_ms(6000)
        .with_protocol_type(StrBytes::from_static_str("consumer"));
    let back: JoinGroupResponse = run(
        &service,
        ApiKey::JoinGroup,
        frame(ApiKey::JoinGroup, 5, &body),
    );
    assert_eq!(back.error_code, ErrorCode::MEMBER_ID_REQUIRED.wire());
    assert_eq!(back.protocol_name.as_deref(), Some(""));
    let asked = client.take_asked();
    let NodeMsg::Groups(GroupsRequest::Join(args)) = &asked[0].1 else {
        panic!("{asked:?}");
    };
    assert_eq!(asked[0].0, GROUPS);
    assert_eq!(
        (args.client_id.as_str(), args.client_host.as_str()),
        ("rdkafka", "/10.1.2.3")
    );
    assert!(args.requires_known_member_id);
}

#[test]
fn an_empty_group_id_is_refused_without_asking() {
    let client = FakeClient::default();
    let service = BrokerService::new(client.clone(), settings());
    let body = JoinGroupRequest::default().with_member_id(StrBytes::from_static_str("m"));
    let back: JoinGroupResponse = run(
        &service,
        ApiKey::JoinGroup,
        frame(ApiKey::JoinGroup, 2, &body),
    );
    assert_eq!(back.error_code, ErrorCode::INVALID_GROUP_ID.wire());
    assert_eq!(back.member_id.as_str(), "m");
    assert!(client.take_asked().is_empty());
}

#[test]
fn a_commit_to_unknown_topics_only_never_reaches_the_coordinator() {
    let client = FakeClient::default();
    client.reply(
        TOPICS,
        NodeMsg::TopicsReply(TopicsReply::List(BTreeMap::new())),
    );
    let service = BrokerService::new(client.clone(), settings());
    let body = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("nope")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(5)])]);
    let back: OffsetCommitResponse = run(
        &service,
        ApiKey::OffsetCommit,
        frame(ApiKey::OffsetCommit, 8, &body),
    );
    let code = back.topics[0].partitions[0].error_code;
    assert_eq!(code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.wire());
    assert_eq!(client.take_asked().len(), 1, "the registry only");
}

#[test]
fn describe_and_list_answers_encode_at_every_served_version() {
    use super::admin::{describe_response, list_response};
    use crate::messages::{DescribedMember, GroupDescription, ListGroupsResult, ListedGroup};
    use kafka_protocol::messages::{DescribeGroupsResponse, ListGroupsResponse};

    let stable = GroupDescription {
        group: "g".into(),
        error_code: ErrorCode::NONE,
        error_message: None,
        state: "Stable".into(),
        protocol_type: "consumer".into(),
        protocol: "range".into(),
        members: vec![DescribedMember {
            member_id: "m".into(),
            instance_id: Some("static".into()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            metadata: b"meta".to_vec(),
            assignment: b"assigned".to_vec(),
        }],
    };
    let unknown = GroupDescription {
        group: "gone".into(),
        error_code: ErrorCode::GROUP_ID_NOT_FOUND,
        error_message: Some("Group gone not found.".into()),
        state: "Dead".into(),
        protocol_type: String::new(),
        protocol: String::new(),
        members: Vec::new(),
    };
    for version in served(ApiKey::DescribeGroups) {
        let built = describe_response(vec![stable.clone(), unknown.clone()], version, |_| 328);
        let back: DescribeGroupsResponse = round_trip(&built, version);
        let member = &back.groups[0].members[0];
        assert_eq!(member.member_assignment.as_ref(), b"assigned", "v{version}");
        let instance = member.group_instance_id.as_ref().map(|s| s.as_str());
        assert_eq!(instance, (version >= 4).then_some("static"), "v{version}");
        let operations = back.groups[0].authorized_operations;
        assert_eq!(
            operations,
            if version >= 3 { 328 } else { i32::MIN },
            "v{version}"
        );
        let code = back.groups[1].error_code;
        let expected = if version >= 6 {
            ErrorCode::GROUP_ID_NOT_FOUND
        } else {
            ErrorCode::NONE
        };
        assert_eq!(code, expected.wire(), "v{version}");
    }
    let listed = ListGroupsResult {
        error_code: ErrorCode::NONE,
        groups: vec![ListedGroup {
            group: "g".into(),
            protocol_type: "consumer".into(),
            state: "Stable".into(),
            group_type: "classic".into(),
        }],
    };
    for version in served(ApiKey::ListGroups) {
        let back: ListGroupsResponse = round_trip(&list_response(listed.clone(), version), version);
        let row = &back.groups[0];
        assert_eq!(row.group_id.as_str(), "g", "v{version}");
        let state = if version >= 4 { "Stable" } else { "" };
        assert_eq!(row.group_state.as_str(), state, "v{version}");
        let kind = if version >= 5 { "classic" } else { "" };
        assert_eq!(row.group_type.as_str(), kind, "v{version}");
    }
}

#[test]
fn deletion_answers_encode_at_every_served_version() {
    use super::admin::{delete_response, offset_delete_response};
    use crate::messages::OffsetDeleteResult;
    use kafka_protocol::messages::{DeleteGroupsResponse, OffsetDeleteResponse};

    for version in served(ApiKey::DeleteGroups) {
        let built = delete_response(vec![("g".into(), ErrorCode::NON_EMPTY_GROUP)]);
        let back: DeleteGroupsResponse = round_trip(&built, version);
        assert_eq!(back.results[0].group_id.as_str(), "g", "v{version}");
        let code = ErrorCode::NON_EMPTY_GROUP.wire();
        assert_eq!(back.results[0].error_code, code, "v{version}");
    }
    let deleted = OffsetDeleteResult {
        error_code: ErrorCode::NONE,
        partitions: vec![
            (tp("a", 0), ErrorCode::NONE),
            (tp("b", 0), ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC),
            (tp("a", 1), ErrorCode::NONE),
        ],
    };
    for version in served(ApiKey::OffsetDelete) {
        let back: OffsetDeleteResponse =
            round_trip(&offset_delete_response(deleted.clone()), version);
        let topics: Vec<(&str, usize)> = (back.topics.iter())
            .map(|t| (t.name.as_str(), t.partitions.len()))
            .collect();
        assert_eq!(
            topics,
            vec![("a", 2), ("b", 1)],
            "v{version}: grouped by topic"
        );
    }
}
