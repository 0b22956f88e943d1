//! Which `__consumer_offsets` partition holds a group: the coordinator placement every Kafka
//! coordinator uses ([`coordinator_partition`]), keyed by the group id.

use crate::types::placement::coordinator_partition;

/// The `__consumer_offsets` partition of `group_id` when that topic has `partitions`
/// partitions.
pub fn offsets_partition(group_id: &str, partitions: i32) -> i32 {
    coordinator_partition(group_id, partitions)
}
