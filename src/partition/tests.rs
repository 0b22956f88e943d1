//! The partitions actor driven directly, with no runtime: build a `Ctx`, call `handle`, look
//! at the effects; persist jobs are run by the test (`PersistJob::run`) and fed back as `Synced`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::actor::{Partitions, PartitionsTimer};
use super::replica::Replica;
use super::role::Role;
use crate::actor::{Actor, Addr, Ctx, Effect, Input, Now, Origin, Outbox, RequestId};
use crate::limits::RETENTION_CHECK_INTERVAL_MS;
use crate::messages::*;
use crate::storage::batch::{self, build_batch, build_idempotent_batch};
use crate::storage::log::{
    partition_metadata, FlushPolicy, LogConfig, TimestampType, SEVEN_DAYS_MS,
};
use crate::storage::mem::MemStorage;
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::Storage;
use crate::types::{
    BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Offset, ProducerId, TopicPartition,
};

const T0_MS: i64 = 1_700_000_000_000;

type Effects = Vec<Effect<NodeMsg, PartitionsTimer>>;

struct Harness {
    actor: Partitions,
    /// Every handler runs with `forbid_sync` on: none may fsync (the clean's swap was the last
    /// to, and runs as a persist job now).
    mem: Arc<MemStorage>,
    rng: SmallRng,
    now: Now,
    next_request: u64,
    /// The controller quorum's part in producer ids: where its next block starts. It is not
    /// the node's: a crash of the harness's storage keeps it.
    next_producer_id_block: i64,
    /// The node the actor runs on (1 unless a test runs several).
    node: NodeId,
    /// Kept across steps, as the host keeps it: call ids are unique per actor instance.
    outbox: Outbox<NodeMsg, PartitionsTimer>,
}

fn tp(topic: &str) -> TopicPartition {
    TopicPartition {
        topic: topic.to_owned(),
        partition: 0,
    }
}

fn config(flush_interval_ms: Option<u64>) -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        segment_ms: SEVEN_DAYS_MS,
        retention_ms: None,
        retention_bytes: None,
        index_interval_bytes: 4096,
        batch_bytes_max: 1 << 16,
        // None = fsync every append, Some(0) = leave it to the OS, Some(ms) = every ms.
        flush: match flush_interval_ms {
            None => FlushPolicy::EveryAppend,
            Some(0) => FlushPolicy::Os,
            Some(ms) => FlushPolicy::IntervalMs(ms),
        },
        timestamp_type: TimestampType::CreateTime,
        ..LogConfig::default()
    }
}

/// An Ensure of `tp` for the topic `topic_id` (its directory labelled with it).
fn labelled(tp: &TopicPartition, topic_id: [u8; 16]) -> PartitionsRequest {
    PartitionsRequest::Ensure(EnsureRequest {
        tp: tp.clone(),
        config: config(None),
        topic_id,
    })
}

fn plain(value: &[u8]) -> Vec<u8> {
    build_batch(&[(None, value)], T0_MS)
}

fn idempotent(pid: ProducerId, epoch: i16, seq: i32, records: usize) -> Vec<u8> {
    let recs: Vec<(Option<&[u8]>, &[u8])> = (0..records).map(|_| (None, &b"v"[..])).collect();
    build_idempotent_batch(&recs, T0_MS, pid.0, epoch, seq)
}

/// The `timeout_ms` of [`produce`]: what clients send, never reached in these tests.
const PRODUCE_TIMEOUT_MS: i32 = 30_000;

fn produce(acks: i16, partitions: Vec<(TopicPartition, Vec<u8>)>) -> PartitionsRequest {
    produce_within(acks, PRODUCE_TIMEOUT_MS, partitions)
}

fn produce_within(
    acks: i16,
    timeout_ms: i32,
    partitions: Vec<(TopicPartition, Vec<u8>)>,
) -> PartitionsRequest {
    PartitionsRequest::Produce(ProduceRequest {
        acks,
        timeout_ms,
        partitions,
        checked: Vec::new(),
        transactional_id: None,
    })
}

fn fetch(
    partitions: &[(&TopicPartition, i64)],
    min_bytes: i32,
    max_bytes: i32,
) -> PartitionsRequest {
    PartitionsRequest::Fetch(FetchRequest {
        max_wait_ms: 500,
        min_bytes,
        max_bytes,
        isolation_level: 0,
        partitions: partitions
            .iter()
            .map(|(tp, offset)| FetchPartition {
                tp: (*tp).clone(),
                fetch_offset: Offset(*offset),
                partition_max_bytes: 1 << 20,
                current_leader_epoch: LeaderEpoch::UNKNOWN,
            })
            .collect(),
    })
}

/// The coordinator's ABORT marker (coordinator epoch 0) for `producer_id` at `epoch` on `tp`.
fn abort_marker(tp: &TopicPartition, producer_id: ProducerId, epoch: i16) -> PartitionsRequest {
    PartitionsRequest::WriteMarkers(WriteMarkersRequest {
        markers: vec![MarkerWrite {
            tp: tp.clone(),
            producer_id,
            producer_epoch: epoch,
            coordinator_epoch: 0,
            commit: false,
        }],
        timeout_ms: PRODUCE_TIMEOUT_MS,
    })
}

/// Removes and returns the reply to `id` from `effects`.
fn take_reply(effects: &mut Effects, id: RequestId) -> Option<PartitionsReply> {
    let at = effects
        .iter()
        .position(|e| matches!(e, Effect::Reply { id: got, .. } if *got == id))?;
    match effects.remove(at) {
        Effect::Reply {
            msg: NodeMsg::PartitionsReply(reply),
            ..
        } => Some(reply),
        other => panic!("not a partitions reply: {other:?}"),
    }
}

fn syncs(effects: &Effects) -> Vec<(u64, PersistJob)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist { token, job } => Some((*token, job.clone())),
            _ => None,
        })
        .collect()
}

fn timers(effects: &Effects) -> Vec<(PartitionsTimer, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetTimer { key, after_ms } => Some((*key, *after_ms)),
            _ => None,
        })
        .collect()
}

/// Asserts that `effects` only arm produce `produce_id`'s timeout at [`PRODUCE_TIMEOUT_MS`]:
/// the produce waits (no reply) and starts no sync.
fn assert_only_produce_timer(effects: &Effects, produce_id: u64) {
    let timeout = (
        PartitionsTimer::ProduceTimeout(produce_id),
        PRODUCE_TIMEOUT_MS as u64,
    );
    assert_eq!(timers(effects), [timeout]);
    assert_eq!(effects.len(), 1, "{effects:?}");
}

fn init_producer_result(reply: PartitionsReply) -> Result<(ProducerId, i16), ErrorCode> {
    match reply {
        PartitionsReply::InitProducerId(InitProducerIdResult {
            error_code: ErrorCode::NONE,
            producer_id,
            producer_epoch,
        }) => Ok((producer_id, producer_epoch)),
        PartitionsReply::InitProducerId(InitProducerIdResult { error_code, .. }) => Err(error_code),
        other => panic!("expected an InitProducerId reply, got {other:?}"),
    }
}

fn produce_results(reply: PartitionsReply) -> Vec<(TopicPartition, ProducePartitionResult)> {
    match reply {
        PartitionsReply::Produce(results) => results,
        other => panic!("expected a produce reply, got {other:?}"),
    }
}

fn fetch_results(reply: PartitionsReply) -> Vec<FetchPartitionResult> {
    match reply {
        PartitionsReply::Fetch(results) => results,
        other => panic!("expected a fetch reply, got {other:?}"),
    }
}

/// Base offsets of the batches in fetched bytes.
fn batch_offsets(mut bytes: &[u8]) -> Vec<i64> {
    let mut offsets = Vec::new();
    while !bytes.is_empty() {
        let header = batch::validate_batch(bytes, usize::MAX).expect("served batches are valid");
        offsets.push(header.base_offset);
        bytes = &bytes[header.total_bytes()..];
    }
    offsets
}

/// Asserts a `Done` reply without error.
fn assert_done(reply: PartitionsReply) {
    assert!(
        matches!(
            reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::NONE,
                ..
            })
        ),
        "{reply:?}"
    );
}

impl Harness {
    fn new(storage: Arc<MemStorage>) -> Self {
        Self {
            actor: Partitions::new(storage.clone()),
            mem: storage,
            rng: SmallRng::seed_from_u64(7),
            now: Now {
                unix_ms: T0_MS,
                mono_ms: 0,
            },
            next_request: 0,
            next_producer_id_block: 0,
            node: NodeId(1),
            outbox: Outbox::default(),
        }
    }

    /// A harness whose actor takes clients' transactional batches (as it will once the
    /// transaction coordinator verifies them).
    fn with_transactional_writes(storage: Arc<MemStorage>) -> Self {
        Self {
            actor: Partitions::new(storage.clone()).with_transactional_writes(),
            ..Self::new(storage)
        }
    }

    /// A harness of the actor on node `node`.
    fn on_node(storage: Arc<MemStorage>, node: u64) -> Self {
        Self {
            node: NodeId(node),
            ..Self::new(storage)
        }
    }

    /// The node restarted over `storage` (after a crash, say); the quorum, not the node's,
    /// keeps where its next producer-id block starts.
    fn restarted(&self, storage: Arc<MemStorage>) -> Self {
        Self {
            next_producer_id_block: self.next_producer_id_block,
            ..Self::new(storage)
        }
    }

    /// Answers the producer-id block asks among `effects` as the quorum's leader does (each
    /// block after the last, at its `at_least` or later); the effects that follow.
    fn grant_blocks(&mut self, effects: &Effects) -> Effects {
        let asks: Vec<_> = (effects.iter())
            .filter_map(|e| match e {
                Effect::Call {
                    to,
                    call,
                    msg:
                        NodeMsg::Quorum(quorum::QuorumRequest::ToLeader {
                            request: quorum::LeaderRequest::AllocateProducerIds { at_least, .. },
                            ..
                        }),
                    ..
                } if to.actor == QUORUM => Some((*call, *at_least)),
                _ => None,
            })
            .collect();
        let mut after = Vec::new();
        for (call, at_least) in asks {
            let first_id = self.next_producer_id_block.max(at_least);
            let count = crate::limits::PRODUCER_ID_BLOCK_SIZE;
            self.next_producer_id_block = first_id + count;
            let msg = NodeMsg::QuorumReply(quorum::QuorumReply::ProducerIds {
                first_id,
                count: count as i32,
            });
            after.extend(self.step(Input::Reply { call, msg }));
        }
        after
    }

    fn step(&mut self, input: Input<NodeMsg, PartitionsTimer>) -> Effects {
        let me = Addr {
            node: self.node,
            actor: PARTITIONS,
        };
        self.mem.forbid_sync(true);
        let mut ctx = Ctx::new(self.now, me, &mut self.rng, &mut self.outbox);
        self.actor.handle(&mut ctx, input);
        self.mem.forbid_sync(false);
        self.outbox.take_effects()
    }

    fn send(&mut self, request: PartitionsRequest) -> (RequestId, Effects) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let effects = self.step(Input::Request {
            id,
            from: Origin::Host,
            msg: NodeMsg::Partitions(request),
        });
        (id, effects)
    }

    /// A request that must be answered at once.
    fn ask(&mut self, request: PartitionsRequest) -> PartitionsReply {
        let (id, mut effects) = self.send(request);
        take_reply(&mut effects, id).expect("answered at once")
    }

    /// Ensures `tp`, running the opening log's first persist job (its recovery's durability)
    /// that the reply waits for.
    fn ensure(&mut self, tp: &TopicPartition, config: LogConfig) {
        assert_done(self.open(tp, config));
    }

    /// Sends an `Ensure`, completes the persist job it started (the open's durability), and
    /// returns its reply. Like every handler, opening a log fsyncs nothing.
    fn open(&mut self, tp: &TopicPartition, config: LogConfig) -> PartitionsReply {
        let (id, mut effects) = self.send(PartitionsRequest::Ensure(EnsureRequest {
            tp: tp.clone(),
            config,
            topic_id: [0; 16],
        }));
        if let Some(reply) = take_reply(&mut effects, id) {
            return reply;
        }
        let mut effects = self.complete_forbidding_sync(syncs(&effects));
        take_reply(&mut effects, id).expect("answered once the log is open")
    }

    /// A request answered once the persist jobs it started (and those they lead to) ran.
    fn ask_after_jobs(&mut self, request: PartitionsRequest) -> PartitionsReply {
        let (id, mut effects) = self.send(request);
        loop {
            if let Some(reply) = take_reply(&mut effects, id) {
                return reply;
            }
            let jobs = syncs(&effects);
            assert!(!jobs.is_empty(), "no reply and no job: {effects:?}");
            effects = self.complete(jobs);
        }
    }

    /// A request's reply once every persist job it started (and those they lead to) ran, the
    /// ones that do not hold the reply back included.
    fn ask_until_idle(&mut self, request: PartitionsRequest) -> PartitionsReply {
        let (id, mut effects) = self.send(request);
        let mut reply = None;
        loop {
            reply = reply.or_else(|| take_reply(&mut effects, id));
            let jobs = syncs(&effects);
            if jobs.is_empty() {
                return reply.expect("answered once no job is left");
            }
            effects = self.complete(jobs);
        }
    }

    /// Runs the syncs the host would run and feeds their completions back.
    fn complete(&mut self, syncs: Vec<(u64, PersistJob)>) -> Effects {
        let mut effects = Vec::new();
        for (token, job) in syncs {
            let result = job.run().map_err(|e| e.to_string());
            effects.extend(self.step(Input::Synced { token, result }));
        }
        effects
    }

    /// Sends InitProducerId (like every handler, with every fsync forbidden).
    fn send_init_producer(&mut self) -> (RequestId, Effects) {
        self.mem.forbid_sync(true);
        let sent = self.send(PartitionsRequest::InitProducerId(InitProducerIdRequest {
            transactional_id: None,
            producer_id: ProducerId::NONE,
            producer_epoch: -1,
        }));
        self.mem.forbid_sync(false);
        sent
    }

    /// Runs persist jobs as the host would (fsyncs allowed) and feeds their completions to the
    /// actor with every fsync forbidden.
    fn complete_forbidding_sync(&mut self, syncs: Vec<(u64, PersistJob)>) -> Effects {
        let mut effects = Vec::new();
        for (token, job) in syncs {
            let result = job.run().map_err(|e| e.to_string());
            self.mem.forbid_sync(true);
            effects.extend(self.step(Input::Synced { token, result }));
            self.mem.forbid_sync(false);
        }
        effects
    }

    /// A fresh producer id: at once, or once the quorum granted the block it comes from.
    fn init_producer(&mut self) -> (ProducerId, i16) {
        let (id, mut effects) = self.send_init_producer();
        let reply = match take_reply(&mut effects, id) {
            Some(reply) => reply,
            None => {
                let mut done = self.grant_blocks(&effects);
                take_reply(&mut done, id).expect("answered once the block is granted")
            }
        };
        init_producer_result(reply).expect("an id")
    }

    fn produce_one(
        &mut self,
        acks: i16,
        tp: &TopicPartition,
        records: Vec<u8>,
    ) -> ProducePartitionResult {
        let reply = self.ask(produce(acks, vec![(tp.clone(), records)]));
        produce_results(reply).remove(0).1
    }

    fn log_end(&self, tp: &TopicPartition) -> i64 {
        self.actor.replica(tp).unwrap().log().log_end_offset()
    }
}

#[test]
fn acks_all_is_refused_while_fewer_replicas_are_in_sync_than_min_insync_replicas() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    // Three replicas, the leader alone in sync.
    leader_epochs::tell_with_isr(&mut h, &[(&a, Some(1), 1)], &[1]);
    h.ensure(
        &a,
        LogConfig {
            min_insync_replicas: 2,
            ..config(Some(0))
        },
    );
    let refused = h.produce_one(-1, &a, plain(b"x"));
    assert_eq!(refused.error_code, ErrorCode::NOT_ENOUGH_REPLICAS);
    assert_eq!(h.log_end(&a), 0, "nothing appended");
    let accepted = h.produce_one(1, &a, plain(b"y"));
    assert_eq!(
        (accepted.error_code, accepted.base_offset.0),
        (ErrorCode::NONE, 0)
    );
}

/// Kafka's `effectiveMinIsr`: min.insync.replicas counts at most the replication factor, so a
/// partition with one replica takes acks=all whatever the topic says.
#[test]
fn min_insync_replicas_above_the_replication_factor_counts_as_the_replication_factor() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(
        &a,
        LogConfig {
            min_insync_replicas: 2,
            ..config(Some(0))
        },
    );
    let accepted = h.produce_one(-1, &a, plain(b"x"));
    assert_eq!(accepted.error_code, ErrorCode::NONE);
}

