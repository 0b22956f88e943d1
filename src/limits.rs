//! Every queue, batch and loop bound in one place, each with the reason it has that value.
//! Relations between bounds are checked at compile time.

/// Messages an actor's mailbox holds before senders wait (local) or frames are dropped (remote).
/// Large enough to absorb a burst of client requests, small enough that a stuck actor shows up
/// as back-pressure instead of unbounded memory growth.
pub const MAILBOX_CAPACITY: usize = 4096;

/// Frames queued per peer connection before new ones are dropped. Inter-node messages are
/// allowed to be lost (every protocol on top retries), so a slow peer must not grow memory.
pub const PEER_SEND_QUEUE: usize = 4096;
/// The most peers a node learns from their links' hellos (observers: broker-only nodes the
/// voters answer) besides the configured voters; a hello past it is ignored.
pub const PEERS_LEARNED_MAX: usize = 1024;

/// Largest inter-node frame body. Checked before allocating the receive buffer.
pub const PEER_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Reconnect backoff to a peer: first retry, and the cap it doubles up to.
pub const PEER_RECONNECT_MS_MIN: u64 = 50;
pub const PEER_RECONNECT_MS_MAX: u64 = 2_000;

/// Answers one Kafka connection may owe before the broker stops reading from it. librdkafka
/// pipelines up to `max.in.flight` (default 1,000,000 per broker, in practice bounded by its
/// queue); this bounds what one client can make the broker hold.
pub const INFLIGHT_PER_CONNECTION_MAX: usize = 128;

/// Fetch answers one Kafka connection may owe at once. A Fetch answer can hold
/// `fetch.max.bytes` (55 MiB) of records; four pipelined Fetches left unread held 5 GB before
/// this bound. Kafka reads nothing more from a connection while its answer is being sent, and
/// consumers (Java, librdkafka) keep one Fetch per broker in flight, so 1 costs them nothing.
pub const FETCHES_IN_FLIGHT_PER_CONNECTION: usize = 1;

/// Record sets in a Fetch answer this large or larger are written to the socket from the bytes
/// read from the log, as chunks of their own; smaller ones are copied into the encoded answer.
/// Copying a 55 MiB (`fetch.max.bytes`) record set took about half the broker's time under a
/// stream of such Fetches; copying a few KB costs less than an extra chunk in the vectored
/// write, and a Fetch with no record set this large is encoded in one buffer as before.
pub const FETCH_SPLICE_MIN_BYTES: usize = 64 * 1024;

/// Log reads this large or larger land in a buffer hinted for transparent huge pages
/// (`storage::read_buffer`): a 50 MB read faulted in 12,800 pages one by one, about two thirds
/// of its time on the partitions actor. Below a few huge pages the hint saves nothing.
pub const READ_HUGE_PAGE_HINT_MIN_BYTES: usize = 4 << 20;

/// How often the partitions actor applies retention to every log, expires idle producer ids
/// and snapshots producer state (milliseconds of monotonic time). Kafka checks retention every
/// 5 minutes (`log.retention.check.interval.ms`); 30 s keeps disk use closer to the limits at
/// a cost of one directory scan per log.
pub const RETENTION_CHECK_INTERVAL_MS: u64 = 30_000;

/// Batches remembered per producer id and partition for de-duplicating retries. Kafka keeps 5
/// because a producer may have at most 5 requests in flight per connection with idempotence.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;

/// Producer ids in one block the controller quorum hands a broker: one committed metadata
/// entry per this many `InitProducerId` calls (Kafka's controller hands out blocks of 1000
/// too). Ids of a block that were never handed out are skipped after a restart.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// How long the partitions actor waits for the controller quorum's answer to a producer-id
/// block ask. The node's voter forwards it to the leader (which waits up to 2 s), and the
/// leader answers once the block is committed; past this the waiting `InitProducerId`
/// requests are answered COORDINATOR_LOAD_IN_PROGRESS and clients retry.
pub const PRODUCER_ID_BLOCK_CALL_TIMEOUT_MS: u64 = 5_000;

