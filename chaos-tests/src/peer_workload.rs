//! The peer workload of a chaos run: real peer daemons (this executable's hidden `peer`
//! subcommand) that keep downloading real files while the trackers suffer faults.
//!
//! A seeder daemon shares a few generated files in one group; two downloader daemons download
//! them again and again through `peer download --detach`, each time to a new destination, with
//! every daemon's upload capped so a transfer spans several faults. When the faults stop, no new
//! download starts and the running ones get a bounded time to finish. Checker "downloads
//! byte-identical": every download the daemon reports complete must equal its source byte for
//! byte; a download that fails (e.g. no tracker reachable) is counted, not a violation; a run of
//! at least [`MIN_RUN_FOR_A_DOWNLOAD`] with no completed download is a violation, and so is a
//! download still running when the drain time is up. Every daemon is stopped at the end and must
//! leave no process and no open port behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use cluster::peer_process::{random_file, PeerProcess, PeerProgram};
use peer::control::{self, ControlRequest, ControlResponse, DownloadInfo, DownloadState};
use peer::home::Home;

/// The group the peer daemons share files in.
pub const GROUP: &str = "chaos-share";
/// A run at least this long must complete at least one download.
pub const MIN_RUN_FOR_A_DOWNLOAD: Duration = Duration::from_secs(5);
/// Distinct failure reasons kept in the report.
const REASONS_KEPT: usize = 5;
const POLL_EVERY: Duration = Duration::from_millis(200);
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// Knobs of the peer workload.
#[derive(Debug, Clone)]
pub struct PeerWorkloadConfig {
    /// Size of each shared file, MiB (one file per entry).
    pub file_mib: Vec<u64>,
    /// `--upload-limit` of every daemon (e.g. `4M`).
    pub upload_limit: String,
    /// How long running downloads may take to finish once the faults stop.
    pub drain: Duration,
}

/// What the downloads did (the report's `downloads` field).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownloadReport {
    /// Peer daemons run (one seeder, the rest downloaders).
    pub daemons: usize,
    /// Files shared by the seeder.
    pub files: usize,
    /// Downloads asked for.
    pub started: u64,
    /// Downloads the daemon reported complete and that matched their source byte for byte.
    pub completed: u64,
    /// Downloads that could not start or that the daemon gave up.
    pub failed: u64,
    /// Downloads still running when the drain time was up.
    pub unfinished: u64,
    /// Bytes of completed downloads compared with their source.
    pub bytes_verified: u64,
    /// The first few distinct failure reasons.
    pub failure_reasons: Vec<String>,
}

/// One file the seeder shares.
struct SharedFile {
    name: String,
    path: PathBuf,
    size_bytes: u64,
}

/// Counters and findings shared by the downloader tasks.
#[derive(Default)]
struct Tally {
    report: DownloadReport,
    violations: Vec<String>,
}

impl Tally {
    fn failed(&mut self, why: &str) {
        self.report.failed += 1;
        let why: String = why.chars().take(200).collect();
        if self.report.failure_reasons.len() < REASONS_KEPT
            && !self.report.failure_reasons.contains(&why)
        {
            self.report.failure_reasons.push(why);
        }
    }
}

/// Running peer daemons and their download tasks.
pub struct PeerWorkload {
    peers: Vec<Arc<PeerProcess>>,
    stop: Arc<AtomicBool>,
    abandon: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    tally: Arc<Mutex<Tally>>,
    drain: Duration,
}

