//! Writes are checked on the leader before they are proposed: an oversized or unauthenticated
//! write gets a short, clear error and leaves the leader's log as it was, as does a logout of a
//! session that does not exist (real processes). The
//! limits themselves are unit-tested in `tracker/src/domain/validate.rs` and `admit.rs`.
//!
//! A leader change in the middle (a loaded machine can cause one) adds the new leader's blank
//! entry; the scenario is then run again on the new leader, a bounded number of times.

use std::time::{Duration, Instant};

use proto::connection::Connection;
use proto::tls::ClientTls;
use proto::tracker_msg::{NodeStatus, ReadRequest, SessionToken, WriteOp, WriteRequest};
use proto::{ApiError, Request, Response, TrackerClient};

use super::util::{client, signup, start};

/// Tries before the test gives up on a stable leader.
const ATTEMPTS: usize = 4;

async fn status(tls: &ClientTls, addr: &str) -> NodeStatus {
    TrackerClient::node_status(addr, tls, false, Duration::from_secs(2))
        .await
        .unwrap()
}

/// The leader's status once its log has stopped moving (two equal reads 200 ms apart, all of
/// it applied), so a test can tell whether a request added an entry.
async fn settled(tls: &ClientTls, addr: &str) -> NodeStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last: Option<NodeStatus> = None;
    loop {
        let s = status(tls, addr).await;
        if let Some(l) = &last {
            if l.last_log_index == s.last_log_index && s.last_applied == s.last_log_index {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the leader's log kept moving: {s:?}"
        );
        last = Some(s);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `after` is the same leadership as `before` (same node still leading in the same term).
fn same_term(before: &NodeStatus, after: &NodeStatus) -> bool {
    after.role == "leader" && after.term == before.term
}

/// Writes through one connection with client id 777 and rising serials.
struct Writer {
    conn: Connection,
    serial: u64,
}

impl Writer {
    async fn call(&mut self, op: WriteOp) -> Result<Response, ApiError> {
        self.serial += 1;
        let request = Request::Write(WriteRequest {
            client_id: 777,
            serial: self.serial,
            op,
        });
        self.conn.call(request).await.unwrap()
    }
}

/// One run on the current leader: `None` if the leadership changed meanwhile.
async fn run(c: &cluster::LocalCluster, alice: SessionToken, group: &str) -> Option<()> {
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let addr = leader.leader_api_addr.clone().unwrap();
    let conn = Connection::open(&addr, c.user_tls(), Duration::from_secs(5))
        .await
        .unwrap();
    let mut w = Writer { conn, serial: 0 };
    let before = settled(c.user_tls(), &addr).await;
    let moved = |answer: &Result<Response, ApiError>| {
        matches!(
            answer,
            Err(ApiError::NotLeader { .. } | ApiError::Unavailable(_))
        )
    };

    let made_up = SessionToken::from_bytes([0x5a; 32]);
    let huge = "g".repeat(15_000_000);
    for token in [made_up, alice] {
        let answer = w
            .call(WriteOp::CreateGroup {
                token,
                group: huge.clone(),
            })
            .await;
        if moved(&answer) {
            return None;
        }
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
        let answer = w
            .call(WriteOp::CreateGroup {
                token,
                group: group.into(),
            })
            .await;
        if moved(&answer) {
            return None;
        }
        assert_eq!(answer, Err(ApiError::NotLoggedIn));
    }
    // Logging out of a session that does not exist is done, without an entry.
    let answer = w.call(WriteOp::Logout { token: made_up }).await;
    if moved(&answer) {
        return None;
    }
    assert_eq!(answer, Ok(Response::Done));
    // A chunk report over the batch limit is refused before anything else is looked at.
    let answer = w
        .call(WriteOp::ReportHave {
            token: alice,
            peer_id: 99,
            group: "nope".into(),
            name: "f".into(),
            chunks: vec![1; 70_000],
        })
        .await;
    assert!(
        matches!(answer, Err(ApiError::InvalidRequest(_))),
        "{answer:?}"
    );
    let after = status(c.user_tls(), &addr).await;
    if !same_term(&before, &after) {
        return None;
    }
    assert_eq!(
        after.last_log_index, before.last_log_index,
        "a refused request must not grow the log"
    );

    // The connection still serves, and an accepted write does take one entry.
    let answer = w
        .call(WriteOp::CreateGroup {
            token: alice,
            group: group.into(),
        })
        .await;
    if moved(&answer) {
        return None;
    }
    assert_eq!(answer, Ok(Response::Done));
    let accepted = status(c.user_tls(), &addr).await;
    assert!(accepted.last_log_index > before.last_log_index);

    // A name already taken in the applied state is refused on the leader too.
    let again = w
        .call(WriteOp::CreateGroup {
            token: alice,
            group: group.into(),
        })
        .await;
    let taken = w
        .call(WriteOp::CreateUser {
            username: "alice".into(),
            password: "another-password".into(),
            display_name: None,
        })
        .await;
    let last = status(c.user_tls(), &addr).await;
    if !same_term(&before, &last) {
        return None;
    }
    assert_eq!(again, Err(ApiError::GroupExists(group.into())));
    assert_eq!(taken, Err(ApiError::UserExists("alice".into())));
    assert_eq!(last.last_log_index, accepted.last_log_index);
    Some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_leave_the_leaders_log_unchanged() {
    let (_dir, c) = start(3, &[]).await;
    let cl = client(&c);
    let alice = signup(&cl, "alice").await;
    // The new leader's own entry (the cluster key) first, so nothing else moves the log.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cl.read(ReadRequest::ClusterKey).await.is_err() {
        assert!(Instant::now() < deadline, "no cluster key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for attempt in 0..ATTEMPTS {
        if run(&c, alice, &format!("movies{attempt}")).await.is_some() {
            return;
        }
        // A new leader makes its own entries (the blank one, and the key check) first.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("the leader changed during every attempt");
}
