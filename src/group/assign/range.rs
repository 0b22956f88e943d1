//! Kafka's server-side `RangeAssignor`, per topic: the members subscribed to a topic, in
//! member id order, each get a contiguous range of its partitions; the first
//! `partitions % members` get one more. Topics with the same partition count and the same
//! subscribers are split the same way, which is what co-partitioned joins need.

use super::{add, empty_target, AssignInput, TargetAssignment};

pub fn assign(input: &AssignInput) -> TargetAssignment {
    let mut target = empty_target(input);
    for (&topic, &partitions) in &input.partitions {
        let subscribers: Vec<&String> = input
            .members
            .iter()
            .filter(|(_, spec)| spec.subscribed.contains(&topic))
            .map(|(id, _)| id)
            .collect();
        if subscribers.is_empty() || partitions <= 0 {
            continue;
        }
        let n = subscribers.len() as i32;
        let (quota, extra) = (partitions / n, partitions % n);
        let mut next = 0;
        for (i, member) in subscribers.into_iter().enumerate() {
            let len = quota + i32::from((i as i32) < extra);
            let slot = target.get_mut(member).expect("every member has a slot");
            for p in next..next + len {
                add(slot, topic, p);
            }
            next += len;
        }
    }
    target
}
