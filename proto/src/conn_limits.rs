//! Caps on open connections, for every listener: at most so many in all and so many from one
//! source address. A connection over a cap is closed right after `accept`, before anything is
//! read from it, so refusing it costs one accept and one close. What a connection may do once it
//! is admitted (its handshake and idle timeouts, its requests in flight) is the handler's.
//!
//! The per-source table has an entry only for addresses with a connection open, so it holds at
//! most `total` entries. IPv6 sources are counted per address like IPv4 ones; a host that owns a
//! whole prefix can open `per_source` connections from each of its addresses, and `total` still
//! bounds them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// How many connections a listener keeps open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections in all.
    pub total: usize,
    /// Open connections from one source address.
    pub per_source: usize,
}

impl ConnLimits {
    /// No cap (for tests and tools).
    pub const UNLIMITED: ConnLimits = ConnLimits {
        total: usize::MAX,
        per_source: usize::MAX,
    };
}

/// Which cap a refused connection hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// [`ConnLimits::total`] connections are open.
    #[error("{0} connections are open, the most this listener keeps")]
    Total(usize),
    /// [`ConnLimits::per_source`] connections from this address are open.
    #[error("{0} connections from this address are open, the most one source may keep")]
    PerSource(usize),
}

/// What is open now.
#[derive(Debug, Default)]
struct Open {
    /// Connections in all.
    total: usize,
    /// Connections per source address (only addresses with at least one).
    per_source: HashMap<IpAddr, usize>,
    /// Connections refused over a cap so far.
    refused: u64,
}

/// Counts a listener's open connections against its [`ConnLimits`] (clones share the count).
#[derive(Debug, Clone)]
pub struct ConnCounter {
    limits: ConnLimits,
    open: Arc<Mutex<Open>>,
}

impl ConnCounter {
    /// A counter with nothing open.
    pub fn new(limits: ConnLimits) -> Self {
        ConnCounter {
            limits,
            open: Arc::new(Mutex::new(Open::default())),
        }
    }

    /// Admits a connection from `source` if both caps allow it; the slot counts it until dropped.
    ///
    /// # Errors
    /// [`Refused`] with the cap that was hit.
    pub fn admit(&self, source: IpAddr) -> Result<ConnSlot, Refused> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.limits.total {
            open.refused += 1;
            return Err(Refused::Total(self.limits.total));
        }
        let from_source = open.per_source.get(&source).copied().unwrap_or(0);
        if from_source >= self.limits.per_source {
            open.refused += 1;
            return Err(Refused::PerSource(self.limits.per_source));
        }
        open.total += 1;
        open.per_source.insert(source, from_source + 1);
        Ok(ConnSlot {
            open: self.open.clone(),
            source,
        })
    }

    /// Connections open now in all, and those refused over a cap so far.
    pub fn totals(&self) -> (usize, u64) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        (open.total, open.refused)
    }

    /// Connections open now: (in all, from `source`).
    pub fn open(&self, source: IpAddr) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        (
            open.total,
            open.per_source.get(&source).copied().unwrap_or(0),
        )
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnSlot {
    open: Arc<Mutex<Open>>,
    source: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                open.per_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn each_cap_refuses_and_a_dropped_slot_frees_its_place() {
        let c = ConnCounter::new(ConnLimits {
            total: 3,
            per_source: 2,
        });
        let a1 = c.admit(ip(1)).unwrap();
        let _a2 = c.admit(ip(1)).unwrap();
        assert_eq!(c.admit(ip(1)).unwrap_err(), Refused::PerSource(2));
        let _b1 = c.admit(ip(2)).unwrap();
        assert_eq!(c.admit(ip(3)).unwrap_err(), Refused::Total(3));
        drop(a1);
        assert_eq!(c.open(ip(1)), (2, 1));
        let _c1 = c.admit(ip(3)).unwrap();
        assert_eq!(c.admit(ip(1)).unwrap_err(), Refused::Total(3));
        assert_eq!(c.totals(), (3, 3));
    }

    #[test]
    fn the_table_forgets_sources_with_nothing_open() {
        let c = ConnCounter::new(ConnLimits::UNLIMITED);
        for i in 0..100 {
            drop(c.admit(ip(i)).unwrap());
        }
        let open = c.open.lock().unwrap();
        assert_eq!((open.total, open.per_source.len()), (0, 0));
    }
}
