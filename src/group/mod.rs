//! The group coordinator (issue 12): consumer groups, their committed offsets, and the
//! `__consumer_offsets` records that make both durable.
//!
//! * [`placement`] — which `__consumer_offsets` partition coordinates a group (Kafka's hash).
//! * [`records`] — that topic's record keys and values, in Kafka's byte format.
pub mod placement;
pub mod records;
