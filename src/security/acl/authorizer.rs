//! Kafka's StandardAuthorizer as a value: the stored ACLs (as the metadata log's image holds
//! them, by id), the two settings that change its answers, and the checks a request makes.
//!
//! The decision (`StandardAuthorizerData.authorize`):
//! 1. A principal named in `super.users` is allowed everything.
//! 2. The ACLs that *cover* the resource are read: of the resource's type, the LITERAL one of
//!    its name, the LITERAL `*`, and every PREFIXED one its name starts with.
//! 3. Of those, an ACL *applies* when its principal is the requester's (or `User:*`), its
//!    host is the client's (or `*`) and its operation speaks to the request
//!    ([`super::rules::operation_applies`]).
//! 4. A DENY that applies denies; else an ALLOW that applies allows; else, if any ACL
//!    covered the resource (for anyone, any operation), deny; else
//!    `allow.everyone.if.no.acl.found` decides.
//!
//! Cost of [`Authorizer::authorize`], for `n` stored patterns of the type and a name of `c`
//! characters: two literal lookups and a prefix walk of at most `2(c + 1)` lookups, each
//! `O(log n)` comparisons of at most the name's length (in practice two lookups per stored
//! prefix of the name); then, under each covering pattern, two principal lookups and the
//! requester's and `User:*`'s entries there. Other principals' ACLs and other patterns' are
//! never read. A DENY ends the check at once. How many ACLs there are is the caller's to
//! bound; each is held twice (by id, and in the index).
//!
//! Not here, and the caller's: Kafka refuses to authorize before the first metadata image is
//! loaded (AuthorizerNotReadyException) — the broker must not check before it has its ACLs.

use std::collections::{BTreeMap, BTreeSet};

use super::binding::{AclBinding, AclBindingError, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE};
use super::codes::{AclOperation, AclPermissionType, PatternType, ResourceType};
use super::filter::AclBindingFilter;
use super::index::{AclId, AclIndex, Grant, PatternAcls};
use super::rules::{
    host_applies, operation_applies, principal_key, Action, Decision, DecisionBuilder, Session,
};

/// The authorizer's configuration (Kafka's `super.users` and
/// `allow.everyone.if.no.acl.found`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// Principals allowed everything, as `Type:name` text (`User:admin`); compared with the
    /// requester's `Type:name` exactly.
    pub super_users: BTreeSet<String>,
    /// What a check decides when no ACL covers the resource at all. Kafka's default: false.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerSettings {
    /// `super.users` as Kafka reads it (`StandardAuthorizer.getConfiguredSuperUsers`):
    /// principals separated by `;`, each trimmed, empty ones skipped, each needing a colon
    /// (`SecurityUtils.parseKafkaPrincipal`).
    pub fn parse_super_users(text: &str) -> Result<BTreeSet<String>, String> {
        let mut users = BTreeSet::new();
        for user in text.split(';').map(str::trim).filter(|u| !u.is_empty()) {
            if !user.contains(':') {
                return Err(format!(
                    "expected a string in format principalType:principalName but got {user}"
                ));
            }
            users.insert(user.to_string());
        }
        Ok(users)
    }
}

/// Why the store refused a change. On replaying the metadata log each is a broken log (Kafka
/// throws from `AclCache` too); on creating, [`AclStoreError::Invalid`] is the client's
/// mistake and a duplicate binding means "already there" (Kafka answers success and writes
/// nothing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AclStoreError {
    #[error("an ACL with id {0:?} already exists")]
    DuplicateId(AclId),
    #[error("the ACL is already stored, with id {existing:?}")]
    DuplicateBinding { existing: AclId },
    #[error("no ACL with id {0:?}")]
    UnknownId(AclId),
    #[error(transparent)]
    Invalid(#[from] AclBindingError),
}

/// The ACLs and the checks against them. Pure: no clock, no I/O; every iteration in id or
/// name order.
///
/// Serialized as its ACLs only, `(id, binding)` in id order (the metadata snapshot's and the
/// node's messages' form); the settings are the node's, not the log's, and are not carried:
/// a deserialized authorizer has the default settings (see [`Authorizer::authorize_as`]).
/// Deserializing re-adds every ACL, so a list that repeats an id or a binding, or holds one
/// CreateAcls would refuse, is refused. Equal when the ACLs and the settings are.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(
    into = "Vec<(AclId, AclBinding)>",
    try_from = "Vec<(AclId, AclBinding)>"
)]
pub struct Authorizer {
    settings: AuthorizerSettings,
    /// Every ACL by id: what the metadata log's records name, and DescribeAcls' order.
    by_id: BTreeMap<AclId, AclBinding>,
    /// The same ACLs arranged for checks; its every entry is one of `by_id`'s.
    index: AclIndex,
}

impl PartialEq for Authorizer {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from `by_id`.
        self.settings == other.settings && self.by_id == other.by_id
    }
}

impl Eq for Authorizer {}

