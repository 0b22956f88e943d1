//! Checks a run's [`History`] for delivery-guarantee violations, Jepsen style.
//!
//! What may legitimately happen depends on what the configuration promises ([`claims`]), per
//! producer: an acks=all producer's acknowledged records survive any crash under the
//! fsync-before-ack flush policy; with replicas and min.insync.replicas >= 2 they also survive
//! lost data (a crash before a sync, a failed fsync, a wiped disk) of fewer than
//! min.insync.replicas brokers after the record was sent (KIP-966's eligible leader replicas
//! make this hold); otherwise a crash may lose (and later reuse) offsets that were
//! acknowledged. acks=0 sends have no acknowledgement at all. Consumers may always see records that a crash later
//! loses (the high watermark of one node is its log end, as in Kafka), so polls are compared
//! with the final log only in runs without crashes, and a re-read offset must return what it
//! returned before when no crash ran or the record is a durable acknowledged one.
//!
//! Liveness: a produce request (acks 1 or all) written once the cluster has been healthy for
//! [`SETTLE_MS`] must be answered, with success or an error, within
//! [`PRODUCE_ANSWER_BOUND_MS`].
//!
//! Disk errors (`sim/src/storage.rs`): a failed fsync may drop unsynced bytes (fsyncgate), so
//! it counts as a crash for what was acknowledged without durability; acknowledgements that a
//! durable promise covers must survive EIO, ENOSPC and fsyncgate. A bit flip at rest in a
//! segment destroys one batch (`Event::DamagedBatch`): the records acknowledged in it before
//! the flip may be lost (and their offsets reused), and a corrupt read at its offsets is
//! excused; any other loss or corrupt read is still a violation.
//!
//! Transactions (`txn`, runs with `workload::txn`): no read_committed read of an aborted or
//! not yet committed transaction, none at or past the LSO, each transaction all or nothing in
//! the final read_committed read, and no transaction left open after the producers stopped,
//! within the same claims for acks=all. Consume-transform-produce (`ctp`, runs with
//! `workload::ctp`): exactly-once — every committed input below the group's committed offset
//! transformed once, no output of an aborted input or without its offset commit.
//!
//! SASL (`sasl`, runs with `--sasl`): no login with a wrong password or an unknown user
//! accepted, no request answered before a login, PLAIN's users always let in, and the SCRAM
//! user let in where the broker must know it. ACLs (`acl`, the same runs): a logged-in user
//! with no ACL (the intruder) refused every write, read, group request and producer id, and
//! none of her records read. Client quotas (`quota`, runs with `workload::quota`): a producer
//! that ignores its throttle still held to its `producer_byte_rate` at every broker that
//! applied the quota.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{Event, RequestEnd, SendOutcome};

mod acl;
mod compaction;
mod consumer_group;
mod ctp;
mod group_progress;
mod groups;
mod quorum;
pub mod quota;
pub mod replicas;
mod sasl;
mod txn;

/// After `Event::Healed`, the cluster gets this long to recover before requests are held to
/// the liveness bound (a restarted broker recovers its log first).
pub const SETTLE_MS: u64 = 3000;
/// A produce request written after the settle time must be answered within this long: the
/// broker's request timeout (2 s, `timeout.ms`) plus a margin. The workload's producers wait
/// exactly this long before giving up on an answer.
pub const PRODUCE_ANSWER_BOUND_MS: u64 = 5000;

/// What the run's configuration promises.
#[derive(Clone, Copy, Debug)]
pub struct Promises {
    /// fsync before acknowledging acks=all: an acks=all producer's acknowledged records
    /// survive crashes.
    pub durable_acks: bool,
    /// Whether producers without an `Event::Producer` are idempotent (no duplicates).
    pub idempotent: bool,
    /// The data topic has replicas on several brokers: any fault (a pause, a cut network) may
    /// move a partition's leadership, and a new leader has only what was replicated, so an
    /// acks=1 acknowledgement binds only in runs without faults. acks=all binds as without
    /// replicas: the in-sync replicas, the new leader among them, had it (under fsync-before-ack
    /// on their disks: a follower under `flush.messages=1` shows its leader only synced
    /// records), and consumers read only what they all have.
    pub replicated: bool,
    /// The data topic's min.insync.replicas: with replicas and 2 or more, an acks=all
    /// acknowledgement survives the loss (a crash before a sync, a failed fsync, a wiped disk)
    /// of fewer than this many brokers' data ([`claims`]).
    pub min_insync_replicas: u8,
}

