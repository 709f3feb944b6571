//! The `--json` shapes of `peer upload`, `peer download`, `peer downloads`, `peer cancel` and
//! `peer stop-share`:
//! snake_case objects, states as words with the failure's reason beside them, sizes in bytes.

use std::path::Path;

use serde::Serialize;

use crate::control::{DownloadInfo, DownloadState, SourceRow};

/// `peer upload --json`.
#[derive(Serialize)]
pub(super) struct UploadJson<'a> {
    pub(super) group: &'a str,
    pub(super) name: &'a str,
    pub(super) path: &'a Path,
    pub(super) size_bytes: u64,
    pub(super) chunk_count: u32,
    pub(super) sha1: String,
    /// Whether the group had this content under `name` already, which is seeded instead.
    pub(super) existing: bool,
}

/// One download in `peer downloads --json` and `peer download --json`: the state as a word,
/// the failure's reason beside it, sizes in bytes.
#[derive(Serialize)]
pub(super) struct DownloadJson<'a> {
    pub(super) id: &'a str,
    pub(super) group: &'a str,
    pub(super) name: &'a str,
    pub(super) dest: &'a Path,
    /// `running`, `complete`, `failed` or `cancelled`.
    pub(super) state: &'static str,
    /// Why it failed (`failed` only).
    pub(super) error: Option<&'a str>,
    pub(super) bytes_done: u64,
    pub(super) total_bytes: u64,
    pub(super) chunks_done: u32,
    pub(super) chunk_count: u32,
    pub(super) peers: u32,
    pub(super) bytes_per_sec: u64,
    pub(super) chunks_by_peer: Vec<PeerChunks>,
    /// Every source connected to, with its speed now, round trip and what it sent.
    pub(super) sources: Vec<SourceRow>,
}

/// Verified chunks received from one source.
#[derive(Serialize)]
pub(super) struct PeerChunks {
    /// The peer id as a decimal string: ids exceed 2^53, which a JSON reader that holds numbers
    /// as doubles (JavaScript, jq 1.6) cannot keep exactly.
    pub(super) peer_id: String,
    pub(super) chunks: u32,
}

impl<'a> DownloadJson<'a> {
    /// The listing's view of `d`.
    pub(super) fn of(d: &'a DownloadInfo) -> Self {
        let (state, error) = match &d.state {
            DownloadState::Running => ("running", None),
            DownloadState::Complete => ("complete", None),
            DownloadState::Failed(why) => ("failed", Some(why.as_str())),
            DownloadState::Cancelled => ("cancelled", None),
        };
        DownloadJson {
            id: &d.id,
            group: &d.group,
            name: &d.name,
            dest: &d.dest,
            state,
            error,
            bytes_done: d.bytes_done,
            total_bytes: d.total_bytes,
            chunks_done: d.chunks_done,
            chunk_count: d.chunk_count,
            peers: d.peers,
            bytes_per_sec: d.bytes_per_sec,
            chunks_by_peer: d
                .chunks_by_peer
                .iter()
                .map(|&(peer_id, chunks)| PeerChunks {
                    peer_id: peer_id.to_string(),
                    chunks,
                })
                .collect(),
            sources: d.sources.iter().map(SourceRow::from).collect(),
        }
    }
}

/// `peer download --detach --json`: the started download.
#[derive(Serialize)]
pub(super) struct StartedJson<'a> {
    pub(super) id: &'a str,
    pub(super) group: &'a str,
    pub(super) name: &'a str,
    pub(super) dest: &'a Path,
    pub(super) state: &'static str,
}

/// `peer cancel --json`.
#[derive(Serialize)]
pub(super) struct CancelledJson<'a> {
    pub(super) id: &'a str,
    pub(super) state: &'static str,
}

/// `peer stop-share --json`.
#[derive(Serialize)]
pub(super) struct StoppedJson<'a> {
    pub(super) group: &'a str,
    pub(super) name: &'a str,
    pub(super) seeding: bool,
}

/// `--json` of `peer unpublish`.
#[derive(Serialize)]
pub(super) struct UnpublishedJson<'a> {
    pub(super) group: &'a str,
    pub(super) name: &'a str,
    pub(super) unpublished: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_in_json_has_its_state_as_a_word_and_the_reason_beside_it() {
        let mut d = DownloadInfo {
            id: "d1".into(),
            group: "g".into(),
            name: "f".into(),
            dest: "/tmp/f".into(),
            state: DownloadState::Failed("disk full".into()),
            bytes_done: 5,
            total_bytes: 10,
            chunks_done: 1,
            chunk_count: 2,
            peers: 0,
            bytes_per_sec: 0,
            chunks_by_peer: vec![(7, 1)],
            sources: vec![crate::control::SourceInfo {
                peer_id: u64::MAX,
                addr: "127.0.0.1:9".into(),
                bytes_received: 4096,
                bytes_per_sec: 1000,
                rtt_micros: Some(1250),
                chunks: 1,
                connected: true,
            }],
        };
        let v = serde_json::to_value(DownloadJson::of(&d)).unwrap();
        assert_eq!(v["state"], "failed");
        assert_eq!(v["error"], "disk full");
        assert_eq!(v["total_bytes"], 10);
        assert_eq!(v["chunks_by_peer"][0]["peer_id"], "7");
        assert_eq!(v["chunks_by_peer"][0]["chunks"], 1);
        let src = &v["sources"][0];
        assert_eq!(src["peer_id"], u64::MAX.to_string());
        assert_eq!(src["addr"], "127.0.0.1:9");
        assert_eq!(src["bytes_received"], 4096);
        assert_eq!(src["bytes_per_sec"], 1000);
        assert_eq!(src["rtt_ms"], 1.25);
        assert_eq!(src["chunks"], 1);
        assert_eq!(src["connected"], true);
        d.state = DownloadState::Running;
        let v = serde_json::to_value(DownloadJson::of(&d)).unwrap();
        assert_eq!(v["state"], "running");
        assert!(v["error"].is_null());
        d.state = DownloadState::Cancelled;
        let v = serde_json::to_value(DownloadJson::of(&d)).unwrap();
        assert_eq!(v["state"], "cancelled");
    }
}
