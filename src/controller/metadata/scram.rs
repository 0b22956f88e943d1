//! SCRAM credentials at the controller (Kafka's `ScramControlManager`): an
//! AlterUserScramCredentials request planned as [`MetadataRecord::SetScramCredential`]
//! records against the (projected) image, so every broker applies them from the metadata log
//! and they survive restarts, as Kafka's `UserScramCredentialRecord`s do.
//!
//! Kafka's rules, in Kafka's order: the deletions are taken first, then the upsertions; a user
//! named twice in one request (whatever the mechanisms, in KRaft) is DUPLICATE_RESOURCE for
//! all of its changes, and a user's first refusal stands (its later changes are not looked
//! at). A user gets one result. Beyond Kafka, the bounds of [`crate::limits`]: a user name or
//! salt past its length is UNACCEPTABLE_CREDENTIAL, a salted password that is not the
//! mechanism's hash length (so not `Hi()`'s output: no login could match it) too, and a new
//! user past [`SCRAM_USERS_MAX`] is POLICY_VIOLATION.

use std::collections::BTreeMap;

use super::image::MetadataImage;
use super::records::MetadataRecord;
use crate::limits::{SCRAM_SALT_BYTES_MAX, SCRAM_USERS_MAX, SCRAM_USER_NAME_BYTES_MAX};
use crate::messages::scram::{ScramCredential, ScramDeletion, ScramMechanism, ScramUpsertion};
use crate::types::{ErrorCode, Refusal};

/// Kafka's words for a user named twice in one request.
pub const ALTERED_TWICE: &str = "A user credential cannot be altered twice in the same request";

/// Whether the image may keep `credential` as `user`'s for `mechanism`: what apply and a
/// snapshot load check ([`MetadataImage::check`]); the controller refuses anything else
/// before proposing it.
pub fn check_credential(
    user: &str,
    mechanism: ScramMechanism,
    credential: &ScramCredential,
) -> Result<(), &'static str> {
    if user.is_empty() {
        return Err("an empty user name");
    }
    if user.len() > SCRAM_USER_NAME_BYTES_MAX {
        return Err("a user name past its length bound");
    }
    let iterations = ScramMechanism::ITERATIONS_MIN..=ScramMechanism::ITERATIONS_MAX;
    if !iterations.contains(&credential.iterations) {
        return Err("an iteration count out of Kafka's range");
    }
    if credential.salt.len() > SCRAM_SALT_BYTES_MAX {
        return Err("a salt past its length bound");
    }
    let keys = mechanism.hash_bytes();
    if credential.stored_key.len() != keys || credential.server_key.len() != keys {
        return Err("keys that are not the mechanism's hash length");
    }
    Ok(())
}

/// What the request asks of one user, once its first change is taken.
enum Change<'r> {
    Delete(ScramMechanism),
    Upsert(ScramMechanism, &'r ScramUpsertion),
    Refused(Refusal),
}

/// The records of an AlterUserScramCredentials request (deletions, then upsertions, as Kafka
/// writes them) and each named user's outcome, in the order the users first appear.
pub fn alter_credentials(
    image: &MetadataImage,
    deletions: &[ScramDeletion],
    upsertions: &[ScramUpsertion],
) -> (Vec<MetadataRecord>, Vec<(String, Result<(), Refusal>)>) {
    let mut order: Vec<&str> = Vec::new();
    let mut changes: BTreeMap<&str, Change> = BTreeMap::new();
    for deletion in deletions {
        take(
            &mut order,
            &mut changes,
            &deletion.name,
            || match validate_deletion(image, deletion) {
                Ok(mechanism) => Change::Delete(mechanism),
                Err(refusal) => Change::Refused(refusal),
            },
        );
    }
    for upsertion in upsertions {
        take(
            &mut order,
            &mut changes,
            &upsertion.name,
            || match validate_upsertion(upsertion) {
                Ok(mechanism) => Change::Upsert(mechanism, upsertion),
                Err(refusal) => Change::Refused(refusal),
            },
        );
    }
    bound_users(image, &mut changes);
    let mut records = Vec::new();
    for (name, change) in &changes {
        if let Change::Delete(mechanism) = change {
            records.push(MetadataRecord::SetScramCredential {
                user: name.to_string(),
                mechanism: *mechanism,
                credential: None,
            });
        }
    }
    for (name, change) in &changes {
        if let Change::Upsert(mechanism, upsertion) = change {
            let iterations = u32::try_from(upsertion.iterations).expect("validated in range");
            let credential = ScramCredential::from_salted_password(
                *mechanism,
                &upsertion.salt,
                &upsertion.salted_password,
                iterations,
            );
            records.push(MetadataRecord::SetScramCredential {
                user: name.to_string(),
                mechanism: *mechanism,
                credential: Some(credential),
            });
        }
    }
    let results = (order.into_iter())
        .map(|name| {
            let result = match &changes[name] {
                Change::Refused(refusal) => Err(refusal.clone()),
                Change::Delete(_) | Change::Upsert(..) => Ok(()),
            };
            (name.to_string(), result)
        })
        .collect();
    (records, results)
}

