//! The transaction coordinator shard's rules, with the actor's side played by hand: writes
//! applied on ack, one write per id, producer ids asked for and handed out in order, a failed
//! write ending the shard, the load.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::messages::txn::{AddPartitionsArgs, EndTxnArgs};
use crate::txn::state::TxnState;
use crate::types::LeaderEpoch;

const NOW: i64 = 1_000_000;
const MAX_TIMEOUT_MS: i32 = 900_000;

fn term() -> LeaderTerm {
    LeaderTerm {
        epoch: LeaderEpoch(1),
        replica: 1,
    }
}

/// A loaded shard of an empty partition.
fn shard() -> Shard<u32> {
    let mut out = Vec::new();
    let shard = Shard::new(0, term(), Offset(0), 1, MAX_TIMEOUT_MS, &mut out);
    assert!(out.is_empty() && !shard.is_loading(), "{out:?}");
    shard
}

fn init(id: &str) -> TxnRequest {
    TxnRequest::InitProducerId(InitTxnArgs {
        transactional_id: id.into(),
        timeout_ms: 60_000,
        expected: None,
    })
}

fn add(id: &str, pid: i64, epoch: i16) -> TxnRequest {
    TxnRequest::AddPartitions(AddPartitionsArgs {
        transactional_id: id.into(),
        producer_id: ProducerId(pid),
        producer_epoch: epoch,
        partitions: BTreeMap::from([("t".to_string(), BTreeSet::from([0]))]),
    })
}

fn end(id: &str, pid: i64, epoch: i16, commit: bool) -> TxnRequest {
    TxnRequest::EndTxn(EndTxnArgs {
        transactional_id: id.into(),
        producer_id: ProducerId(pid),
        producer_epoch: epoch,
        commit,
    })
}

/// The one write in `out`.
fn only_write(out: &[ShardOut<u32>]) -> u64 {
    match out {
        [ShardOut::Append { write, .. }] => *write,
        other => panic!("one write: {other:?}"),
    }
}

/// Sends `request` as `w` and acknowledges the one write it makes; the answer.
fn written(shard: &mut Shard<u32>, w: u32, request: TxnRequest) -> TxnReply {
    let mut out = Vec::new();
    shard.request(NOW, w, request, &mut out);
    let write = only_write(&out);
    let mut out = Vec::new();
    shard.appended(write, Ok(()), &mut out).unwrap();
    // A prepared transaction's markers come first (checked where it matters).
    out.retain(|o| !matches!(o, ShardOut::Markers(_)));
    match &out[..] {
        [ShardOut::Answer(got, reply)] if *got == w => reply.clone(),
        other => panic!("{other:?}"),
    }
}

/// The markers of `id`'s transaction of `t-0` under `epoch`.
fn markers(id: &str, epoch: i16, commit: bool) -> ShardOut<u32> {
    ShardOut::Markers(MarkerJob {
        id: id.into(),
        producer_id: 1000,
        epoch,
        commit,
        partitions: [crate::types::TopicPartition {
            topic: "t".into(),
            partition: 0,
        }]
        .into(),
    })
}

/// Answered at once, without a write.
fn answered(shard: &mut Shard<u32>, request: TxnRequest) -> TxnReply {
    let mut out = Vec::new();
    shard.request(NOW, 9, request, &mut out);
    match &out[..] {
        [ShardOut::Answer(9, reply)] => reply.clone(),
        other => panic!("{other:?}"),
    }
}

/// A shard where id `a` has producer 1000 in epoch 0.
fn initialised() -> Shard<u32> {
    let mut shard = shard();
    let mut out = Vec::new();
    shard.request(NOW, 1, init("a"), &mut out);
    assert_eq!(out, [ShardOut::NeedProducerId]);
    let mut out = Vec::new();
    shard.producer_id(NOW, ProducerId(1000), &mut out);
    let write = only_write(&out);
    let mut out = Vec::new();
    shard.appended(write, Ok(()), &mut out).unwrap();
    assert_eq!(
        out,
        [ShardOut::Answer(
            1,
            TxnReply::InitProducerId(Ok((ProducerId(1000), 0)))
        )]
    );
    shard
}

