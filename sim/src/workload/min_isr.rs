//! The cluster-wide `min.insync.replicas`: the BROKER resource `""`, which Rill keeps in the
//! metadata log as Kafka does with eligible leader replicas on (every write clears the ELRs;
//! `rill::controller::metadata::broker_config`). Set through IncrementalAlterConfigs at a
//! broker drawn afresh, retried until one takes it, each attempt recorded as a `min-isr-set`
//! fault; the role fault `min-isr-lowered` (`crate::role_faults`) raises and lowers it.

use tokio::time::Instant;

use super::configs::{alter, config, resource, BROKER_RESOURCE};
use super::{via_any_broker, Workload, RETRY_BACKOFF};
use crate::history::Event;

/// The key, as Kafka names it.
const MIN_ISR_KEY: &str = "min.insync.replicas";

/// Sets the cluster-wide `min.insync.replicas` to `value`; whether a broker took it before
/// `give_up`.
pub async fn set_until_done(w: &Workload, value: u8, give_up: Instant) -> bool {
    while Instant::now() < give_up {
        let configs = vec![config(MIN_ISR_KEY, Some(&value.to_string()))];
        let resources = vec![resource(BROKER_RESOURCE, "", configs)];
        // Bounded: the role fault that asks holds the node-fault lock, and a broker down until
        // that lock is free (a fault point's power failure) would otherwise never answer
        // (connecting is retried without end; seed 11 of the canary's runs hung so).
        let left = give_up.saturating_duration_since(Instant::now());
        let outcome = tokio::time::timeout(left, alter(&via_any_broker(w), resources))
            .await
            .unwrap_or_else(|_| Err("no answer before giving up".to_owned()));
        let done = outcome.is_ok();
        let outcome = outcome.err().unwrap_or_else(|| "NONE".to_owned());
        w.record(Event::Fault {
            kind: "min-isr-set",
            detail: format!("{value}: {outcome}"),
        });
        if done {
            return true;
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
    false
}
