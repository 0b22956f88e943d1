//! `rill leader-election`: preferred or unclean leader elections (kafka-leader-election.sh),
//! through ElectLeaders to any broker (its voter forwards to the controller quorum's leader).

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::args::{Args, Spec};
use super::client::ClientError;
use super::{connect, CliError, CliResult};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill leader-election --bootstrap-server H:P --election-type preferred|unclean
        (--all-topic-partitions | --topic T --partition P)

    --election-type         preferred: the first assigned replica leads again, if it is in
                            the ISR; unclean: a partition without a leader gets one, outside
                            the ISR if no in-sync replica is live (records may be lost)
    --all-topic-partitions  every partition (those that need no election are not listed)
    --topic, --partition    one partition
";

const SPEC: Spec = Spec {
    switches: &["--all-topic-partitions"],
    values: &[
        "--bootstrap-server",
        "--election-type",
        "--topic",
        "--partition",
    ],
    properties: &[],
};

/// How long the controller may take (Kafka's tool default).
const ELECTION_TIMEOUT_MS: i32 = 30_000;

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let (election_type, name) = match args
        .required("--election-type")?
        .to_ascii_lowercase()
        .as_str()
    {
        "preferred" => (0i8, "PREFERRED"),
        "unclean" => (1i8, "UNCLEAN"),
        other => {
            return Err(CliError::Usage(format!(
                "unknown --election-type '{other}': preferred or unclean"
            )))
        }
    };
    let partitions = match (
        args.has("--all-topic-partitions"),
        args.value("--topic"),
        args.value("--partition"),
    ) {
        (true, None, None) => None,
        (false, Some(topic), Some(partition)) => {
            let partition: i32 = partition.parse().map_err(|_| {
                CliError::Usage(format!("--partition '{partition}' is not a number"))
            })?;
            Some(vec![TopicPartitions::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![partition])])
        }
        _ => {
            return Err(CliError::Usage(
                "give --all-topic-partitions, or --topic with --partition".into(),
            ))
        }
    };
    let client = connect(args.required("--bootstrap-server")?).await?;
    let connection = client.bootstrap();
    let version = connection
        .version(ApiKey::ElectLeaders)
        .map_err(|_| CliError::Failed("the broker does not serve ElectLeaders".to_owned()))?;
    if version == 0 && election_type != 0 {
        return Err(CliError::Failed(
            "the broker serves only preferred elections (ElectLeaders v0)".to_owned(),
        ));
    }
    let request = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_topic_partitions(partitions)
        .with_timeout_ms(ELECTION_TIMEOUT_MS);
    let response: ElectLeadersResponse = connection
        .call(ApiKey::ElectLeaders, version, &request)
        .await?;
    if let Some(e) = ClientError::from_code(ErrorCode::from_wire(response.error_code), None) {
        return Err(e.into());
    }
    let (mut done, mut not_needed, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for topic in &response.replica_election_results {
        for p in &topic.partition_result {
            let tp = format!("{}-{}", topic.topic.0, p.partition_id);
            match ErrorCode::from_wire(p.error_code) {
                ErrorCode::NONE => done.push(tp),
                ErrorCode::ELECTION_NOT_NEEDED => not_needed.push(tp),
                code => {
                    let message = p.error_message.as_deref().map(|m| m.to_string());
                    let why = ClientError::from_code(code, message.as_deref())
                        .map_or_else(|| format!("{code:?}"), |e| e.to_string());
                    failed.push(format!("{tp}: {why}"));
                }
            }
        }
    }
    // Kafka's LeaderElectionCommand's lines.
    if !done.is_empty() {
        println!(
            "Successfully completed leader election ({name}) for partitions {}",
            done.join(", ")
        );
    }
    if !not_needed.is_empty() {
        println!(
            "Valid replica already elected for partitions {}",
            not_needed.join(", ")
        );
    }
    if done.is_empty() && not_needed.is_empty() && failed.is_empty() {
        println!("No partition needed a leader election ({name})");
    }
    if !failed.is_empty() {
        println!("Error completing leader election ({name}) for partitions:");
        for line in &failed {
            println!("    {line}");
        }
        return Err(CliError::Failed(format!(
            "{} replica(s) could not be elected",
            failed.len()
        )));
    }
    Ok(())
}
