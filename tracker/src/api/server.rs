//! The client API listener: handshake, then every request of a connection runs in its own task
//! (so one connection carries several at once) and its reply goes back through a writer task.
//! A malformed or oversized frame closes that connection only; the node keeps serving others.
//! Every reply carries the node's [`ReplyMeta`](proto::tracker_msg::ReplyMeta) from [`ServedBy`].

use std::sync::Arc;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use proto::frame::{read_hello, read_message, write_message, MAX_API_FRAME_BYTES};
use proto::tracker_msg::{ClientFrame, Request, Response, ServerFrame, API_MAGIC, API_VERSION};
use proto::ApiError;

use super::{admin, read, write};
use crate::app::App;
use crate::served_by::ServedBy;

/// How long a new connection may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Most requests one connection may have in flight.
const MAX_IN_FLIGHT_PER_CONNECTION: usize = 1024;

/// Accepts client connections forever; replies carry `served_by`'s meta.
pub async fn serve(listener: TcpListener, app: Arc<App>, served_by: Arc<ServedBy>) {
    proto::accept::serve_each(
        listener,
        "api",
        |addr| tracing::debug_span!("api_conn", client = %addr),
        |stream| handle(stream, app.clone(), served_by.clone()),
    )
    .await;
}

async fn handle(stream: TcpStream, app: Arc<App>, served_by: Arc<ServedBy>) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
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

    let (reply_tx, mut reply_rx) = mpsc::channel::<ServerFrame>(256);
    let writer = tokio::spawn(async move {
        while let Some(frame) = reply_rx.recv().await {
            if let Err(e) = write_message(&mut wr, &frame, MAX_API_FRAME_BYTES).await {
                tracing::debug!(%e, "api reply write failed");
                break;
            }
        }
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PER_CONNECTION));
    let outcome = loop {
        let frame = match read_message::<ClientFrame, _>(&mut rd, MAX_API_FRAME_BYTES).await {
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
        tokio::spawn(async move {
            let result = dispatch(&app, request).await;
            let meta = served_by.meta();
            let _ = reply_tx.send(ServerFrame::Reply { id, result, meta }).await;
            drop(permit);
        });
    };
    drop(reply_tx);
    let _ = writer.await;
    outcome
}

/// Runs one request.
async fn dispatch(app: &App, request: Request) -> Result<Response, ApiError> {
    match request {
        Request::Write(w) => write::handle(app, w).await,
        Request::Read(r) => read::handle(app, r).await,
        Request::Admin(a) => admin::handle(app, a).await,
    }
}
