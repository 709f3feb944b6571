//! A file that chunks are written to and read from at their offsets, bypassing the page cache
//! (`O_DIRECT`) where the filesystem allows it and the buffer, offset and length are aligned.
//!
//! Why: a download writes each byte once and does not read it again soon, and copying it into
//! newly allocated page-cache pages cost more CPU than anything else in the download, far more
//! than a direct write on the project's VM (see chaos-tests/reports/2026-11-21.md). Anything that
//! cannot go direct (a short last chunk, an unaligned chunk size, a filesystem without
//! `O_DIRECT` such as tmpfs) goes through an ordinary descriptor of the same file; the kernel
//! keeps the two coherent. Callers run these calls off the async executor.
//!
//! [`ChunkFile::open_rw`] and [`ChunkFile::open_read`] (the `.part` file of a download) never
//! follow a symbolic link in the path's last component (`O_NOFOLLOW`: a link fails with
//! `ELOOP`), and the direct descriptor is kept only if it is the same file as the buffered one.

use std::fs::{File, OpenOptions};
use std::io::{Error, ErrorKind};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::io_buf::IO_ALIGN;

/// One file, opened twice: buffered, and direct if the filesystem supports it.
pub struct ChunkFile {
    buffered: File,
    direct: Option<File>,
    /// Cleared after a direct call was refused as invalid: the device wants another alignment.
    direct_ok: AtomicBool,
}

