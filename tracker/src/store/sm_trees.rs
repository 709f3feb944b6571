//! [`SmTrees`]: the committed state of the state machine, which is the staged writes
//! ([`super::staged`]) laid over the plain trees ([`super::trees`]), with the background drains
//! that move staged writes into the trees and the decoded records kept between batches
//! ([`super::record_cache`]).
//!
//! `apply` is the only writer, and it runs one batch at a time; it reads the committed state
//! through its own overlay ([`super::overlay::Pending`]) and then stages the batch, which is later
//! drained into the trees with plain sled inserts and removes ([`super::undo`] makes a drain
//! crash-atomic). Readers take the shared side of the gate for each get or scan, and a batch is
//! staged under its exclusive side, so no read sees half a batch.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use super::record_cache::{DecodedCache, RecordCache};
use super::staged::Staged;
use super::thread_priority::lower_thread_priority;
use super::trees::{Trees, WriteSet};
use crate::domain::kv::StoreError;
use crate::domain::kv::Table;

/// Key of the applied log id in the meta table (written by apply, read by the image and at start).
pub(crate) const KEY_LAST_APPLIED: &[u8] = b"last_applied";
/// Key of the last applied membership in the meta table.
pub(crate) const KEY_MEMBERSHIP: &[u8] = b"membership";

/// Bound of the decoded records kept between batches ([`RecordCache`]).
const RECORD_CACHE_BYTES: usize = 32 << 20;

/// A background drain's thread.
type DrainThread = JoinHandle<Result<(), StoreError>>;

/// The result of a background drain, or why its thread failed.
fn join_drain(handle: DrainThread) -> Result<(), StoreError> {
    handle
        .join()
        .unwrap_or_else(|_| Err(StoreError::Drain("the drain thread panicked".into())))
}

/// The opened state-machine trees with what is staged over them. Clones share everything.
#[derive(Clone)]
pub struct SmTrees {
    /// The plain trees.
    trees: Trees,
    /// Applied writes not yet in the trees; shared by each read, exclusive while a batch is
    /// staged or a drain forgets what it wrote.
    staged: Arc<RwLock<Staged>>,
    /// The background drain started last, until its result is collected.
    drainer: Arc<Mutex<Option<DrainThread>>>,
    /// Decoded committed records, for `apply`.
    records: Arc<Mutex<RecordCache>>,
}

