//! The simulator itself is tested here: a seed replays exactly, and the checker catches every
//! planted canary bug while the same seeds pass without one.
#![cfg(madsim)]

use rill::faults::{Canary, FaultPoint};
use rill_sim::run::{run_seed, Kind, RunOptions};

const SIM_SECS: u64 = 30;
/// Each canary must be caught within this many seeds of 30 simulated seconds (today every
/// canary but one is caught in most of seeds 1..=8; for ack-unsynced-single-record see
/// [`seeds_to_catch`]).
const SEEDS_PER_CANARY: u64 = 8;

/// The subtle canary (the hand-made group-commit bug) needs a crash point to land in
/// a window of a few milliseconds: it was caught in 17 of seeds 1..=100, first at 13; since
/// the node runs a third actor (GROUPS, issue 12), which re-rolls every seed's schedule, in 5
/// of seeds 1..=60, first at 26 (group members run only in the group canaries' runs, so the
/// others keep their schedules). The group canaries keep the common budget:
/// `ack-commit-before-append` is caught in every seed where the crash point
/// `crash-after-commit-answer` fires (it lands right after the early answer), which the
/// harness's one-power-failure-at-a-time rule limits to 13 of seeds 1..=40 (first at 4): it
/// gets 24 seeds, so a re-rolled schedule does not make it miss its budget by chance,
/// `group-two-owners-one-generation` in 7 of 12 since partitions (and coordinators) are
/// placed over every broker, `group-forget-on-failover` in all 8,
/// `group-replay-oldest-commit` gets 24 (it needs a coordinator restart after a partition's
/// second commit: 4 of seeds 1..=16 since session 26), `consumer-assign-unreleased` gets 24 (a partition must move between members:
/// first caught at seed 18 since producer ids came from the quorum, which re-rolled the
/// schedules),
/// `retention-ignores-members` in 3 of 8 (a Stable generation must outlast the retention).
fn seeds_to_catch(canary: Canary) -> u64 {
    match canary {
        Canary::AckUnsyncedSingleRecord => 40,
        Canary::AckCommitBeforeAppend => 24,
        Canary::ConsumerAssignUnreleased => 24,
        // Needs a coordinator restart after a partition's second commit (caught at seeds 9,
        // 10, 12 and 16 of 1..=16 since session 26).
        Canary::GroupReplayOldestCommit => 24,
        // Needs a leader cut off with proposals in flight (9 of seeds 1..=40, first at 8).
        Canary::RaftApplyUncommitted => 24,
        // Needs a broker fenced while its clients still reach it (5 of seeds 1..=40, first at 10).
        Canary::WritesWithoutLeadership => 40,
        // Needs a broker down while the churned topic is deleted, back for a later one placed
        // on it alike, and the run to end after that (7 of seeds 1..=40, first at 6).
        Canary::TopicIdIgnored => 40,
        // Needs a broker down while the churned topic is deleted, and the run to end before
        // the housekeeping would have mattered (11 of seeds 1..=40, first at 12, since peer
        // links reconnect when the peer goes, which re-rolled the schedules).
        Canary::StrayDirsKept => 24,
        // Needs a leader cut off from the other voters but not from an observer (16 of seeds
        // 1..=40, first at 9, since a new leader's epoch is written by the open's job, which
        // re-rolled the schedules).
        Canary::ObserverCountedInMajority => 16,
        // Needs a follower that cut what it fetched elected before it fetches again: the
        // role-targeted `follower-restart-leader-killed` (2 of seeds 1..=16, first at 7, until
        // session 31's followers fetched on while syncing, which re-rolled the schedules: now
        // 5 of seeds 1..=64, first at 5, and 10 of 33..=128).
        Canary::TruncateToHw => 48,
        // Needs an ISR below min.insync.replicas (3 of 3 in its runs since session 34) while
        // producers write, then the replicas that took the records lost before their sync:
        // 7 of seeds 1..=40, first at 8 (with min.insync.replicas 2 it needed the leader
        // alone in its ISR: 2 of 1..=40 once the session-34 activation record re-rolled them).
        Canary::AckUnderMinIsr => 24,
        // Needs the role fault `min-isr-lowered` to run whole in the first half of the run
        // (so that it is over soon after the faults end), records acknowledged under the
        // lowered value, past the fault points' power failures (3 of seeds 1..=40, first at 8,
        // since session 35 took the nemesis' kills out of its runs, as meant).
        Canary::ElrKeptOnMinIsrChange => 24,
        _ => SEEDS_PER_CANARY,
    }
}

