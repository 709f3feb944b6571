//! What each read returns, computed from the committed tables after a linearizable read barrier.
//! Lists come a page at a time ([`PageRequest`]): the cursor names the last item of the previous
//! page (a group or file name, a peer id, or how many join requests came before), and each page
//! reads only its own keys.

use proto::tracker_msg::{
    AccountInfo, FileSummary, GroupSummary, Page, PageRequest, Response, Source,
    DEFAULT_PAGE_ITEMS, MAX_CURSOR_BYTES, MAX_PAGE_ITEMS,
};
use proto::ApiError;

use super::error::Fail;
use super::kv::{decode_record, KvRead, Table};
use super::lookup::{file, group, member_group, session_user};
use super::records::*;
use crate::cmd::TokenBytes;

/// The session's account: username, display name, creation and last-login times.
///
/// # Errors
/// [`ApiError::NotLoggedIn`]; [`ApiError::UserNotFound`] if the account is gone (never, as
/// accounts are not deleted).
pub fn whoami(kv: &impl KvRead, token: &TokenBytes, now_ms: u64) -> Result<Response, Fail> {
    let username = session_user(kv, token, now_ms)?;
    let Some(rec) = kv.get::<UserRec>(Table::Users, username.as_bytes())? else {
        return Err(ApiError::UserNotFound(username).into());
    };
    Ok(Response::Account(AccountInfo {
        username,
        display_name: rec.display_name,
        created_at_ms: rec.created_at_ms,
        last_login_ms: rec.last_login_ms,
    }))
}

/// The display name of `username`, if the account has one.
///
/// # Errors
/// Storage errors, or a record that does not decode.
fn display_name_of(kv: &impl KvRead, username: &str) -> Result<Option<String>, Fail> {
    Ok(kv
        .get::<UserRec>(Table::Users, username.as_bytes())?
        .and_then(|u| u.display_name))
}

/// Most bitfield bytes one page of sources carries (a source of a file of `n` chunks carries
/// `n / 8` bytes), so a page stays far below the frame limit however large the file.
const MAX_SOURCE_PAGE_BYTES: usize = 4 << 20;

/// How many items a page holds: the request's limit, 0 meaning the default, capped.
pub(super) fn page_len(page: &PageRequest) -> usize {
    let asked = if page.limit == 0 {
        DEFAULT_PAGE_ITEMS
    } else {
        page.limit.min(MAX_PAGE_ITEMS)
    };
    asked as usize
}

/// The request's cursor, if it is one a server of this list could have handed out.
///
/// # Errors
/// [`ApiError::InvalidRequest`] if it is longer than [`MAX_CURSOR_BYTES`].
pub(super) fn cursor(page: &PageRequest) -> Result<Option<&str>, Fail> {
    match page.after.as_deref() {
        Some(c) if c.len() > MAX_CURSOR_BYTES => Err(ApiError::InvalidRequest(format!(
            "a page cursor is at most {MAX_CURSOR_BYTES} bytes, this one has {}; pass the \
             `next` of the previous page",
            c.len()
        ))
        .into()),
        other => Ok(other),
    }
}

/// A numeric cursor (a peer id or a position).
///
/// # Errors
/// [`ApiError::InvalidRequest`] if it is not a number.
pub(super) fn numeric_cursor(page: &PageRequest) -> Result<Option<u64>, Fail> {
    cursor(page)?
        .map(|c| {
            c.parse::<u64>().map_err(|_| {
                Fail::from(ApiError::InvalidRequest(
                    "this list's page cursor is a number; pass the `next` of the previous page"
                        .into(),
                ))
            })
        })
        .transpose()
}

/// One page of the groups as seen by the caller, by name.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::InvalidRequest`] for a bad cursor.
pub fn list_groups(
    kv: &impl KvRead,
    token: &TokenBytes,
    now_ms: u64,
    page: &PageRequest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let after = cursor(page)?.map(str::as_bytes);
    let (entries, last) = kv.scan_page(Table::Groups, b"", after, page_len(page))?;
    let mut items = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let g: GroupRec = decode_record(Table::Groups, &v)?;
        items.push(GroupSummary {
            name: String::from_utf8_lossy(&k).into_owned(),
            owner: g.owner.clone(),
            member_count: u32::try_from(g.members.len()).unwrap_or(u32::MAX),
            is_member: g.members.contains(&user),
            request_pending: g.requests.contains(&user),
            open: g.open,
            owner_display_name: display_name_of(kv, &g.owner)?,
        });
    }
    let next = last.map(|k| String::from_utf8_lossy(&k).into_owned());
    Ok(Response::Groups(Page { items, next }))
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
    page: &PageRequest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let skip = numeric_cursor(page)?.unwrap_or(0);
    let g = group(kv, name)?;
    if g.owner != user {
        return Err(ApiError::NotOwner(name.to_string()).into());
    }
    // The cursor is how many requests came before: the list is in the order they were filed.
    let skip = usize::try_from(skip)
        .unwrap_or(usize::MAX)
        .min(g.requests.len());
    let end = skip.saturating_add(page_len(page)).min(g.requests.len());
    let items = g.requests[skip..end].to_vec();
    let next = (end < g.requests.len()).then(|| end.to_string());
    Ok(Response::JoinRequests(Page { items, next }))
}

