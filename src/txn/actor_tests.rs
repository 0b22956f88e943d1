//! The TXN actor driven by hand: events, requests and call answers in, effects out.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::actor::{Effect, Now, Origin, Outbox};
use crate::messages::txn::{
    AddPartitionsArgs, DescribeTxnArgs, EndTxnArgs, InitTxnArgs, ListedTxn, TxnDescription,
};
use crate::messages::{InitProducerIdResult, ProducePartitionResult};
use crate::storage::batch::{build_batch_records, set_base_offset};
use crate::txn::records::{encode_key, encode_value, TxnLogValue};
use crate::txn::state::TxnState;
use crate::types::LeaderEpoch;

type Effects = Vec<Effect<NodeMsg, TxnTimer>>;

const ME: NodeId = NodeId(1);

fn term(epoch: i32) -> LeaderTerm {
    LeaderTerm {
        epoch: LeaderEpoch(epoch),
        replica: 9,
    }
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

struct Harness {
    actor: TxnActor,
    outbox: Outbox<NodeMsg, TxnTimer>,
    rng: SmallRng,
    now: Now,
    next_request: u64,
}

impl Harness {
    fn new() -> Self {
        Self {
            actor: TxnActor::new(TxnSettings::default()),
            outbox: Outbox::default(),
            rng: SmallRng::seed_from_u64(3),
            now: Now {
                unix_ms: 1_700_000_000_000,
                mono_ms: 0,
            },
            next_request: 0,
        }
    }

    fn step(&mut self, input: Input<NodeMsg, TxnTimer>) -> Effects {
        let me = Addr {
            node: ME,
            actor: crate::messages::TXN,
        };
        let mut ctx = Ctx::new(self.now, me, &mut self.rng, &mut self.outbox);
        self.actor.handle(&mut ctx, input);
        self.outbox.take_effects()
    }

    fn event(&mut self, event: TxnEvent) -> Effects {
        let from = Addr {
            node: ME,
            actor: PARTITIONS,
        };
        self.step(Input::Msg {
            from,
            msg: NodeMsg::TxnEvent(event),
        })
    }

    /// `__transaction_state` has one partition, led by `state_leader`; `data-0` is led by
    /// node 2.
    fn leaders(&mut self, state_leader: NodeId, data_leader: Option<NodeId>) -> Effects {
        let leaders = BTreeMap::from([
            (tp(TXN_STATE_TOPIC, 0), Some(state_leader)),
            (tp("data", 0), data_leader),
        ]);
        self.event(TxnEvent::Leaders(leaders))
    }

    fn elected(&mut self, log_end: i64) -> Effects {
        self.event(TxnEvent::Elected {
            partition: 0,
            term: term(4),
            log_end: Offset(log_end),
            high_watermark: Offset(log_end),
        })
    }

    fn request(&mut self, request: TxnRequest) -> (RequestId, Effects) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let effects = self.step(Input::Request {
            id,
            from: Origin::Host,
            msg: NodeMsg::Txn(request),
        });
        (id, effects)
    }

    fn reply(&mut self, call: CallId, msg: NodeMsg) -> Effects {
        self.step(Input::Reply { call, msg })
    }
}

fn init(id: &str) -> TxnRequest {
    TxnRequest::InitProducerId(InitTxnArgs {
        transactional_id: id.into(),
        timeout_ms: 60_000,
        expected: None,
    })
}

fn add(id: &str, epoch: i16) -> TxnRequest {
    TxnRequest::AddPartitions(AddPartitionsArgs {
        transactional_id: id.into(),
        producer_id: ProducerId(1000),
        producer_epoch: epoch,
        partitions: BTreeMap::from([("data".to_string(), BTreeSet::from([0]))]),
    })
}

fn end(id: &str, epoch: i16, commit: bool) -> TxnRequest {
    TxnRequest::EndTxn(EndTxnArgs {
        transactional_id: id.into(),
        producer_id: ProducerId(1000),
        producer_epoch: epoch,
        commit,
    })
}

