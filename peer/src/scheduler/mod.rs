//! Which chunk to ask which peer for. Pure state, no I/O, so every rule is unit-tested.
//!
//! Invariant: every chunk is in exactly one state: `Missing`, `InFlight` (one or more peers are
//! fetching it) or `Have` (verified and written). A peer is offered the rarest missing chunk it
//! holds, ties broken at random (so concurrent downloaders fetch different chunks and have
//! something to trade). A peer that alone holds chunks this download misses (typically the
//! original seeder) is asked only for those: its upload is what brings new chunks into the
//! swarm, so chunks other peers also hold are fetched from them. Only when no chunk is missing
//! any more but some are still in flight (the end-game) may a peer duplicate an in-flight chunk
//! that only one other peer is fetching; the first verified copy wins and the other fetchers are
//! told to cancel. A peer that sends bad data [`MAX_STRIKES`] times is dropped for this download.
//!
//! A download's tasks share its scheduler through [`SharedScheduler`] (the `shared` module),
//! which owns the lock and its one poisoning policy.

mod shared;

use std::collections::{BTreeSet, HashMap};

pub use shared::{Progress, SharedScheduler};

/// Bad chunks tolerated from one peer before it is dropped.
pub const MAX_STRIKES: u32 = 3;

/// Key of a source peer.
pub type PeerKey = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Missing,
    InFlight,
    Have,
}

#[derive(Debug, Default)]
struct PeerState {
    /// Chunks the peer holds.
    has: Vec<bool>,
    /// Chunks requested from it and not yet answered.
    in_flight: BTreeSet<u32>,
    /// Bad chunks received.
    strikes: u32,
    /// Dropped for this download.
    dropped: bool,
    /// Verified chunks received from it.
    delivered: u32,
    /// Chunks it was asked for that arrived from elsewhere: the connection should cancel them.
    cancelled: Vec<u32>,
}

/// The chunk scheduler of one download.
#[derive(Debug)]
pub struct Scheduler {
    state: Vec<ChunkState>,
    /// How many peers fetch each in-flight chunk.
    fetchers: Vec<u8>,
    /// How many known peers hold each chunk.
    availability: Vec<u32>,
    peers: HashMap<PeerKey, PeerState>,
    have_count: usize,
    /// Random state for tie-breaks between equally rare chunks, so that they break differently
    /// on every downloader (otherwise concurrent downloaders fetch the same chunks and have
    /// nothing to trade).
    rng: u64,
}

/// Outcome of a received chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// New and verified: write it. Other peers still fetching it may be told to cancel.
    Accepted {
        /// Other peers fetching the same chunk.
        cancel: Vec<PeerKey>,
    },
    /// Already had it (an end-game duplicate): discard.
    Duplicate,
}

impl Scheduler {
    /// A download of `chunk_count` chunks; `have[i]` marks chunks already on disk (resume).
    /// `seed` drives the random choice between equally rare chunks (the same seed gives the
    /// same choices).
    pub fn new(chunk_count: usize, have: &[bool], seed: u64) -> Self {
        let state: Vec<ChunkState> = (0..chunk_count)
            .map(|i| {
                if have.get(i).copied().unwrap_or(false) {
                    ChunkState::Have
                } else {
                    ChunkState::Missing
                }
            })
            .collect();
        let have_count = state.iter().filter(|s| **s == ChunkState::Have).count();
        Scheduler {
            fetchers: vec![0; chunk_count],
            availability: vec![0; chunk_count],
            state,
            peers: HashMap::new(),
            have_count,
            rng: seed,
        }
    }

    /// Next pseudo-random number (splitmix64).
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> usize {
        self.state.len()
    }

    /// Verified chunks.
    pub fn have_count(&self) -> usize {
        self.have_count
    }

    /// Whether every chunk is verified.
    pub fn is_complete(&self) -> bool {
        self.have_count == self.state.len()
    }

    /// Whether chunk `i` is verified.
    pub fn has(&self, i: u32) -> bool {
        self.state.get(i as usize) == Some(&ChunkState::Have)
    }

    /// Adds a peer or updates what it holds.
    pub fn set_peer_bitfield(&mut self, peer: PeerKey, has: Vec<bool>) {
        let entry = self.peers.entry(peer).or_default();
        for (i, &h) in entry.has.iter().enumerate() {
            if h {
                if let Some(a) = self.availability.get_mut(i) {
                    *a = a.saturating_sub(1);
                }
            }
        }
        let mut has = has;
        has.resize(self.state.len(), false);
        for (i, &h) in has.iter().enumerate() {
            if h {
                if let Some(a) = self.availability.get_mut(i) {
                    *a += 1;
                }
            }
        }
        entry.has = has;
    }

