//! `bench swarm`: one seeder and N leechers that start downloading the same file at the same
//! moment, every peer's upload capped at the same rate. A perfect swarm finishes in about
//! size / cap (the seeder sends each chunk once and the leechers trade the rest), so swarm
//! efficiency = (size / cap) / (time until the last leecher completes). Every copy is checked
//! byte for byte.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

use cluster::peer_process::{random_file, PeerProcess, PeerProgram};
use peer::control::{self, ControlRequest, ControlResponse, DownloadState};
use peer::home::Home;

use crate::procs::{files_equal, start_cluster};

use super::stats::{fmt, print_json, print_table};

/// Options of `bench swarm`.
#[derive(Debug, Clone, clap::Args)]
pub struct SwarmArgs {
    /// Leechers starting together.
    #[arg(long, default_value_t = 8)]
    pub leechers: usize,
    /// File size in MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mib: u64,
    /// Upload cap of every peer, the seeder's and each leecher's (e.g. 20M, 512K).
    #[arg(long, default_value = "20M")]
    pub upload_limit: String,
    /// Download cap of every leecher (default: none).
    #[arg(long)]
    pub download_limit: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

/// The result.
#[derive(Debug, Serialize)]
pub struct SwarmResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Leechers.
    pub leechers: usize,
    /// File size.
    pub size_mib: u64,
    /// Upload cap of every peer, MiB/s.
    pub upload_cap_mib_s: f64,
    /// size / cap: the time a perfect swarm needs.
    pub ideal_seconds: f64,
    /// From the download requests to the last leecher's verified file.
    pub last_seconds: f64,
    /// ideal_seconds / last_seconds.
    pub efficiency: f64,
    /// Each leecher's time, in leecher order.
    pub leecher_seconds: Vec<f64>,
    /// Chunks in the file (each leecher needs them all once).
    pub file_chunks: u64,
    /// Chunks the seeder served (end-game duplicates included).
    pub seeder_chunks_served: u64,
    /// Chunks the leechers served each other.
    pub leecher_chunks_served: u64,
}

/// Runs the benchmark.
///
/// # Errors
/// If a step fails, a download fails or times out, or a copy differs from the source.
pub async fn run(args: SwarmArgs) -> anyhow::Result<()> {
    let cap = peer::rate_limit::parse_rate(&args.upload_limit)
        .map_err(|e| anyhow::anyhow!("--upload-limit: {e}"))?;
    anyhow::ensure!(args.leechers >= 1, "--leechers must be at least 1");
    let root = tempfile::Builder::new().prefix("bench-swarm-").tempdir()?;
    let mut cluster = start_cluster(&root.path().join("cluster"), 3, vec![]).await?;
    let outcome = swarm(
        root.path(),
        &cluster.trackers(),
        &cluster.ca_file(),
        &args,
        cap,
    )
    .await;
    cluster.stop_all(Duration::from_secs(5));
    let r = outcome?;
    print_json(&r)?;
    let mut table: Vec<Vec<String>> = r
        .leecher_seconds
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                format!("l{}", i + 1),
                fmt(*s, 2),
                fmt(args.size_mib as f64 / s, 1),
            ]
        })
        .collect();
    table.push(vec![
        "last".into(),
        fmt(r.last_seconds, 2),
        fmt(args.size_mib as f64 / r.last_seconds, 1),
    ]);
    print_table(&["LEECHER", "SECONDS", "MIB/S"], &table);
    println!(
        "ideal {:.2} s ({} MiB at {:.1} MiB/s per peer), last leecher {:.2} s: efficiency {:.2}; \
         chunks served by the seeder {}, by leechers {} ({} leechers x {} chunks needed)",
        r.ideal_seconds,
        r.size_mib,
        r.upload_cap_mib_s,
        r.last_seconds,
        r.efficiency,
        r.seeder_chunks_served,
        r.leecher_chunks_served,
        r.leechers,
        r.file_chunks
    );
    Ok(())
}

