//! The `tracker` binary's command line as a separate process: `--config` and `--print-config`
//! (round trip, precedence, refusals), the deploy/ example, `completions`, and the systemd unit
//! (checked with `systemd-analyze verify` where the tool is installed).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tracker() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracker"));
    // Only the variables a test sets reach the process.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TRACKER_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// `tracker ARGS --print-config`: the printed TOML (exit 0 asserted).
fn printed(cmd: &mut Command) -> String {
    let (code, out, err) = run(cmd.arg("--print-config"));
    assert_eq!(code, 0, "{err}");
    out
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

const FLAGS: [&str; 18] = [
    "--id",
    "2",
    "--data-dir",
    "/var/lib/t 2",
    "--api-addr",
    "127.0.0.1:7000",
    "--raft-addr",
    "127.0.0.1:7001",
    "--tls-cert",
    "n.pem",
    "--tls-key",
    "n.key",
    "--ca",
    "ca.pem",
    "--sled-cache-mb",
    "8",
    "--log-format",
    "json",
];

#[test]
fn print_config_reads_back_to_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let first = printed(
        tracker()
            .args(FLAGS)
            .env("TRACKER_SESSION_TTL_SECS", "77")
            .env("TRACKER_INITIAL_CLUSTER", "2=127.0.0.1:7000/127.0.0.1:7001"),
    );
    for line in [
        "id = 2",
        "data_dir = \"/var/lib/t 2\"",
        "sled_cache_mb = 8",
        "session_ttl_secs = 77",
        "heartbeat_ms = 40",
        "log_format = \"json\"",
        "initial_cluster = \"2=127.0.0.1:7000/127.0.0.1:7001\"",
        "# raft_listen is not set",
    ] {
        assert!(
            first.lines().any(|l| l == line),
            "{line:?} missing in\n{first}"
        );
    }
    let file = dir.path().join("tracker.toml");
    std::fs::write(&file, &first).unwrap();
    let second = printed(tracker().arg("--config").arg(&file));
    assert_eq!(first, second);
    // The variable names the file as --config does.
    let third = printed(tracker().env("TRACKER_CONFIG", &file));
    assert_eq!(first, third);
}

#[test]
fn a_flag_beats_its_variable_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(&file, "id = 5\nheartbeat_ms = 50\nelection_min_ms = 300\n").unwrap();
    let value = |text: &str, key: &str| -> String {
        let prefix = format!("{key} = ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
            .to_string()
    };
    let file_only = printed(tracker().arg("--config").arg(&file));
    assert_eq!(value(&file_only, "heartbeat_ms"), "50");
    assert_eq!(value(&file_only, "election_max_ms"), "140");
    let env = printed(
        tracker()
            .arg("--config")
            .arg(&file)
            .env("TRACKER_HEARTBEAT_MS", "60"),
    );
    assert_eq!(value(&env, "heartbeat_ms"), "60");
    assert_eq!(value(&env, "election_min_ms"), "300");
    let flag = printed(
        tracker()
            .args(["--heartbeat-ms", "70", "--id", "6", "--config"])
            .arg(&file)
            .env("TRACKER_HEARTBEAT_MS", "60"),
    );
    assert_eq!(value(&flag, "heartbeat_ms"), "70");
    assert_eq!(value(&flag, "id"), "6");
}

#[test]
fn a_bad_config_file_is_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    let path = file.display().to_string();
    let cases = [
        ("id = 1\nheartbeat = 40\n", "2: unknown key `heartbeat`"),
        (
            "id = 1\n\nmax_connections = 0\n",
            "3: `max_connections`: invalid value '0'",
        ),
        (
            "log_format = \"xml\"\n",
            "1: `log_format`: invalid value 'xml'",
        ),
        ("id = [1]\n", "1: `id`: takes one value"),
    ];
    for (text, want) in cases {
        std::fs::write(&file, text).unwrap();
        let (code, out, err) = run(tracker().arg("--config").arg(&file).args(&FLAGS[..2]));
        assert_eq!(code, 2, "{text:?}: {err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains(&format!("{path}:{want}")), "{text:?}: {err}");
    }
    std::fs::write(&file, "id = = 1\n").unwrap();
    let (code, _, err) = run(tracker().arg("--config").arg(&file));
    assert_eq!(code, 2);
    assert!(
        err.contains("not valid TOML") && err.contains("line 1"),
        "{err}"
    );
    let (code, _, err) = run(tracker().arg("--config").arg(dir.path().join("none.toml")));
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the config file"), "{err}");
    // Without a file the required flags are required (clap's usage error).
    let (code, _, err) = run(&mut tracker());
    assert_eq!(code, 2);
    assert!(err.contains("--id <ID>"), "{err}");
}

#[test]
fn the_deploy_example_is_a_valid_config() {
    let file = deploy_dir().join("tracker.toml");
    let out = printed(tracker().arg("--config").arg(&file));
    for line in [
        "id = 1",
        "data_dir = \"/var/lib/p2p-tracker\"",
        "tls_cert = \"/etc/p2p-tracker/node-1.pem\"",
        "log_format = \"json\"",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing in\n{out}");
    }
}

#[test]
fn completions_are_printed_for_every_shell_without_node_flags() {
    for (shell, marker) in [
        ("bash", "_tracker()"),
        ("zsh", "#compdef tracker"),
        ("fish", "complete -c tracker"),
        ("elvish", "edit:completion:arg-completer[tracker]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (code, out, err) = run(tracker().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: {out}");
        assert!(out.contains("heartbeat-ms"), "{shell}");
    }
    let (code, _, err) = run(tracker().args(["completions", "tcsh"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_help_lists_the_exit_codes_and_the_config_flags() {
    let (code, out, _) = run(tracker().arg("--help"));
    assert_eq!(code, 0);
    for want in [
        "Exit codes: 0",
        "--config <FILE>",
        "--print-config",
        "completions",
    ] {
        assert!(out.contains(want), "{want:?} missing in\n{out}");
    }
}

#[test]
fn the_systemd_unit_verifies_where_systemd_analyze_is_installed() {
    let Some(tool) = systemd_analyze() else {
        eprintln!("systemd-analyze is not installed: the unit is not verified");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The unit names the installed binary; verify checks that it exists, so point it here.
    let unit = std::fs::read_to_string(deploy_dir().join("tracker.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/tracker --config /etc/p2p-tracker/tracker.toml")
    );
    let unit = unit.replace("/usr/local/bin/tracker", env!("CARGO_BIN_EXE_tracker"));
    let path = dir.path().join("tracker.service");
    std::fs::write(&path, unit).unwrap();
    let (code, out, err) = run(Command::new(tool).arg("verify").arg(&path));
    assert_eq!(code, 0, "{out}{err}");
    // verify only warns about unknown keys and bad values: it must say nothing.
    assert!(err.trim().is_empty() && out.trim().is_empty(), "{out}{err}");
}

fn systemd_analyze() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("systemd-analyze"))
        .find(|p| p.is_file())
}
