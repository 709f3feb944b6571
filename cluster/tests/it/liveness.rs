//! Peer liveness: a peer that stops heartbeating is marked offline (one batched entry) and is no
//! longer handed out as a source; a heartbeat brings it back. And a leader cut off from its quorum
//! answers "unavailable" within a bounded time instead of hanging.

use std::time::{Duration, Instant};

use proto::tracker_msg::{PageRequest, PeerActivity, ReadRequest, Response, SessionToken, WriteOp};
use proto::{ApiError, ClientConfig, TrackerClient};

use super::util::{client, register_peer, register_small_file, signup, start};

async fn source_count(cl: &TrackerClient, token: &SessionToken) -> usize {
    match cl
        .read(ReadRequest::FileSources {
            token: *token,
            group: "g".into(),
            name: "f.bin".into(),
            peer_id: None,
            include_offline: false,
            page: PageRequest::default(),
        })
        .await
        .unwrap()
    {
        Response::Sources { sources, .. } => sources.len(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peers_go_offline_and_come_back_with_a_heartbeat() {
    let (_dir, c) = start(
        3,
        &[
            "--peer-idle-secs=1",
            "--peer-active-secs=1",
            "--peer-transferring-secs=1",
            "--peer-lease-intervals=1",
        ],
    )
    .await;
    let cl = client(&c);
    let token = signup(&cl, "pat").await;
    cl.write(WriteOp::CreateGroup {
        token,
        group: "g".into(),
    })
    .await
    .unwrap();
    cl.write(register_peer(token, 77)).await.unwrap();
    cl.write(register_small_file(token, 77, "g", "f.bin"))
        .await
        .unwrap();
    match cl
        .read(ReadRequest::Heartbeat {
            token,
            peer_id: 77,
            activity: PeerActivity::Active,
        })
        .await
        .unwrap()
    {
        Response::Heartbeat { interval_ms } => assert_eq!(interval_ms, 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(source_count(&cl, &token).await, 1);

    // Silent past its lease: no longer a source.
    let deadline = Instant::now() + Duration::from_secs(15);
    while source_count(&cl, &token).await != 0 {
        assert!(
            Instant::now() < deadline,
            "silent peer never marked offline"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    match cl
        .read(ReadRequest::ListFiles {
            token,
            group: "g".into(),
            page: PageRequest::default(),
        })
        .await
        .unwrap()
    {
        Response::Files(f) => {
            assert_eq!((f.items[0].full_seeders, f.items[0].partial_peers), (0, 0))
        }
        other => panic!("{other:?}"),
    }
    // A heartbeat brings it back.
    cl.read(ReadRequest::Heartbeat {
        token,
        peer_id: 77,
        activity: PeerActivity::Idle,
    })
    .await
    .unwrap();
    assert_eq!(source_count(&cl, &token).await, 1);

    // Heartbeats for someone else's peer are refused.
    let other = signup(&cl, "mallory").await;
    assert_eq!(
        cl.read(ReadRequest::Heartbeat {
            token: other,
            peer_id: 77,
            activity: PeerActivity::Idle
        })
        .await,
        Err(ApiError::PeerNotFound(77))
    );
}

/// A peer that registered under the old leader and never heartbeats is unknown to the new
/// leader's memory: the new leader finds it in the peers table once the fresh lease it granted
/// everyone has run out, and marks it offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_expires_silent_peers_it_never_heard_from() {
    let (_dir, mut c) = start(
        3,
        &[
            "--peer-idle-secs=1",
            "--peer-active-secs=1",
            "--peer-transferring-secs=1",
            "--peer-lease-intervals=2",
        ],
    )
    .await;
    let cl = client(&c);
    let token = signup(&cl, "quinn").await;
    cl.write(WriteOp::CreateGroup {
        token,
        group: "g".into(),
    })
    .await
    .unwrap();
    cl.write(register_peer(token, 88)).await.unwrap();
    cl.write(register_small_file(token, 88, "g", "f.bin"))
        .await
        .unwrap();
    let old = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        source_count(&cl, &token).await,
        1,
        "registered peer is a source"
    );
    assert!(c.kill(old.node_id));
    let new = c.wait_leader(Duration::from_secs(20)).await.unwrap();
    assert_ne!(new.node_id, old.node_id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while source_count(&cl, &token).await != 0 {
        assert!(
            Instant::now() < deadline,
            "the new leader never expired the silent peer"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_without_quorum_answers_unavailable_quickly() {
    let (_dir, mut c) = start(3, &["--request-timeout-ms=1000"]).await;
    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let leader_addr = leader.leader_api_addr.clone().unwrap();
    let followers: Vec<u64> = c
        .nodes
        .keys()
        .copied()
        .filter(|&id| id != leader.node_id)
        .collect();
    for &f in &followers {
        assert!(c.signal(f, libc::SIGSTOP));
    }
    let mut cfg = ClientConfig::new(vec![leader_addr], c.user_tls().clone());
    cfg.deadline = Duration::from_secs(3);
    let only_leader = TrackerClient::new(cfg).unwrap();
    let started = Instant::now();
    let res = only_leader
        .write(WriteOp::CreateUser {
            username: "cut-off".into(),
            password: "password".into(),
            display_name: None,
        })
        .await;
    let took = started.elapsed();
    for &f in &followers {
        c.signal(f, libc::SIGCONT);
    }
    assert!(
        matches!(res, Err(ApiError::NoTrackerReachable { ref last_error, .. }) if last_error.contains("unavailable")),
        "{res:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Once the followers are back, the same client succeeds.
    c.wait_leader(Duration::from_secs(20)).await.unwrap();
    let cl = client(&c);
    signup(&cl, "after").await;
}
