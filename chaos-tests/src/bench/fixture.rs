//! The cluster and the state a tracker benchmark needs before it measures: users with sessions,
//! one group they all belong to, peers, and files with availability.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use cluster::LocalCluster;
use proto::connection::Connection;
use proto::tls::ClientTls;
use proto::tracker_msg::{
    FileManifest, ReadRequest, Request, Response, SessionToken, WriteOp, DEFAULT_CHUNK_SIZE_BYTES,
};
use proto::{ClientConfig, TrackerClient};

use crate::procs::start_cluster;

/// Cluster options shared by the tracker scenarios.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterOpts {
    /// Tracker nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: u64,
    /// Extra flag for every tracker (repeatable), e.g. --tracker-arg=--snapshot-every=20000.
    #[arg(long = "tracker-arg", allow_hyphen_values = true)]
    pub tracker_args: Vec<String>,
    /// Keep the temporary directory (tracker logs in node-*/tracker.log) and print its path.
    #[arg(long)]
    pub keep: bool,
}

/// What to create.
#[derive(Debug, Clone)]
pub struct FixtureSpec {
    /// Tracker nodes.
    pub nodes: u64,
    /// Extra flags for every tracker.
    pub tracker_args: Vec<String>,
    /// Users (each logs in once; its session is shared by its peers).
    pub users: usize,
    /// Peers, spread round-robin over the users (at least 1 if there are files).
    pub peers: usize,
    /// Files registered in the group.
    pub files: usize,
    /// Chunks per file (512 KiB each).
    pub chunks_per_file: u32,
    /// Keep the directory after the run.
    pub keep: bool,
}

/// One registered peer and the session of its user.
#[derive(Debug, Clone)]
pub struct BenchPeer {
    /// Index of its user in [`World::tokens`].
    pub user: usize,
    /// Peer id.
    pub peer_id: u64,
}

/// Everything created in the cluster, shared by the client tasks.
#[derive(Debug, Clone)]
pub struct World {
    /// Client API addresses of the trackers.
    pub trackers: Vec<String>,
    /// TLS of the benchmark's clients: the cluster CA, no client certificate (users).
    pub tls: ClientTls,
    /// Session token of each user.
    pub tokens: Vec<SessionToken>,
    /// Registered peers.
    pub peers: Vec<BenchPeer>,
    /// The group every user belongs to.
    pub group: String,
    /// Names of the registered files.
    pub files: Vec<String>,
    /// Chunks per file.
    pub chunks_per_file: u32,
}

impl World {
    /// A fresh client (its own random client id) with the default failover settings.
    ///
    /// # Errors
    /// If the tracker list is empty.
    pub fn client(&self) -> anyhow::Result<TrackerClient> {
        Ok(TrackerClient::new(ClientConfig::new(
            self.trackers.clone(),
            self.tls.clone(),
        ))?)
    }

    /// Peer `i` (wrapping) with its user's token.
    pub fn peer(&self, i: usize) -> Option<(&BenchPeer, &SessionToken)> {
        let p = self.peers.get(i % self.peers.len().max(1))?;
        Some((p, self.tokens.get(p.user)?))
    }
}

/// A running cluster holding a [`World`], in a temporary directory removed on drop.
pub struct Fixture {
    /// The tracker processes.
    pub cluster: LocalCluster,
    /// What was created.
    pub world: Arc<World>,
    /// The cluster's directory.
    root: tempfile::TempDir,
    /// Keep the directory after the run.
    keep: bool,
}

/// Writes every dirty page on the machine to disk before a measurement starts, so that the kernel
/// does not write back earlier work (a build leaves hundreds of MiB dirty, a generated payload
/// its whole size) in the middle of it, about 30 s later.
pub fn settle_disk() {
    // SAFETY: sync takes no arguments and touches no memory of ours.
    unsafe { libc::sync() };
}

impl Fixture {
    /// Starts the cluster and creates the world.
    ///
    /// # Errors
    /// If the cluster does not come up or a setup write is refused.
    pub async fn start(name: &str, spec: &FixtureSpec) -> anyhow::Result<Fixture> {
        anyhow::ensure!(spec.users >= 1, "at least one user is needed");
        settle_disk();
        let root = tempfile::Builder::new()
            .prefix(&format!("bench-{name}-"))
            .tempdir()?;
        let cluster = start_cluster(
            &root.path().join("cluster"),
            spec.nodes,
            spec.tracker_args.clone(),
        )
        .await?;
        let trackers = cluster.tracker_list();
        // The setup writes are a user's; nothing here needs the admin credential.
        let admin = TrackerClient::new(cluster.user_config())?;
        let world = create_world(&admin, trackers, cluster.user_tls().clone(), spec)
            .await
            .with_context(|| {
                format!(
                    "while setting up (tracker logs in {})",
                    root.path().display()
                )
            })?;
        Ok(Fixture {
            cluster,
            world: Arc::new(world),
            root,
            keep: spec.keep,
        })
    }

    /// Stops every tracker (SIGTERM, then SIGKILL) and removes the directory unless kept.
    pub fn stop(mut self) {
        self.cluster.stop_all(Duration::from_secs(5));
        if self.keep {
            let dir = self.root.keep();
            println!(
                "kept {} (tracker logs in cluster/node-*/tracker.log)",
                dir.display()
            );
        }
    }
}

