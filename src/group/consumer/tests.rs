//! The consumer group by hand: join, split, revoke-before-assign, leave, fencing, timeouts,
//! static members and the request checks.

use crate::group::delete::Subscribed;
use std::collections::BTreeMap;

use crate::group::assign::TopicId;
use crate::group::output::Clock;
use crate::messages::groups::{ConsumerHeartbeatArgs, ConsumerHeartbeatResult};
use crate::types::ErrorCode;

use super::group::WireAssignment;
use super::*;

pub(super) const T: TopicId = [7; 16];

pub(super) fn at(mono_ms: u64) -> Clock {
    Clock {
        mono_ms,
        unix_ms: 1_700_000_000_000 + mono_ms as i64,
    }
}

pub(super) fn topics(partitions: i32) -> TopicView {
    BTreeMap::from([("t".to_string(), TopicInfo { id: T, partitions })])
}

pub(crate) fn join(member: &str) -> ConsumerHeartbeatArgs {
    ConsumerHeartbeatArgs {
        group: "g".into(),
        member_id: member.into(),
        member_epoch: 0,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        subscribed_topic_regex: None,
        server_assignor: None,
        owned: Some(Vec::new()),
    }
}

/// A steady heartbeat of `member` at `epoch`, owning `owned`.
pub(super) fn beat(member: &str, epoch: i32, owned: &[i32]) -> ConsumerHeartbeatArgs {
    ConsumerHeartbeatArgs {
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        owned: Some(vec![(T, owned.to_vec())]),
        ..join(member)
    }
}

pub(super) fn parts(a: &Option<WireAssignment>) -> Vec<i32> {
    let a = a.as_ref().expect("an assignment");
    a.iter().flat_map(|(_, ps)| ps.iter().copied()).collect()
}

struct H {
    g: ConsumerGroup,
    s: ConsumerSettings,
    topics: TopicView,
    now: u64,
}

impl H {
    fn new(partitions: i32) -> Self {
        Self {
            g: ConsumerGroup::new("g".into()),
            s: ConsumerSettings::default(),
            topics: topics(partitions),
            now: 0,
        }
    }

    fn hb(&mut self, req: ConsumerHeartbeatArgs) -> ConsumerHeartbeatResult {
        self.g
            .heartbeat(at(self.now), &self.s, &self.topics, ("c", "/h"), &req)
    }

    /// Joins with `regex` and heartbeats once more: a pattern new to the group is matched
    /// from the heartbeat after the one that brought it (as Kafka resolves it after the
    /// join); the second answer.
    fn rx_joined(
        &mut self,
        member: &str,
        names: Option<&[&str]>,
        regex: &str,
    ) -> ConsumerHeartbeatResult {
        let joined = self.hb(rx_join(member, names, regex));
        assert_eq!(
            joined.error_code,
            ErrorCode::NONE,
            "{:?}",
            joined.error_message
        );
        self.hb(rx_beat(member, joined.member_epoch))
    }
}

#[test]
fn a_lone_member_gets_every_partition_at_epoch_one() {
    let mut h = H::new(6);
    let r = h.hb(join("a"));
    assert_eq!(r.error_code, ErrorCode::NONE);
    assert_eq!((r.member_epoch, r.heartbeat_interval_ms), (1, 5_000));
    assert_eq!(parts(&r.assignment), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(h.g.state_name(), "Stable");
    // A no-op heartbeat changes nothing and sends no assignment.
    let r = h.hb(beat("a", 1, &[0, 1, 2, 3, 4, 5]));
    assert_eq!((r.member_epoch, r.assignment), (1, None));
    assert_eq!(h.g.epoch, 1);
}

#[test]
fn a_second_member_waits_until_the_first_revokes() {
    let mut h = H::new(6);
    h.hb(join("a"));
    let r = h.hb(join("b"));
    assert_eq!(h.g.epoch, 2);
    // b is at the target epoch but its partitions are still a's.
    assert_eq!(r.member_epoch, 2);
    assert_eq!(parts(&r.assignment), Vec::<i32>::new());
    assert_eq!(h.g.members["b"].state, MemberState::UnreleasedPartitions);
    // a is told to keep half; its epoch waits.
    let r = h.hb(beat("a", 1, &[0, 1, 2, 3, 4, 5]));
    assert_eq!(r.member_epoch, 1);
    let kept = parts(&r.assignment);
    assert_eq!(kept.len(), 3);
    assert_eq!(h.g.members["a"].state, MemberState::UnrevokedPartitions);
    // b still gets nothing while a holds them.
    let r = h.hb(beat("b", 2, &[]));
    assert_eq!(r.assignment, None);
    // a shows it revoked: it moves to epoch 2; then b gets the rest.
    let r = h.hb(beat("a", 1, &kept));
    assert_eq!(r.member_epoch, 2);
    let r = h.hb(beat("b", 2, &[]));
    let got = parts(&r.assignment);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|p| !kept.contains(p)));
    assert_eq!(h.g.state_name(), "Stable");
}

