//! Replication throttles (KIP-73, `partition::throttle`) on the partitions actor. As a leader it
//! holds a throttled partition's fetches from followers out of the ISR while its quota is spent
//! (for the quota's wait, not the fetch's max wait), serves in-sync followers whatever the
//! quota but counts their bytes, answers errors and divergences at once, and releases what it
//! holds when the throttle is cleared. As a follower out of the ISR it sends no fetch while its
//! own quota is spent.

use std::collections::BTreeMap;

use super::following::{fetch_calls, open, settle};
use super::leader_epochs::{tell_at, tell_with_isr};
use super::*;
use crate::messages::{ReplicaFetchRequest, ReplicaFetchResult, TOPICS};
use crate::partition::following::REPLICA_FETCH_BACKOFF_MS;
use crate::partition::replica_fetch;
use crate::partition::throttle::{PartitionSet, ThrottleSettings};
use crate::types::BrokerEpoch;

/// The leader epoch of every leadership here.
const EPOCH: i32 = 3;
/// A follower out of the ISR (a replica being added, say): the throttle's subject.
const OUT_OF_SYNC: u64 = 2;
/// A follower in the ISR: never held.
const IN_SYNC: u64 = 3;
/// `leader.replication.throttled.rate`: the burst is one second of it (one 1 s sample).
const LEADER_RATE: u64 = 10_000;
/// `follower.replication.throttled.rate`.
const FOLLOWER_RATE: u64 = 5_000;
/// The followers' fetches' max wait: longer than any quota wait of these tests.
const MAX_WAIT_MS: u32 = 500;

/// The leader throttle: [`LEADER_RATE`], on partition 0 of topic "a" only.
fn leader_throttle() -> ThrottleSettings {
    let listed = PartitionSet::Listed(BTreeSet::from([0]));
    ThrottleSettings {
        leader_rate_bytes_per_s: Some(LEADER_RATE),
        leader: BTreeMap::from([("a".to_owned(), listed)]),
        ..ThrottleSettings::default()
    }
}

/// The follower throttle: [`FOLLOWER_RATE`], on every partition of topic "a".
fn follower_throttle() -> ThrottleSettings {
    ThrottleSettings {
        follower_rate_bytes_per_s: Some(FOLLOWER_RATE),
        follower: BTreeMap::from([("a".to_owned(), PartitionSet::All)]),
        ..ThrottleSettings::default()
    }
}

/// The throttles as the metadata's applier sends them (a message); the effects.
fn tell_throttles(h: &mut Harness, settings: ThrottleSettings) -> Effects {
    let from = Addr {
        node: h.node,
        actor: TOPICS,
    };
    let msg = NodeMsg::Partitions(PartitionsRequest::Throttles(settings));
    h.step(Input::Msg { from, msg })
}

/// The throttles as a request, answered Done at once.
fn set_throttles(h: &mut Harness, settings: ThrottleSettings) {
    assert_done(h.ask(PartitionsRequest::Throttles(settings)));
}

/// What a quota owes `over_bytes` past its burst at `rate` bytes/s waits: `rate` bytes are
/// paid back a second, counted to the ms and rounded up.
fn quota_wait_ms(rate: u64, over_bytes: u64) -> u64 {
    (over_bytes * 1000).div_ceil(rate)
}

/// A batch bigger than the leader's burst ([`LEADER_RATE`] bytes) on its own.
fn big() -> Vec<u8> {
    plain(&[b'x'; 12_000])
}

fn partition(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition,
    }
}

/// `replica`'s fetch of `tp` from `fetch_offset` in its registration's broker epoch, naming no
/// last fetched epoch, waiting up to [`MAX_WAIT_MS`].
fn ask_from(tp: &TopicPartition, replica: u64, fetch_offset: i64) -> ReplicaFetchRequest {
    ReplicaFetchRequest {
        tp: tp.clone(),
        topic_id: [0; 16],
        replica: NodeId(replica),
        broker_epoch: BrokerEpoch(replica),
        current_leader_epoch: LeaderEpoch(EPOCH),
        fetch_offset: Offset(fetch_offset),
        synced_offset: Offset(fetch_offset),
        last_fetched_epoch: LeaderEpoch::UNKNOWN,
        log_start_offset: Offset(0),
        max_bytes: 1 << 20,
        max_wait_ms: MAX_WAIT_MS,
    }
}