/// Takes the change of a user: `first` (validated) when it is the user's first, a
/// duplicate when it is not, nothing when the user is already refused.
fn take<'r>(
    order: &mut Vec<&'r str>,
    changes: &mut BTreeMap<&'r str, Change<'r>>,
    name: &'r str,
    first: impl FnOnce() -> Change<'r>,
) {
    match changes.get(name) {
        Some(Change::Refused(_)) => {}
        Some(_) => {
            let twice = Refusal::new(ErrorCode::DUPLICATE_RESOURCE, ALTERED_TWICE);
            changes.insert(name, Change::Refused(twice));
        }
        None => {
            order.push(name);
            changes.insert(name, first());
        }
    }
}

/// Kafka's `validateScramUsernameAndMechanism`, and Rill's name bound.
fn validate_name_and_mechanism(name: &str, mechanism: i8) -> Result<ScramMechanism, Refusal> {
    if name.is_empty() {
        return Err(Refusal::new(
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            "Username must not be empty",
        ));
    }
    if name.len() > SCRAM_USER_NAME_BYTES_MAX {
        return Err(Refusal::new(
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            format!(
                "Username is {} bytes, more than the {SCRAM_USER_NAME_BYTES_MAX} rill keeps",
                name.len()
            ),
        ));
    }
    ScramMechanism::from_kafka_type(mechanism).ok_or_else(|| {
        Refusal::new(
            ErrorCode::UNSUPPORTED_SASL_MECHANISM,
            "Unknown SCRAM mechanism",
        )
    })
}

/// Kafka's `validateDeletion`: the credential must exist.
fn validate_deletion(
    image: &MetadataImage,
    deletion: &ScramDeletion,
) -> Result<ScramMechanism, Refusal> {
    let mechanism = validate_name_and_mechanism(&deletion.name, deletion.mechanism)?;
    if image.scram_credential(&deletion.name, mechanism).is_none() {
        return Err(Refusal::new(
            ErrorCode::RESOURCE_NOT_FOUND,
            "Attempt to delete a user credential that does not exist",
        ));
    }
    Ok(mechanism)
}

/// Kafka's `validateUpsertion` (its iteration bounds and words), and Rill's salt bounds.
fn validate_upsertion(upsertion: &ScramUpsertion) -> Result<ScramMechanism, Refusal> {
    let mechanism = validate_name_and_mechanism(&upsertion.name, upsertion.mechanism)?;
    let unacceptable = |message: String| Refusal::new(ErrorCode::UNACCEPTABLE_CREDENTIAL, message);
    if upsertion.iterations < ScramMechanism::ITERATIONS_MIN as i32 {
        return Err(unacceptable("Too few iterations".into()));
    }
    if upsertion.iterations > ScramMechanism::ITERATIONS_MAX as i32 {
        return Err(unacceptable("Too many iterations".into()));
    }
    if upsertion.salt.is_empty() {
        // No client could log in with it (an empty `s=` is refused by clients' parsers).
        return Err(unacceptable("The salt is empty".into()));
    }
    if upsertion.salt.len() > SCRAM_SALT_BYTES_MAX {
        return Err(unacceptable(format!(
            "The salt is {} bytes, more than the {SCRAM_SALT_BYTES_MAX} rill keeps",
            upsertion.salt.len()
        )));
    }
    if upsertion.salted_password.len() != mechanism.hash_bytes() {
        return Err(unacceptable(format!(
            "The salted password is {} bytes; {} salts to {} bytes",
            upsertion.salted_password.len(),
            mechanism.name(),
            mechanism.hash_bytes()
        )));
    }
    Ok(mechanism)
}

