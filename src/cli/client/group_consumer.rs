//! A consumer of one topic inside a consumer group: a [`Member`] decides the partitions, a
//! [`Consumer`] fetches them from the group's committed offsets (`reset` where there is none,
//! as `auto.offset.reset`). Offsets the caller marked as processed are committed every
//! `auto.commit.interval.ms`, before each rebalance and at [`GroupConsumer::close`].
#![allow(clippy::disallowed_methods)] // host-side client: reads the clock and sleeps

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::cluster::Client;
use super::consumer::{Consumer, ConsumerConfig, FetchedPartition, StartOffset};
use super::error::{ClientError, ClientResult};
use super::group::TopicPartition;
use super::limits::RETRY_BACKOFF_MS;
use super::member::{worth_retrying, Beat, Member, MemberConfig};
use crate::types::ErrorCode;

/// `auto.commit.interval.ms`'s default.
pub const AUTO_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// How long closing retries its final commit while the coordinator restarts or moves (the
/// Java consumer's `close()` default timeout).
const CLOSE_COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct GroupConsumer {
    client: Arc<Client>,
    member: Member,
    topic: String,
    config: ConsumerConfig,
    /// The fetcher of this member's partitions; `None` while it has none.
    consumer: Option<Consumer>,
    /// partition → the offset after the last record processed (what a commit writes).
    processed: BTreeMap<i32, i64>,
    /// What the last successful commit wrote.
    committed: BTreeMap<i32, i64>,
    next_commit: Instant,
    commit_interval: Duration,
}

impl GroupConsumer {
    /// Joins `group` subscribed to `topic` and positions its partitions; `config.reset` is
    /// where a partition without a committed offset starts.
    pub async fn subscribe(
        client: Arc<Client>,
        group: &str,
        topic: &str,
        config: ConsumerConfig,
        commit_interval: Duration,
    ) -> ClientResult<Self> {
        let topics = [topic.to_string()];
        let member = Member::join(client.clone(), group, &topics, MemberConfig::default()).await?;
        let mut consumer = Self {
            client,
            member,
            topic: topic.to_string(),
            config,
            consumer: None,
            processed: BTreeMap::new(),
            committed: BTreeMap::new(),
            next_commit: Instant::now() + commit_interval,
            commit_interval,
        };
        consumer.start().await?;
        Ok(consumer)
    }

    /// This member's partitions of the topic.
    pub fn partitions(&self) -> Vec<i32> {
        (self.member.assignment().iter())
            .filter(|(topic, _)| *topic == self.topic)
            .map(|(_, p)| *p)
            .collect()
    }

    /// Records that everything of `partition` before `next_offset` was processed.
    pub fn processed(&mut self, partition: i32, next_offset: i64) {
        self.processed.insert(partition, next_offset);
    }

    /// One round of fetches, after a heartbeat (and a rebalance, when the group has one) and an
    /// auto-commit when due. Without partitions it waits `fetch.max.wait.ms` and returns none.
    pub async fn poll(&mut self) -> ClientResult<Vec<FetchedPartition>> {
        if self.member.heartbeat_if_due().await? == Beat::Rejoin {
            self.rebalance().await?;
        }
        if Instant::now() >= self.next_commit {
            self.next_commit = Instant::now() + self.commit_interval;
            self.commit_processed().await?;
        }
        match &mut self.consumer {
            Some(consumer) => consumer.poll().await,
            None => {
                let wait = self.config.fetch_max_wait_ms.max(1) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                Ok(Vec::new())
            }
        }
    }

    /// Commits what was processed (retrying while the coordinator restarts, for as long as a
    /// rejoin may take) and leaves the group.
    pub async fn close(mut self) -> ClientResult<()> {
        let deadline = Instant::now() + CLOSE_COMMIT_TIMEOUT;
        let committed = loop {
            match self.try_commit().await {
                Err(e) if worth_retrying(&e) && !fenced(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                }
                Err(e) if fenced(&e) => break Ok(()),
                other => break other,
            }
        };
        let left = self.member.leave().await;
        committed.and(left)
    }

