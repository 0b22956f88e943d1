//! Client quotas (issue 16, Kafka's KIP-55 and KIP-546): what the metadata log holds of them,
//! how the gateway resolves the quota that applies to a request, and the change
//! AlterClientQuotas asks of the controller quorum's leader
//! ([`super::quorum::LeaderRequest::AlterClientQuotas`]).
//!
//! The entities are Kafka's: a user (the principal's name), a client id (the request header's),
//! or both, each named or the default. The most specific entity setting a key wins, in Kafka's
//! eight levels ([`ClientQuotas::resolve`]); the level decides who shares the quota (Kafka's
//! metric tags): a named user's quota is shared by all its clients, a default one gives each
//! user its own. The node's metadata voter publishes the quotas it applies
//! ([`PublishedQuotas`]) before it answers the change, as it does the ACLs, and the gateway
//! reads them without asking an actor. Quotas are per broker, as in Kafka.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::types::{ErrorCode, Refusal};

/// Kafka's `producer_byte_rate`: bytes of Produce requests per second (a LONG).
pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
/// Kafka's `consumer_byte_rate`: bytes of Fetch responses per second (a LONG).
pub const CONSUMER_BYTE_RATE: &str = "consumer_byte_rate";
/// Kafka's `request_percentage`: the share of one request-handling thread (a DOUBLE).
pub const REQUEST_PERCENTAGE: &str = "request_percentage";
/// Kafka's `controller_mutation_rate` (KIP-599): stored and described, not enforced by Rill.
pub const CONTROLLER_MUTATION_RATE: &str = "controller_mutation_rate";

/// The keys a user or client-id entity takes (Kafka's `isClientOrUserQuotaConfig`).
pub const QUOTA_KEYS: [&str; 4] = [
    PRODUCER_BYTE_RATE,
    CONSUMER_BYTE_RATE,
    REQUEST_PERCENTAGE,
    CONTROLLER_MUTATION_RATE,
];

/// Kafka's entity type names, as the wire carries them.
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

/// Whether `key` is a LONG in Kafka (its value must be integral).
pub fn is_long_key(key: &str) -> bool {
    key == PRODUCER_BYTE_RATE || key == CONSUMER_BYTE_RATE
}

/// One part of an entity: named, or the default (the wire's null name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntityName {
    Default,
    Named(String),
}

impl EntityName {
    /// The wire's form: `None` for the default.
    pub fn as_wire(&self) -> Option<&str> {
        match self {
            EntityName::Default => None,
            EntityName::Named(name) => Some(name),
        }
    }

    pub fn from_wire(name: Option<&str>) -> Self {
        match name {
            None => EntityName::Default,
            Some(name) => EntityName::Named(name.to_string()),
        }
    }

    fn len(&self) -> usize {
        self.as_wire().map_or(0, str::len)
    }
}

/// A quota entity (Kafka's `ClientQuotaEntity` restricted to what Rill serves): a user, a
/// client id, or both. At least one is set.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QuotaEntity {
    pub user: Option<EntityName>,
    pub client_id: Option<EntityName>,
}

impl QuotaEntity {
    /// The entity as the wire lists it: `(type, name)` pairs, user first.
    pub fn parts(&self) -> Vec<(&'static str, Option<&str>)> {
        let user = self.user.as_ref().map(|n| (USER, n.as_wire()));
        let client = self.client_id.as_ref().map(|n| (CLIENT_ID, n.as_wire()));
        user.into_iter().chain(client).collect()
    }

    /// The bytes its names take (bounded by [`crate::limits::CLIENT_QUOTA_NAME_BYTES_MAX`]
    /// each).
    fn longest_name(&self) -> usize {
        let user = self.user.as_ref().map_or(0, EntityName::len);
        let client = self.client_id.as_ref().map_or(0, EntityName::len);
        user.max(client)
    }
}

impl std::fmt::Display for QuotaEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = (self.parts().into_iter())
            .map(|(kind, name)| format!("{kind}={}", name.unwrap_or("<default>")))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// A quota's value: finite and at least 0 (checked by [`check_value`]). Ordered and compared
/// by bits (`total_cmp`) so records holding one can be `Eq`; −0.0 is stored as 0.0.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct QuotaValue(f64);

