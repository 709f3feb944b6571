//! Extractors whose refusals have the API's error shape: [`JsonBody`], a JSON request body of
//! at most [`super::MAX_BODY_BYTES`] sent as `application/json` (which a cross-site form cannot
//! send without a preflight), and [`Segments`], the path's parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::HttpError;

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(HttpError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_request",
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            HttpError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "bad_request",
                format!(
                    "the body is larger than {} bytes or was cut off",
                    super::MAX_BODY_BYTES
                ),
            )
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| HttpError::bad_request(format!("the body is not the JSON expected: {e}")))
    }
}

/// The path's parameters, in order.
pub struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Segments<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Segments(t))
            .map_err(|e| HttpError::bad_request(format!("bad path: {e}")))
    }
}
