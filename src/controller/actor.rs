//! The `TOPICS` actor: owns the [`TopicRegistry`] of this node and persists every change before
//! answering (write to a temporary file, fsync, rename, fsync the directory), so an acknowledged
//! CreateTopics survives `kill -9`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;

use super::topics::TopicRegistry;
use crate::actor::{Actor, Ctx, Input, NoTimer};
use crate::messages::{
    AddPartitionsRequest, AlterConfigsRequest, CreateTopicRequest, DeleteTopicRequest, NodeMsg,
    Refusal, TopicMeta, TopicsReply, TopicsRequest,
};
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

pub struct TopicsActor {
    storage: Arc<dyn Storage>,
    registry: TopicRegistry,
    /// Brokers that can hold replicas (replication factor bound). One node for now.
    brokers: i16,
}

impl TopicsActor {
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

    fn apply(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, NoTimer>,
        request: TopicsRequest,
    ) -> TopicsReply {
        match request {
            TopicsRequest::List => TopicsReply::List(self.registry.topics.clone()),
            TopicsRequest::Create(CreateTopicRequest {
                name,
                partitions,
                replication_factor,
                configs,
                validate_only,
            }) => {
                if let Err(refusal) = self.registry.check_create(
                    &name,
                    partitions,
                    replication_factor,
                    &configs,
                    self.brokers,
                ) {
                    return TopicsReply::Refused(refusal);
                }
                let mut id = [0u8; 16];
                ctx.rng.fill_bytes(&mut id);
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
                        return TopicsReply::Refused(refusal);
                    }
                }
                TopicsReply::Topic(meta)
            }
            TopicsRequest::Delete(DeleteTopicRequest { name }) => match self.registry.delete(&name)
            {
                Ok(meta) => match self.persist() {
                    Ok(()) => TopicsReply::Topic(meta),
                    Err(refusal) => {
                        self.registry.create(&name, meta);
                        TopicsReply::Refused(refusal)
                    }
                },
                Err(refusal) => TopicsReply::Refused(refusal),
            },
            TopicsRequest::AddPartitions(AddPartitionsRequest {
                name,
                total,
                validate_only,
            }) => {
                if let Err(refusal) = self.registry.check_add_partitions(&name, total) {
                    return TopicsReply::Refused(refusal);
                }
                let meta = self.registry.topics.get_mut(&name).expect("checked above");
                let before = meta.partitions;
                if !validate_only {
                    meta.partitions = total;
                }
                let meta = meta.clone();
                if !validate_only {
                    if let Err(refusal) = self.persist() {
                        self.registry
                            .topics
                            .get_mut(&name)
                            .expect("present")
                            .partitions = before;
                        return TopicsReply::Refused(refusal);
                    }
                }
                TopicsReply::Topic(meta)
            }
            TopicsRequest::AlterConfigs(AlterConfigsRequest {
                name,
                configs,
                validate_only,
            }) => self.alter_configs(&name, configs, validate_only),
        }
    }

    /// Replaces a topic's overrides and persists them; a failed write restores the old ones.
    fn alter_configs(
        &mut self,
        name: &str,
        configs: std::collections::BTreeMap<String, String>,
        validate_only: bool,
    ) -> TopicsReply {
        if let Err(refusal) = self.registry.check_alter_configs(name, &configs) {
            return TopicsReply::Refused(refusal);
        }
        if validate_only {
            let mut meta = self.registry.topics[name].clone();
            meta.configs = configs;
            return TopicsReply::Topic(meta);
        }
        let previous = self
            .registry
            .alter_configs(name, configs)
            .expect("checked above");
        if let Err(refusal) = self.persist() {
            self.registry.alter_configs(name, previous);
            return TopicsReply::Refused(refusal);
        }
        TopicsReply::Topic(self.registry.topics[name].clone())
    }
}

impl Actor<NodeMsg> for TopicsActor {
    type Timer = NoTimer;

