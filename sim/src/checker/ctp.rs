//! Exactly-once for consume-transform-produce (`workload::ctp`; issue 15), over the final
//! read_committed read of the output topic, the group's final committed offsets, and what the
//! transactional producers (`workload::txn`) wrote to the input topic:
//!
//! * **No duplicate**: no transformed value `c{v}` appears twice in the committed output (a
//!   round's output committed without its offsets, or an aborted round's output surfacing
//!   beside its retry's).
//! * **Output of a committed input only**: every output value names an input value a
//!   read_committed reader may see — one of a transaction that may have committed. Reported
//!   as an aborted read (G1a), which it is, by the worker.
//! * **Output with its offsets**: an output value's input lies below the group's final
//!   committed offset of its partition (the output committed, its offset commit with it).
//! * **Nothing skipped**: every value of the input partition below the group's final committed
//!   offset whose transaction committed for sure (EndTxn(commit) answered NONE), acknowledged
//!   at its offset, appears in the output (a round's offsets committed without its output).
//! * **Liveness**: the output's final read finds each partition's LSO at its HW, and the
//!   group's final OffsetFetch (require_stable) no commit pending.
//!
//! What excuses (as `checker::txn`): everything, where the claims let acknowledged writes be
//! lost during the run (`acks_all_binding(0)`), or a bit flip at rest hit `__consumer_offsets`,
//! `__transaction_state` or the output topic; a bit flip in an input partition excuses that
//! partition. The group has no members, so the broker expires each of its offsets
//! `OFFSETS_RETENTION_MS` after its commit: where a partition's committed offset may have
//! outlived that (no later commit for sure within it) and a round then found none, the worker
//! read the partition again from its start, so duplicates are excused there; and a final
//! fetch that finds none where it may have expired excuses outputs past it.

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::history::{Event, SendOutcome, TxnOutcome};
use crate::workload::ctp::{input_of, CTP_GROUP, CTP_OUT_TOPIC};
use crate::workload::txn::{parse_value, TXN_TOPIC};
use crate::workload::OFFSETS_RETENTION_MS;

/// Margin under the retention within which an offset is taken as possibly expired.
const RETENTION_SLACK_MS: u64 = 300;

