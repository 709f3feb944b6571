//! `peer`: the command line and daemon of one user's peer. See `peer --help`.

/// mimalloc, as in every binary of the workspace, so a node or peer run inside this one allocates
/// as the shipped binaries do; the reason is on the allocator in `tracker/src/main.rs`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    peer::run_command_line(std::env::args_os())
}
