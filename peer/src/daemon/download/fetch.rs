//! One connection to one source peer: the handshake, the request pipeline (its depth follows the
//! peer's measured throughput), cancels, and each arriving chunk read straight from the socket
//! into a pooled buffer, then verified and written on the blocking pool.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use proto::frame::read_body;
use proto::peer_msg::{read_frame_start, ChunkStatus, FrameStart, PeerFrame, PEER_VERSION};
use proto::ticket::SignedTicket;

use super::{DataPath, DownloadHandle};
use crate::control::DownloadState;
use crate::daemon::reporter::Have;
use crate::daemon::Daemon;
use crate::hashing::{chunk_range, sha1};
use crate::io_buf::AlignedBuf;
use crate::scheduler::{PeerKey, Received};

/// A connected peer with nothing we need is kept this long in case it gets more.
const IDLE_PEER_LIMIT: Duration = Duration::from_secs(10);
/// Reconnection attempts per peer.
const MAX_CONNECT_ATTEMPTS: u32 = 6;
/// No answer from a peer for this long: drop the connection and requeue.
const PEER_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Socket read buffer: frame headers and small frames come through it; chunk data larger than
/// it goes from the socket straight into the chunk's buffer.
const READ_BUF_BYTES: usize = 32 << 10;

/// Fetches chunks from one peer until the download completes, the peer is dropped, or it stays
/// unreachable.
pub(super) async fn task_peer(
    daemon: Arc<Daemon>,
    h: Arc<DownloadHandle>,
    io: Arc<DataPath>,
    peer: PeerKey,
    addr: String,
) {
    let mut attempts = 0u32;
    let mut backoff = Duration::from_millis(200);
    loop {
        if h.sched.is_complete() || !h.sched.is_usable(peer) || h.state() != DownloadState::Running
        {
            return;
        }
        let Some(ticket) = h.ticket.lock().ok().and_then(|t| t.clone()) else {
            return;
        };
        h.peers_connected.fetch_add(1, Ordering::Relaxed);
        let result = fetch_from(&daemon, &h, &io, peer, &addr, &ticket).await;
        h.peers_connected.fetch_sub(1, Ordering::Relaxed);
        h.sched.on_peer_lost(peer);
        h.changed.notify_waiters();
        match result {
            Ok(()) => return,
            Err(PeerEnd::Gone(why)) => {
                tracing::debug!(peer, %why, "peer has nothing more for us");
                return;
            }
            Err(PeerEnd::Retry(why)) => {
                attempts += 1;
                tracing::debug!(peer, %addr, %why, attempts, "peer connection failed");
                if attempts >= MAX_CONNECT_ATTEMPTS {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

enum PeerEnd {
    /// Worth retrying (network trouble).
    Retry(String),
    /// Refused or useless: do not retry.
    Gone(String),
}

fn retry(e: &dyn std::fmt::Display) -> PeerEnd {
    PeerEnd::Retry(e.to_string())
}

/// A frame from the peer; a chunk's data sits in a pooled buffer.
enum Incoming {
    Chunk {
        index: u32,
        buf: AlignedBuf,
        len: usize,
    },
    Frame(PeerFrame),
}

/// Reads the next frame. A chunk must have the length the manifest gives it (otherwise the
/// peer gets a strike and the connection is dropped); its data is read into a pooled buffer.
async fn receive<R: AsyncRead + Unpin>(
    rd: &mut R,
    h: &DownloadHandle,
    io: &DataPath,
    peer: PeerKey,
) -> Result<Incoming, PeerEnd> {
    let start = read_frame_start(rd)
        .await
        .map_err(|e| retry(&e))?
        .ok_or_else(|| PeerEnd::Retry("peer closed the connection".into()))?;
    let (index, data_len) = match start {
        FrameStart::Other(frame) => return Ok(Incoming::Frame(frame)),
        FrameStart::Chunk { index, data_len } => (index, data_len),
    };
    let expected = chunk_range(&h.manifest, index).map(|(_, len)| len);
    if expected != Some(data_len) {
        h.sched.on_bad_chunk(peer, index);
        return Err(PeerEnd::Retry(format!(
            "sent {data_len} bytes as chunk {index} ({expected:?} expected)"
        )));
    }
    let mut buf = io.pool.take();
    read_body(rd, buf.data_mut(data_len))
        .await
        .map_err(|e| retry(&e))?;
    Ok(Incoming::Chunk {
        index,
        buf,
        len: data_len,
    })
}

fn push_frame(batch: &mut Vec<u8>, frame: PeerFrame) -> Result<(), PeerEnd> {
    let body = frame.encode().map_err(|e| retry(&e))?;
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    batch.extend_from_slice(&len.to_be_bytes());
    batch.extend_from_slice(&body);
    Ok(())
}

async fn fetch_from(
    daemon: &Arc<Daemon>,
    h: &Arc<DownloadHandle>,
    io: &Arc<DataPath>,
    peer: PeerKey,
    addr: &str,
    ticket: &SignedTicket,
) -> Result<(), PeerEnd> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| PeerEnd::Retry("connect timed out".into()))?
        .map_err(|e| retry(&e))?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(READ_BUF_BYTES, rd);
    let hello = PeerFrame::Hello {
        version: PEER_VERSION,
        peer_id: daemon.peer_id,
        ticket: ticket.clone(),
    };
    hello.write_to(&mut wr).await.map_err(|e| retry(&e))?;
    let first = tokio::time::timeout(Duration::from_secs(10), read_frame_start(&mut rd))
        .await
        .map_err(|_| PeerEnd::Retry("no welcome in time".into()))?
        .map_err(|e| retry(&e))?
        .ok_or_else(|| PeerEnd::Retry("closed before welcome".into()))?;
    match first {
        FrameStart::Other(PeerFrame::Welcome) => tracing::debug!(peer, %addr, "connected"),
        FrameStart::Other(PeerFrame::Refused(why)) => {
            return Err(PeerEnd::Gone(format!("refused: {why}")))
        }
        _ => return Err(PeerEnd::Gone("bad handshake".into())),
    }
    let chunk_size = u64::from(h.manifest.chunk_size_bytes.max(1));
    let mut in_flight: Vec<u32> = Vec::new();
    // Cancelled requests (the chunk came from elsewhere) whose data may still arrive.
    let mut discard: Vec<u32> = Vec::new();
    let mut depth: usize = 4;
    let mut window = (Instant::now(), 0u64);
    let mut idle_since: Option<Instant> = None;
    let mut batch = Vec::new();
    loop {
        // Cancel what arrived from elsewhere, then keep the pipeline full.
        batch.clear();
        let cancelled = h.sched.take_cancelled(peer);
        for i in cancelled {
            if let Some(pos) = in_flight.iter().position(|&x| x == i) {
                in_flight.swap_remove(pos);
                discard.push(i);
                push_frame(&mut batch, PeerFrame::Cancel { index: i })?;
            }
        }
        while in_flight.len() < depth {
            match h.sched.next_for(peer) {
                Some(i) => {
                    in_flight.push(i);
                    push_frame(&mut batch, PeerFrame::Request { index: i })?;
                }
                None => break,
            }
        }
        if !batch.is_empty() {
            wr.write_all(&batch).await.map_err(|e| retry(&e))?;
        }
        if in_flight.is_empty() {
            if h.sched.is_complete() {
                return Ok(());
            }
            let useful = h.sched.peer_is_useful(peer);
            // Nothing to ask for now (it holds nothing we miss yet, or all of it is in flight
            // elsewhere): keep the connection a while, the next refresh may show new chunks.
            let since = *idle_since.get_or_insert_with(Instant::now);
            if !useful && since.elapsed() > IDLE_PEER_LIMIT {
                return Err(PeerEnd::Gone("holds nothing we still need".into()));
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), h.changed.notified()).await;
            continue;
        }
        idle_since = None;
        let incoming = tokio::time::timeout(PEER_READ_TIMEOUT, receive(&mut rd, h, io, peer))
            .await
            .map_err(|_| PeerEnd::Retry("peer stopped answering".into()))??;
        match incoming {
            Incoming::Chunk { index, buf, len } if discard.contains(&index) => {
                discard.retain(|&i| i != index);
                window.1 += len as u64;
                io.pool.give(buf);
            }
            Incoming::Frame(PeerFrame::Status { index, .. }) if discard.contains(&index) => {
                discard.retain(|&i| i != index);
            }
            Incoming::Chunk { index, buf, len } => {
                let Some(pos) = in_flight.iter().position(|&i| i == index) else {
                    return Err(PeerEnd::Gone(format!(
                        "sent chunk {index} that was not asked for"
                    )));
                };
                in_flight.swap_remove(pos);
                window.1 += len as u64;
                if let Some(l) = &daemon.download_limiter {
                    l.acquire(len).await;
                }
                let permit = io
                    .slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| retry(&e))?;
                let (daemon, h, io) = (daemon.clone(), h.clone(), io.clone());
                tokio::task::spawn_blocking(move || {
                    verify_and_store(&daemon, &h, &io, peer, index, buf);
                    drop(permit);
                });
            }
            Incoming::Frame(PeerFrame::Status { index, status }) => {
                in_flight.retain(|&i| i != index);
                match status {
                    ChunkStatus::NotAvailable => {
                        h.sched.on_not_available(peer, index);
                    }
                    ChunkStatus::NotFound => {
                        return Err(PeerEnd::Gone("no longer shares the file".into()))
                    }
                    ChunkStatus::Busy => {
                        h.sched.on_peer_lost(peer);
                        return Err(PeerEnd::Retry("busy".into()));
                    }
                }
                h.changed.notify_waiters();
            }
            Incoming::Frame(other) => {
                return Err(PeerEnd::Gone(format!("unexpected frame {other:?}")))
            }
        }
        // Size the queue to about 100 ms of this peer's measured throughput plus one chunk: a
        // deeper queue on a slow (rate-limited) peer only commits chunks to it early, on staler
        // knowledge of who else holds them.
        let elapsed = window.0.elapsed();
        if elapsed >= Duration::from_millis(250) {
            let rate = window.1 as f64 / elapsed.as_secs_f64();
            depth = ((rate * 0.1 / chunk_size as f64).ceil() as usize + 1).clamp(2, 16);
            window = (Instant::now(), 0);
        }
        if !h.sched.is_usable(peer) {
            return Err(PeerEnd::Gone("dropped after sending bad data".into()));
        }
    }
}

/// Checks a chunk's SHA-1 and writes it at its offset, then marks it held: from then on it is
/// served to other peers, and it is reported to the tracker. Blocking: runs on the blocking pool.
fn verify_and_store(
    daemon: &Daemon,
    h: &DownloadHandle,
    io: &DataPath,
    peer: PeerKey,
    index: u32,
    buf: AlignedBuf,
) {
    let Some((offset, len)) = chunk_range(&h.manifest, index) else {
        return;
    };
    let expected = h.manifest.chunk_hashes.get(index as usize);
    let data = buf.data(len);
    let stored = if data.len() == len && expected == Some(&sha1(data)) {
        io.file.write_at(data, offset).map(|()| true)
    } else {
        Ok(false)
    };
    io.pool.give(buf);
    let good = match stored {
        Ok(good) => good,
        Err(e) => {
            h.set_state(DownloadState::Failed(format!(
                "cannot write to {}: {e} (disk full?)",
                h.part.display()
            )));
            return;
        }
    };
    if !good {
        let dropped = h.sched.on_bad_chunk(peer, index);
        tracing::warn!(
            peer,
            index,
            dropped,
            "chunk failed its SHA-1 check; fetching it elsewhere"
        );
        h.changed.notify_waiters();
        return;
    }
    if let Received::Accepted { .. } = h.sched.on_verified(peer, index) {
        h.bytes_done.fetch_add(len as u64, Ordering::Relaxed);
        h.unflushed.fetch_add(1, Ordering::Relaxed);
        daemon.touch_transfer();
        daemon.report(Have {
            group: h.group.clone(),
            name: h.name.clone(),
            index,
        });
    }
    h.changed.notify_waiters();
}
