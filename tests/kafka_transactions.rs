//! KIP-890 part 1 against a real `rill server` over TCP: a transactional batch to a partition
//! its transaction never added (a zombie's write, a batch late from a transaction since
//! committed) is refused with INVALID_TXN_STATE and leaves nothing behind, so no transaction
//! the coordinator does not know of ever holds a partition's last stable offset.

mod common;

use std::net::TcpStream;

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, InitProducerIdRequest, InitProducerIdResponse,
    ListOffsetsRequest, ListOffsetsResponse, ProduceRequest, ProduceResponse, ProducerId,
    TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use rill::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};

use common::{call, create_topic, topic_name, until_settled, RillServer};

const INVALID_TXN_STATE: i16 = 48;
/// NOT_ENOUGH_REPLICAS: the retriable answer while the coordinator cannot say yet.
const NOT_ENOUGH_REPLICAS: i16 = 19;

fn txn_id() -> TransactionalId {
    TransactionalId(StrBytes::from_static_str("late-writer"))
}

/// A transactional produce of one record with sequence `seq`; the partition's error code.
fn produce_txn(s: &mut TcpStream, pid: i64, epoch: i16, seq: i32) -> i16 {
    let stamp = ProducerStamp {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        attributes: TRANSACTIONAL_BIT,
    };
    let records = build_stamped_batch(&[(None, Some(b"v"))], 1_700_000_000_000, stamp);
    let request = ProduceRequest::default()
        .with_transactional_id(Some(txn_id()))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name("ledger"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(records)))])]);
    let response: ProduceResponse = call(s, ApiKey::Produce, 9, &request);
    response.responses[0].partition_responses[0].error_code
}

/// ListOffsets latest of ledger-0 under `isolation_level` (0 uncommitted: the high watermark;
/// 1 committed: the last stable offset).
fn latest(s: &mut TcpStream, isolation_level: i8) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_isolation_level(isolation_level)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name("ledger"))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let response: ListOffsetsResponse = call(s, ApiKey::ListOffsets, 5, &request);
    let partition = &response.topics[0].partitions[0];
    assert_eq!(partition.error_code, 0, "{partition:?}");
    partition.offset
}

#[test]
fn a_transactional_write_outside_its_transaction_is_refused_and_leaves_no_hanging_transaction() {
    let server = RillServer::start(&[]);
    let mut s = server.connect();
    create_topic(&mut s, "ledger", 1);
    let find = FindCoordinatorRequest::default()
        .with_key(StrBytes::from_static_str("late-writer"))
        .with_key_type(1);
    let found: FindCoordinatorResponse = until_settled(
        || call(&mut s, ApiKey::FindCoordinator, 3, &find),
        |r: &FindCoordinatorResponse| r.error_code,
    );
    assert_eq!(found.error_code, 0, "{found:?}");
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(txn_id()))
        .with_transaction_timeout_ms(60_000);
    let granted: InitProducerIdResponse = until_settled(
        || call(&mut s, ApiKey::InitProducerId, 4, &init),
        |r: &InitProducerIdResponse| r.error_code,
    );
    assert_eq!(granted.error_code, 0, "{granted:?}");
    let (pid, epoch) = (granted.producer_id.0, granted.producer_epoch);

    // No AddPartitionsToTxn: the write is not part of any transaction the coordinator knows.
    assert_eq!(produce_txn(&mut s, pid, epoch, 0), INVALID_TXN_STATE);
    assert_eq!(
        (latest(&mut s, 0), latest(&mut s, 1)),
        (0, 0),
        "nothing written"
    );

    // Added: it goes, and holds the last stable offset until the transaction ends.
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(txn_id())
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(topic_name("ledger"))
            .with_partitions(vec![0])]);
    let added: AddPartitionsToTxnResponse = call(&mut s, ApiKey::AddPartitionsToTxn, 3, &add);
    let code = added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
    assert_eq!(code, 0);
    assert_eq!(produce_txn(&mut s, pid, epoch, 0), 0);
    assert_eq!((latest(&mut s, 0), latest(&mut s, 1)), (1, 0));
    let end = EndTxnRequest::default()
        .with_transactional_id(txn_id())
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(true);
    let ended: EndTxnResponse = call(&mut s, ApiKey::EndTxn, 3, &end);
    assert_eq!(ended.error_code, 0);

    // A batch late from the committed transaction (the same epoch, the next sequence): once
    // the transaction is over it is refused for good (retriable while it is still ending).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let late = loop {
        let code = produce_txn(&mut s, pid, epoch, 1);
        if code != NOT_ENOUGH_REPLICAS || std::time::Instant::now() > deadline {
            break code;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(late, INVALID_TXN_STATE);
    // The record and its COMMIT marker; the late batch opened nothing.
    assert_eq!((latest(&mut s, 0), latest(&mut s, 1)), (2, 2));
}
