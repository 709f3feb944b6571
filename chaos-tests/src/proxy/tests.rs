//! The proxy against a plain TCP echo server on 127.0.0.1: pass, drop (new and open
//! connections), one-way cuts, delay, heal, and connections of unknown source.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use tracker::raft_net::msg::{RaftRequest, RAFT_MAGIC, RAFT_VERSION};

use super::{Cut, FaultNet, LinkRule};

/// How long a test waits to conclude that nothing arrives.
const QUIET: Duration = Duration::from_millis(300);

/// An echo server standing in for node 2; every chunk it receives is also sent on the channel.
async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let _ = tx.send(buf[..n].to_vec());
                }
            });
        }
    });
    (addr, rx)
}

/// A proxy for node 2 in front of a fresh echo server.
async fn setup() -> (FaultNet, SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let (echo, rx) = echo_server().await;
    let mut net = FaultNet::new();
    let proxy = net.add_proxy(2, echo.to_string(), &[]).await.unwrap();
    assert_eq!(net.proxy_addr(2), Some(proxy));
    (net, proxy, rx)
}

/// The Raft handshake frame node `from` opens its connections with.
fn hello(from: u64) -> Vec<u8> {
    let body = proto::frame::encode(&RaftRequest::Hello {
        magic: RAFT_MAGIC,
        version: RAFT_VERSION,
        from,
    })
    .unwrap();
    let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

/// Connects to the proxy as node `from` and sends `payload` after the hello.
async fn send_as(proxy: SocketAddr, from: u64, payload: &[u8]) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let mut sent = hello(from);
    sent.extend_from_slice(payload);
    s.write_all(&sent).await.unwrap();
    (s, sent)
}

/// Exactly `n` bytes from `s` within `within`, or `None` (timeout, end of stream or error).
async fn read_n(s: &mut TcpStream, n: usize, within: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    match tokio::time::timeout(within, s.read_exact(&mut buf)).await {
        Ok(Ok(_)) => Some(buf),
        _ => None,
    }
}

/// Whether the proxy closed `s` (end of stream or error) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Everything the echo server received within `within`, concatenated.
async fn received(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>, within: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        all.extend(chunk);
    }
    all
}

#[tokio::test]
async fn pass_forwards_both_ways() {
    let (_net, proxy, mut rx) = setup().await;
    let (mut s, sent) = send_as(proxy, 1, b"ping").await;
    assert_eq!(
        read_n(&mut s, sent.len(), Duration::from_secs(5)).await,
        Some(sent.clone())
    );
    assert_eq!(received(&mut rx, QUIET).await, sent);
}

#[tokio::test]
async fn drop_stalls_new_connections_and_closes_open_ones_until_healed() {
    let (net, proxy, mut rx) = setup().await;
    let (mut open, sent) = send_as(proxy, 1, b"ping").await;
    assert!(read_n(&mut open, sent.len(), Duration::from_secs(5))
        .await
        .is_some());
    received(&mut rx, QUIET).await;

    net.isolate(1, &[2], Cut::Both);
    assert_eq!(net.rule(1, 2), LinkRule::Drop);
    assert_eq!(net.rule(2, 1), LinkRule::Drop);
    // The open connection carries nothing more: the proxy closes it.
    assert!(closed_within(&mut open, Duration::from_secs(5)).await);
    // A new connection is accepted but blackholed: nothing reaches the node, nothing comes back,
    // and it is not closed either.
    let (mut stalled, _) = send_as(proxy, 1, b"ping").await;
    assert!(!closed_within(&mut stalled, QUIET).await);
    assert!(received(&mut rx, QUIET).await.is_empty());
    // Another source is not affected.
    let (mut other, sent3) = send_as(proxy, 3, b"ping").await;
    assert_eq!(
        read_n(&mut other, sent3.len(), Duration::from_secs(5)).await,
        Some(sent3)
    );
    received(&mut rx, QUIET).await;

    net.heal();
    assert!(net.faulty_links().is_empty());
    let (mut healed, sent) = send_as(proxy, 1, b"pong").await;
    assert_eq!(
        read_n(&mut healed, sent.len(), Duration::from_secs(5)).await,
        Some(sent)
    );
    // The connection opened during the cut was closed by the heal, not resumed.
    assert!(closed_within(&mut stalled, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn one_way_cuts_drop_only_their_direction() {
    let (net, proxy, mut rx) = setup().await;
    // Node 1's outgoing bytes are dropped: node 2 hears nothing.
    net.isolate(1, &[2], Cut::Outgoing);
    assert_eq!(net.faulty_links(), vec![(1, 2, LinkRule::Drop)]);
    let (mut s, sent) = send_as(proxy, 1, b"ping").await;
    assert_eq!(read_n(&mut s, sent.len(), QUIET).await, None);
    assert!(received(&mut rx, QUIET).await.is_empty());

    // Node 1's incoming bytes are dropped: node 2 hears it, but its answer never arrives.
    net.heal();
    net.isolate(1, &[2], Cut::Incoming);
    assert_eq!(net.faulty_links(), vec![(2, 1, LinkRule::Drop)]);
    let (mut s, sent) = send_as(proxy, 1, b"ping").await;
    assert_eq!(received(&mut rx, Duration::from_secs(2)).await, sent);
    assert_eq!(read_n(&mut s, 1, QUIET).await, None);
}

#[tokio::test]
async fn delay_holds_each_direction_and_keeps_the_bytes() {
    let (net, proxy, _rx) = setup().await;
    net.set(1, 2, LinkRule::Delay(Duration::from_millis(150)));
    net.set(2, 1, LinkRule::Delay(Duration::from_millis(100)));
    let started = Instant::now();
    let (mut s, sent) = send_as(proxy, 1, b"ping").await;
    let back = read_n(&mut s, sent.len(), Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    assert_eq!(back, Some(sent));
    assert!(
        elapsed >= Duration::from_millis(250),
        "round trip took {elapsed:?}"
    );
}

#[tokio::test]
async fn a_connection_without_a_hello_always_passes() {
    let (net, proxy, _rx) = setup().await;
    net.isolate(1, &[2, 3], Cut::Both);
    net.isolate(2, &[1, 3], Cut::Both);
    let mut s = TcpStream::connect(proxy).await.unwrap();
    // A well-formed frame that is not a hello, then more bytes.
    let sent = [&[0u8, 0, 0, 3][..], b"abc", b"xyz"].concat();
    s.write_all(&sent).await.unwrap();
    assert_eq!(
        read_n(&mut s, sent.len(), Duration::from_secs(5)).await,
        Some(sent)
    );
    // A first frame too large to be a hello is forwarded too.
    let mut s = TcpStream::connect(proxy).await.unwrap();
    let sent = [&[0xffu8, 0xff, 0xff, 0xff][..], b"rest"].concat();
    s.write_all(&sent).await.unwrap();
    assert_eq!(
        read_n(&mut s, sent.len(), Duration::from_secs(5)).await,
        Some(sent)
    );
}
