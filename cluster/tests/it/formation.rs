//! `cluster up` / `status` / `down` through the binary, writes through followers, restart on data.

use std::time::Duration;

use cluster::cluster_file::ClusterFile;
use proto::tracker_msg::{Response, WriteOp};
use proto::{ApiError, ClientConfig, TrackerClient};

use super::util::{run_cluster, s, signup, user_tls, DownOnDrop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_status_writes_through_any_node_down_and_restart() {
    let dir = tempfile::Builder::new().prefix("it-up-").tempdir().unwrap();
    let _guard = DownOnDrop(dir.path().to_path_buf());
    let (ok, out, err) = run_cluster(&["up", "--nodes", "3", "--dir", s(dir.path()), "--detach"]);
    assert!(ok, "cluster up failed: {out}\n{err}");
    assert!(out.contains("leader: node"), "{out}");
    let file = ClusterFile::load(dir.path()).unwrap();
    assert_eq!(file.nodes.len(), 3);
    assert_eq!(file.trackers.split(',').count(), 3);
    // The PKI is in DIR and recorded in cluster.json.
    assert_eq!(
        file.ca_file.as_deref(),
        Some(dir.path().join("ca.pem").as_path())
    );
    assert_eq!(
        file.admin_cert.as_deref(),
        Some(dir.path().join("admin.pem").as_path())
    );
    let identities = ["ca.pem", "ca.key", "node-1.pem", "node-1.key", "admin.pem"];
    let read_all = || -> Vec<Vec<u8>> {
        identities
            .iter()
            .map(|f| std::fs::read(dir.path().join(f)).unwrap())
            .collect()
    };
    let before_restart = read_all();
    let tls = user_tls(dir.path());

    // A second `up` while the nodes run is refused with a clear message.
    let (ok, _, err) = run_cluster(&["up", "--nodes", "3", "--dir", s(dir.path()), "--detach"]);
    assert!(!ok);
    assert!(err.contains("still running"), "{err}");

    // Writes through every single node succeed (followers redirect to the leader).
    for (i, node) in file.nodes.iter().enumerate() {
        let mut cfg = ClientConfig::new(vec![node.api_addr.clone()], tls.clone());
        cfg.deadline = Duration::from_secs(20);
        let c = TrackerClient::new(cfg).unwrap();
        let token = signup(&c, &format!("user{i}")).await;
        c.write(WriteOp::CreateGroup {
            token,
            group: format!("group{i}"),
        })
        .await
        .unwrap();
    }

    // A follower asked directly answers NotLeader with the leader's address.
    let statuses: Vec<serde_json::Value> = {
        let (ok, out, err) = run_cluster(&["status", "--dir", s(dir.path()), "--json"]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    assert_eq!(statuses.len(), 3);
    let leaders: Vec<&serde_json::Value> =
        statuses.iter().filter(|r| r["role"] == "leader").collect();
    assert_eq!(leaders.len(), 1, "{statuses:?}");
    for r in &statuses {
        assert_eq!(r["reachable"], true);
        for key in [
            "id",
            "api_addr",
            "role",
            "term",
            "last_log_index",
            "last_applied",
            "pid",
            "digest",
        ] {
            assert!(r.get(key).is_some(), "status lacks {key}");
        }
        // On a DIR the admin credential is used, so the digest is there.
        assert!(r["digest"].is_string(), "{r}");
    }
    let follower = statuses.iter().find(|r| r["role"] == "follower").unwrap();
    let conn = proto::connection::Connection::open(
        follower["api_addr"].as_str().unwrap(),
        &tls,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let reply = conn
        .call(proto::Request::Write(proto::tracker_msg::WriteRequest {
            client_id: 1,
            serial: 1,
            op: WriteOp::Logout {
                token: "00".repeat(32).into(),
            },
        }))
        .await
        .unwrap();
    match reply {
        Err(ApiError::NotLeader {
            leader_api_addr: Some(addr),
            ..
        }) => {
            assert_eq!(addr, leaders[0]["api_addr"].as_str().unwrap())
        }
        other => panic!("expected NotLeader with a hint, got {other:?}"),
    }

    let (ok, out, _) = run_cluster(&["down", "--dir", s(dir.path())]);
    assert!(ok);
    assert!(out.contains("stopped 3 of 3"), "{out}");

    // `up` again on the same directory restarts on the data: the users are still there.
    let (ok, out, err) = run_cluster(&["up", "--dir", s(dir.path()), "--detach"]);
    assert!(ok, "restart failed: {out}\n{err}");
    assert_eq!(
        read_all(),
        before_restart,
        "a restart must keep every identity"
    );
    let c = TrackerClient::new(ClientConfig::new(
        file.trackers.split(',').map(String::from).collect(),
        tls,
    ))
    .unwrap();
    let token = match c
        .write(WriteOp::Login {
            username: "user1".into(),
            password: "password-user1".into(),
        })
        .await
        .unwrap()
    {
        Response::Session { token, .. } => token,
        other => panic!("{other:?}"),
    };
    let groups = proto::pages::all_groups(&c, token).await.unwrap();
    assert_eq!(groups.len(), 3);
}
