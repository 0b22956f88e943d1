use std::collections::{BTreeMap, BTreeSet};

use super::*;

const MAX_TIMEOUT_MS: i32 = 900_000;

fn parts(list: &[(&str, &[i32])]) -> BTreeMap<String, BTreeSet<i32>> {
    (list.iter())
        .map(|(t, ps)| (t.to_string(), ps.iter().copied().collect()))
        .collect()
}

/// InitProducerId for a new id, as the first call of a producer makes it.
fn first_init() -> TxnMetadata {
    let mut ids = 100..;
    let mut next = || ids.next().unwrap();
    match init_producer_id(None, 60_000, MAX_TIMEOUT_MS, None, 5, &mut next) {
        Ok(InitDecision::Write(meta)) => meta,
        other => panic!("{other:?}"),
    }
}

fn ongoing(meta: &TxnMetadata, now_ms: i64) -> TxnMetadata {
    add_partitions(
        Some(meta),
        meta.producer_id,
        meta.epoch,
        &parts(&[("t", &[0])]),
        now_ms,
    )
    .unwrap()
    .unwrap()
}

#[test]
fn a_new_id_gets_a_fresh_producer_id_at_epoch_zero_and_each_init_bumps_it() {
    let meta = first_init();
    assert_eq!(
        (meta.producer_id, meta.epoch, meta.state),
        (100, 0, TxnState::Empty)
    );
    let mut never = || panic!("no new producer id while the epoch lasts");
    let again = init_producer_id(Some(&meta), 60_000, MAX_TIMEOUT_MS, None, 6, &mut never);
    let Ok(InitDecision::Write(again)) = again else {
        panic!("{again:?}")
    };
    assert_eq!(
        (again.producer_id, again.epoch),
        (100, 1),
        "the older producer is fenced"
    );
}

#[test]
fn a_timeout_above_the_maximum_or_not_positive_is_refused() {
    let mut ids = 0..;
    let mut next = || ids.next().unwrap();
    for timeout in [0, -1, MAX_TIMEOUT_MS + 1] {
        assert_eq!(
            init_producer_id(None, timeout, MAX_TIMEOUT_MS, None, 0, &mut next),
            Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
        );
    }
}

