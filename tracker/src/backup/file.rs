//! The file `cluster snapshot save` writes and `cluster snapshot restore` reads: a fixed header,
//! then the state-machine image ([`crate::store::image`]) byte for byte.
//!
//! Header, 68 bytes, integers big-endian:
//! `magic "P2PTSNAP" | format version u32 | flags u32 | applied term u64 | applied leader u64 |
//! applied index u64 | SHA-1 of the image (20 bytes) | image length u64`.
//! Flag bit 0 marks an image read from one node's local state without a leader (possibly stale).
//! The SHA-1 of the image is the state digest `cluster status` shows for that applied state.

use std::io::Read;

use thiserror::Error;

/// First bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"P2PTSNAP";
/// Format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the header.
pub const HEADER_BYTES: usize = 68;
/// Largest image a file may announce (restore holds the image in memory, as an install does).
pub const MAX_IMAGE_BYTES: u64 = 16 << 30;
/// Flag: the image is one node's local state, read without a leader.
const FLAG_LOCAL: u32 = 1;

/// A snapshot file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// Term of the applied log id the image is at.
    pub applied_term: u64,
    /// Leader node of that log id.
    pub applied_leader: u64,
    /// Index of that log id.
    pub applied_index: u64,
    /// SHA-1 of the image.
    pub digest: [u8; 20],
    /// Length of the image in bytes.
    pub image_bytes: u64,
    /// Read from one node's local state without a leader (possibly stale).
    pub local: bool,
}

/// Why a header was refused.
#[derive(Debug, Error)]
pub enum HeaderError {
    /// Reading failed (a file shorter than a header ends here).
    #[error("cannot read the snapshot header: {0}")]
    Io(#[from] std::io::Error),
    /// Not a snapshot file.
    #[error("not a snapshot file (its first bytes are not \"P2PTSNAP\")")]
    Magic,
    /// Written by a build with another format.
    #[error("snapshot format version {0}; this build reads version {FORMAT_VERSION}")]
    Version(u32),
    /// An image larger than any restore accepts.
    #[error(
        "the header announces an image of {0} bytes, more than the {MAX_IMAGE_BYTES} accepted"
    )]
    TooLarge(u64),
}

impl SnapshotHeader {
    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        let flags = if self.local { FLAG_LOCAL } else { 0 };
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&MAGIC);
        put(&FORMAT_VERSION.to_be_bytes());
        put(&flags.to_be_bytes());
        put(&self.applied_term.to_be_bytes());
        put(&self.applied_leader.to_be_bytes());
        put(&self.applied_index.to_be_bytes());
        put(&self.digest);
        put(&self.image_bytes.to_be_bytes());
        out
    }

    /// Reads and checks a header from the start of `r`.
    ///
    /// # Errors
    /// [`HeaderError`] for a short read, another magic or version, or an oversized image.
    pub fn read_from(r: &mut impl Read) -> Result<Self, HeaderError> {
        let mut b = [0u8; HEADER_BYTES];
        r.read_exact(&mut b)?;
        Self::parse(&b)
    }

    /// Parses and checks header bytes.
    ///
    /// # Errors
    /// As [`SnapshotHeader::read_from`], without the I/O.
    pub fn parse(b: &[u8; HEADER_BYTES]) -> Result<Self, HeaderError> {
        let u32_at = |at: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[at..at + 4]);
            u32::from_be_bytes(x)
        };
        let u64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            u64::from_be_bytes(x)
        };
        if b[..8] != MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        let mut digest = [0u8; 20];
        digest.copy_from_slice(&b[40..60]);
        let header = SnapshotHeader {
            local: u32_at(12) & FLAG_LOCAL != 0,
            applied_term: u64_at(16),
            applied_leader: u64_at(24),
            applied_index: u64_at(32),
            digest,
            image_bytes: u64_at(60),
        };
        if header.image_bytes > MAX_IMAGE_BYTES {
            return Err(HeaderError::TooLarge(header.image_bytes));
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SnapshotHeader {
        SnapshotHeader {
            applied_term: 7,
            applied_leader: 2,
            applied_index: 12345,
            digest: [0xab; 20],
            image_bytes: 999,
            local: true,
        }
    }

    #[test]
    fn a_header_round_trips() {
        let h = sample();
        assert_eq!(SnapshotHeader::parse(&h.to_bytes()).unwrap(), h);
        let remote = SnapshotHeader { local: false, ..h };
        let mut bytes: &[u8] = &remote.to_bytes();
        assert_eq!(SnapshotHeader::read_from(&mut bytes).unwrap(), remote);
    }

    #[test]
    fn a_wrong_magic_version_size_or_a_short_file_is_refused() {
        let good = sample().to_bytes();
        let mut bad = good;
        bad[0] = b'X';
        assert!(matches!(
            SnapshotHeader::parse(&bad),
            Err(HeaderError::Magic)
        ));
        let mut bad = good;
        bad[11] = 2;
        assert!(matches!(
            SnapshotHeader::parse(&bad),
            Err(HeaderError::Version(2))
        ));
        let huge = SnapshotHeader {
            image_bytes: MAX_IMAGE_BYTES + 1,
            ..sample()
        };
        assert!(matches!(
            SnapshotHeader::parse(&huge.to_bytes()),
            Err(HeaderError::TooLarge(_))
        ));
        let mut short: &[u8] = &good[..HEADER_BYTES - 1];
        assert!(matches!(
            SnapshotHeader::read_from(&mut short),
            Err(HeaderError::Io(_))
        ));
    }
}
