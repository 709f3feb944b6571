//! The daemon's HTTP surface: the JSON API under `/api/v1` that the web UI and scripts use, the
//! web UI's static files, `GET /metrics` and `GET /livez`. The routes and their shapes are in
//! `openapi.json` (served at `/api/v1/openapi.json`), which is the contract.
//!
//! Plain HTTP on loopback by default (`--http-addr`, refused on another address unless
//! `--http-allow-remote`). Every `/api/v1/*` route but the OpenAPI document needs the home's
//! access token ([`auth`]); every request must name this server in `Host`, and a state-changing
//! one must not come from another origin. The bound URL goes to `HOME/http.json` for `peer ui`.
//!
//! # Layout
//! - `server`: the listener, its connection cap and header timeout.
//! - [`auth`]: the token file, the token check, the Host/Origin guard.
//! - [`error`]: the error shape and the mapping of the library's errors to codes.
//! - `body`: JSON request bodies (size-limited, `application/json` only).
//! - `session`, `groups`, `files`, `swarm`, `links`, `downloads`, `events`, `cluster`, `daemon_info`: the
//!   API, one file per area, each calling the code the CLI uses.
//! - `assets`: the web UI's files (compiled in from `peer/ui/`) and the cookie login link.
//! - `openapi`: the OpenAPI document.
//! - `meta`: `/metrics` and `/livez`.

mod assets;
pub mod auth;
mod body;
mod cluster;
mod daemon_info;
mod downloads;
pub mod error;
mod events;
mod files;
mod groups;
mod links;
mod meta;
mod openapi;
mod server;
mod session;
mod swarm;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::Daemon;
use crate::home::{write_json_private, Home};
pub use openapi::OPENAPI_JSON;
pub use server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS as MAX_HTTP_CONNECTIONS};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// Time limit of one request (sharing a file, which hashes it, has [`SHARE_TIMEOUT`]; the event
/// stream has none).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Time limit of sharing a file (as the CLI's control-socket timeout).
pub const SHARE_TIMEOUT: Duration = Duration::from_secs(600);
/// Event streams open at once.
pub const MAX_EVENT_STREAMS: usize = 16;

/// `--http-addr` and `--http-allow-remote`.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where to listen (`HOST:PORT`; port 0 picks a free one).
    pub addr: String,
    /// Whether a non-loopback address is allowed.
    pub allow_remote: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            addr: "127.0.0.1:0".into(),
            allow_remote: false,
        }
    }
}

/// What `HOME/http.json` holds: where the running daemon's HTTP server is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpInfo {
    /// `http://HOST:PORT/`.
    pub url: String,
    /// The daemon's process id.
    pub pid: u32,
}

/// Path of `HOME/http.json`.
pub fn info_path(home: &Home) -> std::path::PathBuf {
    home.dir.join("http.json")
}

/// What every handler shares.
pub struct HttpState {
    /// The daemon.
    pub daemon: Arc<Daemon>,
    /// The home's access token.
    pub token: auth::AccessToken,
    /// The hosts this server answers to.
    pub allowed: auth::Allowed,
    /// Slots for open event streams.
    pub event_streams: Arc<Semaphore>,
}

/// The running HTTP server.
pub struct WebServer {
    /// `http://HOST:PORT/`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
    info_file: std::path::PathBuf,
}

impl WebServer {
    /// Stops accepting connections and removes `HOME/http.json`.
    pub fn stop(&self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.info_file);
    }
}

