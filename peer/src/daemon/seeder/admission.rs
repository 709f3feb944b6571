//! How many connections the seeder port holds at once: at most [`MAX_CONNECTIONS`] in all and
//! [`MAX_CONNECTIONS_PER_ADDRESS`] from one IP address. A connection over either is closed at
//! once, before anything is read from it (the downloader sees a closed connection and retries
//! with its backoff). A downloader opens one connection per download and seeder, so one
//! address reaches the per-address cap only with that many downloads behind it (a NAT).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Connections the seeder port holds at once.
pub(super) const MAX_CONNECTIONS: usize = 1024;
/// Connections the seeder port holds at once from one IP address.
pub(super) const MAX_CONNECTIONS_PER_ADDRESS: usize = 128;

/// Connections held now, in all and by address.
#[derive(Default)]
struct Held {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The seeder port's connection counts and caps.
pub(super) struct Admission {
    held: Arc<Mutex<Held>>,
    max_total: usize,
    max_per_address: usize,
}

/// One admitted connection; dropping it frees its place.
pub(super) struct Admitted {
    held: Arc<Mutex<Held>>,
    address: IpAddr,
}

impl Admission {
    /// Caps of `max_total` connections, `max_per_address` from one address.
    pub(super) fn new(max_total: usize, max_per_address: usize) -> Self {
        Admission {
            held: Arc::default(),
            max_total,
            max_per_address,
        }
    }

    /// A place for a connection from `address`, or `None` if a cap is reached.
    pub(super) fn admit(&self, address: IpAddr) -> Option<Admitted> {
        let mut held = self.held.lock().ok()?;
        let from_address = held.by_address.get(&address).copied().unwrap_or(0);
        if held.total >= self.max_total || from_address >= self.max_per_address {
            return None;
        }
        held.total += 1;
        held.by_address.insert(address, from_address + 1);
        Some(Admitted {
            held: self.held.clone(),
            address,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_all_and_per_address_and_places_come_back() {
        let caps = Admission::new(5, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let from_a: Vec<_> = (0..3).map(|_| caps.admit(a).unwrap()).collect();
        assert!(caps.admit(a).is_none(), "the fourth from one address");
        let from_b: Vec<_> = (0..2).map(|_| caps.admit(b).unwrap()).collect();
        assert!(caps.admit(c).is_none(), "the sixth in all");
        drop(from_b);
        assert!(caps.admit(c).is_some(), "freed places are reused");
        drop(from_a);
        let again: Vec<_> = (0..3).map(|_| caps.admit(a)).collect();
        assert!(again.iter().all(Option::is_some));
        drop(again);
        assert_eq!(caps.held.lock().unwrap().total, 0);
        assert!(
            caps.held.lock().unwrap().by_address.is_empty(),
            "no address kept"
        );
    }
}
