//! JoinGroup (Kafka's `classicGroupJoin`): validation, MEMBER_ID_REQUIRED (KIP-394), the
//! join phase (with the initial delay of an Empty group) and its completion: the protocol
//! vote, the new generation, and the answers to every parked join.

use std::collections::BTreeMap;

use rand::RngCore;

use crate::faults::{self, Canary};
use crate::limits::GROUP_PENDING_MEMBERS_MAX;
use crate::messages::groups::{GroupsReply, JoinGroupArgs, JoinGroupResult, JoinedMember};
use crate::types::ErrorCode;

use super::member::{new_member_id, session_ms, Member};
use super::output::{AfterWrite, Clock, GroupOut, GroupTimer};
use super::settings::GroupSettings;
use super::state::{join_error, ClassicGroup, GroupState};

impl<W: Copy> ClassicGroup<W> {
    /// A JoinGroup from `w`: answered at once (errors, MEMBER_ID_REQUIRED, a member rejoining
    /// a settled generation unchanged) or parked until the join phase completes.
    pub fn join(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        rng: &mut impl RngCore,
        req: JoinGroupArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        if let Err(code) = self.check_join(s, &req) {
            out.push(GroupOut::Answer(w, join_error(code, &req.member_id)));
            return;
        }
        if req.member_id.is_empty() {
            self.join_new(now, s, rng, req, w, out);
        } else if self.pending.remove(&req.member_id).is_some() {
            // The second half of the MEMBER_ID_REQUIRED handshake.
            let id = req.member_id.clone();
            self.add_member(now, s, id, req, w, out);
        } else {
            match self.validate_member(&req.member_id, req.instance_id.as_deref()) {
                Ok(()) => self.join_existing(now, s, req, w, out),
                Err(code) => out.push(GroupOut::Answer(w, join_error(code, &req.member_id))),
            }
        }
    }

    /// Kafka's checks before anything changes: the group is alive, the session timeout is
    /// within the broker's bounds, the protocols fit the group's.
    fn check_join(&self, s: &GroupSettings, req: &JoinGroupArgs) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if req.session_timeout_ms < s.min_session_timeout_ms
            || req.session_timeout_ms > s.max_session_timeout_ms
        {
            return Err(ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        if !self.protocols_fit(&req.member_id, &req.protocol_type, &req.protocols) {
            return Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        Ok(())
    }

    /// Kafka's `supportsProtocols`: anything non-empty fits a group without (other) members;
    /// otherwise the type must match and one protocol must be supported by every other member.
    fn protocols_fit(&self, member_id: &str, kind: &str, protocols: &[(String, Vec<u8>)]) -> bool {
        if kind.is_empty() || protocols.is_empty() {
            return false;
        }
        let others: Vec<&Member<W>> = self
            .members
            .values()
            .filter(|m| m.id != member_id)
            .collect();
        if others.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(kind)
            && protocols
                .iter()
                .any(|(name, _)| others.iter().all(|m| m.supports(name)))
    }

    /// A join without a member id: a static member (re)joins at once; a dynamic one gets an id,
    /// and from v4 on must come back with it (MEMBER_ID_REQUIRED) before it counts.
    fn join_new(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        rng: &mut impl RngCore,
        req: JoinGroupArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let full = usize::try_from(s.max_size).unwrap_or(0) <= self.members.len();
        let replaced = (req.instance_id.as_deref()).and_then(|i| self.member_of_instance(i));
        if full && replaced.is_none() {
            out.push(GroupOut::Answer(
                w,
                join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, ""),
            ));
            return;
        }
        let id = new_member_id(&req.client_id, rng);
        if let Some(old) = replaced {
            // KIP-345: the instance's new incarnation fences the old member id.
            self.rejoin_static(now, &old, id, req, w, out);
            return;
        } else if req.requires_known_member_id && req.instance_id.is_none() {
            if self.pending.len() >= GROUP_PENDING_MEMBERS_MAX {
                // A client looping on empty-id joins: each would cost an entry and a timer.
                // Retriable (GROUP_MAX_SIZE_REACHED is fatal to Java consumers): a real member
                // retries once the flood's pending entries time out.
                out.push(GroupOut::Answer(
                    w,
                    join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, ""),
                ));
                return;
            }
            let deadline_ms = now.mono_ms + session_ms(req.session_timeout_ms);
            self.pending.insert(id.clone(), deadline_ms);
            out.push(GroupOut::Wake {
                timer: GroupTimer::Session(id.clone()),
                at_mono_ms: deadline_ms,
            });
            out.push(GroupOut::Answer(
                w,
                join_error(ErrorCode::MEMBER_ID_REQUIRED, &id),
            ));
            return;
        }
        self.add_member(now, s, id, req, w, out);
    }

