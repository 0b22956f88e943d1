//! The consumer group's progress, over the drained end of `workload::groups`:
//! * **at-least-once**: the members commit after processing, so every durably acknowledged
//!   record (acks=all under fsync-before-ack) below a partition's final committed offset
//!   (`GroupFinal`) was polled by some member (`GroupPolled`). Records a member skipped because
//!   the log start passed them (`GroupSkipped`) and batches a bit flip destroyed are excused.
//!   Only records a fetch returned count as polled (not the offsets between them). The
//!   resetter only moves commits back (`GroupReset`), so a reset makes the members read again
//!   and excuses nothing;
//! * **liveness**: after healing every member drains in a Stable generation (else
//!   `GroupStuck`), and the final commit of each partition reaches its high watermark (from
//!   the final read): a group stuck in a rebalance, or one that forgot its commits, fails.

use std::collections::BTreeMap;

use super::{Promises, Report};
use crate::history::{Event, SendOutcome};

/// Covered offset ranges of one partition, `from..to`.
type Ranges = Vec<(i64, i64)>;

fn covered(ranges: &Ranges, offset: i64) -> bool {
    ranges
        .iter()
        .any(|(from, to)| (*from..*to).contains(&offset))
}

/// At-least-once; `damaged(partition, offset)` says whether a bit flip destroyed the record.
pub(super) fn check_at_least_once(
    safety: &mut Report,
    events: &[(u64, Event)],
    promises: Promises,
    damaged: &dyn Fn(i32, i64) -> bool,
) {
    if !promises.durable_acks {
        return;
    }
    let mut finals: BTreeMap<i32, i64> = BTreeMap::new();
    let mut polled: BTreeMap<i32, Ranges> = BTreeMap::new();
    let mut acks: BTreeMap<u32, i16> = BTreeMap::new();
    for (_, event) in events {
        match event {
            Event::GroupFinal { partition, offset } => {
                finals.insert(*partition, *offset);
            }
            Event::GroupPolled {
                partition,
                from,
                to,
                ..
            }
            | Event::GroupSkipped {
                partition,
                from,
                to,
                ..
            } => polled.entry(*partition).or_default().push((*from, *to)),
            Event::Producer {
                producer, acks: a, ..
            } => {
                acks.insert(*producer, *a);
            }
            _ => {}
        }
    }
    for (_, event) in events {
        let Event::Sent {
            producer,
            partition,
            value,
            outcome: SendOutcome::Ok { offset },
        } = event
        else {
            continue;
        };
        let binding = acks.get(producer) == Some(&-1);
        let below_final = finals.get(partition).is_some_and(|f| offset < f);
        if !binding || !below_final || *offset < 0 || damaged(*partition, *offset) {
            continue;
        }
        let ranges = polled.get(partition).cloned().unwrap_or_default();
        if !covered(&ranges, *offset) {
            safety.add(
                "group skipped an acknowledged record",
                format!(
                    "p{partition}@{offset} ({value}) is below the final commit {} but no member \
                     polled it",
                    finals[partition]
                ),
            );
        }
    }
}