#[test]
fn produce_then_fetch_roundtrip() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let first = h.produce_one(1, &a, build_batch(&[(None, b"x"), (None, b"y")], T0_MS));
    assert_eq!(
        (first.error_code, first.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    let second = h.produce_one(1, &a, plain(b"z"));
    assert_eq!(
        (second.error_code, second.base_offset.0),
        (ErrorCode::NONE, 2)
    );
    let results = fetch_results(h.ask(fetch(&[(&a, 0)], 1, 1 << 20)));
    assert_eq!(results[0].error_code, ErrorCode::NONE);
    assert_eq!(results[0].high_watermark.0, 3);
    assert_eq!(results[0].last_stable_offset.0, 3);
    assert_eq!(batch_offsets(&results[0].records), vec![0, 2]);
    // Fetching from the middle of a batch serves that whole batch; from the end, nothing.
    let results = fetch_results(h.ask(fetch(&[(&a, 1)], 0, 1 << 20)));
    assert_eq!(batch_offsets(&results[0].records), vec![0, 2]);
    let results = fetch_results(h.ask(fetch(&[(&a, 3)], 0, 1 << 20)));
    assert!(results[0].records.is_empty());
}

#[test]
fn acks_all_waits_for_the_sync_and_later_appends_share_the_next_one() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(None));
    h.ensure(&b, config(None));

    let (first, effects) = h.send(produce(
        -1,
        vec![(a.clone(), plain(b"1")), (b.clone(), plain(b"2"))],
    ));
    assert!(
        effects.iter().all(|e| !matches!(e, Effect::Reply { .. })),
        "no reply before the sync"
    );
    let first_syncs = syncs(&effects);
    assert_eq!(first_syncs.len(), 2, "one sync per log");
    // Two more appends to `a` while its sync runs: no new sync, no reply; only the request's
    // timeout is armed.
    let (second, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"3"))]));
    assert_only_produce_timer(&effects, 1);
    let (third, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"4"))]));
    assert_only_produce_timer(&effects, 2);

    // `b` durable but `a` not yet: the first request still waits.
    let (a_sync, b_sync) = (first_syncs[0].clone(), first_syncs[1].clone());
    let a_sync = if a_sync.0 == h.actor.replica(&a).unwrap().id {
        (a_sync, b_sync)
    } else {
        (b_sync, a_sync)
    };
    let mut effects = h.complete(vec![a_sync.1]);
    assert!(take_reply(&mut effects, first).is_none());
    let mut effects_a = h.complete(vec![a_sync.0]);
    let results = produce_results(take_reply(&mut effects_a, first).expect("first answered"));
    assert_eq!(
        results
            .iter()
            .map(|(_, r)| (r.error_code, r.base_offset.0))
            .collect::<Vec<_>>(),
        vec![(ErrorCode::NONE, 0), (ErrorCode::NONE, 0)]
    );
    assert!(
        take_reply(&mut effects_a, second).is_none(),
        "its append came after the sync began"
    );
    // Exactly one more sync serves both waiting appends.
    let next = syncs(&effects_a);
    assert_eq!(next.len(), 1);
    let mut effects = h.complete(next);
    let second = produce_results(take_reply(&mut effects, second).unwrap());
    let third = produce_results(take_reply(&mut effects, third).unwrap());
    assert_eq!(
        (second[0].1.base_offset.0, third[0].1.base_offset.0),
        (1, 2)
    );
    assert!(syncs(&effects).is_empty());
    let log = h.actor.replica(&a).unwrap().log();
    assert_eq!(log.synced_offset(), log.log_end_offset());
}

#[test]
fn acks_one_replies_at_once_but_the_every_append_policy_still_syncs() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (id, mut effects) = h.send(produce(1, vec![(a.clone(), plain(b"1"))]));
    assert!(take_reply(&mut effects, id).is_some());
    assert_eq!(syncs(&effects).len(), 1);
}

#[test]
fn interval_policy_replies_after_the_append_and_syncs_on_its_timer() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(200)));
    let (id, mut effects) = h.send(produce(-1, vec![(a.clone(), plain(b"1"))]));
    assert!(
        take_reply(&mut effects, id).is_some(),
        "acks=-1 answers after the append"
    );
    assert!(syncs(&effects).is_empty());
    let armed = timers(&effects);
    assert_eq!(armed.len(), 1);
    assert!(matches!(armed[0].0, PartitionsTimer::Flush(_)), "{armed:?}");
    assert_eq!(armed[0].1, 200);
    // A later append leaves the armed timer alone: re-arming would push the flush back on
    // every append, and a steady stream of appends would never be synced.
    h.now.unix_ms += 100;
    h.now.mono_ms += 100;
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"2"))]));
    assert!(timers(&effects).is_empty(), "{:?}", timers(&effects));
    h.now.unix_ms += 100;
    h.now.mono_ms += 100;
    let effects = h.step(Input::Timer { key: armed[0].0 });
    let due = syncs(&effects);
    assert_eq!(due.len(), 1);
    let effects = h.complete(due);
    let log = h.actor.replica(&a).unwrap().log();
    assert_eq!(log.synced_offset(), 2);
    // Everything is durable and no sync runs: no flush timer until the next append.
    assert!(timers(&effects).is_empty(), "{:?}", timers(&effects));
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"3"))]));
    assert_eq!(timers(&effects), [(PartitionsTimer::Flush(0), 200)]);
}

#[test]
fn a_failed_sync_fails_the_waiters_and_the_log() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (id, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"1"))]));
    let (token, _) = syncs(&effects)[0].clone();
    // fsyncgate: the failed fsync dropped the dirty bytes, and a retried one would succeed.
    let segment = Path::new("a-0/00000000000000000000.log");
    assert!(h.mem.drop_unsynced(segment) > 0);
    let mut effects = h.step(Input::Synced {
        token,
        result: Err("EIO".into()),
    });
    let results = produce_results(take_reply(&mut effects, id).unwrap());
    assert_eq!(results[0].1.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    // Offline: appends are refused, never acknowledged on the log that lost its bytes.
    assert!(h.actor.replica(&a).is_none());
    assert_eq!(h.actor.offline_count(), 1);
    assert_eq!(
        h.produce_one(1, &a, plain(b"2")).error_code,
        ErrorCode::KAFKA_STORAGE_ERROR
    );
    // After the retry delay it is reopened from what the disk holds: the dropped record is
    // gone, so the next append takes offset 0 again (it was never acknowledged).
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += crate::limits::OFFLINE_LOG_RETRY_MS as i64;
    let (id, mut effects) = h.send(produce(-1, vec![(a.clone(), plain(b"3"))]));
    let reply = loop {
        // The reopen's persist job, then the append's sync.
        if let Some(reply) = take_reply(&mut effects, id) {
            break reply;
        }
        let due = syncs(&effects);
        assert!(!due.is_empty(), "nothing left to run: {effects:?}");
        effects = h.complete(due);
    };
    let retried = produce_results(reply).remove(0).1;
    assert_eq!(
        (retried.error_code, retried.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    assert_eq!(h.actor.offline_count(), 0);
}

/// A log reopened by the retention tick (after a failed sync) is opening with no request
/// waiting for it; a Shutdown then waits for the open's job before it closes anything.
#[test]
fn a_shutdown_waits_for_a_log_the_retention_tick_is_reopening() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"1"))]));
    let (token, _) = syncs(&effects)[0].clone();
    h.step(Input::Synced {
        token,
        result: Err("EIO".into()),
    });
    assert_eq!(h.actor.offline_count(), 1);
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += crate::limits::OFFLINE_LOG_RETRY_MS as i64;
    let effects = h.step(Input::Timer {
        key: PartitionsTimer::Retention,
    });
    let open = syncs(&effects);
    assert_eq!(open.len(), 1, "the reopen's persist job: {effects:?}");
    assert_eq!(h.actor.parked_count(), 0);

    let (shutdown, effects) = h.send(PartitionsRequest::Shutdown);
    assert!(syncs(&effects).is_empty(), "no close job yet: {effects:?}");
    assert_eq!(h.actor.parked_count(), 1, "the shutdown waits for the open");
    let mut jobs = syncs(&h.complete(open));
    let mut reply = None;
    while reply.is_none() && !jobs.is_empty() {
        let mut effects = h.complete(std::mem::take(&mut jobs));
        reply = take_reply(&mut effects, shutdown);
        jobs = syncs(&effects);
    }
    assert!(
        reply.is_some(),
        "the shutdown is answered once the log closed"
    );
}

#[test]
fn a_sync_failed_for_want_of_space_answers_at_once_and_reopens_cut_to_the_last_good_sync() {
    use crate::limits::OFFLINE_LOG_RETRY_MS;
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let first = produce_results(h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"1"))])));
    assert_eq!(
        (first[0].1.error_code, first[0].1.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    // The next record's sync finds the disk full: its waiter is answered at once.
    let (id, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"never-synced"))]));
    let (token, _) = syncs(&effects)[0].clone();
    let enospc = std::io::Error::from_raw_os_error(28).to_string();
    let mut effects = h.step(Input::Synced {
        token,
        result: Err(enospc),
    });
    let results = produce_results(take_reply(&mut effects, id).expect("answered at once"));
    assert_eq!(results[0].1.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    // Unlike a broken disk's, this failure is reopened: the log goes offline for the retry
    // interval (a reopen on a still-full disk would only fail again) ...
    assert_eq!(
        h.produce_one(1, &a, plain(b"3")).error_code,
        ErrorCode::KAFKA_STORAGE_ERROR
    );
    assert_eq!(h.actor.offline_count(), 1);
    // ... then opens again, cut to its last good sync: the record whose sync failed is gone
    // and the next one takes its offset.
    h.now.mono_ms += OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += OFFLINE_LOG_RETRY_MS as i64;
    let request = produce(-1, vec![(a.clone(), plain(b"after-reopen"))]);
    let again = produce_results(h.ask_after_jobs(request));
    assert_eq!(
        (again[0].1.error_code, again[0].1.base_offset.0),
        (ErrorCode::NONE, 1)
    );
    assert_eq!(h.actor.offline_count(), 0);
    let log = h.actor.replica(&a).unwrap().log();
    assert_eq!((log.log_end_offset(), log.synced_offset()), (2, 2));
    let read = log.read(0, 1 << 20).unwrap();
    assert_eq!(batch_offsets(&read.bytes), vec![0, 1]);
    let bytes = read.bytes.to_vec();
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"after-reopen") && !contains(b"never-synced"),
        "the unsynced record was cut"
    );
}

#[test]
fn an_append_that_fails_on_the_disk_fails_the_log_and_the_next_request_reopens_it() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let first = produce_results(h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"1"))])));
    assert_eq!(first[0].1.error_code, ErrorCode::NONE);
    // The append itself (not its sync) fails (EIO): the files are in an unknown state.
    h.mem.fail_writes(Some(std::io::ErrorKind::Other));
    let failed = h.produce_one(1, &a, plain(b"lost"));
    assert_eq!(failed.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    assert!(h.actor.replica(&a).unwrap().log().is_failed());
    // The disk works again: the next request drops the failed log and reopens it from its
    // files (recovery cuts whatever the failed append left), and appends continue.
    h.mem.fail_writes(None);
    let again = produce_results(h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"2"))])));
    assert_eq!(
        (again[0].1.error_code, again[0].1.base_offset.0),
        (ErrorCode::NONE, 1)
    );
    assert!(!h.actor.replica(&a).unwrap().log().is_failed());
    assert_eq!(h.actor.offline_count(), 0);
}

/// A log that failed for want of space on a write an append cannot undo (here the roll's
/// last time index entry) is reopened at the offline interval, not on the next request as a
/// broken disk's is: until space is back every reopen would fail again.
#[test]
fn a_log_that_failed_for_want_of_space_on_a_roll_is_reopened_at_the_offline_interval() {
    use crate::limits::OFFLINE_LOG_RETRY_MS;
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    let small = LogConfig {
        segment_bytes: 100,
        ..config(None)
    };
    h.ensure(&a, small);
    let first = produce_results(h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"1"))])));
    assert_eq!(first[0].1.error_code, ErrorCode::NONE);
    h.mem.fail_writes(Some(std::io::ErrorKind::StorageFull));
    let failed = h.produce_one(1, &a, plain(b"2"));
    assert_eq!(failed.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    assert!(
        h.actor.replica(&a).unwrap().log().failed_out_of_space(),
        "the roll failed the log, for want of space"
    );
    // Space is back, but the next request only takes the failed log offline ...
    h.mem.fail_writes(None);
    assert_eq!(
        h.produce_one(1, &a, plain(b"3")).error_code,
        ErrorCode::KAFKA_STORAGE_ERROR
    );
    assert_eq!(h.actor.offline_count(), 1);
    // ... until the retry interval passed: then it opens again and appends continue.
    h.now.mono_ms += OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += OFFLINE_LOG_RETRY_MS as i64;
    let again = produce_results(h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"4"))])));
    assert_eq!(
        (again[0].1.error_code, again[0].1.base_offset.0),
        (ErrorCode::NONE, 1)
    );
    assert_eq!(h.actor.offline_count(), 0);
}

/// The `CancelTimer` effects in `effects`.
fn cancelled(effects: &Effects) -> Vec<PartitionsTimer> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelTimer { key } => Some(*key),
            _ => None,
        })
        .collect()
}

/// Advances the harness clock by `ms` and fires `key`, as the host does at its deadline.
fn fire(h: &mut Harness, key: PartitionsTimer, ms: u64) -> Effects {
    h.now.unix_ms += ms as i64;
    h.now.mono_ms += ms;
    h.step(Input::Timer { key })
}

#[test]
fn an_acks_all_produce_whose_sync_never_completes_times_out_and_a_late_sync_is_harmless() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (id, effects) = h.send(produce_within(-1, 10, vec![(a.clone(), plain(b"1"))]));
    let key = PartitionsTimer::ProduceTimeout(0);
    assert_eq!(timers(&effects), [(key, 10)], "one timer at timeout_ms");
    let stuck = syncs(&effects);
    assert_eq!(stuck.len(), 1);

    // The sync job never completes; the timeout answers.
    let mut effects = fire(&mut h, key, 10);
    let results = produce_results(take_reply(&mut effects, id).expect("timed out"));
    assert_eq!(results[0].1.error_code, ErrorCode::REQUEST_TIMED_OUT);
    // As Kafka: the code changes, the append's offset stays (the record may still be written).
    assert_eq!(results[0].1.base_offset, Offset(0));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(h.log_end(&a), 1, "the append stays in the log");

    // The late completion finds no waiter: no second reply, no panic, the log is durable.
    let effects = h.complete(stuck);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Reply { .. })));
    assert_eq!(h.actor.replica(&a).unwrap().ack_offset(), Offset(1));
    // The partition keeps working.
    let (next, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"2"))]));
    let mut effects = h.complete(syncs(&effects));
    let results = produce_results(take_reply(&mut effects, next).expect("answered"));
    assert_eq!(
        (results[0].1.error_code, results[0].1.base_offset),
        (ErrorCode::NONE, Offset(1))
    );
    assert_eq!(cancelled(&effects), [PartitionsTimer::ProduceTimeout(1)]);
}

#[test]
fn a_produce_acknowledged_in_time_cancels_its_timeout() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (id, effects) = h.send(produce_within(-1, 10, vec![(a.clone(), plain(b"1"))]));
    let key = PartitionsTimer::ProduceTimeout(0);
    assert_eq!(timers(&effects), [(key, 10)]);
    let mut effects = h.complete(syncs(&effects));
    assert_eq!(cancelled(&effects), [key]);
    let results = produce_results(take_reply(&mut effects, id).expect("answered"));
    assert_eq!(results[0].1.error_code, ErrorCode::NONE);
    // Had the firing crossed the cancel, it finds nothing to answer.
    assert!(fire(&mut h, key, 10).is_empty());
}

#[test]
fn only_the_partitions_still_waiting_time_out() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(None));
    h.ensure(&b, config(None));
    let (id, effects) = h.send(produce_within(
        -1,
        10,
        vec![(a.clone(), plain(b"1")), (b.clone(), plain(b"2"))],
    ));
    let a_id = h.actor.replica(&a).unwrap().id;
    let (a_sync, b_sync): (Vec<_>, Vec<_>) = syncs(&effects)
        .into_iter()
        .partition(|(token, _)| *token == a_id);
    let effects = h.complete(a_sync);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Reply { .. })));
    let mut effects = fire(&mut h, PartitionsTimer::ProduceTimeout(0), 10);
    let results = produce_results(take_reply(&mut effects, id).expect("timed out"));
    let codes: Vec<_> = results
        .iter()
        .map(|(tp, r)| (tp.topic.as_str(), r.error_code))
        .collect();
    assert_eq!(
        codes,
        [("a", ErrorCode::NONE), ("b", ErrorCode::REQUEST_TIMED_OUT)]
    );
    // `b`'s late sync answers no one.
    let effects = h.complete(b_sync);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Reply { .. })));
}

