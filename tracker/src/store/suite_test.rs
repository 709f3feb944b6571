//! openraft's storage conformance suite against the sled store.

use openraft::testing::{StoreBuilder, Suite};

use super::{open_db, LogStore, StateMachine};
use crate::raft_types::{StorageError, TypeConfig};

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for SledBuilder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| openraft::StorageIOError::write(&e))?;
        let db = open_db(dir.path(), 16 << 20).map_err(|e| openraft::StorageIOError::write(&e))?;
        let log = LogStore::open(&db).map_err(|e| openraft::StorageIOError::write(&e))?;
        let sm = StateMachine::open(&db).map_err(|e| openraft::StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes_on_sled() -> Result<(), StorageError> {
    Suite::test_all(SledBuilder)?;
    Ok(())
}
