//! Login: a replicated write whose command the leader builds only after checking the password
//! against the committed user record (after a read barrier); the session token and its expiry are
//! chosen here, so every node applies the same session.

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use rand::RngCore;

use proto::ApiError;

use crate::app::App;
use crate::cmd::Op;
use crate::domain::kv::{KvRead, Table};
use crate::domain::records::UserRec;

/// The command that opens a session for `username` at `now_ms`, if `password` is right.
///
/// # Errors
/// [`ApiError::BadCredentials`] for an unknown user or a wrong password; `NotLeader` or
/// `Unavailable` from the read barrier.
pub async fn open_session(
    app: &App,
    now_ms: u64,
    username: String,
    password: String,
) -> Result<Op, ApiError> {
    if crate::domain::validate::check_name("username", &username).is_err() {
        // No such account can exist; no need to look.
        return Err(ApiError::BadCredentials);
    }
    app.read_barrier().await?;
    let user: Option<UserRec> = app
        .state
        .kv()
        .get(Table::Users, username.as_bytes())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = user else {
        return Err(ApiError::BadCredentials);
    };
    if !verify_password(password, user.password_hash).await? {
        return Err(ApiError::BadCredentials);
    }
    let mut token = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut token);
    let ttl_ms = crate::config::saturating_millis(app.config.session_ttl);
    Ok(Op::OpenSession {
        username,
        token,
        expires_at_ms: now_ms.saturating_add(ttl_ms),
    })
}

/// Checks a password against a stored PHC hash, off the async executor.
async fn verify_password(password: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ApiError::Internal(format!("stored password hash is unreadable: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verify task failed: {e}")))?
}
