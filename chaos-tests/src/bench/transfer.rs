//! `bench transfer`: one generated file seeded by 1, 3 and 5 peers and downloaded by one fresh
//! peer through the real `peer download` path (every chunk verified by its SHA-1). Reports
//! MiB/s, time to first byte, the downloader daemon's peak RSS, the speedup against the 1-seeder
//! round of the same run, and what each seeder sent (the chunks its daemon counts as served,
//! read over its control socket before and after the round).

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use peer::control::{self, ControlRequest, ControlResponse};
use peer::home::Home;
use proto::tracker_msg::DEFAULT_CHUNK_SIZE_BYTES;

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
    /// Cap each seeder's upload at this rate (the daemon's `--upload-limit`, e.g. `20M` for
    /// 20 MiB/s), to model seeders whose uplink, not the downloader, is the bottleneck, as on
    /// separate machines; without it every seeder sends as fast as the shared cores allow.
    #[arg(long)]
    pub seeder_upload_limit: Option<String>,
    /// Print one JSON object holding every round instead of the JSON lines and the tables.
    #[arg(long)]
    pub json: bool,
}

/// What one seeder sent during one round.
#[derive(Debug, Clone, Serialize)]
pub struct SeederUpload {
    /// The seeder's user name.
    pub seeder: String,
    /// MiB it served to the downloader (chunks served times the chunk size).
    pub mib_sent: f64,
    /// mib_sent / the round's download time.
    pub mib_per_sec: f64,
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
    /// mib_per_sec over that of the 1-seeder round of the same run (none without such a round).
    pub speedup_vs_one_seeder: Option<f64>,
    /// What each online seeder sent in this round.
    pub per_seeder: Vec<SeederUpload>,
}

/// Sets each round's speedup against the 1-seeder round of the same run, if there is one.
pub fn fill_speedups(rows: &mut [TransferResult]) {
    let base = rows.iter().find(|r| r.seeders == 1).map(|r| r.mib_per_sec);
    for r in rows {
        r.speedup_vs_one_seeder = base.filter(|b| *b > 0.0).map(|b| r.mib_per_sec / b);
    }
}

/// The round table: one row per seeder count.
pub fn round_table(rows: &[TransferResult]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.seeders.to_string(),
                r.size_mib.to_string(),
                fmt(r.seconds, 2),
                fmt(r.mib_per_sec, 1),
                r.speedup_vs_one_seeder
                    .map_or_else(|| "-".to_string(), |x| format!("{x:.2}x")),
                fmt(r.first_byte_ms, 1),
                fmt(r.downloader_peak_rss_mib, 1),
            ]
        })
        .collect()
}

/// The per-seeder table: one row per seeder of each round.
pub fn seeder_table(rows: &[TransferResult]) -> Vec<Vec<String>> {
    rows.iter()
        .flat_map(|r| {
            r.per_seeder.iter().map(move |s| {
                let share = if r.size_mib > 0 {
                    100.0 * s.mib_sent / r.size_mib as f64
                } else {
                    0.0
                };
                vec![
                    r.seeders.to_string(),
                    s.seeder.clone(),
                    fmt(s.mib_sent, 1),
                    fmt(s.mib_per_sec, 1),
                    fmt(share, 1),
                ]
            })
        })
        .collect()
}

/// Runs the benchmark and prints its results.
///
/// # Errors
/// If any step fails or a download is not byte-identical.
pub async fn run(args: TransferArgs) -> anyhow::Result<()> {
    let mut rows = measure(
        args.size_mib,
        &args.seeders,
        args.seeder_upload_limit.as_deref(),
        !args.json,
    )
    .await?;
    fill_speedups(&mut rows);
    if args.json {
        return print_json(&serde_json::json!({ "scenario": "transfer", "rounds": rows }));
    }
    print_table(
        &[
            "SEEDERS",
            "SIZE_MIB",
            "SECONDS",
            "MIB/S",
            "SPEEDUP",
            "FIRST_BYTE_MS",
            "PEAK_RSS_MIB",
        ],
        &round_table(&rows),
    );
    print_table(
        &["SEEDERS", "SEEDER", "MIB_SENT", "MIB/S", "SHARE_%"],
        &seeder_table(&rows),
    );
    Ok(())
}

/// Measures each seeder count in turn, each seeder's upload capped at `seeder_upload_limit` if
/// given (printing each result as a JSON line if `lines`).
///
/// # Errors
/// If any step fails or a download is not byte-identical.
pub async fn measure(
    size_mib: u64,
    seeder_counts: &[usize],
    seeder_upload_limit: Option<&str>,
    lines: bool,
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
            let limit: Vec<&str> = match seeder_upload_limit {
                Some(rate) => vec!["--upload-limit", rate],
                None => Vec::new(),
            };
            seeders[started].start_daemon(&limit).await?;
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
        let mut served_before = Vec::with_capacity(started);
        for s in &seeders[..started] {
            served_before.push(s.chunks_served().await);
        }
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
        let mut per_seeder = Vec::with_capacity(started);
        for (s, before) in seeders[..started].iter().zip(served_before) {
            let chunks = s.chunks_served().await.saturating_sub(before);
            let mib = chunks as f64 * f64::from(DEFAULT_CHUNK_SIZE_BYTES) / (1 << 20) as f64;
            per_seeder.push(SeederUpload {
                seeder: s.name.clone(),
                mib_sent: mib,
                mib_per_sec: mib / secs,
            });
        }
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
            speedup_vs_one_seeder: None,
            per_seeder,
        };
        if lines {
            print_json(&r)?;
        }
        results.push(r);
        drop(d);
        let _ = std::fs::remove_file(&dest);
    }
    drop(seeders);
    cluster.stop_all(Duration::from_secs(5));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seeders: usize, mib_per_sec: f64, per: &[(&str, f64)]) -> TransferResult {
        TransferResult {
            scenario: "transfer",
            seeders,
            size_mib: 100,
            seconds: 100.0 / mib_per_sec,
            mib_per_sec,
            first_byte_ms: 1.0,
            downloader_peak_rss_mib: 10.0,
            speedup_vs_one_seeder: None,
            per_seeder: per
                .iter()
                .map(|(n, m)| SeederUpload {
                    seeder: n.to_string(),
                    mib_sent: *m,
                    mib_per_sec: *m * mib_per_sec / 100.0,
                })
                .collect(),
        }
    }

    #[test]
    fn speedup_is_against_the_one_seeder_round() {
        let mut rows = vec![
            row(1, 50.0, &[("s1", 100.0)]),
            row(2, 125.0, &[("s1", 40.0), ("s2", 60.0)]),
        ];
        fill_speedups(&mut rows);
        assert_eq!(rows[0].speedup_vs_one_seeder, Some(1.0));
        assert_eq!(rows[1].speedup_vs_one_seeder, Some(2.5));
        let t = round_table(&rows);
        assert_eq!(t[1][4], "2.50x");
        let per = seeder_table(&rows);
        assert_eq!(per.len(), 3);
        assert_eq!(per[2], vec!["2", "s2", "60.0", "75.0", "60.0"]);
    }

    #[test]
    fn no_speedup_without_a_one_seeder_round() {
        let mut rows = vec![row(3, 90.0, &[])];
        fill_speedups(&mut rows);
        assert_eq!(rows[0].speedup_vs_one_seeder, None);
        assert_eq!(round_table(&rows)[0][4], "-");
    }
}
