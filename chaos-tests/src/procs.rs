//! Every process a benchmark starts is this same executable with a hidden first argument: `node`
//! runs a tracker node, `peer` runs the peer command line. So one `cargo run --release -p
//! chaos-tests --bin bench` needs nothing else built, and every SIGKILL is a real crash.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use cluster::process::TrackerProgram;
use cluster::LocalCluster;
use peer::control::{self, ControlRequest};
use peer::home::Home;

/// If the process was started as `node ...` or `peer ...`, runs that and returns its exit code.
pub fn run_embedded() -> Option<std::process::ExitCode> {
    use clap::Parser;
    let mut args = std::env::args_os();
    let exe = args.next()?;
    let first = args.next()?;
    let rest: Vec<_> = std::iter::once(exe).chain(args).collect();
    match first.to_str()? {
        "node" => Some(tracker::run_process(tracker::config::Args::parse_from(
            rest,
        ))),
        "peer" => Some(peer::run_process(peer::cli::Cli::parse_from(rest))),
        _ => None,
    }
}

/// Starts an `n`-node cluster under `dir` whose nodes are this executable's `node`.
///
/// # Errors
/// If the nodes cannot start or elect a leader.
pub async fn start_cluster(
    dir: &Path,
    n: u64,
    tracker_args: Vec<String>,
) -> anyhow::Result<LocalCluster> {
    let specs = LocalCluster::plan(dir, n, None)?;
    let mut c = LocalCluster::new(dir, specs, tracker_args, false);
    c.program = TrackerProgram {
        program: std::env::current_exe()?,
        prefix_args: vec!["node".into()],
    };
    c.start_all()?;
    c.wait_leader(Duration::from_secs(30)).await?;
    Ok(c)
}

/// One peer: a home and, once started, a daemon process.
pub struct BenchPeer {
    /// Username.
    pub name: String,
    /// Home directory.
    pub home: PathBuf,
    trackers: String,
    /// The daemon, if running.
    pub daemon: Option<Child>,
}

impl BenchPeer {
    /// A peer with a home under `root`, signed up and logged in.
    ///
    /// # Errors
    /// If the tracker refuses.
    pub fn signup(root: &Path, name: &str, trackers: &str) -> anyhow::Result<Self> {
        let p = BenchPeer {
            name: name.to_string(),
            home: root.join(name),
            trackers: trackers.to_string(),
            daemon: None,
        };
        p.cli(&["user", "create", name])?;
        p.cli(&["login", name])?;
        Ok(p)
    }

    fn command(&self, args: &[&str]) -> anyhow::Result<Command> {
        let mut c = Command::new(std::env::current_exe()?);
        c.arg("peer")
            .arg("--home")
            .arg(&self.home)
            .arg("--trackers")
            .arg(&self.trackers)
            .args(args)
            .env("PEER_PASSWORD", format!("bench-{}-pw", self.name));
        Ok(c)
    }

    /// Runs a peer command; returns stdout.
    ///
    /// # Errors
    /// If it exits nonzero (with its stderr).
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.command(args)?.stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!(
                "peer {} {args:?}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the daemon and waits until it answers.
    ///
    /// # Errors
    /// If it does not come up within 30 s.
    pub async fn start_daemon(&mut self, extra: &[&str]) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.home.join("daemon.log"))?;
        let child = self
            .command(&["daemon"])?
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("while starting a peer daemon")?;
        self.daemon = Some(child);
        let home = Home::open(&self.home)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while control::call(&home, &ControlRequest::Status, Duration::from_secs(2))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!(
                    "daemon of {} did not start; see {}/daemon.log",
                    self.name,
                    self.home.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Peak resident memory of the daemon so far (VmHWM), in bytes.
    pub fn daemon_peak_rss(&self) -> Option<u64> {
        let pid = self.daemon.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }
}

impl Drop for BenchPeer {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            cluster::process::stop(c.id(), Some(&mut c), Duration::from_secs(5));
        }
    }
}

/// Writes `mib` MiB of pseudo-random bytes (xorshift; fast, incompressible).
///
/// # Errors
/// I/O errors.
pub fn random_file(path: &Path, mib: u64, seed: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for w in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block)?;
    }
    f.flush()
}

/// Whether two files have the same bytes (compared in 1 MiB blocks).
///
/// # Errors
/// I/O errors.
pub fn files_equal(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}
