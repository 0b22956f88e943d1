//! The consumer group's invariants, over the events of `workload::groups`:
//! * **committed offsets survive and never go back except by a reset**: an OffsetFetch
//!   answers at least the highest commit of its partition acknowledged before the fetch was
//!   sent, and no acknowledged commit is below an earlier one (the workload's members commit
//!   a partition only past what they know committed), across any crash and restart. The one
//!   way back is an explicit reset (`GroupReset`, generation -1 while the group is Empty):
//!   from its answer on the partition's floor is the reset offset. An unanswered reset may
//!   or may not have applied: from when it was recorded it lowers a higher floor to the reset
//!   offset, and sets none;
//! * **one owner**: no two members are handed the same partition in one generation
//!   (SyncGroup answers);
//! * **generations move forward**: a member's completed joins (SyncGroup answered NONE) never
//!   see a lower generation than before. A JoinGroup answer alone binds nothing: Kafka writes a
//!   generation only with the leader's assignment, so a coordinator restart may hand an
//!   unwritten generation number out again.
//!
//! All three rest on acknowledged writes to `__consumer_offsets` surviving a crash, so they
//! bind only when acknowledgements wait for the fsync; a bit flip at rest in that topic
//! excuses the commits, assignments and generations acknowledged before it.
//!
//! Offset retention (the simulator's broker runs `OFFSETS_RETENTION_MS`): commits may vanish
//! only in a stretch in which no member was surely in the group ([`member_less_stretches`]),
//! and are excused from that stretch's end on. A classic group's commits age from when it
//! became Empty, so the stretch must be that long (then generations may start over too, the
//! group deleted) — or, for a group with no commit, Empty at all (an Empty group without
//! offsets is deleted at the next retention check, which may come at once; a member that left
//! or paused left with a LeaveGroup); a consumer-protocol group's age from each commit once no member subscribes,
//! so a commit acknowledged that long before the stretch ended may be gone. Expiring the
//! commits of a group with members is caught as a lost commit.

use std::collections::{BTreeMap, BTreeSet};

use super::{Promises, Report};
use crate::history::Event;
use crate::workload::{CONSUMER_SESSION_TIMEOUT_MS, OFFSETS_RETENTION_MS};

/// The stretches `(from, to)` between which no member was surely in the group (the last,
/// open one left out: nothing is checked after it). A member is surely in it between two
/// answers that name it in the group (a join, a heartbeat) under one member id, less than a
/// session apart: it sent nothing that could have removed it and re-added it, and the
/// coordinator expires a member only after a session without heartbeats. Proofs: JoinGroup,
/// SyncGroup, Heartbeat and OffsetCommit answers (`GroupJoined`, `GroupAlive`) and
/// ConsumerGroupHeartbeat answers (`GroupHeartbeatAnswered`); proofs lost with their answers
/// only lengthen the stretches, which excuses more, never less.
pub(super) fn member_less_stretches(events: &[(u64, Event)]) -> Vec<(u64, u64)> {
    let mut proofs: BTreeMap<(u32, &str), Vec<u64>> = BTreeMap::new();
    for (at_ms, event) in events {
        let proof = match event {
            Event::GroupJoined {
                member, member_id, ..
            }
            | Event::GroupAlive { member, member_id }
            | Event::GroupHeartbeatAnswered {
                member, member_id, ..
            } => (*member, member_id.as_str()),
            _ => continue,
        };
        proofs.entry(proof).or_default().push(*at_ms);
    }
    // Surely-in intervals (a lone proof is a point), ordered by start.
    let mut intervals: BTreeSet<(u64, u64)> = BTreeSet::new();
    for times in proofs.values() {
        let mut start = times[0];
        for pair in times.windows(2) {
            if pair[1] - pair[0] >= CONSUMER_SESSION_TIMEOUT_MS {
                intervals.insert((start, pair[0]));
                start = pair[1];
            }
        }
        intervals.insert((start, *times.last().expect("one proof at least")));
    }
    let mut stretches = Vec::new();
    let mut covered_until: Option<u64> = None;
    for (start, end) in intervals {
        if let Some(until) = covered_until.filter(|until| start > *until) {
            stretches.push((until, start));
        }
        covered_until = Some(covered_until.map_or(end, |u| u.max(end)));
    }
    stretches
}

