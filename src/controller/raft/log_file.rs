//! The durable half of a voter: its log file and its `quorum-state` file, in one directory.
//!
//! * `raft.log`: the entries in order, each framed as `length (u32 BE) | CRC-32C of the body
//!   (u32 BE) | body (postcard of the entry)`. Writes happen inline (the handler appends and
//!   truncates; the page cache absorbs them); only syncs are persist jobs. At load, the file is
//!   cut at the first frame that is incomplete or fails its CRC: a write torn by a crash,
//!   which was never synced and so never acknowledged.
//! * `quorum-state` (Kafka's name): the term and the vote, replaced atomically (temporary file,
//!   sync, rename, directory sync) by the persist job. Unlike the log's tail, a damaged file is
//!   an error: forgetting a vote could grant a second one in the same term.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::core::{HardState, LogWrite};
use super::msg::Entry;
use crate::storage::persist::PersistOp;
use crate::storage::{read_exact_at, Storage, StorageFile};

pub const LOG_FILE: &str = "raft.log";
pub const QUORUM_STATE_FILE: &str = "quorum-state";
/// The largest entry body accepted at load (a length above it is damage, not an entry).
pub const ENTRY_BYTES_MAX: usize = 8 << 20;
const FRAME_HEADER_BYTES: usize = 8;

/// Why a voter's files cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged ({reason}); refusing to start without the last vote")]
    DamagedQuorumState { path: PathBuf, reason: String },
}

/// A voter's open files and where each entry starts in the log file.
pub struct RaftFiles {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    log: Arc<dyn StorageFile>,
    /// Byte position of entry `i` (1-based) at `starts[i - 1]`, and the file's end last.
    starts: Vec<u64>,
    /// The directory entry of a created file is not durable until the directory is synced.
    dir_unsynced: bool,
}

/// What the files held.
pub struct Loaded {
    pub files: RaftFiles,
    pub hard_state: HardState,
    pub entries: Vec<Entry>,
    /// Bytes cut from the log file's tail (a torn write).
    pub cut_bytes: u64,
}

impl RaftFiles {
    /// Opens (creating if needed) the files in `dir` and reads them back.
    pub fn load(storage: Arc<dyn Storage>, dir: &Path) -> Result<Loaded, LoadError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LoadError::Io { path, source }
        };
        let created = !storage.exists(dir);
        storage.create_dir_all(dir).map_err(io_err(dir))?;
        let hard_state = load_quorum_state(storage.as_ref(), dir)?;
        let log_path = dir.join(LOG_FILE);
        let log_created = created || !storage.exists(&log_path);
        let log = storage.open(&log_path, true).map_err(io_err(&log_path))?;
        let len = log.len_bytes().map_err(io_err(&log_path))?;
        let (entries, starts, good_len) =
            read_entries(log.as_ref(), len).map_err(io_err(&log_path))?;
        if good_len < len {
            tracing::warn!(path = %log_path.display(), cut_bytes = len - good_len, "cut a torn tail off the Raft log");
            log.truncate(good_len).map_err(io_err(&log_path))?;
        }
        Ok(Loaded {
            files: RaftFiles {
                storage,
                dir: dir.to_path_buf(),
                log,
                starts,
                dir_unsynced: log_created,
            },
            hard_state,
            entries,
            cut_bytes: len - good_len,
        })
    }

    /// Writes a log suffix inline (not synced).
    pub fn write_log(&mut self, write: &LogWrite) -> io::Result<()> {
        let keep = write.keep_through as usize;
        if keep + 1 < self.starts.len() {
            let end = self.starts[keep];
            self.log.truncate(end)?;
            self.starts.truncate(keep + 1);
        }
        let mut bytes = Vec::new();
        let mut pos = *self.starts.last().expect("the end is always there");
        for entry in &write.entries {
            let body = postcard::to_allocvec(entry).map_err(io::Error::other)?;
            bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
            bytes.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
            bytes.extend_from_slice(&body);
            pos += (FRAME_HEADER_BYTES + body.len()) as u64;
            self.starts.push(pos);
        }
        if !bytes.is_empty() {
            self.log.append(&bytes)?;
        }
        Ok(())
    }

    /// The ops that make everything written so far durable, with `hard_state` as the vote.
    pub fn sync_ops(&mut self, hard_state: Option<HardState>) -> Vec<PersistOp> {
        let mut ops = Vec::new();
        if let Some(hard) = hard_state {
            ops.push(PersistOp::ReplaceFile {
                path: self.dir.join(QUORUM_STATE_FILE),
                bytes: encode_quorum_state(&hard),
                fence: None,
            });
        }
        ops.push(PersistOp::SyncFiles(vec![self.log.clone()]));
        if std::mem::take(&mut self.dir_unsynced) {
            ops.push(PersistOp::SyncDir(self.dir.clone()));
        }
        ops
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }
}

fn encode_quorum_state(hard: &HardState) -> Vec<u8> {
    let body = postcard::to_allocvec(hard).expect("a hard state encodes");
    let mut bytes = crc32c::crc32c(&body).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

fn load_quorum_state(storage: &dyn Storage, dir: &Path) -> Result<HardState, LoadError> {
    let path = dir.join(QUORUM_STATE_FILE);
    if !storage.exists(&path) {
        return Ok(HardState::default());
    }
    let io_err = |source| LoadError::Io {
        path: path.clone(),
        source,
    };
    let file = storage.open(&path, false).map_err(io_err)?;
    let len = file.len_bytes().map_err(io_err)?;
    let damaged = |reason: String| LoadError::DamagedQuorumState {
        path: path.clone(),
        reason,
    };
    if !(4..=64).contains(&len) {
        return Err(damaged(format!("{len} bytes")));
    }
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(file.as_ref(), 0, &mut bytes).map_err(io_err)?;
    let (crc, body) = bytes.split_at(4);
    if crc32c::crc32c(body).to_be_bytes() != crc {
        return Err(damaged("CRC mismatch".to_owned()));
    }
    postcard::from_bytes(body).map_err(|e| damaged(e.to_string()))
}

/// The entries of a log file of `len` bytes, their start positions (and the end), and the
/// length of the valid prefix.
fn read_entries(file: &dyn StorageFile, len: u64) -> io::Result<(Vec<Entry>, Vec<u64>, u64)> {
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
        entries.push(entry);
        pos = end;
        starts.push(pos);
    }
    Ok((entries, starts, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::raft::msg::Payload;
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
        let ops = files.sync_ops(hard);
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
        let path = Path::new(DIR).join(LOG_FILE);
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

    /// A log file created in a directory that already existed (made by an operator, or kept
    /// by a crash that lost the file) is new all the same: its first sync syncs the directory,
    /// or a power cut could lose the file and the entries synced into it.
    #[test]
    fn a_new_log_file_in_an_existing_directory_has_the_directory_synced() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        storage.create_dir_all(Path::new(DIR)).unwrap();
        let syncs_dir = |files: &mut RaftFiles| {
            let ops = files.sync_ops(None);
            ops.iter()
                .any(|op| matches!(op, PersistOp::SyncDir(dir) if dir == Path::new(DIR)))
        };
        let mut loaded = RaftFiles::load(storage.clone(), Path::new(DIR)).unwrap();
        assert!(syncs_dir(&mut loaded.files));
        assert!(!syncs_dir(&mut loaded.files), "once is enough");
        let mut again = RaftFiles::load(storage, Path::new(DIR)).unwrap();
        assert!(!syncs_dir(&mut again.files), "the file was there");
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
        let file = storage.open(&Path::new(DIR).join(LOG_FILE), false).unwrap();
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
