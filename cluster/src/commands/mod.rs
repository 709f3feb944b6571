//! Subcommands of `cluster`, one file each; [`target`] and [`credential`] are the cluster and
//! credential flags the admin commands share.

mod certs;
mod credential;
mod demo;
mod demo_peers;
mod member;
mod membership;
mod quotas;
mod snapshot;
mod status;
mod target;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Launch and administer a Raft-replicated tracker cluster.
#[derive(Debug, Parser)]
#[command(name = "cluster", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// If this is `cluster node` or `cluster peer`, runs it as the whole process (with its own
    /// runtime and logging) and returns its exit code; otherwise gives the command back.
    pub fn run_embedded(self) -> Result<std::process::ExitCode, Box<Cli>> {
        match self.command {
            Command::Node(a) => Ok(tracker::run_process(a)),
            Command::Peer(p) => Ok(peer::run_process(p)),
            command => Err(Box::new(Cli { command })),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start N tracker nodes on 127.0.0.1 (or restart them on their data if DIR has a cluster).
    Up(up::UpArgs),
    /// Stop the nodes recorded in DIR/cluster.json.
    Down {
        /// Cluster directory.
        #[arg(long, env = "CLUSTER_DIR")]
        dir: PathBuf,
    },
    /// Restart one node of DIR on its data (e.g. after it was killed).
    StartNode {
        /// Cluster directory.
        #[arg(long, env = "CLUSTER_DIR")]
        dir: PathBuf,
        /// Node id.
        #[arg(long)]
        id: u64,
    },
    /// Show every node: role, term, log and apply indexes, PID, membership, state digest.
    Status(status::StatusArgs),
    /// Write a cluster CA, one certificate per node and the admin credential into a directory,
    /// to copy to each host (reuses what the directory already has).
    Certs(certs::CertsArgs),
    /// Start a new node and add it to the membership (learner, catch up, then voter).
    AddNode(membership::AddNodeArgs),
    /// Remove a node from the membership and stop it.
    RemoveNode(membership::RemoveNodeArgs),
    /// List, add or remove members of any cluster (`--trackers` and the admin credential, or
    /// `--dir`); `add` takes a node already running elsewhere.
    Member(member::MemberArgs),
    /// Save a consistent copy of the replicated state to a file, or make a new cluster from one.
    Snapshot(snapshot::SnapshotArgs),
    /// Show or change the cluster's quotas (groups per user, files per group, peer ids per
    /// user, pending join requests per group); needs the admin credential.
    Quotas(quotas::QuotasArgs),
    /// Run the peer command line (what `cluster demo` starts; same as the `peer` binary).
    #[command(hide = true)]
    Peer(peer::cli::Cli),
    /// Run one tracker node in this process (what `cluster up` starts; same flags as `tracker`).
    #[command(hide = true)]
    Node(tracker::config::Args),
    /// Start a 3-node cluster in a temporary directory, write through it, kill the leader, show
    /// the failover and that every acknowledged write survived, then clean up.
    Demo(demo::DemoArgs),
}

/// Runs the chosen subcommand.
///
/// # Errors
/// Whatever the subcommand reports.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(a) => up::run(a).await,
        Command::Down { dir } => up::down(&dir),
        Command::StartNode { dir, id } => up::start_node(&dir, id).await,
        Command::Status(a) => status::run(a).await,
        Command::Certs(a) => certs::run(&a),
        Command::AddNode(a) => membership::add(a).await,
        Command::RemoveNode(a) => membership::remove(a).await,
        Command::Quotas(a) => quotas::run(a).await,
        Command::Member(a) => member::run(a).await,
        Command::Snapshot(a) => snapshot::run(a).await,
        Command::Demo(a) => demo::run(a).await,
        Command::Node(_) | Command::Peer(_) => {
            anyhow::bail!("`cluster node` and `cluster peer` run outside the command runtime")
        }
    }
}
