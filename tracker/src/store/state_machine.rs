//! openraft's state machine on sled: applies committed entries through the domain (which also
//! deduplicates client writes), captures and installs snapshots (stored by [`super::snapshot`]).
//!
//! Each `apply` batch runs every command through [`crate::domain::apply`] on a [`Pending`]
//! overlay and stages all of its writes, the client table and `last_applied` ([`super::staged`]);
//! every few batches the staged writes are drained into the trees as one crash-atomic write
//! ([`super::undo`]). Nothing is flushed on its own: sled recovers a prefix of its writes after a
//! crash, and the log (flushed before commit) still holds whatever the state machine lost, which
//! openraft applies again from the stored `last_applied` on restart. A snapshot drains first, so
//! the log is never purged past what the trees hold.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, SnapshotMeta, StorageIOError, StoredMembership,
};

use super::follower_apply::FollowerApplier;
use super::image;
use super::overlay::{Committed, Pending};
use super::sm_trees::SmTrees;
use super::snapshot::{snap_err, AppliedState, SnapshotBuilder, Snapshots, StoredSnapshot};
use super::trees::WriteSet;
use super::undo::{self, Recovery};
use crate::cmd::BatchResult;
use crate::domain::apply::apply_cmd;
use crate::domain::kv::{encode_record, KvRead, KvWrite, StoreError, Table};
use crate::raft_types::{NodeId, NodeInfo, StorageError, TypeConfig};

use super::sm_trees::{KEY_LAST_APPLIED, KEY_MEMBERSHIP};

/// The state machine. Clones share the same trees.
#[derive(Clone)]
pub struct StateMachine {
    /// State-machine tables.
    trees: SmTrees,
    /// The stored snapshot.
    snapshots: Snapshots,
    /// Runs a follower's applies at low priority.
    follower: FollowerApplier,
}

fn sm_read_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageIOError::read_state_machine(e).into()
}

