//! [`PasswordPool`]: argon2id hashing and verification on a small pool of threads of its own,
//! behind a bounded queue.
//!
//! One argon2id run takes 19 MiB and tens of milliseconds of CPU. Run on tokio's blocking pool,
//! a flood of sign-ups or logins would start hundreds at once (gigabytes, every core) and starve
//! the Raft path of CPU. Here at most [`PASSWORD_THREADS`] run at a time, at lowered priority,
//! and at most [`PASSWORD_QUEUE`] wait; a request that finds the queue full is answered
//! [`ApiError::Unavailable`] ("busy, retry") at once, which the client retries with backoff.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::oneshot;

use proto::ApiError;

use crate::store::thread_priority::lower_thread_priority;

/// Threads that run argon2id.
pub const PASSWORD_THREADS: usize = 2;
/// Jobs that may wait for a thread.
pub const PASSWORD_QUEUE: usize = 32;

/// One unit of work and where its answer goes.
enum Job {
    /// Hash a new password with a fresh salt.
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String, ApiError>>,
    },
    /// Check a password against a stored PHC hash.
    Verify {
        password: String,
        stored: String,
        reply: oneshot::Sender<Result<bool, ApiError>>,
    },
}

/// The pool; dropping it lets its threads finish their jobs and exit.
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    queue: usize,
}

impl PasswordPool {
    /// Starts `threads` worker threads with room for `queue` waiting jobs.
    ///
    /// # Errors
    /// If a thread cannot be spawned.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_thread_priority();
                    loop {
                        // A poisoned lock means another worker panicked holding only the
                        // receiver; the receiver itself is still sound.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => run(job),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(PasswordPool { jobs, queue })
    }

    /// An argon2id hash (PHC format, random salt) of `password`.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] if the queue is full; `Internal` if hashing fails.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash { password, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Whether `password` matches the stored PHC hash.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] if the queue is full; `Internal` if the stored hash is unreadable.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password,
            stored,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    fn submit(&self, job: Job) -> Result<(), ApiError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => ApiError::Unavailable(format!(
                "password checks are busy ({} waiting); retry in a moment",
                self.queue
            )),
            TrySendError::Disconnected(_) => stopped(),
        })
    }
}

fn stopped() -> ApiError {
    ApiError::Unavailable("the password workers stopped; the node is shutting down".into())
}

fn run(job: Job) {
    match job {
        Job::Hash { password, reply } => {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let hashed = Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")));
            let _ = reply.send(hashed);
        }
        Job::Verify {
            password,
            stored,
            reply,
        } => {
            let checked = PasswordHash::new(&stored)
                .map_err(|e| ApiError::Internal(format!("stored password hash is unreadable: {e}")))
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                });
            let _ = reply.send(checked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_a_full_queue_answers_busy_at_once() {
        let pool = std::sync::Arc::new(PasswordPool::start(1, 1).unwrap());
        let hash = pool.hash("secret-1".into()).await.unwrap();
        assert!(pool.verify("secret-1".into(), hash.clone()).await.unwrap());
        assert!(!pool.verify("secret-2".into(), hash.clone()).await.unwrap());
        assert!(matches!(
            pool.verify("x".into(), "not a hash".into()).await,
            Err(ApiError::Internal(_))
        ));
        // Eight at once on one thread with room for one waiting: most are turned away, fast.
        let started = std::time::Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (pool, hash) = (pool.clone(), hash.clone());
                tokio::spawn(async move { pool.verify(format!("guess-{i}"), hash).await })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let busy = answers
            .iter()
            .filter(|a| matches!(a, Err(ApiError::Unavailable(why)) if why.contains("busy")))
            .count();
        let done = answers.iter().filter(|a| matches!(a, Ok(false))).count();
        assert!(busy >= 5 && done >= 1 && busy + done == 8, "{answers:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}
