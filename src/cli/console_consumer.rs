//! `rill console-consumer`: prints records of a topic (kafka-console-consumer.sh) — all
//! partitions fetched in parallel, or one with `--partition`, or those a consumer group assigns
//! with `--group`. Stops on Ctrl-C or SIGTERM, after `--max-messages`, or after `--timeout-ms`
//! without a new record.
#![allow(clippy::disallowed_methods)] // host-side tool: reads the clock

use std::io::Write;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

use super::client::consumer::{Consumer, ConsumerConfig, StartOffset};
use super::client::group_consumer::{GroupConsumer, RecordSource, AUTO_COMMIT_INTERVAL};
use super::client::records::Record;

use super::args::{Args, Spec};
use super::client_config::ToolSettings;
use super::{connect, parse_bool, CliError, CliResult};

pub const USAGE: &str = "\
USAGE:
    rill console-consumer --bootstrap-server H:P --topic T [--from-beginning]
        [--partition P [--offset O|earliest|latest]] [--max-messages N] [--timeout-ms MS]
        [--property print.key=true print.offset=true print.partition=true print.timestamp=true
                    key.separator=SEP]
        [--isolation-level read_committed|read_uncommitted]
        [--consumer-property fetch.max.wait.ms=N fetch.min.bytes=N fetch.max.bytes=N
                             max.partition.fetch.bytes=N auto.offset.reset=earliest|latest]...
        [--skip-message-on-error]     (accepted; no deserializer runs that could fail)
        [--group G]      join consumer group G (also --consumer-property group.id=G): consume
                         the partitions the group assigns, from its committed offsets
                         (--from-beginning only where it has none), commit every 5 s and at
                         exit (--max-messages, --timeout-ms, Ctrl-C or SIGTERM), then leave.
        [--consumer.config FILE]
                         consumer properties from a Java properties file, before
                         --consumer-property; with the security keys (security.protocol,
                         ssl.*, sasl.*) for secured listeners (--command-config FILE is the
                         same, as in Kafka 4.2)
";

pub(super) const SPEC: Spec = Spec {
    switches: &["--from-beginning", "--skip-message-on-error"],
    values: &[
        "--bootstrap-server",
        "--topic",
        "--partition",
        "--offset",
        "--max-messages",
        "--timeout-ms",
        "--isolation-level",
        "--group",
        "--consumer.config",
        "--command-config",
    ],
    properties: &["--property", "--consumer-property"],
};

/// What to print per record (Kafka's DefaultMessageFormatter).
#[derive(Debug, Clone)]
pub struct Formatter {
    pub print_key: bool,
    pub print_offset: bool,
    pub print_partition: bool,
    pub print_timestamp: bool,
    pub print_value: bool,
    pub key_separator: String,
    pub line_separator: String,
}

impl Default for Formatter {
    fn default() -> Self {
        Self {
            print_key: false,
            print_offset: false,
            print_partition: false,
            print_timestamp: false,
            print_value: true,
            key_separator: "\t".into(),
            line_separator: "\n".into(),
        }
    }
}

impl Formatter {
    fn from_args(args: &Args) -> CliResult<Self> {
        let mut f = Formatter::default();
        for (key, value) in args.properties("--property") {
            match key.as_str() {
                "print.key" => f.print_key = parse_bool(key, value)?,
                "print.offset" => f.print_offset = parse_bool(key, value)?,
                "print.partition" => f.print_partition = parse_bool(key, value)?,
                "print.timestamp" => f.print_timestamp = parse_bool(key, value)?,
                "print.value" => f.print_value = parse_bool(key, value)?,
                "key.separator" => f.key_separator = value.clone(),
                "line.separator" => f.line_separator = value.clone(),
                _ => return Err(CliError::Usage(format!("unknown --property '{key}'"))),
            }
        }
        Ok(f)
    }

