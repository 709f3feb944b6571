//! The outgoing side of the Raft network: one connection per (replication stream, target), owned
//! by a task of its own ([`LinkTask`]) and reopened lazily after a failure. A connection sends the
//! plaintext hello, then runs TLS presenting this node's certificate and checking the target's is
//! valid for its Raft name (`node-<target>.raft`), so an address that now belongs to another node
//! or another cluster is refused before any RPC.
//!
//! openraft gives an AppendEntries one heartbeat interval and then drops the future. If the future
//! owned the socket, a slow answer (a follower whose flush stalls under load) would leave half an
//! exchange on it, so the connection would have to be closed, and every timeout would cost a new
//! TCP and TLS handshake, which under load times out in turn; the follower would also see the
//! closed connection, which is how a crashed leader looks ([`crate::election::leader_link`]). So
//! each exchange runs in a task of its own that the caller only waits for: a caller that gives up
//! leaves the task to finish the exchange, throw the late reply away and put the connection back
//! in the link's pool. The next request takes an idle connection, or opens another (at most
//! [`CONNECTIONS_PER_LINK`]) while the slow one is still busy, so a heartbeat reaches a follower
//! whose last append is still being flushed, as openraft expects of a fresh attempt. A request
//! whose caller gave up before a connection was free is dropped unsent. Only an I/O error, or an
//! exchange stuck for [`STUCK_LIMIT`], closes a connection.
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
use std::sync::{Arc, Mutex};
use tokio::io::BufReader;
use tokio::net::TcpStream;

use tokio::sync::{oneshot, Semaphore};
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

/// An exchange (connecting included) that has not finished after this long, or after its own
/// time limit if that is longer, closes its connection: the target is stuck, not slow.
pub const STUCK_LIMIT: Duration = Duration::from_secs(5);

/// Exchanges one link runs at once, each on its own connection (see the module doc).
pub const CONNECTIONS_PER_LINK: usize = 4;

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
            dialer: Dialer {
                self_id: self.self_id,
                target,
                addr: node.raft_addr.clone(),
                tls: self.tls.clone(),
            },
            pool: Arc::new(Pool {
                idle: Mutex::new(Vec::new()),
                slots: Semaphore::new(CONNECTIONS_PER_LINK),
            }),
            backoff: self.backoff,
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

/// How to open a connection to one target node.
#[derive(Clone)]
struct Dialer {
    self_id: NodeId,
    target: NodeId,
    addr: String,
    tls: NodeTls,
}

impl Dialer {
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
}

/// A link's open connections not in use, and the slots that bound its exchanges in flight.
struct Pool {
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
}

impl Pool {
    fn take(&self) -> Option<Conn> {
        self.idle.lock().ok().and_then(|mut idle| idle.pop())
    }

