//! Part 2 of `cluster demo`: three peer daemons (this binary's hidden `peer` subcommand), a
//! generated file shared by one and downloaded by two at once with progress bars, the tracker
//! leader SIGKILLed mid-transfer, and a summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use cluster::LocalCluster;
use peer::control::{self, ControlRequest, ControlResponse, DownloadInfo, DownloadState};
use peer::home::Home;

/// One demo peer: its home and daemon process.
struct DemoPeer {
    name: &'static str,
    home: PathBuf,
    daemon: Option<Child>,
}

impl DemoPeer {
    fn cli(&self, trackers: &str, args: &[&str]) -> anyhow::Result<String> {
        let exe = std::env::current_exe()?;
        let out = Command::new(exe)
            .arg("peer")
            .arg("--home")
            .arg(&self.home)
            .arg("--trackers")
            .arg(trackers)
            .args(args)
            .env("PEER_PASSWORD", format!("demo-{}-pw", self.name))
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!(
                "peer {} {args:?}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn start_daemon(&mut self, trackers: &str, extra: &[&str]) -> anyhow::Result<()> {
        let exe = std::env::current_exe()?;
        let log = std::fs::File::create(self.home.join("daemon.log"))?;
        let child = Command::new(exe)
            .arg("peer")
            .arg("--home")
            .arg(&self.home)
            .arg("--trackers")
            .arg(trackers)
            .arg("daemon")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.daemon = Some(child);
        let home = Home::open(&self.home)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while control::call(&home, &ControlRequest::Status, Duration::from_secs(2))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!(
                    "the daemon of {} did not start; see {}/daemon.log",
                    self.name,
                    self.home.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn download(&self) -> Option<DownloadInfo> {
        let home = Home::open(&self.home).ok()?;
        match control::call(&home, &ControlRequest::Downloads, Duration::from_secs(5)).await {
            Ok(ControlResponse::Downloads(list)) => list.into_iter().next(),
            _ => None,
        }
    }

    async fn chunks_served(&self) -> u64 {
        let Ok(home) = Home::open(&self.home) else {
            return 0;
        };
        match control::call(&home, &ControlRequest::Status, Duration::from_secs(5)).await {
            Ok(ControlResponse::Status(s)) => s.chunks_served,
            _ => 0,
        }
    }
}

impl Drop for DemoPeer {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            cluster::process::stop(c.id(), Some(&mut c), Duration::from_secs(5));
        }
    }
}

/// Writes `mib` MiB of pseudo-random bytes.
fn generate(path: &Path, mib: u64) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block)?;
    }
    f.flush()?;
    Ok(())
}

fn bar(d: &DownloadInfo) -> String {
    let pct = if d.total_bytes == 0 {
        100.0
    } else {
        d.bytes_done as f64 * 100.0 / d.total_bytes as f64
    };
    let filled = ((pct / 100.0) * 30.0) as usize;
    format!(
        "[{}{}] {pct:5.1}% {:7.1} MiB/s peers {}",
        "#".repeat(filled.min(30)),
        "-".repeat(30 - filled.min(30)),
        d.bytes_per_sec as f64 / (1 << 20) as f64,
        d.peers
    )
}

