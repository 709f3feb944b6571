//! Reserved slots are invisible: the log reads, its state, a reopen and a truncation all behave
//! as if the empty keys ahead of the log were absent.

use openraft::entry::RaftEntry;
use openraft::storage::RaftLogStorage;
use openraft::testing::log_id;
use openraft::{Entry, RaftLogReader};

use super::{LogStore, RESERVED_SLOTS};
use crate::raft_types::TypeConfig;

/// Writes blank entries `1..=last` the way `append` does (reservation, then the entry), but
/// without the flush callback, which only openraft can create.
fn write_entries(store: &LogStore, last: u64) -> Result<(), Box<dyn std::error::Error>> {
    for index in 1..=last {
        let entry = Entry::<TypeConfig>::new_blank(log_id(1, 0, index));
        store.reserve(index)?;
        store
            .log
            .insert(index.to_be_bytes(), proto::frame::encode(&entry)?)?;
    }
    Ok(())
}

/// A database in a directory removed when the returned guard drops.
fn temp_db() -> Result<(tempfile::TempDir, sled::Db), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = super::super::open_db(dir.path(), 8 << 20)?;
    Ok((dir, db))
}

fn indexes(entries: &[Entry<TypeConfig>]) -> Vec<u64> {
    entries.iter().map(|e| e.log_id.index).collect()
}

#[tokio::test]
async fn reserved_slots_are_never_read_as_entries() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, db) = temp_db()?;
    let mut store = LogStore::open(&db)?;
    write_entries(&store, 3)?;
    assert_eq!(
        store.log.len() as u64,
        RESERVED_SLOTS,
        "slots 1..=64, three of them filled"
    );

    let state = store.get_log_state().await?;
    assert_eq!(state.last_log_id.map(|id| id.index), Some(3));
    assert_eq!(indexes(&store.try_get_log_entries(1..10).await?), [1, 2, 3]);
    assert_eq!(indexes(&store.try_get_log_entries(2..).await?), [2, 3]);
    assert!(store.try_get_log_entries(4..8).await?.is_empty());

    // A restart finds the reserved slots and does not reserve them again.
    drop(store);
    let mut store = LogStore::open(&db)?;
    assert_eq!(
        store
            .reserved_end
            .load(std::sync::atomic::Ordering::Acquire),
        RESERVED_SLOTS + 1
    );
    let state = store.get_log_state().await?;
    assert_eq!(state.last_log_id.map(|id| id.index), Some(3));

    // Truncation removes the slots with the entries, and appends reserve again from there.
    store.truncate(log_id(1, 0, 2)).await?;
    assert_eq!(store.log.len(), 1);
    assert_eq!(
        store.get_log_state().await?.last_log_id.map(|id| id.index),
        Some(1)
    );
    write_entries(&store, 2)?;
    assert_eq!(indexes(&store.try_get_log_entries(..).await?), [1, 2]);
    Ok(())
}

#[tokio::test]
async fn purging_past_the_log_removes_its_slots() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, db) = temp_db()?;
    let mut store = LogStore::open(&db)?;
    write_entries(&store, 5)?;
    store.purge(log_id(1, 0, 100)).await?;
    assert!(store.log.is_empty());
    let state = store.get_log_state().await?;
    assert_eq!(state.last_purged_log_id.map(|id| id.index), Some(100));
    assert_eq!(state.last_log_id.map(|id| id.index), Some(100));
    Ok(())
}
