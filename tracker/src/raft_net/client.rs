//! The outgoing side of the Raft network: one reused connection per (replication stream,
//! target), reopened lazily after any failure. A connection sends the plaintext hello, then runs
//! TLS presenting this node's certificate and checking the target's is valid for its Raft name
//! (`node-<target>.raft`), so an address that now belongs to another node or another cluster is
//! refused before any RPC.
//!
//! Errors are mapped so openraft backs off a node that is down: a refused or broken connection
//! (or a handshake the peer does not complete) is `Unreachable`, a slow answer is `Timeout`, and
//! the target's own Raft error is `RemoteError`. Nothing maps to `Network`, which openraft retries
//! without any pause.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, PayloadTooLarge, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::msg::{RaftReply, RaftRequest, RAFT_MAGIC, RAFT_VERSION};
use crate::raft_types::{NodeId, NodeInfo, TypeConfig};
use proto::frame::{encode, read_message, write_frame, write_message, MAX_RAFT_FRAME_BYTES};
use proto::tls::NodeTls;

/// A Raft connection after its handshake.
type Conn = BufReader<TlsStream<TcpStream>>;

/// Largest AppendEntries sent with more than one entry. Entries carry whole groups of writes, so a
/// full batch of them could take longer than the heartbeat interval (openraft's time limit for an
/// AppendEntries) to send, append and flush under load.
pub const MAX_APPEND_BYTES: usize = 1 << 20;

/// Builds a [`PeerLink`] per target for openraft.
#[derive(Clone)]
pub struct NetworkFactory {
    /// This node's id, sent in the handshake.
    pub self_id: NodeId,
    /// Delay between attempts to reach a node that is down.
    pub backoff: Duration,
    /// This node's certificate and the cluster CA.
    pub tls: NodeTls,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerLink;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> PeerLink {
        PeerLink {
            self_id: self.self_id,
            target,
            addr: node.raft_addr.clone(),
            conn: None,
            backoff: self.backoff,
            tls: self.tls.clone(),
        }
    }
}

/// Why one RPC attempt failed, before mapping to openraft's error.
enum LinkError {
    /// Could not connect, or the connection broke.
    Unreachable(std::io::Error),
    /// No answer within the RPC's time budget.
    Timeout,
    /// The peer answered with something that is not the expected reply.
    Protocol(String),
}

/// A reused connection to one target node.
pub struct PeerLink {
    self_id: NodeId,
    target: NodeId,
    addr: String,
    conn: Option<Conn>,
    backoff: Duration,
    tls: NodeTls,
}

impl PeerLink {
    async fn connect(&self) -> Result<Conn, LinkError> {
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .map_err(LinkError::Unreachable)?;
        let _ = stream.set_nodelay(true);
        let hello = RaftRequest::Hello {
            magic: RAFT_MAGIC,
            version: RAFT_VERSION,
            from: self.self_id,
        };
        write_message(&mut stream, &hello, MAX_RAFT_FRAME_BYTES)
            .await
            .map_err(|e| LinkError::Unreachable(std::io::Error::other(e.to_string())))?;
        // A failed handshake is most likely a node going away mid-connect; a certificate that
        // is not the target's is as permanent as a wrong id, and both are backed off alike.
        let stream = self
            .tls
            .raft_connect(self.target, stream)
            .await
            .map_err(|e| {
                LinkError::Unreachable(std::io::Error::other(format!(
                    "TLS with node {} at {} failed: {e}",
                    self.target, self.addr
                )))
            })?;
        let mut conn = BufReader::new(stream);
        match read_message::<RaftReply, _>(&mut conn, MAX_RAFT_FRAME_BYTES).await {
            Ok(Some(RaftReply::Welcome { node_id })) if node_id == self.target => Ok(conn),
            Ok(Some(RaftReply::Welcome { node_id })) => Err(LinkError::Protocol(format!(
                "{} is node {node_id}, expected node {}",
                self.addr, self.target
            ))),
            Ok(Some(RaftReply::Refused(why))) => Err(LinkError::Protocol(why)),
            // Closed before the welcome: the node (or a proxy in front of it) is going away.
            Ok(None) => Err(LinkError::Unreachable(std::io::Error::other(format!(
                "{} closed the connection during the handshake",
                self.addr
            )))),
            Ok(Some(other)) => Err(LinkError::Protocol(format!(
                "unexpected handshake answer {other:?}"
            ))),
            Err(e) => Err(LinkError::Unreachable(std::io::Error::other(e.to_string()))),
        }
    }

