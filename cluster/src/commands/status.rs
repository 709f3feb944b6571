//! `cluster status`: every node's role, term, indexes, PID, membership and digest.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use cluster::cluster_file::ClusterFile;
use cluster::local::short_digest;
use proto::TrackerClient;

use super::credential::{dir_admin_tls, CredentialArgs};

/// Flags of `cluster status`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 every node answers and one leads; 1 some node is down \
(a leader answers); 2 no answering node leads, or none answers. As for every command, an error \
before any node is asked (no cluster file, bad flags) is 1 or 2 with a message on stderr and \
nothing on stdout."
)]
pub struct StatusArgs {
    /// Client addresses of the trackers, comma-separated.
    #[arg(long, env = "PEER_TRACKERS", conflicts_with = "dir")]
    trackers: Option<String>,
    /// Or: the cluster directory of `cluster up`.
    #[arg(long, env = "CLUSTER_DIR")]
    dir: Option<PathBuf>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// With --trackers: the CA, and the admin credential for the state digest.
    #[command(flatten)]
    credential: CredentialArgs,
}

/// One row of `cluster status --json`.
#[derive(Debug, Serialize)]
struct Row {
    id: Option<u64>,
    api_addr: String,
    /// The node's HTTP surface, as `cluster.json` records it (with `--dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    http_addr: Option<String>,
    reachable: bool,
    role: Option<String>,
    term: Option<u64>,
    last_log_index: Option<u64>,
    last_applied: Option<u64>,
    snapshot_index: Option<u64>,
    pid: Option<u32>,
    digest: Option<String>,
    leader_id: Option<u64>,
    voters: Vec<u64>,
    learners: Vec<u64>,
    error: Option<String>,
}

/// How healthy the answers say the cluster is; `cluster status` exits with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    /// Every node answered and one of them leads: exit 0.
    Whole,
    /// A node leads, but some did not answer: exit 1.
    Degraded,
    /// No answering node leads, or none answered: exit 2.
    Leaderless,
}

impl Health {
    fn of(rows: &[Row]) -> Health {
        let leads = rows
            .iter()
            .any(|r| r.reachable && r.role.as_deref() == Some("leader"));
        match (leads, rows.iter().all(|r| r.reachable)) {
            (true, true) => Health::Whole,
            (true, false) => Health::Degraded,
            (false, _) => Health::Leaderless,
        }
    }

    fn exit_code(self) -> ExitCode {
        match self {
            Health::Whole => ExitCode::SUCCESS,
            Health::Degraded => ExitCode::from(1),
            Health::Leaderless => ExitCode::from(2),
        }
    }
}

/// Prints the status of every node; the exit code says how healthy the cluster is (0 every node
/// answers and one leads, 1 some node is down but a leader answers, 2 no leader or no answer).
///
/// # Errors
/// If neither `--trackers` nor `--dir` is given, or the cluster file is unreadable.
pub async fn run(a: StatusArgs) -> anyhow::Result<ExitCode> {
    type Target = (Option<u64>, String, Option<u32>, Option<String>);
    let (targets, tls): (Vec<Target>, _) = match (&a.trackers, &a.dir) {
        (Some(list), _) => (
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| (None, s.to_string(), None, None))
                .collect(),
            a.credential.client_tls()?,
        ),
        (None, Some(dir)) => {
            let file = ClusterFile::load(dir)?;
            let tls = dir_admin_tls(dir, &file)?;
            let targets = file
                .nodes
                .into_iter()
                .map(|n| (Some(n.id), n.api_addr, Some(n.pid), n.http_addr))
                .collect();
            (targets, tls)
        }
        (None, None) => bail!("say which cluster: --trackers HOST:PORT,... or --dir DIR"),
    };
    // The digest needs the admin credential; without it the table shows "-".
    let digest = tls.has_identity();
    let mut rows = Vec::new();
    for (id, addr, pid, http_addr) in targets {
        let timeout = Duration::from_millis(800);
        let row = match TrackerClient::node_status(&addr, &tls, digest, timeout).await {
            Ok(s) => Row {
                id: Some(s.node_id),
                api_addr: addr,
                http_addr,
                reachable: true,
                role: Some(s.role),
                term: Some(s.term),
                last_log_index: s.last_log_index,
                last_applied: s.last_applied,
                snapshot_index: s.snapshot_index,
                pid: Some(s.pid),
                digest: s.digest,
                leader_id: s.leader_id,
                voters: s.voters,
                learners: s.learners,
                error: None,
            },
            Err(e) => Row {
                id,
                api_addr: addr,
                http_addr,
                reachable: false,
                role: None,
                term: None,
                last_log_index: None,
                last_applied: None,
                snapshot_index: None,
                pid,
                digest: None,
                leader_id: None,
                voters: Vec::new(),
                learners: Vec::new(),
                error: Some(e.to_string()),
            },
        };
        rows.push(row);
    }
    let health = Health::of(&rows);
    let down = rows.iter().filter(|r| !r.reachable).count();
    match health {
        Health::Whole => {}
        Health::Degraded => eprintln!("cluster: {down} of {} nodes did not answer", rows.len()),
        Health::Leaderless => eprintln!(
            "cluster: no node that answered leads ({down} of {} did not answer)",
            rows.len()
        ),
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(health.exit_code());
    }
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    println!(
        "{:<4} {:<22} {:<10} {:<6} {:<9} {:<9} {:<8} {:<12} {:<14} DIGEST",
        "ID", "API", "ROLE", "TERM", "LAST_LOG", "APPLIED", "PID", "VOTERS", "LEARNERS"
    );
    for r in &rows {
        let fmt_ids = |v: &[u64]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            }
        };
        println!(
            "{:<4} {:<22} {:<10} {:<6} {:<9} {:<9} {:<8} {:<12} {:<14} {}",
            opt(r.id),
            r.api_addr,
            r.role.as_deref().unwrap_or("down"),
            opt(r.term),
            opt(r.last_log_index),
            opt(r.last_applied),
            r.pid.map_or("-".to_string(), |p| p.to_string()),
            fmt_ids(&r.voters),
            fmt_ids(&r.learners),
            short_digest(r.digest.as_deref(), 12),
        );
    }
    Ok(health.exit_code())
}