#[test]
fn only_a_waiting_acks_all_produce_arms_a_timeout_and_a_non_positive_one_expires_at_once() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, lazy) = (tp("a"), tp("lazy"));
    h.ensure(&a, config(None));
    h.ensure(&lazy, config(Some(200)));
    let is_produce_timer =
        |(key, _): &(PartitionsTimer, u64)| matches!(key, PartitionsTimer::ProduceTimeout(_));
    // acks=1 answers after the append; acks=0 owes no answer; acks=-1 under an interval
    // policy is acknowledged by the append (on one node the high watermark is the log end).
    for (acks, tp) in [(1, &a), (0, &a), (-1, &lazy)] {
        let (_, effects) = h.send(produce(acks, vec![(tp.clone(), plain(b"x"))]));
        assert!(
            !timers(&effects).iter().any(is_produce_timer),
            "acks={acks} on {tp:?}: {effects:?}"
        );
    }
    // Kafka's purgatory expires a zero or negative timeout at once; so does the timer.
    for timeout_ms in [0, -1, i32::MIN] {
        let (_, effects) = h.send(produce_within(
            -1,
            timeout_ms,
            vec![(a.clone(), plain(b"y"))],
        ));
        let armed: Vec<_> = timers(&effects)
            .into_iter()
            .filter(is_produce_timer)
            .collect();
        assert_eq!(armed.len(), 1, "{effects:?}");
        assert_eq!(armed[0].1, 0, "timeout_ms={timeout_ms}");
    }
}

#[test]
fn a_retried_idempotent_batch_gets_its_original_offset_and_is_stored_once() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    let (pid, epoch) = h.init_producer();
    let original = h.produce_one(1, &a, idempotent(pid, epoch, 0, 2));
    assert_eq!(
        (original.error_code, original.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    assert_eq!(h.produce_one(1, &a, plain(b"other")).base_offset.0, 2);
    let retry = h.produce_one(1, &a, idempotent(pid, epoch, 0, 2));
    assert_eq!(
        (retry.error_code, retry.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    assert_eq!(h.log_end(&a), 3, "the retry was not written");
    let next = h.produce_one(1, &a, idempotent(pid, epoch, 2, 1));
    assert_eq!((next.error_code, next.base_offset.0), (ErrorCode::NONE, 3));
    let results = fetch_results(h.ask(fetch(&[(&a, 0)], 0, 1 << 20)));
    assert_eq!(batch_offsets(&results[0].records), vec![0, 2, 3]);
}

#[test]
fn sequence_gap_and_fenced_epoch_are_refused() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    let (pid, _) = h.init_producer();
    assert_eq!(
        h.produce_one(1, &a, idempotent(pid, 1, 0, 1)).error_code,
        ErrorCode::NONE
    );
    let gap = h.produce_one(1, &a, idempotent(pid, 1, 5, 1));
    assert_eq!(gap.error_code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    let fenced = h.produce_one(1, &a, idempotent(pid, 0, 1, 1));
    assert_eq!(fenced.error_code, ErrorCode::INVALID_PRODUCER_EPOCH);
    let new_epoch_not_at_zero = h.produce_one(1, &a, idempotent(pid, 2, 1, 1));
    assert_eq!(
        new_epoch_not_at_zero.error_code,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(
        h.produce_one(1, &a, idempotent(pid, 2, 0, 1)).error_code,
        ErrorCode::NONE
    );
    assert_eq!(h.log_end(&a), 2, "refused batches were not written");
    // An idempotent batch must travel alone.
    let mut two = idempotent(pid, 2, 1, 1);
    two.extend(plain(b"x"));
    assert_eq!(
        h.produce_one(1, &a, two).error_code,
        ErrorCode::INVALID_RECORD
    );
}

#[test]
fn init_producer_id_hands_out_fresh_ids() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (first, epoch) = h.init_producer();
    assert_eq!(epoch, 0);
    let (second, _) = h.init_producer();
    assert_ne!(first, second);
}

#[test]
fn producer_state_survives_a_crash_from_the_log_alone() {
    let storage = Arc::new(MemStorage::new());
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    for seq in 0..2 {
        let (id, effects) = h.send(produce(
            -1,
            vec![(a.clone(), idempotent(pid, epoch, seq, 1))],
        ));
        let mut effects = h.complete(syncs(&effects));
        assert!(take_reply(&mut effects, id).is_some());
    }
    // Appended but never synced: a crash loses it, so it must not count as a duplicate later.
    let (_, unsynced) = h.send(produce(-1, vec![(a.clone(), idempotent(pid, epoch, 2, 1))]));
    assert_eq!(syncs(&unsynced).len(), 1);
    storage.crash();

    let mut h = h.restarted(storage.clone());
    h.ensure(&a, config(None));
    assert_eq!(h.log_end(&a), 2);
    let retry = h.produce_one(1, &a, idempotent(pid, epoch, 1, 1));
    assert_eq!(
        (retry.error_code, retry.base_offset.0),
        (ErrorCode::NONE, 1)
    );
    let lost = h.produce_one(1, &a, idempotent(pid, epoch, 2, 1));
    assert_eq!(
        (lost.error_code, lost.base_offset.0),
        (ErrorCode::NONE, 2),
        "re-sent after the crash"
    );
    assert_eq!(
        h.produce_one(1, &a, idempotent(pid, epoch, 4, 1))
            .error_code,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // A new id after the crash never repeats one handed out before.
    assert!(h.init_producer().0 > pid);
}

/// A topic deleted and created again under its name while the broker was down: the new
/// topic's id differs from the one its partition directory records, so the old records are
/// removed before the new topic's replica opens; the same id (or a directory from before topic
/// ids, which is then labelled) keeps them.
#[test]
fn a_directory_of_an_earlier_topic_of_the_same_name_is_removed_before_the_open() {
    let storage = Arc::new(MemStorage::new());
    let (a, b) = (tp("a"), tp("b"));
    let ok = assert_done;
    let (old_id, new_id) = ([1u8; 16], [2u8; 16]);
    let mut h = Harness::new(storage.clone());
    ok(h.ask_until_idle(labelled(&a, old_id)));
    // `b` opens without an id, as before topic ids: no file.
    h.ensure(&b, config(None));
    for tp in [&a, &b] {
        let written = h.produce_one(1, tp, plain(b"old"));
        assert_eq!(written.error_code, ErrorCode::NONE);
    }
    let dir_a = crate::partition::replica::dir_for(&a);
    assert_eq!(
        partition_metadata::read(storage.as_ref(), &dir_a).unwrap(),
        Some(crate::types::cluster_id_text(&old_id))
    );

    // Restarted: `a` is opened for the same topic and keeps its record; `b` is opened with an
    // id for the first time and keeps its record too.
    let mut h = h.restarted(storage.clone());
    ok(h.ask_until_idle(labelled(&a, old_id)));
    ok(h.ask_until_idle(labelled(&b, new_id)));
    assert_eq!((h.log_end(&a), h.log_end(&b)), (1, 1));
    let dir_b = crate::partition::replica::dir_for(&b);
    assert_eq!(
        partition_metadata::read(storage.as_ref(), &dir_b).unwrap(),
        Some(crate::types::cluster_id_text(&new_id)),
        "labelled at its first open with an id"
    );

    // Restarted again, and `a` is now another topic of the same name: its directory goes first.
    let mut h = h.restarted(storage.clone());
    ok(h.ask_until_idle(labelled(&a, new_id)));
    assert_eq!(h.log_end(&a), 0, "the earlier topic's record is gone");
    assert_eq!(
        partition_metadata::read(storage.as_ref(), &dir_a).unwrap(),
        Some(crate::types::cluster_id_text(&new_id))
    );
    let written = h.produce_one(1, &a, plain(b"new"));
    assert_eq!(
        (written.error_code, written.base_offset.0),
        (ErrorCode::NONE, 0)
    );
}

/// Seed 187: a replica still held here — open, or offline — for a topic since deleted is not
/// taken as the replica of a new topic of the same name: the new topic's Ensure closes and
/// removes it first, and opens an empty log labelled with the new id.
#[test]
fn a_replica_held_for_an_earlier_topic_of_the_same_name_is_replaced_not_adopted() {
    let storage = Arc::new(MemStorage::new());
    let a = tp("a");
    let ensure = |topic_id: [u8; 16]| {
        PartitionsRequest::Ensure(EnsureRequest {
            tp: a.clone(),
            config: config(None),
            topic_id,
        })
    };
    let (old_id, new_id) = ([1u8; 16], [2u8; 16]);
    let mut h = Harness::new(storage.clone());
    assert_done(h.ask_until_idle(ensure(old_id)));
    // Durable (its sync ran): the removal waits for no job of the old replica.
    let written = h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"old"))]));
    assert_eq!(produce_results(written)[0].1.error_code, ErrorCode::NONE);
    assert_eq!(h.log_end(&a), 1);
    // No Delete came (its removal failed, or it was a creation's rollback): the metadata now
    // names another topic `a`.
    assert_done(h.ask_until_idle(ensure(new_id)));
    assert_eq!(
        h.log_end(&a),
        0,
        "the earlier topic's record is not the new topic's"
    );
    let dir = crate::partition::replica::dir_for(&a);
    assert_eq!(
        partition_metadata::read(storage.as_ref(), &dir).unwrap(),
        Some(crate::types::cluster_id_text(&new_id))
    );
    let written = h.produce_one(1, &a, plain(b"new"));
    assert_eq!(
        (written.error_code, written.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    // The same topic again keeps what it has.
    assert_done(h.ask_until_idle(ensure(new_id)));
    assert_eq!(h.log_end(&a), 1);
}

/// A directory's label is durable before any of its records: it is the first op of the
/// replica's first flush job (found by the simulator: a label job of its own could fail, or
/// lose the race to a crash, after the records' sync, and a later topic of the same name then
/// took the unlabelled directory's records as its own).
#[test]
fn a_directory_is_labelled_first_in_its_first_flush_job() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    let (_, effects) = h.send(PartitionsRequest::Ensure(EnsureRequest {
        tp: a.clone(),
        config: config(None),
        topic_id: [1; 16],
    }));
    let jobs = syncs(&effects);
    assert_eq!(jobs.len(), 1, "one job, no label job of its own: {jobs:?}");
    let first = jobs[0].1.ops().first();
    assert!(
        matches!(first, Some(crate::storage::persist::PersistOp::ReplaceFile { path, .. })
            if path.ends_with("partition.metadata")),
        "{jobs:?}"
    );
    h.complete(jobs);
    assert_eq!(
        partition_metadata::read(h.mem.as_ref(), &crate::partition::replica::dir_for(&a)).unwrap(),
        Some(crate::types::cluster_id_text(&[1; 16]))
    );
}

/// A broker down while its topic was deleted keeps the topic's directories until the metadata's
/// deleted ids name them: then they go, and nothing else does (an open partition, a directory
/// of a live topic, one without a label), and a `-delete` leftover of an interrupted removal
/// goes too.
#[test]
fn directories_of_deleted_topics_and_removal_leftovers_are_removed() {
    let storage = Arc::new(MemStorage::new());
    let (gone, live, open, unlabelled) = (tp("gone"), tp("live"), tp("open"), tp("old"));
    let (gone_id, live_id, open_id) = ([1u8; 16], [2u8; 16], [3u8; 16]);
    let mut h = Harness::new(storage.clone());
    for (tp, id) in [(&gone, gone_id), (&live, live_id), (&open, open_id)] {
        assert_done(h.ask_until_idle(labelled(tp, id)));
        assert_eq!(
            h.produce_one(1, tp, plain(b"r")).error_code,
            ErrorCode::NONE
        );
    }
    h.ensure(&unlabelled, config(None));
    let leftover = crate::partition::replica::deleting_dir_for(&tp("earlier"));
    storage.create_dir_all(&leftover.join("sub")).unwrap();
    storage
        .open(&leftover.join("00000000000000000000.log"), true)
        .unwrap();

    // Restarted: only `open` is opened again; `gone`'s topic was deleted meanwhile, and so
    // (as far as this request says) was `open`'s, which is open and so not a stray.
    let mut h = h.restarted(storage.clone());
    assert_done(h.ask_until_idle(labelled(&open, open_id)));
    let deleted_topic_ids = [gone_id, open_id].into_iter().collect();
    let request = PartitionsRequest::RemoveStray(RemoveStrayRequest { deleted_topic_ids });
    assert_done(h.ask_until_idle(request));
    let dir = crate::partition::replica::dir_for;
    assert!(!storage.exists(&dir(&gone)), "{:?}", storage.file_names());
    assert!(!storage.exists(&leftover));
    for kept in [&live, &open, &unlabelled] {
        assert!(storage.exists(&dir(kept)), "{kept:?}");
    }
    assert_eq!(h.log_end(&open), 1);
    assert!(
        !(storage.file_names().iter()).any(|n| n.to_string_lossy().contains("-delete")),
        "{:?}",
        storage.file_names()
    );
}

/// Seeds 10 and 809: a broker down while replicas of its were moved away removes their
/// directories once the metadata has this process's registration (so every reassignment
/// committed before it): one labelled with the topic's id, and one without a label (created
/// just before a crash that lost its unsynced label, as Kafka's `isStrayKraftReplica` takes a
/// log without a topic id). A directory labelled for another topic of the name (the deleted
/// topics' sweep decides it), one of a partition placed here, one of a topic the metadata does
/// not list, and the metadata log's own directory stay.
#[test]
fn directories_of_replicas_moved_away_while_down_go_once_the_registration_is_known() {
    let storage = Arc::new(MemStorage::new());
    let part = |topic: &str, partition: i32| TopicPartition {
        topic: topic.to_owned(),
        partition,
    };
    let (moved, kept, unlabelled, other) = (part("t", 0), part("t", 1), part("t", 2), part("t", 3));
    let (unknown, raft) = (
        part("u", 0),
        part(crate::types::topic_name::CLUSTER_METADATA_TOPIC, 0),
    );
    let mut h = Harness::new(storage.clone());
    for (tp, id) in [
        (&moved, [1u8; 16]),
        (&kept, [1; 16]),
        (&other, [9; 16]),
        (&unknown, [2; 16]),
    ] {
        assert_done(h.ask_until_idle(labelled(tp, id)));
    }
    h.ensure(&unlabelled, config(None));
    storage
        .create_dir_all(&crate::partition::replica::dir_for(&raft))
        .unwrap();

    // Restarted, waiting for its registration; t-1 is placed here and opens.
    let mut h = Harness {
        actor: Partitions::new(storage.clone()).gated(),
        ..h.restarted(storage.clone())
    };
    assert_done(h.ask_until_idle(labelled(&kept, [1; 16])));
    let from = Addr {
        node: NodeId(1),
        actor: crate::messages::LIFECYCLE,
    };
    let msg = NodeMsg::Partitions(PartitionsRequest::Registered(BrokerEpoch(5)));
    h.step(Input::Msg { from, msg });
    let placed = |replicas: &[u64]| PartitionLeader {
        topic_id: [1; 16],
        leader: Some(NodeId(replicas[0])),
        epoch: LeaderEpoch(1),
        partition_epoch: 1,
        isr: replicas.iter().copied().map(NodeId).collect(),
        replicas: replicas.iter().copied().map(NodeId).collect(),
    };
    let status = |epoch| BrokerStatus {
        epoch: BrokerEpoch(epoch),
        fenced: false,
    };
    let update = |registered: u64| LeadersUpdate {
        partitions: std::collections::BTreeMap::from([
            (moved.clone(), placed(&[2])),
            (kept.clone(), placed(&[1])),
            (unlabelled.clone(), placed(&[2])),
            (other.clone(), placed(&[2])),
        ]),
        brokers: std::collections::BTreeMap::from([
            (NodeId(1), status(registered)),
            (NodeId(2), status(2)),
        ]),
    };
    let dir = crate::partition::replica::dir_for;
    let tell = |h: &mut Harness, registered: u64| {
        let from = Addr {
            node: NodeId(1),
            actor: crate::messages::TOPICS,
        };
        let msg = NodeMsg::Partitions(PartitionsRequest::Leaders(update(registered)));
        let effects = h.step(Input::Msg { from, msg });
        h.complete(syncs(&effects));
    };
    // The metadata still has the previous process's registration: nothing goes yet.
    tell(&mut h, 3);
    assert!(storage.exists(&dir(&moved)) && storage.exists(&dir(&unlabelled)));
    tell(&mut h, 5);
    for gone in [&moved, &unlabelled] {
        assert!(
            !storage.exists(&dir(gone)),
            "{gone:?} {:?}",
            storage.file_names()
        );
    }
    for stays in [&kept, &other, &unknown, &raft] {
        assert!(storage.exists(&dir(stays)), "{stays:?}");
    }
}

