//! `bench`: benchmarks against real processes on 127.0.0.1, in release builds:
//! `cargo run --release -p chaos-tests --bin bench -- <scenario> [options]`.
//! Each scenario lives in `chaos_tests::bench`; this file only dispatches.

use clap::{Parser, Subcommand};

use chaos_tests::bench;

/// Benchmarks of the tracker cluster and peers.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// One file seeded by 1, 3 and 5 peers, downloaded by a fresh peer: MiB/s, speedup, per seeder.
    Transfer(bench::transfer::TransferArgs),
    /// Upload and download time of 1 KiB to 1 GiB files and of 1000 small files.
    Sizes(bench::sizes::SizesArgs),
    /// One seeder and N leechers starting together, every upload capped: swarm efficiency.
    Swarm(bench::swarm::SwarmArgs),
    /// ReportHave and RegisterFile writes from 1, 16 and 64 clients: ops/s and latency.
    Writes(bench::writes::WritesArgs),
    /// Linearizable file lists and file sources from 64 clients: ops/s and latency.
    Reads(bench::reads::ReadsArgs),
    /// Writes while the leader is SIGKILLed K times: time to the first write acknowledged after.
    Failover(bench::failover::FailoverArgs),
    /// 100 000 simulated peers heartbeating: leader CPU and memory, latency, Raft entries
    /// (`--compare-fixed SECS`: fixed against adaptive intervals).
    Heartbeats(bench::heartbeats::HeartbeatsArgs),
    /// Latency of register, publish, sources, list, heartbeat at 1k / 10k / 100k clients.
    Ops(bench::ops::OpsArgs),
    /// Tracker writes and etcd puts from 64 clients each, in alternating rounds of one run.
    Etcd(bench::etcd::EtcdArgs),
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.scenario {
            Scenario::Transfer(a) => bench::transfer::run(a).await,
            Scenario::Swarm(a) => bench::swarm::run(a).await,
            Scenario::Sizes(a) => bench::sizes::run(a).await,
            Scenario::Ops(a) => bench::ops::run(a).await,
            Scenario::Writes(a) => bench::writes::run(a).await,
            Scenario::Reads(a) => bench::reads::run(a).await,
            Scenario::Failover(a) => bench::failover::run(a).await,
            Scenario::Heartbeats(a) => bench::heartbeats::run(a).await,
            Scenario::Etcd(a) => bench::etcd::run(a).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
