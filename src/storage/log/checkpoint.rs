//! Small checkpoint files: the recovery point, the log start offset, the clean-shutdown
//! marker, the log cleaner's position. Each holds one offset in 20 bytes with a CRC, and is replaced atomically
//! (write temp file, sync, rename, sync dir), so a crash leaves the old or the new value.
//!
//! ```text
//! @0 magic "RLCK"  @4 version u16 (=1)  @6 kind u16  @8 offset i64  @16 crc32c u32 of @0..16
//! ```

use std::path::Path;

use super::error::IoContext;
use super::LogError;
use crate::storage::persist;
use crate::storage::Storage;

pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point.checkpoint";
pub(crate) const LOG_START_FILE: &str = "log-start-offset.checkpoint";
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = "clean-shutdown";
pub(crate) const CLEANER_OFFSET_FILE: &str = "cleaner-offset.checkpoint";
pub(crate) const TMP_SUFFIX: &str = persist::REPLACE_TMP_SUFFIX;

const MAGIC: &[u8; 4] = b"RLCK";
const VERSION: u16 = 1;
pub(crate) const CHECKPOINT_BYTES: usize = 20;

/// What a checkpoint file holds; stored so one file cannot be mistaken for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    RecoveryPoint = 1,
    LogStart = 2,
    CleanShutdown = 3,
    CleanerOffset = 4,
}

impl Kind {
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Kind::RecoveryPoint => RECOVERY_POINT_FILE,
            Kind::LogStart => LOG_START_FILE,
            Kind::CleanShutdown => CLEAN_SHUTDOWN_FILE,
            Kind::CleanerOffset => CLEANER_OFFSET_FILE,
        }
    }
}

pub(crate) fn encode(kind: Kind, offset: i64) -> [u8; CHECKPOINT_BYTES] {
    let mut out = [0u8; CHECKPOINT_BYTES];
    out[0..4].copy_from_slice(MAGIC);
    out[4..6].copy_from_slice(&VERSION.to_be_bytes());
    out[6..8].copy_from_slice(&(kind as u16).to_be_bytes());
    out[8..16].copy_from_slice(&offset.to_be_bytes());
    let crc = crc32c::crc32c(&out[..16]);
    out[16..20].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The offset in `bytes`, or `None` if they are not a valid checkpoint of `kind`.
pub(crate) fn decode(kind: Kind, bytes: &[u8]) -> Option<i64> {
    if bytes.len() != CHECKPOINT_BYTES || &bytes[0..4] != MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    if crc != crc32c::crc32c(&bytes[..16]) {
        return None;
    }
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    let stored_kind = u16::from_be_bytes([bytes[6], bytes[7]]);
    if version != VERSION || stored_kind != kind as u16 {
        return None;
    }
    let offset = i64::from_be_bytes(bytes[8..16].try_into().ok()?);
    (offset >= 0).then_some(offset)
}

/// Reads a checkpoint; `None` when absent or invalid (an invalid one is treated as absent,
/// which only costs a longer recovery).
pub(crate) fn read(storage: &dyn Storage, dir: &Path, kind: Kind) -> Result<Option<i64>, LogError> {
    let path = dir.join(kind.file_name());
    if !storage.exists(&path) {
        return Ok(None);
    }
    let file = storage.open(&path, false).at(&path)?;
    let len = file.len_bytes().at(&path)?;
    if len != CHECKPOINT_BYTES as u64 {
        tracing::warn!(path = %path.display(), len, "ignoring checkpoint of wrong size");
        return Ok(None);
    }
    let mut buf = [0u8; CHECKPOINT_BYTES];
    crate::storage::read_exact_at(file.as_ref(), 0, &mut buf).at(&path)?;
    let value = decode(kind, &buf);
    if value.is_none() {
        tracing::warn!(path = %path.display(), "ignoring damaged checkpoint");
    }
    Ok(value)
}

/// Replaces a checkpoint atomically and durably.
pub(crate) fn write(
    storage: &dyn Storage,
    dir: &Path,
    kind: Kind,
    offset: i64,
) -> Result<(), LogError> {
    let path = dir.join(kind.file_name());
    persist::replace_file(storage, &path, &encode(kind, offset)).at(&path)
}

/// Removes a checkpoint, not durably (the caller syncs the directory later); returns whether
/// it existed.
pub(crate) fn remove(storage: &dyn Storage, dir: &Path, kind: Kind) -> Result<bool, LogError> {
    let path = dir.join(kind.file_name());
    if !storage.exists(&path) {
        return Ok(false);
    }
    storage.remove_file(&path).at(&path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_detection() {
        let bytes = encode(Kind::LogStart, 42);
        assert_eq!(decode(Kind::LogStart, &bytes), Some(42));
        assert_eq!(decode(Kind::RecoveryPoint, &bytes), None, "kind is checked");
        for i in 0..CHECKPOINT_BYTES {
            let mut damaged = bytes;
            damaged[i] ^= 0x10;
            assert_eq!(decode(Kind::LogStart, &damaged), None, "flip at byte {i}");
        }
        assert_eq!(decode(Kind::LogStart, &bytes[..19]), None);
    }
}
