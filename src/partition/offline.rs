//! Partitions whose log could not be opened (or failed and was dropped to be reopened): what
//! is needed to retry, why it failed, and when to try next.
//!
//! Issue 9: a log that could not open (out of descriptors) aborted start-up, so the broker
//! could never start again; a topic whose logs failed to open after it was registered answered
//! UNKNOWN_TOPIC_OR_PARTITION forever; and a log whose segment roll failed answered
//! KAFKA_STORAGE_ERROR until a restart. Now such a partition answers KAFKA_STORAGE_ERROR while
//! it is offline, and the actor tries to open it again when it is next used (at most once per
//! [`OFFLINE_LOG_RETRY_MS`]) and on every retention tick. Pure bookkeeping: the actor opens.

use std::collections::BTreeMap;

use crate::limits::OFFLINE_LOG_RETRY_MS;
use crate::storage::log::LogConfig;
use crate::types::TopicPartition;

#[derive(Debug)]
struct OfflineLog {
    config: LogConfig,
    error: String,
    /// Where the next open cuts the log (its last good sync, after a failed sync); kept across
    /// failed retries until an open succeeds.
    cut_to: Option<i64>,
    /// Monotonic (`ctx.now.mono_ms`): a wall-clock step back must not keep a partition
    /// offline longer.
    retry_at_mono_ms: u64,
}

#[derive(Debug, Default)]
pub struct OfflineLogs {
    logs: BTreeMap<TopicPartition, OfflineLog>,
}

impl OfflineLogs {
    /// Records that `tp` could not be opened at `now_mono_ms`; the next try is due a retry interval
    /// later.
    pub fn failed(
        &mut self,
        tp: TopicPartition,
        config: LogConfig,
        error: String,
        now_mono_ms: u64,
    ) {
        self.failed_cut(tp, config, error, None, now_mono_ms);
    }

    /// [`Self::failed`] for a log whose next open must cut it to `cut_to`.
    pub fn failed_cut(
        &mut self,
        tp: TopicPartition,
        config: LogConfig,
        error: String,
        cut_to: Option<i64>,
        now_mono_ms: u64,
    ) {
        let retry_at_mono_ms = now_mono_ms.saturating_add(OFFLINE_LOG_RETRY_MS);
        self.logs.insert(
            tp,
            OfflineLog {
                config,
                error,
                cut_to,
                retry_at_mono_ms,
            },
        );
    }

    /// Records a log to reopen at once (its files are fine as far as we know; it was dropped
    /// after a failed write so that recovery can put it back in a known state).
    pub fn reopen_now(
        &mut self,
        tp: TopicPartition,
        config: LogConfig,
        error: String,
        cut_to: Option<i64>,
    ) {
        self.logs.insert(
            tp,
            OfflineLog {
                config,
                error,
                cut_to,
                retry_at_mono_ms: 0,
            },
        );
    }

    /// Takes `tp` out if a retry is due: the config to open it with and where to cut it.
    pub fn take_due(
        &mut self,
        tp: &TopicPartition,
        now_mono_ms: u64,
    ) -> Option<(LogConfig, Option<i64>)> {
        match self.logs.get(tp) {
            Some(log) if log.retry_at_mono_ms <= now_mono_ms => {
                self.logs.remove(tp).map(|l| (l.config, l.cut_to))
            }
            _ => None,
        }
    }

