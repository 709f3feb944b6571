//! [`SnapshotExports`]: the one snapshot export a node holds at a time, for an operator's
//! `cluster snapshot save`. Beginning one writes a consistent image of the state machine
//! ([`StateView::export_image`]) into a temporary file under the data directory; the operator
//! reads it in bounded chunks and ends it, which deletes the file. An export nobody has read for
//! [`IDLE_TIMEOUT`] is deleted too, and a restart deletes whatever a crash left.
//!
//! The caller (`api::snapshot`) checks the credential and, for a leader's export, the leadership
//! and a read barrier before [`SnapshotExports::begin`].

use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use proto::tracker_msg::{SnapshotInfo, MAX_SNAPSHOT_CHUNK_BYTES};
use proto::ApiError;

use super::state::StateView;

/// An export not read for this long is deleted.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Name of the directory, under the data directory, that holds the export's file.
const EXPORT_DIR: &str = "snapshot-exports";

/// Buffer of the file writer while the image is taken (apply waits for the whole write).
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// The slot's states.
enum Slot {
    /// No export.
    Empty,
    /// An image is being written.
    Taking,
    /// An export ready to read.
    Ready(Export),
}

/// A finished export.
struct Export {
    /// What it holds.
    info: SnapshotInfo,
    /// Its file.
    path: PathBuf,
    /// The open file, shared with the reads in flight.
    file: Arc<std::fs::File>,
    /// The last begin or read.
    last_used: Instant,
}

/// The node's export slot. Clones share it.
#[derive(Clone)]
pub struct SnapshotExports {
    /// Where export files go.
    dir: PathBuf,
    /// One export at a time.
    slot: Arc<Mutex<Slot>>,
    /// How long an unread export lives.
    idle_timeout: Duration,
}

impl SnapshotExports {
    /// The slot of the node whose data directory is `data_dir`; deletes any export file a
    /// previous run left.
    pub fn new(data_dir: &Path) -> Self {
        Self::with_idle_timeout(data_dir, IDLE_TIMEOUT)
    }

