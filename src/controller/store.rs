//! The topic registry of this node and its file. A change counts only once its file is durable:
//! a change is checked and *staged*, [`TopicStore::write`] gives the persist job that replaces
//! the file (temporary file, fsync, rename, fsync the directory; the host runs it off the
//! actor), and [`TopicStore::written`] commits the staged registry when the job succeeded or
//! drops it when it failed (the change is then refused with KAFKA_STORAGE_ERROR). So an
//! acknowledged CreateTopics survives `kill -9`, and what [`TopicStore::registry`] shows (List,
//! Metadata) is always on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::RngCore;

use super::topics::{unknown_topic, TopicRegistry};
use crate::messages::{NewTopic, Refusal, TopicChange, TopicMeta};
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::Storage;
use crate::types::ErrorCode;

/// Where the registry lives, relative to the storage root. Not a legal `<topic>-<partition>`
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

/// The registry and where it is persisted.
pub struct TopicStore {
    storage: Arc<dyn Storage>,
    /// What is on disk: the registry every answer shows.
    registry: TopicRegistry,
    /// A change checked and applied to a copy of the registry, waiting for its write. Topic
    /// administration runs one operation at a time and waits for each write, so there is at
    /// most one; checks read it first, so a second change would build on the first.
    staged: Option<TopicRegistry>,
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
            staged: None,
            brokers,
        })
    }

    /// The committed registry: every change in it is durable.
    /// Brokers that can hold replicas: the bound on a replication factor.
    pub fn brokers(&self) -> i16 {
        self.brokers
    }

    pub fn registry(&self) -> &TopicRegistry {
        &self.registry
    }

    /// The registry changes are checked against: the staged one, else the committed one.
    fn latest(&self) -> &TopicRegistry {
        self.staged.as_ref().unwrap_or(&self.registry)
    }

    /// The registry to change: a copy of the committed one, staged until it is written.
    fn stage(&mut self) -> &mut TopicRegistry {
        self.staged.get_or_insert_with(|| self.registry.clone())
    }

    /// Whether a change waits for [`TopicStore::write`] and [`TopicStore::written`].
    pub fn has_staged(&self) -> bool {
        self.staged.is_some()
    }

    /// The job that makes the staged registry durable (replaces the registry file). Its
    /// outcome goes to [`TopicStore::written`]. Creating the directory is a metadata call,
    /// not a sync; if even that fails, the change is dropped and refused here.
    pub fn write(&mut self) -> Result<PersistJob, Refusal> {
        let dir = Path::new(META_DIR);
        if let Err(e) = self.storage.create_dir_all(dir) {
            self.staged = None;
            return Err(storage_error(dir, e));
        }
        let op = PersistOp::ReplaceFile {
            path: path(TOPICS_FILE),
            bytes: encode(self.latest()),
            fence: None,
        };
        Ok(PersistJob::new(self.storage.clone(), vec![op]))
    }

    /// The outcome of the job [`TopicStore::write`] gave: the staged change is committed, or
    /// dropped (the registry is as it was) and refused with KAFKA_STORAGE_ERROR.
    pub fn written(&mut self, result: Result<(), String>) -> Result<(), Refusal> {
        let staged = self.staged.take();
        match result {
            Ok(()) => {
                if let Some(staged) = staged {
                    self.registry = staged;
                }
                Ok(())
            }
            Err(e) => Err(Refusal::new(
                ErrorCode::KAFKA_STORAGE_ERROR,
                format!("topic metadata I/O on {}: {e}", path(TOPICS_FILE).display()),
            )),
        }
    }

    /// Registers a new topic with a fresh id (drawn even when `validate_only`, which registers
    /// nothing); staged unless `validate_only`.
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
        self.latest().check_create(
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
            self.stage().create(&name, meta.clone());
        }
        Ok(meta)
    }

    /// Unregisters `name` (staged).
    pub fn delete(&mut self, name: &str) -> TopicChange {
        if !self.latest().topics.contains_key(name) {
            return Err(unknown_topic(name));
        }
        self.stage().delete(name)
    }

    /// Grows `name` to `total` partitions; staged unless `validate_only`.
    pub fn add_partitions(&mut self, name: &str, total: i32, validate_only: bool) -> TopicChange {
        self.latest().check_add_partitions(name, total)?;
        let mut meta = self.latest().topics[name].clone();
        meta.partitions = total;
        if !validate_only {
            self.stage().topics.insert(name.to_string(), meta.clone());
        }
        Ok(meta)
    }

    /// Replaces a topic's overrides; staged unless `validate_only`.
    pub fn alter_configs(
        &mut self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> TopicChange {
        self.latest().check_alter_configs(name, &configs)?;
        if validate_only {
            let mut meta = self.latest().topics[name].clone();
            meta.configs = configs;
            return Ok(meta);
        }
        let registry = self.stage();
        registry.alter_configs(name, configs);
        Ok(registry.topics[name].clone())
    }
}

