//! Fuzz bodies shared by the cargo-fuzz targets (`fuzz/`) and ordinary tests
//! (`tests/log_fuzz_regression.rs`), so `cargo test` runs the same code over random inputs
//! and any crash the fuzzer finds becomes a plain regression test.
//!
//! [`open_arbitrary_dir`] turns arbitrary bytes into a log directory on a [`MemStorage`]:
//! segment, index, time-index and checkpoint files with names and contents chosen by the
//! input (valid batches with damage, valid checkpoints, raw garbage, directories where files
//! belong), then opens a [`Log`] on it and uses it. Whatever the bytes, that must never panic:
//! disk contents are input, and bad input is an error or a cut, not a crash.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::storage::batch::{self, build_batch};
use crate::storage::log::{Log, LogConfig, LogError};
use crate::storage::mem::MemStorage;
use crate::storage::Storage;

/// Bounds on what one input may build, so a fuzz iteration stays fast.
const FILES_MAX: u8 = 8;
const RAW_FILE_BYTES_MAX: usize = 4096;
const BATCHES_PER_FILE_MAX: u8 = 6;
/// Batches read per `Log::read` while reading everything.
const READ_BYTES: usize = 16 * 1024;
/// Reads before giving up on reaching the log end (each must make progress anyway).
const READS_MAX: usize = 10_000;

/// Checkpoint file names and kinds as the log writes them (see `log/checkpoint.rs`). Kept
/// here as literals: if the log renames them, fuzzing gets weaker but stays correct.
const CHECKPOINTS: [(&str, u16); 4] = [
    ("recovery-point.checkpoint", 1),
    ("log-start-offset.checkpoint", 2),
    ("clean-shutdown", 3),
    ("cleaner-offset.checkpoint", 4),
];

/// Reads the fuzz input as a stream of choices; yields zeros once exhausted, so every input
/// decodes to some directory.
struct Choices<'a> {
    data: &'a [u8],
}

impl<'a> Choices<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((first, rest)) => {
                self.data = rest;
                *first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.iter_mut().for_each(|b| *b = self.byte());
        u64::from_be_bytes(bytes)
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        head
    }

    /// An offset that is usually small and sometimes anything (negative included).
    fn offset(&mut self) -> i64 {
        match self.byte() % 4 {
            0 => 0,
            1 => i64::from(self.byte()),
            2 => i64::from(self.u16()),
            _ => self.u64() as i64,
        }
    }
}

fn config(choices: &mut Choices) -> LogConfig {
    LogConfig {
        segment_bytes: [100, 1_000, 4_096, 1 << 20][usize::from(choices.byte() % 4)],
        index_interval_bytes: [0, 1, 100, 4_096][usize::from(choices.byte() % 4)],
        ..LogConfig::default()
    }
}

fn segment_name(base: i64, suffix: &str) -> String {
    format!("{base:020}{suffix}")
}

/// A file name chosen by the input: mostly names the log recognises.
fn file_name(choices: &mut Choices) -> String {
    match choices.byte() % 8 {
        0 | 1 => segment_name(choices.offset(), ".log"),
        2 => segment_name(choices.offset(), ".index"),
        3 if choices.byte() % 2 == 0 => segment_name(choices.offset(), ".timeindex"),
        3 => segment_name(choices.offset(), ".txnindex"),
        4 => CHECKPOINTS[usize::from(choices.byte()) % CHECKPOINTS.len()]
            .0
            .to_string(),
        5 => format!(
            "{}.tmp",
            CHECKPOINTS[usize::from(choices.byte()) % CHECKPOINTS.len()].0
        ),
        _ => {
            const CHARSET: &[u8] = b"0123456789.logindextm-_";
            let len = usize::from(choices.byte() % 24) + 1;
            let name: String = choices
                .take(len)
                .iter()
                .map(|b| char::from(CHARSET[usize::from(*b) % CHARSET.len()]))
                .collect();
            if name.chars().all(|c| c == '.') {
                "dots".to_string()
            } else {
                name
            }
        }
    }
}

/// Valid batches with dense offsets from `base`, then optionally damaged.
fn batches(choices: &mut Choices, base: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next = base;
    for _ in 0..choices.byte() % BATCHES_PER_FILE_MAX + 1 {
        let record_count = usize::from(choices.byte() % 4) + 1;
        let values: Vec<Vec<u8>> = (0..record_count)
            .map(|_| {
                let len = usize::from(choices.byte() % 32);
                choices.take(len).to_vec()
            })
            .collect();
        let records: Vec<(Option<&[u8]>, &[u8])> =
            values.iter().map(|v| (None, v.as_slice())).collect();
        let mut batch = build_batch(&records, i64::from(choices.u16()));
        batch::set_base_offset(&mut batch, next).expect("build_batch output is a valid batch");
        next = next.saturating_add(record_count as i64);
        out.extend_from_slice(&batch);
    }
    damage(choices, &mut out);
    out
}

fn damage(choices: &mut Choices, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        return;
    }
    match choices.byte() % 5 {
        0 | 1 => {}
        2 => bytes.truncate(usize::from(choices.u16()) % bytes.len()),
        3 => {
            let at = usize::from(choices.u16()) % bytes.len();
            bytes[at] ^= choices.byte() | 1;
        }
        _ => {
            let len = usize::from(choices.byte());
            bytes.extend_from_slice(choices.take(len));
        }
    }
}

