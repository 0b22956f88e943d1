//! A replica's place in its partition: leader (with its in-sync replicas) or follower, and the
//! high watermark, kept apart from the log end offset.
//!
//! On a single node every replica leads its partition alone, so the high watermark equals the
//! log end offset — but it is computed by Kafka's rule (the smallest log end offset over the
//! in-sync replicas, `Partition.maybeIncrementLeaderHW`), not assumed, so followers can plug
//! in later without the readers changing.

use std::collections::{BTreeMap, BTreeSet};

use crate::faults::Canary;
use crate::types::{BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Offset, Refusal};

/// Whether this replica leads its partition, and in which leader epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Takes produces, stamps `epoch` into the batches it appends, and serves consumers up
    /// to the high watermark. `isr` are the in-sync replicas, this node included, as the
    /// metadata had them at `partition_epoch` (or the controller's answer to this leader's
    /// own ISR change, which the metadata shows soon after).
    Leader {
        epoch: LeaderEpoch,
        partition_epoch: i32,
        isr: BTreeSet<NodeId>,
    },
    /// Copies `leader`'s log; refuses produces (Kafka's NOT_LEADER_OR_FOLLOWER). No leader:
    /// the partition is offline (its leader fenced, no other replica in sync).
    Follower {
        leader: Option<NodeId>,
        epoch: LeaderEpoch,
    },
}

impl Role {
    /// Leader of a partition whose only replica is `node`, in the first epoch: every
    /// partition of a single node.
    pub fn sole_leader(node: NodeId) -> Self {
        Role::Leader {
            epoch: LeaderEpoch::INITIAL,
            partition_epoch: 0,
            isr: BTreeSet::from([node]),
        }
    }

    /// The leader epoch this replica knows: the one its appends are stamped with.
    pub fn epoch(&self) -> LeaderEpoch {
        match self {
            Role::Leader { epoch, .. } | Role::Follower { epoch, .. } => *epoch,
        }
    }

    /// How many replicas are in sync, as the leader sees it; `None` on a follower, which does
    /// not track the ISR.
    pub fn in_sync_count(&self) -> Option<usize> {
        match self {
            Role::Leader { isr, .. } => Some(isr.len()),
            Role::Follower { .. } => None,
        }
    }

    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader { .. })
    }

    /// Why this replica refuses a client's request, if it does: only the leader appends for
    /// clients and serves them (no follower fetching, KIP-392).
    pub fn refuse_produce(&self) -> Option<Refusal> {
        match self {
            Role::Leader { .. } => None,
            Role::Follower {
                leader: Some(leader),
                epoch,
            } => Some(Refusal::new(
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                format!("this replica follows node {leader} in leader epoch {epoch}"),
            )),
            Role::Follower {
                leader: None,
                epoch,
            } => Some(Refusal::new(
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
                format!("the partition has no leader in leader epoch {epoch}"),
            )),
        }
    }
}

/// One replica's role and high watermark. The log end offset is the log's; it is handed in
/// whenever it moves, and the high watermark follows by Kafka's rule.
#[derive(Clone, Debug)]
pub struct ReplicaState {
    /// This node: the in-sync replica whose log end offset is known here.
    node: NodeId,
    role: Role,
    high_watermark: Offset,
    /// A leader's followers as their fetches showed them, in this leadership only (Kafka
    /// resets its remote replicas' state on becoming leader).
    followers: BTreeMap<NodeId, FollowerProgress>,
    /// When this leadership was first seen with a clock (a fetch or a lag check): an in-sync
    /// follower that has not fetched yet counts as caught up then (Kafka's
    /// `resetReplicaState` on becoming leader). `None` until then.
    led_since_ms: Option<i64>,
    /// The ISR this leader asked the controller for, until it is answered or the metadata
    /// moves on (Kafka's pending ISR state): one change at a time, and until then the high
    /// watermark counts the members of both (Kafka's maximal ISR, KIP-497), so a follower
    /// being added holds it before the controller has it in the ISR, and one being removed
    /// until the controller no longer does.
    proposed_isr: Option<BTreeSet<NodeId>>,
    /// This leader gave its leadership up (its log was cut back after a failed write: see
    /// `IsrChange::resign`): it takes no append until the metadata names the next leadership.
    resigning: bool,
    /// The effective `min.insync.replicas` (the topic's, at most the replication factor, as
    /// Kafka's `effectiveMinIsr`): with fewer in-sync replicas the high watermark stays where
    /// it is (KAFKA-15583, part of KIP-966), so every replica that leaves the ISR then holds
    /// everything below it and may lead (the controller's eligible leader replicas).
    min_isr: usize,
}

