//! The key → latest offset map and the per-batch rewrite (Kafka's `OffsetMap` and
//! `MemoryRecords.filterTo`).

use std::cell::Cell;
use std::collections::BTreeMap;

use super::compressed;
use crate::storage::batch::{self, BatchError, BatchHeader};

/// Each key's latest offset over the range being cleaned, and each producer's last batch.
/// Whole keys in a `BTreeMap`: lookups only, but the crate keeps every map ordered.
#[derive(Debug, Default)]
pub struct OffsetMap {
    latest: BTreeMap<Vec<u8>, i64>,
    last_batch_of_producer: BTreeMap<i64, i64>,
    /// Whether a data batch the cleaner cannot look into (transactional, or compressed past
    /// what it decompresses or compresses again) is in the mapped range, or was below it in an
    /// earlier clean: a key's older value may hide there, so no tombstone may go (it would
    /// bring that value back). A `Cell`: the filter pass may find such a batch too (one that
    /// does not compress again), and the batches after it must know.
    opaque: Cell<bool>,
}

/// Whether the cleaner may look into and rewrite a batch: data batches, plain or compressed
/// (through [`super::compressed`]). Control and transactional batches stay as they are (an
/// abort marker must keep applying to the records it covers).
pub(super) fn compactable(header: &BatchHeader) -> bool {
    !header.is_control() && !header.is_transactional()
}

impl OffsetMap {
    /// Adds one batch (batches must come in offset order).
    pub fn add_batch(&mut self, header: &BatchHeader, batch: &[u8]) -> Result<(), BatchError> {
        self.add_header(header);
        if !compactable(header) {
            return Ok(());
        }
        if header.compression() != 0 {
            // Looked into through its uncompressed copy; one whose records do not all walk is
            // kept whole, as one that does not decompress, and maps no key (the filter would
            // otherwise remove older readable values of keys whose latest it cannot serve).
            match compressed::inflated(batch, header).map(|copy| keys_of(&copy)) {
                Some(Ok(keys)) => keys
                    .into_iter()
                    .for_each(|(key, offset)| self.map(key, offset)),
                _ => self.set_opaque(),
            }
            return Ok(());
        }
        // A plain batch whose records do not walk fails the whole clean: map as it walks.
        for record in batch::records(batch) {
            let record = record?;
            if let Some(key) = record.key {
                self.map(key.to_vec(), record.offset);
            }
        }
        Ok(())
    }

    /// `key`'s latest offset is now `offset` (batches come in offset order).
    fn map(&mut self, key: Vec<u8>, offset: i64) {
        if crate::faults::canary(crate::faults::Canary::CleanKeepsOldestValue) {
            self.latest.entry(key).or_insert(offset);
        } else {
            self.latest.insert(key, offset);
        }
    }

    /// Whether no tombstone may go (see the field).
    pub(super) fn is_opaque(&self) -> bool {
        self.opaque.get()
    }

    /// A batch the cleaner cannot look into (or rewrite) is in the range.
    pub(super) fn set_opaque(&self) {
        self.opaque.set(true);
    }

    /// Adds what one batch's header says (its producer, whether it is opaque) but not its
    /// keys: a batch of the part a previous clean left, where no key appears twice, so none
    /// needs mapping (Kafka maps the dirty part only). Batches must come in offset order.
    pub fn add_header(&mut self, header: &BatchHeader) {
        if header.producer_id >= 0 {
            self.last_batch_of_producer
                .insert(header.producer_id, header.base_offset);
        }
        if !compactable(header) && !header.is_control() {
            self.set_opaque();
        }
    }

    /// The latest offset of `key` in the mapped range.
    pub fn latest(&self, key: &[u8]) -> Option<i64> {
        self.latest.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    fn is_last_batch_of_its_producer(&self, header: &BatchHeader) -> bool {
        header.producer_id >= 0
            && self.last_batch_of_producer.get(&header.producer_id) == Some(&header.base_offset)
    }
}

/// The keys of a compressed batch's uncompressed copy with their offsets, or the first record
/// error (collected first: a batch that fails halfway maps no key).
fn keys_of(batch: &[u8]) -> Result<Vec<(Vec<u8>, i64)>, BatchError> {
    let mut keys = Vec::new();
    for record in batch::records(batch) {
        let record = record?;
        if let Some(key) = record.key {
            keys.push((key.to_vec(), record.offset));
        }
    }
    Ok(keys)
}

/// What the cleaner does with one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filtered {
    /// Every record stays: the batch is copied as it is.
    Unchanged,
    /// No record stays and the batch is not needed for its header: it disappears (the
    /// writer covers its offsets, see `super::swap`).
    Removed,
    /// Some records stay (or none, with the header kept): the rebuilt batch.
    Rebuilt(Vec<u8>),
}

