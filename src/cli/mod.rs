//! The client tools of the `rill` binary — `topics`, `console-producer`, `console-consumer`,
//! `consumer-groups`, `transactions`, `metadata-quorum`, `leader-election`,
//! `reassign-partitions`, `configs` (users' SCRAM credentials), `acls`, `perf` —
//! built on [`client`] — and `dev-cluster`, which starts a local cluster of `rill server`
//! processes. Each tool parses its flags, runs on a tokio runtime and
//! maps failures to exit codes: 2 for usage errors, 1 for failures (broker errors print their
//! Kafka name).
#![allow(clippy::disallowed_methods)] // host-side tools: clocks, signals, tasks

pub mod acls;
pub mod args;
pub mod client;
pub mod client_config;
pub mod configs;
pub mod console_consumer;
pub mod console_producer;
pub mod consumer_groups;
pub mod datetime;
pub mod dev_cluster;
pub mod leader_election;
pub mod metadata_quorum;
pub mod perf;
pub mod progress;
pub mod reassign_generate;
pub mod reassign_partitions;
pub mod topics;
pub mod transactions;
mod transactions_producers;
pub mod tree;

use std::process::ExitCode;

use self::client::{Client, ClientConfig, ClientError};

/// Why a tool stopped.
#[derive(Debug)]
pub enum CliError {
    /// Bad flags: print the message and the tool's usage, exit 2.
    Usage(String),
    /// The tool ran and failed: print `Error: ...`, exit 1.
    Failed(String),
    /// A clear refusal with exit code 2 (e.g. a feature that does not exist yet).
    Unavailable(String),
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Failed(e.to_string())
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::Usage(message)
    }
}

/// Result of a tool.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Runs client tool `tool` with its arguments; `None` if there is no such tool.
pub fn run(tool: &str, args: &[String]) -> Option<ExitCode> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", tree::help_of(tool, "")?);
        return Some(ExitCode::SUCCESS);
    }
    let (usage, result) = match tool {
        "topics" => (topics::USAGE, block_on(topics::run(args))),
        "console-producer" => (
            console_producer::USAGE,
            block_on(console_producer::run(args)),
        ),
        "console-consumer" => (
            console_consumer::USAGE,
            block_on(console_consumer::run(args)),
        ),
        "consumer-groups" => (consumer_groups::USAGE, block_on(consumer_groups::run(args))),
        "transactions" => (transactions::USAGE, block_on(transactions::run(args))),
        "perf" => (perf::USAGE, block_on(perf::run(args))),
        "metadata-quorum" => (metadata_quorum::USAGE, block_on(metadata_quorum::run(args))),
        "leader-election" => (leader_election::USAGE, block_on(leader_election::run(args))),
        "reassign-partitions" => (
            reassign_partitions::USAGE,
            block_on(reassign_partitions::run(args)),
        ),
        "configs" => (configs::USAGE, block_on(configs::run(args))),
        "acls" => (acls::USAGE, block_on(acls::run(args))),
        "dev-cluster" => (dev_cluster::USAGE, dev_cluster::run(args)),
        _ => return None,
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(message)) => {
            eprintln!("rill {tool}: {message}\n\n{usage}");
            ExitCode::from(2)
        }
        Err(CliError::Unavailable(message)) => {
            eprintln!("Error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(message)) => {
            eprintln!("Error: {message}");
            ExitCode::from(1)
        }
    })
}

fn block_on(future: impl std::future::Future<Output = CliResult>) -> CliResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(future)
}

/// Connects to the cluster named by `--bootstrap-server`, as `config` says (its security from
/// the tool's config file and properties: [`client_config`]).
pub async fn connect(bootstrap: &str, config: &ClientConfig) -> CliResult<std::sync::Arc<Client>> {
    let client = Client::connect(bootstrap, config.clone()).await?;
    Ok(std::sync::Arc::new(client))
}

/// The flag naming an admin tool's client properties file (kafka-topics and the other admin
/// tools' `--command-config`).
pub const COMMAND_CONFIG: &[&str] = &["--command-config"];

/// The `--topic` of a tool that may create the topic (directly, or by producing to it with the
/// broker's auto-creation): checked against Kafka's name rules before any broker is contacted,
/// so a bad name is explained instead of coming back as a bare INVALID_TOPIC_EXCEPTION.
pub fn topic_to_create(args: &args::Args) -> CliResult<&str> {
    let topic = args.required("--topic")?;
    crate::types::topic_name::validate_name(topic)
        .map_err(|illegal| CliError::Usage(illegal.message))?;
    Ok(topic)
}

/// Parses a `true`/`false` property value.
pub fn parse_bool(key: &str, value: &str) -> CliResult<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(CliError::Usage(format!(
            "{key} must be true or false, got '{value}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::args::Spec;

    /// `--help` prints the USAGE text; a flag the parser accepts but the text omits is a flag
    /// nobody can discover.
    #[test]
    fn every_accepted_flag_is_in_its_tools_usage() {
        let tools: [(&str, &Spec, &str); 9] = [
            ("topics", &super::topics::SPEC, super::topics::USAGE),
            (
                "console-producer",
                &super::console_producer::SPEC,
                super::console_producer::USAGE,
            ),
            (
                "console-consumer",
                &super::console_consumer::SPEC,
                super::console_consumer::USAGE,
            ),
            (
                "consumer-groups",
                &super::consumer_groups::SPEC,
                super::consumer_groups::USAGE,
            ),
            (
                "transactions",
                &super::transactions::SPEC,
                super::transactions::USAGE,
            ),
            ("perf", &super::perf::SPEC, super::perf::USAGE),
            (
                "reassign-partitions",
                &super::reassign_partitions::SPEC,
                super::reassign_partitions::USAGE,
            ),
            (
                "metadata-quorum",
                &super::metadata_quorum::SPEC,
                super::metadata_quorum::USAGE,
            ),
            (
                "leader-election",
                &super::leader_election::SPEC,
                super::leader_election::USAGE,
            ),
        ];
        for (tool, spec, usage) in tools {
            let flags = spec
                .switches
                .iter()
                .chain(spec.values)
                .chain(spec.properties);
            for flag in flags {
                // A whole-word match: `--partition` must not pass on `--partitions`.
                let mentioned = usage.match_indices(flag).any(|(at, _)| {
                    let next = usage[at + flag.len()..].chars().next();
                    !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                assert!(mentioned, "rill {tool} --help does not mention {flag}");
            }
        }
    }
}