impl QuotaValue {
    /// `value` if [`check_value`] admits it for `key`.
    pub fn new(key: &str, value: f64) -> Result<Self, String> {
        check_value(key, value)?;
        Ok(QuotaValue(if value == 0.0 { 0.0 } else { value }))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for QuotaValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for QuotaValue {}
impl PartialOrd for QuotaValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for QuotaValue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Whether `value` may be `key`'s: Kafka's rule (a LONG key takes an integral value, within
/// 1e-6) and, beyond Kafka, finite and at least 0 (Kafka computes meaningless throttles for
/// NaN, infinities and negatives).
pub fn check_value(key: &str, value: f64) -> Result<(), String> {
    if !value.is_finite() || value < 0.0 {
        return Err(format!("Configuration {key} must be a finite number >= 0"));
    }
    if is_long_key(key) && ((value - value.round()).abs() > 1e-6 || value > i64::MAX as f64) {
        return Err(format!("Configuration {key} must be a Long value"));
    }
    Ok(())
}

/// What [`ClientQuotas::resolve`] found: the quota and who shares it (Kafka's metric tags:
/// `user` and `client_id` are `""` where the level does not split by them).
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub user_tag: String,
    pub client_tag: String,
    /// Per second: bytes for the byte rates, percent of one thread for the request quota.
    pub limit: f64,
}

/// One component of a DescribeClientQuotas filter (Kafka's `ClientQuotaFilterComponent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchName {
    /// Match type 0: this name.
    Exact(String),
    /// Match type 1: the default.
    Default,
    /// Match type 2: any entity having the type, defaults included.
    Any,
}

/// Every client quota the metadata holds: each entity's keys and values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientQuotas {
    entities: BTreeMap<QuotaEntity, BTreeMap<String, QuotaValue>>,
}

/// Shared between the image, the topics actor's view and the gateway, as the ACLs are.
pub type SharedClientQuotas = Arc<ClientQuotas>;

