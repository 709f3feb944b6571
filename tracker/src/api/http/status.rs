//! `GET /v1/status`: this node's view as JSON, the fields of `cluster status --json` for one
//! node plus the committed index, each follower's replication lag (on the leader), readiness and
//! the counts of users, groups, files and online peers. No user name, token, group or file
//! name is in it: the counts are numbers, the membership ids and addresses of nodes.
//!
//! The counts come from a paged scan of the committed tables on the blocking pool
//! ([`crate::app::state::StateView::count_entries`]: one page at a time holds off batch writes),
//! cached for [`COUNTS_TTL`] and refreshed by one request at a time, so scrapes and page loads
//! cost one scan per TTL however many there are, and apply is never changed for them.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::app::state::StateView;
use crate::domain::kv::Table;

use super::health::{apply_lag, role_name, Metrics};

/// How long counted totals are served before they are counted again.
/// Under write load a count of some tens of thousands of files takes on the order of 100 ms (see
/// chaos-tests/reports/2026-12-02-metrics-cost.md), so it is not redone for every scrape.
pub const COUNTS_TTL: Duration = Duration::from_secs(30);
/// Entries per page of the counting scan (apply waits for at most one page).
const COUNT_PAGE: usize = 1024;
/// Pages one table's count looks at, at most (past that the count says it is incomplete).
const COUNT_MAX_PAGES: usize = 16384;

/// Totals of the committed state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Accounts.
    pub users: u64,
    /// Groups.
    pub groups: u64,
    /// Files, over all groups.
    pub files: u64,
    /// Registered peers.
    pub peers: u64,
    /// Peers marked online.
    pub peers_online: u64,
    /// False if a table had more entries than one count looks at (the numbers are then lower
    /// bounds).
    pub complete: bool,
    /// How old these numbers are, in milliseconds.
    pub age_ms: u64,
}

/// The last counts and when they were taken; one refresh at a time.
#[derive(Debug, Default)]
pub struct CountsCache {
    last: Mutex<Option<(Instant, Counts)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl CountsCache {
    /// The counts, taken at most [`COUNTS_TTL`] ago (counted now, on the blocking pool, if the
    /// cached ones are older). `None` if counting failed and nothing was counted before.
    pub async fn get(&self, state: &StateView) -> Option<Counts> {
        if let Some(c) = self.fresh() {
            return Some(c);
        }
        let _turn = self.refreshing.lock().await;
        if let Some(c) = self.fresh() {
            return Some(c);
        }
        let state = state.clone();
        let started = Instant::now();
        match tokio::task::spawn_blocking(move || count(&state)).await {
            Ok(Ok(counts)) => {
                tracing::debug!(
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    files = counts.files,
                    peers = counts.peers,
                    "counted the state for the status endpoints"
                );
                *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), counts));
                Some(counts)
            }
            Ok(Err(e)) => {
                tracing::warn!(%e, "could not count the state for the status endpoints");
                self.cached()
            }
            Err(e) => {
                tracing::warn!(%e, "the counting task failed");
                self.cached()
            }
        }
    }

    fn fresh(&self) -> Option<Counts> {
        self.cached()
            .filter(|c| c.age_ms < crate::config::saturating_millis(COUNTS_TTL))
    }

    fn cached(&self) -> Option<Counts> {
        let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.map(|(at, c)| Counts {
            age_ms: crate::config::saturating_millis(at.elapsed()),
            ..c
        })
    }
}

/// Counts every table the status shows.
fn count(state: &StateView) -> Result<Counts, crate::domain::kv::StoreError> {
    let all = |table| state.count_entries(table, COUNT_PAGE, COUNT_MAX_PAGES, |_| true);
    let (users, _, c1) = all(Table::Users)?;
    let (groups, _, c2) = all(Table::Groups)?;
    let (files, _, c3) = all(Table::Files)?;
    let (peers, peers_online, c4) = state.count_entries(
        Table::Peers,
        COUNT_PAGE,
        COUNT_MAX_PAGES,
        StateView::peer_is_online,
    )?;
    Ok(Counts {
        users,
        groups,
        files,
        peers,
        peers_online,
        complete: c1 && c2 && c3 && c4,
        age_ms: 0,
    })
}

