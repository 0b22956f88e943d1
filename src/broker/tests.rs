//! The gateway without the host: a [`FakeClient`] stands in for the node's actors, so these
//! tests see exactly what a Kafka request makes the gateway ask, and what it answers with.

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::service::{Answer, KafkaRequest, KafkaService, Pending};
use super::settings::GatewaySettings;
use super::BrokerService;
use crate::actor::fake_client::FakeClient;
use crate::messages::{
    NodeMsg, PartitionsReply, PartitionsRequest, ProducePartitionResult, OFFSETS_TOPIC, PARTITIONS,
};
use crate::protocol::frame::peek_header;
use crate::storage::batch::build_batch;
use crate::storage::log::LogConfig;
use crate::types::NodeId;
use crate::types::{ErrorCode, Offset, TopicPartition};

pub(super) const VERSION: i16 = 8;

pub(super) fn settings() -> GatewaySettings {
    GatewaySettings {
        node_id: NodeId(1),
        cluster_id: "test-cluster".to_owned(),
        voters: Vec::new(),
        advertised: None,
        advertised_by_listener: Default::default(),
        num_partitions: 1,
        default_replication_factor: 1,
        auto_create_topics: false,
        fetch_max_bytes: 1 << 20,
        log: LogConfig::default(),
        log_builtin: LogConfig::default(),
        broker_configs: Vec::new(),
        log_dir: "/var/lib/rill".to_owned(),
        authorizer: None,
        quota_window: Default::default(),
    }
}

/// A request frame (after the size) of `key` at `version`, on a connection of `context`.
pub(super) fn request_from<R: Encodable>(
    key: ApiKey,
    version: i16,
    body: &R,
    context: std::sync::Arc<super::service::ConnectionContext>,
) -> KafkaRequest {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(11)
        .with_client_id(Some(StrBytes::from_static_str("test")));
    let mut frame = BytesMut::new();
    header
        .encode(&mut frame, key.request_header_version(version))
        .unwrap();
    body.encode(&mut frame, version).unwrap();
    let frame = frame.freeze();
    KafkaRequest {
        prefix: peek_header(&frame).unwrap(),
        frame,
        client: "127.0.0.1:1".parse().unwrap(),
        context,
        mute: Default::default(),
    }
}

/// A gateway where client id `client` has the quota `key` = `value`, reading time from
/// `clock`.
pub(super) fn quota_gateway(
    client: &str,
    key: &str,
    value: f64,
    clock: std::sync::Arc<dyn super::service::MonoClock>,
) -> (
    FakeClient<NodeMsg>,
    std::sync::Arc<BrokerService<FakeClient<NodeMsg>>>,
) {
    use crate::messages::acls::PublishedAcls;
    use crate::messages::quotas::{
        ClientQuotas, EntityName, PublishedQuotas, QuotaEntity, QuotaValue,
    };
    let mut quotas = ClientQuotas::default();
    let entity = QuotaEntity {
        user: None,
        client_id: Some(EntityName::Named(client.to_string())),
    };
    quotas.set(&entity, key, Some(QuotaValue::new(key, value).unwrap()));
    let published = PublishedQuotas::default();
    published.publish(&std::sync::Arc::new(quotas));
    let node = FakeClient::default();
    let service = BrokerService::with_views(
        node.clone(),
        settings(),
        PublishedAcls::default(),
        published,
        clock,
    );
    (node, service)
}

/// The body of `answer`, a `key` v`version` response frame (every byte read).
pub(super) fn body_of<R: Decodable>(key: ApiKey, version: i16, answer: &Answer) -> R {
    let mut bytes = Bytes::from(answer.as_chunks().concat()).slice(4..);
    ResponseHeader::decode(&mut bytes, key.response_header_version(version)).unwrap();
    let body = R::decode(&mut bytes, version).unwrap();
    assert!(bytes.is_empty(), "{key:?} v{version}: trailing bytes");
    body
}

/// A Produce request frame (after the size) for partition `t-0`, one record.
pub(super) fn produce(acks: i16, batch: &[u8]) -> KafkaRequest {
    produce_to("t", acks, batch)
}

/// A Produce request frame for partition 0 of `topic`, one record.
fn produce_to(topic: &'static str, acks: i16, batch: &[u8]) -> KafkaRequest {
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Produce as i16)
        .with_request_api_version(VERSION)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("test")));
    let body = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::copy_from_slice(batch)))])]);
    let mut frame = BytesMut::new();
    header
        .encode(&mut frame, ApiKey::Produce.request_header_version(VERSION))
        .unwrap();
    body.encode(&mut frame, VERSION).unwrap();
    let frame = frame.freeze();
    KafkaRequest {
        prefix: peek_header(&frame).unwrap(),
        frame,
        client: "127.0.0.1:1".parse().unwrap(),
        context: Default::default(),
        mute: Default::default(),
    }
}

pub(super) fn appended(error_code: ErrorCode, base_offset: i64) -> NodeMsg {
    let tp = TopicPartition {
        topic: "t".into(),
        partition: 0,
    };
    NodeMsg::PartitionsReply(PartitionsReply::Produce(vec![(
        tp,
        ProducePartitionResult {
            error_code,
            error_message: None,
            record_errors: Vec::new(),
            base_offset: Offset(base_offset),
            log_append_time_ms: -1,
            log_start_offset: Offset(0),
        },
    )]))
}

/// Dispatches `request` and finishes its answer; the fake answers at once, so nothing waits.
pub(super) fn answer(
    service: &BrokerService<FakeClient<NodeMsg>>,
    request: KafkaRequest,
) -> Result<Option<Answer>, String> {
    let pending = service.dispatch(request).now_or_never().expect("no wait");
    match pending {
        Pending::Later(reply) => reply.now_or_never().expect("no wait"),
        Pending::Ready(answer) => Ok(answer),
        Pending::Close(reason) => Err(reason),
        Pending::Last(_) => Err("answered, then closed".into()),
    }
}

