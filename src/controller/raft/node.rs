//! A voter as an actor hosts it: [`RaftNode`] = [`RaftCore`] + [`RaftFiles`], with the rule
//! that makes Raft's persistence safe: **nothing leaves the node before what was written
//! ahead of it is synced**. A vote, a term, an acknowledged entry: each is in a file the
//! moment the handler returns, and the message that reveals it waits for the persist job that
//! covers it.
//!
//! One persist job runs at a time (each one covers every write made before it started);
//! writes made while it runs go into the next. The actor owning the node maps [`NodeOut`] to
//! its effects (sends, the persist job) and feeds back messages, timer ticks and the job's
//! completion.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;

use super::core::{RaftConfig, RaftCore};
use super::log_file::{LoadError, RaftFiles};
use super::msg::{Entry, Envelope, RaftMsg};
use crate::storage::persist::PersistJob;
use crate::storage::Storage;
use crate::types::NodeId;

/// What the owner must do after a call into the node.
#[derive(Debug, Default)]
pub struct NodeOut {
    /// Send these now.
    pub sends: Vec<Envelope>,
    /// Run this job and report its end with [`RaftNode::synced`].
    pub persist: Option<PersistJob>,
    /// Newly committed entries, in order, with their indexes: apply them.
    pub committed: Vec<(u64, Entry)>,
}

/// The persist job in flight.
struct Job {
    /// Every write numbered up to this one is in it.
    covers_write: u64,
    /// The log's last entry when it started.
    last_index: u64,
    last_term: u64,
}

pub struct RaftNode {
    core: RaftCore,
    files: RaftFiles,
    /// Writes made (a Ready with something to write counts one).
    written: u64,
    /// Writes known synced.
    synced: u64,
    job: Option<Job>,
    /// Messages waiting for the write they follow to be synced: (write number, message).
    held: VecDeque<(u64, Envelope)>,
    /// The hard state is changed since the last job started.
    hard_unsynced: bool,
    applied: u64,
    /// A write or a sync failed: the node stays silent until it restarts (fail-stop).
    failed: Option<String>,
}

impl RaftNode {
    /// Loads the voter's files in `dir` and starts it as a follower. The loaded files are
    /// synced first (a process crash can leave unsynced bytes readable): run `out.persist`.
    pub fn open(
        storage: Arc<dyn Storage>,
        dir: &Path,
        id: NodeId,
        voters: &[NodeId],
        config: RaftConfig,
        now_ms: u64,
        rng: &mut SmallRng,
    ) -> Result<(Self, NodeOut), LoadError> {
        let loaded = RaftFiles::load(storage, dir)?;
        let core = RaftCore::new(
            id,
            voters,
            config,
            loaded.hard_state,
            loaded.entries,
            now_ms,
            rng,
        );
        let mut node = Self {
            core,
            files: loaded.files,
            written: 1,
            synced: 0,
            job: None,
            held: VecDeque::new(),
            hard_unsynced: false,
            applied: 0,
            failed: None,
        };
        let mut out = NodeOut::default();
        node.drive(&mut out);
        Ok((node, out))
    }

    pub fn core(&self) -> &RaftCore {
        &self.core
    }

    #[cfg(test)]
    pub(super) fn core_mut(&mut self) -> &mut RaftCore {
        &mut self.core
    }

    /// Why the node stopped, if it did.
    pub fn failed(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    pub fn step(&mut self, now_ms: u64, from: NodeId, msg: RaftMsg, rng: &mut SmallRng) -> NodeOut {
        self.core.step(now_ms, from, msg, rng);
        self.finish()
    }

    pub fn tick(&mut self, now_ms: u64, rng: &mut SmallRng) -> NodeOut {
        self.core.tick(now_ms, rng);
        self.finish()
    }

    /// Proposes a command; `Err` names the leader if this node knows it.
    pub fn propose(&mut self, payload: Vec<u8>) -> (Result<u64, Option<NodeId>>, NodeOut) {
        let result = self.core.propose(payload);
        (result, self.finish())
    }

    /// The persist job ended.
    pub fn synced(&mut self, result: Result<(), String>) -> NodeOut {
        let job = self.job.take().expect("a job was running");
        match result {
            Ok(()) => {
                self.synced = job.covers_write;
                self.core.persisted(job.last_index, job.last_term);
            }
            Err(error) => {
                tracing::error!(%error, "the Raft log could not be synced; this voter stops until restarted");
                self.failed = Some(error);
            }
        }
        self.finish()
    }

    fn finish(&mut self) -> NodeOut {
        let mut out = NodeOut::default();
        self.drive(&mut out);
        out
    }

    fn drive(&mut self, out: &mut NodeOut) {
        if self.failed.is_some() {
            self.held.clear();
            let _ = self.core.take_ready();
            return;
        }
        let ready = self.core.take_ready();
        if ready.hard_state.is_some() || ready.log_write.is_some() {
            if let Some(write) = &ready.log_write {
                if let Err(error) = self.files.write_log(write) {
                    tracing::error!(%error, "the Raft log could not be written; this voter stops until restarted");
                    self.failed = Some(error.to_string());
                    self.held.clear();
                    return;
                }
            }
            self.hard_unsynced |= ready.hard_state.is_some();
            self.written += 1;
        }
        for envelope in ready.messages {
            if self.sends_early(&envelope) {
                out.sends.push(envelope);
            } else {
                self.held.push_back((self.written, envelope));
            }
        }
        while self
            .held
            .front()
            .is_some_and(|(write, _)| *write <= self.synced)
        {
            out.sends.push(self.held.pop_front().expect("checked").1);
        }
        if self.job.is_none() && self.written > self.synced {
            let hard = std::mem::take(&mut self.hard_unsynced).then(|| self.core.hard_state());
            let last_index = self.core.last_index();
            self.job = Some(Job {
                covers_write: self.written,
                last_index,
                last_term: self
                    .core
                    .term_at(last_index)
                    .expect("the last index is in the log"),
            });
            out.persist = Some(PersistJob::new(
                self.files.storage(),
                self.files.sync_ops(hard),
            ));
        }
        let commit = self.core.commit_index();
        while self.applied < commit {
            self.applied += 1;
            let entry = self
                .core
                .entry(self.applied)
                .expect("committed entries are in the log");
            out.committed.push((self.applied, entry.clone()));
        }
    }

    /// Whether a message may skip the queue: only the planted bug lets a vote do so.
    fn sends_early(&self, envelope: &Envelope) -> bool {
        #[cfg(test)]
        if self.core.bug == Some(super::core::PlantedBug::VoteBeforePersist) {
            return matches!(
                envelope.msg,
                RaftMsg::VoteReply {
                    granted: true,
                    pre_vote: false,
                    ..
                }
            );
        }
        let _ = envelope;
        self.written == self.synced && self.held.is_empty()
    }
}
