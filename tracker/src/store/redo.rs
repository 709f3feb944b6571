//! Crash-atomic state-machine batches without sled transactions.
//!
//! sled recovers a prefix of its operations after a crash (its log keeps them in order), but a
//! batch is many inserts, so a crash could keep only some of them. [`commit`] therefore first
//! stores the whole batch as one redo record (one insert, atomic), then writes it key by key. On
//! open, [`recover`] writes the last redo record again: its values are final, so writing them twice
//! is harmless, and whatever the crash cut off is restored. Because recovery keeps a prefix, the
//! record of batch N being present means every write of batch N-1 is too.
//!
//! A snapshot install is too large for one record: it sets an install marker first
//! ([`begin_install`]), and recovery redoes the whole install when the marker survived.
//!
//! Record format: a sequence of `[op][table tag: u8][key len: u32 BE][key]` and, for a put,
//! `[value len: u32 BE][value]`; op 1 is a put, op 0 a delete.

use super::image::take_sized;
use super::tables::{SmTrees, StoreError, Table, WriteSet};

/// Meta key of the last batch's redo record.
const KEY_REDO: &[u8] = b"redo";
/// Meta key present while a snapshot install is under way.
const KEY_INSTALLING: &[u8] = b"installing";

const OP_DELETE: u8 = 0;
const OP_PUT: u8 = 1;

/// Writes one apply batch so that a crash keeps all of it or, after [`recover`], all of it.
///
/// # Errors
/// sled errors, or [`StoreError::Corrupt`] if a key or value is over 4 GiB (a bug).
pub fn commit(trees: &SmTrees, writes: &WriteSet) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    trees.tree(Table::Meta).insert(KEY_REDO, encode(writes)?)?;
    trees.write_trees(writes)?;
    Ok(())
}

/// Finishes what a crash interrupted: writes the last batch's redo record again. Returns whether
/// a snapshot install was interrupted (then the caller must redo it; see [`begin_install`]).
///
/// # Errors
/// sled errors, or [`StoreError::Corrupt`] if the record does not parse.
pub fn recover(trees: &SmTrees) -> Result<Recovery, StoreError> {
    let meta = trees.tree(Table::Meta);
    if meta.get(KEY_INSTALLING)?.is_some() {
        return Ok(Recovery::RedoInstall);
    }
    match meta.get(KEY_REDO)? {
        Some(bytes) => {
            trees.write_trees(&decode(&bytes)?)?;
            Ok(Recovery::Done)
        }
        None => Ok(Recovery::Done),
    }
}

/// What [`recover`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The trees hold whole batches.
    Done,
    /// A snapshot install was cut off: install the stored snapshot again.
    RedoInstall,
}

/// Marks a snapshot install as under way and drops the last redo record (which predates the
/// snapshot). Store the snapshot itself before this, so recovery can find it.
///
/// # Errors
/// sled errors.
pub fn begin_install(trees: &SmTrees) -> Result<(), StoreError> {
    let meta = trees.tree(Table::Meta);
    meta.insert(KEY_INSTALLING, &[])?;
    meta.remove(KEY_REDO)?;
    Ok(())
}

/// Marks the install as complete.
///
/// # Errors
/// sled errors.
pub fn end_install(trees: &SmTrees) -> Result<(), StoreError> {
    trees.tree(Table::Meta).remove(KEY_INSTALLING)?;
    Ok(())
}

