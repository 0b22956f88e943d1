//! Model-checker-style tests of the Raft quorum: thousands of seeded schedules on the stepper
//! ([`crate::actor::stepper::Cluster`]) — drops, duplicates, reordering delays, partitions,
//! crashes that lose unsynced bytes or tear the last write, restarts — with Raft's safety
//! properties checked as the run goes and at its end:
//! * **election safety**: at most one leader per term;
//! * **leader completeness**: a leader's log holds every entry committed in an earlier term;
//! * **state machine safety**: no two nodes apply different entries at one index (restarts
//!   included: a node re-applies its log from the start);
//! * **log matching**: two logs with the same term at an index are equal up to it;
//! * **snapshots**: voters compact their logs every few entries (per seed), so followers that
//!   fell behind are sent snapshots; a node applies every index once, in order, a snapshot
//!   included (never a gap, never going back), and a snapshot holds what the others applied;
//! * and liveness once the faults end: a leader is elected and a new entry reaches every node.
//!
//! Half the seeds add an observer (a node outside the voters, as a broker-only node is): every
//! property holds for it too, it never campaigns, and it must reach the final entry as well.
//!
//! Each planted bug ([`PlantedBug`]) must make some seed fail, which shows the checks can fail.
//! `RILL_RAFT_SEEDS=N` runs N seeds instead of the default, from `RILL_RAFT_FIRST_SEED`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::core::{PlantedBug, RaftConfig, Role};
use super::msg::{Entry, Payload, RaftMsg};
use super::node::{NodeOut, RaftNode};
use crate::actor::stepper::{Cluster, NetFaults, StepActor};
use crate::actor::{Actor, ActorId, Addr, Ctx, Input};
use crate::storage::Storage;
use crate::types::NodeId;

const VOTER: ActorId = ActorId(7);
const DIR: &str = "__cluster_metadata-0";

