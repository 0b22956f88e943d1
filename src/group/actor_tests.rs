//! The GROUPS actor driven by hand: events, requests and call answers in, effects out.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::actor::{Effect, Now, Origin, Outbox};
use crate::group::output::OffsetsRecord;
use crate::group::records::OffsetValue;
use crate::messages::{
    CommittedOffset, FetchPartitionResult, GroupOffsets, HeartbeatArgs, OffsetCommitArgs,
    ProducePartitionResult, TopicMeta,
};
use crate::storage::batch::build_batch_records;
use crate::types::{LeaderEpoch, NodeId};

type Effects = Vec<Effect<NodeMsg, GroupsTimer>>;

const fn term(replica: u64) -> LeaderTerm {
    LeaderTerm {
        epoch: LeaderEpoch::INITIAL,
        replica,
    }
}

struct Harness {
    actor: GroupsActor,
    /// One for the actor's life, as its cell keeps it: it numbers the calls.
    outbox: Outbox<NodeMsg, GroupsTimer>,
    rng: SmallRng,
    now: Now,
    next_request: u64,
}

impl Harness {
    /// Elected leader of the partition as `replica` with a log ending at `log_end`, and loaded
    /// from one read answering `g`'s commit at `committed` (`elected`, then `read_answer`).
    fn lead_loaded(&mut self, replica: u64, log_end: i64, committed: i64) {
        let (read, _) = only_call(self.event(elected(replica, log_end)));
        self.step(Input::Reply {
            call: read,
            msg: read_answer(committed),
        });
    }

    /// An actor that knows `__consumer_offsets` has one partition.
    fn new() -> Self {
        let mut h = Self {
            actor: GroupsActor::new(GroupSettings::default()),
            outbox: Outbox::default(),
            rng: SmallRng::seed_from_u64(3),
            now: Now {
                unix_ms: 1_700_000_000_000,
                mono_ms: 0,
            },
            next_request: 0,
        };
        assert!(
            h.step(Input::Start).is_empty(),
            "nothing asked before it is needed"
        );
        let (_, effects) = h.request(GroupsRequest::Heartbeat(HeartbeatArgs {
            group: "g".to_owned(),
            generation: 1,
            member_id: "m".to_owned(),
            instance_id: None,
        }));
        let (call, msg) = only_call(effects);
        assert!(matches!(msg, NodeMsg::Topics(TopicsRequest::List)));
        let meta = TopicMeta {
            id: [0; 16],
            partitions: 1,
            replication_factor: 1,
            configs: Default::default(),
            assignment: Vec::new(),
        };
        let topics = BTreeMap::from([(OFFSETS_TOPIC.to_owned(), meta)]);
        let reply = NodeMsg::TopicsReply(TopicsReply::List(topics));
        assert!(h.step(Input::Reply { call, msg: reply }).is_empty());
        h
    }

    fn step(&mut self, input: Input<NodeMsg, GroupsTimer>) -> Effects {
        let me = Addr {
            node: NodeId(1),
            actor: crate::messages::GROUPS,
        };
        let mut ctx = Ctx::new(self.now, me, &mut self.rng, &mut self.outbox);
        self.actor.handle(&mut ctx, input);
        self.outbox.take_effects()
    }

    fn event(&mut self, event: GroupsEvent) -> Effects {
        let from = Addr {
            node: NodeId(1),
            actor: PARTITIONS,
        };
        let msg = NodeMsg::GroupsEvent(event);
        self.step(Input::Msg { from, msg })
    }

    fn request(&mut self, request: GroupsRequest) -> (RequestId, Effects) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let msg = NodeMsg::Groups(request);
        let effects = self.step(Input::Request {
            id,
            from: Origin::Host,
            msg,
        });
        (id, effects)
    }

    fn fetch_g(&mut self) -> GroupOffsets {
        let request = GroupsRequest::OffsetFetch(OffsetFetchArgs {
            groups: vec![("g".to_owned(), None)],
            require_stable: false,
            members: Default::default(),
        });
        let (id, effects) = self.request(request);
        match reply_to(effects, id) {
            GroupsReply::Fetched(mut groups) => groups.remove(0),
            other => panic!("{other:?}"),
        }
    }
}

