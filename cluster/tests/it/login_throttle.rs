//! Failed logins slow down further attempts (real processes): after five wrong passwords the
//! account is refused with the time to wait, even with the right password and without any
//! password check, and once the delay has passed the right password works. The policy itself
//! (doubling, caps, per address, bounded memory) is unit-tested in
//! `tracker/src/leader/login_throttle.rs`.

use std::time::{Duration, Instant};

use proto::tracker_msg::{Response, WriteOp};
use proto::ApiError;

use super::util::{client, start};

fn login(password: &str) -> WriteOp {
    WriteOp::Login {
        username: "carol".into(),
        password: password.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_delay_the_next_login_and_the_right_one_works_after_the_delay() {
    let (_dir, c) = start(3, &[]).await;
    let cl = client(&c);
    cl.write(WriteOp::CreateUser {
        username: "carol".into(),
        password: "right-password".into(),
    })
    .await
    .unwrap();
    for i in 0..5 {
        assert_eq!(
            cl.write(login("wrong-password")).await,
            Err(ApiError::BadCredentials),
            "failure {i} is an ordinary refusal"
        );
    }
    // Now even the right password is refused, at once, with the time to wait.
    let asked = Instant::now();
    let wait_ms = match cl.write(login("right-password")).await {
        Err(ApiError::TooManyFailedLogins { retry_after_ms }) => retry_after_ms,
        other => panic!("expected a delay, got {other:?}"),
    };
    assert!(
        (1..=1000).contains(&wait_ms),
        "the first delay is at most a second: {wait_ms} ms"
    );
    let message = ApiError::TooManyFailedLogins {
        retry_after_ms: wait_ms,
    }
    .to_string();
    assert!(message.contains("try again in 1 s"), "{message}");
    // Refused attempts are not password checks and do not count.
    assert!(matches!(
        cl.write(login("wrong-password")).await,
        Err(ApiError::TooManyFailedLogins { .. })
    ));
    tokio::time::sleep_until((asked + Duration::from_millis(wait_ms + 100)).into()).await;
    assert!(matches!(
        cl.write(login("right-password")).await,
        Ok(Response::Session { .. })
    ));
    // The success cleared the account's failures: a wrong password is an ordinary refusal.
    assert_eq!(
        cl.write(login("wrong-password")).await,
        Err(ApiError::BadCredentials)
    );
}
