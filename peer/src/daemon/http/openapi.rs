//! `GET /api/v1/openapi.json`: the OpenAPI 3.0 document of the API (`openapi.json` beside this
//! file, compiled in), served without a token: it holds no data of this home.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI document.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
