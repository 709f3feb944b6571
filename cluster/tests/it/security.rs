//! The transport's refusals, against real processes: admin requests without the admin
//! credential (no certificate, a logged-in user, a node's certificate, another cluster's admin),
//! plaintext clients on both ports, and Raft connections whose certificate is another CA's, the
//! admin's, or another node's. The admin credential of the cluster DIR works.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use cluster::pki::Pki;
use cluster::LocalCluster;
use proto::connection::Connection;
use proto::frame::{read_message, write_message, MAX_API_FRAME_BYTES, MAX_RAFT_FRAME_BYTES};
use proto::tls::{pem, ClientTls, NodeTls};
use proto::tracker_msg::{AdminRequest, ClientFrame, Response, WriteOp, API_MAGIC, API_VERSION};
use proto::{ApiError, Request, TrackerClient};
use tracker::raft_net::msg::{RaftReply, RaftRequest, RAFT_MAGIC, RAFT_VERSION};

use super::util::{client, signup, start};

/// Every membership change and the state digest, as requests.
fn admin_only_requests(c: &LocalCluster) -> Vec<AdminRequest> {
    let spec = c.nodes.values().next().unwrap();
    vec![
        AdminRequest::RemoveNode { node_id: 2 },
        AdminRequest::ChangeMembership { voters: vec![1] },
        AdminRequest::AddLearner {
            node_id: 9,
            api_addr: spec.api_addr.clone(),
            raft_addr: spec.raft_addr.clone(),
        },
        AdminRequest::Status { digest: true },
    ]
}

/// The voters every node reports.
async fn voters(c: &LocalCluster) -> Vec<Vec<u64>> {
    c.statuses()
        .await
        .into_iter()
        .map(|(_, s)| s.unwrap().voters)
        .collect()
}