    /// Adds a member with its join parked, and starts (or feeds) the join phase.
    fn add_member(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        id: String,
        req: JoinGroupArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        if usize::try_from(s.max_size).unwrap_or(0) <= self.members.len() {
            out.push(GroupOut::Answer(
                w,
                join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, &id),
            ));
            out.push(GroupOut::Cancel(GroupTimer::Session(id)));
            return;
        }
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        let mut member = Member {
            id: id.clone(),
            instance_id: req.instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            protocols: req.protocols,
            assignment: Vec::new(),
            session_deadline_ms: 0,
            join_waiter: Some(w),
            sync_waiter: None,
        };
        member.touch(now.mono_ms);
        out.push(GroupOut::Wake {
            timer: GroupTimer::Session(id.clone()),
            at_mono_ms: member.session_deadline_ms,
        });
        self.members.insert(id.clone(), member);
        if self.leader.is_none() {
            self.leader = Some(id);
        }
        if let Some(initial) = self.initial.as_mut() {
            initial.member_added = true;
        }
        self.prepare_rebalance(now, initial_delay_ms(s), out);
        self.maybe_complete_join(now, out);
    }

    /// A known member's join (Kafka's `classicGroupJoinExistingMember`).
    fn join_existing(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        req: JoinGroupArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let Some(member) = self.members.get_mut(&req.member_id) else {
            return;
        };
        let unchanged = member.protocols == req.protocols;
        let is_leader = self.leader.as_deref() == Some(member.id.as_str());
        let settled = match self.state {
            GroupState::CompletingRebalance => unchanged,
            // Kafka: a leader rejoining a Stable group wants to assign again.
            GroupState::Stable => unchanged && !is_leader,
            _ => false,
        };
        if settled {
            // It missed the join answer, or rejoins for nothing: the current one again.
            member.touch(now.mono_ms);
            let result = self.join_result(&req.member_id);
            out.push(GroupOut::Answer(w, GroupsReply::Joined(result)));
            return;
        }
        member.protocols = req.protocols;
        member.session_timeout_ms = req.session_timeout_ms;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.touch(now.mono_ms);
        // The session may have shrunk: its timer must not fire after the new deadline.
        out.push(GroupOut::Wake {
            timer: GroupTimer::Session(req.member_id.clone()),
            at_mono_ms: member.session_deadline_ms,
        });
        if let Some(old) = member.join_waiter.replace(w) {
            // A client retried its join: the older request is superseded.
            out.push(GroupOut::Answer(
                old,
                join_error(ErrorCode::REBALANCE_IN_PROGRESS, &req.member_id),
            ));
        }
        self.prepare_rebalance(now, initial_delay_ms(s), out);
        self.maybe_complete_join(now, out);
    }

    /// Completes the join phase early once every member rejoined and no MEMBER_ID_REQUIRED
    /// member is still on its way (Kafka's `hasAllMembersJoined`). The initial delay is
    /// never cut short: waiting for more members is its purpose.
    pub(super) fn maybe_complete_join(&mut self, now: Clock, out: &mut Vec<GroupOut<W>>) {
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        if self.state == GroupState::PreparingRebalance
            && self.initial.is_none()
            && all_joined
            && self.pending.is_empty()
        {
            self.complete_join(now, out);
        }
    }

    /// The Rebalance timer: the initial delay is extended while members keep arriving (up to
    /// the rebalance timeout), else the join phase ends now.
    pub(super) fn rebalance_timer(&mut self, now: Clock, out: &mut Vec<GroupOut<W>>) {
        let Some(deadline_ms) = self.rebalance_deadline_ms else {
            return;
        };
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if now.mono_ms < deadline_ms {
            self.arm_rebalance(deadline_ms, out);
            return;
        }
        if let Some(initial) = self.initial.as_mut() {
            if initial.member_added && initial.remaining_ms > 0 {
                let delay_ms = initial.delay_ms.min(initial.remaining_ms);
                initial.remaining_ms -= delay_ms;
                initial.member_added = false;
                self.arm_rebalance(now.mono_ms + delay_ms, out);
                return;
            }
        }
        self.complete_join(now, out);
    }

    /// Kafka's `completeClassicGroupJoin`: members that did not rejoin are dropped, the
    /// generation moves on, and either the group is Empty (and says so in its record) or the
    /// leader gets everyone's metadata and the sync phase starts.
    fn complete_join(&mut self, now: Clock, out: &mut Vec<GroupOut<W>>) {
        self.rebalance_deadline_ms = None;
        self.initial = None;
        out.push(GroupOut::Cancel(GroupTimer::Rebalance));
        let absent: Vec<String> = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in &absent {
            self.remove_member(id, out);
        }
        // The canary keeps the generation through a member change: two owners in one.
        if !(faults::canary(Canary::GroupTwoOwnersOneGeneration) && self.generation > 0) {
            self.generation += 1;
        }
        if self.members.is_empty() {
            self.protocol = None;
            self.leader = None;
            self.set_state(GroupState::Empty, now);
            let then = AfterWrite::Membership {
                generation: self.generation,
            };
            out.push(self.write(self.to_record(), then));
            return;
        }
        self.protocol = self.vote();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.set_state(GroupState::CompletingRebalance, now);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let result = self.join_result(&id);
            let Some(member) = self.members.get_mut(&id) else {
                continue;
            };
            member.assignment.clear();
            member.touch(now.mono_ms);
            if let Some(w) = member.join_waiter.take() {
                out.push(GroupOut::Answer(w, GroupsReply::Joined(result)));
            }
            self.pending_sync.insert(id);
        }
        let at_mono_ms = now.mono_ms + self.rebalance_timeout_ms();
        self.sync_deadline_ms = Some(at_mono_ms);
        out.push(GroupOut::Wake {
            timer: GroupTimer::Sync,
            at_mono_ms,
        });
    }

    /// The protocol every member supports that most members rank first among those; ties go
    /// to the first name in byte order (Kafka's order is its hash map's: unspecified, but not
    /// the members').
    pub(super) fn vote(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| self.members.values().all(|m| m.supports(name)))
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(choice) = member.vote(&candidates) {
                *votes.entry(choice).or_default() += 1;
            }
        }
        // Not the first member's preference order: which member id sorts first changes when a
        // static member rejoins under a new id, and a flipped tie would rebalance for nothing.
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in votes {
            if best.is_none_or(|(_, most)| count > most) {
                best = Some((name, count));
            }
        }
        best.map(|(name, _)| name.to_owned())
    }

    /// The JoinGroup answer for `member_id` in the current generation; only the leader gets
    /// the members and their metadata for the chosen protocol.
    pub(super) fn join_result(&self, member_id: &str) -> JoinGroupResult {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.members
                .values()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    metadata: m.metadata(&protocol).to_vec(),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinGroupResult {
            error_code: ErrorCode::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: Some(protocol),
            leader,
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members,
        }
    }
}

/// `group.initial.rebalance.delay.ms` as unsigned milliseconds.
fn initial_delay_ms(s: &GroupSettings) -> u64 {
    session_ms(s.initial_rebalance_delay_ms)
}
