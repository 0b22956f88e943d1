//! The mapping from log-engine errors (internal, named by outcome) to the Kafka error codes
//! clients get for them.

use crate::storage::batch::BatchError;
use crate::storage::log::LogError;
use crate::storage::records::RecordsErrorKind;
use crate::types::ErrorCode;

/// The Kafka error code a client gets for a log error.
pub fn log_error_code(error: &LogError) -> ErrorCode {
    match error {
        LogError::InvalidBatch { source, .. } => batch_error_code(source),
        LogError::AppendTooLarge { .. } => ErrorCode::RECORD_LIST_TOO_LARGE,
        LogError::OffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
        LogError::InvalidConfig { .. } => ErrorCode::INVALID_CONFIG,
        LogError::Corrupt { .. }
        | LogError::Io { .. }
        | LogError::OutOfSpace { .. }
        | LogError::Failed { .. }
        | LogError::SwapRunning { .. } => ErrorCode::KAFKA_STORAGE_ERROR,
        LogError::NonContiguousAppend { .. } => ErrorCode::UNKNOWN_SERVER_ERROR,
    }
}

/// The Kafka error code for records refused by the record walk.
pub fn records_error_code(kind: RecordsErrorKind) -> ErrorCode {
    match kind {
        RecordsErrorKind::Invalid => ErrorCode::INVALID_RECORD,
        RecordsErrorKind::Corrupt => ErrorCode::CORRUPT_MESSAGE,
        RecordsErrorKind::TooLarge => ErrorCode::MESSAGE_TOO_LARGE,
        RecordsErrorKind::InvalidTimestamp => ErrorCode::INVALID_TIMESTAMP,
    }
}

/// The Kafka error code for a batch refused before it was written.
pub fn batch_error_code(error: &BatchError) -> ErrorCode {
    match error {
        BatchError::BatchTooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
        BatchError::UnsupportedMagic { .. } => ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        BatchError::Truncated { .. }
        | BatchError::CorruptBatch { .. }
        | BatchError::CrcMismatch { .. }
        | BatchError::Compressed { .. }
        | BatchError::Empty => ErrorCode::CORRUPT_MESSAGE,
    }
}
