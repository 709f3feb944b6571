//! The quotas as the rules enforce them at apply: each refused at its limit with the error that
//! names it, allowed again once an item is removed, the counters right after every path that
//! removes one, and a lowered quota refusing new items without deleting any.

use proto::quota::Quota;
use proto::tracker_msg::Response;
use proto::ApiError;

use super::{file, group, peer, peer_prune};
use crate::cmd::{Cmd, Op, Origin, QuotaUpdate, TokenBytes};
use crate::domain::apply::apply_cmd;
use crate::domain::error::Fail;
use crate::domain::fixtures::{manifest, peer_public_key, signed_in};
use crate::domain::kv::{KvRead, Table};
use crate::domain::mem_kv::MemKv;
use crate::domain::quota::{self, count, Counted};

fn limit(kv: &mut MemKv, update: QuotaUpdate) {
    super::apply_op(kv, 0, &Op::SetQuotas { changes: update }).unwrap();
}

fn exceeded(r: Result<Response, Fail>) -> (Quota, u64) {
    match r {
        Err(Fail::Api(ApiError::QuotaExceeded { quota, limit })) => (quota, limit),
        other => panic!("expected a quota refusal, got {other:?}"),
    }
}

fn users(kv: &mut MemKv) -> (TokenBytes, TokenBytes, TokenBytes) {
    (
        signed_in(kv, "ann", 1),
        signed_in(kv, "bob", 2),
        signed_in(kv, "eve", 3),
    )
}

#[test]
fn groups_owned_are_limited_and_counted_through_transfer_and_removal() {
    let mut kv = MemKv::new();
    let (ann, bob, _) = users(&mut kv);
    limit(
        &mut kv,
        QuotaUpdate {
            groups_per_user: Some(2),
            ..QuotaUpdate::default()
        },
    );
    group::create(&mut kv, 0, &ann, "g1", false).unwrap();
    group::create(&mut kv, 0, &ann, "g2", false).unwrap();
    assert_eq!(
        exceeded(group::create(&mut kv, 0, &ann, "g3", false)),
        (Quota::GroupsPerUser, 2)
    );
    assert!(kv.get_raw(Table::Groups, b"g3").unwrap().is_none());
    // The last member leaves: the group goes, and so does its place in the count.
    group::leave(&mut kv, 0, &ann, "g1").unwrap();
    assert_eq!(count(&kv, Counted::GroupsOwned, "ann").unwrap(), 1);
    group::create(&mut kv, 0, &ann, "g3", false).unwrap();
    // Ownership passes on: the old owner's count goes down, the new one's up (past its quota
    // if need be: nothing is refused that adds nothing).
    group::create(&mut kv, 0, &bob, "b1", false).unwrap();
    group::create(&mut kv, 0, &bob, "b2", false).unwrap();
    group::join(&mut kv, 0, &bob, "g2").unwrap();
    group::accept(&mut kv, 0, &ann, "g2", "bob").unwrap();
    group::leave(&mut kv, 0, &ann, "g2").unwrap();
    assert_eq!(count(&kv, Counted::GroupsOwned, "ann").unwrap(), 1);
    assert_eq!(count(&kv, Counted::GroupsOwned, "bob").unwrap(), 3);
    assert_eq!(
        exceeded(group::create(&mut kv, 0, &bob, "b3", false)),
        (Quota::GroupsPerUser, 2)
    );
    // Lowering the quota refuses new groups and deletes none.
    limit(
        &mut kv,
        QuotaUpdate {
            groups_per_user: Some(0),
            ..QuotaUpdate::default()
        },
    );
    assert_eq!(
        exceeded(group::create(&mut kv, 0, &ann, "g4", false)),
        (Quota::GroupsPerUser, 0)
    );
    assert_eq!(kv.len(Table::Groups), 4);
}

#[test]
fn files_per_group_are_limited_and_the_count_goes_with_the_group() {
    let mut kv = MemKv::new();
    let (ann, _, _) = users(&mut kv);
    limit(
        &mut kv,
        QuotaUpdate {
            files_per_group: Some(1),
            ..QuotaUpdate::default()
        },
    );
    group::create(&mut kv, 0, &ann, "g", false).unwrap();
    group::create(&mut kv, 0, &ann, "h", false).unwrap();
    peer::register(&mut kv, 0, &ann, 1, "127.0.0.1:1", &peer_public_key(1)).unwrap();
    file::register(&mut kv, 0, &ann, 1, "g", &manifest("a", 2)).unwrap();
    // The same file again adds nothing; another group has its own count.
    file::register(&mut kv, 0, &ann, 1, "g", &manifest("a", 2)).unwrap();
    file::register(&mut kv, 0, &ann, 1, "h", &manifest("a", 2)).unwrap();
    assert_eq!(
        exceeded(file::register(&mut kv, 0, &ann, 1, "g", &manifest("b", 2))),
        (Quota::FilesPerGroup, 1)
    );
    assert_eq!(count(&kv, Counted::FilesInGroup, "g").unwrap(), 1);
    // The group goes with its files and its count; a new group of that name starts at zero.
    group::leave(&mut kv, 0, &ann, "g").unwrap();
    assert_eq!(count(&kv, Counted::FilesInGroup, "g").unwrap(), 0);
    group::create(&mut kv, 0, &ann, "g", false).unwrap();
    file::register(&mut kv, 0, &ann, 1, "g", &manifest("b", 2)).unwrap();
    assert_eq!(count(&kv, Counted::FilesInGroup, "h").unwrap(), 1);
}

