//! The group coordinator's side of the partitions actor: `Elected`/`Resigned` for
//! `__consumer_offsets` partitions, the term-checked `Append` and the `Lead` barrier.

use super::*;

/// The leadership events `effects` send to this node's coordinator, in order.
fn events(effects: &Effects) -> Vec<&GroupsEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send {
                to,
                msg: NodeMsg::GroupsEvent(event),
            } if to.actor == GROUPS && to.node == NodeId(1) => Some(event),
            _ => None,
        })
        .collect()
}

/// The one `Elected` in `effects`: (partition, term, log end).
fn elected(effects: &Effects) -> (i32, LeaderTerm, Offset) {
    match events(effects).as_slice() {
        [GroupsEvent::Elected {
            partition,
            term,
            log_end,
            ..
        }] => (*partition, *term, *log_end),
        other => panic!("expected one Elected, got {other:?}"),
    }
}

/// The high watermark the one `Elected` in `effects` carries.
fn elected_high_watermark(effects: &Effects) -> Offset {
    match events(effects).as_slice() {
        [GroupsEvent::Elected { high_watermark, .. }] => *high_watermark,
        other => panic!("expected one Elected, got {other:?}"),
    }
}

/// The one `Resigned` in `effects`: (partition, term).
fn resigned(effects: &Effects) -> (i32, LeaderTerm) {
    match events(effects).as_slice() {
        [GroupsEvent::Resigned { partition, term }] => (*partition, *term),
        other => panic!("expected one Resigned, got {other:?}"),
    }
}

fn offsets_partition(partition: i32) -> TopicPartition {
    TopicPartition {
        topic: OFFSETS_TOPIC.to_owned(),
        partition,
    }
}

fn append(tp: &TopicPartition, term: LeaderTerm, value: &[u8]) -> PartitionsRequest {
    PartitionsRequest::Append(AppendRequest {
        tp: tp.clone(),
        term,
        records: plain(value),
        timeout_ms: 5_000,
    })
}

fn lead(tp: &TopicPartition) -> PartitionsRequest {
    PartitionsRequest::Lead(LeadRequest { tp: tp.clone() })
}

fn leadership(reply: PartitionsReply) -> Leadership {
    match reply {
        PartitionsReply::Lead(lead) => lead,
        other => panic!("expected a Lead reply, got {other:?}"),
    }
}

impl Harness {
    /// Opens `tp` and returns the effects of its open's completion (where `Elected` goes).
    fn open_announced(&mut self, tp: &TopicPartition) -> Effects {
        let (id, effects) = self.send(PartitionsRequest::Ensure(EnsureRequest {
            tp: tp.clone(),
            config: config(None),
            topic_id: [0; 16],
        }));
        assert!(
            events(&effects).is_empty(),
            "not readable before its open is durable"
        );
        let mut opened = self.complete_forbidding_sync(syncs(&effects));
        let reply = take_reply(&mut opened, id).expect("answered once open");
        assert!(matches!(
            reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::NONE,
                ..
            })
        ));
        opened
    }
}

#[test]
fn an_offsets_partition_is_elected_once_its_open_is_durable_and_other_topics_never_are() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let plain_topic = tp("a");
    assert!(events(&h.open_announced(&plain_topic)).is_empty());
    let p3 = offsets_partition(3);
    let (partition, term, log_end) = elected(&h.open_announced(&p3));
    assert_eq!((partition, log_end), (3, Offset(0)));
    assert_eq!(term, h.actor.replica(&p3).unwrap().term());
    assert_eq!(term.epoch, LeaderEpoch::INITIAL);
}

