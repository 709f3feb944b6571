//! Group commit on the leader: concurrent writes are queued, and each Raft entry carries every
//! command that queued up while earlier entries were being committed. openraft appends, replicates
//! and applies once per entry, so under load a few hundred client writes cost one entry, one log
//! append, one flush on each node and one state-machine batch. A lone write still goes out
//! at once, without waiting for company.
//!
//! At most `entries_in_flight` entries (`--write-entries-in-flight`) are being committed at a time;
//! commands that arrive meanwhile wait for the next entry, which is what makes the entries grow
//! with the load.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use proto::tracker_msg::Response;
use proto::ApiError;

use crate::app::write_error;
use crate::raft_types::{Cmd, CmdBatch, NodeId, Op, Raft};

/// Most commands in one entry.
pub const MAX_CMDS_PER_ENTRY: usize = 512;
/// Rough cap on one entry's encoded size (one command larger than this still goes alone), so an
/// AppendEntries of many entries stays far below the Raft frame limit.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

/// A command waiting for its entry, and where its result goes.
struct Waiting {
    cmd: Cmd,
    reply: oneshot::Sender<Result<Response, ApiError>>,
}

/// The queue in front of `Raft::client_write`.
pub struct GroupCommit {
    tx: mpsc::UnboundedSender<Waiting>,
}

impl GroupCommit {
    /// Starts the batching task of node `node_id`: up to `entries_in_flight` entries committing
    /// at once, each within `timeout`.
    pub fn start(raft: Raft, node_id: NodeId, timeout: Duration, entries_in_flight: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(entries_in_flight.max(1)));
        tokio::spawn(run(raft, node_id, timeout, slots, rx));
        GroupCommit { tx }
    }

    /// Queues `cmd` and waits for its own result.
    ///
    /// # Errors
    /// The command's refusal, `NotLeader`, or `Unavailable` if its entry was not committed in time.
    pub async fn propose(&self, cmd: Cmd) -> Result<Response, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Waiting { cmd, reply })
            .map_err(|_| ApiError::Unavailable("this node is shutting down".into()))?;
        rx.await.map_err(|_| {
            ApiError::Unavailable("this node stopped before the write was committed".into())
        })?
    }
}

/// Rough encoded size of a command.
fn approx_bytes(cmd: &Cmd) -> usize {
    const SMALL: usize = 256;
    match &cmd.op {
        Op::RegisterFile { manifest, .. } => SMALL + manifest.chunk_hashes.len() * 20,
        Op::ReportHave { chunks, .. } => SMALL + chunks.len() * 4,
        Op::SetPeersOnline { peer_ids, .. } => SMALL + peer_ids.len() * 8,
        _ => SMALL,
    }
}

/// How many of the queued commands go into the next entry: at least one, then as many as fit.
fn next_entry_len(queued: &[Waiting]) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for w in queued.iter().take(MAX_CMDS_PER_ENTRY) {
        bytes += approx_bytes(&w.cmd);
        if n > 0 && bytes > MAX_ENTRY_BYTES {
            break;
        }
        n += 1;
    }
    n
}

async fn run(
    raft: Raft,
    node_id: NodeId,
    timeout: Duration,
    slots: Arc<Semaphore>,
    mut rx: mpsc::UnboundedReceiver<Waiting>,
) {
    let mut queued: Vec<Waiting> = Vec::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        if queued.is_empty() && rx.recv_many(&mut queued, MAX_CMDS_PER_ENTRY).await == 0 {
            return;
        }
        while queued.len() < MAX_CMDS_PER_ENTRY {
            match rx.try_recv() {
                Ok(w) => queued.push(w),
                Err(_) => break,
            }
        }
        let entry: Vec<Waiting> = queued.drain(..next_entry_len(&queued)).collect();
        tokio::spawn(commit(raft.clone(), node_id, timeout, entry, slot));
    }
}

/// Proposes one entry and hands each command its result.
async fn commit(
    raft: Raft,
    node_id: NodeId,
    timeout: Duration,
    entry: Vec<Waiting>,
    _slot: OwnedSemaphorePermit,
) {
    let (cmds, replies): (Vec<Cmd>, Vec<_>) = entry.into_iter().map(|w| (w.cmd, w.reply)).unzip();
    let count = cmds.len();
    let batch = match CmdBatch::encode(&cmds) {
        Ok(b) => b,
        Err(e) => {
            let why = ApiError::Internal(format!("could not encode the entry: {e}"));
            for reply in replies {
                let _ = reply.send(Err(why.clone()));
            }
            return;
        }
    };
    drop(cmds);
    let outcome = tokio::time::timeout(timeout, raft.client_write(batch)).await;
    let results: Vec<Result<Response, ApiError>> = match outcome {
        Err(_) => vec![
            Err(ApiError::Unavailable(format!(
                "write not committed within {timeout:?} (no quorum?)"
            )));
            count
        ],
        Ok(Err(e)) => vec![Err(write_error(node_id, e)); count],
        Ok(Ok(resp)) => {
            let mut results: Vec<_> = resp.data.0.into_iter().map(|r| r.0).collect();
            results.resize(
                count,
                Err(ApiError::Internal(
                    "the state machine returned fewer results than commands".into(),
                )),
            );
            results
        }
    };
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::tracker_msg::FileManifest;

    fn waiting(op: Op) -> Waiting {
        Waiting {
            cmd: Cmd {
                origin: None,
                now_ms: 0,
                op,
            },
            reply: oneshot::channel().0,
        }
    }

    fn small() -> Waiting {
        waiting(Op::PruneClients { before_ms: 0 })
    }

    fn file_of(chunks: usize) -> Waiting {
        waiting(Op::RegisterFile {
            token: [0; 32],
            peer_id: 1,
            group: "g".into(),
            manifest: FileManifest {
                name: "f".into(),
                size_bytes: 0,
                chunk_size_bytes: 512 * 1024,
                chunk_hashes: vec![[0u8; 20]; chunks],
                file_hash: [0; 20],
            },
        })
    }

    #[test]
    fn small_commands_fill_an_entry_up_to_the_count_cap() {
        let queued: Vec<Waiting> = (0..MAX_CMDS_PER_ENTRY + 10).map(|_| small()).collect();
        assert_eq!(next_entry_len(&queued), MAX_CMDS_PER_ENTRY);
        assert_eq!(next_entry_len(&queued[..3]), 3);
    }

    #[test]
    fn big_commands_split_by_size_and_a_huge_one_goes_alone() {
        // Each about 400 KiB: two fit in 1 MiB, the third does not.
        let queued: Vec<Waiting> = (0..5).map(|_| file_of(20_000)).collect();
        assert_eq!(next_entry_len(&queued), 2);
        let huge = vec![file_of(200_000), small()];
        assert_eq!(next_entry_len(&huge), 1);
    }
}