/// The calls among `effects`: (call, destination, message).
fn calls(effects: Effects) -> Vec<(CallId, Addr, NodeMsg)> {
    (effects.into_iter())
        .filter_map(|e| match e {
            Effect::Call { to, call, msg, .. } => Some((call, to, msg)),
            _ => None,
        })
        .collect()
}

fn only_call(effects: Effects) -> (CallId, Addr, NodeMsg) {
    let mut calls = calls(effects);
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls.remove(0)
}

fn replies(effects: &Effects) -> Vec<(RequestId, TxnReply)> {
    (effects.iter())
        .filter_map(|e| match e {
            Effect::Reply {
                id,
                msg: NodeMsg::TxnReply(reply),
            } => Some((*id, reply.clone())),
            _ => None,
        })
        .collect()
}

fn produced(codes: &[(TopicPartition, ErrorCode)]) -> NodeMsg {
    let results = (codes.iter())
        .map(|(tp, code)| {
            let result = ProducePartitionResult {
                error_code: *code,
                error_message: None,
                record_errors: Vec::new(),
                base_offset: Offset(0),
                log_append_time_ms: -1,
                log_start_offset: Offset(0),
            };
            (tp.clone(), result)
        })
        .collect();
    NodeMsg::PartitionsReply(PartitionsReply::Produce(results))
}

fn appended() -> NodeMsg {
    produced(&[(tp(TXN_STATE_TOPIC, 0), ErrorCode::NONE)])
}

/// The state a `__transaction_state` append writes.
fn written_state(msg: &NodeMsg) -> TxnState {
    let NodeMsg::Partitions(PartitionsRequest::Append(append)) = msg else {
        panic!("not an append: {msg:?}");
    };
    assert_eq!(append.term, term(4));
    let record = crate::storage::batch::records(&append.records)
        .next()
        .unwrap()
        .unwrap();
    let value = crate::txn::records::decode_value(record.value.unwrap()).unwrap();
    value.state
}

/// A loaded coordinator of one partition (empty log) with `t` initialised: producer id 1000,
/// epoch 0.
fn with_id() -> Harness {
    let mut h = Harness::new();
    assert!(h.leaders(ME, Some(NodeId(2))).is_empty());
    let effects = h.elected(0);
    assert!(
        calls(effects).is_empty(),
        "an empty partition loads at once"
    );
    assert!(h.actor.is_loaded(0));
    let (id, effects) = h.request(init("t"));
    let (call, to, msg) = only_call(effects);
    assert_eq!(to.actor, PARTITIONS);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::InitProducerId(InitProducerIdRequest {
            transactional_id: None,
            ..
        }))
    ));
    let granted = NodeMsg::PartitionsReply(PartitionsReply::InitProducerId(InitProducerIdResult {
        error_code: ErrorCode::NONE,
        producer_id: ProducerId(1000),
        producer_epoch: 0,
    }));
    let (call, _, msg) = only_call(h.reply(call, granted));
    assert_eq!(written_state(&msg), TxnState::Empty);
    let effects = h.reply(call, appended());
    assert_eq!(
        replies(&effects),
        [(id, TxnReply::InitProducerId(Ok((ProducerId(1000), 0))))]
    );
    h
}