/// The one Produce the gateway asked the partitions actor, checked to carry the request.
fn asked_produce(client: &FakeClient<NodeMsg>, acks: i16, batch: &[u8]) {
    let asked = client.take_asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let (to, msg) = &asked[0];
    assert_eq!(*to, PARTITIONS);
    let NodeMsg::Partitions(PartitionsRequest::Produce(produce)) = msg else {
        panic!("not a produce: {msg:?}");
    };
    assert_eq!((produce.acks, produce.timeout_ms), (acks, 1000));
    assert_eq!(produce.partitions.len(), 1);
    assert_eq!(produce.partitions[0].0.topic, "t");
    assert_eq!(produce.partitions[0].1, batch);
    // The gateway walked the records, so the actor does not.
    assert!(
        matches!(produce.checked.as_slice(), [Some(Ok(_))]),
        "{:?}",
        produce.checked
    );
}

#[test]
fn produce_acks_1_answers_with_the_partitions_result() {
    let client = FakeClient::default();
    let service = BrokerService::new(client.clone(), settings());
    let batch = build_batch(&[(None, b"v")], 1_000);
    client.reply(PARTITIONS, appended(ErrorCode::NONE, 42));

    let answer = answer(&service, produce(1, &batch))
        .unwrap()
        .expect("acks=1 answers");
    asked_produce(&client, 1, &batch);
    let bytes: Vec<u8> = answer.as_chunks().concat();
    let mut body = Bytes::from(bytes).slice(4..);
    let header =
        ResponseHeader::decode(&mut body, ApiKey::Produce.response_header_version(VERSION))
            .unwrap();
    assert_eq!(header.correlation_id, 7);
    let response = ProduceResponse::decode(&mut body, VERSION).unwrap();
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(response.responses[0].name.0.as_str(), "t");
    assert_eq!(
        (partition.index, partition.error_code, partition.base_offset),
        (0, 0, 42)
    );
}

#[test]
fn produce_acks_0_answers_nothing_and_closes_on_a_failure() {
    let client = FakeClient::default();
    let service = BrokerService::new(client.clone(), settings());
    let batch = build_batch(&[(None, b"v")], 1_000);

    client.reply(PARTITIONS, appended(ErrorCode::NONE, 0));
    assert_eq!(answer(&service, produce(0, &batch)), Ok(None));
    asked_produce(&client, 0, &batch);

    // Kafka closes the connection when an acks=0 produce fails: the client has no other way
    // to learn of it.
    client.reply(PARTITIONS, appended(ErrorCode::KAFKA_STORAGE_ERROR, -1));
    let closed = answer(&service, produce(0, &batch)).unwrap_err();
    assert!(closed.contains("failed with error 56"), "{closed}");
}

/// Only the group coordinator writes `__consumer_offsets`: a client's produce to it is refused
/// without reaching the partitions actor (Kafka: "Cannot append to internal topic").
#[test]
fn produce_to_the_offsets_topic_is_refused() {
    let client = FakeClient::default();
    let service = BrokerService::new(client.clone(), settings());
    let batch = build_batch(&[(None, b"v")], 1_000);
    let answer_bytes = answer(&service, produce_to(OFFSETS_TOPIC, 1, &batch))
        .unwrap()
        .expect("acks=1 answers");
    let mut body = Bytes::from(answer_bytes.as_chunks().concat()).slice(4..);
    ResponseHeader::decode(&mut body, ApiKey::Produce.response_header_version(VERSION)).unwrap();
    let response = ProduceResponse::decode(&mut body, VERSION).unwrap();
    assert_eq!(response.responses[0].name.0.as_str(), OFFSETS_TOPIC);
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(
        partition.error_code,
        ErrorCode::INVALID_TOPIC_EXCEPTION.wire()
    );
    assert!(client.take_asked().is_empty());
    // acks=0 gets no answer, so the refusal closes the connection.
    let closed = answer(&service, produce_to(OFFSETS_TOPIC, 0, &batch)).unwrap_err();
    assert!(closed.contains(OFFSETS_TOPIC), "{closed}");
}

#[test]
fn a_reply_of_the_wrong_kind_closes_the_connection() {
    let client = FakeClient::default();
    let service = BrokerService::new(client.clone(), settings());
    let batch = build_batch(&[(None, b"v")], 1_000);
    let wrong = NodeMsg::PartitionsReply(PartitionsReply::Offline(Vec::new()));
    client.reply(PARTITIONS, wrong);
    let closed = answer(&service, produce(1, &batch)).unwrap_err();
    assert!(closed.contains("Offline"), "{closed}");
    // No reply at all: the actor is gone.
    let closed = answer(&service, produce(1, &batch)).unwrap_err();
    assert!(closed.contains("stopped before answering"), "{closed}");
}

