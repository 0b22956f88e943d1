//! Replicas of a partition hold the same batches: once the run has healed and the followers
//! had time to fetch, every offset two replicas both hold is in the same batch, written in the
//! same leader epoch, with the same CRC (a follower stores its leader's batches as they are;
//! issue 14: "replicas of a partition agree on every offset below the HW"). The workload reads
//! each replica's segments from its disk (`workload::replicas`); this module compares them and
//! judges the comparison the history records.

use std::collections::BTreeMap;

use super::Report;
use crate::history::Event;

/// One stored batch as the comparison needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub last_offset: i64,
    pub leader_epoch: i32,
    pub crc: u32,
}

/// A replica's log as read from its disk: its batches in offset order.
pub type ReplicaLog = Vec<StoredBatch>;

/// The first offset two replicas both hold in different batches, described; `None` when every
/// shared offset agrees. Replicas may start (retention) and end (a follower behind) apart:
/// only the offsets both hold are compared, batch by batch.
pub fn first_difference(logs: &BTreeMap<u64, ReplicaLog>) -> Option<String> {
    // Every pair: two replicas may share offsets a third no longer (or not yet) holds.
    logs.iter().find_map(|(&a, a_log)| {
        (logs.range(a + 1..)).find_map(|(&b, b_log)| {
            // Both ways: each walks one log's batches against the other's.
            (differ(a_log, b_log).or_else(|| differ(b_log, a_log)))
                .map(|difference| format!("broker {a} and broker {b}: {difference}"))
        })
    })
}

/// Where two logs hold one offset in different batches. Neither may hold an offset the other
/// covers in another batch, or skip one inside its range (a data topic is never compacted).
fn differ(a: &[StoredBatch], b: &[StoredBatch]) -> Option<String> {
    let (b_start, b_end) = (b.first()?.base_offset, b.last()?.last_offset);
    let by_base: BTreeMap<i64, &StoredBatch> = b.iter().map(|y| (y.base_offset, y)).collect();
    for x in a {
        if x.last_offset < b_start || x.base_offset > b_end {
            continue;
        }
        if x.base_offset < b_start {
            return Some(format!(
                "offset {b_start} starts a batch in one log but is inside {x:?} in the other"
            ));
        }
        let holding = (by_base.range(..=x.base_offset).next_back())
            .filter(|(_, y)| y.last_offset >= x.base_offset);
        match holding {
            Some((_, y)) if *y == x => {}
            Some((_, y)) => return Some(format!("offset {}: {x:?} against {y:?}", x.base_offset)),
            None => {
                return Some(format!(
                    "offset {} is missing inside a log: {x:?}",
                    x.base_offset
                ))
            }
        }
    }
    None
}

/// Every comparison the workload recorded that found a difference is a violation.
pub(super) fn check(safety: &mut Report, events: &[(u64, Event)]) {
    for (_, event) in events {
        let Event::ReplicasCompared {
            partition,
            replicas,
            difference: Some(difference),
        } = event
        else {
            continue;
        };
        safety.add(
            "replicas of a partition disagree",
            format!("partition {partition} (replicas as (broker, log start, log end): {replicas:?}): {difference}"),
        );
    }
}

/// Once healed, every follower catches up: a partition whose replicas still end apart when the
/// workload stopped waiting for them (`workload::replicas::AGREE_BOUND` after the final read)
/// is a liveness failure — a follower that stopped fetching, or one a throttle still holds
/// after it was lifted (the canary `throttle-not-released`).
pub(super) fn check_caught_up(liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    for (_, event) in events {
        let Event::ReplicasCompared {
            partition,
            replicas,
            ..
        } = event
        else {
            continue;
        };
        if replicas.windows(2).any(|w| w[0].2 != w[1].2) {
            liveness.push(format!(
                "partition {partition}: replicas still end apart after healing (as (broker, log \
                 start, log end)): {replicas:?}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(base_offset: i64, last_offset: i64, leader_epoch: i32, crc: u32) -> StoredBatch {
        StoredBatch {
            base_offset,
            last_offset,
            leader_epoch,
            crc,
        }
    }

    fn logs(of: &[(u64, ReplicaLog)]) -> BTreeMap<u64, ReplicaLog> {
        of.iter().cloned().collect()
    }

    #[test]
    fn replicas_that_start_and_end_apart_agree_on_what_they_share() {
        let leader = vec![batch(0, 1, 0, 7), batch(2, 4, 0, 8), batch(5, 5, 1, 9)];
        // Retention removed the first batch; the follower is one batch behind.
        let follower = vec![batch(2, 4, 0, 8)];
        assert_eq!(
            first_difference(&logs(&[(1, leader.clone()), (2, follower)])),
            None
        );
        assert_eq!(first_difference(&logs(&[(1, leader), (2, vec![])])), None);
    }

    #[test]
    fn a_different_batch_at_a_shared_offset_is_a_difference() {
        let leader = vec![batch(0, 1, 0, 7), batch(2, 4, 1, 8)];
        // The follower kept an earlier epoch's batch at offset 2 (truncated by the HW, not by
        // the epoch).
        let stale = vec![batch(0, 1, 0, 7), batch(2, 3, 0, 5)];
        let found = first_difference(&logs(&[(1, leader.clone()), (2, stale)]));
        assert!(found.is_some_and(|d| d.contains("offset 2")));
        // Same offsets, another CRC.
        let other = vec![batch(0, 1, 0, 6)];
        assert!(first_difference(&logs(&[(1, leader), (3, other)])).is_some());
    }

    #[test]
    fn a_log_that_starts_inside_another_logs_batch_is_a_difference() {
        let leader = vec![batch(0, 3, 0, 7)];
        let follower = vec![batch(2, 3, 0, 7)];
        assert!(first_difference(&logs(&[(1, leader), (2, follower)])).is_some());
    }

    #[test]
    fn a_gap_in_either_log_is_a_difference() {
        let gapped = vec![batch(0, 1, 0, 7), batch(5, 6, 0, 9)];
        let whole = vec![batch(0, 1, 0, 7), batch(2, 4, 0, 8), batch(5, 6, 0, 9)];
        assert!(first_difference(&logs(&[(1, gapped.clone()), (2, whole.clone())])).is_some());
        assert!(first_difference(&logs(&[(1, whole), (2, gapped)])).is_some());
    }

    #[test]
    fn replicas_that_still_end_apart_after_healing_are_a_liveness_failure() {
        let compared = |ends: &[(u64, i64, i64)]| Event::ReplicasCompared {
            partition: 0,
            replicas: ends.to_vec(),
            difference: None,
        };
        let events = vec![
            (1, compared(&[(1, 0, 9), (2, 0, 9), (3, 3, 9)])),
            (2, compared(&[(1, 0, 9), (2, 0, 4)])),
        ];
        let mut liveness = Vec::new();
        check_caught_up(&mut liveness, &events);
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(liveness[0].contains("(2, 0, 4)"), "{liveness:?}");
    }
}