#[test]
fn a_new_id_waits_for_a_producer_id_and_each_waiting_init_takes_its_own() {
    let mut shard = shard();
    let mut out = Vec::new();
    shard.request(NOW, 1, init("a"), &mut out);
    shard.request(NOW, 2, init("b"), &mut out);
    assert_eq!(out, [ShardOut::NeedProducerId], "asked once");
    let mut out = Vec::new();
    shard.producer_id(NOW, ProducerId(1000), &mut out);
    assert!(
        matches!(
            &out[..],
            [ShardOut::Append { .. }, ShardOut::NeedProducerId]
        ),
        "a takes 1000, b asks for another: {out:?}"
    );
    let mut out = Vec::new();
    shard.producer_id(NOW, ProducerId(1001), &mut out);
    let write_b = only_write(&out);
    let mut out = Vec::new();
    shard.appended(write_b, Ok(()), &mut out).unwrap();
    assert_eq!(
        out,
        [ShardOut::Answer(
            2,
            TxnReply::InitProducerId(Ok((ProducerId(1001), 0)))
        )]
    );
    assert_eq!(
        shard.metadata("a"),
        None,
        "a's write is not acknowledged yet"
    );
    // A known id's next InitProducerId bumps the epoch: no new producer id.
    assert_eq!(
        written(&mut shard, 3, init("b")),
        TxnReply::InitProducerId(Ok((ProducerId(1001), 1)))
    );
}

