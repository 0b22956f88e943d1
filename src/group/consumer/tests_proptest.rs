//! Random heartbeat schedules from a few clients — joins, steady heartbeats, leaves, silence
//! long enough for session and revocation timeouts, a topic growing — against KIP-848's
//! promises: no partition is held by two members at any point, nor owned by two live clients;
//! the target epoch is the group epoch; once everyone keeps heartbeating the group converges
//! on its target, and then further heartbeats change nothing.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use crate::group::assign::{Assignment, TopicId};
use crate::messages::groups::ConsumerHeartbeatArgs;
use crate::types::ErrorCode;

use super::group::to_wire;
use super::tests::{at, join, T};
use super::*;

const CLIENTS: usize = 4;
const U: TopicId = [9; 16];

#[derive(Clone, Debug)]
enum Op {
    Join {
        client: usize,
        both: bool,
        range: bool,
    },
    Beat {
        client: usize,
    },
    Leave {
        client: usize,
    },
    Advance {
        ms: u64,
    },
    Grow,
}

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS;
    prop_oneof![
        2 => (client.clone(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(client, both, range)| Op::Join { client, both, range }),
        6 => client.clone().prop_map(|client| Op::Beat { client }),
        1 => client.prop_map(|client| Op::Leave { client }),
        2 => (0u64..25_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Grow),
    ]
}

/// What one client believes: its member id, epoch and the partitions it consumes.
#[derive(Clone, Debug, Default)]
struct Client {
    joined: Option<(String, i32)>,
    owned: Assignment,
}

struct World {
    g: ConsumerGroup,
    s: ConsumerSettings,
    topics: TopicView,
    now: u64,
    clients: Vec<Client>,
}

impl World {
    fn send(&mut self, c: usize, req: ConsumerHeartbeatArgs) {
        let r = self
            .g
            .heartbeat(at(self.now), &self.s, &self.topics, ("c", "/h"), &req);
        let client = &mut self.clients[c];
        match r.error_code {
            ErrorCode::NONE if req.member_epoch < 0 => client.joined = None,
            ErrorCode::NONE => {
                client.joined = Some((req.member_id.clone(), r.member_epoch));
                if let Some(a) = r.assignment {
                    client.owned = a
                        .into_iter()
                        .filter(|(_, ps)| !ps.is_empty())
                        .map(|(t, ps)| (t, ps.into_iter().collect()))
                        .collect();
                }
            }
            // Fenced or unknown: the client gives everything up, as librdkafka does.
            _ => {
                client.joined = None;
                client.owned.clear();
            }
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Join {
                client,
                both,
                range,
            } => {
                let c = &mut self.clients[client];
                c.owned.clear();
                // librdkafka keeps its member id across fencing and rejoins.
                let id = format!("c{client}");
                let mut names = vec!["t".to_string()];
                if both {
                    names.push("u".into());
                }
                let req = ConsumerHeartbeatArgs {
                    subscribed_topic_names: Some(names),
                    server_assignor: range.then(|| "range".into()),
                    ..join(&id)
                };
                self.send(client, req);
            }
            Op::Beat { client } => {
                if let Some(req) = self.beat(client) {
                    self.send(client, req);
                }
            }
            Op::Leave { client } => {
                if let Some(mut req) = self.beat(client) {
                    req.member_epoch = LEAVE_GROUP_MEMBER_EPOCH;
                    self.clients[client].owned.clear();
                    self.send(client, req);
                }
            }
            Op::Advance { ms } => {
                let to = self.now + ms;
                // The group's timer, fired at each deadline in turn.
                while let Some(due) = self.g.next_deadline_ms().filter(|&d| d <= to) {
                    self.now = self.now.max(due);
                    let expired = self.g.expire(at(self.now), &self.s);
                    assert!(!expired.is_empty(), "a due deadline removes someone");
                }
                self.now = to;
            }
            Op::Grow => {
                let t = self.topics.get_mut("t").expect("t");
                t.partitions = (t.partitions + 1).min(9);
            }
        }
    }

