//! The seeder port against strangers without a ticket: a plaintext hello that claims more than a
//! hello may hold fails the TLS handshake and is closed at once, connections over the per-address cap are closed at once, and
//! connections that send nothing are closed after the hello timeout; then a real download from
//! the same seeder goes through.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::util::{group_with, random_file, same_bytes, Peer};

/// The seeder's cap on connections from one address (`CONNECTION_CAPS` in the seeder).
const PER_ADDRESS_CAP: usize = 128;

/// The address a peer's daemon serves on, from its startup line in `daemon.log`.
fn serving_addr(p: &Peer) -> String {
    let log = std::fs::read_to_string(p.home.join("daemon.log")).unwrap();
    let line = log
        .lines()
        .find_map(|l| l.split(" serving on ").nth(1))
        .unwrap_or_else(|| panic!("no startup line in {log}"));
    line.split_whitespace().next().unwrap().to_string()
}

/// Waits (at most `limit`) until the seeder closes `conn`; returns how long that took.
async fn closed_within(conn: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(limit, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the seeder kept the connection open for {limit:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_closed_early_and_downloads_go_on() {
    let root = tempfile::tempdir().unwrap();
    let (_cluster, mut alice, mut peers) = group_with(root.path(), &["bob"]).await;
    let bob = &mut peers[0];
    let src = root.path().join("f.bin");
    random_file(&src, 6 << 20, 41);
    alice.start_daemon(&["--upload-limit", "1M"]).await;
    bob.start_daemon(&[]).await;
    alice.ok(&["upload", "g", src.to_str().unwrap()]);
    let addr = serving_addr(&alice);

    // A plaintext hello that claims 64 MiB: not TLS, closed at once.
    let mut liar = TcpStream::connect(&addr).await.unwrap();
    liar.write_all(&(64u32 << 20).to_be_bytes()).await.unwrap();
    let took = closed_within(&mut liar, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "closed after {took:?}");

    // Silent connections fill the per-address cap (128, from 127.0.0.1): one more is closed at
    // once, and the silent ones (no TLS handshake) after the hello timeout.
    let mut silent = Vec::new();
    for _ in 0..PER_ADDRESS_CAP {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    let opened = Instant::now();
    let mut over = TcpStream::connect(&addr).await.unwrap();
    let took = closed_within(&mut over, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_secs(2),
        "over the cap, closed after {took:?}"
    );
    let mut probe = [0u8; 1];
    let last = silent.last_mut().unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), last.read(&mut probe))
            .await
            .is_err(),
        "the last one under the cap is held open"
    );
    // A download from the same seeder meanwhile: it gets in once the silent ones are gone.
    let dest = root.path().join("bob.bin");
    bob.ok(&["download", "g", "f.bin", dest.to_str().unwrap(), "--detach"]);
    for conn in &mut silent {
        closed_within(conn, Duration::from_secs(20)).await;
    }
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(16),
        "silent connections closed after {took:?} (hello timeout 10 s)"
    );
    bob.wait_complete("f.bin", Duration::from_secs(60)).await;
    assert!(same_bytes(&src, &dest));
}
