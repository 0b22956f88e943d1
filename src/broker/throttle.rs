//! Client quotas enforced (Kafka's `ClientQuotaManager` with KIP-219's muted channel): a
//! request over its quota is answered at once with the throttle in `throttle_time_ms`, and
//! its connection is muted for that long (the listener reads nothing more from it), so a
//! client that ignores the field is held all the same.
//!
//! What is counted, as in Kafka: a Produce's whole request bytes, when it is dispatched (so
//! the next request is already held); a consumer Fetch's response bytes, when it is answered.
//! A Fetch that arrives while its quota is in debt is answered at once with no partitions
//! (Kafka's throttled fetch); otherwise its `max_bytes` is capped at what the quota allows
//! now, so an answer overshoots by at most one batch (Kafka answers, then un-records and
//! empties an answer over quota: capping gets the same rate without throwing reads away).
//!
//! The quota that applies is the one the node's metadata voter published last
//! ([`crate::messages::quotas::ClientQuotas::resolve`]); without any, nothing here costs more
//! than one `Arc` load per produce or fetch. Time is the host's injected clock
//! ([`super::service::MonoClock`]), virtual under the simulator.

use std::sync::Arc;

use super::quota::{BucketKey, QuotaKind, SharedQuotaState};
use super::service::{KafkaRequest, MonoClock, Mute};
use super::BrokerService;
use crate::faults::{canary, Canary};
use crate::messages::quotas::{
    CONSUMER_BYTE_RATE, CONTROLLER_MUTATION_RATE, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE,
};
use crate::protocol::frame;

/// The quota key each kind is set with.
fn config_key(kind: QuotaKind) -> &'static str {
    match kind {
        QuotaKind::Produce => PRODUCER_BYTE_RATE,
        QuotaKind::Fetch => CONSUMER_BYTE_RATE,
        QuotaKind::Request => REQUEST_PERCENTAGE,
        QuotaKind::Mutation => CONTROLLER_MUTATION_RATE,
    }
}

/// One request's quota: its bucket, its limit, and the connection to mute. Owned, so an
/// answer completed later (a fetch's) records with it.
pub(super) struct Throttle {
    state: Arc<SharedQuotaState>,
    clock: Arc<dyn MonoClock>,
    mute: Mute,
    key: BucketKey,
    limit_per_s: f64,
}

impl Throttle {
    /// Records `amount` against the quota; the throttle it earns (ms, as the wire's i32),
    /// with the connection muted that long.
    pub(super) fn record(&self, amount: u64) -> i32 {
        let now_ms = self.clock.now_ms();
        let throttle_ms = (self.state).record(&self.key, self.limit_per_s, amount, now_ms);
        self.muted(now_ms, throttle_ms)
    }

    /// How long the quota is still in debt (0: it is not), with the connection muted that
    /// long.
    pub(super) fn wait(&self) -> i32 {
        let now_ms = self.clock.now_ms();
        let wait_ms = self.state.wait_ms(&self.key, self.limit_per_s, now_ms);
        self.muted(now_ms, wait_ms)
    }

    /// What may still pass now without a throttle (at least 1 while not in debt).
    pub(super) fn budget(&self) -> u64 {
        let now_ms = self.clock.now_ms();
        self.state.budget_bytes(&self.key, self.limit_per_s, now_ms)
    }

    fn muted(&self, now_ms: u64, throttle_ms: u64) -> i32 {
        // The canary reports the throttle but never holds the connection.
        if throttle_ms > 0 && !canary(Canary::QuotaChannelUnmuted) {
            self.mute.extend_to(now_ms.saturating_add(throttle_ms));
        }
        i32::try_from(throttle_ms).unwrap_or(i32::MAX)
    }
}

impl<C> BrokerService<C> {
    /// The quota of `kind` that applies to `request` (its principal's name and header client
    /// id), if one does.
    pub(super) fn throttle(&self, request: &KafkaRequest, kind: QuotaKind) -> Option<Throttle> {
        let quotas = self.quotas.load();
        if quotas.is_empty() {
            return None;
        }
        // A client id that is not UTF-8 is the empty one (its requests are otherwise served).
        let client_id = frame::peek_client_id(&request.frame).unwrap_or("");
        let user = &request.context.principal.name;
        let resolved = quotas.resolve(config_key(kind), user, client_id)?;
        Some(Throttle {
            state: Arc::clone(&self.quota_state),
            clock: Arc::clone(&self.clock),
            mute: request.mute.clone(),
            key: BucketKey::new(kind, resolved.user_tag, resolved.client_tag),
            limit_per_s: kind.units_per_s(resolved.limit),
        })
    }
}
