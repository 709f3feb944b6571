//! Helpers: start clusters of real processes, make clients, sign users up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster::process::tracker_program;
use cluster::LocalCluster;
use proto::tls::ClientTls;
use proto::tracker_msg::{FileManifest, Response, SessionToken, WriteOp};
use proto::TrackerClient;

/// The `cluster` binary under test.
pub fn cluster_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cluster"))
}

/// Starts an `n`-node cluster (children of this test, killed when the handle drops).
pub async fn start(n: u64, tracker_args: &[&str]) -> (tempfile::TempDir, LocalCluster) {
    let dir = tempfile::Builder::new()
        .prefix("it-cluster-")
        .tempdir()
        .unwrap();
    let specs = LocalCluster::plan(dir.path(), n, None).unwrap();
    let mut c = LocalCluster::new(
        dir.path(),
        specs,
        tracker_args.iter().map(|s| s.to_string()).collect(),
        false,
    )
    .unwrap();
    c.program = tracker_program(Some(cluster_exe()));
    c.start_all().unwrap();
    c.wait_leader(Duration::from_secs(30)).await.unwrap();
    // Every node up and answering as itself, so a test that kills one keeps a quorum.
    c.wait_converged(Duration::from_secs(30)).await.unwrap();
    (dir, c)
}

/// A user's client of every node of `c`: it trusts the cluster CA and presents no certificate.
pub fn client(c: &LocalCluster) -> TrackerClient {
    let mut cfg = c.user_config();
    cfg.deadline = Duration::from_secs(20);
    TrackerClient::new(cfg).unwrap()
}

/// A user's TLS for the cluster in `dir` (its `ca.pem`, no client certificate).
pub fn user_tls(dir: &Path) -> ClientTls {
    ClientTls::from_files(&dir.join("ca.pem"), None).unwrap()
}

/// Creates `user` (password "password-<user>") and logs in; returns the token.
pub async fn signup(client: &TrackerClient, user: &str) -> SessionToken {
    client
        .write(WriteOp::CreateUser {
            username: user.into(),
            password: format!("password-{user}"),
            display_name: None,
        })
        .await
        .unwrap();
    match client
        .write(WriteOp::Login {
            username: user.into(),
            password: format!("password-{user}"),
        })
        .await
        .unwrap()
    {
        Response::Session { token, .. } => token,
        other => panic!("unexpected login answer {other:?}"),
    }
}

/// Runs the `cluster` binary; returns (success, stdout, stderr).
pub fn run_cluster(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cluster_exe()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Stops a detached cluster (`cluster down`) when dropped, even if the test panics.
pub struct DownOnDrop(pub PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(cluster_exe())
            .args(["down", "--dir"])
            .arg(&self.0)
            .output();
    }
}

/// The path as a &str (temp dirs are UTF-8 here).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `RegisterPeer` of `peer_id` at a placeholder address, with a key made from the id's low byte.
pub fn register_peer(token: SessionToken, peer_id: u64) -> WriteOp {
    WriteOp::RegisterPeer {
        token,
        peer_id,
        addr: "127.0.0.1:9".into(),
        peer_key: proto::ticket::public_key_of(&[peer_id as u8; 32]),
    }
}

/// `RegisterFile` of a 10,000-byte file `name` in `group` (3 chunks of 4 KiB, placeholder
/// hashes), seeded by `peer_id`.
pub fn register_small_file(token: SessionToken, peer_id: u64, group: &str, name: &str) -> WriteOp {
    WriteOp::RegisterFile {
        token,
        peer_id,
        group: group.into(),
        manifest: FileManifest {
            name: name.into(),
            size_bytes: 10_000,
            chunk_size_bytes: 4096,
            chunk_hashes: vec![[1; 20]; 3],
            file_hash: [2; 20],
        },
    }
}

/// The flags that reach a cluster's admin API from outside its directory: `--trackers` and the
/// admin credential of `dir`.
pub fn admin_flags(dir: &Path, trackers: &str) -> Vec<String> {
    vec![
        "--trackers".into(),
        trackers.into(),
        "--ca".into(),
        s(&dir.join("ca.pem")).into(),
        "--admin-cert".into(),
        s(&dir.join("admin.pem")).into(),
        "--admin-key".into(),
        s(&dir.join("admin.key")).into(),
    ]
}
