//! [`SmTrees::visit_page`]: pages laid over drained and staged entries, including staged deletes
//! and keys of other prefixes and tables, join up to exactly what one whole scan returns.

use super::overlay::Committed;
use super::record_cache::DecodedCache;
use super::sm_trees::SmTrees;
use super::trees::WriteSet;
use crate::domain::kv::{KvRead, Table};

fn stage(trees: &SmTrees, entries: &[(Table, String, Option<u8>)]) {
    let mut writes = WriteSet::new();
    for (table, key, value) in entries {
        writes.insert((*table, key.clone().into_bytes()), value.map(|v| vec![v]));
    }
    trees.stage(writes, DecodedCache::new()).unwrap();
}

/// Entries as a scan returns them.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Every page of `limit` under `prefix`, joined, and how many pages it took.
fn paged(trees: &SmTrees, prefix: &[u8], limit: usize) -> (Entries, usize) {
    let mut all = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    let mut pages = 0;
    // Bounded: every full page moves `after` forward.
    for _ in 0..10_000 {
        pages += 1;
        let mut page = Vec::new();
        let next = trees
            .visit_page(Table::Groups, prefix, after.as_deref(), limit, |k, v| {
                page.push((k.to_vec(), v.to_vec()));
                Ok(())
            })
            .unwrap();
        assert!(
            page.len() <= limit.max(1),
            "a page holds more than its limit"
        );
        all.extend(page);
        match next {
            Some(last) => after = Some(last),
            None => return (all, pages),
        }
    }
    panic!("paging did not end");
}

#[test]
fn pages_join_up_to_the_whole_scan_over_drained_and_staged_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = super::open_db(dir.path(), 4 << 20).unwrap();
    let trees = SmTrees::open(&db).unwrap();
    // Drained: g000..g099 and h000..h009, and the same keys in another table.
    let drained: Vec<_> = (0..100)
        .map(|i| (Table::Groups, format!("g{i:03}"), Some(1)))
        .chain((0..10).map(|i| (Table::Groups, format!("h{i:03}"), Some(1))))
        .chain((0..10).map(|i| (Table::Users, format!("g{i:03}"), Some(1))))
        .collect();
    stage(&trees, &drained);
    trees.drain().unwrap();
    // Staged over them: every third key deleted, new keys between, some rewritten.
    let mut over = Vec::new();
    for i in 0..100 {
        if i % 3 == 0 {
            over.push((Table::Groups, format!("g{i:03}"), None));
        }
        if i % 7 == 0 {
            over.push((Table::Groups, format!("g{i:03}x"), Some(2)));
        }
        if i % 5 == 1 {
            over.push((Table::Groups, format!("g{i:03}"), Some(3)));
        }
    }
    stage(&trees, &over);
    let whole = Committed(&trees).scan_raw(Table::Groups, b"g").unwrap();
    assert!(whole.len() > 50);
    for limit in [0, 1, 2, 7, 64, 1000] {
        let (joined, pages) = paged(&trees, b"g", limit);
        assert_eq!(joined, whole, "pages of {limit} differ from the whole scan");
        if limit >= 1 && limit < whole.len() {
            assert!(
                pages >= whole.len() / limit,
                "pages of {limit}: only {pages}"
            );
        }
    }
    // A page that ends exactly at the table's end says so on the next call.
    let (joined, _) = paged(&trees, b"h", 10);
    assert_eq!(joined.len(), 10);
    assert_eq!(paged(&trees, b"nothing", 5).0, Vec::new());
}
