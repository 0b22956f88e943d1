//! The records and operations a violation names. The checker's violations are sentences (their
//! shapes are in `checker`), which name what they are about the same few ways: record values
//! (`p2-45`, `x0-3-1`, `cx0-3-1`, `eve-7`), positions (`p0@123`, then `@125` for another offset of
//! that partition), times (`t=1234ms`, `t=12..34ms`) and nodes (`broker 3`, `voter 2`). This reads
//! them back and finds the history's events that hold them, so the timeline can mark each one.

use std::collections::BTreeSet;

use super::lanes::LaneKey;
use crate::history::{Event, SendOutcome};

/// At most this many events are marked and listed: a violation that names a whole log would
/// otherwise bury the page.
const INVOLVED_MAX: usize = 60;

/// What a violation's words name.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Named {
    pub values: BTreeSet<String>,
    /// (partition, offset).
    pub positions: BTreeSet<(i32, i64)>,
    pub times_ms: BTreeSet<u64>,
    pub nodes: BTreeSet<u64>,
    /// Transactions, as (producer, transaction): "producer 1's transaction 0".
    pub transactions: BTreeSet<(u32, u32)>,
}

impl Named {
    /// Whether positions are the transactional topics' (the values named are transactional)
    /// rather than the data topic's.
    fn transactional(&self) -> bool {
        (self.values.iter()).any(|v| v.starts_with('x') || v.starts_with("cx"))
    }
}

/// One event a violation names, where the timeline marks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Involved {
    pub at_ms: u64,
    pub lane: LaneKey,
    pub text: String,
}

/// Reads what `violation` names.
pub(crate) fn named(violation: &str) -> Named {
    let mut named = Named::default();
    let words: Vec<&str> = violation
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '@' || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut partition = None;
    for (i, word) in words.iter().enumerate() {
        if let Some((left, right)) = word.split_once('@') {
            let offset = digits(right);
            let this = match left {
                "" => partition,
                left => left.strip_prefix('p').and_then(|p| p.parse::<i32>().ok()),
            };
            if let (Some(p), Some(offset)) = (this, offset) {
                named.positions.insert((p, offset));
                partition = Some(p);
            }
        } else if *word == "transaction" && i >= 3 && words[i - 3] == "producer" {
            // "producer 1's transaction 0" splits into producer, 1, s, transaction, 0.
            let producer = words[i - 2].parse().ok().filter(|_| words[i - 1] == "s");
            let txn = words.get(i + 1).and_then(|w| w.parse().ok());
            if let (Some(producer), Some(txn)) = (producer, txn) {
                named.transactions.insert((producer, txn));
            }
        } else if is_value(word) {
            named.values.insert(word.to_string());
        } else if ["broker", "node", "voter", "voters", "leader", "brokers"].contains(word) {
            let numbers = words[i + 1..].iter().take(3);
            for next in numbers.take_while(|w| w.parse::<u64>().is_ok() || **w == "and") {
                if let Ok(node) = next.parse() {
                    named.nodes.insert(node);
                }
            }
        }
    }
    let mut rest = violation;
    while let Some(at) = rest.find("t=") {
        rest = &rest[at + 2..];
        let first: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let after = &rest[first.len()..];
        let second = (after.strip_prefix("..")).map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        let ends_ms = match &second {
            Some(second) => after[2 + second.len()..].starts_with("ms"),
            None => after.starts_with("ms"),
        };
        if ends_ms {
            for number in [Some(first), second].into_iter().flatten() {
                if let Ok(ms) = number.parse() {
                    named.times_ms.insert(ms);
                }
            }
        }
    }
    named
}

