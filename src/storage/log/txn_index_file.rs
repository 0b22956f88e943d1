//! One segment's `{base:020}.txnindex` file (the entries' layout and lookup rule are in
//! [`super::txn_index`]). Created lazily, at the first aborted transaction whose marker lands
//! in the segment, as Kafka does: most segments never have one.
//!
//! Unlike the offset and time indexes the file is not mirrored in memory: a partition of
//! aborted transactions only would hold an entry per ~150 bytes of log. Only its entry count
//! and last marker offset are kept; a lookup streams the file in chunks, so what it allocates
//! is bounded by what it returns ([`TxnIndexFile::collect`]).
//!
//! Appends are idempotent by marker offset ([`TxnIndexFile::append`]): the partition records
//! the aborts it replays at open (from its newest producer snapshot on) again, and only those
//! missing from the file are written. An entry is written at its place after the last valid
//! one (over damaged bytes, if any): the damage is cut only once the rebuild is done
//! ([`TxnIndexFile::cut_damage`]), so a file is never shorter-but-whole while entries are
//! missing — whatever a crash keeps of a rebuild, the next open finds the damage again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::IoContext;
use super::txn_index::{self, AbortedTxn, ENTRY_BYTES};
use super::LogError;
use crate::storage::{read_exact_at, Storage, StorageFile};

pub(crate) const TXN_INDEX_SUFFIX: &str = ".txnindex";

/// Entries read per chunk by a lookup or a check (about 34 KiB).
const CHUNK_ENTRIES: usize = 1024;

/// A segment's aborted-transaction index.
pub(crate) struct TxnIndexFile {
    path: PathBuf,
    /// `None` while the segment has no index file.
    file: Option<Arc<dyn StorageFile>>,
    /// Whole entries in the file.
    entries: u64,
    /// The last entry's marker offset.
    last_offset: Option<i64>,
    /// Bytes past the valid entries (damage [`Self::load`] found) stay in the file until a
    /// replay's [`Self::truncate_from`] or the next append cuts them: cutting them at once
    /// would leave a file that looks whole if a crash came before the rebuild was synced.
    damaged: bool,
}

/// What [`TxnIndexFile::load`] found wrong with a file; its valid entries are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damage {
    /// The offset from which aborted transactions may be missing: after the last valid
    /// entry's marker, or the segment base when none is valid.
    pub missing_from: i64,
}

