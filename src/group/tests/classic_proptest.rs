//! Random classic-protocol traffic from a few clients, with timers firing and writes
//! acknowledged or failed in between, against the protocol's invariants:
//! one leader, who is a member; the generation never decreases; every request is answered
//! exactly once by the time the timers have drained; in Stable every member holds the
//! assignment written for the current generation; no partition has two owners in one
//! generation (the clients' leader assigns by range). The last two clients are static members
//! (KIP-345) that may restart: forget their member id and rejoin with their instance id.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::messages::groups::{GroupsReply, HeartbeatArgs, LeaveGroupArgs};
use crate::types::ErrorCode;

use super::super::output::{AfterWrite, OffsetsRecord};
use super::super::settings::GroupSettings;
use super::super::state::GroupState;
use super::{join_args, sync_args, Harness};

const CLIENTS: usize = 4;
const PARTITIONS: u8 = 6;
/// Clients from this index on have a `group.instance.id`.
const FIRST_STATIC: usize = 2;

#[derive(Clone, Debug)]
enum Op {
    Join {
        client: usize,
        v4: bool,
        short_session: bool,
    },
    Sync {
        client: usize,
    },
    Heartbeat {
        client: usize,
    },
    Leave {
        client: usize,
    },
    /// The client's process restarts: it forgets its member id.
    Restart {
        client: usize,
    },
    Advance {
        ms: u64,
    },
    Write {
        ok: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS;
    prop_oneof![
        3 => (client.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(client, v4, short_session)| Op::Join { client, v4, short_session }),
        3 => client.clone().prop_map(|client| Op::Sync { client }),
        2 => client.clone().prop_map(|client| Op::Heartbeat { client }),
        1 => client.clone().prop_map(|client| Op::Leave { client }),
        1 => client.prop_map(|client| Op::Restart { client }),
        2 => (0u64..2_500).prop_map(|ms| Op::Advance { ms }),
        2 => prop::bool::weighted(0.8).prop_map(|ok| Op::Write { ok }),
    ]
}

/// What one client knows from its answers.
#[derive(Clone, Debug, Default)]
struct Client {
    /// Static members' `group.instance.id`, kept across restarts.
    instance: Option<String>,
    member_id: String,
    generation: i32,
    /// Set when it led its last join: the members to assign to.
    members: Option<Vec<String>>,
}

/// A request in flight.
#[derive(Clone, Debug)]
enum Asked {
    Join {
        client: usize,
    },
    /// `owner`: the instance id of a static member (one owner across its restarts), else the
    /// member id.
    Sync {
        generation: i32,
        owner: String,
    },
}

struct World {
    h: Harness,
    clients: Vec<Client>,
    asked: BTreeMap<u32, Asked>,
    /// Assignments of each generation by owner (see `Asked::Sync`), as written (and
    /// acknowledged).
    written: BTreeMap<i32, BTreeMap<String, Vec<u8>>>,
    /// (generation, partition) -> members a SyncGroup answer gave it to.
    owners: BTreeMap<(i32, u8), BTreeSet<String>>,
    generation: i32,
}

/// The range assignor over `members` (sorted): contiguous partition runs, as bytes.
fn range(members: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut sorted = members.to_vec();
    sorted.sort();
    let n = sorted.len().max(1);
    sorted
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let parts = (0..PARTITIONS)
                .filter(|p| usize::from(*p) * n / usize::from(PARTITIONS) == i)
                .collect();
            (m.clone(), parts)
        })
        .collect()
}

impl Client {
    fn forget(&mut self) {
        let instance = self.instance.take();
        *self = Client {
            instance,
            ..Client::default()
        };
    }

    fn owner(&self) -> String {
        self.instance
            .clone()
            .unwrap_or_else(|| self.member_id.clone())
    }
}

/// Who owns a member's assignment: its instance id, else its member id.
fn owner_of(member_id: &str, instance: Option<&String>) -> String {
    instance.cloned().unwrap_or_else(|| member_id.to_owned())
}

