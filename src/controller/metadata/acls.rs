//! ACLs at the controller (Kafka's `AclControlManager`): CreateAcls and DeleteAcls planned as
//! [`MetadataRecord::CreateAcl`] / [`MetadataRecord::RemoveAcl`] records against the
//! (projected) image, so every broker applies them from the metadata log and they survive
//! restarts, as Kafka's `AccessControlEntryRecord`s do.
//!
//! Kafka's rules:
//! * CreateAcls, per binding: one CreateAcls refuses ([`AclBinding::validate`]) is
//!   INVALID_REQUEST in Kafka's words; one already stored — or created earlier in the same
//!   request — succeeds and writes nothing; any other gets a new id and a record.
//! * DeleteAcls, per filter: one with a value this version does not know is INVALID_REQUEST
//!   ([`AclBindingFilter::validate_for_delete`]); any other lists every stored ACL it matches,
//!   each removed once however many filters match it.
//!
//! Beyond Kafka, the bounds of [`crate::limits`]: a name, principal or host past its length
//! is INVALID_REQUEST, and a new ACL past [`ACLS_MAX`] is POLICY_VIOLATION.
//!
//! Ids are drawn from the controller's seeded random numbers (as topic ids are), never the
//! same as a stored ACL's or another drawn in the same request.

use std::collections::BTreeSet;

use super::image::MetadataImage;
use super::records::MetadataRecord;
use super::topic_admin::Draw;
use crate::limits::{
    ACLS_MAX, ACL_HOST_BYTES_MAX, ACL_PRINCIPAL_BYTES_MAX, ACL_RESOURCE_NAME_BYTES_MAX,
};
use crate::security::acl::{AclBinding, AclBindingFilter, AclId};
use crate::types::{ErrorCode, Refusal};

/// Whether the image may keep `binding`: what CreateAcls accepts
/// ([`AclBinding::validate`]) within Rill's length bounds. What apply and a snapshot load
/// check; the controller refuses anything else before proposing it.
pub fn check_acl(binding: &AclBinding) -> Result<(), Refusal> {
    binding.validate().map_err(|e| e.refusal())?;
    let texts = [
        (
            "resource name",
            binding.pattern.name.len(),
            ACL_RESOURCE_NAME_BYTES_MAX,
        ),
        (
            "principal",
            binding.entry.principal.len(),
            ACL_PRINCIPAL_BYTES_MAX,
        ),
        ("host", binding.entry.host.len(), ACL_HOST_BYTES_MAX),
    ];
    for (what, bytes, max) in texts {
        if bytes > max {
            return Err(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                format!("The ACL's {what} is {bytes} bytes, more than the {max} rill keeps"),
            ));
        }
    }
    Ok(())
}

/// The records of a CreateAcls request and each binding's outcome, in request order.
pub fn create_acls(
    image: &MetadataImage,
    bindings: &[AclBinding],
    draw: &mut dyn Draw,
) -> (Vec<MetadataRecord>, Vec<Result<(), Refusal>>) {
    let stored = image.acls();
    let mut records = Vec::new();
    let mut created: BTreeSet<&AclBinding> = BTreeSet::new();
    let mut ids: BTreeSet<AclId> = BTreeSet::new();
    let mut results = Vec::with_capacity(bindings.len());
    for binding in bindings {
        if let Err(refusal) = check_acl(binding) {
            results.push(Err(refusal));
            continue;
        }
        if stored.id_of(binding).is_some() || created.contains(binding) {
            results.push(Ok(()));
            continue;
        }
        if stored.len() + created.len() >= ACLS_MAX {
            results.push(Err(Refusal::new(
                ErrorCode::POLICY_VIOLATION,
                format!("the cluster keeps at most {ACLS_MAX} ACLs"),
            )));
            continue;
        }
        let id = loop {
            let id = draw.topic_id();
            if stored.get(id).is_none() && ids.insert(id) {
                break id;
            }
        };
        created.insert(binding);
        records.push(MetadataRecord::CreateAcl {
            id,
            binding: binding.clone(),
        });
        results.push(Ok(()));
    }
    (records, results)
}