/// Refuses the upsertions of new users past [`SCRAM_USERS_MAX`] (POLICY_VIOLATION), in user
/// order, counting the users the request's deletions leave without a credential as gone.
fn bound_users(image: &MetadataImage, changes: &mut BTreeMap<&str, Change>) {
    let users = image.scram_credentials();
    let emptied = (changes.iter())
        .filter(|(name, change)| {
            matches!(change, Change::Delete(_)) && users.get(**name).is_some_and(|c| c.len() == 1)
        })
        .count();
    let mut count = users.len() - emptied;
    for (name, change) in changes.iter_mut() {
        if !matches!(change, Change::Upsert(..)) || users.contains_key(*name) {
            continue;
        }
        if count >= SCRAM_USERS_MAX {
            *change = Change::Refused(Refusal::new(
                ErrorCode::POLICY_VIOLATION,
                format!("the cluster keeps SCRAM credentials for at most {SCRAM_USERS_MAX} users"),
            ));
        } else {
            count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(name: &str, mechanism: i8, iterations: i32) -> ScramUpsertion {
        let hash = ScramMechanism::from_kafka_type(mechanism).map_or(32, |m| m.hash_bytes());
        ScramUpsertion {
            name: name.into(),
            mechanism,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: vec![7; hash],
        }
    }

    fn delete(name: &str, mechanism: i8) -> ScramDeletion {
        ScramDeletion {
            name: name.into(),
            mechanism,
        }
    }

    fn applied(image: &mut MetadataImage, records: &[MetadataRecord]) {
        let index = image.applied_index() + 1;
        assert_eq!(
            image.apply_entry(index, records),
            vec![],
            "every record applies"
        );
        image.check().unwrap();
    }

    /// The outcome codes by user, in result order.
    fn codes(results: &[(String, Result<(), Refusal>)]) -> Vec<(&str, ErrorCode)> {
        (results.iter())
            .map(|(name, result)| {
                let code = result.as_ref().err().map_or(ErrorCode::NONE, |r| r.code);
                (name.as_str(), code)
            })
            .collect()
    }

    #[test]
    fn an_upsertion_stores_the_keys_of_the_salted_password_and_a_deletion_removes_them() {
        let mut image = MetadataImage::default();
        let m = ScramMechanism::Sha512;
        let salted = m.salted_password(b"alice-secret", b"salt", 4096);
        let alice = ScramUpsertion {
            salted_password: salted.clone(),
            ..upsert("alice", 2, 4096)
        };
        let (records, results) = alter_credentials(&image, &[], &[alice]);
        assert_eq!(codes(&results), [("alice", ErrorCode::NONE)]);
        applied(&mut image, &records);
        let stored = image.scram_credential("alice", m).expect("stored");
        assert_eq!(
            stored,
            &ScramCredential::from_password(m, b"alice-secret", b"salt", 4096)
        );
        assert!(image
            .scram_credential("alice", ScramMechanism::Sha256)
            .is_none());
        // A second mechanism, in its own request (one request changes a user once).
        let (records, _) = alter_credentials(&image, &[], &[upsert("alice", 1, 8192)]);
        applied(&mut image, &records);
        assert_eq!(image.scram_credentials()["alice"].len(), 2);
        let (records, results) = alter_credentials(&image, &[delete("alice", 2)], &[]);
        assert_eq!(codes(&results), [("alice", ErrorCode::NONE)]);
        applied(&mut image, &records);
        assert!(image.scram_credential("alice", m).is_none());
        let (records, _) = alter_credentials(&image, &[delete("alice", 1)], &[]);
        applied(&mut image, &records);
        assert!(
            image.scram_credentials().is_empty(),
            "no credential, no user"
        );
    }

    #[test]
    fn kafkas_validations_give_kafkas_codes_and_words() {
        let mut image = MetadataImage::default();
        let (records, _) = alter_credentials(&image, &[], &[upsert("kept", 1, 4096)]);
        applied(&mut image, &records);
        let upsertions = [
            upsert("", 1, 4096),
            upsert("unknown", 3, 4096),
            upsert("zero", 0, 4096),
            upsert("few", 1, 4095),
            upsert("many", 2, 16385),
            upsert("edges", 2, 16384),
        ];
        let deletions = [delete("absent", 1), delete("kept", 2), delete("bad", -1)];
        let (records, results) = alter_credentials(&image, &deletions, &upsertions);
        assert_eq!(
            codes(&results),
            [
                ("absent", ErrorCode::RESOURCE_NOT_FOUND),
                ("kept", ErrorCode::RESOURCE_NOT_FOUND),
                ("bad", ErrorCode::UNSUPPORTED_SASL_MECHANISM),
                ("", ErrorCode::UNACCEPTABLE_CREDENTIAL),
                ("unknown", ErrorCode::UNSUPPORTED_SASL_MECHANISM),
                ("zero", ErrorCode::UNSUPPORTED_SASL_MECHANISM),
                ("few", ErrorCode::UNACCEPTABLE_CREDENTIAL),
                ("many", ErrorCode::UNACCEPTABLE_CREDENTIAL),
                ("edges", ErrorCode::NONE),
            ]
        );
        let message = |user: &str| {
            let (_, result) = results.iter().find(|(name, _)| name == user).unwrap();
            result.as_ref().unwrap_err().message.clone()
        };
        assert_eq!(message("few"), "Too few iterations");
        assert_eq!(message("many"), "Too many iterations");
        assert_eq!(message(""), "Username must not be empty");
        assert_eq!(message("unknown"), "Unknown SCRAM mechanism");
        assert_eq!(
            message("absent"),
            "Attempt to delete a user credential that does not exist"
        );
        assert_eq!(records.len(), 1, "only the acceptable upsertion is written");
    }

    #[test]
    fn a_user_named_twice_is_a_duplicate_for_all_its_changes_and_a_first_refusal_stands() {
        let mut image = MetadataImage::default();
        let (records, _) = alter_credentials(&image, &[], &[upsert("bob", 1, 4096)]);
        applied(&mut image, &records);
        let deletions = [delete("bob", 1), delete("carol", 1)];
        let upsertions = [
            upsert("alice", 1, 4096),
            upsert("alice", 2, 4096),
            upsert("bob", 2, 4096),
            // carol's deletion was refused first: that refusal stands.
            upsert("carol", 1, 4096),
            upsert("dave", 1, 4096),
        ];
        let (records, results) = alter_credentials(&image, &deletions, &upsertions);
        assert_eq!(
            codes(&results),
            [
                ("bob", ErrorCode::DUPLICATE_RESOURCE),
                ("carol", ErrorCode::RESOURCE_NOT_FOUND),
                ("alice", ErrorCode::DUPLICATE_RESOURCE),
                ("dave", ErrorCode::NONE),
            ]
        );
        assert_eq!(
            results[0].1.as_ref().unwrap_err().message,
            ALTERED_TWICE,
            "Kafka's words"
        );
        assert!(
            matches!(&records[..], [MetadataRecord::SetScramCredential { user, .. }] if user == "dave")
        );
        applied(&mut image, &records);
        assert!(image
            .scram_credential("bob", ScramMechanism::Sha256)
            .is_some());
    }

    #[test]
    fn rills_bounds_refuse_long_names_salts_and_odd_salted_passwords() {
        let image = MetadataImage::default();
        let long_name = "u".repeat(SCRAM_USER_NAME_BYTES_MAX + 1);
        let long_salt = ScramUpsertion {
            salt: vec![1; SCRAM_SALT_BYTES_MAX + 1],
            ..upsert("salty", 1, 4096)
        };
        let short_password = ScramUpsertion {
            salted_password: vec![1; 32],
            ..upsert("short", 2, 4096)
        };
        let no_salt = ScramUpsertion {
            salt: Vec::new(),
            ..upsert("saltless", 1, 4096)
        };
        let (records, results) = alter_credentials(
            &image,
            &[],
            &[
                upsert(&long_name, 1, 4096),
                long_salt,
                short_password,
                no_salt,
            ],
        );
        assert_eq!(results.len(), 4);
        assert!(records.is_empty());
        assert!(results
            .iter()
            .all(|(_, r)| r.as_ref().unwrap_err().code == ErrorCode::UNACCEPTABLE_CREDENTIAL));
    }

    #[test]
    fn new_users_past_the_bound_are_refused_while_known_users_still_change() {
        let mut image = MetadataImage::default();
        let all: Vec<ScramUpsertion> = (0..SCRAM_USERS_MAX)
            .map(|i| upsert(&format!("user-{i:05}"), 1, 4096))
            .collect();
        let (records, results) = alter_credentials(&image, &[], &all);
        assert!(results.iter().all(|(_, r)| r.is_ok()));
        applied(&mut image, &records);
        let (records, results) = alter_credentials(
            &image,
            &[],
            &[
                upsert("one-too-many", 1, 4096),
                upsert("user-00007", 2, 4096),
            ],
        );
        assert_eq!(
            codes(&results),
            [
                ("one-too-many", ErrorCode::POLICY_VIOLATION),
                ("user-00007", ErrorCode::NONE),
            ]
        );
        applied(&mut image, &records);
        // A deletion that empties a user makes room in the same request... for a user not
        // named twice: another user.
        let (records, results) = alter_credentials(
            &image,
            &[delete("user-00001", 1)],
            &[upsert("newcomer", 1, 4096)],
        );
        assert_eq!(
            codes(&results),
            [
                ("user-00001", ErrorCode::NONE),
                ("newcomer", ErrorCode::NONE)
            ]
        );
        applied(&mut image, &records);
        assert_eq!(image.scram_credentials().len(), SCRAM_USERS_MAX);
        // Apply refuses a new user past the bound too (a record from a buggier controller).
        let mut full = image.clone();
        let (past, _) = alter_credentials(&MetadataImage::default(), &[], &[upsert("x", 1, 4096)]);
        let index = full.applied_index() + 1;
        let skipped = full.apply_entry(index, &past);
        assert!(
            matches!(&skipped[..], [s] if matches!(s.skip, super::super::Skip::TooManyScramUsers(_)))
        );
    }

    /// What apply skips, the same way on every node: removing a credential the user lacks
    /// (Kafka throws there) and a credential the image could not keep.
    #[test]
    fn apply_skips_a_removal_of_nothing_and_a_credential_out_of_bounds() {
        let mut image = MetadataImage::default();
        let removal = MetadataRecord::SetScramCredential {
            user: "nobody".into(),
            mechanism: ScramMechanism::Sha256,
            credential: None,
        };
        let mut weak = ScramCredential::from_password(ScramMechanism::Sha256, b"p", b"s", 4096);
        weak.iterations = 1;
        let bad = MetadataRecord::SetScramCredential {
            user: "weak".into(),
            mechanism: ScramMechanism::Sha256,
            credential: Some(weak),
        };
        let skipped = image.apply_entry(1, &[removal, bad]);
        assert!(matches!(
            &skipped[..],
            [a, b] if matches!(a.skip, super::super::Skip::UnknownScramCredential { .. })
                && matches!(b.skip, super::super::Skip::BadScramCredential { .. })
        ));
        assert!(image.scram_credentials().is_empty());
        image.check().unwrap();
    }
}
