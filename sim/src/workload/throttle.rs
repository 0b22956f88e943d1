//! Replication throttles under faults (KIP-73, issue 14's "moving replicas"): at the start the
//! data topic's replicas are throttled as `rill reassign-partitions --throttle` does it, but
//! for every partition (`*` as both the leader and the follower replicas, Kafka's form for a
//! whole topic) and every broker (the cluster-default rates, the BROKER resource `""`), through
//! IncrementalAlterConfigs at a broker drawn afresh; at healing they are lifted (DELETE) the
//! same way. A follower out of the ISR meanwhile (killed, cut off, moved in) catches up at the
//! rate only, below the producers' rate: it stays behind until the lift.
//!
//! The checker's claims stay: the throttles change when records are copied, never which, so
//! every acknowledged record must survive, and replicas must agree; and once lifted, every
//! follower must catch up (the replicas end alike after healing). The canary
//! `throttle-not-released` shows the checker holds a broker to the lift.

use std::time::Duration;

use rill::messages::throttles::{
    FOLLOWER_RATE_KEY, FOLLOWER_REPLICAS_KEY, LEADER_RATE_KEY, LEADER_REPLICAS_KEY,
};
use tokio::time::Instant;

use super::configs::{alter, config, resource, BROKER_RESOURCE, TOPIC_RESOURCE};
use super::{via_any_broker, Workload, RETRY_BACKOFF, TOPIC};
use crate::history::Event;

/// Throttles the data topic at `rate` bytes/s until `until` (healing), then lifts the
/// throttles; each step retried until a broker takes it.
pub async fn throttler(w: Workload, rate: u64, until: Instant) {
    change_until_done(&w, rate, true, until).await;
    let now = Instant::now();
    if now < until {
        tokio::time::sleep(until - now).await;
    }
    change_until_done(&w, rate, false, Instant::now() + Duration::from_secs(3600)).await;
    // A set that timed out during the faults may still be applied after the lift (it waited
    // in a broker's admin queue or the quorum): lifted again a few times, as an operator's
    // script would check and repeat (seed 414: a late set left the followers throttled).
    for _ in 0..LIFT_REPEATS {
        tokio::time::sleep(LIFT_REPEAT_EVERY).await;
        change_until_done(&w, rate, false, Instant::now() + LIFT_REPEAT_EVERY).await;
    }
}

/// How many more lifts follow the first, and how far apart.
const LIFT_REPEATS: u32 = 4;
const LIFT_REPEAT_EVERY: Duration = Duration::from_secs(1);

/// Sets (or lifts) the throttles until one request is taken whole, or `give_up` passes.
async fn change_until_done(w: &Workload, rate: u64, set: bool, give_up: Instant) {
    while Instant::now() < give_up {
        let outcome = change_once(&via_any_broker(w), rate, set).await;
        let done = outcome.is_ok();
        let outcome = outcome.err().unwrap_or_else(|| "NONE".to_owned());
        w.record(Event::Throttled { set, rate, outcome });
        if done {
            return;
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

/// One IncrementalAlterConfigs of the topic's throttled replicas and the default rates: taken
/// whole, or the first refusal's error code, or why no answer came.
async fn change_once(w: &Workload, rate: u64, set: bool) -> Result<(), String> {
    let rate = rate.to_string();
    let value = |value: &str| set.then(|| value.to_owned());
    let topic = resource(
        TOPIC_RESOURCE,
        TOPIC,
        vec![
            config(LEADER_REPLICAS_KEY, value("*").as_deref()),
            config(FOLLOWER_REPLICAS_KEY, value("*").as_deref()),
        ],
    );
    let brokers = resource(
        BROKER_RESOURCE,
        "",
        vec![
            config(LEADER_RATE_KEY, value(&rate).as_deref()),
            config(FOLLOWER_RATE_KEY, value(&rate).as_deref()),
        ],
    );
    alter(w, vec![topic, brokers]).await
}