impl TxnIndexFile {
    /// The index of the segment at `base` in `dir`, opened if the file exists. Nothing is read:
    /// call [`Self::load`].
    pub(crate) fn open(storage: &dyn Storage, dir: &Path, base: i64) -> Result<Self, LogError> {
        let path = super::segment::file_path(dir, base, TXN_INDEX_SUFFIX);
        let file = match storage.exists(&path) {
            true => Some(storage.open(&path, false).at(&path)?),
            false => None,
        };
        Ok(Self {
            path,
            file,
            entries: 0,
            last_offset: None,
            damaged: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file, to sync it with its segment.
    pub(crate) fn file(&self) -> Option<&Arc<dyn StorageFile>> {
        self.file.as_ref()
    }

    /// Reads and checks the file against its segment `[base, next_offset)` in a log ending at
    /// `log_end`: whole entries of a known version, ascending marker offsets inside the
    /// segment, each transaction with a batch before its marker and a stable offset no later
    /// than just past it. A torn last entry (an append a crash interrupted) and, in the last
    /// segment, entries whose marker is past the log end (markers a crash cut off) are cut off.
    /// Anything else wrong is damage: the valid entries before it are kept, the bytes after
    /// them left until [`Self::cut_damage`], and the damage reported, so the caller can rebuild
    /// what may be missing.
    pub(crate) fn load(
        &mut self,
        base: i64,
        next_offset: i64,
        log_end: i64,
    ) -> Result<Option<Damage>, LogError> {
        self.entries = 0;
        self.last_offset = None;
        self.damaged = false;
        let Some(file) = self.file.clone() else {
            return Ok(None);
        };
        let len = file.len_bytes().at(&self.path)?;
        let whole = len / ENTRY_BYTES as u64;
        let mut valid = 0u64;
        let mut damaged = false;
        let mut buf = vec![0u8; (whole.min(CHUNK_ENTRIES as u64) as usize) * ENTRY_BYTES];
        'chunks: while valid < whole {
            let count = (whole - valid).min(CHUNK_ENTRIES as u64) as usize;
            let bytes = &mut buf[..count * ENTRY_BYTES];
            read_exact_at(file.as_ref(), valid * ENTRY_BYTES as u64, bytes).at(&self.path)?;
            for chunk in bytes.chunks_exact(ENTRY_BYTES) {
                let entry = match txn_index::decode(chunk).as_deref() {
                    Ok([entry]) => *entry,
                    _ => {
                        damaged = true;
                        break 'chunks;
                    }
                };
                let ordered = self.last_offset.is_none_or(|l| entry.last_offset > l);
                if ordered && next_offset == log_end && entry.last_offset >= log_end {
                    break 'chunks;
                }
                let inside = entry.first_offset >= 0
                    && entry.last_offset >= base
                    && entry.last_offset < next_offset;
                let sane = entry.first_offset < entry.last_offset
                    && entry.last_stable_offset <= entry.last_offset + 1;
                if !inside || !ordered || !sane {
                    damaged = true;
                    break 'chunks;
                }
                self.last_offset = Some(entry.last_offset);
                valid += 1;
            }
        }
        self.entries = valid;
        self.damaged = damaged;
        if !damaged && valid * (ENTRY_BYTES as u64) < len {
            file.truncate(valid * ENTRY_BYTES as u64).at(&self.path)?;
        }
        Ok(damaged.then(|| Damage {
            missing_from: self.last_offset.map_or(base, |l| l + 1),
        }))
    }

    /// Appends `entry` unless the file already holds it (an entry at or past its marker
    /// offset): entries stay in marker order, each once. Creates the file at the first entry.
    /// Returns whether it wrote, and then whether it created the file (the directory then
    /// needs a sync).
    pub(crate) fn append(
        &mut self,
        storage: &dyn Storage,
        entry: &AbortedTxn,
    ) -> Result<Option<bool>, LogError> {
        if self.last_offset.is_some_and(|l| l >= entry.last_offset) {
            return Ok(None);
        }
        let created = self.file.is_none();
        if created {
            let file = storage.open(&self.path, true).at(&self.path)?;
            file.truncate(0).at(&self.path)?;
            self.file = Some(file);
        }
        let file = self.file.as_ref().expect("opened above");
        // After the last valid entry: over damaged bytes, if any (see the module doc).
        let at = self.entries * ENTRY_BYTES as u64;
        file.write_at(at, &entry.encode()).at(&self.path)?;
        self.entries += 1;
        self.last_offset = Some(entry.last_offset);
        Ok(Some(created))
    }

    /// Cuts the entries whose marker is at or past `offset` (a truncation cut the markers).
    /// Returns whether the file changed. Damage past the last valid entry stays unless the cut
    /// reaches into the valid entries (then nothing below `offset` is missing).
    pub(crate) fn truncate_from(&mut self, offset: i64) -> Result<bool, LogError> {
        if self.last_offset.is_none_or(|l| l < offset) {
            return Ok(false);
        }
        let Some(file) = self.file.clone() else {
            return Ok(false);
        };
        // Entries are in marker order: find the first one at or past `offset`.
        let mut kept = 0u64;
        let mut last = None;
        self.scan(&mut |entry| {
            if entry.last_offset >= offset {
                return false;
            }
            kept += 1;
            last = Some(entry.last_offset);
            true
        })?;
        file.truncate(kept * ENTRY_BYTES as u64).at(&self.path)?;
        self.entries = kept;
        self.last_offset = last;
        self.damaged = false;
        Ok(true)
    }

    /// Cuts the bytes past the valid entries that [`Self::load`] left (the rebuild is done);
    /// whether there were any.
    pub(crate) fn cut_damage(&mut self) -> Result<bool, LogError> {
        let cut = self.damaged && self.file.is_some();
        if let (true, Some(file)) = (cut, &self.file) {
            file.truncate(self.entries * ENTRY_BYTES as u64)
                .at(&self.path)?;
        }
        self.damaged = false;
        Ok(cut)
    }

    /// Whether the file holds no entry.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The aborted transactions of this segment overlapping `[fetch_offset, upper_bound)`,
    /// added to `out` up to `max` in all, and whether no later segment can hold another
    /// ([`txn_index::collect_aborted`], entry by entry).
    pub(crate) fn collect(
        &self,
        fetch_offset: i64,
        upper_bound: i64,
        out: &mut Vec<AbortedTxn>,
        max: usize,
    ) -> Result<bool, LogError> {
        let mut complete = false;
        self.scan(&mut |entry| {
            let found = txn_index::collect_aborted(&[entry], fetch_offset, upper_bound);
            if out.len() < max {
                out.extend(found.aborted);
            }
            complete = found.complete;
            !complete && out.len() < max
        })?;
        Ok(complete)
    }

    /// Calls `each` with the loaded entries in order until it returns false.
    fn scan(&self, each: &mut dyn FnMut(AbortedTxn) -> bool) -> Result<(), LogError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut at = 0u64;
        let mut buf = vec![0u8; CHUNK_ENTRIES.min(self.entries as usize) * ENTRY_BYTES];
        while at < self.entries {
            let count = (self.entries - at).min(CHUNK_ENTRIES as u64) as usize;
            let bytes = &mut buf[..count * ENTRY_BYTES];
            read_exact_at(file.as_ref(), at * ENTRY_BYTES as u64, bytes).at(&self.path)?;
            let entries = txn_index::decode(bytes).map_err(|e| LogError::Corrupt {
                path: self.path.clone(),
                position: at * ENTRY_BYTES as u64,
                reason: e.to_string(),
            })?;
            for entry in entries {
                if !each(entry) {
                    return Ok(());
                }
            }
            at += count as u64;
        }
        Ok(())
    }

    /// Removes the file (the segment is emptied or replaced).
    pub(crate) fn remove(&mut self, storage: &dyn Storage) -> Result<(), LogError> {
        if self.file.take().is_some() || storage.exists(&self.path) {
            storage.remove_file(&self.path).at(&self.path)?;
        }
        self.entries = 0;
        self.last_offset = None;
        self.damaged = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    fn txn(producer_id: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        }
    }

    fn storage() -> MemStorage {
        let storage = MemStorage::new();
        storage.create_dir_all(Path::new("d")).unwrap();
        storage
    }

    fn all(index: &TxnIndexFile) -> Vec<AbortedTxn> {
        let mut out = Vec::new();
        index.collect(0, i64::MAX, &mut out, usize::MAX).unwrap();
        out
    }

    #[test]
    fn the_file_comes_with_the_first_entry_and_appends_are_idempotent() {
        let storage = storage();
        let dir = Path::new("d");
        let mut index = TxnIndexFile::open(&storage, dir, 100).unwrap();
        assert!(index.file().is_none());
        assert_eq!(index.load(100, 200, 200).unwrap(), None);
        assert!(!storage.exists(index.path()), "no file without an entry");
        let created = index.append(&storage, &txn(1, 90, 110)).unwrap();
        assert_eq!(created, Some(true));
        assert_eq!(
            index.append(&storage, &txn(2, 95, 120)).unwrap(),
            Some(false)
        );
        // A replay records both again: nothing is written twice.
        assert_eq!(index.append(&storage, &txn(1, 90, 110)).unwrap(), None);
        assert_eq!(index.append(&storage, &txn(2, 95, 120)).unwrap(), None);
        assert_eq!(all(&index), [txn(1, 90, 110), txn(2, 95, 120)]);
        let file = index.file().unwrap().clone();
        assert_eq!(file.len_bytes().unwrap(), 2 * ENTRY_BYTES as u64);

        let mut reopened = TxnIndexFile::open(&storage, dir, 100).unwrap();
        assert_eq!(reopened.load(100, 200, 200).unwrap(), None);
        assert_eq!(all(&reopened), all(&index));
        assert!(reopened.truncate_from(120).unwrap());
        assert_eq!(all(&reopened), [txn(1, 90, 110)]);
        assert!(
            !reopened.truncate_from(300).unwrap(),
            "nothing at or past 300"
        );
        assert_eq!(all(&reopened), [txn(1, 90, 110)]);
        reopened.truncate_from(0).unwrap();
        assert!(all(&reopened).is_empty());
        assert!(reopened.append(&storage, &txn(3, 100, 105)).is_ok());
        assert_eq!(all(&reopened), [txn(3, 100, 105)]);
    }

    #[test]
    fn torn_and_cut_off_entries_go_and_damage_stays_until_the_rebuild() {
        let storage = storage();
        let dir = Path::new("d");
        let mut index = TxnIndexFile::open(&storage, dir, 0).unwrap();
        index.append(&storage, &txn(1, 0, 10)).unwrap();
        index.append(&storage, &txn(2, 5, 20)).unwrap();
        let file = index.file().unwrap().clone();
        let len = |n: u64| n * ENTRY_BYTES as u64;
        file.append(&txn(3, 21, 30).encode()[..10]).unwrap();
        assert_eq!(
            index.load(0, 50, 50).unwrap(),
            None,
            "a torn tail is no damage"
        );
        assert_eq!(file.len_bytes().unwrap(), len(2));
        assert_eq!(all(&index).len(), 2);

        // A marker past the segment's end but inside the log: damage, the file kept as it is.
        assert_eq!(
            index.load(0, 20, 100).unwrap(),
            Some(Damage { missing_from: 11 })
        );
        assert_eq!(all(&index), [txn(1, 0, 10)]);
        assert_eq!(file.len_bytes().unwrap(), len(2), "cut only by the rebuild");
        // A marker past the log end (cut off by a crash): cut, no damage.
        assert_eq!(index.load(0, 20, 20).unwrap(), None);
        assert_eq!(file.len_bytes().unwrap(), len(1));
        // Zeros where an entry should be (a hole a crash left): out of order, damage; the
        // next append cuts it first.
        file.append(&[0u8; ENTRY_BYTES]).unwrap();
        assert_eq!(
            index.load(0, 20, 20).unwrap(),
            Some(Damage { missing_from: 11 })
        );
        index.append(&storage, &txn(4, 12, 15)).unwrap();
        assert_eq!(all(&index), [txn(1, 0, 10), txn(4, 12, 15)]);
        assert_eq!(file.len_bytes().unwrap(), len(2));
        // An unknown version as the first entry: nothing valid. A truncation past the valid
        // entries leaves the damage (entries may be missing below it); the rebuild's end cuts
        // it.
        file.write_at(1, &[9]).unwrap();
        assert_eq!(
            index.load(0, 20, 20).unwrap(),
            Some(Damage { missing_from: 0 })
        );
        assert!(all(&index).is_empty());
        assert!(!index.truncate_from(5).unwrap());
        assert_eq!(file.len_bytes().unwrap(), 2 * ENTRY_BYTES as u64);
        assert!(index.cut_damage().unwrap());
        assert_eq!(file.len_bytes().unwrap(), 0);
        // Entries no transaction makes are damage too: a marker without a batch before it
        // (zeros: producer 0 from offset 0 to 0), a stable offset past the marker.
        for bad in [
            txn(5, 3, 3),
            AbortedTxn {
                last_stable_offset: 9,
                ..txn(5, 2, 3)
            },
        ] {
            file.truncate(0).unwrap();
            file.append(&bad.encode()).unwrap();
            assert_eq!(
                index.load(0, 20, 20).unwrap(),
                Some(Damage { missing_from: 0 })
            );
        }
    }

    #[test]
    fn a_lookup_streams_the_file_stops_when_complete_and_at_its_bound() {
        let storage = storage();
        let mut index = TxnIndexFile::open(&storage, Path::new("d"), 0).unwrap();
        let count = CHUNK_ENTRIES as i64 * 2 + 7;
        for i in 0..count {
            index.append(&storage, &txn(i, 10 * i, 10 * i + 5)).unwrap();
        }
        // Entry i's last stable offset is 10i + 6: the one of i = 2100/10 reaches 2105.
        let mut out = Vec::new();
        let complete = index.collect(1000, 2105, &mut out, usize::MAX).unwrap();
        assert!(complete);
        let pids: Vec<i64> = out.iter().map(|e| e.producer_id).collect();
        assert_eq!(pids, (100..=210).collect::<Vec<_>>());
        let mut bounded = Vec::new();
        index.collect(0, i64::MAX, &mut bounded, 5).unwrap();
        assert_eq!(bounded.len(), 5, "no more than asked");
        let mut everything = Vec::new();
        assert!(!index
            .collect(0, i64::MAX, &mut everything, usize::MAX)
            .unwrap());
        assert_eq!(everything.len() as i64, count);
    }
}
