//! The peer library's errors, one enum per job. Each message says what happened and, where the
//! user can do something about it, what to do. Paths and ids are fields and the cause is kept
//! as `#[source]`; messages that are shown to the user carry the cause's text too, because the
//! CLI prints the message the daemon sends over the control socket, not an error chain.
//! Variants named `Bug*` mean this program is wrong, not the input.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proto::error::ApiError;
use proto::frame::FrameError;

pub use crate::home::HomeError;

/// Why a download could not start, or why it failed (shown by `peer download` and
/// `peer downloads`).
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The home directory (session, state files).
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The tracker refused or could not be reached.
    #[error(transparent)]
    Tracker(#[from] ApiError),
    /// The tracker answered with something other than the file's sources.
    #[error("unexpected tracker answer {answer}: are the tracker and this peer the same version?")]
    UnexpectedAnswer {
        /// The answer, for the report.
        answer: String,
    },
    /// The name cannot be a file name.
    #[error("file name {name:?} is not allowed (no '/', '\\', NUL, '.' or '..')")]
    NameNotAllowed {
        /// The name asked for.
        name: String,
    },
    /// Something is already at the destination.
    #[error("{} already exists: choose another destination", path.display())]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// A download without a destination would land on something already in the download folder.
    #[error(
        "{} already exists: pass DEST to save elsewhere, or remove it",
        path.display()
    )]
    DownloadDirTaken {
        /// The path in the download folder.
        path: PathBuf,
    },
    /// The download folder cannot be created.
    #[error("cannot create the download folder {}: {source} (set --download-dir or PEER_DOWNLOAD_DIR on the daemon)", path.display())]
    CreateDownloadDir {
        /// The folder.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file in the group is not the one a link describes (changed or replaced since).
    #[error(
        "{name} in {group} is not the file the link describes (link: {link_size} bytes, sha1 \
         {link_sha1}; group now: {size} bytes, sha1 {sha1}): it changed since the link was made; \
         ask for a new link"
    )]
    LinkMismatch {
        /// Group.
        group: String,
        /// File name.
        name: String,
        /// The link's size.
        link_size: u64,
        /// The link's SHA-1 (hex).
        link_sha1: String,
        /// The tracker's size.
        size: u64,
        /// The tracker's SHA-1 (hex).
        sha1: String,
    },
    /// A symbolic link is at the `.part` file's path: nothing is written through it.
    #[error(
        "{} is a symbolic link: refusing to write through it; remove it, then download again",
        path.display()
    )]
    PartIsSymlink {
        /// The `.part` file.
        path: PathBuf,
    },
    /// A file this peer did not make is at the `.part` file's path.
    #[error(
        "{} already exists and no download of this peer made it: remove it or choose another \
         destination",
        path.display()
    )]
    PartExists {
        /// The `.part` file.
        path: PathBuf,
    },
    /// The `.part` file of a resumed download is not a plain file of this user.
    #[error("{} is not a file this peer made ({why}): remove it, then download again", path.display())]
    PartNotOurs {
        /// The `.part` file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The `.part` file's name points at another file than the one downloaded into.
    #[error(
        "{} was replaced by another file during the download: remove it, then download again",
        path.display()
    )]
    PartReplaced {
        /// The `.part` file.
        path: PathBuf,
    },
    /// Something appeared at the destination while downloading; it was not replaced.
    #[error("{} already exists; the download is kept at {}", dest.display(), part.display())]
    DestinationAppeared {
        /// The destination.
        dest: PathBuf,
        /// Where the finished download stays.
        part: PathBuf,
    },
    /// The `.part` file cannot be created.
    #[error("cannot create the destination file {}: {source}", path.display())]
    CreatePart {
        /// The `.part` file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The `.part` file cannot be opened (when the download starts or resumes).
    #[error("cannot open {}: {source}", path.display())]
    OpenPart {
        /// The `.part` file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The disk (or the user's quota) is full: `ENOSPC` or `EDQUOT` writing the `.part` file.
    #[error(
        "disk full at {}: {source}; free some space, then download again",
        dest.display()
    )]
    DiskFull {
        /// The destination.
        dest: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The `.part` file cannot be written.
    #[error("cannot write to {}: {source}", path.display())]
    WritePart {
        /// The `.part` file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The `.part` file cannot be synced to the disk.
    #[error("cannot sync {}: {source}", path.display())]
    SyncPart {
        /// The `.part` file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The finished file cannot be renamed into place.
    #[error("cannot move the file into place at {}: {source}", path.display())]
    MoveIntoPlace {
        /// The destination.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The finished file cannot be read back to register it as a share.
    #[error("cannot read {} to seed it: {source}", path.display())]
    ReadDestination {
        /// The destination.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The group now holds another file under this name.
    #[error(
        "the file was replaced in the group since the download started; download it again to \
         get the new version"
    )]
    FileReplaced,
    /// The file was removed from its group (`peer unpublish`) while it downloaded.
    #[error("{group}/{name} was unpublished: its uploader or the group's owner removed it from the group, so the download stopped and its .part file was removed")]
    Unpublished {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
    /// No chunk arrived for too long.
    #[error(
        "no progress for {after:?}: no online peer holds the missing chunks; try again when \
         one does (`peer files <group>` shows the seeders)"
    )]
    Stalled {
        /// How long without progress.
        after: Duration,
    },
    /// The user cancelled the download (`DELETE /api/v1/downloads/{id}`).
    #[error("cancelled")]
    Cancelled,
    /// A task on the blocking pool panicked or was cancelled.
    #[error("bug: a background task of the download failed: {0}")]
    BugTaskFailed(#[from] tokio::task::JoinError),
}

impl DownloadError {
    /// The error of a failed write or sync of `part`, the `.part` file of `dest`: a full disk
    /// or quota ([`DownloadError::DiskFull`]) names the destination, anything else the file.
    pub fn from_write(dest: &Path, part: &Path, source: std::io::Error) -> DownloadError {
        match source.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => DownloadError::DiskFull {
                dest: dest.to_path_buf(),
                source,
            },
            _ => DownloadError::WritePart {
                path: part.to_path_buf(),
                source,
            },
        }
    }

    /// As [`DownloadError::from_write`], for a failed `fsync` or `fdatasync` of `part`.
    pub fn from_sync(dest: &Path, part: &Path, source: std::io::Error) -> DownloadError {
        match DownloadError::from_write(dest, part, source) {
            DownloadError::WritePart { path, source } => DownloadError::SyncPart { path, source },
            other => other,
        }
    }
}

/// Why `peer upload` failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The home directory (session, `shares.json`).
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The tracker refused or could not be reached.
    #[error(transparent)]
    Tracker(#[from] ApiError),
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file.
    #[error("{} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The chunk size given does not suit the file.
    #[error(transparent)]
    ChunkSize(#[from] proto::chunk_size::ChunkSizeError),
    /// Hashing the file failed.
    #[error("cannot hash {}: {source}", path.display())]
    Hash {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file's size or modification time changed during hashing.
    #[error("{} changed while it was being hashed; try again", path.display())]
    ChangedWhileHashing {
        /// The file.
        path: PathBuf,
    },
    /// The hashing task panicked or was cancelled.
    #[error("bug: the hashing task failed: {0}")]
    BugTaskFailed(#[from] tokio::task::JoinError),
    /// Looking for a file of the group with the same content got an answer it did not expect.
    #[error("while looking for the same content in the group: {0}")]
    Lookup(String),
}

impl From<TrackerOpError> for UploadError {
    fn from(e: TrackerOpError) -> Self {
        match e {
            TrackerOpError::Home(h) => UploadError::Home(h),
            TrackerOpError::Tracker(t) => UploadError::Tracker(t),
            other => UploadError::Lookup(other.to_string()),
        }
    }
}

/// Why an account, group or file-list operation ([`crate::ops`]) failed; the message is the
/// one-line error the CLI prints and the HTTP API answers with.
#[derive(Debug, thiserror::Error)]
pub enum TrackerOpError {
    /// The home directory (no session, a state file).
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The tracker refused or could not be reached.
    #[error(transparent)]
    Tracker(#[from] ApiError),
    /// The tracker answered with something the operation does not expect.
    #[error("unexpected answer from the tracker: {0}")]
    UnexpectedAnswer(String),
    /// The cluster CA given at login cannot be kept in the home.
    #[error("cannot keep the cluster CA {} in the home: {reason}", path.display())]
    KeepCa {
        /// The CA file given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Why a seeded file may not be served any more: the seeder then stops seeding it and
/// withdraws it at the tracker.
#[derive(Debug, thiserror::Error)]
pub enum ShareChanged {
    /// The file cannot be looked at (removed, or its permissions changed).
    #[error("{} is gone or unreadable: {source}", path.display())]
    Gone {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A chunk cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Its size or modification time is not the registered one.
    #[error(
        "{} changed since it was shared (size {was_bytes} -> {now_bytes}, modified again)",
        path.display()
    )]
    Modified {
        /// The file.
        path: PathBuf,
        /// Registered size.
        was_bytes: u64,
        /// Size now.
        now_bytes: u64,
    },
    /// A chunk no longer has the registered SHA-1.
    #[error("chunk {index} of {} no longer matches its hash", path.display())]
    ChunkMismatch {
        /// The file.
        path: PathBuf,
        /// The chunk.
        index: u32,
    },
}

/// Why the seeder stopped serving one connection (logged at debug level, for the operator).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No TLS handshake and hello within the time limit.
    #[error("no handshake and hello in time")]
    HelloTimeout,
    /// The TLS handshake failed: a plaintext client, no client certificate, or one whose key is
    /// not Ed25519.
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
    /// rustls accepted a connection without the client certificate it requires.
    #[error("bug: a TLS connection without a client key")]
    BugNoClientKey,
    /// The peer hung up before its hello.
    #[error("closed before hello")]
    ClosedBeforeHello,
    /// The peer was sent a refusal.
    #[error("refused: {0}")]
    Refused(String),
    /// The connection's ticket expired: the downloader must connect again with a fresh one
    /// (which the tracker gives only to a member).
    #[error("the ticket expired")]
    TicketExpired,
    /// Nothing asked for too long after the welcome.
    #[error("idle for {after:?} with nothing asked")]
    Idle {
        /// How long without a request.
        after: Duration,
    },
    /// More requests outstanding at once than a connection may have.
    #[error("more than {max} requests outstanding")]
    TooManyRequests {
        /// The limit.
        max: usize,
    },
    /// The downloader sent something other than a request or a cancel after the welcome.
    #[error("unexpected frame after the welcome")]
    UnexpectedFrame,
    /// The downloader stopped reading what it asked for.
    #[error("the peer stopped reading for {after:?}")]
    SendStalled {
        /// How long no byte could be sent.
        after: Duration,
    },
    /// The ticket check slots were closed (they never are).
    #[error("bug: the ticket check slots were closed")]
    BugTicketSlotsClosed(#[from] tokio::sync::AcquireError),
    /// Reading or writing a frame failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The seeded file changed or cannot be read: it is no longer seeded, and the peer was
    /// told it is not here any more.
    #[error("file changed under us: {0}")]
    ShareWithdrawn(#[source] ShareChanged),
    /// A chunk of a download in progress could not be read.
    #[error("cannot read chunk {index}: {source}")]
    ReadChunk {
        /// The chunk.
        index: u32,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A chunk could not be sent (part of it may have left: the connection cannot go on).
    #[error("cannot send chunk {index}: {source}")]
    SendChunk {
        /// The chunk.
        index: u32,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The frame header does not fit the buffer's headroom.
    #[error("bug: chunk header larger than the buffer's headroom")]
    BugHeaderTooLarge,
    /// A task on the blocking pool panicked or was cancelled.
    #[error("bug: a blocking read or send failed: {0}")]
    BugTaskFailed(#[from] tokio::task::JoinError),
}

/// Why a connection to a source peer ended (logged at debug level).
/// [`SourceError::is_worth_retrying`] tells network trouble, worth a reconnect after a backoff,
/// from a refusal or a peer with nothing for us.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The connection did not open in time.
    #[error("connect timed out")]
    ConnectTimedOut,
    /// Socket trouble.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Reading or writing a frame failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The TLS handshake failed (the seeder refused our certificate, or does not speak TLS).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
    /// The seeder's certificate is not of the key the tracker registered for it: someone else
    /// answers at its address (a man in the middle), or it registered a new key since the
    /// sources were listed. Nothing is sent to it.
    #[error("peer {peer} at {addr} refused: {mismatch}")]
    WrongSeederKey {
        /// The source's peer id.
        peer: u64,
        /// The address dialled.
        addr: String,
        /// The keys expected and presented.
        #[source]
        mismatch: proto::tls::peer::PeerKeyMismatch,
    },
    /// No answer to our hello in time.
    #[error("no welcome in time")]
    NoWelcome,
    /// The peer hung up before answering our hello.
    #[error("closed before welcome")]
    ClosedBeforeWelcome,
    /// The peer hung up.
    #[error("peer closed the connection")]
    Closed,
    /// Nothing from the peer for too long.
    #[error("peer stopped answering")]
    StoppedAnswering,
    /// A chunk of the wrong length (the peer also gets a strike).
    #[error("sent {len} bytes as chunk {index} ({expected:?} expected)")]
    WrongChunkLength {
        /// The chunk.
        index: u32,
        /// Bytes sent.
        len: usize,
        /// Bytes the manifest gives it (`None`: no such chunk).
        expected: Option<usize>,
    },
    /// The peer serves too many connections right now.
    #[error("busy")]
    Busy,
    /// The download's verify slots were closed.
    #[error("bug: the verify slots were closed")]
    BugSlotsClosed(#[from] tokio::sync::AcquireError),
    /// The peer refused our hello.
    #[error("refused: {0}")]
    Refused(String),
    /// The peer answered our hello with something other than a welcome or a refusal.
    #[error("bad handshake")]
    BadHandshake,
    /// A frame a seeder never sends.
    #[error("unexpected frame {0:?}")]
    UnexpectedFrame(Box<proto::peer_msg::PeerFrame>),
    /// A chunk nobody asked this peer for.
    #[error("sent chunk {index} that was not asked for")]
    Unrequested {
        /// The chunk.
        index: u32,
    },
    /// The peer stopped sharing the file.
    #[error("no longer shares the file")]
    NotShared,
    /// The peer holds nothing this download still needs.
    #[error("holds nothing we still need")]
    HoldsNothingNeeded,
    /// The peer sent bad data too often and is dropped for this download.
    #[error("dropped after sending bad data")]
    DroppedForBadData,
}

impl SourceError {
    /// Whether the connection is worth opening again (network trouble), rather than the peer
    /// having refused us or holding nothing we need.
    pub fn is_worth_retrying(&self) -> bool {
        match self {
            SourceError::ConnectTimedOut
            | SourceError::Io(_)
            | SourceError::Frame(_)
            | SourceError::Handshake(_)
            | SourceError::NoWelcome
            | SourceError::ClosedBeforeWelcome
            | SourceError::Closed
            | SourceError::StoppedAnswering
            | SourceError::WrongChunkLength { .. }
            | SourceError::Busy
            | SourceError::BugSlotsClosed(_) => true,
            SourceError::Refused(_)
            | SourceError::WrongSeederKey { .. }
            | SourceError::BadHandshake
            | SourceError::UnexpectedFrame(_)
            | SourceError::Unrequested { .. }
            | SourceError::NotShared
            | SourceError::HoldsNothingNeeded
            | SourceError::DroppedForBadData => false,
        }
    }
}

/// Why a rate (`--upload-limit`, `--download-limit`) does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Not a number with an optional K, M or G.
    #[error("{input:?} is not a rate: use bytes per second, e.g. 500K, 10M or 1G")]
    NotARate {
        /// What was given.
        input: String,
    },
    /// Zero or negative.
    #[error("{input:?}: the rate must be positive")]
    NotPositive {
        /// What was given.
        input: String,
    },
}

#[cfg(test)]
#[path = "error_test.rs"]
mod tests;
