//! The admin's quota requests: [`show`] answers the limits in force (a linearizable read on the
//! leader), [`set`] proposes the change as one replicated command, so every node enforces the
//! same limits from the same log index on. The caller ([`super::admin`]) has checked the admin
//! credential.

use proto::quota::QuotaChanges;
use proto::tracker_msg::Response;
use proto::ApiError;

use crate::app::{wall_ms, App};
use crate::cmd::{Cmd, Op};
use crate::domain::quota;

/// The limits in force, as the leader has applied them after a read barrier.
///
/// # Errors
/// `NotLeader` or `Unavailable`; `Internal` for a storage error.
pub async fn show(app: &App) -> Result<Response, ApiError> {
    app.check_leader()?;
    app.read_barrier().await?;
    quota::limits(&app.state.kv())
        .map(Response::Quotas)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Changes the limits `changes` names and answers the limits now in force. The command carries
/// no client origin: applying it twice (a retry) sets the same values.
///
/// # Errors
/// `InvalidRequest` for a change that names no limit; `NotLeader` or `Unavailable`.
pub async fn set(app: &App, changes: QuotaChanges) -> Result<Response, ApiError> {
    app.check_leader()?;
    if changes.is_empty() {
        return Err(ApiError::InvalidRequest(
            "name at least one quota to set, e.g. --groups-per-user 100".into(),
        ));
    }
    tracing::info!(?changes, "setting quotas");
    let cmd = Cmd {
        origin: None,
        now_ms: wall_ms(),
        op: Op::SetQuotas {
            changes: changes.into(),
        },
    };
    app.writes.propose(cmd).await
}
