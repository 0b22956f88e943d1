//! `rill consumer-groups`: a consumer group's offsets and lag, and resetting them
//! (kafka-consumer-groups.sh, with its flags and its output columns).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::args::{Args, Spec};
use super::client::consumer::{Consumer, ConsumerConfig, StartOffset};
use super::client::group::{
    self, GroupAdmin, GroupDescription, GroupMember, TopicPartition, CONSUMER_PROTOCOL_TYPE,
};
use super::client::{Client, ClientError};
use super::{client_config, connect, datetime, CliError, CliResult, COMMAND_CONFIG};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill consumer-groups --bootstrap-server H:P --list [--state [S,S...]]
    rill consumer-groups --bootstrap-server H:P --describe --group G [--offsets | --members | --state]
    rill consumer-groups --bootstrap-server H:P --delete --group G
    rill consumer-groups --bootstrap-server H:P --delete-offsets --group G --topic T[:P,P...]
    rill consumer-groups --bootstrap-server H:P --reset-offsets --group G
                         (--topic T[:P,P...] | --all-topics)
                         (--to-earliest | --to-latest | --to-offset N | --shift-by N
                          | --to-datetime ISO8601 | --by-duration PnDTnHnMnS | --to-current)
                         [--dry-run | --execute] [--export]
    rill consumer-groups --bootstrap-server H:P --reset-offsets --group G --from-file CSV
                         [--dry-run | --execute] [--export]
    (each also takes --command-config FILE: client properties for secured listeners,
     security.protocol, ssl.*, sasl.*)

    --list           every consumer group's id; with --state, as GROUP STATE; --state S,S...
                     only groups in those states (case-insensitive, e.g. stable,empty).
    --describe       --offsets (the default): per partition GROUP TOPIC PARTITION CURRENT-OFFSET
                     LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID (\"-\" where unknown);
                     --members: GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS;
                     --state: GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS.
    --delete         deletes the group and its committed offsets (only while it has no members).
    --delete-offsets deletes the group's committed offsets of one topic (of its partitions P),
                     refused for partitions that members of the group consume.
    --reset-offsets  new committed offsets for the group, printed as GROUP TOPIC PARTITION
                     NEW-OFFSET. --dry-run (the default) only prints them; --execute commits
                     them, and is refused while the group has active members.
    --topic T        every partition of T; T:0,2 only partitions 0 and 2.
    --all-topics     every partition the group has committed an offset for.
    --to-earliest    each partition's log start offset.
    --to-latest      each partition's log end offset.
    --to-offset N    offset N, clamped to [log start, log end].
    --shift-by N     the committed offset plus N (N may be negative), clamped to
                     [log start, log end].
    --to-datetime T  the first offset whose record timestamp is at or after T (ListOffsets by
                     timestamp), the log end where no record is that late. T is ISO8601:
                     YYYY-MM-DDTHH:mm:SS.sss, optionally with a zone (Z, +HH:mm); UTC without.
    --by-duration D  as --to-datetime with now minus D (PnDTnHnMnS, e.g. P1DT2H, PT30M).
    --to-current     the committed offset, or the log end where the group has none.
    --from-file CSV  the offsets in CSV, lines topic,partition,offset (or group,topic,partition,
                     offset: only G's lines), clamped to [log start, log end]; no --topic or
                     --all-topics needed.
    --export         prints the new offsets as that CSV instead of the table.
";

pub(super) const SPEC: Spec = Spec {
    switches: &[
        "--list",
        "--describe",
        "--delete",
        "--delete-offsets",
        "--offsets",
        "--members",
        "--state",
        "--reset-offsets",
        "--all-topics",
        "--to-earliest",
        "--to-latest",
        "--dry-run",
        "--execute",
        "--to-current",
        "--export",
    ],
    values: &[
        "--bootstrap-server",
        "--group",
        "--topic",
        "--to-offset",
        "--shift-by",
        "--to-datetime",
        "--by-duration",
        "--from-file",
        "--command-config",
    ],
    properties: &[],
};

/// Where `--reset-offsets` moves each partition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Earliest,
    Latest,
    Offset(i64),
    ShiftBy(i64),
    /// The first offset at or after this timestamp (ms since the epoch).
    Timestamp(i64),
    Current,
    /// `--from-file`'s offsets, which also name the partitions.
    Plan(BTreeMap<TopicPartition, i64>),
}

/// Which partitions `--reset-offsets` moves.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    AllTopics,
    /// A topic; `None` is all of its partitions.
    Topic(String, Option<Vec<i32>>),
}

