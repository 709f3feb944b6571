//! The owner's say over a group, through the real binaries: a refused join request leaves the
//! user outside (free to ask again), a removed member loses the file list and the sources at
//! once, and their download stops when its ticket expires; an open group is joined without
//! acceptance; only the owner may refuse or remove.

use std::path::Path;
use std::time::{Duration, Instant};

use cluster::process::tracker_program;
use cluster::LocalCluster;
use peer::control::DownloadState;
use proto::tracker_msg::{PageRequest, ReadRequest, Response, SessionToken};
use proto::{ApiError, TrackerClient};
use serde_json::Value;

use super::util::{cluster_exe, group_with, random_file, same_bytes, Peer};

/// The sources of `g/shared.bin` as the holder of `token` sees them; with `peer_id`, with a
/// ticket for that peer.
async fn sources(
    client: &TrackerClient,
    token: SessionToken,
    peer_id: Option<u64>,
) -> Result<usize, ApiError> {
    match client
        .read(ReadRequest::FileSources {
            token,
            group: "g".into(),
            name: "shared.bin".into(),
            peer_id,
            include_offline: false,
            page: PageRequest::default(),
        })
        .await?
    {
        Response::Sources { sources, .. } => Ok(sources.len()),
        other => panic!("{other:?}"),
    }
}

