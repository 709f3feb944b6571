//! Asking the tracker for a file's manifest, its sources and a ticket for them: what a download
//! needs when it starts, and again whenever it runs out of sources.

use proto::ticket::SignedTicket;
use proto::tracker_msg::{FileManifest, Source};

use crate::daemon::Daemon;
use crate::error::DownloadError;

/// Fetches the manifest, sources and a ticket for this daemon's key (the tracker puts the key it
/// registered for this peer id in it).
pub(super) async fn fetch_sources(
    daemon: &Daemon,
    group: &str,
    name: &str,
) -> Result<(FileManifest, Vec<Source>, SignedTicket), DownloadError> {
    let token = daemon.token()?;
    let all = proto::pages::all_sources(&daemon.tracker, token, group, name, Some(daemon.peer_id))
        .await?;
    match all.ticket {
        Some(ticket) => Ok((all.manifest, all.sources, ticket)),
        None => Err(DownloadError::UnexpectedAnswer {
            answer: "a list of sources without a download ticket".into(),
        }),
    }
}
