//! [`FileStorage`]: the [`Storage`] trait on real files under a root directory.
//!
//! This backend (this module and its descriptor cache, [`fd_cache`]) is the one place under
//! `storage/` allowed to use `std::fs`; `tests/architecture.rs` enforces it. Writes are positional
//! (`pwrite` via [`FileExt`]) so every method takes `&self` and a file can be shared with a
//! [`crate::storage::persist::PersistJob`] that fsyncs it from another thread while the log keeps
//! appending. Each open file keeps its length in memory, so an append is one positional write
//! at a known offset instead of a seek + write pair (and we never use `O_APPEND`, which would
//! make Linux ignore the position of every `pwrite`).
//!
//! Descriptors are not held for a file's life: each file borrows one from the storage's
//! [`FdCache`] per operation, so a broker with 100,000 segments keeps at most
//! `open_files_max` of them open (see [`fd_cache`]).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub mod fd_cache;

use self::fd_cache::{FdCache, FdCacheStats};
use super::{Storage, StorageFile};
use crate::limits::LOG_OPEN_FILES_DEFAULT;

/// Checks that `path` is relative and stays below the storage root: no root, no prefix and no
/// `..` component. Returns the path with `.` components removed. Shared with
/// [`super::mem::MemStorage`] so both backends reject the same paths.
pub(super) fn checked_relative(path: &Path) -> io::Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(invalid_path(path, "`..` components are not allowed"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid_path(path, "absolute paths are not allowed"));
            }
        }
    }
    Ok(clean)
}

fn invalid_path(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "storage path {}: {why}; paths must be relative to the storage root",
            path.display()
        ),
    )
}

/// Locks a mutex, ignoring poisoning: the guarded value is a plain length that a panicking
/// holder cannot leave half-updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Real files below `root`. Every path handed to it is relative to `root`.
#[derive(Clone, Debug)]
pub struct FileStorage {
    root: PathBuf,
    /// Descriptors shared by every file opened through this storage (and its clones).
    fds: Arc<FdCache>,
}

impl FileStorage {
    /// Storage rooted at `root`, keeping at most [`LOG_OPEN_FILES_DEFAULT`] files open. The
    /// root itself is created lazily by `create_dir_all`.
    pub fn new(root: PathBuf) -> Self {
        Self::with_open_files_max(root, LOG_OPEN_FILES_DEFAULT)
    }

    /// Storage keeping at most `open_files_max` descriptors open (the server derives it from
    /// the process's descriptor limit, see `host::fd_limit`).
    pub fn with_open_files_max(root: PathBuf, open_files_max: usize) -> Self {
        Self {
            root,
            fds: Arc::new(FdCache::new(open_files_max)),
        }
    }

    /// Descriptor cache counters (open now, opens, evictions).
    pub fn fd_stats(&self) -> FdCacheStats {
        self.fds.stats()
    }

    pub fn open_files_max(&self) -> usize {
        self.fds.max_open()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(self.root.join(checked_relative(path)?))
    }
}

