//! The openraft type configuration of the tracker's Raft group: node ids, what the membership
//! records about a node, and the entry payload ([`CmdBatch`]) and apply result ([`BatchResult`])
//! defined in [`crate::cmd`].

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::cmd::{BatchResult, CmdBatch};

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
