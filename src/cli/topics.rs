//! `rill topics`: create, list, describe, delete and alter topics (kafka-topics.sh).

use std::collections::BTreeMap;

use kafka_protocol::messages::ApiKey;

use super::client::admin::{EligibleLeaders, NewTopic, CONFIG_SOURCE_DYNAMIC_TOPIC};
use super::client::cluster::TopicInfo;
use super::client::{Client, ClientError};

use super::args::{Args, Spec};
use super::{client_config, connect, topic_to_create, CliError, CliResult, COMMAND_CONFIG};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill topics --bootstrap-server H:P --create --topic T [--partitions N] [--replication-factor R]
                [--config k=v]... [--if-not-exists]
    rill topics --bootstrap-server H:P --list [--exclude-internal]
    rill topics --bootstrap-server H:P --describe [--topic T] [--exclude-internal]
    rill topics --bootstrap-server H:P --delete --topic T [--if-exists]
    rill topics --bootstrap-server H:P --alter --topic T --partitions N

    --command-config FILE   client properties (Java properties file) for secured listeners:
                            security.protocol, ssl.truststore.*, ssl.keystore.*,
                            ssl.endpoint.identification.algorithm, sasl.mechanism,
                            sasl.jaas.config (PEM stores only)
";

pub(super) const SPEC: Spec = Spec {
    switches: &[
        "--create",
        "--list",
        "--describe",
        "--delete",
        "--alter",
        "--if-not-exists",
        "--if-exists",
        "--exclude-internal",
    ],
    values: &[
        "--bootstrap-server",
        "--topic",
        "--partitions",
        "--replication-factor",
        "--command-config",
    ],
    properties: &["--config"],
};

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let actions = ["--create", "--list", "--describe", "--delete", "--alter"];
    let action = args.one_of(&actions)?;
    let bootstrap = args.required("--bootstrap-server")?;
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    // A creation is checked in full (name, counts) before the broker is contacted.
    let action = match action {
        "--create" => Action::Create(new_topic(&args)?),
        "--list" => Action::List,
        "--describe" => Action::Describe,
        "--delete" => Action::Delete,
        _ => Action::Alter,
    };
    let client = connect(bootstrap, &config).await?;
    match action {
        Action::Create(new) => create(&client, new, args.has("--if-not-exists")).await,
        Action::List => list(&client, args.has("--exclude-internal")).await,
        Action::Describe => {
            describe(
                &client,
                args.value("--topic"),
                args.has("--exclude-internal"),
            )
            .await
        }
        Action::Delete => delete(&client, &args).await,
        Action::Alter => alter(&client, &args).await,
    }
}

enum Action {
    Create(NewTopic),
    List,
    Describe,
    Delete,
    Alter,
}

/// The topic `--create` asks for, checked as far as a client can.
fn new_topic(args: &Args) -> CliResult<NewTopic> {
    let topic = topic_to_create(args)?;
    let partitions = args.number::<i32>("--partitions")?.unwrap_or(-1);
    let replication_factor = args.number::<i16>("--replication-factor")?.unwrap_or(-1);
    if partitions == 0 || partitions < -1 {
        return Err(CliError::Usage("--partitions must be at least 1".into()));
    }
    if replication_factor == 0 || replication_factor < -1 {
        return Err(CliError::Usage(
            "--replication-factor must be at least 1".into(),
        ));
    }
    Ok(NewTopic {
        name: topic.to_string(),
        partitions,
        replication_factor,
        configs: args.properties("--config").to_vec(),
    })
}