/// Whether the run's group uses the consumer protocol (its members heartbeat with
/// ConsumerGroupHeartbeat).
pub(super) fn consumer_protocol(events: &[(u64, Event)]) -> bool {
    (events.iter()).any(|(_, e)| matches!(e, Event::GroupHeartbeatAnswered { .. }))
}

pub(super) fn check(safety: &mut Report, events: &[(u64, Event)], promises: Promises) {
    if !promises.durable_acks {
        return;
    }
    // (partition) → the highest acknowledged commit.
    let mut highest: BTreeMap<i32, Commit> = BTreeMap::new();
    let mut owners: BTreeMap<(i32, i32), u32> = BTreeMap::new();
    let mut member_generation: BTreeMap<u32, i32> = BTreeMap::new();
    let consumer = consumer_protocol(events);
    let mut stretches = member_less_stretches(events).into_iter().peekable();
    // Each member slot's last proof of membership and last LeaveGroup: a group whose every
    // member left after its last proof is Empty at once (not a session later).
    let mut last_proof: BTreeMap<u32, u64> = BTreeMap::new();
    let mut left_at: BTreeMap<u32, u64> = BTreeMap::new();
    let all_left = |last_proof: &BTreeMap<u32, u64>, left_at: &BTreeMap<u32, u64>| {
        (last_proof.iter()).all(|(member, proof)| left_at.get(member).is_some_and(|l| l >= proof))
    };
    // When every member slot was surely out of the group: its leave after its last proof, or
    // a session after that proof (seed 111 of session 31: a slot whose last proof came long
    // before the stretch kept the group "maybe not Empty" for a session after the stretch's
    // start, though it had been out for seconds, and the retention's deletion of the Empty
    // group, whose generations then started over, was flagged as two owners in one).
    let gone_by = |last_proof: &BTreeMap<u32, u64>, left_at: &BTreeMap<u32, u64>| {
        (last_proof.iter())
            .map(|(member, proof)| match left_at.get(member) {
                Some(left) if left >= proof => *left,
                _ => proof + CONSUMER_SESSION_TIMEOUT_MS,
            })
            .max()
            .unwrap_or(0)
    };
    // What a member-less stretch from `from` excuses by `to` (its end, or now within it);
    // `all_left`: every member had left the group by then; `gone_by`: when every member was
    // surely out.
    let excuse = |from: u64,
                  to: u64,
                  (all_left, gone_by): (bool, u64),
                  highest: &mut BTreeMap<i32, Commit>,
                  owners: &mut BTreeMap<(i32, i32), u32>,
                  member_generation: &mut BTreeMap<u32, i32>| {
        // A group without commits is deleted at the retention check after it became Empty
        // (Kafka's `cleanupGroupMetadata`; found at seed 13 of the replicated runs, whose
        // members joined, left at once and never committed): Empty once every member left,
        // or a session after the last proof.
        let empty_for = match all_left {
            true => to - from,
            false => (to - from).saturating_sub(CONSUMER_SESSION_TIMEOUT_MS),
        }
        .max(to.saturating_sub(gone_by));
        if consumer {
            // Each commit acknowledged a retention before then may be gone.
            highest.retain(|_, commit| commit.ages_from_ms + OFFSETS_RETENTION_MS > to);
        } else if to - from >= OFFSETS_RETENTION_MS || (highest.is_empty() && empty_for > 0) {
            // (A retention check may fall anywhere in an Empty stretch, however short: the
            // shard checks every `OFFSETS_RETENTION_CHECK_MS` from when it loaded.)
            // The commits and the group may be gone (its generations start over).
            highest.clear();
            owners.clear();
            member_generation.clear();
        }
    };
    for (at_ms, event) in events {
        while let Some((from, to)) = stretches.next_if(|(_, to)| to <= at_ms) {
            let left = all_left(&last_proof, &left_at);
            excuse(
                from,
                to,
                (left, gone_by(&last_proof, &left_at)),
                &mut highest,
                &mut owners,
                &mut member_generation,
            );
        }
        // An answer within a stretch (an OffsetFetch sent before the heartbeat that ends it
        // was answered) may see what retention did so far (seed 5 of the controller quorum's
        // runs, where a restarted broker waited for its quorum): once the last member's
        // session ran out, counted from the stretch's start, what ages from then on may go.
        if let Some(&(from, _)) = stretches.peek() {
            let expired_from = from + CONSUMER_SESSION_TIMEOUT_MS;
            if expired_from < *at_ms {
                excuse(
                    expired_from,
                    *at_ms,
                    (
                        all_left(&last_proof, &left_at),
                        gone_by(&last_proof, &left_at),
                    ),
                    &mut highest,
                    &mut owners,
                    &mut member_generation,
                );
            }
        }
        match event {
            Event::GroupJoined { member, .. }
            | Event::GroupAlive { member, .. }
            | Event::GroupHeartbeatAnswered { member, .. } => {
                last_proof.insert(*member, *at_ms);
            }
            // A pause leaves too (`Member::pause` sends LeaveGroup with every id it had; seed
            // 139 of the sweep: two paused members left a group without commits, which a
            // retention check deleted, and its generations started over).
            Event::GroupLeft { member, how } if *how == "leave" || *how == "pause" => {
                left_at.insert(*member, *at_ms);
            }
            _ => {}
        }
        match event {
            Event::Fault { kind, detail }
                if *kind == "disk-bit-flip" && detail.contains("__consumer_offsets") =>
            {
                // The flip may have destroyed group records too: a coordinator that replays
                // the log without them hands generation numbers out again (seed 44).
                highest.clear();
                owners.clear();
                member_generation.clear();
            }
            Event::GroupReset {
                partition,
                offset,
                invoked_ms,
                acknowledged,
            } => {
                // Its floor binds from here on, but it may have applied as early as it was
                // sent, and retention ages it from then (found at seed 11 once the observer
                // asked for topics too: a reset unanswered for 14 s had expired before it was
                // recorded).
                let from_ms = (*invoked_ms).min(*at_ms);
                if *acknowledged {
                    highest.insert(*partition, Commit::new(*offset, from_ms, from_ms));
                } else if let Some(floor) = highest.get_mut(partition) {
                    // Unanswered, it may never have been written: it only lowers the floor
                    // (seed 1056: the commit it was computed from expired by retention before
                    // it was sent, and it never reached a coordinator).
                    if floor.offset > *offset {
                        floor.offset = *offset;
                        floor.ages_from_ms = floor.ages_from_ms.min(from_ms);
                    }
                }
            }
            Event::Committed {
                member,
                partition,
                offset,
                generation,
                invoked_ms,
            } => {
                // It may have been stamped (and aged) from as early as it was sent: a commit
                // acknowledged 1.85 s after it was sent had expired that much earlier than an
                // age from its answer said (found at seed 730).
                let commit = Commit::new(*offset, *at_ms, (*invoked_ms).min(*at_ms));
                let entry = highest.entry(*partition).or_insert(commit);
                if *offset >= entry.offset {
                    *entry = commit;
                } else {
                    safety.add(
                        "group commit went back",
                        format!(
                            "member {member} (generation {generation}) committed \
                             p{partition}@{offset} after @{} was acknowledged (t={at_ms}ms)",
                            entry.offset
                        ),
                    );
                }
            }
            Event::OffsetFetched {
                member,
                partition,
                offset,
                invoked_ms,
            } => {
                if let Some(Commit {
                    offset: committed,
                    acked_ms,
                    ..
                }) = highest.get(partition)
                {
                    if *acked_ms < *invoked_ms && offset < committed {
                        safety.add(
                            "lost acknowledged commit",
                            format!(
                                "member {member} fetched p{partition}@{offset} (sent at \
                                 {invoked_ms}ms), but @{committed} was acknowledged at \
                                 {acked_ms}ms"
                            ),
                        );
                    }
                }
            }
            Event::GroupAssigned {
                member,
                generation,
                partitions,
            } => {
                for partition in partitions {
                    let owner = owners.entry((*generation, *partition)).or_insert(*member);
                    if owner != member {
                        safety.add(
                            "two owners in one generation",
                            format!(
                                "p{partition} of generation {generation} went to members \
                                 {owner} and {member}"
                            ),
                        );
                    }
                }
                let last = member_generation.entry(*member).or_insert(*generation);
                if *generation < *last {
                    safety.add(
                        "generation went back",
                        format!("member {member} synced generation {generation} after {last}"),
                    );
                }
                *last = (*last).max(*generation);
            }
            _ => {}
        }
    }
}

