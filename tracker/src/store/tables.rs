//! The state machine's sled trees, a read interface over them ([`KvRead`]), the committed view
//! ([`Committed`]) and the write overlay that `apply` fills and commits ([`Pending`]).
//!
//! `apply` is the only writer, and it runs one batch at a time; so it may read the committed state
//! through its own overlay (including prefix scans) and then stage the batch ([`super::staged`]),
//! which is later drained into the trees with plain sled inserts and removes ([`super::undo`]
//! makes a drain crash-atomic). The committed state is the staged writes laid over the trees.
//! Readers take the shared side of [`SmTrees`]'s gate for each get or scan, and a batch is staged
//! under its exclusive side, so no read sees half a batch.
//!
//! No sled transaction or `apply_batch` is used anywhere: the first call to either switches sled
//! 0.34 into a process-wide reader/writer lock, after which every insert, read and transaction
//! waits for any flush in progress, disk I/O included (see `clippy.toml`).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::record_cache::{Decoded, RecordCache, StoredBytes};
use super::staged::Staged;

/// Writes collected by a [`Pending`] overlay: `None` is a delete.
pub type WriteSet = BTreeMap<(Table, Vec<u8>), Option<Vec<u8>>>;

/// Per key, its overlay entry before the current operation changed it.
type UndoLog = BTreeMap<(Table, Vec<u8>), Option<Option<Vec<u8>>>>;

/// Records decoded or written during one batch, by table and key: each the key's latest value in
/// the batch.
pub type DecodedCache = HashMap<(Table, Vec<u8>), Decoded>;

/// Bound of the decoded records kept between batches ([`RecordCache`]).
const RECORD_CACHE_BYTES: usize = 32 << 20;

/// Key/value pairs read from a table, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One state-machine table; each is a sled tree named `sm_<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// username -> `UserRec`
    Users = 0,
    /// token -> `SessionRec`
    Sessions = 1,
    /// group -> `GroupRec`
    Groups = 2,
    /// group NUL file -> `FileRec`
    Files = 3,
    /// peer id (BE) -> `PeerRec`
    Peers = 4,
    /// group NUL file NUL peer id (BE) -> bitfield
    Avail = 5,
    /// client id (BE) -> `ClientRec`
    Clients = 6,
    /// last applied, membership
    Meta = 7,
    /// cluster-wide settings, e.g. the ticket signing key
    Cluster = 8,
}

impl Table {
    /// Tables that hold replicated data (everything but `Meta`), in digest and snapshot order.
    pub const DATA: [Table; 8] = [
        Table::Users,
        Table::Sessions,
        Table::Groups,
        Table::Files,
        Table::Peers,
        Table::Avail,
        Table::Clients,
        Table::Cluster,
    ];

    /// Every table, in discriminant order.
    pub const ALL: [Table; 9] = [
        Table::Users,
        Table::Sessions,
        Table::Groups,
        Table::Files,
        Table::Peers,
        Table::Avail,
        Table::Clients,
        Table::Meta,
        Table::Cluster,
    ];

    /// Name of the sled tree.
    pub fn tree_name(self) -> &'static str {
        match self {
            Table::Users => "sm_users",
            Table::Sessions => "sm_sessions",
            Table::Groups => "sm_groups",
            Table::Files => "sm_files",
            Table::Peers => "sm_peers",
            Table::Avail => "sm_avail",
            Table::Clients => "sm_clients",
            Table::Meta => "sm_meta",
            Table::Cluster => "sm_cluster",
        }
    }

    /// Table from its snapshot tag.
    pub fn from_tag(tag: u8) -> Option<Table> {
        Table::ALL.get(usize::from(tag)).copied()
    }
}

/// Failure inside the state machine's storage: fatal for the node (openraft shuts it down).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record does not decode: the data directory is corrupt.
    #[error("corrupt record in {table:?}: {reason}")]
    Corrupt {
        /// Where.
        table: Table,
        /// What.
        reason: String,
    },
    /// Writing staged state into the trees failed or could not run.
    #[error("storing the state machine: {0}")]
    Drain(String),
}

