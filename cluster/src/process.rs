//! Tracker processes: find the binary, spawn one node, signal and reap by PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start a tracker node process.
#[derive(Debug, Clone)]
pub struct TrackerProgram {
    /// Executable.
    pub program: PathBuf,
    /// Arguments before the tracker's own flags.
    pub prefix_args: Vec<String>,
}

/// The program that runs a tracker node: `$CLUSTER_TRACKER_BIN` (a `tracker` binary) if set,
/// else the `cluster` executable itself with its `node` subcommand (the same node code), so a
/// single `cargo run -p cluster` needs nothing else built. `cluster_exe` is the `cluster`
/// binary to use when the running executable is not `cluster` (tests).
pub fn tracker_program(cluster_exe: Option<PathBuf>) -> TrackerProgram {
    if let Some(p) = std::env::var_os("CLUSTER_TRACKER_BIN") {
        return TrackerProgram {
            program: PathBuf::from(p),
            prefix_args: Vec::new(),
        };
    }
    TrackerProgram {
        program: cluster_exe.unwrap_or_else(|| std::env::current_exe().unwrap_or_default()),
        prefix_args: vec!["node".to_string()],
    }
}

/// A binary named `name` next to the running executable, or one directory up.
pub fn sibling_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let here = dir.join(name);
    if here.exists() {
        return here;
    }
    dir.parent().map(|p| p.join(name)).unwrap_or(here)
}

/// Sends `signal` to `pid`. Returns false if no such process.
pub fn signal(pid: u32, signal: i32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with a positive pid only signals that one process; no memory is touched.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Whether `pid` is a live tracker node using `data_dir` (guards against PID reuse).
pub fn is_tracker_of(pid: u32, data_dir: &Path) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let text = String::from_utf8_lossy(&cmdline);
    let is_zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(false);
    !is_zombie && text.contains("--data-dir") && text.contains(&*data_dir.to_string_lossy())
}

/// Everything needed to start one node.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program running the node.
    pub program: TrackerProgram,
    /// Raft id.
    pub id: u64,
    /// Data directory (created if missing; the log goes to `tracker.log` inside).
    pub data_dir: PathBuf,
    /// Client API address.
    pub api_addr: String,
    /// Raft address (what the membership records and other nodes connect to).
    pub raft_addr: String,
    /// Where the Raft listener binds, if not `raft_addr` (a proxy forwards `raft_addr` to it).
    pub raft_listen: Option<String>,
    /// `--initial-cluster` value, if founding.
    pub initial_cluster: Option<String>,
    /// The node's certificate, key and the cluster CA (`--tls-cert`, `--tls-key`, `--ca`).
    pub tls: crate::pki::NodeFiles,
    /// Extra flags.
    pub extra_args: Vec<String>,
    /// Start in a new process group, so the terminal's Ctrl-C does not reach it.
    pub detach: bool,
}

/// Where the tracker of a node whose directory is `data_dir` keeps its database (its
/// `--data-dir`); the log file sits beside it.
pub fn db_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("db")
}

/// Starts one tracker process, logging to `data_dir/tracker.log`.
///
/// # Errors
/// If the data dir or log cannot be created or the binary cannot run.
pub fn spawn(l: &Launch) -> std::io::Result<Child> {
    std::fs::create_dir_all(&l.data_dir)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(l.data_dir.join("tracker.log"))?;
    let mut cmd = Command::new(&l.program.program);
    cmd.args(&l.program.prefix_args)
        .arg("--id")
        .arg(l.id.to_string())
        .arg("--data-dir")
        .arg(db_dir(&l.data_dir))
        .arg("--api-addr")
        .arg(&l.api_addr)
        .arg("--raft-addr")
        .arg(&l.raft_addr)
        .arg("--tls-cert")
        .arg(&l.tls.cert)
        .arg("--tls-key")
        .arg(&l.tls.key)
        .arg("--ca")
        .arg(&l.tls.ca)
        .args(&l.extra_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if let Some(listen) = &l.raft_listen {
        cmd.arg("--raft-listen").arg(listen);
    }
    if let Some(ic) = &l.initial_cluster {
        cmd.arg("--initial-cluster").arg(ic);
    }
    if l.detach {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot run {}: {e}; build it with `cargo build -p cluster`",
                l.program.program.display()
            ),
        )
    })
}

/// Sends SIGTERM and waits up to `grace` for the process to exit, then SIGKILLs it.
/// `child` is reaped if given.
pub fn stop(pid: u32, child: Option<&mut Child>, grace: Duration) {
    signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    match child {
        Some(c) => {
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        None => {
            while Instant::now() < deadline {
                if !signal(pid, 0) || is_zombie(pid) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            signal(pid, libc::SIGKILL);
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// `count` distinct free TCP ports on 127.0.0.1, none of them in `taken`.
///
/// Every port stays bound until all are chosen, so the kernel cannot hand the same port out
/// twice (binding and releasing one port at a time can return a port just released). They are
/// released on return: another process may still take one before the tracker binds it, but
/// this process never hands the same port out twice.
///
/// # Errors
/// If no port can be bound.
pub fn free_ports(count: usize, taken: &[u16]) -> std::io::Result<Vec<u16>> {
    // Ports this process handed out before: a cluster planned a moment ago (by a parallel test,
    // say) may not have bound them yet.
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut held = Vec::with_capacity(count);
    let mut ports = Vec::with_capacity(count);
    // Bounded: each round binds a new port while the earlier ones are held.
    for _ in 0..count + taken.len() + 64 {
        if ports.len() == count {
            break;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        if !taken.contains(&port) && !handed_out.contains(&port) {
            ports.push(port);
        }
        held.push(listener);
    }
    handed_out.extend_from_slice(&ports);
    if ports.len() < count {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!(
                "found only {} of {count} free ports on 127.0.0.1",
                ports.len()
            ),
        ));
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::free_ports;

    #[test]
    fn free_ports_are_distinct_and_avoid_taken_ones() {
        let first = free_ports(4, &[]).unwrap();
        let taken = [first[0], first[1]];
        for _ in 0..20 {
            let ports = free_ports(16, &taken).unwrap();
            let mut unique = ports.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), 16, "duplicate ports: {ports:?}");
            assert!(ports.iter().all(|p| !taken.contains(p)), "{ports:?}");
        }
    }
}
