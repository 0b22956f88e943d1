//! `rill reassign-partitions`: move partition replicas between brokers
//! (kafka-reassign-partitions.sh). `--execute`, `--verify` or `--cancel` the reassignments of a
//! JSON file in Kafka's format, or `--list` the ongoing ones, through AlterPartitionReassignments
//! and ListPartitionReassignments sent where the admin calls go ([`Client::admin_connection`]);
//! `--generate` proposes one ([`super::reassign_generate`]). `--execute --throttle` limits
//! the moves' replication first (Kafka's KIP-73 throttles, set with IncrementalAlterConfigs),
//! and `--verify` / `--cancel` remove the throttles again.

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
use super::client::admin::{
    resource_label, ConfigChanges, CONFIG_OP_DELETE, CONFIG_OP_SET, RESOURCE_BROKER, RESOURCE_TOPIC,
};
use super::client::connection::Connection;
use super::client::{Client, ClientConfig, ClientError, ClusterMetadata};
use super::reassign_generate;
use super::{CliError, CliResult};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill reassign-partitions --bootstrap-server H:P --reassignment-json-file F --execute
        [--throttle B] [--replica-alter-log-dirs-throttle B] [--timeout MS]
    rill reassign-partitions --bootstrap-server H:P --reassignment-json-file F
        (--verify | --cancel) [--preserve-throttles] [--timeout MS]
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
    --throttle B              with --execute: before starting, limit the replication of the
                              moving replicas to B bytes/s (Kafka's KIP-73 throttles): sets
                              leader.replication.throttled.replicas (the partitions' current
                              replicas) and follower.replication.throttled.replicas (the
                              replicas being added) on each topic moving, and
                              leader.replication.throttled.rate and
                              follower.replication.throttled.rate = B on every broker
                              involved; ongoing reassignments are included. -1 (the
                              default, or any negative) sets none. Run --verify until the
                              moves complete: it removes the throttles
    --replica-alter-log-dirs-throttle B
                              with --execute: accepted (as a number) for Kafka's scripts,
                              but sets nothing: Kafka applies it only to replicas moving
                              between the log directories of one broker, and a Rill broker
                              has one log directory
    --verify                  the state of each reassignment of the file; exits non-zero
                              until every one is complete, so a script can poll it. Once
                              no reassignment is in progress anywhere in the cluster, it
                              removes the throttles: the three rate configs of every
                              broker and both throttled.replicas configs of the file's
                              topics
    --cancel                  stop the file's ongoing reassignments (each partition goes
                              back to the replicas it had before, the replicas being
                              added leave; the order may differ, as in Kafka), then remove
                              the throttles as --verify does
    --preserve-throttles      with --verify or --cancel: leave the throttles in place
    --list                    the reassignments in progress in the cluster
    --generate                propose moving every partition of the topics of
                              --topics-to-move-json-file ({\"topics\":[{\"topic\":\"t\"}],
                              \"version\":1}) onto the brokers of --broker-list, keeping
                              each topic's replication factor; prints the current
                              assignment and the proposal (a file for --execute) and
                              changes nothing
    --timeout MS              how long the controller may take on a request (default 30000)
    --command-config FILE     client properties for secured listeners: security.protocol,
                              ssl.*, sasl.*
";

pub(super) const SPEC: Spec = Spec {
    switches: &[
        "--execute",
        "--verify",
        "--cancel",
        "--list",
        "--generate",
        "--preserve-throttles",
    ],
    values: &[
        "--bootstrap-server",
        "--reassignment-json-file",
        "--timeout",
        "--topics-to-move-json-file",
        "--broker-list",
        "--throttle",
        "--replica-alter-log-dirs-throttle",
        "--command-config",
    ],
    properties: &[],
};

/// `--timeout` when not given (Kafka's admin tools use 30 s).
pub(crate) const TIMEOUT_MS_DEFAULT: i32 = 30_000;

/// The topic configs naming the replicas a throttle applies to (Kafka's `QuotaConfig`).
const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";
/// The broker configs holding the rates, in bytes per second.
const LEADER_RATE: &str = "leader.replication.throttled.rate";
const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
const LOG_DIRS_RATE: &str = "replica.alter.log.dirs.io.max.bytes.per.second";

/// Kafka's warning when `--execute` sets a throttle.
const VERIFY_WARNING: &str = "Warning: You must run --verify periodically, until the \
                              reassignment completes, to ensure the throttle is removed.";

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
    let throttles = throttle_flags(
        action,
        args.number::<i64>("--throttle")?,
        args.number::<i64>("--replica-alter-log-dirs-throttle")?,
        args.has("--preserve-throttles"),
    )?;
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
    let default = super::client_config::admin(&args, super::COMMAND_CONFIG)?;
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
        "--execute" => execute(&client, &targets, timeout_ms, throttles.inter_broker).await,
        "--verify" => verify(&client, &targets, timeout_ms, throttles.preserve).await,
        "--cancel" => cancel(&client, &targets, timeout_ms, throttles.preserve).await,
        _ => list(&client, timeout_ms).await,
    }
}

