//! Hostile bytes on the client and Raft ports get an error or a closed connection, never a crash;
//! the node keeps serving. Plaintext bytes fail the TLS handshake; the frames after a valid TLS
//! handshake are checked too.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use proto::frame::{read_message, write_message, MAX_API_FRAME_BYTES};
use proto::tracker_msg::{ClientFrame, ServerFrame, WriteOp, API_MAGIC};
use proto::{ApiError, TrackerClient};

use super::util::{client, signup, start};

/// Sends `bytes`, half-closes, and waits until the server closes (bounded).
async fn send_and_expect_close(addr: &str, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let _ = s.shutdown().await;
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "server kept a hostile connection to {addr} open"
    );
}

fn pseudo_random(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bytes_never_crash_a_node() {
    let (_dir, c) = start(3, &[]).await;
    let node = c.nodes.values().next().unwrap().clone();
    for addr in [node.api_addr.as_str(), node.raft_addr.as_str()] {
        for seed in 1..20 {
            send_and_expect_close(addr, &pseudo_random(64 * seed as usize, seed)).await;
        }
        send_and_expect_close(addr, &u32::MAX.to_be_bytes()).await;
        let mut truncated = 100u32.to_be_bytes().to_vec();
        truncated.extend_from_slice(&[7u8; 10]);
        send_and_expect_close(addr, &truncated).await;
        send_and_expect_close(addr, &[]).await;
    }

    // An unknown protocol version is refused with a typed error.
    let tcp = TcpStream::connect(&node.api_addr).await.unwrap();
    let mut s = c.user_tls().connect(tcp).await.unwrap();
    write_message(
        &mut s,
        &ClientFrame::Hello {
            magic: API_MAGIC,
            version: 99,
        },
        MAX_API_FRAME_BYTES,
    )
    .await
    .unwrap();
    let reply: Option<ServerFrame> = read_message(&mut s, MAX_API_FRAME_BYTES).await.unwrap();
    assert!(matches!(
        reply,
        Some(ServerFrame::Refused(ApiError::VersionMismatch {
            client: 99,
            ..
        }))
    ));

    // After a valid handshake, a garbage frame closes only that connection.
    let tcp = TcpStream::connect(&node.api_addr).await.unwrap();
    let mut s = c.user_tls().connect(tcp).await.unwrap();
    write_message(
        &mut s,
        &ClientFrame::Hello {
            magic: API_MAGIC,
            version: proto::tracker_msg::API_VERSION,
        },
        MAX_API_FRAME_BYTES,
    )
    .await
    .unwrap();
    let welcome: Option<ServerFrame> = read_message(&mut s, MAX_API_FRAME_BYTES).await.unwrap();
    assert!(matches!(welcome, Some(ServerFrame::Welcome { .. })));
    let garbage = pseudo_random(200, 99);
    let mut frame = (garbage.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&garbage);
    s.write_all(&frame).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap();
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "connection should close after a garbage frame"
    );

    // Every node still serves.
    for spec in c.nodes.values() {
        TrackerClient::node_status(&spec.api_addr, c.user_tls(), false, Duration::from_secs(2))
            .await
            .unwrap();
    }
    let cl = client(&c);
    let token = signup(&cl, "survivor").await;
    cl.write(WriteOp::CreateGroup {
        token,
        group: "still-here".into(),
    })
    .await
    .unwrap();
}
