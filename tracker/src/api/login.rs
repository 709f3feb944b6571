//! Login: a replicated write whose command the leader builds only after checking the password
//! against the committed user record (after a read barrier); the session token and its expiry are
//! chosen here, so every node applies the same session.
//!
//! Every attempt goes through the leader's [`LoginThrottle`](crate::leader::login_throttle),
//! keyed by the username and the client's address: after a few failures further attempts must
//! wait (the module doc there says what a locked-out user sees), and are refused before any
//! argon2 work. The check itself runs on the node's password pool ([`crate::app::passwords`]).

use std::net::IpAddr;
use std::time::Instant;

use rand::RngCore;

use proto::ApiError;

use crate::app::App;
use crate::cmd::Op;
use crate::domain::kv::{KvRead, Table};
use crate::domain::records::UserRec;
use crate::domain::validate::check_name;

/// The command that opens a session for `username` at `now_ms`, if `password` is right; the
/// attempt came from `source`.
///
/// # Errors
/// [`ApiError::BadCredentials`] for an unknown user or a wrong password;
/// [`ApiError::TooManyFailedLogins`] while the username or the address must wait;
/// `Unavailable` if the password pool is busy; `NotLeader` or `Unavailable` from the barrier.
pub async fn open_session(
    app: &App,
    now_ms: u64,
    username: String,
    password: String,
    source: IpAddr,
) -> Result<Op, ApiError> {
    // A name no account can have is a failure for the address only (and is never stored).
    let valid_name = check_name("username", &username).is_ok();
    let attempt = app.login_throttle.begin(
        valid_name.then_some(username.as_str()),
        source,
        Instant::now(),
    )?;
    if !valid_name {
        attempt.failed(Instant::now());
        return Err(ApiError::BadCredentials);
    }
    app.read_barrier().await?;
    let user: Option<UserRec> = app
        .state
        .kv()
        .get(Table::Users, username.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = user else {
        attempt.failed(Instant::now());
        return Err(ApiError::BadCredentials);
    };
    if !app.passwords.verify(password, user.password_hash).await? {
        attempt.failed(Instant::now());
        return Err(ApiError::BadCredentials);
    }
    attempt.succeeded(Instant::now());
    let mut token = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut token);
    let ttl_ms = crate::config::saturating_millis(app.config.session_ttl);
    Ok(Op::OpenSession {
        username,
        token,
        expires_at_ms: now_ms.saturating_add(ttl_ms),
    })
}