/// Counts of one file's online holders: (full seeders, partial peers).
pub(super) fn online_counts(
    kv: &impl KvRead,
    group: &str,
    name: &str,
    chunk_count: usize,
) -> Result<(u32, u32), Fail> {
    let (mut full, mut partial) = (0u32, 0u32);
    for (k, bits) in kv.scan_raw(Table::Avail, &avail_prefix(group, name))? {
        if let Some((_, _, held)) = online_holder(kv, &k, &bits)? {
            if held >= chunk_count {
                full += 1;
            } else {
                partial += 1;
            }
        }
    }
    Ok((full, partial))
}

/// The peer of availability entry `key` and its record, if it holds any chunk, online or not.
fn holder(kv: &impl KvRead, key: &[u8], bits: &[u8]) -> Result<Option<(u64, PeerRec)>, Fail> {
    let Some(peer_id) = peer_of_avail_key(key) else {
        return Ok(None);
    };
    if bitfield_count(bits) == 0 {
        return Ok(None);
    }
    Ok(kv
        .get::<PeerRec>(Table::Peers, &peer_key(peer_id))?
        .map(|p| (peer_id, p)))
}

/// The peer of availability entry `key`, its record and how many chunks it holds, if it is
/// online and holds any.
fn online_holder(
    kv: &impl KvRead,
    key: &[u8],
    bits: &[u8],
) -> Result<Option<(u64, PeerRec, usize)>, Fail> {
    let Some(peer_id) = peer_of_avail_key(key) else {
        return Ok(None);
    };
    let Some(p) = kv.get::<PeerRec>(Table::Peers, &peer_key(peer_id))? else {
        return Ok(None);
    };
    let held = bitfield_count(bits);
    Ok((p.online && held > 0).then_some((peer_id, p, held)))
}

