//! The gateway's per-request checks with an authorizer on: what a principal without an ACL is
//! answered, that nothing refused reaches an actor, and that an ACL or `super.users` lets the
//! same request through. The actors are a [`FakeClient`]; the ACLs are published as the
//! node's metadata voter publishes them.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, FetchRequest, FetchResponse, GroupId,
    JoinGroupRequest, JoinGroupResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::service::{ConnectionContext, KafkaRequest, KafkaService, Pending};
use super::tests::{request_from, settings};
use super::BrokerService;
use crate::actor::fake_client::FakeClient;
use crate::messages::acls::PublishedAcls;
use crate::messages::{
    NodeMsg, PartitionsReply, ProducePartitionResult, TopicDeletion, TopicMeta, TopicsReply,
    TopicsRequest, PARTITIONS, TOPICS,
};
use crate::security::acl::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, Authorizer,
    AuthorizerSettings, PatternType, ResourcePattern, ResourceType,
};
use crate::security::principal::KafkaPrincipal;
use crate::storage::batch::build_batch;
use crate::types::{ErrorCode, Offset, TopicPartition};

/// A gateway with an authorizer (`super.users=User:admin`) over these ACLs, each
/// `(principal, operation, resource type, name)`, ALLOW from any host, LITERAL.
fn gateway(
    acls: &[(&str, AclOperation, ResourceType, &str)],
) -> (Arc<BrokerService<FakeClient<NodeMsg>>>, FakeClient<NodeMsg>) {
    let mut authorizer = Authorizer::default();
    for (i, (principal, operation, resource_type, name)) in acls.iter().enumerate() {
        let binding = AclBinding::new(
            ResourcePattern::new(*resource_type, name, PatternType::Literal),
            AccessControlEntry::new(principal, "*", *operation, AclPermissionType::Allow),
        );
        authorizer
            .add([i as u8 + 1; 16], binding)
            .expect("a valid ACL");
    }
    let published = PublishedAcls::default();
    published.publish(&Arc::new(authorizer));
    let mut settings = settings();
    settings.authorizer = Some(AuthorizerSettings {
        super_users: ["User:admin".to_string()].into(),
        allow_everyone_if_no_acl_found: false,
    });
    let client = FakeClient::default();
    (
        BrokerService::with_acls(client.clone(), settings, published),
        client,
    )
}

/// A request frame of `key` at `version` from `user`.
fn request<R: Encodable>(key: ApiKey, version: i16, body: &R, user: &str) -> KafkaRequest {
    let context = Arc::new(ConnectionContext {
        listener: "SASL_PLAINTEXT".to_string(),
        principal: KafkaPrincipal::user(user),
    });
    request_from(key, version, body, context)
}

/// The decoded response to `request` (the fake answers at once).
fn respond<Resp: Decodable>(
    service: &BrokerService<FakeClient<NodeMsg>>,
    key: ApiKey,
    request: KafkaRequest,
) -> Resp {
    let version = request.prefix.api_version;
    let answer = match service.dispatch(request).now_or_never().expect("no wait") {
        Pending::Later(reply) => reply.now_or_never().expect("no wait"),
        Pending::Ready(answer) => Ok(answer),
        Pending::Close(reason) => Err(reason),
        Pending::Last(_) => Err("answered, then closed".into()),
    };
    let answer = answer.expect("answered").expect("an answer is owed");
    let mut bytes = Bytes::from(answer.as_chunks().concat());
    let _size = bytes.split_to(4);
    ResponseHeader::decode(&mut bytes, key.response_header_version(version)).unwrap();
    Resp::decode(&mut bytes, version).unwrap()
}

fn produce_body(acks: i16) -> ProduceRequest {
    let batch = build_batch(&[(None, b"v")], 1_000);
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(batch)))])])
}

fn produced() -> NodeMsg {
    let tp = TopicPartition {
        topic: "t".into(),
        partition: 0,
    };
    let result = ProducePartitionResult {
        error_code: ErrorCode::NONE,
        error_message: None,
        record_errors: Vec::new(),
        base_offset: Offset(0),
        log_append_time_ms: -1,
        log_start_offset: Offset(0),
    };
    NodeMsg::PartitionsReply(PartitionsReply::Produce(vec![(tp, result)]))
}

