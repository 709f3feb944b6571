//! [`LocalCluster`]: N tracker processes on this machine, each with its own data directory under
//! one cluster directory, recorded in `cluster.json`.
//!
//! The directory is also the cluster's PKI ([`crate::pki`]): the handle creates the CA and the
//! admin credential when it is made and a node's certificate when the node first starts, and
//! talks to the nodes as admin.
//!
//! Children started by this handle are stopped when it is dropped unless they were detached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use proto::tls::ClientTls;
use proto::tracker_msg::NodeStatus;
use proto::{ClientConfig, TrackerClient};

use crate::cluster_file::{ClusterFile, NodeEntry};
use crate::pki::{Pki, PkiError};
use crate::process::{self, Launch};

/// Where one node lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Raft id.
    pub id: u64,
    /// Client API address.
    pub api_addr: String,
    /// Raft address.
    pub raft_addr: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Address of its HTTP surface (`--http-addr`), if it has one.
    pub http_addr: Option<String>,
}

/// A running (or partly running) local cluster.
pub struct LocalCluster {
    /// Cluster directory (holds `cluster.json` and `node-<id>/`).
    pub dir: PathBuf,
    /// The program that runs a node.
    pub program: process::TrackerProgram,
    /// Extra flags for every tracker.
    pub tracker_args: Vec<String>,
    /// Nodes by id.
    pub nodes: BTreeMap<u64, NodeSpec>,
    /// Where a node's Raft listener binds when that differs from its advertised `raft_addr`
    /// (a fault-injecting proxy listens on `raft_addr` and forwards here). Not saved in
    /// `cluster.json`: only the handle that set up the proxies can restart such nodes.
    pub raft_listen: BTreeMap<u64, String>,
    /// Founding membership (`--initial-cluster`).
    founders: String,
    /// Whether this handle is forming a new cluster (founders get `--initial-cluster`). A loaded
    /// cluster never passes it again, so a node with a wiped directory cannot re-form the cluster
    /// on its own.
    forming: bool,
    /// Processes started by this handle.
    children: BTreeMap<u64, Child>,
    /// PIDs, including those adopted from `cluster.json`.
    pids: BTreeMap<u64, u32>,
    /// Whether processes are detached (left running on drop).
    detach: bool,
    /// The PKI in `dir`.
    pki: Pki,
    /// Trusts the cluster CA and presents the admin credential.
    admin_tls: ClientTls,
    /// Trusts the cluster CA and presents nothing (a user's view).
    user_tls: ClientTls,
}

