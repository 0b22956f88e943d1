//! [`MemStorage`]: an in-memory [`Storage`] that models what a crash keeps.
//!
//! Every file has *live* bytes (what reads see) and *durable* bytes (what survives a crash).
//! [`StorageFile::sync`] makes the live bytes durable; [`MemStorage::crash`] throws away
//! everything that was not, and [`MemStorage::crash_torn`] additionally lets the last write
//! survive partially, like a power cut in the middle of a sector run. This is what unit tests
//! and the simulator (`rill-sim`'s `SimStorage`) use to check that the log recovers from exactly
//! what a real disk could leave behind.
//!
//! # Cost
//! A log mostly appends and then syncs. As long as nothing below the durable length was changed
//! since the last sync, the durable bytes are a prefix of the live bytes, so a file only stores
//! `durable_len`. The durable bytes are copied (copy-on-write) only when a `write_at` or
//! `truncate` reaches below `durable_len`, so the common case costs O(appended bytes).
//!
//! # Simplifications (documented, deliberate)
//! * A file *creation* becomes durable when the file is synced or its parent directory is
//!   `sync_dir`ed; until then a crash makes the file disappear.
//! * Removals and renames are durable at once (real file systems need a `sync_dir`; code that
//!   forgets it is not caught here).
//! * Directories are durable as soon as they are created.
//! * Handles opened before a crash belong to the "dead process": every call on them fails.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng;

use super::file::checked_relative;
use super::{Storage, StorageFile};

/// Largest file `MemStorage` will hold. A position past it is an error instead of an attempt to
/// allocate that much memory (a real file system would make a sparse file).
pub const MEM_FILE_BYTES_MAX: u64 = 1 << 32;

/// Locks a mutex, ignoring poisoning: a panic in a test thread must not hide the storage state
/// from the assertions that follow.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An in-memory directory tree with crash semantics. Cloning shares the same tree.
#[derive(Clone, Default)]
pub struct MemStorage {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    namespace: Mutex<Namespace>,
    /// Bumped by every crash; handles remember the generation they were opened in.
    generation: AtomicU64,
    /// Orders appends across files so a torn crash can find the most recent one.
    append_seq: AtomicU64,
    /// Test hook ([`MemStorage::forbid_sync`]): while set, `sync` and `sync_dir` panic.
    sync_forbidden: AtomicBool,
    /// Test hook ([`MemStorage::fail_writes`]): while set, writes that grow a file fail.
    write_error: Mutex<Option<io::ErrorKind>>,
    /// Test hook ([`MemStorage::fail_writes_to`]): while set, writes that grow a file whose
    /// name ends so fail.
    write_error_for: Mutex<Option<(String, io::ErrorKind)>>,
}

#[derive(Default)]
struct Namespace {
    files: BTreeMap<PathBuf, Arc<Mutex<Inode>>>,
    /// Every directory except the root (the empty path), which always exists.
    dirs: BTreeSet<PathBuf>,
}

#[derive(Default)]
struct Inode {
    live: Vec<u8>,
    /// Length of the durable bytes. Without `durable_copy` they are `live[..durable_len]`.
    durable_len: usize,
    /// The durable bytes, copied only once live bytes below `durable_len` changed.
    durable_copy: Option<Vec<u8>>,
    /// Whether the file's directory entry survives a crash.
    created_durable: bool,
    /// `Shared::append_seq` value of the last append, 0 if never appended to.
    last_append_seq: u64,
}

/// What [`MemStorage::crash_torn`] left of the last appended file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornWrite {
    pub path: PathBuf,
    /// Unsynced bytes that survived (a prefix of what was appended after the last sync).
    pub kept_bytes: u64,
    /// Unsynced bytes that were lost.
    pub dropped_bytes: u64,
}

impl Inode {
    /// Preserves the durable bytes before live bytes below `durable_len` change.
    fn copy_durable_before_change_below(&mut self, pos: usize) {
        if pos < self.durable_len && self.durable_copy.is_none() {
            self.durable_copy = Some(self.live[..self.durable_len].to_vec());
        }
    }

