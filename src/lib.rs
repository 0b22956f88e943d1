//! Rill: a Kafka-compatible, replicated, partitioned log broker built as deterministic actors.
//!
//! # Layout
//! * [`actor`]   — the actor contract: `handle(ctx, input)` records effects; no I/O, no tokio.
//!   [`actor::cell`] is the bookkeeping around one actor (timers, replies, pending calls,
//!   self-sends) that any driver, the host included, runs; [`actor::stepper`] is the other
//!   driver: a whole cluster in one thread under a virtual clock and a seeded network and disk,
//!   for unit tests of multi-node protocols;
//!   [`actor::client::ActorClient`] is how the gateway asks actors (the host's node handle
//!   implements it); [`actor::testkit`] holds the demo actors the
//!   transport and stepper tests run.
//! * [`controller`] — metadata (KRaft's role): the broker's view of the metadata log's topics
//!   and topic administration decided by the quorum's leader, serialised inside the topics
//!   actor ([`controller::admin`]), this node's logs kept in line with it, topic
//!   configs resolved into log settings ([`controller::topic_config`]), the quorum's Raft
//!   ([`controller::raft`]: sans-IO core with snapshots, its files, the node that persists
//!   before it sends) and the metadata state machine its entries carry
//!   ([`controller::metadata`]: records, the applied image and its snapshot, replica
//!   placement, leader election, the controller's topic administration in
//!   [`controller::metadata::topic_admin`], users' SCRAM credentials in
//!   [`controller::metadata::scram`], ACLs in [`controller::metadata::acls`]); the broker's membership: its registration and heartbeats
//!   ([`controller::lifecycle`]) and the leader's clock of who is alive
//!   ([`controller::liveness`]).
//! * [`messages`] — what the node's actors say: [`messages::NodeMsg`], the node's wire enum,
//!   the actor ids, one request and reply enum per role, and one type per request naming its
//!   actor and reply ([`messages::call`]); [`messages::scram`] is how the gateway reads SCRAM
//!   credentials (`ScramCredentialRequest`, the lookup a SASL/SCRAM login makes);
//!   [`messages::acls`] is how the gateway reads the applied ACLs and asks for changes.
//! * [`faults`]  — `buggify!` fault points, planted canary bugs, and what the simulator's checker
//!   observes inside the nodes ([`faults::observe`]); all only exist under madsim.
//! * [`host`]    — the only place with tokio, sockets and clocks: runs actors (task + bounded
//!   mailbox each), executes effects, timers, inter-node TCP transport (postcard frames), and
//!   the admin endpoint ([`host::admin`]: `/metrics`, `/healthz`, `/readyz`, the web console).
//! * [`storage`] — the disk boundary ([`storage::Storage`]: files, memory, simulator backends;
//!   [`storage::persist`]: durability work an actor hands to its driver)
//!   and the partition log engine on top of it (segments, indexes, recovery, retention);
//!   [`storage::records`] checks every produced record (decompressing within bounds);
//!   [`storage::schema`] reads and writes the primitive types of the internal topics' records.
//! * [`partition`] — the actor hosting a node's partition replicas, each in the role (leader or
//!   follower, leader epoch) the metadata gives it ([`partition::leaders`]).
//! * [`group`]   — the group coordinator: consumer groups and their committed offsets in
//!   `__consumer_offsets`, as pure state machines under one actor: which partition holds a
//!   group ([`group::placement`], on [`types::placement`]), that topic's records in Kafka's format
//!   ([`group::records`]), its view of the config ([`group::settings::GroupSettings`]),
//!   the classic group ([`group::state::ClassicGroup`]) and committed offsets
//!   ([`group::offsets::Offsets`]), which hand back [`group::output::GroupOut`]s.
//! * [`txn`]     — the transaction coordinator (issue 15): the `TXN` actor ([`txn::actor`]) with
//!   one shard per `__transaction_state` partition led here ([`txn::shard`]: ids, load, writes
//!   applied on ack), Kafka's decisions as pure functions ([`txn::transitions`]), that topic's
//!   records in Kafka's format ([`txn::records`]), a transactional id's states
//!   ([`txn::state::TxnState`]) and the markers on their way to the partitions' leaders
//!   ([`txn::markers`]).
//! * [`protocol`] — the Kafka wire adapter: frame size cap, header prefix, advertised versions,
//!   ApiVersions, and the bounds walk every request passes before the `kafka-protocol` crate
//!   decodes it (each request's layout in [`protocol::layouts`]).
//! * [`security`] — Kafka's security model as pure logic: principals, SASL mechanisms (SCRAM's
//!   credentials and exchange), ACLs and StandardAuthorizer's decision ([`security::acl`]); no
//!   I/O, nonces handed in.
//! * [`broker`]  — per-node Kafka request routing (decode, answer or ask actors, encode), from
//!   the plain [`broker::settings::GatewaySettings`] the host builds from its config.
//! * `cli`       — the client tools: `rill topics`, `console-producer`, `console-consumer`, `perf`,
//!   `consumer-groups`, `transactions`, `configs` (users' SCRAM credentials), `acls`, the quorum's
//!   and reassignments' tools, and `cli::client`, the async Kafka client they are built on
//!   (host-side I/O code, like `host`), over TLS and SASL as Kafka's client properties say
//!   (`cli::client_config`).
//! * [`metrics`] — every metric's name (Kafka's JMX names as Prometheus has them) and the
//!   helpers that count; write-only, a no-op without a recorder (the simulator).
//! * [`config`]  — `rill server` settings under Kafka's property names, validated up front;
//!   `ServerConfig::gateway_settings` is the broker's view of them.
//! * [`limits`]  — every queue and size bound, with the reason for its value.
//! * [`types`]   — the shared vocabulary: [`types::TopicPartition`], the id newtypes
//!   ([`types::NodeId`], [`types::ProducerId`]), Kafka's topic name rule
//!   ([`types::topic_name`]), Kafka's error codes as named constants ([`types::ErrorCode`], the
//!   only place a code is a number) and a [`types::Refusal`] (code and message).
//!
//! # Import direction
//! Every module belongs to one part, and a part imports only the parts listed after its arrow
//! (and Base — `types`, `limits`, `faults`, `metrics` — which every part may use and which uses
//! none):
//! * Face (`main.rs`, `cli`) → Host, Storage (and the topic name rule in `types`, so a tool
//!   explains a bad name before it contacts a broker).
//! * Host (`host`, `config`) → Gateway, Roles, Actor, Storage, Wire: it sits on top. Its
//!   admin endpoint ([`host::admin`]: metrics, health, the web console over HTTP) is host-side
//!   I/O like the Kafka listeners, and asks the actors as the gateway does.
//! * Gateway (`broker`) → Roles, Actor, Storage, Wire; never Host or Face: it asks actors
//!   through a trait the host plugs in, and knows no command line.
//! * Roles (`partition`, `controller`, `group`, `txn` (the transaction coordinator), and
//!   `messages`, their shared vocabulary) → Actor, Storage; never Host, Face or Gateway: actors
//!   record effects, they never do I/O. Role folders do not import each other; each imports
//!   `messages` and talks through it (`messages` imports no role folder).
//! * Actor (`actor`) → Storage: the contract knows no runtime.
//! * Security (`security`), Storage (`storage`) and Wire (`protocol`) → nothing; Host, Gateway,
//!   Roles and Face may import Security: the disk knows nothing of replicas, the protocol
//!   adapter and the security mechanisms are pure.
//!
//! Wire, Security, Actor, Storage and Roles name no tokio, and nothing here names the simulator crate.
//! `tests/architecture.rs` checks every `crate::` path against these rules; the violations that
//! remain are listed there, and that list only shrinks.
//!
//! Outside `src/`: `sim/` runs the same code under madsim (deterministic simulation),
//! `fuzz/` holds cargo-fuzz targets, `tests/` talks to real processes over real TCP,
//! `bench/` holds benchmarks, `docs/` the architecture (`docs/architecture.md`: actors, host,
//! storage and crash model, simulation, determinism rules) and the on-disk format.
pub mod actor;
pub mod broker;
#[cfg(not(madsim))]
pub mod cli;
pub mod config;
pub mod controller;
pub mod faults;
pub mod group;
pub mod host;
pub mod limits;
pub mod messages;
pub mod metrics;
pub mod partition;
pub mod protocol;
pub mod security;
pub mod storage;
pub mod txn;
pub mod types;
