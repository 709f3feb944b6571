//! A peer as a separate process for demos, benchmarks and chaos runs: a home directory, the peer
//! command line run as a child (`<program> [prefix] --home H --trackers T ...`), and a daemon
//! child that is stopped when the handle is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use peer::control::{self, ControlRequest, ControlResponse, DownloadInfo};
use peer::home::Home;

/// How to run the peer command line: this executable's hidden `peer` subcommand by default.
#[derive(Debug, Clone)]
pub struct PeerProgram {
    /// Executable.
    pub program: PathBuf,
    /// Arguments before the peer's own.
    pub prefix_args: Vec<String>,
}

impl PeerProgram {
    /// The running executable with a `peer` first argument (`cluster peer`, `bench peer`).
    ///
    /// # Errors
    /// If the executable's path is unknown.
    pub fn this_exe() -> std::io::Result<Self> {
        Ok(PeerProgram {
            program: std::env::current_exe()?,
            prefix_args: vec!["peer".into()],
        })
    }
}

/// Errors of peer processes.
#[derive(Debug, thiserror::Error)]
pub enum PeerProcessError {
    /// A command exited nonzero.
    #[error("peer {name} {args}: {stderr}")]
    Command {
        /// Peer.
        name: String,
        /// Arguments.
        args: String,
        /// What it said.
        stderr: String,
    },
    /// The daemon did not come up.
    #[error("the daemon of {name} did not start; see {log}")]
    DaemonStart {
        /// Peer.
        name: String,
        /// Its log.
        log: String,
    },
    /// I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Home trouble.
    #[error(transparent)]
    Home(#[from] peer::home::HomeError),
}

/// One peer process set.
pub struct PeerProcess {
    /// Username; the password is `<password_prefix>-<name>-pw`.
    pub name: String,
    /// Home directory.
    pub home: PathBuf,
    trackers: String,
    /// The cluster CA (`--ca`).
    ca: PathBuf,
    program: PeerProgram,
    /// The daemon, if running.
    daemon: Option<Child>,
}

impl PeerProcess {
    /// A peer with a home under `root` that reaches `trackers` and trusts the CA in `ca`;
    /// nothing is run yet.
    pub fn new(program: PeerProgram, root: &Path, name: &str, trackers: &str, ca: &Path) -> Self {
        PeerProcess {
            name: name.to_string(),
            home: root.join(format!("peer-{name}")),
            trackers: trackers.to_string(),
            ca: ca.to_path_buf(),
            program,
            daemon: None,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.program.program);
        c.args(&self.program.prefix_args)
            .arg("--home")
            .arg(&self.home)
            .arg("--trackers")
            .arg(&self.trackers)
            .arg("--ca")
            .arg(&self.ca)
            .args(args)
            .env("PEER_PASSWORD", format!("{}-peer-pw", self.name));
        c
    }

    /// Runs a peer command; returns its stdout.
    ///
    /// # Errors
    /// [`PeerProcessError::Command`] with its stderr if it exits nonzero.
    pub fn cli(&self, args: &[&str]) -> Result<String, PeerProcessError> {
        let out = self.command(args).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            return Err(PeerProcessError::Command {
                name: self.name.clone(),
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates the account and logs in.
    ///
    /// # Errors
    /// The tracker's refusal.
    pub fn signup(&self) -> Result<(), PeerProcessError> {
        self.cli(&["user", "create", &self.name])?;
        self.cli(&["login", &self.name])?;
        Ok(())
    }

    /// Starts the daemon (log in `HOME/daemon.log`) and waits until it answers.
    ///
    /// # Errors
    /// If it cannot start or does not answer within 30 s.
    pub async fn start_daemon(&mut self, extra: &[&str]) -> Result<(), PeerProcessError> {
        std::fs::create_dir_all(&self.home)?;
        let log = std::fs::File::create(self.home.join("daemon.log"))?;
        let child = self
            .command(&["daemon"])
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
                return Err(PeerProcessError::DaemonStart {
                    name: self.name.clone(),
                    log: self.home.join("daemon.log").display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The first download of this home, as the daemon reports it.
    pub async fn first_download(&self) -> Option<DownloadInfo> {
        let home = Home::open(&self.home).ok()?;
        match control::call(&home, &ControlRequest::Downloads, Duration::from_secs(5)).await {
            Ok(ControlResponse::Downloads(list)) => list.into_iter().next(),
            _ => None,
        }
    }

    /// Chunks the daemon served since it started.
    pub async fn chunks_served(&self) -> u64 {
        let Ok(home) = Home::open(&self.home) else {
            return 0;
        };
        match control::call(&home, &ControlRequest::Status, Duration::from_secs(5)).await {
            Ok(ControlResponse::Status(s)) => s.chunks_served,
            _ => 0,
        }
    }

    /// Process id of the daemon, if it was started.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
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

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            crate::process::stop(c.id(), Some(&mut c), Duration::from_secs(5));
        }
    }
}

/// Writes `mib` MiB of pseudo-random, incompressible bytes (xorshift from `seed`).
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
