//! The compacted topic's checks (`workload::compacted`): what a reader may see while the
//! cleaner rewrites the log, and after.
//!
//! * Every record read is one that was written, with its key, at offsets that only go up.
//! * Under durable acks, a pass begun after a record's acknowledgement reads exactly that
//!   record at its offset (before it, the offset may have held a record a crash then lost).
//! * Under durable acks, a pass begun after a key's latest acknowledged write reads that
//!   write or a newer record of the key: compaction removes a record only once a newer one of
//!   its key exists. When that latest write is a tombstone the pass may read nothing of the
//!   key (the tombstone went after `delete.retention.ms`), but never an older value as the
//!   key's last — unless the pass itself took longer than `delete.retention.ms` (Kafka's own
//!   limit: a reader slower than that can miss a tombstone the cleaner removed behind it,
//!   and a value's newer tombstone too). A write whose outcome is unknown may be a newer
//!   record (or tombstone) of its key. A pass reads until it caught up with the high
//!   watermark, so a newer record written while it ran is in it.
//!
//! A bit flip at rest in the compacted log (`Event::CompactDamaged`) excuses every record
//! from the destroyed batch on: recovery cuts the log there.

use std::collections::BTreeMap;

use super::{Promises, Report};
use crate::history::{Event, SendOutcome};
use crate::workload::compacted::DELETE_RETENTION_MS;

/// How much earlier than its swap a clean may have stamped a tombstone's delete horizon
/// (the job's time is taken when it is planned; slow fsyncs delay the swap).
const SWAP_MARGIN_MS: u64 = 500;

/// One acknowledged write of the compacted topic.
struct Acked<'a> {
    key: u32,
    value: Option<&'a str>,
    at_ms: u64,
}

pub(super) fn check(safety: &mut Report, events: &[(u64, Event)], promises: Promises) {
    let mut sent_key: BTreeMap<&str, u32> = BTreeMap::new();
    let mut acked: BTreeMap<i64, Acked> = BTreeMap::new();
    // Per key, the tombstones written: the offset of an acknowledged one, `None` for one
    // whose outcome is unknown (it may be anywhere after the writes before it).
    let mut tombstones: BTreeMap<u32, Vec<Option<i64>>> = BTreeMap::new();
    // (at_ms, first offset) of each bit flip in the compacted log.
    let mut damages: Vec<(u64, i64)> = Vec::new();
    for (at_ms, event) in events {
        match event {
            Event::CompactSent {
                key,
                value,
                outcome,
            } => {
                if let Some(value) = value {
                    sent_key.insert(value, *key);
                }
                let offset = match outcome {
                    SendOutcome::Ok { offset } => Some(*offset),
                    _ => None,
                };
                if let Some(offset) = offset {
                    acked.insert(
                        offset,
                        Acked {
                            key: *key,
                            value: value.as_deref(),
                            at_ms: *at_ms,
                        },
                    );
                }
                if value.is_none() {
                    tombstones.entry(*key).or_default().push(offset);
                }
            }
            Event::CompactDamaged { first_offset, .. } => damages.push((*at_ms, *first_offset)),
            _ => {}
        }
    }
    for (end_ms, event) in events {
        match event {
            Event::CompactPass {
                started_ms,
                records,
                ..
            } => {
                // Bit flips before the pass ended: records from their batch on may be gone.
                let damaged_from = (damages.iter())
                    .filter(|(at_ms, _)| at_ms <= end_ms)
                    .map(|(_, first)| *first)
                    .min()
                    .unwrap_or(i64::MAX);
                let pass = Pass {
                    started_ms: *started_ms,
                    end_ms: *end_ms,
                    records,
                    damaged_from,
                };
                pass.check_records(safety, &sent_key, &acked, promises);
                if promises.durable_acks {
                    pass.check_latest(safety, &acked, &tombstones);
                }
            }
            Event::Fault {
                kind: "compact-corrupt-read",
                detail,
            } => {
                let offset: i64 = (detail.split(':').next())
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(i64::MIN);
                let excused =
                    (damages.iter()).any(|(at_ms, first)| at_ms <= end_ms && *first <= offset);
                if !excused {
                    safety.add("corrupt compacted record served", detail.clone());
                }
            }
            _ => {}
        }
    }
}

struct Pass<'a> {
    started_ms: u64,
    end_ms: u64,
    records: &'a [(i64, u32, Option<String>)],
    damaged_from: i64,
}

