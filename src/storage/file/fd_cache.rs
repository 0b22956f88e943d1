//! A bounded set of open file descriptors shared by every file of one [`super::FileStorage`].
//!
//! Why: a partition log has three or four files per segment (`.log`, `.index`, `.timeindex`,
//! and `.txnindex` once a transaction aborted in it), and a
//! broker once kept all of them open for life. 100,000 partitions, or a producer whose
//! timestamps roll a segment per batch, then took every descriptor the process had, and the
//! next start-up failed with "Too many open files" (issue 9, item 1). Kafka keeps far fewer
//! (memory-mapped indexes, lazily opened segments). Here a file handle ([`super`]'s
//! `RealFile`) remembers its path, and borrows a descriptor from this cache for each operation:
//! at most `max_open` descriptors are cached, the least recently used is closed to make room,
//! and a closed one is reopened (without `O_CREAT`, so a removed file is not resurrected) on the
//! next use. The log engine above sees no difference.
//!
//! Descriptors are handed out as `Arc<File>`: evicting one only drops the cache's reference,
//! so an fsync running on another thread keeps its descriptor until it returns (the count can
//! exceed `max_open` by the operations in flight: the actor's one plus one per running fsync).
//! An fsync through a reopened descriptor covers the file's dirty pages like the original one
//! (Linux writes back per inode; since 4.16 a new descriptor also sees a write-back error no
//! one has reported yet).
//!
//! A descriptor is reopened by path, so a rename over a file's path would make an evicted
//! handle reopen the new file: [`FdCache::rename`] first takes the descriptors of the files at
//! the target path out of the cache for good (orphans: never evicted, closed with their handle),
//! so a handle keeps reading the file it opened, as a POSIX descriptor does across a rename
//! (the log cleaner's swap renames each cleaned segment over the one still being read, see
//! `storage::log::clean`). Handles of the renamed file follow it to its new path. A handle of
//! a removed file is not kept open: once its descriptor was evicted it fails, or, if a new
//! file was created at the path since, reads that one (today only a swapped segment's old
//! indexes are removed and recreated so, and those are served from memory, never reread).
//!
//! Order is kept in `BTreeMap`s (least recently used = smallest use stamp), never std `HashMap`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Counters for tests, start-up logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FdCacheStats {
    /// Descriptors cached now.
    pub open: usize,
    /// Files opened since the cache was made (first opens and reopens).
    pub opens: u64,
    /// Descriptors closed to make room (or after EMFILE).
    pub evictions: u64,
}

#[derive(Default)]
struct Inner {
    /// File id → (descriptor, use stamp).
    open: BTreeMap<u64, (Arc<File>, u64)>,
    /// Use stamp → file id: the first entry is the least recently used descriptor.
    by_use: BTreeMap<u64, u64>,
    next_use: u64,
    next_id: u64,
    stats: FdCacheStats,
    /// File id → its path now, for every live handle that is not an orphan.
    paths: BTreeMap<u64, Arc<Path>>,
    /// The same, by path: a rename finds the files at its paths.
    by_path: BTreeSet<(Arc<Path>, u64)>,
    /// Descriptors of files whose path was renamed over while their handle lived.
    orphans: BTreeMap<u64, Arc<File>>,
}

impl Inner {
    fn touch(&mut self, id: u64) -> Option<Arc<File>> {
        let stamp = self.next_use;
        let (file, used) = self.open.get_mut(&id)?;
        self.by_use.remove(used);
        *used = stamp;
        self.by_use.insert(stamp, id);
        self.next_use += 1;
        Some(file.clone())
    }

    fn insert(&mut self, id: u64, file: Arc<File>) {
        let stamp = self.next_use;
        self.next_use += 1;
        self.by_use.insert(stamp, id);
        if let Some((_, old)) = self.open.insert(id, (file, stamp)) {
            self.by_use.remove(&old);
        }
    }

    fn evict_oldest(&mut self) -> bool {
        let Some((_, id)) = self.by_use.pop_first() else {
            return false;
        };
        self.open.remove(&id);
        self.stats.evictions += 1;
        true
    }

