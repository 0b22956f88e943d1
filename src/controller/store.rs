//! The topic registry of this node and its file: every change is persisted before it counts
//! (write to a temporary file, fsync, rename, fsync the directory), so an acknowledged
//! CreateTopics survives `kill -9`. A change whose write fails is undone and refused with
//! KAFKA_STORAGE_ERROR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::RngCore;

use super::topics::TopicRegistry;
use crate::messages::{NewTopic, Refusal, TopicChange, TopicMeta};
use crate::storage::Storage;
use crate::types::ErrorCode;

/// Where the registry lives, relative to the storage root. Not a legal `<topic>-<partition>`
/// directory name clash: partition directories always end in `-<number>`.
pub const META_DIR: &str = "__rill_meta";
const TOPICS_FILE: &str = "topics.bin";
const TOPICS_TMP_FILE: &str = "topics.bin.tmp";

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

/// The registry and where it is persisted.
pub struct TopicStore {
    storage: Arc<dyn Storage>,
    registry: TopicRegistry,
    /// Brokers that can hold replicas (replication factor bound). One node for now.
    brokers: i16,
}

impl TopicStore {
    /// Loads the persisted registry (none yet = empty).
    pub fn open(storage: Arc<dyn Storage>, brokers: i16) -> Result<Self, TopicsError> {
        let registry = load(storage.as_ref())?;
        Ok(Self {
            storage,
            registry,
            brokers,
        })
    }

    pub fn registry(&self) -> &TopicRegistry {
        &self.registry
    }

    fn persist(&self) -> Result<(), Refusal> {
        save(self.storage.as_ref(), &self.registry)
            .map_err(|e| Refusal::new(ErrorCode::KAFKA_STORAGE_ERROR, e.to_string()))
    }

    /// Registers a new topic with a fresh id (drawn even when `validate_only`, which registers
    /// nothing).
    pub fn create(
        &mut self,
        rng: &mut SmallRng,
        topic: NewTopic,
        validate_only: bool,
    ) -> TopicChange {
        let NewTopic {
            name,
            partitions,
            replication_factor,
            configs,
        } = topic;
        self.registry.check_create(
            &name,
            partitions,
            replication_factor,
            &configs,
            self.brokers,
        )?;
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let meta = TopicMeta {
            id,
            partitions,
            replication_factor,
            configs,
        };
        if !validate_only {
            self.registry.create(&name, meta.clone());
            if let Err(refusal) = self.persist() {
                self.registry.topics.remove(&name);
                return Err(refusal);
            }
        }
        Ok(meta)
    }

    pub fn delete(&mut self, name: &str) -> TopicChange {
        let meta = self.registry.delete(name)?;
        match self.persist() {
            Ok(()) => Ok(meta),
            Err(refusal) => {
                self.registry.create(name, meta);
                Err(refusal)
            }
        }
    }

    /// Grows `name` to `total` partitions.
    pub fn add_partitions(&mut self, name: &str, total: i32, validate_only: bool) -> TopicChange {
        self.registry.check_add_partitions(name, total)?;
        let meta = self.registry.topics.get_mut(name).expect("checked above");
        let before = meta.partitions;
        if !validate_only {
            meta.partitions = total;
        }
        let meta = meta.clone();
        if !validate_only {
            if let Err(refusal) = self.persist() {
                self.registry
                    .topics
                    .get_mut(name)
                    .expect("present")
                    .partitions = before;
                return Err(refusal);
            }
        }
        Ok(meta)
    }

    /// Replaces a topic's overrides and persists them; a failed write restores the old ones.
    pub fn alter_configs(
        &mut self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> TopicChange {
        self.registry.check_alter_configs(name, &configs)?;
        if validate_only {
            let mut meta = self.registry.topics[name].clone();
            meta.configs = configs;
            return Ok(meta);
        }
        let previous = self
            .registry
            .alter_configs(name, configs)
            .expect("checked above");
        if let Err(refusal) = self.persist() {
            self.registry.alter_configs(name, previous);
            return Err(refusal);
        }
        Ok(self.registry.topics[name].clone())
    }
}

fn path(name: &str) -> PathBuf {
    Path::new(META_DIR).join(name)
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> TopicsError + '_ {
    move |source| TopicsError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn load(storage: &dyn Storage) -> Result<TopicRegistry, TopicsError> {
    let file_path = path(TOPICS_FILE);
    if !storage.exists(&file_path) {
        return Ok(TopicRegistry::default());
    }
    let file = storage
        .open(&file_path, false)
        .map_err(io_err(&file_path))?;
    let len = file.len_bytes().map_err(io_err(&file_path))?;
    let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX).min(64 << 20)];
    crate::storage::read_exact_at(file.as_ref(), 0, &mut bytes).map_err(io_err(&file_path))?;
    decode(&bytes).map_err(|reason| TopicsError::Corrupt {
        path: file_path.display().to_string(),
        reason,
    })
}

