//! `rill reassign-partitions`: move partition replicas between brokers
//! (kafka-reassign-partitions.sh). `--execute`, `--verify` or `--cancel` the reassignments of a
//! JSON file in Kafka's format, or `--list` the ongoing ones, through AlterPartitionReassignments
//! and ListPartitionReassignments sent where the admin calls go ([`Client::admin_connection`]);
//! `--generate` proposes one ([`super::reassign_generate`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::{Deserialize, Serialize};

use super::args::{Args, Spec};
use super::client::connection::Connection;
use super::client::{Client, ClientConfig, ClientError, ClusterMetadata};
use super::reassign_generate;
use super::{CliError, CliResult};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill reassign-partitions --bootstrap-server H:P --reassignment-json-file F
        (--execute | --verify | --cancel) [--timeout MS]
    rill reassign-partitions --bootstrap-server H:P --list [--timeout MS]
    rill reassign-partitions --bootstrap-server H:P --generate
        --topics-to-move-json-file F --broker-list 1,2,3

    --reassignment-json-file  the target replicas of each partition, in Kafka's format:
                              {\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,
                               \"replicas\":[1,2,4]}]}
                              (\"log_dirs\", if given, must be all \"any\": a Rill broker has
                              one log directory)
    --execute                 start the reassignments; first prints the current assignment,
                              to save as the file of a rollback
    --verify                  the state of each reassignment of the file; exits non-zero
                              until every one is complete, so a script can poll it
    --cancel                  stop the file's ongoing reassignments (each partition goes
                              back to the replicas it had before, the replicas being
                              added leave; the order may differ, as in Kafka)
    --list                    the reassignments in progress in the cluster
    --generate                propose moving every partition of the topics of
                              --topics-to-move-json-file ({\"topics\":[{\"topic\":\"t\"}],
                              \"version\":1}) onto the brokers of --broker-list, keeping
                              each topic's replication factor; prints the current
                              assignment and the proposal (a file for --execute) and
                              changes nothing
    --timeout MS              how long the controller may take on a request (default 30000)
";

pub(super) const SPEC: Spec = Spec {
    switches: &["--execute", "--verify", "--cancel", "--list", "--generate"],
    values: &[
        "--bootstrap-server",
        "--reassignment-json-file",
        "--timeout",
        "--topics-to-move-json-file",
        "--broker-list",
    ],
    properties: &[],
};

/// `--timeout` when not given (Kafka's admin tools use 30 s).
pub(crate) const TIMEOUT_MS_DEFAULT: i32 = 30_000;

/// What the client allows beyond `--timeout` for the answer to travel back, so the broker's
/// own timeout (with its message) fires before the client gives up.
const ANSWER_MARGIN_MS: u64 = 5_000;

/// One partition of a reassignment file: the replicas it should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
}

impl Target {
    /// Kafka's `TopicPartition` text: `topic-partition`.
    fn name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

/// One ongoing reassignment, as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ongoing {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let actions = ["--execute", "--verify", "--cancel", "--list", "--generate"];
    let action = args.one_of(&actions)?;
    let bootstrap = args.required("--bootstrap-server")?;
    let generating = action == "--generate";
    for flag in ["--topics-to-move-json-file", "--broker-list"] {
        if args.value(flag).is_some() != generating {
            return Err(CliError::Usage(match generating {
                true => format!("--generate needs {flag}"),
                false => format!("{flag} goes with --generate only"),
            }));
        }
    }
    let timeout_ms = match args.number::<i32>("--timeout")? {
        None => TIMEOUT_MS_DEFAULT,
        Some(ms) if ms > 0 => ms,
        Some(ms) => {
            return Err(CliError::Usage(format!(
                "--timeout must be positive, got {ms}"
            )))
        }
    };
    // The file is read and checked in full before any broker is contacted.
    let targets = match (action, args.value("--reassignment-json-file")) {
        ("--list" | "--generate", None) => Vec::new(),
        ("--list" | "--generate", Some(_)) => {
            return Err(CliError::Usage(format!(
                "{action} takes no --reassignment-json-file"
            )))
        }
        (_, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Failed(format!("cannot read {path}: {e}")))?;
            parse_reassignment_json(&text)?
        }
        (_, None) => {
            return Err(CliError::Usage(format!(
                "{action} needs --reassignment-json-file"
            )))
        }
    };
    let generate = match generating {
        true => {
            let path = args.required("--topics-to-move-json-file")?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Failed(format!("cannot read {path}: {e}")))?;
            let topics = reassign_generate::parse_topics_json(&text)?;
            let brokers = reassign_generate::parse_broker_list(args.required("--broker-list")?)?;
            Some((topics, brokers))
        }
        false => None,
    };
    // The client waits a little longer than the broker may take, so a slow controller's
    // answer (or its timeout error) arrives instead of a client-side timeout.
    let default = ClientConfig::default();
    let wait_ms = timeout_ms as u64 + ANSWER_MARGIN_MS;
    let config = ClientConfig {
        request_timeout_ms: default.request_timeout_ms.max(wait_ms),
        ..default
    };
    let client = Client::connect(bootstrap, config).await?;
    if let Some((topics, brokers)) = generate {
        return generate_proposal(&client, &topics, &brokers).await;
    }
    match action {
        "--execute" => execute(&client, &targets, timeout_ms).await,
        "--verify" => verify(&client, &targets, timeout_ms).await,
        "--cancel" => cancel(&client, &targets, timeout_ms).await,
        _ => list(&client, timeout_ms).await,
    }
}