    /// Closes `id`'s cached descriptor, if any.
    fn close(&mut self, id: u64) {
        if let Some((_, stamp)) = self.open.remove(&id) {
            self.by_use.remove(&stamp);
        }
    }

    fn forget(&mut self, id: u64) {
        self.close(id);
        self.orphans.remove(&id);
        if let Some(path) = self.paths.remove(&id) {
            self.by_path.remove(&(path, id));
        }
    }

    /// The live files at `path`.
    fn ids_at(&self, path: &Path) -> Vec<u64> {
        let path: Arc<Path> = Arc::from(path);
        (self.by_path.range((path.clone(), 0)..=(path, u64::MAX)))
            .map(|(_, id)| *id)
            .collect()
    }
}

/// See the module docs.
pub struct FdCache {
    max_open: usize,
    inner: Mutex<Inner>,
}

/// Whether `err` says the process (EMFILE) or the system (ENFILE) has no descriptor left.
fn out_of_descriptors(err: &io::Error) -> bool {
    // 24 = EMFILE, 23 = ENFILE on Linux and the BSDs.
    matches!(err.raw_os_error(), Some(23 | 24))
}

impl FdCache {
    /// A cache holding at most `max_open` descriptors (at least 1).
    pub fn new(max_open: usize) -> Self {
        Self {
            max_open: max_open.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn max_open(&self) -> usize {
        self.max_open
    }

    pub fn stats(&self) -> FdCacheStats {
        let inner = self.lock();
        FdCacheStats {
            open: inner.open.len() + inner.orphans.len(),
            ..inner.stats
        }
    }

    /// Locks the state, ignoring poisoning: every update leaves the maps consistent before it
    /// can panic (the only fallible call, `open`, runs between whole updates).
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens `full` (creating it when `create`), caches the descriptor and returns a new file
    /// id with it.
    pub fn open_new(&self, full: &Path, create: bool) -> io::Result<(u64, Arc<File>)> {
        let mut inner = self.lock();
        let file = self.open_room(&mut inner, full, create)?;
        let id = inner.next_id;
        inner.next_id += 1;
        inner.insert(id, file.clone());
        let path: Arc<Path> = Arc::from(full);
        inner.by_path.insert((path.clone(), id));
        inner.paths.insert(id, path);
        Ok((id, file))
    }

    /// The descriptor of file `id`, reopening its path (`full`, the one it was opened at, or
    /// where a rename moved it; never creating it) if it was evicted.
    pub fn get(&self, id: u64, full: &Path) -> io::Result<Arc<File>> {
        let mut inner = self.lock();
        if let Some(file) = inner.orphans.get(&id) {
            return Ok(file.clone());
        }
        if let Some(file) = inner.touch(id) {
            return Ok(file);
        }
        let path: PathBuf = inner
            .paths
            .get(&id)
            .map_or(full.to_path_buf(), |p| p.to_path_buf());
        let file = self.open_room(&mut inner, &path, false)?;
        inner.insert(id, file.clone());
        Ok(file)
    }

    /// Runs `rename` (moving `from` to `to`) so that open handles behave as POSIX descriptors
    /// do: the files at `to` keep their descriptors (orphans), those at `from` follow it.
    pub fn rename(
        &self,
        from: &Path,
        to: &Path,
        rename: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        let mut inner = self.lock();
        for id in inner.ids_at(to) {
            let file = match inner.touch(id) {
                Some(file) => file,
                None => match self.open_room(&mut inner, to, false) {
                    Ok(file) => file,
                    // Gone already: the handle had nothing left to keep.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(err),
                },
            };
            inner.close(id);
            if let Some(path) = inner.paths.remove(&id) {
                inner.by_path.remove(&(path, id));
            }
            inner.orphans.insert(id, file);
        }
        rename()?;
        let to: Arc<Path> = Arc::from(to);
        for id in inner.ids_at(from) {
            if let Some(path) = inner.paths.insert(id, to.clone()) {
                inner.by_path.remove(&(path, id));
            }
            inner.by_path.insert((to.clone(), id));
        }
        Ok(())
    }

    /// Closes file `id`'s descriptor (its handle is gone).
    pub fn forget(&self, id: u64) {
        self.lock().forget(id);
    }

    /// Makes room for one descriptor, then opens. If the process is out of descriptors anyway
    /// (sockets took them), closes a quarter of the cache and tries once more, so a log can
    /// still roll a segment while connections crowd the descriptor table.
    fn open_room(&self, inner: &mut Inner, full: &Path, create: bool) -> io::Result<Arc<File>> {
        self.open_room_with(inner, full, || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .open(full)
        })
    }

    /// [`FdCache::open_room`] with the open itself given (tests inject EMFILE through it).
    fn open_room_with(
        &self,
        inner: &mut Inner,
        full: &Path,
        open: impl Fn() -> io::Result<File>,
    ) -> io::Result<Arc<File>> {
        while inner.open.len() >= self.max_open && inner.evict_oldest() {}
        let file = match open() {
            Err(err) if out_of_descriptors(&err) => {
                let free = (inner.open.len() / 4).max(1);
                for _ in 0..free {
                    if !inner.evict_oldest() {
                        break;
                    }
                }
                tracing::warn!(
                    path = %full.display(),
                    closed = free,
                    "out of file descriptors; closed cached log files and retrying"
                );
                open()?
            }
            other => other?,
        };
        inner.stats.opens += 1;
        Ok(Arc::new(file))
    }
}

impl std::fmt::Debug for FdCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FdCache(max_open={}, {:?})", self.max_open, self.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_max_open_and_evicts_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(2);
        assert_eq!((cache.max_open(), FdCache::new(0).max_open()), (2, 1));
        let paths: Vec<_> = (0..3).map(|i| dir.path().join(format!("f{i}"))).collect();
        let ids: Vec<u64> = paths
            .iter()
            .map(|p| cache.open_new(p, true).unwrap().0)
            .collect();
        assert_eq!(cache.stats().open, 2);
        assert_eq!(cache.stats().evictions, 1);
        // f0 was evicted (oldest); using f1 makes f2 the oldest, so reopening f0 evicts f2.
        cache.get(ids[1], &paths[1]).unwrap();
        cache.get(ids[0], &paths[0]).unwrap();
        let opens = cache.stats().opens;
        cache.get(ids[1], &paths[1]).unwrap();
        assert_eq!(cache.stats().opens, opens, "f1 must still be cached");
        cache.get(ids[2], &paths[2]).unwrap();
        assert_eq!(cache.stats().opens, opens + 1, "f2 had to be reopened");
        assert_eq!(cache.stats().open, 2);
    }

    /// Every use moves a file to the young end, however often files are used between opens.
    #[test]
    fn the_file_used_last_survives_the_next_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(2);
        let path = |name: &str| dir.path().join(name);
        let (a, _) = cache.open_new(&path("a"), true).unwrap();
        cache.open_new(&path("b"), true).unwrap();
        cache.get(a, &path("a")).unwrap();
        let (c, _) = cache.open_new(&path("c"), true).unwrap(); // evicts b
        cache.get(c, &path("c")).unwrap();
        cache.get(a, &path("a")).unwrap();
        cache.open_new(&path("d"), true).unwrap(); // evicts c, used before a
        let opens = cache.stats().opens;
        cache.get(a, &path("a")).unwrap();
        assert_eq!(cache.stats().opens, opens, "a was used last: still cached");
        cache.get(c, &path("c")).unwrap();
        assert_eq!(cache.stats().opens, opens + 1, "c was evicted");
        assert_eq!(cache.stats().open, 2);
    }

    #[test]
    fn a_removed_file_is_not_recreated_by_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(1);
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let (id_a, _) = cache.open_new(&a, true).unwrap();
        cache.open_new(&b, true).unwrap(); // evicts a
        std::fs::remove_file(&a).unwrap();
        let err = cache.get(id_a, &a).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!a.exists());
    }

    #[test]
    fn only_running_out_of_descriptors_closes_cached_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(8);
        for i in 0..4 {
            cache
                .open_new(&dir.path().join(format!("f{i}")), true)
                .unwrap();
        }
        let missing = dir.path().join("missing");
        let err = cache.open_new(&missing, false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(cache.stats().open, 4, "a missing file evicts nothing");
    }

    #[test]
    fn out_of_descriptors_closes_a_quarter_of_the_cache_and_opens_once_more() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(8);
        for i in 0..8 {
            cache
                .open_new(&dir.path().join(format!("f{i}")), true)
                .unwrap();
        }
        let full = dir.path().join("new");
        let emfile = || io::Error::from_raw_os_error(24);
        // The process is out of descriptors (sockets took them) on the first try only.
        let tries = std::cell::Cell::new(0);
        let file = cache.open_room_with(&mut cache.lock(), &full, || {
            tries.set(tries.get() + 1);
            if tries.get() == 1 {
                return Err(emfile());
            }
            File::create(&full)
        });
        assert!(file.is_ok(), "{file:?}");
        assert_eq!(tries.get(), 2);
        // Room for the new one (8 was the cap), then a quarter of the other seven (one).
        assert_eq!(cache.stats().evictions, 2);
        assert_eq!(cache.stats().open, 6);
        // Still out of descriptors on the retry: that error, after one more eviction.
        let err = cache
            .open_room_with(&mut cache.lock(), &full, || Err(emfile()))
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(24));
        assert_eq!(cache.stats().evictions, 3);
    }

    #[test]
    fn out_of_descriptors_with_a_large_cache_closes_more_than_one() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(16);
        for i in 0..12 {
            cache
                .open_new(&dir.path().join(format!("f{i}")), true)
                .unwrap();
        }
        let full = dir.path().join("new");
        let tries = std::cell::Cell::new(0);
        let file = cache.open_room_with(&mut cache.lock(), &full, || {
            tries.set(tries.get() + 1);
            if tries.get() == 1 {
                return Err(io::Error::from_raw_os_error(24));
            }
            File::create(&full)
        });
        assert!(file.is_ok(), "{file:?}");
        // Under the cap, so no room was made first: a quarter of the twelve is three.
        assert_eq!(cache.stats().evictions, 3);
        assert_eq!(cache.stats().open, 9);
    }

    #[test]
    fn forget_closes_the_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(4);
        let (id, _) = cache.open_new(&dir.path().join("a"), true).unwrap();
        assert_eq!(cache.stats().open, 1);
        cache.forget(id);
        assert_eq!(cache.stats().open, 0);
    }

    /// A file at the target whose descriptor was evicted and whose path is gone has nothing to
    /// keep open: the rename goes on.
    #[test]
    fn a_rename_over_an_evicted_file_already_removed_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(1);
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        cache.open_new(&to, true).unwrap();
        cache.open_new(&from, true).unwrap(); // evicts `to`'s descriptor
        std::fs::remove_file(&to).unwrap();
        cache
            .rename(&from, &to, || std::fs::rename(&from, &to))
            .expect("renamed");
        assert!(to.exists() && !from.exists());
    }

    /// A file at the target whose descriptor was evicted and that cannot be reopened for
    /// another reason (here a symlink loop now at its path) refuses the rename: its handle
    /// would lose the file.
    #[test]
    fn a_rename_over_an_evicted_file_that_cannot_be_reopened_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FdCache::new(1);
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        cache.open_new(&to, true).unwrap();
        cache.open_new(&from, true).unwrap(); // evicts `to`'s descriptor
        std::fs::remove_file(&to).unwrap();
        std::os::unix::fs::symlink(&to, &to).unwrap();
        let mut renamed = false;
        let err = cache
            .rename(&from, &to, || {
                renamed = true;
                std::fs::rename(&from, &to)
            })
            .expect_err("the loop cannot be opened");
        assert_ne!(err.kind(), io::ErrorKind::NotFound);
        assert!(!renamed && from.exists());
    }
}
