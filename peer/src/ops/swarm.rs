//! Who is in a group's swarm: every peer holding a file, online or not ([`sources`]), and the
//! online peers of the group's members ([`peers`]), as the home's user sees them.

use proto::tracker_msg::{FileManifest, PeerSummary, Source};
use proto::TrackerClient;

use crate::error::TrackerOpError;
use crate::home::Home;

/// A file and every peer that holds chunks of it.
#[derive(Debug, Clone)]
pub struct FileHolders {
    /// The file.
    pub manifest: FileManifest,
    /// The peers holding any chunk of it, online or not, by peer id.
    pub holders: Vec<Source>,
}

/// Every peer holding a chunk of file `name` of `group` (every page), online or not.
///
/// # Errors
/// Not logged in, not a member, no such group or file.
pub async fn sources(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
    name: &str,
) -> Result<FileHolders, TrackerOpError> {
    let token = home.session()?.token;
    let all = proto::pages::all_holders(tracker, token, group, name).await?;
    Ok(FileHolders {
        manifest: all.manifest,
        holders: all.sources,
    })
}

/// Every online peer of `group`'s members (every page).
///
/// # Errors
/// Not logged in, not a member, no such group.
pub async fn peers(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
) -> Result<Vec<PeerSummary>, TrackerOpError> {
    let token = home.session()?.token;
    Ok(proto::pages::all_group_peers(tracker, token, group).await?)
}

/// How many chunks a bitfield marks as held (LSB-first), counting only the first `chunk_count`.
pub fn chunks_held(bitfield: &[u8], chunk_count: usize) -> usize {
    (0..chunk_count)
        .filter(|i| bitfield.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_chunks_are_counted_lsb_first_within_the_file() {
        assert_eq!(chunks_held(&[0b0000_0101], 3), 2);
        assert_eq!(chunks_held(&[0xff, 0xff], 10), 10, "bits past the end are not chunks");
        assert_eq!(chunks_held(&[0x80], 8), 1);
        assert_eq!(chunks_held(&[], 4), 0);
    }
}
