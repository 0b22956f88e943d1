//! `rill metadata-quorum`: the controller quorum's state (kafka-metadata-quorum.sh), from
//! DescribeQuorum through any broker (its voter forwards to the leader).

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_quorum_response::ReplicaState;
use kafka_protocol::messages::{ApiKey, DescribeQuorumRequest, DescribeQuorumResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::args::{Args, Spec};
use super::client::ClientError;
use super::{client_config, connect, CliError, CliResult, COMMAND_CONFIG};
use crate::types::ErrorCode;

pub const USAGE: &str = "\
USAGE:
    rill metadata-quorum --bootstrap-server H:P describe --status
    rill metadata-quorum --bootstrap-server H:P describe --replication

    --status        the cluster id, the leader, its epoch, the high watermark, the voters
    --replication   each voter's log end offset and lag behind the leader
    --command-config FILE
                    client properties for secured listeners: security.protocol, ssl.*, sasl.*
";

pub(super) const SPEC: Spec = Spec {
    switches: &["--status", "--replication"],
    values: &["--bootstrap-server", "--command-config"],
    properties: &[],
};

/// Kafka's name of the metadata log's topic.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub async fn run(raw: &[String]) -> CliResult {
    // Kafka's form: the command `describe` among the flags.
    let (commands, flags): (Vec<String>, Vec<String>) = raw
        .iter()
        .cloned()
        .partition(|a| !a.starts_with("--") && a == "describe");
    let args = Args::parse(&flags, &SPEC)?;
    if commands.len() != 1 {
        return Err(CliError::Usage("give the command describe".into()));
    }
    let replication = match (args.has("--status"), args.has("--replication")) {
        (true, false) => false,
        (false, true) => true,
        _ => {
            return Err(CliError::Usage(
                "give exactly one of --status, --replication".into(),
            ))
        }
    };
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    let client = connect(args.required("--bootstrap-server")?, &config).await?;
    let cluster_id = client.metadata(Some(&[]), false).await?.cluster_id;
    let connection = client.bootstrap();
    let version = connection
        .version(ApiKey::DescribeQuorum)
        .map_err(|_| CliError::Failed("the broker does not serve DescribeQuorum".to_owned()))?;
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let response: DescribeQuorumResponse = connection
        .call(ApiKey::DescribeQuorum, version, &request)
        .await?;
    let message = response.error_message.as_deref().map(|m| m.to_string());
    if let Some(e) = ClientError::from_code(
        ErrorCode::from_wire(response.error_code),
        message.as_deref(),
    ) {
        return Err(e.into());
    }
    let partition = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| CliError::Failed("DescribeQuorum answered no partition".to_owned()))?;
    let message = partition.error_message.as_deref().map(|m| m.to_string());
    if let Some(e) = ClientError::from_code(
        ErrorCode::from_wire(partition.error_code),
        message.as_deref(),
    ) {
        return Err(e.into());
    }
    let leader = partition.leader_id.0;
    let leader_end = partition
        .current_voters
        .iter()
        .find(|v| v.replica_id.0 == leader)
        .map_or(partition.high_watermark, |v| v.log_end_offset);
    if replication {
        print!(
            "{}",
            replication_table(
                &partition.current_voters,
                &partition.observers,
                leader,
                leader_end
            )
        );
    } else {
        let lag = partition
            .current_voters
            .iter()
            .map(|v| (leader_end - v.log_end_offset).max(0))
            .max()
            .unwrap_or(0);
        let voters: Vec<String> = partition
            .current_voters
            .iter()
            .map(|v| v.replica_id.0.to_string())
            .collect();
        println!("ClusterId:              {}", cluster_id.unwrap_or_default());
        println!("LeaderId:               {leader}");
        println!("LeaderEpoch:            {}", partition.leader_epoch);
        println!("HighWatermark:          {}", partition.high_watermark);
        println!("MaxFollowerLag:         {lag}");
        println!("MaxFollowerLagTimeMs:   -1");
        let observers: Vec<String> = (partition.observers.iter())
            .map(|o| o.replica_id.0.to_string())
            .collect();
        println!("CurrentVoters:          [{}]", voters.join(","));
        println!("CurrentObservers:       [{}]", observers.join(","));
    }
    Ok(())
}

/// Kafka's `describe --replication` table: one row per voter, the leader first, then one per
/// observer (broker-only nodes).
fn replication_table(
    voters: &[ReplicaState],
    observers: &[ReplicaState],
    leader: i32,
    leader_end: i64,
) -> String {
    let mut rows: Vec<(&ReplicaState, bool)> = voters.iter().map(|v| (v, false)).collect();
    rows.sort_by_key(|(v, _)| (v.replica_id.0 != leader, v.replica_id.0));
    let mut observers: Vec<&ReplicaState> = observers.iter().collect();
    observers.sort_by_key(|o| o.replica_id.0);
    rows.extend(observers.into_iter().map(|o| (o, true)));
    let mut out = format!(
        "{:<8}{:<16}{:<8}{:<24}{:<24}{}\n",
        "NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp", "Status"
    );
    for (v, observer) in rows {
        let status = match (observer, v.replica_id.0 == leader) {
            (true, _) => "Observer",
            (false, true) => "Leader",
            (false, false) => "Follower",
        };
        out.push_str(&format!(
            "{:<8}{:<16}{:<8}{:<24}{:<24}{}\n",
            v.replica_id.0,
            v.log_end_offset,
            (leader_end - v.log_end_offset).max(0),
            v.last_fetch_timestamp,
            v.last_caught_up_timestamp,
            status
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::BrokerId;

    #[test]
    fn the_replication_table_puts_the_leader_first_and_observers_last_with_each_lag() {
        let voter = |id, end| {
            ReplicaState::default()
                .with_replica_id(BrokerId(id))
                .with_log_end_offset(end)
                .with_last_fetch_timestamp(-1)
                .with_last_caught_up_timestamp(-1)
        };
        let voters = [voter(1, 7), voter(2, 10), voter(3, 10)];
        let table = replication_table(&voters, &[voter(5, 4), voter(4, 9)], 2, 10);
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(rows[0][0], "NodeId");
        assert_eq!(rows[1], ["2", "10", "0", "-1", "-1", "Leader"]);
        assert_eq!(rows[2], ["1", "7", "3", "-1", "-1", "Follower"]);
        assert_eq!(rows[3], ["3", "10", "0", "-1", "-1", "Follower"]);
        assert_eq!(rows[4], ["4", "9", "1", "-1", "-1", "Observer"]);
        assert_eq!(rows[5], ["5", "4", "6", "-1", "-1", "Observer"]);
    }
}
