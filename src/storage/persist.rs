//! Durability work an actor hands to its driver: a [`PersistJob`] is a short list of
//! [`PersistOp`]s (fsync these files, fsync this directory, replace a small file atomically,
//! remove files) that the host runs off the actor — on the blocking pool in production, at
//! completion time under the stepper — and answers with [`crate::actor::Input::Synced`].
//!
//! A handler therefore never waits for a disk: it records what must become durable, keeps
//! serving, and acts on what depends on durability (an acks=all reply, a recovery point) when
//! the completion arrives. Ops run in order and the job stops at the first error, so a later op
//! may rely on the earlier ones (a checkpoint is written only after the segments it vouches
//! for are synced).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Storage, StorageFile};

/// Suffix of the temporary file a [`PersistOp::ReplaceFile`] writes before renaming it.
pub const REPLACE_TMP_SUFFIX: &str = ".tmp";

/// One step of a [`PersistJob`].
#[derive(Clone)]
pub enum PersistOp {
    /// fsync every byte written to these files so far.
    SyncFiles(Vec<Arc<dyn StorageFile>>),
    /// fsync a directory: creations, removals and renames inside it become durable.
    SyncDir(PathBuf),
    /// Replace a small file atomically and durably: write `<path>.tmp`, sync it, rename it
    /// over `path`, sync the directory. A crash leaves the old or the new bytes. With a
    /// `fence`, the replacement happens only if the fence is still at its expected value (see
    /// [`Fence`]); otherwise it is skipped, which is not an error.
    ReplaceFile {
        path: PathBuf,
        bytes: Vec<u8>,
        fence: Option<Fence>,
    },
    /// Remove one file (no error if it is already gone).
    RemoveFile(PathBuf),
    /// Remove a directory and everything below it (no error if absent).
    RemoveDirAll(PathBuf),
    /// Rename a directory (nothing to do if `from` is absent: a job run again after it moved
    /// it; an error if `from` is a file, which is not the job's to move). Durable only with a
    /// [`PersistOp::SyncDir`] of the parent after it.
    RenameDir { from: PathBuf, to: PathBuf },
    /// Run a planned log clean (its long part: the key map and the synced `.cleaned` files);
    /// the owner takes the result from the slot when the job completed.
    Clean(crate::storage::log::clean::CleanSlot),
    /// Swap a clean's result in (the renames, directory syncs and reopened, re-indexed
    /// segments of `Log::swap_job`); the owner takes the segments from the slot.
    SwapCleaned(crate::storage::log::clean::CleanSlot),
}

impl PersistOp {
    /// A short name of the op, for traces.
    pub fn kind(&self) -> &'static str {
        match self {
            PersistOp::SyncFiles(_) => "sync-files",
            PersistOp::SyncDir(_) => "sync-dir",
            PersistOp::ReplaceFile { .. } => "replace-file",
            PersistOp::RemoveFile(_) => "remove-file",
            PersistOp::RemoveDirAll(_) => "remove-dir-all",
            PersistOp::RenameDir { .. } => "rename-dir",
            PersistOp::Clean(_) => "clean",
            PersistOp::SwapCleaned(_) => "clean-swap",
        }
    }
}

/// A value shared by the state machine that made a job and the job itself, so that a newer
/// decision of the state machine wins over an older job still running elsewhere: the state
/// machine bumps the value (and writes its own bytes) while holding the lock; a fenced op runs
/// only while holding the lock and seeing the value it was made with. Used by the log so that
/// a truncation that lowered the recovery point is not overwritten by an older flush job.
#[derive(Clone)]
pub struct Fence {
    value: Arc<Mutex<u64>>,
    expect: u64,
}

impl Fence {
    pub fn new(value: Arc<Mutex<u64>>, expect: u64) -> Self {
        Self { value, expect }
    }
}

impl std::fmt::Debug for PersistOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PersistOp::SyncFiles(files) => write!(f, "SyncFiles({} files)", files.len()),
            PersistOp::SyncDir(dir) => write!(f, "SyncDir({})", dir.display()),
            PersistOp::ReplaceFile {
                path, bytes, fence, ..
            } => write!(
                f,
                "ReplaceFile({}, {} bytes{})",
                path.display(),
                bytes.len(),
                if fence.is_some() { ", fenced" } else { "" }
            ),
            PersistOp::RemoveFile(path) => write!(f, "RemoveFile({})", path.display()),
            PersistOp::RemoveDirAll(dir) => write!(f, "RemoveDirAll({})", dir.display()),
            PersistOp::RenameDir { from, to } => {
                write!(f, "RenameDir({} -> {})", from.display(), to.display())
            }
            PersistOp::Clean(_) => f.write_str("Clean"),
            PersistOp::SwapCleaned(_) => f.write_str("SwapCleaned"),
        }
    }
}

