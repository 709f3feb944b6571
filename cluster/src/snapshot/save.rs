//! `cluster snapshot save`: begin an export on the leader (following `NotLeader` hints) or on
//! the node `--from-node` names, read it chunk by chunk over one connection to that node, check
//! its length and digest, and write the file: `FILE.tmp` first, fsynced, then renamed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::{Digest, Sha1};

use proto::connection::Connection;
use proto::tls::ClientTls;
use proto::tracker_msg::{AdminRequest, SnapshotInfo, MAX_SNAPSHOT_CHUNK_BYTES};
use proto::{ApiError, Request, Response};
use tracker::backup::SnapshotHeader;

use super::SnapshotError;

/// Time to connect and shake hands with one node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for the node to take the image (it writes the whole state to a file).
const BEGIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Time for one chunk.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Looks for a leader before giving up (elections, a busy export slot).
const BEGIN_TRIES: usize = 20;
/// Pause between two of them.
const RETRY_PAUSE: Duration = Duration::from_millis(300);

/// What was saved.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The export's description from the node.
    pub info: SnapshotInfo,
    /// The file written.
    pub path: PathBuf,
}

/// Saves a snapshot of the cluster behind `addrs` into `path`: from the leader, or with
/// `from_node` from that node's local applied state (possibly stale). `progress` is told the
/// bytes copied and the total after every chunk.
///
/// # Errors
/// [`SnapshotError`]: no leader, an unknown node, a refusal (e.g. `Forbidden` without the
/// admin credential), an export whose length or digest does not match, or a file error.
pub async fn save(
    addrs: &[String],
    tls: &ClientTls,
    from_node: Option<u64>,
    path: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<Saved, SnapshotError> {
    let (conn, info) = match from_node {
        Some(id) => begin_local(addrs, tls, id).await?,
        None => begin_on_leader(addrs, tls).await?,
    };
    let copied = copy_to_file(&conn, &info, path, &mut progress).await;
    // Ended whatever happened; an export not ended times out on the node anyway.
    let _ = tokio::time::timeout(
        READ_TIMEOUT,
        conn.call(Request::Admin(AdminRequest::SnapshotEnd { id: info.id })),
    )
    .await;
    copied?;
    Ok(Saved {
        info,
        path: path.to_path_buf(),
    })
}

/// Asks `conn` to begin an export.
async fn call_begin(conn: &Connection, local: bool) -> Result<SnapshotInfo, ApiError> {
    let answer = tokio::time::timeout(
        BEGIN_TIMEOUT,
        conn.call(Request::Admin(AdminRequest::SnapshotBegin { local })),
    )
    .await
    .map_err(|_| ApiError::Unavailable("the node took too long to take the image".into()))?
    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    match answer? {
        Response::SnapshotBegun(info) => Ok(info),
        other => Err(ApiError::Internal(format!("unexpected answer {other:?}"))),
    }
}

/// Begins a leader's export: asks each tracker in turn, follows `NotLeader` hints, waits out
/// elections and a busy slot, at most [`BEGIN_TRIES`] times.
async fn begin_on_leader(
    addrs: &[String],
    tls: &ClientTls,
) -> Result<(Connection, SnapshotInfo), SnapshotError> {
    let mut hint: Option<String> = None;
    let mut last = String::from("no tracker answered");
    for attempt in 0..BEGIN_TRIES {
        let addr = match hint.take() {
            Some(h) => h,
            None => addrs[attempt % addrs.len().max(1)].clone(),
        };
        let conn = match Connection::open(&addr, tls, CONNECT_TIMEOUT).await {
            Ok(c) => c,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        match call_begin(&conn, false).await {
            Ok(info) => return Ok((conn, info)),
            Err(ApiError::NotLeader {
                leader_api_addr: Some(h),
                ..
            }) if h != addr => hint = Some(h),
            Err(e) if e.is_retryable() => {
                last = e.to_string();
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(SnapshotError::NoLeader(format!(
        "{last}; with no quorum left, save a node's local state with --from-node ID"
    )))
}

/// Begins a local export on node `id`, found among `addrs` by asking each who it is.
async fn begin_local(
    addrs: &[String],
    tls: &ClientTls,
    id: u64,
) -> Result<(Connection, SnapshotInfo), SnapshotError> {
    for addr in addrs {
        let Ok(conn) = Connection::open(addr, tls, CONNECT_TIMEOUT).await else {
            continue;
        };
        if conn.node_id() == id {
            let info = call_begin(&conn, true).await?;
            return Ok((conn, info));
        }
    }
    Err(SnapshotError::NodeNotFound(id))
}

/// Reads the export into `path` (header, then image) through `path.tmp`, checking every chunk's
/// length and the digest at the end.
async fn copy_to_file(
    conn: &Connection,
    info: &SnapshotInfo,
    path: &Path,
    progress: &mut impl FnMut(u64, u64),
) -> Result<(), SnapshotError> {
    let bad = |reason: String| SnapshotError::BadExport {
        node: info.node_id,
        reason,
    };
    let digest: [u8; 20] = proto::tracker_msg::from_hex(&info.digest)
        .ok_or_else(|| bad(format!("digest {:?} is not 40 hex digits", info.digest)))?;
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| SnapshotError::Io { path: p, source }
    };
    // Owner-only: the state holds password hashes, session tokens and the ticket signing key.
    let file = std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let header = SnapshotHeader {
        applied_term: info.applied_term,
        applied_leader: info.applied_leader,
        applied_index: info.applied_index,
        digest,
        image_bytes: info.size_bytes,
        local: info.local,
    };
    let written = async {
        out.write_all(&header.to_bytes()).map_err(io(&tmp))?;
        let mut hash = Sha1::new();
        let mut offset = 0u64;
        // Every chunk but the last is non-empty, so this ends within size / 1 MiB + 1 reads.
        while offset < info.size_bytes {
            let request = Request::Admin(AdminRequest::SnapshotRead {
                id: info.id,
                offset,
                len: MAX_SNAPSHOT_CHUNK_BYTES,
            });
            let answer = tokio::time::timeout(READ_TIMEOUT, conn.call(request))
                .await
                .map_err(|_| bad(format!("no chunk at offset {offset} in time")))?
                .map_err(|e| bad(format!("connection lost at offset {offset}: {e}")))?;
            let chunk = match answer? {
                Response::SnapshotChunk(c) => c,
                other => return Err(bad(format!("unexpected answer {other:?}"))),
            };
            let len = chunk.len() as u64;
            if len == 0 || len > u64::from(MAX_SNAPSHOT_CHUNK_BYTES) {
                return Err(bad(format!("a chunk of {len} bytes at offset {offset}")));
            }
            if offset + len > info.size_bytes {
                return Err(bad(format!(
                    "more than the {} bytes announced",
                    info.size_bytes
                )));
            }
            hash.update(&chunk);
            out.write_all(&chunk).map_err(io(&tmp))?;
            offset += len;
            progress(offset, info.size_bytes);
        }
        if <[u8; 20]>::from(hash.finalize()) != digest {
            return Err(bad(
                "the bytes read do not hash to the digest announced".into()
            ));
        }
        let file = out.into_inner().map_err(|e| SnapshotError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(&tmp))?;
        Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io(parent))?;
    }
    Ok(())
}