    fn put(&self, conn: Conn) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

/// Writes `body` and reads its reply on `conn`, or on a new connection if there is none.
/// Returns the connection with the reply, for reuse.
async fn exchange(
    dialer: &Dialer,
    conn: Option<Conn>,
    body: &[u8],
) -> Result<(RaftReply, Conn), LinkError> {
    let mut conn = match conn {
        Some(c) => c,
        None => dialer.connect().await?,
    };
    write_frame(&mut conn, body, MAX_RAFT_FRAME_BYTES)
        .await
        .map_err(|e| LinkError::Unreachable(std::io::Error::other(e.to_string())))?;
    let reply = read_message::<RaftReply, _>(&mut conn, MAX_RAFT_FRAME_BYTES)
        .await
        .map_err(|e| LinkError::Unreachable(std::io::Error::other(e.to_string())))?
        .ok_or_else(|| {
            LinkError::Unreachable(std::io::Error::other("connection closed by peer"))
        })?;
    Ok((reply, conn))
}

/// Asks node `target` at `addr`, on a connection of its own, whether it still hears a leader
/// (the pre-vote of [`crate::election::pre_vote`]), within `ttl`.
///
/// # Errors
/// A one-line reason if it did not answer in time or answered something else.
pub async fn ask_hears_leader(
    self_id: NodeId,
    target: NodeId,
    addr: String,
    tls: NodeTls,
    ttl: Duration,
) -> Result<bool, String> {
    let dialer = Dialer {
        self_id,
        target,
        addr,
        tls,
    };
    let body = encode(&RaftRequest::HearsLeader).map_err(|e| e.to_string())?;
    match tokio::time::timeout(ttl, exchange(&dialer, None, &body)).await {
        Ok(Ok((RaftReply::HearsLeader(hears), _))) => Ok(hears),
        Ok(Ok((other, _))) => Err(format!("unexpected reply {other:?}")),
        Ok(Err(LinkError::Unreachable(e))) => Err(e.to_string()),
        Ok(Err(LinkError::Protocol(why))) => Err(why),
        Ok(Err(LinkError::Timeout)) | Err(_) => Err(format!("no answer within {ttl:?}")),
    }
}

/// The link to one target node, as openraft sees it.
pub struct PeerLink {
    dialer: Dialer,
    pool: Arc<Pool>,
    backoff: Duration,
}

impl PeerLink {
    /// Sends one request and waits for its reply within `ttl`.
    async fn call(&mut self, req: RaftRequest, ttl: Duration) -> Result<RaftReply, LinkError> {
        let body = encode(&req).map_err(|e| LinkError::Protocol(e.to_string()))?;
        self.call_encoded(body, ttl).await
    }

    /// [`PeerLink::call`] with the request already encoded. The exchange runs in a task of its
    /// own, which outlives a caller that times out (see the module doc).
    async fn call_encoded(&mut self, body: Vec<u8>, ttl: Duration) -> Result<RaftReply, LinkError> {
        let (reply, answer) = oneshot::channel();
        let (pool, dialer) = (self.pool.clone(), self.dialer.clone());
        tokio::spawn(async move {
            let Ok(_slot) = pool.slots.acquire().await else {
                return;
            };
            if reply.is_closed() {
                // Its caller gave up while every connection was busy: drop it unsent.
                return;
            }
            let limit = ttl.max(STUCK_LIMIT);
            let outcome = tokio::time::timeout(limit, exchange(&dialer, pool.take(), &body)).await;
            let result = match outcome {
                Ok(Ok((r, conn))) => {
                    pool.put(conn);
                    Ok(r)
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(LinkError::Unreachable(std::io::Error::other(format!(
                    "node {} at {} did not answer within {limit:?}",
                    dialer.target, dialer.addr
                )))),
            };
            let _ = reply.send(result);
        });
        match tokio::time::timeout(ttl, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(LinkError::Unreachable(std::io::Error::other(
                "the exchange ended without an answer",
            ))),
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
                id: self.dialer.self_id,
                target: self.dialer.target,
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
        let started = std::time::Instant::now();
        let reply = self.call_encoded(body, ttl).await;
        let counters = &crate::counters::COUNTERS;
        counters
            .append_entries_seconds
            .observe_duration(started.elapsed());
        if !matches!(reply, Ok(RaftReply::AppendEntries(Ok(_)))) {
            crate::counters::bump(&counters.append_entries_failures);
        }
        match reply {
            Ok(RaftReply::AppendEntries(Ok(r))) => Ok(r),
            Ok(RaftReply::AppendEntries(Err(e))) => Err(RPCError::RemoteError(RemoteError::new(
                self.dialer.target,
                e,
            ))),
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
            Ok(RaftReply::InstallSnapshot(Err(e))) => Err(RPCError::RemoteError(RemoteError::new(
                self.dialer.target,
                e,
            ))),
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
            Ok(RaftReply::Vote(Err(e))) => Err(RPCError::RemoteError(RemoteError::new(
                self.dialer.target,
                e,
            ))),
            Ok(other) => Err(self.map_err(unexpected(&other), RPCTypes::Vote, ttl)),
            Err(e) => Err(self.map_err(e, RPCTypes::Vote, ttl)),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.backoff))
    }
}

#[cfg(test)]
#[path = "client_test.rs"]
mod tests;