fn result(reply: PartitionsReply) -> ReplicaFetchResult {
    match reply {
        PartitionsReply::ReplicaFetch(result) => result,
        other => panic!("not a replica fetch answer: {other:?}"),
    }
}

/// `ask`'s answer, which must come at once.
fn answered_now(h: &mut Harness, ask: ReplicaFetchRequest) -> ReplicaFetchResult {
    result(h.ask(PartitionsRequest::ReplicaFetch(ask)))
}

/// Sends `ask`, which must be held: its request id and the one fetch timer armed for it.
fn held(h: &mut Harness, ask: ReplicaFetchRequest) -> (RequestId, (PartitionsTimer, u64)) {
    let (id, mut effects) = h.send(PartitionsRequest::ReplicaFetch(ask));
    assert!(take_reply(&mut effects, id).is_none(), "held: {effects:?}");
    let armed = fetch_timers(&effects);
    let [timer] = armed[..] else {
        panic!("one fetch timer: {armed:?}")
    };
    (id, timer)
}

/// The followers' fetch timers armed in `effects`.
fn fetch_timers(effects: &Effects) -> Vec<(PartitionsTimer, u64)> {
    let fetch_timer =
        |(key, _): &(PartitionsTimer, u64)| matches!(key, PartitionsTimer::ReplicaFetch(_));
    timers(effects).into_iter().filter(fetch_timer).collect()
}

/// The timers disarmed in `effects`.
fn cancelled(effects: &Effects) -> Vec<PartitionsTimer> {
    (effects.iter())
        .filter_map(|e| match e {
            Effect::CancelTimer { key } => Some(*key),
            _ => None,
        })
        .collect()
}

/// The follower backoffs armed in `effects`.
fn backoffs(effects: &Effects) -> Vec<(PartitionsTimer, u64)> {
    let backoff =
        |(key, _): &(PartitionsTimer, u64)| matches!(key, PartitionsTimer::FollowBackoff(_));
    timers(effects).into_iter().filter(backoff).collect()
}

fn append(h: &mut Harness, tp: &TopicPartition, batches: &[Vec<u8>]) {
    for batch in batches {
        let produced = h.produce_one(1, tp, batch.clone());
        assert_eq!(produced.error_code, ErrorCode::NONE);
    }
}

/// [`IN_SYNC`] fetches `tp` from its log end (it has every batch): nothing is sent, and the
/// high watermark moves to the log end, so [`OUT_OF_SYNC`], behind it, does not join the ISR
/// by its fetches.
fn catch_up(h: &mut Harness, tp: &TopicPartition) {
    let end = h.log_end(tp);
    let ask = ReplicaFetchRequest {
        max_wait_ms: 0,
        ..ask_from(tp, IN_SYNC, end)
    };
    let caught_up = answered_now(h, ask);
    assert_eq!(
        (caught_up.error_code, caught_up.records.len()),
        (ErrorCode::NONE, 0)
    );
    let hw = h.actor.replica(tp).unwrap().high_watermark();
    assert_eq!(hw, Offset(end), "the high watermark is the log end");
}

/// This node leading `tps` in [`EPOCH`] (replicas 1-3, ISR 1 and [`IN_SYNC`]), each with
/// `batches` appended and [`catch_up`], under [`leader_throttle`] (set at time 0: a full burst).
fn leading(tps: &[&TopicPartition], batches: &[Vec<u8>]) -> Harness {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let led: Vec<(&TopicPartition, Option<u64>, i32)> =
        tps.iter().map(|tp| (*tp, Some(1), EPOCH)).collect();
    tell_with_isr(&mut h, &led, &[1, IN_SYNC]);
    for tp in tps {
        h.ensure(tp, config(Some(0)));
        append(&mut h, tp, batches);
        catch_up(&mut h, tp);
    }
    set_throttles(&mut h, leader_throttle());
    h
}

