//! `cluster add-node` and `cluster remove-node`: grow or shrink the voter set of a cluster
//! started with `cluster up` (one change at a time, through the leader): local conveniences that
//! start or stop the node's process around [`cluster::members`], the same steps as
//! `cluster member add|remove`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;

use cluster::members::{self, Joining, MembersError};
use cluster::{LocalCluster, NodeSpec};
use proto::TrackerClient;

use super::member::progress_printer;

/// Flags of `cluster add-node`.
#[derive(Debug, Args)]
pub struct AddNodeArgs {
    /// Cluster directory.
    #[arg(long, env = "CLUSTER_DIR")]
    dir: PathBuf,
    /// Id of the new node (default: one more than the largest).
    #[arg(long)]
    id: Option<u64>,
    /// Client address of the new node (default: a free port on 127.0.0.1).
    #[arg(long)]
    api_addr: Option<String>,
    /// Raft address of the new node (default: a free port on 127.0.0.1).
    #[arg(long)]
    raft_addr: Option<String>,
    /// Print the added node and the voters as one JSON object (progress goes to stderr).
    #[arg(long)]
    json: bool,
}

/// Flags of `cluster remove-node`.
#[derive(Debug, Args)]
pub struct RemoveNodeArgs {
    /// Cluster directory.
    #[arg(long, env = "CLUSTER_DIR")]
    dir: PathBuf,
    /// Id of the node to remove.
    #[arg(long)]
    id: u64,
    /// Print the removed node and the voters left as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `cluster add-node --json` and `cluster remove-node --json`: the node, what was done (as
/// `cluster member add|remove --json` says it) and the voters after.
#[derive(Serialize)]
struct MembershipJson<'a> {
    id: u64,
    /// `added`, `removed`, or `not_member` (the node was not in the membership; only its
    /// process and record were removed).
    action: &'static str,
    api_addr: Option<&'a str>,
    raft_addr: Option<&'a str>,
    pid: Option<u32>,
    /// The voters after the change (unknown after `not_member`).
    voters: Option<&'a [u64]>,
}

/// A progress line: on stdout, or on stderr when stdout carries JSON.
fn say(json: bool, line: &str) {
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// A client of `cluster`'s nodes with DIR's admin credential.
fn client_for(cluster: &LocalCluster) -> anyhow::Result<TrackerClient> {
    let mut cfg = cluster.admin_config();
    cfg.deadline = Duration::from_secs(60);
    Ok(TrackerClient::new(cfg)?)
}

/// Starts a node, adds it as a learner, waits for it to catch up, then makes it a voter.
///
/// # Errors
/// If the node cannot start or the membership change fails.
pub async fn add(a: AddNodeArgs) -> anyhow::Result<()> {
    let mut cluster = LocalCluster::load(&a.dir, true)?;
    let id =
        a.id.unwrap_or_else(|| cluster.nodes.keys().max().copied().unwrap_or(0) + 1);
    if cluster.nodes.contains_key(&id) {
        bail!(
            "node {id} already exists in {}; pick another --id",
            a.dir.display()
        );
    }
    // Fresh ports must differ from each other and from every port the cluster already uses.
    let taken: Vec<u16> = cluster
        .nodes
        .values()
        .flat_map(|n| [&n.api_addr, &n.raft_addr])
        .filter_map(|addr| addr.rsplit(':').next()?.parse().ok())
        .collect();
    let mut free = cluster::process::free_ports(3, &taken)?.into_iter();
    let mut fresh = || {
        free.next()
            .map(|port| format!("127.0.0.1:{port}"))
            .ok_or_else(|| {
                anyhow::anyhow!("no free port on 127.0.0.1: pass --api-addr and --raft-addr")
            })
    };
    let spec = NodeSpec {
        id,
        api_addr: match a.api_addr {
            Some(x) => x,
            None => fresh()?,
        },
        raft_addr: match a.raft_addr {
            Some(x) => x,
            None => fresh()?,
        },
        data_dir: a.dir.join(format!("node-{id}")),
        http_addr: Some(fresh()?),
    };
    cluster.add_spec(spec.clone());
    cluster.start_node(id)?;
    say(
        a.json,
        &format!(
            "started node {id} at {} (pid {})",
            spec.api_addr,
            cluster.pid(id).unwrap_or(0)
        ),
    );
    let client = client_for(&cluster)?;
    let node = Joining {
        id,
        api_addr: spec.api_addr.clone(),
        raft_addr: spec.raft_addr.clone(),
    };
    say(a.json, &format!("adding node {id} as a learner"));
    let voters = members::add(
        &client,
        cluster.admin_tls(),
        &node,
        Duration::from_secs(60),
        progress_printer(id),
    )
    .await
    .with_context(|| format!("while adding node {id}"))?;
    if a.json {
        let out = MembershipJson {
            id,
            action: "added",
            api_addr: Some(&spec.api_addr),
            raft_addr: Some(&spec.raft_addr),
            pid: cluster.pid(id),
            voters: Some(&voters),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("node {id} is a voter; voters now {voters:?}");
    }
    Ok(())
}

/// Removes a node from the cluster (voter or learner) and stops it.
///
/// # Errors
/// If the membership change fails.
pub async fn remove(a: RemoveNodeArgs) -> anyhow::Result<()> {
    let mut cluster = LocalCluster::load(&a.dir, true)?;
    if !cluster.nodes.contains_key(&a.id) {
        bail!("no node {} in {}", a.id, a.dir.display());
    }
    let client = client_for(&cluster)?;
    let removed = |action, voters| -> anyhow::Result<()> {
        let out = MembershipJson {
            id: a.id,
            action,
            api_addr: None,
            raft_addr: None,
            pid: None,
            voters,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    };
    match members::remove(&client, a.id).await {
        Ok(voters) if a.json => removed("removed", Some(&voters))?,
        Ok(voters) => println!("node {} removed; voters now {voters:?}", a.id),
        // Never added, or removed before: only the local process and record are left.
        Err(MembersError::NotMember(_)) if a.json => removed("not_member", None)?,
        Err(MembersError::NotMember(_)) => println!("node {} is not a member", a.id),
        Err(e) => return Err(e).with_context(|| format!("while removing node {}", a.id)),
    }
    cluster.stop_node(a.id, Duration::from_secs(10));
    cluster.remove_spec(a.id);
    cluster.save()?;
    Ok(())
}
