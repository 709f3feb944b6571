//! The process-wide counters the hot paths bump for `GET /metrics`: plain atomics and
//! fixed-bucket histograms of atomics, no lock and no allocation, so counting costs a few relaxed
//! atomic adds on the write path. A tracker process runs one node, so one set ([`COUNTERS`])
//! serves it; `api::http::metrics` reads them at scrape time, beside the gauges it samples then
//! (openraft's metrics, the store, `/proc`).
//!
//! This module sits below every other one of the crate (it names none of them), so any layer
//! may count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proto::ApiError;

/// Most buckets a [`Histogram`] has (beyond `+Inf`).
const MAX_BUCKETS: usize = 16;

/// A histogram with fixed upper bounds, each bucket an atomic count (not cumulative; the
/// encoder adds them up), and the sum kept in integer units of `1 / scale`.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, ascending, at most [`MAX_BUCKETS`] of them.
    bounds: &'static [f64],
    /// Observations per bucket; the one after the last bound is `+Inf`.
    buckets: [AtomicU64; MAX_BUCKETS + 1],
    /// Observations in all.
    count: AtomicU64,
    /// Sum of the observations times `scale`, rounded down.
    sum_scaled: AtomicU64,
    /// Units of the sum per unit of an observation.
    scale: f64,
}

/// A snapshot of a [`Histogram`]: per-bucket counts as `(upper bound, count)` with the last
/// bound `f64::MAX` for `+Inf`, the sum and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations in this bucket)`, not cumulative.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram with `bounds` (ascending; those past [`MAX_BUCKETS`] are ignored),
    /// summing in units of `1 / scale`.
    pub const fn new(bounds: &'static [f64], scale: f64) -> Self {
        Histogram {
            bounds,
            buckets: [const { AtomicU64::new(0) }; MAX_BUCKETS + 1],
            count: AtomicU64::new(0),
            sum_scaled: AtomicU64::new(0),
            scale,
        }
    }

    /// Counts one observation of `value`.
    pub fn observe(&self, value: f64) {
        let bounds = &self.bounds[..self.bounds.len().min(MAX_BUCKETS)];
        let slot = bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(bounds.len());
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // `as` saturates for floats: a negative or NaN value adds 0.
        self.sum_scaled
            .fetch_add((value * self.scale) as u64, Ordering::Relaxed);
    }

    /// Counts `elapsed` in seconds.
    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// What it has counted so far (each field read on its own: a scrape may see an observation
    /// in the count but not yet in its bucket).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let bounds = &self.bounds[..self.bounds.len().min(MAX_BUCKETS)];
        let mut buckets: Vec<(f64, u64)> = bounds
            .iter()
            .zip(&self.buckets)
            .map(|(b, n)| (*b, n.load(Ordering::Relaxed)))
            .collect();
        let inf = self
            .buckets
            .get(bounds.len())
            .map_or(0, |n| n.load(Ordering::Relaxed));
        buckets.push((f64::MAX, inf));
        HistogramSnapshot {
            buckets,
            sum: self.sum_scaled.load(Ordering::Relaxed) as f64 / self.scale,
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

/// Latency buckets in seconds, 100 µs to 5 s.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Commands per entry, 1 to the group-commit cap of 512.
pub const WRITES_PER_ENTRY_BOUNDS: &[f64] =
    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Sum units of a latency histogram: nanoseconds.
const NANOS: f64 = 1e9;

/// The kinds of client request the API counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A replicated write.
    Write = 0,
    /// A linearizable read (heartbeats included).
    Read = 1,
    /// An admin or status request.
    Admin = 2,
}

impl RequestKind {
    /// Every kind, in label order.
    pub const ALL: [RequestKind; 3] = [RequestKind::Write, RequestKind::Read, RequestKind::Admin];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Write => "write",
            RequestKind::Read => "read",
            RequestKind::Admin => "admin",
        }
    }
}

