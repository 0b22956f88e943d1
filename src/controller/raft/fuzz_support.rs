//! Fuzz bodies for the controller quorum's disk contents and entries, shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/raft_load.rs`, `metadata_entry.rs`) and plain tests
//! (`tests/raft_fuzz_regression.rs`), so that `cargo test` runs them over random inputs and a
//! crash the fuzzer finds becomes a regression test.
//!
//! * [`load_arbitrary_dir`]: arbitrary bytes become a voter's directory on a [`MemStorage`] —
//!   segment files of valid frames with damage, raw garbage, a snapshot file and a
//!   `quorum-state` file, valid or not — which is then loaded, appended to, synced and loaded
//!   again. Disk contents are input: a load may refuse (a damaged vote or snapshot, a gap),
//!   never panic, and what it accepts takes appends.
//! * [`apply_arbitrary_entries`]: arbitrary bytes as metadata entries, decoded and applied to
//!   an image, whose snapshot must load back to an equal image.

use std::path::Path;
use std::sync::Arc;

use super::core::{HardState, LogWrite};
use super::log_file::{
    checksummed, encode_frame, segment_name, RaftFiles, SnapshotFile, QUORUM_STATE_FILE,
    SNAPSHOT_FILE,
};
use super::msg::{Entry, Payload, SnapshotMeta};
use crate::controller::metadata::{records, MetadataImage};
use crate::storage::mem::MemStorage;
use crate::storage::persist::PersistJob;
use crate::storage::Storage;

const DIR: &str = "__cluster_metadata-0";
const FILES_MAX: u8 = 6;
const ENTRIES_PER_FILE_MAX: u8 = 8;
const RAW_BYTES_MAX: usize = 512;

/// How far one input got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaftFuzzOutcome {
    pub loaded: bool,
    pub entries: usize,
    pub snapshot_index: u64,
}

/// The input as a stream of choices; zeros once exhausted.
struct Choices<'a>(&'a [u8]);

impl<'a> Choices<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    fn small(&mut self) -> u64 {
        u64::from(self.byte() % 16)
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Builds a voter directory from `data`, loads it, appends and loads again. Panics only on a
/// bug: a load that panics, or accepted files that lose an append.
pub fn load_arbitrary_dir(data: &[u8]) -> RaftFuzzOutcome {
    let mut choices = Choices(data);
    let mem = MemStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let dir = Path::new(DIR);
    storage.create_dir_all(dir).expect("memory storage");
    let write = |name: &str, bytes: &[u8]| {
        let file = storage.open(&dir.join(name), true).expect("memory storage");
        file.append(bytes).expect("memory storage");
        file.sync().expect("memory storage");
    };
    let files = choices.byte() % FILES_MAX;
    for _ in 0..files {
        let base = choices.small() + 1;
        let mut bytes = Vec::new();
        match choices.byte() % 4 {
            // Raw garbage.
            0 => {
                let len = choices.byte() as usize * RAW_BYTES_MAX / 256;
                bytes.extend_from_slice(choices.take(len));
            }
            // Valid frames, terms chosen by the input, then maybe damage.
            _ => {
                for _ in 0..choices.byte() % ENTRIES_PER_FILE_MAX {
                    let entry = Entry {
                        term: choices.small(),
                        payload: match choices.byte() % 3 {
                            0 => Payload::Noop,
                            _ => Payload::Command(choices.take(8).to_vec()),
                        },
                    };
                    bytes.extend(encode_frame(&entry).expect("an entry encodes"));
                }
                match choices.byte() % 4 {
                    0 if !bytes.is_empty() => {
                        let at = choices.byte() as usize % bytes.len();
                        bytes[at] ^= choices.byte() | 1;
                    }
                    1 => {
                        let cut = choices.byte() as usize % (bytes.len() + 1);
                        bytes.truncate(cut);
                    }
                    _ => {}
                }
            }
        }
        write(&segment_name(base), &bytes);
    }
    match choices.byte() % 3 {
        0 => {}
        1 => {
            let meta = SnapshotMeta {
                index: choices.small(),
                term: choices.small(),
            };
            let data = choices.take(16).to_vec();
            write(SNAPSHOT_FILE, &checksummed(&SnapshotFile { meta, data }));
        }
        _ => {
            let len = choices.byte() as usize % 64;
            write(SNAPSHOT_FILE, choices.take(len));
        }
    }
    match choices.byte() % 3 {
        0 => {}
        1 => {
            let hard = HardState {
                term: choices.small(),
                voted_for: None,
            };
            write(QUORUM_STATE_FILE, &checksummed(&hard));
        }
        _ => {
            let len = choices.byte() as usize % 80;
            write(QUORUM_STATE_FILE, choices.take(len));
        }
    }
    let Ok(loaded) = RaftFiles::load(storage.clone(), dir) else {
        return RaftFuzzOutcome::default();
    };
    let outcome = RaftFuzzOutcome {
        loaded: true,
        entries: loaded.entries.len(),
        snapshot_index: loaded.snapshot.meta.index,
    };
    // What was accepted is a log: terms never go down along it.
    assert!(
        loaded.entries.windows(2).all(|w| w[0].term <= w[1].term),
        "a loaded log lowers its term: {:?}",
        loaded.entries
    );
    let last = loaded.snapshot.meta.index + loaded.entries.len() as u64;
    let term = loaded
        .entries
        .last()
        .map_or(loaded.snapshot.meta.term, |e| e.term);
    let appended = Entry {
        term: term + 1,
        payload: Payload::Command(b"appended".to_vec()),
    };
    let mut files = loaded.files;
    files
        .write_log(&LogWrite {
            keep_through: last,
            entries: vec![appended.clone()],
        })
        .expect("memory storage");
    let ops = files.sync_ops(None, None);
    PersistJob::new(storage.clone(), ops)
        .run()
        .expect("memory storage");
    mem.crash();
    let again = RaftFiles::load(storage, dir).expect("files it accepted load again");
    assert_eq!(again.snapshot.meta, loaded.snapshot.meta);
    assert_eq!(again.entries.len(), outcome.entries + 1);
    assert_eq!(again.entries.last(), Some(&appended));
    outcome
}

/// Decodes `data` as metadata entries (split at the input's choosing) and applies them;
/// the image's snapshot must load back to an equal image. Returns the entries applied.
pub fn apply_arbitrary_entries(data: &[u8]) -> usize {
    let mut choices = Choices(data);
    let mut image = MetadataImage::default();
    let mut applied = 0;
    let mut index = 0;
    while !choices.0.is_empty() {
        let len = choices.byte() as usize;
        let bytes = choices.take(len);
        index += 1;
        if let Ok(entry) = records::decode(bytes) {
            image.apply_entry(index, &entry);
            applied += 1;
        }
    }
    let snapshot = image.to_snapshot();
    let back = MetadataImage::from_snapshot(&snapshot).expect("an image's snapshot loads");
    assert!(back == image, "a snapshot loads back to a different image");
    applied
}
