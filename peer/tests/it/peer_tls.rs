//! The peer port's TLS with real daemons: a download through a recording proxy verifies while
//! no slice of the file (nor its name) appears on the wire, and a downloader refuses a seeder
//! whose key is not the one the tracker lists for it (as after a man in the middle, or a seeder
//! that registered another key), then fetches once the tracker lists the right key again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use proto::tracker_msg::WriteOp;
use proto::TrackerClient;

use super::tickets::identity_at;
use super::util::{group_with, random_file, same_bytes, Peer};

/// A TCP proxy on 127.0.0.1 to `target` that keeps every byte it carries, both ways.
struct RecordingProxy {
    addr: String,
    seen: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl RecordingProxy {
    async fn start(target: String) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                tokio::spawn(pump(ri, wo, record.clone()));
                tokio::spawn(pump(ro, wi, record.clone()));
            }
        });
        RecordingProxy { addr, seen, task }
    }

    fn captured(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`, appending what passes to `record`, until either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    record: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        record.lock().unwrap().extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    cluster::process::free_ports(1, &[]).unwrap()[0]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Registers alice's daemon's peer id again at `addr` with `key`, as if it had made a new key.
async fn register_alice(client: &TrackerClient, alice: &Peer, addr: &str, key: [u8; 32]) {
    client
        .write(WriteOp::RegisterPeer {
            token: Peer::token_of(alice),
            peer_id: alice.peer_id(),
            addr: addr.to_string(),
            peer_key: key,
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_encrypted_and_seeders_are_pinned_to_their_key() {
    let root = tempfile::tempdir().unwrap();
    let (cluster, mut alice, mut peers) = group_with(root.path(), &["bob"]).await;
    let bob = &mut peers[0];
    let listen = format!("127.0.0.1:{}", free_port());
    let proxy = RecordingProxy::start(listen.clone()).await;
    alice
        .start_daemon(&["--listen", &listen, "--advertise", &proxy.addr])
        .await;
    bob.start_daemon(&[]).await;
    let size = 3 << 20;
    let secret = root.path().join("secret-plans.bin");
    let other = root.path().join("pinned.bin");
    random_file(&secret, size, 77);
    random_file(&other, 1 << 20, 78);
    alice.ok(&["upload", "g", secret.to_str().unwrap()]);
    alice.ok(&["upload", "g", other.to_str().unwrap()]);
    let alice_key = identity_at(&alice.home).public_key;
    let client = TrackerClient::new(cluster.user_config()).unwrap();

    // The tracker lists another key for alice's peer: bob's daemon refuses her seeder.
    let impostor = identity_at(&root.path().join("impostor")).public_key;
    register_alice(&client, &alice, &proxy.addr, impostor).await;
    let pinned_dest = root.path().join("bob-pinned.bin");
    bob.ok(&[
        "download",
        "g",
        "pinned.bin",
        pinned_dest.to_str().unwrap(),
        "--detach",
    ]);
    let log = bob.home.join("daemon.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let refusal = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if let Some(line) = text.lines().find(|l| l.contains("not the key")) {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no refusal in {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(refusal.contains("not who the tracker says"), "{refusal}");
    // Still nothing fetched a moment later (the same listed key is not dialled again).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let d = bob.download_info("pinned.bin").await.unwrap();
    assert_eq!(d.bytes_done, 0, "{d:?}");
    // The right key listed again: the same download goes through.
    register_alice(&client, &alice, &proxy.addr, alice_key).await;
    bob.wait_complete("pinned.bin", Duration::from_secs(60))
        .await;
    assert!(same_bytes(&other, &pinned_dest));

    // A download through the recording proxy verifies, and the capture holds none of the file.
    let dest = root.path().join("bob.bin");
    bob.ok(&[
        "download",
        "g",
        "secret-plans.bin",
        dest.to_str().unwrap(),
        "--detach",
    ]);
    bob.wait_complete("secret-plans.bin", Duration::from_secs(60))
        .await;
    assert!(same_bytes(&secret, &dest));
    let captured = proxy.captured();
    assert!(
        captured.len() > size,
        "the download went through the proxy: {} bytes seen",
        captured.len()
    );
    let data = std::fs::read(&secret).unwrap();
    let at = (0x9e37_79b9usize * 13) % (size - 4096);
    assert!(
        !contains(&captured, &data[at..at + 4096]),
        "4 KiB of the file at {at} appear in clear on the wire"
    );
    assert!(!contains(&captured, b"secret-plans.bin"));
}
