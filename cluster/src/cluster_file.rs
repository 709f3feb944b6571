//! `DIR/cluster.json`: the nodes of a cluster started by `cluster up`, for `down`, `status`,
//! `start-node` and operator scripts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One node as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Raft id.
    pub id: u64,
    /// Client API address.
    pub api_addr: String,
    /// Raft address.
    pub raft_addr: String,
    /// PID of the last process started for it (0 if never started).
    pub pid: u32,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its HTTP surface (`/metrics`, `/readyz`, `/v1/status`, `/`), if it has one. Absent in
    /// files written before there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFile {
    /// Comma-separated client API addresses, ready for `--trackers`.
    pub trackers: String,
    /// Every node.
    pub nodes: Vec<NodeEntry>,
    /// Extra flags every tracker of this cluster is started with.
    #[serde(default)]
    pub tracker_args: Vec<String>,
    /// The cluster CA's certificate (`--ca` for trackers, peers and `cluster --trackers`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The admin credential's certificate (`--admin-cert`).
    #[serde(default)]
    pub admin_cert: Option<PathBuf>,
    /// The admin credential's key (`--admin-key`).
    #[serde(default)]
    pub admin_key: Option<PathBuf>,
}

/// Errors reading or writing the file.
#[derive(Debug, thiserror::Error)]
pub enum ClusterFileError {
    /// Cannot read or write.
    #[error("cannot access {path}: {source}; start a cluster there with `cluster up --dir`")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON of the expected shape.
    #[error("{path} is not a valid cluster file: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
}

/// Path of the cluster file in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join("cluster.json")
}

impl ClusterFile {
    /// Reads `dir/cluster.json`.
    ///
    /// # Errors
    /// [`ClusterFileError`] if it is missing or malformed.
    pub fn load(dir: &Path) -> Result<Self, ClusterFileError> {
        let path = path_in(dir);
        let text = std::fs::read_to_string(&path).map_err(|source| ClusterFileError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| ClusterFileError::Invalid {
            path,
            reason: e.to_string(),
        })
    }

    /// Writes `dir/cluster.json` atomically (temp file, then rename).
    ///
    /// # Errors
    /// [`ClusterFileError::Io`].
    pub fn save(&self, dir: &Path) -> Result<(), ClusterFileError> {
        let path = path_in(dir);
        let tmp = dir.join("cluster.json.tmp");
        let io = |source| ClusterFileError::Io {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| ClusterFileError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}
