//! Kafka's server-side `UniformAssignor`: partitions spread as evenly as the subscriptions
//! allow, each kept by its current owner where that does not break the balance.
//!
//! When every member subscribes to the same topics the result is exact: each member gets
//! `total / members` partitions and `total % members` of them one more. First every member
//! keeps what it has, up to that quota (members already over it keep one extra while extras
//! remain); then every partition left goes to the least-loaded subscriber (ties to the member
//! id order). Members with different subscriptions get the same least-loaded filling, with
//! only the partitions still in their subscription kept.

use std::collections::BTreeMap;

use super::{add, count, empty_target, AssignInput, TargetAssignment, TopicId};

pub fn assign(input: &AssignInput) -> TargetAssignment {
    let mut target = empty_target(input);
    if input.members.is_empty() {
        return target;
    }
    let homogeneous = input
        .members
        .values()
        .all(|m| m.subscribed == input.members.values().next().expect("non-empty").subscribed);
    let total: usize = input
        .partitions
        .iter()
        .filter(|(t, _)| input.members.values().any(|m| m.subscribed.contains(*t)))
        .map(|(_, &n)| n.max(0) as usize)
        .sum();
    let members = input.members.len();
    let (quota, mut extras) = if homogeneous {
        (total / members, total % members)
    } else {
        // With different subscriptions an exact quota is not defined; keep what is still
        // subscribed, and let the filling balance the rest.
        (usize::MAX, 0)
    };

    // Keep: the current partitions that still exist and are still subscribed, up to the quota.
    let mut kept: BTreeMap<(TopicId, i32), ()> = BTreeMap::new();
    for (id, spec) in &input.members {
        let slot = target.get_mut(id).expect("every member has a slot");
        let valid = spec.current.iter().flat_map(|(&t, ps)| {
            ps.iter()
                .copied()
                .filter(move |&p| {
                    spec.subscribed.contains(&t)
                        && (0..input.partitions.get(&t).copied().unwrap_or(0)).contains(&p)
                })
                .map(move |p| (t, p))
        });
        for (t, p) in valid {
            // Two members claiming one partition (never from our own targets) keep it once.
            if kept.contains_key(&(t, p)) {
                continue;
            }
            let held = count(slot);
            let fits = held < quota || (held == quota && extras > 0);
            if !fits {
                break;
            }
            if held == quota {
                extras -= 1;
            }
            add(slot, t, p);
            kept.insert((t, p), ());
        }
    }

    // Fill: every partition not kept goes to its least-loaded subscriber.
    for (&topic, &n) in &input.partitions {
        for p in 0..n.max(0) {
            if kept.contains_key(&(topic, p)) {
                continue;
            }
            let best = input
                .members
                .iter()
                .filter(|(_, spec)| spec.subscribed.contains(&topic))
                .map(|(id, _)| (count(&target[id]), id))
                .min();
            if let Some((_, id)) = best {
                let id = id.clone();
                add(target.get_mut(&id).expect("a member"), topic, p);
            }
        }
    }
    target
}
