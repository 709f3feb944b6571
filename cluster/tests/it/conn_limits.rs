//! The client port's connection caps and idle timeout, on real processes: connections over the
//! per-source cap are closed at the handshake until one ends; an idle connection is closed after
//! the timeout while a busy one goes on, and a client that idled reconnects by itself.

use std::time::{Duration, Instant};

use proto::connection::Connection;
use proto::tracker_msg::{AdminRequest, Request, Response};

use super::util::{client, signup, start};

const OPEN_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_source_cap_are_refused_until_one_closes() {
    let (_dir, c) = start(3, &["--max-connections-per-source=16"]).await;
    let addr = c.nodes[&1].api_addr.clone();
    let tls = c.user_tls().clone();
    let mut open = Vec::new();
    let mut refused = None;
    // Bounded: at most the cap plus a few are tried. The harness and the other nodes may hold a
    // few of the 16 places from this address too, so the cap is hit at 16 or before.
    for _ in 0..40 {
        match Connection::open(&addr, &tls, OPEN_WITHIN).await {
            Ok(conn) => open.push(conn),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(
        (1..=16).contains(&open.len()),
        "admitted {} connections from one address",
        open.len()
    );
    assert!(refused.is_some(), "nothing was refused");
    // The admitted ones still work.
    for conn in &open {
        let answer = conn
            .call(Request::Admin(AdminRequest::Status { digest: false }))
            .await
            .unwrap();
        assert!(matches!(answer, Ok(Response::Status(_))), "{answer:?}");
    }
    open.pop();
    // Bounded: the server sees the close within a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reopened = loop {
        match Connection::open(&addr, &tls, OPEN_WITHIN).await {
            Ok(conn) => break conn,
            Err(e) => {
                assert!(Instant::now() < deadline, "no place freed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(!reopened.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_close_while_busy_ones_and_reconnecting_clients_go_on() {
    let (_dir, c) = start(3, &["--idle-timeout-secs=1"]).await;
    let leader = c.wait_leader(Duration::from_secs(20)).await.unwrap();
    let addr = c.nodes[&leader.node_id].api_addr.clone();
    let idle = Connection::open(&addr, c.user_tls(), OPEN_WITHIN)
        .await
        .unwrap();
    let busy = client(&c);
    let token = signup(&busy, "busy").await;
    // The busy client asks every 200 ms for 3 s; every answer must come.
    let until = Instant::now() + Duration::from_secs(3);
    let mut answered = 0;
    while Instant::now() < until {
        busy.read(proto::tracker_msg::ReadRequest::WhoAmI { token })
            .await
            .unwrap();
        answered += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(answered >= 10, "only {answered} answers");
    // Bounded: the idle one is closed a second after it opened (plus the sweep's slack).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !idle.is_closed() {
        assert!(Instant::now() < deadline, "the idle connection stayed open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A client whose connections were closed while it idled reconnects on its next request.
    let sleeper = client(&c);
    let token2 = signup(&sleeper, "sleeper").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = sleeper
        .read(proto::tracker_msg::ReadRequest::WhoAmI { token: token2 })
        .await;
    assert!(matches!(again, Ok(Response::Account(_))), "{again:?}");
}
