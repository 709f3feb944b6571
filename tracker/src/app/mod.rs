//! [`App`]: what every request handler shares (the Raft handle, a view of the committed state,
//! the config, the liveness table, the write queue and the read gate), and the leader checks the
//! handlers make before they start work.
//!
//! Inside: [`group_commit`] (concurrent writes share entries), [`read_gate`] (concurrent reads
//! share quorum confirmations), [`read_floor`] (what a read waits for on a leader resumed at
//! startup), [`state`] (the read interface of the committed state), [`passwords`] (argon2id on
//! a bounded pool of its own) and [`snapshot_export`] (an operator's snapshot export in flight).

pub mod group_commit;
pub mod passwords;
pub mod read_floor;
pub mod read_gate;
pub mod snapshot_export;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::ServerState;

use proto::ApiError;

use crate::config::NodeConfig;
use crate::election::leader_contact::LeaderContact;
use crate::leader::liveness::Liveness;
use crate::leader::login_throttle::LoginThrottle;
use crate::raft_types::{NodeId, Raft};
use group_commit::GroupCommit;
use passwords::PasswordPool;
use read_gate::ReadGate;
use snapshot_export::SnapshotExports;
use state::StateView;

/// Shared state of one node's request handlers.
pub struct App {
    /// This node's id.
    pub id: NodeId,
    /// The Raft handle.
    pub raft: Raft,
    /// The committed state, read after a linearizable barrier.
    pub state: StateView,
    /// Validated config.
    pub config: NodeConfig,
    /// Peer last-seen times (meaningful on the leader only).
    pub liveness: Arc<Liveness>,
    /// Shares quorum confirmations among concurrent linearizable reads.
    pub reads: Arc<ReadGate>,
    /// Bumped on every AppendEntries accepted from a leader.
    pub leader_contact: Arc<LeaderContact>,
    /// Groups concurrent writes into shared entries; [`GroupCommit::propose`] is how a handler
    /// writes.
    pub writes: GroupCommit,
    /// Hashes and checks passwords, a bounded number at a time.
    pub passwords: PasswordPool,
    /// Failed logins per username and per address (meaningful on the leader only).
    pub login_throttle: LoginThrottle,
    /// The operator's snapshot export in flight, if any (one per node).
    pub exports: SnapshotExports,
}

/// Wall clock in ms since the Unix epoch (read by the proposer only, never by `apply`).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl App {
    /// `Ok` if this node is a leader that heard from a quorum recently; otherwise the error a
    /// client should get instead of waiting (not leader, or cut off from the majority).
    ///
    /// # Errors
    /// `NotLeader` with the leader this node knows, or `Unavailable`.
    pub fn check_leader(&self) -> Result<(), ApiError> {
        let m = self.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            let leader = m.current_leader;
            let info = leader.and_then(|l| m.membership_config.membership().get_node(&l).cloned());
            return Err(ApiError::NotLeader {
                leader_id: leader,
                leader_api_addr: info.map(|n| n.api_addr),
            });
        }
        let limit = crate::config::saturating_millis(self.config.election_max).saturating_mul(2);
        if let Some(ms) = m.millis_since_quorum_ack {
            if ms > limit {
                return Err(ApiError::Unavailable(format!(
                    "leader {} has not heard from a quorum for {ms} ms",
                    self.id
                )));
            }
        }
        Ok(())
    }

    /// Waits until this node may serve a linearizable read (read index confirmed by a quorum
    /// and applied locally).
    ///
    /// # Errors
    /// `NotLeader`, or `Unavailable` if no quorum confirms in time.
    pub async fn read_barrier(&self) -> Result<(), ApiError> {
        self.reads
            .barrier(&self.raft, self.config.request_timeout)
            .await
    }

    /// How long a request may take.
    pub fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }
}
