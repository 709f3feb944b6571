//! `cluster up`, `cluster down`, `cluster start-node`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;

use cluster::cluster_file::path_in;
use cluster::LocalCluster;

/// Flags of `cluster up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Number of nodes (3 or 5 tolerate 1 or 2 failures).
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Cluster directory: cluster.json and one data directory per node.
    #[arg(long, env = "CLUSTER_DIR")]
    dir: PathBuf,
    /// First port: node i gets API port base+2(i-1) and Raft port base+2(i-1)+1. Default: free ports.
    #[arg(long)]
    base_port: Option<u16>,
    /// Start the nodes in the background and return.
    #[arg(long)]
    detach: bool,
    /// Extra flag passed to every tracker (repeatable), e.g. --tracker-arg=--snapshot-every=100.
    #[arg(long = "tracker-arg", allow_hyphen_values = true)]
    tracker_args: Vec<String>,
    /// Print the started cluster as one JSON object (the other lines go to stderr).
    #[arg(long)]
    json: bool,
}

/// `cluster up --json`.
#[derive(Serialize)]
struct UpJson<'a> {
    nodes: Vec<NodeJson<'a>>,
    leader_id: u64,
    term: u64,
    trackers: String,
    cluster_file: PathBuf,
    ca_file: PathBuf,
    detached: bool,
}

/// One node in `cluster up --json`.
#[derive(Serialize)]
struct NodeJson<'a> {
    id: u64,
    api_addr: &'a str,
    raft_addr: &'a str,
    pid: Option<u32>,
    data_dir: &'a Path,
}

/// `cluster down --json`.
#[derive(Serialize)]
struct DownJson {
    stopped: usize,
    nodes: usize,
}

/// `cluster start-node --json`.
#[derive(Serialize)]
struct StartedJson {
    id: u64,
    pid: Option<u32>,
}

/// A line for the operator: on stdout, or on stderr when stdout carries JSON.
fn say(json: bool, line: &str) {
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Starts (or restarts) the cluster and prints its nodes.
///
/// # Errors
/// If nodes cannot start or no leader is elected.
pub async fn run(a: UpArgs) -> anyhow::Result<()> {
    if a.nodes == 0 {
        bail!("--nodes must be at least 1 (3 or 5 for fault tolerance)");
    }
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("while creating {}", a.dir.display()))?;
    let mut cluster = if path_in(&a.dir).exists() {
        let mut c = LocalCluster::load(&a.dir, a.detach)?;
        let ids: Vec<u64> = c.nodes.keys().copied().collect();
        let running: Vec<u64> = ids.into_iter().filter(|&id| c.is_running(id)).collect();
        if !running.is_empty() {
            bail!(
                "nodes {running:?} of {} are still running: stop them with `cluster down --dir {}` first",
                a.dir.display(),
                a.dir.display()
            );
        }
        if !a.tracker_args.is_empty() {
            c.tracker_args = a.tracker_args.clone();
        }
        say(
            a.json,
            &format!(
                "restarting the cluster recorded in {}",
                path_in(&a.dir).display()
            ),
        );
        c
    } else {
        let specs = LocalCluster::plan(&a.dir, a.nodes, a.base_port)?;
        LocalCluster::new(&a.dir, specs, a.tracker_args.clone(), a.detach)?
    };
    cluster.start_all()?;
    let leader = cluster.wait_leader(Duration::from_secs(30)).await?;
    if a.json {
        let nodes = cluster
            .nodes
            .values()
            .map(|spec| NodeJson {
                id: spec.id,
                api_addr: &spec.api_addr,
                raft_addr: &spec.raft_addr,
                pid: cluster.pid(spec.id),
                data_dir: &spec.data_dir,
            })
            .collect();
        let up = UpJson {
            nodes,
            leader_id: leader.node_id,
            term: leader.term,
            trackers: cluster.trackers(),
            cluster_file: path_in(&a.dir),
            ca_file: cluster.ca_file(),
            detached: a.detach,
        };
        println!("{}", serde_json::to_string_pretty(&up)?);
    } else {
        print_nodes(&cluster);
        println!("leader: node {} (term {})", leader.node_id, leader.term);
        println!("trackers: {}", cluster.trackers());
        println!("cluster file: {}", path_in(&a.dir).display());
        println!(
            "CA: {} (peers: --ca {})",
            cluster.ca_file().display(),
            cluster.ca_file().display()
        );
    }
    if a.detach {
        say(
            a.json,
            &format!(
                "running in the background; stop with `cluster down --dir {}`",
                a.dir.display()
            ),
        );
        return Ok(());
    }
    say(a.json, "running; Ctrl-C stops every node");
    proto::shutdown::wait_for_shutdown().await;
    say(a.json, "stopping...");
    cluster.stop_all(Duration::from_secs(10));
    cluster.save()?;
    Ok(())
}

fn print_nodes(cluster: &LocalCluster) {
    println!("{:<4} {:<22} {:<22} {:<8} DATA", "ID", "API", "RAFT", "PID");
    for spec in cluster.nodes.values() {
        println!(
            "{:<4} {:<22} {:<22} {:<8} {}",
            spec.id,
            spec.api_addr,
            spec.raft_addr,
            cluster.pid(spec.id).unwrap_or(0),
            spec.data_dir.display()
        );
    }
}

/// Stops every node recorded in `dir`; with `json`, says how many as a JSON object.
///
/// # Errors
/// If `cluster.json` cannot be read.
pub fn down(dir: &Path, json: bool) -> anyhow::Result<()> {
    let mut cluster = LocalCluster::load(dir, true)?;
    let ids: Vec<u64> = cluster.nodes.keys().copied().collect();
    let mut stopped = 0;
    for id in &ids {
        if cluster.is_running(*id) {
            stopped += 1;
        }
    }
    cluster.stop_all(Duration::from_secs(10));
    if json {
        let down = DownJson {
            stopped,
            nodes: ids.len(),
        };
        println!("{}", serde_json::to_string_pretty(&down)?);
    } else {
        println!("stopped {stopped} of {} nodes", ids.len());
    }
    Ok(())
}

/// Restarts one node on its data; with `json`, prints its id and PID as a JSON object.
///
/// # Errors
/// If the node is unknown, still running, or cannot start.
pub async fn start_node(dir: &Path, id: u64, json: bool) -> anyhow::Result<()> {
    let mut cluster = LocalCluster::load(dir, true)?;
    if !cluster.nodes.contains_key(&id) {
        bail!(
            "no node {id} in {}: see `cluster status --dir {}`",
            dir.display(),
            dir.display()
        );
    }
    if cluster.is_running(id) {
        bail!(
            "node {id} is already running (pid {})",
            cluster.pid(id).unwrap_or(0)
        );
    }
    cluster.start_node(id)?;
    if json {
        let started = StartedJson {
            id,
            pid: cluster.pid(id),
        };
        println!("{}", serde_json::to_string_pretty(&started)?);
    } else {
        println!("started node {id} (pid {})", cluster.pid(id).unwrap_or(0));
    }
    Ok(())
}
