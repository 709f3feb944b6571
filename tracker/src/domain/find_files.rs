//! The files with a given whole-file SHA-1 in the groups the caller is a member of
//! ([`ReadRequest::FindFiles`]), by group then name. There is no index by content, so a page
//! walks a bounded stretch of the files table ([`FILES_LOOKED_AT_PER_PAGE`], as many records as
//! one full page of a group's file list decodes) and keeps the matches in the caller's groups:
//! a page may hold fewer items than asked, even none, and still have a next page. Files of other
//! groups are passed over by their key, without decoding them. A full search reads every file
//! record once, which an index kept in apply would avoid at the price of a new replicated table
//! (snapshot, digest, and a rebuild for logs written before it); until searches are frequent,
//! the scan is the smaller change.
//!
//! [`ReadRequest::FindFiles`]: proto::tracker_msg::ReadRequest::FindFiles

use std::collections::HashMap;

use proto::tracker_msg::{FoundFile, Page, PageRequest, Response, Sha1Digest, MAX_PAGE_ITEMS};
use proto::ApiError;

use super::error::Fail;
use super::kv::{decode_record, KvRead, Table};
use super::lookup::session_user;
use super::queries::{cursor, online_counts, page_len};
use super::records::{file_key, FileRec, GroupRec};
use crate::cmd::TokenBytes;

/// Most file records one page looks at, whatever it finds among them.
pub const FILES_LOOKED_AT_PER_PAGE: usize = MAX_PAGE_ITEMS as usize;

/// One page of the files whose whole-file SHA-1 is `file_hash` in the caller's groups. The
/// cursor is `GROUP/NAME` of the last file looked at (neither may hold a `/`).
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::InvalidRequest`] for a bad cursor.
pub fn find_files(
    kv: &impl KvRead,
    token: &TokenBytes,
    now_ms: u64,
    file_hash: &Sha1Digest,
    page: &PageRequest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let after = match cursor(page)? {
        None => None,
        Some(c) => {
            let (g, n) = c.split_once('/').ok_or_else(|| {
                ApiError::InvalidRequest(
                    "a find cursor is GROUP/NAME: pass the `next` of the previous page".into(),
                )
            })?;
            Some(file_key(g, n))
        }
    };
    let want = page_len(page);
    let (entries, last) = kv.scan_page(
        Table::Files,
        b"",
        after.as_deref(),
        FILES_LOOKED_AT_PER_PAGE,
    )?;
    let mut member_of: HashMap<Vec<u8>, bool> = HashMap::new();
    let mut items = Vec::new();
    let mut next = last.as_deref().and_then(cursor_of_key);
    for (k, v) in entries {
        let Some(nul) = k.iter().position(|&b| b == 0) else {
            continue;
        };
        let group_bytes = &k[..nul];
        let is_member = match member_of.get(group_bytes) {
            Some(m) => *m,
            None => {
                let m = kv
                    .get::<GroupRec>(Table::Groups, group_bytes)?
                    .is_some_and(|g| g.members.contains(&user));
                member_of.insert(group_bytes.to_vec(), m);
                m
            }
        };
        if !is_member {
            continue;
        }
        let f: FileRec = decode_record(Table::Files, &v)?;
        if f.manifest.file_hash != *file_hash {
            continue;
        }
        let group = String::from_utf8_lossy(group_bytes).into_owned();
        let count = f.manifest.chunk_hashes.len();
        let (full, partial) = online_counts(kv, &group, &f.manifest.name, count)?;
        items.push(FoundFile {
            group,
            name: f.manifest.name,
            size_bytes: f.manifest.size_bytes,
            full_seeders: full,
            partial_peers: partial,
        });
        if items.len() >= want {
            next = cursor_of_key(&k);
            break;
        }
    }
    Ok(Response::FoundFiles(Page { items, next }))
}

/// `GROUP/NAME` of a files-table key (`GROUP NUL NAME`).
fn cursor_of_key(key: &[u8]) -> Option<String> {
    let nul = key.iter().position(|&b| b == 0)?;
    let group = std::str::from_utf8(&key[..nul]).ok()?;
    let name = std::str::from_utf8(key.get(nul + 1..)?).ok()?;
    Some(format!("{group}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{file_in, group_of, manifest, signed_in};
    use crate::domain::mem_kv::MemKv;

    fn found(r: Response) -> (Vec<(String, String)>, Option<String>) {
        match r {
            Response::FoundFiles(Page { items, next }) => {
                (items.into_iter().map(|f| (f.group, f.name)).collect(), next)
            }
            other => panic!("not a found list: {other:?}"),
        }
    }

    #[test]
    fn only_matching_files_of_the_callers_groups_are_found_page_by_page() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        group_of(&mut kv, "a", "ann", &[]);
        group_of(&mut kv, "b", "bob", &["ann"]);
        group_of(&mut kv, "c", "bob", &[]);
        let hash = [9; 20];
        let with = |name: &str, h: Sha1Digest| {
            let mut m = manifest(name, 2);
            m.file_hash = h;
            m
        };
        file_in(&mut kv, "a", with("x", hash), "ann");
        file_in(&mut kv, "a", with("y", [1; 20]), "ann");
        file_in(&mut kv, "b", with("z", hash), "bob");
        file_in(&mut kv, "c", with("secret", hash), "bob");
        let (all, next) = found(find_files(&kv, &ann, 0, &hash, &PageRequest::first(0)).unwrap());
        assert_eq!(
            all,
            vec![("a".into(), "x".into()), ("b".into(), "z".into())],
            "c is not ann's group, y has other content"
        );
        assert_eq!(next, None);
        let (first, next) = found(find_files(&kv, &ann, 0, &hash, &PageRequest::first(1)).unwrap());
        assert_eq!((first.len(), next.as_deref()), (1, Some("a/x")));
        let rest = PageRequest {
            after: next,
            limit: 1,
        };
        let (second, _) = found(find_files(&kv, &ann, 0, &hash, &rest).unwrap());
        assert_eq!(second, vec![("b".into(), "z".into())]);
        let bad = PageRequest {
            after: Some("no-slash".into()),
            limit: 0,
        };
        assert!(find_files(&kv, &ann, 0, &hash, &bad).is_err());
        assert!(find_files(&kv, &[7; 32], 0, &hash, &PageRequest::first(0)).is_err());
    }
}
