//! The peer daemon: serves chunks ([`seeder`]), runs downloads ([`download`]),
//! keeps the seeded files ([`shares`]) and stops those unpublished ([`published`]), reports
//! new chunks ([`reporter`]), heartbeats
//! ([`heartbeat`]), answers the CLI over the control socket ([`control_server`]) and the browser
//! and scripts over HTTP ([`http`]), and counts what it does ([`metrics`]). Stops cleanly on
//! SIGINT/SIGTERM, signing its peer off at the tracker first.
//!
//! A daemon may start before anyone logged in on its home (the web UI's sign-in needs it
//! running): it then registers its peer when a login arrives over HTTP, or at the first
//! heartbeat after a `peer login` on the command line.

pub mod control_server;
pub mod download;
pub mod heartbeat;
pub mod http;
pub mod metrics;
pub mod published;
pub mod reporter;
pub mod seeder;
pub mod shares;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use proto::tracker_msg::{PeerActivity, ReadRequest, Response, WriteOp};
use proto::TrackerClient;

use crate::error::ShareChanged;
use crate::home::Home;
use download::DownloadHandle;
use shares::{ShareEntry, Shares};

/// Wall clock in ms since the epoch.
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How the daemon was asked to run.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Where to listen for peers.
    pub listen: String,
    /// What to tell the tracker (default: the bound listen address).
    pub advertise: Option<String>,
    /// Fault injection for tests: flip a byte of every chunk served.
    pub corrupt_for_testing: bool,
    /// Cap on bytes served per second.
    pub upload_limit: Option<u64>,
    /// Cap on bytes received per second.
    pub download_limit: Option<u64>,
    /// The HTTP API and web UI.
    pub http: http::HttpOptions,
    /// Print the ready line as one JSON object (`--json`).
    pub json: bool,
    /// The TLS configuration of the tracker client (for the per-node status of the cluster view).
    pub tracker_tls: proto::tls::ClientTls,
    /// The cluster CA the tracker client trusts (kept in the home at a login over HTTP).
    pub ca_file: std::path::PathBuf,
    /// Where downloads without a destination go (`None`: `HOME/downloads`).
    pub download_dir: Option<std::path::PathBuf>,
}

/// Shared state of the running daemon.
pub struct Daemon {
    /// The home.
    pub home: Home,
    /// Tracker client.
    pub tracker: Arc<TrackerClient>,
    /// This peer's id.
    pub peer_id: u64,
    /// Address given to the tracker.
    pub advertise: String,
    /// The cluster's public key, for tickets.
    pub cluster_key: [u8; 32],
    /// This daemon's key pair and TLS configurations on the peer port.
    pub identity: crate::identity::Identity,
    /// Seeded files.
    pub shares: Shares,
    /// When each seeded file was last confirmed published.
    published: published::PublishedCache,
    /// Downloads by id.
    downloads: Mutex<HashMap<String, Arc<DownloadHandle>>>,
    /// Announces new chunks (unbounded, so a slow tracker never stalls the data path; it holds
    /// at most one entry per chunk verified since the last report).
    reporter: mpsc::UnboundedSender<reporter::Have>,
    /// Chunks served since start.
    pub chunks_served: AtomicU64,
    /// When a chunk last moved (for the heartbeat activity).
    last_transfer: Mutex<Instant>,
    /// Fault injection for tests.
    pub corrupt_for_testing: bool,
    /// Upload cap.
    pub upload_limiter: Option<crate::rate_limit::RateLimiter>,
    /// Download cap.
    pub download_limiter: Option<crate::rate_limit::RateLimiter>,
    /// What `GET /metrics` shows.
    pub metrics: Arc<metrics::DaemonMetrics>,
    /// The tracker client's TLS configuration.
    pub tracker_tls: proto::tls::ClientTls,
    /// The cluster CA file the tracker client trusts.
    pub ca_file: std::path::PathBuf,
    /// Where downloads without a destination go (`--download-dir`).
    pub download_dir: std::path::PathBuf,
}

impl Daemon {
    /// The current session token.
    ///
    /// # Errors
    /// If nobody is logged in on this home.
    pub fn token(&self) -> Result<proto::tracker_msg::SessionToken, crate::home::HomeError> {
        Ok(self.home.session()?.token)
    }

    /// Registers this peer at its advertised address.
    ///
    /// # Errors
    /// The tracker's refusal.
    pub async fn register(&self) -> anyhow::Result<()> {
        let token = self.token()?;
        self.tracker
            .write(WriteOp::RegisterPeer {
                token,
                peer_id: self.peer_id,
                addr: self.advertise.clone(),
                peer_key: self.identity.public_key,
            })
            .await?;
        Ok(())
    }

