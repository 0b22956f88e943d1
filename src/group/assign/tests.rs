//! The assignors against their promises: uniform balance and stickiness, range contiguity,
//! every subscribed partition assigned exactly once, and stability (assigning again from the
//! result changes nothing).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn topic(n: u8) -> TopicId {
    [n; 16]
}

/// `members` members all subscribed to every topic of `partitions`.
fn homogeneous(members: usize, partitions: &[i32]) -> AssignInput {
    let topics: BTreeMap<TopicId, i32> = partitions
        .iter()
        .enumerate()
        .map(|(i, &n)| (topic(i as u8 + 1), n))
        .collect();
    let subscribed: BTreeSet<TopicId> = topics.keys().copied().collect();
    AssignInput {
        members: (0..members)
            .map(|m| {
                let spec = MemberSpec {
                    subscribed: subscribed.clone(),
                    current: Assignment::new(),
                };
                (format!("m{m:02}"), spec)
            })
            .collect(),
        partitions: topics,
    }
}

/// With the result fed back as each member's current assignment.
fn with_current(mut input: AssignInput, target: &TargetAssignment) -> AssignInput {
    for (id, spec) in input.members.iter_mut() {
        spec.current = target.get(id).cloned().unwrap_or_default();
    }
    input
}

/// Every partition a member subscribes to is assigned exactly once, to a subscriber.
fn assert_exactly_once(input: &AssignInput, target: &TargetAssignment) {
    let mut owners: BTreeMap<(TopicId, i32), &String> = BTreeMap::new();
    for (id, a) in target {
        for (t, ps) in a {
            assert!(
                input.members[id].subscribed.contains(t),
                "{id} not subscribed"
            );
            for &p in ps {
                assert!((0..input.partitions[t]).contains(&p), "{p} out of range");
                assert!(owners.insert((*t, p), id).is_none(), "{p} owned twice");
            }
        }
    }
    for (t, &n) in &input.partitions {
        if input.members.values().any(|m| m.subscribed.contains(t)) {
            for p in 0..n {
                assert!(owners.contains_key(&(*t, p)), "{p} of {t:?} unassigned");
            }
        }
    }
}

fn spread(target: &TargetAssignment) -> usize {
    let counts: Vec<usize> = target.values().map(count).collect();
    counts.iter().max().unwrap_or(&0) - counts.iter().min().unwrap_or(&0)
}

#[test]
fn uniform_gives_one_member_everything_and_splits_six_by_two() {
    let one = homogeneous(1, &[6]);
    assert_eq!(count(&ServerAssignor::Uniform.assign(&one)["m00"]), 6);
    let first = ServerAssignor::Uniform.assign(&one);
    let two = with_current(homogeneous(2, &[6]), &first);
    let target = ServerAssignor::Uniform.assign(&two);
    assert_eq!(count(&target["m00"]), 3);
    assert_eq!(count(&target["m01"]), 3);
    // The first member kept half of what it had: nothing of its stays moved needlessly.
    assert!(target["m00"][&topic(1)].is_subset(&first["m00"][&topic(1)]));
}

#[test]
fn range_splits_contiguously_first_members_get_the_extra() {
    let target = ServerAssignor::Range.assign(&homogeneous(3, &[7]));
    let got: Vec<Vec<i32>> = target
        .values()
        .map(|a| a[&topic(1)].iter().copied().collect())
        .collect();
    assert_eq!(got, vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]]);
}

#[test]
fn unknown_assignor_names_are_refused() {
    assert_eq!(
        ServerAssignor::from_name("uniform"),
        Some(ServerAssignor::Uniform)
    );
    assert_eq!(
        ServerAssignor::from_name("range"),
        Some(ServerAssignor::Range)
    );
    assert_eq!(ServerAssignor::from_name("sticky"), None);
}

/// `group.consumer.assignors` as an operator writes it: names trimmed, blank entries and
/// repeats skipped, preference order kept; an unknown name or no name at all is an error.
#[test]
fn the_assignor_list_keeps_its_order_and_skips_blanks_and_repeats() {
    assert_eq!(
        ServerAssignor::parse_list(" range , uniform,,range,"),
        Ok(vec![ServerAssignor::Range, ServerAssignor::Uniform])
    );
    assert_eq!(
        ServerAssignor::parse_list("uniform"),
        Ok(vec![ServerAssignor::Uniform])
    );
    assert!(ServerAssignor::parse_list("range,sticky").is_err());
    assert!(ServerAssignor::parse_list(" , ").is_err());
}

