//! Accounts and sessions: creating a user (with a display name or without), opening a session
//! for a password the proposing leader already verified (recording the login's time, the
//! entry's leader clock, in the account), closing one, deleting expired ones.

use proto::tracker_msg::Response;
use proto::ApiError;

use crate::cmd::TokenBytes;
use crate::domain::error::Fail;
use crate::domain::kv::{KvWrite, Table};
use crate::domain::records::{SessionRec, UserRec};
use crate::domain::validate::{check_display_name, check_name};

/// Creates `username` with an already computed password hash and an optional display name.
///
/// # Errors
/// [`ApiError::InvalidRequest`] for a bad name or display name, [`ApiError::UserExists`].
pub fn create_user(
    kv: &mut impl KvWrite,
    now_ms: u64,
    username: &str,
    password_hash: &str,
    display_name: Option<&str>,
) -> Result<Response, Fail> {
    check_name("username", username)?;
    if let Some(d) = display_name {
        check_display_name(d)?;
    }
    if kv.get_raw(Table::Users, username.as_bytes())?.is_some() {
        return Err(ApiError::UserExists(username.to_string()).into());
    }
    let rec = UserRec {
        password_hash: password_hash.to_string(),
        created_at_ms: now_ms,
        display_name: display_name.map(str::to_string),
        last_login_ms: None,
    };
    kv.put(Table::Users, username.as_bytes().to_vec(), &rec)?;
    Ok(Response::Done)
}

/// Opens a session with the leader's `token`, valid until `expires_at_ms`, and records
/// `now_ms` (the entry's leader clock) as the account's last login.
///
/// # Errors
/// [`ApiError::BadCredentials`] if the user does not exist (any more).
pub fn open_session(
    kv: &mut impl KvWrite,
    now_ms: u64,
    username: &str,
    token: &TokenBytes,
    expires_at_ms: u64,
) -> Result<Response, Fail> {
    let Some(mut user) = kv.get::<UserRec>(Table::Users, username.as_bytes())? else {
        return Err(ApiError::BadCredentials.into());
    };
    user.last_login_ms = Some(now_ms);
    kv.put(Table::Users, username.as_bytes().to_vec(), &user)?;
    let rec = SessionRec {
        username: username.to_string(),
        expires_at_ms,
    };
    kv.put(Table::Sessions, token.to_vec(), &rec)?;
    Ok(Response::Session {
        token: proto::tracker_msg::SessionToken::from_bytes(*token),
        expires_at_ms,
    })
}

/// Closes a session (an unknown token is no error).
pub fn close_session(kv: &mut impl KvWrite, token: &TokenBytes) -> Result<Response, Fail> {
    kv.delete(Table::Sessions, token.to_vec());
    Ok(Response::Done)
}