/// DeleteRecords on `__consumer_offsets` is refused per partition; the other partitions of the
/// request still go to the partitions actor.
#[test]
fn delete_records_on_the_offsets_topic_is_refused() {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

    use crate::messages::DeleteRecordsResult;

    const V: i16 = 2;
    let client = FakeClient::default();
    let service = BrokerService::new(client.clone(), settings());
    let topic = |name: &'static str| {
        DeleteRecordsTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(name)))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(5)])
    };
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::DeleteRecords as i16)
        .with_request_api_version(V)
        .with_correlation_id(9);
    let body = DeleteRecordsRequest::default()
        .with_topics(vec![topic(OFFSETS_TOPIC), topic("t")])
        .with_timeout_ms(1000);
    let mut frame = BytesMut::new();
    header
        .encode(&mut frame, ApiKey::DeleteRecords.request_header_version(V))
        .unwrap();
    body.encode(&mut frame, V).unwrap();
    let frame = frame.freeze();
    let request = KafkaRequest {
        prefix: peek_header(&frame).unwrap(),
        frame,
        client: "127.0.0.1:1".parse().unwrap(),
        context: Default::default(),
        mute: Default::default(),
    };
    let deleted = DeleteRecordsResult {
        error_code: ErrorCode::NONE,
        low_watermark: Offset(5),
    };
    let t0 = TopicPartition {
        topic: "t".into(),
        partition: 0,
    };
    let reply = PartitionsReply::DeleteRecords(vec![(t0.clone(), deleted)]);
    client.reply(PARTITIONS, NodeMsg::PartitionsReply(reply));

    let answered = answer(&service, request).unwrap().expect("answered");
    let mut body = Bytes::from(answered.as_chunks().concat()).slice(4..);
    ResponseHeader::decode(&mut body, ApiKey::DeleteRecords.response_header_version(V)).unwrap();
    let response = DeleteRecordsResponse::decode(&mut body, V).unwrap();
    let codes: Vec<(&str, i16)> = response
        .topics
        .iter()
        .map(|t| (t.name.0.as_str(), t.partitions[0].error_code))
        .collect();
    let refused = ErrorCode::INVALID_TOPIC_EXCEPTION.wire();
    assert_eq!(codes, [("t", 0), (OFFSETS_TOPIC, refused)]);
    let asked = client.take_asked();
    let NodeMsg::Partitions(PartitionsRequest::DeleteRecords(asked)) = &asked[0].1 else {
        panic!("{asked:?}");
    };
    assert_eq!(asked.partitions, [(t0, Offset(5))]);
}

/// The transaction coordinator's client APIs (`txn.rs`): what reaches TXN, and how its answer
/// lands in the response of the request's version.
mod transactions {
    use std::collections::{BTreeMap, BTreeSet};

    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::{
        AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
        AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, GroupId, InitProducerIdRequest,
        InitProducerIdResponse, TransactionalId,
    };

    use super::*;
    use crate::messages::txn::{AddPartitionsArgs, EndTxnArgs, InitTxnArgs, TxnReply, TxnRequest};
    use crate::messages::{
        InitProducerIdResult, TopicMeta, TopicsReply, TopicsRequest, TOPICS, TXN,
    };
    use crate::types::placement::coordinator_partition;
    use crate::types::ProducerId;

    fn request<R: Encodable>(key: ApiKey, version: i16, body: &R) -> KafkaRequest {
        request_from(key, version, body, Default::default())
    }

    /// Runs `body` as a `key` v`version` request and decodes the answer.
    pub(super) fn call<Req: Encodable, Resp: Decodable>(
        service: &BrokerService<FakeClient<NodeMsg>>,
        key: ApiKey,
        version: i16,
        body: &Req,
    ) -> Resp {
        let answered = answer(service, request(key, version, body))
            .unwrap_or_else(|closed| panic!("{key:?} v{version} closed: {closed}"))
            .expect("answered");
        let mut bytes = Bytes::from(answered.as_chunks().concat()).slice(4..);
        let header =
            ResponseHeader::decode(&mut bytes, key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, 11);
        let response = Resp::decode(&mut bytes, version).unwrap();
        assert!(bytes.is_empty(), "{key:?} v{version}: trailing bytes");
        response
    }

    fn text(s: &str) -> StrBytes {
        StrBytes::from_string(s.to_string())
    }

    fn listed(topics: &[(&str, i32)]) -> NodeMsg {
        let meta = |partitions| TopicMeta {
            id: [1; 16],
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
            assignment: Vec::new(),
        };
        let topics = (topics.iter())
            .map(|(name, partitions)| (name.to_string(), meta(*partitions)))
            .collect();
        NodeMsg::TopicsReply(TopicsReply::List(topics))
    }

    /// The one request TXN was asked (after any topic listing).
    fn asked_txn(client: &FakeClient<NodeMsg>) -> TxnRequest {
        let mut asked = client.take_asked();
        asked.retain(|(to, _)| *to != TOPICS);
        assert_eq!(asked.len(), 1, "{asked:?}");
        match asked.pop() {
            Some((to, NodeMsg::Txn(call))) if to == TXN => call,
            other => panic!("not a TXN request: {other:?}"),
        }
    }

    fn init(transactional_id: Option<&str>, producer_id: i64, epoch: i16) -> InitProducerIdRequest {
        InitProducerIdRequest::default()
            .with_transactional_id(transactional_id.map(|t| TransactionalId(text(t))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(kafka_protocol::messages::ProducerId(producer_id))
            .with_producer_epoch(epoch)
    }

    #[test]
    fn init_producer_id_with_a_transactional_id_asks_the_transaction_coordinator() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());

        // v3 names the producer it has (KIP-360); v3 predates PRODUCER_FENCED.
        let fenced = TxnReply::InitProducerId(Err(ErrorCode::PRODUCER_FENCED));
        client.reply(TXN, NodeMsg::TxnReply(fenced));
        let back: InitProducerIdResponse =
            call(&service, ApiKey::InitProducerId, 3, &init(Some("tx"), 5, 2));
        assert_eq!(back.error_code, ErrorCode::INVALID_PRODUCER_EPOCH.wire());
        assert_eq!((back.producer_id.0, back.producer_epoch), (-1, -1));
        let expected = TxnRequest::InitProducerId(InitTxnArgs {
            transactional_id: "tx".into(),
            timeout_ms: 60_000,
            expected: Some((ProducerId(5), 2)),
        });
        assert_eq!(asked_txn(&client), expected);

        // v4 knows PRODUCER_FENCED; a first init names no producer.
        let fenced = TxnReply::InitProducerId(Err(ErrorCode::PRODUCER_FENCED));
        client.reply(TXN, NodeMsg::TxnReply(fenced));
        let back: InitProducerIdResponse = call(
            &service,
            ApiKey::InitProducerId,
            4,
            &init(Some("tx"), -1, -1),
        );
        assert_eq!(back.error_code, ErrorCode::PRODUCER_FENCED.wire());
        let TxnRequest::InitProducerId(args) = asked_txn(&client) else {
            panic!("not an InitProducerId");
        };
        assert_eq!(args.expected, None);

        // Granted.
        let granted = TxnReply::InitProducerId(Ok((ProducerId(9), 1)));
        client.reply(TXN, NodeMsg::TxnReply(granted));
        let back: InitProducerIdResponse = call(
            &service,
            ApiKey::InitProducerId,
            1,
            &init(Some("tx"), -1, -1),
        );
        let granted = (ErrorCode::NONE.wire(), 9, 1);
        assert_eq!(
            (back.error_code, back.producer_id.0, back.producer_epoch),
            granted
        );
        asked_txn(&client);
    }

