//! One segment: `{base_offset:020}.log` plus its `.index` and `.timeindex`, and its
//! `.txnindex` once a transaction aborted in it ([`TxnIndexFile`]).
//!
//! The segment owns the per-batch bookkeeping shared by appends and recovery (index entry
//! cadence, largest timestamp), and the reads that turn an offset or timestamp into a byte
//! position: index lookup, then a header scan of at most about `index_interval_bytes`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::IoContext;
use super::index::{self, IndexFile, OffsetEntry};
use super::reader::{header_at, validated_header_at, ChunkReader, ScanError};
use super::time_index::{self, TimeEntry};
use super::txn_index_file::{TxnIndexFile, TXN_INDEX_SUFFIX};
use super::LogError;
use crate::storage::batch::{BatchHeader, RecordPosition, RecordWalker, NO_TIMESTAMP};
use crate::storage::{disk_full, read_exact_at, Storage, StorageFile};

pub(crate) const LOG_SUFFIX: &str = ".log";
pub(crate) const INDEX_SUFFIX: &str = ".index";
pub(crate) const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// Which of a segment's files a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Log,
    Index,
    TimeIndex,
    TxnIndex,
}

/// `00000000000000000042.log` → `(42, Log)`; anything else → `None`.
pub(crate) fn parse_file_name(name: &str) -> Option<(i64, FileKind)> {
    let (stem, kind) = if let Some(s) = name.strip_suffix(LOG_SUFFIX) {
        (s, FileKind::Log)
    } else if let Some(s) = name.strip_suffix(INDEX_SUFFIX) {
        (s, FileKind::Index)
    } else if let Some(s) = name.strip_suffix(TIME_INDEX_SUFFIX) {
        (s, FileKind::TimeIndex)
    } else if let Some(s) = name.strip_suffix(TXN_INDEX_SUFFIX) {
        (s, FileKind::TxnIndex)
    } else {
        return None;
    };
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse::<i64>().ok().map(|base| (base, kind))
}

pub(crate) fn file_path(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}{suffix}"))
}

/// What a recovery scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecoverOutcome {
    /// Bytes cut from the end of the log file (a torn or corrupt tail).
    pub truncated_bytes: u64,
    /// Why the scan stopped early, if it did.
    pub reason: Option<String>,
}

/// Result of a segment read: whole batches.
pub(crate) struct SegmentRead {
    pub bytes: Vec<u8>,
    pub first_offset: i64,
    pub next_offset: i64,
    /// Whether any batch read holds a record (a cleaned segment can hold only the record-less
    /// batches that keep offsets dense).
    pub has_records: bool,
}

pub(crate) struct Segment {
    pub base_offset: i64,
    log_path: PathBuf,
    log: Arc<dyn StorageFile>,
    pub index: IndexFile<OffsetEntry>,
    pub time_index: IndexFile<TimeEntry>,
    /// The transactions aborted in the segment (loaded by the log's open, see
    /// [`TxnIndexFile::load`]).
    pub txn_index: TxnIndexFile,
    pub size_bytes: u64,
    /// Offset after the last batch (the base offset while empty).
    pub next_offset: i64,
    /// Largest batch `maxTimestamp` in the segment ([`NO_TIMESTAMP`] if none).
    pub max_timestamp_ms: i64,
    /// Base offset of the first batch that carried `max_timestamp_ms`.
    pub offset_of_max_timestamp: i64,
    /// Bytes appended since the last offset-index entry (decides the next entry).
    bytes_since_last_entry: u64,
    /// `maxTimestamp` of the first batch: time-based rolling counts from it (Kafka's
    /// `rollingBasedTimestamp`).
    pub first_batch_timestamp_ms: Option<i64>,
    /// `now_ms` when the segment was created or loaded: the fallback for rolling when batches
    /// carry no timestamp.
    pub created_ms: i64,
    /// `now_ms` of the last append (or load): the fallback for time retention when batches
    /// carry no timestamp (Kafka uses the file mtime).
    pub last_modified_ms: i64,
    /// An offset-index entry was found not pointing at its batch (see [`Self::scan_start`]):
    /// said once in the log, not at every read through it.
    index_damage_reported: AtomicBool,
}