/// Runs a blocking peer command off the async workers.
async fn cli(p: &Arc<PeerProcess>, args: Vec<String>) -> anyhow::Result<String> {
    let p = p.clone();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.cli(&args)
    })
    .await??;
    Ok(out)
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl PeerWorkload {
    /// Signs up the peers, starts their daemons, shares the files and starts downloading.
    ///
    /// # Errors
    /// If a peer cannot sign up, start or share (the cluster must be healthy when this runs).
    pub async fn start(
        root: &Path,
        trackers: &str,
        ca: &Path,
        seed: u64,
        cfg: &PeerWorkloadConfig,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !cfg.file_mib.is_empty(),
            "the peer workload needs at least one file"
        );
        let dir = root.join("peers");
        std::fs::create_dir_all(&dir)?;
        let program = PeerProgram::this_exe()?;
        let names = ["pw-seed", "pw-dl1", "pw-dl2"];
        let procs: Vec<PeerProcess> = names
            .iter()
            .map(|n| PeerProcess::new(program.clone(), &dir, n, trackers, ca))
            .collect();
        let mut procs = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            for p in &procs {
                p.signup()?;
            }
            procs[0].cli(&["group", "create", GROUP])?;
            for p in &procs[1..] {
                p.cli(&["group", "join", GROUP])?;
                procs[0].cli(&["group", "accept", GROUP, &p.name])?;
            }
            Ok(procs)
        })
        .await?
        .context("while signing up the peers")?;
        for p in &mut procs {
            p.start_daemon(&["--upload-limit", &cfg.upload_limit])
                .await?;
        }
        let peers: Vec<Arc<PeerProcess>> = procs.into_iter().map(Arc::new).collect();
        let mut files = Vec::new();
        for (k, &mib) in cfg.file_mib.iter().enumerate() {
            let name = format!("shared-{k}-{mib}mib.bin");
            let path = dir.join(&name);
            let p = path.clone();
            let file_seed = seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(k as u64 + 1));
            tokio::task::spawn_blocking(move || random_file(&p, mib, file_seed))
                .await?
                .context("while generating a shared file")?;
            cli(
                &peers[0],
                vec![
                    "upload".into(),
                    GROUP.into(),
                    path_arg(&path),
                    "--name".into(),
                    name.clone(),
                ],
            )
            .await
            .with_context(|| format!("while sharing {name}"))?;
            files.push(SharedFile {
                name,
                path,
                size_bytes: mib << 20,
            });
        }
        let files = Arc::new(files);
        let stop = Arc::new(AtomicBool::new(false));
        let abandon = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        if let Ok(mut t) = tally.lock() {
            t.report.daemons = peers.len();
            t.report.files = files.len();
        }
        let tasks = peers[1..]
            .iter()
            .enumerate()
            .map(|(idx, p)| {
                tokio::spawn(task_downloader(
                    idx,
                    p.clone(),
                    files.clone(),
                    dir.join("downloads"),
                    stop.clone(),
                    abandon.clone(),
                    tally.clone(),
                ))
            })
            .collect();
        Ok(PeerWorkload {
            peers,
            stop,
            abandon,
            tasks,
            tally,
            drain: cfg.drain,
        })
    }

    /// Stops starting downloads, lets the running ones finish (up to the drain time), stops
    /// every daemon and checks that none is left behind. `ran_for` is how long the faults ran.
    pub async fn finish(self, ran_for: Duration) -> (DownloadReport, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + self.drain;
        for mut t in self.tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                self.abandon.store(true, Ordering::Relaxed);
                let _ = t.await;
            }
        }
        let (mut report, mut violations) = match self.tally.lock() {
            Ok(mut t) => (
                std::mem::take(&mut t.report),
                std::mem::take(&mut t.violations),
            ),
            Err(_) => (
                DownloadReport::default(),
                vec!["the download tally was poisoned".into()],
            ),
        };
        if report.completed == 0 && ran_for >= MIN_RUN_FOR_A_DOWNLOAD {
            violations.push(format!(
                "no download completed in a {:.0} s run ({} started, {} failed: {:?})",
                ran_for.as_secs_f64(),
                report.started,
                report.failed,
                report.failure_reasons
            ));
        }
        // No daemon left behind: note PIDs and ports, stop them all, then look.
        let mut pids = Vec::new();
        let mut addrs = Vec::new();
        for p in &self.peers {
            pids.extend(p.daemon_pid());
            if let Ok(home) = Home::open(&p.home) {
                if let Ok(ControlResponse::Status(s)) =
                    control::call(&home, &ControlRequest::Status, CONTROL_TIMEOUT).await
                {
                    addrs.push(s.advertise_addr);
                }
            }
        }
        if addrs.len() != self.peers.len() {
            violations.push(format!(
                "only {} of {} peer daemons answered at the end",
                addrs.len(),
                self.peers.len()
            ));
        }
        let peers = self.peers;
        let stopped = tokio::task::spawn_blocking(move || {
            for p in peers {
                // Each task has ended, so this is the last handle: dropping it stops the daemon.
                drop(p);
            }
        })
        .await;
        if let Err(e) = stopped {
            violations.push(format!("stopping the peer daemons failed: {e}"));
        }
        violations.extend(crate::procs::left_behind(&pids, &addrs));
        report.daemons = pids.len();
        (report, violations)
    }
}

