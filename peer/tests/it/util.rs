//! Helpers: a tracker cluster, peers with their own homes and daemons, polling with bounds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use cluster::process::tracker_program;
use cluster::LocalCluster;
use peer::control::{self, ControlRequest, ControlResponse, DownloadInfo, DownloadState};
use peer::home::Home;

/// The `peer` binary under test.
pub fn peer_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_peer"))
}

/// The `cluster` binary (built once if this test run did not build it).
pub fn cluster_exe() -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = peer_exe().with_file_name("cluster");
    BUILD.call_once(|| {
        if !exe.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "-p", "cluster"])
                .status()
                .map(|s| s.success());
            assert!(matches!(ok, Ok(true)), "could not build the cluster binary");
        }
    });
    exe
}

/// A 3-node cluster (children of the test, killed on drop).
pub async fn start_cluster(dir: &Path) -> LocalCluster {
    let specs = LocalCluster::plan(dir, 3, None).unwrap();
    let mut c = LocalCluster::new(dir, specs, vec![], false).unwrap();
    c.program = tracker_program(Some(cluster_exe()));
    c.start_all().unwrap();
    c.wait_leader(Duration::from_secs(30)).await.unwrap();
    // Every node up and answering as itself, so a test that kills one keeps a quorum.
    c.wait_converged(Duration::from_secs(30)).await.unwrap();
    c
}

/// One user's peer: a home directory and, when started, a daemon process.
pub struct Peer {
    /// Username (password is "pw-<name>-123").
    pub name: String,
    /// Home directory.
    pub home: PathBuf,
    trackers: String,
    daemon: Option<Child>,
    daemon_args: Vec<String>,
}

impl Peer {
    /// A peer of `cluster` with a home under `root`, signed up and logged in. Only these two
    /// commands name the CA (`--ca`); every later one uses the copy login kept in the home.
    pub fn signup(root: &Path, name: &str, cluster: &LocalCluster) -> Peer {
        let p = Peer {
            name: name.to_string(),
            home: root.join(name),
            trackers: cluster.trackers(),
            daemon: None,
            daemon_args: vec![],
        };
        let ca = cluster.ca_file().display().to_string();
        let create = ["--ca", &ca, "user", "create", name, "--password-stdin"];
        p.ok_stdin(&create, &p.password());
        p.ok_stdin(
            &["--ca", &ca, "login", name, "--password-stdin"],
            &p.password(),
        );
        p
    }

    /// A peer of `cluster` with a fresh home and no account or session yet (its daemon is
    /// started with `--ca`, and the account made and logged in over HTTP).
    pub fn fresh(root: &Path, name: &str, cluster: &LocalCluster) -> Peer {
        Home::open(&root.join(name)).unwrap();
        Peer {
            name: name.to_string(),
            home: root.join(name),
            trackers: cluster.trackers(),
            daemon: None,
            daemon_args: vec![],
        }
    }

    /// The password `signup` gives this peer's account.
    pub fn password_text(&self) -> String {
        format!("pw-{}-123", self.name)
    }