/// [`OUT_OF_SYNC`]'s first fetch of `tp` from 0 while the quota is full: one big batch (at
/// least one batch is read), past the burst. The bytes over it.
fn spend_the_burst(h: &mut Harness, tp: &TopicPartition) -> u64 {
    let burst = answered_now(h, ask_from(tp, OUT_OF_SYNC, 0));
    assert_eq!(burst.error_code, ErrorCode::NONE);
    assert_eq!(
        batch_offsets(&burst.records),
        vec![0],
        "the first batch alone"
    );
    let sent = burst.records.len() as u64;
    assert!(sent > LEADER_RATE, "past the burst: {sent}");
    sent - LEADER_RATE
}

/// Kafka's leader throttle (`ReplicaManager.readFromLog`, `DelayedFetch`): a follower out of
/// the ISR gets the burst, then nothing while the quota is spent. Its fetch is held for the
/// quota's wait (shorter than its max wait), to the ms, and then served.
#[test]
fn a_follower_out_of_the_isr_gets_the_burst_then_is_held_for_the_quotas_wait() {
    let a = tp("a");
    let mut h = leading(&[&a], &[big(), big()]);
    let over = spend_the_burst(&mut h, &a);
    let wait_ms = quota_wait_ms(LEADER_RATE, over);
    assert!(wait_ms < u64::from(MAX_WAIT_MS), "{wait_ms}");

    let (parked, (key, after_ms)) = held(&mut h, ask_from(&a, OUT_OF_SYNC, 1));
    assert!(matches!(key, PartitionsTimer::ReplicaFetch(_)));
    assert_eq!(
        after_ms, wait_ms,
        "the quota's wait, not the fetch's max wait"
    );
    // A millisecond early the quota is still spent: a fetch that will not wait gets nothing.
    h.now.mono_ms = wait_ms - 1;
    let early = answered_now(
        &mut h,
        ReplicaFetchRequest {
            max_wait_ms: 0,
            ..ask_from(&a, OUT_OF_SYNC, 1)
        },
    );
    assert_eq!(
        (early.error_code, early.records.len()),
        (ErrorCode::NONE, 0)
    );
    h.now.mono_ms = wait_ms;
    let mut effects = h.step(Input::Timer { key });
    let served = result(take_reply(&mut effects, parked).expect("answered at its timer"));
    assert_eq!(served.error_code, ErrorCode::NONE);
    assert_eq!(batch_offsets(&served.records), vec![1]);
}

/// Kafka exempts in-sync followers from the throttle ("to avoid ISR thrashing") but records
/// the throttled partition's bytes sent to them: the follower out of the ISR waits longer.
#[test]
fn an_in_sync_follower_is_served_while_the_quota_is_spent_and_its_bytes_count() {
    let a = tp("a");
    let mut h = leading(&[&a], &[big(), big()]);
    let over = spend_the_burst(&mut h, &a);
    append(&mut h, &a, &[plain(b"new")]);
    let in_sync = answered_now(&mut h, ask_from(&a, IN_SYNC, 2));
    assert_eq!(in_sync.error_code, ErrorCode::NONE);
    assert_eq!(batch_offsets(&in_sync.records), vec![2], "served, not held");
    let counted = over + in_sync.records.len() as u64;

    let (_, (_, after_ms)) = held(&mut h, ask_from(&a, OUT_OF_SYNC, 1));
    assert!(after_ms > quota_wait_ms(LEADER_RATE, over), "{after_ms}");
    assert_eq!(after_ms, quota_wait_ms(LEADER_RATE, counted));
}