async fn execute(client: &Client, targets: &[Target], timeout_ms: i32) -> CliResult {
    let metadata = topics_metadata(client, targets).await?;
    // Kafka's tool refuses brokers the cluster does not know before it changes anything.
    let unknown: BTreeSet<i32> = targets
        .iter()
        .flat_map(|t| t.replicas.iter().copied())
        .filter(|id| !metadata.brokers.contains_key(id))
        .collect();
    if !unknown.is_empty() {
        return Err(CliError::Failed(format!(
            "Unknown broker id(s) {}",
            join(unknown.iter().copied(), ", ")
        )));
    }
    let current = current_assignment(&metadata, targets)?;
    print!("{}", rollback_text(&current));
    let results = alter(client, targets, false, timeout_ms).await?;
    report(
        results,
        "Successfully started partition reassignments for ",
        "Error reassigning partition(s):",
    )
}

/// `--generate`: the current assignment of `topics` and a proposal placing each on `brokers`
/// with its replication factor (that of its first partition, as Kafka's tool takes it).
async fn generate_proposal(client: &Client, topics: &[String], brokers: &[i32]) -> CliResult {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let metadata = client.metadata(Some(names.as_slice()), false).await?;
    let unknown: Vec<i32> = (brokers.iter().copied())
        .filter(|id| !metadata.brokers.contains_key(id))
        .collect();
    if !unknown.is_empty() {
        return Err(CliError::Failed(format!(
            "Unknown broker id(s) {}",
            join(unknown.into_iter(), ", ")
        )));
    }
    let (mut current, mut proposal) = (Vec::new(), Vec::new());
    for name in topics {
        let topic = metadata.topic(name)?;
        for p in &topic.partitions {
            current.push(Target {
                topic: name.clone(),
                partition: p.partition,
                replicas: p.replicas.clone(),
            });
        }
        let replication_factor = topic.partitions.first().map_or(0, |p| p.replicas.len());
        let partitions = topic.partitions.len() as i32;
        let placed = reassign_generate::propose(name, partitions, replication_factor, brokers)?;
        proposal.extend(placed);
    }
    print!("{}", reassign_generate::generate_text(&current, &proposal));
    Ok(())
}

