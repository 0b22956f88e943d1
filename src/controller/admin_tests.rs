//! [`Admin`] driven by hand: every partitions answer and registry-write completion is fed in by
//! the test, so the order of calls and replies is exactly what the topics actor would emit,
//! with no runtime. Every handler call runs with `MemStorage::forbid_sync` on: a handler that
//! waited for the disk would panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::SeedableRng;

use super::*;
use crate::actor::{ActorId, Effect, Outbox};
use crate::messages::{
    AutoCreateRequest, InternalTopic, PartitionsRequest, TopicsRequest, OFFSETS_TOPIC,
};
use crate::storage::mem::MemStorage;
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::Storage;

const ME: Addr = Addr {
    node: NodeId(1),
    actor: ActorId(1),
};

struct Harness {
    admin: Admin,
    store: TopicStore,
    mem: MemStorage,
    storage: Arc<dyn Storage>,
    /// Run every registry write as soon as it is asked for (the host's part) and feed its
    /// completion back; off, [`Harness::seen`] shows the writes instead.
    auto_write: bool,
    settings: AdminSettings,
    rng: SmallRng,
    outbox: Outbox<NodeMsg, NoTimer>,
    next_request: u64,
    /// Seen but not looked at yet (what followed a reply [`Harness::answer_all_done`] took).
    backlog: Vec<Seen>,
}

/// One effect the admin recorded, in the terms the tests check.
#[derive(Debug)]
enum Seen {
    Call(CallId, PartitionsRequest),
    Reply(RequestId, TopicsReply),
    Write(u64, PersistJob),
}

impl Harness {
    fn new() -> Self {
        let mem = MemStorage::new();
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        Self {
            admin: Admin::default(),
            store: TopicStore::open(storage.clone(), 1).unwrap(),
            mem,
            storage,
            auto_write: true,
            settings: AdminSettings {
                node_id: NodeId(1),
                log: LogConfig::default(),
                num_partitions: 1,
                default_replication_factor: 1,
                offsets_topic: InternalTopicSpec {
                    partitions: 1,
                    replication_factor: 1,
                    configs: BTreeMap::new(),
                },
            },
            rng: SmallRng::seed_from_u64(7),
            outbox: Outbox::default(),
            next_request: 0,
            backlog: Vec::new(),
        }
    }

    /// Registers `name` directly (no logs asked for).
    fn with_topic(mut self, name: &str, partitions: i32) -> Self {
        let topic = NewTopic {
            name: name.into(),
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
        };
        self.store.create(&mut self.rng, topic, false).unwrap();
        let job = self.store.write().unwrap();
        self.store.written(run(&job)).unwrap();
        self
    }

    /// Runs one admin handler as the actor would: with every fsync forbidden.
    fn handle(
        &mut self,
        f: impl FnOnce(&mut Admin, &mut Ctx<'_, NodeMsg, NoTimer>, &mut TopicStore, &AdminSettings),
    ) {
        let mut ctx = Ctx::new(now(), ME, &mut self.rng, &mut self.outbox);
        self.mem.forbid_sync(true);
        f(&mut self.admin, &mut ctx, &mut self.store, &self.settings);
        self.mem.forbid_sync(false);
    }

    fn submit(&mut self, op: AdminOp) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.handle(|admin, ctx, store, settings| admin.submit(ctx, store, settings, id, op));
        id
    }

    fn answer(&mut self, call: CallId, answer: Answer) {
        self.handle(|admin, ctx, store, settings| {
            admin.answered(ctx, store, settings, call, answer)
        });
    }

    /// Feeds the completion of the registry write `token`.
    fn written(&mut self, token: u64, result: Result<(), String>) {
        self.handle(|admin, ctx, store, settings| {
            admin.written(ctx, store, settings, token, result)
        });
    }

    /// The one thing recorded since the last look: a registry write (with `auto_write` off).
    fn write(&mut self) -> (u64, PersistJob) {
        match self.seen().as_slice() {
            [Seen::Write(token, job)] => (*token, job.clone()),
            other => panic!("expected one registry write, got {other:?}"),
        }
    }