/// A record value of the workload: `p2-45` (a producer's), `x0-3-1` (a transaction's),
/// `cx0-3-1` (consume-transform-produce output), `eve-7` (the intruder's).
fn is_value(word: &str) -> bool {
    let letters: String = word.chars().take_while(char::is_ascii_lowercase).collect();
    let rest = &word[letters.len()..];
    let numbers: Vec<&str> = rest.split('-').collect();
    let numeric = |parts: &[&str]| {
        (parts.iter()).all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    match letters.as_str() {
        "eve" => rest.starts_with('-') && numeric(&numbers[1..]),
        "" => false,
        _ => numbers.len() >= 2 && numeric(&numbers),
    }
}

fn digits(text: &str) -> Option<i64> {
    let number: String = text.chars().take_while(char::is_ascii_digit).collect();
    number.parse().ok()
}

/// The history's events that hold what `named` names, by time (at most [`INVOLVED_MAX`]).
pub(crate) fn involved(named: &Named, events: &[(u64, Event)]) -> Vec<Involved> {
    let txn = named.transactional();
    let value = |v: &str| named.values.contains(v);
    let at = |partition: i32, offset: i64| named.positions.contains(&(partition, offset));
    let mut found = Vec::new();
    let mut push =
        |at_ms: u64, lane: LaneKey, text: String| found.push(Involved { at_ms, lane, text });
    for (at_ms, event) in events {
        let at_ms = *at_ms;
        match event {
            Event::Send {
                producer,
                partition,
                value: v,
            } if value(v) => push(
                at_ms,
                LaneKey::Producer(*producer),
                format!("producer {producer} sends {v} to partition {partition}"),
            ),
            Event::Sent {
                producer,
                partition,
                value: v,
                outcome,
            } => {
                let offset = match outcome {
                    SendOutcome::Ok { offset } => Some(*offset),
                    _ => None,
                };
                if value(v) || offset.is_some_and(|o| !txn && at(*partition, o)) {
                    push(
                        at_ms,
                        LaneKey::Producer(*producer),
                        format!("producer {producer}'s {v} to partition {partition}: {}", outcome_words(outcome)),
                    );
                }
            }
            Event::Poll {
                consumer,
                partition,
                offset,
                value: v,
            } if value(v) || (!txn && at(*partition, *offset)) => push(
                at_ms,
                LaneKey::Consumer(*consumer),
                format!("consumer {consumer} polls {v} at p{partition}@{offset}"),
            ),
            Event::TxnSent {
                producer,
                txn: t,
                partition,
                value: v,
                outcome,
            } if value(v) => push(
                at_ms,
                LaneKey::TxnProducer(*producer),
                format!(
                    "transactional producer {producer} (transaction {t}) {v} to p{partition}: {}",
                    outcome_words(outcome)
                ),
            ),
            Event::TxnEnd {
                producer,
                txn: t,
                commit,
                outcome,
                invoked_ms,
            } if named.transactions.contains(&(*producer, *t)) => push(
                at_ms,
                LaneKey::TxnProducer(*producer),
                format!(
                    "transactional producer {producer} ends transaction {t}: {} sent at {invoked_ms} \
                     ms, {outcome:?}",
                    if *commit { "commit" } else { "abort" }
                ),
            ),
            Event::TxnPoll {
                consumer,
                partition,
                offset,
                value: v,
                lso,
                ..
            } if value(v) || (txn && at(*partition, *offset)) => push(
                at_ms,
                LaneKey::TxnReader(*consumer),
                format!(
                    "read_committed reader {consumer} reads {v} at p{partition}@{offset} (LSO {lso})"
                ),
            ),
            Event::FinalRead {
                partition,
                log_start,
                high_watermark,
                records,
            } if !txn => {
                let held: BTreeSet<i64> = records.iter().map(|(o, _)| *o).collect();
                for (offset, v) in records {
                    if value(v) || at(*partition, *offset) {
                        push(
                            at_ms,
                            LaneKey::FinalRead,
                            format!("the final read finds {v} at p{partition}@{offset}"),
                        );
                    }
                }
                for (p, offset) in &named.positions {
                    if p == partition && !held.contains(offset) {
                        push(
                            at_ms,
                            LaneKey::FinalRead,
                            format!(
                                "the final read of p{partition} ({log_start}..{high_watermark}) \
                                 has no record at @{offset}"
                            ),
                        );
                    }
                }
            }
            Event::TxnFinalRead {
                partition, records, ..
            } if txn => {
                for (offset, v) in records {
                    if value(v) || at(*partition, *offset) {
                        push(
                            at_ms,
                            LaneKey::FinalRead,
                            format!(
                                "the transactional final read finds {v} at p{partition}@{offset}"
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|i| i.at_ms);
    found.truncate(INVOLVED_MAX);
    found
}

fn outcome_words(outcome: &SendOutcome) -> String {
    match outcome {
        SendOutcome::Ok { offset } => format!("acknowledged at offset {offset}"),
        SendOutcome::Fail { code } => format!("failed (error {code})"),
        SendOutcome::Unknown { why } => format!("unknown ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_names_values_positions_times_and_nodes() {
        let n = named(
            "non-monotonic sends: producer 0: p0-903 acknowledged at 2557 after p0-892 at 2557 \
             (t=33451ms)",
        );
        assert_eq!(
            n.values,
            BTreeSet::from(["p0-903".to_string(), "p0-892".to_string()])
        );
        assert_eq!(n.times_ms, BTreeSet::from([33451]));
        let n = named("duplicate with idempotence: p1-7 at p2@10 and @14");
        assert_eq!(n.positions, BTreeSet::from([(2, 10), (2, 14)]));
        let n = named(
            "broker 3 answered a Metadata request of a connection that never logged in \
             (t=120..480ms); voters 1 and 2 both led it",
        );
        assert_eq!(n.times_ms, BTreeSet::from([120, 480]));
        assert_eq!(n.nodes, BTreeSet::from([1, 2, 3]));
        let n =
            named("aborted read (G1a): reader 0: x1-4-2 at p0@7, cx1-4-2, eve-12, Some(\"p3-1\")");
        assert!(n.transactional());
        assert_eq!(n.values.len(), 4, "{:?}", n.values);
        let n = named("uncommitted read: x1-0-0 at p0@0 of producer 1's transaction 0, whose");
        assert_eq!(n.transactions, BTreeSet::from([(1, 0)]));
        assert!(!is_value("p0") && !is_value("k-1") && !is_value("t-1a") && is_value("p10-0"));
    }

    #[test]
    fn the_events_holding_them_are_found() {
        let events = vec![
            (
                5,
                Event::Send {
                    producer: 0,
                    partition: 1,
                    value: "p0-3".into(),
                },
            ),
            (
                9,
                Event::Sent {
                    producer: 0,
                    partition: 1,
                    value: "p0-3".into(),
                    outcome: SendOutcome::Ok { offset: 4 },
                },
            ),
            (
                12,
                Event::Poll {
                    consumer: 1,
                    partition: 1,
                    offset: 4,
                    value: "p2-0".into(),
                },
            ),
            (
                50,
                Event::FinalRead {
                    partition: 1,
                    log_start: 0,
                    high_watermark: 4,
                    records: vec![(3, "p1-9".into())],
                },
            ),
        ];
        let found = involved(
            &named("lost acknowledged write: p0-3 acknowledged at p1@4 is not in the final log"),
            &events,
        );
        let lanes: Vec<(u64, LaneKey)> = found.iter().map(|i| (i.at_ms, i.lane.clone())).collect();
        assert_eq!(
            lanes,
            vec![
                (5, LaneKey::Producer(0)),
                (9, LaneKey::Producer(0)),
                (12, LaneKey::Consumer(1)),
                (50, LaneKey::FinalRead)
            ]
        );
        assert!(
            found[3].text.contains("has no record at @4"),
            "{}",
            found[3].text
        );
    }
}