    #[test]
    fn init_producer_id_refusals_the_gateway_answers_itself() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        // An empty transactional id (Kafka's coordinator: INVALID_REQUEST).
        let back: InitProducerIdResponse =
            call(&service, ApiKey::InitProducerId, 4, &init(Some(""), -1, -1));
        assert_eq!(back.error_code, ErrorCode::INVALID_REQUEST.wire());
        // Half a producer.
        let back: InitProducerIdResponse = call(
            &service,
            ApiKey::InitProducerId,
            3,
            &init(Some("tx"), 5, -1),
        );
        assert_eq!(back.error_code, ErrorCode::INVALID_REQUEST.wire());
        assert!(client.take_asked().is_empty());

        // No coordinator running: retriable COORDINATOR_NOT_AVAILABLE, not a closed connection.
        let back: InitProducerIdResponse = call(
            &service,
            ApiKey::InitProducerId,
            4,
            &init(Some("tx"), -1, -1),
        );
        assert_eq!(back.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.wire());
        assert_eq!((back.producer_id.0, back.producer_epoch), (-1, -1));
        asked_txn(&client);
    }

    #[test]
    fn init_producer_id_without_a_transactional_id_stays_with_the_partitions_actor() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let granted = InitProducerIdResult {
            error_code: ErrorCode::NONE,
            producer_id: ProducerId(3),
            producer_epoch: 0,
        };
        client.reply(
            PARTITIONS,
            NodeMsg::PartitionsReply(PartitionsReply::InitProducerId(granted)),
        );
        let back: InitProducerIdResponse =
            call(&service, ApiKey::InitProducerId, 4, &init(None, -1, -1));
        assert_eq!(
            (back.error_code, back.producer_id.0),
            (ErrorCode::NONE.wire(), 3)
        );
        let asked = client.take_asked();
        assert!(
            matches!(
                asked.as_slice(),
                [(to, NodeMsg::Partitions(PartitionsRequest::InitProducerId(_)))]
                    if *to == PARTITIONS
            ),
            "{asked:?}"
        );
    }

    fn add_partitions(topics: &[(&str, &[i32])]) -> AddPartitionsToTxnRequest {
        let topics = (topics.iter())
            .map(|(name, partitions)| {
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(text(name)))
                    .with_partitions(partitions.to_vec())
            })
            .collect();
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(text("tx")))
            .with_v3_and_below_producer_id(kafka_protocol::messages::ProducerId(5))
            .with_v3_and_below_producer_epoch(2)
            .with_v3_and_below_topics(topics)
    }

    /// (topic, partition, code) for each partition of the response.
    fn rows(response: &AddPartitionsToTxnResponse) -> Vec<(String, i32, i16)> {
        (response.results_by_topic_v3_and_below.iter())
            .flat_map(|t| {
                let name = t.name.0.to_string();
                (t.results_by_partition.iter())
                    .map(move |p| (name.clone(), p.partition_index, p.partition_error_code))
            })
            .collect()
    }

    #[test]
    fn add_partitions_to_txn_asks_once_and_answers_every_partition_with_the_code() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let body = add_partitions(&[("a", &[0, 1]), ("b", &[0])]);
        for (version, code) in [
            (1, ErrorCode::INVALID_PRODUCER_EPOCH),
            (2, ErrorCode::PRODUCER_FENCED),
            (3, ErrorCode::PRODUCER_FENCED),
        ] {
            client.reply(TOPICS, listed(&[("a", 2), ("b", 1)]));
            let fenced = TxnReply::AddPartitions(ErrorCode::PRODUCER_FENCED);
            client.reply(TXN, NodeMsg::TxnReply(fenced));
            let back: AddPartitionsToTxnResponse =
                call(&service, ApiKey::AddPartitionsToTxn, version, &body);
            let code = code.wire();
            let expected = vec![
                ("a".to_string(), 0, code),
                ("a".to_string(), 1, code),
                ("b".to_string(), 0, code),
            ];
            assert_eq!(rows(&back), expected, "v{version}");
            let expected = TxnRequest::AddPartitions(AddPartitionsArgs {
                transactional_id: "tx".into(),
                producer_id: ProducerId(5),
                producer_epoch: 2,
                partitions: BTreeMap::from([
                    ("a".to_string(), BTreeSet::from([0, 1])),
                    ("b".to_string(), BTreeSet::from([0])),
                ]),
            });
            assert_eq!(asked_txn(&client), expected, "v{version}");
        }
    }

    #[test]
    fn add_partitions_to_txn_with_an_unknown_partition_asks_nothing() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        client.reply(TOPICS, listed(&[("a", 2)]));
        let body = add_partitions(&[("a", &[0, 2]), ("gone", &[0])]);
        let back: AddPartitionsToTxnResponse = call(&service, ApiKey::AddPartitionsToTxn, 3, &body);
        let unknown = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.wire();
        let not_attempted = kafka_protocol::error::ResponseError::OperationNotAttempted.code();
        let expected = vec![
            ("a".to_string(), 0, not_attempted),
            ("a".to_string(), 2, unknown),
            ("gone".to_string(), 0, unknown),
        ];
        assert_eq!(rows(&back), expected);
        let asked = client.take_asked();
        assert!(
            matches!(
                asked.as_slice(),
                [(_, NodeMsg::Topics(TopicsRequest::List))]
            ),
            "{asked:?}"
        );
    }

    #[test]
    fn add_offsets_to_txn_adds_the_groups_offsets_partition() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        client.reply(TOPICS, listed(&[(OFFSETS_TOPIC, 50)]));
        let fenced = TxnReply::AddPartitions(ErrorCode::PRODUCER_FENCED);
        client.reply(TXN, NodeMsg::TxnReply(fenced));
        let body = AddOffsetsToTxnRequest::default()
            .with_transactional_id(TransactionalId(text("tx")))
            .with_producer_id(kafka_protocol::messages::ProducerId(5))
            .with_producer_epoch(2)
            .with_group_id(GroupId(text("g")));
        let back: AddOffsetsToTxnResponse = call(&service, ApiKey::AddOffsetsToTxn, 0, &body);
        assert_eq!(back.error_code, ErrorCode::INVALID_PRODUCER_EPOCH.wire());
        let partition = coordinator_partition("g", 50);
        let expected = TxnRequest::AddPartitions(AddPartitionsArgs {
            transactional_id: "tx".into(),
            producer_id: ProducerId(5),
            producer_epoch: 2,
            partitions: BTreeMap::from([(OFFSETS_TOPIC.to_string(), BTreeSet::from([partition]))]),
        });
        assert_eq!(asked_txn(&client), expected);
    }

    #[test]
    fn end_txn_carries_the_outcome_and_answers_the_coordinators_code() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let body = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(text("tx")))
            .with_producer_id(kafka_protocol::messages::ProducerId(5))
            .with_producer_epoch(2)
            .with_committed(true);
        for (version, code) in [
            (0, ErrorCode::INVALID_PRODUCER_EPOCH),
            (1, ErrorCode::INVALID_PRODUCER_EPOCH),
            (2, ErrorCode::PRODUCER_FENCED),
            (3, ErrorCode::PRODUCER_FENCED),
        ] {
            let fenced = TxnReply::EndTxn(ErrorCode::PRODUCER_FENCED);
            client.reply(TXN, NodeMsg::TxnReply(fenced));
            let back: EndTxnResponse = call(&service, ApiKey::EndTxn, version, &body);
            assert_eq!(back.error_code, code.wire(), "v{version}");
            let expected = TxnRequest::EndTxn(EndTxnArgs {
                transactional_id: "tx".into(),
                producer_id: ProducerId(5),
                producer_epoch: 2,
                commit: true,
            });
            assert_eq!(asked_txn(&client), expected, "v{version}");
        }
        // Other codes go through as they are.
        client.reply(TXN, NodeMsg::TxnReply(TxnReply::EndTxn(ErrorCode::NONE)));
        let back: EndTxnResponse = call(&service, ApiKey::EndTxn, 1, &body);
        assert_eq!(back.error_code, ErrorCode::NONE.wire());
        asked_txn(&client);
    }

    fn marker_topic(
        name: &str,
        partitions: &[i32],
    ) -> kafka_protocol::messages::write_txn_markers_request::WritableTxnMarkerTopic {
        kafka_protocol::messages::write_txn_markers_request::WritableTxnMarkerTopic::default()
            .with_name(TopicName(text(name)))
            .with_partition_indexes(partitions.to_vec())
    }

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// DescribeProducers asks the partitions actor once for each distinct partition, in the
    /// order listed, and answers each with its producers (Kafka's `ProducerState`, -1 for
    /// what a producer has none of) or its code.
    #[test]
    fn describe_producers_asks_each_partition_once_and_answers_its_producers() {
        use kafka_protocol::messages::describe_producers_request::TopicRequest;
        use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};

        use crate::messages::{ActiveProducer, PartitionProducers};

        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let topic = |name: &str, partitions: &[i32]| {
            TopicRequest::default()
                .with_name(TopicName(text(name)))
                .with_partition_indexes(partitions.to_vec())
        };
        // `a-0` twice: asked and answered once.
        let body = DescribeProducersRequest::default()
            .with_topics(vec![topic("a", &[0, 1, 0]), topic("b", &[2])]);
        let open = ActiveProducer {
            producer_id: ProducerId(1000),
            producer_epoch: 3,
            last_sequence: 4,
            last_timestamp_ms: 1_700_000_000_000,
            coordinator_epoch: -1,
            current_txn_start_offset: 17,
        };
        let answered = |tp, error_code, producers| PartitionProducers {
            tp,
            error_code,
            producers,
        };
        let reply = PartitionsReply::DescribeProducers(vec![
            answered(tp("a", 0), ErrorCode::NONE, vec![open.clone()]),
            answered(tp("a", 1), ErrorCode::NOT_LEADER_OR_FOLLOWER, Vec::new()),
            answered(tp("b", 2), ErrorCode::NONE, Vec::new()),
        ]);
        client.reply(PARTITIONS, NodeMsg::PartitionsReply(reply));
        let back: DescribeProducersResponse = call(&service, ApiKey::DescribeProducers, 0, &body);

        let asked = client.take_asked();
        assert_eq!(asked.len(), 1, "{asked:?}");
        let NodeMsg::Partitions(PartitionsRequest::DescribeProducers(asked)) = &asked[0].1 else {
            panic!("{asked:?}");
        };
        assert_eq!(asked.partitions, [tp("a", 0), tp("a", 1), tp("b", 2)]);

        assert_eq!(back.throttle_time_ms, 0);
        let rows: Vec<(String, i32, i16, usize)> = (back.topics.iter())
            .flat_map(|t| {
                let name = t.name.0.to_string();
                (t.partitions.iter()).map(move |p| {
                    let count = p.active_producers.len();
                    (name.clone(), p.partition_index, p.error_code, count)
                })
            })
            .collect();
        let row = |t: &str, p: i32, code: ErrorCode, n: usize| (t.to_string(), p, code.wire(), n);
        assert_eq!(
            rows,
            [
                row("a", 0, ErrorCode::NONE, 1),
                row("a", 1, ErrorCode::NOT_LEADER_OR_FOLLOWER, 0),
                row("b", 2, ErrorCode::NONE, 0),
            ]
        );
        let state = &back.topics[0].partitions[0].active_producers[0];
        assert_eq!(
            (
                state.producer_id.0,
                state.producer_epoch,
                state.last_sequence,
                state.last_timestamp,
                state.coordinator_epoch,
                state.current_txn_start_offset
            ),
            (1000, 3, 4, 1_700_000_000_000, -1, 17)
        );
    }

    /// WriteTxnMarkers hands every marker partition to the partitions actor as one
    /// `WriteMarkers` call (the coordinator's), each partition once per marker, and answers
    /// each marker's partitions with the actor's codes, by topic.
    #[test]
    fn write_txn_markers_writes_each_markers_partitions_and_answers_their_codes() {
        use kafka_protocol::messages::write_txn_markers_request::WritableTxnMarker;
        use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

        use crate::messages::MarkerWrite;

        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let abort = WritableTxnMarker::default()
            .with_producer_id(kafka_protocol::messages::ProducerId(7))
            .with_producer_epoch(2)
            .with_transaction_result(false)
            .with_coordinator_epoch(0)
            .with_topics(vec![marker_topic("a", &[0, 0, 1])]);
        let commit = WritableTxnMarker::default()
            .with_producer_id(kafka_protocol::messages::ProducerId(9))
            .with_producer_epoch(0)
            .with_transaction_result(true)
            .with_coordinator_epoch(4)
            .with_topics(vec![marker_topic("b", &[3]), marker_topic("a", &[1])]);
        let body = WriteTxnMarkersRequest::default().with_markers(vec![abort, commit]);
        let result = |code| ProducePartitionResult::refused(code, None);
        let reply = PartitionsReply::Produce(vec![
            (tp("a", 0), result(ErrorCode::NONE)),
            (tp("a", 1), result(ErrorCode::NOT_LEADER_OR_FOLLOWER)),
            (
                tp("b", 3),
                result(ErrorCode::TRANSACTION_COORDINATOR_FENCED),
            ),
            (tp("a", 1), result(ErrorCode::NONE)),
        ]);
        client.reply(PARTITIONS, NodeMsg::PartitionsReply(reply));
        let back: WriteTxnMarkersResponse = call(&service, ApiKey::WriteTxnMarkers, 1, &body);

        let asked = client.take_asked();
        assert_eq!(asked.len(), 1, "{asked:?}");
        let NodeMsg::Partitions(PartitionsRequest::WriteMarkers(asked)) = &asked[0].1 else {
            panic!("{asked:?}");
        };
        let write =
            |t: &str, p: i32, pid: i64, epoch: i16, coordinator: i32, commit: bool| MarkerWrite {
                tp: tp(t, p),
                producer_id: ProducerId(pid),
                producer_epoch: epoch,
                coordinator_epoch: coordinator,
                commit,
            };
        assert_eq!(
            asked.markers,
            [
                write("a", 0, 7, 2, 0, false),
                write("a", 1, 7, 2, 0, false),
                write("b", 3, 9, 0, 4, true),
                write("a", 1, 9, 0, 4, true),
            ]
        );
        assert!(asked.timeout_ms > 0);

        let rows: Vec<(i64, String, i32, i16)> = (back.markers.iter())
            .flat_map(|m| {
                (m.topics.iter()).flat_map(move |t| {
                    (t.partitions.iter()).map(move |p| {
                        let name = t.name.0.to_string();
                        (m.producer_id.0, name, p.partition_index, p.error_code)
                    })
                })
            })
            .collect();
        let row = |pid: i64, t: &str, p: i32, code: ErrorCode| (pid, t.to_string(), p, code.wire());
        assert_eq!(
            rows,
            [
                row(7, "a", 0, ErrorCode::NONE),
                row(7, "a", 1, ErrorCode::NOT_LEADER_OR_FOLLOWER),
                row(9, "b", 3, ErrorCode::TRANSACTION_COORDINATOR_FENCED),
                row(9, "a", 1, ErrorCode::NONE),
            ]
        );
    }

    /// A marker with no partitions asks nothing and is answered with no topics.
    #[test]
    fn write_txn_markers_without_partitions_asks_nothing() {
        use kafka_protocol::messages::write_txn_markers_request::WritableTxnMarker;
        use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let empty = WritableTxnMarker::default()
            .with_producer_id(kafka_protocol::messages::ProducerId(7))
            .with_topics(vec![marker_topic("a", &[])]);
        let body = WriteTxnMarkersRequest::default().with_markers(vec![empty]);
        let back: WriteTxnMarkersResponse = call(&service, ApiKey::WriteTxnMarkers, 1, &body);
        assert!(client.take_asked().is_empty());
        assert_eq!(back.markers.len(), 1);
        assert_eq!(back.markers[0].producer_id.0, 7);
        assert!(back.markers[0].topics.is_empty());
    }
}

