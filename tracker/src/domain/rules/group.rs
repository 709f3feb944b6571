//! Groups: creating one (closed, or open: joining it needs no acceptance), asking to join,
//! accepting or refusing a request (owner), removing a member (owner), leaving. A group that loses
//! its last member is removed with its files and availability. The quotas on groups owned and on
//! pending requests are checked here, and the owners' and the group's counters kept
//! ([`crate::domain::quota`]).

use proto::tracker_msg::Response;
use proto::ApiError;

use crate::cmd::TokenBytes;
use crate::domain::avail;
use crate::domain::error::Fail;
use crate::domain::kv::{KvWrite, Table};
use crate::domain::lookup::{group, session_user};
use crate::domain::quota::{self, Counted};
use crate::domain::records::{group_files_prefix, peer_key, peer_of_avail_key, GroupRec, PeerRec};
use crate::domain::validate::check_name;

/// Creates group `name`, owned by the caller; `open` lets anyone join without acceptance.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::InvalidRequest`] for a bad name,
/// [`ApiError::GroupExists`], [`ApiError::QuotaExceeded`] if the caller owns as many groups as
/// the quota allows.
pub fn create(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    name: &str,
    open: bool,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    check_name("group name", name)?;
    if kv.get_raw(Table::Groups, name.as_bytes())?.is_some() {
        return Err(ApiError::GroupExists(name.to_string()).into());
    }
    quota::charge(kv, Counted::GroupsOwned, &user)?;
    let rec = GroupRec {
        owner: user.clone(),
        members: vec![user],
        requests: Vec::new(),
        created_at_ms: now_ms,
        open,
    };
    kv.put(Table::Groups, name.as_bytes().to_vec(), &rec)?;
    Ok(Response::Done)
}

/// Files the caller's join request (once; asking again changes nothing), answering
/// [`Response::Done`]. In an open group the caller becomes the newest member at once, answering
/// [`Response::Joined`].
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::AlreadyMember`],
/// [`ApiError::QuotaExceeded`] if the group has as many requests waiting as the quota allows.
pub fn join(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    name: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let mut g = group(kv, name)?;
    if g.members.contains(&user) {
        return Err(ApiError::AlreadyMember(name.to_string()).into());
    }
    if g.open {
        g.requests.retain(|r| *r != user);
        g.members.push(user);
        kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
        return Ok(Response::Joined);
    }
    if !g.requests.contains(&user) {
        quota::check_pending(kv, g.requests.len())?;
        g.requests.push(user);
        kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
    }
    Ok(Response::Done)
}

/// The owner accepts `username`'s request: the user becomes the newest member.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotOwner`],
/// [`ApiError::NoSuchRequest`].
pub fn accept(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    name: &str,
    username: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let mut g = group(kv, name)?;
    if g.owner != user {
        return Err(ApiError::NotOwner(name.to_string()).into());
    }
    let Some(pos) = g.requests.iter().position(|r| r == username) else {
        return Err(ApiError::NoSuchRequest {
            group: name.to_string(),
            user: username.to_string(),
        }
        .into());
    };
    g.requests.remove(pos);
    g.members.push(username.to_string());
    kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
    Ok(Response::Done)
}

/// Whether `caller` may refuse `username`'s request to join group `name` (record `g`).
///
/// # Errors
/// [`ApiError::NotOwner`], [`ApiError::NoSuchRequest`].
pub fn check_reject(
    g: &GroupRec,
    name: &str,
    caller: &str,
    username: &str,
) -> Result<(), ApiError> {
    if g.owner != caller {
        return Err(ApiError::NotOwner(name.to_string()));
    }
    if !g.requests.iter().any(|r| r == username) {
        return Err(ApiError::NoSuchRequest {
            group: name.to_string(),
            user: username.to_string(),
        });
    }
    Ok(())
}