/// Lowers the calling thread's CPU priority (on Linux, nice is per thread), so background work
/// runs in the time the Raft path leaves idle and yields to it otherwise.
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid.unsigned_abs(), 10);
    }
}

/// A background drain's thread.
type DrainThread = JoinHandle<Result<(), StoreError>>;

/// The result of a background drain, or why its thread failed.
fn join_drain(handle: DrainThread) -> Result<(), StoreError> {
    handle
        .join()
        .unwrap_or_else(|_| Err(StoreError::Drain("the drain thread panicked".into())))
}

/// The opened state-machine trees.
#[derive(Clone)]
pub struct SmTrees {
    /// One tree per [`Table`], indexed by its discriminant.
    trees: Vec<sled::Tree>,
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
        let trees = Table::ALL
            .iter()
            .map(|t| db.open_tree(t.tree_name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SmTrees {
            trees,
            staged: Arc::default(),
            drainer: Arc::default(),
            records: Arc::new(Mutex::new(RecordCache::new(RECORD_CACHE_BYTES))),
        })
    }

    /// The tree of one table.
    pub fn tree(&self, table: Table) -> &sled::Tree {
        // The vector is built from Table::ALL, so every discriminant is a valid index.
        &self.trees[table as usize]
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
        let stored = super::undo::commit(self, writes);
        tracing::debug!(
            keys = writes.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            ok = stored.is_ok(),
            "drained staged writes"
        );
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
    fn records(&self) -> MutexGuard<'_, RecordCache> {
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
        self.write_trees(writes)
    }

    /// Plain inserts and removes, in key order, without the gate (for [`super::undo`]: staged
    /// values that readers already see, or recovery before any reader exists).
    ///
    /// # Errors
    /// sled errors.
    pub(super) fn write_trees(&self, writes: &WriteSet) -> Result<(), sled::Error> {
        for ((table, key), value) in writes {
            let tree = self.tree(*table);
            match value {
                Some(v) => {
                    tree.insert(key.as_slice(), v.as_slice())?;
                }
                None => {
                    tree.remove(key.as_slice())?;
                }
            }
        }
        Ok(())
    }
}

/// What a stored record type must be: decodable, and cheap enough to keep decoded for a batch.
pub trait Record: DeserializeOwned + Clone + Send + 'static {}

impl<T: DeserializeOwned + Clone + Send + 'static> Record for T {}

/// Read access to the tables, committed or through an overlay.
pub trait KvRead {
    /// The value under `key`.
    ///
    /// # Errors
    /// sled errors.
    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every entry whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// sled errors.
    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError>;

    /// Reads and decodes a record.
    ///
    /// # Errors
    /// sled errors, or [`StoreError::Corrupt`] if it does not decode.
    fn get<T: Record>(&self, table: Table, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.get_raw(table, key)? {
            Some(bytes) => decode_record(table, &bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// Decodes a stored record.
///
/// # Errors
/// [`StoreError::Corrupt`] if the bytes are not a `T`.
pub fn decode_record<T: DeserializeOwned>(table: Table, bytes: &[u8]) -> Result<T, StoreError> {
    proto::frame::decode(bytes).map_err(|e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })
}

/// Encodes a record for storage.
///
/// # Errors
/// [`StoreError::Corrupt`] if the value cannot be encoded (a bug).
pub fn encode_record<T: Serialize>(table: Table, value: &T) -> Result<Vec<u8>, StoreError> {
    proto::frame::encode(value).map_err(|e| StoreError::Corrupt {
        table,
        reason: e.to_string(),
    })
}

/// The committed tables, read directly.
pub struct Committed<'a>(pub &'a SmTrees);

impl KvRead for Committed<'_> {
    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let staged = self.0.read_gate();
        if let Some(value) = staged.get(table, key) {
            return Ok(value.map(<[u8]>::to_vec));
        }
        Ok(self.0.tree(table).get(key)?.map(|v| v.to_vec()))
    }

    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        self.0.visit(table, prefix, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }
}

