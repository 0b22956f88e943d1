//! Storage: the disk boundary.
//!
//! Everything that persists bytes goes through [`Storage`] and [`StorageFile`], so the same log
//! code runs on real files ([`file::FileStorage`]), in memory for unit tests
//! ([`mem::MemStorage`], which also models crashes), and under the simulator (`rill-sim`'s
//! `SimStorage`, which keeps durable vs volatile bytes per node across simulated restarts).
//!
//! The trait is synchronous on purpose: the log engine is a plain state machine driven by an
//! actor handler. Production may do blocking I/O behind it (writes land in the page cache; the
//! expensive part, `sync`, is run off the actor by the host — see [`persist::PersistJob`]).

use std::io;
use std::path::Path;
use std::sync::Arc;

/// A directory tree of files. Paths are relative to the storage root and use `/` separators.
pub trait Storage: Send + Sync + 'static {
    /// Opens a file for reading and appending; creates it (empty) when `create` is set and it
    /// does not exist. Fails with `NotFound` otherwise.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>>;
    /// Names (not paths) of the entries directly inside `dir`, sorted. `NotFound` if no such dir.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates `dir` and its parents; no error if it exists.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Removes one file. `NotFound` if absent.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory and everything below it. No error if absent.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Atomically renames a file (used for write-then-rename of snapshots and checkpoints).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations, removals and renames inside `dir` durable (fsync of the directory).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> bool;
}

/// One open file. Writes only ever append (or rewrite from a position after `truncate`), which
/// is all a log needs. Methods take `&self` so a file can be shared with a [`persist::PersistJob`].
pub trait StorageFile: Send + Sync + 'static {
    /// Current length in bytes, including bytes not yet synced.
    fn len_bytes(&self) -> io::Result<u64>;
    /// Reads up to `buf.len()` bytes at `pos`; returns how many were read (0 at end of file).
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Appends `data` at the end of the file; returns the position it was written at.
    fn append(&self, data: &[u8]) -> io::Result<u64>;
    /// Writes `data` at `pos`, extending the file if needed (used for preallocated index files).
    fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()>;
    /// Cuts the file to `len_bytes`.
    fn truncate(&self, len_bytes: u64) -> io::Result<()>;
    /// Makes every byte written so far durable (fsync / fdatasync).
    fn sync(&self) -> io::Result<()>;
}

/// Reads exactly `buf.len()` bytes at `pos`, or fails with `UnexpectedEof`.
pub fn read_exact_at(file: &dyn StorageFile, mut pos: u64, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = file.read_at(pos, buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
        }
        pos += n as u64;
        buf = &mut buf[n..];
    }
    Ok(())
}

pub mod batch;
pub mod disk_full;
pub mod file;
pub mod fuzz_support;
pub mod group_commit;
pub mod log;
pub mod marker;
pub mod mem;
pub mod persist;
pub mod read_buffer;
pub mod records;
pub mod schema;
pub mod waiters;