impl Pass<'_> {
    fn check_records(
        &self,
        safety: &mut Report,
        sent_key: &BTreeMap<&str, u32>,
        acked: &BTreeMap<i64, Acked>,
        promises: Promises,
    ) {
        let mut previous: Option<i64> = None;
        for (offset, key, value) in self.records {
            if previous.is_some_and(|p| p >= *offset) {
                safety.add(
                    "compacted read out of order",
                    format!(
                        "pass from {} ms: {offset} after {previous:?}",
                        self.started_ms
                    ),
                );
            }
            previous = Some(*offset);
            if *offset >= self.damaged_from {
                continue;
            }
            if let Some(value) = value {
                if sent_key.get(value.as_str()) != Some(key) {
                    safety.add(
                        "compacted record never written",
                        format!("k{key} = {value} at {offset}"),
                    );
                }
            }
            // Before its acknowledgement the offset may have held a record a crash then lost
            // (not durable yet, so its offset was given again).
            let Some(a) = acked.get(offset).filter(|a| a.at_ms < self.started_ms) else {
                continue;
            };
            if promises.durable_acks && (a.key, a.value) != (*key, value.as_deref()) {
                safety.add(
                    "compacted record changed",
                    format!(
                        "{offset} acknowledged as k{} = {:?}, read as k{key} = {value:?}",
                        a.key, a.value
                    ),
                );
            }
        }
    }

    /// Each key's latest write acknowledged before the pass began survives in it (see the
    /// module docs).
    fn check_latest(
        &self,
        safety: &mut Report,
        acked: &BTreeMap<i64, Acked>,
        tombstones: &BTreeMap<u32, Vec<Option<i64>>>,
    ) {
        let mut latest: BTreeMap<u32, (i64, &Acked)> = BTreeMap::new();
        for (offset, a) in acked {
            if a.at_ms < self.started_ms {
                latest.insert(a.key, (*offset, a));
            }
        }
        let mut read: BTreeMap<u32, i64> = BTreeMap::new();
        for (offset, key, _) in self.records {
            read.insert(*key, *offset);
        }
        // The horizon counts from the clean's start, a little before its swap: a margin.
        let slow = self.end_ms - self.started_ms > DELETE_RETENTION_MS - SWAP_MARGIN_MS;
        for (key, (offset, a)) in latest {
            if offset >= self.damaged_from {
                continue;
            }
            // A tombstone of the key after this write (or one whose outcome is unknown).
            let deleted_later =
                (tombstones.get(&key).into_iter().flatten()).any(|t| t.is_none_or(|t| t > offset));
            let last_read = read.get(&key).copied();
            let kept = match (a.value, last_read) {
                (_, Some(last)) if last >= offset => true,
                // The tombstone went after its retention (with all it deleted).
                (None, None) => true,
                (Some(_), None) => deleted_later,
                // An older value read as the key's last: the tombstone that deleted it, and
                // everything before, went behind a pass slower than delete.retention.ms.
                (None, Some(_)) => slow,
                (Some(_), Some(_)) => slow && deleted_later,
            };
            if !kept {
                safety.add(
                    "compacted latest record lost",
                    format!(
                        "k{key} = {:?} acknowledged at {offset} ({} ms); the pass from {} ms \
                         read k{key} last at {last_read:?}",
                        a.value, a.at_ms, self.started_ms
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::checker::{check, Promises};
    use crate::history::{Event, SendOutcome};

    const DURABLE: Promises = Promises {
        durable_acks: true,
        idempotent: false,
        replicated: false,
        min_insync_replicas: 1,
    };

    fn sent(at_ms: u64, key: u32, value: Option<&str>, offset: Option<i64>) -> (u64, Event) {
        let outcome = match offset {
            Some(offset) => SendOutcome::Ok { offset },
            None => SendOutcome::Unknown {
                why: "timeout".into(),
            },
        };
        (
            at_ms,
            Event::CompactSent {
                key,
                value: value.map(str::to_string),
                outcome,
            },
        )
    }

    fn pass(started_ms: u64, end_ms: u64, records: &[(i64, u32, Option<&str>)]) -> (u64, Event) {
        (
            end_ms,
            Event::CompactPass {
                started_ms,
                records: records
                    .iter()
                    .map(|(o, k, v)| (*o, *k, v.map(str::to_string)))
                    .collect(),
                last: false,
            },
        )
    }

    fn violations(events: &[(u64, Event)]) -> Vec<String> {
        check(events, DURABLE).safety
    }

    #[test]
    fn a_pass_must_read_each_key_s_latest_acknowledged_value_or_a_newer_record() {
        let history = vec![
            sent(10, 0, Some("k0-1"), Some(0)),
            sent(20, 0, Some("k0-2"), Some(1)),
            sent(30, 1, Some("k1-3"), Some(2)),
        ];
        let mut ok = history.clone();
        ok.push(pass(
            100,
            150,
            &[(1, 0, Some("k0-2")), (2, 1, Some("k1-3"))],
        ));
        assert_eq!(violations(&ok), Vec::<String>::new());
        // Written after the pass began: not required.
        let mut late = history.clone();
        late.push(sent(120, 1, Some("k1-4"), Some(3)));
        late.push(pass(
            100,
            150,
            &[(1, 0, Some("k0-2")), (2, 1, Some("k1-3"))],
        ));
        assert_eq!(violations(&late), Vec::<String>::new());
        // The older value kept, the latest removed: what the canary does.
        let mut lost = history.clone();
        lost.push(pass(
            100,
            150,
            &[(0, 0, Some("k0-1")), (2, 1, Some("k1-3"))],
        ));
        let v = violations(&lost);
        assert!(
            v.len() == 1 && v[0].starts_with("compacted latest record lost: k0"),
            "{v:?}"
        );
        // A key gone entirely.
        let mut gone = history.clone();
        gone.push(pass(100, 150, &[(1, 0, Some("k0-2"))]));
        assert_eq!(violations(&gone).len(), 1);
        // A value at the wrong offset, or one never written.
        let mut changed = history;
        changed.push(pass(
            100,
            150,
            &[(1, 0, Some("k0-1")), (2, 1, Some("k1-9"))],
        ));
        let v = violations(&changed);
        assert!(
            v.iter().any(|v| v.starts_with("compacted record changed"))
                && v.iter()
                    .any(|v| v.starts_with("compacted record never written")),
            "{v:?}"
        );
        // Before its acknowledgement an offset may have held another record, which a crash
        // took back (seed 21 of 1..=64: k3-449 read at 441 before a kill, k1-450 acknowledged
        // at 441 after it).
        let mut reused = vec![
            sent(10, 0, Some("k0-1"), Some(0)),
            sent(20, 1, Some("k1-2"), None),
        ];
        reused.push(pass(25, 30, &[(0, 0, Some("k0-1")), (1, 1, Some("k1-2"))]));
        reused.push(sent(40, 0, Some("k0-3"), Some(1)));
        reused.push(pass(50, 60, &[(1, 0, Some("k0-3"))]));
        assert_eq!(violations(&reused), Vec::<String>::new());
    }

    #[test]
    fn a_tombstone_may_go_but_never_leave_an_older_value_behind_a_fast_pass() {
        let history = vec![
            sent(10, 0, Some("k0-1"), Some(0)),
            sent(20, 0, None, Some(1)),
        ];
        for records in [vec![], vec![(1, 0, None)]] {
            let mut ok = history.clone();
            ok.push(pass(100, 150, &records));
            assert_eq!(violations(&ok), Vec::<String>::new(), "{records:?}");
        }
        let mut back = history.clone();
        back.push(pass(100, 150, &[(0, 0, Some("k0-1"))]));
        assert_eq!(violations(&back).len(), 1, "the deleted value is back");
        // A pass slower than delete.retention.ms may have read the value before the clean
        // that removed both: Kafka's own limit.
        let mut slow = history;
        slow.push(pass(100, 100 + 2_001, &[(0, 0, Some("k0-1"))]));
        assert_eq!(violations(&slow), Vec::<String>::new());
        // Likewise a value's newer tombstone written while a slow pass ran (the pass read an
        // older value, the clean removed the value, the tombstone went at its horizon).
        let during = vec![
            sent(10, 0, Some("k0-1"), Some(0)),
            sent(20, 0, Some("k0-2"), Some(1)),
            sent(200, 0, None, Some(2)),
        ];
        let mut fast = during.clone();
        fast.push(pass(100, 1_000, &[(0, 0, Some("k0-1"))]));
        assert_eq!(violations(&fast).len(), 1);
        let mut slow = during;
        slow.push(pass(100, 100 + 2_001, &[(0, 0, Some("k0-1"))]));
        assert_eq!(violations(&slow), Vec::<String>::new());
    }

    #[test]
    fn unknown_tombstones_and_bit_flips_excuse_what_they_may_have_removed() {
        let history = vec![
            sent(10, 0, Some("k0-1"), Some(0)),
            sent(20, 0, None, None),
            sent(30, 1, Some("k1-2"), Some(2)),
        ];
        let mut deleted = history.clone();
        deleted.push(pass(100, 150, &[(2, 1, Some("k1-2"))]));
        assert_eq!(violations(&deleted), Vec::<String>::new());
        let mut flipped = history;
        flipped.push((
            90,
            Event::CompactDamaged {
                first_offset: 2,
                last_offset: 2,
            },
        ));
        flipped.push(pass(100, 150, &[]));
        assert_eq!(
            violations(&flipped).len(),
            0,
            "k0 may be deleted, k1 was in the destroyed batch"
        );
        // Without a durable promise nothing acknowledged is held.
        let mut lost = vec![sent(10, 0, Some("k0-1"), Some(0))];
        lost.push(pass(100, 150, &[]));
        let loose = Promises {
            durable_acks: false,
            ..DURABLE
        };
        assert!(check(&lost, loose).safety.is_empty());
        assert_eq!(violations(&lost).len(), 1);
    }
}
