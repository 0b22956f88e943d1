//! Static membership (KIP-345, Kafka's `updateStaticMemberThenRebalanceOrCompleteJoin` and
//! `replaceStaticMember`): a JoinGroup without a member id but with a known `group.instance.id`
//! is the instance's new incarnation. It takes a new member id (the old one is fenced) and
//! keeps the old member's assignment. In Stable, if the protocol the group would choose does
//! not change, only the group record is rewritten and the rejoiner gets the current
//! generation: no rebalance. Otherwise the group rebalances as for any changed member.

use crate::messages::groups::{GroupsReply, JoinGroupArgs};
use crate::types::ErrorCode;

use super::member::Member;
use super::output::{
    client_code, AfterWrite, Clock, GroupOut, GroupTimer, StaticRejoin, WriteKind,
};
use super::state::{join_error, sync_error, ClassicGroup, GroupState};

impl<W: Copy> ClassicGroup<W> {
    /// The instance of member `old_id` rejoined as `new_id` with `req`; its join `w` is
    /// parked until the record is written (Stable) or the join phase completes.
    pub(super) fn rejoin_static(
        &mut self,
        now: Clock,
        old_id: &str,
        new_id: String,
        req: JoinGroupArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let leader_before = self.leader.clone();
        let generation = self.generation;
        let Some(member) = self.rename_member(old_id, &new_id, out) else {
            // The caller found `old_id` holding the instance, so this does not happen; were
            // it gone, the instance would be unknown.
            out.push(GroupOut::Answer(
                w,
                join_error(ErrorCode::UNKNOWN_MEMBER_ID, ""),
            ));
            return;
        };
        let then = StaticRejoin {
            generation,
            member_id: new_id.clone(),
            old_member_id: old_id.to_owned(),
            old_protocols: std::mem::replace(&mut member.protocols, req.protocols),
            old_session_timeout_ms: member.session_timeout_ms,
            old_rebalance_timeout_ms: member.rebalance_timeout_ms,
            leader_before,
            can_skip_assignment: req.can_skip_assignment,
        };
        member.session_timeout_ms = req.session_timeout_ms;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.join_waiter = Some(w);
        member.touch(now.mono_ms);
        out.push(GroupOut::Wake {
            timer: GroupTimer::Session(new_id),
            at_mono_ms: member.session_deadline_ms,
        });
        match self.state {
            GroupState::Stable if self.vote() == self.protocol => {
                let record = self.to_record();
                out.push(self.write(record, AfterWrite::StaticRejoin(then)));
            }
            // Past the join phase the leader may already have assigned to the old id, so the
            // group rebalances (as Kafka does in CompletingRebalance).
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.rebalance_now(now, out);
            }
            _ => self.maybe_complete_join(now, out),
        }
    }

    /// Moves member `from` to id `to`, keeping its assignment and leadership, and hands the
    /// renamed member back (`None`: no member `from`); requests parked under the old id are
    /// fenced. As Kafka's `replaceStaticMember`, a SyncGroup still owed by the old id stays
    /// owed: the new id's sync does not pay it, so the Sync deadline rebalances the group.
    fn rename_member(
        &mut self,
        from: &str,
        to: &str,
        out: &mut Vec<GroupOut<W>>,
    ) -> Option<&mut Member<W>> {
        let mut member = self.members.remove(from)?;
        if let Some(w) = member.join_waiter.take() {
            out.push(GroupOut::Answer(
                w,
                join_error(ErrorCode::FENCED_INSTANCE_ID, from),
            ));
        }
        if let Some(w) = member.sync_waiter.take() {
            out.push(GroupOut::Answer(
                w,
                sync_error(ErrorCode::FENCED_INSTANCE_ID),
            ));
        }
        out.push(GroupOut::Cancel(GroupTimer::Session(from.to_owned())));
        member.id = to.to_owned();
        if self.leader.as_deref() == Some(from) {
            self.leader = Some(to.to_owned());
        }
        if let Some(proposed) = self.proposed.as_mut() {
            if let Some(assignment) = proposed.remove(from) {
                proposed.insert(to.to_owned(), assignment);
            }
        }
        self.members.insert(to.to_owned(), member);
        self.members.get_mut(to)
    }

    /// The outcome of a static rejoin's write. It concerns the group only if the rejoin is
    /// still parked in the same Stable generation; a rebalance since answers it itself.
    pub(super) fn static_written(
        &mut self,
        now: Clock,
        done: StaticRejoin,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<GroupOut<W>>,
    ) {
        if self.state != GroupState::Stable || self.generation != done.generation {
            return;
        }
        let Some(member) = self.members.get_mut(&done.member_id) else {
            return;
        };
        let Some(w) = member.join_waiter.take() else {
            return;
        };
        match outcome {
            Ok(()) => {
                let mut result = self.join_result(&done.member_id);
                if done.can_skip_assignment {
                    result.skip_assignment = result.leader == done.member_id;
                } else {
                    result.members.clear();
                    result.leader = done.leader_before.unwrap_or_default();
                }
                out.push(GroupOut::Answer(w, GroupsReply::Joined(result)));
            }
            Err(append) => {
                // Kafka reverts the replacement: the old incarnation's id is the one on disk.
                member.protocols = done.old_protocols;
                member.session_timeout_ms = done.old_session_timeout_ms;
                member.rebalance_timeout_ms = done.old_rebalance_timeout_ms;
                member.touch(now.mono_ms);
                let deadline_ms = member.session_deadline_ms;
                self.rename_member(&done.member_id, &done.old_member_id, out);
                out.push(GroupOut::Wake {
                    timer: GroupTimer::Session(done.old_member_id),
                    at_mono_ms: deadline_ms,
                });
                let code = client_code(append, WriteKind::GroupMetadata);
                out.push(GroupOut::Answer(w, join_error(code, "")));
            }
        }
    }
}