/// The SCRAM credential APIs: a describe asks the topics actor for the users named once; an
/// alteration goes to the quorum's leader with the salted password as sent, and each user's
/// result comes back; a quorum without a leader is NOT_CONTROLLER for every user.
mod scram {
    use std::collections::BTreeMap;

    use kafka_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion, ScramCredentialUpsertion,
    };
    use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
    use kafka_protocol::messages::{
        AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
        DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
    };

    use super::transactions::call;
    use super::*;
    use crate::messages::quorum::{LeaderRequest, QuorumReply, QuorumRequest};
    use crate::messages::scram::{DescribeScramRequest, ScramMechanism};
    use crate::messages::{TopicsReply, TopicsRequest, QUORUM, TOPICS};
    use crate::types::Refusal;

    fn name(user: &str) -> StrBytes {
        StrBytes::from_string(user.to_string())
    }

    #[test]
    fn a_describe_asks_for_the_users_named_once() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let described =
            BTreeMap::from([("alice".to_string(), vec![(ScramMechanism::Sha512, 4096)])]);
        client.reply(
            TOPICS,
            NodeMsg::TopicsReply(TopicsReply::ScramDescribed(described)),
        );
        let users = ["alice", "dup", "dup"].map(|u| UserName::default().with_name(name(u)));
        let body = DescribeUserScramCredentialsRequest::default().with_users(Some(users.to_vec()));
        let back: DescribeUserScramCredentialsResponse =
            call(&service, ApiKey::DescribeUserScramCredentials, 0, &body);
        let asked = client.take_asked();
        let NodeMsg::Topics(TopicsRequest::DescribeScram(DescribeScramRequest { users })) =
            &asked[0].1
        else {
            panic!("{asked:?}");
        };
        assert_eq!(users.as_deref(), Some(&["alice".to_string()][..]));
        let codes: Vec<(&str, i16)> = (back.results.iter())
            .map(|r| (r.user.as_str(), r.error_code))
            .collect();
        assert_eq!(codes, [("alice", 0), ("dup", 92)]);
        assert_eq!(back.results[0].credential_infos[0].mechanism, 2);
        // Null users: every user, asked as such.
        client.reply(
            TOPICS,
            NodeMsg::TopicsReply(TopicsReply::ScramDescribed(BTreeMap::new())),
        );
        let all = DescribeUserScramCredentialsRequest::default().with_users(None);
        let back: DescribeUserScramCredentialsResponse =
            call(&service, ApiKey::DescribeUserScramCredentials, 0, &all);
        assert!(back.results.is_empty());
        let asked = client.take_asked();
        assert!(matches!(
            &asked[0].1,
            NodeMsg::Topics(TopicsRequest::DescribeScram(DescribeScramRequest {
                users: None
            }))
        ));
    }

    #[test]
    fn an_alteration_goes_to_the_leader_and_answers_each_user() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let body = AlterUserScramCredentialsRequest::default()
            .with_deletions(vec![ScramCredentialDeletion::default()
                .with_name(name("bob"))
                .with_mechanism(1)])
            .with_upsertions(vec![ScramCredentialUpsertion::default()
                .with_name(name("alice"))
                .with_mechanism(2)
                .with_iterations(8192)
                .with_salt(Bytes::from_static(b"salt"))
                .with_salted_password(Bytes::from(vec![7u8; 64]))]);
        let results = vec![
            (
                "bob".to_string(),
                Err(Refusal::new(ErrorCode::RESOURCE_NOT_FOUND, "gone")),
            ),
            ("alice".to_string(), Ok(())),
        ];
        let reply = QuorumReply::ScramCredentialsAltered { index: 9, results };
        client.reply(QUORUM, NodeMsg::QuorumReply(reply));
        let back: AlterUserScramCredentialsResponse =
            call(&service, ApiKey::AlterUserScramCredentials, 0, &body);
        let asked = client.take_asked();
        let NodeMsg::Quorum(QuorumRequest::ToLeader {
            request:
                LeaderRequest::AlterScramCredentials {
                    deletions,
                    upsertions,
                },
            ..
        }) = &asked[0].1
        else {
            panic!("{asked:?}");
        };
        assert_eq!(
            (deletions[0].name.as_str(), deletions[0].mechanism),
            ("bob", 1)
        );
        let alice = &upsertions[0];
        assert_eq!((alice.iterations, &alice.salt[..]), (8192, &b"salt"[..]));
        assert_eq!(alice.salted_password, vec![7u8; 64]);
        let codes: Vec<(&str, i16, Option<&str>)> = (back.results.iter())
            .map(|r| (r.user.as_str(), r.error_code, r.error_message.as_deref()))
            .collect();
        assert_eq!(codes, [("bob", 91, Some("gone")), ("alice", 0, None)]);

        // No leader: every user named, once, gets NOT_CONTROLLER.
        client.reply(
            QUORUM,
            NodeMsg::QuorumReply(QuorumReply::NotLeader { leader: None }),
        );
        let back: AlterUserScramCredentialsResponse =
            call(&service, ApiKey::AlterUserScramCredentials, 0, &body);
        let codes: Vec<(&str, i16)> = (back.results.iter())
            .map(|r| (r.user.as_str(), r.error_code))
            .collect();
        assert_eq!(codes, [("bob", 41), ("alice", 41)]);
    }
}

