//! Typed calls: each request type names the actor it goes to and the type of its reply, so the
//! gateway asks `ask(&client, EnsureRequest { .. })` and gets a [`Done`] back, never a
//! [`NodeMsg`] to pick apart. A reply of any other kind is an [`AskError::WrongReply`].
//!
//! The wire stays [`NodeMsg`]: a request goes in as its variant and the reply is taken out of
//! its variant by a `TryFrom<NodeMsg>`, all written by the two macros below.

use std::collections::BTreeMap;
use std::future::Future;

use crate::actor::client::{ActorClient, AskError, WrongReply};
use crate::actor::ActorId;
use crate::types::{ErrorCode, TopicPartition};

use super::lifecycle::LifecycleReply;
use super::*;

/// A request one actor answers with one reply type.
pub trait Call: Into<NodeMsg> + Send + 'static {
    /// What the actor answers.
    type Reply: TryFrom<NodeMsg, Error = WrongReply> + Send + 'static;
    /// The actor that answers it.
    const TO: ActorId;
}

/// Puts `request` in its actor's mailbox now and returns the future of its typed reply (see
/// [`ActorClient::submit`] for why the two steps).
pub async fn submit<C: ActorClient<NodeMsg>, R: Call>(
    client: &C,
    request: R,
) -> Result<impl Future<Output = Result<R::Reply, AskError>> + Send + 'static, AskError> {
    let reply = client.submit(R::TO, request.into()).await?;
    Ok(async move { Ok(R::Reply::try_from(reply.await?)?) })
}

/// Asks `request` and waits for its typed reply.
pub async fn ask<C: ActorClient<NodeMsg>, R: Call>(
    client: &C,
    request: R,
) -> Result<R::Reply, AskError> {
    submit(client, request).await?.await
}

/// `Request, Reply => ACTOR, |r| message`: `Request` goes to `ACTOR` as `message` (built from
/// the request `r`) and is answered with a `Reply`.
macro_rules! calls {
    ($($request:ty, $reply:ty => $to:ident, |$r:pat_param| $into:expr;)*) => {$(
        impl From<$request> for NodeMsg {
            fn from($r: $request) -> Self {
                $into
            }
        }
        impl Call for $request {
            type Reply = $reply;
            const TO: ActorId = $to;
        }
    )*};
}

/// `Reply = Wire::Variant`: the reply is the variant's content; `Reply = Wire::Ok | Wire::Err`:
/// the reply is a `Result` of the two variants' contents.
macro_rules! replies {
    ($($reply:ty = $wire:ident::$ok:ident $(| $err:ident)?;)*) => {$(
        impl TryFrom<NodeMsg> for $reply {
            type Error = WrongReply;
            fn try_from(msg: NodeMsg) -> Result<Self, WrongReply> {
                replies!(@match msg, $reply, $wire::$ok $(| $err)?)
            }
        }
    )*};
    (@match $msg:ident, $reply:ty, $wire:ident::$ok:ident) => {
        match $msg {
            NodeMsg::$wire($wire::$ok(reply)) => Ok(reply),
            other => Err(WrongReply::new(stringify!($reply), &other)),
        }
    };
    (@match $msg:ident, $reply:ty, $wire:ident::$ok:ident | $err:ident) => {
        match $msg {
            NodeMsg::$wire($wire::$ok(reply)) => Ok(Ok(reply)),
            NodeMsg::$wire($wire::$err(reply)) => Ok(Err(reply)),
            other => Err(WrongReply::new(stringify!($reply), &other)),
        }
    };
}

