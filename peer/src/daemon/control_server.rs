//! The control socket: one request per connection from the CLI of the same user.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};

use proto::frame::{read_message, write_message};
use proto::tracker_msg::WriteOp;

use super::shares::{Fingerprint, ShareEntry};
use super::Daemon;
use crate::control::{ControlRequest, ControlResponse, DaemonStatus, MAX_CONTROL_FRAME_BYTES};
use crate::error::UploadError;
use crate::home::Home;

/// Binds `HOME/daemon.sock` (mode 0600), replacing a stale socket left by a killed daemon.
///
/// # Errors
/// If another daemon is running on this home, or the socket cannot be created.
pub async fn bind(home: &Home) -> anyhow::Result<UnixListener> {
    let path = home.socket_path();
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            anyhow::bail!(
                "a peer daemon is already running for {} (socket {})",
                home.dir.display(),
                path.display()
            );
        }
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers control requests forever.
pub async fn task_serve(daemon: Arc<Daemon>, listener: UnixListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let daemon = daemon.clone();
        tokio::spawn(async move {
            let req = match read_message::<ControlRequest, _>(&mut stream, MAX_CONTROL_FRAME_BYTES)
                .await
            {
                Ok(Some(r)) => r,
                _ => return,
            };
            let resp = handle(&daemon, req).await;
            let _ = write_message(&mut stream, &resp, MAX_CONTROL_FRAME_BYTES).await;
        });
    }
}

async fn handle(daemon: &Arc<Daemon>, req: ControlRequest) -> ControlResponse {
    match req {
        ControlRequest::Status => ControlResponse::Status(DaemonStatus {
            peer_id: daemon.peer_id,
            advertise_addr: daemon.advertise.clone(),
            username: daemon
                .home
                .session()
                .map(|s| s.username)
                .unwrap_or_default(),
            shares: u32::try_from(daemon.shares.all().len()).unwrap_or(u32::MAX),
            chunks_served: daemon.chunks_served.load(Ordering::Relaxed),
        }),
        ControlRequest::Upload {
            group,
            path,
            name,
            chunk_size_bytes,
            as_new,
        } => match upload(daemon, group, path, name, chunk_size_bytes, as_new).await {
            Ok(r) => r,
            Err(e) => ControlResponse::Error(e.to_string()),
        },
        ControlRequest::Download {
            group,
            name,
            dest,
            expect,
        } => {
            let dest = match dest {
                Some(d) => Ok(d),
                None => super::download::default_dest(daemon, &name),
            };
            let started = match dest {
                Ok(dest) => super::download::start(daemon, group, name, dest, expect).await,
                Err(e) => Err(e),
            };
            match started {
                Ok(id) => ControlResponse::DownloadStarted { id },
                Err(e) => ControlResponse::Error(e.to_string()),
            }
        }
        ControlRequest::Downloads => {
            ControlResponse::Downloads(daemon.downloads().iter().map(|h| h.info()).collect())
        }
        ControlRequest::Cancel { id } => match daemon.download_by_id(&id) {
            None => ControlResponse::Error(format!(
                "no download {id:?}: `peer downloads` lists them with their ids"
            )),
            Some(h) if h.cancel() => ControlResponse::Done,
            Some(h) => {
                ControlResponse::Error(format!("download {id} is {} already", h.state().name()))
            }
        },
        ControlRequest::StopShare { group, name } => {
            match stop_share(daemon, &group, &name).await {
                Ok(()) => ControlResponse::Done,
                Err(e) => ControlResponse::Error(e.to_string()),
            }
        }
    }
}

/// Why `peer stop-share` failed.
#[derive(Debug, thiserror::Error)]
pub enum StopShareError {
    /// The daemon was not seeding the file (its availability was withdrawn anyway).
    #[error("this peer was not seeding {name:?} in {group:?} (availability withdrawn anyway)")]
    NotSeeding {
        /// Group.
        group: String,
        /// File name.
        name: String,
    },
    /// The tracker refused or could not be reached.
    #[error("{0:#}")]
    Tracker(anyhow::Error),
}