async fn cancel(client: &Client, targets: &[Target], timeout_ms: i32) -> CliResult {
    let results = alter(client, targets, true, timeout_ms).await?;
    report(
        results,
        "Successfully cancelled partition reassignments for: ",
        "Error cancelling partition reassignment(s):",
    )
}

async fn verify(client: &Client, targets: &[Target], timeout_ms: i32) -> CliResult {
    // The ongoing list first, Metadata after: a reassignment that ends between the two calls
    // then shows its final replicas rather than a transient mismatch.
    let ongoing: BTreeSet<(String, i32)> = list_ongoing(client, Some(targets), timeout_ms)
        .await?
        .into_iter()
        .map(|o| (o.topic, o.partition))
        .collect();
    let metadata = topics_metadata(client, targets).await?;
    let current = current_assignment(&metadata, targets)?;
    let (text, incomplete) = verify_text(targets, &current, &ongoing);
    print!("{text}");
    if incomplete > 0 {
        return Err(CliError::Failed(format!(
            "{incomplete} of {} reassignments are not complete",
            targets.len()
        )));
    }
    Ok(())
}

async fn list(client: &Client, timeout_ms: i32) -> CliResult {
    let ongoing = list_ongoing(client, None, timeout_ms).await?;
    print!("{}", list_text(&ongoing));
    Ok(())
}

/// Metadata for the topics of `targets`.
async fn topics_metadata(client: &Client, targets: &[Target]) -> CliResult<ClusterMetadata> {
    let names: BTreeSet<&str> = targets.iter().map(|t| t.topic.as_str()).collect();
    let names: Vec<&str> = names.into_iter().collect();
    Ok(client.metadata(Some(names.as_slice()), false).await?)
}

/// Where reassignment requests go: as for [`Client`]'s admin calls, the controller Metadata
/// names (ZooKeeper-mode Kafka wants them there), else the bootstrap broker.
async fn controller(client: &Client) -> CliResult<Arc<Connection>> {
    let metadata = client.metadata(Some(&[]), false).await?;
    Ok(client.admin_connection(&metadata).await)
}

/// One AlterPartitionReassignments for every partition of `targets`: to its replicas, or with
/// `cancel` to none (which cancels). Per partition in file order: `None` if the broker took
/// it, else why not.
async fn alter(
    client: &Client,
    targets: &[Target],
    cancel: bool,
    timeout_ms: i32,
) -> CliResult<Vec<(String, Option<String>)>> {
    let mut topics: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for t in targets {
        let replicas: Option<Vec<BrokerId>> =
            (!cancel).then(|| t.replicas.iter().map(|id| BrokerId(*id)).collect());
        topics.entry(t.topic.as_str()).or_default().push(
            ReassignablePartition::default()
                .with_partition_index(t.partition)
                .with_replicas(replicas),
        );
    }
    let request = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(timeout_ms)
        // Kafka's tool lets a reassignment change the replication factor. v1 sends the flag
        // (KIP-860); v0 has no field, and true is its meaning, so this encodes in both.
        .with_allow_replication_factor_change(true)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    ReassignableTopic::default()
                        .with_name(topic_name(name))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    let connection = controller(client).await?;
    let version = connection.version(ApiKey::AlterPartitionReassignments)?;
    let response: AlterPartitionReassignmentsResponse = connection
        .call(ApiKey::AlterPartitionReassignments, version, &request)
        .await?;
    if let Some(e) = ClientError::from_code(
        ErrorCode::from_wire(response.error_code),
        response.error_message.as_deref(),
    ) {
        return Err(e.into());
    }
    let mut errors: BTreeMap<(String, i32), Option<String>> = BTreeMap::new();
    for topic in &response.responses {
        for p in &topic.partitions {
            let error = ClientError::from_code(
                ErrorCode::from_wire(p.error_code),
                p.error_message.as_deref(),
            );
            errors.insert(
                (topic.name.0.as_str().to_owned(), p.partition_index),
                error.map(|e| e.to_string()),
            );
        }
    }
    let mut results = Vec::with_capacity(targets.len());
    for t in targets {
        let error = errors
            .remove(&(t.topic.clone(), t.partition))
            .unwrap_or_else(|| Some("the broker sent no result for it".to_owned()));
        results.push((t.name(), error));
    }
    Ok(results)
}