async fn create(client: &Client, new: NewTopic, if_not_exists: bool) -> CliResult {
    let results = client.create_topics(&[new]).await?;
    for (name, result) in results {
        match result {
            Ok(()) => println!("Created topic {name}."),
            Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) && if_not_exists => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `--exclude-internal` leaves out the topics Metadata marks internal (`__consumer_offsets`).
async fn list(client: &Client, exclude_internal: bool) -> CliResult {
    let metadata = client.metadata(None, false).await?;
    for info in metadata.topics.values() {
        if !(exclude_internal && info.internal) {
            println!("{}", info.name);
        }
    }
    Ok(())
}

async fn describe(client: &Client, topic: Option<&str>, exclude_internal: bool) -> CliResult {
    let metadata = match topic {
        Some(t) => client.metadata(Some(&[t]), false).await?,
        None => client.metadata(None, false).await?,
    };
    if let Some(t) = topic {
        metadata.topic(t)?;
    }
    let described: Vec<&TopicInfo> = (metadata.topics.values())
        .filter(|info| !(exclude_internal && info.internal))
        .collect();
    let names: Vec<&str> = described.iter().map(|info| info.name.as_str()).collect();
    // Kafka 3.7+'s kafka-topics: each partition's eligible leader replicas (N/A from a broker
    // without DescribeTopicPartitions) and its reassignment in progress (none from a broker
    // without ListPartitionReassignments).
    let eligible = client.eligible_leaders(&names).await?;
    let moving = match client
        .bootstrap()
        .version(ApiKey::ListPartitionReassignments)
    {
        Ok(_) => {
            let timeout_ms = super::reassign_partitions::TIMEOUT_MS_DEFAULT;
            super::reassign_partitions::list_ongoing(client, None, timeout_ms).await?
        }
        Err(_) => Vec::new(),
    };
    for info in described {
        let mut extras: BTreeMap<i32, PartitionExtras> = (info.partitions.iter())
            .map(|p| {
                let key = (info.name.clone(), p.partition);
                let eligible = eligible.as_ref().and_then(|e| e.get(&key).cloned());
                (
                    p.partition,
                    PartitionExtras {
                        eligible,
                        moving: None,
                    },
                )
            })
            .collect();
        for m in moving.iter().filter(|m| m.topic == info.name) {
            extras.entry(m.partition).or_default().moving =
                Some((m.adding.clone(), m.removing.clone()));
        }
        let configs = match client.describe_topic_configs(&info.name).await? {
            Some(entries) => entries
                .iter()
                .filter(|c| c.source == CONFIG_SOURCE_DYNAMIC_TOPIC)
                .map(|c| {
                    let value = if c.sensitive {
                        "<sensitive>"
                    } else {
                        c.value.as_deref().unwrap_or("null")
                    };
                    format!("{}={value}", c.name)
                })
                .collect::<Vec<_>>()
                .join(","),
            None => String::new(),
        };
        print!("{}", describe_text(info, &configs, &extras));
    }
    Ok(())
}

/// What a partition line shows beyond Metadata's answer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionExtras {
    /// `None`: the broker does not say (printed N/A, as Kafka's tool does).
    pub eligible: Option<EligibleLeaders>,
    /// A reassignment in progress: (adding, removing) replicas.
    pub moving: Option<(Vec<i32>, Vec<i32>)>,
}

/// kafka-topics' describe layout (Kafka 3.7+): a topic line, then one tab-indented line per
/// partition with its leader, replicas, ISR, a reassignment's adding and removing replicas,
/// and the eligible leader replicas (KIP-966); Rill adds `Offline:` when replicas are offline.
pub fn describe_text(
    info: &TopicInfo,
    configs: &str,
    extras: &BTreeMap<i32, PartitionExtras>,
) -> String {
    // As Kafka's tool: a partition being moved counts the replicas it keeps.
    let replication_factor = info.partitions.first().map_or(0, |p| {
        let adding = (extras.get(&p.partition))
            .and_then(|e| e.moving.as_ref())
            .map_or(0, |(adding, _)| adding.len());
        p.replicas.len().saturating_sub(adding)
    });
    let mut out = format!(
        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}\n",
        info.name,
        kafka_uuid(&info.topic_id),
        info.partitions.len(),
        replication_factor,
        configs
    );
    let ids = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    for p in &info.partitions {
        let leader = if p.leader < 0 {
            "none".to_string()
        } else {
            p.leader.to_string()
        };
        out.push_str(&format!(
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            info.name,
            p.partition,
            leader,
            ids(&p.replicas),
            ids(&p.isr)
        ));
        let extra = extras.get(&p.partition);
        if let Some((adding, removing)) = extra.and_then(|e| e.moving.as_ref()) {
            out.push_str(&format!(
                "\tAdding Replicas: {}\tRemoving Replicas: {}",
                ids(adding),
                ids(removing)
            ));
        }
        let eligible = extra.and_then(|e| e.eligible.as_ref());
        let or_na = |set: Option<&Vec<i32>>| set.map_or_else(|| "N/A".to_owned(), |s| ids(s));
        out.push_str(&format!(
            "\tElr: {}\tLastKnownElr: {}",
            or_na(eligible.and_then(|e| e.elr.as_ref())),
            or_na(eligible.and_then(|e| e.last_known_elr.as_ref()))
        ));
        if !p.offline.is_empty() {
            out.push_str(&format!("\tOffline: {}", ids(&p.offline)));
        }
        out.push('\n');
    }
    out
}

