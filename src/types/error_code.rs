//! Kafka's error codes, as one type: every code the node answers with is a named constant
//! here, taken from `kafka_protocol`'s table (so a number can't drift from Kafka's), and a
//! [`Refusal`] is such a code with the words a client gets.
//!
//! An `ErrorCode` is carried through the node's own messages as itself (its serde form is the
//! bare `i16`, so the node's wire bytes are Kafka's number) and turned into the number only
//! where a kafka-protocol struct is built ([`ErrorCode::wire`]). Codes read back from another
//! broker's answer (the client tools) come in through [`ErrorCode::from_wire`].

use kafka_protocol::error::ResponseError;
use serde::{Deserialize, Serialize};

/// A Kafka error code (`NONE` is success). Compare and `match` against the named constants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(i16);

/// Defines the named constants and the table of them ([`ErrorCode::NAMED`]) in one list, so
/// a constant can't be missing from the table the Debug names and the tests read.
macro_rules! named_codes {
    ($($name:ident = $variant:ident,)*) => {
        impl ErrorCode {
            $(
                #[doc = concat!("Kafka's `", stringify!($name), "`.")]
                pub const $name: Self = Self::of(ResponseError::$variant);
            )*

            /// Every named code, with its Kafka name (NONE first).
            const NAMED: &'static [(&'static str, ErrorCode)] =
                &[("NONE", Self::NONE), $((stringify!($name), Self::$name),)*];
        }
    };
}

impl ErrorCode {
    /// Success: Kafka's 0, which `ResponseError` has no variant for.
    pub const NONE: Self = Self(0);
}