    /// Writes one record: timestamp, partition, offset, key, value — each enabled column
    /// followed by the key separator, the value by the line separator.
    pub fn write(
        &self,
        out: &mut impl Write,
        partition: i32,
        record: &Record<'_>,
    ) -> std::io::Result<()> {
        let sep = self.key_separator.as_bytes();
        if self.print_timestamp {
            let kind = if record.log_append_time {
                "LogAppendTime"
            } else {
                "CreateTime"
            };
            if record.timestamp_ms < 0 {
                out.write_all(b"NO_TIMESTAMP")?;
            } else {
                write!(out, "{kind}:{}", record.timestamp_ms)?;
            }
            out.write_all(sep)?;
        }
        if self.print_partition {
            write!(out, "Partition:{partition}")?;
            out.write_all(sep)?;
        }
        if self.print_offset {
            write!(out, "Offset:{}", record.offset)?;
            out.write_all(sep)?;
        }
        if self.print_key {
            out.write_all(record.key.unwrap_or(b"null"))?;
            out.write_all(sep)?;
        }
        if self.print_value {
            out.write_all(record.value.unwrap_or(b"null"))?;
        }
        out.write_all(self.line_separator.as_bytes())
    }
}

fn start_offset(args: &Args) -> CliResult<StartOffset> {
    let from_beginning = args.has("--from-beginning");
    match args.value("--offset") {
        None if from_beginning => Ok(StartOffset::Earliest),
        None => Ok(StartOffset::Latest),
        Some(_) if args.value("--partition").is_none() => {
            Err(CliError::Usage("--offset needs --partition".into()))
        }
        Some(_) if from_beginning => Err(CliError::Usage(
            "--offset and --from-beginning cannot be used together".into(),
        )),
        Some("earliest") => Ok(StartOffset::Earliest),
        Some("latest") => Ok(StartOffset::Latest),
        Some(o) => match o.parse::<i64>() {
            Ok(o) if o >= 0 => Ok(StartOffset::Offset(o)),
            _ => Err(CliError::Usage(format!(
                "--offset must be a non-negative number, earliest or latest, got '{o}'"
            ))),
        },
    }
}

/// kafka-console-consumer's consumer properties file flag, and its KIP-1147 name.
pub const CONSUMER_CONFIG: &[&str] = &["--consumer.config", "--command-config"];

/// The consumer's settings: `--isolation-level`, then `--consumer.config`, then
/// `--consumer-property`, then `--from-beginning`.
fn consumer_config(args: &Args, settings: &ToolSettings) -> CliResult<ConsumerConfig> {
    let isolation_level = match args.value("--isolation-level") {
        None | Some("read_uncommitted") => 0,
        Some("read_committed") => 1,
        Some(other) => {
            return Err(CliError::Usage(format!(
                "--isolation-level must be read_committed or read_uncommitted, got '{other}'"
            )))
        }
    };
    let mut config = ConsumerConfig {
        isolation_level,
        ..ConsumerConfig::default()
    };
    settings.apply(|key, value| Ok(config.apply(key, value)?))?;
    if args.has("--from-beginning") {
        config.reset = StartOffset::Earliest;
    }
    Ok(config)
}

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let formatter = Formatter::from_args(&args)?;
    let start = start_offset(&args)?;
    let settings = ToolSettings::load(&args, CONSUMER_CONFIG, &["--consumer-property"])?;
    let mut config = consumer_config(&args, &settings)?;
    let group = group(&args, &settings)?;
    let max_messages = args.number::<u64>("--max-messages")?;
    let timeout = args
        .number::<u64>("--timeout-ms")?
        .map(Duration::from_millis);
    if let Some(t) = timeout {
        config.fetch_max_wait_ms = config.fetch_max_wait_ms.min(t.as_millis().max(1) as i32);
    }
    let partition = args.number::<i32>("--partition")?;
    let topic = args.required("--topic")?;
    let client = connect(args.required("--bootstrap-server")?, &settings.client).await?;
    let mut source = match group {
        Some(group) => RecordSource::Group(
            GroupConsumer::subscribe(client, &group, topic, config, AUTO_COMMIT_INTERVAL).await?,
        ),
        None => {
            let partitions = partition.map(|p| vec![p]);
            let consumer =
                Consumer::assign(client, topic, partitions.as_deref(), start, config).await?;
            RecordSource::Assigned(consumer)
        }
    };
    let mut consumed = 0u64;
    let result = consume(
        &mut source,
        &formatter,
        max_messages,
        timeout,
        &mut consumed,
    )
    .await;
    eprintln!("Processed a total of {consumed} messages");
    // A group member commits what it printed and leaves, however the run ended.
    let closed = source.close().await.map_err(CliError::from);
    result.and(closed)
}

