//! The Raft protocol as a pure state machine: [`RaftCore`].
//!
//! The core owns the term, the vote, the log (in memory, durable or not) and the volatile
//! state of the protocol. It is driven by three inputs — [`RaftCore::step`] (a message),
//! [`RaftCore::tick`] (time passed; call it at [`RaftCore::next_deadline_ms`]) and
//! [`RaftCore::propose`] — and one acknowledgement, [`RaftCore::persisted`], and it hands its
//! work out as a [`Ready`]: the term and vote to write, the log suffix to rewrite, the messages
//! to send *after* both are synced, and the commit index. The host of the core
//! ([`super::node::RaftNode`]) keeps that order; the core itself never assumes anything is
//! durable before `persisted` says so (a leader counts its own log only up to there).
//!
//! Randomness (election timeouts) comes from the caller's RNG, time from the caller's clock:
//! the same inputs give the same outputs, which is what the model tests replay.
//!
//! **Observers.** A node that is not among the voters (a broker-only node, KRaft's observer)
//! runs the same core as an observer: it never campaigns, never votes and is counted in no
//! majority; it takes the leader's Appends and snapshots like a follower. Having heard from no
//! leader for half an election timeout, it sends every voter an [`RaftMsg::ObserverFetch`]; the
//! leader then keeps its progress apart from the voters' and sends it what it lacks with every
//! heartbeat, until it stops answering for [`OBSERVER_SESSION_TIMEOUTS`] election timeouts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::msg::{Entry, Envelope, Payload, RaftMsg, SnapshotMeta};
use crate::types::NodeId;

/// A leader forgets an observer that has not answered for this many election timeouts (it
/// fetches again when it misses the leader).
pub const OBSERVER_SESSION_TIMEOUTS: u64 = 3;

/// The most observers a leader sends to: past it, a new observer's fetch is ignored (each costs
/// an Append per heartbeat).
pub const OBSERVERS_MAX: usize = 1024;

/// The quorum's timing, under Kafka's names where Kafka has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// `controller.quorum.election.timeout.ms` (Kafka's default 1000): a follower that hears
    /// from no leader for a random time in [this, 2 × this) starts an election, and a voter
    /// that heard from a leader within this time refuses to help depose it.
    pub election_timeout_ms: u64,
    /// How often a leader sends every voter an Append (empty when it has nothing new); also
    /// how often it checks that a majority still answers.
    pub heartbeat_interval_ms: u64,
    /// The most entries one Append carries.
    pub max_entries_per_append: usize,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            election_timeout_ms: 1000,
            heartbeat_interval_ms: 100,
            max_entries_per_append: 64,
        }
    }
}

/// What must survive a crash besides the log: Kafka's `quorum-state` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    pub voted_for: Option<NodeId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Asking for pre-votes: the term is not raised until a majority would vote.
    PreCandidate,
    Candidate,
    Leader,
}

/// Bugs the model tests plant to prove that their checks catch them. Only in test builds.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// Grant a second vote in a term already voted in.
    VoteTwice,
    /// Commit an entry of an earlier term by counting its replicas (Raft §5.4.2, Figure 8).
    CommitOldTerm,
    /// Send a granted vote before the vote is synced (checked by the node, not the core).
    VoteBeforePersist,
    /// Skip loading the state machine from a snapshot the log jumped to (the node's).
    InstallSkipsRestore,
    /// Count the observers as voters: their logs in the commit majority, their answers in
    /// check-quorum.
    ObserverCounted,
}

/// The log suffix to write: drop every entry after `keep_through`, then append `entries`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogWrite {
    pub keep_through: u64,
    pub entries: Vec<Entry>,
}

/// A snapshot of the state machine through `meta.index`: the state machine's own bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: Arc<[u8]>,
}

impl Snapshot {
    /// The empty state before the first entry.
    pub fn empty() -> Self {
        Self {
            meta: SnapshotMeta::default(),
            data: Arc::from(Vec::new()),
        }
    }
}

/// What the core asks of its host since the last [`RaftCore::take_ready`]. Install `install`
/// (the log then holds nothing through or after it), write `hard_state` and `log_write`, sync
/// them all, and only then send `messages`.
#[derive(Debug, Default)]
pub struct Ready {
    /// A snapshot the leader sent: make it durable, drop the whole log, and load the state
    /// machine from it.
    pub install: Option<Snapshot>,
    pub hard_state: Option<HardState>,
    pub log_write: Option<LogWrite>,
    pub messages: Vec<Envelope>,
}

/// What a leader knows of one follower.
#[derive(Clone, Copy, Debug)]
struct Progress {
    /// The next index to send.
    next: u64,
    /// The highest index known replicated (and synced) there.
    matched: u64,
    /// When it last answered an Append of this term (check-quorum).
    last_reply_ms: u64,
    /// When the snapshot was last sent to it, unanswered since (resent after an election
    /// timeout, not on every heartbeat: it may be large).
    snapshot_sent_ms: Option<u64>,
    /// The commit index the last Append sent it carried.
    commit_sent: u64,
}

