//! Messages on the Raft port. A connection opens with [`RaftRequest::Hello`] in plaintext (it
//! names the sending node, for the fault-injecting proxies of the chaos tests and for the
//! server's check), then TLS with client certificates: the server accepts the connection only if
//! the client's certificate is valid for the Raft name of the node the hello named. Every other
//! frame, the [`RaftReply::Welcome`] included, travels inside TLS.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::raft_types::{NodeId, TypeConfig};

/// Magic number opening every Raft connection ("P2PR").
pub const RAFT_MAGIC: u32 = 0x5032_5052;

/// Version of the Raft port protocol (2: mutual TLS after the hello).
pub const RAFT_VERSION: u32 = 3;

/// Largest hello accepted (it is a few bytes; it is read before TLS authenticates anyone).
pub const MAX_HELLO_BYTES: usize = 64;

/// Frames a node sends to a peer's Raft port.
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRequest {
    /// First frame.
    Hello {
        /// Must be [`RAFT_MAGIC`].
        magic: u32,
        /// Must be [`RAFT_VERSION`].
        version: u32,
        /// Sender's node id; its TLS certificate must be valid for this node's Raft name.
        from: NodeId,
    },
    /// Log replication and heartbeats.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Election.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Pre-vote: does the receiver still hear a leader? Asked before a campaign that no closed
    /// connection justifies (see `crate::election::pre_vote`).
    HearsLeader,
}

/// Frames a node answers on its Raft port.
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftReply {
    /// Handshake accepted.
    Welcome {
        /// Receiver's node id.
        node_id: NodeId,
    },
    /// Handshake refused; the connection closes.
    Refused(String),
    /// Answer to [`RaftRequest::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`RaftRequest::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`RaftRequest::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// Answer to [`RaftRequest::HearsLeader`]: true if the receiver leads, or accepted an
    /// AppendEntries within the lease (the maximum election timeout).
    HearsLeader(bool),
}
