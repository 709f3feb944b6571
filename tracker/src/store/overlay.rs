//! The two views `apply` and the readers have of the state machine, as the domain's port:
//! [`Committed`] reads the committed state ([`KvRead`]), and [`Pending`] is the write overlay of
//! one apply batch on top of it ([`KvWrite`]), which the state machine stages when the batch is
//! done.
//!
//! A batch's commands read the same session, group and file records over and over, so
//! [`Pending`] keeps what it decodes (and what it writes) decoded for the rest of the batch and,
//! through [`SmTrees::remember`], for the batches after it ([`super::record_cache`]).

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;

use super::record_cache::{Decoded, DecodedCache, StoredBytes};
use super::sm_trees::SmTrees;
use super::trees::WriteSet;
use crate::domain::kv::StoreError;
use crate::domain::kv::{decode_record, encode_record, Entries, KvRead, KvWrite, Record, Table};

/// Per key, its overlay entry before the current operation changed it.
type UndoLog = BTreeMap<(Table, Vec<u8>), Option<Option<Vec<u8>>>>;

/// The committed tables, read directly.
pub struct Committed<'a>(pub &'a SmTrees);

impl KvRead for Committed<'_> {
    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let staged = self.0.read_gate();
        if let Some(value) = staged.get(table, key) {
            return Ok(value.map(<[u8]>::to_vec));
        }
        Ok(self.0.tree(table).get(key)?.map(|v| v.to_vec()))
    }

    fn with_raw<R>(
        &self,
        table: Table,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, StoreError> {
        let staged = self.0.read_gate();
        if let Some(value) = staged.get(table, key) {
            return Ok(f(value));
        }
        // The gate stays held for the tree read, as in `get_raw`.
        Ok(f(self.0.tree(table).get(key)?.as_deref()))
    }

    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        self.0.visit(table, prefix, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    fn scan_page(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Entries, Option<Vec<u8>>), StoreError> {
        let mut out = Vec::new();
        let next = self.0.visit_page(table, prefix, after, limit, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok((out, next))
    }
}

/// Writes of one apply batch on top of the committed tables.
pub struct Pending<'a> {
    /// The committed tables underneath.
    base: &'a SmTrees,
    /// Writes so far: `None` is a delete.
    writes: WriteSet,
    /// Undo log of the current operation: each key's overlay entry before its first change
    /// (`None` when the key was not in the overlay).
    undo: UndoLog,
    /// Records already decoded in this batch (a batch's commands read the same session, group
    /// and file records over and over); a write drops the key's entry.
    decoded: RefCell<DecodedCache>,
}

impl<'a> Pending<'a> {
    /// An empty overlay on `base`.
    pub fn new(base: &'a SmTrees) -> Self {
        Pending {
            base,
            writes: BTreeMap::new(),
            undo: BTreeMap::new(),
            decoded: RefCell::default(),
        }
    }

    fn record(&mut self, table: Table, key: Vec<u8>, value: Option<Vec<u8>>) {
        let slot = (table, key);
        self.decoded.get_mut().remove(&slot);
        if !self.undo.contains_key(&slot) {
            let before = self.writes.get(&slot).cloned();
            self.undo.insert(slot.clone(), before);
        }
        self.writes.insert(slot, value);
    }

    /// The collected writes and the batch's decoded records, for [`SmTrees::stage`] (which stages
    /// the writes, then keeps the records with [`SmTrees::remember`]).
    pub fn into_parts(self) -> (WriteSet, DecodedCache) {
        (self.writes, self.decoded.into_inner())
    }
}

impl KvWrite for Pending<'_> {
    fn begin(&mut self) {
        self.undo.clear();
    }

    fn rollback(&mut self) {
        for (key, before) in std::mem::take(&mut self.undo) {
            self.decoded.get_mut().remove(&key);
            match before {
                Some(v) => {
                    self.writes.insert(key, v);
                }
                None => {
                    self.writes.remove(&key);
                }
            }
        }
    }

    /// Stores a record (and keeps it decoded for the rest of the batch and after).
    fn put<T: Serialize + Record>(
        &mut self,
        table: Table,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = encode_record(table, value)?;
        let decoded = Decoded::new(&key, Some(value.clone()), bytes.len());
        self.record(table, key.clone(), Some(bytes));
        self.decoded.get_mut().insert((table, key), decoded);
        Ok(())
    }

    /// Stores raw bytes (and keeps them for [`KvRead::get_raw`] after the batch).
    fn put_raw(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        let kept = Decoded::new(&key, Some(StoredBytes(value.clone())), value.len());
        self.record(table, key.clone(), Some(value));
        self.decoded.get_mut().insert((table, key), kept);
    }

    fn delete(&mut self, table: Table, key: Vec<u8>) {
        self.record(table, key, None);
    }
}