fn produce_code(response: &ProduceResponse) -> ErrorCode {
    ErrorCode::from_wire(response.responses[0].partition_responses[0].error_code)
}

#[test]
fn produce_needs_write_on_the_topic() {
    let (service, client) =
        gateway(&[("User:alice", AclOperation::Write, ResourceType::Topic, "t")]);
    // bob has no ACL: refused, and the partitions actor is never asked.
    let refused: ProduceResponse = respond(
        &service,
        ApiKey::Produce,
        request(ApiKey::Produce, 8, &produce_body(1), "bob"),
    );
    assert_eq!(
        produce_code(&refused),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
    );
    assert!(client.take_asked().is_empty());
    // A READ ACL does not let one write.
    let (service_read, _) = service_with_read();
    let refused: ProduceResponse = respond(
        &service_read,
        ApiKey::Produce,
        request(ApiKey::Produce, 8, &produce_body(1), "alice"),
    );
    assert_eq!(
        produce_code(&refused),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
    );
    // alice may write; admin is a super user.
    for user in ["alice", "admin"] {
        client.reply(PARTITIONS, produced());
        let written: ProduceResponse = respond(
            &service,
            ApiKey::Produce,
            request(ApiKey::Produce, 8, &produce_body(1), user),
        );
        assert_eq!(produce_code(&written), ErrorCode::NONE, "{user}");
        assert_eq!(client.take_asked().len(), 1, "{user}");
    }
}

fn service_with_read() -> (Arc<BrokerService<FakeClient<NodeMsg>>>, FakeClient<NodeMsg>) {
    gateway(&[("User:alice", AclOperation::Read, ResourceType::Topic, "t")])
}

#[test]
fn a_refused_acks_0_produce_closes_the_connection() {
    let (service, client) = gateway(&[]);
    let pending = service
        .dispatch(request(ApiKey::Produce, 8, &produce_body(0), "bob"))
        .now_or_never()
        .expect("no wait");
    let Pending::Close(reason) = pending else {
        panic!("an acks=0 produce refused must close the connection");
    };
    assert!(reason.contains("refused with error 29"), "{reason}");
    assert!(client.take_asked().is_empty());
}

fn fetch_body() -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])])
}

#[test]
fn fetch_needs_read_on_the_topic() {
    // WRITE does not let one read.
    let (service, client) =
        gateway(&[("User:alice", AclOperation::Write, ResourceType::Topic, "t")]);
    let refused: FetchResponse = respond(
        &service,
        ApiKey::Fetch,
        request(ApiKey::Fetch, 11, &fetch_body(), "alice"),
    );
    let partition = &refused.responses[0].partitions[0];
    assert_eq!(
        ErrorCode::from_wire(partition.error_code),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
    );
    assert_eq!(partition.high_watermark, -1);
    assert!(
        client.take_asked().is_empty(),
        "a refused fetch asks nothing"
    );
    // READ lets alice fetch: the partitions actor is asked.
    let (service, client) = service_with_read();
    client.reply(
        PARTITIONS,
        NodeMsg::PartitionsReply(PartitionsReply::Fetch(Vec::new())),
    );
    let _: FetchResponse = respond(
        &service,
        ApiKey::Fetch,
        request(ApiKey::Fetch, 11, &fetch_body(), "alice"),
    );
    assert_eq!(client.take_asked().len(), 1);
}

fn topics_listed() -> NodeMsg {
    let topics = ["t", "secret"]
        .into_iter()
        .map(|name| {
            let meta = TopicMeta {
                id: [name.len() as u8; 16],
                partitions: 1,
                replication_factor: 1,
                configs: Default::default(),
                assignment: Vec::new(),
            };
            (name.to_string(), meta)
        })
        .collect();
    NodeMsg::TopicsReply(TopicsReply::List(topics))
}

fn metadata_names(response: &MetadataResponse) -> Vec<(String, ErrorCode)> {
    (response.topics.iter())
        .map(|t| {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            (name, ErrorCode::from_wire(t.error_code))
        })
        .collect()
}

