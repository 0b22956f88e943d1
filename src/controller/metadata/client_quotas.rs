//! Client quotas at the controller (Kafka's `ClientQuotaControlManager`): an AlterClientQuotas
//! request planned as [`MetadataRecord::SetClientQuota`] records against the (projected)
//! image, so every broker applies them from the metadata log and they survive restarts, as
//! Kafka's `ClientQuotaRecord`s do.
//!
//! Kafka's rules and words, each an INVALID_REQUEST on its entry: an empty entity, a type twice
//! in one entity, a type other than `user` and `client-id` (beyond Kafka, `ip` too: Rill
//! serves no connection-rate quota), an empty user name, the same entity twice in one request
//! (the second is refused), a key twice, a key the entity does not take, a LONG key with a
//! fractional value. Beyond Kafka: a value must be finite and at least 0, names are bounded
//! ([`CLIENT_QUOTA_NAME_BYTES_MAX`]), and a new entity past [`CLIENT_QUOTA_ENTITIES_MAX`] is
//! POLICY_VIOLATION. An entry's changes are taken whole or not at all; removing an absent key
//! and setting an unchanged value write nothing and succeed; `validate_only` writes nothing.

use std::collections::BTreeSet;

use super::image::MetadataImage;
use super::records::MetadataRecord;
use crate::limits::{CLIENT_QUOTA_ENTITIES_MAX, CLIENT_QUOTA_NAME_BYTES_MAX};
use crate::messages::quotas::{
    check_entity, EntityName, QuotaAlteration, QuotaAlterations, QuotaEntity, QuotaValue,
    CLIENT_ID, IP, QUOTA_KEYS, USER,
};
use crate::types::{ErrorCode, Refusal};

/// The records of an AlterClientQuotas request and each entry's outcome, in request order.
pub fn alter_client_quotas(
    image: &MetadataImage,
    entries: &[QuotaAlteration],
    validate_only: bool,
) -> (Vec<MetadataRecord>, QuotaAlterations) {
    let quotas = image.client_quotas();
    let mut records = Vec::new();
    let mut results = Vec::with_capacity(entries.len());
    let mut seen: BTreeSet<QuotaEntity> = BTreeSet::new();
    let mut new_entities = 0;
    for entry in entries {
        let planned = entity_of(&entry.entity).and_then(|entity| {
            if !seen.insert(entity.clone()) {
                return Err(invalid(format!("Ignoring duplicate entity {entity}")));
            }
            let changes = changes_of(&entity, &entry.ops)?;
            let mut planned = Vec::new();
            for (key, value) in changes {
                if quotas.value(&entity, &key) == value {
                    continue; // unchanged, or the removal of an absent key
                }
                planned.push(MetadataRecord::SetClientQuota {
                    entity: entity.clone(),
                    key,
                    value,
                });
            }
            let creates = !quotas.contains(&entity)
                && planned
                    .iter()
                    .any(|r| matches!(r, MetadataRecord::SetClientQuota { value: Some(_), .. }));
            if creates {
                if quotas.len() + new_entities >= CLIENT_QUOTA_ENTITIES_MAX {
                    return Err(Refusal::new(
                        ErrorCode::POLICY_VIOLATION,
                        format!(
                            "the cluster keeps at most {CLIENT_QUOTA_ENTITIES_MAX} client quota \
                             entities"
                        ),
                    ));
                }
                new_entities += 1;
            }
            Ok(planned)
        });
        match planned {
            Ok(planned) => {
                records.extend(planned);
                results.push(Ok(()));
            }
            Err(refusal) => results.push(Err(refusal)),
        }
    }
    if validate_only {
        records.clear();
    }
    (records, results)
}

fn invalid(message: String) -> Refusal {
    Refusal::new(ErrorCode::INVALID_REQUEST, message)
}

/// The entity the wire's `(type, name)` pairs name, checked as Kafka's `validateEntity`.
fn entity_of(parts: &[(String, Option<String>)]) -> Result<QuotaEntity, Refusal> {
    let mut entity = QuotaEntity {
        user: None,
        client_id: None,
    };
    for (kind, name) in parts {
        let slot = match kind.as_str() {
            USER => &mut entity.user,
            CLIENT_ID => &mut entity.client_id,
            IP => {
                return Err(invalid(
                    "Rill serves user and client-id quotas only, not ip quotas".to_string(),
                ))
            }
            other => {
                return Err(invalid(format!(
                    "Unhandled client quota entity type: {other}"
                )))
            }
        };
        if slot.is_some() {
            return Err(invalid(format!(
                "Invalid client quota entity, duplicate entity entry {kind}"
            )));
        }
        // Kafka refuses an empty name of any type (null is the default).
        if name.as_deref() == Some("") && kind == CLIENT_ID {
            return Err(invalid("Empty client-id not supported".to_string()));
        }
        *slot = Some(EntityName::from_wire(name.as_deref()));
    }
    check_entity(&entity, CLIENT_QUOTA_NAME_BYTES_MAX).map_err(invalid)?;
    Ok(entity)
}