impl From<Authorizer> for Vec<(AclId, AclBinding)> {
    fn from(authorizer: Authorizer) -> Self {
        authorizer.by_id.into_iter().collect()
    }
}

impl TryFrom<Vec<(AclId, AclBinding)>> for Authorizer {
    type Error = AclStoreError;

    fn try_from(acls: Vec<(AclId, AclBinding)>) -> Result<Self, AclStoreError> {
        let mut authorizer = Authorizer::default();
        for (id, binding) in acls {
            authorizer.add(id, binding)?;
        }
        Ok(authorizer)
    }
}

impl Authorizer {
    pub fn new(settings: AuthorizerSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    pub fn settings(&self) -> &AuthorizerSettings {
        &self.settings
    }

    /// New settings (a dynamic config change): the ACLs stay.
    pub fn set_settings(&mut self, settings: AuthorizerSettings) {
        self.settings = settings;
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Stores `binding` under `id` (an `AccessControlEntryRecord` applied). Refuses an id in
    /// use, a binding already stored (under any id: Kafka's image holds each ACL once) and a
    /// binding CreateAcls would refuse; then nothing changes.
    pub fn add(&mut self, id: AclId, binding: AclBinding) -> Result<(), AclStoreError> {
        binding.validate()?;
        if self.by_id.contains_key(&id) {
            return Err(AclStoreError::DuplicateId(id));
        }
        self.index
            .insert(&binding, id)
            .map_err(|existing| AclStoreError::DuplicateBinding { existing })?;
        self.by_id.insert(id, binding);
        Ok(())
    }

    /// Removes the ACL stored under `id` (a `RemoveAccessControlEntryRecord` applied) and
    /// returns it.
    pub fn remove(&mut self, id: AclId) -> Result<AclBinding, AclStoreError> {
        let binding = self.by_id.remove(&id).ok_or(AclStoreError::UnknownId(id))?;
        self.index.remove(&binding, id);
        Ok(binding)
    }

    pub fn get(&self, id: AclId) -> Option<&AclBinding> {
        self.by_id.get(&id)
    }

    /// The id `binding` is stored under: CreateAcls writes no record for an ACL that exists.
    pub fn id_of(&self, binding: &AclBinding) -> Option<AclId> {
        self.index.find(binding)
    }

    /// The ACLs `filter` selects, in id order: what DescribeAcls lists and DeleteAcls
    /// removes. Reads every ACL, as Kafka does (these are admin requests, not per-request
    /// checks).
    pub fn matching<'a>(
        &'a self,
        filter: &'a AclBindingFilter,
    ) -> impl Iterator<Item = (AclId, &'a AclBinding)> + 'a {
        (self.by_id.iter())
            .filter(|(_, binding)| filter.matches(binding))
            .map(|(id, binding)| (*id, binding))
    }

    /// Every ACL, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (AclId, &AclBinding)> + '_ {
        self.by_id.iter().map(|(id, binding)| (*id, binding))
    }

    /// May `session` do `action`? StandardAuthorizer's decision (see the module doc).
    pub fn authorize(&self, session: &Session, action: &Action) -> Decision {
        self.authorize_as(&self.settings, session, action)
    }

    /// [`Authorizer::authorize`] under `settings` instead of the authorizer's own: a node
    /// checks the ACLs the metadata log holds (shared, settings-free) with its own
    /// `super.users` and `allow.everyone.if.no.acl.found`.
    pub fn authorize_as(
        &self,
        settings: &AuthorizerSettings,
        session: &Session,
        action: &Action,
    ) -> Decision {
        // Kafka compares `principal.toString()`; the key is that text whenever there is one.
        let exact = principal_key(session.principal);
        let is_super_user = match &exact {
            Some(text) => settings.super_users.contains(text),
            None => (settings.super_users).contains(&session.principal.to_string()),
        };
        if is_super_user {
            return Decision::SuperUser;
        }
        let mut decision = DecisionBuilder::new();
        for acls in self
            .index
            .covering(action.resource_type, action.resource_name)
        {
            decision.covered();
            for grant in grants_for(acls, exact.as_deref()) {
                if host_applies(&grant.host, session.host)
                    && operation_applies(grant.operation, grant.permission, action.operation)
                    && decision.applies(grant.permission)
                {
                    return decision.build(settings.allow_everyone_if_no_acl_found);
                }
            }
        }
        decision.build(settings.allow_everyone_if_no_acl_found)
    }

    /// May `session` do `operation` on at least one resource of `resource_type`? Kafka's
    /// `Authorizer.authorizeByResourceType` (StandardAuthorizer keeps the interface's
    /// default): asked by InitProducerId without a transactional id (WRITE on some topic
    /// instead of IDEMPOTENT_WRITE on the cluster).
    ///
    /// 1. If a check of a resource named `hardcode` is allowed (a super user; or no ACL
    ///    covers that name and `allow.everyone.if.no.acl.found`; or ACLs allow it), yes.
    /// 2. Else, of the requester's ACLs (and `User:*`'s) on the type, from this host, for
    ///    exactly this operation or ALL (no implied operations here): a DENY of the literal
    ///    `*` means no; an ALLOW of the literal `*` means yes; else yes if some ALLOW's name
    ///    is not *dominated* — a LITERAL name denied literally, or any name one of whose
    ///    prefixes (of one character or more, itself included) is denied as PREFIXED.
    ///
    /// Reads every pattern of the type (Kafka's default reads every ACL of the type) but
    /// under each only the requester's and `User:*`'s entries.
    ///
    /// # Panics
    /// If `operation` or `resource_type` is a filter value (ANY) or UNKNOWN: callers pass a
    /// constant, as in Kafka (`SecurityUtils.authorizeByResourceTypeCheckArgs` throws).
    pub fn authorize_by_resource_type(
        &self,
        session: &Session,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        self.authorize_by_resource_type_as(&self.settings, session, operation, resource_type)
    }

    /// [`Authorizer::authorize_by_resource_type`] under `settings` instead of the
    /// authorizer's own (as [`Authorizer::authorize_as`]).
    ///
    /// # Panics
    /// As [`Authorizer::authorize_by_resource_type`].
    pub fn authorize_by_resource_type_as(
        &self,
        settings: &AuthorizerSettings,
        session: &Session,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        assert!(
            !matches!(resource_type, ResourceType::Any | ResourceType::Unknown),
            "authorizeByResourceType needs a specific resource type, not {resource_type}"
        );
        assert!(
            !matches!(operation, AclOperation::Any | AclOperation::Unknown),
            "authorizeByResourceType needs a specific operation, not {operation}"
        );
        let probe = Action {
            operation,
            resource_type,
            resource_name: "hardcode",
        };
        if self.authorize_as(settings, session, &probe).is_allowed() {
            return true;
        }
        let exact = principal_key(session.principal);
        let mut patterns = ByTypePatterns::default();
        for (pattern_type, name, acls) in self.index.of_type(resource_type) {
            for grant in grants_for(acls, exact.as_deref()) {
                let applies = host_applies(&grant.host, session.host)
                    && (grant.operation == operation || grant.operation == AclOperation::All);
                if applies && !patterns.note(pattern_type, name, grant.permission) {
                    return false;
                }
            }
        }
        patterns.some_allow_undominated()
    }
}

/// The entries under one pattern that can apply to the requester: those written for exactly
/// their `Type:name` (none when the type holds a colon) and those written for `User:*`.
fn grants_for<'a>(
    acls: &'a PatternAcls,
    exact: Option<&'a str>,
) -> impl Iterator<Item = &'a Grant> + 'a {
    let exact = exact.filter(|p| *p != WILDCARD_PRINCIPAL);
    let exact_grants = exact.into_iter().flat_map(|p| acls.grants_of(p));
    exact_grants.chain(acls.grants_of(WILDCARD_PRINCIPAL))
}