/// Only the listed partitions of the throttled topics are throttled: another partition of the
/// topic, or another topic, is served whole while the quota is spent, and its bytes do not
/// count against it.
#[test]
fn a_partition_not_listed_is_never_held_nor_counted() {
    let (a0, a1, b0) = (tp("a"), partition("a", 1), tp("b"));
    let mut h = leading(&[&a0, &a1, &b0], &[big(), big()]);
    let over = spend_the_burst(&mut h, &a0);
    for unlisted in [&a1, &b0] {
        let served = answered_now(&mut h, ask_from(unlisted, OUT_OF_SYNC, 0));
        assert_eq!(served.error_code, ErrorCode::NONE);
        assert_eq!(batch_offsets(&served.records), vec![0, 1], "{unlisted:?}");
    }
    let (_, (_, after_ms)) = held(&mut h, ask_from(&a0, OUT_OF_SYNC, 1));
    assert_eq!(
        after_ms,
        quota_wait_ms(LEADER_RATE, over),
        "a-0's bytes alone"
    );
}

/// Kafka checks a throttled follower's fetch (epochs, offsets) before it looks at the quota:
/// a diverging epoch and OFFSET_OUT_OF_RANGE are answered at once, not held.
#[test]
fn a_divergence_or_an_offset_out_of_range_is_answered_at_once_while_throttled() {
    let a = tp("a");
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    tell_with_isr(&mut h, &[(&a, Some(1), 0)], &[1, IN_SYNC]);
    h.ensure(&a, config(Some(0)));
    append(&mut h, &a, &[big(), plain(b"e0")]);
    tell_with_isr(&mut h, &[(&a, Some(1), EPOCH)], &[1, IN_SYNC]);
    append(&mut h, &a, &[big(), plain(b"e3")]);
    // The leader's log: epoch 0 at offsets 0-1, EPOCH at 2-3.
    catch_up(&mut h, &a);
    set_throttles(&mut h, leader_throttle());
    spend_the_burst(&mut h, &a);
    held(&mut h, ask_from(&a, OUT_OF_SYNC, 1)); // the throttle holds a plain fetch

    // It wrote offset 2 in epoch 0, which ends at 2 here: cut there.
    let diverging = ReplicaFetchRequest {
        last_fetched_epoch: LeaderEpoch(0),
        ..ask_from(&a, OUT_OF_SYNC, 3)
    };
    let (id, mut effects) = h.send(PartitionsRequest::ReplicaFetch(diverging));
    let diverged = result(take_reply(&mut effects, id).expect("a divergence is not held"));
    assert_eq!(
        (diverged.error_code, diverged.diverging_epoch),
        (ErrorCode::NONE, Some((LeaderEpoch(0), Offset(2))))
    );
    assert!(fetch_timers(&effects).is_empty());

    let past_the_end = ask_from(&a, OUT_OF_SYNC, 9);
    let (id, mut effects) = h.send(PartitionsRequest::ReplicaFetch(past_the_end));
    let out_of_range = take_reply(&mut effects, id).map(result);
    let code = out_of_range.map(|r| r.error_code);
    assert_eq!(
        code,
        Some(ErrorCode::OFFSET_OUT_OF_RANGE),
        "answered at once"
    );
    assert!(fetch_timers(&effects).is_empty());
}

/// A cleared throttle releases what it holds at once (Kafka's `removeThrottle`): the held
/// fetch is answered with records in the effects of the metadata's message.
#[test]
fn clearing_the_throttle_answers_a_held_fetch_at_once() {
    let a = tp("a");
    let mut h = leading(&[&a], &[big(), big()]);
    spend_the_burst(&mut h, &a);
    let (parked, (key, _)) = held(&mut h, ask_from(&a, OUT_OF_SYNC, 1));

    let mut effects = tell_throttles(&mut h, ThrottleSettings::default());
    let released = result(take_reply(&mut effects, parked).expect("released at once"));
    assert_eq!(released.error_code, ErrorCode::NONE);
    assert_eq!(batch_offsets(&released.records), vec![1]);
    assert_eq!(cancelled(&effects), [key], "its timer");
}

