//! `GET /api/v1/events`: server-sent events. An event `downloads` carries the same JSON as
//! `GET /api/v1/downloads`, at once, then twice a second while a download runs and every few
//! seconds otherwise. At most [`super::MAX_EVENT_STREAMS`] streams are open at once, each for
//! at most [`STREAM_LIFETIME`] (the browser's `EventSource` reconnects by itself).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::downloads::listing;
use super::error::HttpError;
use super::HttpState;
use crate::control::DownloadState;

/// Between events while a download runs.
pub const FAST_EVERY: Duration = Duration::from_millis(500);
/// Between events while none runs.
pub const SLOW_EVERY: Duration = Duration::from_secs(3);
/// How long one stream stays open.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(600);

/// `GET /api/v1/events`.
pub async fn stream(State(s): State<Arc<HttpState>>) -> Response {
    let Ok(slot) = s.event_streams.clone().try_acquire_owned() else {
        return HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "too many event streams open; poll GET /api/v1/downloads instead",
        )
        .into_response();
    };
    let ends = Instant::now() + STREAM_LIFETIME;
    let start = (s, slot, true);
    let events = futures_util::stream::unfold(start, move |(s, slot, first)| async move {
        if !first {
            let running = s
                .daemon
                .downloads()
                .iter()
                .any(|h| h.state() == DownloadState::Running);
            let wait = if running { FAST_EVERY } else { SLOW_EVERY };
            if Instant::now() + wait > ends {
                return None;
            }
            tokio::time::sleep(wait).await;
        }
        let data = listing(&s.daemon).to_string();
        let event = Event::default().event("downloads").data(data);
        Some((Ok::<_, Infallible>(event), (s, slot, false)))
    });
    Sse::new(events).into_response()
}