/// Whether `effects` are only the first retention check, armed with the first shard at
/// Kafka's default interval.
fn retention_armed(effects: &Effects) -> bool {
    matches!(
        effects.as_slice(),
        [Effect::SetTimer {
            key: GroupsTimer::Retention,
            after_ms: 600_000,
        }]
    )
}

fn only_call(effects: Effects) -> (CallId, NodeMsg) {
    let mut calls: Vec<_> = (effects.into_iter())
        .filter_map(|e| match e {
            Effect::Call { call, msg, .. } => Some((call, msg)),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls.remove(0)
}

fn reply_to(effects: Effects, id: RequestId) -> GroupsReply {
    for effect in effects {
        if let Effect::Reply {
            id: got,
            msg: NodeMsg::GroupsReply(reply),
        } = effect
        {
            if got == id {
                return reply;
            }
        }
    }
    panic!("no reply to {id:?}");
}

/// Elected with the whole log committed (the high watermark at the log end).
fn elected(replica: u64, log_end: i64) -> GroupsEvent {
    GroupsEvent::Elected {
        partition: 0,
        term: term(replica),
        log_end: Offset(log_end),
        high_watermark: Offset(log_end),
    }
}

/// A read answer holding one batch at offset 0 committing `g`'s `t-0` at `offset`.
fn read_answer(offset: i64) -> NodeMsg {
    let record = OffsetsRecord::Offset {
        group: "g".to_owned(),
        tp: TopicPartition {
            topic: "t".to_owned(),
            partition: 0,
        },
        value: Some(OffsetValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 0,
            expire_timestamp_ms: None,
        }),
    };
    let (key, value) = record.encode().unwrap();
    let batch = build_batch_records(&[(Some(&key), value.as_deref())], 0);
    NodeMsg::PartitionsReply(PartitionsReply::Fetch(vec![FetchPartitionResult {
        tp: offsets_tp(0),
        error_code: ErrorCode::NONE,
        high_watermark: Offset(1),
        last_stable_offset: Offset(1),
        log_start_offset: Offset(0),
        records: batch,
        aborted: None,
    }]))
}

fn commit(offset: i64) -> GroupsRequest {
    GroupsRequest::OffsetCommit(OffsetCommitArgs {
        group: "g".to_owned(),
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        offsets: vec![(
            TopicPartition {
                topic: "t".to_owned(),
                partition: 0,
            },
            CommittedOffset {
                offset: Offset(offset),
                leader_epoch: LeaderEpoch(-1),
                metadata: None,
            },
        )],
        api_version: 9,
    })
}

#[test]
fn requests_are_refused_until_the_partition_is_led_and_loaded() {
    let mut h = Harness::new();
    // Before `Elected` (the replica still opening) the load counts as in progress: a
    // retriable answer at this coordinator, not a redirect to FindCoordinator.
    assert_eq!(
        h.fetch_g().error_code,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    let (read, msg) = only_call(h.event(elected(4, 1)));
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Fetch(_))
    ));
    assert_eq!(
        h.fetch_g().error_code,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    assert!(!h.actor.is_loaded(0));
    let msg = read_answer(5);
    h.step(Input::Reply { call: read, msg });
    assert!(h.actor.is_loaded(0));
    let fetched = h.fetch_g();
    assert_eq!(fetched.partitions[0].1.offset, Offset(5));
}

/// Seed 1595: a leader whose high watermark is below its log end (restarted, its followers not
/// fetched yet) would load only the committed part, fail, and retry a pause later; it asks for
/// the barrier first, and loads from its answer.
#[test]
fn an_election_with_uncommitted_records_loads_after_the_barrier() {
    let mut h = Harness::new();
    let event = || GroupsEvent::Elected {
        partition: 0,
        term: term(4),
        log_end: Offset(1),
        high_watermark: Offset(0),
    };
    let (barrier, msg) = only_call(h.event(event()));
    match msg {
        NodeMsg::Partitions(PartitionsRequest::Lead(r)) => assert_eq!(r.tp, offsets_tp(0)),
        other => panic!("the barrier first, not {other:?}"),
    }
    assert_eq!(
        h.fetch_g().error_code,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    let committed = PartitionsReply::Lead(Ok((term(4), Offset(1))));
    let msg = NodeMsg::PartitionsReply(committed);
    let (read, msg) = only_call(h.step(Input::Reply { call: barrier, msg }));
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Fetch(_))
    ));
    h.step(Input::Reply {
        call: read,
        msg: read_answer(5),
    });
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(5));
    // The same term announced again while loaded changes nothing.
    assert!(h.event(event()).is_empty());
}

