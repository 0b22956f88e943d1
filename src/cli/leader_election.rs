//! `rill leader-election`: preferred or unclean leader elections (kafka-leader-election.sh),
//! through ElectLeaders to any broker (its voter forwards to the controller quorum's leader).

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ApiKey, ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::args::{Args, Spec};
use super::client::ClientError;
use super::{client_config, connect, CliError, CliResult};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill leader-election --bootstrap-server H:P --election-type preferred|unclean
        (--all-topic-partitions | --topic T --partition P | --path-to-json-file F)

    --election-type         preferred: the first assigned replica leads again, if it is in
                            the ISR; unclean: a partition without a leader gets one, outside
                            the ISR if no in-sync replica is live (records may be lost)
    --all-topic-partitions  every partition (those that need no election are not listed)
    --topic, --partition    one partition
    --path-to-json-file     the partitions a file names, in Kafka's format:
                            {\"partitions\": [{\"topic\": \"t\", \"partition\": 0}, ...]}
    --admin.config FILE     client properties for secured listeners: security.protocol,
                            ssl.*, sasl.* (kafka-leader-election's flag; --command-config is
                            the same, as in Kafka 4.2)
";

pub(super) const SPEC: Spec = Spec {
    switches: &["--all-topic-partitions"],
    values: &[
        "--bootstrap-server",
        "--election-type",
        "--topic",
        "--partition",
        "--path-to-json-file",
        "--admin.config",
        "--command-config",
    ],
    properties: &[],
};

/// kafka-leader-election's client properties flag, and its KIP-1147 name.
const ADMIN_CONFIG: &[&str] = &["--admin.config", "--command-config"];

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
        (false, None, None) if args.value("--path-to-json-file").is_some() => {
            let path = args.required("--path-to-json-file")?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--path-to-json-file {path}: {e}")))?;
            Some(
                partitions_from_json(&text)
                    .map_err(|e| CliError::Usage(format!("--path-to-json-file {path}: {e}")))?,
            )
        }
        (true, None, None) if args.value("--path-to-json-file").is_none() => None,
        (false, Some(topic), Some(partition)) if args.value("--path-to-json-file").is_none() => {
            let partition: i32 = partition.parse().map_err(|_| {
                CliError::Usage(format!("--partition '{partition}' is not a number"))
            })?;
            Some(vec![TopicPartitions::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![partition])])
        }
        _ => {
            return Err(CliError::Usage(
                "give one of --all-topic-partitions, --topic with --partition, or \
                 --path-to-json-file"
                    .into(),
            ))
        }
    };
    let config = client_config::admin(&args, ADMIN_CONFIG)?;
    let client = connect(args.required("--bootstrap-server")?, &config).await?;
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

/// The partitions of a kafka-leader-election JSON file (`{"partitions": [{"topic": "t",
/// "partition": 0}, ...]}`), grouped by topic in the file's order; a partition named twice is
/// an error, as in Kafka's tool.
fn partitions_from_json(text: &str) -> Result<Vec<TopicPartitions>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        partitions: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        topic: String,
        partition: i32,
    }
    let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if file.partitions.is_empty() {
        return Err("it names no partition".to_owned());
    }
    let mut grouped: Vec<(String, Vec<i32>)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for entry in file.partitions {
        if !seen.insert((entry.topic.clone(), entry.partition)) {
            return Err(format!(
                "partition {}-{} is named twice",
                entry.topic, entry.partition
            ));
        }
        let at = match grouped.iter().position(|(topic, _)| *topic == entry.topic) {
            Some(at) => at,
            None => {
                grouped.push((entry.topic.clone(), Vec::new()));
                grouped.len() - 1
            }
        };
        grouped[at].1.push(entry.partition);
    }
    Ok(grouped
        .into_iter()
        .map(|(topic, partitions)| {
            TopicPartitions::default()
                .with_topic(TopicName(StrBytes::from_string(topic)))
                .with_partitions(partitions)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(parsed: &[TopicPartitions]) -> Vec<(String, Vec<i32>)> {
        (parsed.iter())
            .map(|t| (t.topic.0.to_string(), t.partitions.clone()))
            .collect()
    }

    #[test]
    fn a_json_file_names_partitions_grouped_by_topic() {
        let text = r#"{"partitions": [{"topic": "a", "partition": 1},
            {"topic": "b", "partition": 0}, {"topic": "a", "partition": 0}]}"#;
        let parsed = partitions_from_json(text).unwrap();
        assert_eq!(
            names(&parsed),
            vec![("a".into(), vec![1, 0]), ("b".into(), vec![0])]
        );
    }

    #[test]
    fn a_json_file_without_partitions_or_with_a_partition_twice_is_refused() {
        let twice =
            r#"{"partitions": [{"topic": "a", "partition": 1}, {"topic": "a", "partition": 1}]}"#;
        assert!(partitions_from_json(twice)
            .unwrap_err()
            .contains("a-1 is named twice"));
        assert!(partitions_from_json(r#"{"partitions": []}"#)
            .unwrap_err()
            .contains("no partition"));
        assert!(partitions_from_json(r#"{"partitions": [{"topic": "a"}]}"#).is_err());
        assert!(partitions_from_json("not json").is_err());
    }
}
