//! Seeds an empty data directory with a snapshot image, so the node starts as a member of a new
//! cluster whose state machine is the image at its applied log id.
//!
//! What openraft 0.9 finds at the first start, and does with it
//! (`StorageHelper::get_initial_state`):
//! - the state machine's applied state is the image's log id `L`, with a fresh membership of
//!   the new nodes stored at `L` (the image was installed as a snapshot, through the same path
//!   as a snapshot a leader sends: [`crate::store::StateMachine`]'s `install_snapshot`, which
//!   also stores it as the current snapshot, so a node added later gets it);
//! - the log is empty, so `last_log_id < last_applied`: openraft purges the log up to `L` and
//!   starts with its last log id at `L`, initialized, with that membership;
//! - the vote is this node's own, uncommitted, in `L`'s term: the first election then runs in a
//!   later term, so the new leader's first entry follows `L` (a vote of term 0 would make a
//!   leader of term 1 append after an entry of a higher term).
//!
//! Every node of the new cluster is seeded with the same image and membership, so they agree on
//! the log up to `L` and any of them may be elected.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::Path;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{CommittedLeaderId, LogId, Membership, SnapshotMeta, StoredMembership, Vote};
use thiserror::Error;

use crate::raft_types::{NodeId, NodeInfo};
use crate::store::{image, open_db, LogStore, StateMachine};

/// sled's page cache while seeding (the node sets its own when it starts).
const SEED_CACHE_BYTES: u64 = 16 << 20;

/// Why a data directory could not be seeded.
#[derive(Debug, Error)]
pub enum SeedError {
    /// The directory already holds a log, a vote or state.
    #[error("{0} already holds tracker data; restore into a new directory")]
    NotEmpty(String),
    /// The image does not parse.
    #[error("the snapshot image is corrupt: {0}")]
    Corrupt(String),
    /// The membership does not name the node being seeded.
    #[error("the new membership does not include node {0}")]
    NotAMember(NodeId),
    /// sled or openraft's storage failed.
    #[error("storage error in {dir}: {reason}")]
    Storage {
        /// The data directory.
        dir: String,
        /// What failed.
        reason: String,
    },
}

/// The log id a snapshot file's header names.
pub fn log_id(term: u64, leader: NodeId, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, leader), index)
}