#[test]
fn a_resignation_aborts_the_load_and_the_old_loads_read_answer_is_dropped() {
    let mut h = Harness::new();
    let (old_read, _) = only_call(h.event(elected(4, 1)));
    // A resignation of another term changes nothing; of this one, the shard goes.
    h.event(GroupsEvent::Resigned {
        partition: 0,
        term: term(3),
    });
    assert_eq!(h.actor.shard_count(), 1);
    h.event(GroupsEvent::Resigned {
        partition: 0,
        term: term(4),
    });
    assert_eq!(h.actor.shard_count(), 0);
    let (new_read, _) = only_call(h.event(elected(5, 1)));
    // The old load's answer arrives late: dropped, the new load still waits for its own.
    let msg = read_answer(5);
    assert!(h
        .step(Input::Reply {
            call: old_read,
            msg
        })
        .is_empty());
    assert!(!h.actor.is_loaded(0));
    let msg = read_answer(6);
    h.step(Input::Reply {
        call: new_read,
        msg,
    });
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(6));
    // The same term announced again changes nothing.
    assert!(h.event(elected(5, 1)).is_empty());
}

#[test]
fn a_timed_out_append_unloads_the_shard_and_a_barrier_starts_the_next_load() {
    let mut h = Harness::new();
    assert!(
        retention_armed(&h.event(elected(4, 0))),
        "an empty log loads at once; the first shard arms the retention check"
    );
    let (id, effects) = h.request(commit(7));
    let (append, msg) = only_call(effects);
    match msg {
        NodeMsg::Partitions(PartitionsRequest::Append(r)) => {
            assert_eq!((r.tp, r.term), (offsets_tp(0), term(4)));
        }
        other => panic!("{other:?}"),
    }
    let timed_out = ProducePartitionResult::refused(ErrorCode::REQUEST_TIMED_OUT, None);
    let msg = NodeMsg::PartitionsReply(PartitionsReply::Produce(vec![(offsets_tp(0), timed_out)]));
    let (answers, calls): (Effects, Effects) = (h.step(Input::Reply { call: append, msg }))
        .into_iter()
        .partition(|e| matches!(e, Effect::Reply { .. }));
    assert_eq!(h.actor.shard_count(), 0);
    match reply_to(answers, id) {
        GroupsReply::Committed(results) => {
            assert_eq!(results[0].1, ErrorCode::COORDINATOR_NOT_AVAILABLE)
        }
        other => panic!("{other:?}"),
    }
    let (lead, msg) = only_call(calls);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Lead(_))
    ));
    let msg = NodeMsg::PartitionsReply(PartitionsReply::Lead(Ok((term(4), Offset(1)))));
    let (read, _) = only_call(h.step(Input::Reply { call: lead, msg }));
    let msg = read_answer(7);
    h.step(Input::Reply { call: read, msg });
    // The timed-out commit was in the log after all: the next load replays it.
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(7));
}

#[test]
fn the_append_call_waits_the_commit_timeout_plus_the_margin() {
    let mut h = Harness::new();
    h.actor.settings.offsets_commit_timeout_ms = 2_000;
    assert!(retention_armed(&h.event(elected(4, 0))));
    let (_, effects) = h.request(commit(7));
    let calls: Vec<_> = (effects.into_iter())
        .filter_map(|e| match e {
            Effect::Call {
                msg: NodeMsg::Partitions(PartitionsRequest::Append(r)),
                timeout_ms,
                ..
            } => Some((r.timeout_ms, timeout_ms)),
            _ => None,
        })
        .collect();
    // The Append answers REQUEST_TIMED_OUT by itself at 2 s; the call outlasts it by the margin.
    assert_eq!(calls, [(2_000, 2_000 + APPEND_CALL_MARGIN_MS)]);
}