    fn sync(&mut self) {
        self.durable_copy = None;
        self.durable_len = self.live.len();
        self.created_durable = true;
    }

    /// Unsynced appended bytes that a torn write could partly keep: only defined when the
    /// durable bytes are still a prefix of the live bytes.
    fn unsynced_append_len(&self) -> Option<usize> {
        match self.durable_copy {
            None if self.created_durable => Some(self.live.len() - self.durable_len),
            _ => None,
        }
    }

    fn revert_to_durable(&mut self) {
        match self.durable_copy.take() {
            Some(copy) => self.live = copy,
            None => self.live.truncate(self.durable_len),
        }
        self.durable_len = self.live.len();
        self.last_append_seq = 0;
    }
}

impl MemStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Test hook: while `forbid` is on, every `sync` and `sync_dir` panics. Tests of an actor
    /// turn it on around its handler calls and off while they run its persist jobs, which
    /// proves the handler never waits for a disk.
    pub fn forbid_sync(&self, forbid: bool) {
        self.shared.sync_forbidden.store(forbid, Ordering::SeqCst);
    }

    /// Test hook: while `error` is set, every write that would grow a file fails with it and
    /// writes nothing (`StorageFull`: a full disk; `Other`: EIO); overwrites in place work.
    pub fn fail_writes(&self, error: Option<io::ErrorKind>) {
        *lock(&self.shared.write_error) = error;
    }

    /// As [`Self::fail_writes`], for the files whose name ends with `suffix` only (`None`
    /// clears it): one kind of file fails while the others are written.
    pub fn fail_writes_to(&self, error: Option<(&str, io::ErrorKind)>) {
        *lock(&self.shared.write_error_for) = error.map(|(suffix, kind)| (suffix.to_owned(), kind));
    }

    fn namespace(&self) -> MutexGuard<'_, Namespace> {
        lock(&self.shared.namespace)
    }

    /// Simulates a power cut: every file reverts to its durable bytes, files whose creation was
    /// never made durable disappear, and handles opened before fail from now on.
    pub fn crash(&self) {
        let mut namespace = self.namespace();
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        namespace.files.retain(|_, inode| {
            let mut inode = lock(inode);
            inode.revert_to_durable();
            inode.created_durable
        });
    }

    /// Like [`MemStorage::crash`], but the most recently appended-to file keeps a random-length
    /// prefix (possibly empty, possibly all) of its unsynced appended bytes: a torn write.
    /// Returns what happened to that file; `None` (a plain crash) when it has no unsynced
    /// appended bytes or a write below its durable length made them not a simple tail.
    pub fn crash_torn(&self, rng: &mut impl Rng) -> Option<TornWrite> {
        let torn = {
            let namespace = self.namespace();
            let last = namespace
                .files
                .iter()
                .map(|(path, inode)| (lock(inode).last_append_seq, path, inode))
                .filter(|(seq, _, _)| *seq > 0)
                .max_by_key(|(seq, _, _)| *seq);
            last.and_then(|(_, path, inode)| {
                let mut inode = lock(inode);
                let unsynced = inode.unsynced_append_len().filter(|len| *len > 0)?;
                let kept = rng.gen_range(0..=unsynced);
                // Extending the durable prefix makes the crash below keep those bytes.
                inode.durable_len += kept;
                Some(TornWrite {
                    path: path.clone(),
                    kept_bytes: kept as u64,
                    dropped_bytes: (unsynced - kept) as u64,
                })
            })
        };
        self.crash();
        torn
    }

    /// Fault injection (the simulator's fsyncgate): reverts one file's live bytes to its
    /// durable bytes, as a kernel that dropped a file's dirty pages after a failed writeback.
    /// Open handles stay valid (unlike [`MemStorage::crash`]) and see the shorter file. Returns
    /// how many live bytes differed from the durable ones (0 when the file was clean or absent).
    pub fn drop_unsynced(&self, path: &Path) -> u64 {
        let Ok(path) = checked_relative(path) else {
            return 0;
        };
        let namespace = self.namespace();
        let Some(inode) = namespace.files.get(&path) else {
            return 0;
        };
        let mut inode = lock(inode);
        let before = inode.live.len() as u64;
        let changed = inode.durable_copy.is_some() || inode.live.len() != inode.durable_len;
        inode.revert_to_durable();
        if changed {
            before.abs_diff(inode.live.len() as u64).max(1)
        } else {
            0
        }
    }

    /// Live bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        let namespace = self.namespace();
        namespace
            .files
            .values()
            .map(|inode| lock(inode).live.len() as u64)
            .sum()
    }

    /// Paths of all files, sorted.
    pub fn file_names(&self) -> Vec<PathBuf> {
        self.namespace().files.keys().cloned().collect()
    }

    /// Live bytes of one file, `None` if it does not exist.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let path = checked_relative(path).ok()?;
        let namespace = self.namespace();
        let inode = namespace.files.get(&path)?;
        let bytes = lock(inode).live.clone();
        Some(bytes)
    }

    /// Bytes of one file that would survive a crash now, `None` if the file would not.
    pub fn durable_file(&self, path: &Path) -> Option<Vec<u8>> {
        let path = checked_relative(path).ok()?;
        let namespace = self.namespace();
        let inode = lock(namespace.files.get(&path)?);
        if !inode.created_durable {
            return None;
        }
        Some(match &inode.durable_copy {
            Some(copy) => copy.clone(),
            None => inode.live[..inode.durable_len].to_vec(),
        })
    }
}

