//! Uploading content the group has already under another name: `peer upload` warns, names the
//! existing file and seeds it from the new path (the uploader shows as its source, no second
//! file is listed); `--as-new` registers a second file; the HTTP route does the same with
//! `as_new`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::openapi_check::Api;
use super::util::{group_with, random_file};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: not JSON: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_upload_seeds_the_existing_file_unless_as_new() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut members) = group_with(root.path(), &["bob"]).await;
    let mut bob = members.remove(0);
    alice.start_daemon(&[]).await;
    bob.start_daemon(&[]).await;
    let src = root.path().join("orig.bin");
    random_file(&src, 900_000, 11);
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    // Bob's copy under another name, cut in other chunks: the same content all the same.
    let copy = root.path().join("copy.bin");
    std::fs::copy(&src, &copy).unwrap();
    let out = bob.run(&[
        "--json",
        "upload",
        "g",
        copy.to_str().unwrap(),
        "--chunk-size",
        "65536",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains("warning") && warned.contains("orig.bin") && warned.contains("--as-new"),
        "{warned}"
    );
    let shared = json_of(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        (&shared["name"], &shared["existing"]),
        (&json!("orig.bin"), &json!(true))
    );
    let files = json_of(&alice.ok(&["--json", "files", "g"]));
    let names: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["orig.bin"], "no second file");
    let sources = json_of(&alice.ok(&["--json", "sources", "g", "orig.bin"]));
    let mut holders: Vec<(String, u64)> = sources
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["username"].as_str().unwrap_or("").to_string(),
                r["chunks_held"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    holders.sort();
    assert_eq!(holders, [("alice".into(), 2), ("bob".into(), 2)]);
    // Bob really serves it: with alice's daemon stopped, a third home downloads from bob alone.
    alice.kill_daemon();
    let dest = root.path().join("from-bob.bin");
    let mut carol = super::util::Peer::signup(root.path(), "carol", &_cluster);
    carol.ok(&["group", "join", "g"]);
    alice.ok(&["group", "accept", "g", "carol"]);
    carol.start_daemon(&[]).await;
    carol.ok(&["download", "g", "orig.bin", dest.to_str().unwrap()]);
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&src).unwrap());

    // --as-new: a second file.
    let out = bob.ok(&["upload", "g", copy.to_str().unwrap(), "--as-new"]);
    assert!(out.contains("shared copy.bin"), "{out}");
    // Over HTTP: the same content under a third name seeds the existing one; as_new registers.
    // Every reply checked against openapi.json.
    let api = Api::of(&bob);
    let third = root.path().join("third.bin");
    std::fs::copy(&src, &third).unwrap();
    let r = api
        .post("/api/v1/groups/g/files", json!({ "path": third }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(r.json()["existing"], true);
    assert!(
        ["orig.bin", "copy.bin"].contains(&r.json()["name"].as_str().unwrap()),
        "{:?}",
        r.json()
    );
    let r = api
        .post(
            "/api/v1/groups/g/files",
            json!({ "path": third, "as_new": true }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    assert_eq!(
        (&r.json()["name"], &r.json()["existing"]),
        (&json!("third.bin"), &json!(false))
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let names = loop {
        let files = json_of(&bob.ok(&["--json", "files", "g"]));
        let mut names: Vec<String> = files
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["name"].as_str().map(String::from))
            .collect();
        names.sort();
        if names.len() == 3 || Instant::now() > deadline {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(names, ["copy.bin", "orig.bin", "third.bin"]);
}
