//! The console's login and writes over HTTP: `/api/session` (who do these credentials name,
//! and may they write?) and the four writes ([`super::actions`]). Every one passes the same
//! gate, in this order:
//! 1. a browser page's request must come from one of the cluster's console pages
//!    ([`super::origin`]); the answer names that origin for CORS, never `*`;
//! 2. security on (`authorizer.class.name`), or the console is read-only;
//! 3. a write's body is JSON, declared so (`Content-Type: application/json`): a browser sends
//!    such a request from another page only after a preflight, which names no other origin;
//! 4. HTTP Basic credentials of a broker user ([`super::auth`]); a failed login waits
//!    [`FAILED_LOGIN_DELAY_MS`] before its answer;
//! 5. a super user (`super.users`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::actions::{ActionError, NewOffset, Writer};
use super::auth::{self, Authenticated};
use super::http::AdminState;
use super::{collect, origin};
use crate::actor::client::ActorClient;
use crate::messages::NodeMsg;
use crate::security::principal::KafkaPrincipal;

/// How long a failed login's answer waits: guessing passwords through the endpoint goes at
/// a few tries a second per connection, and costs the endpoint nothing meanwhile (an async
/// wait).
pub const FAILED_LOGIN_DELAY_MS: u64 = 250;

/// The largest write request body read (a reset of many partitions is the longest).
pub const BODY_BYTES_MAX: usize = 1 << 20;

/// A request's answer: `{ok, message}` (and `extra` fields), readable by `origin` only.
fn answered(origin: Option<&str>, result: Result<serde_json::Value, ActionError>) -> HttpResponse {
    let (status, body) = match result {
        Ok(mut body) => {
            body["ok"] = true.into();
            (200, body)
        }
        Err(e) => (
            e.status,
            serde_json::json!({ "ok": false, "message": e.message }),
        ),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = HttpResponse::build(status);
    answer.insert_header(("Cache-Control", "no-store"));
    answer.insert_header(("Vary", "Origin"));
    if let Some(origin) = origin {
        answer.insert_header(("Access-Control-Allow-Origin", origin));
    }
    answer.json(body)
}

fn message(text: String) -> serde_json::Value {
    serde_json::json!({ "message": text })
}

/// Step 1: `Ok(Some(origin))` for a page of the cluster, `Ok(None)` for a request no page
/// sent (no `Origin`), `Err` for any other page.
async fn page_origin<C: ActorClient<NodeMsg>>(
    state: &AdminState<C>,
    request: &HttpRequest,
) -> Result<Option<String>, ActionError> {
    let header = |name: &str| (request.headers().get(name)).and_then(|h| h.to_str().ok());
    let Some(origin) = header("origin") else {
        return Ok(None);
    };
    let cluster = collect::admin_origins(&state.node).await;
    match origin::allowed(origin, header("host"), &cluster) {
        true => Ok(Some(origin.to_string())),
        false => Err(ActionError::new(
            403,
            format!(
                "the console takes logins and writes only from the cluster's own console \
                 pages (its nodes' admin addresses, {}), not from {origin}",
                cluster.join(", ")
            ),
        )),
    }
}

/// Steps 2, 4 and 5 (step 3 is the caller's: only writes have a body).
async fn login<C: ActorClient<NodeMsg>>(
    state: &AdminState<C>,
    request: &HttpRequest,
) -> Result<Authenticated, ActionError> {
    if !state.security.authorizer {
        return Err(ActionError::new(
            403,
            "the console is read-only: its writes need security on (authorizer.class.name) \
             and a super user (super.users)",
        ));
    }
    let header = (request.headers().get("authorization"))
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ActionError::new(401, "log in: no Authorization: Basic header"))?;
    let basic = auth::parse_basic(header).ok_or_else(|| {
        ActionError::new(
            401,
            "log in: the Authorization header is not Basic user:password",
        )
    })?;
    match auth::authenticate(&state.node, &state.security, &basic).await {
        Ok(Some(authenticated)) => Ok(authenticated),
        Ok(None) => {
            tracing::info!(user = ?basic.username, "admin endpoint: a failed login");
            let delay = std::time::Duration::from_millis(FAILED_LOGIN_DELAY_MS);
            tokio::time::sleep(delay).await;
            Err(ActionError::new(
                401,
                crate::security::plain::FAILED_MESSAGE,
            ))
        }
        Err(error) => {
            tracing::warn!(%error, "admin endpoint: the users' credentials could not be read");
            Err(ActionError::new(
                503,
                format!("the users' credentials could not be read: {error}"),
            ))
        }
    }
}

/// The whole gate for a write: the origin to answer, the way into the gateway, the super
/// user, and the body.
async fn gate<C: ActorClient<NodeMsg>, T: serde::de::DeserializeOwned>(
    state: &AdminState<C>,
    request: &HttpRequest,
    bytes: &[u8],
) -> Result<(Option<String>, Writer, KafkaPrincipal, T), (Option<String>, ActionError)> {
    let origin = page_origin(state, request).await.map_err(|e| (None, e))?;
    let fail = |e: ActionError| (origin.clone(), e);
    let json = (request.headers().get("content-type"))
        .and_then(|h| h.to_str().ok())
        .is_some_and(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(fail(ActionError::new(
            415,
            "a write's body is JSON: send Content-Type: application/json",
        )));
    }
    let Some(writer) = state.writer.get().cloned() else {
        let why = "this node takes no writes: not serving clients yet, or a controller-only node";
        return Err(fail(ActionError::new(503, why)));
    };
    let authenticated = login(state, request).await.map_err(fail)?;
    if !authenticated.super_user {
        return Err(fail(ActionError::new(
            403,
            format!(
                "{} is not a super user (super.users): the console is read-only for it",
                authenticated.principal
            ),
        )));
    }
    let body = serde_json::from_slice(bytes)
        .map_err(|e| fail(ActionError::new(400, format!("the request body: {e}"))))?;
    Ok((origin, writer, authenticated.principal, body))
}

