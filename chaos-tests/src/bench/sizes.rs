//! `bench sizes`: upload and download time across file sizes (1 KiB, 1 MiB, 16 MiB, 256 MiB,
//! 1 GiB; `--max-mib` cuts the top) and for many small files. One seeder daemon shares each file
//! (the upload: hashing every chunk and registering the file, as `peer upload` does through the
//! daemon's control socket) and one downloader daemon fetches it through the real download path
//! (every chunk verified); each download is compared byte for byte with its source.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use cluster::peer_process::{PeerProcess, PeerProgram};
use peer::control::{self, ControlRequest, ControlResponse, DownloadState};
use peer::home::Home;

use crate::procs::start_cluster;

use super::stats::{fmt, print_json, print_table};

/// The sweep's sizes, in KiB.
pub const SWEEP_KIB: [u64; 5] = [1, 1 << 10, 16 << 10, 256 << 10, 1 << 20];

/// Options of `bench sizes`.
#[derive(Debug, Clone, clap::Args)]
pub struct SizesArgs {
    /// Leave out the sweep's sizes above this many MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_mib: u64,
    /// Small files shared and downloaded as one batch (0: none).
    #[arg(long, default_value_t = 1000)]
    pub small_files: usize,
    /// Size of each small file, in KiB.
    #[arg(long, default_value_t = 4)]
    pub small_kib: u64,
    /// Print one JSON object instead of the JSON lines and the table.
    #[arg(long)]
    pub json: bool,
}

/// One row: a file, or the batch of small files.
#[derive(Debug, Clone, Serialize)]
pub struct SizeResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Files in the row (1, or the batch's count).
    pub files: usize,
    /// Bytes of each file.
    pub bytes_each: u64,
    /// Time to share them all (hashing and registering), one after another.
    pub upload_seconds: f64,
    /// Time from the first download request to the last file verified in place.
    pub download_seconds: f64,
    /// Total MiB / download_seconds.
    pub download_mib_per_sec: f64,
}

/// The sweep's sizes at most `max_mib`, in KiB.
pub fn sweep(max_mib: u64) -> Vec<u64> {
    SWEEP_KIB
        .iter()
        .copied()
        .filter(|&k| k <= max_mib.saturating_mul(1024))
        .collect()
}

/// A size for the table: KiB below a MiB, MiB below a GiB, else GiB.
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// The table: one row per size and one for the batch.
pub fn table(rows: &[SizeResult]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let what = if r.files == 1 {
                size_label(r.bytes_each)
            } else {
                format!("{} x {}", r.files, size_label(r.bytes_each))
            };
            vec![
                what,
                fmt(r.upload_seconds * 1000.0, 1),
                fmt(r.download_seconds * 1000.0, 1),
                fmt(r.download_mib_per_sec, 1),
            ]
        })
        .collect()
}

/// Writes `bytes` pseudo-random, incompressible bytes (xorshift from `seed`).
///
/// # Errors
/// I/O errors.
pub fn random_bytes_file(path: &Path, bytes: u64, seed: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for w in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len() as u64);
        f.write_all(&block[..n as usize])?;
        left -= n;
    }
    f.flush()
}

/// Runs the benchmark.
///
/// # Errors
/// If any step fails or a download differs from its source.
pub async fn run(args: SizesArgs) -> anyhow::Result<()> {
    let root = tempfile::Builder::new().prefix("bench-sizes-").tempdir()?;
    let mut cluster = start_cluster(&root.path().join("cluster"), 3, vec![]).await?;
    let outcome = measure(root.path(), &cluster, &args).await;
    cluster.stop_all(Duration::from_secs(5));
    let rows = outcome?;
    if args.json {
        return print_json(&serde_json::json!({ "scenario": "sizes", "rows": rows }));
    }
    print_table(
        &["FILE", "UPLOAD_MS", "DOWNLOAD_MS", "DOWNLOAD_MIB/S"],
        &table(&rows),
    );
    Ok(())
}

async fn measure(
    root: &Path,
    cluster: &cluster::LocalCluster,
    args: &SizesArgs,
) -> anyhow::Result<Vec<SizeResult>> {
    let (trackers, ca) = (cluster.trackers(), cluster.ca_file());
    let program = PeerProgram::this_exe()?;
    let mut seeder = PeerProcess::new(program.clone(), root, "s1", &trackers, &ca);
    seeder.signup()?;
    seeder.cli(&["group", "create", "bench"])?;
    let mut down = PeerProcess::new(program, root, "dl", &trackers, &ca);
    down.signup()?;
    down.cli(&["group", "join", "bench"])?;
    seeder.cli(&["group", "accept", "bench", &down.name])?;
    seeder.start_daemon(&[]).await?;
    down.start_daemon(&[]).await?;
    let (seed_home, down_home) = (Home::open(&seeder.home)?, Home::open(&down.home)?);
    let files = root.join("files");
    std::fs::create_dir_all(&files)?;
    let mut rows = Vec::new();
    for (i, kib) in sweep(args.max_mib).into_iter().enumerate() {
        let bytes = kib * 1024;
        let name = format!("size-{kib}k.bin");
        let src = files.join(&name);
        random_bytes_file(&src, bytes, 0x5eed + i as u64).context("generating a file")?;
        let row = batch(&seed_home, &down_home, root, &[(name, src)], bytes).await?;
        emit(args, &row)?;
        rows.push(row);
    }
    if args.small_files > 0 {
        let bytes = args.small_kib * 1024;
        let mut list = Vec::with_capacity(args.small_files);
        for i in 0..args.small_files {
            let name = format!("small-{i}.bin");
            let src = files.join(&name);
            random_bytes_file(&src, bytes, 0xab5 + i as u64).context("generating a file")?;
            list.push((name, src));
        }
        let row = batch(&seed_home, &down_home, root, &list, bytes).await?;
        emit(args, &row)?;
        rows.push(row);
    }
    drop((seeder, down));
    Ok(rows)
}