#[derive(Debug, Serialize, Deserialize)]
enum TestMsg {
    Raft(RaftMsg),
    /// Host request: propose this command if leading.
    Propose(Vec<u8>),
    Proposed(Option<u64>),
    /// Host request: the voter's log and state.
    Dump,
    Dumped {
        /// The log after the snapshot, from `first_index` on.
        log: Vec<Entry>,
        first_index: u64,
        /// What the state machine applied, entry `i` at `applied[i - 1]`.
        applied: Vec<Entry>,
        role: String,
        term: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Tick,
    Propose,
}

/// What every voter of a run reports, and the violations found so far.
#[derive(Default)]
struct Observed {
    leaders: BTreeMap<u64, NodeId>,
    /// index → (entry term, the lowest term of a leader that committed it).
    committed: BTreeMap<u64, (u64, u64)>,
    /// index → the entry applied there (by whichever node applied it first).
    applied: BTreeMap<u64, Entry>,
    applied_count: u64,
    /// Snapshots loaded into a state machine other than at a start (installed from a leader).
    installs: u64,
    /// Voters that just granted a vote to another node: the dangerous moment to crash them.
    just_voted: Vec<NodeId>,
    /// Voters that just became leader: crashing them now strands their first entries.
    just_elected: Vec<NodeId>,
    /// Leaders whose commit index just moved: crashing them now strands what they had not
    /// sent yet.
    just_committed: Vec<NodeId>,
    /// Voters that just took a snapshot from the leader: crashing them now lands in the
    /// middle of its install (snapshot file replaced, old segments not yet removed).
    just_installed: Vec<NodeId>,
    violations: Vec<String>,
}

type Shared = Arc<Mutex<Observed>>;

struct Voter {
    id: NodeId,
    voters: Vec<NodeId>,
    storage: Arc<dyn Storage>,
    observed: Shared,
    bug: Option<PlantedBug>,
    config: RaftConfig,
    node: Option<RaftNode>,
    /// The state machine: every entry applied, in order (entry `i` at `state[i - 1]`).
    state: Vec<Entry>,
    /// Save a snapshot every this many applied entries (0: never).
    snapshot_every: u64,
    last_saved: u64,
    starting: bool,
    /// The term this voter last reported leading.
    led_term: u64,
    /// (term, commit index) this voter last reported as leader.
    reported: (u64, u64),
    /// The vote last seen in the core, to notice a new one.
    last_vote: (u64, Option<NodeId>),
    proposals: u64,
}

impl Voter {
    fn apply_out(&mut self, ctx: &mut Ctx<'_, TestMsg, Timer>, out: NodeOut) {
        for envelope in out.sends {
            let to = Addr {
                node: envelope.to,
                actor: VOTER,
            };
            ctx.send(to, TestMsg::Raft(envelope.msg));
        }
        if let Some(job) = out.persist {
            ctx.persist(0, job);
        }
        let mut observed = self.observed.lock().unwrap();
        if let Some(snapshot) = out.restore {
            let state: Vec<Entry> = match postcard::from_bytes(&snapshot.data) {
                Ok(state) => state,
                Err(e) => {
                    let v = format!("n{} got a snapshot it cannot read: {e}", self.id);
                    observed.violations.push(v);
                    Vec::new()
                }
            };
            if state.len() as u64 != snapshot.meta.index || state.len() < self.state.len() {
                let v = format!(
                    "n{} restored a snapshot of {} entries at index {}, having applied {}",
                    self.id,
                    state.len(),
                    snapshot.meta.index,
                    self.state.len()
                );
                observed.violations.push(v);
            }
            for (i, entry) in state.iter().enumerate() {
                let index = i as u64 + 1;
                match observed.applied.get(&index) {
                    Some(first) if first != entry => {
                        let v = format!(
                            "n{}'s snapshot holds {entry:?} at {index}, another node applied {first:?}",
                            self.id
                        );
                        observed.violations.push(v);
                    }
                    Some(_) => {}
                    None => {
                        observed.applied.insert(index, entry.clone());
                    }
                }
            }
            if !self.starting {
                observed.installs += 1;
                observed.just_installed.push(self.id);
            }
            self.last_saved = state.len() as u64;
            self.state = state;
        }
        for (index, entry) in out.committed {
            observed.applied_count += 1;
            if index != self.state.len() as u64 + 1 {
                let v = format!(
                    "n{} applied index {index} after {}: a gap or a step back",
                    self.id,
                    self.state.len()
                );
                observed.violations.push(v);
            }
            self.state.push(entry.clone());
            match observed.applied.get(&index) {
                Some(first) if *first != entry => {
                    let v = format!(
                        "n{} applied {entry:?} at {index}, another node {first:?}",
                        self.id
                    );
                    observed.violations.push(v);
                }
                Some(_) => {}
                None => {
                    observed.applied.insert(index, entry);
                }
            }
        }
        drop(observed);
        let applied = self.state.len() as u64;
        if self.snapshot_every > 0 && applied >= self.last_saved + self.snapshot_every {
            self.last_saved = applied;
            let data = postcard::to_allocvec(&self.state).expect("entries encode");
            if let Some(node) = self.node.as_mut() {
                let out = node.save_snapshot(applied, data);
                return self.apply_out(ctx, out);
            }
        }
        self.observe(ctx.now.mono_ms);
        if let Some(node) = &self.node {
            let after_ms = node
                .core()
                .next_deadline_ms()
                .saturating_sub(ctx.now.mono_ms)
                .max(1);
            ctx.set_timer(Timer::Tick, after_ms);
        }
    }