/// DescribeClientQuotas and AlterClientQuotas (KIP-546).
mod client_quotas {
    use std::sync::Arc;

    use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
    use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
    use kafka_protocol::messages::{
        AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
        DescribeClientQuotasResponse,
    };

    use super::transactions::call;
    use super::*;
    use crate::broker::service::ManualClock;
    use crate::messages::acls::PublishedAcls;
    use crate::messages::quorum::{LeaderRequest, QuorumReply, QuorumRequest};
    use crate::messages::quotas::{
        ClientQuotas, EntityName, PublishedQuotas, QuotaEntity, QuotaValue, PRODUCER_BYTE_RATE,
    };
    use crate::messages::QUORUM;
    use crate::types::Refusal;

    fn text(s: &str) -> StrBytes {
        StrBytes::from_string(s.to_string())
    }

    fn quotas_of(entries: &[(Option<&str>, Option<Option<&str>>, f64)]) -> PublishedQuotas {
        let mut quotas = ClientQuotas::default();
        for (user, client, value) in entries {
            let entity = QuotaEntity {
                user: user.map(|u| EntityName::Named(u.to_string())),
                client_id: client.map(EntityName::from_wire),
            };
            let value = QuotaValue::new(PRODUCER_BYTE_RATE, *value).unwrap();
            quotas.set(&entity, PRODUCER_BYTE_RATE, Some(value));
        }
        let published = PublishedQuotas::default();
        published.publish(&Arc::new(quotas));
        published
    }

