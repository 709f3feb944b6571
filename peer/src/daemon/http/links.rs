//! `GET /api/v1/groups/{group}/files/{name}/link` (a file's link, as `peer link --json`) and
//! `GET /api/v1/find/{sha1}` (the files with that content in the user's groups, as
//! `peer find --json`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::body::Segments;
use super::error::HttpError;
use super::HttpState;
use crate::link::{link_trackers, LinkView};
use crate::ops::{files, find};

/// `GET /api/v1/groups/{group}/files/{name}/link`: the link names the daemon's trackers.
pub async fn link(
    State(s): State<Arc<HttpState>>,
    Segments((group, name)): Segments<(String, String)>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let addrs = d.tracker.trackers();
    let trackers = link_trackers(addrs.iter().map(String::as_str));
    let link = files::link(&d.tracker, &d.home, &group, &name, trackers).await?;
    Ok(Json(LinkView::from(&link)).into_response())
}

/// `GET /api/v1/find/{sha1}`: `{"files": [...]}`, every page; 400 for a SHA-1 that is not 40
/// hexadecimal digits.
pub async fn find(
    State(s): State<Arc<HttpState>>,
    Segments(sha1): Segments<String>,
) -> Result<Response, HttpError> {
    let file_hash = find::parse_sha1(&sha1).map_err(|e| HttpError::bad_request(e.to_string()))?;
    let d = &s.daemon;
    let rows = find::find(&d.tracker, &d.home, file_hash).await?;
    Ok(Json(json!({ "files": rows })).into_response())
}
