//! Failed logins slow down further attempts (real processes): after five wrong passwords the
//! account is refused with the time to wait, even with the right password and without any
//! password check, and once the delay has passed the right password works. The policy itself
//! (doubling, caps, per address, bounded memory) is unit-tested in
//! `tracker/src/leader/login_throttle.rs`.
//!
//! The throttle lives in the leader's memory, so a leader change in the middle (a loaded machine
//! can cause one) starts it afresh; the scenario is then run again with another account, a
//! bounded number of times.

use std::time::{Duration, Instant};

use proto::tracker_msg::{ReplyMeta, Response, WriteOp};
use proto::{ApiError, TrackerClient};

use super::util::{client, start};

/// Tries per scenario before the test gives up on a stable leader.
const ATTEMPTS: usize = 4;

fn login(user: &str, password: &str) -> WriteOp {
    WriteOp::Login {
        username: user.into(),
        password: password.into(),
    }
}

/// The answers of one run of the scenario, or `None` if the leader changed during it.
struct Run {
    user: String,
    wait_ms: u64,
    refused_wrong: Result<Response, ApiError>,
    after_delay: Result<Response, ApiError>,
    wrong_after_success: Result<Response, ApiError>,
}

async fn run(cl: &TrackerClient, user: &str) -> Option<Run> {
    let mut leaders: Vec<ReplyMeta> = Vec::new();
    let (created, meta) = cl
        .write_traced(WriteOp::CreateUser {
            username: user.into(),
            password: "right-password".into(),
            display_name: None,
        })
        .await;
    created.unwrap();
    leaders.extend(meta);
    for _ in 0..5 {
        let (answer, meta) = cl.write_traced(login(user, "wrong-password")).await;
        leaders.extend(meta);
        assert_eq!(answer, Err(ApiError::BadCredentials), "an ordinary refusal");
    }
    // Now even the right password is refused, at once, with the time to wait.
    let asked = Instant::now();
    let (answer, meta) = cl.write_traced(login(user, "right-password")).await;
    leaders.extend(meta);
    let wait_ms = match answer {
        Err(ApiError::TooManyFailedLogins { retry_after_ms }) => retry_after_ms,
        other => {
            assert!(same_leader(&leaders), "expected a delay, got {other:?}");
            return None;
        }
    };
    // Refused attempts are not password checks and do not count.
    let (refused_wrong, meta) = cl.write_traced(login(user, "wrong-password")).await;
    leaders.extend(meta);
    tokio::time::sleep_until((asked + Duration::from_millis(wait_ms + 100)).into()).await;
    let (after_delay, meta) = cl.write_traced(login(user, "right-password")).await;
    leaders.extend(meta);
    let (wrong_after_success, meta) = cl.write_traced(login(user, "wrong-password")).await;
    leaders.extend(meta);
    same_leader(&leaders).then(|| Run {
        user: user.to_string(),
        wait_ms,
        refused_wrong,
        after_delay,
        wrong_after_success,
    })
}

/// Whether every reply came from one node in one term.
fn same_leader(metas: &[ReplyMeta]) -> bool {
    metas
        .windows(2)
        .all(|w| (w[0].node_id, w[0].term) == (w[1].node_id, w[1].term))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_delay_the_next_login_and_the_right_one_works_after_the_delay() {
    let (_dir, c) = start(3, &[]).await;
    let cl = client(&c);
    let mut result = None;
    for attempt in 0..ATTEMPTS {
        if let Some(r) = run(&cl, &format!("carol{attempt}")).await {
            result = Some(r);
            break;
        }
    }
    let r = result.expect("the leader changed during every attempt");
    assert!(
        (1..=1000).contains(&r.wait_ms),
        "the first delay is at most a second: {} ms",
        r.wait_ms
    );
    let message = ApiError::TooManyFailedLogins {
        retry_after_ms: r.wait_ms,
    }
    .to_string();
    assert!(message.contains("try again in 1 s"), "{message}");
    assert!(
        matches!(r.refused_wrong, Err(ApiError::TooManyFailedLogins { .. })),
        "{:?}",
        r.refused_wrong
    );
    assert!(
        matches!(r.after_delay, Ok(Response::Session { .. })),
        "{}: {:?}",
        r.user,
        r.after_delay
    );
    // The success cleared the account's failures: a wrong password is an ordinary refusal.
    assert_eq!(r.wrong_after_success, Err(ApiError::BadCredentials));
}
