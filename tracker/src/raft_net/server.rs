//! The Raft port listener: checks the handshake, then answers each RPC on the connection in
//! order. Malformed, oversized or unexpected frames close that connection only.

use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

use super::msg::{RaftReply, RaftRequest, RAFT_MAGIC, RAFT_VERSION};
use crate::raft_types::{NodeId, Raft};
use proto::frame::{read_message, write_message, MAX_RAFT_FRAME_BYTES};

/// How long a new connection may take to say hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts Raft connections until the listener fails or the task is aborted.
pub async fn serve(listener: TcpListener, raft: Raft, self_id: NodeId) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(%e, "raft accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let raft = raft.clone();
        let span = tracing::debug_span!("raft_conn", peer = %addr);
        tokio::spawn(
            async move {
                if let Err(why) = handle(stream, raft, self_id).await {
                    tracing::debug!(%why, "raft connection closed");
                }
            }
            .instrument(span),
        );
    }
}

async fn handle(stream: TcpStream, raft: Raft, self_id: NodeId) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let hello = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        read_message::<RaftRequest, _>(&mut rd, MAX_RAFT_FRAME_BYTES),
    )
    .await
    .map_err(|_| "no hello in time".to_string())?
    .map_err(|e| e.to_string())?;
    match hello {
        Some(RaftRequest::Hello { magic, version, .. })
            if magic == RAFT_MAGIC && version == RAFT_VERSION => {}
        Some(RaftRequest::Hello { version, .. }) => {
            let why = format!(
                "unsupported raft protocol version {version}, this node speaks {RAFT_VERSION}"
            );
            let _ = write_message(
                &mut wr,
                &RaftReply::Refused(why.clone()),
                MAX_RAFT_FRAME_BYTES,
            )
            .await;
            return Err(why);
        }
        _ => return Err("first frame is not a hello".into()),
    }
    write_message(
        &mut wr,
        &RaftReply::Welcome { node_id: self_id },
        MAX_RAFT_FRAME_BYTES,
    )
    .await
    .map_err(|e| e.to_string())?;
    loop {
        let req = match read_message::<RaftRequest, _>(&mut rd, MAX_RAFT_FRAME_BYTES).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(%e, "bad frame on the raft port; closing the connection");
                return Err(e.to_string());
            }
        };
        let reply = match req {
            RaftRequest::AppendEntries(r) => RaftReply::AppendEntries(raft.append_entries(r).await),
            RaftRequest::Vote(r) => RaftReply::Vote(raft.vote(r).await),
            RaftRequest::InstallSnapshot(r) => {
                RaftReply::InstallSnapshot(raft.install_snapshot(r).await)
            }
            RaftRequest::Hello { .. } => return Err("second hello".into()),
        };
        write_message(&mut wr, &reply, MAX_RAFT_FRAME_BYTES)
            .await
            .map_err(|e| e.to_string())?;
    }
}
