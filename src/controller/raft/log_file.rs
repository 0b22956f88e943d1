//! The durable half of a voter, in one directory: the log's segment files, the snapshot and
//! the `quorum-state` file.
//!
//! * `raft-<base index, 20 digits>.log`: the log's entries from that index on, in order, each
//!   framed as `length (u32 BE) | CRC-32C of the body (u32 BE) | body (postcard of the
//!   entry)`. Writes happen inline (the handler appends and truncates; the page cache absorbs
//!   them); only syncs are persist jobs. A new segment starts after each compaction, so that
//!   the next one can remove whole files. At load the segments are read in order and cut at
//!   the first frame that is incomplete, fails its CRC, breaks the index sequence or lowers
//!   the term (Raft's terms never go down along a log): a write torn by a crash, or a file a
//!   crash brought back after it was removed, neither of which was ever acknowledged.
//! * `snapshot`: the state machine through some index (CRC, then postcard of index, term and
//!   the state machine's bytes), replaced atomically by a persist job *before* any segment it
//!   covers is removed. Damaged is an error: the entries it covers are gone.
//! * `quorum-state` (Kafka's name): the term and the vote, replaced atomically (temporary file,
//!   sync, rename, directory sync) by the persist job. Unlike the log's tail, a damaged file is
//!   an error: forgetting a vote could grant a second one in the same term.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::core::{HardState, LogWrite, Snapshot};
use super::msg::{Entry, SnapshotMeta};
use crate::storage::persist::PersistOp;
use crate::storage::{read_exact_at, Storage, StorageFile};

pub const QUORUM_STATE_FILE: &str = "quorum-state";
pub const SNAPSHOT_FILE: &str = "snapshot";
/// The largest entry body accepted at load (a length above it is damage, not an entry).
pub const ENTRY_BYTES_MAX: usize = 8 << 20;
/// The largest snapshot file accepted at load.
pub const SNAPSHOT_BYTES_MAX: u64 = 1 << 30;
const FRAME_HEADER_BYTES: usize = 8;

/// The file name of the segment whose first entry is `base`.
pub fn segment_name(base: u64) -> String {
    format!("raft-{base:020}.log")
}

fn segment_base(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("raft-")?.strip_suffix(".log")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

/// Why a voter's files cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged ({reason}); refusing to start without the last vote")]
    DamagedQuorumState { path: PathBuf, reason: String },
    #[error("{path} is damaged ({reason}); refusing to start without the entries it holds")]
    DamagedSnapshot { path: PathBuf, reason: String },
    #[error("{dir}: the log starts at index {first} but the snapshot ends at {snapshot}; entries are missing")]
    Gap {
        dir: PathBuf,
        first: u64,
        snapshot: u64,
    },
}

/// One segment file and where each of its entries starts.
struct Segment {
    base: u64,
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    /// Byte position of entry `base + i` at `starts[i]`, and the file's end last.
    starts: Vec<u64>,
}

impl Segment {
    /// One past its last entry.
    fn end(&self) -> u64 {
        self.base + self.starts.len() as u64 - 1
    }
}

/// A voter's open files.
pub struct RaftFiles {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    /// In index order, contiguous; the last one takes appends. Never empty.
    segments: Vec<Segment>,
    /// Files written since the last sync job started.
    unsynced: Vec<Arc<dyn StorageFile>>,
    /// A file was created or removed: the directory needs a sync.
    dir_unsynced: bool,
}

