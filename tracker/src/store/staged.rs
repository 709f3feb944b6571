//! [`Staged`]: the state-machine writes that are applied but not yet in the sled trees.
//!
//! `apply` stages each batch here instead of writing it to sled. Every [`DRAIN_BATCHES`] batches
//! or [`DRAIN_BYTES`] bytes, a thread of its own drains the merged writes into the trees as one
//! crash-atomic write ([`super::undo`]) while newer batches are staged over them. A key written by
//! many batches in between (a client's at-most-once record, a peer's availability bitfield) then
//! costs one sled insert per drain, not one per batch, and a batch costs no sled write at all.
//!
//! What a crash loses is only what is staged (or a drain cut off, which recovery undoes): the
//! stored `last_applied` moves with the drain, so
//! on restart openraft applies the log again from there (the log store keeps the committed index,
//! and a snapshot, the only reason the log is purged, drains first). Every reader looks here
//! before the trees ([`Staged::get`], [`Staged::merge_scan`]).

use std::sync::Arc;

use super::trees::WriteSet;
use crate::domain::kv::StoreError;
use crate::domain::kv::Table;

/// Batches staged before a drain. Longer runs merge more repeated keys, but past 128 each drain is
/// large enough to disturb the batches around it: of 8 to 512 at 64 writers, 128 measured best
/// (see chaos-tests/reports/2026-11-22.md).
pub const DRAIN_BATCHES: usize = 128;

/// Staged key and value bytes that force a drain whatever the batch count. While a drain runs,
/// newer batches stage up to four times this before staging waits for it, and the drain started
/// then takes all of it: at most about four times this staged and as much draining.
pub const DRAIN_BYTES: usize = 16 << 20;

/// Applied writes not yet in the trees: each key's latest value (`None`: deleted), in two layers:
/// the writes a drain is storing now, and the newer ones staged since it began.
#[derive(Debug, Default)]
pub struct Staged {
    /// Latest staged value per key, staged since the running drain (if any) began.
    active: WriteSet,
    /// What the running drain is writing; readers see it until the drain is done.
    draining: Option<Arc<WriteSet>>,
    /// Batches staged into `active`.
    batches: usize,
    /// Key and value bytes in `active` (each key counted once, at its latest value).
    bytes: usize,
}

/// A value read from sled or from a staged write.
pub enum Bytes<'a> {
    /// Stored in a tree.
    Stored(sled::IVec),
    /// Staged, borrowed from the overlay.
    Staged(&'a [u8]),
}

impl AsRef<[u8]> for Bytes<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Stored(v) => v.as_ref(),
            Bytes::Staged(v) => v,
        }
    }
}

/// One entry of a merged scan, or the error that ended it.
type Item<'a> = Result<(Bytes<'a>, Bytes<'a>), StoreError>;

/// The staged writes of `table` under `prefix` (only the keys after `after`, if given), in key
/// order.
fn staged_range<'a>(
    writes: &'a WriteSet,
    table: Table,
    prefix: &'a [u8],
    after: Option<&'a [u8]>,
) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
    use std::ops::Bound;
    let start = match after {
        Some(key) => Bound::Excluded((table, key.to_vec())),
        None => Bound::Included((table, prefix.to_vec())),
    };
    writes
        .range((start, Bound::Unbounded))
        .take_while(move |((t, k), _)| *t == table && k.starts_with(prefix))
        .map(|((_, k), v)| (k.as_slice(), v.as_deref()))
}

/// `base` (sorted by key) with `staged` writes (sorted) laid over it: a staged value replaces or
/// adds its key, a staged delete hides it.
struct Overlaid<'a, B, S>
where
    B: Iterator<Item = Item<'a>>,
    S: Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
{
    base: std::iter::Peekable<B>,
    staged: std::iter::Peekable<S>,
}

impl<'a, B, S> Iterator for Overlaid<'a, B, S>
where
    B: Iterator<Item = Item<'a>>,
    S: Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
{
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        loop {
            // Which side comes first: the staged write when its key is not after the base key.
            let staged_first = match (self.base.peek(), self.staged.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (Some(_), None) => return self.base.next(),
                (None, Some(_)) => true,
                (Some(Ok((base_key, _))), Some((staged_key, _))) => {
                    let order = (*staged_key).cmp(base_key.as_ref());
                    if order == std::cmp::Ordering::Equal {
                        // The staged write replaces the stored entry.
                        self.base.next();
                    }
                    order != std::cmp::Ordering::Greater
                }
            };
            if !staged_first {
                return self.base.next();
            }
            match self.staged.next() {
                Some((key, Some(value))) => {
                    return Some(Ok((Bytes::Staged(key), Bytes::Staged(value))))
                }
                // A staged delete: nothing to yield, look again.
                Some((_, None)) => {}
                None => return self.base.next(),
            }
        }
    }
}

