//! `rill console-producer`: one record per stdin line (kafka-console-producer.sh). Waits for
//! every acknowledgement before exiting; failed lines are reported on stderr by line number and
//! make the exit code non-zero.
//!
//! Input is checked before it reaches the broker: the topic name before connecting, each line
//! (`parse.key`) before it becomes a record. The topic is looked up — and auto-created, where
//! the broker does that — only at the first line that makes a record, as the Java producer does
//! at its first send, so input without a single valid line never creates a topic.

#![allow(clippy::disallowed_methods)] // host-side tool: a thread reads stdin

use std::io::BufRead;

use tokio::sync::mpsc;

use super::client::producer::{BatchOutcome, Producer, ProducerConfig};

use super::args::{Args, Spec};
use super::client_config::ToolSettings;
use super::{connect, parse_bool, topic_to_create, CliError, CliResult};

pub const USAGE: &str = "\
USAGE:
    rill console-producer --bootstrap-server H:P --topic T [--partition P]
        [--property parse.key=true] [--property key.separator=:]
        [--producer-property acks=all|1|0 linger.ms=N batch.size=N compression.type=none]...
        [--request-required-acks A]   (the same as --producer-property acks=A)
        [--batch-size N]              (the same as --producer-property batch.size=N)
        [--producer.config FILE]      producer properties from a Java properties file, before
                                      --producer-property; with the security keys
                                      (security.protocol, ssl.*, sasl.*) for secured listeners
                                      (--command-config FILE is the same, as in Kafka 4.2)
";

pub(super) const SPEC: Spec = Spec {
    switches: &[],
    values: &[
        "--bootstrap-server",
        "--topic",
        "--partition",
        "--request-required-acks",
        "--batch-size",
        "--producer.config",
        "--command-config",
    ],
    properties: &["--property", "--producer-property"],
};

/// How lines become records.
struct LineFormat {
    parse_key: bool,
    key_separator: String,
    ignore_error: bool,
}

fn line_format(args: &Args) -> CliResult<LineFormat> {
    let mut format = LineFormat {
        parse_key: false,
        key_separator: "\t".to_string(),
        ignore_error: false,
    };
    for (key, value) in args.properties("--property") {
        match key.as_str() {
            "parse.key" => format.parse_key = parse_bool(key, value)?,
            "key.separator" => format.key_separator = value.clone(),
            "ignore.error" => format.ignore_error = parse_bool(key, value)?,
            _ => return Err(CliError::Usage(format!("unknown --property '{key}'"))),
        }
    }
    if format.key_separator.is_empty() {
        return Err(CliError::Usage("key.separator must not be empty".into()));
    }
    Ok(format)
}

/// kafka-console-producer's producer properties file flag, and its KIP-1147 name.
pub const PRODUCER_CONFIG: &[&str] = &["--producer.config", "--command-config"];

/// The producer's settings: `--producer.config`, then `--producer-property`, then the
/// dedicated flags (Kafka's console producer lets them win).
fn producer_config(args: &Args, settings: &ToolSettings) -> CliResult<ProducerConfig> {
    let mut config = ProducerConfig::default();
    settings.apply(|key, value| Ok(config.apply(key, value)?))?;
    if let Some(acks) = args.value("--request-required-acks") {
        config.set("acks", acks)?;
    }
    if let Some(size) = args.value("--batch-size") {
        config.set("batch.size", size)?;
    }
    Ok(config)
}

