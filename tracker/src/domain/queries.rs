//! What each read returns, computed from the committed tables after a linearizable read barrier.

use proto::tracker_msg::{FileSummary, GroupSummary, Response, Source};
use proto::ApiError;

use super::error::Fail;
use super::kv::{decode_record, KvRead, Table};
use super::records::*;
use super::rules::{file, group, member_group, session_user};
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