fn checkpoint_bytes(kind: u16, offset: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(b"RLCK");
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Plausible index entries: increasing offsets and positions, as many as the input says.
fn index_like(choices: &mut Choices) -> Vec<u8> {
    let entry_bytes = if choices.byte() % 2 == 0 { 8 } else { 12 };
    let mut out = Vec::new();
    let mut value = 0u32;
    for _ in 0..choices.byte() % 16 {
        for _ in 0..entry_bytes / 4 {
            value = value.saturating_add(u32::from(choices.byte()));
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
    damage(choices, &mut out);
    out
}

fn contents(choices: &mut Choices, name: &str) -> Vec<u8> {
    let base = name
        .get(..20)
        .and_then(|stem| stem.parse::<i64>().ok())
        .unwrap_or(0);
    match choices.byte() % 5 {
        0 => {
            let len = usize::from(choices.u16()) % RAW_FILE_BYTES_MAX;
            choices.take(len).to_vec()
        }
        1 | 2 => batches(choices, base),
        3 => {
            let (_, kind) = CHECKPOINTS[usize::from(choices.byte()) % CHECKPOINTS.len()];
            let mut bytes = checkpoint_bytes(kind, choices.offset());
            damage(choices, &mut bytes);
            bytes
        }
        _ => index_like(choices),
    }
}

/// Builds the directory the input describes. Storage errors (a name used twice as file and
/// directory, say) just leave that entry out.
fn build_dir(storage: &MemStorage, dir: &Path, choices: &mut Choices) {
    storage
        .create_dir_all(dir)
        .expect("a fresh MemStorage takes any relative dir");
    for _ in 0..choices.byte() % (FILES_MAX + 1) {
        let name = file_name(choices);
        let path = dir.join(&name);
        let flags = choices.byte();
        if flags % 11 == 10 {
            // A directory where the log may expect a file.
            let _ = storage.create_dir_all(&path);
            continue;
        }
        let bytes = contents(choices, &name);
        if let Ok(file) = storage.open(&path, true) {
            let _ = file.truncate(0);
            let _ = file.append(&bytes);
            if flags & 1 == 1 {
                let _ = file.sync();
            }
        }
    }
    let _ = storage.sync_dir(dir);
    match choices.byte() % 4 {
        0 => storage.crash(),
        1 => {
            let mut rng = SmallRng::seed_from_u64(u64::from(choices.byte()));
            storage.crash_torn(&mut rng);
        }
        _ => {}
    }
}

/// Reads from the log start to the log end; asserts each read makes progress. Returns the
/// bytes read, or the error that stopped the reading (corrupt data after open is allowed).
fn read_all(log: &Log) -> Result<Vec<u8>, LogError> {
    let mut offset = log.log_start_offset();
    let mut bytes = Vec::new();
    for _ in 0..READS_MAX {
        if offset >= log.log_end_offset() {
            break;
        }
        let slice = log.read(offset, READ_BYTES)?;
        if slice.bytes.is_empty() {
            break;
        }
        assert!(
            slice.next_offset > offset && slice.first_offset <= offset,
            "read({offset}) must cover the offset and make progress: {}..{}",
            slice.first_offset,
            slice.next_offset
        );
        bytes.extend_from_slice(&slice.bytes);
        offset = slice.next_offset;
    }
    Ok(bytes)
}

fn check_log_bounds(log: &Log) {
    assert!(log.log_start_offset() >= 0, "{log:?}");
    assert!(log.log_start_offset() <= log.log_end_offset(), "{log:?}");
    assert!(log.synced_offset() <= log.log_end_offset(), "{log:?}");
}

/// How far one input got, so tests can check that random inputs reach deep into recovery
/// rather than all failing at the first step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FuzzOutcome {
    pub opened: bool,
    /// Bytes of batches read from the recovered log before the append.
    pub recovered_bytes: usize,
    pub appended: bool,
    pub reopened: bool,
}

/// The fuzz body: build a directory from `data`, open a log on it, read everything, append a
/// valid batch, read it back, close, reopen. Panics only when the log breaks a promise it
/// makes for any disk contents (progress, bounds, reading back an append, a clean reopen).
pub fn open_arbitrary_dir(data: &[u8]) -> FuzzOutcome {
    let mut outcome = FuzzOutcome::default();
    let mut choices = Choices { data };
    let storage = MemStorage::new();
    let dir = PathBuf::from("topic-0");
    let config = config(&mut choices);
    build_dir(&storage, &dir, &mut choices);

    let shared: Arc<dyn Storage> = Arc::new(storage.clone());
    let Ok(mut log) = Log::open(shared.clone(), &dir, config.clone(), 0) else {
        return outcome;
    };
    outcome.opened = true;
    check_log_bounds(&log);
    outcome.recovered_bytes = read_all(&log).map_or(0, |bytes| bytes.len());
    let _ = log.offset_for_timestamp(i64::from(choices.u16()));

    let mut appended = build_batch(&[(Some(b"key"), b"fuzz value")], 1_000);
    let Ok(info) = log.append(&mut appended, 7, 1_000) else {
        return outcome;
    };
    outcome.appended = true;
    assert_eq!(info.last_offset, info.first_offset, "one record appended");
    assert_eq!(log.log_end_offset(), info.last_offset + 1);
    check_log_bounds(&log);
    if let Ok(slice) = log.read(info.first_offset, READ_BYTES) {
        assert!(
            slice.bytes.starts_with(&appended),
            "the appended batch must read back as written"
        );
    }
    let _ = read_all(&log);
    if log.sync().is_err() {
        return outcome;
    }
    let end_offset = log.log_end_offset();
    if log.close().is_err() {
        return outcome;
    }

    let reopened = Log::open(shared, &dir, config, 2_000).expect("a cleanly closed log reopens");
    check_log_bounds(&reopened);
    assert_eq!(
        reopened.log_end_offset(),
        end_offset,
        "clean reopen keeps the log end"
    );
    let _ = read_all(&reopened);
    outcome.reopened = true;
    outcome
}