/// Filters one batch against `map`: a record with a key stays only if it is its key's latest
/// record, and a latest tombstone only until the batch's delete horizon (KIP-534: the first
/// clean that keeps a tombstone sets the horizon to `now_ms + delete_retention_ms`, so a
/// tombstone stays readable for `delete.retention.ms` after the cleaner first saw it, whatever
/// timestamp the producer gave it) — or for good while the mapped range holds a batch the
/// cleaner cannot look into.
/// Records without a key stay (Kafka refuses them at produce time on a compacted topic; older
/// ones are kept rather than lost). The last batch of each producer is kept as a header
/// with no records when it empties (the producer's idempotence state is rebuilt from it).
pub fn filter_batch(
    batch: &[u8],
    header: &BatchHeader,
    map: &OffsetMap,
    now_ms: i64,
    delete_retention_ms: i64,
) -> Result<Filtered, BatchError> {
    if !compactable(header) {
        return Ok(Filtered::Unchanged);
    }
    if header.compression() == 0 {
        return filter_records(batch, header, map, now_ms, delete_retention_ms);
    }
    // A compressed batch: filtered through its uncompressed copy, what stays compressed
    // again. One the cleaner cannot look into (or compress again) stays whole.
    // A batch kept whole that way may hold a key's older value: the map turns opaque, and
    // no tombstone after it in this pass (nor in later cleans) goes.
    let kept_whole = || {
        map.set_opaque();
        Filtered::Unchanged
    };
    let Some(copy) = compressed::inflated(batch, header) else {
        return Ok(kept_whole());
    };
    let copy_header = BatchHeader::parse(&copy)?;
    Ok(
        match filter_records(&copy, &copy_header, map, now_ms, delete_retention_ms) {
            Ok(Filtered::Rebuilt(kept)) => match compressed::deflated(batch, header, &kept) {
                Some(rebuilt) => Filtered::Rebuilt(rebuilt),
                None => kept_whole(),
            },
            Ok(other) => other,
            Err(_) => kept_whole(),
        },
    )
}

/// [`filter_batch`] of an uncompressed data batch.
fn filter_records(
    batch: &[u8],
    header: &BatchHeader,
    map: &OffsetMap,
    now_ms: i64,
    delete_retention_ms: i64,
) -> Result<Filtered, BatchError> {
    let horizon_ms = header.delete_horizon_ms();
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut walked = 0i32;
    let mut tombstone_kept = false;
    let mut records = batch::records(batch);
    while let Some(record) = records.next_with_span() {
        let (record, span) = record?;
        walked += 1;
        let stays = match record.key {
            None => true,
            Some(key) => {
                map.latest(key).is_none_or(|latest| latest == record.offset)
                    && (record.value.is_some()
                        || map.is_opaque()
                        || horizon_ms.is_none_or(|horizon_ms| now_ms < horizon_ms))
            }
        };
        if stays {
            tombstone_kept |= record.key.is_some() && record.value.is_none();
            kept.push(&batch[span]);
        }
    }
    let set_horizon = tombstone_kept && horizon_ms.is_none();
    if kept.len() as i32 == walked && !set_horizon {
        return Ok(Filtered::Unchanged);
    }
    if kept.is_empty() && !map.is_last_batch_of_its_producer(header) {
        return Ok(Filtered::Removed);
    }
    if set_horizon {
        let horizon_ms = now_ms.saturating_add(delete_retention_ms);
        return Ok(Filtered::Rebuilt(batch::rebuild_with_delete_horizon(
            batch, &kept, horizon_ms,
        )?));
    }
    Ok(Filtered::Rebuilt(batch::rebuild_batch(batch, &kept)))
}
