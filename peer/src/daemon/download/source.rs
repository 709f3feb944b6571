//! One live connection to one source peer, after the handshake: what it knows (the requests in
//! flight, the cancelled requests whose data may still arrive, the queue depth and the source's
//! measured throughput and round trip, [`SourceMeter`], which it hands to the scheduler and the
//! listing) and one step per event, after rqbit's live peer state
//! (`on_received_piece`): [`SourceConn::fill_pipeline`], [`SourceConn::on_chunk`],
//! [`SourceConn::on_status`], [`SourceConn::on_idle`] and [`SourceConn::resize_queue`]. Each
//! arriving chunk is read straight from the socket into a pooled buffer, then verified and
//! written on the blocking pool ([`super::store`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use proto::frame::read_body;
use proto::peer_msg::{read_frame_start, ChunkStatus, FrameStart, PeerFrame};

use super::source_meter::SourceMeter;
use super::store::verify_and_store;
use super::{DataPath, DownloadHandle};
use crate::daemon::Daemon;
use crate::error::SourceError;
use crate::hashing::chunk_range;
use crate::io_buf::AlignedBuf;
use crate::scheduler::PeerKey;

/// A connected peer with nothing we need is kept this long in case it gets more.
const IDLE_PEER_LIMIT: Duration = Duration::from_secs(10);
/// No answer from a peer for this long: drop the connection and requeue.
const PEER_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests in flight on a new connection, before its throughput is measured.
const FIRST_DEPTH: usize = 4;

/// A frame from the peer; a chunk's data sits in a pooled buffer.
enum Incoming {
    Chunk {
        index: u32,
        buf: AlignedBuf,
        len: usize,
    },
    Frame(PeerFrame),
}

/// What [`SourceConn::on_idle`] found.
enum Idle {
    /// Every chunk is verified: the connection is done.
    Complete,
    /// Waited a little for news; look again.
    Waited,
}

/// The state of one live connection to a source peer.
pub(super) struct SourceConn<'a> {
    daemon: &'a Arc<Daemon>,
    h: &'a Arc<DownloadHandle>,
    io: &'a Arc<DataPath>,
    peer: PeerKey,
    /// Chunk size of the file, for sizing the queue.
    chunk_size: u64,
    /// Requested and not answered yet.
    in_flight: Vec<u32>,
    /// Cancelled requests (the chunk came from elsewhere) whose data may still arrive.
    discard: Vec<u32>,
    /// How many requests to keep in flight.
    depth: usize,
    /// Throughput and round trip; its windows size [`Self::depth`], its averages rank the
    /// source in the scheduler.
    meter: SourceMeter,
    /// Since when there has been nothing to ask this peer for.
    idle_since: Option<Instant>,
    /// Outgoing frames of one round, sent in one write (kept to reuse its memory).
    batch: Vec<u8>,
}

impl<'a> SourceConn<'a> {
    /// A connection that has just been welcomed by `peer`, whose TCP connect took
    /// `connect_rtt`.
    pub(super) fn new(
        daemon: &'a Arc<Daemon>,
        h: &'a Arc<DownloadHandle>,
        io: &'a Arc<DataPath>,
        peer: PeerKey,
        connect_rtt: Duration,
    ) -> Self {
        SourceConn {
            daemon,
            h,
            io,
            peer,
            chunk_size: u64::from(h.manifest.chunk_size_bytes.max(1)),
            in_flight: Vec::new(),
            discard: Vec::new(),
            depth: FIRST_DEPTH,
            meter: SourceMeter::new(Instant::now(), connect_rtt),
            idle_since: None,
            batch: Vec::new(),
        }
    }

