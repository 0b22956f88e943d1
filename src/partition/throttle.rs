//! Replication throttles (Kafka's KIP-73): which partitions this broker throttles as a leader
//! or as a follower of a move, and the byte-rate quota that holds them. Pure: the partitions
//! actor passes its monotonic `now_ms` and acts on the answers (hold or cap a leader read, back
//! a follower off), so throttled replication stays deterministic.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::messages::throttles::*;
use crate::types::TopicPartition;

/// Kafka's `replication.quota.window.num` default: samples the quota is measured over.
pub const REPLICATION_QUOTA_WINDOW_NUM_DEFAULT: u32 = 11;
/// Kafka's `replication.quota.window.size.seconds` default: the length of one sample.
pub const REPLICATION_QUOTA_WINDOW_SIZE_SECONDS_DEFAULT: u32 = 1;

/// Tokens are counted in milli-bytes: a rate of `r` bytes/s then refills exactly `r` tokens per
/// millisecond, so refills and waits are whole numbers, exact to the ms.
const MILLI_BYTES_PER_BYTE: i128 = 1000;

/// Kafka's replication quota as a deterministic token bucket on a millisecond clock: it refills
/// at the rate up to one sample window of burst, a read may overdraw it (Kafka records whatever
/// the quota says), and debt older than Kafka's whole measuring window is forgotten.
#[derive(Clone, Debug)]
pub struct ReplicationQuota {
    window_num: u32,
    window_size_s: u32,
    rate_bytes_per_s: Option<u64>,
    /// Meaningful only while a rate is set; negative is debt.
    tokens_milli_bytes: i128,
    refilled_at_ms: u64,
}

impl ReplicationQuota {
    /// `window_num` samples of `window_size_s` seconds (Kafka's replication.quota.window.num =
    /// 11 and .size.seconds = 1); both at least 1 (clamped).
    pub fn new(window_num: u32, window_size_s: u32) -> Self {
        Self {
            window_num: window_num.max(1),
            window_size_s: window_size_s.max(1),
            rate_bytes_per_s: None,
            tokens_milli_bytes: 0,
            refilled_at_ms: 0,
        }
    }

    /// A new bound (None: unlimited). Tokens are kept, clamped to the new cap and debt floor,
    /// so re-sending the same settings with every metadata update does not refill the bucket.
    /// A bound set where there was none starts full, as a new quota does.
    pub fn set_rate(&mut self, rate_bytes_per_s: Option<u64>, now_ms: u64) {
        self.refill(now_ms);
        let was_unlimited = self.rate_bytes_per_s.is_none();
        self.rate_bytes_per_s = rate_bytes_per_s;
        if let Some(rate) = rate_bytes_per_s {
            let cap = self.cap_milli_bytes(rate);
            self.tokens_milli_bytes = if was_unlimited {
                cap
            } else {
                self.tokens_milli_bytes
                    .max(self.floor_milli_bytes(rate))
                    .min(cap)
            };
        }
    }

    pub fn rate_bytes_per_s(&self) -> Option<u64> {
        self.rate_bytes_per_s
    }

    /// Bytes moved (counted whatever the quota says, as Kafka's sensor record() does; may go
    /// into debt).
    pub fn record(&mut self, bytes: u64, now_ms: u64) {
        self.refill(now_ms);
        if let Some(rate) = self.rate_bytes_per_s {
            let spent = i128::from(bytes).saturating_mul(MILLI_BYTES_PER_BYTE);
            self.tokens_milli_bytes = self
                .tokens_milli_bytes
                .saturating_sub(spent)
                .max(self.floor_milli_bytes(rate));
        }
    }

    /// Whether the measured rate is above the bound now (refill first; tokens < 0). Never true
    /// when unlimited.
    pub fn exceeded(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.rate_bytes_per_s.is_some() && self.tokens_milli_bytes < 0
    }

    /// Milliseconds until the debt is paid (0 when not exceeded or unlimited); at least 1 when
    /// exceeded. A rate of 0 never pays a debt: the wait is then the whole measuring window, a
    /// finite re-check interval.
    pub fn wait_ms(&mut self, now_ms: u64) -> u64 {
        if !self.exceeded(now_ms) {
            return 0;
        }
        match self.rate_bytes_per_s.unwrap_or(0) {
            0 => self.window_ms(),
            rate => {
                let (debt, rate) = (self.tokens_milli_bytes.saturating_neg(), i128::from(rate));
                let wait_ms = debt / rate + i128::from(debt % rate != 0);
                u64::try_from(wait_ms).unwrap_or(u64::MAX).max(1)
            }
        }
    }

