//! Replicated writes: choose everything nondeterministic here (time, token, password hash), check
//! the command on the leader (`admit`), then propose it with the client's (client id, serial).
//! A login's command is built by [`super::login`].
//!
//! A refused request never reaches the log: every field is checked against its limit
//! ([`check_op`]), the session and the lookups the file writes need are checked against the
//! applied state ([`crate::domain::admit`]), so are the quotas ([`crate::domain::admit_quota`]),
//! and the command's encoded size when it is queued
//! ([`crate::app::group_commit::GroupCommit::propose`]). Apply re-checks all of it.

use std::net::IpAddr;

use tracing::Instrument;

use proto::limits::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use proto::tracker_msg::{Response, WriteOp, WriteRequest};
use proto::ApiError;

use super::token::session_bytes;
use crate::app::{wall_ms, App};
use crate::cmd::{Cmd, Op, Origin};
use crate::domain::apply::{recorded, SCOPE_ACCOUNT, SCOPE_SESSION};
use crate::domain::error::Fail;
use crate::domain::kv::{KvRead, Table};
use crate::domain::validate::{check_display_name, check_name, check_op};

/// Handles one write request from a client at `source`.
///
/// # Errors
/// Any [`ApiError`]: refusals from the rules, `NotLeader`, `Unavailable`.
pub async fn handle(app: &App, w: WriteRequest, source: IpAddr) -> Result<Response, ApiError> {
    let span = tracing::debug_span!(
        "write",
        node = app.id,
        client_id = w.client_id,
        serial = w.serial,
        op = op_name(&w.op)
    );
    async move {
        // Do no expensive work (hashing) on a node that cannot propose anyway.
        app.check_leader()?;
        let now_ms = wall_ms();
        let registering = match &w.op {
            WriteOp::RegisterPeer { peer_id, .. } => Some(*peer_id),
            _ => None,
        };
        let signing_off = match &w.op {
            WriteOp::SignOff { peer_id, .. } => Some(*peer_id),
            _ => None,
        };
        let origin = Origin {
            client_id: w.client_id,
            serial: w.serial,
        };
        let scope = write_scope(&w.op);
        let prepared = async {
            let op = translate(app, now_ms, w.op, source).await?;
            admit(app, now_ms, &op).await?;
            Ok(op)
        };
        let op = match prepared.await {
            Ok(op) => op,
            Err(refusal) => return refused_unless_applied(app, origin, scope, refusal),
        };
        if changes_nothing(app, &op).await? {
            // The answer apply would give, without an entry (a logout of a session that is gone).
            return Ok(Response::Done);
        }
        let cmd = Cmd {
            origin: Some(origin),
            now_ms,
            op,
        };
        let result = app.writes.propose(cmd).await;
        if let (Some(peer_id), Ok(_)) = (registering, &result) {
            // A new peer gets a full lease before its first heartbeat is due.
            app.liveness.registered(peer_id);
        }
        if let (Some(peer_id), Ok(_)) = (signing_off, &result) {
            // Offline already: the sweep has nothing left to mark.
            app.liveness.forget(peer_id);
        }
        tracing::debug!(ok = result.is_ok(), "write done");
        result
    }
    .instrument(span)
    .await
}

/// The client-table scope of a write (see [`crate::domain::apply`]) under which a refused
/// write may look up its stored reply: its session token, or the username of a new account.
/// `None` for a login (its stored reply holds a session, which only the right password may
/// see, and a login is refused before proposing only for a wrong password or a throttle) and
/// for what cannot have a record (a malformed token, a name longer than any account's).
fn write_scope(op: &WriteOp) -> Option<(u8, Vec<u8>)> {
    let token = match op {
        WriteOp::Login { .. } => return None,
        WriteOp::CreateUser { username, .. } => {
            return (username.len() <= proto::limits::MAX_NAME_BYTES)
                .then(|| (SCOPE_ACCOUNT, username.as_bytes().to_vec()));
        }
        WriteOp::Logout { token }
        | WriteOp::CreateGroup { token, .. }
        | WriteOp::JoinGroup { token, .. }
        | WriteOp::LeaveGroup { token, .. }
        | WriteOp::AcceptJoin { token, .. }
        | WriteOp::CreateOpenGroup { token, .. }
        | WriteOp::RejectJoin { token, .. }
        | WriteOp::RemoveMember { token, .. }
        | WriteOp::RegisterPeer { token, .. }
        | WriteOp::RegisterFile { token, .. }
        | WriteOp::ReportHave { token, .. }
        | WriteOp::StopShare { token, .. }
        | WriteOp::SignOff { token, .. }
        | WriteOp::Unpublish { token, .. } => token,
    };
    token.bytes().map(|b| (SCOPE_SESSION, b.to_vec()))
}