#[test]
fn a_seed_replays_exactly_and_another_seed_differs() {
    let options = RunOptions::new(SIM_SECS);
    let first = run_seed(11, options);
    let again = run_seed(11, options);
    let other = run_seed(12, options);
    assert_eq!(first.kind, Kind::Pass, "{:?}", first.verdict);
    assert!(
        first.stats.contains("acked=") && !first.stats.contains("acked=0 "),
        "the workload ran: {}",
        first.stats
    );
    assert_eq!(
        (first.hash, &first.history),
        (again.hash, &again.history),
        "same seed, same history"
    );
    assert_ne!(first.hash, other.hash, "another seed, another history");
}

/// Seeds that once failed on a real bug, each run again: 10 (a leader moved away by a
/// reassignment completed while it restarted kept its divergent log: the moved-away sweep),
/// 566 (a follower's offline log came back only at the 30 s housekeeping tick, holding the
/// frozen high watermark of a partition with min.insync.replicas = its replication factor: the
/// offline-log retry timer; found by seeds 65..=1000 of session 29), 301 (a log whose open here
/// failed, reopened by that retry, outlived its topic's deletion; then a group member read a
/// late-assigned partition too slowly behind two idle ones' long polls: session 31), 292 (the
/// Raft leader answered every reply, duplicates included, with an append: a voter behind after
/// a partition drowned in duplicates and caught up too late), 424 (a voter reopened after its
/// disk lost power acknowledged entries it read back unsynced, lost them in the crash, and the
/// leader refused to go back below them: the load syncs what it read), 196 (a leader behind on
/// the metadata counted restarted followers' new processes for its high watermark while the
/// controller's ISR was the leader alone, then crashed and was elected again without the
/// acknowledged record), 1051 (a registration sent by a broker process that then died, delivered
/// after its restarted process had registered, displaced the live one, which stopped
/// heartbeating for good: a displaced broker registers again over a registration that is not
/// alive; session 32), 1595 (a consumer group loaded after a failover removed a member before
/// any heartbeat had read the topics: the new target, computed from no metadata, was empty, and
/// the last member left with nothing to drain; session 33), 187 (a replica of a deleted
/// `__consumer_offsets` whose removal had failed was taken as the new topic's of that name, and
/// its broker led the new topic on the old records; session 33), 191 (a throttled follower
/// backed off for its whole quota debt, 11 s, and stayed silent that long after the throttle
/// was lifted; session 33), 414 (the workload's own race: a throttle set that timed out during
/// the faults was applied after the lift, so the lift is repeated; session 33), 321 and 608
/// (a topic config change decided across a reassignment recorded the move as done, so the
/// moved replica's log was never deleted and followed the new leader as a replica it no longer
/// was, refused on every fetch; 321 failed on an earlier build, 608 takes the same race on
/// this one; session 34), 368 (a follower whose append failed on the disk never reopened its
/// log: a failed replica fetches nothing, and the retention tick that would have reopened it
/// flushed it first, which held the reopen off; session 34), 437 and 1316 (the role fault
/// `min-isr-lowered` still ran long after the faults ended, and the groups had no time left
/// to drain; session 34), 809 (a replica moved away while its broker was down kept its
/// directory for good: no reconciliation of the restarted broker held that log to delete it,
/// and start-up removed only deleted topics' directories; session 35), 934 (the workload's: a
/// pause's LeaveGroup of a crashed member's id went unrecorded, so the checker flagged the
/// generations of a group retention had rightly deleted; session 35), 854 (the nemesis's: a
/// link cut three times in a row held a message past madsim's doubling TCP retry, 10 s after
/// the healing; session 35), 941 (a restarted broker's follower fetches carried its previous
/// process's broker epoch, which the metadata still had: its empty log was taken back into the
/// ISR and counted for an acknowledgement; session 36), 523 (a replica a reassignment removed
/// still fetched before its deletion, and the leader credited its log end to the node's
/// re-added replica; session 36), 1056 (the checker's: an unanswered reset set a floor though
/// it may never have been written; and a deposed coordinator answered "loading" instead of
/// NOT_COORDINATOR, holding its client 12 s; session 36), 902 (a bit flip turned the
/// leader-epoch checkpoint's "0 0" into "8 0", which still parsed: the follower asked its
/// leader for epoch 8 at every fetch and never caught up; session 37). With transactions
/// (session 37): 156 (an ABORT marker written on a full disk without its aborted-index entry,
/// after the LSO had passed the transaction, and the failed log still served fetches), 14 and
/// 130 (the checker's: a bit flip in `__transaction_state` cut a transaction's acknowledged
/// record, which lets its records join the next transaction as on Kafka; 452 the same for a
/// transaction given up before the flip and aborted only by its producer's re-init), 403 (the harness's:
/// the transactional final read waited for a hanging transaction of a lost producer id and
/// left the data topic's final read too little time). 490 (session 38, with transactions): a
/// transaction coordinator whose first write after a load failed at once (its partition's ISR
/// below min.insync.replicas) reloaded at once, over and over, and simulated time stood still.
#[test]
fn seeds_that_found_bugs_pass() {
    for seed in [
        10, 187, 191, 196, 292, 301, 321, 368, 414, 424, 437, 523, 566, 608, 809, 854, 902, 934,
        941, 1051, 1056, 1316, 1595,
    ] {
        let run = run_seed(seed, RunOptions::new(SIM_SECS));
        assert_eq!(run.kind, Kind::Pass, "seed {seed}: {:?}", run.verdict);
    }
    // With SASL: 31 (a bit flip at rest in an offset-index entry before the last passed the
    // open's sanity check, and a group member's fetch through it answered KAFKA_STORAGE_ERROR
    // until the run ended: reads check the entry they start from; the first --sasl sweep); 13
    // (a controller-only node was given the Kafka listener's SASL keys, which the config
    // refuses for a listener the node lacks: the run crashed at start; CI's --sasl seeds).
    for seed in [13, 31] {
        let options = RunOptions {
            sasl: true,
            ..RunOptions::new(SIM_SECS)
        };
        let run = run_seed(seed, options);
        assert_eq!(
            run.kind,
            Kind::Pass,
            "seed {seed} (sasl): {:?}",
            run.verdict
        );
    }
    for seed in [14, 130, 156, 403, 452, 490] {
        let options = RunOptions {
            transactions: true,
            ..RunOptions::new(SIM_SECS)
        };
        let run = run_seed(seed, options);
        assert_eq!(
            run.kind,
            Kind::Pass,
            "seed {seed} (transactions): {:?}",
            run.verdict
        );
    }
}