#[test]
fn a_commit_is_prepared_answered_marked_at_the_leader_and_completed() {
    let mut h = with_id();
    let (id, effects) = h.request(add("t", 0));
    let (call, _, msg) = only_call(effects);
    assert_eq!(written_state(&msg), TxnState::Ongoing);
    assert_eq!(
        replies(&h.reply(call, appended())),
        [(id, TxnReply::AddPartitions(ErrorCode::NONE))]
    );
    // Already in the transaction: answered without a write.
    let (id, effects) = h.request(add("t", 0));
    assert_eq!(
        replies(&effects),
        [(id, TxnReply::AddPartitions(ErrorCode::NONE))]
    );
    let (id, effects) = h.request(end("t", 0, true));
    let (call, _, msg) = only_call(effects);
    assert_eq!(written_state(&msg), TxnState::PrepareCommit);
    // The Prepare acknowledged: the client's answer, and the marker to data-0's leader.
    let effects = h.reply(call, appended());
    assert_eq!(replies(&effects), [(id, TxnReply::EndTxn(ErrorCode::NONE))]);
    let (call, to, msg) = only_call(effects);
    assert_eq!(to.node, NodeId(2));
    let NodeMsg::Partitions(PartitionsRequest::WriteMarkers(write)) = msg else {
        panic!("{msg:?}");
    };
    assert_eq!(
        write.markers,
        [MarkerWrite {
            tp: tp("data", 0),
            producer_id: ProducerId(1000),
            producer_epoch: 0,
            coordinator_epoch: 4,
            commit: true,
        }]
    );
    // Until the markers are written and the completion acknowledged: concurrent.
    let (id, effects) = h.request(add("t", 0));
    assert_eq!(
        replies(&effects),
        [(
            id,
            TxnReply::AddPartitions(ErrorCode::CONCURRENT_TRANSACTIONS)
        )]
    );
    let effects = h.reply(call, produced(&[(tp("data", 0), ErrorCode::NONE)]));
    let (call, _, msg) = only_call(effects);
    assert_eq!(written_state(&msg), TxnState::CompleteCommit);
    assert!(replies(&h.reply(call, appended())).is_empty());
    assert_eq!(h.actor.marker_jobs(), 0);
    // A retried EndTxn of the completed commit: NONE with nothing written.
    let (id, effects) = h.request(end("t", 0, true));
    assert_eq!(replies(&effects), [(id, TxnReply::EndTxn(ErrorCode::NONE))]);
    assert!(calls(effects).is_empty());
}

#[test]
fn a_marker_the_leader_refused_goes_again_to_the_next_leader() {
    let mut h = with_id();
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    let (_, effects) = h.request(end("t", 0, false));
    let (call, _, _) = only_call(effects);
    let (call, to, _) = only_call(h.reply(call, appended()));
    assert_eq!(to.node, NodeId(2));
    let refused = produced(&[(tp("data", 0), ErrorCode::NOT_LEADER_OR_FOLLOWER)]);
    let effects = h.reply(call, refused);
    assert!(effects.iter().all(|e| !matches!(e, Effect::Call { .. })));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetTimer {
            key: TxnTimer::Markers,
            after_ms: MARKER_RETRY_MIN_MS
        }
    )));
    // The pause ends with no new leader known: the same leader again.
    let (call, to, _) = only_call(h.step(Input::Timer {
        key: TxnTimer::Markers,
    }));
    assert_eq!(to.node, NodeId(2));
    let refused = produced(&[(tp("data", 0), ErrorCode::NOT_LEADER_OR_FOLLOWER)]);
    let effects = h.reply(call, refused);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::SetTimer {
                key: TxnTimer::Markers,
                after_ms: 100
            }
        )),
        "the pause doubles: {effects:?}"
    );
    // The metadata names node 3: the marker goes there at once.
    let (call, to, msg) = only_call(h.leaders(ME, Some(NodeId(3))));
    assert_eq!(to.node, NodeId(3));
    let NodeMsg::Partitions(PartitionsRequest::WriteMarkers(write)) = msg else {
        panic!("{msg:?}");
    };
    assert!(!write.markers[0].commit);
    let (_, _, msg) = only_call(h.reply(call, produced(&[(tp("data", 0), ErrorCode::NONE)])));
    assert_eq!(written_state(&msg), TxnState::CompleteAbort);
    // The timer still armed finds nothing to send.
    assert!(calls(h.step(Input::Timer {
        key: TxnTimer::Markers
    }))
    .is_empty());
}