    /// Bytes that may be read now without going into debt: None when unlimited, Some(0)
    /// exactly when exceeded. When not exceeded it is at least 1, even with fewer than one byte
    /// of tokens (a rate of 0 included): Kafka's check is "exceeded", not "enough left", so one
    /// read (at least one batch, the caller's rule) still passes; it is then counted as debt.
    pub fn budget_bytes(&mut self, now_ms: u64) -> Option<u64> {
        self.rate_bytes_per_s?;
        if self.exceeded(now_ms) {
            return Some(0);
        }
        let bytes = self.tokens_milli_bytes / MILLI_BYTES_PER_BYTE;
        Some(u64::try_from(bytes).unwrap_or(u64::MAX).max(1))
    }

    fn refill(&mut self, now_ms: u64) {
        // A clock that steps back refills nothing (and does not move the refill point back).
        let elapsed_ms = now_ms.saturating_sub(self.refilled_at_ms);
        self.refilled_at_ms = self.refilled_at_ms.max(now_ms);
        if let Some(rate) = self.rate_bytes_per_s {
            let gained = i128::from(rate).saturating_mul(i128::from(elapsed_ms));
            self.tokens_milli_bytes = self
                .tokens_milli_bytes
                .saturating_add(gained)
                .min(self.cap_milli_bytes(rate));
        }
    }

    /// One sample window of burst (Kafka's SimpleRate divides by at least one window).
    fn cap_milli_bytes(&self, rate: u64) -> i128 {
        i128::from(rate)
            .saturating_mul(i128::from(self.window_size_s))
            .saturating_mul(MILLI_BYTES_PER_BYTE)
    }

    /// Debt beyond the whole window (`num` samples) is forgotten, as Kafka's samples expire. At
    /// least one milli-byte of debt is kept so that a rate of 0 stays exceeded once it was read.
    fn floor_milli_bytes(&self, rate: u64) -> i128 {
        let window_milli_bytes = i128::from(rate)
            .saturating_mul(i128::from(self.window_num))
            .saturating_mul(i128::from(self.window_size_s))
            .saturating_mul(MILLI_BYTES_PER_BYTE);
        (-window_milli_bytes).min(-1)
    }