/// What the run's configuration claims to survive, in words (issue 14's "claims"): the
/// checker holds every acknowledgement to exactly these rules (`check`'s `acks_are_binding`),
/// and the run records them in its history (`Event::Claims`). `min_insync_replicas` is the
/// data topic's; `empty_disks` whether the nemesis may wipe a broker's data disk once (only
/// drawn where the claim below covers it).
pub fn claims(promises: Promises, min_insync_replicas: u8, empty_disks: bool) -> String {
    let mut claims = Vec::new();
    let quorum = promises.replicated && min_insync_replicas >= 2;
    match (promises.durable_acks, quorum) {
        (true, false) => claims.push(
            "acks=all: every acknowledged record survives any crashes and restarts of any \
             brokers (flush.messages=1: on the disk of every in-sync replica before the \
             acknowledgement)"
                .to_owned(),
        ),
        (true, true) => claims.push(format!(
            "acks=all: every acknowledged record survives any crashes and restarts of any \
             brokers (flush.messages=1), and wiped data disks unless at least \
             min.insync.replicas={min_insync_replicas} brokers lost data after it was sent (it \
             was on that many disks; the eligible leader replicas of KIP-966 lead before a \
             replica that lost it)"
        )),
        (false, true) => claims.push(format!(
            "acks=all: an acknowledged record survives unless at least \
             min.insync.replicas={min_insync_replicas} brokers lost data (a crash before a \
             sync, a wiped disk) after it was sent, or an fsync failed (it was in that many \
             replicas' memory; the high watermark stays under min.insync.replicas, so a replica \
             that left the ISR then may lead: KIP-966)"
        )),
        (false, false) => claims.push(
            "acks=all: acknowledged records survive only in runs without crashes (no fsync \
             before the acknowledgement)"
                .to_owned(),
        ),
    }
    claims.push(match promises.replicated {
        true => "acks=1: acknowledged records survive only in runs without any fault (a \
                 failover loses what was above the high watermark)"
            .to_owned(),
        false => "acks=1: acknowledged records survive only in runs without crashes".to_owned(),
    });
    claims.push("acks=0: nothing (never acknowledged)".to_owned());
    claims.push(
        "consumers: no offset's value ever changes, reads are in order; replicas agree wherever \
         two hold an offset"
            .to_owned(),
    );
    if empty_disks && !quorum {
        claims.push("(an empty disk here is not covered by any claim)".to_owned());
    }
    claims.join("; ")
}

/// Each producer's acks and idempotence, from its `Event::Producer` (acks=all and the run's
/// idempotence when it has none), and which producer sent each value.
struct Producers {
    settings: BTreeMap<u32, (i16, bool)>,
    value_producer: BTreeMap<String, u32>,
    default_idempotent: bool,
}

impl Producers {
    fn of(events: &[(u64, Event)], promises: Promises) -> Self {
        let mut producers = Producers {
            settings: BTreeMap::new(),
            value_producer: BTreeMap::new(),
            default_idempotent: promises.idempotent,
        };
        for (_, event) in events {
            match event {
                Event::Producer {
                    producer,
                    acks,
                    idempotent,
                    ..
                } => {
                    producers.settings.insert(*producer, (*acks, *idempotent));
                }
                Event::Send {
                    producer, value, ..
                } => {
                    producers.value_producer.insert(value.clone(), *producer);
                }
                _ => {}
            }
        }
        producers
    }

    fn acks(&self, producer: u32) -> i16 {
        self.settings.get(&producer).map_or(-1, |s| s.0)
    }