pub async fn run(raw: &[String]) -> CliResult {
    let (raw, state_filter) = split_state_filter(raw);
    let args = Args::parse(&raw, &SPEC)?;
    let actions = [
        "--list",
        "--describe",
        "--delete",
        "--delete-offsets",
        "--reset-offsets",
    ];
    let action = args.one_of(&actions)?;
    let bootstrap = args.required("--bootstrap-server")?;
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    if action == "--list" {
        let states = state_filter.as_deref().map(parse_states).transpose()?;
        let client = connect(bootstrap, &config).await?;
        return list(&client, args.has("--state"), states.as_deref()).await;
    }
    if state_filter.is_some() {
        return Err(CliError::Usage(
            "a list of states after --state goes only with --list".into(),
        ));
    }
    let group = args.required("--group")?;
    match action {
        "--describe" => {
            let view = view(&args)?;
            let client = connect(bootstrap, &config).await?;
            return describe(&client, group, view).await;
        }
        "--delete" => {
            let client = connect(bootstrap, &config).await?;
            return delete(&client, group).await;
        }
        "--delete-offsets" => {
            let topic = args.required("--topic")?;
            let Scope::Topic(topic, partitions) = parse_topic_partitions(topic)? else {
                unreachable!("a --topic value is always a topic scope")
            };
            let client = connect(bootstrap, &config).await?;
            return delete_offsets(&client, group, &topic, partitions).await;
        }
        _ => {}
    }
    let target = target(&args, group)?;
    // The file names its partitions; Kafka ignores a scope given with it.
    let scope = match target {
        Target::Plan(_) => Scope::AllTopics,
        _ => scope(&args)?,
    };
    let execute = execute(&args)?;
    let client = connect(bootstrap, &config).await?;
    reset(
        &client,
        group,
        &scope,
        target,
        execute,
        args.has("--export"),
    )
    .await
}

/// Kafka's `--state` takes an optional value (`--list --state stable,empty`), which the flag
/// parser's switches do not: a value after `--state` is taken out here.
fn split_state_filter(raw: &[String]) -> (Vec<String>, Option<String>) {
    let mut rest = Vec::with_capacity(raw.len());
    let mut filter = None;
    let mut args = raw.iter();
    while let Some(arg) = args.next() {
        if let Some(value) = arg.strip_prefix("--state=") {
            filter = Some(value.to_string());
            rest.push("--state".to_string());
        } else if arg == "--state" {
            rest.push(arg.clone());
            if let Some(value) = args.as_slice().first().filter(|v| !v.starts_with("--")) {
                filter = Some(value.clone());
                args.next();
            }
        } else {
            rest.push(arg.clone());
        }
    }
    (rest, filter)
}

/// Kafka's group state names, as `--state` accepts them.
const GROUP_STATES: [&str; 8] = [
    "PreparingRebalance",
    "CompletingRebalance",
    "Stable",
    "Dead",
    "Empty",
    "Assigning",
    "Reconciling",
    "NotReady",
];

/// A comma-separated list of states, case-insensitive, each one of Kafka's (as its
/// `consumerGroupStatesFromString`).
fn parse_states(list: &str) -> CliResult<Vec<&'static str>> {
    list.split(',')
        .map(|s| {
            let s = s.trim();
            (GROUP_STATES.iter())
                .find(|state| state.eq_ignore_ascii_case(s))
                .copied()
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "Invalid state list '{list}'. Valid states are: {}",
                        GROUP_STATES.join(", ")
                    ))
                })
        })
        .collect()
}

/// What `--describe` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Offsets,
    Members,
    State,
}

/// At most one of `--offsets`, `--members`, `--state`; `--offsets` by default.
fn view(args: &Args) -> CliResult<View> {
    let views = [
        ("--offsets", View::Offsets),
        ("--members", View::Members),
        ("--state", View::State),
    ];
    let chosen: Vec<View> = (views.iter())
        .filter(|(flag, _)| args.has(flag))
        .map(|(_, v)| *v)
        .collect();
    match chosen[..] {
        [] => Ok(View::Offsets),
        [view] => Ok(view),
        _ => Err(CliError::Usage(
            "give at most one of --offsets, --members, --state".into(),
        )),
    }
}

/// `--topic T[:P,...]` or `--all-topics`, exactly one.
fn scope(args: &Args) -> CliResult<Scope> {
    match (args.value("--topic"), args.has("--all-topics")) {
        (Some(_), true) | (None, false) => Err(CliError::Usage(
            "--reset-offsets needs exactly one of --topic, --all-topics".into(),
        )),
        (None, true) => Ok(Scope::AllTopics),
        (Some(spec), false) => parse_topic_partitions(spec),
    }
}

