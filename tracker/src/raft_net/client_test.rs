//! [`PeerLink`] against a scripted Raft server: a reply that comes after the caller gave up
//! leaves the connection open for the next request, and a request sent while another is still
//! waiting for a slow reply goes out on a second connection instead of queueing behind it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::raft::{VoteRequest, VoteResponse};
use openraft::Vote;
use tokio::io::BufReader;
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::RootCertStore;

use super::*;

/// TLS material of nodes 1 and 2 under one CA, built in memory.
fn node_tls() -> (NodeTls, NodeTls) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let roots = Arc::new(roots);
    let node = |id: u64| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![
            proto::tls::TRACKER_NAME.to_string(),
            proto::tls::raft_name(id),
        ])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        NodeTls::new(roots.clone(), chain, key).unwrap()
    };
    (node(1), node(2))
}

/// Node 2's Raft port: answers each vote request after the delay its term asks for (term T:
/// T milliseconds), and counts the connections it accepted.
async fn scripted_node(tls: NodeTls) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                let hello = read_message::<RaftRequest, _>(&mut tcp, MAX_RAFT_FRAME_BYTES).await;
                assert!(matches!(
                    hello,
                    Ok(Some(RaftRequest::Hello { from: 1, .. }))
                ));
                let mut conn = BufReader::new(tls.raft_acceptor().accept(tcp).await.unwrap());
                let welcome = RaftReply::Welcome { node_id: 2 };
                write_message(&mut conn, &welcome, MAX_RAFT_FRAME_BYTES)
                    .await
                    .unwrap();
                while let Ok(Some(RaftRequest::Vote(v))) =
                    read_message::<RaftRequest, _>(&mut conn, MAX_RAFT_FRAME_BYTES).await
                {
                    tokio::time::sleep(Duration::from_millis(v.vote.leader_id.term)).await;
                    let answer = VoteResponse::new(v.vote, None, true);
                    let reply = RaftReply::Vote(Ok(answer));
                    if write_message(&mut conn, &reply, MAX_RAFT_FRAME_BYTES)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

fn link(tls: NodeTls, addr: String) -> PeerLink {
    PeerLink {
        dialer: Dialer {
            self_id: 1,
            target: 2,
            addr,
            tls,
        },
        pool: Arc::new(Pool {
            idle: std::sync::Mutex::new(Vec::new()),
            slots: Semaphore::new(CONNECTIONS_PER_LINK),
        }),
        backoff: Duration::from_millis(10),
    }
}

/// A vote request the scripted node answers after `delay_ms`.
fn vote(delay_ms: u64) -> RaftRequest {
    RaftRequest::Vote(VoteRequest::new(Vote::new(delay_ms, 1), None))
}

fn granted(reply: Result<RaftReply, LinkError>) -> bool {
    matches!(reply, Ok(RaftReply::Vote(Ok(r))) if r.vote_granted)
}

#[tokio::test]
async fn a_late_reply_keeps_the_connection_and_a_slow_one_does_not_block_the_next() {
    let (ours, theirs) = node_tls();
    let (addr, accepted) = scripted_node(theirs).await;
    let mut link = link(ours, addr);
    let ttl = Duration::from_secs(5);

    assert!(granted(link.call(vote(1), ttl).await));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    // The caller gives up after 20 ms; the answer comes at 300 ms, into the pool's task.
    let late = link.call(vote(300), Duration::from_millis(20)).await;
    assert!(matches!(late, Err(LinkError::Timeout)));
    // Meanwhile another request goes out on a second connection, answered at once.
    let started = std::time::Instant::now();
    assert!(granted(link.call(vote(1), ttl).await));
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // Once the late reply is in, both connections are idle and reused: no third one.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..5 {
        assert!(granted(link.call(vote(1), ttl).await));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_node_that_is_down_is_unreachable_at_once() {
    let (ours, _) = node_tls();
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let mut link = link(ours, addr);
    let reply = link.call(vote(1), Duration::from_secs(5)).await;
    assert!(matches!(reply, Err(LinkError::Unreachable(_))));
}
