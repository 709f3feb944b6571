//! A group's file list and one file's manifest, as the home's user sees them, and
//! unpublishing a file.

use proto::tracker_msg::{FileManifest, FileSummary, PageRequest, ReadRequest, Response, WriteOp};
use proto::TrackerClient;

use crate::error::TrackerOpError;
use crate::home::Home;

/// Every file of `group` (every page).
///
/// # Errors
/// Not logged in, not a member, no such group.
pub async fn list(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
) -> Result<Vec<FileSummary>, TrackerOpError> {
    let token = home.session()?.token;
    Ok(proto::pages::all_files(tracker, token, group).await?)
}

/// The manifest of file `name` of `group` (one page of its sources is read for it, no ticket).
///
/// # Errors
/// Not logged in, not a member, no such group or file, an unexpected answer.
pub async fn manifest(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
    name: &str,
) -> Result<FileManifest, TrackerOpError> {
    let token = home.session()?.token;
    let req = ReadRequest::FileSources {
        token,
        group: group.to_string(),
        name: name.to_string(),
        peer_id: None,
        include_offline: false,
        page: PageRequest::first(1),
    };
    match tracker.read(req).await? {
        Response::Sources { manifest, .. } => Ok(manifest),
        other => Err(TrackerOpError::UnexpectedAnswer(format!("{other:?}"))),
    }
}

/// Removes file `name` from `group` at the tracker (the caller must be its uploader or the
/// group's owner): it leaves the listings, its availability is deleted, and downloads and
/// seeders of it stop.
///
/// # Errors
/// Not logged in, not a member, no such group or file, neither uploader nor owner.
pub async fn unpublish(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
    name: &str,
) -> Result<(), TrackerOpError> {
    let token = home.session()?.token;
    tracker
        .write(WriteOp::Unpublish {
            token,
            group: group.to_string(),
            name: name.to_string(),
        })
        .await?;
    Ok(())
}
