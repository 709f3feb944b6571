//! `cluster snapshot save|restore` against real processes: a snapshot saved from the leader with
//! `--trackers` carries the digest `cluster status` shows; one saved with `--from-node` from a
//! follower is labelled possibly stale; a follower refuses a leader's export and a user's
//! connection any export; a damaged file is refused; the file restored into a new directory
//! starts (`cluster up`) as a cluster with a leader whose every node has the snapshot's digest,
//! the records read back through the client, and a node added afterwards catches up from the
//! restored snapshot.

use std::path::Path;
use std::time::Duration;

use cluster::LocalCluster;
use proto::connection::Connection;
use proto::tracker_msg::{AdminRequest, PageRequest, ReadRequest, WriteOp};
use proto::{ApiError, ClientConfig, Request, Response, TrackerClient};

use super::util::{admin_flags, client, run_cluster, s, signup, start, user_tls, DownOnDrop};

/// Waits until the first leader has created the cluster key (its first background write), so
/// the state holds still once the test's own writes are in.
async fn wait_cluster_key(client: &TrackerClient) {
    for _ in 0..100 {
        if client.read(ReadRequest::ClusterKey).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no cluster key within 10 s");
}

fn save(file: &Path, flags: &[String], extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["snapshot", "save", s(file), "--json"];
    args.extend_from_slice(extra);
    args.extend(flags.iter().map(String::as_str));
    let (ok, out, err) = run_cluster(&args);
    assert!(ok, "snapshot save: {out}\n{err}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_snapshot_restores_into_a_new_cluster_with_the_same_digest_and_records() {
    let (dir, c) = start(3, &[]).await;
    let user = client(&c);
    wait_cluster_key(&user).await;
    let token = signup(&user, "ada").await;
    signup(&user, "bo").await;
    for group in ["movies", "books", "music"] {
        user.write(WriteOp::CreateGroup {
            token,
            group: group.into(),
        })
        .await
        .unwrap();
    }
    let flags = admin_flags(dir.path(), &c.trackers());
    let work = tempfile::Builder::new()
        .prefix("it-backup-")
        .tempdir()
        .unwrap();

    // From the leader: the digest status shows at the same applied index (should a background
    // write of the leader land in between, look again).
    let file = work.path().join("state.snap");
    let mut tries = 0;
    let (saved, settled) = loop {
        let settled = c.wait_converged(Duration::from_secs(30)).await.unwrap();
        let saved = save(&file, &flags, &[]);
        if saved["applied_index"].as_u64() == settled[0].last_applied {
            break (saved, settled);
        }
        tries += 1;
        assert!(
            tries < 10,
            "the state never held still: {saved} vs {settled:?}"
        );
    };
    let digest = settled[0].digest.clone().unwrap();
    assert_eq!(saved["digest"], digest.as_str(), "{saved} vs {settled:?}");
    assert_eq!(saved["possibly_stale"], false);
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    assert_eq!(saved["node_id"], leader.node_id);
    assert_eq!(saved["applied_index"].as_u64(), settled[0].last_applied);
    let (header, image) = cluster::snapshot::read_snapshot_file(&file).unwrap();
    assert_eq!(proto::tracker_msg::to_hex(&header.digest), digest);
    assert_eq!(image.len() as u64, saved["size_bytes"].as_u64().unwrap());
    assert!(!work.path().join("state.snap.tmp").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the file holds secrets but is readable by others: {mode:o}"
    );

    // From a follower's local state: labelled, and here (nothing written since) the same.
    let follower = c
        .nodes
        .keys()
        .copied()
        .find(|&id| id != leader.node_id)
        .unwrap();
    let local = save(
        &work.path().join("local.snap"),
        &flags,
        &["--from-node", &follower.to_string()],
    );
    assert_eq!(saved["digest"], local["digest"]);
    assert_eq!(local["possibly_stale"], true);
    assert_eq!(local["node_id"], follower);

    // A follower refuses a leader's export; a user's connection is refused any export.
    let follower_addr = &c.nodes[&follower].api_addr;
    let conn = Connection::open(follower_addr, c.admin_tls(), Duration::from_secs(5))
        .await
        .unwrap();
    let answer = conn
        .call(Request::Admin(AdminRequest::SnapshotBegin { local: false }))
        .await
        .unwrap();
    assert!(
        matches!(answer, Err(ApiError::NotLeader { .. })),
        "{answer:?}"
    );
    let conn = Connection::open(follower_addr, c.user_tls(), Duration::from_secs(5))
        .await
        .unwrap();
    let answer = conn
        .call(Request::Admin(AdminRequest::SnapshotBegin { local: true }))
        .await
        .unwrap();
    assert!(matches!(answer, Err(ApiError::Forbidden(_))), "{answer:?}");

    // A damaged copy is refused before anything is written.
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let damaged = work.path().join("damaged.snap");
    std::fs::write(&damaged, &bytes).unwrap();
    let nowhere = work.path().join("nowhere");
    let (ok, _, err) = run_cluster(&["snapshot", "restore", s(&damaged), "--dir", s(&nowhere)]);
    assert!(!ok && err.contains("damaged"), "{err}");
    assert!(!nowhere.exists());
    drop(c);

    // Restore into a new directory and start it.
    let new = work.path().join("restored");
    let _down = DownOnDrop(new.clone());
    let (ok, out, err) =
        run_cluster(&["snapshot", "restore", s(&file), "--dir", s(&new), "--json"]);
    assert!(ok, "snapshot restore: {out}\n{err}");
    let restored: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(restored["digest"], digest.as_str());
    assert_eq!(restored["nodes"].as_array().unwrap().len(), 3);
    let (ok, _, err) = run_cluster(&["snapshot", "restore", s(&file), "--dir", s(&new)]);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, out, err) = run_cluster(&["up", "--dir", s(&new), "--detach"]);
    assert!(ok, "up on the restored directory: {out}\n{err}");

    let r = LocalCluster::load(&new, true).unwrap();
    r.wait_leader(Duration::from_secs(30)).await.unwrap();
    let statuses = r.wait_converged(Duration::from_secs(30)).await.unwrap();
    assert_eq!(statuses.len(), 3);
    for st in &statuses {
        assert_eq!(st.digest.as_deref(), Some(digest.as_str()), "{st:?}");
        assert!(st.last_applied >= saved["applied_index"].as_u64(), "{st:?}");
    }

    // The records read back through the client, with the new cluster's CA.
    let mut cfg = ClientConfig::new(r.tracker_list(), user_tls(&new));
    cfg.deadline = Duration::from_secs(20);
    let cl = TrackerClient::new(cfg).unwrap();
    let token = match cl
        .write(WriteOp::Login {
            username: "ada".into(),
            password: "password-ada".into(),
        })
        .await
        .unwrap()
    {
        Response::Session { token, .. } => token,
        other => panic!("login answered {other:?}"),
    };
    let groups = match cl
        .read(ReadRequest::ListGroups {
            token,
            page: PageRequest::first(0),
        })
        .await
        .unwrap()
    {
        Response::Groups(page) => page.items,
        other => panic!("list answered {other:?}"),
    };
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["books", "movies", "music"]);

    // A node added later gets the state from the restored snapshot (the log before it is gone).
    let (ok, out, err) = run_cluster(&["add-node", "--dir", s(&new), "--id", "4"]);
    assert!(ok, "add-node on the restored cluster: {out}\n{err}");
    let r = LocalCluster::load(&new, true).unwrap();
    let statuses = r.wait_converged(Duration::from_secs(30)).await.unwrap();
    assert_eq!(statuses.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_losing_quorum_the_survivors_local_state_is_saved_and_restored() {
    let (dir, mut c) = start(3, &[]).await;
    let user = client(&c);
    wait_cluster_key(&user).await;
    let token = signup(&user, "cy").await;
    user.write(WriteOp::CreateGroup {
        token,
        group: "kept".into(),
    })
    .await
    .unwrap();
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    c.wait_converged(Duration::from_secs(30)).await.unwrap();
    let survivor = leader.node_id;
    let dead: Vec<u64> = c
        .nodes
        .keys()
        .copied()
        .filter(|&id| id != survivor)
        .collect();
    for id in &dead {
        assert!(c.kill(*id));
    }
    let flags = admin_flags(dir.path(), &c.trackers());
    let work = tempfile::Builder::new()
        .prefix("it-quorum-")
        .tempdir()
        .unwrap();

    // No leader can take a consistent snapshot; the error says what to do instead.
    let file = work.path().join("lost.snap");
    let mut args = vec!["snapshot", "save", s(&file)];
    args.extend(flags.iter().map(String::as_str));
    let (ok, out, err) = run_cluster(&args);
    assert!(!ok, "a snapshot was taken without a quorum: {out}");
    assert!(err.contains("--from-node"), "{err}");

    let saved = save(&file, &flags, &["--from-node", &survivor.to_string()]);
    assert_eq!(saved["possibly_stale"], true);
    let new = work.path().join("recovered");
    let _down = DownOnDrop(new.clone());
    let (ok, out, err) = run_cluster(&["snapshot", "restore", s(&file), "--dir", s(&new)]);
    assert!(ok, "restore: {out}\n{err}");
    assert!(out.contains("may be stale"), "{out}");
    let (ok, out, err) = run_cluster(&["up", "--dir", s(&new), "--detach"]);
    assert!(ok, "up: {out}\n{err}");
    let r = LocalCluster::load(&new, true).unwrap();
    let statuses = r.wait_converged(Duration::from_secs(30)).await.unwrap();
    for st in &statuses {
        assert_eq!(
            st.digest.as_ref(),
            saved["digest"].as_str().map(String::from).as_ref()
        );
    }
    let mut cfg = ClientConfig::new(r.tracker_list(), user_tls(&new));
    cfg.deadline = Duration::from_secs(20);
    let cl = TrackerClient::new(cfg).unwrap();
    let answer = cl
        .write(WriteOp::Login {
            username: "cy".into(),
            password: "password-cy".into(),
        })
        .await
        .unwrap();
    assert!(matches!(answer, Response::Session { .. }), "{answer:?}");
}
