//! The markers of prepared transactions on their way to the partitions' leaders (Kafka's
//! `TransactionMarkerChannelManager` with `TransactionMarkerRequestCompletionHandler`), as pure
//! bookkeeping: the actor asks [`Markers::sends`] what to send to which node, sends one
//! `WriteMarkers` call per node, and feeds each call's outcome to [`Markers::answered`], which
//! says which transactions have every marker written.
//!
//! Per partition, as Kafka's handler: written (NONE) → done; the topic gone from the metadata →
//! dropped (Kafka's "removePartition"; a deleted partition needs no marker); a fenced answer
//! (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED) → the whole transaction's markers
//! are given up (a newer coordinator or producer epoch owns it; Kafka cancels the send the
//! same way); anything else (not the leader, not enough replicas, a timeout, a lost call) →
//! sent again to the leader the metadata then names, after a pause.
//!
//! A job belongs to one shard (by its id): a shard dropped drops its jobs
//! ([`Markers::drop_shard`]); the next load sends them again from the log. A job given up is
//! handed back ([`Answered::given_up`]) so its shard is reloaded: the transaction stays
//! prepared in the log, and the reload either sends its markers again or finds another
//! coordinator leading. Every job has its own generation, carried by its calls: an answer to
//! a job given up, finished or replaced never counts for a later job of the same id.

use std::collections::{BTreeMap, BTreeSet};

use crate::messages::partitions::MarkerWrite;
use crate::types::{ErrorCode, NodeId, ProducerId, TopicPartition};

/// The markers one prepared transaction needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerJob {
    pub id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub commit: bool,
    pub partitions: BTreeSet<TopicPartition>,
}

/// A job's key: the `__transaction_state` partition whose shard owns it, and the id.
pub type JobKey = (i32, String);

/// A call's reference to the job a marker is for: its key and generation.
pub type JobRef = (JobKey, u64);

/// One job in progress.
#[derive(Debug)]
struct Job {
    generation: u64,
    shard: u64,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    /// Partitions still without their marker, and whether a call for it is out.
    todo: BTreeMap<TopicPartition, bool>,
}

/// A transaction whose every marker is written: its shard completes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Finished {
    pub partition: i32,
    pub shard: u64,
    pub id: String,
    pub producer_id: i64,
    pub epoch: i16,
}

/// What one round of sending found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// One call per leader node: the markers and the job each is for.
    pub calls: BTreeMap<NodeId, Vec<(JobRef, MarkerWrite)>>,
    /// Jobs that have nothing left to write.
    pub finished: Vec<Finished>,
    /// Some partition has no leader now: try again later.
    pub waiting: bool,
}

/// What one call's answer did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answered {
    /// Jobs now finished.
    pub finished: Vec<Finished>,
    /// Something must be sent again after a pause.
    pub again: bool,
    /// Jobs given up on a fenced answer, as (partition, shard): the shard is reloaded.
    pub given_up: Vec<(i32, u64)>,
}

/// Every marker job of this node's coordinator.
#[derive(Debug, Default)]
pub struct Markers {
    jobs: BTreeMap<JobKey, Job>,
    /// The last generation given to a job.
    generation: u64,
}

impl Markers {
    /// `job`, of the shard `shard` of `partition` whose leader epoch is `coordinator_epoch`,
    /// replacing an earlier job of the same id.
    pub fn add(&mut self, partition: i32, shard: u64, coordinator_epoch: i32, job: MarkerJob) {
        let mut todo: BTreeMap<TopicPartition, bool> =
            job.partitions.into_iter().map(|tp| (tp, false)).collect();
        if todo.len() > 1 && crate::faults::canary(crate::faults::Canary::MarkerSkipsPartition) {
            todo.pop_last();
        }
        self.generation += 1;
        let entry = Job {
            generation: self.generation,
            shard,
            producer_id: job.producer_id,
            epoch: job.epoch,
            commit: job.commit,
            coordinator_epoch,
            todo,
        };
        self.jobs.insert((partition, job.id), entry);
    }

    /// Jobs in progress (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The shard `shard` of `partition` is gone: its jobs go with it.
    pub fn drop_shard(&mut self, partition: i32, shard: u64) {
        self.jobs
            .retain(|(p, _), job| !(*p == partition && job.shard == shard));
    }

