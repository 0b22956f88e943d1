//! OffsetCommit and OffsetFetch. A commit naming a partition the registry does not know is
//! answered UNKNOWN_TOPIC_OR_PARTITION for that partition here, without the coordinator (Kafka's
//! `KafkaApis` does the same), so no commit is stored for a topic that does not exist.
//!
//! OffsetFetch changed shape at v8 (KIP-709): v1–7 ask for one group and are answered in
//! `topics` (with a top-level error code from v2), v8+ ask for many and are answered in `groups`.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use kafka_protocol::protocol::StrBytes;

use super::{codec, opt_text, text};
use crate::actor::client::ActorClient;
use crate::broker::per_partition;
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::txn::answered_code;
use crate::broker::BrokerService;
use crate::messages::{
    CommittedOffset, GroupOffsets, NodeMsg, OffsetCommitArgs, OffsetFetchArgs, TopicMeta,
    TxnOffsetCommitArgs,
};
use crate::types::{ErrorCode, LeaderEpoch, Offset, ProducerId, TopicPartition};

/// OffsetCommit v2–4 `retention_time_ms` meaning "the broker's default".
const DEFAULT_RETENTION_MS: i64 = -1;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn offset_commit(
        &self,
        request: &KafkaRequest,
        body: OffsetCommitRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let listed = body.topics.iter().flat_map(|topic| {
            // v2-5 carry no epoch; the crate decodes it as -1 then.
            (topic.partitions.iter()).map(move |p| {
                let offset = committed(
                    p.committed_offset,
                    p.committed_leader_epoch,
                    &p.committed_metadata,
                );
                (topic.name.0.as_str(), p.partition_index, offset)
            })
        });
        let key = ApiKey::OffsetCommit;
        let (known, unknown) = match self
            .split_commit(merged(key, listed), Known::Partition)
            .await
        {
            Ok(split) => split,
            Err(closed) => return closed,
        };
        if known.is_empty() {
            return codec::respond(
                request,
                key,
                &commit_response(refused_unknown(unknown).collect()),
            );
        }
        let args = OffsetCommitArgs {
            group: body.group_id.to_string(),
            generation: body.generation_id_or_member_epoch,
            member_id: body.member_id.to_string(),
            instance_id: body.group_instance_id.map(|s| s.to_string()),
            retention_ms: if (2..=4).contains(&version) {
                body.retention_time_ms
            } else {
                DEFAULT_RETENTION_MS
            },
            offsets: known,
            api_version: version,
        };
        self.ask_later(request, key, args, move |committed| {
            commit_response(
                committed
                    .into_iter()
                    .chain(refused_unknown(unknown))
                    .collect(),
            )
        })
        .await
    }

    /// TxnOffsetCommit v0–3: a transaction's commit of offsets, to the group's coordinator;
    /// partitions of unknown topics are refused here, the rest pend in the transaction until
    /// its marker. PRODUCER_FENCED reaches v0–2 as INVALID_PRODUCER_EPOCH (KIP-588).
    pub(super) async fn txn_offset_commit(
        &self,
        request: &KafkaRequest,
        body: TxnOffsetCommitRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let listed = body.topics.iter().flat_map(|topic| {
            // v0-1 carry no epoch; the crate decodes it as -1 then.
            (topic.partitions.iter()).map(move |p| {
                let offset = committed(
                    p.committed_offset,
                    p.committed_leader_epoch,
                    &p.committed_metadata,
                );
                (topic.name.0.as_str(), p.partition_index, offset)
            })
        });
        let key = ApiKey::TxnOffsetCommit;
        // Kafka's `handleTxnOffsetCommitRequest` refuses an unknown topic, not a partition
        // number past its count (kafka-python's own test commits one).
        let (known, unknown) = match self.split_commit(merged(key, listed), Known::Topic).await {
            Ok(split) => split,
            Err(closed) => return closed,
        };
        if known.is_empty() {
            return codec::respond(
                request,
                key,
                &txn_commit_response(refused_unknown(unknown).collect()),
            );
        }
        let v3 = version >= 3;
        let args = TxnOffsetCommitArgs {
            transactional_id: body.transactional_id.to_string(),
            group: body.group_id.to_string(),
            producer_id: ProducerId(body.producer_id.0),
            producer_epoch: body.producer_epoch,
            generation: if v3 { body.generation_id } else { -1 },
            member_id: if v3 {
                body.member_id.to_string()
            } else {
                String::new()
            },
            instance_id: body.group_instance_id.map(|s| s.to_string()),
            offsets: known,
        };
        self.ask_later(request, key, args, move |committed| {
            let results = (committed.into_iter().chain(refused_unknown(unknown)))
                .map(|(tp, code)| (tp, answered_code(key, version, code)))
                .collect();
            txn_commit_response(results)
        })
        .await
    }

    /// A commit's merged offsets split into those the registry knows and the rest; a request
    /// that could not be merged, or no registry, closes the connection.
    async fn split_commit(
        &self,
        merged: Result<Vec<(TopicPartition, CommittedOffset)>, String>,
        known_by: Known,
    ) -> Result<(Vec<(TopicPartition, CommittedOffset)>, Vec<TopicPartition>), Pending> {
        let offsets = merged.map_err(Pending::Close)?;
        let topics = (self.list_topics().await).map_err(|e| Pending::Close(e.to_string()))?;
        Ok(split_known(offsets, &topics, known_by))
    }

    pub(super) async fn offset_fetch(
        &self,
        request: &KafkaRequest,
        body: OffsetFetchRequest,
    ) -> Pending {
        let version = request.prefix.api_version;
        let groups: Vec<(String, Option<Vec<TopicPartition>>)> = if version >= 8 {
            body.groups
                .iter()
                .map(|g| {
                    let asked = g.topics.as_ref().map(|topics| {
                        topics
                            .iter()
                            .flat_map(|t| partitions_of(&t.name, &t.partition_indexes))
                            .collect()
                    });
                    (g.group_id.to_string(), asked)
                })
                .collect()
        } else {
            let asked = body.topics.as_ref().map(|topics| {
                topics
                    .iter()
                    .flat_map(|t| partitions_of(&t.name, &t.partition_indexes))
                    .collect()
            });
            vec![(body.group_id.to_string(), asked)]
        };
        let members = if version >= 9 {
            (body.groups.iter())
                .map(|g| {
                    let member = g.member_id.as_ref().map(|m| m.to_string());
                    (g.group_id.to_string(), (member, g.member_epoch))
                })
                .collect()
        } else {
            Default::default()
        };
        // v1 answers a group error in each partition asked for (it has no top-level code).
        let asked = groups.first().and_then(|(_, asked)| asked.clone());
        let args = OffsetFetchArgs {
            groups,
            require_stable: body.require_stable,
            members,
        };
        self.ask_later(request, ApiKey::OffsetFetch, args, move |fetched| {
            fetch_response(fetched, asked.as_deref(), version)
        })
        .await
    }
}

