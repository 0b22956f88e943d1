//! `Offsets`: scripted commits and fetches, and a proptest against a `BTreeMap` model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::messages::groups::{
    CommittedOffset, GroupsReply, OffsetCommitArgs, TxnOffsetCommitArgs,
};
use crate::types::{ErrorCode, LeaderEpoch, Offset, ProducerId, TopicPartition};

use super::super::offsets::{unknown_group, CommitIdentity, Offsets, StoredOffset};
use super::super::output::{AfterWrite, GroupOut, OffsetsRecord};
use super::super::records::OffsetValue;
use super::super::settings::GroupSettings;
use super::at;

fn tp(partition: i32) -> TopicPartition {
    TopicPartition {
        topic: "t".into(),
        partition,
    }
}

fn committed(offset: i64, metadata: &str) -> CommittedOffset {
    CommittedOffset {
        offset: Offset(offset),
        leader_epoch: LeaderEpoch(3),
        metadata: Some(metadata.into()),
    }
}

fn commit_args(group: &str, offsets: Vec<(TopicPartition, CommittedOffset)>) -> OffsetCommitArgs {
    OffsetCommitArgs {
        group: group.into(),
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        offsets,
        api_version: 9,
    }
}

/// Commits `req` with waiter 1 and returns the one output.
fn commit(o: &Offsets, allowed: Result<(), ErrorCode>, req: OffsetCommitArgs) -> GroupOut<u32> {
    let s = GroupSettings {
        offset_metadata_max_bytes: 4,
        ..GroupSettings::default()
    };
    let mut out = Vec::new();
    o.commit(at(5), &s, allowed, req, 1, &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

fn finish(o: &mut Offsets, then: AfterWrite<u32>, outcome: Result<(), ErrorCode>) -> GroupsReply {
    let mut out = Vec::new();
    o.written(then, outcome, &mut out);
    match out.as_slice() {
        [GroupOut::Answer(1, reply)] => reply.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_commit_is_fetched_only_after_its_write_is_acknowledged() {
    let mut o = Offsets::default();
    let req = commit_args(
        "g",
        vec![
            (tp(0), committed(42, "m")),
            (tp(1), committed(7, "toolong")),
        ],
    );
    let GroupOut::Write { records, then } = commit(&o, Ok(()), req) else {
        panic!("no write");
    };
    match records.as_slice() {
        [OffsetsRecord::Offset {
            group,
            tp: p,
            value: Some(v),
        }] => {
            assert_eq!(
                (group.as_str(), p, v.offset, v.leader_epoch),
                ("g", &tp(0), 42, 3)
            );
            assert_eq!(
                (v.metadata.as_str(), v.commit_timestamp_ms),
                ("m", at(5).unix_ms)
            );
            assert_eq!(v.expire_timestamp_ms, None);
        }
        other => panic!("{other:?}"),
    }
    let before = o.fetch("g", Some(&[tp(0)]), false);
    assert_eq!(
        before.partitions[0].1.offset,
        Offset::UNKNOWN,
        "not applied before the ack"
    );
    let reply = finish(&mut o, then, Ok(()));
    assert_eq!(
        reply,
        GroupsReply::Committed(vec![
            (tp(0), ErrorCode::NONE),
            (tp(1), ErrorCode::OFFSET_METADATA_TOO_LARGE)
        ])
    );
    let all = o.fetch("g", None, false);
    assert_eq!(
        all.partitions,
        vec![(tp(0), committed(42, "m"), ErrorCode::NONE)]
    );
    let listed = o.fetch("g", Some(&[tp(1), tp(0)]), false);
    assert_eq!(listed.partitions[0].1.offset, Offset::UNKNOWN);
    assert_eq!(listed.partitions[0].1.leader_epoch, LeaderEpoch::UNKNOWN);
    assert_eq!(listed.partitions[1].1.offset, Offset(42));
}

#[test]
fn a_failed_commit_write_answers_the_mapped_code_and_commits_nothing() {
    let mut o = Offsets::default();
    let req = commit_args("g", vec![(tp(0), committed(1, ""))]);
    let GroupOut::Write { then, .. } = commit(&o, Ok(()), req) else {
        panic!("no write");
    };
    let reply = finish(&mut o, then, Err(ErrorCode::MESSAGE_TOO_LARGE));
    assert_eq!(
        reply,
        GroupsReply::Committed(vec![(tp(0), ErrorCode::INVALID_COMMIT_OFFSET_SIZE)])
    );
    assert!(!o.has_offsets("g"));
}

#[test]
fn a_refused_commit_answers_every_partition_at_once() {
    let o = Offsets::default();
    let req = commit_args(
        "g",
        vec![(tp(0), committed(1, "")), (tp(1), committed(2, ""))],
    );
    let out = commit(&o, Err(ErrorCode::ILLEGAL_GENERATION), req);
    let expected = GroupsReply::Committed(vec![
        (tp(0), ErrorCode::ILLEGAL_GENERATION),
        (tp(1), ErrorCode::ILLEGAL_GENERATION),
    ]);
    assert_eq!(out, GroupOut::Answer(1, expected));
}

#[test]
fn a_commit_with_a_retention_time_carries_its_expiry() {
    let o = Offsets::default();
    let mut req = commit_args("g", vec![(tp(0), committed(1, ""))]);
    req.retention_ms = 1_000;
    let GroupOut::Write { records, .. } = commit(&o, Ok(()), req) else {
        panic!("no write");
    };
    let [OffsetsRecord::Offset { value: Some(v), .. }] = records.as_slice() else {
        panic!("{records:?}");
    };
    assert_eq!(v.expire_timestamp_ms, Some(at(5).unix_ms + 1_000));
}

#[test]
fn only_a_generation_minus_one_commit_may_create_a_group() {
    let simple = CommitIdentity {
        generation: -1,
        member_id: "",
        instance_id: None,
    };
    assert_eq!(unknown_group(&simple), Ok(()));
    let member = CommitIdentity {
        generation: 3,
        ..simple
    };
    assert_eq!(unknown_group(&member), Err(ErrorCode::ILLEGAL_GENERATION));
}

#[derive(Clone, Debug)]
enum Op {
    Commit {
        group: u8,
        partitions: Vec<(i32, i64, bool)>,
    },
    Ack(bool),
    Tombstone {
        group: u8,
        partition: i32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0u8..3,
            prop::collection::vec((0i32..4, 0i64..100, any::<bool>()), 0..4)
        )
            .prop_map(|(group, partitions)| Op::Commit { group, partitions }),
        any::<bool>().prop_map(Op::Ack),
        (0u8..3, 0i32..4).prop_map(|(group, partition)| Op::Tombstone { group, partition }),
    ]
}

proptest! {
    /// Commits (some with oversized metadata), acknowledged or failed in issue order, and
    /// replayed tombstones: fetch always equals a map that applies exactly the acknowledged
    /// commits' valid partitions.
    #[test]
    fn offsets_follow_a_model_of_acknowledged_commits(ops in prop::collection::vec(op(), 0..40)) {
        let mut o = Offsets::default();
        let mut model: BTreeMap<(String, TopicPartition), i64> = BTreeMap::new();
        let mut in_flight = Vec::new();
        for op in ops {
            match op {
                Op::Commit { group, partitions } => {
                    let group = format!("g{group}");
                    let offsets = partitions
                        .iter()
                        .map(|&(p, off, big)| (tp(p), committed(off, if big { "12345" } else { "" })))
                        .collect();
                    match commit(&o, Ok(()), commit_args(&group, offsets)) {
                        GroupOut::Write { then, .. } => in_flight.push((group, partitions, then)),
                        GroupOut::Answer(_, GroupsReply::Committed(r)) => {
                            prop_assert!(r.iter().all(|(_, c)| *c == ErrorCode::OFFSET_METADATA_TOO_LARGE));
                        }
                        other => prop_assert!(false, "{other:?}"),
                    }
                }
                Op::Ack(ok) if !in_flight.is_empty() => {
                    let (group, partitions, then) = in_flight.remove(0);
                    let outcome = if ok { Ok(()) } else { Err(ErrorCode::REQUEST_TIMED_OUT) };
                    let GroupsReply::Committed(results) = finish(&mut o, then, outcome) else {
                        panic!("not a commit answer");
                    };
                    prop_assert_eq!(results.len(), partitions.len());
                    for ((p, off, big), (_, code)) in partitions.into_iter().zip(results) {
                        let expected = match (big, ok) {
                            (true, _) => ErrorCode::OFFSET_METADATA_TOO_LARGE,
                            (false, true) => ErrorCode::NONE,
                            (false, false) => ErrorCode::COORDINATOR_NOT_AVAILABLE,
                        };
                        prop_assert_eq!(code, expected);
                        if !big && ok {
                            model.insert((group.clone(), tp(p)), off);
                        }
                    }
                }
                Op::Ack(_) => {}
                Op::Tombstone { group, partition } => {
                    let group = format!("g{group}");
                    o.replay(&group, tp(partition), None);
                    model.remove(&(group, tp(partition)));
                }
            }
            for g in 0..3 {
                let group = format!("g{g}");
                let fetched: Vec<(TopicPartition, i64)> = o
                    .fetch(&group, None, false)
                    .partitions
                    .into_iter()
                    .map(|(p, c, _)| (p, c.offset.0))
                    .collect();
                let expected: Vec<(TopicPartition, i64)> = model
                    .iter()
                    .filter(|((mg, _), _)| *mg == group)
                    .map(|((_, p), off)| (p.clone(), *off))
                    .collect();
                prop_assert_eq!(&fetched, &expected);
                prop_assert_eq!(o.has_offsets(&group), !expected.is_empty());
            }
        }
    }
}

fn txn_args(
    group: &str,
    producer_id: i64,
    offsets: Vec<(TopicPartition, CommittedOffset)>,
) -> TxnOffsetCommitArgs {
    TxnOffsetCommitArgs {
        transactional_id: "tx".into(),
        group: group.into(),
        producer_id: ProducerId(producer_id),
        producer_epoch: 2,
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        offsets,
    }
}

/// A TxnOffsetCommit of `offsets` for `producer_id`, written and acknowledged.
fn commit_in_txn(
    o: &mut Offsets,
    producer_id: i64,
    offsets: Vec<(TopicPartition, CommittedOffset)>,
) {
    let mut out = Vec::new();
    let req = txn_args("g", producer_id, offsets);
    o.commit_txn(at(5), &GroupSettings::default(), Ok(()), req, 1, &mut out);
    let [GroupOut::Write { then, .. }] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert!(matches!(
        then,
        AfterWrite::TxnCommit {
            producer_id: p,
            producer_epoch: 2,
            ..
        } if *p == producer_id
    ));
    let reply = finish(o, then.clone(), Ok(()));
    assert!(
        matches!(reply, GroupsReply::Committed(ref r) if r.iter().all(|(_, c)| *c == ErrorCode::NONE))
    );
}

fn offset_of(o: &Offsets, partition: i32, require_stable: bool) -> (i64, ErrorCode) {
    let fetched = o.fetch("g", Some(&[tp(partition)]), require_stable);
    let (_, offset, code) = &fetched.partitions[0];
    (offset.offset.0, *code)
}

/// KIP-98/447: a transaction's commit pends until its marker; a COMMIT makes it the group's
/// committed offset, an ABORT drops it; meanwhile OffsetFetch answers the old offset, or
/// UNSTABLE_OFFSET_COMMIT when asked for stable offsets.
#[test]
fn a_transactional_commit_pends_until_its_transaction_ends() {
    let mut o = Offsets::default();
    let then = match commit(
        &o,
        Ok(()),
        commit_args("g", vec![(tp(0), committed(5, ""))]),
    ) {
        GroupOut::Write { then, .. } => then,
        other => panic!("{other:?}"),
    };
    finish(&mut o, then, Ok(()));
    commit_in_txn(
        &mut o,
        7,
        vec![(tp(0), committed(9, "")), (tp(1), committed(3, ""))],
    );
    assert_eq!(
        offset_of(&o, 0, false),
        (5, ErrorCode::NONE),
        "not yet committed"
    );
    assert_eq!(
        offset_of(&o, 0, true),
        (-1, ErrorCode::UNSTABLE_OFFSET_COMMIT)
    );
    assert_eq!(
        offset_of(&o, 1, true),
        (-1, ErrorCode::UNSTABLE_OFFSET_COMMIT)
    );
    assert_eq!(
        offset_of(&o, 2, true),
        (-1, ErrorCode::NONE),
        "nothing pending there"
    );
    o.txn_completed(8, true);
    assert_eq!(
        offset_of(&o, 0, true).1,
        ErrorCode::UNSTABLE_OFFSET_COMMIT,
        "another producer's"
    );
    o.txn_completed(7, true);
    assert_eq!(offset_of(&o, 0, true), (9, ErrorCode::NONE));
    assert_eq!(offset_of(&o, 1, true), (3, ErrorCode::NONE));

    commit_in_txn(&mut o, 7, vec![(tp(0), committed(20, ""))]);
    o.txn_completed(7, false);
    assert_eq!(
        offset_of(&o, 0, true),
        (9, ErrorCode::NONE),
        "the aborted commit is dropped"
    );
    o.txn_completed(7, true);
    assert_eq!(
        offset_of(&o, 0, true),
        (9, ErrorCode::NONE),
        "nothing left to commit"
    );
}

#[test]
fn a_transactional_commit_refused_or_failed_pends_nothing() {
    let mut o = Offsets::default();
    let mut out = Vec::new();
    let req = txn_args("g", 7, vec![(tp(0), committed(9, ""))]);
    o.commit_txn(
        at(5),
        &GroupSettings::default(),
        Err(ErrorCode::ILLEGAL_GENERATION),
        req,
        1,
        &mut out,
    );
    assert_eq!(
        out,
        [GroupOut::Answer(
            1,
            GroupsReply::Committed(vec![(tp(0), ErrorCode::ILLEGAL_GENERATION)])
        )]
    );
    let mut out = Vec::new();
    let req = txn_args("g", 7, vec![(tp(0), committed(9, ""))]);
    o.commit_txn(at(5), &GroupSettings::default(), Ok(()), req, 1, &mut out);
    let [GroupOut::Write { then, .. }] = out.as_slice() else {
        panic!("{out:?}");
    };
    let reply = finish(&mut o, then.clone(), Err(ErrorCode::INVALID_PRODUCER_EPOCH));
    assert_eq!(
        reply,
        GroupsReply::Committed(vec![(tp(0), ErrorCode::INVALID_PRODUCER_EPOCH)]),
        "a fenced producer's own error"
    );
    assert!(!o.is_pending("g", &tp(0)));
}

/// A plain commit and its write, acknowledged.
fn commit_plain(o: &mut Offsets, offsets: Vec<(TopicPartition, CommittedOffset)>) {
    let then = match commit(o, Ok(()), commit_args("g", offsets)) {
        GroupOut::Write { then, .. } => then,
        other => panic!("{other:?}"),
    };
    finish(o, then, Ok(()));
}

/// Kafka's `completePendingTxnOffsetCommit`: a transaction's commit replaces only an older
/// committed offset. A plain commit written while the transaction was open is newer and is
/// kept at the COMMIT marker; one written before the transaction's is replaced.
#[test]
fn a_committed_transaction_never_replaces_a_newer_plain_commit() {
    let mut o = Offsets::default();
    commit_plain(
        &mut o,
        vec![(tp(0), committed(5, "")), (tp(1), committed(5, ""))],
    );
    commit_in_txn(
        &mut o,
        7,
        vec![(tp(0), committed(9, "")), (tp(1), committed(9, ""))],
    );
    commit_plain(&mut o, vec![(tp(1), committed(12, ""))]);
    o.txn_completed(7, true);
    assert_eq!(
        offset_of(&o, 0, true),
        (9, ErrorCode::NONE),
        "older plain commit replaced"
    );
    assert_eq!(
        offset_of(&o, 1, true),
        (12, ErrorCode::NONE),
        "newer plain commit kept"
    );

    // The same order replayed at a load gives the same answer.
    let mut replayed = Offsets::default();
    let stored = |offset| {
        StoredOffset::from_record(OffsetValue {
            offset,
            leader_epoch: 0,
            metadata: String::new(),
            commit_timestamp_ms: 1,
            expire_timestamp_ms: None,
        })
    };
    replayed.replay("g", tp(1), Some(stored(5)));
    replayed.replay_pending(7, "g", tp(1), stored(9));
    replayed.replay("g", tp(1), Some(stored(12)));
    replayed.txn_completed(7, true);
    assert_eq!(offset_of(&replayed, 1, true), (12, ErrorCode::NONE));
}

/// Kafka's replay of an offset tombstone drops the open transactions' commits of that
/// partition too: a deleted group's (or partition's) pending commit does not bring its
/// offset back at the marker. A group with only pending commits exists (and counts against
/// the node's group bound).
#[test]
fn deleting_offsets_drops_the_pending_transactional_ones() {
    let mut o = Offsets::default();
    commit_in_txn(
        &mut o,
        7,
        vec![(tp(0), committed(9, "")), (tp(1), committed(9, ""))],
    );
    assert!(o.has_offsets("g"), "pending commits make the group known");
    assert_eq!(o.group_count(), 1);
    let pending: Vec<_> = o
        .pending_commits()
        .map(|(g, tp)| (g.clone(), tp.clone()))
        .collect();
    assert_eq!(pending, [("g".to_owned(), tp(0)), ("g".to_owned(), tp(1))]);

    o.remove("g", Some(&[tp(0)]));
    assert!(!o.is_pending("g", &tp(0)) && o.is_pending("g", &tp(1)));
    o.replay("g", tp(1), None);
    assert!(
        !o.is_pending("g", &tp(1)),
        "a replayed tombstone drops it too"
    );
    assert_eq!(o.group_count(), 0);
    o.txn_completed(7, true);
    assert_eq!(offset_of(&o, 0, false), (-1, ErrorCode::NONE));
    assert_eq!(offset_of(&o, 1, false), (-1, ErrorCode::NONE));

    commit_in_txn(&mut o, 8, vec![(tp(2), committed(3, ""))]);
    o.remove("g", None);
    o.txn_completed(8, true);
    assert!(!o.has_offsets("g"), "the whole group's deletion drops them");
}