    /// Every partition whose retry is due.
    pub fn due(&self, now_mono_ms: u64) -> Vec<TopicPartition> {
        self.logs
            .iter()
            .filter(|(_, log)| log.retry_at_mono_ms <= now_mono_ms)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Why `tp` is offline, if it is.
    pub fn reason(&self, tp: &TopicPartition) -> Option<String> {
        self.logs
            .get(tp)
            .map(|log| format!("the partition's log cannot be opened: {}", log.error))
    }

    /// The offline partitions of `topics` (every one when `None`), in order. Costs nothing
    /// while no log is offline, and a lookup per named topic otherwise.
    pub fn listed(&self, topics: Option<&[String]>) -> Vec<TopicPartition> {
        if self.logs.is_empty() {
            return Vec::new();
        }
        let Some(topics) = topics else {
            return self.logs.keys().cloned().collect();
        };
        let mut listed = Vec::new();
        for topic in topics {
            let bound = |partition| TopicPartition {
                topic: topic.clone(),
                partition,
            };
            listed.extend(
                self.logs
                    .range(bound(i32::MIN)..=bound(i32::MAX))
                    .map(|(tp, _)| tp.clone()),
            );
        }
        listed
    }

    pub fn contains(&self, tp: &TopicPartition) -> bool {
        self.logs.contains_key(tp)
    }

    /// Forgets `tp` (deleted); returns whether it was offline.
    pub fn remove(&mut self, tp: &TopicPartition) -> bool {
        self.logs.remove(tp).is_some()
    }

    /// Replaces the config used for the next open (a topic config change while offline).
    pub fn set_config(&mut self, tp: &TopicPartition, config: LogConfig) -> bool {
        match self.logs.get_mut(tp) {
            Some(log) => {
                log.config = config;
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.logs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition,
        }
    }

    #[test]
    fn offline_partitions_are_listed_per_topic() {
        let mut offline = OfflineLogs::default();
        assert!(offline.listed(None).is_empty());
        let other = TopicPartition {
            topic: "u".into(),
            partition: 0,
        };
        offline.failed(tp(2), LogConfig::default(), "EMFILE".into(), 0);
        offline.failed(tp(0), LogConfig::default(), "EMFILE".into(), 0);
        offline.failed(other.clone(), LogConfig::default(), "EMFILE".into(), 0);
        assert_eq!(offline.listed(None), vec![tp(0), tp(2), other.clone()]);
        assert_eq!(offline.listed(Some(&["t".into()])), vec![tp(0), tp(2)]);
        // A prefix of a topic's name is another topic.
        assert!(offline.listed(Some(&["".into(), "v".into()])).is_empty());
        assert_eq!(offline.listed(Some(&["u".into()])), vec![other]);
    }

    #[test]
    fn a_failed_open_is_retried_only_after_the_interval() {
        let mut offline = OfflineLogs::default();
        offline.failed(tp(0), LogConfig::default(), "EMFILE".into(), 1_000);
        assert!(offline.take_due(&tp(0), 1_000).is_none(), "too early");
        assert!(offline.reason(&tp(0)).unwrap().contains("EMFILE"));
        assert!(offline.due(1_000).is_empty());
        let later = 1_000 + OFFLINE_LOG_RETRY_MS;
        assert_eq!(offline.due(later), vec![tp(0)]);
        assert!(offline.take_due(&tp(0), later).is_some());
        assert!(offline.is_empty(), "taken out to be opened");
    }

    #[test]
    fn a_reopen_is_due_at_once_and_deletion_forgets() {
        let mut offline = OfflineLogs::default();
        offline.reopen_now(tp(1), LogConfig::default(), "roll failed".into(), None);
        assert!(offline.contains(&tp(1)));
        assert!(offline.remove(&tp(1)));
        assert!(!offline.remove(&tp(1)));
        offline.reopen_now(tp(1), LogConfig::default(), "roll failed".into(), Some(7));
        let (_, cut_to) = offline.take_due(&tp(1), 0).unwrap();
        assert_eq!(cut_to, Some(7), "a failed sync's cut reaches the open");
    }

    #[test]
    fn a_cut_survives_a_failed_retry() {
        let mut offline = OfflineLogs::default();
        let full = "No space left on device (os error 28)".to_string();
        offline.failed_cut(tp(0), LogConfig::default(), full.clone(), Some(3), 0);
        assert!(
            offline.take_due(&tp(0), 0).is_none(),
            "retried after the interval"
        );
        let (config, cut_to) = offline.take_due(&tp(0), OFFLINE_LOG_RETRY_MS).unwrap();
        // The open failed again (the disk is still full): the cut goes back with it.
        offline.failed_cut(tp(0), config, full, cut_to, OFFLINE_LOG_RETRY_MS);
        let (_, cut_to) = offline.take_due(&tp(0), 2 * OFFLINE_LOG_RETRY_MS).unwrap();
        assert_eq!(cut_to, Some(3));
    }
}