fn sm_write_err(e: &(impl std::error::Error + 'static)) -> StorageError {
    StorageIOError::write_state_machine(e).into()
}

impl StateMachine {
    /// Opens the state-machine trees of `db`, rolls back a drain a crash cut off and finishes a
    /// snapshot install a crash interrupted.
    ///
    /// # Errors
    /// sled errors, or a corrupt undo record or stored snapshot.
    pub fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let sm = StateMachine {
            trees: SmTrees::open(db)?,
            snapshots: Snapshots::open(db)?,
            follower: FollowerApplier::default(),
        };
        if undo::recover(sm.trees.plain())? == Recovery::RedoInstall {
            let corrupt = |reason: String| StoreError::Corrupt {
                table: Table::Meta,
                reason,
            };
            let stored = sm
                .snapshots
                .current()
                .map_err(|e| corrupt(e.to_string()))?
                .ok_or_else(|| {
                    corrupt("an install was under way but no snapshot is stored".into())
                })?;
            tracing::warn!(
                snapshot = %stored.meta.snapshot_id,
                "a snapshot install was interrupted; installing it again"
            );
            sm.write_image(&stored.meta, &stored.data)?;
            undo::end_install(sm.trees.plain())?;
        }
        Ok(sm)
    }

    /// Replaces every data table with the snapshot image `data` and sets the applied state to
    /// `meta`'s.
    fn write_image(
        &self,
        meta: &SnapshotMeta<NodeId, NodeInfo>,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let mut writes = WriteSet::new();
        let view = Committed(&self.trees);
        for table in Table::DATA {
            for (k, _) in view.scan_raw(table, b"")? {
                writes.insert((table, k), None);
            }
        }
        for (table, entries) in image::parse(data)? {
            for (k, v) in entries {
                writes.insert((table, k), Some(v));
            }
        }
        let applied = match meta.last_log_id {
            Some(id) => Some(encode_record(Table::Meta, &id)?),
            None => None,
        };
        writes.insert((Table::Meta, KEY_LAST_APPLIED.to_vec()), applied);
        writes.insert(
            (Table::Meta, KEY_MEMBERSHIP.to_vec()),
            Some(encode_record(Table::Meta, &meta.last_membership)?),
        );
        self.trees.write_all(&writes)?;
        Ok(())
    }

    /// Set to whether this node follows; a follower's applies run at low priority.
    pub fn following_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.follower.following_flag()
    }

    /// The tables, for the read path and the digest.
    pub fn trees(&self) -> &SmTrees {
        &self.trees
    }

    /// Last applied log id and membership as stored.
    ///
    /// # Errors
    /// sled or decode errors.
    pub fn stored_applied(&self) -> Result<AppliedState, StoreError> {
        let view = Committed(&self.trees);
        let applied = view.get::<LogId<NodeId>>(Table::Meta, KEY_LAST_APPLIED)?;
        let membership = view
            .get::<StoredMembership<NodeId, NodeInfo>>(Table::Meta, KEY_MEMBERSHIP)?
            .unwrap_or_default();
        Ok((applied, membership))
    }

    /// Applies committed entries as one batch, staged whole, and returns each entry's results.
    fn apply_entries(
        &self,
        entries: Vec<Entry<TypeConfig>>,
    ) -> Result<Vec<BatchResult>, StorageError> {
        let mut pending = Pending::new(&self.trees);
        let mut results = Vec::new();
        let mut last_applied = None;
        let mut membership = None;
        for entry in entries {
            last_applied = Some(entry.log_id);
            match &entry.payload {
                EntryPayload::Blank => results.push(BatchResult::default()),
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                    results.push(BatchResult::default());
                }
                EntryPayload::Normal(batch) => {
                    let cmds = batch
                        .decode()
                        .map_err(|e| StorageError::from(StorageIOError::apply(entry.log_id, &e)))?;
                    let mut replies = Vec::with_capacity(cmds.len());
                    for cmd in &cmds {
                        replies.push(apply_cmd(&mut pending, cmd).map_err(|e| {
                            StorageError::from(StorageIOError::apply(entry.log_id, &e))
                        })?);
                    }
                    results.push(BatchResult(replies));
                }
            }
        }
        if let Some(id) = last_applied {
            pending
                .put(Table::Meta, KEY_LAST_APPLIED.to_vec(), &id)
                .map_err(|e| sm_write_err(&e))?;
        }
        if let Some(m) = membership {
            pending
                .put(Table::Meta, KEY_MEMBERSHIP.to_vec(), &m)
                .map_err(|e| sm_write_err(&e))?;
        }
        let (writes, decoded) = pending.into_parts();
        self.trees
            .stage(writes, decoded)
            .map_err(|e| sm_write_err(&e))?;
        Ok(results)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<AppliedState, StorageError> {
        self.stored_applied().map_err(|e| sm_read_err(&e))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchResult>, StorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Off the Raft thread: the core goes on answering AppendEntries and replicating while a
        // batch is applied; a follower's at low priority (see `follower_apply`).
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let sm = self.clone();
        if self.follower.is_following() {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.follower
                .run(Box::new(move || {
                    let _ = tx.send(sm.apply_entries(entries));
                }))
                .map_err(|e| sm_write_err(&std::io::Error::other(e)))?;
            return rx.await.map_err(|_| {
                sm_write_err(&std::io::Error::other(
                    "the follower apply thread dropped a batch",
                ))
            })?;
        }
        tokio::task::spawn_blocking(move || sm.apply_entries(entries))
            .await
            .map_err(|e| sm_write_err(&std::io::Error::other(format!("apply task failed: {e}"))))?
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Drained first: the log may be purged up to this snapshot, so the trees must hold it.
        // Off the Raft thread: a drain and a capture take tens of milliseconds under load.
        let sm = self.clone();
        let image = tokio::task::spawn_blocking(move || {
            sm.trees
                .drain()
                .and_then(|()| image::capture(&sm.trees))
                .and_then(|data| Ok((data, sm.stored_applied()?)))
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("snapshot capture task failed: {e}")));
        SnapshotBuilder::new(self.snapshots.clone(), image)
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, NodeInfo>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        // Check the image before anything changes.
        image::parse(&data).map_err(|e| snap_err(&e))?;
        // The install writes the trees directly, over an empty overlay.
        let trees = self.trees.clone();
        tokio::task::spawn_blocking(move || trees.drain())
            .await
            .map_err(|e| snap_err(&std::io::Error::other(format!("drain task failed: {e}"))))?
            .map_err(|e| snap_err(&e))?;
        // The snapshot first, then the marker: recovery redoes an install from the stored snapshot.
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.snapshots.store(&stored)?;
        undo::begin_install(self.trees.plain()).map_err(|e| snap_err(&e))?;
        self.write_image(meta, &stored.data)
            .map_err(|e| snap_err(&e))?;
        undo::end_install(self.trees.plain()).map_err(|e| snap_err(&e))?;
        self.snapshots.flush().await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.snapshots.current()?.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn one(table: Table, key: &[u8], value: Option<&[u8]>) -> WriteSet {
        let mut w = WriteSet::new();
        w.insert((table, key.to_vec()), value.map(<[u8]>::to_vec));
        w
    }

    fn blank(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Blank,
        }
    }

    #[test]
    fn applied_batches_are_seen_at_once_but_stored_only_by_a_drain() {
        use crate::store::staged::DRAIN_BATCHES;
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let applied = |sm: &StateMachine| sm.stored_applied().unwrap().0.map(|id| id.index);
        let sm = StateMachine::open(&db).unwrap();
        sm.apply_entries(vec![blank(1)]).unwrap();
        assert_eq!(applied(&sm), Some(1));
        sm.trees.drain().unwrap();
        sm.apply_entries(vec![blank(2)]).unwrap();
        assert_eq!(applied(&sm), Some(2), "a staged batch is visible at once");
        drop(sm);

        // A restart keeps what was drained; openraft applies the rest from the log again.
        let sm = StateMachine::open(&db).unwrap();
        assert_eq!(applied(&sm), Some(1));
        let last = 1 + DRAIN_BATCHES as u64;
        for i in 2..=last {
            sm.apply_entries(vec![blank(i)]).unwrap();
        }
        // The drain runs in the background: wait for it, as a live node would in time.
        sm.trees.finish_drain().unwrap();
        drop(sm);
        let sm = StateMachine::open(&db).unwrap();
        assert_eq!(
            applied(&sm),
            Some(last),
            "enough batches drain by themselves"
        );
    }

    #[test]
    fn an_export_is_the_image_at_the_staged_applied_id_and_hashes_to_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let sm = StateMachine::open(&db).unwrap();
        sm.trees
            .write_all(&one(Table::Users, b"alice", Some(b"a")))
            .unwrap();
        sm.trees
            .write_all(&one(Table::Groups, b"movies", Some(b"g")))
            .unwrap();
        // Staged, not drained: the export must see it, and its last_applied.
        sm.apply_entries(vec![blank(1), blank(2)]).unwrap();
        let mut out = Vec::new();
        let exported = image::export(&sm.trees, &mut out).unwrap();
        assert_eq!(exported.applied.map(|l| l.index), Some(2));
        assert_eq!(out, image::capture(&sm.trees).unwrap());
        assert_eq!(exported.size_bytes, out.len() as u64);
        let digest = proto::tracker_msg::to_hex(&exported.digest);
        assert_eq!(digest, image::digest(&sm.trees).unwrap());
        use sha1::Digest;
        let hashed: [u8; 20] = sha1::Sha1::digest(&out).into();
        assert_eq!(hashed, exported.digest);
    }

    #[test]
    fn reopening_after_an_interrupted_install_finishes_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let sm = StateMachine::open(&db).unwrap();
        sm.trees
            .write_all(&one(Table::Users, b"alice", Some(b"a")))
            .unwrap();
        let data = image::capture(&sm.trees).unwrap();
        // The state the install was replacing: bob instead of alice.
        sm.trees
            .write_all(&one(Table::Users, b"alice", None))
            .unwrap();
        sm.trees
            .write_all(&one(Table::Users, b"bob", Some(b"b")))
            .unwrap();
        let applied = LogId::new(CommittedLeaderId::new(1, 0), 5);
        let meta = SnapshotMeta {
            last_log_id: Some(applied),
            last_membership: StoredMembership::default(),
            snapshot_id: "1-5-0".into(),
        };
        sm.snapshots.store(&StoredSnapshot { meta, data }).unwrap();
        undo::begin_install(sm.trees.plain()).unwrap();
        drop(sm);

        let sm = StateMachine::open(&db).unwrap();
        let users = sm.trees.tree(Table::Users);
        assert_eq!(users.get(b"alice").unwrap().unwrap().as_ref(), b"a");
        assert!(users.get(b"bob").unwrap().is_none());
        assert_eq!(sm.stored_applied().unwrap().0, Some(applied));
        assert_eq!(undo::recover(sm.trees.plain()).unwrap(), Recovery::Done);
    }
}