/// Errors of cluster operations.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A node could not be started.
    #[error("cannot start node {id}: {source}")]
    Spawn {
        /// Node id.
        id: u64,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// No such node in this cluster.
    #[error("no node {0} in this cluster")]
    UnknownNode(u64),
    /// The cluster did not reach the expected state in time.
    #[error("{0}")]
    Timeout(String),
    /// cluster.json trouble.
    #[error(transparent)]
    File(#[from] crate::cluster_file::ClusterFileError),
    /// The certificates in the cluster directory.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// Other I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl LocalCluster {
    /// Plans `n` nodes in `dir` with ports from `base_port` (API = base + 2i, Raft = base + 2i + 1),
    /// or free ports when `base_port` is `None`; each node's HTTP surface gets a free port on
    /// 127.0.0.1 either way.
    ///
    /// # Errors
    /// If free ports cannot be found.
    pub fn plan(dir: &Path, n: u64, base_port: Option<u16>) -> Result<Vec<NodeSpec>, ClusterError> {
        let free = match base_port {
            Some(_) => Vec::new(),
            None => process::free_ports(usize::try_from(n * 2).unwrap_or(0), &[])?,
        };
        let planned: Vec<u16> = match base_port {
            Some(b) => (0..n.saturating_mul(2))
                .map(|i| b.saturating_add(u16::try_from(i).unwrap_or(u16::MAX)))
                .collect(),
            None => free.clone(),
        };
        let http = process::free_ports(usize::try_from(n).unwrap_or(0), &planned)?;
        (1..=n)
            .map(|id| {
                let (api, raft) = match base_port {
                    Some(b) => {
                        let off = u16::try_from((id - 1) * 2).unwrap_or(0);
                        (b.saturating_add(off), b.saturating_add(off + 1))
                    }
                    None => {
                        let i = usize::try_from((id - 1) * 2).unwrap_or(0);
                        (free[i], free[i + 1])
                    }
                };
                let http_port = usize::try_from(id - 1).ok().and_then(|i| http.get(i));
                Ok(NodeSpec {
                    id,
                    api_addr: format!("127.0.0.1:{api}"),
                    raft_addr: format!("127.0.0.1:{raft}"),
                    data_dir: dir.join(format!("node-{id}")),
                    http_addr: http_port.map(|p| format!("127.0.0.1:{p}")),
                })
            })
            .collect()
    }

    /// A handle over planned nodes; nothing is started yet. Creates the CA and the admin
    /// credential in `dir` unless they are there.
    ///
    /// # Errors
    /// [`ClusterError::Pki`] if the PKI files cannot be read or written.
    pub fn new(
        dir: &Path,
        specs: Vec<NodeSpec>,
        tracker_args: Vec<String>,
        detach: bool,
    ) -> Result<Self, ClusterError> {
        let founders = specs
            .iter()
            .map(|s| format!("{}={}/{}", s.id, s.api_addr, s.raft_addr))
            .collect::<Vec<_>>()
            .join(",");
        let pki = Pki::open_or_create(dir)?;
        let admin_tls = pki.admin_client()?;
        let user_tls = pki.user_client()?;
        Ok(LocalCluster {
            dir: dir.to_path_buf(),
            program: process::tracker_program(None),
            tracker_args,
            nodes: specs.into_iter().map(|s| (s.id, s)).collect(),
            raft_listen: BTreeMap::new(),
            founders,
            forming: true,
            children: BTreeMap::new(),
            pids: BTreeMap::new(),
            detach,
            pki,
            admin_tls,
            user_tls,
        })
    }

    /// A handle over the cluster recorded in `dir/cluster.json` (processes are adopted by PID).
    ///
    /// # Errors
    /// If the file is missing or malformed.
    pub fn load(dir: &Path, detach: bool) -> Result<Self, ClusterError> {
        let file = ClusterFile::load(dir)?;
        let specs = file
            .nodes
            .iter()
            .map(|n| NodeSpec {
                id: n.id,
                api_addr: n.api_addr.clone(),
                raft_addr: n.raft_addr.clone(),
                data_dir: n.data_dir.clone(),
                http_addr: n.http_addr.clone(),
            })
            .collect();
        let mut c = LocalCluster::new(dir, specs, file.tracker_args.clone(), detach)?;
        c.forming = false;
        for n in &file.nodes {
            if n.pid != 0 {
                c.pids.insert(n.id, n.pid);
            }
        }
        Ok(c)
    }

    /// Comma-separated client addresses, for `--trackers`.
    pub fn trackers(&self) -> String {
        self.nodes
            .values()
            .map(|s| s.api_addr.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The tracker list as a vector.
    pub fn tracker_list(&self) -> Vec<String> {
        self.nodes.values().map(|s| s.api_addr.clone()).collect()
    }

    /// `ca.pem` of this cluster (what peers pass as `--ca`).
    pub fn ca_file(&self) -> PathBuf {
        self.pki.ca_file()
    }

    /// TLS that trusts the cluster CA and presents the admin credential.
    pub fn admin_tls(&self) -> &ClientTls {
        &self.admin_tls
    }

    /// TLS that trusts the cluster CA and presents no certificate, as a user's peer.
    pub fn user_tls(&self) -> &ClientTls {
        &self.user_tls
    }

    /// A client config for every node, as admin.
    pub fn admin_config(&self) -> ClientConfig {
        ClientConfig::new(self.tracker_list(), self.admin_tls.clone())
    }

    /// A client config for every node, as a user.
    pub fn user_config(&self) -> ClientConfig {
        ClientConfig::new(self.tracker_list(), self.user_tls.clone())
    }

    /// PID of a node's current process, if any.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.pids.get(&id).copied()
    }

    /// Whether a node's recorded process is alive.
    pub fn is_running(&mut self, id: u64) -> bool {
        if let Some(c) = self.children.get_mut(&id) {
            return matches!(c.try_wait(), Ok(None));
        }
        match (self.pids.get(&id), self.nodes.get(&id)) {
            (Some(&pid), Some(spec)) => process::is_tracker_of(pid, &spec.data_dir),
            _ => false,
        }
    }

    /// Starts every node that is not running.
    ///
    /// # Errors
    /// If a process cannot be spawned or `cluster.json` cannot be written.
    pub fn start_all(&mut self) -> Result<(), ClusterError> {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            if !self.is_running(id) {
                self.start_node(id)?;
            }
        }
        Ok(())
    }

    /// (Re)starts one node on its data directory.
    ///
    /// # Errors
    /// [`ClusterError::UnknownNode`] or a spawn failure.
    pub fn start_node(&mut self, id: u64) -> Result<(), ClusterError> {
        let spec = self
            .nodes
            .get(&id)
            .ok_or(ClusterError::UnknownNode(id))?
            .clone();
        let founding = self.forming
            && self
                .founders
                .split(',')
                .any(|m| m.starts_with(&format!("{id}=")));
        let tls = self
            .pki
            .ensure_node(id, &[spec.api_addr.as_str(), spec.raft_addr.as_str()])?;
        let launch = Launch {
            program: self.program.clone(),
            id,
            data_dir: spec.data_dir.clone(),
            api_addr: spec.api_addr.clone(),
            raft_addr: spec.raft_addr.clone(),
            raft_listen: self.raft_listen.get(&id).cloned(),
            initial_cluster: founding.then(|| self.founders.clone()),
            tls,
            extra_args: self.tracker_args_for(&spec),
            detach: self.detach,
        };
        let child = process::spawn(&launch).map_err(|source| ClusterError::Spawn { id, source })?;
        self.pids.insert(id, child.id());
        self.children.insert(id, child);
        self.save()?;
        Ok(())
    }

    /// The extra flags of `spec`'s tracker: the cluster's, plus `--http-addr` if the node has one
    /// and the cluster's flags do not set it.
    fn tracker_args_for(&self, spec: &NodeSpec) -> Vec<String> {
        let mut args = self.tracker_args.clone();
        let set_by_cluster = args.iter().any(|a| a.starts_with("--http-addr"));
        if let (Some(http), false) = (&spec.http_addr, set_by_cluster) {
            args.extend(["--http-addr".to_string(), http.clone()]);
        }
        args
    }

    /// Adds a node that is not a founder (it starts empty and waits to be added as a learner).
    pub fn add_spec(&mut self, spec: NodeSpec) {
        self.forming = false;
        self.nodes.insert(spec.id, spec);
    }

    /// Forgets a node (after it left the membership).
    pub fn remove_spec(&mut self, id: u64) {
        self.nodes.remove(&id);
        self.pids.remove(&id);
        self.children.remove(&id);
    }

    /// Sends a signal to a node's process (e.g. `libc::SIGKILL`, `SIGSTOP`, `SIGCONT`).
    /// A killed child is reaped. Returns false if the node has no live process.
    pub fn signal(&mut self, id: u64, sig: i32) -> bool {
        let Some(pid) = self.pids.get(&id).copied() else {
            return false;
        };
        let ok = process::signal(pid, sig);
        if sig == libc::SIGKILL {
            if let Some(mut c) = self.children.remove(&id) {
                let _ = c.wait();
            }
        }
        ok
    }

    /// SIGKILLs a node (a crash).
    pub fn kill(&mut self, id: u64) -> bool {
        self.signal(id, libc::SIGKILL)
    }

    /// Stops one node gracefully (SIGTERM, then SIGKILL after `grace`).
    pub fn stop_node(&mut self, id: u64, grace: Duration) {
        if let Some(pid) = self.pids.get(&id).copied() {
            let running = self.is_running(id);
            if running {
                process::stop(pid, self.children.get_mut(&id), grace);
            }
            self.children.remove(&id);
        }
    }

    /// Stops every node gracefully.
    pub fn stop_all(&mut self, grace: Duration) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in &ids {
            if let Some(pid) = self.pids.get(id).copied() {
                if self.is_running(*id) {
                    process::signal(pid, libc::SIGTERM);
                }
            }
        }
        for id in ids {
            self.stop_node(id, grace);
        }
    }

    /// Writes `cluster.json`.
    ///
    /// # Errors
    /// [`ClusterError::File`].
    pub fn save(&self) -> Result<(), ClusterError> {
        std::fs::create_dir_all(&self.dir)?;
        let (admin_cert, admin_key) = self.pki.ensure_admin()?;
        let file = ClusterFile {
            trackers: self.trackers(),
            nodes: self
                .nodes
                .values()
                .map(|s| NodeEntry {
                    id: s.id,
                    api_addr: s.api_addr.clone(),
                    raft_addr: s.raft_addr.clone(),
                    pid: self.pids.get(&s.id).copied().unwrap_or(0),
                    data_dir: s.data_dir.clone(),
                    http_addr: s.http_addr.clone(),
                })
                .collect(),
            tracker_args: self.tracker_args.clone(),
            ca_file: Some(self.ca_file()),
            admin_cert: Some(admin_cert),
            admin_key: Some(admin_key),
        };
        file.save(&self.dir)?;
        Ok(())
    }

    /// Status of every node (an error for unreachable ones, and for an address where a different
    /// node answers: two nodes were given the same port, or a stray tracker holds it), without
    /// the state digest.
    pub async fn statuses(&self) -> Vec<(NodeSpec, Result<NodeStatus, proto::ApiError>)> {
        self.statuses_with(false).await
    }

    /// [`LocalCluster::statuses`], with each node's state digest if `digest`.
    pub async fn statuses_with(
        &self,
        digest: bool,
    ) -> Vec<(NodeSpec, Result<NodeStatus, proto::ApiError>)> {
        let mut out = Vec::new();
        for spec in self.nodes.values() {
            let timeout = Duration::from_millis(800);
            let st = TrackerClient::node_status(&spec.api_addr, &self.admin_tls, digest, timeout)
                .await
                .and_then(|s| {
                    if s.node_id == spec.id {
                        Ok(s)
                    } else {
                        Err(proto::ApiError::Unavailable(format!(
                            "node {} answers at {}, the address of node {}: give each node its own port",
                            s.node_id, spec.api_addr, spec.id
                        )))
                    }
                });
            out.push((spec.clone(), st));
        }
        out
    }

    /// Waits until one reachable node is leader and every other reachable voter agrees on it.
    ///
    /// # Errors
    /// [`ClusterError::Timeout`] with what was seen last.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<NodeStatus, ClusterError> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no node answered");
        loop {
            let statuses = self.statuses().await;
            let up: Vec<&NodeStatus> = statuses
                .iter()
                .filter_map(|(_, s)| s.as_ref().ok())
                .collect();
            if let Some(leader) = up.iter().find(|s| s.role == "leader") {
                let agreed = up
                    .iter()
                    .filter(|s| s.role != "learner")
                    .all(|s| s.leader_id == Some(leader.node_id));
                if agreed {
                    return Ok((*leader).clone());
                }
                last = format!(
                    "node {} leads but not every node agrees yet",
                    leader.node_id
                );
            } else if !up.is_empty() {
                last = format!("{} nodes up, none is leader", up.len());
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::Timeout(format!(
                    "no leader elected within {timeout:?}: {last}; see {}/node-*/tracker.log",
                    self.dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until node `id` has applied at least as far as the leader had when the wait began
    /// (a fixed target: under steady writes the leader keeps moving ahead).
    ///
    /// # Errors
    /// [`ClusterError::Timeout`] with both positions.
    pub async fn wait_caught_up(&self, id: u64, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        let mut target: Option<u64> = None;
        loop {
            let statuses = self.statuses().await;
            let up = || statuses.iter().filter_map(|(_, s)| s.as_ref().ok());
            if target.is_none() {
                target = up()
                    .find(|s| s.role == "leader")
                    .and_then(|s| s.last_applied);
            }
            let node_applied = up().find(|s| s.node_id == id).and_then(|s| s.last_applied);
            if target.is_some() && node_applied >= target {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClusterError::Timeout(format!(
                    "node {id} did not catch up within {timeout:?} (at {node_applied:?}, the leader was at {target:?} when the wait began)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every node in `ids` reports the same `last_applied` and digest as the others.
    ///
    /// # Errors
    /// [`ClusterError::Timeout`] with the last differing statuses.
    pub async fn wait_converged(&self, timeout: Duration) -> Result<Vec<NodeStatus>, ClusterError> {
        let deadline = Instant::now() + timeout;
        loop {
            let statuses = self.statuses_with(true).await;
            let all: Vec<NodeStatus> = statuses
                .iter()
                .filter_map(|(_, s)| s.as_ref().ok().cloned())
                .collect();
            let same = all.len() == statuses.len()
                && all.windows(2).all(|w| {
                    w[0].digest.is_some()
                        && w[0].digest == w[1].digest
                        && w[0].last_applied == w[1].last_applied
                });
            if same {
                return Ok(all);
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = statuses
                    .iter()
                    .map(|(spec, s)| match s {
                        Ok(s) => format!(
                            "node {} applied {:?} digest {}",
                            s.node_id,
                            s.last_applied,
                            short_digest(s.digest.as_deref(), 8)
                        ),
                        Err(e) => format!("node {} unreachable: {e}", spec.id),
                    })
                    .collect();
                return Err(ClusterError::Timeout(format!(
                    "nodes did not converge within {timeout:?}: {}",
                    seen.join("; ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The first `len` characters of a digest, or `-` if there is none.
pub fn short_digest(digest: Option<&str>, len: usize) -> &str {
    digest.map_or("-", |d| d.get(..len).unwrap_or(d))
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.detach {
            return;
        }
        for (_, mut child) in std::mem::take(&mut self.children) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
