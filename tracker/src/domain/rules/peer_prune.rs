//! Forgetting peers that have been offline for long: the peer record, its offline stamp and its
//! availability entries go, and its user's peer-id count goes down, so a stale peer is never
//! handed out as a source and its id no longer counts against the quota.

use proto::tracker_msg::Response;

use crate::domain::error::Fail;
use crate::domain::kv::{KvWrite, Table};
use crate::domain::quota::{self, Counted};
use crate::domain::records::{peer_key, PeerRec};
use crate::domain::{avail, offline};

/// Forgets each of `peer_ids` that is still offline and was marked offline at or before
/// `offline_before_ms`; a peer that came back, was never stamped, or is unknown is left alone
/// (the leader chose the list from an older state).
///
/// # Errors
/// Storage errors, or a record that does not decode.
pub fn prune(
    kv: &mut impl KvWrite,
    peer_ids: &[u64],
    offline_before_ms: u64,
) -> Result<Response, Fail> {
    for &id in peer_ids {
        let Some(peer) = kv.get::<PeerRec>(Table::Peers, &peer_key(id))? else {
            continue;
        };
        let stale = offline::since(kv, id)?.is_some_and(|t| t <= offline_before_ms);
        if peer.online || !stale {
            continue;
        }
        avail::remove_peer(kv, id)?;
        offline::clear(kv, id);
        kv.delete(Table::Peers, peer_key(id));
        quota::release(kv, Counted::PeerIds, &peer.username)?;
    }
    Ok(Response::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{group_of, manifest, peer_public_key, signed_in};
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;
    use crate::domain::queries;
    use crate::domain::records::avail_key;
    use crate::domain::rules::{file, peer};
    use proto::tracker_msg::PageRequest;

    /// Ann's peers 1 and 2 both seed file `f` of group `g`.
    fn setup() -> (MemKv, [u8; 32]) {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        group_of(&mut kv, "g", "ann", &[]);
        for id in [1, 2] {
            peer::register(&mut kv, 0, &ann, id, "127.0.0.1:9", &peer_public_key(1)).unwrap();
            file::register(&mut kv, 0, &ann, id, "g", &manifest("f", 3)).unwrap();
        }
        (kv, ann)
    }

    fn source_ids(kv: &MemKv, ann: &[u8; 32]) -> Vec<u64> {
        match queries::file_sources(kv, ann, 0, "g", "f", false, &PageRequest::default()) {
            Ok(Response::Sources { sources, .. }) => sources.iter().map(|s| s.peer_id).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stale_peer_is_forgotten_with_its_availability_and_its_quota_share() {
        let (mut kv, ann) = setup();
        assert_eq!(quota::count(&kv, Counted::PeerIds, "ann").unwrap(), 2);
        peer::set_online(&mut kv, 100, &[1, 2], false).unwrap();
        // Peer 2 comes back before the prune is applied.
        peer::set_online(&mut kv, 150, &[2], true).unwrap();
        prune(&mut kv, &[1, 2, 99], 120).unwrap();
        assert!(kv.get_raw(Table::Peers, &peer_key(1)).unwrap().is_none());
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 1))
            .unwrap()
            .is_none());
        assert!(offline::since(&kv, 1).unwrap().is_none());
        assert!(kv.get_raw(Table::Peers, &peer_key(2)).unwrap().is_some());
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 2))
            .unwrap()
            .is_some());
        assert_eq!(quota::count(&kv, Counted::PeerIds, "ann").unwrap(), 1);
        assert_eq!(source_ids(&kv, &ann), vec![2]);
        assert_eq!(kv.len(Table::PeerAvail), 1);
    }

    #[test]
    fn a_peer_offline_since_after_the_entrys_time_or_never_stamped_stays() {
        let (mut kv, _) = setup();
        peer::set_online(&mut kv, 200, &[1], false).unwrap();
        prune(&mut kv, &[1], 199).unwrap();
        assert!(kv.get_raw(Table::Peers, &peer_key(1)).unwrap().is_some());
        // At exactly the cutoff it goes.
        prune(&mut kv, &[1], 200).unwrap();
        assert!(kv.get_raw(Table::Peers, &peer_key(1)).unwrap().is_none());
        // Online (so never stamped): kept whatever the time.
        prune(&mut kv, &[2], u64::MAX).unwrap();
        assert!(kv.get_raw(Table::Peers, &peer_key(2)).unwrap().is_some());
    }

    #[test]
    fn a_peers_index_follows_every_availability_write() {
        let (mut kv, ann) = setup();
        let bob = crate::domain::fixtures::signed_in(&mut kv, "bob", 2);
        crate::domain::rules::group::join(&mut kv, 0, &bob, "g").unwrap();
        crate::domain::rules::group::accept(&mut kv, 0, &ann, "g", "bob").unwrap();
        peer::register(&mut kv, 0, &bob, 3, "127.0.0.1:9", &peer_public_key(1)).unwrap();
        file::report_have(&mut kv, 0, &bob, 3, "g", "f", &[0]).unwrap();
        file::report_have(&mut kv, 0, &bob, 3, "g", "f", &[1]).unwrap();
        assert_eq!(kv.len(Table::PeerAvail), 3);
        file::stop_share(&mut kv, 0, &ann, 2, "g", "f").unwrap();
        assert_eq!(kv.len(Table::PeerAvail), 2);
        // Ann leaves: her peers stop being sources; Bob leaves last: the group goes.
        crate::domain::rules::group::leave(&mut kv, 0, &ann, "g").unwrap();
        assert_eq!(kv.len(Table::PeerAvail), 1);
        crate::domain::rules::group::leave(&mut kv, 0, &bob, "g").unwrap();
        assert_eq!(kv.len(Table::PeerAvail) + kv.len(Table::Avail), 0);
    }

    #[test]
    fn a_forgotten_id_registers_again_as_new_and_counts_again() {
        let (mut kv, ann) = setup();
        peer::set_online(&mut kv, 100, &[1], false).unwrap();
        prune(&mut kv, &[1], 100).unwrap();
        peer::register(&mut kv, 300, &ann, 1, "127.0.0.1:9", &peer_public_key(1)).unwrap();
        assert_eq!(quota::count(&kv, Counted::PeerIds, "ann").unwrap(), 2);
        // It holds nothing until it registers or reports again.
        assert!(kv
            .get_raw(Table::Avail, &avail_key("g", "f", 1))
            .unwrap()
            .is_none());
        assert!(offline::since(&kv, 1).unwrap().is_none());
    }
}
