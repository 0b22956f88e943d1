//! A follower's fetch loop (`partition::following`) against a leader, two actors on two
//! nodes with the inter-node calls relayed by hand: the follower copies the leader's batches
//! as they are (offsets, epochs, producers), takes its high watermark, waits on a held fetch,
//! and cuts a diverged log where the leader's epochs say — then copies the rest.

use super::leader_epochs::tell_with_isr;
use super::*;
use crate::actor::CallId;
use crate::messages::{ReplicaFetchRequest, ReplicaFetchResult, ReplicaSyncedNotice};
use crate::partition::following;

const LEADER: u64 = 1;
const FOLLOWER: u64 = 2;

/// The replica fetches the follower sends in `effects`: (call, to, request).
pub(super) fn fetch_calls(effects: &Effects) -> Vec<(CallId, NodeId, ReplicaFetchRequest)> {
    (effects.iter())
        .filter_map(|e| match e {
            Effect::Call {
                to,
                call,
                msg: NodeMsg::Partitions(PartitionsRequest::ReplicaFetch(request)),
                ..
            } if to.actor == PARTITIONS => Some((*call, to.node, request.clone())),
            _ => None,
        })
        .collect()
}

/// Runs the persist jobs among `effects` (and those they lead to); every effect seen.
pub(super) fn settle(h: &mut Harness, mut effects: Effects) -> Effects {
    let mut seen = Vec::new();
    loop {
        let jobs = syncs(&effects);
        seen.extend(effects);
        if jobs.is_empty() {
            return seen;
        }
        effects = h.complete(jobs);
    }
}

/// Relays the follower's fetches in `effects` to the leader and its answers back until a
/// fetch is held by the leader; returns the held one (the leader's request id, the follower's
/// call). Panics if the follower stops fetching.
fn relay(leader: &mut Harness, follower: &mut Harness, effects: Effects) -> (RequestId, CallId) {
    let mut seen = settle(follower, effects);
    for _ in 0..100 {
        let calls = fetch_calls(&seen);
        let [(call, to, request)] = &calls[..] else {
            panic!("one fetch in flight: {calls:?}");
        };
        assert_eq!(*to, NodeId(LEADER));
        let (id, mut effects) = leader.send(PartitionsRequest::ReplicaFetch(request.clone()));
        // The sync notices sent after it, in order, as on the link.
        for notice in synced_notices(&seen) {
            notify(leader, notice);
        }
        let Some(reply) = take_reply(&mut effects, id) else {
            return (id, *call);
        };
        let answered = follower.step(Input::Reply {
            call: *call,
            msg: NodeMsg::PartitionsReply(reply),
        });
        seen = settle(follower, answered);
    }
    panic!("the follower never caught up");
}

/// Delivers a follower's sync notice to the leader, as a message from the follower's node.
fn notify(leader: &mut Harness, notice: ReplicaSyncedNotice) -> Effects {
    let from = Addr {
        node: NodeId(FOLLOWER),
        actor: PARTITIONS,
    };
    let msg = NodeMsg::Partitions(PartitionsRequest::ReplicaSynced(notice));
    leader.step(Input::Msg { from, msg })
}

/// The sync notices the follower sends in `effects`.
fn synced_notices(effects: &Effects) -> Vec<ReplicaSyncedNotice> {
    (effects.iter())
        .filter_map(|e| match e {
            Effect::Send {
                to,
                msg: NodeMsg::Partitions(PartitionsRequest::ReplicaSynced(notice)),
            } if to.actor == PARTITIONS => Some(notice.clone()),
            _ => None,
        })
        .collect()
}

/// Sends an Ensure and runs its open's job; every effect seen.
pub(super) fn open(h: &mut Harness, tp: &TopicPartition) -> Effects {
    let (_, effects) = h.send(PartitionsRequest::Ensure(EnsureRequest {
        tp: tp.clone(),
        config: config(None),
        topic_id: [0; 16],
    }));
    settle(h, effects)
}

/// The log's batches from offset 0, as stored.
fn stored(h: &Harness, tp: &TopicPartition) -> Vec<u8> {
    stored_from(h, tp, 0)
}