/// Writes of one apply batch on top of the committed tables.
pub struct Pending<'a> {
    /// The committed tables underneath.
    base: &'a SmTrees,
    /// Writes so far: `None` is a delete.
    writes: WriteSet,
    /// Undo log of the current operation: each key's overlay entry before its first change
    /// (`None` when the key was not in the overlay).
    undo: UndoLog,
    /// Records already decoded in this batch (a batch's commands read the same session, group
    /// and file records over and over); a write drops the key's entry.
    decoded: RefCell<DecodedCache>,
}

impl<'a> Pending<'a> {
    /// An empty overlay on `base`.
    pub fn new(base: &'a SmTrees) -> Self {
        Pending {
            base,
            writes: BTreeMap::new(),
            undo: BTreeMap::new(),
            decoded: RefCell::default(),
        }
    }

    /// Starts a new operation: later [`Pending::rollback`] undoes only what follows.
    pub fn begin(&mut self) {
        self.undo.clear();
    }

    /// Undoes every write since the last [`Pending::begin`] (a refused operation leaves no trace).
    pub fn rollback(&mut self) {
        for (key, before) in std::mem::take(&mut self.undo) {
            self.decoded.get_mut().remove(&key);
            match before {
                Some(v) => {
                    self.writes.insert(key, v);
                }
                None => {
                    self.writes.remove(&key);
                }
            }
        }
    }

    fn record(&mut self, table: Table, key: Vec<u8>, value: Option<Vec<u8>>) {
        let slot = (table, key);
        self.decoded.get_mut().remove(&slot);
        if !self.undo.contains_key(&slot) {
            let before = self.writes.get(&slot).cloned();
            self.undo.insert(slot.clone(), before);
        }
        self.writes.insert(slot, value);
    }

    /// Stores a record (and keeps it decoded for the rest of the batch and after).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if it cannot be encoded.
    pub fn put<T: Serialize + Record>(
        &mut self,
        table: Table,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode_record(table, value)?;
        let decoded = Decoded::new(&key, Some(value.clone()), bytes.len());
        self.record(table, key.clone(), Some(bytes));
        self.decoded.get_mut().insert((table, key), decoded);
        Ok(())
    }

    /// Stores raw bytes (and keeps them for [`KvRead::get_raw`] after the batch).
    pub fn put_raw(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        let kept = Decoded::new(&key, Some(StoredBytes(value.clone())), value.len());
        self.record(table, key.clone(), Some(value));
        self.decoded.get_mut().insert((table, key), kept);
    }

    /// Deletes a key.
    pub fn delete(&mut self, table: Table, key: Vec<u8>) {
        self.record(table, key, None);
    }

    /// The collected writes and the batch's decoded records, for [`SmTrees::stage`] (which stages
    /// the writes, then keeps the records with [`SmTrees::remember`]).
    pub fn into_parts(self) -> (WriteSet, DecodedCache) {
        (self.writes, self.decoded.into_inner())
    }
}

