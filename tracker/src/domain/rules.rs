//! What each replicated operation does to the state. Pure functions of (state, command): no
//! clock, no randomness, no I/O but the overlay, so every node computes the same result.

use proto::tracker_msg::Response;
use proto::ApiError;

use super::error::Fail;
use super::kv::{decode_record, KvRead, KvWrite, Table};
use super::records::*;
use super::validate::{check_file_name, check_manifest, check_name};
use crate::cmd::{Op, TokenBytes};

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
fn own_peer(kv: &impl KvRead, peer_id: u64, user: &str) -> Result<PeerRec, Fail> {
    match kv.get::<PeerRec>(Table::Peers, &peer_key(peer_id))? {
        Some(p) if p.username == user => Ok(p),
        _ => Err(ApiError::PeerNotFound(peer_id).into()),
    }
}

/// Applies one operation at leader time `now_ms`.
///
/// # Errors
/// [`Fail::Api`] is the client's (deterministic) refusal; [`Fail::Store`] stops the node.
pub fn apply_op(kv: &mut impl KvWrite, now_ms: u64, op: &Op) -> Result<Response, Fail> {
    match op {
        Op::CreateUser {
            username,
            password_hash,
        } => {
            check_name("username", username)?;
            if kv.get_raw(Table::Users, username.as_bytes())?.is_some() {
                return Err(ApiError::UserExists(username.clone()).into());
            }
            let rec = UserRec {
                password_hash: password_hash.clone(),
                created_at_ms: now_ms,
            };
            kv.put(Table::Users, username.as_bytes().to_vec(), &rec)?;
            Ok(Response::Done)
        }
        Op::OpenSession {
            username,
            token,
            expires_at_ms,
        } => {
            if kv.get_raw(Table::Users, username.as_bytes())?.is_none() {
                return Err(ApiError::BadCredentials.into());
            }
            let rec = SessionRec {
                username: username.clone(),
                expires_at_ms: *expires_at_ms,
            };
            kv.put(Table::Sessions, token.to_vec(), &rec)?;
            Ok(Response::Session {
                token: proto::tracker_msg::to_hex(token),
                expires_at_ms: *expires_at_ms,
            })
        }
        Op::CloseSession { token } => {
            kv.delete(Table::Sessions, token.to_vec());
            Ok(Response::Done)
        }
        Op::CreateGroup { token, group: name } => {
            let user = session_user(kv, token, now_ms)?;
            check_name("group name", name)?;
            if kv.get_raw(Table::Groups, name.as_bytes())?.is_some() {
                return Err(ApiError::GroupExists(name.clone()).into());
            }
            let rec = GroupRec {
                owner: user.clone(),
                members: vec![user],
                requests: Vec::new(),
                created_at_ms: now_ms,
            };
            kv.put(Table::Groups, name.as_bytes().to_vec(), &rec)?;
            Ok(Response::Done)
        }
        Op::JoinGroup { token, group: name } => {
            let user = session_user(kv, token, now_ms)?;
            let mut g = group(kv, name)?;
            if g.members.contains(&user) {
                return Err(ApiError::AlreadyMember(name.clone()).into());
            }
            if !g.requests.contains(&user) {
                g.requests.push(user);
                kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
            }
            Ok(Response::Done)
        }
        Op::AcceptJoin {
            token,
            group: name,
            username,
        } => {
            let user = session_user(kv, token, now_ms)?;
            let mut g = group(kv, name)?;
            if g.owner != user {
                return Err(ApiError::NotOwner(name.clone()).into());
            }
            let Some(pos) = g.requests.iter().position(|r| r == username) else {
                return Err(ApiError::NoSuchRequest {
                    group: name.clone(),
                    user: username.clone(),
                }
                .into());
            };
            g.requests.remove(pos);
            g.members.push(username.clone());
            kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
            Ok(Response::Done)
        }
        Op::LeaveGroup { token, group: name } => {
            let user = session_user(kv, token, now_ms)?;
            leave_group(kv, name, &user)?;
            Ok(Response::Done)
        }
        Op::RegisterPeer {
            token,
            peer_id,
            addr,
        } => {
            let user = session_user(kv, token, now_ms)?;
            if let Some(existing) = kv.get::<PeerRec>(Table::Peers, &peer_key(*peer_id))? {
                if existing.username != user {
                    return Err(ApiError::InvalidRequest(format!(
                        "peer id {peer_id} belongs to another user: delete the peer's home state to get a new id"
                    ))
                    .into());
                }
            }
            if addr.is_empty() || addr.len() > 256 {
                return Err(ApiError::InvalidRequest(
                    "peer address must be 1 to 256 bytes (host:port)".into(),
                )
                .into());
            }
            let rec = PeerRec {
                username: user,
                addr: addr.clone(),
                online: true,
            };
            kv.put(Table::Peers, peer_key(*peer_id), &rec)?;
            Ok(Response::Done)
        }
        Op::RegisterFile {
            token,
            peer_id,
            group: gname,
            manifest,
        } => {
            let user = session_user(kv, token, now_ms)?;
            member_group(kv, gname, &user)?;
            own_peer(kv, *peer_id, &user)?;
            check_manifest(manifest)?;
            let key = file_key(gname, &manifest.name);
            match kv.get::<FileRec>(Table::Files, &key)? {
                Some(existing) if existing.manifest != *manifest => {
                    return Err(ApiError::FileConflict {
                        group: gname.clone(),
                        name: manifest.name.clone(),
                    }
                    .into());
                }
                Some(_) => {}
                None => {
                    let rec = FileRec {
                        manifest: manifest.clone(),
                        uploader: user,
                        registered_at_ms: now_ms,
                    };
                    kv.put(Table::Files, key, &rec)?;
                }
            }
            let bits = bitfield_full(manifest.chunk_hashes.len());
            kv.put_raw(
                Table::Avail,
                avail_key(gname, &manifest.name, *peer_id),
                bits,
            );
            Ok(Response::Done)
        }
        Op::ReportHave {
            token,
            peer_id,
            group: gname,
            name,
            chunks,
        } => {
            let user = session_user(kv, token, now_ms)?;
            member_group(kv, gname, &user)?;
            own_peer(kv, *peer_id, &user)?;
            check_file_name(name)?;
            let f = file(kv, gname, name)?;
            let count = f.manifest.chunk_hashes.len();
            if let Some(bad) = chunks.iter().find(|&&c| c as usize >= count) {
                return Err(ApiError::InvalidRequest(format!(
                    "chunk {bad} is out of range: {name:?} has {count} chunks"
                ))
                .into());
            }
            let key = avail_key(gname, name, *peer_id);
            let mut bits = kv
                .get_raw(Table::Avail, &key)?
                .unwrap_or_else(|| vec![0u8; bitfield_len(count)]);
            bits.resize(bitfield_len(count), 0);
            for &c in chunks {
                bitfield_set(&mut bits, c as usize);
            }
            kv.put_raw(Table::Avail, key, bits);
            Ok(Response::Done)
        }
        Op::StopShare {
            token,
            peer_id,
            group: gname,
            name,
        } => {
            let user = session_user(kv, token, now_ms)?;
            own_peer(kv, *peer_id, &user)?;
            check_file_name(name)?;
            kv.delete(Table::Avail, avail_key(gname, name, *peer_id));
            Ok(Response::Done)
        }
        Op::SetClusterKey { secret } => {
            // First key wins: a second leader racing to create one changes nothing.
            if kv.get_raw(Table::Cluster, CLUSTER_SIGNING_KEY)?.is_none() {
                kv.put_raw(
                    Table::Cluster,
                    CLUSTER_SIGNING_KEY.to_vec(),
                    secret.to_vec(),
                );
            }
            Ok(Response::Done)
        }
        Op::PruneClients { before_ms } => {
            for (k, v) in kv.scan_raw(Table::Clients, b"")? {
                let rec: ClientRec = decode_record(Table::Clients, &v)?;
                if rec.applied_at_ms < *before_ms {
                    kv.delete(Table::Clients, k);
                }
            }
            Ok(Response::Done)
        }
        Op::SetPeersOnline { peer_ids, online } => {
            for id in peer_ids {
                if let Some(mut p) = kv.get::<PeerRec>(Table::Peers, &peer_key(*id))? {
                    if p.online != *online {
                        p.online = *online;
                        kv.put(Table::Peers, peer_key(*id), &p)?;
                    }
                }
            }
            Ok(Response::Done)
        }
    }
}

