//! Group commit on the leader: concurrent writes are queued, and each Raft entry carries every
//! command that queued up while earlier entries were being committed. openraft appends, replicates
//! and applies once per entry, so under load a few hundred client writes cost one entry, one log
//! append, one flush on each node and one state-machine batch. A lone write still goes out
//! at once, without waiting for company.
//!
//! At most `entries_in_flight` entries (`--write-entries-in-flight`) are being committed at a time;
//! commands that arrive meanwhile wait for the next entry, which is what makes the entries grow
//! with the load.
//!
//! Gathering (`--write-gather-ms`): when an entry is committed, the writers it answers usually
//! send their next write at once. Proposing the next entry the moment the slot frees would carry
//! only the writes that queued meanwhile, and the writers would split into cohorts that take
//! turns, each waiting a whole extra entry. So the next entry waits, at most the gather time, until
//! as many writes are queued as were waiting or answered when the last entry completed. A lone
//! writer never waits (one write was answered, so one is enough), and a gather that runs out of
//! time turns gathering off for the next few entries, so writers that do not come back cost little.
//!
//! Sizes: [`GroupCommit::propose`] encodes each command once, refuses one over [`MAX_CMD_BYTES`]
//! before it is queued, and queues the bytes; entries are cut by their sizes and made of them
//! ([`CmdBatch::from_encoded`]), so no command is encoded twice. Before an entry goes to Raft,
//! `commit` checks that it is within [`MAX_ENTRY_BYTES_HARD`] and decodes back to its commands
//! (`check_entry`), so the leader never proposes what apply could not read.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use proto::tracker_msg::Response;
use proto::ApiError;

use crate::cmd::{Cmd, CmdBatch};
use crate::counters::COUNTERS;
use crate::raft_types::{NodeId, NodeInfo, Raft};

/// Most commands in one entry.
pub const MAX_CMDS_PER_ENTRY: usize = 512;
/// Cap on one entry's encoded size (one command larger than this still goes alone), so an
/// AppendEntries of many entries stays far below the Raft frame limit.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
/// Largest encoded command the leader proposes. The largest valid one is a registration of a
/// file with [`proto::limits::MAX_CHUNKS_PER_FILE`] chunks: 20 bytes each, 8 MB in all, plus its
/// names.
pub const MAX_CMD_BYTES: usize = 9 << 20;
/// Largest entry the leader proposes: one command of [`MAX_CMD_BYTES`], or small ones filling up
/// to [`MAX_ENTRY_BYTES`] (cut before the one that would pass it).
pub const MAX_ENTRY_BYTES_HARD: usize = MAX_CMD_BYTES + MAX_ENTRY_BYTES;

/// A command waiting for its entry, and where its result goes.
struct Waiting {
    /// The command, encoded.
    encoded: Vec<u8>,
    reply: oneshot::Sender<Result<Response, ApiError>>,
}

/// Entries proposed without gathering after a gather ran out of time.
const ENTRIES_WITHOUT_GATHER: u32 = 4;

/// Counters shared by the queue, the batching task and the committing tasks.
#[derive(Default)]
struct Counts {
    /// Commands ever queued.
    submitted: AtomicU64,
    /// Commands ever put into an entry.
    proposed: AtomicU64,
    /// Writes to gather for the next entry: those waiting plus those answered when the last
    /// entry completed (0: none expected).
    expected: AtomicUsize,
}

/// Maps openraft's write errors on node `id` to wire errors (for entries, and for the membership
/// changes an admin request makes, which fail the same way).
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

/// The queue in front of `Raft::client_write`. Clones share the queue.
#[derive(Clone)]
pub struct GroupCommit {
    /// Where writes queue for the batching task.
    tx: mpsc::UnboundedSender<Waiting>,
    /// Shared with the batching task.
    counts: Arc<Counts>,
}

