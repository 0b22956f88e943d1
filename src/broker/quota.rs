//! Client quota enforcement's state: one [`RateBucket`] per quota kind and quota group (the
//! user and client-id tags of the entity that matched, Kafka's `quotaMetricTags`), kept by the
//! gateway (docs/issue-16-quotas-plan.md, "Enforcement").
//!
//! Pure: every call passes the rate that applies (resolved from the published quotas by the
//! caller) and the monotonic `now_ms` of the injected clock, so a seed replays exactly. A
//! bucket exists only while a quota is being enforced on its key; a changed rate keeps the
//! tokens. Buckets idle for an hour are dropped (Kafka's inactive-sensor expiry), and client-ids
//! are the client's to choose, so the count and the name bytes are bounded, least recently
//! used first out.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::limits::{CLIENT_QUOTA_BUCKETS_MAX, CLIENT_QUOTA_BUCKET_KEY_BYTES_MAX};
pub use crate::types::rate_bucket::QuotaWindow;
use crate::types::rate_bucket::RateBucket;

/// A bucket unused this long is dropped: Kafka's `INACTIVE_SENSOR_EXPIRATION_TIME_SECONDS`
/// (1 h) for quota sensors. Its debt is long paid by then in any sane window.
pub const QUOTA_BUCKET_IDLE_MS: u64 = 60 * 60 * 1000;

/// How many of the least recently used buckets an eviction looks through for one not in
/// debt (a bound on the work of one new bucket).
const EVICTION_SCAN: usize = 16;

/// Which quota a bucket measures (Kafka keeps one `ClientQuotaManager` per kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaKind {
    /// `producer_byte_rate`: request bytes of produces.
    Produce,
    /// `consumer_byte_rate`: response bytes of consumer fetches.
    Fetch,
    /// `request_percentage`: request handling time, in ns.
    Request,
    /// `controller_mutation_rate`: partitions created or deleted, in thousandths (the rate is a
    /// double, often below one a second).
    Mutation,
}

/// Nanoseconds of handling time per second that 1 % of `request_percentage` allows: 1 % of
/// one worker (Kafka: of one request-handler thread).
const BUSY_NS_PER_S_PER_PERCENT: f64 = 1e7;

impl QuotaKind {
    /// A [`QuotaKind::Mutation`] bucket's units in one partition.
    pub const MUTATION_UNITS_PER_PARTITION: u64 = 1_000;

    /// The bucket's rate for a quota set to `limit`: bytes per second for the byte rates,
    /// nanoseconds of handling time per second for `request_percentage` (a percentage),
    /// thousandths of a partition per second for `controller_mutation_rate`.
    pub fn units_per_s(self, limit: f64) -> f64 {
        match self {
            QuotaKind::Produce | QuotaKind::Fetch => limit,
            QuotaKind::Request => limit * BUSY_NS_PER_S_PER_PERCENT,
            QuotaKind::Mutation => limit * Self::MUTATION_UNITS_PER_PARTITION as f64,
        }
    }
}

/// Who shares a bucket: the quota kind and the tags of the entity level that matched (`""`
/// for a tag the level leaves out, e.g. `("alice", "")` for a `users/alice` quota shared by
/// all of alice's clients).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketKey {
    pub kind: QuotaKind,
    pub user: String,
    pub client_id: String,
}

impl BucketKey {
    pub fn new(kind: QuotaKind, user: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            kind,
            user: user.into(),
            client_id: client_id.into(),
        }
    }

    /// The name bytes counted against [`CLIENT_QUOTA_BUCKET_KEY_BYTES_MAX`].
    fn name_bytes(&self) -> usize {
        self.user.len() + self.client_id.len()
    }
}

#[derive(Debug)]
struct Entry {
    bucket: RateBucket,
    /// The last time the bucket was used (never moves back).
    last_ms: u64,
    /// Its place in [`QuotaState::lru`].
    touched: u64,
}