/// What a leader knows of one follower from its last fetch served without error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerProgress {
    /// What counts for the high watermark: every record below it is in the follower's log,
    /// and durable there if its log syncs every append (the fetch offset, or less: see
    /// [`crate::messages::ReplicaFetchRequest::synced_offset`]).
    pub log_end: Offset,
    /// The offset of its last fetch: every record below it is in its log (as that fetch's
    /// epoch check vouched).
    pub fetch_offset: Offset,
    /// The broker epoch the follower fetched with (KIP-903).
    pub broker_epoch: BrokerEpoch,
    /// Whether that is the registration this leader's metadata has for it: only then does its
    /// progress count for the high watermark. A newer process of an in-sync follower (it
    /// restarted, maybe without what it had not synced) is out of the ISR at the controller
    /// already, which this leader may not have heard yet (found by the simulator, seed 196:
    /// a leader behind on the metadata counted two restarted followers, moved the high
    /// watermark while the controller's ISR was itself alone, then crashed, lost the record and
    /// was elected again as the last in-sync replica).
    pub counts: bool,
    /// Its last reports (fetches served, sync notices), latest first: the leader's log end
    /// and the time of each ([`NO_REPORT`] where there was none).
    pub reports: [(Offset, i64); REPORTS_KEPT],
    /// Kafka's `lastCaughtUpTimeMs`: the latest time the follower had everything the leader
    /// had (what counts of it at the leader's log end then, or at the leader's log end of one
    /// of its last reports).
    pub last_caught_up_ms: i64,
}

/// How many of a follower's reports the caught-up rule looks back over. Kafka's looks at the
/// previous fetch only, its fetch offset being all it reports; here what counts under
/// `flush.messages=1` is the synced offset, which trails the fetch offset by the sync of the
/// last answer, one report more (found in review: with one report a follower one fsync behind
/// under steady load never counted as caught up and left the ISR after
/// `replica.lag.time.max.ms`).
pub const REPORTS_KEPT: usize = 3;
/// An empty slot of [`FollowerProgress::reports`]: reached by nothing.
pub const NO_REPORT: (Offset, i64) = (Offset(i64::MAX), i64::MIN);

/// A follower's last caught-up time once it reported `counted` at `now_ms`, this leader's log
/// ending at `log_end` (Kafka's rule): now if it has everything, else the time of the latest of
/// its earlier `reports` whose leader log end it has reached, else as before
/// (`caught_up_before`).
fn caught_up_at(
    reports: &[(Offset, i64)],
    caught_up_before: i64,
    counted: Offset,
    log_end: Offset,
    now_ms: i64,
) -> i64 {
    if counted >= log_end {
        return now_ms;
    }
    let reached = (reports.iter())
        .filter(|(leader_log_end, _)| counted >= *leader_log_end)
        .map(|(_, at_ms)| *at_ms)
        .max();
    reached.map_or(caught_up_before, |at_ms| caught_up_before.max(at_ms))
}

/// `reports` with the report (`log_end`, `now_ms`) first.
fn with_report(
    reports: [(Offset, i64); REPORTS_KEPT],
    log_end: Offset,
    now_ms: i64,
) -> [(Offset, i64); REPORTS_KEPT] {
    let mut next = [NO_REPORT; REPORTS_KEPT];
    next[0] = (log_end, now_ms);
    next[1..].copy_from_slice(&reports[..REPORTS_KEPT - 1]);
    next
}

impl ReplicaState {
    /// The state of a replica just opened: the high watermark starts at the log start (no
    /// offset above it is known to be replicated) and advances as far as the role allows.
    pub fn new(
        node: NodeId,
        role: Role,
        min_isr: usize,
        log_start: Offset,
        log_end: Offset,
    ) -> Self {
        let mut state = Self {
            node,
            role,
            high_watermark: log_start,
            followers: BTreeMap::new(),
            led_since_ms: None,
            proposed_isr: None,
            resigning: false,
            min_isr: min_isr.max(1),
        };
        state.maybe_advance_hw(log_end);
        state
    }

