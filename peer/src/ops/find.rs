//! Finding files by content: the files with one whole-file SHA-1 in the groups the home's user
//! is a member of (`peer find SHA1` and `GET /api/v1/find/{sha1}`), in the one row shape both
//! print.

use serde::Serialize;

use proto::tracker_msg::{from_hex, Sha1Digest};
use proto::TrackerClient;

use crate::error::TrackerOpError;
use crate::home::Home;

/// A SHA-1 given as text that is not 40 hexadecimal digits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a SHA-1: give the 40 hexadecimal digits `peer files` shows")]
pub struct NotASha1(String);

/// One file found, as `peer find --json` prints it and the HTTP API lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FoundRow {
    /// The group the file is in.
    pub group: String,
    /// Its name there.
    pub name: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Peers holding all of it.
    pub seeders: u32,
    /// Peers holding some of it.
    pub partial: u32,
}

/// Parses a SHA-1 written as 40 hexadecimal digits (either case, surrounding blanks ignored).
///
/// # Errors
/// [`NotASha1`] quoting (at most 64 bytes of) the text.
pub fn parse_sha1(text: &str) -> Result<Sha1Digest, NotASha1> {
    from_hex::<20>(&text.trim().to_ascii_lowercase())
        .ok_or_else(|| NotASha1(proto::limits::quote(text)))
}

/// Every file with whole-file SHA-1 `file_hash` in the user's groups (every page).
///
/// # Errors
/// Not logged in, tracker unreachable or refusing.
pub async fn find(
    tracker: &TrackerClient,
    home: &Home,
    file_hash: Sha1Digest,
) -> Result<Vec<FoundRow>, TrackerOpError> {
    let token = home.session()?.token;
    let found = proto::pages::all_found_files(tracker, token, file_hash).await?;
    Ok(found
        .into_iter()
        .map(|f| FoundRow {
            group: f.group,
            name: f.name,
            size_bytes: f.size_bytes,
            seeders: f.full_seeders,
            partial: f.partial_peers,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sha1_parses_in_either_case_and_anything_else_is_refused_by_name() {
        let hex = "Ab".repeat(20);
        assert_eq!(parse_sha1(&format!(" {hex} ")), Ok([0xab; 20]));
        for bad in ["", "abc", &"ab".repeat(21), &"zz".repeat(20)] {
            let e = parse_sha1(bad).unwrap_err().to_string();
            assert!(e.contains("is not a SHA-1"), "{bad}: {e}");
        }
    }
}
