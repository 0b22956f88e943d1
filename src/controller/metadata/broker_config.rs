//! Dynamic broker configs at the controller: Kafka's IncrementalAlterConfigs and AlterConfigs
//! of BROKER resources, planned as [`MetadataRecord::SetBrokerConfig`] records against the
//! (projected) image, so every broker applies them from the metadata log and they survive
//! restarts as Kafka's `ConfigRecord`s do.
//!
//! Only the keys Kafka sets dynamically for replication throttles (KIP-73) are admitted, and
//! `min.insync.replicas` as Kafka keeps it once eligible leader replicas (KIP-966) are on: a
//! cluster-wide default only, never removed, seeded from the first active controller's static
//! config ([`seed_min_isr`]) so that every controller reads one value and a controller
//! failover changes nothing (each node's static value would otherwise be the default in turn,
//! and an ELR kept under a smaller value can miss records committed under it). Every other
//! broker setting is static in Rill (config file and `--override`), and a key this broker
//! would not honour is refused rather than stored and ignored. A resource is named `""` (the
//! cluster-wide default) or a broker id, registered or not (Kafka keeps configs for brokers
//! that have not joined yet).

use std::collections::BTreeMap;

use super::image::MetadataImage;
use super::records::MetadataRecord;
use crate::controller::config_ops::{apply_ops_of, replacement_of};
use crate::controller::config_values::{long_at_least, whole};
use crate::controller::metadata::eligible::MIN_ISR_KEY;
use crate::messages::throttles::{FOLLOWER_RATE_KEY, LEADER_RATE_KEY, LOG_DIRS_RATE_KEY};
use crate::messages::ConfigChange;
use crate::types::{ErrorCode, NodeId, Refusal};

/// The replication throttle keys that may be set dynamically, for a broker or as the cluster
/// default (each a LONG of bytes per second, at least 0).
pub const THROTTLE_KEYS: &[&str] = &[LEADER_RATE_KEY, FOLLOWER_RATE_KEY, LOG_DIRS_RATE_KEY];

/// Every broker key that may be set dynamically: the throttles, and `min.insync.replicas` as
/// the cluster default only.
pub const DYNAMIC_BROKER_KEYS: &[&str] = &[
    LEADER_RATE_KEY,
    FOLLOWER_RATE_KEY,
    LOG_DIRS_RATE_KEY,
    MIN_ISR_KEY,
];

/// The cluster-wide `min.insync.replicas` among dynamic broker configs (by entity, `None` the
/// cluster default), if one is set.
pub fn cluster_min_isr(
    configs: &BTreeMap<Option<NodeId>, BTreeMap<String, String>>,
) -> Option<u32> {
    (configs.get(&None))
        .and_then(|configs| configs.get(MIN_ISR_KEY))
        .and_then(|value| value.trim().parse::<u32>().ok())
        .filter(|n| *n >= 1)
}

/// The record that writes the cluster-wide `min.insync.replicas` (the active controller's
/// static value) into a metadata log that has none, as Kafka's controller does on activation
/// with eligible leader replicas on; `None` once it has one.
pub fn seed_min_isr(image: &MetadataImage, static_value: u32) -> Option<MetadataRecord> {
    image
        .cluster_min_isr()
        .is_none()
        .then(|| MetadataRecord::SetBrokerConfig {
            broker: None,
            key: MIN_ISR_KEY.to_string(),
            value: Some(static_value.max(1).to_string()),
        })
}

/// The broker a BROKER resource names: `None` for `""` (the cluster-wide default).
pub fn entity(name: &str) -> Result<Option<NodeId>, Refusal> {
    if name.is_empty() {
        return Ok(None);
    }
    (name.parse::<u64>().ok())
        .filter(|id| i32::try_from(*id).is_ok())
        .map(|id| Some(NodeId(id)))
        .ok_or_else(|| {
            Refusal::new(
                ErrorCode::INVALID_REQUEST,
                format!("broker resource '{name}' is neither \"\" (the cluster default) nor a broker id"),
            )
        })
}