/// Kafka's `--topic` syntax: `T` or `T:0,1,2`.
fn parse_topic_partitions(spec: &str) -> CliResult<Scope> {
    let (topic, partitions) = match spec.split_once(':') {
        None => (spec, None),
        Some((topic, list)) => {
            let partitions = list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|p| *p >= 0)
                        .ok_or_else(|| {
                            CliError::Usage(format!(
                                "--topic {spec}: '{p}' is not a partition number"
                            ))
                        })
                })
                .collect::<CliResult<Vec<i32>>>()?;
            (topic, Some(partitions))
        }
    };
    if topic.is_empty() {
        return Err(CliError::Usage(format!("--topic {spec}: no topic name")));
    }
    Ok(Scope::Topic(topic.to_string(), partitions))
}

/// The one reset target given.
fn target(args: &Args, group: &str) -> CliResult<Target> {
    let mut targets = Vec::new();
    if args.has("--to-earliest") {
        targets.push(Target::Earliest);
    }
    if args.has("--to-latest") {
        targets.push(Target::Latest);
    }
    if let Some(n) = args.number::<i64>("--to-offset")? {
        targets.push(Target::Offset(n));
    }
    if let Some(n) = args.number::<i64>("--shift-by")? {
        targets.push(Target::ShiftBy(n));
    }
    if let Some(text) = args.value("--to-datetime") {
        targets.push(Target::Timestamp(
            datetime::parse_datetime_ms(text).map_err(CliError::Usage)?,
        ));
    }
    if let Some(text) = args.value("--by-duration") {
        let duration_ms = datetime::parse_duration_ms(text).map_err(CliError::Usage)?;
        targets.push(Target::Timestamp(now_ms().saturating_sub(duration_ms)));
    }
    if args.has("--to-current") {
        targets.push(Target::Current);
    }
    if let Some(path) = args.value("--from-file") {
        let csv = std::fs::read_to_string(path)
            .map_err(|e| CliError::Failed(format!("cannot read --from-file {path}: {e}")))?;
        targets.push(Target::Plan(parse_reset_plan(&csv, group)?));
    }
    let count = targets.len();
    match targets.pop() {
        Some(target) if count == 1 => Ok(target),
        _ => Err(CliError::Usage(
            "--reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, \
             --shift-by, --to-datetime, --by-duration, --to-current, --from-file"
                .into(),
        )),
    }
}

/// The wall clock in ms since the epoch (`--by-duration` counts back from it).
fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Kafka's reset-plan CSV: `topic,partition,offset` lines, or `group,topic,partition,offset`
/// of which only `group`'s count. Blank lines are skipped.
fn parse_reset_plan(csv: &str, group: &str) -> CliResult<BTreeMap<TopicPartition, i64>> {
    let mut plan = BTreeMap::new();
    for (n, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let (line_group, topic, partition, offset) = match cells[..] {
            [topic, partition, offset] => (group, topic, partition, offset),
            [line_group, topic, partition, offset] => (line_group, topic, partition, offset),
            _ => {
                return Err(CliError::Usage(format!(
                    "--from-file line {}: '{line}' is not topic,partition,offset",
                    n + 1
                )))
            }
        };
        let bad = |what: &str| {
            CliError::Usage(format!("--from-file line {}: '{line}': bad {what}", n + 1))
        };
        let partition = partition
            .parse::<i32>()
            .ok()
            .filter(|p| *p >= 0)
            .ok_or_else(|| bad("partition"))?;
        let offset = offset
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| bad("offset"))?;
        if topic.is_empty() {
            return Err(bad("topic"));
        }
        if line_group == group {
            plan.insert((topic.to_string(), partition), offset);
        }
    }
    if plan.is_empty() {
        return Err(CliError::Failed(format!(
            "No reset plan for group {group} found"
        )));
    }
    Ok(plan)
}

/// `--execute` commits; `--dry-run`, or neither (with Kafka's warning), only prints.
fn execute(args: &Args) -> CliResult<bool> {
    match (args.has("--dry-run"), args.has("--execute")) {
        (true, true) => Err(CliError::Usage(
            "give at most one of --dry-run, --execute".into(),
        )),
        (false, false) => {
            eprintln!("WARN: No action will be performed as the --execute option is missing.");
            Ok(false)
        }
        (_, execute) => Ok(execute),
    }
}