#[test]
fn a_failed_load_is_tried_again_after_a_pause_not_at_once() {
    let mut h = Harness::new();
    let (read, _) = only_call(h.event(elected(4, 1)));
    // A read the load cannot walk (an empty answer below the log end) fails it. Loading the
    // same bytes again at once would fail the same way, in a loop.
    let mut empty = read_answer(5);
    if let NodeMsg::PartitionsReply(PartitionsReply::Fetch(results)) = &mut empty {
        results[0].records = Default::default();
    }
    let effects = h.step(Input::Reply {
        call: read,
        msg: empty,
    });
    assert_eq!(h.actor.shard_count(), 0);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::SetTimer {
                key: GroupsTimer::Reload { partition: 0 },
                after_ms: LOAD_RETRY_MS,
            }]
        ),
        "no call before the pause: {effects:?}"
    );
    assert_eq!(
        h.fetch_g().error_code,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    // The pause over, a barrier, then the next load.
    let timer = Input::Timer {
        key: GroupsTimer::Reload { partition: 0 },
    };
    let (lead, msg) = only_call(h.step(timer));
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Lead(_))
    ));
    let msg = NodeMsg::PartitionsReply(PartitionsReply::Lead(Ok((term(4), Offset(1)))));
    let (read, _) = only_call(h.step(Input::Reply { call: lead, msg }));
    h.step(Input::Reply {
        call: read,
        msg: read_answer(5),
    });
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(5));
    // A pause that ends after an election brought a shard asks for nothing.
    let timer = Input::Timer {
        key: GroupsTimer::Reload { partition: 0 },
    };
    assert!(h.step(timer).is_empty());
}

#[test]
fn a_new_group_past_the_node_bound_is_refused_and_known_groups_carry_on() {
    let mut h = Harness::new();
    h.actor.groups_max = 1;
    h.lead_loaded(4, 1, 5);
    let mut other = commit(1);
    if let GroupsRequest::OffsetCommit(args) = &mut other {
        args.group = "other".to_owned();
    }
    let (id, effects) = h.request(other);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Call { .. })),
        "nothing written for a refused group"
    );
    match reply_to(effects, id) {
        GroupsReply::Committed(results) => {
            assert_eq!(results[0].1, ErrorCode::COORDINATOR_NOT_AVAILABLE)
        }
        other => panic!("{other:?}"),
    }
    let (_, effects) = h.request(commit(6));
    let (_, msg) = only_call(effects);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Append(_))
    ));
}

#[test]
fn the_retention_timer_only_wakes_and_expires_offsets_once_due() {
    let mut h = Harness::new();
    h.lead_loaded(4, 1, 5);
    h.now.mono_ms = 1_000;
    let early = h.step(Input::Timer {
        key: GroupsTimer::Retention,
    });
    assert!(
        matches!(
            early.as_slice(),
            [Effect::SetTimer {
                key: GroupsTimer::Retention,
                after_ms: 599_000
            }]
        ),
        "an early firing re-arms for what is left: {early:?}"
    );
    // Due; the commit (timestamp 0) is far older than the default 7 days.
    h.now.mono_ms = 600_000;
    let effects = h.step(Input::Timer {
        key: GroupsTimer::Retention,
    });
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::SetTimer {
            key: GroupsTimer::Retention,
            after_ms: 600_000
        }
    )));
    let (append, msg) = only_call(effects);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Append(_))
    ));
    assert_eq!(
        h.fetch_g().partitions[0].1.offset,
        Offset(5),
        "not before the ack"
    );
    let done = ProducePartitionResult::refused(ErrorCode::NONE, None);
    let msg = NodeMsg::PartitionsReply(PartitionsReply::Produce(vec![(offsets_tp(0), done)]));
    h.step(Input::Reply { call: append, msg });
    assert!(
        h.fetch_g().partitions.is_empty(),
        "expired once acknowledged"
    );
}

