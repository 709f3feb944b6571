//! One source peer: connecting and reconnecting with a backoff, and the handshake. The live
//! connection after the handshake is [`super::source::SourceConn`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use proto::peer_msg::{read_frame_start, FrameStart, PeerFrame, PEER_VERSION};
use proto::ticket::SignedTicket;

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
/// The peer answers the hello within this long.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
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
    addr: &str,
    ticket: &SignedTicket,
) -> Result<(), SourceError> {
    let (rd, wr) = handshake(daemon, peer, addr, ticket).await?;
    SourceConn::new(daemon, h, io, peer).run(rd, wr).await
}

/// Connects, sends our hello with the download ticket and waits for the peer's welcome.
async fn handshake(
    daemon: &Daemon,
    peer: PeerKey,
    addr: &str,
    ticket: &SignedTicket,
) -> Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf), SourceError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| SourceError::ConnectTimedOut)??;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(READ_BUF_BYTES, rd);
    let hello = PeerFrame::Hello {
        version: PEER_VERSION,
        peer_id: daemon.peer_id,
        ticket: ticket.clone(),
    };
    hello.write_to(&mut wr).await?;
    let first = tokio::time::timeout(WELCOME_TIMEOUT, read_frame_start(&mut rd))
        .await
        .map_err(|_| SourceError::NoWelcome)??
        .ok_or(SourceError::ClosedBeforeWelcome)?;
    match first {
        FrameStart::Other(PeerFrame::Welcome) => {
            tracing::debug!(peer, %addr, "connected");
            Ok((rd, wr))
        }
        FrameStart::Other(PeerFrame::Refused(why)) => Err(SourceError::Refused(why)),
        _ => Err(SourceError::BadHandshake),
    }
}
