//! The admin endpoint's HTTP server: actix-web on a thread of its own with its own runtime
//! (actix runs its workers on a local task set; the broker's runtime is left alone).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use actix_web::{web, App, HttpResponse, HttpServer};

use super::actions::Writer;
use super::auth::AdminSecurity;
use super::{collect, console, gauges, health, recorder, writes};
use crate::actor::client::ActorClient;
use crate::messages::NodeMsg;
use crate::types::NodeId;

/// How often the exporter's pending samples are folded into its histograms.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// What the handlers need: the way to this node's actors and what the server knows of itself.
pub struct AdminState<C> {
    pub node: C,
    pub me: NodeId,
    /// A broker (not a controller-only node): it registers, leads partitions.
    pub broker: bool,
    /// Set once the Kafka listeners accept clients; cleared when the server stops.
    pub serving: Arc<AtomicBool>,
    /// The broker's `min.insync.replicas`, for the under-min-ISR gauge.
    pub min_insync_default: u32,
    /// Who may write through the console ([`auth`]).
    pub security: AdminSecurity,
    /// The way into the gateway, set once the broker serves clients (never on a
    /// controller-only node): the console's writes go through it ([`super::actions`]).
    pub writer: Arc<OnceLock<Writer>>,
}

/// The running endpoint; stopped by [`AdminServer::stop`] (or when dropped, without waiting).
pub struct AdminServer {
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AdminServer {
    /// Serves `state` on `listener` (already bound, so a busy port is the caller's error).
    pub fn start<C: ActorClient<NodeMsg>>(
        listener: std::net::TcpListener,
        state: AdminState<C>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state = web::Data::new(state);
        // Installed before the first request, so what the broker counts from now on is kept.
        let _ = recorder::global();
        let (started, handle) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rill-admin".to_string())
            .spawn(move || {
                let system = actix_rt::System::new();
                system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(state.clone())
                            .route("/", web::get().to(console_page))
                            .route("/api/cluster.json", web::get().to(cluster_json::<C>))
                            .route("/api/node.json", web::get().to(node_json::<C>))
                            .route("/metrics", web::get().to(metrics::<C>))
                            .route("/healthz", web::get().to(healthz::<C>))
                            .route("/readyz", web::get().to(readyz::<C>))
                            // The console's login and writes (`writes`).
                            .route("/api/session", web::get().to(writes::session::<C>))
                            .route(
                                "/api/topics/create",
                                web::post().to(writes::create_topic::<C>),
                            )
                            .route(
                                "/api/topics/delete",
                                web::post().to(writes::delete_topic::<C>),
                            )
                            .route(
                                "/api/topics/partitions",
                                web::post().to(writes::create_partitions::<C>),
                            )
                            .route(
                                "/api/groups/reset-offsets",
                                web::post().to(writes::reset_offsets::<C>),
                            )
                            .default_service(web::route().to(writes::preflight_or_404::<C>))
                            .app_data(web::PayloadConfig::new(writes::BODY_BYTES_MAX))
                    })
                    // One worker: scrapes and probes are rare, and the broker owns the cores.
                    .workers(1)
                    // The broker handles SIGINT/SIGTERM (a clean shutdown), not actix.
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener);
                    let server = match server {
                        Ok(server) => server.run(),
                        Err(error) => {
                            let _ = started.send(Err(error));
                            return;
                        }
                    };
                    let _ = started.send(Ok(server.handle()));
                    // Samples wait in the exporter until an upkeep folds them into their
                    // histograms: done here on a timer, so a broker nobody scrapes does not
                    // keep every request's latency.
                    if let Some(handle) = recorder::global() {
                        actix_rt::spawn(async move {
                            let mut every = actix_rt::time::interval(UPKEEP_INTERVAL);
                            loop {
                                every.tick().await;
                                handle.run_upkeep();
                            }
                        });
                    }
                    if let Err(error) = server.await {
                        tracing::warn!(%error, "the admin endpoint stopped");
                    }
                });
            })?;
        let handle = handle
            .recv()
            .map_err(|_| std::io::Error::other("the admin endpoint's thread ended"))??;
        Ok(Self {
            addr,
            handle,
            thread: Some(thread),
        })
    }

    /// Stops taking requests and waits for the thread to end.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for AdminServer {
    /// A server whose start failed after its endpoint started: the endpoint stops too (the
    /// command is sent at once; nothing waits for it).
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.handle.stop(false);
        }
    }
}

/// The web console: one self-contained page (no external scripts or styles), read-only.
async fn console_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("console.html"))
}

async fn cluster_json<C: ActorClient<NodeMsg>>(state: web::Data<AdminState<C>>) -> HttpResponse {
    let snapshot = collect::snapshot(&state.node, state.me).await;
    let leader_view = collect::leader_view(&state.node).await;
    let mut cluster = console::cluster(&snapshot, leader_view.as_ref());
    // The page offers a login only where a super user can exist.
    cluster["security"] = serde_json::json!({ "authorizer": state.security.authorizer });
    HttpResponse::Ok().json(cluster)
}

/// Read by the console pages of the other nodes: any origin may read it (it is the same data
/// `/metrics` serves, to the same audience).
async fn node_json<C: ActorClient<NodeMsg>>(state: web::Data<AdminState<C>>) -> HttpResponse {
    let snapshot = collect::snapshot(&state.node, state.me).await;
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(console::node(&snapshot))
}

async fn metrics<C: ActorClient<NodeMsg>>(state: web::Data<AdminState<C>>) -> HttpResponse {
    let snapshot = collect::snapshot(&state.node, state.me).await;
    let mut text = String::new();
    if let Some(handle) = recorder::global() {
        // Histograms are drained into their buckets at upkeep; done here, as nothing else runs
        // it (the exporter's own HTTP listener is not used).
        handle.run_upkeep();
        text = handle.render();
    }
    text.push_str(&gauges::render(&snapshot, state.min_insync_default));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

async fn healthz<C: ActorClient<NodeMsg>>(state: web::Data<AdminState<C>>) -> HttpResponse {
    let asked = crate::messages::quorum::DescribeRequest;
    let timeout = std::time::Duration::from_millis(collect::ASK_TIMEOUT_MS);
    let answered = tokio::time::timeout(timeout, crate::messages::call::ask(&state.node, asked));
    match answered.await {
        Ok(Ok(_)) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        _ => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("the node's actors do not answer\n"),
    }
}

async fn readyz<C: ActorClient<NodeMsg>>(state: web::Data<AdminState<C>>) -> HttpResponse {
    let snapshot = collect::snapshot(&state.node, state.me).await;
    let serving = state.serving.load(Ordering::SeqCst);
    let reasons = health::not_ready(&snapshot, serving, state.broker);
    let body = serde_json::json!({ "ready": reasons.is_empty(), "reasons": reasons });
    match reasons.is_empty() {
        true => HttpResponse::Ok().json(body),
        false => HttpResponse::ServiceUnavailable().json(body),
    }
}
