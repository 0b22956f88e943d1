//! `rill transactions describe-producers | find-hanging | abort`: kafka-transactions.sh's
//! commands on the partitions' side of transactions (KIP-664), with its flags and tables.
//!
//! * `describe-producers` lists the producers a partition's leader (or `--broker-id`'s
//!   replica) remembers.
//! * `find-hanging` is Kafka's search for transactions left open on a partition that no
//!   coordinator will end (a client's produce that its coordinator never heard of, a marker
//!   lost): DescribeProducers of the partitions searched; the producers with a transaction
//!   open whose last write is older than `--max-transaction-timeout` minutes (no coordinator
//!   would let a transaction run longer) are candidates; ListTransactions by producer id and
//!   DescribeTransactions of their ids then tell which ones a coordinator still holds open
//!   with that partition in them. The others are hanging.
//! * `abort` writes the ABORT marker of one such transaction at the partition's leader
//!   (WriteTxnMarkers), found by its start offset (DescribeProducers) or named by producer id,
//!   producer epoch and coordinator epoch.

use std::collections::{BTreeMap, BTreeSet};

use super::args::Args;
use super::client::producers::{self, AbortSpec, Partition, ProducerState};
use super::client::transactions::{self, TransactionDescription, TransactionFilter};
use super::client::Client;
use super::transactions::table;
use super::{CliError, CliResult};
use crate::cli::client::producer::now_ms;
use crate::types::ErrorCode;

/// The columns of `describe-producers` (Kafka's `DescribeProducersCommand.HEADERS`).
const PRODUCERS_HEADERS: [&str; 6] = [
    "ProducerId",
    "ProducerEpoch",
    "LatestCoordinatorEpoch",
    "LastSequence",
    "LastTimestamp",
    "CurrentTransactionStartOffset",
];

/// The columns of `find-hanging` (Kafka's `FindHangingTransactionsCommand.HEADERS`).
const HANGING_HEADERS: [&str; 8] = [
    "Topic",
    "Partition",
    "ProducerId",
    "ProducerEpoch",
    "CoordinatorEpoch",
    "StartOffset",
    "LastTimestamp",
    "Duration(min)",
];

/// `--max-transaction-timeout`'s default, in minutes: Kafka's `transaction.max.timeout.ms`
/// default (15 minutes), the longest any coordinator lets a transaction run by default.
const MAX_TRANSACTION_TIMEOUT_MINUTES_DEFAULT: i64 = 15;

const MINUTE_MS: i64 = 60_000;

/// `describe-producers --topic T --partition P [--broker-id N]`.
pub(super) async fn describe_producers(client: &Client, args: &Args) -> CliResult {
    let partition = named_partition(args)?;
    let broker_id = args.number::<i32>("--broker-id")?;
    let asked = [partition.clone()];
    let described = producers::describe_producers(client, &asked, broker_id);
    let described = described.await.map_err(|e| {
        let on = broker_id.map_or("leader".to_string(), |id| format!("broker {id}"));
        let (topic, index) = &partition;
        CliError::Failed(format!(
            "Failed to describe producers for partition {topic}-{index} on {on}: {e}"
        ))
    })?;
    let rows: Vec<Vec<String>> = (described.get(&partition).into_iter().flatten())
        .map(producer_row)
        .collect();
    print!("{}", table(&PRODUCERS_HEADERS, &rows));
    Ok(())
}

/// `describe-producers`' row: -1 for no coordinator epoch, None for no open transaction.
fn producer_row(p: &ProducerState) -> Vec<String> {
    let start = (p.current_txn_start_offset).map_or("None".to_string(), |o| o.to_string());
    vec![
        p.producer_id.to_string(),
        p.producer_epoch.to_string(),
        p.coordinator_epoch.unwrap_or(-1).to_string(),
        p.last_sequence.to_string(),
        p.last_timestamp_ms.to_string(),
        start,
    ]
}

