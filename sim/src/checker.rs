//! Checks a run's [`History`] for delivery-guarantee violations, Jepsen style.
//!
//! What may legitimately happen depends on what the configuration promises: with acks=all and
//! the fsync-before-ack flush policy an acknowledged record survives any crash; otherwise a
//! crash may lose (and later reuse) offsets that were acknowledged. Consumers may always see
//! records that a crash later loses (the high watermark of one node is its log end, as in
//! Kafka), so polls are compared with the final log only in runs without crashes.
//!
//! Disk errors (`sim/src/storage.rs`): a failed fsync may drop unsynced bytes (fsyncgate), so
//! it counts as a crash for what was acknowledged without durability; acknowledgements that a
//! durable promise covers must survive EIO, ENOSPC and fsyncgate. A bit flip at rest in a
//! segment destroys one batch (`Event::DamagedBatch`): the records acknowledged in it before
//! the flip may be lost (and their offsets reused), and a corrupt read at its offsets is
//! excused; any other loss or corrupt read is still a violation.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{Event, SendOutcome};

/// What the run's configuration promises.
#[derive(Clone, Copy, Debug)]
pub struct Promises {
    /// acks=all + fsync before ack: acknowledged records survive crashes.
    pub durable_acks: bool,
    /// Idempotent producers: no duplicates.
    pub idempotent: bool,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub safety: Vec<String>,
    pub liveness: Vec<String>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.safety.is_empty() && self.liveness.is_empty()
    }
}

/// Violations are capped per kind so a broken run still prints a readable report.
const REPORTED_PER_CHECK_MAX: usize = 5;

struct Report<'a> {
    out: &'a mut Vec<String>,
    counts: BTreeMap<&'static str, usize>,
}

impl Report<'_> {
    fn add(&mut self, check: &'static str, detail: String) {
        let n = self.counts.entry(check).or_default();
        *n += 1;
        if *n <= REPORTED_PER_CHECK_MAX {
            self.out.push(format!("{check}: {detail}"));
        }
    }

    fn finish(self) {
        for (check, n) in self.counts {
            if n > REPORTED_PER_CHECK_MAX {
                self.out.push(format!(
                    "{check}: … and {} more",
                    n - REPORTED_PER_CHECK_MAX
                ));
            }
        }
    }
}

/// A batch destroyed by a bit flip at `at_ms`.
struct Damage {
    at_ms: u64,
    partition: i32,
    offsets: std::ops::RangeInclusive<i64>,
}

fn damages(events: &[(u64, Event)]) -> Vec<Damage> {
    events
        .iter()
        .filter_map(|(at_ms, event)| match event {
            Event::DamagedBatch {
                partition,
                first_offset,
                last_offset,
            } => Some(Damage {
                at_ms: *at_ms,
                partition: *partition,
                offsets: *first_offset..=*last_offset,
            }),
            _ => None,
        })
        .collect()
}

/// Whether a record at `partition@offset`, first sent at `at_ms`, may have been in a batch a
/// later bit flip destroyed. The send time, not the acknowledgement's: an answer written
/// before the kill may reach the producer after the flip.
fn damaged(damages: &[Damage], at_ms: u64, partition: i32, offset: i64) -> bool {
    damages
        .iter()
        .any(|d| d.partition == partition && d.offsets.contains(&offset) && at_ms <= d.at_ms)
}

/// The partition and offset of a `corrupt-read` fault ("partition P at O: …").
fn corrupt_read_position(detail: &str) -> Option<(i32, i64)> {
    let rest = detail.strip_prefix("partition ")?;
    let (partition, rest) = rest.split_once(" at ")?;
    let offset = rest.split(':').next()?;
    Some((partition.parse().ok()?, offset.parse().ok()?))
}

