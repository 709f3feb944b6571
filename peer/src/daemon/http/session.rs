//! `/api/v1/session`, `/api/v1/session/login`, `/api/v1/session/logout`, `/api/v1/users`,
//! `/api/v1/account`: who is logged in on this home, logging in and out (the session file the
//! CLI uses too), creating an account, and the account as the tracker knows it (as
//! `peer whoami`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::body::JsonBody;
use super::error::HttpError;
use super::HttpState;
use crate::ops::account;

/// A username and password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    user: String,
    password: String,
}

/// A new account: username, password and an optional display name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    user: String,
    password: String,
    display_name: Option<String>,
}

/// `GET /api/v1/session`: `{"logged_in", "user", "trackers"}` from the home's session file.
pub async fn get(State(s): State<Arc<HttpState>>) -> Response {
    let session = s.daemon.home.session().ok();
    Json(json!({
        "logged_in": session.is_some(),
        "user": session.map(|s| s.username),
        "trackers": s.daemon.tracker.trackers(),
    }))
    .into_response()
}

/// `POST /api/v1/session/login`: logs in, keeps the session and the tracker list in the home
/// (as `peer login`), and registers this daemon's peer under it.
pub async fn login(
    State(s): State<Arc<HttpState>>,
    JsonBody(c): JsonBody<Credentials>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    account::login(&d.tracker, &d.home, &c.user, c.password).await?;
    let list = d.tracker.trackers().join(",");
    account::remember_trackers(&d.home, Some(&list), Some(&d.ca_file))?;
    if let Err(e) = d.after_login().await {
        // The heartbeat registers the peer when the tracker says it does not know it.
        tracing::warn!(%e, "could not register this peer after the login");
    }
    Ok(Json(json!({"user": c.user})).into_response())
}

/// `POST /api/v1/session/logout`: ends the session at the tracker and in the home.
pub async fn logout(State(s): State<Arc<HttpState>>) -> Result<StatusCode, HttpError> {
    account::logout(&s.daemon.tracker, &s.daemon.home).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users`: creates an account (201).
pub async fn create_user(
    State(s): State<Arc<HttpState>>,
    JsonBody(c): JsonBody<NewAccount>,
) -> Result<Response, HttpError> {
    account::create_user(
        &s.daemon.tracker,
        &c.user,
        c.password,
        c.display_name.clone(),
    )
    .await?;
    let body = json!({"user": c.user, "display_name": c.display_name});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v1/account`: the session's account at the tracker: `{"user", "display_name",
/// "created_at_ms", "last_login_ms"}` (the last two in ms since the Unix epoch).
pub async fn account(State(s): State<Arc<HttpState>>) -> Result<Response, HttpError> {
    let a = account::whoami(&s.daemon.tracker, &s.daemon.home).await?;
    Ok(Json(json!({
        "user": a.username,
        "display_name": a.display_name,
        "created_at_ms": a.created_at_ms,
        "last_login_ms": a.last_login_ms,
    }))
    .into_response())
}