#[test]
fn producer_state_survives_a_crash_through_a_snapshot_and_the_tail_after_it() {
    let storage = Arc::new(MemStorage::new());
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let (other, _) = h.init_producer();
    let (id, effects) = h.send(produce(-1, vec![(a.clone(), idempotent(pid, epoch, 0, 3))]));
    let mut effects = h.complete(syncs(&effects));
    assert!(take_reply(&mut effects, id).is_some());
    // The housekeeping timer snapshots the (fully synced) state at offset 3, in a job.
    let effects = h.step(Input::Timer {
        key: PartitionsTimer::Retention,
    });
    let snapshot = Path::new("a-0").join(format!("{:020}.snapshot", 3));
    assert!(!storage.exists(&snapshot), "not in the handler");
    h.complete(syncs(&effects));
    assert!(storage.exists(&snapshot), "{:?}", storage.file_names());
    let (id, effects) = h.send(produce(-1, vec![(a.clone(), idempotent(other, 0, 0, 1))]));
    let mut effects = h.complete(syncs(&effects));
    assert!(take_reply(&mut effects, id).is_some());
    storage.crash();

    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    let from_snapshot = h.produce_one(1, &a, idempotent(pid, epoch, 0, 3));
    assert_eq!(
        (from_snapshot.error_code, from_snapshot.base_offset.0),
        (ErrorCode::NONE, 0)
    );
    let from_tail = h.produce_one(1, &a, idempotent(other, 0, 0, 1));
    assert_eq!(
        (from_tail.error_code, from_tail.base_offset.0),
        (ErrorCode::NONE, 3)
    );
    assert_eq!(h.log_end(&a), 4);
    assert_eq!(h.actor.replica(&a).unwrap().producers().len(), 2);
}

#[test]
fn a_roll_writes_a_producer_snapshot_at_the_new_segment() {
    let storage = Arc::new(MemStorage::new());
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    let mut small = config(Some(0));
    small.segment_bytes = 100; // every batch (> 61 bytes) rolls
    h.ensure(&a, small);
    let (pid, _) = h.init_producer();
    h.produce_one(1, &a, idempotent(pid, 0, 0, 1));
    let (_, effects) = h.send(produce(1, vec![(a.clone(), idempotent(pid, 0, 1, 1))]));
    let snapshot = Path::new("a-0").join(format!("{:020}.snapshot", 1));
    // Written only once the flush covering the roll synced the sealed segment.
    assert!(!storage.exists(&snapshot), "{:?}", storage.file_names());
    h.complete(syncs(&effects));
    assert!(storage.exists(&snapshot), "{:?}", storage.file_names());
}

#[test]
fn a_long_poll_fetch_is_answered_by_an_append_or_by_its_timer() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(Some(0)));
    h.ensure(&b, config(Some(0)));

    let (waiting, effects) = h.send(fetch(&[(&a, 0), (&b, 0)], 1, 1 << 20));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Reply { .. })));
    let fetch_timer = timers(&effects);
    assert_eq!(fetch_timer.len(), 1);
    assert!(
        matches!(fetch_timer[0].0, PartitionsTimer::Fetch(_)),
        "{fetch_timer:?}"
    );
    assert_eq!(fetch_timer[0].1, 500);

    let (produced, mut effects) = h.send(produce(1, vec![(b.clone(), plain(b"hello"))]));
    assert!(take_reply(&mut effects, produced).is_some());
    let results = fetch_results(take_reply(&mut effects, waiting).expect("woken by the append"));
    assert!(results[0].records.is_empty());
    assert_eq!(batch_offsets(&results[1].records), vec![0]);
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::CancelTimer { key } if *key == fetch_timer[0].0)));

    // Not enough bytes for min_bytes: parked until the timer, then answered with what is there.
    let (waiting, effects) = h.send(fetch(&[(&a, 0)], 10_000, 1 << 20));
    let key = timers(&effects)[0].0;
    let (_, mut effects) = h.send(produce(1, vec![(a.clone(), plain(b"small"))]));
    assert!(take_reply(&mut effects, waiting).is_none());
    let mut effects = h.step(Input::Timer { key });
    let results = fetch_results(take_reply(&mut effects, waiting).expect("answered at timeout"));
    assert_eq!(batch_offsets(&results[0].records), vec![0]);
    // A stale timer for an answered fetch does nothing.
    assert!(h.step(Input::Timer { key }).is_empty());
}

/// At most `FETCH_PARKED_MAX` fetches wait: past it a fetch that would wait is answered at
/// once with what there is.
#[test]
fn past_the_parked_fetch_bound_a_fetch_is_answered_at_once() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    for _ in 0..crate::limits::FETCH_PARKED_MAX {
        let (id, mut effects) = h.send(fetch(&[(&a, 0)], 1, 1 << 20));
        assert!(take_reply(&mut effects, id).is_none(), "parked");
    }
    let (id, mut effects) = h.send(fetch(&[(&a, 0)], 1, 1 << 20));
    let results = fetch_results(take_reply(&mut effects, id).expect("answered at once"));
    assert_eq!(results[0].error_code, ErrorCode::NONE);
    assert!(results[0].records.is_empty());
    assert!(timers(&effects).is_empty(), "no timer: {effects:?}");
}

/// The flush timer of replica 0 and the timer of parked fetch 0 carry the same number. The old
/// packed `TimerKey(u64)` kept them apart with tag bits; the typed key must too: firing one
/// neither answers nor disarms the other.
#[test]
fn a_flush_timer_and_a_fetch_timer_with_the_same_id_are_distinct() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(200)));
    let (waiting, effects) = h.send(fetch(&[(&a, 0)], 10_000, 1 << 20));
    assert_eq!(timers(&effects), [(PartitionsTimer::Fetch(0), 500)]);
    let (produced, mut effects) = h.send(produce(1, vec![(a.clone(), plain(b"x"))]));
    assert!(take_reply(&mut effects, produced).is_some());
    assert_eq!(timers(&effects), [(PartitionsTimer::Flush(0), 200)]);
    assert!(
        take_reply(&mut effects, waiting).is_none(),
        "min_bytes not met"
    );

    h.now.unix_ms += 200;
    h.now.mono_ms += 200;
    let mut effects = h.step(Input::Timer {
        key: PartitionsTimer::Flush(0),
    });
    assert_eq!(syncs(&effects).len(), 1, "the flush timer syncs");
    assert!(
        take_reply(&mut effects, waiting).is_none(),
        "not the fetch's timer"
    );
    h.complete(syncs(&effects));

    let mut effects = h.step(Input::Timer {
        key: PartitionsTimer::Fetch(0),
    });
    assert!(syncs(&effects).is_empty(), "not the flush timer");
    let results = fetch_results(take_reply(&mut effects, waiting).expect("answered at timeout"));
    assert_eq!(batch_offsets(&results[0].records), vec![0]);
}

#[test]
fn fetch_respects_max_bytes_but_always_returns_a_batch_for_the_first_partition_with_data() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(Some(0)));
    h.ensure(&b, config(Some(0)));
    h.produce_one(1, &a, plain(b"1"));
    h.produce_one(1, &a, plain(b"2"));
    h.produce_one(1, &b, plain(b"3"));
    let results = fetch_results(h.ask(fetch(&[(&a, 0), (&b, 0)], 1, 1)));
    assert_eq!(batch_offsets(&results[0].records), vec![0]);
    assert!(results[1].records.is_empty());
    let results = fetch_results(h.ask(fetch(&[(&a, 0), (&b, 0)], 1, 1 << 20)));
    assert_eq!(batch_offsets(&results[0].records), vec![0, 1]);
    assert_eq!(batch_offsets(&results[1].records), vec![0]);
    // Errors come per partition, and answer at once.
    let unknown = tp("nope");
    let results = fetch_results(h.ask(fetch(&[(&a, 7), (&unknown, 0)], 1, 1 << 20)));
    assert_eq!(results[0].error_code, ErrorCode::OFFSET_OUT_OF_RANGE);
    assert_eq!(results[1].error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
}

fn list(h: &mut Harness, tp: &TopicPartition, timestamp: i64) -> ListOffsetsResult {
    let reply = h.ask(PartitionsRequest::ListOffsets(ListOffsetsRequest {
        isolation_level: 0,
        partitions: vec![(tp.clone(), timestamp)],
        current_leader_epochs: Default::default(),
    }));
    match reply {
        PartitionsReply::ListOffsets(mut results) => results.remove(0).1,
        other => panic!("{other:?}"),
    }
}

fn delete_records(h: &mut Harness, tp: &TopicPartition, offset: i64) -> DeleteRecordsResult {
    match h.ask_after_jobs(PartitionsRequest::DeleteRecords(DeleteRecordsRequest {
        partitions: vec![(tp.clone(), Offset(offset))],
    })) {
        PartitionsReply::DeleteRecords(mut results) => results.remove(0).1,
        other => panic!("{other:?}"),
    }
}

#[test]
fn list_offsets_and_delete_records_edges() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    assert_eq!(
        list(&mut h, &a, -3).offset.0,
        -1,
        "empty log has no max timestamp"
    );
    for ts in [1_000, 3_000, 2_000] {
        h.produce_one(1, &a, build_batch(&[(None, b"v")], ts));
    }
    let offset_of = |r: ListOffsetsResult| (r.error_code, r.timestamp, r.offset.0);
    assert_eq!(offset_of(list(&mut h, &a, -2)), (ErrorCode::NONE, -1, 0));
    assert_eq!(offset_of(list(&mut h, &a, -1)), (ErrorCode::NONE, -1, 3));
    assert_eq!(offset_of(list(&mut h, &a, -3)), (ErrorCode::NONE, 3_000, 1));
    assert_eq!(
        offset_of(list(&mut h, &a, 1_500)),
        (ErrorCode::NONE, 3_000, 1)
    );
    assert_eq!(
        offset_of(list(&mut h, &a, 9_999)),
        (ErrorCode::NONE, -1, -1)
    );
    assert_eq!(
        list(&mut h, &tp("nope"), -1).error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    let deleted = delete_records(&mut h, &a, 2);
    assert_eq!(
        (deleted.error_code, deleted.low_watermark.0),
        (ErrorCode::NONE, 2)
    );
    assert_eq!(offset_of(list(&mut h, &a, -2)), (ErrorCode::NONE, -1, 2));
    assert_eq!(
        delete_records(&mut h, &a, 1).low_watermark.0,
        2,
        "never goes back"
    );
    assert_eq!(
        delete_records(&mut h, &a, 99).error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE
    );
    let to_hw = delete_records(&mut h, &a, -1);
    assert_eq!(
        (to_hw.error_code, to_hw.low_watermark.0),
        (ErrorCode::NONE, 3)
    );
    assert_eq!(
        delete_records(&mut h, &tp("nope"), 0).error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    let results = fetch_results(h.ask(fetch(&[(&a, 0)], 1, 1 << 20)));
    assert_eq!(results[0].error_code, ErrorCode::OFFSET_OUT_OF_RANGE);
    assert_eq!(
        results[0].log_start_offset.0, 3,
        "tells the consumer where the log starts"
    );
}

/// DeleteRecords' lower edge: offset 0 is in range (nothing goes, the low watermark stays 0),
/// a negative offset other than -1 ("up to the high watermark") is not.
#[test]
fn delete_records_before_zero_deletes_nothing_and_a_negative_offset_is_out_of_range() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    h.produce_one(1, &a, build_batch(&[(None, b"v")], 1_000));
    let at_zero = delete_records(&mut h, &a, 0);
    assert_eq!(
        (at_zero.error_code, at_zero.low_watermark.0),
        (ErrorCode::NONE, 0)
    );
    assert_eq!(
        delete_records(&mut h, &a, -2).error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE
    );
}

/// A SetConfig for a partition that is offline is accepted, and the reopen opens the log with
/// the new config.
#[test]
fn a_config_set_while_the_partition_is_offline_is_taken_by_its_reopen() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (_, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"1"))]));
    let (token, _) = syncs(&effects)[0].clone();
    h.step(Input::Synced {
        token,
        result: Err("EIO".into()),
    });
    assert_eq!(h.actor.offline_count(), 1);
    let changed = LogConfig {
        segment_bytes: 4096,
        ..config(None)
    };
    let reply = h.ask(PartitionsRequest::SetConfig(SetConfigRequest {
        tp: a.clone(),
        config: changed,
    }));
    assert!(
        matches!(
            reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::NONE,
                ..
            })
        ),
        "{reply:?}"
    );
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += crate::limits::OFFLINE_LOG_RETRY_MS as i64;
    let reply = h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"2"))]));
    assert_eq!(produce_results(reply)[0].1.error_code, ErrorCode::NONE);
    let log = h.actor.replica(&a).expect("reopened").log();
    assert_eq!(log.config().segment_bytes, 4096);
}

#[test]
fn a_bad_partition_is_refused_without_touching_the_others() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, b, c) = (tp("a"), tp("b"), tp("c"));
    h.ensure(&a, config(Some(0)));
    h.ensure(&b, config(Some(0)));
    let mut tiny = config(Some(0));
    tiny.batch_bytes_max = 70;
    h.ensure(&c, tiny);
    let mut corrupt = plain(b"payload");
    let last = corrupt.len() - 2;
    corrupt[last] ^= 0xff;
    let results = produce_results(h.ask(produce(
        1,
        vec![
            (a.clone(), corrupt),
            (b.clone(), plain(b"fine")),
            (c.clone(), plain(b"far too large for seventy bytes")),
            (tp("nope"), plain(b"x")),
        ],
    )));
    let codes: Vec<(ErrorCode, i64)> = results
        .iter()
        .map(|(_, r)| (r.error_code, r.base_offset.0))
        .collect();
    assert_eq!(
        codes,
        vec![
            (ErrorCode::CORRUPT_MESSAGE, -1),
            (ErrorCode::NONE, 0),
            (ErrorCode::MESSAGE_TOO_LARGE, -1),
            (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1)
        ]
    );
    assert_eq!((h.log_end(&a), h.log_end(&b), h.log_end(&c)), (0, 1, 0));
}

#[test]
fn admin_requests_ensure_set_config_delete() {
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    h.ensure(&a, config(Some(0))); // idempotent
    h.produce_one(1, &a, plain(b"1"));
    let mut bad = config(Some(0));
    bad.segment_ms = 0;
    let reply = h.ask(PartitionsRequest::SetConfig(SetConfigRequest {
        tp: a.clone(),
        config: bad,
    }));
    assert!(
        matches!(
            reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::INVALID_CONFIG,
                ..
            })
        ),
        "{reply:?}"
    );
    let unknown = h.ask(PartitionsRequest::SetConfig(SetConfigRequest {
        tp: tp("nope"),
        config: config(None),
    }));
    assert!(matches!(
        unknown,
        PartitionsReply::Done(Done {
            error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ..
        })
    ));
    let traversal = h.ask(PartitionsRequest::Ensure(EnsureRequest {
        tp: tp("../evil"),
        config: config(None),
        topic_id: [0; 16],
    }));
    assert!(matches!(
        traversal,
        PartitionsReply::Done(Done {
            error_code: ErrorCode::INVALID_TOPIC_EXCEPTION,
            ..
        })
    ));

    // A fetch parked on the partition is answered when it is deleted.
    let (waiting, _) = h.send(fetch(&[(&a, 1)], 1, 1 << 20));
    let (id, mut effects) = h.send(PartitionsRequest::Delete(DeletePartitionRequest {
        tp: a.clone(),
    }));
    let results = fetch_results(take_reply(&mut effects, waiting).expect("answered"));
    assert_eq!(results[0].error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    assert!(
        take_reply(&mut effects, id).is_none(),
        "waits for the removal"
    );
    assert!(storage.exists(Path::new("a-0")), "removed by the job");
    let mut effects = h.complete(syncs(&effects));
    assert!(matches!(
        take_reply(&mut effects, id),
        Some(PartitionsReply::Done(Done {
            error_code: ErrorCode::NONE,
            ..
        }))
    ));
    assert!(!storage.exists(Path::new("a-0")));
    assert_eq!(
        h.produce_one(1, &a, plain(b"x")).error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    let again = h.ask(PartitionsRequest::Delete(DeletePartitionRequest {
        tp: a.clone(),
    }));
    assert!(matches!(
        again,
        PartitionsReply::Done(Done {
            error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ..
        })
    ));
    // Re-created empty.
    h.ensure(&a, config(Some(0)));
    assert_eq!(h.log_end(&a), 0);
}

#[test]
fn start_arms_the_retention_timer_which_applies_retention_and_rearms() {
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    let effects = h.step(Input::Start);
    assert_eq!(
        timers(&effects),
        vec![(PartitionsTimer::Retention, RETENTION_CHECK_INTERVAL_MS)]
    );
    let a = tp("a");
    let mut short = config(Some(0));
    short.retention_ms = Some(1_000);
    short.segment_bytes = 100; // one batch per segment
    h.ensure(&a, short);
    for _ in 0..3 {
        let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(b"old"))]));
        h.complete(syncs(&effects)); // the rolls' flushes
    }
    h.now.unix_ms += 10_000;
    let effects = h.step(Input::Timer {
        key: PartitionsTimer::Retention,
    });
    assert_eq!(
        timers(&effects),
        vec![(PartitionsTimer::Retention, RETENTION_CHECK_INTERVAL_MS)]
    );
    let log = h.actor.replica(&a).unwrap().log();
    assert_eq!(log.log_start_offset(), 3, "expired segments left the log");
    assert_eq!(log.durable_log_start(), 0, "checkpointed by the flush job");
    let first = Path::new("a-0").join(format!("{:020}.log", 0));
    assert!(storage.exists(&first), "removed by the flush job");
    let jobs = syncs(&effects);
    assert_eq!(jobs.len(), 1, "the timer scheduled the flush: {effects:?}");
    h.complete(jobs);
    assert!(!storage.exists(&first));
    assert_eq!(durable_log_start(&storage, "a-0"), Some(3));
    assert_eq!(h.actor.replica(&a).unwrap().log().durable_log_start(), 3);
}