/// A partition's log start and log end offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LogRange {
    start: i64,
    end: i64,
}

/// The log ranges of `partitions` (topic → partitions; all of the topic's when empty).
async fn log_ranges(
    client: &Arc<Client>,
    partitions: &BTreeMap<String, Vec<i32>>,
) -> CliResult<BTreeMap<TopicPartition, LogRange>> {
    /// ListOffsets' special timestamps.
    const EARLIEST: i64 = -2;
    const LATEST: i64 = -1;
    let mut ranges = BTreeMap::new();
    for (topic, wanted) in partitions {
        let (consumer, assigned) = offsets_asker(client, topic, wanted).await?;
        let starts = consumer.list_offsets(&assigned, EARLIEST).await?;
        let ends = consumer.list_offsets(&assigned, LATEST).await?;
        for (p, start) in starts {
            let end = ends.get(&p).copied().unwrap_or(start);
            ranges.insert((topic.clone(), p), LogRange { start, end });
        }
    }
    Ok(ranges)
}

/// A consumer of `wanted` partitions of `topic` (all of them when empty) to ask ListOffsets
/// with, and the partitions it holds. Assigning at a fixed offset asks no broker for offsets;
/// it resolves the leaders.
async fn offsets_asker(
    client: &Arc<Client>,
    topic: &str,
    wanted: &[i32],
) -> CliResult<(Consumer, Vec<i32>)> {
    let wanted = (!wanted.is_empty()).then_some(wanted);
    let consumer = Consumer::assign(
        client.clone(),
        topic,
        wanted,
        StartOffset::Offset(0),
        ConsumerConfig::default(),
    )
    .await?;
    let assigned = consumer.positions().keys().copied().collect();
    Ok((consumer, assigned))
}

/// Groups `(topic, partition)` keys by topic.
fn by_topic<'a>(keys: impl Iterator<Item = &'a TopicPartition>) -> BTreeMap<String, Vec<i32>> {
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in keys {
        topics.entry(topic.clone()).or_default().push(*partition);
    }
    topics
}

/// `--list`: consumer groups, with `--state` their states, with `--state S,...` only those in
/// one of the states `states`.
async fn list(client: &Client, with_state: bool, states: Option<&[&str]>) -> CliResult {
    let groups = group::list_groups(client).await?;
    // Consumer groups: members speak the consumer protocol, or only offsets were committed.
    let consumers = groups
        .iter()
        .filter(|g| g.protocol_type.is_empty() || g.protocol_type == CONSUMER_PROTOCOL_TYPE)
        .filter(|g| {
            states.is_none_or(|states| states.iter().any(|s| s.eq_ignore_ascii_case(&g.state)))
        });
    if !with_state {
        for g in consumers {
            println!("{}", g.group);
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = consumers
        .map(|g| vec![g.group.clone(), g.state.clone()])
        .collect();
    print!("{}", table(&["GROUP", "STATE"], &rows));
    Ok(())
}

async fn describe(client: &Arc<Client>, group: &str, view: View) -> CliResult {
    let admin = GroupAdmin::connect(client, group).await?;
    let description = admin.describe().await?;
    // Kafka's notes on the group's state go to stderr, the table to stdout.
    match description.state.as_str() {
        "Dead" => {
            eprintln!("Error: Consumer group '{group}' does not exist.");
            return Ok(());
        }
        "Empty" if view != View::State => {
            eprintln!("\nConsumer group '{group}' has no active members.")
        }
        "PreparingRebalance" | "CompletingRebalance" => {
            eprintln!("\nWarning: Consumer group '{group}' is rebalancing.")
        }
        _ => {}
    }
    match view {
        View::State => print!("{}", state_text(group, &description)),
        View::Members => print!("{}", members_text(group, &description.members)),
        View::Offsets => {
            let committed = admin.committed(None).await?;
            let assigned = description.members.iter().flat_map(|m| &m.assignment);
            let ranges = log_ranges(client, &by_topic(committed.keys().chain(assigned))).await?;
            let rows = offset_rows(&committed, &ranges, &description.members);
            if !rows.is_empty() {
                print!("{}", describe_text(group, &rows));
            }
        }
    }
    Ok(())
}

async fn delete(client: &Client, group: &str) -> CliResult {
    let admin = GroupAdmin::connect(client, group).await?;
    admin.delete().await.map_err(|e| {
        CliError::Failed(format!(
            "Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted \
             due to: {e}"
        ))
    })?;
    println!("Deletion of requested consumer groups ('{group}') was successful.");
    Ok(())
}

/// `--delete-offsets`: Kafka's per-partition TOPIC PARTITION STATUS table; exit 1 when any
/// partition failed.
async fn delete_offsets(
    client: &Arc<Client>,
    group: &str,
    topic: &str,
    partitions: Option<Vec<i32>>,
) -> CliResult {
    let admin = GroupAdmin::connect(client, group).await?;
    let partitions = match partitions {
        Some(partitions) => partitions,
        None => {
            let metadata = client.metadata(Some(&[topic]), false).await?;
            let info = metadata.topic(topic)?;
            info.partitions.iter().map(|p| p.partition).collect()
        }
    };
    let outcomes = admin
        .delete_offsets(&BTreeMap::from([(topic.to_string(), partitions)]))
        .await?;
    let failed = outcomes.values().filter(|o| o.is_err()).count();
    if failed == 0 {
        println!("Request succeed for deleting offsets with topic {topic} group {group}");
    } else {
        println!("Request failed for deleting offsets with topic {topic} group {group}");
    }
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|((topic, partition), outcome)| {
            vec![
                topic.clone(),
                partition.to_string(),
                match outcome {
                    Ok(()) => "Successful".to_string(),
                    Err(e) => format!("Error: {e}"),
                },
            ]
        })
        .collect();
    print!("{}", table(&["TOPIC", "PARTITION", "STATUS"], &rows));
    if failed > 0 {
        return Err(CliError::Failed(format!(
            "{failed} of {} offsets were not deleted",
            outcomes.len()
        )));
    }
    Ok(())
}

/// `--describe --state`.
fn state_text(group: &str, description: &GroupDescription) -> String {
    let (id, addr) = &description.coordinator;
    let strategy = if description.protocol.is_empty() {
        "-"
    } else {
        &description.protocol
    };
    table(
        &[
            "GROUP",
            "COORDINATOR (ID)",
            "ASSIGNMENT-STRATEGY",
            "STATE",
            "#MEMBERS",
        ],
        &[vec![
            group.to_string(),
            format!("{addr} ({id})"),
            strategy.to_string(),
            description.state.clone(),
            description.members.len().to_string(),
        ]],
    )
}

/// `--describe --members`.
fn members_text(group: &str, members: &[GroupMember]) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                group.to_string(),
                m.member_id.clone(),
                m.host.clone(),
                m.client_id.clone(),
                m.assignment.len().to_string(),
            ]
        })
        .collect();
    table(
        &["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"],
        &rows,
    )
}

