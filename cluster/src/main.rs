//! `cluster`: launch and administer a tracker cluster. See `cluster --help`.

mod commands;

use std::process::ExitCode;

/// mimalloc, as in every binary of the workspace, so a node or peer run inside this one allocates
/// as the shipped binaries do; the reason is on the allocator in `tracker/src/main.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = commands::run_embedded(&argv) {
        return code;
    }
    let cli = match proto::cli::parse::<commands::Cli, _, _>(&commands::CLI, argv) {
        proto::cli::Parsed::Run(cli) => cli,
        proto::cli::Parsed::Exit(code) => return code,
    };
    proto::logging::init("warn", cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cluster: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cluster: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
