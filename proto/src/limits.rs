//! The named maximum of every client-supplied field, in one place, and the helpers that keep an
//! error message short whatever the input was.
//!
//! The tracker checks these on the leader before it proposes a write (so a refused request
//! never reaches the log) and again, deterministically, when the write is applied. Sizes are in
//! bytes of the UTF-8 text, which is what the encoding carries (bincode writes a string as a
//! length and its bytes).
//!
//! Error replies are bounded ([`ApiError::bounded`]): a name an error repeats is kept whole up
//! to [`MAX_ERROR_NAME_BYTES`] (every valid name fits) and otherwise cut to its first
//! [`QUOTE_BYTES`] with its full length; a free-text message is cut at
//! [`MAX_ERROR_TEXT_BYTES`]. So no error reply comes near the frame limit, and the at-most-once
//! table, which stores a write's reply, stores at most [`MAX_ERROR_REPLY_BYTES`] for a refusal.

use std::fmt::Write;

use crate::error::ApiError;

/// Longest username or group name.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest display name of an account (printable characters, no control characters).
pub const MAX_DISPLAY_NAME_BYTES: usize = 64;
/// Longest file name.
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Longest serving address a peer may register (`host:port`).
pub const MAX_PEER_ADDR_BYTES: usize = 256;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 6;
/// Longest password (argon2's input).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Smallest chunk size a file may be cut into.
pub const MIN_CHUNK_SIZE_BYTES: u32 = 4096;
/// Largest chunk size a file may be cut into.
pub const MAX_CHUNK_SIZE_BYTES: u32 = 64 << 20;
/// Most chunks one file may have (a registration of that many fits one client frame: 20 bytes
/// of SHA-1 each, 8 MB in all).
pub const MAX_CHUNKS_PER_FILE: usize = 400_000;
/// Most chunk indexes one `ReportHave` may carry (peers send at most 256 at a time; a report is
/// also refused if it names a chunk the file does not have).
pub const MAX_CHUNKS_PER_REPORT: usize = 65_536;

/// How much of a client's input an error message quotes.
pub const QUOTE_BYTES: usize = 64;
/// Longest name an error repeats whole (a longer one is quoted as a prefix and its length).
pub const MAX_ERROR_NAME_BYTES: usize = MAX_FILE_NAME_BYTES;
/// Longest free-text part of an error (the reason of `InvalidRequest`, `Unavailable`, ...).
pub const MAX_ERROR_TEXT_BYTES: usize = 1024;
/// Bound on the encoded size of any [`ApiError`] after [`ApiError::bounded`] (two text fields
/// and one name at most, plus their lengths and the tag); checked by a test over every variant.
pub const MAX_ERROR_REPLY_BYTES: usize = 4096;

/// `input` as a quoted, escaped string of at most [`QUOTE_BYTES`] of its text, followed by
/// `… (N bytes)` when it was cut: what an error message shows of a client's input.
pub fn quote(input: &str) -> String {
    let mut out = String::with_capacity(QUOTE_BYTES + 24);
    out.push('"');
    let mut cut = false;
    let mut shown = 0;
    for c in input.chars() {
        let escaped = c.escape_debug().to_string();
        if shown + escaped.len() > QUOTE_BYTES {
            cut = true;
            break;
        }
        shown += escaped.len();
        out.push_str(&escaped);
    }
    out.push('"');
    if cut {
        let _ = write!(out, "… ({} bytes)", input.len());
    }
    out
}

