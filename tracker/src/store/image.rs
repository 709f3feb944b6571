//! The state-machine image inside a snapshot, and the state digest.
//!
//! Format: a sequence of records `[table tag: u8][key len: u32 BE][key][value len: u32 BE][value]`,
//! data tables in [`Table::DATA`] order and keys in sled order. A received image is checked record
//! by record; a truncated or unknown record is an error, never a panic.

use sha1::{Digest, Sha1};

use super::framing::{push_sized, take_sized};
use super::sm_trees::SmTrees;
use crate::domain::kv::StoreError;
use crate::domain::kv::Table;

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
