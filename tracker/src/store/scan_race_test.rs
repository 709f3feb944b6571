//! Reads racing the background drains: a reader that knows a batch was staged finds it in every
//! later scan and point read, while drains move staged writes into sled (splitting its leaves) and
//! newer batches are staged over them. This is the path a group listing takes right after the
//! group's creation was acknowledged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::overlay::Committed;
use super::record_cache::DecodedCache;
use super::sm_trees::SmTrees;
use super::trees::WriteSet;
use crate::domain::kv::{KvRead, Table};

/// Batches staged; with a drain every `DRAIN_BATCHES`, about 23 drains run meanwhile.
const BATCHES: u64 = 3000;

fn key(i: u64) -> Vec<u8> {
    format!("g{i:06}").into_bytes()
}

#[test]
fn scans_and_gets_racing_drains_see_every_staged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = super::open_db(dir.path(), 4 << 20).unwrap();
    let trees = SmTrees::open(&db).unwrap();
    let staged_upto = Arc::new(AtomicU64::new(0));
    let scans_done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let trees = trees.clone();
        let staged_upto = staged_upto.clone();
        let scans_done = scans_done.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut scans = 0u64;
            while !stop.load(Ordering::Acquire) {
                // Every batch staged before the scan starts must be in it.
                let n = staged_upto.load(Ordering::Acquire);
                let seen = Committed(&trees).scan_raw(Table::Groups, b"g").unwrap();
                let names: std::collections::BTreeSet<&[u8]> =
                    seen.iter().map(|(k, _)| k.as_slice()).collect();
                assert_eq!(names.len(), seen.len(), "a scan yielded a key twice");
                if let Some(missing) = (0..n).find(|i| !names.contains(key(*i).as_slice())) {
                    panic!("scan {scans} misses g{missing:06}; {n} batches were staged before it");
                }
                if n > 0 {
                    let newest = Committed(&trees)
                        .get_raw(Table::Groups, &key(n - 1))
                        .unwrap();
                    assert!(newest.is_some(), "a point read misses g{:06}", n - 1);
                }
                scans += 1;
                scans_done.store(scans, Ordering::Release);
            }
            scans
        })
    };
    for i in 0..BATCHES {
        let mut writes = WriteSet::new();
        writes.insert((Table::Groups, key(i)), Some(vec![7u8; 96]));
        // Rewrite an older key too, so drains carry updates of keys already in sled.
        writes.insert((Table::Groups, key(i / 2)), Some(vec![(i % 251) as u8; 96]));
        trees.stage(writes, DecodedCache::new()).unwrap();
        staged_upto.store(i + 1, Ordering::Release);
        if i % 10 == 9 {
            // Let a scan run between every ten batches (bounded: a second at most).
            let before = scans_done.load(Ordering::Acquire);
            let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while scans_done.load(Ordering::Acquire) == before && std::time::Instant::now() < until
            {
                std::thread::yield_now();
            }
        }
    }
    trees.drain().unwrap();
    stop.store(true, Ordering::Release);
    let scans = reader.join().unwrap();
    assert!(scans > 0, "the reader never scanned");
    let all = Committed(&trees).scan_raw(Table::Groups, b"g").unwrap();
    assert_eq!(all.len() as u64, BATCHES);
    assert_eq!(
        trees.tree(Table::Groups).len() as u64,
        BATCHES,
        "all drained"
    );
}
