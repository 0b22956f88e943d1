//! The server-side assignors of KIP-848 consumer groups (Kafka's `UniformAssignor` and
//! `RangeAssignor`): pure functions from the members' subscriptions, the subscribed topics'
//! partition counts and the current target assignment to the next target assignment.
//!
//! * [`uniform`] — the default: partitions spread evenly, each kept by its current owner
//!   where the balance allows.
//! * [`range`] — per topic, contiguous ranges in member id order (co-partitioned joins).

pub mod range;
pub mod uniform;

use std::collections::{BTreeMap, BTreeSet};

/// A topic's id (Metadata v10+ `topic_id`, KIP-516): assignments name topics by id.
pub type TopicId = [u8; 16];

/// Partitions by topic id; a topic with no partitions is never kept as a key.
pub type Assignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// One member as an assignor sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberSpec {
    /// The subscribed topics that exist.
    pub subscribed: BTreeSet<TopicId>,
    /// The member's current target assignment (what stickiness keeps).
    pub current: Assignment,
}

/// An assignor's input: members by id and partition counts by topic id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssignInput {
    pub members: BTreeMap<String, MemberSpec>,
    pub partitions: BTreeMap<TopicId, i32>,
}

/// The target assignment: every member of the input, with what it should own.
pub type TargetAssignment = BTreeMap<String, Assignment>;

/// The assignors this coordinator offers (`group.consumer.assignors`, the first the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerAssignor {
    Uniform,
    Range,
}

impl ServerAssignor {
    /// Kafka's `group.consumer.assignors` default order: `uniform`, then `range`.
    pub const ALL: [ServerAssignor; 2] = [ServerAssignor::Uniform, ServerAssignor::Range];

    /// The name clients put in `server_assignor` and describe reports.
    pub fn name(self) -> &'static str {
        match self {
            ServerAssignor::Uniform => "uniform",
            ServerAssignor::Range => "range",
        }
    }

    /// The assignor a client names; `None` for a name this coordinator does not offer
    /// (UNSUPPORTED_ASSIGNOR).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `group.consumer.assignors`: a comma-separated list of names, in preference order.
    pub fn parse_list(names: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let a = Self::from_name(name)
                .ok_or_else(|| format!("unknown assignor '{name}' (uniform, range)"))?;
            if !out.contains(&a) {
                out.push(a);
            }
        }
        if out.is_empty() {
            return Err("at least one assignor is needed".into());
        }
        Ok(out)
    }

    pub fn assign(self, input: &AssignInput) -> TargetAssignment {
        match self {
            ServerAssignor::Uniform => uniform::assign(input),
            ServerAssignor::Range => range::assign(input),
        }
    }
}

/// Adds `partition` of `topic` to `assignment`.
pub(crate) fn add(assignment: &mut Assignment, topic: TopicId, partition: i32) {
    assignment.entry(topic).or_default().insert(partition);
}

/// How many partitions `assignment` holds.
pub fn count(assignment: &Assignment) -> usize {
    assignment.values().map(BTreeSet::len).sum()
}

/// Every member of `input`, with nothing assigned yet.
pub(crate) fn empty_target(input: &AssignInput) -> TargetAssignment {
    input
        .members
        .keys()
        .map(|m| (m.clone(), Assignment::new()))
        .collect()
}

#[cfg(test)]
mod tests;