    /// The markers to send now, by leader: every partition with no call out and a leader in
    /// `leaders`; a partition whose topic is gone from `leaders` is dropped.
    pub fn sends(&mut self, leaders: &BTreeMap<TopicPartition, Option<NodeId>>) -> Round {
        let mut round = Round::default();
        for (key, job) in &mut self.jobs {
            job.todo.retain(|tp, _| {
                let known = leaders.contains_key(tp);
                if !known {
                    tracing::info!(?tp, "marker dropped: the partition is gone");
                }
                known
            });
            for (tp, out) in &mut job.todo {
                if *out {
                    continue;
                }
                let Some(Some(leader)) = leaders.get(tp) else {
                    round.waiting = true;
                    continue;
                };
                *out = true;
                let write = MarkerWrite {
                    tp: tp.clone(),
                    producer_id: ProducerId(job.producer_id),
                    producer_epoch: job.epoch,
                    coordinator_epoch: job.coordinator_epoch,
                    commit: job.commit,
                };
                let calls = round.calls.entry(*leader).or_default();
                calls.push(((key.clone(), job.generation), write));
            }
        }
        round.finished = self.take_finished();
        round
    }

    /// The outcome of a call that carried `sent`: each partition's code (`None`: the call
    /// failed, every marker in it is sent again).
    pub fn answered(
        &mut self,
        sent: &[(JobRef, TopicPartition)],
        codes: Option<&BTreeMap<TopicPartition, ErrorCode>>,
    ) -> Answered {
        let mut answered = Answered::default();
        for ((key, generation), tp) in sent {
            let Some(job) = self.jobs.get_mut(key) else {
                continue; // given up, finished, or its shard dropped
            };
            if job.generation != *generation {
                continue; // an earlier job's call
            }
            let Some(out) = job.todo.get_mut(tp) else {
                continue;
            };
            *out = false;
            let code = codes.and_then(|codes| codes.get(tp).copied());
            match code {
                Some(ErrorCode::NONE) => {
                    job.todo.remove(tp);
                }
                Some(ErrorCode::INVALID_PRODUCER_EPOCH)
                | Some(ErrorCode::TRANSACTION_COORDINATOR_FENCED) => {
                    tracing::warn!(
                        id = %key.1, ?tp, ?code,
                        "transaction markers given up: a newer producer epoch or coordinator owns it"
                    );
                    answered.given_up.push((key.0, job.shard));
                    self.jobs.remove(key);
                }
                _ => answered.again = true,
            }
        }
        answered.finished = self.take_finished();
        answered
    }