/// What the files held.
pub struct Loaded {
    pub files: RaftFiles,
    pub hard_state: HardState,
    pub snapshot: Snapshot,
    /// The entries after the snapshot.
    pub entries: Vec<Entry>,
    /// Bytes cut from the log's tail (a torn write) or dropped with files after it.
    pub cut_bytes: u64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotFile {
    pub(super) meta: SnapshotMeta,
    pub(super) data: Vec<u8>,
}

impl RaftFiles {
    /// Opens (creating if needed) the files in `dir` and reads them back.
    pub fn load(storage: Arc<dyn Storage>, dir: &Path) -> Result<Loaded, LoadError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LoadError::Io { path, source }
        };
        storage.create_dir_all(dir).map_err(io_err(dir))?;
        let hard_state = load_quorum_state(storage.as_ref(), dir)?;
        let snapshot = load_snapshot(storage.as_ref(), dir)?;
        let mut files = RaftFiles {
            storage: storage.clone(),
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            unsynced: Vec::new(),
            dir_unsynced: false,
        };
        let mut bases: Vec<u64> = storage
            .list(dir)
            .map_err(io_err(dir))?
            .iter()
            .filter_map(|name| segment_base(name))
            .collect();
        bases.sort_unstable();
        let mut entries: Vec<Entry> = Vec::new();
        let mut cut_bytes = 0;
        let mut cut = false;
        for base in bases {
            let path = dir.join(segment_name(base));
            let contiguous = files.segments.last().is_none_or(|s| s.end() == base);
            if cut || !contiguous {
                // After a cut, what follows was never acknowledged: drop it.
                let file = storage.open(&path, false).map_err(io_err(&path))?;
                cut_bytes += file.len_bytes().map_err(io_err(&path))?;
                storage.remove_file(&path).map_err(io_err(&path))?;
                files.dir_unsynced = true;
                cut = true;
                continue;
            }
            let file = storage.open(&path, false).map_err(io_err(&path))?;
            let len = file.len_bytes().map_err(io_err(&path))?;
            let last_term = entries.last().map_or(0, |e| e.term);
            let (read, starts, good_len) =
                read_entries(file.as_ref(), len, last_term).map_err(io_err(&path))?;
            if good_len < len {
                tracing::warn!(path = %path.display(), cut_bytes = len - good_len, "cut a torn tail off the Raft log");
                file.truncate(good_len).map_err(io_err(&path))?;
                files.unsynced.push(file.clone());
                cut_bytes += len - good_len;
                cut = true;
            }
            entries.extend(read);
            // A process that stopped can leave unsynced bytes readable (and a disk that lost
            // power refuses every sync while its page cache still answers reads): the first
            // job syncs every loaded segment, so nothing read here is acknowledged before it
            // is durable. Found by the simulator (seed 424): a voter reopened after its disk's
            // power went read two unsynced entries back, the first job synced nothing, it
            // acknowledged them, lost them in the crash that followed, and the leader, sure it
            // held them, sent it appends it refused for good.
            files.unsynced.push(file.clone());
            files.segments.push(Segment {
                base,
                path,
                file,
                starts,
            });
        }
        if files.segments.is_empty() {
            files.roll(snapshot.meta.index + 1).map_err(io_err(dir))?;
        }
        // What was renamed or removed in the directory (the vote, a snapshot) too.
        files.dir_unsynced = true;
        // Keep only what follows the snapshot, and only if it continues it.
        let first = files.segments.first().map_or(1, |s| s.base);
        let end = files.segments.last().map_or(1, |s| s.end());
        let at = snapshot.meta.index;
        let continues = first <= at + 1 && end > at && {
            let term_there = if at + 1 == first {
                None
            } else {
                entries.get((at - first) as usize).map(|e| e.term)
            };
            term_there.is_none_or(|t| t == snapshot.meta.term)
        };
        if continues {
            entries.drain(..(at + 1 - first) as usize);
        } else {
            if first > at + 1 {
                return Err(LoadError::Gap {
                    dir: dir.to_path_buf(),
                    first,
                    snapshot: at,
                });
            }
            // The log ends at or before the snapshot, or disagrees with it (a crash during an
            // install): it holds nothing the snapshot does not, so start a new one after it.
            entries.clear();
            files.reset_at(at + 1).map_err(io_err(dir))?;
        }
        Ok(Loaded {
            files,
            hard_state,
            snapshot,
            entries,
            cut_bytes,
        })
    }

    /// Removes every segment and starts an empty one at `base` (inline; the directory sync
    /// comes with the next job).
    fn reset_at(&mut self, base: u64) -> io::Result<()> {
        for segment in self.segments.drain(..) {
            self.storage.remove_file(&segment.path)?;
        }
        self.unsynced.clear();
        self.roll(base)
    }

    fn remove(&mut self, segment: &Segment) -> io::Result<()> {
        self.storage.remove_file(&segment.path)?;
        self.unsynced.retain(|f| !Arc::ptr_eq(f, &segment.file));
        self.dir_unsynced = true;
        Ok(())
    }

    /// Starts a new, empty segment at `base`.
    fn roll(&mut self, base: u64) -> io::Result<()> {
        let path = self.dir.join(segment_name(base));
        let file = self.storage.open(&path, true)?;
        file.truncate(0)?;
        self.unsynced.push(file.clone());
        self.segments.push(Segment {
            base,
            path,
            file,
            starts: vec![0],
        });
        self.dir_unsynced = true;
        Ok(())
    }

    fn last_index(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.end() - 1)
    }

    /// Writes a log suffix inline (not synced): drops the entries after `keep_through`, then
    /// appends.
    pub fn write_log(&mut self, write: &LogWrite) -> io::Result<()> {
        let keep = write.keep_through;
        if keep < self.last_index() {
            while self.segments.len() > 1 && self.segments.last().is_some_and(|s| s.base > keep + 1)
            {
                let segment = self.segments.pop().expect("checked");
                self.remove(&segment)?;
            }
            let segment = self.segments.last_mut().expect("never empty");
            let position = keep.saturating_sub(segment.base - 1) as usize;
            if position + 1 < segment.starts.len() {
                segment.file.truncate(segment.starts[position])?;
                segment.starts.truncate(position + 1);
                self.unsynced.push(segment.file.clone());
            }
        }
        let segment = self.segments.last_mut().expect("never empty");
        let mut bytes = Vec::new();
        let mut pos = *segment.starts.last().expect("the end is always there");
        for entry in &write.entries {
            let frame = encode_frame(entry)?;
            pos += frame.len() as u64;
            segment.starts.push(pos);
            bytes.extend(frame);
        }
        if !bytes.is_empty() {
            segment.file.append(&bytes)?;
            self.unsynced.push(segment.file.clone());
        }
        Ok(())
    }

    /// The ops that make everything written so far durable, with `hard_state` as the vote and,
    /// last, `save` as the snapshot file.
    pub fn sync_ops(
        &mut self,
        hard_state: Option<HardState>,
        save: Option<&Snapshot>,
    ) -> Vec<PersistOp> {
        let mut ops = Vec::new();
        if let Some(hard) = hard_state {
            ops.push(PersistOp::ReplaceFile {
                path: self.dir.join(QUORUM_STATE_FILE),
                bytes: checksummed(&hard),
                fence: None,
            });
        }
        let mut files: Vec<Arc<dyn StorageFile>> = Vec::new();
        for file in std::mem::take(&mut self.unsynced) {
            if !files.iter().any(|f| Arc::ptr_eq(f, &file)) {
                files.push(file);
            }
        }
        ops.push(PersistOp::SyncFiles(files));
        if std::mem::take(&mut self.dir_unsynced) {
            ops.push(PersistOp::SyncDir(self.dir.clone()));
        }
        if let Some(snapshot) = save {
            ops.push(self.snapshot_op(snapshot));
        }
        ops
    }

    /// The ops of an install: what was written so far synced, the snapshot made durable, and
    /// only then every segment removed. [`RaftFiles::installed`] starts the log after it.
    pub fn install_ops(
        &mut self,
        hard_state: Option<HardState>,
        snapshot: &Snapshot,
    ) -> Vec<PersistOp> {
        let mut ops = self.sync_ops(hard_state, Some(snapshot));
        ops.extend(
            self.segments
                .iter()
                .map(|s| PersistOp::RemoveFile(s.path.clone())),
        );
        ops.push(PersistOp::SyncDir(self.dir.clone()));
        ops
    }

    /// The install's job is done (its segments are gone): the log starts after `snapshot`.
    pub fn installed(&mut self, snapshot: SnapshotMeta) -> io::Result<()> {
        self.segments.clear();
        self.unsynced.clear();
        self.roll(snapshot.index + 1)
    }

    /// A snapshot through `index` is durable: removes the segments it covers whole, and
    /// starts a new segment so that the next compaction can remove this one.
    pub fn compact(&mut self, index: u64) -> io::Result<()> {
        let last = self.last_index();
        let active = self.segments.last().expect("never empty");
        if active.base <= index && active.end() > active.base {
            self.roll(last + 1)?;
        }
        while self.segments.len() > 1 && self.segments[0].end() <= index + 1 {
            let segment = self.segments.remove(0);
            self.remove(&segment)?;
        }
        Ok(())
    }

    fn snapshot_op(&self, snapshot: &Snapshot) -> PersistOp {
        let file = SnapshotFile {
            meta: snapshot.meta,
            data: snapshot.data.to_vec(),
        };
        PersistOp::ReplaceFile {
            path: self.dir.join(SNAPSHOT_FILE),
            bytes: checksummed(&file),
            fence: None,
        }
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }
}

