//! The `.part` file of a download, beside its destination: created exclusively, reopened only
//! if it is still a regular file of ours, and moved into place without replacing anything.
//!
//! The destination's directory may be writable by others (a shared download folder), so every
//! step assumes someone may put a file or a symbolic link at `DEST.part` or `DEST` at any time:
//! - A fresh download creates `DEST.part` with `O_CREAT | O_EXCL` (a link or file already there
//!   fails the create instead of being written through or truncated).
//! - Every later open ([`ChunkFile::open_rw`], [`ChunkFile::open_read`]) uses `O_NOFOLLOW`, and
//!   [`open_checked`] then checks (`fstat` on the open descriptor) that it is a regular file
//!   owned by this process's user with one link, so a hard link to another file is refused too.
//! - [`move_into_place`] renames with `RENAME_NOREPLACE`, and where the filesystem lacks it,
//!   links the new name and unlinks the old (`link` never replaces either): a file or link that
//!   appeared at `DEST` stays, and the download stays at `DEST.part`.
//!
//! Left open: the name `DEST.part` is checked against the open descriptor just before the rename,
//! not atomically with it; someone who can write to the directory could swap it in between.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use rustix::fs::{renameat_with, RenameFlags, CWD};
use rustix::io::Errno;

use crate::chunk_store::ChunkFile;
use crate::error::DownloadError;

/// Creates `part` exclusively (never through a link, never over an existing file) and sizes it
/// to `size` bytes (sparse). Blocking.
///
/// # Errors
/// [`DownloadError::PartIsSymlink`] or [`DownloadError::PartExists`] if anything is at `part`,
/// [`DownloadError::CreatePart`] for any other failure.
pub(super) fn create_fresh(part: &Path, size: u64) -> Result<(), DownloadError> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(part);
    let file = match created {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(existing(part)),
        Err(source) => {
            return Err(DownloadError::CreatePart {
                path: part.to_path_buf(),
                source,
            })
        }
    };
    file.set_len(size)
        .map_err(|source| DownloadError::CreatePart {
            path: part.to_path_buf(),
            source,
        })
}

/// What is already at `part`, as the error that refuses it.
fn existing(part: &Path) -> DownloadError {
    let is_link = std::fs::symlink_metadata(part).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        DownloadError::PartIsSymlink {
            path: part.to_path_buf(),
        }
    } else {
        DownloadError::PartExists {
            path: part.to_path_buf(),
        }
    }
}

/// Removes a `.part` file an earlier, ended run of the same download left (whatever is there:
/// `unlink` removes a link itself, never its target). Nothing there is fine. Blocking.
///
/// # Errors
/// [`DownloadError::CreatePart`] if it cannot be removed.
pub(super) fn remove_stale(part: &Path) -> Result<(), DownloadError> {
    match std::fs::remove_file(part) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DownloadError::CreatePart {
            path: part.to_path_buf(),
            source,
        }),
    }
}

/// Opens an existing `.part` file (read and write, or read only) without following a link,
/// and checks it is a regular file of this user with a single link. Blocking.
///
/// # Errors
/// [`DownloadError::PartIsSymlink`], [`DownloadError::PartNotOurs`], or
/// [`DownloadError::OpenPart`].
pub fn open_checked(part: &Path, write: bool) -> Result<ChunkFile, DownloadError> {
    let opened = if write {
        ChunkFile::open_rw(part)
    } else {
        ChunkFile::open_read(part)
    };
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(DownloadError::PartIsSymlink {
                path: part.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(DownloadError::OpenPart {
                path: part.to_path_buf(),
                source,
            })
        }
    };
    check_ours(part, file.file())?;
    Ok(file)
}

/// Checks, on the open descriptor, that it is a regular file owned by this process's user
/// with a single link.
fn check_ours(part: &Path, file: &File) -> Result<(), DownloadError> {
    let meta = file.metadata().map_err(|source| DownloadError::OpenPart {
        path: part.to_path_buf(),
        source,
    })?;
    let not_ours = |why: String| DownloadError::PartNotOurs {
        path: part.to_path_buf(),
        why,
    };
    if !meta.file_type().is_file() {
        return Err(not_ours("not a regular file".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(not_ours(format!("owned by uid {}, not {me}", meta.uid())));
    }
    if meta.nlink() != 1 {
        return Err(not_ours(format!("it has {} links", meta.nlink())));
    }
    Ok(())
}

/// Moves the finished `part` (open as `file`) to `dest`, never replacing what is at `dest`.
/// Blocking.
///
/// # Errors
/// [`DownloadError::DestinationAppeared`] if anything is at `dest` (the file stays at `part`),
/// [`DownloadError::PartReplaced`] if `part` no longer names `file`,
/// [`DownloadError::MoveIntoPlace`] for any other failure.
pub(super) fn move_into_place(part: &Path, file: &File, dest: &Path) -> Result<(), DownloadError> {
    let still_ours = match (std::fs::symlink_metadata(part), file.metadata()) {
        (Ok(named), Ok(open)) => (named.dev(), named.ino()) == (open.dev(), open.ino()),
        _ => false,
    };
    if !still_ours {
        return Err(DownloadError::PartReplaced {
            path: part.to_path_buf(),
        });
    }
    match renameat_with(CWD, part, CWD, dest, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // The filesystem (or kernel) has no RENAME_NOREPLACE.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => link_then_unlink(part, dest),
        Err(e) => Err(move_error(part, dest, e.into())),
    }
}

/// The fallback of [`move_into_place`]: `link` fails if `dest` exists, then the old name goes.
fn link_then_unlink(part: &Path, dest: &Path) -> Result<(), DownloadError> {
    std::fs::hard_link(part, dest).map_err(|e| move_error(part, dest, e))?;
    std::fs::remove_file(part).map_err(|source| DownloadError::MoveIntoPlace {
        path: dest.to_path_buf(),
        source,
    })
}

fn move_error(part: &Path, dest: &Path, e: std::io::Error) -> DownloadError {
    if e.kind() == ErrorKind::AlreadyExists {
        DownloadError::DestinationAppeared {
            dest: dest.to_path_buf(),
            part: part.to_path_buf(),
        }
    } else {
        DownloadError::MoveIntoPlace {
            path: dest.to_path_buf(),
            source: e,
        }
    }
}

#[cfg(test)]
#[path = "part_test.rs"]
mod tests;