/// The new dynamic configs of each resource (name, change), as records, and each resource's
/// outcome in order. `validate_only` checks and plans nothing.
pub fn alter_broker_configs(
    image: &MetadataImage,
    resources: &[(String, ConfigChange)],
    validate_only: bool,
) -> (Vec<MetadataRecord>, Vec<Result<(), Refusal>>) {
    // A broker named twice: every copy is refused (Kafka's rule, as for topics), found in one
    // ordered pass whatever the count.
    let mut named: BTreeMap<Option<NodeId>, usize> = BTreeMap::new();
    for broker in resources.iter().filter_map(|(name, _)| entity(name).ok()) {
        *named.entry(broker).or_default() += 1;
    }
    let twice = |broker: &Option<NodeId>| named.get(broker).is_some_and(|n| *n > 1);
    let mut records = Vec::new();
    let mut outcomes = Vec::with_capacity(resources.len());
    for (name, change) in resources {
        let planned = plan(image, name, change, &twice);
        outcomes.push(planned.map(|changes| {
            if !validate_only {
                records.extend(changes);
            }
        }));
    }
    (records, outcomes)
}

/// One resource's records, refused as Kafka refuses it: a resource named twice in one request
/// (INVALID_REQUEST), an unknown or static key or a bad value (INVALID_CONFIG).
fn plan(
    image: &MetadataImage,
    name: &str,
    change: &ConfigChange,
    twice: &impl Fn(&Option<NodeId>) -> bool,
) -> Result<Vec<MetadataRecord>, Refusal> {
    let broker = entity(name)?;
    if twice(&broker) {
        return Err(Refusal::new(
            ErrorCode::INVALID_REQUEST,
            format!("broker resource '{name}' is named twice in one request"),
        ));
    }
    let noun = "dynamic broker config (the others are static in rill: set them in the config \
                file or with --override)";
    let empty = BTreeMap::new();
    let current = image.broker_configs(broker).unwrap_or(&empty);
    let next = match change {
        ConfigChange::Incremental(ops) => apply_ops_of(current, ops, DYNAMIC_BROKER_KEYS, noun)?,
        ConfigChange::Replace(configs) => replacement_of(configs, DYNAMIC_BROKER_KEYS, noun)?,
    };
    // Whether the request itself names min.insync.replicas (only then is it written, and the
    // ELRs cleared, as Kafka does: a throttle set on "" leaves them).
    let names_min_isr = match change {
        ConfigChange::Incremental(ops) => ops.iter().any(|(key, _, _)| key == MIN_ISR_KEY),
        ConfigChange::Replace(configs) => configs.iter().any(|(key, _)| key == MIN_ISR_KEY),
    };
    let invalid = |message: String| Refusal::new(ErrorCode::INVALID_CONFIG, message);
    for (key, value) in &next {
        match key.as_str() {
            MIN_ISR_KEY if broker.is_some() => {
                return Err(invalid(format!(
                    "{MIN_ISR_KEY} cannot be set for one broker while eligible leader replicas \
                     are on (Kafka's rule): set the cluster default (resource \"\")"
                )))
            }
            MIN_ISR_KEY => whole(key, value, 1, i32::MAX as i64).map_err(invalid)?,
            _ => long_at_least(key, value, 0).map_err(invalid)?,
        };
    }
    if current.contains_key(MIN_ISR_KEY) && !next.contains_key(MIN_ISR_KEY) {
        return Err(invalid(format!(
            "the cluster-wide {MIN_ISR_KEY} cannot be removed while eligible leader replicas \
             are on (Kafka's rule): set another value instead"
        )));
    }
    let removed = (current.keys())
        .filter(|key| !next.contains_key(*key))
        .map(|key| (key.clone(), None));
    // min.insync.replicas is written even unchanged: every write clears the eligible leader
    // replicas (`eligible::follow`), as Kafka's does.
    let set = (next.iter())
        .filter(|(key, value)| {
            current.get(*key) != Some(value) || (*key == MIN_ISR_KEY && names_min_isr)
        })
        .map(|(key, value)| (key.clone(), Some(value.trim().to_string())));
    let records = (removed.chain(set))
        .map(|(key, value)| MetadataRecord::SetBrokerConfig { broker, key, value })
        .collect();
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::config_ops::op;

    fn set(key: &str, value: &str) -> (String, i8, Option<String>) {
        (key.to_string(), op::SET, Some(value.to_string()))
    }

    fn applied(image: &mut MetadataImage, records: &[MetadataRecord]) {
        let index = image.applied_index() + 1;
        assert!(
            image.apply_entry(index, records).is_empty(),
            "every record applies"
        );
    }

    #[test]
    fn a_rate_is_set_for_a_broker_and_the_default_and_deleted_again() {
        let mut image = MetadataImage::default();
        let resources = vec![
            (
                "2".to_string(),
                ConfigChange::Incremental(vec![set(LEADER_RATE_KEY, "1000")]),
            ),
            (
                String::new(),
                ConfigChange::Incremental(vec![set(FOLLOWER_RATE_KEY, " 500 ")]),
            ),
        ];
        let (records, outcomes) = alter_broker_configs(&image, &resources, false);
        assert_eq!(outcomes, vec![Ok(()), Ok(())]);
        applied(&mut image, &records);
        let two = image.broker_configs(Some(NodeId(2))).expect("broker 2's");
        assert_eq!(two.get(LEADER_RATE_KEY).map(String::as_str), Some("1000"));
        let default = image.broker_configs(None).expect("the default's");
        assert_eq!(
            default.get(FOLLOWER_RATE_KEY).map(String::as_str),
            Some("500")
        );
        // DELETE removes the key; an entity left with none is gone from the image.
        let delete = vec![(
            "2".to_string(),
            ConfigChange::Incremental(vec![(LEADER_RATE_KEY.to_string(), op::DELETE, None)]),
        )];
        let (records, outcomes) = alter_broker_configs(&image, &delete, false);
        assert_eq!(outcomes, vec![Ok(())]);
        applied(&mut image, &records);
        assert_eq!(image.broker_configs(Some(NodeId(2))), None);
        // The legacy AlterConfigs replaces the entity's whole set.
        let replace = vec![(
            String::new(),
            ConfigChange::Replace(vec![(LEADER_RATE_KEY.to_string(), Some("7".to_string()))]),
        )];
        let (records, _) = alter_broker_configs(&image, &replace, false);
        applied(&mut image, &records);
        let default = image.broker_configs(None).expect("the default's");
        assert_eq!(
            default.iter().collect::<Vec<_>>(),
            vec![(&LEADER_RATE_KEY.to_string(), &"7".to_string())]
        );
    }

    #[test]
    fn static_keys_bad_values_bad_names_and_twice_named_resources_are_refused() {
        let image = MetadataImage::default();
        let one = |name: &str, ops| alter_broker_configs(&image, &[(name.to_string(), ops)], false);
        let code = |(records, outcomes): (Vec<MetadataRecord>, Vec<Result<(), Refusal>>)| {
            assert!(records.is_empty(), "a refusal plans nothing");
            outcomes[0].as_ref().err().map(|r| r.code)
        };
        let static_key = ConfigChange::Incremental(vec![set("log.retention.ms", "1")]);
        assert_eq!(code(one("1", static_key)), Some(ErrorCode::INVALID_CONFIG));
        let negative = ConfigChange::Incremental(vec![set(LEADER_RATE_KEY, "-1")]);
        assert_eq!(code(one("1", negative)), Some(ErrorCode::INVALID_CONFIG));
        let words = ConfigChange::Incremental(vec![set(LEADER_RATE_KEY, "fast")]);
        assert_eq!(code(one("1", words)), Some(ErrorCode::INVALID_CONFIG));
        let append = ConfigChange::Incremental(vec![(
            LEADER_RATE_KEY.to_string(),
            op::APPEND,
            Some("1".to_string()),
        )]);
        assert_eq!(code(one("1", append)), Some(ErrorCode::INVALID_REQUEST));
        let fine = || ConfigChange::Incremental(vec![set(LEADER_RATE_KEY, "1")]);
        assert_eq!(
            code(one("broker-1", fine())),
            Some(ErrorCode::INVALID_REQUEST)
        );
        assert_eq!(code(one("-1", fine())), Some(ErrorCode::INVALID_REQUEST));
        let twice = [
            ("1".to_string(), fine()),
            ("2".to_string(), fine()),
            ("01".to_string(), fine()),
        ];
        let (records, outcomes) = alter_broker_configs(&image, &twice, false);
        assert_eq!(
            records.len(),
            1,
            "broker 2's only: every copy of broker 1 is refused"
        );
        let codes: Vec<_> = outcomes
            .iter()
            .map(|o| o.as_ref().err().map(|r| r.code))
            .collect();
        let refused = Some(ErrorCode::INVALID_REQUEST);
        assert_eq!(codes, vec![refused, None, refused]);
    }

    /// Kafka's rules with eligible leader replicas on: min.insync.replicas is the cluster's
    /// (resource "") only, at least 1, never removed, and written even unchanged (each write
    /// clears the ELRs); the first controller seeds it once.
    #[test]
    fn min_insync_replicas_is_a_cluster_wide_value_only_and_never_removed() {
        let mut image = MetadataImage::default();
        let seed = seed_min_isr(&image, 2).expect("none in the log yet");
        applied(&mut image, &[seed]);
        assert_eq!(image.cluster_min_isr(), Some(2));
        assert_eq!(seed_min_isr(&image, 3), None, "seeded once");
        let one = |image: &MetadataImage, name: &str, ops| {
            alter_broker_configs(image, &[(name.to_string(), ops)], false)
        };
        let refused = |(records, outcomes): (Vec<MetadataRecord>, Vec<Result<(), Refusal>>)| {
            assert!(records.is_empty(), "a refusal plans nothing");
            outcomes[0].as_ref().err().map(|r| r.code)
        };
        let min_isr = |value: &str| ConfigChange::Incremental(vec![set(MIN_ISR_KEY, value)]);
        let invalid = Some(ErrorCode::INVALID_CONFIG);
        assert_eq!(
            refused(one(&image, "1", min_isr("2"))),
            invalid,
            "per broker"
        );
        assert_eq!(refused(one(&image, "", min_isr("0"))), invalid);
        assert_eq!(refused(one(&image, "", min_isr("two"))), invalid);
        let delete = ConfigChange::Incremental(vec![(MIN_ISR_KEY.to_string(), op::DELETE, None)]);
        assert_eq!(refused(one(&image, "", delete)), invalid, "removed");
        let replace = ConfigChange::Replace(vec![(LEADER_RATE_KEY.to_string(), Some("1".into()))]);
        assert_eq!(refused(one(&image, "", replace)), invalid, "replaced away");
        let (records, outcomes) = one(&image, "", min_isr("2"));
        assert_eq!(outcomes, vec![Ok(())]);
        assert_eq!(records.len(), 1, "unchanged, written all the same");
        let (records, _) = one(&image, "", min_isr("3"));
        applied(&mut image, &records);
        assert_eq!(image.cluster_min_isr(), Some(3));
        // A throttle set on "" leaves it alone (no write, so no ELR cleared).
        let throttle = ConfigChange::Incremental(vec![set(LEADER_RATE_KEY, "100")]);
        let (records, outcomes) = one(&image, "", throttle);
        assert_eq!(outcomes, vec![Ok(())]);
        assert_eq!(
            records,
            vec![MetadataRecord::SetBrokerConfig {
                broker: None,
                key: LEADER_RATE_KEY.to_string(),
                value: Some("100".to_string())
            }]
        );
    }

    #[test]
    fn validate_only_checks_and_plans_nothing() {
        let image = MetadataImage::default();
        let resources = [(
            "3".to_string(),
            ConfigChange::Incremental(vec![set(LEADER_RATE_KEY, "10")]),
        )];
        let (records, outcomes) = alter_broker_configs(&image, &resources, true);
        assert_eq!((records, outcomes), (Vec::new(), vec![Ok(())]));
    }
}