calls! {
    EnsureRequest, Done => PARTITIONS, |r| NodeMsg::Partitions(PartitionsRequest::Ensure(r));
    SetConfigRequest, Done => PARTITIONS, |r| NodeMsg::Partitions(PartitionsRequest::SetConfig(r));
    DeletePartitionRequest, Done => PARTITIONS, |r| NodeMsg::Partitions(PartitionsRequest::Delete(r));
    RemoveStrayRequest, Done => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::RemoveStray(r));
    ShutdownRequest, Done => PARTITIONS, |_| NodeMsg::Partitions(PartitionsRequest::Shutdown);
    ProduceRequest, Vec<(TopicPartition, ProducePartitionResult)> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::Produce(r));
    FetchRequest, Vec<FetchPartitionResult> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::Fetch(r));
    ListOffsetsRequest, Vec<(TopicPartition, ListOffsetsResult)> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::ListOffsets(r));
    DeleteRecordsRequest, Vec<(TopicPartition, DeleteRecordsResult)> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::DeleteRecords(r));
    InitProducerIdRequest, InitProducerIdResult => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::InitProducerId(r));
    OfflineRequest, Vec<TopicPartition> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::Offline(r));
    EpochEndsRequest, Vec<EpochEnd> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::EpochEnds(r));
    ReplicaFetchRequest, ReplicaFetchResult => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::ReplicaFetch(r));
    LogDirsRequest, Vec<LogDirPartition> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::LogDirs(r));
    DescribeProducersRequest, Vec<PartitionProducers> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::DescribeProducers(r));
    WriteMarkersRequest, Vec<(TopicPartition, ProducePartitionResult)> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::WriteMarkers(r));
    ListTopicsRequest, BTreeMap<String, TopicMeta> => TOPICS, |_| NodeMsg::Topics(TopicsRequest::List);
    BrokerConfigsRequest, DynamicBrokerConfigs => TOPICS,
        |_| NodeMsg::Topics(TopicsRequest::BrokerConfigs);
    scram::ScramCredentialRequest, Option<scram::ScramCredential> => TOPICS,
        |r| NodeMsg::Topics(TopicsRequest::ScramCredential(r));
    scram::DescribeScramRequest, scram::ScramDescriptions => TOPICS,
        |r| NodeMsg::Topics(TopicsRequest::DescribeScram(r));
    acls::AclsRequest, acls::SharedAcls => TOPICS, |_| NodeMsg::Topics(TopicsRequest::Acls);
    CreateTopicsRequest, Vec<TopicChange> => TOPICS,
        |r| NodeMsg::Topics(TopicsRequest::CreateTopics(r));
    DeleteTopicsRequest, Deletions => TOPICS, |r| NodeMsg::Topics(TopicsRequest::DeleteTopics(r));
    CreatePartitionsRequest, Vec<Result<(), Refusal>> => TOPICS,
        |r| NodeMsg::Topics(TopicsRequest::CreatePartitions(r));
    AlterConfigsRequest, ConfigAlterations => TOPICS,
        |r| NodeMsg::Topics(TopicsRequest::AlterConfigs(r));
    AutoCreateRequest, Option<TopicMeta> => TOPICS, |r| NodeMsg::Topics(TopicsRequest::AutoCreate(r));
    OpenAllRequest, OpenAllReport => TOPICS, |_| NodeMsg::Topics(TopicsRequest::OpenAll);
    AppendRequest, Vec<(TopicPartition, ProducePartitionResult)> => PARTITIONS,
        |r| NodeMsg::Partitions(PartitionsRequest::Append(r));
    LeadRequest, Leadership => PARTITIONS, |r| NodeMsg::Partitions(PartitionsRequest::Lead(r));
    EnsureInternalRequest, Vec<TopicChange> => TOPICS,
        |r| NodeMsg::Topics(TopicsRequest::EnsureInternal(r));
    JoinGroupArgs, JoinGroupResult => GROUPS, |r| NodeMsg::Groups(GroupsRequest::Join(r));
    SyncGroupArgs, SyncGroupResult => GROUPS, |r| NodeMsg::Groups(GroupsRequest::Sync(r));
    HeartbeatArgs, ErrorCode => GROUPS, |r| NodeMsg::Groups(GroupsRequest::Heartbeat(r));
    LeaveGroupArgs, LeaveGroupResult => GROUPS, |r| NodeMsg::Groups(GroupsRequest::Leave(r));
    OffsetCommitArgs, Vec<(TopicPartition, ErrorCode)> => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::OffsetCommit(r));
    OffsetFetchArgs, Vec<GroupOffsets> => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::OffsetFetch(r));
    DescribeGroupsArgs, Vec<GroupDescription> => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::Describe(r));
    ListGroupsArgs, ListGroupsResult => GROUPS, |r| NodeMsg::Groups(GroupsRequest::List(r));
    DeleteGroupsArgs, Vec<(String, ErrorCode)> => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::Delete(r));
    OffsetDeleteArgs, OffsetDeleteResult => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::OffsetDelete(r));
    ConsumerHeartbeatCall, ConsumerHeartbeatResult => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::ConsumerHeartbeat(r));
    ConsumerDescribeArgs, Vec<ConsumerGroupDescription> => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::ConsumerDescribe(r));
    TxnOffsetCommitArgs, Vec<(TopicPartition, ErrorCode)> => GROUPS,
        |r| NodeMsg::Groups(GroupsRequest::TxnOffsetCommit(r));
    quorum::DescribeRequest, quorum::QuorumReply => QUORUM,
        |_| NodeMsg::Quorum(quorum::QuorumRequest::Describe);
    quorum::DescribeLeaderRequest, quorum::QuorumReply => QUORUM,
        |_| NodeMsg::Quorum(quorum::QuorumRequest::DescribeLeader);
    quorum::ElectLeadersArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::ElectLeaders {
            election_type: r.election_type,
            partitions: r.partitions,
        }
        .to_own_voter();
    quorum::AlterReassignmentsArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::AlterReassignments {
            reassignments: r.reassignments,
            allow_replication_factor_change: r.allow_replication_factor_change,
        }
        .to_own_voter();
    quorum::AlterBrokerConfigsArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::AlterBrokerConfigs {
            resources: r.resources,
            validate_only: r.validate_only,
        }
        .to_own_voter();
    acls::CreateAclsArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::CreateAcls { bindings: r.bindings }.to_own_voter();
    acls::DeleteAclsArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::DeleteAcls { filters: r.filters }.to_own_voter();
    quotas::AlterClientQuotasArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::AlterClientQuotas {
            entries: r.entries,
            validate_only: r.validate_only,
        }
        .to_own_voter();
    scram::AlterScramCredentialsArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::AlterScramCredentials {
            deletions: r.deletions,
            upsertions: r.upsertions,
        }
        .to_own_voter();
    quorum::ListReassignmentsArgs, quorum::QuorumReply => QUORUM,
        |r| quorum::LeaderRequest::ListReassignments {
            partitions: r.partitions,
        }
        .to_own_voter();
    lifecycle::StartLifecycleRequest, lifecycle::BrokerStatus => LIFECYCLE,
        |r| NodeMsg::Lifecycle(lifecycle::LifecycleRequest::Start(r));
    lifecycle::LifecycleStatusRequest, lifecycle::BrokerStatus => LIFECYCLE,
        |_| NodeMsg::Lifecycle(lifecycle::LifecycleRequest::Status);
    lifecycle::ControlledShutdownRequest, lifecycle::BrokerStatus => LIFECYCLE,
        |_| NodeMsg::Lifecycle(lifecycle::LifecycleRequest::Shutdown);
    txn::TxnRequest, txn::TxnReply => TXN, |r| NodeMsg::Txn(r);
}

