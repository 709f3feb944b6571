//! The operator scripts in `chaos-tests/scripts/` against a real cluster started with the built
//! `cluster` binary (`cluster up --detach`): kill-leader.sh kills the leader and a new one takes
//! over, restart-killed.sh brings the killed node back, kill-random.sh kills and restarts nodes;
//! once with the default JSON reader and once with the sed fallback.
//!
//! The `cluster` binary is `$CLUSTER_BIN`, else the one cargo built next to this test
//! (`cargo test --workspace` builds it; with `-p chaos-tests` alone, run `cargo build -p cluster`
//! first). Skipped, with the reason printed, only where bash is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cluster_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CLUSTER_BIN") {
        return PathBuf::from(p);
    }
    let p = cluster::process::sibling_bin("cluster");
    assert!(
        p.exists(),
        "no cluster binary at {}: run `cargo build -p cluster` (or set CLUSTER_BIN)",
        p.display()
    );
    p
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// Stops the cluster of `dir` when the test ends, however it ends.
struct Down {
    bin: PathBuf,
    dir: PathBuf,
}

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new(&self.bin)
            .args(["down", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

fn run(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn bash(bin: &Path, json_tool: Option<&str>, name: &str, args: &[&str], dir: &Path) -> String {
    let mut c = Command::new("bash");
    c.arg(script(name))
        .args(args)
        .arg(dir)
        .env("CLUSTER_BIN", bin)
        .env_remove("CHAOS_JSON_TOOL");
    if let Some(t) = json_tool {
        c.env("CHAOS_JSON_TOOL", t);
    }
    run(&mut c)
}

/// (id, role, pid, reachable) of every node. `cluster status` exits 1 when a node is down and 2
/// when none leads; the code must be the one the rows show.
fn status(bin: &Path, dir: &Path) -> Vec<Row> {
    let out: Output = Command::new(bin)
        .args(["status", "--json", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    let rows: Vec<Row> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap(),
                r["role"].as_str().map(str::to_string),
                r["pid"].as_u64(),
                r["reachable"].as_bool().unwrap(),
            )
        })
        .collect();
    let leads = rows
        .iter()
        .any(|(_, role, _, up)| *up && role.as_deref() == Some("leader"));
    let expected = match (leads, rows.iter().all(|r| r.3)) {
        (true, true) => 0,
        (true, false) => 1,
        (false, _) => 2,
    };
    assert_eq!(out.status.code(), Some(expected), "{rows:?}");
    rows
}

type Row = (u64, Option<String>, Option<u64>, bool);

/// Polls the status (at most 20 s) until `ok` holds; elections may still be settling when a
/// script returns. Panics with the last rows otherwise.
fn status_until(bin: &Path, dir: &Path, what: &str, ok: impl Fn(&[Row]) -> bool) -> Vec<Row> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rows = status(bin, dir);
        if ok(&rows) {
            return rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within 20 s: {rows:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn leaders(rows: &[Row]) -> Vec<u64> {
    rows.iter()
        .filter(|r| r.1.as_deref() == Some("leader"))
        .map(|r| r.0)
        .collect()
}

fn is_dead(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains(") Z"))
        .unwrap_or(true)
}

/// Kills the leader, checks that another node leads, restarts it, checks all are back.
fn kill_and_restart(bin: &Path, dir: &Path, json_tool: Option<&str>) {
    let out = bash(bin, json_tool, "kill-leader.sh", &["--wait", "20"], dir);
    let killed_line = out
        .lines()
        .find(|l| l.starts_with("killed leader node"))
        .unwrap_or_else(|| panic!("no kill reported: {out}"));
    let words: Vec<&str> = killed_line.split_whitespace().collect();
    let killed: u64 = words[3].parse().unwrap();
    let pid: u64 = words[5].trim_end_matches(')').parse().unwrap();
    assert!(
        is_dead(pid),
        "leader pid {pid} still alive after kill-leader.sh"
    );
    let said: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("node ")?.split_once(" leads now"))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or_else(|| panic!("no new leader reported: {out}"));
    assert_ne!(said, killed, "{out}");
    let rows = status_until(bin, dir, "a new leader", |rows| {
        leaders(rows).len() == 1 && !leaders(rows).contains(&killed)
    });
    assert!(
        rows.iter().any(|r| r.0 == killed && !r.3),
        "killed node {killed} still answers: {rows:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("killed-nodes"))
            .unwrap()
            .trim(),
        killed.to_string()
    );

    let out = bash(bin, json_tool, "restart-killed.sh", &["--wait", "30"], dir);
    assert!(
        out.contains(&format!("restarted node {killed} (killed)")),
        "{out}"
    );
    assert!(out.contains("leads; 3 of 3 nodes answer"), "{out}");
    let rows = status_until(bin, dir, "every node back under one leader", |rows| {
        rows.iter().all(|r| r.3) && leaders(rows).len() == 1
    });
    let new_pid = rows.iter().find(|r| r.0 == killed).and_then(|r| r.2);
    assert!(new_pid.is_some_and(|p| p != pid), "{rows:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("killed-nodes")).unwrap(),
        ""
    );
}

#[test]
fn operator_scripts_kill_and_restart_nodes() {
    if Command::new("bash").arg("--version").output().is_err() {
        println!("skipped: bash is not installed, and the operator scripts need it");
        return;
    }
    let bin = cluster_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cluster");
    run(Command::new(&bin)
        .args(["up", "--detach", "--nodes", "3", "--dir"])
        .arg(&dir));
    let _down = Down {
        bin: bin.clone(),
        dir: dir.clone(),
    };

    kill_and_restart(&bin, &dir, None);
    kill_and_restart(&bin, &dir, Some("sed"));

    let out = bash(
        &bin,
        None,
        "kill-random.sh",
        &[
            "--every",
            "0.2",
            "--rounds",
            "2",
            "--restart-after",
            "0.3",
            "--seed",
            "7",
        ],
        &dir,
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(": killed node")).count(),
        2,
        "{out}"
    );
    let out = bash(&bin, None, "restart-killed.sh", &["--wait", "30"], &dir);
    assert!(out.contains("leads; 3 of 3 nodes answer"), "{out}");
}