impl Segment {
    /// Opens (creating if needed) the three files of a segment. The in-memory state says
    /// "empty"; call [`Segment::recover`] or one of the `load_*` methods next. Returns whether
    /// both index files already existed.
    pub(crate) fn open(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> Result<(Self, bool), LogError> {
        let log_path = file_path(dir, base_offset, LOG_SUFFIX);
        let log = storage.open(&log_path, true).at(&log_path)?;
        let (index, had_index) =
            IndexFile::open(storage, &file_path(dir, base_offset, INDEX_SUFFIX))?;
        let (time_index, had_time_index) =
            IndexFile::open(storage, &file_path(dir, base_offset, TIME_INDEX_SUFFIX))?;
        let txn_index = TxnIndexFile::open(storage, dir, base_offset)?;
        let segment = Self {
            base_offset,
            log_path,
            log,
            index,
            time_index,
            txn_index,
            size_bytes: 0,
            next_offset: base_offset,
            max_timestamp_ms: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            bytes_since_last_entry: 0,
            first_batch_timestamp_ms: None,
            created_ms: now_ms,
            last_modified_ms: now_ms,
            index_damage_reported: AtomicBool::new(false),
        };
        Ok((segment, had_index && had_time_index))
    }

    /// Creates a new empty segment (emptying stale files of the same name, if any).
    pub(crate) fn create(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: i64,
        now_ms: i64,
    ) -> Result<Self, LogError> {
        let (mut segment, _) = Self::open(storage, dir, base_offset, now_ms)?;
        segment.log.truncate(0).at(&segment.log_path)?;
        segment.index.clear()?;
        segment.time_index.clear()?;
        segment.txn_index.remove(storage)?;
        Ok(segment)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.size_bytes == 0
    }

    pub(crate) fn log_file(&self) -> &Arc<dyn StorageFile> {
        &self.log
    }

    /// The segment's files (.log, .index, .timeindex, and .txnindex if it has one), to sync
    /// it off the caller.
    pub(crate) fn files(&self) -> Vec<Arc<dyn StorageFile>> {
        let mut files = vec![
            self.log.clone(),
            self.index.file().clone(),
            self.time_index.file().clone(),
        ];
        files.extend(self.txn_index.file().cloned());
        files
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// `offset - base_offset`, clamped into the u32 range the indexes store.
    fn relative(&self, offset: i64) -> u32 {
        (offset - self.base_offset).clamp(0, u32::MAX as i64) as u32
    }

    /// Largest timestamp for time retention: the batches' if they carry one, else the last
    /// modification time.
    pub(crate) fn largest_timestamp_ms(&self) -> i64 {
        if self.max_timestamp_ms >= 0 {
            self.max_timestamp_ms
        } else {
            self.last_modified_ms
        }
    }

    fn reset_tracking(&mut self) {
        self.size_bytes = 0;
        self.next_offset = self.base_offset;
        self.max_timestamp_ms = NO_TIMESTAMP;
        self.offset_of_max_timestamp = self.base_offset;
        self.bytes_since_last_entry = 0;
        self.first_batch_timestamp_ms = None;
    }

    /// Bookkeeping for one batch at `position` (append and rebuild share it, so a rebuilt
    /// index equals the one appends produced).
    fn track_batch(&mut self, position: u64, header: &BatchHeader, index_interval_bytes: u64) {
        if self.first_batch_timestamp_ms.is_none() {
            self.first_batch_timestamp_ms = Some(header.max_timestamp_ms);
        }
        if header.max_timestamp_ms > self.max_timestamp_ms {
            self.max_timestamp_ms = header.max_timestamp_ms;
            self.offset_of_max_timestamp = header.base_offset;
        }
        if self.bytes_since_last_entry > index_interval_bytes {
            self.index.push(OffsetEntry {
                relative_offset: self.relative(header.base_offset),
                position: position as u32,
            });
            self.push_time_entry();
            self.bytes_since_last_entry = 0;
        }
        self.bytes_since_last_entry += header.total_bytes() as u64;
        self.size_bytes = position + header.total_bytes() as u64;
        self.next_offset = header.next_offset();
    }

    fn push_time_entry(&mut self) {
        if time_index::should_append(self.time_index.entries(), self.max_timestamp_ms) {
            self.time_index.push(TimeEntry {
                timestamp_ms: self.max_timestamp_ms,
                relative_offset: self.relative(self.offset_of_max_timestamp),
            });
        }
    }

    /// Appends already validated batches whose offsets continue this segment.
    pub(crate) fn append(
        &mut self,
        batches: &[u8],
        index_interval_bytes: u64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let position = match self.log.append(batches) {
            Ok(position) => position,
            Err(source) => return Err(self.undo_failed_append(source)),
        };
        if position != self.size_bytes {
            return Err(self.corrupt(
                position,
                "log file length differs from the segment size".into(),
            ));
        }
        let mut at = 0usize;
        while at < batches.len() {
            let header = BatchHeader::parse(&batches[at..])
                .map_err(|e| self.corrupt(position + at as u64, e.to_string()))?;
            self.track_batch(position + at as u64, &header, index_interval_bytes);
            at += header.total_bytes().max(1);
        }
        self.index.flush()?;
        self.time_index.flush()?;
        self.last_modified_ms = now_ms;
        Ok(())
    }

    /// An append failed: if for want of space, the file is cut back to the segment's size (a
    /// truncation needs no space), so the segment is as it was and only this append is refused
    /// (issue 11: a full disk made every append after it reopen the log to cut a torn tail).
    fn undo_failed_append(&self, source: std::io::Error) -> LogError {
        let path = self.log_path.clone();
        if disk_full::is_storage_full(&source) && self.log.truncate(self.size_bytes).is_ok() {
            return LogError::OutOfSpace { path, source };
        }
        LogError::Io { path, source }
    }

    /// Makes the last time-index entry carry the segment's largest timestamp (on roll and
    /// close), so a later load knows it without scanning.
    pub(crate) fn append_final_time_entry(&mut self) -> Result<(), LogError> {
        self.push_time_entry();
        self.time_index.flush()
    }

    /// Validates every batch from the start (CRC included when `check_crc`), cuts the file at
    /// the first bad one, and rebuilds both indexes. Offsets must be dense from `base_offset`.
    /// `on_batch` sees the header of every batch kept, in order (recovery re-assigns leader
    /// epochs from them).
    pub(crate) fn recover(
        &mut self,
        index_interval_bytes: u64,
        check_crc: bool,
        on_batch: &mut dyn FnMut(&BatchHeader),
    ) -> Result<RecoverOutcome, LogError> {
        self.reset_tracking();
        self.index.clear()?;
        self.time_index.clear()?;
        let file_len = self.log.len_bytes().at(&self.log_path)?;
        let file = self.log.clone();
        let mut reader = ChunkReader::new(file.as_ref(), file_len);
        let mut pos = 0u64;
        let mut reason = None;
        while pos < file_len {
            let scanned = if check_crc {
                validated_header_at(&mut reader, pos)
            } else {
                header_at(&mut reader, pos)
            };
            let header = match scanned {
                Ok(h) if h.base_offset == self.next_offset => h,
                Ok(h) => {
                    reason = Some(format!(
                        "batch at offset {} where {} was expected",
                        h.base_offset, self.next_offset
                    ));
                    break;
                }
                Err(ScanError::Invalid(why)) => {
                    reason = Some(why);
                    break;
                }
                Err(ScanError::Io(e)) => return Err(e).at(&self.log_path),
            };
            self.track_batch(pos, &header, index_interval_bytes);
            on_batch(&header);
            pos += header.total_bytes() as u64;
        }
        if pos < file_len {
            self.log.truncate(pos).at(&self.log_path)?;
        }
        self.push_time_entry();
        self.index.flush()?;
        self.time_index.flush()?;
        Ok(RecoverOutcome {
            truncated_bytes: file_len - pos,
            reason,
        })
    }

    /// Loads the indexes of a sealed segment known to be valid and synced, whose offsets end
    /// at `next_offset`. Returns `false` if an index is damaged (the caller then recovers).
    pub(crate) fn load_sealed(&mut self, next_offset: i64) -> Result<bool, LogError> {
        self.reset_tracking();
        self.size_bytes = self.log.len_bytes().at(&self.log_path)?;
        self.next_offset = next_offset;
        if !self.load_indexes()? || self.size_bytes == 0 || next_offset <= self.base_offset {
            return Ok(false);
        }
        if let Some(last) = self.index.last() {
            self.bytes_since_last_entry = self.size_bytes - last.position as u64;
        }
        self.last_entry_points_at_a_batch()
    }

    /// Loads the active segment after a clean shutdown: indexes as stored, then a header scan
    /// from the last index entry to find the end. Returns `false` on any inconsistency.
    pub(crate) fn load_active_clean(&mut self) -> Result<bool, LogError> {
        self.reset_tracking();
        let file_len = self.log.len_bytes().at(&self.log_path)?;
        self.size_bytes = file_len;
        self.next_offset = self.base_offset + u32::MAX as i64;
        if !self.load_indexes()? || !self.last_entry_points_at_a_batch()? {
            return Ok(false);
        }
        let (mut pos, mut next) = match self.index.last() {
            Some(e) => (
                e.position as u64,
                self.base_offset + e.relative_offset as i64,
            ),
            None => (0, self.base_offset),
        };
        // Continue the bookkeeping exactly where the last index entry left it.
        self.bytes_since_last_entry = 0;
        self.next_offset = next;
        self.size_bytes = pos;
        let file = self.log.clone();
        let mut reader = ChunkReader::new(file.as_ref(), file_len);
        let index_len = self.index.entries().len();
        while pos < file_len {
            let header = match header_at(&mut reader, pos) {
                Ok(h) if h.base_offset == next => h,
                Ok(_) | Err(ScanError::Invalid(_)) => return Ok(false),
                Err(ScanError::Io(e)) => return Err(e).at(&self.log_path),
            };
            // An interval of u64::MAX adds no entries: they were all written before the close.
            self.track_batch(pos, &header, u64::MAX);
            pos += header.total_bytes() as u64;
            next = header.next_offset();
        }
        if self.index.entries().len() != index_len {
            return Ok(false);
        }
        self.bytes_since_last_entry =
            self.size_bytes - self.index.last().map_or(0, |e| e.position as u64);
        self.first_batch_timestamp_ms = if self.size_bytes == 0 {
            None
        } else {
            Some(self.first_header()?.max_timestamp_ms)
        };
        Ok(true)
    }

    /// Reads both index files and sanity-checks them against `size_bytes` / `next_offset`;
    /// also restores the largest timestamp from the last time-index entry.
    fn load_indexes(&mut self) -> Result<bool, LogError> {
        let max_entries = self.size_bytes / crate::storage::batch::HEADER_BYTES as u64 + 1;
        if !self.index.load(max_entries)? || !self.time_index.load(max_entries)? {
            return Ok(false);
        }
        let next_relative = (self.next_offset - self.base_offset) as u64;
        if !index::check_offset_entries(self.index.entries(), self.size_bytes, next_relative)
            || !time_index::check_time_entries(self.time_index.entries(), next_relative)
        {
            return Ok(false);
        }
        if let Some(last) = self.time_index.last() {
            self.max_timestamp_ms = last.timestamp_ms;
            self.offset_of_max_timestamp = self.base_offset + last.relative_offset as i64;
        }
        Ok(true)
    }

    /// Spot check: the last offset-index entry names a batch that really starts there.
    fn last_entry_points_at_a_batch(&self) -> Result<bool, LogError> {
        let Some(last) = self.index.last().copied() else {
            return Ok(true);
        };
        let mut reader = ChunkReader::new(self.log.as_ref(), self.size_bytes);
        match header_at(&mut reader, last.position as u64) {
            Ok(h) => Ok(h.base_offset == self.base_offset + last.relative_offset as i64),
            Err(ScanError::Invalid(_)) => Ok(false),
            Err(ScanError::Io(e)) => Err(e).at(&self.log_path),
        }
    }

    fn first_header(&self) -> Result<BatchHeader, LogError> {
        let mut reader = ChunkReader::new(self.log.as_ref(), self.size_bytes);
        header_at(&mut reader, 0).map_err(|e| self.scan_error(0, e))
    }

    fn corrupt(&self, position: u64, reason: String) -> LogError {
        LogError::Corrupt {
            path: self.log_path.clone(),
            position,
            reason,
        }
    }

    fn scan_error(&self, position: u64, e: ScanError) -> LogError {
        match e {
            ScanError::Io(source) => LogError::Io {
                path: self.log_path.clone(),
                source,
            },
            ScanError::Invalid(reason) => self.corrupt(position, reason),
        }
    }

    /// Where a scan for an offset `relative_offset` into the segment starts: the position of
    /// the last offset-index entry at or before it whose batch starts at the offset the entry
    /// names, else the segment start. The open's sanity check vouches only for the entries'
    /// order and the last entry's batch: a bit flip at rest in an earlier entry's position
    /// passed it, and every read through that entry then met the middle of a batch and failed
    /// as corrupt, for good (found by the simulator, seed 31 with `--sasl`: a group member's
    /// fetch at the offset its commits were reset to answered KAFKA_STORAGE_ERROR until the
    /// run ended). Checking the entry costs one header read, in the chunk the scan reads next.
    fn scan_start(
        &self,
        reader: &mut ChunkReader<'_>,
        relative_offset: u32,
    ) -> Result<u64, LogError> {
        for entry in self
            .index
            .entries_at_or_before(relative_offset)
            .iter()
            .rev()
        {
            let expected = self.base_offset + entry.relative_offset as i64;
            match header_at(reader, entry.position as u64) {
                Ok(h) if h.base_offset == expected => return Ok(entry.position as u64),
                Ok(_) | Err(ScanError::Invalid(_)) => {
                    if !self.index_damage_reported.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            path = %self.index.path().display(), ?entry,
                            "an offset index entry does not point at its batch; reads scan \
                             from an earlier entry (the index is rebuilt only when the segment \
                             is recovered after an unclean shutdown)"
                        );
                    }
                }
                Err(ScanError::Io(e)) => return Err(e).at(&self.log_path),
            }
        }
        Ok(0)
    }