impl SmTrees {
    /// Opens (or creates) every table in `db`.
    ///
    /// # Errors
    /// sled errors.
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(SmTrees {
            trees: Trees::open(db)?,
            staged: Arc::default(),
            drainer: Arc::default(),
            records: Arc::new(Mutex::new(RecordCache::new(RECORD_CACHE_BYTES))),
        })
    }

    /// The tree of one table (what is drained; staged writes are not in it).
    pub fn tree(&self, table: Table) -> &sled::Tree {
        self.trees.tree(table)
    }

    /// The plain trees, for crash recovery and snapshot installs ([`super::undo`]).
    pub fn plain(&self) -> &Trees {
        &self.trees
    }

    /// Holds off batch writes while the guard lives, for a read that spans several calls; the
    /// guard is the staged overlay, which such a read must lay over the trees.
    pub fn read_gate(&self) -> RwLockReadGuard<'_, Staged> {
        self.staged.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_gate(&self) -> RwLockWriteGuard<'_, Staged> {
        self.staged.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every live entry of `table` under `prefix`, staged writes included, in key order, while no
    /// batch is staged (so the scan sees whole batches). `visit` must not read the tables again.
    ///
    /// # Errors
    /// sled errors, or `visit`'s.
    pub fn visit(
        &self,
        table: Table,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let staged = self.read_gate();
        for item in staged.merge_scan(table, prefix, self.tree(table).scan_prefix(prefix)) {
            let (k, v) = item?;
            visit(k.as_ref(), v.as_ref())?;
        }
        Ok(())
    }

    /// Like [`SmTrees::visit`], but one page: the entries after `after` (from the start of
    /// `prefix` if `None`), at most `limit` of them, so the gate is held for a bounded time.
    /// Returns the last key visited when the page is full (more may follow: pass it as `after`
    /// for the next page), `None` when the table ends within the page. `after` is a key under
    /// `prefix` (a page's last key); `limit` 0 counts as 1. A page sees whole batches;
    /// batches applied between two pages show in the later one.
    ///
    /// # Errors
    /// sled errors, or `visit`'s.
    pub fn visit_page(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound;
        let staged = self.read_gate();
        let stored = match after {
            Some(key) => self
                .tree(table)
                .range::<&[u8], _>((Bound::Excluded(key), Bound::Unbounded)),
            None => self.tree(table).range::<&[u8], _>(prefix..),
        };
        let stored = stored.take_while(move |r| match r {
            Ok((k, _)) => k.starts_with(prefix),
            Err(_) => true,
        });
        let limit = limit.max(1);
        let mut seen = 0;
        for item in staged.merge_scan_after(table, prefix, after, stored) {
            let (k, v) = item?;
            visit(k.as_ref(), v.as_ref())?;
            seen += 1;
            if seen == limit {
                return Ok(Some(k.as_ref().to_vec()));
            }
        }
        Ok(None)
    }

    /// Stages an applied batch (readers see it at once) and keeps its decoded records; starts a
    /// drain in the background when one is due ([`SmTrees::drain`]).
    ///
    /// # Errors
    /// The error of an earlier background drain (a sled error: the state cannot be stored).
    pub fn stage(&self, writes: WriteSet, decoded: DecodedCache) -> Result<(), StoreError> {
        if self.read_gate().overfull() {
            // Far ahead of the running drain: let it finish before staging more.
            self.finish_drain()?;
        }
        let due = {
            let mut staged = self.write_gate();
            {
                let mut records = self.records();
                for slot in writes.keys() {
                    records.remove(slot);
                }
            }
            staged.add(writes);
            staged.drain_due()
        };
        self.remember(decoded);
        if due {
            self.start_drain()?;
        }
        Ok(())
    }

    /// Starts draining what is staged on a thread of its own, unless a drain is running.
    fn start_drain(&self) -> Result<(), StoreError> {
        let mut drainer = self.drainer.lock().unwrap_or_else(PoisonError::into_inner);
        if drainer.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        if let Some(done) = drainer.take() {
            join_drain(done)?;
        }
        let Some(writes) = self.write_gate().begin_drain() else {
            return Ok(());
        };
        let trees = self.clone();
        let handle = std::thread::Builder::new()
            .name("sm-drain".into())
            .spawn(move || {
                // Drains wait for idle time: more writes per second at 64 writers, the machine
                // busier by about the same share (see chaos-tests/reports/2026-11-22.md).
                lower_thread_priority();
                trees.store_drained(&writes)
            })
            .map_err(|e| StoreError::Drain(format!("cannot start the drain thread: {e}")))?;
        *drainer = Some(handle);
        Ok(())
    }

    /// Writes a drain's writes crash-atomically; then readers find them in the trees. On an error
    /// they go back to being staged.
    fn store_drained(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let stored = super::undo::commit(&self.trees, writes);
        tracing::debug!(
            keys = writes.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            ok = stored.is_ok(),
            "drained staged writes"
        );
        if stored.is_ok() {
            let counters = &crate::counters::COUNTERS;
            crate::counters::bump(&counters.drains);
            counters.drained_keys.fetch_add(
                u64::try_from(writes.len()).unwrap_or(u64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let mut staged = self.write_gate();
        match stored {
            Ok(()) => staged.end_drain(),
            Err(_) => staged.abort_drain(),
        }
        stored
    }

    /// Waits for the background drain, if one was started, and returns its result.
    pub(super) fn finish_drain(&self) -> Result<(), StoreError> {
        let running = self
            .drainer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        running.map_or(Ok(()), join_drain)
    }

    /// Writes everything staged into the trees as one crash-atomic batch ([`super::undo`]) and
    /// waits until it is stored (before a snapshot, an install or a stop). Readers go on
    /// meanwhile: the staged values they see are the ones being written.
    ///
    /// # Errors
    /// sled errors; what is staged then stays staged.
    pub fn drain(&self) -> Result<(), StoreError> {
        self.finish_drain()?;
        let Some(writes) = self.write_gate().begin_drain() else {
            return Ok(());
        };
        self.store_drained(&writes)
    }

    /// The decoded records kept between batches.
    pub(super) fn records(&self) -> MutexGuard<'_, RecordCache> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a batch's decoded records after its writes are staged.
    pub fn remember(&self, decoded: DecodedCache) {
        let mut records = self.records();
        for (slot, value) in decoded {
            records.insert(slot, value);
        }
    }

    /// Writes `writes` straight into the trees, while no reader is inside, and forgets the
    /// decoded copies of the keys it writes. For a snapshot install (after a drain) and tests.
    /// Not crash-atomic by itself.
    ///
    /// # Errors
    /// sled errors.
    pub fn write_all(&self, writes: &WriteSet) -> Result<(), sled::Error> {
        let _exclusive = self.write_gate();
        {
            let mut records = self.records();
            for slot in writes.keys() {
                records.remove(slot);
            }
        }
        self.trees.write(writes)
    }
}
