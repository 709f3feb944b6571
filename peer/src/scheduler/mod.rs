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
//! # Faster sources first
//! Each connected source reports its measured rate ([`Scheduler::set_peer_rate`]: bytes per
//! second with its round-trip time folded in, see [`effective_rate`]). A peer counts as *faster*
//! than another when its rate is at least [`FASTER_NUM`]/[`FASTER_DEN`] of the other's (so two
//! peers measured almost alike do not defer to each other on noise); a peer whose rate is not
//! measured yet is never faster, and never defers (it has to be tried to be measured). For a peer
//! with faster connected peers beside it:
//! - Chunks no faster peer holds are its own job: it takes those first, rarest first.
//! - Of the chunks faster peers also hold it takes the most common, leaving the rare ones to the
//!   faster peers, whose next requests get them (they pick rarest first).
//! - It takes none of those at all once the faster peers would fetch every one of them (and what
//!   they already have in flight) sooner than it would deliver its next chunk: so the last chunks
//!   of a download go to the fastest peers.
//! - In the end-game it duplicates only chunks whose fetcher is not faster than itself, the
//!   slowest fetcher's first, so a slow peer's last chunk is raced by a fast one and not the
//!   other way round.
//!
//! The rules use only the rates they were given, so a test fixes them and the choices follow.
//!
//! A download's tasks share its scheduler through [`SharedScheduler`] (the `shared` module),
//! which owns the lock and its one poisoning policy.

mod rate;
mod shared;

use std::collections::{BTreeSet, HashMap};

pub use rate::effective_rate;
use rate::is_faster;
pub use shared::{Progress, SharedScheduler};

/// Bad chunks tolerated from one peer before it is dropped.
pub const MAX_STRIKES: u32 = 3;
/// A peer is faster than another when its rate times [`FASTER_DEN`] is at least the other's
/// times [`FASTER_NUM`] (a quarter faster).
pub const FASTER_NUM: u64 = 5;
/// See [`FASTER_NUM`].
pub const FASTER_DEN: u64 = 4;

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
    /// Measured rate in bytes per second ([`effective_rate`]); 0 until measured.
    rate: u64,
    /// A connection to it is live (it asked for work or reported a rate since it was last lost).
    connected: bool,
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

/// Which end of the availability order [`Scheduler::pick_extreme`] takes.
#[derive(Debug, Clone, Copy)]
enum Extreme {
    Rarest,
    Commonest,
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