/// The ops of a job. The common job (fsync one log file) is one op, kept inline, so it costs
/// the one `Vec` of files it always did.
#[derive(Clone)]
enum Ops {
    One(PersistOp),
    Many(Vec<PersistOp>),
}

/// Durability work to run off the actor, in order, stopping at the first error. Cloning shares
/// the files (tests inspect a job and still run it).
#[derive(Clone)]
pub struct PersistJob {
    /// Needed by every op except [`PersistOp::SyncFiles`]; `None` for a pure file sync.
    storage: Option<Arc<dyn Storage>>,
    ops: Ops,
}

impl std::fmt::Debug for PersistJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ops()).finish()
    }
}

impl PersistJob {
    /// fsync these files: the one-op job (group commit of appends).
    pub fn sync_files(files: Vec<Arc<dyn StorageFile>>) -> Self {
        Self {
            storage: None,
            ops: Ops::One(PersistOp::SyncFiles(files)),
        }
    }

    /// A job of several ops on `storage`.
    pub fn new(storage: Arc<dyn Storage>, ops: Vec<PersistOp>) -> Self {
        Self {
            storage: Some(storage),
            ops: Ops::Many(ops),
        }
    }

    /// This job with `op` run before its own ops (on `storage`).
    pub fn after(self, storage: Arc<dyn Storage>, op: PersistOp) -> Self {
        let mut ops = vec![op];
        ops.extend(self.ops().iter().cloned());
        Self::new(storage, ops)
    }

    pub fn ops(&self) -> &[PersistOp] {
        match &self.ops {
            Ops::One(op) => std::slice::from_ref(op),
            Ops::Many(ops) => ops,
        }
    }

    /// Runs the ops in order; the first error ends the job.
    pub fn run(&self) -> io::Result<()> {
        for op in self.ops() {
            self.run_op(op)?;
        }
        Ok(())
    }

    fn storage(&self) -> io::Result<&dyn Storage> {
        self.storage
            .as_deref()
            .ok_or_else(|| io::Error::other("persist job without storage"))
    }

    /// Runs one of this job's ops ([`Self::run`] runs them all; the simulator runs them one by
    /// one to crash between them).
    pub fn run_op(&self, op: &PersistOp) -> io::Result<()> {
        match op {
            PersistOp::SyncFiles(files) => {
                for file in files {
                    file.sync()?;
                }
                Ok(())
            }
            PersistOp::SyncDir(dir) => self.storage()?.sync_dir(dir),
            PersistOp::ReplaceFile { path, bytes, fence } => {
                let storage = self.storage()?;
                match fence {
                    None => replace_file(storage, path, bytes),
                    Some(fence) => {
                        let value = fence
                            .value
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        if *value != fence.expect {
                            return Ok(()); // a newer decision already wrote this file
                        }
                        replace_file(storage, path, bytes)
                    }
                }
            }
            PersistOp::RemoveFile(path) => match self.storage()?.remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
            PersistOp::RemoveDirAll(dir) => self.storage()?.remove_dir_all(dir),
            PersistOp::RenameDir { from, to } => {
                let storage = self.storage()?;
                if !storage.exists(from) {
                    return Ok(());
                }
                // Listing fails on anything but a directory.
                storage.list(from)?;
                storage.rename(from, to)
            }
            PersistOp::Clean(slot) | PersistOp::SwapCleaned(slot) => slot.run(),
        }
    }
}

