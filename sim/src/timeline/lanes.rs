//! The timeline's lanes, read from a run's history: one per node (its roles as the run's
//! observer saw them, the faults on it), one for the network and the faults of no one node, and
//! one per client (its operations). The drawing (`html`) knows nothing of events.
//!
//! Roles come from what the history already holds: the controller leader from the quorum
//! observer's samples (`QuorumSeen`, every ~200 ms while the faults run), each data partition's
//! leader from its Metadata samples (`TopicsSeen`); a run of one voter has one broker, which is
//! its own controller and leads every partition. Between two samples the earlier one's leader is
//! drawn, so a change shows at the first sample that saw it.

use std::collections::BTreeMap;

use rill::faults::points::Effect;
use rill::faults::FaultPoint;

use crate::history::{Event, SendOutcome, TxnOutcome};
use crate::run::SimConfig;
use crate::workload::TOPIC;

/// How long the last sample of a role is drawn past it: the observer's round.
const LAST_SAMPLE_DRAWN_MS: u64 = 200;

/// A lane, in the order the page shows them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LaneKey {
    Node(u64),
    Network,
    Producer(u32),
    Consumer(u32),
    GroupMember(u32),
    TxnProducer(u32),
    TxnReader(u32),
    Compacted,
    /// The administrative clients: reassignments, throttles, quotas, topic churn.
    Admin,
    FinalRead,
}

/// Something lasting on a lane: a role, a fault.
#[derive(Clone, Debug)]
pub(crate) struct Span {
    pub from_ms: u64,
    pub to_ms: u64,
    /// The CSS class that colours it.
    pub class: &'static str,
    pub title: String,
}

/// Something at one moment: an operation, an instant fault, a fault point. Marks of one row
/// and class are drawn together per time bucket.
#[derive(Clone, Debug)]
pub(crate) struct Mark {
    pub at_ms: u64,
    pub class: &'static str,
    /// How many it counts (a batch of n records acknowledged counts n).
    pub count: u64,
    pub title: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    pub label: String,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Lane {
    pub label: String,
    /// Across the whole lane (a node down or paused).
    pub shades: Vec<Span>,
    pub rows: Vec<Row>,
}

impl Lane {
    /// Row `label`, made (last) if it is not there yet.
    pub fn row(&mut self, label: &str) -> &mut Row {
        match self.rows.iter().position(|r| r.label == label) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(Row {
                    label: label.to_string(),
                    ..Row::default()
                });
                self.rows.last_mut().expect("pushed")
            }
        }
    }
}

/// The page's lanes and time range.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub lanes: BTreeMap<LaneKey, Lane>,
    pub end_ms: u64,
    pub healed_ms: Option<u64>,
}

impl Model {
    pub fn lane(&mut self, key: LaneKey) -> &mut Lane {
        self.lanes.entry(key.clone()).or_insert_with(|| Lane {
            label: lane_label(&key),
            ..Lane::default()
        })
    }
}

/// A lane's name on the page.
pub(super) fn lane_label(key: &LaneKey) -> String {
    match key {
        LaneKey::Node(id) => format!("node {id}"),
        LaneKey::Network => "network, other faults".into(),
        LaneKey::Producer(id) => format!("producer {id}"),
        LaneKey::Consumer(id) => format!("consumer {id}"),
        LaneKey::GroupMember(id) => format!("group member {id}"),
        LaneKey::TxnProducer(id) => format!("txn producer {id}"),
        LaneKey::TxnReader(id) => format!("txn reader {id}"),
        LaneKey::Compacted => "compacted topic".into(),
        LaneKey::Admin => "admin clients".into(),
        LaneKey::FinalRead => "final reads".into(),
    }
}