/// One page of a file's sources, by peer id, and the cursor of the next page: the online ones,
/// and with `include_offline` the offline ones too (with the time each went offline as its last
/// seen; an online source's last seen is the leader's to fill in, it is not replicated).
fn sources_page(
    kv: &impl KvRead,
    (group, name): (&str, &str),
    chunk_count: usize,
    include_offline: bool,
    page: &PageRequest,
) -> Result<(Vec<Source>, Option<String>), Fail> {
    let prefix = avail_prefix(group, name);
    let after = numeric_cursor(page)?.map(|id| avail_key(group, name, id));
    let per_source = chunk_count.div_ceil(8) + 64;
    let len = page_len(page).min((MAX_SOURCE_PAGE_BYTES / per_source).max(1));
    let (entries, last) = kv.scan_page(Table::Avail, &prefix, after.as_deref(), len)?;
    let mut sources = Vec::with_capacity(entries.len());
    for (k, bits) in entries {
        let Some((peer_id, p)) = holder(kv, &k, &bits)? else {
            continue;
        };
        if !p.online && !include_offline {
            continue;
        }
        let last_seen_ms = if p.online {
            None
        } else {
            super::offline::since(kv, peer_id)?
        };
        sources.push(Source {
            peer_id,
            username: p.username,
            addr: p.addr,
            peer_key: p.public_key,
            bitfield: bits,
            online: p.online,
            last_seen_ms,
        });
    }
    let next = last
        .as_deref()
        .and_then(peer_of_avail_key)
        .map(|id| id.to_string());
    Ok((sources, next))
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
    page: &PageRequest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let after = cursor(page)?.map(|name| file_key(gname, name));
    member_group(kv, gname, &user)?;
    let prefix = group_files_prefix(gname);
    let (entries, last) = kv.scan_page(Table::Files, &prefix, after.as_deref(), page_len(page))?;
    let mut items = Vec::with_capacity(entries.len());
    for (_, v) in entries {
        let f: FileRec = decode_record(Table::Files, &v)?;
        let count = f.manifest.chunk_hashes.len();
        let (full, partial) = online_counts(kv, gname, &f.manifest.name, count)?;
        items.push(FileSummary {
            name: f.manifest.name.clone(),
            size_bytes: f.manifest.size_bytes,
            chunk_count: u32::try_from(count).unwrap_or(u32::MAX),
            file_hash: f.manifest.file_hash,
            uploader: f.uploader,
            full_seeders: full,
            partial_peers: partial,
        });
    }
    let next = last.map(|k| String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
    Ok(Response::Files(Page { items, next }))
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
    include_offline: bool,
    page: &PageRequest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    member_group(kv, gname, &user)?;
    let f = file(kv, gname, name)?;
    let count = f.manifest.chunk_hashes.len();
    let (sources, next) = sources_page(kv, (gname, name), count, include_offline, page)?;
    Ok(Response::Sources {
        manifest: f.manifest,
        sources,
        ticket: None,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{file_in, group_of, manifest, peer_of, signed_in};
    use crate::domain::kv::KvWrite;
    use crate::domain::mem_kv::MemKv;

    /// The first page of the largest size.
    fn all() -> PageRequest {
        PageRequest::first(MAX_PAGE_ITEMS)
    }

    fn page(after: Option<&str>, limit: u32) -> PageRequest {
        PageRequest {
            after: after.map(str::to_string),
            limit,
        }
    }

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
            Response::Account(AccountInfo {
                username: "ann".into(),
                display_name: None,
                created_at_ms: 0,
                last_login_ms: None,
            })
        );
        let nobody = [9; 32];
        assert_eq!(refused(whoami(&kv, &nobody, 0)), ApiError::NotLoggedIn);
        assert_eq!(
            refused(list_groups(&kv, &nobody, 0, &all())),
            ApiError::NotLoggedIn
        );
        assert_eq!(
            refused(list_files(&kv, &nobody, 0, "g", &all())),
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
        let Response::Groups(Page { items: seen, .. }) = list_groups(&kv, &bob, 0, &all()).unwrap()
        else {
            panic!("not a group list");
        };
        assert_eq!(seen.len(), 1);
        assert!(seen[0].request_pending && !seen[0].is_member);
        assert_eq!((seen[0].owner.as_str(), seen[0].member_count), ("ann", 1));
        assert_eq!(
            list_requests(&kv, &ann, 0, "g", &all()).unwrap(),
            Response::JoinRequests(Page {
                items: vec!["bob".into()],
                next: None
            })
        );
        assert_eq!(
            refused(list_requests(&kv, &bob, 0, "g", &all())),
            ApiError::NotOwner("g".into())
        );
        assert_eq!(
            refused(list_requests(&kv, &ann, 0, "h", &all())),
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
        let Response::Files(Page { items: files, .. }) =
            list_files(&kv, &ann, 0, "g", &all()).unwrap()
        else {
            panic!("not a file list");
        };
        assert_eq!(files.len(), 1);
        assert_eq!((files[0].full_seeders, files[0].partial_peers), (1, 1));
        let Response::Sources { sources, .. } =
            file_sources(&kv, &ann, 0, "g", "f", false, &all()).unwrap()
        else {
            panic!("not sources");
        };
        let ids: Vec<u64> = sources.iter().map(|s| s.peer_id).collect();
        assert_eq!(ids, vec![1, 2], "the offline peer is no source");
        assert!(sources.iter().all(|s| s.online && s.last_seen_ms.is_none()));
        super::super::offline::stamp(&mut kv, 3, 77);
        let Response::Sources { sources, .. } =
            file_sources(&kv, &ann, 0, "g", "f", true, &all()).unwrap()
        else {
            panic!("not sources");
        };
        let seen: Vec<(u64, bool, Option<u64>)> = sources
            .iter()
            .map(|s| (s.peer_id, s.online, s.last_seen_ms))
            .collect();
        assert_eq!(
            seen,
            vec![(1, true, None), (2, true, None), (3, false, Some(77))],
            "asked for, the offline holder is listed with the time it went offline"
        );
        assert_eq!(
            refused(list_files(&kv, &bob, 0, "g", &all())),
            ApiError::NotMember("g".into())
        );
        assert!(matches!(
            refused(file_sources(&kv, &ann, 0, "g", "nope", false, &all())),
            ApiError::FileNotFound { .. }
        ));
        assert_eq!(
            refused(file_sources(&kv, &bob, 0, "g", "f", false, &all())),
            ApiError::NotMember("g".into())
        );
    }

    #[test]
    fn groups_come_in_pages_that_join_up_to_the_whole_list() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        for i in 0..7 {
            group_of(&mut kv, &format!("g{i}"), "ann", &[]);
        }
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            pages += 1;
            assert!(pages <= 10, "paging did not end");
            let Response::Groups(p) =
                list_groups(&kv, &ann, 0, &page(after.as_deref(), 3)).unwrap()
            else {
                panic!("not a group list");
            };
            assert!(p.items.len() <= 3);
            names.extend(p.items.into_iter().map(|g| g.name));
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let expect: Vec<String> = (0..7).map(|i| format!("g{i}")).collect();
        assert_eq!(names, expect);
        assert_eq!(pages, 3);
        // Limit 0 is the default, a limit above the cap is capped.
        let Response::Groups(p) = list_groups(&kv, &ann, 0, &page(None, 0)).unwrap() else {
            panic!()
        };
        assert_eq!((p.items.len(), p.next), (7, None));
        let Response::Groups(p) = list_groups(&kv, &ann, 0, &page(None, u32::MAX)).unwrap() else {
            panic!()
        };
        assert_eq!(p.items.len(), 7);
    }

    #[test]
    fn bad_cursors_are_refused_with_what_to_pass() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        group_of(&mut kv, "g", "ann", &[]);
        file_in(&mut kv, "g", manifest("f", 10), "ann");
        let long = "x".repeat(MAX_CURSOR_BYTES + 1);
        assert!(matches!(
            refused(list_groups(&kv, &ann, 0, &page(Some(&long), 5))),
            ApiError::InvalidRequest(m) if m.contains("next")
        ));
        assert!(matches!(
            refused(list_requests(&kv, &ann, 0, "g", &page(Some("abc"), 5))),
            ApiError::InvalidRequest(_)
        ));
        assert!(matches!(
            refused(file_sources(
                &kv,
                &ann,
                0,
                "g",
                "f",
                false,
                &page(Some("-1"), 5)
            )),
            ApiError::InvalidRequest(_)
        ));
    }

    #[test]
    fn files_requests_and_sources_come_in_pages() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        group_of(&mut kv, "g", "ann", &[]);
        for i in 0..5 {
            file_in(&mut kv, "g", manifest(&format!("f{i}"), 10), "ann");
        }
        // A file of another group sorts between them and must not show.
        group_of(&mut kv, "g\u{1}", "ann", &[]);
        file_in(&mut kv, "g\u{1}", manifest("zz", 10), "ann");
        let Response::Files(p1) = list_files(&kv, &ann, 0, "g", &page(None, 2)).unwrap() else {
            panic!()
        };
        assert_eq!(p1.next.as_deref(), Some("f1"));
        let Response::Files(p2) =
            list_files(&kv, &ann, 0, "g", &page(p1.next.as_deref(), 10)).unwrap()
        else {
            panic!()
        };
        let names: Vec<&str> = p2.items.iter().map(|f| f.name.as_str()).collect();
        assert_eq!((names, p2.next), (vec!["f2", "f3", "f4"], None));

        let mut g: GroupRec = kv.get(Table::Groups, b"g").unwrap().unwrap();
        g.requests = (0..5).map(|i| format!("u{i}")).collect();
        kv.put(Table::Groups, b"g".to_vec(), &g).unwrap();
        let Response::JoinRequests(r1) = list_requests(&kv, &ann, 0, "g", &page(None, 2)).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (r1.items.clone(), r1.next.clone()),
            (vec!["u0".into(), "u1".into()], Some("2".into()))
        );
        let Response::JoinRequests(r2) =
            list_requests(&kv, &ann, 0, "g", &page(Some("2"), 5)).unwrap()
        else {
            panic!()
        };
        assert_eq!((r2.items.len(), r2.next), (3, None));
        // A cursor past the end is an empty last page, not an error.
        let Response::JoinRequests(r3) =
            list_requests(&kv, &ann, 0, "g", &page(Some("99"), 5)).unwrap()
        else {
            panic!()
        };
        assert_eq!((r3.items.len(), r3.next), (0, None));

        for id in 1..=5 {
            peer_of(&mut kv, id, "ann");
            kv.put_raw(Table::Avail, avail_key("g", "f0", id), bitfield_full(10));
        }
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10 {
            let Response::Sources { sources, next, .. } =
                file_sources(&kv, &ann, 0, "g", "f0", false, &page(after.as_deref(), 2)).unwrap()
            else {
                panic!()
            };
            ids.extend(sources.iter().map(|s| s.peer_id));
            after = next;
            if after.is_none() {
                break;
            }
        }
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    }
}