impl ClientQuotas {
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// How many entities have a quota.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&QuotaEntity, &BTreeMap<String, QuotaValue>)> {
        self.entities.iter()
    }

    pub fn contains(&self, entity: &QuotaEntity) -> bool {
        self.entities.contains_key(entity)
    }

    pub fn get(&self, entity: &QuotaEntity, key: &str) -> Option<f64> {
        self.value(entity, key).map(QuotaValue::get)
    }

    pub fn value(&self, entity: &QuotaEntity, key: &str) -> Option<QuotaValue> {
        self.entities.get(entity)?.get(key).copied()
    }

    /// Sets `entity`'s `key` (`None`: removes it, and the entity with its last key). Whether
    /// anything changed.
    pub fn set(&mut self, entity: &QuotaEntity, key: &str, value: Option<QuotaValue>) -> bool {
        match value {
            Some(value) => {
                let keys = self.entities.entry(entity.clone()).or_default();
                keys.insert(key.to_string(), value) != Some(value)
            }
            None => {
                let Some(keys) = self.entities.get_mut(entity) else {
                    return false;
                };
                let removed = keys.remove(key).is_some();
                if keys.is_empty() {
                    self.entities.remove(entity);
                }
                removed
            }
        }
    }

    /// The quota `key` that applies to requests of `user` (the principal's name) with
    /// `client_id`, and who shares it: the most specific entity setting the key, in Kafka's
    /// order (`ClientQuotaManager`): user+client, user+default client, user, default
    /// user+client, default user+default client, default user, client, default client.
    pub fn resolve(&self, key: &str, user: &str, client_id: &str) -> Option<Resolved> {
        if self.entities.is_empty() {
            return None;
        }
        use EntityName::{Default, Named};
        let named_user = || Some(Named(user.to_string()));
        let named_client = || Some(Named(client_id.to_string()));
        // (entity, whether the level splits by user, by client id)
        let levels: [(Option<EntityName>, Option<EntityName>, bool, bool); 8] = [
            (named_user(), named_client(), true, true),
            (named_user(), Some(Default), true, true),
            (named_user(), None, true, false),
            (Some(Default), named_client(), true, true),
            (Some(Default), Some(Default), true, true),
            (Some(Default), None, true, false),
            (None, named_client(), false, true),
            (None, Some(Default), false, true),
        ];
        for (u, c, by_user, by_client) in levels {
            let entity = QuotaEntity {
                user: u,
                client_id: c,
            };
            if let Some(limit) = self.get(&entity, key) {
                return Some(Resolved {
                    user_tag: if by_user {
                        user.to_string()
                    } else {
                        String::new()
                    },
                    client_tag: if by_client {
                        client_id.to_string()
                    } else {
                        String::new()
                    },
                    limit,
                });
            }
        }
        None
    }

    /// Kafka's DescribeClientQuotas (`ClientQuotasImage.describe`): the entities `filter`
    /// matches, with all their keys. Components are `(entity type, match)`; `strict` keeps
    /// only entities with no type outside the filter.
    pub fn describe(
        &self,
        filter: &[(String, MatchName)],
        strict: bool,
    ) -> Result<Vec<(QuotaEntity, BTreeMap<String, f64>)>, Refusal> {
        let invalid = |m: String| Refusal::new(ErrorCode::INVALID_REQUEST, m);
        let mut user: Option<&MatchName> = None;
        let mut client: Option<&MatchName> = None;
        let mut ip = false;
        for (kind, matching) in filter {
            let slot = match kind.as_str() {
                "" => return Err(invalid("Invalid empty entity type.".to_string())),
                USER => &mut user,
                CLIENT_ID => &mut client,
                IP => {
                    if ip {
                        return Err(invalid(format!(
                            "Entity type {kind} cannot appear more than once in the filter."
                        )));
                    }
                    ip = true;
                    continue;
                }
                other => {
                    return Err(Refusal::new(
                        ErrorCode::UNSUPPORTED_VERSION,
                        format!("Custom entity type {other} not supported"),
                    ))
                }
            };
            if slot.is_some() {
                return Err(invalid(format!(
                    "Entity type {kind} cannot appear more than once in the filter."
                )));
            }
            *slot = Some(matching);
        }
        if ip && (user.is_some() || client.is_some()) {
            return Err(invalid(
                "Invalid entity filter component combination. IP filter component should not \
                 be used with user or clientId filter component."
                    .to_string(),
            ));
        }
        if ip || (filter.is_empty() && strict) {
            // Rill stores no ip quota.
            return Ok(Vec::new());
        }
        let matches = |part: &Option<EntityName>, want: Option<&MatchName>| match want {
            None => !strict || part.is_none(),
            Some(MatchName::Any) => part.is_some(),
            Some(MatchName::Default) => part == &Some(EntityName::Default),
            Some(MatchName::Exact(name)) => {
                matches!(part, Some(EntityName::Named(n)) if n == name)
            }
        };
        Ok((self.entities.iter())
            .filter(|(e, _)| matches(&e.user, user) && matches(&e.client_id, client))
            .map(|(e, keys)| {
                let values = keys.iter().map(|(k, v)| (k.clone(), v.get())).collect();
                (e.clone(), values)
            })
            .collect())
    }

    /// The invariants [`crate::controller::metadata`] keeps: at most `max_entities`, none
    /// empty, names within `max_name_bytes`, every key one of [`QUOTA_KEYS`] with a value
    /// [`check_value`] admits.
    pub fn check(&self, max_entities: usize, max_name_bytes: usize) -> Result<(), String> {
        if self.entities.len() > max_entities {
            return Err(format!("{} client quota entities", self.entities.len()));
        }
        for (entity, keys) in &self.entities {
            check_entity(entity, max_name_bytes)?;
            if keys.is_empty() {
                return Err(format!("client quota entity {entity} without a key"));
            }
            for (key, value) in keys {
                if !QUOTA_KEYS.contains(&key.as_str()) {
                    return Err(format!("client quota entity {entity}: key {key}"));
                }
                check_value(key, value.get()).map_err(|e| format!("{entity}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// Whether `entity` is one the image may hold: a user, a client id or both; names not empty
/// and within `max_name_bytes`.
pub fn check_entity(entity: &QuotaEntity, max_name_bytes: usize) -> Result<(), String> {
    if entity.user.is_none() && entity.client_id.is_none() {
        return Err("Invalid empty client quota entity".to_string());
    }
    if entity.user == Some(EntityName::Named(String::new())) {
        return Err("Empty user not supported".to_string());
    }
    if entity.longest_name() > max_name_bytes {
        return Err(format!(
            "Client quota entity names are at most {max_name_bytes} bytes"
        ));
    }
    Ok(())
}

/// One entry of an AlterClientQuotas request: an entity and its key changes (`None`: remove).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuotaAlteration {
    /// The entity as the wire gave it: `(type, name)` pairs (checked by the controller).
    pub entity: Vec<(String, Option<String>)>,
    /// The values as asked (NaN included: the controller refuses it).
    pub ops: Vec<(String, Option<f64>)>,
}

/// Equal when the entity is and every value has the same bits (so a request is equal to
/// itself even with a NaN: the messages it travels in are `Eq`).
impl PartialEq for QuotaAlteration {
    fn eq(&self, other: &Self) -> bool {
        let bits = |ops: &[(String, Option<f64>)]| -> Vec<(String, Option<u64>)> {
            ops.iter()
                .map(|(k, v)| (k.clone(), v.map(f64::to_bits)))
                .collect()
        };
        self.entity == other.entity && bits(&self.ops) == bits(&other.ops)
    }
}
impl Eq for QuotaAlteration {}

/// Asks the controller to alter client quotas
/// ([`super::quorum::LeaderRequest::AlterClientQuotas`]), through this node's voter.
#[derive(Clone, Debug)]
pub struct AlterClientQuotasArgs {
    pub entries: Vec<QuotaAlteration>,
    pub validate_only: bool,
}

/// Each AlterClientQuotas entry's outcome, in request order.
pub type QuotaAlterations = Vec<Result<(), Refusal>>;

/// The client quotas as this node last applied them: published by the node's metadata voter
/// as it applies them (before it answers the AlterClientQuotas that changed them), read by the
/// gateway for every request a quota may apply to and for DescribeClientQuotas. Deterministic
/// under the simulator as [`super::acls::PublishedAcls`] is.
pub type PublishedQuotas = super::acls::Published<ClientQuotas>;

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(user: Option<Option<&str>>, client: Option<Option<&str>>) -> QuotaEntity {
        QuotaEntity {
            user: user.map(EntityName::from_wire),
            client_id: client.map(EntityName::from_wire),
        }
    }

    fn set(quotas: &mut ClientQuotas, e: &QuotaEntity, key: &str, value: f64) {
        quotas.set(e, key, Some(QuotaValue::new(key, value).unwrap()));
    }

    #[test]
    fn the_most_specific_entity_wins_per_key_as_kafka_orders_them() {
        let mut q = ClientQuotas::default();
        let levels = [
            entity(Some(Some("alice")), Some(Some("app"))),
            entity(Some(Some("alice")), Some(None)),
            entity(Some(Some("alice")), None),
            entity(Some(None), Some(Some("app"))),
            entity(Some(None), Some(None)),
            entity(Some(None), None),
            entity(None, Some(Some("app"))),
            entity(None, Some(None)),
        ];
        for (i, e) in levels.iter().enumerate() {
            set(&mut q, e, PRODUCER_BYTE_RATE, (i + 1) as f64);
        }
        // Remove from the most specific down: each time the next level answers.
        for (i, e) in levels.iter().enumerate() {
            let got = q.resolve(PRODUCER_BYTE_RATE, "alice", "app").unwrap();
            assert_eq!(got.limit, (i + 1) as f64, "level {}", i + 1);
            let tags = (got.user_tag.as_str(), got.client_tag.as_str());
            let want = match i {
                2 | 5 => ("alice", ""),
                6 | 7 => ("", "app"),
                _ => ("alice", "app"),
            };
            assert_eq!(tags, want, "level {}", i + 1);
            assert!(q.set(e, PRODUCER_BYTE_RATE, None));
        }
        assert!(q.is_empty());
        assert_eq!(q.resolve(PRODUCER_BYTE_RATE, "alice", "app"), None);
    }

    #[test]
    fn each_key_resolves_on_its_own() {
        let mut q = ClientQuotas::default();
        set(
            &mut q,
            &entity(Some(Some("alice")), None),
            PRODUCER_BYTE_RATE,
            100.0,
        );
        set(
            &mut q,
            &entity(None, Some(Some("app"))),
            CONSUMER_BYTE_RATE,
            200.0,
        );
        let produce = q.resolve(PRODUCER_BYTE_RATE, "alice", "app").unwrap();
        let fetch = q.resolve(CONSUMER_BYTE_RATE, "alice", "app").unwrap();
        assert_eq!((produce.limit, produce.user_tag.as_str()), (100.0, "alice"));
        assert_eq!((fetch.limit, fetch.client_tag.as_str()), (200.0, "app"));
        assert_eq!(q.resolve(REQUEST_PERCENTAGE, "alice", "app"), None);
        assert_eq!(q.resolve(PRODUCER_BYTE_RATE, "bob", "app"), None);
    }

    #[test]
    fn values_must_be_finite_non_negative_and_integral_for_byte_rates() {
        assert!(QuotaValue::new(PRODUCER_BYTE_RATE, 1024.0).is_ok());
        assert!(QuotaValue::new(REQUEST_PERCENTAGE, 0.5).is_ok());
        let err = QuotaValue::new(PRODUCER_BYTE_RATE, 0.5).unwrap_err();
        assert_eq!(err, "Configuration producer_byte_rate must be a Long value");
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            assert!(QuotaValue::new(REQUEST_PERCENTAGE, bad).is_err(), "{bad}");
        }
        assert_eq!(
            QuotaValue::new(REQUEST_PERCENTAGE, -0.0)
                .unwrap()
                .get()
                .to_bits(),
            0
        );
    }

    #[test]
    fn describe_matches_as_kafka_and_refuses_bad_filters() {
        let mut q = ClientQuotas::default();
        let alice_app = entity(Some(Some("alice")), Some(Some("app")));
        let alice = entity(Some(Some("alice")), None);
        let default_user = entity(Some(None), None);
        let app = entity(None, Some(Some("app")));
        for e in [&alice_app, &alice, &default_user, &app] {
            set(&mut q, e, PRODUCER_BYTE_RATE, 1.0);
        }
        let names = |f: &[(&str, MatchName)], strict: bool| -> Vec<QuotaEntity> {
            let f: Vec<(String, MatchName)> =
                f.iter().map(|(k, m)| (k.to_string(), m.clone())).collect();
            q.describe(&f, strict)
                .unwrap()
                .into_iter()
                .map(|(e, _)| e)
                .collect()
        };
        let exact = |n: &str| MatchName::Exact(n.to_string());
        assert_eq!(
            names(&[(USER, exact("alice"))], false),
            [alice.clone(), alice_app.clone()]
        );
        assert_eq!(names(&[(USER, exact("alice"))], true), [alice.clone()]);
        assert_eq!(
            names(&[(USER, MatchName::Default)], true),
            [default_user.clone()]
        );
        assert_eq!(names(&[(USER, MatchName::Any)], true).len(), 2);
        assert_eq!(names(&[(CLIENT_ID, MatchName::Any)], false).len(), 2);
        assert_eq!(names(&[], false).len(), 4);
        assert!(names(&[], true).is_empty());
        assert!(names(&[(IP, MatchName::Any)], false).is_empty());
        let refused = |f: &[(&str, MatchName)]| {
            let f: Vec<(String, MatchName)> =
                f.iter().map(|(k, m)| (k.to_string(), m.clone())).collect();
            q.describe(&f, false).unwrap_err().code
        };
        assert_eq!(refused(&[("", MatchName::Any)]), ErrorCode::INVALID_REQUEST);
        assert_eq!(
            refused(&[(USER, MatchName::Any), (USER, MatchName::Default)]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            refused(&[(IP, MatchName::Any), (USER, MatchName::Any)]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            refused(&[("group", MatchName::Any)]),
            ErrorCode::UNSUPPORTED_VERSION
        );
    }

    #[test]
    fn check_finds_what_the_image_may_not_hold() {
        let mut q = ClientQuotas::default();
        set(
            &mut q,
            &entity(Some(Some("alice")), None),
            PRODUCER_BYTE_RATE,
            1.0,
        );
        assert_eq!(q.check(10, 16), Ok(()));
        assert!(q.check(0, 16).is_err());
        set(
            &mut q,
            &entity(Some(Some("a-very-long-user-name")), None),
            PRODUCER_BYTE_RATE,
            1.0,
        );
        assert!(q.check(10, 16).is_err());
        assert!(check_entity(&entity(None, None), 16).is_err());
        assert!(check_entity(&entity(Some(Some("")), None), 16).is_err());
        assert!(check_entity(&entity(None, Some(Some(""))), 16).is_ok());
    }
}
