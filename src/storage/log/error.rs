//! Errors of the log engine, named by outcome.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::storage::batch::BatchError;

#[derive(Debug, Error)]
pub enum LogError {
    /// The append was refused before anything was written (Kafka CORRUPT_MESSAGE /
    /// MESSAGE_TOO_LARGE / INVALID_RECORD).
    #[error("invalid record batch at byte {position} of the append: {source}")]
    InvalidBatch { position: usize, source: BatchError },
    /// The whole append is larger than the log can take in one write.
    #[error("append of {bytes} bytes exceeds the maximum of {max} bytes")]
    AppendTooLarge { bytes: usize, max: usize },
    /// Kafka OFFSET_OUT_OF_RANGE.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// A follower append whose offsets do not continue the log densely.
    #[error("follower append has a batch at offset {got}, the log expects {expected}")]
    NonContiguousAppend { expected: i64, got: i64 },
    #[error("invalid log config: {reason}")]
    InvalidConfig { reason: &'static str },
    /// Bytes already in the log failed a check while being read (disk corruption after open).
    #[error("corrupt log data in {path} at byte {position}: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// An append found the disk full and was undone (the file cut back to its length before):
    /// the log is unchanged and usable, and the next append may succeed once space is back.
    #[error("append to {path} refused, nothing written: {source}")]
    OutOfSpace { path: PathBuf, source: io::Error },
    /// An earlier I/O error left the in-memory state unsure of the files; reopen the log.
    #[error("log {dir} failed after an I/O error; reopen it to recover")]
    Failed { dir: PathBuf },
    /// A truncation, restart or close of a log whose clean is swapping segments in: refused
    /// until the swap job completed (retry then).
    #[error("log {dir} is swapping cleaned segments in; retry once the swap completed")]
    SwapRunning { dir: PathBuf },
}

impl LogError {
    /// Whether this is an I/O error because the disk is full (ENOSPC).
    pub fn is_storage_full(&self) -> bool {
        match self {
            LogError::OutOfSpace { .. } => true,
            LogError::Io { source, .. } => crate::storage::disk_full::is_storage_full(source),
            _ => false,
        }
    }
}

/// Attaches the path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, LogError> {
        self.map_err(|source| LogError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
