//! [`admit`]: what the leader checks against its applied state before it proposes a client's
//! command, so that a request the rules would refuse for want of a session (or, for the file
//! writes, of a membership, a peer or a chunk the file has) never reaches the log.
//!
//! The checks are the rules' own lookups, in the rules' order (so the refusal is the one apply
//! would give, and a non-member learns nothing about a group's files): the session for every
//! write made under one; membership and peer ownership for the file writes; for a chunk report,
//! that every chunk is one the file has (the manifest's sizes are read without its hashes,
//! [`chunk_count`]); that a new account's or group's name is free; for refusing a request or
//! removing a member, the owner and the request or member; for unpublishing, membership, the
//! file and that the caller is its uploader or the group's owner. Whatever else depends on the
//! state (an owner check, a name taken by a write still in flight) is left to apply, which
//! re-checks everything deterministically.
//!
//! The applied state a leader reads may trail what was committed before the request arrived (a
//! new leader catching up): the caller runs [`admit`] again after a read barrier before it
//! refuses (`api/write.rs`), so a refusal is never due to a stale view.

use serde::Deserialize;

use proto::tracker_msg::FileManifest;
use proto::ApiError;

use super::error::Fail;
use super::kv::{KvRead, StoreError, Table};
use super::lookup::{
    file as lookup_file, group as lookup_group, member_group, own_peer, session_user,
};
use super::records::file_key;
use super::rules::file::check_unpublish;
use super::rules::group::{check_reject, check_remove};
use crate::cmd::Op;

/// Checks `op` against the state in `kv` at leader time `now_ms` (see the module doc).
///
/// # Errors
/// [`Fail::Api`] with the refusal apply would give ([`ApiError::NotLoggedIn`], `NotMember`,
/// `GroupNotFound`, `PeerNotFound`, `InvalidRequest` for a chunk out of range); [`Fail::Store`].
pub fn admit(kv: &impl KvRead, now_ms: u64, op: &Op) -> Result<(), Fail> {
    match op {
        Op::CreateUser { username, .. } | Op::CreateUserNamed { username, .. } => {
            // Accounts are never deleted: one in the applied state is taken for good.
            if kv.get_raw(Table::Users, username.as_bytes())?.is_some() {
                return Err(ApiError::UserExists(username.clone()).into());
            }
            Ok(())
        }
        Op::CreateGroup { token, group } | Op::CreateOpenGroup { token, group } => {
            session_user(kv, token, now_ms)?;
            if kv.get_raw(Table::Groups, group.as_bytes())?.is_some() {
                return Err(ApiError::GroupExists(group.clone()).into());
            }
            Ok(())
        }
        Op::RejectJoin {
            token,
            group,
            username,
        } => {
            let user = session_user(kv, token, now_ms)?;
            check_reject(&lookup_group(kv, group)?, group, &user, username).map_err(Fail::from)
        }
        Op::RemoveMember {
            token,
            group,
            username,
        } => {
            let user = session_user(kv, token, now_ms)?;
            check_remove(&lookup_group(kv, group)?, group, &user, username).map_err(Fail::from)
        }
        Op::JoinGroup { token, .. }
        | Op::LeaveGroup { token, .. }
        | Op::AcceptJoin { token, .. }
        | Op::RegisterPeer { token, .. }
        | Op::StopShare { token, .. } => session_user(kv, token, now_ms).map(drop),
        Op::RegisterFile {
            token,
            peer_id,
            group,
            ..
        } => {
            let user = session_user(kv, token, now_ms)?;
            member_group(kv, group, &user)?;
            own_peer(kv, *peer_id, &user).map(drop)
        }
        Op::SignOff { token, peer_id } => {
            let user = session_user(kv, token, now_ms)?;
            own_peer(kv, *peer_id, &user).map(drop)
        }
        Op::Unpublish { token, group, name } => {
            let user = session_user(kv, token, now_ms)?;
            let g = member_group(kv, group, &user)?;
            let f = lookup_file(kv, group, name)?;
            check_unpublish(&g, &f, group, &user).map_err(Fail::from)
        }
        Op::ReportHave {
            token,
            peer_id,
            group,
            name,
            chunks,
        } => {
            let user = session_user(kv, token, now_ms)?;
            member_group(kv, group, &user)?;
            own_peer(kv, *peer_id, &user)?;
            // An unknown file is the rule's to refuse (FileNotFound); only a known one's size
            // is checked here.
            if let Some(count) = chunk_count(kv, group, name)? {
                if let Some(bad) = chunks.iter().find(|&&c| u64::from(c) >= count) {
                    return Err(ApiError::InvalidRequest(format!(
                        "chunk {bad} is out of range: {} has {count} chunks",
                        proto::limits::quote(name)
                    ))
                    .into());
                }
            }
            Ok(())
        }
        // Closing a session needs none (an unknown token is no error); account and leader
        // commands are checked where they are made.
        Op::CloseSession { .. }
        | Op::OpenSession { .. }
        | Op::SetClusterKey { .. }
        | Op::PruneClients { .. }
        | Op::SetPeersOnline { .. }
        | Op::PruneSessions { .. }
        | Op::SetQuotas { .. }
        | Op::PrunePeers { .. } => Ok(()),
    }
}

