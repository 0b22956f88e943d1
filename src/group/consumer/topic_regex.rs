//! KIP-848 regex subscriptions (ConsumerGroupHeartbeat v1 `SubscribedTopicRegex`): a member
//! subscribes to the topics its pattern matches, now and as they are created, as well as to the
//! ones it names.
//!
//! Kafka's semantics (`GroupMetadataManager.throwIfRegularExpressionIsInvalid` and
//! `refreshRegularExpressions`, Kafka 4.x):
//! * the pattern is RE2/J syntax, compiled when a member brings one the group does not have
//!   yet; one that does not compile is refused with INVALID_REGULAR_EXPRESSION and the message
//!   "SubscribedTopicRegex `P` is not a valid regular expression: WHY.";
//! * it is matched against the **whole** topic name (`Matcher.matches`, not `find`): `rx-`
//!   matches only `rx-`, `rx-.*` every topic starting with it. librdkafka sends its patterns
//!   as they are, `^` kept, several joined as `(^a.*)|(^b.*)`;
//! * every topic of the cluster is a candidate, internal ones included (`__consumer_offsets`):
//!   Kafka filters them by the DESCRIBE ACL only, which this broker does not have;
//! * an empty pattern is no pattern.
//!
//! Kafka resolves the group's patterns off its event loop, at most every 10 s, and writes the
//! result as `ConsumerGroupRegularExpression` records. Here a heartbeat resolves them itself,
//! from the topics it is given, which is deterministic and cheap with the [`RegexCache`]: a
//! pattern is compiled once per group, and the group's patterns are matched again only when
//! the cluster's topic names changed. As in Kafka, a pattern new to the group is not matched in
//! the heartbeat that brings it: that heartbeat's assignment covers the named topics only, and
//! the group's next heartbeat matches it and starts a new epoch (librdkafka's own test
//! `0045_resubscribe_with_regex` expects the named topics' assignment first). The resolution
//! is not written: a load compiles the members' patterns again (from their member records) and
//! matches them at the first heartbeat.
//!
//! The `regex` crate, like RE2/J, matches in linear time (no backtracking), so a pattern cannot
//! make a heartbeat slow; its length and compiled size are bounded
//! ([`CONSUMER_REGEX_BYTES_MAX`], [`CONSUMER_REGEX_COMPILED_BYTES_MAX`]). The dialects differ
//! at the edges: `regex` takes a few things RE2/J refuses (the `x`, `u` and `R` flags, class
//! set operations like `[a-z&&[^q]]`) and refuses RE2/J's `\Q...\E` quoting; on the ASCII
//! names topics have, a pattern both accept matches the same names.

use std::collections::{BTreeMap, BTreeSet};

use regex::{Regex, RegexBuilder};

use crate::limits::{
    CONSUMER_REGEX_BYTES_MAX, CONSUMER_REGEX_COMPILED_BYTES_MAX, CONSUMER_REGEX_NEST_MAX,
};

use super::group::TopicView;

/// A group's compiled patterns and the topics each matches.
///
/// It is derived state (a cache): two groups are equal whatever their caches hold.
#[derive(Clone, Debug, Default)]
pub struct RegexCache {
    entries: BTreeMap<String, Entry>,
    /// The topic names (in order) the resolved entries were matched against.
    scanned: Vec<String>,
}

#[derive(Clone, Debug)]
struct Entry {
    /// `None`: a stored pattern that no longer compiles (it matches nothing, as Kafka ignores
    /// a regex it cannot parse when it refreshes).
    regex: Option<Regex>,
    /// The topics it matches, as of `scanned`; `None` before its first match.
    topics: Option<BTreeSet<String>>,
    /// Kept by the heartbeat that brought it: matched from the next one on.
    fresh: bool,
}

impl PartialEq for RegexCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RegexCache {}

impl RegexCache {
    /// Checks `pattern` as a new subscription: Ok if the group has it already or it compiles
    /// (the compiled pattern, for [`Self::keep`] once the heartbeat is accepted: a refused one
    /// must leave nothing behind), else the refusal's message.
    pub fn admit(&self, pattern: &str) -> Result<Option<Regex>, String> {
        if self.entries.contains_key(pattern) {
            return Ok(None);
        }
        compile(pattern).map(Some)
    }