/// `--topic` and `--partition`, both required.
fn named_partition(args: &Args) -> CliResult<Partition> {
    let topic = args.required("--topic")?.to_string();
    let partition = (args.number::<i32>("--partition")?)
        .ok_or_else(|| CliError::Usage("missing required option --partition".into()))?;
    Ok((topic, partition))
}

/// Where `find-hanging` looks: one broker's replicas, a topic, or one partition.
struct Scope {
    broker_id: Option<i32>,
    topic: Option<String>,
    partition: Option<i32>,
}

/// `find-hanging (--broker-id N | --topic T [--partition P]) [--max-transaction-timeout M]`.
pub(super) async fn find_hanging(client: &Client, args: &Args) -> CliResult {
    let scope = Scope {
        broker_id: args.number::<i32>("--broker-id")?,
        topic: args.value("--topic").map(str::to_string),
        partition: args.number::<i32>("--partition")?,
    };
    if scope.topic.is_none() && scope.broker_id.is_none() {
        return Err(CliError::Usage(
            "find-hanging requires either --topic or --broker-id to limit the scope of the \
             search"
                .into(),
        ));
    }
    if scope.partition.is_some() && scope.topic.is_none() {
        return Err(CliError::Usage(
            "the --partition argument requires --topic to be provided".into(),
        ));
    }
    let max_minutes = (args.number::<i64>("--max-transaction-timeout")?)
        .unwrap_or(MAX_TRANSACTION_TIMEOUT_MINUTES_DEFAULT);
    if max_minutes < 0 {
        return Err(CliError::Usage(
            "--max-transaction-timeout must not be negative".into(),
        ));
    }
    let partitions = partitions_to_search(client, &scope).await?;
    let described = if partitions.is_empty() {
        BTreeMap::new()
    } else {
        (producers::describe_producers(client, &partitions, scope.broker_id).await).map_err(
            |e| {
                CliError::Failed(format!(
                    "Failed to describe producers for {} partitions: {e}",
                    partitions.len()
                ))
            },
        )?
    };
    let now = now_ms();
    let open = candidates(&described, now, max_minutes.saturating_mul(MINUTE_MS));
    let hanging = if open.is_empty() {
        Vec::new()
    } else {
        let ids = transactional_ids(client, &open).await?;
        let descriptions = descriptions(client, &ids).await?;
        still_hanging(open, &ids, &descriptions)
    };
    let rows: Vec<Vec<String>> = (hanging.iter())
        .map(|(tp, p)| hanging_row(tp, p, now))
        .collect();
    print!("{}", table(&HANGING_HEADERS, &rows));
    Ok(())
}

/// Kafka's `collectTopicPartitionsToSearch`: the one partition named, or every partition of
/// the topic (or of every topic but the internal ones) with a replica on `--broker-id` if
/// given.
async fn partitions_to_search(client: &Client, scope: &Scope) -> CliResult<Vec<Partition>> {
    if let (Some(topic), Some(partition)) = (&scope.topic, scope.partition) {
        return Ok(vec![(topic.clone(), partition)]);
    }
    let named: Vec<&str> = scope.topic.iter().map(String::as_str).collect();
    let asked = scope.topic.as_ref().map(|_| named.as_slice());
    let metadata = (client.metadata(asked, false).await)
        .map_err(|e| CliError::Failed(format!("Failed to list topics: {e}")))?;
    let mut partitions = Vec::new();
    for (name, info) in &metadata.topics {
        if scope.topic.is_none() && info.internal {
            continue; // Kafka's listTopics leaves the internal topics out
        }
        let info = (metadata.topic(name))
            .map_err(|e| CliError::Failed(format!("Failed to describe topic {name}: {e}")))?;
        for p in &info.partitions {
            if scope.broker_id.is_none_or(|id| p.replicas.contains(&id)) {
                partitions.push((name.clone(), p.partition));
            }
        }
    }
    Ok(partitions)
}

