//! A consumer of assigned partitions of one topic (no consumer group): ListOffsets to find the
//! start, then Fetch from each partition's leader — one request per leader carrying all its
//! partitions, all leaders in parallel. Records are decoded lazily from the fetched bytes
//! ([`FetchedPartition::for_each_record`] borrows; nothing is allocated per record).
#![allow(clippy::disallowed_methods)] // host-side client: sleeps between retries

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use super::limits::{RETRIES_MAX, RETRY_BACKOFF_MS};
use super::records::{BatchIter, Record};
use crate::types::ErrorCode;

/// ListOffsets' special timestamps.
const LATEST_TIMESTAMP: i64 = -1;
const EARLIEST_TIMESTAMP: i64 = -2;
/// Kafka error codes the consumer reacts to.

/// Where a partition's consumption starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    Earliest,
    Latest,
    /// An exact offset.
    Offset(i64),
    /// The first offset whose timestamp is at or after this (ms); latest if none.
    Timestamp(i64),
}

/// Consumer settings under the Java client's names.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// 0 = read_uncommitted, 1 = read_committed.
    pub isolation_level: i8,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait_ms: i32,
    /// `fetch.min.bytes`.
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes`.
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes`.
    pub partition_max_bytes: i32,
    /// `auto.offset.reset`: where to go after OFFSET_OUT_OF_RANGE.
    pub reset: StartOffset,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            isolation_level: 0,
            fetch_max_wait_ms: 500,
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            reset: StartOffset::Latest,
        }
    }
}

impl ConsumerConfig {
    /// Applies one `key=value` consumer property: `Ok(false)` for a key the consumer does not
    /// know (the caller decides whether that is an error), an error for a bad value.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let number = || {
            value
                .parse::<i32>()
                .map_err(|_| format!("{key} expects a number, got '{value}'"))
        };
        match key {
            "fetch.max.wait.ms" => self.fetch_max_wait_ms = number()?,
            "fetch.min.bytes" => self.fetch_min_bytes = number()?,
            "fetch.max.bytes" => self.fetch_max_bytes = number()?,
            "max.partition.fetch.bytes" => self.partition_max_bytes = number()?,
            "auto.offset.reset" => {
                self.reset = match value {
                    "earliest" => StartOffset::Earliest,
                    "latest" => StartOffset::Latest,
                    _ => {
                        return Err(format!(
                            "auto.offset.reset must be earliest or latest, got '{value}'"
                        ))
                    }
                }
            }
            // `group.id` is the tool's (a group member); the others have no effect here.
            "client.id" | "isolation.level" | "group.id" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// One partition's share of a fetch.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    pub partition: i32,
    /// The offset this fetch asked for: records before it (in the same batch) are skipped.
    pub fetch_offset: i64,
    pub high_watermark: i64,
    pub records: Bytes,
}

impl FetchedPartition {
    /// Calls `f` for every data record at or after the fetch offset, in offset order.
    /// Control batches are skipped; a compressed batch is an error. Returns the records seen.
    pub fn for_each_record(&self, mut f: impl FnMut(&Record<'_>)) -> ClientResult<u64> {
        let mut seen = 0;
        for batch in BatchIter::new(&self.records) {
            let batch = batch?;
            if batch.is_control() || batch.header.last_offset() < self.fetch_offset {
                continue;
            }
            for record in batch.records()? {
                let record = record?;
                if record.offset >= self.fetch_offset {
                    f(&record);
                    seen += 1;
                }
            }
        }
        Ok(seen)
    }
}

/// Consumes assigned partitions of one topic.
pub struct Consumer {
    client: Arc<Client>,
    topic: String,
    config: ConsumerConfig,
    /// partition → next offset to fetch.
    positions: BTreeMap<i32, i64>,
    /// partition → leader, from the latest Metadata.
    leaders: BTreeMap<i32, i32>,
}

impl Consumer {
    /// Assigns `partitions` (all of the topic's when `None`), each starting at `start`.
    pub async fn assign(
        client: Arc<Client>,
        topic: &str,
        partitions: Option<&[i32]>,
        start: StartOffset,
        config: ConsumerConfig,
    ) -> ClientResult<Self> {
        let mut consumer = Self {
            client,
            topic: topic.to_string(),
            config,
            positions: BTreeMap::new(),
            leaders: BTreeMap::new(),
        };
        consumer.refresh_leaders().await?;
        let all: Vec<i32> = consumer.leaders.keys().copied().collect();
        let assigned: Vec<i32> = match partitions {
            None => all,
            Some(wanted) => {
                for p in wanted {
                    if !consumer.leaders.contains_key(p) {
                        return Err(ClientError::Invalid(format!(
                            "partition {p} does not exist: topic '{topic}' has {} partitions",
                            consumer.leaders.len()
                        )));
                    }
                }
                wanted.to_vec()
            }
        };
        consumer.positions = consumer.resolve(&assigned, start).await?;
        Ok(consumer)
    }

