//! Checks a run's [`History`] for delivery-guarantee violations, Jepsen style.
//!
//! What may legitimately happen depends on what the configuration promises: with acks=all and
//! the fsync-before-ack flush policy an acknowledged record survives any crash; otherwise a
//! crash may lose (and later reuse) offsets that were acknowledged. Consumers may always see
//! records that a crash later loses (the high watermark of one node is its log end, as in
//! Kafka), so polls are compared with the final log only in runs without crashes.

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

pub fn check(events: &[(u64, Event)], promises: Promises) -> Verdict {
    let mut verdict = Verdict::default();
    let crashed = events
        .iter()
        .any(|(_, e)| matches!(e, Event::Fault { kind: "kill", .. }));
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
            } => safety.add("corrupt record served", detail.clone()),
            _ => {}
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
