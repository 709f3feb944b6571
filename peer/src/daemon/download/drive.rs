//! The coordinator of one download: refreshes the sources from the tracker, starts a task per
//! useful source peer, flushes the resume state, gives up on a stall or on the first failed
//! write, and when every chunk is in, syncs the file, renames it into place and seeds it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use proto::ApiError;

use super::lookup::fetch_sources;
use super::{bytes_to_bits, fetch, part, store, DataPath, DownloadHandle};
use crate::control::DownloadState;
use crate::daemon::shares::{Fingerprint, ShareEntry};
use crate::daemon::Daemon;
use crate::error::DownloadError;
use crate::home::write_json_private;
use crate::io_buf::BufPool;
use crate::scheduler::PeerKey;

/// How often sources (and the chunks partial seeders hold) are refreshed from the tracker: stale
/// holdings make downloaders ask the original seeder for chunks the swarm already has.
const REFRESH_EVERY: Duration = Duration::from_millis(250);
/// Give up after this long without any source or progress.
const STALL_LIMIT: Duration = Duration::from_secs(120);
/// Most chunks being hashed and written at once.
const VERIFY_SLOTS: usize = 8;
/// Fewest, whatever the chunk size.
const MIN_VERIFY_SLOTS: usize = 2;
/// Chunk bytes the verify slots may hold together: the slots shrink for large chunks (the
/// default chunk size grows with the file, to 64 MiB), so memory stays bounded.
const VERIFY_BUDGET_BYTES: usize = 128 << 20;

/// Verify slots for chunks of `chunk_bytes`: [`VERIFY_SLOTS`] up to 16 MiB chunks, then as many
/// as fit [`VERIFY_BUDGET_BYTES`], at least [`MIN_VERIFY_SLOTS`].
fn verify_slots(chunk_bytes: usize) -> usize {
    (VERIFY_BUDGET_BYTES / chunk_bytes.max(1)).clamp(MIN_VERIFY_SLOTS, VERIFY_SLOTS)
}

/// Drives one download to completion or failure.
pub(super) async fn run(daemon: Arc<Daemon>, handle: Arc<DownloadHandle>) {
    let outcome = drive(&daemon, &handle).await;
    match outcome {
        Ok(()) => {
            tracing::info!(id = %handle.id, name = %handle.name, "download complete and verified");
            handle.set_state(DownloadState::Complete);
        }
        Err(DownloadError::Cancelled) => {
            tracing::info!(id = %handle.id, name = %handle.name, "download cancelled");
            let part_path = handle.part.clone();
            let removed = tokio::task::spawn_blocking(move || part::remove_stale(&part_path)).await;
            if let Ok(Err(e)) = removed {
                tracing::warn!(%e, "cannot remove the cancelled download's .part file");
            }
            handle.set_state(DownloadState::Cancelled);
        }
        Err(why) => {
            if matches!(why, DownloadError::Unpublished { .. }) {
                // Nothing will ever complete it: the file is gone from the group.
                let part_path = handle.part.clone();
                let removed =
                    tokio::task::spawn_blocking(move || part::remove_stale(&part_path)).await;
                if let Ok(Err(e)) = removed {
                    tracing::warn!(%e, "cannot remove the unpublished download's .part file");
                }
            }
            tracing::warn!(id = %handle.id, name = %handle.name, %why, "download failed");
            handle.set_state(DownloadState::Failed(why.to_string()));
        }
    }
    let path = daemon
        .home
        .partial_dir()
        .join(format!("{}.json", handle.id));
    if let Err(e) = write_json_private(&path, &handle.record()) {
        tracing::warn!(%e, "cannot record the download's final state");
    }
}

async fn drive(daemon: &Arc<Daemon>, h: &Arc<DownloadHandle>) -> Result<(), DownloadError> {
    let part_path = h.part.clone();
    let file = tokio::task::spawn_blocking(move || part::open_checked(&part_path, true)).await??;
    let chunk_bytes = usize::try_from(h.manifest.chunk_size_bytes).unwrap_or(usize::MAX);
    let slots = verify_slots(chunk_bytes);
    // Free buffers kept for reuse: enough for the verify slots and as many chunks being received.
    let io = Arc::new(DataPath {
        file,
        pool: BufPool::new(chunk_bytes, 2 * slots),
        slots: Arc::new(Semaphore::new(slots)),
    });
    let mut peer_tasks: HashMap<PeerKey, tokio::task::JoinHandle<()>> = HashMap::new();
    let fetched = fetch_all(daemon, h, &io, &mut peer_tasks).await;
    for (_, t) in peer_tasks {
        t.abort();
    }
    // Wait for in-flight verifications to finish writing.
    let _ = io
        .slots
        .acquire_many(u32::try_from(slots).unwrap_or(u32::MAX))
        .await;
    h.changed.notify_waiters();
    fetched?;
    // A write that failed while the last chunks came in (an end-game duplicate) ends it too.
    if let Some(why) = h.take_failure() {
        return Err(why);
    }
    let disk = io.clone();
    let part_path = h.part.clone();
    tokio::task::spawn_blocking(move || disk.file.sync_all())
        .await?
        .map_err(|source| DownloadError::from_sync(&h.dest, &part_path, source))?;
    store::flush_resume(daemon, h, &io).await?;
    let disk = io.clone();
    let (part_path, dest) = (h.part.clone(), h.dest.clone());
    tokio::task::spawn_blocking(move || part::move_into_place(&part_path, disk.file.file(), &dest))
        .await??;
    let fingerprint =
        Fingerprint::of(&h.dest).map_err(|source| DownloadError::ReadDestination {
            path: h.dest.clone(),
            source,
        })?;
    daemon.shares.insert_verified(ShareEntry {
        group: h.group.clone(),
        name: h.name.clone(),
        path: h.dest.clone(),
        manifest: h.manifest.clone(),
        fingerprint,
    })?;
    Ok(())
}