/// The lanes of a run with `config` whose history is `events`.
pub(crate) fn model(config: &SimConfig, events: &[(u64, Event)]) -> Model {
    let mut model = Model {
        end_ms: events.last().map_or(1, |(at, _)| *at).max(1) + 100,
        healed_ms: (events.iter()).find_map(|(at, e)| matches!(e, Event::Healed).then_some(*at)),
        ..Model::default()
    };
    for id in 1..=config.brokers {
        let lane = model.lane(LaneKey::Node(id));
        lane.label = node_label(config, id);
        lane.row("controller");
        for partition in 0..config.partitions {
            lane.row(&format!("{TOPIC}-{partition}"));
        }
        lane.row("faults");
    }
    roles(&mut model, config, events);
    faults(&mut model, events);
    operations(&mut model, events);
    model
}

fn node_label(config: &SimConfig, id: u64) -> String {
    if config.voters > 1 && id > config.voters {
        format!("broker {id} (broker only)")
    } else if !config.is_broker(id) {
        format!("node {id} (controller only)")
    } else if config.voters > 1 {
        format!("broker {id} (voter)")
    } else {
        format!("broker {id}")
    }
}

/// Leaders over time from samples (time, leader or -1, epoch): one span per unbroken stretch
/// of one leader in one epoch.
fn stretches(samples: &[(u64, i64, i64)]) -> Vec<(u64, u64, i64, i64)> {
    let mut out: Vec<(u64, u64, i64, i64)> = Vec::new();
    for &(at, leader, epoch) in samples {
        match out.last_mut() {
            Some(last) if (last.2, last.3) == (leader, epoch) => last.1 = at,
            Some(last) => {
                last.1 = at;
                out.push((at, at, leader, epoch));
            }
            None => out.push((at, at, leader, epoch)),
        }
    }
    if let Some(last) = out.last_mut() {
        last.1 += LAST_SAMPLE_DRAWN_MS;
    }
    out.retain(|s| s.2 >= 0);
    out
}

fn roles(model: &mut Model, config: &SimConfig, events: &[(u64, Event)]) {
    let end_ms = model.end_ms;
    let seconds = |ms: u64| ms as f64 / 1000.0;
    if config.voters == 1 {
        // One voter: each broker is its own quorum, and leads every partition.
        for id in 1..=config.brokers {
            let lane = model.lane(LaneKey::Node(id));
            lane.row("controller").spans.push(Span {
                from_ms: 0,
                to_ms: end_ms,
                class: "role-controller",
                title: "controller: its own quorum of one, all run".into(),
            });
            if config.brokers == 1 {
                for partition in 0..config.partitions {
                    lane.row(&format!("{TOPIC}-{partition}")).spans.push(Span {
                        from_ms: 0,
                        to_ms: end_ms,
                        class: "role-leader",
                        title: format!("leads {TOPIC}-{partition}: the only broker"),
                    });
                }
            }
        }
    }
    let quorum: Vec<(u64, i64, i64)> = (events.iter())
        .filter_map(|(at, e)| match e {
            Event::QuorumSeen { leader, epoch, .. } => {
                Some((*at, i64::from(*leader), i64::from(*epoch)))
            }
            _ => None,
        })
        .collect();
    for (from_ms, to_ms, leader, epoch) in stretches(&quorum) {
        let title = format!(
            "controller leader in epoch {epoch}, seen {:.1}–{:.1} s",
            seconds(from_ms),
            seconds(to_ms)
        );
        model
            .lane(LaneKey::Node(leader as u64))
            .row("controller")
            .spans
            .push(Span {
                from_ms,
                to_ms,
                class: "role-controller",
                title,
            });
    }
    let mut partitions: BTreeMap<i32, Vec<(u64, i64, i64)>> = BTreeMap::new();
    for (at, event) in events {
        if let Event::TopicsSeen { epochs, .. } = event {
            for (_, partition, epoch, leader, name) in epochs {
                if name == TOPIC {
                    let samples = partitions.entry(*partition).or_default();
                    samples.push((*at, i64::from(*leader), i64::from(*epoch)));
                }
            }
        }
    }
    for (partition, samples) in partitions {
        for (from_ms, to_ms, leader, epoch) in stretches(&samples) {
            let row = format!("{TOPIC}-{partition}");
            let title = format!(
                "leads {row} in leader epoch {epoch}, seen {:.1}–{:.1} s",
                seconds(from_ms),
                seconds(to_ms)
            );
            model
                .lane(LaneKey::Node(leader as u64))
                .row(&row)
                .spans
                .push(Span {
                    from_ms,
                    to_ms,
                    class: "role-leader",
                    title,
                });
        }
    }
}

