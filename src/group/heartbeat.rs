//! Heartbeat, LeaveGroup (single and batch), session expiry and timer dispatch, and the
//! membership check an OffsetCommit needs (Kafka's `validateOffsetCommit`).

use crate::messages::groups::{HeartbeatArgs, LeaveGroupArgs, LeaveGroupResult, LeftMember};
use crate::types::ErrorCode;

use super::offsets::CommitIdentity;
use super::output::{Clock, GroupOut, GroupTimer};
use super::state::{ClassicGroup, GroupState};

impl<W: Copy> ClassicGroup<W> {
    /// A Heartbeat: it moves the member's session deadline (no timer effect; the Session
    /// timer re-arms itself), and tells a member of a rebalancing group to rejoin.
    pub fn heartbeat(&mut self, now: Clock, req: &HeartbeatArgs) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        if let Err(code) = self.validate_member(&req.member_id, req.instance_id.as_deref()) {
            return code;
        }
        if req.generation != self.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        let Some(member) = self.members.get_mut(&req.member_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        member.touch(now.mono_ms);
        match self.state {
            GroupState::PreparingRebalance => ErrorCode::REBALANCE_IN_PROGRESS,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::NONE,
            GroupState::Empty | GroupState::Dead => ErrorCode::UNKNOWN_MEMBER_ID,
        }
    }

    /// LeaveGroup. Each member is named by id (v0–2: one; v3+: a batch) or by instance id
    /// (static members; an empty member id then matches any). The answer has one code per
    /// member in request order; the gateway puts a v0–2 request's single code at the top.
    pub fn leave(
        &mut self,
        now: Clock,
        req: LeaveGroupArgs,
        out: &mut Vec<GroupOut<W>>,
    ) -> LeaveGroupResult {
        if self.state == GroupState::Dead {
            return LeaveGroupResult {
                error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                members: Vec::new(),
            };
        }
        let mut removed = false;
        let mut members = Vec::with_capacity(req.members.len());
        for (member_id, instance_id) in req.members {
            let code = self.leave_one(&member_id, instance_id.as_deref(), out);
            removed |= code == ErrorCode::NONE;
            members.push(LeftMember {
                member_id,
                instance_id,
                error_code: code,
            });
        }
        if removed {
            self.after_departure(now, out);
        }
        LeaveGroupResult {
            error_code: ErrorCode::NONE,
            members,
        }
    }

    fn leave_one(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        out: &mut Vec<GroupOut<W>>,
    ) -> ErrorCode {
        let id = match instance_id {
            Some(instance) => match self.member_of_instance(instance) {
                None => return ErrorCode::UNKNOWN_MEMBER_ID,
                Some(id) if !member_id.is_empty() && id != member_id => {
                    return ErrorCode::FENCED_INSTANCE_ID
                }
                Some(id) => id,
            },
            None => member_id.to_owned(),
        };
        if self.pending.remove(&id).is_some() {
            out.push(GroupOut::Cancel(GroupTimer::Session(id)));
            return ErrorCode::NONE;
        }
        if self.remove_member(&id, out) {
            ErrorCode::NONE
        } else {
            ErrorCode::UNKNOWN_MEMBER_ID
        }
    }

    /// A timer of this group fired. Each re-checks the deadline it serves in the state, so a
    /// stale firing only re-arms.
    pub fn timer(&mut self, now: Clock, t: GroupTimer, out: &mut Vec<GroupOut<W>>) {
        match t {
            GroupTimer::Session(id) => self.session_timer(now, id, out),
            GroupTimer::Rebalance => self.rebalance_timer(now, out),
            GroupTimer::Sync => self.sync_timer(now, out),
            GroupTimer::Consumer => {} // a consumer group's, routed by the shard
        }
    }

    /// A session ended unless its deadline moved. A member with a parked JoinGroup or
    /// SyncGroup is alive by definition (it is waiting on us), so its session restarts.
    fn session_timer(&mut self, now: Clock, id: String, out: &mut Vec<GroupOut<W>>) {
        if let Some(&deadline_ms) = self.pending.get(&id) {
            if now.mono_ms < deadline_ms {
                out.push(GroupOut::Wake {
                    timer: GroupTimer::Session(id),
                    at_mono_ms: deadline_ms,
                });
            } else {
                self.pending.remove(&id);
                self.maybe_complete_join(now, out);
            }
            return;
        }
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if member.join_waiter.is_some() || member.sync_waiter.is_some() {
            member.touch(now.mono_ms);
        }
        if now.mono_ms < member.session_deadline_ms {
            out.push(GroupOut::Wake {
                timer: GroupTimer::Session(id),
                at_mono_ms: member.session_deadline_ms,
            });
            return;
        }
        self.remove_member(&id, out);
        self.after_departure(now, out);
    }

    /// Kafka's `ClassicGroup.validateOffsetCommit`: a commit from outside the group protocol
    /// (generation < 0, no member) is allowed only while the group is Empty; a member's needs
    /// the member and its generation, and none is taken while the assignment is unsettled.
    pub fn commit_allowed(&self, id: &CommitIdentity<'_>) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if id.generation < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if id.generation >= 0 || !id.member_id.is_empty() || id.instance_id.is_some() {
            self.validate_member(id.member_id, id.instance_id)?;
            if id.generation != self.generation {
                return Err(ErrorCode::ILLEGAL_GENERATION);
            }
        } else if self.state != GroupState::Empty {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(ErrorCode::REBALANCE_IN_PROGRESS);
        }
        Ok(())
    }

    /// The id of the member holding static `instance` id.
    pub(super) fn member_of_instance(&self, instance: &str) -> Option<String> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
            .map(|m| m.id.clone())
    }

    /// Kafka's `validateMember`: by instance id when given (a different member id holding it
    /// is fenced), else by member id.
    pub(super) fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ErrorCode> {
        match instance_id {
            Some(instance) => match self.member_of_instance(instance) {
                None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
                Some(id) if id != member_id => Err(ErrorCode::FENCED_INSTANCE_ID),
                Some(_) => Ok(()),
            },
            None if self.members.contains_key(member_id) => Ok(()),
            None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
        }
    }
}
