//! Discovery on a live swarm: `peer sources` lists every holder of a file (online or not, with
//! chunks held and last seen), `peer peers` the online peers of a group's members with the files
//! each seeds, both members only; a daemon stopped with SIGTERM signs off (no longer a source
//! within a second, shown offline), signs on again at start, and stops within its bound even
//! when no tracker answers.

use std::time::{Duration, Instant};

use serde_json::Value;

use proto::TrackerClient;

use super::util::{group_with, random_file, Peer};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: not JSON: {text}"))
}

/// `peer --json sources g f.bin` as `p` sees it, by username.
fn sources_by_user(p: &Peer) -> Vec<(String, Value)> {
    let v = json(&p.ok(&["--json", "sources", "g", "f.bin"]));
    let mut rows: Vec<(String, Value)> = v
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| (r["username"].as_str().unwrap_or("").to_string(), r.clone()))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// Seconds since the Unix epoch.
fn now_secs() -> u64 {
    peer::daemon::wall_ms() / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_and_peers_of_a_live_swarm_and_a_daemon_that_signs_off() {
    let root = tempfile::tempdir().unwrap();
    let (mut cluster, mut alice, mut members) = group_with(root.path(), &["bob"]).await;
    let mut bob = members.remove(0);
    let carol = Peer::signup(root.path(), "carol", &cluster);
    alice.start_daemon(&[]).await;
    bob.start_daemon(&[]).await;
    let src = root.path().join("f.bin");
    random_file(&src, 1_300_000, 17);
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    let dest = root.path().join("bob-f.bin");
    bob.ok(&["download", "g", "f.bin", dest.to_str().unwrap()]);

    // Both hold all three chunks and are online, seen just now (bob's daemon reports its chunks
    // in batches: wait, bounded, until the tracker has them all).
    let deadline = Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let rows = sources_by_user(&alice);
        let complete = rows.len() == 2 && rows.iter().all(|(_, r)| r["chunks_held"] == 3);
        if complete || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let users: Vec<&str> = rows.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(users, ["alice", "bob"]);
    for ((_, r), p) in rows.iter().zip([&alice, &bob]) {
        assert_eq!(r["peer_id"], p.peer_id().to_string(), "{r}");
        assert_eq!(
            (&r["chunks_held"], &r["chunk_count"]),
            (&3.into(), &3.into())
        );
        assert_eq!(r["online"], true, "{r}");
        let seen = r["last_seen_secs"]
            .as_u64()
            .expect("an online peer's last seen");
        assert!(now_secs().abs_diff(seen) < 120, "{r}");
        assert!(
            r["addr"]
                .as_str()
                .is_some_and(|a| a.starts_with("127.0.0.1:")),
            "{r}"
        );
    }
    let table = alice.ok(&["sources", "g", "f.bin"]);
    assert!(table.contains("3/3") && table.contains("bob"), "{table}");

    let peers = json(&bob.ok(&["--json", "peers", "g"]));
    let mut listed: Vec<(String, String, u64)> = peers
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            (
                p["username"].as_str().unwrap_or("").to_string(),
                p["peer_id"].as_str().unwrap_or("").to_string(),
                p["files_seeded"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("alice".to_string(), alice.peer_id().to_string(), 1),
            ("bob".to_string(), bob.peer_id().to_string(), 1)
        ]
    );
    // Members only.
    let refused = carol.fails(&["sources", "g", "f.bin"]);
    assert!(refused.contains("member"), "{refused}");
    let refused = carol.fails(&["peers", "g"]);
    assert!(refused.contains("member"), "{refused}");

    // SIGTERM: bob signs off; the daemon's own read of the sources no longer names it.
    let status = bob.terminate_daemon(Duration::from_secs(10));
    let stopped = Instant::now();
    assert!(
        status.is_some_and(|s| s.success()),
        "bob's daemon: {status:?}"
    );
    let client = TrackerClient::new(cluster.user_config()).unwrap();
    let token = Peer::token_of(&alice);
    let online = proto::pages::all_sources(&client, token, "g", "f.bin", None)
        .await
        .unwrap();
    let ids: Vec<u64> = online.sources.iter().map(|s| s.peer_id).collect();
    assert_eq!(ids, [alice.peer_id()], "bob is no source any more");
    assert!(
        stopped.elapsed() < Duration::from_secs(1),
        "read within a second of the stop"
    );
    let rows = sources_by_user(&alice);
    let bob_row = &rows
        .iter()
        .find(|(u, _)| u == "bob")
        .expect("bob still holds it")
        .1;
    assert_eq!(bob_row["online"], false, "{bob_row}");
    let went = bob_row["last_seen_secs"]
        .as_u64()
        .expect("when it went offline");
    assert!(now_secs().abs_diff(went) < 120, "{bob_row}");
    let peers = json(&alice.ok(&["--json", "peers", "g"]));
    let names: Vec<&str> = peers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["username"].as_str())
        .collect();
    assert_eq!(names, ["alice"], "only online peers are listed");

    // At start it signs on again.
    bob.restart_daemon().await;
    let rows = sources_by_user(&alice);
    let bob_row = &rows.iter().find(|(u, _)| u == "bob").unwrap().1;
    assert_eq!(bob_row["online"], true, "{bob_row}");

    // No tracker answering: the sign-off gives up in time and the daemon still exits cleanly.
    cluster.stop_all(Duration::from_secs(10));
    let started = Instant::now();
    let status = alice.terminate_daemon(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "alice's daemon: {status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "stopped in {:?} without a tracker",
        started.elapsed()
    );
    drop(carol);
}