/// A small file's bytes: the CRC-32C of the body, then the body (postcard of `value`).
pub(super) fn checksummed<T: Serialize>(value: &T) -> Vec<u8> {
    let body = postcard::to_allocvec(value).expect("a hard state or a snapshot encodes");
    let mut bytes = crc32c::crc32c(&body).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

/// One log entry as its frame: length, CRC-32C of the body, body.
pub(super) fn encode_frame(entry: &Entry) -> io::Result<Vec<u8>> {
    let body = postcard::to_allocvec(entry).map_err(io::Error::other)?;
    let mut bytes = Vec::with_capacity(FRAME_HEADER_BYTES + body.len());
    bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Why a [`checksummed`] file could not be read back.
enum ReadError {
    Io(io::Error),
    Damaged(String),
}

/// Reads back a file written by [`checksummed`], of at most `max_len` bytes; `None` if there
/// is no such file.
fn read_checksummed<T: DeserializeOwned>(
    storage: &dyn Storage,
    path: &Path,
    max_len: u64,
) -> Result<Option<T>, ReadError> {
    if !storage.exists(path) {
        return Ok(None);
    }
    let file = storage.open(path, false).map_err(ReadError::Io)?;
    let len = file.len_bytes().map_err(ReadError::Io)?;
    if !(4..=max_len).contains(&len) {
        return Err(ReadError::Damaged(format!("{len} bytes")));
    }
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(file.as_ref(), 0, &mut bytes).map_err(ReadError::Io)?;
    let (crc, body) = bytes.split_at(4);
    if crc32c::crc32c(body).to_be_bytes() != crc {
        return Err(ReadError::Damaged("CRC mismatch".to_owned()));
    }
    let value = postcard::from_bytes(body).map_err(|e| ReadError::Damaged(e.to_string()))?;
    Ok(Some(value))
}

fn load_quorum_state(storage: &dyn Storage, dir: &Path) -> Result<HardState, LoadError> {
    let path = dir.join(QUORUM_STATE_FILE);
    match read_checksummed(storage, &path, 64) {
        Ok(hard) => Ok(hard.unwrap_or_default()),
        Err(ReadError::Io(source)) => Err(LoadError::Io { path, source }),
        Err(ReadError::Damaged(reason)) => Err(LoadError::DamagedQuorumState { path, reason }),
    }
}

fn load_snapshot(storage: &dyn Storage, dir: &Path) -> Result<Snapshot, LoadError> {
    let path = dir.join(SNAPSHOT_FILE);
    match read_checksummed::<SnapshotFile>(storage, &path, SNAPSHOT_BYTES_MAX) {
        Ok(None) => Ok(Snapshot::empty()),
        Ok(Some(file)) => Ok(Snapshot {
            meta: file.meta,
            data: Arc::from(file.data),
        }),
        Err(ReadError::Io(source)) => Err(LoadError::Io { path, source }),
        Err(ReadError::Damaged(reason)) => Err(LoadError::DamagedSnapshot { path, reason }),
    }
}

/// The entries of a segment file of `len` bytes, their start positions (and the end), and the
/// length of the valid prefix. An entry of a term below `last_term` (the term before the
/// file) ends the valid prefix.
fn read_entries(
    file: &dyn StorageFile,
    len: u64,
    mut last_term: u64,
) -> io::Result<(Vec<Entry>, Vec<u64>, u64)> {
    let mut entries = Vec::new();
    let mut starts = vec![0u64];
    let mut pos = 0u64;
    let mut header = [0u8; FRAME_HEADER_BYTES];
    while pos + FRAME_HEADER_BYTES as u64 <= len {
        read_exact_at(file, pos, &mut header)?;
        let body_len = u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(header[4..].try_into().expect("4 bytes"));
        let end = pos + (FRAME_HEADER_BYTES + body_len) as u64;
        if body_len > ENTRY_BYTES_MAX || end > len {
            break;
        }
        let mut body = vec![0u8; body_len];
        read_exact_at(file, pos + FRAME_HEADER_BYTES as u64, &mut body)?;
        if crc32c::crc32c(&body) != crc {
            break;
        }
        let Ok(entry) = postcard::from_bytes::<Entry>(&body) else {
            break;
        };
        if entry.term < last_term {
            break;
        }
        last_term = entry.term;
        entries.push(entry);
        pos = end;
        starts.push(pos);
    }
    Ok((entries, starts, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::raft::msg::{Payload, SnapshotMeta};
    use crate::storage::mem::MemStorage;
    use crate::storage::persist::PersistJob;

    const DIR: &str = "__cluster_metadata-0";

    fn entry(term: u64, data: &str) -> Entry {
        Entry {
            term,
            payload: Payload::Command(data.as_bytes().to_vec()),
        }
    }

    fn sync(files: &mut RaftFiles, hard: Option<HardState>) {
        let ops = files.sync_ops(hard, None);
        PersistJob::new(files.storage(), ops).run().unwrap();
    }

    #[test]
    fn entries_and_vote_survive_a_crash_once_synced_and_only_then() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert_eq!(loaded.hard_state, HardState::default());
        assert!(loaded.entries.is_empty());
        let write = LogWrite {
            keep_through: 0,
            entries: vec![entry(1, "a"), entry(1, "b"), entry(2, "c")],
        };
        loaded.files.write_log(&write).unwrap();
        let hard = HardState {
            term: 2,
            voted_for: Some(crate::types::NodeId(3)),
        };
        sync(&mut loaded.files, Some(hard));
        // Rewrite from index 2 on, unsynced: a crash brings the synced entries back.
        let rewrite = LogWrite {
            keep_through: 1,
            entries: vec![entry(3, "d")],
        };
        loaded.files.write_log(&rewrite).unwrap();
        mem.crash();
        let mut again = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert_eq!(again.hard_state, hard);
        assert_eq!(again.entries, write.entries);
        again.files.write_log(&rewrite).unwrap();
        sync(&mut again.files, None);
        mem.crash();
        let last = RaftFiles::load(storage, Path::new(DIR)).unwrap();
        assert_eq!(last.entries, vec![entry(1, "a"), entry(3, "d")]);
        assert_eq!(last.hard_state, hard);
    }

    #[test]
    fn a_torn_tail_is_cut_and_appends_continue_after_it() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        loaded
            .files
            .write_log(&LogWrite {
                keep_through: 0,
                entries: vec![entry(1, "a")],
            })
            .unwrap();
        sync(&mut loaded.files, None);
        loaded
            .files
            .write_log(&LogWrite {
                keep_through: 1,
                entries: vec![entry(1, "bbbbbbbb")],
            })
            .unwrap();
        // Keep part of the unsynced frame.
        let path = Path::new(DIR).join(segment_name(1));
        let file = storage.open(&path, false).unwrap();
        let len = file.len_bytes().unwrap();
        file.truncate(len - 3).unwrap();
        file.sync().unwrap();
        let mut again = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert_eq!(again.entries, vec![entry(1, "a")]);
        assert!(again.cut_bytes > 0);
        again
            .files
            .write_log(&LogWrite {
                keep_through: 1,
                entries: vec![entry(2, "c")],
            })
            .unwrap();
        sync(&mut again.files, None);
        let last = RaftFiles::load(storage, Path::new(DIR)).unwrap();
        assert_eq!(last.entries, vec![entry(1, "a"), entry(2, "c")]);
        assert_eq!(last.cut_bytes, 0);
    }

    #[test]
    fn a_damaged_quorum_state_refuses_to_load() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        sync(
            &mut loaded.files,
            Some(HardState {
                term: 7,
                voted_for: None,
            }),
        );
        let path = Path::new(DIR).join(QUORUM_STATE_FILE);
        let file = storage.open(&path, false).unwrap();
        file.write_at(5, &[0xff]).unwrap();
        let err = RaftFiles::load(storage, Path::new(DIR))
            .err()
            .expect("refused");
        assert!(matches!(err, LoadError::DamagedQuorumState { .. }), "{err}");
    }

    fn files_with(storage: &Arc<dyn Storage>, entries: Vec<Entry>) -> RaftFiles {
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        loaded
            .files
            .write_log(&LogWrite {
                keep_through: 0,
                entries,
            })
            .unwrap();
        sync(&mut loaded.files, None);
        loaded.files
    }

    fn snapshot(index: u64, term: u64, data: &str) -> Snapshot {
        Snapshot {
            meta: SnapshotMeta { index, term },
            data: Arc::from(data.as_bytes().to_vec()),
        }
    }

    fn segments(storage: &Arc<dyn Storage>) -> Vec<u64> {
        let names = storage.list(Path::new(DIR)).unwrap();
        names.iter().filter_map(|n| segment_base(n)).collect()
    }

    #[test]
    fn a_compaction_removes_the_segments_the_snapshot_covers_and_a_load_continues_after_it() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut files = files_with(&storage, (0..4).map(|i| entry(1, &i.to_string())).collect());
        let snap = snapshot(3, 1, "through 3");
        let ops = files.sync_ops(None, Some(&snap));
        PersistJob::new(storage.clone(), ops).run().unwrap();
        files.compact(3).unwrap();
        // The first segment still holds entry 4: a new one starts for what comes next.
        assert_eq!(segments(&storage), vec![1, 5]);
        files
            .write_log(&LogWrite {
                keep_through: 4,
                entries: vec![entry(2, "5"), entry(2, "6")],
            })
            .unwrap();
        sync(&mut files, None);
        let snap = snapshot(5, 2, "through 5");
        let ops = files.sync_ops(None, Some(&snap));
        PersistJob::new(storage.clone(), ops).run().unwrap();
        files.compact(5).unwrap();
        assert_eq!(
            segments(&storage),
            vec![5, 7],
            "segment 1 held only entries through 4"
        );
        mem.crash();
        let loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert_eq!(loaded.snapshot, snap);
        assert_eq!(loaded.entries, vec![entry(2, "6")]);
    }

    #[test]
    fn an_install_cut_short_after_any_of_its_steps_loads_the_old_log_or_the_snapshot() {
        let old: Vec<Entry> = (0..5).map(|i| entry(1, &i.to_string())).collect();
        // A snapshot that disagrees with this log at its index (the leader's term there is 2).
        let snap = snapshot(8, 2, "the leader's state");
        let steps = {
            let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
            files_with(&storage, old.clone())
                .install_ops(None, &snap)
                .len()
        };
        for done in 0..=steps {
            let mem = MemStorage::new();
            let storage: Arc<dyn Storage> = Arc::new(mem.clone());
            let mut files = files_with(&storage, old.clone());
            let mut ops = files.install_ops(None, &snap);
            ops.truncate(done);
            PersistJob::new(storage.clone(), ops).run().unwrap();
            if done == steps {
                files.installed(snap.meta).unwrap();
                files
                    .write_log(&LogWrite {
                        keep_through: 8,
                        entries: vec![entry(2, "9")],
                    })
                    .unwrap();
                sync(&mut files, None);
            }
            mem.crash();
            let loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
            if loaded.snapshot.meta.index == 0 {
                assert_eq!(loaded.entries, old, "after {done} of {steps} steps");
            } else {
                assert_eq!(loaded.snapshot, snap, "after {done} of {steps} steps");
                let expect = if done == steps {
                    vec![entry(2, "9")]
                } else {
                    Vec::new()
                };
                assert_eq!(loaded.entries, expect, "after {done} of {steps} steps");
            }
            if done == steps {
                assert_eq!(loaded.snapshot, snap);
            }
            // And the loaded files take appends after what they hold.
            let mut again = loaded.files;
            let last = loaded.snapshot.meta.index + loaded.entries.len() as u64;
            again
                .write_log(&LogWrite {
                    keep_through: last,
                    entries: vec![entry(3, "next")],
                })
                .unwrap();
            sync(&mut again, None);
            let reloaded = RaftFiles::load(storage, Path::new(DIR)).unwrap();
            assert_eq!(reloaded.entries.last(), Some(&entry(3, "next")));
            assert_eq!(reloaded.entries.len(), loaded.entries.len() + 1);
        }
    }

    #[test]
    fn a_segment_that_lowers_the_term_or_leaves_a_gap_is_cut_with_everything_after_it() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut files = files_with(&storage, vec![entry(1, "a"), entry(3, "b")]);
        // A file a crash brought back: it continues the index sequence, with an older term.
        let frame = |entry: &Entry| encode_frame(entry).unwrap();
        let stale = storage
            .open(&Path::new(DIR).join(segment_name(3)), true)
            .unwrap();
        stale.append(&frame(&entry(2, "stale"))).unwrap();
        let after_gap = storage
            .open(&Path::new(DIR).join(segment_name(9)), true)
            .unwrap();
        after_gap.append(&frame(&entry(3, "far"))).unwrap();
        sync(&mut files, None);
        stale.sync().unwrap();
        after_gap.sync().unwrap();
        let loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert_eq!(loaded.entries, vec![entry(1, "a"), entry(3, "b")]);
        assert!(loaded.cut_bytes > 0);
        // The stale file is cut to nothing (the next append goes there), the one after the gap
        // is removed.
        assert_eq!(segments(&storage), vec![1, 3]);
        mem.crash();
        let again = RaftFiles::load(storage, Path::new(DIR)).unwrap();
        assert_eq!(again.entries, vec![entry(1, "a"), entry(3, "b")]);
    }

    #[test]
    fn a_log_that_starts_after_the_snapshot_ends_is_refused() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        drop(files_with(&storage, vec![entry(1, "a")]));
        storage
            .rename(
                &Path::new(DIR).join(segment_name(1)),
                &Path::new(DIR).join(segment_name(4)),
            )
            .unwrap();
        let err = RaftFiles::load(storage, Path::new(DIR))
            .err()
            .expect("refused");
        assert!(matches!(err, LoadError::Gap { first: 4, .. }), "{err}");
    }

    #[test]
    fn a_damaged_snapshot_refuses_to_load() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut files = files_with(&storage, vec![entry(1, "a")]);
        let ops = files.sync_ops(None, Some(&snapshot(1, 1, "state")));
        PersistJob::new(storage.clone(), ops).run().unwrap();
        let file = storage
            .open(&Path::new(DIR).join(SNAPSHOT_FILE), false)
            .unwrap();
        file.write_at(6, &[0xff]).unwrap();
        let err = RaftFiles::load(storage, Path::new(DIR))
            .err()
            .expect("refused");
        assert!(matches!(err, LoadError::DamagedSnapshot { .. }), "{err}");
    }

    /// A log file created in a directory that already existed (made by an operator, or kept
    /// by a crash that lost the file) is new all the same: its first sync syncs the directory,
    /// or a power cut could lose the file and the entries synced into it.
    #[test]
    fn a_new_log_file_in_an_existing_directory_has_the_directory_synced() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        storage.create_dir_all(Path::new(DIR)).unwrap();
        let syncs_dir = |files: &mut RaftFiles| {
            let ops = files.sync_ops(None, None);
            ops.iter()
                .any(|op| matches!(op, PersistOp::SyncDir(dir) if dir == Path::new(DIR)))
        };
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert!(syncs_dir(&mut loaded.files));
        assert!(!syncs_dir(&mut loaded.files), "once is enough");
        // Loaded again, its segment and the directory are synced again: what a stopped
        // process left may be readable without being durable.
        let mut again = RaftFiles::load(storage, Path::new(DIR)).unwrap();
        let ops = again.files.sync_ops(None, None);
        assert!(
            ops.iter()
                .any(|op| matches!(op, PersistOp::SyncFiles(files) if files.len() == 1)),
            "{ops:?}"
        );
        assert!(
            syncs_dir(&mut again.files) || ops.iter().any(|op| matches!(op, PersistOp::SyncDir(_)))
        );
    }

    /// A warning of a cut tells an operator that a write was torn (a crash): a log that loads
    /// whole must not raise one.
    #[test]
    fn only_a_torn_tail_is_reported_at_load() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tracing_subscriber::layer::SubscriberExt;

        struct CountWarnings(Arc<AtomicUsize>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountWarnings {
            fn on_event(
                &self,
                event: &tracing::Event<'_>,
                _: tracing_subscriber::layer::Context<'_, S>,
            ) {
                if *event.metadata().level() == tracing::Level::WARN {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let warnings_at_load = |storage: &Arc<dyn Storage>| {
            let count = Arc::new(AtomicUsize::new(0));
            let subscriber = tracing_subscriber::registry().with(CountWarnings(count.clone()));
            let loaded = tracing::subscriber::with_default(subscriber, || {
                RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap()
            });
            (loaded.cut_bytes, count.load(Ordering::SeqCst))
        };
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        loaded
            .files
            .write_log(&LogWrite {
                keep_through: 0,
                entries: vec![entry(1, "a"), entry(1, "b")],
            })
            .unwrap();
        sync(&mut loaded.files, None);
        assert_eq!(warnings_at_load(&storage), (0, 0));
        let file = storage
            .open(&Path::new(DIR).join(segment_name(1)), false)
            .unwrap();
        file.truncate(file.len_bytes().unwrap() - 1).unwrap();
        let (cut_bytes, warnings) = warnings_at_load(&storage);
        assert!(cut_bytes > 0);
        assert_eq!(warnings, 1, "the cut is reported");
    }

    /// `ENTRY_BYTES_MAX` is the largest body that loads; a length above it is damage, cut
    /// like a torn tail.
    #[test]
    fn an_entry_of_exactly_the_maximum_size_loads_and_one_byte_more_is_cut() {
        // The body: the term, the payload's variant and the command's length (varints of 1, 1
        // and 4 bytes here), then the command.
        let of_size = |body_bytes: usize| {
            let entry = Entry {
                term: 1,
                payload: Payload::Command(vec![7; body_bytes - 6]),
            };
            assert_eq!(postcard::to_allocvec(&entry).unwrap().len(), body_bytes);
            entry
        };
        for (body_bytes, loads) in [(ENTRY_BYTES_MAX, true), (ENTRY_BYTES_MAX + 1, false)] {
            let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
            let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
            let big = of_size(body_bytes);
            let write = LogWrite {
                keep_through: 0,
                entries: vec![entry(1, "a"), big.clone()],
            };
            loaded.files.write_log(&write).unwrap();
            sync(&mut loaded.files, None);
            let again = RaftFiles::load(storage, Path::new(DIR)).unwrap();
            if loads {
                assert_eq!(again.entries, write.entries);
                assert_eq!(again.cut_bytes, 0);
            } else {
                assert_eq!(again.entries, vec![entry(1, "a")]);
                assert_eq!(again.cut_bytes, (FRAME_HEADER_BYTES + body_bytes) as u64);
            }
        }
    }
}