/// Binds the HTTP server, loads or makes the access token, writes `HOME/http.json` and starts
/// serving.
///
/// # Errors
/// A bad or non-loopback address without `allow_remote`, an address in use, or the token or
/// info file cannot be made.
pub async fn start(daemon: Arc<Daemon>, opts: &HttpOptions) -> anyhow::Result<WebServer> {
    let addr = resolve(&opts.addr).await?;
    if !addr.ip().is_loopback() && !opts.allow_remote {
        anyhow::bail!(
            "--http-addr {} is not a loopback address: the API would answer anyone on the \
             network who has the token, over plain HTTP; pass --http-allow-remote (and put TLS \
             in front of it) if that is what you want",
            opts.addr
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("while binding the HTTP address {addr}"))?;
    let bound = listener.local_addr()?;
    let token = auth::load_or_create_token(&daemon.home)?;
    let url = format!("http://{bound}/");
    let info_file = info_path(&daemon.home);
    write_json_private(
        &info_file,
        &HttpInfo {
            url: url.clone(),
            pid: std::process::id(),
        },
    )?;
    let state = Arc::new(HttpState {
        daemon,
        token,
        allowed: auth::Allowed::for_addr(bound),
        event_streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
    });
    let task = tokio::spawn(server::task_serve(listener, router(state)));
    tracing::info!(%url, "HTTP API and web UI listening");
    Ok(WebServer {
        url,
        task,
        info_file,
    })
}

/// `HOST:PORT` to one socket address (the first a name resolves to).
async fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("--http-addr {addr:?} is not HOST:PORT"))?
        .next()
        .with_context(|| format!("--http-addr {addr:?} resolves to no address"))
}

/// Every route.
pub fn router(state: Arc<HttpState>) -> Router {
    let api = Router::new()
        .route("/api/v1/session", get(session::get))
        .route("/api/v1/session/login", post(session::login))
        .route("/api/v1/session/logout", post(session::logout))
        .route("/api/v1/users", post(session::create_user))
        .route("/api/v1/account", get(session::account))
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route("/api/v1/groups/{group}/join", post(groups::join))
        .route("/api/v1/groups/{group}/leave", post(groups::leave))
        .route("/api/v1/groups/{group}/requests", get(groups::requests))
        .route(
            "/api/v1/groups/{group}/requests/{user}/accept",
            post(groups::accept),
        )
        .route(
            "/api/v1/groups/{group}/requests/{user}/reject",
            post(groups::reject),
        )
        .route(
            "/api/v1/groups/{group}/members/{user}/remove",
            post(groups::remove),
        )
        .route(
            "/api/v1/groups/{group}/files",
            get(files::list).post(files::share),
        )
        .route(
            "/api/v1/groups/{group}/files/{name}",
            axum::routing::delete(files::stop_share),
        )
        .route(
            "/api/v1/groups/{group}/files/{name}/sources",
            get(swarm::sources),
        )
        .route(
            "/api/v1/groups/{group}/files/{name}/unpublish",
            post(files::unpublish),
        )
        .route("/api/v1/groups/{group}/files/{name}/link", get(links::link))
        .route("/api/v1/groups/{group}/peers", get(swarm::peers))
        .route("/api/v1/find/{sha1}", get(links::find))
        .route(
            "/api/v1/downloads",
            get(downloads::list).post(downloads::start),
        )
        .route(
            "/api/v1/downloads/{id}",
            axum::routing::delete(downloads::cancel),
        )
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/cluster", get(cluster::status))
        .route("/api/v1/daemon", get(daemon_info::info))
        .route("/api/v1/shares", get(daemon_info::shares))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .merge(api)
        .route("/", get(assets::index))
        .route("/assets/app.js", get(assets::app_js))
        .route("/assets/app.css", get(assets::app_css))
        .route("/assets/icon.svg", get(assets::icon_svg))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(meta::metrics))
        .route("/livez", get(meta::livez))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::guard_host_origin,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(span_and_deadline))
        .with_state(state)
}

async fn not_found() -> Response {
    error::HttpError::not_found("no such route: see /api/v1/openapi.json").into_response()
}

async fn method_not_allowed() -> Response {
    error::HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method: see /api/v1/openapi.json",
    )
    .into_response()
}

/// One span per request, and its time limit.
async fn span_and_deadline(req: Request, next: Next) -> Response {
    let span = tracing::debug_span!("http", method = %req.method(), path = %req.uri().path());
    let path = req.uri().path();
    let limit = if path == "/api/v1/events" {
        None
    } else if req.method() == Method::POST && path.ends_with("/files") {
        Some(SHARE_TIMEOUT)
    } else {
        Some(REQUEST_TIMEOUT)
    };
    let run = next.run(req).instrument(span);
    match limit {
        None => run.await,
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => error::HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("no answer within {limit:?}; retry"),
            )
            .into_response(),
        },
    }
}