async fn swarm(
    root: &Path,
    trackers: &str,
    ca: &Path,
    args: &SwarmArgs,
    cap: u64,
) -> anyhow::Result<SwarmResult> {
    let src = root.join("payload.bin");
    random_file(&src, args.size_mib, 0x5a4d).context("while generating the payload")?;
    let program = PeerProgram::this_exe()?;
    let mut seeder = PeerProcess::new(program.clone(), root, "seed", trackers, ca);
    seeder.signup()?;
    seeder.cli(&["group", "create", "swarm"])?;
    let mut leechers = Vec::new();
    for i in 1..=args.leechers {
        let p = PeerProcess::new(program.clone(), root, &format!("l{i}"), trackers, ca);
        p.signup()?;
        p.cli(&["group", "join", "swarm"])?;
        seeder.cli(&["group", "accept", "swarm", &p.name])?;
        leechers.push(p);
    }
    let mut up = vec!["--upload-limit", args.upload_limit.as_str()];
    seeder.start_daemon(&up).await?;
    seeder.cli(&[
        "upload",
        "swarm",
        &src.to_string_lossy(),
        "--name",
        "payload.bin",
    ])?;
    if let Some(d) = &args.download_limit {
        up.extend(["--download-limit", d.as_str()]);
    }
    for l in &mut leechers {
        l.start_daemon(&up).await?;
    }
    let dests: Vec<PathBuf> = (1..=args.leechers)
        .map(|i| root.join(format!("l{i}.bin")))
        .collect();

    // Every download request goes out at once, straight to each daemon's control socket.
    super::fixture::settle_disk();
    let t0 = Instant::now();
    let starts: Vec<_> = leechers
        .iter()
        .zip(&dests)
        .map(|(l, dest)| {
            let (home, name) = (l.home.clone(), l.name.clone());
            let req = ControlRequest::Download {
                group: "swarm".into(),
                name: "payload.bin".into(),
                dest: Some(dest.clone()),
                expect: None,
            };
            tokio::spawn(async move {
                let home = Home::open(&home)?;
                match control::call(&home, &req, Duration::from_secs(10)).await? {
                    ControlResponse::DownloadStarted { .. } => Ok(()),
                    other => bail!("leecher {name} refused the download: {other:?}"),
                }
            })
        })
        .collect();
    for s in starts {
        s.await??;
    }
    let mut done: Vec<Option<f64>> = vec![None; args.leechers];
    let deadline = t0 + Duration::from_secs(args.timeout_secs);
    while done.iter().any(Option::is_none) {
        for (i, l) in leechers.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            match l.first_download().await.map(|d| d.state) {
                Some(DownloadState::Complete) => done[i] = Some(t0.elapsed().as_secs_f64()),
                Some(DownloadState::Failed(why)) => bail!("leecher {} failed: {why}", l.name),
                _ => {}
            }
        }
        if Instant::now() > deadline {
            bail!("the swarm did not finish within {} s", args.timeout_secs);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let leecher_seconds: Vec<f64> = done.into_iter().map(Option::unwrap_or_default).collect();
    for (l, dest) in leechers.iter().zip(&dests) {
        anyhow::ensure!(
            files_equal(&src, dest)?,
            "{}'s copy differs from the source",
            l.name
        );
    }
    let seeder_chunks_served = seeder.chunks_served().await;
    let mut leecher_chunks_served = 0;
    for l in &leechers {
        leecher_chunks_served += l.chunks_served().await;
    }
    let last_seconds = leecher_seconds.iter().copied().fold(0.0, f64::max);
    let ideal_seconds = (args.size_mib << 20) as f64 / cap as f64;
    Ok(SwarmResult {
        scenario: "swarm",
        leechers: args.leechers,
        size_mib: args.size_mib,
        upload_cap_mib_s: cap as f64 / (1 << 20) as f64,
        ideal_seconds,
        last_seconds,
        efficiency: ideal_seconds / last_seconds.max(1e-9),
        leecher_seconds,
        file_chunks: (args.size_mib << 20)
            .div_ceil(u64::from(proto::tracker_msg::DEFAULT_CHUNK_SIZE_BYTES)),
        seeder_chunks_served,
        leecher_chunks_served,
    })
}