    fn handle(&mut self, ctx: &mut Ctx<'_, NodeMsg, NoTimer>, input: Input<NodeMsg, NoTimer>) {
        match input {
            Input::Request {
                id,
                msg: NodeMsg::Topics(request),
                ..
            } => {
                let reply = self.apply(ctx, request);
                ctx.reply(id, NodeMsg::TopicsReply(reply));
            }
            Input::Request { id, msg, .. } => {
                let refusal = Refusal {
                    code: ErrorCode::INVALID_CONFIG,
                    message: format!("not a topics request: {msg:?}"),
                };
                ctx.reply(id, NodeMsg::TopicsReply(TopicsReply::Refused(refusal)));
            }
            Input::Start
            | Input::Msg { .. }
            | Input::Timer { .. }
            | Input::Synced { .. }
            | Input::Reply { .. }
            | Input::CallFailed { .. } => {}
        }
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
    use std::collections::BTreeMap;

    use rand::SeedableRng;

    use super::*;
    use crate::actor::{ActorId, Addr, Effect, NodeId, Now, Origin, Outbox, RequestId};
    use crate::storage::mem::MemStorage;

    fn call(actor: &mut TopicsActor, request: TopicsRequest) -> TopicsReply {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut outbox = Outbox::default();
        let me = Addr {
            node: NodeId(1),
            actor: ActorId(1),
        };
        let mut ctx = Ctx::new(
            Now {
                unix_ms: 0,
                mono_ms: 0,
            },
            me,
            &mut rng,
            &mut outbox,
        );
        actor.handle(
            &mut ctx,
            Input::Request {
                id: RequestId(0),
                from: Origin::Host,
                msg: NodeMsg::Topics(request),
            },
        );
        match outbox.take_effects().pop() {
            Some(Effect::Reply {
                msg: NodeMsg::TopicsReply(reply),
                ..
            }) => reply,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn create(name: &str, partitions: i32) -> TopicsRequest {
        TopicsRequest::Create(CreateTopicRequest {
            name: name.into(),
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
            validate_only: false,
        })
    }

    #[test]
    fn created_topics_survive_a_crash_and_deleted_ones_stay_deleted() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut actor = TopicsActor::open(storage.clone(), 1).unwrap();
        assert!(matches!(
            call(&mut actor, create("orders", 3)),
            TopicsReply::Topic(TopicMeta { partitions: 3, .. })
        ));
        assert!(matches!(
            call(&mut actor, create("gone", 1)),
            TopicsReply::Topic(_)
        ));
        assert!(matches!(
            call(
                &mut actor,
                TopicsRequest::Delete(DeleteTopicRequest {
                    name: "gone".into()
                })
            ),
            TopicsReply::Topic(_)
        ));
        let validate_only = TopicsRequest::Create(CreateTopicRequest {
            name: "dry".into(),
            partitions: 1,
            replication_factor: 1,
            configs: BTreeMap::new(),
            validate_only: true,
        });
        assert!(matches!(
            call(&mut actor, validate_only),
            TopicsReply::Topic(_)
        ));
        mem.crash();
        let mut reopened = TopicsActor::open(storage, 1).unwrap();
        let TopicsReply::List(topics) = call(&mut reopened, TopicsRequest::List) else {
            panic!()
        };
        assert_eq!(topics.keys().collect::<Vec<_>>(), ["orders"]);
        assert_eq!(topics["orders"].partitions, 3);
    }

    #[test]
    fn refusals_carry_kafka_codes_and_change_nothing() {
        let storage: Arc<dyn Storage> = Arc::new(MemStorage::new());
        let mut actor = TopicsActor::open(storage, 1).unwrap();
        call(&mut actor, create("t", 1));
        let TopicsReply::Refused(r) = call(&mut actor, create("t", 1)) else {
            panic!()
        };
        assert_eq!(r.code, ErrorCode::TOPIC_ALREADY_EXISTS);
        let TopicsReply::Refused(r) = call(&mut actor, create("bad name", 1)) else {
            panic!()
        };
        assert_eq!(r.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
        let grow = TopicsRequest::AddPartitions(AddPartitionsRequest {
            name: "t".into(),
            total: 4,
            validate_only: false,
        });
        assert!(matches!(
            call(&mut actor, grow),
            TopicsReply::Topic(TopicMeta { partitions: 4, .. })
        ));
        assert_eq!(actor.registry().topics["t"].partitions, 4);
    }

    #[test]
    fn altered_configs_survive_a_crash_and_validate_only_changes_nothing() {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let mut actor = TopicsActor::open(storage.clone(), 1).unwrap();
        call(&mut actor, create("t", 2));
        let alter = |configs: &[(&str, &str)], validate_only| {
            TopicsRequest::AlterConfigs(AlterConfigsRequest {
                name: "t".into(),
                configs: configs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                validate_only,
            })
        };
        let TopicsReply::Topic(dry) = call(&mut actor, alter(&[("segment.ms", "9")], true)) else {
            panic!()
        };
        assert_eq!(dry.configs["segment.ms"], "9");
        assert!(actor.registry().topics["t"].configs.is_empty());
        let TopicsReply::Topic(meta) = call(&mut actor, alter(&[("retention.ms", "7")], false))
        else {
            panic!()
        };
        assert_eq!(meta.partitions, 2);
        let TopicsReply::Refused(r) = call(&mut actor, alter(&[("bogus", "1")], false)) else {
            panic!()
        };
        assert_eq!(r.code, ErrorCode::INVALID_CONFIG);
        mem.crash();
        let reopened = TopicsActor::open(storage, 1).unwrap();
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
        let mut actor = TopicsActor::open(storage.clone(), 1).unwrap();
        call(&mut actor, create("t", 1));
        let file = storage.open(&path(TOPICS_FILE), false).unwrap();
        file.write_at(6, b"garbage").unwrap();
        let err = TopicsActor::open(storage, 1)
            .err()
            .expect("corrupt file refused");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