/// Whether `caller` may remove `username` from group `name` (record `g`).
///
/// # Errors
/// [`ApiError::NotOwner`]; [`ApiError::InvalidRequest`] for the owner themself or a user who is
/// not a member.
pub fn check_remove(
    g: &GroupRec,
    name: &str,
    caller: &str,
    username: &str,
) -> Result<(), ApiError> {
    if g.owner != caller {
        return Err(ApiError::NotOwner(name.to_string()));
    }
    if username == caller {
        return Err(ApiError::InvalidRequest(
            "the owner cannot remove themself: use `peer group leave`".to_string(),
        ));
    }
    if !g.members.iter().any(|m| m == username) {
        return Err(ApiError::InvalidRequest(format!(
            "{} is not a member of group {}",
            proto::limits::quote(username),
            proto::limits::quote(name)
        )));
    }
    Ok(())
}

/// The owner refuses `username`'s request: it is dropped, and the user may ask again.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotOwner`],
/// [`ApiError::NoSuchRequest`].
pub fn reject(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    name: &str,
    username: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let mut g = group(kv, name)?;
    check_reject(&g, name, &user, username)?;
    g.requests.retain(|r| r != username);
    kv.put(Table::Groups, name.as_bytes().to_vec(), &g)?;
    Ok(Response::Done)
}

/// The owner removes member `username` (not themself): as if the member had left, so their
/// peers stop being sources of the group's files at once.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotOwner`],
/// [`ApiError::InvalidRequest`] (see [`check_remove`]).
pub fn remove(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    name: &str,
    username: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    check_remove(&group(kv, name)?, name, &user, username)?;
    leave_group(kv, name, username)?;
    Ok(Response::Done)
}

