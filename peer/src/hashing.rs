//! SHA-1 of every chunk and of the whole file, read in chunk-sized blocks (never the whole file
//! in memory). Callers run these off the async executor (`spawn_blocking`).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha1::{Digest, Sha1};

use proto::tracker_msg::{FileManifest, Sha1Digest};

/// SHA-1 of a byte slice.
pub fn sha1(data: &[u8]) -> Sha1Digest {
    Sha1::digest(data).into()
}

/// Builds the manifest of the file at `path`.
///
/// # Errors
/// I/O errors, or a chunk size of zero.
pub fn manifest_of(
    path: &Path,
    name: &str,
    chunk_size_bytes: u32,
) -> std::io::Result<FileManifest> {
    if chunk_size_bytes == 0 {
        return Err(std::io::Error::other("chunk size must be positive"));
    }
    let mut file = File::open(path)?;
    let size_bytes = file.metadata()?.len();
    let mut whole = Sha1::new();
    let mut chunk_hashes = Vec::new();
    let mut buf = vec![0u8; chunk_size_bytes as usize];
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or(&[]);
        whole.update(chunk);
        chunk_hashes.push(sha1(chunk));
        if n < buf.len() {
            break;
        }
    }
    Ok(FileManifest {
        name: name.to_string(),
        size_bytes,
        chunk_size_bytes,
        chunk_hashes,
        file_hash: whole.finalize().into(),
    })
}

/// Reads until `buf` is full or end of file; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(buf.get_mut(filled..).unwrap_or(&mut []))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Byte range of chunk `index`: (offset, length).
pub fn chunk_range(m: &FileManifest, index: u32) -> Option<(u64, usize)> {
    let count = m.chunk_hashes.len();
    if index as usize >= count {
        return None;
    }
    let offset = u64::from(index) * u64::from(m.chunk_size_bytes);
    let len = (m.size_bytes - offset).min(u64::from(m.chunk_size_bytes));
    Some((offset, usize::try_from(len).ok()?))
}

/// SHA-1 of a whole file, read sequentially.
///
/// # Errors
/// I/O errors.
pub fn file_sha1(path: &Path) -> std::io::Result<Sha1Digest> {
    let mut file = File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ranges_of_files_past_4_gib_use_64_bit_offsets() {
        let tib = 1u64 << 40;
        for size_bytes in [tib, tib + 12_345, 4 * tib] {
            let chunk_size_bytes = proto::chunk_size::default_chunk_size_bytes(size_bytes);
            let count = FileManifest::expected_chunk_count(size_bytes, chunk_size_bytes);
            let m = FileManifest {
                name: "disk.img".into(),
                size_bytes,
                chunk_size_bytes,
                chunk_hashes: vec![[0; 20]; usize::try_from(count).unwrap()],
                file_hash: [0; 20],
            };
            let last = u32::try_from(count - 1).unwrap();
            let (offset, len) = chunk_range(&m, last).unwrap();
            assert_eq!(offset, (count - 1) * u64::from(chunk_size_bytes));
            assert_eq!(offset + len as u64, size_bytes, "{size_bytes}");
            assert!(len > 0 && len <= chunk_size_bytes as usize);
            assert_eq!(chunk_range(&m, last + 1), None);
        }
    }

    #[test]
    fn manifest_matches_chunks_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let m = manifest_of(&p, "f", 4096).unwrap();
        assert_eq!(m.size_bytes, 10_000);
        assert_eq!(m.chunk_hashes.len(), 3);
        assert_eq!(m.chunk_hashes[2], sha1(&data[8192..]));
        assert_eq!(m.file_hash, sha1(&data));
        assert_eq!(file_sha1(&p).unwrap(), sha1(&data));
        assert_eq!(chunk_range(&m, 3), None);
        assert_eq!(chunk_range(&m, 2), Some((8192, 1808)));
        let empty = dir.path().join("e");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(
            manifest_of(&empty, "e", 4096).unwrap().chunk_hashes.len(),
            0
        );
    }
}
