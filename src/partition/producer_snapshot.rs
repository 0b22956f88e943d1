//! Producer-state snapshots: `<partition dir>/{offset:020}.snapshot` holds the producer
//! state as of `offset` (every batch below it applied). Written atomically (temp file, sync,
//! rename, sync dir: `ops`, run by the replica's flush job after its segment syncs) only at
//! offsets known durable, so a crash can never leave a snapshot
//! describing batches the log lost; at open, snapshots past the recovered log end are deleted
//! anyway (Kafka does the same), and the state is rebuilt from the newest valid snapshot plus
//! the batch headers after it.
//!
//! ```text
//! @0 magic "RLPS"  @4 version u16 (=2)  @6 offset i64  @14 producer count u32
//! per producer: id i64, epoch i16, last_timestamp_ms i64,
//!               coordinator_epoch i32, current_txn_first_offset i64 (−1: none),
//!               batch count u8,
//!               per batch: first_seq i32, last_seq i32, first_offset i64, last_offset i64
//! then crc32c u32 of everything before it
//! ```
//!
//! Version 1 (before transactions) has no coordinator epoch or open transaction: it is still
//! read, as −1 and none.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use super::producer_state::{BatchMeta, ProducerEntry, ProducerStates};
use crate::limits::{PRODUCER_BATCHES_RETAINED, PRODUCER_SNAPSHOTS_KEPT};
use crate::storage::persist::PersistOp;
use crate::storage::Storage;
use crate::types::ProducerId;

const MAGIC: &[u8; 4] = b"RLPS";
const VERSION: u16 = 2;
/// The version written before transactions: read as producers without one.
const VERSION_BEFORE_TXNS: u16 = 1;
const SUFFIX: &str = ".snapshot";
const HEADER_BYTES: usize = 18;
/// The smallest producer entry (version 1's, with no batches).
const PRODUCER_BYTES: usize = 19;
const TXN_FIELDS_BYTES: usize = 12;
const BATCH_BYTES: usize = 24;
const _: () = assert!(PRODUCER_BYTES == 8 + 2 + 8 + 1 && BATCH_BYTES == 4 + 4 + 8 + 8);
const _: () = assert!(TXN_FIELDS_BYTES == 4 + 8);