/// The caller leaves the group (see `leave_group`).
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotMember`].
pub fn leave(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    name: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    leave_group(kv, name, &user)?;
    Ok(Response::Done)
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
        // The owner is always a member, so the last member to leave is the owner.
        quota::release(kv, Counted::GroupsOwned, &g.owner)?;
        quota::clear(kv, Counted::FilesInGroup, name);
        kv.delete(Table::Groups, name.as_bytes().to_vec());
        for (file_key, _) in files {
            let mut prefix = file_key.clone();
            prefix.push(0);
            for (k, _) in kv.scan_raw(Table::Avail, &prefix)? {
                avail::remove_key(kv, k);
            }
            kv.delete(Table::Files, file_key);
        }
        return Ok(());
    }
    if g.owner == user {
        // Members are kept in join order, so the first one has been there longest.
        g.owner = g.members[0].clone();
        quota::release(kv, Counted::GroupsOwned, user)?;
        quota::add(kv, Counted::GroupsOwned, &g.owner)?;
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
                avail::remove_key(kv, k);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{file_in, group_of, manifest, peer_of, signed_in};
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;
    use crate::domain::records::{avail_key, file_key};

    fn stored(kv: &MemKv, name: &str) -> GroupRec {
        kv.get(Table::Groups, name.as_bytes()).unwrap().unwrap()
    }

    fn refused(r: Result<Response, Fail>) -> ApiError {
        match r {
            Err(Fail::Api(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_group_is_created_once_by_a_signed_in_user_with_a_valid_name() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        assert_eq!(
            create(&mut kv, 7, &ann, "g", false).unwrap(),
            Response::Done
        );
        let g = stored(&kv, "g");
        assert_eq!(
            (g.owner.as_str(), g.members.clone()),
            ("ann", vec!["ann".to_string()])
        );
        assert_eq!(g.created_at_ms, 7);
        assert_eq!(
            refused(create(&mut kv, 8, &ann, "g", false)),
            ApiError::GroupExists("g".into())
        );
        assert!(matches!(
            refused(create(&mut kv, 8, &ann, ".g", false)),
            ApiError::InvalidRequest(_)
        ));
        assert_eq!(
            refused(create(&mut kv, 8, &[9; 32], "h", false)),
            ApiError::NotLoggedIn
        );
    }

    #[test]
    fn a_join_request_is_filed_once_and_the_owner_accepts_it() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        assert_eq!(
            refused(join(&mut kv, 0, &bob, "nope")),
            ApiError::GroupNotFound("nope".into())
        );
        assert_eq!(
            refused(join(&mut kv, 0, &ann, "g")),
            ApiError::AlreadyMember("g".into())
        );
        join(&mut kv, 0, &bob, "g").unwrap();
        join(&mut kv, 0, &bob, "g").unwrap();
        assert_eq!(stored(&kv, "g").requests, vec!["bob".to_string()]);
        assert_eq!(
            refused(accept(&mut kv, 0, &bob, "g", "bob")),
            ApiError::NotOwner("g".into())
        );
        assert_eq!(
            refused(accept(&mut kv, 0, &ann, "g", "carol")),
            ApiError::NoSuchRequest {
                group: "g".into(),
                user: "carol".into()
            }
        );
        assert_eq!(
            refused(accept(&mut kv, 0, &ann, "h", "bob")),
            ApiError::GroupNotFound("h".into())
        );
        accept(&mut kv, 0, &ann, "g", "bob").unwrap();
        let g = stored(&kv, "g");
        assert_eq!(g.members, vec!["ann".to_string(), "bob".to_string()]);
        assert!(g.requests.is_empty());
    }

    #[test]
    fn leaving_withdraws_a_request_or_a_membership_and_passes_ownership_on() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        let eve = signed_in(&mut kv, "eve", 3);
        group_of(&mut kv, "g", "ann", &["bob"]);
        assert_eq!(
            refused(leave(&mut kv, 0, &eve, "g")),
            ApiError::NotMember("g".into())
        );
        join(&mut kv, 0, &eve, "g").unwrap();
        leave(&mut kv, 0, &eve, "g").unwrap();
        assert!(stored(&kv, "g").requests.is_empty());
        // Ann's peer seeds a file, Bob's too: Ann leaves, her availability goes, Bob's stays.
        peer_of(&mut kv, 1, "ann");
        peer_of(&mut kv, 2, "bob");
        file_in(&mut kv, "g", manifest("f", 3), "ann");
        kv.put_raw(Table::Avail, avail_key("g", "f", 1), vec![7]);
        kv.put_raw(Table::Avail, avail_key("g", "f", 2), vec![7]);
        leave(&mut kv, 0, &ann, "g").unwrap();
        let g = stored(&kv, "g");
        assert_eq!((g.owner.as_str(), g.members.len()), ("bob", 1));
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 1))
            .unwrap()
            .is_none());
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 2))
            .unwrap()
            .is_some());
        assert!(kv
            .get_raw(Table::Files, &file_key("g", "f"))
            .unwrap()
            .is_some());
        assert_eq!(
            refused(leave(&mut kv, 0, &bob, "h")),
            ApiError::GroupNotFound("h".into())
        );
    }

    #[test]
    fn the_owner_rejects_a_request_and_the_user_may_ask_again() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        join(&mut kv, 0, &bob, "g").unwrap();
        assert_eq!(
            refused(reject(&mut kv, 0, &bob, "g", "bob")),
            ApiError::NotOwner("g".into())
        );
        assert_eq!(
            refused(reject(&mut kv, 0, &ann, "g", "carol")),
            ApiError::NoSuchRequest {
                group: "g".into(),
                user: "carol".into()
            }
        );
        reject(&mut kv, 0, &ann, "g", "bob").unwrap();
        let g = stored(&kv, "g");
        assert!(g.requests.is_empty());
        assert_eq!(g.members, vec!["ann".to_string()]);
        assert!(matches!(
            refused(reject(&mut kv, 0, &ann, "g", "bob")),
            ApiError::NoSuchRequest { .. }
        ));
        join(&mut kv, 0, &bob, "g").unwrap();
        assert_eq!(stored(&kv, "g").requests, vec!["bob".to_string()]);
    }

    #[test]
    fn the_owner_removes_a_member_with_their_availability_but_not_themself() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        signed_in(&mut kv, "eve", 3);
        group_of(&mut kv, "g", "ann", &["bob"]);
        peer_of(&mut kv, 1, "ann");
        peer_of(&mut kv, 2, "bob");
        file_in(&mut kv, "g", manifest("f", 3), "bob");
        kv.put_raw(Table::Avail, avail_key("g", "f", 1), vec![7]);
        kv.put_raw(Table::Avail, avail_key("g", "f", 2), vec![7]);
        assert_eq!(
            refused(remove(&mut kv, 0, &bob, "g", "ann")),
            ApiError::NotOwner("g".into())
        );
        assert!(matches!(
            refused(remove(&mut kv, 0, &ann, "g", "ann")),
            ApiError::InvalidRequest(_)
        ));
        assert!(matches!(
            refused(remove(&mut kv, 0, &ann, "g", "eve")),
            ApiError::InvalidRequest(_)
        ));
        remove(&mut kv, 0, &ann, "g", "bob").unwrap();
        let g = stored(&kv, "g");
        assert_eq!(
            (g.owner.as_str(), g.members.clone()),
            ("ann", vec!["ann".to_string()])
        );
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 2))
            .unwrap()
            .is_none());
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 1))
            .unwrap()
            .is_some());
        assert_eq!(
            refused(crate::domain::lookup::member_group(&kv, "g", "bob").map(|_| Response::Done)),
            ApiError::NotMember("g".into())
        );
    }

    #[test]
    fn joining_an_open_group_makes_a_member_at_once() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        create(&mut kv, 0, &ann, "g", true).unwrap();
        assert!(stored(&kv, "g").open);
        assert_eq!(join(&mut kv, 0, &bob, "g").unwrap(), Response::Joined);
        let g = stored(&kv, "g");
        assert_eq!(g.members, vec!["ann".to_string(), "bob".to_string()]);
        assert!(g.requests.is_empty());
        assert_eq!(
            refused(join(&mut kv, 0, &bob, "g")),
            ApiError::AlreadyMember("g".into())
        );
    }

    #[test]
    fn a_group_record_stored_before_open_groups_decodes_as_closed() {
        /// The record as stored before API version 10.
        #[derive(serde::Serialize)]
        struct OldGroupRec {
            owner: String,
            members: Vec<String>,
            requests: Vec<String>,
            created_at_ms: u64,
        }
        let old = OldGroupRec {
            owner: "ann".into(),
            members: vec!["ann".into()],
            requests: vec!["bob".into()],
            created_at_ms: 5,
        };
        let bytes = proto::frame::encode(&old).unwrap();
        let g: GroupRec = crate::domain::kv::decode_record(Table::Groups, &bytes).unwrap();
        assert_eq!(g.requests, vec!["bob".to_string()]);
        assert_eq!((g.created_at_ms, g.open), (5, false));
        let open = GroupRec { open: true, ..g };
        let bytes = proto::frame::encode(&open).unwrap();
        let back: GroupRec = crate::domain::kv::decode_record(Table::Groups, &bytes).unwrap();
        assert_eq!(back, open);
        let mut longer = bytes;
        longer.push(0);
        assert!(crate::domain::kv::decode_record::<GroupRec>(Table::Groups, &longer).is_err());
    }

    #[test]
    fn the_last_member_leaving_removes_the_group_with_its_files() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        group_of(&mut kv, "g", "ann", &[]);
        group_of(&mut kv, "g2", "ann", &[]);
        file_in(&mut kv, "g", manifest("f", 3), "ann");
        file_in(&mut kv, "g2", manifest("f", 3), "ann");
        kv.put_raw(Table::Avail, avail_key("g", "f", 1), vec![7]);
        kv.put_raw(Table::Avail, avail_key("g2", "f", 1), vec![7]);
        leave(&mut kv, 0, &ann, "g").unwrap();
        assert!(kv.get_raw(Table::Groups, b"g").unwrap().is_none());
        assert_eq!(
            kv.len(Table::Files),
            1,
            "only the other group's file is left"
        );
        assert_eq!(kv.len(Table::Avail), 1);
        assert!(kv.get_raw(Table::Groups, b"g2").unwrap().is_some());
    }
}
