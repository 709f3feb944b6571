//! The Raft log, vote and committed index in sled (trees `raft_log` and `raft_meta`).
//!
//! Log keys are big-endian indexes so sled's order is log order. `append` inserts the entries one
//! by one in index order (sled recovers a prefix of its operations, so a crash cannot leave a
//! hole; no `apply_batch`, see [`super::trees`]) and returns at once. A flusher thread fires
//! openraft's flushed-callbacks only after `flush` has made the entries durable; appends that
//! arrive while a flush runs share the next one (group commit), and the Raft core never waits on
//! the disk: it goes on replicating meanwhile. The thread calls sled's blocking `flush` itself,
//! which wakes sled's I/O pool once per flush instead of twice (`flush_async` first hands the flush
//! to that pool, and every hand-off wakes all of its idle threads).
//! `purge` records the last purged id before it deletes anything.
//!
//! Reserved slots: sled splits a leaf once it holds more than 16 keys and writes both halves
//! out in full, so appending big entries one after another rewrote every byte several times.
//! `append` therefore inserts [`RESERVED_SLOTS`] empty values ahead of the log (cheap: they are
//! small) and then overwrites them: an overwrite adds no key, so the leaves holding entries
//! never split and each entry is written far fewer times (see
//! chaos-tests/reports/2026-11-22.md). An empty value is not an entry: every reader skips it,
//! exactly as if the key were absent.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use std::sync::mpsc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageIOError, Vote};

use super::log_tail::LogTail;
use crate::raft_types::{NodeId, StorageError, TypeConfig};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// Empty slots inserted ahead of the log at a time (see the module documentation).
pub const RESERVED_SLOTS: u64 = 64;

/// The log store; cheap to clone (sled trees are shared handles).
#[derive(Clone)]
pub struct LogStore {
    /// The node's database (for flushing).
    db: sled::Db,
    /// index (BE) -> entry.
    log: sled::Tree,
    /// vote, committed, last purged.
    meta: sled::Tree,
    /// Callbacks waiting for the next flush (the flusher thread starts on the first append).
    flusher: Arc<OnceLock<mpsc::Sender<LogFlushed<TypeConfig>>>>,
    /// The newest entries, decoded (see [`LogTail`]).
    tail: Arc<Mutex<LogTail>>,
    /// Indexes below this have a key in `log` (an entry or a reserved slot), as far as appends
    /// know; truncation lowers it.
    reserved_end: Arc<AtomicU64>,
}

fn read_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageIOError::read_logs(e).into()
}

fn write_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageIOError::write_logs(e).into()
}

impl LogStore {
    /// Opens the log trees of `db`.
    ///
    /// # Errors
    /// sled errors.
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        let log = db.open_tree("raft_log")?;
        let reserved_end = match log.last()? {
            Some((key, _)) => index_of_key(&key).map_or(0, |i| i.saturating_add(1)),
            None => 0,
        };
        Ok(LogStore {
            db: db.clone(),
            log,
            meta: db.open_tree("raft_meta")?,
            flusher: Arc::default(),
            tail: Arc::default(),
            reserved_end: Arc::new(AtomicU64::new(reserved_end)),
        })
    }

    /// Makes sure `index` has a key before its entry is written: if it lies beyond the reserved
    /// slots, inserts the next [`RESERVED_SLOTS`] empty slots from `index` on.
    fn reserve(&self, index: u64) -> Result<(), sled::Error> {
        if index < self.reserved_end.load(Ordering::Acquire) {
            return Ok(());
        }
        let end = index.saturating_add(RESERVED_SLOTS);
        for slot in index..end {
            self.log.insert(slot.to_be_bytes(), &[][..])?;
        }
        self.reserved_end.store(end, Ordering::Release);
        Ok(())
    }

    /// Hands `callback` to the flusher thread, which fires it after the next flush.
    fn flush_then(&self, callback: LogFlushed<TypeConfig>) {
        let tx = self.flusher.get_or_init(|| {
            let (tx, rx) = mpsc::channel();
            let db = self.db.clone();
            let spawned = std::thread::Builder::new()
                .name("log-flush".into())
                .spawn(move || run_flusher(&db, &rx));
            if let Err(e) = spawned {
                tracing::error!(%e, "could not start the log flusher thread");
            }
            tx
        });
        if let Err(mpsc::SendError(callback)) = tx.send(callback) {
            // The flusher is gone (it could not start): nothing will be made durable.
            callback.log_io_completed(Err(std::io::Error::other("the log flusher has stopped")));
        }
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, LogTail> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        match self.meta.get(key).map_err(|e| read_err(&e))? {
            Some(bytes) => proto::frame::decode(&bytes)
                .map(Some)
                .map_err(|e| read_err(&e)),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &[u8], value: &T) -> Result<(), StorageError> {
        let bytes = proto::frame::encode(value).map_err(|e| write_err(&e))?;
        self.meta.insert(key, bytes).map_err(|e| write_err(&e))?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), StorageError> {
        self.db.flush_async().await.map_err(|e| write_err(&e))?;
        Ok(())
    }

    /// The id of the newest entry (reserved slots skipped).
    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>, StorageError> {
        for item in self.log.iter().rev() {
            let (_, bytes) = item.map_err(|e| read_err(&e))?;
            if bytes.is_empty() {
                continue;
            }
            let entry: Entry<TypeConfig> =
                proto::frame::decode(&bytes).map_err(|e| read_err(&e))?;
            return Ok(Some(entry.log_id));
        }
        Ok(None)
    }
}

