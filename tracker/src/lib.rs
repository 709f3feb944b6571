//! A tracker node: one member of the Raft group that replicates users, sessions, groups, files
//! and chunk availability.
//!
//! # Layout
//! Each module imports only the ones listed below it (none reaches back up), apart from the
//! wiring at the top. One line per module:
//! - [`node`]: wiring and lifecycle of one node: open sled, build Raft, spawn the listeners and
//!   the tasks, stop on a signal.
//! - [`config`]: flags and their validation.
//! - [`api`]: the client API; [`api::server`] the listener and its connections, then one file per
//!   kind of request:
//!   - [`api::write`]: replicated writes; [`api::login`]: a write that checks a password first;
//!   - [`api::read`]: linearizable queries; [`api::heartbeat`]: a peer's heartbeat;
//!   - [`api::admin`]: status and membership; [`api::token`]: session tokens.
//! - [`tasks`]: the background loops (liveness sweep, cluster-key ensure, election watchdog).
//! - [`served_by`]: the node id, term and applied index every reply carries.
//! - [`raft_net`]: Raft RPCs over TCP ([`raft_net::msg`], [`raft_net::client`],
//!   [`raft_net::server`]).
//! - [`app`]: [`app::App`], what every handler shares;
//!   - [`app::group_commit`]: concurrent writes share entries;
//!   - [`app::read_gate`]: concurrent reads share quorum confirmations;
//!   - [`app::read_floor`]: what a read waits for on a leader resumed at startup;
//!   - [`app::state`]: the read interface of the committed state.
//! - [`leader`]: what a leader keeps: [`leader::liveness`] (last heartbeats),
//!   [`leader::cluster_key`] (the ticket signing key).
//! - [`election`]: [`election::leader_contact`] (proof a leader is alive),
//!   [`election::leader_link`] (an election when a leader's connection closes),
//!   [`election::watchdog`] (breaks split-vote ties).
//! - [`store`]: everything in sled:
//!   - [`store::log_store`] and [`store::log_tail`]: the Raft log and vote, the newest entries in
//!     memory;
//!   - [`store::state_machine`]: openraft's state machine over the domain;
//!     [`store::follower_apply`]: a follower's applies at low priority;
//!   - [`store::overlay`]: the committed view and the per-batch write overlay (the domain's port);
//!   - [`store::sm_trees`]: staged writes over the trees and their background drains;
//!     [`store::staged`]: the staged writes; [`store::record_cache`]: decoded records;
//!   - [`store::trees`]: the plain sled trees; [`store::undo`]: crash-atomic drains;
//!   - [`store::snapshot`]: stored snapshots; [`store::image`]: the snapshot image and digest;
//!     [`store::framing`]: their length-prefixed fields;
//!   - [`store::thread_priority`]: background threads yield to the Raft path.
//! - [`domain`]: the rules, pure and deterministic, over a port it owns:
//!   - [`domain::apply`]: one command, at most once per (client id, serial);
//!   - [`domain::rules`]: the dispatcher, then [`domain::rules::account`],
//!     [`domain::rules::group`], [`domain::rules::peer`], [`domain::rules::file`],
//!     [`domain::rules::cluster`];
//!   - [`domain::queries`]: what each read returns; [`domain::lookup`]: lookups both share;
//!   - [`domain::records`]: records and keys; [`domain::validate`]: name and manifest checks;
//!   - [`domain::kv`]: tables, codec, `KvRead` and `KvWrite`; [`domain::error`]: `Fail`.
//! - [`raft_types`]: the openraft type config.
//! - [`cmd`]: the replicated commands, their results and the batch one entry carries.
#![warn(clippy::unwrap_used)]
#![warn(missing_docs)]
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