fn partitions_of<'a>(
    topic: &'a TopicName,
    indexes: &'a [i32],
) -> impl Iterator<Item = TopicPartition> + 'a {
    indexes.iter().map(move |&partition| TopicPartition {
        topic: topic.0.to_string(),
        partition,
    })
}

/// What a commit's partition must name to be known: an existing partition (OffsetCommit), or
/// only an existing topic (TxnOffsetCommit, as Kafka).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Known {
    Partition,
    Topic,
}

/// A commit's listed offsets merged by partition: a later listing replaces an earlier one, as
/// Kafka keys them.
fn merged<'a>(
    key: ApiKey,
    listed: impl Iterator<Item = (&'a str, i32, CommittedOffset)>,
) -> Result<Vec<(TopicPartition, CommittedOffset)>, String> {
    per_partition::merge(listed).map_err(|e| format!("{key:?}: {e}"))
}

/// A committed position as a request lists it.
fn committed(offset: i64, leader_epoch: i32, metadata: &Option<StrBytes>) -> CommittedOffset {
    CommittedOffset {
        offset: Offset(offset),
        leader_epoch: LeaderEpoch(leader_epoch),
        metadata: metadata.as_ref().map(|m| m.to_string()),
    }
}

/// UNKNOWN_TOPIC_OR_PARTITION for each of `unknown`.
fn refused_unknown(
    unknown: Vec<TopicPartition>,
) -> impl Iterator<Item = (TopicPartition, ErrorCode)> {
    (unknown.into_iter()).map(|tp| (tp, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION))
}

