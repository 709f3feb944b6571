//! Linearizable reads share quorum confirmations. A read may use a confirmation only if the round
//! started after the read arrived, so reads that arrive while a round is in flight wait for the
//! next one, and that next round serves all of them. Under load one round of heartbeats serves
//! every read that queued during the previous round, instead of one round per read.
//!
//! A round is openraft's read index (a quorum confirmation, then waiting for that index to be
//! applied) and, on a node that resumed a leadership at startup, its [`ReadFloor`] too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};
use tokio::sync::oneshot;

use proto::ApiError;

use super::read_floor::ReadFloor;
use crate::counters::{bump, COUNTERS};
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
pub struct ReadGate {
    queue: Mutex<Queue>,
    /// What a read waits for beyond openraft's read index after a leadership resumed at startup.
    floor: ReadFloor,
}

impl ReadGate {
    /// An idle gate with `floor` (see [`ReadFloor`]).
    pub fn new(floor: ReadFloor) -> Self {
        ReadGate {
            queue: Mutex::default(),
            floor,
        }
    }

    /// Waits until this node may serve a linearizable read that arrived now: a quorum confirmed
    /// its leadership in a round that began after this call, and that round's read index (and
    /// the node's read floor, if any) is applied locally.
    ///
    /// # Errors
    /// `NotLeader`, or `Unavailable` if no quorum confirms within `timeout`.
    pub async fn barrier(self: &Arc<Self>, raft: &Raft, timeout: Duration) -> RoundResult {
        bump(&COUNTERS.linearizable_reads);
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
            let result = one_round(raft, &self.floor, timeout).await;
            for w in batch {
                let _ = w.send(result.clone());
            }
        }
    }
}

/// One quorum confirmation plus waiting for the local apply, mapped to wire errors.
async fn one_round(raft: &Raft, floor: &ReadFloor, timeout: Duration) -> RoundResult {
    bump(&COUNTERS.read_index_rounds);
    let started = tokio::time::Instant::now();
    // Before the quorum round: the round confirms this vote or a later one.
    let floor_index = if floor.is_spent() {
        None
    } else {
        let m = raft.metrics();
        let m = m.borrow();
        floor.index_for(&m.vote, m.last_applied.map(|l| l.index))
    };
    confirm(raft, timeout).await?;
    let Some(index) = floor_index else {
        return Ok(());
    };
    let left = timeout.saturating_sub(started.elapsed());
    match raft
        .wait(Some(left))
        .applied_index_at_least(Some(index), "read floor of a resumed leadership")
        .await
    {
        Ok(_) => {
            floor.applied(index);
            Ok(())
        }
        Err(openraft::metrics::WaitError::Timeout(..)) => Err(ApiError::Unavailable(format!(
            "this node resumed its leadership at startup and has not applied its log up to \
             index {index} within {timeout:?}"
        ))),
        Err(openraft::metrics::WaitError::ShuttingDown) => {
            Err(ApiError::Unavailable("this node is stopping".into()))
        }
    }
}

/// openraft's read index: a quorum confirmation and its index applied, mapped to wire errors.
async fn confirm(raft: &Raft, timeout: Duration) -> RoundResult {
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
