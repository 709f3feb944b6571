//! Two drains in a row, each cut off after every possible number of writes (a failed write, then
//! a crash and a reopen): recovery must leave the trees exactly as before a drain or after it,
//! never with part of one. The first drain's failure leaves its undo record behind, and the second
//! drain runs over the trees it half wrote.

use std::collections::BTreeMap;

use super::record_cache::DecodedCache;
use super::trees::{Trees, WriteSet};
use super::{open_db, StateMachine};
use crate::domain::kv::Table;

/// Everything in every table, the meta table (undo record included) too.
type Contents = BTreeMap<(Table, Vec<u8>), Vec<u8>>;

fn contents(trees: &Trees) -> Contents {
    let mut all = Contents::new();
    for table in Table::ALL {
        for item in trees.tree(table).iter() {
            let (k, v) = item.unwrap();
            all.insert((table, k.to_vec()), v.to_vec());
        }
    }
    all
}

fn writes(entries: &[(Table, &str, Option<&str>)]) -> WriteSet {
    entries
        .iter()
        .map(|(t, k, v)| {
            (
                (*t, k.as_bytes().to_vec()),
                v.map(|v| v.as_bytes().to_vec()),
            )
        })
        .collect()
}

fn laid_over(state: &Contents, writes: &WriteSet) -> Contents {
    let mut next = state.clone();
    for (slot, value) in writes {
        match value {
            Some(v) => next.insert(slot.clone(), v.clone()),
            None => next.remove(slot),
        };
    }
    next
}

/// How one run of the two drains ended, and what the trees held after recovery.
struct Run {
    first_ok: bool,
    second_ok: bool,
    recovered: Contents,
}

/// Opens the database again once the first handle's last clone is gone: the drain thread may
/// still hold one for a moment after the handles of the run are dropped, and sled keeps its file
/// lock until then (a restarted process finds the lock free: the old one is dead).
fn reopen(dir: &std::path::Path) -> sled::Db {
    // Bounded: 5 s at most.
    for _ in 0..500 {
        match open_db(dir, 1 << 20) {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("cannot reopen the database: {e}"),
        }
    }
    panic!("the database's lock was still held 5 s after the run's handles were dropped");
}

/// Stages `first`, drains it with a fault after `cut_first` writes, stages `second`, drains with
/// a fault after `cut_second` writes, then reopens the database (as after a crash there).
fn run(
    base: &WriteSet,
    first: &WriteSet,
    second: &WriteSet,
    cut_first: usize,
    cut_second: usize,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (first_ok, second_ok) = {
        let db = open_db(dir.path(), 1 << 20).unwrap();
        let sm = StateMachine::open(&db).unwrap();
        let trees = sm.trees();
        trees.write_all(base).unwrap();
        trees.stage(first.clone(), DecodedCache::default()).unwrap();
        trees.plain().fail_after(Some(cut_first));
        let first_ok = trees.drain().is_ok();
        trees
            .stage(second.clone(), DecodedCache::default())
            .unwrap();
        trees.plain().fail_after(Some(cut_second));
        let second_ok = trees.drain().is_ok();
        db.flush().unwrap();
        (first_ok, second_ok)
    };
    let db = reopen(dir.path());
    let sm = StateMachine::open(&db).unwrap();
    Run {
        first_ok,
        second_ok,
        recovered: contents(sm.trees().plain()),
    }
}

#[test]
fn two_drains_cut_after_every_write_recover_to_a_whole_drain() {
    let base = writes(&[
        (Table::Users, "alice", Some("alice-0")),
        (Table::Users, "bob", Some("bob-0")),
        (Table::Groups, "g", Some("g-0")),
        (Table::Avail, "gone", Some("gone-0")),
        (Table::Meta, "applied", Some("0")),
    ]);
    // Overwrites, a creation and a delete.
    let first = writes(&[
        (Table::Users, "alice", Some("alice-1")),
        (Table::Users, "carol", Some("carol-1")),
        (Table::Avail, "gone", None),
        (Table::Meta, "applied", Some("1")),
    ]);
    // Over the first: an overwrite of its write, a delete of its creation, a key it left alone, a
    // new key in another table.
    let second = writes(&[
        (Table::Users, "alice", Some("alice-2")),
        (Table::Users, "carol", None),
        (Table::Users, "bob", Some("bob-2")),
        (Table::Files, "f", Some("f-2")),
        (Table::Meta, "applied", Some("2")),
    ]);
    let before = laid_over(&Contents::new(), &base);
    let after_first = laid_over(&before, &first);
    let after_second = laid_over(&after_first, &second);

    let mut cut_first = 0;
    let mut runs = 0;
    loop {
        let mut cut_second = 0;
        let first_ok = loop {
            let r = run(&base, &first, &second, cut_first, cut_second);
            runs += 1;
            let expect = match (r.first_ok, r.second_ok) {
                (_, true) => &after_second,
                (true, false) => &after_first,
                (false, false) => &before,
            };
            assert!(
                r.recovered == *expect,
                "first drain cut after {cut_first} writes (ok: {}), second after {cut_second} \
                 (ok: {}): recovered {:?}, expected {:?}",
                r.first_ok,
                r.second_ok,
                r.recovered,
                expect
            );
            if r.second_ok {
                break r.first_ok;
            }
            cut_second += 1;
            assert!(cut_second < 100, "the second drain never finished");
        };
        if first_ok {
            break;
        }
        cut_first += 1;
    }
    assert!(
        cut_first >= first.len() + 2,
        "every write of the first drain was cut ({cut_first})"
    );
    assert!(runs > 20, "{runs} runs");
}
