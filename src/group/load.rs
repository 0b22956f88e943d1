//! The replay of one `__consumer_offsets` partition when a shard takes it over (Kafka's
//! `GroupMetadataManager` load): read `[log start, log_end)` in chunks of
//! [`GROUP_LOAD_READ_BYTES`], apply every record in offset order, and hand back the groups to
//! build once the log end is reached.
//!
//! A read is walked whole batch by whole batch; the next read starts at the end of the last
//! whole batch, so a batch cut by the read's byte limit is read again in full. Commits go
//! straight into the shard's [`Offsets`] (a tombstone removes one); a group's records replace
//! each other (the last one wins, a tombstone deletes it), and only the survivors are built
//! into groups at the end, with fresh sessions. Records at or past `log_end` are not the
//! load's: `log_end` is what the partitions actor vouched durable.

use std::collections::BTreeMap;

use crate::faults::{self, Canary};
use crate::limits::GROUP_LOAD_READ_BYTES;
use crate::messages::partitions::{FetchPartition, FetchPartitionResult, FetchRequest};
use crate::storage::batch::{self, Batches};
use crate::storage::marker::{read_control, Control};
use crate::types::{ErrorCode, LeaderEpoch, Offset, TopicPartition};

use super::consumer::persist::Replay;
use super::offsets::{Offsets, StoredOffset};
use super::records::consumer::{decode_consumer_key, decode_consumer_value};
use super::records::{decode_group_value, decode_key, decode_offset_value, GroupValue, OffsetsKey};

/// One load in progress.
#[derive(Debug)]
pub struct Load {
    /// Where the next read starts.
    next: Offset,
    /// The load ends here (exclusive).
    log_end: Offset,
    /// The latest record of every group seen so far (`None`: deleted by a tombstone).
    groups: BTreeMap<String, Option<GroupValue>>,
    /// Records skipped because they could not be decoded (logged one by one).
    pub skipped: u64,
    /// KIP-848 consumer groups' records, last one per key.
    pub consumer: Replay,
}

/// What the load needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadStep {
    /// Read from this offset.
    Read(Offset),
    /// Every record below the log end was applied.
    Done,
}

impl Load {
    /// A load of everything below `log_end`.
    pub fn new(log_end: Offset) -> Self {
        // The canary forgets every commit: the replay starts where it should end.
        let start = if faults::canary(Canary::GroupForgetOnFailover) {
            log_end
        } else {
            Offset(0)
        };
        Self {
            next: start,
            log_end,
            groups: BTreeMap::new(),
            skipped: 0,
            consumer: Replay::default(),
        }
    }

    /// The first step: a read, or nothing to read.
    pub fn start(&self) -> LoadStep {
        self.step()
    }

    fn step(&self) -> LoadStep {
        if self.next >= self.log_end {
            LoadStep::Done
        } else {
            LoadStep::Read(self.next)
        }
    }

    /// The read of `tp` from where the load stands.
    pub fn read(tp: TopicPartition, from: Offset) -> FetchRequest {
        FetchRequest {
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: GROUP_LOAD_READ_BYTES,
            isolation_level: 0,
            partitions: vec![FetchPartition {
                tp,
                fetch_offset: from,
                partition_max_bytes: GROUP_LOAD_READ_BYTES,
                current_leader_epoch: LeaderEpoch::UNKNOWN,
            }],
        }
    }