/// Whether `op` would change nothing and answer `Done` at apply, so the leader can answer it
/// without a log entry: closing a session that is not stored (any more).
///
/// # Errors
/// Storage errors.
pub fn changes_nothing(kv: &impl KvRead, op: &Op) -> Result<bool, StoreError> {
    match op {
        Op::CloseSession { token } => Ok(kv.get_raw(Table::Sessions, token)?.is_none()),
        _ => Ok(false),
    }
}

/// The leading fields of a stored file record: its manifest's name and sizes. A record decodes
/// as this without its chunk hashes being read (`FileRec` starts with its manifest, whose
/// first fields these are).
#[derive(Deserialize)]
struct ManifestHead {
    _name: String,
    size_bytes: u64,
    chunk_size_bytes: u32,
}

/// How many chunks file `name` of `group` has, if it is registered.
///
/// # Errors
/// Storage errors, or a record that does not start like a file record.
pub fn chunk_count(kv: &impl KvRead, group: &str, name: &str) -> Result<Option<u64>, StoreError> {
    // Only the manifest's head is decoded, straight from the stored bytes: a manifest can hold
    // megabytes of chunk hashes, and this runs for every ReportHave.
    let head = kv.with_raw(Table::Files, &file_key(group, name), |bytes| {
        bytes.map(proto::frame::decode_prefix::<ManifestHead>)
    })?;
    let Some(head) = head else {
        return Ok(None);
    };
    let head = head.map_err(|e| StoreError::Corrupt {
        table: Table::Files,
        reason: e.to_string(),
    })?;
    Ok(Some(FileManifest::expected_chunk_count(
        head.size_bytes,
        head.chunk_size_bytes,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{file_in, group_of, manifest, peer_of, signed_in};
    use crate::domain::mem_kv::MemKv;

    fn refusal(r: Result<(), Fail>) -> ApiError {
        match r {
            Err(Fail::Api(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn report(token: [u8; 32], peer_id: u64, group: &str, chunks: Vec<u32>) -> Op {
        Op::ReportHave {
            token,
            peer_id,
            group: group.into(),
            name: "f".into(),
            chunks,
        }
    }

    #[test]
    fn a_write_under_an_unknown_or_expired_session_is_refused() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let create = |token| Op::CreateGroup {
            token,
            group: "g".into(),
        };
        assert_eq!(admit(&kv, 0, &create(ann)).ok(), Some(()));
        crate::domain::fixtures::group_of(&mut kv, "g", "ann", &[]);
        assert_eq!(
            refusal(admit(&kv, 0, &create(ann))),
            ApiError::GroupExists("g".into())
        );
        let taken = Op::CreateUser {
            username: "ann".into(),
            password_hash: "h".into(),
        };
        assert_eq!(
            refusal(admit(&kv, 0, &taken)),
            ApiError::UserExists("ann".into())
        );
        assert_eq!(
            refusal(admit(&kv, 0, &create([9; 32]))),
            ApiError::NotLoggedIn
        );
        let expired = crate::domain::fixtures::EXPIRES_AT_MS;
        assert_eq!(
            refusal(admit(&kv, expired, &create(ann))),
            ApiError::NotLoggedIn
        );
        // Logging out needs no live session, and closing one that is not stored changes nothing.
        let logout = Op::CloseSession { token: [9; 32] };
        assert!(admit(&kv, 0, &logout).is_ok());
        assert!(changes_nothing(&kv, &logout).unwrap());
        assert!(!changes_nothing(&kv, &Op::CloseSession { token: ann }).unwrap());
        assert!(!changes_nothing(&kv, &create(ann)).unwrap());
    }

    #[test]
    fn a_chunk_report_is_checked_like_the_rule_checks_it() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        peer_of(&mut kv, 1, "ann");
        peer_of(&mut kv, 2, "bob");
        file_in(&mut kv, "g", manifest("f", 10), "ann");
        assert!(admit(&kv, 0, &report(ann, 1, "g", vec![0, 9])).is_ok());
        assert!(matches!(
            refusal(admit(&kv, 0, &report(ann, 1, "g", vec![3, 10]))),
            ApiError::InvalidRequest(why) if why.contains("out of range") && why.contains("10 chunks")
        ));
        // A non-member learns nothing about the group's files.
        assert_eq!(
            refusal(admit(&kv, 0, &report(bob, 2, "g", vec![10]))),
            ApiError::NotMember("g".into())
        );
        assert_eq!(
            refusal(admit(&kv, 0, &report(ann, 2, "g", vec![0]))),
            ApiError::PeerNotFound(2)
        );
        assert_eq!(
            refusal(admit(&kv, 0, &report(ann, 1, "h", vec![0]))),
            ApiError::GroupNotFound("h".into())
        );
        assert_eq!(chunk_count(&kv, "g", "f").unwrap(), Some(10));
        assert_eq!(chunk_count(&kv, "g", "nope").unwrap(), None);
    }

    #[test]
    fn registering_a_file_needs_membership_and_an_own_peer() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        peer_of(&mut kv, 1, "ann");
        let register = |token, peer_id| Op::RegisterFile {
            token,
            peer_id,
            group: "g".into(),
            manifest: manifest("f", 3),
        };
        assert!(admit(&kv, 0, &register(ann, 1)).is_ok());
        assert_eq!(
            refusal(admit(&kv, 0, &register(bob, 1))),
            ApiError::NotMember("g".into())
        );
        assert_eq!(
            refusal(admit(&kv, 0, &register(ann, 5))),
            ApiError::PeerNotFound(5)
        );
    }

    #[test]
    fn refusing_a_request_and_removing_a_member_are_checked_before_proposing() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &["bob"]);
        let reject = |token, who: &str| Op::RejectJoin {
            token,
            group: "g".into(),
            username: who.into(),
        };
        let remove = |token, who: &str| Op::RemoveMember {
            token,
            group: "g".into(),
            username: who.into(),
        };
        assert_eq!(
            refusal(admit(&kv, 0, &reject(ann, "carol"))),
            ApiError::NoSuchRequest {
                group: "g".into(),
                user: "carol".into()
            }
        );
        assert_eq!(
            refusal(admit(&kv, 0, &reject(bob, "carol"))),
            ApiError::NotOwner("g".into())
        );
        assert!(admit(&kv, 0, &remove(ann, "bob")).is_ok());
        assert_eq!(
            refusal(admit(&kv, 0, &remove(bob, "ann"))),
            ApiError::NotOwner("g".into())
        );
        assert!(matches!(
            refusal(admit(&kv, 0, &remove(ann, "ann"))),
            ApiError::InvalidRequest(_)
        ));
        let elsewhere = Op::RemoveMember {
            token: ann,
            group: "h".into(),
            username: "bob".into(),
        };
        assert_eq!(
            refusal(admit(&kv, 0, &elsewhere)),
            ApiError::GroupNotFound("h".into())
        );
    }

    #[test]
    fn an_unpublish_is_refused_before_proposing_unless_by_the_uploader_or_the_owner() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        let carol = signed_in(&mut kv, "carol", 3);
        let dave = signed_in(&mut kv, "dave", 4);
        group_of(&mut kv, "g", "ann", &["bob", "carol"]);
        file_in(&mut kv, "g", manifest("f", 2), "bob");
        let unpublish = |token, name: &str| Op::Unpublish {
            token,
            group: "g".into(),
            name: name.into(),
        };
        assert!(admit(&kv, 0, &unpublish(bob, "f")).is_ok(), "the uploader");
        assert!(admit(&kv, 0, &unpublish(ann, "f")).is_ok(), "the owner");
        assert!(matches!(
            refusal(admit(&kv, 0, &unpublish(carol, "f"))),
            ApiError::Forbidden(why) if why.contains("uploader (bob)")
        ));
        assert_eq!(
            refusal(admit(&kv, 0, &unpublish(dave, "f"))),
            ApiError::NotMember("g".into())
        );
        assert_eq!(
            refusal(admit(&kv, 0, &unpublish(ann, "nope"))),
            ApiError::FileNotFound {
                group: "g".into(),
                name: "nope".into()
            }
        );
        assert_eq!(
            refusal(admit(&kv, 0, &unpublish([9; 32], "f"))),
            ApiError::NotLoggedIn
        );
    }
}