impl std::fmt::Debug for MemStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let namespace = self.namespace();
        write!(
            f,
            "MemStorage({} files, {} dirs)",
            namespace.files.len(),
            namespace.dirs.len()
        )
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

impl Namespace {
    fn is_dir(&self, path: &Path) -> bool {
        path.as_os_str().is_empty() || self.dirs.contains(path)
    }

    fn parent_must_be_dir(&self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(parent) if self.is_dir(parent) => Ok(()),
            Some(parent) => Err(not_found(parent)),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the root is not a file",
            )),
        }
    }

    fn rename_dir(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        if self.files.contains_key(to) || self.dirs.contains(to) || to.starts_with(from) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "cannot rename directory {} onto {}",
                    from.display(),
                    to.display()
                ),
            ));
        }
        self.parent_must_be_dir(to)?;
        let moved = |path: &Path| to.join(path.strip_prefix(from).expect("filtered by prefix"));
        let dirs: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(from))
            .cloned()
            .collect();
        for dir in dirs {
            self.dirs.remove(&dir);
            self.dirs.insert(moved(&dir));
        }
        let files: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|f| f.starts_with(from))
            .cloned()
            .collect();
        for file in files {
            let inode = self.files.remove(&file).expect("listed above");
            self.files.insert(moved(&file), inode);
        }
        Ok(())
    }
}

