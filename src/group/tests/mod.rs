//! Runtime-free tests of the pure group layer: a hand clock, `u32` waiters, and the outputs
//! collected and asserted. `Harness` plays the shard: it keeps the armed timers and the
//! writes in flight.

mod classic;
mod classic_proptest;
mod offsets;
mod retention;
mod static_members;

use std::collections::BTreeMap;

use rand::{rngs::SmallRng, SeedableRng};

use crate::messages::groups::{
    GroupsReply, JoinGroupArgs, JoinGroupResult, SyncGroupArgs, SyncGroupResult,
};
use crate::types::ErrorCode;

use super::output::{AfterWrite, Clock, GroupOut, GroupTimer, OffsetsRecord};
use super::settings::GroupSettings;
use super::state::ClassicGroup;

/// A clock at `mono_ms`, with the wall clock a fixed distance ahead.
pub(super) fn at(mono_ms: u64) -> Clock {
    Clock {
        mono_ms,
        unix_ms: 1_700_000_000_000 + mono_ms as i64,
    }
}

/// A `ConsumerProtocolSubscription` (version 1) of `topics`, as a member's metadata.
pub(super) fn encoded_subscription(topics: &[&str]) -> Vec<u8> {
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::{Encodable, StrBytes};
    let body = ConsumerProtocolSubscription::default().with_topics(
        (topics.iter())
            .map(|t| StrBytes::from_string(t.to_string()))
            .collect(),
    );
    let mut buf = bytes::BytesMut::new();
    bytes::BufMut::put_i16(&mut buf, 1);
    body.encode(&mut buf, 1).expect("encodes");
    buf.to_vec()
}

/// A JoinGroup of the consumer protocol with `protocols` (name, metadata = the name's bytes).
pub(super) fn join_args(member_id: &str, protocols: &[&str]) -> JoinGroupArgs {
    JoinGroupArgs {
        group: "g".into(),
        member_id: member_id.into(),
        instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 20_000,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), p.as_bytes().to_vec()))
            .collect(),
        requires_known_member_id: false,
        reason: None,
        can_skip_assignment: false,
    }
}

pub(super) fn sync_args(member_id: &str, generation: i32) -> SyncGroupArgs {
    SyncGroupArgs {
        group: "g".into(),
        generation,
        member_id: member_id.into(),
        instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: None,
        assignments: Vec::new(),
    }
}

/// The shard's part, by hand: time, armed timers, writes in flight, answers.
pub(super) struct Harness {
    pub g: ClassicGroup<u32>,
    pub s: GroupSettings,
    pub rng: SmallRng,
    pub now: Clock,
    /// Armed timers: key -> deadline (a Wake replaces, a Cancel removes).
    pub timers: BTreeMap<GroupTimer, u64>,
    /// Writes in flight, oldest first.
    pub writes: Vec<(Vec<OffsetsRecord>, AfterWrite<u32>)>,
    /// Answers not yet taken by the test.
    pub answers: Vec<(u32, GroupsReply)>,
    next_w: u32,
}

impl Harness {
    pub fn new(s: GroupSettings) -> Self {
        Self {
            g: ClassicGroup::new("g".into(), at(0)),
            s,
            rng: SmallRng::seed_from_u64(1),
            now: at(0),
            timers: BTreeMap::new(),
            writes: Vec::new(),
            answers: Vec::new(),
            next_w: 0,
        }
    }

    /// Kafka's defaults but a 1 s initial delay.
    pub fn kafka() -> Self {
        Self::new(GroupSettings {
            initial_rebalance_delay_ms: 1_000,
            ..GroupSettings::default()
        })
    }

    fn waiter(&mut self) -> u32 {
        self.next_w += 1;
        self.next_w
    }

    pub fn apply(&mut self, out: Vec<GroupOut<u32>>) {
        for o in out {
            match o {
                GroupOut::Answer(w, reply) => self.answers.push((w, reply)),
                GroupOut::Wake { timer, at_mono_ms } => {
                    self.timers.insert(timer, at_mono_ms);
                }
                GroupOut::Cancel(timer) => {
                    self.timers.remove(&timer);
                }
                GroupOut::Write { records, then } => self.writes.push((records, then)),
            }
        }
    }

    pub fn join(&mut self, req: JoinGroupArgs) -> u32 {
        let w = self.waiter();
        let mut out = Vec::new();
        let (now, s) = (self.now, self.s.clone());
        self.g.join(now, &s, &mut self.rng, req, w, &mut out);
        self.apply(out);
        w
    }

    pub fn sync(&mut self, req: SyncGroupArgs) -> u32 {
        let w = self.waiter();
        let mut out = Vec::new();
        self.g.sync(self.now, req, w, &mut out);
        self.apply(out);
        w
    }

    /// Moves the clock to `mono_ms`, firing every timer due by then in deadline order, each
    /// at its own deadline (as the actor's timer table does).
    pub fn advance_to(&mut self, mono_ms: u64) {
        while let Some((timer, due)) = self
            .timers
            .iter()
            .filter(|(_, &due)| due <= mono_ms)
            .min_by_key(|(t, &due)| (due, (*t).clone()))
            .map(|(t, &due)| (t.clone(), due))
        {
            self.timers.remove(&timer);
            self.now = at(due.max(self.now.mono_ms));
            let mut out = Vec::new();
            self.g.timer(self.now, timer, &mut out);
            self.apply(out);
        }
        self.now = at(mono_ms.max(self.now.mono_ms));
    }

    /// Completes the oldest write in flight with `outcome`.
    pub fn complete_write(&mut self, outcome: Result<(), ErrorCode>) -> Vec<OffsetsRecord> {
        let (records, then) = self.writes.remove(0);
        let mut out = Vec::new();
        self.g.written(self.now, then, outcome, &mut out);
        self.apply(out);
        records
    }

    /// The answer to `w` (exactly one), taken.
    pub fn answer(&mut self, w: u32) -> GroupsReply {
        let found: Vec<usize> = (0..self.answers.len())
            .filter(|&i| self.answers[i].0 == w)
            .collect();
        assert_eq!(found.len(), 1, "request {w}: answers {:?}", self.answers);
        self.answers.remove(found[0]).1
    }

    pub fn unanswered(&self, w: u32) -> bool {
        self.answers.iter().all(|(a, _)| *a != w)
    }

    pub fn joined(&mut self, w: u32) -> JoinGroupResult {
        match self.answer(w) {
            GroupsReply::Joined(r) => r,
            other => panic!("not a join answer: {other:?}"),
        }
    }

    pub fn synced(&mut self, w: u32) -> SyncGroupResult {
        match self.answer(w) {
            GroupsReply::Synced(r) => r,
            other => panic!("not a sync answer: {other:?}"),
        }
    }

    /// Joins a member the pre-v4 way (an id at once) and returns its waiter.
    pub fn join_v3(&mut self, protocols: &[&str]) -> u32 {
        self.join(join_args("", protocols))
    }
}
