//! `peer`: the command line and daemon of one user's peer. See `peer --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    peer::run_process(peer::cli::Cli::parse())
}
