//! Unpublishing and accounts, through the real binaries: a file the group's owner unpublishes
//! is gone from the listings, refused to a new downloader with a clear message, and no longer
//! served by its seeder even to a ticket fetched before; a member who is neither its uploader
//! nor the owner is refused; a running download of it fails with "GROUP/NAME was
//! unpublished". Accounts carry a display name (checked before anything is sent), and
//! `whoami --json` shows it with the creation and last-login times; `group list` shows the
//! owner's display name.

use std::time::{Duration, Instant};

use peer::control::DownloadState;
use proto::peer_msg::PeerFrame;
use proto::ticket::SignedTicket;
use proto::tracker_msg::{PageRequest, ReadRequest, Response, SessionToken, WriteOp};
use proto::TrackerClient;
use serde_json::Value;

use super::tickets::{handshake, identity_at};
use super::util::{group_with, random_file, start_cluster, Peer};

/// A ticket for `g/shared.bin` naming peer `peer_id`'s key, and the address of its one source.
async fn ticket_and_source(
    client: &TrackerClient,
    token: SessionToken,
    peer_id: u64,
) -> (SignedTicket, String) {
    match client
        .read(ReadRequest::FileSources {
            token,
            group: "g".into(),
            name: "shared.bin".into(),
            peer_id: Some(peer_id),
            include_offline: false,
            page: PageRequest::default(),
        })
        .await
        .unwrap()
    {
        Response::Sources {
            sources,
            ticket: Some(ticket),
            ..
        } => (ticket, sources[0].addr.clone()),
        other => panic!("{other:?}"),
    }
}