/// The entry's key changes (`None`: remove), each key once and valid for the entity.
fn changes_of(
    entity: &QuotaEntity,
    ops: &[(String, Option<f64>)],
) -> Result<Vec<(String, Option<QuotaValue>)>, Refusal> {
    let mut keys = BTreeSet::new();
    let mut changes = Vec::with_capacity(ops.len());
    for (key, value) in ops {
        if !keys.insert(key.as_str()) {
            return Err(invalid(format!(
                "Duplicate quota key {key} not updating quota for this entity {entity}"
            )));
        }
        if !QUOTA_KEYS.contains(&key.as_str()) {
            return Err(invalid(format!("Invalid configuration key {key}")));
        }
        let value = match value {
            None => None,
            Some(v) => Some(QuotaValue::new(key, *v).map_err(invalid)?),
        };
        changes.push((key.clone(), value));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::quotas::{CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE};

    fn entry(entity: &[(&str, Option<&str>)], ops: &[(&str, Option<f64>)]) -> QuotaAlteration {
        QuotaAlteration {
            entity: (entity.iter())
                .map(|(k, n)| (k.to_string(), n.map(str::to_string)))
                .collect(),
            ops: ops.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    fn applied(records: &[MetadataRecord]) -> MetadataImage {
        let mut image = MetadataImage::default();
        assert_eq!(image.apply_entry(1, records), vec![]);
        image
    }

    fn message(result: &Result<(), Refusal>) -> (ErrorCode, String) {
        let refusal = result.clone().unwrap_err();
        (refusal.code, refusal.message)
    }

    #[test]
    fn an_alteration_is_planned_as_records_and_applies() {
        let entries = [
            entry(
                &[(USER, Some("alice"))],
                &[(PRODUCER_BYTE_RATE, Some(1024.0))],
            ),
            entry(
                &[(USER, None), (CLIENT_ID, Some("app"))],
                &[
                    (CONSUMER_BYTE_RATE, Some(2048.0)),
                    (REQUEST_PERCENTAGE, Some(12.5)),
                ],
            ),
        ];
        let (records, results) = alter_client_quotas(&MetadataImage::default(), &entries, false);
        assert_eq!(results, vec![Ok(()), Ok(())]);
        assert_eq!(records.len(), 3);
        let image = applied(&records);
        let quotas = image.client_quotas();
        assert_eq!(
            quotas
                .resolve(PRODUCER_BYTE_RATE, "alice", "x")
                .unwrap()
                .limit,
            1024.0
        );
        assert_eq!(
            quotas
                .resolve(CONSUMER_BYTE_RATE, "bob", "app")
                .unwrap()
                .limit,
            2048.0
        );
        // Unchanged values and removals of absent keys write nothing and succeed.
        let again = [entry(
            &[(USER, Some("alice"))],
            &[(PRODUCER_BYTE_RATE, Some(1024.0))],
        )];
        let (records, results) = alter_client_quotas(&image, &again, false);
        assert_eq!((records, results), (vec![], vec![Ok(())]));
        let absent = [entry(
            &[(USER, Some("carol"))],
            &[(PRODUCER_BYTE_RATE, None)],
        )];
        assert_eq!(
            alter_client_quotas(&image, &absent, false),
            (vec![], vec![Ok(())])
        );
        // Removing the last key removes the entity.
        let remove = [entry(
            &[(USER, Some("alice"))],
            &[(PRODUCER_BYTE_RATE, None)],
        )];
        let (records, results) = alter_client_quotas(&image, &remove, false);
        assert_eq!(results, vec![Ok(())]);
        let mut image = image;
        assert_eq!(image.apply_entry(2, &records), vec![]);
        assert_eq!(image.client_quotas().len(), 1);
        // validate_only plans and writes nothing.
        let (records, results) = alter_client_quotas(&image, &entries, true);
        assert_eq!((records.len(), results), (0, vec![Ok(()), Ok(())]));
    }

    #[test]
    fn bad_entries_are_refused_with_kafkas_words_and_the_others_go_ahead() {
        let image = MetadataImage::default();
        let rate = [(PRODUCER_BYTE_RATE, Some(1.0))];
        let entries = [
            entry(&[], &rate),
            entry(&[(USER, Some("a")), (USER, Some("b"))], &rate),
            entry(&[("group", Some("g"))], &rate),
            entry(&[(IP, Some("127.0.0.1"))], &rate),
            entry(&[(USER, Some(""))], &rate),
            entry(&[(CLIENT_ID, Some(""))], &rate),
            entry(&[(CLIENT_ID, Some("ok"))], &rate),
            entry(&[(CLIENT_ID, Some("ok"))], &rate),
            entry(&[(USER, Some("k"))], &[("retention.ms", Some(1.0))]),
            entry(
                &[(USER, Some("d"))],
                &[(PRODUCER_BYTE_RATE, Some(1.0)), (PRODUCER_BYTE_RATE, None)],
            ),
            entry(&[(USER, Some("l"))], &[(PRODUCER_BYTE_RATE, Some(1.5))]),
            entry(
                &[(USER, Some("n"))],
                &[(REQUEST_PERCENTAGE, Some(f64::NAN))],
            ),
            entry(&[(USER, Some("x".repeat(2000).leak()))], &rate),
        ];
        let (records, results) = alter_client_quotas(&image, &entries, false);
        let words: Vec<String> = (results.iter())
            .map(|r| match r {
                Ok(()) => "ok".to_string(),
                Err(refusal) => {
                    assert_eq!(refusal.code, ErrorCode::INVALID_REQUEST);
                    refusal.message.clone()
                }
            })
            .collect();
        assert_eq!(
            words,
            [
                "Invalid empty client quota entity",
                "Invalid client quota entity, duplicate entity entry user",
                "Unhandled client quota entity type: group",
                "Rill serves user and client-id quotas only, not ip quotas",
                "Empty user not supported",
                "Empty client-id not supported",
                "ok",
                "Ignoring duplicate entity client-id=ok",
                "Invalid configuration key retention.ms",
                "Duplicate quota key producer_byte_rate not updating quota for this entity user=d",
                "Configuration producer_byte_rate must be a Long value",
                "Configuration request_percentage must be a finite number >= 0",
                "Client quota entity names are at most 1024 bytes",
            ]
        );
        assert_eq!(records.len(), 1, "only the one good entry writes");
        assert_eq!(message(&results[0]).0, ErrorCode::INVALID_REQUEST);
    }
}
