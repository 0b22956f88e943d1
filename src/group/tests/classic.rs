//! Scripted classic-protocol sequences on one group, each asserting Kafka's answer.

use crate::messages::groups::{HeartbeatArgs, LeaveGroupArgs};
use crate::types::ErrorCode;

use super::super::offsets::CommitIdentity;
use super::super::output::{AfterWrite, GroupOut, GroupTimer, OffsetsRecord};
use super::super::records::GroupValue;
use super::super::state::{ClassicGroup, GroupState};
use super::{at, join_args, sync_args, Harness};

/// Two dynamic members joined in one initial rebalance: (leader id, follower id).
fn joined_pair(h: &mut Harness) -> (String, String) {
    let a = h.join_v3(&["range"]);
    let b = h.join_v3(&["range"]);
    // b arrived during the initial delay, which therefore runs once more.
    h.advance_to(1_000);
    assert!(h.unanswered(a) && h.unanswered(b));
    h.advance_to(2_000);
    let (ra, rb) = (h.joined(a), h.joined(b));
    assert_eq!((ra.generation, rb.generation), (1, 1));
    assert_eq!(ra.leader, ra.member_id, "the first member leads");
    (ra.member_id, rb.member_id)
}

/// A Stable pair with assignments "A" (leader) and "B".
fn stable_pair(h: &mut Harness) -> (String, String) {
    let (a, b) = joined_pair(h);
    let wb = h.sync(sync_args(&b, 1));
    let mut leader_sync = sync_args(&a, 1);
    leader_sync.assignments = vec![(a.clone(), b"A".to_vec()), (b.clone(), b"B".to_vec())];
    let wa = h.sync(leader_sync);
    h.complete_write(Ok(()));
    assert_eq!(h.synced(wa).assignment, b"A");
    assert_eq!(h.synced(wb).assignment, b"B");
    assert_eq!(h.g.state(), GroupState::Stable);
    (a, b)
}

fn heartbeat(h: &mut Harness, member: &str, generation: i32) -> ErrorCode {
    let req = HeartbeatArgs {
        group: "g".into(),
        generation,
        member_id: member.into(),
        instance_id: None,
    };
    h.g.heartbeat(h.now, &req)
}

fn leave(h: &mut Harness, members: &[&str]) -> Vec<ErrorCode> {
    let req = LeaveGroupArgs {
        group: "g".into(),
        members: members.iter().map(|m| (m.to_string(), None)).collect(),
    };
    let mut out = Vec::new();
    let result = h.g.leave(h.now, req, &mut out);
    h.apply(out);
    assert_eq!(result.error_code, ErrorCode::NONE);
    result.members.iter().map(|m| m.error_code).collect()
}

fn group_record(records: &[OffsetsRecord]) -> GroupValue {
    match records {
        [OffsetsRecord::Group {
            group,
            value: Some(v),
        }] if group == "g" => v.clone(),
        other => panic!("not one group record: {other:?}"),
    }
}

#[test]
fn a_new_group_is_empty_at_generation_0_under_its_own_id() {
    let g: ClassicGroup<u32> = ClassicGroup::new("orders".into(), at(0));
    assert_eq!(
        (g.id(), g.state(), g.generation()),
        ("orders", GroupState::Empty, 0)
    );
}