/// The names in `who`'s `--json files g`.
fn listed_files(who: &Peer) -> Vec<String> {
    let rows: Value = serde_json::from_str(&who.ok(&["--json", "files", "g"])).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpublished_file_is_gone_refused_and_no_longer_served() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, alice, mut members) = group_with(root.path(), &["bob", "carol"]).await;
    let carol = members.pop().unwrap();
    let mut bob = members.pop().unwrap();
    bob.start_daemon(&[]).await;
    let f = root.path().join("shared.bin");
    random_file(&f, 300_000, 21);
    bob.ok(&["upload", "g", f.to_str().unwrap()]);
    assert_eq!(listed_files(&carol), ["shared.bin"]);

    // A downloader of carol's (this test's side) holds a ticket fetched before the unpublish,
    // and the seeder welcomes it.
    let client = TrackerClient::new(cluster.user_config()).unwrap();
    let token = Peer::token_of(&carol);
    let mine = identity_at(&root.path().join("tool"));
    client
        .write(WriteOp::RegisterPeer {
            token,
            peer_id: 778,
            addr: "127.0.0.1:9".into(),
            peer_key: mine.public_key,
        })
        .await
        .unwrap();
    let (ticket, addr) = ticket_and_source(&client, token, 778).await;
    let bob_key = identity_at(&bob.home).public_key;
    assert_eq!(
        handshake(&mine, &addr, bob_key, ticket.clone()).await,
        PeerFrame::Welcome
    );

    // Carol is a member but neither the uploader nor the owner: refused, nothing changes.
    let err = carol.fails(&["unpublish", "g", "shared.bin"]);
    assert!(
        err.contains("uploader (bob)") && err.contains("owner (alice)"),
        "{err}"
    );
    assert_eq!(listed_files(&carol), ["shared.bin"]);

    // The owner unpublishes bob's file (bob's daemon hears of it from no one but the tracker).
    let json: Value =
        serde_json::from_str(&alice.ok(&["--json", "unpublish", "g", "shared.bin"])).unwrap();
    assert_eq!(
        (&json["group"], &json["name"], &json["unpublished"]),
        (&"g".into(), &"shared.bin".into(), &true.into())
    );
    assert!(listed_files(&carol).is_empty());
    assert!(listed_files(&bob).is_empty());
    let err = carol.fails(&["sources", "g", "shared.bin"]);
    assert!(err.contains("unpublished"), "{err}");
    let err = carol.fails(&["unpublish", "g", "shared.bin"]);
    assert!(err.contains("no file named"), "{err}");

    // A new downloader is refused with the reason.
    let mut carol = carol;
    carol.start_daemon(&[]).await;
    let dest = root.path().join("carol.bin");
    let err = carol.fails(&["download", "g", "shared.bin", dest.to_str().unwrap()]);
    assert!(err.contains("never shared, or unpublished"), "{err}");
    assert!(!dest.exists());

    // The seeder refuses the ticket fetched before (once its last "still published" has
    // aged, a couple of seconds) and drops the share.
    let deadline = Instant::now() + Duration::from_secs(15);
    let why = loop {
        match handshake(&mine, &addr, bob_key, ticket.clone()).await {
            PeerFrame::Refused(why) => break why,
            PeerFrame::Welcome => {}
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "the seeder still serves it");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(why.contains("g/shared.bin was unpublished"), "{why}");
    let shares: Value =
        serde_json::from_slice(&std::fs::read(bob.home.join("shares.json")).unwrap()).unwrap();
    assert_eq!(shares.as_array().map(Vec::len), Some(0), "{shares}");
    // After a restart the seeder does not register the file again.
    bob.restart_daemon().await;
    assert!(listed_files(&alice).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_download_fails_when_its_file_is_unpublished() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut members) = group_with(root.path(), &["bob"]).await;
    let mut bob = members.pop().unwrap();
    alice.start_daemon(&["--upload-limit", "1M"]).await;
    bob.start_daemon(&[]).await;
    let f = root.path().join("big.bin");
    random_file(&f, 16 << 20, 22);
    alice.ok(&["upload", "g", f.to_str().unwrap()]);
    let dest = root.path().join("bob-big.bin");
    bob.ok(&[
        "download",
        "g",
        "big.bin",
        dest.to_str().unwrap(),
        "--detach",
    ]);
    bob.wait_progress("big.bin", 0.05, Duration::from_secs(30))
        .await;
    // The uploader unpublishes her own file; her daemon stops seeding it at once.
    alice.ok(&["unpublish", "g", "big.bin"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let why = loop {
        let d = bob.download_info("big.bin").await.unwrap();
        match d.state {
            DownloadState::Failed(why) => break why,
            DownloadState::Running => {}
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "the download went on: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(why.contains("g/big.bin was unpublished"), "{why}");
    assert!(!dest.exists());
    let part = root.path().join("bob-big.bin.part");
    assert!(!part.exists(), "the .part file stayed");
    let shares: Value =
        serde_json::from_slice(&std::fs::read(alice.home.join("shares.json")).unwrap()).unwrap();
    assert_eq!(shares.as_array().map(Vec::len), Some(0), "{shares}");
    alice.kill_daemon();
    bob.kill_daemon();
}

/// Runs `peer` for `who` with `input` on stdin and the cluster's CA; its output.
fn with_ca(who: &Peer, ca: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut all = vec!["--ca", ca];
    all.extend_from_slice(args);
    who.command_with_stdin(&all, input)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_names_and_account_times_show_in_whoami_and_group_list() {
    let root = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&root.path().join("cluster")).await;
    let ca = cluster.ca_file().display().to_string();
    let dana = Peer::fresh(root.path(), "dana", &cluster);
    let pw = "pw-dana-123\n";
    // Bad display names are refused before the password is read or anything is sent.
    for bad in [" Dana", &"x".repeat(65), "a\tb"] {
        let out = with_ca(
            &dana,
            &ca,
            &[
                "user",
                "create",
                "dana",
                "--password-stdin",
                "--display-name",
                bad,
            ],
            pw,
        );
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--display-name"), "{err}");
    }
    let before_ms = peer::daemon::wall_ms();
    let create = [
        "--json",
        "user",
        "create",
        "dana",
        "--password-stdin",
        "--display-name",
        "Dana Scully",
    ];
    let out = with_ca(&dana, &ca, &create, pw);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["display_name"], "Dana Scully");
    let login = ["login", "dana", "--password-stdin"];
    assert!(with_ca(&dana, &ca, &login, pw).status.success());
    let after_ms = peer::daemon::wall_ms();

    let who: Value = serde_json::from_str(&dana.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(
        (&who["username"], &who["display_name"]),
        (&"dana".into(), &"Dana Scully".into())
    );
    let created = who["created_at_ms"].as_u64().unwrap();
    let first_login = who["last_login_ms"].as_u64().unwrap();
    assert!(
        before_ms <= created && created <= first_login && first_login <= after_ms,
        "{who}"
    );
    let rfc = who["created_at"].as_str().unwrap();
    assert!(
        rfc.len() == 24 && rfc.ends_with('Z') && rfc.as_bytes()[10] == b'T',
        "{rfc}"
    );
    assert!(who["last_login"].as_str().unwrap().ends_with('Z'));
    let text = dana.ok(&["whoami"]);
    assert!(text.starts_with("dana (Dana Scully)\n"), "{text}");
    assert!(text.contains(&format!("account created {rfc}")), "{text}");

    // A second login moves the last-login time, not the creation time.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(with_ca(&dana, &ca, &login, pw).status.success());
    let again: Value = serde_json::from_str(&dana.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(again["created_at_ms"].as_u64(), Some(created));
    assert!(
        again["last_login_ms"].as_u64().unwrap() > first_login,
        "{again}"
    );

    // The owner's display name shows in another user's group list; an account without one
    // shows its username only.
    dana.ok(&["group", "create", "files"]);
    let erin = Peer::signup(root.path(), "erin", &cluster);
    erin.ok(&["group", "create", "plain"]);
    let rows: Value = serde_json::from_str(&erin.ok(&["--json", "group", "list"])).unwrap();
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("files")["owner_display_name"], "Dana Scully");
    assert_eq!(row("plain")["owner_display_name"], Value::Null);
    let text = erin.ok(&["group", "list"]);
    assert!(text.contains("dana (Dana Scully)"), "{text}");
    let who: Value = serde_json::from_str(&erin.ok(&["--json", "whoami"])).unwrap();
    assert_eq!(who["display_name"], Value::Null);
}