    /// Records `peer`'s measured rate (bytes per second, round trip included: see
    /// [`effective_rate`]); the peer counts as connected until [`Self::on_peer_lost`].
    pub fn set_peer_rate(&mut self, peer: PeerKey, bytes_per_sec: u64) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.rate = bytes_per_sec;
            p.connected = true;
        }
    }

    /// Chooses the next chunk for `peer`, marking it in flight; `None` if there is nothing for it
    /// (or nothing a faster peer would not fetch sooner: see the module doc).
    pub fn next_for(&mut self, peer: PeerKey) -> Option<u32> {
        let p = self.peers.get_mut(&peer)?;
        if p.dropped {
            return None;
        }
        p.connected = true;
        let best = match self.pick_missing(peer) {
            Some(i) => Some(i),
            // End-game: nothing is missing any more, only in flight.
            None if !self.state.contains(&ChunkState::Missing) => self.pick_duplicate(peer),
            None => None,
        };
        let i = best?;
        let idx = u32::try_from(i).ok()?;
        self.state[i] = ChunkState::InFlight;
        self.fetchers[i] = self.fetchers[i].saturating_add(1);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.in_flight.insert(idx);
        }
        Some(idx)
    }

    /// The connected, usable peers faster than `peer` (none if its rate is not measured).
    fn faster_than(&self, peer: PeerKey, rate: u64) -> Vec<&PeerState> {
        if rate == 0 {
            return Vec::new();
        }
        self.peers
            .iter()
            .filter(|(k, q)| **k != peer && q.connected && !q.dropped && is_faster(q.rate, rate))
            .map(|(_, q)| q)
            .collect()
    }

    /// A missing chunk for `peer`: see the module doc for the order.
    fn pick_missing(&mut self, peer: PeerKey) -> Option<usize> {
        let p = self.peers.get(&peer)?;
        // Does the peer alone hold chunks we miss? Then ask it for those only.
        let sole_holder = p.has.iter().enumerate().any(|(i, &h)| {
            h && self.availability.get(i).copied().unwrap_or(0) <= 1
                && self.state.get(i) != Some(&ChunkState::Have)
        });
        let faster = self.faster_than(peer, p.rate);
        let held_by_faster = |i: usize| {
            faster
                .iter()
                .any(|q| q.has.get(i).copied().unwrap_or(false))
        };
        // Candidates: missing chunks the peer holds, split into those only it (or slower peers)
        // can bring and those a faster peer also holds (`shared`).
        let mut own = Vec::new();
        let mut shared = Vec::new();
        for (i, s) in self.state.iter().enumerate() {
            if *s != ChunkState::Missing || !p.has.get(i).copied().unwrap_or(false) {
                continue;
            }
            let avail = self.availability.get(i).copied().unwrap_or(0);
            if sole_holder && avail > 1 {
                continue;
            }
            if held_by_faster(i) {
                shared.push((avail, i));
            } else {
                own.push((avail, i));
            }
        }
        if !own.is_empty() {
            return self.pick_extreme(&own, Extreme::Rarest);
        }
        if shared.is_empty() {
            return None;
        }
        if faster.is_empty() {
            return self.pick_extreme(&shared, Extreme::Rarest);
        }
        // Would the faster peers fetch all of these (after what they have in flight) before this
        // peer delivers one more? Then leave them to the faster peers.
        let faster_rate: u128 = faster.iter().map(|q| u128::from(q.rate)).sum();
        let faster_queued: usize = faster.iter().map(|q| q.in_flight.len()).sum();
        let work = (shared.len() + faster_queued) as u128;
        let own_queue = (p.in_flight.len() + 1) as u128;
        if work * u128::from(p.rate) < own_queue * faster_rate {
            return None;
        }
        self.pick_extreme(&shared, Extreme::Commonest)
    }

    /// The rarest (or commonest) of `(availability, chunk)` candidates, ties broken at random
    /// (reservoir sampling over the equally rare ones).
    fn pick_extreme(&mut self, candidates: &[(u32, usize)], which: Extreme) -> Option<usize> {
        let target = match which {
            Extreme::Rarest => candidates.iter().map(|c| c.0).min()?,
            Extreme::Commonest => candidates.iter().map(|c| c.0).max()?,
        };
        let mut best = None;
        let mut seen = 0u64;
        for &(avail, i) in candidates {
            if avail != target {
                continue;
            }
            seen += 1;
            if seen == 1 || self.next_random().is_multiple_of(seen) {
                best = Some(i);
            }
        }
        best
    }

    /// End-game: an in-flight chunk only one other peer fetches, `peer` holds and does not fetch
    /// itself, whose fetcher is not faster than `peer`; the slowest fetcher's first (a fetcher
    /// not measured yet counts as the slowest), ties broken at random.
    fn pick_duplicate(&mut self, peer: PeerKey) -> Option<usize> {
        let p = self.peers.get(&peer)?;
        let mut fetcher_rate: HashMap<u32, u64> = HashMap::new();
        for (k, q) in &self.peers {
            if *k != peer {
                for &idx in &q.in_flight {
                    fetcher_rate.insert(idx, q.rate);
                }
            }
        }
        let candidates: Vec<(u64, usize)> = self
            .state
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let idx = u32::try_from(i).ok()?;
                let rate = fetcher_rate.get(&idx).copied()?;
                let ok = *s == ChunkState::InFlight
                    && self.fetchers.get(i).copied().unwrap_or(0) == 1
                    && p.has.get(i).copied().unwrap_or(false)
                    && !p.in_flight.contains(&idx)
                    && !(p.rate > 0 && is_faster(rate, p.rate));
                ok.then_some((rate, i))
            })
            .collect();
        let slowest = candidates.iter().map(|c| c.0).min()?;
        let slowest: Vec<usize> = candidates
            .iter()
            .filter(|c| c.0 == slowest)
            .map(|c| c.1)
            .collect();
        let pick = (self.next_random() % slowest.len() as u64) as usize;
        slowest.get(pick).copied()
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
            p.connected = false;
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
