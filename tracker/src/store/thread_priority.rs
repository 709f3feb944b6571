//! [`lower_thread_priority`]: background work (drains, a follower's applies) yields the CPU to
//! the Raft path.

/// Lowers the calling thread's CPU priority (on Linux, nice is per thread), so background work
/// runs in the time the Raft path leaves idle and yields to it otherwise.
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid.unsigned_abs(), 10);
    }
}
