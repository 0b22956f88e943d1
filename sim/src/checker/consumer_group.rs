//! The consumer-protocol group's invariants (KIP-848), over the `GroupOwns` and
//! `GroupHeartbeatAnswered` events of `workload::groups` (the commit invariants are
//! `checker::groups`', shared with classic groups):
//! * **one owner at a time**: a member is handed a partition only once no other member may
//!   still hold it. The other member let it go (a `GroupOwns` without it: it stops reading it
//!   before its next heartbeat tells the coordinator, which must wait for that heartbeat), or
//!   its session ran out: the coordinator expires a member no sooner than
//!   `CONSUMER_SESSION_TIMEOUT_MS` after the last heartbeat it sent that was answered (it was
//!   received after it was sent). A partition handed over earlier was read by two members at
//!   once;
//! * **member epochs move forward**: a member id's epochs, as answered, never go down (a
//!   fenced member rejoins at epoch 0 and is given the group's epoch, which only grows).
//!
//! Both rest on the group's records in `__consumer_offsets` surviving a crash, so they bind
//! only when acknowledgements wait for the fsync; a bit flip at rest in that topic excuses what
//! was handed out before it.

use std::collections::{BTreeMap, BTreeSet};

use super::{Promises, Report};
use crate::history::Event;
use crate::workload::CONSUMER_SESSION_TIMEOUT_MS;

/// One member as the checker follows it.
#[derive(Default)]
struct Held {
    partitions: BTreeSet<i32>,
    /// When it sent the last heartbeat that was answered.
    last_answered_sent_ms: u64,
}

pub(super) fn check(safety: &mut Report, events: &[(u64, Event)], promises: Promises) {
    if !promises.durable_acks {
        return;
    }
    let mut held: BTreeMap<u32, Held> = BTreeMap::new();
    let mut epochs: BTreeMap<&str, i32> = BTreeMap::new();
    let mut stretches = super::groups::member_less_stretches(events)
        .into_iter()
        .peekable();
    for (at_ms, event) in events {
        if stretches.next_if(|(_, to)| to <= at_ms).is_some() {
            // Retention may have deleted the member-less group: epochs start over.
            while stretches.next_if(|(_, to)| to <= at_ms).is_some() {}
            epochs.clear();
        }
        match event {
            Event::Fault { kind, detail }
                if *kind == "disk-bit-flip" && detail.contains("__consumer_offsets") =>
            {
                // The flip may have destroyed a revocation's or an epoch's record.
                for h in held.values_mut() {
                    h.partitions.clear();
                }
                epochs.clear();
            }
            Event::GroupHeartbeatAnswered {
                member,
                member_id,
                epoch,
                sent_ms,
            } => {
                let h = held.entry(*member).or_default();
                h.last_answered_sent_ms = h.last_answered_sent_ms.max(*sent_ms);
                let last = epochs.entry(member_id.as_str()).or_insert(*epoch);
                if *epoch < *last {
                    safety.add(
                        "member epoch went back",
                        format!(
                            "member {member} ({member_id}) was answered epoch {epoch} after \
                             {last} (t={at_ms}ms)"
                        ),
                    );
                }
                *last = (*last).max(*epoch);
            }
            Event::GroupOwns {
                member,
                epoch,
                partitions,
            } => {
                let now: BTreeSet<i32> = partitions.iter().copied().collect();
                let before = held.get(member).map(|h| h.partitions.clone());
                for p in now.difference(&before.unwrap_or_default()) {
                    for (other, h) in &held {
                        let expires_ms = h.last_answered_sent_ms + CONSUMER_SESSION_TIMEOUT_MS;
                        if other != member && h.partitions.contains(p) && *at_ms < expires_ms {
                            safety.add(
                                "two owners at once",
                                format!(
                                    "p{p} went to member {member} (epoch {epoch}) at {at_ms}ms \
                                     while member {other} held it (its session runs to \
                                     {expires_ms}ms at least)"
                                ),
                            );
                        }
                    }
                }
                held.entry(*member).or_default().partitions = now;
            }
            Event::GroupLeft { member, .. } => {
                if let Some(h) = held.get_mut(member) {
                    h.partitions.clear();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Verdict;

    fn run(events: &[(u64, Event)]) -> Vec<String> {
        let mut verdict = Verdict::default();
        let mut report = Report {
            out: &mut verdict.safety,
            counts: BTreeMap::new(),
        };
        let promises = Promises {
            durable_acks: true,
            idempotent: false,
            replicated: false,
            min_insync_replicas: 1,
        };
        check(&mut report, events, promises);
        report.finish();
        verdict.safety
    }

    fn answered(at_ms: u64, member: u32, epoch: i32) -> (u64, Event) {
        let e = Event::GroupHeartbeatAnswered {
            member,
            member_id: format!("m{member}"),
            epoch,
            sent_ms: at_ms - 1,
        };
        (at_ms, e)
    }

    fn owns(at_ms: u64, member: u32, partitions: Vec<i32>) -> (u64, Event) {
        let e = Event::GroupOwns {
            member,
            epoch: 1,
            partitions,
        };
        (at_ms, e)
    }

    #[test]
    fn a_partition_goes_to_another_member_only_once_let_go_or_expired() {
        let handed_over = [
            answered(10, 0, 1),
            owns(10, 0, vec![0, 1]),
            owns(500, 0, vec![0]),
            answered(600, 1, 2),
            owns(600, 1, vec![1]),
        ];
        assert!(run(&handed_over).is_empty());
        let taken = [
            answered(10, 0, 1),
            owns(10, 0, vec![0, 1]),
            answered(600, 1, 2),
            owns(600, 1, vec![1]),
        ];
        let found = run(&taken);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("two owners at once"), "{found:?}");
        let expired_at = 9 + CONSUMER_SESSION_TIMEOUT_MS;
        let expired = [
            answered(10, 0, 1),
            owns(10, 0, vec![0, 1]),
            answered(expired_at, 1, 2),
            owns(expired_at, 1, vec![1]),
        ];
        assert!(
            run(&expired).is_empty(),
            "the silent member's session ran out"
        );
        let left = [
            answered(10, 0, 1),
            owns(10, 0, vec![1]),
            (
                20,
                Event::GroupLeft {
                    member: 0,
                    how: "crash",
                },
            ),
            owns(30, 1, vec![1]),
        ];
        assert!(run(&left).is_empty());
    }

    #[test]
    fn a_member_epoch_going_back_is_a_violation_unless_a_bit_flip_excuses_it() {
        let back = [answered(10, 0, 3), answered(20, 0, 2)];
        let found = run(&back);
        assert!(found[0].starts_with("member epoch went back"), "{found:?}");
        let flip = Event::Fault {
            kind: "disk-bit-flip",
            detail: "broker 1 __consumer_offsets-0/00000000000000000000.log".into(),
        };
        let flipped = [answered(10, 0, 3), (15, flip), answered(20, 0, 2)];
        assert!(run(&flipped).is_empty());
    }
}
