//! One partitions-actor request per partition of a topic, one at a time: how topic
//! administration opens, deletes and reconfigures this node's partition logs.

use crate::actor::client::WrongReply;
use crate::actor::CallFailure;
use crate::messages::{
    DeletePartitionRequest, Done, EnsureRequest, NodeMsg, SetConfigRequest, TopicMeta,
};
use crate::storage::log::LogConfig;
use crate::types::{ErrorCode, Refusal, TopicPartition};

use super::admin::AdminSettings;
use super::topic_config;

/// The partitions actor's answer to a call, or why there is none.
pub type Answer = Result<NodeMsg, CallFailure>;

/// Why one partition request failed.
#[derive(Debug)]
pub enum PartitionFailure {
    /// The partitions actor answered with this error.
    Refused(Refusal),
    /// No usable answer: the call failed or the reply was of the wrong kind.
    Lost(String),
}

impl std::fmt::Display for PartitionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(refusal) => write!(
                f,
                "partition request failed with error {}: {}",
                refusal.code, refusal.message
            ),
            Self::Lost(reason) => f.write_str(reason),
        }
    }
}

#[derive(Clone)]
pub enum SweepKind {
    /// With the topic's id (`EnsureRequest::topic_id`).
    Ensure(LogConfig, [u8; 16]),
    Delete,
    SetConfig(LogConfig),
}

/// One request to the partitions actor for each of the given partitions of a topic, in order,
/// one at a time. Opening goes on past a failure (the failed logs stay offline and are retried,
/// the others serve); deleting and reconfiguring stop at the first.
pub struct Sweep {
    pub topic: String,
    kind: SweepKind,
    partitions: Vec<i32>,
    next: usize,
    pub failure: Option<(i32, PartitionFailure)>,
}

impl Sweep {
    pub fn new(topic: &str, partitions: Vec<i32>, kind: SweepKind) -> Self {
        Self {
            topic: topic.to_string(),
            kind,
            partitions,
            next: 0,
            failure: None,
        }
    }

    /// Opens `partitions` of `meta` with its configs resolved on the broker defaults.
    pub fn ensure(
        topic: &str,
        meta: &TopicMeta,
        partitions: Vec<i32>,
        settings: &AdminSettings,
    ) -> Self {
        Self::new(
            topic,
            partitions,
            SweepKind::Ensure(log_config(topic, meta, settings), meta.id),
        )
    }

    /// Takes the answer to the previous request; the next request, or `None` when done.
    pub fn step(&mut self, answer: Option<Answer>) -> Option<NodeMsg> {
        if let Some(answer) = answer {
            if let Err(failure) = self.outcome(answer) {
                let partition = self.partitions[self.next - 1];
                self.failure.get_or_insert((partition, failure));
            }
        }
        let stop = self.failure.is_some() && !matches!(self.kind, SweepKind::Ensure(..));
        if stop || self.next >= self.partitions.len() {
            return None;
        }
        let tp = TopicPartition {
            topic: self.topic.clone(),
            partition: self.partitions[self.next],
        };
        self.next += 1;
        Some(match &self.kind {
            SweepKind::Ensure(config, topic_id) => EnsureRequest {
                tp,
                config: config.clone(),
                topic_id: *topic_id,
            }
            .into(),
            SweepKind::Delete => DeletePartitionRequest { tp }.into(),
            SweepKind::SetConfig(config) => SetConfigRequest {
                tp,
                config: config.clone(),
            }
            .into(),
        })
    }

    fn outcome(&self, answer: Answer) -> Result<(), PartitionFailure> {
        let done = match answer {
            Ok(msg) => Done::try_from(msg)
                .map_err(|wrong: WrongReply| PartitionFailure::Lost(wrong.to_string()))?,
            Err(why) => {
                return Err(PartitionFailure::Lost(format!(
                    "the partitions actor did not answer ({why:?})"
                )))
            }
        };
        match done.into_result() {
            Ok(()) => Ok(()),
            // Opening is idempotent and deleting a partition that was never opened is fine.
            Err(refusal)
                if refusal.code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    && !matches!(self.kind, SweepKind::SetConfig(_)) =>
            {
                Ok(())
            }
            Err(refusal) => Err(PartitionFailure::Refused(refusal)),
        }
    }

    /// Whether it opens logs (it goes on past a failure: see [`Sweep`]).
    pub fn is_ensure(&self) -> bool {
        matches!(self.kind, SweepKind::Ensure(..))
    }

    /// The first failure, naming its partition.
    pub fn error(&self) -> Option<String> {
        self.failure
            .as_ref()
            .map(|(partition, failure)| format!("partition {partition}: {failure}"))
    }
}

/// The log config of `meta`'s partitions: its overrides on the broker defaults (an override
/// this broker no longer accepts falls back to the default, with a warning).
pub fn log_config(topic: &str, meta: &TopicMeta, settings: &AdminSettings) -> LogConfig {
    let (config, skipped) = topic_config::resolve_stored(&settings.log, &meta.configs);
    for error in skipped {
        tracing::warn!(topic, %error, "stored topic config no longer valid; using the default");
    }
    config
}
