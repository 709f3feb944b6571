//! `bench writes`: replicated writes of the kinds peers send most (ReportHave, RegisterFile) from
//! 1, 16 and 64 concurrent clients, each its own `TrackerClient` with its own client id (a client
//! keeps one write in flight). Reports ops/s and latency percentiles per client count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::index::sample;
use rand::Rng;
use serde::Serialize;

use proto::tracker_msg::WriteOp;

use super::fixture::{manifest, ClusterOpts, Fixture, FixtureSpec, World};
use super::load::{window, Call, Clients, NextCall, WindowStats};
use super::procfs::CpuSample;
use super::scraper::{ScrapeStats, Scraper};
use super::stats::{fmt, print_json, print_table};

/// Options of `bench writes`.
#[derive(Debug, Clone, clap::Args)]
pub struct WritesArgs {
    /// Concurrent clients of each round.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub clients: Vec<usize>,
    /// Seconds measured per round.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Seconds of load before each round's measurement starts.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    #[command(flatten)]
    pub mix: MixOpts,
    /// Users owning the clients' peers.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Files registered before the rounds (ReportHave goes to them).
    #[arg(long, default_value_t = 32)]
    pub files: usize,
    /// Scrape every node's `/metrics` this often during each round, in milliseconds, as a
    /// Prometheus server would (0: no scraping).
    #[arg(long, default_value_t = 0)]
    pub scrape_metrics_ms: u64,
    #[command(flatten)]
    pub cluster: ClusterOpts,
}

/// The write mix, shared with `bench failover`.
#[derive(Debug, Clone, clap::Args)]
pub struct MixOpts {
    /// One write in this many registers a new file; the others report chunks (ReportHave).
    #[arg(long, default_value_t = 10)]
    pub register_every: u64,
    /// Chunks per ReportHave (a daemon reports what it verified in the last 250 ms).
    #[arg(long, default_value_t = 16)]
    pub have_batch: u32,
    /// Chunks per file (512 KiB each), for the registered files.
    #[arg(long, default_value_t = 256)]
    pub chunks: u32,
}

/// One round's result.
#[derive(Debug, Serialize)]
pub struct WritesResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// Throughput and latency.
    #[serde(flatten)]
    pub stats: WindowStats,
    /// CPU of all tracker processes over the window, in cores (1.0 = one core busy).
    pub cluster_cores: f64,
    /// Tracker CPU per acknowledged write, in microseconds (all nodes together): steadier from
    /// run to run than ops/s on a shared machine, so a change's cost shows in it.
    pub cluster_cpu_us_per_write: f64,
    /// The scrape interval (`--scrape-metrics-ms`; 0: none).
    pub scrape_metrics_ms: u64,
    /// What the scrapers did during the measured window and the warmup.
    #[serde(flatten)]
    pub scrapes: ScrapeStats,
}

/// CPU samples of the cluster's processes at one instant.
fn sample_nodes(fixture: &Fixture, nodes: u64) -> Vec<Option<CpuSample>> {
    (1..=nodes)
        .map(|id| fixture.cluster.pid(id).and_then(CpuSample::take))
        .collect()
}

/// Cores used between two [`sample_nodes`], summed over the nodes sampled both times.
fn cores_between(before: &[Option<CpuSample>], after: &[Option<CpuSample>]) -> f64 {
    before
        .iter()
        .zip(after)
        .filter_map(|(b, a)| Some(b.as_ref()?.cores_until(a.as_ref()?)))
        .sum()
}