    /// Drops `pattern` (no member holds it any more).
    pub fn forget(&mut self, pattern: &str) {
        self.entries.remove(pattern);
    }

    /// Keeps a pattern [`Self::admit`] compiled, for an accepted heartbeat.
    pub fn keep(&mut self, pattern: &str, regex: Regex) {
        let entry = Entry {
            regex: Some(regex),
            topics: None,
            fresh: true,
        };
        self.entries.entry(pattern.to_owned()).or_insert(entry);
    }

    /// Whether `pattern` was matched against the topics (a pattern restored by a load is not
    /// until the group's next heartbeat resolves it).
    pub fn is_resolved(&self, pattern: &str) -> bool {
        self.entries
            .get(pattern)
            .is_some_and(|e| e.topics.is_some())
    }

    /// Brings every pattern in `patterns` up to date with `topics`: compiles the ones not
    /// kept yet (a pattern restored by a load), matches a new one against the topics, and all
    /// of them again if the topic names changed. Patterns not in `patterns` are dropped.
    pub fn resolve<'a>(&mut self, patterns: impl IntoIterator<Item = &'a str>, topics: &TopicView) {
        let wanted: BTreeSet<&str> = patterns.into_iter().collect();
        self.entries.retain(|p, _| wanted.contains(p.as_str()));
        for p in &wanted {
            if !self.entries.contains_key(*p) {
                let entry = Entry {
                    regex: compile(p).ok(),
                    topics: None,
                    fresh: false,
                };
                self.entries.insert((*p).to_owned(), entry);
            }
        }
        if self.entries.is_empty() {
            // A group without patterns keeps no copy of the names.
            self.scanned = Vec::new();
            return;
        }
        let renamed = !self.scanned.iter().eq(topics.keys());
        if renamed {
            self.scanned = topics.keys().cloned().collect();
        }
        for entry in self.entries.values_mut() {
            if std::mem::take(&mut entry.fresh) {
                continue;
            }
            if renamed || entry.topics.is_none() {
                let matched = match &entry.regex {
                    Some(regex) => (topics.keys())
                        .filter(|name| regex.is_match(name))
                        .cloned()
                        .collect(),
                    None => BTreeSet::new(),
                };
                entry.topics = Some(matched);
            }
        }
    }

    /// The topics `pattern` matched at the last [`Self::resolve`] (none if it was not there).
    pub fn topics(&self, pattern: &str) -> impl Iterator<Item = &String> {
        (self.entries.get(pattern))
            .and_then(|e| e.topics.as_ref())
            .into_iter()
            .flatten()
    }

    /// The patterns kept (for tests of the cache).
    #[cfg(test)]
    pub fn patterns(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }
}

/// `pattern` compiled to match whole topic names, within the bounds; else why not, in one
/// line (Kafka's message).
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let refused = |why: &str| {
        format!("SubscribedTopicRegex `{pattern}` is not a valid regular expression: {why}.")
    };
    if pattern.len() > CONSUMER_REGEX_BYTES_MAX {
        return Err(format!(
            "SubscribedTopicRegex is not a valid regular expression: it is longer than \
             {CONSUMER_REGEX_BYTES_MAX} bytes."
        ));
    }
    let build = |p: &str| {
        RegexBuilder::new(p)
            .size_limit(CONSUMER_REGEX_COMPILED_BYTES_MAX)
            .dfa_size_limit(CONSUMER_REGEX_COMPILED_BYTES_MAX)
            .nest_limit(CONSUMER_REGEX_NEST_MAX)
            .build()
    };
    // The pattern alone first: anchoring it could otherwise pair its stray parentheses with
    // the anchors' (`a)|(b` is no pattern, but `\A(?:a)|(b)\z` is one).
    build(pattern).map_err(|e| refused(&one_line(&e)))?;
    // Anchored at both ends: RE2/J's `matches`. A pattern that only parses alone (one ending
    // in an `x`-mode comment, which swallows the anchor) is refused.
    build(&format!(r"\A(?:{pattern})\z")).map_err(|e| refused(&one_line(&e)))
}

/// `regex`'s error in one line: a syntax error's Display is a diagram over several lines,
/// whose last names the fault.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = (text.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.iter().rev().find_map(|l| l.strip_prefix("error: ")) {
        Some(why) => why.trim_end_matches('.').to_owned(),
        None => lines.join(" ").trim_end_matches('.').to_owned(),
    }
}