named_codes! {
    UNKNOWN_SERVER_ERROR = UnknownServerError,
    OFFSET_OUT_OF_RANGE = OffsetOutOfRange,
    CORRUPT_MESSAGE = CorruptMessage,
    UNKNOWN_TOPIC_OR_PARTITION = UnknownTopicOrPartition,
    LEADER_NOT_AVAILABLE = LeaderNotAvailable,
    NOT_LEADER_OR_FOLLOWER = NotLeaderOrFollower,
    REQUEST_TIMED_OUT = RequestTimedOut,
    MESSAGE_TOO_LARGE = MessageTooLarge,
    COORDINATOR_LOAD_IN_PROGRESS = CoordinatorLoadInProgress,
    COORDINATOR_NOT_AVAILABLE = CoordinatorNotAvailable,
    INVALID_TOPIC_EXCEPTION = InvalidTopicException,
    RECORD_LIST_TOO_LARGE = RecordListTooLarge,
    NOT_ENOUGH_REPLICAS = NotEnoughReplicas,
    INVALID_REQUIRED_ACKS = InvalidRequiredAcks,
    INVALID_TIMESTAMP = InvalidTimestamp,
    UNSUPPORTED_VERSION = UnsupportedVersion,
    TOPIC_ALREADY_EXISTS = TopicAlreadyExists,
    INVALID_PARTITIONS = InvalidPartitions,
    INVALID_REPLICATION_FACTOR = InvalidReplicationFactor,
    INVALID_REPLICA_ASSIGNMENT = InvalidReplicaAssignment,
    INVALID_CONFIG = InvalidConfig,
    INVALID_REQUEST = InvalidRequest,
    UNSUPPORTED_FOR_MESSAGE_FORMAT = UnsupportedForMessageFormat,
    POLICY_VIOLATION = PolicyViolation,
    OUT_OF_ORDER_SEQUENCE_NUMBER = OutOfOrderSequenceNumber,
    INVALID_PRODUCER_EPOCH = InvalidProducerEpoch,
    KAFKA_STORAGE_ERROR = KafkaStorageError,
    INVALID_RECORD = InvalidRecord,
    UNKNOWN_TOPIC_ID = UnknownTopicId,
    // Consumer groups.
    NOT_COORDINATOR = NotCoordinator,
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = NotEnoughReplicasAfterAppend,
    ILLEGAL_GENERATION = IllegalGeneration,
    INCONSISTENT_GROUP_PROTOCOL = InconsistentGroupProtocol,
    INVALID_GROUP_ID = InvalidGroupId,
    UNKNOWN_MEMBER_ID = UnknownMemberId,
    INVALID_SESSION_TIMEOUT = InvalidSessionTimeout,
    REBALANCE_IN_PROGRESS = RebalanceInProgress,
    INVALID_COMMIT_OFFSET_SIZE = InvalidCommitOffsetSize,
    OFFSET_METADATA_TOO_LARGE = OffsetMetadataTooLarge,
    GROUP_ID_NOT_FOUND = GroupIdNotFound,
    NON_EMPTY_GROUP = NonEmptyGroup,
    GROUP_SUBSCRIBED_TO_TOPIC = GroupSubscribedToTopic,
    MEMBER_ID_REQUIRED = MemberIdRequired,
    FENCED_INSTANCE_ID = FencedInstanceId,
    GROUP_MAX_SIZE_REACHED = GroupMaxSizeReached,
    UNSTABLE_OFFSET_COMMIT = UnstableOffsetCommit,
    FENCED_LEADER_EPOCH = FencedLeaderEpoch,
    UNKNOWN_LEADER_EPOCH = UnknownLeaderEpoch,
    OFFSET_NOT_AVAILABLE = OffsetNotAvailable,
    UNRELEASED_INSTANCE_ID = UnreleasedInstanceId,
    STALE_MEMBER_EPOCH = StaleMemberEpoch,
    FENCED_MEMBER_EPOCH = FencedMemberEpoch,
    UNSUPPORTED_ASSIGNOR = UnsupportedAssignor,
    INVALID_REGULAR_EXPRESSION = InvalidRegularExpression,
    // The cluster.
    UNSUPPORTED_ENDPOINT_TYPE = UnsupportedEndpointType,
    // Replication (AlterPartition).
    STALE_BROKER_EPOCH = StaleBrokerEpoch,
    INVALID_UPDATE_VERSION = InvalidUpdateVersion,
    INELIGIBLE_REPLICA = IneligibleReplica,
    // Leader elections (ElectLeaders).
    PREFERRED_LEADER_NOT_AVAILABLE = PreferredLeaderNotAvailable,
    ELIGIBLE_LEADERS_NOT_AVAILABLE = EligibleLeadersNotAvailable,
    ELECTION_NOT_NEEDED = ElectionNotNeeded,
    NOT_CONTROLLER = NotController,
    // Reassignments (AlterPartitionReassignments).
    NO_REASSIGNMENT_IN_PROGRESS = NoReassignmentInProgress,
    // Transactions.
    INVALID_TXN_STATE = InvalidTxnState,
    TRANSACTION_COORDINATOR_FENCED = TransactionCoordinatorFenced,
    INVALID_PRODUCER_ID_MAPPING = InvalidProducerIdMapping,
    INVALID_TRANSACTION_TIMEOUT = InvalidTransactionTimeout,
    CONCURRENT_TRANSACTIONS = ConcurrentTransactions,
    PRODUCER_FENCED = ProducerFenced,
    OPERATION_NOT_ATTEMPTED = OperationNotAttempted,
    TOPIC_AUTHORIZATION_FAILED = TopicAuthorizationFailed,
    // DescribeTransactions of an id the coordinator does not know (KIP-664).
    TRANSACTIONAL_ID_NOT_FOUND = TransactionalIdNotFound,
    // Client quotas: a topic refused by the controller mutation quota (KIP-599).
    THROTTLING_QUOTA_EXCEEDED = ThrottlingQuotaExceeded,
    // Authentication (SaslHandshake, SaslAuthenticate).
    UNSUPPORTED_SASL_MECHANISM = UnsupportedSaslMechanism,
    ILLEGAL_SASL_STATE = IllegalSaslState,
    SASL_AUTHENTICATION_FAILED = SaslAuthenticationFailed,
    // SCRAM credentials (Alter/DescribeUserScramCredentials, KIP-554).
    RESOURCE_NOT_FOUND = ResourceNotFound,
    DUPLICATE_RESOURCE = DuplicateResource,
    UNACCEPTABLE_CREDENTIAL = UnacceptableCredential,
    // ACLs (CreateAcls, DescribeAcls, DeleteAcls) and the checks of the cluster's admin APIs.
    CLUSTER_AUTHORIZATION_FAILED = ClusterAuthorizationFailed,
    SECURITY_DISABLED = SecurityDisabled,
    // Per-request authorization (KafkaApis' checks).
    GROUP_AUTHORIZATION_FAILED = GroupAuthorizationFailed,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = TransactionalIdAuthorizationFailed,
}

impl ErrorCode {
    const fn of(error: ResponseError) -> Self {
        Self(error.code())
    }

    /// The number a kafka-protocol struct carries. Call it only where one is built.
    pub const fn wire(self) -> i16 {
        self.0
    }

    /// A code read back from the wire (an answer the client tools got). The node's own code
    /// names the constant it means instead.
    pub const fn from_wire(code: i16) -> Self {
        Self(code)
    }