/// The producers with a transaction open whose last write is more than `max_ms` old, by
/// partition then producer id (Kafka's `collectCandidateOpenTransactions`).
fn candidates(
    described: &BTreeMap<Partition, Vec<ProducerState>>,
    now_ms: i64,
    max_ms: i64,
) -> Vec<(Partition, ProducerState)> {
    (described.iter())
        .flat_map(|(tp, producers)| producers.iter().map(move |p| (tp, p)))
        .filter(|(_, p)| {
            p.current_txn_start_offset.is_some() && now_ms - p.last_timestamp_ms > max_ms
        })
        .map(|(tp, p)| (tp.clone(), p.clone()))
        .collect()
}

/// The transactional id of each candidate's producer id that some coordinator lists (Kafka's
/// `lookupTransactionalIds`: ListTransactions of every broker, filtered by producer id).
async fn transactional_ids(
    client: &Client,
    open: &[(Partition, ProducerState)],
) -> CliResult<BTreeMap<i64, String>> {
    let producer_ids: BTreeSet<i64> = open.iter().map(|(_, p)| p.producer_id).collect();
    let filter = TransactionFilter {
        producer_ids: producer_ids.iter().copied().collect(),
        ..TransactionFilter::default()
    };
    let listed = (transactions::list_transactions(client, &filter).await).map_err(|e| {
        CliError::Failed(format!(
            "Failed to list transactions for {} producers: {e}",
            producer_ids.len()
        ))
    })?;
    Ok((listed.into_iter())
        .filter(|t| producer_ids.contains(&t.producer_id))
        .map(|t| (t.producer_id, t.transactional_id))
        .collect())
}

/// Each id as its coordinator describes it; `None` for an id the coordinator no longer knows.
async fn descriptions(
    client: &Client,
    ids: &BTreeMap<i64, String>,
) -> CliResult<BTreeMap<String, Option<TransactionDescription>>> {
    let distinct: BTreeSet<&String> = ids.values().collect();
    let mut described = BTreeMap::new();
    for id in &distinct {
        let description = match transactions::describe_transaction(client, id).await {
            Ok(d) => Some(d),
            Err(e) if e.code() == Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND) => None,
            Err(e) => {
                return Err(CliError::Failed(format!(
                    "Failed to describe {} transactions: {e}",
                    distinct.len()
                )))
            }
        };
        described.insert((*id).clone(), description);
    }
    Ok(described)
}

/// Kafka's `filterHangingTransactions`: an open transaction is hanging unless its producer's
/// transactional id is known and its coordinator holds a transaction with that partition in
/// it (ongoing, or ending with the partition's marker still to write).
fn still_hanging(
    open: Vec<(Partition, ProducerState)>,
    ids: &BTreeMap<i64, String>,
    descriptions: &BTreeMap<String, Option<TransactionDescription>>,
) -> Vec<(Partition, ProducerState)> {
    (open.into_iter())
        .filter(|(tp, p)| {
            let description = ids.get(&p.producer_id).and_then(|id| descriptions.get(id));
            match description {
                Some(Some(d)) => !d.partitions.contains(tp),
                _ => true,
            }
        })
        .collect()
}

/// `find-hanging`'s row: how long since the producer's last write, in whole minutes.
fn hanging_row((topic, partition): &Partition, p: &ProducerState, now_ms: i64) -> Vec<String> {
    vec![
        topic.clone(),
        partition.to_string(),
        p.producer_id.to_string(),
        p.producer_epoch.to_string(),
        p.coordinator_epoch.unwrap_or(-1).to_string(),
        p.current_txn_start_offset.unwrap_or(-1).to_string(),
        p.last_timestamp_ms.to_string(),
        ((now_ms - p.last_timestamp_ms) / MINUTE_MS).to_string(),
    ]
}

/// `abort --topic T --partition P (--start-offset O | --producer-id I --producer-epoch E
/// --coordinator-epoch C)`.
pub(super) async fn abort(client: &Client, args: &Args) -> CliResult {
    let partition = named_partition(args)?;
    let start_offset = args.number::<i64>("--start-offset")?;
    let producer_id = args.number::<i64>("--producer-id")?;
    let spec = match (start_offset, producer_id) {
        (Some(offset), _) => spec_at_offset(client, partition, offset).await?,
        (None, Some(producer_id)) => named_spec(args, partition, producer_id)?,
        (None, None) => {
            return Err(CliError::Usage(
                "The transaction to abort must be identified either with --start-offset or \
                 with --producer-id, --producer-epoch, and --coordinator-epoch"
                    .into(),
            ))
        }
    };
    (producers::abort_transaction(client, &spec).await)
        .map_err(|e| CliError::Failed(format!("Failed to abort transaction {}: {e}", show(&spec))))
}