/// `text` unchanged if it has at most `max` bytes, else its longest prefix of at most
/// [`QUOTE_BYTES`] bytes (on a character boundary) followed by `… (N bytes)`.
pub fn clip(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = QUOTE_BYTES.min(max).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// A free-text message cut to [`MAX_ERROR_TEXT_BYTES`] (at a character boundary, with an
/// ellipsis and the full length).
fn clip_text(text: String) -> String {
    if text.len() <= MAX_ERROR_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_ERROR_TEXT_BYTES - 32;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

fn clip_name(name: String) -> String {
    clip(name, MAX_ERROR_NAME_BYTES)
}

impl ApiError {
    /// The same error with every name and message within the bounds of this module, so its
    /// encoding is at most [`MAX_ERROR_REPLY_BYTES`]. Deterministic (the tracker applies it
    /// when it stores a reply); an error that is already within bounds comes back unchanged.
    pub fn bounded(self) -> ApiError {
        use ApiError::*;
        match self {
            NotLeader {
                leader_id,
                leader_api_addr,
            } => NotLeader {
                leader_id,
                leader_api_addr: leader_api_addr.map(clip_name),
            },
            Unavailable(why) => Unavailable(clip_text(why)),
            NoTrackerReachable {
                trackers,
                attempts,
                last_error,
            } => NoTrackerReachable {
                trackers: clip_text(trackers),
                attempts,
                last_error: clip_text(last_error),
            },
            UserExists(n) => UserExists(clip_name(n)),
            UserNotFound(n) => UserNotFound(clip_name(n)),
            GroupExists(n) => GroupExists(clip_name(n)),
            GroupNotFound(n) => GroupNotFound(clip_name(n)),
            NotMember(n) => NotMember(clip_name(n)),
            NotOwner(n) => NotOwner(clip_name(n)),
            AlreadyMember(n) => AlreadyMember(clip_name(n)),
            NoSuchRequest { group, user } => NoSuchRequest {
                group: clip_name(group),
                user: clip_name(user),
            },
            FileNotFound { group, name } => FileNotFound {
                group: clip_name(group),
                name: clip_name(name),
            },
            FileConflict { group, name } => FileConflict {
                group: clip_name(group),
                name: clip_name(name),
            },
            InvalidRequest(why) => InvalidRequest(clip_text(why)),
            Internal(why) => Internal(clip_text(why)),
            Forbidden(why) => Forbidden(clip_text(why)),
            other @ (BadCredentials
            | NotLoggedIn
            | PeerNotFound(_)
            | VersionMismatch { .. }
            | StaleRequest { .. }
            | TooManyFailedLogins { .. }
            | QuotaExceeded { .. }) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_shows_a_short_prefix_and_the_full_length() {
        assert_eq!(quote("movies"), "\"movies\"");
        let long = "x".repeat(15_000_000);
        let q = quote(&long);
        assert_eq!(
            q,
            format!("\"{}\"… (15000000 bytes)", "x".repeat(QUOTE_BYTES))
        );
        // Escapes count as what they show, so control characters cannot blow the quote up.
        let nul = quote(&"\0".repeat(1000));
        assert!(nul.len() < QUOTE_BYTES + 30, "{nul}");
        assert!(nul.ends_with("… (1000 bytes)"));
        // Multi-byte characters are never split.
        let q = quote(&"é".repeat(100));
        assert!(q.starts_with("\"éé") && q.ends_with("(200 bytes)"), "{q}");
    }

    #[test]
    fn clipping_keeps_what_fits_and_cuts_on_a_character_boundary() {
        assert_eq!(clip("abc".into(), 3), "abc");
        assert_eq!(
            clip("é".repeat(200), 255),
            format!("{}… (400 bytes)", "é".repeat(32))
        );
    }

    /// Every variant, with every string at 1 MB of multi-byte text.
    fn worst_cases() -> Vec<ApiError> {
        let big = || "€".repeat(350_000);
        vec![
            ApiError::NotLeader {
                leader_id: Some(u64::MAX),
                leader_api_addr: Some(big()),
            },
            ApiError::Unavailable(big()),
            ApiError::NoTrackerReachable {
                trackers: big(),
                attempts: u32::MAX,
                last_error: big(),
            },
            ApiError::BadCredentials,
            ApiError::NotLoggedIn,
            ApiError::UserExists(big()),
            ApiError::UserNotFound(big()),
            ApiError::GroupExists(big()),
            ApiError::GroupNotFound(big()),
            ApiError::NotMember(big()),
            ApiError::NotOwner(big()),
            ApiError::AlreadyMember(big()),
            ApiError::NoSuchRequest {
                group: big(),
                user: big(),
            },
            ApiError::FileNotFound {
                group: big(),
                name: big(),
            },
            ApiError::FileConflict {
                group: big(),
                name: big(),
            },
            ApiError::PeerNotFound(u64::MAX),
            ApiError::InvalidRequest(big()),
            ApiError::VersionMismatch {
                client: u32::MAX,
                server: u32::MAX,
            },
            ApiError::StaleRequest {
                serial: u64::MAX,
                last: u64::MAX,
            },
            ApiError::Internal(big()),
            ApiError::TooManyFailedLogins {
                retry_after_ms: u64::MAX,
            },
        ]
    }

    #[test]
    fn every_bounded_error_encodes_within_the_reply_bound() {
        for e in worst_cases() {
            let bounded = e.clone().bounded();
            let bytes = crate::frame::encode(&bounded).unwrap();
            assert!(bytes.len() <= MAX_ERROR_REPLY_BYTES, "{bounded:?}");
            assert!(bounded.to_string().len() <= MAX_ERROR_REPLY_BYTES);
            // Bounding twice changes nothing (what apply stores is what a retry gets).
            assert_eq!(bounded.clone().bounded(), bounded);
        }
    }

    #[test]
    fn errors_within_bounds_are_unchanged() {
        let e = ApiError::FileNotFound {
            group: "g".repeat(MAX_NAME_BYTES),
            name: "f".repeat(MAX_FILE_NAME_BYTES),
        };
        assert_eq!(e.clone().bounded(), e);
        let why = ApiError::InvalidRequest("x".repeat(MAX_ERROR_TEXT_BYTES));
        assert_eq!(why.clone().bounded(), why);
    }
}