/// The records of a DeleteAcls request and each filter's outcome, in request order: the
/// ACLs it matched (in id order), or why it was refused.
pub fn delete_acls(
    image: &MetadataImage,
    filters: &[AclBindingFilter],
) -> (Vec<MetadataRecord>, Vec<Result<Vec<AclBinding>, Refusal>>) {
    let mut removed: BTreeSet<AclId> = BTreeSet::new();
    let results = (filters.iter())
        .map(|filter| {
            filter.validate_for_delete()?;
            let matched = (image.acls().matching(filter))
                .map(|(id, binding)| {
                    removed.insert(id);
                    binding.clone()
                })
                .collect();
            Ok(matched)
        })
        .collect();
    let records = (removed.into_iter())
        .map(|id| MetadataRecord::RemoveAcl { id })
        .collect();
    (records, results)
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use super::*;
    use crate::controller::metadata::Skip;
    use crate::security::acl::{
        AccessControlEntry, AclOperation, AclPermissionType, PatternType, ResourcePattern,
        ResourceType,
    };

    fn acl(topic: &str, principal: &str, operation: AclOperation) -> AclBinding {
        AclBinding::new(
            ResourcePattern::literal(ResourceType::Topic, topic),
            AccessControlEntry::new(principal, "*", operation, AclPermissionType::Allow),
        )
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

    fn codes<T>(results: &[Result<T, Refusal>]) -> Vec<ErrorCode> {
        (results.iter())
            .map(|r| r.as_ref().err().map_or(ErrorCode::NONE, |r| r.code))
            .collect()
    }

    #[test]
    fn creations_store_new_bindings_once_and_refuse_invalid_ones_in_kafkas_words() {
        let mut image = MetadataImage::default();
        let mut rng = SmallRng::seed_from_u64(7);
        let read = acl("orders", "User:alice", AclOperation::Read);
        let mut no_colon = read.clone();
        no_colon.entry.principal = "alice".into();
        let mut any_op = read.clone();
        any_op.entry.operation = AclOperation::Any;
        let bindings = [read.clone(), no_colon, read.clone(), any_op];
        let (records, results) = create_acls(&image, &bindings, &mut rng);
        assert_eq!(
            codes(&results),
            [
                ErrorCode::NONE,
                ErrorCode::INVALID_REQUEST,
                ErrorCode::NONE,
                ErrorCode::INVALID_REQUEST
            ]
        );
        assert_eq!(
            results[1].as_ref().unwrap_err().message,
            "Could not parse principal from `alice` (no colon is present separating the \
             principal type from the principal name)"
        );
        assert_eq!(
            results[3].as_ref().unwrap_err().message,
            "Invalid operation ANY"
        );
        assert_eq!(records.len(), 1, "the repeated binding is written once");
        applied(&mut image, &records);
        assert_eq!(image.acls().len(), 1);
        // Already stored: success, and nothing written.
        let (records, results) = create_acls(&image, &[read.clone()], &mut rng);
        assert!(records.is_empty());
        assert_eq!(codes(&results), [ErrorCode::NONE]);
        // Rill's bounds.
        let long = acl(
            &"t".repeat(ACL_RESOURCE_NAME_BYTES_MAX + 1),
            "User:a",
            AclOperation::Read,
        );
        let (records, results) = create_acls(&image, &[long], &mut rng);
        assert!(records.is_empty());
        assert_eq!(codes(&results), [ErrorCode::INVALID_REQUEST]);
    }

    #[test]
    fn ids_are_drawn_from_the_seed_and_never_repeat() {
        let bindings: Vec<AclBinding> = (0..50)
            .map(|i| acl(&format!("t{i}"), "User:a", AclOperation::Write))
            .collect();
        let plan = |seed| {
            create_acls(
                &MetadataImage::default(),
                &bindings,
                &mut SmallRng::seed_from_u64(seed),
            )
            .0
        };
        assert_eq!(plan(3), plan(3), "the same seed draws the same ids");
        let ids: BTreeSet<AclId> = (plan(3).iter())
            .map(|r| match r {
                MetadataRecord::CreateAcl { id, .. } => *id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids.len(), 50);
    }

    #[test]
    fn deletions_list_what_each_filter_matches_and_remove_each_acl_once() {
        let mut image = MetadataImage::default();
        let mut rng = SmallRng::seed_from_u64(1);
        let a = acl("orders", "User:alice", AclOperation::Read);
        let b = acl("orders", "User:bob", AclOperation::Write);
        let c = acl("payments", "User:alice", AclOperation::Read);
        let (records, _) = create_acls(&image, &[a.clone(), b.clone(), c.clone()], &mut rng);
        applied(&mut image, &records);
        let mut alice = AclBindingFilter::ANY;
        alice.entry.principal = Some("User:alice".into());
        let mut orders = AclBindingFilter::ANY;
        orders.pattern.resource_type = ResourceType::Topic;
        orders.pattern.name = Some("orders".into());
        orders.pattern.pattern_type = PatternType::Literal;
        let mut unknown = AclBindingFilter::ANY;
        unknown.entry.operation = AclOperation::Unknown;
        let (records, results) = delete_acls(&image, &[alice, orders, unknown]);
        assert_eq!(
            codes(&results),
            [ErrorCode::NONE, ErrorCode::NONE, ErrorCode::INVALID_REQUEST]
        );
        let mut by_alice = results[0].clone().unwrap();
        by_alice.sort();
        let mut expected = vec![a.clone(), c.clone()];
        expected.sort();
        assert_eq!(by_alice, expected);
        assert_eq!(results[1].as_ref().unwrap().len(), 2, "a and b");
        assert_eq!(records.len(), 3, "a matched twice, removed once");
        assert_eq!(
            results[2].as_ref().unwrap_err().message,
            "Unknown entryFilter."
        );
        applied(&mut image, &records);
        assert!(image.acls().is_empty());
    }

    /// What apply skips, the same way on every node: an id in use, a binding stored under
    /// another id, an invalid binding, the removal of an unknown id.
    #[test]
    fn apply_skips_what_the_image_could_not_keep() {
        let mut image = MetadataImage::default();
        let a = acl("orders", "User:alice", AclOperation::Read);
        let mut bad = a.clone();
        bad.pattern.name.clear();
        let skipped = image.apply_entry(
            1,
            &[
                MetadataRecord::CreateAcl {
                    id: [1; 16],
                    binding: a.clone(),
                },
                MetadataRecord::CreateAcl {
                    id: [1; 16],
                    binding: acl("x", "User:b", AclOperation::Read),
                },
                MetadataRecord::CreateAcl {
                    id: [2; 16],
                    binding: a.clone(),
                },
                MetadataRecord::CreateAcl {
                    id: [3; 16],
                    binding: bad,
                },
                MetadataRecord::RemoveAcl { id: [9; 16] },
            ],
        );
        let skips: Vec<usize> = skipped.iter().map(|s| s.position).collect();
        assert_eq!(skips, [1, 2, 3, 4]);
        assert!(matches!(skipped[3].skip, Skip::UnknownAcl(_)));
        assert_eq!(image.acls().len(), 1);
        image.check().unwrap();
        assert_eq!(
            image.apply_entry(2, &[MetadataRecord::RemoveAcl { id: [1; 16] }]),
            vec![]
        );
        assert!(image.acls().is_empty());
    }
}