    /// [`SnapshotExports::new`] with another idle timeout (tests).
    pub fn with_idle_timeout(data_dir: &Path, idle_timeout: Duration) -> Self {
        let dir = data_dir.join(EXPORT_DIR);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::info!(dir = %dir.display(), "deleted a snapshot export left by the last run")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), %e, "cannot delete old snapshot exports")
            }
        }
        SnapshotExports {
            dir,
            slot: Arc::new(Mutex::new(Slot::Empty)),
            idle_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes an image of `state` into a new export file and answers what it holds.
    ///
    /// # Errors
    /// `Unavailable` while another export is under way or ready (one per node); `Internal` if
    /// the file cannot be written.
    pub async fn begin(
        &self,
        state: &StateView,
        node_id: u64,
        local: bool,
    ) -> Result<SnapshotInfo, ApiError> {
        {
            let mut slot = self.lock();
            match &*slot {
                Slot::Empty => {}
                Slot::Ready(e) if e.last_used.elapsed() >= self.idle_timeout => {
                    remove_file(&e.path);
                }
                Slot::Ready(e) => {
                    return Err(ApiError::Unavailable(format!(
                        "snapshot export {} is under way on node {node_id}; retry once it ends \
                         (an unread one is dropped after {}s)",
                        e.info.id,
                        self.idle_timeout.as_secs()
                    )))
                }
                Slot::Taking => {
                    return Err(ApiError::Unavailable(format!(
                        "node {node_id} is taking a snapshot export; retry once it ends"
                    )))
                }
            }
            *slot = Slot::Taking;
        }
        // In a task of its own, so the slot is settled even if the request is dropped meanwhile
        // (an export nobody reads is then reaped when idle).
        tokio::spawn(self.clone().take(state.clone(), node_id, local))
            .await
            .unwrap_or_else(|e| {
                *self.lock() = Slot::Empty;
                Err(ApiError::Internal(format!(
                    "snapshot export task failed: {e}"
                )))
            })
    }

    /// Writes the export of a claimed slot and fills the slot (or empties it on an error).
    async fn take(
        self,
        state: StateView,
        node_id: u64,
        local: bool,
    ) -> Result<SnapshotInfo, ApiError> {
        let id: u64 = rand::random();
        let path = self.dir.join(format!("export-{id:016x}.img"));
        let taken = {
            let (dir, path) = (self.dir.clone(), path.clone());
            tokio::task::spawn_blocking(move || write_export(&state, &dir, &path)).await
        };
        let taken = match taken {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                remove_file(&path);
                *self.lock() = Slot::Empty;
                return Err(e);
            }
            Err(e) => {
                remove_file(&path);
                *self.lock() = Slot::Empty;
                return Err(ApiError::Internal(format!(
                    "snapshot export task failed: {e}"
                )));
            }
        };
        let (exported, file) = taken;
        let applied = exported.applied;
        let info = SnapshotInfo {
            id,
            node_id,
            local,
            size_bytes: exported.size_bytes,
            applied_term: applied.map_or(0, |l| l.leader_id.term),
            applied_leader: applied.map_or(0, |l| l.leader_id.node_id),
            applied_index: applied.map_or(0, |l| l.index),
            digest: proto::tracker_msg::to_hex(&exported.digest),
        };
        *self.lock() = Slot::Ready(Export {
            info: info.clone(),
            path,
            file: Arc::new(file),
            last_used: Instant::now(),
        });
        tracing::info!(
            id,
            size = info.size_bytes,
            applied = info.applied_index,
            local,
            "snapshot export ready"
        );
        tokio::spawn(self.clone().reap_when_idle(id));
        Ok(info)
    }

    /// Deletes export `id` once it has gone unread for the idle timeout; returns as soon as the
    /// slot holds another export or none.
    async fn reap_when_idle(self, id: u64) {
        loop {
            let wait = {
                let mut slot = self.lock();
                let Slot::Ready(e) = &*slot else { return };
                if e.info.id != id {
                    return;
                }
                let idle = e.last_used.elapsed();
                if idle >= self.idle_timeout {
                    tracing::info!(id, "snapshot export not read for long; deleted");
                    remove_file(&e.path);
                    *slot = Slot::Empty;
                    return;
                }
                self.idle_timeout - idle
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Up to `len` bytes (at most [`MAX_SNAPSHOT_CHUNK_BYTES`]) of export `id` from `offset`;
    /// empty at the end.
    ///
    /// # Errors
    /// `InvalidRequest` for an unknown export or an offset past its end; `Internal` if the file
    /// cannot be read.
    pub async fn read(&self, id: u64, offset: u64, len: u32) -> Result<Vec<u8>, ApiError> {
        let (file, size) = {
            let mut slot = self.lock();
            match &mut *slot {
                Slot::Ready(e) if e.info.id == id => {
                    e.last_used = Instant::now();
                    (e.file.clone(), e.info.size_bytes)
                }
                _ => return Err(unknown(id)),
            }
        };
        if offset > size {
            return Err(ApiError::InvalidRequest(format!(
                "offset {offset} is past the end of snapshot export {id} ({size} bytes)"
            )));
        }
        let want = u64::from(len.min(MAX_SNAPSHOT_CHUNK_BYTES)).min(size - offset);
        let want = usize::try_from(want).unwrap_or(0);
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; want];
            file.read_exact_at(&mut buf, offset).map(|()| buf)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("snapshot read task failed: {e}")))?
        .map_err(|e| ApiError::Internal(format!("cannot read snapshot export {id}: {e}")))
    }

    /// Ends export `id` and deletes its file; ending an unknown export is not an error (it may
    /// have timed out, or this is a retry).
    pub fn end(&self, id: u64) {
        let mut slot = self.lock();
        if let Slot::Ready(e) = &*slot {
            if e.info.id == id {
                remove_file(&e.path);
                *slot = Slot::Empty;
                tracing::info!(id, "snapshot export ended");
            }
        }
    }
}

fn unknown(id: u64) -> ApiError {
    ApiError::InvalidRequest(format!(
        "no snapshot export {id} on this node: it ended, went unread for too long, or was begun \
         on another node"
    ))
}

