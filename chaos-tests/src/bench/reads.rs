//! `bench reads`: linearizable look-ups from many clients at once, half the group's file list
//! (ListFiles) and half a file's sources with a download ticket (FileSources). Every read goes
//! through the leader's read-index round. Reports ops/s and latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;

use proto::tracker_msg::{PageRequest, ReadRequest};

use super::fixture::{ClusterOpts, Fixture, FixtureSpec};
use super::load::{window, Call, Clients, NextCall, WindowStats};
use super::stats::{fmt, print_json, print_table};

/// Options of `bench reads`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadsArgs {
    /// Concurrent clients, each with one read in flight.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Seconds of load before the measurement starts.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Users (each is a member of the group and has one peer).
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Files in the group.
    #[arg(long, default_value_t = 32)]
    pub files: usize,
    /// Chunks per file (512 KiB each).
    #[arg(long, default_value_t = 256)]
    pub chunks: u32,
    #[command(flatten)]
    pub cluster: ClusterOpts,
}

/// The result.
#[derive(Debug, Serialize)]
pub struct ReadsResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// Throughput and latency (with `by_kind`: list_files, file_sources).
    #[serde(flatten)]
    pub stats: WindowStats,
}

/// Runs the benchmark.
///
/// # Errors
/// If the cluster or the setup fails.
pub async fn run(args: ReadsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.files >= 1, "--files must be at least 1");
    let spec = FixtureSpec {
        nodes: args.cluster.nodes,
        tracker_args: args.cluster.tracker_args.clone(),
        users: args.users,
        peers: args.users,
        files: args.files,
        chunks_per_file: args.chunks.max(1),
        keep: args.cluster.keep,
    };
    let fixture = Fixture::start("reads", &spec).await?;
    let world = fixture.world.clone();
    // Each user's peer, whose key the tickets name.
    let peer_of_user: Vec<Option<u64>> = (0..world.tokens.len())
        .map(|u| world.peers.iter().find(|p| p.user == u).map(|p| p.peer_id))
        .collect();
    let next: NextCall = Arc::new(move |i, seq, rng| {
        let user = i % world.tokens.len();
        let token = world.tokens[user];
        let group = world.group.clone();
        if seq % 2 == 0 {
            (
                "list_files",
                Call::Read(ReadRequest::ListFiles {
                    token,
                    group,
                    page: PageRequest::default(),
                }),
            )
        } else {
            let name = world.files[rng.gen_range(0..world.files.len())].clone();
            (
                "file_sources",
                Call::Read(ReadRequest::FileSources {
                    token,
                    group,
                    name,
                    peer_id: peer_of_user.get(user).copied().flatten(),
                    include_offline: false,
                    page: PageRequest::default(),
                }),
            )
        }
    });
    let clients = Clients::start(&fixture.world, args.clients, next)?;
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let to = Instant::now();
    let logs = clients.stop().await;
    fixture.stop();
    let r = ReadsResult {
        scenario: "reads",
        clients: args.clients,
        stats: window(&logs, from, to),
    };
    print_json(&r)?;
    let mut table = vec![row("all", r.stats.ops_per_sec, &r.stats.latency)];
    for (kind, s) in &r.stats.by_kind {
        table.push(row(kind, s.count as f64 / r.stats.seconds.max(1e-9), s));
    }
    print_table(&["READS", "OPS/S", "P50_MS", "P99_MS", "P99.9_MS"], &table);
    println!("errors: {}", r.stats.errors);
    if let Some(e) = &r.stats.first_error {
        println!("first error: {e}");
    }
    Ok(())
}

fn row(kind: &str, ops_per_sec: f64, s: &super::stats::Summary) -> Vec<String> {
    vec![
        kind.to_string(),
        fmt(ops_per_sec, 0),
        fmt(s.p50_ms, 2),
        fmt(s.p99_ms, 2),
        fmt(s.p999_ms, 2),
    ]
}
