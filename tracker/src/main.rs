//! `tracker`: runs one tracker node. See `tracker --help`.

/// mimalloc, set in every binary of the workspace (each other `main.rs` points here), so a node or
/// peer run inside `bench`, `chaos` or `cluster` allocates as the shipped `tracker` and `peer` do.
/// glibc's malloc gives each allocating thread an arena of its own, and memory freed on a node's
/// Raft, apply and sled threads stayed there, so a leader with a million peers held far more memory
/// with glibc and wrote less per second (see chaos-tests/reports/2026-11-22.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tracker::run_command_line(std::env::args_os())
}
