//! `chaos`: fault-injection runs against real tracker processes on 127.0.0.1.
//! `cargo run --release -p chaos-tests --bin chaos -- leader-kills --duration 60 --seed 7`
//! Besides the tracker clients, three real peer daemons download real files during the faults
//! unless `--no-peers` is given.

use std::time::Duration;

use clap::Parser;

use chaos_tests::peer_workload::PeerWorkloadConfig;
use chaos_tests::run::{RunConfig, Scenario};

/// Kill, pause, partition, slow down, wipe and restart trackers under load; check that nothing
/// acknowledged is lost.
#[derive(Debug, Parser)]
#[command(name = "chaos")]
struct Cli {
    /// Fault schedule.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Seconds of faults.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds between faults.
    #[arg(long, default_value_t = 3.0)]
    interval: f64,
    /// Stop after this many faults (as well as after --duration).
    #[arg(long)]
    faults: Option<usize>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Tracker nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Seed (default: random, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Run no peer daemons (tracker clients only).
    #[arg(long)]
    no_peers: bool,
    /// Sizes in MiB of the files the peer daemons share and download, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4,8,16")]
    file_mib: Vec<u64>,
    /// Upload cap of every peer daemon (bytes per second, e.g. 500K, 4M), so transfers span faults.
    #[arg(long, default_value = "4M")]
    upload_limit: String,
    /// Seconds running downloads may take to finish once the faults stop.
    #[arg(long, default_value_t = 60)]
    drain_secs: u64,
    /// Keep the run's directory (node logs and data) even if the run passes; it is always kept
    /// when a checker finds something.
    #[arg(long)]
    keep: bool,
    /// Write the JSON report here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

/// mimalloc, as in every binary of the workspace, so a node or peer run inside this one allocates
/// as the shipped binaries do; the reason is on the allocator in `tracker/src/main.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    if let Some(code) = chaos_tests::procs::run_embedded() {
        return code;
    }
    let cli = Cli::parse();
    let seed = cli.seed.unwrap_or_else(rand::random);
    println!("chaos {:?} seed {seed}", cli.scenario);
    let cfg = RunConfig {
        scenario: cli.scenario,
        seed,
        duration: Duration::from_secs(cli.duration),
        interval: Duration::from_secs_f64(cli.interval),
        max_faults: cli.faults,
        clients: cli.clients,
        nodes: cli.nodes,
        peers: (!cli.no_peers).then(|| PeerWorkloadConfig {
            file_mib: cli.file_mib.clone(),
            upload_limit: cli.upload_limit.clone(),
            drain: Duration::from_secs(cli.drain_secs),
        }),
        keep: cli.keep,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chaos: error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(chaos_tests::run::run(cfg)) {
        Ok(report) => {
            let json = serde_json::to_string_pretty(&report).unwrap_or_default();
            if let Some(path) = cli.report {
                if let Err(e) = std::fs::write(&path, &json) {
                    eprintln!("chaos: cannot write {}: {e}", path.display());
                }
            } else {
                println!("{json}");
            }
            println!("{}", report.summary());
            if let Some(dir) = &report.kept_dir {
                println!(
                    "run directory kept: {} (node logs: cluster/node-*/tracker.log)",
                    dir.display()
                );
            }
            if report.violations.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("chaos: error (seed {seed}): {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
