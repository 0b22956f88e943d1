//! A rate bound as a deterministic token bucket on a millisecond clock: Kafka's replication
//! quotas (KIP-73, `partition::throttle`) and client quotas (KIP-13/219, `broker::quota`).
//!
//! Kafka measures a rate with sampled windows (`SampledStat`/`Rate`); Rill uses a bucket with
//! the same knobs instead (docs/issue-16-quotas-plan.md, decision 1): it refills at the rate up
//! to one sample window of burst, a record may overdraw it (Kafka records whatever the quota
//! says, then checks), and debt older than Kafka's whole measuring window (`num` samples) is
//! forgotten, as Kafka's samples expire. The throttle a record earns is Kafka's
//! `(O - T) / T * W`, i.e. the amount over the allowance divided by the rate.
//!
//! Pure: the caller passes its monotonic `now_ms`, so a run replays exactly. Amounts are in
//! whatever unit the rate counts (bytes for the byte rates and the replication throttles).

/// Kafka's `quota.window.num` default: 10 whole windows and the current one.
pub const QUOTA_WINDOW_NUM_DEFAULT: u32 = 11;
/// Kafka's `quota.window.size.seconds` default, in ms.
pub const QUOTA_WINDOW_SIZE_MS_DEFAULT: u64 = 1_000;

/// Tokens are counted in milli-units: a rate of `r` units/s then refills exactly `r` tokens per
/// millisecond, so refills and waits are whole numbers, exact to the ms.
const MILLI_UNITS_PER_UNIT: i128 = 1000;

/// The window a rate is measured over: `num` samples of `size_ms` each (Kafka's
/// `quota.window.num` and `quota.window.size.seconds`, or their `replication.` forms). One
/// sample is the burst; all `num` of them bound the debt remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaWindow {
    pub num: u32,
    pub size_ms: u64,
}

impl QuotaWindow {
    /// Both at least 1 (clamped): Kafka refuses 0 for either setting.
    pub fn new(num: u32, size_ms: u64) -> Self {
        Self {
            num: num.max(1),
            size_ms: size_ms.max(1),
        }
    }

    /// From Kafka's settings in whole seconds, each at least 1 (clamped).
    pub fn seconds(num: u32, size_s: u32) -> Self {
        Self::new(num, u64::from(size_s.max(1)).saturating_mul(1000))
    }

    /// The whole measuring window: `num` samples.
    pub fn total_ms(&self) -> u64 {
        u64::from(self.num).saturating_mul(self.size_ms)
    }
}

impl Default for QuotaWindow {
    fn default() -> Self {
        Self::new(QUOTA_WINDOW_NUM_DEFAULT, QUOTA_WINDOW_SIZE_MS_DEFAULT)
    }
}

/// A rate bound (or none) and the tokens left under it.
#[derive(Clone, Debug)]
pub struct RateBucket {
    window: QuotaWindow,
    rate_per_s: Option<u64>,
    /// Meaningful only while a rate is set; negative is debt.
    tokens_milli: i128,
    refilled_at_ms: u64,
}

impl RateBucket {
    /// Unlimited until [`RateBucket::set_rate`] sets a bound.
    pub fn new(window: QuotaWindow) -> Self {
        Self {
            window: QuotaWindow::new(window.num, window.size_ms),
            rate_per_s: None,
            tokens_milli: 0,
            refilled_at_ms: 0,
        }
    }

    /// A new bound (None: unlimited). Tokens are kept, clamped to the new cap and debt floor,
    /// so re-sending the same settings with every metadata update does not refill the bucket.
    /// A bound set where there was none starts full, as a new quota does.
    pub fn set_rate(&mut self, rate_per_s: Option<u64>, now_ms: u64) {
        self.refill(now_ms);
        let was_unlimited = self.rate_per_s.is_none();
        self.rate_per_s = rate_per_s;
        if let Some(rate) = rate_per_s {
            let cap = self.cap_milli(rate);
            self.tokens_milli = if was_unlimited {
                cap
            } else {
                self.tokens_milli.max(self.floor_milli(rate)).min(cap)
            };
        }
    }

    pub fn rate_per_s(&self) -> Option<u64> {
        self.rate_per_s
    }

    pub fn window(&self) -> QuotaWindow {
        self.window
    }