/// Runs part 2 on a running cluster.
///
/// # Errors
/// If a peer step fails or a download is not byte-identical.
pub async fn run(
    cluster: &mut LocalCluster,
    dir: &Path,
    file_mib: u64,
    upload_limit: &str,
) -> anyhow::Result<()> {
    let trackers = cluster.trackers();
    println!("\n== part 2: three peers share a {file_mib} MiB file; the tracker leader dies mid-transfer");
    let mut peers: Vec<DemoPeer> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|name| DemoPeer {
            name,
            home: dir.join(format!("peer-{name}")),
            daemon: None,
        })
        .collect();
    for p in &peers {
        p.cli(&trackers, &["user", "create", p.name])?;
        p.cli(&trackers, &["login", p.name])?;
    }
    peers[0].cli(&trackers, &["group", "create", "demo"])?;
    for i in 1..3 {
        peers[i].cli(&trackers, &["group", "join", "demo"])?;
        peers[0].cli(&trackers, &["group", "accept", "demo", peers[i].name])?;
    }
    println!("   users alice, bob, carol in group 'demo' (owner alice)");
    peers[0]
        .start_daemon(&trackers, &["--upload-limit", upload_limit])
        .await?;
    peers[1].start_daemon(&trackers, &[]).await?;
    peers[2].start_daemon(&trackers, &[]).await?;
    let src = dir.join("demo-file.bin");
    generate(&src, file_mib).context("while generating the demo file")?;
    let shared = peers[0].cli(
        &trackers,
        &["upload", "demo", src.to_str().unwrap_or_default()],
    )?;
    print!("   alice: {shared}");
    println!("   alice's upload is capped at {upload_limit}/s; bob and carol download at once and trade chunks");

    let dests: Vec<PathBuf> = (1..3)
        .map(|i| dir.join(format!("{}-copy.bin", peers[i].name)))
        .collect();
    let started = Instant::now();
    for (i, dest) in (1..3).zip(&dests) {
        peers[i].cli(
            &trackers,
            &[
                "download",
                "demo",
                "demo-file.bin",
                dest.to_str().unwrap_or_default(),
                "--detach",
            ],
        )?;
    }
    let tty = std::io::stdout().is_terminal();
    let mut killed: Option<(u64, Instant)> = None;
    let mut leaderless: Option<Duration> = None;
    let mut finished: [Option<Duration>; 2] = [None, None];
    let mut last_print = Instant::now() - Duration::from_secs(1);
    let mut drawn = false;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let infos = [peers[1].download().await, peers[2].download().await];
        let mut done_bytes = 0u64;
        let mut total = 0u64;
        for (k, info) in infos.iter().enumerate() {
            let Some(d) = info else { continue };
            done_bytes += d.bytes_done;
            total += d.total_bytes;
            match &d.state {
                DownloadState::Complete if finished[k].is_none() => {
                    finished[k] = Some(started.elapsed())
                }
                DownloadState::Failed(why) => {
                    bail!("download by {} failed: {why}", peers[k + 1].name)
                }
                _ => {}
            }
        }
        if tty || last_print.elapsed() >= Duration::from_secs(1) {
            if tty && drawn {
                print!("\x1b[2A");
            }
            for (k, info) in infos.iter().enumerate() {
                if let Some(d) = info {
                    println!("   {:<6}{}\x1b[K", peers[k + 1].name, bar(d));
                }
            }
            drawn = true;
            last_print = Instant::now();
        }
        if killed.is_none() && total > 0 && done_bytes * 10 >= total * 4 {
            let leader = cluster.wait_leader(Duration::from_secs(10)).await?;
            cluster.kill(leader.node_id);
            killed = Some((leader.node_id, Instant::now()));
            let new = cluster.wait_leader(Duration::from_secs(20)).await?;
            let gap = killed.map(|(_, at)| at.elapsed()).unwrap_or_default();
            leaderless = Some(gap);
            if tty {
                drawn = false;
            }
            println!(
                "   SIGKILL tracker leader node {}; node {} leads after {:.0} ms",
                leader.node_id,
                new.node_id,
                gap.as_secs_f64() * 1000.0
            );
        }
        if finished.iter().all(Option::is_some) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the downloads did not finish within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some((id, _)) = killed {
        cluster.start_node(id)?;
    }
    for (i, dest) in (1..3).zip(&dests) {
        let same = std::fs::read(dest)? == std::fs::read(&src)?;
        if !same {
            bail!("{}'s copy differs from the original", peers[i].name);
        }
    }
    let size_mib = file_mib as f64;
    println!("== summary");
    println!(
        "   file: {file_mib} MiB, {} chunks of 512 KiB",
        file_mib * 2
    );
    for (k, t) in finished.iter().enumerate() {
        let secs = t.unwrap_or_default().as_secs_f64();
        println!(
            "   {:<6} finished in {secs:.2} s ({:.1} MiB/s), byte-identical (SHA-1 per chunk and whole file)",
            peers[k + 1].name,
            size_mib / secs.max(0.001)
        );
    }
    if let Some(g) = leaderless {
        println!(
            "   time without a tracker leader: {:.0} ms (downloads kept going)",
            g.as_secs_f64() * 1000.0
        );
    }
    for p in &peers {
        println!(
            "   chunks served by {:<6} {}",
            p.name,
            p.chunks_served().await
        );
    }
    Ok(())
}
