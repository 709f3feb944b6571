//! [`App`]: what every request handler shares (the Raft handle, the state-machine tables, the
//! config, the liveness table), and the helpers that turn Raft outcomes into [`ApiError`]s.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::error::{ClientWriteError, RaftError};
use openraft::ServerState;

use proto::tracker_msg::Response;
use proto::ApiError;

use crate::cmd::Cmd;
use crate::config::NodeConfig;
use crate::group_commit::GroupCommit;
use crate::leader_contact::LeaderContact;
use crate::liveness::Liveness;
use crate::raft_types::{NodeId, NodeInfo, Raft};
use crate::read_gate::ReadGate;
use crate::store::sm_trees::SmTrees;

/// Shared state of one node's request handlers.
pub struct App {
    /// This node's id.
    pub id: NodeId,
    /// The Raft handle.
    pub raft: Raft,
    /// State-machine tables, read after a linearizable barrier.
    pub trees: SmTrees,
    /// Validated config.
    pub config: NodeConfig,
    /// Peer last-seen times (meaningful on the leader only).
    pub liveness: Arc<Liveness>,
    /// Shares quorum confirmations among concurrent linearizable reads.
    pub reads: Arc<ReadGate>,
    /// Bumped on every AppendEntries accepted from a leader.
    pub leader_contact: Arc<LeaderContact>,
    /// Groups concurrent writes into shared entries.
    pub writes: GroupCommit,
}

/// Maps openraft's write errors on node `id` to wire errors.
pub fn write_error(
    id: NodeId,
    e: RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>,
) -> ApiError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => ApiError::NotLeader {
            leader_id: f.leader_id,
            leader_api_addr: f.leader_node.map(|n| n.api_addr),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
            ApiError::InvalidRequest(c.to_string())
        }
        RaftError::Fatal(f) => ApiError::Unavailable(format!("node {id} is stopping: {f}")),
    }
}

/// Wall clock in ms since the Unix epoch (read by the proposer only, never by `apply`).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl App {
    /// The leader as this node sees it: (id, node info).
    pub fn leader(&self) -> (Option<NodeId>, Option<NodeInfo>) {
        let m = self.raft.metrics().borrow().clone();
        let leader = m.current_leader;
        let info = leader.and_then(|l| m.membership_config.membership().get_node(&l).cloned());
        (leader, info)
    }

    /// `Ok` if this node is a leader that heard from a quorum recently; otherwise the error a
    /// client should get instead of waiting (not leader, or cut off from the majority).
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
        let limit = self.config.args.election_max_ms * 2;
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

    /// Proposes a command (grouped with concurrent ones into one entry) and waits for its
    /// applied result, bounded by the request timeout.
    ///
    /// # Errors
    /// `NotLeader` with the leader's address, `Unavailable` on timeout or lost quorum, or the
    /// command's own refusal.
    pub async fn propose(&self, cmd: Cmd) -> Result<Response, ApiError> {
        self.writes.propose(cmd).await
    }

    /// Maps openraft's write errors to wire errors.
    pub fn map_write_error(
        &self,
        e: RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>,
    ) -> ApiError {
        write_error(self.id, e)
    }

    /// Waits until this node may serve a linearizable read (read index confirmed by a quorum
    /// and applied locally).
    ///
    /// # Errors
    /// `NotLeader`, or `Unavailable` if no quorum confirms in time.
    pub async fn read_barrier(&self) -> Result<(), ApiError> {
        self.reads
            .barrier(&self.raft, self.config.request_timeout())
            .await
    }

    /// How long a request may take.
    pub fn request_timeout(&self) -> Duration {
        self.config.request_timeout()
    }
}
