//! [`Trees`]: the state machine's plain sled trees, one per [`Table`], and the only code that
//! writes them ([`Trees::write`]: plain inserts and removes, in key order).
//!
//! No sled transaction or `apply_batch` is used anywhere: the first call to either switches sled
//! 0.34 into a process-wide reader/writer lock, after which every insert, read and transaction
//! waits for any flush in progress, disk I/O included (see `clippy.toml`).

use std::collections::BTreeMap;

use crate::domain::kv::StoreError;
use crate::domain::kv::Table;

/// Writes to the tables, in key order: `None` is a delete.
pub type WriteSet = BTreeMap<(Table, Vec<u8>), Option<Vec<u8>>>;

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Engine {
            engine: "sled",
            source: Box::new(e),
        }
    }
}

/// Name of the sled tree that holds `table`.
pub fn tree_name(table: Table) -> &'static str {
    match table {
        Table::Users => "sm_users",
        Table::Sessions => "sm_sessions",
        Table::Groups => "sm_groups",
        Table::Files => "sm_files",
        Table::Peers => "sm_peers",
        Table::Avail => "sm_avail",
        Table::Clients => "sm_clients",
        Table::Meta => "sm_meta",
        Table::Cluster => "sm_cluster",
        Table::Counts => "sm_counts",
        Table::PeersOffline => "sm_peers_offline",
        Table::PeerAvail => "sm_peer_avail",
    }
}

/// The opened trees. Clones share them.
#[derive(Clone)]
pub struct Trees {
    /// One tree per [`Table`], indexed by its discriminant.
    trees: Vec<sled::Tree>,
    /// Tests cut writes off after a chosen count ([`Trees::fail_after`]).
    #[cfg(test)]
    faults: std::sync::Arc<Faults>,
}

/// A write error injected by tests: every write through [`Trees`] counts one, and those from
/// `fail_at` on fail, as if the disk had failed there.
#[cfg(test)]
#[derive(Debug)]
struct Faults {
    /// Writes attempted since the last [`Trees::fail_after`].
    done: std::sync::atomic::AtomicUsize,
    /// The first write to fail (`usize::MAX`: none).
    fail_at: std::sync::atomic::AtomicUsize,
}

impl Trees {
    /// Opens (or creates) every table in `db`.
    ///
    /// # Errors
    /// sled errors.
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        let trees = Table::ALL
            .iter()
            .map(|t| db.open_tree(tree_name(*t)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Trees {
            trees,
            #[cfg(test)]
            faults: std::sync::Arc::new(Faults {
                done: 0.into(),
                fail_at: usize::MAX.into(),
            }),
        })
    }

    /// Makes every write after the next `writes` ones fail (`None`: none fails), and counts
    /// writes from zero again.
    #[cfg(test)]
    pub fn fail_after(&self, writes: Option<usize>) {
        use std::sync::atomic::Ordering::SeqCst;
        self.faults.done.store(0, SeqCst);
        self.faults
            .fail_at
            .store(writes.unwrap_or(usize::MAX), SeqCst);
    }

    /// Writes attempted since the last [`Trees::fail_after`], the failed ones included.
    #[cfg(test)]
    pub fn writes_attempted(&self) -> usize {
        self.faults.done.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Counts one write, and fails it if tests asked for that ([`Trees::fail_after`]).
    #[inline]
    fn before_write(&self) -> Result<(), sled::Error> {
        #[cfg(test)]
        {
            use std::sync::atomic::Ordering::SeqCst;
            if self.faults.done.fetch_add(1, SeqCst) >= self.faults.fail_at.load(SeqCst) {
                return Err(sled::Error::Io(std::io::Error::other(
                    "injected write fault",
                )));
            }
        }
        Ok(())
    }

    /// Inserts one value (the undo record and the markers of [`super::undo`]).
    ///
    /// # Errors
    /// sled errors.
    pub fn insert(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), sled::Error> {
        self.before_write()?;
        self.tree(table).insert(key, value)?;
        Ok(())
    }

    /// Removes one key (the undo record and the markers of [`super::undo`]).
    ///
    /// # Errors
    /// sled errors.
    pub fn remove(&self, table: Table, key: &[u8]) -> Result<(), sled::Error> {
        self.before_write()?;
        self.tree(table).remove(key)?;
        Ok(())
    }

    /// The tree of one table.
    pub fn tree(&self, table: Table) -> &sled::Tree {
        // The vector is built from Table::ALL, so every discriminant is a valid index.
        &self.trees[table as usize]
    }

    /// Plain inserts and removes, in key order. Not crash-atomic by itself ([`super::undo`]
    /// makes a drain so).
    ///
    /// # Errors
    /// sled errors.
    pub fn write(&self, writes: &WriteSet) -> Result<(), sled::Error> {
        for ((table, key), value) in writes {
            match value {
                Some(v) => self.insert(*table, key, v)?,
                None => self.remove(*table, key)?,
            }
        }
        Ok(())
    }
}