pub async fn run(raw: &[String]) -> CliResult {
    let args = Args::parse(raw, &SPEC)?;
    let format = line_format(&args)?;
    let settings = ToolSettings::load(&args, PRODUCER_CONFIG, &["--producer-property"])?;
    let config = producer_config(&args, &settings)?;
    let partition = args.number::<i32>("--partition")?;
    let topic = topic_to_create(&args)?;
    let client = connect(args.required("--bootstrap-server")?, &settings.client).await?;
    // Created at the first valid line (see the module comment).
    let mut producer: Option<Producer> = None;
    let mut failures = 0u64;
    let mut chunks = stdin_chunks();
    let mut line_number = 0u64;
    loop {
        let deadline = producer.as_ref().and_then(Producer::linger_deadline);
        let chunk = tokio::select! {
            biased;
            _ = sleep_until(deadline) => {
                if let Some(producer) = producer.as_mut() {
                    producer.flush_due().await?;
                }
                continue;
            }
            chunk = chunks.recv() => chunk,
        };
        let chunk = match chunk {
            Some(Ok(chunk)) => chunk,
            None => break,
            Some(Err(e)) => return Err(CliError::Failed(format!("cannot read stdin: {e}"))),
        };
        for line in chunk.split(|b| *b == b'\n') {
            line_number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let (key, value) = match format.split(line) {
                Ok(record) => record,
                Err(why) => {
                    eprintln!("line {line_number}: {why}");
                    failures += 1;
                    continue;
                }
            };
            let producer = match &mut producer {
                Some(producer) => producer,
                None => {
                    producer.insert(Producer::new(client.clone(), topic, config.clone()).await?)
                }
            };
            if let Err(e) = producer.send(line_number, key, value, partition).await {
                eprintln!("line {line_number}: {e}");
                failures += 1;
            }
        }
        if let Some(producer) = producer.as_mut() {
            while let Some(outcome) = producer.try_outcome() {
                failures += report(&outcome);
            }
        }
    }
    if let Some(producer) = producer {
        for outcome in producer.close().await? {
            failures += report(&outcome);
        }
    }
    if failures > 0 {
        return Err(CliError::Failed(format!(
            "{failures} of {line_number} records were not produced"
        )));
    }
    Ok(())
}

/// Stdin in chunks of whole lines (the trailing newline removed), read by a plain thread so a
/// blocked read never holds up the runtime's shutdown.
fn stdin_chunks() -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(STDIN_CHUNKS_QUEUED);
    std::thread::spawn(move || {
        let mut stdin = std::io::BufReader::with_capacity(STDIN_CHUNK_BYTES, std::io::stdin());
        loop {
            let mut chunk = Vec::with_capacity(STDIN_CHUNK_BYTES + 1024);
            let result = loop {
                match stdin.read_until(b'\n', &mut chunk) {
                    Ok(0) => break Ok(true),
                    Ok(_) if chunk.len() >= STDIN_CHUNK_BYTES => break Ok(false),
                    Ok(_) if stdin.buffer().is_empty() => break Ok(false),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            };
            let eof = match result {
                Ok(eof) => eof,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if chunk.last() == Some(&b'\n') {
                chunk.pop();
            }
            if (!chunk.is_empty() || !eof) && tx.blocking_send(Ok(chunk)).is_err() {
                return;
            }
            if eof {
                return;
            }
        }
    });
    rx
}

/// Bytes of stdin handed over at once (whole lines; a longer line makes a longer chunk).
const STDIN_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks read ahead of the producer.
const STDIN_CHUNKS_QUEUED: usize = 16;

impl LineFormat {
    /// A line's key and value, or why the line cannot be a record.
    fn split<'a>(&self, line: &'a [u8]) -> Result<(Option<&'a [u8]>, &'a [u8]), String> {
        if !self.parse_key {
            return Ok((None, line));
        }
        let separator = self.key_separator.as_bytes();
        match find(line, separator) {
            Some(at) => Ok((Some(&line[..at]), &line[at + separator.len()..])),
            None if self.ignore_error => Ok((None, line)),
            None => Err(format!(
                "no key separator '{}' (parse.key=true)",
                self.key_separator
            )),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Prints one line per failed record; returns how many failed.
fn report(outcome: &BatchOutcome) -> u64 {
    match &outcome.base_offset {
        Ok(_) => 0,
        Err(e) => {
            for id in &outcome.record_ids {
                eprintln!("line {id}: {e}");
            }
            outcome.record_ids.len() as u64
        }
    }
}

/// Sleeps until `deadline`, or forever when there is none.
pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(parse_key: bool, ignore_error: bool) -> LineFormat {
        LineFormat {
            parse_key,
            key_separator: "::".into(),
            ignore_error,
        }
    }

    #[test]
    fn lines_become_key_and_value_or_say_why_not() {
        let keyed = format(true, false);
        assert_eq!(keyed.split(b"k::v::w"), Ok((Some(&b"k"[..]), &b"v::w"[..])));
        assert_eq!(keyed.split(b"::v"), Ok((Some(&b""[..]), &b"v"[..])));
        assert_eq!(
            keyed.split(b"k:v"),
            Err("no key separator '::' (parse.key=true)".to_string())
        );
        assert_eq!(format(true, true).split(b"k:v"), Ok((None, &b"k:v"[..])));
        assert_eq!(
            format(false, false).split(b"k::v"),
            Ok((None, &b"k::v"[..]))
        );
    }
}
