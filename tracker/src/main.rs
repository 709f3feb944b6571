//! `tracker`: runs one tracker node. See `tracker --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tracker::run_process(tracker::config::Args::parse())
}