/// Removes `user` from a group: its pending request or its membership. Ownership passes to the
/// longest-standing remaining member; an empty group is removed with its files and availability.
/// The leaving user's peers stop being sources of the group's files.
fn leave_group(kv: &mut impl KvWrite, name: &str, user: &str) -> Result<(), Fail> {
    let mut g = group(kv, name)?;
    if let Some(pos) = g.requests.iter().position(|r| r == user) {
        g.requests.remove(pos);
        kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
        return Ok(());
    }
    let Some(pos) = g.members.iter().position(|m| m == user) else {
        return Err(ApiError::NotMember(name.to_string()).into());
    };
    g.members.remove(pos);
    let files = kv.scan_raw(Table::Files, &group_files_prefix(name))?;
    if g.members.is_empty() {
        kv.delete(Table::Groups, name.as_bytes().to_vec());
        for (file_key, _) in files {
            let mut prefix = file_key.clone();
            prefix.push(0);
            for (k, _) in kv.scan_raw(Table::Avail, &prefix)? {
                kv.delete(Table::Avail, k);
            }
            kv.delete(Table::Files, file_key);
        }
        return Ok(());
    }
    if g.owner == user {
        // Members are kept in join order, so the first one has been there longest.
        g.owner = g.members[0].clone();
    }
    kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
    for (file_key, _) in files {
        let mut prefix = file_key;
        prefix.push(0);
        for (k, _) in kv.scan_raw(Table::Avail, &prefix)? {
            let Some(peer_id) = peer_of_avail_key(&k) else {
                continue;
            };
            let owner = kv.get::<PeerRec>(Table::Peers, &peer_key(peer_id))?;
            if owner.is_some_and(|p| p.username == user) {
                kv.delete(Table::Avail, k);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mem_kv::MemKv;

    fn client(serial: u64, at: u64) -> ClientRec {
        ClientRec {
            serial,
            reply: Ok(Response::Done),
            applied_at_ms: at,
        }
    }

    #[test]
    fn prune_drops_only_idle_client_records() {
        let mut kv = MemKv::new();
        kv.put(Table::Clients, client_key(1), &client(5, 100))
            .unwrap();
        kv.put(Table::Clients, client_key(2), &client(7, 900))
            .unwrap();
        apply_op(&mut kv, 1000, &Op::PruneClients { before_ms: 500 }).unwrap();
        assert!(kv
            .get_raw(Table::Clients, &client_key(1))
            .unwrap()
            .is_none());
        assert!(kv
            .get_raw(Table::Clients, &client_key(2))
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_refused_operation_leaves_no_trace_after_rollback() {
        let mut kv = MemKv::new();
        let create = Op::CreateUser {
            username: "ann".into(),
            password_hash: "h".into(),
        };
        apply_op(&mut kv, 1, &create).unwrap();
        kv.begin();
        kv.put_raw(Table::Groups, b"scratch".to_vec(), vec![1]);
        assert!(matches!(
            apply_op(&mut kv, 2, &create),
            Err(Fail::Api(ApiError::UserExists(_)))
        ));
        kv.rollback();
        assert!(kv.get_raw(Table::Groups, b"scratch").unwrap().is_none());
        assert!(kv.get_raw(Table::Users, b"ann").unwrap().is_some());
    }
}