/// Prints the partitions that succeeded after `success`, then `failure` and each failed one
/// with its error (Kafka's lines); an error if any failed.
fn report(results: Vec<(String, Option<String>)>, success: &str, failure: &str) -> CliResult {
    let total = results.len();
    let (done, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(|(_, e)| e.is_none());
    if !done.is_empty() {
        let names: Vec<String> = done.into_iter().map(|(name, _)| name).collect();
        println!("{success}{}", names.join(","));
    }
    if failed.is_empty() {
        return Ok(());
    }
    println!("{failure}");
    for (name, error) in &failed {
        println!("{name}: {}", error.as_deref().unwrap_or("failed"));
    }
    Err(CliError::Failed(format!(
        "{} of {total} partition(s) failed",
        failed.len()
    )))
}

/// The ongoing reassignments of the partitions of `targets`, or of the whole cluster (`None`),
/// sorted by topic and partition.
pub(crate) async fn list_ongoing(
    client: &Client,
    targets: Option<&[Target]>,
    timeout_ms: i32,
) -> CliResult<Vec<Ongoing>> {
    let topics = targets.map(|targets| {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for t in targets {
            by_topic
                .entry(t.topic.as_str())
                .or_default()
                .push(t.partition);
        }
        by_topic
            .into_iter()
            .map(|(name, partitions)| {
                ListPartitionReassignmentsTopics::default()
                    .with_name(topic_name(name))
                    .with_partition_indexes(partitions)
            })
            .collect::<Vec<_>>()
    });
    let request = ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topics(topics);
    let connection = controller(client).await?;
    let version = connection.version(ApiKey::ListPartitionReassignments)?;
    let response: ListPartitionReassignmentsResponse = connection
        .call(ApiKey::ListPartitionReassignments, version, &request)
        .await?;
    if let Some(e) = ClientError::from_code(
        ErrorCode::from_wire(response.error_code),
        response.error_message.as_deref(),
    ) {
        return Err(e.into());
    }
    let mut ongoing = Vec::new();
    for topic in &response.topics {
        for p in &topic.partitions {
            ongoing.push(Ongoing {
                topic: topic.name.0.as_str().to_owned(),
                partition: p.partition_index,
                replicas: ids(&p.replicas),
                adding: ids(&p.adding_replicas),
                removing: ids(&p.removing_replicas),
            });
        }
    }
    ongoing.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(ongoing)
}

/// The current replicas of each partition of `targets` (same order), from Metadata; an error
/// for a topic or partition that does not exist.
fn current_assignment(metadata: &ClusterMetadata, targets: &[Target]) -> CliResult<Vec<Target>> {
    let mut current = Vec::with_capacity(targets.len());
    for t in targets {
        let topic = metadata.topic(&t.topic)?;
        let Some(p) = topic.partitions.iter().find(|p| p.partition == t.partition) else {
            return Err(ClientError::Broker {
                code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                message: format!("partition {} does not exist", t.name()),
            }
            .into());
        };
        current.push(Target {
            topic: t.topic.clone(),
            partition: t.partition,
            replicas: p.replicas.clone(),
        });
    }
    Ok(current)
}

/// Reads and checks a reassignment file in Kafka's format (version 1). `log_dirs` may only
/// say "any": a Rill broker has one log directory, so there is no directory to choose.
pub fn parse_reassignment_json(text: &str) -> CliResult<Vec<Target>> {
    let file: FileJson = serde_json::from_str(text)
        .map_err(|e| CliError::Usage(format!("the reassignment JSON is not valid: {e}")))?;
    if file.version != 1 {
        return Err(CliError::Usage(format!(
            "unsupported reassignment JSON version {}: only version 1 is known",
            file.version
        )));
    }
    if file.partitions.is_empty() {
        return Err(CliError::Usage(
            "Partition reassignment list cannot be empty".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut targets = Vec::with_capacity(file.partitions.len());
    for p in file.partitions {
        crate::types::topic_name::validate_name(&p.topic)
            .map_err(|illegal| CliError::Usage(illegal.message))?;
        let partition = i32::try_from(p.partition)
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "partition {} of topic '{}' is not a partition number",
                    p.partition, p.topic
                ))
            })?;
        let name = format!("{}-{partition}", p.topic);
        if !seen.insert((p.topic.clone(), partition)) {
            return Err(CliError::Usage(format!(
                "Partition reassignment contains duplicate topic partitions: {name}"
            )));
        }
        if p.replicas.is_empty() {
            return Err(CliError::Usage(format!(
                "Partition replica list cannot be empty: {name}"
            )));
        }
        let mut replicas = Vec::with_capacity(p.replicas.len());
        for &id in &p.replicas {
            let Some(id) = i32::try_from(id).ok().filter(|id| *id >= 0) else {
                return Err(CliError::Usage(format!(
                    "{name}: replica {id} is not a broker id"
                )));
            };
            if replicas.contains(&id) {
                return Err(CliError::Usage(format!(
                    "Partition replica lists may not contain duplicate entries: \
                     {name} contains multiple entries for {id}"
                )));
            }
            replicas.push(id);
        }
        if let Some(dirs) = &p.log_dirs {
            if dirs.len() != replicas.len() {
                return Err(CliError::Usage(format!(
                    "{name}: the log_dirs list has {} entries but the replicas list {}",
                    dirs.len(),
                    replicas.len()
                )));
            }
            if let Some(dir) = dirs.iter().find(|d| d.as_str() != "any") {
                return Err(CliError::Usage(format!(
                    "{name}: log dir '{dir}' cannot be chosen: a Rill broker has one log \
                     directory, so every log_dirs entry must be \"any\""
                )));
            }
        }
        targets.push(Target {
            topic: p.topic,
            partition,
            replicas,
        });
    }
    Ok(targets)
}

