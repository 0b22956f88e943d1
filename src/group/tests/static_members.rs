//! Static membership (KIP-345) scripted: a restarted instance rejoins a Stable group without a
//! rebalance, its old member id is fenced, and the cases that do rebalance.

use crate::messages::groups::{HeartbeatArgs, JoinGroupArgs, LeaveGroupArgs, SyncGroupArgs};
use crate::types::ErrorCode;

use super::super::offsets::CommitIdentity;
use super::super::output::GroupTimer;
use super::super::state::GroupState;
use super::{join_args, sync_args, Harness};

fn static_join(member_id: &str, instance: &str, protocols: &[&str]) -> JoinGroupArgs {
    let mut req = join_args(member_id, protocols);
    req.instance_id = Some(instance.into());
    req
}

fn static_sync(member_id: &str, instance: &str, generation: i32) -> SyncGroupArgs {
    let mut req = sync_args(member_id, generation);
    req.instance_id = Some(instance.into());
    req
}

fn heartbeat(h: &mut Harness, member: &str, instance: Option<&str>) -> ErrorCode {
    let req = HeartbeatArgs {
        group: "g".into(),
        generation: h.g.generation(),
        member_id: member.into(),
        instance_id: instance.map(Into::into),
    };
    h.g.heartbeat(h.now, &req)
}

/// Static members "ia" (the leader, assignment "A") and "ib" ("B"), Stable in generation 1.
fn stable_static_pair(h: &mut Harness) -> (String, String) {
    let wa = h.join(static_join("", "ia", &["range"]));
    let wb = h.join(static_join("", "ib", &["range"]));
    h.advance_to(2_000);
    let (ra, rb) = (h.joined(wa), h.joined(wb));
    assert_eq!(
        (ra.generation, ra.leader.as_str()),
        (1, ra.member_id.as_str())
    );
    let (a, b) = (ra.member_id, rb.member_id);
    let wb = h.sync(static_sync(&b, "ib", 1));
    let mut leader = static_sync(&a, "ia", 1);
    leader.assignments = vec![(a.clone(), b"A".to_vec()), (b.clone(), b"B".to_vec())];
    let wa = h.sync(leader);
    h.complete_write(Ok(()));
    assert_eq!(h.synced(wa).assignment, b"A");
    assert_eq!(h.synced(wb).assignment, b"B");
    assert_eq!(h.g.state(), GroupState::Stable);
    (a, b)
}

#[test]
fn a_restarted_static_member_keeps_the_generation_and_its_assignment() {
    let mut h = Harness::kafka();
    let (a, b) = stable_static_pair(&mut h);
    h.advance_to(5_000);
    let w = h.join(static_join("", "ib", &["range"]));
    assert!(h.unanswered(w), "answered once the group record is written");
    assert_eq!(h.writes.len(), 1);
    let records = h.complete_write(Ok(()));
    let r = h.joined(w);
    assert_eq!(r.error_code, ErrorCode::NONE);
    assert_eq!(r.generation, 1, "no rebalance");
    assert_ne!(r.member_id, b, "a new member id");
    assert_eq!((r.leader.as_str(), r.members.len()), (a.as_str(), 0));
    let value = match records.as_slice() {
        [super::super::output::OffsetsRecord::Group { value: Some(v), .. }] => v.clone(),
        other => panic!("{other:?}"),
    };
    let persisted = value.members.iter().find(|m| m.member_id == r.member_id);
    assert_eq!(persisted.map(|m| m.assignment.as_slice()), Some(&b"B"[..]));
    assert_eq!(value.members.len(), 2);
    let ws = h.sync(static_sync(&r.member_id, "ib", 1));
    assert_eq!(h.synced(ws).assignment, b"B", "its previous assignment");
    assert_eq!((h.g.state(), h.g.generation()), (GroupState::Stable, 1));
    assert_eq!(heartbeat(&mut h, &a, Some("ia")), ErrorCode::NONE);
    assert_eq!(heartbeat(&mut h, &r.member_id, Some("ib")), ErrorCode::NONE);
}