#[test]
fn ids_go_to_their_coordinator() {
    let mut h = Harness::new();
    // Before the topic exists.
    let (id, effects) = h.request(init("t"));
    assert_eq!(
        replies(&effects),
        [(
            id,
            TxnReply::InitProducerId(Err(ErrorCode::COORDINATOR_NOT_AVAILABLE))
        )]
    );
    // Led by another node.
    h.leaders(NodeId(2), None);
    let (id, effects) = h.request(init("t"));
    assert_eq!(
        replies(&effects),
        [(
            id,
            TxnReply::InitProducerId(Err(ErrorCode::NOT_COORDINATOR))
        )]
    );
    // Led here, not loaded yet: loading, and the barrier is asked for.
    h.leaders(ME, None);
    let (id, effects) = h.request(init("t"));
    assert_eq!(
        replies(&effects),
        [(
            id,
            TxnReply::InitProducerId(Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
        )]
    );
    let (_, _, msg) = only_call(effects);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Lead(_))
    ));
    // An empty id.
    let (id, effects) = h.request(init(""));
    assert_eq!(
        replies(&effects),
        [(
            id,
            TxnReply::InitProducerId(Err(ErrorCode::INVALID_REQUEST))
        )]
    );
}

#[test]
fn a_load_that_finds_a_prepared_commit_sends_its_markers_and_completes_it() {
    let mut h = Harness::new();
    h.leaders(ME, Some(NodeId(2)));
    let (call, _, msg) = only_call(h.elected(1));
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Fetch(_))
    ));
    let value = TxnLogValue {
        producer_id: 1000,
        producer_epoch: 3,
        timeout_ms: 60_000,
        state: TxnState::PrepareCommit,
        partitions: BTreeMap::from([("data".to_string(), BTreeSet::from([0]))]),
        last_update_ms: 0,
        start_ms: 0,
    };
    let key = encode_key("t").unwrap();
    let value = encode_value(&value).unwrap();
    let mut records = build_batch_records(&[(Some(&key[..]), Some(&value[..]))], 0);
    set_base_offset(&mut records, 0).unwrap();
    let read = FetchPartitionResult {
        tp: tp(TXN_STATE_TOPIC, 0),
        error_code: ErrorCode::NONE,
        high_watermark: Offset(1),
        last_stable_offset: Offset(1),
        log_start_offset: Offset(0),
        records,
        aborted: None,
    };
    let effects = h.reply(
        call,
        NodeMsg::PartitionsReply(PartitionsReply::Fetch(vec![read])),
    );
    let (call, to, msg) = only_call(effects);
    assert_eq!(to.node, NodeId(2));
    let NodeMsg::Partitions(PartitionsRequest::WriteMarkers(write)) = msg else {
        panic!("{msg:?}");
    };
    assert_eq!(write.markers[0].producer_epoch, 3);
    assert!(write.markers[0].commit);
    let (call, _, msg) = only_call(h.reply(call, produced(&[(tp("data", 0), ErrorCode::NONE)])));
    assert_eq!(written_state(&msg), TxnState::CompleteCommit);
    h.reply(call, appended());
    assert_eq!(
        h.actor.shards[&0].metadata("t").unwrap().state,
        TxnState::CompleteCommit
    );
}

/// A fenced marker answer gives the markers up, and the transaction would stay prepared in
/// the shard for good: the shard is dropped and loaded again after a pause, and the load
/// sends the prepared transaction's markers again.
#[test]
fn a_fenced_marker_reloads_the_shard_which_sends_the_markers_again() {
    let mut h = with_id();
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    let (_, effects) = h.request(end("t", 0, true));
    let (call, _, _) = only_call(effects);
    let (call, _, _) = only_call(h.reply(call, appended()));
    let fenced = produced(&[(tp("data", 0), ErrorCode::TRANSACTION_COORDINATOR_FENCED)]);
    let effects = h.reply(call, fenced);
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetTimer {
            key: TxnTimer::Reload { partition: 0 },
            ..
        }
    )));
    assert_eq!(h.actor.shard_count(), 0, "dropped until the reload");
    assert_eq!(h.actor.marker_jobs(), 0);
    let (_, to, msg) = only_call(h.step(Input::Timer {
        key: TxnTimer::Reload { partition: 0 },
    }));
    assert_eq!(to.actor, PARTITIONS);
    assert!(
        matches!(msg, NodeMsg::Partitions(PartitionsRequest::Lead(_))),
        "the reload starts with a barrier: {msg:?}"
    );
}

