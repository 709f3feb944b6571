//! The port the domain owns: the tables ([`Table`]), how records are encoded ([`encode_record`],
//! [`decode_record`]), and the read and write traits ([`KvRead`], [`KvWrite`]) that the store's
//! committed view and per-batch overlay implement, and that the rules and queries are written
//! against. Nothing here names a storage engine.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Failure inside the state machine's storage: fatal for the node (openraft shuts it down).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed.
    #[error("{engine}: {source}")]
    Engine {
        /// Which engine (`sled`).
        engine: &'static str,
        /// Its error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record does not decode: the data directory is corrupt.
    #[error("corrupt record in {table:?}: {reason}")]
    Corrupt {
        /// Where.
        table: Table,
        /// What.
        reason: String,
    },
    /// Writing staged state into storage failed or could not run.
    #[error("storing the state machine: {0}")]
    Drain(String),
}

/// Key/value pairs read from a table, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One state-machine table. The discriminant is its tag in the snapshot image and the undo
/// record.
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
    /// cluster-wide settings, e.g. the ticket signing key and the quotas
    Cluster = 8,
    /// counted kind (u8) | owner -> count (u64 BE): what the quotas limit
    Counts = 9,
    /// peer id (BE) -> when it was marked offline (ms, u64 BE), for forgetting stale peers
    PeersOffline = 10,
    /// peer id (BE) | group NUL file -> empty: the availability entries of each peer
    PeerAvail = 11,
}

impl Table {
    /// Tables that hold replicated data (everything but `Meta`), in digest and snapshot order.
    pub const DATA: [Table; 11] = [
        Table::Users,
        Table::Sessions,
        Table::Groups,
        Table::Files,
        Table::Peers,
        Table::Avail,
        Table::Clients,
        Table::Cluster,
        Table::Counts,
        Table::PeersOffline,
        Table::PeerAvail,
    ];

    /// Every table, in discriminant order.
    pub const ALL: [Table; 12] = [
        Table::Users,
        Table::Sessions,
        Table::Groups,
        Table::Files,
        Table::Peers,
        Table::Avail,
        Table::Clients,
        Table::Meta,
        Table::Cluster,
        Table::Counts,
        Table::PeersOffline,
        Table::PeerAvail,
    ];

    /// Table from its snapshot tag.
    pub fn from_tag(tag: u8) -> Option<Table> {
        Table::ALL.get(usize::from(tag)).copied()
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
    /// Storage errors.
    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Calls `f` with the value under `key` (`None` if there is none), borrowed where the store
    /// allows, so a caller that needs only the start of a large record (a manifest's head) does
    /// not copy all of it. The default copies ([`KvRead::get_raw`]).
    ///
    /// # Errors
    /// Storage errors.
    fn with_raw<R>(
        &self,
        table: Table,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError>
    where
        Self: Sized,
    {
        Ok(f(self.get_raw(table, key)?.as_deref()))
    }

    /// Every entry whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// Storage errors.
    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError>;

    /// One page of [`KvRead::scan_raw`]: at most `limit` entries (0 counts as 1) whose keys
    /// follow `after` (a key under `prefix`, the last of the previous page; `None` for the
    /// first page). Returns the entries and, when the page is full, its last key (more may
    /// follow); `None` when the scan ended within the page.
    ///
    /// The default scans everything and keeps the page; the committed tables override it with a
    /// scan that reads only the page.
    ///
    /// # Errors
    /// Storage errors.
    fn scan_page(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Entries, Option<Vec<u8>>), StoreError> {
        let limit = limit.max(1);
        let page: Entries = self
            .scan_raw(table, prefix)?
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_slice() > a))
            .take(limit)
            .collect();
        let next = (page.len() == limit).then(|| page[limit - 1].0.clone());
        Ok((page, next))
    }

    /// Reads and decodes a record.
    ///
    /// # Errors
    /// Storage errors, or [`StoreError::Corrupt`] if it does not decode.
    fn get<T: Record>(&self, table: Table, key: &[u8]) -> Result<Option<T>, StoreError>
    where
        Self: Sized,
    {
        self.with_raw(table, key, |bytes| {
            bytes.map(|b| decode_record(table, b)).transpose()
        })?
    }
}

/// Write access for the rules: the writes of one operation, which [`KvWrite::rollback`] undoes
/// when the operation is refused. Reads see the writes made so far.
pub trait KvWrite: KvRead {
    /// Stores a record.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if it cannot be encoded.
    fn put<T: Serialize + Record>(
        &mut self,
        table: Table,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), StoreError>;

    /// Stores raw bytes (values that are not records, such as availability bitfields).
    fn put_raw(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>);

    /// Deletes a key.
    fn delete(&mut self, table: Table, key: Vec<u8>);

    /// Starts a new operation: a later [`KvWrite::rollback`] undoes only what follows.
    fn begin(&mut self);

    /// Undoes every write since the last [`KvWrite::begin`] (a refused operation leaves no trace).
    fn rollback(&mut self);
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
