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
use crate::broker::authorize::Access;
use crate::broker::per_partition;
use crate::broker::service::{KafkaRequest, Pending};
use crate::broker::txn::answered_code;
use crate::broker::BrokerService;
use crate::group::refusal::fetch_refused;
use crate::messages::{
    CommittedOffset, GroupOffsets, NodeMsg, OffsetCommitArgs, OffsetFetchArgs, TopicMeta,
    TxnOffsetCommitArgs,
};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::{ErrorCode, LeaderEpoch, Offset, ProducerId, TopicPartition};

/// A commit's offsets to store, and the partitions refused with their codes.
type Split = (
    Vec<(TopicPartition, CommittedOffset)>,
    Vec<(TopicPartition, ErrorCode)>,
);

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
        // Kafka's checks: READ on the group (else every partition is refused), then READ on
        // each topic.
        let access = self.access(request, "OffsetCommit");
        let group_refused = !access.allows(AclOperation::Read, ResourceType::Group, &body.group_id);
        let (known, unknown) = match self
            .split_commit(
                merged(key, listed),
                Known::Partition,
                &access,
                group_refused,
            )
            .await
        {
            Ok(split) => split,
            Err(closed) => return closed,
        };
        if known.is_empty() {
            return codec::respond(request, key, &commit_response(unknown));
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
            commit_response(committed.into_iter().chain(unknown).collect())
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
        // Kafka's checks: WRITE on the transactional id, READ on the group (each refusing every
        // partition), then READ on each topic.
        let access = self.access(request, "TxnOffsetCommit");
        let id = &body.transactional_id;
        let group_refused =
            if !access.allows(AclOperation::Write, ResourceType::TransactionalId, id) {
                Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            } else if !access.allows(AclOperation::Read, ResourceType::Group, &body.group_id) {
                Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
            } else {
                None
            };
        let (known, unknown) = match self
            .split_commit_as(merged(key, listed), Known::Topic, &access, group_refused)
            .await
        {
            Ok(split) => split,
            Err(closed) => return closed,
        };
        if known.is_empty() {
            let results = (unknown.into_iter())
                .map(|(tp, code)| (tp, answered_code(key, version, code)))
                .collect();
            return codec::respond(request, key, &txn_commit_response(results));
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
            let results = (committed.into_iter().chain(unknown))
                .map(|(tp, code)| (tp, answered_code(key, version, code)))
                .collect();
            txn_commit_response(results)
        })
        .await
    }

    /// An OffsetCommit's merged offsets split into those it may commit and the others with
    /// their refusals (GROUP_AUTHORIZATION_FAILED for all when `group_refused`).
    async fn split_commit(
        &self,
        merged: Result<Vec<(TopicPartition, CommittedOffset)>, String>,
        known_by: Known,
        access: &Access,
        group_refused: bool,
    ) -> Result<Split, Pending> {
        let group_refused = group_refused.then_some(ErrorCode::GROUP_AUTHORIZATION_FAILED);
        self.split_commit_as(merged, known_by, access, group_refused)
            .await
    }

    /// A commit's merged offsets split into those it may commit and the others, each with its
    /// refusal, in Kafka's order: `refused` (the transactional id's or the group's) for all,
    /// else TOPIC_AUTHORIZATION_FAILED for a topic the principal may not READ, else
    /// UNKNOWN_TOPIC_OR_PARTITION for one the registry does not know. A request that could
    /// not be merged, or no registry, closes the connection.
    async fn split_commit_as(
        &self,
        merged: Result<Vec<(TopicPartition, CommittedOffset)>, String>,
        known_by: Known,
        access: &Access,
        refused: Option<ErrorCode>,
    ) -> Result<Split, Pending> {
        let offsets = merged.map_err(Pending::Close)?;
        if let Some(code) = refused {
            return Ok((
                Vec::new(),
                (offsets.into_iter()).map(|(tp, _)| (tp, code)).collect(),
            ));
        }
        let (offsets, unauthorized): (Vec<_>, Vec<_>) = (offsets.into_iter())
            .partition(|(tp, _)| access.allows(AclOperation::Read, ResourceType::Topic, &tp.topic));
        let topics = (self.list_topics().await).map_err(|e| Pending::Close(e.to_string()))?;
        let (known, unknown) = split_known(offsets, &topics, known_by);
        let refused = (unauthorized.into_iter())
            .map(|(tp, _)| (tp, ErrorCode::TOPIC_AUTHORIZATION_FAILED))
            .chain(refused_unknown(unknown))
            .collect();
        Ok((known, refused))
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
        let access = self.access(request, "OffsetFetch");
        let checked = check_offset_fetch(&access, groups);
        let args = OffsetFetchArgs {
            groups: checked.groups,
            require_stable: body.require_stable,
            members,
        };
        let refused = checked.refused;
        if args.groups.is_empty() {
            let response = fetch_response(
                refused.answers(Vec::new(), &access),
                asked.as_deref(),
                version,
            );
            return codec::respond(request, ApiKey::OffsetFetch, &response);
        }
        self.ask_later(request, ApiKey::OffsetFetch, args, move |fetched| {
            fetch_response(refused.answers(fetched, &access), asked.as_deref(), version)
        })
        .await
    }
}