/// A load gives each member back the reconciliation state it had (the current assignment
/// record's state byte): a member still revoking keeps revoking, and one waiting for
/// partitions another member has not released yet keeps waiting.
#[test]
fn a_restored_group_keeps_each_members_reconciliation_state() {
    let mut h = H::new(6);
    h.hb(join("a"));
    h.hb(join("b"));
    h.hb(beat("a", 1, &[0, 1, 2, 3, 4, 5]));
    let states = |g: &ConsumerGroup| [g.members["a"].state, g.members["b"].state];
    assert_eq!(
        states(&h.g),
        [
            MemberState::UnrevokedPartitions,
            MemberState::UnreleasedPartitions
        ]
    );
    let records = persist::image(&h.g).into_iter().collect();
    let restored = persist::restore("g".into(), records, at(h.now), 45_000).expect("restored");
    assert_eq!(states(&restored), states(&h.g));
}

#[test]
fn a_leaving_member_gives_the_other_everything() {
    let mut h = H::new(4);
    h.hb(join("a"));
    h.hb(join("b"));
    let r = h.hb(beat("a", 1, &[0, 1, 2, 3]));
    let kept = parts(&r.assignment);
    h.hb(beat("a", 1, &kept));
    let r = h.hb(beat("a", 2, &kept));
    assert_eq!(r.member_epoch, 2);
    let r = h.hb(ConsumerHeartbeatArgs {
        member_epoch: LEAVE_GROUP_MEMBER_EPOCH,
        ..beat("b", 2, &[])
    });
    assert_eq!((r.error_code, r.member_epoch), (ErrorCode::NONE, -1));
    assert_eq!(h.g.epoch, 3);
    let r = h.hb(beat("a", 2, &kept));
    assert_eq!(
        (r.member_epoch, parts(&r.assignment)),
        (3, vec![0, 1, 2, 3])
    );
    // The member that left is unknown now.
    assert_eq!(
        h.hb(beat("b", 2, &[])).error_code,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

/// A group restored while `a` revokes half of 0..4 for `b` (both at epoch 2; `b`'s target is
/// the other half, still `a`'s): the restored group and `b`'s target.
fn restored_while_revoking() -> (H, Vec<i32>) {
    let mut h = H::new(4);
    h.hb(join("a"));
    h.hb(join("b"));
    let kept = parts(&h.hb(beat("a", 1, &[0, 1, 2, 3])).assignment);
    let records = persist::image(&h.g).into_iter().collect();
    h.g = persist::restore("g".into(), records, at(h.now), 45_000).expect("restored");
    let rest: Vec<i32> = (0..4).filter(|p| !kept.contains(p)).collect();
    let set = |ps: &[i32]| ps.iter().copied().collect();
    assert_eq!(h.g.target["b"], BTreeMap::from([(T, set(&rest))]));
    (h, rest)
}

/// Seed 1595: after a load, a member removed before any heartbeat read the topics (here `a`,
/// whose restored revocation timeout ends first) must not leave a target computed from no
/// metadata — that target was empty, and the member left drained and converged on it. The
/// epoch moves on; the target waits for the next heartbeat, which reads the topics.
#[test]
fn a_member_expired_after_a_load_leaves_the_target_to_the_next_heartbeat() {
    let (mut h, rest) = restored_while_revoking();
    assert_eq!(h.g.expire(at(30_000), &h.s), vec!["a".to_string()]);
    assert_eq!((h.g.epoch, h.g.target_epoch), (3, 2));
    let set = |ps: &[i32]| ps.iter().copied().collect();
    assert_eq!(h.g.target["b"], BTreeMap::from([(T, set(&rest))]));
    let described = h.g.describe();
    assert_eq!((described.group_epoch, described.assignment_epoch), (3, 2));
    h.now = 30_000;
    let r = h.hb(beat("b", 2, &[]));
    assert_eq!(
        (r.member_epoch, parts(&r.assignment)),
        (4, vec![0, 1, 2, 3])
    );
}

/// A leave after a load reads the topics it comes with: the others' target is whole at once.
#[test]
fn a_member_leaving_after_a_load_gives_the_others_its_partitions_at_once() {
    let (mut h, _) = restored_while_revoking();
    let r = h.hb(ConsumerHeartbeatArgs {
        member_epoch: LEAVE_GROUP_MEMBER_EPOCH,
        ..beat("a", 1, &[0, 1, 2, 3])
    });
    assert_eq!(r.error_code, ErrorCode::NONE);
    assert_eq!((h.g.epoch, h.g.target_epoch), (3, 3));
    let all = (0..4).collect();
    assert_eq!(h.g.target["b"], BTreeMap::from([(T, all)]));
}

#[test]
fn a_new_member_epoch_comes_with_the_assignment_even_when_it_is_unchanged() {
    let mut h = H::new(2);
    h.topics.insert(
        "u".into(),
        TopicInfo {
            id: [8; 16],
            partitions: 1,
        },
    );
    let r = h.hb(join("a"));
    assert_eq!((r.member_epoch, parts(&r.assignment)), (1, vec![0, 1]));
    // b joins for another topic: the group epoch moves, a's partitions stay a's.
    let r = h.hb(ConsumerHeartbeatArgs {
        subscribed_topic_names: Some(vec!["u".into()]),
        ..join("b")
    });
    assert_eq!(r.member_epoch, 2);
    let r = h.hb(beat("a", 1, &[0, 1]));
    assert_eq!(
        (r.member_epoch, parts(&r.assignment)),
        (2, vec![0, 1]),
        "the new epoch is sent with the assignment"
    );
    let r = h.hb(beat("a", 2, &[0, 1]));
    assert_eq!((r.member_epoch, r.assignment), (2, None));
}

#[test]
fn wrong_epochs_are_fenced_and_a_retry_of_the_previous_epoch_is_not() {
    let mut h = H::new(2);
    h.hb(join("a"));
    assert_eq!(
        h.hb(beat("a", 5, &[])).error_code,
        ErrorCode::FENCED_MEMBER_EPOCH
    );
    // A partition count change bumps the epoch; a retry at the old epoch owning a subset of
    // the assignment is accepted.
    h.topics = topics(3);
    let r = h.hb(beat("a", 1, &[0, 1]));
    assert_eq!(r.member_epoch, 2);
    assert_eq!(h.hb(beat("a", 1, &[0])).error_code, ErrorCode::NONE);
    assert_eq!(
        h.hb(beat("a", 1, &[9])).error_code,
        ErrorCode::FENCED_MEMBER_EPOCH
    );
    assert_eq!(
        h.hb(beat("zz", 1, &[])).error_code,
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

/// The FENCED_MEMBER_EPOCH answer carries Kafka's message, which tells the member which way
/// its epoch is wrong (the client logs it).
#[test]
fn a_fenced_member_is_told_whether_its_epoch_is_greater_or_smaller() {
    let mut h = H::new(2);
    h.hb(join("a"));
    let fenced = |r: ConsumerHeartbeatResult| {
        assert_eq!(r.error_code, ErrorCode::FENCED_MEMBER_EPOCH);
        r.error_message.expect("a message")
    };
    assert_eq!(
        fenced(h.hb(beat("a", 5, &[]))),
        "The consumer group member has a greater member epoch (5) than the one known by the \
         group coordinator (1). The member must abandon all its partitions and rejoin."
    );
    // A partition count change moves the member to epoch 2; epoch 1 is then behind (and,
    // owning a partition it was never given, not a retry).
    h.topics = topics(3);
    assert_eq!(h.hb(beat("a", 1, &[0, 1])).member_epoch, 2);
    assert_eq!(
        fenced(h.hb(beat("a", 1, &[9]))),
        "The consumer group member has a smaller member epoch (1) than the one known by the \
         group coordinator (2). The member must abandon all its partitions and rejoin."
    );
}

#[test]
fn a_silent_member_is_removed_at_its_session_timeout() {
    let mut h = H::new(2);
    h.hb(join("a"));
    h.now = 10_000;
    h.hb(join("b"));
    assert_eq!(h.g.next_deadline_ms(), Some(45_000));
    assert!(h.g.expire(at(44_999), &h.s).is_empty());
    assert_eq!(h.g.expire(at(45_000), &h.s), vec!["a".to_string()]);
    h.now = 45_000;
    let r = h.hb(beat("b", h.g.members["b"].epoch, &[]));
    assert_eq!(parts(&r.assignment), vec![0, 1]);
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_removed() {
    let mut h = H::new(2);
    h.hb(join("a"));
    h.hb(join("b"));
    h.hb(beat("a", 1, &[0, 1]));
    assert_eq!(
        h.g.members["a"].revocation_deadline_ms,
        Some(30_000),
        "the rebalance timeout"
    );
    h.now = 20_000;
    h.hb(beat("b", 2, &[]));
    // Still owning them on a later heartbeat does not extend the deadline.
    h.hb(beat("a", 1, &[0, 1]));
    assert_eq!(h.g.members["a"].revocation_deadline_ms, Some(30_000));
    assert_eq!(h.g.expire(at(30_000), &h.s), vec!["a".to_string()]);
}

#[test]
fn a_static_member_keeps_its_partitions_across_a_static_leave() {
    let mut h = H::new(2);
    let r = h.hb(ConsumerHeartbeatArgs {
        instance_id: Some("i".into()),
        ..join("a")
    });
    assert_eq!(r.member_epoch, 1);
    let r = h.hb(ConsumerHeartbeatArgs {
        member_epoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH,
        instance_id: Some("i".into()),
        ..beat("a", 1, &[0, 1])
    });
    assert_eq!(r.member_epoch, -2);
    assert_eq!(h.g.owner(T, 0), Some("a"));
    assert_eq!(h.g.epoch, 1, "a static leave does not rebalance");
    // Back under a new member id: same epoch, same partitions.
    let r = h.hb(ConsumerHeartbeatArgs {
        instance_id: Some("i".into()),
        ..join("a2")
    });
    assert_eq!((r.member_epoch, parts(&r.assignment)), (1, vec![0, 1]));
    // The instance id is taken while a2 is active.
    let r = h.hb(ConsumerHeartbeatArgs {
        instance_id: Some("i".into()),
        ..join("a3")
    });
    assert_eq!(r.error_code, ErrorCode::UNRELEASED_INSTANCE_ID);
}

#[test]
fn bad_requests_get_kafkas_codes() {
    let mut h = H::new(2);
    let cases = [
        (join(""), ErrorCode::INVALID_REQUEST),
        (
            ConsumerHeartbeatArgs {
                subscribed_topic_regex: Some("t(.*".into()),
                ..join("a")
            },
            ErrorCode::INVALID_REGULAR_EXPRESSION,
        ),
        (
            ConsumerHeartbeatArgs {
                subscribed_topic_names: None,
                ..join("a")
            },
            ErrorCode::INVALID_REQUEST,
        ),
        (
            ConsumerHeartbeatArgs {
                rebalance_timeout_ms: -1,
                ..join("a")
            },
            ErrorCode::INVALID_REQUEST,
        ),
        (
            ConsumerHeartbeatArgs {
                owned: Some(vec![(T, vec![0])]),
                ..join("a")
            },
            ErrorCode::INVALID_REQUEST,
        ),
        (
            ConsumerHeartbeatArgs {
                member_epoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH,
                ..join("a")
            },
            ErrorCode::INVALID_REQUEST,
        ),
        (
            ConsumerHeartbeatArgs {
                server_assignor: Some("sticky".into()),
                ..join("a")
            },
            ErrorCode::UNSUPPORTED_ASSIGNOR,
        ),
    ];
    for (req, code) in cases {
        let r = h.hb(req.clone());
        assert_eq!(r.error_code, code, "{req:?}");
        assert!(r.error_message.is_some());
    }
    assert!(h.g.members.is_empty());
}

#[test]
fn subscribed_topic_names_of_exactly_the_bound_are_accepted_and_one_byte_more_refused() {
    use crate::limits::CONSUMER_SUBSCRIPTION_BYTES_MAX;
    // Fifteen names of 16 KiB and a last one of `last` bytes (each under i16::MAX).
    let names = |last: usize| -> Vec<String> {
        let mut names: Vec<String> = (0..15)
            .map(|i| format!("{i:02}{}", "x".repeat(16_382)))
            .collect();
        names.push("y".repeat(last));
        names
    };
    let last = CONSUMER_SUBSCRIPTION_BYTES_MAX - 15 * 16_384;
    assert!(last < i16::MAX as usize);
    let mut h = H::new(2);
    let exact = names(last);
    assert_eq!(
        exact.iter().map(String::len).sum::<usize>(),
        CONSUMER_SUBSCRIPTION_BYTES_MAX
    );
    let r = h.hb(ConsumerHeartbeatArgs {
        subscribed_topic_names: Some(exact),
        ..join("a")
    });
    assert_eq!(r.error_code, ErrorCode::NONE, "{:?}", r.error_message);
    assert_eq!(r.member_epoch, 1);
    let r = h.hb(ConsumerHeartbeatArgs {
        subscribed_topic_names: Some(names(last + 1)),
        ..join("b")
    });
    assert_eq!(r.error_code, ErrorCode::INVALID_REQUEST);
    assert!(!h.g.members.contains_key("b"));
}

#[test]
fn the_members_choice_of_assignor_wins() {
    let mut h = H::new(4);
    h.hb(ConsumerHeartbeatArgs {
        server_assignor: Some("range".into()),
        ..join("a")
    });
    assert_eq!(h.g.assignor(&h.s).name(), "range");
    let r = h.hb(join("b"));
    assert_eq!(r.error_code, ErrorCode::NONE);
    // Range: a (first by id) gets 0..2 as its target.
    assert_eq!(
        h.g.target["a"][&T].iter().copied().collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn the_assignor_most_members_ask_for_wins_over_one_configured_earlier() {
    let mut h = H::new(4);
    for (member, assignor) in [("a", "range"), ("b", "uniform"), ("c", "range")] {
        let r = h.hb(ConsumerHeartbeatArgs {
            server_assignor: Some(assignor.into()),
            ..join(member)
        });
        assert_eq!(r.error_code, ErrorCode::NONE);
    }
    assert_eq!(h.s.assignors.first().map(|a| a.name()), Some("uniform"));
    assert_eq!(h.g.assignor(&h.s).name(), "range", "two votes beat one");
}

/// Kafka's `computePreferredServerAssignor`: the count decides, whatever the configured order;
/// that order only breaks ties. Here the one configured first has the most votes, and one
/// configured after it (with fewer) must not displace it.
#[test]
fn the_assignor_most_members_ask_for_wins_over_one_with_fewer_votes_configured_later() {
    let mut h = H::new(4);
    for (member, assignor) in [("a", "uniform"), ("b", "range"), ("c", "uniform")] {
        let r = h.hb(ConsumerHeartbeatArgs {
            server_assignor: Some(assignor.into()),
            ..join(member)
        });
        assert_eq!(r.error_code, ErrorCode::NONE);
    }
    assert_eq!(h.s.assignors.last().map(|a| a.name()), Some("range"));
    assert_eq!(h.g.assignor(&h.s).name(), "uniform", "two votes beat one");
}

/// OffsetCommit and OffsetFetch v9 against a consumer group (Kafka's `ConsumerGroup`
/// `validateOffsetCommit`/`validateOffsetFetch`): a member at another epoch is stale either
/// way, an unknown member unknown, a member below v9 unsupported; a tool commits only while
/// the group has no members, and fetches with no member id.
#[test]
fn commits_and_fetches_are_checked_against_the_member_and_its_epoch() {
    let mut h = H::new(2);
    assert_eq!(h.hb(join("a")).member_epoch, 1);
    let g = &h.g;
    assert_eq!(g.commit_allowed(1, "a", 9), Ok(()));
    assert_eq!(
        g.commit_allowed(0, "a", 9),
        Err(ErrorCode::STALE_MEMBER_EPOCH)
    );
    assert_eq!(
        g.commit_allowed(2, "a", 9),
        Err(ErrorCode::STALE_MEMBER_EPOCH)
    );
    assert_eq!(
        g.commit_allowed(1, "b", 9),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(
        g.commit_allowed(1, "a", 8),
        Err(ErrorCode::UNSUPPORTED_VERSION)
    );
    assert_eq!(
        g.commit_allowed(-1, "", 9),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(g.fetch_allowed(Some("a"), 1), Ok(()));
    assert_eq!(
        g.fetch_allowed(Some("a"), 2),
        Err(ErrorCode::STALE_MEMBER_EPOCH)
    );
    assert_eq!(
        g.fetch_allowed(Some("b"), 1),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(g.fetch_allowed(None, -1), Ok(()));
    assert_eq!(g.fetch_allowed(Some(""), -1), Ok(()));
    assert_eq!(g.fetch_allowed(None, 3), Err(ErrorCode::UNKNOWN_MEMBER_ID));
    h.hb(beat("a", -1, &[]));
    assert!(h.g.members.is_empty());
    assert_eq!(
        h.g.commit_allowed(-1, "", 8),
        Ok(()),
        "a reset of an empty group"
    );
}

/// Only a negative epoch marks a fetch without a member id as an admin's (Kafka's
/// `memberEpoch < 0`): at epoch 0 it names no member, so the member is unknown.
#[test]
fn a_fetch_without_a_member_id_at_epoch_zero_is_refused_as_an_unknown_member() {
    let mut h = H::new(2);
    assert_eq!(h.hb(join("a")).member_epoch, 1);
    assert_eq!(
        h.g.fetch_allowed(None, 0),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(
        h.g.fetch_allowed(Some(""), 0),
        Err(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(h.g.fetch_allowed(None, -1), Ok(()));
}

// Regex subscriptions (KIP-848 `SubscribedTopicRegex`, Kafka's `GroupMetadataManager`).

const RX_A: TopicId = [1; 16];
const RX_B: TopicId = [2; 16];
const OTHER: TopicId = [3; 16];
const RX_C: TopicId = [4; 16];

fn rx_topics() -> TopicView {
    BTreeMap::from([
        (
            "rx-a".to_string(),
            TopicInfo {
                id: RX_A,
                partitions: 2,
            },
        ),
        (
            "rx-b".to_string(),
            TopicInfo {
                id: RX_B,
                partitions: 1,
            },
        ),
        (
            "other".to_string(),
            TopicInfo {
                id: OTHER,
                partitions: 1,
            },
        ),
    ])
}

fn rx_join(member: &str, names: Option<&[&str]>, regex: &str) -> ConsumerHeartbeatArgs {
    ConsumerHeartbeatArgs {
        subscribed_topic_names: names.map(|n| n.iter().map(|t| t.to_string()).collect()),
        subscribed_topic_regex: Some(regex.into()),
        ..join(member)
    }
}

/// A steady heartbeat without owned partitions (the member says nothing of them).
fn rx_beat(member: &str, epoch: i32) -> ConsumerHeartbeatArgs {
    ConsumerHeartbeatArgs {
        owned: None,
        ..beat(member, epoch, &[])
    }
}

fn rx_h() -> H {
    H {
        topics: rx_topics(),
        ..H::new(1)
    }
}

/// (topic id, partitions) of an assignment.
fn by_topic(a: &Option<WireAssignment>) -> BTreeMap<TopicId, Vec<i32>> {
    a.clone().expect("an assignment").into_iter().collect()
}

/// librdkafka's `subscribe(["^rx-.*"])` sends `(^rx-.*)`: the member gets every partition of
/// the matching topics and none of the others.
#[test]
fn a_regex_member_is_assigned_the_topics_its_pattern_matches() {
    let mut h = rx_h();
    let r = h.hb(rx_join("a", None, "(^rx-.*)"));
    assert_eq!(r.error_code, ErrorCode::NONE, "{:?}", r.error_message);
    // As in Kafka, the heartbeat that brings a new pattern is assigned the named topics only;
    // the next one matches the pattern, in a new epoch.
    assert_eq!(by_topic(&r.assignment), BTreeMap::new());
    let r = h.hb(rx_beat("a", r.member_epoch));
    assert_eq!(r.member_epoch, 2);
    assert_eq!(
        by_topic(&r.assignment),
        BTreeMap::from([(RX_A, vec![0, 1]), (RX_B, vec![0])])
    );
    let d = h.g.describe();
    assert_eq!(
        d.members[0].subscribed_topic_regex.as_deref(),
        Some("(^rx-.*)")
    );
    assert_eq!(
        h.g.subscribed_topics(),
        ["rx-a", "rx-b"].map(String::from).into()
    );
}

/// The subscription is the union of the names and the pattern's matches, and a pattern must
/// match the whole name (RE2/J's `matches`, not `find`).
#[test]
fn names_and_pattern_join_and_the_pattern_matches_whole_names() {
    let mut h = rx_h();
    let r = h.hb(rx_join("a", Some(&["other"]), "rx-a"));
    assert_eq!(by_topic(&r.assignment), BTreeMap::from([(OTHER, vec![0])]));
    let r = h.hb(rx_beat("a", r.member_epoch));
    assert_eq!(
        by_topic(&r.assignment),
        BTreeMap::from([(RX_A, vec![0, 1]), (OTHER, vec![0])])
    );
    for (pattern, matched) in [
        ("rx", vec![]),
        ("rx-", vec![]),
        ("x-.*", vec![]),
        ("rx-.", vec![RX_A, RX_B]),
        ("^rx-a$", vec![RX_A]),
        ("(^rx-a)|(^oth.*)", vec![RX_A, OTHER]),
        ("a|rx-a", vec![RX_A]), // an alternative that is a prefix does not stop the match
    ] {
        let mut h = rx_h();
        let r = h.rx_joined("a", Some(&[]), pattern);
        let got: Vec<TopicId> = by_topic(&r.assignment.or(Some(Vec::new())))
            .into_keys()
            .collect();
        assert_eq!(got, matched, "pattern {pattern}");
    }
}

/// Kafka resolves a pattern against every topic of the metadata image, internal ones
/// included (only a DESCRIBE ACL filters them): `.*` matches `__consumer_offsets` too.
#[test]
fn internal_topics_are_matched_as_kafka_matches_them() {
    let mut h = rx_h();
    let offsets: TopicId = [9; 16];
    h.topics.insert(
        "__consumer_offsets".into(),
        TopicInfo {
            id: offsets,
            partitions: 2,
        },
    );
    let r = h.rx_joined("a", None, ".*");
    assert!(by_topic(&r.assignment).contains_key(&offsets));
    let mut h2 = H {
        topics: h.topics.clone(),
        ..H::new(1)
    };
    let r = h2.rx_joined("a", None, "[a-z].*");
    assert!(!by_topic(&r.assignment).contains_key(&offsets));
}

/// A pattern that does not compile is refused with Kafka's code and message, and the group
/// is left as it was (no member, no epoch).
#[test]
fn an_invalid_pattern_is_refused_and_changes_nothing() {
    let mut h = rx_h();
    let r = h.hb(rx_join("a", None, "rx-(a"));
    assert_eq!(r.error_code, ErrorCode::INVALID_REGULAR_EXPRESSION);
    let msg = r.error_message.unwrap();
    assert!(
        msg.starts_with("SubscribedTopicRegex `rx-(a` is not a valid regular expression: "),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(h.g.members.is_empty());
    assert_eq!(h.g.epoch, 0);
    assert!(h.g.regexes_kept().is_empty());
    // A member already in the group keeps its subscription when its new pattern is refused.
    h.hb(rx_join("a", None, "rx-a"));
    let epoch = h.g.epoch;
    let r = h.hb(ConsumerHeartbeatArgs {
        subscribed_topic_regex: Some("(".into()),
        ..rx_beat("a", epoch)
    });
    assert_eq!(r.error_code, ErrorCode::INVALID_REGULAR_EXPRESSION);
    assert_eq!(h.g.members["a"].subscribed_regex.as_deref(), Some("rx-a"));
    assert_eq!(h.g.epoch, epoch);
    // Stray parentheses that pair up with the anchors' are no pattern either.
    let r = h.hb(rx_join("b", None, "rx-a)|(other"));
    assert_eq!(r.error_code, ErrorCode::INVALID_REGULAR_EXPRESSION);
}

/// A topic created later that matches joins the subscription at the next heartbeat: a new
/// group epoch and a target that includes it.
#[test]
fn a_matching_topic_created_later_is_assigned() {
    let mut h = rx_h();
    h.rx_joined("a", None, "(^rx-.*)");
    let epoch = h.g.epoch;
    let r = h.hb(rx_beat("a", epoch));
    assert_eq!(r.assignment, None);
    h.topics.insert(
        "rx-c".into(),
        TopicInfo {
            id: RX_C,
            partitions: 3,
        },
    );
    h.topics.insert(
        "nope".into(),
        TopicInfo {
            id: [5; 16],
            partitions: 1,
        },
    );
    let r = h.hb(rx_beat("a", epoch));
    assert_eq!(h.g.epoch, epoch + 1);
    assert_eq!(r.member_epoch, epoch + 1);
    assert_eq!(
        by_topic(&r.assignment),
        BTreeMap::from([(RX_A, vec![0, 1]), (RX_B, vec![0]), (RX_C, vec![0, 1, 2])])
    );
    // A topic that does not match changes nothing.
    h.topics.insert(
        "zzz".into(),
        TopicInfo {
            id: [6; 16],
            partitions: 1,
        },
    );
    h.hb(rx_beat("a", epoch + 1));
    assert_eq!(h.g.epoch, epoch + 1);
    // A matching topic deleted leaves the subscription.
    h.topics.remove("rx-a");
    let r = h.hb(rx_beat("a", epoch + 1));
    assert_eq!(h.g.epoch, epoch + 2);
    assert!(!by_topic(&r.assignment).contains_key(&RX_A));
}

/// An empty pattern is none (Kafka's `isNotEmpty`): a member that sends one drops its
/// pattern; one that sends none keeps it. A member may join with a pattern and no names.
#[test]
fn an_empty_pattern_drops_the_members_pattern_and_a_missing_one_keeps_it() {
    let mut h = rx_h();
    h.rx_joined("a", None, "rx-a");
    let epoch = h.g.epoch;
    h.hb(rx_beat("a", epoch));
    assert_eq!(h.g.members["a"].subscribed_regex.as_deref(), Some("rx-a"));
    let r = h.hb(ConsumerHeartbeatArgs {
        subscribed_topic_regex: Some(String::new()),
        ..rx_beat("a", epoch)
    });
    assert_eq!(r.error_code, ErrorCode::NONE);
    assert_eq!(h.g.members["a"].subscribed_regex, None);
    assert_eq!(h.g.epoch, epoch + 1);
    assert!(h.g.subscribed_topics().is_empty());
    // Neither names nor a pattern when joining is refused.
    let r = h.hb(ConsumerHeartbeatArgs {
        subscribed_topic_names: None,
        subscribed_topic_regex: None,
        ..join("b")
    });
    assert_eq!(r.error_code, ErrorCode::INVALID_REQUEST);
}

/// Hostile patterns are refused, never a panic nor a long compile: too long, compiling too
/// big (a short pattern over Unicode classes), nested too deep.
#[test]
fn patterns_past_the_bounds_are_refused() {
    use crate::limits::{CONSUMER_REGEX_BYTES_MAX, CONSUMER_REGEX_NEST_MAX};
    let long = "a".repeat(CONSUMER_REGEX_BYTES_MAX + 1);
    let deep = format!(
        "{}a{}",
        "(".repeat(CONSUMER_REGEX_NEST_MAX as usize + 1),
        ")".repeat(CONSUMER_REGEX_NEST_MAX as usize + 1)
    );
    for pattern in [long.as_str(), r"\w{1000}", r"(\w{100}){100}", deep.as_str()] {
        let mut h = rx_h();
        let r = h.hb(rx_join("a", None, pattern));
        assert_eq!(
            r.error_code,
            ErrorCode::INVALID_REGULAR_EXPRESSION,
            "{pattern:.40}"
        );
        assert!(r.error_message.unwrap().len() < 500);
        assert!(h.g.members.is_empty());
    }
    // Just within the length bound is fine.
    let mut h = rx_h();
    let ok = format!("rx-a|{}", "b".repeat(CONSUMER_REGEX_BYTES_MAX - 5));
    assert_eq!(h.hb(rx_join("a", None, &ok)).error_code, ErrorCode::NONE);
}

/// The group keeps one compiled pattern per distinct pattern of its members, shared by them,
/// and drops it once no member has it.
#[test]
fn the_group_keeps_its_members_patterns_compiled_once() {
    let mut h = rx_h();
    h.hb(rx_join("a", None, "(^rx-.*)"));
    h.hb(rx_join("b", None, "(^rx-.*)"));
    h.hb(rx_join("c", None, "other"));
    assert_eq!(h.g.regexes_kept(), vec!["(^rx-.*)", "other"]);
    h.hb(ConsumerHeartbeatArgs {
        member_epoch: LEAVE_GROUP_MEMBER_EPOCH,
        ..join("c")
    });
    let epoch = h.g.members["a"].epoch;
    h.hb(rx_beat("a", epoch));
    assert_eq!(h.g.regexes_kept(), vec!["(^rx-.*)"]);
    // Two members share three partitions of the matched topics.
    let held: usize = (h.g.target.values())
        .map(|a| a.values().map(|ps| ps.len()).sum::<usize>())
        .sum();
    assert_eq!(held, 3);
}

/// librdkafka's `0045_resubscribe_with_regex` under `group.protocol=consumer`: a member that
/// left and subscribes again to its old pattern and a name gets the named topic first, the
/// pattern's topics at the next heartbeat, as from Kafka (the pattern left with its last
/// member).
#[test]
fn a_pattern_subscribed_again_after_its_last_member_left_is_new_again() {
    let mut h = rx_h();
    h.rx_joined("a", None, "(^rx-.*)");
    h.hb(ConsumerHeartbeatArgs {
        member_epoch: LEAVE_GROUP_MEMBER_EPOCH,
        ..join("a")
    });
    let r = h.hb(rx_join("a", Some(&["other"]), "(^rx-.*)"));
    assert_eq!(by_topic(&r.assignment), BTreeMap::from([(OTHER, vec![0])]));
    let r = h.hb(rx_beat("a", r.member_epoch));
    assert_eq!(
        by_topic(&r.assignment),
        BTreeMap::from([(RX_A, vec![0, 1]), (RX_B, vec![0]), (OTHER, vec![0])])
    );
}

/// A refused heartbeat (an unknown member, a fenced epoch) leaves its pattern nowhere: a
/// client cannot fill an idle group's cache with compiled patterns.
#[test]
fn a_refused_heartbeat_keeps_no_compiled_pattern() {
    let mut h = rx_h();
    h.hb(rx_join("a", None, "(^rx-.*)"));
    let unknown = ConsumerHeartbeatArgs {
        subscribed_topic_regex: Some("other.*".into()),
        ..rx_beat("nobody", 3)
    };
    assert_eq!(h.hb(unknown).error_code, ErrorCode::UNKNOWN_MEMBER_ID);
    let fenced = ConsumerHeartbeatArgs {
        subscribed_topic_regex: Some("rx-b".into()),
        ..rx_beat("a", 99)
    };
    assert_eq!(h.hb(fenced).error_code, ErrorCode::FENCED_MEMBER_EPOCH);
    assert_eq!(h.g.regexes_kept(), vec!["(^rx-.*)"]);
}

/// The pattern is in the member's record: a load gives it back, the first heartbeat after it
/// resolves it again, and a restart alone starts no new epoch.
#[test]
fn a_restored_member_keeps_its_pattern() {
    let mut h = rx_h();
    h.rx_joined("a", None, "(^rx-.*)");
    let epoch = h.g.epoch;
    h.hb(rx_beat("a", epoch));
    let records = persist::image(&h.g).into_iter().collect();
    let restored = persist::restore("g".into(), records, at(h.now), 45_000).expect("restored");
    assert_eq!(
        restored.members["a"].subscribed_regex.as_deref(),
        Some("(^rx-.*)")
    );
    // Until its next heartbeat matches the pattern again, the member may subscribe to
    // anything: retention and OffsetDelete must not take the topics it reads.
    assert_eq!(restored.subscribed(), Subscribed::Everything);
    h.g = restored;
    let r = h.hb(ConsumerHeartbeatArgs {
        owned: Some(vec![(RX_A, vec![0, 1]), (RX_B, vec![0])]),
        ..rx_beat("a", epoch)
    });
    let matched = ["rx-a", "rx-b"].map(String::from).into_iter().collect();
    assert_eq!(h.g.subscribed(), Subscribed::Topics(matched));
    assert_eq!(r.error_code, ErrorCode::NONE);
    assert_eq!(h.g.epoch, epoch, "a restart alone starts no new epoch");
    // And a matching topic created after the restart is assigned.
    h.topics.insert(
        "rx-c".into(),
        TopicInfo {
            id: RX_C,
            partitions: 1,
        },
    );
    let r = h.hb(rx_beat("a", epoch));
    assert_eq!(h.g.epoch, epoch + 1);
    assert!(by_topic(&r.assignment).contains_key(&RX_C));
}

/// The dialect at its edges: RE2/J's flags work, a verbose-mode comment cannot swallow the
/// anchors, `\Q...\E` is refused, and every refusal is one line in Kafka's words.
#[test]
fn patterns_compile_as_re2j_reads_them_where_the_dialects_agree() {
    use super::topic_regex::compile;
    let matches = |p: &str, name: &str| compile(p).expect(p).is_match(name);
    assert!(matches("(?i)RX-A", "rx-a"));
    assert!(matches("(^rx-a)|(^b.*)", "bee"));
    assert!(matches(r"rx-\d+", "rx-42"));
    assert!(!matches(r"rx-\d+", "rx-42x"));
    assert!(!matches("(?m)^rx$", "rx\nrx"));
    for bad in ["(?x)rx-a#", r"\Qrx-a\E", "rx-[a", "*", "a{2,1}"] {
        let msg = compile(bad).expect_err(bad);
        assert!(
            msg.starts_with(&format!(
                "SubscribedTopicRegex `{bad}` is not a valid regular expression: "
            )),
            "{msg}"
        );
        assert!(msg.ends_with('.') && !msg.contains('\n'), "{msg}");
    }
}

/// A refusal says what is wrong with the pattern: the last line of the regex crate's diagram
/// (the member reads it in the heartbeat's error message).
#[test]
fn a_refused_pattern_s_message_names_the_fault() {
    use super::topic_regex::compile;
    for (bad, why) in [
        ("rx-(a", "unclosed group"),
        ("rx-[a", "unclosed character class"),
    ] {
        assert_eq!(
            compile(bad).expect_err(bad),
            format!("SubscribedTopicRegex `{bad}` is not a valid regular expression: {why}.")
        );
    }
}