    /// Everything recorded since the last look (registry writes run and completed on the way
    /// when `auto_write` is on).
    fn seen(&mut self) -> Vec<Seen> {
        let mut seen = std::mem::take(&mut self.backlog);
        loop {
            let mut writes = Vec::new();
            for effect in self.recorded() {
                match effect {
                    Seen::Write(token, job) if self.auto_write => writes.push((token, job)),
                    other => seen.push(other),
                }
            }
            if writes.is_empty() {
                return seen;
            }
            for (token, job) in writes {
                let result = run(&job);
                self.written(token, result);
            }
        }
    }

    fn recorded(&mut self) -> Vec<Seen> {
        self.outbox
            .take_effects()
            .into_iter()
            .map(|effect| match effect {
                Effect::Call {
                    to,
                    call,
                    msg: NodeMsg::Partitions(request),
                    timeout_ms,
                } => {
                    assert_eq!(to.actor, PARTITIONS);
                    assert_eq!(timeout_ms, PARTITION_ADMIN_CALL_TIMEOUT_MS);
                    Seen::Call(call, request)
                }
                Effect::Reply {
                    id,
                    msg: NodeMsg::TopicsReply(reply),
                } => Seen::Reply(id, reply),
                Effect::Persist { token, job } => Seen::Write(token, job),
                other => panic!("unexpected effect {other:?}"),
            })
            .collect()
    }

    /// The one thing recorded since the last look: a call to the partitions actor.
    fn call(&mut self) -> (CallId, PartitionsRequest) {
        match self.seen().as_mut_slice() {
            [Seen::Call(call, request)] => (
                *call,
                std::mem::replace(request, PartitionsRequest::Shutdown),
            ),
            other => panic!("expected one call, got {other:?}"),
        }
    }

    /// Answers every call with "done" until the running operation replies; the requests asked.
    fn answer_all_done(&mut self) -> (Vec<PartitionsRequest>, RequestId, TopicsReply) {
        let mut asked = Vec::new();
        loop {
            let mut seen = self.seen().into_iter();
            match seen.next() {
                Some(Seen::Call(call, request)) => {
                    assert!(seen.next().is_none(), "one call at a time");
                    asked.push(request);
                    self.answer(call, Ok(done(ErrorCode::NONE)));
                }
                Some(Seen::Reply(id, reply)) => {
                    self.backlog = seen.collect();
                    return (asked, id, reply);
                }
                Some(write @ Seen::Write(..)) => panic!("a write with auto_write off: {write:?}"),
                None => panic!("nothing asked and no reply"),
            }
        }
    }
}

/// Runs a registry write as the host does (fsyncs allowed), with the completion's result.
fn run(job: &PersistJob) -> Result<(), String> {
    job.run().map_err(|e| e.to_string())
}

fn now() -> crate::actor::Now {
    crate::actor::Now {
        unix_ms: 0,
        mono_ms: 0,
    }
}

fn done(code: ErrorCode) -> NodeMsg {
    let outcome = if code == ErrorCode::NONE {
        Ok(())
    } else {
        Err(Refusal::new(code, "disk says no"))
    };
    NodeMsg::PartitionsReply(crate::messages::PartitionsReply::Done(Done::from(outcome)))
}

fn new_topic(name: &str, partitions: i32) -> NewTopic {
    NewTopic {
        name: name.into(),
        partitions,
        replication_factor: 1,
        configs: BTreeMap::new(),
    }
}

fn create(name: &str, partitions: i32) -> AdminOp {
    AdminOp::CreateTopics(CreateTopicsRequest {
        topics: vec![new_topic(name, partitions)],
        validate_only: false,
    })
}

fn delete(name: &str) -> AdminOp {
    AdminOp::DeleteTopics(DeleteTopicsRequest {
        topics: vec![TopicRef::Name(name.into())],
    })
}

fn set(key: &str, value: &str) -> AdminOp {
    AdminOp::AlterConfigs(AlterConfigsRequest {
        topics: vec![(
            "t".into(),
            ConfigChange::Incremental(vec![(key.into(), 0, Some(value.into()))]),
        )],
        validate_only: false,
    })
}

