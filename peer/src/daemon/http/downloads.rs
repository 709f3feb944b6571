//! `/api/v1/downloads...`: this daemon's downloads with their progress, starting one (the
//! daemon's own, as `peer download --detach`, by group and name or by link) and cancelling one.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::body::{JsonBody, Segments};
use super::error::HttpError;
use super::HttpState;
use crate::control::{DownloadInfo, DownloadState, ExpectedContent, SourceRow};
use crate::daemon::download::{self, eta_secs};
use crate::daemon::Daemon;
use crate::link::FileLink;

/// One download as listed.
#[derive(Debug, Serialize)]
pub struct DownloadRow {
    id: String,
    group: String,
    name: String,
    /// The destination (not UTF-8 parts replaced).
    dest: String,
    /// `running`, `complete`, `failed` or `cancelled`.
    state: &'static str,
    size_bytes: u64,
    bytes_done: u64,
    percent: f64,
    chunks_done: u32,
    chunk_count: u32,
    speed_bytes_per_sec: u64,
    eta_secs: Option<u64>,
    peers: u32,
    error: Option<String>,
    /// Every source connected to, with its speed now, round trip and what it sent.
    sources: Vec<SourceRow>,
}

impl From<DownloadInfo> for DownloadRow {
    fn from(d: DownloadInfo) -> Self {
        let percent = if d.total_bytes == 0 {
            100.0
        } else {
            // Rounded to a tenth: the figure is for display.
            (d.bytes_done as f64 * 1000.0 / d.total_bytes as f64).floor() / 10.0
        };
        let running = d.state == DownloadState::Running;
        let remaining = d.total_bytes.saturating_sub(d.bytes_done);
        DownloadRow {
            sources: d.sources.iter().map(SourceRow::from).collect(),
            state: d.state.name(),
            error: match &d.state {
                DownloadState::Failed(why) => Some(why.clone()),
                _ => None,
            },
            eta_secs: if running {
                eta_secs(remaining, d.bytes_per_sec)
            } else {
                None
            },
            id: d.id,
            group: d.group,
            name: d.name,
            dest: d.dest.to_string_lossy().into_owned(),
            size_bytes: d.total_bytes,
            bytes_done: d.bytes_done,
            percent,
            chunks_done: d.chunks_done,
            chunk_count: d.chunk_count,
            speed_bytes_per_sec: d.bytes_per_sec,
            peers: d.peers,
        }
    }
}

/// `{"downloads": [...]}`, as `GET /api/v1/downloads` and the event stream send it.
pub fn listing(daemon: &Daemon) -> serde_json::Value {
    let rows: Vec<DownloadRow> = daemon
        .downloads()
        .iter()
        .map(|h| DownloadRow::from(h.info()))
        .collect();
    json!({ "downloads": rows })
}

/// `POST /api/v1/downloads` body: `group` and `name`, or a `link` from `peer link`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    group: Option<String>,
    name: Option<String>,
    link: Option<String>,
    dest: Option<PathBuf>,
}

impl StartRequest {
    /// The group, the file name and, for a link, the size and SHA-1 the file must have.
    ///
    /// # Errors
    /// 400: neither or both forms, or a link that does not parse (the parser's message).
    fn target(&mut self) -> Result<(String, String, Option<ExpectedContent>), HttpError> {
        match (self.link.take(), self.group.take(), self.name.take()) {
            (Some(text), None, None) => {
                let l =
                    FileLink::parse(&text).map_err(|e| HttpError::bad_request(e.to_string()))?;
                let expect = ExpectedContent {
                    size_bytes: l.size_bytes,
                    file_hash: l.file_hash,
                };
                Ok((l.group, l.name, Some(expect)))
            }
            (None, Some(group), Some(name)) => Ok((group, name, None)),
            _ => Err(HttpError::bad_request(
                "give either \"group\" and \"name\", or \"link\" (from `peer link`)",
            )),
        }
    }
}

/// `GET /api/v1/downloads`.
pub async fn list(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    Json(listing(&s.daemon))
}

/// `POST /api/v1/downloads` (201 `{"id"}`): `dest` must be absolute; without it the file goes
/// to `NAME` in the daemon's download folder (`--download-dir`, default `HOME/downloads`).
/// Something already at the destination is never replaced (409). With a `link`, the group's
/// file must still have the link's size and SHA-1 (409 if not), as with `peer download LINK`.
pub async fn start(
    State(s): State<Arc<HttpState>>,
    JsonBody(mut r): JsonBody<StartRequest>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let (group, name, expect) = r.target()?;
    d.home.session()?;
    let dest = match r.dest {
        Some(p) if p.is_absolute() => p,
        Some(p) => {
            return Err(HttpError::bad_request(format!(
                "dest {} is not absolute: give the full path",
                p.display()
            )))
        }
        None => download::default_dest(d, &name)?,
    };
    let id = download::start(d, group, name, dest, expect).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `DELETE /api/v1/downloads/{id}` (204): stops a running download and removes its `.part`
/// file; 404 for an unknown id, 409 for one that already ended.
pub async fn cancel(
    State(s): State<Arc<HttpState>>,
    Segments(id): Segments<String>,
) -> Result<StatusCode, HttpError> {
    let Some(h) = s.daemon.download_by_id(&id) else {
        return Err(HttpError::not_found(format!(
            "no download {id:?}: list them with GET /api/v1/downloads"
        )));
    };
    if !h.cancel() {
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("download {id} is {} already", h.state().name()),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
