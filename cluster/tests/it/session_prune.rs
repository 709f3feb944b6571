//! Expired sessions are deleted by the leader: with a 2 s session lifetime and a pass every
//! second, the sessions of five logins leave the state (every node's digest changes, and all
//! agree) while nothing else writes, and the leader logs how many it deleted.

use std::time::{Duration, Instant};

use proto::tracker_msg::{PageRequest, ReadRequest, Response};
use proto::ApiError;

use super::util::{client, signup, start};

/// Sessions deleted according to the leader's log lines `deleted expired sessions pruned=N`.
fn pruned_in(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("deleted expired sessions"))
        .filter_map(|l| {
            l.split("pruned=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_deleted_on_every_node() {
    let (_dir, c) = start(3, &["--session-ttl-secs=2", "--session-prune-every-secs=1"]).await;
    let cl = client(&c);
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(signup(&cl, &format!("s{i}")).await);
    }
    let before = c.wait_converged(Duration::from_secs(20)).await.unwrap();
    let leader = c.wait_leader(Duration::from_secs(20)).await.unwrap();
    let log = c.nodes[&leader.node_id].data_dir.join("tracker.log");
    // Bounded: the sessions expire after 2 s and a pass runs every second.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pruned = 0;
    while Instant::now() < deadline {
        pruned = pruned_in(&std::fs::read_to_string(&log).unwrap_or_default());
        if pruned >= tokens.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        pruned,
        tokens.len(),
        "the leader's log ({}) shows {pruned} deletions",
        log.display()
    );
    let after = c.wait_converged(Duration::from_secs(20)).await.unwrap();
    assert_ne!(
        before[0].digest, after[0].digest,
        "the state did not change although five sessions were deleted"
    );
    // A deleted session is refused as an expired one is.
    let refused = cl
        .read(ReadRequest::ListGroups {
            token: tokens[0],
            page: PageRequest::default(),
        })
        .await;
    assert!(
        matches!(refused, Err(ApiError::NotLoggedIn)),
        "a deleted session was answered {refused:?}"
    );
    // A fresh login still works.
    let fresh = signup(&cl, "late").await;
    let listed = cl
        .read(ReadRequest::ListGroups {
            token: fresh,
            page: PageRequest::default(),
        })
        .await;
    assert!(matches!(listed, Ok(Response::Groups(_))), "{listed:?}");
}
