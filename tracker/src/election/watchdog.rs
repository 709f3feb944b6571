//! When a follower campaigns without a closed connection to go by ([`super::leader_link`] handles
//! that case). openraft's own election timer is off (`enable_elect: false` in the node's Raft
//! config): it fires after the lease plus a random 100-140 ms of silence, which a follower that is
//! merely starved of CPU or disk under a registration flood reaches while its leader is alive, and
//! its campaign deposes that leader (0.9 has no pre-vote). Instead:
//! - a voter that sees no leader (failed rounds, a split vote, a node just started) for longer
//!   than twice the maximum election timeout triggers an election after a random delay;
//! - a follower whose leader's connection is open but has carried no AppendEntries for the
//!   silence limit (`--election-silence-ms`, a leader stopped or hung rather than crashed)
//!   triggers one the same way.
//!
//! Either way the node first asks the other voters whether they still hear a leader (the
//! pre-vote, `crate::raft_net::pre_vote`) and campaigns only if a majority does not, then waits
//! [`Watchdog::between_attempts`] before it looks again.
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
    /// Silence from a known leader after which a follower campaigns.
    silence: Duration,
    /// Since when this voter has seen no leader, if it has not.
    leaderless_since: Option<Instant>,
}

impl Watchdog {
    /// A watchdog for a node whose maximum election timeout is `election_max`, campaigning after
    /// `silence` from a known leader.
    pub fn new(election_max: Duration, silence: Duration) -> Self {
        Watchdog {
            election_max,
            silence,
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

    /// Whether node `id`, as `m` shows it, is a follower voter that knows a leader but has heard
    /// nothing from it for longer than the silence limit (`silent_for`, since its last accepted
    /// AppendEntries).
    pub fn silence_due(
        &self,
        m: &RaftMetrics<NodeId, NodeInfo>,
        id: NodeId,
        silent_for: Duration,
    ) -> bool {
        let is_voter = m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == id);
        m.state == ServerState::Follower
            && m.current_leader.is_some_and(|l| l != id)
            && is_voter
            && silent_for > self.silence
    }

    /// How long each other voter gets to answer the pre-vote.
    pub fn pre_vote_ttl(&self) -> Duration {
        self.election_max * 2
    }

    /// The pause after a campaign or a refused pre-vote before the next look: twice the
    /// election timeout, so a split vote is retried soon but a node never campaigns in a loop.
    pub fn between_attempts(&self) -> Duration {
        self.election_max * 2
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
        let mut w = Watchdog::new(max, max * 10);
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
