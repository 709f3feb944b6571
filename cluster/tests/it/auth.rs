//! Refusals reach the client as typed errors, and the at-most-once table works over the wire: a
//! write repeated with the same (client id, serial) is applied once, and only its own session
//! sees the stored reply. The rules themselves, the
//! group life cycle included, are unit-tested in `tracker/src/domain/`.

use std::time::Duration;

use proto::connection::Connection;
use proto::tracker_msg::{PageRequest, ReadRequest, Response, WriteOp, WriteRequest};
use proto::{ApiError, Request};

use super::util::{client, signup, start};

/// Each refusal reaches the client as its own typed error through real processes. Every rule's
/// acceptances and refusals are unit-tested in `tracker/src/domain/` (over an in-memory store);
/// this checks only that the refusals of writes, of reads and of the API layer cross the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_the_client_typed() {
    let (_dir, c) = start(3, &[]).await;
    let cl = client(&c);
    let alice = signup(&cl, "alice").await;
    let bob = signup(&cl, "bob").await;
    cl.write(WriteOp::CreateGroup {
        token: alice,
        group: "movies".into(),
    })
    .await
    .unwrap();

    // Refused while the write is translated (the API layer) or applied (the rules).
    assert_eq!(
        cl.write(WriteOp::Login {
            username: "alice".into(),
            password: "wrong-password".into()
        })
        .await,
        Err(ApiError::BadCredentials)
    );
    assert_eq!(
        cl.write(WriteOp::CreateUser {
            username: "alice".into(),
            password: "another-pw".into(),
            display_name: None,
        })
        .await,
        Err(ApiError::UserExists("alice".into()))
    );
    assert!(matches!(
        cl.write(WriteOp::CreateUser {
            username: "../x".into(),
            password: "password".into(),
            display_name: None,
        })
        .await,
        Err(ApiError::InvalidRequest(_))
    ));
    assert_eq!(
        cl.write(WriteOp::JoinGroup {
            token: bob,
            group: "nope".into()
        })
        .await,
        Err(ApiError::GroupNotFound("nope".into()))
    );
    assert_eq!(
        cl.write(WriteOp::AcceptJoin {
            token: bob,
            group: "movies".into(),
            username: "bob".into()
        })
        .await,
        Err(ApiError::NotOwner("movies".into()))
    );
    // Refused by a read: a token that is not one, one that names no session, not a member.
    assert_eq!(
        cl.read(ReadRequest::ListGroups {
            token: "not-a-token".into(),
            page: PageRequest::default(),
        })
        .await,
        Err(ApiError::NotLoggedIn)
    );
    assert_eq!(
        cl.read(ReadRequest::ListGroups {
            token: "ab".repeat(32).into(),
            page: PageRequest::default(),
        })
        .await,
        Err(ApiError::NotLoggedIn)
    );
    assert_eq!(
        cl.read(ReadRequest::ListFiles {
            token: bob,
            group: "movies".into(),
            page: PageRequest::default(),
        })
        .await,
        Err(ApiError::NotMember("movies".into()))
    );
    // Logout ends the session for the next read.
    cl.write(WriteOp::Logout { token: bob }).await.unwrap();
    assert_eq!(
        cl.read(ReadRequest::WhoAmI { token: bob }).await,
        Err(ApiError::NotLoggedIn)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_serial_is_applied_once_and_gets_the_original_reply() {
    let (_dir, c) = start(3, &[]).await;
    let cl = client(&c);
    let token = signup(&cl, "dave").await;
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let conn = Connection::open(
        leader.leader_api_addr.as_deref().unwrap(),
        c.user_tls(),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let write = |serial: u64, op: WriteOp| {
        Request::Write(WriteRequest {
            client_id: 4242,
            serial,
            op,
        })
    };
    let create = WriteOp::CreateGroup {
        token,
        group: "once".into(),
    };
    let first = conn.call(write(1, create.clone())).await.unwrap();
    let retry = conn.call(write(1, create.clone())).await.unwrap();
    assert_eq!(first, Ok(Response::Done));
    assert_eq!(
        retry,
        Ok(Response::Done),
        "a retry must get the original reply, not GroupExists"
    );
    let next = conn.call(write(2, create)).await.unwrap();
    assert_eq!(next, Err(ApiError::GroupExists("once".into())));

    // A login retried with the same serial returns the same session, not a second one.
    let login = WriteOp::Login {
        username: "dave".into(),
        password: "password-dave".into(),
    };
    let a = conn.call(write(3, login.clone())).await.unwrap().unwrap();
    let b = conn.call(write(3, login)).await.unwrap().unwrap();
    assert_eq!(a, b);
    // An older serial is refused as stale. The session's last recorded serial is 1: serial 2
    // was refused by the leader before it was proposed, which records nothing, and the login
    // was recorded under the username, apart from the session's writes.
    let stale = conn
        .call(write(
            0,
            WriteOp::CreateGroup {
                token,
                group: "other".into(),
            },
        ))
        .await
        .unwrap();
    assert!(
        matches!(stale, Err(ApiError::StaleRequest { serial: 0, last: 1 })),
        "{stale:?}"
    );
    // Someone else who uses the same client id and serial under their own session neither gets
    // the stored reply nor blocks the owner's next write with a huge serial.
    let eve = signup(&cl, "eve").await;
    let replay = conn
        .call(write(
            1,
            WriteOp::CreateGroup {
                token: eve,
                group: "once".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(replay, Err(ApiError::GroupExists("once".into())));
    let block = WriteOp::CreateGroup {
        token: eve,
        group: "eves".into(),
    };
    assert_eq!(
        conn.call(write(u64::MAX, block)).await.unwrap(),
        Ok(Response::Done)
    );
    let own = WriteOp::CreateGroup {
        token,
        group: "daves".into(),
    };
    assert_eq!(conn.call(write(4, own)).await.unwrap(), Ok(Response::Done));
}
