//! After the run, in replicated runs: the data topic's replicas, read from their disks, hold
//! the same batches (the checker's `replicas` module compares them). [`settle`] gives the
//! followers up to [`AGREE_BOUND`] after the final read to fetch what they lack and truncate
//! what their leader does not hold; a difference still there then is recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rill::partition::replica::dir_for;
use rill::storage::batch::Batches;
use rill::storage::{read_exact_at, Storage};
use rill::types::TopicPartition;
use tokio::time::Instant;

use super::TOPIC;
use crate::checker::replicas::{first_difference, ReplicaLog, StoredBatch};
use crate::history::Event;
use crate::storage::SimDisks;

/// How long after the final read the replicas may still disagree or end apart.
pub const AGREE_BOUND: Duration = Duration::from_secs(10);
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// Waits until each partition's replicas in `nodes` agree and end alike (at most
/// [`AGREE_BOUND`]), and returns one `Event::ReplicasCompared` per partition as they were then.
pub async fn settle(disks: &SimDisks, nodes: &[u64], partitions: i32) -> Vec<Event> {
    let deadline = Instant::now() + AGREE_BOUND;
    loop {
        let compared: Vec<(Event, bool)> = (0..partitions)
            .map(|partition| compare(disks, nodes, partition))
            .collect();
        if compared.iter().all(|(_, settled)| *settled) || Instant::now() >= deadline {
            return compared.into_iter().map(|(event, _)| event).collect();
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// The partition's replicas compared, and whether they agree and end alike.
fn compare(disks: &SimDisks, nodes: &[u64], partition: i32) -> (Event, bool) {
    let tp = TopicPartition {
        topic: TOPIC.to_owned(),
        partition,
    };
    let logs: BTreeMap<u64, ReplicaLog> = (nodes.iter())
        .filter_map(|&node| Some((node, read_log(&disks.memory_of(node), &dir_for(&tp))?)))
        .collect();
    let replicas: Vec<(u64, i64, i64)> = (logs.iter())
        .map(|(&node, log)| {
            let start = log.first().map_or(-1, |b| b.base_offset);
            let end = log.last().map_or(-1, |b| b.last_offset + 1);
            (node, start, end)
        })
        .collect();
    let difference = first_difference(&logs);
    let ends_alike = replicas.windows(2).all(|w| w[0].2 == w[1].2);
    let settled = difference.is_none() && ends_alike;
    let event = Event::ReplicasCompared {
        partition,
        replicas,
        difference,
    };
    (event, settled)
}

/// The batches of the log in `dir` on `disk`, in offset order, up to the first that does not
/// read back whole (a torn or damaged tail); `None` when the disk holds no such partition.
fn read_log(disk: &dyn Storage, dir: &Path) -> Option<ReplicaLog> {
    let mut segments: Vec<String> = (disk.list(dir).ok()?.into_iter())
        .filter(|name| name.ends_with(".log"))
        .collect();
    // Zero-padded base offsets: name order is offset order.
    segments.sort();
    let mut log = ReplicaLog::new();
    for name in segments {
        let Ok(file) = disk.open(&dir.join(&name), false) else {
            break;
        };
        let Ok(len) = file.len_bytes() else { break };
        let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(0)];
        if read_exact_at(file.as_ref(), 0, &mut bytes).is_err() {
            break;
        }
        for batch in Batches::stored(&bytes) {
            let Ok((_, header)) = batch else {
                return Some(log);
            };
            log.push(StoredBatch {
                base_offset: header.base_offset,
                last_offset: header.last_offset(),
                leader_epoch: header.partition_leader_epoch,
                crc: header.crc,
            });
        }
    }
    Some(log)
}