    /// Sends one request and reads its reply within `ttl`, reconnecting if needed.
    async fn call(&mut self, req: RaftRequest, ttl: Duration) -> Result<RaftReply, LinkError> {
        let body = encode(&req).map_err(|e| LinkError::Protocol(e.to_string()))?;
        self.call_encoded(body, ttl).await
    }

    /// [`PeerLink::call`] with the request already encoded.
    async fn call_encoded(&mut self, body: Vec<u8>, ttl: Duration) -> Result<RaftReply, LinkError> {
        let attempt = async {
            let mut conn = match self.conn.take() {
                Some(c) => c,
                None => self.connect().await?,
            };
            write_frame(&mut conn, &body, MAX_RAFT_FRAME_BYTES)
                .await
                .map_err(|e| LinkError::Unreachable(std::io::Error::other(e.to_string())))?;
            let reply = read_message::<RaftReply, _>(&mut conn, MAX_RAFT_FRAME_BYTES)
                .await
                .map_err(|e| LinkError::Unreachable(std::io::Error::other(e.to_string())))?
                .ok_or_else(|| {
                    LinkError::Unreachable(std::io::Error::other("connection closed by peer"))
                })?;
            Ok::<_, LinkError>((reply, conn))
        };
        match tokio::time::timeout(ttl, attempt).await {
            Ok(Ok((reply, conn))) => {
                // Only a connection that completed a round trip is kept for the next RPC.
                self.conn = Some(conn);
                Ok(reply)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LinkError::Timeout),
        }
    }

    fn map_err<E: std::error::Error>(
        &self,
        e: LinkError,
        action: RPCTypes,
        ttl: Duration,
    ) -> RPCError<NodeId, NodeInfo, E> {
        match e {
            LinkError::Unreachable(io) => RPCError::Unreachable(Unreachable::new(&io)),
            LinkError::Timeout => RPCError::Timeout(Timeout {
                action,
                id: self.self_id,
                target: self.target,
                timeout: ttl,
            }),
            // openraft retries a `Network` error at once, in a tight loop; a peer that speaks
            // the wrong protocol or claims another id will not change its mind within a
            // backoff, so it is treated as unreachable.
            LinkError::Protocol(why) => {
                RPCError::Unreachable(Unreachable::new(&std::io::Error::other(why)))
            }
        }
    }
}

fn unexpected(reply: &RaftReply) -> LinkError {
    LinkError::Protocol(format!("unexpected reply {reply:?}"))
}

impl RaftNetwork<TypeConfig> for PeerLink {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let ttl = option.hard_ttl();
        let entries = rpc.entries.len();
        let body = encode(&RaftRequest::AppendEntries(rpc)).map_err(|e| {
            self.map_err(
                LinkError::Protocol(e.to_string()),
                RPCTypes::AppendEntries,
                ttl,
            )
        })?;
        if body.len() > MAX_APPEND_BYTES && entries > 1 {
            // openraft resends fewer entries at once for the next few requests: an AppendEntries
            // must arrive, be written and flushed within one heartbeat interval.
            let hint = u64::try_from(entries / 2).unwrap_or(1);
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(hint),
            ));
        }
        match self.call_encoded(body, ttl).await {
            Ok(RaftReply::AppendEntries(Ok(r))) => Ok(r),
            Ok(RaftReply::AppendEntries(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(other) => Err(self.map_err(unexpected(&other), RPCTypes::AppendEntries, ttl)),
            Err(e) => Err(self.map_err(e, RPCTypes::AppendEntries, ttl)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let ttl = option.hard_ttl();
        match self.call(RaftRequest::InstallSnapshot(rpc), ttl).await {
            Ok(RaftReply::InstallSnapshot(Ok(r))) => Ok(r),
            Ok(RaftReply::InstallSnapshot(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(other) => Err(self.map_err(unexpected(&other), RPCTypes::InstallSnapshot, ttl)),
            Err(e) => Err(self.map_err(e, RPCTypes::InstallSnapshot, ttl)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let ttl = option.hard_ttl();
        match self.call(RaftRequest::Vote(rpc), ttl).await {
            Ok(RaftReply::Vote(Ok(r))) => Ok(r),
            Ok(RaftReply::Vote(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(other) => Err(self.map_err(unexpected(&other), RPCTypes::Vote, ttl)),
            Err(e) => Err(self.map_err(e, RPCTypes::Vote, ttl)),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.backoff))
    }
}