/// The label of every [`ApiError`] variant, in the order of [`error_index`].
pub const ERROR_KINDS: [&str; 23] = [
    "not_leader",
    "unavailable",
    "no_tracker_reachable",
    "bad_credentials",
    "not_logged_in",
    "user_exists",
    "user_not_found",
    "group_exists",
    "group_not_found",
    "not_member",
    "not_owner",
    "already_member",
    "no_such_request",
    "file_not_found",
    "file_conflict",
    "peer_not_found",
    "invalid_request",
    "version_mismatch",
    "stale_request",
    "forbidden",
    "internal",
    "too_many_failed_logins",
    "quota_exceeded",
];

/// Where `e`'s kind is in [`ERROR_KINDS`].
pub fn error_index(e: &ApiError) -> usize {
    match e {
        ApiError::NotLeader { .. } => 0,
        ApiError::Unavailable(_) => 1,
        ApiError::NoTrackerReachable { .. } => 2,
        ApiError::BadCredentials => 3,
        ApiError::NotLoggedIn => 4,
        ApiError::UserExists(_) => 5,
        ApiError::UserNotFound(_) => 6,
        ApiError::GroupExists(_) => 7,
        ApiError::GroupNotFound(_) => 8,
        ApiError::NotMember(_) => 9,
        ApiError::NotOwner(_) => 10,
        ApiError::AlreadyMember(_) => 11,
        ApiError::NoSuchRequest { .. } => 12,
        ApiError::FileNotFound { .. } => 13,
        ApiError::FileConflict { .. } => 14,
        ApiError::PeerNotFound(_) => 15,
        ApiError::InvalidRequest(_) => 16,
        ApiError::VersionMismatch { .. } => 17,
        ApiError::StaleRequest { .. } => 18,
        ApiError::Forbidden(_) => 19,
        ApiError::Internal(_) => 20,
        ApiError::TooManyFailedLogins { .. } => 21,
        ApiError::QuotaExceeded { .. } => 22,
    }
}

/// One counter per (request kind, error kind).
type ErrorTable = [[AtomicU64; ERROR_KINDS.len()]; RequestKind::ALL.len()];

/// Everything the hot paths count. Fields are public atomics: bump them with
/// `fetch_add(_, Relaxed)` or the helpers.
#[derive(Debug)]
pub struct Counters {
    /// Elections this node started on its own signals (watchdog, closed leader link, takeover).
    pub elections_started: AtomicU64,
    /// Round trips of outgoing AppendEntries (heartbeats included), in seconds.
    pub append_entries_seconds: Histogram,
    /// Outgoing AppendEntries that failed (network, timeout, remote error).
    pub append_entries_failures: AtomicU64,
    /// The committed index openraft last saved, plus one (0: none yet).
    pub committed_index_plus_one: AtomicU64,
    /// Bytes of the latest snapshot stored or loaded.
    pub snapshot_bytes: AtomicU64,
    /// Commands put into entries by the group commit.
    pub proposals: AtomicU64,
    /// Entries the group commit handed to openraft.
    pub entries: AtomicU64,
    /// Commands per entry.
    pub writes_per_entry: Histogram,
    /// From `client_write` to the entry's result, in seconds.
    pub commit_seconds: Histogram,
    /// Entries not committed (timeout, not leader, stopping).
    pub entries_failed: AtomicU64,
    /// Read barriers asked for (each linearizable read or check waits for one).
    pub linearizable_reads: AtomicU64,
    /// Quorum confirmations run for them (reads share rounds).
    pub read_index_rounds: AtomicU64,
    /// Client connections that reached the TLS handshake.
    pub connections_accepted: AtomicU64,
    /// Client connections whose TLS handshake failed or timed out.
    pub tls_handshake_failures: AtomicU64,
    /// Requests per [`RequestKind`].
    pub requests: [AtomicU64; RequestKind::ALL.len()],
    /// Error replies per request kind and [`ERROR_KINDS`].
    pub request_errors: ErrorTable,
    /// Peer heartbeats answered on this node as the leader.
    pub heartbeats: AtomicU64,
    /// Liveness sweeps that marked peers offline.
    pub offline_sweeps: AtomicU64,
    /// Peers those sweeps marked offline.
    pub peers_marked_offline: AtomicU64,
    /// Background drains of staged state-machine writes into sled.
    pub drains: AtomicU64,
    /// Keys those drains wrote.
    pub drained_keys: AtomicU64,
}

