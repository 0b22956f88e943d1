//! OffsetForLeaderEpoch on the partitions actor (`partition::epoch_ends`): a leader records
//! its epoch the moment it leads, and answers where each epoch ends, after the KIP-320 check
//! of the asker's epoch and then the leadership (Kafka's order).

use super::*;
use crate::messages::{EpochEnd, EpochEndAsk, EpochEndsRequest};

/// The metadata's leaders, as the topics actor tells them: `(partition, leader, epoch)`, each
/// leader its ISR alone.
fn tell(h: &mut Harness, partitions: &[(&TopicPartition, Option<u64>, i32)]) {
    tell_with_isr(h, partitions, &[]);
}

/// The replicas every partition of these tests is assigned: the nodes they run.
const REPLICAS: [u64; 3] = [1, 2, 3];

/// [`tell`] with the ISR `isr` (the leader alone when empty); the effects of the update.
pub(super) fn tell_with_isr(
    h: &mut Harness,
    partitions: &[(&TopicPartition, Option<u64>, i32)],
    isr: &[u64],
) -> Effects {
    tell_at(h, partitions, isr, 0)
}

/// [`tell_with_isr`] at partition epoch `partition_epoch`. Every node of [`REPLICAS`] is
/// registered and unfenced, node `n` in broker epoch `n`.
pub(super) fn tell_at(
    h: &mut Harness,
    partitions: &[(&TopicPartition, Option<u64>, i32)],
    isr: &[u64],
    partition_epoch: i32,
) -> Effects {
    let brokers = (REPLICAS.iter())
        .map(|&n| {
            let status = crate::messages::BrokerStatus {
                epoch: crate::types::BrokerEpoch(n),
                fenced: false,
            };
            (NodeId(n), status)
        })
        .collect();
    let partitions = partitions
        .iter()
        .map(|(tp, leader, epoch)| {
            let isr = match isr {
                [] => leader.map(NodeId).into_iter().collect(),
                listed => listed.iter().copied().map(NodeId).collect(),
            };
            let led = PartitionLeader {
                topic_id: [0; 16],
                leader: leader.map(NodeId),
                epoch: LeaderEpoch(*epoch),
                partition_epoch,
                isr,
                replicas: REPLICAS.map(NodeId).to_vec(),
            };
            ((*tp).clone(), led)
        })
        .collect();
    let msg = NodeMsg::Partitions(PartitionsRequest::Leaders(LeadersUpdate {
        partitions,
        brokers,
    }));
    let from = Addr {
        node: NodeId(1),
        actor: crate::messages::TOPICS,
    };
    h.step(Input::Msg { from, msg })
}

/// Where `asked` ends in `tp`, naming `current` as the epoch known (-1: none).
fn end(h: &mut Harness, tp: &TopicPartition, current: i32, asked: i32) -> EpochEnd {
    let request = EpochEndsRequest {
        partitions: vec![EpochEndAsk {
            tp: tp.clone(),
            current_leader_epoch: LeaderEpoch(current),
            leader_epoch: LeaderEpoch(asked),
        }],
    };
    match h.ask(PartitionsRequest::EpochEnds(request)) {
        PartitionsReply::EpochEnds(mut ends) if ends.len() == 1 => ends.remove(0),
        other => panic!("{other:?}"),
    }
}

/// `(error, epoch, end offset)` of an answer.
fn parts(end: EpochEnd) -> (ErrorCode, i32, i64) {
    (end.error_code, end.leader_epoch.0, end.end_offset.0)
}

