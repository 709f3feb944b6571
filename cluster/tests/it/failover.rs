//! SIGKILL the leader during a stream of writes: the client rides through, every acknowledged write
//! is present exactly once, and the restarted node converges to the same digest.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::tracker_msg::WriteOp;

use super::util::{client, signup, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_crash_during_writes_loses_nothing_and_duplicates_nothing() {
    let (_dir, mut c) = start(3, &[]).await;
    let client = Arc::new(client(&c));
    let token = signup(&client, "alice").await;

    const WRITES: usize = 150;
    let acked_count = Arc::new(AtomicUsize::new(0));
    let writer = {
        let client = client.clone();
        let acked_count = acked_count.clone();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failed = Vec::new();
            for i in 0..WRITES {
                let group = format!("g{i:04}");
                match client
                    .write(WriteOp::CreateGroup {
                        token,
                        group: group.clone(),
                    })
                    .await
                {
                    Ok(_) => {
                        acked.push(group);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => failed.push((group, e.to_string())),
                }
            }
            (acked, failed)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked_count.load(Ordering::SeqCst) < 40 {
        assert!(Instant::now() < deadline, "writes did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let old = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    assert!(c.kill(old.node_id));
    let (acked, failed) = writer.await.unwrap();
    assert!(
        failed.is_empty(),
        "writes failed across the failover: {failed:?}"
    );
    assert_eq!(acked.len(), WRITES);

    let new = c.wait_leader(Duration::from_secs(20)).await.unwrap();
    assert_ne!(
        new.node_id, old.node_id,
        "a new leader must have been elected"
    );
    c.start_node(old.node_id).unwrap();
    let converged = c.wait_converged(Duration::from_secs(30)).await.unwrap();
    assert_eq!(converged.len(), 3);

    let groups = proto::pages::all_groups(&client, token).await.unwrap();
    let names: Vec<String> = groups.into_iter().map(|g| g.name).collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(names.len(), unique.len(), "a write was applied twice");
    for g in &acked {
        assert!(unique.contains(g), "acknowledged write {g} is missing");
    }
}

/// A SIGKILLed leader's sockets close at once; the followers notice and campaign as soon as the
/// lease they granted runs out, instead of waiting out a further random election timeout. The
/// timeouts are long here (lease 1.5 s; a silent leader would take 10 s), so which of the two
/// paths elected the new leader does not depend on scheduling luck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_campaign_when_the_leader_connection_closes() {
    let (_dir, mut c) = start(
        3,
        &[
            "--heartbeat-ms=50",
            "--election-min-ms=1000",
            "--election-max-ms=1500",
            "--election-silence-ms=10000",
        ],
    )
    .await;
    let old = c.wait_leader(Duration::from_secs(10)).await.unwrap();
    assert!(c.kill(old.node_id));
    let new = c.wait_leader(Duration::from_secs(20)).await.unwrap();
    assert_ne!(new.node_id, old.node_id);
    let logs: Vec<String> = c
        .nodes
        .values()
        .filter(|s| s.id != old.node_id)
        .map(|s| std::fs::read_to_string(s.data_dir.join("tracker.log")).unwrap_or_default())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("the leader's connection closed")),
        "no follower campaigned on the closed connection; logs:\n{}",
        logs.join("\n---\n")
    );
}