/// A reassignment file as read. Numbers are read wide so an out-of-range one gets this tool's
/// message rather than the JSON parser's.
#[derive(Deserialize)]
struct FileJson {
    version: i64,
    partitions: Vec<PartitionJson>,
}

#[derive(Deserialize)]
struct PartitionJson {
    topic: String,
    partition: i64,
    replicas: Vec<i64>,
    #[serde(default)]
    log_dirs: Option<Vec<String>>,
}

/// A reassignment file as written: the fields in Kafka's order.
#[derive(Serialize)]
struct FileOut<'a> {
    version: i32,
    partitions: Vec<PartitionOut<'a>>,
}

#[derive(Serialize)]
struct PartitionOut<'a> {
    topic: &'a str,
    partition: i32,
    replicas: &'a [i32],
    log_dirs: Vec<&'static str>,
}

/// `partitions` as a reassignment file, on one line and sorted by topic and partition as
/// Kafka's tool writes it, every log dir "any".
pub fn assignment_json(partitions: &[Target]) -> String {
    let mut sorted: Vec<&Target> = partitions.iter().collect();
    sorted.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let out = FileOut {
        version: 1,
        partitions: sorted
            .into_iter()
            .map(|t| PartitionOut {
                topic: &t.topic,
                partition: t.partition,
                replicas: &t.replicas,
                log_dirs: vec!["any"; t.replicas.len()],
            })
            .collect(),
    };
    serde_json::to_string(&out).expect("structs of strings and numbers serialize")
}