impl Storage for MemStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let path = checked_relative(path)?;
        let mut namespace = self.namespace();
        if namespace.is_dir(&path) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a directory", path.display()),
            ));
        }
        let inode = match namespace.files.get(&path) {
            Some(inode) => inode.clone(),
            None if create => {
                namespace.parent_must_be_dir(&path)?;
                let inode = Arc::new(Mutex::new(Inode::default()));
                namespace.files.insert(path.clone(), inode.clone());
                inode
            }
            None => return Err(not_found(&path)),
        };
        Ok(Arc::new(MemFile {
            inode,
            shared: self.shared.clone(),
            generation: self.shared.generation.load(Ordering::SeqCst),
            opened_as: path.to_string_lossy().into_owned(),
        }))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let dir = checked_relative(dir)?;
        let namespace = self.namespace();
        if !namespace.is_dir(&dir) {
            return Err(not_found(&dir));
        }
        let children = namespace.files.keys().chain(namespace.dirs.iter());
        let mut names: Vec<String> = children
            .filter(|path| path.parent() == Some(dir.as_path()))
            .filter_map(|path| {
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .collect();
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let dir = checked_relative(dir)?;
        let mut namespace = self.namespace();
        for ancestor in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            if namespace.files.contains_key(ancestor) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is a file", ancestor.display()),
                ));
            }
        }
        for ancestor in dir.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            namespace.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let path = checked_relative(path)?;
        match self.namespace().files.remove(&path) {
            Some(_) => Ok(()),
            None => Err(not_found(&path)),
        }
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        let dir = checked_relative(dir)?;
        let mut namespace = self.namespace();
        if namespace.files.contains_key(&dir) {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is a file", dir.display()),
            ));
        }
        namespace.files.retain(|path, _| !path.starts_with(&dir));
        namespace.dirs.retain(|path| !path.starts_with(&dir));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (checked_relative(from)?, checked_relative(to)?);
        let mut namespace = self.namespace();
        if namespace.dirs.contains(&from) {
            return namespace.rename_dir(&from, &to);
        }
        if !namespace.files.contains_key(&from) {
            return Err(not_found(&from));
        }
        namespace.parent_must_be_dir(&to)?;
        if namespace.is_dir(&to) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("cannot rename a file onto directory {}", to.display()),
            ));
        }
        let inode = namespace.files.remove(&from).expect("checked above");
        namespace.files.insert(to, inode);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        check_sync_allowed(&self.shared);
        let dir = checked_relative(dir)?;
        let namespace = self.namespace();
        if !namespace.is_dir(&dir) {
            return Err(not_found(&dir));
        }
        for (path, inode) in &namespace.files {
            if path.parent() == Some(dir.as_path()) {
                lock(inode).created_durable = true;
            }
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        let Ok(path) = checked_relative(path) else {
            return false;
        };
        let namespace = self.namespace();
        namespace.is_dir(&path) || namespace.files.contains_key(&path)
    }
}

/// Panics while [`MemStorage::forbid_sync`] is on.
fn check_sync_allowed(shared: &Shared) {
    assert!(
        !shared.sync_forbidden.load(Ordering::SeqCst),
        "fsync while MemStorage::forbid_sync is on (a handler waited for the disk)"
    );
}

/// A handle to one in-memory file. Survives renames and removals of its path, like a Unix fd.
struct MemFile {
    inode: Arc<Mutex<Inode>>,
    shared: Arc<Shared>,
    generation: u64,
    /// The path it was opened by (for [`MemStorage::fail_writes_to`]).
    opened_as: String,
}

impl MemFile {
    /// Locks the inode, failing if a crash happened since this handle was opened. The
    /// generation is checked under the inode lock, which a crash takes after bumping it.
    fn inode(&self) -> io::Result<MutexGuard<'_, Inode>> {
        let inode = lock(&self.inode);
        if self.shared.generation.load(Ordering::SeqCst) != self.generation {
            return Err(io::Error::other(
                "file handle opened before a simulated crash",
            ));
        }
        Ok(inode)
    }
}

/// Refuses a write that grows a file from `len` to `end` while [`MemStorage::fail_writes`] is
/// set.
fn check_space(file: &MemFile, len: usize, end: usize) -> io::Result<()> {
    if end <= len {
        return Ok(());
    }
    if let Some(kind) = *lock(&file.shared.write_error) {
        return Err(io::Error::from(kind));
    }
    match &*lock(&file.shared.write_error_for) {
        Some((suffix, kind)) if file.opened_as.ends_with(suffix.as_str()) => {
            Err(io::Error::from(*kind))
        }
        _ => Ok(()),
    }
}

