//! Source choice: with one seeder capped far below the others, the fast seeders send most of
//! the chunks and the download does not wait for the slow one; the listing shows each source's
//! speed, round trip and share. Also: `--chunk-size` is checked before anything is hashed.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::util::{group_with, random_file, same_bytes};

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_seeders_send_most_chunks_and_the_slow_one_does_not_hold_the_end() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob", "carol", "dave"]).await;
    let [bob, carol, dave] = &mut peers[..] else {
        unreachable!()
    };
    let src = root.path().join("film.bin");
    random_file(&src, 32 * MIB, 11);
    // Alice serves at 2 MiB/s: alone she would need 16 s for the file.
    alice.start_daemon(&["--upload-limit", "2M"]).await;
    bob.start_daemon(&[]).await;
    carol.start_daemon(&[]).await;
    dave.start_daemon(&[]).await;
    let err = alice.fails(&["upload", "g", src.to_str().unwrap(), "--chunk-size", "100"]);
    assert!(err.contains("4096"), "{err}");
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    for (p, copy) in [(&*bob, "bob.src"), (&*carol, "carol.src")] {
        let path = root.path().join(copy);
        std::fs::copy(&src, &path).unwrap();
        p.ok(&["upload", "g", path.to_str().unwrap(), "--name", "film.bin"]);
    }

    let dest = root.path().join("dave.bin");
    let t = Instant::now();
    dave.ok(&["download", "g", "film.bin", dest.to_str().unwrap()]);
    let took = t.elapsed();
    assert!(same_bytes(&src, &dest));
    assert!(
        took < Duration::from_secs(12),
        "the download waited for the slow seeder: {took:?}"
    );

    let listed: Value = serde_json::from_str(&dave.ok(&["--json", "downloads"])).unwrap();
    let sources = listed[0]["sources"].as_array().cloned().unwrap_or_default();
    let chunks_of = |id: u64| {
        sources
            .iter()
            .find(|s| s["peer_id"].as_str() == Some(id.to_string().as_str()))
            .and_then(|s| s["chunks"].as_u64())
            .unwrap_or(0)
    };
    let (slow, fast) = (
        chunks_of(alice.peer_id()),
        chunks_of(bob.peer_id()) + chunks_of(carol.peer_id()),
    );
    eprintln!("{took:?}: the slow seeder sent {slow} chunks, the fast ones {fast}");
    assert_eq!(slow + fast, 64, "{listed}");
    assert!(
        slow <= 8,
        "the 2 MiB/s seeder sent {slow} of 64 chunks: {listed}"
    );
    for s in &sources {
        assert!(s["rtt_ms"].as_f64().is_some(), "{listed}");
        assert!(
            s["addr"]
                .as_str()
                .is_some_and(|a| a.starts_with("127.0.0.1:")),
            "{listed}"
        );
    }
}