fn encode(writes: &WriteSet) -> Result<Vec<u8>, StoreError> {
    let too_big = || StoreError::Corrupt {
        table: Table::Meta,
        reason: "a key or value is over 4 GiB".into(),
    };
    let size: usize = writes
        .iter()
        .map(|((_, k), v)| 10 + k.len() + v.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(size);
    for ((table, key), value) in writes {
        out.push(if value.is_some() { OP_PUT } else { OP_DELETE });
        out.push(*table as u8);
        out.extend_from_slice(
            &u32::try_from(key.len())
                .map_err(|_| too_big())?
                .to_be_bytes(),
        );
        out.extend_from_slice(key);
        if let Some(v) = value {
            out.extend_from_slice(&u32::try_from(v.len()).map_err(|_| too_big())?.to_be_bytes());
            out.extend_from_slice(v);
        }
    }
    Ok(out)
}

fn decode(mut bytes: &[u8]) -> Result<WriteSet, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        table: Table::Meta,
        reason: format!("redo record: {reason}"),
    };
    let mut writes = WriteSet::new();
    while let Some((&op, rest)) = bytes.split_first() {
        let (&tag, rest) = rest.split_first().ok_or_else(|| corrupt("truncated"))?;
        let table = Table::from_tag(tag).ok_or_else(|| corrupt("unknown table tag"))?;
        let (key, rest) = take_sized(rest).ok_or_else(|| corrupt("truncated key"))?;
        let (value, rest) = match op {
            OP_PUT => {
                let (v, rest) = take_sized(rest).ok_or_else(|| corrupt("truncated value"))?;
                (Some(v.to_vec()), rest)
            }
            OP_DELETE => (None, rest),
            _ => return Err(corrupt("unknown operation")),
        };
        writes.insert((table, key.to_vec()), value);
        bytes = rest;
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees() -> (tempfile::TempDir, SmTrees) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        (dir, SmTrees::open(&db).unwrap())
    }

    fn batch() -> WriteSet {
        let mut w = WriteSet::new();
        w.insert((Table::Users, b"alice".to_vec()), Some(b"rec-a".to_vec()));
        w.insert((Table::Groups, b"g".to_vec()), Some(vec![7; 3000]));
        w.insert((Table::Avail, b"gone".to_vec()), None);
        w
    }

    #[test]
    fn records_round_trip_and_every_truncation_is_an_error() {
        let w = batch();
        let bytes = encode(&w).unwrap();
        assert_eq!(decode(&bytes).unwrap(), w);
        for cut in 1..bytes.len() {
            let parsed = decode(&bytes[..cut]);
            // A cut exactly between two records parses as the first records only.
            if let Ok(prefix) = parsed {
                assert!(
                    prefix.len() < w.len(),
                    "cut {cut} parsed as the whole batch"
                );
            }
        }
        assert!(decode(&[9, Table::Users as u8, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn recovery_finishes_a_batch_a_crash_cut_short() {
        let (_dir, trees) = trees();
        trees
            .tree(Table::Avail)
            .insert(b"gone", b"old".as_slice())
            .unwrap();
        commit(&trees, &batch()).unwrap();
        // Simulate a crash that kept the redo record but lost two of the batch's writes.
        trees.tree(Table::Groups).remove(b"g").unwrap();
        trees
            .tree(Table::Avail)
            .insert(b"gone", b"old".as_slice())
            .unwrap();
        assert_eq!(recover(&trees).unwrap(), Recovery::Done);
        assert_eq!(
            trees
                .tree(Table::Groups)
                .get(b"g")
                .unwrap()
                .unwrap()
                .as_ref(),
            &[7; 3000][..]
        );
        assert!(trees.tree(Table::Avail).get(b"gone").unwrap().is_none());
        assert_eq!(
            trees
                .tree(Table::Users)
                .get(b"alice")
                .unwrap()
                .unwrap()
                .as_ref(),
            b"rec-a"
        );
    }

    #[test]
    fn an_interrupted_install_is_reported_and_drops_the_old_redo_record() {
        let (_dir, trees) = trees();
        commit(&trees, &batch()).unwrap();
        begin_install(&trees).unwrap();
        // The old batch must not be replayed over the snapshot.
        trees.tree(Table::Users).remove(b"alice").unwrap();
        assert_eq!(recover(&trees).unwrap(), Recovery::RedoInstall);
        assert!(trees.tree(Table::Users).get(b"alice").unwrap().is_none());
        end_install(&trees).unwrap();
        assert_eq!(recover(&trees).unwrap(), Recovery::Done);
        assert!(trees.tree(Table::Users).get(b"alice").unwrap().is_none());
    }
}
