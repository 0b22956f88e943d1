//! The stored ACLs arranged so that a check reads only the ACLs that could apply to it.
//!
//! ```text
//! resource type ─┬─ literal:  name   ─► principal ─► {(host, operation, permission) → id}
//!                └─ prefixed: prefix ─► principal ─► {(host, operation, permission) → id}
//! ```
//!
//! A check of `(type, name)` by principal `P` reads the literal `name`, the literal `*`, and
//! each prefix of `name` that is stored ([`PrefixesOf`]); under each of those patterns only
//! `P`'s entries and `User:*`'s. Kafka's StandardAuthorizer walks one sorted set the same
//! way (resource names sorted in reverse, jumping back to the longest common prefix); here
//! literal and prefixed names are two sorted maps, and the jump is the same.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::binding::{AclBinding, WILDCARD_RESOURCE};
use super::codes::{AclOperation, AclPermissionType, PatternType, ResourceType};

/// An ACL's id: the 16 bytes of the Kafka `Uuid` its `AccessControlEntryRecord` carries in
/// the metadata log, by which `RemoveAccessControlEntryRecord` removes it.
pub type AclId = [u8; 16];

/// The part of an entry below its principal: from where, doing what, allowed or denied.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

/// The ACLs of one resource pattern, by principal text. Never empty while stored: removing
/// the last entry removes the pattern, so "a pattern is stored" means "an ACL covers it".
#[derive(Clone, Debug, Default)]
pub struct PatternAcls {
    by_principal: BTreeMap<String, BTreeMap<Grant, AclId>>,
}

impl PatternAcls {
    /// The grants written for exactly this principal text.
    pub fn grants_of<'a>(&'a self, principal: &str) -> impl Iterator<Item = &'a Grant> + 'a {
        self.by_principal
            .get(principal)
            .into_iter()
            .flat_map(BTreeMap::keys)
    }

    /// Every (principal text, grant), in order.
    pub fn all(&self) -> impl Iterator<Item = (&str, &Grant)> + '_ {
        (self.by_principal.iter())
            .flat_map(|(principal, grants)| grants.keys().map(move |g| (principal.as_str(), g)))
    }
}

/// The ACLs of one resource type.
#[derive(Clone, Debug, Default)]
struct TypeAcls {
    literal: BTreeMap<String, PatternAcls>,
    prefixed: BTreeMap<String, PatternAcls>,
}

impl TypeAcls {
    fn patterns(&mut self, pattern_type: PatternType) -> &mut BTreeMap<String, PatternAcls> {
        match pattern_type {
            PatternType::Literal => &mut self.literal,
            PatternType::Prefixed => &mut self.prefixed,
            other => unreachable!("a stored ACL with pattern type {other}"),
        }
    }

    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.prefixed.is_empty()
    }
}

/// Every stored ACL, by resource type, pattern and principal. Holds validated bindings only
/// (LITERAL or PREFIXED, ALLOW or DENY): the [`super::Authorizer`] checks before inserting.
#[derive(Clone, Debug, Default)]
pub struct AclIndex {
    by_type: BTreeMap<ResourceType, TypeAcls>,
}

fn grant_of(binding: &AclBinding) -> Grant {
    Grant {
        host: binding.entry.host.clone(),
        operation: binding.entry.operation,
        permission: binding.entry.permission,
    }
}

impl AclIndex {
    /// The id `binding` is stored under, if it is.
    pub fn find(&self, binding: &AclBinding) -> Option<AclId> {
        let type_acls = self.by_type.get(&binding.pattern.resource_type)?;
        let patterns = match binding.pattern.pattern_type {
            PatternType::Literal => &type_acls.literal,
            PatternType::Prefixed => &type_acls.prefixed,
            _ => return None,
        };
        let grants = patterns
            .get(&binding.pattern.name)?
            .by_principal
            .get(&binding.entry.principal)?;
        grants.get(&grant_of(binding)).copied()
    }