/// Before `__consumer_offsets` exists (or its partition count is known) there are no groups
/// here: ListGroups answers an empty list, as Kafka does, and asks nothing of the topics.
#[test]
fn list_groups_before_the_offsets_topic_exists_is_empty() {
    let mut h = Harness {
        actor: GroupsActor::new(GroupSettings::default()),
        outbox: Outbox::default(),
        rng: SmallRng::seed_from_u64(3),
        now: Now {
            unix_ms: 1_700_000_000_000,
            mono_ms: 0,
        },
        next_request: 0,
    };
    assert!(h.step(Input::Start).is_empty());
    let filter = ListGroupsArgs {
        states: Vec::new(),
        types: Vec::new(),
    };
    let (id, effects) = h.request(GroupsRequest::List(filter));
    assert_eq!(effects.len(), 1, "the answer only: {effects:?}");
    match reply_to(effects, id) {
        GroupsReply::Listed(listed) => {
            assert_eq!(
                (listed.error_code, listed.groups.len()),
                (ErrorCode::NONE, 0)
            )
        }
        other => panic!("{other:?}"),
    }
}

/// ListGroups is a read the actor answers at once from every shard it holds. While a shard
/// still loads, the whole answer is COORDINATOR_LOAD_IN_PROGRESS: a partial list would hide
/// that shard's groups.
#[test]
fn list_groups_waits_for_a_loading_shard_then_lists_its_groups() {
    let mut h = Harness::new();
    let list = |h: &mut Harness| {
        let filter = ListGroupsArgs {
            states: Vec::new(),
            types: Vec::new(),
        };
        let (id, effects) = h.request(GroupsRequest::List(filter));
        match reply_to(effects, id) {
            GroupsReply::Listed(listed) => listed,
            other => panic!("{other:?}"),
        }
    };
    let (read, _) = only_call(h.event(elected(4, 1)));
    let loading = list(&mut h);
    assert_eq!(
        (loading.error_code, loading.groups.len()),
        (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, 0)
    );
    h.step(Input::Reply {
        call: read,
        msg: read_answer(5),
    });
    let loaded = list(&mut h);
    assert_eq!(loaded.error_code, ErrorCode::NONE);
    // `g` has committed offsets only: an Empty classic group, as Kafka lists it.
    let names: Vec<_> = (loaded.groups.iter())
        .map(|g| (g.group.as_str(), g.state.as_str()))
        .collect();
    assert_eq!(names, [("g", "Empty")]);
}

/// ConsumerGroupDescribe is a read the actor answers at once from the shards it holds, as
/// DescribeGroups is: no write, and each group gets its shard's answer (here Kafka's for a
/// group that is not a consumer group), not a refusal of the whole request.
#[test]
fn consumer_group_describe_is_answered_at_once_from_the_shard() {
    let mut h = Harness::new();
    h.lead_loaded(4, 1, 5);
    let request = GroupsRequest::ConsumerDescribe(crate::messages::ConsumerDescribeArgs {
        groups: vec!["g".to_owned(), "absent".to_owned()],
        include_authorized_operations: false,
    });
    let (id, effects) = h.request(request);
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Call { .. })),
        "a read asks for nothing: {effects:?}"
    );
    let described = match reply_to(effects, id) {
        GroupsReply::ConsumerDescribed(described) => described,
        other => panic!("{other:?}"),
    };
    let answers: Vec<_> = (described.iter())
        .map(|d| (d.group.as_str(), d.error_code, d.state.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("g", ErrorCode::GROUP_ID_NOT_FOUND, "Dead"),
            ("absent", ErrorCode::GROUP_ID_NOT_FOUND, "Dead"),
        ]
    );
    // Kafka's messages: a group with commits only is a classic (simple) group.
    let messages: Vec<_> = (described.iter())
        .map(|d| d.error_message.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        messages,
        [
            "Group g is not a consumer group.",
            "Group absent not found."
        ]
    );
}

