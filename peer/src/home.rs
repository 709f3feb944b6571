//! The peer's home directory: everything one user's peer keeps on disk.
//!
//! ```text
//! HOME/session.json      token and username (mode 0600)
//! HOME/peer_id           this peer's random id
//! HOME/peer-key.pem      this daemon's Ed25519 key (mode 0600; see crate::identity)
//! HOME/trackers          the tracker list given at login
//! HOME/ca.pem            a copy of the cluster CA given at login (`--ca`)
//! HOME/daemon.sock       control socket of the running daemon (mode 0600)
//! HOME/shares.json       files this peer seeds (uploads and finished downloads)
//! HOME/partial/          one JSON state file and one bitfield file per download (resume state)
//! HOME/downloads/        finished downloads without a destination (the default `--download-dir`)
//! ```
//!
//! The resume state lived in `HOME/downloads/` before that became the user's download folder;
//! [`Home::move_old_resume_state`] moves it to `HOME/partial/` once, at the daemon's start.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A logged-in session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Username.
    pub username: String,
    /// Session token (stored as its hex digits; a malformed one makes the tracker answer "not
    /// logged in").
    pub token: proto::tracker_msg::SessionToken,
}

/// Errors about the home directory.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// Not logged in.
    #[error("not logged in: run `peer login <username>` first")]
    NotLoggedIn,
    /// Filesystem trouble.
    #[error("cannot access {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A state file does not parse.
    #[error("{path} is corrupt ({reason}); delete it to start over")]
    Corrupt {
        /// Path.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
}

/// The home directory of one peer.
#[derive(Debug, Clone)]
pub struct Home {
    /// Its path.
    pub dir: PathBuf,
}

impl Home {
    /// Opens (creating, owner-only) the home at `dir`.
    ///
    /// # Errors
    /// If the directory cannot be created.
    pub fn open(dir: &Path) -> Result<Self, HomeError> {
        let io = |source| HomeError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir.join(PARTIAL_DIR)).map_err(io)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        Ok(Home {
            dir: dir.to_path_buf(),
        })
    }

    /// Default home: `$PEER_HOME`, else `~/.p2p-peer`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".p2p-peer")
    }

    /// Path of the control socket.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("daemon.sock")
    }

    /// The copy of the cluster CA kept at login.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Directory of the downloads' resume state (`HOME/partial`).
    pub fn partial_dir(&self) -> PathBuf {
        self.dir.join(PARTIAL_DIR)
    }

    /// The default download folder (`HOME/downloads`), where `peer download GROUP NAME` without
    /// a destination saves.
    pub fn default_download_dir(&self) -> PathBuf {
        self.dir.join("downloads")
    }

    /// Moves resume state files (`<id>.json`, `<id>.bits`, an id being 16 lowercase hex digits)
    /// left in `HOME/downloads/` by an older daemon into `HOME/partial/`, so that folder holds
    /// only the user's finished files. A file whose name is taken in `partial/` stays. Returns
    /// how many were moved.
    ///
    /// # Errors
    /// [`HomeError::Io`] if a file cannot be moved.
    pub fn move_old_resume_state(&self) -> Result<usize, HomeError> {
        let old = self.default_download_dir();
        let Ok(entries) = std::fs::read_dir(&old) else {
            return Ok(0);
        };
        let mut moved = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if !is_resume_file_name(name) || !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let to = self.partial_dir().join(name);
            if std::fs::symlink_metadata(&to).is_ok() {
                continue;
            }
            std::fs::rename(e.path(), &to).map_err(|source| HomeError::Io {
                path: e.path(),
                source,
            })?;
            moved += 1;
        }
        Ok(moved)
    }

    /// The current session.
    ///
    /// # Errors
    /// [`HomeError::NotLoggedIn`] if there is none.
    pub fn session(&self) -> Result<Session, HomeError> {
        let path = self.dir.join("session.json");
        if !path.exists() {
            return Err(HomeError::NotLoggedIn);
        }
        read_json(&path)
    }

    /// Stores a session (mode 0600).
    ///
    /// # Errors
    /// If it cannot be written.
    pub fn save_session(&self, s: &Session) -> Result<(), HomeError> {
        write_json_private(&self.dir.join("session.json"), s)
    }

    /// Removes the session.
    pub fn clear_session(&self) {
        let _ = std::fs::remove_file(self.dir.join("session.json"));
    }

    /// This peer's id, created on first use.
    ///
    /// # Errors
    /// If it cannot be read or written.
    pub fn peer_id(&self) -> Result<u64, HomeError> {
        let path = self.dir.join("peer_id");
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|source| HomeError::Io {
                path: path.clone(),
                source,
            })?;
            return text.trim().parse().map_err(|_| HomeError::Corrupt {
                path,
                reason: "not a number".into(),
            });
        }
        let id: u64 = rand::thread_rng().gen_range(1..u64::MAX);
        write_private(&path, id.to_string().as_bytes())?;
        Ok(id)
    }
}

/// The resume state's folder inside the home.
const PARTIAL_DIR: &str = "partial";

