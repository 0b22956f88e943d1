//! `rill perf produce | consume | e2e`: throughput and latency of a cluster
//! (kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh, and an end-to-end latency run).
#![allow(clippy::disallowed_methods)] // host-side tool: clocks and tasks

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::client::consumer::{Consumer, ConsumerConfig, StartOffset};
use super::client::group_consumer::{GroupConsumer, RecordSource, AUTO_COMMIT_INTERVAL};
use super::client::producer::{now_ms, BatchOutcome, Producer, ProducerConfig};
use super::client::Client;

use super::args::{Args, Spec};
use super::client_config::ToolSettings;
use super::console_producer::sleep_until;
use super::{connect, topic_to_create, CliError, CliResult};

pub const USAGE: &str = "\
USAGE:
    rill perf produce --bootstrap-server H:P --topic T --num-records N --record-size B
                      --throughput R|-1 [--producer-property acks=.. linger.ms=.. batch.size=..]...
                      [--producer-props ...]...   (the same as --producer-property)
                      [--reporting-interval MS]   (accepted; progress prints every 5 s)
                      [--transactional-id ID] [--transaction-duration-ms MS]
                                  (transactional: each transaction is committed once it has
                                   been open MS, default 3000; either flag turns transactions
                                   on, the id defaulting to Kafka's
                                   performance-producer-default-transactional-id)
    rill perf consume --bootstrap-server H:P --topic T --messages N [--timeout-ms MS]
                      [--group G]   (as a member of group G: its partitions, from its commits or
                                     the earliest offset, committed every 5 s and at the end;
                                     the clock starts once the member has its partitions)
    rill perf e2e     --bootstrap-server H:P --topic T --rate R --seconds S [--record-size B]
                      [--producer-property ...]...

    Client properties from a Java properties file, with the security keys
    (security.protocol, ssl.*, sasl.*) for secured listeners:
      produce: --producer.config FILE   (before --producer-property; as
                                         kafka-producer-perf-test)
      consume: --consumer.config FILE   (as kafka-consumer-perf-test)
      e2e:     --producer.config FILE   (its producer's and consumer's connections)
      any:     --command-config FILE    (the same, as in Kafka 4.2)
";

pub(super) const SPEC: Spec = Spec {
    switches: &[],
    values: &[
        "--bootstrap-server",
        "--topic",
        "--num-records",
        "--record-size",
        "--throughput",
        "--messages",
        "--timeout-ms",
        "--rate",
        "--seconds",
        "--reporting-interval",
        "--group",
        "--transactional-id",
        "--transaction-duration-ms",
        "--producer.config",
        "--consumer.config",
        "--command-config",
    ],
    properties: &["--producer-property", "--producer-props"],
};

/// kafka-producer-perf-test's transactional id when only the duration is given.
const DEFAULT_TRANSACTIONAL_ID: &str = "performance-producer-default-transactional-id";
/// kafka-producer-perf-test's transaction duration when only the id is given.
const DEFAULT_TRANSACTION_DURATION_MS: u64 = 3000;

/// How often progress is printed.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// How often the terminal's progress bar is moved.
const PROGRESS_BAR_INTERVAL: Duration = Duration::from_millis(250);
/// Latency samples kept (every k-th record beyond this), as Kafka's perf tool does.
const LATENCY_SAMPLES_MAX: u64 = 5_000_000;