impl Counters {
    /// All zero.
    pub const fn new() -> Self {
        Counters {
            elections_started: AtomicU64::new(0),
            append_entries_seconds: Histogram::new(LATENCY_BOUNDS, NANOS),
            append_entries_failures: AtomicU64::new(0),
            committed_index_plus_one: AtomicU64::new(0),
            snapshot_bytes: AtomicU64::new(0),
            proposals: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            writes_per_entry: Histogram::new(WRITES_PER_ENTRY_BOUNDS, 1.0),
            commit_seconds: Histogram::new(LATENCY_BOUNDS, NANOS),
            entries_failed: AtomicU64::new(0),
            linearizable_reads: AtomicU64::new(0),
            read_index_rounds: AtomicU64::new(0),
            connections_accepted: AtomicU64::new(0),
            tls_handshake_failures: AtomicU64::new(0),
            requests: [const { AtomicU64::new(0) }; RequestKind::ALL.len()],
            request_errors: [const { [const { AtomicU64::new(0) }; ERROR_KINDS.len()] };
                RequestKind::ALL.len()],
            heartbeats: AtomicU64::new(0),
            offline_sweeps: AtomicU64::new(0),
            peers_marked_offline: AtomicU64::new(0),
            drains: AtomicU64::new(0),
            drained_keys: AtomicU64::new(0),
        }
    }

    /// Counts a request of `kind` and, if it failed, its error.
    pub fn request_done<T>(&self, kind: RequestKind, result: &Result<T, ApiError>) {
        let k = kind as usize;
        if let Some(n) = self.requests.get(k) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = result {
            if let Some(n) = self
                .request_errors
                .get(k)
                .and_then(|r| r.get(error_index(e)))
            {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records openraft's committed index.
    pub fn set_committed(&self, index: Option<u64>) {
        let v = index.map_or(0, |i| i.saturating_add(1));
        self.committed_index_plus_one.store(v, Ordering::Relaxed);
    }

    /// The committed index openraft last saved on this node, if any.
    pub fn committed(&self) -> Option<u64> {
        self.committed_index_plus_one
            .load(Ordering::Relaxed)
            .checked_sub(1)
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds one to `counter`.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// This process's counters.
pub static COUNTERS: Counters = Counters::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_each_value_in_its_bucket_and_sums() {
        static BOUNDS: &[f64] = &[1.0, 10.0];
        let h = Histogram::new(BOUNDS, 1000.0);
        for v in [0.5, 1.0, 3.0, 10.0, 11.0, 1e9] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(1.0, 2), (10.0, 2), (f64::MAX, 2)]);
        assert_eq!(s.count, 6);
        assert!((s.sum - (25.5 + 1e9)).abs() < 1e-3, "{}", s.sum);
    }

    #[test]
    fn every_error_kind_has_its_own_label() {
        let labels: std::collections::BTreeSet<_> = ERROR_KINDS.iter().collect();
        assert_eq!(labels.len(), ERROR_KINDS.len());
        assert_eq!(error_index(&ApiError::Internal(String::new())), 20);
    }

    #[test]
    fn requests_and_their_errors_are_counted_by_kind() {
        let c = Counters::new();
        c.request_done::<()>(RequestKind::Write, &Ok(()));
        c.request_done::<()>(RequestKind::Write, &Err(ApiError::NotLoggedIn));
        assert_eq!(c.requests[0].load(Ordering::Relaxed), 2);
        assert_eq!(c.request_errors[0][4].load(Ordering::Relaxed), 1);
        c.set_committed(Some(0));
        assert_eq!(c.committed(), Some(0));
        c.set_committed(None);
        assert_eq!(c.committed(), None);
    }
}
