//! Bandwidth caps: an uploader's `--upload-limit` and a downloader's `--download-limit` each hold
//! a whole download to their rate (the chunks go through TLS and the direct-I/O path).

use std::time::{Duration, Instant};

use super::util::{group_with, random_file, same_bytes};

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_limits_hold_a_download_to_their_rate() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob", "carol"]).await;
    let [bob, carol] = &mut peers[..] else {
        unreachable!()
    };
    let src = root.path().join("f.bin");
    random_file(&src, 12 * MIB, 21);
    alice.start_daemon(&["--upload-limit", "4M"]).await;
    bob.start_daemon(&[]).await;
    carol.start_daemon(&["--download-limit", "4M"]).await;
    alice.ok(&["upload", "g", src.to_str().unwrap()]);

    // 12 MiB at 4 MiB/s, less the limiter's quarter-second burst: at least 2.5 s.
    let min = Duration::from_millis(2500);
    let bob_dest = root.path().join("bob.bin");
    let t = Instant::now();
    bob.ok(&["download", "g", "f.bin", bob_dest.to_str().unwrap()]);
    let took = t.elapsed();
    assert!(same_bytes(&src, &bob_dest));
    assert!(
        took >= min,
        "alice's 4 MiB/s upload cap let 12 MiB through in {took:?}"
    );

    // Bob (uncapped) now seeds too; carol's own cap must still hold her to 4 MiB/s.
    let carol_dest = root.path().join("carol.bin");
    let t = Instant::now();
    carol.ok(&["download", "g", "f.bin", carol_dest.to_str().unwrap()]);
    let took = t.elapsed();
    assert!(same_bytes(&src, &carol_dest));
    assert!(
        took >= min,
        "carol's 4 MiB/s download cap let 12 MiB through in {took:?}"
    );
}