fn storage_error(path: &Path, e: std::io::Error) -> Refusal {
    Refusal::new(ErrorCode::KAFKA_STORAGE_ERROR, io_err(path)(e).to_string())
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

/// Reads what [`encode`] wrote.
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

/// File body: `[u32 BE crc32c of payload][postcard payload]`.
fn encode(registry: &TopicRegistry) -> Vec<u8> {
    let payload = postcard::to_stdvec(registry).expect("registry encodes");
    let mut body = crc32c::crc32c(&payload).to_be_bytes().to_vec();
    body.extend_from_slice(&payload);
    body
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

    /// Writes the staged change as the host would (running its job) and commits it.
    fn commit(store: &mut TopicStore, change: TopicChange) -> TopicChange {
        let value = change?;
        let job = store.write()?;
        store.written(job.run().map_err(|e| e.to_string()))?;
        Ok(value)
    }

    #[test]
    fn created_topics_survive_a_crash_and_deleted_ones_stay_deleted() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut store = TopicStore::open(storage.clone(), 1).unwrap();
        let mut rng = rng();
        let change = store.create(&mut rng, topic("orders", 3), false);
        let orders = commit(&mut store, change).unwrap();
        assert_eq!(orders.partitions, 3);
        let change = store.create(&mut rng, topic("gone", 1), false);
        commit(&mut store, change).unwrap();
        let change = store.delete("gone");
        commit(&mut store, change).unwrap();
        store.create(&mut rng, topic("dry", 1), true).unwrap();
        assert!(!store.has_staged(), "validate_only stages nothing");
        mem.crash();
        let reopened = TopicStore::open(storage, 1).unwrap();
        let topics = &reopened.registry().topics;
        assert_eq!(topics.keys().collect::<Vec<_>>(), ["orders"]);
        assert_eq!(topics["orders"].partitions, 3);
    }

    #[test]
    fn a_change_counts_only_once_its_write_succeeded() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut store = TopicStore::open(storage.clone(), 1).unwrap();
        store.create(&mut rng(), topic("t", 1), false).unwrap();
        assert!(store.registry().topics.is_empty(), "staged, not committed");
        let job = store.write().unwrap();
        assert!(
            matches!(job.ops(), [PersistOp::ReplaceFile { path: p, .. }] if p == &path(TOPICS_FILE))
        );
        // A failed write drops the change: nothing committed, and the next change is built
        // on the committed registry (without "t").
        let refusal = store.written(Err("disk full".into())).unwrap_err();
        assert_eq!(refusal.code, ErrorCode::KAFKA_STORAGE_ERROR);
        assert!(refusal.message.contains("disk full"), "{}", refusal.message);
        assert!(store.registry().topics.is_empty() && !store.has_staged());
        let change = store.create(&mut rng(), topic("u", 1), false);
        commit(&mut store, change).unwrap();
        // The stale job of the failed write never ran; the registry file holds only "u".
        mem.crash();
        let reopened = TopicStore::open(storage, 1).unwrap();
        assert_eq!(reopened.registry().topics.keys().collect::<Vec<_>>(), ["u"]);
    }

    #[test]
    fn refusals_carry_kafka_codes_and_change_nothing() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut store = TopicStore::open(storage, 1).unwrap();
        let mut rng = rng();
        let change = store.create(&mut rng, topic("t", 1), false);
        commit(&mut store, change).unwrap();
        let r = store.create(&mut rng, topic("t", 1), false).unwrap_err();
        assert_eq!(r.code, ErrorCode::TOPIC_ALREADY_EXISTS);
        let r = store
            .create(&mut rng, topic("bad name", 1), false)
            .unwrap_err();
        assert_eq!(r.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
        let r = store.delete("nope").unwrap_err();
        assert_eq!(r.code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        assert!(!store.has_staged());
        let change = store.add_partitions("t", 4, false);
        let grown = commit(&mut store, change).unwrap();
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
        let change = store.create(&mut rng(), topic("t", 2), false);
        commit(&mut store, change).unwrap();
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
        assert!(!store.has_staged());
        let change = store.alter_configs("t", configs(&[("retention.ms", "7")]), false);
        let meta = commit(&mut store, change).unwrap();
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
        let change = store.create(&mut rng(), topic("t", 1), false);
        commit(&mut store, change).unwrap();
        let file = storage.open(&path(TOPICS_FILE), false).unwrap();
        file.write_at(6, b"garbage").unwrap();
        let err = TopicStore::open(storage, 1)
            .err()
            .expect("corrupt file refused");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