/// The commit's partitions the registry knows (with their offsets), and the ones it does not.
pub(super) fn split_known(
    offsets: Vec<(TopicPartition, CommittedOffset)>,
    topics: &BTreeMap<String, TopicMeta>,
    known_by: Known,
) -> (Vec<(TopicPartition, CommittedOffset)>, Vec<TopicPartition>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for (tp, offset) in offsets {
        let exists = topics.get(&tp.topic).is_some_and(|meta| {
            known_by == Known::Topic || (0..meta.partitions).contains(&tp.partition)
        });
        if exists {
            known.push((tp, offset));
        } else {
            unknown.push(tp);
        }
    }
    (known, unknown)
}

/// OffsetCommit's response: the same shape at v2–9, partitions grouped by topic in the order
/// first listed.
pub(super) fn commit_response(results: Vec<(TopicPartition, ErrorCode)>) -> OffsetCommitResponse {
    let partitions = results.into_iter().map(|(tp, code)| {
        let partition = OffsetCommitResponsePartition::default()
            .with_partition_index(tp.partition)
            .with_error_code(code.wire());
        (tp, partition)
    });
    let topics = per_partition::group_by_topic(partitions)
        .into_iter()
        .map(|(name, partitions)| {
            OffsetCommitResponseTopic::default()
                .with_name(TopicName(text(&name)))
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// TxnOffsetCommit's response: each partition's code, by topic.
fn txn_commit_response(results: Vec<(TopicPartition, ErrorCode)>) -> TxnOffsetCommitResponse {
    let partitions = results.into_iter().map(|(tp, code)| {
        let partition = TxnOffsetCommitResponsePartition::default()
            .with_partition_index(tp.partition)
            .with_error_code(code.wire());
        (tp, partition)
    });
    let topics = per_partition::group_by_topic(partitions)
        .into_iter()
        .map(|(name, partitions)| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(TopicName(text(&name)))
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// OffsetFetch's response at `version`. `asked` is the v1–7 request's partition list (`None`:
/// all), which v1 needs to report a group error.
pub(super) fn fetch_response(
    fetched: Vec<GroupOffsets>,
    asked: Option<&[TopicPartition]>,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = fetched
            .into_iter()
            .map(|group| {
                let partitions = group.partitions.into_iter().map(|(tp, committed, code)| {
                    let partition = OffsetFetchResponsePartitions::default()
                        .with_partition_index(tp.partition)
                        .with_committed_offset(committed.offset.into())
                        .with_committed_leader_epoch(committed.leader_epoch.0)
                        .with_metadata(opt_text(committed.metadata))
                        .with_error_code(code.wire());
                    (tp, partition)
                });
                let topics = per_partition::group_by_topic(partitions)
                    .into_iter()
                    .map(|(name, partitions)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(text(&name)))
                            .with_partitions(partitions)
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(GroupId(text(&group.group)))
                    .with_topics(topics)
                    .with_error_code(group.error_code.wire())
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let group = fetched.into_iter().next().unwrap_or_else(|| GroupOffsets {
        group: String::new(),
        error_code: ErrorCode::NONE,
        partitions: Vec::new(),
    });
    let mut partitions = group.partitions;
    if version < 2 && group.error_code != ErrorCode::NONE {
        // Kafka's `OffsetFetchRequest.getErrorResponse`: each partition asked carries the error.
        partitions = asked
            .unwrap_or_default()
            .iter()
            .map(|tp| (tp.clone(), no_offset(), group.error_code))
            .collect();
    }
    let partitions = partitions.into_iter().map(|(tp, committed, code)| {
        let mut partition = OffsetFetchResponsePartition::default()
            .with_partition_index(tp.partition)
            .with_committed_offset(committed.offset.into())
            .with_metadata(opt_text(committed.metadata))
            .with_error_code(code.wire());
        if version >= 5 {
            partition = partition.with_committed_leader_epoch(committed.leader_epoch.0);
        }
        (tp, partition)
    });
    let topics = per_partition::group_by_topic(partitions)
        .into_iter()
        .map(|(name, partitions)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(text(&name)))
                .with_partitions(partitions)
        })
        .collect();
    let response = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        response.with_error_code(group.error_code.wire())
    } else {
        response
    }
}

/// A partition with no committed offset, as Kafka answers it: offset -1, no epoch, metadata "".
fn no_offset() -> CommittedOffset {
    CommittedOffset {
        offset: Offset::UNKNOWN,
        leader_epoch: LeaderEpoch::UNKNOWN,
        metadata: Some(String::new()),
    }
}