/// Replaces `path` with `bytes` atomically and durably: temp file, sync, rename, sync dir.
pub fn replace_file(storage: &dyn Storage, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(REPLACE_TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let file = storage.open(&tmp, true)?;
    file.truncate(0)?;
    file.append(bytes)?;
    file.sync()?;
    // Power fails here in the simulator: the next open must find the old file whole (and may
    // find a stale tmp file). The storage refuses every write from now on.
    let _ = crate::fault_point!(
        crate::faults::FaultPoint::CrashBeforeCheckpointRename,
        path.display().to_string()
    );
    storage.rename(&tmp, path)?;
    storage.sync_dir(path.parent().unwrap_or(Path::new("")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    fn storage() -> MemStorage {
        let mem = MemStorage::new();
        mem.create_dir_all(Path::new("d")).unwrap();
        mem
    }

    /// The simulator's history names the op a crash point interrupted by these words.
    #[test]
    fn each_op_has_its_own_name_for_traces() {
        let ops = [
            PersistOp::SyncFiles(Vec::new()),
            PersistOp::SyncDir("d".into()),
            PersistOp::ReplaceFile {
                path: "d/f".into(),
                bytes: Vec::new(),
                fence: None,
            },
            PersistOp::RemoveFile("d/f".into()),
            PersistOp::RemoveDirAll("d".into()),
            PersistOp::RenameDir {
                from: "d/f".into(),
                to: "d/g".into(),
            },
        ];
        let kinds: Vec<&str> = ops.iter().map(PersistOp::kind).collect();
        assert_eq!(
            kinds,
            [
                "sync-files",
                "sync-dir",
                "replace-file",
                "remove-file",
                "remove-dir-all",
                "rename-dir"
            ]
        );
    }

    #[test]
    fn ops_run_in_order_and_replace_is_durable() {
        let mem = storage();
        let file = mem.open(Path::new("d/a.log"), true).unwrap();
        file.append(b"abc").unwrap();
        let job = PersistJob::new(
            Arc::new(mem.clone()),
            vec![
                PersistOp::SyncFiles(vec![file]),
                PersistOp::SyncDir("d".into()),
                PersistOp::ReplaceFile {
                    path: "d/cp".into(),
                    bytes: b"42".to_vec(),
                    fence: None,
                },
            ],
        );
        assert_eq!(job.ops().len(), 3);
        job.run().unwrap();
        mem.crash();
        assert_eq!(mem.read_file(Path::new("d/a.log")).unwrap(), b"abc");
        assert_eq!(mem.read_file(Path::new("d/cp")).unwrap(), b"42");
        assert!(!mem.exists(Path::new("d/cp.tmp")));
    }

    /// A disk whose file removals fail (EIO): everything else is the memory disk.
    struct RemovalsFail(MemStorage);

    impl Storage for RemovalsFail {
        fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
            self.0.open(path, create)
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            self.0.list(dir)
        }
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            self.0.create_dir_all(dir)
        }
        fn remove_file(&self, _path: &Path) -> io::Result<()> {
            Err(io::Error::other("EIO"))
        }
        fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
            self.0.remove_dir_all(dir)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.0.rename(from, to)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.0.sync_dir(dir)
        }
        fn exists(&self, path: &Path) -> bool {
            self.0.exists(path)
        }
    }

    /// A removal of a file already gone is done; any other failed removal fails the job.
    #[test]
    fn a_missing_file_is_removed_but_a_failed_removal_is_an_error() {
        let gone = PersistJob::new(
            Arc::new(storage()),
            vec![PersistOp::RemoveFile("d/never-there".into())],
        );
        gone.run().unwrap();
        let failing = PersistJob::new(
            Arc::new(RemovalsFail(storage())),
            vec![PersistOp::RemoveFile("d/a.log".into())],
        );
        assert_eq!(failing.run().unwrap_err().to_string(), "EIO");
    }

    #[test]
    fn the_first_error_stops_the_job() {
        let mem = storage();
        let job = PersistJob::new(
            Arc::new(mem.clone()),
            vec![
                PersistOp::SyncDir("missing".into()),
                PersistOp::ReplaceFile {
                    path: "d/cp".into(),
                    bytes: b"1".to_vec(),
                    fence: None,
                },
            ],
        );
        assert!(job.run().is_err());
        assert!(!mem.exists(Path::new("d/cp")), "later ops did not run");
    }

    #[test]
    fn a_moved_fence_skips_the_replacement() {
        let mem = storage();
        let value = Arc::new(Mutex::new(1));
        let fenced = |expect| PersistOp::ReplaceFile {
            path: "d/cp".into(),
            bytes: vec![expect as u8],
            fence: Some(Fence::new(value.clone(), expect)),
        };
        let job = PersistJob::new(Arc::new(mem.clone()), vec![fenced(0)]);
        job.run().unwrap();
        assert!(!mem.exists(Path::new("d/cp")), "stale: skipped");
        let job = PersistJob::new(Arc::new(mem.clone()), vec![fenced(1)]);
        job.run().unwrap();
        assert_eq!(mem.read_file(Path::new("d/cp")).unwrap(), vec![1]);
    }

    #[test]
    fn a_file_sync_job_is_one_op_and_needs_no_storage() {
        let mem = storage();
        let file = mem.open(Path::new("d/a.log"), true).unwrap();
        file.append(b"x").unwrap();
        let job = PersistJob::sync_files(vec![file]);
        assert!(matches!(job.ops(), [PersistOp::SyncFiles(files)] if files.len() == 1));
        job.run().unwrap();
        mem.crash();
        assert_eq!(mem.read_file(Path::new("d/a.log")).unwrap(), b"x");
        let removal = PersistJob {
            storage: None,
            ops: Ops::One(PersistOp::RemoveFile("d/a.log".into())),
        };
        assert!(removal.run().is_err(), "no storage to remove with");
    }
}