/// The partition of the input topic a disk fault's detail names ("broker N sim-txn-P/…").
fn input_partition_of(detail: &str) -> Option<i32> {
    let prefix = format!("{TXN_TOPIC}-");
    let rest = &detail[detail.find(&prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A round that committed for sure: (when it ended, when its TxnOffsetCommit was sent).
type Committed = (u64, u64);

/// Whether `round` may have committed its offsets.
fn may_have_committed(commit: bool, outcome: &TxnOutcome) -> bool {
    commit && matches!(outcome, TxnOutcome::Ok | TxnOutcome::Unknown { .. })
}

pub(super) fn check(
    safety: &mut Report<'_>,
    liveness: &mut Vec<String>,
    events: &[(u64, Event)],
    acks_all_binding: &dyn Fn(u64) -> bool,
) {
    // (producer, txn) → its end (commit asked, outcome), if recorded.
    let mut txns: BTreeMap<(u32, u32), Option<(bool, &TxnOutcome)>> = BTreeMap::new();
    // Input value → (partition, produce outcome).
    let mut sent: BTreeMap<&str, (i32, &SendOutcome)> = BTreeMap::new();
    // Input value → the offset a worker read it at.
    let mut read_at: BTreeMap<&str, i64> = BTreeMap::new();
    let mut rounds: BTreeMap<i32, Vec<Committed>> = BTreeMap::new();
    // Per input partition, whether a round found no committed offset after an earlier round
    // may have committed one (the offset expired, or was lost).
    let mut may_have: BTreeSet<i32> = BTreeSet::new();
    let mut vanished: BTreeSet<i32> = BTreeSet::new();
    let mut final_offsets: Option<(u64, BTreeMap<i32, i64>)> = None;
    let mut outputs: BTreeMap<i32, (i64, i64, &[(i64, String)])> = BTreeMap::new();
    let mut flipped_inputs: BTreeSet<i32> = BTreeSet::new();
    let mut flipped_elsewhere = false;
    for (at_ms, event) in events {
        match event {
            Event::TxnBegin { producer, txn, .. } => {
                txns.insert((*producer, *txn), None);
            }
            Event::TxnEnd {
                producer,
                txn,
                commit,
                outcome,
                ..
            } => {
                txns.insert((*producer, *txn), Some((*commit, outcome)));
            }
            Event::TxnSent {
                partition,
                value,
                outcome,
                ..
            } => {
                sent.insert(value, (*partition, outcome));
            }
            Event::CtpRound {
                input_partition,
                from,
                inputs,
                offsets_invoked_ms,
                commit,
                outcome,
                ..
            } => {
                if *from < 0 && may_have.contains(input_partition) {
                    vanished.insert(*input_partition);
                }
                if may_have_committed(*commit, outcome) {
                    may_have.insert(*input_partition);
                }
                for (offset, value) in inputs {
                    read_at.entry(value.as_str()).or_insert(*offset);
                }
                if let (true, TxnOutcome::Ok, Some(invoked)) = (commit, outcome, offsets_invoked_ms)
                {
                    let committed = rounds.entry(*input_partition).or_default();
                    committed.push((*at_ms, *invoked));
                }
            }
            Event::CtpFinalOffsets { offsets } => {
                final_offsets = Some((*at_ms, offsets.iter().copied().collect()));
            }
            Event::CtpFinalRead {
                partition,
                lso,
                hw,
                records,
            } => {
                outputs.insert(*partition, (*lso, *hw, records));
            }
            Event::TxnDamaged { partition, .. } => {
                flipped_inputs.insert(*partition);
            }
            Event::Fault {
                kind: "disk-bit-flip",
                detail,
            } => {
                if let Some(partition) = input_partition_of(detail) {
                    flipped_inputs.insert(partition);
                }
                if ["__consumer_offsets", "__transaction_state", CTP_OUT_TOPIC]
                    .iter()
                    .any(|name| detail.contains(name))
                {
                    flipped_elsewhere = true;
                }
            }
            _ => {}
        }
    }
    if outputs.is_empty() {
        return;
    }
    if flipped_elsewhere || !acks_all_binding(0) {
        return;
    }

    // Liveness: no round left open once the workers stopped.
    let mut stuck = Vec::new();
    for (partition, (lso, hw, _)) in &outputs {
        if lso < hw {
            stuck.push(format!(
                "read_committed final read of {CTP_OUT_TOPIC} p{partition}: the LSO stayed at {lso} below the HW {hw} (a consume-transform-produce round left open)"
            ));
        }
    }
    if let Some((_, offsets)) = &final_offsets {
        if offsets.is_empty() {
            stuck.push(format!(
                "no stable OffsetFetch of the group {CTP_GROUP} after the workers stopped (a transactional offset commit left pending)"
            ));
        }
    }
    super::report_capped(liveness, stuck, "consume-transform-produce liveness");

    // Where the group's committed offset may have expired.
    let final_at = final_offsets.as_ref().map(|(at, _)| *at);
    let may_expire = |partition: i32| {
        let committed = rounds.get(&partition).map_or(&[][..], Vec::as_slice);
        let ends = (committed.iter().skip(1).map(|(ended, _)| *ended)).chain(final_at);
        (committed.iter().zip(ends)).any(|((_, invoked), next)| {
            next.saturating_sub(*invoked) + RETENTION_SLACK_MS >= OFFSETS_RETENTION_MS
        })
    };
    let may_commit = |value: &str| {
        let Some((producer, txn, _)) = parse_value(value) else {
            return None;
        };
        match txns.get(&(producer, txn))? {
            Some((true, TxnOutcome::Ok | TxnOutcome::Unknown { .. })) | None => Some(true),
            Some(_) => Some(false),
        }
    };

    // Every output value, with how often it appears.
    let mut seen: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for (partition, (_, _, records)) in &outputs {
        for (offset, value) in records.iter() {
            seen.entry(value.as_str())
                .or_default()
                .push((*partition, *offset));
        }
    }
    let finals = final_offsets.as_ref().map(|(_, offsets)| offsets);
    for (output, places) in &seen {
        let how = format!("{output:?} at {CTP_OUT_TOPIC} {places:?}");
        let input = input_of(output);
        let Some((input, (partition, _))) = input.and_then(|i| Some((i, *sent.get(i)?))) else {
            safety.add(
                "consume-transform-produce output of no input value",
                format!("{how} names no value the transactional producers sent"),
            );
            continue;
        };
        if flipped_inputs.contains(&partition) {
            continue;
        }
        if may_commit(input) == Some(false) {
            safety.add(
                "aborted read (G1a) by a consume-transform-produce worker",
                format!("{how}: its input {input} (p{partition}) is of a transaction that cannot have committed"),
            );
        }
        if places.len() > 1 && !(vanished.contains(&partition) && may_expire(partition)) {
            safety.add(
                "duplicate consume-transform-produce output (not exactly-once)",
                format!(
                    "{how}: input {input} of p{partition} transformed and committed {} times",
                    places.len()
                ),
            );
        }
        let offset = read_at.get(input);
        let committed = finals.and_then(|f| f.get(&partition));
        if let (Some(offset), Some(committed)) = (offset, committed) {
            // An offset expired after the workers' last commit: the final fetch finds none.
            let expired = *committed < 0 && may_expire(partition);
            if offset >= committed && !expired {
                safety.add(
                    "consume-transform-produce output without its offset commit",
                    format!("{how}: input {input} at p{partition}@{offset}, but the group's final committed offset is {committed}"),
                );
            }
        }
    }

    // Nothing skipped: every input value committed for sure below the final offset was
    // transformed, where the output was read whole.
    let whole = (outputs.values()).all(|(lso, hw, _)| lso >= hw);
    let Some(finals) = finals else {
        return;
    };
    if !whole {
        return;
    }
    let mut missing: BTreeMap<i32, Vec<(i64, &str)>> = BTreeMap::new();
    for (value, (partition, outcome)) in &sent {
        let (Some(committed), SendOutcome::Ok { offset }) = (finals.get(partition), outcome) else {
            continue;
        };
        if offset >= committed || flipped_inputs.contains(partition) {
            continue;
        }
        let committed_for_sure = parse_value(value)
            .and_then(|(producer, txn, _)| txns.get(&(producer, txn)).copied().flatten())
            .is_some_and(|(commit, outcome)| commit && *outcome == TxnOutcome::Ok);
        if !committed_for_sure {
            continue;
        }
        let output = crate::workload::ctp::output_value(value);
        if !seen.contains_key(output.as_str()) {
            missing
                .entry(*partition)
                .or_default()
                .push((*offset, value));
        }
    }
    for (partition, mut values) in missing {
        values.sort_unstable();
        let committed = finals.get(&partition).copied().unwrap_or(-1);
        safety.add(
            "consume-transform-produce input skipped (not exactly-once)",
            format!(
                "{} committed values of {TXN_TOPIC} p{partition} below the group's final offset {committed} are not in the output, first {:?}",
                values.len(),
                &values[..values.len().min(5)]
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check as check_all, Promises};
    use super::*;

    const DURABLE: Promises = Promises {
        durable_acks: true,
        idempotent: true,
        replicated: false,
        min_insync_replicas: 1,
    };

    /// Producer 0's transaction 0 commits x0-0-0 and x0-0-1 at p0@0 and p0@1, transaction 1
    /// aborts x0-1-0 at p0@2; the worker commits its rounds every 100 ms.
    fn history() -> Vec<(u64, Event)> {
        let sent = |txn: u32, n: u32, offset: i64| Event::TxnSent {
            producer: 0,
            txn,
            partition: 0,
            value: format!("x0-{txn}-{n}"),
            outcome: SendOutcome::Ok { offset },
        };
        let end = |txn: u32, commit: bool| Event::TxnEnd {
            producer: 0,
            txn,
            commit,
            outcome: TxnOutcome::Ok,
            invoked_ms: 0,
        };
        let round = |at: u64, from: i64, to: i64, inputs: &[(i64, &str)]| {
            let event = Event::CtpRound {
                worker: 0,
                round: 0,
                input_partition: 0,
                from,
                to,
                inputs: inputs.iter().map(|(o, v)| (*o, v.to_string())).collect(),
                offsets_invoked_ms: Some(at - 10),
                commit: true,
                outcome: TxnOutcome::Ok,
                invoked_ms: at - 5,
            };
            (at, event)
        };
        vec![
            (
                1,
                Event::TxnBegin {
                    producer: 0,
                    txn: 0,
                    partitions: vec![0],
                },
            ),
            (2, sent(0, 0, 0)),
            (2, sent(0, 1, 1)),
            (3, end(0, true)),
            (
                4,
                Event::TxnBegin {
                    producer: 0,
                    txn: 1,
                    partitions: vec![0],
                },
            ),
            (5, sent(1, 0, 2)),
            (6, end(1, false)),
            round(100, 0, 2, &[(0, "x0-0-0"), (1, "x0-0-1")]),
            round(200, 2, 4, &[]),
            (
                250,
                Event::CtpFinalOffsets {
                    offsets: vec![(0, 4)],
                },
            ),
        ]
    }

    fn output(records: &[(i64, &str)]) -> (u64, Event) {
        let records: Vec<(i64, String)> =
            records.iter().map(|(o, v)| (*o, v.to_string())).collect();
        let hw = records.len() as i64 + 1;
        (
            300,
            Event::CtpFinalRead {
                partition: 0,
                lso: hw,
                hw,
                records,
            },
        )
    }

    fn first(events: &[(u64, Event)]) -> String {
        let verdict = check_all(events, DURABLE);
        (verdict.safety.iter())
            .find(|v| v.contains("consume-transform-produce") || v.contains("worker"))
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn exactly_once_passes_and_each_violation_is_reported() {
        let mut clean = history();
        clean.push(output(&[(0, "cx0-0-0"), (1, "cx0-0-1")]));
        assert_eq!(first(&clean), "");
        let mut twice = history();
        twice.push(output(&[(0, "cx0-0-0"), (1, "cx0-0-1"), (2, "cx0-0-0")]));
        assert!(first(&twice).starts_with("duplicate consume-transform-produce output"));
        let mut skipped = history();
        skipped.push(output(&[(0, "cx0-0-1")]));
        assert!(first(&skipped).starts_with("consume-transform-produce input skipped"));
        let mut aborted = history();
        aborted.push(output(&[(0, "cx0-0-0"), (1, "cx0-0-1"), (2, "cx0-1-0")]));
        assert!(first(&aborted).starts_with("aborted read (G1a) by a consume"));
        let mut unknown = history();
        unknown.push(output(&[(0, "cx0-0-0"), (1, "cx0-0-1"), (2, "cx9-9-9")]));
        assert!(first(&unknown).starts_with("consume-transform-produce output of no input"));
    }

    /// A round that finds no committed offset after a commit reads the partition again from
    /// its start: its duplicates are excused where the offset may have expired (no commit for
    /// `OFFSETS_RETENTION_MS`), not otherwise (the offset was lost).
    #[test]
    fn an_offset_that_may_have_expired_excuses_duplicates() {
        let again = |at: u64| {
            let mut events = history();
            events.retain(|(_, e)| !matches!(e, Event::CtpFinalOffsets { .. }));
            let event = Event::CtpRound {
                worker: 0,
                round: 2,
                input_partition: 0,
                from: -1,
                to: 4,
                inputs: vec![(0, "x0-0-0".into()), (1, "x0-0-1".into())],
                offsets_invoked_ms: Some(at - 10),
                commit: true,
                outcome: TxnOutcome::Ok,
                invoked_ms: at - 5,
            };
            events.push((at, event));
            let offsets = vec![(0, 4)];
            events.push((at + 10, Event::CtpFinalOffsets { offsets }));
            let records = [
                (0, "cx0-0-0"),
                (1, "cx0-0-1"),
                (2, "cx0-0-0"),
                (3, "cx0-0-1"),
            ];
            events.push(output(&records));
            events
        };
        assert_eq!(first(&again(200 + OFFSETS_RETENTION_MS)), "");
        assert!(first(&again(300)).starts_with("duplicate consume-transform-produce output"));
    }

    #[test]
    fn fault_details_name_their_input_partition() {
        assert_eq!(
            input_partition_of("broker 2 sim-txn-1/0.log BitFlip"),
            Some(1)
        );
        assert_eq!(input_partition_of("broker 2 sim-ctp-out-1/0.log"), None);
    }
}
