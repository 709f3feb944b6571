//! Linearizable reads share quorum confirmations. A read may use a confirmation only if the round
//! started after the read arrived, so reads that arrive while a round is in flight wait for the
//! next one, and that next round serves all of them. Under load one round of heartbeats serves
//! every read that queued during the previous round, instead of one round per read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use tokio::sync::oneshot;

use proto::ApiError;

use crate::raft_types::Raft;

/// Outcome shared by every read of one round.
type RoundResult = Result<(), ApiError>;

/// Reads waiting for the next round, and whether a round driver is running.
#[derive(Default)]
struct Queue {
    waiting: Vec<oneshot::Sender<RoundResult>>,
    driving: bool,
}

/// Coalesces read barriers (see the module doc).
#[derive(Default)]
pub struct ReadGate {
    queue: Mutex<Queue>,
}

impl ReadGate {
    /// An idle gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until this node may serve a linearizable read that arrived now: a quorum confirmed
    /// its leadership in a round that began after this call, and that round's read index is
    /// applied locally.
    ///
    /// # Errors
    /// `NotLeader`, or `Unavailable` if no quorum confirms within `timeout`.
    pub async fn barrier(self: &Arc<Self>, raft: &Raft, timeout: Duration) -> RoundResult {
        let (tx, rx) = oneshot::channel();
        let start_driver = {
            let Ok(mut q) = self.queue.lock() else {
                return Err(ApiError::Internal("read gate poisoned".into()));
            };
            q.waiting.push(tx);
            !std::mem::replace(&mut q.driving, true)
        };
        if start_driver {
            // A task of its own, so no reader's answer waits for rounds run for later readers.
            let gate = self.clone();
            let raft = raft.clone();
            tokio::spawn(async move { gate.drive(&raft, timeout).await });
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(ApiError::Unavailable("the read round was abandoned".into())),
        }
    }

    /// Runs rounds until no read is waiting. Each round takes every read queued before it began.
    async fn drive(&self, raft: &Raft, timeout: Duration) {
        loop {
            let batch = {
                let Ok(mut q) = self.queue.lock() else { return };
                if q.waiting.is_empty() {
                    q.driving = false;
                    return;
                }
                std::mem::take(&mut q.waiting)
            };
            let result = one_round(raft, timeout).await;
            for w in batch {
                let _ = w.send(result.clone());
            }
        }
    }
}

/// One quorum confirmation plus waiting for the local apply, mapped to wire errors.
async fn one_round(raft: &Raft, timeout: Duration) -> RoundResult {
    match tokio::time::timeout(timeout, raft.ensure_linearizable()).await {
        Err(_) => Err(ApiError::Unavailable(format!(
            "read not confirmed by a quorum within {timeout:?}"
        ))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
            Err(ApiError::NotLeader {
                leader_id: f.leader_id,
                leader_api_addr: f.leader_node.map(|n| n.api_addr),
            })
        }
        Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)))) => {
            Err(ApiError::Unavailable(q.to_string()))
        }
        Ok(Err(RaftError::Fatal(f))) => {
            Err(ApiError::Unavailable(format!("this node is stopping: {f}")))
        }
    }
}
