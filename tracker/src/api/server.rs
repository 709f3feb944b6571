//! The client API listener: TLS (bounded by [`HANDSHAKE_TIMEOUT`]; a connection whose client
//! certificate is valid for [`ADMIN_NAME`] is an admin connection), the hello, then every request
//! of a connection runs in its own task (so one connection carries several at once) and its reply
//! goes back through a writer task. A client that does not speak TLS fails at its first byte.
//! A malformed or oversized frame closes that connection only; the node keeps serving others.
//! Every reply carries the node's [`ReplyMeta`](proto::tracker_msg::ReplyMeta) from [`ServedBy`].
//!
//! Connections are capped in all and per source address (`--max-connections`,
//! `--max-connections-per-source`, enforced by [`proto::accept::serve_each_capped`] before the
//! handshake), and one with no request in flight that sends nothing for `--idle-timeout-secs` is
//! closed ([`idle_for`]); a client reconnects when it next needs the node.
//!
//! Replies are bounded: an error is sent as [`ApiError::bounded`], and a reply that would not fit
//! one frame (a very long list) is replaced by a short error naming its size
//! (`reply_frame_bytes`), so the writer never fails on what it is given and one oversized
//! reply cannot stop the replies after it. Only a failing socket ends the writer.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use proto::conn_limits::ConnCounter;
use proto::frame::{
    push_frame, read_hello, read_message, write_message, MAX_API_FRAME_BYTES, MAX_BATCH_BYTES,
};
use proto::tls::{names, NodeTls, ADMIN_NAME};
use proto::tracker_msg::{ClientFrame, Request, Response, ServerFrame, API_MAGIC, API_VERSION};
use proto::ApiError;

use super::admin::Role;
use super::{admin, read, write};
use crate::app::App;
use crate::counters::{bump, RequestKind, COUNTERS};
use crate::served_by::ServedBy;

/// How long a new connection may take for the TLS handshake, and then again to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Most requests one connection may have in flight.
const MAX_IN_FLIGHT_PER_CONNECTION: usize = 1024;

/// Accepts client connections forever, over TLS with `tls`, under the caps of `caps` (made
/// from `--max-connections` and `--max-connections-per-source`; the HTTP surface reads its
/// counts); replies carry `served_by`'s meta.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    served_by: Arc<ServedBy>,
    tls: NodeTls,
    caps: ConnCounter,
) {
    let acceptor = tls.api_acceptor();
    proto::accept::serve_each_capped(
        listener,
        "api",
        caps,
        |addr| tracing::debug_span!("api_conn", client = %addr),
        |stream| handle(stream, acceptor.clone(), app.clone(), served_by.clone()),
    )
    .await;
}

/// When a connection last received a request or sent a reply, as time since it opened.
#[derive(Debug)]
struct Activity {
    /// The connection's start.
    opened: Instant,
    /// Milliseconds from `opened` to the last request or reply.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Something was received or sent now.
    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the connection falls idle for `idle` unless something happens first.
    fn idle_at(&self, idle: Duration) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
    }
}

/// Resolves once the connection has had no request in flight (all of `permits` back) and no
/// activity for `idle`. The read it races is dropped when this wins, and the connection closes,
/// so a frame cut off half-read is never resumed.
async fn idle_for(idle: Duration, activity: &Activity, permits: &tokio::sync::Semaphore) {
    loop {
        let at = activity.idle_at(idle);
        tokio::time::sleep_until(at.into()).await;
        let in_flight = permits.available_permits() < MAX_IN_FLIGHT_PER_CONNECTION;
        if !in_flight && activity.idle_at(idle) <= Instant::now() {
            return;
        }
        if in_flight {
            // A request is running: look again once it could have been answered.
            activity.touch();
        }
    }
}

async fn handle(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    served_by: Arc<ServedBy>,
) -> Result<(), String> {
    bump(&COUNTERS.connections_accepted);
    let _ = stream.set_nodelay(true);
    // Where the client is, for the login throttle (unspecified if the socket cannot say).
    let source = stream
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| "no TLS handshake in time".to_string())
        .and_then(|r| r.map_err(|e| format!("TLS handshake failed: {e}")))
        .inspect_err(|_| bump(&COUNTERS.tls_handshake_failures))?;
    let role = if names::is_valid_for(stream.get_ref().1.peer_certificates(), ADMIN_NAME) {
        Role::Admin
    } else {
        Role::User
    };
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = BufReader::new(rd);
    let hello =
        read_hello::<ClientFrame, _>(&mut rd, MAX_API_FRAME_BYTES, HANDSHAKE_TIMEOUT).await?;
    let refusal = match hello {
        Some(ClientFrame::Hello { magic, version })
            if magic == API_MAGIC && version == API_VERSION =>
        {
            None
        }
        Some(ClientFrame::Hello { magic, version }) if magic == API_MAGIC => {
            Some(ApiError::VersionMismatch {
                client: version,
                server: API_VERSION,
            })
        }
        _ => Some(ApiError::InvalidRequest(
            "the first frame must be a hello with the tracker protocol's magic number".into(),
        )),
    };
    if let Some(e) = refusal {
        let _ = write_message(
            &mut wr,
            &ServerFrame::Refused(e.clone()),
            MAX_API_FRAME_BYTES,
        )
        .await;
        return Err(e.to_string());
    }
    let welcome = ServerFrame::Welcome {
        version: API_VERSION,
        node_id: app.id,
    };
    write_message(&mut wr, &welcome, MAX_API_FRAME_BYTES)
        .await
        .map_err(|e| e.to_string())?;

    let (reply_tx, reply_rx) = mpsc::channel::<ServerFrame>(256);
    let writer = tokio::spawn(task_write_replies(wr, reply_rx));
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PER_CONNECTION));
    let activity = Arc::new(Activity::new());
    let idle = app.config.idle_timeout;
    let outcome = loop {
        let read = tokio::select! {
            read = read_message::<ClientFrame, _>(&mut rd, MAX_API_FRAME_BYTES) => read,
            () = idle_for(idle, &activity, &permits) => {
                tracing::debug!(?idle, "closing an idle client connection");
                break Ok(());
            }
        };
        activity.touch();
        let frame = match read {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => {
                tracing::warn!(%e, "bad frame on the client port; closing the connection");
                break Err(e.to_string());
            }
        };
        let ClientFrame::Request { id, request } = frame else {
            break Err("hello after the handshake".to_string());
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break Err("semaphore closed".to_string());
        };
        let app = app.clone();
        let served_by = served_by.clone();
        let reply_tx = reply_tx.clone();
        let activity = activity.clone();
        tokio::spawn(async move {
            let result = dispatch(&app, request, source, role)
                .await
                .map_err(ApiError::bounded);
            let meta = served_by.meta();
            let _ = reply_tx.send(ServerFrame::Reply { id, result, meta }).await;
            activity.touch();
            drop(permit);
        });
    };
    drop(reply_tx);
    let _ = writer.await;
    outcome
}