pub async fn run(raw: &[String]) -> CliResult {
    let Some((mode, rest)) = raw.split_first() else {
        return Err(CliError::Usage(
            "give a mode: produce, consume or e2e".into(),
        ));
    };
    let args = Args::parse(rest, &SPEC)?;
    let (files, properties): (&[&str], &[&str]) = match mode.as_str() {
        "produce" | "e2e" => (
            &["--producer.config", "--command-config"],
            PRODUCER_PROPERTIES,
        ),
        "consume" => (&["--consumer.config", "--command-config"], &[]),
        other => return Err(CliError::Usage(format!("unknown perf mode '{other}'"))),
    };
    for flag in ["--producer.config", "--consumer.config"] {
        if args.value(flag).is_some() && !files.contains(&flag) {
            return Err(CliError::Usage(format!(
                "{flag} does not go with perf {mode}"
            )));
        }
    }
    if matches!(mode.as_str(), "produce" | "e2e") {
        // Producing may auto-create the topic: refuse a bad name before contacting a broker.
        topic_to_create(&args)?;
    }
    let settings = ToolSettings::load(&args, files, properties)?;
    let client = || async { connect(args.required("--bootstrap-server")?, &settings.client).await };
    match mode.as_str() {
        "produce" => produce(client().await?, &args, &settings).await,
        "consume" => consume(client().await?, &args, &settings).await,
        _ => e2e(client().await?, &args, &settings).await,
    }
}

/// The producer's `key=value` flags (kafka-producer-perf-test's two names).
const PRODUCER_PROPERTIES: &[&str] = &["--producer-property", "--producer-props"];

/// The producer's settings: the properties file, then the property flags.
fn producer_config(settings: &ToolSettings) -> CliResult<ProducerConfig> {
    let mut config = ProducerConfig::default();
    settings.apply(|key, value| match key {
        "bootstrap.servers" => Ok(true),
        _ => Ok(config.apply(key, value)?),
    })?;
    Ok(config)
}

fn required_number<T: std::str::FromStr>(args: &Args, flag: &str) -> CliResult<T> {
    args.number(flag)?
        .ok_or_else(|| CliError::Usage(format!("missing required option {flag}")))
}

/// Latency samples in microseconds.
#[derive(Default)]
struct Latencies {
    samples_us: Vec<u64>,
    sum_us: u128,
    count: u64,
    max_us: u64,
    every: u64,
}

impl Latencies {
    fn new(expected: u64) -> Self {
        let every = expected.div_ceil(LATENCY_SAMPLES_MAX).max(1);
        Self {
            samples_us: Vec::with_capacity((expected / every).min(LATENCY_SAMPLES_MAX) as usize),
            every,
            ..Self::default()
        }
    }

    fn record(&mut self, latency: Duration) {
        let us = latency.as_micros().min(u64::MAX as u128) as u64;
        if self.count % self.every == 0 {
            self.samples_us.push(us);
        }
        self.count += 1;
        self.sum_us += us as u128;
        self.max_us = self.max_us.max(us);
    }

