//! Name and manifest checks. Each error states the rule that was broken and quotes at most a
//! short prefix of the input ([`proto::limits::quote`]). The maxima are named in
//! [`proto::limits`].

use proto::limits::{
    quote, MAX_CHUNKS_PER_FILE, MAX_CHUNK_SIZE_BYTES, MAX_FILE_NAME_BYTES, MAX_NAME_BYTES,
    MIN_CHUNK_SIZE_BYTES,
};
use proto::limits::{MAX_CHUNKS_PER_REPORT, MAX_DISPLAY_NAME_BYTES, MAX_PEER_ADDR_BYTES};
use proto::tracker_msg::FileManifest;
use proto::ApiError;

use crate::cmd::Op;

/// The checks of a client's command that need no state: every name, address, manifest and batch
/// within its limit. The leader runs them before it proposes ([`crate::domain::admit`]); apply
/// keeps its own checks in the rules, so a log written by an older build applies as it did.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule and quoting at most a prefix of the input.
pub fn check_op(op: &Op) -> Result<(), ApiError> {
    match op {
        Op::CreateUser { username, .. } | Op::OpenSession { username, .. } => {
            check_name("username", username)
        }
        Op::CreateUserNamed {
            username,
            display_name,
            ..
        } => {
            check_name("username", username)?;
            check_display_name(display_name)
        }
        Op::CreateGroup { group, .. }
        | Op::CreateOpenGroup { group, .. }
        | Op::JoinGroup { group, .. }
        | Op::LeaveGroup { group, .. } => check_name("group name", group),
        Op::AcceptJoin {
            group, username, ..
        }
        | Op::RejectJoin {
            group, username, ..
        }
        | Op::RemoveMember {
            group, username, ..
        } => {
            check_name("group name", group)?;
            check_name("username", username)
        }
        Op::RegisterPeer { addr, peer_key, .. } => {
            check_peer_addr(addr)?;
            check_peer_key(peer_key)
        }
        Op::RegisterFile {
            group, manifest, ..
        } => {
            check_name("group name", group)?;
            check_manifest(manifest)
        }
        Op::ReportHave {
            group,
            name,
            chunks,
            ..
        } => {
            check_name("group name", group)?;
            check_file_name(name)?;
            check_report_len(chunks.len())
        }
        Op::StopShare { group, name, .. } | Op::Unpublish { group, name, .. } => {
            check_name("group name", group)?;
            check_file_name(name)
        }
        Op::CloseSession { .. }
        | Op::SetClusterKey { .. }
        | Op::PruneClients { .. }
        | Op::SetPeersOnline { .. }
        | Op::PruneSessions { .. }
        | Op::SetQuotas { .. }
        | Op::PrunePeers { .. }
        | Op::SignOff { .. } => Ok(()),
    }
}

/// A peer's serving address: 1 to [`MAX_PEER_ADDR_BYTES`] bytes.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_peer_addr(addr: &str) -> Result<(), ApiError> {
    if addr.is_empty() || addr.len() > MAX_PEER_ADDR_BYTES {
        return Err(ApiError::InvalidRequest(format!(
            "peer address must be 1 to {MAX_PEER_ADDR_BYTES} bytes (host:port), not {} bytes",
            addr.len()
        )));
    }
    Ok(())
}

/// A peer's key is an Ed25519 public key: a point on the curve (`VerifyingKey::from_bytes`) and
/// not one of small order, which would verify signatures made without any secret.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_peer_key(key: &[u8; 32]) -> Result<(), ApiError> {
    match ed25519_dalek::VerifyingKey::from_bytes(key) {
        Ok(k) if !k.is_weak() => Ok(()),
        _ => Err(ApiError::InvalidRequest(
            "peer key must be a valid Ed25519 public key (32 bytes, a point of large order)".into(),
        )),
    }
}