impl World {
    fn new(initial_delay_ms: i32) -> Self {
        let s = GroupSettings {
            min_session_timeout_ms: 1_000,
            initial_rebalance_delay_ms: initial_delay_ms,
            ..GroupSettings::default()
        };
        Self {
            h: Harness::new(s),
            clients: (0..CLIENTS)
                .map(|c| Client {
                    instance: (c >= FIRST_STATIC).then(|| format!("i{c}")),
                    ..Client::default()
                })
                .collect(),
            asked: BTreeMap::new(),
            written: BTreeMap::new(),
            owners: BTreeMap::new(),
            generation: 0,
        }
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Join {
                client,
                v4,
                short_session,
            } => {
                let c = &self.clients[client];
                let mut req = join_args(&c.member_id, &["range"]);
                req.requires_known_member_id = v4;
                req.can_skip_assignment = v4;
                req.instance_id = c.instance.clone();
                req.session_timeout_ms = if short_session { 1_000 } else { 3_000 };
                req.rebalance_timeout_ms = if short_session { 2_000 } else { 4_000 };
                let w = self.h.join(req);
                self.asked.insert(w, Asked::Join { client });
            }
            Op::Sync { client } => {
                let c = &self.clients[client];
                let mut req = sync_args(&c.member_id, c.generation);
                req.instance_id = c.instance.clone();
                if let Some(members) = &c.members {
                    req.assignments = range(members);
                }
                let asked = Asked::Sync {
                    generation: c.generation,
                    owner: c.owner(),
                };
                let w = self.h.sync(req);
                self.asked.insert(w, asked);
            }
            Op::Heartbeat { client } => {
                let c = &self.clients[client];
                let req = HeartbeatArgs {
                    group: "g".into(),
                    generation: c.generation,
                    member_id: c.member_id.clone(),
                    instance_id: c.instance.clone(),
                };
                let code = self.h.g.heartbeat(self.h.now, &req);
                if matches!(
                    code,
                    ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_INSTANCE_ID
                ) {
                    self.clients[client].forget();
                }
            }
            Op::Leave { client } => {
                let req = LeaveGroupArgs {
                    group: "g".into(),
                    members: vec![(self.clients[client].member_id.clone(), None)],
                };
                let mut out = Vec::new();
                let result = self.h.g.leave(self.h.now, req, &mut out);
                self.h.apply(out);
                prop_assert_eq!(result.members.len(), 1);
                self.clients[client].forget();
            }
            Op::Restart { client } => self.clients[client].forget(),
            Op::Advance { ms } => {
                let to = self.h.now.mono_ms + ms;
                self.h.advance_to(to);
            }
            Op::Write { ok } => {
                if !self.h.writes.is_empty() {
                    self.deliver(ok);
                }
            }
        }
        self.take_answers()?;
        self.check()
    }

    /// Completes the oldest write, noting an acknowledged assignment.
    fn deliver(&mut self, ok: bool) {
        let (records, then) = self.h.writes[0].clone();
        let generation = match &then {
            AfterWrite::Assignment { generation } => Some(*generation),
            AfterWrite::StaticRejoin(rejoin) => Some(rejoin.generation),
            _ => None,
        };
        if let (true, Some(generation)) = (ok, generation) {
            if let [OffsetsRecord::Group { value: Some(v), .. }] = records.as_slice() {
                let assigned = v
                    .members
                    .iter()
                    .map(|m| {
                        let owner = owner_of(&m.member_id, m.group_instance_id.as_ref());
                        (owner, m.assignment.clone())
                    })
                    .collect();
                self.written.insert(generation, assigned);
            }
        }
        let outcome = if ok {
            Ok(())
        } else {
            Err(ErrorCode::REQUEST_TIMED_OUT)
        };
        self.h.complete_write(outcome);
    }

    fn take_answers(&mut self) -> Result<(), TestCaseError> {
        for (w, reply) in std::mem::take(&mut self.h.answers) {
            let asked = self.asked.remove(&w);
            prop_assert!(
                asked.is_some(),
                "request {} answered twice or never asked",
                w
            );
            match (asked, reply) {
                (Some(Asked::Join { client }), GroupsReply::Joined(r)) => {
                    let c = &mut self.clients[client];
                    match r.error_code {
                        ErrorCode::NONE => {
                            c.member_id = r.member_id.clone();
                            c.generation = r.generation;
                            c.members = (r.leader == r.member_id && !r.skip_assignment)
                                .then(|| r.members.iter().map(|m| m.member_id.clone()).collect());
                        }
                        ErrorCode::MEMBER_ID_REQUIRED => c.member_id = r.member_id,
                        ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_INSTANCE_ID => c.forget(),
                        _ => {}
                    }
                }
                (Some(Asked::Sync { generation, owner }), GroupsReply::Synced(r)) => {
                    if r.error_code == ErrorCode::NONE {
                        for p in r.assignment {
                            self.owners
                                .entry((generation, p))
                                .or_default()
                                .insert(owner.clone());
                        }
                    }
                }
                (asked, reply) => prop_assert!(false, "{:?} answered {:?}", asked, reply),
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let g = &self.h.g;
        if let Some(leader) = g.leader() {
            prop_assert!(
                g.members().contains_key(leader),
                "leader {} is no member",
                leader
            );
        }
        prop_assert!(
            g.members().is_empty()
                || g.state() == GroupState::PreparingRebalance
                || g.leader().is_some(),
            "members without a leader in {:?}",
            g.state()
        );
        prop_assert!(
            g.generation() >= self.generation,
            "the generation went back"
        );
        self.generation = g.generation();
        if g.state() == GroupState::Stable {
            let written = self.written.get(&g.generation());
            prop_assert!(written.is_some(), "Stable without a written assignment");
            for (id, m) in g.members() {
                let owner = owner_of(id, m.instance_id.as_ref());
                let expected = written
                    .and_then(|w| w.get(&owner))
                    .cloned()
                    .unwrap_or_default();
                prop_assert_eq!(&m.assignment, &expected, "member {}", id);
            }
        }
        for ((generation, p), owners) in &self.owners {
            prop_assert!(
                owners.len() <= 1,
                "partition {} of generation {}: {:?}",
                p,
                generation,
                owners
            );
        }
        Ok(())
    }

    /// Acknowledges every write and runs the timers until none is left: by then every
    /// request must have its answer.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..10_000 {
            while !self.h.writes.is_empty() {
                self.deliver(true);
            }
            self.take_answers()?;
            self.check()?;
            let Some(&next) = self.h.timers.values().min() else {
                break;
            };
            self.h.advance_to(next.max(self.h.now.mono_ms));
        }
        prop_assert!(
            self.h.timers.is_empty(),
            "timers never drained: {:?}",
            self.h.timers
        );
        prop_assert!(self.asked.is_empty(), "never answered: {:?}", self.asked);
        prop_assert!(
            self.h.g.members().is_empty(),
            "silent members outlived their sessions"
        );
        Ok(())
    }
}

proptest! {
    #[test]
    fn classic_groups_keep_the_protocols_invariants(
        initial_delay_ms in 0i32..500,
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let mut world = World::new(initial_delay_ms);
        for op in ops {
            world.step(op)?;
        }
        world.drain()?;
    }
}
