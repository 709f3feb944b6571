//! The peer: a command-line tool for accounts, groups and files, and the daemon that serves
//! verified chunks and downloads files in parallel from many seeders.
//!
//! # Layout
//! - [`error`]: the library's error types.
//! - [`home`]: the per-user home directory (session, peer id, socket, shares, downloads).
//! - [`identity`]: the daemon's Ed25519 key (`HOME/peer-key.pem`) and its TLS certificate.
//! - [`hashing`]: SHA-1 manifests of files and chunk checks.
//! - [`io_buf`]: aligned, pooled chunk buffers.
//! - [`chunk_store`]: chunk reads and writes at their offsets, direct I/O where possible.
//! - [`link`]: file links (`p2p:?g=..&n=..&s=..&h=..&tr=..`), made and parsed.
//! - [`control`]: the daemon's local control protocol (a unix socket in the home, owner-only).
//! - [`rate_limit`]: upload and download caps.
//! - [`scheduler`]: which chunk to ask which peer for (rarest first, end-game), no I/O.
//! - [`daemon`]: seeding, downloading, reporting, heartbeats.
//! - [`ops`]: tracker operations the CLI and the daemon's HTTP API share (accounts, groups,
//!   file lists).
//! - [`cli`]: the subcommands.
//! - `fuzz_entry` (hidden): the home files' decoders as the fuzz target and its replay test call them.
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod chunk_store;
pub mod cli;
pub mod control;
pub mod daemon;
pub mod error;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod hashing;
pub mod home;
pub mod identity;
pub mod io_buf;
pub mod link;
pub mod ops;
pub mod rate_limit;
pub mod scheduler;

/// Runs `peer`'s command line (`argv` with the program name first) as the whole process: parses
/// it with the shared conventions ([`cli::CLI`]: `peer daemon --config`, `--print-config`,
/// `completions`), then runs the command ([`run_process`]). Shared by the `peer` binary,
/// `cluster peer` and the benchmarks' `peer`.
pub fn run_command_line<I, A>(argv: I) -> std::process::ExitCode
where
    I: IntoIterator<Item = A>,
    A: Into<std::ffi::OsString> + Clone,
{
    match proto::cli::parse::<cli::Cli, _, _>(&cli::CLI, argv) {
        proto::cli::Parsed::Run(cli) => run_process(cli),
        proto::cli::Parsed::Exit(code) => code,
    }
}

/// Runs a parsed `peer` command line as the whole process: log subscriber (`RUST_LOG`, default
/// `warn`; `--log-format`), async runtime, one-line error and exit code. `peer shell` runs its
/// session on the same runtime ([`cli::shell::run`]).
pub fn run_process(cli: cli::Cli) -> std::process::ExitCode {
    proto::logging::init("warn", cli.log_format());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("peer: error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if cli.is_shell() {
        return cli::shell::run(&cli, &runtime);
    }
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