/// One row of `--describe --offsets`: a partition (`None` for a member without any), its
/// commit, its log end and the member it is assigned to.
struct OffsetRow<'a> {
    partition: Option<TopicPartition>,
    committed: Option<i64>,
    log_end: Option<i64>,
    member: Option<&'a GroupMember>,
}

/// Kafka's rows: each member's assigned partitions (a member without any gets one row of
/// "-"), then the committed partitions no member holds.
fn offset_rows<'a>(
    committed: &BTreeMap<TopicPartition, i64>,
    ranges: &BTreeMap<TopicPartition, LogRange>,
    members: &'a [GroupMember],
) -> Vec<OffsetRow<'a>> {
    let row = |key: &TopicPartition, member| OffsetRow {
        partition: Some(key.clone()),
        committed: committed.get(key).copied(),
        log_end: ranges.get(key).map(|r| r.end),
        member,
    };
    let mut rows = Vec::new();
    for member in members {
        if member.assignment.is_empty() {
            rows.push(OffsetRow {
                partition: None,
                committed: None,
                log_end: None,
                member: Some(member),
            });
        }
        let mut assigned = member.assignment.clone();
        assigned.sort();
        rows.extend(assigned.iter().map(|key| row(key, Some(member))));
    }
    let held: std::collections::BTreeSet<&TopicPartition> =
        members.iter().flat_map(|m| &m.assignment).collect();
    rows.extend(
        committed
            .keys()
            .filter(|key| !held.contains(key))
            .map(|key| row(key, None)),
    );
    rows
}

/// kafka-consumer-groups' `--describe --offsets` table.
fn describe_text(group: &str, rows: &[OffsetRow<'_>]) -> String {
    let unknown = || "-".to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let lag = match (r.committed, r.log_end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => unknown(),
            };
            let number = |n: Option<i64>| n.map_or_else(unknown, |n| n.to_string());
            let member =
                |f: fn(&GroupMember) -> &String| r.member.map_or_else(unknown, |m| f(m).clone());
            vec![
                group.to_string(),
                r.partition.as_ref().map_or_else(unknown, |k| k.0.clone()),
                r.partition
                    .as_ref()
                    .map_or_else(unknown, |k| k.1.to_string()),
                number(r.committed),
                number(r.log_end),
                lag,
                member(|m| &m.member_id),
                member(|m| &m.host),
                member(|m| &m.client_id),
            ]
        })
        .collect();
    table(
        &[
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &cells,
    )
}

