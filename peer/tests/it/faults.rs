//! Lying seeders, files changed after upload, killed seeders, a killed and restarted downloader,
//! and a killed tracker leader: downloads still finish byte-identical.

use std::time::Duration;

use super::util::{group_with, random_file, same_bytes};

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_altered_seeders_never_corrupt_a_download() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) =
        group_with(root.path(), &["liar", "editor", "dan"]).await;
    let [liar, editor, dan] = &mut peers[..] else {
        unreachable!()
    };
    let src = root.path().join("doc.bin");
    random_file(&src, 8 * MIB, 11);
    let liar_copy = root.path().join("liar.bin");
    let editor_copy = root.path().join("editor.bin");
    std::fs::copy(&src, &liar_copy).unwrap();
    std::fs::copy(&src, &editor_copy).unwrap();

    alice.start_daemon(&["--upload-limit", "4M"]).await;
    liar.start_daemon(&["--corrupt-chunks-for-testing"]).await;
    editor.start_daemon(&[]).await;
    dan.start_daemon(&[]).await;
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    liar.ok(&[
        "upload",
        "g",
        liar_copy.to_str().unwrap(),
        "--name",
        "doc.bin",
    ]);
    editor.ok(&[
        "upload",
        "g",
        editor_copy.to_str().unwrap(),
        "--name",
        "doc.bin",
    ]);
    // The editor changes the file after sharing it.
    let mut altered = std::fs::read(&editor_copy).unwrap();
    altered[MIB] ^= 0x55;
    std::fs::write(&editor_copy, altered).unwrap();

    let dest = root.path().join("dan.bin");
    dan.ok(&["download", "g", "doc.bin", dest.to_str().unwrap()]);
    assert!(
        same_bytes(&src, &dest),
        "the download must be byte-identical"
    );
    let info = dan.wait_complete("doc.bin", Duration::from_secs(5)).await;
    let liar_id = liar.peer_id();
    let from_liar = info
        .chunks_by_peer
        .iter()
        .find(|(p, _)| *p == liar_id)
        .map_or(0, |(_, n)| *n);
    assert_eq!(
        from_liar, 0,
        "no chunk from the lying seeder may be accepted"
    );
    let log = std::fs::read_to_string(dan.home.join("daemon.log")).unwrap();
    assert!(
        log.contains("failed its SHA-1 check"),
        "the bad chunks should be noticed"
    );
    // The editor stopped seeding the changed file and told the tracker.
    let elog = std::fs::read_to_string(editor.home.join("daemon.log")).unwrap();
    assert!(elog.contains("stopped seeding"), "{elog}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_seeder_and_killed_downloader_still_finish_and_resume() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob", "carol"]).await;
    let [bob, carol] = &mut peers[..] else {
        unreachable!()
    };
    let src = root.path().join("big.bin");
    random_file(&src, 24 * MIB, 13);
    let copy = root.path().join("big-copy.bin");
    std::fs::copy(&src, &copy).unwrap();
    alice.start_daemon(&["--upload-limit", "3M"]).await;
    bob.start_daemon(&["--upload-limit", "3M"]).await;
    carol.start_daemon(&[]).await;
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    bob.ok(&["upload", "g", copy.to_str().unwrap(), "--name", "big.bin"]);

    let dest = root.path().join("carol.bin");
    carol.ok(&[
        "download",
        "g",
        "big.bin",
        dest.to_str().unwrap(),
        "--detach",
    ]);
    carol
        .wait_progress("big.bin", 0.15, Duration::from_secs(60))
        .await;
    alice.kill_daemon();
    let before = carol
        .wait_progress("big.bin", 0.4, Duration::from_secs(60))
        .await;
    carol.kill_daemon();
    carol.restart_daemon().await;
    let resumed = carol
        .download_info("big.bin")
        .await
        .expect("the download is known after a restart");
    assert!(
        resumed.chunks_done > 0 && resumed.chunks_done + 8 >= before.chunks_done,
        "resume must keep what was on disk: {} chunks before the kill, {} after",
        before.chunks_done,
        resumed.chunks_done
    );
    carol
        .wait_complete("big.bin", Duration::from_secs(120))
        .await;
    assert!(same_bytes(&src, &dest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_tracker_leader_mid_download_does_not_stop_it() {
    let root = tempfile::tempdir().unwrap();
    let (mut cluster, mut alice, mut peers) = group_with(root.path(), &["bob"]).await;
    let bob = &mut peers[0];
    let src = root.path().join("f.bin");
    random_file(&src, 12 * MIB, 17);
    alice.start_daemon(&["--upload-limit", "4M"]).await;
    bob.start_daemon(&[]).await;
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    let dest = root.path().join("bob.bin");
    bob.ok(&["download", "g", "f.bin", dest.to_str().unwrap(), "--detach"]);
    bob.wait_progress("f.bin", 0.25, Duration::from_secs(60))
        .await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await.unwrap();
    assert!(cluster.kill(leader.node_id));
    bob.wait_complete("f.bin", Duration::from_secs(120)).await;
    assert!(same_bytes(&src, &dest));
    // The finished download is reported to the new leader: bob is a full seeder.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let files: serde_json::Value =
            serde_json::from_str(&bob.ok(&["--json", "files", "g"])).unwrap();
        if files[0]["seeders"] == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bob never became a full seeder: {files}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