/// The log's batches from the one holding `offset` on, as stored.
fn stored_from(h: &Harness, tp: &TopicPartition, offset: i64) -> Vec<u8> {
    let log = h.actor.replica(tp).unwrap().log();
    log.read(offset, 1 << 20).unwrap().bytes
}

fn epochs(h: &Harness, tp: &TopicPartition) -> Vec<(i32, i64)> {
    let log = h.actor.replica(tp).unwrap().log();
    (log.epoch_entries().iter())
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

#[test]
fn a_follower_copies_the_leaders_batches_as_they_are_and_takes_its_high_watermark() {
    let a = tp("a");
    let mut leader = Harness::on_node(Arc::new(MemStorage::new()), LEADER);
    let mut follower = Harness::on_node(Arc::new(MemStorage::new()), FOLLOWER);
    // The leader is its ISR alone: its high watermark is its log end.
    tell_with_isr(&mut leader, &[(&a, Some(LEADER), 3)], &[LEADER]);
    leader.ensure(&a, config(None));
    let pid = ProducerId(42);
    for seq in 0..2 {
        let batch = idempotent(pid, 0, seq, 1);
        assert_eq!(leader.produce_one(1, &a, batch).error_code, ErrorCode::NONE);
    }
    assert_eq!(
        leader.produce_one(1, &a, plain(b"p")).error_code,
        ErrorCode::NONE
    );

    tell_with_isr(&mut follower, &[(&a, Some(LEADER), 3)], &[LEADER]);
    let opened = open(&mut follower, &a);
    let (held, call) = relay(&mut leader, &mut follower, opened);
    assert_eq!(stored(&follower, &a), stored(&leader, &a), "the same bytes");
    assert_eq!(epochs(&follower, &a), vec![(3, 0)]);
    let replica = follower.actor.replica(&a).unwrap();
    assert_eq!(replica.high_watermark(), Offset(3), "the leader's");
    let entry = replica
        .producers()
        .get(pid)
        .expect("the producer, from the batches");
    assert_eq!(entry.batches.back().map(|b| b.last_seq), Some(1));
    // The follower cannot serve clients.
    let refused = follower.produce_one(1, &a, plain(b"no"));
    assert_eq!(refused.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);

    // The held fetch is answered by the leader's next append.
    let (_, mut effects) = leader.send(produce(1, vec![(a.clone(), plain(b"q"))]));
    let reply = take_reply(&mut effects, held).expect("the append answers the held fetch");
    let answered = follower.step(Input::Reply {
        call,
        msg: NodeMsg::PartitionsReply(reply),
    });
    relay(&mut leader, &mut follower, answered);
    assert_eq!(stored(&follower, &a), stored(&leader, &a));
    assert_eq!(follower.log_end(&a), 4);
    // The follower caught up at offset 3, so the leader asked to add it to the ISR and, until
    // the controller answers, counts it (Kafka's maximal ISR): `q` was not committed when the
    // follower copied it, and is once its next fetch (held now) showed it has it.
    assert_eq!(
        leader.actor.replica(&a).unwrap().proposed_isr(),
        Some(&BTreeSet::from([NodeId(LEADER), NodeId(FOLLOWER)]))
    );
    assert_eq!(
        follower.actor.replica(&a).unwrap().high_watermark(),
        Offset(3)
    );
    assert_eq!(
        leader.actor.replica(&a).unwrap().high_watermark(),
        Offset(4)
    );
    // The leader saw the follower's log end in its last fetch.
    let progress = leader.actor.replica(&a).unwrap().followers()[&NodeId(FOLLOWER)];
    assert_eq!(progress.log_end, Offset(4));
}

#[test]
fn a_follower_whose_log_diverged_cuts_it_where_the_leaders_epochs_say_and_copies_the_rest() {
    let a = tp("a");
    let mut leader = Harness::on_node(Arc::new(MemStorage::new()), LEADER);
    let mut follower = Harness::on_node(Arc::new(MemStorage::new()), FOLLOWER);
    // The follower led epoch 1 and wrote offsets 0-2; only offset 0 reached the node that
    // leads epoch 2, which wrote offsets 1-2 itself.
    tell_with_isr(&mut follower, &[(&a, Some(FOLLOWER), 1)], &[FOLLOWER]);
    follower.ensure(&a, config(None));
    for value in [b"f0", b"f1", b"f2"] {
        // acks=all, so its flush jobs ran: a log is cut only between its jobs.
        follower.ask_after_jobs(produce(-1, vec![(a.clone(), plain(value))]));
    }
    tell_with_isr(&mut leader, &[(&a, Some(LEADER), 1)], &[LEADER]);
    leader.ensure(&a, config(None));
    assert_eq!(
        leader.produce_one(1, &a, plain(b"f0")).error_code,
        ErrorCode::NONE
    );
    tell_with_isr(&mut leader, &[(&a, Some(LEADER), 2)], &[LEADER]);
    for value in [b"l1", b"l2", b"l3"] {
        assert_eq!(
            leader.produce_one(1, &a, plain(value)).error_code,
            ErrorCode::NONE
        );
    }
    assert_eq!(epochs(&leader, &a), vec![(1, 0), (2, 1)]);

    // The follower learns of epoch 2 and fetches: offsets 1-2 of epoch 1 are not the
    // leader's, so they go, and the leader's offsets 1-3 come in their place.
    let before = follower.actor.replica(&a).unwrap().high_watermark();
    assert_eq!(
        before,
        Offset(3),
        "its own high watermark as the old leader"
    );
    let mut effects = tell_with_isr(&mut follower, &[(&a, Some(LEADER), 2)], &[LEADER]);
    let first = fetch_calls(&effects);
    assert_eq!(first.len(), 1, "{effects:?}");
    assert_eq!(
        (first[0].2.fetch_offset, first[0].2.last_fetched_epoch),
        (Offset(3), LeaderEpoch(1))
    );
    // The leader answers with the divergence; the follower cuts, and sends nothing until the
    // cut's job completed.
    let (call, _, request) = first[0].clone();
    let (id, mut answer) = leader.send(PartitionsRequest::ReplicaFetch(request));
    let reply = take_reply(&mut answer, id).expect("a divergence is answered at once");
    let cut = follower.step(Input::Reply {
        call,
        msg: NodeMsg::PartitionsReply(reply),
    });
    assert!(
        fetch_calls(&cut).is_empty(),
        "no fetch before the cut is durable"
    );
    assert_eq!(
        follower.log_end(&a),
        1,
        "cut where epoch 1 ends on the leader"
    );
    let jobs = syncs(&cut);
    assert_eq!(jobs.len(), 1, "the cut's job: {cut:?}");
    let after_job = follower.complete(jobs);
    let next = fetch_calls(&after_job);
    assert_eq!(next.len(), 1, "the fetch goes out once the cut is durable");
    assert_eq!(
        (next[0].2.fetch_offset, next[0].2.last_fetched_epoch),
        (Offset(1), LeaderEpoch(1))
    );
    let _ = std::mem::take(&mut effects);
    relay(&mut leader, &mut follower, after_job);
    assert_eq!(
        stored(&follower, &a),
        stored(&leader, &a),
        "the leader's log, byte for byte"
    );
    assert_eq!(epochs(&follower, &a), vec![(1, 0), (2, 1)]);
    assert_eq!(follower.log_end(&a), 4);
    // Its high watermark is the leader's again.
    assert_eq!(
        follower.actor.replica(&a).unwrap().high_watermark(),
        Offset(4)
    );
    // The cut was durable before anything was appended: after a crash the follower's log is
    // a prefix of the leader's, never with the diverged records.
    follower.mem.crash();
    let mut reopened = Harness::on_node(follower.mem.clone(), FOLLOWER);
    reopened.ensure(&a, config(None));
    let after_crash = stored(&reopened, &a);
    let leaders = stored(&leader, &a);
    assert!(reopened.log_end(&a) >= 1);
    assert_eq!(after_crash[..], leaders[..after_crash.len()]);
}

/// After an error the follower waits out its backoff before it fetches again; an answer to a
/// fetch sent under an older role is dropped, and a new role fetches at once from the new
/// leader (the old fetch forgotten, not waited for).
#[test]
fn a_follower_backs_off_after_an_error_and_a_new_role_fetches_at_once() {
    let a = tp("a");
    let mut follower = Harness::on_node(Arc::new(MemStorage::new()), FOLLOWER);
    tell_with_isr(&mut follower, &[(&a, Some(LEADER), 3)], &[LEADER]);
    let opened = open(&mut follower, &a);
    let [(call, to, _)] = fetch_calls(&opened)[..] else {
        panic!("one fetch: {opened:?}")
    };
    assert_eq!(to, NodeId(LEADER));
    // Refused (the leader has not applied epoch 3 yet): a backoff, no fetch.
    let refused = NodeMsg::PartitionsReply(PartitionsReply::ReplicaFetch(
        ReplicaFetchResult::refused(ErrorCode::UNKNOWN_LEADER_EPOCH),
    ));
    let effects = follower.step(Input::Reply { call, msg: refused });
    assert!(fetch_calls(&effects).is_empty());
    let [(key, after_ms)] = timers(&effects)[..] else {
        panic!("{:?}", timers(&effects))
    };
    assert!(matches!(key, PartitionsTimer::FollowBackoff(_)));
    assert_eq!(
        after_ms,
        crate::partition::following::REPLICA_FETCH_BACKOFF_MS
    );
    let effects = follower.step(Input::Timer { key });
    let [(call, _, _)] = fetch_calls(&effects)[..] else {
        panic!("fetches again after the backoff: {effects:?}")
    };

    // The leadership moves to node 3 while that fetch is in flight: a fetch to node 3 goes
    // out at once, and the old fetch's answer, when it comes, changes nothing.
    let moved = tell_with_isr(&mut follower, &[(&a, Some(3), 4)], &[3]);
    let [(_, to, ref request)] = fetch_calls(&moved)[..] else {
        panic!("a fetch to the new leader: {moved:?}")
    };
    assert_eq!(
        (to, request.current_leader_epoch),
        (NodeId(3), LeaderEpoch(4))
    );
    let stale = NodeMsg::PartitionsReply(PartitionsReply::ReplicaFetch(ReplicaFetchResult {
        error_code: ErrorCode::NONE,
        high_watermark: Offset(1),
        log_start_offset: Offset(0),
        log_end_offset: Offset(1),
        diverging_epoch: None,
        records: plain(b"old leader's"),
    }));
    let effects = follower.step(Input::Reply { call, msg: stale });
    assert!(fetch_calls(&effects).is_empty(), "{effects:?}");
    assert_eq!(follower.log_end(&a), 0, "the stale answer was dropped");
}

/// Under `flush.messages=1` a follower fetches on at once while what it copied syncs, and
/// reports its synced offset apart: the leader counts the copy for the high watermark (so
/// acks=all is on every in-sync replica's disk) only once it is synced, told by the next fetch
/// or, while that fetch waits at the leader, by a notice. Under another flush policy what it
/// copied counts at once, as Kafka's followers' log end does.
#[test]
fn a_follower_fetches_on_while_its_copy_syncs_and_only_what_it_synced_commits() {
    for (flush, syncs_every_append) in [(None, true), (Some(0), false)] {
        let a = tp("a");
        let mut leader = Harness::on_node(Arc::new(MemStorage::new()), LEADER);
        let mut follower = Harness::on_node(Arc::new(MemStorage::new()), FOLLOWER);
        tell_with_isr(&mut leader, &[(&a, Some(LEADER), 3)], &[LEADER, FOLLOWER]);
        leader.ensure(&a, config(flush));
        let (_, produced) = leader.send(produce(1, vec![(a.clone(), plain(b"p"))]));
        settle(&mut leader, produced);
        tell_with_isr(&mut follower, &[(&a, Some(LEADER), 3)], &[LEADER, FOLLOWER]);
        let (_, effects) = follower.send(PartitionsRequest::Ensure(EnsureRequest {
            tp: a.clone(),
            config: config(flush),
            topic_id: [0; 16],
        }));
        let calls = fetch_calls(&settle(&mut follower, effects));
        let [(call, _, request)] = &calls[..] else {
            panic!("one fetch: {calls:?}");
        };
        let (id, mut effects) = leader.send(PartitionsRequest::ReplicaFetch(request.clone()));
        let reply = take_reply(&mut effects, id).expect("records: answered at once");
        let hw = |h: &Harness| h.actor.replica(&a).unwrap().high_watermark();
        assert_eq!(hw(&leader), Offset(0), "nobody else has it yet");
        let appended = follower.step(Input::Reply {
            call: *call,
            msg: NodeMsg::PartitionsReply(reply),
        });
        assert_eq!(follower.log_end(&a), 1);
        // The next fetch goes out at once, before the copy's sync completed.
        let next = fetch_calls(&appended);
        let [(_, _, request)] = &next[..] else {
            panic!("flush {flush:?}: fetches on at once: {appended:?}");
        };
        assert_eq!(request.fetch_offset, Offset(1));
        let expected_synced = if syncs_every_append { 0 } else { 1 };
        assert_eq!(
            request.synced_offset,
            Offset(expected_synced),
            "flush {flush:?}"
        );
        // The leader holds it (nothing new), and counts only what is synced.
        let (held, mut effects) = leader.send(PartitionsRequest::ReplicaFetch(request.clone()));
        assert!(take_reply(&mut effects, held).is_none(), "held");
        assert_eq!(hw(&leader), Offset(expected_synced), "flush {flush:?}");
        if syncs_every_append {
            // The copy's sync completes while the fetch waits: a notice tells the leader.
            let jobs = syncs(&appended);
            assert_eq!(jobs.len(), 1, "the copy's fsync");
            let synced = follower.complete(jobs);
            let notices = synced_notices(&synced);
            assert_eq!(notices.len(), 1, "{synced:?}");
            assert_eq!(notices[0].synced_offset, Offset(1));
            assert!(
                fetch_calls(&synced).is_empty(),
                "one fetch in flight at most"
            );
            notify(&mut leader, notices[0].clone());
            assert_eq!(
                hw(&leader),
                Offset(1),
                "committed once synced on the follower"
            );
            // A notice past what the follower's last fetch showed counts only up to it.
            let mut beyond = notices[0].clone();
            beyond.synced_offset = Offset(5);
            notify(&mut leader, beyond);
            assert_eq!(hw(&leader), Offset(1));
        }
    }
}

/// A follower whose log ends below its leader's log start (the leader's DeleteRecords or
/// retention removed what it lacks) restarts its log empty there (Kafka's
/// `truncateFullyAndStartAt`): its own records go, a job moves its log start on disk, the log
/// opens again at the new start and copies the leader's batches from there, byte for byte.
/// A restart of the node keeps the new start.
#[test]
fn a_follower_below_its_leaders_log_start_restarts_its_log_there() {
    let a = tp("a");
    let storage = Arc::new(MemStorage::new());
    let mut leader = Harness::on_node(Arc::new(MemStorage::new()), LEADER);
    let mut follower = Harness::on_node(storage.clone(), FOLLOWER);
    // Alone (before the metadata names its followers) the leader's DeleteRecords waits for
    // no follower's log start.
    leader.ensure(&a, config(Some(0)));
    for value in [b"p", b"q", b"r", b"s", b"t"] {
        assert_eq!(
            leader.produce_one(1, &a, plain(value)).error_code,
            ErrorCode::NONE
        );
    }
    assert_eq!(
        delete_records(&mut leader, &a, 3).error_code,
        ErrorCode::NONE
    );
    tell_with_isr(&mut leader, &[(&a, Some(LEADER), 3)], &[LEADER]);
    // The follower once led alone in an earlier epoch and wrote two records of its own.
    tell_with_isr(&mut follower, &[(&a, Some(FOLLOWER), 1)], &[FOLLOWER]);
    follower.ensure(&a, config(None));
    for value in [b"x", b"y"] {
        // acks=all, so its flush jobs ran: a log restarts only between its jobs.
        follower.ask_after_jobs(produce(-1, vec![(a.clone(), plain(value))]));
    }
    assert_eq!(follower.log_end(&a), 2);

    let told = tell_with_isr(&mut follower, &[(&a, Some(LEADER), 3)], &[LEADER]);
    relay(&mut leader, &mut follower, told);
    let replica = follower.actor.replica(&a).expect("open again");
    assert_eq!(replica.log().log_start_offset(), 3);
    assert_eq!(follower.log_end(&a), 5);
    assert_eq!(
        stored_from(&follower, &a, 3),
        stored_from(&leader, &a, 3),
        "the leader's batches from its log start"
    );
    // Its epochs are its batches' (the leader's epoch 3 holds no record yet), none of its own.
    assert_eq!(epochs(&follower, &a), vec![(0, 3)]);

    // Restarted, the follower's log still starts at 3.
    let restarted = follower.restarted(storage);
    let mut follower = restarted;
    follower.ensure(&a, config(None));
    let replica = follower.actor.replica(&a).unwrap();
    assert_eq!(replica.log().log_start_offset(), 3);
    assert_eq!(follower.log_end(&a), 5);
}

/// A DeleteRecords in the middle of the leader's first batch leaves its log start inside it:
/// a new follower restarts at the log start, finds the batch begins below it, restarts at
/// the batch's base, and gets the batch whole (no other offset below the log start is served).
#[test]
fn a_follower_takes_the_leaders_first_batch_whole_when_the_log_start_is_inside_it() {
    let a = tp("a");
    let mut leader = Harness::on_node(Arc::new(MemStorage::new()), LEADER);
    let mut follower = Harness::on_node(Arc::new(MemStorage::new()), FOLLOWER);
    leader.ensure(&a, config(Some(0)));
    let five = build_batch(
        &[
            (None, b"0"),
            (None, b"1"),
            (None, b"2"),
            (None, b"3"),
            (None, b"4"),
        ],
        1_000,
    );
    assert_eq!(leader.produce_one(1, &a, five).error_code, ErrorCode::NONE);
    assert_eq!(
        delete_records(&mut leader, &a, 3).error_code,
        ErrorCode::NONE
    );
    tell_with_isr(&mut leader, &[(&a, Some(LEADER), 3)], &[LEADER]);

    tell_with_isr(&mut follower, &[(&a, Some(LEADER), 3)], &[LEADER]);
    let opened = open(&mut follower, &a);
    relay(&mut leader, &mut follower, opened);
    assert_eq!(
        stored_from(&follower, &a, 3),
        stored_from(&leader, &a, 3),
        "the whole batch"
    );
    assert_eq!(
        following::first_batch_base(&stored_from(&follower, &a, 3)),
        Some(Offset(0))
    );
    assert_eq!(follower.log_end(&a), 5);
    // Its log start follows the leader's once the high watermark passed it.
    assert_eq!(
        follower.actor.replica(&a).unwrap().log().log_start_offset(),
        3
    );

    // An offset below the log start that is no batch's base is still refused.
    let ask = ReplicaFetchRequest {
        tp: a.clone(),
        topic_id: [0; 16],
        replica: NodeId(FOLLOWER),
        broker_epoch: crate::types::BrokerEpoch(FOLLOWER),
        current_leader_epoch: LeaderEpoch(3),
        fetch_offset: Offset(1),
        synced_offset: Offset(1),
        last_fetched_epoch: LeaderEpoch::UNKNOWN,
        log_start_offset: Offset(0),
        max_bytes: 1 << 20,
        max_wait_ms: 0,
    };
    let (id, mut effects) = leader.send(PartitionsRequest::ReplicaFetch(ask));
    let reply = take_reply(&mut effects, id).expect("answered at once");
    let PartitionsReply::ReplicaFetch(result) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(result.error_code, ErrorCode::OFFSET_OUT_OF_RANGE);
}

/// Found by the simulator (seed 368): a follower whose append failed on the disk (EIO) failed
/// its log and backed off; a failed replica fetches nothing, and only the retention tick
/// reopened such a log, after starting a flush on it, which then held the reopen off (a sync
/// in flight): the follower stayed behind to the end. Now the follower reopens its failed log
/// when it would fetch again, and copies on.
#[test]
fn a_follower_whose_append_fails_on_the_disk_reopens_its_log_and_catches_up() {
    let a = tp("a");
    let mut leader = Harness::on_node(Arc::new(MemStorage::new()), LEADER);
    let disk = Arc::new(MemStorage::new());
    let mut follower = Harness::on_node(disk.clone(), FOLLOWER);
    tell_with_isr(&mut leader, &[(&a, Some(LEADER), 3)], &[LEADER]);
    leader.ensure(&a, config(None));
    for value in [b"p", b"q"] {
        let answer = leader.produce_one(1, &a, plain(value));
        assert_eq!(answer.error_code, ErrorCode::NONE);
    }
    tell_with_isr(&mut follower, &[(&a, Some(LEADER), 3)], &[LEADER]);
    let opened = open(&mut follower, &a);
    let [(call, _, ref request)] = fetch_calls(&opened)[..] else {
        panic!("one fetch: {opened:?}")
    };
    let (id, mut effects) = leader.send(PartitionsRequest::ReplicaFetch(request.clone()));
    let reply = take_reply(&mut effects, id).expect("records to copy: answered at once");
    disk.fail_writes(Some(std::io::ErrorKind::Other));
    let effects = follower.step(Input::Reply {
        call,
        msg: NodeMsg::PartitionsReply(reply),
    });
    assert!(follower.actor.replica(&a).unwrap().log().is_failed());
    assert!(fetch_calls(&effects).is_empty(), "{effects:?}");
    let backoff = (timers(&effects).into_iter())
        .find(|(key, _)| matches!(key, PartitionsTimer::FollowBackoff(_)))
        .map(|(key, _)| key)
        .expect("a backoff");
    disk.fail_writes(None);
    // The backoff ends: the log reopens, the follower fetches again and copies on.
    let effects = follower.step(Input::Timer { key: backoff });
    relay(&mut leader, &mut follower, effects);
    assert!(!follower.actor.replica(&a).unwrap().log().is_failed());
    assert_eq!(stored(&follower, &a), stored(&leader, &a));
    assert_eq!(follower.log_end(&a), 2);
}

/// The metadata of `tp` led by [`LEADER`] in epoch 3 and assigned to `replicas`, every node
/// of them registered in broker epoch = its id; the effects of the update.
fn tell_assigned(h: &mut Harness, tp: &TopicPartition, replicas: &[u64]) -> Effects {
    let nodes = || replicas.iter().copied().map(NodeId);
    let status = |n: NodeId| crate::messages::BrokerStatus {
        epoch: crate::types::BrokerEpoch(n.0),
        fenced: false,
    };
    let led = PartitionLeader {
        topic_id: [0; 16],
        leader: Some(NodeId(LEADER)),
        epoch: LeaderEpoch(3),
        partition_epoch: 0,
        isr: vec![NodeId(LEADER)],
        replicas: nodes().collect(),
    };
    let msg = NodeMsg::Partitions(PartitionsRequest::Leaders(LeadersUpdate {
        partitions: std::collections::BTreeMap::from([(tp.clone(), led)]),
        brokers: nodes().map(|n| (n, status(n))).collect(),
    }));
    let from = Addr {
        node: NodeId(1),
        actor: crate::messages::TOPICS,
    };
    h.step(Input::Msg { from, msg })
}

/// A replica the metadata no longer assigns (a reassignment removed it; its deletion has not
/// come yet) stops fetching: were its node re-added within the same leadership, the leader
/// would credit this replica's log end to the new, empty one (same node, same registration)
/// and count it for the high watermark (seed 523). Re-assigned, it fetches again.
#[test]
fn a_replica_removed_from_the_assignment_stops_fetching() {
    let a = tp("a");
    let mut follower = Harness::on_node(Arc::new(MemStorage::new()), FOLLOWER);
    tell_assigned(&mut follower, &a, &[LEADER, FOLLOWER]);
    let opened = open(&mut follower, &a);
    let [(call, _, _)] = fetch_calls(&opened)[..] else {
        panic!("one fetch: {opened:?}")
    };
    let removed = tell_assigned(&mut follower, &a, &[LEADER, 3]);
    assert!(fetch_calls(&removed).is_empty(), "{removed:?}");
    let answer = NodeMsg::PartitionsReply(PartitionsReply::ReplicaFetch(ReplicaFetchResult {
        error_code: ErrorCode::NONE,
        high_watermark: Offset(0),
        log_start_offset: Offset(0),
        log_end_offset: Offset(0),
        diverging_epoch: None,
        records: Vec::new(),
    }));
    let answered = follower.step(Input::Reply { call, msg: answer });
    let effects = settle(&mut follower, answered);
    assert!(
        fetch_calls(&effects).is_empty(),
        "no fetch from a replica not assigned: {effects:?}"
    );
    let readded = tell_assigned(&mut follower, &a, &[LEADER, FOLLOWER]);
    assert_eq!(fetch_calls(&readded).len(), 1, "{readded:?}");
}
