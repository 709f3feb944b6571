//! Who is in a group's swarm: every peer holding a file, online or not ([`sources`]), and the
//! online peers of the group's members ([`peers`]), as the home's user sees them.

use serde::Serialize;

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

/// One holder of a file as `peer sources --json` and the HTTP API show it: the peer id as a
/// decimal string (ids exceed 2^53, which a JSON reader holding numbers as doubles cannot keep
/// exactly), the last seen in seconds since the Unix epoch (`null` without one).
#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    /// Peer id, in decimal.
    pub peer_id: String,
    /// Owning user.
    pub username: String,
    /// Where it serves chunks.
    pub addr: String,
    /// Chunks it holds.
    pub chunks_held: u64,
    /// Chunks the file has.
    pub chunk_count: u64,
    /// Whether it is online.
    pub online: bool,
    /// Its last heartbeat if online, when it went offline if not.
    pub last_seen_secs: Option<u64>,
}

impl SourceRow {
    /// The row of holder `s` of a file of `chunk_count` chunks.
    pub fn of(s: &Source, chunk_count: usize) -> Self {
        SourceRow {
            peer_id: s.peer_id.to_string(),
            username: s.username.clone(),
            addr: s.addr.clone(),
            chunks_held: chunks_held(&s.bitfield, chunk_count) as u64,
            chunk_count: chunk_count as u64,
            online: s.online,
            last_seen_secs: s.last_seen_ms.map(|ms| ms / 1000),
        }
    }
}

/// One online peer of a group as `peer peers --json` and the HTTP API show it (the same
/// conventions as [`SourceRow`]).
#[derive(Debug, Clone, Serialize)]
pub struct PeerRow {
    /// Peer id, in decimal.
    pub peer_id: String,
    /// Owning user.
    pub username: String,
    /// Where it serves chunks.
    pub addr: String,
    /// Its last heartbeat (`null` when the current leader has not heard from it yet).
    pub last_seen_secs: Option<u64>,
    /// How many of the group's files it holds chunks of.
    pub files_seeded: u32,
}

impl PeerRow {
    /// The row of `p`.
    pub fn of(p: PeerSummary) -> Self {
        PeerRow {
            peer_id: p.peer_id.to_string(),
            username: p.username,
            addr: p.addr,
            last_seen_secs: p.last_seen_ms.map(|ms| ms / 1000),
            files_seeded: p.files_seeded,
        }
    }
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
        assert_eq!(
            chunks_held(&[0xff, 0xff], 10),
            10,
            "bits past the end are not chunks"
        );
        assert_eq!(chunks_held(&[0x80], 8), 1);
        assert_eq!(chunks_held(&[], 4), 0);
    }
}