#[test]
fn an_acks_all_retry_of_a_batch_not_yet_durable_waits_for_the_same_sync() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let (original, effects) = h.send(produce(-1, vec![(a.clone(), idempotent(pid, epoch, 0, 1))]));
    let in_flight = syncs(&effects);
    assert_eq!(in_flight.len(), 1);
    let (retry, effects) = h.send(produce(-1, vec![(a.clone(), idempotent(pid, epoch, 0, 1))]));
    // The retry waits for the original's sync.
    assert_only_produce_timer(&effects, 1);
    let mut effects = h.complete(in_flight);
    for id in [original, retry] {
        let results = produce_results(take_reply(&mut effects, id).expect("answered"));
        assert_eq!(
            (results[0].1.error_code, results[0].1.base_offset.0),
            (ErrorCode::NONE, 0)
        );
    }
    assert!(syncs(&effects).is_empty());
    assert_eq!(h.log_end(&a), 1);
}

#[test]
fn log_append_time_topics_stamp_batches_and_answer_the_time() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (stamped, plain_topic) = (tp("stamped"), tp("plain"));
    let log_append = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..config(Some(0))
    };
    h.ensure(&stamped, log_append);
    h.ensure(&plain_topic, config(Some(0)));
    let (pid, epoch) = h.init_producer();
    let first = h.produce_one(1, &stamped, idempotent(pid, epoch, 0, 2));
    assert_eq!((first.base_offset.0, first.log_append_time_ms), (0, T0_MS));
    let plain_result = h.produce_one(1, &plain_topic, plain(b"p"));
    assert_eq!(plain_result.log_append_time_ms, -1, "CreateTime keeps -1");
    // A retry later is answered with the original's stamp, not the retry's time.
    h.now.unix_ms += 5_000;
    let retry = h.produce_one(1, &stamped, idempotent(pid, epoch, 0, 2));
    assert_eq!((retry.base_offset.0, retry.log_append_time_ms), (0, T0_MS));
    let later = h.produce_one(1, &stamped, build_batch(&[(None, b"x")], 1));
    assert_eq!(
        (later.base_offset.0, later.log_append_time_ms),
        (2, T0_MS + 5_000)
    );
    let results = fetch_results(h.ask(fetch(&[(&stamped, 0)], 0, 1 << 20)));
    let header = batch::validate_batch(&results[0].records, usize::MAX).unwrap();
    assert!(header.is_log_append_time());
    assert_eq!(header.max_timestamp_ms, T0_MS);
    let found = list(&mut h, &stamped, T0_MS + 1);
    assert_eq!((found.timestamp, found.offset.0), (T0_MS + 5_000, 2));
}

#[test]
fn list_offsets_by_timestamp_lands_on_the_record_inside_a_batch() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    let records: Vec<(Option<&[u8]>, &[u8])> = (0..10).map(|_| (None, &b"v"[..])).collect();
    let timestamps: Vec<i64> = (0..10).map(|i| T0_MS + 1_000 * i).collect();
    h.produce_one(
        1,
        &a,
        batch::build_batch_with_timestamps(&records, &timestamps),
    );
    let at = |h: &mut Harness, ms| {
        let r = list(h, &a, ms);
        (r.timestamp, r.offset.0)
    };
    assert_eq!(at(&mut h, T0_MS + 3_500), (T0_MS + 4_000, 4));
    assert_eq!(at(&mut h, T0_MS + 9_000), (T0_MS + 9_000, 9));
    assert_eq!(at(&mut h, T0_MS + 9_001), (-1, -1));
    assert_eq!(at(&mut h, -3), (T0_MS + 9_000, 9));
}

/// Found in review: an idempotent batch whose header claims a negative `lastOffsetDelta` (with
/// a valid CRC) reached the sequence arithmetic before validation and overflowed, killing the
/// actor in debug builds. It must be refused like any corrupt batch, and the partition keeps
/// working.
#[test]
fn an_idempotent_batch_with_a_negative_last_offset_delta_is_refused_not_a_panic() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    let (pid, epoch) = h.init_producer();
    assert_eq!(
        h.produce_one(1, &a, idempotent(pid, epoch, 0, 1))
            .error_code,
        ErrorCode::NONE
    );
    let mut bad = idempotent(pid, epoch, 1, 1);
    bad[23..27].copy_from_slice(&(-1i32).to_be_bytes());
    let crc = batch::compute_crc(&bad);
    bad[17..21].copy_from_slice(&crc.to_be_bytes());
    let refused = h.produce_one(1, &a, bad);
    assert_eq!(refused.error_code, ErrorCode::CORRUPT_MESSAGE);
    assert_eq!(h.log_end(&a), 1, "nothing written");
    assert_eq!(
        h.produce_one(1, &a, idempotent(pid, epoch, 1, 1))
            .error_code,
        ErrorCode::NONE
    );
}

/// Control batches (transaction markers) are the broker's to write: Kafka's
/// `LogValidator.validateBatch` refuses one from a client with INVALID_RECORD ("Clients are
/// not allowed to write control records"). Accepted, a client's marker would hide its records
/// from consumers (they skip control batches) and, sent by an idempotent producer, enter the
/// producer's live sequence window while a rebuild from the log leaves it out.
#[test]
fn a_client_may_not_write_a_control_batch() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    h.ensure(&a, config(Some(0)));
    let control = |mut b: Vec<u8>| {
        b[21 + 1] |= 0x30; // attributes (@21): transactional and control
        let crc = batch::compute_crc(&b);
        b[17..21].copy_from_slice(&crc.to_be_bytes()); // crc (@17)
        b
    };
    let (pid, epoch) = h.init_producer();
    for marker in [control(plain(b"x")), control(idempotent(pid, epoch, 0, 1))] {
        let refused = h.produce_one(1, &a, marker);
        assert_eq!(refused.error_code, ErrorCode::INVALID_RECORD);
    }
    assert_eq!(h.log_end(&a), 0, "nothing written");
    // The producer's sequence 0 is still free: the refused marker did not take it.
    let first = h.produce_one(1, &a, idempotent(pid, epoch, 0, 1));
    assert_eq!(first.error_code, ErrorCode::NONE);
    assert_eq!(h.log_end(&a), 1, "appended, not a duplicate");
}

// ---- role and high watermark -----------------------------------------------------------

/// Opens a replica and runs its first persist job (the open's durability), as the actor does.
fn open_replica(storage: &Arc<MemStorage>, role: Role) -> Replica {
    open_replica_with(storage, role, config(Some(0)))
}

/// [`open_replica`] with the log's config given.
fn open_replica_with(storage: &Arc<MemStorage>, role: Role, config: LogConfig) -> Replica {
    let storage: Arc<dyn Storage> = storage.clone();
    let mut replica = Replica::open(
        storage,
        &tp("r"),
        config,
        T0_MS,
        0,
        NodeId(1),
        role,
        1,
        None,
    )
    .expect("opens on memory");
    assert!(
        replica.is_opening(),
        "a new log's directory is not durable yet"
    );
    let job = replica.start_sync().expect("the open's job");
    let outcome = replica.finish_sync(job.run().map_err(|e| e.to_string()));
    assert!(outcome.durable.is_empty() && outcome.failed.is_empty());
    assert!(!replica.is_opening());
    replica
}

#[test]
fn a_sole_leaders_high_watermark_is_its_log_end_after_every_append_and_reopen() {
    let storage = Arc::new(MemStorage::new());
    let mut replica = open_replica(&storage, Role::sole_leader(NodeId(1)));
    assert_eq!(replica.high_watermark(), Offset(0));
    let ends = |replica: &Replica| (replica.log().log_end_offset(), replica.high_watermark());
    let two = build_batch(&[(None, b"x"), (None, b"y")], T0_MS);
    replica.produce(two, None, T0_MS).expect("appended");
    assert_eq!(ends(&replica), (2, Offset(2)));
    replica.produce(plain(b"z"), None, T0_MS).expect("appended");
    assert_eq!(ends(&replica), (3, Offset(3)));
    let job = replica
        .begin_close()
        .expect("no job running")
        .expect("a close job");
    job.run().expect("runs");
    replica.finish_close(Ok(())).result.expect("closed");
    let reopened = open_replica(&storage, Role::sole_leader(NodeId(1)));
    assert_eq!(
        reopened.high_watermark(),
        Offset(3),
        "computed again on open"
    );
}

/// The periodic tick expires idle producers, but not on a closing replica: its close job took
/// its snapshot and nothing may change under it.
#[test]
fn a_tick_leaves_a_closing_replica_alone() {
    let with_a_producer = || {
        let mut replica = open_replica(&Arc::new(MemStorage::new()), Role::sole_leader(NodeId(1)));
        replica
            .produce(idempotent(ProducerId(5), 0, 0, 1), None, T0_MS)
            .expect("appended");
        assert_eq!(replica.producers().len(), 1);
        replica
    };
    let idle = T0_MS + crate::limits::PRODUCER_ID_EXPIRATION_MS + 1;
    let mut open = with_a_producer();
    open.tick(idle);
    assert_eq!(
        open.producers().len(),
        0,
        "an open replica's tick expires it"
    );
    let mut closing = with_a_producer();
    let _job = closing
        .begin_close()
        .expect("no job running")
        .expect("a close job");
    closing.tick(idle);
    assert_eq!(closing.producers().len(), 1, "the tick did nothing");
}

/// The tick asks for a producer snapshot only when the whole log is durable (under
/// `flush.policy=os` an unsynced tail gets no fsync for it), and once per log end: a snapshot
/// already written at the end is not asked for again.
#[test]
fn a_tick_snapshots_only_a_durable_log_and_once_per_log_end() {
    let mut replica = open_replica(&Arc::new(MemStorage::new()), Role::sole_leader(NodeId(1)));
    replica
        .produce(idempotent(ProducerId(5), 0, 0, 1), None, T0_MS)
        .expect("appended");
    assert!(replica.is_unsynced() && !replica.needs_sync());
    replica.tick(T0_MS);
    assert!(!replica.needs_sync(), "no snapshot of an unsynced tail");
    let sync = |replica: &mut Replica| {
        let job = replica.start_sync().expect("a flush job");
        let outcome = replica.finish_sync(job.run().map_err(|e| e.to_string()));
        assert!(outcome.failed.is_empty());
    };
    sync(&mut replica); // as a roll's or a close's flush would
    assert!(!replica.is_unsynced());
    replica.tick(T0_MS);
    assert!(
        replica.needs_sync(),
        "durable now: a snapshot at the end is due"
    );
    sync(&mut replica);
    replica.tick(T0_MS);
    assert!(
        !replica.needs_sync(),
        "the snapshot at the log end is written: nothing is due"
    );
}

/// Kafka's `LogValidator.validateTimestamp`: only a CreateTime topic holds the producer's
/// timestamps to `message.timestamp.{before,after}.max.ms`; a LogAppendTime topic replaces
/// them with its own clock, so any is accepted.
#[test]
fn only_create_time_topics_refuse_timestamps_outside_the_bounds() {
    let leader = || Role::sole_leader(NodeId(1));
    let two_hours_ahead = || build_batch(&[(None, b"v")], T0_MS + 2 * 60 * 60 * 1000);
    let mut create_time = open_replica(&Arc::new(MemStorage::new()), leader());
    let refused = create_time
        .produce(two_hours_ahead(), None, T0_MS)
        .expect_err("past message.timestamp.after.max.ms (1 h)");
    assert_eq!(refused.refusal.code, ErrorCode::INVALID_TIMESTAMP);
    assert_eq!(create_time.log().log_end_offset(), 0, "nothing written");
    let log_append = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..config(Some(0))
    };
    let mut stamped = open_replica_with(&Arc::new(MemStorage::new()), leader(), log_append);
    stamped
        .produce(two_hours_ahead(), None, T0_MS)
        .expect("the broker's time replaces the producer's");
    assert_eq!(stamped.log().log_end_offset(), 1);
}

#[test]
fn appended_batches_carry_the_roles_leader_epoch() {
    let role = Role::Leader {
        epoch: LeaderEpoch(5),
        partition_epoch: 0,
        isr: [NodeId(1)].into(),
    };
    let mut replica = open_replica(&Arc::new(MemStorage::new()), role);
    replica.produce(plain(b"v"), None, T0_MS).expect("appended");
    let slice = replica.log().read(0, 1 << 20).expect("readable");
    let header = batch::BatchHeader::parse(&slice.bytes).expect("a batch");
    assert_eq!(header.partition_leader_epoch, 5);
}

/// A leader's epoch starts at its log end the moment it leads, not at its first append
/// (Kafka PR 5678): the open's job writes it, and appends in that epoch write nothing more.
#[test]
fn a_leaders_epoch_is_in_the_epoch_file_from_the_opens_job_on() {
    let storage = Arc::new(MemStorage::new());
    let role = Role::Leader {
        epoch: LeaderEpoch(5),
        partition_epoch: 0,
        isr: [NodeId(1)].into(),
    };
    let mut replica = open_replica(&storage, role);
    let file = Path::new("r-0").join("leader-epoch-checkpoint");
    assert_eq!(
        storage.durable_file(&file).as_deref(),
        Some(&b"0\n1\n5 0\n"[..]),
        "Kafka's format: version, count, `epoch start_offset`"
    );
    replica.produce(plain(b"v"), None, T0_MS).expect("appended");
    replica.produce(plain(b"w"), None, T0_MS).expect("appended");
    assert_eq!(replica.log().latest_epoch(), Some(5));
    let job = replica.start_sync().expect("a flush job");
    assert!(
        !job.ops()
            .iter()
            .any(|op| matches!(op, PersistOp::ReplaceFile { .. })),
        "the epoch is not written again: {:?}",
        job.ops()
    );
    job.run().expect("runs");
    let outcome = replica.finish_sync(Ok(()));
    assert!(outcome.failed.is_empty());
    assert!(!replica.needs_sync(), "nothing left to flush");
}

/// Issue 15: a replica knows its open transactions. read_committed reads stop below the first
/// one's first offset (the LSO, exclusive) where read_uncommitted reads to the HW, and
/// ListOffsets' latest answers the LSO to read_committed; a marker the follower appends closes
/// the transaction once the HW passes it; and a reopen rebuilds an open transaction from the
/// log, marker or not.
#[test]
fn read_committed_stops_below_the_first_open_transaction() {
    use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
    use crate::storage::marker::{build_marker, Marker};
    let storage = Arc::new(MemStorage::new());
    let follower = Role::Follower {
        leader: Some(NodeId(2)),
        epoch: LeaderEpoch(0),
    };
    let mut replica = open_replica(&storage, follower.clone());
    let at = |mut b: Vec<u8>, offset: i64| {
        batch::set_base_offset(&mut b, offset).unwrap();
        batch::set_partition_leader_epoch(&mut b, 0).unwrap();
        b
    };
    let txn = |seq: i32, value: &[u8]| {
        let stamp = ProducerStamp {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence: seq,
            attributes: TRANSACTIONAL_BIT,
        };
        build_stamped_batch(&[(None, Some(value))], T0_MS, stamp)
    };
    let mut records = at(plain(b"a"), 0);
    records.extend(at(txn(0, b"t0"), 1));
    records.extend(at(txn(1, b"t1"), 2));
    replica
        .append_as_follower(&records, Offset(3), T0_MS)
        .unwrap();
    assert_eq!(replica.high_watermark(), Offset(3));
    assert_eq!(replica.last_stable_offset(), Offset(1));
    let replicas: std::collections::BTreeMap<TopicPartition, Replica> =
        [(tp("r"), replica)].into_iter().collect();
    let read = |replicas: &std::collections::BTreeMap<TopicPartition, Replica>, isolation| {
        let PartitionsRequest::Fetch(mut request) = fetch(&[(&tp("r"), 0)], 0, 1 << 20) else {
            unreachable!()
        };
        request.isolation_level = isolation;
        let result = super::reads::read_fetch(replicas, &request, &[])
            .results
            .remove(0);
        let ends: Vec<i64> = (batch::Batches::stored(&result.records))
            .map(|item| item.unwrap().1.next_offset())
            .collect();
        (ends, result.last_stable_offset)
    };
    assert_eq!(read(&replicas, 0), (vec![1, 2, 3], Offset(1)));
    assert_eq!(
        read(&replicas, 1),
        (vec![1], Offset(1)),
        "below the LSO only"
    );
    let latest = |replica: &Replica, committed| {
        super::reads::list_offset(replica, super::reads::LATEST_TIMESTAMP, committed).offset
    };
    let mut replica = replicas.into_values().next().unwrap();
    assert_eq!(
        (latest(&replica, false), latest(&replica, true)),
        (Offset(3), Offset(1))
    );

    // Reopened with the transaction open: rebuilt from the log.
    let closing = replica.begin_close().unwrap().unwrap();
    closing.run().unwrap();
    replica.finish_close(Ok(())).result.unwrap();
    let mut replica = open_replica(&storage, follower);
    replica.follow_high_watermark(Offset(3));
    assert_eq!(
        replica.last_stable_offset(),
        Offset(1),
        "still open after the reopen"
    );
    // The leader's log start moved past the transaction's first batch: the LSO is never below
    // it (Kafka's maybeIncrementFirstUnstableOffset).
    replica.follow_log_start(Offset(2), T0_MS).unwrap();
    assert_eq!(replica.last_stable_offset(), Offset(2));

    let commit = Marker {
        commit: true,
        coordinator_epoch: 0,
    };
    let marker = at(build_marker(7, 0, commit, T0_MS), 3);
    replica
        .append_as_follower(&marker, Offset(3), T0_MS)
        .unwrap();
    assert_eq!(
        replica.last_stable_offset(),
        Offset(2),
        "the marker is not below the HW"
    );
    replica.follow_high_watermark(Offset(4));
    assert_eq!(
        replica.last_stable_offset(),
        Offset(4),
        "committed and replicated"
    );
    let entry = replica.producers().get(ProducerId(7)).unwrap();
    assert_eq!(entry.current_txn_first_offset, None);
}

