//! The topic registry file single-node releases kept (`__rill_meta/topics.bin`), read only:
//! topics now live in the metadata log, and a data directory written by an earlier release is
//! imported from this file once (see `docs/issue-13-brokers-plan.md`, B6).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::Storage;

/// Where the registry lived, relative to the storage root. Not a legal `<topic>-<partition>`
/// directory name clash: partition directories always end in `-<number>`.
pub const META_DIR: &str = "__rill_meta";
const TOPICS_FILE: &str = "topics.bin";

#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    #[error("topic metadata I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("topic metadata file {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
}

/// A topic as the old registry stored it (its encoding: keep the fields and their order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTopic {
    pub id: [u8; 16],
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LegacyRegistry {
    topics: BTreeMap<String, LegacyTopic>,
}

/// The registry file's path under the storage root.
pub fn legacy_path() -> PathBuf {
    Path::new(META_DIR).join(TOPICS_FILE)
}

/// The old registry's topics, or `None` when there is no such file.
pub fn load_legacy(
    storage: &dyn Storage,
) -> Result<Option<BTreeMap<String, LegacyTopic>>, TopicsError> {
    let file_path = legacy_path();
    if !storage.exists(&file_path) {
        return Ok(None);
    }
    let io_err = |source| TopicsError::Io {
        path: file_path.display().to_string(),
        source,
    };
    let file = storage.open(&file_path, false).map_err(io_err)?;
    let len = file.len_bytes().map_err(io_err)?;
    let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX).min(64 << 20)];
    crate::storage::read_exact_at(file.as_ref(), 0, &mut bytes).map_err(io_err)?;
    let registry = decode(&bytes).map_err(|reason| TopicsError::Corrupt {
        path: file_path.display().to_string(),
        reason,
    })?;
    Ok(Some(registry.topics))
}

fn decode(bytes: &[u8]) -> Result<LegacyRegistry, String> {
    let (crc, payload) = bytes
        .split_at_checked(4)
        .ok_or("shorter than its checksum")?;
    let stored = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
    if crc32c::crc32c(payload) != stored {
        return Err("checksum mismatch".into());
    }
    postcard::from_bytes(payload).map_err(|e| e.to_string())
}

/// The file's bytes for `topics`, as the old release wrote them (tests build old data
/// directories with it).
pub fn encode_legacy(topics: &BTreeMap<String, LegacyTopic>) -> Vec<u8> {
    let registry = LegacyRegistry {
        topics: topics.clone(),
    };
    let payload = postcard::to_stdvec(&registry).expect("registry encodes");
    let mut bytes = crc32c::crc32c(&payload).to_be_bytes().to_vec();
    bytes.extend(payload);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    #[test]
    fn an_old_registry_file_loads_and_a_damaged_one_is_corrupt() {
        let mem = MemStorage::new();
        assert_eq!(load_legacy(&mem).unwrap(), None);
        let topics = BTreeMap::from([(
            "t".to_string(),
            LegacyTopic {
                id: [3; 16],
                partitions: 2,
                replication_factor: 1,
                configs: BTreeMap::from([("retention.ms".into(), "5".into())]),
            },
        )]);
        let mut bytes = encode_legacy(&topics);
        mem.create_dir_all(Path::new(META_DIR)).unwrap();
        let write = |bytes: &[u8]| {
            let _ = mem.remove_file(&legacy_path());
            mem.open(&legacy_path(), true)
                .unwrap()
                .append(bytes)
                .unwrap();
        };
        write(&bytes);
        assert_eq!(load_legacy(&mem).unwrap(), Some(topics));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        write(&bytes);
        assert!(matches!(
            load_legacy(&mem),
            Err(TopicsError::Corrupt { .. })
        ));
    }
}
