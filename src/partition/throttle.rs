//! Replication throttles (Kafka's KIP-73): which partitions this broker throttles as a leader
//! or as a follower of a move, and the byte-rate quota that holds them. Pure: the partitions
//! actor passes its monotonic `now_ms` and acts on the answers (hold or cap a leader read, back
//! a follower off), so throttled replication stays deterministic.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::messages::throttles::*;
pub use crate::types::rate_bucket::{QuotaWindow, RateBucket};
use crate::types::TopicPartition;

/// Kafka's `replication.quota.window.num` default: samples the quota is measured over.
pub const REPLICATION_QUOTA_WINDOW_NUM_DEFAULT: u32 = 11;
/// Kafka's `replication.quota.window.size.seconds` default: the length of one sample.
pub const REPLICATION_QUOTA_WINDOW_SIZE_SECONDS_DEFAULT: u32 = 1;

/// Kafka's replication quota: the general rate bucket (one window of burst, `num` windows of
/// debt, waits exact to the ms), moved to `types::rate_bucket` for client quotas too.
pub type ReplicationQuota = RateBucket;

/// The throttles of one broker's partitions actor: the settings and one quota per side.
#[derive(Clone, Debug)]
pub struct Throttles {
    settings: ThrottleSettings,
    leader: ReplicationQuota,
    follower: ReplicationQuota,
    /// Throttled partitions this follower's last fetch caught up with the leader's high
    /// watermark on: in sync as Kafka's fetcher counts it (lag <= 0), so never held.
    caught_up: BTreeSet<TopicPartition>,
}

impl Throttles {
    /// No throttles.
    pub fn new(window_num: u32, window_size_s: u32) -> Self {
        Self {
            settings: ThrottleSettings::default(),
            leader: ReplicationQuota::new(QuotaWindow::seconds(window_num, window_size_s)),
            follower: ReplicationQuota::new(QuotaWindow::seconds(window_num, window_size_s)),
            caught_up: BTreeSet::new(),
        }
    }

    /// The metadata's settings replace the old ones (a cleared config releases at once).
    pub fn update(&mut self, settings: ThrottleSettings, now_ms: u64) {
        self.leader
            .set_rate(settings.leader_rate_bytes_per_s, now_ms);
        self.follower
            .set_rate(settings.follower_rate_bytes_per_s, now_ms);
        self.settings = settings;
    }

    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    /// Whether `tp`'s replica led here is throttled (listed and a leader rate set).
    pub fn leader_throttled(&self, tp: &TopicPartition) -> bool {
        self.settings.leader_rate_bytes_per_s.is_some() && listed(&self.settings.leader, tp)
    }

    pub fn follower_throttled(&self, tp: &TopicPartition) -> bool {
        self.settings.follower_rate_bytes_per_s.is_some() && listed(&self.settings.follower, tp)
    }

    /// The bytes the leader may send a follower of `tp` now: None = no limit (not throttled, or
    /// the follower is in the ISR: Kafka's `!inSync && isThrottled && isQuotaExceeded`, so an
    /// ISR member is never slowed), Some(0) = hold the fetch, Some(n) = read at most n bytes
    /// (at least one batch is still read by the caller when n > 0).
    pub fn leader_budget_bytes(
        &mut self,
        tp: &TopicPartition,
        in_sync: bool,
        now_ms: u64,
    ) -> Option<u64> {
        if in_sync || !self.leader_throttled(tp) {
            return None;
        }
        self.leader.budget(now_ms)
    }

    /// How long a held leader fetch waits before it is served again (the leader quota's
    /// wait_ms).
    pub fn leader_wait_ms(&mut self, now_ms: u64) -> u64 {
        self.leader.wait_ms(now_ms)
    }

    /// Bytes the leader sent for `tp` (counted only when `tp` is leader-throttled, in-sync
    /// follower or not, as Kafka records sizeOfThrottledPartitions).
    pub fn record_leader(&mut self, tp: &TopicPartition, bytes: u64, now_ms: u64) {
        if self.leader_throttled(tp) {
            self.leader.record(bytes, now_ms);
        }
    }

    /// Some(wait_ms) when this follower must not fetch `tp` now (throttled, not in the ISR,
    /// quota exceeded); None otherwise.
    pub fn follower_holds(
        &mut self,
        tp: &TopicPartition,
        in_sync: bool,
        now_ms: u64,
    ) -> Option<u64> {
        let in_sync = in_sync || self.caught_up.contains(tp);
        if in_sync || !self.follower_throttled(tp) || !self.follower.exceeded(now_ms) {
            return None;
        }
        Some(self.follower.wait_ms(now_ms))
    }