/// The highest acknowledged commit of a partition: its offset, when it was acknowledged (a
/// fetch sent later must see it), and the earliest time retention may age it from.
#[derive(Clone, Copy, Debug)]
struct Commit {
    offset: i64,
    acked_ms: u64,
    ages_from_ms: u64,
}

impl Commit {
    fn new(offset: i64, acked_ms: u64, ages_from_ms: u64) -> Self {
        Self {
            offset,
            acked_ms,
            ages_from_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Verdict;
    use crate::workload::OFFSETS_RETENTION_CHECK_MS;

    fn run(events: &[(u64, Event)], durable_acks: bool) -> Vec<String> {
        let mut verdict = Verdict::default();
        let mut report = Report {
            out: &mut verdict.safety,
            counts: BTreeMap::new(),
        };
        let promises = Promises {
            durable_acks,
            idempotent: false,
            replicated: false,
            min_insync_replicas: 1,
        };
        check(&mut report, events, promises);
        report.finish();
        verdict.safety
    }

    fn committed(at_ms: u64, offset: i64) -> (u64, Event) {
        let e = Event::Committed {
            member: 0,
            partition: 0,
            offset,
            generation: 1,
            invoked_ms: at_ms,
        };
        (at_ms, e)
    }

    fn fetched(at_ms: u64, invoked_ms: u64, offset: i64) -> (u64, Event) {
        let e = Event::OffsetFetched {
            member: 1,
            partition: 0,
            offset,
            invoked_ms,
        };
        (at_ms, e)
    }

    fn assigned(member: u32, generation: i32, partitions: Vec<i32>) -> (u64, Event) {
        let e = Event::GroupAssigned {
            member,
            generation,
            partitions,
        };
        (1, e)
    }

    #[test]
    fn a_fetch_below_a_commit_acknowledged_before_it_was_sent_is_a_lost_commit() {
        let events = [committed(10, 5), committed(20, 9), fetched(40, 30, 7)];
        let found = run(&events, true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("lost acknowledged commit"),
            "{found:?}"
        );
        assert!(run(&events, false).is_empty(), "no durable promise");
        let concurrent = [committed(10, 5), committed(30, 9), fetched(40, 30, 5)];
        assert!(run(&concurrent, true).is_empty(), "sent before the ack");
        let flipped = [
            committed(10, 9),
            (
                15,
                Event::Fault {
                    kind: "disk-bit-flip",
                    detail: "broker 1 /data/__consumer_offsets-0/0.log".into(),
                },
            ),
            fetched(40, 30, 5),
        ];
        assert!(run(&flipped, true).is_empty(), "a bit flip excuses");
    }

    #[test]
    fn a_generation_handed_out_again_after_a_bit_flip_is_excused() {
        let again = [assigned(0, 2, vec![1]), assigned(1, 2, vec![1])];
        assert_eq!(run(&again, true).len(), 1, "two owners in one generation");
        let flip = Event::Fault {
            kind: "disk-bit-flip",
            detail: "broker 1 __consumer_offsets-1/00000000000000000000.log".into(),
        };
        let flipped = [assigned(0, 3, vec![1]), (2, flip), assigned(1, 2, vec![1])];
        assert!(
            run(&flipped, true).is_empty(),
            "the flip destroyed generation 3's record"
        );
    }

    fn reset(at_ms: u64, offset: i64, acknowledged: bool) -> (u64, Event) {
        let e = Event::GroupReset {
            partition: 0,
            offset,
            invoked_ms: at_ms - 1,
            acknowledged,
        };
        (at_ms, e)
    }

    #[test]
    fn a_commit_goes_back_only_across_a_reset() {
        let back = [committed(10, 9), committed(20, 4)];
        let found = run(&back, true);
        assert!(found[0].starts_with("group commit went back"), "{found:?}");
        for acknowledged in [true, false] {
            let reset_back = [
                committed(10, 9),
                reset(15, 4, acknowledged),
                fetched(30, 20, 4),
                committed(40, 6),
                fetched(50, 45, 6),
            ];
            assert!(run(&reset_back, true).is_empty(), "{reset_back:?}");
        }
        // An unanswered reset may never have been written: it sets no floor of its own
        // (seed 1056); an answered one does.
        for (acknowledged, violations) in [(false, 0), (true, 1)] {
            let alone = [reset(15, 4, acknowledged), fetched(30, 20, -1)];
            assert_eq!(run(&alone, true).len(), violations, "{alone:?}");
        }
        // After the reset the floor is the reset offset, then the commits above it.
        let below_reset = [committed(10, 9), reset(15, 4, true), fetched(30, 20, 3)];
        let found = run(&below_reset, true);
        assert!(
            found[0].starts_with("lost acknowledged commit"),
            "{found:?}"
        );
        let after = [
            committed(10, 9),
            reset(15, 4, true),
            committed(20, 6),
            fetched(40, 30, 4),
        ];
        let found = run(&after, true);
        assert!(
            found[0].starts_with("lost acknowledged commit"),
            "{found:?}"
        );
    }

    fn alive(at_ms: u64, member: u32, member_id: &str) -> (u64, Event) {
        let e = Event::GroupAlive {
            member,
            member_id: member_id.into(),
        };
        (at_ms, e)
    }

    #[test]
    fn commits_may_expire_only_after_a_retention_long_stretch_without_a_sure_member() {
        let r = OFFSETS_RETENTION_MS;
        // Heartbeats a second apart: surely in the group from 1 000 to 4 000 ms, and from
        // `back` on.
        let mut events: Vec<(u64, Event)> = (1..=4).map(|s| alive(s * 1000, 0, "a")).collect();
        let back = 4000 + r + 500;
        events.push(alive(back, 0, "b"));
        assert_eq!(member_less_stretches(&events), [(4000, back)]);
        // One member surely in all along (heartbeats < a session apart): no stretch.
        let steady: Vec<(u64, Event)> = (1..=20).map(|s| alive(s * 1000, 0, "a")).collect();
        assert!(member_less_stretches(&steady).is_empty());
        // Two members taking turns: the second covers 3 000 to 8 000 ms (proofs less than a
        // session apart), only the time before it is member-less.
        let turns = [
            alive(1000, 0, "a"),
            alive(3000, 1, "b"),
            alive(8000, 1, "b"),
        ];
        assert_eq!(member_less_stretches(&turns), [(1000, 3000)]);
        // A gap of a session or more between one id's proofs is not covered.
        let silent = [alive(1000, 0, "a"), alive(1000 + r + 1000, 0, "a")];
        assert_eq!(member_less_stretches(&silent), [(1000, 1000 + r + 1000)]);
        // A short stretch excuses nothing in a classic group.
        let short = [
            alive(1000, 0, "a"),
            committed(1500, 9),
            alive(2000, 0, "a"),
            alive(4000, 1, "b"),
            fetched(4500, 4100, -1),
        ];
        let found = run(&short, true);
        assert!(
            found[0].starts_with("lost acknowledged commit"),
            "{found:?}"
        );

        // A commit fetched as gone after such a stretch is excused, not before.
        let mut expired = events.clone();
        expired.insert(1, committed(1500, 9));
        expired.push(fetched(back + 100, back + 50, -1));
        assert!(run(&expired, true).is_empty(), "{:?}", run(&expired, true));
        let mut lost = steady.clone();
        lost.insert(1, committed(1500, 9));
        lost.push(fetched(20_500, 20_400, -1));
        let found = run(&lost, true);
        assert!(
            found[0].starts_with("lost acknowledged commit"),
            "{found:?}"
        );
    }

    fn answered(at_ms: u64, member: u32, member_id: &str) -> (u64, Event) {
        let e = Event::GroupHeartbeatAnswered {
            member,
            member_id: member_id.into(),
            epoch: 1,
            sent_ms: at_ms - 1,
        };
        (at_ms, e)
    }

    #[test]
    fn a_consumer_groups_commit_may_expire_once_a_retention_old_in_a_member_less_stretch() {
        let r = OFFSETS_RETENTION_MS;
        // The commit is `r` old when the member-less stretch ends, though the stretch is short.
        let old = [
            answered(1000, 0, "a"),
            committed(1500, 9),
            answered(2000, 0, "a"),
            answered(1500 + r, 1, "b"),
            fetched(1600 + r, 1550 + r, -1),
        ];
        assert!(run(&old, true).is_empty(), "{:?}", run(&old, true));
        // A fetch answered within the stretch, once the member's session ran out and the
        // commit is a retention old; not before the session ran out.
        let s = CONSUMER_SESSION_TIMEOUT_MS;
        let within = [
            answered(1000, 0, "a"),
            committed(1500, 9),
            answered(2000, 0, "a"),
            fetched(2100 + s, 2050 + s, -1),
            answered(2500 + s + r, 1, "b"),
        ];
        assert!(run(&within, true).is_empty(), "{:?}", run(&within, true));
        let early = [
            answered(1000, 0, "a"),
            committed(1500, 9),
            answered(2000, 0, "a"),
            fetched(1900 + s, 1850 + s, -1),
            answered(2500 + s + r, 1, "b"),
        ];
        assert!(
            !run(&early, true).is_empty(),
            "the member may still be in the group"
        );
        // A reset recorded late (unanswered) ages from when it was sent.
        let reset_late = [
            answered(1000, 0, "a"),
            answered(2000, 0, "a"),
            (
                1450 + r,
                Event::GroupReset {
                    partition: 0,
                    offset: 9,
                    invoked_ms: 1500,
                    acknowledged: false,
                },
            ),
            answered(1500 + r, 1, "b"),
            fetched(1600 + r, 1550 + r, -1),
        ];
        assert!(
            run(&reset_late, true).is_empty(),
            "{:?}",
            run(&reset_late, true)
        );
        // A commit acknowledged late ages from when it was sent: the coordinator stamped it on
        // arrival (seed 730: acknowledged 1.85 s after it was sent).
        let late = Event::Committed {
            member: 0,
            partition: 0,
            offset: 9,
            generation: 1,
            invoked_ms: 1500,
        };
        let acked_late = [
            answered(1000, 0, "a"),
            (1900, late.clone()),
            answered(2000, 0, "a"),
            answered(1500 + r, 1, "b"),
            fetched(1600 + r, 1550 + r, -1),
        ];
        assert!(
            run(&acked_late, true).is_empty(),
            "{:?}",
            run(&acked_late, true)
        );
        // A younger commit must survive the same stretch.
        let young = [
            answered(1000, 0, "a"),
            committed(1900, 9),
            answered(2000, 0, "a"),
            answered(1500 + r, 1, "b"),
            fetched(1600 + r, 1550 + r, -1),
        ];
        let found = run(&young, true);
        assert!(
            found[0].starts_with("lost acknowledged commit"),
            "{found:?}"
        );
    }

    #[test]
    fn two_owners_of_one_generation_and_a_generation_going_back_are_violations() {
        let ok = [
            assigned(0, 1, vec![0, 1]),
            assigned(1, 2, vec![0]),
            assigned(0, 2, vec![1]),
        ];
        assert!(run(&ok, true).is_empty());
        let shared = [assigned(0, 2, vec![0, 1]), assigned(1, 2, vec![1])];
        let found = run(&shared, true);
        assert!(
            found[0].starts_with("two owners in one generation"),
            "{found:?}"
        );
        let back = [assigned(0, 3, vec![0]), assigned(0, 2, vec![0])];
        let found = run(&back, true);
        assert!(found[0].starts_with("generation went back"), "{found:?}");
    }

    /// An Empty classic group with no commit is deleted at the next retention check, so its
    /// generations may start over after a member-less stretch that long; with a commit the
    /// stretch must last the retention.
    #[test]
    fn a_group_without_commits_may_start_its_generations_over_after_a_retention_check() {
        let at = |at_ms: u64, (_, e): (u64, Event)| (at_ms, e);
        let left =
            |at_ms: u64, member: u32, how: &'static str| (at_ms, Event::GroupLeft { member, how });
        let two_owners = |events: &[(u64, Event)]| {
            let found = run(events, true);
            (found.iter()).any(|v| v.starts_with("two owners in one generation"))
        };
        let gap = OFFSETS_RETENTION_CHECK_MS + 100;
        let again = [
            alive(1000, 0, "a"),
            at(1000, assigned(0, 1, vec![0])),
            left(1010, 0, "leave"),
            alive(1000 + gap, 1, "b"),
            at(1000 + gap, assigned(1, 1, vec![0])),
        ];
        assert!(run(&again, true).is_empty(), "{:?}", run(&again, true));
        // With a commit the group stays for the retention.
        let mut committed_first = again.to_vec();
        committed_first.insert(1, committed(1000, 5));
        assert!(two_owners(&committed_first));
        // A pause leaves the group as a LeaveGroup does (seed 139), and a check may come
        // at once: a stretch shorter than the check interval excuses too.
        let mut paused = again.to_vec();
        paused[2] = left(1010, 0, "pause");
        assert!(!two_owners(&paused), "{:?}", run(&paused, true));
        let soon = 1000 + OFFSETS_RETENTION_CHECK_MS / 2;
        paused[3] = alive(soon, 1, "b");
        paused[4] = at(soon, assigned(1, 1, vec![0]));
        assert!(!two_owners(&paused), "{:?}", run(&paused, true));
        // A member that crashed is in the group until its session runs out: not Empty yet.
        let mut crashed = again.to_vec();
        crashed[2] = left(1010, 0, "crash");
        assert!(two_owners(&crashed));
        // A session and a retention check later it may be.
        let late = 1000 + CONSUMER_SESSION_TIMEOUT_MS + gap;
        crashed[3] = alive(late, 1, "b");
        crashed[4] = at(late, assigned(1, 1, vec![0]));
        assert!(!two_owners(&crashed), "{:?}", run(&crashed, true));
        // Seed 111 of session 31: a slot heard from long before (its session long over, no
        // leave recorded) does not keep the group from being Empty once the others left.
        let stale = [
            alive(100, 2, "c"),
            alive(5000 + CONSUMER_SESSION_TIMEOUT_MS, 0, "a"),
            at(5000 + CONSUMER_SESSION_TIMEOUT_MS, assigned(0, 1, vec![0])),
            left(5010 + CONSUMER_SESSION_TIMEOUT_MS, 0, "leave"),
            alive(5000 + CONSUMER_SESSION_TIMEOUT_MS + gap, 1, "b"),
            at(
                5000 + CONSUMER_SESSION_TIMEOUT_MS + gap,
                assigned(1, 1, vec![0]),
            ),
        ];
        assert!(!two_owners(&stale), "{:?}", run(&stale, true));
        // The same with that slot heard from just before: it may still be in the group.
        let mut recent = stale.to_vec();
        recent[0] = alive(4990 + CONSUMER_SESSION_TIMEOUT_MS, 2, "c");
        assert!(two_owners(&recent));
    }
}
