//! Where a new partition's replicas go: Kafka's rack-unaware assignment
//! (`AdminUtils.assignReplicasToBrokersRackUnaware`), the same formula, so a topic created
//! with the same brokers and the same two random numbers gets Kafka's layout.
//!
//! With the brokers sorted by id (`n` of them), a start index `s` and a replica shift `k`:
//! * partition `p`'s first replica (its preferred leader) is broker `(s + p) % n`, so leaders
//!   go round-robin and no broker leads more than one partition above any other;
//! * the shift goes up by one at every partition id that is a non-zero multiple of `n` (each
//!   time the first replicas wrap round), so the followers of partition `p + n` are not those
//!   of partition `p`;
//! * follower `j` (0-based) is broker `(first + 1 + (k + j) % (n - 1)) % n`: a distance of 1 to
//!   `n - 1` from the first, a different one for each `j`, so replicas are on distinct brokers.
//!
//! Kafka draws `s` and `k` uniformly below `n` from its own RNG; here the caller draws them
//! (from the node's seeded RNG), so placement stays a pure function.

use crate::limits::TOPIC_PARTITIONS_MAX;
use crate::types::{ErrorCode, NodeId, Refusal};

/// The two random numbers of a placement, drawn by the caller (Kafka: each uniform in
/// `0..brokers`; any value works, only its remainder matters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacementSeed {
    /// Which broker (in id order) takes partition 0's first replica.
    pub start_index: u32,
    /// Kafka's `nextReplicaShift`: how far partition 0's second replica is past its first,
    /// minus one.
    pub replica_shift: u32,
}

/// A new partitions' request: `count` partitions numbered from `first_partition` (0 for a new
/// topic, the current count for CreatePartitions), `replication_factor` replicas each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacementRequest {
    pub first_partition: i32,
    pub count: i32,
    pub replication_factor: i16,
}

