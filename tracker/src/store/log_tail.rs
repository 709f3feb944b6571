//! The newest log entries kept in memory, so the state machine and replication read what was just
//! appended without going back to sled (whose range scans re-descend the tree for every entry)
//! or decoding it again. Entries share their command bytes, so keeping them costs little.
//!
//! The cache always holds a contiguous run of indexes ending at the newest appended entry, and
//! at most [`MAX_TAIL_ENTRIES`] entries or about [`MAX_TAIL_BYTES`] bytes of commands.

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

use openraft::{Entry, EntryPayload};

use crate::raft_types::TypeConfig;

/// Most entries kept.
pub const MAX_TAIL_ENTRIES: usize = 4096;
/// Rough cap on the kept entries' command bytes.
pub const MAX_TAIL_BYTES: usize = 64 << 20;

/// A contiguous run of the newest entries.
#[derive(Default)]
pub struct LogTail {
    /// Entries in index order, without gaps.
    entries: VecDeque<Entry<TypeConfig>>,
    /// Sum of [`entry_bytes`] over `entries`.
    bytes: usize,
}

/// Rough memory an entry holds.
fn entry_bytes(entry: &Entry<TypeConfig>) -> usize {
    const OVERHEAD: usize = 128;
    match &entry.payload {
        EntryPayload::Normal(batch) => OVERHEAD + batch.encoded_len(),
        _ => OVERHEAD,
    }
}

impl LogTail {
    /// Records an appended entry. An entry that does not follow the newest one starts a new run.
    pub fn push(&mut self, entry: Entry<TypeConfig>) {
        let follows = self
            .entries
            .back()
            .is_none_or(|last| last.log_id.index + 1 == entry.log_id.index);
        if !follows {
            self.clear();
        }
        self.bytes += entry_bytes(&entry);
        self.entries.push_back(entry);
        while self.entries.len() > MAX_TAIL_ENTRIES || self.bytes > MAX_TAIL_BYTES {
            match self.entries.pop_front() {
                Some(old) => self.bytes -= entry_bytes(&old),
                None => break,
            }
        }
    }

    /// Forgets entries at `index` and after (log truncation).
    pub fn truncate_from(&mut self, index: u64) {
        while self.entries.back().is_some_and(|e| e.log_id.index >= index) {
            if let Some(old) = self.entries.pop_back() {
                self.bytes -= entry_bytes(&old);
            }
        }
    }

    /// Forgets entries up to and including `index` (log purge).
    pub fn purge_to(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|e| e.log_id.index <= index)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= entry_bytes(&old);
            }
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// The entries of `range` if the cache holds all of them, or `None` (then read sled). A range
    /// with no end is answered only if it starts inside the cache: the cache ends at the newest
    /// entry.
    pub fn get(&self, range: &impl RangeBounds<u64>) -> Option<Vec<Entry<TypeConfig>>> {
        let first = self.entries.front()?.log_id.index;
        let last = self.entries.back()?.log_id.index;
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        // One past the last wanted index.
        let end = match range.end_bound() {
            Bound::Included(&i) => i.checked_add(1)?,
            Bound::Excluded(&i) => i,
            Bound::Unbounded => last + 1,
        };
        if start >= end {
            return Some(Vec::new());
        }
        if start < first || end > last + 1 {
            return None;
        }
        let from = usize::try_from(start - first).ok()?;
        let to = usize::try_from(end - first).ok()?;
        Some(self.entries.range(from..to).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId};

    fn blank(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(entries: Option<Vec<Entry<TypeConfig>>>) -> Option<Vec<u64>> {
        entries.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn serves_ranges_it_holds_and_declines_the_rest() {
        let mut tail = LogTail::default();
        for i in 5..=9 {
            tail.push(blank(i));
        }
        assert_eq!(indexes(tail.get(&(6..8))), Some(vec![6, 7]));
        assert_eq!(indexes(tail.get(&(5..=9))), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(indexes(tail.get(&(7..))), Some(vec![7, 8, 9]));
        assert_eq!(indexes(tail.get(&(8..8))), Some(vec![]));
        assert_eq!(indexes(tail.get(&(4..7))), None, "starts before the cache");
        assert_eq!(indexes(tail.get(&(8..11))), None, "ends after the cache");
        assert_eq!(indexes(tail.get(&(..7))), None);
    }

    #[test]
    fn truncation_purge_and_a_gap_keep_it_contiguous() {
        let mut tail = LogTail::default();
        for i in 1..=6 {
            tail.push(blank(i));
        }
        tail.truncate_from(5);
        assert_eq!(indexes(tail.get(&(1..=4))), Some(vec![1, 2, 3, 4]));
        assert_eq!(indexes(tail.get(&(4..6))), None);
        tail.push(blank(5));
        tail.purge_to(2);
        assert_eq!(indexes(tail.get(&(3..))), Some(vec![3, 4, 5]));
        assert_eq!(indexes(tail.get(&(2..4))), None);
        // A gap starts a new run.
        tail.push(blank(9));
        assert_eq!(indexes(tail.get(&(9..10))), Some(vec![9]));
        assert_eq!(indexes(tail.get(&(5..6))), None);
    }

    #[test]
    fn keeps_at_most_the_entry_cap() {
        let mut tail = LogTail::default();
        let n = MAX_TAIL_ENTRIES as u64 + 10;
        for i in 1..=n {
            tail.push(blank(i));
        }
        assert_eq!(indexes(tail.get(&(10..12))), None);
        assert_eq!(indexes(tail.get(&(n..=n))), Some(vec![n]));
        assert_eq!(tail.entries.len(), MAX_TAIL_ENTRIES);
    }
}
