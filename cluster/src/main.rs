//! `cluster`: launch and administer a tracker cluster. See `cluster --help`.

mod commands;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, as in every binary of the workspace, so a node or peer run inside this one allocates
/// as the shipped binaries do; the reason is on the allocator in `tracker/src/main.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match commands::Cli::parse().run_embedded() {
        Ok(code) => return code,
        Err(cli) => *cli,
    };
    proto::logging::init("warn");
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