/// The buckets of one broker's gateway.
#[derive(Debug)]
pub struct QuotaState {
    window: QuotaWindow,
    buckets: BTreeMap<BucketKey, Entry>,
    /// Keys by when they were last used, oldest first: a counter rather than the time, so two
    /// uses in the same ms keep their order and each key has one place.
    lru: BTreeMap<u64, BucketKey>,
    next_touch: u64,
    key_bytes: usize,
    buckets_max: usize,
    key_bytes_max: usize,
}

impl QuotaState {
    /// No buckets yet; each made with `window` (`quota.window.num` × `quota.window.size.*`).
    pub fn new(window: QuotaWindow) -> Self {
        Self::with_bounds(
            window,
            CLIENT_QUOTA_BUCKETS_MAX,
            CLIENT_QUOTA_BUCKET_KEY_BYTES_MAX,
        )
    }

    /// With other bounds than the limits' (tests). At least one bucket is always kept.
    pub fn with_bounds(window: QuotaWindow, buckets_max: usize, key_bytes_max: usize) -> Self {
        Self {
            window,
            buckets: BTreeMap::new(),
            lru: BTreeMap::new(),
            next_touch: 0,
            key_bytes: 0,
            buckets_max: buckets_max.max(1),
            key_bytes_max,
        }
    }

    /// Counts `amount` against `key`'s quota of `rate_per_s` and returns the throttle it earns
    /// in ms (Kafka's: the excess over the allowance divided by the rate; 0 within it). A new
    /// key starts with a full burst.
    pub fn record(&mut self, key: &BucketKey, rate_per_s: f64, amount: u64, now_ms: u64) -> u64 {
        self.bucket(key, rate_per_s, now_ms).record(amount, now_ms)
    }

    /// How long `key` must wait before it is within its quota again (0: it is).
    pub fn wait_ms(&mut self, key: &BucketKey, rate_per_s: f64, now_ms: u64) -> u64 {
        self.bucket(key, rate_per_s, now_ms).wait_ms(now_ms)
    }

    /// Units `key` may still use without a throttle: 0 exactly when over its quota, otherwise
    /// at least 1 (one more read passes, as in Kafka, where only "already over" holds it).
    pub fn budget_bytes(&mut self, key: &BucketKey, rate_per_s: f64, now_ms: u64) -> u64 {
        let bucket = self.bucket(key, rate_per_s, now_ms);
        bucket.budget(now_ms).unwrap_or(u64::MAX)
    }

    /// Buckets kept now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Whether `key` has a bucket (tests, metrics).
    pub fn contains(&self, key: &BucketKey) -> bool {
        self.buckets.contains_key(key)
    }

    /// `key`'s bucket at `rate_per_s`, made if new, marked used at `now_ms`; idle buckets go
    /// first, and the least recently used ones when a new key would pass a bound.
    fn bucket(&mut self, key: &BucketKey, rate_per_s: f64, now_ms: u64) -> &mut RateBucket {
        self.drop_idle(now_ms);
        let rate = Some(whole_rate_per_s(rate_per_s));
        let touched = self.next_touch;
        self.next_touch += 1;
        if let Some(entry) = self.buckets.get_mut(key) {
            if let Some(key) = self.lru.remove(&entry.touched) {
                self.lru.insert(touched, key);
            }
            entry.touched = touched;
        } else {
            self.make_room(key.name_bytes(), now_ms);
            let mut bucket = RateBucket::new(self.window);
            bucket.set_rate(rate, now_ms); // starts full
            let entry = Entry {
                bucket,
                last_ms: now_ms,
                touched,
            };
            self.key_bytes += key.name_bytes();
            self.lru.insert(touched, key.clone());
            self.buckets.insert(key.clone(), entry);
        }
        let entry = self.buckets.get_mut(key).expect("just found or made");
        entry.last_ms = entry.last_ms.max(now_ms);
        // Keeps the tokens: re-resolving the same quota each request refills nothing.
        entry.bucket.set_rate(rate, now_ms);
        &mut entry.bucket
    }

    /// Drops buckets unused for [`QUOTA_BUCKET_IDLE_MS`], oldest first.
    fn drop_idle(&mut self, now_ms: u64) {
        while let Some((_, key)) = self.lru.first_key_value() {
            let last_ms = self.buckets.get(key).map_or(0, |entry| entry.last_ms);
            if now_ms.saturating_sub(last_ms) < QUOTA_BUCKET_IDLE_MS {
                break;
            }
            self.evict_oldest();
        }
    }