/// The producer whose transaction starts at `offset` on the partition, as its leader has it.
async fn spec_at_offset(
    client: &Client,
    partition: Partition,
    offset: i64,
) -> CliResult<AbortSpec> {
    let (topic, index) = partition.clone();
    let asked = [partition.clone()];
    let described = producers::describe_producers(client, &asked, None);
    let described = described.await.map_err(|e| {
        CliError::Failed(format!(
            "Failed to validate producer state for partition {topic}-{index}: {e}"
        ))
    })?;
    let producers = described.get(&partition).map_or(&[][..], Vec::as_slice);
    abort_spec(partition, producers, offset).ok_or_else(|| {
        CliError::Failed(format!(
            "Could not find any open transactions starting at offset {offset} on partition \
             {topic}-{index}"
        ))
    })
}

/// Kafka's `buildAbortSpec`: the first producer with a transaction open at `offset`; a
/// producer with no marker yet has no coordinator epoch, and 0 is sent for it (no coordinator
/// epoch is lower, so no marker check refuses it).
fn abort_spec(partition: Partition, producers: &[ProducerState], offset: i64) -> Option<AbortSpec> {
    let p = producers
        .iter()
        .find(|p| p.current_txn_start_offset == Some(offset))?;
    Some(AbortSpec {
        partition,
        producer_id: p.producer_id,
        producer_epoch: i16::try_from(p.producer_epoch).ok()?,
        coordinator_epoch: p.coordinator_epoch.unwrap_or(0),
    })
}

/// The transaction named by `--producer-id`, `--producer-epoch` and `--coordinator-epoch` (a
/// negative coordinator epoch, as describe-producers shows one with no marker yet, is sent as
/// 0, as Kafka's tool does).
fn named_spec(args: &Args, partition: Partition, producer_id: i64) -> CliResult<AbortSpec> {
    let producer_epoch = (args.number::<i16>("--producer-epoch")?)
        .ok_or_else(|| CliError::Usage("Missing required argument --producer-epoch".into()))?;
    let coordinator_epoch = (args.number::<i32>("--coordinator-epoch")?)
        .ok_or_else(|| CliError::Usage("Missing required argument --coordinator-epoch".into()))?;
    Ok(AbortSpec {
        partition,
        producer_id,
        producer_epoch,
        coordinator_epoch: coordinator_epoch.max(0),
    })
}

