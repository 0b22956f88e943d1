//! After the run: every broker's partition directories belong to live topics. A broker that
//! was down while a topic was deleted removes that topic's directories once it is back
//! (`rill::partition::strays`), and a removal a crash interrupted leaves a `-delete` directory
//! that the next start removes. [`settle`] waits up to [`STRAY_BOUND`] for every broker's
//! disk to hold nothing else, and returns what is left (the checker's
//! `quorum::check_no_strays`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};
use rill::partition::replica::{is_deleting_dir, partition_of_dir};
use rill::storage::log::partition_metadata;
use rill::storage::Storage;
use rill::types::cluster_id_text;
use tokio::time::Instant;

use super::{Workload, CALL_TIMEOUT};
use crate::client::Connection;
use crate::storage::SimDisks;

/// How long after the final read the brokers' disks may still hold a deleted topic's
/// directories.
/// Past the partitions actor's housekeeping tick (30 s), which removes what a failed removal
/// left.
pub const STRAY_BOUND: Duration = Duration::from_secs(45);
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Waits until no broker in `nodes` holds a directory of a topic no broker lists (or a
/// `-delete` leftover), at most [`STRAY_BOUND`]; what each node still holds then, as
/// "directory (its topic id)".
pub async fn settle(w: &Workload, disks: &SimDisks, nodes: &[u64]) -> Vec<(u64, Vec<String>)> {
    let deadline = Instant::now() + STRAY_BOUND;
    loop {
        let mut left = Vec::new();
        match live_topic_ids(w).await {
            Some(live) => {
                for &node in nodes {
                    let dirs = strays(&disks.memory_of(node), &live);
                    if !dirs.is_empty() {
                        left.push((node, dirs));
                    }
                }
            }
            None => left.push((0, vec!["no broker answered Metadata".into()])),
        }
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// The ids of the topics any broker lists (as `partition.metadata` writes them); `None` if no
/// broker answered.
async fn live_topic_ids(w: &Workload) -> Option<BTreeSet<String>> {
    let mut live = BTreeSet::new();
    let mut answered = false;
    for &addr in &w.brokers {
        let Ok(mut conn) = Connection::connect(addr, CALL_TIMEOUT).await else {
            continue;
        };
        let request = MetadataRequest::default()
            .with_topics(None)
            .with_allow_auto_topic_creation(false);
        let Ok(metadata) = conn
            .call::<_, MetadataResponse>(ApiKey::Metadata, 12, &request, CALL_TIMEOUT)
            .await
        else {
            continue;
        };
        answered = true;
        for topic in &metadata.topics {
            live.insert(cluster_id_text(topic.topic_id.as_bytes()));
        }
    }
    answered.then_some(live)
}

/// The directories in `disk`'s root that no live topic owns.
fn strays(disk: &dyn Storage, live: &BTreeSet<String>) -> Vec<String> {
    let Ok(names) = disk.list(Path::new("")) else {
        return Vec::new();
    };
    let mut strays = Vec::new();
    for name in names {
        if is_deleting_dir(&name) {
            strays.push(format!("{name} (a removal's leftover)"));
            continue;
        }
        if partition_of_dir(&name).is_none() {
            continue;
        }
        if let Ok(Some(id)) = partition_metadata::read(disk, Path::new(&name)) {
            if !live.contains(&id) {
                strays.push(format!("{name} (topic id {id})"));
            }
        }
    }
    strays
}