#[test]
fn an_append_under_the_term_is_answered_only_after_its_sync_and_another_term_is_refused() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let p0 = offsets_partition(0);
    let (_, term, _) = elected(&h.open_announced(&p0));
    let (id, mut effects) = h.send(append(&p0, term, b"commit"));
    assert!(
        take_reply(&mut effects, id).is_none(),
        "not before its sync"
    );
    let jobs = syncs(&effects);
    assert_eq!(jobs.len(), 1, "{effects:?}");
    let mut done = h.complete_forbidding_sync(jobs);
    let results = produce_results(take_reply(&mut done, id).expect("answered after the sync"));
    assert_eq!(
        (results[0].1.error_code, results[0].1.base_offset),
        (ErrorCode::NONE, Offset(0))
    );
    // A write of an older (or any other) term is refused before it is appended.
    let stale = LeaderTerm {
        replica: term.replica + 1,
        ..term
    };
    let refused = produce_results(h.ask(append(&p0, stale, b"stale")))
        .remove(0)
        .1;
    assert_eq!(refused.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(refused.base_offset, Offset::UNKNOWN);
    assert_eq!(h.log_end(&p0), 1, "nothing appended");
    // Nothing unacknowledged: the barrier answers at once with the term and the log end.
    assert_eq!(leadership(h.ask(lead(&p0))), Ok((term, Offset(1))));
}

#[test]
fn lead_waits_until_the_log_end_it_saw_is_acknowledged() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let p0 = offsets_partition(0);
    let (_, term, _) = elected(&h.open_announced(&p0));
    let (write, effects) = h.send(append(&p0, term, b"in flight"));
    let jobs = syncs(&effects);
    let (barrier, mut asked) = h.send(lead(&p0));
    assert!(
        take_reply(&mut asked, barrier).is_none(),
        "the append is not synced yet"
    );
    let mut done = h.complete_forbidding_sync(jobs);
    assert!(take_reply(&mut done, write).is_some());
    let answer = leadership(take_reply(&mut done, barrier).expect("answered with the sync"));
    assert_eq!(answer, Ok((term, Offset(1))));
}

