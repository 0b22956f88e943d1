//! The host: THE ONLY place that imports tokio, sockets, files and the clock.
//!
//! It runs actors (one tokio task and one bounded mailbox each), executes their effects, keeps
//! their timers, and carries inter-node messages over TCP. Under `--cfg madsim` the same code runs
//! on madsim's virtual time and simulated network, because tokio is `madsim-tokio`.
//!
//! * [`node`]: start a node's actors, route messages, answer host-side requests.
//! * [`transport`]: length-prefixed, versioned postcard frames over TCP, with reconnect.
//! * [`admission`]: `max.connections`, `connections.max.idle.ms`, `queued.max.request.bytes`.
//! * [`kafka`]: the Kafka listeners' connections; [`tls`]: their TLS (rustls; not under madsim);
//!   [`tls_reload`]: their certificate files read again while they serve.
//! * [`clock`], [`rng`]: the only sources of time and randomness handed to actors.
//! * [`dir_lock`]: the log directory's `.lock` (one server per directory).
//! * [`fd_limit`]: the descriptor limit, raised at start, and the budget derived from it.
//! * [`admin`]: the admin endpoint (`admin.listener`: metrics, health, the web console; actix-web,
//!   production only), started and stopped with the server ([`admin::endpoint`]).

#![allow(clippy::disallowed_methods)] // the host is where the clock, spawn and entropy live

pub mod admin;
pub mod admission;
pub mod clean_shutdown;
pub mod clock;
pub mod dir_lock;
pub mod fd_limit;
pub mod kafka;
pub mod node;
pub mod peers;
pub mod rng;
pub mod server;
pub mod tls;
pub mod tls_reload;
pub mod transport;

pub use node::{Node, NodeActor, NodeConfig};
