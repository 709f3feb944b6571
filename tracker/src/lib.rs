//! A tracker node: one member of the Raft group that replicates users, sessions, groups, files
//! and chunk availability.
//!
//! # Layout
//! - [`config`]: flags and their validation.
//! - [`node`]: wiring and lifecycle of one node.
//! - [`cmd`]: the replicated commands and the batch one entry carries; [`raft_types`]: the openraft
//!   type config.
//! - [`store`]: sled log store, state machine, snapshots, digest.
//! - [`domain`]: the rules (pure, deterministic) and the reads.
//! - [`raft_net`]: Raft RPCs over TCP.
//! - [`api`] and [`app`]: the client API; [`served_by`]: the node id, term and applied index
//!   every reply carries.
//! - [`liveness`]: peer heartbeats and batched offline marking.
//! - [`election_watchdog`]: breaks split-vote ties.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
// openraft's StorageError is large and is the error type its storage traits require.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod app;
pub mod cmd;
pub mod config;
pub mod domain;
pub mod election;
pub mod leader;
pub mod node;
pub mod raft_net;
pub mod raft_types;
pub mod served_by;
pub mod store;
pub mod tasks;

/// Runs a node as the whole process: installs the log subscriber (`RUST_LOG`), starts the runtime,
/// runs until SIGINT/SIGTERM and turns errors into a message and an exit code. Shared by the
/// `tracker` binary and `cluster node`.
pub fn run_process(args: config::Args) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,openraft=warn,sled=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let node_id = args.id;
    let result = config::NodeConfig::from_args(args)
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let span = tracing::info_span!("node", id = node_id);
            runtime.block_on(tracing::Instrument::instrument(node::run(config), span))
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tracker: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