/// A chunk report names at most [`MAX_CHUNKS_PER_REPORT`] chunks.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_report_len(chunks: usize) -> Result<(), ApiError> {
    if chunks > MAX_CHUNKS_PER_REPORT {
        return Err(ApiError::InvalidRequest(format!(
            "a report names {chunks} chunks, more than the {MAX_CHUNKS_PER_REPORT} allowed: send it in parts"
        )));
    }
    Ok(())
}

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

/// Display names: 1 to [`MAX_DISPLAY_NAME_BYTES`] bytes of printable characters (no control
/// characters), not only spaces, without spaces at either end.
///
/// # Errors
/// [`ApiError::InvalidRequest`] naming the rule.
pub fn check_display_name(name: &str) -> Result<(), ApiError> {
    let bad = name.trim().is_empty()
        || name.len() > MAX_DISPLAY_NAME_BYTES
        || name.trim() != name
        || name.chars().any(char::is_control);
    if bad {
        return Err(ApiError::InvalidRequest(format!(
            "display name {} is not allowed: use 1 to {MAX_DISPLAY_NAME_BYTES} bytes of printable characters, without control characters or spaces at either end",
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
    use crate::domain::fixtures::peer_public_key;

    /// 32 bytes that decode to no point of the curve.
    pub(crate) fn not_a_point() -> [u8; 32] {
        (0u8..=255)
            .map(|b| [b; 32])
            .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
            .unwrap()
    }

    /// The identity point, y = 1.
    pub(crate) fn small_order_point() -> [u8; 32] {
        let mut k = [0u8; 32];
        k[0] = 1;
        k
    }

    #[test]
    fn a_peer_key_is_a_point_of_large_order() {
        assert_eq!(check_peer_key(&peer_public_key(3)), Ok(()));
        for bad in [not_a_point(), small_order_point()] {
            assert!(
                matches!(check_peer_key(&bad), Err(ApiError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }

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
    fn every_field_of_a_command_is_checked_against_its_limit() {
        let token = [1; 32];
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        let m = FileManifest {
            name: "f".into(),
            size_bytes: 4096,
            chunk_size_bytes: 4096,
            chunk_hashes: vec![[0; 20]],
            file_hash: [0; 20],
        };
        let good = [
            Op::CreateGroup {
                token,
                group: "g".into(),
            },
            Op::AcceptJoin {
                token,
                group: "g".into(),
                username: "u".into(),
            },
            Op::RegisterPeer {
                token,
                peer_id: 1,
                addr: "127.0.0.1:1".into(),
                peer_key: peer_public_key(1),
            },
            Op::RegisterFile {
                token,
                peer_id: 1,
                group: "g".into(),
                manifest: m.clone(),
            },
            Op::ReportHave {
                token,
                peer_id: 1,
                group: "g".into(),
                name: "f".into(),
                chunks: vec![0; MAX_CHUNKS_PER_REPORT],
            },
            Op::StopShare {
                token,
                peer_id: 1,
                group: "g".into(),
                name: "f".into(),
            },
        ];
        for op in &good {
            assert_eq!(check_op(op), Ok(()), "{op:?}");
        }
        let mut big_manifest = m.clone();
        big_manifest.name = "f".repeat(MAX_FILE_NAME_BYTES + 1);
        let bad = [
            Op::CreateUser {
                username: long.clone(),
                password_hash: "h".into(),
            },
            Op::CreateGroup {
                token,
                group: long.clone(),
            },
            Op::JoinGroup {
                token,
                group: long.clone(),
            },
            Op::LeaveGroup {
                token,
                group: "a b".into(),
            },
            Op::AcceptJoin {
                token,
                group: "g".into(),
                username: long.clone(),
            },
            Op::RegisterPeer {
                token,
                peer_id: 1,
                addr: "x".repeat(MAX_PEER_ADDR_BYTES + 1),
                peer_key: peer_public_key(1),
            },
            Op::RegisterPeer {
                token,
                peer_id: 1,
                addr: String::new(),
                peer_key: peer_public_key(1),
            },
            // Not a point of the curve.
            Op::RegisterPeer {
                token,
                peer_id: 1,
                addr: "127.0.0.1:1".into(),
                peer_key: not_a_point(),
            },
            // The identity point: of small order, it would verify signatures nobody made.
            Op::RegisterPeer {
                token,
                peer_id: 1,
                addr: "127.0.0.1:1".into(),
                peer_key: small_order_point(),
            },
            Op::RegisterFile {
                token,
                peer_id: 1,
                group: "g".into(),
                manifest: big_manifest,
            },
            Op::ReportHave {
                token,
                peer_id: 1,
                group: "g".into(),
                name: "f".into(),
                chunks: vec![0; MAX_CHUNKS_PER_REPORT + 1],
            },
            Op::StopShare {
                token,
                peer_id: 1,
                group: "g".into(),
                name: "../f".into(),
            },
        ];
        for op in &bad {
            assert!(
                matches!(check_op(op), Err(ApiError::InvalidRequest(why)) if why.len() < 400),
                "{op:?}"
            );
        }
    }

    #[test]
    fn display_names_are_short_printable_and_trimmed() {
        for good in ["Ann Lee", "Zoë", "x", &"é".repeat(32)] {
            assert_eq!(check_display_name(good), Ok(()), "{good:?}");
        }
        let long = "x".repeat(MAX_DISPLAY_NAME_BYTES + 1);
        for bad in [
            "",
            "   ",
            " Ann",
            "Ann ",
            "a\nb",
            "a\u{7}b",
            &long,
            &"é".repeat(33),
        ] {
            assert!(
                matches!(check_display_name(bad), Err(ApiError::InvalidRequest(why)) if why.contains("display name")),
                "{bad:?}"
            );
        }
        let op = Op::CreateUserNamed {
            username: "ann".into(),
            password_hash: "h".into(),
            display_name: long,
        };
        assert!(check_op(&op).is_err());
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

    /// The manifest a peer builds for a file at the default chunk size (no data is hashed: only
    /// its shape matters here).
    fn default_manifest(size_bytes: u64) -> FileManifest {
        let chunk_size_bytes = proto::chunk_size::default_chunk_size_bytes(size_bytes);
        let chunks = FileManifest::expected_chunk_count(size_bytes, chunk_size_bytes);
        FileManifest {
            name: "disk.img".into(),
            size_bytes,
            chunk_size_bytes,
            chunk_hashes: vec![[7; 20]; usize::try_from(chunks).unwrap()],
            file_hash: [0; 20],
        }
    }

    #[test]
    fn files_of_1_and_4_tib_are_accepted_at_the_default_chunk_size() {
        let tib = 1u64 << 40;
        let m = default_manifest(tib);
        assert_eq!(m.chunk_size_bytes, 32 << 20);
        assert_eq!(m.chunk_hashes.len(), 32_768);
        assert_eq!(check_manifest(&m), Ok(()));
        // One byte more than 1 TiB: the chunk doubles, the count stays within 32768.
        let m = default_manifest(tib + 1);
        assert_eq!(
            (m.chunk_size_bytes, m.chunk_hashes.len()),
            (64 << 20, 16_385)
        );
        assert_eq!(check_manifest(&m), Ok(()));
        let m = default_manifest(4 * tib);
        assert_eq!(
            (m.chunk_size_bytes, m.chunk_hashes.len()),
            (64 << 20, 65_536)
        );
        assert_eq!(check_manifest(&m), Ok(()));
        // A whole-file report of the 1 TiB file fits one report.
        const { assert!(32_768 <= MAX_CHUNKS_PER_REPORT) };
        // At the old fixed 512 KiB it had too many chunks.
        let mut old = default_manifest(tib);
        old.chunk_size_bytes = 512 << 10;
        assert!(check_manifest(&old).is_err());
    }
}
