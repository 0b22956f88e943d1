//! Issue 15, KIP-890 part 1: a producer's first transactional batch at a partition is
//! appended only once its coordinator (asked through this node's TXN actor) confirmed that
//! the partition is in the producer's open transaction; a marker appended meanwhile voids the
//! verification; later batches of the open transaction go straight on.

use super::*;
use crate::actor::CallId;
use crate::messages::txn::{TxnReply, TxnRequest, VerifyArgs};
use crate::messages::TXN;
use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};

fn verifying(storage: Arc<MemStorage>) -> Harness {
    Harness {
        actor: Partitions::new(storage.clone())
            .with_transactional_writes()
            .with_transaction_verification(true),
        ..Harness::new(storage)
    }
}

fn txn_batch(pid: ProducerId, epoch: i16, seq: i32) -> Vec<u8> {
    let stamp = ProducerStamp {
        producer_id: pid.0,
        producer_epoch: epoch,
        base_sequence: seq,
        attributes: TRANSACTIONAL_BIT,
    };
    build_stamped_batch(&[(None, Some(b"t"))], T0_MS, stamp)
}

fn txn_produce(
    tp: &TopicPartition,
    records: Vec<u8>,
    transactional_id: Option<&str>,
) -> PartitionsRequest {
    PartitionsRequest::Produce(ProduceRequest {
        acks: 1,
        timeout_ms: PRODUCE_TIMEOUT_MS,
        partitions: vec![(tp.clone(), records)],
        checked: Vec::new(),
        transactional_id: transactional_id.map(str::to_owned),
    })
}

/// The Verify calls among `effects`, to this node's TXN actor.
fn verifies(effects: &Effects) -> Vec<(CallId, VerifyArgs)> {
    (effects.iter())
        .filter_map(|e| match e {
            Effect::Call {
                to,
                call,
                msg: NodeMsg::Txn(TxnRequest::Verify(args)),
                ..
            } if to.actor == TXN => Some((*call, args.clone())),
            _ => None,
        })
        .collect()
}

fn verified(h: &mut Harness, call: CallId, code: ErrorCode) -> Effects {
    let msg = NodeMsg::TxnReply(TxnReply::Verified(code));
    h.step(Input::Reply { call, msg })
}

fn produced(effects: &mut Effects, id: RequestId) -> ProducePartitionResult {
    let reply = take_reply(effects, id).expect("the produce is answered");
    produce_results(reply).remove(0).1
}

#[test]
fn a_transaction_s_first_batch_waits_for_its_verification_and_the_next_go_straight_on() {
    let a = tp("a");
    let mut h = verifying(Arc::new(MemStorage::new()));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let (id, effects) = h.send(txn_produce(&a, txn_batch(pid, epoch, 0), Some("tx")));
    let asked = verifies(&effects);
    assert_eq!(asked.len(), 1, "{effects:?}");
    let (call, args) = &asked[0];
    assert_eq!(
        args,
        &VerifyArgs {
            transactional_id: "tx".into(),
            producer_id: pid,
            producer_epoch: epoch,
            tp: a.clone(),
            forwarded: false,
        }
    );
    assert_eq!(h.log_end(&a), 0, "nothing is appended before the answer");
    let mut effects = verified(&mut h, *call, ErrorCode::NONE);
    assert_eq!(produced(&mut effects, id).error_code, ErrorCode::NONE);
    assert_eq!(h.log_end(&a), 1);
    // The transaction is open here now: its next batch is not verified again.
    let (id, mut effects) = h.send(txn_produce(&a, txn_batch(pid, epoch, 1), Some("tx")));
    assert!(verifies(&effects).is_empty());
    assert_eq!(produced(&mut effects, id).error_code, ErrorCode::NONE);
    // A plain batch never is.
    let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(b"p"))]));
    assert!(verifies(&effects).is_empty());
}

/// A write the coordinator does not know of (a late batch of an earlier transaction, a
/// zombie's) is refused with Kafka's codes and writes nothing; a coordinator that cannot
/// answer yet gets a retriable refusal.
#[test]
fn a_write_the_coordinator_refuses_is_never_appended() {
    let a = tp("a");
    let mut h = verifying(Arc::new(MemStorage::new()));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    for (answer, code) in [
        (ErrorCode::INVALID_TXN_STATE, ErrorCode::INVALID_TXN_STATE),
        (
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
        ),
        (
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ErrorCode::NOT_ENOUGH_REPLICAS,
        ),
    ] {
        let (id, effects) = h.send(txn_produce(&a, txn_batch(pid, epoch, 0), Some("tx")));
        let (call, _) = verifies(&effects)[0].clone();
        let mut effects = verified(&mut h, call, answer);
        assert_eq!(produced(&mut effects, id).error_code, code, "{answer:?}");
        assert_eq!(h.log_end(&a), 0);
    }
    // A lost call: retriable.
    let (id, effects) = h.send(txn_produce(&a, txn_batch(pid, epoch, 0), Some("tx")));
    let (call, _) = verifies(&effects)[0].clone();
    let why = crate::actor::CallFailure::TimedOut;
    let mut effects = h.step(Input::CallFailed { call, why });
    assert_eq!(
        produced(&mut effects, id).error_code,
        ErrorCode::NOT_ENOUGH_REPLICAS
    );
    // Without the transactional id there is nothing to verify with.
    let (id, mut effects) = h.send(txn_produce(&a, txn_batch(pid, epoch, 0), None));
    assert!(verifies(&effects).is_empty());
    assert_eq!(
        produced(&mut effects, id).error_code,
        ErrorCode::INVALID_TXN_STATE
    );
    assert_eq!(h.log_end(&a), 0);
}

/// The guard (Kafka's `VerificationGuard`): a marker of the producer appended while its write
/// is being verified ends the transaction the verification was about, so the write, verified
/// against it, is refused when the answer comes.
#[test]
fn a_marker_while_the_write_is_verified_voids_the_verification() {
    let a = tp("a");
    let mut h = verifying(Arc::new(MemStorage::new()));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let (id, effects) = h.send(txn_produce(&a, txn_batch(pid, epoch, 0), Some("tx")));
    let (call, _) = verifies(&effects)[0].clone();
    let marker = abort_marker(&a, pid, epoch);
    h.send(marker);
    let end = h.log_end(&a);
    let mut effects = verified(&mut h, call, ErrorCode::NONE);
    assert_eq!(
        produced(&mut effects, id).error_code,
        ErrorCode::INVALID_TXN_STATE
    );
    assert_eq!(h.log_end(&a), end, "the late write is not appended");
    assert_eq!(
        h.actor.replica(&a).unwrap().last_stable_offset(),
        Offset(end)
    );
}