/// `pos + len` as an in-memory length, or an error past [`MEM_FILE_BYTES_MAX`].
fn end_position(pos: u64, len: usize) -> io::Result<usize> {
    match pos.checked_add(len as u64) {
        Some(end) if end <= MEM_FILE_BYTES_MAX => Ok(end as usize),
        _ => Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("write past MemStorage's {MEM_FILE_BYTES_MAX} byte file limit"),
        )),
    }
}

impl StorageFile for MemFile {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(self.inode()?.live.len() as u64)
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let inode = self.inode()?;
        let Ok(start) = usize::try_from(pos) else {
            return Ok(0);
        };
        let Some(available) = inode.live.get(start..) else {
            return Ok(0);
        };
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        Ok(n)
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        let mut inode = self.inode()?;
        let pos = inode.live.len();
        let end = end_position(pos as u64, data.len())?;
        check_space(self, pos, end)?;
        inode.live.extend_from_slice(data);
        inode.last_append_seq = self.shared.append_seq.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(pos as u64)
    }

    fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        let mut inode = self.inode()?;
        let end = end_position(pos, data.len())?;
        check_space(self, inode.live.len(), end)?;
        let start = pos as usize;
        inode.copy_durable_before_change_below(start);
        if inode.live.len() < end {
            inode.live.resize(end, 0);
        }
        inode.live[start..end].copy_from_slice(data);
        Ok(())
    }

    fn truncate(&self, len_bytes: u64) -> io::Result<()> {
        let mut inode = self.inode()?;
        let len = end_position(len_bytes, 0)?;
        inode.copy_durable_before_change_below(len);
        inode.live.resize(len, 0);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        check_sync_allowed(&self.shared);
        self.inode()?.sync();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::read_exact_at;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn p(path: &str) -> &Path {
        Path::new(path)
    }

    fn storage_with_dir() -> MemStorage {
        let storage = MemStorage::new();
        storage.create_dir_all(p("t-0")).unwrap();
        storage
    }

    #[test]
    fn synced_bytes_survive_a_crash_and_unsynced_do_not() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/a.log"), true).unwrap();
        file.append(b"durable").unwrap();
        file.sync().unwrap();
        file.append(b"-volatile").unwrap();
        assert_eq!(
            storage.read_file(p("t-0/a.log")).unwrap(),
            b"durable-volatile"
        );
        storage.crash();
        assert_eq!(storage.read_file(p("t-0/a.log")).unwrap(), b"durable");
        let reopened = storage.open(p("t-0/a.log"), false).unwrap();
        assert_eq!(reopened.len_bytes().unwrap(), 7);
    }

    #[test]
    fn unsynced_creation_disappears_unless_dir_synced() {
        let storage = storage_with_dir();
        storage
            .open(p("t-0/gone"), true)
            .unwrap()
            .append(b"x")
            .unwrap();
        storage
            .open(p("t-0/kept-empty"), true)
            .unwrap()
            .append(b"y")
            .unwrap();
        storage.sync_dir(p("t-0")).unwrap();
        storage.open(p("t-0/late"), true).unwrap();
        storage.crash();
        assert_eq!(
            storage.file_names(),
            vec![PathBuf::from("t-0/gone"), PathBuf::from("t-0/kept-empty")]
        );
        // The directory entries were durable, their unsynced contents were not.
        assert_eq!(storage.total_bytes(), 0);
        assert!(storage.exists(p("t-0")));
    }

    #[test]
    fn handles_from_before_a_crash_fail() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/a"), true).unwrap();
        file.sync().unwrap();
        storage.crash();
        assert!(file.append(b"late").is_err());
        assert!(file.len_bytes().is_err());
        assert_eq!(storage.read_file(p("t-0/a")).unwrap(), b"");
    }

    #[test]
    fn write_below_durable_then_crash_restores_old_bytes() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/idx"), true).unwrap();
        file.append(b"0123456789").unwrap();
        file.sync().unwrap();
        file.write_at(2, b"AB").unwrap();
        file.append(b"tail").unwrap();
        assert_eq!(storage.durable_file(p("t-0/idx")).unwrap(), b"0123456789");
        storage.crash();
        assert_eq!(storage.read_file(p("t-0/idx")).unwrap(), b"0123456789");
    }

    #[test]
    fn truncate_below_durable_then_crash_restores_old_bytes() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/seg"), true).unwrap();
        file.append(b"abcdef").unwrap();
        file.sync().unwrap();
        file.truncate(2).unwrap();
        file.append(b"XY").unwrap();
        assert_eq!(storage.read_file(p("t-0/seg")).unwrap(), b"abXY");
        storage.crash();
        assert_eq!(storage.read_file(p("t-0/seg")).unwrap(), b"abcdef");

        // Synced truncation is durable.
        let file = storage.open(p("t-0/seg"), false).unwrap();
        file.truncate(3).unwrap();
        file.sync().unwrap();
        storage.crash();
        assert_eq!(storage.read_file(p("t-0/seg")).unwrap(), b"abc");
    }

    #[test]
    fn write_at_extends_with_zeros_and_truncate_can_extend() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/x"), true).unwrap();
        file.write_at(3, b"z").unwrap();
        file.truncate(6).unwrap();
        let mut buf = [9u8; 6];
        read_exact_at(file.as_ref(), 0, &mut buf).unwrap();
        assert_eq!(buf, [0, 0, 0, b'z', 0, 0]);
        assert_eq!(file.read_at(6, &mut buf).unwrap(), 0);
        assert_eq!(file.read_at(u64::MAX, &mut buf).unwrap(), 0);
        assert_eq!(
            file.write_at(MEM_FILE_BYTES_MAX, b"x").unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        assert!(file.write_at(u64::MAX, b"x").is_err());
    }

    #[test]
    fn torn_crash_keeps_only_a_prefix_of_the_last_append() {
        let mut outcomes = BTreeSet::new();
        for seed in 0..64 {
            let storage = storage_with_dir();
            let other = storage.open(p("t-0/other"), true).unwrap();
            other.append(b"synced").unwrap();
            other.sync().unwrap();
            let file = storage.open(p("t-0/seg"), true).unwrap();
            file.append(b"head").unwrap();
            file.sync().unwrap();
            file.append(b"0123").unwrap();
            file.append(b"456789").unwrap();
            other.append(b"-lost").unwrap(); // not appended last: must not survive
            file.append(b"!").unwrap();
            let torn = storage
                .crash_torn(&mut SmallRng::seed_from_u64(seed))
                .expect("tear possible");
            let bytes = storage.read_file(p("t-0/seg")).unwrap();
            let full: &[u8] = b"head0123456789!";
            assert!(full.starts_with(&bytes), "{bytes:?} is not a prefix");
            assert!(bytes.len() >= 4);
            assert_eq!(torn.path, PathBuf::from("t-0/seg"));
            assert_eq!(torn.kept_bytes as usize, bytes.len() - 4);
            assert_eq!(torn.kept_bytes + torn.dropped_bytes, 11);
            assert_eq!(storage.read_file(p("t-0/other")).unwrap(), b"synced");
            outcomes.insert(bytes.len());
        }
        assert!(
            outcomes.len() > 3,
            "tear lengths should vary with the seed: {outcomes:?}"
        );
    }

    #[test]
    fn torn_crash_without_unsynced_appends_is_a_plain_crash() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/seg"), true).unwrap();
        file.append(b"abc").unwrap();
        file.sync().unwrap();
        file.write_at(0, b"Z").unwrap(); // copy-on-write: durable is no longer a prefix
        file.append(b"def").unwrap();
        assert_eq!(storage.crash_torn(&mut SmallRng::seed_from_u64(1)), None);
        assert_eq!(storage.read_file(p("t-0/seg")).unwrap(), b"abc");

        // Everything synced: nothing to tear.
        let file = storage.open(p("t-0/seg"), false).unwrap();
        file.append(b"x").unwrap();
        file.sync().unwrap();
        assert_eq!(storage.crash_torn(&mut SmallRng::seed_from_u64(1)), None);
        assert_eq!(storage.read_file(p("t-0/seg")).unwrap(), b"abcx");
    }

    #[test]
    fn removals_and_renames_are_durable_at_once() {
        let storage = storage_with_dir();
        let a = storage.open(p("t-0/a.tmp"), true).unwrap();
        a.append(b"snapshot").unwrap();
        a.sync().unwrap();
        storage.rename(p("t-0/a.tmp"), p("t-0/a")).unwrap();
        let b = storage.open(p("t-0/b"), true).unwrap();
        b.sync().unwrap();
        storage.remove_file(p("t-0/b")).unwrap();
        storage.crash();
        assert_eq!(storage.file_names(), vec![PathBuf::from("t-0/a")]);
        assert_eq!(storage.read_file(p("t-0/a")).unwrap(), b"snapshot");
    }

    #[test]
    fn open_handle_follows_rename_and_outlives_removal() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/a"), true).unwrap();
        storage.rename(p("t-0/a"), p("t-0/b")).unwrap();
        file.append(b"moved").unwrap();
        assert_eq!(storage.read_file(p("t-0/b")).unwrap(), b"moved");
        storage.remove_file(p("t-0/b")).unwrap();
        file.append(b"!").unwrap();
        assert_eq!(file.len_bytes().unwrap(), 6);
        assert!(!storage.exists(p("t-0/b")));
    }

    #[test]
    fn directory_rename_moves_everything_below() {
        let storage = MemStorage::new();
        storage.create_dir_all(p("t-0/sub")).unwrap();
        storage
            .open(p("t-0/sub/f"), true)
            .unwrap()
            .append(b"1")
            .unwrap();
        storage.open(p("t-0/g"), true).unwrap();
        storage.rename(p("t-0"), p("t-0.deleted")).unwrap();
        assert_eq!(
            storage.file_names(),
            vec![
                PathBuf::from("t-0.deleted/g"),
                PathBuf::from("t-0.deleted/sub/f")
            ]
        );
        assert!(!storage.exists(p("t-0")));
        assert_eq!(storage.list(p("t-0.deleted")).unwrap(), vec!["g", "sub"]);
        assert!(storage
            .rename(p("t-0.deleted"), p("t-0.deleted/inner"))
            .is_err());
    }

    #[test]
    #[should_panic(expected = "forbid_sync")]
    fn forbidden_sync_panics() {
        let mem = storage_with_dir();
        let file = mem.open(p("t-0/f"), true).unwrap();
        file.sync().unwrap();
        mem.sync_dir(p("t-0")).unwrap();
        mem.forbid_sync(true);
        let _ = file.sync();
    }

    #[test]
    fn drop_unsynced_reverts_one_file_and_keeps_handles() {
        let storage = storage_with_dir();
        let file = storage.open(p("t-0/seg"), true).unwrap();
        file.append(b"kept").unwrap();
        file.sync().unwrap();
        file.append(b"-dirty").unwrap();
        let other = storage.open(p("t-0/other"), true).unwrap();
        other.append(b"untouched").unwrap();
        assert_eq!(storage.drop_unsynced(p("t-0/seg")), 6);
        assert_eq!(storage.read_file(p("t-0/seg")).unwrap(), b"kept");
        assert_eq!(file.len_bytes().unwrap(), 4);
        file.sync().unwrap();
        assert_eq!(storage.read_file(p("t-0/other")).unwrap(), b"untouched");
        assert_eq!(storage.drop_unsynced(p("t-0/seg")), 0);
        assert_eq!(storage.drop_unsynced(p("t-0/absent")), 0);
    }

    #[test]
    fn clones_share_state() {
        let storage = MemStorage::new();
        let clone = storage.clone();
        clone.open(p("f"), true).unwrap().append(b"abc").unwrap();
        assert_eq!(storage.total_bytes(), 3);
    }
}