impl Storage for FileStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let full = self.resolve(path)?;
        let (id, file) = self.fds.open_new(&full, create)?;
        let handle = RealFile {
            fds: self.fds.clone(),
            id,
            path: full,
            len_bytes: Mutex::new(0),
        };
        // Built before the metadata call so that its drop releases the descriptor on error.
        *lock(&handle.len_bytes) = file.metadata()?.len();
        Ok(Arc::new(handle))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let full = self.resolve(dir)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&full)? {
            let name = entry?.file_name();
            // Never one of Rill's (it names every file in UTF-8): left alone, and not in the
            // way of listing the rest (a stray sweep, a removal, a recovery).
            match name.into_string() {
                Ok(name) => names.push(name),
                Err(raw) => {
                    tracing::warn!(name = ?raw, dir = %full.display(), "a file with a non-UTF-8 name is ignored")
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(self.resolve(dir)?)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(self.resolve(path)?)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        match fs::remove_dir_all(self.resolve(dir)?) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Open handles keep their files across it, as POSIX descriptors do ([`FdCache::rename`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (self.resolve(from)?, self.resolve(to)?);
        self.fds.rename(&from, &to, || fs::rename(&from, &to))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(self.resolve(dir)?)?.sync_all()
    }

    fn exists(&self, path: &Path) -> bool {
        self.resolve(path)
            .map(|full| full.exists())
            .unwrap_or(false)
    }
}

/// One real file: its path, its descriptor's id in the cache, and its length, so appends know
/// where to write without a syscall.
#[derive(Debug)]
struct RealFile {
    fds: Arc<FdCache>,
    id: u64,
    path: PathBuf,
    /// The file's length including unsynced bytes. Held locked across a write so concurrent
    /// appends through shared handles cannot land on the same offset.
    len_bytes: Mutex<u64>,
}

impl RealFile {
    /// This file's descriptor, reopened if the cache closed it.
    fn file(&self) -> io::Result<Arc<File>> {
        self.fds.get(self.id, &self.path)
    }
}

impl Drop for RealFile {
    fn drop(&mut self) {
        self.fds.forget(self.id);
    }
}

impl StorageFile for RealFile {
    fn len_bytes(&self) -> io::Result<u64> {
        Ok(*lock(&self.len_bytes))
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let file = self.file()?;
        loop {
            match file.read_at(buf, pos) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        let mut len_bytes = lock(&self.len_bytes);
        let pos = *len_bytes;
        let file = self.file()?;
        if let Err(err) = file.write_all_at(data, pos) {
            // A partial write may have extended the file; re-read the real length so the next
            // append does not leave a hole or overwrite.
            *len_bytes = file.metadata().map(|m| m.len()).unwrap_or(pos);
            return Err(err);
        }
        *len_bytes = pos + data.len() as u64;
        Ok(pos)
    }

    fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        let mut len_bytes = lock(&self.len_bytes);
        let file = self.file()?;
        let result = file.write_all_at(data, pos);
        match &result {
            Ok(()) => *len_bytes = (*len_bytes).max(pos + data.len() as u64),
            Err(_) => *len_bytes = file.metadata().map(|m| m.len()).unwrap_or(*len_bytes),
        }
        result
    }

    fn truncate(&self, len_bytes: u64) -> io::Result<()> {
        let mut current = lock(&self.len_bytes);
        self.file()?.set_len(len_bytes)?;
        *current = len_bytes;
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.file()?.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::read_exact_at;

    fn storage() -> (tempfile::TempDir, FileStorage) {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileStorage::new(dir.path().join("root"));
        storage.create_dir_all(Path::new("")).expect("create root");
        (dir, storage)
    }

    #[test]
    fn append_read_write_truncate_roundtrip() {
        let (_dir, storage) = storage();
        storage.create_dir_all(Path::new("t-0")).unwrap();
        let file = storage.open(Path::new("t-0/00.log"), true).unwrap();
        assert_eq!(file.append(b"hello").unwrap(), 0);
        assert_eq!(file.append(b" world").unwrap(), 5);
        assert_eq!(file.len_bytes().unwrap(), 11);
        file.write_at(0, b"J").unwrap();
        file.write_at(13, b"!").unwrap();
        assert_eq!(file.len_bytes().unwrap(), 14);
        let mut buf = [0u8; 14];
        read_exact_at(file.as_ref(), 0, &mut buf).unwrap();
        assert_eq!(&buf, b"Jello world\0\0!");
        file.truncate(5).unwrap();
        assert_eq!(file.append(b"!").unwrap(), 5);
        file.sync().unwrap();

        // A fresh handle sees the length on disk.
        let again = storage.open(Path::new("t-0/00.log"), false).unwrap();
        assert_eq!(again.len_bytes().unwrap(), 6);
        let mut buf = [0u8; 6];
        read_exact_at(again.as_ref(), 0, &mut buf).unwrap();
        assert_eq!(&buf, b"Jello!");
    }

    /// A name Rill never writes (not UTF-8) is skipped, not an error that would stop a stray
    /// sweep or a recovery from seeing the rest.
    #[test]
    fn a_non_utf8_name_is_left_out_of_a_listing() {
        use std::os::unix::ffi::OsStrExt;
        let (dir, storage) = storage();
        let root = dir.path().join("root");
        std::fs::create_dir(root.join("t-0")).unwrap();
        let odd = std::ffi::OsStr::from_bytes(b"t-0/\xff\xfe.log");
        std::fs::write(root.join(odd), b"x").unwrap();
        std::fs::write(root.join("t-0/a.log"), b"x").unwrap();
        assert_eq!(storage.list(Path::new("t-0")).unwrap(), ["a.log"]);
        assert_eq!(storage.list(Path::new("")).unwrap(), ["t-0"]);
    }

    #[test]
    fn rejects_paths_leaving_the_root() {
        let (_dir, storage) = storage();
        for bad in ["/etc/passwd", "../x", "a/../../x"] {
            let err = storage.open(Path::new(bad), true).err().expect("must fail");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
            assert!(err.to_string().contains("relative"), "{err}");
            assert!(!storage.exists(Path::new(bad)));
        }
        assert_eq!(
            storage.list(Path::new("..")).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn the_descriptor_bound_is_the_one_given_and_at_least_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let bound = |storage: FileStorage| storage.open_files_max();
        assert_eq!(bound(FileStorage::with_open_files_max(root.clone(), 4)), 4);
        assert_eq!(bound(FileStorage::with_open_files_max(root.clone(), 0)), 1);
        assert_eq!(bound(FileStorage::new(root)), LOG_OPEN_FILES_DEFAULT);
    }

    /// Issue 9: segments used to hold three descriptors each for life. Hundreds of files
    /// through a cache of 4 keep 4 open, and every byte written survives the reopens.
    #[test]
    fn many_files_share_a_bounded_set_of_descriptors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileStorage::with_open_files_max(dir.path().to_path_buf(), 4);
        let files: Vec<_> = (0..300)
            .map(|i| storage.open(Path::new(&format!("f{i}")), true).unwrap())
            .collect();
        for round in 0..3u8 {
            for (i, file) in files.iter().enumerate() {
                file.append(&[round, i as u8]).unwrap();
            }
        }
        files[7].sync().unwrap();
        assert!(storage.fd_stats().open <= 4, "{:?}", storage.fd_stats());
        for (i, file) in files.iter().enumerate() {
            let mut buf = [0u8; 6];
            read_exact_at(file.as_ref(), 0, &mut buf).unwrap();
            assert_eq!(buf, [0, i as u8, 1, i as u8, 2, i as u8]);
        }
        drop(files);
        assert_eq!(
            storage.fd_stats().open,
            0,
            "dropped handles release their descriptors"
        );
    }

    /// A sync goes to the file's descriptor, reopening an evicted one, and reports the failure
    /// when it cannot: a sync that claimed success for a file it never reached would let the
    /// log's recovery point pass unsynced bytes.
    #[test]
    fn a_sync_reaches_the_file_and_reports_when_it_cannot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileStorage::with_open_files_max(dir.path().to_path_buf(), 1);
        let a = storage.open(Path::new("a"), true).unwrap();
        a.append(b"x").unwrap();
        let _b = storage.open(Path::new("b"), true).unwrap();
        let opens = storage.fd_stats().opens;
        a.sync().unwrap();
        assert_eq!(storage.fd_stats().opens, opens + 1, "reopened to sync");
        let _b_again = storage.open(Path::new("b"), false).unwrap();
        storage.remove_file(Path::new("a")).unwrap();
        let err = a
            .sync()
            .expect_err("a's descriptor is closed and its path gone");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    /// A rename over a file's path leaves its open handles reading that file, even once the
    /// cache evicted their descriptor (a reopen by path would find the new file); handles of
    /// the renamed file follow it. The log cleaner's swap relies on it.
    #[test]
    fn an_open_file_renamed_over_stays_readable_like_a_posix_descriptor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileStorage::with_open_files_max(dir.path().to_path_buf(), 1);
        let old = storage.open(Path::new("s.log"), true).unwrap();
        old.append(b"old bytes").unwrap();
        let new = storage.open(Path::new("s.log.swap"), true).unwrap();
        new.append(b"new").unwrap(); // evicts `old`'s descriptor
        storage
            .rename(Path::new("s.log.swap"), Path::new("s.log"))
            .unwrap();
        let _other = storage.open(Path::new("other"), true).unwrap(); // evicts `new`'s
        let read = |file: &Arc<dyn StorageFile>, len| {
            let mut buf = vec![0u8; len];
            read_exact_at(file.as_ref(), 0, &mut buf).unwrap();
            buf
        };
        assert_eq!(read(&old, 9), b"old bytes", "the old file, not the new one");
        assert_eq!(read(&new, 3), b"new", "the renamed file at its new path");
        let reopened = storage.open(Path::new("s.log"), false).unwrap();
        assert_eq!(read(&reopened, 3), b"new");
        drop((old, new, reopened, _other));
        assert_eq!(
            storage.fd_stats().open,
            0,
            "the orphan went with its handle"
        );
    }

    #[test]
    fn concurrent_appends_never_overlap() {
        let (_dir, storage) = storage();
        let file = storage.open(Path::new("f"), true).unwrap();
        std::thread::scope(|scope| {
            for id in 0..4u8 {
                let file = &file;
                scope.spawn(move || {
                    for _ in 0..200 {
                        file.append(&[id; 16]).unwrap();
                    }
                });
            }
        });
        assert_eq!(file.len_bytes().unwrap(), 4 * 200 * 16);
        let mut chunk = [0u8; 16];
        for index in 0..800u64 {
            read_exact_at(file.as_ref(), index * 16, &mut chunk).unwrap();
            assert!(chunk.iter().all(|b| *b == chunk[0]), "torn chunk {chunk:?}");
        }
    }

    #[test]
    fn remove_dir_all_removes_a_tree_accepts_a_missing_one_and_reports_other_errors() {
        let (_dir, storage) = storage();
        storage.create_dir_all(Path::new("t-0/sub")).unwrap();
        storage.open(Path::new("t-0/sub/f"), true).unwrap();
        storage.remove_dir_all(Path::new("t-0")).unwrap();
        assert!(!storage.exists(Path::new("t-0")));
        storage
            .remove_dir_all(Path::new("t-0"))
            .expect("already gone is done");
        storage.open(Path::new("file"), true).unwrap();
        let err = storage
            .remove_dir_all(Path::new("file"))
            .expect_err("a file is not a directory");
        assert_ne!(err.kind(), io::ErrorKind::NotFound);
        assert!(storage.exists(Path::new("file")));
    }

    /// Only an interrupted read is tried again: any other error (here EINVAL, an offset past
    /// what the kernel takes) is returned, not retried for ever.
    #[test]
    #[allow(clippy::disallowed_methods)] // a watchdog thread: a retried error would spin for ever
    fn a_read_the_kernel_refuses_returns_its_error() {
        let (_dir, storage) = storage();
        let file = storage.open(Path::new("f"), true).unwrap();
        file.append(b"bytes").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4];
            let _ = tx.send(file.read_at(u64::MAX, &mut buf).map_err(|e| e.kind()));
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the read returns");
        assert_eq!(result, Err(io::ErrorKind::InvalidInput));
    }
}