    /// Stores `binding` under `id`; the id it is already stored under if it is (then nothing
    /// changes).
    pub fn insert(&mut self, binding: &AclBinding, id: AclId) -> Result<(), AclId> {
        let grants = (self
            .by_type
            .entry(binding.pattern.resource_type)
            .or_default())
        .patterns(binding.pattern.pattern_type)
        .entry(binding.pattern.name.clone())
        .or_default()
        .by_principal
        .entry(binding.entry.principal.clone())
        .or_default();
        match grants.entry(grant_of(binding)) {
            std::collections::btree_map::Entry::Occupied(existing) => Err(*existing.get()),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(id);
                Ok(())
            }
        }
    }

    /// Removes `binding`, stored under `id`, and every map it leaves empty.
    pub fn remove(&mut self, binding: &AclBinding, id: AclId) {
        let rt = binding.pattern.resource_type;
        let type_acls = self.by_type.get_mut(&rt).expect("a stored ACL's type");
        let patterns = type_acls.patterns(binding.pattern.pattern_type);
        let pattern = patterns
            .get_mut(&binding.pattern.name)
            .expect("a stored ACL's pattern");
        let grants = (pattern.by_principal)
            .get_mut(&binding.entry.principal)
            .expect("a stored ACL's principal");
        let removed = grants.remove(&grant_of(binding));
        assert_eq!(removed, Some(id), "the index holds {binding} under its id");
        if grants.is_empty() {
            pattern.by_principal.remove(&binding.entry.principal);
        }
        if pattern.by_principal.is_empty() {
            patterns.remove(&binding.pattern.name);
        }
        if type_acls.is_empty() {
            self.by_type.remove(&rt);
        }
    }

    /// Every stored pattern covering the resource `name` of type `rt`: the literal `name`,
    /// the literal `*`, and each stored prefix of `name`. Each pattern once.
    pub fn covering<'a>(
        &'a self,
        rt: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = &'a PatternAcls> + 'a {
        let type_acls = self.by_type.get(&rt);
        let literal = type_acls.and_then(|t| t.literal.get(name));
        let wildcard = type_acls
            .filter(|_| name != WILDCARD_RESOURCE)
            .and_then(|t| t.literal.get(WILDCARD_RESOURCE));
        let prefixed = type_acls
            .into_iter()
            .flat_map(move |t| PrefixesOf::new(&t.prefixed, name).map(|(_, acls)| acls));
        literal.into_iter().chain(wildcard).chain(prefixed)
    }

    /// Every stored pattern of type `rt`: (pattern type, name, its ACLs).
    pub fn of_type(
        &self,
        rt: ResourceType,
    ) -> impl Iterator<Item = (PatternType, &str, &PatternAcls)> + '_ {
        self.by_type.get(&rt).into_iter().flat_map(|t| {
            let literal = t
                .literal
                .iter()
                .map(|(n, a)| (PatternType::Literal, n.as_str(), a));
            let prefixed = t
                .prefixed
                .iter()
                .map(|(n, a)| (PatternType::Prefixed, n.as_str(), a));
            literal.chain(prefixed)
        })
    }
}

/// The entries of a sorted map whose keys are prefixes of `name` (the whole of `name`, and
/// `""`, included), longest first.
///
/// Each step asks the map for the greatest key at or below a bound that is itself a prefix of
/// `name`. A key that is a prefix of `name` is yielded, and the next bound is just below it.
/// A key that is not shares some leading characters with `name`; every shorter prefix of
/// `name` that is stored is at or below that common part, so the next bound is the common
/// part. The bound gets shorter at least every second step, so a walk costs at most
/// `2 × (characters in name + 1)` map lookups, each `O(log keys)` comparisons — and in
/// practice two lookups per stored prefix, however many other keys the map holds.
pub struct PrefixesOf<'a, V> {
    map: &'a BTreeMap<String, V>,
    name: &'a str,
    /// The upper end of the next lookup: a byte length of `name` at a character boundary,
    /// inclusive or not. `None` once the walk is over.
    bound: Option<Bound<usize>>,
}

impl<'a, V> PrefixesOf<'a, V> {
    pub fn new(map: &'a BTreeMap<String, V>, name: &'a str) -> Self {
        Self {
            map,
            name,
            bound: Some(Bound::Included(name.len())),
        }
    }

    /// Twice the bound's length, plus one if inclusive: what every step must shrink.
    fn measure(bound: Bound<usize>) -> usize {
        match bound {
            Bound::Included(n) => 2 * n + 1,
            Bound::Excluded(n) => 2 * n,
            Bound::Unbounded => unreachable!("a walk's bound is a prefix of the name"),
        }
    }
}