#[test]
fn a_failed_sync_refuses_the_append_and_the_barrier_resigns_and_a_revive_elects_a_new_term() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let p0 = offsets_partition(0);
    let (_, term, _) = elected(&h.open_announced(&p0));
    let (write, effects) = h.send(append(&p0, term, b"lost"));
    let (token, _) = syncs(&effects)[0].clone();
    let (barrier, _) = h.send(lead(&p0));
    let mut failed = h.step(Input::Synced {
        token,
        result: Err("EIO".into()),
    });
    let refused = produce_results(take_reply(&mut failed, write).unwrap());
    assert_eq!(refused[0].1.error_code, ErrorCode::KAFKA_STORAGE_ERROR);
    let barrier_answer = leadership(take_reply(&mut failed, barrier).unwrap());
    assert_eq!(barrier_answer, Err(ErrorCode::KAFKA_STORAGE_ERROR));
    assert_eq!(resigned(&failed), (0, term));
    // Offline until the retry delay; then a barrier revives it: a new replica, a new term,
    // announced once its open is durable, cut to the last good sync.
    assert_eq!(
        leadership(h.ask(lead(&p0))),
        Err(ErrorCode::KAFKA_STORAGE_ERROR)
    );
    h.now.mono_ms += crate::limits::OFFLINE_LOG_RETRY_MS;
    let (barrier, effects) = h.send(lead(&p0));
    let mut reopened = h.complete_forbidding_sync(syncs(&effects));
    let (partition, new_term, log_end) = elected(&reopened);
    assert_eq!((partition, log_end), (0, Offset(0)));
    assert_ne!(new_term, term);
    let answer = leadership(take_reply(&mut reopened, barrier).expect("after the open"));
    assert_eq!(answer, Ok((new_term, Offset(0))));
    // The old term's writes are refused.
    let stale = produce_results(h.ask(append(&p0, term, b"stale")))
        .remove(0)
        .1;
    assert_eq!(stale.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

#[test]
fn deleting_or_shutting_down_resigns_the_offsets_partition() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let (p0, p1) = (offsets_partition(0), offsets_partition(1));
    let (_, term0, _) = elected(&h.open_announced(&p0));
    let (_, term1, _) = elected(&h.open_announced(&p1));
    let (_, deleted) = h.send(PartitionsRequest::Delete(DeletePartitionRequest {
        tp: p0.clone(),
    }));
    assert_eq!(resigned(&deleted), (0, term0));
    let (_, closing) = h.send(PartitionsRequest::Shutdown);
    assert_eq!(resigned(&closing), (1, term1));
    // Its term ended: a barrier now would start a load whose writes all fail.
    let (id, mut effects) = h.send(lead(&p1));
    let reply = take_reply(&mut effects, id).expect("answered at once");
    assert_eq!(leadership(reply), Err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
}

impl Harness {
    /// The topics actor's `Leaders` message: `tp` led by `leader` (none: offline) in `epoch`.
    fn lead_by(&mut self, tp: &TopicPartition, leader: Option<u64>, epoch: i32) -> Effects {
        let known = PartitionLeader {
            topic_id: [0; 16],
            leader: leader.map(NodeId),
            epoch: LeaderEpoch(epoch),
            partition_epoch: 0,
            isr: leader.map(NodeId).into_iter().collect(),
            replicas: leader.map(NodeId).into_iter().collect(),
        };
        let update = LeadersUpdate {
            partitions: std::collections::BTreeMap::from([(tp.clone(), known)]),
            brokers: std::collections::BTreeMap::new(),
        };
        let from = Addr {
            node: NodeId(1),
            actor: TOPICS,
        };
        let msg = NodeMsg::Partitions(PartitionsRequest::Leaders(update));
        self.step(Input::Msg { from, msg })
    }
}

#[test]
fn losing_leadership_resigns_once_and_answers_what_waited_on_it_then_a_new_epoch_is_elected() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let p0 = offsets_partition(0);
    h.lead_by(&p0, Some(1), 0);
    let (_, term, _) = elected(&h.open_announced(&p0));
    // A commit and a barrier wait for the sync when the metadata fences this broker.
    let (write, effects) = h.send(append(&p0, term, b"in flight"));
    let jobs = syncs(&effects);
    let (barrier, _) = h.send(lead(&p0));
    let mut demoted = h.lead_by(&p0, None, 1);
    assert_eq!(resigned(&demoted), (0, term), "resigned only, not elected");
    let refused = produce_results(take_reply(&mut demoted, write).expect("answered at once"));
    assert_eq!(refused[0].1.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let answer = leadership(take_reply(&mut demoted, barrier).expect("answered at once"));
    assert_eq!(answer, Err(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    // The sync still completes (the record is kept) and answers nothing twice.
    let mut synced = h.complete_forbidding_sync(jobs);
    assert!(take_reply(&mut synced, write).is_none());
    assert_eq!(h.log_end(&p0), 1);
    // A follower serves no barrier and takes no commit.
    assert_eq!(
        leadership(h.ask(lead(&p0))),
        Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
    );
    // The same metadata again changes nothing; leading again, in epoch 2, is a new term.
    assert!(events(&h.lead_by(&p0, None, 1)).is_empty());
    let leading = h.lead_by(&p0, Some(1), 2);
    let (partition, again, log_end) = elected(&leading);
    assert_eq!(
        (partition, again.epoch, log_end),
        (0, LeaderEpoch(2), Offset(1))
    );
    assert_eq!(
        elected_high_watermark(&leading),
        Offset(1),
        "its own log: committed"
    );
    assert_ne!(again, term);
}

#[test]
fn a_replica_opened_as_a_follower_is_never_announced() {
    let mut h = Harness::new(Arc::new(MemStorage::new()));
    let p1 = offsets_partition(1);
    h.lead_by(&p1, Some(2), 4);
    assert!(events(&h.open_announced(&p1)).is_empty());
    // Led by node 2: the group actor sends the partition's clients there.
    assert_eq!(
        leadership(h.ask(lead(&p1))),
        Err(ErrorCode::NOT_COORDINATOR)
    );
    assert!(events(&h.lead_by(&p1, None, 5)).is_empty(), "no Resigned");
    assert_eq!(
        leadership(h.ask(lead(&p1))),
        Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
    );
}
