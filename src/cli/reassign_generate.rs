//! `rill reassign-partitions --generate`: a proposed reassignment moving every partition of
//! some topics onto a list of brokers (kafka-reassign-partitions.sh's `--generate`, with
//! `--topics-to-move-json-file` and `--broker-list`). It changes nothing: it prints the current
//! assignment and the proposal, both in the reassignment file's format, for `--execute`.
//!
//! The placement is Kafka's rack-unaware `assignReplicasToBrokers`: partition `p`'s first
//! replica is broker `(p + start) mod n` of the sorted list, the others follow it at a shift that
//! grows every `n` partitions, so leaders and followers both spread evenly. Kafka draws `start`
//! and the first shift at random; here they come from the topic's name, so the same command
//! proposes the same thing twice (beyond Kafka: a proposal can be reviewed, then generated
//! again and executed).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::reassign_partitions::Target;
use super::{CliError, CliResult};

/// Kafka's `--topics-to-move-json-file`: `{"topics":[{"topic":"t"}],"version":1}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    topics: Vec<TopicEntry>,
    #[serde(default = "version_one")]
    version: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicEntry {
    topic: String,
}

fn version_one() -> i32 {
    1
}

/// The topics of a topics-to-move file, in file order, each once.
pub fn parse_topics_json(text: &str) -> CliResult<Vec<String>> {
    let file: TopicsFile = serde_json::from_str(text)
        .map_err(|e| CliError::Usage(format!("the topics-to-move file is not valid: {e}")))?;
    if file.version != 1 {
        return Err(CliError::Usage(format!(
            "Not supported version field value {}",
            file.version
        )));
    }
    if file.topics.is_empty() {
        return Err(CliError::Usage("Topics to move json file is empty".into()));
    }
    let mut seen = BTreeSet::new();
    let mut topics = Vec::new();
    for entry in file.topics {
        if !seen.insert(entry.topic.clone()) {
            return Err(CliError::Usage(format!(
                "Duplicate topic in the topics-to-move file: {}",
                entry.topic
            )));
        }
        topics.push(entry.topic);
    }
    Ok(topics)
}

/// `--broker-list "1,2,3"`: the broker ids, sorted, each once.
pub fn parse_broker_list(text: &str) -> CliResult<Vec<i32>> {
    let mut ids = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id: i32 = part
            .parse()
            .map_err(|_| CliError::Usage(format!("--broker-list: not a broker id: {part:?}")))?;
        if id < 0 || !ids.insert(id) {
            return Err(CliError::Usage(format!(
                "--broker-list: a broker id is negative or given twice: {id}"
            )));
        }
    }
    if ids.is_empty() {
        return Err(CliError::Usage("--broker-list names no broker".into()));
    }
    Ok(ids.into_iter().collect())
}

/// The proposed replicas of `topic`'s `partitions` (0..partitions) on `brokers` (sorted), each
/// with `replication_factor` replicas; an error if there are fewer brokers than that (Kafka's
/// message).
pub fn propose(
    topic: &str,
    partitions: i32,
    replication_factor: usize,
    brokers: &[i32],
) -> CliResult<Vec<Target>> {
    let n = brokers.len();
    if replication_factor == 0 || replication_factor > n {
        return Err(CliError::Failed(format!(
            "Replication factor: {replication_factor} larger than available brokers: {n}."
        )));
    }
    let seed = name_hash(topic);
    let start = (seed % n as u64) as usize;
    let mut shift = ((seed >> 32) % n as u64) as usize;
    let mut proposal = Vec::with_capacity(partitions.max(0) as usize);
    for p in 0..partitions.max(0) as usize {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor - 1 {
            // Kafka's `replicaIndex`: never the first replica's own broker.
            let index = (first + 1 + (shift + j) % (n - 1)) % n;
            replicas.push(brokers[index]);
        }
        proposal.push(Target {
            topic: topic.to_string(),
            partition: p as i32,
            replicas,
        });
    }
    Ok(proposal)
}

/// FNV-1a of the topic name: the placement's start and shift.
fn name_hash(topic: &str) -> u64 {
    topic.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `--generate`'s text (Kafka's): the current assignment, then the proposal.
pub fn generate_text(current: &[Target], proposal: &[Target]) -> String {
    format!(
        "Current partition replica assignment\n{}\n\nProposed partition reassignment configuration\n{}\n",
        super::reassign_partitions::assignment_json(current),
        super::reassign_partitions::assignment_json(proposal)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn reads_kafkas_topics_file_and_refuses_what_it_refuses() {
        let topics = parse_topics_json(r#"{"topics":[{"topic":"a"},{"topic":"b"}],"version":1}"#)
            .expect("valid");
        assert_eq!(topics, ["a", "b"]);
        for bad in [
            r#"{"topics":[],"version":1}"#,
            r#"{"topics":[{"topic":"a"}],"version":2}"#,
            r#"{"topics":[{"topic":"a"},{"topic":"a"}]}"#,
            r#"{"topics":[{"name":"a"}]}"#,
            "not json",
        ] {
            assert!(parse_topics_json(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_broker_list("3, 1,2").unwrap(), [1, 2, 3]);
        for bad in ["", "1,1", "1,x", "-1"] {
            assert!(parse_broker_list(bad).is_err(), "{bad:?}");
        }
    }

    /// Every partition gets the replication factor in distinct brokers of the list; leaders
    /// and replicas spread evenly; the same input proposes the same placement.
    #[test]
    fn the_proposal_spreads_leaders_and_replicas_evenly_over_the_brokers() {
        let brokers = [1, 2, 4, 7];
        let proposal = propose("orders", 12, 3, &brokers).unwrap();
        assert_eq!(proposal.len(), 12);
        let mut leaders: BTreeMap<i32, usize> = BTreeMap::new();
        let mut replicas: BTreeMap<i32, usize> = BTreeMap::new();
        for (p, target) in proposal.iter().enumerate() {
            assert_eq!(target.partition, p as i32);
            let distinct: BTreeSet<i32> = target.replicas.iter().copied().collect();
            assert_eq!(distinct.len(), 3, "{target:?}");
            assert!(distinct.iter().all(|b| brokers.contains(b)));
            *leaders.entry(target.replicas[0]).or_default() += 1;
            for b in &target.replicas {
                *replicas.entry(*b).or_default() += 1;
            }
        }
        assert!(leaders.values().all(|&count| count == 3), "{leaders:?}");
        assert!(replicas.values().all(|&count| count == 9), "{replicas:?}");
        assert_eq!(proposal, propose("orders", 12, 3, &brokers).unwrap());
        let err = propose("orders", 1, 3, &[1, 2]).unwrap_err();
        assert!(
            matches!(&err, CliError::Failed(m)
                if m == "Replication factor: 3 larger than available brokers: 2."),
            "{err:?}"
        );
    }

    #[test]
    fn prints_the_current_assignment_then_the_proposal_as_kafka_does() {
        let current = vec![Target {
            topic: "t".into(),
            partition: 0,
            replicas: vec![1, 2],
        }];
        let proposal = propose("t", 1, 2, &[3, 4]).unwrap();
        let text = generate_text(&current, &proposal);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Current partition replica assignment");
        assert!(lines[1].contains(r#""replicas":[1,2]"#), "{text}");
        assert_eq!(lines[3], "Proposed partition reassignment configuration");
        assert!(lines[4].starts_with(r#"{"version":1,"partitions":[{"topic":"t""#));
        // The proposal is a file --execute takes.
        let parsed = super::super::reassign_partitions::parse_reassignment_json(lines[4]).unwrap();
        assert_eq!(parsed, proposal);
    }
}
