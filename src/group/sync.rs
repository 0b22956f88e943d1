//! SyncGroup (Kafka's `classicGroupSync`) and the assignment write it starts: the leader's
//! assignment becomes a GroupMetadata record, and only once that write is acknowledged is
//! the group Stable and every parked SyncGroup answered.

use std::collections::BTreeMap;

use crate::limits::GROUP_ASSIGNMENT_BYTES_MAX;
use crate::messages::groups::{GroupsReply, SyncGroupArgs, SyncGroupResult};
use crate::types::ErrorCode;

use super::output::{client_code, AfterWrite, Clock, GroupOut, GroupTimer, WriteKind};
use super::state::{sync_error, ClassicGroup, GroupState};

impl<W: Copy> ClassicGroup<W> {
    /// A SyncGroup from `w`: answered at once (errors, Stable) or parked until the leader's
    /// assignment is written.
    pub fn sync(&mut self, now: Clock, req: SyncGroupArgs, w: W, out: &mut Vec<GroupOut<W>>) {
        if let Err(code) = self.check_sync(&req) {
            out.push(GroupOut::Answer(w, sync_error(code)));
            return;
        }
        let Some(member) = self.members.get_mut(&req.member_id) else {
            return;
        };
        member.touch(now.mono_ms);
        self.pending_sync.remove(&req.member_id);
        if self.state == GroupState::Stable {
            let reply = self.synced(&req.member_id);
            out.push(GroupOut::Answer(w, reply));
            self.maybe_end_sync_deadline(out);
            return;
        }
        // CompletingRebalance: park until the assignment is written.
        if let Some(old) = member.sync_waiter.replace(w) {
            out.push(GroupOut::Answer(
                old,
                sync_error(ErrorCode::REBALANCE_IN_PROGRESS),
            ));
        }
        if self.leader.as_deref() == Some(req.member_id.as_str()) && self.proposed.is_none() {
            if self.record_bytes(&req.assignments) > GROUP_ASSIGNMENT_BYTES_MAX {
                // Kafka's answer to a group record it cannot write (a too large append):
                // the parked syncs get UNKNOWN_SERVER_ERROR and the group rebalances.
                let code = client_code(ErrorCode::RECORD_LIST_TOO_LARGE, WriteKind::GroupMetadata);
                self.answer_syncs(code, out);
                return self.rebalance_now(now, out);
            }
            let given: BTreeMap<String, Vec<u8>> = req.assignments.into_iter().collect();
            // Kafka fills members the leader left out with an empty assignment and ignores
            // ids that are not members.
            let proposed: BTreeMap<String, Vec<u8>> = self
                .members
                .keys()
                .map(|id| (id.clone(), given.get(id).cloned().unwrap_or_default()))
                .collect();
            let record = self.record_with(Some(&proposed));
            self.proposed = Some(proposed);
            let then = AfterWrite::Assignment {
                generation: self.generation,
            };
            out.push(self.write(record, then));
        }
    }

    /// The member bytes the group record of `assignments` would hold: the assignments given
    /// to members (others are ignored) plus each member's metadata of the chosen protocol.
    /// Sums lengths only: nothing is copied before the bound is checked.
    fn record_bytes(&self, assignments: &[(String, Vec<u8>)]) -> usize {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        let given = (assignments.iter())
            .filter(|(id, _)| self.members.contains_key(id))
            .map(|(_, bytes)| bytes.len());
        let metadata = (self.members.values()).map(|m| m.metadata(protocol).len());
        given.chain(metadata).fold(0, usize::saturating_add)
    }

