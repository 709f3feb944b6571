//! A verified chunk's way to disk, and the resume file that claims it.
//!
//! # When a chunk is announced, and when it is fsynced
//! A chunk is announced *before* its data is fsynced. [`verify_and_store`] checks the SHA-1,
//! writes the chunk at its offset (`pwrite`, direct or buffered, no fsync) and marks it held in
//! the scheduler; from that moment the seeder serves it to other peers (peers learn who holds
//! what from the tracker, there is no Have message between peers), and it is queued for the
//! batched `ReportHave` to the tracker (normally sent within 100 ms, see
//! [`crate::daemon::reporter`]).
//! The fsync comes later: the coordinator calls [`flush_resume`] at most once a second while
//! chunks arrive (`fdatasync` of the `.part` file, then the `.bits` file, itself written
//! atomically with an fsync), and once more after `sync_all` when the last chunk is in, before
//! the file is renamed into place and seeded as a whole. So a chunk is announced up to about a
//! second, plus the fsync's own time, before the fsync that covers it. (`fdatasync` covers the
//! file, not one descriptor: it also flushes what was written through the direct descriptor.)
//!
//! What a crash can do, and why it is safe:
//! - The daemon dies (SIGKILL, panic) but the machine stays up: nothing is lost. Every write
//!   had returned, so its data is in the page cache or on the device, and the kernel keeps it.
//!   The `.bits` file lags behind (it is written about once a second); the chunks it does not
//!   claim yet are fetched again after the restart.
//! - The machine crashes or loses power before the fsync: the chunks announced since the last
//!   fsync may be missing from the file (zeros, older bytes, or part of a chunk). The `.bits`
//!   file never claims them (it lists only chunks written before the fsync that precedes it,
//!   and every chunk it claims is hashed again on restart anyway), so the restarted download
//!   fetches them again. The tracker, though, keeps saying this peer holds them (`ReportHave` is a
//!   replicated write and nothing withdraws a single chunk) until it really does again.
//! - That stale claim is never a correctness problem: a claim is only a hint for scheduling.
//!   Every downloader checks every chunk against the SHA-1 in the manifest before writing it,
//!   and the restarted peer serves only chunks whose hash it checked since its restart (its
//!   scheduler starts from the re-verified bits), answering `NotAvailable` for the others; the
//!   asker requeues the chunk with someone else. The cost is a wasted request per asker per
//!   source refresh until the chunk is back. Chunks served before the crash were right: a chunk
//!   is served only after its write returned, and the receiver checks its hash.
//! - Announcing after the fsync instead would hold each chunk back from the swarm for up to
//!   the fsync interval (or cost an fsync per chunk), on the path whose speed the `bench
//!   transfer` figures measure.
//!
//! # When a write or a sync fails (a full disk)
//! A chunk is marked held only after its `pwrite` returned in full, so a chunk whose write
//! failed (`ENOSPC`, `EDQUOT`, an I/O error) is never served, reported or claimed. The failed
//! write ends the whole download ([`DownloadHandle::fail`]): the coordinator stops the fetchers,
//! waits for the writes in flight, and fails with [`DownloadError::DiskFull`] ("disk full at
//! DEST") or the write's error, without another resume flush. A failed `fdatasync` ends it the
//! same way, before the `.bits` file is written; this matters because after a failed sync Linux
//! may drop the dirty pages and a later sync can succeed without them, so no later flush may
//! claim chunks written before the failure. The `.bits` file itself is replaced atomically,
//! so a failure writing it leaves the previous claim whole.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{bits_to_bytes, DataPath, DownloadHandle};
use crate::daemon::reporter::Have;
use crate::daemon::Daemon;
use crate::error::DownloadError;
use crate::hashing::{chunk_range, sha1};
use crate::home::write_private;
use crate::io_buf::AlignedBuf;
use crate::scheduler::{PeerKey, Received};

