//! `/api/v1/groups...`: the group list with the caller's role in each, creating (closed or
//! open), joining and leaving groups, and the owner's pending requests (accept, reject) and
//! members (remove).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::body::{JsonBody, Segments};
use super::error::HttpError;
use super::HttpState;
use crate::ops::groups::{self, ChangeOutcome, GroupChange};

/// One group as listed.
#[derive(Debug, Serialize)]
pub struct GroupRow {
    name: String,
    owner: String,
    /// The owner's display name, if they gave one.
    owner_display_name: Option<String>,
    member_count: u32,
    /// `owner`, `member`, `pending` or `none`.
    role: &'static str,
    /// Anyone may join without the owner's acceptance.
    open: bool,
}

/// `POST /api/v1/groups` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    name: String,
    /// An open group: joining makes one a member at once.
    #[serde(default)]
    open: bool,
}

/// `GET /api/v1/groups`.
pub async fn list(State(s): State<Arc<HttpState>>) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let me = d.home.session()?.username;
    let rows: Vec<GroupRow> = groups::list(&d.tracker, &d.home)
        .await?
        .into_iter()
        .map(|g| GroupRow {
            role: if g.owner == me {
                "owner"
            } else if g.is_member {
                "member"
            } else if g.request_pending {
                "pending"
            } else {
                "none"
            },
            name: g.name,
            owner_display_name: g.owner_display_name,
            owner: g.owner,
            member_count: g.member_count,
            open: g.open,
        })
        .collect();
    Ok(Json(json!({ "groups": rows })).into_response())
}

/// `POST /api/v1/groups` (201).
pub async fn create(
    State(s): State<Arc<HttpState>>,
    JsonBody(g): JsonBody<NewGroup>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let create = if g.open {
        GroupChange::CreateOpen
    } else {
        GroupChange::Create
    };
    groups::change(&d.tracker, &d.home, &g.name, create).await?;
    Ok((StatusCode::CREATED, Json(json!({"name": g.name}))).into_response())
}

/// `POST /api/v1/groups/{group}/join`: 202 pending until the owner accepts, or 200 member at
/// once for an open group.
pub async fn join(
    State(s): State<Arc<HttpState>>,
    Segments(group): Segments<String>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let reply = match groups::change(&d.tracker, &d.home, &group, GroupChange::Join).await? {
        ChangeOutcome::Joined => (StatusCode::OK, Json(json!({"state": "member"}))),
        ChangeOutcome::Done => (StatusCode::ACCEPTED, Json(json!({"state": "pending"}))),
    };
    Ok(reply.into_response())
}

/// `POST /api/v1/groups/{group}/leave` (204).
pub async fn leave(
    State(s): State<Arc<HttpState>>,
    Segments(group): Segments<String>,
) -> Result<StatusCode, HttpError> {
    let d = &s.daemon;
    groups::change(&d.tracker, &d.home, &group, GroupChange::Leave).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/groups/{group}/requests` (owner).
pub async fn requests(
    State(s): State<Arc<HttpState>>,
    Segments(group): Segments<String>,
) -> Result<Response, HttpError> {
    let d = &s.daemon;
    let users = groups::requests(&d.tracker, &d.home, &group).await?;
    let rows: Vec<_> = users.into_iter().map(|u| json!({ "user": u })).collect();
    Ok(Json(json!({ "requests": rows })).into_response())
}

/// `POST /api/v1/groups/{group}/requests/{user}/accept` (204).
pub async fn accept(
    State(s): State<Arc<HttpState>>,
    Segments((group, user)): Segments<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let d = &s.daemon;
    groups::change(&d.tracker, &d.home, &group, GroupChange::Accept(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/groups/{group}/requests/{user}/reject` (204; the user may ask again).
pub async fn reject(
    State(s): State<Arc<HttpState>>,
    Segments((group, user)): Segments<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let d = &s.daemon;
    groups::change(&d.tracker, &d.home, &group, GroupChange::Reject(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/groups/{group}/members/{user}/remove` (204).
pub async fn remove(
    State(s): State<Arc<HttpState>>,
    Segments((group, user)): Segments<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let d = &s.daemon;
    groups::change(&d.tracker, &d.home, &group, GroupChange::Remove(user)).await?;
    Ok(StatusCode::NO_CONTENT)
}