/// One voter's Raft state. See the module docs for how to drive it.
pub struct RaftCore {
    id: NodeId,
    /// Sorted; this node included unless it is an observer.
    voters: Vec<NodeId>,
    /// Not a voter: it follows the log and never campaigns or votes.
    observer: bool,
    config: RaftConfig,
    hard: HardState,
    hard_dirty: bool,
    /// The snapshot the log continues (empty, at index 0, before the first compaction).
    snapshot: Snapshot,
    /// Entry `i` (1-based, after the snapshot) is `log[i - snapshot.meta.index - 1]`.
    log: Vec<Entry>,
    /// A snapshot installed from the leader, for the next [`Ready`].
    install: Option<Snapshot>,
    /// The latest time the core was given (throttles snapshot resends).
    now_ms: u64,
    /// The lowest index rewritten since the last [`Ready`].
    dirty_from: Option<u64>,
    /// How far the log is known synced ([`RaftCore::persisted`]).
    durable_index: u64,
    commit_index: u64,
    role: Role,
    leader: Option<NodeId>,
    votes: BTreeSet<NodeId>,
    /// Campaigning: the voters that answered this (pre-)vote, granted or not. The others are
    /// asked again every heartbeat interval (as KRaft's candidates do), so a voter that
    /// restarted or reconnected during the election still hears the question.
    answered: BTreeSet<NodeId>,
    /// Campaigning: when the voters that have not answered are asked again.
    vote_retry_ms: u64,
    progress: BTreeMap<NodeId, Progress>,
    /// Leading: what it knows of each observer that fetched (counted in no majority).
    observers: BTreeMap<NodeId, Progress>,
    /// A follower's election timeout; an observer's next fetch.
    election_deadline_ms: u64,
    heartbeat_deadline_ms: u64,
    /// When this node last heard from the leader of its term (leader stickiness).
    leader_contact_ms: Option<u64>,
    outbox: Vec<Envelope>,
    #[cfg(test)]
    pub(super) bug: Option<PlantedBug>,
}

impl RaftCore {
    /// A voter restarting from what its files held, without a snapshot.
    pub fn new(
        id: NodeId,
        voters: &[NodeId],
        config: RaftConfig,
        hard: HardState,
        log: Vec<Entry>,
        now_ms: u64,
        rng: &mut SmallRng,
    ) -> Self {
        let snapshot = Snapshot::empty();
        Self::restore(id, voters, config, hard, snapshot, log, now_ms, rng)
    }