    fn avg_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.count as f64 / 1000.0
        }
    }

    /// `p50 .. ms, p99 .. ms` of the samples so far, from at most 10,000 of them evenly spread
    /// (the bar moves a few times a second; sorting millions each time would slow the send
    /// loop it measures).
    fn percentiles_so_far(&self) -> String {
        let step = self.samples_us.len().div_ceil(10_000).max(1);
        let mut sorted: Vec<u64> = self.samples_us.iter().step_by(step).copied().collect();
        sorted.sort_unstable();
        let pct = |q: f64| match sorted.len() {
            0 => 0.0,
            n => sorted[((n as f64 * q).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0,
        };
        format!("p50 {:.2} ms, p99 {:.2} ms", pct(0.50), pct(0.99))
    }

    /// `avg a ms, p50 .., p95 .., p99 .., p99.9 .., max ..` (sorts the samples).
    fn summary(&mut self) -> String {
        self.samples_us.sort_unstable();
        let pct = |q: f64| {
            if self.samples_us.is_empty() {
                return 0.0;
            }
            let i = ((self.samples_us.len() as f64 * q).ceil() as usize)
                .clamp(1, self.samples_us.len());
            self.samples_us[i - 1] as f64 / 1000.0
        };
        format!(
            "latency avg {:.2} ms, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.avg_ms(),
            pct(0.50),
            pct(0.95),
            pct(0.99),
            pct(0.999),
            self.max_us as f64 / 1000.0
        )
    }
}

/// Produce-side counters shared by `produce` and `e2e`.
struct ProduceStats {
    acked: u64,
    failed: u64,
    first_error: Option<String>,
    latencies: Latencies,
    window_acked: u64,
    window_start: Instant,
    /// The bar on a terminal (records acknowledged or failed so far, the rate, percentiles).
    progress: super::progress::Progress,
    progress_at: Instant,
    started: Instant,
}

impl ProduceStats {
    fn new(expected: u64) -> Self {
        Self {
            acked: 0,
            failed: 0,
            first_error: None,
            latencies: Latencies::new(expected),
            window_acked: 0,
            window_start: Instant::now(),
            progress: super::progress::Progress::new(expected, "records"),
            progress_at: Instant::now(),
            started: Instant::now(),
        }
    }

    /// Moves the bar (a few times a second: the percentiles sort the samples).
    fn show_progress(&mut self) {
        if !self.progress.visible() || self.progress_at.elapsed() < PROGRESS_BAR_INTERVAL {
            return;
        }
        self.progress_at = Instant::now();
        let rate = self.acked as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let latencies = self.latencies.percentiles_so_far();
        let message = format!("{rate:.0} records/s, {latencies}");
        self.progress.set(self.acked + self.failed, message);
    }

    fn absorb(&mut self, outcome: &BatchOutcome) {
        match &outcome.base_offset {
            Ok(_) => {
                for at in &outcome.enqueued_at {
                    self.latencies
                        .record(outcome.completed_at.saturating_duration_since(*at));
                }
                self.acked += outcome.enqueued_at.len() as u64;
                self.window_acked += outcome.enqueued_at.len() as u64;
            }
            Err(e) => {
                self.failed += outcome.record_ids.len() as u64;
                self.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }

    /// Prints progress when the window is over (and moves the bar on a terminal).
    fn maybe_progress(&mut self, record_bytes: usize) {
        self.show_progress();
        let elapsed = self.window_start.elapsed();
        if elapsed < PROGRESS_INTERVAL {
            return;
        }
        let rate = self.window_acked as f64 / elapsed.as_secs_f64();
        let line = format!(
            "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
            self.window_acked,
            rate,
            rate * record_bytes as f64 / (1024.0 * 1024.0),
            self.latencies.avg_ms(),
            self.latencies.max_us as f64 / 1000.0
        );
        self.progress.suspend(|| println!("{line}"));
        self.window_acked = 0;
        self.window_start = Instant::now();
    }
}

/// A payload of printable pseudo-random bytes (Kafka's perf tool uses random letters).
fn payload(record_size: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..record_size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'A' + (x % 26) as u8
        })
        .collect()
}

/// The producer's settings with kafka-producer-perf-test's transaction flags applied: the
/// config and, when transactional, how long each transaction stays open.
fn transactional_config(
    args: &Args,
    settings: &ToolSettings,
) -> CliResult<(ProducerConfig, Option<Duration>)> {
    let mut config = producer_config(settings)?;
    if let Some(id) = args.value("--transactional-id") {
        config.set("transactional.id", id)?;
    }
    let duration_ms: Option<u64> = args.number("--transaction-duration-ms")?;
    if duration_ms == Some(0) {
        return Err(CliError::Usage(
            "--transaction-duration-ms must be greater than 0".into(),
        ));
    }
    if duration_ms.is_some() && config.transactional_id.is_none() {
        config.set("transactional.id", DEFAULT_TRANSACTIONAL_ID)?;
    }
    let duration = (config.transactional_id.is_some())
        .then(|| Duration::from_millis(duration_ms.unwrap_or(DEFAULT_TRANSACTION_DURATION_MS)));
    Ok((config, duration))
}

async fn produce(client: Arc<Client>, args: &Args, settings: &ToolSettings) -> CliResult {
    let topic = args.required("--topic")?;
    let num_records: u64 = required_number(args, "--num-records")?;
    let record_size: usize = required_number(args, "--record-size")?;
    let throughput: f64 = required_number(args, "--throughput")?;
    let (config, transaction_duration) = transactional_config(args, settings)?;
    let mut producer = Producer::new(client, topic, config).await?;
    let value = payload(record_size);
    let mut stats = ProduceStats::new(num_records);
    let start = Instant::now();
    let mut transaction_start = start;
    // Each commit's time: the flush of its last batches, their acknowledgements, the EndTxn.
    let mut commits = Latencies::new(1);
    for i in 0..num_records {
        paced_send(&mut producer, &mut stats, start, i, throughput, &value).await?;
        stats.maybe_progress(record_size);
        // Kafka's loop: commit once the transaction has been open its duration.
        if transaction_duration.is_some_and(|d| transaction_start.elapsed() >= d) {
            let committing = Instant::now();
            producer.commit_transaction().await?;
            commits.record(committing.elapsed());
            transaction_start = Instant::now();
        }
    }
    // The last transaction is committed by close.
    let closing = Instant::now();
    for outcome in producer.close().await? {
        stats.absorb(&outcome);
    }
    if transaction_duration.is_some() {
        commits.record(closing.elapsed());
    }
    stats.progress.finish();
    let elapsed = start.elapsed().as_secs_f64();
    let rate = stats.acked as f64 / elapsed;
    println!(
        "{} records sent, {:.1} records/sec ({:.2} MB/sec), {}.",
        stats.acked,
        rate,
        rate * record_size as f64 / (1024.0 * 1024.0),
        stats.latencies.summary()
    );
    if transaction_duration.is_some() {
        let count = commits.count;
        println!(
            "{count} transactions committed, commit {}.",
            commits.summary()
        );
    }
    if stats.failed > 0 {
        return Err(CliError::Failed(format!(
            "{} records failed; first error: {}",
            stats.failed,
            stats.first_error.unwrap_or_default()
        )));
    }
    Ok(())
}

/// Sends record `i` no earlier than its slot at `rate` records/s (`rate <= 0`: at once),
/// flushing lingered batches while it waits, then takes the outcomes that are in.
async fn paced_send(
    producer: &mut Producer,
    stats: &mut ProduceStats,
    start: Instant,
    i: u64,
    rate: f64,
    value: &[u8],
) -> CliResult {
    if rate > 0.0 {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        while Instant::now() < due {
            let linger = producer.linger_deadline().filter(|d| *d < due);
            tokio::select! {
                biased;
                _ = sleep_until(linger) => producer.flush_due().await?,
                _ = tokio::time::sleep_until(due) => {}
            }
        }
    }
    producer.send(i, None, value, None).await?;
    if producer
        .linger_deadline()
        .is_some_and(|d| d <= Instant::now())
    {
        producer.flush_due().await?;
    }
    while let Some(outcome) = producer.try_outcome() {
        stats.absorb(&outcome);
    }
    Ok(())
}

async fn consume(client: Arc<Client>, args: &Args, settings: &ToolSettings) -> CliResult {
    let topic = args.required("--topic")?;
    let messages: u64 = required_number(args, "--messages")?;
    let timeout = Duration::from_millis(args.number("--timeout-ms")?.unwrap_or(10_000));
    // kafka-consumer-perf-test reads from the beginning (auto.offset.reset=earliest).
    let mut config = ConsumerConfig {
        reset: StartOffset::Earliest,
        ..ConsumerConfig::default()
    };
    settings.apply(|key, value| Ok(config.apply(key, value)?))?;
    let mut source = match args.value("--group") {
        Some(group) => RecordSource::Group(
            GroupConsumer::subscribe(client, group, topic, config, AUTO_COMMIT_INTERVAL).await?,
        ),
        None => RecordSource::Assigned(
            Consumer::assign(client, topic, None, StartOffset::Earliest, config).await?,
        ),
    };
    let start = Instant::now();
    let mut last_record_at = start;
    let (mut records, mut bytes) = (0u64, 0u64);
    let progress = super::progress::Progress::new(messages, "records");
    while records < messages && last_record_at.elapsed() < timeout {
        if progress.visible() {
            let rate = records as f64 / start.elapsed().as_secs_f64().max(1e-9);
            progress.set(records, format!("{rate:.0} records/s"));
        }
        for data in source.poll().await? {
            let mut next_offset = None;
            data.for_each_record(|r| {
                if records < messages {
                    records += 1;
                    bytes +=
                        r.value.map_or(0, |v| v.len()) as u64 + r.key.map_or(0, |k| k.len()) as u64;
                    next_offset = Some(r.offset + 1);
                }
            })?;
            if let Some(next) = next_offset {
                source.processed(data.partition, next);
            }
            if !data.records.is_empty() {
                last_record_at = Instant::now();
            }
        }
    }
    progress.finish();
    let elapsed = start.elapsed().as_secs_f64();
    source.close().await?;
    let mb = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{records} records consumed ({mb:.2} MB) in {elapsed:.2} s: {:.1} records/sec, {:.2} MB/sec.",
        records as f64 / elapsed,
        mb / elapsed
    );
    if records < messages {
        return Err(CliError::Failed(format!(
            "only {records} of {messages} records arrived within {} ms of the last one",
            timeout.as_millis()
        )));
    }
    Ok(())
}

