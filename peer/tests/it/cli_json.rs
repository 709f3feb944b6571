//! `--json` on every command that prints something (plain objects, states as words, sizes in
//! bytes), `peer daemon --config` (a daemon run from a file; precedence; refusals; the deploy/
//! example), `completions`, and the user unit (`systemd-analyze verify` where installed).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::util::{peer_exe, random_file, start_cluster, Peer};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: not JSON: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_printing_command_speaks_plain_json() {
    let root = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&root.path().join("cluster")).await;
    let mut alice = Peer::signup(root.path(), "alice", &cluster);
    let mut bob = Peer::signup(root.path(), "bob", &cluster);

    assert_eq!(json(&alice.ok(&["--json", "whoami"]))["username"], "alice");
    let stdout = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&String::from_utf8_lossy(&out.stdout))
    };
    let args = ["--json", "user", "create", "carol", "--password-stdin"];
    let created = stdout(alice.command_with_stdin(&args, "pw-carol-123\n"));
    assert_eq!(created["username"], "carol");
    let args = ["--json", "login", "bob", "--password-stdin"];
    assert_eq!(
        stdout(bob.command_with_stdin(&args, "pw-bob-123\n"))["username"],
        "bob"
    );
    let created = json(&alice.ok(&["--json", "group", "create", "g"]));
    assert_eq!(created["group"], "g");
    assert_eq!(created["standing"], "owner");
    let joined = json(&bob.ok(&["--json", "group", "join", "g"]));
    assert_eq!(
        (&joined["username"], &joined["standing"]),
        (&"bob".into(), &"pending".into())
    );
    let accepted = json(&alice.ok(&["--json", "group", "accept", "g", "bob"]));
    assert_eq!(accepted["standing"], "member");
    assert_eq!(accepted["username"], "bob");

    // Bob's daemon runs from a config file (the flags before `daemon` still apply).
    let config = root.path().join("bob-daemon.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\ndownload_limit = \"64M\"\n",
    )
    .unwrap();
    alice.start_daemon(&[]).await;
    bob.start_daemon(&["--config", config.to_str().unwrap(), "--json"])
        .await;
    // With --json the daemon's ready line is an object (its stdout and stderr share the log;
    // the line follows the control socket's start, so it may come a moment after it answers).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ready = loop {
        let log = std::fs::read_to_string(bob.home.join("daemon.log")).unwrap();
        if let Some(line) = log.lines().find(|l| l.starts_with('{')) {
            break json(line);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no JSON ready line in\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(ready["username"], "bob");
    assert!(
        ready["peer_id"]
            .as_str()
            .is_some_and(|id| id.parse::<u64>().is_ok())
            && ready["control_socket"].is_string(),
        "{ready}"
    );

    let file = root.path().join("film.bin");
    random_file(&file, 200_000, 7);
    let up = json(&alice.ok(&[
        "--json",
        "upload",
        "g",
        file.to_str().unwrap(),
        "--chunk-size",
        "65536",
    ]));
    assert_eq!(up["name"], "film.bin");
    assert_eq!(up["size_bytes"], 200_000);
    assert_eq!(up["chunk_count"], 4);
    assert_eq!(up["sha1"].as_str().map(str::len), Some(40));

    let dest = root.path().join("got.bin");
    let done = json(&bob.ok(&[
        "--json",
        "download",
        "g",
        "film.bin",
        dest.to_str().unwrap(),
    ]));
    assert_eq!(done["state"], "complete");
    assert_eq!(done["error"], Value::Null);
    assert_eq!(done["total_bytes"], 200_000);
    assert_eq!(done["chunks_by_peer"][0]["chunks"], 4);
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&file).unwrap());
    let listed = json(&bob.ok(&["--json", "downloads"]));
    assert_eq!(listed[0]["state"], "complete");
    assert_eq!(listed[0]["bytes_done"], 200_000);
    // Peer ids are decimal strings (they exceed 2^53).
    let source = listed[0]["chunks_by_peer"][0]["peer_id"]
        .as_str()
        .unwrap_or_default();
    assert!(source.parse::<u64>().is_ok(), "{listed}");
    // Each source with what it sent and how fast; a finished download has none connected.
    let src = &listed[0]["sources"][0];
    assert_eq!(src["peer_id"], source, "{listed}");
    assert!(
        src["addr"].as_str().is_some_and(|a| a.contains(':')),
        "{listed}"
    );
    assert!(src["bytes_received"].as_u64() >= Some(200_000), "{listed}");
    assert_eq!(src["chunks"], 4, "{listed}");
    assert!(
        src["rtt_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{listed}"
    );
    assert_eq!(src["connected"], false, "{listed}");
    assert_eq!(src["bytes_per_sec"], 0, "{listed}");

    let detached = json(&bob.ok(&[
        "--json",
        "download",
        "g",
        "film.bin",
        root.path().join("again.bin").to_str().unwrap(),
        "--detach",
    ]));
    assert_eq!(detached["state"], "running");
    assert!(detached["id"].is_string(), "{detached}");

    let stopped = json(&alice.ok(&["--json", "stop-share", "g", "film.bin"]));
    assert_eq!(stopped["seeding"], false);
    let left = json(&bob.ok(&["--json", "group", "leave", "g"]));
    assert_eq!(left["standing"], "none");
    assert_eq!(json(&bob.ok(&["--json", "logout"]))["logged_out"], true);
    alice.kill_daemon();
    bob.kill_daemon();
}