    /// Whether a peer is known and not dropped.
    pub fn is_usable(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|p| !p.dropped)
    }

    /// Whether the peer holds any chunk this download still needs.
    pub fn peer_is_useful(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|p| {
            !p.dropped
                && p.has
                    .iter()
                    .enumerate()
                    .any(|(i, &h)| h && self.state.get(i) != Some(&ChunkState::Have))
        })
    }

    /// Chooses the next chunk for `peer`, marking it in flight; `None` if there is nothing for it.
    pub fn next_for(&mut self, peer: PeerKey) -> Option<u32> {
        let p = self.peers.get(&peer)?;
        if p.dropped {
            return None;
        }
        // Does the peer alone hold chunks we miss? Then ask it for those only.
        let sole_holder = p.has.iter().enumerate().any(|(i, &h)| {
            h && self.availability.get(i).copied().unwrap_or(0) <= 1
                && self.state.get(i) != Some(&ChunkState::Have)
        });
        // Rarest missing chunk this peer has; `count` equally rare candidates seen so far, one
        // kept uniformly at random (reservoir sampling).
        let mut best: Option<(u32, usize)> = None;
        let mut count = 0u64;
        let mut draws = Vec::new();
        for (i, s) in self.state.iter().enumerate() {
            if *s != ChunkState::Missing || !p.has.get(i).copied().unwrap_or(false) {
                continue;
            }
            let avail = self.availability.get(i).copied().unwrap_or(0);
            if sole_holder && avail > 1 {
                continue;
            }
            match best {
                Some((a, _)) if avail > a => {}
                Some((a, _)) if avail == a => {
                    count += 1;
                    draws.push((i, count));
                }
                _ => {
                    best = Some((avail, i));
                    count = 1;
                    draws.clear();
                }
            }
        }
        let mut best = best.map(|(_, i)| i);
        for (i, seen) in draws {
            if self.next_random().is_multiple_of(seen) {
                best = Some(i);
            }
        }
        // End-game: nothing is missing any more, only in flight; duplicate a chunk only one
        // other peer fetches.
        if best.is_none() && !self.state.contains(&ChunkState::Missing) {
            let p = self.peers.get(&peer)?;
            let candidates: Vec<usize> = self
                .state
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    **s == ChunkState::InFlight
                        && self.fetchers.get(*i).copied().unwrap_or(0) == 1
                        && p.has.get(*i).copied().unwrap_or(false)
                        && !u32::try_from(*i).is_ok_and(|idx| p.in_flight.contains(&idx))
                })
                .map(|(i, _)| i)
                .collect();
            if !candidates.is_empty() {
                let pick = (self.next_random() % candidates.len() as u64) as usize;
                best = candidates.get(pick).copied();
            }
        }
        let i = best?;
        let idx = u32::try_from(i).ok()?;
        self.state[i] = ChunkState::InFlight;
        self.fetchers[i] = self.fetchers[i].saturating_add(1);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.in_flight.insert(idx);
        }
        Some(idx)
    }

    /// Chunks `peer` was asked for that have since arrived from another peer; the connection
    /// should send a cancel for each (and discard them if they arrive anyway).
    pub fn take_cancelled(&mut self, peer: PeerKey) -> Vec<u32> {
        self.peers
            .get_mut(&peer)
            .map(|p| std::mem::take(&mut p.cancelled))
            .unwrap_or_default()
    }

    fn release(&mut self, peer: PeerKey, idx: u32) {
        let i = idx as usize;
        if let Some(p) = self.peers.get_mut(&peer) {
            if !p.in_flight.remove(&idx) {
                return;
            }
        } else {
            return;
        }
        if let Some(f) = self.fetchers.get_mut(i) {
            *f = f.saturating_sub(1);
            if *f == 0 && self.state.get(i) == Some(&ChunkState::InFlight) {
                self.state[i] = ChunkState::Missing;
            }
        }
    }

    /// Whether `idx` is in flight from `peer` (a chunk nobody asked this peer for is a protocol
    /// violation).
    pub fn expects(&self, peer: PeerKey, idx: u32) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| p.in_flight.contains(&idx))
    }

    /// A chunk from `peer` passed verification and was written.
    pub fn on_verified(&mut self, peer: PeerKey, idx: u32) -> Received {
        self.release(peer, idx);
        let i = idx as usize;
        if self.state.get(i) == Some(&ChunkState::Have) {
            return Received::Duplicate;
        }
        if i >= self.state.len() {
            return Received::Duplicate;
        }
        self.state[i] = ChunkState::Have;
        self.fetchers[i] = 0;
        self.have_count += 1;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.delivered += 1;
        }
        let cancel = self
            .peers
            .iter_mut()
            .filter_map(|(k, p)| {
                p.in_flight.remove(&idx).then(|| {
                    p.cancelled.push(idx);
                    *k
                })
            })
            .collect();
        Received::Accepted { cancel }
    }

    /// A chunk from `peer` failed its hash check. Returns true if the peer is now dropped.
    pub fn on_bad_chunk(&mut self, peer: PeerKey, idx: u32) -> bool {
        self.release(peer, idx);
        match self.peers.get_mut(&peer) {
            Some(p) => {
                p.strikes += 1;
                if p.strikes >= MAX_STRIKES {
                    p.dropped = true;
                }
                p.dropped
            }
            None => false,
        }
    }

    /// The peer said it does not have `idx`: forget that it has it and requeue.
    pub fn on_not_available(&mut self, peer: PeerKey, idx: u32) {
        self.release(peer, idx);
        let i = idx as usize;
        if let Some(p) = self.peers.get_mut(&peer) {
            if let Some(h) = p.has.get_mut(i) {
                if *h {
                    *h = false;
                    if let Some(a) = self.availability.get_mut(i) {
                        *a = a.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// The connection to `peer` broke: everything it had in flight goes back to the queue.
    pub fn on_peer_lost(&mut self, peer: PeerKey) {
        let in_flight: Vec<u32> = self
            .peers
            .get(&peer)
            .map(|p| p.in_flight.iter().copied().collect())
            .unwrap_or_default();
        for idx in in_flight {
            self.release(peer, idx);
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            p.cancelled.clear();
        }
    }

    /// Verified chunks per peer.
    pub fn delivered_by_peer(&self) -> Vec<(PeerKey, u32)> {
        let mut v: Vec<(PeerKey, u32)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.delivered > 0)
            .map(|(k, p)| (*k, p.delivered))
            .collect();
        v.sort_unstable();
        v
    }

    /// The verified chunks as booleans (for the resume file).
    pub fn have_bits(&self) -> Vec<bool> {
        self.state.iter().map(|s| *s == ChunkState::Have).collect()
    }
}

#[cfg(test)]
mod tests;
