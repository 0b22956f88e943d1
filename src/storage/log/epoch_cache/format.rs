//! The `leader-epoch-checkpoint` text format, as Kafka's `CheckpointFile` writes it:
//!
//! ```text
//! 0               version
//! 2               number of entries
//! 0 0             epoch, a space, its start offset (decimal)
//! 3 1200
//! ```
//!
//! Every line ends with `\n`. Reading follows Kafka's `CheckpointReadBuffer`: an empty file,
//! or one that ends after the version line, holds no entries; any other deviation is an error
//! naming the line. The input is untrusted (a damaged disk, a hand-edited file): its size is
//! checked first, the declared count is only compared with the lines actually present (nothing
//! is allocated from it), and no input panics.

use std::fmt::Write as _;

use thiserror::Error;

use super::EpochEntry;
use crate::limits::LEADER_EPOCH_ENTRIES_MAX;

/// The only version Kafka has written (`LeaderEpochCheckpointFile.CURRENT_VERSION`).
const VERSION: i32 = 0;

/// Longest entry line: the largest epoch (10 digits), a space, the largest offset (19 digits)
/// and the newline.
const ENTRY_LINE_BYTES_MAX: usize = 10 + 1 + 19 + 1;
/// Longest version plus count lines: two `i32`s (11 characters with a sign) and newlines.
const HEADER_BYTES_MAX: usize = 2 * (11 + 1);

/// Largest checkpoint this module writes, and so the largest it reads: anything bigger is
/// refused before it is looked at. The log reads at most this much of the file.
pub const CHECKPOINT_BYTES_MAX: usize =
    HEADER_BYTES_MAX + LEADER_EPOCH_ENTRIES_MAX * ENTRY_LINE_BYTES_MAX;

/// Why checkpoint bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EpochCheckpointError {
    #[error("leader-epoch checkpoint of {bytes} bytes exceeds the maximum of {max} bytes")]
    TooLarge { bytes: usize, max: usize },
    #[error("leader-epoch checkpoint line {line} is malformed: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("leader-epoch checkpoint has version {version}, only version 0 is known")]
    UnsupportedVersion { version: i32 },
    #[error("leader-epoch checkpoint declares {declared} entries, more than the maximum of {max}")]
    TooManyEntries { declared: i32, max: usize },
    #[error("leader-epoch checkpoint declares {declared} entries but holds more")]
    MoreEntriesThanDeclared { declared: i32 },
    #[error("leader-epoch checkpoint declares {declared} entries but holds {found}")]
    FewerEntriesThanDeclared { declared: i32, found: usize },
    #[error("leader-epoch checkpoint line {line} holds a negative epoch {epoch} or start offset {start_offset}")]
    NegativeEntry {
        line: usize,
        epoch: i32,
        start_offset: i64,
    },
}

/// The file's bytes for `entries`.
pub(super) fn encode(entries: &[EpochEntry]) -> Vec<u8> {
    let mut out = String::with_capacity(HEADER_BYTES_MAX + entries.len() * ENTRY_LINE_BYTES_MAX);
    // Writing into a String cannot fail.
    let _ = writeln!(out, "{VERSION}");
    let _ = writeln!(out, "{}", entries.len());
    for entry in entries {
        let _ = writeln!(out, "{} {}", entry.epoch, entry.start_offset);
    }
    out.into_bytes()
}

/// Parses `bytes`, handing each entry to `on_entry` in file order.
pub(super) fn decode(
    bytes: &[u8],
    mut on_entry: impl FnMut(EpochEntry),
) -> Result<(), EpochCheckpointError> {
    use EpochCheckpointError as E;
    if bytes.len() > CHECKPOINT_BYTES_MAX {
        return Err(E::TooLarge {
            bytes: bytes.len(),
            max: CHECKPOINT_BYTES_MAX,
        });
    }
    let mut lines = lines(bytes).zip(1usize..);
    let Some((version, line)) = lines.next() else {
        return Ok(());
    };
    let version: i32 = number(version, line)?;
    if version != VERSION {
        return Err(E::UnsupportedVersion { version });
    }
    let Some((count, line)) = lines.next() else {
        return Ok(());
    };
    let declared: i32 = number(count, line)?;
    let Ok(declared_entries) = usize::try_from(declared) else {
        return Err(E::Malformed {
            line,
            reason: "negative entry count",
        });
    };
    if declared_entries > LEADER_EPOCH_ENTRIES_MAX {
        return Err(E::TooManyEntries {
            declared,
            max: LEADER_EPOCH_ENTRIES_MAX,
        });
    }
    let mut found = 0usize;
    for (text, line) in lines {
        if found == declared_entries {
            return Err(E::MoreEntriesThanDeclared { declared });
        }
        on_entry(entry(text, line)?);
        found += 1;
    }
    if found != declared_entries {
        return Err(E::FewerEntriesThanDeclared { declared, found });
    }
    Ok(())
}

/// The lines of `bytes` without their `\n` (or `\r\n`, which Kafka's reader also accepts); the
/// newline ending the last line does not start another one.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let pieces = (!bytes.is_empty()).then(|| body.split(|b| *b == b'\n'));
    pieces
        .into_iter()
        .flatten()
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// One `epoch start_offset` line.
fn entry(text: &[u8], line: usize) -> Result<EpochEntry, EpochCheckpointError> {
    let malformed = |reason| EpochCheckpointError::Malformed { line, reason };
    let text = std::str::from_utf8(text).map_err(|_| malformed("not text"))?;
    let mut fields = text.split_ascii_whitespace();
    let (Some(epoch), Some(start_offset), None) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed("expected an epoch and a start offset"));
    };
    let epoch: i32 = epoch
        .parse()
        .map_err(|_| malformed("epoch is not an i32"))?;
    let start_offset: i64 = start_offset
        .parse()
        .map_err(|_| malformed("start offset is not an i64"))?;
    if epoch < 0 || start_offset < 0 {
        return Err(EpochCheckpointError::NegativeEntry {
            line,
            epoch,
            start_offset,
        });
    }
    Ok(EpochEntry {
        epoch,
        start_offset,
    })
}

/// A whole line holding one decimal number (the version or the count).
fn number<T: std::str::FromStr>(text: &[u8], line: usize) -> Result<T, EpochCheckpointError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(EpochCheckpointError::Malformed {
            line,
            reason: "expected a decimal number",
        })
}