/// Seed 490: a write that fails right after the shard's load would reload it at once, and the
/// reload's first write fail at once again, for good. A second unload within the reload pause
/// loads after the pause instead.
#[test]
fn a_shard_unloaded_twice_in_a_row_loads_again_after_a_pause() {
    let mut h = with_id();
    let refused = || produced(&[(tp(TXN_STATE_TOPIC, 0), ErrorCode::NOT_ENOUGH_REPLICAS)]);
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    let (_, _, msg) = only_call(h.reply(call, refused()));
    assert!(
        matches!(msg, NodeMsg::Partitions(PartitionsRequest::Lead(_))),
        "the first unload reloads at once: {msg:?}"
    );
    // Loaded again (the same log: empty), and the next write fails too.
    h.elected(0);
    let (_, effects) = h.request(init("t"));
    let (call, _, _) = only_call(effects);
    let granted = NodeMsg::PartitionsReply(PartitionsReply::InitProducerId(InitProducerIdResult {
        error_code: ErrorCode::NONE,
        producer_id: ProducerId(1001),
        producer_epoch: 0,
    }));
    let (call, _, _) = only_call(h.reply(call, granted));
    let effects = h.reply(call, refused());
    let barrier = (effects.iter()).any(|e| matches!(e, Effect::Call { .. }));
    assert!(!barrier, "no barrier at once: {effects:?}");
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetTimer {
            key: TxnTimer::Reload { partition: 0 },
            ..
        }
    )));
}

#[test]
fn a_resignation_drops_the_shard_and_its_markers() {
    let mut h = with_id();
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    let (_, effects) = h.request(end("t", 0, true));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    assert_eq!(h.actor.marker_jobs(), 1);
    h.event(TxnEvent::Resigned {
        partition: 0,
        term: term(4),
    });
    assert_eq!(h.actor.shard_count(), 0);
    assert_eq!(h.actor.marker_jobs(), 0);
}

/// ListTransactions of `h` with these filters; asserts it is answered at once, asking nothing.
fn listed(
    h: &mut Harness,
    states: &[&str],
    producer_ids: &[i64],
    duration_ms: i64,
) -> ListTxnResult {
    let request = TxnRequest::List(ListTxnArgs {
        states: states.iter().map(|s| s.to_string()).collect(),
        producer_ids: producer_ids.iter().map(|&p| ProducerId(p)).collect(),
        duration_filter_ms: duration_ms,
    });
    let (id, effects) = h.request(request);
    let replied = replies(&effects);
    assert!(calls(effects).is_empty(), "a list asks nothing");
    match &replied[..] {
        [(got, TxnReply::Listed(result))] if *got == id => result.clone(),
        other => panic!("{other:?}"),
    }
}

/// DescribeTransactions of `ids`; the descriptions, in order.
fn described(h: &mut Harness, ids: &[&str]) -> Vec<TxnDescription> {
    let request = TxnRequest::Describe(DescribeTxnArgs {
        transactional_ids: ids.iter().map(|s| s.to_string()).collect(),
    });
    let (id, effects) = h.request(request);
    let replied = replies(&effects);
    match &replied[..] {
        [(got, TxnReply::Described(described))] if *got == id => described.clone(),
        other => panic!("{other:?}"),
    }
}

fn listed_t(state: &str) -> Vec<ListedTxn> {
    vec![ListedTxn {
        transactional_id: "t".into(),
        producer_id: ProducerId(1000),
        state: state.into(),
    }]
}

#[test]
fn list_finds_the_id_empty_then_ongoing_once_acknowledged() {
    let mut h = with_id();
    let all = listed(&mut h, &[], &[], -1);
    assert_eq!(all.error_code, ErrorCode::NONE);
    assert!(all.unknown_states.is_empty());
    assert_eq!(all.transactions, listed_t("Empty"));
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    // The Ongoing record is not acknowledged yet: the list shows what was.
    assert_eq!(listed(&mut h, &[], &[], -1).transactions, listed_t("Empty"));
    h.reply(call, appended());
    assert_eq!(
        listed(&mut h, &[], &[], -1).transactions,
        listed_t("Ongoing")
    );
}