/// Stops seeding a file and withdraws this peer's availability for it at the tracker.
///
/// # Errors
/// [`StopShareError`].
pub async fn stop_share(daemon: &Daemon, group: &str, name: &str) -> Result<(), StopShareError> {
    let had = daemon.shares.remove(group, name).unwrap_or(false);
    daemon
        .stop_share_at_tracker(group, name)
        .await
        .map_err(StopShareError::Tracker)?;
    if !had {
        return Err(StopShareError::NotSeeding {
            group: group.to_string(),
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Hashes a file, registers it in a group and seeds it from where it lies. If the group has a
/// file with the same content (size and whole-file SHA-1) under another name and `as_new` is
/// false, that file is seeded from this path instead (registered again with its own manifest,
/// which makes this peer a full seeder of it) and no copy is registered.
/// The file is cut into chunks of `chunk_size_bytes`, checked before anything is hashed, or by
/// default of the size [`proto::chunk_size::default_chunk_size_bytes`] gives for the file.
///
/// # Errors
/// [`UploadError`]: the file cannot be read or hashed, the chunk size does not suit it, or the
/// tracker refused it.
pub async fn upload(
    daemon: &Arc<Daemon>,
    group: String,
    path: std::path::PathBuf,
    name: String,
    chunk_size_bytes: Option<u32>,
    as_new: bool,
) -> Result<ControlResponse, UploadError> {
    let before = Fingerprint::of(&path).map_err(|source| UploadError::Read {
        path: path.clone(),
        source,
    })?;
    let meta = std::fs::metadata(&path);
    let Some(size_bytes) = meta.ok().filter(|m| m.is_file()).map(|m| m.len()) else {
        return Err(UploadError::NotAFile { path });
    };
    let chunk_size_bytes = proto::chunk_size::chunk_size_for(size_bytes, chunk_size_bytes)?;
    let (p, n) = (path.clone(), name.clone());
    let manifest =
        tokio::task::spawn_blocking(move || crate::hashing::manifest_of(&p, &n, chunk_size_bytes))
            .await?
            .map_err(|source| UploadError::Hash {
                path: path.clone(),
                source,
            })?;
    let after = Fingerprint::of(&path).map_err(|source| UploadError::Read {
        path: path.clone(),
        source,
    })?;
    if before != after {
        return Err(UploadError::ChangedWhileHashing { path });
    }
    let token = daemon.token()?;
    let existing = if as_new {
        None
    } else {
        same_content(daemon, &group, &manifest).await?
    };
    let hashed_chunks = manifest.chunk_hashes.clone();
    let (manifest, is_existing) = match existing {
        Some(m) => (m, true),
        None => (manifest, false),
    };
    daemon
        .tracker
        .write(WriteOp::RegisterFile {
            token,
            peer_id: daemon.peer_id,
            group: group.clone(),
            manifest: manifest.clone(),
        })
        .await?;
    let resp = ControlResponse::Uploaded {
        size_bytes: manifest.size_bytes,
        chunk_count: u32::try_from(manifest.chunk_hashes.len()).unwrap_or(u32::MAX),
        file_hash: manifest.file_hash,
        seeded_as: manifest.name.clone(),
        existing: is_existing,
    };
    // The chunks just hashed are verified under this fingerprint unless the existing file cuts
    // its chunks differently (then the seeder checks each against its manifest when served).
    let verified = manifest.chunk_hashes == hashed_chunks;
    let entry = ShareEntry {
        group,
        name: manifest.name.clone(),
        path,
        manifest,
        fingerprint: after,
    };
    if verified {
        daemon.shares.insert_verified(entry)?;
    } else {
        daemon.shares.insert(entry)?;
    }
    Ok(resp)
}

/// The manifest of a file of `group` with the same size and whole-file SHA-1 as `hashed` under
/// another name, if there is one (the first by name). The group's file list is read page by
/// page: its length is bounded by the group's file quota.
///
/// # Errors
/// [`UploadError`]: the tracker refused a read.
async fn same_content(
    daemon: &Daemon,
    group: &str,
    hashed: &proto::tracker_msg::FileManifest,
) -> Result<Option<proto::tracker_msg::FileManifest>, UploadError> {
    let files = crate::ops::files::list(&daemon.tracker, &daemon.home, group)
        .await
        .map_err(UploadError::from)?;
    let Some(twin) = files.into_iter().find(|f| {
        f.name != hashed.name
            && f.size_bytes == hashed.size_bytes
            && f.file_hash == hashed.file_hash
    }) else {
        return Ok(None);
    };
    let m = crate::ops::files::manifest(&daemon.tracker, &daemon.home, group, &twin.name)
        .await
        .map_err(UploadError::from)?;
    tracing::info!(%group, name = %hashed.name, existing = %m.name, "same content as a file of the group: seeding that one");
    Ok(Some(m))
}
