//! A leader's ISR changes (`partition::isr`, issue 14 R3): a follower that stops fetching
//! leaves after `replica.lag.time.max.ms`, one that catches up joins, each asked of the
//! controller as an AlterPartition with the broker epochs of the members' fetches (KIP-903);
//! while asked, the high watermark counts both ISRs' members; the controller's answer, its
//! refusal, a failed call and the metadata each settle it as Kafka's partition does.

use super::leader_epochs::tell_at;
use super::*;
use crate::actor::CallId;
use crate::messages::quorum::{
    IsrChange, IsrOutcome, IsrState, LeaderRequest, QuorumReply, QuorumRequest,
};
use crate::messages::{ReplicaFetchRequest, QUORUM};
use crate::types::BrokerEpoch;

/// `follower`'s fetch of `tp` from `fetch_offset` in broker epoch `broker_epoch`, answered at
/// once; the reply's error code and the effects.
pub(super) fn fetch_as(
    h: &mut Harness,
    tp: &TopicPartition,
    follower: u64,
    broker_epoch: u64,
    fetch_offset: i64,
) -> (ErrorCode, Effects) {
    let ask = ReplicaFetchRequest {
        tp: tp.clone(),
        topic_id: [0; 16],
        replica: NodeId(follower),
        broker_epoch: BrokerEpoch(broker_epoch),
        current_leader_epoch: LeaderEpoch(1),
        fetch_offset: Offset(fetch_offset),
        synced_offset: Offset(fetch_offset),
        last_fetched_epoch: LeaderEpoch::UNKNOWN,
        log_start_offset: Offset(0),
        max_bytes: 1 << 20,
        max_wait_ms: 0,
    };
    let (id, mut effects) = h.send(PartitionsRequest::ReplicaFetch(ask));
    let code = match take_reply(&mut effects, id) {
        Some(PartitionsReply::ReplicaFetch(result)) => result.error_code,
        other => panic!("not a replica fetch answer: {other:?}"),
    };
    (code, effects)
}

/// The AlterPartition calls to this node's voter among `effects`: (call, the change).
fn isr_asks(effects: &Effects) -> Vec<(CallId, IsrChange)> {
    (effects.iter())
        .filter_map(|e| match e {
            Effect::Call {
                to,
                call,
                msg:
                    NodeMsg::Quorum(QuorumRequest::ToLeader {
                        request: LeaderRequest::AlterPartition { changes, .. },
                        ..
                    }),
                ..
            } if to.actor == QUORUM => Some((*call, changes[0].clone())),
            _ => None,
        })
        .collect()
}

/// The ISR a change asks for, with the broker epochs it names.
fn members(change: &IsrChange) -> Vec<(u64, Option<u64>)> {
    (change.new_isr.iter())
        .map(|(node, epoch)| (node.0, epoch.map(|e| e.0)))
        .collect()
}

/// The controller's answer: the change committed at `partition_epoch`.
fn committed(h: &mut Harness, call: CallId, isr: &[u64], partition_epoch: i32) -> Effects {
    let state = IsrState {
        leader: Some(NodeId(1)),
        leader_epoch: LeaderEpoch(1),
        partition_epoch,
        isr: isr.iter().copied().map(NodeId).collect(),
    };
    answer(h, call, Ok(state))
}

fn answer(h: &mut Harness, call: CallId, result: Result<IsrState, ErrorCode>) -> Effects {
    let outcome = IsrOutcome {
        topic_id: [0; 16],
        partition: 0,
        result,
    };
    let msg = NodeMsg::QuorumReply(QuorumReply::PartitionsAltered(vec![outcome]));
    h.step(Input::Reply { call, msg })
}

fn check(h: &mut Harness) -> Effects {
    h.step(Input::Timer {
        key: PartitionsTimer::IsrCheck,
    })
}

