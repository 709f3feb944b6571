//! Serves chunks to other peers over mutually authenticated TLS 1.3 ([`proto::tls::PeerTls`]):
//! the downloader presents a certificate of its Ed25519 key, the download ticket inside the
//! connection is checked offline with the cluster's public key, and it must name that key
//! (`downloader_key`), so a ticket copied by someone else is refused. Then it answers pipelined
//! requests from the file's original location (or from a download still in progress, for the
//! chunks already verified). Before each chunk of a seeded file it checks (`fstat`) that the
//! file's size and modification time are the registered ones, and the first time it serves a
//! chunk under them it checks the chunk's SHA-1 (a file hashed for its upload, or verified in
//! full by its download, counts as hashed); if either check fails it stops seeding that file and
//! tells the tracker. Every chunk is read (through the page cache for seeded files) into the
//! connection's one buffer right behind its frame header and leaves in one write through TLS;
//! `sendfile` cannot carry TLS records made in user space and this kernel has no kernel TLS (see
//! [`proto::tls::peer`]).
//!
//! Bounds, so a stranger (no ticket) or a ticket holder cannot make it hold much: capped
//! connections in all and per address ([`CONNECTION_CAPS`]); before the ticket, the TLS
//! handshake and a hello of at most 16 KiB within 10 s together, and a bounded pool of ticket
//! checks ([`hello`]); after it, requests and cancels of a few bytes each, a bounded number
//! outstanding, and an idle timeout ([`intake`]); a peer that stops reading what it asked for
//! is dropped after 20 s. A connection ends at the first request after its ticket expired, so
//! a member removed from the group (who gets no fresh ticket) loses it within the ticket's TTL.
//!
//! A file unpublished from its group is not served to a new connection: the seeder asks the
//! tracker whether a seeded file is still published when a connection for it arrives
//! ([`super::published`]), and a connection whose share was dropped meanwhile ends at its next
//! request.

mod hello;
mod intake;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use proto::conn_limits::{ConnCounter, ConnLimits};
use proto::peer_msg::{chunk_header, ChunkStatus, PeerFrame, MAX_PEER_FRAME_BYTES};
use proto::tracker_msg::FileManifest;

use intake::Intake;

use super::published::Published;
use super::shares::{Fingerprint, ShareEntry, VerifiedChunks};
use super::Daemon;
use crate::chunk_store::ChunkFile;
use crate::error::{ServeError, ShareChanged};
use crate::hashing::{chunk_range, sha1};
use crate::io_buf::AlignedBuf;

/// A peer that reads nothing of what it asked for this long is dropped.
const SEND_STALL_LIMIT: Duration = Duration::from_secs(20);

/// Connections the seeder port holds at once: in all, and from one IP address. A downloader
/// opens one connection per download and seeder, so one address reaches its cap only with that
/// many downloads behind it (a NAT). One over a cap is closed before anything is read from it;
/// the downloader sees a closed connection and retries with its backoff.
const CONNECTION_CAPS: ConnLimits = ConnLimits {
    total: 1024,
    per_source: 128,
};

/// Accepts peer connections forever, within [`CONNECTION_CAPS`].
pub async fn task_serve(daemon: Arc<Daemon>, listener: TcpListener) {
    proto::accept::serve_each_capped(
        listener,
        "peer",
        ConnCounter::new(CONNECTION_CAPS),
        |addr| tracing::debug_span!("serve", peer = %addr),
        |stream| serve_connection(daemon.clone(), stream),
    )
    .await;
}

/// A seeded file and the chunks found to hash right under its fingerprint.
struct SharedFile {
    entry: Arc<ShareEntry>,
    verified: Arc<VerifiedChunks>,
}

/// Where a connection's chunks come from.
enum Source {
    /// An uploaded file or a finished download.
    Share(SharedFile),
    /// A download in progress: only verified chunks.
    Partial(Arc<super::download::DownloadHandle>),
}

impl Source {
    fn manifest(&self) -> &FileManifest {
        match self {
            Source::Share(s) => &s.entry.manifest,
            Source::Partial(d) => &d.manifest,
        }
    }
}

/// The sending half of a welcomed connection.
type PeerWriter = WriteHalf<TlsStream<TcpStream>>;

/// Lowers the served-connections gauge when the connection's future ends (or is dropped).
fn count_connection(daemon: &Daemon) -> impl Drop + '_ {
    struct Dec<'a>(&'a Daemon);
    impl Drop for Dec<'_> {
        fn drop(&mut self) {
            self.0.metrics.upload_connections.dec();
        }
    }
    Dec(daemon)
}

/// Tells the peer why it is refused (best effort, within the stall limit) and returns that as
/// the connection's end.
async fn refuse(wr: &mut PeerWriter, why: &str) -> ServeError {
    let _ = tokio::time::timeout(
        SEND_STALL_LIMIT,
        PeerFrame::Refused(why.to_string()).write_to(wr),
    )
    .await;
    ServeError::Refused(why.to_string())
}

