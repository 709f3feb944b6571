//! Three (or N) etcd processes on 127.0.0.1 in a directory of their own, started from the `etcd`
//! binary Debian's `etcd-server` package installs, as the anchor of `bench etcd`. Each member
//! logs to `etcd-<i>.log` beside its data; they are stopped by PID when the cluster is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::client::EtcdClient;

/// How long the members get to elect a leader and answer a put.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running etcd cluster.
pub struct EtcdCluster {
    /// The member processes, in member order.
    children: Vec<Child>,
    /// `host:port` of each member's client URL.
    pub client_addrs: Vec<String>,
}

impl EtcdCluster {
    /// Starts `members` etcd processes from `binary` with data under `dir`, and waits until a
    /// put is acknowledged.
    ///
    /// # Errors
    /// If the binary is missing (the error says how to install it), a member does not start,
    /// or the cluster does not answer a put within 30 s.
    pub async fn start(binary: &Path, dir: &Path, members: usize) -> anyhow::Result<EtcdCluster> {
        let version = Command::new(binary)
            .arg("--version")
            .output()
            .with_context(|| {
                format!(
                "cannot run {}: install etcd (`apt-get install etcd-server` on Debian) or pass \
                 --etcd-bin PATH",
                binary.display()
            )
            })?;
        let version = String::from_utf8_lossy(&version.stdout);
        tracing::info!(version = %version.lines().next().unwrap_or(""), "etcd");
        let ports = cluster::process::free_ports(members * 2, &[])?;
        let peer_url = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
        let initial: Vec<String> = (0..members)
            .map(|i| format!("m{i}={}", peer_url(i)))
            .collect();
        let initial = initial.join(",");
        let mut cluster = EtcdCluster {
            children: Vec::new(),
            client_addrs: Vec::new(),
        };
        for i in 0..members {
            let client_url = format!("http://127.0.0.1:{}", ports[2 * i]);
            let data: PathBuf = dir.join(format!("m{i}"));
            let log = std::fs::File::create(dir.join(format!("etcd-{i}.log")))?;
            let child = Command::new(binary)
                .args(["--name", &format!("m{i}")])
                .arg("--data-dir")
                .arg(&data)
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url(i)])
                .args(["--initial-advertise-peer-urls", &peer_url(i)])
                .args(["--initial-cluster", &initial])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "bench-etcd"])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start etcd member {i}"))?;
            cluster.children.push(child);
            cluster
                .client_addrs
                .push(format!("127.0.0.1:{}", ports[2 * i]));
        }
        cluster.wait_ready(dir).await?;
        Ok(cluster)
    }

    /// Waits until a put through the first member is acknowledged.
    async fn wait_ready(&self, dir: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        let mut last = String::new();
        while Instant::now() < deadline {
            let mut client = EtcdClient::new(self.client_addrs[0].clone());
            match client.put(b"bench-ready", b"1").await {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!(
            "etcd did not acknowledge a put within {READY_WITHIN:?} ({last}); logs in {}",
            dir.display()
        )
    }
}

impl Drop for EtcdCluster {
    /// Kills and reaps every member this cluster started (by its PID).
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
