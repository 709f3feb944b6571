//! The history of a chaos run: every operation a client sent and what became of it.
//!
//! A write is *acknowledged* (the cluster answered success), *failed* (the cluster answered a
//! definite refusal, so it must not be applied) or *unknown* (timed out or no tracker reachable:
//! it may or may not have been applied, and no checker may assume either).

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

/// What became of one write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// The cluster acknowledged it.
    Acked,
    /// The cluster refused it definitely.
    Failed(String),
    /// Unknown: timed out or no answer.
    Unknown(String),
}

/// One write: a group created by a client.
#[derive(Debug, Clone, Serialize)]
pub struct WriteRecord {
    /// Client number.
    pub client: usize,
    /// The unique group name written.
    pub key: String,
    /// Milliseconds since the run started, when sent.
    pub sent_ms: u64,
    /// Milliseconds since the run started, when answered.
    pub done_ms: u64,
    /// Outcome.
    pub outcome: Outcome,
}

/// A read-your-writes or monotonic-read violation seen by a client.
#[derive(Debug, Clone, Serialize)]
pub struct ReadViolation {
    /// Client number.
    pub client: usize,
    /// What was wrong.
    pub what: String,
}

/// The shared history of one run.
pub struct History {
    started: Instant,
    writes: Mutex<Vec<WriteRecord>>,
    read_violations: Mutex<Vec<ReadViolation>>,
    reads: Mutex<u64>,
}

impl History {
    /// An empty history starting now.
    pub fn new() -> Self {
        History {
            started: Instant::now(),
            writes: Mutex::new(Vec::new()),
            read_violations: Mutex::new(Vec::new()),
            reads: Mutex::new(0),
        }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a finished write.
    pub fn record_write(&self, r: WriteRecord) {
        if let Ok(mut w) = self.writes.lock() {
            w.push(r);
        }
    }

    /// Records a read and, if any, its violation.
    pub fn record_read(&self, violation: Option<ReadViolation>) {
        if let Ok(mut n) = self.reads.lock() {
            *n += 1;
        }
        if let Some(v) = violation {
            if let Ok(mut r) = self.read_violations.lock() {
                r.push(v);
            }
        }
    }

    /// Every write so far.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// Every read violation so far.
    pub fn read_violations(&self) -> Vec<ReadViolation> {
        self.read_violations
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Number of reads checked.
    pub fn read_count(&self) -> u64 {
        self.reads.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}