/// An abort as Kafka's tool names it in its error (`AbortTransactionSpec`'s text).
fn show(spec: &AbortSpec) -> String {
    let (topic, partition) = &spec.partition;
    format!(
        "AbortTransactionSpec(topicPartition={topic}-{partition}, producerId={}, \
         producerEpoch={}, coordinatorEpoch={})",
        spec.producer_id, spec.producer_epoch, spec.coordinator_epoch
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(id: i64, last_ms: i64, start: Option<i64>) -> ProducerState {
        ProducerState {
            producer_id: id,
            producer_epoch: 2,
            last_sequence: 4,
            last_timestamp_ms: last_ms,
            coordinator_epoch: None,
            current_txn_start_offset: start,
        }
    }

    fn tp(topic: &str, partition: i32) -> Partition {
        (topic.to_string(), partition)
    }

    #[test]
    fn describe_producers_prints_kafkas_row() {
        let open = producer(1000, 1_700_000_000_000, Some(17));
        assert_eq!(
            producer_row(&open),
            ["1000", "2", "-1", "4", "1700000000000", "17"]
        );
        let idle = ProducerState {
            coordinator_epoch: Some(3),
            current_txn_start_offset: None,
            ..open
        };
        assert_eq!(
            producer_row(&idle),
            ["1000", "2", "3", "4", "1700000000000", "None"]
        );
    }

    /// Candidates: a transaction open, last written more than the timeout ago (strictly, as
    /// Kafka's `>`); then those a coordinator holds with the partition in them are not hanging.
    #[test]
    fn hanging_transactions_are_open_old_and_unknown_to_every_coordinator() {
        let now = 10 * MINUTE_MS;
        let described = BTreeMap::from([
            (
                tp("a", 0),
                vec![
                    producer(1, 0, Some(5)),               // old, open
                    producer(2, 0, None),                  // old, nothing open
                    producer(3, now - MINUTE_MS, Some(9)), // open, exactly at the timeout
                ],
            ),
            (
                tp("b", 1),
                vec![producer(4, 0, Some(0)), producer(5, 0, Some(2))],
            ),
        ]);
        let open = candidates(&described, now, MINUTE_MS);
        let found: Vec<(Partition, i64)> = (open.iter())
            .map(|(tp, p)| (tp.clone(), p.producer_id))
            .collect();
        assert_eq!(found, [(tp("a", 0), 1), (tp("b", 1), 4), (tp("b", 1), 5)]);
        assert!(candidates(&described, now, 60 * MINUTE_MS).is_empty());

        // 1: no transactional id lists it. 4: its coordinator holds a transaction with b-1 in
        // it. 5: its id is known, but its transaction does not hold b-1.
        let ids = BTreeMap::from([(4, "four".to_string()), (5, "five".to_string())]);
        let description = |partitions: Vec<Partition>| TransactionDescription {
            coordinator: 1,
            transactional_id: String::new(),
            producer_id: 0,
            producer_epoch: 2,
            state: "Ongoing".into(),
            timeout_ms: 60_000,
            start_ms: Some(0),
            partitions,
        };
        let descriptions = BTreeMap::from([
            ("four".to_string(), Some(description(vec![tp("b", 1)]))),
            ("five".to_string(), Some(description(vec![tp("b", 0)]))),
        ]);
        let hanging = still_hanging(open.clone(), &ids, &descriptions);
        let ids_hanging: Vec<i64> = hanging.iter().map(|(_, p)| p.producer_id).collect();
        assert_eq!(ids_hanging, [1, 5]);
        // An id its coordinator no longer knows: hanging too.
        let forgotten = BTreeMap::from([("four".to_string(), None), ("five".to_string(), None)]);
        assert_eq!(still_hanging(open, &ids, &forgotten).len(), 3);
    }

    #[test]
    fn find_hanging_prints_kafkas_row_with_whole_minutes() {
        let mut p = producer(7, 0, Some(12));
        p.coordinator_epoch = Some(1);
        let now = 3 * MINUTE_MS - 1;
        assert_eq!(
            hanging_row(&tp("t", 3), &p, now),
            ["t", "3", "7", "2", "1", "12", "0", "2"]
        );
    }

    /// The producer aborted is the one whose transaction starts at the offset; no coordinator
    /// epoch yet is sent as 0.
    #[test]
    fn abort_finds_the_producer_by_its_transactions_start_offset() {
        let mut fenced = producer(8, 0, Some(30));
        fenced.coordinator_epoch = Some(4);
        let producers = [producer(7, 0, Some(12)), fenced, producer(9, 0, None)];
        let spec = abort_spec(tp("t", 0), &producers, 12).expect("found");
        assert_eq!(
            (
                spec.producer_id,
                spec.producer_epoch,
                spec.coordinator_epoch
            ),
            (7, 2, 0)
        );
        let spec = abort_spec(tp("t", 0), &producers, 30).expect("found");
        assert_eq!((spec.producer_id, spec.coordinator_epoch), (8, 4));
        assert!(abort_spec(tp("t", 0), &producers, 13).is_none());
        assert_eq!(
            show(&spec),
            "AbortTransactionSpec(topicPartition=t-0, producerId=8, producerEpoch=2, \
             coordinatorEpoch=4)"
        );
    }
}
