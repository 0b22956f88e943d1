//! SyncGroup and the assignment write.
use crate::messages::groups::SyncGroupArgs;
use crate::types::ErrorCode;

use super::output::{AfterWrite, Clock, GroupOut};
use super::state::ClassicGroup;

impl<W: Copy> ClassicGroup<W> {
    /// A SyncGroup from `w`; the leader's starts the assignment write.
    pub fn sync(&mut self, now: Clock, req: SyncGroupArgs, w: W, out: &mut Vec<GroupOut<W>>) {
        let _ = (now, req, w, out);
        todo!()
    }

    /// The outcome of a write this group asked for. `outcome` is the Append's own code
    /// (mapped to the client's here). `AfterWrite::Commit` belongs to `Offsets::written`.
    pub fn written(
        &mut self,
        now: Clock,
        after: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let _ = (now, after, outcome, out);
        todo!()
    }
}
