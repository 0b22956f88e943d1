//! The leader's side of a follower's fetch (`partition::replica_fetch`): records from the
//! fetch offset up to the log end, held until an append when there are none, Kafka's checks
//! (KIP-320's epoch, leadership, the diverging epoch of KIP-595) and the follower's progress
//! recorded for the high watermark.

use super::leader_epochs::tell_with_isr;
use super::*;
use crate::messages::{ReplicaFetchRequest, ReplicaFetchResult};
use crate::types::BrokerEpoch;

const FOLLOWER: NodeId = NodeId(2);

fn ask(
    tp: &TopicPartition,
    epoch: i32,
    fetch_offset: i64,
    last_fetched: i32,
) -> ReplicaFetchRequest {
    ReplicaFetchRequest {
        tp: tp.clone(),
        topic_id: [0; 16],
        replica: FOLLOWER,
        broker_epoch: BrokerEpoch(7),
        current_leader_epoch: LeaderEpoch(epoch),
        fetch_offset: Offset(fetch_offset),
        synced_offset: Offset(fetch_offset),
        last_fetched_epoch: LeaderEpoch(last_fetched),
        log_start_offset: Offset(0),
        max_bytes: 1 << 20,
        max_wait_ms: 500,
    }
}

fn result(reply: PartitionsReply) -> ReplicaFetchResult {
    match reply {
        PartitionsReply::ReplicaFetch(result) => result,
        other => panic!("{other:?}"),
    }
}

/// The answer given at once.
fn fetch_now(h: &mut Harness, request: ReplicaFetchRequest) -> ReplicaFetchResult {
    result(h.ask(PartitionsRequest::ReplicaFetch(request)))
}

fn progress(h: &Harness, tp: &TopicPartition) -> Option<i64> {
    let replica = h.actor.replica(tp).unwrap();
    replica.followers().get(&FOLLOWER).map(|p| p.log_end.0)
}

#[test]
fn a_leader_serves_a_follower_up_to_its_log_end_and_holds_the_fetch_until_an_append() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_with_isr(&mut h, &[(&a, Some(1), 2)], &[1, 2]);
    h.ensure(&a, config(None));
    for value in [b"x", b"y", b"z"] {
        let produced = h.produce_one(1, &a, plain(value));
        assert_eq!(produced.error_code, ErrorCode::NONE);
    }
    // The follower is in the ISR and its log end unknown: nothing is committed yet, but the
    // follower gets every record (it copies what is not committed, which commits it).
    let served = fetch_now(&mut h, ask(&a, 2, 0, -1));
    assert_eq!(served.error_code, ErrorCode::NONE);
    assert_eq!(batch_offsets(&served.records), vec![0, 1, 2]);
    assert_eq!(
        (
            served.high_watermark,
            served.log_start_offset,
            served.log_end_offset
        ),
        (Offset(0), Offset(0), Offset(3))
    );
    assert_eq!(served.diverging_epoch, None);
    assert_eq!(progress(&h, &a), Some(0), "the follower's log end recorded");

    // Caught up: held until the next append, which answers it with the new batch.
    let (held, effects) = h.send(PartitionsRequest::ReplicaFetch(ask(&a, 2, 3, 2)));
    let mut effects = effects;
    assert!(
        take_reply(&mut effects, held).is_none(),
        "held: nothing new"
    );
    assert!(
        matches!(
            timers(&effects)[..],
            [(PartitionsTimer::ReplicaFetch(_), 500)]
        ),
        "{:?}",
        timers(&effects)
    );
    let (_, mut effects) = h.send(produce(1, vec![(a.clone(), plain(b"w"))]));
    let woken = result(take_reply(&mut effects, held).expect("the append answers it"));
    assert_eq!(batch_offsets(&woken.records), vec![3]);
    assert_eq!(woken.log_end_offset, Offset(4));
    assert_eq!(progress(&h, &a), Some(3));

    // Held again, then answered empty when its wait runs out.
    let (held, effects) = h.send(PartitionsRequest::ReplicaFetch(ask(&a, 2, 4, 2)));
    let [(key, _)] = timers(&effects)[..] else {
        panic!("{:?}", timers(&effects))
    };
    let mut effects = h.step(Input::Timer { key });
    let expired = result(take_reply(&mut effects, held).expect("answered at its timeout"));
    assert_eq!(
        (
            expired.error_code,
            expired.records.len(),
            expired.log_end_offset
        ),
        (ErrorCode::NONE, 0, Offset(4))
    );
    // One that asks not to wait is answered at once, empty.
    let mut no_wait = ask(&a, 2, 4, 2);
    no_wait.max_wait_ms = 0;
    assert!(fetch_now(&mut h, no_wait).records.is_empty());

    // A new leadership forgets the followers' progress (Kafka resets it on becoming leader).
    tell_with_isr(&mut h, &[(&a, Some(1), 3)], &[1, 2]);
    assert_eq!(progress(&h, &a), None);
}