/// How far one follower's log is behind the leader's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowerLag {
    /// The follower's id.
    pub node_id: u64,
    /// The last index the leader knows it holds.
    pub matched: Option<u64>,
    /// Entries of the leader's log it does not hold yet.
    pub lag: u64,
}

/// One node's view, as `/v1/status` serves it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// Raft id.
    pub node_id: u64,
    /// "leader", "follower", "candidate", "learner" or "shutdown".
    pub role: &'static str,
    /// Current term.
    pub term: u64,
    /// The leader this node knows.
    pub leader_id: Option<u64>,
    /// The leader's client API address.
    pub leader_api_addr: Option<String>,
    /// Index of the last log entry.
    pub last_log_index: Option<u64>,
    /// Index of the last applied entry.
    pub last_applied: Option<u64>,
    /// The committed index this node knows.
    pub committed: Option<u64>,
    /// Committed entries not applied yet.
    pub apply_lag: u64,
    /// Last index in this node's latest snapshot.
    pub snapshot_index: Option<u64>,
    /// Last index purged from this node's log.
    pub purged_index: Option<u64>,
    /// Voter ids.
    pub voters: Vec<u64>,
    /// Learner ids.
    pub learners: Vec<u64>,
    /// On the leader: each other node's replication; elsewhere empty.
    pub replication: Vec<FollowerLag>,
    /// On the leader: milliseconds since a quorum last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
    /// What `/readyz` says.
    pub ready: bool,
    /// Why not, when not ready.
    pub not_ready_reason: Option<String>,
    /// The counted totals (`None` if they could not be counted).
    pub counts: Option<Counts>,
    /// Process id.
    pub pid: u32,
}

impl NodeView {
    /// The view from `m`, the committed index, readiness and the counts.
    pub fn new(
        m: &Metrics,
        committed: Option<u64>,
        ready: Result<(), String>,
        counts: Option<Counts>,
    ) -> Self {
        let membership = m.membership_config.membership();
        let replication = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, _)| **id != m.id)
                    .map(|(id, matched)| {
                        let matched = matched.map(|l| l.index);
                        FollowerLag {
                            node_id: *id,
                            matched,
                            lag: follower_lag(m.last_log_index, matched),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let applied = m.last_applied.map(|l| l.index);
        NodeView {
            node_id: m.id,
            role: role_name(m.state),
            term: m.current_term,
            leader_id: m.current_leader,
            leader_api_addr: m
                .current_leader
                .and_then(|l| membership.get_node(&l).map(|n| n.api_addr.clone())),
            last_log_index: m.last_log_index,
            last_applied: applied,
            committed,
            apply_lag: apply_lag(committed, applied),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            replication,
            millis_since_quorum_ack: m.millis_since_quorum_ack,
            ready: ready.is_ok(),
            not_ready_reason: ready.err(),
            counts,
            pid: std::process::id(),
        }
    }
}

/// Entries of a log ending at `last` that a follower holding up to `matched` lacks.
pub fn follower_lag(last: Option<u64>, matched: Option<u64>) -> u64 {
    match (last, matched) {
        (Some(l), Some(m)) => l.saturating_sub(m),
        (Some(l), None) => l.saturating_add(1),
        (None, _) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_the_entries_a_follower_lacks() {
        assert_eq!(follower_lag(Some(10), Some(7)), 3);
        assert_eq!(follower_lag(Some(10), None), 11);
        assert_eq!(follower_lag(None, None), 0);
        assert_eq!(follower_lag(Some(3), Some(5)), 0);
    }
}