    /// Records votes, leadership and commits, checking election safety and leader
    /// completeness.
    fn observe(&mut self, _now_ms: u64) {
        let Some(node) = &self.node else { return };
        let core = node.core();
        let hard = core.hard_state();
        if (hard.term, hard.voted_for) != self.last_vote {
            self.last_vote = (hard.term, hard.voted_for);
            if hard.voted_for.is_some_and(|v| v != self.id) {
                self.observed.lock().unwrap().just_voted.push(self.id);
            }
        }
        if core.is_observer() && core.role() != Role::Follower {
            let v = format!("observer n{} became {:?}", self.id, core.role());
            self.observed.lock().unwrap().violations.push(v);
        }
        if core.role() != Role::Leader {
            return;
        }
        let term = core.term();
        let mut observed = self.observed.lock().unwrap();
        if self.led_term != term {
            self.led_term = term;
            observed.just_elected.push(self.id);
            match observed.leaders.insert(term, self.id) {
                Some(other) if other != self.id => {
                    let v = format!("two leaders in term {term}: n{other} and n{}", self.id);
                    observed.violations.push(v);
                }
                _ => {}
            }
            // Entries in the snapshot are committed ones (checked when it is loaded).
            let base = core.snapshot().meta.index;
            let missing: Vec<u64> = observed
                .committed
                .iter()
                .filter(|(_, &(_, commit_term))| commit_term < term)
                .filter(|(&index, _)| index > base)
                .filter(|(&index, &(entry_term, _))| core.term_at(index) != Some(entry_term))
                .map(|(&index, _)| index)
                .collect();
            if let Some(index) = missing.first() {
                let v = format!(
                    "leader n{} of term {term} lacks committed entry {index}",
                    self.id
                );
                observed.violations.push(v);
            }
        }
        // What this leader committed since it last reported (once per index and term).
        let from = if self.reported.0 == term {
            self.reported.1 + 1
        } else {
            1
        };
        for index in from.max(core.first_index())..=core.commit_index() {
            let entry_term = core
                .term_at(index)
                .expect("committed entries after the snapshot are in the log");
            let (known_term, commit_term) = observed
                .committed
                .entry(index)
                .or_insert((entry_term, term));
            if *known_term != entry_term {
                let v = format!(
                    "n{} committed term {entry_term} at {index}, another leader term {known_term}",
                    self.id
                );
                observed.violations.push(v);
            } else if term < *commit_term {
                // Reported late by a leader of a lower term: it was committed in that term.
                *commit_term = term;
            }
        }
        if self.reported != (term, core.commit_index()) && from > 1 {
            observed.just_committed.push(self.id);
        }
        self.reported = (term, core.commit_index());
    }
}

impl Actor<TestMsg> for Voter {
    type Timer = Timer;