fn isr_of(h: &Harness, tp: &TopicPartition) -> Vec<u64> {
    match h.actor.replica(tp).unwrap().role() {
        Role::Leader { isr, .. } => isr.iter().map(|n| n.0).collect(),
        Role::Follower { .. } => panic!("not leading"),
    }
}

/// A leader of `a` in epoch 1, at partition epoch 7, with ISR `isr`, two records appended.
fn leading(isr: &[u64]) -> (Harness, TopicPartition) {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    let told = tell_at(&mut h, &[(&a, Some(1), 1)], isr, 7);
    assert_eq!(
        timers(&told),
        vec![(PartitionsTimer::IsrCheck, 1_000)],
        "leading a replicated partition arms the ISR check"
    );
    h.ensure(&a, config(None));
    for value in [b"x", b"y"] {
        let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(value))]));
        h.complete(syncs(&effects));
    }
    (h, a)
}

#[test]
fn a_follower_that_stops_fetching_leaves_the_isr_after_the_lag_time_and_the_hw_moves_on() {
    let (mut h, a) = leading(&[1, 2, 3]);
    h.now.mono_ms = 1_000;
    assert!(isr_asks(&check(&mut h)).is_empty(), "nobody lags yet");
    // Node 2 keeps up; node 3 never fetches.
    for t in [2_000, 15_000, 31_000] {
        h.now.mono_ms = t;
        fetch_as(&mut h, &a, 2, 2, 2);
    }
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(0));
    h.now.mono_ms = 31_000;
    assert!(isr_asks(&check(&mut h)).is_empty(), "within the lag time");
    h.now.mono_ms = 31_001;
    let asks = isr_asks(&check(&mut h));
    let [(call, change)] = &asks[..] else {
        panic!("one shrink asked: {asks:?}");
    };
    assert_eq!(members(change), vec![(1, None), (2, Some(2))]);
    assert_eq!(
        (change.leader_epoch, change.partition_epoch),
        (LeaderEpoch(1), 7)
    );
    // Asked, not committed: node 3 still holds the high watermark, and nothing more is asked.
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(0));
    h.now.mono_ms = 40_000;
    assert!(isr_asks(&check(&mut h)).is_empty(), "one change at a time");
    committed(&mut h, *call, &[1, 2], 8);
    assert_eq!(isr_of(&h, &a), vec![1, 2]);
    assert_eq!(
        h.actor.replica(&a).unwrap().high_watermark(),
        Offset(2),
        "node 2 has both records"
    );
    // The metadata catches up with the same state: nothing changes, nothing is asked.
    tell_at(&mut h, &[(&a, Some(1), 1)], &[1, 2], 8);
    assert_eq!(isr_of(&h, &a), vec![1, 2]);
    assert!(h.actor.replica(&a).unwrap().proposed_isr().is_none());
}

#[test]
fn a_caught_up_follower_joins_and_holds_the_hw_while_its_join_is_asked() {
    let (mut h, a) = leading(&[1]);
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(2));
    // Behind the high watermark: not yet.
    let (_, effects) = fetch_as(&mut h, &a, 2, 2, 1);
    assert!(isr_asks(&effects).is_empty());
    // In an earlier incarnation's broker epoch: never (KIP-903).
    let (_, effects) = fetch_as(&mut h, &a, 2, 1, 2);
    assert!(isr_asks(&effects).is_empty());
    // Caught up in its registration's epoch: asked.
    let (code, effects) = fetch_as(&mut h, &a, 2, 2, 2);
    assert_eq!(code, ErrorCode::NONE);
    let asks = isr_asks(&effects);
    let [(call, change)] = &asks[..] else {
        panic!("one expansion asked: {asks:?}");
    };
    assert_eq!(members(change), vec![(1, None), (2, Some(2))]);
    // Until the controller answers, node 2 counts for the high watermark (maximal ISR).
    let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(b"z"))]));
    h.complete(syncs(&effects));
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(2));
    committed(&mut h, *call, &[1, 2], 8);
    assert_eq!(isr_of(&h, &a), vec![1, 2]);
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(2));
    fetch_as(&mut h, &a, 2, 2, 3);
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(3));
    // An older metadata state arriving after the answer does not undo it.
    tell_at(&mut h, &[(&a, Some(1), 1)], &[1], 7);
    assert_eq!(isr_of(&h, &a), vec![1, 2]);
}

