//! `GET /metrics` (Prometheus text, no token: counts only, no names) and `GET /livez`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::HttpState;
use crate::control::DownloadState;
use crate::daemon::metrics::Sampled;

/// `GET /metrics`.
pub async fn metrics(State(s): State<Arc<HttpState>>) -> impl IntoResponse {
    let d = &s.daemon;
    let downloads = d.downloads();
    let mut by_state = [
        ("running", 0i64),
        ("complete", 0),
        ("failed", 0),
        ("cancelled", 0),
    ];
    let mut download_peers = 0i64;
    for h in &downloads {
        let state = h.state();
        if let Some(slot) = by_state.iter_mut().find(|(n, _)| *n == state.name()) {
            slot.1 += 1;
        }
        if state == DownloadState::Running {
            download_peers += i64::from(h.info().peers);
        }
    }
    let sampled = Sampled {
        downloads: by_state.to_vec(),
        download_peers,
        shares: i64::try_from(d.shares.all().len()).unwrap_or(i64::MAX),
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        d.metrics.render(&sampled),
    )
}

/// `GET /livez`: 200 `ok` while the daemon runs.
pub async fn livez() -> &'static str {
    "ok"
}