    fn window_ms(&self) -> u64 {
        u64::from(self.window_num)
            .saturating_mul(u64::from(self.window_size_s))
            .saturating_mul(1000)
    }
}

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
            leader: ReplicationQuota::new(window_num, window_size_s),
            follower: ReplicationQuota::new(window_num, window_size_s),
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
        self.leader.budget_bytes(now_ms)
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

    fn quota(rate_bytes_per_s: Option<u64>) -> ReplicationQuota {
        let mut q = ReplicationQuota::new(11, 1);
        q.set_rate(rate_bytes_per_s, 0);
        q
    }

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        let topic = topic.to_string();
        TopicPartition { topic, partition }
    }

    fn listed(partitions: &[i32]) -> PartitionSet {
        PartitionSet::Listed(partitions.iter().copied().collect())
    }

    #[test]
    fn the_burst_is_one_window_and_a_deficit_waits_to_the_ms() {
        let mut q = quota(Some(1_000));
        assert_eq!(q.budget_bytes(0), Some(1_000));
        q.record(1_000, 0);
        assert!(!q.exceeded(0)); // exactly the burst is not over the bound
        q.record(500, 0);
        assert_eq!((q.exceeded(0), q.wait_ms(0)), (true, 500));
        assert_eq!(q.budget_bytes(0), Some(0));
        assert_eq!((q.exceeded(499), q.wait_ms(499)), (true, 1));
        assert_eq!((q.exceeded(500), q.wait_ms(500)), (false, 0));
        assert_eq!(q.budget_bytes(500), Some(1)); // no tokens, not exceeded: one read passes
        assert_eq!(q.budget_bytes(750), Some(250));
        assert_eq!(q.budget_bytes(5_000), Some(1_000)); // refill stops at the cap
        let mut wide = ReplicationQuota::new(11, 2);
        wide.set_rate(Some(1_000), 0);
        assert_eq!(wide.budget_bytes(0), Some(2_000));
    }

    #[test]
    fn debt_is_floored_at_the_whole_window() {
        let mut q = quota(Some(1_000));
        q.record(u64::MAX, 0);
        assert_eq!(q.wait_ms(0), 11_000); // 11 windows of 1 s
        let mut q = ReplicationQuota::new(3, 2);
        q.set_rate(Some(100), 0);
        q.record(1_000_000_000, 0);
        assert_eq!(q.wait_ms(0), 6_000); // 3 windows of 2 s
        assert!(!q.exceeded(6_000));
    }

    #[test]
    fn unlimited_never_throttles_and_zero_windows_clamp() {
        let mut q = quota(None);
        q.record(u64::MAX, 0);
        q.record(u64::MAX, 0);
        assert!(!q.exceeded(0));
        assert_eq!((q.wait_ms(0), q.budget_bytes(0)), (0, None));
        assert_eq!(q.rate_bytes_per_s(), None);
        let mut q = ReplicationQuota::new(0, 0);
        q.set_rate(Some(10), 0);
        assert_eq!(q.budget_bytes(0), Some(10));
    }

    #[test]
    fn rate_zero_lets_one_read_pass_then_holds() {
        let mut q = quota(Some(0));
        assert_eq!((q.exceeded(0), q.wait_ms(0)), (false, 0));
        assert_eq!(q.budget_bytes(0), Some(1));
        q.record(0, 0);
        assert!(!q.exceeded(0)); // nothing read, nothing owed
        q.record(1, 0);
        let at = 1_000_000_000;
        assert_eq!((q.budget_bytes(at), q.wait_ms(at)), (Some(0), 11_000));
        q.set_rate(Some(1_000), at);
        assert!(!q.exceeded(at + 1)); // a real rate pays the debt
    }

    #[test]
    fn huge_rates_and_times_do_not_overflow() {
        let mut q = quota(Some(u64::MAX));
        assert_eq!(q.budget_bytes(0), Some(u64::MAX));
        q.record(u64::MAX, 0);
        assert!(!q.exceeded(0));
        q.record(u64::MAX, 0);
        assert_eq!(q.wait_ms(0), 1_000);
        assert!(!q.exceeded(u64::MAX));
        let mut q = ReplicationQuota::new(u32::MAX, u32::MAX);
        q.set_rate(Some(u64::MAX), u64::MAX);
        q.record(u64::MAX, u64::MAX);
        assert_eq!(q.budget_bytes(u64::MAX), Some(u64::MAX));
        q.set_rate(Some(0), 3);
        assert_eq!(q.wait_ms(3), 0); // a clock stepping back refills nothing
    }

    #[test]
    fn paced_reads_average_to_the_rate() {
        // Whole 1,000-byte batches (at least one) up to the budget, 5 ms per round trip, the
        // quota's wait when held: 60 s at 20 kB/s.
        let (mut q, mut now_ms, mut moved_bytes) = (quota(Some(20_000)), 0u64, 0u64);
        while now_ms < 60_000 {
            match q.budget_bytes(now_ms).expect("bounded") {
                0 => now_ms += q.wait_ms(now_ms),
                budget => {
                    let read = (budget / 1_000).max(1) * 1_000;
                    q.record(read, now_ms);
                    moved_bytes += read;
                    now_ms += 5;
                }
            }
        }
        let rate = (moved_bytes - 20_000) as f64 * 1000.0 / now_ms as f64; // after the burst
        assert!((19_600.0..=20_400.0).contains(&rate), "{rate}");
        assert!(moved_bytes <= 20_000 + 20 * now_ms + 1_000); // burst + rate + a batch
    }

    #[test]
    fn a_new_rate_keeps_tokens_within_its_cap() {
        let mut q = quota(Some(10_000));
        q.set_rate(Some(1_000), 0);
        assert_eq!(q.budget_bytes(0), Some(1_000)); // clamped to the new cap
        q.record(1_500, 0);
        q.set_rate(Some(2_000), 0);
        assert_eq!(q.wait_ms(0), 250); // the debt is kept
        q.set_rate(Some(2_000), 100);
        assert_eq!(q.wait_ms(100), 150); // the same rate again keeps it
        q.set_rate(None, 100);
        q.set_rate(Some(3_000), 100);
        assert_eq!(q.budget_bytes(100), Some(3_000)); // a bound set anew starts full
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