async fn e2e(client: Arc<Client>, args: &Args, settings: &ToolSettings) -> CliResult {
    let topic = args.required("--topic")?;
    let rate: f64 = required_number(args, "--rate")?;
    let seconds: f64 = required_number(args, "--seconds")?;
    let record_size: usize = args.number("--record-size")?.unwrap_or(100);
    if rate <= 0.0 || seconds <= 0.0 {
        return Err(CliError::Usage(
            "--rate and --seconds must be positive".into(),
        ));
    }
    let mut config = producer_config(settings)?;
    if settings.last("linger.ms").is_none() {
        config.linger_ms = 0;
    }
    let total = (rate * seconds).round() as u64;
    let mut producer = Producer::new(client.clone(), topic, config).await?;
    let consumer = Consumer::assign(
        client,
        topic,
        None,
        StartOffset::Latest,
        ConsumerConfig {
            fetch_max_wait_ms: 100,
            ..ConsumerConfig::default()
        },
    )
    .await?;
    let reader = tokio::spawn(consume_latencies(consumer, total));
    let value = payload(record_size);
    let mut stats = ProduceStats::new(total);
    let start = Instant::now();
    for i in 0..total {
        paced_send(&mut producer, &mut stats, start, i, rate, &value).await?;
    }
    for outcome in producer.close().await? {
        stats.absorb(&outcome);
    }
    let (received, mut e2e) = reader
        .await
        .map_err(|e| CliError::Failed(format!("consumer task failed: {e}")))??;
    stats.progress.finish();
    println!(
        "e2e: {received} of {total} records consumed at {rate} records/s; end-to-end {}; ack {}.",
        e2e.summary(),
        stats.latencies.summary()
    );
    if received < total || stats.failed > 0 {
        return Err(CliError::Failed(format!(
            "{} records failed to produce, {} never arrived{}",
            stats.failed,
            total.saturating_sub(received),
            stats
                .first_error
                .map(|e| format!("; first error: {e}"))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// Reads until `total` records arrived (or 10 s pass without one); latency = now - CreateTime.
async fn consume_latencies(mut consumer: Consumer, total: u64) -> CliResult<(u64, Latencies)> {
    let mut latencies = Latencies::new(total);
    let mut received = 0u64;
    let mut last_record_at = Instant::now();
    while received < total && last_record_at.elapsed() < Duration::from_secs(10) {
        for data in consumer.poll().await? {
            let now = now_ms();
            data.for_each_record(|r| {
                received += 1;
                let ms = (now - r.timestamp_ms).max(0) as u64;
                latencies.record(Duration::from_millis(ms));
            })?;
            if !data.records.is_empty() {
                last_record_at = Instant::now();
            }
        }
    }
    Ok((received, latencies))
}
