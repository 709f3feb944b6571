//! Parallel download from several seeders, and seeder promotion: a downloader serves verified
//! chunks to others before it has finished.

use std::time::Duration;

use peer::control::DownloadState;

use super::util::{group_with, random_file, same_bytes};

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seeders_feed_a_third_which_feeds_a_fourth_while_downloading() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob", "carol", "dave"]).await;
    let [bob, carol, dave] = &mut peers[..] else {
        unreachable!()
    };
    let src = root.path().join("movie.bin");
    random_file(&src, 64 * MIB, 7);
    let copy = root.path().join("movie-copy.bin");
    std::fs::copy(&src, &copy).unwrap();

    // Two seeders, each capped so the transfer lasts long enough to watch.
    alice.start_daemon(&["--upload-limit", "8M"]).await;
    bob.start_daemon(&["--upload-limit", "8M"]).await;
    carol.start_daemon(&[]).await;
    dave.start_daemon(&[]).await;
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    bob.ok(&["upload", "g", copy.to_str().unwrap(), "--name", "movie.bin"]);

    let carol_dest = root.path().join("carol.bin");
    carol.ok(&[
        "download",
        "g",
        "movie.bin",
        carol_dest.to_str().unwrap(),
        "--detach",
    ]);
    carol
        .wait_progress("movie.bin", 0.2, Duration::from_secs(60))
        .await;
    let dave_dest = root.path().join("dave.bin");
    dave.ok(&[
        "download",
        "g",
        "movie.bin",
        dave_dest.to_str().unwrap(),
        "--detach",
    ]);

    // While carol is still downloading, dave must receive chunks from her.
    let carol_id = carol.peer_id();
    let mut from_carol_early = false;
    for _ in 0..400 {
        let c = carol.download_info("movie.bin").await.unwrap();
        if c.state != DownloadState::Running {
            break;
        }
        if let Some(d) = dave.download_info("movie.bin").await {
            if d.chunks_by_peer
                .iter()
                .any(|(p, n)| *p == carol_id && *n > 0)
            {
                from_carol_early = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        from_carol_early,
        "dave got no chunk from carol before carol finished"
    );

    let c = carol
        .wait_complete("movie.bin", Duration::from_secs(120))
        .await;
    let d = dave
        .wait_complete("movie.bin", Duration::from_secs(120))
        .await;
    let (alice_id, bob_id) = (alice.peer_id(), bob.peer_id());
    let from = |info: &peer::control::DownloadInfo, id: u64| {
        info.chunks_by_peer
            .iter()
            .find(|(p, _)| *p == id)
            .map_or(0, |(_, n)| *n)
    };
    assert!(
        from(&c, alice_id) > 0 && from(&c, bob_id) > 0,
        "carol should fetch from both seeders: {:?}",
        c.chunks_by_peer
    );
    assert!(
        from(&d, carol_id) > 0,
        "dave's chunks: {:?}",
        d.chunks_by_peer
    );
    assert!(same_bytes(&src, &carol_dest));
    assert!(same_bytes(&src, &dave_dest));
    assert!(!root.path().join("carol.bin.part").exists());

    // Both finished downloaders are full seeders now.
    let files: serde_json::Value =
        serde_json::from_str(&alice.ok(&["--json", "files", "g"])).unwrap();
    assert_eq!(files[0]["seeders"], 4, "{files}");
    let listing = carol.ok(&["downloads"]);
    assert!(listing.contains("[C] g movie.bin"), "{listing}");
}