impl GroupCommit {
    /// Starts the batching task of node `node_id`: up to `entries_in_flight` entries committing
    /// at once, each within `timeout`, each waiting up to `gather` for the writers the last one
    /// answered (zero: never).
    pub fn start(
        raft: Raft,
        node_id: NodeId,
        timeout: Duration,
        entries_in_flight: usize,
        gather: Duration,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let counts = Arc::new(Counts::default());
        let batcher = Batcher {
            raft,
            node_id,
            timeout,
            gather,
            slots: Arc::new(Semaphore::new(entries_in_flight.max(1))),
            counts: counts.clone(),
        };
        tokio::spawn(batcher.run(rx));
        GroupCommit { tx, counts }
    }

    /// Queues `cmd` and waits for its own result.
    ///
    /// # Errors
    /// [`ApiError::InvalidRequest`] if `cmd` encodes to more than [`MAX_CMD_BYTES`] (it is not
    /// queued); the command's refusal, `NotLeader`, or `Unavailable` if its entry was not
    /// committed in time.
    pub async fn propose(&self, cmd: Cmd) -> Result<Response, ApiError> {
        let encoded = encode_within_limit(&cmd)?;
        drop(cmd);
        let (reply, rx) = oneshot::channel();
        self.counts.submitted.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(Waiting { encoded, reply })
            .map_err(|_| ApiError::Unavailable("this node is shutting down".into()))?;
        rx.await.map_err(|_| {
            ApiError::Unavailable("this node stopped before the write was committed".into())
        })?
    }
}

/// `cmd` encoded.
///
/// # Errors
/// [`ApiError::InvalidRequest`] if it is over [`MAX_CMD_BYTES`]; `Internal` if it does not
/// encode (a bug).
fn encode_within_limit(cmd: &Cmd) -> Result<Vec<u8>, ApiError> {
    let encoded = proto::frame::encode(cmd)
        .map_err(|e| ApiError::Internal(format!("the command does not encode: {e}")))?;
    let len = encoded.len();
    if len > MAX_CMD_BYTES {
        return Err(ApiError::InvalidRequest(format!(
            "the write is {len} bytes encoded, more than the {MAX_CMD_BYTES} bytes one write may take"
        )));
    }
    Ok(encoded)
}

/// Checks an encoded entry of `count` commands before it is proposed: within
/// [`MAX_ENTRY_BYTES_HARD`], and decoding back to as many commands.
///
/// # Errors
/// A one-line reason (a bug: the sizes were checked command by command).
fn check_entry(batch: &CmdBatch, count: usize) -> Result<(), String> {
    if batch.encoded_len() > MAX_ENTRY_BYTES_HARD {
        return Err(format!(
            "the entry is {} bytes, more than the {MAX_ENTRY_BYTES_HARD}-byte limit",
            batch.encoded_len()
        ));
    }
    match batch.decode() {
        Ok(cmds) if cmds.len() == count => Ok(()),
        Ok(cmds) => Err(format!(
            "the entry decodes to {} of its {count} commands",
            cmds.len()
        )),
        Err(e) => Err(format!("the entry does not decode: {e}")),
    }
}

/// How many of the queued commands go into the next entry: at least one, then as many as fit.
fn next_entry_len(queued: &[Waiting]) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for w in queued.iter().take(MAX_CMDS_PER_ENTRY) {
        bytes += w.encoded.len();
        if n > 0 && bytes > MAX_ENTRY_BYTES {
            break;
        }
        n += 1;
    }
    n
}

/// The batching task's settings and shared state.
struct Batcher {
    raft: Raft,
    node_id: NodeId,
    timeout: Duration,
    gather: Duration,
    slots: Arc<Semaphore>,
    counts: Arc<Counts>,
}