    fn handle(&mut self, ctx: &mut Ctx<'_, TestMsg, Timer>, input: Input<TestMsg, Timer>) {
        let now_ms = ctx.now.mono_ms;
        let out = match input {
            Input::Start => {
                let config = self.config;
                let opened = RaftNode::open(
                    self.storage.clone(),
                    Path::new(DIR),
                    self.id,
                    &self.voters,
                    config,
                    now_ms,
                    ctx.rng,
                );
                let (mut node, out) = opened.expect("the voter's files load");
                node.core_mut().bug = self.bug;
                self.node = Some(node);
                let after_ms = ctx.rng.gen_range(10..100);
                ctx.set_timer(Timer::Propose, after_ms);
                self.starting = true;
                self.apply_out(ctx, out);
                self.starting = false;
                return;
            }
            Input::Msg {
                from,
                msg: TestMsg::Raft(msg),
            } => {
                let node = self.node.as_mut().expect("started");
                node.step(now_ms, from.node, msg, ctx.rng)
            }
            Input::Timer { key: Timer::Tick } => {
                self.node.as_mut().expect("started").tick(now_ms, ctx.rng)
            }
            Input::Timer {
                key: Timer::Propose,
            } => {
                let after_ms = ctx.rng.gen_range(10..150);
                ctx.set_timer(Timer::Propose, after_ms);
                self.proposals += 1;
                let command = format!("n{}@{now_ms}#{}", self.id, self.proposals).into_bytes();
                self.node.as_mut().expect("started").propose(command).1
            }
            Input::Synced { result, .. } => self.node.as_mut().expect("started").synced(result),
            Input::Request {
                id,
                msg: TestMsg::Propose(command),
                ..
            } => {
                let (result, out) = self.node.as_mut().expect("started").propose(command);
                ctx.reply(id, TestMsg::Proposed(result.ok()));
                out
            }
            Input::Request {
                id,
                msg: TestMsg::Dump,
                ..
            } => {
                let core = self.node.as_ref().expect("started").core();
                let reply = TestMsg::Dumped {
                    log: core.entries().to_vec(),
                    first_index: core.first_index(),
                    applied: self.state.clone(),
                    role: format!("{:?}{:?}", core.role(), core.followers()),
                    term: core.term(),
                };
                ctx.reply(id, reply);
                NodeOut::default()
            }
            other => panic!("unexpected input {other:?}"),
        };
        self.apply_out(ctx, out);
    }
}

/// One seed's run: the fault schedule, then healing and the liveness and log checks.
fn run_seed(seed: u64, bug: Option<PlantedBug>) -> Result<RunStats, String> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_0f4a_f700);
    let size = [1, 3, 3, 5, 5][rng.gen_range(0..5)];
    let voter_ids: Vec<NodeId> = (1..=size).map(NodeId).collect();
    // Drawn apart, so that the voters' draws stay those of the seed.
    let observers = seed % 2;
    let ids: Vec<NodeId> = (1..=size + observers).map(NodeId).collect();
    // Small Appends put the commit point on entries of earlier terms now and then.
    // Short timeouts make many elections a run.
    let election_timeout_ms = [150, 300, 1000][rng.gen_range(0..3)];
    let config = RaftConfig {
        election_timeout_ms,
        heartbeat_interval_ms: election_timeout_ms / 10,
        max_entries_per_append: [1, 2, 64][rng.gen_range(0..3)],
    };
    // Drawn apart, so that the schedule's draws stay those of the seed.
    let snapshot_every = [0, 3, 10, 40][(seed % 4) as usize];
    let observed: Shared = Arc::default();
    let mut cluster: Cluster<TestMsg> = Cluster::new(seed);
    for &id in &ids {
        let (voters, observed) = (voter_ids.clone(), observed.clone());
        cluster.add_node(id, move |storage| {
            let voter = Voter {
                id,
                voters: voters.clone(),
                storage: Arc::new(storage.clone()),
                observed: observed.clone(),
                bug,
                config,
                node: None,
                state: Vec::new(),
                snapshot_every,
                last_saved: 0,
                starting: false,
                led_term: 0,
                reported: (0, 0),
                last_vote: (0, None),
                proposals: 0,
            };
            vec![(VOTER, StepActor::new(voter))]
        });
    }
    // Slow syncs widen every window between a write and its durability.
    let disk_delay_ms = [
        rng.gen_range(1..5),
        rng.gen_range(20..100),
        rng.gen_range(100..400),
    ];
    cluster.set_disk_delay_ms(disk_delay_ms[rng.gen_range(0..3)]);
    let run_ms = 20_000;
    let mut next_fault_ms = 0;
    // Voters crashed right after granting a vote or winning an election (the dangerous
    // moments), and when they come back.
    let mut restarts: Vec<(u64, NodeId)> = Vec::new();
    while cluster.now_ms() < run_ms {
        if cluster.now_ms() >= next_fault_ms {
            let leader = observed
                .lock()
                .unwrap()
                .leaders
                .values()
                .next_back()
                .copied();
            fault(&mut cluster, &mut rng, &ids, leader);
            next_fault_ms = cluster.now_ms() + rng.gen_range(50..800);
        }
        cluster.run_for(rng.gen_range(1..20));
        let mut moments = Vec::new();
        {
            let mut observed = observed.lock().unwrap();
            moments.extend(observed.just_voted.drain(..).map(|id| (id, 0.2)));
            moments.extend(observed.just_elected.drain(..).map(|id| (id, 0.25)));
            moments.extend(observed.just_committed.drain(..).map(|id| (id, 0.02)));
            moments.extend(observed.just_installed.drain(..).map(|id| (id, 0.3)));
        }
        for (id, p) in moments {
            if cluster.is_up(id) && rng.gen_bool(p) {
                cluster.crash_torn(id);
                restarts.push((cluster.now_ms() + rng.gen_range(0..300), id));
            }
        }
        let now_ms = cluster.now_ms();
        restarts.retain(|&(at_ms, id)| {
            let due = at_ms <= now_ms;
            if due && !cluster.is_up(id) {
                cluster.restart(id);
            }
            !due
        });
        if let Some(v) = observed.lock().unwrap().violations.first() {
            return Err(v.clone());
        }
    }
    // Heal everything and check that the quorum serves again.
    cluster.heal();
    cluster.set_faults(NetFaults::NONE);
    cluster.set_disk_delay_ms(1);
    for &id in &ids {
        if !cluster.is_up(id) {
            cluster.restart(id);
        }
    }
    cluster.run_for(6_000);
    let mut proposed = None;
    for &id in &ids {
        let addr = Addr {
            node: id,
            actor: VOTER,
        };
        if let Ok(TestMsg::Proposed(Some(index))) =
            cluster.ask(addr, TestMsg::Propose(b"final".to_vec()), 100)
        {
            proposed = Some(index);
            break;
        }
    }
    let Some(final_index) = proposed else {
        return Err("no leader 6 s after the faults ended".to_owned());
    };
    cluster.run_for(3_000);
    let mut logs = BTreeMap::new();
    for &id in &ids {
        let addr = Addr {
            node: id,
            actor: VOTER,
        };
        match cluster.ask(addr, TestMsg::Dump, 100) {
            Ok(TestMsg::Dumped {
                log,
                first_index,
                applied,
                ..
            }) => {
                logs.insert(id, (first_index, log, applied));
            }
            other => return Err(format!("n{id} did not answer a dump: {other:?}")),
        }
    }
    check_log_matching(&logs)?;
    for (id, (_, _, applied)) in &logs {
        let has_final = applied
            .get(final_index as usize - 1)
            .is_some_and(|e| e.payload == Payload::Command(b"final".to_vec()));
        if !has_final {
            let states = describe_voters(&mut cluster, &ids);
            cluster.run_for(5_000);
            let later = describe_voters(&mut cluster, &ids);
            return Err(format!("n{id} lacks the final entry {final_index} 3 s after it was proposed: {states:?} {later:?} {config:?}"));
        }
    }
    let observed = observed.lock().unwrap();
    if let Some(v) = observed.violations.first() {
        return Err(v.clone());
    }
    Ok(RunStats {
        trace_hash: cluster.trace_hash(),
        nodes: size,
        terms: observed.leaders.len() as u64,
        committed: observed.committed.len() as u64,
        installs: observed.installs,
    })
}