/// The quorum actor answers every request with one of its replies.
impl TryFrom<NodeMsg> for quorum::QuorumReply {
    type Error = WrongReply;
    fn try_from(msg: NodeMsg) -> Result<Self, WrongReply> {
        match msg {
            NodeMsg::QuorumReply(reply) => Ok(reply),
            other => Err(WrongReply::new("QuorumReply", &other)),
        }
    }
}

/// The transaction coordinator answers every request with its one reply type.
impl TryFrom<NodeMsg> for txn::TxnReply {
    type Error = WrongReply;
    fn try_from(msg: NodeMsg) -> Result<Self, WrongReply> {
        match msg {
            NodeMsg::TxnReply(reply) => Ok(reply),
            other => Err(WrongReply::new("TxnReply", &other)),
        }
    }
}

/// A leadership event goes to the coordinator as a one-way message (`Ctx::send`).
impl From<GroupsEvent> for NodeMsg {
    fn from(event: GroupsEvent) -> Self {
        NodeMsg::GroupsEvent(event)
    }
}

replies! {
    Done = PartitionsReply::Done;
    Vec<(TopicPartition, ProducePartitionResult)> = PartitionsReply::Produce;
    Vec<FetchPartitionResult> = PartitionsReply::Fetch;
    Vec<(TopicPartition, ListOffsetsResult)> = PartitionsReply::ListOffsets;
    Vec<(TopicPartition, DeleteRecordsResult)> = PartitionsReply::DeleteRecords;
    InitProducerIdResult = PartitionsReply::InitProducerId;
    Vec<TopicPartition> = PartitionsReply::Offline;
    Vec<EpochEnd> = PartitionsReply::EpochEnds;
    ReplicaFetchResult = PartitionsReply::ReplicaFetch;
    Vec<LogDirPartition> = PartitionsReply::LogDirs;
    Vec<PartitionProducers> = PartitionsReply::DescribeProducers;
    BTreeMap<String, TopicMeta> = TopicsReply::List;
    Vec<TopicChange> = TopicsReply::Created;
    Deletions = TopicsReply::Deleted | Failed;
    Vec<Result<(), Refusal>> = TopicsReply::PartitionsCreated;
    ConfigAlterations = TopicsReply::ConfigsAltered | Failed;
    Option<TopicMeta> = TopicsReply::AutoCreated;
    OpenAllReport = TopicsReply::Opened;
    DynamicBrokerConfigs = TopicsReply::BrokerConfigs;
    Option<scram::ScramCredential> = TopicsReply::ScramCredential;
    scram::ScramDescriptions = TopicsReply::ScramDescribed;
    acls::SharedAcls = TopicsReply::Acls;
    lifecycle::BrokerStatus = LifecycleReply::Status;
    Leadership = PartitionsReply::Lead;
    JoinGroupResult = GroupsReply::Joined;
    SyncGroupResult = GroupsReply::Synced;
    ErrorCode = GroupsReply::Heartbeat;
    LeaveGroupResult = GroupsReply::Left;
    Vec<(TopicPartition, ErrorCode)> = GroupsReply::Committed;
    Vec<GroupOffsets> = GroupsReply::Fetched;
    Vec<GroupDescription> = GroupsReply::Described;
    ListGroupsResult = GroupsReply::Listed;
    Vec<(String, ErrorCode)> = GroupsReply::Deleted;
    OffsetDeleteResult = GroupsReply::OffsetsDeleted;
    ConsumerHeartbeatResult = GroupsReply::ConsumerHeartbeat;
    Vec<ConsumerGroupDescription> = GroupsReply::ConsumerDescribed;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_taken_from_its_own_variant_only() {
        let offline = || NodeMsg::PartitionsReply(PartitionsReply::Offline(Vec::new()));
        assert_eq!(Vec::<TopicPartition>::try_from(offline()), Ok(Vec::new()));
        let wrong = Done::try_from(offline()).unwrap_err();
        assert_eq!(wrong.expected, "Done");
        assert!(wrong.got.contains("Offline"), "{}", wrong.got);
        // A topics reply is not a partitions reply, even with a matching shape.
        let list = NodeMsg::TopicsReply(TopicsReply::List(BTreeMap::new()));
        assert!(Vec::<TopicPartition>::try_from(list).is_err());
    }

    #[test]
    fn a_request_failure_is_the_err_side_of_its_reply() {
        let failed = || NodeMsg::TopicsReply(TopicsReply::Failed("lost".into()));
        assert_eq!(Deletions::try_from(failed()), Ok(Err("lost".to_string())));
        assert_eq!(
            ConfigAlterations::try_from(failed()),
            Ok(Err("lost".to_string()))
        );
        let deleted = NodeMsg::TopicsReply(TopicsReply::Deleted(Vec::new()));
        assert_eq!(Deletions::try_from(deleted), Ok(Ok(Vec::new())));
        // Same shape, other request: grown partitions are not altered configs.
        let grown = NodeMsg::TopicsReply(TopicsReply::PartitionsCreated(Vec::new()));
        assert!(ConfigAlterations::try_from(grown).is_err());
        let refused = NodeMsg::TopicsReply(TopicsReply::Refused(Refusal::new(
            ErrorCode::INVALID_CONFIG,
            "x",
        )));
        assert!(Option::<TopicMeta>::try_from(refused).is_err());
    }

    #[test]
    fn a_request_goes_in_as_its_variant() {
        let msg: NodeMsg = ShutdownRequest.into();
        assert!(matches!(
            msg,
            NodeMsg::Partitions(PartitionsRequest::Shutdown)
        ));
        let msg: NodeMsg = AutoCreateRequest { name: "t".into() }.into();
        assert!(matches!(
            msg,
            NodeMsg::Topics(TopicsRequest::AutoCreate(AutoCreateRequest { ref name })) if name == "t"
        ));
        assert_eq!(<ListTopicsRequest as Call>::TO, TOPICS);
        assert_eq!(<ProduceRequest as Call>::TO, PARTITIONS);
    }
}