impl KvRead for Pending<'_> {
    fn get<T: Record>(&self, table: Table, key: &[u8]) -> Result<Option<T>, StoreError> {
        let slot = (table, key.to_vec());
        if let Some(hit) = self.decoded.borrow().get(&slot).and_then(Decoded::get::<T>) {
            return Ok(hit.clone());
        }
        if let Some(written) = self.writes.get(&slot) {
            // Changed earlier in this batch (by raw bytes, or by a put that was rolled back).
            let value: Option<T> = match written {
                Some(bytes) => Some(decode_record(table, bytes)?),
                None => None,
            };
            let len = written.as_ref().map_or(0, Vec::len);
            let decoded = Decoded::new(key, value.clone(), len);
            self.decoded.borrow_mut().insert(slot, decoded);
            return Ok(value);
        }
        if let Some(hit) = self.base.records().get::<T>(&slot) {
            return Ok(hit);
        }
        let stored = Committed(self.base).get_raw(table, key)?;
        let value: Option<T> = match &stored {
            Some(bytes) => Some(decode_record(table, bytes)?),
            None => None,
        };
        let len = stored.as_ref().map_or(0, Vec::len);
        self.base
            .records()
            .insert(slot, Decoded::new(key, value.clone(), len));
        Ok(value)
    }

    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let slot = (table, key.to_vec());
        if let Some(v) = self.writes.get(&slot) {
            return Ok(v.clone());
        }
        if let Some(hit) = self.base.records().get::<StoredBytes>(&slot) {
            return Ok(hit.map(|b| b.0));
        }
        let stored = Committed(self.base).get_raw(table, key)?;
        let len = stored.as_ref().map_or(0, Vec::len);
        let kept = Decoded::new(key, stored.clone().map(StoredBytes), len);
        self.base.records().insert(slot, kept);
        Ok(stored)
    }

    fn scan_raw(&self, table: Table, prefix: &[u8]) -> Result<Entries, StoreError> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = Committed(self.base)
            .scan_raw(table, prefix)?
            .into_iter()
            .collect();
        let start = (table, prefix.to_vec());
        for ((t, k), v) in self.writes.range(start..) {
            if *t != table || !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                None => {
                    merged.remove(k);
                }
            }
        }
        Ok(merged.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoded_record_is_forgotten_when_written_or_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let trees = SmTrees::open(&db).unwrap();
        let one = encode_record(Table::Users, &"one".to_string()).unwrap();
        trees.tree(Table::Users).insert(b"a", one).unwrap();
        let mut p = Pending::new(&trees);
        let read = |p: &Pending<'_>| p.get::<String>(Table::Users, b"a").unwrap();
        assert_eq!(read(&p).as_deref(), Some("one"));
        p.begin();
        p.put(Table::Users, b"a".to_vec(), &"two".to_string())
            .unwrap();
        assert_eq!(read(&p).as_deref(), Some("two"));
        p.rollback();
        assert_eq!(read(&p).as_deref(), Some("one"));
        p.begin();
        p.delete(Table::Users, b"a".to_vec());
        assert_eq!(read(&p), None);
    }

    #[test]
    fn records_kept_between_batches_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        let trees = SmTrees::open(&db).unwrap();
        let enc = |s: &str| encode_record(Table::Users, &s.to_string()).unwrap();
        let read = || {
            Pending::new(&trees)
                .get::<String>(Table::Users, b"a")
                .unwrap()
        };
        let commit = |p: Pending<'_>| {
            let (writes, decoded) = p.into_parts();
            trees.write_all(&writes).unwrap();
            trees.remember(decoded);
        };
        trees.tree(Table::Users).insert(b"a", enc("one")).unwrap();
        assert_eq!(read().as_deref(), Some("one"));
        // A write that did not come from a batch (as a snapshot install does) is seen.
        let mut w = WriteSet::new();
        w.insert((Table::Users, b"a".to_vec()), Some(enc("two")));
        trees.write_all(&w).unwrap();
        assert_eq!(read().as_deref(), Some("two"));
        let mut p = Pending::new(&trees);
        p.begin();
        p.put(Table::Users, b"a".to_vec(), &"three".to_string())
            .unwrap();
        commit(p);
        assert_eq!(read().as_deref(), Some("three"));
        let mut p = Pending::new(&trees);
        p.begin();
        p.put(Table::Users, b"a".to_vec(), &"four".to_string())
            .unwrap();
        p.rollback();
        commit(p);
        assert_eq!(read().as_deref(), Some("three"));
        let mut p = Pending::new(&trees);
        p.begin();
        p.delete(Table::Users, b"a".to_vec());
        commit(p);
        assert_eq!(read(), None);
        assert!(trees.tree(Table::Users).get(b"a").unwrap().is_none());
        // Raw values (bitfields) follow the same rules.
        let raw = || Pending::new(&trees).get_raw(Table::Avail, b"bits").unwrap();
        assert_eq!(raw(), None);
        let mut p = Pending::new(&trees);
        p.begin();
        p.put_raw(Table::Avail, b"bits".to_vec(), vec![0b101]);
        commit(p);
        assert_eq!(raw(), Some(vec![0b101]));
        let mut w = WriteSet::new();
        w.insert((Table::Avail, b"bits".to_vec()), Some(vec![0b111]));
        trees.write_all(&w).unwrap();
        assert_eq!(raw(), Some(vec![0b111]));
    }
}