#[test]
fn list_filters_by_state_producer_id_and_duration() {
    let mut h = with_id();
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    let only = |h: &mut Harness, states: &[&str], pids: &[i64], duration: i64| {
        listed(h, states, pids, duration).transactions
    };
    assert_eq!(only(&mut h, &["Ongoing"], &[], -1), listed_t("Ongoing"));
    assert_eq!(
        only(&mut h, &["Empty", "Ongoing"], &[], -1),
        listed_t("Ongoing")
    );
    assert!(only(&mut h, &["Empty"], &[], -1).is_empty());
    assert!(only(&mut h, &["PrepareCommit"], &[], -1).is_empty());
    assert_eq!(only(&mut h, &[], &[1000], -1), listed_t("Ongoing"));
    assert_eq!(only(&mut h, &[], &[7, 1000], -1), listed_t("Ongoing"));
    assert!(only(&mut h, &[], &[7], -1).is_empty());
    assert!(only(&mut h, &["Ongoing"], &[7], -1).is_empty());
    // A name that is no state is answered back and matches nothing (state names are Kafka's,
    // matched exactly).
    let unknown = listed(&mut h, &["ongoing"], &[], -1);
    assert_eq!(unknown.error_code, ErrorCode::NONE);
    assert_eq!(unknown.unknown_states, ["ongoing"]);
    assert!(unknown.transactions.is_empty());
    // Only transactions running longer than the filter: just started, none; 5 s on, the
    // 1 s filter lists it and the 10 s one does not.
    assert!(only(&mut h, &[], &[], 0).is_empty());
    h.now.unix_ms += 5_000;
    assert_eq!(only(&mut h, &[], &[], 1_000), listed_t("Ongoing"));
    assert!(only(&mut h, &[], &[], 10_000).is_empty());
}

#[test]
fn list_while_a_shard_loads_is_load_in_progress_with_nothing_listed() {
    let mut h = Harness::new();
    // No shard at all (the topic may not even exist): nothing to list.
    let empty = listed(&mut h, &[], &[], -1);
    assert_eq!(empty.error_code, ErrorCode::NONE);
    assert!(empty.transactions.is_empty());
    h.leaders(ME, Some(NodeId(2)));
    let (_, _, msg) = only_call(h.elected(1));
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Fetch(_))
    ));
    let loading = listed(&mut h, &[], &[], -1);
    assert_eq!(loading.error_code, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    assert!(loading.transactions.is_empty());
    let described = described(&mut h, &["t"]);
    assert_eq!(
        described,
        [TxnDescription::refused(
            "t",
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        )]
    );
}