/// Issue 15: the coordinator's markers. A leader appends a COMMIT marker for a producer's open
/// transaction as a control batch and answers once it is acknowledged; the LSO moves past it.
/// A marker from an older producer epoch is INVALID_PRODUCER_EPOCH, from an older coordinator
/// epoch TRANSACTION_COORDINATOR_FENCED, and one for a partition not here is refused; nothing
/// is written for them.
#[test]
fn markers_close_a_transaction_once_acknowledged_and_older_epochs_are_fenced() {
    use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
    use crate::storage::marker::{read_control, Control, Marker};
    let a = tp("a");
    let mut h = Harness::with_transactional_writes(Arc::new(MemStorage::new()));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let stamp = ProducerStamp {
        producer_id: pid.0,
        producer_epoch: epoch,
        base_sequence: 0,
        attributes: TRANSACTIONAL_BIT,
    };
    let txn = build_stamped_batch(&[(None, Some(b"t"))], T0_MS, stamp);
    // Its sync runs too, so the marker's write starts one of its own.
    let produced = produce_results(h.ask_until_idle(produce(1, vec![(a.clone(), txn)])));
    assert_eq!(produced[0].1.error_code, ErrorCode::NONE);
    assert_eq!(h.actor.replica(&a).unwrap().last_stable_offset(), Offset(0));
    let write = |tp: &TopicPartition, producer_epoch: i16, coordinator_epoch: i32| {
        PartitionsRequest::WriteMarkers(WriteMarkersRequest {
            markers: vec![MarkerWrite {
                tp: tp.clone(),
                producer_id: pid,
                producer_epoch,
                coordinator_epoch,
                commit: true,
            }],
            timeout_ms: PRODUCE_TIMEOUT_MS,
        })
    };
    let answer = |reply| produce_results(reply).remove(0).1;
    let committed = answer(h.ask_after_jobs(write(&a, epoch, 3)));
    assert_eq!(committed.error_code, ErrorCode::NONE);
    assert_eq!(committed.base_offset, Offset(1));
    let replica = h.actor.replica(&a).unwrap();
    assert_eq!(
        replica.last_stable_offset(),
        Offset(2),
        "committed and acknowledged"
    );
    let stored = replica.log().read(1, 1 << 20).unwrap();
    let expected = Marker {
        commit: true,
        coordinator_epoch: 3,
    };
    assert_eq!(read_control(&stored.bytes), Ok(Control::Marker(expected)));

    // A coordinator's fence bumps the producer's epoch: the older epoch is refused after it.
    assert_eq!(
        answer(h.ask_after_jobs(write(&a, epoch + 1, 3))).error_code,
        ErrorCode::NONE
    );
    let refused = |h: &mut Harness, request| answer(h.ask(request)).error_code;
    assert_eq!(
        refused(&mut h, write(&a, epoch, 3)),
        ErrorCode::INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        refused(&mut h, write(&a, epoch + 1, 2)),
        ErrorCode::TRANSACTION_COORDINATOR_FENCED
    );
    assert_eq!(
        refused(&mut h, write(&tp("elsewhere"), epoch + 1, 3)),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(h.log_end(&a), 3, "nothing written for the refused markers");
}

#[test]
fn list_offsets_answers_the_epoch_of_the_found_record_and_the_leaders_epoch_for_the_latest() {
    let storage = Arc::new(MemStorage::new());
    let leader_in = |epoch| Role::Leader {
        epoch: LeaderEpoch(epoch),
        partition_epoch: 0,
        isr: [NodeId(1)].into(),
    };
    let empty = open_replica(&storage, leader_in(2));
    let earliest = super::reads::list_offset(&empty, super::reads::EARLIEST_TIMESTAMP, false);
    assert_eq!(
        earliest.leader_epoch,
        LeaderEpoch(2),
        "no record yet: the leader's epoch, which Kafka assigns at its log end"
    );
    drop(empty);
    let mut replica = open_replica(&storage, leader_in(2));
    replica.produce(plain(b"v"), None, T0_MS).expect("appended");
    let job = replica
        .begin_close()
        .expect("no job running")
        .expect("a close job");
    job.run().expect("runs");
    replica.finish_close(Ok(())).result.expect("closed");
    let replica = open_replica(&storage, leader_in(5));
    let answer = |timestamp| {
        let result = super::reads::list_offset(&replica, timestamp, false);
        (result.offset, result.leader_epoch)
    };
    assert_eq!(
        answer(super::reads::EARLIEST_TIMESTAMP),
        (Offset(0), LeaderEpoch(2))
    );
    assert_eq!(answer(T0_MS), (Offset(0), LeaderEpoch(2)), "by timestamp");
    assert_eq!(
        answer(super::reads::LATEST_TIMESTAMP),
        (Offset(1), LeaderEpoch(5)),
        "the latest offset carries the leader's current epoch"
    );
    assert_eq!(
        answer(T0_MS + 1),
        (Offset::UNKNOWN, LeaderEpoch::UNKNOWN),
        "nothing that recent"
    );
}

#[test]
fn the_high_watermark_waits_for_an_in_sync_replica_it_has_not_heard_from() {
    let role = Role::Leader {
        epoch: LeaderEpoch::INITIAL,
        partition_epoch: 0,
        isr: [NodeId(1), NodeId(2)].into(),
    };
    let mut replica = open_replica(&Arc::new(MemStorage::new()), role);
    replica
        .produce(plain(b"v"), None, T0_MS)
        .expect("the leader appends");
    assert_eq!(replica.log().log_end_offset(), 1);
    assert_eq!(replica.high_watermark(), Offset(0), "not committed yet");
}

#[test]
fn a_follower_refuses_produce_with_not_leader_or_follower() {
    let role = Role::Follower {
        leader: Some(NodeId(2)),
        epoch: LeaderEpoch(1),
    };
    let mut replica = open_replica(&Arc::new(MemStorage::new()), role);
    let refused = replica
        .produce(plain(b"v"), None, T0_MS)
        .expect_err("only the leader appends");
    assert_eq!(refused.refusal.code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(replica.log().log_end_offset(), 0, "nothing written");
}

/// The offset in a checkpoint file as a crash would find it (`None` if absent). The format is
/// `docs/log-format.md`'s: the offset is the big-endian i64 at byte 8.
fn durable_checkpoint(storage: &MemStorage, dir: &str, name: &str) -> Option<i64> {
    let bytes = storage.durable_file(&Path::new(dir).join(name))?;
    Some(i64::from_be_bytes(bytes[8..16].try_into().ok()?))
}

fn durable_recovery_point(storage: &MemStorage, dir: &str) -> Option<i64> {
    durable_checkpoint(storage, dir, "recovery-point.checkpoint")
}

fn durable_log_start(storage: &MemStorage, dir: &str) -> Option<i64> {
    durable_checkpoint(storage, dir, "log-start-offset.checkpoint")
}

/// An acks=all produce that rolls the segment, with the handler forbidden to fsync. Returns
/// the harness (one acknowledged batch at offset 0, one appended at offset 1 waiting for its
/// flush), the waiting request and the effects of the rolling produce.
fn roll_in_a_handler(storage: &Arc<MemStorage>) -> (Harness, RequestId, Effects) {
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    let mut small = config(None);
    small.segment_bytes = 100; // every batch (> 61 bytes) rolls
    h.ensure(&a, small);
    storage.forbid_sync(true);
    let (first, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"one"))]));
    storage.forbid_sync(false);
    let jobs = syncs(&effects);
    assert!(
        matches!(&jobs[..], [(_, job)] if matches!(job.ops(), [PersistOp::SyncFiles(files)] if files.len() == 1)),
        "without a roll the job syncs one file (epoch 0 was written by the open): {jobs:?}"
    );
    let mut effects = h.complete(syncs(&effects));
    assert!(take_reply(&mut effects, first).is_some(), "acknowledged");
    assert_eq!(durable_recovery_point(storage, "a-0"), Some(0));

    storage.forbid_sync(true); // the roll below would panic on any fsync
    let (second, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"two"))]));
    storage.forbid_sync(false);
    assert_eq!(
        h.actor.replica(&a).unwrap().log().segment_base_offsets(),
        vec![0, 1],
        "the handler rolled"
    );
    (h, second, effects)
}

#[test]
fn a_segment_roll_is_flushed_by_a_persist_effect_and_its_completion() {
    let storage = Arc::new(MemStorage::new());
    let (mut h, id, mut effects) = roll_in_a_handler(&storage);
    assert!(
        take_reply(&mut effects, id).is_none(),
        "waits for the flush"
    );
    let jobs = syncs(&effects);
    assert_eq!(jobs.len(), 1, "{effects:?}");
    match jobs[0].1.ops() {
        // The producer snapshot at the roll follows the syncs (D3).
        [PersistOp::SyncFiles(sealed), PersistOp::SyncFiles(active), PersistOp::SyncDir(dir), PersistOp::ReplaceFile { path, .. }, PersistOp::ReplaceFile { path: snapshot, .. }] =>
        {
            assert!(snapshot.ends_with(format!("{:020}.snapshot", 1)));
            assert_eq!(
                sealed.len(),
                3,
                ".log, .index, .timeindex of the sealed segment"
            );
            assert_eq!(active.len(), 1);
            assert_eq!(dir, Path::new("a-0"));
            assert_eq!(path, &Path::new("a-0").join("recovery-point.checkpoint"));
        }
        other => panic!("unexpected ops {other:?}"),
    }
    // Nothing moved on disk yet.
    assert_eq!(durable_recovery_point(&storage, "a-0"), Some(0));

    let mut effects = h.complete(jobs);
    let reply = take_reply(&mut effects, id).expect("answered once flushed");
    assert_eq!(produce_results(reply)[0].1.base_offset, Offset(1));
    assert_eq!(durable_recovery_point(&storage, "a-0"), Some(1));
    assert_eq!(h.actor.replica(&tp("a")).unwrap().log().recovery_point(), 1);
}

#[test]
fn a_crash_between_a_roll_and_its_flush_keeps_what_was_acknowledged() {
    let storage = Arc::new(MemStorage::new());
    let (_, id, mut effects) = roll_in_a_handler(&storage);
    assert!(take_reply(&mut effects, id).is_none());
    assert_eq!(syncs(&effects).len(), 1);
    storage.crash(); // the flush job never ran
    assert_eq!(
        durable_recovery_point(&storage, "a-0"),
        Some(0),
        "recovery starts from the old recovery point"
    );

    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    assert!(h.log_end(&a) >= 1, "the acknowledged batch survived");
    let reply = h.ask(fetch(&[(&a, 0)], 1, 1 << 20));
    let fetched = fetch_results(reply).remove(0);
    assert_eq!(batch_offsets(&fetched.records)[0], 0);
}

// ---- durability through persist jobs: DeleteRecords, shutdown, delete ----------------------

/// Three one-batch segments, all durable, in a partition whose handlers may not fsync.
fn three_durable_segments(storage: &Arc<MemStorage>) -> Harness {
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    let mut small = config(None);
    small.segment_bytes = 100; // every batch (> 61 bytes) rolls
    h.ensure(&a, small);
    for value in [b"one", b"two", b"six"] {
        h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(value))]));
    }
    assert_eq!(
        h.actor.replica(&a).unwrap().log().segment_base_offsets(),
        vec![0, 1, 2]
    );
    h
}

fn delete_records_request(tp: &TopicPartition, offset: i64) -> PartitionsRequest {
    PartitionsRequest::DeleteRecords(DeleteRecordsRequest {
        partitions: vec![(tp.clone(), Offset(offset))],
    })
}

#[test]
fn delete_records_answers_once_its_log_start_is_durable_and_then_removes_the_files() {
    let storage = Arc::new(MemStorage::new());
    let mut h = three_durable_segments(&storage);
    let a = tp("a");
    let (id, mut effects) = h.send(delete_records_request(&a, 2));
    assert!(take_reply(&mut effects, id).is_none(), "waits for the job");
    assert_eq!(h.log_end(&a), 3);
    let results = fetch_results(h.ask(fetch(&[(&a, 0)], 1, 1 << 20)));
    assert_eq!(
        results[0].error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE,
        "reads refuse below the new start at once"
    );
    let jobs = syncs(&effects);
    assert_eq!(jobs.len(), 1, "{effects:?}");
    let ops: Vec<String> = jobs[0].1.ops().iter().map(|op| format!("{op:?}")).collect();
    let checkpoint = ops
        .iter()
        .position(|op| op.contains("log-start-offset.checkpoint"))
        .expect("writes the log start");
    let removal = ops
        .iter()
        .position(|op| op.starts_with("RemoveFile"))
        .expect("removes the segments");
    assert!(checkpoint < removal, "{ops:?}");
    let first = Path::new("a-0").join(format!("{:020}.log", 0));
    assert!(storage.exists(&first));
    assert_eq!(durable_log_start(&storage, "a-0"), None);

    let mut effects = h.complete(jobs);
    match take_reply(&mut effects, id).expect("answered after the job") {
        PartitionsReply::DeleteRecords(results) => {
            assert_eq!(results[0].1.error_code, ErrorCode::NONE);
            assert_eq!(results[0].1.low_watermark, Offset(2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(durable_log_start(&storage, "a-0"), Some(2));
    assert!(!storage.exists(&first), "{:?}", storage.file_names());
}

#[test]
fn a_crash_before_the_delete_records_job_keeps_the_old_log_start_and_all_data() {
    let storage = Arc::new(MemStorage::new());
    let mut h = three_durable_segments(&storage);
    let a = tp("a");
    let (id, mut effects) = h.send(delete_records_request(&a, 2));
    assert!(take_reply(&mut effects, id).is_none());
    assert_eq!(syncs(&effects).len(), 1);
    storage.crash(); // the job never ran; nobody was told the records are gone

    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    let log = h.actor.replica(&a).unwrap().log();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 3));
    for offset in 0..3 {
        let fetched = fetch_results(h.ask(fetch(&[(&a, offset)], 1, 1 << 20))).remove(0);
        assert_eq!(
            batch_offsets(&fetched.records),
            vec![offset],
            "all data is back"
        );
    }
}

#[test]
fn shutdown_answers_once_every_replica_closed_with_its_one_close_job() {
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(None));
    h.ensure(&b, config(None));
    h.ask_after_jobs(produce(-1, vec![(a.clone(), plain(b"idle"))]));
    // b has a flush job running and an acks=all produce waiting for it.
    let (produced, effects) = h.send(produce(-1, vec![(b.clone(), plain(b"busy"))]));
    let running = syncs(&effects);
    assert_eq!(running.len(), 1);

    let (id, mut effects) = h.send(PartitionsRequest::Shutdown);
    assert!(
        take_reply(&mut effects, id).is_none(),
        "waits for the close jobs"
    );
    let close_a = syncs(&effects);
    assert_eq!(close_a.len(), 1, "only a closes now: {effects:?}");
    assert!(
        format!("{:?}", close_a[0].1).contains("clean-shutdown"),
        "{:?}",
        close_a[0].1
    );
    let mut effects = h.complete(close_a);
    assert!(take_reply(&mut effects, id).is_none(), "b is still closing");
    assert!(storage
        .durable_file(&Path::new("a-0").join("clean-shutdown"))
        .is_some());

    let mut effects = h.complete(running);
    assert!(
        take_reply(&mut effects, produced).is_some(),
        "b's flush answered"
    );
    assert!(take_reply(&mut effects, id).is_none());
    let close_b = syncs(&effects);
    assert_eq!(
        close_b.len(),
        1,
        "b's close job follows its flush: {effects:?}"
    );
    let mut effects = h.complete(close_b);
    assert!(matches!(
        take_reply(&mut effects, id),
        Some(PartitionsReply::Done(Done {
            error_code: ErrorCode::NONE,
            ..
        }))
    ));
    assert!(storage
        .durable_file(&Path::new("b-0").join("clean-shutdown"))
        .is_some());
    let names = storage.file_names();
    assert!(
        !names.iter().any(|p| p.to_string_lossy().ends_with(".tmp")),
        "no temporary file is left: {names:?}"
    );
    assert!(
        names
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".snapshot")),
        "a producer snapshot at the log end: {names:?}"
    );
}

