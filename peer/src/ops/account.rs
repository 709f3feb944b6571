//! Accounts and the session kept in the home: create an account, log in (the session and the
//! tracker list saved in the home), log out, who is logged in.

use std::path::Path;

use proto::tracker_msg::{AccountInfo, ReadRequest, Response, WriteOp};
use proto::TrackerClient;

use crate::error::TrackerOpError;
use crate::home::{write_private, Home, Session};

/// Creates an account, with a display name if one is given.
///
/// # Errors
/// The tracker's refusal (the name is taken, or it or the display name breaks a rule), or no
/// tracker answered.
pub async fn create_user(
    tracker: &TrackerClient,
    username: &str,
    password: String,
    display_name: Option<String>,
) -> Result<(), TrackerOpError> {
    tracker
        .write(WriteOp::CreateUser {
            username: username.to_string(),
            password,
            display_name,
        })
        .await?;
    Ok(())
}

/// Logs in and saves the session in the home (mode 0600).
///
/// # Errors
/// Bad credentials, a login throttle, no tracker, or the session cannot be written.
pub async fn login(
    tracker: &TrackerClient,
    home: &Home,
    username: &str,
    password: String,
) -> Result<Session, TrackerOpError> {
    let resp = tracker
        .write(WriteOp::Login {
            username: username.to_string(),
            password,
        })
        .await?;
    let Response::Session { token, .. } = resp else {
        return Err(TrackerOpError::UnexpectedAnswer(format!("{resp:?}")));
    };
    let session = Session {
        username: username.to_string(),
        token,
    };
    home.save_session(&session)?;
    Ok(session)
}

/// Remembers the tracker list and a copy of the CA in the home (after a successful login), so
/// later commands need neither `--trackers` nor `--ca`.
///
/// # Errors
/// If the CA does not parse or cannot be copied into the home.
pub fn remember_trackers(
    home: &Home,
    trackers: Option<&str>,
    ca: Option<&Path>,
) -> Result<(), TrackerOpError> {
    if let Some(list) = trackers {
        let _ = write_private(&home.dir.join("trackers"), list.as_bytes());
    }
    if let Some(ca) = ca {
        if ca == home.ca_path() {
            return Ok(());
        }
        let keep = |reason: String| TrackerOpError::KeepCa {
            path: ca.to_path_buf(),
            reason,
        };
        // Parsed before it is kept: the login just used it, but say so if it is odd now.
        proto::tls::pem::roots(ca).map_err(|e| keep(e.to_string()))?;
        let bytes = std::fs::read(ca).map_err(|e| keep(e.to_string()))?;
        write_private(&home.ca_path(), &bytes)?;
    }
    Ok(())
}

/// Ends the session at the tracker and removes it from the home (removed even if the tracker
/// cannot be told).
///
/// # Errors
/// Not logged in, or the tracker's refusal.
pub async fn logout(tracker: &TrackerClient, home: &Home) -> Result<(), TrackerOpError> {
    let token = home.session()?.token;
    let result = tracker.write(WriteOp::Logout { token }).await;
    home.clear_session();
    result?;
    Ok(())
}

/// The account the tracker says the home's session belongs to: username, display name,
/// creation and last-login times.
///
/// # Errors
/// Not logged in, the session expired, or no tracker.
pub async fn whoami(tracker: &TrackerClient, home: &Home) -> Result<AccountInfo, TrackerOpError> {
    let token = home.session()?.token;
    match tracker.read(ReadRequest::WhoAmI { token }).await? {
        Response::Account(info) => Ok(info),
        other => Err(TrackerOpError::UnexpectedAnswer(format!("{other:?}"))),
    }
}
