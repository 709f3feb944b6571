//! Asking the tracker for a file's manifest, its sources and a ticket for them: what a download
//! needs when it starts, and again whenever it runs out of sources.

use proto::ticket::SignedTicket;
use proto::tracker_msg::{FileManifest, ReadRequest, Response, Source};

use crate::daemon::Daemon;
use crate::error::DownloadError;

/// Fetches the manifest, sources and a ticket.
pub(super) async fn fetch_sources(
    daemon: &Daemon,
    group: &str,
    name: &str,
) -> Result<(FileManifest, Vec<Source>, SignedTicket), DownloadError> {
    let token = daemon.token()?;
    match daemon
        .tracker
        .read(ReadRequest::FileSources {
            token,
            group: group.to_string(),
            name: name.to_string(),
        })
        .await
    {
        Ok(Response::Sources {
            manifest,
            sources,
            ticket: Some(ticket),
        }) => Ok((manifest, sources, ticket)),
        Ok(other) => Err(DownloadError::UnexpectedAnswer {
            answer: format!("{other:?}"),
        }),
        Err(e) => Err(e.into()),
    }
}
