//! A download's record read back from the home after a restart (`partial/<id>.json`), checked
//! before anything is sized from it: its manifest sizes the chunk buffers and the scheduler.

use std::path::Path;

use super::DownloadRecord;
use crate::home::{check_stored_manifest, parse_json, HomeError};

/// Parses the bytes of the download record at `path` and checks its manifest
/// ([`check_stored_manifest`]).
///
/// # Errors
/// [`HomeError::Corrupt`] if it does not parse or its manifest is inconsistent.
pub fn decode_resume_record(path: &Path, bytes: &[u8]) -> Result<DownloadRecord, HomeError> {
    let record: DownloadRecord = parse_json(path, bytes)?;
    check_stored_manifest(path, &record.manifest)?;
    Ok(record)
}