#[test]
fn describe_answers_each_ids_metadata_or_why_not() {
    let mut h = with_id();
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    let start_ms = h.now.unix_ms;
    let got = described(&mut h, &["t", "unknown", ""]);
    assert_eq!(
        got[0],
        TxnDescription {
            transactional_id: "t".into(),
            error_code: ErrorCode::NONE,
            state: "Ongoing".into(),
            producer_id: ProducerId(1000),
            producer_epoch: 0,
            timeout_ms: 60_000,
            start_ms,
            partitions: BTreeMap::from([("data".to_string(), BTreeSet::from([0]))]),
        }
    );
    assert_eq!(
        got[1],
        TxnDescription::refused("unknown", ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
    );
    assert_eq!(got[2].error_code, ErrorCode::INVALID_REQUEST);
    assert_eq!(got.len(), 3);
    // Committed and complete: CompleteCommit, with no partitions left.
    let (_, effects) = h.request(end("t", 0, true));
    let (call, _, _) = only_call(effects);
    let (call, _, _) = only_call(h.reply(call, appended()));
    let (call, _, _) = only_call(h.reply(call, produced(&[(tp("data", 0), ErrorCode::NONE)])));
    h.reply(call, appended());
    let got = described(&mut h, &["t"]);
    assert_eq!(got[0].state, "CompleteCommit");
    assert!(got[0].partitions.is_empty());
    assert_eq!(
        listed(&mut h, &[], &[], -1).transactions,
        listed_t("CompleteCommit")
    );
}

#[test]
fn describe_of_an_id_led_elsewhere_is_not_coordinator() {
    let mut h = Harness::new();
    // Before the topic exists: retriable, as for the other requests.
    assert_eq!(
        described(&mut h, &["t"]),
        [TxnDescription::refused(
            "t",
            ErrorCode::COORDINATOR_NOT_AVAILABLE
        )]
    );
    h.leaders(NodeId(2), None);
    assert_eq!(
        described(&mut h, &["t"]),
        [TxnDescription::refused("t", ErrorCode::NOT_COORDINATOR)]
    );
}

fn verify(id: &str, epoch: i16, partition: i32, forwarded: bool) -> TxnRequest {
    TxnRequest::Verify(crate::messages::txn::VerifyArgs {
        transactional_id: id.into(),
        producer_id: ProducerId(1000),
        producer_epoch: epoch,
        tp: tp("data", partition),
        forwarded,
    })
}

/// KIP-890 part 1: a partition leader's Verify is answered from the id's shard (in the open
/// transaction, fenced, or not in it), and one for an id coordinated by another node is sent
/// on, once, to that node and its answer relayed.
#[test]
fn verify_answers_from_the_shard_or_asks_the_coordinator_node() {
    let mut h = with_id();
    let (_, effects) = h.request(add("t", 0));
    let (call, _, _) = only_call(effects);
    h.reply(call, appended());
    let asked = |h: &mut Harness, request| {
        let (id, effects) = h.request(request);
        let replies = replies(&effects);
        assert_eq!(replies.len(), 1, "{effects:?}");
        assert_eq!(replies[0].0, id);
        replies[0].1.clone()
    };
    assert_eq!(
        asked(&mut h, verify("t", 0, 0, false)),
        TxnReply::Verified(ErrorCode::NONE)
    );
    assert_eq!(
        asked(&mut h, verify("t", 0, 1, false)),
        TxnReply::Verified(ErrorCode::INVALID_TXN_STATE),
        "data-1 is not in the transaction"
    );
    assert_eq!(
        asked(&mut h, verify("t", 1, 0, false)),
        TxnReply::Verified(ErrorCode::PRODUCER_FENCED)
    );
    // Ended: a late write of the transaction is told it is ending, then that it is over.
    let (_, effects) = h.request(end("t", 0, false));
    let (call, _, _) = only_call(effects);
    let (marker_call, _, _) = only_call(h.reply(call, appended()));
    assert_eq!(
        asked(&mut h, verify("t", 0, 0, false)),
        TxnReply::Verified(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    let (call, _, _) =
        only_call(h.reply(marker_call, produced(&[(tp("data", 0), ErrorCode::NONE)])));
    h.reply(call, appended());
    assert_eq!(
        asked(&mut h, verify("t", 0, 0, false)),
        TxnReply::Verified(ErrorCode::INVALID_TXN_STATE)
    );

    // Another node now leads the id's partition: sent on to it, and its answer relayed.
    h.event(TxnEvent::Resigned {
        partition: 0,
        term: term(4),
    });
    h.leaders(NodeId(2), Some(NodeId(2)));
    let (id, effects) = h.request(verify("t", 0, 0, false));
    let (call, to, msg) = only_call(effects);
    assert_eq!(
        to,
        Addr {
            node: NodeId(2),
            actor: crate::messages::TXN
        }
    );
    assert!(
        matches!(&msg, NodeMsg::Txn(sent) if *sent == verify("t", 0, 0, true)),
        "{msg:?}"
    );
    let effects = h.reply(call, NodeMsg::TxnReply(TxnReply::Verified(ErrorCode::NONE)));
    assert_eq!(
        replies(&effects),
        [(id, TxnReply::Verified(ErrorCode::NONE))]
    );
    // Sent on already: never again (NOT_COORDINATOR, which the partition retries).
    let (id, effects) = h.request(verify("t", 0, 0, true));
    assert_eq!(
        replies(&effects),
        [(id, TxnReply::Verified(ErrorCode::NOT_COORDINATOR))]
    );
    assert!(calls(effects).is_empty());
}
