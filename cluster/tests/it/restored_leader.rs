//! A leader that crashes right after acknowledging a write and comes back before anyone else is
//! elected resumes as leader of the same term (openraft restores it from its stored vote). Its
//! stored commit index may be older than what it acknowledged (the index is not flushed on its
//! own), so the read index openraft offers it can lie below the acknowledged write: a read served
//! there must still see the write. Each round SIGKILLs the whole cluster right after an
//! acknowledged write, starts the old leader first and reads at once.

use std::time::{Duration, Instant};

use proto::tracker_msg::{PageRequest, ReadRequest, Response, WriteOp, MAX_PAGE_ITEMS};

use super::util::{client, signup, start};

/// Rounds of write, crash, restart, read; each is one chance to hit the window.
const ROUNDS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_leader_serves_no_read_that_misses_an_acknowledged_write() {
    let (_dir, mut c) = start(3, &[]).await;
    let writer = client(&c);
    let token = signup(&writer, "alice").await;
    let mut acked: Vec<String> = Vec::new();
    let mut restored_as_leader = 0;
    let mut stale = Vec::new();
    for round in 0..ROUNDS {
        let leader = c.wait_leader(Duration::from_secs(30)).await.unwrap();
        // A first write finds the leader; the second is acknowledged just before the crash.
        for k in 0..2 {
            let group = format!("r{round:02}-{k}");
            writer
                .write(WriteOp::CreateGroup {
                    token,
                    group: group.clone(),
                })
                .await
                .unwrap();
            acked.push(group);
        }
        let ids: Vec<u64> = c.nodes.keys().copied().collect();
        for id in &ids {
            c.kill(*id);
        }
        c.start_node(leader.node_id).unwrap();
        for id in ids.iter().filter(|&&id| id != leader.node_id) {
            c.start_node(*id).unwrap();
        }
        // A fresh client that starts at the old leader, as the writer's own would.
        let reader = client(&c);
        let deadline = Instant::now() + Duration::from_secs(30);
        let groups = loop {
            match reader
                .read(ReadRequest::ListGroups {
                    token,
                    page: PageRequest::first(MAX_PAGE_ITEMS),
                })
                .await
            {
                // One read, one read index: the whole listing must fit in one page.
                Ok(Response::Groups(g)) if g.next.is_none() => break g.items,
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "no listing after restart: {other:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let now = c.wait_leader(Duration::from_secs(30)).await.unwrap();
        if now.node_id == leader.node_id && now.term == leader.term {
            restored_as_leader += 1;
        }
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let missing: Vec<&String> = acked
            .iter()
            .filter(|g| !names.contains(&g.as_str()))
            .collect();
        if !missing.is_empty() {
            stale.push(format!(
                "round {round}: the listing misses acknowledged {missing:?}"
            ));
        }
    }
    eprintln!("{restored_as_leader} of {ROUNDS} rounds restored the old leader in its term");
    assert!(stale.is_empty(), "stale reads: {stale:#?}");
}
