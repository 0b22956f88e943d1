//! Topic config changes (IncrementalAlterConfigs and the legacy AlterConfigs) as pure
//! functions: the complete new override map from the current one and the requested
//! operations. The topics actor applies them to a topic's overrides as they are when the
//! request runs, so two alterations of one topic never lose each other's changes. Values are
//! checked afterwards ([`super::topic_config::resolve`]).

use std::collections::BTreeMap;

use super::topic_config::list_default;
use super::topics::TOPIC_CONFIG_KEYS;
use crate::types::{ErrorCode, Refusal};

/// IncrementalAlterConfigs operations (`AlterConfigOp.OpType`).
pub mod op {
    pub const SET: i8 = 0;
    pub const DELETE: i8 = 1;
    pub const APPEND: i8 = 2;
    pub const SUBTRACT: i8 = 3;
}

/// One requested change: key, operation, value.
pub type ConfigOp = (String, i8, Option<String>);

/// The override map after applying `ops` to `current`, Kafka's checks first: a key twice or an
/// unknown operation is INVALID_REQUEST, an unknown key INVALID_CONFIG, SET needs a value, and
/// APPEND/SUBTRACT only apply to list keys (`cleanup.policy`), starting from the effective
/// value when the topic does not override it. Values are not checked here.
pub fn apply_ops(
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
) -> Result<BTreeMap<String, String>, Refusal> {
    apply_ops_of(current, ops, TOPIC_CONFIG_KEYS, "topic config")
}

/// [`apply_ops`] over the keys `known` (what an unknown key is called in the refusal: `noun`).
/// Only the topic keys [`list_default`] names are lists.
pub fn apply_ops_of(
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
    known: &[&str],
    noun: &str,
) -> Result<BTreeMap<String, String>, Refusal> {
    for (i, (key, _, _)) in ops.iter().enumerate() {
        if ops[..i].iter().any(|(k, _, _)| k == key) {
            return Err(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                format!("config '{key}' appears twice in one resource"),
            ));
        }
    }
    let mut next = current.clone();
    for (key, operation, value) in ops {
        if !known.contains(&key.as_str()) {
            return Err(Refusal::new(
                ErrorCode::INVALID_CONFIG,
                format!("unknown {noun} '{key}'"),
            ));
        }
        let list_op = |name: &str| {
            if list_default(key).is_some() {
                Ok(())
            } else {
                Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("config '{key}' is not a list: {name} is not allowed"),
                ))
            }
        };
        let effective = || {
            current
                .get(key)
                .cloned()
                .or_else(|| list_default(key).map(str::to_string))
                .unwrap_or_default()
        };
        match *operation {
            op::SET => match value {
                Some(value) => {
                    next.insert(key.clone(), value.clone());
                }
                None => {
                    return Err(Refusal::new(
                        ErrorCode::INVALID_REQUEST,
                        format!("SET of config '{key}' needs a value"),
                    ))
                }
            },
            op::DELETE => {
                next.remove(key);
            }
            op::APPEND => {
                list_op("APPEND")?;
                let mut items = list_items(&effective());
                for item in list_items(value.as_deref().unwrap_or("")) {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                next.insert(key.clone(), items.join(","));
            }
            op::SUBTRACT => {
                list_op("SUBTRACT")?;
                let remove = list_items(value.as_deref().unwrap_or(""));
                let items: Vec<String> = list_items(&effective())
                    .into_iter()
                    .filter(|item| !remove.contains(item))
                    .collect();
                next.insert(key.clone(), items.join(","));
            }
            other => {
                return Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("unknown config operation {other} for '{key}'"),
                ))
            }
        }
    }
    Ok(next)
}

