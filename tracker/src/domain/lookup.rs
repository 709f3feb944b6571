//! Lookups shared by the rules and the queries: the user behind a session, a group, a group the
//! user belongs to, a file, a peer the user owns. Each refuses with the error a client should see.

use proto::ApiError;

use super::error::Fail;
use super::kv::{KvRead, Table};
use super::records::{file_key, peer_key, FileRec, GroupRec, PeerRec, SessionRec};
use crate::cmd::TokenBytes;

/// The user owning a live session.
///
/// # Errors
/// [`ApiError::NotLoggedIn`] if the token is unknown or expired at `now_ms`.
pub fn session_user(kv: &impl KvRead, token: &TokenBytes, now_ms: u64) -> Result<String, Fail> {
    match kv.get::<SessionRec>(Table::Sessions, token)? {
        Some(s) if s.expires_at_ms > now_ms => Ok(s.username),
        _ => Err(ApiError::NotLoggedIn.into()),
    }
}

/// A group record.
///
/// # Errors
/// [`ApiError::GroupNotFound`].
pub fn group(kv: &impl KvRead, name: &str) -> Result<GroupRec, Fail> {
    kv.get::<GroupRec>(Table::Groups, name.as_bytes())?
        .ok_or_else(|| ApiError::GroupNotFound(name.to_string()).into())
}

/// A group the user belongs to.
///
/// # Errors
/// [`ApiError::GroupNotFound`] or [`ApiError::NotMember`].
pub fn member_group(kv: &impl KvRead, name: &str, user: &str) -> Result<GroupRec, Fail> {
    let g = group(kv, name)?;
    if !g.members.iter().any(|m| m == user) {
        return Err(ApiError::NotMember(name.to_string()).into());
    }
    Ok(g)
}

/// A file of a group.
///
/// # Errors
/// [`ApiError::FileNotFound`].
pub fn file(kv: &impl KvRead, group: &str, name: &str) -> Result<FileRec, Fail> {
    kv.get::<FileRec>(Table::Files, &file_key(group, name))?
        .ok_or_else(|| {
            ApiError::FileNotFound {
                group: group.to_string(),
                name: name.to_string(),
            }
            .into()
        })
}

/// A peer owned by `user`.
///
/// # Errors
/// [`ApiError::PeerNotFound`] if unknown or owned by someone else.
pub fn own_peer(kv: &impl KvRead, peer_id: u64, user: &str) -> Result<PeerRec, Fail> {
    match kv.get::<PeerRec>(Table::Peers, &peer_key(peer_id))? {
        Some(p) if p.username == user => Ok(p),
        _ => Err(ApiError::PeerNotFound(peer_id).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{group_of, peer_of, signed_in};
    use crate::domain::mem_kv::MemKv;

    #[test]
    fn a_session_is_live_until_it_expires() {
        let mut kv = MemKv::new();
        let token = signed_in(&mut kv, "ann", 1);
        assert_eq!(session_user(&kv, &token, 0).unwrap(), "ann");
        assert!(matches!(
            session_user(&kv, &token, crate::domain::fixtures::EXPIRES_AT_MS),
            Err(Fail::Api(ApiError::NotLoggedIn))
        ));
        assert!(matches!(
            session_user(&kv, &[9; 32], 0),
            Err(Fail::Api(ApiError::NotLoggedIn))
        ));
    }

    #[test]
    fn groups_files_and_peers_are_refused_by_name() {
        let mut kv = MemKv::new();
        group_of(&mut kv, "g", "ann", &["bob"]);
        peer_of(&mut kv, 7, "ann");
        assert!(member_group(&kv, "g", "bob").is_ok());
        assert!(matches!(
            member_group(&kv, "g", "eve"),
            Err(Fail::Api(ApiError::NotMember(g))) if g == "g"
        ));
        assert!(matches!(
            group(&kv, "h"),
            Err(Fail::Api(ApiError::GroupNotFound(g))) if g == "h"
        ));
        assert!(matches!(
            file(&kv, "g", "f"),
            Err(Fail::Api(ApiError::FileNotFound { .. }))
        ));
        assert!(own_peer(&kv, 7, "ann").is_ok());
        for (id, user) in [(7, "bob"), (8, "ann")] {
            assert!(matches!(
                own_peer(&kv, id, user),
                Err(Fail::Api(ApiError::PeerNotFound(p))) if p == id
            ));
        }
    }
}
