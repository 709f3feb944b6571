//! `bench transfer`: one generated file seeded by 1, 3 and 5 peers and downloaded by one fresh
//! peer through the real `peer download` path (every chunk verified by its SHA-1). Reports
//! MiB/s, time to first byte and the downloader daemon's peak RSS.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use peer::control::{self, ControlRequest, ControlResponse};
use peer::home::Home;

use cluster::peer_process::{random_file, PeerProcess, PeerProgram};

use crate::procs::start_cluster;

use super::stats::{fmt, print_json, print_table};

/// Options of `bench transfer`.
#[derive(Debug, Clone, clap::Args)]
pub struct TransferArgs {
    /// File size in MiB.
    #[arg(long, default_value_t = 1024)]
    pub size_mib: u64,
    /// Seeder counts to measure, in increasing order.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5")]
    pub seeders: Vec<usize>,
}

/// One measured round.
#[derive(Debug, Serialize)]
pub struct TransferResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Seeders online.
    pub seeders: usize,
    /// File size.
    pub size_mib: u64,
    /// Wall time of `peer download` (request to verified file in place).
    pub seconds: f64,
    /// size / seconds.
    pub mib_per_sec: f64,
    /// From the download request to the first verified chunk.
    pub first_byte_ms: f64,
    /// Peak RSS of the downloading daemon.
    pub downloader_peak_rss_mib: f64,
}

/// Runs the benchmark and prints its results.
///
/// # Errors
/// If any step fails or a download is not byte-identical.
pub async fn run(args: TransferArgs) -> anyhow::Result<()> {
    let rows = measure(args.size_mib, &args.seeders).await?;
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.seeders.to_string(),
                r.size_mib.to_string(),
                fmt(r.seconds, 2),
                fmt(r.mib_per_sec, 1),
                fmt(r.first_byte_ms, 1),
                fmt(r.downloader_peak_rss_mib, 1),
            ]
        })
        .collect();
    print_table(
        &[
            "SEEDERS",
            "SIZE_MIB",
            "SECONDS",
            "MIB/S",
            "FIRST_BYTE_MS",
            "PEAK_RSS_MIB",
        ],
        &table,
    );
    Ok(())
}

/// Measures each seeder count in turn (printing each result as a JSON line).
///
/// # Errors
/// If any step fails or a download is not byte-identical.
pub async fn measure(
    size_mib: u64,
    seeder_counts: &[usize],
) -> anyhow::Result<Vec<TransferResult>> {
    let root = tempfile::Builder::new()
        .prefix("bench-transfer-")
        .tempdir()?;
    let mut cluster = start_cluster(&root.path().join("cluster"), 3, vec![]).await?;
    let trackers = cluster.trackers();
    let ca = cluster.ca_file();
    let src = root.path().join("payload.bin");
    random_file(&src, size_mib, 0x5eed).context("while generating the payload")?;
    let max_seeders = seeder_counts.iter().copied().max().unwrap_or(1);
    let program = PeerProgram::this_exe()?;
    let signup = |name: &str| -> anyhow::Result<PeerProcess> {
        let p = PeerProcess::new(program.clone(), root.path(), name, &trackers, &ca);
        p.signup()?;
        Ok(p)
    };
    let owner = signup("s1")?;
    owner.cli(&["group", "create", "bench"])?;
    let mut seeders = vec![owner];
    for i in 2..=max_seeders {
        let p = signup(&format!("s{i}"))?;
        p.cli(&["group", "join", "bench"])?;
        seeders[0].cli(&["group", "accept", "bench", &p.name])?;
        seeders.push(p);
    }
    let mut results = Vec::new();
    let mut started = 0;
    for (round, &k) in seeder_counts.iter().enumerate() {
        while started < k {
            seeders[started].start_daemon(&[]).await?;
            seeders[started].cli(&[
                "upload",
                "bench",
                src.to_str().unwrap_or_default(),
                "--name",
                "payload.bin",
            ])?;
            started += 1;
        }
        let mut d = signup(&format!("dl{round}"))?;
        d.cli(&["group", "join", "bench"])?;
        seeders[0].cli(&["group", "accept", "bench", &d.name])?;
        d.start_daemon(&[]).await?;
        let dest = root.path().join(format!("dl{round}.bin"));
        super::fixture::settle_disk();
        let t0 = Instant::now();
        d.cli(&[
            "download",
            "bench",
            "payload.bin",
            dest.to_str().unwrap_or_default(),
            "--detach",
        ])?;
        let home = Home::open(&d.home)?;
        let mut first_byte = None;
        loop {
            let info =
                match control::call(&home, &ControlRequest::Downloads, Duration::from_secs(5))
                    .await?
                {
                    ControlResponse::Downloads(l) => l.into_iter().next(),
                    _ => None,
                };
            if let Some(i) = info {
                if first_byte.is_none() && i.bytes_done > 0 {
                    first_byte = Some(t0.elapsed());
                }
                match i.state {
                    peer::control::DownloadState::Complete => break,
                    peer::control::DownloadState::Failed(why) => {
                        anyhow::bail!("download failed: {why}")
                    }
                    peer::control::DownloadState::Cancelled => {
                        anyhow::bail!("download was cancelled")
                    }
                    peer::control::DownloadState::Running => {}
                }
            }
            if t0.elapsed() > Duration::from_secs(900) {
                anyhow::bail!("download did not finish in 15 minutes");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        let rss = d.daemon_peak_rss().unwrap_or(0) as f64 / (1 << 20) as f64;
        let same = crate::procs::files_equal(&src, &dest)?;
        anyhow::ensure!(same, "the downloaded file differs from the source");
        let r = TransferResult {
            scenario: "transfer",
            seeders: k,
            size_mib,
            seconds: secs,
            mib_per_sec: size_mib as f64 / secs,
            first_byte_ms: first_byte.unwrap_or_default().as_secs_f64() * 1000.0,
            downloader_peak_rss_mib: rss,
        };
        print_json(&r)?;
        results.push(r);
        drop(d);
        let _ = std::fs::remove_file(&dest);
    }
    drop(seeders);
    cluster.stop_all(Duration::from_secs(5));
    Ok(results)
}