impl Batcher {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Waiting>) {
        let mut queued: Vec<Waiting> = Vec::new();
        let mut without_gather = 0u32;
        loop {
            let Ok(slot) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let expected = self.counts.expected.swap(0, Ordering::Relaxed);
            if queued.is_empty() && rx.recv_many(&mut queued, MAX_CMDS_PER_ENTRY).await == 0 {
                return;
            }
            while queued.len() < MAX_CMDS_PER_ENTRY {
                match rx.try_recv() {
                    Ok(w) => queued.push(w),
                    Err(_) => break,
                }
            }
            if without_gather > 0 {
                without_gather -= 1;
            } else if !gather(&mut rx, &mut queued, expected, self.gather).await {
                without_gather = ENTRIES_WITHOUT_GATHER;
            }
            let entry: Vec<Waiting> = queued.drain(..next_entry_len(&queued)).collect();
            self.counts
                .proposed
                .fetch_add(entry.len() as u64, Ordering::Relaxed);
            tokio::spawn(commit(
                self.raft.clone(),
                self.node_id,
                self.timeout,
                entry,
                Completion {
                    counts: self.counts.clone(),
                    _slot: slot,
                },
            ));
        }
    }
}

/// Waits, at most `within`, until `expected` writes (capped at one entry's worth) are queued.
/// Returns false if the time ran out first; true at once if `within` is zero.
async fn gather(
    rx: &mut mpsc::UnboundedReceiver<Waiting>,
    queued: &mut Vec<Waiting>,
    expected: usize,
    within: Duration,
) -> bool {
    let target = expected.min(MAX_CMDS_PER_ENTRY);
    if within.is_zero() || queued.len() >= target {
        return true;
    }
    let deadline = tokio::time::Instant::now() + within;
    while queued.len() < target {
        let room = MAX_CMDS_PER_ENTRY - queued.len();
        match tokio::time::timeout_at(deadline, rx.recv_many(queued, room)).await {
            // Closed: nothing more will come.
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Held by an entry being committed: frees its slot when dropped, and before it sets how many
/// writes the next entry should gather.
struct Completion {
    counts: Arc<Counts>,
    _slot: OwnedSemaphorePermit,
}

impl Completion {
    /// Called with the entry's command count just before its writers are answered.
    fn expect_next(&self, answered: usize) {
        let waiting = self
            .counts
            .submitted
            .load(Ordering::Relaxed)
            .saturating_sub(self.counts.proposed.load(Ordering::Relaxed));
        let expected = usize::try_from(waiting)
            .unwrap_or(usize::MAX)
            .saturating_add(answered);
        self.counts.expected.store(expected, Ordering::Relaxed);
    }
}

/// Proposes one entry and hands each command its result.
async fn commit(
    raft: Raft,
    node_id: NodeId,
    timeout: Duration,
    entry: Vec<Waiting>,
    done: Completion,
) {
    let (parts, replies): (Vec<Vec<u8>>, Vec<_>) =
        entry.into_iter().map(|w| (w.encoded, w.reply)).unzip();
    let count = parts.len();
    let checked = CmdBatch::from_encoded(&parts)
        .map_err(|e| format!("could not encode the entry: {e}"))
        .and_then(|b| check_entry(&b, count).map(|()| b));
    let batch = match checked {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(%e, "entry not proposed");
            let why = ApiError::Internal(e);
            for reply in replies {
                let _ = reply.send(Err(why.clone()));
            }
            return;
        }
    };
    drop(parts);
    COUNTERS.entries.fetch_add(1, Ordering::Relaxed);
    COUNTERS
        .proposals
        .fetch_add(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
    COUNTERS.writes_per_entry.observe(count as f64);
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(timeout, raft.client_write(batch)).await;
    COUNTERS.commit_seconds.observe_duration(started.elapsed());
    if !matches!(outcome, Ok(Ok(_))) {
        COUNTERS.entries_failed.fetch_add(1, Ordering::Relaxed);
    }
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
    done.expect_next(count);
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Op;
    use proto::tracker_msg::FileManifest;

    fn waiting(op: Op) -> Waiting {
        let cmd = Cmd {
            origin: None,
            now_ms: 0,
            op,
        };
        Waiting {
            encoded: encode_within_limit(&cmd).unwrap(),
            reply: oneshot::channel().0,
        }
    }

    fn cmd_of(op: Op) -> Cmd {
        Cmd {
            origin: None,
            now_ms: 0,
            op,
        }
    }

    fn small() -> Waiting {
        waiting(small_op())
    }

    fn small_op() -> Op {
        Op::PruneClients { before_ms: 0 }
    }

    fn file_of(chunks: usize) -> Waiting {
        waiting(file_op(chunks))
    }

    fn file_op(chunks: usize) -> Op {
        Op::RegisterFile {
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
        }
    }

    #[tokio::test]
    async fn gathering_waits_for_the_expected_writers_and_no_longer() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut queued = vec![small()];
        // Enough already: no wait, even with a long gather time.
        assert!(gather(&mut rx, &mut queued, 1, Duration::from_secs(60)).await);
        // Three more arrive while gathering.
        let sender = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let _ = tx.send(small());
            }
            tx
        });
        assert!(gather(&mut rx, &mut queued, 4, Duration::from_secs(10)).await);
        assert_eq!(queued.len(), 4);
        let tx = sender.await.unwrap();
        // Nobody comes back: the gather gives up after its time.
        let started = std::time::Instant::now();
        assert!(!gather(&mut rx, &mut queued, 10, Duration::from_millis(20)).await);
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(queued.len(), 4);
        // Gathering off, or the queue closed: no wait.
        assert!(gather(&mut rx, &mut queued, 10, Duration::ZERO).await);
        drop(tx);
        assert!(gather(&mut rx, &mut queued, 10, Duration::from_secs(60)).await);
    }

    #[tokio::test]
    async fn the_next_entry_expects_the_waiting_and_the_answered() {
        let counts = Arc::new(Counts::default());
        counts.submitted.store(100, Ordering::Relaxed);
        counts.proposed.store(70, Ordering::Relaxed);
        let done = Completion {
            counts: counts.clone(),
            _slot: Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap(),
        };
        done.expect_next(32);
        assert_eq!(counts.expected.load(Ordering::Relaxed), 30 + 32);
    }

    #[test]
    fn small_commands_fill_an_entry_up_to_the_count_cap() {
        let queued: Vec<Waiting> = (0..MAX_CMDS_PER_ENTRY + 10).map(|_| small()).collect();
        assert_eq!(next_entry_len(&queued), MAX_CMDS_PER_ENTRY);
        assert_eq!(next_entry_len(&queued[..3]), 3);
    }

    #[test]
    fn a_command_over_the_limit_is_refused_and_an_entry_is_checked_before_it_goes() {
        let huge = Cmd {
            origin: None,
            now_ms: 0,
            op: Op::SetPeersOnline {
                peer_ids: vec![u64::MAX; MAX_CMD_BYTES / 8],
                online: true,
            },
        };
        assert!(matches!(
            encode_within_limit(&huge),
            Err(ApiError::InvalidRequest(why)) if why.contains("bytes one write may take")
        ));
        let parts = vec![small().encoded, file_of(10).encoded];
        let batch = CmdBatch::from_encoded(&parts).unwrap();
        assert_eq!(check_entry(&batch, 2), Ok(()));
        assert!(check_entry(&batch, 3).is_err());
        let cmds = vec![cmd_of(small_op()), cmd_of(file_op(10))];
        assert_eq!(
            proto::frame::encode(&batch.decode().unwrap()).unwrap(),
            proto::frame::encode(&cmds).unwrap()
        );
        let largest = cmd_of(file_op(proto::limits::MAX_CHUNKS_PER_FILE));
        assert!(encode_within_limit(&largest).unwrap().len() <= MAX_CMD_BYTES);
        // The largest registration at the default chunk size (a file of 1 TiB, or any size
        // from 16 GiB to 2 TiB) fits an ordinary entry.
        let default_largest = cmd_of(file_op(proto::chunk_size::DEFAULT_MAX_CHUNKS as usize));
        assert!(encode_within_limit(&default_largest).unwrap().len() <= MAX_ENTRY_BYTES);
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