#[test]
fn metadata_hides_topics_one_may_not_describe() {
    let (service, client) = service_with_read();
    // All topics: only `t` (READ implies DESCRIBE), `secret` left out unseen.
    client.reply(TOPICS, topics_listed());
    client.reply(
        PARTITIONS,
        NodeMsg::PartitionsReply(PartitionsReply::Offline(Vec::new())),
    );
    let all = MetadataRequest::default().with_topics(None);
    let all: MetadataResponse = respond(
        &service,
        ApiKey::Metadata,
        request(ApiKey::Metadata, 12, &all, "alice"),
    );
    assert_eq!(metadata_names(&all), [("t".to_string(), ErrorCode::NONE)]);
    // Named: `secret` and a topic that does not exist are both refused alike.
    client.take_asked();
    client.reply(TOPICS, topics_listed());
    client.reply(
        PARTITIONS,
        NodeMsg::PartitionsReply(PartitionsReply::Offline(Vec::new())),
    );
    let named = MetadataRequest::default().with_topics(Some(
        ["t", "secret", "nope"]
            .into_iter()
            .map(|n| {
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str(n))))
            })
            .collect(),
    ));
    let named: MetadataResponse = respond(
        &service,
        ApiKey::Metadata,
        request(ApiKey::Metadata, 12, &named, "alice"),
    );
    let mut names = metadata_names(&named);
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        [
            ("nope".to_string(), ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            ("secret".to_string(), ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            ("t".to_string(), ErrorCode::NONE),
        ]
    );
}

fn join_body() -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::new())])
}

#[test]
fn joining_a_group_needs_read_on_it() {
    // READ on the topic is not READ on the group.
    let (service, client) = service_with_read();
    let refused: JoinGroupResponse = respond(
        &service,
        ApiKey::JoinGroup,
        request(ApiKey::JoinGroup, 7, &join_body(), "alice"),
    );
    assert_eq!(
        ErrorCode::from_wire(refused.error_code),
        ErrorCode::GROUP_AUTHORIZATION_FAILED
    );
    assert!(
        client.take_asked().is_empty(),
        "the coordinator is not asked"
    );
    // With READ on the group the coordinator is asked.
    let (service, client) =
        gateway(&[("User:alice", AclOperation::Read, ResourceType::Group, "g")]);
    let pending = service
        .dispatch(request(ApiKey::JoinGroup, 7, &join_body(), "alice"))
        .now_or_never()
        .expect("no wait");
    assert!(matches!(pending, Pending::Later(_)));
    assert_eq!(client.take_asked().len(), 1);
}

fn delete_body() -> DeleteTopicsRequest {
    DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(StrBytes::from_static_str("secret"))])
}

fn deleted_code(response: &DeleteTopicsResponse) -> ErrorCode {
    ErrorCode::from_wire(response.responses[0].error_code)
}

#[test]
fn deleting_a_topic_needs_delete_on_it_or_on_the_cluster() {
    // DELETE on another topic: refused; the topics actor is asked for the list only.
    let (service, client) =
        gateway(&[("User:alice", AclOperation::Delete, ResourceType::Topic, "t")]);
    client.reply(TOPICS, topics_listed());
    let refused: DeleteTopicsResponse = respond(
        &service,
        ApiKey::DeleteTopics,
        request(ApiKey::DeleteTopics, 4, &delete_body(), "alice"),
    );
    assert_eq!(
        deleted_code(&refused),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
    );
    let asked = client.take_asked();
    assert!(
        matches!(
            asked.as_slice(),
            [(TOPICS, NodeMsg::Topics(TopicsRequest::List))]
        ),
        "{asked:?}"
    );
    // DELETE on the cluster covers every topic.
    let (service, client) = gateway(&[(
        "User:alice",
        AclOperation::Delete,
        ResourceType::Cluster,
        "kafka-cluster",
    )]);
    let TopicsReply::List(listed) = (match topics_listed() {
        NodeMsg::TopicsReply(reply) => reply,
        _ => unreachable!(),
    }) else {
        unreachable!()
    };
    let deletion = TopicDeletion {
        name: Some("secret".to_string()),
        outcome: Ok(listed["secret"].clone()),
    };
    client.reply(
        TOPICS,
        NodeMsg::TopicsReply(TopicsReply::Deleted(vec![deletion])),
    );
    let deleted: DeleteTopicsResponse = respond(
        &service,
        ApiKey::DeleteTopics,
        request(ApiKey::DeleteTopics, 4, &delete_body(), "alice"),
    );
    assert_eq!(deleted_code(&deleted), ErrorCode::NONE);
}