    /// After a login on this home (over HTTP): registers the peer under the new session and
    /// announces the shares again.
    ///
    /// # Errors
    /// The tracker's refusal of the registration.
    pub async fn after_login(self: &Arc<Self>) -> anyhow::Result<()> {
        self.register().await?;
        reannounce_shares(self).await;
        Ok(())
    }

    /// What to report in heartbeats.
    pub fn activity(&self) -> PeerActivity {
        let recent = self
            .last_transfer
            .lock()
            .map(|t| t.elapsed() < Duration::from_secs(10))
            .unwrap_or(false);
        let running = self
            .downloads
            .lock()
            .map(|d| {
                d.values()
                    .any(|h| h.state() == crate::control::DownloadState::Running)
            })
            .unwrap_or(false);
        if recent || running {
            PeerActivity::Transferring
        } else if !self.shares.all().is_empty() {
            PeerActivity::Active
        } else {
            PeerActivity::Idle
        }
    }

    /// Queues a verified chunk for the next batched report to the tracker; never waits.
    pub fn report(&self, have: reporter::Have) {
        // The reporter task lives as long as the daemon; after it ends nothing needs reporting.
        let _ = self.reporter.send(have);
    }

    /// Notes that a chunk moved.
    pub fn touch_transfer(&self) {
        if let Ok(mut t) = self.last_transfer.lock() {
            *t = Instant::now();
        }
    }

    /// Registers a download handle.
    pub fn add_download(&self, h: Arc<DownloadHandle>) {
        if let Ok(mut d) = self.downloads.lock() {
            d.insert(h.id.clone(), h);
        }
    }

    /// A download by id.
    pub fn download_by_id(&self, id: &str) -> Option<Arc<DownloadHandle>> {
        self.downloads.lock().ok()?.get(id).cloned()
    }

    /// A running download of (group, name), whose verified chunks can be served.
    pub fn download_for(&self, group: &str, name: &str) -> Option<Arc<DownloadHandle>> {
        let d = self.downloads.lock().ok()?;
        d.values()
            .find(|h| {
                h.group == group
                    && h.name == name
                    && h.state() == crate::control::DownloadState::Running
            })
            .cloned()
    }

    /// Every download.
    pub fn downloads(&self) -> Vec<Arc<DownloadHandle>> {
        let mut v: Vec<_> = self
            .downloads
            .lock()
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
        v
    }

    /// Stops seeding a file whose bytes changed or vanished, and tells the tracker.
    pub async fn withdraw_share(&self, share: &ShareEntry, why: &ShareChanged) {
        tracing::warn!(group = %share.group, name = %share.name, %why, "stopped seeding");
        if let Err(e) = self.shares.remove(&share.group, &share.name) {
            tracing::warn!(%e, "cannot update shares.json");
        }
        if let Err(e) = self.stop_share_at_tracker(&share.group, &share.name).await {
            tracing::warn!(%e, "could not withdraw the file's availability at the tracker");
        }
    }

    /// Signs this peer off at the tracker: it goes offline at once instead of when its lease runs
    /// out. Gives up after [`SIGN_OFF_WITHIN`] (no tracker answering must not hold the exit).
    pub async fn sign_off(&self) {
        let Ok(token) = self.token() else { return };
        let op = WriteOp::SignOff {
            token,
            peer_id: self.peer_id,
        };
        match tokio::time::timeout(SIGN_OFF_WITHIN, self.tracker.write(op)).await {
            Ok(Ok(_)) => tracing::info!(peer_id = self.peer_id, "signed off"),
            Ok(Err(e)) => tracing::warn!(%e, "could not sign off; the tracker marks this peer offline when its lease runs out"),
            Err(_) => tracing::warn!(
                "no tracker answered the sign-off within {SIGN_OFF_WITHIN:?}; the tracker marks this peer offline when its lease runs out"
            ),
        }
    }

    /// Withdraws this peer's availability for a file at the tracker.
    ///
    /// # Errors
    /// The tracker's refusal.
    pub async fn stop_share_at_tracker(&self, group: &str, name: &str) -> anyhow::Result<()> {
        let token = self.token()?;
        self.tracker
            .write(WriteOp::StopShare {
                token,
                peer_id: self.peer_id,
                group: group.to_string(),
                name: name.to_string(),
            })
            .await?;
        Ok(())
    }
}

/// Longest a stopping daemon waits for the tracker to take its sign-off.
pub const SIGN_OFF_WITHIN: Duration = Duration::from_secs(2);

