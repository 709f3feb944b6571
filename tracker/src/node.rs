//! Wiring of one tracker node: open sled, build Raft, form the cluster if asked, run the Raft and
//! client listeners and the liveness sweeper, and shut down cleanly on a signal.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::group_commit::GroupCommit;
use crate::app::passwords::{PasswordPool, PASSWORD_QUEUE, PASSWORD_THREADS};
use crate::app::read_floor::ReadFloor;
use crate::app::read_gate::ReadGate;
use crate::app::snapshot_export::SnapshotExports;
use crate::app::state::StateView;
use crate::app::App;
use crate::config::NodeConfig;
use crate::election::leader_contact::LeaderContact;
use crate::election::watchdog::Watchdog;
use crate::leader::liveness::Liveness;
use crate::leader::login_throttle::LoginThrottle;
use crate::raft_net::NetworkFactory;
use crate::raft_types::Raft;
use crate::served_by::ServedBy;
use crate::store::{open_db, LogStore, StateMachine};
use crate::tasks::Sweep;

/// Runs the node until SIGINT or SIGTERM.
///
/// # Errors
/// Startup failures (data directory locked or unreadable, address in use, bad config).
pub async fn run(config: NodeConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "while creating the data directory {}",
            config.data_dir.display()
        )
    })?;
    let db = open_db(&config.data_dir, config.sled_cache_bytes).with_context(|| {
        format!(
            "while opening the database in {} (is another tracker using it?)",
            config.data_dir.display()
        )
    })?;
    let log_store = LogStore::open(&db).context("while opening the raft log")?;
    let read_floor = ReadFloor::from_store(config.id, &log_store)
        .await
        .context("while reading the stored vote and log")?;
    let state_machine = StateMachine::open(&db).context("while opening the state machine")?;
    let trees = state_machine.trees().clone();
    let following = state_machine.following_flag();

    let raft_listen = config.raft_listen.clone();
    let api_listener = bind_waiting(&config.api_addr)
        .await
        .with_context(|| format!("while binding the client address {}", config.api_addr))?;

    let http_listener = match &config.http_addr {
        Some(addr) => Some(
            bind_waiting(addr)
                .await
                .with_context(|| format!("while binding the HTTP address {addr}"))?,
        ),
        None => None,
    };

    let raft_config = Arc::new(config.raft_config()?);
    let network = NetworkFactory {
        self_id: config.id,
        backoff: config.heartbeat.saturating_mul(4),
        tls: config.tls.clone(),
    };
    // Raft (its core, replication, state machine and Raft port) runs on its own thread, so a
    // flood of client requests cannot delay heartbeats past openraft's AppendEntries time limit
    // (one heartbeat interval) and cost the cluster its leader.
    let (raft_runtime, raft_rt) =
        RaftRuntime::start().context("while starting the raft runtime")?;
    // Bound inside the Raft runtime, so its connections are driven by that runtime's reactor.
    let raft_listener = raft_rt
        .spawn({
            let addr = raft_listen.clone();
            async move { bind_waiting(&addr).await }
        })
        .await
        .context("while binding the raft address")?
        .with_context(|| format!("while binding the raft address {raft_listen}"))?;
    let raft = raft_rt
        .spawn(Raft::new(
            config.id,
            raft_config,
            network,
            log_store,
            state_machine,
        ))
        .await
        .context("while starting raft")?
        .context("while starting raft")?;

    let role_watch = {
        let mut metrics = raft.metrics();
        tokio::spawn(async move {
            loop {
                let leading = metrics.borrow().state == openraft::ServerState::Leader;
                following.store(!leading, std::sync::atomic::Ordering::Relaxed);
                if metrics.changed().await.is_err() {
                    break;
                }
            }
        })
    };
    let leader_contact = Arc::new(LeaderContact::new());
    let silence_probe = leader_contact.clone();
    let raft_server = raft_rt.spawn(crate::raft_net::server::serve(
        raft_listener,
        raft.clone(),
        config.id,
        leader_contact.clone(),
        config.tls.clone(),
    ));

    if !config.initial_members.is_empty() {
        match raft.initialize(config.initial_members.clone()).await {
            Ok(()) => tracing::info!(members = config.initial_members.len(), "cluster formed"),
            // A node with any log or vote refuses; that is the harmless "formed before" case.
            Err(e) => tracing::info!(%e, "cluster already formed; not initializing again"),
        }
    }

    let liveness = Arc::new(Liveness::new(
        config.peer_idle,
        config.peer_active,
        config.peer_transferring,
        config.peer_lease_intervals,
    ));
    let app = Arc::new(App {
        id: config.id,
        raft: raft.clone(),
        state: StateView::new(trees.clone()),
        config: config.clone(),
        liveness,
        leader_contact,
        reads: Arc::new(ReadGate::new(read_floor)),
        writes: GroupCommit::start(
            raft.clone(),
            config.id,
            config.request_timeout,
            config.write_entries_in_flight,
            config.write_gather,
        ),
        passwords: PasswordPool::start(PASSWORD_THREADS, PASSWORD_QUEUE)
            .context("while starting the password threads")?,
        login_throttle: LoginThrottle::default(),
        exports: SnapshotExports::new(&config.data_dir),
    });
    let served_by = Arc::new(ServedBy::new(config.id));
    let served_by_watch = tokio::spawn(crate::served_by::task_watch(
        raft.clone(),
        served_by.clone(),
    ));
    let api_caps = proto::conn_limits::ConnCounter::new(config.api_connections);
    let api_server = tokio::spawn(crate::api::serve(
        api_listener,
        app.clone(),
        served_by,
        config.tls.clone(),
        api_caps.clone(),
    ));
    let http_server = http_listener.map(|listener| {
        let ctx = Arc::new(crate::api::http::HttpContext {
            app: app.clone(),
            api_caps: api_caps.clone(),
            counts: Default::default(),
        });
        tokio::spawn(crate::api::http::serve(listener, ctx))
    });
    let sweeper = tokio::spawn(crate::tasks::task_sweep(Sweep {
        raft: raft.clone(),
        liveness: app.liveness.clone(),
        writes: app.writes.clone(),
        state: app.state.clone(),
        client_record_ttl: config.client_record_ttl,
        session_prune_every: config.session_prune_every,
        peer_forget_after: config.peer_forget_after,
    }));
    let watchdog = tokio::spawn(crate::tasks::task_watch_elections(
        raft.clone(),
        config.id,
        Watchdog::new(config.election_max, config.election_silence),
        silence_probe,
        config.tls.clone(),
    ));
    tracing::info!(
        api = %config.api_addr,
        raft = %config.raft_addr,
        %raft_listen,
        http = config.http_addr.as_deref().unwrap_or("off"),
        "tracker node running"
    );

    proto::shutdown::wait_for_shutdown().await;
    tracing::info!("stopping");
    api_server.abort();
    if let Some(http) = &http_server {
        http.abort();
    }
    role_watch.abort();
    served_by_watch.abort();
    sweeper.abort();
    watchdog.abort();
    raft_server.abort();
    if let Err(e) = raft.shutdown().await {
        tracing::warn!(%e, "raft shutdown reported an error");
    }
    drop(raft_runtime);
    // Not needed for safety (the log holds what is staged), but a restart then replays nothing.
    if let Err(e) = trees.drain() {
        tracing::warn!(%e, "could not write the staged state-machine writes before stopping");
    }
    db.flush_async()
        .await
        .context("while flushing the database")?;
    tracing::info!("stopped");
    Ok(())
}

