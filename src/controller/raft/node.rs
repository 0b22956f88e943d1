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
//!
//! Snapshots: the owner saves its state machine with [`RaftNode::save_snapshot`]; the file is
//! replaced by the next job, and only then does the log forget the entries it covers. A
//! snapshot installed from the leader is one job of its own (the snapshot made durable before
//! the old segments go); log writes made meanwhile wait in memory for it. Either way the owner
//! learns through [`NodeOut::restore`] when its state machine must be loaded from a snapshot.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;

use super::core::{LogWrite, RaftConfig, RaftCore, Snapshot};
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
    /// Load the state machine from this snapshot (at open, or installed from the leader),
    /// before applying `committed`.
    pub restore: Option<Snapshot>,
    /// Newly committed entries, in order, with their indexes: apply them.
    pub committed: Vec<(u64, Entry)>,
}

/// What a persist job does besides syncing the writes it covers.
enum JobKind {
    /// Sync, then (with a snapshot) replace the snapshot file and compact the log.
    Sync(Option<Snapshot>),
    /// Make a snapshot from the leader durable and remove the log it replaces.
    Install(Snapshot),
}

/// The persist job in flight.
struct Job {
    /// Every write numbered up to this one is in it.
    covers_write: u64,
    /// The log's last entry when it started.
    last_index: u64,
    last_term: u64,
    kind: JobKind,
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
    /// A snapshot from the leader waiting for its job, with its write number.
    install: Option<(u64, Snapshot)>,
    /// Log writes made since an install was taken, applied to the files once it is done.
    deferred: Vec<LogWrite>,
    /// A snapshot the owner saved, for the next sync job.
    save: Option<Snapshot>,
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
        let core = RaftCore::restore(
            id,
            voters,
            config,
            loaded.hard_state,
            loaded.snapshot,
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
            install: None,
            deferred: Vec::new(),
            save: None,
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

    /// Whether a persist job is still running (its `synced` is owed).
    pub fn busy(&self) -> bool {
        self.job.is_some()
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

    /// The owner's state machine through `index` (applied here), as its own bytes: the log
    /// may forget the entries it covers once it is durable. A snapshot no newer than the last
    /// one is ignored.
    pub fn save_snapshot(&mut self, index: u64, data: Vec<u8>) -> NodeOut {
        let newest = self.save.as_ref().map_or(0, |s| s.meta.index);
        let fresh = index <= self.applied && index > newest.max(self.core.snapshot().meta.index);
        // An index past the snapshot that has been applied is in the log.
        if let Some(term) = self.core.term_at(index).filter(|_| fresh) {
            self.save = Some(Snapshot {
                meta: super::msg::SnapshotMeta { index, term },
                data: data.into(),
            });
        }
        self.finish()
    }

    /// The persist job ended.
    pub fn synced(&mut self, result: Result<(), String>) -> NodeOut {
        let job = self.job.take().expect("a job was running");
        if let Err(error) = result {
            tracing::error!(%error, "the Raft log could not be synced; this voter stops until restarted");
            self.failed = Some(error);
            return self.finish();
        }
        self.synced = job.covers_write;
        let done = match job.kind {
            JobKind::Sync(None) => Ok(()),
            JobKind::Sync(Some(snapshot)) => {
                let index = snapshot.meta.index;
                if self.core.compact(index, snapshot.data) {
                    self.files.compact(index)
                } else {
                    Ok(())
                }
            }
            JobKind::Install(snapshot) => self.files.installed(snapshot.meta).and_then(|()| {
                std::mem::take(&mut self.deferred)
                    .iter()
                    .try_for_each(|write| self.files.write_log(write))
            }),
        };
        if let Err(error) = done {
            tracing::error!(%error, "the Raft log could not be written; this voter stops until restarted");
            self.failed = Some(error.to_string());
            return self.finish();
        }
        self.core.persisted(job.last_index, job.last_term);
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
        if ready.install.is_some() || ready.hard_state.is_some() || ready.log_write.is_some() {
            self.written += 1;
            if let Some(snapshot) = ready.install {
                // It replaces the whole log, writes waiting for an earlier install included.
                self.deferred.clear();
                self.install = Some((self.written, snapshot));
            }
            let installing = self.install.is_some()
                || matches!(
                    self.job,
                    Some(Job {
                        kind: JobKind::Install(_),
                        ..
                    })
                );
            if let Some(write) = ready.log_write {
                if installing {
                    self.deferred.push(write);
                } else if let Err(error) = self.files.write_log(&write) {
                    tracing::error!(%error, "the Raft log could not be written; this voter stops until restarted");
                    self.failed = Some(error.to_string());
                    self.held.clear();
                    return;
                }
            }
            self.hard_unsynced |= ready.hard_state.is_some();
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
        if self.job.is_none() {
            self.start_job(out);
        }
        let snapshot = self.core.snapshot();
        if self.applied < snapshot.meta.index {
            // Entries through the snapshot are not in the log any more: load it instead.
            self.applied = snapshot.meta.index;
            #[cfg(test)]
            if self.core.bug == Some(super::core::PlantedBug::InstallSkipsRestore) {
                return;
            }
            out.restore = Some(snapshot.clone());
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

    /// Starts the next persist job, if there is work for one: an install waiting, writes not
    /// synced, or a snapshot to save.
    fn start_job(&mut self, out: &mut NodeOut) {
        let hard = |node: &mut Self| {
            std::mem::take(&mut node.hard_unsynced).then(|| node.core.hard_state())
        };
        if let Some((write, snapshot)) = self.install.take() {
            let hard = hard(self);
            let ops = self.files.install_ops(hard, &snapshot);
            self.job = Some(Job {
                covers_write: write,
                last_index: snapshot.meta.index,
                last_term: snapshot.meta.term,
                kind: JobKind::Install(snapshot),
            });
            out.persist = Some(PersistJob::new(self.files.storage(), ops));
            return;
        }
        // A save the log has passed (an install came first) is dropped.
        let base = self.core.snapshot().meta.index;
        let save = self.save.take().filter(|s| s.meta.index > base);
        if self.written == self.synced && save.is_none() {
            return;
        }
        let hard = hard(self);
        let ops = self.files.sync_ops(hard, save.as_ref());
        let last_index = self.core.last_index();
        self.job = Some(Job {
            covers_write: self.written,
            last_index,
            last_term: self
                .core
                .term_at(last_index)
                .expect("the last index is in the log"),
            kind: JobKind::Sync(save),
        });
        out.persist = Some(PersistJob::new(self.files.storage(), ops));
    }

    /// Whether a message may skip the queue: only the planted bug (a model test's, or the
    /// simulator's canary) lets a vote do so.
    fn sends_early(&self, envelope: &Envelope) -> bool {
        #[cfg(test)]
        let planted = self.core.bug == Some(super::core::PlantedBug::VoteBeforePersist);
        #[cfg(not(test))]
        let planted = false;
        if planted || crate::faults::canary(crate::faults::Canary::RaftVoteUnsynced) {
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