/// Kafka's `Replica.updateFetchStateOrThrow`: once a replica fetched in a broker epoch, a
/// fetch in an earlier one (a process since replaced) is refused.
#[test]
fn a_fetch_in_an_older_broker_epoch_than_one_seen_is_refused() {
    let (mut h, a) = leading(&[1, 2]);
    assert_eq!(fetch_as(&mut h, &a, 2, 2, 0).0, ErrorCode::NONE);
    assert_eq!(
        fetch_as(&mut h, &a, 2, 1, 0).0,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    assert_eq!(
        fetch_as(&mut h, &a, 2, 3, 0).0,
        ErrorCode::NONE,
        "a newer one"
    );
}

#[test]
fn a_refused_join_is_withdrawn_and_a_failed_call_is_asked_again_until_the_metadata_settles_it() {
    let (mut h, a) = leading(&[1]);
    let (_, effects) = fetch_as(&mut h, &a, 2, 2, 2);
    let [(call, _)] = isr_asks(&effects)[..] else {
        panic!("asked");
    };
    // The controller found node 2 ineligible (fenced meanwhile): the leader alone again.
    answer(&mut h, call, Err(ErrorCode::INELIGIBLE_REPLICA));
    assert!(h.actor.replica(&a).unwrap().proposed_isr().is_none());
    let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(b"z"))]));
    h.complete(syncs(&effects));
    assert_eq!(h.actor.replica(&a).unwrap().high_watermark(), Offset(3));

    // Asked again; the call fails (no controller leader): still asked, sent at the next check.
    let (_, effects) = fetch_as(&mut h, &a, 2, 2, 3);
    let [(call, _)] = isr_asks(&effects)[..] else {
        panic!("asked again");
    };
    h.step(Input::CallFailed {
        call,
        why: crate::actor::CallFailure::TimedOut,
    });
    assert!(h.actor.replica(&a).unwrap().proposed_isr().is_some());
    let resent = isr_asks(&check(&mut h));
    let [(call, _)] = resent[..] else {
        panic!("sent again: {resent:?}");
    };
    // Another change got there first: the leader waits for the metadata, which ends the ask.
    answer(&mut h, call, Err(ErrorCode::INVALID_UPDATE_VERSION));
    assert!(h.actor.replica(&a).unwrap().proposed_isr().is_some());
    tell_at(&mut h, &[(&a, Some(1), 1)], &[1, 2], 9);
    assert!(h.actor.replica(&a).unwrap().proposed_isr().is_none());
    assert_eq!(isr_of(&h, &a), vec![1, 2]);
    assert!(isr_asks(&check(&mut h)).is_empty());
}

/// An answer to an earlier ask is not taken for a later one: the metadata moved on while the
/// first was in flight, and a second was asked from the new state.
#[test]
fn an_answer_to_an_earlier_ask_leaves_a_later_one_alone() {
    let (mut h, a) = leading(&[1]);
    let (_, effects) = fetch_as(&mut h, &a, 2, 2, 2);
    let [(first, _)] = isr_asks(&effects)[..] else {
        panic!("asked");
    };
    // The metadata moves on (another change of the partition): the ask ends; node 3 catches
    // up and is asked for from the new state (node 2's call is still out: nothing is sent for
    // the partition until it is answered).
    tell_at(&mut h, &[(&a, Some(1), 1)], &[1], 8);
    assert!(h.actor.replica(&a).unwrap().proposed_isr().is_none());
    fetch_as(&mut h, &a, 3, 3, 2);
    let proposed = h.actor.replica(&a).unwrap().proposed_isr().cloned();
    assert_eq!(proposed, Some(BTreeSet::from([NodeId(1), NodeId(3)])));
    answer(&mut h, first, Err(ErrorCode::INELIGIBLE_REPLICA));
    assert_eq!(
        h.actor.replica(&a).unwrap().proposed_isr().cloned(),
        proposed,
        "the refusal was of the first ask"
    );
    // The second is sent now.
    let resent = isr_asks(&check(&mut h));
    let [(_, change)] = &resent[..] else {
        panic!("the second ask is sent: {resent:?}");
    };
    assert_eq!(members(change), vec![(1, None), (3, Some(3))]);
    assert_eq!(change.partition_epoch, 8);
}

