//! One member's next step toward its target assignment (Kafka's `CurrentAssignmentBuilder`).
//!
//! The safety rule: a partition goes to its new owner only once no other member holds it —
//! neither assigned nor waiting to be revoked. A member that must give partitions up keeps its
//! epoch and waits in `UnrevokedPartitions` until a heartbeat's owned partitions no longer
//! contain them; only then does it move to the target epoch.

use crate::faults::{self, Canary};
use crate::group::assign::{Assignment, TopicId};

use super::member::{ConsumerMember, MemberState};

/// The member's next state. `owned` is what its heartbeat says it owns (`None`: not sent,
/// so it may still own everything); `free` tells whether another member holds a partition.
pub fn reconcile(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    free: impl Fn(TopicId, i32) -> bool,
) -> ConsumerMember {
    match member.state {
        MemberState::Stable if member.epoch == target_epoch => member.clone(),
        MemberState::UnrevokedPartitions if owns_any(owned, &member.pending_revocation) => {
            member.clone()
        }
        _ => next_assignment(member, target_epoch, target, owned, free),
    }
}

/// Whether the member may still own some of `partitions`.
fn owns_any(owned: Option<&Assignment>, partitions: &Assignment) -> bool {
    let Some(owned) = owned else {
        return true;
    };
    partitions.iter().any(|(t, ps)| {
        owned
            .get(t)
            .is_some_and(|o| ps.iter().any(|p| o.contains(p)))
    })
}

fn next_assignment(
    member: &ConsumerMember,
    target_epoch: i32,
    target: &Assignment,
    owned: Option<&Assignment>,
    free: impl Fn(TopicId, i32) -> bool,
) -> ConsumerMember {
    let mut retained = Assignment::new();
    let mut revoke = Assignment::new();
    let mut assignable = Assignment::new();
    let mut unreleased = false;
    for (t, ps) in &member.assigned {
        for &p in ps {
            let keep = target.get(t).is_some_and(|tp| tp.contains(&p));
            let into = if keep { &mut retained } else { &mut revoke };
            into.entry(*t).or_default().insert(p);
        }
    }
    for (t, ps) in target {
        for &p in ps {
            if member.assigned.get(t).is_some_and(|a| a.contains(&p)) {
                continue;
            }
            // The canary hands over a partition its previous owner still holds.
            if free(*t, p) || faults::canary(Canary::ConsumerAssignUnreleased) {
                assignable.entry(*t).or_default().insert(p);
            } else {
                unreleased = true;
            }
        }
    }
    let mut next = member.clone();
    if !revoke.is_empty() && owns_any(owned, &revoke) {
        // Revoke first; the epoch stays until the member shows it let them go.
        next.state = MemberState::UnrevokedPartitions;
        next.assigned = retained;
        next.pending_revocation = revoke;
        return next;
    }
    for (t, ps) in assignable {
        retained.entry(t).or_default().extend(ps);
    }
    if next.epoch != target_epoch {
        next.previous_epoch = next.epoch;
        next.epoch = target_epoch;
    }
    next.state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    next.assigned = retained;
    next.pending_revocation = Assignment::new();
    next
}