/// Liveness after healing: every member drained, and every partition's final commit reached
/// its high watermark.
pub(super) fn check_liveness(liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let mut finals: BTreeMap<i32, i64> = BTreeMap::new();
    let mut high_watermarks: BTreeMap<i32, i64> = BTreeMap::new();
    for (_, event) in events {
        match event {
            Event::GroupStuck { member, detail } => {
                liveness.push(format!("group member {member} did not drain: {detail}"));
            }
            Event::GroupFinal { partition, offset } => {
                finals.insert(*partition, *offset);
            }
            Event::FinalRead {
                partition,
                high_watermark,
                ..
            } => {
                high_watermarks.insert(*partition, *high_watermark);
            }
            _ => {}
        }
    }
    // The final OffsetFetch asks for every partition: one missing from its answer (when there
    // was an answer) is a commit the coordinator lost track of.
    if !finals.is_empty() {
        for partition in high_watermarks.keys() {
            if !finals.contains_key(partition) {
                liveness.push(format!(
                    "group's final OffsetFetch has no answer for p{partition}"
                ));
            }
        }
    }
    for (partition, offset) in &finals {
        let Some(hw) = high_watermarks.get(partition) else {
            continue;
        };
        // Nothing to commit in an empty partition. A commit above the high watermark follows
        // a loss of unsynced records, even when acks wait for the fsync: the high watermark
        // moves at the append, so members read records not yet synced (acks=1, or acks=all
        // still waiting for their fsync) that a crash then takes back.
        if *offset < *hw && *hw > 0 {
            liveness.push(format!(
                "group's final commit of p{partition} is {offset}, below the high watermark {hw}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Verdict;

    const DURABLE: Promises = Promises {
        durable_acks: true,
        idempotent: false,
        replicated: false,
        min_insync_replicas: 1,
    };

    fn at_least_once(events: &[(u64, Event)]) -> Vec<String> {
        let mut verdict = Verdict::default();
        let mut report = Report {
            out: &mut verdict.safety,
            counts: BTreeMap::new(),
        };
        check_at_least_once(&mut report, events, DURABLE, &|_, offset| offset == 7);
        report.finish();
        verdict.safety
    }

    fn sent(offset: i64) -> (u64, Event) {
        let outcome = SendOutcome::Ok { offset };
        let e = Event::Sent {
            producer: 0,
            partition: 0,
            value: format!("v{offset}"),
            outcome,
        };
        (1, e)
    }

    fn producer(acks: i16) -> (u64, Event) {
        let e = Event::Producer {
            producer: 0,
            partition: 0,
            acks,
            idempotent: false,
        };
        (0, e)
    }

    fn polled(from: i64, to: i64) -> (u64, Event) {
        let e = Event::GroupPolled {
            member: 0,
            partition: 0,
            from,
            to,
        };
        (2, e)
    }

    fn final_commit(offset: i64) -> (u64, Event) {
        (
            3,
            Event::GroupFinal {
                partition: 0,
                offset,
            },
        )
    }

    #[test]
    fn an_acknowledged_record_below_the_final_commit_that_nobody_polled_is_a_violation() {
        let ok = [
            producer(-1),
            sent(3),
            sent(5),
            polled(0, 5),
            sent(9),
            final_commit(5),
        ];
        assert!(at_least_once(&ok).is_empty(), "{:?}", at_least_once(&ok));
        let gap = [producer(-1), sent(3), polled(4, 6), final_commit(6)];
        let found = at_least_once(&gap);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("group skipped an acknowledged record"));
        let skipped = (
            2,
            Event::GroupSkipped {
                member: 1,
                partition: 0,
                from: 0,
                to: 4,
            },
        );
        assert!(at_least_once(&[producer(-1), sent(3), skipped, final_commit(6)]).is_empty());
        let flipped = [producer(-1), sent(7), final_commit(9)];
        assert!(at_least_once(&flipped).is_empty(), "a bit flip excuses");
        let acks_one = [producer(1), sent(3), final_commit(6)];
        assert!(at_least_once(&acks_one).is_empty(), "acks=1 binds nothing");
    }

    #[test]
    fn a_stuck_member_or_a_final_commit_below_the_high_watermark_is_a_liveness_failure() {
        let read = |hw: i64| {
            let e = Event::FinalRead {
                partition: 0,
                log_start: 0,
                high_watermark: hw,
                records: Vec::new(),
            };
            (4, e)
        };
        let mut liveness = Vec::new();
        check_liveness(&mut liveness, &[final_commit(9), read(9)]);
        check_liveness(&mut liveness, &[final_commit(-1), read(0)]);
        assert!(liveness.is_empty(), "{liveness:?}");
        check_liveness(&mut liveness, &[final_commit(5), read(9)]);
        assert!(
            liveness[0].contains("below the high watermark 9"),
            "{liveness:?}"
        );
        let stuck = Event::GroupStuck {
            member: 1,
            detail: "generation None".into(),
        };
        check_liveness(&mut liveness, &[(1, stuck)]);
        assert!(
            liveness[1].starts_with("group member 1 did not drain"),
            "{liveness:?}"
        );
        // The final fetch answered p0 only; p1 was read too, so its commit went missing.
        let read_p1 = (
            4,
            Event::FinalRead {
                partition: 1,
                log_start: 0,
                high_watermark: 0,
                records: Vec::new(),
            },
        );
        check_liveness(&mut liveness, &[final_commit(9), read(9), read_p1]);
        assert_eq!(liveness.len(), 3, "{liveness:?}");
        assert!(liveness[2].contains("no answer for p1"), "{liveness:?}");
    }
}
