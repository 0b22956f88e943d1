//! Every queue, batch and loop bound in one place, each with the reason it has that value.
//! Relations between bounds are checked at compile time.

/// Messages an actor's mailbox holds before senders wait (local) or frames are dropped (remote).
/// Large enough to absorb a burst of client requests, small enough that a stuck actor shows up
/// as back-pressure instead of unbounded memory growth.
pub const MAILBOX_CAPACITY: usize = 4096;

/// Frames queued per peer connection before new ones are dropped. Inter-node messages are
/// allowed to be lost (every protocol on top retries), so a slow peer must not grow memory.
pub const PEER_SEND_QUEUE: usize = 4096;

/// Largest inter-node frame body. Checked before allocating the receive buffer.
pub const PEER_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Reconnect backoff to a peer: first retry, and the cap it doubles up to.
pub const PEER_RECONNECT_MS_MIN: u64 = 50;
pub const PEER_RECONNECT_MS_MAX: u64 = 2_000;

/// Answers one Kafka connection may owe before the broker stops reading from it. librdkafka
/// pipelines up to `max.in.flight` (default 1,000,000 per broker, in practice bounded by its
/// queue); this bounds what one client can make the broker hold.
pub const INFLIGHT_PER_CONNECTION_MAX: usize = 128;
