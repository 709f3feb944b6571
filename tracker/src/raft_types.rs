//! The openraft type configuration and the replicated commands ([`Cmd`]) carried, grouped in a
//! [`CmdBatch`], in each entry.
//!
//! Everything nondeterministic (time, tokens, password hashes, peer ids) is chosen by the node
//! that proposes and travels inside the command, so `apply` on every node computes the same state.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use proto::tracker_msg::{FileManifest, Response};
use proto::ApiError;

/// Raft node id.
pub type NodeId = u64;

/// What the membership records about each node: where to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Client API address (`host:port`).
    pub api_addr: String,
    /// Raft RPC address (`host:port`).
    pub raft_addr: String,
}

impl std::fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "api={} raft={}", self.api_addr, self.raft_addr)
    }
}

/// Identity of a client write, for at-most-once application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Random id of the client.
    pub client_id: u64,
    /// Serial of this write for that client.
    pub serial: u64,
}

/// A 256-bit session token.
pub type TokenBytes = [u8; 32];

/// One replicated command: who sent it, when (leader's clock), and what it does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cmd {
    /// The client write this came from; `None` for commands the leader makes itself.
    pub origin: Option<Origin>,
    /// Leader's wall clock when proposing (ms since the Unix epoch).
    pub now_ms: u64,
    /// The operation.
    pub op: Op,
}

/// Operations of the replicated state machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    /// Create an account with an already computed argon2id hash.
    CreateUser {
        /// Username.
        username: String,
        /// PHC-format argon2id hash (salt included).
        password_hash: String,
    },
    /// Open a session (password already verified by the proposing leader).
    OpenSession {
        /// Username.
        username: String,
        /// Random token chosen by the leader.
        token: TokenBytes,
        /// Expiry (ms since the epoch).
        expires_at_ms: u64,
    },
    /// Close a session.
    CloseSession {
        /// Token to drop.
        token: TokenBytes,
    },
    /// Create a group.
    CreateGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// File a join request.
    JoinGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// Leave a group.
    LeaveGroup {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
    },
    /// Accept a join request (owner).
    AcceptJoin {
        /// Caller's session.
        token: TokenBytes,
        /// Group name.
        group: String,
        /// Whose request.
        username: String,
    },
    /// Register a peer daemon.
    RegisterPeer {
        /// Caller's session.
        token: TokenBytes,
        /// Peer id.
        peer_id: u64,
        /// Serving address.
        addr: String,
    },
    /// Register a file with this peer as full seeder.
    RegisterFile {
        /// Caller's session.
        token: TokenBytes,
        /// Seeding peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File metadata.
        manifest: FileManifest,
    },
    /// Batched chunk availability.
    ReportHave {
        /// Caller's session.
        token: TokenBytes,
        /// Reporting peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File name.
        name: String,
        /// Chunks now held.
        chunks: Vec<u32>,
    },
    /// Withdraw availability.
    StopShare {
        /// Caller's session.
        token: TokenBytes,
        /// Peer.
        peer_id: u64,
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
    /// Set the cluster's ticket signing key, if it has none yet (chosen by the leader).
    SetClusterKey {
        /// Ed25519 secret key bytes.
        secret: [u8; 32],
    },
    /// Forget the at-most-once records of clients idle since before `before_ms` (chosen by the
    /// leader), so the client table does not grow forever.
    PruneClients {
        /// Records applied before this time (ms since the epoch) are dropped.
        before_ms: u64,
    },
    /// Liveness: mark peers online or offline (one entry for a whole batch).
    SetPeersOnline {
        /// Peers to change.
        peer_ids: Vec<u64>,
        /// New state.
        online: bool,
    },
}

/// The result of applying one entry: the reply to hand the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmdResult(pub Result<Response, ApiError>);

impl Default for CmdResult {
    fn default() -> Self {
        CmdResult(Ok(Response::Done))
    }
}

pub use crate::cmd_batch::CmdBatch;

/// The results of one entry's commands, in order (empty for blank and membership entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult(pub Vec<CmdResult>);

openraft::declare_raft_types!(
    /// Type configuration of the tracker's Raft group.
    pub TypeConfig:
        D = CmdBatch,
        R = BatchResult,
        NodeId = NodeId,
        Node = NodeInfo,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
);

/// The tracker's Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;

/// Storage error of this type config.
pub type StorageError = openraft::StorageError<NodeId>;