#[test]
fn members_get_only_subscribed_topics() {
    let mut input = homogeneous(2, &[2, 2]);
    input
        .members
        .get_mut("m01")
        .expect("member")
        .subscribed
        .remove(&topic(2));
    for a in ServerAssignor::ALL {
        let target = a.assign(&input);
        assert_exactly_once(&input, &target);
        assert!(!target["m01"].contains_key(&topic(2)), "{a:?}");
    }
}

#[test]
fn uniform_keeps_no_current_partition_that_is_unsubscribed_or_does_not_exist() {
    let mut input = homogeneous(2, &[2, 2]);
    let m01 = input.members.get_mut("m01").expect("member");
    m01.subscribed.remove(&topic(2));
    // m01 still holds topic 2's partition 0 (it unsubscribed) and topic 1's partition 5
    // (beyond the topic's 2 partitions).
    add(&mut m01.current, topic(2), 0);
    add(&mut m01.current, topic(1), 5);
    let target = ServerAssignor::Uniform.assign(&input);
    assert_exactly_once(&input, &target);
    assert!(!target["m01"].contains_key(&topic(2)));
    assert_eq!(target["m00"][&topic(2)], BTreeSet::from([0, 1]));
}

fn homogeneous_input() -> impl Strategy<Value = AssignInput> {
    (1usize..8, prop::collection::vec(0i32..13, 1..4))
        .prop_map(|(members, parts)| homogeneous(members, &parts))
}

/// A random earlier target, as if members came and went: each member holds a random subset.
fn with_random_current(input: AssignInput, seed: Vec<u8>) -> AssignInput {
    let mut input = input;
    let all: Vec<(TopicId, i32)> = input
        .partitions
        .iter()
        .flat_map(|(&t, &n)| (0..n).map(move |p| (t, p)))
        .collect();
    let ids: Vec<String> = input.members.keys().cloned().collect();
    for (i, (t, p)) in all.into_iter().enumerate() {
        let pick = seed.get(i).copied().unwrap_or(0) as usize;
        // Some partitions are owned by nobody (pick past the members).
        if let Some(id) = ids.get(pick % (ids.len() + 1)) {
            add(
                &mut input.members.get_mut(id).expect("member").current,
                t,
                p,
            );
        }
    }
    input
}

proptest! {
    #[test]
    fn uniform_is_balanced_complete_and_stable(
        input in homogeneous_input(),
        seed in prop::collection::vec(any::<u8>(), 40),
    ) {
        let input = with_random_current(input, seed);
        let target = ServerAssignor::Uniform.assign(&input);
        assert_exactly_once(&input, &target);
        prop_assert!(spread(&target) <= 1, "{:?}", target);
        let again = ServerAssignor::Uniform.assign(&with_current(input.clone(), &target));
        prop_assert_eq!(&again, &target);
        // Sticky: a member never loses a partition while it is below its fair share.
        let fair = input.partitions.values().map(|&n| n as usize).sum::<usize>()
            / input.members.len();
        for (id, spec) in &input.members {
            let kept = spec.current.iter().map(|(t, ps)| {
                ps.intersection(target[id].get(t).unwrap_or(&BTreeSet::new())).count()
            }).sum::<usize>();
            prop_assert!(kept >= count(&spec.current).min(fair), "{id} lost too much");
        }
    }

    #[test]
    fn range_is_contiguous_complete_and_stable(input in homogeneous_input()) {
        let target = ServerAssignor::Range.assign(&input);
        assert_exactly_once(&input, &target);
        for a in target.values() {
            for ps in a.values() {
                let (lo, hi) = (*ps.first().expect("non-empty"), *ps.last().expect("non-empty"));
                prop_assert_eq!((hi - lo + 1) as usize, ps.len(), "not contiguous: {:?}", ps);
            }
        }
        let again = ServerAssignor::Range.assign(&with_current(input, &target));
        prop_assert_eq!(again, target);
    }

    #[test]
    fn heterogeneous_subscriptions_assign_each_partition_once(
        members in 1usize..6,
        parts in prop::collection::vec(0i32..9, 1..4),
        subs in prop::collection::vec(any::<u8>(), 6),
    ) {
        let mut input = homogeneous(members, &parts);
        for (i, spec) in input.members.values_mut().enumerate() {
            let mask = subs[i];
            spec.subscribed.retain(|t| mask & (1 << (t[0] - 1)) != 0);
        }
        for a in ServerAssignor::ALL {
            let target = a.assign(&input);
            assert_exactly_once(&input, &target);
        }
    }
}