/// `replica_fetch::serve`'s budget: none (`Some(0)`) reads no records and is no error; one
/// byte still reads one batch; n bytes read whole batches within n.
#[test]
fn a_budget_of_no_bytes_reads_nothing_and_a_budget_reads_whole_batches_within_it() {
    let a = tp("a");
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    tell_with_isr(&mut h, &[(&a, Some(1), EPOCH)], &[1, IN_SYNC]);
    h.ensure(&a, config(Some(0)));
    append(&mut h, &a, &[plain(b"x"), plain(b"y"), plain(b"z")]);
    let ask = ask_from(&a, OUT_OF_SYNC, 0);
    let replica = h.actor.replica(&a).expect("led here");
    let serve =
        |budget| replica_fetch::serve(&ask, Ok(replica), &[0; 16], Some(true), None, budget);

    assert_eq!(batch_offsets(&serve(None).records), vec![0, 1, 2]);
    let nothing = serve(Some(0));
    assert_eq!(
        (nothing.error_code, nothing.records.len()),
        (ErrorCode::NONE, 0)
    );
    assert_eq!(
        (nothing.log_end_offset, nothing.diverging_epoch),
        (Offset(3), None)
    );
    let one = serve(Some(1));
    assert_eq!(batch_offsets(&one.records), vec![0], "past the budget");
    let batch_bytes = one.records.len() as u64;
    let two = serve(Some(2 * batch_bytes));
    assert_eq!(batch_offsets(&two.records), vec![0, 1]);
    let short_of_two = serve(Some(2 * batch_bytes - 1));
    assert_eq!(batch_offsets(&short_of_two.records), vec![0]);
}

/// A fetch offset past the log end is OFFSET_OUT_OF_RANGE whatever the budget: Kafka's read
/// fails before the throttle empties its answer.
#[test]
fn a_budget_of_no_bytes_still_answers_a_fetch_offset_past_the_log_end() {
    let a = tp("a");
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    tell_with_isr(&mut h, &[(&a, Some(1), EPOCH)], &[1, IN_SYNC]);
    h.ensure(&a, config(Some(0)));
    append(&mut h, &a, &[plain(b"x")]);
    let ask = ask_from(&a, OUT_OF_SYNC, 9);
    let replica = h.actor.replica(&a).expect("led here");
    let serve =
        |budget| replica_fetch::serve(&ask, Ok(replica), &[0; 16], Some(true), None, budget);
    assert_eq!(serve(None).error_code, ErrorCode::OFFSET_OUT_OF_RANGE);
    assert_eq!(serve(Some(0)).error_code, ErrorCode::OFFSET_OUT_OF_RANGE);
}

/// Kafka's follower (`RemoteLeaderEndPoint.buildFetch`) leaves a throttled partition out of
/// its fetch while it is out of the ISR and its quota is spent: it counts what it received,
/// sends no fetch but backs off for the quota's wait (to the ms, at most
/// `replica.fetch.backoff.ms` at a time); in the metadata's ISR it fetches at once, whatever
/// the quota.
#[test]
fn a_throttled_follower_out_of_the_isr_waits_out_its_quota_and_fetches_at_once_in_the_isr() {
    let a = tp("a");
    let (mut follower, answered, received) = first_fetch_answered(&a, follower_throttle());
    assert!(received > FOLLOWER_RATE, "past the burst: {received}");
    assert_eq!(follower.log_end(&a), 2, "the answer was appended");
    assert!(fetch_calls(&answered).is_empty(), "{answered:?}");
    let backoff = PartitionsTimer::FollowBackoff(follower.actor.replica(&a).unwrap().id);
    let wait_ms = quota_wait_ms(FOLLOWER_RATE, received - FOLLOWER_RATE);
    // Looked at again within Kafka's replica.fetch.backoff.ms, however long the wait.
    let first = wait_ms.min(REPLICA_FETCH_BACKOFF_MS);
    assert_eq!(backoffs(&answered), [(backoff, first)]);

    // A millisecond early it backs off for that millisecond.
    follower.now.mono_ms = wait_ms - 1;
    let early = follower.step(Input::Timer { key: backoff });
    assert!(fetch_calls(&early).is_empty(), "{early:?}");
    assert_eq!(backoffs(&early), [(backoff, 1)]);
    // In the metadata's ISR, the quota still spent: it fetches at once.
    tell_at(&mut follower, &[(&a, Some(1), EPOCH)], &[1, OUT_OF_SYNC], 1);
    let in_sync = follower.step(Input::Timer { key: backoff });
    let calls = fetch_calls(&in_sync);
    let [(_, to, ask)] = &calls[..] else {
        panic!("one fetch: {calls:?}")
    };
    assert_eq!((*to, ask.fetch_offset), (NodeId(1), Offset(2)));
    assert!(backoffs(&in_sync).is_empty());
}

