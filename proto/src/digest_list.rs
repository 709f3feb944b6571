//! Serde for a list of SHA-1 digests as one byte string: a manifest's chunk hashes encode and
//! decode as a single copy instead of one visit per byte (a 1 GiB file has 2048 of them, and the
//! tracker reads a manifest on every chunk report).

use serde::de::{Error, Visitor};
use serde::{Deserializer, Serializer};

use crate::types::Sha1Digest;

/// Bytes per digest.
const DIGEST_BYTES: usize = 20;

/// Writes the digests back to back as one byte string.
///
/// # Errors
/// The serializer's.
pub fn serialize<S: Serializer>(digests: &[Sha1Digest], s: S) -> Result<S::Ok, S::Error> {
    // The digests already lie back to back in memory: no copy, no byte-by-byte loop.
    s.serialize_bytes(digests.as_flattened())
}

/// Reads a byte string whose length is a multiple of 20 back into digests.
///
/// # Errors
/// If the length is not a multiple of 20, or the deserializer's.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Sha1Digest>, D::Error> {
    d.deserialize_byte_buf(DigestsVisitor)
}

struct DigestsVisitor;

impl<'de> Visitor<'de> for DigestsVisitor {
    type Value = Vec<Sha1Digest>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a byte string of 20-byte SHA-1 digests")
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        if !v.len().is_multiple_of(DIGEST_BYTES) {
            return Err(E::custom(format!(
                "{} bytes is not a whole number of 20-byte digests",
                v.len()
            )));
        }
        Ok(v.chunks_exact(DIGEST_BYTES)
            .map(|c| {
                let mut d = [0u8; DIGEST_BYTES];
                d.copy_from_slice(c);
                d
            })
            .collect())
    }

    fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        self.visit_bytes(&v)
    }

    fn visit_borrowed_bytes<E: Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        self.visit_bytes(v)
    }

    /// Self-describing formats (JSON) write bytes as a list of numbers.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut flat = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element::<u8>()? {
            flat.push(b);
        }
        self.visit_bytes(&flat)
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use crate::tracker_msg::FileManifest;

    #[test]
    fn manifests_round_trip() {
        let m = FileManifest {
            name: "a".into(),
            size_bytes: 3,
            chunk_size_bytes: 1,
            chunk_hashes: vec![[1; 20], [2; 20], [3; 20]],
            file_hash: [9; 20],
        };
        let bytes = crate::frame::encode(&m).expect("encode");
        let back: FileManifest = crate::frame::decode(&bytes).expect("decode");
        assert_eq!(back, m);
    }

    #[test]
    fn a_digest_string_of_the_wrong_length_is_refused() {
        /// The manifest's layout with the digests as a plain byte list (same encoding).
        #[derive(Serialize)]
        struct Raw {
            name: String,
            size_bytes: u64,
            chunk_size_bytes: u32,
            chunk_hashes: Vec<u8>,
            file_hash: [u8; 20],
        }
        let raw = Raw {
            name: "a".into(),
            size_bytes: 3,
            chunk_size_bytes: 1,
            chunk_hashes: vec![7; 59],
            file_hash: [9; 20],
        };
        let bytes = crate::frame::encode(&raw).expect("encode");
        assert!(crate::frame::decode::<FileManifest>(&bytes).is_err());
        let ok = Raw {
            chunk_hashes: vec![7; 60],
            ..raw
        };
        let bytes = crate::frame::encode(&ok).expect("encode");
        let m: FileManifest = crate::frame::decode(&bytes).expect("decode");
        assert_eq!(m.chunk_hashes, vec![[7; 20]; 3]);
    }
}