    /// Counts `amount` whatever the quota says (as Kafka's `Sensor.record` does; it may go into
    /// debt) and returns the throttle it earns in ms: the debt *before* the floor divided by
    /// the rate, rounded up, so a request far over the quota earns its whole throttle even
    /// though the bucket remembers only the window's worth of debt. 0 when within the quota or
    /// unlimited; with a rate of 0, any debt earns the whole measuring window.
    pub fn record(&mut self, amount: u64, now_ms: u64) -> u64 {
        self.refill(now_ms);
        let Some(rate) = self.rate_per_s else {
            return 0;
        };
        let spent = i128::from(amount).saturating_mul(MILLI_UNITS_PER_UNIT);
        let unfloored = self.tokens_milli.saturating_sub(spent);
        self.tokens_milli = unfloored.max(self.floor_milli(rate));
        self.wait_for(unfloored.saturating_neg(), rate)
    }

    /// Whether the measured rate is above the bound now (refill first; tokens < 0). Never true
    /// when unlimited.
    pub fn exceeded(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.rate_per_s.is_some() && self.tokens_milli < 0
    }

    /// Milliseconds until the debt is paid (0 when not exceeded or unlimited); at least 1 when
    /// exceeded. A rate of 0 never pays a debt: the wait is then the whole measuring window, a
    /// finite re-check interval.
    pub fn wait_ms(&mut self, now_ms: u64) -> u64 {
        self.refill(now_ms);
        match self.rate_per_s {
            Some(rate) => self.wait_for(self.tokens_milli.saturating_neg(), rate),
            None => 0,
        }
    }

    /// Units that may pass now without going into debt: None when unlimited, Some(0) exactly
    /// when exceeded. When not exceeded it is at least 1, even with less than one unit of
    /// tokens (a rate of 0 included): Kafka's check is "exceeded", not "enough left", so one
    /// read (at least one batch, the caller's rule) still passes; it is then counted as debt.
    pub fn budget(&mut self, now_ms: u64) -> Option<u64> {
        self.rate_per_s?;
        if self.exceeded(now_ms) {
            return Some(0);
        }
        let units = self.tokens_milli / MILLI_UNITS_PER_UNIT;
        Some(u64::try_from(units).unwrap_or(u64::MAX).max(1))
    }

    /// The ms a debt of `debt_milli` takes to pay at `rate` (0 for no debt): exact, rounded up.
    fn wait_for(&self, debt_milli: i128, rate: u64) -> u64 {
        if debt_milli <= 0 {
            return 0;
        }
        if rate == 0 {
            return self.window.total_ms();
        }
        // milli-units / (units/s) = ms.
        let rate = i128::from(rate);
        let wait_ms = debt_milli / rate + i128::from(debt_milli % rate != 0);
        u64::try_from(wait_ms).unwrap_or(u64::MAX).max(1)
    }

    fn refill(&mut self, now_ms: u64) {
        // A clock that steps back refills nothing (and does not move the refill point back).
        let elapsed_ms = now_ms.saturating_sub(self.refilled_at_ms);
        self.refilled_at_ms = self.refilled_at_ms.max(now_ms);
        if let Some(rate) = self.rate_per_s {
            let gained = i128::from(rate).saturating_mul(i128::from(elapsed_ms));
            self.tokens_milli = self
                .tokens_milli
                .saturating_add(gained)
                .min(self.cap_milli(rate));
        }
    }

    /// One sample window of burst (Kafka's `SimpleRate` divides by at least one window).
    /// units/s × ms = milli-units.
    fn cap_milli(&self, rate: u64) -> i128 {
        i128::from(rate).saturating_mul(i128::from(self.window.size_ms))
    }