pub fn check(events: &[(u64, Event)], promises: Promises) -> Verdict {
    let mut verdict = Verdict::default();
    // A failed fsync may have dropped unsynced bytes: for acknowledgements without a durable
    // promise (and for polls) that is a crash.
    let crashed = events.iter().any(|(_, e)| {
        matches!(
            e,
            Event::Fault {
                kind: "kill" | "disk-fsync-eio",
                ..
            }
        )
    });
    let damages = damages(events);
    // Acknowledged records must stay where they were acknowledged unless a crash may lose them.
    let acks_are_binding = promises.durable_acks || !crashed;

    let mut finals: BTreeMap<i32, (i64, i64, BTreeMap<i64, String>)> = BTreeMap::new();
    let mut safety = Report {
        out: &mut verdict.safety,
        counts: BTreeMap::new(),
    };
    for (_, event) in events {
        match event {
            Event::FinalRead {
                partition,
                log_start,
                high_watermark,
                records,
            } => {
                check_dense(
                    &mut safety,
                    *partition,
                    *log_start,
                    *high_watermark,
                    records,
                );
                let map = records.iter().cloned().collect();
                finals.insert(*partition, (*log_start, *high_watermark, map));
            }
            Event::FinalReadTimedOut { partition, detail } => {
                verdict
                    .liveness
                    .push(format!("final read of partition {partition}: {detail}"));
            }
            Event::Fault {
                kind: "corrupt-read",
                detail,
            } => {
                let excused = corrupt_read_position(detail).is_some_and(|(partition, offset)| {
                    damages
                        .iter()
                        .any(|d| d.partition == partition && d.offsets.contains(&offset))
                });
                if !excused {
                    safety.add("corrupt record served", detail.clone());
                }
            }
            _ => {}
        }
    }

    // When each record was first sent (a retry sends it again under the same value).
    let mut first_sent: BTreeMap<(u32, &str), u64> = BTreeMap::new();
    for (at_ms, event) in events {
        if let Event::Send {
            producer, value, ..
        } = event
        {
            first_sent
                .entry((*producer, value.as_str()))
                .or_insert(*at_ms);
        }
    }

    // One offset → one value, among acknowledgements (and against the final log).
    let mut acked: BTreeMap<(i32, i64), String> = BTreeMap::new();
    let mut last_ack_of_producer: BTreeMap<u32, (i64, String)> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::Sent {
            producer,
            partition,
            value,
            outcome: SendOutcome::Ok { offset },
        } = event
        else {
            continue;
        };
        let sent_at = first_sent
            .get(&(*producer, value.as_str()))
            .copied()
            .unwrap_or(*at_ms);
        if damaged(&damages, sent_at, *partition, *offset) {
            continue; // its batch was destroyed by a bit flip after it was acknowledged
        }
        if acks_are_binding {
            if let Some(other) = acked.insert((*partition, *offset), value.clone()) {
                if &other != value {
                    safety.add(
                        "inconsistent offset",
                        format!("p{partition}@{offset} acknowledged for both {other} and {value}"),
                    );
                }
            }
            if let Some((previous, previous_value)) =
                last_ack_of_producer.insert(*producer, (*offset, value.clone()))
            {
                if *offset <= previous {
                    safety.add(
                        "non-monotonic sends",
                        format!("producer {producer}: {value} acknowledged at {offset} after {previous_value} at {previous} (t={at_ms}ms)"),
                    );
                }
            }
            match finals.get(partition) {
                Some((log_start, _, records)) if *offset >= *log_start => match records.get(offset) {
                    Some(found) if found == value => {}
                    Some(found) => safety.add("inconsistent offset", format!("p{partition}@{offset} acknowledged for {value}, final log holds {found}")),
                    None => safety.add("lost acknowledged write", format!("{value} acknowledged at p{partition}@{offset} is not in the final log")),
                },
                // Below the log start: deleted by retention, which is allowed.
                Some(_) => {}
                None => {}
            }
        }
    }

    // Duplicates: one value at two offsets.
    if promises.idempotent {
        for (partition, (_, _, records)) in &finals {
            let mut seen: BTreeMap<&str, i64> = BTreeMap::new();
            for (offset, value) in records {
                if let Some(first) = seen.insert(value, *offset) {
                    safety.add(
                        "duplicate with idempotence",
                        format!("{value} at p{partition}@{first} and @{offset}"),
                    );
                }
            }
        }
    }

    check_polls(
        &mut safety,
        events,
        if crashed { None } else { Some(&finals) },
    );
    safety.finish();
    verdict
}

