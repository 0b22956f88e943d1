//! Partition replicas: the actor that hosts every partition log of a node, with producer state
//! (idempotence), group commit and waiting fetches.

pub mod messages;