/// Kafka prints a `Uuid` as URL-safe base64 without padding (22 characters).
fn kafka_uuid(id: &uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn delete(client: &Client, args: &Args) -> CliResult {
    let topic = args.required("--topic")?;
    let results = client.delete_topics(&[topic]).await?;
    for (name, result) in results {
        match result {
            Ok(()) => println!("Deleted topic {name}."),
            Err(e)
                if e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                    && args.has("--if-exists") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn alter(client: &Client, args: &Args) -> CliResult {
    let topic = args.required("--topic")?;
    let partitions = args
        .number::<i32>("--partitions")?
        .ok_or_else(|| CliError::Usage("--alter needs --partitions N".into()))?;
    if !client
        .bootstrap()
        .supports(kafka_protocol::messages::ApiKey::CreatePartitions)
    {
        return Err(ClientError::Invalid(format!(
            "the broker at {} does not support CreatePartitions; cannot alter the partition count",
            client.bootstrap().addr()
        ))
        .into());
    }
    client.create_partitions(topic, partitions).await?;
    println!("Altered topic {topic}: {partitions} partitions.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::client::cluster::PartitionInfo;

    #[test]
    fn uuid_prints_like_kafka() {
        // Kafka's Uuid.ZERO_UUID prints as AAAAAAAAAAAAAAAAAAAAAA.
        assert_eq!(kafka_uuid(&uuid::Uuid::nil()), "AAAAAAAAAAAAAAAAAAAAAA");
        let all_ones = uuid::Uuid::from_bytes([0xff; 16]);
        assert_eq!(kafka_uuid(&all_ones), "_____________________w");
    }

    /// Kafka 3.7+'s partition line: a reassignment's adding and removing replicas (and the
    /// replication factor without the adding ones), the ELR, N/A where the broker says nothing.
    #[test]
    fn a_partition_line_shows_reassignments_and_eligible_leaders_as_kafka_does() {
        let partition = |partition, replicas: Vec<i32>, isr: Vec<i32>| PartitionInfo {
            partition,
            leader: replicas[0],
            leader_epoch: 3,
            replicas,
            isr,
            offline: vec![],
            error_code: ErrorCode::NONE,
        };
        let info = TopicInfo {
            name: "t".into(),
            error_code: ErrorCode::NONE,
            topic_id: uuid::Uuid::nil(),
            internal: false,
            partitions: vec![
                partition(0, vec![1, 2, 4], vec![1, 2]),
                partition(1, vec![2, 3], vec![2]),
            ],
        };
        let extras = BTreeMap::from([
            (
                0,
                PartitionExtras {
                    eligible: Some(EligibleLeaders {
                        elr: Some(vec![]),
                        last_known_elr: Some(vec![]),
                    }),
                    moving: Some((vec![4], vec![3])),
                },
            ),
            (
                1,
                PartitionExtras {
                    eligible: Some(EligibleLeaders {
                        elr: Some(vec![3]),
                        last_known_elr: None,
                    }),
                    moving: None,
                },
            ),
        ]);
        let text = describe_text(&info, "", &extras);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("\tPartitionCount: 2\tReplicationFactor: 2\t"),
            "{text}"
        );
        assert_eq!(
            lines[1],
            "\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 1,2,4\tIsr: 1,2\t\
             Adding Replicas: 4\tRemoving Replicas: 3\tElr: \tLastKnownElr: "
        );
        assert_eq!(
            lines[2],
            "\tTopic: t\tPartition: 1\tLeader: 2\tReplicas: 2,3\tIsr: 2\tElr: 3\tLastKnownElr: N/A"
        );
        let bare = describe_text(&info, "", &BTreeMap::new());
        assert!(bare
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("\tIsr: 1,2\tElr: N/A\tLastKnownElr: N/A"));
    }
}