/// Answers a write the leader refused before proposing it, unless the client table shows it
/// was applied already (a retry whose first answer was lost): then the reply apply would give,
/// the stored one or `StaleRequest`. Without this, a retried `CreateGroup` would be told
/// `GroupExists` by the leader's own check instead of its original `Done`.
fn refused_unless_applied(
    app: &App,
    origin: Origin,
    scope: Option<(u8, Vec<u8>)>,
    refusal: ApiError,
) -> Result<Response, ApiError> {
    let final_refusal = !refusal.is_retryable()
        && !matches!(
            refusal,
            ApiError::TooManyFailedLogins { .. } | ApiError::BadCredentials
        );
    if let (true, Some((tag, bytes))) = (final_refusal, scope) {
        match recorded(&app.state.kv(), origin, tag, &bytes) {
            Ok(Some(reply)) => return reply,
            Ok(None) => {}
            Err(e) => return Err(ApiError::Internal(e.to_string())),
        }
    }
    Err(refusal)
}

fn op_name(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::CreateUser { .. } => "create_user",
        WriteOp::Login { .. } => "login",
        WriteOp::Logout { .. } => "logout",
        WriteOp::CreateGroup { .. } => "create_group",
        WriteOp::JoinGroup { .. } => "join_group",
        WriteOp::LeaveGroup { .. } => "leave_group",
        WriteOp::AcceptJoin { .. } => "accept_join",
        WriteOp::CreateOpenGroup { .. } => "create_open_group",
        WriteOp::RejectJoin { .. } => "reject_join",
        WriteOp::RemoveMember { .. } => "remove_member",
        WriteOp::RegisterPeer { .. } => "register_peer",
        WriteOp::RegisterFile { .. } => "register_file",
        WriteOp::ReportHave { .. } => "report_have",
        WriteOp::StopShare { .. } => "stop_share",
        WriteOp::SignOff { .. } => "sign_off",
        WriteOp::Unpublish { .. } => "unpublish",
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::InvalidRequest(format!(
            "a password must have at least {MIN_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The leader's checks of `op` before it is proposed: the limits of every field, then the
/// state. A refusal from the applied state is confirmed after a read barrier (a new leader may
/// not have applied everything committed yet), so it is never due to a stale view.
///
/// # Errors
/// [`ApiError::InvalidRequest`], `NotLoggedIn`, `NotMember`, `GroupNotFound`, `PeerNotFound`,
/// `QuotaExceeded`; `NotLeader` or `Unavailable` from the barrier.
async fn admit(app: &App, now_ms: u64, op: &Op) -> Result<(), ApiError> {
    check_op(op)?;
    let check = || {
        let kv = app.state.kv();
        crate::domain::admit::admit(&kv, now_ms, op)?;
        crate::domain::admit_quota::admit_quota(&kv, now_ms, op)
    };
    match check() {
        Ok(()) => Ok(()),
        Err(Fail::Api(_)) => {
            app.read_barrier().await?;
            check().map_err(Fail::into_api)
        }
        Err(e) => Err(e.into_api()),
    }
}

/// Whether `op` would change nothing at apply and answer `Done` (confirmed after a read
/// barrier, so a session opened just before is seen).
///
/// # Errors
/// `NotLeader` or `Unavailable` from the barrier; `Internal` for a storage error.
async fn changes_nothing(app: &App, op: &Op) -> Result<bool, ApiError> {
    let check = || {
        crate::domain::admit::changes_nothing(&app.state.kv(), op)
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    if !check()? {
        return Ok(false);
    }
    app.read_barrier().await?;
    check()
}

/// Turns a client operation into a replicated one. Only an account's two operations differ from
/// their command (the password becomes a hash, a login becomes a session the leader chose); the
/// rest carry the same fields with the session token as its bytes ([`session_op`]).
async fn translate(app: &App, now_ms: u64, op: WriteOp, source: IpAddr) -> Result<Op, ApiError> {
    match op {
        WriteOp::CreateUser {
            username,
            password,
            display_name,
        } => {
            check_name("username", &username)?;
            check_password(&password)?;
            if let Some(d) = &display_name {
                check_display_name(d)?;
            }
            // Accounts are never deleted, so a name taken in the applied state is taken for
            // good: it costs no hashing (`admit` checks it again once the hash is made).
            let taken = app
                .state
                .kv()
                .get_raw(Table::Users, username.as_bytes())
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            if taken.is_some() {
                return Err(ApiError::UserExists(username));
            }
            let password_hash = app.passwords.hash(password).await?;
            Ok(match display_name {
                None => Op::CreateUser {
                    username,
                    password_hash,
                },
                Some(display_name) => Op::CreateUserNamed {
                    username,
                    password_hash,
                    display_name,
                },
            })
        }
        WriteOp::Login { username, password } => {
            super::login::open_session(app, now_ms, username, password, source).await
        }
        other => session_op(other),
    }
}

/// The command of a write made under a session.
///
/// # Errors
/// [`ApiError::NotLoggedIn`] for a malformed token; [`ApiError::Internal`] for an account
/// operation, which [`translate`] handles itself.
fn session_op(op: WriteOp) -> Result<Op, ApiError> {
    let t = session_bytes;
    Ok(match op {
        WriteOp::Logout { token } => Op::CloseSession { token: t(&token)? },
        WriteOp::CreateGroup { token, group } => Op::CreateGroup {
            token: t(&token)?,
            group,
        },
        WriteOp::JoinGroup { token, group } => Op::JoinGroup {
            token: t(&token)?,
            group,
        },
        WriteOp::LeaveGroup { token, group } => Op::LeaveGroup {
            token: t(&token)?,
            group,
        },
        WriteOp::AcceptJoin {
            token,
            group,
            username,
        } => Op::AcceptJoin {
            token: t(&token)?,
            group,
            username,
        },
        WriteOp::CreateOpenGroup { token, group } => Op::CreateOpenGroup {
            token: t(&token)?,
            group,
        },
        WriteOp::RejectJoin {
            token,
            group,
            username,
        } => Op::RejectJoin {
            token: t(&token)?,
            group,
            username,
        },
        WriteOp::RemoveMember {
            token,
            group,
            username,
        } => Op::RemoveMember {
            token: t(&token)?,
            group,
            username,
        },
        WriteOp::RegisterPeer {
            token,
            peer_id,
            addr,
            peer_key,
        } => Op::RegisterPeer {
            token: t(&token)?,
            peer_id,
            addr,
            peer_key,
        },
        WriteOp::RegisterFile {
            token,
            peer_id,
            group,
            manifest,
        } => Op::RegisterFile {
            token: t(&token)?,
            peer_id,
            group,
            manifest,
        },
        WriteOp::ReportHave {
            token,
            peer_id,
            group,
            name,
            chunks,
        } => Op::ReportHave {
            token: t(&token)?,
            peer_id,
            group,
            name,
            chunks,
        },
        WriteOp::StopShare {
            token,
            peer_id,
            group,
            name,
        } => Op::StopShare {
            token: t(&token)?,
            peer_id,
            group,
            name,
        },
        WriteOp::SignOff { token, peer_id } => Op::SignOff {
            token: t(&token)?,
            peer_id,
        },
        WriteOp::Unpublish { token, group, name } => Op::Unpublish {
            token: t(&token)?,
            group,
            name,
        },
        WriteOp::CreateUser { .. } | WriteOp::Login { .. } => {
            return Err(ApiError::Internal(
                "an account operation reached the session translation".into(),
            ))
        }
    })
}
