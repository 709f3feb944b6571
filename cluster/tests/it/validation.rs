//! Writes are checked on the leader before they are proposed: an oversized or unauthenticated
//! write gets a short, clear error and leaves the leader's log as it was (real processes). The
//! limits themselves are unit-tested in `tracker/src/domain/validate.rs` and `admit.rs`.

use std::time::{Duration, Instant};

use proto::connection::Connection;
use proto::tracker_msg::{ReadRequest, SessionToken, WriteOp, WriteRequest};
use proto::{ApiError, Request, TrackerClient};

use super::util::{client, signup, start};

/// The leader's last log index once it has stopped moving (two equal reads 200 ms apart, all
/// of it applied), so a test can tell whether a request added an entry.
async fn settled_last_log_index(addr: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    loop {
        let s = TrackerClient::node_status(addr, Duration::from_secs(2))
            .await
            .unwrap();
        let now = s.last_log_index.unwrap_or(0);
        if last == Some(now) && s.last_applied == s.last_log_index {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the leader's log kept moving: {s:?}"
        );
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn last_log_index(addr: &str) -> u64 {
    TrackerClient::node_status(addr, Duration::from_secs(2))
        .await
        .unwrap()
        .last_log_index
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_leave_the_leaders_log_unchanged() {
    let (_dir, c) = start(3, &[]).await;
    let cl = client(&c);
    let alice = signup(&cl, "alice").await;
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let addr = leader.leader_api_addr.clone().unwrap();
    let conn = Connection::open(&addr, Duration::from_secs(5))
        .await
        .unwrap();
    let mut serial = 0;
    let mut write = |op: WriteOp| {
        serial += 1;
        Request::Write(WriteRequest {
            client_id: 777,
            serial,
            op,
        })
    };
    // The new leader's own entry (the cluster key) first, so nothing else moves the log.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cl.read(ReadRequest::ClusterKey).await.is_err() {
        assert!(Instant::now() < deadline, "no cluster key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = settled_last_log_index(&addr).await;

    let made_up = SessionToken::from_bytes([0x5a; 32]);
    let huge = "g".repeat(15_000_000);
    for token in [made_up, alice] {
        let answer = conn
            .call(write(WriteOp::CreateGroup {
                token,
                group: huge.clone(),
            }))
            .await
            .unwrap();
        let Err(ApiError::InvalidRequest(why)) = &answer else {
            panic!("{answer:?}");
        };
        assert!(
            why.len() < 300 && why.contains("(15000000 bytes)"),
            "a short error quoting a prefix: {why}"
        );
    }
    // A well-formed token that names no session, and a malformed one: refused on the leader.
    for token in [made_up, SessionToken::parse("not-a-token")] {
        let answer = conn
            .call(write(WriteOp::CreateGroup {
                token,
                group: "movies".into(),
            }))
            .await
            .unwrap();
        assert_eq!(answer, Err(ApiError::NotLoggedIn));
    }
    // A chunk report over the batch limit is refused before anything else is looked at.
    let answer = conn
        .call(write(WriteOp::ReportHave {
            token: alice,
            peer_id: 99,
            group: "nope".into(),
            name: "f".into(),
            chunks: vec![1; 70_000],
        }))
        .await
        .unwrap();
    assert!(
        matches!(answer, Err(ApiError::InvalidRequest(_))),
        "{answer:?}"
    );
    assert_eq!(
        last_log_index(&addr).await,
        before,
        "a refused request must not grow the log"
    );

    // The connection still serves, and an accepted write does take one entry.
    let answer = conn
        .call(write(WriteOp::CreateGroup {
            token: alice,
            group: "movies".into(),
        }))
        .await
        .unwrap();
    assert_eq!(answer, Ok(proto::Response::Done));
    let after = last_log_index(&addr).await;
    assert!(after > before);

    // A name already taken in the applied state is refused on the leader too.
    let again = conn
        .call(write(WriteOp::CreateGroup {
            token: alice,
            group: "movies".into(),
        }))
        .await
        .unwrap();
    assert_eq!(again, Err(ApiError::GroupExists("movies".into())));
    let taken = conn
        .call(write(WriteOp::CreateUser {
            username: "alice".into(),
            password: "another-password".into(),
        }))
        .await
        .unwrap();
    assert_eq!(taken, Err(ApiError::UserExists("alice".into())));
    assert_eq!(last_log_index(&addr).await, after);
}
