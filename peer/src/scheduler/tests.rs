//! Unit tests of the scheduler rules (no I/O).

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
    let a = s.next_for(2).unwrap();
    let b = s.next_for(2).unwrap();
    assert_eq!([a.min(b), a.max(b)], [0, 2]);
    assert_eq!(s.next_for(2), None, "nothing left for it");
    assert_eq!(s.on_verified(1, 1), Received::Accepted { cancel: vec![] });
    s.on_verified(2, 0);
    s.on_verified(2, 2);
    assert!(s.is_complete());
    assert_eq!(s.delivered_by_peer(), vec![(1, 1), (2, 2)]);
}

#[test]
fn ties_break_at_random() {
    let picks: BTreeSet<u32> = (0..16)
        .filter_map(|seed| {
            let mut s = Scheduler::new(64, &[], seed);
            s.set_peer_bitfield(1, all(64));
            s.next_for(1)
        })
        .collect();
    assert!(picks.len() > 8, "16 seeds chose only {picks:?}");
    let first = |seed| {
        let mut s = Scheduler::new(64, &[], seed);
        s.set_peer_bitfield(1, all(64));
        s.next_for(1)
    };
    assert_eq!(first(7), first(7), "the same seed makes the same choice");
}

#[test]
fn sole_holder_is_asked_only_for_what_nobody_else_has() {
    let mut s = Scheduler::new(4, &[], 3);
    s.set_peer_bitfield(1, all(4));
    s.set_peer_bitfield(2, vec![true, true, false, false]);
    let a = s.next_for(1).unwrap();
    let b = s.next_for(1).unwrap();
    assert_eq!([a.min(b), a.max(b)], [2, 3]);
    assert_eq!(
        s.next_for(1),
        None,
        "chunks 0 and 1 are left to peer 2, which also holds them"
    );
    s.on_verified(1, 2);
    s.on_verified(1, 3);
    // Peer 1 now holds nothing that only it has: it is an ordinary source again.
    assert!(matches!(s.next_for(1), Some(0 | 1)));
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
    assert_eq!(s.take_cancelled(1), vec![0], "peer 1 is told to cancel");
    assert!(s.take_cancelled(1).is_empty());
    assert_eq!(s.on_verified(1, 0), Received::Duplicate);
    assert!(s.is_complete());
}

#[test]
fn no_duplicates_while_chunks_are_missing() {
    let mut s = Scheduler::new(2, &[], 0);
    s.set_peer_bitfield(1, all(2));
    s.set_peer_bitfield(2, vec![true, false]);
    assert_eq!(s.next_for(2), Some(0));
    // Peer 1 alone holds chunk 1: it gets that one and no duplicate of chunk 0.
    assert_eq!(s.next_for(1), Some(1));
    s.on_peer_lost(1);
    s.set_peer_bitfield(3, vec![true, false]);
    assert_eq!(
        s.next_for(3),
        None,
        "chunk 1 is missing again: no end-game duplicate of chunk 0 yet"
    );
    assert_eq!(s.next_for(1), Some(1));
    assert_eq!(s.next_for(3), Some(0), "end-game: everything is in flight");
}