#[derive(Debug, Default)]
struct RunStats {
    trace_hash: u64,
    nodes: u64,
    terms: u64,
    committed: u64,
    installs: u64,
}

/// Each voter's role, term, log and applied count, for a failure's message.
fn describe_voters(cluster: &mut Cluster<TestMsg>, ids: &[NodeId]) -> Vec<String> {
    ids.iter()
        .map(|&id| {
            let addr = Addr {
                node: id,
                actor: VOTER,
            };
            match cluster.ask(addr, TestMsg::Dump, 100) {
                Ok(TestMsg::Dumped {
                    log,
                    first_index,
                    applied,
                    role,
                    term,
                }) => format!(
                    "n{id} {role} t{term} log {first_index}+{} applied {}",
                    log.len(),
                    applied.len()
                ),
                other => format!("n{id} {other:?}"),
            }
        })
        .collect()
}

/// One fault action (or none), drawn from the seed.
fn fault(
    cluster: &mut Cluster<TestMsg>,
    rng: &mut SmallRng,
    ids: &[NodeId],
    leader: Option<NodeId>,
) {
    let node = ids[rng.gen_range(0..ids.len())];
    match rng.gen_range(0..13) {
        // Aimed at the latest leader: force an election among the others.
        10 | 11 => {
            if let Some(leader) = leader {
                cluster.isolate(leader);
            }
        }
        12 => {
            if let Some(leader) = leader {
                cluster.crash(leader);
            }
        }
        0 => {
            let other = ids[rng.gen_range(0..ids.len())];
            if other != node {
                cluster.partition(node, other);
            }
        }
        1 => cluster.isolate(node),
        2 | 3 => cluster.heal(),
        4 => cluster.crash(node),
        5 => {
            cluster.crash_torn(node);
        }
        6 | 7 => {
            for &id in ids {
                if !cluster.is_up(id) && rng.gen_bool(0.7) {
                    cluster.restart(id);
                }
            }
        }
        8 => cluster.set_faults(NetFaults {
            drop: rng.gen_range(0.0..0.3),
            duplicate: rng.gen_range(0.0..0.2),
            delay_ms: 0..rng.gen_range(1..80),
        }),
        _ => cluster.set_faults(NetFaults::NONE),
    }
}