#[test]
fn empty_id_joins_past_the_pending_bound_are_refused_and_a_known_id_still_joins() {
    use crate::limits::GROUP_PENDING_MEMBERS_MAX;
    let mut h = Harness::kafka();
    let empty = || {
        let mut req = join_args("", &["range"]);
        req.requires_known_member_id = true;
        req
    };
    let mut first_id = String::new();
    for i in 0..GROUP_PENDING_MEMBERS_MAX {
        let w = h.join(empty());
        let answer = h.joined(w);
        assert_eq!(answer.error_code, ErrorCode::MEMBER_ID_REQUIRED, "join {i}");
        if i == 0 {
            first_id = answer.member_id;
        }
    }
    let w = h.join(empty());
    assert_eq!(h.joined(w).error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE);
    // A pending member that comes back with its id is not held up by the bound.
    let w = h.join(join_args(&first_id, &["range"]));
    assert!(h.unanswered(w), "parked for the initial delay");
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_v4_join_without_an_id_gets_member_id_required_and_joins_with_it() {
    let mut h = Harness::kafka();
    let mut req = join_args("", &["range"]);
    req.requires_known_member_id = true;
    let w = h.join(req);
    let first = h.joined(w);
    assert_eq!(first.error_code, ErrorCode::MEMBER_ID_REQUIRED);
    assert!(first.member_id.starts_with("c-"), "{}", first.member_id);
    assert_eq!(
        first.protocol_name.as_deref(),
        Some(""),
        "v0-6 cannot encode null"
    );
    assert_eq!(
        h.g.state(),
        GroupState::Empty,
        "a pending member is no member yet"
    );
    assert_eq!(
        h.timers.get(&GroupTimer::Session(first.member_id.clone())),
        Some(&10_000)
    );

    let w = h.join(join_args(&first.member_id, &["range"]));
    assert!(h.unanswered(w), "parked for the initial delay");
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert_eq!(h.timers.get(&GroupTimer::Rebalance), Some(&1_000));
    h.advance_to(1_000);
    let joined = h.joined(w);
    assert_eq!(joined.error_code, ErrorCode::NONE);
    assert_eq!(
        (joined.generation, joined.leader.as_str()),
        (1, first.member_id.as_str())
    );
    assert_eq!(joined.members.len(), 1);
    assert_eq!(joined.members[0].metadata, b"range");
    assert_eq!(h.g.state(), GroupState::CompletingRebalance);
    assert_eq!(
        h.timers.get(&GroupTimer::Sync),
        Some(&21_000),
        "rebalance timeout"
    );
}

#[test]
fn a_pending_member_that_never_returns_expires_without_a_trace() {
    let mut h = Harness::kafka();
    let mut req = join_args("", &["range"]);
    req.requires_known_member_id = true;
    let w = h.join(req);
    let id = h.joined(w).member_id;
    h.advance_to(10_000);
    assert!(h.timers.is_empty());
    let w = h.join(join_args(&id, &["range"]));
    assert_eq!(h.joined(w).error_code, ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn the_initial_delay_is_extended_while_members_arrive_up_to_the_rebalance_timeout() {
    let mut h = Harness::new(super::super::settings::GroupSettings {
        initial_rebalance_delay_ms: 3_000,
        ..Default::default()
    });
    let mut req = join_args("", &["range"]);
    req.rebalance_timeout_ms = 5_000;
    let a = h.join(req.clone());
    assert_eq!(h.timers.get(&GroupTimer::Rebalance), Some(&3_000));
    h.now = at(1_000);
    let b = h.join(req.clone());
    h.advance_to(3_000);
    assert!(
        h.unanswered(a) && h.unanswered(b),
        "a member arrived: wait again"
    );
    assert_eq!(
        h.timers.get(&GroupTimer::Rebalance),
        Some(&5_000),
        "at most the 2 s left of the rebalance timeout"
    );
    h.now = at(4_000);
    let c = h.join(req);
    h.advance_to(5_000);
    for w in [a, b, c] {
        assert_eq!(h.joined(w).generation, 1, "timeout used up: complete");
    }
    assert_eq!(h.g.members().len(), 3);
}

#[test]
fn the_initial_delay_with_no_timeout_left_completes_the_join_in_the_firing_that_ends_it() {
    let mut h = Harness::new(super::super::settings::GroupSettings {
        initial_rebalance_delay_ms: 3_000,
        ..Default::default()
    });
    let mut req = join_args("", &["range"]);
    req.rebalance_timeout_ms = 5_000;
    let a = h.join(req.clone());
    h.now = at(1_000);
    let b = h.join(req.clone());
    h.advance_to(3_000);
    h.now = at(4_000);
    let c = h.join(req);
    // A member arrived, but the rebalance timeout is used up: no zero-length extension.
    let mut out = Vec::new();
    h.g.timer(at(5_000), GroupTimer::Rebalance, &mut out);
    h.apply(out);
    for w in [a, b, c] {
        assert_eq!(h.joined(w).generation, 1);
    }
}

#[test]
fn a_rebalance_timer_firing_early_only_rearms_and_firing_late_completes_the_join() {
    let mut h = Harness::kafka();
    let (a, _b) = stable_pair(&mut h);
    let w = h.join(join_args(&a, &["range"]));
    let deadline = h.timers[&GroupTimer::Rebalance];
    let mut out = Vec::new();
    h.g.timer(at(deadline - 1), GroupTimer::Rebalance, &mut out);
    assert!(
        matches!(
            out.as_slice(),
            [GroupOut::Wake { timer: GroupTimer::Rebalance, at_mono_ms }] if *at_mono_ms == deadline
        ),
        "{out:?}"
    );
    assert!(h.unanswered(w));
    let mut out = Vec::new();
    h.g.timer(at(deadline + 500), GroupTimer::Rebalance, &mut out);
    h.apply(out);
    let joined = h.joined(w);
    assert_eq!((joined.generation, joined.members.len()), (2, 1));
}

#[test]
fn the_first_member_to_join_leads_and_keeps_the_lead_when_it_rejoins_whatever_its_id() {
    let mut h = Harness::kafka();
    let mut first = join_args("", &["range"]);
    first.client_id = "z".into();
    let mut second = join_args("", &["range"]);
    second.client_id = "a".into();
    let (wa, wb) = (h.join(first), h.join(second));
    h.advance_to(2_000);
    let (ra, rb) = (h.joined(wa), h.joined(wb));
    assert!(
        ra.member_id > rb.member_id,
        "the first member's id sorts last"
    );
    assert_eq!(
        (ra.leader.as_str(), rb.leader.as_str()),
        (ra.member_id.as_str(), ra.member_id.as_str())
    );
    // Both rejoin for a new generation: the leader stays.
    let wb = h.join(join_args(&rb.member_id, &["range", "roundrobin"]));
    let wa = h.join(join_args(&ra.member_id, &["range", "roundrobin"]));
    let (ra2, rb2) = (h.joined(wa), h.joined(wb));
    assert_eq!((ra2.generation, rb2.generation), (2, 2));
    assert_eq!(ra2.leader, ra.member_id);
}

#[test]
fn without_new_arrivals_the_initial_delay_completes_once() {
    let mut h = Harness::kafka();
    let a = h.join_v3(&["range"]);
    h.advance_to(999);
    assert!(h.unanswered(a));
    h.advance_to(1_000);
    assert_eq!(h.joined(a).generation, 1);
}

#[test]
fn session_timeouts_outside_the_brokers_bounds_are_refused() {
    let mut h = Harness::kafka();
    for timeout_ms in [5_999, 1_800_001] {
        let mut req = join_args("", &["range"]);
        req.session_timeout_ms = timeout_ms;
        let w = h.join(req);
        assert_eq!(h.joined(w).error_code, ErrorCode::INVALID_SESSION_TIMEOUT);
    }
    assert!(h.g.members().is_empty());
}

#[test]
fn session_timeouts_equal_to_the_brokers_bounds_are_accepted() {
    let mut h = Harness::kafka();
    let mut waiters = Vec::new();
    for timeout_ms in [6_000, 1_800_000] {
        let mut req = join_args("", &["range"]);
        req.session_timeout_ms = timeout_ms;
        waiters.push(h.join(req));
    }
    h.advance_to(2_000);
    for w in waiters {
        let joined = h.joined(w);
        assert_eq!((joined.error_code, joined.generation), (ErrorCode::NONE, 1));
    }
    assert_eq!(h.g.members().len(), 2);
}

#[test]
fn joins_whose_protocols_do_not_fit_the_group_are_inconsistent() {
    let mut h = Harness::kafka();
    let w = h.join(join_args("", &[]));
    assert_eq!(
        h.joined(w).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    h.join_v3(&["range"]);
    let mut other_type = join_args("", &["range"]);
    other_type.protocol_type = "connect".into();
    let w = h.join(other_type);
    assert_eq!(
        h.joined(w).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    let w = h.join_v3(&["roundrobin"]);
    assert_eq!(
        h.joined(w).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    assert_eq!(h.g.members().len(), 1);
}

#[test]
fn the_vote_picks_a_protocol_every_member_supports_ties_to_the_first_members_order() {
    let mut h = Harness::kafka();
    let a = h.join_v3(&["range", "roundrobin", "sticky"]);
    h.join_v3(&["sticky", "roundrobin"]);
    h.join_v3(&["roundrobin", "sticky"]);
    h.advance_to(2_000);
    let leader = h.joined(a);
    assert_eq!(leader.protocol_name.as_deref(), Some("roundrobin"));

    let mut h = Harness::kafka();
    let a = h.join_v3(&["range", "roundrobin"]);
    h.join_v3(&["roundrobin", "range"]);
    h.advance_to(2_000);
    assert_eq!(
        h.joined(a).protocol_name.as_deref(),
        Some("range"),
        "1:1 tie"
    );
}

#[test]
fn the_vote_picks_the_protocol_most_members_rank_first_over_one_earlier_in_byte_order() {
    let mut h = Harness::kafka();
    let a = h.join_v3(&["roundrobin", "sticky"]);
    h.join_v3(&["sticky", "roundrobin"]);
    h.join_v3(&["sticky", "roundrobin"]);
    h.advance_to(2_000);
    assert_eq!(h.joined(a).protocol_name.as_deref(), Some("sticky"), "2:1");
}

#[test]
fn only_the_leader_gets_the_members() {
    let mut h = Harness::kafka();
    let a = h.join_v3(&["range"]);
    let b = h.join_v3(&["range"]);
    h.advance_to(2_000);
    let (ra, rb) = (h.joined(a), h.joined(b));
    assert_eq!(ra.members.len(), 2);
    assert!(rb.members.is_empty());
    assert_eq!(rb.leader, ra.member_id);
}

#[test]
fn the_leaders_sync_is_written_and_answered_only_once_the_write_is_acknowledged() {
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wb = h.sync(sync_args(&b, 1));
    let mut leader_sync = sync_args(&a, 1);
    leader_sync.assignments = vec![
        (a.clone(), b"A".to_vec()),
        ("stranger".into(), b"X".to_vec()),
    ];
    let wa = h.sync(leader_sync);
    assert!(h.unanswered(wa) && h.unanswered(wb));
    assert_eq!(h.g.state(), GroupState::CompletingRebalance);
    let (records, then) = h.writes[0].clone();
    assert_eq!(then, AfterWrite::Assignment { generation: 1 });
    let record = group_record(&records);
    assert_eq!(record.generation, 1);
    assert_eq!(record.leader.as_deref(), Some(a.as_str()));
    let assigned: Vec<(&str, &[u8])> = record
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), m.assignment.as_slice()))
        .collect();
    assert_eq!(
        assigned,
        vec![(a.as_str(), &b"A"[..]), (b.as_str(), &b""[..])]
    );
    h.complete_write(Ok(()));
    assert_eq!(h.g.state(), GroupState::Stable);
    assert_eq!(h.synced(wa).assignment, b"A");
    let follower = h.synced(wb);
    assert_eq!(
        (follower.error_code, follower.assignment.len()),
        (ErrorCode::NONE, 0)
    );
    assert_eq!(follower.protocol_name.as_deref(), Some("range"));
    assert!(!h.timers.contains_key(&GroupTimer::Sync), "everyone synced");
}

#[test]
fn a_failed_assignment_write_answers_the_parked_syncs_with_the_mapped_code_and_rebalances() {
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wb = h.sync(sync_args(&b, 1));
    let wa = h.sync(sync_args(&a, 1));
    h.complete_write(Err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    assert_eq!(h.synced(wa).error_code, ErrorCode::NOT_COORDINATOR);
    assert_eq!(h.synced(wb).error_code, ErrorCode::NOT_COORDINATOR);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert!(h.g.members().values().all(|m| m.assignment.is_empty()));
    assert_eq!(heartbeat(&mut h, &b, 1), ErrorCode::REBALANCE_IN_PROGRESS);
}

#[test]
fn a_write_of_an_ended_generation_changes_nothing() {
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wa = h.sync(sync_args(&a, 1));
    assert_eq!(leave(&mut h, &[&b]), vec![ErrorCode::NONE]);
    assert_eq!(h.synced(wa).error_code, ErrorCode::REBALANCE_IN_PROGRESS);
    h.complete_write(Ok(()));
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert!(h.answers.is_empty());
}

#[test]
fn syncs_are_refused_with_kafkas_codes() {
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let w = h.sync(sync_args(&a, 2));
    assert_eq!(h.synced(w).error_code, ErrorCode::ILLEGAL_GENERATION);
    let w = h.sync(sync_args("nobody", 1));
    assert_eq!(h.synced(w).error_code, ErrorCode::UNKNOWN_MEMBER_ID);
    let mut wrong = sync_args(&a, 1);
    wrong.protocol_name = Some("roundrobin".into());
    let w = h.sync(wrong);
    assert_eq!(
        h.synced(w).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    h.join(join_args(&b, &["range", "sticky"]));
    let w = h.sync(sync_args(&a, 1));
    assert_eq!(h.synced(w).error_code, ErrorCode::REBALANCE_IN_PROGRESS);
}

#[test]
fn heartbeats_answer_by_state_generation_and_membership() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    assert_eq!(heartbeat(&mut h, &a, 1), ErrorCode::NONE);
    assert_eq!(heartbeat(&mut h, &a, 0), ErrorCode::ILLEGAL_GENERATION);
    assert_eq!(heartbeat(&mut h, "nobody", 1), ErrorCode::UNKNOWN_MEMBER_ID);
    // The leader rejoins, with a shorter session: the others learn it from their heartbeat.
    let mut rejoin = join_args(&a, &["range"]);
    rejoin.session_timeout_ms = 7_000;
    let w = h.join(rejoin);
    assert!(h.unanswered(w));
    let now = h.now.mono_ms;
    assert_eq!(
        h.timers.get(&GroupTimer::Session(a.clone())),
        Some(&(now + 7_000))
    );
    assert_eq!(heartbeat(&mut h, &b, 1), ErrorCode::REBALANCE_IN_PROGRESS);
}

#[test]
fn a_follower_rejoining_a_stable_group_unchanged_gets_the_current_generation() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    let w = h.join(join_args(&b, &["range"]));
    let again = h.joined(w);
    assert_eq!((again.generation, again.leader.as_str()), (1, a.as_str()));
    assert_eq!(h.g.state(), GroupState::Stable);
}

#[test]
fn a_member_rejoining_unchanged_while_the_group_completes_its_rebalance_gets_the_current_generation(
) {
    // Kafka: it missed the join answer; the group does not rebalance again.
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    assert_eq!(h.g.state(), GroupState::CompletingRebalance);
    let w = h.join(join_args(&b, &["range"]));
    let again = h.joined(w);
    assert_eq!(again.error_code, ErrorCode::NONE);
    assert_eq!((again.generation, again.leader.as_str()), (1, a.as_str()));
    assert_eq!(
        (h.g.state(), h.g.generation()),
        (GroupState::CompletingRebalance, 1)
    );
}

#[test]
fn heartbeats_move_the_session_deadline_and_a_stale_firing_only_rearms() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    let t = h.now.mono_ms;
    h.now = at(t + 5_000);
    assert_eq!(heartbeat(&mut h, &a, 1), ErrorCode::NONE);
    let deadline_b = h.g.members()[&b].session_deadline_ms;
    h.advance_to(deadline_b);
    assert!(h.g.members().contains_key(&a), "a heartbeat kept a alive");
    assert_eq!(
        h.timers.get(&GroupTimer::Session(a.clone())),
        Some(&(t + 15_000))
    );
    assert!(!h.g.members().contains_key(&b), "b's session ended");
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_rebalance_drops_members_that_did_not_rejoin_by_the_rebalance_timeout() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    let t = h.now.mono_ms;
    let w = h.join(join_args(&a, &["range"]));
    assert_eq!(h.timers.get(&GroupTimer::Rebalance), Some(&(t + 20_000)));
    // b keeps heartbeating but never rejoins.
    for step in 1..=3 {
        h.advance_to(t + step * 6_000);
        heartbeat(&mut h, &b, 1);
    }
    h.advance_to(t + 20_000);
    let joined = h.joined(w);
    assert_eq!((joined.generation, joined.members.len()), (2, 1));
    assert!(!h.g.members().contains_key(&b));
}

#[test]
fn the_join_completes_as_soon_as_every_member_rejoined() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    let wa = h.join(join_args(&a, &["range"]));
    let wb = h.join(join_args(&b, &["range"]));
    assert_eq!(h.joined(wa).generation, 2);
    assert_eq!(h.joined(wb).generation, 2);
    assert_eq!(h.g.state(), GroupState::CompletingRebalance);
}

#[test]
fn leave_removes_single_and_batched_members_and_the_last_one_out_empties_the_group() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    assert_eq!(
        leave(&mut h, &[&b, "nobody"]),
        vec![ErrorCode::NONE, ErrorCode::UNKNOWN_MEMBER_ID]
    );
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert_eq!(h.g.generation(), 1);
    assert_eq!(leave(&mut h, &[&a]), vec![ErrorCode::NONE]);
    assert_eq!(h.g.state(), GroupState::Empty);
    assert_eq!((h.g.generation(), h.g.leader()), (2, None));
    let (records, then) = h.writes.remove(0);
    assert_eq!(then, AfterWrite::Membership { generation: 2 });
    let record = group_record(&records);
    assert_eq!((record.generation, record.members.len()), (2, 0));
    assert_eq!(record.protocol, None);
    assert!(h.timers.is_empty(), "nothing left to wake: {:?}", h.timers);
}

