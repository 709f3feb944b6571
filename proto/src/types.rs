//! Plain value types shared by the tracker messages and the download tickets, so neither module
//! imports the other for them: the SHA-1 digest, the session token, and their hex form.

use serde::de::{Error, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// SHA-1 digest bytes (of a chunk or of a whole file).
pub type Sha1Digest = [u8; 20];

/// Length of a session token in bytes (256 random bits, chosen by the leader at login).
pub const SESSION_TOKEN_BYTES: usize = 32;

/// A session token, parsed once where it is decoded.
///
/// On the wire (and in the peer's home) a token is its 64 lowercase hex digits, as before this
/// type existed, so the encoding did not change. Decoding is *lenient*: any string decodes, and
/// one that is not exactly 64 hex digits becomes a malformed token ([`SessionToken::bytes`] is
/// `None`). A request that carries one is answered [`crate::ApiError::NotLoggedIn`], like a token
/// that names no session, instead of failing the whole frame and closing the connection: a
/// client that sends a stale or mistyped token should learn to log in, not see a transport error
/// and retry on every tracker. The text is never kept, so a malformed token costs 33 bytes
/// however long the string was (the frame limit bounds the string while it is decoded). The
/// default is a malformed token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionToken(Option<[u8; SESSION_TOKEN_BYTES]>);

impl SessionToken {
    /// The token with these bytes.
    pub fn from_bytes(bytes: [u8; SESSION_TOKEN_BYTES]) -> Self {
        SessionToken(Some(bytes))
    }

    /// Parses 64 hex digits (either case); anything else is a malformed token.
    pub fn parse(text: &str) -> Self {
        SessionToken(from_hex::<SESSION_TOKEN_BYTES>(text))
    }

    /// The token's bytes, `None` if it was malformed.
    pub fn bytes(&self) -> Option<&[u8; SESSION_TOKEN_BYTES]> {
        self.0.as_ref()
    }

    /// Whether the token is 32 bytes (it may still name no session).
    pub fn is_well_formed(&self) -> bool {
        self.0.is_some()
    }
}

impl From<&str> for SessionToken {
    /// As [`SessionToken::parse`].
    fn from(text: &str) -> Self {
        SessionToken::parse(text)
    }
}

impl From<String> for SessionToken {
    /// As [`SessionToken::parse`].
    fn from(text: String) -> Self {
        SessionToken::parse(&text)
    }
}

impl std::fmt::Display for SessionToken {
    /// The 64 hex digits; the empty string for a malformed token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(bytes) => f.write_str(&to_hex(bytes)),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for SessionToken {
    /// Only the first 4 hex digits, so logs and panics do not leak a live session.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(bytes) => write!(f, "SessionToken({}…)", to_hex(&bytes[..2])),
            None => f.write_str("SessionToken(malformed)"),
        }
    }
}

impl Serialize for SessionToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SessionToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SessionToken;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a session token (a string)")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<SessionToken, E> {
                Ok(SessionToken::parse(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Hex encoding of bytes (lowercase), used for tokens and digests.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Parses lowercase or uppercase hex; `None` if the input is not exactly `N` bytes of hex.
pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_64_hex_digits_and_anything_else_is_malformed() {
        let t = SessionToken::parse(&"ab".repeat(32));
        assert_eq!(t.bytes(), Some(&[0xab; 32]));
        assert_eq!(SessionToken::parse(&"AB".repeat(32)), t);
        for bad in [
            "",
            "not-a-token",
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            assert!(!SessionToken::parse(bad).is_well_formed(), "{bad:?}");
        }
        assert_eq!(format!("{t:?}"), "SessionToken(abab…)");
    }

    #[test]
    fn the_wire_form_is_the_hex_string_and_any_string_decodes() {
        let t = SessionToken::from_bytes([7; 32]);
        let as_token = crate::frame::encode(&t).unwrap();
        assert_eq!(as_token, crate::frame::encode(&t.to_string()).unwrap());
        assert_eq!(crate::frame::decode::<SessionToken>(&as_token).unwrap(), t);
        let long = crate::frame::encode(&"x".repeat(100_000)).unwrap();
        let malformed: SessionToken = crate::frame::decode(&long).unwrap();
        assert!(!malformed.is_well_formed());
        // A malformed token encodes as the empty string and stays malformed.
        let again: SessionToken =
            crate::frame::decode(&crate::frame::encode(&malformed).unwrap()).unwrap();
        assert!(!again.is_well_formed());
        // A non-string is still an error.
        assert!(crate::frame::decode::<SessionToken>(&[0xff]).is_err());
    }
}