/// `InitProducerId` requests that wait while the next producer-id block is asked of the
/// controller quorum (one committed metadata entry: milliseconds). A burst this large is a fleet of
/// producers starting at once; past it the request is answered COORDINATOR_LOAD_IN_PROGRESS,
/// which every client retries. Each waiting request holds its transactional id, so this also
/// bounds their memory (names may be 32 KiB each: 32 MiB at most).
pub const INIT_PRODUCER_ID_WAITING_MAX: usize = 1024;

/// A producer id with no append for this long (record timestamps of wall-clock time) is
/// forgotten by a partition (Kafka's `producer.id.expiration.ms`, 1 day). This is what bounds
/// the per-partition producer table.
pub const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

/// A transactional id unused by `InitProducerId` for this long is forgotten (Kafka's
/// `transactional.id.expiration.ms` default, 7 days). With the two bounds below, it keeps the
/// table of ids — which any client can grow — from holding memory forever.
pub const TRANSACTIONAL_ID_EXPIRATION_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Most transactional ids remembered at once; past it the least recently used is forgotten
/// (its producer gets a new id instead of a bumped epoch, as after a restart).
pub const TRANSACTIONAL_IDS_MAX: usize = 100_000;

/// Most bytes of transactional id names remembered at once (names may be 32 KiB each, so the
/// count alone would allow 3 GiB).
pub const TRANSACTIONAL_ID_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Producer-state snapshots kept per partition directory (the newest is used; one older one is
/// kept in case the newest is damaged).
pub const PRODUCER_SNAPSHOTS_KEPT: usize = 2;

/// Bytes read per step while rebuilding producer state from the log at open.
pub const PRODUCER_STATE_SCAN_BYTES: usize = 1 << 20;

/// Transactions open at once on one partition that a `read_committed` fetch answer lists
/// beyond those with a batch in what it read (Kafka has no bound; one producer holds one open
/// transaction, so this many would take as many producers writing transactions at once).
pub const FETCH_OPEN_TXNS_MAX: usize = 100_000;

/// Fetches parked waiting for `min_bytes`. Past it a new fetch is answered at once with
/// whatever is there (consumers then poll again), instead of holding more requests.
pub const FETCH_PARKED_MAX: usize = 16_384;

/// Partition requests waiting while a partition log opens (its recovery's first persist job,
/// `partition::opening`). Past it a request is refused with a retriable code.
pub const OPENING_PARKED_MAX: usize = 4_096;

/// Longest a fetch may be parked, whatever `max_wait_ms` the client asked for (Kafka clients
/// use 500 ms; this only stops a hostile value from pinning a request for days).
pub const FETCH_WAIT_MS_MAX: u64 = 60_000;

/// Deleted topics' ids the metadata image keeps (oldest forgotten first): a broker that was
/// down while a topic was deleted recognises the topic's directories by them and removes
/// them (`controller::metadata::image`). 16 bytes each in every snapshot and topics feed; a
/// broker down through more deletions than this keeps the oldest ones' directories.
pub const DELETED_TOPIC_IDS_KEPT: usize = 10_000;

/// Most partitions one topic may have (CreateTopics, CreatePartitions, `num.partitions`):
/// INVALID_PARTITIONS beyond it. Every partition is a log directory, files and memory on this
/// node, so a hostile count must be refused, not attempted.
pub const TOPIC_PARTITIONS_MAX: i32 = 10_000;

/// Distinct partitions one Produce, Fetch, ListOffsets or DeleteRecords request may name; a
/// request naming more closes its connection (like a request that cannot be read). Kafka has
/// no such cap, but it checks partitions on many request threads; here every partition named
/// is work on the node's one partitions actor, shared by every client, and a 100 MB Produce
/// can name 12 million partitions (8 bytes each). 5 × [`TOPIC_PARTITIONS_MAX`] fits a client
/// reading every partition of five of the largest topics at once; duplicates are merged first
/// and do not count (see `broker::per_partition`).
pub const REQUEST_PARTITIONS_MAX: usize = 5 * TOPIC_PARTITIONS_MAX as usize;

/// Array entries one request may hold, every array at every level together (topics,
/// partitions, topic names, replica ids ...); the bounds walk (`protocol::bounds`) refuses a
/// request holding more before the `kafka-protocol` crate decodes it, and its connection is
/// closed (like [`REQUEST_PARTITIONS_MAX`]). Issue 9: a 77 MB Produce listing one partition a
/// million times, or a Metadata naming one topic a million times, is merged down to one entry,
/// but only after the crate has decoded all million (hundreds of milliseconds of a runtime
/// worker each, so two such clients held a bystander's round trip up to 0.6 s); the walk
/// refuses it from the declared count, at the cost of reading four bytes. The largest request
/// a client needs is a Fetch of [`REQUEST_PARTITIONS_MAX`] partitions, each in a topic of its
/// own, that also forgets as many (v7+): four entries per partition.
pub const REQUEST_ENTRIES_MAX: u64 = 4 * REQUEST_PARTITIONS_MAX as u64;

/// Requests holding more array entries than this are decoded at most
/// [`LARGE_DECODES_AT_ONCE`] at a time. The crate's decode is synchronous (it cannot yield) and
/// costs 0.1–0.25 µs an entry in a release build (`bench/hostile.py`: a million Produce entries
/// took 250 ms, a million Metadata names 100 ms), so this many take one to three milliseconds;
/// what real clients send (a consumer fetching a few hundred partitions, a producer's batches
/// for a few dozen) stays far below and never waits.
pub const REQUEST_ENTRIES_UNGATED: u64 = 10_000;

/// Large requests (over [`REQUEST_ENTRIES_UNGATED`] entries) decoded and merged at once, all
/// connections together. One leaves every other runtime worker free for ordinary requests
/// while large ones wait their turn, in order (the semaphore is fair; each connection still
/// hands over its requests one at a time, so their order is kept): two clients sending
/// requests at [`REQUEST_ENTRIES_MAX`] no longer occupy both workers of a two-core machine.
pub const LARGE_DECODES_AT_ONCE: usize = 1;

/// Most partitions one CreateTopics or CreatePartitions request may create, all topics
/// together: Kafka's controller limit (`MAX_PARTITIONS_PER_BATCH`, 10,000), answered like Kafka
/// with POLICY_VIOLATION for every topic of the request. Issue 9: one CreateTopics asking for
/// 100,000 partitions exhausted the descriptors.
pub const PARTITIONS_PER_REQUEST_MAX: i64 = 10_000;

/// How long the topics actor waits for the partitions actor to answer one request of a topic
/// administration (open, delete or reconfigure one partition log) before it counts that
/// partition as failed. Opening a log recovers it, which for a large unclean log takes a
/// while, so the bound is generous: it is there so that an administration cannot hang forever
/// (and every later one queued behind it), not to hurry a slow disk.
pub const PARTITION_ADMIN_CALL_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// Most partitions this broker hosts, all topics together (POLICY_VIOLATION past it, also for
/// auto-created topics). Descriptors no longer grow with partitions (the log-file cache bounds
/// them), but memory, start-up recovery and retention scans do: 2,000 partitions restart in 1.5 s
/// on a debug build (`bench/fd_budget.sh`); 20,000 is ten times that, not measured yet. Kafka
/// recommends a few thousand per broker.
pub const BROKER_PARTITIONS_MAX: i64 = 20_000;

/// Log files (`.log`, `.index`, `.timeindex`, `.txnindex`, checkpoints) a `FileStorage` keeps open when it
/// is not told otherwise (tests, benchmarks). `rill server` derives its own from the process's
/// descriptor limit ([`fd_share_log_files`]). Files beyond it are closed least recently used
/// first and reopened on their next use (`storage::file::fd_cache`).
pub const LOG_OPEN_FILES_DEFAULT: usize = 1024;

/// Descriptors kept out of every budget below: stdio, the listeners, the runtime's epoll and
/// wake-up descriptors, the log directory lock, directory fsyncs, the inter-node listener, and
/// a socket accepted only to be closed because `max.connections` is reached.
pub const FD_RESERVED: u64 = 64;

/// Share of the descriptors left after [`FD_RESERVED`] that open log files may use: the cache
/// is what lets any number of partitions run in a fixed number of descriptors; a quarter keeps
/// the active segments of a few thousand busy partitions open without reopening.
pub const fn fd_share_log_files(fd_limit: u64) -> u64 {
    let budget = fd_limit.saturating_sub(FD_RESERVED);
    let share = budget / 4;
    if share < 16 {
        16
    } else {
        share
    }
}

/// Default `max.connections` (Kafka's default is unlimited): half of the descriptors left after
/// [`FD_RESERVED`]. Connections then can never take the descriptors the log files need (issue 9:
/// idle connections took them all and a partition that needed a new segment failed). The
/// remaining quarter is headroom: descriptors evicted from the log-file cache stay open while
/// an fsync still uses them.
pub const fn fd_share_connections(fd_limit: u64) -> u64 {
    let budget = fd_limit.saturating_sub(FD_RESERVED);
    let share = budget / 2;
    if share < 1 {
        1
    } else {
        share
    }
}

/// Request frames up to this size are read without taking memory from the
/// `queued.max.request.bytes` pool: each connection may hold one such partial frame (bounded by
/// `max.connections`), and ordinary requests (produce batches of a few KB, fetches, metadata)
/// are then never held up behind someone else's large frames.
pub const REQUEST_BYTES_UNPOOLED_MAX: usize = 64 * 1024;

/// Default `queued.max.request.bytes` (Kafka's default, -1, is unbounded): bytes of request
/// frames larger than [`REQUEST_BYTES_UNPOOLED_MAX`] read or being read and not yet handled,
/// across all connections. Issue 9: 20 connections each sending the first part of a 50 MB
/// frame held 1.14 GB. Two of the largest default frames (`socket.request.max.bytes`,
/// 100 MiB) fit; a frame that does not fit waits, unread, for room.
pub const QUEUED_REQUEST_BYTES_DEFAULT: usize = 256 * 1024 * 1024;

/// Longest a request frame may take to arrive once its first bytes are in, before the
/// connection is closed (Kafka clients give up on a request after `request.timeout.ms`, 30 s by
/// default, so a frame still incomplete after that is not wanted by anyone). Stops a client from
/// pinning `queued.max.request.bytes` with frames it never finishes.
pub const REQUEST_FRAME_COMPLETE_MS_MAX: u64 = 30_000;

/// Least time between two attempts to open a partition log that failed to open (out of
/// descriptors, a full disk): the partition answers KAFKA_STORAGE_ERROR meanwhile. Retried when
/// the partition is next used, so a busy partition comes back within this long of the cause
/// going away, without a produce storm turning into an open storm.
pub const OFFLINE_LOG_RETRY_MS: u64 = 1_000;

/// How long a partition whose disk filled must go without a write failing for want of space
/// before a successful write logs that space is back: near full, small appends fit while
/// large ones fail, and each flip would otherwise log a line.
pub const DISK_FULL_QUIET_MS: u64 = 5_000;

const _: () = assert!(FETCH_PARKED_MAX <= 4 * MAILBOX_CAPACITY);
const _: () = assert!(OPENING_PARKED_MAX <= MAILBOX_CAPACITY);
const _: () = assert!(FETCHES_IN_FLIGHT_PER_CONNECTION <= INFLIGHT_PER_CONNECTION_MAX);
const _: () = assert!(REQUEST_ENTRIES_UNGATED < REQUEST_ENTRIES_MAX);
const _: () = assert!(REQUEST_PARTITIONS_MAX as u64 <= REQUEST_ENTRIES_MAX);
const _: () = assert!(LARGE_DECODES_AT_ONCE >= 1);
const _: () = assert!(RECORD_WALKS_AT_ONCE >= 1);
const _: () = assert!(RECORD_WALK_INLINE_BYTES <= PRODUCE_DECOMPRESSED_BYTES_MAX);
const _: () = assert!(RECORD_WALK_INLINE_ENTRIES <= PRODUCE_RECORD_ENTRIES_MAX);
const _: () = assert!(GROUP_ASSIGNMENT_BYTES_MAX <= PEER_FRAME_BYTES_MAX);
const _: () = assert!(GROUP_LOAD_READ_BYTES > 0);
const _: () = assert!(TXN_LOAD_READ_BYTES > 0);

/// Bytes the compressed batches of one Produce request may decompress to, all partitions
/// together, while the broker walks their records (see `storage::records`). Past it the
/// partition is refused with MESSAGE_TOO_LARGE. Decompression is streamed (nothing but the
/// codec's window is held), so this bounds CPU, not memory: a 69-byte "bomb" would otherwise
/// make the broker inflate gigabytes. 256 MiB is a whole default-sized request (librdkafka's
/// `message.max.bytes`, 1 MB) at a 256:1 compression ratio, far beyond what real record data
/// reaches, and takes well under a second to walk.
pub const PRODUCE_DECOMPRESSED_BYTES_MAX: u64 = 256 << 20;

/// Decompressed bytes of one compressed batch the log cleaner looks into (it holds them, the
/// filtered copy and its recompression at once). A batch past it is kept whole, as a batch the
/// cleaner cannot look into: 16 MiB is a default-sized batch (1 MB) at 16:1.
pub const CLEAN_DECOMPRESSED_BATCH_BYTES_MAX: u64 = 16 << 20;

/// Records plus headers one Produce request may hold, all batches together (walked and counted
/// by `storage::records`); past it the partition is refused with INVALID_RECORD. Every record
/// and header is a step of the walk however few bytes it takes: issue 9's header bomb, one
/// ~250 KB gzip batch holding one record with 120 million empty headers (2 bytes each, within
/// [`PRODUCE_DECOMPRESSED_BYTES_MAX`]), took 3-4 s of a runtime worker per request. Kafka has no
/// such cap; 4 Mi is a whole default-sized request (1 MB) of 1-byte records compressed 30:1,
/// far beyond what real producers send (a few thousand records a request).
pub const PRODUCE_RECORD_ENTRIES_MAX: u64 = 4 << 20;

/// Decompressed bytes and records + headers a Produce request's walk may cost on the runtime
/// worker of its connection. A request that needs more is walked again, whole, on a blocking
/// thread, at most [`RECORD_WALKS_AT_ONCE`] at a time: a few milliseconds at most, so a
/// connection's own walk never holds the worker other connections' requests need. Ordinary
/// batches (librdkafka's default `batch.size` is 1 MB before compression) stay inline.
pub const RECORD_WALK_INLINE_BYTES: u64 = 1 << 20;
/// See [`RECORD_WALK_INLINE_BYTES`].
pub const RECORD_WALK_INLINE_ENTRIES: u64 = 1 << 16;

/// Produce walks beyond the inline allowance run at once, all connections together, each on a
/// blocking thread: one, so that on a two-core machine walks take at most one core and the
/// runtime always has the other for everyone else.
pub const RECORD_WALKS_AT_ONCE: usize = 1;

/// Largest snappy block a produced batch may hold, decompressed. Snappy blocks decode whole,
/// so this bounds the buffer one block needs: a 1 MiB batch (the default `max.message.bytes`)
/// written as librdkafka's single raw block at snappy's best ratio (~22:1) still fits.
/// Kafka's Java clients write 32 KiB blocks.
pub const SNAPPY_BLOCK_BYTES_MAX: usize = 32 << 20;

/// Largest zstd window a produced batch may declare (the history its decoder must keep).
/// zstd levels 1 to 19 use at most 8 MiB (window log 23); only the "ultra" levels 20–22 need
/// more, and a hostile frame may claim terabytes.
pub const ZSTD_WINDOW_BYTES_MAX: u64 = 8 << 20;

/// Leader epochs one partition's leader-epoch cache remembers (`storage::log::epoch_cache`).
/// An epoch starts at every leader election, and the entries below the log start are dropped
/// with the records, so a real log holds a handful; Kafka has no bound. This one bounds the
/// checkpoint a broker reads back (about 2 MiB at most) and what a flapping leadership can make
/// one partition hold. Past it the oldest epoch is forgotten, which answers OffsetForLeaderEpoch
/// for it as for an epoch already removed by retention.
pub const LEADER_EPOCH_ENTRIES_MAX: usize = 65_536;

/// Bytes one read of a `__consumer_offsets` partition asks for while a coordinator shard
/// replays it (Kafka's `offsets.load.buffer.size`, 5 MiB). The replay walks whole batches and
/// starts the next read at the last whole one, so this bounds the memory of one load step, not
/// the partition's size.
pub const GROUP_LOAD_READ_BYTES: i32 = 5 << 20;

/// Bytes one read of a `__transaction_state` partition brings while a transaction coordinator
/// replays it (Kafka's `transaction.state.log.load.buffer.size`, 5 MiB): as
/// [`GROUP_LOAD_READ_BYTES`], a bound on one load step's memory.
pub const TXN_LOAD_READ_BYTES: i32 = 5 << 20;

/// Bytes of one `__transaction_state` record batch (a transactional id with its partitions),
/// below Kafka's default `message.max.bytes` (1 MiB + 12) that the topic's log enforces. The
/// coordinator refuses a transaction whose record would be larger (INVALID_REQUEST) before
/// writing: a refused append would end its shard, and a client could repeat it.
pub const TXN_RECORD_BYTES_MAX: usize = 1_000_000;

/// Transactional ids one node's transaction coordinator holds (over all its shards). Any
/// client can name a new id with InitProducerId; each costs a map entry. Kafka has no such
/// bound. Past it a new id is refused with COORDINATOR_NOT_AVAILABLE (retriable) while known
/// ids carry on; expired ids (`transactional.id.expiration.ms`) make room again.
pub const TXN_IDS_PER_NODE_MAX: usize = 100_000;

/// Bytes of transactional id names one node's transaction coordinator holds (ids may be
/// 32 KiB each, so [`TXN_IDS_PER_NODE_MAX`] alone would allow 3 GiB); past it a new id is
/// refused as past that bound.
pub const TXN_ID_BYTES_PER_NODE_MAX: usize = 16 * 1024 * 1024;

/// InitProducerId requests of one coordinator shard waiting for a new producer id from the
/// controller quorum; past it a request is refused with COORDINATOR_NOT_AVAILABLE (retriable).
pub const TXN_WAITING_FOR_ID_MAX: usize = 10_000;

/// Groups one node's coordinator holds (loaded and live, over all its shards). Any client can
/// create a group by joining or committing under a new id, and each costs a map entry and its
/// members; Kafka has no such bound. What is counted is entries: a group with a state and one
/// with committed offsets each count, a group with both twice (`Shard::group_entries`). Past it
/// a JoinGroup or OffsetCommit that would add an entry is refused (COORDINATOR_NOT_AVAILABLE,
/// retriable, as for [`GROUP_PENDING_MEMBERS_MAX`]) while existing groups carry on; groups
/// deleted or expired (`offsets.retention.minutes`) make room again.
pub const GROUPS_PER_NODE_MAX: usize = 100_000;

/// Pending members of one group: each JoinGroup v4+ with an empty member id creates one (and
/// its session timer), answered MEMBER_ID_REQUIRED, which lives until its session timeout
/// unless it rejoins. A client looping on empty-id joins would otherwise grow the group without
/// bound. Past it such a join is refused with COORDINATOR_NOT_AVAILABLE (retriable: a real
/// member retries once the pending entries time out; GROUP_MAX_SIZE_REACHED is fatal to Java
/// consumers).
pub const GROUP_PENDING_MEMBERS_MAX: usize = 1_000;

/// Members one KIP-848 consumer group may hold, and `group.consumer.max.size`'s default and
/// largest value (Kafka's default is `Integer.MAX_VALUE`). A KIP-848 client names its own
/// member id, so a heartbeat with epoch 0 and a new id adds a member at once; each member is a
/// record written and a share of every assignment computed (quadratic in the members), and
/// lives for its session (45 s). Past it a join gets GROUP_MAX_SIZE_REACHED, Kafka's answer at
/// `group.consumer.max.size`.
pub const CONSUMER_GROUP_MEMBERS_MAX: usize = 10_000;

/// Largest total of the topic names one KIP-848 member subscribes to (ConsumerGroupHeartbeat
/// `SubscribedTopicNames`). They are written in the member's record, one batch of
/// `__consumer_offsets` that must fit its `max.message.bytes` (1 MiB): a list any larger would
/// fail the write, which unloads the whole coordinator shard, and a client retrying it would
/// keep every group of that shard unavailable. Past it the heartbeat is refused with
/// INVALID_REQUEST (Kafka has no such bound; its write would fail with RECORD_TOO_LARGE).
pub const CONSUMER_SUBSCRIPTION_BYTES_MAX: usize = 256 << 10;

/// Longest KIP-848 `SubscribedTopicRegex` (bytes). The pattern is compiled by the coordinator
/// and matched against every topic name whenever the topics change, and it is written in the
/// member's record; librdkafka sends all of an application's patterns joined in one, so a real
/// one is tens of bytes. Past it the heartbeat gets INVALID_REGULAR_EXPRESSION, as a pattern the
/// coordinator cannot take (Kafka has no such bound, only the record's i16 string length).
pub const CONSUMER_REGEX_BYTES_MAX: usize = 4 << 10;

/// The `regex` crate's size limits for one compiled `SubscribedTopicRegex`: the compiled
/// program (`RegexBuilder::size_limit`, default 10 MiB) and the lazy DFA's cache
/// (`dfa_size_limit`, default 2 MiB). A short pattern can still compile big (`\w{1000}` is
/// megabytes: Unicode classes repeated), and a group keeps its members' compiled patterns
/// between heartbeats, so a hostile client must not make each cost the default. A pattern
/// over it is refused with INVALID_REGULAR_EXPRESSION; anything a topic name needs is far
/// smaller (`(^orders-.*)` compiles to a few KiB).
pub const CONSUMER_REGEX_COMPILED_BYTES_MAX: usize = 1 << 20;

/// Deepest nesting of groups and repetitions in a `SubscribedTopicRegex` (the parser's
/// `nest_limit`, default 250): the parser and compiler recurse on it, and a topic pattern
/// never needs more than a few levels.
pub const CONSUMER_REGEX_NEST_MAX: u32 = 64;

/// Largest total of one classic group's member assignments (and subscriptions) written in one
/// group metadata record. That record is one batch of `__consumer_offsets` and a message between
/// nodes once the partition is replicated, so it must fit one peer frame; Kafka bounds it by the
/// topic's `max.message.bytes` instead. A leader's SyncGroup whose assignments (to members;
/// other ids are ignored) plus the members' metadata exceed it is not written: the parked
/// SyncGroups get UNKNOWN_SERVER_ERROR, as Kafka answers a group record it cannot write
/// (`storeGroup` maps RECORD_LIST_TOO_LARGE so), and the group rebalances.
pub const GROUP_ASSIGNMENT_BYTES_MAX: usize = 16 << 20;

/// Largest SASL message a mechanism parses (one `SaslAuthenticate` `auth_bytes`): SCRAM's
/// messages are a user name, two nonces and a base64 proof, PLAIN's a user name and a
/// password, so real ones are a few hundred bytes. A larger one is refused as malformed before
/// any of it is parsed or copied. Kafka bounds the whole request only
/// (`sasl.server.max.receive.size`, 512 KiB).
pub const SASL_MESSAGE_BYTES_MAX: usize = 4 << 10;

/// Users with SCRAM credentials the metadata holds (Kafka has no such bound). Every broker
/// keeps every credential in memory (the applied image and the topics actor's view of it)
/// and every metadata snapshot carries them, so the count must not grow with what any admin
/// client asks: past it an AlterUserScramCredentials that would add a user is refused
/// (POLICY_VIOLATION) while existing users' credentials can still change. A deployment with
/// more logins than this puts them in an external identity store, not SCRAM in the log.
pub const SCRAM_USERS_MAX: usize = 10_000;

/// Longest SCRAM user name (bytes). A login name is tens of bytes; the image keeps every one
/// ([`SCRAM_USERS_MAX`]). Longer is refused as UNACCEPTABLE_CREDENTIAL, as Kafka refuses an
/// empty one.
pub const SCRAM_USER_NAME_BYTES_MAX: usize = 1024;

/// Longest SCRAM salt (bytes) a credential may carry. Kafka's tools draw a 130-bit number
/// written in base 36 (at most 26 bytes), librdkafka 64 random bytes; the broker keeps it and
/// sends it in every login's first message. Longer is refused as UNACCEPTABLE_CREDENTIAL.
pub const SCRAM_SALT_BYTES_MAX: usize = 1024;

/// The most bytes one user's credentials take in the image (name, two mechanisms' salts and
/// keys, iterations): what [`SCRAM_USERS_MAX`] users cost each broker at worst (about 33 MB,
/// and as much in every snapshot, well under its 1 GiB bound).
pub const SCRAM_USER_BYTES_MAX: usize =
    SCRAM_USER_NAME_BYTES_MAX + 2 * (SCRAM_SALT_BYTES_MAX + 2 * 64 + 4);
const _: () = assert!(SCRAM_USERS_MAX * SCRAM_USER_BYTES_MAX < (1 << 30) / 8);

/// ACLs the metadata holds (Kafka has no such bound). Every broker keeps every ACL in memory
/// twice (by id, and indexed for checks) and every metadata snapshot carries them, so the
/// count must not grow with what any admin client asks: past it a CreateAcls binding that
/// would add one is refused (POLICY_VIOLATION); deletions still work. Kafka's own guidance
/// puts real deployments at thousands, prefixed patterns keep them few.
pub const ACLS_MAX: usize = 100_000;

/// Longest resource name (bytes) an ACL may name: a topic name is at most 249, a group or
/// transactional id a few tens in practice. Longer is refused as INVALID_REQUEST.
pub const ACL_RESOURCE_NAME_BYTES_MAX: usize = 512;

/// Longest principal (`Type:name`, bytes) an ACL may name: SCRAM user names are bounded by
/// [`SCRAM_USER_NAME_BYTES_MAX`], a certificate's subject is a few hundred bytes at most.
pub const ACL_PRINCIPAL_BYTES_MAX: usize = SCRAM_USER_NAME_BYTES_MAX + 64;

/// Longest host an ACL may name: an address as text (an IPv6 literal is at most 45 bytes) or
/// `*`; anything longer could never match a client (Kafka compares addresses as text).
pub const ACL_HOST_BYTES_MAX: usize = 255;

/// The most bytes one ACL takes in the image (its three texts, codes and id): what
/// [`ACLS_MAX`] ACLs cost each broker at worst (about 190 MB held twice, and once in every
/// snapshot, under its 1 GiB bound with the SCRAM users beside them).
pub const ACL_BYTES_MAX: usize =
    ACL_RESOURCE_NAME_BYTES_MAX + ACL_PRINCIPAL_BYTES_MAX + ACL_HOST_BYTES_MAX + 4 + 16;
const _: () = assert!(ACLS_MAX * ACL_BYTES_MAX < (1 << 30) / 4);

/// The most client quota entities the metadata keeps (Kafka has no bound). A new entity past
/// it is refused as POLICY_VIOLATION.
pub const CLIENT_QUOTA_ENTITIES_MAX: usize = 100_000;
/// The longest user or client-id name of a client quota entity (longer is INVALID_REQUEST).
/// With [`CLIENT_QUOTA_ENTITIES_MAX`] entities of four keys, at most about 250 MB.
pub const CLIENT_QUOTA_NAME_BYTES_MAX: usize = 1_024;

/// Client quota buckets one broker keeps (one per quota kind, user and client-id in use): a
/// default client-id quota makes one per client-id, and client-ids are the client's to choose.
/// Past it the least recently used bucket is forgotten (its debt with it).
pub const CLIENT_QUOTA_BUCKETS_MAX: usize = 100_000;
/// Bytes of user and client-id names those buckets hold (client-ids may be 32 KiB each, so the
/// count alone would allow 3 GiB); past it, too, the least recently used bucket goes.
pub const CLIENT_QUOTA_BUCKET_KEY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// How long a connection whose SASL login failed waits before its refusal is written and it
/// closes: Kafka's `connection.failed.authentication.delay.ms` default. A password guesser gets
/// one try per connection and per this long on it, while the broker holds only the waiting
/// connection (its slot counts against `max.connections`).
pub const FAILED_AUTHENTICATION_DELAY_MS: u64 = 100;
