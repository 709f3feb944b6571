//! `cluster demo`: a 3-node cluster in a temporary directory.
//!
//! Part 1: a client writes through it while the leader is SIGKILLed; the demo shows the new
//! leader, restarts the killed node, and checks that every acknowledged write is present exactly
//! once and every node has the same digest.
//!
//! Part 2 ([`super::demo_peers`]): three peer daemons; one shares a generated file, two download it
//! at once with progress bars while the tracker leader is killed; both finish verified.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use cluster::LocalCluster;
use proto::tracker_msg::{Response, WriteOp};
use proto::TrackerClient;

/// Flags of `cluster demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of replicated writes to make.
    #[arg(long, default_value_t = 300)]
    writes: u32,
    /// Kill the leader after this many acknowledged writes.
    #[arg(long, default_value_t = 100)]
    kill_after: u32,
    /// Size of the file shared in part 2, in MiB.
    #[arg(long, default_value_t = 256)]
    file_mib: u64,
    /// Upload cap of the sharing peer in part 2 (so the transfer lasts a few seconds).
    #[arg(long, default_value = "64M")]
    upload_limit: String,
    /// Skip part 2 (peers and files).
    #[arg(long)]
    no_peers: bool,
    /// Keep the temporary directory (node logs, data) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

/// Runs the demo.
///
/// # Errors
/// If the cluster does not behave as claimed (a lost write, no failover, diverging nodes).
pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let tmp = tempfile::Builder::new().prefix("tracker-demo-").tempdir()?;
    let dir = tmp.path().to_path_buf();
    println!("== starting a 3-node tracker cluster in {}", dir.display());
    let specs = LocalCluster::plan(&dir, 3, None)?;
    let mut cluster = LocalCluster::new(&dir, specs, Vec::new(), false)?;
    cluster.start_all()?;
    let leader = cluster.wait_leader(Duration::from_secs(30)).await?;
    for spec in cluster.nodes.values() {
        println!(
            "   node {} api {} raft {} pid {}",
            spec.id,
            spec.api_addr,
            spec.raft_addr,
            cluster.pid(spec.id).unwrap_or(0)
        );
    }
    println!(
        "== node {} is leader (term {})",
        leader.node_id, leader.term
    );

    // The demo's writes are a user's: TLS against the cluster CA, no client certificate.
    let client = Arc::new(TrackerClient::new(cluster.user_config())?);
    client
        .write(WriteOp::CreateUser {
            username: "demo".into(),
            password: "demo-password".into(),
            display_name: None,
        })
        .await
        .context("while creating the demo user")?;
    let token = match client
        .write(WriteOp::Login {
            username: "demo".into(),
            password: "demo-password".into(),
        })
        .await?
    {
        Response::Session { token, .. } => token,
        other => bail!("unexpected login answer {other:?}"),
    };
    println!(
        "== user 'demo' created and logged in; writing {} groups",
        a.writes
    );

    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut killed: Option<(u64, Instant)> = None;
    let mut first_ack_after_kill: Option<Duration> = None;
    let started = Instant::now();
    for i in 0..a.writes {
        if killed.is_none() && acked.len() as u32 >= a.kill_after {
            let st = cluster.wait_leader(Duration::from_secs(10)).await?;
            cluster.kill(st.node_id);
            println!(
                "== SIGKILL leader node {} after {} acknowledged writes",
                st.node_id,
                acked.len()
            );
            killed = Some((st.node_id, Instant::now()));
        }
        let group = format!("group-{i:05}");
        match client
            .write(WriteOp::CreateGroup {
                token,
                group: group.clone(),
            })
            .await
        {
            Ok(_) => {
                if let (Some((_, at)), None) = (killed, first_ack_after_kill) {
                    first_ack_after_kill = Some(at.elapsed());
                }
                acked.insert(group);
            }
            Err(e) => println!("   write {group} failed: {e}"),
        }
    }
    let elapsed = started.elapsed();
    let new_leader = cluster.wait_leader(Duration::from_secs(10)).await?;
    println!(
        "== new leader: node {} (term {})",
        new_leader.node_id, new_leader.term
    );
    if let Some(d) = first_ack_after_kill {
        println!(
            "   first write acknowledged {:.0} ms after the kill",
            d.as_secs_f64() * 1000.0
        );
    }
    if let Some((id, _)) = killed {
        cluster.start_node(id)?;
        println!("== restarted node {id} on its data; waiting for every node to converge");
    }
    let converged = cluster.wait_converged(Duration::from_secs(30)).await?;
    for s in &converged {
        println!(
            "   node {} role {:<8} applied {:?} digest {}",
            s.node_id,
            s.role,
            s.last_applied,
            cluster::local::short_digest(s.digest.as_deref(), 12)
        );
    }

    let listed = proto::pages::all_groups(&client, token).await?;
    let names: Vec<&str> = listed.iter().map(|g| g.name.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|g| !unique.contains(g.as_str()))
        .collect();
    println!(
        "== {} writes acknowledged in {:.2} s ({:.0}/s); {} groups listed; {} missing; {} duplicated",
        acked.len(),
        elapsed.as_secs_f64(),
        acked.len() as f64 / elapsed.as_secs_f64(),
        names.len(),
        missing.len(),
        names.len() - unique.len()
    );
    if !missing.is_empty() || names.len() != unique.len() {
        cluster.stop_all(Duration::from_secs(10));
        bail!("acknowledged writes were lost or duplicated: {missing:?}");
    }
    println!("== every acknowledged write survived the leader crash exactly once; all nodes agree");
    let part2 = if a.no_peers {
        Ok(())
    } else {
        super::demo_peers::run(&mut cluster, &dir, a.file_mib, &a.upload_limit).await
    };
    cluster.stop_all(Duration::from_secs(10));
    if a.keep {
        println!("   kept {}", tmp.keep().display());
    }
    part2
}
