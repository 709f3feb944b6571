//! Schemathesis (a property-based API tester from PyPI) against a real daemon: it generates
//! requests from the OpenAPI document (valid and invalid ones, and sequences that create
//! groups and use them) and checks that no answer is a server error, that every status, content
//! type and body is the documented one, that invalid data is refused, and that requests
//! without the token are refused.
//!
//! It runs `$P2P_SCHEMATHESIS` (else `st` on the PATH). Without it the test says how to install
//! it and passes, unless `P2P_REQUIRE_SCHEMATHESIS` is set (as `.ci/run` does).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{start_cluster, Peer};

/// The whole run's bound.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn schemathesis() -> Option<PathBuf> {
    let exe = std::env::var_os("P2P_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("st"));
    let works = Command::new(&exe)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(exe)
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_against_the_openapi_document() {
    let Some(st) = schemathesis() else {
        assert!(
            std::env::var_os("P2P_REQUIRE_SCHEMATHESIS").is_none(),
            "P2P_REQUIRE_SCHEMATHESIS is set but schemathesis is not installed"
        );
        eprintln!(
            "skipped: schemathesis is not installed (python3 -m venv /tmp/st && /tmp/st/bin/pip \
             install schemathesis, then P2P_SCHEMATHESIS=/tmp/st/bin/st)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&dir.path().join("cluster")).await;
    let mut alice = Peer::signup(dir.path(), "alice", &cluster);
    alice.start_daemon(&[]).await;
    let (addr, token) = alice.http();
    let base = format!("http://{addr}/");
    let seed = std::env::var("P2P_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".into());
    let (report, errors) = (dir.path().join("st.out"), dir.path().join("st.err"));
    let mut child = Command::new(&st)
        .arg("run")
        .arg(format!("{base}api/v1/openapi.json"))
        .args(["--url", &base])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        // Whether a valid-looking request succeeds depends on the files on the disk and the
        // tracker's state (a path that is a directory, a group nobody made), which no schema
        // can say; every other check runs.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args([
            "--max-examples",
            "30",
            "--seed",
            &seed,
            "--request-timeout",
            "30",
        ])
        // A stream that lasts minutes; the end of the session the rest needs; logins that
        // would trip the login throttle.
        .args(["--exclude-path", "/api/v1/events"])
        .args(["--exclude-path", "/api/v1/session/logout"])
        .args(["--exclude-path", "/api/v1/session/login"])
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        // Into a file, not a pipe: nothing reads a pipe until schemathesis exits, and a report
        // larger than the pipe's buffer would block it forever.
        .stdout(Stdio::from(std::fs::File::create(&report).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&errors).unwrap()))
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis did not finish in {RUN_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let read = |p: &PathBuf| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    let text = format!("{}{}", read(&report), read(&errors));
    assert!(status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
}
