//! `rill transactions`: the cluster's transactional ids and their transactions
//! (kafka-transactions.sh, with its commands and its tables): `list` asks every broker (each
//! lists the ids of the `__transaction_state` partitions it leads), `describe` asks one id's
//! coordinator; `describe-producers`, `find-hanging` and `abort` look at the partitions' side
//! (`transactions_producers`).

use super::args::{Args, Spec};
use super::client::transactions::{self, TransactionDescription, TransactionFilter};
use super::client::Client;
use super::transactions_producers;
use super::{client_config, connect, CliError, CliResult, COMMAND_CONFIG};
use crate::cli::client::producer::now_ms;

pub const USAGE: &str = "\
USAGE:
    rill transactions --bootstrap-server H:P list [--duration-filter MS]
    rill transactions --bootstrap-server H:P describe --transactional-id ID
    rill transactions --bootstrap-server H:P describe-producers --topic T --partition P
                                             [--broker-id N]
    rill transactions --bootstrap-server H:P find-hanging (--broker-id N | --topic T
                                             [--partition P]) [--max-transaction-timeout MIN]
    rill transactions --bootstrap-server H:P abort --topic T --partition P (--start-offset O |
                                             --producer-id I --producer-epoch E
                                             --coordinator-epoch C)
    (each also takes --command-config FILE: client properties for secured listeners,
     security.protocol, ssl.*, sasl.*)

    list                 every transactional id of the cluster, as TransactionalId Coordinator
                         ProducerId TransactionState (each broker lists the ids it coordinates).
    --duration-filter MS only the transactions running longer than MS milliseconds.
    describe             one id as its coordinator has it: CoordinatorId TransactionalId
                         ProducerId ProducerEpoch TransactionState TransactionTimeoutMs
                         CurrentTransactionStartTimeMs TransactionDurationMs TopicPartitions
                         (None where no transaction is open); an id the coordinator does not
                         know fails with TRANSACTIONAL_ID_NOT_FOUND.
    --list, --describe   the same as the commands list and describe.
    describe-producers   the producers a partition remembers, as ProducerId ProducerEpoch
                         LatestCoordinatorEpoch LastSequence LastTimestamp
                         CurrentTransactionStartOffset (None: no transaction open), from its
                         leader, or from the replica on --broker-id N.
    find-hanging         transactions open on a partition that no coordinator will end: open
                         there, last written over --max-transaction-timeout minutes ago
                         (default 15), and not held open by their transactional id's
                         coordinator with that partition. Searches the partitions with a
                         replica on --broker-id N (all topics but the internal ones, or
                         --topic T's), or --topic T [--partition P]; prints Topic Partition
                         ProducerId ProducerEpoch CoordinatorEpoch StartOffset LastTimestamp
                         Duration(min).
    abort                writes the ABORT marker of one open transaction at the partition's
                         leader: the one starting at --start-offset O (as describe-producers
                         and find-hanging show it), or the one named by --producer-id,
                         --producer-epoch and --coordinator-epoch.
";

pub(super) const SPEC: Spec = Spec {
    switches: &["--list", "--describe"],
    values: &[
        "--bootstrap-server",
        "--transactional-id",
        "--duration-filter",
        "--topic",
        "--partition",
        "--broker-id",
        "--max-transaction-timeout",
        "--start-offset",
        "--producer-id",
        "--producer-epoch",
        "--coordinator-epoch",
        "--command-config",
    ],
    properties: &[],
};

/// The commands, Kafka's, each with the flags it takes besides `--bootstrap-server`.
const COMMANDS: [(&str, &[&str]); 5] = [
    ("list", &["--duration-filter"]),
    ("describe", &["--transactional-id"]),
    (
        "describe-producers",
        &["--topic", "--partition", "--broker-id"],
    ),
    (
        "find-hanging",
        &[
            "--broker-id",
            "--max-transaction-timeout",
            "--topic",
            "--partition",
        ],
    ),
    (
        "abort",
        &[
            "--topic",
            "--partition",
            "--start-offset",
            "--producer-id",
            "--producer-epoch",
            "--coordinator-epoch",
        ],
    ),
];

/// The columns of `list` (Kafka's `ListTransactionsCommand.HEADERS`).
const LIST_HEADERS: [&str; 4] = [
    "TransactionalId",
    "Coordinator",
    "ProducerId",
    "TransactionState",
];

/// The columns of `describe` (Kafka's `DescribeTransactionsCommand.HEADERS`).
const DESCRIBE_HEADERS: [&str; 9] = [
    "CoordinatorId",
    "TransactionalId",
    "ProducerId",
    "ProducerEpoch",
    "TransactionState",
    "TransactionTimeoutMs",
    "CurrentTransactionStartTimeMs",
    "TransactionDurationMs",
    "TopicPartitions",
];

pub async fn run(raw: &[String]) -> CliResult {
    let (words, flags) = split_command(raw);
    let args = Args::parse(&flags, &SPEC)?;
    let command = command_of(&words, &args)?;
    check_flags(command, &args)?;
    let bootstrap = args.required("--bootstrap-server")?;
    let config = client_config::admin(&args, COMMAND_CONFIG)?;
    match command {
        "list" => {
            let duration_ms = args.number::<i64>("--duration-filter")?;
            let client = connect(bootstrap, &config).await?;
            list(&client, duration_ms).await
        }
        "describe" => {
            let transactional_id = args.required("--transactional-id")?;
            let client = connect(bootstrap, &config).await?;
            describe(&client, transactional_id).await
        }
        "describe-producers" => {
            let client = connect(bootstrap, &config).await?;
            transactions_producers::describe_producers(&client, &args).await
        }
        "find-hanging" => {
            let client = connect(bootstrap, &config).await?;
            transactions_producers::find_hanging(&client, &args).await
        }
        "abort" => {
            let client = connect(bootstrap, &config).await?;
            transactions_producers::abort(&client, &args).await
        }
        other => Err(CliError::Usage(format!(
            "unknown command '{other}': give {}",
            command_names()
        ))),
    }
}

/// Every command's name, for the usage errors.
fn command_names() -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// A flag given to a command that does not take it is a usage error (a `--topic` given to
/// `list` would otherwise be silently ignored).
fn check_flags(command: &str, args: &Args) -> CliResult {
    let Some((_, taken)) = COMMANDS.iter().find(|(name, _)| *name == command) else {
        return Ok(()); // an unknown command is refused by the caller
    };
    let stray = (SPEC.values.iter())
        .filter(|flag| !["--bootstrap-server", "--command-config"].contains(flag))
        .filter(|flag| !taken.contains(flag))
        .find(|flag| args.value(flag).is_some());
    match stray {
        Some(flag) => Err(CliError::Usage(format!(
            "{flag} does not go with {command}"
        ))),
        None => Ok(()),
    }
}

/// Kafka's form, the command among the flags: the words that are not flags or the values of
/// this tool's flags (the command first), and the flags with their values.
fn split_command(raw: &[String]) -> (Vec<String>, Vec<String>) {
    let mut words = Vec::new();
    let mut flags = Vec::with_capacity(raw.len());
    let mut args = raw.iter();
    while let Some(arg) = args.next() {
        if arg.starts_with("--") {
            flags.push(arg.clone());
            if SPEC.values.contains(&arg.as_str()) {
                if let Some(value) = args.next() {
                    flags.push(value.clone());
                }
            }
        } else {
            words.push(arg.clone());
        }
    }
    (words, flags)
}

/// The command: the one word given, or its flag form (`--list`, `--describe`); exactly one.
fn command_of<'a>(words: &'a [String], args: &Args) -> CliResult<&'a str> {
    let flagged: Vec<&'static str> = [("--list", "list"), ("--describe", "describe")]
        .into_iter()
        .filter(|(flag, _)| args.has(flag))
        .map(|(_, command)| command)
        .collect();
    match (words, &flagged[..]) {
        ([command], []) => Ok(command.as_str()),
        ([], [command]) => Ok(*command),
        ([], []) => Err(CliError::Usage(format!(
            "give a command: {}",
            command_names()
        ))),
        ([_, extra, ..], _) => Err(CliError::Usage(format!("unexpected argument '{extra}'"))),
        _ => Err(CliError::Usage(format!(
            "give exactly one command: {}",
            command_names()
        ))),
    }
}

