//! [`MemKv`]: an in-memory [`KvWrite`] over a `BTreeMap`, so the rules and queries are tested
//! without a storage engine or a temporary directory.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kv::{encode_record, Entries, KvRead, KvWrite, Record, StoreError, Table};

/// Tables in memory, with the undo log of the current operation.
#[derive(Debug, Default)]
pub struct MemKv {
    /// Every live entry.
    data: BTreeMap<(Table, Vec<u8>), Vec<u8>>,
    /// Each key's value before its first change since [`KvWrite::begin`].
    undo: BTreeMap<(Table, Vec<u8>), Option<Vec<u8>>>,
}

impl MemKv {
    /// Empty tables.
    pub fn new() -> Self {
        MemKv::default()
    }

    /// How many entries `table` holds.
    pub fn len(&self, table: Table) -> usize {
        self.data.keys().filter(|(t, _)| *t == table).count()
    }

    fn set(&mut self, table: Table, key: Vec<u8>, value: Option<Vec<u8>>) {
        let slot = (table, key);
        if !self.undo.contains_key(&slot) {
            self.undo
                .insert(slot.clone(), self.data.get(&slot).cloned());
        }
        match value {
            Some(v) => {
                self.data.insert(slot, v);
            }
            None => {
                self.data.remove(&slot);
            }
        }
    }
}

impl KvRead for MemKv {
    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.data.get(&(table, key.to_vec())).cloned())
    }

    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError> {
        Ok(self
            .data
            .range((table, prefix.to_vec())..)
            .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl KvWrite for MemKv {
    fn put<T: Serialize + Record>(
        &mut self,
        table: Table,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode_record(table, value)?;
        self.set(table, key, Some(bytes));
        Ok(())
    }

    fn put_raw(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.set(table, key, Some(value));
    }

    fn delete(&mut self, table: Table, key: Vec<u8>) {
        self.set(table, key, None);
    }

    fn begin(&mut self) {
        self.undo.clear();
    }

    fn rollback(&mut self) {
        for ((table, key), before) in std::mem::take(&mut self.undo) {
            match before {
                Some(v) => {
                    self.data.insert((table, key), v);
                }
                None => {
                    self.data.remove(&(table, key));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_undoes_only_the_current_operation() {
        let mut kv = MemKv::new();
        kv.put_raw(Table::Users, b"a".to_vec(), vec![1]);
        kv.begin();
        kv.put_raw(Table::Users, b"a".to_vec(), vec![2]);
        kv.put_raw(Table::Users, b"b".to_vec(), vec![3]);
        kv.delete(Table::Users, b"a".to_vec());
        kv.rollback();
        assert_eq!(kv.get_raw(Table::Users, b"a").unwrap(), Some(vec![1]));
        assert_eq!(kv.get_raw(Table::Users, b"b").unwrap(), None);
        kv.put_raw(Table::Groups, b"ab".to_vec(), vec![4]);
        kv.put_raw(Table::Groups, b"b".to_vec(), vec![5]);
        let scanned = kv.scan_raw(Table::Groups, b"a").unwrap();
        assert_eq!(scanned, vec![(b"ab".to_vec(), vec![4])]);
    }
}