/// Fetches until every chunk is in: refreshes the sources, starts a task per useful source,
/// flushes the resume state. Ends early with the first error a task hit
/// ([`DownloadHandle::fail`]), a replaced file, a failed resume flush, or a stall.
async fn fetch_all(
    daemon: &Arc<Daemon>,
    h: &Arc<DownloadHandle>,
    io: &Arc<DataPath>,
    peer_tasks: &mut HashMap<PeerKey, tokio::task::JoinHandle<()>>,
) -> Result<(), DownloadError> {
    let mut last_progress = (Instant::now(), h.bytes_done.load(Ordering::Relaxed));
    let mut next_refresh = Instant::now();
    let mut last_flush = Instant::now();
    loop {
        h.sample_speed();
        if let Some(why) = h.take_failure() {
            return Err(why);
        }
        if h.sched.is_complete() {
            return Ok(());
        }
        if Instant::now() >= next_refresh {
            next_refresh = Instant::now() + REFRESH_EVERY;
            match fetch_sources(daemon, &h.group, &h.name).await {
                Ok((manifest, sources, t)) => {
                    if manifest != h.manifest {
                        return Err(DownloadError::FileReplaced);
                    }
                    if let Ok(mut slot) = h.ticket.lock() {
                        *slot = Some(t);
                    }
                    for src in sources {
                        if src.peer_id == daemon.peer_id {
                            continue;
                        }
                        let bits = bytes_to_bits(&src.bitfield, h.manifest.chunk_hashes.len());
                        let useful = h.sched.set_peer_bitfield(src.peer_id, bits);
                        let running = peer_tasks
                            .get(&src.peer_id)
                            .is_some_and(|t| !t.is_finished());
                        tracing::debug!(
                            peer = src.peer_id,
                            held = src.bitfield.iter().map(|b| b.count_ones()).sum::<u32>(),
                            useful,
                            running,
                            "source"
                        );
                        let refused_key = h
                            .wrong_keys
                            .lock()
                            .map(|w| w.get(&src.peer_id) == Some(&src.peer_key))
                            .unwrap_or(false);
                        if useful && !running && !refused_key {
                            let task = tokio::spawn(fetch::task_peer(
                                daemon.clone(),
                                h.clone(),
                                io.clone(),
                                src.peer_id,
                                fetch::SourceAddr {
                                    addr: src.addr.clone(),
                                    key: src.peer_key,
                                },
                            ));
                            peer_tasks.insert(src.peer_id, task);
                        }
                    }
                    h.changed.notify_waiters();
                }
                Err(DownloadError::Tracker(ApiError::FileNotFound { .. })) => {
                    // The file was there when the download started: it was unpublished.
                    return Err(DownloadError::Unpublished {
                        group: h.group.clone(),
                        name: h.name.clone(),
                    });
                }
                Err(e) => tracing::warn!(%e, "could not refresh sources"),
            }
        }
        if last_flush.elapsed() >= Duration::from_secs(1) && h.unflushed.load(Ordering::Relaxed) > 0
        {
            store::flush_resume(daemon, h, io).await?;
            last_flush = Instant::now();
        }
        let done = h.bytes_done.load(Ordering::Relaxed);
        if done != last_progress.1 {
            last_progress = (Instant::now(), done);
        } else if last_progress.0.elapsed() > STALL_LIMIT {
            return Err(DownloadError::Stalled { after: STALL_LIMIT });
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), h.changed.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_chunks_get_fewer_verify_slots() {
        assert_eq!(verify_slots(512 << 10), VERIFY_SLOTS);
        assert_eq!(verify_slots(16 << 20), VERIFY_SLOTS);
        assert_eq!(verify_slots(32 << 20), 4);
        assert_eq!(verify_slots(64 << 20), MIN_VERIFY_SLOTS);
        assert_eq!(verify_slots(0), VERIFY_SLOTS);
    }
}