    fn beat(&self, client: usize) -> Option<ConsumerHeartbeatArgs> {
        let c = &self.clients[client];
        let (id, epoch) = c.joined.clone()?;
        Some(ConsumerHeartbeatArgs {
            member_epoch: epoch,
            rebalance_timeout_ms: -1,
            subscribed_topic_names: None,
            owned: Some(to_wire(&c.owned)),
            ..join(&id)
        })
    }

    /// Clients whose member the group still has.
    fn live(&self) -> Vec<usize> {
        (0..CLIENTS)
            .filter(|&c| {
                self.clients[c]
                    .joined
                    .as_ref()
                    .is_some_and(|(id, _)| self.g.members.contains_key(id))
            })
            .collect()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let mut held: BTreeSet<(TopicId, i32)> = BTreeSet::new();
        for m in self.g.members.values() {
            for tp in m.held() {
                prop_assert!(held.insert(tp), "{tp:?} held twice: {:?}", self.g.members);
                prop_assert_eq!(self.g.owner(tp.0, tp.1), Some(m.id.as_str()));
            }
            prop_assert!(m.epoch <= self.g.epoch);
        }
        prop_assert_eq!(self.g.target_epoch, self.g.epoch);
        let mut owned: BTreeSet<(TopicId, i32)> = BTreeSet::new();
        for c in self.live() {
            let client = &self.clients[c];
            let (id, _) = client.joined.as_ref().expect("live");
            let member = &self.g.members[id];
            for (t, ps) in &client.owned {
                for &p in ps {
                    prop_assert!(owned.insert((*t, p)), "{p} consumed by two clients");
                    let held_by_it = member.held().any(|tp| tp == (*t, p));
                    prop_assert!(held_by_it, "client {c} consumes {p} it does not hold");
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_partition_has_two_owners_and_the_group_converges(
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut w = World {
            g: ConsumerGroup::new("g".into()),
            s: ConsumerSettings::default(),
            topics: BTreeMap::from([
                ("t".to_string(), TopicInfo { id: T, partitions: 6 }),
                ("u".to_string(), TopicInfo { id: U, partitions: 3 }),
            ]),
            now: 0,
            clients: vec![Client::default(); CLIENTS],
        };
        for op in &ops {
            w.step(op);
            w.check()?;
        }
        // Every live client keeps heartbeating (clients fenced meanwhile stay out).
        for _ in 0..4 {
            for c in w.live() {
                w.step(&Op::Beat { client: c });
                w.check()?;
            }
        }
        let live = w.live();
        prop_assert_eq!(live.len(), w.g.members.len(), "a member without its client");
        for &c in &live {
            let (id, epoch) = w.clients[c].joined.clone().expect("live");
            let m = &w.g.members[&id];
            prop_assert_eq!(m.state, MemberState::Stable);
            prop_assert_eq!(epoch, w.g.target_epoch);
            prop_assert_eq!(&m.assigned, &w.g.target[&id]);
            prop_assert_eq!(&w.clients[c].owned, &m.assigned);
        }
        if !live.is_empty() {
            prop_assert_eq!(w.g.state_name(), "Stable");
        }
        // Stable: a round of no-op heartbeats changes nothing and sends no assignment.
        let before = w.g.clone();
        for &c in &live {
            let req = w.beat(c).expect("live");
            let r = w.g.heartbeat(at(w.now), &w.s, &w.topics, ("c", "/h"), &req);
            prop_assert_eq!(r.assignment, None);
            prop_assert_eq!(r.member_epoch, before.epoch);
        }
        prop_assert_eq!(w.g.epoch, before.epoch);
        prop_assert_eq!(&w.g.target, &before.target);
        for (id, m) in &w.g.members {
            prop_assert_eq!(&m.assigned, &before.members[id].assigned);
        }
    }
}