/// `--group G` (or `group.id=G` from `--consumer-property` or `--consumer.config`); a group
/// decides the partitions and the start offsets, so `--partition` and `--offset` do not go
/// with it (as in Kafka's tool).
fn group(args: &Args, settings: &ToolSettings) -> CliResult<Option<String>> {
    let from_property = settings.last("group.id").map(str::to_string);
    let Some(group) = args.value("--group").map(str::to_string).or(from_property) else {
        return Ok(None);
    };
    if group.is_empty() {
        return Err(CliError::Usage("the group id must not be empty".into()));
    }
    if args.value("--partition").is_some() || args.value("--offset").is_some() {
        return Err(CliError::Usage(
            "--group cannot be used with --partition or --offset".into(),
        ));
    }
    Ok(Some(group))
}

async fn consume(
    source: &mut RecordSource,
    formatter: &Formatter,
    max_messages: Option<u64>,
    timeout: Option<Duration>,
    consumed: &mut u64,
) -> CliResult {
    let stdout = std::io::stdout();
    let mut last_record_at = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| CliError::Failed(format!("cannot watch for SIGTERM: {e}")))?;
    loop {
        if max_messages.is_some_and(|max| *consumed >= max) {
            return Ok(());
        }
        if timeout.is_some_and(|t| last_record_at.elapsed() >= t) {
            return Ok(());
        }
        let fetched = tokio::select! {
            biased;
            _ = &mut ctrl_c => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            fetched = source.poll() => fetched?,
        };
        let mut out = std::io::BufWriter::new(stdout.lock());
        for data in &fetched {
            let mut write_error = None;
            let mut next_offset = None;
            data.for_each_record(|record| {
                if write_error.is_some() || max_messages.is_some_and(|max| *consumed >= max) {
                    return;
                }
                match formatter.write(&mut out, data.partition, record) {
                    Ok(()) => {
                        *consumed += 1;
                        next_offset = Some(record.offset + 1);
                    }
                    Err(e) => write_error = Some(e),
                }
            })?;
            if let Some(next) = next_offset {
                source.processed(data.partition, next);
            }
            if let Some(e) = write_error {
                return stdout_error(e);
            }
        }
        if let Err(e) = out.flush() {
            return stdout_error(e);
        }
        if fetched.iter().any(|d| !d.records.is_empty()) {
            last_record_at = Instant::now();
        }
    }
}

/// A closed stdout (`| head`) ends the consumer quietly; other write errors are failures.
fn stdout_error(e: std::io::Error) -> CliResult {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(CliError::Failed(format!("cannot write to stdout: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kafka_default_message_formatter() {
        let f = Formatter {
            print_key: true,
            print_offset: true,
            print_partition: true,
            print_timestamp: true,
            ..Formatter::default()
        };
        let record = Record {
            offset: 7,
            timestamp_ms: 1234,
            log_append_time: false,
            key: Some(b"k"),
            value: None,
        };
        let mut out = Vec::new();
        f.write(&mut out, 2, &record).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CreateTime:1234\tPartition:2\tOffset:7\tk\tnull\n"
        );
    }
}
