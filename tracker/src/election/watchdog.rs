//! Guard against openraft 0.9's split-vote livelock: its election timeout is drawn once per
//! process and elections only start on its tick (every 1.5 heartbeats), so two candidates whose
//! ticks line up keep tying round after round. If this voter has seen no leader for longer than
//! twice the maximum election timeout (failed rounds, or a follower whose timer never fires), it
//! triggers an election itself after a random delay, off the tick, which breaks the tie.
//!
//! [`Watchdog`] holds the decision; the loop that asks it and triggers the election is
//! `task_watch_elections` in [`crate::tasks`].

use std::time::{Duration, Instant};

use openraft::{RaftMetrics, ServerState};
use rand::Rng;

use crate::raft_types::{NodeId, NodeInfo};

/// When a leaderless voter should call an election itself.
#[derive(Debug)]
pub struct Watchdog {
    /// openraft's maximum election timeout.
    election_max: Duration,
    /// Since when this voter has seen no leader, if it has not.
    leaderless_since: Option<Instant>,
}

impl Watchdog {
    /// A watchdog for a node whose maximum election timeout is `election_max`.
    pub fn new(election_max: Duration) -> Self {
        Watchdog {
            election_max,
            leaderless_since: None,
        }
    }

    /// How often to look: several times per election timeout.
    pub fn check_every(&self) -> Duration {
        self.election_max / 7
    }

    /// Whether node `id`, as `m` shows it, is a voter that sees no leader.
    pub fn leaderless_voter(m: &RaftMetrics<NodeId, NodeInfo>, id: NodeId) -> bool {
        let is_voter = m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == id);
        m.current_leader.is_none() && is_voter && m.state != ServerState::Learner
    }

    /// Records one look at `now`; true when an election is due (the node has been a leaderless
    /// voter for over twice the election timeout). The wait starts over after each true.
    pub fn due(&mut self, leaderless_voter: bool, now: Instant) -> bool {
        if !leaderless_voter {
            self.leaderless_since = None;
            return false;
        }
        let since = *self.leaderless_since.get_or_insert(now);
        if now.saturating_duration_since(since) > self.election_max * 2 {
            self.leaderless_since = None;
            return true;
        }
        false
    }

    /// A random delay of up to half the election timeout, so voters rarely campaign at once.
    pub fn jitter(&self) -> Duration {
        let half_ms = (self.election_max.as_millis() as u64 / 2).max(1);
        Duration::from_millis(rand::thread_rng().gen_range(0..half_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_election_is_due_after_twice_the_timeout_without_a_leader() {
        let max = Duration::from_millis(100);
        let mut w = Watchdog::new(max);
        let t0 = Instant::now();
        assert!(!w.due(true, t0));
        assert!(!w.due(true, t0 + max * 2));
        assert!(w.due(true, t0 + max * 2 + Duration::from_millis(1)));
        // The wait starts over.
        assert!(!w.due(true, t0 + max * 3));
        // A leader seen in between resets it.
        assert!(!w.due(false, t0 + max * 4));
        assert!(!w.due(true, t0 + max * 5));
        assert!(!w.due(true, t0 + max * 6));
        assert!(w.due(true, t0 + max * 8));
        assert!(w.jitter() < max / 2);
        assert_eq!(w.check_every(), max / 7);
    }
}
