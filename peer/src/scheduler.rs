//! Which chunk to ask which peer for. Pure state, no I/O, so every rule is unit-tested.
//!
//! Invariant: every chunk is in exactly one state: `Missing`, `InFlight` (one or more peers are
//! fetching it) or `Have` (verified and written). A peer is offered the rarest missing chunk it
//! holds; when nothing is missing but chunks are still in flight (the end-game), a peer may
//! duplicate an in-flight chunk that only one other peer is fetching, and the first verified copy
//! wins. A peer that sends bad data [`MAX_STRIKES`] times is dropped for this download.

use std::collections::{BTreeSet, HashMap};

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
    /// Where scans start, so that ties between equally rare chunks break differently on every
    /// downloader (otherwise concurrent downloaders fetch the same chunks and have nothing to trade).
    rotation: usize,
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
    /// Ties between equally rare chunks go to the lowest index after `rotation`.
    pub fn new(chunk_count: usize, have: &[bool], rotation: usize) -> Self {
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
            rotation: if chunk_count == 0 {
                0
            } else {
                rotation % chunk_count
            },
        }
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
        // Rarest missing chunk this peer has (ties: first after the rotation point).
        let n = self.state.len();
        let mut best: Option<(u32, usize)> = None;
        for i in (0..n).map(|k| (k + self.rotation) % n) {
            let s = &self.state[i];
            if *s == ChunkState::Missing && p.has.get(i).copied().unwrap_or(false) {
                let avail = self.availability.get(i).copied().unwrap_or(0);
                if best.is_none_or(|(a, _)| avail < a) {
                    best = Some((avail, i));
                }
            }
        }
        // End-game: nothing missing for this peer; duplicate a chunk only one other peer fetches.
        if best.is_none() {
            for (i, s) in self.state.iter().enumerate() {
                let idx = u32::try_from(i).unwrap_or(u32::MAX);
                if *s == ChunkState::InFlight
                    && self.fetchers.get(i).copied().unwrap_or(0) == 1
                    && p.has.get(i).copied().unwrap_or(false)
                    && !p.in_flight.contains(&idx)
                {
                    best = Some((0, i));
                    break;
                }
            }
        }
        let (_, i) = best?;
        let idx = u32::try_from(i).ok()?;
        self.state[i] = ChunkState::InFlight;
        self.fetchers[i] = self.fetchers[i].saturating_add(1);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.in_flight.insert(idx);
        }
        Some(idx)
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
            .filter_map(|(k, p)| p.in_flight.remove(&idx).then_some(*k))
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
mod tests {
    use super::*;

    fn all(n: usize) -> Vec<bool> {
        vec![true; n]
    }

    #[test]
    fn rarest_first_then_complete() {
        let mut s = Scheduler::new(3, &[], 0);
        s.set_peer_bitfield(1, all(3));
        s.set_peer_bitfield(2, vec![true, false, true]);
        // chunk 1 is held by one peer only: it goes first.
        assert_eq!(s.next_for(1), Some(1));
        assert_eq!(s.next_for(2), Some(0));
        assert_eq!(s.next_for(2), Some(2));
        assert_eq!(s.on_verified(1, 1), Received::Accepted { cancel: vec![] });
        s.on_verified(2, 0);
        s.on_verified(2, 2);
        assert!(s.is_complete());
        assert_eq!(s.delivered_by_peer(), vec![(1, 1), (2, 2)]);
    }

    #[test]
    fn rotation_changes_tie_breaks() {
        let mut a = Scheduler::new(4, &[], 0);
        let mut b = Scheduler::new(4, &[], 2);
        a.set_peer_bitfield(1, all(4));
        b.set_peer_bitfield(1, all(4));
        assert_eq!(a.next_for(1), Some(0));
        assert_eq!(b.next_for(1), Some(2));
    }

    #[test]
    fn end_game_duplicates_and_first_copy_wins() {
        let mut s = Scheduler::new(1, &[], 0);
        s.set_peer_bitfield(1, all(1));
        s.set_peer_bitfield(2, all(1));
        assert_eq!(s.next_for(1), Some(0));
        assert_eq!(s.next_for(2), Some(0), "end-game duplicate");
        assert_eq!(s.next_for(2), None, "never twice from the same peer");
        assert_eq!(s.on_verified(2, 0), Received::Accepted { cancel: vec![1] });
        assert_eq!(s.on_verified(1, 0), Received::Duplicate);
        assert!(s.is_complete());
    }

    #[test]
    fn lost_peer_requeues_and_bad_peer_is_dropped() {
        let mut s = Scheduler::new(2, &[], 0);
        s.set_peer_bitfield(1, all(2));
        s.set_peer_bitfield(2, all(2));
        let a = s.next_for(1).unwrap();
        s.on_peer_lost(1);
        assert_eq!(s.next_for(2), Some(a), "requeued chunk is offered again");
        for _ in 0..MAX_STRIKES - 1 {
            let i = s.next_for(1).unwrap();
            assert!(!s.on_bad_chunk(1, i));
        }
        let i = s.next_for(1).unwrap();
        assert!(s.on_bad_chunk(1, i));
        assert_eq!(s.next_for(1), None);
        assert!(!s.is_usable(1));
    }

    #[test]
    fn resume_and_not_available() {
        let mut s = Scheduler::new(3, &[true, false, false], 0);
        assert_eq!(s.have_count(), 1);
        s.set_peer_bitfield(1, all(3));
        let i = s.next_for(1).unwrap();
        assert_ne!(i, 0, "a chunk already on disk is not fetched again");
        s.on_not_available(1, i);
        assert!(!s.expects(1, i));
        assert_ne!(s.next_for(1), Some(i), "the peer no longer claims it");
    }
}
