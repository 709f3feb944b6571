//! [`SharedScheduler`]: the one handle through which a download's tasks reach its
//! [`Scheduler`]: the coordinator, one task per source peer, the verify-and-write jobs on the
//! blocking pool, and the seeder serving the chunks of a download in progress.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{PeerKey, Received, Scheduler};

/// A download's [`Scheduler`] behind a mutex, shared by its tasks. Each method takes the lock,
/// runs one [`Scheduler`] method and lets go: no I/O, no `.await` and no caller code ever runs
/// under the lock.
///
/// # Poisoning
/// One policy for every method: a poisoned lock is recovered with
/// [`PoisonError::into_inner`] and the download goes on with the scheduler's state as it is.
/// Callers never see poisoning and never substitute an answer of their own. This is sound
/// because:
/// - Only the methods of this type hold the lock, so it is poisoned only if a [`Scheduler`]
///   method panicked, which is a bug: they check every index they take from outside.
/// - Even a method cut short cannot claim a chunk that is not on disk. A chunk becomes held
///   only in [`Scheduler::on_verified`], which the data path calls after the chunk was
///   written. The worst a half-done update can leave is a chunk stranded in flight or a count
///   off by one; the download then stops making progress and fails on its stall limit with a
///   message, like any other stalled download, and the resume file keeps what was written.
///
/// The first recovery after a panic is logged at error level (an operator should report the
/// bug) and the poison flag is cleared, so one panic is logged once.
#[derive(Debug)]
pub struct SharedScheduler {
    inner: Mutex<Scheduler>,
}

/// How far a download got, and from whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Verified chunks.
    pub chunks_done: usize,
    /// Verified chunks per source peer, sorted by peer.
    pub by_peer: Vec<(PeerKey, u32)>,
}

impl SharedScheduler {
    /// Shares `scheduler`.
    pub fn new(scheduler: Scheduler) -> Self {
        SharedScheduler {
            inner: Mutex::new(scheduler),
        }
    }

    /// The lock, recovered if poisoned (see the type's doc).
    fn lock(&self) -> MutexGuard<'_, Scheduler> {
        self.inner.lock().unwrap_or_else(|e| self.recover(e))
    }

    #[cold]
    fn recover<'a>(&self, e: PoisonError<MutexGuard<'a, Scheduler>>) -> MutexGuard<'a, Scheduler> {
        tracing::error!(
            "a download's scheduler panicked (a bug; please report it); \
             continuing with its state as it is"
        );
        self.inner.clear_poison();
        e.into_inner()
    }

    /// Whether chunk `i` is verified on disk (so it may be served).
    pub fn has(&self, i: u32) -> bool {
        self.lock().has(i)
    }

    /// Whether every chunk is verified.
    pub fn is_complete(&self) -> bool {
        self.lock().is_complete()
    }

    /// Verified chunks, in all and per source peer.
    pub fn progress(&self) -> Progress {
        let s = self.lock();
        Progress {
            chunks_done: s.have_count(),
            by_peer: s.delivered_by_peer(),
        }
    }

    /// The verified chunks as booleans (for the resume file).
    pub fn have_bits(&self) -> Vec<bool> {
        self.lock().have_bits()
    }

    /// Adds a source peer or updates what it holds; returns whether it holds any chunk this
    /// download still needs.
    pub fn set_peer_bitfield(&self, peer: PeerKey, has: Vec<bool>) -> bool {
        let mut s = self.lock();
        s.set_peer_bitfield(peer, has);
        s.peer_is_useful(peer)
    }

    /// Whether `peer` is known and not dropped.
    pub fn is_usable(&self, peer: PeerKey) -> bool {
        self.lock().is_usable(peer)
    }

    /// Whether `peer` holds any chunk this download still needs.
    pub fn peer_is_useful(&self, peer: PeerKey) -> bool {
        self.lock().peer_is_useful(peer)
    }

    /// See [`Scheduler::set_peer_rate`].
    pub fn set_peer_rate(&self, peer: PeerKey, bytes_per_sec: u64) {
        self.lock().set_peer_rate(peer, bytes_per_sec);
    }

    /// See [`Scheduler::next_for`].
    pub fn next_for(&self, peer: PeerKey) -> Option<u32> {
        self.lock().next_for(peer)
    }

    /// See [`Scheduler::take_cancelled`].
    pub fn take_cancelled(&self, peer: PeerKey) -> Vec<u32> {
        self.lock().take_cancelled(peer)
    }

    /// See [`Scheduler::on_verified`].
    pub fn on_verified(&self, peer: PeerKey, idx: u32) -> Received {
        self.lock().on_verified(peer, idx)
    }

    /// See [`Scheduler::on_bad_chunk`]; returns true if the peer is now dropped.
    pub fn on_bad_chunk(&self, peer: PeerKey, idx: u32) -> bool {
        self.lock().on_bad_chunk(peer, idx)
    }

    /// See [`Scheduler::on_not_available`].
    pub fn on_not_available(&self, peer: PeerKey, idx: u32) {
        self.lock().on_not_available(peer, idx);
    }

    /// See [`Scheduler::on_peer_lost`].
    pub fn on_peer_lost(&self, peer: PeerKey) {
        self.lock().on_peer_lost(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_with_the_state_it_holds() {
        let shared = std::sync::Arc::new(SharedScheduler::new(Scheduler::new(2, &[true], 0)));
        let s = shared.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = s.inner.lock();
            panic!("a bug while the lock is held");
        })
        .join();
        assert!(panicked.is_err());
        assert!(shared.inner.is_poisoned());
        assert!(shared.has(0), "the real state, not a made-up answer");
        assert!(!shared.is_complete());
        assert!(
            !shared.inner.is_poisoned(),
            "cleared after the first recovery"
        );
        assert_eq!(shared.progress().chunks_done, 1);
    }
}
