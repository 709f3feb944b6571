//! Decoded state-machine records kept between apply batches.
//!
//! Every command `apply` runs reads the same few records: the caller's session, the group, the
//! peer, the file with its manifest of chunk hashes, the client's at-most-once record. Reading
//! one from sled and decoding it was a large share of a node's CPU under the write benchmark (see
//! chaos-tests/reports/2026-11-22.md). This cache keeps them decoded. It holds committed values
//! only: [`super::sm_trees::SmTrees`] drops a key when it writes it and then stores the value the
//! batch computed, so the cache never disagrees with sled. Only `apply` (one batch at a time)
//! reads it.
//!
//! Bounded by an estimate of its size in bytes (encoded value, key and a fixed overhead per
//! entry); when an insert would pass the bound the whole cache is dropped, which is cheap, and
//! the working set of the next batches comes back within a few of them.

use std::any::Any;
use std::collections::HashMap;

use crate::domain::kv::Table;

/// Records decoded or written during one batch, by table and key: each the key's latest value in
/// the batch.
pub type DecodedCache = HashMap<(Table, Vec<u8>), Decoded>;

/// Bytes counted for each entry on top of its key and encoded value (map slot, box, headers).
const ENTRY_OVERHEAD: usize = 96;

/// Stored bytes kept as they are, for values that are not records (availability bitfields).
#[derive(Clone)]
pub struct StoredBytes(pub Vec<u8>);

/// One decoded record, `Option<T>` of its table's record type (`None`: known to be absent), or
/// `Option<StoredBytes>`.
pub struct Decoded {
    /// The `Option<T>`.
    value: Box<dyn Any + Send>,
    /// Estimated bytes it holds.
    cost: usize,
}

impl Decoded {
    /// Wraps a decoded value whose encoding took `encoded_len` bytes.
    pub fn new<T: Clone + Send + 'static>(
        key: &[u8],
        value: Option<T>,
        encoded_len: usize,
    ) -> Self {
        Decoded {
            value: Box::new(value),
            cost: key.len() + encoded_len + ENTRY_OVERHEAD,
        }
    }

    /// The value, if it is an `Option<T>`.
    pub fn get<T: Clone + Send + 'static>(&self) -> Option<&Option<T>> {
        self.value.downcast_ref::<Option<T>>()
    }
}

/// Decoded committed records by table and key, bounded in (estimated) bytes.
pub struct RecordCache {
    entries: HashMap<(Table, Vec<u8>), Decoded>,
    bytes: usize,
    max_bytes: usize,
}

impl RecordCache {
    /// An empty cache holding about `max_bytes` at most.
    pub fn new(max_bytes: usize) -> Self {
        RecordCache {
            entries: HashMap::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// A copy of the cached value, if `key` is cached as a `T`.
    pub fn get<T: Clone + Send + 'static>(&self, slot: &(Table, Vec<u8>)) -> Option<Option<T>> {
        self.entries.get(slot).and_then(Decoded::get::<T>).cloned()
    }

    /// Stores a value (replacing any), dropping everything first if it would not fit.
    pub fn insert(&mut self, slot: (Table, Vec<u8>), value: Decoded) {
        if value.cost > self.max_bytes {
            self.remove(&slot);
            return;
        }
        if self.bytes + value.cost > self.max_bytes {
            self.clear();
        }
        self.bytes += value.cost;
        if let Some(old) = self.entries.insert(slot, value) {
            self.bytes -= old.cost;
        }
    }

    /// Forgets one key.
    pub fn remove(&mut self, slot: &(Table, Vec<u8>)) {
        if let Some(old) = self.entries.remove(slot) {
            self.bytes -= old.cost;
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: &str) -> (Table, Vec<u8>) {
        (Table::Users, key.as_bytes().to_vec())
    }

    #[test]
    fn holds_values_by_type_and_forgets_on_remove() {
        let mut c = RecordCache::new(10_000);
        c.insert(slot("a"), Decoded::new(b"a", Some("one".to_string()), 4));
        c.insert(slot("b"), Decoded::new::<String>(b"b", None, 0));
        assert_eq!(c.get::<String>(&slot("a")), Some(Some("one".to_string())));
        assert_eq!(c.get::<String>(&slot("b")), Some(None));
        assert_eq!(c.get::<u64>(&slot("a")), None, "another type is a miss");
        c.remove(&slot("a"));
        assert_eq!(c.get::<String>(&slot("a")), None);
        c.remove(&slot("b"));
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn stays_within_its_bound() {
        let mut c = RecordCache::new(1_000);
        for i in 0..100u32 {
            let key = i.to_be_bytes();
            c.insert(
                (Table::Peers, key.to_vec()),
                Decoded::new(&key, Some(i), 100),
            );
            assert!(c.bytes() <= 1_000, "{} bytes after {i}", c.bytes());
        }
        assert_eq!(
            c.get::<u32>(&(Table::Peers, 99u32.to_be_bytes().to_vec())),
            Some(Some(99))
        );
        c.insert(
            slot("huge"),
            Decoded::new(b"huge", Some(vec![0u8; 2_000]), 2_000),
        );
        assert_eq!(
            c.get::<Vec<u8>>(&slot("huge")),
            None,
            "larger than the bound: not kept"
        );
        c.insert(slot("x"), Decoded::new(b"x", Some(1u32), 4));
        c.insert(slot("x"), Decoded::new(b"x", Some(2u32), 4));
        assert_eq!(c.get::<u32>(&slot("x")), Some(Some(2)));
    }
}
