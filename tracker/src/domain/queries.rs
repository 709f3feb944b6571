//! What each read returns, computed from the committed tables after a linearizable read barrier.

use proto::tracker_msg::{FileSummary, GroupSummary, Response, Source};
use proto::ApiError;

use super::error::Fail;
use super::kv::{decode_record, KvRead, Table};
use super::lookup::{file, group, member_group, session_user};
use super::records::*;
use crate::cmd::TokenBytes;

/// The session's username.
///
/// # Errors
/// [`ApiError::NotLoggedIn`].
pub fn whoami(kv: &impl KvRead, token: &TokenBytes, now_ms: u64) -> Result<Response, Fail> {
    let username = session_user(kv, token, now_ms)?;
    Ok(Response::User { username })
}

/// Every group as seen by the caller, by name.
///
/// # Errors
/// [`ApiError::NotLoggedIn`].
pub fn list_groups(kv: &impl KvRead, token: &TokenBytes, now_ms: u64) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let mut out = Vec::new();
    for (k, v) in kv.scan_raw(Table::Groups, b"")? {
        let g: GroupRec = decode_record(Table::Groups, &v)?;
        out.push(GroupSummary {
            name: String::from_utf8_lossy(&k).into_owned(),
            owner: g.owner.clone(),
            member_count: u32::try_from(g.members.len()).unwrap_or(u32::MAX),
            is_member: g.members.contains(&user),
            request_pending: g.requests.contains(&user),
        });
    }
    Ok(Response::Groups(out))
}

/// Pending join requests (owner only).
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotOwner`].
pub fn list_requests(
    kv: &impl KvRead,
    token: &TokenBytes,
    now_ms: u64,
    name: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let g = group(kv, name)?;
    if g.owner != user {
        return Err(ApiError::NotOwner(name.to_string()).into());
    }
    Ok(Response::JoinRequests(g.requests))
}

/// Online availability of one file: (full seeders, partial peers, sources).
fn online_sources(
    kv: &impl KvRead,
    group: &str,
    name: &str,
    chunk_count: usize,
) -> Result<(u32, u32, Vec<Source>), Fail> {
    let (mut full, mut partial, mut sources) = (0u32, 0u32, Vec::new());
    for (k, bits) in kv.scan_raw(Table::Avail, &avail_prefix(group, name))? {
        let Some(peer_id) = peer_of_avail_key(&k) else {
            continue;
        };
        let Some(p) = kv.get::<PeerRec>(Table::Peers, &peer_key(peer_id))? else {
            continue;
        };
        let held = bitfield_count(&bits);
        if !p.online || held == 0 {
            continue;
        }
        if held >= chunk_count {
            full += 1;
        } else {
            partial += 1;
        }
        sources.push(Source {
            peer_id,
            username: p.username,
            addr: p.addr,
            bitfield: bits,
        });
    }
    Ok((full, partial, sources))
}

/// Files of a group (members only), with online seeder counts.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotMember`].
pub fn list_files(
    kv: &impl KvRead,
    token: &TokenBytes,
    now_ms: u64,
    gname: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    member_group(kv, gname, &user)?;
    let mut out = Vec::new();
    for (_, v) in kv.scan_raw(Table::Files, &group_files_prefix(gname))? {
        let f: FileRec = decode_record(Table::Files, &v)?;
        let count = f.manifest.chunk_hashes.len();
        let (full, partial, _) = online_sources(kv, gname, &f.manifest.name, count)?;
        out.push(FileSummary {
            name: f.manifest.name.clone(),
            size_bytes: f.manifest.size_bytes,
            chunk_count: u32::try_from(count).unwrap_or(u32::MAX),
            file_hash: f.manifest.file_hash,
            uploader: f.uploader,
            full_seeders: full,
            partial_peers: partial,
        });
    }
    Ok(Response::Files(out))
}