/// The group members (issue 12) join, get partitions, poll, commit and drain to the final
/// commit in a clean run, where the resetter moves the commits back once (acknowledged), and
/// the group canaries are reported as exactly the violations they plant: an acknowledged
/// commit lost; two owners of a partition in one generation; a commit going back.
#[test]
fn the_group_workload_commits_and_its_canary_loses_an_acknowledged_commit() {
    // Seed 12 since session 26 (replicated partitions re-rolled the quorum runs' schedules;
    // seed 3 until then).
    let clean = run_seed(12, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    for event in [
        "GroupAssigned {",
        "Committed {",
        "OffsetFetched {",
        "GroupPolled {",
        "GroupFinal {",
        "GroupReset {",
        "acknowledged: true",
    ] {
        assert!(clean.history.contains(event), "no {event} in seed 12");
    }
    // Seed 7 since session 37 (the transaction coordinator's actor re-rolled the schedules; 6
    // since session 31, 2 since session 28, 1 until then).
    let owners = run_seed(
        7,
        RunOptions {
            canary: Some(Canary::GroupTwoOwnersOneGeneration),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(owners.kind, Kind::Safety);
    assert!(
        (owners.verdict.safety.iter()).all(|v| v.starts_with("two owners in one generation")),
        "{:?}",
        owners.verdict.safety
    );
    // Commits replayed out of order at a load: a committed offset goes back with no reset.
    // Seed 5 since session 37 (the transaction coordinator re-rolled the schedules; 4 since
    // session 35, 1 since session 29, 7 in session 27, 9 in session 26, 2 before).
    let replayed = run_seed(
        5,
        RunOptions {
            canary: Some(Canary::GroupReplayOldestCommit),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(replayed.kind, Kind::Safety);
    assert!(
        (replayed.verdict.safety.iter()).all(|v| {
            v.starts_with("lost acknowledged commit") || v.starts_with("group commit went back")
        }),
        "{:?}",
        replayed.verdict.safety
    );
    // Which seed catches it moves whenever the schedules are re-rolled (last: the broker
    // lifecycle joined every node; then topics moved into the metadata log, and the clients
    // route by Metadata; then partitions were placed over every broker; then partition
    // directories recorded their topic id, a persist job more at each open; then a directory
    // removal became a rename and a removal, and start-up looks for stray directories; then
    // (session 27, seed 9 since) a directory's label moved into its first flush job).
    let canary = run_seed(
        9,
        RunOptions {
            canary: Some(Canary::AckCommitBeforeAppend),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    // A member that fetches less than it knew commits again from there: the loss also shows
    // as a commit going back.
    let lost = &canary.verdict.safety;
    assert!(
        lost[0].starts_with("lost acknowledged commit")
            && (lost.iter()).all(|v| {
                v.starts_with("lost acknowledged commit") || v.starts_with("group commit went back")
            }),
        "{lost:?}"
    );
}

/// A consumer-protocol group (KIP-848): its members join and heartbeat, are handed
/// partitions by the coordinator, commit with their epochs, are reset once and drain in a
/// clean run (seed 16 draws the protocol; the canary runs seed 5), and the protocol's canary
/// is reported as exactly what it plants: a partition handed to a member while another still
/// holds it.
#[test]
fn the_consumer_protocol_group_hands_partitions_over_and_its_canary_shares_one() {
    let clean = run_seed(16, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    assert!(clean.history.contains("group_protocol: Consumer"));
    for event in [
        "GroupHeartbeatAnswered {",
        "GroupOwns {",
        "Committed {",
        "GroupPolled {",
        "GroupFinal {",
        "acknowledged: true",
    ] {
        assert!(clean.history.contains(event), "no {event} in seed 16");
    }
    assert!(
        !clean.history.contains("GroupAssigned {"),
        "no classic sync"
    );
    // Seed 5 since session 27 (4 in session 26, 9 before).
    let canary = run_seed(
        5,
        RunOptions {
            canary: Some(Canary::ConsumerAssignUnreleased),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    // Two owners at once; the one that should have let go may also commit behind the other.
    assert!(
        (canary.verdict.safety.iter()).any(|v| v.starts_with("two owners at once"))
            && (canary.verdict.safety.iter())
                .all(|v| v.starts_with("two owners at once")
                    || v.starts_with("group commit went back")),
        "{:?}",
        canary.verdict.safety
    );
}

/// The compacted topic (issue 12's log compaction): its reader's passes see the cleaner's
/// work in a clean run, where a crash lands in the middle of a clean's swap, and the
/// compaction canary is reported as exactly what it plants: a key's latest value removed.
#[test]
fn the_compacted_topic_is_cleaned_under_crashes_and_its_canary_loses_a_latest_value() {
    // Seed 3 since session 42 (the client quota workload re-rolled the schedules; 4 since
    // session 31, 9 since session 26, 6 in session 25, 4 in session 24).
    let clean = run_seed(3, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    for event in [
        "CompactSent {",
        "CompactPass {",
        "last: true",
        "name: \"crash-during-clean-swap\"",
    ] {
        assert!(clean.history.contains(event), "no {event} in seed 3");
    }
    // The cleaner ran: the last pass reads fewer records than were written.
    let written = clean.history.matches("CompactSent {").count();
    let last_pass = (clean.history.lines())
        .find(|line| line.contains("CompactPass {") && line.contains("last: true"))
        .expect("a last pass");
    let read = last_pass.matches("), (").count() + 1;
    assert!(
        read * 4 < written,
        "{read} records read of {written} written"
    );
    // Seed 1 since session 34 (the cluster-wide min.insync.replicas written at activation
    // re-rolled the schedules; 5 since session 31, 1 since session 28, 4 since session 25, 3
    // in session 24, 1 until then).
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::CleanKeepsOldestValue),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    assert!(
        (canary.verdict.safety.iter()).all(|v| v.starts_with("compacted latest record lost")),
        "{:?}",
        canary.verdict.safety
    );
}

/// Transactions (issue 15), in runs that ask for them (`RunOptions::transactions`):
/// transactional producers commit and abort, take new epochs after failures, read_committed
/// readers poll, and the final read_committed read finds every transaction whole — a clean run
/// passes with all of that in its history; and the canary `lso-inclusive` (the LSO one past
/// the first open offset, Redpanda #3036) is reported as exactly what it leaks: reads of
/// transactions not committed (yet, or ever). The canary turns transactions on by itself, and
/// `every_canary_is_caught_and_the_clean_build_passes_the_same_seeds` gives it the common
/// budget. Seed 1 since session 37 (the canary is caught on each of seeds 1–16).
#[test]
fn transactions_are_read_committed_and_the_inclusive_lso_canary_leaks_open_ones() {
    let clean = run_seed(
        1,
        RunOptions {
            transactions: true,
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    for event in [
        "TxnIdentity {",
        "TxnBegin {",
        "TxnSent {",
        "commit: true, outcome: Ok,",
        "commit: false, outcome: Ok,",
        "TxnPoll {",
        "TxnFinalRead {",
        "CtpIdentity {",
        "CtpRound {",
        "CtpFinalOffsets {",
        "CtpFinalRead {",
    ] {
        assert!(clean.history.contains(event), "no {event} in seed 1");
    }
    // Without the option nothing transactional runs (the seeds keep their schedules).
    let plain = run_seed(1, RunOptions::new(SIM_SECS));
    assert!(!plain.history.contains("TxnBegin {"));
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::LsoInclusive),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    assert!(
        (canary.verdict.safety.iter())
            .all(|v| v.starts_with("uncommitted read") || v.starts_with("aborted read (G1a)")),
        "{:?}",
        canary.verdict.safety
    );
    // A transaction completed with one partition's marker never sent: that partition's
    // transaction stays open (and, when the next COMMIT there closes it, its records surface
    // in another transaction) while the committed one is missing there. Seed 3 since session 37
    // (caught on each of seeds 1-8).
    let skipped = run_seed(
        3,
        RunOptions {
            canary: Some(Canary::MarkerSkipsPartition),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(skipped.kind, Kind::Safety);
    assert!(
        (skipped.verdict.safety.iter())
            .all(|v| v.starts_with("partial transaction") || v.starts_with("aborted read (G1a)")),
        "{:?}",
        skipped.verdict.safety
    );
    assert!(
        (skipped.verdict.liveness.iter()).any(|v| v.contains("a transaction left open")),
        "{:?}",
        skipped.verdict.liveness
    );
    // A broker that fences a zombie by neither its epoch nor KIP-890's verification: the
    // zombie's write (to a transaction given up, under the old epoch) joins the producer's
    // next transaction and is read committed (by the readers, and by a consume-transform-
    // produce worker, which transforms it). Seed 2 since the workers re-rolled the schedules
    // (3 of seeds 1-16: 2, 5, 6).
    let zombie = run_seed(
        2,
        RunOptions {
            canary: Some(Canary::FencedEpochAccepted),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(zombie.kind, Kind::Safety);
    assert!(
        (zombie.verdict.safety.iter()).all(|v| v.starts_with("aborted read (G1a)")),
        "{:?}",
        zombie.verdict.safety
    );
    // A TxnOffsetCommit's offsets committed at once, not at the transaction's COMMIT marker:
    // a consume-transform-produce round the worker aborts keeps its offsets, and its input is
    // never transformed. Seed 1 (caught on each of seeds 1-8).
    let early = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::TxnOffsetsAppliedEarly),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(early.kind, Kind::Safety);
    assert!(
        (early.verdict.safety.iter())
            .all(|v| v.starts_with("consume-transform-produce input skipped")),
        "{:?}",
        early.verdict.safety
    );
}

/// SASL (issue 16), in runs that ask for it (`RunOptions::sasl`): every workload connection
/// logs in (PLAIN, and both SCRAMs once the workload's SCRAM user is created early in the run
/// through PLAIN), wrong logins and requests without one are refused, logins left half done are
/// harmless, the runs pass and a seed replays exactly; without the option nothing logs in. The
/// canary `sasl-any-plain-password` (PLAIN takes any password of a known user; it turns SASL
/// on by itself) is reported as exactly what it lets in: wrong passwords. Seed 1 (caught on 14
/// of seeds 1-16, and 32 of 1-40 since the authorizer and the intruder joined SASL runs: every
/// run tries the administrator's wrong password once, and its connections some more; `every_canary_is_caught_and_the_clean_build_passes_the_same_seeds` gives it the
/// common budget).
#[test]
fn sasl_logins_refuse_wrong_passwords_and_the_any_password_canary_lets_them_in() {
    let options = RunOptions {
        sasl: true,
        ..RunOptions::new(SIM_SECS)
    };
    let first = run_seed(1, options);
    let again = run_seed(1, options);
    assert_eq!(first.kind, Kind::Pass, "{:?}", first.verdict);
    assert_eq!(
        (first.hash, &first.history),
        (again.hash, &again.history),
        "same seed, same history"
    );
    for event in [
        "sasl=true",
        "ScramUserCreated { broker: 1, user: \"sim\", mechanism: \"SCRAM-SHA-256\" }",
        "ScramUserCreated { broker: 1, user: \"sim\", mechanism: \"SCRAM-SHA-512\" }",
        "mechanism: \"PLAIN\", user: \"admin\", credentials: Right,",
        "mechanism: \"PLAIN\", user: \"admin\", credentials: WrongPassword,",
        "mechanism: \"PLAIN\", user: \"sim\", credentials: Right,",
        "mechanism: \"SCRAM-SHA-256\", user: \"sim\", credentials: Right,",
        "mechanism: \"SCRAM-SHA-512\", user: \"sim\", credentials: Right,",
        "outcome: Refused { code: 58 } }",
    ] {
        assert!(first.history.contains(event), "no {event} in seed 1");
    }
    assert!(
        first.stats.contains(" logins=") && !first.stats.contains(" wrong=0 "),
        "{}",
        first.stats
    );
    let mut histories = first.history.clone();
    for seed in 2..=3 {
        let run = run_seed(seed, options);
        assert_eq!(
            run.kind,
            Kind::Pass,
            "seed {seed} (sasl): {:?}",
            run.verdict
        );
        histories.push_str(&run.history);
    }
    for probe in ["credentials: Unauthenticated,", "the client left after"] {
        assert!(histories.contains(probe), "no {probe} in seeds 1-3");
    }
    // Without the option no connection logs in (the seeds keep their histories).
    let plain = run_seed(1, RunOptions::new(SIM_SECS));
    assert!(!plain.history.contains("Login {") && !plain.stats.contains("logins="));
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::SaslAnyPlainPassword),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    assert!(
        (canary.verdict.safety.iter()).all(|v| v.starts_with("authentication bypass: PLAIN login")
            && v.contains("with a wrong password accepted")),
        "{:?}",
        canary.verdict.safety
    );
}

/// ACLs (issue 16), in the same runs (`RunOptions::sasl`): the brokers' authorizer is on with
/// no ACL and the workload's users as super users, so the workload runs as before, while the
/// intruder (`eve`, logged in over PLAIN, no ACL) is refused every Produce and Fetch of the
/// data topic (TOPIC_AUTHORIZATION_FAILED), every JoinGroup of the workload's group
/// (GROUP_AUTHORIZATION_FAILED) and every idempotent producer id (CLUSTER_AUTHORIZATION_FAILED). The canary `acls-ignored` (every check allows; it turns SASL on
/// by itself) is reported as exactly what it lets through: her requests answered past the
/// check, and her records read. Seed 1 (caught on each of seeds 1-40;
/// `every_canary_is_caught_and_the_clean_build_passes_the_same_seeds` gives it the common
/// budget).
#[test]
fn acls_refuse_the_intruder_everything_and_the_acls_ignored_canary_lets_her_in() {
    let options = RunOptions {
        sasl: true,
        ..RunOptions::new(SIM_SECS)
    };
    let clean = run_seed(2, options);
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    for event in [
        "mechanism: \"PLAIN\", user: \"eve\", credentials: Right,",
        "api: \"Produce\", resource: \"sim-0\",",
        "api: \"Fetch\", resource: \"sim-0\",",
        "api: \"JoinGroup\", resource: \"sim-group\",",
        "api: \"InitProducerId\", resource: \"kafka-cluster\",",
        "error_code: Some(29), records_returned: 0 }",
        "error_code: Some(30), records_returned: 0 }",
        "error_code: Some(31), records_returned: 0 }",
    ] {
        assert!(clean.history.contains(event), "no {event} in seed 2");
    }
    assert!(
        clean.stats.contains(" intrusions=") && !clean.stats.contains(" intrusions=0"),
        "{}",
        clean.stats
    );
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::AclsIgnored),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    let safety = &canary.verdict.safety;
    assert!(
        safety.iter().any(|v| v.contains("Produce of sim-"))
            && safety.iter().any(|v| v.contains("Fetch of sim-"))
            && safety.iter().any(|v| v.contains("JoinGroup of sim-group"))
            && safety
                .iter()
                .any(|v| v.contains("InitProducerId of kafka-cluster")),
        "{safety:?}"
    );
    assert!(
        safety
            .iter()
            .all(|v| v.starts_with("authorization bypass")
                || v.starts_with("intruder's record read")),
        "{safety:?}"
    );
}

/// How the checker reports a canary: a safety violation, except for the leader that ignores
/// heartbeats, whose brokers are not back in service after healing, the skipped topics feed,
/// the kept stray directories and the throttle not released (replicas that do not catch up)
/// (liveness: something does not happen in time).
fn caught_as(canary: Canary) -> Kind {
    match canary {
        Canary::HeartbeatsIgnored
        | Canary::TopicsFeedSkipped
        | Canary::StrayDirsKept
        | Canary::ThrottleNotReleased => Kind::Liveness,
        _ => Kind::Safety,
    }
}

/// Client quotas (issue 16), in half the runs (`workload::quota`): a `producer_byte_rate` set
/// through AlterClientQuotas and a producer with that client id that ignores
/// `throttle_time_ms`, five requests in flight. In a clean run (seed 14 draws the quota) the
/// brokers throttle it (answers carry a throttle) and the claim "quota holds" passes; the
/// canary `quota-channel-unmuted` (the throttle reported, the connection never muted) is
/// reported as the quota exceeded (caught on each of seeds 1-16).
#[test]
fn a_client_quota_holds_a_producer_that_ignores_its_throttle_and_the_unmuted_canary_does_not() {
    let clean = run_seed(14, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    assert!(
        clean.history.contains("QuotaSet {") && clean.history.contains("outcome: \"NONE\" }"),
        "no acknowledged quota in seed 14"
    );
    assert!(
        clean.history.lines().any(|l| l.contains("QuotaProduce {")
            && !l.contains("answer: Some((0, 0))")
            && l.contains("answer: Some((0, ")),
        "no throttled answer in seed 14"
    );
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::QuotaChannelUnmuted),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    let safety = &canary.verdict.safety;
    assert!(
        safety
            .iter()
            .all(|v| v.starts_with("client quota exceeded")),
        "{safety:?}"
    );
}

/// After healing the quota workload asks every broker DescribeClientQuotas for its client id
/// until each answered 8 s or more after healing and the acknowledgement: in a clean run (seed
/// 14 draws the quota) every broker describes the quota ("quota propagates" passes); the
/// canary `quota-not-published` (the voters apply the quota but never publish it to their
/// gateways; its runs have three voters and the quota workload) is reported as brokers
/// describing nothing (caught on each of seeds 1-16).
#[test]
fn every_broker_describes_the_client_quota_after_healing_and_the_unpublished_canary_does_not() {
    let clean = run_seed(14, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    let described: Vec<&str> = (clean.history.lines())
        .filter(|l| l.contains("QuotaDescribed {"))
        .collect();
    assert!(
        described
            .iter()
            .any(|l| l.contains("Ok([(\"producer_byte_rate\", ")),
        "no broker described the quota in seed 14: {described:?}"
    );
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::QuotaNotPublished),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    let safety = &canary.verdict.safety;
    assert!(
        !safety.is_empty()
            && safety
                .iter()
                .all(|v| v.starts_with("client quota not propagated")),
        "{safety:?}"
    );
}

#[test]
fn every_canary_is_caught_and_the_clean_build_passes_the_same_seeds() {
    for canary in Canary::ALL {
        let seeds = seeds_to_catch(canary);
        let caught = (1..=seeds).find(|&seed| {
            let result = run_seed(
                seed,
                RunOptions {
                    canary: Some(canary),
                    ..RunOptions::new(SIM_SECS)
                },
            );
            // The leader ignoring heartbeats shows as brokers fenced after healing, the skipped
            // topics feed as brokers listing different topics, the kept strays as directories of
            // deleted topics on a broker's disk, not as just any liveness failure.
            let liveness = &result.verdict.liveness;
            result.kind == caught_as(canary)
                && (canary != Canary::HeartbeatsIgnored
                    || liveness.iter().any(|l| l.contains("fenced")))
                && (canary != Canary::TopicsFeedSkipped
                    || liveness
                        .iter()
                        .any(|l| l.contains("disagree on the topics")))
                && (canary != Canary::StrayDirsKept
                    || liveness
                        .iter()
                        .any(|l| l.contains("directories of deleted topics")))
                && (canary != Canary::ThrottleNotReleased
                    || liveness.iter().any(|l| l.contains("still end apart")))
        });
        assert!(
            caught.is_some(),
            "canary {} was not caught in {seeds} seeds",
            canary.name()
        );
        eprintln!(
            "canary {} caught at seed {}",
            canary.name(),
            caught.unwrap()
        );
    }
    for seed in 1..=3 {
        let result = run_seed(seed, RunOptions::new(SIM_SECS));
        assert_eq!(
            result.kind,
            Kind::Pass,
            "seed {seed} without a canary: {:?}",
            result.verdict
        );
    }
}

/// The "the summary shows every injection point fired": over a handful of seeds each
/// named fault point fires at least once (today every point but two fires in 3 or more of
/// seeds 1..=8; `crash-after-commit-answer` and `coordinator-failover` need a seed with group
/// members, `crash-during-clean-swap` one with the compacted topic and a clean that changes a
/// segment: it fires first in seed 16 since producer ids came from the quorum), the runs still
/// pass, and with the points off none is even reached.
#[test]
fn every_fault_point_fires_in_a_handful_of_seeds_and_none_when_off() {
    const SEEDS: u64 = 16;
    let mut fired = vec![0u64; FaultPoint::ALL.len()];
    for seed in 1..=SEEDS {
        let result = run_seed(seed, RunOptions::new(SIM_SECS));
        assert_eq!(result.kind, Kind::Pass, "seed {seed}: {:?}", result.verdict);
        for (point, count) in &result.points {
            assert!(count.fired <= count.reached, "{point:?}: {count:?}");
            fired[point.index()] += count.fired;
        }
        let recorded = result.history.matches("FaultPoint {").count() as u64;
        let counted: u64 = result.points.iter().map(|(_, c)| c.fired).sum();
        assert_eq!(
            recorded, counted,
            "seed {seed}: every firing is in the history"
        );
    }
    for point in FaultPoint::ALL {
        assert!(
            fired[point.index()] > 0,
            "fault point {} never fired in seeds 1..={SEEDS}",
            point.name()
        );
    }
    let off = run_seed(
        1,
        RunOptions {
            fault_points: false,
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(off.kind, Kind::Pass, "{:?}", off.verdict);
    assert!(off
        .points
        .iter()
        .all(|(_, count)| count.reached == 0 && count.fired == 0));
    assert!(!off.history.contains("FaultPoint {"));
}

/// The controller quorum (issue 13): in a run of three voters (seed 12 since session 36, whose
/// coordinator answers moved the schedules; 5 since session 34; 2 before) the observer sees one
/// leader per epoch and one cluster id while kills and voter partitions move the leadership;
/// its canary (every voter a majority by itself) is reported as quorum violations only (two
/// leaders of an epoch and two cluster ids first; leaders without others' commits follow; and
/// the producer ids each of the quorums hands out).
#[test]
fn the_controller_quorum_keeps_one_leader_per_epoch_and_its_canary_elects_several() {
    let clean = run_seed(12, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    assert!(clean.history.contains("voters: 3"));
    let epochs: std::collections::BTreeSet<&str> = (clean.history.lines())
        .filter(|line| line.contains("QuorumSeen {"))
        .filter_map(|line| line.split("epoch: ").nth(1)?.split(',').next())
        .collect();
    assert!(epochs.len() >= 2, "the leadership moved: {epochs:?}");
    assert!(clean.history.contains("kind: \"voter-partition\""));
    assert!(clean.history.contains("kind: \"voter-one-way\""));
    // Every broker listed the topics after healing (`checker::quorum::check_topics`).
    assert!(clean.history.contains("TopicsSeen { asked: 3"));
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::QuorumSelfMajority),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    assert!(
        (canary.verdict.safety.iter()).all(|v| v.starts_with("two quorum leaders in one epoch")
            || v.starts_with("two cluster ids")
            || v.starts_with("quorum leader lacks committed entries")
            || v.starts_with("quorum high watermark went back")
            // Two quorums hand out producer-id blocks of their own.
            || v.starts_with("producer id given twice")
            // Their brokers apply different metadata, and elect leaders of their own.
            || v.starts_with("two nodes applied different metadata at one index")
            || v.starts_with("two partition leaders in one leader epoch")
            // A broker of one quorum appends where another quorum's metadata names no leader.
            || v.starts_with("a broker took writes for a partition it did not lead")),
        "{:?}",
        canary.verdict.safety
    );
}

/// Producer ids come from the quorum (issue 13): in a run of three voters (seed 2) the prober
/// gets fresh ids from every broker at once, round after round, and no id is given twice; the
/// canary (a leader that hands out a block still in flight again) gives two brokers one id.
#[test]
fn producer_ids_from_the_quorum_are_never_given_twice_and_the_canary_reuses_one() {
    let clean = run_seed(2, RunOptions::new(SIM_SECS));
    assert_eq!(clean.kind, Kind::Pass, "{:?}", clean.verdict);
    for prober in [
        "producer: 1000001,",
        "producer: 1000002,",
        "producer: 1000003,",
    ] {
        assert!(
            clean.history.contains(prober),
            "no id from every broker: {prober}"
        );
    }
    let canary = run_seed(
        1,
        RunOptions {
            canary: Some(Canary::ProducerIdsReused),
            ..RunOptions::new(SIM_SECS)
        },
    );
    assert_eq!(canary.kind, Kind::Safety);
    assert!(
        (canary.verdict.safety.iter()).all(|v| v.starts_with("producer id given twice")),
        "{:?}",
        canary.verdict.safety
    );
}