async fn list(client: &Client, duration_ms: Option<i64>) -> CliResult {
    let filter = TransactionFilter {
        duration_ms,
        ..TransactionFilter::default()
    };
    let listed = (transactions::list_transactions(client, &filter).await)
        .map_err(|e| CliError::Failed(format!("Failed to list transactions: {e}")))?;
    let rows: Vec<Vec<String>> = (listed.into_iter())
        .map(|t| {
            vec![
                t.transactional_id,
                t.coordinator.to_string(),
                t.producer_id.to_string(),
                t.state,
            ]
        })
        .collect();
    print!("{}", table(&LIST_HEADERS, &rows));
    Ok(())
}

async fn describe(client: &Client, transactional_id: &str) -> CliResult {
    let described =
        (transactions::describe_transaction(client, transactional_id).await).map_err(|e| {
            CliError::Failed(format!(
                "Failed to describe transaction state of transactional-id \
                 `{transactional_id}`: {e}"
            ))
        })?;
    let row = describe_row(&described, now_ms());
    print!("{}", table(&DESCRIBE_HEADERS, &[row]));
    Ok(())
}

/// `describe`'s row, as Kafka's tool prints it: None for the start and the duration when no
/// transaction is open; the partitions as `topic-partition`, comma-separated.
fn describe_row(d: &TransactionDescription, now_ms: i64) -> Vec<String> {
    let (start, duration) = match d.start_ms {
        Some(start_ms) => (start_ms.to_string(), (now_ms - start_ms).to_string()),
        None => ("None".to_string(), "None".to_string()),
    };
    let partitions: Vec<String> = (d.partitions.iter())
        .map(|(topic, partition)| format!("{topic}-{partition}"))
        .collect();
    vec![
        d.coordinator.to_string(),
        d.transactional_id.clone(),
        d.producer_id.to_string(),
        d.producer_epoch.to_string(),
        d.state.clone(),
        d.timeout_ms.to_string(),
        start,
        duration,
        partitions.join(","),
    ]
}