    /// Commits the processed offsets that changed since the last commit. A commit the group
    /// refuses because it moved on is dropped (the next owner re-reads from the last commit),
    /// and so is one the coordinator could not take because it is restarting or moving: the
    /// next commit carries the offsets, and until then the group re-reads, never skips.
    async fn commit_processed(&mut self) -> ClientResult<()> {
        match self.try_commit().await {
            Err(e) if fenced(&e) || worth_retrying(&e) => Ok(()),
            other => other,
        }
    }

    /// One commit of what changed, on a live connection to the coordinator.
    async fn try_commit(&mut self) -> ClientResult<()> {
        let changed: BTreeMap<TopicPartition, i64> = (self.processed.iter())
            .filter(|(p, offset)| self.committed.get(p) != Some(offset))
            .map(|(p, offset)| ((self.topic.clone(), *p), *offset))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        self.member.ensure_coordinator().await?;
        self.member.commit(&changed).await?;
        self.committed
            .extend(changed.keys().map(|(_, p)| (*p, self.processed[p])));
        Ok(())
    }

    /// Eager rebalance: commit, give up every partition, join again, start over on the new
    /// assignment from the group's commits.
    async fn rebalance(&mut self) -> ClientResult<()> {
        self.commit_processed().await?;
        self.consumer = None;
        self.member.rejoin().await?;
        self.start().await
    }

    /// Positions this member's partitions: the committed offset, else `config.reset`.
    async fn start(&mut self) -> ClientResult<()> {
        self.processed.clear();
        self.committed.clear();
        let partitions = self.partitions();
        if partitions.is_empty() {
            self.consumer = None;
            return Ok(());
        }
        let committed = self.member.committed().await?;
        let mut consumer = Consumer::assign(
            self.client.clone(),
            &self.topic,
            Some(&partitions),
            StartOffset::Offset(0),
            self.config.clone(),
        )
        .await?;
        let mut uncommitted = Vec::new();
        for p in &partitions {
            match committed.get(&(self.topic.clone(), *p)) {
                Some(offset) => {
                    consumer.seek(&[*p], StartOffset::Offset(*offset)).await?;
                    self.committed.insert(*p, *offset);
                }
                None => uncommitted.push(*p),
            }
        }
        consumer.seek(&uncommitted, self.config.reset).await?;
        self.processed = consumer.positions().clone();
        self.consumer = Some(consumer);
        Ok(())
    }
}

/// The group moved on without this member's commit (a rebalance it has yet to notice).
fn fenced(e: &ClientError) -> bool {
    e.code().is_some_and(|code| {
        code == ErrorCode::REBALANCE_IN_PROGRESS
            || code == ErrorCode::ILLEGAL_GENERATION
            || code == ErrorCode::UNKNOWN_MEMBER_ID
    })
}

/// Where a tool's records come from: assigned partitions, or a group member's.
pub enum RecordSource {
    Assigned(Consumer),
    Group(GroupConsumer),
}

impl RecordSource {
    pub async fn poll(&mut self) -> ClientResult<Vec<FetchedPartition>> {
        match self {
            RecordSource::Assigned(consumer) => consumer.poll().await,
            RecordSource::Group(group) => group.poll().await,
        }
    }

    /// Marks `partition` processed up to `next_offset` (what a group commits).
    pub fn processed(&mut self, partition: i32, next_offset: i64) {
        if let RecordSource::Group(group) = self {
            group.processed(partition, next_offset);
        }
    }

    /// A group member commits what was processed and leaves.
    pub async fn close(self) -> ClientResult<()> {
        match self {
            RecordSource::Group(group) => group.close().await,
            RecordSource::Assigned(_) => Ok(()),
        }
    }
}
