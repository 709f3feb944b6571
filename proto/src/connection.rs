//! One multiplexed client connection to a tracker: TLS (checked against the cluster CA, see
//! [`ClientTls`]), then a writer task, a reader task, and a table of requests in flight keyed by
//! request id, so several requests share one socket. Each answer
//! comes with the [`ReplyMeta`] of the node that sent it ([`Connection::call_traced`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::client::TlsStream;

use crate::error::ApiError;
use crate::frame::{
    push_message, read_message, write_message, FrameError, MAX_API_FRAME_BYTES, MAX_BATCH_BYTES,
};
use crate::tls::ClientTls;
use crate::tracker_msg::{
    ClientFrame, ReplyMeta, Request, Response, ServerFrame, API_MAGIC, API_VERSION,
};

/// An answer and the meta of the reply that carried it (`None` if this side refused the request
/// before sending it).
pub type TracedAnswer = (Result<Response, ApiError>, Option<ReplyMeta>);

/// The reply slot of one request in flight.
type ReplySlot = oneshot::Sender<TracedAnswer>;

/// The socket under a connection.
type Stream = TlsStream<TcpStream>;

/// Requests in flight on one connection, by request id.
type Pending = Arc<Mutex<HashMap<u64, ReplySlot>>>;

/// Why a request did not get an answer over this connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// TCP connect failed or timed out.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// Address tried.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The TLS handshake failed: the server's certificate is not this cluster's tracker's, or
    /// the server does not speak TLS 1.3.
    #[error("TLS with {addr} failed: {reason}; check --ca (the cluster's ca.pem)")]
    Tls {
        /// Address tried.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The server refused or garbled the handshake.
    #[error("handshake with {addr} failed: {reason}")]
    Handshake {
        /// Address tried.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The connection closed before the answer arrived.
    #[error("connection to {0} closed")]
    Closed(String),
}

/// A live, multiplexed connection to one tracker node.
pub struct Connection {
    /// Address this connection goes to.
    addr: String,
    /// Raft id of the node, from its handshake.
    node_id: u64,
    /// Feeds the writer task.
    outbox: mpsc::Sender<(Request, ReplySlot)>,
    /// Set by either task when the socket is gone.
    closed: Arc<AtomicBool>,
    /// The writer and reader tasks, which own the socket's halves.
    tasks: [tokio::task::AbortHandle; 2],
}

impl Drop for Connection {
    /// Ends both tasks, so the socket closes with the last handle on the connection (the reader
    /// would otherwise wait on it until the server closed it, and hold one of the server's
    /// connection places meanwhile). Requests still in flight are answered "connection closed".
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Connection {
    /// Connects, runs the TLS handshake with `tls` and then the version handshake, each bounded
    /// by `timeout`.
    ///
    /// # Errors
    /// [`ConnectionError::Connect`] if the socket cannot be opened within `timeout`,
    /// [`ConnectionError::Tls`] if TLS fails or takes longer, [`ConnectionError::Handshake`] if
    /// the server refuses or does not answer in time.
    pub async fn open(
        addr: &str,
        tls: &ClientTls,
        timeout: Duration,
    ) -> Result<Self, ConnectionError> {
        let connect_err = |reason: String| ConnectionError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| connect_err("timed out".into()))?
            .map_err(|e| connect_err(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let tls_err = |reason: String| ConnectionError::Tls {
            addr: addr.to_string(),
            reason,
        };
        let stream = tokio::time::timeout(timeout, tls.connect(stream))
            .await
            .map_err(|_| tls_err("no TLS handshake in time".into()))?
            .map_err(|e| tls_err(e.to_string()))?;
        let (rd, mut wr) = tokio::io::split(stream);
        let mut rd = BufReader::new(rd);
        let handshake = async {
            let hello = ClientFrame::Hello {
                magic: API_MAGIC,
                version: API_VERSION,
            };
            write_message(&mut wr, &hello, MAX_API_FRAME_BYTES).await?;
            read_message::<ServerFrame, _>(&mut rd, MAX_API_FRAME_BYTES).await
        };
        let hs_err = |reason: String| ConnectionError::Handshake {
            addr: addr.to_string(),
            reason,
        };
        let node_id = match tokio::time::timeout(timeout, handshake).await {
            Err(_) => return Err(hs_err("no answer in time".into())),
            Ok(Err(e)) => return Err(hs_err(e.to_string())),
            Ok(Ok(Some(ServerFrame::Welcome { node_id, .. }))) => node_id,
            Ok(Ok(Some(ServerFrame::Refused(e)))) => return Err(hs_err(e.to_string())),
            Ok(Ok(other)) => return Err(hs_err(format!("unexpected answer {other:?}"))),
        };

        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let (outbox, inbox) = mpsc::channel(256);
        let writer = tokio::spawn(task_write(wr, inbox, pending.clone(), closed.clone()));
        let reader = tokio::spawn(task_read(rd, pending, closed.clone()));
        Ok(Connection {
            addr: addr.to_string(),
            node_id,
            outbox,
            closed,
            tasks: [writer.abort_handle(), reader.abort_handle()],
        })
    }

    /// Raft id of the node at the other end.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// Whether the socket is known to be gone.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.outbox.is_closed()
    }

    /// Sends one request and waits for its answer (no timeout here; the caller bounds it).
    ///
    /// # Errors
    /// [`ConnectionError::Closed`] if the connection dies before the answer arrives.
    pub async fn call(
        &self,
        request: Request,
    ) -> Result<Result<Response, ApiError>, ConnectionError> {
        self.call_traced(request).await.map(|(answer, _)| answer)
    }

    /// [`Connection::call`], also returning the [`ReplyMeta`] of the reply (which node answered,
    /// its term and applied index).
    ///
    /// # Errors
    /// [`ConnectionError::Closed`] if the connection dies before the answer arrives.
    pub async fn call_traced(&self, request: Request) -> Result<TracedAnswer, ConnectionError> {
        let (slot, answer) = oneshot::channel();
        self.outbox
            .send((request, slot))
            .await
            .map_err(|_| ConnectionError::Closed(self.addr.clone()))?;
        answer
            .await
            .map_err(|_| ConnectionError::Closed(self.addr.clone()))
    }
}

/// Assigns request ids, records the reply slot, and writes frames until the outbox closes. The
/// requests already queued go out together, in one write and one flush (so in as few TLS
/// records as fit), up to [`MAX_BATCH_BYTES`].
async fn task_write(
    mut wr: WriteHalf<Stream>,
    mut inbox: mpsc::Receiver<(Request, ReplySlot)>,
    pending: Pending,
    closed: Arc<AtomicBool>,
) {
    let mut next_id: u64 = 0;
    let mut batch = Vec::new();
    'connection: while let Some(first) = inbox.recv().await {
        batch.clear();
        let mut next = Some(first);
        while let Some((request, slot)) = next.take() {
            if closed.load(Ordering::Acquire) {
                break 'connection;
            }
            next_id += 1;
            let frame = ClientFrame::Request {
                id: next_id,
                request,
            };
            match push_message(&mut batch, &frame, MAX_API_FRAME_BYTES) {
                Ok(()) => {
                    if let Ok(mut map) = pending.lock() {
                        map.insert(next_id, slot);
                    }
                }
                Err(e) => {
                    // Refused here, before it was sent; the connection goes on.
                    let refusal = match e {
                        FrameError::TooLarge { len, max } => ApiError::InvalidRequest(format!(
                            "request of {len} bytes exceeds the {max}-byte frame limit"
                        )),
                        other => ApiError::InvalidRequest(other.to_string()),
                    };
                    let _ = slot.send((Err(refusal), None));
                }
            }
            if batch.len() < MAX_BATCH_BYTES {
                next = inbox.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let sent = async {
            wr.write_all(&batch).await?;
            wr.flush().await
        };
        if let Err(e) = sent.await {
            tracing::debug!(%e, "client connection write failed");
            break;
        }
    }
    closed.store(true, Ordering::Release);
    // Dropping the pending slots wakes every waiter with "closed".
    if let Ok(mut map) = pending.lock() {
        map.clear();
    }
}

/// Routes each reply to its waiter until the socket ends.
async fn task_read(mut rd: BufReader<ReadHalf<Stream>>, pending: Pending, closed: Arc<AtomicBool>) {
    loop {
        match read_message::<ServerFrame, _>(&mut rd, MAX_API_FRAME_BYTES).await {
            Ok(Some(ServerFrame::Reply { id, result, meta })) => {
                let slot = pending.lock().ok().and_then(|mut map| map.remove(&id));
                if let Some(slot) = slot {
                    let _ = slot.send((result, Some(meta)));
                }
            }
            Ok(Some(other)) => {
                tracing::debug!(?other, "unexpected frame from tracker");
                break;
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(%e, "client connection read failed");
                break;
            }
        }
    }
    closed.store(true, Ordering::Release);
    if let Ok(mut map) = pending.lock() {
        map.clear();
    }
}
