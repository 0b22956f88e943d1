//! The whole `rill` command line as one clap command: every tool with its flags (each tool's
//! [`Spec`]), for shell completions (`rill completions bash|zsh|fish`) and for naming the
//! closest command when one is mistyped.

use clap::{Arg, Command};

use super::args::Spec;
use super::{
    acls, configs, console_consumer, console_producer, consumer_groups, dev_cluster,
    leader_election, metadata_quorum, perf, reassign_partitions, topics, transactions,
};

/// `rill server`'s flags.
pub const SERVER_SPEC: Spec = Spec {
    switches: &[],
    values: &[
        "--config",
        "--override",
        "--node-id",
        "--listeners",
        "--log-dirs",
    ],
    properties: &[],
};

/// Every client tool: its name, what it does (one line), its flags and its usage text.
pub const TOOLS: &[(&str, &str, &Spec, &str)] = &[
    (
        "topics",
        "create, list, describe, alter and delete topics (kafka-topics)",
        &topics::SPEC,
        topics::USAGE,
    ),
    (
        "console-producer",
        "produce lines of stdin (kafka-console-producer)",
        &console_producer::SPEC,
        console_producer::USAGE,
    ),
    (
        "console-consumer",
        "print records (kafka-console-consumer)",
        &console_consumer::SPEC,
        console_consumer::USAGE,
    ),
    (
        "consumer-groups",
        "list, describe, reset and delete groups (kafka-consumer-groups)",
        &consumer_groups::SPEC,
        consumer_groups::USAGE,
    ),
    (
        "transactions",
        "list, describe and abort transactions (kafka-transactions)",
        &transactions::SPEC,
        transactions::USAGE,
    ),
    (
        "perf",
        "producer and consumer throughput tests (kafka-*-perf-test)",
        &perf::SPEC,
        perf::USAGE,
    ),
    (
        "metadata-quorum",
        "describe the controller quorum (kafka-metadata-quorum)",
        &metadata_quorum::SPEC,
        metadata_quorum::USAGE,
    ),
    (
        "leader-election",
        "elect preferred or unclean leaders (kafka-leader-election)",
        &leader_election::SPEC,
        leader_election::USAGE,
    ),
    (
        "reassign-partitions",
        "move replicas between brokers (kafka-reassign-partitions)",
        &reassign_partitions::SPEC,
        reassign_partitions::USAGE,
    ),
    (
        "configs",
        "topic, broker, client and user configs (kafka-configs)",
        &configs::SPEC,
        configs::USAGE,
    ),
    (
        "acls",
        "add, list and remove ACLs (kafka-acls)",
        &acls::SPEC,
        acls::USAGE,
    ),
    (
        "dev-cluster",
        "a local cluster of rill server processes",
        &dev_cluster::SPEC,
        dev_cluster::USAGE,
    ),
];

/// The shells completions are made for.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// `rill` with every command and its flags.
pub fn command() -> Command {
    let mut rill = Command::new("rill")
        .about("A Kafka-compatible, replicated, partitioned log broker")
        .disable_help_subcommand(true)
        .subcommand(
            SERVER_SPEC
                .command("server")
                .about("run a broker or controller node"),
        )
        .subcommand(
            Command::new("completions")
                .about("print a shell's completion script")
                .arg(
                    Arg::new("shell")
                        .value_parser(SHELLS.to_vec())
                        .required(true),
                ),
        )
        .subcommand(Command::new("version").about("print the version"))
        .subcommand(
            Command::new("help")
                .about("print the help of rill or of a command")
                .arg(Arg::new("command").value_parser(names())),
        );
    for (name, about, spec, _) in TOOLS {
        rill = rill.subcommand(spec.command(name).about(*about));
    }
    rill
}

/// `rill NAME --help`: clap's help of the command made from its flag table — every flag it
/// takes, with its value — under the command's usage text (which says how Kafka's flags combine
/// and what they mean).
pub fn help(name: &'static str, about: &'static str, spec: &Spec, usage: &'static str) -> String {
    let mut command = spec
        .command(name)
        .about(about)
        .before_help(usage.trim_end())
        .help_template("rill {name}: {about}\n\n{before-help}\nEvery flag:\n{options}\n");
    command.render_help().to_string()
}

/// The help of command `name`, if it is a client tool or the server.
pub fn help_of(name: &str, server_usage: &'static str) -> Option<String> {
    if name == "server" {
        let about = "run a broker or controller node";
        return Some(help("server", about, &SERVER_SPEC, server_usage));
    }
    let (name, about, spec, usage) = TOOLS.iter().find(|(tool, ..)| *tool == name)?;
    Some(help(name, about, spec, usage))
}

/// Every command's name.
fn names() -> Vec<&'static str> {
    let mut names = vec!["server", "completions", "version", "help"];
    names.extend(TOOLS.iter().map(|(name, ..)| *name));
    names
}

/// `rill completions SHELL`: the script that completes `rill`'s commands and flags.
pub fn completions(shell: &str) -> Result<String, String> {
    let shell = match shell {
        "bash" => clap_complete::Shell::Bash,
        "zsh" => clap_complete::Shell::Zsh,
        "fish" => clap_complete::Shell::Fish,
        other => {
            return Err(format!(
                "no completions for '{other}': one of {}",
                SHELLS.join(", ")
            ))
        }
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "rill", &mut script);
    String::from_utf8(script).map_err(|e| e.to_string())
}

/// The command closest to a mistyped `name`, if one is close.
pub fn closest(name: &str) -> Option<&'static str> {
    (names().into_iter())
        .map(|candidate| (strsim::jaro(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_holds_every_tool_and_its_flags() {
        let rill = command();
        rill.clone().debug_assert();
        let topics = rill.find_subcommand("topics").unwrap();
        assert!(topics
            .get_arguments()
            .any(|a| a.get_long() == Some("bootstrap-server")));
        let producer = rill.find_subcommand("console-producer").unwrap();
        assert!(producer
            .get_arguments()
            .any(|a| a.get_long() == Some("producer-property")));
        assert!(producer
            .get_arguments()
            .any(|a| a.get_long() == Some("producer.config")));
        assert!(rill.find_subcommand("server").is_some());
    }

    #[test]
    fn completions_name_commands_and_flags() {
        for shell in SHELLS {
            let script = completions(shell).unwrap();
            assert!(script.contains("consumer-groups"), "{shell}");
            assert!(script.contains("reset-offsets"), "{shell}");
        }
        assert!(completions("tcsh").unwrap_err().contains("bash, zsh, fish"));
    }

    #[test]
    fn help_lists_every_flag_of_the_table_under_the_usage_text() {
        for (name, _, spec, usage) in TOOLS {
            let text = help_of(name, "").unwrap();
            let first_usage_line = usage.lines().nth(1).unwrap_or_default().trim();
            assert!(text.contains(first_usage_line), "{name}:\n{text}");
            for flag in spec
                .switches
                .iter()
                .chain(spec.values)
                .chain(spec.properties)
            {
                assert!(text.contains(flag), "{name}'s help lacks {flag}:\n{text}");
            }
        }
        let server = help_of("server", "USAGE:\n    rill server ...\n").unwrap();
        assert!(server.contains("--log-dirs <VALUE>"), "{server}");
        assert!(help_of("nope", "").is_none());
    }

    #[test]
    fn a_mistyped_command_has_a_closest() {
        assert_eq!(closest("topcis"), Some("topics"));
        assert_eq!(closest("consumer-group"), Some("consumer-groups"));
        assert_eq!(closest("xyz"), None);
    }
}