/// A node's log (first index, entries after its snapshot) and its applied entries.
type Dump = (u64, Vec<Entry>, Vec<Entry>);

/// Two logs with the same term at an index hold the same entries up to it (where both still
/// hold entries), and every two state machines applied the same entries where both did.
fn check_log_matching(logs: &BTreeMap<NodeId, Dump>) -> Result<(), String> {
    for (a, (first_a, log_a, applied_a)) in logs {
        for (b, (first_b, log_b, applied_b)) in logs.range(a..).skip(1) {
            let common = applied_a.len().min(applied_b.len());
            if applied_a[..common] != applied_b[..common] {
                return Err(format!("n{a} and n{b} applied different entries"));
            }
            let at = |first: u64, log: &[Entry], index: u64| -> Entry {
                log[(index - first) as usize].clone()
            };
            let low = *first_a.max(first_b);
            let high = (first_a + log_a.len() as u64).min(first_b + log_b.len() as u64);
            let Some(last_same) = (low..high)
                .rev()
                .find(|&i| at(*first_a, log_a, i).term == at(*first_b, log_b, i).term)
            else {
                continue;
            };
            if (low..=last_same).any(|i| at(*first_a, log_a, i) != at(*first_b, log_b, i)) {
                return Err(format!(
                    "n{a} and n{b} agree on the term at {last_same} but not before"
                ));
            }
        }
    }
    Ok(())
}

/// The seeds to run: `RILL_RAFT_SEEDS` of them (or `default`) from `RILL_RAFT_FIRST_SEED` (or
/// 0) on. `RILL_RAFT_FIRST_SEED=N RILL_RAFT_SEEDS=1` replays seed N.
fn seeds(default: u64) -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse().ok());
    let first = var("RILL_RAFT_FIRST_SEED").unwrap_or(0);
    first..first + var("RILL_RAFT_SEEDS").unwrap_or(default)
}

#[test]
fn the_quorum_stays_safe_and_recovers_under_seeded_faults() {
    let mut totals = RunStats::default();
    let seeds = seeds(200);
    let count = seeds.end - seeds.start;
    for seed in seeds {
        match run_seed(seed, None) {
            Ok(stats) => {
                totals.nodes += stats.nodes;
                totals.terms += stats.terms;
                totals.committed += stats.committed;
                totals.installs += stats.installs;
            }
            Err(violation) => panic!(
                "seed {seed}: {violation} (replay: RILL_RAFT_FIRST_SEED={seed} RILL_RAFT_SEEDS=1)"
            ),
        }
    }
    // The runs did something: leaders came and went, and entries committed.
    assert!(totals.terms > count, "{totals:?}");
    assert!(totals.committed > 20 * count, "{totals:?}");
    // Followers fell behind compacted logs and were sent snapshots.
    assert!(totals.installs > count / 10, "{totals:?}");
    eprintln!("{count} seeds: {totals:?}");
}

/// Each planted bug breaks a safety property within the first thousand seeds (measured:
/// VoteTwice at seed 0, InstallSkipsRestore at 1, ObserverCounted at 49 (odd seeds have an
/// observer), VoteBeforePersist at 60, CommitOldTerm at 469).
#[test]
fn every_planted_bug_is_caught() {
    for bug in [
        PlantedBug::VoteTwice,
        PlantedBug::VoteBeforePersist,
        PlantedBug::CommitOldTerm,
        PlantedBug::InstallSkipsRestore,
        PlantedBug::ObserverCounted,
    ] {
        let found = seeds(1000).find_map(|seed| run_seed(seed, Some(bug)).err().map(|v| (seed, v)));
        let (seed, violation) = found.unwrap_or_else(|| panic!("{bug:?} was never caught"));
        eprintln!("{bug:?}: caught at seed {seed}: {violation}");
    }
}

#[test]
fn a_seed_replays_exactly() {
    let first = run_seed(11, None).expect("seed 11 passes");
    let again = run_seed(11, None).expect("seed 11 passes");
    assert_eq!(first.trace_hash, again.trace_hash);
    assert_ne!(
        first.trace_hash,
        run_seed(12, None).expect("seed 12 passes").trace_hash
    );
}