    fn take_finished(&mut self) -> Vec<Finished> {
        let done: Vec<JobKey> = (self.jobs.iter())
            .filter(|(_, job)| job.todo.is_empty())
            .map(|(key, _)| key.clone())
            .collect();
        (done.into_iter())
            .filter_map(|key| {
                let job = self.jobs.remove(&key)?;
                Some(Finished {
                    partition: key.0,
                    shard: job.shard,
                    id: key.1,
                    producer_id: job.producer_id,
                    epoch: job.epoch,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    fn job(id: &str, partitions: &[TopicPartition]) -> MarkerJob {
        MarkerJob {
            id: id.into(),
            producer_id: 7,
            epoch: 2,
            commit: true,
            partitions: partitions.iter().cloned().collect(),
        }
    }

    #[test]
    fn markers_go_to_each_leader_once_and_finish_when_all_are_written() {
        let mut markers = Markers::default();
        markers.add(3, 1, 5, job("t", &[tp("a", 0), tp("a", 1), tp("b", 0)]));
        let leaders = BTreeMap::from([
            (tp("a", 0), Some(NodeId(1))),
            (tp("a", 1), Some(NodeId(2))),
            (tp("b", 0), Some(NodeId(1))),
        ]);
        let round = markers.sends(&leaders);
        assert_eq!(round.calls.len(), 2);
        let to_one = &round.calls[&NodeId(1)];
        assert_eq!(to_one.len(), 2);
        assert_eq!(to_one[0].1.coordinator_epoch, 5);
        assert_eq!(to_one[0].1.producer_epoch, 2);
        assert!(to_one[0].1.commit);
        // Nothing is sent twice while its call is out.
        assert!(markers.sends(&leaders).calls.is_empty());
        let key = ((3, "t".to_string()), 1);
        let sent_one: Vec<_> = [tp("a", 0), tp("b", 0)]
            .into_iter()
            .map(|tp| (key.clone(), tp))
            .collect();
        let codes = BTreeMap::from([
            (tp("a", 0), ErrorCode::NONE),
            (tp("b", 0), ErrorCode::NOT_LEADER_OR_FOLLOWER),
        ]);
        let answered = markers.answered(&sent_one, Some(&codes));
        assert!(answered.finished.is_empty());
        assert!(answered.again, "b-0 is sent again");
        // The leader of b-0 moved: the next round sends it to the new one.
        let moved = BTreeMap::from([
            (tp("a", 0), Some(NodeId(1))),
            (tp("a", 1), Some(NodeId(2))),
            (tp("b", 0), Some(NodeId(3))),
        ]);
        let round = markers.sends(&moved);
        assert_eq!(round.calls.keys().copied().collect::<Vec<_>>(), [NodeId(3)]);
        let written =
            BTreeMap::from([(tp("a", 1), ErrorCode::NONE), (tp("b", 0), ErrorCode::NONE)]);
        let answered = markers.answered(&[(key.clone(), tp("b", 0))], Some(&written));
        assert!(answered.finished.is_empty(), "a-1's answer is still out");
        let answered = markers.answered(&[(key.clone(), tp("a", 1))], Some(&written));
        assert!(!answered.again);
        assert_eq!(
            answered.finished,
            [Finished {
                partition: 3,
                shard: 1,
                id: "t".into(),
                producer_id: 7,
                epoch: 2
            }]
        );
        assert!(markers.is_empty());
    }

    #[test]
    fn a_failed_call_is_sent_again_and_a_fenced_answer_gives_the_job_up() {
        let mut markers = Markers::default();
        markers.add(0, 1, 5, job("t", &[tp("a", 0)]));
        markers.add(0, 1, 5, job("u", &[tp("a", 0)]));
        let leaders = BTreeMap::from([(tp("a", 0), Some(NodeId(1)))]);
        let round = markers.sends(&leaders);
        assert_eq!(round.calls[&NodeId(1)].len(), 2);
        let t = (((0, "t".to_string()), 1), tp("a", 0));
        let u = (((0, "u".to_string()), 2), tp("a", 0));
        let answered = markers.answered(&[t.clone(), u.clone()], None);
        assert!(answered.finished.is_empty() && answered.again);
        assert_eq!(markers.sends(&leaders).calls[&NodeId(1)].len(), 2);
        let codes = BTreeMap::from([(tp("a", 0), ErrorCode::TRANSACTION_COORDINATOR_FENCED)]);
        let answered = markers.answered(&[t.clone()], Some(&codes));
        assert!(answered.finished.is_empty() && !answered.again);
        assert_eq!(answered.given_up, [(0, 1)], "its shard is reloaded");
        assert_eq!(markers.len(), 1, "t is given up, u is not");

        // t's next job: a late answer to the given-up job's call does not count for it.
        markers.add(0, 1, 5, job("t", &[tp("a", 0)]));
        let late = BTreeMap::from([(tp("a", 0), ErrorCode::NONE)]);
        let answered = markers.answered(&[t], Some(&late));
        assert!(answered.finished.is_empty());
        assert_eq!(
            markers.len(),
            2,
            "the new job still waits for its own marker"
        );
        let round = markers.sends(&leaders);
        let sent: Vec<_> = round.calls[&NodeId(1)]
            .iter()
            .map(|(r, w)| (r.clone(), w.tp.clone()))
            .collect();
        assert_eq!(sent.len(), 1, "u's call is still out; t's new one goes");
        assert_eq!(markers.answered(&sent, Some(&late)).finished.len(), 1);
    }

    #[test]
    fn a_partition_without_a_leader_waits_and_a_deleted_one_is_dropped() {
        let mut markers = Markers::default();
        markers.add(0, 1, 5, job("t", &[tp("a", 0), tp("gone", 0)]));
        let leaders = BTreeMap::from([(tp("a", 0), None)]);
        let round = markers.sends(&leaders);
        assert!(round.calls.is_empty());
        assert!(round.waiting);
        assert!(round.finished.is_empty());
        let elected = BTreeMap::from([(tp("a", 0), Some(NodeId(2)))]);
        let round = markers.sends(&elected);
        assert_eq!(round.calls[&NodeId(2)].len(), 1, "gone-0 was dropped");
        let codes = BTreeMap::from([(tp("a", 0), ErrorCode::NONE)]);
        let answered = markers.answered(&[(((0, "t".into()), 1), tp("a", 0))], Some(&codes));
        assert_eq!(answered.finished.len(), 1);
        // A job with no partition left finishes at the next round.
        markers.add(0, 1, 5, job("e", &[]));
        assert_eq!(markers.sends(&elected).finished.len(), 1);
        // A dropped shard's jobs go.
        markers.add(0, 1, 5, job("d", &[tp("a", 0)]));
        markers.add(1, 2, 5, job("k", &[tp("a", 0)]));
        markers.drop_shard(0, 1);
        assert_eq!(markers.len(), 1);
    }
}
