//! One source peer: connecting and reconnecting with a backoff, and the handshake: TLS 1.3 with
//! this daemon's certificate, accepting the seeder only if its key is the one the tracker listed
//! for it ([`proto::tls::PeerTls::connect`]), then the hello with the download ticket inside the
//! encrypted connection. The live connection after the handshake is
//! [`super::source::SourceConn`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{BufReader, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use proto::peer_msg::{read_frame_start, FrameStart, PeerFrame, PEER_VERSION};
use proto::ticket::SignedTicket;
use proto::tls::peer::SeederStream;

use super::source::SourceConn;
use super::{DataPath, DownloadHandle};
use crate::control::DownloadState;
use crate::daemon::Daemon;
use crate::error::SourceError;
use crate::scheduler::PeerKey;

/// Reconnection attempts per peer.
const MAX_CONNECT_ATTEMPTS: u32 = 6;
/// Connecting to a peer takes at most this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The TLS handshake and the peer's answer to the hello take at most this long together.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket read buffer: frame headers and small frames come through it; chunk data larger than
/// it goes from the socket straight into the chunk's buffer.
const READ_BUF_BYTES: usize = 32 << 10;

/// The receiving half of a connection to a seeder, buffered for frame headers.
type SeederReader = BufReader<ReadHalf<SeederStream>>;
/// The sending half of a connection to a seeder.
type SeederWriter = WriteHalf<SeederStream>;

/// Where a source serves and the key the tracker registered for it.
pub(super) struct SourceAddr {
    /// Its address.
    pub(super) addr: String,
    /// Its daemon's Ed25519 public key, pinned for the connection.
    pub(super) key: [u8; 32],
}

/// Fetches chunks from one peer until the download completes, the peer is dropped, or it stays
/// unreachable.
pub(super) async fn task_peer(
    daemon: Arc<Daemon>,
    h: Arc<DownloadHandle>,
    io: Arc<DataPath>,
    peer: PeerKey,
    source: SourceAddr,
) {
    let addr = &source.addr;
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
        let result = fetch_from(&daemon, &h, &io, peer, &source, &ticket).await;
        h.peers_connected.fetch_sub(1, Ordering::Relaxed);
        h.sched.on_peer_lost(peer);
        h.changed.notify_waiters();
        match result {
            Ok(()) => return,
            Err(why @ SourceError::WrongSeederKey { .. }) => {
                tracing::warn!(peer, %why, "not fetching from a peer that is not who the tracker says");
                if let Ok(mut wrong) = h.wrong_keys.lock() {
                    wrong.insert(peer, source.key);
                }
                return;
            }
            Err(why) if !why.is_worth_retrying() => {
                tracing::debug!(peer, %why, "peer has nothing more for us");
                return;
            }
            Err(why) => {
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

/// One connection: the handshake, then the live connection until it ends.
async fn fetch_from(
    daemon: &Arc<Daemon>,
    h: &Arc<DownloadHandle>,
    io: &Arc<DataPath>,
    peer: PeerKey,
    source: &SourceAddr,
    ticket: &SignedTicket,
) -> Result<(), SourceError> {
    let (rd, wr, connect_rtt) = handshake(daemon, peer, source, ticket).await?;
    h.update_source(peer, |s| {
        s.addr.clone_from(&source.addr);
        s.rtt = Some(connect_rtt);
        s.connected = true;
    });
    let result = SourceConn::new(daemon, h, io, peer, connect_rtt)
        .run(rd, wr)
        .await;
    h.update_source(peer, |s| {
        s.connected = false;
        s.bytes_per_sec = 0;
    });
    result
}

/// Connects, runs TLS pinned to the source's key, sends our hello with the download ticket and
/// waits for the peer's welcome. Also returns how long the TCP connect took: one round trip, the
/// first measure of the source's.
async fn handshake(
    daemon: &Daemon,
    peer: PeerKey,
    source: &SourceAddr,
    ticket: &SignedTicket,
) -> Result<(SeederReader, SeederWriter, Duration), SourceError> {
    let addr = source.addr.as_str();
    let connect_started = Instant::now();
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| SourceError::ConnectTimedOut)??;
    let connect_rtt = connect_started.elapsed();
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + WELCOME_TIMEOUT;
    let tls = tokio::time::timeout_at(deadline, daemon.identity.tls.connect(source.key, stream))
        .await
        .map_err(|_| SourceError::NoWelcome)?
        .map_err(|e| match proto::tls::peer::key_mismatch(&e) {
            Some(mismatch) => SourceError::WrongSeederKey {
                peer,
                addr: addr.to_string(),
                mismatch: mismatch.clone(),
            },
            None => SourceError::Handshake(e),
        })?;
    let (rd, mut wr) = tokio::io::split(tls);
    let mut rd = BufReader::with_capacity(READ_BUF_BYTES, rd);
    let hello = PeerFrame::Hello {
        version: PEER_VERSION,
        peer_id: daemon.peer_id,
        ticket: ticket.clone(),
    };
    tokio::time::timeout_at(deadline, hello.write_to(&mut wr))
        .await
        .map_err(|_| SourceError::NoWelcome)??;
    let first = tokio::time::timeout_at(deadline, read_frame_start(&mut rd))
        .await
        .map_err(|_| SourceError::NoWelcome)??
        .ok_or(SourceError::ClosedBeforeWelcome)?;
    match first {
        FrameStart::Other(PeerFrame::Welcome) => {
            tracing::debug!(peer, %addr, ?connect_rtt, "connected");
            Ok((rd, wr, connect_rtt))
        }
        FrameStart::Other(PeerFrame::Refused(why)) => Err(SourceError::Refused(why)),
        _ => Err(SourceError::BadHandshake),
    }
}
