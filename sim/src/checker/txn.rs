//! The transactional topic's checks (`workload::txn`), Jepsen's classes for transactions
//! (the transactions plan, §6):
//!
//! * **Aborted read (G1a)**: no read_committed poll or final read returns a value of a
//!   transaction that cannot have committed — its producer never sent EndTxn(commit) (it
//!   asked to abort, or gave the transaction up and took a new epoch, which aborts it), or
//!   every EndTxn(commit) attempt was refused outright.
//! * **Uncommitted read**: a read_committed poll returns a value of transaction T only after
//!   T's EndTxn(commit) was first sent (a poll is recorded once its answer came, so after the
//!   broker served it). With G1a: the LSO never passes an open transaction.
//! * **LSO sanity**: every record a poll returns lies below its fetch's LSO, and the LSO is
//!   not above the HW.
//! * **All or nothing**: in the final read_committed read (every partition read once its LSO
//!   reached its HW), a transaction that may have committed has all of its values or none; one
//!   whose commit was answered NONE has all of them.
//! * **No control record surfaces**: every value read is `x{producer}-{txn}-{n}` of a
//!   transaction that began.
//! * **Liveness**: the final read finds every partition's LSO at its HW (no transaction left
//!   hanging after the producers stopped).
//!
//! What the claims excuse (`checker::claims`, acks=all, as `check` holds acknowledgements):
//! where a transaction's acknowledged writes (its records, its markers) may be lost since it
//! began, its values may be partly gone and a lost ABORT marker may let its records join the
//! producer's next transaction, so neither G1a nor all-or-nothing binds it; an LSO left below
//! the HW is a liveness failure only where nothing acknowledged may have been lost. A bit flip
//! at rest in a partition of the transactional topic (its batches, indexes, producer
//! snapshots) excuses every read of that partition after it and the transactions writing it;
//! one in `__transaction_state` excuses all-or-nothing and the hanging LSO everywhere, and G1a
//! for the transactions under way when it came (seed 14: the flip cut an acknowledged Ongoing
//! record from the coordinator's log, its EndTxn(abort) then found the previous transaction
//! complete and answered NONE with no marker, and the records joined the next transaction — as
//! on Kafka with the record lost).

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::history::{Event, SendOutcome, TxnOutcome};
use crate::workload::txn::{parse_value, TXN_TOPIC};

/// One transaction as its producer recorded it.
struct Txn<'a> {
    begin_ms: u64,
    partitions: &'a [i32],
    /// Each value sent, with its produce outcome.
    values: BTreeMap<&'a str, &'a SendOutcome>,
    /// (commit asked, outcome, when EndTxn was first sent or the transaction given up).
    end: Option<(bool, &'a TxnOutcome, u64)>,
    /// When its end was recorded.
    ended_ms: Option<u64>,
    /// Its producer, for the next identity it took.
    producer: u32,
}

impl Txn<'_> {
    /// EndTxn(commit) may have committed it.
    fn may_commit(&self) -> bool {
        matches!(
            self.end,
            Some((true, TxnOutcome::Ok | TxnOutcome::Unknown { .. }, _))
        )
    }

    /// It cannot have committed: its end is recorded and is no commit that may have happened.
    fn aborted(&self) -> bool {
        self.end.is_some() && !self.may_commit()
    }

    /// Its commit was answered NONE.
    fn committed(&self) -> bool {
        matches!(self.end, Some((true, TxnOutcome::Ok, _)))
    }

    /// When its EndTxn(commit) was first sent, if it was.
    fn commit_invoked_ms(&self) -> Option<u64> {
        match self.end {
            Some((true, _, invoked_ms)) => Some(invoked_ms),
            _ => None,
        }
    }
}

