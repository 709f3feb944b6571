//! Stored snapshots: the latest one sits in the `snapshot` tree under `current`
//! ([`Snapshots`]), and [`SnapshotBuilder`] turns an image captured between two applies into
//! one.
//!
//! Snapshots are stored as `meta length (u32 BE) | bincode meta | image`, so a large image does
//! not go through bincode's size limit.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::Snapshot;
use openraft::{LogId, RaftSnapshotBuilder, SnapshotMeta, StorageIOError, StoredMembership};

use crate::raft_types::{NodeId, NodeInfo, StorageError, TypeConfig};

/// Key of the latest snapshot in the `snapshot` tree.
const KEY_CURRENT_SNAPSHOT: &[u8] = b"current";

/// Last applied log id and membership.
pub type AppliedState = (Option<LogId<NodeId>>, StoredMembership<NodeId, NodeInfo>);

/// A snapshot as stored.
pub struct StoredSnapshot {
    /// What it covers.
    pub meta: SnapshotMeta<NodeId, NodeInfo>,
    /// The state-machine image ([`super::image`]).
    pub data: Vec<u8>,
}

/// A snapshot error as openraft takes it.
pub fn snap_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageIOError::write_snapshot(None, e).into()
}

/// A read error as openraft takes it.
fn read_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageIOError::read_state_machine(e).into()
}

/// The stored snapshot and what is needed to store the next one. Clones share everything.
#[derive(Clone)]
pub struct Snapshots {
    /// The node's database (flushed after a snapshot is stored).
    db: sled::Db,
    /// The latest snapshot (`current`).
    tree: sled::Tree,
    /// Makes snapshot ids unique within this process.
    counter: Arc<AtomicU64>,
}

impl Snapshots {
    /// Opens the `snapshot` tree of `db`.
    ///
    /// # Errors
    /// sled errors.
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Snapshots {
            db: db.clone(),
            tree: db.open_tree("snapshot")?,
            counter: Arc::default(),
        })
    }

    /// The latest stored snapshot, if any.
    ///
    /// # Errors
    /// sled errors, or a stored snapshot that does not decode.
    pub fn current(&self) -> Result<Option<StoredSnapshot>, StorageError> {
        match self
            .tree
            .get(KEY_CURRENT_SNAPSHOT)
            .map_err(|e| read_err(&e))?
        {
            Some(bytes) => {
                let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                crate::counters::COUNTERS
                    .snapshot_bytes
                    .store(len, Ordering::Relaxed);
                decode_snapshot(&bytes).map(Some).map_err(|e| read_err(&e))
            }
            None => Ok(None),
        }
    }

    /// Stores `snapshot` as the latest one (not flushed: see [`Snapshots::flush`]).
    ///
    /// # Errors
    /// sled errors, or a meta that cannot be encoded.
    pub fn store(&self, snapshot: &StoredSnapshot) -> Result<(), StorageError> {
        let bytes = encode_snapshot(snapshot).map_err(|e| snap_err(&e))?;
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        crate::counters::COUNTERS
            .snapshot_bytes
            .store(len, Ordering::Relaxed);
        self.tree
            .insert(KEY_CURRENT_SNAPSHOT, bytes)
            .map_err(|e| snap_err(&e))?;
        Ok(())
    }

    /// Flushes the database.
    ///
    /// # Errors
    /// sled errors.
    pub async fn flush(&self) -> Result<(), StorageError> {
        self.db.flush_async().await.map_err(|e| snap_err(&e))?;
        Ok(())
    }

    /// A new snapshot id: `term-index-n`, unique within this process.
    fn next_id(&self, last_applied: Option<LogId<NodeId>>) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, n),
            None => format!("0-0-{n}"),
        }
    }
}

/// `meta length (u32 BE) | bincode meta | image`.
fn encode_snapshot(s: &StoredSnapshot) -> Result<Vec<u8>, proto::frame::FrameError> {
    let meta = proto::frame::encode(&s.meta)?;
    let mut out = Vec::with_capacity(4 + meta.len() + s.data.len());
    let meta_len = u32::try_from(meta.len())
        .map_err(|_| proto::frame::FrameError::Malformed("meta too large".into()))?;
    out.extend_from_slice(&meta_len.to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(&s.data);
    Ok(out)
}

/// Parses a stored snapshot ([`encode_snapshot`]'s format).
///
/// # Errors
/// [`proto::frame::FrameError::Malformed`] if it is truncated or its meta does not decode.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<StoredSnapshot, proto::frame::FrameError> {
    let bad = || proto::frame::FrameError::Malformed("truncated stored snapshot".into());
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .ok_or_else(bad)?
        .try_into()
        .map_err(|_| bad())?;
    let meta_len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| bad())?;
    let meta_bytes = bytes.get(4..4 + meta_len).ok_or_else(bad)?;
    let meta = proto::frame::decode(meta_bytes)?;
    let data = bytes.get(4 + meta_len..).ok_or_else(bad)?.to_vec();
    Ok(StoredSnapshot { meta, data })
}

/// A point-in-time image captured between two applies, turned into a snapshot later.
pub struct SnapshotBuilder {
    /// Where the snapshot is stored.
    snapshots: Snapshots,
    /// The captured image with its applied state, or why capturing failed.
    image: Result<(Vec<u8>, AppliedState), String>,
}

impl SnapshotBuilder {
    /// A builder of `image`, stored in `snapshots`.
    pub fn new(snapshots: Snapshots, image: Result<(Vec<u8>, AppliedState), String>) -> Self {
        SnapshotBuilder { snapshots, image }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let (data, (last_applied, membership)) = self
            .image
            .clone()
            .map_err(|e| snap_err(&std::io::Error::other(e)))?;
        let meta = SnapshotMeta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id: self.snapshots.next_id(last_applied),
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        self.snapshots.store(&stored)?;
        self.snapshots.flush().await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    #[test]
    fn a_stored_snapshot_round_trips_and_a_truncated_one_is_an_error() {
        let meta = SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(2, 0), 9)),
            last_membership: StoredMembership::default(),
            snapshot_id: "2-9-0".into(),
        };
        let bytes = encode_snapshot(&StoredSnapshot {
            meta: meta.clone(),
            data: b"image".to_vec(),
        })
        .unwrap();
        let back = decode_snapshot(&bytes).unwrap();
        assert_eq!((back.meta, back.data), (meta, b"image".to_vec()));
        for cut in 0..bytes.len() - 5 {
            assert!(decode_snapshot(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }
}