    /// Applies one read's answer (committed offsets into `offsets`) and says what comes next.
    /// A read that failed, or that brought no whole batch below the log end, fails the load.
    pub fn fetched(
        &mut self,
        read: &FetchPartitionResult,
        offsets: &mut Offsets,
    ) -> Result<LoadStep, String> {
        if read.error_code == ErrorCode::OFFSET_OUT_OF_RANGE && read.log_start_offset > self.next {
            // Retention or DeleteRecords moved the log start past the first read.
            self.next = read.log_start_offset;
            return Ok(self.step());
        }
        if read.error_code != ErrorCode::NONE {
            return Err(format!(
                "the read at {} failed: {:?}",
                self.next, read.error_code
            ));
        }
        let before = self.next;
        for batch in Batches::stored(&read.records) {
            let Ok((at, header)) = batch else {
                // A cut tail batch: read again from its start.
                break;
            };
            let bytes = &read.records[at..at + header.total_bytes()];
            // A transaction's commits are pending in it until its marker: committed by a
            // COMMIT, dropped by an ABORT (Kafka's load keeps them the same way).
            let producer = (header.producer_id >= 0).then_some(header.producer_id);
            match producer {
                Some(producer_id) if header.is_control() => {
                    if header.base_offset < self.log_end.0 {
                        if let Ok(Control::Marker(marker)) = read_control(bytes) {
                            offsets.txn_completed(producer_id, marker.commit);
                        }
                    }
                }
                _ if header.is_control() => {}
                Some(producer_id) if header.is_transactional() => {
                    self.apply_batch(bytes, Some(producer_id), offsets)
                }
                _ => self.apply_batch(bytes, None, offsets),
            }
            self.next = Offset(header.next_offset()).min(self.log_end);
            if self.next >= self.log_end {
                break;
            }
        }
        if self.next == before {
            return Err(format!("the read at {before} brought no whole batch"));
        }
        Ok(self.step())
    }

    /// Applies a batch's records; those of `transaction`'s batch (a producer id) are pending
    /// in it.
    fn apply_batch(&mut self, bytes: &[u8], transaction: Option<i64>, offsets: &mut Offsets) {
        for record in batch::records(bytes) {
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    // Clients cannot produce here, so a compressed batch is a foreign writer's.
                    tracing::error!(%error, "skipping a __consumer_offsets batch the coordinator cannot read");
                    self.skipped += 1;
                    return;
                }
            };
            if record.offset >= self.log_end.0 {
                return;
            }
            if let Err(error) = self.apply(record.key, record.value, transaction, offsets) {
                tracing::warn!(offset = record.offset, %error, "skipping an undecodable __consumer_offsets record");
                self.skipped += 1;
            }
        }
    }

    fn apply(
        &mut self,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        transaction: Option<i64>,
        offsets: &mut Offsets,
    ) -> Result<(), String> {
        let key_bytes = key;
        let key = decode_key(key.ok_or("a record without a key")?).map_err(|e| e.to_string())?;
        match key {
            OffsetsKey::Offset {
                group,
                topic,
                partition,
            } => {
                let tp = TopicPartition { topic, partition };
                let stored = value
                    .map(decode_offset_value)
                    .transpose()
                    .map_err(|e| e.to_string())?
                    .map(StoredOffset::from_record);
                match (transaction, stored) {
                    (Some(producer_id), Some(stored)) => {
                        offsets.replay_pending(producer_id, &group, tp, stored)
                    }
                    (_, stored) => offsets.replay(&group, tp, stored),
                }
            }
            OffsetsKey::Group { group } => {
                let value = value
                    .map(decode_group_value)
                    .transpose()
                    .map_err(|e| e.to_string())?;
                self.groups.insert(group, value);
            }
            OffsetsKey::Other(_) => {
                let bytes = key_bytes.unwrap_or_default();
                // Share groups' records (a later lane) are not this coordinator's.
                if let Some(key) = decode_consumer_key(bytes).map_err(|e| e.to_string())? {
                    let value = value
                        .map(|v| decode_consumer_value(&key, v))
                        .transpose()
                        .map_err(|e| e.to_string())?;
                    self.consumer.apply(key, value);
                }
            }
        }
        Ok(())
    }

    /// The groups the replay leaves, to be built now.
    pub fn finish(self) -> BTreeMap<String, GroupValue> {
        (self.groups.into_iter())
            .filter_map(|(group, value)| Some((group, value?)))
            .collect()
    }
}
