//! Snapshot files of a cluster's replicated state ([`tracker::backup::file`]'s format):
//! [`save`](mod@save) copies an export from the leader (or, for recovery, from one named node's
//! local state) into a file, and [`restore`](mod@restore) checks such a file and seeds the data
//! directories of a new cluster from it.

pub mod restore;
pub mod save;

pub use restore::{read_snapshot_file, restore, Restored};
pub use save::{save, Saved};

use std::path::PathBuf;

/// Why saving or restoring a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A tracker refused or could not be reached.
    #[error(transparent)]
    Api(#[from] proto::ApiError),
    /// No leader answered the export within the tries.
    #[error("no leader took the snapshot: {0}")]
    NoLeader(String),
    /// `--from-node` names a node no listed tracker is.
    #[error("no tracker in the list is node {0}; pass its address in --trackers")]
    NodeNotFound(u64),
    /// The export's bytes do not add up (length or digest).
    #[error("the export from node {node} is inconsistent: {reason}")]
    BadExport {
        /// The node that served it.
        node: u64,
        /// What did not match.
        reason: String,
    },
    /// The file is not a usable snapshot.
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The restore target already holds something.
    #[error("{0} is not empty; restore into a new directory")]
    DirNotEmpty(PathBuf),
    /// Seeding a node's data directory failed.
    #[error("node {id}: {source}")]
    Seed {
        /// The node.
        id: u64,
        /// Why.
        #[source]
        source: tracker::backup::SeedError,
    },
    /// The new cluster's directory, certificates or file.
    #[error(transparent)]
    Cluster(#[from] crate::local::ClusterError),
    /// Local file I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}
