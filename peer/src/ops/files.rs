//! A group's file list as the home's user sees it.

use proto::tracker_msg::FileSummary;
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