#[test]
fn a_re_created_partition_waits_behind_its_delete() {
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    let a = tp("a");
    h.ensure(&a, config(None));
    let (produced, effects) = h.send(produce(-1, vec![(a.clone(), plain(b"old"))]));
    let running = syncs(&effects);
    assert_eq!(running.len(), 1);

    let (deleted, mut effects) = h.send(PartitionsRequest::Delete(DeletePartitionRequest {
        tp: a.clone(),
    }));
    assert!(
        take_reply(&mut effects, produced).is_some(),
        "its waiter is answered"
    );
    assert!(take_reply(&mut effects, deleted).is_none());
    assert!(
        syncs(&effects).is_empty(),
        "the removal waits for the running flush"
    );
    let (ensured, mut effects) = h.send(PartitionsRequest::Ensure(EnsureRequest {
        tp: a.clone(),
        config: config(None),
        topic_id: [0; 16],
    }));
    assert!(
        take_reply(&mut effects, ensured).is_none(),
        "queued behind the delete"
    );

    let effects = h.complete(running);
    let removal = syncs(&effects);
    assert!(
        matches!(removal[..], [(_, ref job)] if matches!(job.ops(), [PersistOp::RemoveDirAll(_), PersistOp::RenameDir { .. }, PersistOp::SyncDir(_), PersistOp::RemoveDirAll(_), PersistOp::SyncDir(_)])),
        "{removal:?}"
    );
    let mut effects = h.complete(removal);
    // The queued Ensure opens the new log; it is answered once the open's job completed.
    let opened = h.complete(syncs(&effects));
    effects.extend(opened);
    let order: Vec<RequestId> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        vec![deleted, ensured],
        "the delete first, then the re-creation"
    );
    assert_eq!(h.log_end(&a), 0, "re-created empty");
}

/// InitProducerId at the end of a block: nothing is answered until the quorum granted the next
/// block (the handler fsyncs nothing and writes no file: the block is the quorum's), the
/// requests that arrive meanwhile wait and are answered in order with distinct ids, and after
/// a crash the next id comes from a new block.
#[test]
fn init_producer_id_waits_for_the_quorum_s_block_and_a_crash_never_reissues_an_id() {
    use crate::limits::PRODUCER_ID_BLOCK_SIZE;
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    // The first request needs the first block.
    let (first, effects) = h.send_init_producer();
    assert!(
        matches!(&effects[..], [Effect::Call { to, .. }] if *to == Addr { node: NodeId(1), actor: QUORUM }),
        "only the ask to the node's voter: {effects:?}"
    );
    let (second, effects_2) = h.send_init_producer();
    assert!(
        effects_2.is_empty(),
        "waits behind the block: {effects_2:?}"
    );
    let mut done = h.grant_blocks(&effects);
    let a = init_producer_result(take_reply(&mut done, first).unwrap()).unwrap();
    let b = init_producer_result(take_reply(&mut done, second).unwrap()).unwrap();
    assert!(done.is_empty(), "{done:?}");
    assert_eq!(
        (a.0, b.0),
        (ProducerId(0), ProducerId(1)),
        "in order, distinct"
    );

    // Use the block up; the request after it waits for the next block, and the power goes out
    // before the quorum answered.
    let mut handed = vec![a.0, b.0];
    while handed.len() < PRODUCER_ID_BLOCK_SIZE as usize {
        handed.push(h.init_producer().0);
    }
    let (unanswered, mut effects) = h.send_init_producer();
    assert!(
        matches!(&effects[..], [Effect::Call { .. }]),
        "the next block's ask"
    );
    assert!(take_reply(&mut effects, unanswered).is_none());
    storage.crash();
    let mut h = h.restarted(storage);
    let (after_crash, _) = h.init_producer();
    assert!(
        !handed.contains(&after_crash),
        "{after_crash:?} was handed out before the crash"
    );
}

/// No block from the quorum (no leader yet, a timeout) answers what waited with InitProducerId's
/// retriable "the block is being loaded", and the next request asks again.
#[test]
fn no_producer_id_block_from_the_quorum_refuses_the_waiting_requests() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (first, effects) = h.send_init_producer();
    let call = match &effects[..] {
        [Effect::Call { call, .. }] => *call,
        other => panic!("expected the block ask, got {other:?}"),
    };
    let (second, _) = h.send_init_producer();
    let no_leader = NodeMsg::QuorumReply(quorum::QuorumReply::NotLeader { leader: None });
    let mut failed = h.step(Input::Reply {
        call,
        msg: no_leader,
    });
    for id in [first, second] {
        let reply = take_reply(&mut failed, id).expect("answered");
        assert_eq!(
            init_producer_result(reply),
            Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
    }
    assert_eq!(h.init_producer(), (ProducerId(0), 0));
}

/// Past the bound of waiting requests, InitProducerId is answered at once with Kafka's
/// "retry, the block is being loaded".
#[test]
fn init_producer_id_requests_waiting_for_a_block_are_bounded() {
    use crate::limits::INIT_PRODUCER_ID_WAITING_MAX;
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    for _ in 0..INIT_PRODUCER_ID_WAITING_MAX {
        let (id, mut effects) = h.send_init_producer();
        assert!(take_reply(&mut effects, id).is_none());
    }
    let (id, mut effects) = h.send_init_producer();
    let reply = take_reply(&mut effects, id).expect("refused at once");
    assert_eq!(
        init_producer_result(reply),
        Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    );
}

/// A refused InitProducerId carries no producer: Kafka answers an error with producer id -1
/// and producer epoch -1 (`RecordBatch.NO_PRODUCER_ID` / `NO_PRODUCER_EPOCH`).
#[test]
fn a_refused_init_producer_id_answers_producer_id_and_epoch_minus_one() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (first, effects) = h.send_init_producer();
    let call = match &effects[..] {
        [Effect::Call { call, .. }] => *call,
        other => panic!("expected the block ask, got {other:?}"),
    };
    let why = crate::actor::CallFailure::TimedOut;
    let mut failed = h.step(Input::CallFailed { call, why });
    let reply = take_reply(&mut failed, first).expect("answered");
    let PartitionsReply::InitProducerId(result) = reply else {
        panic!("expected an InitProducerId reply, got {reply:?}");
    };
    assert_eq!(result.error_code, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    assert_eq!(
        (result.producer_id, result.producer_epoch),
        (ProducerId(-1), -1)
    );
}

// ---- opening a log without an fsync in the handler ---------------------------------------

/// Two acknowledged batches, then a third appended but never synced whose tail a crash tears:
/// the log reopens dirty and must cut it. Returns the storage after the crash.
fn crashed_with_a_torn_tail() -> Arc<MemStorage> {
    let storage = Arc::new(MemStorage::new());
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    for value in [b"one", b"two"] {
        let (id, effects) = h.send(produce(-1, vec![(a.clone(), plain(value))]));
        let mut effects = h.complete(syncs(&effects));
        assert!(take_reply(&mut effects, id).is_some(), "acknowledged");
    }
    h.produce_one(1, &a, plain(b"three, never synced"));
    let torn = storage
        .crash_torn(&mut SmallRng::seed_from_u64(3))
        .expect("the third batch is unsynced");
    assert!(torn.kept_bytes > 0 && torn.dropped_bytes > 0, "{torn:?}");
    storage
}

/// Sends the `Ensure` of the dirty log and a produce behind it, both with fsyncs forbidden;
/// checks that neither is answered and nothing is appended. Returns the harness, the two ids
/// and the open's persist job.
fn open_dirty_with_a_produce_waiting(
    storage: &Arc<MemStorage>,
) -> (Harness, RequestId, RequestId, Vec<(u64, PersistJob)>) {
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    let (ensure, effects) = h.send(PartitionsRequest::Ensure(EnsureRequest {
        tp: a.clone(),
        config: config(None),
        topic_id: [0; 16],
    }));
    let jobs = syncs(&effects);
    assert_eq!(
        jobs.len(),
        1,
        "one persist job makes the recovery durable: {effects:?}"
    );
    assert_eq!(effects.len(), 1, "and no reply yet: {effects:?}");
    assert_eq!(h.log_end(&a), 2, "the torn tail was cut (not yet durably)");
    let (append, effects) = h.send(produce(1, vec![(a.clone(), plain(b"four"))]));
    assert!(effects.is_empty(), "the produce waits: {effects:?}");
    assert_eq!(h.actor.parked_count(), 2);
    assert_eq!(
        h.log_end(&a),
        2,
        "nothing appended before the open is durable"
    );
    (h, ensure, append, jobs)
}

#[test]
fn opening_a_dirty_log_answers_ensure_and_waiting_requests_only_after_its_persist_job() {
    let storage = crashed_with_a_torn_tail();
    let (mut h, ensure, append, jobs) = open_dirty_with_a_produce_waiting(&storage);
    let mut effects = h.complete_forbidding_sync(jobs);
    let reply = take_reply(&mut effects, ensure).expect("Ensure answered on completion");
    assert!(matches!(
        reply,
        PartitionsReply::Done(Done {
            error_code: ErrorCode::NONE,
            ..
        })
    ));
    let result = produce_results(take_reply(&mut effects, append).expect("produce replayed"));
    assert_eq!(
        (result[0].1.error_code, result[0].1.base_offset),
        (ErrorCode::NONE, Offset(2))
    );
    assert_eq!(h.actor.parked_count(), 0);
    assert_eq!(durable_recovery_point(&storage, "a-0"), Some(0));
}

#[test]
fn a_crash_before_the_open_job_completed_recovers_again_and_loses_nothing_acknowledged() {
    let storage = crashed_with_a_torn_tail();
    let (_, _, _, jobs) = open_dirty_with_a_produce_waiting(&storage);
    drop(jobs);
    storage.crash(); // the cut of the torn tail was never made durable: it is back
    let a = tp("a");
    let mut h = Harness::new(storage.clone());
    h.ensure(&a, config(None));
    assert_eq!(
        h.log_end(&a),
        2,
        "recovered again: both acknowledged batches, no torn tail"
    );
    let results = fetch_results(h.ask(fetch(&[(&a, 0)], 1, 1 << 20)));
    assert_eq!(results[0].error_code, ErrorCode::NONE);
    assert_eq!(batch_offsets(&results[0].records), vec![0, 1]);
}

