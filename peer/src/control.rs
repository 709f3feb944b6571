//! The daemon's local control protocol: the CLI sends one request per connection over the unix
//! socket `HOME/daemon.sock` (mode 0600, so only the owner can use it) and reads one response.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;

use proto::frame::{read_message, write_message};
use proto::tracker_msg::Sha1Digest;

use crate::home::Home;

/// Largest control frame.
pub const MAX_CONTROL_FRAME_BYTES: usize = 4 << 20;

/// What the CLI asks the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControlRequest {
    /// Daemon identity and counters.
    Status,
    /// Hash a file, register it in a group, and seed it from where it lies.
    Upload {
        /// Group.
        group: String,
        /// Absolute path of the file.
        path: PathBuf,
        /// Name in the group.
        name: String,
        /// Chunk size in bytes; `None`: the default for the file's size
        /// ([`proto::chunk_size::default_chunk_size_bytes`]).
        chunk_size_bytes: Option<u32>,
        /// Register a new file even if the group has one with the same content (size and
        /// whole-file SHA-1) under another name; without it, that file is seeded instead.
        as_new: bool,
    },
    /// Start downloading a file.
    Download {
        /// Group.
        group: String,
        /// File name.
        name: String,
        /// Absolute destination path; `None`: `NAME` in the daemon's download folder, refused
        /// if something is there already.
        dest: Option<PathBuf>,
        /// What the file must be (from a link): the download is refused if the group's file
        /// differs.
        expect: Option<ExpectedContent>,
    },
    /// Every download of this home.
    Downloads,
    /// Stop seeding a file and withdraw its availability.
    StopShare {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
    /// Cancel a running download (its `.part` file is removed).
    Cancel {
        /// The download's id.
        id: String,
    },
}

/// The size and whole-file SHA-1 a download must find in the group's manifest (a link's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedContent {
    /// Size in bytes.
    pub size_bytes: u64,
    /// Whole-file SHA-1.
    pub file_hash: Sha1Digest,
}

/// What the daemon answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControlResponse {
    /// Answer to [`ControlRequest::Status`].
    Status(DaemonStatus),
    /// A file was registered and is seeded.
    Uploaded {
        /// Size in bytes.
        size_bytes: u64,
        /// Number of chunks.
        chunk_count: u32,
        /// Whole-file SHA-1.
        file_hash: Sha1Digest,
        /// The name this file is seeded as: the one asked for, or the name of the file of the
        /// group that has the same content (then nothing new was registered).
        seeded_as: String,
        /// Whether the group had this content under another name, which is seeded instead.
        existing: bool,
    },
    /// A download started (or was already running / done).
    DownloadStarted {
        /// Its id.
        id: String,
    },
    /// Answer to [`ControlRequest::Downloads`].
    Downloads(Vec<DownloadInfo>),
    /// Done.
    Done,
    /// The request failed; the message says why and what to do.
    Error(String),
}

/// The daemon's identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Peer id.
    pub peer_id: u64,
    /// Address where chunks are served.
    pub advertise_addr: String,
    /// Logged-in user.
    pub username: String,
    /// Files seeded.
    pub shares: u32,
    /// Chunks served since start.
    pub chunks_served: u64,
}

/// State of one download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DownloadState {
    /// In progress.
    Running,
    /// Verified and renamed into place.
    Complete,
    /// Gave up; the reason says why.
    Failed(String),
    /// Stopped by the user; its `.part` file was removed.
    Cancelled,
}

impl DownloadState {
    /// The state's name as the HTTP API and the metrics spell it.
    pub fn name(&self) -> &'static str {
        match self {
            DownloadState::Running => "running",
            DownloadState::Complete => "complete",
            DownloadState::Failed(_) => "failed",
            DownloadState::Cancelled => "cancelled",
        }
    }
}