/// Kafka's PrepareEpochFence: a new producer of an id with a transaction open aborts it with a
/// bumped epoch and is told to retry; a transaction being completed is a retry too.
#[test]
fn an_init_over_an_open_transaction_aborts_it_under_a_bumped_epoch() {
    let meta = ongoing(&first_init(), 10);
    let mut never = || panic!();
    let fenced = init_producer_id(Some(&meta), 60_000, MAX_TIMEOUT_MS, None, 11, &mut never);
    let Ok(InitDecision::FenceOpen(fenced)) = fenced else {
        panic!("{fenced:?}")
    };
    assert_eq!((fenced.state, fenced.epoch), (TxnState::PrepareAbort, 1));
    assert_eq!(
        fenced.partitions, meta.partitions,
        "the markers go where it wrote"
    );
    assert_eq!(
        init_producer_id(Some(&fenced), 60_000, MAX_TIMEOUT_MS, None, 12, &mut never),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    let done = complete(&fenced, 13).unwrap();
    let retry = init_producer_id(Some(&done), 60_000, MAX_TIMEOUT_MS, None, 14, &mut never);
    let Ok(InitDecision::Write(retry)) = retry else {
        panic!("{retry:?}")
    };
    assert_eq!(retry.epoch, 2, "bumped a second time");
}

/// KIP-360: a producer asking to bump its own epoch gets it bumped; a retry of that bump (its
/// answer lost) gets the same epoch; anything else is fenced. An exhausted epoch rotates to a
/// new producer id, and a retry with the old id is recognised.
#[test]
fn an_expected_epoch_bumps_once_and_an_exhausted_one_rotates_the_producer_id() {
    let meta = first_init();
    let mut never = || panic!();
    let bump = |meta: &TxnMetadata, expected, never: &mut dyn FnMut() -> i64| {
        init_producer_id(Some(meta), 60_000, MAX_TIMEOUT_MS, Some(expected), 9, never)
    };
    let Ok(InitDecision::Write(bumped)) = bump(&meta, (100, 0), &mut never) else {
        panic!()
    };
    assert_eq!((bumped.epoch, bumped.last_epoch), (1, 0));
    let Ok(InitDecision::Write(retried)) = bump(&bumped, (100, 0), &mut never) else {
        panic!()
    };
    assert_eq!(
        (retried.epoch, retried.last_epoch),
        (1, 0),
        "the same bump again"
    );
    assert_eq!(
        bump(&bumped, (100, 7), &mut never),
        Err(ErrorCode::PRODUCER_FENCED)
    );
    assert_eq!(
        bump(&bumped, (55, 1), &mut never),
        Err(ErrorCode::PRODUCER_FENCED)
    );

    let exhausted = TxnMetadata {
        epoch: i16::MAX - 1,
        ..meta.clone()
    };
    let mut ids = 200..;
    let mut next = || ids.next().unwrap();
    let Ok(InitDecision::Write(rotated)) = bump(&exhausted, (100, i16::MAX - 1), &mut next) else {
        panic!()
    };
    assert_eq!((rotated.producer_id, rotated.epoch), (200, 0));
    assert_eq!(
        (rotated.last_producer_id, rotated.last_epoch),
        (100, i16::MAX - 1)
    );
    let retry = bump(&rotated, (100, i16::MAX - 1), &mut never);
    assert!(matches!(retry, Ok(InitDecision::Write(_))), "{retry:?}");
}

#[test]
fn partitions_open_the_transaction_once_and_are_checked_against_the_producer() {
    let meta = first_init();
    let added = |meta: &TxnMetadata, pid, epoch, list: &[(&str, &[i32])]| {
        add_partitions(Some(meta), pid, epoch, &parts(list), 20)
    };
    let open = added(&meta, 100, 0, &[("t", &[0, 1])]).unwrap().unwrap();
    assert_eq!((open.state, open.start_ms), (TxnState::Ongoing, 20));
    assert_eq!(
        added(&open, 100, 0, &[("t", &[1])]),
        Ok(None),
        "already in it"
    );
    let more = added(&open, 100, 0, &[("u", &[3])]).unwrap().unwrap();
    assert_eq!(more.partitions, parts(&[("t", &[0, 1]), ("u", &[3])]));
    assert_eq!(
        added(&open, 101, 0, &[("t", &[0])]),
        Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        added(&open, 100, 1, &[("t", &[0])]),
        Err(ErrorCode::PRODUCER_FENCED)
    );
    assert_eq!(
        add_partitions(None, 100, 0, &parts(&[("t", &[0])]), 0),
        Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
    let preparing = end_txn(Some(&open), 100, 0, true, 30).unwrap().unwrap();
    assert_eq!(
        added(&preparing, 100, 0, &[("t", &[0])]),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
}

/// Kafka's `endTransaction` table for a client's EndTxn.
#[test]
fn end_txn_prepares_once_and_answers_retries_as_kafka_does() {
    let open = ongoing(&first_init(), 10);
    let commit = end_txn(Some(&open), 100, 0, true, 11).unwrap().unwrap();
    assert_eq!(commit.state, TxnState::PrepareCommit);
    assert_eq!(
        end_txn(Some(&commit), 100, 0, true, 12),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    assert_eq!(
        end_txn(Some(&commit), 100, 0, false, 12),
        Err(ErrorCode::INVALID_TXN_STATE)
    );
    let done = complete(&commit, 13).unwrap();
    assert_eq!(
        (done.state, done.partitions.len()),
        (TxnState::CompleteCommit, 0)
    );
    assert_eq!(end_txn(Some(&done), 100, 0, true, 14), Ok(None), "a retry");
    assert_eq!(
        end_txn(Some(&done), 100, 0, false, 14),
        Err(ErrorCode::INVALID_TXN_STATE)
    );
    let empty = first_init();
    assert_eq!(
        end_txn(Some(&empty), 100, 0, false, 1),
        Err(ErrorCode::INVALID_TXN_STATE),
        "nothing open to end"
    );
    assert_eq!(
        end_txn(Some(&open), 100, 1, true, 1),
        Err(ErrorCode::PRODUCER_FENCED)
    );
    let abort = end_txn(Some(&open), 100, 0, false, 11).unwrap().unwrap();
    assert_eq!(complete(&abort, 12).unwrap().state, TxnState::CompleteAbort);
    assert_eq!(complete(&open, 12), None, "only a prepared end completes");
}

#[test]
fn a_transaction_past_its_timeout_is_aborted_under_a_bumped_epoch() {
    let open = ongoing(&first_init(), 1_000);
    assert_eq!(
        abort_timed_out(&open, 61_000),
        None,
        "not past start + timeout yet"
    );
    let aborted = abort_timed_out(&open, 61_001).unwrap();
    assert_eq!((aborted.state, aborted.epoch), (TxnState::PrepareAbort, 1));
    assert_eq!(
        end_txn(Some(&aborted), 100, 0, true, 61_002),
        Err(ErrorCode::PRODUCER_FENCED),
        "the zombie's commit is fenced"
    );
    assert_eq!(
        abort_timed_out(&first_init(), i64::MAX),
        None,
        "nothing open"
    );
}

#[test]
fn metadata_survives_its_record() {
    let open = ongoing(&first_init(), 10);
    let back = TxnMetadata::from_record(&open.to_record());
    assert_eq!(back, open);
}
