//! A node whose data directory was wiped rejoins (removed, then added back as a new learner) and
//! catches up by snapshot install, because the leader has purged the log behind its snapshots.

use std::time::Duration;

use cluster::cluster_file::ClusterFile;
use cluster::LocalCluster;
use proto::tracker_msg::WriteOp;
use proto::{ClientConfig, TrackerClient};

use super::util::{run_cluster, s, signup, DownOnDrop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_node_rejoins_by_snapshot_and_converges() {
    let dir = tempfile::Builder::new()
        .prefix("it-snap-")
        .tempdir()
        .unwrap();
    let _guard = DownOnDrop(dir.path().to_path_buf());
    let (ok, out, err) = run_cluster(&[
        "up",
        "--nodes",
        "3",
        "--dir",
        s(dir.path()),
        "--detach",
        "--tracker-arg=--snapshot-every=20",
        "--tracker-arg=--logs-to-keep=5",
    ]);
    assert!(ok, "{out}\n{err}");
    let file = ClusterFile::load(dir.path()).unwrap();
    let tls = super::util::user_tls(dir.path());
    let mut cfg = ClientConfig::new(file.trackers.split(',').map(String::from).collect(), tls);
    cfg.deadline = Duration::from_secs(20);
    let cl = TrackerClient::new(cfg).unwrap();
    let token = signup(&cl, "erin").await;
    for i in 0..60 {
        cl.write(WriteOp::CreateGroup {
            token,
            group: format!("s{i}"),
        })
        .await
        .unwrap();
    }

    // Crash node 3 and wipe its data.
    let mut c = LocalCluster::load(dir.path(), true).unwrap();
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let victim = if leader.node_id == 3 { 2 } else { 3 };
    c.kill(victim);
    std::fs::remove_dir_all(dir.path().join(format!("node-{victim}"))).unwrap();

    // Remove it from the membership, then add it back empty.
    let id = victim.to_string();
    let (ok, out, err) = run_cluster(&["remove-node", "--dir", s(dir.path()), "--id", &id]);
    assert!(ok, "remove-node: {out}\n{err}");
    for i in 60..80 {
        cl.write(WriteOp::CreateGroup {
            token,
            group: format!("s{i}"),
        })
        .await
        .unwrap();
    }
    let (ok, out, err) = run_cluster(&["add-node", "--dir", s(dir.path()), "--id", &id]);
    assert!(ok, "add-node: {out}\n{err}");

    let c = LocalCluster::load(dir.path(), true).unwrap();
    let statuses = c.wait_converged(Duration::from_secs(30)).await.unwrap();
    assert_eq!(statuses.len(), 3);
    let rejoined = statuses.iter().find(|s| s.node_id == victim).unwrap();
    assert!(rejoined.voters.contains(&victim), "{rejoined:?}");
    assert!(
        rejoined.snapshot_index.is_some_and(|i| i > 20),
        "the wiped node should have installed a snapshot: {rejoined:?}"
    );
}
