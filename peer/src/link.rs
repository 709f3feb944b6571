//! File links: one self-contained string naming a file in a group with its size, whole-file
//! SHA-1 and the trackers that know it, `p2p:?g=GROUP&n=NAME&s=SIZE&h=SHA1HEX&tr=HOST:PORT&...`.
//! `peer link` prints one; `peer download LINK` parses it and downloads only if the group's file
//! still has that size and SHA-1. Values are percent-encoded (everything but ASCII letters,
//! digits and `-._~`); the parser bounds every field and the whole link before it decodes.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

use proto::limits::{MAX_FILE_NAME_BYTES, MAX_NAME_BYTES, MAX_PEER_ADDR_BYTES};
use proto::tracker_msg::{from_hex, to_hex, Sha1Digest};

/// What every link starts with.
pub const LINK_PREFIX: &str = "p2p:?";

/// Longest link accepted (every field at its maximum, percent-encoded, fits).
pub const MAX_LINK_BYTES: usize = 16 * 1024;

/// Most trackers a link may name.
pub const MAX_LINK_TRACKERS: usize = 16;

/// Bytes left as they are in a value; the rest is percent-encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    /// Group name.
    pub group: String,
    /// File name in the group.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Whole-file SHA-1.
    pub file_hash: Sha1Digest,
    /// Tracker client addresses (`HOST:PORT`), possibly none.
    pub trackers: Vec<String>,
}

/// Why a link does not parse; each message names the rule.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// Not a link at all.
    #[error(
        "not a file link: a link starts with {LINK_PREFIX:?} (`peer link GROUP NAME` prints one)"
    )]
    NotALink,
    /// Longer than [`MAX_LINK_BYTES`].
    #[error("the link is {0} bytes long; at most {MAX_LINK_BYTES} are accepted")]
    TooLong(usize),
    /// A field is malformed, missing, repeated or unknown.
    #[error("malformed link: {0}")]
    Malformed(String),
}

impl FileLink {
    /// The link's text.
    pub fn to_link(&self) -> String {
        let enc = |v: &str| utf8_percent_encode(v, VALUE).to_string();
        let mut s = format!(
            "{LINK_PREFIX}g={}&n={}&s={}&h={}",
            enc(&self.group),
            enc(&self.name),
            self.size_bytes,
            to_hex(&self.file_hash)
        );
        for t in &self.trackers {
            s.push_str("&tr=");
            s.push_str(&enc(t));
        }
        s
    }

    /// Parses a link.
    ///
    /// # Errors
    /// [`LinkError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        let text = text.trim();
        if text.len() > MAX_LINK_BYTES {
            return Err(LinkError::TooLong(text.len()));
        }
        let query = text.strip_prefix(LINK_PREFIX).ok_or(LinkError::NotALink)?;
        let bad = |m: String| LinkError::Malformed(m);
        let (mut group, mut name, mut size, mut hash) = (None, None, None, None);
        let mut trackers = Vec::new();
        for pair in query.split('&') {
            let (key, raw) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("{:?} is not KEY=VALUE", quote(pair))))?;
            let value = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| bad(format!("the value of {key:?} is not UTF-8")))?
                .into_owned();
            let once = |slot: &mut Option<String>, max: usize| {
                if slot.is_some() {
                    return Err(bad(format!("{key:?} is given twice")));
                }
                if value.is_empty() || value.len() > max {
                    return Err(bad(format!("{key:?} must be 1 to {max} bytes")));
                }
                *slot = Some(value.clone());
                Ok(())
            };
            match key {
                "g" => once(&mut group, MAX_NAME_BYTES)?,
                "n" => once(&mut name, MAX_FILE_NAME_BYTES)?,
                "s" => once(&mut size, 20)?,
                "h" => once(&mut hash, 40)?,
                "tr" => {
                    if trackers.len() == MAX_LINK_TRACKERS {
                        return Err(bad(format!("more than {MAX_LINK_TRACKERS} trackers")));
                    }
                    if value.is_empty() || value.len() > MAX_PEER_ADDR_BYTES || value.contains(',')
                    {
                        return Err(bad(format!(
                            "a tracker must be HOST:PORT of 1 to {MAX_PEER_ADDR_BYTES} bytes"
                        )));
                    }
                    trackers.push(value);
                }
                other => return Err(bad(format!("unknown field {:?}", quote(other)))),
            }
        }
        let missing = |k: &str| bad(format!("the field {k:?} is missing"));
        let size_text = size.ok_or_else(|| missing("s"))?;
        let size_bytes = size_text
            .parse::<u64>()
            .ok()
            .filter(|_| size_text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| bad("\"s\" must be the size in bytes, a decimal number".into()))?;
        let hash_text = hash.ok_or_else(|| missing("h"))?;
        let file_hash = from_hex::<20>(&hash_text.to_ascii_lowercase())
            .ok_or_else(|| bad("\"h\" must be the SHA-1, 40 hexadecimal digits".into()))?;
        Ok(FileLink {
            group: group.ok_or_else(|| missing("g"))?,
            name: name.ok_or_else(|| missing("n"))?,
            size_bytes,
            file_hash,
            trackers,
        })
    }
}