/// A manifest of `chunks` chunks whose hashes are derived from the name (never checked here).
pub fn manifest(name: &str, chunks: u32) -> FileManifest {
    let seed = name
        .bytes()
        .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    FileManifest {
        name: name.to_string(),
        size_bytes: u64::from(chunks) * u64::from(DEFAULT_CHUNK_SIZE_BYTES),
        chunk_size_bytes: DEFAULT_CHUNK_SIZE_BYTES,
        chunk_hashes: (0..chunks)
            .map(|i| {
                let mut h = [seed; 20];
                h[..4].copy_from_slice(&i.to_le_bytes());
                h
            })
            .collect(),
        file_hash: [seed; 20],
    }
}

async fn write(admin: &TrackerClient, op: WriteOp) -> anyhow::Result<Response> {
    let what = format!("{op:?}");
    admin
        .write(op)
        .await
        .with_context(|| format!("setup write {}", what.chars().take(80).collect::<String>()))
}

async fn create_world(
    admin: &TrackerClient,
    trackers: Vec<String>,
    tls: ClientTls,
    spec: &FixtureSpec,
) -> anyhow::Result<World> {
    let group = "bench".to_string();
    let mut tokens = Vec::new();
    for u in 0..spec.users {
        let (username, password) = (format!("u{u}"), format!("bench-pw-u{u}"));
        write(
            admin,
            WriteOp::CreateUser {
                username: username.clone(),
                password: password.clone(),
                display_name: None,
            },
        )
        .await?;
        match write(admin, WriteOp::Login { username, password }).await? {
            Response::Session { token, .. } => tokens.push(token),
            other => bail!("login answered {other:?}"),
        }
    }
    write(
        admin,
        WriteOp::CreateGroup {
            token: tokens[0],
            group: group.clone(),
        },
    )
    .await?;
    for (u, token) in tokens.iter().enumerate().skip(1) {
        write(
            admin,
            WriteOp::JoinGroup {
                token: *token,
                group: group.clone(),
            },
        )
        .await?;
        write(
            admin,
            WriteOp::AcceptJoin {
                token: tokens[0],
                group: group.clone(),
                username: format!("u{u}"),
            },
        )
        .await?;
    }
    let base: u64 = rand::random::<u64>() >> 16;
    let mut peers = Vec::new();
    anyhow::ensure!(
        spec.files == 0 || spec.peers >= 1,
        "registering files needs at least one peer"
    );
    let peer_key = crate::client_ops::fake_peer_key();
    for i in 0..spec.peers {
        let p = BenchPeer {
            user: i % spec.users,
            peer_id: base + i as u64,
        };
        write(
            admin,
            WriteOp::RegisterPeer {
                token: tokens[p.user],
                peer_id: p.peer_id,
                addr: format!("127.0.0.1:{}", 20000 + i % 40000),
                peer_key,
            },
        )
        .await?;
        peers.push(p);
    }
    let mut files = Vec::new();
    for f in 0..spec.files {
        let name = format!("file-{f}.bin");
        let owner = &peers[f % peers.len()];
        write(
            admin,
            WriteOp::RegisterFile {
                token: tokens[owner.user],
                peer_id: owner.peer_id,
                group: group.clone(),
                manifest: manifest(&name, spec.chunks_per_file),
            },
        )
        .await?;
        // A second peer holds the first half, as a downloader part way through would.
        let other = &peers[(f + 1) % peers.len()];
        if other.peer_id != owner.peer_id && spec.chunks_per_file > 1 {
            write(
                admin,
                WriteOp::ReportHave {
                    token: tokens[other.user],
                    peer_id: other.peer_id,
                    group: group.clone(),
                    name: name.clone(),
                    chunks: (0..spec.chunks_per_file / 2).collect(),
                },
            )
            .await?;
        }
        files.push(name);
    }
    // The leader creates the cluster's signing key shortly after its election; file sources
    // need it, so wait for it here rather than in the measured part.
    admin
        .read(ReadRequest::ClusterKey)
        .await
        .context("waiting for the cluster key")?;
    Ok(World {
        trackers,
        tls,
        tokens,
        peers,
        group,
        files,
        chunks_per_file: spec.chunks_per_file,
    })
}

/// Asks every node for a linearizable read (the cluster key) every 10 ms until one answers: only
/// a leader confirmed by a quorum does. Returns when and which node, or `None` after `timeout`.
/// A read a leader answers only after a quorum round, unlike node status, which reports what the
/// node believes.
pub async fn find_leader(
    nodes: Vec<String>,
    tls: ClientTls,
    timeout: Duration,
) -> Option<(Instant, u64)> {
    let deadline = Instant::now() + timeout;
    let mut conns: HashMap<String, Connection> = HashMap::new();
    while Instant::now() < deadline {
        for addr in &nodes {
            if conns.get(addr).is_none_or(Connection::is_closed) {
                match Connection::open(addr, &tls, Duration::from_millis(200)).await {
                    Ok(c) => conns.insert(addr.clone(), c),
                    Err(_) => continue,
                };
            }
            let Some(conn) = conns.get(addr) else {
                continue;
            };
            let read = conn.call(Request::Read(ReadRequest::ClusterKey));
            if let Ok(Ok(Ok(Response::ClusterKey { .. }))) =
                tokio::time::timeout(Duration::from_millis(300), read).await
            {
                return Some((Instant::now(), conn.node_id()));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}