async fn serve_connection(daemon: Arc<Daemon>, stream: TcpStream) -> Result<(), ServeError> {
    let _ = stream.set_nodelay(true);
    daemon.metrics.upload_connections.inc();
    let _counted = count_connection(&daemon);
    // The handshake, the hello and the ticket check share one time limit.
    let deadline = tokio::time::Instant::now() + hello::HELLO_TIMEOUT;
    let tls = tokio::time::timeout_at(deadline, daemon.identity.tls.accept(stream))
        .await
        .map_err(|_| ServeError::HelloTimeout)?
        .map_err(ServeError::Handshake)?;
    let client_key = proto::tls::peer::client_key(&tls).ok_or(ServeError::BugNoClientKey)?;
    let (rd, mut wr) = tokio::io::split(tls);
    let mut rd = BufReader::new(rd);
    let ticket = match hello::accept(&mut rd, daemon.cluster_key, deadline).await? {
        Ok(t) => t,
        Err(why) => return Err(refuse(&mut wr, &why).await),
    };
    if ticket.downloader_key != client_key {
        let why = "the ticket was issued to another peer's key, not this connection's";
        return Err(refuse(&mut wr, why).await);
    }
    let source = if let Some(entry) = daemon.shares.get(&ticket.group, &ticket.file_name) {
        let verified = daemon.shares.verified(&entry);
        Source::Share(SharedFile { entry, verified })
    } else if let Some(d) = daemon.download_for(&ticket.group, &ticket.file_name) {
        Source::Partial(d)
    } else {
        return Err(refuse(&mut wr, "file not shared here").await);
    };
    let source = Arc::new(source);
    if source.manifest().file_hash != ticket.file_hash {
        return Err(refuse(&mut wr, "ticket is for another version of this file").await);
    }
    let opened = match source.as_ref() {
        Source::Share(s) => {
            if let Err(why) = s.entry.check_unchanged() {
                daemon.withdraw_share(&s.entry, &why).await;
                return Err(refuse(&mut wr, "file not shared here any more").await);
            }
            if daemon.still_published(&s.entry).await == Published::Gone {
                let why = format!("{}/{} was unpublished", s.entry.group, s.entry.name);
                return Err(refuse(&mut wr, &why).await);
            }
            // Seeded files are read again and again: through the page cache.
            ChunkFile::open_read_cached(&s.entry.path)
        }
        // Written direct by the download, so not in the page cache: read direct too.
        Source::Partial(d) => super::download::open_part(&d.part, false).map_err(|e| {
            tracing::debug!(part = %d.part.display(), %e, "cannot serve a download in progress");
            std::io::Error::other("cannot open the partial file")
        }),
    };
    let file = match opened {
        Ok(f) => Arc::new(f),
        Err(e) => return Err(refuse(&mut wr, &format!("cannot open the file: {e}")).await),
    };
    tokio::time::timeout(SEND_STALL_LIMIT, PeerFrame::Welcome.write_to(&mut wr))
        .await
        .map_err(|_| ServeError::SendStalled {
            after: SEND_STALL_LIMIT,
        })??;
    tracing::debug!(user = %ticket.username, group = %ticket.group, name = %ticket.file_name, "serving");

    // A reader task queues requests and records cancels; this loop serves them in order.
    let mut intake = Intake::start(rd);
    let expires_at_ms = ticket.expires_at_ms;
    serve_requests(&daemon, &source, &file, &mut wr, &mut intake, expires_at_ms).await
}

/// What reading a chunk found.
enum Read {
    /// The data is in the buffer and may be sent.
    Good,
    /// The file is not the registered one any more (the reason).
    Changed(ShareChanged),
}

/// Reads chunk `index` into `buf` (blocking). For a seeded file it first checks (`fstat`) that
/// the size and modification time are still the registered ones, and hashes the chunk if it has
/// not been found right under them before; a download in progress serves only chunks it
/// verified itself.
fn read_chunk_checked(
    source: &Source,
    file: &ChunkFile,
    buf: &mut AlignedBuf,
    index: u32,
) -> std::io::Result<Read> {
    let manifest = source.manifest();
    let (offset, len) = chunk_range(manifest, index)
        .ok_or_else(|| std::io::Error::other("chunk index out of range"))?;
    let Source::Share(share) = source else {
        file.read_at(buf.data_mut(len), offset)?;
        return Ok(Read::Good);
    };
    if let Read::Changed(why) = check_unchanged(share, file)? {
        return Ok(Read::Changed(why));
    }
    file.read_at(buf.data_mut(len), offset)?;
    if !share.verified.contains(index) {
        if manifest.chunk_hashes.get(index as usize) != Some(&sha1(buf.data(len))) {
            return Ok(Read::Changed(ShareChanged::ChunkMismatch {
                path: share.entry.path.clone(),
                index,
            }));
        }
        share.verified.insert(index);
    }
    Ok(Read::Good)
}

/// Whether the open file still has the registered size and modification time (`fstat`).
fn check_unchanged(share: &SharedFile, file: &ChunkFile) -> std::io::Result<Read> {
    let now = Fingerprint::of_file(file.file())?;
    Ok(match share.entry.check_fingerprint(now) {
        Ok(()) => Read::Good,
        Err(why) => Read::Changed(why),
    })
}

