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

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use proto::cli::CliSpec;
use proto::logging::LogFormat;

/// What `cluster`'s command line adds to [`Cli`]: `cluster completions SHELL` (no config file).
pub const CLI: CliSpec = CliSpec {
    bin: "cluster",
    config: None,
};

/// The exit codes `cluster --help` lists.
const EXIT_CODES: &str = "Exit codes: 0 success; 1 error (the message on stderr says what to do); \
2 usage: a bad flag or environment variable. `cluster status`: 0 every node answers and one leads, \
1 some node is down but a leader answers, 2 no leader or nothing answers.";

/// Launch and administer a Raft-replicated tracker cluster.
#[derive(Debug, Parser)]
#[command(name = "cluster", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// How log lines are written to stderr: `text`, or `json` (one object per line).
    #[arg(long, env = "CLUSTER_LOG_FORMAT", global = true, value_enum,
          default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// If `argv` is `cluster node ...` or `cluster peer ...` (what `cluster up` and `cluster demo`
/// start), runs the tracker's or the peer's command line as the whole process (its own flags,
/// config file, runtime and logging) and returns its exit code.
pub fn run_embedded(argv: &[OsString]) -> Option<ExitCode> {
    let rest = || argv.iter().take(1).chain(argv.iter().skip(2)).cloned();
    match argv.get(1)?.to_str()? {
        "node" => Some(tracker::run_command_line(rest())),
        "peer" => Some(peer::run_command_line(rest())),
        _ => None,
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
        /// Print how many nodes were stopped as a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Restart one node of DIR on its data (e.g. after it was killed).
    StartNode {
        /// Cluster directory.
        #[arg(long, env = "CLUSTER_DIR")]
        dir: PathBuf,
        /// Node id.
        #[arg(long)]
        id: u64,
        /// Print the started node as a JSON object.
        #[arg(long)]
        json: bool,
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
    /// Start a 3-node cluster in a temporary directory, write through it, kill the leader, show
    /// the failover and that every acknowledged write survived, then clean up.
    Demo(demo::DemoArgs),
}

/// Runs the chosen subcommand; its exit code is 0 but for `cluster status` (see `EXIT_CODES`).
///
/// # Errors
/// Whatever the subcommand reports.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Status(a) = cli.command {
        return status::run(a).await;
    }
    run_other(cli.command).await.map(|()| ExitCode::SUCCESS)
}

async fn run_other(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(a) => up::run(a).await,
        Command::Down { dir, json } => up::down(&dir, json),
        Command::StartNode { dir, id, json } => up::start_node(&dir, id, json).await,
        Command::Status(_) => anyhow::bail!("`cluster status` has an exit code of its own"),
        Command::Certs(a) => certs::run(&a),
        Command::AddNode(a) => membership::add(a).await,
        Command::RemoveNode(a) => membership::remove(a).await,
        Command::Quotas(a) => quotas::run(a).await,
        Command::Member(a) => member::run(a).await,
        Command::Snapshot(a) => snapshot::run(a).await,
        Command::Demo(a) => demo::run(a).await,
    }
}