/// One download as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DownloadInfo {
    /// Id (stable across daemon restarts).
    pub id: String,
    /// Group.
    pub group: String,
    /// File name.
    pub name: String,
    /// Destination path.
    pub dest: PathBuf,
    /// State.
    pub state: DownloadState,
    /// Verified bytes.
    pub bytes_done: u64,
    /// File size.
    pub total_bytes: u64,
    /// Verified chunks.
    pub chunks_done: u32,
    /// Chunks in the file.
    pub chunk_count: u32,
    /// Peers currently connected.
    pub peers: u32,
    /// Recent speed.
    pub bytes_per_sec: u64,
    /// Verified chunks received per source peer id.
    pub chunks_by_peer: Vec<(u64, u32)>,
    /// Every source this download connected to, sorted by peer id.
    pub sources: Vec<SourceInfo>,
}

/// One source of a download as listed: where it is, how much it sent and how fast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Its peer id.
    pub peer_id: u64,
    /// Where it serves.
    pub addr: String,
    /// Chunk bytes received from it (end-game duplicates and cancelled chunks included).
    pub bytes_received: u64,
    /// Its throughput now (0 while it has nothing in flight or is not connected).
    pub bytes_per_sec: u64,
    /// Its measured round-trip time, in microseconds, once connected.
    pub rtt_micros: Option<u64>,
    /// Verified chunks received from it.
    pub chunks: u32,
    /// A connection to it is live.
    pub connected: bool,
}

/// A source as `peer downloads --json` and `GET /api/v1/downloads` show it: the peer id as a
/// decimal string (ids exceed 2^53, which JavaScript numbers cannot hold exactly), speeds in
/// bytes per second and the round trip in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    /// Peer id in decimal.
    pub peer_id: String,
    /// Where it serves.
    pub addr: String,
    /// Chunk bytes received from it.
    pub bytes_received: u64,
    /// Its throughput now.
    pub bytes_per_sec: u64,
    /// Its round trip in milliseconds (to the microsecond), once measured.
    pub rtt_ms: Option<f64>,
    /// Verified chunks received from it.
    pub chunks: u32,
    /// A connection to it is live.
    pub connected: bool,
}

impl From<&SourceInfo> for SourceRow {
    fn from(s: &SourceInfo) -> Self {
        SourceRow {
            peer_id: s.peer_id.to_string(),
            addr: s.addr.clone(),
            bytes_received: s.bytes_received,
            bytes_per_sec: s.bytes_per_sec,
            rtt_ms: s.rtt_micros.map(|us| us as f64 / 1000.0),
            chunks: s.chunks,
            connected: s.connected,
        }
    }
}

/// Errors talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No daemon listens on this home's socket.
    #[error("the peer daemon is not running for {0}: start it with `peer daemon` (in another terminal or in the background)")]
    NotRunning(PathBuf),
    /// The exchange failed.
    #[error("talking to the peer daemon failed: {0}")]
    Failed(String),
}

/// Sends one request to the daemon of `home` and returns its answer.
///
/// # Errors
/// [`ControlError::NotRunning`] if nobody listens, [`ControlError::Failed`] otherwise.
pub async fn call(
    home: &Home,
    req: &ControlRequest,
    timeout: Duration,
) -> Result<ControlResponse, ControlError> {
    let path = home.socket_path();
    let mut stream = UnixStream::connect(&path)
        .await
        .map_err(|_| ControlError::NotRunning(home.dir.clone()))?;
    let exchange = async {
        write_message(&mut stream, req, MAX_CONTROL_FRAME_BYTES).await?;
        read_message::<ControlResponse, _>(&mut stream, MAX_CONTROL_FRAME_BYTES).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(ControlError::Failed(format!(
            "no answer within {timeout:?}"
        ))),
        Ok(Err(e)) => Err(ControlError::Failed(e.to_string())),
        Ok(Ok(None)) => Err(ControlError::Failed(
            "the daemon closed the connection".into(),
        )),
        Ok(Ok(Some(r))) => Ok(r),
    }
}
