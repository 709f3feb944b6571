//! `peer find SHA1` on a live cluster: the files with that content in the caller's groups, with
//! their seeders, and none of a group the caller is not a member of.

use serde_json::Value;

use super::util::{group_with, random_file, Peer};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: not JSON: {text}"))
}

/// (group, name, seeders) of `peer --json find SHA1` as `p` runs it.
fn found(p: &Peer, sha1: &str) -> Vec<(String, String, u64)> {
    json(&p.ok(&["--json", "find", sha1]))
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            (
                f["group"].as_str().unwrap_or("").to_string(),
                f["name"].as_str().unwrap_or("").to_string(),
                f["seeders"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_lists_the_content_in_the_callers_groups_only() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, mut alice, _) = group_with(root.path(), &[]).await;
    let mut carol = Peer::signup(root.path(), "carol", &cluster);
    carol.ok(&["group", "create", "secret"]);
    alice.start_daemon(&[]).await;
    carol.start_daemon(&[]).await;
    let src = root.path().join("f.bin");
    random_file(&src, 300_000, 3);
    let up = json(&alice.ok(&["--json", "upload", "g", src.to_str().unwrap()]));
    let sha1 = up["sha1"].as_str().unwrap().to_string();
    carol.ok(&[
        "upload",
        "secret",
        src.to_str().unwrap(),
        "--name",
        "hidden.bin",
    ]);
    let other = root.path().join("other.bin");
    random_file(&other, 1000, 4);
    alice.ok(&["upload", "g", other.to_str().unwrap()]);

    assert_eq!(found(&alice, &sha1), [("g".into(), "f.bin".into(), 1)]);
    assert_eq!(
        found(&carol, &sha1),
        [("secret".into(), "hidden.bin".into(), 1)]
    );
    let json_row = &json(&alice.ok(&["--json", "find", &sha1]))[0];
    assert_eq!(json_row["size_bytes"], 300_000);
    let table = alice.ok(&["find", &sha1.to_uppercase()]);
    assert!(
        table.contains("f.bin") && !table.contains("hidden"),
        "{table}"
    );
    assert!(found(&alice, &"0".repeat(40)).is_empty());
    let refused = alice.fails(&["find", "xyz"]);
    assert!(refused.contains("not a SHA-1"), "{refused}");
}