/// `name`'s row in `who`'s `--json group list`.
fn listed(who: &Peer, name: &str) -> Value {
    let rows: Value = serde_json::from_str(&who.ok(&["--json", "group", "list"])).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {rows}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_refuses_a_request_and_the_user_stays_out_until_accepted() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, alice, members) = group_with(root.path(), &["bob"]).await;
    let bob = &members[0];
    let carol = Peer::signup(root.path(), "carol", &cluster);
    carol.ok(&["group", "join", "g"]);
    let err = bob.fails(&["group", "reject", "g", "carol"]);
    assert!(err.contains("only the owner"), "{err}");
    let out = alice.ok(&["--json", "group", "reject", "g", "carol"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (&json["username"], &json["standing"]),
        (&"carol".into(), &"none".into())
    );
    let reqs: Vec<String> =
        serde_json::from_str(&alice.ok(&["--json", "group", "requests", "g"])).unwrap();
    assert!(reqs.is_empty(), "{reqs:?}");
    let row = listed(&carol, "g");
    assert_eq!(
        (&row["member"], &row["pending"]),
        (&false.into(), &false.into())
    );
    let err = carol.fails(&["files", "g"]);
    assert!(err.contains("not a member"), "{err}");
    let err = alice.fails(&["group", "reject", "g", "carol"]);
    assert!(err.contains("no pending join request"), "{err}");
    // Refused once, carol may ask again, and then be let in.
    carol.ok(&["group", "join", "g"]);
    assert_eq!(listed(&carol, "g")["pending"], true);
    alice.ok(&["group", "accept", "g", "carol"]);
    assert!(carol.ok(&["files", "g"]).contains("NAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_loses_the_list_and_the_sources_at_once() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, mut alice, members) = group_with(root.path(), &["bob"]).await;
    let bob = &members[0];
    alice.start_daemon(&[]).await;
    let f = root.path().join("shared.bin");
    random_file(&f, 100_000, 4);
    alice.ok(&["upload", "g", f.to_str().unwrap()]);
    let client = TrackerClient::new(cluster.user_config()).unwrap();
    let bob_token = Peer::token_of(bob);
    assert_eq!(sources(&client, bob_token, None).await, Ok(1));

    let err = bob.fails(&["group", "remove", "g", "alice"]);
    assert!(err.contains("only the owner"), "{err}");
    let err = alice.fails(&["group", "remove", "g", "alice"]);
    assert!(err.contains("cannot remove themself"), "{err}");
    let out = alice.ok(&["group", "remove", "g", "bob"]);
    assert!(out.contains("bob removed from g"), "{out}");

    let err = bob.fails(&["files", "g"]);
    assert!(err.contains("not a member"), "{err}");
    assert_eq!(
        sources(&client, bob_token, None).await,
        Err(ApiError::NotMember("g".into()))
    );
    // No ticket either, for any peer of bob's.
    assert_eq!(
        sources(&client, bob_token, Some(1)).await,
        Err(ApiError::NotMember("g".into()))
    );
    let row = listed(bob, "g");
    assert_eq!(
        (&row["member"], &row["members"]),
        (&false.into(), &1.into())
    );
    let err = alice.fails(&["group", "remove", "g", "bob"]);
    assert!(err.contains("not a member"), "{err}");
    // The owner still sees the file and its source.
    assert_eq!(sources(&client, Peer::token_of(&alice), None).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_group_is_joined_without_acceptance() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, alice, _) = group_with(root.path(), &[]).await;
    let out = alice.ok(&["group", "create", "club", "--open"]);
    assert!(out.contains("open group club created"), "{out}");
    let carol = Peer::signup(root.path(), "carol", &cluster);
    assert_eq!(listed(&carol, "club")["open"], true);
    assert_eq!(listed(&carol, "g")["open"], false);
    let text = carol.ok(&["group", "list"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("club") && l.contains(" open ")),
        "{text}"
    );
    let json: Value =
        serde_json::from_str(&carol.ok(&["--json", "group", "join", "club"])).unwrap();
    assert_eq!(json["standing"], "member");
    let row = listed(&carol, "club");
    assert_eq!(
        (&row["member"], &row["pending"], &row["members"]),
        (&true.into(), &false.into(), &2.into())
    );
    assert!(carol.ok(&["files", "club"]).contains("NAME"));
    let reqs: Vec<String> =
        serde_json::from_str(&alice.ok(&["--json", "group", "requests", "club"])).unwrap();
    assert!(reqs.is_empty());
    let err = carol.fails(&["group", "join", "club"]);
    assert!(err.contains("already a member"), "{err}");
    // A closed group still waits for the owner.
    let out = carol.ok(&["group", "join", "g"]);
    assert!(out.contains("join request for g sent"), "{out}");
}

/// A 3-node cluster whose download tickets last `ttl_secs`.
async fn cluster_with_ticket_ttl(dir: &Path, ttl_secs: &str) -> LocalCluster {
    let specs = LocalCluster::plan(dir, 3, None).unwrap();
    let args = vec!["--ticket-ttl-secs".to_string(), ttl_secs.to_string()];
    let mut c = LocalCluster::new(dir, specs, args, false).unwrap();
    c.program = tracker_program(Some(cluster_exe()));
    c.start_all().unwrap();
    c.wait_leader(Duration::from_secs(30)).await.unwrap();
    c.wait_converged(Duration::from_secs(30)).await.unwrap();
    c
}

/// Tickets last 2 s here and alice's uploads are slow, so each download outlives several
/// tickets: a member's goes on to the end (each cut connection comes back with the fresh ticket
/// the downloader keeps fetching), a removed member's stops within a ticket's life and does not
/// start again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_download_stops_when_its_ticket_expires() {
    let root = tempfile::tempdir().unwrap();
    let cluster = cluster_with_ticket_ttl(&root.path().join("cluster"), "2").await;
    let mut alice = Peer::signup(root.path(), "alice", &cluster);
    alice.ok(&["group", "create", "g"]);
    let mut bob = Peer::signup(root.path(), "bob", &cluster);
    bob.ok(&["group", "join", "g"]);
    alice.ok(&["group", "accept", "g", "bob"]);
    alice.start_daemon(&["--upload-limit", "1M"]).await;
    bob.start_daemon(&[]).await;
    let (first, second) = (
        root.path().join("first.bin"),
        root.path().join("second.bin"),
    );
    random_file(&first, 5 << 20, 11);
    random_file(&second, 16 << 20, 12);
    alice.ok(&["upload", "g", first.to_str().unwrap()]);
    alice.ok(&["upload", "g", second.to_str().unwrap()]);
    let downloads = root.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();

    let dest = downloads.join("first.bin");
    let started = Instant::now();
    bob.ok(&[
        "download",
        "g",
        "first.bin",
        dest.to_str().unwrap(),
        "--detach",
    ]);
    bob.wait_complete("first.bin", Duration::from_secs(60))
        .await;
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the download must outlive a ticket to show anything: {:?}",
        started.elapsed()
    );
    assert!(same_bytes(&first, &dest));

    let dest = downloads.join("second.bin");
    bob.ok(&[
        "download",
        "g",
        "second.bin",
        dest.to_str().unwrap(),
        "--detach",
    ]);
    bob.wait_progress("second.bin", 0.05, Duration::from_secs(30))
        .await;
    alice.ok(&["group", "remove", "g", "bob"]);
    // Within a ticket's life (plus a chunk in flight) the connection is cut ...
    tokio::time::sleep(Duration::from_secs(4)).await;
    let stopped = bob.download_info("second.bin").await.unwrap();
    // ... and no fresh ticket brings it back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = bob.download_info("second.bin").await.unwrap();
    assert_ne!(later.state, DownloadState::Complete);
    assert_eq!(
        later.bytes_done, stopped.bytes_done,
        "a removed member kept downloading: {stopped:?} then {later:?}"
    );
    assert!(later.bytes_done < later.total_bytes);
    bob.kill_daemon();
    alice.kill_daemon();
}