    /// Requests, receives and hands on chunks until the download is complete (`Ok`) or the
    /// connection ends.
    pub(super) async fn run<R, W>(mut self, mut rd: R, mut wr: W) -> Result<(), SourceError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        loop {
            self.fill_pipeline(&mut wr).await?;
            if self.in_flight.is_empty() {
                match self.on_idle().await? {
                    Idle::Complete => return Ok(()),
                    Idle::Waited => continue,
                }
            }
            self.idle_since = None;
            let incoming = tokio::time::timeout(PEER_READ_TIMEOUT, self.receive(&mut rd))
                .await
                .map_err(|_| SourceError::StoppedAnswering)??;
            match incoming {
                Incoming::Chunk { index, buf, len } => self.on_chunk(index, buf, len).await?,
                Incoming::Frame(PeerFrame::Status { index, status }) => {
                    self.on_status(index, status)?;
                }
                Incoming::Frame(other) => {
                    return Err(SourceError::UnexpectedFrame(Box::new(other)))
                }
            }
            self.resize_queue();
            if !self.h.sched.is_usable(self.peer) {
                return Err(SourceError::DroppedForBadData);
            }
        }
    }

    /// Cancels what arrived from elsewhere, then tops the pipeline up to [`Self::depth`]
    /// requests; sends all of it in one write.
    async fn fill_pipeline<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
    ) -> Result<(), SourceError> {
        self.batch.clear();
        for i in self.h.sched.take_cancelled(self.peer) {
            if let Some(pos) = self.in_flight.iter().position(|&x| x == i) {
                self.in_flight.swap_remove(pos);
                self.discard.push(i);
                push_frame(&mut self.batch, PeerFrame::Cancel { index: i })?;
            }
        }
        while self.in_flight.len() < self.depth {
            match self.h.sched.next_for(self.peer) {
                Some(i) => {
                    if self.in_flight.is_empty() && self.discard.is_empty() {
                        self.meter.sent_alone(i, Instant::now());
                    }
                    self.in_flight.push(i);
                    push_frame(&mut self.batch, PeerFrame::Request { index: i })?;
                }
                None => break,
            }
        }
        if !self.batch.is_empty() {
            wr.write_all(&self.batch).await?;
            // Out of TLS's buffer now: the seeder waits for these.
            wr.flush().await?;
        }
        Ok(())
    }

    /// Nothing is in flight: the download may be complete, or this peer holds nothing we miss
    /// yet, or all of it is in flight elsewhere. A peer that holds nothing we still need is
    /// kept for [`IDLE_PEER_LIMIT`] (the next refresh may show new chunks), then let go.
    async fn on_idle(&mut self) -> Result<Idle, SourceError> {
        if self.h.sched.is_complete() {
            return Ok(Idle::Complete);
        }
        let useful = self.h.sched.peer_is_useful(self.peer);
        let since = *self.idle_since.get_or_insert_with(Instant::now);
        if !useful && since.elapsed() > IDLE_PEER_LIMIT {
            return Err(SourceError::HoldsNothingNeeded);
        }
        self.h.update_source(self.peer, |s| s.bytes_per_sec = 0);
        let _ = tokio::time::timeout(Duration::from_millis(200), self.h.changed.notified()).await;
        self.meter.restart_window(Instant::now());
        Ok(Idle::Waited)
    }

    /// Reads the next frame. A chunk must have the length the manifest gives it (otherwise the
    /// peer gets a strike and the connection is dropped); its data is read into a pooled buffer.
    async fn receive<R: AsyncRead + Unpin>(&mut self, rd: &mut R) -> Result<Incoming, SourceError> {
        let start = read_frame_start(rd).await?.ok_or(SourceError::Closed)?;
        let (index, data_len) = match start {
            FrameStart::Other(frame) => {
                if let PeerFrame::Status { index, .. } = &frame {
                    self.meter.answered(*index, Instant::now());
                }
                return Ok(Incoming::Frame(frame));
            }
            FrameStart::Chunk { index, data_len } => (index, data_len),
        };
        self.meter.answered(index, Instant::now());
        let expected = chunk_range(&self.h.manifest, index).map(|(_, len)| len);
        if expected != Some(data_len) {
            self.h.sched.on_bad_chunk(self.peer, index);
            return Err(SourceError::WrongChunkLength {
                index,
                len: data_len,
                expected,
            });
        }
        let mut buf = self.io.pool.take();
        read_body(rd, buf.data_mut(data_len)).await?;
        Ok(Incoming::Chunk {
            index,
            buf,
            len: data_len,
        })
    }

    /// A chunk arrived. One we cancelled is dropped; one we did not ask for ends the
    /// connection; any other waits for the download cap and a verify slot, then is verified
    /// and written on the blocking pool.
    async fn on_chunk(
        &mut self,
        index: u32,
        buf: AlignedBuf,
        len: usize,
    ) -> Result<(), SourceError> {
        if self.discard.contains(&index) {
            self.discard.retain(|&i| i != index);
            self.count_received(len);
            self.io.pool.give(buf);
            return Ok(());
        }
        let Some(pos) = self.in_flight.iter().position(|&i| i == index) else {
            return Err(SourceError::Unrequested { index });
        };
        self.in_flight.swap_remove(pos);
        self.count_received(len);
        if let Some(l) = &self.daemon.download_limiter {
            l.acquire(len).await;
        }
        let permit = self.io.slots.clone().acquire_owned().await?;
        let (daemon, h, io, peer) = (
            self.daemon.clone(),
            self.h.clone(),
            self.io.clone(),
            self.peer,
        );
        tokio::task::spawn_blocking(move || {
            verify_and_store(&daemon, &h, &io, peer, index, buf);
            drop(permit);
        });
        Ok(())
    }

    /// The peer answered a request with a status instead of the chunk (an answer to a request
    /// we cancelled is only noted).
    fn on_status(&mut self, index: u32, status: ChunkStatus) -> Result<(), SourceError> {
        if self.discard.contains(&index) {
            self.discard.retain(|&i| i != index);
            return Ok(());
        }
        self.in_flight.retain(|&i| i != index);
        match status {
            ChunkStatus::NotAvailable => self.h.sched.on_not_available(self.peer, index),
            ChunkStatus::NotFound => return Err(SourceError::NotShared),
            ChunkStatus::Busy => {
                self.h.sched.on_peer_lost(self.peer);
                return Err(SourceError::Busy);
            }
        }
        self.h.changed.notify_waiters();
        Ok(())
    }

    /// `len` bytes of chunk data arrived.
    fn count_received(&mut self, len: usize) {
        self.meter.on_bytes(len as u64);
        self.h
            .update_source(self.peer, |s| s.bytes_received += len as u64);
    }

    /// Once per throughput window ([`super::source_meter::WINDOW`]): sizes the queue to about 100 ms of this peer's
    /// throughput in the window plus one chunk (a deeper queue on a slow, rate-limited peer only
    /// commits chunks to it early, on staler knowledge of who else holds them), and hands the
    /// averages to the scheduler and the listing.
    fn resize_queue(&mut self) {
        let Some(rate) = self.meter.close_window(Instant::now()) else {
            return;
        };
        self.depth =
            ((rate as f64 * 0.1 / self.chunk_size as f64).ceil() as usize + 1).clamp(2, 16);
        self.h
            .sched
            .set_peer_rate(self.peer, self.meter.rate(self.chunk_size));
        let (throughput, rtt) = (self.meter.throughput(), self.meter.rtt());
        self.h.update_source(self.peer, |s| {
            s.bytes_per_sec = throughput;
            s.rtt = Some(rtt);
        });
    }
}

/// Appends one length-prefixed frame to `batch`.
fn push_frame(batch: &mut Vec<u8>, frame: PeerFrame) -> Result<(), SourceError> {
    let body = frame.encode()?;
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    batch.extend_from_slice(&len.to_be_bytes());
    batch.extend_from_slice(&body);
    Ok(())
}
