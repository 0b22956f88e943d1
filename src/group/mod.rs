//! The group coordinator: consumer groups (Kafka's classic protocol, later KIP-848) and their
//! committed offsets, kept in `__consumer_offsets`.
//!
//! One `GROUPS` actor per node hosts one shard per `__consumer_offsets` partition this node
//! leads; a shard is the whole coordinator of its partition (its groups, offsets, load state
//! and writes in flight). The state machines are pure — they take a clock and return outputs —
//! so they are tested without a runtime; the actor turns their outputs into effects.
//!
//! A Roles folder: it imports `messages`, `actor`, `storage` and `types`, never another role
//! folder (`partition`, `controller`) and never `host` or `config`. The partitions actor and
//! the topics actor are reached through `messages` only.

pub mod settings;