/// File body: `[u32 BE crc32c of payload][postcard payload]`.
fn decode(bytes: &[u8]) -> Result<TopicRegistry, String> {
    let (crc, payload) = bytes
        .split_at_checked(4)
        .ok_or("shorter than its checksum")?;
    let stored = u32::from_be_bytes(crc.try_into().expect("4 bytes"));
    if crc32c::crc32c(payload) != stored {
        return Err("checksum mismatch".into());
    }
    postcard::from_bytes(payload).map_err(|e| e.to_string())
}

fn save(storage: &dyn Storage, registry: &TopicRegistry) -> Result<(), TopicsError> {
    let dir = Path::new(META_DIR);
    storage.create_dir_all(dir).map_err(io_err(dir))?;
    let payload = postcard::to_stdvec(registry).expect("registry encodes");
    let mut body = crc32c::crc32c(&payload).to_be_bytes().to_vec();
    body.extend_from_slice(&payload);
    let tmp = path(TOPICS_TMP_FILE);
    let file = storage.open(&tmp, true).map_err(io_err(&tmp))?;
    file.truncate(0).map_err(io_err(&tmp))?;
    file.append(&body).map_err(io_err(&tmp))?;
    file.sync().map_err(io_err(&tmp))?;
    let dest = path(TOPICS_FILE);
    storage.rename(&tmp, &dest).map_err(io_err(&dest))?;
    storage.sync_dir(dir).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::storage::mem::MemStorage;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(1)
    }

    fn topic(name: &str, partitions: i32) -> NewTopic {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn created_topics_survive_a_crash_and_deleted_ones_stay_deleted() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut store = TopicStore::open(storage.clone(), 1).unwrap();
        let mut rng = rng();
        let orders = store.create(&mut rng, topic("orders", 3), false).unwrap();
        assert_eq!(orders.partitions, 3);
        store.create(&mut rng, topic("gone", 1), false).unwrap();
        store.delete("gone").unwrap();
        store.create(&mut rng, topic("dry", 1), true).unwrap();
        mem.crash();
        let reopened = TopicStore::open(storage, 1).unwrap();
        let topics = &reopened.registry().topics;
        assert_eq!(topics.keys().collect::<Vec<_>>(), ["orders"]);
        assert_eq!(topics["orders"].partitions, 3);
    }

    #[test]
    fn refusals_carry_kafka_codes_and_change_nothing() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut store = TopicStore::open(storage, 1).unwrap();
        let mut rng = rng();
        store.create(&mut rng, topic("t", 1), false).unwrap();
        let r = store.create(&mut rng, topic("t", 1), false).unwrap_err();
        assert_eq!(r.code, ErrorCode::TOPIC_ALREADY_EXISTS);
        let r = store
            .create(&mut rng, topic("bad name", 1), false)
            .unwrap_err();
        assert_eq!(r.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
        let r = store.delete("nope").unwrap_err();
        assert_eq!(r.code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        let grown = store.add_partitions("t", 4, false).unwrap();
        assert_eq!(grown.partitions, 4);
        assert_eq!(store.registry().topics["t"].partitions, 4);
        let r = store.add_partitions("t", 4, false).unwrap_err();
        assert_eq!(r.code, ErrorCode::INVALID_PARTITIONS);
    }

    #[test]
    fn altered_configs_survive_a_crash_and_validate_only_changes_nothing() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut store = TopicStore::open(storage.clone(), 1).unwrap();
        store.create(&mut rng(), topic("t", 2), false).unwrap();
        let configs = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let dry = store
            .alter_configs("t", configs(&[("segment.ms", "9")]), true)
            .unwrap();
        assert_eq!(dry.configs["segment.ms"], "9");
        assert!(store.registry().topics["t"].configs.is_empty());
        let meta = store
            .alter_configs("t", configs(&[("retention.ms", "7")]), false)
            .unwrap();
        assert_eq!(meta.partitions, 2);
        let r = store
            .alter_configs("t", configs(&[("bogus", "1")]), false)
            .unwrap_err();
        assert_eq!(r.code, ErrorCode::INVALID_CONFIG);
        mem.crash();
        let reopened = TopicStore::open(storage, 1).unwrap();
        let configs = &reopened.registry().topics["t"].configs;
        assert_eq!(
            configs.iter().collect::<Vec<_>>(),
            [(&"retention.ms".to_string(), &"7".to_string())]
        );
    }

    #[test]
    fn a_corrupt_metadata_file_is_a_clear_error() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut store = TopicStore::open(storage.clone(), 1).unwrap();
        store.create(&mut rng(), topic("t", 1), false).unwrap();
        let file = storage.open(&path(TOPICS_FILE), false).unwrap();
        file.write_at(6, b"garbage").unwrap();
        let err = TopicStore::open(storage, 1)
            .err()
            .expect("corrupt file refused");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