/// The final read of one partition covers exactly `log_start..high_watermark`, densely.
fn check_dense(
    report: &mut Report<'_>,
    partition: i32,
    log_start: i64,
    high_watermark: i64,
    records: &[(i64, String)],
) {
    let offsets: Vec<i64> = records.iter().map(|(o, _)| *o).collect();
    let expected: Vec<i64> = (log_start..high_watermark).collect();
    if offsets != expected {
        let first_gap = offsets
            .iter()
            .zip(&expected)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("found {a} where {b} belongs"));
        report.add(
            "offsets not dense",
            format!(
                "p{partition}: {} records for {log_start}..{high_watermark}; {}",
                offsets.len(),
                first_gap.unwrap_or_else(|| "length differs".into())
            ),
        );
    }
}

/// Polls on an unchanged assignment never go back or skip; without crashes, every polled
/// record is what the final log holds at that offset.
fn check_polls(
    report: &mut Report<'_>,
    events: &[(u64, Event)],
    finals: Option<&BTreeMap<i32, (i64, i64, BTreeMap<i64, String>)>>,
) {
    let mut position: BTreeMap<(u32, i32), i64> = BTreeMap::new();
    let mut values_seen: BTreeSet<(i32, i64, &str)> = BTreeSet::new();
    for (at_ms, event) in events {
        match event {
            Event::Reset {
                consumer,
                partition,
                ..
            } => {
                position.remove(&(*consumer, *partition));
            }
            Event::Poll {
                consumer,
                partition,
                offset,
                value,
            } => {
                if let Some(previous) = position.insert((*consumer, *partition), *offset) {
                    if *offset != previous + 1 {
                        report.add(
                            "poll went back or skipped",
                            format!("consumer {consumer} p{partition}: {offset} after {previous} (t={at_ms}ms)"),
                        );
                    }
                }
                values_seen.insert((*partition, *offset, value.as_str()));
            }
            _ => {}
        }
    }
    let Some(finals) = finals else { return };
    for (partition, offset, value) in values_seen {
        if let Some((log_start, _, records)) = finals.get(&partition) {
            if offset >= *log_start && records.get(&offset).map(String::as_str) != Some(value) {
                report.add(
                    "inconsistent offset",
                    format!(
                        "p{partition}@{offset} polled as {value}, final log holds {:?}",
                        records.get(&offset)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(producer: u32, value: &str, offset: i64) -> (u64, Event) {
        (
            1,
            Event::Sent {
                producer,
                partition: 0,
                value: value.into(),
                outcome: SendOutcome::Ok { offset },
            },
        )
    }

    fn final_read(records: &[(i64, &str)]) -> (u64, Event) {
        let hw = records.last().map_or(0, |(o, _)| o + 1);
        (
            9,
            Event::FinalRead {
                partition: 0,
                log_start: 0,
                high_watermark: hw,
                records: records.iter().map(|(o, v)| (*o, v.to_string())).collect(),
            },
        )
    }

    const DURABLE: Promises = Promises {
        durable_acks: true,
        idempotent: true,
    };

    #[test]
    fn a_clean_history_passes() {
        let events = vec![
            sent(1, "a", 0),
            sent(1, "b", 1),
            (
                5,
                Event::Poll {
                    consumer: 0,
                    partition: 0,
                    offset: 0,
                    value: "a".into(),
                },
            ),
            final_read(&[(0, "a"), (1, "b")]),
        ];
        assert!(check(&events, DURABLE).ok());
    }

    #[test]
    fn each_violation_is_reported() {
        let lost = vec![sent(1, "a", 0), sent(1, "b", 1), final_read(&[(0, "a")])];
        assert!(check(&lost, DURABLE).safety[0].starts_with("lost acknowledged write"));
        let inconsistent = vec![sent(1, "a", 0), final_read(&[(0, "x")])];
        assert!(check(&inconsistent, DURABLE).safety[0].starts_with("inconsistent offset"));
        let duplicate = vec![sent(1, "a", 0), final_read(&[(0, "a"), (1, "a")])];
        assert!(check(&duplicate, DURABLE).safety[0].starts_with("duplicate with idempotence"));
        let backwards = vec![
            sent(1, "a", 1),
            sent(1, "b", 0),
            final_read(&[(0, "b"), (1, "a")]),
        ];
        assert!(check(&backwards, DURABLE).safety[0].starts_with("non-monotonic sends"));
        let skip = vec![
            (
                1,
                Event::Poll {
                    consumer: 0,
                    partition: 0,
                    offset: 0,
                    value: "a".into(),
                },
            ),
            (
                2,
                Event::Poll {
                    consumer: 0,
                    partition: 0,
                    offset: 2,
                    value: "c".into(),
                },
            ),
            final_read(&[(0, "a"), (1, "b"), (2, "c")]),
        ];
        assert!(check(&skip, DURABLE).safety[0].starts_with("poll went back or skipped"));
        let gap = vec![(
            9,
            Event::FinalRead {
                partition: 0,
                log_start: 0,
                high_watermark: 3,
                records: vec![(0, "a".into()), (2, "c".into())],
            },
        )];
        assert!(check(&gap, DURABLE).safety[0].starts_with("offsets not dense"));
        let stuck = vec![(
            9,
            Event::FinalReadTimedOut {
                partition: 0,
                detail: "x".into(),
            },
        )];
        assert_eq!(check(&stuck, DURABLE).liveness.len(), 1);
    }

    fn fault(at_ms: u64, kind: &'static str, detail: &str) -> (u64, Event) {
        (
            at_ms,
            Event::Fault {
                kind,
                detail: detail.into(),
            },
        )
    }

    #[test]
    fn a_damaged_batch_excuses_exactly_its_records() {
        let flip = (
            5,
            Event::DamagedBatch {
                partition: 0,
                first_offset: 1,
                last_offset: 2,
            },
        );
        // b and c were in the destroyed batch; their offsets are reused by d and e.
        let mut events = vec![sent(1, "a", 0), sent(1, "b", 1)];
        // c was sent before the flip; its acknowledgement arrived after it.
        let send_c = Event::Send {
            producer: 2,
            partition: 0,
            value: "c".into(),
        };
        events.extend([(4, send_c), flip]);
        let mut ack_c = sent(2, "c", 2);
        ack_c.0 = 6;
        events.push(ack_c);
        events.push((
            6,
            Event::Sent {
                producer: 1,
                partition: 0,
                value: "d".into(),
                outcome: SendOutcome::Ok { offset: 1 },
            },
        ));
        events.push(fault(
            7,
            "corrupt-read",
            "partition 0 at 2: undecodable records: crc",
        ));
        let mut passing = events.clone();
        passing.push(final_read(&[(0, "a"), (1, "d")]));
        assert!(
            check(&passing, DURABLE).ok(),
            "{:?}",
            check(&passing, DURABLE)
        );
        // Losing a record outside the batch is still a violation...
        let mut lost = events.clone();
        lost.push(final_read(&[(0, "x"), (1, "d")]));
        assert!(check(&lost, DURABLE).safety[0].starts_with("inconsistent offset"));
        // ...and so is a record acknowledged after the flip, and a corrupt read elsewhere.
        let mut late = events.clone();
        late.push(final_read(&[(0, "a")]));
        assert!(check(&late, DURABLE).safety[0].starts_with("lost acknowledged write"));
        let mut corrupt = passing.clone();
        corrupt.push(fault(
            8,
            "corrupt-read",
            "partition 0 at 0: undecodable records: crc",
        ));
        assert!(check(&corrupt, DURABLE).safety[0].starts_with("corrupt record served"));
    }

    #[test]
    fn a_failed_fsync_excuses_only_acks_that_were_not_durable() {
        let events = vec![
            sent(1, "a", 0),
            fault(2, "disk-fsync-eio", "broker 1 t-0/0.log"),
            final_read(&[]),
        ];
        let not_durable = Promises {
            durable_acks: false,
            idempotent: true,
        };
        assert!(check(&events, not_durable).ok());
        assert!(check(&events, DURABLE).safety[0].starts_with("lost acknowledged write"));
        let full = vec![
            sent(1, "a", 0),
            fault(2, "disk-enospc", ""),
            final_read(&[]),
        ];
        assert!(!check(&full, not_durable).ok());
    }

    #[test]
    fn a_crash_excuses_lost_acks_only_when_acks_were_not_durable() {
        let kill = (
            2,
            Event::Fault {
                kind: "kill",
                detail: String::new(),
            },
        );
        let events = vec![sent(1, "a", 0), kill, final_read(&[])];
        assert!(check(
            &events,
            Promises {
                durable_acks: false,
                idempotent: true
            }
        )
        .ok());
        assert!(!check(&events, DURABLE).ok());
    }
}