#[test]
fn a_leader_answers_a_diverging_epoch_and_refuses_stale_or_misdirected_fetches() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, unknown) = (tp("a"), tp("unknown"));
    tell_with_isr(&mut h, &[(&a, Some(1), 0)], &[1, 2]);
    h.ensure(&a, config(None));
    for value in [b"x", b"y"] {
        assert_eq!(
            h.produce_one(1, &a, plain(value)).error_code,
            ErrorCode::NONE
        );
    }
    tell_with_isr(&mut h, &[(&a, Some(1), 3)], &[1, 2]);
    for value in [b"z", b"w"] {
        assert_eq!(
            h.produce_one(1, &a, plain(value)).error_code,
            ErrorCode::NONE
        );
    }
    // The leader's log: epoch 0 at offsets 0-1, epoch 3 at 2-3.
    let diverged = |h: &mut Harness, offset: i64, last: i32| {
        let served = fetch_now(h, ask(&a, 3, offset, last));
        assert!(served.records.is_empty(), "no records with a divergence");
        (
            served.error_code,
            served.diverging_epoch.map(|(e, o)| (e.0, o.0)),
        )
    };
    // The follower agrees up to its fetch offset: records.
    let served = fetch_now(&mut h, ask(&a, 3, 2, 0));
    assert_eq!(
        (served.diverging_epoch, batch_offsets(&served.records)),
        (None, vec![2, 3])
    );
    // It wrote offset 2 in epoch 0 (or in epoch 1, which the leader never had): epoch 0 ends
    // at 2 on the leader, so it must cut there.
    assert_eq!(diverged(&mut h, 3, 0), (ErrorCode::NONE, Some((0, 2))));
    assert_eq!(diverged(&mut h, 3, 1), (ErrorCode::NONE, Some((0, 2))));
    // Past the leader's end in the leader's epoch: cut to the leader's end.
    assert_eq!(diverged(&mut h, 9, 3), (ErrorCode::NONE, Some((3, 4))));
    // An epoch newer than any the leader knows cannot be placed; nor an offset past the end
    // without an epoch.
    assert_eq!(
        diverged(&mut h, 4, 5),
        (ErrorCode::OFFSET_OUT_OF_RANGE, None)
    );
    assert_eq!(
        diverged(&mut h, 9, -1),
        (ErrorCode::OFFSET_OUT_OF_RANGE, None)
    );
    assert_eq!(
        progress(&h, &a),
        Some(2),
        "only a served fetch counts as progress"
    );

    // KIP-320, then leadership, then what this node does not hold.
    assert_eq!(
        fetch_now(&mut h, ask(&a, 2, 4, 3)).error_code,
        ErrorCode::FENCED_LEADER_EPOCH
    );
    assert_eq!(
        fetch_now(&mut h, ask(&a, 4, 4, 3)).error_code,
        ErrorCode::UNKNOWN_LEADER_EPOCH
    );
    tell_with_isr(&mut h, &[(&a, Some(2), 4)], &[2]);
    assert_eq!(
        fetch_now(&mut h, ask(&a, 4, 4, 3)).error_code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    assert_eq!(
        fetch_now(&mut h, ask(&unknown, -1, 0, -1)).error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}

/// A follower whose metadata names another topic id (a replica left from a deleted topic of
/// the same name) is refused UNKNOWN_TOPIC_ID, as Kafka's Fetch v13+: it never copies its
/// successor's log. An unknown id on either side is not checked.
#[test]
fn a_leader_refuses_a_follower_of_another_topic_of_the_same_name() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_with_isr(&mut h, &[(&a, Some(1), 0)], &[1, 2]);
    assert_done(h.ask_after_jobs(PartitionsRequest::Ensure(EnsureRequest {
        tp: a.clone(),
        config: config(None),
        topic_id: [7; 16],
    })));
    let with_id = |id: [u8; 16]| ReplicaFetchRequest {
        topic_id: id,
        max_wait_ms: 0,
        ..ask(&a, 0, 0, -1)
    };
    assert_eq!(
        fetch_now(&mut h, with_id([8; 16])).error_code,
        ErrorCode::UNKNOWN_TOPIC_ID
    );
    assert_eq!(
        fetch_now(&mut h, with_id([7; 16])).error_code,
        ErrorCode::NONE
    );
    assert_eq!(
        fetch_now(&mut h, with_id([0; 16])).error_code,
        ErrorCode::NONE
    );
}

/// A held follower's fetch is answered as soon as the leadership goes, not at its timeout
/// (FENCED_LEADER_EPOCH: it named the old epoch, which is checked first), so the follower
/// turns to the new leader at once.
#[test]
fn a_held_fetch_is_answered_when_the_leadership_goes() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_with_isr(&mut h, &[(&a, Some(1), 2)], &[1, 2]);
    h.ensure(&a, config(None));
    let (held, mut effects) = h.send(PartitionsRequest::ReplicaFetch(ask(&a, 2, 0, -1)));
    assert!(
        take_reply(&mut effects, held).is_none(),
        "held: nothing to copy"
    );
    let mut effects = tell_with_isr(&mut h, &[(&a, Some(FOLLOWER.0), 3)], &[FOLLOWER.0]);
    let answered = result(take_reply(&mut effects, held).expect("answered at the change"));
    assert_eq!(answered.error_code, ErrorCode::FENCED_LEADER_EPOCH);
}

/// Only the partition's assigned replicas are served (Kafka's `followerReplicaOrThrow`): a
/// node the metadata does not list is refused, UNKNOWN_LEADER_EPOCH when it named an epoch,
/// and its fetch counts as nobody's progress.
#[test]
fn a_leader_serves_only_the_partitions_assigned_replicas() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_with_isr(&mut h, &[(&a, Some(1), 2)], &[1, 2]);
    h.ensure(&a, config(None));
    let stranger = |epoch: i32| ReplicaFetchRequest {
        replica: NodeId(9),
        max_wait_ms: 0,
        ..ask(&a, epoch, 0, -1)
    };
    assert_eq!(
        fetch_now(&mut h, stranger(2)).error_code,
        ErrorCode::UNKNOWN_LEADER_EPOCH
    );
    assert_eq!(
        fetch_now(&mut h, stranger(-1)).error_code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    assert!(h.actor.replica(&a).unwrap().followers().is_empty());
    assert_eq!(
        fetch_now(
            &mut h,
            ReplicaFetchRequest {
                max_wait_ms: 0,
                ..ask(&a, 2, 0, -1)
            }
        )
        .error_code,
        ErrorCode::NONE
    );
}