impl ChunkFile {
    /// Opens an existing file for reading and writing, not through a symbolic link.
    ///
    /// # Errors
    /// If the file cannot be opened (`ELOOP` if the path's last component is a symbolic link).
    pub fn open_rw(path: &Path) -> std::io::Result<Self> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true);
        Self::open_with(path, &opts)
    }

    /// Opens an existing file for reading, direct where possible (for data written direct, which
    /// the page cache does not hold), not through a symbolic link.
    ///
    /// # Errors
    /// If the file cannot be opened (`ELOOP` if the path's last component is a symbolic link).
    pub fn open_read(path: &Path) -> std::io::Result<Self> {
        let mut opts = OpenOptions::new();
        opts.read(true);
        Self::open_with(path, &opts)
    }

    /// Opens an existing file for reading through the page cache only (for files read again and
    /// again, such as a seeded file).
    ///
    /// # Errors
    /// If the file cannot be opened.
    pub fn open_read_cached(path: &Path) -> std::io::Result<Self> {
        Ok(ChunkFile {
            buffered: File::open(path)?,
            direct: None,
            direct_ok: AtomicBool::new(false),
        })
    }

    fn open_with(path: &Path, opts: &OpenOptions) -> std::io::Result<Self> {
        let mut opts = opts.clone();
        opts.custom_flags(libc::O_NOFOLLOW);
        let buffered = opts.open(path)?;
        // The path may name another file by the time of the second open: keep the direct
        // descriptor only if it is the same file.
        let direct = open_direct(path, &opts).filter(|d| same_file(d, &buffered));
        Ok(ChunkFile {
            direct_ok: AtomicBool::new(direct.is_some()),
            buffered,
            direct,
        })
    }

    /// The buffered descriptor (the one `fsync` and metadata calls use).
    pub fn file(&self) -> &File {
        &self.buffered
    }

    fn direct_for(&self, buf: &[u8], offset: u64) -> Option<&File> {
        let aligned = buf.as_ptr().addr().is_multiple_of(IO_ALIGN)
            && buf.len().is_multiple_of(IO_ALIGN)
            && offset.is_multiple_of(IO_ALIGN as u64);
        (aligned && self.direct_ok.load(Ordering::Relaxed))
            .then_some(self.direct.as_ref())
            .flatten()
    }

    /// Writes all of `data` at `offset`.
    ///
    /// # Errors
    /// I/O errors (for example a full disk).
    pub fn write_at(&self, data: &[u8], offset: u64) -> std::io::Result<()> {
        let done = match self.direct_for(data, offset) {
            Some(direct) => self.direct_part(data.len(), ErrorKind::WriteZero, |at| {
                direct.write_at(data.get(at..).unwrap_or(&[]), offset + at as u64)
            })?,
            None => 0,
        };
        let rest = data.get(done..).unwrap_or(&[]);
        self.buffered.write_all_at(rest, offset + done as u64)
    }

    /// Fills `buf` from `offset`.
    ///
    /// # Errors
    /// I/O errors, or [`ErrorKind::UnexpectedEof`] if the file is shorter.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let done = match self.direct_for(buf, offset) {
            Some(direct) => self.direct_part(buf.len(), ErrorKind::UnexpectedEof, |at| {
                direct.read_at(buf.get_mut(at..).unwrap_or(&mut []), offset + at as u64)
            })?,
            None => 0,
        };
        let rest = buf.get_mut(done..).unwrap_or(&mut []);
        self.buffered.read_exact_at(rest, offset + done as u64)
    }

    /// The direct part of one read or write of `len` bytes (buffer, offset and length aligned),
    /// shared by [`Self::read_at`] and [`Self::write_at`]: calls `io(done)` to move the bytes
    /// from `done` on, until all `len` are done, a call moved a partial block (the rest then
    /// goes buffered), or the device refused direct I/O as invalid (the rest, and every later
    /// call on this file, goes buffered). Returns the bytes done; a call that moved nothing
    /// fails with `at_zero`.
    fn direct_part(
        &self,
        len: usize,
        at_zero: ErrorKind,
        mut io: impl FnMut(usize) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        let mut done = 0usize;
        while done < len {
            match io(done) {
                Ok(0) => return Err(Error::from(at_zero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::InvalidInput => {
                    self.refuse_direct(&e);
                    break;
                }
                Err(e) => return Err(e),
            }
            if !done.is_multiple_of(IO_ALIGN) {
                break;
            }
        }
        Ok(done)
    }

    fn refuse_direct(&self, e: &Error) {
        if self.direct_ok.swap(false, Ordering::Relaxed) {
            tracing::debug!(%e, "direct I/O refused; using buffered I/O for this file");
        }
    }

    /// Flushes written data to the disk (`fdatasync`).
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync_data(&self) -> std::io::Result<()> {
        self.buffered.sync_data()
    }

    /// Flushes written data and metadata to the disk (`fsync`).
    ///
    /// # Errors
    /// I/O errors.
    pub fn sync_all(&self) -> std::io::Result<()> {
        self.buffered.sync_all()
    }
}

/// Whether two descriptors are the same file (device and inode, by `fstat`).
fn same_file(a: &File, b: &File) -> bool {
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path, opts: &OpenOptions) -> Option<File> {
    let mut opts = opts.clone();
    opts.custom_flags(libc::O_DIRECT);
    opts.open(path).ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path, _opts: &OpenOptions) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io_buf::AlignedBuf;

    #[test]
    fn aligned_and_unaligned_chunks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let size = 3 * IO_ALIGN as u64 + 100;
        File::create(&p).unwrap().set_len(size).unwrap();
        let f = ChunkFile::open_rw(&p).unwrap();
        let mut a = AlignedBuf::new(2 * IO_ALIGN);
        a.data_mut(2 * IO_ALIGN).fill(1);
        f.write_at(a.data(2 * IO_ALIGN), 0).unwrap();
        // An unaligned length at an aligned offset, and bytes at an unaligned offset.
        f.write_at(&[2u8; IO_ALIGN + 100], 2 * IO_ALIGN as u64)
            .unwrap();
        f.write_at(&[3u8; 10], 5).unwrap();
        f.sync_data().unwrap();
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(on_disk.len() as u64, size);
        assert!(on_disk[..5].iter().all(|&b| b == 1));
        assert!(on_disk[5..15].iter().all(|&b| b == 3));
        assert!(on_disk[15..2 * IO_ALIGN].iter().all(|&b| b == 1));
        assert!(on_disk[2 * IO_ALIGN..].iter().all(|&b| b == 2));
        let mut back = AlignedBuf::new(2 * IO_ALIGN);
        f.read_at(back.data_mut(2 * IO_ALIGN), 2 * IO_ALIGN as u64)
            .map(|()| panic!("reading past the end must fail"))
            .unwrap_or_else(|e| assert_eq!(e.kind(), ErrorKind::UnexpectedEof));
        f.read_at(back.data_mut(IO_ALIGN), IO_ALIGN as u64).unwrap();
        assert!(back.data(IO_ALIGN).iter().all(|&b| b == 1));
        let mut tail = [0u8; 100];
        f.read_at(&mut tail, 3 * IO_ALIGN as u64).unwrap();
        assert!(tail.iter().all(|&b| b == 2));
    }

    #[test]
    fn never_opens_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep me").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for open in [ChunkFile::open_rw, ChunkFile::open_read] {
            let err = open(&link).map(|_| ()).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        }
        assert!(ChunkFile::open_rw(&target).is_ok());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    }
}
