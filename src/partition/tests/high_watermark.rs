//! The leader's high watermark over its in-sync followers (issue 14, R2): it moves with the
//! followers' fetches, acks=all produces wait for it, consumers see only below it, and an ISR
//! that shrank below min.insync.replicas answers NOT_ENOUGH_REPLICAS_AFTER_APPEND.

use super::leader_epochs::tell_with_isr;
use super::*;

/// Node 2's fetch of `tp` from `fetch_offset`, answered at once.
fn follower_fetch(h: &mut Harness, tp: &TopicPartition, fetch_offset: i64) -> Effects {
    // In node 2's registration (`tell_with_isr` registers node n in broker epoch n).
    super::isr::fetch_as(h, tp, 2, 2, fetch_offset).1
}

/// What a consumer's fetch from offset 0 returns: (high watermark, record offsets).
fn consumed(h: &mut Harness, tp: &TopicPartition) -> (Offset, Vec<i64>) {
    let mut results = fetch_results(h.ask(fetch(&[(tp, 0)], 0, 1 << 20)));
    let result = results.remove(0);
    (result.high_watermark, batch_offsets(&result.records))
}

#[test]
fn acks_all_waits_for_the_in_sync_follower_and_consumers_see_only_what_it_holds() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_with_isr(&mut h, &[(&a, Some(1), 1)], &[1, 2]);
    h.ensure(&a, config(None));
    let (produced, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"x"))]));
    // Synced here, not yet on the follower: no answer, nothing for consumers.
    let mut effects = h.complete(syncs(&effects));
    assert!(
        take_reply(&mut effects, produced).is_none(),
        "waits for the ISR"
    );
    assert_eq!(consumed(&mut h, &a), (Offset(0), vec![]));

    // The follower fetches the record (its log end still 0): nothing moves.
    let mut effects = follower_fetch(&mut h, &a, 0);
    assert!(take_reply(&mut effects, produced).is_none());
    // Its next fetch, from 1, shows it holds the record: committed and acknowledged.
    let mut effects = follower_fetch(&mut h, &a, 1);
    let reply = take_reply(&mut effects, produced).expect("acknowledged by the follower's fetch");
    let results = produce_results(reply);
    assert_eq!(
        (results[0].1.error_code, results[0].1.base_offset),
        (ErrorCode::NONE, Offset(0))
    );
    assert_eq!(consumed(&mut h, &a), (Offset(1), vec![0]));
}

/// KAFKA-15583 (part of KIP-966): under min.insync.replicas the high watermark stays where it
/// is, so an acks=all produce waits (its timeout answers it) rather than being acknowledged by
/// the leader alone, and a follower that left then holds everything consumers saw.
#[test]
fn an_isr_shrunk_below_min_insync_replicas_freezes_the_high_watermark() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    let mut two = config(None);
    two.min_insync_replicas = 2;
    tell_with_isr(&mut h, &[(&a, Some(1), 1)], &[1, 2]);
    h.ensure(&a, two);
    let (produced, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"x"))]));
    let mut effects = h.complete(syncs(&effects));
    assert!(
        take_reply(&mut effects, produced).is_none(),
        "waits for node 2"
    );
    // The follower leaves the ISR (the controller's shrink): one replica in sync of the two
    // required, so the high watermark stays below the record and nothing is answered.
    let mut effects = tell_with_isr(&mut h, &[(&a, Some(1), 1)], &[1]);
    assert!(take_reply(&mut effects, produced).is_none(), "frozen");
    assert_eq!(consumed(&mut h, &a), (Offset(0), vec![]));
    // A new acks=all produce is refused before its append; acks=1 is taken, and still not
    // shown to consumers.
    let refused = h.produce_one(-1, &a, plain(b"y"));
    assert_eq!(refused.error_code, ErrorCode::NOT_ENOUGH_REPLICAS);
    assert_eq!(
        h.produce_one(1, &a, plain(b"z")).error_code,
        ErrorCode::NONE
    );
    assert_eq!(consumed(&mut h, &a), (Offset(0), vec![]));
    // The follower is back in the ISR with both records: the high watermark moves and the
    // waiting produce is acknowledged.
    tell_with_isr(&mut h, &[(&a, Some(1), 1)], &[1, 2]);
    let mut effects = follower_fetch(&mut h, &a, 2);
    let reply = take_reply(&mut effects, produced).expect("acknowledged once in sync again");
    assert_eq!(produce_results(reply)[0].1.error_code, ErrorCode::NONE);
    assert_eq!(consumed(&mut h, &a), (Offset(2), vec![0, 1]));
}

/// ListOffsets never sends a consumer past what it may fetch (Kafka's
/// `fetchOffsetForTimestamp`): a lookup by timestamp or the max timestamp that lands at or past
/// the high watermark finds nothing; and a leader whose high watermark is still below the
/// start of its epoch answers OFFSET_NOT_AVAILABLE to the latest offset and to a lookup whose
/// answer is not fetchable yet, while one below the high watermark is answered.
#[test]
fn list_offsets_stays_below_the_high_watermark_and_waits_for_a_new_leaders() {
    use crate::partition::reads::{
        list_offset, EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP,
    };
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    tell_with_isr(&mut h, &[(&a, Some(1), 1)], &[1, 2]);
    h.ensure(&a, config(None));
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"x"))]));
    h.complete(syncs(&effects));
    let looked_up = |h: &Harness, timestamp| {
        let result = list_offset(h.actor.replica(&a).unwrap(), timestamp, false);
        (result.error_code, result.offset)
    };
    // The record is not committed: the follower has not fetched it.
    assert_eq!(looked_up(&h, T0_MS), (ErrorCode::NONE, Offset::UNKNOWN));
    assert_eq!(
        looked_up(&h, MAX_TIMESTAMP),
        (ErrorCode::NONE, Offset::UNKNOWN)
    );
    assert_eq!(
        looked_up(&h, LATEST_TIMESTAMP),
        (ErrorCode::NONE, Offset(0))
    );
    follower_fetch(&mut h, &a, 1);
    assert_eq!(looked_up(&h, T0_MS), (ErrorCode::NONE, Offset(0)));
    assert_eq!(looked_up(&h, MAX_TIMESTAMP), (ErrorCode::NONE, Offset(0)));
    assert_eq!(
        looked_up(&h, LATEST_TIMESTAMP),
        (ErrorCode::NONE, Offset(1))
    );

    // A second record the follower has not fetched, then this leader is elected again in
    // epoch 2: its epoch starts at 2, its high watermark is 1 until the follower fetches.
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"y"))]));
    h.complete(syncs(&effects));
    tell_with_isr(&mut h, &[(&a, Some(1), 2)], &[1, 2]);
    let unavailable = (ErrorCode::OFFSET_NOT_AVAILABLE, Offset::UNKNOWN);
    assert_eq!(looked_up(&h, LATEST_TIMESTAMP), unavailable);
    assert_eq!(
        looked_up(&h, T0_MS + 1),
        unavailable,
        "nothing that recent yet"
    );
    assert_eq!(
        looked_up(&h, T0_MS),
        (ErrorCode::NONE, Offset(0)),
        "x is committed"
    );
    assert_eq!(
        looked_up(&h, EARLIEST_TIMESTAMP),
        (ErrorCode::NONE, Offset(0))
    );
}