fn list_items(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The legacy AlterConfigs replaces all overrides; a null value means "not set".
pub fn replacement(
    configs: &[(String, Option<String>)],
) -> Result<BTreeMap<String, String>, Refusal> {
    replacement_of(configs, TOPIC_CONFIG_KEYS, "topic config")
}

/// [`replacement`] over the keys `known`, as [`apply_ops_of`].
pub fn replacement_of(
    configs: &[(String, Option<String>)],
    known: &[&str],
    noun: &str,
) -> Result<BTreeMap<String, String>, Refusal> {
    let ops: Vec<ConfigOp> = configs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), op::SET, Some(v))))
        .collect();
    apply_ops_of(&BTreeMap::new(), &ops, known, noun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn set(key: &str, value: &str) -> ConfigOp {
        (key.into(), op::SET, Some(value.into()))
    }

    #[test]
    fn set_and_delete_edit_the_override_map() {
        let current = map(&[("retention.ms", "1"), ("segment.ms", "2")]);
        let ops = [
            set("retention.ms", "10"),
            ("segment.ms".into(), op::DELETE, None),
            ("flush.ms".into(), op::DELETE, None),
            set("segment.bytes", "1048576"),
        ];
        let next = apply_ops(&current, &ops).unwrap();
        assert_eq!(
            next,
            map(&[("retention.ms", "10"), ("segment.bytes", "1048576")])
        );
    }

    #[test]
    fn kafka_checks_come_with_their_codes() {
        let none = BTreeMap::new();
        let code = |ops: &[ConfigOp]| apply_ops(&none, ops).unwrap_err().code;
        assert_eq!(code(&[set("a.b", "1")]), ErrorCode::INVALID_CONFIG);
        assert_eq!(
            code(&[set("retention.ms", "1"), set("retention.ms", "2")]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), op::SET, None)]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), op::APPEND, Some("1".into()))]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), op::SUBTRACT, Some("1".into()))]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), 9, Some("1".into()))]),
            ErrorCode::INVALID_REQUEST
        );
        let err = apply_ops(&none, &[set("nope", "1")]).unwrap_err();
        assert!(err.message.contains("'nope'"), "{}", err.message);
    }

    #[test]
    fn append_and_subtract_work_on_the_list_key_from_its_effective_value() {
        let appended = apply_ops(
            &BTreeMap::new(),
            &[(
                "cleanup.policy".into(),
                op::APPEND,
                Some("compact,delete".into()),
            )],
        )
        .unwrap();
        assert_eq!(appended, map(&[("cleanup.policy", "delete,compact")]));
        let subtracted = apply_ops(
            &appended,
            &[("cleanup.policy".into(), op::SUBTRACT, Some("delete".into()))],
        )
        .unwrap();
        assert_eq!(subtracted, map(&[("cleanup.policy", "compact")]));
    }

    #[test]
    fn throttled_replica_lists_take_append_and_subtract_from_empty() {
        let key = "leader.replication.throttled.replicas";
        let appended = apply_ops(
            &BTreeMap::new(),
            &[(key.into(), op::APPEND, Some("0:1,1:1".into()))],
        )
        .unwrap();
        assert_eq!(appended, map(&[(key, "0:1,1:1")]));
        let subtracted =
            apply_ops(&appended, &[(key.into(), op::SUBTRACT, Some("0:1".into()))]).unwrap();
        assert_eq!(subtracted, map(&[(key, "1:1")]));
        // Not a list: APPEND is refused, SET of a stored-only key is an ordinary edit.
        assert_eq!(
            apply_ops(
                &BTreeMap::new(),
                &[("delete.retention.ms".into(), op::APPEND, Some("1".into()))]
            )
            .unwrap_err()
            .code,
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            apply_ops(&BTreeMap::new(), &[set("delete.retention.ms", "900")]).unwrap(),
            map(&[("delete.retention.ms", "900")])
        );
    }

    #[test]
    fn legacy_alter_replaces_everything_and_skips_nulls() {
        let next = replacement(&[
            ("retention.ms".into(), Some("5".into())),
            ("segment.ms".into(), None),
        ])
        .unwrap();
        assert_eq!(next, map(&[("retention.ms", "5")]));
        assert_eq!(
            replacement(&[("x".into(), Some("1".into()))])
                .unwrap_err()
                .code,
            ErrorCode::INVALID_CONFIG
        );
    }
}