/// The names `authorize_by_resource_type` collects, by permission and pattern type.
#[derive(Default)]
struct ByTypePatterns<'a> {
    wildcard_allowed: bool,
    allow_literal: BTreeSet<&'a str>,
    allow_prefixed: BTreeSet<&'a str>,
    deny_literal: BTreeSet<&'a str>,
    deny_prefixed: BTreeSet<&'a str>,
}

impl<'a> ByTypePatterns<'a> {
    /// Notes an applying ACL; false if it settles the answer as no (a DENY of literal `*`).
    fn note(
        &mut self,
        pattern_type: PatternType,
        name: &'a str,
        permission: AclPermissionType,
    ) -> bool {
        let literal = pattern_type == PatternType::Literal;
        match permission {
            AclPermissionType::Deny if literal && name == WILDCARD_RESOURCE => return false,
            AclPermissionType::Deny if literal => self.deny_literal.insert(name),
            AclPermissionType::Deny => self.deny_prefixed.insert(name),
            AclPermissionType::Allow if literal && name == WILDCARD_RESOURCE => {
                self.wildcard_allowed = true;
                true
            }
            AclPermissionType::Allow if literal => self.allow_literal.insert(name),
            AclPermissionType::Allow => self.allow_prefixed.insert(name),
            other => unreachable!("a stored ACL with permission {other}"),
        };
        true
    }

    fn some_allow_undominated(&self) -> bool {
        if self.wildcard_allowed {
            return true;
        }
        let literal = (self.allow_literal.iter())
            .filter(|name| !self.deny_literal.contains(*name))
            .any(|name| !self.prefix_denied(name));
        literal
            || self
                .allow_prefixed
                .iter()
                .any(|name| !self.prefix_denied(name))
    }

    /// Whether a PREFIXED DENY names a prefix of `name` (one character or more).
    fn prefix_denied(&self, name: &str) -> bool {
        (name.char_indices())
            .map(|(at, c)| &name[..at + c.len_utf8()])
            .any(|prefix| self.deny_prefixed.contains(prefix))
    }
}