/// The partition of the transactional topic a disk fault's detail names
/// ("broker N sim-txn-P/…"), if any.
fn txn_partition_of(detail: &str) -> Option<i32> {
    let prefix = format!("{TXN_TOPIC}-");
    let rest = &detail[detail.find(&prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The partition and offset of a `txn-corrupt-read` fault ("partition P at O: …").
fn corrupt_read_position(detail: &str) -> Option<(i32, i64)> {
    let rest = detail.strip_prefix("partition ")?;
    let (partition, rest) = rest.split_once(" at ")?;
    let offset = rest.split(':').next()?;
    Some((partition.parse().ok()?, offset.parse().ok()?))
}

/// A value read that is no workload value of a transaction that began.
const NO_VALUE: &str = "transactional read of no workload value";

fn no_value(how: &str, partition: i32, offset: i64, value: &str) -> String {
    format!(
        "{how} of p{partition}@{offset} returned {value:?} (a control record, or a value never \
         sent)"
    )
}

/// The transaction (producer, txn) a value read belongs to, if it is a workload value of one
/// that began.
fn owner<'t, 'a>(
    txns: &'t BTreeMap<(u32, u32), Txn<'a>>,
    value: &str,
) -> Option<((u32, u32), &'t Txn<'a>)> {
    let (producer, txn, _) = parse_value(value)?;
    Some(((producer, txn), txns.get(&(producer, txn))?))
}

/// `acks_all_binding(sent_ms)`: whether the claims hold an acks=all acknowledgement of a
/// write first sent at `sent_ms` (no loss they allow happened since).
pub(super) fn check(
    safety: &mut Report<'_>,
    liveness: &mut Vec<String>,
    events: &[(u64, Event)],
    acks_all_binding: &dyn Fn(u64) -> bool,
) {
    let mut txns: BTreeMap<(u32, u32), Txn<'_>> = BTreeMap::new();
    // Per partition of the transactional topic, when its first bit flip at rest came.
    let mut flipped: BTreeMap<i32, u64> = BTreeMap::new();
    let mut state_flipped = false;
    // When each bit flip at rest in `__transaction_state` came.
    let mut state_flips: Vec<u64> = Vec::new();
    // When each producer took each new identity (its InitProducerId answered).
    let mut identities: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (at_ms, event) in events {
        match event {
            Event::TxnBegin {
                producer,
                txn,
                partitions,
            } => {
                let begun = Txn {
                    begin_ms: *at_ms,
                    partitions,
                    values: BTreeMap::new(),
                    end: None,
                    ended_ms: None,
                    producer: *producer,
                };
                txns.insert((*producer, *txn), begun);
            }
            Event::TxnSent {
                producer,
                txn,
                value,
                outcome,
                ..
            } => {
                if let Some(t) = txns.get_mut(&(*producer, *txn)) {
                    t.values.insert(value, outcome);
                }
            }
            Event::TxnEnd {
                producer,
                txn,
                commit,
                outcome,
                invoked_ms,
            } => {
                if let Some(t) = txns.get_mut(&(*producer, *txn)) {
                    t.end = Some((*commit, outcome, *invoked_ms));
                    t.ended_ms = Some(*at_ms);
                }
            }
            Event::TxnIdentity { producer, .. } => {
                identities.entry(*producer).or_default().push(*at_ms);
            }
            Event::TxnDamaged { partition, .. } => {
                flipped.entry(*partition).or_insert(*at_ms);
            }
            Event::Fault {
                kind: "disk-bit-flip",
                detail,
            } => {
                if detail.contains("__transaction_state") {
                    state_flipped = true;
                    state_flips.push(*at_ms);
                }
                if let Some(partition) = txn_partition_of(detail) {
                    flipped.entry(partition).or_insert(*at_ms);
                }
            }
            _ => {}
        }
    }
    let flipped_before =
        |partition: i32, at_ms: u64| flipped.get(&partition).is_some_and(|first| *first <= at_ms);
    // A coordinator record of `t` may have been lost: a flip in `__transaction_state` while
    // it was under way.
    // A transaction without a confirmed EndTxn (given up, or its end unanswered) stays open
    // at its coordinator until its producer's next identity aborts it (seed 452: the flip came
    // after the workload gave the transaction up, before its producer's re-init).
    let state_lost = |t: &Txn<'_>| {
        let confirmed = matches!(t.end, Some((_, TxnOutcome::Ok, _)));
        let until = match t.ended_ms {
            Some(ended) if confirmed => ended,
            ended => (identities.get(&t.producer).into_iter().flatten())
                .copied()
                .find(|at| *at >= ended.unwrap_or(t.begin_ms))
                .unwrap_or(u64::MAX),
        };
        (state_flips.iter()).any(|at| t.begin_ms <= *at && *at <= until)
    };
    let mut finals: BTreeMap<i32, (i64, i64, BTreeSet<&str>)> = BTreeMap::new();
    for (at_ms, event) in events {
        match event {
            Event::TxnPoll {
                consumer,
                partition,
                offset,
                value,
                lso,
                hw,
            } => {
                let how = format!("read_committed poll by reader {consumer} (t={at_ms}ms)");
                let Some(((producer, txn), t)) = owner(&txns, value) else {
                    safety.add(NO_VALUE, no_value(&how, *partition, *offset, value));
                    continue;
                };
                if flipped_before(*partition, *at_ms) {
                    continue;
                }
                if *offset >= *lso || *lso > *hw {
                    safety.add(
                        "read at or past the last stable offset",
                        format!("{how}: {value} at p{partition}@{offset}, the fetch answered LSO {lso}, HW {hw}"),
                    );
                }
                if t.aborted() {
                    if acks_all_binding(t.begin_ms) && !state_lost(t) {
                        safety.add(
                            "aborted read (G1a)",
                            format!("{how}: {value} at p{partition}@{offset} of producer {producer}'s transaction {txn}, which ended {:?}", t.end),
                        );
                    }
                    continue;
                }
                // A transaction whose end is not recorded (its producer was cut off) may
                // have sent its commit unrecorded.
                if t.end.is_none() {
                    continue;
                }
                match t.commit_invoked_ms() {
                    Some(invoked_ms) if invoked_ms <= *at_ms => {}
                    invoked => safety.add(
                        "uncommitted read",
                        format!("{how}: {value} at p{partition}@{offset} of producer {producer}'s transaction {txn}, whose commit was sent at {invoked:?}"),
                    ),
                }
            }
            Event::TxnFinalRead {
                partition,
                lso,
                hw,
                records,
            } => {
                let how = "read_committed final read";
                let mut values = BTreeSet::new();
                for (offset, value) in records {
                    let Some(((producer, txn), t)) = owner(&txns, value) else {
                        safety.add(NO_VALUE, no_value(how, *partition, *offset, value));
                        continue;
                    };
                    values.insert(value.as_str());
                    let binding = acks_all_binding(t.begin_ms)
                        && !flipped.contains_key(partition)
                        && !state_lost(t);
                    if t.aborted() && binding {
                        safety.add(
                            "aborted read (G1a)",
                            format!("{how}: {value} at p{partition}@{offset} of producer {producer}'s transaction {txn}, which ended {:?}", t.end),
                        );
                    }
                }
                finals.insert(*partition, (*lso, *hw, values));
            }
            Event::Fault {
                kind: "txn-corrupt-read",
                detail,
            } => {
                let excused = corrupt_read_position(detail)
                    .is_some_and(|(partition, _)| flipped_before(partition, *at_ms));
                if !excused {
                    safety.add("corrupt transactional record served", detail.clone());
                }
            }
            _ => {}
        }
    }

    // Liveness: no transaction left hanging once the producers stopped.
    let mut stuck = Vec::new();
    for (partition, (lso, hw, _)) in &finals {
        let excused = state_flipped || flipped.contains_key(partition) || !acks_all_binding(0);
        if lso < hw && !excused {
            stuck.push(format!(
                "read_committed final read of {TXN_TOPIC} p{partition}: the LSO stayed at {lso} below the HW {hw} (a transaction left open)"
            ));
        }
    }
    super::report_capped(liveness, stuck, "transaction liveness");

    // All or nothing, over every partition a transaction wrote, each read whole.
    if state_flipped {
        return;
    }
    for ((producer, txn), t) in &txns {
        if !t.may_commit() || !acks_all_binding(t.begin_ms) {
            continue;
        }
        let whole = |partition: &i32| {
            (finals.get(partition)).is_some_and(|(lso, hw, _)| lso >= hw)
                && !flipped.contains_key(partition)
        };
        if !t.partitions.iter().all(whole) {
            continue;
        }
        let acked = (t.values.values()).all(|o| matches!(o, SendOutcome::Ok { .. }));
        let present: Vec<&str> = (t.values.keys().copied())
            .filter(|value| (finals.values()).any(|(_, _, values)| values.contains(value)))
            .collect();
        let missing: Vec<&str> = (t.values.keys().copied())
            .filter(|value| !present.contains(value))
            .collect();
        if missing.is_empty() {
            continue;
        }
        if !present.is_empty() {
            safety.add(
                "partial transaction",
                format!(
                    "producer {producer}'s transaction {txn} (ended {:?}) has {} of its {} values in the final read; missing {:?}",
                    t.end,
                    present.len(),
                    t.values.len(),
                    &missing[..missing.len().min(5)]
                ),
            );
        } else if t.committed() && acked {
            safety.add(
                "committed transaction lost",
                format!(
                    "producer {producer}'s transaction {txn}, committed (answered NONE), has none of its {} values in the final read",
                    t.values.len()
                ),
            );
        }
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

    fn begin(at_ms: u64, txn: u32, partitions: &[i32]) -> (u64, Event) {
        let partitions = partitions.to_vec();
        (
            at_ms,
            Event::TxnBegin {
                producer: 0,
                txn,
                partitions,
            },
        )
    }

    fn sent(txn: u32, partition: i32, n: u32, offset: i64) -> (u64, Event) {
        let value = format!("x0-{txn}-{n}");
        let outcome = SendOutcome::Ok { offset };
        let event = Event::TxnSent {
            producer: 0,
            txn,
            partition,
            value,
            outcome,
        };
        (2, event)
    }

    fn end(at_ms: u64, txn: u32, commit: bool, outcome: TxnOutcome) -> (u64, Event) {
        let event = Event::TxnEnd {
            producer: 0,
            txn,
            commit,
            outcome,
            invoked_ms: at_ms,
        };
        (at_ms, event)
    }

    fn poll(at_ms: u64, partition: i32, offset: i64, value: &str) -> (u64, Event) {
        let event = Event::TxnPoll {
            consumer: 0,
            partition,
            offset,
            value: value.into(),
            lso: offset + 1,
            hw: offset + 1,
        };
        (at_ms, event)
    }

    fn final_read(partition: i32, records: &[(i64, &str)], hw: i64) -> (u64, Event) {
        let records = records.iter().map(|(o, v)| (*o, v.to_string())).collect();
        let event = Event::TxnFinalRead {
            partition,
            lso: hw,
            hw,
            records,
        };
        (100, event)
    }

    /// Transaction 0 commits over partitions 0 and 1, transaction 1 aborts on partition 0.
    fn history() -> Vec<(u64, Event)> {
        vec![
            begin(1, 0, &[0, 1]),
            sent(0, 0, 0, 0),
            sent(0, 1, 1, 0),
            end(10, 0, true, TxnOutcome::Ok),
            begin(11, 1, &[0]),
            sent(1, 0, 0, 2),
            end(20, 1, false, TxnOutcome::Ok),
            poll(15, 0, 0, "x0-0-0"),
        ]
    }

    fn clean_finals() -> Vec<(u64, Event)> {
        vec![
            final_read(0, &[(0, "x0-0-0")], 4),
            final_read(1, &[(0, "x0-0-1")], 2),
            final_read(2, &[], 0),
        ]
    }

    #[test]
    fn a_clean_transactional_history_passes() {
        let mut events = history();
        events.extend(clean_finals());
        let verdict = check_all(&events, DURABLE);
        assert!(verdict.ok(), "{verdict:?}");
    }

    #[test]
    fn each_transactional_violation_is_reported() {
        let first = |events: Vec<(u64, Event)>| {
            let verdict = check_all(&events, DURABLE);
            (verdict.safety.first().cloned())
                .or(verdict.liveness.first().cloned())
                .unwrap_or_default()
        };
        // An aborted value polled, and in the final read.
        let mut aborted = history();
        aborted.push(poll(25, 0, 2, "x0-1-0"));
        aborted.extend(clean_finals());
        assert!(first(aborted).starts_with("aborted read (G1a)"));
        let mut aborted = history();
        aborted.push(final_read(0, &[(0, "x0-0-0"), (2, "x0-1-0")], 4));
        assert!(first(aborted).starts_with("aborted read (G1a)"));
        // A committed value polled before its commit was sent.
        let mut early = history();
        early.push(poll(5, 1, 0, "x0-0-1"));
        early.extend(clean_finals());
        assert!(first(early).starts_with("uncommitted read"));
        // A control record surfacing.
        let mut control = history();
        control.push(poll(25, 0, 1, "\0\0\0\0"));
        control.extend(clean_finals());
        assert!(first(control).starts_with("transactional read of no workload value"));
        // Half a committed transaction in the final read.
        let mut partial = history();
        partial.extend([
            final_read(0, &[(0, "x0-0-0")], 4),
            final_read(1, &[], 2),
            final_read(2, &[], 0),
        ]);
        assert!(first(partial).starts_with("partial transaction"));
        // A transaction left open.
        let mut hanging = history();
        hanging.extend(clean_finals());
        if let Event::TxnFinalRead { lso, .. } = &mut hanging.last_mut().unwrap().1 {
            *lso = -1;
        }
        if let Event::TxnFinalRead { hw, .. } = &mut hanging.last_mut().unwrap().1 {
            *hw = 3;
        }
        let verdict = check_all(&hanging, DURABLE);
        assert!(verdict.safety.is_empty(), "{verdict:?}");
        assert!(verdict.liveness[0].contains("a transaction left open"));
    }

    /// Seeds 14 and 130: a bit flip in `__transaction_state` while a transaction was under way
    /// may cut its coordinator's record, and its records then join the producer's next
    /// transaction (as on Kafka with the record lost): G1a does not bind it. A flip before it
    /// began does not excuse it.
    #[test]
    fn a_coordinator_record_lost_to_a_flip_excuses_the_aborted_read() {
        let flip = |at_ms| {
            let detail = "broker 1 __transaction_state-1/00000000000000000000.log".to_string();
            let kind = "disk-bit-flip";
            (at_ms, Event::Fault { kind, detail })
        };
        let aborted_read = |events: &[(u64, Event)]| {
            let verdict = check_all(events, DURABLE);
            (verdict.safety.iter()).any(|v| v.starts_with("aborted read (G1a)"))
        };
        let mut during = history();
        during.extend([flip(15), poll(25, 0, 2, "x0-1-0")]);
        assert!(!aborted_read(&during));
        let mut before = history();
        before.extend([flip(5), poll(25, 0, 2, "x0-1-0")]);
        assert!(aborted_read(&before));
        // Seed 452: given up at 20 (no EndTxn answered), the transaction is open at the
        // coordinator until its producer's next identity (at 40): a flip at 30 excuses it, one
        // after the new identity does not.
        let gave_up = |flip_at: u64| {
            let mut events = history();
            let abandoned = TxnOutcome::Abandoned {
                why: "refused".into(),
            };
            events.retain(|(_, e)| !matches!(e, Event::TxnEnd { txn: 1, .. }));
            let identity = Event::TxnIdentity {
                producer: 0,
                producer_id: 7,
                epoch: 1,
            };
            events.extend([end(20, 1, false, abandoned), (40, identity), flip(flip_at)]);
            events.push(poll(50, 0, 2, "x0-1-0"));
            events
        };
        assert!(!aborted_read(&gave_up(30)));
        assert!(aborted_read(&gave_up(45)));
    }

    #[test]
    fn a_commit_without_an_answer_binds_all_or_nothing_only() {
        let unknown = TxnOutcome::Unknown {
            why: "timeout".into(),
        };
        let mut events = vec![
            begin(1, 0, &[0, 1]),
            sent(0, 0, 0, 0),
            sent(0, 1, 1, 0),
            end(10, 0, true, unknown),
        ];
        let mut none = events.clone();
        none.extend([
            final_read(0, &[], 2),
            final_read(1, &[], 2),
            final_read(2, &[], 0),
        ]);
        assert!(check_all(&none, DURABLE).ok());
        events.extend([
            final_read(0, &[(0, "x0-0-0")], 2),
            final_read(1, &[], 2),
            final_read(2, &[], 0),
        ]);
        assert!(check_all(&events, DURABLE).safety[0].starts_with("partial transaction"));
    }

    #[test]
    fn fault_details_name_their_partition() {
        assert_eq!(
            txn_partition_of("broker 2 sim-txn-1/0.log BitFlip"),
            Some(1)
        );
        assert_eq!(txn_partition_of("broker 2 sim-0/0.log BitFlip"), None);
        assert_eq!(
            corrupt_read_position("partition 2 at 17: crc"),
            Some((2, 17))
        );
    }
}
