//! Sparse index files, kept in memory and appended to their file.
//!
//! Both indexes of a segment (offset and time) are arrays of fixed-size big-endian entries.
//! The whole array is mirrored in memory (8 or 12 bytes per `index_interval_bytes` of log, so
//! about 0.2% of the log size); lookups are binary searches over the mirror. New entries are
//! buffered and written with one append per log append.
//!
//! Offset index entry (8 bytes): `relative_offset u32` (batch base offset − segment base),
//! `position u32` (byte position of that batch in the `.log` file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::IoContext;
use super::LogError;
use crate::storage::{read_exact_at, Storage, StorageFile};

/// A fixed-size index entry.
pub(crate) trait Entry: Copy {
    const BYTES: usize;
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> Self;
}

/// One offset-index entry: where the batch starting at `relative_offset` lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl Entry for OffsetEntry {
    const BYTES: usize = 8;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            relative_offset: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// An index file and its in-memory mirror.
pub(crate) struct IndexFile<E: Entry> {
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    entries: Vec<E>,
    /// Encoded entries pushed since the last [`IndexFile::flush`].
    pending: Vec<u8>,
}

impl<E: Entry> IndexFile<E> {
    /// Opens (creating if needed) an index file without reading it. Returns whether the file
    /// already existed.
    pub(crate) fn open(storage: &dyn Storage, path: &Path) -> Result<(Self, bool), LogError> {
        let existed = storage.exists(path);
        let file = storage.open(path, true).at(path)?;
        let index = Self {
            path: path.to_path_buf(),
            file,
            entries: Vec::new(),
            pending: Vec::new(),
        };
        Ok((index, existed))
    }

    /// Reads the file into memory. Returns `Ok(false)` (leaving the mirror empty) when the
    /// file is not a whole number of entries or holds more than `max_entries`: it is damaged.
    pub(crate) fn load(&mut self, max_entries: u64) -> Result<bool, LogError> {
        self.entries.clear();
        self.pending.clear();
        let len = self.file.len_bytes().at(&self.path)?;
        if len % E::BYTES as u64 != 0 || len / E::BYTES as u64 > max_entries {
            return Ok(false);
        }
        let mut bytes = vec![0u8; len as usize];
        read_exact_at(self.file.as_ref(), 0, &mut bytes).at(&self.path)?;
        self.entries = bytes.chunks_exact(E::BYTES).map(E::decode).collect();
        Ok(true)
    }

    pub(crate) fn entries(&self) -> &[E] {
        &self.entries
    }

    pub(crate) fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    /// Adds an entry to the mirror; it reaches the file on the next [`IndexFile::flush`].
    pub(crate) fn push(&mut self, entry: E) {
        entry.encode(&mut self.pending);
        self.entries.push(entry);
    }

    /// Writes the pushed entries with one append.
    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        if !self.pending.is_empty() {
            self.file.append(&self.pending).at(&self.path)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Empties the file and the mirror (before a rebuild).
    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        self.pending.clear();
        self.file.truncate(0).at(&self.path)
    }

    pub(crate) fn file(&self) -> &Arc<dyn StorageFile> {
        &self.file
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl IndexFile<OffsetEntry> {
    /// The entries of batches starting at or before `relative_offset`, in order: a scan for
    /// it starts at the last one's position (0, the segment start, without any).
    pub(crate) fn entries_at_or_before(&self, relative_offset: u32) -> &[OffsetEntry] {
        entries_at_or_before(&self.entries, relative_offset)
    }
}

/// See [`IndexFile::entries_at_or_before`]; separate so it is testable on plain slices.
pub(crate) fn entries_at_or_before(
    entries: &[OffsetEntry],
    relative_offset: u32,
) -> &[OffsetEntry] {
    let after = entries.partition_point(|e| e.relative_offset <= relative_offset);
    &entries[..after]
}

/// Sanity check of a loaded offset index (Kafka's `sanityCheck`, stricter): offsets and
/// positions strictly increase, positions lie inside the log, offsets below `next_relative`.
pub(crate) fn check_offset_entries(
    entries: &[OffsetEntry],
    log_bytes: u64,
    next_relative: u64,
) -> bool {
    let increasing = entries
        .windows(2)
        .all(|w| w[0].relative_offset < w[1].relative_offset && w[0].position < w[1].position);
    let inside = entries.last().is_none_or(|e| {
        (e.position as u64) < log_bytes && (e.relative_offset as u64) < next_relative
    });
    increasing && inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(relative_offset: u32, position: u32) -> OffsetEntry {
        OffsetEntry {
            relative_offset,
            position,
        }
    }

    #[test]
    fn lookup_edges() {
        let lookup_position = |entries: &[OffsetEntry], relative_offset: u32| {
            (entries_at_or_before(entries, relative_offset).last()).map_or(0, |e| e.position)
        };
        assert_eq!(
            lookup_position(&[], 5),
            0,
            "empty index: scan from the start"
        );
        let entries = [e(10, 100), e(20, 200), e(30, 300)];
        assert_eq!(lookup_position(&entries, 0), 0, "before the first entry");
        assert_eq!(lookup_position(&entries, 9), 0);
        assert_eq!(lookup_position(&entries, 10), 100, "exact hit");
        assert_eq!(lookup_position(&entries, 15), 100, "between entries");
        assert_eq!(lookup_position(&entries, 20), 200);
        assert_eq!(lookup_position(&entries, 29), 200);
        assert_eq!(lookup_position(&entries, 30), 300);
        assert_eq!(
            lookup_position(&entries, u32::MAX),
            300,
            "past the last entry"
        );
    }

    #[test]
    fn sanity_check_catches_damage() {
        let good = [e(10, 100), e(20, 200)];
        assert!(check_offset_entries(&good, 300, 25));
        assert!(check_offset_entries(&[], 0, 0));
        assert!(
            !check_offset_entries(&[e(20, 100), e(10, 200)], 300, 25),
            "offsets go back"
        );
        assert!(
            !check_offset_entries(&[e(10, 200), e(20, 100)], 300, 25),
            "positions go back"
        );
        assert!(
            !check_offset_entries(&[e(10, 100), e(10, 200)], 300, 25),
            "duplicate offset"
        );
        assert!(
            !check_offset_entries(&good, 200, 25),
            "points past the end of the log"
        );
        assert!(
            !check_offset_entries(&good, 300, 20),
            "offset past the log end"
        );
    }

    #[test]
    fn load_takes_up_to_max_entries_and_calls_more_or_a_torn_entry_damage() {
        let mem = crate::storage::mem::MemStorage::new();
        let path = Path::new("index-load");
        let (mut index, existed) = IndexFile::<OffsetEntry>::open(&mem, path).unwrap();
        assert!(!existed);
        index.push(e(1, 10));
        index.push(e(2, 20));
        index.flush().unwrap();
        assert!(index.load(2).unwrap(), "exactly max_entries is whole");
        assert_eq!(index.entries(), [e(1, 10), e(2, 20)]);
        assert!(!index.load(1).unwrap(), "more than max_entries is damage");
        assert!(
            index.entries().is_empty(),
            "a damaged file leaves the mirror empty"
        );
        index.file().append(&[0]).unwrap();
        assert!(!index.load(3).unwrap(), "a torn entry is damage");
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut out = Vec::new();
        e(0x01020304, 0xa0b0c0d0).encode(&mut out);
        assert_eq!(out, [1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd0]);
        assert_eq!(OffsetEntry::decode(&out), e(0x01020304, 0xa0b0c0d0));
    }
}
