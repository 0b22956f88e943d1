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

/// How often the partitions actor applies retention to every log, expires idle producer ids
/// and snapshots producer state (milliseconds of monotonic time). Kafka checks retention every
/// 5 minutes (`log.retention.check.interval.ms`); 30 s keeps disk use closer to the limits at
/// a cost of one directory scan per log.
pub const RETENTION_CHECK_INTERVAL_MS: u64 = 30_000;

/// Batches remembered per producer id and partition for de-duplicating retries. Kafka keeps 5
/// because a producer may have at most 5 requests in flight per connection with idempotence.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;

/// Producer ids reserved per write of the id-block file: one small synced write per this many
/// `InitProducerId` calls (Kafka's controller hands out blocks of 1000 too). Ids of a reserved
/// block that were never handed out are skipped after a restart.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// A producer id with no append for this long (record timestamps of wall-clock time) is
/// forgotten by a partition (Kafka's `producer.id.expiration.ms`, 1 day). This is what bounds
/// the per-partition producer table.
pub const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

/// Producer-state snapshots kept per partition directory (the newest is used; one older one is
/// kept in case the newest is damaged).
pub const PRODUCER_SNAPSHOTS_KEPT: usize = 2;

/// Bytes read per step while rebuilding producer state from the log at open.
pub const PRODUCER_STATE_SCAN_BYTES: usize = 1 << 20;

/// Fetches parked waiting for `min_bytes`. Past it a new fetch is answered at once with
/// whatever is there (consumers then poll again), instead of holding more requests.
pub const FETCH_PARKED_MAX: usize = 16_384;

/// Longest a fetch may be parked, whatever `max_wait_ms` the client asked for (Kafka clients
/// use 500 ms; this only stops a hostile value from pinning a request for days).
pub const FETCH_WAIT_MS_MAX: u64 = 60_000;

/// Most partitions CreatePartitions grows one topic to. Every partition is an open log (files
/// and descriptors) on this node, so a hostile count must be refused, not attempted.
pub const TOPIC_PARTITIONS_MAX: i32 = 10_000;

const _: () = assert!(FETCH_PARKED_MAX <= 4 * MAILBOX_CAPACITY);

/// Bytes the compressed batches of one Produce request may decompress to, all partitions
/// together, while the broker walks their records (see `storage::records`). Past it the
/// partition is refused with MESSAGE_TOO_LARGE. Decompression is streamed (nothing but the
/// codec's window is held), so this bounds CPU, not memory: a 69-byte "bomb" would otherwise
/// make the broker inflate gigabytes. 256 MiB is a whole default-sized request (librdkafka's
/// `message.max.bytes`, 1 MB) at a 256:1 compression ratio, far beyond what real record data
/// reaches, and takes well under a second to walk.
pub const PRODUCE_DECOMPRESSED_BYTES_MAX: u64 = 256 << 20;

/// Largest snappy block a produced batch may hold, decompressed. Snappy blocks decode whole,
/// so this bounds the buffer one block needs: a 1 MiB batch (the default `max.message.bytes`)
/// written as librdkafka's single raw block at snappy's best ratio (~22:1) still fits.
/// Kafka's Java clients write 32 KiB blocks.
pub const SNAPPY_BLOCK_BYTES_MAX: usize = 32 << 20;

/// Largest zstd window a produced batch may declare (the history its decoder must keep).
/// zstd levels 1 to 19 use at most 8 MiB (window log 23); only the "ultra" levels 20–22 need
/// more, and a hostile frame may claim terabytes.
pub const ZSTD_WINDOW_BYTES_MAX: u64 = 8 << 20;