/// The log index a key of the log tree stands for.
fn index_of_key(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

/// Converts a range of log indexes into sled key bounds.
fn key_bounds(range: &impl RangeBounds<u64>) -> (Bound<[u8; 8]>, Bound<[u8; 8]>) {
    let map = |b: Bound<&u64>| match b {
        Bound::Included(i) => Bound::Included(i.to_be_bytes()),
        Bound::Excluded(i) => Bound::Excluded(i.to_be_bytes()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (map(range.start_bound()), map(range.end_bound()))
}

impl LogStore {
    /// Reads `range` from sled: one point read per index while they are there (sled's range scan
    /// re-descends the tree for every entry), then a scan for whatever is left.
    fn read_from_sled(
        &self,
        range: &impl RangeBounds<u64>,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        let decode = |bytes: &[u8]| -> Result<Entry<TypeConfig>, StorageError> {
            proto::frame::decode(bytes).map_err(|e| read_err(&e))
        };
        let mut out = Vec::new();
        let mut next = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => Some(i.saturating_add(1)),
            Bound::Excluded(&i) => Some(i),
            Bound::Unbounded => None,
        };
        if let Some(end) = end {
            while next < end {
                match self.log.get(next.to_be_bytes()).map_err(|e| read_err(&e))? {
                    Some(bytes) if !bytes.is_empty() => out.push(decode(&bytes)?),
                    _ => break,
                }
                next += 1;
            }
            if next >= end {
                return Ok(out);
            }
        }
        let rest = (Bound::Included(next), range.end_bound().cloned());
        for item in self.log.range(key_bounds(&rest)) {
            let (_, bytes) = item.map_err(|e| read_err(&e))?;
            if !bytes.is_empty() {
                out.push(decode(&bytes)?);
            }
        }
        Ok(out)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError> {
        if let Some(cached) = self.tail().get(&range) {
            return Ok(cached);
        }
        self.read_from_sled(&range)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId<NodeId>> = self.get_meta(KEY_LAST_PURGED)?;
        let last_log_id = self.last_entry_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(KEY_VOTE, vote).map_err(|_| {
            StorageError::from(StorageIOError::write_vote(&std::io::Error::other(
                "encode vote",
            )))
        })?;
        self.db
            .flush_async()
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(&e)))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.get_meta(KEY_VOTE)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError> {
        crate::counters::COUNTERS.set_committed(committed.map(|c| c.index));
        // Not flushed on its own: losing it only means re-applying committed entries on restart.
        self.put_meta(KEY_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError> {
        let committed = self
            .get_meta::<Option<LogId<NodeId>>>(KEY_COMMITTED)?
            .flatten();
        crate::counters::COUNTERS.set_committed(committed.map(|c| c.index));
        Ok(committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        for entry in entries {
            let index = entry.log_id.index;
            let bytes = proto::frame::encode(&entry).map_err(|e| write_err(&e))?;
            let written = self
                .reserve(index)
                .and_then(|()| self.log.insert(index.to_be_bytes(), bytes));
            if let Err(e) = written {
                // Whatever the cache holds may no longer match the log.
                self.tail().clear();
                return Err(write_err(&e));
            }
            self.tail().push(entry);
        }
        // Durability first, then the callback: openraft counts this node toward the commit
        // quorum as soon as the callback fires.
        self.flush_then(callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let keys: Vec<_> = self
            .log
            .range(log_id.index.to_be_bytes()..)
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| write_err(&e))?;
        self.tail().truncate_from(log_id.index);
        self.reserved_end.fetch_min(log_id.index, Ordering::AcqRel);
        for key in keys.iter().rev() {
            self.log.remove(key).map_err(|e| write_err(&e))?;
        }
        self.flush().await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        self.put_meta(KEY_LAST_PURGED, &log_id)?;
        self.tail().purge_to(log_id.index);
        self.flush().await?;
        let keys: Vec<_> = self
            .log
            .range(..=log_id.index.to_be_bytes())
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| write_err(&e))?;
        // Oldest first: a crash part-way leaves a contiguous log after the recorded purge point.
        for key in keys {
            self.log.remove(key).map_err(|e| write_err(&e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod reserved_slots_test;

/// Flushes the database for every batch of waiting callbacks, then fires them in order. One flush
/// covers every append that was written before it started. Ends when every `LogStore` is gone.
fn run_flusher(db: &sled::Db, rx: &mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let flushed = db.flush();
        for callback in waiting {
            let result = match &flushed {
                Ok(_) => Ok(()),
                Err(e) => Err(std::io::Error::other(format!(
                    "flushing the raft log failed: {e}"
                ))),
            };
            callback.log_io_completed(result);
        }
    }
}
