//! [`ReadFloor`]: what a linearizable read must wait for beyond openraft's read index on a node
//! that resumed a leadership at startup.
//!
//! A leader that crashes and comes back before anyone else is elected resumes as leader of the
//! same term: openraft restores it from its stored vote, without an election and without a new
//! blank entry. Its read index is then the larger of its commit index and the first entry of its
//! term. But the commit index it starts with is the one last stored, and storing it is not flushed
//! on its own (`LogStore::save_committed`), so it can lie below writes the crashed incarnation
//! acknowledged; and the first entry of the term may lie far below them too. Reads served at that
//! index miss acknowledged writes until replication commits them again, a few milliseconds later:
//! the stale read of the mixed soak (issue 13).
//!
//! Every write the crashed incarnation acknowledged is in this node's log, at or below the last
//! index it found at startup (a leader never truncates its own log, and the writes of earlier
//! terms come before its term's first entry). So while the node leads under the vote it started
//! with, a read waits until that index is applied too. Under a later vote the node was elected
//! afresh and its blank entry lies above the whole old log, so openraft's read index suffices.
//! Once the index is applied the floor is spent for good: applied indexes only grow.
//!
//! Flushing the commit index before every apply would close the gap as well, at the price of a
//! second flush per entry on every node; the floor costs one atomic load per read round.

use std::sync::atomic::{AtomicBool, Ordering};

use openraft::storage::RaftLogStorage;
use openraft::Vote;

use crate::raft_types::{NodeId, StorageError};
use crate::store::LogStore;

/// The leadership a node found in its own store at startup and the last index of its log then.
#[derive(Debug)]
pub struct ReadFloor {
    /// `None` unless the node starts as a leader (a committed vote for itself).
    resumed: Option<Resumed>,
    /// Set once the floor's index is applied: nothing more to wait for.
    spent: AtomicBool,
}

/// A leadership resumed at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resumed {
    /// The vote the node leads under when it starts.
    vote: Vote<NodeId>,
    /// The last log index at startup: every write the previous incarnation acknowledged is at or
    /// below it.
    last_log_index: u64,
}

impl ReadFloor {
    /// No floor: the node did not start as a leader.
    pub fn none() -> Self {
        ReadFloor {
            resumed: None,
            spent: AtomicBool::new(true),
        }
    }

    /// Reads node `id`'s stored vote and log before Raft starts: a committed vote for itself means
    /// openraft will resume it as leader.
    ///
    /// # Errors
    /// Storage errors reading the vote or the log state.
    pub async fn from_store(id: NodeId, log: &LogStore) -> Result<Self, StorageError> {
        let mut log = log.clone();
        let vote = log.read_vote().await?;
        let last = log.get_log_state().await?.last_log_id;
        let floor = Self::from_parts(id, vote, last.map(|l| l.index));
        if let Some(r) = &floor.resumed {
            let committed = log.read_committed().await?;
            tracing::info!(
                vote = %r.vote,
                last_log_index = r.last_log_index,
                stored_committed = ?committed.map(|c| c.index),
                "resuming leadership at startup: reads wait until the startup log is applied"
            );
        }
        Ok(floor)
    }

    /// The floor of node `id` given its stored vote and last log index.
    fn from_parts(id: NodeId, vote: Option<Vote<NodeId>>, last_log_index: Option<u64>) -> Self {
        match (vote, last_log_index) {
            (Some(vote), Some(last_log_index))
                if vote.is_committed() && vote.leader_id().voted_for() == Some(id) =>
            {
                ReadFloor {
                    resumed: Some(Resumed {
                        vote,
                        last_log_index,
                    }),
                    spent: AtomicBool::new(false),
                }
            }
            _ => Self::none(),
        }
    }

    /// The index a read that starts now must also see applied, given the node's current vote and
    /// applied index; `None` if openraft's read index is enough. Read the vote before the read's
    /// quorum round: a round confirms the vote it starts with or a later one.
    pub fn index_for(&self, vote_now: &Vote<NodeId>, applied: Option<u64>) -> Option<u64> {
        if self.spent.load(Ordering::Acquire) {
            return None;
        }
        let resumed = self.resumed.as_ref()?;
        if applied >= Some(resumed.last_log_index) {
            self.spent.store(true, Ordering::Release);
            return None;
        }
        (vote_now == &resumed.vote).then_some(resumed.last_log_index)
    }

    /// Whether reads may still have to wait for the floor (one atomic load).
    pub fn is_spent(&self) -> bool {
        self.spent.load(Ordering::Acquire)
    }

    /// Records that `applied` is applied: once it reaches the floor, nothing is waited for again.
    pub fn applied(&self, applied: u64) {
        if self
            .resumed
            .as_ref()
            .is_some_and(|r| applied >= r.last_log_index)
        {
            self.spent.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: NodeId = 1;

    fn committed(term: u64, node: NodeId) -> Vote<NodeId> {
        Vote::new_committed(term, node)
    }

    #[test]
    fn a_node_that_starts_as_leader_waits_for_its_whole_log_under_that_vote() {
        let floor = ReadFloor::from_parts(ME, Some(committed(3, ME)), Some(120));
        // The stale read: openraft's read index may be below 120; the floor is not.
        assert_eq!(floor.index_for(&committed(3, ME), Some(97)), Some(120));
        assert_eq!(floor.index_for(&committed(3, ME), None), Some(120));
        assert!(!floor.is_spent());
        // Elected afresh in a later term: its blank entry covers the old log.
        assert_eq!(floor.index_for(&committed(4, ME), Some(97)), None);
        assert!(!floor.is_spent(), "a later vote does not apply the old log");
        // Once 120 is applied, the floor is spent for good, whatever the vote.
        assert_eq!(floor.index_for(&committed(3, ME), Some(120)), None);
        assert!(floor.is_spent());
        assert_eq!(floor.index_for(&committed(3, ME), Some(5)), None);
    }

    #[test]
    fn applying_the_floor_spends_it() {
        let floor = ReadFloor::from_parts(ME, Some(committed(3, ME)), Some(120));
        floor.applied(119);
        assert_eq!(floor.index_for(&committed(3, ME), Some(119)), Some(120));
        floor.applied(120);
        assert_eq!(floor.index_for(&committed(3, ME), Some(119)), None);
    }

    #[test]
    fn a_node_that_starts_as_follower_or_candidate_has_no_floor() {
        let cases = [
            // Voted for another node.
            (Some(committed(3, 2)), Some(120)),
            // Voted for itself but never won (a candidate's vote is not committed).
            (Some(Vote::new(3, ME)), Some(120)),
            // Nothing stored yet.
            (None, None),
            (Some(committed(3, ME)), None),
        ];
        for (vote, last) in cases {
            let floor = ReadFloor::from_parts(ME, vote, last);
            assert!(floor.is_spent(), "{vote:?} {last:?}");
            assert_eq!(floor.index_for(&committed(3, ME), Some(1)), None);
        }
    }
}