impl Staged {
    /// Whether nothing is staged or being drained.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty() && self.draining.is_none()
    }

    /// The staged value of a key: `None` if it is not staged, `Some(None)` if it is deleted.
    pub fn get(&self, table: Table, key: &[u8]) -> Option<Option<&[u8]>> {
        if self.is_empty() {
            return None;
        }
        let slot = (table, key.to_vec());
        self.active
            .get(&slot)
            .or_else(|| self.draining.as_ref().and_then(|d| d.get(&slot)))
            .map(|v| v.as_deref())
    }

    /// Stages one batch's writes over the earlier ones.
    pub fn add(&mut self, writes: WriteSet) {
        for (slot, value) in writes {
            let key_len = slot.1.len();
            let value_len = value.as_ref().map_or(0, Vec::len);
            match self.active.insert(slot, value) {
                // The key is counted already: swap the old value's length for the new one's.
                Some(old) => {
                    self.bytes =
                        self.bytes.saturating_sub(old.as_ref().map_or(0, Vec::len)) + value_len;
                }
                None => self.bytes += key_len + value_len,
            }
        }
        self.batches += 1;
    }

    /// Whether enough is staged that the next drain is due.
    pub fn drain_due(&self) -> bool {
        self.batches >= DRAIN_BATCHES || self.bytes >= DRAIN_BYTES
    }
    /// Whether so much is staged behind a running drain that staging should wait for it.
    pub fn overfull(&self) -> bool {
        self.draining.is_some() && self.bytes >= 4 * DRAIN_BYTES
    }

    /// Hands what is staged to a new drain (none may be running); `None` if nothing is staged.
    pub fn begin_drain(&mut self) -> Option<Arc<WriteSet>> {
        if self.active.is_empty() || self.draining.is_some() {
            return None;
        }
        let writes = Arc::new(std::mem::take(&mut self.active));
        self.draining = Some(writes.clone());
        self.batches = 0;
        self.bytes = 0;
        Some(writes)
    }

    /// The running drain stored everything: readers find it in the trees now.
    pub fn end_drain(&mut self) {
        self.draining = None;
    }

    /// The running drain failed: its writes are staged again, under anything staged since.
    pub fn abort_drain(&mut self) {
        if let Some(failed) = self.draining.take() {
            let newer = std::mem::take(&mut self.active);
            let mut writes = Arc::unwrap_or_clone(failed);
            writes.extend(newer);
            // `active` is empty now: count every key again as it is staged back.
            self.bytes = 0;
            self.add(writes);
        }
    }

    /// Every live entry of `table` under `prefix`, in key order: `stored` (sorted, as sled yields
    /// it) with the draining and then the newer staged writes laid over it.
    pub fn merge_scan<'a, I>(
        &'a self,
        table: Table,
        prefix: &'a [u8],
        stored: I,
    ) -> impl Iterator<Item = Item<'a>> + 'a
    where
        I: Iterator<Item = Result<(sled::IVec, sled::IVec), sled::Error>> + 'a,
    {
        self.merge_scan_after(table, prefix, None, stored)
    }

    /// [`Staged::merge_scan`] of the keys after `after` only (`stored` must start after it too).
    pub fn merge_scan_after<'a, I>(
        &'a self,
        table: Table,
        prefix: &'a [u8],
        after: Option<&'a [u8]>,
        stored: I,
    ) -> impl Iterator<Item = Item<'a>> + 'a
    where
        I: Iterator<Item = Result<(sled::IVec, sled::IVec), sled::Error>> + 'a,
    {
        let stored = stored.map(|r| {
            r.map(|(k, v)| (Bytes::Stored(k), Bytes::Stored(v)))
                .map_err(StoreError::from)
        });
        let no_writes: &'a WriteSet = &self.active;
        let draining = self.draining.as_deref().unwrap_or(no_writes);
        // With no drain running, `draining` is `active` itself, laid on twice to the same effect.
        let under = Overlaid {
            base: stored.peekable(),
            staged: staged_range(draining, table, prefix, after).peekable(),
        };
        Overlaid {
            base: under.peekable(),
            staged: staged_range(&self.active, table, prefix, after).peekable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(entries: &[(&[u8], Option<&[u8]>)]) -> WriteSet {
        entries
            .iter()
            .map(|(k, v)| ((Table::Users, k.to_vec()), v.map(<[u8]>::to_vec)))
            .collect()
    }

    fn scan(staged: &Staged, tree: &sled::Tree, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        staged
            .merge_scan(Table::Users, prefix, tree.scan_prefix(prefix))
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.as_ref().to_vec(), v.as_ref().to_vec())
            })
            .collect()
    }

    #[test]
    fn a_scan_lays_staged_writes_over_the_stored_entries() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        for k in [&b"a1"[..], b"a3", b"a5", b"b1"] {
            tree.insert(k, b"old".as_slice()).unwrap();
        }
        let mut staged = Staged::default();
        staged.add(set(&[
            (b"a0", Some(b"new")),
            (b"a3", None),
            (b"a4", Some(b"new")),
            (b"a5", Some(b"new")),
            (b"a9", Some(b"new")),
            (b"b0", Some(b"new")),
        ]));
        let keys: Vec<(Vec<u8>, Vec<u8>)> = scan(&staged, &tree, b"a");
        let expect: Vec<(Vec<u8>, Vec<u8>)> = [
            ("a0", "new"),
            ("a1", "old"),
            ("a4", "new"),
            ("a5", "new"),
            ("a9", "new"),
        ]
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        assert_eq!(keys, expect);
        assert_eq!(staged.get(Table::Users, b"a3"), Some(None));
        assert_eq!(staged.get(Table::Users, b"a4"), Some(Some(&b"new"[..])));
        assert_eq!(staged.get(Table::Users, b"a1"), None);
        assert_eq!(staged.get(Table::Groups, b"a4"), None);
    }

    #[test]
    fn a_drain_is_due_after_enough_batches_or_bytes_and_repeats_count_once() {
        let mut staged = Staged::default();
        for _ in 0..DRAIN_BATCHES - 1 {
            staged.add(set(&[(b"k", Some(&[0u8; 1000]))]));
        }
        assert!(!staged.drain_due());
        assert_eq!(staged.bytes, 1001, "a key written again is counted once");
        staged.add(set(&[]));
        assert!(staged.drain_due());
        assert!(staged.begin_drain().is_some());
        assert!(!staged.drain_due() && staged.draining.is_some());
        staged.end_drain();
        assert!(staged.is_empty());
        staged.add(set(&[(b"big", Some(&vec![0u8; DRAIN_BYTES]))]));
        assert!(staged.drain_due());
    }

    #[test]
    fn newer_writes_lie_over_a_running_drain_and_a_failed_drain_is_staged_again() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert(b"a1", b"stored".as_slice()).unwrap();
        let mut staged = Staged::default();
        staged.add(set(&[
            (b"a1", Some(b"old")),
            (b"a2", Some(b"old")),
            (b"a3", Some(b"old")),
        ]));
        let draining = staged.begin_drain().unwrap();
        assert_eq!(draining.len(), 3);
        assert!(staged.begin_drain().is_none(), "one drain at a time");
        staged.add(set(&[
            (b"a2", Some(b"new")),
            (b"a3", None),
            (b"a4", Some(b"new")),
        ]));
        let view = |staged: &Staged| -> Vec<(String, String)> {
            scan(staged, &tree, b"a")
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
                .collect()
        };
        let expect = vec![
            ("a1".to_string(), "old".to_string()),
            ("a2".to_string(), "new".to_string()),
            ("a4".to_string(), "new".to_string()),
        ];
        assert_eq!(view(&staged), expect);
        assert_eq!(staged.get(Table::Users, b"a1"), Some(Some(&b"old"[..])));
        assert_eq!(staged.get(Table::Users, b"a3"), Some(None));
        staged.abort_drain();
        assert!(staged.draining.is_none());
        assert_eq!(
            view(&staged),
            expect,
            "the failed drain's writes are staged again"
        );
        assert_eq!(staged.active.len(), 4);
    }
}