    /// The daemon's HTTP address (`127.0.0.1:PORT`, from `HOME/http.json`) and the home's access
    /// token (`HOME/http-token`).
    pub fn http(&self) -> (String, String) {
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.home.join("http.json")).unwrap()).unwrap();
        let url = info["url"].as_str().unwrap();
        let addr = url
            .strip_prefix("http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap()
            .to_string();
        let token = std::fs::read_to_string(self.home.join("http-token")).unwrap();
        (addr, token.trim().to_string())
    }

    fn password(&self) -> String {
        format!("pw-{}-123\n", self.name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(peer_exe());
        c.arg("--home")
            .arg(&self.home)
            .arg("--trackers")
            .arg(&self.trackers)
            .args(args);
        c.env_remove("PEER_PASSWORD");
        c
    }

    /// Runs a `peer` command and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs a `peer` command without `--trackers` (only what the home remembers, if anything).
    pub fn run_without_trackers(&self, args: &[&str]) -> Output {
        let mut c = Command::new(peer_exe());
        c.arg("--home").arg(&self.home).args(args);
        c.env_remove("PEER_PASSWORD").env_remove("PEER_TRACKERS");
        c.stdin(Stdio::null()).output().unwrap()
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "peer {} {:?} failed: {}{}",
            self.name,
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must fail; returns its one-line stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "peer {} {:?} should fail",
            self.name,
            args
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn ok_stdin(&self, args: &[&str], input: &str) {
        let out = self.command_with_stdin(args, input);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs a command with `input` on stdin.
    pub fn command_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Starts the daemon with extra flags and waits until it answers.
    pub async fn start_daemon(&mut self, extra: &[&str]) {
        self.daemon_args = extra.iter().map(|s| s.to_string()).collect();
        self.restart_daemon().await;
    }

    /// Starts the daemon again with the same flags.
    pub async fn restart_daemon(&mut self) {
        let log = std::fs::File::create(self.home.join("daemon.log")).unwrap();
        let child = self
            .command(&["daemon"])
            .args(&self.daemon_args)
            .env(
                "RUST_LOG",
                std::env::var("TEST_PEER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let home = Home::open(&self.home).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if control::call(&home, &ControlRequest::Status, Duration::from_secs(2))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon of {} did not start: see {}/daemon.log",
                self.name,
                self.home.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the daemon (a crash).
    pub fn kill_daemon(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERMs the daemon (a clean stop) and waits up to `limit` for it to exit: its exit
    /// status, or `None` (then SIGKILLed) if it did not exit in time.
    pub fn terminate_daemon(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.daemon.take()?;
        cluster::process::signal(c.id(), libc::SIGTERM);
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// The session token stored in a peer's home.
    pub fn token_of(p: &Peer) -> proto::tracker_msg::SessionToken {
        Home::open(&p.home).unwrap().session().unwrap().token
    }

    /// This peer's id.
    pub fn peer_id(&self) -> u64 {
        Home::open(&self.home).unwrap().peer_id().unwrap()
    }

    /// The daemon's view of one download.
    pub async fn download_info(&self, name: &str) -> Option<DownloadInfo> {
        let home = Home::open(&self.home).unwrap();
        match control::call(&home, &ControlRequest::Downloads, Duration::from_secs(5)).await {
            Ok(ControlResponse::Downloads(list)) => list.into_iter().find(|d| d.name == name),
            _ => None,
        }
    }

    /// Waits until the download of `name` completes (or fails the test).
    pub async fn wait_complete(&self, name: &str, limit: Duration) -> DownloadInfo {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(d) = self.download_info(name).await {
                match &d.state {
                    DownloadState::Complete => return d,
                    DownloadState::Failed(why) => {
                        panic!("download of {name} by {} failed: {why}", self.name)
                    }
                    DownloadState::Cancelled => {
                        panic!("download of {name} by {} was cancelled", self.name)
                    }
                    DownloadState::Running => {}
                }
            }
            assert!(
                Instant::now() < deadline,
                "download of {name} by {} did not finish in {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the download of `name` has at least `fraction` of its bytes.
    pub async fn wait_progress(&self, name: &str, fraction: f64, limit: Duration) -> DownloadInfo {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(d) = self.download_info(name).await {
                if d.bytes_done as f64 >= d.total_bytes as f64 * fraction
                    || d.state == DownloadState::Complete
                {
                    return d;
                }
            }
            assert!(
                Instant::now() < deadline,
                "download of {name} by {} stalled",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill_daemon();
    }
}

/// Writes `size` pseudo-random bytes (seeded) to `path`.
pub fn random_file(path: &Path, size: usize, seed: u64) {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(path, data).unwrap();
}

/// A cluster plus an owner `alice` with group `g`, and the given members (all in `g`).
pub async fn group_with(root: &Path, members: &[&str]) -> (LocalCluster, Peer, Vec<Peer>) {
    let cluster = start_cluster(&root.join("cluster")).await;
    let alice = Peer::signup(root, "alice", &cluster);
    alice.ok(&["group", "create", "g"]);
    let mut peers = Vec::new();
    for m in members {
        let p = Peer::signup(root, m, &cluster);
        p.ok(&["group", "join", "g"]);
        alice.ok(&["group", "accept", "g", m]);
        peers.push(p);
    }
    (cluster, alice, peers)
}

/// Whether two files have the same bytes.
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}
