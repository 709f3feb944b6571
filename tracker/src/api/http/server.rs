//! The HTTP listener (`--http-addr`): plain HTTP/1.1, GET only, for operators and their
//! monitoring on a private or loopback address (see the module doc of [`super`]). Bounded:
//! at most [`MAX_CONNECTIONS`] connections at once (more are closed as they arrive, by the same
//! accept loop as the other listeners), [`HEADER_READ_TIMEOUT`] to send a request's headers,
//! headers within [`MAX_HEADER_BYTES`], a connection closed after [`CONNECTION_LIFETIME`], and a
//! request with a body refused (413) before any handler runs. One span per request.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tracing::Instrument;

use proto::conn_limits::{ConnCounter, ConnLimits};

use super::health::{readiness, Metrics, ReadyLimits};
use super::status::NodeView;
use super::{metrics, page, process, HttpContext};
use crate::counters::COUNTERS;

/// Most HTTP connections open at once (from all sources together).
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed this long after it opened, whatever it is doing (a scraper reconnects).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Most bytes of a request's line and headers (hyper's read buffer).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Serves HTTP on `listener` forever.
pub async fn serve(listener: TcpListener, ctx: Arc<HttpContext>) {
    let caps = ConnCounter::new(ConnLimits {
        total: MAX_CONNECTIONS,
        per_source: MAX_CONNECTIONS,
    });
    let router = router(ctx);
    proto::accept::serve_each_capped(
        listener,
        "http",
        caps,
        |addr| tracing::debug_span!("http_conn", client = %addr),
        move |stream| {
            let service = TowerToHyperService::new(router.clone());
            async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .max_buf_size(MAX_HEADER_BYTES)
                    .serve_connection(TokioIo::new(stream), service);
                match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                    Err(_) => Ok(()),
                    Ok(r) => r.map_err(|e| e.to_string()),
                }
            }
        },
    )
    .await;
}

/// The routes over `ctx`.
pub fn router(ctx: Arc<HttpContext>) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .route("/v1/status", get(status_json))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(guard))
        .with_state(ctx)
}

/// Opens the request's span and refuses what no endpoint takes: a method other than GET or
/// HEAD (405) and any request body (413).
async fn guard(req: Request, next: Next) -> Response {
    let span = tracing::debug_span!("http", method = %req.method(), path = %req.uri().path());
    async move {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "GET, HEAD")],
                "only GET is served here\n",
            )
                .into_response();
        }
        let headers = req.headers();
        let has_body = headers.contains_key(header::TRANSFER_ENCODING)
            || headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        if has_body {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request bodies are not accepted\n",
            )
                .into_response();
        }
        let response = next.run(req).await;
        tracing::debug!(status = response.status().as_u16(), "http request done");
        response
    }
    .instrument(span)
    .await
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found; try /, /livez, /readyz, /metrics or /v1/status\n",
    )
}

async fn livez() -> &'static str {
    "ok\n"
}

/// This node's metrics and its readiness.
fn ready(ctx: &HttpContext) -> (Metrics, Result<(), String>) {
    let m = ctx.app.raft.metrics().borrow().clone();
    let config = &ctx.app.config;
    let limits = ReadyLimits {
        quorum_ack: config.election_max.saturating_mul(2),
        leader_silence: config.election_silence,
        max_apply_lag: config.ready_max_apply_lag,
    };
    let verdict = readiness(
        &m,
        COUNTERS.committed(),
        ctx.app.leader_contact.silent_for(),
        limits,
    );
    (m, verdict)
}

async fn readyz(State(ctx): State<Arc<HttpContext>>) -> (StatusCode, String) {
    match ready(&ctx).1 {
        Ok(()) => (StatusCode::OK, "ok\n".into()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn view(ctx: &HttpContext) -> NodeView {
    let counts = ctx.counts.get(&ctx.app.state).await;
    let (m, verdict) = ready(ctx);
    NodeView::new(&m, COUNTERS.committed(), verdict, counts)
}

async fn status_json(State(ctx): State<Arc<HttpContext>>) -> Json<NodeView> {
    Json(view(&ctx).await)
}

async fn status_page(State(ctx): State<Arc<HttpContext>>) -> Html<String> {
    Html(page::render(&view(&ctx).await))
}

async fn scrape(State(ctx): State<Arc<HttpContext>>) -> Response {
    let counts = ctx.counts.get(&ctx.app.state).await;
    let (raft, verdict) = ready(&ctx);
    let api_connections = ctx.api_caps.totals();
    let data_dir = ctx.app.config.data_dir.clone();
    // The data directory's walk and /proc are file reads: off the executor.
    let encoded = tokio::task::spawn_blocking(move || {
        metrics::encode(metrics::Scrape {
            raft,
            ready: verdict.is_ok(),
            api_connections,
            counts,
            data_dir_bytes: process::dir_bytes(&data_dir),
            process: process::sample(),
        })
    })
    .await;
    match encoded {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => internal(&e.to_string()),
        Err(e) => internal(&e.to_string()),
    }
}

fn internal(why: &str) -> Response {
    tracing::warn!(%why, "metrics not encoded");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "metrics could not be encoded\n",
    )
        .into_response()
}
