//! The command line contract: accounts, groups, every refusal as one clear line and exit code 1.

use super::util::{group_with, random_file, Peer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_groups_and_refusals() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, alice, _) = group_with(root.path(), &[]).await;
    let bob = Peer::signup(root.path(), "bob", &cluster);

    assert_eq!(alice.ok(&["whoami"]).lines().next(), Some("alice"));
    // Wrong password: one line, says what is wrong.
    let out = bob.command_with_stdin(&["login", "bob", "--password-stdin"], "wrong-password\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad credentials"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Not a member: no file list, and a hint.
    let err = bob.fails(&["files", "g"]);
    assert!(
        err.contains("not a member") && err.contains("peer group join"),
        "{err}"
    );
    let err = bob.fails(&["group", "join", "nope"]);
    assert!(err.contains("no group named \"nope\""), "{err}");
    bob.ok(&["group", "join", "g"]);
    let listed: serde_json::Value =
        serde_json::from_str(&bob.ok(&["--json", "group", "list"])).unwrap();
    assert_eq!(listed[0]["pending"], true);
    let err = bob.fails(&["group", "requests", "g"]);
    assert!(err.contains("only the owner"), "{err}");
    let err = bob.fails(&["group", "accept", "g", "bob"]);
    assert!(err.contains("only the owner"), "{err}");
    let reqs: Vec<String> =
        serde_json::from_str(&alice.ok(&["--json", "group", "requests", "g"])).unwrap();
    assert_eq!(reqs, vec!["bob".to_string()]);
    alice.ok(&["group", "accept", "g", "bob"]);
    assert!(bob.ok(&["files", "g"]).contains("NAME"));

    // Commands that need the daemon say so.
    let err = bob.fails(&["downloads"]);
    assert!(
        err.contains("daemon is not running") && err.contains("peer daemon"),
        "{err}"
    );
    let f = root.path().join("x.bin");
    random_file(&f, 1000, 1);
    let err = bob.fails(&["upload", "g", f.to_str().unwrap()]);
    assert!(err.contains("daemon is not running"), "{err}");

    // Logged out: told to log in.
    bob.ok(&["logout"]);
    let err = bob.fails(&["group", "list"]);
    assert!(err.contains("peer login"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_rules_and_stop_share() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, _) = group_with(root.path(), &[]).await;
    alice.start_daemon(&[]).await;
    let f = root.path().join("data.bin");
    random_file(&f, 300_000, 2);
    let out = alice.ok(&["upload", "g", f.to_str().unwrap(), "--chunk-size", "65536"]);
    assert!(out.contains("5 chunks"), "{out}");
    // Same name, other content: refused.
    let g = root.path().join("other.bin");
    random_file(&g, 300_000, 3);
    let err = alice.fails(&[
        "upload",
        "g",
        g.to_str().unwrap(),
        "--name",
        "data.bin",
        "--chunk-size",
        "65536",
    ]);
    assert!(err.contains("already has a different file"), "{err}");
    // A name that is not a plain file name: refused.
    let err = alice.fails(&["upload", "g", g.to_str().unwrap(), "--name", "../evil"]);
    assert!(err.contains("not allowed"), "{err}");
    let files: serde_json::Value =
        serde_json::from_str(&alice.ok(&["--json", "files", "g"])).unwrap();
    assert_eq!(files[0]["name"], "data.bin");
    assert_eq!(files[0]["seeders"], 1);
    alice.ok(&["stop-share", "g", "data.bin"]);
    let files: serde_json::Value =
        serde_json::from_str(&alice.ok(&["--json", "files", "g"])).unwrap();
    assert_eq!(files[0]["seeders"], 0);
}