async fn serve_requests(
    daemon: &Arc<Daemon>,
    source: &Arc<Source>,
    file: &Arc<ChunkFile>,
    wr: &mut PeerWriter,
    intake: &mut Intake,
    expires_at_ms: u64,
) -> Result<(), ServeError> {
    let chunk_bytes = usize::try_from(source.manifest().chunk_size_bytes).unwrap_or(usize::MAX);
    // One buffer per connection, reused for every chunk; it moves to the blocking read and back.
    let mut spare = Some(AlignedBuf::new(chunk_bytes));
    while let Some(index) = intake.next().await? {
        // The ticket holds for the connection only while it is valid: a downloader reconnects
        // with the fresh one it keeps fetching, one removed from the group gets none.
        if super::wall_ms() >= expires_at_ms {
            return Err(ServeError::TicketExpired);
        }
        if let Source::Share(s) = source.as_ref() {
            // Dropped here meanwhile (unpublished, withdrawn, stopped): serve it no longer.
            let current = daemon.shares.get(&s.entry.group, &s.entry.name);
            if !current.is_some_and(|c| Arc::ptr_eq(&c, &s.entry)) {
                send_status(wr, index, ChunkStatus::NotFound).await?;
                return Err(ServeError::Refused(
                    "the file is not shared here any more".into(),
                ));
            }
        }
        let Some((_, len)) = chunk_range(source.manifest(), index) else {
            send_status(wr, index, ChunkStatus::NotFound).await?;
            continue;
        };
        if let Source::Partial(d) = source.as_ref() {
            if !d.has_chunk(index) {
                send_status(wr, index, ChunkStatus::NotAvailable).await?;
                continue;
            }
        }
        let mut buf = spare.take().unwrap_or_else(|| AlignedBuf::new(chunk_bytes));
        let (src, f) = (source.clone(), file.clone());
        let (mut buf, read) = tokio::task::spawn_blocking(move || {
            let read = read_chunk_checked(&src, &f, &mut buf, index);
            (buf, read)
        })
        .await?;
        match read {
            Ok(Read::Good) => {}
            Ok(Read::Changed(why)) => {
                if let Source::Share(s) = source.as_ref() {
                    daemon.withdraw_share(&s.entry, &why).await;
                }
                send_status(wr, index, ChunkStatus::NotFound).await?;
                return Err(ServeError::ShareWithdrawn(why));
            }
            Err(source_err) => {
                let end = match source.as_ref() {
                    Source::Share(s) => {
                        let why = ShareChanged::Unreadable {
                            path: s.entry.path.clone(),
                            source: source_err,
                        };
                        daemon.withdraw_share(&s.entry, &why).await;
                        ServeError::ShareWithdrawn(why)
                    }
                    Source::Partial(_) => ServeError::ReadChunk {
                        index,
                        source: source_err,
                    },
                };
                send_status(wr, index, ChunkStatus::NotFound).await?;
                return Err(end);
            }
        }
        if daemon.corrupt_for_testing {
            if let Some(b) = buf.data_mut(len).first_mut() {
                *b ^= 0xff;
            }
        }
        if let Some(l) = &daemon.upload_limiter {
            l.acquire(len).await;
        }
        let header = chunk_header(index, len)?;
        let frame = buf
            .framed(&header, len)
            .ok_or(ServeError::BugHeaderTooLarge)?;
        write_all_within(wr, frame)
            .await
            .map_err(|source| ServeError::SendChunk { index, source })?;
        spare = Some(buf);
        daemon.chunks_served.fetch_add(1, Ordering::Relaxed);
        daemon.metrics.chunks_served.inc();
        daemon.metrics.uploaded_bytes.inc_by(len as u64);
        daemon.touch_transfer();
    }
    Ok(())
}

async fn send_status(
    wr: &mut PeerWriter,
    index: u32,
    status: ChunkStatus,
) -> Result<(), ServeError> {
    let body = PeerFrame::Status { index, status }.encode()?;
    tokio::time::timeout(
        SEND_STALL_LIMIT,
        proto::frame::write_frame(wr, &body, MAX_PEER_FRAME_BYTES),
    )
    .await
    .map_err(|_| ServeError::SendStalled {
        after: SEND_STALL_LIMIT,
    })??;
    Ok(())
}

/// Writes all of `bytes` and flushes them out of TLS's buffer, failing if no byte could be
/// written for [`SEND_STALL_LIMIT`] (a peer that stops reading what it asked for).
async fn write_all_within(wr: &mut PeerWriter, mut bytes: &[u8]) -> std::io::Result<()> {
    let stalled = |_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer stopped reading");
    while !bytes.is_empty() {
        let n = tokio::time::timeout(SEND_STALL_LIMIT, wr.write(bytes))
            .await
            .map_err(stalled)??;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = bytes.get(n..).unwrap_or(&[]);
    }
    tokio::time::timeout(SEND_STALL_LIMIT, wr.flush())
        .await
        .map_err(stalled)?
}
