//! Tests of a chunk's way to disk: a write that fails (a full disk, injected through the chunk
//! store's write path with `/dev/full`, whose writes fail with `ENOSPC`) ends the download with
//! "disk full at DEST" and leaves the chunk missing; a write that succeeds marks it held.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;

use proto::tracker_msg::FileManifest;

use super::{verify_and_write, Checked};
use crate::chunk_store::ChunkFile;
use crate::control::DownloadState;
use crate::daemon::download::{DataPath, DownloadHandle, DownloadRecord};
use crate::error::DownloadError;
use crate::hashing::sha1;
use crate::io_buf::{AlignedBuf, BufPool};

const CHUNK: usize = 4096;
const PEER: u64 = 7;

/// A download of two chunks of `data` to `dest`, with `PEER` holding both.
fn download(dest: &Path, data: &[u8]) -> DownloadHandle {
    let manifest = FileManifest {
        name: "f".into(),
        size_bytes: data.len() as u64,
        chunk_size_bytes: CHUNK as u32,
        chunk_hashes: data.chunks(CHUNK).map(sha1).collect(),
        file_hash: sha1(data),
    };
    let record = DownloadRecord {
        id: "id".into(),
        group: "g".into(),
        name: "f".into(),
        dest: dest.to_path_buf(),
        manifest,
        state: DownloadState::Running,
    };
    let h = DownloadHandle::new(&record, &[]);
    h.sched.set_peer_bitfield(PEER, vec![true; 2]);
    h
}

fn data_path(file: ChunkFile) -> DataPath {
    DataPath {
        file,
        pool: BufPool::new(CHUNK, 2),
        slots: Arc::new(Semaphore::new(1)),
    }
}

fn chunk_buf(bytes: &[u8]) -> AlignedBuf {
    let mut buf = AlignedBuf::new(CHUNK);
    buf.data_mut(bytes.len()).copy_from_slice(bytes);
    buf
}

#[test]
fn a_full_disk_ends_the_download_and_claims_nothing() {
    let data: Vec<u8> = (0..2 * CHUNK).map(|i| (i % 251) as u8).collect();
    let h = download(Path::new("/tmp/film.mkv"), &data);
    let io = data_path(ChunkFile::open_rw(Path::new("/dev/full")).unwrap());
    let index = h.sched.next_for(PEER).unwrap();
    let at = index as usize * CHUNK;
    let stored = verify_and_write(&h, &io, PEER, index, chunk_buf(&data[at..at + CHUNK]));
    assert_eq!(
        stored,
        Checked::Unchanged,
        "a chunk whose write failed is not held"
    );
    assert!(!h.has_chunk(index));
    assert!(h.sched.have_bits().iter().all(|b| !b), "nothing claimed");
    assert_eq!(h.unflushed.load(std::sync::atomic::Ordering::Relaxed), 0);
    let why = h
        .take_failure()
        .expect("the failed write ends the download");
    assert!(matches!(why, DownloadError::DiskFull { .. }), "{why:?}");
    assert!(
        why.to_string().starts_with("disk full at /tmp/film.mkv"),
        "{why}"
    );
    assert!(h.take_failure().is_none(), "reported once");
}

#[test]
fn a_written_chunk_is_held_and_a_bad_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("f.part");
    std::fs::File::create(&part)
        .unwrap()
        .set_len(2 * CHUNK as u64)
        .unwrap();
    let data: Vec<u8> = (0..2 * CHUNK).map(|i| (i % 241) as u8).collect();
    let h = download(&dir.path().join("f"), &data);
    let io = data_path(ChunkFile::open_rw(&part).unwrap());
    let first = h.sched.next_for(PEER).unwrap();
    let second = h.sched.next_for(PEER).unwrap();
    let at = first as usize * CHUNK;
    assert_eq!(
        verify_and_write(&h, &io, PEER, first, chunk_buf(&data[at..at + CHUNK])),
        Checked::Held(CHUNK)
    );
    assert!(h.has_chunk(first));
    let at = second as usize * CHUNK;
    let mut wrong = data[at..at + CHUNK].to_vec();
    wrong[0] ^= 1;
    assert_eq!(
        verify_and_write(&h, &io, PEER, second, chunk_buf(&wrong)),
        Checked::Rejected
    );
    assert!(!h.has_chunk(second));
    assert!(h.take_failure().is_none(), "a bad hash does not end it");
    let on_disk = std::fs::read(&part).unwrap();
    let at = first as usize * CHUNK;
    assert_eq!(&on_disk[at..at + CHUNK], &data[at..at + CHUNK]);
}

#[test]
fn write_errors_name_a_full_disk_and_nothing_else() {
    let (dest, part) = (Path::new("/d/f"), Path::new("/d/f.part"));
    for errno in [libc::ENOSPC, libc::EDQUOT] {
        let e = DownloadError::from_write(dest, part, std::io::Error::from_raw_os_error(errno));
        assert!(e.to_string().starts_with("disk full at /d/f: "), "{e}");
        let e = DownloadError::from_sync(dest, part, std::io::Error::from_raw_os_error(errno));
        assert!(e.to_string().starts_with("disk full at /d/f: "), "{e}");
    }
    let e = DownloadError::from_write(dest, part, std::io::Error::from_raw_os_error(libc::EIO));
    assert!(
        e.to_string().starts_with("cannot write to /d/f.part"),
        "{e}"
    );
    let e = DownloadError::from_sync(dest, part, std::io::Error::from_raw_os_error(libc::EIO));
    assert!(e.to_string().starts_with("cannot sync /d/f.part"), "{e}");
}