/// Waits until `stream` is closed by the server; how long that took (bounded by 10 s).
async fn time_to_close(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_need_the_admin_certificate() {
    let (_dir, c) = start(3, &[]).await;
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let leader_addr = leader.leader_api_addr.clone().unwrap();
    let before = voters(&c).await;
    assert!(before.iter().all(|v| v == &vec![1, 2, 3]), "{before:?}");

    // No client certificate; then the same connection after a user logged in on it.
    let conn = Connection::open(&leader_addr, c.user_tls(), Duration::from_secs(2))
        .await
        .unwrap();
    let forbidden = |answer: Result<Response, ApiError>| matches!(&answer, Err(ApiError::Forbidden(why)) if why.contains("--admin-cert"));
    for request in admin_only_requests(&c) {
        let answer = conn.call(Request::Admin(request.clone())).await.unwrap();
        assert!(
            forbidden(answer.clone()),
            "{request:?} without a certificate: {answer:?}"
        );
    }
    let user = client(&c);
    let _token = signup(&user, "mallory").await;
    for request in admin_only_requests(&c) {
        let answer = user.admin(request.clone()).await;
        assert!(
            forbidden(answer.clone()),
            "{request:?} by a user: {answer:?}"
        );
    }
    let login = WriteOp::Login {
        username: "mallory".into(),
        password: "password-mallory".into(),
    };
    let write = proto::tracker_msg::WriteRequest {
        client_id: 77,
        serial: 1,
        op: login,
    };
    assert!(matches!(
        conn.call(Request::Write(write)).await.unwrap(),
        Ok(Response::Session { .. })
    ));
    let answer = conn
        .call(Request::Admin(AdminRequest::RemoveNode { node_id: 2 }))
        .await
        .unwrap();
    assert!(forbidden(answer.clone()), "after a login: {answer:?}");

    // A node's certificate is not the admin's.
    let node1 = c.dir.join("node-1");
    let as_node = ClientTls::from_files(
        &c.ca_file(),
        Some((&node1.with_extension("pem"), &node1.with_extension("key"))),
    )
    .unwrap();
    let conn = Connection::open(&leader_addr, &as_node, Duration::from_secs(2))
        .await
        .unwrap();
    let answer = conn
        .call(Request::Admin(AdminRequest::RemoveNode { node_id: 2 }))
        .await
        .unwrap();
    assert!(
        forbidden(answer.clone()),
        "with a node certificate: {answer:?}"
    );

    // Another cluster's admin credential does not even get through the handshake.
    let other = tempfile::tempdir().unwrap();
    let foreign = Pki::open_or_create(other.path()).unwrap();
    let (cert, key) = foreign.ensure_admin().unwrap();
    let foreign_admin = ClientTls::from_files(&c.ca_file(), Some((&cert, &key))).unwrap();
    let refused = Connection::open(&leader_addr, &foreign_admin, Duration::from_secs(2)).await;
    assert!(
        refused.is_err(),
        "another CA's admin certificate was accepted"
    );

    // Status without the digest stays open, and nothing changed.
    let status =
        TrackerClient::node_status(&leader_addr, c.user_tls(), false, Duration::from_secs(2))
            .await
            .unwrap();
    assert_eq!(status.digest, None);
    assert_eq!(voters(&c).await, before);

    // DIR's admin credential does what the others could not.
    let admin = TrackerClient::new(c.admin_config()).unwrap();
    let with_digest =
        TrackerClient::node_status(&leader_addr, c.admin_tls(), true, Duration::from_secs(2))
            .await
            .unwrap();
    assert_eq!(with_digest.digest.map(|d| d.len()), Some(40));
    assert_eq!(
        admin.admin(AdminRequest::RemoveNode { node_id: 3 }).await,
        Ok(Response::Done)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = c.wait_leader(Duration::from_secs(10)).await.unwrap().voters;
        if now == vec![1, 2] {
            break;
        }
        assert!(Instant::now() < deadline, "voters still {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_clients_are_refused_on_both_ports() {
    let (_dir, c) = start(3, &[]).await;
    let node = c.nodes.values().next().unwrap().clone();

    // The client API's hello in plaintext: refused at its first bytes, not after a timeout.
    let mut s = TcpStream::connect(&node.api_addr).await.unwrap();
    let hello = ClientFrame::Hello {
        magic: API_MAGIC,
        version: API_VERSION,
    };
    write_message(&mut s, &hello, MAX_API_FRAME_BYTES)
        .await
        .unwrap();
    let took = time_to_close(&mut s).await;
    assert!(took < Duration::from_secs(2), "closed only after {took:?}");

    // The Raft hello (which stays plaintext) followed by a plaintext RPC.
    let mut s = TcpStream::connect(&node.raft_addr).await.unwrap();
    let hello = RaftRequest::Hello {
        magic: RAFT_MAGIC,
        version: RAFT_VERSION,
        from: 2,
    };
    write_message(&mut s, &hello, MAX_RAFT_FRAME_BYTES)
        .await
        .unwrap();
    let vote = RaftRequest::Vote(openraft::raft::VoteRequest {
        vote: openraft::Vote::new(99, 2),
        last_log_id: None,
    });
    write_message(&mut s, &vote, MAX_RAFT_FRAME_BYTES)
        .await
        .unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut reply)).await;
    assert!(
        read.is_ok(),
        "the Raft port kept a plaintext connection open"
    );
    // At most a TLS alert comes back, never a Raft reply.
    let answered = read_message::<RaftReply, _>(&mut reply.as_slice(), MAX_RAFT_FRAME_BYTES).await;
    assert!(
        !matches!(answered, Ok(Some(_))),
        "a plaintext Raft client got an answer: {answered:?}"
    );
    let _ = s.shutdown().await;

    // The term did not move: the vote request never reached Raft.
    let status =
        TrackerClient::node_status(&node.api_addr, c.user_tls(), false, Duration::from_secs(2))
            .await
            .unwrap();
    assert!(status.term < 99, "term {}", status.term);
}

/// Opens node `target`'s Raft port as `claimed` with the certificate `cert`/`key` (trusting
/// `ca`), and returns the first reply, or why there was none.
async fn raft_hello_as(
    raft_addr: &str,
    target: u64,
    claimed: u64,
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> Result<RaftReply, String> {
    let roots = pem::roots(ca).unwrap();
    let (chain, key) = pem::identity(cert, key, "test identity").unwrap();
    let tls = NodeTls::new(roots, chain, key).unwrap();
    let mut tcp = TcpStream::connect(raft_addr).await.unwrap();
    let hello = RaftRequest::Hello {
        magic: RAFT_MAGIC,
        version: RAFT_VERSION,
        from: claimed,
    };
    write_message(&mut tcp, &hello, MAX_RAFT_FRAME_BYTES)
        .await
        .unwrap();
    let attempt = async {
        let mut s = tls
            .raft_connect(target, tcp)
            .await
            .map_err(|e| e.to_string())?;
        match read_message::<RaftReply, _>(&mut s, MAX_RAFT_FRAME_BYTES).await {
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => Err("closed".to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| "no answer in 10 s".to_string())?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raft_port_takes_the_sender_from_its_certificate() {
    let (_dir, c) = start(3, &[]).await;
    let target = c.nodes[&1].clone();
    let dir = c.dir.clone();
    let file = |name: &str| dir.join(name);
    let ours = file("ca.pem");

    // Node 2's own certificate, claiming to be node 2: welcomed.
    let reply = raft_hello_as(
        &target.raft_addr,
        1,
        2,
        &ours,
        &file("node-2.pem"),
        &file("node-2.key"),
    )
    .await;
    assert!(
        matches!(reply, Ok(RaftReply::Welcome { node_id: 1 })),
        "{reply:?}"
    );

    // Node 2's certificate claiming node 3: refused.
    let reply = raft_hello_as(
        &target.raft_addr,
        1,
        3,
        &ours,
        &file("node-2.pem"),
        &file("node-2.key"),
    )
    .await;
    assert!(
        matches!(&reply, Ok(RaftReply::Refused(why)) if why.contains("node-3.raft")),
        "{reply:?}"
    );

    // The admin certificate is no node's.
    let reply = raft_hello_as(
        &target.raft_addr,
        1,
        2,
        &ours,
        &file("admin.pem"),
        &file("admin.key"),
    )
    .await;
    assert!(matches!(reply, Ok(RaftReply::Refused(_))), "{reply:?}");

    // A node certificate for node 2 from another CA: the handshake itself fails.
    let other = tempfile::tempdir().unwrap();
    let foreign = Pki::open_or_create(other.path())
        .unwrap()
        .ensure_node(2, &["127.0.0.1"])
        .unwrap();
    let reply = raft_hello_as(&target.raft_addr, 1, 2, &ours, &foreign.cert, &foreign.key).await;
    assert!(
        reply.is_err(),
        "another CA's node certificate was accepted: {reply:?}"
    );

    // No certificate at all: the handshake fails as well.
    let mut tcp = TcpStream::connect(&target.raft_addr).await.unwrap();
    let hello = RaftRequest::Hello {
        magic: RAFT_MAGIC,
        version: RAFT_VERSION,
        from: 2,
    };
    write_message(&mut tcp, &hello, MAX_RAFT_FRAME_BYTES)
        .await
        .unwrap();
    let anonymous = c.user_tls().clone();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        // A user's TLS checks the name `tracker`, which node certificates carry too, so the
        // handshake gets as far as the server's demand for a client certificate.
        let mut s = anonymous.connect(tcp).await.map_err(|e| e.to_string())?;
        read_message::<RaftReply, _>(&mut s, MAX_RAFT_FRAME_BYTES)
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap();
    assert!(
        !matches!(outcome, Ok(Some(RaftReply::Welcome { .. }))),
        "an anonymous client was welcomed: {outcome:?}"
    );

    // The cluster is unharmed.
    c.wait_leader(Duration::from_secs(10)).await.unwrap();
}