/// A link and its fields, as `peer link --json` prints it and
/// `GET /api/v1/groups/{group}/files/{name}/link` answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LinkView {
    /// The link's text ([`FileLink::to_link`]).
    pub link: String,
    /// Group name.
    pub group: String,
    /// File name in the group.
    pub name: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Whole-file SHA-1, 40 lowercase hexadecimal digits.
    pub sha1: String,
    /// Tracker client addresses in the link.
    pub trackers: Vec<String>,
}

impl From<&FileLink> for LinkView {
    fn from(l: &FileLink) -> Self {
        LinkView {
            link: l.to_link(),
            group: l.group.clone(),
            name: l.name.clone(),
            size_bytes: l.size_bytes,
            sha1: to_hex(&l.file_hash),
            trackers: l.trackers.clone(),
        }
    }
}

/// The trackers a link names, from a comma-separated list or a client's addresses: blanks
/// trimmed, empty entries and entries a link cannot carry dropped, at most
/// [`MAX_LINK_TRACKERS`].
pub fn link_trackers<'a>(addrs: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    addrs
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_PEER_ADDR_BYTES && !t.contains(','))
        .take(MAX_LINK_TRACKERS)
        .map(str::to_string)
        .collect()
}

/// At most 64 bytes of `s` for an error message.
fn quote(s: &str) -> String {
    proto::limits::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileLink {
        FileLink {
            group: "movies & more".into(),
            name: "a b/ü?&=#.mkv".replace('/', "_"),
            size_bytes: 1_300_000,
            file_hash: [0xab; 20],
            trackers: vec!["127.0.0.1:7001".into(), "[::1]:7002".into()],
        }
    }

    #[test]
    fn a_link_round_trips_with_every_special_character_encoded() {
        let l = sample();
        let text = l.to_link();
        assert!(text.starts_with("p2p:?g=movies%20%26%20more&n="), "{text}");
        assert!(
            !text[LINK_PREFIX.len()..].contains(['?', '#', ' ']),
            "{text}"
        );
        assert_eq!(FileLink::parse(&text).unwrap(), l);
        let no_trackers = FileLink {
            trackers: vec![],
            ..l
        };
        assert_eq!(
            FileLink::parse(&no_trackers.to_link()).unwrap(),
            no_trackers
        );
    }

    #[test]
    fn malformed_links_are_refused_naming_the_rule() {
        let good = sample().to_link();
        let h = "ab".repeat(20);
        let cases: Vec<(String, &str)> = vec![
            ("https://example.com".into(), "starts with"),
            (format!("p2p:?g=g&n=f&s=1&h={h}&x=1"), "unknown field"),
            (format!("p2p:?g=g&n=f&s=-1&h={h}"), "decimal"),
            (format!("p2p:?g=g&n=f&s=+1&h={h}"), "decimal"),
            (
                format!("p2p:?g=g&n=f&s=99999999999999999999&h={h}"),
                "decimal",
            ),
            ("p2p:?g=g&n=f&s=1&h=abc".into(), "40 hexadecimal"),
            (format!("p2p:?g=g&g=h&n=f&s=1&h={h}"), "twice"),
            (format!("p2p:?n=f&s=1&h={h}"), "\"g\" is missing"),
            (format!("p2p:?g=g&s=1&h={h}"), "\"n\" is missing"),
            ("p2p:?g=g&n=f&s=1".into(), "\"h\" is missing"),
            (format!("p2p:?g=g&n=f&s=1&h={h}&tr="), "tracker"),
            (format!("p2p:?g=g&n=f&s=1&h={h}&tr=a%2Cb"), "tracker"),
            (
                format!("p2p:?g={}&n=f&s=1&h={h}", "x".repeat(65)),
                "1 to 64",
            ),
            (format!("p2p:?g=g&n=%FF&s=1&h={h}"), "UTF-8"),
            (format!("p2p:?g=g&n=f&s=1&h={h}&junk"), "KEY=VALUE"),
            (format!("{good}{}", "&tr=a:1".repeat(17)), "more than 16"),
            (format!("p2p:?g={}", "x".repeat(MAX_LINK_BYTES)), "at most"),
        ];
        for (text, says) in cases {
            let e = FileLink::parse(&text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:.80}: {e}");
        }
    }

    #[test]
    fn every_prefix_of_a_link_parses_or_fails_without_panicking() {
        let text = sample().to_link();
        for end in 0..=text.len() {
            if let Some(prefix) = text.get(..end) {
                let _ = FileLink::parse(prefix);
            }
        }
    }
}