/// `--execute`; with `throttle` (B/s), Kafka's throttles are set before the reassignments
/// start.
async fn execute(
    client: &Client,
    targets: &[Target],
    timeout_ms: i32,
    throttle: Option<i64>,
) -> CliResult {
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
    if let Some(rate) = throttle {
        // Kafka's order: the warning, the topic configs, the broker rates, then the limit line.
        println!("{VERIFY_WARNING}");
        let ongoing = list_ongoing(client, None, timeout_ms).await?;
        let moves = move_map(&ongoing, targets, &current);
        let topics = topic_throttle_changes(&leader_throttles(&moves), &follower_throttles(&moves));
        alter_configs(client, topics, "set the topic-level throttles").await?;
        let brokers = broker_rate_changes(&reassigning_brokers(&moves), rate);
        alter_configs(client, brokers, "set the broker-level throttles").await?;
        println!("{}", throttle_limit_text(rate));
    }
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

/// `--cancel`; then, unless `preserve`, the throttles are cleared (as Kafka does once the
/// cancellations succeeded).
async fn cancel(client: &Client, targets: &[Target], timeout_ms: i32, preserve: bool) -> CliResult {
    let results = alter(client, targets, true, timeout_ms).await?;
    report(
        results,
        "Successfully cancelled partition reassignments for: ",
        "Error cancelling partition reassignment(s):",
    )?;
    if !preserve {
        let metadata = client.metadata(Some(&[]), false).await?;
        clear_all_throttles(client, &metadata, targets).await?;
    }
    Ok(())
}

/// `--verify`; when no reassignment is in progress anywhere in the cluster, and unless
/// `preserve`, the throttles are cleared (Kafka's rule: the tool cannot know which brokers
/// earlier reassignments throttled, so it clears them all). The exit code stays non-zero
/// until the file's reassignments are complete.
async fn verify(client: &Client, targets: &[Target], timeout_ms: i32, preserve: bool) -> CliResult {
    // The ongoing list first, Metadata after: a reassignment that ends between the two calls
    // then shows its final replicas rather than a transient mismatch. The list is the whole
    // cluster's, as Kafka takes it: the file's partitions for the status, all of them for
    // whether the throttles may go.
    let all_ongoing = list_ongoing(client, None, timeout_ms).await?;
    let ongoing: BTreeSet<(String, i32)> = (all_ongoing.iter())
        .map(|o| (o.topic.clone(), o.partition))
        .collect();
    let metadata = topics_metadata(client, targets).await?;
    let current = current_assignment(&metadata, targets)?;
    let (text, incomplete) = verify_text(targets, &current, &ongoing);
    // On a terminal, how far the reassignments are, at a glance (left on screen).
    let progress = super::progress::Progress::new(targets.len() as u64, "reassignments complete");
    if progress.visible() {
        let done = targets.len() - incomplete.min(targets.len());
        progress.set(done as u64, String::new());
        progress.finish_visible();
    }
    print!("{text}");
    if all_ongoing.is_empty() && !preserve {
        clear_all_throttles(client, &metadata, targets).await?;
    }
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

/// Kafka's `clearAllThrottles`: DELETEs the three rate configs on every broker Metadata
/// names and every broker of the file's replicas, then both throttled-replicas configs on
/// the file's topics, printing Kafka's line before each.
async fn clear_all_throttles(
    client: &Client,
    metadata: &ClusterMetadata,
    targets: &[Target],
) -> CliResult {
    let (brokers, topics) = throttle_scope(metadata.brokers.keys().copied(), targets);
    print!("{}", clear_brokers_text(&brokers));
    alter_configs(
        client,
        clear_broker_changes(&brokers),
        "clear the broker-level throttles",
    )
    .await?;
    print!("{}", clear_topics_text(&topics));
    alter_configs(
        client,
        clear_topic_changes(&topics),
        "clear the topic-level throttles",
    )
    .await
}

/// One IncrementalAlterConfigs of `changes` (none sent if empty); a failure naming every
/// resource the broker refused, and why, if any was.
async fn alter_configs(client: &Client, changes: Vec<ConfigChanges>, what: &str) -> CliResult {
    if changes.is_empty() {
        return Ok(());
    }
    let results = client.incremental_alter_configs(changes).await?;
    let refused: Vec<String> = (results.into_iter())
        .filter_map(|(kind, name, result)| {
            let error = result.err()?;
            Some(format!("{} '{name}': {error}", resource_label(kind)))
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(CliError::Failed(format!(
        "cannot {what}: {}",
        refused.join("; ")
    )))
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

/// The throttle flags, once checked against the action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttles {
    /// `--throttle`: the inter-broker rate to set, in B/s; `None` when not given or negative
    /// (Kafka's -1 default means no throttle).
    pub inter_broker: Option<i64>,
    /// `--replica-alter-log-dirs-throttle`, likewise. Checked only: it sets nothing in Rill
    /// (Kafka sets it for moves between the log directories of a broker, and there are none).
    pub log_dirs: Option<i64>,
    /// `--preserve-throttles`.
    pub preserve: bool,
}

/// Kafka's rule for the throttle flags: `--throttle` and `--replica-alter-log-dirs-throttle`
/// go with `--execute` only, `--preserve-throttles` with `--verify` or `--cancel` only (each
/// refused, with any value, with another action: a usage error).
pub fn throttle_flags(
    action: &str,
    throttle: Option<i64>,
    log_dirs_throttle: Option<i64>,
    preserve: bool,
) -> Result<Throttles, String> {
    for (flag, given) in [
        ("--throttle", throttle.is_some()),
        (
            "--replica-alter-log-dirs-throttle",
            log_dirs_throttle.is_some(),
        ),
    ] {
        if given && action != "--execute" {
            return Err(format!(
                "{flag} can't be used with {action}: it goes with --execute only"
            ));
        }
    }
    if preserve && !matches!(action, "--verify" | "--cancel") {
        return Err(format!(
            "--preserve-throttles can't be used with {action}: it goes with --verify or \
             --cancel only"
        ));
    }
    Ok(Throttles {
        inter_broker: throttle.filter(|rate| *rate >= 0),
        log_dirs: log_dirs_throttle.filter(|rate| *rate >= 0),
        preserve,
    })
}

/// The brokers a partition's replication goes from and to (Kafka's `PartitionMove`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionMove {
    pub sources: BTreeSet<i32>,
    pub destinations: BTreeSet<i32>,
}

/// Every moving partition, by topic and partition.
pub type MoveMap = BTreeMap<String, BTreeMap<i32, PartitionMove>>;

/// Kafka's `calculateProposedMoveMap`: the ongoing reassignments (sources = replicas − adding,
/// destinations = adding), then the file's partitions (sources = the ongoing move's, else the
/// current replicas; destinations = target − sources). `current[i]` holds the replicas
/// Metadata reports for `targets[i]`.
pub fn move_map(ongoing: &[Ongoing], targets: &[Target], current: &[Target]) -> MoveMap {
    let mut moves = MoveMap::new();
    for o in ongoing {
        let destinations: BTreeSet<i32> = o.adding.iter().copied().collect();
        let sources = (o.replicas.iter().copied())
            .filter(|id| !destinations.contains(id))
            .collect();
        moves.entry(o.topic.clone()).or_default().insert(
            o.partition,
            PartitionMove {
                sources,
                destinations,
            },
        );
    }
    for (target, now) in targets.iter().zip(current) {
        let partitions = moves.entry(target.topic.clone()).or_default();
        let sources: BTreeSet<i32> = match partitions.get(&target.partition) {
            Some(ongoing) => ongoing.sources.clone(),
            None => now.replicas.iter().copied().collect(),
        };
        let destinations = (target.replicas.iter().copied())
            .filter(|id| !sources.contains(id))
            .collect();
        partitions.insert(
            target.partition,
            PartitionMove {
                sources,
                destinations,
            },
        );
    }
    moves
}

/// Kafka's `calculateLeaderThrottles`: per topic, `partition:broker` for every source of every
/// moving partition, comma-joined, sorted by partition then broker (as numbers; Kafka sorts
/// the texts, which differs only from partition or broker 10 on, and the order means nothing
/// to a broker).
pub fn leader_throttles(moves: &MoveMap) -> BTreeMap<String, String> {
    throttled_replicas(moves, |m| m.sources.iter().copied().collect())
}

/// Kafka's `calculateFollowerThrottles`: likewise for every destination that is not also a
/// source.
pub fn follower_throttles(moves: &MoveMap) -> BTreeMap<String, String> {
    throttled_replicas(moves, |m| {
        m.destinations.difference(&m.sources).copied().collect()
    })
}

fn throttled_replicas(
    moves: &MoveMap,
    brokers: impl Fn(&PartitionMove) -> Vec<i32>,
) -> BTreeMap<String, String> {
    (moves.iter())
        .map(|(topic, partitions)| {
            let replicas: Vec<String> = (partitions.iter())
                .flat_map(|(partition, m)| {
                    brokers(m)
                        .into_iter()
                        .map(move |broker| format!("{partition}:{broker}"))
                })
                .collect();
            (topic.clone(), replicas.join(","))
        })
        .collect()
}

/// Kafka's `calculateReassigningBrokers`: every source and destination of every move.
pub fn reassigning_brokers(moves: &MoveMap) -> BTreeSet<i32> {
    (moves.values().flat_map(|partitions| partitions.values()))
        .flat_map(|m| m.sources.iter().chain(&m.destinations).copied())
        .collect()
}

/// The topic configs `--execute --throttle` SETs: per topic, both throttled-replicas lists.
fn topic_throttle_changes(
    leader: &BTreeMap<String, String>,
    follower: &BTreeMap<String, String>,
) -> Vec<ConfigChanges> {
    let topics: BTreeSet<&String> = leader.keys().chain(follower.keys()).collect();
    (topics.into_iter())
        .map(|topic| {
            let mut ops = Vec::new();
            if let Some(replicas) = leader.get(topic) {
                ops.push((
                    LEADER_REPLICAS.to_owned(),
                    CONFIG_OP_SET,
                    Some(replicas.clone()),
                ));
            }
            if let Some(replicas) = follower.get(topic) {
                ops.push((
                    FOLLOWER_REPLICAS.to_owned(),
                    CONFIG_OP_SET,
                    Some(replicas.clone()),
                ));
            }
            (RESOURCE_TOPIC, topic.clone(), ops)
        })
        .collect()
}

/// The broker configs `--execute --throttle` SETs: both rates, on every broker of `brokers`.
fn broker_rate_changes(brokers: &BTreeSet<i32>, rate: i64) -> Vec<ConfigChanges> {
    (brokers.iter())
        .map(|id| {
            let ops: Vec<(String, i8, Option<String>)> = [LEADER_RATE, FOLLOWER_RATE]
                .into_iter()
                .map(|key| (key.to_owned(), CONFIG_OP_SET, Some(rate.to_string())))
                .collect();
            (RESOURCE_BROKER, id.to_string(), ops)
        })
        .collect()
}

/// What Kafka's `clearAllThrottles` clears: the brokers of the cluster (`cluster`) and of the
/// file's replicas, and the file's topics.
fn throttle_scope(
    cluster: impl IntoIterator<Item = i32>,
    targets: &[Target],
) -> (BTreeSet<i32>, BTreeSet<String>) {
    let mut brokers: BTreeSet<i32> = cluster.into_iter().collect();
    brokers.extend(targets.iter().flat_map(|t| t.replicas.iter().copied()));
    let topics = targets.iter().map(|t| t.topic.clone()).collect();
    (brokers, topics)
}

/// The DELETEs of the three rate configs on every broker of `brokers`.
fn clear_broker_changes(brokers: &BTreeSet<i32>) -> Vec<ConfigChanges> {
    (brokers.iter())
        .map(|id| {
            let ops: Vec<(String, i8, Option<String>)> =
                [LEADER_RATE, FOLLOWER_RATE, LOG_DIRS_RATE]
                    .into_iter()
                    .map(|key| (key.to_owned(), CONFIG_OP_DELETE, None))
                    .collect();
            (RESOURCE_BROKER, id.to_string(), ops)
        })
        .collect()
}

/// The DELETEs of both throttled-replicas configs on every topic of `topics`.
fn clear_topic_changes(topics: &BTreeSet<String>) -> Vec<ConfigChanges> {
    (topics.iter())
        .map(|topic| {
            let ops: Vec<(String, i8, Option<String>)> = [LEADER_REPLICAS, FOLLOWER_REPLICAS]
                .into_iter()
                .map(|key| (key.to_owned(), CONFIG_OP_DELETE, None))
                .collect();
            (RESOURCE_TOPIC, topic.clone(), ops)
        })
        .collect()
}

/// Kafka's line once `--execute` has set the rates.
fn throttle_limit_text(rate: i64) -> String {
    format!("The inter-broker throttle limit was set to {rate} B/s")
}

/// Kafka's line before the broker-level throttles are cleared (ids ascending).
fn clear_brokers_text(brokers: &BTreeSet<i32>) -> String {
    format!(
        "Clearing broker-level throttles on broker{} {}\n",
        plural(brokers.len()),
        join(brokers.iter().copied(), ",")
    )
}

/// Kafka's line before the topic-level throttles are cleared (names sorted).
fn clear_topics_text(topics: &BTreeSet<String>) -> String {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    format!(
        "Clearing topic-level throttles on topic{} {}\n",
        plural(names.len()),
        names.join(",")
    )
}

/// Kafka's `size == 1 ? "" : "s"`.
fn plural(count: usize) -> &'static str {
    match count {
        1 => "",
        _ => "s",
    }
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

    fn ongoing(
        topic: &str,
        partition: i32,
        replicas: &[i32],
        adding: &[i32],
        removing: &[i32],
    ) -> Ongoing {
        Ongoing {
            topic: topic.to_owned(),
            partition,
            replicas: replicas.to_vec(),
            adding: adding.to_vec(),
            removing: removing.to_vec(),
        }
    }

    fn moving(sources: &[i32], destinations: &[i32]) -> PartitionMove {
        PartitionMove {
            sources: sources.iter().copied().collect(),
            destinations: destinations.iter().copied().collect(),
        }
    }

    fn texts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        (pairs.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn op(key: &str, op: i8, value: Option<&str>) -> (String, i8, Option<String>) {
        (key.to_owned(), op, value.map(str::to_owned))
    }

    #[test]
    fn throttle_flags_go_with_kafkas_actions() {
        assert_eq!(
            throttle_flags("--execute", Some(1_000_000), None, false),
            Ok(Throttles {
                inter_broker: Some(1_000_000),
                log_dirs: None,
                preserve: false
            })
        );
        // Negative is Kafka's "no throttle" (-1 is the default); 0 is a rate.
        assert_eq!(
            throttle_flags("--execute", Some(-1), Some(0), false),
            Ok(Throttles {
                inter_broker: None,
                log_dirs: Some(0),
                preserve: false
            })
        );
        assert_eq!(
            throttle_flags("--execute", Some(0), Some(-7), false).map(|t| t.inter_broker),
            Ok(Some(0))
        );
        for action in ["--verify", "--cancel"] {
            assert_eq!(
                throttle_flags(action, None, None, true),
                Ok(Throttles {
                    inter_broker: None,
                    log_dirs: None,
                    preserve: true
                })
            );
        }
        assert_eq!(
            throttle_flags("--verify", None, None, false).map(|t| t.preserve),
            Ok(false)
        );
        // Each flag with another action is refused, whatever its value (-1 included).
        for action in ["--verify", "--cancel", "--list", "--generate"] {
            let error = throttle_flags(action, Some(-1), None, false).unwrap_err();
            assert!(
                error.starts_with("--throttle can't be used with") && error.contains(action),
                "{error}"
            );
            let error = throttle_flags(action, None, Some(100), false).unwrap_err();
            assert!(
                error.starts_with("--replica-alter-log-dirs-throttle can't be used with"),
                "{error}"
            );
        }
        for action in ["--execute", "--list", "--generate"] {
            let error = throttle_flags(action, None, None, true).unwrap_err();
            assert!(
                error.starts_with("--preserve-throttles can't be used with")
                    && error.contains(action)
                    && error.ends_with("goes with --verify or --cancel only"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_misplaced_throttle_flag_is_a_usage_error_before_any_broker() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cases: [&[&str]; 4] = [
            &["--verify", "--throttle", "1000"],
            &["--cancel", "--replica-alter-log-dirs-throttle", "-1"],
            &["--execute", "--preserve-throttles"],
            &["--execute", "--throttle", "fast"],
        ];
        for extra in cases {
            let mut raw = vec![
                "--bootstrap-server",
                "127.0.0.1:1",
                "--reassignment-json-file",
                "/nonexistent/reassignment.json",
            ];
            raw.extend_from_slice(extra);
            let raw: Vec<String> = raw.into_iter().map(String::from).collect();
            match runtime.block_on(run(&raw)) {
                Err(CliError::Usage(message)) => {
                    assert!(message.contains(extra[1]), "{extra:?}: {message}")
                }
                other => panic!("{extra:?}: expected a usage error, got {other:?}"),
            }
        }
    }

    /// Kafka's ReassignPartitionsUnitTest `testMoveMap`: foo-0 is already moving (adding 4),
    /// so its sources are the ongoing move's {1,2,3}, not the current replicas that include
    /// 4; foo-1 moves but is not in the file; bar-0 is not moving yet.
    #[test]
    fn move_map_and_throttles_follow_kafkas_example() {
        let moving_now = [
            ongoing("foo", 0, &[1, 2, 3, 4], &[4], &[3]),
            ongoing("foo", 1, &[4, 5, 6, 7, 8], &[7, 8], &[4, 5]),
            ongoing("foo", 2, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
            ongoing("foo", 3, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
            ongoing("foo", 4, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
            ongoing("foo", 5, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
        ];
        let targets = [
            target("foo", 0, &[1, 2, 5]),
            target("foo", 2, &[3, 4]),
            target("foo", 3, &[5, 6]),
            target("foo", 4, &[3]),
            target("foo", 5, &[3, 4, 5, 6]),
            target("bar", 0, &[1, 2, 3]),
        ];
        let current = [
            target("foo", 0, &[1, 2, 3, 4]),
            target("foo", 2, &[1, 2, 3, 4]),
            target("foo", 3, &[1, 2, 3, 4]),
            target("foo", 4, &[1, 2, 3, 4]),
            target("foo", 5, &[1, 2, 3, 4]),
            target("bar", 0, &[2, 3, 4]),
        ];
        let moves = move_map(&moving_now, &targets, &current);
        let foo = BTreeMap::from([
            (0, moving(&[1, 2, 3], &[5])),
            (1, moving(&[4, 5, 6], &[7, 8])),
            (2, moving(&[1, 2], &[3, 4])),
            (3, moving(&[1, 2], &[5, 6])),
            (4, moving(&[1, 2], &[3])),
            (5, moving(&[1, 2], &[3, 4, 5, 6])),
        ]);
        let bar = BTreeMap::from([(0, moving(&[2, 3, 4], &[1]))]);
        assert_eq!(
            moves,
            MoveMap::from([("bar".to_owned(), bar), ("foo".to_owned(), foo)])
        );
        assert_eq!(
            leader_throttles(&moves),
            texts(&[
                (
                    "foo",
                    "0:1,0:2,0:3,1:4,1:5,1:6,2:1,2:2,3:1,3:2,4:1,4:2,5:1,5:2"
                ),
                ("bar", "0:2,0:3,0:4"),
            ])
        );
        assert_eq!(
            follower_throttles(&moves),
            texts(&[
                ("foo", "0:5,1:7,1:8,2:3,2:4,3:5,3:6,4:3,5:3,5:4,5:5,5:6"),
                ("bar", "0:1"),
            ])
        );
        assert_eq!(
            reassigning_brokers(&moves),
            BTreeSet::from([1, 2, 3, 4, 5, 6, 7, 8])
        );
    }

    #[test]
    fn throttled_replicas_sort_by_partition_then_broker_as_numbers() {
        let targets = [
            target("t", 10, &[3, 12]),
            target("t", 2, &[9, 1]),
            // Only the order changes: nothing to follow, the leader side still listed.
            target("r", 0, &[2, 1]),
        ];
        let current = [
            target("t", 10, &[12, 4]),
            target("t", 2, &[1, 10]),
            target("r", 0, &[1, 2]),
        ];
        let moves = move_map(&[], &targets, &current);
        assert_eq!(
            leader_throttles(&moves),
            texts(&[("t", "2:1,2:10,10:4,10:12"), ("r", "0:1,0:2")])
        );
        assert_eq!(
            follower_throttles(&moves),
            texts(&[("t", "2:9,10:3"), ("r", "")])
        );
        assert_eq!(
            reassigning_brokers(&moves),
            BTreeSet::from([1, 2, 3, 4, 9, 10, 12])
        );
    }

    #[test]
    fn execute_sets_kafkas_configs() {
        let leader = texts(&[("foo", "0:1,0:2"), ("bar", "0:3")]);
        let follower = texts(&[("foo", "0:4"), ("bar", "")]);
        assert_eq!(
            topic_throttle_changes(&leader, &follower),
            vec![
                (
                    2, // TOPIC
                    "bar".to_owned(),
                    vec![
                        op("leader.replication.throttled.replicas", 0, Some("0:3")),
                        op("follower.replication.throttled.replicas", 0, Some("")),
                    ]
                ),
                (
                    2, // TOPIC
                    "foo".to_owned(),
                    vec![
                        op("leader.replication.throttled.replicas", 0, Some("0:1,0:2")),
                        op("follower.replication.throttled.replicas", 0, Some("0:4")),
                    ]
                ),
            ]
        );
        assert_eq!(
            broker_rate_changes(&BTreeSet::from([4, 1]), 1_000_000),
            vec![
                (
                    4, // BROKER
                    "1".to_owned(),
                    vec![
                        op("leader.replication.throttled.rate", 0, Some("1000000")),
                        op("follower.replication.throttled.rate", 0, Some("1000000")),
                    ]
                ),
                (
                    4, // BROKER
                    "4".to_owned(),
                    vec![
                        op("leader.replication.throttled.rate", 0, Some("1000000")),
                        op("follower.replication.throttled.rate", 0, Some("1000000")),
                    ]
                ),
            ]
        );
        assert_eq!(
            throttle_limit_text(1_000_000),
            "The inter-broker throttle limit was set to 1000000 B/s"
        );
        assert_eq!(
            VERIFY_WARNING,
            "Warning: You must run --verify periodically, until the reassignment completes, \
             to ensure the throttle is removed."
        );
    }

    #[test]
    fn clearing_covers_the_cluster_and_the_files_replicas_and_topics() {
        let targets = [
            target("t", 0, &[1, 2, 4]),
            target("a", 3, &[5]),
            target("t", 1, &[2]),
        ];
        let (brokers, topics) = throttle_scope([3, 1, 2], &targets);
        assert_eq!(brokers, BTreeSet::from([1, 2, 3, 4, 5]));
        assert_eq!(topics, BTreeSet::from(["a".to_owned(), "t".to_owned()]));
        assert_eq!(
            clear_brokers_text(&brokers),
            "Clearing broker-level throttles on brokers 1,2,3,4,5\n"
        );
        assert_eq!(
            clear_topics_text(&topics),
            "Clearing topic-level throttles on topics a,t\n"
        );
        // Kafka's singular forms.
        assert_eq!(
            clear_brokers_text(&BTreeSet::from([7])),
            "Clearing broker-level throttles on broker 7\n"
        );
        assert_eq!(
            clear_topics_text(&BTreeSet::from(["t".to_owned()])),
            "Clearing topic-level throttles on topic t\n"
        );
        assert_eq!(
            clear_broker_changes(&BTreeSet::from([2])),
            vec![(
                4, // BROKER
                "2".to_owned(),
                vec![
                    op("leader.replication.throttled.rate", 1, None),
                    op("follower.replication.throttled.rate", 1, None),
                    op("replica.alter.log.dirs.io.max.bytes.per.second", 1, None),
                ]
            )]
        );
        assert_eq!(
            clear_topic_changes(&topics),
            vec![
                (
                    2, // TOPIC
                    "a".to_owned(),
                    vec![
                        op("leader.replication.throttled.replicas", 1, None),
                        op("follower.replication.throttled.replicas", 1, None),
                    ]
                ),
                (
                    2, // TOPIC
                    "t".to_owned(),
                    vec![
                        op("leader.replication.throttled.replicas", 1, None),
                        op("follower.replication.throttled.replicas", 1, None),
                    ]
                ),
            ]
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