#[test]
fn a_transaction_opens_and_ends_with_one_write_at_a_time() {
    let mut shard = initialised();
    assert_eq!(
        written(&mut shard, 1, add("a", 1000, 0)),
        TxnReply::AddPartitions(ErrorCode::NONE)
    );
    assert_eq!(shard.metadata("a").unwrap().state, TxnState::Ongoing);
    assert_eq!(
        answered(&mut shard, add("a", 1000, 0)),
        TxnReply::AddPartitions(ErrorCode::NONE),
        "already in the transaction: nothing to write"
    );
    assert_eq!(
        answered(&mut shard, add("a", 1000, 1)),
        TxnReply::AddPartitions(ErrorCode::PRODUCER_FENCED)
    );
    // While the end is being written, the id answers CONCURRENT_TRANSACTIONS.
    let mut out = Vec::new();
    shard.request(NOW, 2, end("a", 1000, 0, true), &mut out);
    let write = only_write(&out);
    assert_eq!(
        answered(&mut shard, end("a", 1000, 0, true)),
        TxnReply::EndTxn(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    // Kafka's order: a fenced or foreign producer is told so even while a write is out.
    assert_eq!(
        answered(&mut shard, end("a", 1000, 1, true)),
        TxnReply::EndTxn(ErrorCode::PRODUCER_FENCED)
    );
    assert_eq!(
        answered(&mut shard, add("a", 1001, 0)),
        TxnReply::AddPartitions(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
    let mut out = Vec::new();
    shard.appended(write, Ok(()), &mut out).unwrap();
    assert_eq!(
        out,
        [
            markers("a", 0, true),
            ShardOut::Answer(2, TxnReply::EndTxn(ErrorCode::NONE))
        ]
    );
    assert_eq!(shard.metadata("a").unwrap().state, TxnState::PrepareCommit);
    // Until the markers complete it, the id is busy.
    assert_eq!(
        answered(&mut shard, init("a")),
        TxnReply::InitProducerId(Err(ErrorCode::CONCURRENT_TRANSACTIONS))
    );
    // Markers of another epoch complete nothing.
    let mut out = Vec::new();
    shard.markers_written(NOW, "a", 1000, 1, &mut out);
    assert!(out.is_empty());
    shard.markers_written(NOW, "a", 1000, 0, &mut out);
    let write = only_write(&out);
    let mut out = Vec::new();
    shard.appended(write, Ok(()), &mut out).unwrap();
    assert!(out.is_empty(), "the completion answers nobody: {out:?}");
    let meta = shard.metadata("a").unwrap();
    assert_eq!(meta.state, TxnState::CompleteCommit);
    assert!(meta.partitions.is_empty());
    assert_eq!(
        written(&mut shard, 3, add("a", 1000, 0)),
        TxnReply::AddPartitions(ErrorCode::NONE),
        "the next transaction opens"
    );
}

#[test]
fn a_new_producer_fences_an_open_transaction_and_a_timeout_aborts_one() {
    let mut shard = initialised();
    written(&mut shard, 1, add("a", 1000, 0));
    assert_eq!(
        written(&mut shard, 2, init("a")),
        TxnReply::InitProducerId(Err(ErrorCode::CONCURRENT_TRANSACTIONS)),
        "the open transaction is aborted first; the producer retries"
    );
    let meta = shard.metadata("a").unwrap();
    assert_eq!((meta.state, meta.epoch), (TxnState::PrepareAbort, 1));

    let mut shard = initialised();
    written(&mut shard, 1, add("a", 1000, 0));
    let mut out = Vec::new();
    assert!(
        shard.abort_timed_out(NOW + 60_000, &mut out).is_empty(),
        "not past its timeout"
    );
    let aborted = shard.abort_timed_out(NOW + 60_001, &mut out);
    assert_eq!(aborted, ["a"]);
    let write = only_write(&out);
    let mut out = Vec::new();
    shard.appended(write, Ok(()), &mut out).unwrap();
    assert_eq!(
        out,
        [markers("a", 1, false)],
        "nobody waits for it, the markers go"
    );
    let meta = shard.metadata("a").unwrap();
    assert_eq!(
        (meta.state, meta.epoch),
        (TxnState::PrepareAbort, 1),
        "under a bumped epoch"
    );
}

#[test]
fn a_failed_write_ends_the_shard_and_its_waiters_are_sent_elsewhere() {
    let mut shard = initialised();
    let mut out = Vec::new();
    shard.request(NOW, 5, add("a", 1000, 0), &mut out);
    let write = only_write(&out);
    shard.request(NOW, 6, init("new"), &mut out);
    let mut out = Vec::new();
    assert!(shard
        .appended(write, Err(ErrorCode::NOT_LEADER_OR_FOLLOWER), &mut out)
        .is_err());
    assert_eq!(
        shard.metadata("a").unwrap().state,
        TxnState::Empty,
        "not applied"
    );
    let mut out = Vec::new();
    shard.abandon(&mut out);
    assert_eq!(
        out,
        [
            ShardOut::Answer(5, TxnReply::AddPartitions(ErrorCode::NOT_COORDINATOR)),
            ShardOut::Answer(6, TxnReply::InitProducerId(Err(ErrorCode::NOT_COORDINATOR))),
        ]
    );
}

#[test]
fn requests_wait_for_the_load_which_restores_the_ids() {
    let mut shard = initialised();
    let mut out = Vec::new();
    shard.request(NOW, 1, add("a", 1000, 0), &mut out);
    let ShardOut::Append { write, batch } = out.remove(0) else {
        panic!()
    };
    shard.appended(write, Ok(()), &mut Vec::new()).unwrap();
    let mut stored = batch;
    crate::storage::batch::set_base_offset(&mut stored, 0).unwrap();

    let mut out = Vec::new();
    let mut loading = Shard::new(0, term(), Offset(1), 2, MAX_TIMEOUT_MS, &mut out);
    assert_eq!(out, [ShardOut::Read { from: Offset(0) }]);
    assert_eq!(
        answered(&mut loading, init("a")),
        TxnReply::InitProducerId(Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
    );
    let read = FetchPartitionResult {
        tp: crate::types::TopicPartition {
            topic: "__transaction_state".into(),
            partition: 0,
        },
        error_code: ErrorCode::NONE,
        high_watermark: Offset(1),
        last_stable_offset: Offset(1),
        log_start_offset: Offset(0),
        records: stored,
        aborted: None,
    };
    let mut out = Vec::new();
    loading.fetched(&read, &mut out).unwrap();
    assert!(out.is_empty() && !loading.is_loading());
    assert_eq!(loading.metadata("a"), shard.metadata("a"));
    assert_eq!(loading.id_count(), 1);
}

/// Kafka's `transactional.id.expiration.ms`: an id with no transaction in flight, unused that
/// long, gets a tombstone and is forgotten once it is acknowledged (its next InitProducerId
/// starts over); one with a transaction open is kept.
#[test]
fn idle_ids_expire_with_a_tombstone() {
    let mut shard = initialised();
    written(&mut shard, 1, add("a", 1000, 0));
    let mut out = Vec::new();
    assert_eq!(
        shard.expire_ids(NOW + 10, 5, &mut out),
        0,
        "a's transaction is open"
    );
    assert!(out.is_empty());
    written(&mut shard, 2, end("a", 1000, 0, false));
    let mut out = Vec::new();
    shard.markers_written(NOW, "a", 1000, 0, &mut out);
    let write = only_write(&out);
    shard.appended(write, Ok(()), &mut Vec::new()).unwrap();
    assert_eq!(shard.metadata("a").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(shard.id_bytes(), 1);
    let mut out = Vec::new();
    assert_eq!(
        shard.expire_ids(NOW + 5, 5, &mut out),
        0,
        "not idle long enough"
    );
    assert_eq!(shard.expire_ids(NOW + 6, 5, &mut out), 1);
    let [ShardOut::Append { write, batch }] = out.as_slice() else {
        panic!("{out:?}");
    };
    let record = crate::storage::batch::records(batch)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(record.value, None, "a tombstone");
    assert_eq!(
        answered(&mut shard, init("a")),
        TxnReply::InitProducerId(Err(ErrorCode::CONCURRENT_TRANSACTIONS)),
        "while it is written"
    );
    shard.appended(*write, Ok(()), &mut Vec::new()).unwrap();
    assert!(shard.metadata("a").is_none());
    assert_eq!((shard.id_count(), shard.id_bytes()), (0, 0));
}