    /// Kafka's `validateSyncGroup`, then the state's own refusals.
    fn check_sync(&self, req: &SyncGroupArgs) -> Result<(), ErrorCode> {
        if self.state == GroupState::Dead {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        self.validate_member(&req.member_id, req.instance_id.as_deref())?;
        if req.generation != self.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION);
        }
        let type_differs = req
            .protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t));
        let name_differs = req
            .protocol_name
            .as_ref()
            .is_some_and(|p| self.protocol.as_ref() != Some(p));
        if type_differs || name_differs {
            return Err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => Err(ErrorCode::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => Err(ErrorCode::REBALANCE_IN_PROGRESS),
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
        }
    }

    /// The outcome of a write this group asked for. `outcome` is the Append's own code; it is
    /// mapped to the client's here ([`client_code`]). A write of a generation that has since
    /// ended changes nothing: its parked syncs were answered when the generation ended.
    /// `AfterWrite::Commit` belongs to `Offsets::written` and is ignored here.
    pub fn written(
        &mut self,
        now: Clock,
        after: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let generation = match after {
            AfterWrite::Assignment { generation } => generation,
            AfterWrite::StaticRejoin(done) => return self.static_written(now, done, outcome, out),
            _ => {
                if let Err(code) = outcome {
                    // Nothing waits on it; the next rebalance writes the group again.
                    tracing::warn!(group = %self.id, ?code, "group metadata write failed");
                }
                return;
            }
        };
        if self.state != GroupState::CompletingRebalance || generation != self.generation {
            return;
        }
        match outcome {
            Ok(()) => {
                let proposed = self.proposed.take().unwrap_or_default();
                for (id, member) in self.members.iter_mut() {
                    member.assignment = proposed.get(id).cloned().unwrap_or_default();
                }
                self.set_state(GroupState::Stable, now);
                let ids: Vec<String> = self.members.keys().cloned().collect();
                for id in ids {
                    let reply = self.synced(&id);
                    let Some(member) = self.members.get_mut(&id) else {
                        continue;
                    };
                    if let Some(w) = member.sync_waiter.take() {
                        // Kafka's propagateAssignment: a full session from the assignment's
                        // answer, not from the SyncGroup's arrival, so a slow write does not eat
                        // the session (seed 669: a write of 4 s left the members 2 s, they
                        // expired, the group went Empty and was deleted, and its next
                        // incarnation formed generation 1 again).
                        member.touch(now.mono_ms);
                        out.push(GroupOut::Answer(w, reply));
                    }
                }
                self.maybe_end_sync_deadline(out);
            }
            Err(append) => {
                // Kafka: the parked syncs get the error and the group rebalances.
                self.answer_syncs(client_code(append, WriteKind::GroupMetadata), out);
                self.rebalance_now(now, out);
            }
        }
    }

    /// The SyncGroup answer of a member of a Stable group: its assignment.
    fn synced(&self, member_id: &str) -> GroupsReply {
        GroupsReply::Synced(SyncGroupResult {
            error_code: ErrorCode::NONE,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            assignment: self
                .members
                .get(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
        })
    }

    /// Once every member synced in Stable, nobody is left for the Sync deadline to remove.
    fn maybe_end_sync_deadline(&mut self, out: &mut Vec<GroupOut<W>>) {
        if self.pending_sync.is_empty() && self.sync_deadline_ms.take().is_some() {
            out.push(GroupOut::Cancel(GroupTimer::Sync));
        }
    }

    /// The Sync timer: members that have not synced by the deadline are removed and the group
    /// rebalances (Kafka's `expirePendingSync`).
    pub(super) fn sync_timer(&mut self, now: Clock, out: &mut Vec<GroupOut<W>>) {
        let Some(deadline_ms) = self.sync_deadline_ms else {
            return;
        };
        if !matches!(
            self.state,
            GroupState::CompletingRebalance | GroupState::Stable
        ) {
            return;
        }
        if now.mono_ms < deadline_ms {
            out.push(GroupOut::Wake {
                timer: GroupTimer::Sync,
                at_mono_ms: deadline_ms,
            });
            return;
        }
        self.sync_deadline_ms = None;
        let late: Vec<String> = self.pending_sync.iter().cloned().collect();
        for id in &late {
            self.remove_member(id, out);
        }
        if !late.is_empty() {
            self.after_departure(now, out);
        }
    }
}
