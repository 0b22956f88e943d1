//! Heartbeat, LeaveGroup, timers and session expiry.
use crate::messages::groups::{HeartbeatArgs, LeaveGroupArgs, LeaveGroupResult};
use crate::types::ErrorCode;

use super::offsets::CommitIdentity;
use super::output::{Clock, GroupOut, GroupTimer};
use super::state::ClassicGroup;

impl<W: Copy> ClassicGroup<W> {
    pub fn heartbeat(&mut self, now: Clock, req: &HeartbeatArgs) -> ErrorCode {
        let _ = (now, req);
        todo!()
    }
    pub fn leave(
        &mut self,
        now: Clock,
        req: LeaveGroupArgs,
        out: &mut Vec<GroupOut<W>>,
    ) -> LeaveGroupResult {
        let _ = (now, req, out);
        todo!()
    }
    pub fn timer(&mut self, now: Clock, t: GroupTimer, out: &mut Vec<GroupOut<W>>) {
        let _ = (now, t, out);
        todo!()
    }
    pub fn commit_allowed(&self, id: &CommitIdentity<'_>) -> Result<(), ErrorCode> {
        let _ = id;
        todo!()
    }
}