    /// partition → next offset.
    pub fn positions(&self) -> &BTreeMap<i32, i64> {
        &self.positions
    }

    /// Moves the next fetch of `partitions` (assigned ones) to `start`.
    pub async fn seek(&mut self, partitions: &[i32], start: StartOffset) -> ClientResult<()> {
        if let Some(p) = partitions.iter().find(|p| !self.positions.contains_key(p)) {
            return Err(ClientError::Invalid(format!(
                "partition {p} of '{}' is not assigned",
                self.topic
            )));
        }
        let resolved = self.resolve(partitions, start).await?;
        self.positions.extend(resolved);
        Ok(())
    }

    async fn refresh_leaders(&mut self) -> ClientResult<()> {
        let metadata = self.client.metadata(Some(&[&self.topic]), false).await?;
        let topic = metadata.topic(&self.topic)?;
        self.leaders = topic
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader))
            .collect();
        Ok(())
    }

    /// Start offsets for `partitions`: exact offsets as given, the rest via ListOffsets.
    async fn resolve(
        &self,
        partitions: &[i32],
        start: StartOffset,
    ) -> ClientResult<BTreeMap<i32, i64>> {
        let timestamp = match start {
            StartOffset::Offset(o) => return Ok(partitions.iter().map(|p| (*p, o)).collect()),
            StartOffset::Earliest => EARLIEST_TIMESTAMP,
            StartOffset::Latest => LATEST_TIMESTAMP,
            StartOffset::Timestamp(ts) => ts,
        };
        let mut offsets = self.list_offsets(partitions, timestamp).await?;
        if timestamp >= 0 {
            // No record at or after the timestamp: start at the end, like Kafka's consumer.
            let missing: Vec<i32> = offsets
                .iter()
                .filter(|(_, o)| **o < 0)
                .map(|(p, _)| *p)
                .collect();
            if !missing.is_empty() {
                offsets.extend(self.list_offsets(&missing, LATEST_TIMESTAMP).await?);
            }
        }
        Ok(offsets)
    }

    /// ListOffsets for `partitions` at `timestamp` (-2 earliest, -1 latest), asked of each
    /// partition's leader.
    pub async fn list_offsets(
        &self,
        partitions: &[i32],
        timestamp: i64,
    ) -> ClientResult<BTreeMap<i32, i64>> {
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for p in partitions {
            let leader = self.leaders.get(p).copied().unwrap_or(-1);
            by_leader.entry(leader).or_default().push(*p);
        }
        let mut offsets = BTreeMap::new();
        for (leader, partitions) in by_leader {
            if leader < 0 {
                return Err(ClientError::Broker {
                    code: ErrorCode::LEADER_NOT_AVAILABLE,
                    message: format!(
                        "partitions {partitions:?} of '{}' have no leader",
                        self.topic
                    ),
                });
            }
            // A retriable answer (a leader just elected answers OFFSET_NOT_AVAILABLE until its
            // high watermark caught up) is asked again, as Kafka's consumer does.
            let mut tries = 0;
            loop {
                match self.list_offsets_at(leader, &partitions, timestamp).await {
                    Err(e) if e.is_retriable() && tries < RETRIES_MAX => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                    }
                    answer => {
                        offsets.extend(answer?);
                        break;
                    }
                }
            }
        }
        Ok(offsets)
    }

    async fn list_offsets_at(
        &self,
        leader: i32,
        partitions: &[i32],
        timestamp: i64,
    ) -> ClientResult<Vec<(i32, i64)>> {
        let connection = self.client.broker(leader).await?;
        let version = connection.version(ApiKey::ListOffsets)?;
        let mut request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(&self.topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(*p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                )]);
        if version >= 2 {
            request.isolation_level = self.config.isolation_level;
        }
        let response: ListOffsetsResponse = connection
            .call(ApiKey::ListOffsets, version, &request)
            .await?;
        let mut out = Vec::with_capacity(partitions.len());
        for p in partitions {
            let answer = response
                .topics
                .iter()
                .filter(|t| t.name.0.as_str() == self.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|a| a.partition_index == *p)
                .ok_or_else(|| {
                    ClientError::Protocol(format!(
                        "the ListOffsets answer has no entry for {}-{p}",
                        self.topic
                    ))
                })?;
            let context = format!("listing offsets of {}-{p}", self.topic);
            if let Some(e) =
                ClientError::from_code(ErrorCode::from_wire(answer.error_code), Some(&context))
            {
                return Err(e);
            }
            out.push((*p, answer.offset));
        }
        Ok(out)
    }

    /// One round of fetches (one request per leader, in parallel). Positions advance past
    /// every complete batch returned. Retriable errors refresh metadata and retry.
    pub async fn poll(&mut self) -> ClientResult<Vec<FetchedPartition>> {
        // A broker restart takes seconds: keep trying for a request timeout, through refreshes
        // that cannot reach it yet.
        let timeout = Duration::from_millis(self.client.config().request_timeout_ms);
        let deadline = tokio::time::Instant::now() + timeout;
        let outlived = |e: &ClientError| {
            (e.is_retriable() || matches!(e, ClientError::Connect { .. }))
                && tokio::time::Instant::now() < deadline
        };
        loop {
            match self.poll_once().await {
                Err(e) if outlived(&e) => {
                    tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                    match self.refresh_leaders().await {
                        Err(e) if !outlived(&e) => return Err(e),
                        _ => {}
                    }
                }
                other => return other,
            }
        }
    }

    async fn poll_once(&mut self) -> ClientResult<Vec<FetchedPartition>> {
        let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
        for (p, offset) in &self.positions {
            let leader = self.leaders.get(p).copied().unwrap_or(-1);
            by_leader.entry(leader).or_default().push((*p, *offset));
        }
        if by_leader.contains_key(&-1) {
            return Err(ClientError::Broker {
                code: ErrorCode::LEADER_NOT_AVAILABLE,
                message: format!("a partition of '{}' has no leader", self.topic),
            });
        }
        let fetches = by_leader
            .iter()
            .map(|(leader, partitions)| self.fetch_from(*leader, partitions));
        let mut fetched = Vec::new();
        let mut out_of_range = Vec::new();
        for result in join_all(fetches).await {
            for item in result? {
                match item {
                    Ok(data) => fetched.push(data),
                    Err(partition) => out_of_range.push(partition),
                }
            }
        }
        for data in &fetched {
            if let Some(next) = next_offset(&data.records)? {
                self.positions
                    .insert(data.partition, next.max(data.fetch_offset));
            }
        }
        if !out_of_range.is_empty() {
            let reset = self.resolve(&out_of_range, self.config.reset).await?;
            self.positions.extend(reset);
        }
        Ok(fetched)
    }

    /// One Fetch to one leader; `Err(partition)` entries are OFFSET_OUT_OF_RANGE partitions.
    async fn fetch_from(
        &self,
        leader: i32,
        partitions: &[(i32, i64)],
    ) -> ClientResult<Vec<Result<FetchedPartition, i32>>> {
        let connection = self.client.broker(leader).await?;
        let version = connection.version(ApiKey::Fetch)?;
        let request = FetchRequest::default()
            .with_max_wait_ms(self.config.fetch_max_wait_ms)
            .with_min_bytes(self.config.fetch_min_bytes)
            .with_max_bytes(self.config.fetch_max_bytes)
            .with_isolation_level(self.config.isolation_level)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(&self.topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|(p, offset)| {
                            FetchPartition::default()
                                .with_partition(*p)
                                .with_fetch_offset(*offset)
                                .with_partition_max_bytes(self.config.partition_max_bytes)
                        })
                        .collect(),
                )]);
        let response: FetchResponse = connection.call(ApiKey::Fetch, version, &request).await?;
        if let Some(e) = ClientError::from_code(
            ErrorCode::from_wire(response.error_code),
            Some("fetch failed"),
        ) {
            return Err(e);
        }
        let mut out = Vec::with_capacity(partitions.len());
        for topic in response.responses {
            if topic.topic.0.as_str() != self.topic {
                continue;
            }
            for data in topic.partitions {
                let Some(&(_, fetch_offset)) =
                    partitions.iter().find(|(p, _)| *p == data.partition_index)
                else {
                    continue;
                };
                if ErrorCode::from_wire(data.error_code) == ErrorCode::OFFSET_OUT_OF_RANGE {
                    out.push(Err(data.partition_index));
                    continue;
                }
                let context = format!("fetching {}-{}", self.topic, data.partition_index);
                if let Some(e) =
                    ClientError::from_code(ErrorCode::from_wire(data.error_code), Some(&context))
                {
                    return Err(e);
                }
                out.push(Ok(FetchedPartition {
                    partition: data.partition_index,
                    fetch_offset,
                    high_watermark: data.high_watermark,
                    records: data.records.unwrap_or_default(),
                }));
            }
        }
        Ok(out)
    }
}

/// The offset after the last complete batch in `records`, if any.
fn next_offset(records: &Bytes) -> ClientResult<Option<i64>> {
    let mut next = None;
    for batch in BatchIter::new(records) {
        next = Some(batch?.header.next_offset());
    }
    Ok(next)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}