    /// The effective `min.insync.replicas` changed (a config change, another assignment).
    pub fn set_min_isr(&mut self, min_isr: usize, log_end: Offset) {
        self.min_isr = min_isr.max(1);
        self.maybe_advance_hw(log_end);
    }

    /// A new role with its effective `min.insync.replicas`: the high watermark moves once,
    /// under both (never under the new role and the old minimum).
    pub fn set_role_and_min_isr(&mut self, role: Role, min_isr: usize, log_end: Offset) {
        self.min_isr = min_isr.max(1);
        self.set_role(role, log_end);
    }

    /// How many in-sync replicas an acks=all append needs and how many there are, when they
    /// are too few; `None` on a follower or with enough.
    pub fn under_min_isr(&self) -> Option<(usize, usize)> {
        let in_sync = self.role.in_sync_count()?;
        let under = in_sync < self.min_isr && !crate::faults::canary(Canary::AckUnderMinIsr);
        under.then_some((self.min_isr, in_sync))
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Consumers (read_uncommitted) are served offsets below it; ListOffsets "latest" and
    /// DeleteRecords -1 answer it.
    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    /// The log end moved forward (an append, a follower's fetch): the leader's high watermark
    /// is the smallest log end offset over the in-sync replicas — this node's, and each
    /// follower's as its last fetch in this leadership showed it; a member that has not
    /// fetched in this leadership holds it where it is. It only ever increases
    /// (`maybeIncrementHighWatermark`); a follower's comes from its leader.
    pub fn maybe_advance_hw(&mut self, log_end: Offset) {
        if let Role::Leader { isr, .. } = &self.role {
            if crate::faults::canary(crate::faults::Canary::HwIgnoresFollowers) {
                // Planted: the leader's own log end, whatever its followers have.
                self.high_watermark = self.high_watermark.max(log_end);
                return;
            }
            if isr.len() < self.min_isr && !crate::faults::canary(Canary::AckUnderMinIsr) {
                return; // frozen under min.insync.replicas (KAFKA-15583)
            }
            let proposed = self.proposed_isr.iter().flatten();
            // `None` (an unknown LEO) sorts below every `Some`, so it wins the minimum.
            let min_leo = (isr.iter().chain(proposed))
                .map(|replica| match *replica == self.node {
                    true => Some(log_end),
                    false => (self.followers.get(replica))
                        .filter(|f| f.counts)
                        .map(|f| f.log_end.min(log_end)),
                })
                .min()
                .flatten();
            if let Some(min_leo) = min_leo {
                self.high_watermark = self.high_watermark.max(min_leo);
            }
        }
        debug_assert!(
            self.high_watermark <= log_end,
            "high watermark {} above the log end {log_end}",
            self.high_watermark
        );
    }

    /// The metadata gave this replica a new role (a leader epoch, a leader, an ISR). A new
    /// leader's high watermark advances as far as its ISR allows at once.
    pub fn set_role(&mut self, role: Role, log_end: Offset) {
        if !role.is_leader() || role.epoch() != self.role.epoch() {
            self.followers.clear();
            self.led_since_ms = None;
            self.resigning = false;
        }
        // The partition's state moved on: whatever was asked is answered by it.
        self.proposed_isr = None;
        self.role = role;
        self.maybe_advance_hw(log_end);
    }

    /// Gives this leadership up (see `resigning`); ignored on a follower.
    pub fn resign(&mut self) {
        self.resigning = self.role.is_leader();
    }

    /// Whether this leader gave its leadership up and waits for the next one.
    pub fn resigning(&self) -> bool {
        self.resigning
    }

    /// The ISR this leader asked for and has no answer to yet.
    pub fn proposed_isr(&self) -> Option<&BTreeSet<NodeId>> {
        self.proposed_isr.as_ref()
    }

    /// This leader asks the controller for `isr`; ignored on a follower.
    pub fn propose_isr(&mut self, isr: BTreeSet<NodeId>) {
        if self.role.is_leader() {
            self.proposed_isr = Some(isr);
        }
    }

    /// The controller refused the change for good (an ineligible replica, an invalid
    /// request): the ISR is the committed one again (Kafka's revert to the last committed
    /// state).
    pub fn withdraw_isr(&mut self, log_end: Offset) {
        self.proposed_isr = None;
        self.maybe_advance_hw(log_end);
    }

    /// The controller committed an ISR change of this leadership (`epoch`) at
    /// `partition_epoch`: it is this leader's ISR at once, unless the metadata brought that
    /// state (or a later one) first. Returns whether it was taken.
    pub fn isr_committed(
        &mut self,
        epoch: LeaderEpoch,
        partition_epoch: i32,
        isr: BTreeSet<NodeId>,
        log_end: Offset,
    ) -> bool {
        let Role::Leader {
            epoch: mine,
            partition_epoch: current,
            ..
        } = &self.role
        else {
            return false;
        };
        if *mine != epoch || *current >= partition_epoch {
            return false;
        }
        let mut isr = isr;
        isr.insert(self.node);
        self.role = Role::Leader {
            epoch,
            partition_epoch,
            isr,
        };
        self.proposed_isr = None;
        self.maybe_advance_hw(log_end);
        true
    }

    /// A follower's fetch from `fetch_offset` (durable there below `synced_offset`) was
    /// served at `now_ms`, this node's log ending at `log_end`: its progress and its last
    /// caught-up time (Kafka's `Replica.updateFetchStateOrThrow`), then the high watermark may
    /// advance. Both go by what counts (the smaller of the two offsets), so a follower whose
    /// disk falls behind leaves the ISR rather than hold acks=all. Ignored unless this replica
    /// leads, and for this node itself. Returns whether the high watermark moved.
    pub fn follower_fetched(
        &mut self,
        follower: NodeId,
        (fetch_offset, synced_offset): (Offset, Offset),
        (broker_epoch, registered): (BrokerEpoch, Option<BrokerEpoch>),
        now_ms: i64,
        log_end: Offset,
    ) -> bool {
        let Role::Leader { isr, .. } = &self.role else {
            return false;
        };
        if follower == self.node {
            return false;
        }
        let led_since = *self.led_since_ms.get_or_insert(now_ms);
        let previous = self.followers.get(&follower).copied();
        let caught_up_before = match previous {
            Some(previous) => previous.last_caught_up_ms,
            None if isr.contains(&follower) => led_since,
            None => i64::MIN,
        };
        let mut counted = fetch_offset.min(synced_offset);
        // The same fetch served again (a parked one re-run): what a sync notice counted since
        // stays (found in review: the parked request's older synced offset took it back).
        let same_fetch =
            previous.filter(|p| p.broker_epoch == broker_epoch && p.fetch_offset == fetch_offset);
        if let Some(same) = same_fetch {
            counted = counted.max(same.log_end);
        }
        let reports = previous.map_or([NO_REPORT; REPORTS_KEPT], |p| p.reports);
        let last_caught_up_ms = caught_up_at(&reports, caught_up_before, counted, log_end, now_ms);
        let progress = FollowerProgress {
            log_end: counted,
            fetch_offset,
            broker_epoch,
            // (Unknown to the metadata: as before, counted.)
            counts: registered.is_none_or(|r| r == broker_epoch),
            reports: with_report(reports, log_end, now_ms),
            last_caught_up_ms,
        };
        self.followers.insert(follower, progress);
        let before = self.high_watermark;
        self.maybe_advance_hw(log_end);
        self.high_watermark > before
    }

    /// A follower that fetched in this leadership, in broker epoch `broker_epoch`, synced its
    /// copy up to `synced_offset` since (a [`crate::messages::ReplicaSyncedNotice`]): it counts
    /// for the high watermark up to there, within its last fetch offset. Returns whether the
    /// high watermark moved.
    pub fn follower_synced(
        &mut self,
        follower: NodeId,
        synced_offset: Offset,
        broker_epoch: BrokerEpoch,
        now_ms: i64,
        log_end: Offset,
    ) -> bool {
        if !self.role.is_leader() {
            return false;
        }
        let Some(progress) = self.followers.get_mut(&follower) else {
            return false;
        };
        let counted = synced_offset.min(progress.fetch_offset);
        if progress.broker_epoch != broker_epoch || counted <= progress.log_end {
            return false;
        }
        let previous = *progress;
        progress.last_caught_up_ms = caught_up_at(
            &previous.reports,
            previous.last_caught_up_ms,
            counted,
            log_end,
            now_ms,
        );
        progress.log_end = counted;
        progress.reports = with_report(previous.reports, log_end, now_ms);
        let before = self.high_watermark;
        self.maybe_advance_hw(log_end);
        self.high_watermark > before
    }

    /// The in-sync followers that are not caught up at `now_ms` (Kafka's `isCaughtUp`: at the
    /// leader's log end `log_end`, or caught up within `max_lag_ms`, `replica.lag.time.max.ms`)
    /// — the ones an ISR shrink removes. One that has not fetched in this leadership counts
    /// as caught up when the leadership was first seen. Empty on a follower.
    pub fn lagging(&mut self, now_ms: i64, log_end: Offset, max_lag_ms: i64) -> Vec<NodeId> {
        let Role::Leader { isr, .. } = &self.role else {
            return Vec::new();
        };
        let led_since = *self.led_since_ms.get_or_insert(now_ms);
        (isr.iter())
            .filter(|node| **node != self.node)
            .filter(|node| {
                let caught_up_ms = match self.followers.get(node) {
                    Some(progress) if progress.log_end >= log_end => now_ms,
                    Some(progress) => progress.last_caught_up_ms,
                    None => led_since,
                };
                now_ms.saturating_sub(caught_up_ms) > max_lag_ms
            })
            .copied()
            .collect()
    }

    /// The followers' progress in this leadership, by node.
    pub fn followers(&self) -> &BTreeMap<NodeId, FollowerProgress> {
        &self.followers
    }

    /// A follower's high watermark is its leader's, within its own log (Kafka's
    /// `updateHighWatermark` on a fetch answer): it can go down only when a new leader's is
    /// lower. Ignored on a leader.
    pub fn follow_high_watermark(&mut self, leader_hw: Offset, log_start: Offset, log_end: Offset) {
        if !self.role.is_leader() {
            self.high_watermark = leader_hw.max(log_start).min(log_end);
        }
    }

    /// The log was cut back to `log_end`: the one way the high watermark goes down.
    pub fn truncated(&mut self, log_end: Offset) {
        self.high_watermark = self.high_watermark.min(log_end);
        self.maybe_advance_hw(log_end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: NodeId = NodeId(1);
    const OTHER: NodeId = NodeId(2);

    fn leader(isr: &[NodeId]) -> Role {
        Role::Leader {
            epoch: LeaderEpoch(4),
            partition_epoch: 0,
            isr: isr.iter().copied().collect(),
        }
    }

    #[test]
    fn a_sole_leaders_hw_is_its_log_end_and_advances_with_it() {
        let mut state = ReplicaState::new(ME, Role::sole_leader(ME), 1, Offset(3), Offset(10));
        assert_eq!(state.high_watermark(), Offset(10));
        state.maybe_advance_hw(Offset(12));
        assert_eq!(state.high_watermark(), Offset(12));
        assert_eq!(state.role().epoch(), LeaderEpoch::INITIAL);
        assert_eq!(state.role().in_sync_count(), Some(1));
    }

    #[test]
    fn the_hw_never_goes_back_except_on_truncation() {
        let mut state = ReplicaState::new(ME, leader(&[ME]), 1, Offset(0), Offset(10));
        state.truncated(Offset(6));
        assert_eq!(state.high_watermark(), Offset(6));
        state.maybe_advance_hw(Offset(8));
        assert_eq!(state.high_watermark(), Offset(8));
        // A truncation above the high watermark leaves it where it is.
        state.truncated(Offset(8));
        assert_eq!(state.high_watermark(), Offset(8));
    }

    #[test]
    fn an_in_sync_replica_whose_log_end_is_unknown_holds_the_hw() {
        let mut state = ReplicaState::new(ME, leader(&[ME, OTHER]), 1, Offset(2), Offset(10));
        assert_eq!(
            state.high_watermark(),
            Offset(2),
            "only the log start is safe"
        );
        state.maybe_advance_hw(Offset(20));
        assert_eq!(state.high_watermark(), Offset(2));
        assert_eq!(state.role().in_sync_count(), Some(2));
        assert!(state.role().refuse_produce().is_none());
    }

    #[test]
    fn a_follower_refuses_produce_and_keeps_its_hw() {
        let role = Role::Follower {
            leader: Some(OTHER),
            epoch: LeaderEpoch(3),
        };
        let mut state = ReplicaState::new(ME, role, 1, Offset(0), Offset(5));
        state.maybe_advance_hw(Offset(9));
        assert_eq!(state.high_watermark(), Offset(0));
        assert_eq!(state.role().epoch(), LeaderEpoch(3));
        assert_eq!(state.role().in_sync_count(), None);
        let refusal = state.role().refuse_produce().expect("a follower refuses");
        assert_eq!(refusal.code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }

    const THIRD: NodeId = NodeId(3);
    const LAG_MS: i64 = 30_000;

    /// `follower`'s fetch from `offset` at `now_ms`, the leader's log ending at `log_end`.
    fn fetched(state: &mut ReplicaState, follower: NodeId, offset: i64, now_ms: i64, log_end: i64) {
        state.follower_fetched(
            follower,
            (Offset(offset), Offset(offset)),
            (BrokerEpoch(1), None),
            now_ms,
            Offset(log_end),
        );
    }

    #[test]
    fn a_follower_at_the_leaders_log_end_is_caught_up_and_one_that_stops_fetching_lags() {
        let mut state =
            ReplicaState::new(ME, leader(&[ME, OTHER, THIRD]), 1, Offset(0), Offset(10));
        // Neither fetched yet: caught up when the leadership was first seen (t=1000).
        assert!(state.lagging(1_000, Offset(10), LAG_MS).is_empty());
        fetched(&mut state, OTHER, 10, 2_000, 10);
        // OTHER keeps fetching at the log end; THIRD never fetches.
        for t in [10_000, 20_000, 31_000] {
            fetched(&mut state, OTHER, 10, t, 10);
        }
        // Exactly `replica.lag.time.max.ms` after the leadership began is still in time.
        assert!(state.lagging(31_000, Offset(10), LAG_MS).is_empty());
        assert_eq!(state.lagging(31_001, Offset(10), LAG_MS), vec![THIRD]);
        assert_eq!(state.high_watermark(), Offset(0), "THIRD holds it");
        // A follower outside the ISR is never listed.
        let mut outside = ReplicaState::new(ME, leader(&[ME, OTHER]), 1, Offset(0), Offset(10));
        fetched(&mut outside, THIRD, 0, 0, 10);
        assert!(outside
            .lagging(100_000, Offset(10), LAG_MS)
            .contains(&OTHER));
        assert!(!outside
            .lagging(100_000, Offset(10), LAG_MS)
            .contains(&THIRD));
    }

    /// Kafka's rule: a follower that reaches the leader's log end of its previous fetch was
    /// caught up at that fetch, so one that keeps pace with a leader under constant appends
    /// stays in sync; one that falls behind by more each round lags once `max_lag` passes.
    #[test]
    fn a_follower_keeping_pace_with_appends_stays_in_sync_and_one_falling_behind_lags() {
        let mut state = ReplicaState::new(ME, leader(&[ME, OTHER, THIRD]), 1, Offset(0), Offset(0));
        let mut log_end = 0;
        for round in 0..10i64 {
            let now = round * 10_000;
            // OTHER fetches from the log end of the previous round; THIRD stays at 0.
            fetched(&mut state, OTHER, log_end, now, log_end + 5);
            fetched(&mut state, THIRD, 0, now, log_end + 5);
            log_end += 5;
        }
        assert_eq!(state.lagging(95_000, Offset(log_end), LAG_MS), vec![THIRD]);
        // THIRD catches up: in sync again at once.
        fetched(&mut state, THIRD, log_end, 96_000, log_end);
        assert!(state.lagging(96_000, Offset(log_end), LAG_MS).is_empty());
    }

    /// Under `flush.messages=1` a follower that copies everything but whose disk syncs nothing
    /// holds the high watermark, so it lags (and leaves the ISR) by what it synced, not by
    /// what it copied; a sync notice brings it back in time.
    #[test]
    fn a_follower_that_copies_but_does_not_sync_lags() {
        let mut state = ReplicaState::new(ME, leader(&[ME, OTHER]), 1, Offset(0), Offset(10));
        let copied = |state: &mut ReplicaState, now_ms: i64| {
            let offsets = (Offset(10), Offset(0));
            state.follower_fetched(OTHER, offsets, (BrokerEpoch(1), None), now_ms, Offset(10));
        };
        for t in [1_000, 10_000, 20_000, 31_000, 32_000] {
            copied(&mut state, t);
        }
        assert_eq!(state.high_watermark(), Offset(0), "nothing synced");
        assert_eq!(state.lagging(32_000, Offset(10), LAG_MS), vec![OTHER]);
        // Synced at last (a notice, within what its fetch showed): caught up again.
        let moved = state.follower_synced(OTHER, Offset(12), BrokerEpoch(1), 33_000, Offset(10));
        assert!(moved);
        assert_eq!(state.high_watermark(), Offset(10));
        assert!(state.lagging(33_000, Offset(10), LAG_MS).is_empty());
        // A notice from another broker epoch (a process since replaced) is not counted.
        copied(&mut state, 34_000);
        let stale = state.follower_synced(OTHER, Offset(10), BrokerEpoch(0), 35_000, Offset(10));
        assert!(!stale);
    }

    /// Under `flush.messages=1` what counts of a follower (its synced offset) trails its fetch
    /// offset by the sync of the last answer: one keeping pace under steady appends stays in
    /// sync (found in review: with Kafka's one-report rule it never counted as caught up).
    #[test]
    fn a_follower_one_sync_behind_under_steady_appends_stays_in_sync() {
        let mut state = ReplicaState::new(ME, leader(&[ME, OTHER]), 1, Offset(0), Offset(0));
        // The leader's log end at each report: the follower has what it had at the last one,
        // and synced what it had at the one before.
        let mut ends = vec![0i64, 0];
        for round in 0..40i64 {
            let log_end = (round + 1) * 5;
            let offsets = (Offset(ends[ends.len() - 1]), Offset(ends[ends.len() - 2]));
            state.follower_fetched(
                OTHER,
                offsets,
                (BrokerEpoch(1), None),
                round * 1_000,
                Offset(log_end),
            );
            ends.push(log_end);
        }
        assert!(state.lagging(39_500, Offset(200), LAG_MS).is_empty());
    }

    /// A parked fetch served again carries the synced offset of when it was sent: what a sync
    /// notice counted since stays counted (found in review).
    #[test]
    fn a_parked_fetch_served_again_keeps_what_a_notice_counted() {
        let mut state = ReplicaState::new(ME, leader(&[ME, OTHER]), 1, Offset(0), Offset(10));
        let held = (Offset(10), Offset(4));
        state.follower_fetched(OTHER, held, (BrokerEpoch(1), None), 1_000, Offset(10));
        assert_eq!(state.high_watermark(), Offset(4));
        state.follower_synced(OTHER, Offset(10), BrokerEpoch(1), 1_100, Offset(10));
        assert_eq!(state.high_watermark(), Offset(10));
        state.follower_fetched(OTHER, held, (BrokerEpoch(1), None), 1_200, Offset(12));
        assert_eq!(state.followers()[&OTHER].log_end, Offset(10));
    }

    /// An in-sync follower fetching as another process than the one this leader's metadata
    /// has registered (it restarted; the controller dropped it from the ISR, which this leader
    /// has not heard yet) does not count for the high watermark (seed 196).
    #[test]
    fn a_follower_fetching_as_an_unregistered_process_does_not_count() {
        let mut state = ReplicaState::new(ME, leader(&[ME, OTHER]), 2, Offset(0), Offset(10));
        let offsets = (Offset(10), Offset(10));
        let registered = Some(BrokerEpoch(3));
        state.follower_fetched(
            OTHER,
            offsets,
            (BrokerEpoch(5), registered),
            1_000,
            Offset(10),
        );
        assert_eq!(
            state.high_watermark(),
            Offset(0),
            "a newer process than registered"
        );
        state.follower_fetched(
            OTHER,
            offsets,
            (BrokerEpoch(0), registered),
            2_000,
            Offset(10),
        );
        assert_eq!(
            state.high_watermark(),
            Offset(0),
            "a process that does not know its epoch"
        );
        state.follower_fetched(
            OTHER,
            offsets,
            (BrokerEpoch(3), registered),
            3_000,
            Offset(10),
        );
        assert_eq!(state.high_watermark(), Offset(10), "the registered process");
    }

    #[test]
    fn the_high_watermark_stays_while_the_isr_is_below_min_insync_replicas() {
        let mut state = ReplicaState::new(ME, leader(&[ME]), 2, Offset(0), Offset(10));
        assert_eq!(state.high_watermark(), Offset(0), "frozen from the start");
        assert_eq!(state.under_min_isr(), Some((2, 1)));
        state.set_min_isr(1, Offset(10));
        assert_eq!(state.high_watermark(), Offset(10));
        assert_eq!(state.under_min_isr(), None);
    }
}
