//! Fast failure detection of a crashed leader. When a process dies its kernel closes its sockets,
//! so a follower sees the leader's Raft connection end at once (ZooKeeper followers react to the
//! same signal). Waiting out openraft's whole timer (leader lease + a random election timeout,
//! checked on a tick) would add 100-200 ms to every failover; instead the follower starts an
//! election as soon as the lease it granted that leader has run out, if nothing was heard from the
//! leader since the connection closed.
//!
//! This only ever starts an election, which Raft allows at any time; a live leader whose
//! connection merely broke reconnects and heartbeats within one interval, long before the lease
//! runs out, and the election is then called off.

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use rand::Rng;

use crate::election::leader_contact::LeaderContact;
use crate::raft_types::{NodeId, Raft};

/// Past the lease, so the other followers' leases (granted a few ms apart) have run out too and
/// they grant their votes.
const LEASE_MARGIN: Duration = Duration::from_millis(5);

/// Called when a Raft connection that carried AppendEntries from node `from` has closed.
/// Spawns the wait; returns at once.
pub fn closed(raft: &Raft, contact: &Arc<LeaderContact>, from: NodeId) {
    let m = raft.metrics().borrow().clone();
    if m.state != ServerState::Follower || m.current_leader != Some(from) {
        return;
    }
    let config = raft.config();
    let lease = Duration::from_millis(config.election_timeout_max);
    // A random spread of up to most of a heartbeat, so two followers rarely campaign at once.
    let spread = rand::thread_rng().gen_range(0..config.heartbeat_interval.max(2) * 3 / 4);
    let heard = contact.count();
    let wait =
        (lease + LEASE_MARGIN + Duration::from_millis(spread)).saturating_sub(contact.silent_for());
    let raft = raft.clone();
    let contact = contact.clone();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let m = raft.metrics().borrow().clone();
        if contact.count() != heard
            || m.state != ServerState::Follower
            || m.current_leader != Some(from)
        {
            return;
        }
        tracing::info!(
            leader = from,
            silent_ms = contact.silent_for().as_millis() as u64,
            "the leader's connection closed and its lease ran out; starting an election"
        );
        crate::counters::bump(&crate::counters::COUNTERS.elections_started);
        let _ = raft.trigger().elect().await;
    });
}
