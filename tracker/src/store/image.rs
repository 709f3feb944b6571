//! The state-machine image inside a snapshot, and the state digest.
//!
//! An export ([`export`]) is the same image taken for an operator's backup, with the applied log
//! id it is at, written to a file while apply waits.
//!
//! Format: a sequence of records `[table tag: u8][key len: u32 BE][key][value len: u32 BE][value]`,
//! data tables in [`Table::DATA`] order and keys in sled order. A received image is checked record
//! by record; a truncated or unknown record is an error, never a panic.

use std::io::Write;

use openraft::LogId;
use sha1::{Digest, Sha1};

use super::framing::{push_sized, take_sized};
use super::sm_trees::{SmTrees, KEY_LAST_APPLIED};
use crate::domain::kv::{decode_record, StoreError, Table};
use crate::raft_types::NodeId;

/// One table's entries.
pub type TableEntries = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads every data table into one image.
///
/// # Errors
/// sled errors.
pub fn capture(trees: &SmTrees) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for table in Table::DATA {
        trees.visit(table, b"", |k, v| {
            push_record(&mut out, table, k, v);
            Ok(())
        })?;
    }
    Ok(out)
}

fn push_record(out: &mut Vec<u8>, table: Table, key: &[u8], value: &[u8]) {
    out.push(table as u8);
    push_sized(out, key);
    push_sized(out, value);
}

/// Parses an image into per-table entries.
///
/// # Errors
/// [`StoreError::Corrupt`] if a record is truncated or names an unknown or meta table.
pub fn parse(mut bytes: &[u8]) -> Result<Vec<(Table, TableEntries)>, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        table: Table::Meta,
        reason: format!("snapshot image: {reason}"),
    };
    let mut tables: Vec<(Table, TableEntries)> =
        Table::DATA.iter().map(|t| (*t, Vec::new())).collect();
    while let Some((&tag, rest)) = bytes.split_first() {
        let table = Table::from_tag(tag)
            .filter(|t| *t != Table::Meta)
            .ok_or_else(|| corrupt("unknown table tag"))?;
        let (key, rest) = take_sized(rest).ok_or_else(|| corrupt("truncated key"))?;
        let (value, rest) = take_sized(rest).ok_or_else(|| corrupt("truncated value"))?;
        if let Some((_, entries)) = tables.iter_mut().find(|(t, _)| *t == table) {
            entries.push((key.to_vec(), value.to_vec()));
        }
        bytes = rest;
    }
    Ok(tables)
}

/// SHA-1 over every data table's keys and values, in order, as hex. Nodes that applied the
/// same log have the same digest. Holds the read gate throughout, so it sees whole batches.
///
/// # Errors
/// sled errors.
pub fn digest(trees: &SmTrees) -> Result<String, StoreError> {
    // Whole batches only: hold off apply for the scan, and lay the staged writes over the trees.
    let staged = trees.read_gate();
    let mut h = Sha1::new();
    let mut rec = Vec::new();
    for table in Table::DATA {
        for item in staged.merge_scan(table, b"", trees.tree(table).iter()) {
            let (k, v) = item?;
            rec.clear();
            push_record(&mut rec, table, k.as_ref(), v.as_ref());
            h.update(&rec);
        }
    }
    Ok(proto::tracker_msg::to_hex(&h.finalize()))
}

/// What [`export`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// The applied log id the image is at (`None` before the first entry).
    pub applied: Option<LogId<NodeId>>,
    /// Bytes written.
    pub size_bytes: u64,
    /// SHA-1 of those bytes: the state digest of that applied state.
    pub digest: [u8; 20],
}

/// Writes the image of every data table to `out` under the read gate, with the `last_applied`
/// of the same state: no batch is staged meanwhile, so the image is exactly the state at that log
/// id (apply waits for the whole write, as for [`digest`]). Its SHA-1 is the state digest.
///
/// # Errors
/// sled errors, a corrupt `last_applied`, or a write error on `out`
/// ([`StoreError::Engine`] named `export file`).
pub fn export(trees: &SmTrees, out: &mut impl Write) -> Result<Exported, StoreError> {
    let staged = trees.read_gate();
    // The gate is held: read the staged layer and the tree directly (taking the gate again
    // could wait behind a queued writer).
    let applied_bytes = match staged.get(Table::Meta, KEY_LAST_APPLIED) {
        Some(v) => v.map(<[u8]>::to_vec),
        None => trees
            .tree(Table::Meta)
            .get(KEY_LAST_APPLIED)
            .map_err(StoreError::from)?
            .map(|v| v.to_vec()),
    };
    let applied = match applied_bytes {
        Some(bytes) => Some(decode_record::<LogId<NodeId>>(Table::Meta, &bytes)?),
        None => None,
    };
    let file_err = |e: std::io::Error| StoreError::Engine {
        engine: "export file",
        source: Box::new(e),
    };
    let mut h = Sha1::new();
    let mut rec = Vec::new();
    let mut size_bytes = 0u64;
    for table in Table::DATA {
        for item in staged.merge_scan(table, b"", trees.tree(table).iter()) {
            let (k, v) = item?;
            rec.clear();
            push_record(&mut rec, table, k.as_ref(), v.as_ref());
            h.update(&rec);
            out.write_all(&rec).map_err(file_err)?;
            size_bytes += rec.len() as u64;
        }
    }
    out.flush().map_err(file_err)?;
    Ok(Exported {
        applied,
        size_bytes,
        digest: h.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_truncation_of_an_image_is_an_error() {
        let mut img = Vec::new();
        push_record(&mut img, Table::Users, b"alice", b"rec");
        push_record(&mut img, Table::Avail, b"k", b"");
        let parsed = parse(&img).unwrap();
        assert_eq!(parsed[0].1, vec![(b"alice".to_vec(), b"rec".to_vec())]);
        for cut in 1..img.len() {
            assert!(parse(&img[..cut]).is_err() || cut == 17, "cut {cut}");
        }
        assert!(parse(&[Table::Meta as u8, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(parse(&[200]).is_err());
    }
}
