//! Crash-atomic drains of the staged state-machine writes, without sled transactions.
//!
//! sled recovers a prefix of its operations after a crash (its log keeps them in order), but a
//! drain is many inserts, so a crash could keep only some of them. [`commit`] therefore first
//! stores an undo record: the value every key of the drain has before it (`None` for a key the
//! drain creates), as one insert; then writes the drain key by key; then removes the record. On
//! open, [`recover`] finds the record only if the drain was cut off, and writes the old values
//! back: the trees are then exactly as before the drain, `last_applied` included, and openraft
//! applies the log again from there. Most of a drain's bytes are new keys (file manifests), which
//! cost the undo record only their names.
//!
//! A drain that fails part way (a write error) leaves its record and some of its writes behind.
//! Its writes are staged again, under the newer ones, so the next drain stores them too; but
//! before that drain records what the trees hold, [`commit`] rolls the failed one back with its
//! record ([`roll_back`], as recovery would). The new record then holds the values from before
//! both drains, never a value the failed one half wrote, and a crash anywhere keeps either the
//! trees before the failed drain or after the next. The record itself did not change shape, so a
//! record left by an older build recovers the same way.
//!
//! A snapshot install is too large for one record: it sets an install marker first
//! ([`begin_install`]), and recovery redoes the whole install when the marker survived.
//!
//! Record format: a sequence of `[op][table tag: u8][key len: u32 BE][key]` and, for a put,
//! `[value len: u32 BE][value]`; op 1 is a put, op 0 a delete.

use super::framing::take_sized;
use super::trees::{Trees, WriteSet};
use crate::domain::kv::StoreError;
use crate::domain::kv::Table;

/// Meta key of the undo record of a drain under way.
const KEY_UNDO: &[u8] = b"undo";
/// Meta key present while a snapshot install is under way.
const KEY_INSTALLING: &[u8] = b"installing";

const OP_DELETE: u8 = 0;
const OP_PUT: u8 = 1;

/// Writes a drain so that a crash keeps all of it or, after [`recover`], none of it.
///
/// # Errors
/// sled errors, or [`StoreError::Corrupt`] if a key or value is over 4 GiB (a bug).
pub fn commit(trees: &Trees, writes: &WriteSet) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    if roll_back(trees)? {
        tracing::warn!("rolled back a drain that failed earlier; its writes are drained again");
    }
    record_undo(trees, writes)?;
    trees.write(writes)?;
    trees.remove(Table::Meta, KEY_UNDO)?;
    Ok(())
}

/// Stores what the trees hold now under every key of `writes`.
fn record_undo(trees: &Trees, writes: &WriteSet) -> Result<(), StoreError> {
    let mut before = WriteSet::new();
    for (table, key) in writes.keys() {
        let old = trees.tree(*table).get(key)?.map(|v| v.to_vec());
        before.insert((*table, key.clone()), old);
    }
    trees.insert(Table::Meta, KEY_UNDO, &encode(&before)?)?;
    Ok(())
}

/// Undoes what a crash interrupted: writes back the old values of a drain that was cut off.
/// Returns whether a snapshot install was interrupted (then the caller must redo it; see
/// [`begin_install`]).
///
/// # Errors
/// sled errors, or [`StoreError::Corrupt`] if the record does not parse.
pub fn recover(trees: &Trees) -> Result<Recovery, StoreError> {
    let meta = trees.tree(Table::Meta);
    if meta.get(KEY_INSTALLING)?.is_some() {
        return Ok(Recovery::RedoInstall);
    }
    if roll_back(trees)? {
        tracing::info!(
            "a crash cut off a drain of the state machine; undid it (the log is applied again)"
        );
    }
    Ok(Recovery::Done)
}

/// Writes back the old values of a drain that did not finish (cut off by a crash or failed),
/// then removes its record; a crash meanwhile leaves the record, and this runs again. Returns
/// whether there was such a drain.
fn roll_back(trees: &Trees) -> Result<bool, StoreError> {
    let Some(bytes) = trees.tree(Table::Meta).get(KEY_UNDO)? else {
        return Ok(false);
    };
    let before = decode(&bytes)?;
    tracing::debug!(keys = before.len(), "undoing an unfinished drain");
    trees.write(&before)?;
    trees.remove(Table::Meta, KEY_UNDO)?;
    Ok(true)
}

/// What [`recover`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The trees hold whole drains.
    Done,
    /// A snapshot install was cut off: install the stored snapshot again.
    RedoInstall,
}

/// Marks a snapshot install as under way (the install replaces every table, so no undo record
/// matters any more). Store the snapshot itself before this, so recovery can find it.
///
/// # Errors
/// sled errors.
pub fn begin_install(trees: &Trees) -> Result<(), StoreError> {
    trees.insert(Table::Meta, KEY_INSTALLING, &[])?;
    trees.remove(Table::Meta, KEY_UNDO)?;
    Ok(())
}