    fn idempotent_value(&self, value: &str) -> bool {
        self.value_producer
            .get(value)
            .and_then(|p| self.settings.get(p))
            .map_or(self.default_idempotent, |s| s.1)
    }
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

/// Unit tests of a checker module: what `check` reports of `events`, as (safety, liveness).
#[cfg(test)]
fn verdict_of(
    check: fn(&mut Report, &mut Vec<String>, &[(u64, Event)]),
    events: &[(u64, Event)],
) -> (Vec<String>, Vec<String>) {
    let (mut safety, mut liveness) = (Vec::new(), Vec::new());
    let mut report = Report {
        out: &mut safety,
        counts: BTreeMap::new(),
    };
    check(&mut report, &mut liveness, events);
    report.finish();
    (safety, liveness)
}

/// A batch destroyed by a bit flip at `at_ms`.
struct Damage {
    at_ms: u64,
    partition: i32,
    offsets: std::ops::RangeInclusive<i64>,
}

/// Each fault that may have lost a broker's data: when, which broker, and whether its whole
/// data disk went (`empty-disk`; its kill is listed too). A kill loses what was not synced; a
/// failed fsync may drop unsynced bytes (fsyncgate).
fn data_losses(events: &[(u64, Event)]) -> Vec<(u64, u64, bool)> {
    let broker = |detail: &str| {
        let rest = detail.strip_prefix("broker ")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    };
    (events.iter())
        .filter_map(|(at_ms, event)| match event {
            Event::Fault {
                kind: kind @ ("kill" | "disk-fsync-eio" | "empty-disk"),
                detail,
            } => Some((*at_ms, broker(detail)?, *kind == "empty-disk")),
            _ => None,
        })
        .collect()
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
    // With replicas, any fault may move a leadership: what the new leader lacks is what was
    // above the high watermark, which only an acks=1 acknowledgement can name (acks=all waits
    // for the in-sync replicas, the new leader among them; consumers read below it).
    let moved =
        promises.replicated && (events.iter()).any(|(_, e)| matches!(e, Event::Fault { .. }));
    let damages = damages(events);
    let producers = Producers::of(events, promises);
    let losses = data_losses(events);
    // A failed fsync cuts the replica's log back to its last good sync while it stays in the
    // ISR (Kafka would take its log directory offline and the controller drop the replica):
    // with no fsync per append, that may cut acknowledged records on a replica that can lead.
    let fsync_failed_since = |from_ms: u64| {
        (events.iter()).any(|(at_ms, e)| {
            *at_ms >= from_ms
                && matches!(
                    e,
                    Event::Fault {
                        kind: "disk-fsync-eio",
                        ..
                    }
                )
        })
    };
    // Brokers that lost data at or after `from_ms`, and whether a disk was wiped then.
    let lost_since = |from_ms: u64| {
        let since = losses.iter().filter(|(at_ms, _, _)| *at_ms >= from_ms);
        let brokers: BTreeSet<u64> = since.clone().map(|(_, node, _)| *node).collect();
        (brokers.len(), since.clone().any(|(_, _, wiped)| *wiped))
    };
    let quorum = promises.replicated && promises.min_insync_replicas >= 2;
    let min_isr = usize::from(promises.min_insync_replicas);
    // A producer's acknowledged records must stay where they were acknowledged unless the
    // claims (`claims`) let the faults since the record was first sent lose them.
    // An acks=all acknowledgement of a write first sent at `sent_ms` binds (transactional
    // writes are acks=all too: `txn::check`).
    let acks_all_binding = |sent_ms: u64| {
        if promises.durable_acks {
            let (brokers, wiped) = lost_since(sent_ms);
            !(wiped && brokers >= min_isr)
        } else if quorum {
            lost_since(sent_ms).0 < min_isr && !fsync_failed_since(sent_ms)
        } else {
            !crashed
        }
    };
    let acks_are_binding = |producer: u32, sent_ms: u64| match producers.acks(producer) {
        -1 => acks_all_binding(sent_ms),
        _ => !crashed && !moved,
    };
    let durable = |producer: u32| promises.durable_acks && producers.acks(producer) == -1;
    check_request_liveness(&mut verdict.liveness, events);

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
    // Acknowledged records no crash may lose: a re-read must find them unchanged.
    let mut durable_acked: BTreeMap<(i32, i64), (String, u64)> = BTreeMap::new();
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
        let binding = acks_are_binding(*producer, sent_at);
        if durable(*producer) && binding {
            durable_acked.insert((*partition, *offset), (value.clone(), *at_ms));
        }
        if binding {
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

    // Duplicates: one value of an idempotent producer at two offsets.
    {
        for (partition, (_, _, records)) in &finals {
            let mut seen: BTreeMap<&str, i64> = BTreeMap::new();
            for (offset, value) in records {
                if !producers.idempotent_value(value) {
                    continue;
                }
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
    check_rereads(&mut safety, events, crashed, &durable_acked);
    groups::check(&mut safety, events, promises);
    consumer_group::check(&mut safety, events, promises);
    let damaged = |partition: i32, offset: i64| {
        (damages.iter()).any(|d| d.partition == partition && d.offsets.contains(&offset))
    };
    group_progress::check_at_least_once(&mut safety, events, promises, &damaged);
    group_progress::check_liveness(&mut verdict.liveness, events);
    compaction::check(&mut safety, events, promises);
    quorum::check(&mut safety, events);
    quorum::check_brokers(&mut safety, &mut verdict.liveness, events);
    quorum::check_topics(&mut verdict.liveness, events);
    quorum::check_partition_epochs(&mut safety, events);
    quorum::check_appends_led(&mut safety, events);
    quorum::check_applied_prefix(&mut safety, events);
    quorum::check_terms_led(&mut safety, events);
    quorum::check_votes_kept(&mut safety, events);
    quorum::check_commit_rule(&mut safety, events);
    quorum::check_new_replicas_empty(&mut safety, events);
    quorum::check_no_strays(&mut verdict.liveness, events);
    quorum::check_producer_ids(&mut safety, events);
    replicas::check(&mut safety, events);
    replicas::check_caught_up(&mut verdict.liveness, events);
    txn::check(
        &mut safety,
        &mut verdict.liveness,
        events,
        &acks_all_binding,
    );
    ctp::check(
        &mut safety,
        &mut verdict.liveness,
        events,
        &acks_all_binding,
    );
    sasl::check(&mut safety, &mut verdict.liveness, events);
    acl::check(&mut safety, &mut verdict.liveness, events);
    quota::check(&mut safety, &mut verdict.liveness, events);
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
            }
            | Event::Seek {
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

/// A re-read offset returns what it returned before, whenever that is promised: in a run
/// without crashes any two reads of an offset agree; with crashes, every read made after a
/// durable acknowledgement of that offset returns the acknowledged value. A read before the
/// acknowledgement binds nothing: it may have seen an unsynced copy that a crash lost, the
/// offset reused by another producer, and the producer's retry written there again (seed 44
/// of the first CI run of the pipelined workload).
fn check_rereads(
    report: &mut Report<'_>,
    events: &[(u64, Event)],
    crashed: bool,
    durable_acked: &BTreeMap<(i32, i64), (String, u64)>,
) {
    let mut first_read: BTreeMap<(i32, i64), &str> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::Poll {
            consumer,
            partition,
            offset,
            value,
        } = event
        else {
            continue;
        };
        let key = (*partition, *offset);
        let first = *first_read.entry(key).or_insert(value.as_str());
        let expected = if crashed {
            durable_acked
                .get(&key)
                .filter(|(_, acked_ms)| acked_ms <= at_ms)
                .map(|(acked, _)| acked.as_str())
        } else {
            Some(first)
        };
        if let Some(expected) = expected.filter(|expected| *expected != value) {
            report.add(
                "re-read differs",
                format!("consumer {consumer} read p{partition}@{offset} as {value}, where {expected} was read before or acknowledged durably (t={at_ms}ms)"),
            );
        }
    }
}

/// Every produce request that expects an answer and was written once the cluster had settled
/// after healing ends with an answer within [`PRODUCE_ANSWER_BOUND_MS`]: a request stuck
/// forever, or one the client gave up on, is a liveness failure rather than an unknown outcome.
fn check_request_liveness(liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let Some(healed_ms) = events
        .iter()
        .find_map(|(at, e)| matches!(e, Event::Healed).then_some(*at))
    else {
        return;
    };
    let mut ends: BTreeMap<(u32, u64), (u64, &RequestEnd)> = BTreeMap::new();
    for (at_ms, event) in events {
        if let Event::Answered {
            producer,
            request,
            end,
        } = event
        {
            ends.insert((*producer, *request), (*at_ms, end));
        }
    }
    let mut failures = Vec::new();
    for (at_ms, event) in events {
        let Event::Request {
            producer,
            request,
            acks,
        } = event
        else {
            continue;
        };
        if *acks == 0 || *at_ms < healed_ms + SETTLE_MS {
            continue;
        }
        let what = format!("produce request {request} of producer {producer} (acks={acks}) written at {at_ms}ms, after healing at {healed_ms}ms");
        match ends.get(&(*producer, *request)) {
            None => failures.push(format!("{what}: never ended")),
            Some((_, RequestEnd::Lost { why })) => {
                failures.push(format!("{what}: no answer ({why})"))
            }
            Some((end_ms, RequestEnd::Answer { .. }))
                if end_ms - at_ms > PRODUCE_ANSWER_BOUND_MS =>
            {
                failures.push(format!("{what}: answered only at {end_ms}ms"))
            }
            Some(_) => {}
        }
    }
    report_capped(liveness, failures, "produce liveness");
}

/// Adds the first [`REPORTED_PER_CHECK_MAX`] of one check's `failures` to `out`, and a line
/// counting the rest.
pub(crate) fn report_capped(out: &mut Vec<String>, failures: Vec<String>, check: &str) {
    let total = failures.len();
    out.extend(failures.into_iter().take(REPORTED_PER_CHECK_MAX));
    if total > REPORTED_PER_CHECK_MAX {
        out.push(format!(
            "{check}: … and {} more",
            total - REPORTED_PER_CHECK_MAX
        ));
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
        replicated: false,
        min_insync_replicas: 1,
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
            replicated: false,
            min_insync_replicas: 1,
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
                idempotent: true,
                replicated: false,
                min_insync_replicas: 1,
            }
        )
        .ok());
        assert!(!check(&events, DURABLE).ok());
    }

    fn producer(producer: u32, acks: i16, idempotent: bool) -> (u64, Event) {
        (
            0,
            Event::Producer {
                producer,
                partition: 0,
                acks,
                idempotent,
            },
        )
    }

    fn send(producer: u32, value: &str) -> (u64, Event) {
        (
            0,
            Event::Send {
                producer,
                partition: 0,
                value: value.into(),
            },
        )
    }

    fn poll(at_ms: u64, offset: i64, value: &str) -> (u64, Event) {
        (
            at_ms,
            Event::Poll {
                consumer: 0,
                partition: 0,
                offset,
                value: value.into(),
            },
        )
    }

    /// Consumer 0 moves its position on partition 0 from `from` back to `to`.
    fn seek(at_ms: u64, from: i64, to: i64) -> (u64, Event) {
        let event = Event::Seek {
            consumer: 0,
            partition: 0,
            from,
            to,
        };
        (at_ms, event)
    }

    fn kill(at_ms: u64) -> (u64, Event) {
        (
            at_ms,
            Event::Fault {
                kind: "kill",
                detail: String::new(),
            },
        )
    }

    fn request(at_ms: u64, request: u64, acks: i16) -> (u64, Event) {
        (
            at_ms,
            Event::Request {
                producer: 1,
                request,
                acks,
            },
        )
    }

    fn answered(at_ms: u64, request: u64, end: RequestEnd) -> (u64, Event) {
        (
            at_ms,
            Event::Answered {
                producer: 1,
                request,
                end,
            },
        )
    }

    const HEALED_MS: u64 = 10_000;
    const HEALTHY_MS: u64 = HEALED_MS + SETTLE_MS;

    fn healed() -> (u64, Event) {
        (HEALED_MS, Event::Healed)
    }

    #[test]
    fn a_produce_stuck_after_healing_is_a_liveness_failure_and_before_healing_is_not() {
        // Written on a healthy cluster, never answered.
        let stuck = vec![healed(), request(HEALTHY_MS + 1, 7, -1)];
        let verdict = check(&stuck, DURABLE);
        assert!(verdict.safety.is_empty(), "{:?}", verdict.safety);
        assert_eq!(verdict.liveness.len(), 1, "{:?}", verdict.liveness);
        assert!(verdict.liveness[0].contains("never ended"));
        // The client gave up waiting: also a liveness failure, not an unknown outcome.
        let timed_out = vec![
            healed(),
            request(HEALTHY_MS + 1, 7, 1),
            answered(
                HEALTHY_MS + 1 + PRODUCE_ANSWER_BOUND_MS,
                7,
                RequestEnd::Lost {
                    why: "timeout".into(),
                },
            ),
        ];
        assert!(check(&timed_out, DURABLE).liveness[0].contains("no answer"));
        // Answered, but later than the bound.
        let late = vec![
            healed(),
            request(HEALTHY_MS, 7, -1),
            answered(
                HEALTHY_MS + PRODUCE_ANSWER_BOUND_MS + 1,
                7,
                RequestEnd::Answer { code: 0 },
            ),
        ];
        assert!(check(&late, DURABLE).liveness[0].contains("answered only"));
        // The same stuck request before healing (or during the settle time), an acks=0 request,
        // and one the client dropped on purpose are all fine.
        for fine in [
            vec![request(HEALED_MS - 1, 7, -1), healed()],
            vec![healed(), request(HEALTHY_MS - 1, 7, -1)],
            vec![healed(), request(HEALTHY_MS + 1, 7, 0)],
            vec![
                healed(),
                request(HEALTHY_MS + 1, 7, -1),
                answered(HEALTHY_MS + 2, 7, RequestEnd::ClientDropped),
            ],
            vec![
                healed(),
                request(HEALTHY_MS + 1, 7, -1),
                answered(HEALTHY_MS + 20, 7, RequestEnd::Answer { code: 7 }),
            ],
        ] {
            assert!(check(&fine, DURABLE).ok(), "{fine:?}");
        }
    }

    #[test]
    fn only_an_acks_all_producer_binds_across_a_crash() {
        // A batch of two records acknowledged at base offset 0, lost by a crash.
        let history = |acks: i16| {
            vec![
                producer(1, acks, false),
                sent(1, "a", 0),
                sent(1, "b", 1),
                kill(2),
                final_read(&[]),
            ]
        };
        assert!(check(&history(1), DURABLE).ok());
        let verdict = check(&history(-1), DURABLE);
        assert!(verdict.safety[0].starts_with("lost acknowledged write"));
        // Without the crash, acks=1 binds too.
        let no_crash = vec![producer(1, 1, false), sent(1, "a", 0), final_read(&[])];
        assert!(check(&no_crash, DURABLE).safety[0].starts_with("lost acknowledged write"));
    }

    #[test]
    fn duplicates_count_only_for_idempotent_producers() {
        let history = |idempotent: bool| {
            vec![
                producer(1, -1, idempotent),
                send(1, "a"),
                sent(1, "a", 0),
                final_read(&[(0, "a"), (1, "a")]),
            ]
        };
        assert!(check(&history(false), DURABLE).ok());
        assert!(check(&history(true), DURABLE).safety[0].starts_with("duplicate with idempotence"));
    }

    #[test]
    fn a_seek_back_is_not_a_poll_going_back() {
        let seek = seek(4, 2, 0);
        let events = vec![
            sent(1, "a", 0),
            sent(1, "b", 1),
            poll(2, 0, "a"),
            poll(3, 1, "b"),
            seek,
            poll(5, 0, "a"),
            poll(6, 1, "b"),
            final_read(&[(0, "a"), (1, "b")]),
        ];
        assert!(check(&events, DURABLE).ok());
    }

    #[test]
    fn a_re_read_must_return_what_a_durable_record_returned_before() {
        // A crash ran, so polls are not compared with the final log; the record at offset 0 was
        // acknowledged durably, so reading it again must give the same value.
        let history = |acks: i16| {
            vec![
                producer(1, acks, true),
                sent(1, "a", 0),
                poll(2, 0, "a"),
                kill(3),
                seek(4, 1, 0),
                poll(5, 0, "x"),
                final_read(&[(0, "a")]),
            ]
        };
        let verdict = check(&history(-1), DURABLE);
        assert_eq!(verdict.safety.len(), 1, "{:?}", verdict.safety);
        assert!(verdict.safety[0].starts_with("re-read differs"));
        // Not durable (acks=1): the crash may have replaced it.
        assert!(check(&history(1), DURABLE).ok());
    }

    #[test]
    fn a_read_before_the_durable_acknowledgement_binds_nothing() {
        // Seed 44: "a" was read unsynced, lost in a crash, its offset reused by "x", and the
        // producer's retry wrote "a" there again, acknowledged only then.
        let events = vec![
            producer(1, -1, true),
            poll(2, 0, "a"),
            kill(3),
            seek(4, 1, 0),
            poll(5, 0, "x"),
            (6, sent(1, "a", 0).1),
            final_read(&[(0, "a")]),
        ];
        let verdict = check(&events, DURABLE);
        assert!(verdict.ok(), "{:?}", verdict.safety);
        // After the acknowledgement the value is bound.
        let mut later = events.clone();
        let at = later.len() - 1;
        later.splice(at..at, [seek(7, 1, 0), poll(8, 0, "y")]);
        let verdict = check(&later, DURABLE);
        assert_eq!(verdict.safety.len(), 1, "{:?}", verdict.safety);
    }
}
