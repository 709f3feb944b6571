//! `GET /api/v1/daemon` (this daemon: peer id, address, version, counters) and
//! `GET /api/v1/shares` (the files it seeds, from where).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::json;

use proto::tracker_msg::to_hex;

use super::HttpState;

/// `GET /api/v1/daemon`.
pub async fn info(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    let d = &s.daemon;
    Json(json!({
        "peer_id": d.peer_id.to_string(),
        "advertise_addr": d.advertise,
        "version": env!("CARGO_PKG_VERSION"),
        "shares": d.shares.all().len(),
        "chunks_served": d.chunks_served.load(Ordering::Relaxed),
        "uploaded_bytes": d.metrics.uploaded_bytes.get(),
        "downloaded_bytes": d.metrics.downloaded_bytes.get(),
    }))
}

/// `GET /api/v1/shares`: `{"shares": [{"group", "name", "path", "size_bytes", "sha1"}]}`, sorted
/// by group and name.
pub async fn shares(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    let mut all = s.daemon.shares.all();
    all.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
    let rows: Vec<_> = all
        .iter()
        .map(|e| {
            json!({
                "group": e.group,
                "name": e.name,
                "path": e.path.to_string_lossy(),
                "size_bytes": e.manifest.size_bytes,
                "sha1": to_hex(&e.manifest.file_hash),
            })
        })
        .collect();
    Json(json!({ "shares": rows }))
}