/// How one download ended.
enum Ended {
    Complete,
    Failed(String),
    Abandoned(Option<DownloadInfo>),
}

/// Polls the daemon of `home` until the download to `dest` ends or `abandon` is set.
async fn wait_download(home: &Home, dest: &Path, abandon: &AtomicBool) -> Ended {
    let mut last = None;
    loop {
        if abandon.load(Ordering::Relaxed) {
            return Ended::Abandoned(last);
        }
        if let Ok(ControlResponse::Downloads(list)) =
            control::call(home, &ControlRequest::Downloads, CONTROL_TIMEOUT).await
        {
            if let Some(d) = list.into_iter().find(|d| d.dest == dest) {
                match &d.state {
                    DownloadState::Complete => return Ended::Complete,
                    DownloadState::Failed(why) => return Ended::Failed(why.clone()),
                    DownloadState::Cancelled => return Ended::Failed("cancelled".into()),
                    DownloadState::Running => last = Some(d),
                }
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Downloader `idx`: downloads the shared files in turn until `stop`, verifying each copy.
async fn task_downloader(
    idx: usize,
    peer: Arc<PeerProcess>,
    files: Arc<Vec<SharedFile>>,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    abandon: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let note = |f: &dyn Fn(&mut Tally)| {
        if let Ok(mut t) = tally.lock() {
            f(&mut t);
        }
    };
    let home = match std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| Home::open(&peer.home).map_err(|e| e.to_string()))
    {
        Ok(h) => h,
        Err(e) => {
            note(&|t| t.violations.push(format!("downloader {}: {e}", peer.name)));
            return;
        }
    };
    // The newest verified copy of each file: older ones are deleted once a newer one is in
    // place (the daemon seeds the newest copy).
    let mut newest: BTreeMap<usize, PathBuf> = BTreeMap::new();
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let k = (round + idx) % files.len();
        round += 1;
        let Some(file) = files.get(k) else { return };
        let dest = dir.join(format!("{}-{round:04}-{}", peer.name, file.name));
        note(&|t| t.report.started += 1);
        let args = vec![
            "download".into(),
            GROUP.into(),
            file.name.clone(),
            path_arg(&dest),
            "--detach".into(),
        ];
        if let Err(e) = cli(&peer, args).await {
            let why = format!("{e:#}");
            note(&|t| t.failed(&why));
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let started = Instant::now();
        match wait_download(&home, &dest, &abandon).await {
            Ended::Failed(why) => note(&|t| t.failed(&why)),
            Ended::Abandoned(info) => {
                let progress = info
                    .map(|d| format!("{} of {} bytes", d.bytes_done, d.total_bytes))
                    .unwrap_or_else(|| "not listed by the daemon".into());
                let what = format!(
                    "{} download of {} to {} unfinished after {:.0} s ({progress})",
                    peer.name,
                    file.name,
                    dest.display(),
                    started.elapsed().as_secs_f64()
                );
                tracing::warn!("{what}");
                note(&|t| {
                    t.report.unfinished += 1;
                    t.violations.push(what.clone());
                });
                return;
            }
            Ended::Complete => {
                let (src, copy) = (file.path.clone(), dest.clone());
                let same = tokio::task::spawn_blocking(move || {
                    crate::procs::files_equal(&src, &copy).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                match same {
                    Ok(true) => {
                        note(&|t| {
                            t.report.completed += 1;
                            t.report.bytes_verified += file.size_bytes;
                        });
                        if let Some(old) = newest.insert(k, dest.clone()) {
                            let _ = std::fs::remove_file(old);
                        }
                    }
                    Ok(false) => note(&|t| {
                        t.violations.push(format!(
                            "{} reported {} complete at {} but its bytes differ from the source",
                            peer.name,
                            file.name,
                            dest.display()
                        ))
                    }),
                    Err(e) => note(&|t| {
                        t.violations.push(format!(
                            "{} reported {} complete but {} cannot be read: {e}",
                            peer.name,
                            file.name,
                            dest.display()
                        ))
                    }),
                }
            }
        }
    }
}