/// The broker a fault's detail names first ("broker 3 …"), or the middle one of a bridge.
fn fault_broker(kind: &str, detail: &str) -> Option<u64> {
    let from = match kind {
        "voter-bridge" => detail.find("through broker ")? + "through ".len(),
        _ => detail.find("broker ")?,
    };
    let digits: String = (detail[from + "broker ".len()..].chars())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A fault that lasts: the kind that ends it, whether the whole lane is shaded (and how), or
/// which row it goes on.
fn lasting(kind: &str) -> Option<(&'static str, &'static str, bool)> {
    Some(match kind {
        "kill" => ("restart", "down", true),
        "pause" => ("resume", "paused", true),
        "voter-partition" => ("voter-heal", "cut", false),
        "voter-one-way" => ("voter-one-way-heal", "cut", false),
        "voter-bridge" => ("voter-bridge-heal", "cut", false),
        "clog" => ("unclog", "cut", false),
        "leader-isolated" => ("leader-isolated-heal", "cut", false),
        "follower-cut" => ("follower-cut-heal", "cut", false),
        "disk-eio-window" | "disk-full" => ("disk-heal", "disk", false),
        "net" => ("net-heal", "net", false),
        _ => return None,
    })
}

/// What pairs a fault's start with its end: the broker for most, the whole detail where one
/// broker can have several at once (a clog per client), nothing for the network's.
fn pairing(kind: &str, detail: &str) -> String {
    match kind {
        "clog"
        | "unclog"
        | "leader-isolated"
        | "leader-isolated-heal"
        | "follower-cut"
        | "follower-cut-heal" => detail.to_string(),
        "net" | "net-heal" => String::new(),
        _ => fault_broker(kind, detail).map_or_else(String::new, |b| b.to_string()),
    }
}

/// A lasting fault begun and not yet ended.
struct OpenFault {
    from_ms: u64,
    class: &'static str,
    /// Shades the whole lane (down, paused) rather than the fault row.
    whole_lane: bool,
    kind: String,
    detail: String,
}

/// Draws a lasting fault that ended at `to_ms`.
fn close(model: &mut Model, to_ms: u64, open: OpenFault) {
    let span = Span {
        from_ms: open.from_ms,
        to_ms: to_ms.max(open.from_ms + 1),
        class: open.class,
        title: format!(
            "{} {} ({:.2}–{:.2} s)",
            open.kind,
            open.detail,
            open.from_ms as f64 / 1000.0,
            to_ms as f64 / 1000.0
        ),
    };
    let key = match (open.kind == "net", fault_broker(&open.kind, &open.detail)) {
        (false, Some(id)) => LaneKey::Node(id),
        _ => LaneKey::Network,
    };
    let lane = model.lane(key);
    match open.whole_lane {
        true => lane.shades.push(span),
        false => lane.row("faults").spans.push(span),
    }
}

fn faults(model: &mut Model, events: &[(u64, Event)]) {
    let end_ms = model.healed_ms.unwrap_or(model.end_ms);
    // Lasting faults begun, by (the kind that ends them, what pairs them).
    let mut open: BTreeMap<(&'static str, String), OpenFault> = BTreeMap::new();
    for (at_ms, event) in events {
        match event {
            Event::Fault { kind, detail } => {
                if let Some((ends_with, class, whole_lane)) = lasting(kind) {
                    let key = (ends_with, pairing(kind, detail));
                    let start = OpenFault {
                        from_ms: *at_ms,
                        class,
                        whole_lane,
                        kind: kind.to_string(),
                        detail: detail.clone(),
                    };
                    if let Some(earlier) = open.insert(key, start) {
                        // Started again before it ended (should not happen): end it here.
                        close(model, *at_ms, earlier);
                    }
                    continue;
                }
                let ends = (open.keys())
                    .find(|(ends_with, pair)| ends_with == kind && *pair == pairing(kind, detail))
                    .cloned();
                if let Some(key) = ends {
                    let start = open.remove(&key).expect("found");
                    close(model, *at_ms, start);
                    continue;
                }
                if ["restart", "resume", "unclog", "net-heal", "disk-heal"].contains(kind)
                    || kind.ends_with("-heal")
                {
                    continue; // the end of a fault begun before the history (none) or paired
                }
                let key = match fault_broker(kind, detail) {
                    Some(id) => LaneKey::Node(id),
                    None => LaneKey::Network,
                };
                model.lane(key).row("faults").marks.push(Mark {
                    at_ms: *at_ms,
                    class: "fault",
                    count: 1,
                    title: format!("{kind} {detail}"),
                });
            }
            Event::FaultPoint { name, node, detail } => {
                let crash =
                    FaultPoint::from_name(name).is_some_and(|p| p.effect() != Effect::Delay);
                model
                    .lane(LaneKey::Node(*node))
                    .row("faults")
                    .marks
                    .push(Mark {
                        at_ms: *at_ms,
                        class: if crash { "point" } else { "point-delay" },
                        count: 1,
                        title: format!("fault point {name}: {detail}"),
                    });
            }
            _ => {}
        }
    }
    for (_, start) in std::mem::take(&mut open) {
        close(model, end_ms, start);
    }
}

fn outcome_class(outcome: &SendOutcome) -> (&'static str, String) {
    match outcome {
        SendOutcome::Ok { offset } => ("acked", format!("acked at {offset}")),
        SendOutcome::Fail { code } => ("failed", format!("failed, error {code}")),
        SendOutcome::Unknown { why } => ("unknown", format!("unknown: {why}")),
    }
}

/// An administrative call's outcome ("NONE" or "NONE(0)" when acknowledged, an error code's
/// name as "NOT_CONTROLLER(41)", or why no answer came) as a class.
fn admin_class(outcome: &str) -> &'static str {
    let name = outcome.split('(').next().unwrap_or(outcome);
    match name {
        "NONE" => "acked",
        n if n.len() > 1 && n.chars().all(|c| c.is_ascii_uppercase() || c == '_') => "failed",
        _ => "unknown",
    }
}

fn operations(model: &mut Model, events: &[(u64, Event)]) {
    let mark = |class: &'static str, at_ms: u64, count: u64, title: String| Mark {
        at_ms,
        class,
        count,
        title,
    };
    for (at_ms, event) in events {
        let at_ms = *at_ms;
        match event {
            Event::Producer { producer, .. } => {
                // Rows in a fixed order, whatever comes first.
                let lane = model.lane(LaneKey::Producer(*producer));
                for row in ["acked", "unknown", "failed"] {
                    lane.row(row);
                }
            }
            Event::Sent {
                producer,
                partition,
                value,
                outcome,
            } => {
                let (class, words) = outcome_class(outcome);
                let title = format!("{value} to p{partition}: {words}");
                let lane = model.lane(LaneKey::Producer(*producer));
                lane.row(class).marks.push(mark(class, at_ms, 1, title));
            }
            Event::Poll {
                consumer,
                partition,
                offset,
                value,
            } => {
                let title = format!("polled {value} at p{partition}@{offset}");
                let lane = model.lane(LaneKey::Consumer(*consumer));
                lane.row("polls").marks.push(mark("poll", at_ms, 1, title));
            }
            Event::Seek {
                consumer,
                partition,
                from,
                to,
            }
            | Event::Reset {
                consumer,
                partition,
                from,
                to,
            } => {
                let title = format!("p{partition}: position {from} → {to}");
                let lane = model.lane(LaneKey::Consumer(*consumer));
                lane.row("seeks").marks.push(mark("fault", at_ms, 1, title));
            }
            Event::GroupPolled {
                member,
                partition,
                from,
                to,
            } => {
                let title = format!("polled p{partition}@{from}..{to}");
                let count = (to - from).max(0) as u64;
                let lane = model.lane(LaneKey::GroupMember(*member));
                lane.row("polls")
                    .marks
                    .push(mark("poll", at_ms, count, title));
            }
            Event::Committed {
                member,
                partition,
                offset,
                generation,
                ..
            } => {
                let title = format!("committed p{partition}@{offset} in generation {generation}");
                let lane = model.lane(LaneKey::GroupMember(*member));
                lane.row("commits")
                    .marks
                    .push(mark("acked", at_ms, 1, title));
            }
            Event::GroupJoined {
                member,
                member_id,
                generation,
            } => {
                let title = format!("joined as {member_id}, generation {generation}");
                let lane = model.lane(LaneKey::GroupMember(*member));
                lane.row("membership")
                    .marks
                    .push(mark("fault", at_ms, 1, title));
            }
            Event::GroupLeft { member, how } => {
                let lane = model.lane(LaneKey::GroupMember(*member));
                let title = format!("left ({how})");
                lane.row("membership")
                    .marks
                    .push(mark("fault", at_ms, 1, title));
            }
            Event::TxnSent {
                producer,
                txn,
                partition,
                value,
                outcome,
            } => {
                let (class, words) = outcome_class(outcome);
                let title = format!("transaction {txn}: {value} to p{partition}: {words}");
                let lane = model.lane(LaneKey::TxnProducer(*producer));
                lane.row(class).marks.push(mark(class, at_ms, 1, title));
            }
            Event::TxnEnd {
                producer,
                txn,
                commit,
                outcome,
                ..
            } => {
                let class = match outcome {
                    TxnOutcome::Ok => "acked",
                    TxnOutcome::Fail { .. } => "failed",
                    _ => "unknown",
                };
                let end = if *commit { "commit" } else { "abort" };
                let title = format!("transaction {txn}: {end}, {outcome:?}");
                let lane = model.lane(LaneKey::TxnProducer(*producer));
                lane.row("ends").marks.push(mark(class, at_ms, 1, title));
            }
            Event::TxnPoll {
                consumer,
                partition,
                offset,
                value,
                ..
            } => {
                let title = format!("read {value} at p{partition}@{offset}");
                let lane = model.lane(LaneKey::TxnReader(*consumer));
                lane.row("polls").marks.push(mark("poll", at_ms, 1, title));
            }
            Event::CompactSent {
                key,
                value,
                outcome,
            } => {
                let (class, words) = outcome_class(outcome);
                let title = format!("k{key} = {value:?}: {words}");
                let lane = model.lane(LaneKey::Compacted);
                lane.row("writes").marks.push(mark(class, at_ms, 1, title));
            }
            Event::CompactPass {
                started_ms,
                records,
                ..
            } => {
                let title = format!("read pass from {started_ms} ms: {} records", records.len());
                let lane = model.lane(LaneKey::Compacted);
                lane.row("reads").marks.push(mark("poll", at_ms, 1, title));
            }
            Event::ReassignAsked {
                partition,
                replicas,
                outcome,
            } => {
                let title = format!("move p{partition} to brokers {replicas:?}: {outcome}");
                let lane = model.lane(LaneKey::Admin);
                lane.row("reassign")
                    .marks
                    .push(mark(admin_class(outcome), at_ms, 1, title));
            }
            Event::Throttled { set, rate, outcome } => {
                let title = match set {
                    true => format!("throttle followers at {rate} bytes/s: {outcome}"),
                    false => format!("lift the throttles: {outcome}"),
                };
                let lane = model.lane(LaneKey::Admin);
                lane.row("throttle")
                    .marks
                    .push(mark(admin_class(outcome), at_ms, 1, title));
            }
            Event::QuotaSet {
                broker,
                rate,
                outcome,
            } => {
                let title = format!("quota {rate} bytes/s at broker {broker}: {outcome}");
                let lane = model.lane(LaneKey::Admin);
                lane.row("quota")
                    .marks
                    .push(mark(admin_class(outcome), at_ms, 1, title));
            }
            Event::ChurnCreated { generation } => {
                let title = format!("churned topic created (generation {generation})");
                let lane = model.lane(LaneKey::Admin);
                lane.row("topic churn")
                    .marks
                    .push(mark("acked", at_ms, 1, title));
            }
            Event::ChurnDeleted => {
                let title = "churned topic deleted".to_string();
                let lane = model.lane(LaneKey::Admin);
                lane.row("topic churn")
                    .marks
                    .push(mark("fault", at_ms, 1, title));
            }
            Event::FinalRead {
                partition,
                log_start,
                high_watermark,
                records,
            } => {
                let title = format!(
                    "final read of p{partition}: {} records, {log_start}..{high_watermark}",
                    records.len()
                );
                let lane = model.lane(LaneKey::FinalRead);
                let count = records.len() as u64;
                lane.row("data topic")
                    .marks
                    .push(mark("poll", at_ms, count, title));
            }
            Event::TxnFinalRead {
                partition,
                lso,
                hw,
                records,
            } => {
                let title = format!(
                    "transactional final read of p{partition}: {} records below LSO {lso} (HW {hw})",
                    records.len()
                );
                let lane = model.lane(LaneKey::FinalRead);
                let count = records.len() as u64;
                lane.row("transactions")
                    .marks
                    .push(mark("poll", at_ms, count, title));
            }
            Event::FinalReadTimedOut { partition, detail } => {
                let title = format!("final read of p{partition} timed out: {detail}");
                let lane = model.lane(LaneKey::FinalRead);
                lane.row("data topic")
                    .marks
                    .push(mark("failed", at_ms, 1, title));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_stretch_from_sample_to_sample() {
        let samples = [
            (0, 1, 1),
            (200, 1, 1),
            (400, 2, 2),
            (600, -1, 2),
            (800, 2, 3),
        ];
        assert_eq!(
            stretches(&samples),
            vec![(0, 400, 1, 1), (400, 600, 2, 2), (800, 1000, 2, 3)]
        );
    }

    #[test]
    fn admin_outcomes_are_acked_failed_or_unknown() {
        assert_eq!(admin_class("NONE(0)"), "acked");
        assert_eq!(admin_class("NONE"), "acked");
        assert_eq!(admin_class("NOT_CONTROLLER(41)"), "failed");
        assert_eq!(admin_class("Io(\"early eof\")"), "unknown");
    }

    #[test]
    fn faults_name_their_broker() {
        assert_eq!(fault_broker("kill", "broker 12; disk Clean"), Some(12));
        assert_eq!(
            fault_broker("voter-bridge", "1,2 | 4,5 through broker 3"),
            Some(3)
        );
        assert_eq!(fault_broker("clog", "NodeId(7) <-> broker 2"), Some(2));
        assert_eq!(fault_broker("reset", "connections of NodeId(7)"), None);
    }

    #[test]
    fn a_kill_and_its_restart_shade_the_node_and_a_clog_its_fault_row() {
        let config = SimConfig::for_seed(1, None);
        let fault = |kind: &'static str, detail: &str| Event::Fault {
            kind,
            detail: detail.into(),
        };
        let events = vec![
            (100, fault("kill", "broker 1; disk Clean")),
            (300, fault("clog", "NodeId(9) <-> broker 1")),
            (400, fault("restart", "broker 1")),
            (500, fault("unclog", "NodeId(9) <-> broker 1")),
            (600, fault("reset", "connections of NodeId(9)")),
            (700, Event::Healed),
        ];
        let model = model(&config, &events);
        let node = &model.lanes[&LaneKey::Node(1)];
        assert_eq!(
            (
                node.shades.len(),
                node.shades[0].from_ms,
                node.shades[0].to_ms
            ),
            (1, 100, 400)
        );
        let faults = node.rows.iter().find(|r| r.label == "faults").unwrap();
        assert_eq!((faults.spans[0].from_ms, faults.spans[0].to_ms), (300, 500));
        let network = &model.lanes[&LaneKey::Network];
        assert_eq!(network.rows[0].marks.len(), 1);
    }
}