    /// Debt beyond the whole window (`num` samples) is forgotten, as Kafka's samples expire. At
    /// least one milli-unit of debt is kept so that a rate of 0 stays exceeded once it was used.
    fn floor_milli(&self, rate: u64) -> i128 {
        let window_milli = i128::from(rate).saturating_mul(i128::from(self.window.total_ms()));
        (-window_milli).min(-1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(rate_per_s: Option<u64>) -> RateBucket {
        let mut q = RateBucket::new(QuotaWindow::default());
        q.set_rate(rate_per_s, 0);
        q
    }

    #[test]
    fn the_burst_is_one_window_and_a_deficit_waits_to_the_ms() {
        let mut q = bucket(Some(1_000));
        assert_eq!(q.budget(0), Some(1_000));
        assert_eq!(q.record(1_000, 0), 0);
        assert!(!q.exceeded(0)); // exactly the burst is not over the bound
        assert_eq!(q.record(500, 0), 500);
        assert_eq!((q.exceeded(0), q.wait_ms(0)), (true, 500));
        assert_eq!(q.budget(0), Some(0));
        assert_eq!((q.exceeded(499), q.wait_ms(499)), (true, 1));
        assert_eq!((q.exceeded(500), q.wait_ms(500)), (false, 0));
        assert_eq!(q.budget(500), Some(1)); // no tokens, not exceeded: one read passes
        assert_eq!(q.budget(750), Some(250));
        assert_eq!(q.budget(5_000), Some(1_000)); // refill stops at the cap
        let mut wide = RateBucket::new(QuotaWindow::seconds(11, 2));
        wide.set_rate(Some(1_000), 0);
        assert_eq!(wide.budget(0), Some(2_000));
    }

    #[test]
    fn the_throttle_is_the_excess_over_the_rate_exact_to_the_ms() {
        let mut q = bucket(Some(3_000));
        assert_eq!(q.record(3_000, 0), 0); // the burst
        assert_eq!(q.record(1, 0), 1); // 1 byte at 3 kB/s: a third of a ms, rounded up
        assert_eq!(q.record(2, 0), 1); // 3 bytes owed: exactly 1 ms
        assert_eq!(q.record(3, 0), 2);
        assert_eq!(q.wait_ms(0), 2); // what record said is what waiting says
        assert_eq!(q.record(0, 2), 0); // paid exactly at 2 ms

        // Kafka's formula: 5,000 bytes over a 1,000 B/s allowance = 5 s.
        let mut q = bucket(Some(1_000));
        assert_eq!(q.record(6_000, 0), 5_000);
        // Later, refilled 250 bytes: 100 more leaves 4,850 owed.
        assert_eq!(q.record(100, 250), 4_850);
        assert_eq!(q.record(0, 5_100), 0);
    }

    #[test]
    fn a_huge_request_earns_its_whole_throttle_though_the_debt_is_floored() {
        let mut q = bucket(Some(1_000));
        // 100 s over the quota: the mute is 100 s, the bucket remembers 11 windows.
        assert_eq!(q.record(101_000, 0), 100_000);
        assert_eq!(q.wait_ms(0), 11_000);
        let mut q = bucket(Some(1));
        assert_eq!(q.record(u64::MAX, 0), u64::MAX); // saturates, never wraps
    }

    #[test]
    fn debt_is_floored_at_the_whole_window() {
        let mut q = bucket(Some(1_000));
        q.record(u64::MAX, 0);
        assert_eq!(q.wait_ms(0), 11_000); // 11 windows of 1 s
        let mut q = RateBucket::new(QuotaWindow::seconds(3, 2));
        q.set_rate(Some(100), 0);
        q.record(1_000_000_000, 0);
        assert_eq!(q.wait_ms(0), 6_000); // 3 windows of 2 s
        assert!(!q.exceeded(6_000));
    }

    #[test]
    fn unlimited_never_throttles_and_zero_windows_clamp() {
        let mut q = bucket(None);
        assert_eq!(q.record(u64::MAX, 0), 0);
        assert_eq!(q.record(u64::MAX, 0), 0);
        assert!(!q.exceeded(0));
        assert_eq!((q.wait_ms(0), q.budget(0)), (0, None));
        assert_eq!(q.rate_per_s(), None);
        let mut q = RateBucket::new(QuotaWindow::seconds(0, 0));
        q.set_rate(Some(10), 0);
        assert_eq!(q.budget(0), Some(10));
        assert_eq!(QuotaWindow::new(0, 0), QuotaWindow::new(1, 1));
        assert_eq!(
            RateBucket::new(QuotaWindow { num: 0, size_ms: 0 })
                .window()
                .num,
            1
        );
    }

    #[test]
    fn rate_zero_lets_one_read_pass_then_holds() {
        let mut q = bucket(Some(0));
        assert_eq!((q.exceeded(0), q.wait_ms(0)), (false, 0));
        assert_eq!(q.budget(0), Some(1));
        assert_eq!(q.record(0, 0), 0);
        assert!(!q.exceeded(0)); // nothing read, nothing owed
        assert_eq!(q.record(1, 0), 11_000); // any debt waits the whole window
        let at = 1_000_000_000;
        assert_eq!((q.budget(at), q.wait_ms(at)), (Some(0), 11_000));
        q.set_rate(Some(1_000), at);
        assert!(!q.exceeded(at + 1)); // a real rate pays the debt
    }

    #[test]
    fn huge_rates_and_times_do_not_overflow() {
        let mut q = bucket(Some(u64::MAX));
        assert_eq!(q.budget(0), Some(u64::MAX));
        q.record(u64::MAX, 0);
        assert!(!q.exceeded(0));
        q.record(u64::MAX, 0);
        assert_eq!(q.wait_ms(0), 1_000);
        assert!(!q.exceeded(u64::MAX));
        let mut q = RateBucket::new(QuotaWindow::seconds(u32::MAX, u32::MAX));
        q.set_rate(Some(u64::MAX), u64::MAX);
        q.record(u64::MAX, u64::MAX);
        assert_eq!(q.budget(u64::MAX), Some(u64::MAX));
        q.set_rate(Some(0), 3);
        assert_eq!(q.wait_ms(3), 0); // a clock stepping back refills nothing
        let mut q = RateBucket::new(QuotaWindow::new(u32::MAX, u64::MAX));
        q.set_rate(Some(u64::MAX), 0);
        assert_eq!(q.record(u64::MAX, 0), 0);
    }

    #[test]
    fn paced_reads_average_to_the_rate() {
        // Whole 1,000-byte batches (at least one) up to the budget, 5 ms per round trip, the
        // quota's wait when held: 60 s at 20 kB/s.
        let (mut q, mut now_ms, mut moved_bytes) = (bucket(Some(20_000)), 0u64, 0u64);
        while now_ms < 60_000 {
            match q.budget(now_ms).expect("bounded") {
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
    fn paced_records_muted_by_their_throttle_average_to_the_rate() {
        // A client sending 7,777-byte requests back to back, each held for the throttle it
        // earned (Kafka's mute): 60 s at 50 kB/s.
        let (mut q, mut now_ms, mut sent_bytes) = (bucket(Some(50_000)), 0u64, 0u64);
        while now_ms < 60_000 {
            let throttle_ms = q.record(7_777, now_ms);
            sent_bytes += 7_777;
            now_ms += throttle_ms.max(2); // 2 ms a round trip
        }
        let rate = (sent_bytes - 50_000) as f64 * 1000.0 / now_ms as f64; // after the burst
        assert!((49_500.0..=50_100.0).contains(&rate), "{rate}");
    }

    #[test]
    fn ten_times_the_quota_offered_for_30_s_admits_at_most_31_windows() {
        // Offered at 10 × Q (one Q/100 request every ms), each admitted request mutes the
        // client for its throttle; admitted in [0, 30 s): at most the burst and 30 s of rate.
        const Q: u64 = 100_000;
        let (mut q, mut muted_until_ms, mut admitted_bytes) = (bucket(Some(Q)), 0u64, 0u64);
        for now_ms in 0..30_000 {
            if now_ms < muted_until_ms {
                continue;
            }
            admitted_bytes += Q / 100;
            muted_until_ms = now_ms + q.record(Q / 100, now_ms);
        }
        assert!(admitted_bytes <= Q * 31, "{admitted_bytes}");
        assert!(admitted_bytes >= Q * 30, "{admitted_bytes}"); // and the quota is usable

        // Requests that do not divide the rate (a third of a window each) overshoot by at
        // most one request.
        let (mut q, mut muted_until_ms, mut admitted_bytes) = (bucket(Some(Q)), 0u64, 0u64);
        for now_ms in 0..30_000 {
            if now_ms >= muted_until_ms {
                admitted_bytes += Q / 3;
                muted_until_ms = now_ms + q.record(Q / 3, now_ms);
            }
        }
        assert!(admitted_bytes <= Q * 31 + Q / 3, "{admitted_bytes}");
    }

    #[test]
    fn a_new_rate_keeps_tokens_within_its_cap() {
        let mut q = bucket(Some(10_000));
        q.set_rate(Some(1_000), 0);
        assert_eq!(q.budget(0), Some(1_000)); // clamped to the new cap
        q.record(1_500, 0);
        q.set_rate(Some(2_000), 0);
        assert_eq!(q.wait_ms(0), 250); // the debt is kept
        q.set_rate(Some(2_000), 100);
        assert_eq!(q.wait_ms(100), 150); // the same rate again keeps it
        q.set_rate(None, 100);
        q.set_rate(Some(3_000), 100);
        assert_eq!(q.budget(100), Some(3_000)); // a bound set anew starts full
    }

    #[test]
    fn a_millisecond_window_is_its_own_burst() {
        let mut q = RateBucket::new(QuotaWindow::new(2, 250));
        q.set_rate(Some(1_000), 0);
        assert_eq!(q.budget(0), Some(250));
        assert_eq!(q.record(10_000, 0), 9_750);
        assert_eq!(q.wait_ms(0), 500); // 2 windows of 250 ms of debt
    }
}
