//! Stale peers are forgotten by the leader (real processes): a peer silent past its lease is
//! marked offline, and once it has been offline for `--peer-forget-after-secs` it is deleted
//! with its availability, which frees its place in its user's peer-id quota. Registering the
//! id again makes a new peer that holds nothing. The rules are unit-tested in
//! `tracker/src/domain/rules/peer_prune.rs`.

use std::time::{Duration, Instant};

use proto::quota::{Quota, QuotaChanges};
use proto::tracker_msg::{
    AdminRequest, PageRequest, PeerActivity, ReadRequest, Response, SessionToken, WriteOp,
};
use proto::{ApiError, TrackerClient};

use super::util::{client, register_peer, register_small_file, signup, start};

async fn source_count(cl: &TrackerClient, token: SessionToken) -> usize {
    match cl
        .read(ReadRequest::FileSources {
            token,
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

fn one_peer_id_each(n: u64) -> AdminRequest {
    AdminRequest::SetQuotas(QuotaChanges {
        peer_ids_per_user: Some(n),
        ..QuotaChanges::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_offline_for_long_is_forgotten_with_its_availability() {
    let (_dir, c) = start(
        3,
        &[
            "--peer-idle-secs=1",
            "--peer-active-secs=1",
            "--peer-transferring-secs=1",
            "--peer-lease-intervals=1",
            "--peer-forget-after-secs=2",
            "--session-prune-every-secs=1",
        ],
    )
    .await;
    let admin = TrackerClient::new(c.admin_config()).unwrap();
    admin.admin(one_peer_id_each(1)).await.unwrap();
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
    assert_eq!(source_count(&cl, token).await, 1);
    assert_eq!(
        cl.write(register_peer(token, 78)).await,
        Err(ApiError::QuotaExceeded {
            quota: Quota::PeerIdsPerUser,
            limit: 1
        })
    );

    // Silent: offline after its 1 s lease, forgotten 2 s later, which frees its place. Each
    // refused try is refused on the leader, without an entry.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match cl.write(register_peer(token, 78)).await {
            Ok(_) => break,
            Err(ApiError::QuotaExceeded { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "peer 77 was never forgotten");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        cl.read(ReadRequest::Heartbeat {
            token,
            peer_id: 77,
            activity: PeerActivity::Idle,
        })
        .await,
        Err(ApiError::PeerNotFound(77))
    );
    // Its id registers again as a new peer (with room for it), holding nothing.
    admin.admin(one_peer_id_each(2)).await.unwrap();
    cl.write(register_peer(token, 77)).await.unwrap();
    assert_eq!(source_count(&cl, token).await, 0);

    let leader = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    let log = c.nodes[&leader.node_id].data_dir.join("tracker.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("forgot peers offline for long"),
        "the leader's log ({}) does not mention the pruning",
        log.display()
    );
    let digests: Vec<_> = c
        .wait_converged(Duration::from_secs(20))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.digest)
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
}
