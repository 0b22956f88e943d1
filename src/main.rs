//! The `rill` command. Parses the command line and hands over; no logic lives here.

use std::path::Path;
use std::process::ExitCode;

use rill::config::{FileFormat, ServerConfig};

const USAGE: &str = "\
rill — a Kafka-compatible, replicated, partitioned log broker

USAGE:
    rill server [--config FILE] [--override key=value]... [--node-id N] [--listeners L] [--log-dirs D]
    rill topics --bootstrap-server H:P --create|--list|--describe|--delete|--alter ...
    rill console-producer --bootstrap-server H:P --topic T [--property parse.key=true] ...
    rill console-consumer --bootstrap-server H:P --topic T [--from-beginning] [--max-messages N] ...
    rill consumer-groups --bootstrap-server H:P --describe|--reset-offsets --group G ...
    rill transactions --bootstrap-server H:P list | describe --transactional-id ID
    rill metadata-quorum --bootstrap-server H:P describe --status|--replication
    rill leader-election --bootstrap-server H:P --election-type preferred|unclean --all-topic-partitions|--topic T --partition P
    rill reassign-partitions --bootstrap-server H:P --reassignment-json-file F --execute|--verify|--cancel   (or --list)
    rill configs --bootstrap-server H:P --alter|--describe --entity-type users [--entity-name U] ...   (SCRAM credentials)
    rill acls --bootstrap-server H:P --add|--remove|--list [--allow-principal User:U] [--operation Read] [--topic T] ...
    rill dev-cluster [--nodes 3] [--dir ./rill-cluster]   (a local cluster of N server processes)
    rill perf produce|consume|e2e --bootstrap-server H:P --topic T ...
    rill completions bash|zsh|fish   (e.g. rill completions bash > /etc/bash_completion.d/rill)
    rill version
    rill help [COMMAND]

Every command answers `--help` (or `rill help <command>`) with its flags. The client tools work
against any Kafka-compatible broker, secured listeners too: --command-config FILE (the admin
tools), --producer.config FILE, --consumer.config FILE take Kafka's client properties
(security.protocol, ssl.*, sasl.*).

rill server with no flags runs one node with data in ./rill-data and the Kafka listener on
127.0.0.1:9092. Config keys are Kafka's (node.id, listeners, log.dirs, log.retention.hours, ...);
flags override the file. Log level from RUST_LOG (default info).
";

const SERVER_USAGE: &str = "\
USAGE:
    rill server [--config FILE] [--override key=value]... [--node-id N] [--listeners L] [--log-dirs D]