#[test]
fn a_barrier_refused_by_an_offline_partition_is_asked_again_after_a_pause() {
    let mut h = Harness::new();
    let reload = || Input::Timer {
        key: GroupsTimer::Reload { partition: 0 },
    };
    let (lead, _) = only_call(h.step(reload()));
    // Offline after a disk error: only a later use reopens it, so the barrier is asked again.
    let offline =
        NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(ErrorCode::KAFKA_STORAGE_ERROR)));
    let effects = h.step(Input::Reply {
        call: lead,
        msg: offline,
    });
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::SetTimer {
                key: GroupsTimer::Reload { partition: 0 },
                after_ms: LOAD_RETRY_MS,
            }]
        ),
        "{effects:?}"
    );
    let (lead, _) = only_call(h.step(reload()));
    let msg = NodeMsg::PartitionsReply(PartitionsReply::Lead(Ok((term(4), Offset(1)))));
    let (read, _) = only_call(h.step(Input::Reply { call: lead, msg }));
    h.step(Input::Reply {
        call: read,
        msg: read_answer(5),
    });
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(5));
    // Not led: its election will say so; nothing is asked meanwhile.
    h.event(GroupsEvent::Resigned {
        partition: 0,
        term: term(4),
    });
    let (lead, _) = only_call(h.step(reload()));
    let not_led = NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
    )));
    let effects = h.step(Input::Reply {
        call: lead,
        msg: not_led,
    });
    assert!(effects.is_empty(), "{effects:?}");
}

/// The calls among `effects`.
fn calls_in(effects: &Effects) -> usize {
    (effects.iter())
        .filter(|e| matches!(e, Effect::Call { .. }))
        .count()
}

#[test]
fn a_request_without_a_shard_asks_for_the_barrier_at_most_once_a_pause() {
    // No `Elected` came (the partition could not be opened at start-up): the clients' requests
    // are what brings it back.
    let mut h = Harness::new();
    let (id, effects) = h.request(commit(1));
    assert!(
        (effects.iter()).any(|e| matches!(e, Effect::Reply { id: got, .. } if *got == id)),
        "refused meanwhile: {effects:?}"
    );
    let (lead, msg) = only_call(effects);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Lead(_))
    ));
    // One out: no other; answered offline, none before the pause either.
    let (_, effects) = h.request(commit(2));
    assert_eq!(calls_in(&effects), 0, "{effects:?}");
    let offline =
        NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(ErrorCode::KAFKA_STORAGE_ERROR)));
    h.step(Input::Reply {
        call: lead,
        msg: offline,
    });
    let (_, effects) = h.request(commit(3));
    assert_eq!(calls_in(&effects), 0, "{effects:?}");
    h.now.mono_ms += LOAD_RETRY_MS;
    let (_, effects) = h.request(commit(4));
    let (lead, _) = only_call(effects);
    let msg = NodeMsg::PartitionsReply(PartitionsReply::Lead(Ok((term(4), Offset(1)))));
    let (read, _) = only_call(h.step(Input::Reply { call: lead, msg }));
    h.step(Input::Reply {
        call: read,
        msg: read_answer(5),
    });
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(5));
}

/// DescribeGroups is a read the actor answers at once from its shards: a group with commits
/// only is Empty with no error, an unknown one GROUP_ID_NOT_FOUND in state Dead.
#[test]
fn describe_groups_is_answered_at_once_from_the_shard() {
    let mut h = Harness::new();
    h.lead_loaded(4, 1, 5);
    let request = GroupsRequest::Describe(crate::messages::DescribeGroupsArgs {
        groups: vec!["g".to_owned(), "absent".to_owned()],
        include_authorized_operations: false,
    });
    let (id, effects) = h.request(request);
    assert_eq!(
        calls_in(&effects),
        0,
        "a read asks for nothing: {effects:?}"
    );
    let described = match reply_to(effects, id) {
        GroupsReply::Described(described) => described,
        other => panic!("{other:?}"),
    };
    let answers: Vec<_> = (described.iter())
        .map(|d| (d.group.as_str(), d.error_code, d.state.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("g", ErrorCode::NONE, "Empty"),
            ("absent", ErrorCode::GROUP_ID_NOT_FOUND, "Dead"),
        ]
    );
}