#[test]
fn a_member_leaving_with_a_parked_join_gets_unknown_member_id() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    let w = h.join(join_args(&a, &["range"]));
    leave(&mut h, &[&a]);
    assert_eq!(h.joined(w).error_code, ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(h.g.leader(), Some(b.as_str()), "leadership moves on");
}

#[test]
fn members_that_do_not_sync_by_the_deadline_are_removed() {
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wb = h.sync(sync_args(&b, 1));
    let deadline = h.timers[&GroupTimer::Sync];
    // Both stay alive; only the sync is missing.
    for t in [9_000, 16_000] {
        h.advance_to(t);
        assert_eq!(heartbeat(&mut h, &a, 1), ErrorCode::NONE);
        assert_eq!(heartbeat(&mut h, &b, 1), ErrorCode::NONE);
    }
    h.advance_to(deadline);
    assert!(!h.g.members().contains_key(&a), "the leader never synced");
    assert_eq!(h.synced(wb).error_code, ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert_eq!(h.g.leader(), Some(b.as_str()));
}

#[test]
fn commits_are_checked_against_membership_generation_and_state() {
    let mut h = Harness::kafka();
    let simple = CommitIdentity {
        generation: -1,
        member_id: "",
        instance_id: None,
    };
    assert_eq!(
        h.g.commit_allowed(&simple),
        Ok(()),
        "Empty: tools may commit"
    );
    let (a, _b) = joined_pair(&mut h);
    let member = |generation| CommitIdentity {
        generation,
        member_id: &a,
        instance_id: None,
    };
    assert_eq!(
        h.g.commit_allowed(&member(1)),
        Err(ErrorCode::REBALANCE_IN_PROGRESS)
    );
    assert_eq!(
        h.g.commit_allowed(&simple),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(
        h.g.commit_allowed(&member(0)),
        Err(ErrorCode::ILLEGAL_GENERATION)
    );
    let stranger = CommitIdentity {
        generation: 1,
        member_id: "nobody",
        instance_id: None,
    };
    assert_eq!(
        h.g.commit_allowed(&stranger),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    let a2 = a.clone();
    let w = h.sync(sync_args(&a2, 1));
    h.complete_write(Ok(()));
    h.answer(w);
    assert_eq!(h.g.commit_allowed(&member(1)), Ok(()));
}

#[test]
fn commits_outside_the_group_protocol_follow_kafkas_validate_offset_commit() {
    let mut h = Harness::kafka();
    let identity = |generation, member_id| CommitIdentity {
        generation,
        member_id,
        instance_id: None,
    };
    assert_eq!(
        h.g.commit_allowed(&identity(-1, "some-client")),
        Ok(()),
        "generation -1 commits to an Empty group whatever member id it names"
    );
    assert_eq!(
        h.g.commit_allowed(&identity(0, "")),
        Err(ErrorCode::UNKNOWN_MEMBER_ID),
        "a generation >= 0 names a member even while Empty"
    );
    let (a, _b) = stable_pair(&mut h);
    assert_eq!(
        h.g.commit_allowed(&identity(-1, &a)),
        Err(ErrorCode::ILLEGAL_GENERATION),
        "a member committing with generation -1 is checked as a member"
    );
    assert_eq!(h.g.commit_allowed(&identity(1, &a)), Ok(()));
}

#[test]
fn a_pending_members_session_expires_when_its_timer_fires_late_and_rearms_when_early() {
    let mut h = Harness::kafka();
    let mut req = join_args("", &["range"]);
    req.requires_known_member_id = true;
    let w = h.join(req);
    let id = h.joined(w).member_id;
    let deadline = h.timers[&GroupTimer::Session(id.clone())];
    let mut out = Vec::new();
    h.g.timer(at(deadline - 1), GroupTimer::Session(id.clone()), &mut out);
    assert!(
        matches!(out.as_slice(), [GroupOut::Wake { at_mono_ms, .. }] if *at_mono_ms == deadline),
        "an early firing only rearms: {out:?}"
    );
    let mut out = Vec::new();
    h.g.timer(
        at(deadline + 500),
        GroupTimer::Session(id.clone()),
        &mut out,
    );
    assert!(out.is_empty(), "a late firing expires it: {out:?}");
    h.now = at(deadline + 500);
    let w = h.join(join_args(&id, &["range"]));
    assert_eq!(h.joined(w).error_code, ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn a_group_survives_its_record_and_gets_fresh_sessions() {
    let mut h = Harness::kafka();
    let (a, b) = stable_pair(&mut h);
    let record = h.g.to_record();
    let mut out = Vec::new();
    let loaded = ClassicGroup::<u32>::from_record("g".into(), record.clone(), at(50_000), &mut out);
    assert_eq!(loaded.state(), GroupState::Stable);
    assert_eq!(
        (loaded.generation(), loaded.leader()),
        (1, Some(a.as_str()))
    );
    assert_eq!(loaded.protocol(), Some("range"));
    assert_eq!(loaded.members()[&b].assignment, b"B");
    assert_eq!(loaded.to_record(), record, "the record round-trips");
    let wakes: Vec<u64> = out
        .iter()
        .map(|o| match o {
            GroupOut::Wake { at_mono_ms, .. } => *at_mono_ms,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(wakes, vec![60_000, 60_000]);
    let mut empty = record;
    empty.members.clear();
    let loaded = ClassicGroup::<u32>::from_record("g".into(), empty, at(0), &mut Vec::new());
    assert_eq!(loaded.state(), GroupState::Empty);
}

#[test]
fn a_join_for_an_unknown_member_id_is_refused() {
    let mut h = Harness::kafka();
    let w = h.join(join_args("ghost", &["range"]));
    assert_eq!(h.joined(w).error_code, ErrorCode::UNKNOWN_MEMBER_ID);
    assert!(h.answers.is_empty() && h.g.members().is_empty());
}

#[test]
fn a_leader_assignment_past_the_record_bound_is_refused_and_the_group_rebalances() {
    use crate::limits::GROUP_ASSIGNMENT_BYTES_MAX;
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wb = h.sync(sync_args(&b, 1));
    let mut leader_sync = sync_args(&a, 1);
    // Each fits alone; together (with the members' metadata) they do not.
    let half = GROUP_ASSIGNMENT_BYTES_MAX / 2;
    leader_sync.assignments = vec![(a.clone(), vec![0; half]), (b.clone(), vec![0; half])];
    let wa = h.sync(leader_sync);
    assert!(h.writes.is_empty(), "nothing written");
    assert_eq!(h.synced(wa).error_code, ErrorCode::UNKNOWN_SERVER_ERROR);
    assert_eq!(h.synced(wb).error_code, ErrorCode::UNKNOWN_SERVER_ERROR);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_leader_assignment_exactly_at_the_record_bound_is_written() {
    use crate::limits::GROUP_ASSIGNMENT_BYTES_MAX;
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wb = h.sync(sync_args(&b, 1));
    let mut leader_sync = sync_args(&a, 1);
    // The members' metadata of "range" is the name's 5 bytes each.
    let fits = GROUP_ASSIGNMENT_BYTES_MAX - 2 * "range".len();
    leader_sync.assignments = vec![(a.clone(), vec![7; fits])];
    let wa = h.sync(leader_sync);
    assert_eq!(h.writes.len(), 1, "written");
    h.complete_write(Ok(()));
    assert_eq!(h.synced(wa).assignment.len(), fits);
    assert_eq!(h.synced(wb).error_code, ErrorCode::NONE);
    assert_eq!(h.g.state(), GroupState::Stable);
}

#[test]
fn assignments_to_ids_that_are_not_members_do_not_count_toward_the_record_bound() {
    use crate::limits::GROUP_ASSIGNMENT_BYTES_MAX;
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let wb = h.sync(sync_args(&b, 1));
    let mut leader_sync = sync_args(&a, 1);
    leader_sync.assignments = vec![
        (a.clone(), b"A".to_vec()),
        ("stranger".to_owned(), vec![0; GROUP_ASSIGNMENT_BYTES_MAX]),
    ];
    let wa = h.sync(leader_sync);
    h.complete_write(Ok(()));
    assert_eq!(h.synced(wa).assignment, b"A");
    assert_eq!(h.synced(wb).assignment, b"");
}

/// Seed 669 (with transactions): Kafka's `propagateAssignment` gives every member a full
/// session from the assignment's answer. A SyncGroup that waited on a slow assignment write
/// must not have the wait taken from its session: here the write takes 7 s of a 10 s session
/// (the session timers, armed at the join, fire only after it), and the members stay past
/// 10 s from their SyncGroup's arrival.
#[test]
fn the_assignment_answer_starts_a_full_session() {
    let mut h = Harness::kafka();
    let (a, b) = joined_pair(&mut h);
    let t = h.now.mono_ms;
    let wb = h.sync(sync_args(&b, 1));
    let mut leader_sync = sync_args(&a, 1);
    leader_sync.assignments = vec![(a.clone(), b"A".to_vec()), (b.clone(), b"B".to_vec())];
    let wa = h.sync(leader_sync);
    h.advance_to(t + 7_000); // the write takes most of a session
    h.complete_write(Ok(()));
    assert_eq!(h.synced(wa).assignment, b"A");
    assert_eq!(h.synced(wb).assignment, b"B");
    h.advance_to(t + 12_000); // past arrival + session, before answer + session
    assert!(h.g.members().contains_key(&a) && h.g.members().contains_key(&b));
    assert_eq!(h.g.state(), GroupState::Stable);
    h.advance_to(t + 17_100); // a session after the answer, no heartbeat: both expired
    assert!(h.g.members().is_empty(), "{:?}", h.g.members().keys());
}