/// The encoded `frame`, or, if it does not encode within `max_bytes`, the encoding of a reply
/// with the same id and meta whose result is a short [`ApiError::Internal`] saying why.
fn reply_frame_bytes(frame: ServerFrame, max_bytes: usize) -> Vec<u8> {
    let why = match proto::frame::encode(&frame) {
        Ok(body) if body.len() <= max_bytes => return body,
        Ok(body) => format!(
            "the answer is {} bytes, more than the {max_bytes}-byte frame limit",
            body.len()
        ),
        Err(e) => format!("the answer could not be encoded: {e}"),
    };
    tracing::warn!(%why, "reply replaced by an error");
    let (id, meta) = match frame {
        ServerFrame::Reply { id, meta, .. } => (id, meta),
        _ => (0, Default::default()),
    };
    let refusal = ServerFrame::Reply {
        id,
        result: Err(ApiError::Internal(why).bounded()),
        meta,
    };
    // A reply holding one bounded error always encodes, far below any frame limit.
    proto::frame::encode(&refusal).unwrap_or_default()
}

/// Writes replies until the channel closes. The replies already waiting go out together, in one
/// write and one flush (so in as few TLS records as fit), up to [`MAX_BATCH_BYTES`].
async fn task_write_replies(
    mut wr: impl tokio::io::AsyncWrite + Unpin,
    mut replies: mpsc::Receiver<ServerFrame>,
) {
    let mut batch = Vec::new();
    while let Some(first) = replies.recv().await {
        batch.clear();
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            let body = reply_frame_bytes(frame, MAX_API_FRAME_BYTES);
            if let Err(e) = push_frame(&mut batch, &body, MAX_API_FRAME_BYTES) {
                // reply_frame_bytes keeps every body within the limit; this is never reached.
                tracing::warn!(%e, "api reply not sent");
            }
            if batch.len() < MAX_BATCH_BYTES {
                next = replies.try_recv().ok();
            }
        }
        let sent = async {
            wr.write_all(&batch).await?;
            wr.flush().await
        };
        if let Err(e) = sent.await {
            tracing::debug!(%e, "api reply write failed");
            break;
        }
    }
}

/// Runs one request from a client at `source` on a connection of `role`.
async fn dispatch(
    app: &App,
    request: Request,
    source: IpAddr,
    role: Role,
) -> Result<Response, ApiError> {
    let (kind, result) = match request {
        Request::Write(w) => (RequestKind::Write, write::handle(app, w, source).await),
        Request::Read(r) => (RequestKind::Read, read::handle(app, r).await),
        Request::Admin(a) => (RequestKind::Admin, admin::handle(app, a, role).await),
    };
    COUNTERS.request_done(kind, &result);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::tracker_msg::{GroupSummary, Page, ReplyMeta};

    fn reply(id: u64, result: Result<Response, ApiError>) -> ServerFrame {
        ServerFrame::Reply {
            id,
            result,
            meta: ReplyMeta {
                node_id: 2,
                term: 3,
                applied_index: 4,
            },
        }
    }

    #[test]
    fn a_reply_that_fits_is_sent_as_it_is() {
        let frame = reply(7, Ok(Response::Done));
        let bytes = reply_frame_bytes(frame.clone(), 1024);
        assert_eq!(bytes, proto::frame::encode(&frame).unwrap());
    }

    #[test]
    fn a_reply_over_the_frame_limit_becomes_a_short_error_with_its_id() {
        let groups = (0..100)
            .map(|i| GroupSummary {
                name: format!("group-{i}"),
                owner: "ann".into(),
                member_count: 1,
                is_member: true,
                request_pending: false,
                open: false,
                owner_display_name: None,
            })
            .collect();
        let page = Page {
            items: groups,
            next: None,
        };
        let bytes = reply_frame_bytes(reply(9, Ok(Response::Groups(page))), 1024);
        assert!(bytes.len() < 300, "{} bytes", bytes.len());
        match proto::frame::decode::<ServerFrame>(&bytes).unwrap() {
            ServerFrame::Reply {
                id: 9,
                result: Err(ApiError::Internal(why)),
                meta,
            } => {
                assert!(why.contains("1024-byte frame limit"), "{why}");
                assert_eq!(meta.applied_index, 4);
            }
            other => panic!("{other:?}"),
        }
    }
}
