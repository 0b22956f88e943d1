//! Kafka error codes the partitions actor answers with, in one place, and the mapping from
//! log-engine errors (internal, named by outcome) to them (wire codes for clients).

use kafka_protocol::error::ResponseError;

use crate::storage::batch::BatchError;
use crate::storage::log::LogError;
use crate::storage::records::RecordsErrorKind;

pub const NONE: i16 = 0;
pub const UNKNOWN_SERVER_ERROR: i16 = ResponseError::UnknownServerError.code();
pub const OFFSET_OUT_OF_RANGE: i16 = ResponseError::OffsetOutOfRange.code();
pub const CORRUPT_MESSAGE: i16 = ResponseError::CorruptMessage.code();
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = ResponseError::UnknownTopicOrPartition.code();
pub const MESSAGE_TOO_LARGE: i16 = ResponseError::MessageTooLarge.code();
pub const COORDINATOR_NOT_AVAILABLE: i16 = ResponseError::CoordinatorNotAvailable.code();
pub const INVALID_TOPIC_EXCEPTION: i16 = ResponseError::InvalidTopicException.code();
pub const RECORD_LIST_TOO_LARGE: i16 = ResponseError::RecordListTooLarge.code();
pub const INVALID_CONFIG: i16 = ResponseError::InvalidConfig.code();
pub const INVALID_REQUEST: i16 = ResponseError::InvalidRequest.code();
pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = ResponseError::UnsupportedForMessageFormat.code();
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = ResponseError::OutOfOrderSequenceNumber.code();
pub const INVALID_PRODUCER_EPOCH: i16 = ResponseError::InvalidProducerEpoch.code();
pub const KAFKA_STORAGE_ERROR: i16 = ResponseError::KafkaStorageError.code();
pub const INVALID_RECORD: i16 = ResponseError::InvalidRecord.code();
pub const NOT_ENOUGH_REPLICAS: i16 = ResponseError::NotEnoughReplicas.code();
pub const INVALID_TIMESTAMP: i16 = ResponseError::InvalidTimestamp.code();

const _: () = assert!(UNKNOWN_TOPIC_OR_PARTITION == 3 && OUT_OF_ORDER_SEQUENCE_NUMBER == 45);
const _: () = assert!(INVALID_PRODUCER_EPOCH == 47 && KAFKA_STORAGE_ERROR == 56);
const _: () = assert!(INVALID_TIMESTAMP == 32 && INVALID_RECORD == 87 && CORRUPT_MESSAGE == 2);

/// The Kafka error code a client gets for a log error.
pub fn log_error_code(error: &LogError) -> i16 {
    match error {
        LogError::InvalidBatch { source, .. } => batch_error_code(source),
        LogError::AppendTooLarge { .. } => RECORD_LIST_TOO_LARGE,
        LogError::OffsetOutOfRange { .. } => OFFSET_OUT_OF_RANGE,
        LogError::InvalidConfig { .. } => INVALID_CONFIG,
        LogError::Corrupt { .. } | LogError::Io { .. } | LogError::Failed { .. } => {
            KAFKA_STORAGE_ERROR
        }
        LogError::NonContiguousAppend { .. } => UNKNOWN_SERVER_ERROR,
    }
}

/// The Kafka error code for records refused by the record walk.
pub fn records_error_code(kind: RecordsErrorKind) -> i16 {
    match kind {
        RecordsErrorKind::Invalid => INVALID_RECORD,
        RecordsErrorKind::Corrupt => CORRUPT_MESSAGE,
        RecordsErrorKind::TooLarge => MESSAGE_TOO_LARGE,
        RecordsErrorKind::InvalidTimestamp => INVALID_TIMESTAMP,
    }
}

/// The Kafka error code for a batch refused before it was written.
pub fn batch_error_code(error: &BatchError) -> i16 {
    match error {
        BatchError::BatchTooLarge { .. } => MESSAGE_TOO_LARGE,
        BatchError::UnsupportedMagic { .. } => UNSUPPORTED_FOR_MESSAGE_FORMAT,
        BatchError::Truncated { .. }
        | BatchError::CorruptBatch { .. }
        | BatchError::CrcMismatch { .. }
        | BatchError::Empty => CORRUPT_MESSAGE,
    }
}