#[test]
fn leader_epochs_are_recorded_as_leadership_is_taken_and_answered_where_they_end() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, elsewhere, unknown) = (tp("a"), tp("elsewhere"), tp("unknown"));
    let leaders = |a_leader, a_epoch| [(&a, a_leader, a_epoch), (&elsewhere, Some(3), 0)];
    tell(&mut h, &leaders(Some(1), 0));
    h.ensure(&a, config(None));
    for value in [b"x", b"y"] {
        assert_eq!(
            h.produce_one(1, &a, plain(value)).error_code,
            ErrorCode::NONE
        );
    }
    // Back-to-back elections with no append between them: each new epoch starts at the log
    // end at once (Kafka PR 5678); epoch 2, which holds no record, gives way to epoch 4.
    tell(&mut h, &leaders(Some(1), 2));
    tell(&mut h, &leaders(Some(1), 4));
    let entries = |h: &Harness| {
        let log = h.actor.replica(&a).unwrap().log();
        (log.epoch_entries().iter())
            .map(|e| (e.epoch, e.start_offset))
            .collect::<Vec<_>>()
    };
    assert_eq!(entries(&h), vec![(0, 0), (4, 2)]);
    assert_eq!(
        parts(end(&mut h, &a, -1, 0)),
        (ErrorCode::NONE, 0, 2),
        "epoch 0 ends where epoch 4 began, before any append in it"
    );
    assert_eq!(
        h.produce_one(1, &a, plain(b"z")).error_code,
        ErrorCode::NONE
    );
    assert_eq!(entries(&h), vec![(0, 0), (4, 2)], "the append adds nothing");

    // Kafka's endOffsetFor: the largest epoch at or below the one asked, and its end.
    assert_eq!(parts(end(&mut h, &a, -1, 2)), (ErrorCode::NONE, 0, 2));
    assert_eq!(parts(end(&mut h, &a, -1, 4)), (ErrorCode::NONE, 4, 3));
    assert_eq!(parts(end(&mut h, &a, 4, 4)), (ErrorCode::NONE, 4, 3));
    assert_eq!(parts(end(&mut h, &a, -1, 5)), (ErrorCode::NONE, -1, -1));
    assert_eq!(parts(end(&mut h, &a, -1, -1)), (ErrorCode::NONE, -1, -1));

    // KIP-320: an older epoch known is fenced, a newer one unknown here yet.
    assert_eq!(
        parts(end(&mut h, &a, 3, 0)).0,
        ErrorCode::FENCED_LEADER_EPOCH
    );
    assert_eq!(
        parts(end(&mut h, &a, 5, 0)).0,
        ErrorCode::UNKNOWN_LEADER_EPOCH
    );

    // Another broker leads in epoch 5: only the leader answers, but the epoch is checked first.
    tell(&mut h, &leaders(Some(2), 5));
    assert_eq!(
        parts(end(&mut h, &a, -1, 4)).0,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    assert_eq!(
        parts(end(&mut h, &a, 5, 4)).0,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    assert_eq!(
        parts(end(&mut h, &a, 4, 4)).0,
        ErrorCode::FENCED_LEADER_EPOCH
    );
    // A follower's epoch starts nothing: only a leader's does.
    assert_eq!(entries(&h), vec![(0, 0), (4, 2)]);

    // No replica here: led elsewhere, or not in the metadata at all.
    assert_eq!(
        parts(end(&mut h, &elsewhere, -1, 0)),
        (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1, -1)
    );
    assert_eq!(
        parts(end(&mut h, &unknown, -1, 0)).0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}

/// A reopen in an older epoch than the log's newest (a stale view of the metadata) never cuts
/// the newer epochs; a reopen in a newer one starts it at the log end. (An epoch that holds no
/// record is forgotten by a reopen, as Kafka's load truncates the cache to the log end: the
/// leader records its epoch again when it leads.)
#[test]
fn a_reopen_in_an_older_epoch_never_cuts_the_newer_ones() {
    let storage = Arc::new(MemStorage::new());
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    tell(&mut h, &[(&a, Some(1), 0)]);
    h.ensure(&a, config(None));
    h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"x"))]));
    tell(&mut h, &[(&a, Some(1), 3)]);
    h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"y"))]));
    h.ask_until_idle(PartitionsRequest::Shutdown);
    storage.crash(); // only what was made durable is left

    let reopened_in = |epoch: i32| {
        let mut h = Harness::new(storage.clone());
        tell(&mut h, &[(&a, Some(1), epoch)]);
        h.ensure(&a, config(None));
        let log = h.actor.replica(&a).unwrap().log();
        let entries: Vec<_> = (log.epoch_entries().iter())
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        entries
    };
    assert_eq!(reopened_in(1), vec![(0, 0), (3, 1)]);
    assert_eq!(reopened_in(5), vec![(0, 0), (3, 1), (5, 2)]);
}
