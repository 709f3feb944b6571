//! A tracker node: one member of the Raft group that replicates users, sessions, groups, files
//! and chunk availability.
//!
//! # Layout
//! Each module imports only the ones listed below it, never one above (no import circles).
//! - [`node`]: wiring and lifecycle of one node (sled, Raft, listeners, tasks, shutdown).
//! - [`backup`]: snapshot files outside Raft and seeding a new cluster's data from one.
//!   - [`backup::file`]: the file's header (applied log id, digest, length) and format.
//!   - [`backup::seed`]: an empty data directory seeded with an image at its log id.
//! - [`api`]: the client API, one file per kind of request.
//!   - [`api::server`]: the listener, its connections and the dispatch.
//!   - [`api::write`]: replicated writes.
//!   - [`api::login`]: a write that checks a password first.
//!   - [`api::read`]: linearizable queries.
//!   - [`api::heartbeat`]: a peer's heartbeat (a read that may propose a write).
//!   - [`api::admin`]: status and membership.
//!   - [`api::quotas`]: showing and setting the quotas (admin).
//!   - [`api::members`]: the membership with addresses (admin).
//!   - [`api::snapshot`]: snapshot export: begin, read, end (admin).
//!   - [`api::token`]: session tokens.
//!   - [`api::http`]: the HTTP surface: metrics, health, status JSON and page.
//! - [`tasks`]: the background loops (liveness sweep, pruning of sessions and stale peers,
//!   cluster-key ensure, election watchdog).
//! - [`served_by`]: the node id, term and applied index every reply carries.
//! - [`raft_net`]: Raft RPCs over mutual TLS (a node is who its certificate says).
//!   - [`raft_net::client`]: the outgoing side openraft drives.
//!   - [`raft_net::server`]: the listener.
//!   - [`raft_net::msg`]: the messages and the handshake.
//! - [`app`]: [`app::App`], what every request handler shares.
//!   - [`app::group_commit`]: concurrent writes share entries.
//!   - [`app::read_gate`]: concurrent reads share quorum confirmations.
//!   - [`app::read_floor`]: what a read waits for on a leader resumed at startup.
//!   - [`app::state`]: the read interface of the committed state.
//!   - [`app::passwords`]: argon2id on a bounded pool of its own.
//!   - [`app::snapshot_export`]: the one snapshot export in flight and its temporary file.
//! - [`leader`]: what a leader keeps beyond the replicated state.
//!   - [`leader::liveness`]: peers' last heartbeats.
//!   - [`leader::login_throttle`]: failed logins per username and per address.
//!   - [`leader::cluster_key`]: the ticket signing key.
//! - [`election`]: elections beyond openraft's own timer.
//!   - [`election::leader_link`]: an election once a crashed leader's lease runs out.
//!   - [`election::leader_contact`]: proof that a leader is alive.
//!   - [`election::watchdog`]: breaks split-vote ties.
//! - [`store`]: everything in the node's sled database.
//!   - [`store::state_machine`]: openraft's state machine over the domain.
//!   - [`store::follower_apply`]: a follower's applies at low priority.
//!   - [`store::snapshot`]: stored snapshots and the snapshot builder.
//!   - [`store::overlay`]: the committed view and the per-batch write overlay (the domain's port).
//!   - [`store::image`]: the snapshot image and the state digest.
//!   - [`store::sm_trees`]: the committed state: staged writes over the trees, background drains.
//!   - [`store::record_cache`]: decoded records kept between batches.
//!   - [`store::staged`]: applied writes not yet in the trees.
//!   - [`store::undo`]: crash-atomic drains.
//!   - [`store::trees`]: the plain sled trees.
//!   - [`store::framing`]: length-prefixed fields of the undo record and the image.
//!   - [`store::thread_priority`]: background threads yield to the Raft path.
//!   - [`store::log_store`]: the Raft log and vote.
//!   - [`store::log_tail`]: the newest log entries in memory.
//! - [`domain`]: the rules, pure and deterministic, over a storage port it owns.
//!   - [`domain::admit`]: what the leader checks against the applied state before it proposes.
//!   - [`domain::admit_quota`]: the quotas the leader checks before it proposes.
//!   - [`domain::apply`]: one command, applied at most once per (client id, serial).
//!   - [`domain::rules`]: what each operation does: a dispatcher over one file per area.
//!   - [`domain::rules::account`]: users and sessions.
//!   - [`domain::rules::group`]: groups (closed or open), join requests (accepted or refused),
//!     removing a member, leaving.
//!   - [`domain::rules::peer`]: peer registration and online marking.
//!   - [`domain::rules::peer_prune`]: forgetting peers offline for long.
//!   - [`domain::rules::file`]: files and chunk availability.
//!   - [`domain::rules::cluster`]: the signing key, client-record pruning, the quotas.
//!   - [`domain::queries`]: what each read returns.
//!   - [`domain::lookup`]: lookups the rules and the queries share.
//!   - `domain::fixtures` and `domain::mem_kv` (tests only): test records, an in-memory KV.
//!   - [`domain::records`]: stored records and their keys.
//!   - [`domain::quota`]: the quotas and the counters they are checked against.
//!   - [`domain::avail`]: availability entries and each peer's index of them.
//!   - [`domain::offline`]: when each offline peer went offline.
//!   - [`domain::validate`]: name, manifest and limit checks.
//!   - [`domain::error`]: how a rule fails.
//!   - [`domain::kv`]: the port: tables, codec, `KvRead` and `KvWrite`.
//! - `fuzz_entry` (hidden): the decoders as the fuzz targets and the corpus replay tests call them.
//! - [`config`]: flags and their validation.
//! - [`counters`]: the atomics the hot paths bump for `GET /metrics` (below every other module).
//! - [`raft_types`]: the openraft type config.
//! - [`cmd`]: the replicated commands, their results and the batch one entry carries.
#![warn(clippy::unwrap_used)]
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
// openraft's StorageError is large and is the error type its storage traits require.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod app;
pub mod backup;
pub mod cmd;
pub mod config;
pub mod counters;
pub mod domain;
pub mod election;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod leader;
pub mod node;
pub mod raft_net;
pub mod raft_types;
pub mod served_by;
pub mod store;
pub mod tasks;

/// Runs `tracker`'s command line (`argv` with the program name first) as the whole process:
/// parses it with the shared conventions ([`config::CLI`]: `--config`, `--print-config`,
/// `completions`), then runs the node ([`run_process`]). Shared by the `tracker` binary,
/// `cluster node` and the benchmarks' `node`.
pub fn run_command_line<I, A>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    match proto::cli::parse::<config::Args, _, _>(&config::CLI, argv) {
        proto::cli::Parsed::Run(args) => run_process(args),
        proto::cli::Parsed::Exit(code) => code,
    }
}

/// Runs a node as the whole process: installs the log subscriber (`RUST_LOG`, `--log-format`),
/// starts the runtime, runs until SIGINT/SIGTERM and turns errors into a message and an exit code.
pub fn run_process(args: config::Args) -> std::process::ExitCode {
    proto::logging::init("info,openraft=warn,sled=warn", args.log_format);
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