/// The replicas of each new partition, in partition order, preferred leader first.
///
/// `brokers` are the candidates (the image's unfenced brokers), in any order; duplicates
/// count once. Refused as Kafka refuses: INVALID_PARTITIONS for a count below 1 or partition
/// ids past [`TOPIC_PARTITIONS_MAX`], INVALID_REPLICATION_FACTOR for a replication factor
/// below 1 or above the number of brokers.
pub fn place_replicas(
    brokers: &[NodeId],
    request: PlacementRequest,
    seed: PlacementSeed,
) -> Result<Vec<Vec<NodeId>>, Refusal> {
    let PlacementRequest {
        first_partition,
        count,
        replication_factor,
    } = request;
    let mut brokers = brokers.to_vec();
    brokers.sort();
    brokers.dedup();
    if count < 1 {
        return Err(Refusal::new(
            ErrorCode::INVALID_PARTITIONS,
            format!("number of partitions must be at least 1, got {count}"),
        ));
    }
    let in_bounds = first_partition >= 0
        && first_partition
            .checked_add(count)
            .is_some_and(|end| end <= TOPIC_PARTITIONS_MAX);
    if !in_bounds {
        return Err(Refusal::new(
            ErrorCode::INVALID_PARTITIONS,
            format!("partitions {first_partition}.. ({count} of them) pass the {TOPIC_PARTITIONS_MAX} a topic may have"),
        ));
    }
    if replication_factor < 1 || replication_factor as usize > brokers.len() {
        return Err(Refusal::new(
            ErrorCode::INVALID_REPLICATION_FACTOR,
            format!(
                "replication factor {replication_factor} is not between 1 and the {} available broker(s)",
                brokers.len()
            ),
        ));
    }
    let followers = replication_factor as u64 - 1;
    let n = brokers.len() as u64;
    let mut shift = u64::from(seed.replica_shift);
    let placed = (first_partition..first_partition + count).map(|partition| {
        let partition = partition as u64;
        if partition > 0 && partition.is_multiple_of(n) {
            shift += 1;
        }
        let first = (u64::from(seed.start_index) + partition) % n;
        let follower = |j: u64| (first + 1 + (shift + j) % (n - 1)) % n;
        std::iter::once(first)
            .chain((0..followers).map(follower))
            .map(|index| brokers[index as usize])
            .collect()
    });
    Ok(placed.collect())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    fn nodes(ids: &[u64]) -> Vec<NodeId> {
        ids.iter().copied().map(NodeId).collect()
    }

    fn place(
        brokers: &[u64],
        first_partition: i32,
        count: i32,
        replication_factor: i16,
        (start_index, replica_shift): (u32, u32),
    ) -> Result<Vec<Vec<u64>>, Refusal> {
        let request = PlacementRequest {
            first_partition,
            count,
            replication_factor,
        };
        let seed = PlacementSeed {
            start_index,
            replica_shift,
        };
        let placed = place_replicas(&nodes(brokers), request, seed)?;
        Ok((placed.into_iter())
            .map(|replicas| replicas.into_iter().map(|n| n.0).collect())
            .collect())
    }

    /// The table in `AdminUtils`' doc comment: five brokers, start 0, shift 0, ten partitions
    /// of three replicas. Partitions 5 to 9 come after the first wrap, so their followers sit
    /// one further along.
    #[test]
    fn kafka_s_documented_example_of_five_brokers_is_reproduced() {
        let placed = place(&[0, 1, 2, 3, 4], 0, 10, 3, (0, 0)).unwrap();
        let expected: Vec<Vec<u64>> = vec![
            vec![0, 1, 2],
            vec![1, 2, 3],
            vec![2, 3, 4],
            vec![3, 4, 0],
            vec![4, 0, 1],
            vec![0, 2, 3],
            vec![1, 3, 4],
            vec![2, 4, 0],
            vec![3, 0, 1],
            vec![4, 1, 2],
        ];
        assert_eq!(placed, expected);
    }

    /// Brokers 7, 3, 1 sort to [1, 3, 7]; start 2, shift 1; n − 1 = 2.
    /// p0: first (2+0)%3 = 2 → 7; follower (2 + 1 + 1%2)%3 = 1 → 3.
    /// p1: first 0 → 1; follower (0 + 1 + 1)%3 = 2 → 7.
    /// p2: first 1 → 3; follower (1 + 1 + 1)%3 = 0 → 1.
    /// p3 wraps: shift 2; first 2 → 7; follower (2 + 1 + 2%2)%3 = 0 → 1.
    #[test]
    fn brokers_are_taken_in_id_order_from_the_seeded_start_and_shift() {
        let placed = place(&[7, 3, 1], 0, 4, 2, (2, 1)).unwrap();
        assert_eq!(placed, vec![vec![7, 3], vec![1, 7], vec![3, 1], vec![7, 1]]);
    }

    /// CreatePartitions from partition 2 with brokers [0, 1, 2], start 0, shift 0: partition 2
    /// keeps the shift (2 is no multiple of 3), partition 3 raises it to 1.
    /// p2: first 2, follower (2 + 1 + 0)%3 = 0. p3: first 0, follower (0 + 1 + 1)%3 = 2.
    /// p4: first 1, follower (1 + 1 + 1)%3 = 0.
    #[test]
    fn added_partitions_continue_from_their_first_id() {
        let placed = place(&[0, 1, 2], 2, 3, 2, (0, 0)).unwrap();
        assert_eq!(placed, vec![vec![2, 0], vec![0, 2], vec![1, 0]]);
    }

    #[test]
    fn one_broker_takes_every_partition_with_one_replica() {
        assert_eq!(place(&[5], 0, 3, 1, (9, 9)).unwrap(), vec![vec![5]; 3]);
    }

    #[test]
    fn a_replication_factor_the_brokers_cannot_hold_is_refused_as_kafka_does() {
        let code = |r: Result<_, Refusal>| r.unwrap_err().code;
        let rf = ErrorCode::INVALID_REPLICATION_FACTOR;
        assert_eq!(code(place(&[1, 2], 0, 1, 3, (0, 0))), rf);
        // Duplicates count once.
        assert_eq!(code(place(&[1, 1], 0, 1, 2, (0, 0))), rf);
        assert_eq!(code(place(&[1, 2], 0, 1, 0, (0, 0))), rf);
        assert_eq!(code(place(&[], 0, 1, 1, (0, 0))), rf);
    }

    #[test]
    fn partition_counts_and_ids_outside_a_topic_s_bounds_are_refused() {
        let code = |r: Result<_, Refusal>| r.unwrap_err().code;
        let partitions = ErrorCode::INVALID_PARTITIONS;
        assert_eq!(code(place(&[1], 0, 0, 1, (0, 0))), partitions);
        assert_eq!(code(place(&[1], -1, 1, 1, (0, 0))), partitions);
        assert_eq!(
            code(place(&[1], 0, TOPIC_PARTITIONS_MAX + 1, 1, (0, 0))),
            partitions
        );
        assert_eq!(code(place(&[1], i32::MAX, 2, 1, (0, 0))), partitions);
        assert!(place(&[1], 0, TOPIC_PARTITIONS_MAX, 1, (0, 0)).is_ok());
    }

    fn brokers() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::btree_set(0u64..40, 1..9).prop_map(|set| set.into_iter().collect())
    }

    proptest! {
        #[test]
        fn replicas_are_distinct_live_brokers_and_as_many_as_asked(
            brokers in brokers(),
            first in 0i32..50,
            count in 1i32..60,
            rf_pick in 0usize..8,
            seed in (any::<u32>(), any::<u32>()),
        ) {
            let rf = (rf_pick % brokers.len()) as i16 + 1;
            let placed = place(&brokers, first, count, rf, seed).unwrap();
            prop_assert_eq!(placed.len(), count as usize);
            for replicas in &placed {
                prop_assert_eq!(replicas.len(), rf as usize);
                let distinct: BTreeSet<_> = replicas.iter().collect();
                prop_assert_eq!(distinct.len(), replicas.len());
                prop_assert!(replicas.iter().all(|r| brokers.contains(r)));
            }
        }

        /// Leaders go round-robin: counts differ by at most one, and are equal when the
        /// partitions are a multiple of the brokers.
        #[test]
        fn leaders_spread_evenly_over_the_brokers(
            brokers in brokers(),
            rounds in 1i32..5,
            extra in 0i32..8,
            seed in (any::<u32>(), any::<u32>()),
        ) {
            let n = brokers.len() as i32;
            let count = rounds * n + extra % n;
            let placed = place(&brokers, 0, count, 1, seed).unwrap();
            let mut led: BTreeMap<u64, i32> = brokers.iter().map(|b| (*b, 0)).collect();
            for replicas in &placed {
                *led.get_mut(&replicas[0]).unwrap() += 1;
            }
            let (min, max) = (led.values().min().unwrap(), led.values().max().unwrap());
            prop_assert!(max - min <= 1, "{:?}", led);
            if count % n == 0 {
                prop_assert_eq!(min, max);
            }
        }

        /// The seed's values only matter modulo the broker count (and the shift modulo one
        /// less), as in Kafka, where they are drawn below the broker count.
        #[test]
        fn only_the_remainders_of_the_seed_matter(
            brokers in brokers(),
            count in 1i32..30,
            seed in (0u32..1000, 0u32..1000),
        ) {
            let n = brokers.len() as u32;
            let rf = brokers.len().min(3) as i16;
            let reduced = (seed.0 % n, if n > 1 { seed.1 % (n - 1) } else { seed.1 });
            prop_assert_eq!(
                place(&brokers, 0, count, rf, seed).unwrap(),
                place(&brokers, 0, count, rf, reduced).unwrap()
            );
        }
    }
}
