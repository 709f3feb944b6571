//! The history of a chaos run: every operation a client sent and what became of it.
//!
//! A write is *acknowledged* (the cluster answered success), *failed* (the cluster answered a
//! definite refusal, so it must not be applied) or *unknown* (timed out or no tracker reachable:
//! it may or may not have been applied, and no checker may assume either).
//!
//! Group creations are [`WriteRecord`]s; the other client-library writes (join, accept, file
//! registration, chunk reports) are [`OpRecord`]s, checked by [`crate::state_check`]; the reads
//! (group listings, join-request listings) are [`ReadRecord`]s, the listings checked by
//! [`crate::cross_client`]. Every record keeps its send and answer times on one clock
//! ([`History::now_ms`]) and the [`ReplyMeta`] of the node that answered, so
//! [`crate::timeline`] can show what happened around a violation.

use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use proto::tracker_msg::FileManifest;
use proto::{ApiError, ReplyMeta};

use crate::seen_groups::SeenGroups;

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

impl Outcome {
    /// Classifies a tracker answer: success is acknowledged; no answer, "unavailable" or "not
    /// leader" after every retry is unknown; any other refusal is a definite failure.
    pub fn of<T>(result: &Result<T, ApiError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Acked,
            Err(
                e @ (ApiError::NoTrackerReachable { .. }
                | ApiError::Unavailable(_)
                | ApiError::NotLeader { .. }),
            ) => Outcome::Unknown(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
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
    /// The same moment in microseconds, for [`crate::cross_client`] (two events in one ms are
    /// common at this load, and the order is what it checks).
    #[serde(skip)]
    pub done_us: u64,
    /// Outcome.
    pub outcome: Outcome,
    /// The node that sent the final answer, with its term and applied index then (`None`: no
    /// node answered).
    pub served_by: Option<ReplyMeta>,
}

/// A client-library write other than group creation, with what it should do to the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OpKind {
    /// `user` filed a join request with `group`'s owner.
    Join {
        /// Group.
        group: String,
        /// Who asked to join.
        user: String,
    },
    /// The owner accepted `user` into `group`.
    Accept {
        /// Group.
        group: String,
        /// Who was accepted.
        user: String,
    },
    /// A file was registered in `group` with `manifest`.
    RegisterFile {
        /// Group.
        group: String,
        /// The whole manifest.
        manifest: FileManifest,
    },
    /// `peer_id` reported holding `chunks` of `group`/`name`.
    ReportHave {
        /// Group.
        group: String,
        /// File name.
        name: String,
        /// Reporting peer (owned by the client's user).
        peer_id: u64,
        /// Chunk indexes reported by this write (no other write reports them for this peer).
        chunks: Vec<u32>,
    },
}

impl OpKind {
    /// Short name for counts in the report.
    pub fn label(&self) -> &'static str {
        match self {
            OpKind::Join { .. } => "join",
            OpKind::Accept { .. } => "accept",
            OpKind::RegisterFile { .. } => "register_file",
            OpKind::ReportHave { .. } => "report_have",
        }
    }

    /// What the write is about, in one short string (group, user, file, chunks).
    pub fn key(&self) -> String {
        match self {
            OpKind::Join { group, user } | OpKind::Accept { group, user } => {
                format!("{group}/{user}")
            }
            OpKind::RegisterFile { group, manifest } => format!("{group}/{}", manifest.name),
            OpKind::ReportHave {
                group,
                name,
                chunks,
                ..
            } => format!("{group}/{name}#{chunks:?}"),
        }
    }
}

/// One [`OpKind`] write and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct OpRecord {
    /// Client number.
    pub client: usize,
    /// The write.
    pub op: OpKind,
    /// Milliseconds since the run started, when sent.
    pub sent_ms: u64,
    /// Milliseconds since the run started, when answered.
    pub done_ms: u64,
    /// Outcome.
    pub outcome: Outcome,
    /// The node that sent the final answer (as [`WriteRecord::served_by`]).
    pub served_by: Option<ReplyMeta>,
}