pub fn encode(offset: i64, states: &ProducerStates) -> Vec<u8> {
    let per_producer = PRODUCER_BYTES + TXN_FIELDS_BYTES + 2 * BATCH_BYTES;
    let mut out = Vec::with_capacity(HEADER_BYTES + states.len() * per_producer + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(states.len() as u32).to_be_bytes());
    for (id, entry) in states.entries() {
        out.extend_from_slice(&id.0.to_be_bytes());
        out.extend_from_slice(&entry.epoch.to_be_bytes());
        out.extend_from_slice(&entry.last_timestamp_ms.to_be_bytes());
        out.extend_from_slice(&entry.coordinator_epoch.to_be_bytes());
        let txn_first = entry.current_txn_first_offset.unwrap_or(-1);
        out.extend_from_slice(&txn_first.to_be_bytes());
        out.push(entry.batches.len() as u8);
        for b in &entry.batches {
            out.extend_from_slice(&b.first_seq.to_be_bytes());
            out.extend_from_slice(&b.last_seq.to_be_bytes());
            out.extend_from_slice(&b.first_offset.to_be_bytes());
            out.extend_from_slice(&b.last_offset.to_be_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// A cursor that refuses to read past the end (disk input is never trusted).
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(N)?)?;
        self.at += N;
        slice.try_into().ok()
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
}

/// `(offset, states)`, or `None` if `bytes` are not a valid snapshot.
pub fn decode(bytes: &[u8]) -> Option<(i64, ProducerStates)> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if u32::from_be_bytes(crc.try_into().ok()?) != crc32c::crc32c(body) {
        return None;
    }
    let mut r = Reader { bytes: body, at: 0 };
    if &r.take::<4>()? != MAGIC {
        return None;
    }
    let with_txns = match u16::from_be_bytes(r.take()?) {
        VERSION => true,
        VERSION_BEFORE_TXNS => false,
        _ => return None,
    };
    let offset = r.i64()?;
    let count = u32::from_be_bytes(r.take()?) as usize;
    if offset < 0 || count > body.len() / PRODUCER_BYTES {
        return None;
    }
    let mut states = ProducerStates::default();
    for _ in 0..count {
        let id = r.i64()?;
        let epoch = r.i16()?;
        let last_timestamp_ms = r.i64()?;
        let (coordinator_epoch, current_txn_first_offset) = match with_txns {
            true => {
                let coordinator_epoch = r.i32()?;
                let first = r.i64()?;
                if first < -1 {
                    return None;
                }
                (coordinator_epoch, (first >= 0).then_some(first))
            }
            false => (-1, None),
        };
        let [batch_count] = r.take::<1>()?;
        if batch_count as usize > PRODUCER_BATCHES_RETAINED || id < 0 {
            return None;
        }
        let mut batches = VecDeque::new();
        for _ in 0..batch_count {
            batches.push_back(BatchMeta {
                first_seq: r.i32()?,
                last_seq: r.i32()?,
                first_offset: r.i64()?,
                last_offset: r.i64()?,
            });
        }
        let entry = ProducerEntry {
            epoch,
            batches,
            last_timestamp_ms,
            coordinator_epoch,
            current_txn_first_offset,
        };
        states.insert(ProducerId(id), entry);
    }
    (r.at == body.len()).then_some((offset, states))
}

fn file_name(offset: i64) -> String {
    format!("{offset:020}{SUFFIX}")
}

fn parse_file_name(name: &str) -> Option<i64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Offsets of the snapshots in `dir`, oldest first.
fn list(storage: &dyn Storage, dir: &Path) -> io::Result<Vec<i64>> {
    let mut offsets: Vec<i64> = storage
        .list(dir)?
        .iter()
        .filter_map(|name| parse_file_name(name))
        .collect();
    offsets.sort_unstable();
    Ok(offsets)
}

/// The ops that write the snapshots `new` (offset, state) atomically and durably and then
/// remove the ones beyond the newest [`PRODUCER_SNAPSHOTS_KEPT`] of those on disk and `new`.
/// They join the replica's flush job after its segment syncs, so a snapshot only ever
/// describes durable batches.
pub fn ops(
    storage: &dyn Storage,
    dir: &Path,
    new: &[(i64, &ProducerStates)],
) -> io::Result<Vec<PersistOp>> {
    let mut offsets = list(storage, dir)?;
    offsets.extend(new.iter().map(|(offset, _)| *offset));
    offsets.sort_unstable();
    offsets.dedup();
    let stale = &offsets[..offsets.len().saturating_sub(PRODUCER_SNAPSHOTS_KEPT)];
    let mut ops: Vec<PersistOp> = new
        .iter()
        .filter(|(offset, _)| !stale.contains(offset))
        .map(|(offset, states)| PersistOp::ReplaceFile {
            path: dir.join(file_name(*offset)),
            bytes: encode(*offset, states),
            fence: None,
        })
        .collect();
    ops.extend(
        stale
            .iter()
            .map(|offset| PersistOp::RemoveFile(dir.join(file_name(*offset)))),
    );
    Ok(ops)
}

/// The newest valid snapshot at or below `log_end_offset`; snapshots past it (describing
/// batches a crash cut off) and damaged ones are deleted.
pub fn load(
    storage: &dyn Storage,
    dir: &Path,
    log_end_offset: i64,
) -> io::Result<Option<(i64, ProducerStates)>> {
    for offset in list(storage, dir)?.into_iter().rev() {
        let path = dir.join(file_name(offset));
        if offset <= log_end_offset {
            if let Some(found) = read(storage, &path)?.filter(|(at, _)| *at == offset) {
                return Ok(Some(found));
            }
            tracing::warn!(path = %path.display(), "ignoring damaged producer snapshot");
        }
        storage.remove_file(&path)?;
    }
    Ok(None)
}

fn read(storage: &dyn Storage, path: &Path) -> io::Result<Option<(i64, ProducerStates)>> {
    let file = storage.open(path, false)?;
    let len = file.len_bytes()?;
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    let mut bytes = vec![0u8; len];
    crate::storage::read_exact_at(file.as_ref(), 0, &mut bytes)?;
    Ok(decode(&bytes))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::partition::producer_state::ProducerBatch;
    use crate::storage::batch::{build_idempotent_batch, BatchHeader};
    use crate::storage::mem::MemStorage;
    use crate::storage::persist::PersistJob;

    fn states() -> ProducerStates {
        states_of(&[(3, 0, 0), (3, 1, 1), (9, 0, 2)])
    }

    /// Producer states recording one batch per (producer id, first sequence, offset).
    fn states_of(batches: &[(i64, i32, i64)]) -> ProducerStates {
        let mut states = ProducerStates::default();
        for &(pid, seq, offset) in batches {
            let batch = build_idempotent_batch(&[(None, b"v")], 0, pid, 2, seq);
            let header = BatchHeader::parse(&batch).unwrap();
            states.record(ProducerBatch::from_header_at(&header, offset), 77);
        }
        states
    }

    #[test]
    fn roundtrip_and_damage_is_detected() {
        let bytes = encode(42, &states());
        assert_eq!(decode(&bytes), Some((42, states())));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert_eq!(decode(&flipped), None);
        // A snapshot at the very first offset is valid; a negative offset never is.
        let empty = ProducerStates::default();
        assert_eq!(decode(&encode(0, &empty)), Some((0, empty.clone())));
        assert_eq!(decode(&encode(-1, &empty)), None);
        // Producer id 0 is an id like any other; a negative one is damage.
        let zero = states_of(&[(0, 0, 0)]);
        assert_eq!(decode(&encode(5, &zero)), Some((5, zero)));
        assert_eq!(decode(&encode(5, &states_of(&[(-2, 0, 0)]))), None);
    }

    /// Version 2 keeps a producer's open transaction and coordinator epoch; a version 1 file
    /// (written before transactions) still loads, as producers without either.
    #[test]
    fn an_open_transaction_survives_the_snapshot_and_version_one_still_loads() {
        let mut states = states();
        let mut txn = build_idempotent_batch(&[(None, b"t")], 0, 11, 4, 0);
        txn[22] |= 0x10; // the transactional bit (CRC not needed: the header is only parsed)
        let header = BatchHeader::parse(&txn).unwrap();
        states.record(ProducerBatch::from_header_at(&header, 7), 80);
        states.apply_marker(ProducerId(3), 2, 5, 81);
        let entry = states.get(ProducerId(11)).unwrap();
        assert_eq!(entry.current_txn_first_offset, Some(7));
        let bytes = encode(9, &states);
        assert_eq!(decode(&bytes), Some((9, states.clone())));
        assert_eq!(
            decode(&bytes)
                .unwrap()
                .1
                .get(ProducerId(3))
                .unwrap()
                .coordinator_epoch,
            5
        );

        // Version 1, by hand: producer 3, epoch 2, timestamp 77, one batch.
        let mut v1 = MAGIC.to_vec();
        v1.extend_from_slice(&1u16.to_be_bytes());
        v1.extend_from_slice(&4i64.to_be_bytes());
        v1.extend_from_slice(&1u32.to_be_bytes());
        v1.extend_from_slice(&3i64.to_be_bytes());
        v1.extend_from_slice(&2i16.to_be_bytes());
        v1.extend_from_slice(&77i64.to_be_bytes());
        v1.push(1);
        for field in [
            &0i32.to_be_bytes()[..],
            &0i32.to_be_bytes(),
            &0i64.to_be_bytes(),
            &0i64.to_be_bytes(),
        ] {
            v1.extend_from_slice(field);
        }
        let crc = crc32c::crc32c(&v1);
        v1.extend_from_slice(&crc.to_be_bytes());
        let (offset, loaded) = decode(&v1).expect("version 1 loads");
        assert_eq!(offset, 4);
        assert_eq!(loaded, states_of(&[(3, 0, 0)]));
        let entry = loaded.get(ProducerId(3)).unwrap();
        assert_eq!(
            (entry.coordinator_epoch, entry.current_txn_first_offset),
            (-1, None)
        );
    }

    /// A producer keeps the metadata of its last `PRODUCER_BATCHES_RETAINED` batches (Kafka's
    /// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`, 5), so a snapshot taken while one has a full
    /// window must load; only a count above the window is damage.
    #[test]
    fn a_producer_with_a_full_window_of_batches_decodes_and_one_more_is_damage() {
        let full: Vec<(i64, i32, i64)> = (0..PRODUCER_BATCHES_RETAINED as i32)
            .map(|seq| (3, seq, seq as i64))
            .collect();
        let full = states_of(&full);
        let entry = full.get(ProducerId(3)).unwrap();
        assert_eq!(entry.batches.len(), PRODUCER_BATCHES_RETAINED);
        let bytes = encode(9, &full);
        assert_eq!(decode(&bytes), Some((9, full.clone())));

        // The same snapshot with a sixth batch spliced in (count patched, CRC recomputed).
        let count_at = HEADER_BYTES + PRODUCER_BYTES + TXN_FIELDS_BYTES - 1;
        let mut body = bytes[..bytes.len() - 4].to_vec();
        assert_eq!(body[count_at] as usize, PRODUCER_BATCHES_RETAINED);
        body[count_at] += 1;
        let (seq, offset) = (
            PRODUCER_BATCHES_RETAINED as i32,
            PRODUCER_BATCHES_RETAINED as i64,
        );
        for field in [
            &seq.to_be_bytes()[..],
            &seq.to_be_bytes(),
            &offset.to_be_bytes(),
            &offset.to_be_bytes(),
        ] {
            body.extend_from_slice(field);
        }
        let crc = crc32c::crc32c(&body);
        body.extend_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&body), None);
    }

    #[test]
    fn load_takes_the_newest_at_or_below_the_log_end_and_drops_the_rest() {
        let mem = Arc::new(MemStorage::new());
        let storage: &dyn Storage = mem.as_ref();
        let dir = Path::new("t-0");
        storage.create_dir_all(dir).unwrap();
        let write = |new: &[(i64, &ProducerStates)]| {
            let ops = ops(storage, dir, new).unwrap();
            PersistJob::new(mem.clone(), ops.clone()).run().unwrap();
            ops
        };
        write(&[(5, &ProducerStates::default())]);
        let two = write(&[(10, &states()), (20, &states())]);
        assert!(
            matches!(&two[..], [PersistOp::ReplaceFile { .. }, PersistOp::ReplaceFile { .. }, PersistOp::RemoveFile(stale)] if stale.ends_with(file_name(5))),
            "{two:?}"
        );
        // Only PRODUCER_SNAPSHOTS_KEPT remain, durably.
        mem.crash();
        assert_eq!(list(storage, dir).unwrap(), vec![10, 20]);
        let loaded = load(storage, dir, 15).unwrap();
        assert_eq!(loaded, Some((10, states())));
        assert_eq!(
            list(storage, dir).unwrap(),
            vec![10],
            "20 is past the log end"
        );
    }
}