#[test]
fn a_failed_open_job_takes_the_partition_offline_and_answers_what_waited() {
    let storage = crashed_with_a_torn_tail();
    let (mut h, ensure, append, jobs) = open_dirty_with_a_produce_waiting(&storage);
    let (token, _) = jobs.into_iter().next().expect("one job");
    h.mem.forbid_sync(true);
    let mut effects = h.step(Input::Synced {
        token,
        result: Err("disk gone".into()),
    });
    h.mem.forbid_sync(false);
    let reply = take_reply(&mut effects, ensure).expect("Ensure answered");
    assert!(matches!(
        reply,
        PartitionsReply::Done(Done {
            error_code: ErrorCode::KAFKA_STORAGE_ERROR,
            ..
        })
    ));
    let result = produce_results(take_reply(&mut effects, append).expect("produce answered"));
    assert_eq!(result[0].1.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    assert_eq!(h.actor.offline_count(), 1);
    // The retry opens the log again and cuts nothing acknowledged: both batches are there.
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += crate::limits::OFFLINE_LOG_RETRY_MS as i64;
    let results = fetch_results(h.ask_after_jobs(fetch(&[(&tp("a"), 0)], 1, 1 << 20)));
    assert_eq!(results[0].error_code, ErrorCode::NONE);
    assert_eq!(batch_offsets(&results[0].records), vec![0, 1]);
    assert_eq!(h.actor.offline_count(), 0);
}

#[test]
fn requests_waiting_for_an_opening_log_are_bounded() {
    use crate::limits::OPENING_PARKED_MAX;
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let a = tp("a");
    let (ensure, effects) = h.send(PartitionsRequest::Ensure(EnsureRequest {
        tp: a.clone(),
        config: config(None),
        topic_id: [0; 16],
    }));
    let jobs = syncs(&effects);
    for _ in 1..OPENING_PARKED_MAX {
        let (_, effects) = h.send(produce(1, vec![(a.clone(), plain(b"v"))]));
        assert!(effects.is_empty());
    }
    let (refused, mut effects) = h.send(produce(1, vec![(a.clone(), plain(b"v"))]));
    let result = produce_results(take_reply(&mut effects, refused).expect("refused at once"));
    assert_eq!(result[0].1.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let mut effects = h.complete(jobs);
    assert!(take_reply(&mut effects, ensure).is_some());
    assert_eq!(
        h.log_end(&a),
        OPENING_PARKED_MAX as i64 - 1,
        "every waiting produce appended"
    );
}

#[test]
fn a_removal_in_flight_and_a_log_opened_meanwhile_have_their_own_job_tokens() {
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(Some(0)));
    let (delete, effects) = h.send(PartitionsRequest::Delete(DeletePartitionRequest {
        tp: a.clone(),
    }));
    let removal = syncs(&effects);
    let (open_b, effects) = h.send(PartitionsRequest::Ensure(EnsureRequest {
        tp: b.clone(),
        config: config(Some(0)),
        topic_id: [0; 16],
    }));
    let opening = syncs(&effects);
    let tokens: std::collections::BTreeSet<u64> = removal
        .iter()
        .chain(&opening)
        .map(|(token, _)| *token)
        .collect();
    assert_eq!(
        tokens.len(),
        removal.len() + opening.len(),
        "a token per job"
    );

    // b's open completes first: it answers b's Ensure, not a's Delete.
    let mut effects = h.complete(opening);
    assert!(matches!(
        take_reply(&mut effects, open_b),
        Some(PartitionsReply::Done(Done {
            error_code: ErrorCode::NONE,
            ..
        }))
    ));
    assert!(
        take_reply(&mut effects, delete).is_none(),
        "a's removal has not run"
    );
    assert!(storage.exists(Path::new("a-0")));
    let mut effects = h.complete(removal);
    assert!(matches!(
        take_reply(&mut effects, delete),
        Some(PartitionsReply::Done(Done {
            error_code: ErrorCode::NONE,
            ..
        }))
    ));
    assert!(!storage.exists(Path::new("a-0")));
    assert_eq!(
        h.produce_one(1, &b, plain(b"x")).error_code,
        ErrorCode::NONE
    );
}

#[test]
fn deleting_a_partition_a_shutdown_is_closing_lets_the_shutdown_finish() {
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::new(storage.clone());
    let (a, b) = (tp("a"), tp("b"));
    h.ensure(&a, config(Some(0)));
    h.ensure(&b, config(Some(0)));
    let (shutdown, effects) = h.send(PartitionsRequest::Shutdown);
    let mut jobs = syncs(&effects);
    assert_eq!(jobs.len(), 2, "a close job per partition: {effects:?}");
    let (delete, effects) = h.send(PartitionsRequest::Delete(DeletePartitionRequest {
        tp: a.clone(),
    }));
    jobs.extend(syncs(&effects));
    let mut answered = Vec::new();
    while !jobs.is_empty() {
        let mut effects = h.complete(std::mem::take(&mut jobs));
        for id in [shutdown, delete] {
            if let Some(reply) = take_reply(&mut effects, id) {
                answered.push((id, reply));
            }
        }
        jobs = syncs(&effects);
    }
    assert!(
        answered.iter().any(|(id, _)| *id == shutdown),
        "the shutdown waits for no deleted partition: {answered:?}"
    );
}

mod aborted;
mod compaction;
mod coordinator;
mod following;
mod high_watermark;
mod isr;
mod leader_epochs;
mod replica_fetch;
mod throttles;
mod verify;

/// The metadata says who leads (`PartitionsRequest::Leaders`, a message from the topics
/// actor): this node serves only what it leads, in the metadata's epoch, and refuses the rest
/// as Kafka does, so clients go to the leader.
#[test]
fn partitions_follow_the_metadatas_leaders_and_refuse_what_they_do_not_lead() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (here, moved, elsewhere) = (tp("here"), tp("moved"), tp("elsewhere"));
    let led = |leader: Option<u64>, epoch: i32| PartitionLeader {
        topic_id: [0; 16],
        leader: leader.map(NodeId),
        epoch: LeaderEpoch(epoch),
        partition_epoch: 0,
        isr: leader.map(NodeId).into_iter().collect(),
        replicas: leader.map(NodeId).into_iter().collect(),
    };
    let tell = |h: &mut Harness, moved_to: Option<u64>, epoch: i32| {
        let update = LeadersUpdate {
            partitions: std::collections::BTreeMap::from([
                (here.clone(), led(Some(1), 2)),
                (moved.clone(), led(moved_to, epoch)),
                (elsewhere.clone(), led(Some(3), 0)),
            ]),
            brokers: std::collections::BTreeMap::new(),
        };
        let msg = NodeMsg::Partitions(PartitionsRequest::Leaders(update));
        let from = Addr {
            node: NodeId(1),
            actor: crate::messages::TOPICS,
        };
        h.step(Input::Msg { from, msg })
    };
    tell(&mut h, Some(1), 1);
    h.ensure(&here, config(None));
    h.ensure(&moved, config(None));
    assert_eq!(
        h.produce_one(1, &moved, plain(b"a")).error_code,
        ErrorCode::NONE
    );
    // Appends are stamped with the metadata's epoch.
    let stamped = |h: &mut Harness, tp: &TopicPartition| {
        let results = fetch_results(h.ask(fetch(&[(tp, 0)], 0, 1 << 20)));
        (results[0].records.get(12..16)).map(|b| i32::from_be_bytes(b.try_into().unwrap()))
    };
    assert_eq!(
        h.produce_one(1, &here, plain(b"h")).error_code,
        ErrorCode::NONE
    );
    assert_eq!(stamped(&mut h, &here), Some(2));

    // A partition another broker leads and this one holds no replica of.
    let refused = h.produce_one(1, &elsewhere, plain(b"x"));
    assert_eq!(refused.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let results = fetch_results(h.ask(fetch(&[(&elsewhere, 0)], 0, 1 << 20)));
    assert_eq!(results[0].error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);

    // Leadership of `moved` goes (its broker fenced: no leader): refused, records kept.
    tell(&mut h, None, 2);
    let refused = h.produce_one(1, &moved, plain(b"b"));
    assert_eq!(refused.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(h.log_end(&moved), 1);
    assert_eq!(
        list(&mut h, &moved, -1).error_code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    assert_eq!(
        delete_records(&mut h, &moved, 0).error_code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
    );
    // Back, in a newer epoch: served again and its appends carry it.
    tell(&mut h, Some(1), 3);
    let again = h.produce_one(1, &moved, plain(b"c"));
    assert_eq!(
        (again.error_code, again.base_offset),
        (ErrorCode::NONE, Offset(1))
    );

    // KIP-320: a Fetch naming an older epoch is fenced, a newer one unknown, this one served.
    let asked = |h: &mut Harness, epoch: i32| {
        let PartitionsRequest::Fetch(mut request) = fetch(&[(&moved, 0)], 0, 1 << 20) else {
            unreachable!()
        };
        request.partitions[0].current_leader_epoch = LeaderEpoch(epoch);
        fetch_results(h.ask(PartitionsRequest::Fetch(request)))[0].error_code
    };
    assert_eq!(asked(&mut h, 2), ErrorCode::FENCED_LEADER_EPOCH);
    assert_eq!(asked(&mut h, 4), ErrorCode::UNKNOWN_LEADER_EPOCH);
    assert_eq!(asked(&mut h, 3), ErrorCode::NONE);
    // ListOffsets v4+ likewise.
    let listed = |h: &mut Harness, epoch: i32| {
        let reply = h.ask(PartitionsRequest::ListOffsets(ListOffsetsRequest {
            isolation_level: 0,
            partitions: vec![(moved.clone(), -1)],
            current_leader_epochs: [(moved.clone(), LeaderEpoch(epoch))].into(),
        }));
        match reply {
            PartitionsReply::ListOffsets(mut results) => results.remove(0).1,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(listed(&mut h, 2).error_code, ErrorCode::FENCED_LEADER_EPOCH);
    assert_eq!(
        listed(&mut h, 4).error_code,
        ErrorCode::UNKNOWN_LEADER_EPOCH
    );
    let served = listed(&mut h, 3);
    assert_eq!(
        (served.error_code, served.offset),
        (ErrorCode::NONE, Offset(2))
    );
}

/// Until the transaction coordinator exists (issue 15), a client's transactional batch is
/// refused (INVALID_TXN_STATE) and nothing is written: nothing could ever end its transaction,
/// which would hold the partition's last stable offset, and its read_committed consumers,
/// for good.
#[test]
fn transactional_writes_wait_for_the_coordinator() {
    use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
    let a = tp("a");
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    h.ensure(&a, config(Some(0)));
    let (pid, epoch) = h.init_producer();
    let stamp = ProducerStamp {
        producer_id: pid.0,
        producer_epoch: epoch,
        base_sequence: 0,
        attributes: TRANSACTIONAL_BIT,
    };
    let txn = build_stamped_batch(&[(None, Some(b"t"))], T0_MS, stamp);
    let refused = h.produce_one(1, &a, txn);
    assert_eq!(refused.error_code, ErrorCode::INVALID_TXN_STATE);
    assert_eq!(h.log_end(&a), 0, "nothing written");
    let plain = h.produce_one(1, &a, idempotent(pid, epoch, 0, 1));
    assert_eq!(
        plain.error_code,
        ErrorCode::NONE,
        "an idempotent batch still goes"
    );
    assert_eq!(h.log_end(&a), 1);
    assert_eq!(h.actor.replica(&a).unwrap().last_stable_offset(), Offset(1));
}

/// A marker written to a `__consumer_offsets` partition is announced to the group coordinator
/// here once acknowledged (its pending transactional offsets complete), never before, and a
/// refused one never; markers of other topics are not announced.
#[test]
fn markers_on_the_offsets_topic_are_announced_to_the_group_coordinator_once_acknowledged() {
    use crate::messages::groups::GroupsEvent;
    let offsets = TopicPartition {
        topic: crate::messages::OFFSETS_TOPIC.to_owned(),
        partition: 0,
    };
    let a = tp("a");
    let mut h = Harness::with_transactional_writes(Arc::new(MemStorage::new()));
    h.ensure(&offsets, config(None));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let write = |tps: &[&TopicPartition], coordinator_epoch: i32| {
        PartitionsRequest::WriteMarkers(WriteMarkersRequest {
            markers: (tps.iter())
                .map(|tp| MarkerWrite {
                    tp: (*tp).clone(),
                    producer_id: pid,
                    producer_epoch: epoch,
                    coordinator_epoch,
                    commit: true,
                })
                .collect(),
            timeout_ms: PRODUCE_TIMEOUT_MS,
        })
    };
    let announced = |effects: &Effects| -> Vec<GroupsEvent> {
        (effects.iter())
            .filter_map(|e| match e {
                Effect::Send {
                    to,
                    msg: NodeMsg::GroupsEvent(event),
                } if to.actor == crate::messages::GROUPS => Some(event.clone()),
                _ => None,
            })
            .collect()
    };
    let (id, mut effects) = h.send(write(&[&offsets, &a], 3));
    assert!(take_reply(&mut effects, id).is_none(), "waits for its sync");
    assert!(
        announced(&effects).is_empty(),
        "not before it is acknowledged"
    );
    let mut after = Vec::new();
    let mut jobs = syncs(&effects);
    while !jobs.is_empty() {
        let more = h.complete(jobs);
        jobs = syncs(&more);
        after.extend(more);
    }
    assert!(take_reply(&mut after, id).is_some());
    assert_eq!(
        announced(&after),
        [GroupsEvent::TxnCompleted {
            partition: 0,
            producer_id: pid,
            commit: true,
            marker_offset: Offset(0),
        }]
    );
    // A refused marker (an older coordinator epoch) is not announced.
    let (_, effects) = h.send(write(&[&offsets], 2));
    assert!(announced(&effects).is_empty());
}

/// Seed 156: on a full disk an ABORT marker was written but its aborted-transaction index
/// entry was not, and the LSO had already passed the transaction: read_committed fetches were
/// served its record with no aborted list. The abort is now indexed before the transaction
/// ends, and a failed log serves no fetch until it is reopened, which replays the marker into
/// the index.
#[test]
fn an_abort_the_index_could_not_hold_is_never_served_as_committed() {
    use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
    let a = tp("a");
    let storage = Arc::new(MemStorage::new());
    let mut h = Harness::with_transactional_writes(storage.clone());
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let stamp = ProducerStamp {
        producer_id: pid.0,
        producer_epoch: epoch,
        base_sequence: 0,
        attributes: TRANSACTIONAL_BIT,
    };
    let txn = build_stamped_batch(&[(None, Some(b"t"))], T0_MS, stamp);
    let produced = produce_results(h.ask_until_idle(produce(1, vec![(a.clone(), txn)])));
    assert_eq!(produced[0].1.error_code, ErrorCode::NONE);
    storage.fail_writes_to(Some((".txnindex", std::io::ErrorKind::StorageFull)));
    let abort = abort_marker(&a, pid, epoch);
    let refused = produce_results(h.ask(abort)).remove(0).1;
    assert_eq!(refused.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    let replica = h.actor.replica(&a).unwrap();
    assert_eq!(
        replica.last_stable_offset(),
        Offset(0),
        "the transaction stays open"
    );
    let read_committed = |h: &mut Harness| {
        let PartitionsRequest::Fetch(mut request) = fetch(&[(&a, 0)], 0, 1 << 20) else {
            unreachable!()
        };
        request.isolation_level = 1;
        request.max_wait_ms = 0;
        let (id, mut effects) = h.send(PartitionsRequest::Fetch(request));
        loop {
            if let Some(PartitionsReply::Fetch(mut results)) = take_reply(&mut effects, id) {
                return results.remove(0);
            }
            let due = syncs(&effects);
            assert!(!due.is_empty(), "no answer: {effects:?}");
            effects = h.complete(due);
        }
    };
    let failed = read_committed(&mut h);
    assert_eq!(failed.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    assert!(failed.records.is_empty());
    // Space is back: the log is reopened, the marker replayed into the index, and the record
    // comes with its abort.
    storage.fail_writes_to(None);
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    h.now.unix_ms += crate::limits::OFFLINE_LOG_RETRY_MS as i64;
    let mut read = read_committed(&mut h);
    for _ in 0..3 {
        if read.error_code == ErrorCode::NONE {
            break;
        }
        h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
        read = read_committed(&mut h);
    }
    assert_eq!(read.error_code, ErrorCode::NONE);
    let aborted = read
        .aborted
        .expect("read_committed lists aborted transactions");
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert_eq!(
        (aborted[0].producer_id, aborted[0].first_offset),
        (pid, Offset(0))
    );
}

/// DescribeProducers answers from the replica's producer state: a transactional producer with
/// its epoch, last sequence, append time and its open transaction's first offset; once an
/// admin's ABORT (WriteTxnMarkers, coordinator epoch 0 as kafka-transactions sends for a
/// producer with none) ends the transaction, no start offset, the marker's coordinator epoch,
/// and the last stable offset past the transaction. A partition nobody knows is
/// UNKNOWN_TOPIC_OR_PARTITION.
#[test]
fn describe_producers_shows_an_open_transaction_until_its_abort() {
    use crate::messages::{ActiveProducer, DescribeProducersRequest};
    use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
    let a = tp("a");
    let mut h = Harness::with_transactional_writes(Arc::new(MemStorage::new()));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let plain = produce_results(h.ask_until_idle(produce(1, vec![(a.clone(), plain(b"x"))])));
    assert_eq!(plain[0].1.error_code, ErrorCode::NONE);
    let stamp = ProducerStamp {
        producer_id: pid.0,
        producer_epoch: epoch,
        base_sequence: 0,
        attributes: TRANSACTIONAL_BIT,
    };
    let txn = build_stamped_batch(&[(None, Some(b"t")), (None, Some(b"u"))], T0_MS, stamp);
    let produced = produce_results(h.ask_until_idle(produce(1, vec![(a.clone(), txn)])));
    assert_eq!(produced[0].1.error_code, ErrorCode::NONE);
    let nobody = tp("nobody");
    let describe = |h: &mut Harness| {
        let request = DescribeProducersRequest {
            partitions: vec![a.clone(), nobody.clone()],
        };
        match h.ask(PartitionsRequest::DescribeProducers(request)) {
            PartitionsReply::DescribeProducers(answers) => answers,
            other => panic!("{other:?}"),
        }
    };
    let answers = describe(&mut h);
    assert_eq!(answers.len(), 2);
    assert_eq!(
        (&answers[0].tp, answers[0].error_code),
        (&a, ErrorCode::NONE)
    );
    let open = ActiveProducer {
        producer_id: pid,
        producer_epoch: epoch,
        last_sequence: 1,
        last_timestamp_ms: T0_MS,
        coordinator_epoch: -1,
        current_txn_start_offset: 1,
    };
    assert_eq!(answers[0].producers, [open.clone()]);
    assert_eq!(
        (&answers[1].tp, answers[1].error_code),
        (&nobody, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    assert!(answers[1].producers.is_empty());
    assert_eq!(h.actor.replica(&a).unwrap().last_stable_offset(), Offset(1));

    let abort = abort_marker(&a, pid, epoch);
    let aborted = produce_results(h.ask_until_idle(abort));
    assert_eq!(aborted[0].1.error_code, ErrorCode::NONE);
    let ended = ActiveProducer {
        coordinator_epoch: 0,
        current_txn_start_offset: -1,
        ..open
    };
    assert_eq!(describe(&mut h)[0].producers, [ended]);
    // The marker is at 3: everything up to it is stable.
    assert_eq!(h.actor.replica(&a).unwrap().last_stable_offset(), Offset(4));
}

/// Kafka's `activeProducerState`: a replica that follows answers DescribeProducers from its own
/// producer state (kafka-transactions `--broker-id` compares replicas), while a marker for it
/// (a client's WriteTxnMarkers) is refused NOT_LEADER_OR_FOLLOWER; a partition with no replica
/// here is NOT_LEADER_OR_FOLLOWER for both.
#[test]
fn a_follower_describes_its_producers_but_writes_no_marker() {
    use crate::messages::DescribeProducersRequest;
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (a, elsewhere) = (tp("a"), tp("elsewhere"));
    let tell = |h: &mut Harness, leader_of_a: u64, epoch: i32| {
        let led = |leader: u64, epoch: i32| PartitionLeader {
            topic_id: [0; 16],
            leader: Some(NodeId(leader)),
            epoch: LeaderEpoch(epoch),
            partition_epoch: epoch,
            isr: vec![NodeId(1), NodeId(2)],
            replicas: vec![NodeId(1), NodeId(2)],
        };
        let update = LeadersUpdate {
            partitions: std::collections::BTreeMap::from([
                (a.clone(), led(leader_of_a, epoch)),
                (elsewhere.clone(), led(3, 0)),
            ]),
            brokers: std::collections::BTreeMap::new(),
        };
        let msg = NodeMsg::Partitions(PartitionsRequest::Leaders(update));
        let from = Addr {
            node: NodeId(1),
            actor: crate::messages::TOPICS,
        };
        h.step(Input::Msg { from, msg })
    };
    tell(&mut h, 1, 1);
    h.ensure(&a, config(Some(0)));
    let (pid, epoch) = h.init_producer();
    let written = h.produce_one(1, &a, idempotent(pid, epoch, 0, 3));
    assert_eq!(written.error_code, ErrorCode::NONE);
    tell(&mut h, 2, 2);
    let request = DescribeProducersRequest {
        partitions: vec![a.clone(), elsewhere.clone()],
    };
    let PartitionsReply::DescribeProducers(answers) =
        h.ask(PartitionsRequest::DescribeProducers(request))
    else {
        panic!("a DescribeProducers reply");
    };
    assert_eq!(answers[0].error_code, ErrorCode::NONE);
    let producers: Vec<(ProducerId, i32, i64)> = (answers[0].producers.iter())
        .map(|p| (p.producer_id, p.last_sequence, p.current_txn_start_offset))
        .collect();
    assert_eq!(producers, [(pid, 2, -1)]);
    assert_eq!(answers[1].error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let marker = |tp: &TopicPartition| MarkerWrite {
        tp: tp.clone(),
        producer_id: pid,
        producer_epoch: epoch,
        coordinator_epoch: 0,
        commit: false,
    };
    let abort = PartitionsRequest::WriteMarkers(WriteMarkersRequest {
        markers: vec![marker(&a), marker(&elsewhere)],
        timeout_ms: PRODUCE_TIMEOUT_MS,
    });
    let codes: Vec<ErrorCode> = (produce_results(h.ask(abort)).iter())
        .map(|(_, r)| r.error_code)
        .collect();
    assert_eq!(codes, [ErrorCode::NOT_LEADER_OR_FOLLOWER; 2]);
    assert_eq!(h.log_end(&a), 3, "nothing written");
}
