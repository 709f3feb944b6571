//! The chunk size a file is cut into: by default [`DEFAULT_CHUNK_SIZE_BYTES`] (512 KiB) up to
//! [`DEFAULT_MAX_CHUNKS`] chunks (16 GiB), then the smallest power of two that keeps the file
//! within [`DEFAULT_MAX_CHUNKS`], up to [`MAX_CHUNK_SIZE_BYTES`] (reached at 2 TiB; larger files
//! get more chunks, up to [`MAX_CHUNKS_PER_FILE`]). A size given by the user is checked against
//! the same limits the tracker enforces before anything is hashed.
//!
//! Why 32768 chunks: a registration carries the file's manifest, 20 bytes of SHA-1 per chunk,
//! in one Raft entry that every node stores, replicates and keeps in its snapshots, and every
//! downloader fetches the manifest and a bitfield per source. At 32768 chunks the manifest is
//! 640 KiB, within the tracker's usual entry size (`MAX_ENTRY_BYTES`, 1 MiB), and a source's
//! bitfield is 4 KiB; a 1 TiB file is cut into 32 MiB chunks. Small files keep small chunks,
//! which spread over many sources and let downloaders trade early.

use crate::limits::{MAX_CHUNKS_PER_FILE, MAX_CHUNK_SIZE_BYTES, MIN_CHUNK_SIZE_BYTES};
use crate::tracker_msg::{FileManifest, DEFAULT_CHUNK_SIZE_BYTES};

/// Most chunks a file gets from the default chunk size, unless it is larger than
/// `DEFAULT_MAX_CHUNKS` chunks of [`MAX_CHUNK_SIZE_BYTES`] (2 TiB).
pub const DEFAULT_MAX_CHUNKS: u64 = 32_768;

/// The default chunk size for a file of `size_bytes` (see the module doc).
pub fn default_chunk_size_bytes(size_bytes: u64) -> u32 {
    let mut chunk = DEFAULT_CHUNK_SIZE_BYTES;
    while chunk < MAX_CHUNK_SIZE_BYTES
        && FileManifest::expected_chunk_count(size_bytes, chunk) > DEFAULT_MAX_CHUNKS
    {
        chunk = chunk.saturating_mul(2).min(MAX_CHUNK_SIZE_BYTES);
    }
    chunk
}

/// A chunk size the tracker would refuse for a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkSizeError {
    /// Outside [`MIN_CHUNK_SIZE_BYTES`]..=[`MAX_CHUNK_SIZE_BYTES`].
    #[error("chunk size {chunk_size_bytes} is outside {MIN_CHUNK_SIZE_BYTES}..={MAX_CHUNK_SIZE_BYTES} bytes")]
    OutOfRange {
        /// The size given.
        chunk_size_bytes: u32,
    },
    /// The file would have more than [`MAX_CHUNKS_PER_FILE`] chunks.
    #[error(
        "a file of {size_bytes} bytes has {chunks} chunks of {chunk_size_bytes} bytes, more than \
         the {MAX_CHUNKS_PER_FILE} allowed: use a larger --chunk-size, or leave it out"
    )]
    TooManyChunks {
        /// The file's size.
        size_bytes: u64,
        /// The size given.
        chunk_size_bytes: u32,
        /// The chunks it would make.
        chunks: u64,
    },
}