    fn component(kind: &str, match_type: i8, name: Option<&str>) -> ComponentData {
        ComponentData::default()
            .with_entity_type(text(kind))
            .with_match_type(match_type)
            .with_match(name.map(text))
    }

    #[test]
    fn a_describe_answers_from_the_published_quotas_at_both_versions() {
        let client = FakeClient::default();
        let published = quotas_of(&[
            (Some("alice"), None, 1024.0),
            (None, Some(None), 2048.0),
            (Some("alice"), Some(Some("app")), 4096.0),
        ]);
        let service = BrokerService::with_views(
            client.clone(),
            settings(),
            PublishedAcls::default(),
            published,
            Arc::new(ManualClock::default()),
        );
        for version in [0, 1] {
            let body = DescribeClientQuotasRequest::default()
                .with_components(vec![component("user", 0, Some("alice"))])
                .with_strict(true);
            let back: DescribeClientQuotasResponse =
                call(&service, ApiKey::DescribeClientQuotas, version, &body);
            assert_eq!(back.error_code, 0);
            let entries = back.entries.unwrap();
            assert_eq!(entries.len(), 1, "strict: alice alone, not alice+app");
            let entity = &entries[0].entity[0];
            assert_eq!(
                (entity.entity_type.as_str(), entity.entity_name.as_deref()),
                ("user", Some("alice"))
            );
            assert_eq!(
                (
                    entries[0].values[0].key.as_str(),
                    entries[0].values[0].value
                ),
                (PRODUCER_BYTE_RATE, 1024.0)
            );
        }
        // The default client id, asked by match type 1.
        let body = DescribeClientQuotasRequest::default().with_components(vec![component(
            "client-id",
            1,
            None,
        )]);
        let back: DescribeClientQuotasResponse =
            call(&service, ApiKey::DescribeClientQuotas, 1, &body);
        let entries = back.entries.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].entity[0].entity_name, None);
        // Bad filters refuse the whole request.
        for bad in [
            component("user", 0, None),
            component("user", 1, Some("x")),
            component("user", 7, None),
        ] {
            let body = DescribeClientQuotasRequest::default().with_components(vec![bad]);
            let back: DescribeClientQuotasResponse =
                call(&service, ApiKey::DescribeClientQuotas, 1, &body);
            assert_eq!((back.error_code, back.entries.is_none()), (42, true));
        }
        let body = DescribeClientQuotasRequest::default()
            .with_components(vec![component("group", 2, None)]);
        let back: DescribeClientQuotasResponse =
            call(&service, ApiKey::DescribeClientQuotas, 1, &body);
        assert_eq!(back.error_code, 35);
        assert!(client.take_asked().is_empty(), "no actor asked");
    }

    #[test]
    fn an_alteration_goes_to_the_leader_and_answers_each_entry() {
        let client = FakeClient::default();
        let service = BrokerService::new(client.clone(), settings());
        let entry = |user: Option<&str>, value: f64, remove: bool| {
            EntryData::default()
                .with_entity(vec![EntityData::default()
                    .with_entity_type(text("user"))
                    .with_entity_name(user.map(text))])
                .with_ops(vec![OpData::default()
                    .with_key(text(PRODUCER_BYTE_RATE))
                    .with_value(value)
                    .with_remove(remove)])
        };
        let body = AlterClientQuotasRequest::default()
            .with_entries(vec![
                entry(Some("alice"), 1024.0, false),
                entry(None, 0.0, true),
            ])
            .with_validate_only(true);
        let results = vec![Ok(()), Err(Refusal::new(ErrorCode::INVALID_REQUEST, "no"))];
        let reply = QuorumReply::ClientQuotasAltered { index: 3, results };
        client.reply(QUORUM, NodeMsg::QuorumReply(reply));
        let back: AlterClientQuotasResponse = call(&service, ApiKey::AlterClientQuotas, 1, &body);
        let asked = client.take_asked();
        let NodeMsg::Quorum(QuorumRequest::ToLeader {
            request:
                LeaderRequest::AlterClientQuotas {
                    entries,
                    validate_only,
                },
            ..
        }) = &asked[0].1
        else {
            panic!("{asked:?}");
        };
        assert!(*validate_only);
        assert_eq!(
            entries[0].entity,
            [("user".to_string(), Some("alice".to_string()))]
        );
        assert_eq!(
            entries[0].ops,
            [(PRODUCER_BYTE_RATE.to_string(), Some(1024.0))]
        );
        assert_eq!(entries[1].entity, [("user".to_string(), None)]);
        assert_eq!(
            entries[1].ops,
            [(PRODUCER_BYTE_RATE.to_string(), None)],
            "removal"
        );
        let codes: Vec<(i16, Option<&str>, Option<&str>)> = (back.entries.iter())
            .map(|e| {
                (
                    e.error_code,
                    e.error_message.as_deref(),
                    e.entity[0].entity_name.as_deref(),
                )
            })
            .collect();
        assert_eq!(codes, [(0, None, Some("alice")), (42, Some("no"), None)]);
        // No leader: every entry gets NOT_CONTROLLER.
        client.reply(
            QUORUM,
            NodeMsg::QuorumReply(QuorumReply::NotLeader { leader: None }),
        );
        let back: AlterClientQuotasResponse = call(&service, ApiKey::AlterClientQuotas, 0, &body);
        let codes: Vec<i16> = back.entries.iter().map(|e| e.error_code).collect();
        assert_eq!(codes, [41, 41]);
    }
}
