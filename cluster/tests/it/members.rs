//! `cluster member list|add|remove` against real processes with `--trackers` and the admin
//! files: a node started by hand (not by the command) is added as a learner, catches up on the
//! data written before, becomes a voter and is removed again; a user's connection is refused;
//! the last voter cannot be removed.

use std::time::Duration;

use cluster::NodeSpec;
use proto::tracker_msg::WriteOp;

use super::util::{admin_flags, client, run_cluster, s, signup, start};

/// `--trackers` and the admin credential of the cluster in `dir`.
fn cluster_cmd(args: &[&str], flags: &[String]) -> (bool, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(flags.iter().map(String::as_str));
    run_cluster(&all)
}

/// `cluster member list --json` as (id, api, raft, role).
fn list(flags: &[String]) -> Vec<(u64, String, String, String)> {
    let (ok, out, err) = cluster_cmd(&["member", "list", "--json"], flags);
    assert!(ok, "member list: {out}\n{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap(),
                r["api_addr"].as_str().unwrap().to_string(),
                r["raft_addr"].as_str().unwrap().to_string(),
                r["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_by_hand_is_listed_added_caught_up_and_removed_over_trackers() {
    let (dir, mut c) = start(3, &[]).await;
    let user = client(&c);
    let token = signup(&user, "mia").await;
    for i in 0..20 {
        user.write(WriteOp::CreateGroup {
            token,
            group: format!("g{i}"),
        })
        .await
        .unwrap();
    }
    let flags = admin_flags(dir.path(), &c.trackers());

    let before = list(&flags);
    let expected: Vec<(u64, String, String, String)> = c
        .nodes
        .values()
        .map(|n| {
            (
                n.id,
                n.api_addr.clone(),
                n.raft_addr.clone(),
                "voter".into(),
            )
        })
        .collect();
    assert_eq!(before, expected);

    // Without the admin certificate the listing is refused.
    let ca = s(&dir.path().join("ca.pem")).to_string();
    let (ok, out, err) = run_cluster(&["member", "list", "--trackers", &c.trackers(), "--ca", &ca]);
    assert!(!ok, "a user's connection listed the members: {out}");
    assert!(err.contains("admin credential required"), "{err}");

    // The operator starts node 4 on its own (no --initial-cluster), then adds it.
    let taken: Vec<u16> = c
        .nodes
        .values()
        .flat_map(|n| [&n.api_addr, &n.raft_addr])
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect();
    let ports = cluster::process::free_ports(2, &taken).unwrap();
    let spec = NodeSpec {
        id: 4,
        api_addr: format!("127.0.0.1:{}", ports[0]),
        raft_addr: format!("127.0.0.1:{}", ports[1]),
        data_dir: dir.path().join("node-4"),
        http_addr: None,
    };
    c.add_spec(spec.clone());
    c.start_node(4).unwrap();
    let (ok, out, err) = cluster_cmd(
        &[
            "member",
            "add",
            "--id",
            "4",
            "--api-addr",
            &spec.api_addr,
            "--raft-addr",
            &spec.raft_addr,
            "--json",
        ],
        &flags,
    );
    assert!(ok, "member add: {out}\n{err}");
    assert!(err.contains("caught up"), "no progress shown: {err}");
    let added: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(added["voters"], serde_json::json!([1, 2, 3, 4]));
    let after = list(&flags);
    assert_eq!(after.len(), 4);
    assert_eq!(
        after[3],
        (
            4,
            spec.api_addr.clone(),
            spec.raft_addr.clone(),
            "voter".into()
        )
    );
    // It holds the data written before it joined.
    let statuses = c.wait_converged(Duration::from_secs(30)).await.unwrap();
    assert_eq!(statuses.len(), 4);

    // Adding it again is refused: it is a voter already.
    let (ok, _, err) = cluster_cmd(
        &[
            "member",
            "add",
            "--id",
            "4",
            "--api-addr",
            &spec.api_addr,
            "--raft-addr",
            &spec.raft_addr,
        ],
        &flags,
    );
    assert!(!ok && err.contains("already a voter"), "{err}");

    let (ok, out, err) = cluster_cmd(&["member", "remove", "--id", "4", "--json"], &flags);
    assert!(ok, "member remove: {out}\n{err}");
    let removed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(removed["voters"], serde_json::json!([1, 2, 3]));
    assert_eq!(list(&flags), expected);
    let (ok, _, err) = cluster_cmd(&["member", "remove", "--id", "4"], &flags);
    assert!(!ok && err.contains("not a member"), "{err}");
    c.stop_node(4, Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_voter_is_not_removed_and_the_error_says_what_to_do() {
    let (dir, c) = start(1, &[]).await;
    let (ok, out, err) = run_cluster(&["member", "remove", "--dir", s(dir.path()), "--id", "1"]);
    assert!(!ok, "the last voter was removed: {out}");
    assert!(
        err.contains("last voter") && err.contains("add another voter first"),
        "{err}"
    );
    let st = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    assert_eq!(st.voters, vec![1]);
}
