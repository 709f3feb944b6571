//! `peer shell` driven through stdin as a script: the session keeps its global flags, runs the
//! CLI's commands and aliases line by line, prints an error and goes on, stops at `exit`, and
//! exits with the code of the last command that failed. On a terminal (a pseudo-terminal from
//! util-linux `script`): the prompt names the logged-in user, Ctrl-C drops the line, Ctrl-D ends
//! the session, and the history file keeps the lines run (mode 0600).

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

/// What `peer shell` on a terminal shows, read as it comes.
struct Screen {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    text: String,
}

impl Screen {
    /// Waits, at most 20 s, until `what` has been shown `count` times.
    fn wait_for(&mut self, what: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.text.matches(what).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("{what:?} not shown {count} times: {}", self.text),
            }
        }
    }
}

#[test]
fn on_a_terminal_the_prompt_names_the_user_ctrl_c_clears_and_history_is_kept() {
    use std::os::unix::fs::PermissionsExt;

    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    // A session on the home, as `peer login` leaves one (no tracker is asked in this test).
    peer::home::Home::open(&home)
        .unwrap()
        .save_session(&peer::home::Session {
            username: "alice".into(),
            token: proto::tracker_msg::SessionToken::from_bytes([7; 32]),
        })
        .unwrap();
    let peer_cmd = shlex::try_join([
        peer_exe().to_str().unwrap(),
        "--home",
        home.to_str().unwrap(),
        "shell",
    ])
    .unwrap();
    // util-linux `script` runs it on a pseudo-terminal; -e passes its exit code on.
    let mut child = Command::new("script")
        .args(["-qec", &peer_cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux `script` runs the shell on a terminal");
    let mut keys = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Screen {
        chunks: rx,
        text: String::new(),
    };
    let prompt = "peer alice> ";
    let mut type_line = |keys_in: &[u8], prompts: usize, screen: &mut Screen| {
        screen.wait_for(prompt, prompts);
        keys.write_all(keys_in).unwrap();
        keys.flush().unwrap();
    };
    // Ctrl-C drops the half-typed line; Enter runs a line; Ctrl-D ends the session.
    type_line(b"files half-typed\x03", 1, &mut screen);
    type_line(b"help\r", 2, &mut screen);
    type_line(b"bogus\r", 3, &mut screen);
    type_line(b"\x04", 4, &mut screen);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("peer shell did not end on Ctrl-D: {}", screen.text);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap();
    while let Ok(chunk) = screen.chunks.try_recv() {
        screen.text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(screen.text.contains("Aliases:"), "{}", screen.text);
    assert!(
        screen.text.contains("unrecognized subcommand"),
        "{}",
        screen.text
    );
    assert_eq!(status.code(), Some(2), "{}", screen.text);
    let history = home.join("shell-history");
    let lines: Vec<String> = std::fs::read_to_string(&history)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines, ["#V2", "help", "bogus"]);
    let mode = std::fs::metadata(&history).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