/// An OffsetFetch's groups as the coordinator is asked them, and what Kafka's checks refused.
struct CheckedOffsetFetch {
    groups: Vec<(String, Option<Vec<TopicPartition>>)>,
    refused: OffsetFetchRefusals,
}

/// What an OffsetFetch's checks refused: groups the principal may not DESCRIBE
/// (GROUP_AUTHORIZATION_FAILED, not asked), and per group the partitions asked for of topics
/// it may not DESCRIBE (TOPIC_AUTHORIZATION_FAILED); a group asked for all its offsets lists
/// only the topics it may describe (Kafka filters them out unseen).
struct OffsetFetchRefusals {
    groups: Vec<String>,
    partitions: BTreeMap<String, Vec<TopicPartition>>,
    all_asked: std::collections::BTreeSet<String>,
}

fn check_offset_fetch(
    access: &Access,
    groups: Vec<(String, Option<Vec<TopicPartition>>)>,
) -> CheckedOffsetFetch {
    let mut refused = OffsetFetchRefusals {
        groups: Vec::new(),
        partitions: BTreeMap::new(),
        all_asked: Default::default(),
    };
    let mut allowed = Vec::new();
    for (group, asked) in groups {
        if !access.allows(AclOperation::Describe, ResourceType::Group, &group) {
            refused.groups.push(group);
            continue;
        }
        let asked = match asked {
            None => {
                refused.all_asked.insert(group.clone());
                None
            }
            Some(asked) => {
                let (ok, no): (Vec<_>, Vec<_>) = (asked.into_iter()).partition(|tp| {
                    access.allows(AclOperation::Describe, ResourceType::Topic, &tp.topic)
                });
                if !no.is_empty() {
                    refused.partitions.insert(group.clone(), no);
                }
                Some(ok)
            }
        };
        allowed.push((group, asked));
    }
    CheckedOffsetFetch {
        groups: allowed,
        refused,
    }
}

impl OffsetFetchRefusals {
    /// The coordinator's answers with the refusals put in.
    fn answers(self, fetched: Vec<GroupOffsets>, access: &Access) -> Vec<GroupOffsets> {
        let mut answers = Vec::with_capacity(fetched.len() + self.groups.len());
        let mut partitions = self.partitions;
        for mut group in fetched {
            if self.all_asked.contains(&group.group) {
                (group.partitions).retain(|(tp, _, _)| {
                    access.sees(AclOperation::Describe, ResourceType::Topic, &tp.topic)
                });
            }
            // A group answered with an error lists no partition (Kafka's response builder).
            let refused = partitions.remove(&group.group);
            if let Some(refused) = refused.filter(|_| group.error_code == ErrorCode::NONE) {
                let refused = (refused.into_iter())
                    .map(|tp| (tp, no_offset(), ErrorCode::TOPIC_AUTHORIZATION_FAILED));
                group.partitions.extend(refused);
            }
            answers.push(group);
        }
        let refused = |group: String| fetch_refused(&group, ErrorCode::GROUP_AUTHORIZATION_FAILED);
        answers.extend(self.groups.into_iter().map(refused));
        answers
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