/// Creates the export file and writes the image into it.
fn write_export(
    state: &StateView,
    dir: &Path,
    path: &Path,
) -> Result<(crate::store::image::Exported, std::fs::File), ApiError> {
    let io = |e: std::io::Error| {
        ApiError::Internal(format!(
            "cannot write the snapshot export {}: {e}",
            path.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Owner-only: the state holds password hashes, session tokens and the ticket signing key.
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
    let exported = state
        .export_image(&mut out)
        .map_err(|e| ApiError::Internal(format!("cannot take the snapshot image: {e}")))?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    Ok((exported, file))
}

fn remove_file(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %e, "cannot delete a snapshot export");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kv::Table;
    use crate::store::trees::WriteSet;
    use crate::store::StateMachine;

    fn state(dir: &Path) -> (sled::Db, StateView) {
        let db = crate::store::open_db(&dir.join("db"), 4 << 20).unwrap();
        let sm = StateMachine::open(&db).unwrap();
        let mut w = WriteSet::new();
        // A little over 1 MiB, so one chunk cannot hold it all.
        for i in 0..1100u32 {
            w.insert(
                (Table::Users, format!("user-{i:04}").into_bytes()),
                Some(vec![7u8; 1000]),
            );
        }
        sm.trees().write_all(&w).unwrap();
        let view = StateView::new(sm.trees().clone());
        (db, view)
    }

    async fn read_all(exports: &SnapshotExports, id: u64, chunk: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let got = exports.read(id, out.len() as u64, chunk).await.unwrap();
            if got.is_empty() {
                return out;
            }
            assert!(got.len() <= chunk as usize);
            out.extend_from_slice(&got);
        }
        panic!("the export did not end");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_export_reads_back_in_chunks_one_at_a_time_and_ending_deletes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, view) = state(dir.path());
        let exports = SnapshotExports::new(dir.path());
        let info = exports.begin(&view, 4, false).await.unwrap();
        assert_eq!(info.node_id, 4);
        let second = exports.begin(&view, 4, true).await;
        assert!(
            matches!(second, Err(ApiError::Unavailable(_))),
            "{second:?}"
        );
        let capped = exports.read(info.id, 0, u32::MAX).await.unwrap();
        assert_eq!(capped.len(), MAX_SNAPSHOT_CHUNK_BYTES as usize);
        let bytes = read_all(&exports, info.id, 64 << 10).await;
        assert_eq!(bytes.len() as u64, info.size_bytes);
        assert_eq!(
            proto::tracker_msg::to_hex(&{
                use sha1::Digest;
                <[u8; 20]>::from(sha1::Sha1::digest(&bytes))
            }),
            info.digest
        );
        assert_eq!(info.digest, view.stable_digest().unwrap());
        let past = exports.read(info.id, info.size_bytes + 1, 10).await;
        assert!(matches!(past, Err(ApiError::InvalidRequest(_))), "{past:?}");
        let files = dir.path().join(EXPORT_DIR);
        let entries: Vec<_> = std::fs::read_dir(&files).unwrap().collect();
        assert_eq!(entries.len(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = entries[0]
            .as_ref()
            .unwrap()
            .metadata()
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "an export is readable by others: {mode:o}");
        exports.end(info.id);
        assert_eq!(std::fs::read_dir(&files).unwrap().count(), 0);
        let gone = exports.read(info.id, 0, 10).await;
        assert!(matches!(gone, Err(ApiError::InvalidRequest(_))), "{gone:?}");
        // The slot is free again.
        let next = exports.begin(&view, 4, false).await.unwrap();
        assert_ne!(next.id, info.id);
    }

    // On one thread the task taking the image cannot run before the request is dropped.
    #[tokio::test(flavor = "current_thread")]
    async fn a_begin_dropped_while_the_image_is_taken_still_settles_the_slot() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, view) = state(dir.path());
        let exports = SnapshotExports::with_idle_timeout(dir.path(), Duration::from_millis(300));
        // Dropped at its first await: the slot is claimed and the image is being written.
        let dropped = tokio::time::timeout(Duration::ZERO, exports.begin(&view, 1, false)).await;
        assert!(dropped.is_err());
        // The slot ends up ready (then reaped when idle), never stuck taking.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match exports.begin(&view, 1, false).await {
                Ok(_) => break,
                Err(ApiError::Unavailable(m)) => {
                    assert!(Instant::now() < deadline, "the slot stayed busy: {m}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unread_export_is_deleted_after_the_idle_timeout_and_a_restart_deletes_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, view) = state(dir.path());
        let exports = SnapshotExports::with_idle_timeout(dir.path(), Duration::from_millis(200));
        let info = exports.begin(&view, 1, false).await.unwrap();
        let files = dir.path().join(EXPORT_DIR);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_dir(&files).unwrap().count() > 0 {
            assert!(Instant::now() < deadline, "the idle export was not deleted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(exports.read(info.id, 0, 1).await.is_err());

        // A file left behind (a crash) is deleted when the node starts again.
        let kept = SnapshotExports::new(dir.path());
        kept.begin(&view, 1, false).await.unwrap();
        assert_eq!(std::fs::read_dir(&files).unwrap().count(), 1);
        let _restarted = SnapshotExports::new(dir.path());
        assert!(!files.exists());
    }
}
