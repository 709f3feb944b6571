//! [`HttpError`]: a status code and `{"error": {"code", "message"}}`, the one error shape of the
//! API. The message is the one-line message the CLI prints for the same failure; the code is
//! one of the names the OpenAPI document lists.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use proto::ApiError;

use crate::error::{DownloadError, HomeError, TrackerOpError, UploadError};

/// One failed API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The status code.
    pub status: StatusCode,
    /// The machine-readable code (`not_found`, `conflict`, ...).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl HttpError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500 `internal`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        let (status, code) = match &e {
            ApiError::NotLeader { .. }
            | ApiError::Unavailable(_)
            | ApiError::NoTrackerReachable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::NotLoggedIn => (StatusCode::UNAUTHORIZED, "not_logged_in"),
            ApiError::UserExists(_)
            | ApiError::GroupExists(_)
            | ApiError::AlreadyMember(_)
            | ApiError::FileConflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::UserNotFound(_)
            | ApiError::GroupNotFound(_)
            | ApiError::NoSuchRequest { .. }
            | ApiError::FileNotFound { .. }
            | ApiError::PeerNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::NotMember(_) | ApiError::NotOwner(_) | ApiError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, "forbidden")
            }
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::TooManyFailedLogins { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            ApiError::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            ApiError::VersionMismatch { .. }
            | ApiError::StaleRequest { .. }
            | ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        HttpError::new(status, code, e.to_string())
    }
}

impl From<HomeError> for HttpError {
    fn from(e: HomeError) -> Self {
        match e {
            HomeError::NotLoggedIn => {
                HttpError::new(StatusCode::UNAUTHORIZED, "not_logged_in", e.to_string())
            }
            other => HttpError::internal(other.to_string()),
        }
    }
}

impl From<TrackerOpError> for HttpError {
    fn from(e: TrackerOpError) -> Self {
        match e {
            TrackerOpError::Home(h) => h.into(),
            TrackerOpError::Tracker(t) => t.into(),
            other => HttpError::internal(other.to_string()),
        }
    }
}

impl From<DownloadError> for HttpError {
    fn from(e: DownloadError) -> Self {
        match e {
            DownloadError::Home(h) => h.into(),
            DownloadError::Tracker(t) => t.into(),
            DownloadError::NameNotAllowed { .. } => HttpError::bad_request(e.to_string()),
            DownloadError::DestinationExists { .. }
            | DownloadError::DownloadDirTaken { .. }
            | DownloadError::LinkMismatch { .. }
            | DownloadError::PartExists { .. }
            | DownloadError::PartIsSymlink { .. }
            | DownloadError::DestinationAppeared { .. } => {
                HttpError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            other => HttpError::internal(other.to_string()),
        }
    }
}

impl From<UploadError> for HttpError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Home(h) => h.into(),
            UploadError::Tracker(t) => t.into(),
            UploadError::Read { .. } | UploadError::NotAFile { .. } | UploadError::ChunkSize(_) => {
                HttpError::bad_request(e.to_string())
            }
            UploadError::ChangedWhileHashing { .. } => {
                HttpError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            other => HttpError::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_errors_keep_the_cli_message_under_their_code() {
        let e = HttpError::from(ApiError::GroupNotFound("movies".into()));
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "not_found"));
        assert_eq!(
            e.message,
            ApiError::GroupNotFound("movies".into()).to_string()
        );
        let e = HttpError::from(TrackerOpError::Home(HomeError::NotLoggedIn));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNAUTHORIZED, "not_logged_in")
        );
        assert!(e.message.contains("peer login"), "{}", e.message);
        let e = HttpError::from(ApiError::Unavailable("x".into()));
        assert_eq!(e.code, "unavailable");
        let e = HttpError::from(ApiError::UserExists("a".into()));
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "conflict"));
    }
}
