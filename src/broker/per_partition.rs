//! Per-request partition lists as Kafka reads them: one entry per topic-partition, and
//! responses grouped per topic — both in O(n log n), whatever the client sends.
//!
//! Kafka collects a Produce's or Fetch's partitions into a map keyed by topic-partition, so a
//! partition listed twice is served once, with the later entry's data. Rill passed every entry
//! through: a Fetch listing one partition 20 times answered it 20 times (990 MB from a 369-byte
//! request), a Produce listing it a million times appended a million times on the one
//! partitions actor (a bystander's produce stalled 20 s), and parked fetches were re-read once
//! per duplicate on every append. [`merge`] collapses duplicates here, at the broker boundary,
//! so nothing past it ever sees one. [`group_by_topic`] replaces a linear search per partition
//! (quadratic with many topics) when building responses.
//!
//! Every partition a request names is work on the node's one partitions actor, which every
//! client shares, so a request may name at most [`REQUEST_PARTITIONS_MAX`] distinct ones.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use crate::limits::REQUEST_PARTITIONS_MAX;
use crate::types::TopicPartition;

/// One entry per topic-partition, in the order each was first listed, holding the value of its
/// last listing (Kafka's `LinkedHashMap` semantics for a full fetch, and its produce map).
/// More than [`REQUEST_PARTITIONS_MAX`] distinct partitions is refused (the caller closes the
/// connection); nothing is allocated from a count the client declared, and at most that many
/// entries are ever held.
pub fn merge<'a, V>(
    entries: impl IntoIterator<Item = (&'a str, i32, V)>,
) -> Result<Vec<(TopicPartition, V)>, String> {
    merge_with(entries, |kept, later| *kept = later)
}

/// [`merge`], with `combine(kept, later)` deciding what a later listing does to the kept one.
pub fn merge_with<'a, V>(
    entries: impl IntoIterator<Item = (&'a str, i32, V)>,
    mut combine: impl FnMut(&mut V, V),
) -> Result<Vec<(TopicPartition, V)>, String> {
    let mut index: BTreeMap<(&'a str, i32), usize> = BTreeMap::new();
    let mut merged: Vec<(TopicPartition, V)> = Vec::new();
    for (topic, partition, value) in entries {
        match index.entry((topic, partition)) {
            Entry::Occupied(slot) => combine(&mut merged[*slot.get()].1, value),
            Entry::Vacant(_) if merged.len() == REQUEST_PARTITIONS_MAX => {
                return Err(format!(
                    "the request lists more than {REQUEST_PARTITIONS_MAX} distinct partitions"
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(merged.len());
                let tp = TopicPartition {
                    topic: topic.to_string(),
                    partition,
                };
                merged.push((tp, value));
            }
        }
    }
    Ok(merged)
}

/// Groups per-partition items by topic, topics in the order they first appear and partitions
/// in their order within it.
pub fn group_by_topic<T>(
    items: impl IntoIterator<Item = (TopicPartition, T)>,
) -> Vec<(String, Vec<T>)> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut topics: Vec<(String, Vec<T>)> = Vec::new();
    for (tp, item) in items {
        match index.get(&tp.topic) {
            Some(&i) => topics[i].1.push(item),
            None => {
                index.insert(tp.topic.clone(), topics.len());
                topics.push((tp.topic, vec![item]));
            }
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    #[test]
    fn duplicates_keep_the_first_position_and_the_last_value() {
        let merged = merge([
            ("a", 0, 1),
            ("b", 0, 2),
            ("a", 0, 3),
            ("a", 1, 4),
            ("b", 0, 5),
        ])
        .unwrap();
        assert_eq!(merged, [(tp("a", 0), 3), (tp("b", 0), 5), (tp("a", 1), 4)]);
    }

    #[test]
    fn a_million_duplicates_are_one_entry() {
        let merged = merge((0..1_000_000).map(|i| ("t", 7, i))).unwrap();
        assert_eq!(merged, [(tp("t", 7), 999_999)]);
    }

    #[test]
    fn more_distinct_partitions_than_the_limit_are_refused() {
        let at_limit = REQUEST_PARTITIONS_MAX as i32;
        assert_eq!(
            merge((0..at_limit).map(|p| ("t", p, ()))).unwrap().len(),
            at_limit as usize
        );
        // Duplicates of listed partitions do not count; one more distinct one does.
        assert!(merge((0..at_limit).chain([0, 1]).map(|p| ("t", p, ()))).is_ok());
        let err = merge((0..=at_limit).map(|p| ("t", p, ()))).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn groups_keep_first_seen_topic_order() {
        let grouped = group_by_topic([(tp("b", 0), 1), (tp("a", 1), 2), (tp("b", 2), 3)]);
        assert_eq!(
            grouped,
            [("b".to_string(), vec![1, 3]), ("a".to_string(), vec![2])]
        );
    }
}