/// Deletes each of `tokens` whose session is expired at `now_ms`; a live or unknown token is
/// left alone (the leader chose the list from an older state).
///
/// # Errors
/// Storage errors, or a session record that does not decode.
pub fn prune_sessions(
    kv: &mut impl KvWrite,
    now_ms: u64,
    tokens: &[TokenBytes],
) -> Result<Response, Fail> {
    for token in tokens {
        if let Some(s) = kv.get::<SessionRec>(Table::Sessions, token)? {
            if s.expires_at_ms <= now_ms {
                kv.delete(Table::Sessions, token.to_vec());
            }
        }
    }
    Ok(Response::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kv::KvRead;
    use crate::domain::lookup::session_user;
    use crate::domain::mem_kv::MemKv;

    #[test]
    fn a_user_is_created_once_with_a_valid_name() {
        let mut kv = MemKv::new();
        assert_eq!(
            create_user(&mut kv, 5, "ann", "h", None).unwrap(),
            Response::Done
        );
        let rec: UserRec = kv.get(Table::Users, b"ann").unwrap().unwrap();
        assert_eq!((rec.password_hash.as_str(), rec.created_at_ms), ("h", 5));
        assert!(matches!(
            create_user(&mut kv, 6, "ann", "other", None),
            Err(Fail::Api(ApiError::UserExists(u))) if u == "ann"
        ));
        assert!(matches!(
            create_user(&mut kv, 6, "../x", "h", None),
            Err(Fail::Api(ApiError::InvalidRequest(_)))
        ));
        assert_eq!(kv.len(Table::Users), 1);
    }

    #[test]
    fn a_display_name_is_checked_and_stored_and_a_login_records_its_time() {
        let mut kv = MemKv::new();
        assert!(matches!(
            create_user(&mut kv, 5, "ann", "h", Some(" Ann")),
            Err(Fail::Api(ApiError::InvalidRequest(why))) if why.contains("display name")
        ));
        assert_eq!(kv.len(Table::Users), 0);
        create_user(&mut kv, 5, "ann", "h", Some("Ann Lee")).unwrap();
        let rec: UserRec = kv.get(Table::Users, b"ann").unwrap().unwrap();
        assert_eq!(rec.display_name.as_deref(), Some("Ann Lee"));
        assert_eq!(rec.last_login_ms, None);
        open_session(&mut kv, 70, "ann", &[1; 32], 100).unwrap();
        open_session(&mut kv, 90, "ann", &[2; 32], 200).unwrap();
        let rec: UserRec = kv.get(Table::Users, b"ann").unwrap().unwrap();
        assert_eq!((rec.created_at_ms, rec.last_login_ms), (5, Some(90)));
        assert_eq!(rec.display_name.as_deref(), Some("Ann Lee"));
    }

    #[test]
    fn prune_deletes_only_sessions_expired_at_the_entry_time() {
        let mut kv = MemKv::new();
        create_user(&mut kv, 0, "ann", "h", None).unwrap();
        open_session(&mut kv, 0, "ann", &[1; 32], 100).unwrap();
        open_session(&mut kv, 0, "ann", &[2; 32], 200).unwrap();
        open_session(&mut kv, 0, "ann", &[3; 32], 300).unwrap();
        // [2] was listed as expired but is live at 150; [9] is unknown.
        let listed = [[1; 32], [2; 32], [9; 32]];
        assert_eq!(
            prune_sessions(&mut kv, 150, &listed).unwrap(),
            Response::Done
        );
        assert_eq!(kv.len(Table::Sessions), 2);
        assert!(kv.get_raw(Table::Sessions, &[1; 32]).unwrap().is_none());
        assert_eq!(session_user(&kv, &[2; 32], 150).unwrap(), "ann");
        // At exactly its expiry a session is expired (as `session_user` sees it).
        prune_sessions(&mut kv, 200, &[[2; 32], [3; 32]]).unwrap();
        assert_eq!(kv.len(Table::Sessions), 1);
        assert!(session_user(&kv, &[3; 32], 200).is_ok());
    }

    #[test]
    fn a_session_opens_for_a_known_user_and_closes() {
        let mut kv = MemKv::new();
        let token = [3u8; 32];
        assert!(matches!(
            open_session(&mut kv, 0, "nobody", &token, 100),
            Err(Fail::Api(ApiError::BadCredentials))
        ));
        assert_eq!(kv.len(Table::Sessions), 0);
        create_user(&mut kv, 0, "ann", "h", None).unwrap();
        assert_eq!(
            open_session(&mut kv, 0, "ann", &token, 100).unwrap(),
            Response::Session {
                token: proto::tracker_msg::SessionToken::from_bytes(token),
                expires_at_ms: 100
            }
        );
        assert_eq!(session_user(&kv, &token, 99).unwrap(), "ann");
        assert_eq!(close_session(&mut kv, &token).unwrap(), Response::Done);
        assert!(matches!(
            session_user(&kv, &token, 0),
            Err(Fail::Api(ApiError::NotLoggedIn))
        ));
        assert_eq!(close_session(&mut kv, &token).unwrap(), Response::Done);
    }
}