/// Which read a [`ReadRecord`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReadKind {
    /// Every group ([`proto::tracker_msg::ReadRequest::ListGroups`]).
    ListGroups,
    /// One group's pending join requests ([`proto::tracker_msg::ReadRequest::ListRequests`]).
    ListRequests,
}

impl ReadKind {
    /// Short name for the timeline.
    pub fn label(self) -> &'static str {
        match self {
            ReadKind::ListGroups => "list_groups",
            ReadKind::ListRequests => "list_requests",
        }
    }
}

/// One read and what it answered. [`Outcome::Acked`] means the cluster answered it.
#[derive(Debug, Clone, Serialize)]
pub struct ReadRecord {
    /// Client number.
    pub client: usize,
    /// Which read.
    pub kind: ReadKind,
    /// The group asked about (empty for a listing of every group).
    pub key: String,
    /// Milliseconds since the run started, when sent.
    pub sent_ms: u64,
    /// The same moment in microseconds (see [`WriteRecord::done_us`]).
    #[serde(skip)]
    pub sent_us: u64,
    /// Milliseconds since the run started, when answered.
    pub done_ms: u64,
    /// Outcome.
    pub outcome: Outcome,
    /// The node that sent the final answer (as [`WriteRecord::served_by`]).
    pub served_by: Option<ReplyMeta>,
    /// A few words on the answer ("412 groups", "pending [chaos3]").
    pub answer: String,
    /// For an answered listing of every group: the workload groups it showed, compactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<SeenGroups>,
}

/// A read-your-writes or monotonic-read violation seen by a client.
#[derive(Debug, Clone, Serialize)]
pub struct ReadViolation {
    /// Client number.
    pub client: usize,
    /// What was wrong.
    pub what: String,
    /// When the violating read was sent (ms since the run started).
    pub at_ms: u64,
    /// The acknowledged group names it missed (empty for a read that went backwards).
    pub missing: Vec<String>,
}

/// The shared history of one run.
pub struct History {
    started: Instant,
    writes: Mutex<Vec<WriteRecord>>,
    ops: Mutex<Vec<OpRecord>>,
    reads: Mutex<Vec<ReadRecord>>,
    read_violations: Mutex<Vec<ReadViolation>>,
    reads_checked: Mutex<u64>,
}

impl History {
    /// An empty history starting now.
    pub fn new() -> Self {
        History {
            started: Instant::now(),
            writes: Mutex::new(Vec::new()),
            ops: Mutex::new(Vec::new()),
            reads: Mutex::new(Vec::new()),
            read_violations: Mutex::new(Vec::new()),
            reads_checked: Mutex::new(0),
        }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Microseconds since the run started, on the same clock as [`History::now_ms`]: a record
    /// that needs both takes this once and derives its ms as `us / 1000`.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Records a finished write.
    pub fn record_write(&self, r: WriteRecord) {
        if let Ok(mut w) = self.writes.lock() {
            w.push(r);
        }
    }

    /// Records a finished [`OpRecord`].
    pub fn record_op(&self, r: OpRecord) {
        if let Ok(mut o) = self.ops.lock() {
            o.push(r);
        }
    }

    /// Every [`OpRecord`] so far, in completion order.
    pub fn ops(&self) -> Vec<OpRecord> {
        self.ops.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Records a finished read.
    pub fn record_read(&self, r: ReadRecord) {
        if let Ok(mut reads) = self.reads.lock() {
            reads.push(r);
        }
    }

    /// Every [`ReadRecord`] so far, in completion order.
    pub fn reads(&self) -> Vec<ReadRecord> {
        self.reads.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Records a read-your-writes check of a listing and, if any, its violation.
    pub fn record_read_check(&self, violation: Option<ReadViolation>) {
        if let Ok(mut n) = self.reads_checked.lock() {
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

    /// Number of reads checked for read-your-writes.
    pub fn read_count(&self) -> u64 {
        self.reads_checked.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}