/// Kafka's `prettyPrintTable`: the header, then one line per row; each cell padded to its
/// column's widest and followed by a tab (the last one too).
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<width$}\t", width = *width));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn command(args: &[&str]) -> CliResult<String> {
        let (words, flags) = split_command(&strings(args));
        let args = Args::parse(&flags, &SPEC)?;
        command_of(&words, &args).map(str::to_string)
    }

    #[test]
    fn the_command_is_the_word_among_the_flags_or_its_flag_form() {
        let b = ["--bootstrap-server", "h:1"];
        assert_eq!(command(&[b[0], b[1], "list"]).unwrap(), "list");
        assert_eq!(command(&["list", b[0], b[1]]).unwrap(), "list");
        // A flag's value is never the command, even when it reads like one.
        let describe = [b[0], b[1], "describe", "--transactional-id", "list"];
        assert_eq!(command(&describe).unwrap(), "describe");
        assert_eq!(command(&[b[0], b[1], "--list"]).unwrap(), "list");
        assert_eq!(command(&[b[0], b[1], "--describe"]).unwrap(), "describe");
        assert!(matches!(command(&[b[0], b[1]]), Err(CliError::Usage(_))));
        assert!(matches!(
            command(&[b[0], b[1], "list", "--describe"]),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            command(&[b[0], b[1], "list", "describe"]),
            Err(CliError::Usage(_))
        ));
    }

    /// Each command takes its own flags (Kafka's subparsers): another command's flag is a
    /// usage error, not ignored.
    #[test]
    fn a_flag_of_another_command_is_refused() {
        let checked = |command: &str, flags: &[&str]| {
            let args = Args::parse(&strings(flags), &SPEC).unwrap();
            check_flags(command, &args)
        };
        let b = ["--bootstrap-server", "h:1"];
        assert!(checked("list", &[b[0], b[1], "--duration-filter", "5"]).is_ok());
        assert!(matches!(
            checked("list", &[b[0], b[1], "--topic", "t"]),
            Err(CliError::Usage(m)) if m == "--topic does not go with list"
        ));
        let abort = ["--topic", "t", "--partition", "0", "--start-offset", "3"];
        assert!(checked("abort", &abort).is_ok());
        assert!(checked("describe-producers", &abort).is_err());
        let find = ["--broker-id", "1", "--max-transaction-timeout", "0"];
        assert!(checked("find-hanging", &find).is_ok());
        assert!(checked("describe", &find).is_err());
        assert_eq!(
            command(&["find-hanging", "--broker-id", "1"]).unwrap(),
            "find-hanging"
        );
    }

    #[test]
    fn tables_pad_each_column_to_its_widest_and_end_every_cell_with_a_tab() {
        let rows = vec![
            vec![
                "a-long-id".to_string(),
                "1".into(),
                "1000".into(),
                "Ongoing".into(),
            ],
            vec!["b".to_string(), "2".into(), "7".into(), "Empty".into()],
        ];
        let text = table(&LIST_HEADERS, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "TransactionalId\tCoordinator\tProducerId\tTransactionState\t",
                "a-long-id      \t1          \t1000      \tOngoing         \t",
                "b              \t2          \t7         \tEmpty           \t",
            ]
        );
        // No rows: the header alone, as Kafka prints it.
        assert_eq!(
            table(&LIST_HEADERS, &[]),
            "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n"
        );
    }

    #[test]
    fn describe_prints_kafkas_row() {
        let open = TransactionDescription {
            coordinator: 1,
            transactional_id: "t".into(),
            producer_id: 1000,
            producer_epoch: 2,
            state: "Ongoing".into(),
            timeout_ms: 60_000,
            start_ms: Some(10_000),
            partitions: vec![("a".into(), 0), ("a".into(), 2), ("b".into(), 1)],
        };
        assert_eq!(
            describe_row(&open, 12_500),
            [
                "1",
                "t",
                "1000",
                "2",
                "Ongoing",
                "60000",
                "10000",
                "2500",
                "a-0,a-2,b-1"
            ]
        );
        let idle = TransactionDescription {
            state: "Empty".into(),
            start_ms: None,
            partitions: Vec::new(),
            ..open
        };
        assert_eq!(
            describe_row(&idle, 12_500),
            ["1", "t", "1000", "2", "Empty", "60000", "None", "None", ""]
        );
    }
}
