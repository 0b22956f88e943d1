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
//! * `/` — the web console (`console.html`, read-only), fed by `/api/cluster.json` here and
//!   `/api/node.json` at every node ([`console`]; each node registers its admin address).
//!
//! [`http`] is the actix-web server (its own thread and runtime, as actix wants; it reaches
//! the actors through the same [`ActorClient`](crate::actor::client::ActorClient) the gateway
//! uses).

pub mod collect;
pub mod console;
pub mod gauges;
pub mod health;
pub mod http;
pub mod recorder;

#[cfg(test)]
mod tests;