/// The chunk size to cut a file of `size_bytes` into: `given` if the tracker would accept it,
/// else the default for the size.
///
/// # Errors
/// [`ChunkSizeError`] if `given` is out of range or makes too many chunks.
pub fn chunk_size_for(size_bytes: u64, given: Option<u32>) -> Result<u32, ChunkSizeError> {
    let Some(chunk_size_bytes) = given else {
        return Ok(default_chunk_size_bytes(size_bytes));
    };
    if !(MIN_CHUNK_SIZE_BYTES..=MAX_CHUNK_SIZE_BYTES).contains(&chunk_size_bytes) {
        return Err(ChunkSizeError::OutOfRange { chunk_size_bytes });
    }
    let chunks = FileManifest::expected_chunk_count(size_bytes, chunk_size_bytes);
    if chunks > MAX_CHUNKS_PER_FILE as u64 {
        return Err(ChunkSizeError::TooManyChunks {
            size_bytes,
            chunk_size_bytes,
            chunks,
        });
    }
    Ok(chunk_size_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;

    fn chunk(size: u64) -> u64 {
        u64::from(default_chunk_size_bytes(size))
    }

    #[test]
    fn small_files_keep_512_kib_chunks_up_to_16_gib() {
        for size in [0, 1, 512 * KIB, GIB, 16 * GIB] {
            assert_eq!(chunk(size), 512 * KIB, "{size}");
        }
        assert_eq!(16 * GIB / (512 * KIB), DEFAULT_MAX_CHUNKS);
    }

    #[test]
    fn larger_files_double_the_chunk_to_stay_within_32768_chunks() {
        assert_eq!(chunk(16 * GIB + 1), MIB, "one byte over doubles it");
        assert_eq!(chunk(32 * GIB), MIB);
        assert_eq!(chunk(32 * GIB + 1), 2 * MIB);
        assert_eq!(chunk(100 * GIB), 4 * MIB);
        assert_eq!(chunk(TIB), 32 * MIB);
        assert_eq!(chunk(TIB + 1), 64 * MIB);
        assert_eq!(chunk(2 * TIB), 64 * MIB);
        for size in [16 * GIB + 1, 100 * GIB, TIB, 2 * TIB] {
            let n = FileManifest::expected_chunk_count(size, default_chunk_size_bytes(size));
            assert!(
                n <= DEFAULT_MAX_CHUNKS && n > DEFAULT_MAX_CHUNKS / 2,
                "{size}: {n}"
            );
        }
    }

    #[test]
    fn beyond_2_tib_the_chunk_stays_at_the_maximum() {
        assert_eq!(chunk(4 * TIB), u64::from(MAX_CHUNK_SIZE_BYTES));
        assert_eq!(
            FileManifest::expected_chunk_count(4 * TIB, MAX_CHUNK_SIZE_BYTES),
            65_536
        );
        assert_eq!(chunk(u64::MAX), u64::from(MAX_CHUNK_SIZE_BYTES));
        // The default is always one the tracker accepts, up to its largest file.
        let largest = MAX_CHUNKS_PER_FILE as u64 * u64::from(MAX_CHUNK_SIZE_BYTES);
        for size in [0, 4 * TIB, 20 * TIB, largest] {
            assert_eq!(
                chunk_size_for(size, None),
                Ok(default_chunk_size_bytes(size))
            );
            assert!(chunk_size_for(size, Some(default_chunk_size_bytes(size))).is_ok());
        }
    }

    #[test]
    fn a_given_chunk_size_is_checked() {
        assert_eq!(chunk_size_for(TIB, Some(16 << 20)), Ok(16 << 20));
        assert_eq!(
            chunk_size_for(10, Some(MIN_CHUNK_SIZE_BYTES - 1)),
            Err(ChunkSizeError::OutOfRange {
                chunk_size_bytes: MIN_CHUNK_SIZE_BYTES - 1
            })
        );
        assert!(chunk_size_for(10, Some(MAX_CHUNK_SIZE_BYTES + 1)).is_err());
        assert!(chunk_size_for(10, Some(0)).is_err());
        let e = chunk_size_for(TIB, Some(512 << 10)).unwrap_err();
        assert_eq!(
            e,
            ChunkSizeError::TooManyChunks {
                size_bytes: TIB,
                chunk_size_bytes: 512 << 10,
                chunks: 2 * 1024 * 1024
            }
        );
        assert!(e.to_string().contains("--chunk-size"), "{e}");
    }
}