fn peer() -> Command {
    let mut cmd = Command::new(peer_exe());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PEER_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// (exit code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

#[test]
fn daemon_config_layers_round_trips_and_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daemon.toml");
    std::fs::write(&file, "trackers = \"a:1\"\nlisten = \"127.0.0.1:7100\"\n").unwrap();
    let print = |cmd: &mut Command| {
        let (code, out, err) = run(cmd);
        assert_eq!(code, 0, "{err}");
        out
    };
    let from_file = print(
        peer()
            .args(["daemon", "--print-config", "--config"])
            .arg(&file),
    );
    assert!(from_file.contains("\ntrackers = \"a:1\"\n"), "{from_file}");
    assert!(
        from_file.contains("\nlisten = \"127.0.0.1:7100\"\n"),
        "{from_file}"
    );
    assert!(
        !from_file.contains("\njson = "),
        "--json is not a setting: {from_file}"
    );
    // The variable beats the file; the global flag (before or after `daemon`) beats the variable.
    let env = print(
        peer()
            .args(["daemon", "--print-config"])
            .env("PEER_CONFIG", &file)
            .env("PEER_TRACKERS", "b:2"),
    );
    assert!(env.contains("\ntrackers = \"b:2\"\n"), "{env}");
    let flag = print(
        peer()
            .args(["--trackers", "c:3", "daemon", "--print-config", "--config"])
            .arg(&file)
            .env("PEER_TRACKERS", "b:2"),
    );
    assert!(flag.contains("\ntrackers = \"c:3\"\n"), "{flag}");
    // The printed text reads back to itself.
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &flag).unwrap();
    let again = print(
        peer()
            .args(["daemon", "--print-config", "--config"])
            .arg(&printed),
    );
    assert_eq!(flag, again);

    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisten_addr = \"x\"\n").unwrap();
    let (code, _, err) = run(peer().args(["daemon", "--config"]).arg(&file));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(":2: unknown key `listen_addr`"), "{err}");
    assert!(err.contains("peer daemon --print-config"), "{err}");

    let example = print(
        peer()
            .args(["daemon", "--print-config", "--config"])
            .arg(deploy_dir().join("peer-daemon.toml")),
    );
    assert!(example.contains("\nupload_limit = \"10M\"\n"), "{example}");
    assert!(
        example.contains("\nca = \"/etc/p2p-tracker/ca.pem\"\n"),
        "{example}"
    );
}

#[test]
fn completions_and_the_exit_codes_in_the_help() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, out, err) = run(peer().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("download") && out.contains("stop-share"),
            "{shell}"
        );
    }
    let (code, out, _) = run(peer().arg("--help"));
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit codes: 0") && out.contains("--log-format"),
        "{out}"
    );
}

#[test]
fn the_user_unit_verifies_where_systemd_analyze_is_installed() {
    let Some(tool) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("systemd-analyze"))
            .find(|p| p.is_file())
    }) else {
        eprintln!("systemd-analyze is not installed: the unit is not verified");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(deploy_dir().join("peer-daemon.service")).unwrap();
    let exec = "ExecStart=/usr/local/bin/peer daemon --config %h/.config/p2p-peer/daemon.toml";
    assert!(unit.contains(exec), "{unit}");
    // verify checks that the binary exists, so point it at the one under test.
    let unit = unit.replace("/usr/local/bin/peer", peer_exe().to_str().unwrap());
    let path = dir.path().join("peer-daemon.service");
    std::fs::write(&path, unit).unwrap();
    // A user manager needs a runtime directory; the test's own will do.
    let (code, out, err) = run(Command::new(tool)
        .args(["--user", "verify"])
        .arg(&path)
        .env("XDG_RUNTIME_DIR", dir.path()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.trim().is_empty() && out.trim().is_empty(), "{out}{err}");
}