/// Kafka's table layout: a blank line, then left-aligned columns one space apart, each as wide
/// as its widest cell (PARTITION at least 10 characters, offsets and lag 15, as Kafka pads
/// them); the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let min_width = |h: &str| match h {
        "PARTITION" => 10,
        "CURRENT-OFFSET" | "LOG-END-OFFSET" | "LAG" | "NEW-OFFSET" => 15,
        _ => h.len(),
    };
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].len())
                .fold(min_width(h), usize::max)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$} ", width = widths[i]));
            }
        }
        out.push('\n');
        out
    };
    let mut out = String::from("\n");
    out.push_str(&line(header.to_vec()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

async fn reset(
    client: &Arc<Client>,
    group: &str,
    scope: &Scope,
    target: Target,
    execute: bool,
    export: bool,
) -> CliResult {
    let admin = GroupAdmin::connect(client, group).await?;
    if execute {
        let state = admin.describe().await?.state;
        if state != "Empty" && state != "Dead" {
            return Err(CliError::Failed(format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the \
                 current state is {state}."
            )));
        }
    }
    let committed = admin.committed(None).await?;
    let partitions = match (&target, scope) {
        (Target::Plan(plan), _) => by_topic(plan.keys()),
        (_, Scope::AllTopics) => by_topic(committed.keys()),
        (_, Scope::Topic(topic, partitions)) => {
            BTreeMap::from([(topic.clone(), partitions.clone().unwrap_or_default())])
        }
    };
    if partitions.is_empty() {
        return Err(CliError::Failed(format!(
            "consumer group '{group}' has no committed offsets: --all-topics selects nothing"
        )));
    }
    let ranges = log_ranges(client, &partitions).await?;
    let at_time = match target {
        Target::Timestamp(ms) => offsets_at_time(client, &partitions, ms).await?,
        _ => BTreeMap::new(),
    };
    let plan = new_offsets(&ranges, &committed, &target, &at_time)?;
    if execute {
        admin
            .commit(&plan)
            .await
            .map_err(|e| active_group(e, group))?;
    }
    let rows: Vec<Vec<String>> = plan
        .iter()
        .map(|((topic, partition), offset)| {
            vec![
                group.to_string(),
                topic.clone(),
                partition.to_string(),
                offset.to_string(),
            ]
        })
        .collect();
    if export {
        print!("{}", export_csv(&plan));
    } else {
        print!(
            "{}",
            table(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows)
        );
    }
    Ok(())
}

/// Kafka's `--export` of one group's plan: `topic,partition,offset` lines, which
/// `--from-file` reads back.
fn export_csv(plan: &BTreeMap<TopicPartition, i64>) -> String {
    (plan.iter())
        .map(|((topic, partition), offset)| format!("{topic},{partition},{offset}\n"))
        .collect()
}

/// Per partition, the first offset whose timestamp is at or after `timestamp_ms`
/// (ListOffsets by timestamp); partitions without such a record are left out, with Kafka's
/// warning.
async fn offsets_at_time(
    client: &Arc<Client>,
    partitions: &BTreeMap<String, Vec<i32>>,
    timestamp_ms: i64,
) -> CliResult<BTreeMap<TopicPartition, i64>> {
    let mut found = BTreeMap::new();
    for (topic, wanted) in partitions {
        let (consumer, assigned) = offsets_asker(client, topic, wanted).await?;
        for (p, offset) in consumer
            .list_offsets(&assigned, timestamp_ms.max(0))
            .await?
        {
            if offset >= 0 {
                found.insert((topic.clone(), p), offset);
            } else {
                eprintln!(
                    "Warn: Partition {p} from topic {topic} is empty. Falling back to latest \
                     known offset."
                );
            }
        }
    }
    Ok(found)
}

/// The offset each partition is reset to, as Kafka's tool computes it: requested offsets
/// (`--to-offset`, `--shift-by`, `--from-file`) clamped to the log; `--to-current` the commit as
/// it is; `--to-datetime` ListOffsets' answer (`at_time`), else the log end.
fn new_offsets(
    ranges: &BTreeMap<TopicPartition, LogRange>,
    committed: &BTreeMap<TopicPartition, i64>,
    target: &Target,
    at_time: &BTreeMap<TopicPartition, i64>,
) -> CliResult<BTreeMap<TopicPartition, i64>> {
    let clamp =
        |wanted: i64, range: &LogRange| wanted.clamp(range.start, range.end.max(range.start));
    ranges
        .iter()
        .map(|(key, range)| {
            let wanted = match target {
                Target::Earliest => range.start,
                Target::Latest => range.end,
                Target::Timestamp(_) => {
                    return Ok((key.clone(), at_time.get(key).copied().unwrap_or(range.end)))
                }
                Target::Current => {
                    return Ok((
                        key.clone(),
                        committed.get(key).copied().unwrap_or(range.end),
                    ))
                }
                Target::Offset(n) => *n,
                Target::Plan(plan) => plan.get(key).copied().unwrap_or(range.end),
                Target::ShiftBy(n) => {
                    let current = committed.get(key).ok_or_else(|| {
                        CliError::Failed(format!(
                            "cannot shift the offset of {}-{}: the group has no committed \
                             offset for it",
                            key.0, key.1
                        ))
                    })?;
                    current.saturating_add(*n)
                }
            };
            Ok((key.clone(), clamp(wanted, range)))
        })
        .collect()
}

/// The broker refuses an outside commit while the group has members (one may have joined since
/// the state was checked); say so as Kafka does.
fn active_group(error: ClientError, group: &str) -> CliError {
    match error.code() {
        Some(code)
            if code == ErrorCode::UNKNOWN_MEMBER_ID
                || code == ErrorCode::ILLEGAL_GENERATION
                || code == ErrorCode::REBALANCE_IN_PROGRESS =>
        {
            CliError::Failed(format!(
                "Assignments can only be reset if the group '{group}' is inactive ({error})"
            ))
        }
        _ => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(topic: &str, partition: i32) -> TopicPartition {
        (topic.to_string(), partition)
    }

    #[test]
    fn topic_partition_syntax_follows_kafka() {
        assert_eq!(
            parse_topic_partitions("t").unwrap(),
            Scope::Topic("t".into(), None)
        );
        assert_eq!(
            parse_topic_partitions("t:0,2").unwrap(),
            Scope::Topic("t".into(), Some(vec![0, 2]))
        );
        assert!(parse_topic_partitions("t:x").is_err());
        assert!(parse_topic_partitions("t:-1").is_err());
        assert!(parse_topic_partitions(":0").is_err());
    }

    #[test]
    fn reset_plans_read_back_what_export_writes() {
        let csv = "t,0,5\n\nother,t,1,9\ng,u,2,7\n";
        let plan = parse_reset_plan(csv, "g").unwrap();
        assert_eq!(plan, BTreeMap::from([(key("t", 0), 5), (key("u", 2), 7)]));
        assert_eq!(parse_reset_plan(&export_csv(&plan), "g").unwrap(), plan);
        assert_eq!(export_csv(&plan), "t,0,5\nu,2,7\n");
        for bad in ["t,0", "t,x,1", "t,0,-1", ",0,1", "a,b,c,d,e"] {
            assert!(parse_reset_plan(bad, "g").is_err(), "{bad}");
        }
        assert!(
            parse_reset_plan("other,t,0,1\n", "g").is_err(),
            "no line of g"
        );
    }

    #[test]
    fn state_filters_follow_kafka() {
        let raw = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (rest, filter) = split_state_filter(&raw(&["--list", "--state", "stable,EMPTY"]));
        assert_eq!(
            (rest, filter.as_deref()),
            (raw(&["--list", "--state"]), Some("stable,EMPTY"))
        );
        let (rest, filter) = split_state_filter(&raw(&["--describe", "--state", "--group", "g"]));
        assert_eq!((rest.len(), filter), (4, None));
        let (_, filter) = split_state_filter(&raw(&["--list", "--state=Dead"]));
        assert_eq!(filter.as_deref(), Some("Dead"));
        assert_eq!(parse_states("stable, EMPTY").unwrap(), ["Stable", "Empty"]);
        let Err(CliError::Usage(err)) = parse_states("stable,bogus") else {
            panic!("an unknown state is a usage error")
        };
        assert!(
            err.starts_with("Invalid state list 'stable,bogus'"),
            "{err}"
        );
        assert!(parse_states("").is_err());
    }

    #[test]
    fn new_offsets_clamp_to_the_log() {
        let ranges = BTreeMap::from([
            (key("t", 0), LogRange { start: 5, end: 20 }),
            (key("t", 1), LogRange { start: 0, end: 8 }),
        ]);
        let committed = BTreeMap::from([(key("t", 0), 12), (key("t", 1), 3)]);
        let none = BTreeMap::new();
        let plan = |target| new_offsets(&ranges, &committed, &target, &none).unwrap();
        assert_eq!(plan(Target::Earliest)[&key("t", 0)], 5);
        assert_eq!(plan(Target::Latest)[&key("t", 1)], 8);
        assert_eq!(plan(Target::Offset(100))[&key("t", 0)], 20);
        assert_eq!(plan(Target::Offset(1))[&key("t", 0)], 5);
        let shifted = plan(Target::ShiftBy(-10));
        assert_eq!((shifted[&key("t", 0)], shifted[&key("t", 1)]), (5, 0));
        let shifted = plan(Target::ShiftBy(4));
        assert_eq!((shifted[&key("t", 0)], shifted[&key("t", 1)]), (16, 7));
        assert_eq!(plan(Target::ShiftBy(i64::MAX))[&key("t", 0)], 20);
        // A partition without a commit cannot be shifted.
        let partial = BTreeMap::from([(key("t", 0), 12)]);
        assert!(new_offsets(&ranges, &partial, &Target::ShiftBy(1), &none).is_err());
        // --to-current: the commit unclamped, the log end without one.
        let current = new_offsets(&ranges, &partial, &Target::Current, &none).unwrap();
        assert_eq!((current[&key("t", 0)], current[&key("t", 1)]), (12, 8));
        // --to-datetime: ListOffsets' offset, the log end where no record is that late.
        let found = BTreeMap::from([(key("t", 1), 2)]);
        let at = new_offsets(&ranges, &committed, &Target::Timestamp(5), &found).unwrap();
        assert_eq!((at[&key("t", 0)], at[&key("t", 1)]), (20, 2));
        // --from-file: clamped as --to-offset.
        let file = BTreeMap::from([(key("t", 0), 1), (key("t", 1), 6)]);
        let planned = new_offsets(&ranges, &committed, &Target::Plan(file), &none).unwrap();
        assert_eq!((planned[&key("t", 0)], planned[&key("t", 1)]), (5, 6));
    }

    #[test]
    fn describe_prints_kafkas_columns_lag_and_members() {
        let committed = BTreeMap::from([
            (key("orders", 0), 7),
            (key("orders", 1), 2),
            (key("orders", 2), 4),
        ]);
        let ranges = BTreeMap::from([
            (key("orders", 0), LogRange { start: 0, end: 10 }),
            (key("orders", 2), LogRange { start: 0, end: 9 }),
            (key("orders", 3), LogRange { start: 0, end: 5 }),
        ]);
        let member = |id: &str, assignment: Vec<TopicPartition>| GroupMember {
            member_id: id.into(),
            client_id: format!("client-{id}"),
            host: "/127.0.0.1".into(),
            assignment,
        };
        let members = [
            member("m1", vec![key("orders", 3), key("orders", 0)]),
            member("m2", vec![]),
        ];
        let rows = offset_rows(&committed, &ranges, &members);
        let text = describe_text("g", &rows);
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(lines[0].is_empty());
        assert_eq!(
            lines[1],
            [
                "GROUP",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "CONSUMER-ID",
                "HOST",
                "CLIENT-ID"
            ]
        );
        let expected: [&[&str]; 5] = [
            &[
                "g",
                "orders",
                "0",
                "7",
                "10",
                "3",
                "m1",
                "/127.0.0.1",
                "client-m1",
            ],
            // Assigned, never committed: no offset, no lag.
            &[
                "g",
                "orders",
                "3",
                "-",
                "5",
                "-",
                "m1",
                "/127.0.0.1",
                "client-m1",
            ],
            &[
                "g",
                "-",
                "-",
                "-",
                "-",
                "-",
                "m2",
                "/127.0.0.1",
                "client-m2",
            ],
            // Committed, no log range known: "-" for the log end and the lag.
            &["g", "orders", "1", "2", "-", "-", "-", "-", "-"],
            &["g", "orders", "2", "4", "9", "5", "-", "-", "-"],
        ];
        assert_eq!(lines[2..], expected);
        // Columns line up: every row's TOPIC starts where the header's does.
        let text_lines: Vec<&str> = text.lines().collect();
        let topic_at = text_lines[1].find("TOPIC").unwrap();
        assert_eq!(text_lines[2].find("orders"), Some(topic_at));
    }
}