    /// Evicts least recently used buckets until one more with `name_bytes` fits the bounds
    /// (or none is left: one key alone may be larger than the byte bound; it is kept).
    fn make_room(&mut self, name_bytes: usize, now_ms: u64) {
        while !self.buckets.is_empty()
            && (self.buckets.len() >= self.buckets_max
                || self.key_bytes + name_bytes > self.key_bytes_max)
        {
            self.evict_least_owed(now_ms);
        }
    }

    /// Evicts the least recently used bucket not in debt among the [`EVICTION_SCAN`] oldest,
    /// or the oldest when all of those are: a dropped bucket's debt is forgiven, so a client
    /// rotating client ids under a default quota (each id a fresh bucket, never in debt) would
    /// otherwise clear the throttles others still owe.
    fn evict_least_owed(&mut self, now_ms: u64) {
        let oldest: Vec<(u64, BucketKey)> = (self.lru.iter())
            .take(EVICTION_SCAN)
            .map(|(touched, key)| (*touched, key.clone()))
            .collect();
        let debt_free = oldest.iter().find(|(_, key)| {
            (self.buckets.get_mut(key)).is_some_and(|entry| !entry.bucket.exceeded(now_ms))
        });
        if let Some((touched, _)) = debt_free.or(oldest.first()) {
            self.evict(*touched);
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((&touched, _)) = self.lru.first_key_value() {
            self.evict(touched);
        }
    }

    fn evict(&mut self, touched: u64) {
        if let Some(key) = self.lru.remove(&touched) {
            if self.buckets.remove(&key).is_some() {
                self.key_bytes -= key.name_bytes();
            }
        }
    }
}

/// A quota value (a double in Kafka's API) as the bucket's whole units per second: rounded,
/// NaN and negatives as 0 (which blocks), past `u64::MAX` as `u64::MAX`. Byte rates are LONG
/// in Kafka, so rounding loses nothing (the request quota, `QuotaKind::Request`, is not
/// enforced yet; its rate would be nanoseconds of request time per second).
fn whole_rate_per_s(rate_per_s: f64) -> u64 {
    // `as` saturates and maps NaN to 0.
    rate_per_s.round() as u64
}

/// [`QuotaState`] shared by a broker's connections: each call locks it for one bucket lookup
/// and update only, never across an `.await` (the methods are synchronous), so under madsim's
/// single thread the order of calls, hence the state, is the schedule's.
#[derive(Debug)]
pub struct SharedQuotaState(Mutex<QuotaState>);

impl SharedQuotaState {
    pub fn new(window: QuotaWindow) -> Self {
        Self(Mutex::new(QuotaState::new(window)))
    }

    pub fn from_state(state: QuotaState) -> Self {
        Self(Mutex::new(state))
    }

    /// [`QuotaState::record`].
    pub fn record(&self, key: &BucketKey, rate_per_s: f64, amount: u64, now_ms: u64) -> u64 {
        self.with(|state| state.record(key, rate_per_s, amount, now_ms))
    }

    /// [`QuotaState::wait_ms`].
    pub fn wait_ms(&self, key: &BucketKey, rate_per_s: f64, now_ms: u64) -> u64 {
        self.with(|state| state.wait_ms(key, rate_per_s, now_ms))
    }

    /// [`QuotaState::budget_bytes`].
    pub fn budget_bytes(&self, key: &BucketKey, rate_per_s: f64, now_ms: u64) -> u64 {
        self.with(|state| state.budget_bytes(key, rate_per_s, now_ms))
    }

