//! `peer shell` driven through stdin as a script: the session keeps its global flags, runs the
//! CLI's commands and aliases line by line, prints an error and goes on, stops at `exit`, and
//! exits with the code of the last command that failed.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::util::{peer_exe, random_file, same_bytes, start_cluster, Peer};

/// Runs `peer --home HOME shell` with `script` on stdin; kills it (by its own PID) if it has not
/// ended within `limit`.
fn run_shell(home: &Path, script: &str, limit: Duration) -> Output {
    let mut child = Command::new(peer_exe())
        .arg("--home")
        .arg(home)
        .arg("shell")
        .env_remove("PEER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let script = script.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(script.as_bytes());
    });
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            out
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("peer shell still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap();
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_script_without_a_tracker_help_refusals_and_usage_errors() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let script = "help\nhelp fetch\nupload\ndaemon\nshell\nfiles \"open\nexit\nhelp\n";
    let out = run_shell(&home, script, Duration::from_secs(30));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // The shell's help once (the second `help` is after `exit`), with the aliases it added.
    assert_eq!(stdout.matches("Aliases:").count(), 1, "{stdout}");
    assert!(
        stdout.contains("  publish, announce = upload\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  request = group join\n"), "{stdout}");
    // `help fetch` is clap's help of `download`.
    assert!(stdout.contains("Usage: peer download"), "{stdout}");
    // No prompt, no banner: only what the commands print.
    assert!(
        !stdout.contains("peer>") && !stderr.contains("peer shell:"),
        "{stdout}{stderr}"
    );
    assert!(
        stderr.contains("the following required arguments were not provided"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`peer daemon` runs in its own terminal"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`peer shell` does not run inside a shell"),
        "{stderr}"
    );
    assert!(stderr.contains("unbalanced quotes"), "{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // A script is not an editing session: no history is written.
    assert!(!home.join("shell-history").exists());

    let out = run_shell(&home, "help\n", Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_logs_in_shares_lists_survives_errors_and_downloads() {
    let root = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&root.path().join("cluster")).await;
    let mut alice = Peer::signup(root.path(), "alice", &cluster);
    alice.ok(&["group", "create", "g", "--open"]);
    alice.start_daemon(&[]).await;
    let a_src = root.path().join("a.bin");
    random_file(&a_src, 1_300_000, 31);
    alice.ok(&["upload", "g", a_src.to_str().unwrap()]);
    let mut bob = Peer::signup(root.path(), "bob", &cluster);
    bob.start_daemon(&[]).await;

    let files = root.path().join("bob files");
    std::fs::create_dir_all(&files).unwrap();
    let b_src = files.join("b file.bin");
    random_file(&b_src, 700_000, 32);
    let dest = files.join("a copy.bin");
    let script = format!(
        "login bob --password-stdin\n\
         {password}\n\
         whoami\n\
         group create bobs\n\
         publish bobs \"{b_src}\"\n\
         files bobs\n\
         request g\n\
         frobnicate\n\
         files no-such-group\n\
         fetch g a.bin '{dest}'\n\
         downloads\n\
         exit\n\
         whoami\n",
        password = bob.password_text(),
        b_src = b_src.display(),
        dest = dest.display(),
    );
    let out = run_shell(&bob.home, &script, Duration::from_secs(120));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"logged in as bob"), "{stdout}\n{stderr}");
    // `whoami` ran once: the one after `exit` did not.
    assert_eq!(lines.iter().filter(|l| **l == "bob").count(), 1, "{stdout}");
    assert!(
        stdout.contains("shared b file.bin in bobs"),
        "{stdout}\n{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("b file.bin ") && l.contains("683.6 KiB")),
        "{stdout}"
    );
    assert!(stdout.contains("downloaded a.bin to"), "{stdout}\n{stderr}");
    assert!(lines.contains(&"[C] g a.bin"), "{stdout}");
    assert!(same_bytes(&a_src, &dest));
    // The two bad lines: each one error, and the session went on past them.
    assert!(
        stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("peer: error:") && l.contains("no-such-group")),
        "{stderr}"
    );
    // bob joined the open group through `request`: it has two members now.
    let groups = alice.ok(&["--json", "group", "list"]);
    let groups: serde_json::Value = serde_json::from_str(&groups).unwrap();
    let g = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "g")
        .unwrap_or_else(|| panic!("no group g: {groups}"));
    assert_eq!(g["members"], 2, "{g}");
    // The last command that failed was `files no-such-group`: a runtime error, exit code 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}
