//! A group's file list and one file's manifest, as the home's user sees them, and
//! unpublishing a file, and a file's link ([`crate::link`]).

use proto::tracker_msg::{FileManifest, FileSummary, PageRequest, ReadRequest, Response, WriteOp};
use proto::TrackerClient;

use crate::error::TrackerOpError;
use crate::home::Home;
use crate::link::FileLink;

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

/// The link to file `name` of `group` (its size and SHA-1 from the manifest), naming
/// `trackers` (see [`crate::link::link_trackers`]).
///
/// # Errors
/// As [`manifest`].
pub async fn link(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
    name: &str,
    trackers: Vec<String>,
) -> Result<FileLink, TrackerOpError> {
    let m = manifest(tracker, home, group, name).await?;
    Ok(FileLink {
        group: group.to_string(),
        name: name.to_string(),
        size_bytes: m.size_bytes,
        file_hash: m.file_hash,
        trackers,
    })
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
