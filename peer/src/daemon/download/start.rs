//! Starting a download, and resuming the unfinished ones after a restart.

use std::path::PathBuf;
use std::sync::Arc;

use proto::tracker_msg::FileManifest;

use super::drive::run;
use super::lookup::fetch_sources;
use super::resume_file::decode_resume_record;
use super::{
    bits_to_bytes, bytes_to_bits, download_id, part, part_path, DownloadHandle, DownloadRecord,
};
use crate::control::{DownloadState, ExpectedContent};
use crate::daemon::reporter::Have;
use crate::daemon::Daemon;
use crate::error::DownloadError;
use crate::hashing::{chunk_range, sha1};
use crate::home::{read_state_file, write_json_private, write_private};
use crate::io_buf::AlignedBuf;

/// Where a download without a destination goes: `NAME` in the daemon's download folder (created
/// if missing), refused if something is at that path already (a finished file is never
/// replaced; the user passes a destination or removes it).
///
/// # Errors
/// [`DownloadError::NameNotAllowed`], [`DownloadError::CreateDownloadDir`],
/// [`DownloadError::DownloadDirTaken`].
pub fn default_dest(daemon: &Daemon, name: &str) -> Result<PathBuf, DownloadError> {
    proto_check_name(name)?;
    let dir = &daemon.download_dir;
    std::fs::create_dir_all(dir).map_err(|source| DownloadError::CreateDownloadDir {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(name);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(DownloadError::DownloadDirTaken { path });
    }
    Ok(path)
}

/// Starts a new download (or returns the running one for the same destination). With `expect`
/// (a link's size and SHA-1), refuses a file in the group whose manifest differs.
///
/// # Errors
/// [`DownloadError`], whose message is for the user (unknown file, no access, bad destination,
/// a link that no longer matches).
pub async fn start(
    daemon: &Arc<Daemon>,
    group: String,
    name: String,
    dest: PathBuf,
    expect: Option<ExpectedContent>,
) -> Result<String, DownloadError> {
    proto_check_name(&name)?;
    let id = download_id(&group, &name, &dest);
    // An ended run of this download (failed) left its `.part` file: this run starts afresh.
    let mut ended_before = false;
    if let Some(h) = daemon.download_by_id(&id) {
        if h.state() == DownloadState::Running || h.state() == DownloadState::Complete {
            return Ok(id);
        }
        ended_before = true;
    }
    // Not `exists()`: that follows a link, and a dangling link is something at the path too.
    if std::fs::symlink_metadata(&dest).is_ok() {
        return Err(DownloadError::DestinationExists { path: dest });
    }
    let (manifest, _, _) = fetch_sources(daemon, &group, &name).await?;
    if let Some(want) = expect {
        if want.size_bytes != manifest.size_bytes || want.file_hash != manifest.file_hash {
            return Err(DownloadError::LinkMismatch {
                group,
                name,
                link_size: want.size_bytes,
                link_sha1: proto::tracker_msg::to_hex(&want.file_hash),
                size: manifest.size_bytes,
                sha1: proto::tracker_msg::to_hex(&manifest.file_hash),
            });
        }
    }
    let record = DownloadRecord {
        id: id.clone(),
        group,
        name,
        dest,
        manifest,
        state: DownloadState::Running,
    };
    let part = part_path(&record.dest);
    let size = record.manifest.size_bytes;
    tokio::task::spawn_blocking(move || {
        if ended_before {
            part::remove_stale(&part)?;
        }
        part::create_fresh(&part, size)
    })
    .await??;
    let chunk_count = record.manifest.chunk_hashes.len();
    let home = daemon.home.clone();
    write_private(
        &home.partial_dir().join(format!("{id}.bits")),
        &bits_to_bytes(&vec![false; chunk_count]),
    )?;
    write_json_private(&home.partial_dir().join(format!("{id}.json")), &record)?;
    let handle = Arc::new(DownloadHandle::new(&record, &[]));
    daemon.add_download(handle.clone());
    tokio::spawn(run(daemon.clone(), handle));
    Ok(id)
}

fn proto_check_name(name: &str) -> Result<(), DownloadError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(DownloadError::NameNotAllowed {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Restarts unfinished downloads recorded in the home, re-verifying the chunks on disk.
pub async fn resume_all(daemon: &Arc<Daemon>) {
    let dir = daemon.home.partial_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let record = match read_state_file(&path).and_then(|b| decode_resume_record(&path, &b)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%e, "skipping an unreadable download record");
                continue;
            }
        };
        if record.state != DownloadState::Running {
            let h = Arc::new(DownloadHandle::new(
                &record,
                &vec![true; record.manifest.chunk_hashes.len()],
            ));
            daemon.add_download(h);
            continue;
        }
        let bits_path = dir.join(format!("{}.bits", record.id));
        let claimed = bytes_to_bits(
            &read_state_file(&bits_path).unwrap_or_default(),
            record.manifest.chunk_hashes.len(),
        );
        let part = part_path(&record.dest);
        let manifest = record.manifest.clone();
        let have = tokio::task::spawn_blocking(move || reverify(&part, &manifest, &claimed))
            .await
            .unwrap_or_default();
        let good = have.iter().filter(|b| **b).count();
        tracing::info!(id = %record.id, name = %record.name, chunks = good, "resuming download");
        let handle = Arc::new(DownloadHandle::new(&record, &have));
        daemon.add_download(handle.clone());
        for (i, &h) in have.iter().enumerate() {
            if h {
                daemon.report(Have {
                    group: record.group.clone(),
                    name: record.name.clone(),
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                });
            }
        }
        tokio::spawn(run(daemon.clone(), handle));
    }
}

/// Which of the claimed chunks really hash right on disk (read direct where possible: a
/// download's data is written direct, so the page cache does not hold it). A `.part` file that
/// cannot be opened safely holds nothing (the download then fails when it opens it).
fn reverify(part: &std::path::Path, m: &FileManifest, claimed: &[bool]) -> Vec<bool> {
    let Ok(file) = part::open_checked(part, false) else {
        return vec![false; claimed.len()];
    };
    let mut buf = AlignedBuf::new(usize::try_from(m.chunk_size_bytes).unwrap_or(usize::MAX));
    claimed
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            c && u32::try_from(i)
                .ok()
                .and_then(|idx| chunk_range(m, idx))
                .is_some_and(|(offset, len)| {
                    file.read_at(buf.data_mut(len), offset).is_ok()
                        && m.chunk_hashes.get(i) == Some(&sha1(buf.data(len)))
                })
        })
        .collect()
}
