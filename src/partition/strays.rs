//! Stray directories: what the storage root holds that no topic owns any more (Kafka 3.7's
//! stray logs). A partition directory is a stray when its `partition.metadata` names a
//! deleted topic: its broker was down while the topic was deleted, so no Delete ever reached
//! it, and nothing else would remove it (the topic's name may never come back; if it does, the
//! Ensure's own check removes it then). A `…-delete` directory is what a removal interrupted by
//! a crash left ([`replica::removal_job`]).
//!
//! "Deleted" comes from the metadata's list of deleted topic ids, not from "absent from this
//! broker's view": a view still catching up lacks new topics too, and must not cost them their
//! logs.
//!
//! Once this process's registration is in the view (so the view holds every assignment made
//! before it: the controller's own start-up wait can trust a commit index from before a
//! restart), a directory of a live topic's partition that the metadata does not place on this
//! broker is a stray too: its replica was moved away while this broker was down, so no
//! reconciliation of this run ever held it to delete it (Kafka 3.7's `isStrayKraftReplica`,
//! run after the broker's first caught-up metadata; found by the simulator, seed 809). Nothing
//! would ever use it: a later move back here starts from the leader's log like any new
//! replica. The metadata log's own directory (`__cluster_metadata-0`) is never a stray.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Partition directories of live topics that the metadata does not place here.
    pub moved_away: Vec<TopicPartition>,
    /// `-delete` directories left by interrupted removals (names in the storage root).
    pub leftovers: Vec<String>,
}

/// The strays among the storage root's `names`. `busy` partitions (open here, or with a
/// directory job running) are never strays; leftovers are taken only if `leftovers_too` (no
/// removal is running that could be moving a directory to one of those names right now).
/// `placed_here` (once the view reached this process's registration): every live topic's
/// partitions placed on this broker.
pub fn find(
    storage: &dyn Storage,
    names: &[String],
    deleted_topic_ids: &BTreeSet<[u8; 16]>,
    placed_here: Option<&BTreeMap<String, BTreeSet<i32>>>,
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
        let Some(tp) = replica::partition_of_dir(name) else {
            continue;
        };
        // The controller quorum's Raft log shares the data directory: never a stray.
        if busy(&tp) || tp.topic == topic_name::CLUSTER_METADATA_TOPIC {
            continue;
        }
        // Whatever topic id its label names: an earlier topic of the name is gone too.
        let placed = placed_here.and_then(|placed| placed.get(&tp.topic));
        if placed.is_some_and(|partitions| !partitions.contains(&tp.partition)) {
            strays.moved_away.push(tp);
            continue;
        }
        if deleted.is_empty() {
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