/// A group coordinator's load barrier waits for the high watermark to pass the log end it
/// replays to. Under min.insync.replicas the high watermark stays (KAFKA-15583), so the
/// barrier waits for the ISR to grow again, and is then answered, not refused.
#[test]
fn a_coordinators_barrier_waits_for_the_hw_and_is_not_refused_for_a_small_isr() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_at(&mut h, &[(&a, Some(1), 1)], &[1, 2], 7);
    let mut two = config(None);
    two.min_insync_replicas = 2;
    h.ensure(&a, two);
    let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(b"x"))]));
    h.complete(syncs(&effects));
    let (barrier, effects) = h.send(PartitionsRequest::Lead(LeadRequest { tp: a.clone() }));
    let mut effects = h
        .complete(syncs(&effects))
        .into_iter()
        .chain(effects)
        .collect();
    assert!(
        take_reply(&mut effects, barrier).is_none(),
        "node 2 lacks the record"
    );
    // Node 2 leaves the ISR: below min.insync.replicas, the high watermark stays.
    let mut effects = tell_at(&mut h, &[(&a, Some(1), 1)], &[1], 8);
    assert!(take_reply(&mut effects, barrier).is_none(), "frozen");
    // Node 2 is back in the ISR and holds the record: the barrier is answered.
    tell_at(&mut h, &[(&a, Some(1), 1)], &[1, 2], 9);
    let (_, mut effects) = fetch_as(&mut h, &a, 2, 2, 1);
    match take_reply(&mut effects, barrier) {
        Some(PartitionsReply::Lead(Ok((_, end)))) => assert_eq!(end, Offset(1)),
        other => panic!("the barrier is answered: {other:?}"),
    }
}

/// Fails the sync of a third record on `a`'s leader (fsyncgate drops it) and reopens the log
/// after the retry delay: the effects of the reopen (its job, and the resignation asked).
fn cut_back_after_a_failed_sync(h: &mut Harness, a: &TopicPartition) -> Effects {
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"z"))]));
    let (token, _) = syncs(&effects)[0].clone();
    assert!(
        h.mem
            .drop_unsynced(Path::new("a-0/00000000000000000000.log"))
            > 0
    );
    h.step(Input::Synced {
        token,
        result: Err("EIO".into()),
    });
    assert_eq!(h.actor.offline_count(), 1);
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += crate::limits::OFFLINE_LOG_RETRY_MS as i64;
    h.step(Input::Timer {
        key: PartitionsTimer::Retention,
    })
}