/// Whether `name` is a download's resume file: a download id (16 lowercase hex digits) with
/// `.json` or `.bits`.
fn is_resume_file_name(name: &str) -> bool {
    let Some((stem, ext)) = name.split_once('.') else {
        return false;
    };
    (ext == "json" || ext == "bits")
        && stem.len() == 16
        && stem
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Largest state file the peer reads back (a download record holds its whole manifest, one
/// pretty-printed JSON number per byte of chunk hash).
pub const MAX_STATE_FILE_BYTES: u64 = 256 << 20;

/// Largest chunk size a stored manifest may have (the tracker's own limit), so that resuming or
/// seeding never allocates a chunk buffer larger than that.
pub const MAX_CHUNK_SIZE_BYTES: u32 = 64 << 20;

/// Reads a state file whole, refusing one over [`MAX_STATE_FILE_BYTES`].
///
/// # Errors
/// [`HomeError::Io`] (a missing file included), or [`HomeError::Corrupt`] if it is too large.
pub fn read_state_file(path: &Path) -> Result<Vec<u8>, HomeError> {
    use std::io::Read;
    let io = |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_STATE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_STATE_FILE_BYTES {
        return Err(HomeError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_STATE_FILE_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Reads a JSON file ([`read_state_file`], then [`parse_json`]).
///
/// # Errors
/// [`HomeError::Io`] or [`HomeError::Corrupt`].
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, HomeError> {
    parse_json(path, &read_state_file(path)?)
}

/// Parses the bytes of the JSON state file at `path` (named in the error).
///
/// # Errors
/// [`HomeError::Corrupt`] if they are not a `T`.
pub fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, HomeError> {
    serde_json::from_slice(bytes).map_err(|e| HomeError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Checks a manifest read back from the state file at `path`: a chunk size in
/// `1..=`[`MAX_CHUNK_SIZE_BYTES`] and one hash per chunk of its size. A state file is only as
/// trustworthy as the disk, and these numbers size buffers and loops.
///
/// # Errors
/// [`HomeError::Corrupt`] naming the rule.
pub fn check_stored_manifest(
    path: &Path,
    m: &proto::tracker_msg::FileManifest,
) -> Result<(), HomeError> {
    let corrupt = |reason: String| HomeError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if !(1..=MAX_CHUNK_SIZE_BYTES).contains(&m.chunk_size_bytes) {
        return Err(corrupt(format!(
            "chunk size {} is outside 1..={MAX_CHUNK_SIZE_BYTES}",
            m.chunk_size_bytes
        )));
    }
    let expected =
        proto::tracker_msg::FileManifest::expected_chunk_count(m.size_bytes, m.chunk_size_bytes);
    if m.chunk_hashes.len() as u64 != expected {
        return Err(corrupt(format!(
            "{} chunk hashes for {expected} chunks",
            m.chunk_hashes.len()
        )));
    }
    Ok(())
}

/// Writes JSON atomically (temp file, fsync, rename) with mode 0600.
///
/// # Errors
/// [`HomeError::Io`].
pub fn write_json_private<T: Serialize>(path: &Path, value: &T) -> Result<(), HomeError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| HomeError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_private(path, &text)
}

/// Writes bytes atomically (temp file, fsync, rename) with mode 0600.
///
/// # Errors
/// [`HomeError::Io`].
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
    let io = |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_manifest_that_would_size_buffers_wrongly_is_corrupt() {
        let path = Path::new("shares.json");
        let good = proto::tracker_msg::FileManifest {
            name: "f".into(),
            size_bytes: 10_000,
            chunk_size_bytes: 4096,
            chunk_hashes: vec![[0; 20]; 3],
            file_hash: [0; 20],
        };
        assert!(check_stored_manifest(path, &good).is_ok());
        for chunk_size_bytes in [0, MAX_CHUNK_SIZE_BYTES + 1, u32::MAX] {
            let bad = proto::tracker_msg::FileManifest {
                chunk_size_bytes,
                ..good.clone()
            };
            assert!(
                matches!(
                    check_stored_manifest(path, &bad),
                    Err(HomeError::Corrupt { .. })
                ),
                "chunk size {chunk_size_bytes}"
            );
        }
        let short = proto::tracker_msg::FileManifest {
            chunk_hashes: vec![[0; 20]; 2],
            ..good
        };
        assert!(check_stored_manifest(path, &short).is_err());
    }

    #[test]
    fn old_resume_files_move_to_partial_once_and_user_files_stay() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        let old = home.default_download_dir();
        std::fs::create_dir_all(&old).unwrap();
        for name in [
            "0123456789abcdef.json",
            "0123456789abcdef.bits",
            "notes.json",
            "film.mkv",
        ] {
            std::fs::write(old.join(name), name).unwrap();
        }
        // Taken in partial/ already: stays where it is.
        std::fs::write(old.join("fedcba9876543210.json"), "old").unwrap();
        std::fs::write(home.partial_dir().join("fedcba9876543210.json"), "new").unwrap();
        assert_eq!(home.move_old_resume_state().unwrap(), 2);
        let partial = home.partial_dir();
        assert_eq!(
            std::fs::read_to_string(partial.join("0123456789abcdef.json")).unwrap(),
            "0123456789abcdef.json"
        );
        assert!(partial.join("0123456789abcdef.bits").exists());
        assert!(!old.join("0123456789abcdef.json").exists());
        assert!(old.join("notes.json").exists() && old.join("film.mkv").exists());
        assert_eq!(
            std::fs::read_to_string(partial.join("fedcba9876543210.json")).unwrap(),
            "new"
        );
        assert_eq!(home.move_old_resume_state().unwrap(), 0, "once");
    }

    #[test]
    fn session_is_private_and_peer_id_stable() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        assert!(matches!(home.session(), Err(HomeError::NotLoggedIn)));
        home.save_session(&Session {
            username: "u".into(),
            token: proto::tracker_msg::SessionToken::from_bytes([7; 32]),
        })
        .unwrap();
        let mode = std::fs::metadata(dir.path().join("session.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(home.session().unwrap().username, "u");
        let id = home.peer_id().unwrap();
        assert_eq!(home.peer_id().unwrap(), id);
    }
}