#[test]
fn the_replaced_member_id_is_fenced_and_mismatches_are_refused() {
    let mut h = Harness::kafka();
    let (a, b) = stable_static_pair(&mut h);
    let w = h.join(static_join("", "ib", &["range"]));
    h.complete_write(Ok(()));
    let new_b = h.joined(w).member_id;
    assert_eq!(
        heartbeat(&mut h, &b, Some("ib")),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(heartbeat(&mut h, &b, None), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(
        heartbeat(&mut h, &new_b, Some("ia")),
        ErrorCode::FENCED_INSTANCE_ID,
        "an instance held by another member id"
    );
    assert_eq!(
        heartbeat(&mut h, &new_b, Some("iz")),
        ErrorCode::UNKNOWN_MEMBER_ID,
        "an unknown instance"
    );
    let ws = h.sync(static_sync(&b, "ib", 1));
    assert_eq!(h.synced(ws).error_code, ErrorCode::FENCED_INSTANCE_ID);
    let old = CommitIdentity {
        generation: 1,
        member_id: &b,
        instance_id: Some("ib"),
    };
    assert_eq!(h.g.commit_allowed(&old), Err(ErrorCode::FENCED_INSTANCE_ID));
    let wj = h.join(static_join(&b, "ib", &["range"]));
    assert_eq!(h.joined(wj).error_code, ErrorCode::FENCED_INSTANCE_ID);
    let mut out = Vec::new();
    let left = h.g.leave(
        h.now,
        LeaveGroupArgs {
            group: "g".into(),
            members: vec![(b.clone(), Some("ib".into()))],
        },
        &mut out,
    );
    h.apply(out);
    assert_eq!(left.members[0].error_code, ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!((h.g.state(), h.g.members().len()), (GroupState::Stable, 2));
    assert!(h.g.members().contains_key(&a));
}

#[test]
fn a_rejoining_leader_syncs_as_a_follower_before_v9_and_skips_the_assignment_from_v9() {
    let mut h = Harness::kafka();
    let (a, _b) = stable_static_pair(&mut h);
    let w = h.join(static_join("", "ia", &["range"]));
    h.complete_write(Ok(()));
    let r = h.joined(w);
    assert_eq!(r.leader, a, "its old id: it does not assign");
    assert!(r.members.is_empty() && !r.skip_assignment);
    assert_eq!(h.g.leader(), Some(r.member_id.as_str()), "but it leads");
    let mut v9 = static_join("", "ia", &["range"]);
    v9.can_skip_assignment = true;
    let w = h.join(v9);
    h.complete_write(Ok(()));
    let r9 = h.joined(w);
    assert_eq!(r9.leader, r9.member_id);
    assert!(r9.skip_assignment);
    assert_eq!(r9.members.len(), 2, "the leader still gets the members");
    let ws = h.sync(static_sync(&r9.member_id, "ia", 1));
    assert_eq!(h.synced(ws).assignment, b"A");
    assert_eq!(h.g.generation(), 1);
}

#[test]
fn a_rejoin_that_changes_the_protocol_rebalances() {
    let mut h = Harness::kafka();
    let w = h.join(static_join("", "ia", &["range", "roundrobin"]));
    h.advance_to(1_000);
    let a = h.joined(w).member_id;
    assert_eq!(h.g.protocol(), Some("range"));
    let ws = h.sync(static_sync(&a, "ia", 1));
    h.complete_write(Ok(()));
    h.answer(ws);
    // Kafka checks the protocols against the old incarnation too: it must support the new
    // first choice.
    let w = h.join(static_join("", "ia", &["roundrobin", "range"]));
    assert!(h.writes.is_empty(), "no record-only write");
    let r = h.joined(w);
    assert_eq!(r.generation, 2);
    assert_eq!(h.g.protocol(), Some("roundrobin"));
    assert_eq!(h.g.state(), GroupState::CompletingRebalance);
}

#[test]
fn a_rejoin_while_completing_the_rebalance_fences_the_parked_sync_and_rebalances() {
    let mut h = Harness::kafka();
    let wa = h.join(static_join("", "ia", &["range"]));
    let wb = h.join(static_join("", "ib", &["range"]));
    h.advance_to(2_000);
    let (_a, b) = (h.joined(wa).member_id, h.joined(wb).member_id);
    let ws = h.sync(static_sync(&b, "ib", 1));
    let w = h.join(static_join("", "ib", &["range"]));
    assert_eq!(h.synced(ws).error_code, ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert!(h.unanswered(w), "parked for the new join phase");
}

#[test]
fn a_failed_rejoin_write_restores_the_old_member_id() {
    let mut h = Harness::kafka();
    let (_a, b) = stable_static_pair(&mut h);
    let w = h.join(static_join("", "ib", &["range"]));
    h.complete_write(Err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let r = h.joined(w);
    assert_eq!(r.error_code, ErrorCode::NOT_COORDINATOR);
    assert_eq!(r.member_id, "");
    assert_eq!(heartbeat(&mut h, &b, Some("ib")), ErrorCode::NONE);
    assert_eq!(h.g.members()[&b].assignment, b"B");
    assert_eq!((h.g.state(), h.g.generation()), (GroupState::Stable, 1));
}

#[test]
fn a_silent_static_member_leaves_by_its_session_timeout() {
    let mut h = Harness::kafka();
    let (a, b) = stable_static_pair(&mut h);
    for t in [5_000, 10_000] {
        h.advance_to(t);
        assert_eq!(heartbeat(&mut h, &a, Some("ia")), ErrorCode::NONE);
    }
    h.advance_to(13_000);
    assert!(!h.g.members().contains_key(&b));
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
}

#[test]
fn a_rejoin_with_the_same_protocols_never_flips_a_tied_vote() {
    // One vote each for "range" and "roundrobin": the tie must not depend on which member id
    // sorts first, or a restart that changes nothing would rebalance when its new id does.
    let mut h = Harness::kafka();
    let wa = h.join(static_join("", "ia", &["range", "roundrobin"]));
    let wb = h.join(static_join("", "ib", &["roundrobin", "range"]));
    h.advance_to(2_000);
    let (ra, rb) = (h.joined(wa), h.joined(wb));
    let leader = ra.leader.clone();
    let chosen = h.g.protocol().map(str::to_owned);
    for (id, instance) in [(&ra.member_id, "ia"), (&rb.member_id, "ib")] {
        let mut req = static_sync(id, instance, 1);
        if *id == leader {
            req.assignments = vec![(ra.member_id.clone(), b"A".to_vec())];
        }
        h.sync(req);
    }
    h.complete_write(Ok(()));
    for restart in 0..16 {
        let (instance, protocols) = if restart % 2 == 0 {
            ("ia", ["range", "roundrobin"])
        } else {
            ("ib", ["roundrobin", "range"])
        };
        let w = h.join(static_join("", instance, &protocols));
        assert_eq!(h.writes.len(), 1, "restart {restart}: a record-only write");
        h.complete_write(Ok(()));
        let r = h.joined(w);
        assert_eq!(r.error_code, ErrorCode::NONE);
        assert_eq!(r.generation, 1, "restart {restart} rebalanced");
        assert_eq!(h.g.protocol().map(str::to_owned), chosen);
    }
}

#[test]
fn a_sync_owed_by_the_replaced_id_stays_owed_and_the_sync_deadline_rebalances() {
    // Kafka's replaceStaticMember leaves the old id among the members that owe a SyncGroup.
    let mut h = Harness::kafka();
    let wa = h.join(static_join("", "ia", &["range"]));
    let wb = h.join(static_join("", "ib", &["range"]));
    h.advance_to(2_000);
    let (ra, _rb) = (h.joined(wa), h.joined(wb));
    let mut leader = static_sync(&ra.member_id, "ia", 1);
    leader.assignments = vec![(ra.member_id.clone(), b"A".to_vec())];
    let ws = h.sync(leader);
    h.complete_write(Ok(()));
    h.synced(ws);
    assert_eq!(h.g.state(), GroupState::Stable);
    // "ib" restarts before its first SyncGroup, and syncs as its new incarnation.
    let w = h.join(static_join("", "ib", &["range"]));
    h.complete_write(Ok(()));
    let b = h.joined(w).member_id;
    let ws = h.sync(static_sync(&b, "ib", 1));
    assert_eq!(h.synced(ws).error_code, ErrorCode::NONE);
    assert_eq!(h.g.generation(), 1);
    let deadline = h.timers[&GroupTimer::Sync];
    for t in (h.now.mono_ms..deadline).step_by(5_000) {
        h.advance_to(t);
        assert_eq!(
            heartbeat(&mut h, &ra.member_id, Some("ia")),
            ErrorCode::NONE
        );
        assert_eq!(heartbeat(&mut h, &b, Some("ib")), ErrorCode::NONE);
    }
    h.advance_to(deadline);
    assert_eq!(h.g.state(), GroupState::PreparingRebalance);
    assert!(h.g.members().contains_key(&b), "the new incarnation stays");
}

#[test]
fn a_static_member_leaves_by_its_instance_id_alone_or_with_its_own_member_id() {
    // KIP-345: an AdminClient removes a static member by instance id, with no member id.
    let mut h = Harness::kafka();
    let (a, b) = stable_static_pair(&mut h);
    let mut out = Vec::new();
    let left = h.g.leave(
        h.now,
        LeaveGroupArgs {
            group: "g".into(),
            members: vec![(String::new(), Some("ib".into())), (a, Some("ia".into()))],
        },
        &mut out,
    );
    h.apply(out);
    let codes: Vec<ErrorCode> = left.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, vec![ErrorCode::NONE, ErrorCode::NONE]);
    assert!(h.g.members().is_empty(), "{:?}", h.g.members().keys());
    assert!(!h.g.members().contains_key(&b));
    assert_eq!(h.g.state(), GroupState::Empty);
}