/// The partition a partitions request names, and what it asks.
fn asked(request: &PartitionsRequest) -> (&'static str, i32) {
    match request {
        PartitionsRequest::Ensure(r) => ("ensure", r.tp.partition),
        PartitionsRequest::Delete(r) => ("delete", r.tp.partition),
        PartitionsRequest::SetConfig(r) => ("set-config", r.tp.partition),
        other => panic!("not an administration request: {other:?}"),
    }
}

#[test]
fn a_re_create_waits_for_the_delete_it_follows_to_finish_its_partitions() {
    let mut h = Harness::new().with_topic("t", 2);
    let deleting = h.submit(delete("t"));
    let (first, request) = h.call();
    assert_eq!(asked(&request), ("delete", 0));
    // The re-create arrives while the delete waits for its first partition: it only queues.
    let creating = h.submit(create("t", 1));
    assert!(h.seen().is_empty());
    assert_eq!(h.admin.pending(), 2);
    h.answer(first, Ok(done(ErrorCode::NONE)));
    let (second, request) = h.call();
    assert_eq!(asked(&request), ("delete", 1));
    assert!(h.store.registry().topics.is_empty());
    h.answer(second, Ok(done(ErrorCode::NONE)));
    // The delete's last partition answered: it replies, and only then the create starts.
    let mut seen = h.seen().into_iter();
    match seen.next() {
        Some(Seen::Reply(id, TopicsReply::Deleted(deleted))) => {
            assert_eq!(id, deleting);
            assert_eq!(deleted[0].name.as_deref(), Some("t"));
            assert_eq!(deleted[0].outcome.as_ref().unwrap().partitions, 2);
        }
        other => panic!("expected the delete's reply first, got {other:?}"),
    }
    let Some(Seen::Call(ensure, request)) = seen.next() else {
        panic!("expected the create to open its log")
    };
    assert_eq!(asked(&request), ("ensure", 0));
    assert_eq!(h.store.registry().topics["t"].partitions, 1);
    h.answer(ensure, Ok(done(ErrorCode::NONE)));
    match h.seen().as_slice() {
        [Seen::Reply(id, TopicsReply::Created(created))] => {
            assert_eq!(*id, creating);
            assert_eq!(created[0].as_ref().unwrap().partitions, 1);
        }
        other => panic!("expected the create's reply, got {other:?}"),
    }
    assert_eq!(h.admin.pending(), 0);
}

#[test]
fn a_log_that_cannot_open_rolls_the_creation_back_with_kafka_storage_error() {
    let mut h = Harness::new();
    h.submit(create("t", 2));
    let (call, request) = h.call();
    assert_eq!(asked(&request), ("ensure", 0));
    h.answer(call, Ok(done(ErrorCode::KAFKA_STORAGE_ERROR)));
    // Opening goes on (the other logs are asked for), then every log is deleted again.
    let (asked_after, _, reply) = h.answer_all_done();
    let asked_after: Vec<_> = asked_after.iter().map(asked).collect();
    assert_eq!(asked_after, [("ensure", 1), ("delete", 0), ("delete", 1)]);
    let TopicsReply::Created(created) = reply else {
        panic!("{reply:?}")
    };
    let refusal = created[0].as_ref().unwrap_err();
    assert_eq!(refusal.code, ErrorCode::KAFKA_STORAGE_ERROR);
    assert_eq!(
        refusal.message,
        "cannot create the topic's logs: partition 0: partition request failed with error 56: disk says no"
    );
    assert!(h.store.registry().topics.is_empty());
    // Unregistered on disk too.
    let reopened = TopicStore::open(h.storage.clone(), 1).unwrap();
    assert!(reopened.registry().topics.is_empty());
}

