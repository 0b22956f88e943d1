//! JoinGroup: validation, MEMBER_ID_REQUIRED, the join phase and its completion.
use rand::RngCore;

use crate::messages::groups::JoinGroupArgs;

use super::output::{Clock, GroupOut};
use super::settings::GroupSettings;
use super::state::ClassicGroup;

impl<W: Copy> ClassicGroup<W> {
    /// A JoinGroup from `w`; answered now or parked until the join phase completes.
    pub fn join(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        rng: &mut impl RngCore,
        req: JoinGroupArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let _ = (now, s, rng, req, w, out);
        todo!()
    }

    pub(super) fn maybe_complete_join(&mut self, now: Clock, out: &mut Vec<GroupOut<W>>) {
        let _ = (now, out);
        todo!()
    }
}
