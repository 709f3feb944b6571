//! `cluster snapshot restore`: check a snapshot file (header, length, digest of the image) and
//! make a new cluster directory from it, like `cluster up` makes one (a new CA, node and admin
//! certificates, `cluster.json`), with every node's data directory seeded from the image at its
//! applied log id and a fresh membership of all the new nodes ([`tracker::backup::seed`]). The
//! nodes are not started: `cluster up --dir NEW` starts them on their data.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use sha1::{Digest, Sha1};

use tracker::backup::{seed, SnapshotHeader, HEADER_BYTES};
use tracker::raft_types::NodeInfo;

use super::SnapshotError;
use crate::local::{LocalCluster, NodeSpec};
use crate::process::db_dir;

/// What a restore made.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The snapshot's header.
    pub header: SnapshotHeader,
    /// The new nodes.
    pub nodes: Vec<NodeSpec>,
}

/// Reads and checks the snapshot file at `path`: its header, that the file holds exactly the
/// image it announces, and that the image hashes to the header's digest.
///
/// # Errors
/// [`SnapshotError::BadFile`] or [`SnapshotError::Io`].
pub fn read_snapshot_file(path: &Path) -> Result<(SnapshotHeader, Vec<u8>), SnapshotError> {
    let bad = |reason: String| SnapshotError::BadFile {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let header = SnapshotHeader::read_from(&mut file).map_err(|e| bad(e.to_string()))?;
    let expected = HEADER_BYTES as u64 + header.image_bytes;
    if file_len != expected {
        return Err(bad(format!(
            "the header announces {} bytes of image, so {expected} bytes in all, but the file has {file_len}",
            header.image_bytes
        )));
    }
    // Bounded by the header's check and equal to the file's real length.
    let len = usize::try_from(header.image_bytes).map_err(|_| bad("image too large".into()))?;
    let mut image = Vec::with_capacity(len);
    file.read_to_end(&mut image).map_err(io)?;
    if image.len() != len {
        return Err(bad("the file changed while it was read".into()));
    }
    if <[u8; 20]>::from(Sha1::digest(&image)) != header.digest {
        return Err(bad(
            "the image does not hash to the digest in its header: the file is damaged".into(),
        ));
    }
    Ok((header, image))
}

/// Restores the snapshot file `file` into the new cluster directory `dir` with `nodes` nodes
/// (ports from `base_port` as in `cluster up`, else free ones).
///
/// # Errors
/// [`SnapshotError`]: a bad file, a directory that is not empty, certificates or data that
/// cannot be written.
pub async fn restore(
    file: &Path,
    dir: &Path,
    nodes: u64,
    base_port: Option<u16>,
) -> Result<Restored, SnapshotError> {
    let (header, image) = read_snapshot_file(file)?;
    let dir_io = |source| SnapshotError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(SnapshotError::DirNotEmpty(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(dir_io)?;
        }
        Err(e) => return Err(dir_io(e)),
    }
    let made = make_cluster(&header, image, dir, nodes, base_port).await;
    if made.is_err() {
        // The directory was empty or absent: leave it empty, so a retry needs no cleanup.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
    Ok(Restored {
        header,
        nodes: made?,
    })
}

/// Makes the cluster directory's certificates and `cluster.json` and seeds every node's data;
/// returns the nodes.
async fn make_cluster(
    header: &SnapshotHeader,
    image: Vec<u8>,
    dir: &Path,
    nodes: u64,
    base_port: Option<u16>,
) -> Result<Vec<NodeSpec>, SnapshotError> {
    let specs = LocalCluster::plan(dir, nodes, base_port)?;
    let cluster = LocalCluster::new(dir, specs.clone(), Vec::new(), true)?;
    let members: BTreeMap<u64, NodeInfo> = specs
        .iter()
        .map(|s| {
            let info = NodeInfo {
                api_addr: s.api_addr.clone(),
                raft_addr: s.raft_addr.clone(),
            };
            (s.id, info)
        })
        .collect();
    let applied = seed::log_id(
        header.applied_term,
        header.applied_leader,
        header.applied_index,
    );
    for spec in &specs {
        seed::seed_data_dir(
            &db_dir(&spec.data_dir),
            spec.id,
            image.clone(),
            applied,
            &members,
        )
        .await
        .map_err(|source| SnapshotError::Seed {
            id: spec.id,
            source,
        })?;
    }
    cluster.save()?;
    Ok(specs)
}
