//! Name and manifest checks. Each error states the rule that was broken and quotes at most a
//! short prefix of the input ([`proto::limits::quote`]). The maxima are named in
//! [`proto::limits`].

use proto::limits::{
    quote, MAX_CHUNKS_PER_FILE, MAX_CHUNK_SIZE_BYTES, MAX_FILE_NAME_BYTES, MAX_NAME_BYTES,
    MIN_CHUNK_SIZE_BYTES,
};
use proto::tracker_msg::FileManifest;
use proto::ApiError;

/// Usernames and group names: 1 to 64 of `A-Z a-z 0-9 _ - .`, not starting with `.` or `-`.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if name.is_empty() || name.len() > MAX_NAME_BYTES || !ok_chars || name.starts_with(['.', '-']) {
        return Err(ApiError::InvalidRequest(format!(
            "{kind} {} is not allowed: use 1 to {MAX_NAME_BYTES} letters, digits, '_', '-' or '.', not starting with '.' or '-'",
            quote(name)
        )));
    }
    Ok(())
}

/// File names: 1 to 255 bytes, no `/`, `\`, NUL or control characters, not `.` or `..`.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_file_name(name: &str) -> Result<(), ApiError> {
    let bad = name.is_empty()
        || name.len() > MAX_FILE_NAME_BYTES
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(ApiError::InvalidRequest(format!(
            "file name {} is not allowed: use 1 to {MAX_FILE_NAME_BYTES} bytes without '/', '\\', NUL or control characters, and not '.' or '..'",
            quote(name)
        )));
    }
    Ok(())
}

/// A manifest's sizes and hash count agree.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_manifest(m: &FileManifest) -> Result<(), ApiError> {
    check_file_name(&m.name)?;
    if !(MIN_CHUNK_SIZE_BYTES..=MAX_CHUNK_SIZE_BYTES).contains(&m.chunk_size_bytes) {
        return Err(ApiError::InvalidRequest(format!(
            "chunk size {} is outside {MIN_CHUNK_SIZE_BYTES}..={MAX_CHUNK_SIZE_BYTES} bytes",
            m.chunk_size_bytes,
        )));
    }
    let expected = FileManifest::expected_chunk_count(m.size_bytes, m.chunk_size_bytes);
    if expected > MAX_CHUNKS_PER_FILE as u64 {
        return Err(ApiError::InvalidRequest(format!(
            "file has {expected} chunks, more than the {MAX_CHUNKS_PER_FILE} allowed: use a larger --chunk-size"
        )));
    }
    if m.chunk_hashes.len() as u64 != expected {
        return Err(ApiError::InvalidRequest(format!(
            "a {}-byte file in {}-byte chunks has {expected} chunks, but {} hashes were sent",
            m.size_bytes,
            m.chunk_size_bytes,
            m.chunk_hashes.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("user", "alice_1.x").is_ok());
        for bad in ["", ".hidden", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(check_name("user", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_refused_name_is_quoted_short_with_its_length() {
        let huge = "x".repeat(15_000_000);
        for refusal in [check_name("group", &huge), check_file_name(&huge)] {
            let Err(ApiError::InvalidRequest(why)) = refusal else {
                panic!("{refusal:?}");
            };
            assert!(why.len() < 300, "{} bytes", why.len());
            assert!(why.contains("… (15000000 bytes)"), "{why}");
        }
    }

    #[test]
    fn file_names() {
        assert!(check_file_name("movie (1).mkv").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a\0b", "a\\b", "a\nb"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn manifests() {
        let mut m = FileManifest {
            name: "f".into(),
            size_bytes: 10_000,
            chunk_size_bytes: 4096,
            chunk_hashes: vec![[0; 20]; 3],
            file_hash: [0; 20],
        };
        assert!(check_manifest(&m).is_ok());
        m.chunk_hashes.pop();
        assert!(check_manifest(&m).is_err());
        m.chunk_size_bytes = 0;
        assert!(check_manifest(&m).is_err());
    }
}
