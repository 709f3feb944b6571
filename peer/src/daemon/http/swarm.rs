//! `GET /api/v1/groups/{group}/files/{name}/sources` (every peer holding a file, as
//! `peer sources`) and `GET /api/v1/groups/{group}/peers` (the online peers of the group's
//! members, as `peer peers`), in the rows the CLI's `--json` prints.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use proto::tracker_msg::to_hex;

use super::body::Segments;
use super::error::HttpError;
use super::HttpState;
use crate::ops::swarm::{self, PeerRow, SourceRow};

/// `GET /api/v1/groups/{group}/files/{name}/sources`.
pub async fn sources(
    State(s): State<Arc<HttpState>>,
    Segments((group, name)): Segments<(String, String)>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let found = swarm::sources(&d.tracker, &d.home, &group, &name).await?;
    let m = &found.manifest;
    let count = m.chunk_hashes.len();
    let rows: Vec<SourceRow> = found
        .holders
        .iter()
        .map(|h| SourceRow::of(h, count))
        .collect();
    let body = json!({
        "file": {
            "name": m.name,
            "size_bytes": m.size_bytes,
            "chunks": count,
            "sha1": to_hex(&m.file_hash),
        },
        "sources": rows,
    });
    Ok(Json(body).into_response())
}

/// `GET /api/v1/groups/{group}/peers`.
pub async fn peers(
    State(s): State<Arc<HttpState>>,
    Segments(group): Segments<String>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let rows: Vec<PeerRow> = swarm::peers(&d.tracker, &d.home, &group)
        .await?
        .into_iter()
        .map(PeerRow::of)
        .collect();
    Ok(Json(json!({ "peers": rows })).into_response())
}
