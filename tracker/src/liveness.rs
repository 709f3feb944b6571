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
//! The same leader-only loop prunes idle at-most-once client records once an hour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::ServerState;

use proto::tracker_msg::PeerActivity;

use crate::app::{wall_ms, App};
use crate::cmd::{Cmd, Op};
use crate::domain::kv::{decode_record, Table};
use crate::domain::records::PeerRec;

/// How often the leader looks for silent peers.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// How often the leader prunes idle at-most-once records.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Last-seen table of one node (used while it leads).
pub struct Liveness {
    /// peer id -> (last heartbeat, lease).
    seen: Mutex<HashMap<u64, (Instant, Duration)>>,
    /// Intervals by activity.
    idle: Duration,
    active: Duration,
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

    /// Removes and returns the peers whose lease ran out before `now`.
    fn take_expired(&self, now: Instant) -> Vec<u64> {
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
    fn knows(&self, peer_id: u64) -> bool {
        self.seen
            .lock()
            .map(|s| s.contains_key(&peer_id))
            .unwrap_or(true)
    }

    /// The longest lease any peer can hold (what a new leader grants everyone).
    fn fresh_lease(&self) -> Duration {
        self.idle.max(self.active).max(self.transferring) * self.lease_intervals
    }

    /// Forgets everything and grants every peer a fresh lease from `now` (on becoming leader).
    fn reset(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }
}

/// Runs forever: while this node leads, marks silent peers offline in batches and prunes idle
/// client records.
pub async fn task_sweep(app: Arc<App>) {
    let mut led_term: Option<u64> = None;
    let mut leader_since = Instant::now();
    let mut last_prune = Instant::now();
    let mut scanned_table = false;
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let m = app.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            led_term = None;
            continue;
        }
        if led_term != Some(m.current_term) {
            led_term = Some(m.current_term);
            leader_since = Instant::now();
            scanned_table = false;
            app.liveness.reset();
            crate::cluster_key::ensure(&app).await;
            continue;
        }
        let now = Instant::now();
        if now.duration_since(last_prune) >= PRUNE_EVERY {
            last_prune = now;
            let ttl_ms = app.config.args.client_record_ttl_secs.saturating_mul(1000);
            let cmd = Cmd {
                origin: None,
                now_ms: wall_ms(),
                op: Op::PruneClients {
                    before_ms: wall_ms().saturating_sub(ttl_ms),
                },
            };
            if let Err(e) = app.propose(cmd).await {
                tracing::warn!(%e, "could not prune idle client records");
            }
        }
        let mut silent = app.liveness.take_expired(now);
        if !scanned_table
            && now.saturating_duration_since(leader_since) > app.liveness.fresh_lease()
        {
            scanned_table = true;
            silent.extend(online_peers_not_heard_from(&app));
        }
        if silent.is_empty() {
            continue;
        }
        tracing::info!(count = silent.len(), "marking silent peers offline");
        let cmd = Cmd {
            origin: None,
            now_ms: wall_ms(),
            op: Op::SetPeersOnline {
                peer_ids: silent,
                online: false,
            },
        };
        if let Err(e) = app.propose(cmd).await {
            tracing::warn!(%e, "could not mark silent peers offline");
        }
    }
}

/// Online peers in the peers table that this leader has not heard of this term (run once per
/// term, after the fresh lease every peer got at the leader change has run out).
fn online_peers_not_heard_from(app: &App) -> Vec<u64> {
    let mut ids = Vec::new();
    let scanned = app.trees.visit(Table::Peers, b"", |k, v| {
        let Ok(bytes) = <[u8; 8]>::try_from(k) else {
            return Ok(());
        };
        let Ok(peer) = decode_record::<PeerRec>(Table::Peers, v) else {
            return Ok(());
        };
        let id = u64::from_be_bytes(bytes);
        if peer.online && !app.liveness.knows(id) {
            ids.push(id);
        }
        Ok(())
    });
    if let Err(e) = scanned {
        tracing::warn!(%e, "could not scan the peers table");
    }
    ids
}