/// Marks the install as complete.
///
/// # Errors
/// sled errors.
pub fn end_install(trees: &Trees) -> Result<(), StoreError> {
    trees.remove(Table::Meta, KEY_INSTALLING)?;
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

/// Parses an undo record ([`recover`] and the fuzz targets).
///
/// # Errors
/// [`StoreError::Corrupt`] if it is truncated or names an unknown table or operation.
pub(crate) fn decode(mut bytes: &[u8]) -> Result<WriteSet, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        table: Table::Meta,
        reason: format!("undo record: {reason}"),
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

    fn trees() -> (tempfile::TempDir, Trees) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open_db(dir.path(), 4 << 20).unwrap();
        (dir, Trees::open(&db).unwrap())
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

    fn get(trees: &Trees, table: Table, key: &[u8]) -> Option<Vec<u8>> {
        trees.tree(table).get(key).unwrap().map(|v| v.to_vec())
    }

    #[test]
    fn recovery_undoes_a_drain_a_crash_cut_short() {
        let (_dir, trees) = trees();
        trees
            .tree(Table::Avail)
            .insert(b"gone", b"old".as_slice())
            .unwrap();
        trees
            .tree(Table::Users)
            .insert(b"alice", b"old-a".as_slice())
            .unwrap();
        // A crash that kept the undo record and two of the drain's three writes.
        record_undo(&trees, &batch()).unwrap();
        trees
            .tree(Table::Groups)
            .insert(b"g", vec![7; 3000])
            .unwrap();
        trees.tree(Table::Avail).remove(b"gone").unwrap();
        assert_eq!(recover(&trees).unwrap(), Recovery::Done);
        assert_eq!(
            get(&trees, Table::Groups, b"g"),
            None,
            "a created key is removed"
        );
        assert_eq!(
            get(&trees, Table::Avail, b"gone").as_deref(),
            Some(&b"old"[..])
        );
        assert_eq!(
            get(&trees, Table::Users, b"alice").as_deref(),
            Some(&b"old-a"[..])
        );
        assert!(get(&trees, Table::Meta, KEY_UNDO).is_none());
    }

    #[test]
    fn a_record_spelled_out_byte_by_byte_recovers() {
        // The record as older builds wrote it: a put of users/alice, then a delete of groups/g.
        let (_dir, trees) = trees();
        let mut record = vec![OP_PUT, Table::Users as u8, 0, 0, 0, 5];
        record.extend_from_slice(b"alice");
        record.extend_from_slice(&[0, 0, 0, 3]);
        record.extend_from_slice(b"old");
        record.extend_from_slice(&[OP_DELETE, Table::Groups as u8, 0, 0, 0, 1, b'g']);
        trees.tree(Table::Meta).insert(KEY_UNDO, record).unwrap();
        trees
            .tree(Table::Users)
            .insert(b"alice", b"new".as_slice())
            .unwrap();
        trees
            .tree(Table::Groups)
            .insert(b"g", b"new".as_slice())
            .unwrap();
        assert_eq!(recover(&trees).unwrap(), Recovery::Done);
        assert_eq!(
            get(&trees, Table::Users, b"alice").as_deref(),
            Some(&b"old"[..])
        );
        assert_eq!(get(&trees, Table::Groups, b"g"), None);
        assert!(get(&trees, Table::Meta, KEY_UNDO).is_none());
    }

    #[test]
    fn a_failed_drain_is_rolled_back_before_the_next_records_its_undo() {
        let (_dir, trees) = trees();
        trees
            .tree(Table::Users)
            .insert(b"alice", b"old-a".as_slice())
            .unwrap();
        // The record and the first write (avail/gone) land; the second fails.
        trees.fail_after(Some(2));
        assert!(commit(&trees, &batch()).is_err());
        trees.fail_after(None);
        assert!(get(&trees, Table::Meta, KEY_UNDO).is_some());
        let mut next = WriteSet::new();
        next.insert((Table::Users, b"alice".to_vec()), Some(b"rec-a2".to_vec()));
        record_undo_after_roll_back(&trees, &next);
        let before = decode(&get(&trees, Table::Meta, KEY_UNDO).unwrap()).unwrap();
        assert_eq!(
            before.get(&(Table::Users, b"alice".to_vec())),
            Some(&Some(b"old-a".to_vec())),
            "the new record holds the value from before the failed drain"
        );
    }

    /// What `commit` does before it writes the drain itself.
    fn record_undo_after_roll_back(trees: &Trees, writes: &WriteSet) {
        assert!(roll_back(trees).unwrap());
        record_undo(trees, writes).unwrap();
    }

    #[test]
    fn a_finished_drain_is_kept_and_leaves_no_undo_record() {
        let (_dir, trees) = trees();
        trees
            .tree(Table::Avail)
            .insert(b"gone", b"old".as_slice())
            .unwrap();
        commit(&trees, &batch()).unwrap();
        assert!(get(&trees, Table::Meta, KEY_UNDO).is_none());
        assert_eq!(recover(&trees).unwrap(), Recovery::Done);
        assert_eq!(get(&trees, Table::Groups, b"g"), Some(vec![7; 3000]));
        assert_eq!(get(&trees, Table::Avail, b"gone"), None);
        assert_eq!(
            get(&trees, Table::Users, b"alice").as_deref(),
            Some(&b"rec-a"[..])
        );
    }

    #[test]
    fn an_interrupted_install_is_reported_and_drops_an_undo_record() {
        let (_dir, trees) = trees();
        record_undo(&trees, &batch()).unwrap();
        trees
            .tree(Table::Users)
            .insert(b"alice", b"from-snapshot".as_slice())
            .unwrap();
        begin_install(&trees).unwrap();
        assert_eq!(recover(&trees).unwrap(), Recovery::RedoInstall);
        end_install(&trees).unwrap();
        // The old drain must not be undone over the snapshot.
        assert_eq!(recover(&trees).unwrap(), Recovery::Done);
        assert_eq!(
            get(&trees, Table::Users, b"alice").as_deref(),
            Some(&b"from-snapshot"[..])
        );
    }
}
