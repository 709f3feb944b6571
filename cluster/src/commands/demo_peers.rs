//! Part 2 of `cluster demo`: three peer daemons (this binary's hidden `peer` subcommand), a
//! generated file shared by one and downloaded by two at once with progress bars, the tracker
//! leader SIGKILLed mid-transfer, and a summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use cluster::peer_process::{random_file, PeerProcess, PeerProgram};
use cluster::LocalCluster;
use peer::control::{DownloadInfo, DownloadState};

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
    let ca = cluster.ca_file();
    println!("\n== part 2: three peers share a {file_mib} MiB file; the tracker leader dies mid-transfer");
    let program = PeerProgram::this_exe()?;
    let mut peers: Vec<PeerProcess> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|name| PeerProcess::new(program.clone(), dir, name, &trackers, &ca))
        .collect();
    for p in &peers {
        p.signup()?;
    }
    peers[0].cli(&["group", "create", "demo"])?;
    for i in 1..3 {
        peers[i].cli(&["group", "join", "demo"])?;
        peers[0].cli(&["group", "accept", "demo", &peers[i].name])?;
    }
    println!("   users alice, bob, carol in group 'demo' (owner alice)");
    peers[0]
        .start_daemon(&["--upload-limit", upload_limit])
        .await?;
    peers[1].start_daemon(&[]).await?;
    peers[2].start_daemon(&[]).await?;
    let src = dir.join("demo-file.bin");
    random_file(&src, file_mib, 0x9E37_79B9_7F4A_7C15).context("while generating the demo file")?;
    let shared = peers[0].cli(&["upload", "demo", src.to_str().unwrap_or_default()])?;
    print!("   alice: {shared}");
    println!("   alice's upload is capped at {upload_limit}/s; bob and carol download at once and trade chunks");

    let dests: Vec<PathBuf> = (1..3)
        .map(|i| dir.join(format!("{}-copy.bin", peers[i].name)))
        .collect();
    let started = Instant::now();
    for (i, dest) in (1..3).zip(&dests) {
        peers[i].cli(&[
            "download",
            "demo",
            "demo-file.bin",
            dest.to_str().unwrap_or_default(),
            "--detach",
        ])?;
    }
    let tty = std::io::stdout().is_terminal();
    let mut killed: Option<(u64, Instant)> = None;
    let mut leaderless: Option<Duration> = None;
    let mut finished: [Option<Duration>; 2] = [None, None];
    let mut last_print = Instant::now() - Duration::from_secs(1);
    let mut drawn = false;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let infos = [
            peers[1].first_download().await,
            peers[2].first_download().await,
        ];
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
            "   {:<6} finished in {secs:.2} s ({:.1} MiB/s), byte-identical (SHA-1 of every chunk checked)",
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