    /// A voter restarting from what its files held: a snapshot (of committed entries only)
    /// and the log after it. Nothing of the log counts as synced until
    /// [`RaftCore::persisted`] says so (a process crash can leave unsynced bytes readable).
    /// A node that is not one of `voters` is an observer (see the module docs).
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: NodeId,
        voters: &[NodeId],
        config: RaftConfig,
        hard: HardState,
        snapshot: Snapshot,
        log: Vec<Entry>,
        now_ms: u64,
        rng: &mut SmallRng,
    ) -> Self {
        let mut voters = voters.to_vec();
        voters.sort_unstable();
        voters.dedup();
        assert!(!voters.is_empty(), "a quorum has voters");
        let observer = !voters.contains(&id);
        let mut core = Self {
            id,
            voters,
            observer,
            config,
            hard,
            hard_dirty: false,
            commit_index: snapshot.meta.index,
            snapshot,
            log,
            install: None,
            now_ms,
            dirty_from: None,
            durable_index: 0,
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            answered: BTreeSet::new(),
            vote_retry_ms: 0,
            progress: BTreeMap::new(),
            observers: BTreeMap::new(),
            election_deadline_ms: 0,
            heartbeat_deadline_ms: 0,
            leader_contact_ms: None,
            outbox: Vec::new(),
            #[cfg(test)]
            bug: None,
        };
        core.reset_election_timer(now_ms, rng);
        if core.voters.len() == 1 || core.observer {
            // A quorum of one waits for nobody's vote: it runs at its first tick rather than
            // after a timeout (a single node starts serving at once). An observer asks for
            // the log at once.
            core.election_deadline_ms = now_ms;
        }
        core
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Not one of the voters: it follows the log only.
    pub fn is_observer(&self) -> bool {
        self.observer
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn term(&self) -> u64 {
        self.hard.term
    }

    pub fn hard_state(&self) -> HardState {
        self.hard
    }

    /// The leader of the current term, if this node knows it.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    pub fn last_index(&self) -> u64 {
        self.snapshot.meta.index + self.log.len() as u64
    }

    /// The first index the log holds an entry for (the one after the snapshot).
    pub fn first_index(&self) -> u64 {
        self.snapshot.meta.index + 1
    }

    /// The snapshot the log continues.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The term of entry `index` (the snapshot's term at its own index; 0 at index 0), if the
    /// log reaches it and it was not compacted away.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        let base = self.snapshot.meta.index;
        if index == base {
            return Some(self.snapshot.meta.term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// Entry `index`, if the log holds it (not compacted into the snapshot).
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let position = index.checked_sub(self.first_index())?;
        self.log.get(usize::try_from(position).ok()?)
    }

    /// The entries after the snapshot, from [`RaftCore::first_index`] on.
    pub fn entries(&self) -> &[Entry] {
        &self.log
    }

    /// A leader's view of each follower: (node, next index to send, highest index known
    /// replicated there). Empty unless leading. DescribeQuorum's replica states come from it.
    pub fn followers(&self) -> Vec<(NodeId, u64, u64)> {
        self.progress
            .iter()
            .map(|(&id, p)| (id, p.next, p.matched))
            .collect()
    }

    /// A leader's view of each observer that fetched: (node, highest index known replicated
    /// there). Empty unless leading.
    pub fn observers(&self) -> Vec<(NodeId, u64)> {
        self.observers
            .iter()
            .map(|(&id, p)| (id, p.matched))
            .collect()
    }

    /// When [`RaftCore::tick`] has work next.
    pub fn next_deadline_ms(&self) -> u64 {
        match self.role {
            Role::Leader => self.heartbeat_deadline_ms,
            Role::PreCandidate | Role::Candidate => {
                self.election_deadline_ms.min(self.vote_retry_ms)
            }
            Role::Follower => self.election_deadline_ms,
        }
    }

    /// Takes what the host must write, sync and send (in that order).
    pub fn take_ready(&mut self) -> Ready {
        let hard_state = std::mem::take(&mut self.hard_dirty).then_some(self.hard);
        let base = self.snapshot.meta.index;
        let log_write = self.dirty_from.take().map(|from| LogWrite {
            keep_through: from - 1,
            entries: self.log[(from - base - 1) as usize..].to_vec(),
        });
        Ready {
            install: self.install.take(),
            hard_state,
            log_write,
            messages: std::mem::take(&mut self.outbox),
        }
    }

    /// The host synced the log through `index`, whose entry had `term` when the sync began.
    /// A leader may then count itself for those entries.
    pub fn persisted(&mut self, index: u64, term: u64) {
        if index > self.durable_index && self.term_at(index) == Some(term) {
            self.durable_index = index;
            if self.role == Role::Leader {
                self.advance_commit();
            }
        }
    }

    /// The host made a snapshot of its state machine through `index` (applied, so committed)
    /// durable: the log forgets the entries it covers, and followers that need them get the
    /// snapshot instead. Refused (false) while writes are waiting in a [`Ready`] not taken,
    /// or for an index outside (snapshot, commit].
    pub fn compact(&mut self, index: u64, data: Arc<[u8]>) -> bool {
        let base = self.snapshot.meta.index;
        if self.dirty_from.is_some() || index <= base || index > self.commit_index {
            return false;
        }
        let Some(term) = self.term_at(index) else {
            return false;
        };
        self.log.drain(..(index - base) as usize);
        self.snapshot = Snapshot {
            meta: SnapshotMeta { index, term },
            data,
        };
        self.durable_index = self.durable_index.max(index);
        true
    }

    /// Appends `payload` if this node leads; otherwise says who does (if known).
    pub fn propose(&mut self, payload: Vec<u8>) -> Result<u64, Option<NodeId>> {
        if self.role != Role::Leader {
            return Err(self.leader);
        }
        let index = self.append_local(Payload::Command(payload));
        if crate::faults::canary(crate::faults::Canary::RaftApplyUncommitted) {
            self.commit_index = index;
        }
        self.broadcast_append();
        Ok(index)
    }

    /// Time passed: an election timeout or a leader's heartbeat is due at `now_ms`.
    pub fn tick(&mut self, now_ms: u64, rng: &mut SmallRng) {
        self.now_ms = self.now_ms.max(now_ms);
        match self.role {
            Role::Leader => {
                if now_ms < self.heartbeat_deadline_ms {
                    return;
                }
                if !self.has_quorum_contact(now_ms) {
                    // Check-quorum: a leader cut off from a majority steps down, so clients go
                    // to a leader that can commit.
                    self.become_follower(now_ms, self.hard.term, None, rng);
                    return;
                }
                let session_ms = OBSERVER_SESSION_TIMEOUTS * self.config.election_timeout_ms;
                let since = now_ms.saturating_sub(session_ms);
                self.observers.retain(|_, p| p.last_reply_ms >= since);
                self.broadcast_append();
                self.heartbeat_deadline_ms = now_ms + self.config.heartbeat_interval_ms;
            }
            _ if self.observer => {
                if now_ms >= self.election_deadline_ms {
                    self.fetch_as_observer(now_ms);
                }
            }
            _ => {
                if now_ms >= self.election_deadline_ms {
                    self.start_pre_vote(now_ms, rng);
                } else if self.role != Role::Follower && now_ms >= self.vote_retry_ms {
                    self.ask_unanswered(now_ms);
                }
            }
        }
    }

    /// An observer that hears from no leader asks every voter for the log (only the leader
    /// answers), and again a quarter of an election timeout later while none does.
    fn fetch_as_observer(&mut self, now_ms: u64) {
        self.leader = None;
        let msg = RaftMsg::ObserverFetch {
            term: self.hard.term,
            last_index: self.last_index(),
            last_term: self.last_term(),
        };
        for to in self.voters.clone() {
            self.send(to, msg.clone());
        }
        self.election_deadline_ms = now_ms + (self.config.election_timeout_ms / 4).max(1);
    }

    /// A message from `from`.
    pub fn step(&mut self, now_ms: u64, from: NodeId, msg: RaftMsg, rng: &mut SmallRng) {
        self.now_ms = self.now_ms.max(now_ms);
        if from == self.id {
            return;
        }
        if !self.voters.contains(&from) {
            // An observer: only its fetches and its answers to the leader count.
            match msg {
                RaftMsg::ObserverFetch { last_index, .. } if !self.observer => {
                    self.on_observer_fetch(now_ms, from, last_index)
                }
                RaftMsg::AppendReply {
                    term,
                    success,
                    match_index,
                    next_hint,
                } if !self.observer => {
                    self.on_append_reply(now_ms, from, term, success, match_index, next_hint, rng)
                }
                _ => {}
            }
            return;
        }
        if self.observer
            && !matches!(
                msg,
                RaftMsg::Append { .. } | RaftMsg::InstallSnapshot { .. }
            )
        {
            // An observer takes part in no election and leads nothing.
            return;
        }
        match msg {
            RaftMsg::RequestVote {
                term,
                pre_vote,
                last_log_index,
                last_log_term,
            } => self.on_request_vote(
                now_ms,
                from,
                term,
                pre_vote,
                (last_log_term, last_log_index),
                rng,
            ),
            RaftMsg::VoteReply {
                term,
                pre_vote,
                granted,
            } => self.on_vote_reply(now_ms, from, term, pre_vote, granted, rng),
            RaftMsg::Append {
                term,
                prev_index,
                prev_term,
                entries,
                leader_commit,
            } => self.on_append(
                now_ms,
                from,
                term,
                (prev_index, prev_term),
                entries,
                leader_commit,
                rng,
            ),
            RaftMsg::InstallSnapshot {
                term,
                last_index,
                last_term,
                data,
            } => {
                let meta = SnapshotMeta {
                    index: last_index,
                    term: last_term,
                };
                self.on_install_snapshot(now_ms, from, term, meta, data, rng)
            }
            RaftMsg::AppendReply {
                term,
                success,
                match_index,
                next_hint,
            } => self.on_append_reply(now_ms, from, term, success, match_index, next_hint, rng),
            // Voters do not fetch.
            RaftMsg::ObserverFetch { .. } => {}
        }
    }

    /// An observer asks the leader for the log after `last_index`: it is sent what it lacks now
    /// and with every heartbeat from here on.
    fn on_observer_fetch(&mut self, now_ms: u64, from: NodeId, last_index: u64) {
        if self.role != Role::Leader {
            return;
        }
        if !self.observers.contains_key(&from) && self.observers.len() >= OBSERVERS_MAX {
            return;
        }
        let next = last_index.min(self.last_index()) + 1;
        let progress = self.observers.entry(from).or_insert(Progress {
            next,
            matched: 0,
            last_reply_ms: now_ms,
            snapshot_sent_ms: None,
            commit_sent: 0,
        });
        if last_index < progress.matched {
            // It lost what it had synced (an emptied disk): start over from what it has.
            (progress.matched, progress.next) = (0, next);
        }
        progress.last_reply_ms = now_ms;
        self.send_append(from);
    }

    fn on_request_vote(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: u64,
        pre_vote: bool,
        candidate_last: (u64, u64),
        rng: &mut SmallRng,
    ) {
        let log_ok = candidate_last >= (self.last_term(), self.last_index());
        if pre_vote {
            // Changes nothing here: the pre-candidate only learns whether it could win.
            let granted = term > self.hard.term && log_ok && !self.in_lease(now_ms);
            let reply_term = if granted { term } else { self.hard.term };
            self.send(
                from,
                RaftMsg::VoteReply {
                    term: reply_term,
                    pre_vote,
                    granted,
                },
            );
            return;
        }
        if term > self.hard.term {
            if self.in_lease(now_ms) {
                // Leader stickiness: a live leader is not deposed by a node that lost touch.
                return;
            }
            self.become_follower(now_ms, term, None, rng);
        }
        let free = match self.hard.voted_for {
            None => true,
            Some(voted) => voted == from || self.planted(PlantedBugKind::VoteTwice),
        };
        let granted = term == self.hard.term && log_ok && free;
        if granted {
            if self.hard.voted_for != Some(from) {
                self.hard.voted_for = Some(from);
                self.hard_dirty = true;
            }
            self.reset_election_timer(now_ms, rng);
        }
        self.send(
            from,
            RaftMsg::VoteReply {
                term: self.hard.term,
                pre_vote,
                granted,
            },
        );
    }

    fn on_vote_reply(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: u64,
        pre_vote: bool,
        granted: bool,
        rng: &mut SmallRng,
    ) {
        let (campaigning, asked_term) = if pre_vote {
            (Role::PreCandidate, self.hard.term + 1)
        } else {
            (Role::Candidate, self.hard.term)
        };
        // An answer to this campaign's question (a grant names its term; a refusal the voter's,
        // which is not below ours unless it is stale), whatever it says: that voter is not
        // asked again. A stale answer leaves it to be asked.
        let this_campaign = if granted {
            term == asked_term
        } else {
            term >= self.hard.term
        };
        if self.role == campaigning && this_campaign {
            self.answered.insert(from);
        }
        if !granted {
            if term > self.hard.term {
                self.become_follower(now_ms, term, None, rng);
            }
            return;
        }
        let counts = if pre_vote {
            self.role == Role::PreCandidate && term == self.hard.term + 1
        } else {
            if term > self.hard.term {
                self.become_follower(now_ms, term, None, rng);
                return;
            }
            self.role == Role::Candidate && term == self.hard.term
        };
        if counts {
            self.votes.insert(from);
            if self.votes.len() >= self.quorum() {
                match self.role {
                    Role::PreCandidate => self.start_election(now_ms, rng),
                    _ => self.become_leader(now_ms),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: u64,
        (prev_index, prev_term): (u64, u64),
        entries: Vec<Entry>,
        leader_commit: u64,
        rng: &mut SmallRng,
    ) {
        if !self.hear_leader(now_ms, from, term, rng) {
            return;
        }
        let (mut prev_index, mut prev_term, mut entries) = (prev_index, prev_term, entries);
        let base = self.snapshot.meta;
        if prev_index < base.index {
            // Entries the snapshot holds are committed, so they match: skip them.
            let skip = (base.index - prev_index).min(entries.len() as u64);
            entries.drain(..skip as usize);
            if entries.is_empty() {
                let reply = RaftMsg::AppendReply {
                    term: self.hard.term,
                    success: true,
                    match_index: base.index,
                    next_hint: base.index + 1,
                };
                return self.send(from, reply);
            }
            (prev_index, prev_term) = (base.index, base.term);
        }
        let reject = |core: &mut Self, next_hint: u64| {
            let reply = RaftMsg::AppendReply {
                term: core.hard.term,
                success: false,
                match_index: 0,
                next_hint,
            };
            core.send(from, reply);
        };
        if prev_index > self.last_index() {
            tracing::debug!(%from, prev_index, last_index = self.last_index(), "refusing an append: the log ends before it");
            return reject(self, self.last_index() + 1);
        }
        let conflict_term = self.term_at(prev_index);
        if conflict_term != Some(prev_term) {
            tracing::debug!(%from, prev_index, prev_term, ?conflict_term, first_index = self.first_index(), snapshot = ?self.snapshot.meta, "refusing an append: the log disagrees");
            // Skip back over the whole conflicting term in one round trip.
            let mut hint = prev_index;
            while hint > self.first_index() && self.term_at(hint - 1) == conflict_term {
                hint -= 1;
            }
            return reject(self, hint.max(self.first_index()));
        }
        let match_index = prev_index + entries.len() as u64;
        let mut index = prev_index;
        for entry in entries {
            index += 1;
            match self.term_at(index) {
                // Already here (a duplicate or reordered Append): never truncate for it.
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    #[cfg(test)]
                    let planted = self.bug.is_some();
                    #[cfg(not(test))]
                    let planted = false;
                    debug_assert!(
                        index > self.commit_index || unsafe_canary_planted() || planted,
                        "truncating committed entry {index}"
                    );
                    self.truncate_after(index - 1);
                    self.push(entry);
                }
                None => self.push(entry),
            }
        }
        let commit = if crate::faults::canary(crate::faults::Canary::RaftApplyUncommitted) {
            match_index
        } else {
            leader_commit.min(match_index)
        };
        if commit > self.commit_index {
            self.commit_index = commit;
        }
        let reply = RaftMsg::AppendReply {
            term: self.hard.term,
            success: true,
            match_index,
            next_hint: match_index + 1,
        };
        self.send(from, reply);
    }

    /// The common start of an Append and an InstallSnapshot from `from` in `term`: refuses a
    /// deposed leader (false), and otherwise follows `from` and notes the contact.
    fn hear_leader(&mut self, now_ms: u64, from: NodeId, term: u64, rng: &mut SmallRng) -> bool {
        if term < self.hard.term {
            // A deposed leader learns the newer term from the answer.
            self.send(
                from,
                RaftMsg::AppendReply {
                    term: self.hard.term,
                    success: false,
                    match_index: 0,
                    next_hint: 0,
                },
            );
            return false;
        }
        if term > self.hard.term || self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(now_ms, term, Some(from), rng);
        } else {
            self.reset_election_timer(now_ms, rng);
        }
        self.leader_contact_ms = Some(now_ms);
        true
    }

    fn on_install_snapshot(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: u64,
        meta: SnapshotMeta,
        data: Vec<u8>,
        rng: &mut SmallRng,
    ) {
        if !self.hear_leader(now_ms, from, term, rng) {
            return;
        }
        // A snapshot no newer than what is committed here (a late or duplicated one) changes
        // nothing: the state machine never goes back.
        if meta.index > self.commit_index {
            let keep_suffix = self.term_at(meta.index) == Some(meta.term);
            let suffix = if keep_suffix {
                // The log agrees with the snapshot: what follows it stays (Raft §7).
                let position = (meta.index - self.snapshot.meta.index) as usize;
                self.log.split_off(position)
            } else {
                Vec::new()
            };
            self.log = suffix;
            self.snapshot = Snapshot {
                meta,
                data: Arc::from(data),
            };
            self.install = Some(self.snapshot.clone());
            self.commit_index = meta.index;
            self.durable_index = self.durable_index.min(meta.index);
            // The host drops the log with the install; a kept suffix is written again.
            self.dirty_from = (!self.log.is_empty()).then_some(meta.index + 1);
        }
        let reply = RaftMsg::AppendReply {
            term: self.hard.term,
            success: true,
            match_index: meta.index,
            next_hint: meta.index + 1,
        };
        self.send(from, reply);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_reply(
        &mut self,
        now_ms: u64,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        next_hint: u64,
        rng: &mut SmallRng,
    ) {
        let voter = self.voters.contains(&from);
        if term > self.hard.term {
            // (An observer's newer term deposes nobody: the voters tell this leader.)
            if voter {
                self.become_follower(now_ms, term, None, rng);
            }
            return;
        }
        if self.role != Role::Leader || term != self.hard.term {
            return;
        }
        let last = self.last_index();
        let progress = if voter {
            self.progress.get_mut(&from)
        } else {
            self.observers.get_mut(&from)
        };
        let Some(progress) = progress else {
            return;
        };
        progress.last_reply_ms = now_ms;
        progress.snapshot_sent_ms = None;
        // Only a reply that moves this follower on is answered with an append: a reply to a
        // duplicate (a resend, a heartbeat) that moves nothing is not, since another append is
        // on its way already and the heartbeat covers a lost one. Answering every reply kept
        // as many appends in flight as had ever been, plus one per heartbeat: found by the
        // simulator (seed 292), where a voter behind after a partition got some ten thousand
        // duplicate appends, seconds late, and caught up only after the checker's bound.
        if success {
            let matched = match_index.min(last);
            let advanced = matched > progress.matched;
            progress.matched = progress.matched.max(matched);
            progress.next = progress.next.max(progress.matched + 1);
            let behind = progress.next <= last && advanced;
            self.advance_commit();
            // Behind, it is sent what it lacks; caught up, the commit index if it lacks that
            // (it acknowledged after the commit moved). Nobody else is looked at here.
            let commit = self.commit_index;
            let told = (self
                .progress
                .get(&from)
                .or_else(|| self.observers.get(&from)))
            .is_some_and(|p| p.commit_sent >= commit);
            if behind || !told {
                self.send_append(from);
            }
        } else {
            // The hint skips a whole term, so it may fall below what is known to match (found
            // by a seed: ignoring such a refusal stalled the follower for good); never go back
            // past that, it matches.
            if next_hint == 0 {
                // The answer to an append of an earlier term of this leader's (the follower
                // had a newer one then): it says nothing of the log.
                return;
            }
            let next = next_hint.clamp(progress.matched + 1, last + 1);
            let moved = next != progress.next;
            progress.next = next;
            tracing::debug!(%from, next_hint, matched = progress.matched, next, "an append was refused");
            // (A snapshot to send is throttled by `send_append` itself.)
            if moved || next <= self.snapshot.meta.index {
                self.send_append(from);
            }
        }
    }

    fn start_pre_vote(&mut self, now_ms: u64, rng: &mut SmallRng) {
        self.role = Role::PreCandidate;
        self.leader = None;
        self.leader_contact_ms = None;
        self.votes = BTreeSet::from([self.id]);
        self.reset_election_timer(now_ms, rng);
        if self.votes.len() >= self.quorum() {
            return self.start_election(now_ms, rng);
        }
        self.broadcast_vote_request(now_ms, self.hard.term + 1, true);
    }

    fn start_election(&mut self, now_ms: u64, rng: &mut SmallRng) {
        self.set_term(self.hard.term + 1);
        self.hard.voted_for = Some(self.id);
        self.hard_dirty = true;
        self.role = Role::Candidate;
        self.leader = None;
        self.votes = BTreeSet::from([self.id]);
        self.reset_election_timer(now_ms, rng);
        if self.votes.len() >= self.quorum() {
            return self.become_leader(now_ms);
        }
        self.broadcast_vote_request(now_ms, self.hard.term, false);
    }

    fn become_leader(&mut self, now_ms: u64) {
        tracing::debug!(
            term = self.hard.term,
            last_index = self.last_index(),
            "leading the Raft quorum"
        );
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.votes.clear();
        let next = self.last_index() + 1;
        self.progress = self
            .voters
            .iter()
            .filter(|&&v| v != self.id)
            .map(|&v| {
                (
                    v,
                    Progress {
                        next,
                        matched: 0,
                        last_reply_ms: now_ms,
                        snapshot_sent_ms: None,
                        commit_sent: 0,
                    },
                )
            })
            .collect();
        // Entries of earlier terms commit only through an entry of this term.
        self.append_local(Payload::Noop);
        self.broadcast_append();
        self.heartbeat_deadline_ms = now_ms + self.config.heartbeat_interval_ms;
    }

    fn become_follower(
        &mut self,
        now_ms: u64,
        term: u64,
        leader: Option<NodeId>,
        rng: &mut SmallRng,
    ) {
        self.set_term(term);
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.progress.clear();
        self.observers.clear();
        self.reset_election_timer(now_ms, rng);
    }

    fn set_term(&mut self, term: u64) {
        if term != self.hard.term {
            debug_assert!(term > self.hard.term, "terms never go back");
            tracing::debug!(from = self.hard.term, to = term, role = ?self.role, "a new Raft term");
            self.hard = HardState {
                term,
                voted_for: None,
            };
            self.hard_dirty = true;
        }
    }

    /// Commits the highest index a majority has synced, if it is of this term, and announces
    /// it.
    fn advance_commit(&mut self) {
        let mut matched: Vec<u64> = self
            .voters
            .iter()
            .map(|v| match self.progress.get(v) {
                Some(p) => p.matched,
                None => self.durable_index,
            })
            .collect();
        if self.planted(PlantedBugKind::ObserverCounted) {
            matched.extend(self.observers.values().map(|p| p.matched));
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let majority = matched[self.quorum() - 1];
        let current = self.term_at(majority) == Some(self.hard.term)
            || self.planted(PlantedBugKind::CommitOldTerm);
        if majority > self.commit_index && current {
            self.commit_index = majority;
            self.announce_commit();
        }
    }

    /// Tells the followers and observers that hold the whole log but not yet the commit index
    /// it now has, at once rather than at the next heartbeat, so that they apply it at once (a
    /// broker's metadata, a change forwarded through a follower, wait for nothing). One that is
    /// still sent entries learns it from the Append its answer brings.
    fn announce_commit(&mut self) {
        let (last, commit) = (self.last_index(), self.commit_index);
        let caught_up: Vec<NodeId> = (self.progress.iter().chain(&self.observers))
            .filter(|(_, p)| p.next > last && p.commit_sent < commit)
            .map(|(&id, _)| id)
            .collect();
        for to in caught_up {
            self.send_append(to);
        }
    }

    fn has_quorum_contact(&self, now_ms: u64) -> bool {
        let since = now_ms.saturating_sub(self.config.election_timeout_ms);
        let observers = match self.planted(PlantedBugKind::ObserverCounted) {
            true => self.observers.values().collect(),
            false => Vec::new(),
        };
        let heard = (self.progress.values().chain(observers))
            .filter(|p| p.last_reply_ms >= since)
            .count();
        heard + 1 >= self.quorum()
    }

    /// Whether this node believes a leader is alive: it leads, or heard from the leader within
    /// the minimum election timeout.
    fn in_lease(&self, now_ms: u64) -> bool {
        match self.role {
            Role::Leader => true,
            _ => {
                self.leader.is_some()
                    && self
                        .leader_contact_ms
                        .is_some_and(|t| now_ms < t + self.config.election_timeout_ms)
            }
        }
    }

    /// Asks every other voter for its (pre-)vote in `term`.
    fn broadcast_vote_request(&mut self, now_ms: u64, term: u64, pre_vote: bool) {
        self.answered.clear();
        self.send_vote_requests(now_ms, term, pre_vote);
    }

    /// Campaigning: asks again the voters that have not answered (a lost question, a voter
    /// that restarted). A voter that already granted this candidate grants it again.
    fn ask_unanswered(&mut self, now_ms: u64) {
        let (term, pre_vote) = match self.role {
            Role::PreCandidate => (self.hard.term + 1, true),
            Role::Candidate => (self.hard.term, false),
            Role::Follower | Role::Leader => return,
        };
        self.send_vote_requests(now_ms, term, pre_vote);
    }

    fn send_vote_requests(&mut self, now_ms: u64, term: u64, pre_vote: bool) {
        let msg = RaftMsg::RequestVote {
            term,
            pre_vote,
            last_log_index: self.last_index(),
            last_log_term: self.last_term(),
        };
        let unanswered: Vec<NodeId> = (self.peers().into_iter())
            .filter(|to| !self.answered.contains(to))
            .collect();
        for to in unanswered {
            self.send(to, msg.clone());
        }
        self.vote_retry_ms = now_ms + self.config.heartbeat_interval_ms;
    }

    fn broadcast_append(&mut self) {
        for to in self.peers() {
            self.send_append(to);
        }
        let observers: Vec<NodeId> = self.observers.keys().copied().collect();
        for to in observers {
            self.send_append(to);
        }
    }

    fn send_append(&mut self, to: NodeId) {
        let base = self.snapshot.meta;
        let (now_ms, resend_ms) = (self.now_ms, self.config.election_timeout_ms);
        let progress = match self.progress.get_mut(&to) {
            Some(progress) => progress,
            None => match self.observers.get_mut(&to) {
                Some(progress) => progress,
                None => return,
            },
        };
        if progress.next <= base.index {
            // What it needs next was compacted away: the snapshot instead.
            if progress
                .snapshot_sent_ms
                .is_some_and(|sent_ms| now_ms < sent_ms + resend_ms)
            {
                return;
            }
            progress.snapshot_sent_ms = Some(now_ms);
            // A snapshot holds committed entries only: it tells its index as committed.
            progress.commit_sent = progress.commit_sent.max(base.index);
            let msg = RaftMsg::InstallSnapshot {
                term: self.hard.term,
                last_index: base.index,
                last_term: base.term,
                data: self.snapshot.data.to_vec(),
            };
            return self.send(to, msg);
        }
        let prev_index = progress.next - 1;
        progress.commit_sent = self.commit_index;
        let from = (prev_index - base.index) as usize;
        let end = (from + self.config.max_entries_per_append).min(self.log.len());
        let msg = RaftMsg::Append {
            term: self.hard.term,
            prev_index,
            prev_term: self.term_at(prev_index).expect("next is within the log"),
            entries: self.log[from..end].to_vec(),
            leader_commit: self.commit_index,
        };
        self.send(to, msg);
    }

    fn peers(&self) -> Vec<NodeId> {
        self.voters
            .iter()
            .copied()
            .filter(|&v| v != self.id)
            .collect()
    }

    fn send(&mut self, to: NodeId, msg: RaftMsg) {
        self.outbox.push(Envelope { to, msg });
    }

    fn append_local(&mut self, payload: Payload) -> u64 {
        self.push(Entry {
            term: self.hard.term,
            payload,
        });
        self.last_index()
    }

    fn push(&mut self, entry: Entry) {
        self.log.push(entry);
        let index = self.last_index();
        self.dirty_from = Some(self.dirty_from.map_or(index, |d| d.min(index)));
    }

    fn truncate_after(&mut self, keep_through: u64) {
        self.log
            .truncate((keep_through - self.snapshot.meta.index) as usize);
        self.durable_index = self.durable_index.min(keep_through);
        let from = keep_through + 1;
        self.dirty_from = Some(self.dirty_from.map_or(from, |d| d.min(from)));
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.snapshot.meta.term, |e| e.term)
    }

    fn quorum(&self) -> usize {
        if crate::faults::canary(crate::faults::Canary::QuorumSelfMajority) {
            return 1; // the simulator's planted bug: every voter is a majority by itself
        }
        self.voters.len() / 2 + 1
    }

    fn reset_election_timer(&mut self, now_ms: u64, rng: &mut SmallRng) {
        let timeout_ms = self.config.election_timeout_ms;
        if self.observer {
            // An observer campaigns in no election, so it need not wait a random time: after
            // half an election timeout without a word from the leader (five heartbeats) it
            // asks the voters again, and so finds a new leader soon after the election.
            self.election_deadline_ms = now_ms + (timeout_ms / 2).max(1);
            return;
        }
        self.election_deadline_ms = now_ms + rng.gen_range(timeout_ms..2 * timeout_ms);
    }

    /// Whether the bug at this check site is planted: by a model test, or (simulator builds)
    /// by the simulator's canary of the same name.
    fn planted(&self, kind: PlantedBugKind) -> bool {
        let by_canary = match kind {
            PlantedBugKind::VoteTwice => {
                crate::faults::canary(crate::faults::Canary::RaftVoteTwice)
            }
            PlantedBugKind::CommitOldTerm => {
                crate::faults::canary(crate::faults::Canary::RaftCommitOldTerm)
            }
            PlantedBugKind::ObserverCounted => {
                crate::faults::canary(crate::faults::Canary::ObserverCountedInMajority)
            }
        };
        self.planted_by_test(kind) || by_canary
    }

    #[cfg(test)]
    fn planted_by_test(&self, kind: PlantedBugKind) -> bool {
        matches!(
            (self.bug, kind),
            (Some(PlantedBug::VoteTwice), PlantedBugKind::VoteTwice)
                | (
                    Some(PlantedBug::CommitOldTerm),
                    PlantedBugKind::CommitOldTerm
                )
                | (
                    Some(PlantedBug::ObserverCounted),
                    PlantedBugKind::ObserverCounted
                )
        )
    }

    #[cfg(not(test))]
    #[inline]
    fn planted_by_test(&self, _kind: PlantedBugKind) -> bool {
        false
    }
}

/// Whether the simulator planted a canary that breaks Raft's safety, so that a committed
/// entry may be truncated: its checker, not this node's assertion, must be what catches it.
fn unsafe_canary_planted() -> bool {
    use crate::faults::{canary, Canary};
    [
        Canary::QuorumSelfMajority,
        Canary::RaftApplyUncommitted,
        Canary::ObserverCountedInMajority,
        Canary::RaftVoteUnsynced,
        Canary::RaftCommitOldTerm,
    ]
    .into_iter()
    .any(canary)
}

/// The bugs the core itself can plant (a name for each check site, so that a production build
/// has the call sites but no bug).
#[derive(Clone, Copy)]
enum PlantedBugKind {
    VoteTwice,
    CommitOldTerm,
    ObserverCounted,
}