    /// This follower's fetch of `tp` was answered: whether its log then reached the leader's
    /// high watermark (Kafka's `isReplicaInSync`, lag <= 0). A follower that caught up is not
    /// held back from the fetch that gets it into the ISR, whatever its debt.
    pub fn follower_fetched(&mut self, tp: &TopicPartition, caught_up: bool) {
        if caught_up && self.follower_throttled(tp) {
            self.caught_up.insert(tp.clone());
        } else {
            self.caught_up.remove(tp);
        }
    }

    /// Bytes this follower appended for `tp` (counted only when `tp` is follower-throttled, in
    /// the ISR or not, as Kafka's ReplicaFetcherThread records them).
    pub fn record_follower(&mut self, tp: &TopicPartition, bytes: u64, now_ms: u64) {
        if self.follower_throttled(tp) {
            self.follower.record(bytes, now_ms);
        }
    }
}

fn listed(sets: &BTreeMap<String, PartitionSet>, tp: &TopicPartition) -> bool {
    sets.get(&tp.topic)
        .is_some_and(|set| set.contains(tp.partition))
}

#[cfg(test)]
mod tests {
    use super::PartitionSet::All;
    use super::*;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        let topic = topic.to_string();
        TopicPartition { topic, partition }
    }

    fn listed(partitions: &[i32]) -> PartitionSet {
        PartitionSet::Listed(partitions.iter().copied().collect())
    }

    fn throttled() -> Throttles {
        let mut throttles = Throttles::new(11, 1);
        let settings = ThrottleSettings {
            leader_rate_bytes_per_s: Some(1_000),
            follower_rate_bytes_per_s: Some(1_000),
            leader: BTreeMap::from([("t".into(), listed(&[0]))]),
            follower: BTreeMap::from([("t".into(), All)]),
        };
        throttles.update(settings, 0);
        throttles
    }

    #[test]
    fn the_leader_holds_only_listed_partitions_of_followers_out_of_the_isr() {
        let (mut th, t0) = (throttled(), tp("t", 0));
        assert_eq!(th.leader_budget_bytes(&t0, false, 0), Some(1_000));
        th.record_leader(&t0, 3_000, 0);
        assert_eq!(th.leader_budget_bytes(&t0, false, 0), Some(0));
        assert_eq!(th.leader_wait_ms(0), 2_000);
        assert_eq!(th.leader_budget_bytes(&t0, true, 0), None); // the ISR is never held
        th.record_leader(&t0, 1_000, 0);
        assert_eq!(th.leader_wait_ms(0), 3_000); // in-sync bytes still count
        for other in [tp("t", 1), tp("u", 0)] {
            assert!(!th.leader_throttled(&other));
            assert_eq!(th.leader_budget_bytes(&other, false, 0), None);
            th.record_leader(&other, 1_000_000, 0);
        }
        assert_eq!(th.leader_wait_ms(0), 3_000); // unlisted bytes are not counted
        th.update(th.settings().clone(), 0);
        assert_eq!(th.leader_wait_ms(0), 3_000); // the same settings keep the debt
        th.update(ThrottleSettings::default(), 0);
        assert_eq!(th.leader_budget_bytes(&t0, false, 0), None); // released at once
        assert_eq!(th.leader_wait_ms(0), 0);
        let mut unrated = throttled();
        let mut settings = unrated.settings().clone();
        settings.leader_rate_bytes_per_s = None;
        unrated.update(settings, 0);
        assert!(!unrated.leader_throttled(&t0) && unrated.follower_throttled(&t0));
    }

    #[test]
    fn the_follower_holds_when_throttled_out_of_the_isr_and_exceeded() {
        let (mut th, t3, u0) = (throttled(), tp("t", 3), tp("u", 0));
        assert_eq!(th.follower_holds(&t3, false, 0), None); // not exceeded yet
        th.record_follower(&t3, 2_500, 0);
        assert_eq!(th.follower_holds(&t3, false, 0), Some(1_500));
        assert_eq!(th.follower_holds(&t3, true, 0), None); // in the ISR
        assert_eq!(th.follower_holds(&u0, false, 0), None); // not throttled
        assert_eq!(th.follower_holds(&t3, false, 1_499), Some(1));
        // Caught up with the leader's high watermark: in sync as Kafka's fetcher counts it.
        th.follower_fetched(&t3, true);
        assert_eq!(th.follower_holds(&t3, false, 1_499), None);
        th.follower_fetched(&t3, false);
        assert_eq!(th.follower_holds(&t3, false, 1_499), Some(1));
        assert_eq!(th.follower_holds(&t3, false, 1_500), None); // paid
        th.record_follower(&u0, 1_000_000, 1_500);
        assert_eq!(th.follower_holds(&t3, false, 1_500), None); // u is not counted
        th.update(ThrottleSettings::default(), 1_500);
        th.record_follower(&t3, 1_000_000, 1_500);
        assert_eq!(th.follower_holds(&t3, false, 1_500), None); // released
    }
}