#[test]
fn peer_ids_per_user_are_limited_and_a_forgotten_peer_frees_its_place() {
    let mut kv = MemKv::new();
    let (ann, bob, _) = users(&mut kv);
    limit(
        &mut kv,
        QuotaUpdate {
            peer_ids_per_user: Some(1),
            ..QuotaUpdate::default()
        },
    );
    peer::register(&mut kv, 0, &ann, 1, "127.0.0.1:1", &peer_public_key(1)).unwrap();
    // Registering a known id again (a restarted daemon) adds nothing.
    peer::register(&mut kv, 0, &ann, 1, "127.0.0.1:2", &peer_public_key(1)).unwrap();
    peer::register(&mut kv, 0, &bob, 2, "127.0.0.1:3", &peer_public_key(1)).unwrap();
    assert_eq!(
        exceeded(peer::register(
            &mut kv,
            0,
            &ann,
            3,
            "127.0.0.1:1",
            &peer_public_key(1)
        )),
        (Quota::PeerIdsPerUser, 1)
    );
    assert_eq!(count(&kv, Counted::PeerIds, "ann").unwrap(), 1);
    peer::set_online(&mut kv, 10, &[1], false).unwrap();
    peer_prune::prune(&mut kv, &[1], 10).unwrap();
    assert_eq!(count(&kv, Counted::PeerIds, "ann").unwrap(), 0);
    peer::register(&mut kv, 20, &ann, 3, "127.0.0.1:1", &peer_public_key(1)).unwrap();
    assert_eq!(count(&kv, Counted::PeerIds, "bob").unwrap(), 1);
}

#[test]
fn pending_requests_are_limited_and_each_answer_or_withdrawal_frees_a_place() {
    let mut kv = MemKv::new();
    let (ann, bob, eve) = users(&mut kv);
    let carol = signed_in(&mut kv, "carol", 4);
    limit(
        &mut kv,
        QuotaUpdate {
            pending_requests_per_group: Some(1),
            ..QuotaUpdate::default()
        },
    );
    group::create(&mut kv, 0, &ann, "g", false).unwrap();
    group::join(&mut kv, 0, &bob, "g").unwrap();
    // Asking again adds nothing, so it is no refusal.
    group::join(&mut kv, 0, &bob, "g").unwrap();
    assert_eq!(
        exceeded(group::join(&mut kv, 0, &eve, "g")),
        (Quota::PendingRequestsPerGroup, 1)
    );
    group::accept(&mut kv, 0, &ann, "g", "bob").unwrap();
    group::join(&mut kv, 0, &eve, "g").unwrap();
    assert_eq!(
        exceeded(group::join(&mut kv, 0, &carol, "g")),
        (Quota::PendingRequestsPerGroup, 1)
    );
    group::leave(&mut kv, 0, &eve, "g").unwrap();
    group::join(&mut kv, 0, &carol, "g").unwrap();
}

#[test]
fn a_refused_write_is_rolled_back_and_its_refusal_is_the_stored_reply() {
    let mut kv = MemKv::new();
    let (ann, _, _) = users(&mut kv);
    limit(
        &mut kv,
        QuotaUpdate {
            groups_per_user: Some(1),
            ..QuotaUpdate::default()
        },
    );
    let create = |serial, name: &str| Cmd {
        origin: Some(Origin {
            client_id: 5,
            serial,
        }),
        now_ms: 0,
        op: Op::CreateGroup {
            token: ann,
            group: name.into(),
        },
    };
    assert_eq!(
        apply_cmd(&mut kv, &create(1, "g")).unwrap().0,
        Ok(Response::Done)
    );
    let refused = apply_cmd(&mut kv, &create(2, "h")).unwrap().0;
    let expected = ApiError::QuotaExceeded {
        quota: Quota::GroupsPerUser,
        limit: 1,
    };
    assert_eq!(refused, Err(expected.clone()));
    assert!(kv.get_raw(Table::Groups, b"h").unwrap().is_none());
    assert_eq!(count(&kv, Counted::GroupsOwned, "ann").unwrap(), 1);
    // A retry gets the same answer even after the quota was raised.
    limit(
        &mut kv,
        QuotaUpdate {
            groups_per_user: Some(5),
            ..QuotaUpdate::default()
        },
    );
    assert_eq!(
        apply_cmd(&mut kv, &create(2, "h")).unwrap().0,
        Err(expected)
    );
    assert_eq!(
        apply_cmd(&mut kv, &create(3, "h")).unwrap().0,
        Ok(Response::Done)
    );
    assert_eq!(quota::limits(&kv).unwrap().groups_per_user, 5);
}

#[test]
fn the_error_names_the_limit_its_value_and_what_to_do() {
    let e = ApiError::QuotaExceeded {
        quota: Quota::PeerIdsPerUser,
        limit: 64,
    };
    let text = e.to_string();
    assert!(text.contains("at most 64 peer ids per user"), "{text}");
    assert!(
        text.contains("cluster quotas set --peer-ids-per-user N"),
        "{text}"
    );
}