/// Client `i` writes as peer `i` of the world: ReportHave of `have_batch` random chunks of a
/// random registered file, and every `register_every`-th write a RegisterFile of a new file
/// named after `tag`, the client and the write.
pub fn write_mix(world: Arc<World>, mix: MixOpts, tag: String) -> NextCall {
    Arc::new(move |i, seq, rng| {
        let Some((peer, token)) = world.peer(i) else {
            return (
                "none",
                Call::Read(proto::tracker_msg::ReadRequest::ClusterKey),
            );
        };
        if mix.register_every > 0 && seq % mix.register_every == mix.register_every - 1 {
            let name = format!("{tag}-c{i}-{seq}.bin");
            let op = WriteOp::RegisterFile {
                token: *token,
                peer_id: peer.peer_id,
                group: world.group.clone(),
                manifest: manifest(&name, mix.chunks),
            };
            return ("register_file", Call::Write(op));
        }
        let file = world.files[rng.gen_range(0..world.files.len())].clone();
        let total = world.chunks_per_file as usize;
        let chunks = sample(rng, total, (mix.have_batch as usize).min(total))
            .into_iter()
            .filter_map(|c| u32::try_from(c).ok())
            .collect();
        let op = WriteOp::ReportHave {
            token: *token,
            peer_id: peer.peer_id,
            group: world.group.clone(),
            name: file,
            chunks,
        };
        ("report_have", Call::Write(op))
    })
}

/// Runs the rounds.
///
/// # Errors
/// If the cluster or the setup fails.
pub async fn run(args: WritesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.files >= 1, "--files must be at least 1");
    anyhow::ensure!(args.mix.chunks >= 1, "--chunks must be at least 1");
    let spec = FixtureSpec {
        nodes: args.cluster.nodes,
        tracker_args: args.cluster.tracker_args.clone(),
        users: args.users,
        peers: args.clients.iter().copied().max().unwrap_or(1),
        files: args.files,
        chunks_per_file: args.mix.chunks,
        keep: args.cluster.keep,
    };
    let fixture = Fixture::start("writes", &spec).await?;
    let mut rows = Vec::new();
    for (round, &n) in args.clients.iter().enumerate() {
        let next = write_mix(fixture.world.clone(), args.mix.clone(), format!("r{round}"));
        let clients = Clients::start(&fixture.world, n, next)?;
        let scraper = (args.scrape_metrics_ms > 0).then(|| {
            let addrs = fixture
                .cluster
                .nodes
                .values()
                .filter_map(|s| s.http_addr.clone())
                .collect();
            Scraper::start(addrs, Duration::from_millis(args.scrape_metrics_ms))
        });
        tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
        let cpu_from = sample_nodes(&fixture, args.cluster.nodes);
        let from = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        let to = Instant::now();
        let cpu_to = sample_nodes(&fixture, args.cluster.nodes);
        let scrapes = scraper.map(Scraper::stop).unwrap_or_default();
        let logs = clients.stop().await;
        let stats = window(&logs, from, to);
        let cluster_cores = cores_between(&cpu_from, &cpu_to);
        let r = WritesResult {
            scenario: "writes",
            clients: n,
            cluster_cpu_us_per_write: if stats.ops_per_sec > 0.0 {
                cluster_cores * 1e6 / stats.ops_per_sec
            } else {
                0.0
            },
            cluster_cores,
            stats,
            scrape_metrics_ms: args.scrape_metrics_ms,
            scrapes,
        };
        print_json(&r)?;
        rows.push(r);
    }
    fixture.stop();
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.clients.to_string(),
                fmt(r.stats.ops_per_sec, 0),
                fmt(r.stats.latency.p50_ms, 2),
                fmt(r.stats.latency.p99_ms, 2),
                fmt(r.stats.latency.p999_ms, 2),
                r.stats.errors.to_string(),
                fmt(r.cluster_cores, 2),
                fmt(r.cluster_cpu_us_per_write, 1),
            ]
        })
        .collect();
    print_table(
        &[
            "CLIENTS",
            "OPS/S",
            "P50_MS",
            "P99_MS",
            "P99.9_MS",
            "ERRORS",
            "NODES_CPU",
            "CPU_US/WRITE",
        ],
        &table,
    );
    if let Some(e) = rows.iter().find_map(|r| r.stats.first_error.clone()) {
        println!("first error: {e}");
    }
    Ok(())
}
