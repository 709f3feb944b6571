//! `bench etcd`: this project's writes and etcd's puts measured in one run, round by round in
//! alternation, so the ratio between them divides two figures taken on the same machine in the
//! same minutes. etcd (3 members on 127.0.0.1, Debian's `etcd-server`) takes `--clients` closed-
//! loop clients putting `--value-bytes` values through its JSON gateway, spread over the members
//! round-robin as etcd's own clients spread; the tracker cluster takes the `bench writes` mix
//! from as many clients. Both clusters run for the whole bench; only one is loaded at a time.

pub mod client;
pub mod cluster;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use self::client::EtcdClient;
use self::cluster::EtcdCluster;
use super::fixture::{settle_disk, ClusterOpts, Fixture, FixtureSpec};
use super::load::{window, ClientLog, Clients, Sample, WindowStats};
use super::stats::{fmt, print_json, print_table};
use super::writes::{write_mix, MixOpts};

/// Options of `bench etcd`.
#[derive(Debug, Clone, clap::Args)]
pub struct EtcdArgs {
    /// Concurrent clients of each round, for both systems.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Rounds per system; they alternate, and every other pair starts with etcd.
    #[arg(long, default_value_t = 3)]
    pub pairs: usize,
    /// Seconds measured per round.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Seconds of load before each round's measurement starts.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Bytes of each etcd value.
    #[arg(long, default_value_t = 256)]
    pub value_bytes: usize,
    /// The etcd binary.
    #[arg(long, default_value = "etcd")]
    pub etcd_bin: PathBuf,
    /// etcd members.
    #[arg(long, default_value_t = 3)]
    pub etcd_members: usize,
    #[command(flatten)]
    pub mix: MixOpts,
    /// Users owning the tracker clients' peers.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Files registered before the rounds.
    #[arg(long, default_value_t = 32)]
    pub files: usize,
    #[command(flatten)]
    pub cluster: ClusterOpts,
}

/// One round's result.
#[derive(Debug, Serialize)]
pub struct EtcdRound {
    /// Scenario name.
    pub scenario: &'static str,
    /// `"etcd"` or `"tracker"`.
    pub system: &'static str,
    /// Round number of this system, from 0.
    pub round: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Throughput and latency.
    #[serde(flatten)]
    pub stats: WindowStats,
}

/// The figure `bench etcd` ends with.
#[derive(Debug, Serialize)]
pub struct EtcdSummary {
    /// Scenario name.
    pub scenario: &'static str,
    /// Median ops/s of the tracker rounds.
    pub tracker_median_ops_per_sec: f64,
    /// Median ops/s of the etcd rounds.
    pub etcd_median_ops_per_sec: f64,
    /// The first over the second.
    pub ratio: f64,
}

/// Runs the alternating rounds.
///
/// # Errors
/// If either cluster does not come up.
pub async fn run(args: EtcdArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.pairs >= 1, "--pairs must be at least 1");
    anyhow::ensure!(args.etcd_members >= 1, "--etcd-members must be at least 1");
    let etcd_dir = tempfile::Builder::new().prefix("bench-etcd-").tempdir()?;
    let etcd = EtcdCluster::start(&args.etcd_bin, etcd_dir.path(), args.etcd_members).await?;
    let spec = FixtureSpec {
        nodes: args.cluster.nodes,
        tracker_args: args.cluster.tracker_args.clone(),
        users: args.users,
        peers: args.clients,
        files: args.files,
        chunks_per_file: args.mix.chunks,
        keep: args.cluster.keep,
    };
    let fixture = Fixture::start("etcd", &spec).await?;
    let mut rows = Vec::new();
    for pair in 0..args.pairs {
        let order: [&'static str; 2] = if pair % 2 == 0 {
            ["etcd", "tracker"]
        } else {
            ["tracker", "etcd"]
        };
        for system in order {
            settle_disk();
            let stats = match system {
                "etcd" => etcd_round(&etcd, &args).await,
                _ => tracker_round(&fixture, &args, pair).await?,
            };
            let row = EtcdRound {
                scenario: "etcd",
                system,
                round: pair,
                clients: args.clients,
                stats,
            };
            print_json(&row)?;
            rows.push(row);
        }
    }
    fixture.stop();
    drop(etcd);
    let median_of = |system: &str| {
        let mut v: Vec<f64> = rows
            .iter()
            .filter(|r| r.system == system)
            .map(|r| r.stats.ops_per_sec)
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let summary = EtcdSummary {
        scenario: "etcd-summary",
        tracker_median_ops_per_sec: median_of("tracker"),
        etcd_median_ops_per_sec: median_of("etcd"),
        ratio: median_of("tracker") / median_of("etcd").max(f64::MIN_POSITIVE),
    };
    print_json(&summary)?;
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.system.to_string(),
                r.round.to_string(),
                fmt(r.stats.ops_per_sec, 0),
                fmt(r.stats.latency.p50_ms, 2),
                fmt(r.stats.latency.p99_ms, 2),
                r.stats.errors.to_string(),
            ]
        })
        .collect();
    print_table(
        &["SYSTEM", "ROUND", "OPS/S", "P50_MS", "P99_MS", "ERRORS"],
        &table,
    );
    println!(
        "median: tracker {} writes/s, etcd {} puts/s, ratio {}",
        fmt(summary.tracker_median_ops_per_sec, 0),
        fmt(summary.etcd_median_ops_per_sec, 0),
        fmt(summary.ratio, 2)
    );
    for r in &rows {
        if let Some(e) = &r.stats.first_error {
            println!("first error ({}): {e}", r.system);
            break;
        }
    }
    Ok(())
}

/// One round of the `bench writes` mix against the tracker cluster.
async fn tracker_round(
    fixture: &Fixture,
    args: &EtcdArgs,
    pair: usize,
) -> anyhow::Result<WindowStats> {
    let next = write_mix(fixture.world.clone(), args.mix.clone(), format!("e{pair}"));
    let clients = Clients::start(&fixture.world, args.clients, next)?;
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let to = Instant::now();
    let logs = clients.stop().await;
    Ok(window(&logs, from, to))
}

/// One round of puts against etcd: client `i` puts to its own key through member `i % members`.
async fn etcd_round(etcd: &EtcdCluster, args: &EtcdArgs) -> WindowStats {
    let stop = Arc::new(AtomicBool::new(false));
    let value = vec![b'v'; args.value_bytes];
    let handles: Vec<_> = (0..args.clients)
        .map(|i| {
            let addr = etcd.client_addrs[i % etcd.client_addrs.len()].clone();
            let (stop, value) = (stop.clone(), value.clone());
            tokio::spawn(async move {
                let mut client = EtcdClient::new(addr);
                let key = format!("bench/{i}");
                let mut log = ClientLog::default();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let result = client.put(key.as_bytes(), &value).await;
                    let end = Instant::now();
                    if let Err(e) = &result {
                        log.first_error.get_or_insert_with(|| format!("put: {e}"));
                        // A refused connection answers at once: do not spin on it.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    log.samples.push(Sample {
                        kind: "put",
                        start,
                        end,
                        ok: result.is_ok(),
                    });
                }
                log
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let to = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for h in handles {
        if let Ok(Ok(log)) = tokio::time::timeout(Duration::from_secs(30), h).await {
            logs.push(log);
        }
    }
    window(&logs, from, to)
}
