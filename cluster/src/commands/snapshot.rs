//! `cluster snapshot save|restore`: a file with a consistent copy of the replicated state (from
//! the leader, or for recovery one node's local state), and a new cluster made from one
//! ([`cluster::snapshot`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use cluster::snapshot;

use super::target::AdminTarget;

/// Flags of `cluster snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Save a consistent copy of the state machine, taken by the leader after a read barrier
    /// (every acknowledged write is in it), with its applied log id and digest.
    Save {
        /// The file to write (written to FILE.tmp, fsynced, then renamed).
        file: PathBuf,
        #[command(flatten)]
        target: AdminTarget,
        /// Recovery without a quorum: copy this node's local applied state instead, without a
        /// leader. It may be stale (writes it has not applied are missing).
        #[arg(long)]
        from_node: Option<u64>,
        /// Print the result as JSON (progress goes to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Check a snapshot file and make a new cluster directory from it (new certificates, a
    /// fresh membership of N nodes, each node's data seeded with the state); then start it with
    /// `cluster up --dir NEW`.
    Restore {
        /// The snapshot file.
        file: PathBuf,
        /// The new cluster directory (must be empty or absent).
        #[arg(long)]
        dir: PathBuf,
        /// Number of nodes of the new cluster.
        #[arg(long, default_value_t = 3)]
        nodes: u64,
        /// First port, as for `cluster up`. Default: free ports.
        #[arg(long)]
        base_port: Option<u16>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `save --json` prints.
#[derive(Debug, Serialize)]
struct SavedOut {
    file: PathBuf,
    node_id: u64,
    local: bool,
    possibly_stale: bool,
    applied_index: u64,
    applied_term: u64,
    size_bytes: u64,
    digest: String,
}

/// One node in `restore --json`.
#[derive(Debug, Serialize)]
struct NodeOut {
    id: u64,
    api_addr: String,
    raft_addr: String,
    data_dir: PathBuf,
}

/// What `restore --json` prints.
#[derive(Debug, Serialize)]
struct RestoredOut {
    dir: PathBuf,
    applied_index: u64,
    applied_term: u64,
    digest: String,
    possibly_stale: bool,
    nodes: Vec<NodeOut>,
    start: String,
}

/// Runs `cluster snapshot`.
///
/// # Errors
/// If the cluster cannot be reached or refuses, the export does not check out, or a file cannot
/// be written.
pub async fn run(a: SnapshotArgs) -> anyhow::Result<()> {
    match a.action {
        Action::Save {
            file,
            target,
            from_node,
            json,
        } => {
            let config = target.config()?;
            let mut last: Option<Instant> = None;
            let progress = |done: u64, total: u64| {
                if done == total || last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    last = Some(Instant::now());
                    eprintln!("copied {done} of {total} bytes");
                }
            };
            let saved = snapshot::save(&config.trackers, &config.tls, from_node, &file, progress)
                .await
                .with_context(|| format!("while saving a snapshot to {}", file.display()))?;
            let i = &saved.info;
            if json {
                let out = SavedOut {
                    file: saved.path.clone(),
                    node_id: i.node_id,
                    local: i.local,
                    possibly_stale: i.local,
                    applied_index: i.applied_index,
                    applied_term: i.applied_term,
                    size_bytes: i.size_bytes,
                    digest: i.digest.clone(),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "saved {}: node {}'s state at log index {} (term {}), {} bytes, digest {}",
                    saved.path.display(),
                    i.node_id,
                    i.applied_index,
                    i.applied_term,
                    i.size_bytes,
                    i.digest
                );
                if i.local {
                    println!(
                        "POSSIBLY STALE: node {}'s local state, read without a leader; writes it \
                         had not applied are missing",
                        i.node_id
                    );
                }
            }
        }
        Action::Restore {
            file,
            dir,
            nodes,
            base_port,
            json,
        } => {
            if nodes == 0 {
                anyhow::bail!("--nodes must be at least 1 (3 or 5 for fault tolerance)");
            }
            let restored = snapshot::restore(&file, &dir, nodes, base_port)
                .await
                .with_context(|| {
                    format!("while restoring {} into {}", file.display(), dir.display())
                })?;
            let h = &restored.header;
            let digest = proto::tracker_msg::to_hex(&h.digest);
            let start = format!("cluster up --dir {}", dir.display());
            if json {
                let out = RestoredOut {
                    dir: dir.clone(),
                    applied_index: h.applied_index,
                    applied_term: h.applied_term,
                    digest,
                    possibly_stale: h.local,
                    nodes: restored
                        .nodes
                        .iter()
                        .map(|n| NodeOut {
                            id: n.id,
                            api_addr: n.api_addr.clone(),
                            raft_addr: n.raft_addr.clone(),
                            data_dir: n.data_dir.clone(),
                        })
                        .collect(),
                    start,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "restored the state at log index {} (term {}, digest {digest}) into {} nodes in {}",
                    h.applied_index,
                    h.applied_term,
                    restored.nodes.len(),
                    dir.display()
                );
                if h.local {
                    println!("the snapshot was a node's local state and may be stale");
                }
                println!("start them with `{start}` (add --detach to run them in the background)");
            }
        }
    }
    Ok(())
}
