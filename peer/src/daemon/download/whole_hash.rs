//! The whole-file SHA-1, computed in file order while the download runs: whenever the verified
//! prefix grows, its new chunks are read back from the disk and fed to one hasher. A reader
//! thread fetches the next chunk while the current one is hashed, so the hasher runs at the
//! speed of the slower of the two rather than of both in turn, and keeps up with the download
//! (the scheduler fetches chunks that several peers hold nearly in file order).

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};

use proto::tracker_msg::{FileManifest, Sha1Digest};

use super::{DataPath, DownloadHandle};
use crate::control::DownloadState;
use crate::hashing::chunk_range;
use crate::io_buf::AlignedBuf;

/// Chunks handed to one blocking call at most.
const BATCH_CHUNKS: usize = 64;
/// Buffers the reader may fill ahead of the hasher (plus the one being hashed).
const READ_AHEAD: usize = 2;

/// Hashes the file in order as its verified prefix grows; returns the digest once every chunk
/// is in.
///
/// # Errors
/// A failed read, or the download stopping first.
pub(super) async fn task_whole_file_hash(
    h: Arc<DownloadHandle>,
    io: Arc<DataPath>,
) -> std::io::Result<Sha1Digest> {
    let count = h.manifest.chunk_hashes.len();
    let mut state = Some((Sha1::new(), Vec::new()));
    let mut next = 0usize;
    while next < count {
        let ready: Vec<u32> = {
            let s = h
                .sched
                .lock()
                .map_err(|_| std::io::Error::other("scheduler poisoned"))?;
            (next..count)
                .map_while(|i| u32::try_from(i).ok().filter(|&i| s.has(i)))
                .take(BATCH_CHUNKS)
                .collect()
        };
        if ready.is_empty() {
            if h.state() != DownloadState::Running {
                return Err(std::io::Error::other("download stopped"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), h.changed.notified()).await;
            continue;
        }
        next += ready.len();
        let (disk, h2) = (io.clone(), h.clone());
        let (mut hasher, mut bufs) = state.take().unwrap_or_default();
        state = Some(
            tokio::task::spawn_blocking(move || {
                hash_chunks(&disk, &h2.manifest, &ready, &mut hasher, &mut bufs)?;
                Ok::<_, std::io::Error>((hasher, bufs))
            })
            .await
            .map_err(std::io::Error::other)??,
        );
    }
    let (hasher, bufs) = state.unwrap_or_default();
    for b in bufs {
        io.pool.give(b);
    }
    Ok(hasher.finalize().into())
}

/// Feeds chunks `ready` (consecutive, in order) to `hasher`, reading each on a scoped thread
/// while the previous one is hashed. `bufs` holds the buffers kept between calls.
fn hash_chunks(
    io: &DataPath,
    manifest: &FileManifest,
    ready: &[u32],
    hasher: &mut Sha1,
    bufs: &mut Vec<AlignedBuf>,
) -> std::io::Result<()> {
    let (free_tx, free_rx) = mpsc::channel::<AlignedBuf>();
    let (full_tx, full_rx) = mpsc::sync_channel::<(AlignedBuf, usize)>(READ_AHEAD);
    while bufs.len() < READ_AHEAD + 1 {
        bufs.push(io.pool.take());
    }
    for b in bufs.drain(..) {
        let _ = free_tx.send(b);
    }
    let read = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            for &i in ready {
                let (offset, len) = chunk_range(manifest, i)
                    .ok_or_else(|| std::io::Error::other("chunk index out of range"))?;
                // The hasher hands every buffer back until it stops, and it stops only after
                // this thread is done: a closed channel means it failed; stop too.
                let Ok(mut buf) = free_rx.recv() else {
                    break;
                };
                io.file.read_at(buf.data_mut(len), offset)?;
                if full_tx.send((buf, len)).is_err() {
                    break;
                }
            }
            Ok::<_, std::io::Error>(free_rx)
        });
        for (buf, len) in full_rx.iter() {
            hasher.update(buf.data(len));
            let _ = free_tx.send(buf);
        }
        reader.join()
    });
    match read {
        Ok(Ok(free_rx)) => {
            bufs.extend(free_rx.try_iter());
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("the read-back thread panicked")),
    }
}