impl<'a, V> Iterator for PrefixesOf<'a, V> {
    type Item = (&'a str, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let bound = self.bound?;
            let upper = match bound {
                Bound::Included(n) => Bound::Included(&self.name[..n]),
                Bound::Excluded(n) => Bound::Excluded(&self.name[..n]),
                Bound::Unbounded => unreachable!("a walk's bound is a prefix of the name"),
            };
            let Some((key, value)) = self
                .map
                .range::<str, _>((Bound::Unbounded, upper))
                .next_back()
            else {
                self.bound = None;
                return None;
            };
            let next = if self.name.starts_with(key.as_str()) {
                Bound::Excluded(key.len())
            } else {
                Bound::Included(common_prefix_chars(key, self.name))
            };
            assert!(
                Self::measure(next) < Self::measure(bound),
                "a prefix walk must shrink its bound"
            );
            self.bound = Some(next);
            if let Bound::Excluded(_) = next {
                return Some((key.as_str(), value));
            }
        }
    }
}

/// The byte length of the longest common prefix of `a` and `b` that ends at a character
/// boundary of `b` (UTF-8 bytes can agree part-way into two different characters).
fn common_prefix_chars(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !b.is_char_boundary(n) {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> BTreeMap<String, ()> {
        keys.iter().map(|k| (k.to_string(), ())).collect()
    }

    fn prefixes(keys: &[&str], name: &str) -> Vec<String> {
        let map = map(keys);
        PrefixesOf::new(&map, name)
            .map(|(k, _)| k.to_string())
            .collect()
    }

    /// StandardAuthorizerData's own example: for `foobar`, of
    /// gar, foobar, foob, foo, fb, fa, f, eeee the prefixes are foobar, foob, foo and f.
    #[test]
    fn the_walk_finds_every_stored_prefix_and_nothing_else() {
        let keys = ["gar", "foobar", "foob", "foo", "fb", "fa", "f", "eeee"];
        assert_eq!(prefixes(&keys, "foobar"), ["foobar", "foob", "foo", "f"]);
        assert_eq!(prefixes(&keys, "foo"), ["foo", "f"]);
        assert_eq!(prefixes(&keys, "fz"), ["f"]);
        assert!(prefixes(&keys, "e").is_empty());
        assert!(prefixes(&keys, "").is_empty());
        assert_eq!(prefixes(&["", "a"], "ab"), ["a", ""]);
        assert!(prefixes(&[], "anything").is_empty());
    }

    /// Keys that sort between the prefixes (longer keys sharing part of the name) are
    /// stepped over, not yielded.
    #[test]
    fn keys_between_prefixes_are_skipped() {
        let keys = ["a", "aa", "aaz", "ab", "abb", "abc", "abcd", "abd", "b"];
        assert_eq!(prefixes(&keys, "abcx"), ["abc", "ab", "a"]);
        assert_eq!(prefixes(&keys, "abcd"), ["abcd", "abc", "ab", "a"]);
    }

    /// Prefixes are of characters: `é` and `è` share their first UTF-8 byte, and neither is a
    /// prefix of the other.
    #[test]
    fn prefixes_end_at_character_boundaries() {
        assert_eq!(prefixes(&["è", "é", "éa", "e"], "éab"), ["éa", "é"]);
        assert_eq!(common_prefix_chars("è", "é"), 0);
        assert_eq!(common_prefix_chars("xè", "xé"), 1);
        assert_eq!(prefixes(&["日本", "日"], "日本語"), ["日本", "日"]);
    }

    #[test]
    fn the_walk_agrees_with_checking_every_key() {
        let keys = [
            "", "a", "ab", "abc", "b", "ba", "*", "a*", "é", "éa", "abd", "aé",
        ];
        for name in [
            "", "a", "ab", "abc", "abcd", "abd", "b", "ba", "bab", "*", "*x", "éab", "aéz", "c",
        ] {
            let mut expected: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| name.starts_with(k))
                .collect();
            expected.sort_by_key(|k| std::cmp::Reverse(k.len()));
            assert_eq!(prefixes(&keys, name), expected, "name {name:?}");
        }
    }
}
