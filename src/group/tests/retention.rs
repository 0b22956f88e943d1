//! Offset retention (KIP-211) by the rules alone, on a hand clock.

use std::collections::{BTreeMap, BTreeSet};

use crate::messages::groups::{CommittedOffset, LeaveGroupArgs};
use crate::types::{LeaderEpoch, Offset, TopicPartition};

use super::super::offsets::StoredOffset;
use super::super::records::{GroupValue, MemberValue};
use super::super::retention::{expired, expiry_base, Expired, ExpiryBase};
use super::super::state::{ClassicGroup, GroupState};
use super::{at, encoded_subscription, join_args, sync_args, Harness};

const MINUTE_MS: i64 = 60_000;
const RETENTION_MS: i64 = 10 * MINUTE_MS;

fn stored(commit_ms: i64, expire_ms: Option<i64>) -> StoredOffset {
    StoredOffset {
        offset: CommittedOffset {
            offset: Offset(7),
            leader_epoch: LeaderEpoch(0),
            metadata: Some(String::new()),
        },
        commit_timestamp_ms: commit_ms,
        log_order: 0,
        expire_timestamp_ms: expire_ms,
    }
}

fn tp_of(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

fn tp(partition: i32) -> TopicPartition {
    tp_of("t", partition)
}

/// A consumer group as replayed from its record, state timestamp `state_ms`, with one member
/// per entry of `subscriptions` (their metadata).
fn consumer_group(state_ms: i64, subscriptions: &[Vec<u8>]) -> ClassicGroup<u32> {
    let member = |(i, subscription): (usize, &Vec<u8>)| MemberValue {
        member_id: format!("m{i}"),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/h".into(),
        rebalance_timeout_ms: 10_000,
        session_timeout_ms: 10_000,
        subscription: subscription.clone(),
        assignment: Vec::new(),
    };
    let value = GroupValue {
        protocol_type: "consumer".into(),
        generation: 3,
        protocol: (!subscriptions.is_empty()).then(|| "range".into()),
        leader: (!subscriptions.is_empty()).then(|| "m0".into()),
        current_state_timestamp_ms: state_ms,
        members: subscriptions.iter().enumerate().map(member).collect(),
    };
    ClassicGroup::from_record("g".into(), value, at(0), &mut Vec::new())
}

fn none() -> BTreeSet<TopicPartition> {
    BTreeSet::new()
}

/// The partitions that expired at `now_ms`, and whether the group went too.
fn due(
    g: Option<&ClassicGroup<u32>>,
    offsets: &BTreeMap<TopicPartition, StoredOffset>,
    now_ms: i64,
) -> (Vec<TopicPartition>, bool) {
    let Expired { partitions, group } = expired(g, Some(offsets), &none(), now_ms, RETENTION_MS);
    (partitions, group)
}

#[test]
fn an_empty_consumer_group_expires_its_offsets_the_retention_after_it_became_empty() {
    let g = consumer_group(1_000_000, &[]);
    assert_eq!(g.state(), GroupState::Empty);
    assert_eq!(
        expiry_base(Some(&g)),
        Some(ExpiryBase::BecameEmpty(1_000_000))
    );
    // Committed long before the group emptied: the age counts from the emptying.
    let offsets = BTreeMap::from([(tp(0), stored(1, None)), (tp(1), stored(2, None))]);
    let just_before = 1_000_000 + RETENTION_MS - 1;
    assert_eq!(due(Some(&g), &offsets, just_before), (vec![], false));
    let at_retention = 1_000_000 + RETENTION_MS;
    assert_eq!(
        due(Some(&g), &offsets, at_retention),
        (vec![tp(0), tp(1)], true),
        "every offset went, so the Empty group goes too"
    );
}

#[test]
fn a_commit_done_while_empty_expires_with_the_group_not_after_its_own_retention() {
    // Kafka's rule: an Empty consumer group's offsets all age from when it became Empty, a
    // tool's commit to it (generation -1) included.
    let g = consumer_group(1_000_000, &[]);
    let late_commit_ms = 1_000_000 + RETENTION_MS / 2;
    let offsets = BTreeMap::from([(tp(0), stored(late_commit_ms, None))]);
    assert_eq!(
        due(Some(&g), &offsets, 1_000_000 + RETENTION_MS),
        (vec![tp(0)], true)
    );
}

#[test]
fn a_group_mid_rebalance_keeps_its_offsets_however_old() {
    let mut g = consumer_group(1, &[encoded_subscription(&["other"])]);
    g.set_state(GroupState::PreparingRebalance, at(0));
    assert_eq!(expiry_base(Some(&g)), None);
    let offsets = BTreeMap::from([(tp(0), stored(1, Some(2)))]);
    assert_eq!(due(Some(&g), &offsets, i64::MAX / 2), (vec![], false));
}

#[test]
fn a_stable_consumer_group_expires_only_the_topics_no_member_subscribes_to() {
    let subscriptions = [encoded_subscription(&["t"]), encoded_subscription(&["u"])];
    let mut g = consumer_group(1, &subscriptions);
    g.set_state(GroupState::Stable, at(0));
    let offsets = BTreeMap::from([
        (tp_of("t", 0), stored(1_000, None)),
        (tp_of("u", 0), stored(1_000, None)),
        (tp_of("gone", 0), stored(1_000, None)),
        (tp_of("gone", 1), stored(1_000 + MINUTE_MS, None)),
    ]);
    assert_eq!(
        due(Some(&g), &offsets, 1_000 + RETENTION_MS),
        (vec![tp_of("gone", 0)], false),
        "by commit timestamp, and a group with members never goes"
    );
}

#[test]
fn a_stable_group_whose_subscription_does_not_decode_keeps_everything() {
    let mut g = consumer_group(1, &[encoded_subscription(&["t"]), b"junk".to_vec()]);
    g.set_state(GroupState::Stable, at(0));
    let offsets = BTreeMap::from([(tp_of("gone", 0), stored(1, None))]);
    assert_eq!(due(Some(&g), &offsets, i64::MAX / 2), (vec![], false));
}

#[test]
fn a_simple_group_expires_each_offset_by_its_commit_timestamp() {
    let offsets = BTreeMap::from([
        (tp(0), stored(1_000, None)),
        (tp(1), stored(1_000 + MINUTE_MS, None)),
    ]);
    let now = 1_000 + RETENTION_MS;
    assert_eq!(due(None, &offsets, now), (vec![tp(0)], false));
    let protocol_less = ClassicGroup::<u32>::new("g".into(), at(0));
    assert_eq!(
        expiry_base(Some(&protocol_less)),
        Some(ExpiryBase::Committed)
    );
    assert_eq!(
        due(Some(&protocol_less), &offsets, now + MINUTE_MS),
        (vec![tp(0), tp(1)], true)
    );
}

#[test]
fn an_explicit_expire_timestamp_wins_over_the_retention() {
    let offsets = BTreeMap::from([
        (tp(0), stored(1_000, Some(2_000))),
        (tp(1), stored(1_000, Some(1_000 + 2 * RETENTION_MS))),
    ]);
    assert_eq!(due(None, &offsets, 2_000), (vec![tp(0)], false));
    assert_eq!(
        due(None, &offsets, 1_000 + RETENTION_MS),
        (vec![tp(0)], false),
        "the v1 expiry is later than the retention"
    );
}

#[test]
fn a_record_without_a_state_timestamp_falls_back_to_the_commit() {
    let g = consumer_group(-1, &[]);
    let offsets = BTreeMap::from([(tp(0), stored(5_000, None))]);
    assert_eq!(
        due(Some(&g), &offsets, 5_000 + RETENTION_MS - 1),
        (vec![], false)
    );
    assert_eq!(
        due(Some(&g), &offsets, 5_000 + RETENTION_MS),
        (vec![tp(0)], true)
    );
}

#[test]
fn a_commit_in_flight_keeps_its_partition_and_the_group() {
    let offsets = BTreeMap::from([(tp(0), stored(1, None)), (tp(1), stored(1, None))]);
    let pending = BTreeSet::from([tp(1)]);
    let now_ms = 1 + RETENTION_MS;
    let found = expired::<u32>(None, Some(&offsets), &pending, now_ms, RETENTION_MS);
    assert_eq!(found.partitions, vec![tp(0)]);
    assert!(!found.group, "its commit lands after: the group stays");
}

#[test]
fn an_empty_group_without_offsets_goes_and_a_dead_one_is_left_alone() {
    let g = consumer_group(1, &[]);
    let found = expired(Some(&g), None, &none(), 2, RETENTION_MS);
    assert_eq!((found.partitions.len(), found.group), (0, true));
    let mut dead = consumer_group(1, &[]);
    dead.set_state(GroupState::Dead, at(0));
    assert!(expired(Some(&dead), None, &none(), i64::MAX, RETENTION_MS).is_empty());
}

/// One member subscribing to "t" joins `h`'s group and syncs: Stable. Its id.
fn stable_alone(h: &mut Harness) -> String {
    let mut args = join_args("", &["range"]);
    args.protocols = vec![("range".into(), encoded_subscription(&["t"]))];
    let w = h.join(args);
    h.advance_to(h.now.mono_ms + 2_000); // past the initial delay, within the session
    let joined = h.joined(w);
    let mut sync = sync_args(&joined.member_id, joined.generation);
    sync.assignments = vec![(joined.member_id.clone(), Vec::new())];
    let ws = h.sync(sync);
    while !h.writes.is_empty() {
        h.complete_write(Ok(()));
    }
    h.synced(ws);
    assert_eq!(h.g.state(), GroupState::Stable);
    joined.member_id
}

fn leave_all(h: &mut Harness, member: &str) {
    let req = LeaveGroupArgs {
        group: "g".into(),
        members: vec![(member.to_owned(), None)],
    };
    let mut out = Vec::new();
    h.g.leave(h.now, req, &mut out);
    h.apply(out);
    while !h.writes.is_empty() {
        h.complete_write(Ok(()));
    }
    assert_eq!(h.g.state(), GroupState::Empty);
}

#[test]
fn a_group_that_is_stable_again_before_expiry_keeps_its_offsets_and_restarts_the_count() {
    let mut h = Harness::kafka();
    let member = stable_alone(&mut h);
    let committed_ms = h.now.unix_ms;
    let offsets = BTreeMap::from([(tp(0), stored(committed_ms, None))]);
    leave_all(&mut h, &member);
    let emptied_ms = h.g.state_timestamp_ms();
    // Back before the retention ran out.
    h.now = at(h.now.mono_ms + 60_000);
    let member = stable_alone(&mut h);
    let first_due_ms = emptied_ms + RETENTION_MS;
    assert_eq!(
        due(Some(&h.g), &offsets, first_due_ms),
        (vec![], false),
        "the subscribed topic's offsets stay while the group is Stable"
    );
    // Empty again later (the clock moved without firing the session timer): the count
    // starts from this emptying.
    h.now = at(h.now.mono_ms + 10 * 60_000);
    leave_all(&mut h, &member);
    let again_ms = h.g.state_timestamp_ms();
    assert!(again_ms > first_due_ms);
    assert_eq!(
        due(Some(&h.g), &offsets, again_ms + RETENTION_MS - 1),
        (vec![], false)
    );
    assert_eq!(
        due(Some(&h.g), &offsets, again_ms + RETENTION_MS),
        (vec![tp(0)], true)
    );
}

/// A KIP-848 group's offsets of topics a member subscribes to never expire; the rest age from
/// their commit; a group without members and offsets goes.
#[test]
fn a_consumer_protocol_group_keeps_its_subscribed_topics_offsets() {
    use super::super::consumer::{ConsumerGroup, ConsumerMember};
    use super::super::retention::consumer_group_expired;
    let mut group = ConsumerGroup::new("g".into());
    let mut member = ConsumerMember::new("m".into());
    member.subscribed = BTreeSet::from(["t".to_string()]);
    group.members.insert("m".into(), member);
    let offsets = BTreeMap::from([
        (tp(0), stored(0, None)),
        (tp_of("u", 0), stored(0, None)),
        (tp_of("u", 1), stored(5 * MINUTE_MS, None)),
    ]);
    let now_ms = RETENTION_MS + MINUTE_MS;
    let none = BTreeSet::new();
    let found = consumer_group_expired(&group, Some(&offsets), &none, now_ms, RETENTION_MS);
    let want = Expired {
        partitions: vec![tp_of("u", 0)],
        group: false,
    };
    assert_eq!(found, want);
    group.members.clear();
    let found = consumer_group_expired(&group, Some(&offsets), &none, now_ms, RETENTION_MS);
    assert_eq!(
        found.partitions,
        vec![tp(0), tp_of("u", 0)],
        "no member: by commit age"
    );
    assert!(!found.group, "an offset is left");
    // Once every offset expired (or none is left), a group without members goes too
    // (Kafka's maybeDeleteGroup); a commit in flight, or a member, keeps it.
    let later_ms = 5 * MINUTE_MS + RETENTION_MS;
    let found = consumer_group_expired(&group, Some(&offsets), &none, later_ms, RETENTION_MS);
    assert_eq!((found.partitions.len(), found.group), (3, true));
    assert!(consumer_group_expired(&group, None, &none, now_ms, RETENTION_MS).group);
    let pending = BTreeSet::from([tp(7)]);
    assert!(!consumer_group_expired(&group, None, &pending, now_ms, RETENTION_MS).group);
    group
        .members
        .insert("m".into(), ConsumerMember::new("m".into()));
    assert!(!consumer_group_expired(&group, None, &none, now_ms, RETENTION_MS).group);
}