/// Seed 191: a follower held by a debt of many seconds fetches within
/// `replica.fetch.backoff.ms` of the throttle's lift, not when the debt would have been paid.
#[test]
fn a_follower_held_by_a_long_debt_fetches_within_a_backoff_of_the_lift() {
    let a = tp("a");
    // A slow rate: the debt of one big batch takes many seconds to pay.
    let slow = ThrottleSettings {
        follower_rate_bytes_per_s: Some(100),
        ..follower_throttle()
    };
    let (mut follower, answered, _) = first_fetch_answered(&a, slow);
    let backoff = PartitionsTimer::FollowBackoff(follower.actor.replica(&a).unwrap().id);
    let backoff_ms = REPLICA_FETCH_BACKOFF_MS;
    assert_eq!(backoffs(&answered), [(backoff, backoff_ms)]);
    tell_throttles(&mut follower, ThrottleSettings::default());
    follower.now.mono_ms = backoff_ms;
    let lifted = follower.step(Input::Timer { key: backoff });
    let calls = fetch_calls(&lifted);
    let [(_, _, ask)] = &calls[..] else {
        panic!("one fetch after the lift: {calls:?}")
    };
    assert_eq!(ask.fetch_offset, Offset(2));
}

/// `reply` as from a leader whose high watermark is past what the answer brought (its
/// max_bytes stopped short): the follower is not caught up after appending it, so its
/// throttle may hold it (one caught up is in sync as Kafka's fetcher counts it, lag <= 0).
fn behind(reply: PartitionsReply) -> PartitionsReply {
    match reply {
        PartitionsReply::ReplicaFetch(mut answer) => {
            answer.high_watermark = Offset(answer.log_end_offset.0 + 1);
            PartitionsReply::ReplicaFetch(answer)
        }
        other => other,
    }
}

/// A leader of `a` holding a big batch and a small one (in its ISR alone), and this node
/// following it under `throttle`, out of the ISR: its first fetch sent and answered (as from a
/// leader whose high watermark is past the answer, [`behind`]), its jobs run. The follower,
/// the effects of the answer, and the bytes received.
fn first_fetch_answered(a: &TopicPartition, throttle: ThrottleSettings) -> (Harness, Effects, u64) {
    let mut leader = Harness::new(Arc::new(MemStorage::new()));
    tell_with_isr(&mut leader, &[(a, Some(1), EPOCH)], &[1]);
    leader.ensure(a, config(None));
    append(&mut leader, a, &[big(), plain(b"small")]);
    let mut follower = Harness::on_node(Arc::new(MemStorage::new()), OUT_OF_SYNC);
    tell_with_isr(&mut follower, &[(a, Some(1), EPOCH)], &[1]);
    tell_throttles(&mut follower, throttle);
    let opened = open(&mut follower, a);
    let calls = fetch_calls(&opened);
    let [(call, _, request)] = &calls[..] else {
        panic!("one fetch, the quota full: {calls:?}")
    };
    let (id, mut effects) = leader.send(PartitionsRequest::ReplicaFetch(request.clone()));
    let reply = take_reply(&mut effects, id).expect("records: answered at once");
    let PartitionsReply::ReplicaFetch(answer) = &reply else {
        panic!("{reply:?}")
    };
    let received = answer.records.len() as u64;
    let msg = NodeMsg::PartitionsReply(behind(reply));
    let answered = follower.step(Input::Reply { call: *call, msg });
    let answered = settle(&mut follower, answered);
    (follower, answered, received)
}