fn emit(args: &SizesArgs, row: &SizeResult) -> anyhow::Result<()> {
    if !args.json {
        print_json(row)?;
    }
    Ok(())
}

/// Shares every file of `list` (one after another), then asks for all of them at once and waits
/// until every one is verified in place.
async fn batch(
    seed_home: &Home,
    down_home: &Home,
    root: &Path,
    list: &[(String, PathBuf)],
    bytes_each: u64,
) -> anyhow::Result<SizeResult> {
    let limit = Duration::from_secs(900);
    super::fixture::settle_disk();
    let t0 = Instant::now();
    for (name, src) in list {
        let req = ControlRequest::Upload {
            group: "bench".into(),
            path: src.clone(),
            name: name.clone(),
            chunk_size_bytes: None,
            as_new: false,
        };
        match control::call(seed_home, &req, limit).await? {
            ControlResponse::Uploaded { .. } => {}
            other => anyhow::bail!("sharing {name}: {other:?}"),
        }
    }
    let upload_seconds = t0.elapsed().as_secs_f64();
    let dests: Vec<PathBuf> = list
        .iter()
        .map(|(name, _)| root.join(format!("dl-{name}")))
        .collect();
    super::fixture::settle_disk();
    let t1 = Instant::now();
    let mut ids = std::collections::HashSet::new();
    for ((name, _), dest) in list.iter().zip(&dests) {
        let req = ControlRequest::Download {
            group: "bench".into(),
            name: name.clone(),
            dest: Some(dest.clone()),
            expect: None,
        };
        match control::call(down_home, &req, Duration::from_secs(30)).await? {
            ControlResponse::DownloadStarted { id } => ids.insert(id),
            other => anyhow::bail!("downloading {name}: {other:?}"),
        };
    }
    loop {
        let list = match control::call(
            down_home,
            &ControlRequest::Downloads,
            Duration::from_secs(30),
        )
        .await?
        {
            ControlResponse::Downloads(l) => l,
            other => anyhow::bail!("listing downloads: {other:?}"),
        };
        let mut done = 0;
        for d in list.iter().filter(|d| ids.contains(&d.id)) {
            match &d.state {
                DownloadState::Complete => done += 1,
                DownloadState::Failed(why) => anyhow::bail!("download of {} failed: {why}", d.name),
                DownloadState::Cancelled => anyhow::bail!("download of {} was cancelled", d.name),
                DownloadState::Running => {}
            }
        }
        if done == ids.len() {
            break;
        }
        if t1.elapsed() > limit {
            anyhow::bail!("downloads not finished in {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let download_seconds = t1.elapsed().as_secs_f64();
    for ((_, src), dest) in list.iter().zip(&dests) {
        anyhow::ensure!(
            crate::procs::files_equal(src, dest)?,
            "{} differs from its source",
            dest.display()
        );
        let _ = std::fs::remove_file(dest);
    }
    let total_mib = (bytes_each * list.len() as u64) as f64 / (1 << 20) as f64;
    Ok(SizeResult {
        scenario: "sizes",
        files: list.len(),
        bytes_each,
        upload_seconds,
        download_seconds,
        download_mib_per_sec: total_mib / download_seconds.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_mib_cuts_the_top() {
        assert_eq!(sweep(1024), SWEEP_KIB.to_vec());
        assert_eq!(sweep(16), vec![1, 1024, 16 * 1024]);
        assert_eq!(sweep(0), Vec::<u64>::new());
    }

    #[test]
    fn labels_and_rows() {
        assert_eq!(size_label(1024), "1 KiB");
        assert_eq!(size_label(256 << 20), "256 MiB");
        assert_eq!(size_label(1 << 30), "1 GiB");
        let r = SizeResult {
            scenario: "sizes",
            files: 1000,
            bytes_each: 4096,
            upload_seconds: 2.0,
            download_seconds: 0.5,
            download_mib_per_sec: 7.8,
        };
        assert_eq!(
            table(&[r])[0],
            vec!["1000 x 4 KiB", "2000.0", "500.0", "7.8"]
        );
    }

    #[test]
    fn random_files_have_the_asked_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        random_bytes_file(&p, 1500, 3).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 1500);
        random_bytes_file(&p, (1 << 20) + 1, 3).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), (1 << 20) + 1);
    }
}
