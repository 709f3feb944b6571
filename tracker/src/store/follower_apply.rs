//! [`FollowerApplier`]: a follower's applies on one low-priority thread.
//!
//! A follower's apply is off the commit path: the leader commits an entry once a quorum has it in
//! its log, and answers its writers after its own apply. On a machine whose cores the nodes share
//! (or a follower that is also busy elsewhere), running a follower's applies at nice 10 leaves the
//! CPU to the log appends and the leader first; the applies take the idle time, and a follower that
//! falls behind applies the backlog in larger, cheaper batches. On the project's 2-core machine
//! this gave more writes per second at 64 writers, the machine busier by about the same share
//! (see chaos-tests/reports/2026-11-22.md). The leader applies on the blocking pool at normal
//! priority.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// An apply handed to the low-priority thread.
pub type ApplyJob = Box<dyn FnOnce() + Send>;

/// Whether this node follows, and the thread its applies then run on. Clones share both.
#[derive(Clone)]
pub struct FollowerApplier {
    /// Set by the node's role watcher: true unless this node leads.
    following: Arc<AtomicBool>,
    /// The low-priority thread, started on first use.
    thread: Arc<OnceLock<Mutex<Sender<ApplyJob>>>>,
}

impl Default for FollowerApplier {
    fn default() -> Self {
        FollowerApplier {
            following: Arc::new(AtomicBool::new(true)),
            thread: Arc::default(),
        }
    }
}

impl FollowerApplier {
    /// The flag the node's role watcher keeps up to date.
    pub fn following_flag(&self) -> Arc<AtomicBool> {
        self.following.clone()
    }

    /// Whether applies should go to the low-priority thread now.
    pub fn is_following(&self) -> bool {
        self.following.load(Ordering::Relaxed)
    }

    /// Runs `job` on the low-priority thread.
    ///
    /// # Errors
    /// If the thread could not start or has stopped.
    pub fn run(&self, job: ApplyJob) -> Result<(), String> {
        let sender = self.thread.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<ApplyJob>();
            let started = std::thread::Builder::new()
                .name("apply-follower".into())
                .spawn(move || {
                    super::thread_priority::lower_thread_priority();
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                });
            if let Err(e) = started {
                tracing::error!(%e, "could not start the follower apply thread");
            }
            Mutex::new(tx)
        });
        sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| "the follower apply thread is not running".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order_on_the_background_thread() {
        let applier = FollowerApplier::default();
        assert!(applier.is_following(), "a node follows until it leads");
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..5 {
            let tx = tx.clone();
            applier
                .run(Box::new(move || {
                    let name = std::thread::current().name().map(str::to_string);
                    let _ = tx.send((i, name));
                }))
                .unwrap();
        }
        let got: Vec<(i32, Option<String>)> = (0..5).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(
            got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(got
            .iter()
            .all(|(_, n)| n.as_deref() == Some("apply-follower")));
        applier.following_flag().store(false, Ordering::Relaxed);
        assert!(!applier.is_following());
    }
}
