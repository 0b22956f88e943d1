//! Bounds of the client side (the broker's live in `crate::limits`).

/// Largest response frame the client accepts; a bigger size prefix means a broken stream.
/// Fetch answers are capped well below this by `fetch.max.bytes`.
pub const RESPONSE_FRAME_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Requests a connection may have outstanding before `send` waits (Kafka's
/// `max.in.flight.requests.per.connection` default).
pub const INFLIGHT_PER_CONNECTION_MAX: usize = 5;

/// Default request timeout (`request.timeout.ms`).
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 30_000;

/// Batches a producer may have in flight across all partitions before `send` waits.
pub const PRODUCER_INFLIGHT_BATCHES_MAX: usize = 64;

/// Metadata refreshes a producer or consumer tries before giving up on a retriable error.
pub const RETRIES_MAX: u32 = 10;

/// Wait between retries after a retriable error (`retry.backoff.ms`).
pub const RETRY_BACKOFF_MS: u64 = 100;