/// A leader of a replicated partition whose log is reopened cut back after a failed sync
/// resigns (found by the simulator's replica comparison: its followers kept the records the
/// cut removed, under the same leader epoch, while it wrote others at those offsets): it asks
/// the controller for a new leadership and takes no append until the metadata names one.
#[test]
fn a_leader_whose_log_was_cut_back_after_a_failed_sync_resigns_until_a_new_epoch() {
    let (mut h, a) = leading(&[1, 2]);
    let effects = cut_back_after_a_failed_sync(&mut h, &a);
    let asks = isr_asks(&effects);
    let [(call, change)] = &asks[..] else {
        panic!("one resignation asked: {asks:?}");
    };
    assert!(change.resign);
    assert_eq!(
        (change.leader_epoch, change.partition_epoch),
        (LeaderEpoch(1), 7)
    );
    h.complete(syncs(&effects));
    assert_eq!(
        h.produce_one(1, &a, plain(b"w")).error_code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        "no append in the epoch it resigned"
    );
    // Nor a follower's fetch: answered from the cut log, a follower past its end would cut
    // the records this leader lost.
    assert_eq!(
        fetch_as(&mut h, &a, 2, 2, 3).0,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    // The controller's answer names the next leadership; the metadata brings it.
    let next = IsrState {
        leader: Some(NodeId(1)),
        leader_epoch: LeaderEpoch(2),
        partition_epoch: 8,
        isr: vec![NodeId(1), NodeId(2)],
    };
    answer(&mut h, *call, Ok(next));
    assert_eq!(
        h.produce_one(1, &a, plain(b"w")).error_code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    tell_at(&mut h, &[(&a, Some(1), 2)], &[1, 2], 8);
    assert_eq!(
        h.produce_one(1, &a, plain(b"w")).error_code,
        ErrorCode::NONE
    );
    assert!(!h.actor.replica(&a).unwrap().resigning());
}

/// A resignation whose call failed is asked again by the next check, and nothing else is
/// asked meanwhile (a follower catching up does not replace it). A partition with no other
/// replica does not resign.
#[test]
fn a_resignation_is_asked_again_until_answered() {
    let (mut h, a) = leading(&[1, 2]);
    let effects = cut_back_after_a_failed_sync(&mut h, &a);
    h.complete(syncs(&effects));
    let asks = isr_asks(&effects);
    let [(call, _)] = &asks[..] else {
        panic!("one resignation asked: {asks:?}");
    };
    h.step(Input::Reply {
        call: *call,
        msg: NodeMsg::QuorumReply(QuorumReply::Failed("no leader".into())),
    });
    let (_, effects) = fetch_as(&mut h, &a, 2, 2, 2);
    assert!(
        isr_asks(&effects).is_empty(),
        "no other change while resigning"
    );
    h.now.mono_ms += 1_000;
    let asks = isr_asks(&check(&mut h));
    assert!(
        matches!(&asks[..], [(_, change)] if change.resign),
        "{asks:?}"
    );

    let mut single = Harness::new(Arc::new(MemStorage::new()));
    single.ensure(&a, config(None));
    let effects = cut_back_after_a_failed_sync(&mut single, &a);
    assert!(isr_asks(&effects).is_empty());
    single.complete(syncs(&effects));
    assert_eq!(
        single.produce_one(1, &a, plain(b"w")).error_code,
        ErrorCode::NONE
    );
}

/// A `__consumer_offsets` leader elected again while its last record is not on its follower
/// yet tells the coordinator that its high watermark is below its log end, so that the
/// coordinator loads after the barrier rather than stopping short at the high watermark
/// (seed 1595).
#[test]
fn an_offsets_leader_elected_with_uncommitted_records_tells_the_coordinator_so() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let p = TopicPartition {
        topic: OFFSETS_TOPIC.to_owned(),
        partition: 0,
    };
    tell_at(&mut h, &[(&p, Some(1), 1)], &[1, 2], 7);
    h.ensure(&p, config(None));
    let (_, effects) = h.send(produce(1, vec![(p.clone(), plain(b"x"))]));
    h.complete(syncs(&effects));
    let effects = tell_at(&mut h, &[(&p, Some(1), 2)], &[1, 2], 8);
    let elected: Vec<(Offset, Offset)> = (effects.iter())
        .filter_map(|e| match e {
            Effect::Send {
                msg:
                    NodeMsg::GroupsEvent(GroupsEvent::Elected {
                        log_end,
                        high_watermark,
                        ..
                    }),
                ..
            } => Some((*log_end, *high_watermark)),
            _ => None,
        })
        .collect();
    assert_eq!(elected, vec![(Offset(1), Offset(0))]);
}