/// A classic group's timers reach its shard: the initial rebalance delay, fired by the
/// actor's timer table, completes the parked JoinGroup.
#[test]
fn a_classic_groups_initial_delay_fired_through_the_actor_answers_the_join() {
    let mut h = Harness::new();
    assert!(retention_armed(&h.event(elected(4, 0))));
    let join = crate::group::tests::join_args("", &["range"]);
    let (id, effects) = h.request(GroupsRequest::Join(join));
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Reply { .. })),
        "parked for the initial delay: {effects:?}"
    );
    let rebalance = GroupsTimer::Rebalance {
        partition: 0,
        group: "g".to_owned(),
    };
    assert!(
        (effects.iter()).any(|e| matches!(
            e,
            Effect::SetTimer { key, after_ms: 3_000 } if *key == rebalance
        )),
        "{effects:?}"
    );
    h.now.mono_ms = 3_000;
    let effects = h.step(Input::Timer { key: rebalance });
    match reply_to(effects, id) {
        GroupsReply::Joined(joined) => {
            assert_eq!((joined.error_code, joined.generation), (ErrorCode::NONE, 1));
            assert_eq!(joined.leader, joined.member_id);
        }
        other => panic!("{other:?}"),
    }
}

/// A barrier call that got no answer is asked again at once while the partition has no
/// shard; once an election brought one, a failed barrier call asks nothing.
#[test]
fn a_barrier_call_without_an_answer_is_asked_again_unless_a_shard_came_meanwhile() {
    let mut h = Harness::new();
    let reload = || Input::Timer {
        key: GroupsTimer::Reload { partition: 0 },
    };
    let (lead, _) = only_call(h.step(reload()));
    let failed = Input::CallFailed {
        call: lead,
        why: CallFailure::TimedOut,
    };
    let (_, msg) = only_call(h.step(failed));
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Lead(_))
    ));
    let (lead, _) = only_call(h.step(reload()));
    h.event(elected(4, 0));
    let failed = Input::CallFailed {
        call: lead,
        why: CallFailure::TimedOut,
    };
    let effects = h.step(failed);
    assert_eq!(calls_in(&effects), 0, "{effects:?}");
}

/// DeleteGroups reaches the shard one group at a time (the gateway's calls); a request naming
/// several is refused whole, every group answered INVALID_REQUEST and nothing written.
#[test]
fn delete_groups_of_one_group_is_written_and_of_several_is_refused() {
    let mut h = Harness::new();
    h.lead_loaded(4, 1, 5);
    let delete = |groups: &[&str]| {
        GroupsRequest::Delete(crate::messages::DeleteGroupsArgs {
            groups: groups.iter().map(|g| g.to_string()).collect(),
        })
    };
    let (id, effects) = h.request(delete(&["g", "h"]));
    assert_eq!(calls_in(&effects), 0, "{effects:?}");
    match reply_to(effects, id) {
        GroupsReply::Deleted(deleted) => assert_eq!(
            deleted,
            [
                ("g".to_owned(), ErrorCode::INVALID_REQUEST),
                ("h".to_owned(), ErrorCode::INVALID_REQUEST)
            ]
        ),
        other => panic!("{other:?}"),
    }
    let (_, effects) = h.request(delete(&["g"]));
    let (_, msg) = only_call(effects);
    assert!(matches!(
        msg,
        NodeMsg::Partitions(PartitionsRequest::Append(_))
    ));
}

/// A partition its barrier found led by another node answers NOT_COORDINATOR, so clients look
/// the coordinator up again, until an election here (seed 1056: a deposed coordinator answered
/// "loading" for 12 s and its client kept asking it).
#[test]
fn a_partition_led_elsewhere_sends_its_clients_away_until_elected_here() {
    let mut h = Harness::new();
    let (_, effects) = h.request(commit(1));
    let (lead, _) = only_call(effects);
    let elsewhere =
        NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(ErrorCode::NOT_COORDINATOR)));
    let effects = h.step(Input::Reply {
        call: lead,
        msg: elsewhere,
    });
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(h.fetch_g().error_code, ErrorCode::NOT_COORDINATOR);
    let (read, _) = only_call(h.event(elected(4, 1)));
    assert_eq!(
        h.fetch_g().error_code,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        "elected here: loading"
    );
    h.step(Input::Reply {
        call: read,
        msg: read_answer(5),
    });
    assert_eq!(h.fetch_g().partitions[0].1.offset, Offset(5));
}
