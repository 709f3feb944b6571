//! Every process a benchmark starts is this same executable with a hidden first argument: `node`
//! runs a tracker node, `peer` runs the peer command line. So one `cargo run --release -p
//! chaos-tests --bin bench` needs nothing else built, and every SIGKILL is a real crash.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use cluster::process::TrackerProgram;
use cluster::LocalCluster;

use crate::proxy::FaultNet;

/// If the process was started as `node ...` or `peer ...`, runs that and returns its exit code.
pub fn run_embedded() -> Option<std::process::ExitCode> {
    let mut args = std::env::args_os();
    let exe = args.next()?;
    let first = args.next()?;
    let rest: Vec<_> = std::iter::once(exe).chain(args).collect();
    match first.to_str()? {
        "node" => Some(tracker::run_command_line(rest)),
        "peer" => Some(peer::run_command_line(rest)),
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
    let mut c = LocalCluster::new(dir, specs, tracker_args, false)?;
    c.program = embedded_node()?;
    c.start_all()?;
    c.wait_leader(Duration::from_secs(30)).await?;
    c.wait_converged(Duration::from_secs(30)).await?;
    lift_quotas(&c).await?;
    Ok(c)
}

/// Raises every quota out of reach: the benchmarks register thousands of peers per user and the
/// chaos workload creates groups without end, which are loads to measure, not abuse to refuse.
///
/// # Errors
/// If the leader refuses or cannot be reached.
pub async fn lift_quotas(c: &LocalCluster) -> anyhow::Result<()> {
    use proto::quota::QuotaChanges;
    use proto::tracker_msg::AdminRequest;
    let admin = proto::TrackerClient::new(c.admin_config())?;
    let all = Some(u64::MAX);
    admin
        .admin(AdminRequest::SetQuotas(QuotaChanges {
            groups_per_user: all,
            files_per_group: all,
            peer_ids_per_user: all,
            pending_requests_per_group: all,
        }))
        .await
        .map_err(|e| anyhow::anyhow!("lifting the quotas: {e}"))?;
    Ok(())
}

/// Like [`start_cluster`], with a [`FaultNet`] proxy in front of every node's Raft port: each
/// node listens on its planned Raft address (`--raft-listen`) and advertises its proxy's address
/// as its `raft_addr`, so every Raft byte crosses a proxy whose rules the caller sets.
///
/// # Errors
/// If a proxy cannot bind, or the nodes cannot start or elect a leader.
pub async fn start_cluster_behind_proxies(
    dir: &Path,
    n: u64,
    tracker_args: Vec<String>,
) -> anyhow::Result<(LocalCluster, FaultNet)> {
    let mut specs = LocalCluster::plan(dir, n, None)?;
    let planned: Vec<u16> = specs
        .iter()
        .flat_map(|s| [&s.api_addr, &s.raft_addr])
        .filter_map(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.port())
        .collect();
    let mut net = FaultNet::new();
    let mut listen = BTreeMap::new();
    for s in &mut specs {
        let proxy = net.add_proxy(s.id, s.raft_addr.clone(), &planned).await?;
        listen.insert(s.id, std::mem::replace(&mut s.raft_addr, proxy.to_string()));
    }
    let mut c = LocalCluster::new(dir, specs, tracker_args, false)?;
    c.raft_listen = listen;
    c.program = embedded_node()?;
    c.start_all()?;
    c.wait_leader(Duration::from_secs(30)).await?;
    c.wait_converged(Duration::from_secs(30)).await?;
    lift_quotas(&c).await?;
    Ok((c, net))
}

/// This executable's `node` entry point as the program of a cluster's nodes.
fn embedded_node() -> std::io::Result<TrackerProgram> {
    Ok(TrackerProgram {
        program: std::env::current_exe()?,
        prefix_args: vec!["node".into()],
    })
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

/// What is still there after processes were stopped: each PID still alive (zombies are dead)
/// and each address still accepting connections, as violation messages.
pub fn left_behind(pids: &[u32], addrs: &[String]) -> Vec<String> {
    let mut v = Vec::new();
    for &pid in pids {
        let alive = cluster::process::signal(pid, 0)
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z"));
        if alive {
            v.push(format!("process {pid} still running after stop"));
        }
    }
    for a in addrs {
        let Ok(addr) = a.parse::<std::net::SocketAddr>() else {
            v.push(format!("cannot check port {a}: not an address"));
            continue;
        };
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            v.push(format!("port {a} still open after stop"));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_equal_compares_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        let mut bytes = vec![7u8; (1 << 20) + 5];
        std::fs::write(&a, &bytes).unwrap();
        std::fs::write(&b, &bytes).unwrap();
        assert!(files_equal(&a, &b).unwrap());
        bytes[(1 << 20) + 3] = 8;
        std::fs::write(&c, &bytes).unwrap();
        assert!(!files_equal(&a, &c).unwrap());
        std::fs::write(&c, &bytes[..10]).unwrap();
        assert!(!files_equal(&a, &c).unwrap());
    }

    #[test]
    fn left_behind_sees_a_live_process_and_an_open_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let v = left_behind(&[std::process::id()], std::slice::from_ref(&addr));
        assert_eq!(v.len(), 2, "{v:?}");
        drop(listener);
        assert!(left_behind(&[], &[addr]).is_empty());
    }
}
