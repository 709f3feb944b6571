//! Proof that a leader is alive: a counter bumped every time this node accepts an AppendEntries
//! (heartbeats included). A node asked "who leads now?" by a client that could not reach the
//! leader answers once it has heard from one after the question arrived, so the answer is never a
//! dead leader and never waits longer than one heartbeat for a live one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Counts AppendEntries accepted from the current leader.
#[derive(Debug)]
pub struct LeaderContact {
    tx: watch::Sender<u64>,
    last: Mutex<Instant>,
}

impl LeaderContact {
    /// A counter at zero.
    pub fn new() -> Self {
        LeaderContact {
            tx: watch::channel(0).0,
            last: Mutex::new(Instant::now()),
        }
    }

    /// Records one accepted AppendEntries.
    pub fn touch(&self) {
        if let Ok(mut last) = self.last.lock() {
            *last = Instant::now();
        }
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Time since the last [`LeaderContact::touch`] (or since start).
    pub fn silent_for(&self) -> Duration {
        self.last.lock().map(|l| l.elapsed()).unwrap_or_default()
    }

    /// How many AppendEntries were accepted so far (wrapping).
    pub fn count(&self) -> u64 {
        *self.tx.borrow()
    }

    /// A receiver that sees every later [`LeaderContact::touch`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

impl Default for LeaderContact {
    fn default() -> Self {
        Self::new()
    }
}
