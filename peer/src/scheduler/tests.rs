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