/// A file's manifest and its online sources (members only).
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotMember`],
/// [`ApiError::FileNotFound`].
pub fn file_sources(
    kv: &impl KvRead,
    token: &TokenBytes,
    now_ms: u64,
    gname: &str,
    name: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    member_group(kv, gname, &user)?;
    let f = file(kv, gname, name)?;
    let count = f.manifest.chunk_hashes.len();
    let (_, _, sources) = online_sources(kv, gname, name, count)?;
    Ok(Response::Sources {
        manifest: f.manifest,
        sources,
        ticket: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{file_in, group_of, manifest, peer_of, signed_in};
    use crate::domain::kv::KvWrite;
    use crate::domain::mem_kv::MemKv;

    fn refused(r: Result<Response, Fail>) -> ApiError {
        match r {
            Err(Fail::Api(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reads_need_a_live_session() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        assert_eq!(
            whoami(&kv, &ann, 0).unwrap(),
            Response::User {
                username: "ann".into()
            }
        );
        let nobody = [9; 32];
        assert_eq!(refused(whoami(&kv, &nobody, 0)), ApiError::NotLoggedIn);
        assert_eq!(refused(list_groups(&kv, &nobody, 0)), ApiError::NotLoggedIn);
        assert_eq!(
            refused(list_files(&kv, &nobody, 0, "g")),
            ApiError::NotLoggedIn
        );
    }

    #[test]
    fn groups_are_listed_as_the_caller_sees_them_and_requests_only_to_the_owner() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        let mut g: GroupRec = kv.get(Table::Groups, b"g").unwrap().unwrap();
        g.requests.push("bob".into());
        kv.put(Table::Groups, b"g".to_vec(), &g).unwrap();
        let Response::Groups(seen) = list_groups(&kv, &bob, 0).unwrap() else {
            panic!("not a group list");
        };
        assert_eq!(seen.len(), 1);
        assert!(seen[0].request_pending && !seen[0].is_member);
        assert_eq!((seen[0].owner.as_str(), seen[0].member_count), ("ann", 1));
        assert_eq!(
            list_requests(&kv, &ann, 0, "g").unwrap(),
            Response::JoinRequests(vec!["bob".into()])
        );
        assert_eq!(
            refused(list_requests(&kv, &bob, 0, "g")),
            ApiError::NotOwner("g".into())
        );
        assert_eq!(
            refused(list_requests(&kv, &ann, 0, "h")),
            ApiError::GroupNotFound("h".into())
        );
    }

    #[test]
    fn files_and_sources_count_online_holders_for_members_only() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        file_in(&mut kv, "g", manifest("f", 10), "ann");
        for id in 1..=3 {
            peer_of(&mut kv, id, "ann");
        }
        kv.put_raw(Table::Avail, avail_key("g", "f", 1), bitfield_full(10));
        kv.put_raw(Table::Avail, avail_key("g", "f", 2), vec![1, 0]);
        kv.put_raw(Table::Avail, avail_key("g", "f", 3), bitfield_full(10));
        let mut offline: PeerRec = kv.get(Table::Peers, &peer_key(3)).unwrap().unwrap();
        offline.online = false;
        kv.put(Table::Peers, peer_key(3), &offline).unwrap();
        let Response::Files(files) = list_files(&kv, &ann, 0, "g").unwrap() else {
            panic!("not a file list");
        };
        assert_eq!(files.len(), 1);
        assert_eq!((files[0].full_seeders, files[0].partial_peers), (1, 1));
        let Response::Sources { sources, .. } = file_sources(&kv, &ann, 0, "g", "f").unwrap()
        else {
            panic!("not sources");
        };
        let ids: Vec<u64> = sources.iter().map(|s| s.peer_id).collect();
        assert_eq!(ids, vec![1, 2], "the offline peer is no source");
        assert_eq!(
            refused(list_files(&kv, &bob, 0, "g")),
            ApiError::NotMember("g".into())
        );
        assert!(matches!(
            refused(file_sources(&kv, &ann, 0, "g", "nope")),
            ApiError::FileNotFound { .. }
        ));
        assert_eq!(
            refused(file_sources(&kv, &bob, 0, "g", "f")),
            ApiError::NotMember("g".into())
        );
    }
}
