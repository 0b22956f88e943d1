//! The admin endpoint: HTTP for operators, beside the Kafka listeners (production only: never
//! compiled into the simulation, where nothing scrapes).
//!
//! `admin.listener` (default `127.0.0.1:9644`, empty: off) serves
//! * `/metrics` — Prometheus text: what the broker counts as it works ([`crate::metrics`],
//!   recorded into the process-wide exporter [`recorder`]) and, at each scrape, gauges of its
//!   state asked from its actors ([`collect`] asks, [`gauges`] renders);
//! * `/healthz` — live: the node's actors answer;
//! * `/readyz` — ready: serving its listeners, registered and unfenced, caught up with the
//!   metadata log, holding open every partition it leads ([`health`]);
//! * `/` — the web console (`console.html`), fed by `/api/cluster.json` here and
//!   `/api/node.json` at every node ([`console`]; each node registers its admin address);
//!   read-only, but for a super user when security is on ([`writes`]: the gate every login and
//!   write passes): `/api/session` checks a login ([`auth`]: HTTP Basic against the broker's
//!   PLAIN and SCRAM users) from the cluster's own pages only ([`origin`]), and
//!   `/api/topics/{create,delete,partitions}` and `/api/groups/reset-offsets` write as Kafka
//!   requests through the broker's own gateway under that principal ([`actions`]).
//!
//! [`http`] is the actix-web server (its own thread and runtime, as actix wants; it reaches
//! the actors through the same [`ActorClient`](crate::actor::client::ActorClient) the gateway
//! uses).

// The HTTP side exists only in production builds; the server's handle on it
// ([`endpoint::Endpoint`]) in both, doing nothing under madsim.
#[cfg(not(madsim))]
pub mod actions;
#[cfg(not(madsim))]
pub mod auth;
#[cfg(not(madsim))]
pub mod collect;
#[cfg(not(madsim))]
pub mod console;
pub mod endpoint;
#[cfg(not(madsim))]
pub mod gauges;
#[cfg(not(madsim))]
pub mod health;
#[cfg(not(madsim))]
pub mod http;
#[cfg(not(madsim))]
pub mod origin;
#[cfg(not(madsim))]
pub mod recorder;
#[cfg(not(madsim))]
pub mod writes;

#[cfg(all(test, not(madsim)))]
mod tests;
