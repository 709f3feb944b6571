//! The admin's snapshot export ([`crate::app::snapshot_export`]): begin, read a chunk, end.
//!
//! A leader's export (`local: false`) is taken after a read barrier, so its image holds every
//! write acknowledged before the request; a follower refuses it with `NotLeader`, which the
//! client follows. A local export (`local: true`) is this node's applied state without any
//! check, for recovery when no leader exists; it may be stale and says so. Chunks are read from
//! the node that began the export, whatever its role now. The caller ([`super::admin`]) has
//! checked the credential.

use proto::tracker_msg::Response;
use proto::ApiError;

use crate::app::App;

/// Takes the image and answers [`Response::SnapshotBegun`].
///
/// # Errors
/// `NotLeader`/`Unavailable` for a leader's export on a node that cannot serve it; `Unavailable`
/// while another export is under way; `Internal` for a storage or file error.
pub async fn begin(app: &App, local: bool) -> Result<Response, ApiError> {
    if !local {
        app.check_leader()?;
        app.read_barrier().await?;
    }
    tracing::info!(local, "taking a snapshot export");
    let info = app.exports.begin(&app.state, app.id, local).await?;
    Ok(Response::SnapshotBegun(info))
}

/// One chunk of an export.
///
/// # Errors
/// `InvalidRequest` for an unknown export or an offset past its end.
pub async fn read(app: &App, id: u64, offset: u64, len: u32) -> Result<Response, ApiError> {
    app.exports
        .read(id, offset, len)
        .await
        .map(Response::SnapshotChunk)
}

/// Ends an export and deletes its file.
pub fn end(app: &App, id: u64) -> Response {
    app.exports.end(id);
    Response::Done
}