#[test]
fn lost_peer_requeues_and_bad_peer_is_dropped() {
    let mut s = Scheduler::new(1, &[], 0);
    s.set_peer_bitfield(1, all(1));
    s.set_peer_bitfield(2, all(1));
    let a = s.next_for(1).unwrap();
    s.on_peer_lost(1);
    assert_eq!(s.next_for(2), Some(a), "requeued chunk is offered again");
    s.on_peer_lost(2);
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

/// Peer 1 is fast, peer 2 slow (a quarter slower is enough to count).
const FAST: u64 = 100 << 20;
const SLOW: u64 = 10 << 20;

/// 200 chunks, all held by the fast peer 1, the slow peer 2 and peer 3 (not connected), except
/// chunk 7, which only peers 1 and 2 hold: the rare one.
fn fast_and_slow(seed: u64) -> Scheduler {
    let mut s = Scheduler::new(200, &[], seed);
    let mut common = all(200);
    s.set_peer_bitfield(1, all(200));
    s.set_peer_bitfield(2, all(200));
    common[7] = false;
    s.set_peer_bitfield(3, common);
    s
}

#[test]
fn the_rare_chunk_goes_to_the_fast_peer() {
    for seed in 0..8 {
        // Unmeasured, the slow peer asking first takes the rare chunk...
        let mut s = fast_and_slow(seed);
        assert_eq!(s.next_for(2), Some(7), "seed {seed}");
        // ...measured, it takes a common one and the fast peer gets the rare one.
        let mut s = fast_and_slow(seed);
        s.set_peer_rate(1, FAST);
        s.set_peer_rate(2, SLOW);
        let slow_pick = s.next_for(2).unwrap();
        assert_ne!(slow_pick, 7, "seed {seed}");
        assert_eq!(s.next_for(1), Some(7), "seed {seed}");
    }
}

#[test]
fn a_slow_peer_takes_the_rarest_of_what_no_faster_peer_holds() {
    let mut s = Scheduler::new(4, &[], 0);
    s.set_peer_bitfield(1, vec![true, true, false, false]);
    s.set_peer_bitfield(2, all(4));
    s.set_peer_bitfield(3, vec![false, false, true, true]);
    s.set_peer_bitfield(4, vec![false, false, false, true]);
    s.set_peer_rate(1, FAST);
    s.set_peer_rate(2, SLOW);
    // Chunks 2 and 3 are not held by the fast peer: they are the slow peer's, rarest first.
    assert_eq!(s.next_for(2), Some(2));
    assert_eq!(s.next_for(2), Some(3));
    // Chunks 0 and 1: the fast peer would fetch both before the slow one delivers one more.
    assert_eq!(s.next_for(2), None);
    assert!(matches!(s.next_for(1), Some(0 | 1)));
}

#[test]
fn the_last_chunks_go_to_the_fast_peer() {
    let mut s = Scheduler::new(40, &[], 5);
    s.set_peer_bitfield(1, all(40));
    s.set_peer_bitfield(2, all(40));
    s.set_peer_rate(1, FAST);
    s.set_peer_rate(2, SLOW);
    // While many chunks are left, the slow peer works too: it takes a chunk while the fast
    // peer would need longer for the other missing ones than it for its queue plus one, that
    // is (40 - k) * SLOW >= (k + 1) * FAST, k = 0, 1, 2.
    let mut slow = 0;
    while s.next_for(2).is_some() {
        slow += 1;
        assert!(slow < 40);
    }
    assert_eq!(slow, 3);
    for _ in 0..40 - slow {
        assert!(s.next_for(1).is_some());
    }
    assert_eq!(
        s.have_count() + s.fetchers.iter().filter(|f| **f == 1).count(),
        40
    );
    // End-game: the fast peer races the slow peer's chunks.
    let dup = s.next_for(1).unwrap();
    assert_eq!(s.fetchers[dup as usize], 2);
    // If the fast peer goes away, the slow one gets the rest.
    let mut s = Scheduler::new(3, &[], 5);
    s.set_peer_bitfield(1, all(3));
    s.set_peer_bitfield(2, all(3));
    s.set_peer_rate(1, FAST);
    s.set_peer_rate(2, SLOW);
    assert_eq!(s.next_for(2), None, "left to the fast peer");
    s.on_peer_lost(1);
    assert!(
        s.next_for(2).is_some(),
        "no faster peer is connected any more"
    );
}

#[test]
fn end_game_moves_a_slow_peers_chunk_to_the_fast_peer() {
    let mut s = Scheduler::new(2, &[], 1);
    s.set_peer_bitfield(1, all(2));
    s.set_peer_bitfield(2, all(2));
    // The slow peer got a chunk before it was measured slow; the fast peer takes the other.
    let slow_chunk = s.next_for(2).unwrap();
    s.set_peer_rate(1, FAST);
    s.set_peer_rate(2, SLOW);
    let fast_chunk = s.next_for(1).unwrap();
    assert_ne!(fast_chunk, slow_chunk);
    // End-game: the slow peer does not duplicate the fast peer's chunk...
    assert_eq!(s.next_for(2), None);
    // ...but the fast peer duplicates the slow peer's, and the first copy wins.
    assert_eq!(s.next_for(1), Some(slow_chunk));
    assert_eq!(
        s.on_verified(1, fast_chunk),
        Received::Accepted { cancel: vec![] }
    );
    assert_eq!(
        s.on_verified(1, slow_chunk),
        Received::Accepted { cancel: vec![2] }
    );
    assert_eq!(s.take_cancelled(2), vec![slow_chunk]);
    assert!(s.is_complete());
}

#[test]
fn end_game_races_the_slowest_fetcher_first() {
    let mut s = Scheduler::new(3, &[], 2);
    for peer in 1..=4 {
        s.set_peer_bitfield(peer, all(3));
    }
    let a = s.next_for(2).unwrap();
    let b = s.next_for(3).unwrap();
    let c = s.next_for(4).unwrap();
    s.set_peer_rate(1, FAST);
    s.set_peer_rate(2, SLOW * 3);
    s.set_peer_rate(3, SLOW);
    s.set_peer_rate(4, SLOW * 2);
    assert_eq!(s.next_for(1), Some(b), "peer 3 is the slowest fetcher");
    assert_eq!(s.next_for(1), Some(c));
    assert_eq!(s.next_for(1), Some(a));
    assert_eq!(s.next_for(1), None);
}