/// Checks a chunk's SHA-1 and writes it at its offset, then marks it held: from then on it is
/// served to other peers, and it is reported to the tracker, before it is fsynced (see the
/// module doc for why that is safe). Blocking: runs on the blocking pool.
pub(super) fn verify_and_store(
    daemon: &Daemon,
    h: &DownloadHandle,
    io: &DataPath,
    peer: PeerKey,
    index: u32,
    buf: AlignedBuf,
) {
    let checked = verify_and_write(h, io, peer, index, buf);
    if checked == Checked::Rejected {
        daemon.metrics.chunks_rejected.inc();
    }
    if let Checked::Held(len) = checked {
        h.bytes_done.fetch_add(len as u64, Ordering::Relaxed);
        daemon.metrics.chunks_verified.inc();
        daemon.metrics.downloaded_bytes.inc_by(len as u64);
        daemon.touch_transfer();
        daemon.report(Have {
            group: h.group.clone(),
            name: h.name.clone(),
            index,
        });
    }
    h.changed.notify_waiters();
}

/// What [`verify_and_write`] made of one received chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checked {
    /// Newly held, this many bytes long.
    Held(usize),
    /// Its SHA-1 did not match: a strike against the peer.
    Rejected,
    /// Nothing changed: no such chunk, already held, or the write failed.
    Unchanged,
}

/// The part of [`verify_and_store`] that touches only the download: checks the SHA-1, writes
/// the chunk and, only once the write returned, marks it held. A failed write ends the
/// download ([`DownloadHandle::fail`]; a full disk is [`DownloadError::DiskFull`]) and the
/// chunk stays missing.
pub(super) fn verify_and_write(
    h: &DownloadHandle,
    io: &DataPath,
    peer: PeerKey,
    index: u32,
    buf: AlignedBuf,
) -> Checked {
    let Some((offset, len)) = chunk_range(&h.manifest, index) else {
        return Checked::Unchanged;
    };
    let expected = h.manifest.chunk_hashes.get(index as usize);
    let data = buf.data(len);
    let stored = if data.len() == len && expected == Some(&sha1(data)) {
        io.file.write_at(data, offset).map(|()| true)
    } else {
        Ok(false)
    };
    io.pool.give(buf);
    match stored {
        Ok(true) => {}
        Ok(false) => {
            let dropped = h.sched.on_bad_chunk(peer, index);
            tracing::warn!(
                peer,
                index,
                dropped,
                "chunk failed its SHA-1 check; fetching it elsewhere"
            );
            return Checked::Rejected;
        }
        Err(e) => {
            h.fail(DownloadError::from_write(&h.dest, &h.part, e));
            return Checked::Unchanged;
        }
    }
    match h.sched.on_verified(peer, index) {
        Received::Accepted { .. } => {
            h.unflushed.fetch_add(1, Ordering::Relaxed);
            Checked::Held(len)
        }
        _ => Checked::Unchanged,
    }
}

/// fsyncs the data, then records which chunks it holds in `partial/<id>.bits`. The chunks
/// are read from the scheduler before the fsync, so the file claims only chunks whose write
/// had returned before the fsync began.
///
/// # Errors
/// A failed sync ([`DownloadError::DiskFull`] or [`DownloadError::SyncPart`]; the `.bits`
/// file is then left as it was) or a failed write of the `.bits` file (written atomically, so
/// the old one stays whole). Either ends the download.
pub(super) async fn flush_resume(
    daemon: &Daemon,
    h: &DownloadHandle,
    io: &Arc<DataPath>,
) -> Result<(), DownloadError> {
    let bits = h.sched.have_bits();
    h.unflushed.store(0, Ordering::Relaxed);
    let disk = io.clone();
    let path = daemon.home.partial_dir().join(format!("{}.bits", h.id));
    let (dest, part) = (h.dest.clone(), h.part.clone());
    tokio::task::spawn_blocking(move || {
        disk.file
            .sync_data()
            .map_err(|source| DownloadError::from_sync(&dest, &part, source))?;
        write_private(&path, &bits_to_bytes(&bits))?;
        Ok::<_, DownloadError>(())
    })
    .await?
}

#[cfg(test)]
#[path = "store_test.rs"]
mod tests;
