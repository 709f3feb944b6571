//! The online peers of a group's members ([`ReadRequest::GroupPeers`]), by peer id, each with
//! how many of the group's files it holds chunks of. The peers table has no index by user, so a
//! page walks a bounded stretch of it ([`PEERS_LOOKED_AT_PER_PAGE`]) and keeps the members'
//! online peers: a page may hold fewer items than asked, even none, and still have a next page.
//!
//! [`ReadRequest::GroupPeers`]: proto::tracker_msg::ReadRequest::GroupPeers

use std::collections::HashSet;

use proto::tracker_msg::{Page, PageRequest, PeerSummary, Response};

use super::error::Fail;
use super::kv::{decode_record, KvRead, Table};
use super::lookup::{member_group, session_user};
use super::queries::{numeric_cursor, page_len};
use super::records::{group_files_prefix, peer_key, PeerRec};
use crate::cmd::TokenBytes;

/// Most peer records one page looks at, whatever it finds among them.
pub const PEERS_LOOKED_AT_PER_PAGE: usize = 4096;

/// One page of the online peers of `gname`'s members (members only). Their last seen is left
/// `None`: it is the leader's, not replicated, and the API layer fills it in.
///
/// # Errors
/// [`proto::ApiError::NotLoggedIn`], [`proto::ApiError::GroupNotFound`],
/// [`proto::ApiError::NotMember`], [`proto::ApiError::InvalidRequest`] for a bad cursor.
pub fn group_peers(
    kv: &impl KvRead,
    token: &TokenBytes,
    now_ms: u64,
    gname: &str,
    page: &PageRequest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let g = member_group(kv, gname, &user)?;
    let members: HashSet<&str> = g.members.iter().map(String::as_str).collect();
    let after = numeric_cursor(page)?.map(peer_key);
    let want = page_len(page);
    let (entries, last) = kv.scan_page(
        Table::Peers,
        b"",
        after.as_deref(),
        PEERS_LOOKED_AT_PER_PAGE,
    )?;
    let mut items = Vec::new();
    let mut next = last.as_deref().and_then(peer_id_of_key);
    for (k, v) in entries {
        let Some(peer_id) = peer_id_of_key(&k) else {
            continue;
        };
        let p: PeerRec = decode_record(Table::Peers, &v)?;
        if !p.online || !members.contains(p.username.as_str()) {
            continue;
        }
        items.push(PeerSummary {
            peer_id,
            username: p.username,
            addr: p.addr,
            last_seen_ms: None,
            files_seeded: files_seeded(kv, peer_id, gname)?,
        });
        if items.len() >= want {
            next = Some(peer_id);
            break;
        }
    }
    Ok(Response::GroupPeers(Page {
        items,
        next: next.map(|id| id.to_string()),
    }))
}

/// How many files of `group` peer `peer_id` has availability entries for (its index of them).
fn files_seeded(kv: &impl KvRead, peer_id: u64, group: &str) -> Result<u32, Fail> {
    let mut prefix = peer_id.to_be_bytes().to_vec();
    prefix.extend_from_slice(&group_files_prefix(group));
    let n = kv.scan_raw(Table::PeerAvail, &prefix)?.len();
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The peer id a peers-table key holds.
fn peer_id_of_key(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::avail;
    use crate::domain::fixtures::{group_of, peer_of, signed_in};
    use crate::domain::kv::KvWrite;
    use crate::domain::mem_kv::MemKv;
    use proto::ApiError;

    fn ids(r: Response) -> (Vec<(u64, String, u32)>, Option<String>) {
        match r {
            Response::GroupPeers(Page { items, next }) => (
                items
                    .into_iter()
                    .map(|p| (p.peer_id, p.username, p.files_seeded))
                    .collect(),
                next,
            ),
            other => panic!("not a peer list: {other:?}"),
        }
    }

    #[test]
    fn only_the_online_peers_of_members_are_listed_with_their_files_of_the_group() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let carl = signed_in(&mut kv, "carl", 3);
        group_of(&mut kv, "g", "ann", &["bob"]);
        for (id, user) in [(1, "ann"), (2, "bob"), (3, "carl"), (4, "bob")] {
            peer_of(&mut kv, id, user);
        }
        let mut off: PeerRec = kv.get(Table::Peers, &peer_key(4)).unwrap().unwrap();
        off.online = false;
        kv.put(Table::Peers, peer_key(4), &off).unwrap();
        avail::insert(&mut kv, "g", "f1", 2, vec![1]);
        avail::insert(&mut kv, "g", "f2", 2, vec![1]);
        avail::insert(&mut kv, "g2", "f1", 2, vec![1]);
        avail::insert(&mut kv, "g", "f1", 1, vec![1]);
        let (all, next) = ids(group_peers(&kv, &ann, 0, "g", &PageRequest::first(0)).unwrap());
        assert_eq!(
            all,
            vec![(1, "ann".into(), 1), (2, "bob".into(), 2)],
            "carl is no member, bob's peer 4 is offline, g2 is another group"
        );
        assert_eq!(next, None);
        let (first, next) = ids(group_peers(&kv, &ann, 0, "g", &PageRequest::first(1)).unwrap());
        assert_eq!((first.len(), next.as_deref()), (1, Some("1")));
        let rest = PageRequest {
            after: next,
            limit: 1,
        };
        let (second, _) = ids(group_peers(&kv, &ann, 0, "g", &rest).unwrap());
        assert_eq!(second[0].0, 2);
        assert!(matches!(
            group_peers(&kv, &carl, 0, "g", &PageRequest::first(0)),
            Err(Fail::Api(ApiError::NotMember(_)))
        ));
    }
}
