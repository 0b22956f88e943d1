//! Stray directories: what the storage root holds that no topic owns any more (Kafka 3.7's
//! stray logs). A partition directory is a stray when its `partition.metadata` names a
//! deleted topic: its broker was down while the topic was deleted, so no Delete ever reached
//! it, and nothing else would remove it (the topic's name may never come back; if it does, the
//! Ensure's own check removes it then). A `…-delete` directory is what a removal interrupted by
//! a crash left ([`replica::removal_job`]).
//!
//! "Deleted" comes from the metadata's list of deleted topic ids, not from "absent from this
//! broker's view": a view still catching up lacks new topics too, and must not cost them their
//! logs. (Replicas moved away while this broker was down are the partitions actor's
//! `sweep_moved_away`, once the metadata has this process's registration.) The metadata log's
//! own directory (`__cluster_metadata-0`) is never a stray.

use std::collections::BTreeSet;
use std::path::Path;

use super::replica;
use crate::storage::log::partition_metadata;
use crate::storage::Storage;
use crate::types::{cluster_id_text, topic_name, TopicPartition};

/// What to remove from the storage root.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Strays {
    /// Partition directories of deleted topics.
    pub partitions: Vec<TopicPartition>,
    /// `-delete` directories left by interrupted removals (names in the storage root).
    pub leftovers: Vec<String>,
}

/// The strays among the storage root's `names`. `busy` partitions (open here, or with a
/// directory job running) are never strays; leftovers are taken only if `leftovers_too` (no
/// removal is running that could be moving a directory to one of those names right now).
pub fn find(
    storage: &dyn Storage,
    names: &[String],
    deleted_topic_ids: &BTreeSet<[u8; 16]>,
    busy: impl Fn(&TopicPartition) -> bool,
    leftovers_too: bool,
) -> Strays {
    let deleted: BTreeSet<String> = deleted_topic_ids.iter().map(cluster_id_text).collect();
    let mut strays = Strays::default();
    for name in names {
        if replica::is_deleting_dir(name) {
            if leftovers_too {
                strays.leftovers.push(name.clone());
            }
            continue;
        }
        if deleted.is_empty() {
            continue;
        }
        let Some(tp) = replica::partition_of_dir(name) else {
            continue;
        };
        // The controller quorum's Raft log shares the data directory: never a stray.
        if busy(&tp) || tp.topic == topic_name::CLUSTER_METADATA_TOPIC {
            continue;
        }
        // Unreadable or without the file: nothing says it is another topic's (the Ensure of
        // its name decides then, as for a directory from before topic ids).
        if let Ok(Some(id)) = partition_metadata::read(storage, Path::new(name)) {
            if deleted.contains(&id) {
                strays.partitions.push(tp);
            }
        }
    }
    strays
}