/// Runs the daemon until SIGINT or SIGTERM, then signs its peer off (at most
/// [`SIGN_OFF_WITHIN`]).
///
/// # Errors
/// Startup failures: address in use, another daemon running, tracker unreachable, a bad
/// `--http-addr`.
pub async fn run(home: Home, tracker: TrackerClient, opts: DaemonOptions) -> anyhow::Result<()> {
    let session = match home.session() {
        Ok(s) => Some(s),
        Err(crate::home::HomeError::NotLoggedIn) => None,
        Err(e) => return Err(e.into()),
    };
    let peer_id = home.peer_id()?;
    let identity = crate::identity::load_or_create(&home)?;
    let listener = TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("while binding the peer address {}", opts.listen))?;
    let advertise = match opts.advertise {
        Some(a) => a,
        None => listener.local_addr()?.to_string(),
    };
    let control = control_server::bind(&home).await?;
    let tracker = Arc::new(tracker);
    let metrics = Arc::new(metrics::DaemonMetrics::new());
    let observed = metrics.clone();
    tracker.set_observer(Arc::new(move |rt| observed.observe_round_trip(rt)));
    let cluster_key = match tracker.read(ReadRequest::ClusterKey).await? {
        Response::ClusterKey { public_key } => public_key,
        other => anyhow::bail!("unexpected answer to the cluster key request: {other:?}"),
    };
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    let download_dir = opts
        .download_dir
        .unwrap_or_else(|| home.default_download_dir());
    let moved = home
        .move_old_resume_state()
        .context("while moving resume state from HOME/downloads to HOME/partial")?;
    if moved > 0 {
        tracing::info!(files = moved, "moved resume state files to HOME/partial");
    }
    let daemon = Arc::new(Daemon {
        download_dir,
        shares: Shares::load(&home)?,
        published: published::PublishedCache::default(),
        home,
        tracker,
        peer_id,
        advertise,
        cluster_key,
        identity,
        downloads: Mutex::new(HashMap::new()),
        reporter: report_tx,
        chunks_served: AtomicU64::new(0),
        last_transfer: Mutex::new(Instant::now() - Duration::from_secs(60)),
        corrupt_for_testing: opts.corrupt_for_testing,
        upload_limiter: opts.upload_limit.map(crate::rate_limit::RateLimiter::new),
        download_limiter: opts.download_limit.map(crate::rate_limit::RateLimiter::new),
        metrics,
        tracker_tls: opts.tracker_tls,
        ca_file: opts.ca_file,
    });
    if session.is_some() {
        daemon
            .register()
            .await
            .context("while registering this peer with the tracker")?;
        reannounce_shares(&daemon).await;
    }
    let web = http::start(daemon.clone(), &opts.http).await?;
    let reporter = tokio::spawn(reporter::task_report(daemon.clone(), report_rx));
    let seeder = tokio::spawn(seeder::task_serve(daemon.clone(), listener));
    let heartbeat = tokio::spawn(heartbeat::task_heartbeat(daemon.clone()));
    // Unfinished downloads are re-verified and listed before the first control request is
    // answered, so `peer downloads` right after a restart shows what survived on disk.
    download::resume_all(&daemon).await;
    let control_task = tokio::spawn(control_server::task_serve(daemon.clone(), control));
    if opts.json {
        let ready = serde_json::json!({
            "username": session.as_ref().map(|s| s.username.as_str()),
            // A decimal string: peer ids exceed 2^53 (see `cli/files_json.rs`).
            "peer_id": peer_id.to_string(),
            "advertise": daemon.advertise.to_string(),
            "control_socket": daemon.home.socket_path(),
            "web_url": web.url,
        });
        println!("{ready}");
    } else {
        let user = match &session {
            Some(s) => format!("user {}", s.username),
            None => "not logged in (log in with `peer login` or in the web UI)".to_string(),
        };
        println!(
            "peer daemon running: {user} peer {peer_id} serving on {} (control socket {}, web UI and API on {}; `peer ui` prints the link)",
            daemon.advertise,
            daemon.home.socket_path().display(),
            web.url
        );
    }
    proto::shutdown::wait_for_shutdown().await;
    tracing::info!("stopping");
    control_task.abort();
    web.stop();
    seeder.abort();
    heartbeat.abort();
    reporter.abort();
    // After the heartbeat stopped, so no late heartbeat signs the peer on again.
    daemon.sign_off().await;
    let _ = std::fs::remove_file(daemon.home.socket_path());
    let _ = daemon.chunks_served.load(Ordering::Relaxed);
    Ok(())
}

/// Re-registers every share whose file is unchanged and still published; drops the others
/// (an unpublished one without registering it again, see [`published`]).
async fn reannounce_shares(daemon: &Arc<Daemon>) {
    for share in daemon.shares.all() {
        if let Err(why) = share.check_unchanged() {
            daemon.withdraw_share(&share, &why).await;
            continue;
        }
        if daemon.still_published(&share).await == published::Published::Gone {
            continue;
        }
        let Ok(token) = daemon.token() else { return };
        let op = WriteOp::RegisterFile {
            token,
            peer_id: daemon.peer_id,
            group: share.group.clone(),
            manifest: share.manifest.clone(),
        };
        if let Err(e) = daemon.tracker.write(op).await {
            tracing::warn!(group = %share.group, name = %share.name, %e, "could not re-announce a shared file");
        }
    }
}