impl KvRead for Pending<'_> {
    fn get<T: Record>(&self, table: Table, key: &[u8]) -> Result<Option<T>, StoreError> {
        let slot = (table, key.to_vec());
        if let Some(hit) = self.decoded.borrow().get(&slot).and_then(Decoded::get::<T>) {
            return Ok(hit.clone());
        }
        if let Some(written) = self.writes.get(&slot) {
            // Changed earlier in this batch (by raw bytes, or by a put that was rolled back).
            let value: Option<T> = match written {
                Some(bytes) => Some(decode_record(table, bytes)?),
                None => None,
            };
            let len = written.as_ref().map_or(0, Vec::len);
            let decoded = Decoded::new(key, value.clone(), len);
            self.decoded.borrow_mut().insert(slot, decoded);
            return Ok(value);
        }
        if let Some(hit) = self.base.records().get::<T>(&slot) {
            return Ok(hit);
        }
        let stored = Committed(self.base).get_raw(table, key)?;
        let value: Option<T> = match &stored {
            Some(bytes) => Some(decode_record(table, bytes)?),
            None => None,
        };
        let len = stored.as_ref().map_or(0, Vec::len);
        self.base
            .records()
            .insert(slot, Decoded::new(key, value.clone(), len));
        Ok(value)
    }

    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let slot = (table, key.to_vec());
        if let Some(v) = self.writes.get(&slot) {
            return Ok(v.clone());
        }
        if let Some(hit) = self.base.records().get::<StoredBytes>(&slot) {
            return Ok(hit.map(|b| b.0));
        }
        let stored = Committed(self.base).get_raw(table, key)?;
        let len = stored.as_ref().map_or(0, Vec::len);
        let kept = Decoded::new(key, stored.clone().map(StoredBytes), len);
        self.base.records().insert(slot, kept);
        Ok(stored)
    }

    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = Committed(self.base)
            .scan_raw(table, prefix)?
            .into_iter()
            .collect();
        let start = (table, prefix.to_vec());
        for ((t, k), v) in self.writes.range(start..) {
            if *t != table || !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                None => {
                    merged.remove(k);
                }
            }
        }
        Ok(merged.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoded_record_is_forgotten_when_written_or_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let trees = SmTrees::open(&db).unwrap();
        let one = encode_record(Table::Users, &"one".to_string()).unwrap();
        trees.tree(Table::Users).insert(b"a", one).unwrap();
        let mut p = Pending::new(&trees);
        let read = |p: &Pending<'_>| p.get::<String>(Table::Users, b"a").unwrap();
        assert_eq!(read(&p).as_deref(), Some("one"));
        p.begin();
        p.put(Table::Users, b"a".to_vec(), &"two".to_string())
            .unwrap();
        assert_eq!(read(&p).as_deref(), Some("two"));
        p.rollback();
        assert_eq!(read(&p).as_deref(), Some("one"));
        p.begin();
        p.delete(Table::Users, b"a".to_vec());
        assert_eq!(read(&p), None);
    }

    #[test]
    fn records_kept_between_batches_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let trees = SmTrees::open(&db).unwrap();
        let enc = |s: &str| encode_record(Table::Users, &s.to_string()).unwrap();
        let read = || {
            Pending::new(&trees)
                .get::<String>(Table::Users, b"a")
                .unwrap()
        };
        let commit = |p: Pending<'_>| {
            let (writes, decoded) = p.into_parts();
            trees.write_all(&writes).unwrap();
            trees.remember(decoded);
        };
        trees.tree(Table::Users).insert(b"a", enc("one")).unwrap();
        assert_eq!(read().as_deref(), Some("one"));
        // A write that did not come from a batch (as a snapshot install does) is seen.
        let mut w = WriteSet::new();
        w.insert((Table::Users, b"a".to_vec()), Some(enc("two")));
        trees.write_all(&w).unwrap();
        assert_eq!(read().as_deref(), Some("two"));
        let mut p = Pending::new(&trees);
        p.begin();
        p.put(Table::Users, b"a".to_vec(), &"three".to_string())
            .unwrap();
        commit(p);
        assert_eq!(read().as_deref(), Some("three"));
        let mut p = Pending::new(&trees);
        p.begin();
        p.put(Table::Users, b"a".to_vec(), &"four".to_string())
            .unwrap();
        p.rollback();
        commit(p);
        assert_eq!(read().as_deref(), Some("three"));
        let mut p = Pending::new(&trees);
        p.begin();
        p.delete(Table::Users, b"a".to_vec());
        commit(p);
        assert_eq!(read(), None);
        assert!(trees.tree(Table::Users).get(b"a").unwrap().is_none());
        // Raw values (bitfields) follow the same rules.
        let raw = || Pending::new(&trees).get_raw(Table::Avail, b"bits").unwrap();
        assert_eq!(raw(), None);
        let mut p = Pending::new(&trees);
        p.begin();
        p.put_raw(Table::Avail, b"bits".to_vec(), vec![0b101]);
        commit(p);
        assert_eq!(raw(), Some(vec![0b101]));
        let mut w = WriteSet::new();
        w.insert((Table::Avail, b"bits".to_vec()), Some(vec![0b111]));
        trees.write_all(&w).unwrap();
        assert_eq!(raw(), Some(vec![0b111]));
    }
}