/// Writes `image` at `applied` into the empty data directory `dir` of node `self_id`, with
/// `members` (every one a voter) as the membership. The node then starts on `dir` without
/// `--initial-cluster`.
///
/// # Errors
/// [`SeedError`]: a directory with data, a corrupt image, a membership without `self_id`, or a
/// storage failure.
pub async fn seed_data_dir(
    dir: &Path,
    self_id: NodeId,
    image_bytes: Vec<u8>,
    applied: LogId<NodeId>,
    members: &BTreeMap<NodeId, NodeInfo>,
) -> Result<(), SeedError> {
    let shown = dir.display().to_string();
    let storage = |reason: String| SeedError::Storage {
        dir: shown.clone(),
        reason,
    };
    if !members.contains_key(&self_id) {
        return Err(SeedError::NotAMember(self_id));
    }
    image::parse(&image_bytes).map_err(|e| SeedError::Corrupt(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| storage(e.to_string()))?;
    let db = open_db(dir, SEED_CACHE_BYTES).map_err(|e| storage(e.to_string()))?;
    let mut log = LogStore::open(&db).map_err(|e| storage(e.to_string()))?;
    let mut sm = StateMachine::open(&db).map_err(|e| storage(e.to_string()))?;
    let state = log
        .get_log_state()
        .await
        .map_err(|e| storage(e.to_string()))?;
    let vote = log.read_vote().await.map_err(|e| storage(e.to_string()))?;
    let (sm_applied, _) = sm
        .applied_state()
        .await
        .map_err(|e| storage(e.to_string()))?;
    if state.last_log_id.is_some() || vote.is_some() || sm_applied.is_some() {
        return Err(SeedError::NotEmpty(shown));
    }
    let voters: BTreeSet<NodeId> = members.keys().copied().collect();
    let membership = Membership::new(vec![voters], members.clone());
    let meta = SnapshotMeta {
        last_log_id: Some(applied),
        last_membership: StoredMembership::new(Some(applied), membership),
        snapshot_id: format!("restored-{}-{}", applied.leader_id.term, applied.index),
    };
    sm.install_snapshot(&meta, Box::new(Cursor::new(image_bytes)))
        .await
        .map_err(|e| storage(e.to_string()))?;
    log.save_vote(&Vote::new(applied.leader_id.term, self_id))
        .await
        .map_err(|e| storage(e.to_string()))?;
    db.flush_async().await.map_err(|e| storage(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kv::Table;
    use crate::store::trees::WriteSet;

    fn members(n: u64) -> BTreeMap<NodeId, NodeInfo> {
        (1..=n)
            .map(|id| {
                let info = NodeInfo {
                    api_addr: format!("127.0.0.1:{}", 7000 + id),
                    raft_addr: format!("127.0.0.1:{}", 8000 + id),
                };
                (id, info)
            })
            .collect()
    }

    /// An image of a state with one user, and its digest.
    fn sample_image() -> (Vec<u8>, String) {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(dir.path(), 4 << 20).unwrap();
        let sm = StateMachine::open(&db).unwrap();
        let mut w = WriteSet::new();
        w.insert((Table::Users, b"alice".to_vec()), Some(b"rec".to_vec()));
        sm.trees().write_all(&w).unwrap();
        let image = image::capture(sm.trees()).unwrap();
        (image, image::digest(sm.trees()).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_seeded_directory_opens_at_the_log_id_with_the_new_membership_and_a_later_vote() {
        let (image_bytes, digest) = sample_image();
        let dir = tempfile::tempdir().unwrap();
        let applied = log_id(7, 3, 120);
        seed_data_dir(dir.path(), 2, image_bytes.clone(), applied, &members(3))
            .await
            .unwrap();

        let db = open_db(dir.path(), 4 << 20).unwrap();
        let mut sm = StateMachine::open(&db).unwrap();
        let (at, membership) = sm.applied_state().await.unwrap();
        assert_eq!(at, Some(applied));
        assert_eq!(membership.log_id(), &Some(applied));
        let voters: Vec<u64> = membership.membership().voter_ids().collect();
        assert_eq!(voters, vec![1, 2, 3]);
        assert_eq!(image::digest(sm.trees()).unwrap(), digest);
        let snapshot = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(snapshot.meta.last_log_id, Some(applied));
        assert_eq!(snapshot.snapshot.into_inner(), image_bytes);
        let mut log = LogStore::open(&db).unwrap();
        assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(7, 2)));
        assert_eq!(log.get_log_state().await.unwrap().last_log_id, None);
        drop((sm, log, db));

        // A second restore into the same directory is refused.
        let again = seed_data_dir(dir.path(), 2, image_bytes, applied, &members(3)).await;
        assert!(matches!(again, Err(SeedError::NotEmpty(_))), "{again:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_corrupt_image_or_a_node_outside_the_membership_is_refused_before_writing() {
        let (mut image_bytes, _) = sample_image();
        let dir = tempfile::tempdir().unwrap();
        let applied = log_id(1, 1, 5);
        let outside = seed_data_dir(dir.path(), 9, image_bytes.clone(), applied, &members(3)).await;
        assert!(
            matches!(outside, Err(SeedError::NotAMember(9))),
            "{outside:?}"
        );
        image_bytes.truncate(image_bytes.len() - 1);
        let cut = seed_data_dir(dir.path(), 1, image_bytes, applied, &members(3)).await;
        assert!(matches!(cut, Err(SeedError::Corrupt(_))), "{cut:?}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