    /// Scans headers from `pos` for the first batch satisfying `wanted`.
    fn scan_from(
        &self,
        reader: &mut ChunkReader<'_>,
        mut pos: u64,
        wanted: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        while pos < self.size_bytes {
            let header = header_at(reader, pos).map_err(|e| self.scan_error(pos, e))?;
            if wanted(&header) {
                return Ok(Some((pos, header)));
            }
            pos += header.total_bytes() as u64;
        }
        Ok(None)
    }

    /// Whole batches from the one containing `offset`: at least one batch (even past
    /// `max_bytes`), none ending past `upper_bound_offset`. `None` if nothing qualifies.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound_offset: i64,
    ) -> Result<Option<SegmentRead>, LogError> {
        let mut reader = ChunkReader::new(self.log.as_ref(), self.size_bytes);
        let from = self.scan_start(&mut reader, self.relative(offset))?;
        let Some((start, first)) =
            self.scan_from(&mut reader, from, |h| h.next_offset() > offset)?
        else {
            return Ok(None);
        };
        if first.next_offset() > upper_bound_offset {
            return Ok(None);
        }
        let mut end = start + first.total_bytes() as u64;
        let mut next_offset = first.next_offset();
        let mut has_records = first.records_count > 0;
        while end < self.size_bytes {
            let header = header_at(&mut reader, end).map_err(|e| self.scan_error(end, e))?;
            let grown = end - start + header.total_bytes() as u64;
            if header.next_offset() > upper_bound_offset || grown > max_bytes as u64 {
                break;
            }
            end += header.total_bytes() as u64;
            next_offset = header.next_offset();
            has_records |= header.records_count > 0;
        }
        let mut bytes = crate::storage::read_buffer::zeroed((end - start) as usize);
        read_exact_at(self.log.as_ref(), start, &mut bytes).at(&self.log_path)?;
        Ok(Some(SegmentRead {
            bytes,
            first_offset: first.base_offset,
            next_offset,
            has_records,
        }))
    }

    /// Kafka's `FileRecords.searchForTimestamp`: in the first batch whose `maxTimestamp >=
    /// timestamp_ms` (and that holds an offset ≥ `log_start_offset`), the first record with a
    /// timestamp ≥ the target and an offset ≥ the log start: `(offset, timestamp_ms)`. A batch
    /// whose records all miss (its `maxTimestamp` lied, or they lie below the log start) is
    /// passed over, as Kafka does.
    pub(crate) fn find_timestamp(
        &self,
        timestamp_ms: i64,
        log_start_offset: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let mut reader = ChunkReader::new(self.log.as_ref(), self.size_bytes);
        let by_time = match time_index::lookup_offset(self.time_index.entries(), timestamp_ms) {
            Some(rel) => self.scan_start(&mut reader, rel)?,
            None => 0,
        };
        let by_start = self.scan_start(&mut reader, self.relative(log_start_offset))?;
        let mut pos = by_time.max(by_start);
        while let Some((at, header)) = self.scan_from(&mut reader, pos, |h| {
            h.max_timestamp_ms >= timestamp_ms && h.next_offset() > log_start_offset
        })? {
            let wanted =
                |r: &RecordPosition| r.timestamp_ms >= timestamp_ms && r.offset >= log_start_offset;
            let found = self.first_record(&mut reader, at, &header, log_start_offset, wanted)?;
            if let Some(found) = found {
                return Ok(Some((found.offset, found.timestamp_ms)));
            }
            pos = at + header.total_bytes() as u64;
        }
        Ok(None)
    }

    /// The offset of the first record carrying `timestamp_ms` in the batch based at
    /// `batch_base_offset` (Kafka's `RecordBatch.offsetOfMaxTimestamp`, for ListOffsets -3);
    /// the batch's base offset when no record is found that way.
    pub(crate) fn offset_of_record_with(
        &self,
        batch_base_offset: i64,
        timestamp_ms: i64,
    ) -> Result<i64, LogError> {
        let mut reader = ChunkReader::new(self.log.as_ref(), self.size_bytes);
        let from = self.scan_start(&mut reader, self.relative(batch_base_offset))?;
        let Some((at, header)) =
            self.scan_from(&mut reader, from, |h| h.next_offset() > batch_base_offset)?
        else {
            return Ok(batch_base_offset);
        };
        let found = self.first_record(&mut reader, at, &header, header.base_offset, |r| {
            r.timestamp_ms == timestamp_ms
        })?;
        Ok(found.map_or(header.base_offset, |r| r.offset))
    }

    /// The first record of the batch at `at` that is `wanted`, walking the records' first
    /// bytes through the chunk buffer (nothing is allocated however large the batch).
    ///
    /// When the records cannot be walked, the answer falls back to the whole batch — its base
    /// offset (raised to `min_offset`, the log start) and `maxTimestamp`, Rill's answer before
    /// records were walked — if that is `wanted`. That happens for a compressed batch (stored
    /// as produced; the broker has no codec to look inside) and for malformed record bytes
    /// behind a valid CRC (the append path checks headers only, so a client could send them;
    /// a lookup must not fail on them).
    fn first_record(
        &self,
        reader: &mut ChunkReader<'_>,
        at: u64,
        header: &BatchHeader,
        min_offset: i64,
        wanted: impl Fn(&RecordPosition) -> bool,
    ) -> Result<Option<RecordPosition>, LogError> {
        let whole_batch = RecordPosition {
            offset: header.base_offset.max(min_offset),
            timestamp_ms: header.max_timestamp_ms,
        };
        let fallback = || Ok(wanted(&whole_batch).then_some(whole_batch));
        let Some(mut walker) = RecordWalker::new(header) else {
            return fallback();
        };
        while let Some((rel, len)) = walker.next_prefix() {
            let prefix = reader
                .get(at + rel as u64, len)
                .map_err(|source| LogError::Io {
                    path: self.log_path.clone(),
                    source,
                })?;
            match walker.advance(prefix) {
                Ok(record) if wanted(&record) => return Ok(Some(record)),
                Ok(_) => {}
                Err(_) => return fallback(),
            }
        }
        Ok(None)
    }

    /// Cuts the segment before the batch containing `offset` (durably) and rebuilds the
    /// indexes. Returns the new next offset (the cut batch's base offset).
    pub(crate) fn truncate_to(
        &mut self,
        offset: i64,
        index_interval_bytes: u64,
    ) -> Result<i64, LogError> {
        let next_offset = self.cut_unsynced(offset, index_interval_bytes)?;
        self.log.sync().at(&self.log_path)?;
        if let Some(file) = self.txn_index.file() {
            file.sync().at(self.txn_index.path())?;
        }
        Ok(next_offset)
    }

    /// [`Self::truncate_to`] without the sync: the caller's next persist job makes the cut
    /// durable (a crash before it brings the cut bytes back, a consistent older state).
    pub(crate) fn cut_unsynced(
        &mut self,
        offset: i64,
        index_interval_bytes: u64,
    ) -> Result<i64, LogError> {
        let mut reader = ChunkReader::new(self.log.as_ref(), self.size_bytes);
        let from = self.scan_start(&mut reader, self.relative(offset))?;
        let cut = self.scan_from(&mut reader, from, |h| h.next_offset() > offset)?;
        let Some((position, _)) = cut else {
            return Ok(self.next_offset);
        };
        self.log.truncate(position).at(&self.log_path)?;
        self.recover(index_interval_bytes, false, &mut |_| {})?;
        // A transaction whose marker was cut is no longer known aborted.
        self.txn_index.truncate_from(self.next_offset)?;
        Ok(self.next_offset)
    }

    /// The segment's log file as a sealed segment's cleaner sees it: the open file and its
    /// size now. A sealed segment's log is never written again, so the pin stays valid off the
    /// actor for as long as the segment is not truncated or removed (see `clean::CleanJob`).
    pub(crate) fn pin(&self) -> PinnedLog {
        PinnedLog {
            base_offset: self.base_offset,
            next_offset: self.next_offset,
            file: self.log.clone(),
            size_bytes: self.size_bytes,
            path: self.log_path.clone(),
        }
    }

    /// The segment's file paths, log first: an index without its log is an orphan that the
    /// next open deletes, so removing them in this order never leaves a log without its index.
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        vec![
            self.log_path.clone(),
            self.index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
            self.txn_index.path().to_path_buf(),
        ]
    }

    /// Removes the segment's files, in [`Self::paths`] order.
    pub(crate) fn delete(self, storage: &dyn Storage) -> Result<(), LogError> {
        for path in self.paths() {
            if storage.exists(&path) {
                storage.remove_file(&path).at(&path)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse_strictly() {
        assert_eq!(
            parse_file_name("00000000000000000042.log"),
            Some((42, FileKind::Log))
        );
        assert_eq!(
            parse_file_name("00000000000000000042.index"),
            Some((42, FileKind::Index))
        );
        assert_eq!(
            parse_file_name("00000000000000000042.timeindex"),
            Some((42, FileKind::TimeIndex))
        );
        assert_eq!(parse_file_name("42.log"), None);
        assert_eq!(parse_file_name("0000000000000000004x.log"), None);
        assert_eq!(parse_file_name("recovery-point.checkpoint"), None);
        assert_eq!(
            file_path(Path::new("t-0"), 7, LOG_SUFFIX),
            PathBuf::from("t-0/00000000000000000007.log")
        );
    }
}

/// A sealed segment's log file, pinned for a reader off the actor (the log cleaner).
#[derive(Clone)]
pub(crate) struct PinnedLog {
    pub base_offset: i64,
    pub next_offset: i64,
    pub file: Arc<dyn StorageFile>,
    pub size_bytes: u64,
    pub path: PathBuf,
}

impl PinnedLog {
    /// Calls `visit` with every batch of the pinned bytes in order (header and whole bytes),
    /// one batch in memory at a time: the log cleaner's two passes.
    pub(crate) fn for_each_batch(
        &self,
        visit: &mut dyn FnMut(&BatchHeader, &[u8]) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut reader = ChunkReader::new(self.file.as_ref(), self.size_bytes);
        let mut pos = 0u64;
        let mut bytes = Vec::new();
        while pos < self.size_bytes {
            let header = header_at(&mut reader, pos).map_err(|e| self.scan_error(e, pos))?;
            bytes.resize(header.total_bytes(), 0);
            read_exact_at(self.file.as_ref(), pos, &mut bytes).at(&self.path)?;
            visit(&header, &bytes)?;
            pos += header.total_bytes() as u64;
        }
        Ok(())
    }

    /// Calls `visit` with every batch header of the pinned bytes in order, reading headers
    /// only: the cleaner's pass over the part of the log a previous clean left.
    pub(crate) fn for_each_header(
        &self,
        visit: &mut dyn FnMut(&BatchHeader),
    ) -> Result<(), LogError> {
        let mut reader = ChunkReader::new(self.file.as_ref(), self.size_bytes);
        let mut pos = 0u64;
        while pos < self.size_bytes {
            let header = header_at(&mut reader, pos).map_err(|e| self.scan_error(e, pos))?;
            visit(&header);
            pos += header.total_bytes() as u64;
        }
        Ok(())
    }

    fn scan_error(&self, e: ScanError, pos: u64) -> LogError {
        match e {
            ScanError::Io(source) => LogError::Io {
                path: self.path.clone(),
                source,
            },
            ScanError::Invalid(reason) => LogError::Corrupt {
                path: self.path.clone(),
                position: pos,
                reason,
            },
        }
    }
}
