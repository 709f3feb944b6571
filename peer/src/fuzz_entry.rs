//! Entry points of the fuzz target `peer_home` (`fuzz/` at the repository root) and of its corpus
//! replay test (`tests/fuzz_corpus.rs`): the peer's home files as the peer reads them back.
//! Hidden from the docs: it exists for those two callers only.

use std::path::Path;

use crate::daemon::download::{bytes_to_bits, decode_resume_record};
use crate::daemon::shares::ShareEntry;
use crate::home::{check_stored_manifest, parse_json, Session};

/// One home file: the first byte picks which (`session.json`, `shares.json`, a download record
/// and, after its first NUL byte, which JSON never holds, its `.bits` file). Returns whether it
/// was accepted.
pub fn peer_home(data: &[u8]) -> bool {
    let Some((&kind, bytes)) = data.split_first() else {
        return false;
    };
    let path = Path::new("fuzz-input");
    match kind % 3 {
        0 => parse_json::<Session>(path, bytes).is_ok(),
        1 => parse_json::<Vec<ShareEntry>>(path, bytes).is_ok_and(|list| {
            list.iter()
                .all(|e| check_stored_manifest(path, &e.manifest).is_ok())
        }),
        _ => {
            let mut parts = bytes.splitn(2, |&b| b == 0);
            let record = parts.next().unwrap_or_default();
            let bits = parts.next().unwrap_or_default();
            let Ok(record) = decode_resume_record(path, record) else {
                return false;
            };
            let n = record.manifest.chunk_hashes.len();
            assert_eq!(bytes_to_bits(bits, n).len(), n);
            true
        }
    }
}