/// Kafka's block before `--execute` changes anything: the current assignment, to roll back to.
pub fn rollback_text(current: &[Target]) -> String {
    format!(
        "Current partition replica assignment\n\n{}\n\n\
         Save this to use as the --reassignment-json-file option during rollback\n",
        assignment_json(current)
    )
}

/// `--verify`'s text (Kafka's lines, in file order) and how many partitions are not done.
/// `current[i]` holds the replicas Metadata reports for `targets[i]`.
fn verify_text(
    targets: &[Target],
    current: &[Target],
    ongoing: &BTreeSet<(String, i32)>,
) -> (String, usize) {
    let mut text = String::from("Status of partition reassignment:\n");
    let mut incomplete = 0;
    for (target, now) in targets.iter().zip(current) {
        let name = target.name();
        if ongoing.contains(&(target.topic.clone(), target.partition)) {
            incomplete += 1;
            text.push_str(&format!(
                "Reassignment of partition {name} is still in progress.\n"
            ));
        } else if now.replicas == target.replicas {
            text.push_str(&format!("Reassignment of partition {name} is completed.\n"));
        } else {
            incomplete += 1;
            text.push_str(&format!(
                "There is no active reassignment of partition {name}, but replica set is \
                 [{}] rather than [{}].\n",
                join(now.replicas.iter().copied(), ", "),
                join(target.replicas.iter().copied(), ", ")
            ));
        }
    }
    (text, incomplete)
}

/// `--list`'s text (Kafka's lines).
fn list_text(ongoing: &[Ongoing]) -> String {
    if ongoing.is_empty() {
        return "No partition reassignments found.\n".to_owned();
    }
    let mut text = String::from("Current partition reassignments:\n");
    for o in ongoing {
        text.push_str(&format!(
            "{}-{}: replicas: {}. adding: {}. removing: {}.\n",
            o.topic,
            o.partition,
            join(o.replicas.iter().copied(), ","),
            join(o.adding.iter().copied(), ","),
            join(o.removing.iter().copied(), ",")
        ));
    }
    text
}

fn join(ids: impl Iterator<Item = i32>, separator: &str) -> String {
    ids.map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(separator)
}