/// The Raft runtime; dropped without blocking (a runtime dropped inside another one's task would
/// panic), on every path out of [`run`].
struct RaftRuntime(Option<tokio::runtime::Runtime>);

impl RaftRuntime {
    /// One worker thread named `raft`; returns the guard and a handle to spawn on.
    fn start() -> std::io::Result<(Self, tokio::runtime::Handle)> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("raft")
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        Ok((RaftRuntime(Some(rt)), handle))
    }
}

impl Drop for RaftRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// How long a start waits for a listen address that is in use.
const BIND_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Binds `addr`, waiting up to [`BIND_WAIT`] while it is in use: on a restart the node's own
/// port may briefly be held by a socket the kernel gave another process meanwhile (an outgoing
/// connection takes any free local port). Any other error is returned at once.
async fn bind_waiting(addr: &str) -> std::io::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + BIND_WAIT;
    let mut warned = false;
    loop {
        match TcpListener::bind(addr).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                if !warned {
                    tracing::warn!(addr, "address in use; waiting up to {BIND_WAIT:?} for it");
                    warned = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bind_waiting;

    #[tokio::test]
    async fn a_start_waits_for_its_address_to_be_released() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap().to_string();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        let listener = bind_waiting(&addr).await.unwrap();
        assert_eq!(listener.local_addr().unwrap().to_string(), addr);
        release.join().unwrap();
    }

    #[tokio::test]
    async fn other_bind_errors_are_returned_at_once() {
        let started = std::time::Instant::now();
        assert!(bind_waiting("192.0.2.1:1").await.is_err());
        assert!(started.elapsed() < super::BIND_WAIT);
    }
}