#[test]
fn a_call_that_gets_no_answer_counts_as_a_failed_partition() {
    let mut h = Harness::new();
    h.submit(AdminOp::AutoCreate("auto".into()));
    let (call, request) = h.call();
    assert_eq!(asked(&request), ("ensure", 0));
    h.answer(call, Err(CallFailure::TimedOut));
    let (rest, _, reply) = h.answer_all_done();
    assert_eq!(rest.iter().map(asked).collect::<Vec<_>>(), [("delete", 0)]);
    assert!(matches!(reply, TopicsReply::AutoCreated(None)), "{reply:?}");
    assert!(h.store.registry().topics.is_empty());

    // A delete whose partition is unreachable fails the request as a whole.
    let mut h = Harness::new().with_topic("t", 1);
    h.submit(delete("t"));
    let (call, _) = h.call();
    h.answer(call, Err(CallFailure::Unreachable));
    match h.seen().as_slice() {
        [Seen::Reply(_, TopicsReply::Failed(reason))] => {
            assert!(reason.contains("Unreachable"), "{reason}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // A stale answer (to a call that already failed) changes nothing.
    h.answer(call, Ok(done(ErrorCode::NONE)));
    assert!(h.seen().is_empty());
}

#[test]
fn an_alteration_starts_from_the_overrides_the_one_before_it_left() {
    let mut h = Harness::new().with_topic("t", 1);
    h.submit(set("retention.ms", "5"));
    h.submit(set("segment.bytes", "1048576"));
    let (first, request) = h.call();
    assert_eq!(asked(&request), ("set-config", 0));
    // The second alteration has not read the overrides yet: it waits behind the first.
    assert_eq!(h.store.registry().topics["t"].configs.len(), 1);
    h.answer(first, Ok(done(ErrorCode::NONE)));
    let mut seen = h.seen().into_iter();
    assert!(
        matches!(seen.next(), Some(Seen::Reply(RequestId(0), TopicsReply::ConfigsAltered(ref r))) if r == &[Ok(())])
    );
    let Some(Seen::Call(second, request)) = seen.next() else {
        panic!("expected the second alteration's partition request")
    };
    let PartitionsRequest::SetConfig(set_config) = request else {
        panic!("{request:?}")
    };
    // The partition gets both changes: the first one's retention and the second's segments.
    assert_eq!(set_config.config.retention_ms, Some(5));
    assert_eq!(set_config.config.segment_bytes, 1_048_576);
    h.answer(second, Ok(done(ErrorCode::NONE)));
    let configs = &h.store.registry().topics["t"].configs;
    assert_eq!(
        configs.keys().map(String::as_str).collect::<Vec<_>>(),
        ["retention.ms", "segment.bytes"]
    );
}

#[test]
fn a_partition_refusing_its_config_is_answered_with_its_code() {
    let mut h = Harness::new().with_topic("t", 2);
    h.submit(set("retention.ms", "5"));
    let (call, _) = h.call();
    h.answer(call, Ok(done(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)));
    // Reconfiguring stops at the first refusal (partition 1 is not asked).
    match h.seen().as_slice() {
        [Seen::Reply(_, TopicsReply::ConfigsAltered(outcomes))] => {
            let refusal = outcomes[0].as_ref().unwrap_err();
            assert_eq!(refusal.code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            assert_eq!(
                refusal.message,
                "configs saved, but partition 0 could not apply them: disk says no"
            );
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}

#[test]
fn open_all_opens_every_registered_partition_and_counts_the_failed_topics() {
    let mut h = Harness::new().with_topic("a", 2).with_topic("b", 1);
    h.submit(AdminOp::OpenAll);
    let (call, request) = h.call();
    assert_eq!(asked(&request), ("ensure", 0));
    h.answer(call, Ok(done(ErrorCode::KAFKA_STORAGE_ERROR)));
    let (rest, _, reply) = h.answer_all_done();
    assert_eq!(rest.len(), 2, "a-1 and b-0 are still opened");
    assert_eq!(
        reply_report(reply),
        OpenAllReport {
            topics: 2,
            partitions: 3,
            topics_with_offline_partitions: 1,
        }
    );
    // A failed open leaves the registry alone: the partition is retried when used.
    assert_eq!(h.store.registry().topics.len(), 2);
}

fn reply_report(reply: TopicsReply) -> OpenAllReport {
    match reply {
        TopicsReply::Opened(report) => report,
        other => panic!("{other:?}"),
    }
}

#[test]
fn growth_and_deletion_by_id_follow_the_registry_as_each_operation_starts() {
    let mut h = Harness::new().with_topic("t", 1);
    let id = h.store.registry().topics["t"].id;
    let grow = AdminOp::CreatePartitions(CreatePartitionsRequest {
        topics: vec![Growth {
            name: "t".into(),
            count: 2,
            assignments: None,
        }],
        validate_only: false,
    });
    h.submit(grow);
    // Queued behind the growth; resolved when it starts, so it finds the grown topic.
    h.submit(AdminOp::DeleteTopics(DeleteTopicsRequest {
        topics: vec![TopicRef::Id(id), TopicRef::Id([9; 16])],
    }));
    let (grown, _, reply) = h.answer_all_done();
    assert_eq!(
        grown.iter().map(asked).collect::<Vec<_>>(),
        [("ensure", 0), ("ensure", 1)]
    );
    assert!(matches!(reply, TopicsReply::PartitionsCreated(ref r) if r == &[Ok(())]));
    let (deleted, _, reply) = h.answer_all_done();
    assert_eq!(deleted.len(), 2);
    let TopicsReply::Deleted(deletions) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(deletions[0].name.as_deref(), Some("t"));
    assert_eq!(deletions[1].name, None);
    assert_eq!(
        deletions[1].outcome.as_ref().unwrap_err().code,
        ErrorCode::UNKNOWN_TOPIC_ID
    );
}

/// A topics actor over `mem`, with the harness's settings.
fn open_actor(mem: &MemStorage) -> super::super::actor::TopicsActor {
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    super::super::actor::TopicsActor::open(storage, 1, Harness::new().settings).unwrap()
}

/// The actor hands every administration request to [`Admin`] and answers List at once, even
/// while an administration waits, from the committed registry: a topic shows only once its
/// registry write completed.
#[test]
fn the_actor_answers_list_from_the_committed_registry_while_an_administration_waits() {
    use crate::actor::{Actor, Input, Origin};
    let mem = MemStorage::new();
    let mut actor = open_actor(&mem);
    let mut rng = SmallRng::seed_from_u64(1);
    let mut outbox = Outbox::default();
    let mut handle = |actor: &mut super::super::actor::TopicsActor, input| {
        let mut ctx = Ctx::new(now(), ME, &mut rng, &mut outbox);
        mem.forbid_sync(true);
        actor.handle(&mut ctx, input);
        mem.forbid_sync(false);
        outbox.take_effects()
    };
    let request = |id, msg| Input::Request {
        id: RequestId(id),
        from: Origin::Host,
        msg: NodeMsg::Topics(msg),
    };
    let listed = |effects: Vec<Effect<NodeMsg, NoTimer>>| match effects.as_slice() {
        [Effect::Reply {
            msg: NodeMsg::TopicsReply(TopicsReply::List(topics)),
            ..
        }] => topics.keys().cloned().collect::<Vec<_>>(),
        other => panic!("expected the list, got {other:?}"),
    };
    let auto = TopicsRequest::AutoCreate(AutoCreateRequest { name: "a".into() });
    let effects = handle(&mut actor, request(1, auto));
    let [Effect::Persist { token, job }] = effects.as_slice() else {
        panic!("expected the registry write, got {effects:?}")
    };
    let (token, job) = (*token, job.clone());
    assert!(
        listed(handle(&mut actor, request(2, TopicsRequest::List))).is_empty(),
        "not listed before its write completed"
    );
    let result = run(&job);
    let effects = handle(&mut actor, Input::Synced { token, result });
    assert!(
        matches!(effects.as_slice(), [Effect::Call { .. }]),
        "{effects:?}"
    );
    assert_eq!(
        listed(handle(&mut actor, request(3, TopicsRequest::List))),
        ["a"],
        "listed while its logs are being opened"
    );
}

fn ensure_offsets() -> AdminOp {
    AdminOp::EnsureInternal(InternalTopic::ConsumerOffsets)
}

/// A harness whose `__consumer_offsets` spec differs from the broker defaults in every field.
fn with_offsets_spec() -> Harness {
    let mut h = Harness::new();
    h.settings.offsets_topic = InternalTopicSpec {
        partitions: 3,
        // More than the one broker there is: creation takes one.
        replication_factor: 3,
        configs: BTreeMap::from([("retention.ms".to_owned(), "-1".to_owned())]),
    };
    h
}

fn created_one(reply: TopicsReply) -> TopicChange {
    match reply {
        TopicsReply::Created(mut changes) if changes.len() == 1 => changes.remove(0),
        other => panic!("expected one creation, got {other:?}"),
    }
}

#[test]
fn ensure_internal_creates_the_offsets_topic_with_its_spec_and_an_existing_one_is_the_answer() {
    let mut h = with_offsets_spec();
    h.submit(ensure_offsets());
    let (asked_for, _, reply) = h.answer_all_done();
    let meta = created_one(reply).expect("created");
    assert_eq!((meta.partitions, meta.replication_factor), (3, 1));
    assert_eq!(meta.configs, h.settings.offsets_topic.configs);
    let opened: Vec<_> = asked_for.iter().map(asked).collect();
    assert_eq!(opened, [("ensure", 0), ("ensure", 1), ("ensure", 2)]);
    match &asked_for[0] {
        PartitionsRequest::Ensure(r) => {
            assert_eq!(r.tp.topic, OFFSETS_TOPIC);
            assert_eq!(
                r.config.retention_ms, None,
                "kept forever, not the 7-day default"
            );
        }
        other => panic!("{other:?}"),
    }
    // Again: the existing topic is the answer, and no log is asked for.
    h.submit(ensure_offsets());
    match h.seen().as_mut_slice() {
        [Seen::Reply(_, reply)] => {
            let reply = std::mem::replace(reply, TopicsReply::Created(Vec::new()));
            assert_eq!(created_one(reply), Ok(meta));
        }
        other => panic!("expected the answer at once, got {other:?}"),
    }
}

#[test]
fn metadata_auto_creation_of_the_offsets_topic_takes_its_spec_not_the_broker_defaults() {
    let mut h = with_offsets_spec();
    h.submit(AdminOp::AutoCreate(OFFSETS_TOPIC.to_owned()));
    let (asked_for, _, reply) = h.answer_all_done();
    assert_eq!(asked_for.len(), 3);
    match reply {
        TopicsReply::AutoCreated(Some(meta)) => {
            assert_eq!(meta.partitions, 3);
            assert_eq!(meta.configs, h.settings.offsets_topic.configs);
        }
        other => panic!("expected the created topic, got {other:?}"),
    }
}

#[test]
fn clients_may_not_create_delete_or_grow_the_offsets_topic() {
    let mut h = with_offsets_spec();
    h.submit(create(OFFSETS_TOPIC, 1));
    let (asked_for, _, reply) = h.answer_all_done();
    assert!(asked_for.is_empty());
    let refused = created_one(reply).expect_err("refused");
    assert_eq!(refused.code, ErrorCode::INVALID_REQUEST);
    assert!(h.store.registry().topics.is_empty());

    h.submit(ensure_offsets());
    let (_, _, reply) = h.answer_all_done();
    let meta = created_one(reply).expect("created by the broker");

    h.submit(delete(OFFSETS_TOPIC));
    let (asked_for, _, reply) = h.answer_all_done();
    assert!(asked_for.is_empty());
    match reply {
        TopicsReply::Deleted(deletions) => {
            let refusal = deletions[0].outcome.as_ref().expect_err("refused");
            assert_eq!(refusal.code, ErrorCode::INVALID_REQUEST);
        }
        other => panic!("{other:?}"),
    }
    h.submit(grow(OFFSETS_TOPIC, 5));
    let (asked_for, _, reply) = h.answer_all_done();
    assert!(asked_for.is_empty());
    match reply {
        TopicsReply::PartitionsCreated(outcomes) => {
            let refusal = outcomes[0].as_ref().expect_err("refused");
            assert_eq!(refusal.code, ErrorCode::INVALID_REQUEST);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.store.registry().topics.get(OFFSETS_TOPIC), Some(&meta));
}

fn grow(name: &str, count: i32) -> AdminOp {
    AdminOp::CreatePartitions(CreatePartitionsRequest {
        topics: vec![Growth {
            name: name.into(),
            count,
            assignments: None,
        }],
        validate_only: false,
    })
}

/// A harness that shows registry writes instead of running them, with topic "t" (2 partitions).
fn manual() -> Harness {
    let mut h = Harness::new().with_topic("t", 2);
    h.auto_write = false;
    h
}

#[test]
fn a_creation_is_answered_only_after_its_registry_write_and_a_crash_before_it_forgets_it() {
    let mut h = manual();
    let creating = h.submit(create("new", 1));
    let (token, job) = h.write();
    // One atomic replacement of the registry file, nothing answered, no log opened, nothing
    // committed yet.
    assert!(
        matches!(job.ops(), [PersistOp::ReplaceFile { path, .. }] if path.ends_with("topics.bin"))
    );
    assert!(!h.store.registry().topics.contains_key("new"));
    // The job runs; its completion lets the creation go on to the logs, then answer.
    h.written(token, run(&job));
    let (call, request) = h.call();
    assert_eq!(asked(&request), ("ensure", 0));
    assert!(h.store.registry().topics.contains_key("new"));
    h.answer(call, Ok(done(ErrorCode::NONE)));
    match h.seen().as_slice() {
        [Seen::Reply(id, TopicsReply::Created(created))] => {
            assert_eq!(*id, creating);
            assert!(created[0].is_ok());
        }
        other => panic!("expected the create's reply, got {other:?}"),
    }

    // A power cut before the write ran: the topic was never acknowledged, and it is gone.
    let mut h = manual();
    h.submit(create("lost", 1));
    let _unrun = h.write();
    h.mem.crash();
    let reopened = TopicStore::open(h.storage.clone(), 1).unwrap();
    assert_eq!(reopened.registry().topics.keys().collect::<Vec<_>>(), ["t"]);
}

/// Each registry-changing operation, its write failing: KAFKA_STORAGE_ERROR, no partitions
/// call, and the registry (in memory and on disk) as it was.
#[test]
fn a_failed_registry_write_refuses_with_kafka_storage_error_and_changes_nothing() {
    let failed = |op: AdminOp| {
        let mut h = manual();
        let before = h.store.registry().clone();
        h.submit(op);
        let (token, _) = h.write();
        h.written(token, Err("disk full".into()));
        let reply = match h.seen().as_mut_slice() {
            [Seen::Reply(_, reply)] => std::mem::replace(reply, TopicsReply::Failed(String::new())),
            other => panic!("expected only a reply, got {other:?}"),
        };
        assert_eq!(h.store.registry(), &before);
        let reopened = TopicStore::open(h.storage.clone(), 1).unwrap();
        assert_eq!(reopened.registry(), &before);
        reply
    };
    let refused = |outcome: Result<(), &Refusal>| {
        let refusal = outcome.unwrap_err();
        assert_eq!(refusal.code, ErrorCode::KAFKA_STORAGE_ERROR);
        assert!(refusal.message.contains("disk full"), "{}", refusal.message);
    };
    match failed(create("new", 1)) {
        TopicsReply::Created(created) => refused(created[0].as_ref().map(|_| ())),
        other => panic!("{other:?}"),
    }
    match failed(delete("t")) {
        TopicsReply::Deleted(deleted) => refused(deleted[0].outcome.as_ref().map(|_| ())),
        other => panic!("{other:?}"),
    }
    match failed(set("retention.ms", "5")) {
        TopicsReply::ConfigsAltered(altered) => refused(altered[0].as_ref().map(|_| ())),
        other => panic!("{other:?}"),
    }
    match failed(grow("t", 3)) {
        TopicsReply::PartitionsCreated(grown) => refused(grown[0].as_ref().map(|_| ())),
        other => panic!("{other:?}"),
    }
    match failed(AdminOp::AutoCreate("auto".into())) {
        TopicsReply::AutoCreated(created) => assert!(created.is_none()),
        other => panic!("{other:?}"),
    }
}

/// A crash before a delete's or an alteration's write completed: the topic is still there,
/// with its old overrides, and no partition was asked to change.
#[test]
fn a_crash_before_a_delete_or_alteration_is_written_keeps_the_old_registry() {
    for op in [delete("t"), set("retention.ms", "5"), grow("t", 3)] {
        let mut h = manual();
        let before = h.store.registry().clone();
        h.submit(op);
        let _unrun = h.write();
        assert_eq!(h.store.registry(), &before, "nothing committed yet");
        h.mem.crash();
        let reopened = TopicStore::open(h.storage.clone(), 1).unwrap();
        assert_eq!(reopened.registry(), &before);
    }
}

/// The creation whose logs could not open is unregistered with a write of its own; the
/// refusal comes after it.
#[test]
fn a_rolled_back_creation_writes_its_removal_before_answering() {
    let mut h = manual();
    h.submit(create("new", 1));
    let (token, job) = h.write();
    h.written(token, run(&job));
    let (call, _) = h.call();
    h.answer(call, Ok(done(ErrorCode::KAFKA_STORAGE_ERROR)));
    let (call, request) = h.call();
    assert_eq!(asked(&request), ("delete", 0));
    h.answer(call, Ok(done(ErrorCode::NONE)));
    let (token, job) = h.write();
    assert!(
        h.store.registry().topics.contains_key("new"),
        "until written"
    );
    h.written(token, run(&job));
    match h.seen().as_slice() {
        [Seen::Reply(_, TopicsReply::Created(created))] => {
            assert_eq!(
                created[0].as_ref().unwrap_err().code,
                ErrorCode::KAFKA_STORAGE_ERROR
            )
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    assert!(!h.store.registry().topics.contains_key("new"));
}

/// Issue 11: on a full disk the registry write of a delete fails for want of space, and the
/// topic's logs are that space: they are deleted first, then the registry is written again.
/// A crash between the two leaves the topic registered (start-up reopens it as empty logs),
/// never unregistered with its files left behind.
#[test]
fn a_delete_on_a_full_disk_frees_the_topics_logs_before_writing_the_registry_again() {
    let enospc = std::io::Error::from_raw_os_error(28).to_string();
    let mut h = manual();
    h.submit(delete("t"));
    let (token, _) = h.write();
    h.written(token, Err(format!("registry: {enospc}")));
    for partition in 0..2 {
        let (call, request) = h.call();
        assert_eq!(asked(&request), ("delete", partition), "the logs go first");
        assert!(h.store.registry().topics.contains_key("t"));
        h.answer(call, Ok(done(ErrorCode::NONE)));
    }
    let (token, job) = h.write();
    // A crash before this write completes keeps the topic registered.
    let crashed = TopicStore::open(h.storage.clone(), 1).unwrap();
    assert!(crashed.registry().topics.contains_key("t"));
    h.written(token, run(&job));
    match h.seen().as_slice() {
        [Seen::Reply(_, TopicsReply::Deleted(deleted))] => {
            assert_eq!(deleted[0].name.as_deref(), Some("t"));
            assert!(deleted[0].outcome.is_ok(), "{deleted:?}");
        }
        other => panic!("expected the deletion, got {other:?}"),
    }
    assert!(!h.store.registry().topics.contains_key("t"));
    let reopened = TopicStore::open(h.storage.clone(), 1).unwrap();
    assert!(!reopened.registry().topics.contains_key("t"));
}

/// A second failed write after the logs are gone is refused, not retried forever.
#[test]
fn a_delete_whose_second_registry_write_fails_too_is_refused() {
    let enospc = std::io::Error::from_raw_os_error(28).to_string();
    let mut h = manual();
    h.submit(delete("t"));
    let (token, _) = h.write();
    h.written(token, Err(enospc.clone()));
    for _ in 0..2 {
        let (call, _) = h.call();
        h.answer(call, Ok(done(ErrorCode::NONE)));
    }
    let (token, _) = h.write();
    h.written(token, Err(enospc));
    match h.seen().as_slice() {
        [Seen::Reply(_, TopicsReply::Deleted(deleted))] => {
            let refusal = deleted[0].outcome.as_ref().unwrap_err();
            assert_eq!(refusal.code, ErrorCode::KAFKA_STORAGE_ERROR);
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}