    /// The crate's view of the code (`None` for NONE), for what the crate knows beyond the
    /// named constants: the names and retriability of codes other brokers answer with.
    pub const fn response_error(self) -> Option<ResponseError> {
        ResponseError::try_from_code(self.0)
    }

    /// Kafka's name for the code, if it is one the node answers with.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(_, code)| *code == self)
            .map(|(name, _)| *name)
    }
}

/// `UNKNOWN_TOPIC_OR_PARTITION(3)`: the name a log reader searches Kafka's docs for, and the
/// number a packet capture shows.
impl std::fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({})", self.0),
            None => write!(f, "ErrorCode({})", self.0),
        }
    }
}

/// The bare number, as the messages that quoted an `i16` code always said it.
impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A refusal: the Kafka error code a client gets, and the words for its `error_message`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UnknownTopicOrPartition` → `UNKNOWN_TOPIC_OR_PARTITION`: Kafka's name of a variant.
    fn kafka_name(variant: &str) -> String {
        let mut name = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_uppercase());
        }
        name
    }

    /// Each constant is the crate's code of the variant its name says (a constant named for
    /// one error and built from another would fail here), and NONE is 0.
    #[test]
    fn every_constant_is_the_crate_code_its_name_says() {
        assert_eq!(ErrorCode::NONE.wire(), 0);
        assert_eq!(ResponseError::try_from_code(0), None);
        for &(name, code) in &ErrorCode::NAMED[1..] {
            let error =
                ResponseError::try_from_code(code.wire()).unwrap_or_else(|| panic!("{name} is 0"));
            assert!(!matches!(error, ResponseError::Unknown(_)), "{name}");
            assert_eq!(kafka_name(&format!("{error:?}")), name);
        }
        // A few numbers clients and tests know by heart, pinned independently of the crate.
        assert_eq!(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.wire(), 3);
        assert_eq!(ErrorCode::INVALID_TOPIC_EXCEPTION.wire(), 17);
        assert_eq!(ErrorCode::UNSUPPORTED_VERSION.wire(), 35);
        assert_eq!(ErrorCode::OPERATION_NOT_ATTEMPTED.wire(), 55);
        assert_eq!(ErrorCode::TOPIC_AUTHORIZATION_FAILED.wire(), 29);
        assert_eq!(ErrorCode::KAFKA_STORAGE_ERROR.wire(), 56);
        assert_eq!(ErrorCode::UNKNOWN_TOPIC_ID.wire(), 100);
        assert_eq!(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.wire(), 105);
        assert_eq!(ErrorCode::UNSUPPORTED_SASL_MECHANISM.wire(), 33);
        assert_eq!(ErrorCode::RESOURCE_NOT_FOUND.wire(), 91);
        assert_eq!(ErrorCode::DUPLICATE_RESOURCE.wire(), 92);
        assert_eq!(ErrorCode::UNACCEPTABLE_CREDENTIAL.wire(), 93);
        assert_eq!(ErrorCode::UNKNOWN_SERVER_ERROR.wire(), -1);
    }

    #[test]
    fn names_and_codes_are_unique() {
        let named = ErrorCode::NAMED;
        for (i, (name, code)) in named.iter().enumerate() {
            for (other_name, other_code) in &named[i + 1..] {
                assert_ne!(name, other_name);
                assert_ne!(code, other_code, "{name} and {other_name}");
            }
        }
    }

    #[test]
    fn debug_names_the_code_and_display_is_the_number() {
        let code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
        assert_eq!(format!("{code:?}"), "UNKNOWN_TOPIC_OR_PARTITION(3)");
        assert_eq!(format!("{:?}", ErrorCode::NONE), "NONE(0)");
        assert_eq!(format!("{:?}", ErrorCode::from_wire(8)), "ErrorCode(8)");
        assert_eq!(code.to_string(), "3");
    }

    #[test]
    fn constants_work_as_patterns() {
        let answer = |code| match code {
            ErrorCode::NONE => "ok",
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => "unknown",
            _ => "other",
        };
        assert_eq!(answer(ErrorCode::from_wire(3)), "unknown");
        assert_eq!(answer(ErrorCode::from_wire(0)), "ok");
        assert_eq!(answer(ErrorCode::from_wire(56)), "other");
    }

    /// The serde form is the bare i16: postcard writes the same bytes as for the number.
    #[test]
    fn serializes_as_the_bare_number() {
        let code = ErrorCode::KAFKA_STORAGE_ERROR;
        let bytes = postcard::to_allocvec(&code).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&56i16).unwrap());
        assert_eq!(postcard::from_bytes::<ErrorCode>(&bytes).unwrap(), code);
    }
}
