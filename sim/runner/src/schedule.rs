//! The items of a run's schedule that `cargo sim --shrink` may leave out, and the text of a kept
//! set (`--schedule TEXT`, printed by the shrink so its result replays).
//!
//! A run's schedule is every fault and client operation it did, each one an [`Item`] named so
//! that the same name means the same thing in another run of the seed: a nemesis step by its
//! number, a fault point's firing by the point and how many times it had fired before, a
//! producer's batch by the producer and its number. The simulator (`rill_sim::schedule`) says
//! how a run leaves items out; this module only names them.
//!
//! The text lists what is kept, one group per kind, groups joined by `;`:
//! `nemesis=0,3,7-9;crash-after-produce-ack=0;p0=0-40,45-80;p1=0-12`. `nemesis` lists nemesis
//! steps, a fault point's name lists its firings, `pN` lists producer N's batches; a number
//! range `a-b` includes both ends. A kind without a group keeps nothing of it; `none` keeps
//! nothing at all.

use std::collections::{BTreeMap, BTreeSet};

/// One fault or client operation of a run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// The nemesis' step `n` (from 0): one kill, pause, clog, partition, disk window, role
    /// fault, … (a kill and its restart are one step).
    Nemesis(u32),
    /// Firing `nth` (from 0) of the named fault point (a crash point, or one that acts).
    Point { name: String, nth: u32 },
    /// Batch `batch` (from 0) of the data topic's producer `producer`.
    Batch { producer: u32, batch: u32 },
}

impl Item {
    /// Whether it is a fault (the rest are client operations).
    pub fn is_fault(&self) -> bool {
        !matches!(self, Item::Batch { .. })
    }
}

/// The `--schedule` text of a kept set (see the module docs).
pub fn format_kept(kept: &BTreeSet<Item>) -> String {
    // A group's key sorts nemesis first, then points by name, then producers by number.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Group<'a> {
        Nemesis,
        Point(&'a str),
        Producer(u32),
    }
    let mut groups: BTreeMap<Group, Vec<u32>> = BTreeMap::new();
    for item in kept {
        let (group, n) = match item {
            Item::Nemesis(n) => (Group::Nemesis, *n),
            Item::Point { name, nth } => (Group::Point(name), *nth),
            Item::Batch { producer, batch } => (Group::Producer(*producer), *batch),
        };
        groups.entry(group).or_default().push(n);
    }
    if groups.is_empty() {
        return "none".into();
    }
    let texts: Vec<String> = (groups.into_iter())
        .map(|(group, numbers)| {
            let key = match group {
                Group::Nemesis => "nemesis".to_string(),
                Group::Point(name) => name.to_string(),
                Group::Producer(producer) => format!("p{producer}"),
            };
            format!("{key}={}", ranges(&numbers))
        })
        .collect();
    texts.join(";")
}

/// `0,3,7-9` of sorted numbers.
fn ranges(numbers: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        out.push(match start == end {
            true => start.to_string(),
            false => format!("{start}-{end}"),
        });
        i += 1;
    }
    out.join(",")
}

/// Parses a kept set's text (see the module docs). Fault point names are checked by the
/// simulator, which knows them: here any kebab-case name is taken.
pub fn parse_kept(text: &str) -> Result<BTreeSet<Item>, String> {
    let text = text.trim();
    let mut kept = BTreeSet::new();
    if text == "none" {
        return Ok(kept);
    }
    for group in text.split(';').map(str::trim).filter(|g| !g.is_empty()) {
        let shape = || {
            format!(
                "--schedule: '{group}' is not KIND=LIST (nemesis=0,3-5, a fault point's \
                 name=0, or pN=0-40)"
            )
        };
        let (key, list) = group.split_once('=').ok_or_else(shape)?;
        let numbers = parse_numbers(list.trim()).map_err(|e| format!("--schedule: {key}: {e}"))?;
        let key = key.trim();
        let producer = (key.strip_prefix('p'))
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|rest| rest.parse::<u32>().ok());
        for n in numbers {
            kept.insert(match (key, producer) {
                ("nemesis", _) => Item::Nemesis(n),
                (_, Some(producer)) => Item::Batch { producer, batch: n },
                (name, None) if is_kebab(name) => Item::Point {
                    name: name.to_string(),
                    nth: n,
                },
                _ => return Err(shape()),
            });
        }
    }
    Ok(kept)
}

fn is_kebab(name: &str) -> bool {
    !name.is_empty()
        && name.contains('-')
        && (name.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `0,3,7-9` → 0, 3, 7, 8, 9.
fn parse_numbers(list: &str) -> Result<Vec<u32>, String> {
    let mut numbers = Vec::new();
    for part in list.split(',').map(str::trim) {
        let number = |text: &str| {
            text.parse::<u32>()
                .map_err(|_| format!("'{part}' is not a number or a range a-b"))
        };
        match part.split_once('-') {
            Some((start, end)) => {
                let (start, end) = (number(start)?, number(end)?);
                if end < start {
                    return Err(format!("the range '{part}' ends before it starts"));
                }
                numbers.extend(start..=end);
            }
            None => numbers.push(number(part)?),
        }
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, nth: u32) -> Item {
        Item::Point {
            name: name.into(),
            nth,
        }
    }

    #[test]
    fn a_kept_set_round_trips_through_its_text() {
        let mut kept: BTreeSet<Item> = [0, 3, 7, 8, 9].into_iter().map(Item::Nemesis).collect();
        kept.insert(point("crash-after-produce-ack", 0));
        kept.insert(point("crash-during-recovery", 1));
        kept.insert(point("crash-during-recovery", 2));
        for batch in (0..=40).chain(45..=80) {
            kept.insert(Item::Batch { producer: 0, batch });
        }
        kept.insert(Item::Batch {
            producer: 12,
            batch: 5,
        });
        kept.insert(Item::Batch {
            producer: 2,
            batch: 1,
        });
        let text = format_kept(&kept);
        assert_eq!(
            text,
            "nemesis=0,3,7-9;crash-after-produce-ack=0;crash-during-recovery=1-2;p0=0-40,45-80;\
             p2=1;p12=5"
        );
        assert_eq!(parse_kept(&text).unwrap(), kept);
        assert_eq!(format_kept(&BTreeSet::new()), "none");
        assert_eq!(parse_kept("none").unwrap(), BTreeSet::new());
        assert_eq!(
            parse_kept(" nemesis = 1 ; p3=2-3 ").unwrap(),
            BTreeSet::from([
                Item::Nemesis(1),
                Item::Batch {
                    producer: 3,
                    batch: 2
                },
                Item::Batch {
                    producer: 3,
                    batch: 3
                }
            ])
        );
    }

    #[test]
    fn a_bad_schedule_says_what_is_expected() {
        for bad in [
            "nemesis",
            "nemesis=a",
            "nemesis=3-1",
            "Kill=1",
            "p=1",
            "x=1",
        ] {
            let error = parse_kept(bad).unwrap_err();
            assert!(error.starts_with("--schedule"), "{bad}: {error}");
        }
        assert!(parse_kept("nemesis=3-1")
            .unwrap_err()
            .contains("ends before"));
    }
}
