//! Quotas against real processes: the admin reads the defaults and lowers a quota with
//! `cluster quotas` (on DIR and with `--trackers` and the admin files), a user's connection
//! cannot change them (`Forbidden`), a user at the quota sees the message in the peer CLI, a
//! refused write leaves the leader's log as it was, and removing an item makes room again.
//! The counters themselves are unit-tested in `tracker/src/domain/rules/quota_test.rs`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use proto::connection::Connection;
use proto::quota::{Quota, QuotaChanges, QuotaLimits};
use proto::tracker_msg::{AdminRequest, NodeStatus, ReadRequest, WriteOp, WriteRequest};
use proto::{ApiError, Request, Response, TrackerClient};

use super::util::{client, cluster_exe, run_cluster, s, signup, start};

/// Runs the peer command line (`cluster peer`) on home `home`, with `stdin` as its input.
fn peer(home: &Path, trackers: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(cluster_exe())
        .arg("peer")
        .arg("--home")
        .arg(home)
        .args(["--trackers", trackers])
        .args(args)
        .env_remove("PEER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn status(c: &cluster::LocalCluster, addr: &str) -> NodeStatus {
    TrackerClient::node_status(addr, c.user_tls(), false, Duration::from_secs(2))
        .await
        .unwrap()
}

/// The leader's status once its log has stopped moving (two equal reads 200 ms apart, all of
/// it applied).
async fn settled(c: &cluster::LocalCluster, addr: &str) -> NodeStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last: Option<NodeStatus> = None;
    loop {
        let st = status(c, addr).await;
        if let Some(l) = &last {
            if l.last_log_index == st.last_log_index && st.last_applied == st.last_log_index {
                return st;
            }
        }
        assert!(Instant::now() < deadline, "the log kept moving: {st:?}");
        last = Some(st);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// On the current leader: a create past the quota is refused without an entry. `None` if the
/// leadership changed meanwhile (the caller tries again).
async fn refused_without_an_entry(
    c: &cluster::LocalCluster,
    token: proto::tracker_msg::SessionToken,
    serial: u64,
) -> Option<()> {
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let addr = leader.leader_api_addr.clone().unwrap();
    let conn = Connection::open(&addr, c.user_tls(), Duration::from_secs(5))
        .await
        .unwrap();
    let before = settled(c, &addr).await;
    let answer = conn
        .call(Request::Write(WriteRequest {
            client_id: 4711,
            serial,
            op: WriteOp::CreateGroup {
                token,
                group: format!("over-{serial}"),
            },
        }))
        .await
        .unwrap();
    if matches!(
        answer,
        Err(ApiError::NotLeader { .. } | ApiError::Unavailable(_))
    ) {
        return None;
    }
    assert_eq!(
        answer,
        Err(ApiError::QuotaExceeded {
            quota: Quota::GroupsPerUser,
            limit: 2
        })
    );
    let after = status(c, &addr).await;
    if after.role != "leader" || after.term != before.term {
        return None;
    }
    assert_eq!(
        after.last_log_index, before.last_log_index,
        "a write refused for its quota must not grow the log"
    );
    Some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_quota_a_user_hits_it_and_cannot_change_it() {
    let (dir, c) = start(3, &[]).await;
    let d = s(dir.path());
    let trackers = c.trackers();
    let ca = dir.path().join("ca.pem");
    let (cert, key) = (dir.path().join("admin.pem"), dir.path().join("admin.key"));

    // The defaults, read on DIR with its credential.
    let (ok, out, err) = run_cluster(&["quotas", "show", "--json", "--dir", d]);
    assert!(ok, "{err}");
    let shown: QuotaLimits = serde_json::from_str(&out).unwrap();
    assert_eq!(shown, QuotaLimits::default());

    // Lowered with --trackers and the admin files.
    let admin_flags = [
        "--trackers",
        trackers.as_str(),
        "--ca",
        s(&ca),
        "--admin-cert",
        s(&cert),
        "--admin-key",
        s(&key),
    ];
    let mut set = vec!["quotas", "set", "--groups-per-user", "2"];
    set.extend(admin_flags);
    let (ok, out, err) = run_cluster(&set);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("groups owned per user") && l.contains(" 2 ")),
        "{out}"
    );

    // Without the admin credential the same command is forbidden, and so is the request on a
    // connection a user logged in on.
    let (ok, _, err) = run_cluster(&[
        "quotas",
        "set",
        "--groups-per-user",
        "100",
        "--trackers",
        &trackers,
        "--ca",
        s(&ca),
    ]);
    assert!(!ok && err.contains("forbidden"), "{err}");
    let cl = client(&c);
    let bob = signup(&cl, "bob").await;
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let conn = Connection::open(
        leader.leader_api_addr.as_deref().unwrap(),
        c.user_tls(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let login = conn
        .call(Request::Write(WriteRequest {
            client_id: 99,
            serial: 1,
            op: WriteOp::Login {
                username: "bob".into(),
                password: "password-bob".into(),
            },
        }))
        .await
        .unwrap();
    assert!(matches!(login, Ok(Response::Session { .. })), "{login:?}");
    for request in [
        AdminRequest::SetQuotas(QuotaChanges {
            groups_per_user: Some(100),
            ..QuotaChanges::default()
        }),
        AdminRequest::GetQuotas,
    ] {
        let answer = conn.call(Request::Admin(request)).await.unwrap();
        assert!(matches!(answer, Err(ApiError::Forbidden(_))), "{answer:?}");
    }
    let mut show = vec!["quotas", "show", "--json"];
    show.extend(admin_flags);
    let (ok, out, err) = run_cluster(&show);
    assert!(ok, "{err}");
    let shown: QuotaLimits = serde_json::from_str(&out).unwrap();
    assert_eq!(shown.groups_per_user, 2);
    assert_eq!(
        shown.files_per_group,
        QuotaLimits::default().files_per_group
    );

    // A user of the peer CLI reaches the quota and is told which, its value and what to do.
    let home = dir.path().join("alice-home");
    let password = "alice-password-1\n";
    for args in [
        vec![
            "--ca",
            s(&ca),
            "user",
            "create",
            "alice",
            "--password-stdin",
        ],
        vec!["--ca", s(&ca), "login", "alice", "--password-stdin"],
        vec!["group", "create", "a1"],
        vec!["group", "create", "a2"],
    ] {
        let out = peer(&home, &trackers, &args, password);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    let out = peer(&home, &trackers, &["group", "create", "a3"], "");
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("at most 2 groups owned per user")
            && said.contains("cluster quotas set --groups-per-user N"),
        "{said}"
    );
    // Leaving a group it alone is in removes it, which makes room again.
    let out = peer(&home, &trackers, &["group", "leave", "a1"], "");
    assert!(out.status.success(), "{}", text(&out));
    let out = peer(&home, &trackers, &["group", "create", "a3"], "");
    assert!(out.status.success(), "{}", text(&out));

    // A refused write never reaches the log: Bob owns two groups and tries a third.
    for name in ["b1", "b2"] {
        cl.write(WriteOp::CreateGroup {
            token: bob,
            group: name.into(),
        })
        .await
        .unwrap();
    }
    // The leader's own entry (the cluster key) first, so nothing else moves the log.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cl.read(ReadRequest::ClusterKey).await.is_err() {
        assert!(Instant::now() < deadline, "no cluster key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for attempt in 0..4 {
        if refused_without_an_entry(&c, bob, attempt + 1)
            .await
            .is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("the leader changed during every attempt");
}
