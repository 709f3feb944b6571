//! Peer liveness without one log entry per heartbeat.
//!
//! The leader keeps each peer's last heartbeat in memory and tells the peer its next interval
//! (idle / active / transferring). A sweeper on the leader collects every peer that has been
//! silent longer than its lease and marks the whole batch offline with one Raft entry. After a
//! leader change the new leader starts every peer on a fresh lease, so a failover never expires
//! peers that were heartbeating to the old leader.
//!
//! The sweep walks the in-memory table, not the peers table: a peer enters it by heartbeating or
//! registering and leaves it when it is marked offline. The peers table is read once per term,
//! after the fresh lease has run out, to catch online peers that never spoke to this leader.
//!
//! This file holds the table; the sweep that reads it is `task_sweep` in [`crate::tasks`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proto::tracker_msg::PeerActivity;

/// Last-seen table of one node (used while it leads).
pub struct Liveness {
    /// peer id -> (last heartbeat, lease).
    seen: Mutex<HashMap<u64, (Instant, Duration)>>,
    /// Heartbeat interval of a peer that shares and downloads nothing.
    idle: Duration,
    /// Heartbeat interval of a peer that seeds files.
    active: Duration,
    /// Heartbeat interval of a peer moving chunks right now.
    transferring: Duration,
    /// Lease = interval x this.
    lease_intervals: u32,
}

impl Liveness {
    /// A table with the given intervals.
    pub fn new(
        idle: Duration,
        active: Duration,
        transferring: Duration,
        lease_intervals: u32,
    ) -> Self {
        Liveness {
            seen: Mutex::new(HashMap::new()),
            idle,
            active,
            transferring,
            lease_intervals,
        }
    }

    /// Records a heartbeat and returns the interval the peer should use next.
    pub fn heartbeat(&self, peer_id: u64, activity: PeerActivity) -> Duration {
        let interval = match activity {
            PeerActivity::Idle => self.idle,
            PeerActivity::Active => self.active,
            PeerActivity::Transferring => self.transferring,
        };
        let lease = interval * self.lease_intervals;
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(peer_id, (Instant::now(), lease));
        }
        interval
    }

    /// Starts a fresh lease for a peer that just registered (it has not heartbeated yet).
    pub fn registered(&self, peer_id: u64) {
        let lease = self.fresh_lease();
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(peer_id, (Instant::now(), lease));
        }
    }

    /// Drops a peer that signed off (it is offline until it heartbeats or registers again).
    pub fn forget(&self, peer_id: u64) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(&peer_id);
        }
    }

    /// The instant `peer_id` last heartbeated or registered to this leader, if it did this term.
    pub fn last_seen(&self, peer_id: u64) -> Option<Instant> {
        self.seen
            .lock()
            .ok()
            .and_then(|s| s.get(&peer_id).map(|(at, _)| *at))
    }

    /// Removes and returns the peers whose lease ran out before `now`.
    pub fn take_expired(&self, now: Instant) -> Vec<u64> {
        let Ok(mut seen) = self.seen.lock() else {
            return Vec::new();
        };
        let expired: Vec<u64> = seen
            .iter()
            .filter(|(_, (last, lease))| now.saturating_duration_since(*last) > *lease)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            seen.remove(id);
        }
        expired
    }

    /// Whether this leader has heard of `peer_id` this term.
    pub fn knows(&self, peer_id: u64) -> bool {
        self.seen
            .lock()
            .map(|s| s.contains_key(&peer_id))
            .unwrap_or(true)
    }

    /// The longest lease any peer can hold (what a new leader grants everyone).
    pub fn fresh_lease(&self) -> Duration {
        self.idle.max(self.active).max(self.transferring) * self.lease_intervals
    }

    /// Forgets everything and grants every peer a fresh lease from `now` (on becoming leader).
    pub fn reset(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }
}