fn ids(brokers: &[BrokerId]) -> Vec<i32> {
    brokers.iter().map(|b| b.0).collect()
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(topic: &str, partition: i32, replicas: &[i32]) -> Target {
        Target {
            topic: topic.to_owned(),
            partition,
            replicas: replicas.to_vec(),
        }
    }

    fn usage_error(text: &str) -> String {
        match parse_reassignment_json(text) {
            Err(CliError::Usage(message)) => message,
            other => panic!("expected a usage error for {text}, got {other:?}"),
        }
    }

    #[test]
    fn parses_kafkas_format() {
        let text = r#"{"version":1,"partitions":[
            {"topic":"t","partition":0,"replicas":[1,2,4],"log_dirs":["any","any","any"]},
            {"topic":"u.v","partition":3,"replicas":[2]}]}"#;
        assert_eq!(
            parse_reassignment_json(text).unwrap(),
            vec![target("t", 0, &[1, 2, 4]), target("u.v", 3, &[2])]
        );
    }

    #[test]
    fn refuses_what_kafka_refuses() {
        let one = |p: &str| format!(r#"{{"version":1,"partitions":[{p}]}}"#);
        assert!(usage_error("{").contains("not valid"));
        assert!(usage_error(r#"{"version":2,"partitions":[]}"#).contains("version 2"));
        assert!(usage_error(r#"{"version":1,"partitions":[]}"#).contains("cannot be empty"));
        let twice = r#"{"version":1,"partitions":[
            {"topic":"t","partition":0,"replicas":[1]},
            {"topic":"t","partition":0,"replicas":[2]}]}"#;
        assert!(usage_error(twice).contains("duplicate topic partitions: t-0"));
        assert!(
            usage_error(&one(r#"{"topic":"t","partition":1,"replicas":[1,2,1]}"#))
                .contains("t-1 contains multiple entries for 1")
        );
        assert!(
            usage_error(&one(r#"{"topic":"t","partition":0,"replicas":[]}"#))
                .contains("cannot be empty: t-0")
        );
        assert!(
            usage_error(&one(r#"{"topic":"t","partition":-1,"replicas":[1]}"#))
                .contains("not a partition number")
        );
        assert!(
            usage_error(&one(r#"{"topic":"t","partition":0,"replicas":[-2]}"#))
                .contains("not a broker id")
        );
        assert!(
            usage_error(&one(r#"{"topic":"a/b","partition":0,"replicas":[1]}"#))
                .contains("illegal")
        );
        assert!(usage_error(
            &one(r#"{"topic":"t","partition":0,"replicas":[1]}"#)
                .replace("\"replicas\"", "\"replica\"")
        )
        .contains("replicas"));
    }

    #[test]
    fn log_dirs_must_be_any() {
        let text = r#"{"version":1,"partitions":[
            {"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","/data/b"]}]}"#;
        let message = usage_error(text);
        assert!(
            message.contains("'/data/b'") && message.contains("\"any\""),
            "{message}"
        );
        let short = r#"{"version":1,"partitions":[
            {"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}"#;
        assert!(usage_error(short).contains("log_dirs"));
    }

    #[test]
    fn renders_the_current_assignment_as_kafka_does() {
        let current = [
            target("t", 1, &[3, 1]),
            target("s", 0, &[2]),
            target("t", 0, &[1, 2]),
        ];
        let json = assignment_json(&current);
        assert_eq!(
            json,
            r#"{"version":1,"partitions":[{"topic":"s","partition":0,"replicas":[2],"log_dirs":["any"]},{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"t","partition":1,"replicas":[3,1],"log_dirs":["any","any"]}]}"#
        );
        // What --execute prints is a file --execute takes back (a rollback).
        let mut sorted = current.to_vec();
        sorted.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        assert_eq!(parse_reassignment_json(&json).unwrap(), sorted);
        assert_eq!(
            rollback_text(&current[1..2]),
            "Current partition replica assignment\n\n\
             {\"version\":1,\"partitions\":[{\"topic\":\"s\",\"partition\":0,\"replicas\":[2],\"log_dirs\":[\"any\"]}]}\n\n\
             Save this to use as the --reassignment-json-file option during rollback\n"
        );
    }

    #[test]
    fn verify_counts_what_is_not_complete() {
        let targets = [
            target("t", 0, &[1, 2, 4]),
            target("t", 1, &[1, 2, 4]),
            target("t", 2, &[2, 1]),
        ];
        let current = [
            target("t", 0, &[1, 2, 3, 4]),
            target("t", 1, &[1, 2, 4]),
            target("t", 2, &[1, 2]),
        ];
        let ongoing = BTreeSet::from([("t".to_owned(), 0)]);
        let (text, incomplete) = verify_text(&targets, &current, &ongoing);
        assert_eq!(incomplete, 2);
        assert_eq!(
            text,
            "Status of partition reassignment:\n\
             Reassignment of partition t-0 is still in progress.\n\
             Reassignment of partition t-1 is completed.\n\
             There is no active reassignment of partition t-2, but replica set is [1, 2] rather than [2, 1].\n"
        );
    }

    #[test]
    fn list_prints_kafkas_lines() {
        assert_eq!(list_text(&[]), "No partition reassignments found.\n");
        let ongoing = [Ongoing {
            topic: "t".into(),
            partition: 0,
            replicas: vec![1, 2, 3, 4],
            adding: vec![4],
            removing: vec![3],
        }];
        assert_eq!(
            list_text(&ongoing),
            "Current partition reassignments:\nt-0: replicas: 1,2,3,4. adding: 4. removing: 3.\n"
        );
    }
}
