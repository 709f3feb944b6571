//! The web UI's files, compiled into the binary from `peer/ui/`, and the login link: `GET
//! /?token=T` with the right token sets the `peer_token` cookie (HttpOnly, SameSite=Strict) and
//! redirects to `/`; `/` without the cookie shows a page saying how to get the link.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::auth::{cookie_token, COOKIE_NAME};
use super::HttpState;

const INDEX_HTML: &str = include_str!("../../../ui/index.html");
const APP_JS: &str = include_str!("../../../ui/app.js");
const APP_CSS: &str = include_str!("../../../ui/app.css");
const ICON_SVG: &str = include_str!("../../../ui/icon.svg");

/// What `/` shows without a valid cookie.
const NO_TOKEN_HTML: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>peer</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;line-height:1.5\">\
<h1>peer</h1><p>This is the web UI of a peer daemon. To open it, run <code>peer ui</code> \
on this machine and open the link it prints.</p></body></html>";

/// `GET /`: the UI with a valid cookie; with `?token=` the cookie is set first.
pub async fn index(
    State(s): State<Arc<HttpState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(t) = q.get("token") {
        if s.token.matches(t) {
            let cookie = format!(
                "{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/",
                s.token.as_str()
            );
            return (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, "/".to_string()),
                    (header::SET_COOKIE, cookie),
                ],
            )
                .into_response();
        }
        return (StatusCode::UNAUTHORIZED, Html(NO_TOKEN_HTML)).into_response();
    }
    match cookie_token(&headers) {
        Some(t) if s.token.matches(&t) => page(INDEX_HTML, "text/html; charset=utf-8"),
        _ => (StatusCode::UNAUTHORIZED, Html(NO_TOKEN_HTML)).into_response(),
    }
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// `GET /assets/app.js`.
pub async fn app_js() -> Response {
    page(APP_JS, "text/javascript; charset=utf-8")
}

/// `GET /assets/app.css`.
pub async fn app_css() -> Response {
    page(APP_CSS, "text/css; charset=utf-8")
}

/// `GET /assets/icon.svg`.
pub async fn icon_svg() -> Response {
    page(ICON_SVG, "image/svg+xml")
}
