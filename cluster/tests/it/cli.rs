//! The operators' command line against real processes: `cluster status`'s exit codes as nodes
//! die, and a node started from a TOML config file (`cluster node --config`, the tracker's own
//! command line) that logs JSON lines.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster::pki::Pki;

use super::util::{cluster_exe, s, start, DownOnDrop};

/// `cluster ARGS`: (exit code, stdout, stderr).
fn cluster(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(cluster_exe()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cluster status --dir DIR --json`: (exit code, the nodes' rows).
fn status_json(dir: &str) -> (i32, Vec<serde_json::Value>) {
    let (code, out, err) = cluster(&["status", "--dir", dir, "--json"]);
    let rows = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exits_0_when_whole_1_when_a_node_is_down_2_when_none_leads() {
    let (dir, mut c) = start(3, &[]).await;
    let d = s(dir.path());
    let (code, rows) = status_json(d);
    assert_eq!(code, 0, "{rows:?}");
    assert!(rows.iter().all(|r| r["reachable"] == true), "{rows:?}");
    let (code, out, _) = cluster(&["status", "--dir", d]);
    assert_eq!(code, 0, "{out}");

    let leader = c
        .wait_leader(Duration::from_secs(10))
        .await
        .unwrap()
        .node_id;
    let follower = *c.nodes.keys().find(|&&id| id != leader).unwrap();
    assert!(c.kill(follower));
    let (code, rows) = status_json(d);
    assert_eq!(code, 1, "{rows:?}");
    let down: Vec<&serde_json::Value> = rows.iter().filter(|r| r["reachable"] == false).collect();
    assert_eq!(down.len(), 1, "{rows:?}");
    assert_eq!(down[0]["id"], follower);
    let (code, _, err) = cluster(&["status", "--dir", d]);
    assert_eq!(code, 1);
    assert!(err.contains("1 of 3 nodes did not answer"), "{err}");

    let rest: Vec<u64> = c
        .nodes
        .keys()
        .copied()
        .filter(|&id| id != follower)
        .collect();
    for id in rest {
        assert!(c.kill(id));
    }
    let (code, rows) = status_json(d);
    assert_eq!(code, 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["reachable"] == false), "{rows:?}");
    let (code, _, err) = cluster(&["status", "--dir", d]);
    assert_eq!(code, 2);
    assert!(err.contains("no node that answered leads"), "{err}");
}

/// Kills the node it holds (by its own PID) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_runs_from_a_config_file_and_logs_json() {
    let dir = tempfile::Builder::new()
        .prefix("it-config-")
        .tempdir()
        .unwrap();
    let pki = Pki::open_or_create(dir.path()).unwrap();
    let files = pki.ensure_node(1, &["127.0.0.1"]).unwrap();
    let ports = cluster::process::free_ports(2, &[]).unwrap();
    let (api, raft) = (
        format!("127.0.0.1:{}", ports[0]),
        format!("127.0.0.1:{}", ports[1]),
    );
    let config = dir.path().join("tracker.toml");
    let text = format!(
        "id = 1\ndata_dir = {data:?}\napi_addr = {api:?}\nraft_addr = {raft:?}\n\
         tls_cert = {cert:?}\ntls_key = {key:?}\nca = {ca:?}\n\
         initial_cluster = \"1={api}/{raft}\"\nlog_format = \"json\"\n",
        data = s(&dir.path().join("node-1")),
        cert = s(&files.cert),
        key = s(&files.key),
        ca = s(&files.ca),
    );
    std::fs::write(&config, text).unwrap();
    // Every required flag comes from the file.
    let child = Command::new(cluster_exe())
        .args(["node", "--config", s(&config)])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut node = KillOnDrop(child);
    let stderr = node.0.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .take(200)
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = ["status", "--trackers", &api, "--ca", s(&files.ca), "--json"];
    loop {
        let (code, out, err) = cluster(&status);
        if code == 0 {
            let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
            assert_eq!(rows[0]["role"], "leader", "{out}");
            assert_eq!(rows[0]["id"], 1, "{out}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node never led: {code} {out}\n{err}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(node);
    let lines = lines.join().unwrap();
    assert!(!lines.is_empty(), "the node logged nothing");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
}

/// `cluster ARGS` that must exit 0; its stdout as JSON.
fn json_of(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = cluster(args);
    assert_eq!(code, 0, "cluster {args:?}: {out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("cluster {args:?}: {e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cluster_command_that_prints_speaks_json() {
    let root = tempfile::Builder::new()
        .prefix("it-json-")
        .tempdir()
        .unwrap();
    let dir = root.path().join("c");
    let d = s(&dir);
    let _down = DownOnDrop(dir.clone());
    let up = json_of(&["up", "--nodes", "3", "--dir", d, "--detach", "--json"]);
    assert_eq!(up["nodes"].as_array().map(Vec::len), Some(3), "{up}");
    assert!(
        up["leader_id"]
            .as_u64()
            .is_some_and(|id| (1..=3).contains(&id)),
        "{up}"
    );
    assert!(up["nodes"][0]["pid"].as_u64().is_some(), "{up}");
    assert_eq!(
        up["trackers"].as_str().map(|t| t.split(',').count()),
        Some(3)
    );
    assert_eq!(up["detached"], true);

    let quotas = json_of(&[
        "quotas",
        "set",
        "--dir",
        d,
        "--files-per-group",
        "77",
        "--json",
    ]);
    assert_eq!(quotas["files_per_group"], 77);

    let added = json_of(&["add-node", "--dir", d, "--json"]);
    assert_eq!(added["id"], 4);
    assert_eq!(added["voters"], serde_json::json!([1, 2, 3, 4]));
    assert!(added["api_addr"].is_string(), "{added}");
    let removed = json_of(&["remove-node", "--dir", d, "--id", "4", "--json"]);
    assert_eq!(removed["voters"], serde_json::json!([1, 2, 3]));

    let down = json_of(&["down", "--dir", d, "--json"]);
    assert_eq!((&down["stopped"], &down["nodes"]), (&3.into(), &3.into()));
    let started = json_of(&["start-node", "--dir", d, "--id", "2", "--json"]);
    assert_eq!(started["id"], 2);
    assert!(started["pid"].as_u64().is_some(), "{started}");

    let pki = root.path().join("pki");
    let certs = json_of(&[
        "certs",
        "--out",
        s(&pki),
        "--node",
        "1=10.0.0.1,a.lan",
        "--json",
    ]);
    assert_eq!(certs["nodes"][0]["id"], 1);
    assert_eq!(
        certs["nodes"][0]["hosts"],
        serde_json::json!(["10.0.0.1", "a.lan"])
    );
    for key in ["ca_file", "ca_key", "admin_cert", "admin_key"] {
        let path = certs[key].as_str().unwrap_or_default();
        assert!(std::path::Path::new(path).is_file(), "{key}: {certs}");
    }
    assert!(std::path::Path::new(certs["nodes"][0]["key"].as_str().unwrap()).is_file());
}
