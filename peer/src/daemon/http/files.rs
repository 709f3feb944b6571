//! `/api/v1/groups/{group}/files...`: a group's files (and whether this daemon seeds each),
//! sharing a local file (as `peer upload`), stopping (as `peer stop-share`) and removing the
//! file from the group (as `peer unpublish`).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use proto::tracker_msg::to_hex;
use proto::ApiError;

use super::body::{JsonBody, Segments};
use super::error::HttpError;
use super::HttpState;
use crate::control::ControlResponse;
use crate::daemon::control_server::{self, StopShareError};
use crate::home::HomeError;

/// One file as listed.
#[derive(Debug, Serialize)]
pub struct FileRow {
    name: String,
    size_bytes: u64,
    chunks: u32,
    sha1: String,
    uploader: String,
    seeders: u32,
    partial_peers: u32,
    shared_by_me: bool,
}

/// `POST /api/v1/groups/{group}/files` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    path: PathBuf,
    name: Option<String>,
    chunk_size_bytes: Option<u32>,
    /// Register a new file even if the group has the same content under another name.
    #[serde(default)]
    as_new: bool,
}

/// `GET /api/v1/groups/{group}/files`.
pub async fn list(
    State(s): State<Arc<HttpState>>,
    Segments(group): Segments<String>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let rows: Vec<FileRow> = crate::ops::files::list(&d.tracker, &d.home, &group)
        .await?
        .into_iter()
        .map(|f| FileRow {
            shared_by_me: d.shares.get(&group, &f.name).is_some(),
            name: f.name,
            size_bytes: f.size_bytes,
            chunks: f.chunk_count,
            sha1: to_hex(&f.file_hash),
            uploader: f.uploader,
            seeders: f.full_seeders,
            partial_peers: f.partial_peers,
        })
        .collect();
    Ok(Json(json!({ "files": rows })).into_response())
}

/// `POST /api/v1/groups/{group}/files` (201): hashes the file at `path` (absolute), registers
/// it and seeds it from where it lies; if the group has the same content under another name
/// (and `as_new` is not set), seeds that file instead: the answer's `name` is the one seeded and
/// `existing` is true.
pub async fn share(
    State(s): State<Arc<HttpState>>,
    Segments(group): Segments<String>,
    JsonBody(r): JsonBody<ShareRequest>,
) -> Result<Response, HttpError> {
    if !r.path.is_absolute() {
        return Err(HttpError::bad_request(format!(
            "path {} is not absolute: give the file's full path",
            r.path.display()
        )));
    }
    let name = match r.name {
        Some(n) => n,
        None => r
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                HttpError::bad_request(format!(
                    "{} has no usable file name: pass \"name\"",
                    r.path.display()
                ))
            })?
            .to_string(),
    };
    s.daemon.home.session()?;
    let answer =
        control_server::upload(&s.daemon, group, r.path, name, r.chunk_size_bytes, r.as_new)
            .await?;
    let ControlResponse::Uploaded {
        size_bytes,
        chunk_count,
        file_hash,
        seeded_as,
        existing,
    } = answer
    else {
        return Err(HttpError::internal(format!("unexpected answer {answer:?}")));
    };
    let body = json!({
        "name": seeded_as,
        "size_bytes": size_bytes,
        "chunks": chunk_count,
        "sha1": to_hex(&file_hash),
        "existing": existing,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /api/v1/groups/{group}/files/{name}` (204): stops seeding the file here.
pub async fn stop_share(
    State(s): State<Arc<HttpState>>,
    Segments((group, name)): Segments<(String, String)>,
) -> Result<StatusCode, HttpError> {
    match control_server::stop_share(&s.daemon, &group, &name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e @ StopShareError::NotSeeding { .. }) => Err(HttpError::not_found(e.to_string())),
        Err(StopShareError::Tracker(e)) => {
            if let Some(api) = e.downcast_ref::<ApiError>() {
                return Err(api.clone().into());
            }
            if let Some(HomeError::NotLoggedIn) = e.downcast_ref::<HomeError>() {
                return Err(HomeError::NotLoggedIn.into());
            }
            Err(HttpError::internal(format!("{e:#}")))
        }
    }
}

/// `POST /api/v1/groups/{group}/files/{name}/unpublish` (204): removes the file from the group
/// (the caller must be its uploader or the group's owner), and stops seeding it here.
pub async fn unpublish(
    State(s): State<Arc<HttpState>>,
    Segments((group, name)): Segments<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let d = &s.daemon;
    crate::ops::files::unpublish(&d.tracker, &d.home, &group, &name).await?;
    if let Some(share) = d.shares.get(&group, &name) {
        d.drop_unpublished(&share);
    }
    Ok(StatusCode::NO_CONTENT)
}