FLAGS:
    --config FILE          settings file with Kafka's property names: Java properties if FILE
                           ends in .properties (like Kafka's server.properties), else TOML
    --override key=value   one setting by its Kafka name, applied after the file (repeatable)
    --node-id N            the same as --override node.id=N
    --listeners L          the same as --override listeners=L, e.g. PLAINTEXT://127.0.0.1:9092
    --log-dirs D           the same as --override log.dirs=D (one directory)
    -h, --help             print this help

Without flags: node 1, data in ./rill-data, Kafka listener PLAINTEXT://127.0.0.1:9092, and a
controller quorum of this node alone. A cluster: give every node the same
controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093 and its own
node.id, with its voter address as a CONTROLLER listener (listeners=PLAINTEXT://...,CONTROLLER://...).
RUST_LOG sets the log level (default info); log colours only on a terminal, never with NO_COLOR;
log.format=json writes one JSON object per line, with the client, listener, principal, API,
correlation id and client id of the request a line comes from.
The admin endpoint (admin.listener, default 127.0.0.1:9644; empty: off) serves Prometheus
metrics at /metrics, and /healthz and /readyz.
SIGINT or SIGTERM stops cleanly.
";

const VERSION_USAGE: &str = "\
USAGE:
    rill version      print the version of rill (also --version, -V)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants_help = args.iter().skip(1).any(|a| a == "--help" || a == "-h");
    match args.first().map(String::as_str) {
        None | Some("--help" | "-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("help") => help(args.get(1).map(String::as_str)),
        Some("version" | "--version" | "-V") if wants_help => help(Some("version")),
        Some("version" | "--version" | "-V") => {
            println!("rill {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("server") if wants_help => help(Some("server")),
        Some("server") => server(&args[1..]),
        Some("completions") => completions(args.get(1).map(String::as_str)),
        Some(tool) => rill::cli::run(tool, &args[1..]).unwrap_or_else(|| unknown(tool)),
    }
}

/// An unknown command: the closest one named, then the overview.
fn unknown(command: &str) -> ExitCode {
    let hint = match rill::cli::tree::closest(command) {
        Some(closest) => format!("\n\n  tip: a similar command exists: '{closest}'"),
        None => String::new(),
    };
    fail(&format!("unknown command '{command}'{hint}\n\n{USAGE}"))
}

/// `rill completions SHELL`: the completion script of every command and flag.
fn completions(shell: Option<&str>) -> ExitCode {
    let Some(shell) = shell.filter(|s| !s.starts_with('-')) else {
        println!("USAGE:\n    rill completions bash|zsh|fish\n\nPrints the shell's completion script for every rill command and flag, e.g.\n    rill completions bash > /etc/bash_completion.d/rill\n    rill completions zsh > \"${{fpath[1]}}/_rill\"\n    rill completions fish > ~/.config/fish/completions/rill.fish");
        return ExitCode::SUCCESS;
    };
    match rill::cli::tree::completions(shell) {
        Ok(script) => {
            print!("{script}");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

/// `rill help [COMMAND]`: the overview (which explains `help` itself), or one command's flags.
fn help(command: Option<&str>) -> ExitCode {
    match command {
        None | Some("help" | "--help" | "-h") => print!("{USAGE}"),
        Some("server") => print!(
            "{}",
            rill::cli::tree::help_of("server", SERVER_USAGE).unwrap_or_default()
        ),
        Some("version") => print!("{VERSION_USAGE}"),
        Some("completions") => return completions(None),
        Some(tool) => {
            return rill::cli::run(tool, &["--help".to_string()]).unwrap_or_else(|| unknown(tool))
        }
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rill: {message}");
    ExitCode::from(2)
}

fn server(args: &[String]) -> ExitCode {
    let (config, origin) = match server_config(args) {
        Ok(loaded) => loaded,
        Err(message) => return fail(&message),
    };
    init_logs(config.log_format);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %origin,
        "rill server starting"
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(rill::host::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

/// Logs to stderr at `RUST_LOG`'s level (default info): lines for people, or with
/// `log.format=json` one JSON object per line — its fields, and those of the connection and
/// request it came from (client, listener, principal, API, correlation id, client id).
fn init_logs(format: rill::config::admin::LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        rill::config::admin::LogFormat::Text => logs.with_ansi(colour_on_stderr()).init(),
        rill::config::admin::LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}

/// Colour codes only for a person at a terminal: not in a file or pipe (log collectors), and
/// never when `NO_COLOR` is set to anything non-empty (https://no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

/// `--config FILE`, `--override k=v`, and shorthands for the most used keys. Also returns
/// where the settings came from, for the start-up log: the absolute file path (or "defaults")
/// and the overrides applied on top.
fn server_config(args: &[String]) -> Result<(ServerConfig, String), String> {
    let parsed = rill::cli::args::Args::parse_as("server", args, &rill::cli::tree::SERVER_SPEC)
        .map_err(|e| format!("{e}\n\n{SERVER_USAGE}"))?;
    let file = parsed.value("--config").map(str::to_string);
    // The shorthands are overrides too, applied where they stand among --override's.
    let shorthands = ["--override", "--node-id", "--listeners", "--log-dirs"];
    let overrides: Vec<String> = (parsed.sequence(&shorthands))
        .filter_map(|(flag, value)| {
            let value = value?;
            Some(match flag {
                "--node-id" => format!("node.id={value}"),
                "--listeners" => format!("listeners={value}"),
                "--log-dirs" => format!("log.dirs={value}"),
                _ => value.to_string(),
            })
        })
        .collect();
    let text = match &file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {path}: {e}"))?,
        ),
        None => None,
    };
    let format = file.as_deref().map(|path| FileFormat::of(Path::new(path)));
    let file_contents = format.zip(text.as_deref());
    let config = ServerConfig::load(file_contents, &overrides).map_err(|e| match &file {
        Some(path) => format!("invalid configuration ({path}): {e}"),
        None => format!("invalid configuration: {e}"),
    })?;
    let mut origin = match (&file, format) {
        (Some(path), Some(format)) => {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.into());
            let syntax = match format {
                FileFormat::Toml => "TOML",
                FileFormat::Properties => "Java properties",
            };
            format!("{} ({syntax})", shown.display())
        }
        _ => "defaults".to_string(),
    };
    if !overrides.is_empty() {
        // Kafka's PASSWORD-type values (JAAS configs with their users' passwords, private
        // keys) are not written to the log.
        let shown: Vec<String> = (overrides.iter())
            .map(|o| match o.split_once('=') {
                Some((key, _)) if rill::config::security::is_sensitive(key.trim()) => {
                    format!("{}=[hidden]", key.trim())
                }
                _ => o.clone(),
            })
            .collect();
        origin.push_str(&format!(" + overrides {}", shown.join(", ")));
    }
    Ok((config, origin))
}