/// Logs a write's outcome (who, what, and how it ended) and answers it.
fn done(
    origin: Option<&str>,
    who: &KafkaPrincipal,
    action: &str,
    result: Result<String, ActionError>,
) -> HttpResponse {
    match &result {
        Ok(outcome) => tracing::info!(principal = %who, action, %outcome, "console write"),
        Err(e) => tracing::info!(principal = %who, action, refused = %e.message, "console write"),
    }
    answered(origin, result.map(message))
}

/// CORS preflight for the login and writes (a request with `Authorization` and a JSON body),
/// answered for the cluster's own pages only; 404 for anything else no route takes.
pub async fn preflight_or_404<C: ActorClient<NodeMsg>>(
    state: web::Data<AdminState<C>>,
    request: HttpRequest,
) -> HttpResponse {
    let api = request.path().starts_with("/api/");
    if request.method() != actix_web::http::Method::OPTIONS || !api {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("not found\n");
    }
    let mut answer = HttpResponse::NoContent();
    answer.insert_header(("Vary", "Origin"));
    if let Ok(Some(origin)) = page_origin(&state, &request).await {
        answer
            .insert_header(("Access-Control-Allow-Origin", origin))
            .insert_header(("Access-Control-Allow-Methods", "GET, POST"))
            .insert_header((
                "Access-Control-Allow-Headers",
                "authorization, content-type",
            ))
            .insert_header(("Access-Control-Max-Age", "600"));
    }
    answer.finish()
}

/// Who the request's credentials name: `{user, super_user, message}`; 401 for wrong ones, 403
/// with security off or from another site's page.
pub async fn session<C: ActorClient<NodeMsg>>(
    state: web::Data<AdminState<C>>,
    request: HttpRequest,
) -> HttpResponse {
    let origin = match page_origin(&state, &request).await {
        Ok(origin) => origin,
        Err(e) => return answered(None, Err(e)),
    };
    let result = login(&state, &request).await.map(|who| {
        let role = match who.super_user {
            true => "super user",
            false => "not a super user: read-only",
        };
        serde_json::json!({
            "user": who.principal.to_string(),
            "super_user": who.super_user,
            "message": format!("logged in as {} ({role})", who.principal),
        })
    });
    answered(origin.as_deref(), result)
}

#[derive(serde::Deserialize)]
pub struct CreateTopic {
    name: String,
    /// -1 (the default): the broker's `num.partitions`.
    #[serde(default = "broker_default")]
    partitions: i32,
    /// -1 (the default): the broker's `default.replication.factor`.
    #[serde(default = "broker_default_rf")]
    replication_factor: i16,
}

fn broker_default() -> i32 {
    -1
}

fn broker_default_rf() -> i16 {
    -1
}

#[derive(serde::Deserialize)]
pub struct TopicOnly {
    name: String,
}

#[derive(serde::Deserialize)]
pub struct CreatePartitions {
    name: String,
    count: i32,
}

#[derive(serde::Deserialize)]
pub struct ResetOffsets {
    group: String,
    offsets: Vec<NewOffset>,
}

pub async fn create_topic<C: ActorClient<NodeMsg>>(
    state: web::Data<AdminState<C>>,
    request: HttpRequest,
    bytes: web::Bytes,
) -> HttpResponse {
    let (origin, writer, who, asked) = match gate::<C, CreateTopic>(&state, &request, &bytes).await
    {
        Ok(passed) => passed,
        Err((origin, e)) => return answered(origin.as_deref(), Err(e)),
    };
    let result = (writer.create_topic(
        &who,
        &asked.name,
        asked.partitions,
        asked.replication_factor,
    ))
    .await;
    done(origin.as_deref(), &who, "create topic", result)
}

pub async fn delete_topic<C: ActorClient<NodeMsg>>(
    state: web::Data<AdminState<C>>,
    request: HttpRequest,
    bytes: web::Bytes,
) -> HttpResponse {
    let (origin, writer, who, asked) = match gate::<C, TopicOnly>(&state, &request, &bytes).await {
        Ok(passed) => passed,
        Err((origin, e)) => return answered(origin.as_deref(), Err(e)),
    };
    let result = writer.delete_topic(&who, &asked.name).await;
    done(origin.as_deref(), &who, "delete topic", result)
}

pub async fn create_partitions<C: ActorClient<NodeMsg>>(
    state: web::Data<AdminState<C>>,
    request: HttpRequest,
    bytes: web::Bytes,
) -> HttpResponse {
    let gated = gate::<C, CreatePartitions>(&state, &request, &bytes).await;
    let (origin, writer, who, asked) = match gated {
        Ok(passed) => passed,
        Err((origin, e)) => return answered(origin.as_deref(), Err(e)),
    };
    let result = writer
        .create_partitions(&who, &asked.name, asked.count)
        .await;
    done(origin.as_deref(), &who, "add partitions", result)
}

pub async fn reset_offsets<C: ActorClient<NodeMsg>>(
    state: web::Data<AdminState<C>>,
    request: HttpRequest,
    bytes: web::Bytes,
) -> HttpResponse {
    let (origin, writer, who, asked) = match gate::<C, ResetOffsets>(&state, &request, &bytes).await
    {
        Ok(passed) => passed,
        Err((origin, e)) => return answered(origin.as_deref(), Err(e)),
    };
    let result = writer
        .reset_offsets(&who, &asked.group, &asked.offsets)
        .await;
    done(origin.as_deref(), &who, "reset offsets", result)
}