    /// Buckets kept now.
    pub fn len(&self) -> usize {
        self.with(|state| state.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<T>(&self, f: impl FnOnce(&mut QuotaState) -> T) -> T {
        // A panic while locked leaves the buckets consistent (each update is one step), so a
        // poisoned lock is used as is rather than taking the gateway down.
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: QuotaKind, user: &str, client_id: &str) -> BucketKey {
        BucketKey::new(kind, user, client_id)
    }

    #[test]
    fn kinds_and_tags_have_their_own_buckets() {
        let mut state = QuotaState::new(QuotaWindow::default());
        let produce = key(QuotaKind::Produce, "alice", "");
        let fetch = key(QuotaKind::Fetch, "alice", "");
        let bob = key(QuotaKind::Produce, "bob", "");
        assert_eq!(state.record(&produce, 1_000.0, 3_000, 0), 2_000);
        assert_eq!(state.wait_ms(&produce, 1_000.0, 500), 1_500);
        assert_eq!(state.budget_bytes(&produce, 1_000.0, 500), 0);
        assert_eq!(state.wait_ms(&fetch, 1_000.0, 500), 0); // another kind
        assert_eq!(state.budget_bytes(&bob, 1_000.0, 500), 1_000); // another user: full
        assert_eq!(state.len(), 3);
        assert!(key(QuotaKind::Produce, "a", "z") < key(QuotaKind::Fetch, "a", "a"));
    }

    #[test]
    fn a_changed_rate_keeps_the_tokens() {
        let mut state = QuotaState::new(QuotaWindow::default());
        let k = key(QuotaKind::Produce, "", "app");
        assert_eq!(state.record(&k, 1_000.0, 1_500, 0), 500);
        // Raised to 2,000 B/s: the 500 bytes owed are paid in 250 ms, not forgiven.
        assert_eq!(state.wait_ms(&k, 2_000.0, 0), 250);
        assert_eq!(state.wait_ms(&k, 2_000.0, 100), 150);
        // Time passed at the old rate refills up to the old burst only; raising the rate
        // later does not fill the new one at once.
        assert_eq!(state.budget_bytes(&k, 10_000.0, 2_000), 2_000);
        // Lowered below what is left: clamped to the new burst.
        assert_eq!(state.budget_bytes(&k, 100.0, 2_000), 100);
        // Fractions round; nonsense blocks.
        assert_eq!(state.record(&k, 100.4, 0, 3_000), 0);
        assert_eq!(state.record(&k, f64::NAN, 1, 3_000), 11_000);
    }

    #[test]
    fn ten_times_the_quota_for_30_s_admits_at_most_31_windows() {
        // A client offering 10 × Q in 1 kB requests, held after each for the throttle it
        // earned (the channel mute), over 30 simulated seconds.
        const Q: u64 = 100_000;
        let shared = SharedQuotaState::new(QuotaWindow::default());
        let k = key(QuotaKind::Produce, "", "flood");
        let (mut muted_until_ms, mut admitted_bytes) = (0u64, 0u64);
        for now_ms in 0..30_000 {
            if now_ms >= muted_until_ms {
                admitted_bytes += 1_000;
                muted_until_ms = now_ms + shared.record(&k, Q as f64, 1_000, now_ms);
            }
        }
        assert!(
            (Q * 30..=Q * 31).contains(&admitted_bytes),
            "{admitted_bytes}"
        );
    }

    #[test]
    fn idle_buckets_are_dropped_after_an_hour() {
        let mut state = QuotaState::new(QuotaWindow::default());
        let (old, busy) = (
            key(QuotaKind::Fetch, "", "old"),
            key(QuotaKind::Fetch, "", "busy"),
        );
        state.record(&old, 1_000.0, 5_000, 0);
        state.record(&busy, 1_000.0, 5_000, 0);
        state.record(&busy, 1_000.0, 5_000, QUOTA_BUCKET_IDLE_MS - 1);
        assert_eq!(state.len(), 2);
        state.wait_ms(&busy, 1_000.0, QUOTA_BUCKET_IDLE_MS);
        assert!(!state.contains(&old) && state.contains(&busy));
        // Dropped means forgotten: it comes back full.
        assert_eq!(
            state.budget_bytes(&old, 1_000.0, QUOTA_BUCKET_IDLE_MS),
            1_000
        );
        assert_eq!(state.len(), 2);
        // A clock read before a later one, locked after it, neither drops nor rewinds.
        state.record(&busy, 1_000.0, 0, QUOTA_BUCKET_IDLE_MS - 10);
        assert!(state.contains(&old) && state.contains(&busy));
    }

    #[test]
    fn the_least_recently_used_bucket_goes_first_past_the_count() {
        let mut state = QuotaState::with_bounds(QuotaWindow::default(), 3, usize::MAX);
        let keys: Vec<BucketKey> = (0..4)
            .map(|i| key(QuotaKind::Produce, "", &format!("c{i}")))
            .collect();
        for k in &keys[..3] {
            state.record(k, 1_000.0, 2_000, 0);
        }
        state.wait_ms(&keys[0], 1_000.0, 1); // c0 used again: c1 is now the oldest
        state.record(&keys[3], 1_000.0, 0, 2);
        assert_eq!(state.len(), 3);
        assert!(!state.contains(&keys[1]));
        assert!(state.contains(&keys[0]) && state.contains(&keys[2]));
        assert_eq!(state.wait_ms(&keys[0], 1_000.0, 2), 998); // c0 kept its debt
    }

    #[test]
    fn a_bucket_in_debt_outlives_newer_ones_that_owe_nothing() {
        // A client in debt (its throttle still owed) and a rotation of fresh client ids past
        // the count: the fresh ones go, the debt stays.
        let mut state = QuotaState::with_bounds(QuotaWindow::default(), 3, usize::MAX);
        let owing = key(QuotaKind::Produce, "", "owing");
        assert_eq!(state.record(&owing, 1_000.0, 5_000, 0), 4_000);
        for i in 0..100 {
            state.record(
                &key(QuotaKind::Produce, "", &format!("fresh{i}")),
                1_000.0,
                1,
                1,
            );
        }
        assert_eq!(state.len(), 3);
        assert!(state.contains(&owing));
        assert_eq!(
            state.wait_ms(&owing, 1_000.0, 1),
            3_999,
            "the debt is still owed"
        );
        // Once paid, it is as evictable as any other.
        state.wait_ms(&owing, 1_000.0, 5_000);
        for i in 0..3 {
            state.record(
                &key(QuotaKind::Produce, "", &format!("later{i}")),
                1_000.0,
                1,
                5_001,
            );
        }
        assert!(!state.contains(&owing));
    }

    #[test]
    fn the_least_recently_used_bucket_goes_first_past_the_name_bytes() {
        let mut state = QuotaState::with_bounds(QuotaWindow::default(), usize::MAX, 10);
        let (a, b) = (
            key(QuotaKind::Produce, "ab", "cd"),
            key(QuotaKind::Produce, "", "efgh"),
        );
        state.record(&a, 1_000.0, 0, 0);
        state.record(&b, 1_000.0, 0, 0);
        assert_eq!(state.len(), 2); // 8 bytes
        let c = key(QuotaKind::Request, "xyz", "");
        state.record(&c, 1_000.0, 0, 1); // 11 bytes would pass 10: a goes
        assert!(!state.contains(&a) && state.contains(&b) && state.contains(&c));
        // A key larger than the whole bound alone is kept, alone.
        let huge = key(QuotaKind::Produce, "", "0123456789abc");
        state.record(&huge, 1_000.0, 0, 2);
        assert_eq!(state.len(), 1);
        assert!(state.contains(&huge));
        state.record(&a, 1_000.0, 0, 3);
        assert_eq!(state.len(), 1);
        assert!(state.contains(&a));
    }

    #[test]
    fn the_shared_state_is_the_state() {
        let mut state = QuotaState::with_bounds(QuotaWindow::new(2, 500), 10, 100);
        let k = key(QuotaKind::Produce, "u", "c");
        state.record(&k, 1_000.0, 100, 0);
        let shared = SharedQuotaState::from_state(state);
        assert_eq!(shared.budget_bytes(&k, 1_000.0, 0), 400); // a window of 500 ms
        assert_eq!(shared.record(&k, 1_000.0, 2_400, 0), 2_000);
        assert_eq!(shared.wait_ms(&k, 1_000.0, 0), 1_000); // 2 windows of debt kept
        assert_eq!((shared.len(), shared.is_empty()), (1, false));
    }
}
