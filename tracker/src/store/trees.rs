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
    }
}

/// The opened trees. Clones share them.
#[derive(Clone)]
pub struct Trees {
    /// One tree per [`Table`], indexed by its discriminant.
    trees: Vec<sled::Tree>,
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
        Ok(Trees { trees })
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
            let tree = self.tree(*table);
            match value {
                Some(v) => {
                    tree.insert(key.as_slice(), v.as_slice())?;
                }
                None => {
                    tree.remove(key.as_slice())?;
                }
            }
        }
        Ok(())
    }
}
