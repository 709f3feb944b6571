//! Peer daemons: registering one (it belongs to the user who first registers its id, and its
//! owner may register it again with a new address or key), and the leader's batched
//! online/offline marking.

use proto::limits::MAX_PEER_ADDR_BYTES;
use proto::tracker_msg::Response;
use proto::ApiError;

use crate::cmd::TokenBytes;
use crate::domain::error::Fail;
use crate::domain::kv::{KvWrite, Table};
use crate::domain::lookup::{own_peer, session_user};
use crate::domain::records::{peer_key, PeerRec};
use crate::domain::validate::check_peer_key;
use crate::domain::{offline, quota};

/// Registers (or re-registers) the caller's peer `peer_id` at `addr` with its public key
/// `public_key`, online. A re-registration by the owner replaces address and key (a daemon whose
/// home was wiped made a new key).
///
/// # Errors
/// [`ApiError::NotLoggedIn`]; [`ApiError::InvalidRequest`] if the id belongs to another user,
/// the address is empty or too long, or the key is not a valid Ed25519 public key;
/// [`ApiError::QuotaExceeded`] for a new id of a user at the quota.
pub fn register(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    peer_id: u64,
    addr: &str,
    public_key: &[u8; 32],
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let known = kv.get::<PeerRec>(Table::Peers, &peer_key(peer_id))?;
    if let Some(existing) = &known {
        if existing.username != user {
            return Err(ApiError::InvalidRequest(format!(
                "peer id {peer_id} belongs to another user: delete the peer's home state to get a new id"
            ))
            .into());
        }
    }
    if addr.is_empty() || addr.len() > MAX_PEER_ADDR_BYTES {
        return Err(ApiError::InvalidRequest(format!(
            "peer address must be 1 to {MAX_PEER_ADDR_BYTES} bytes (host:port)"
        ))
        .into());
    }
    check_peer_key(public_key)?;
    charge_new_peer(kv, peer_id, &user, known.as_ref())?;
    let rec = PeerRec {
        username: user,
        addr: addr.to_string(),
        online: true,
        public_key: *public_key,
    };
    kv.put(Table::Peers, peer_key(peer_id), &rec)?;
    Ok(Response::Done)
}

/// The quota and the stamp of a peer being registered (`known`: its record, if it has one): a
/// new id counts against its user's quota; an offline one comes back and loses its stamp (only
/// offline peers have one).
fn charge_new_peer(
    kv: &mut impl KvWrite,
    peer_id: u64,
    user: &str,
    known: Option<&PeerRec>,
) -> Result<(), Fail> {
    match known {
        None => quota::charge(kv, quota::Counted::PeerIds, user)?,
        Some(p) if !p.online => offline::clear(kv, peer_id),
        Some(_) => {}
    }
    Ok(())
}

/// Marks the known peers among `peer_ids` online or offline (unknown ids are skipped); a peer
/// that goes offline is stamped with `now_ms`, the entry's time ([`offline`]).
///
/// # Errors
/// Storage errors only.
pub fn set_online(
    kv: &mut impl KvWrite,
    now_ms: u64,
    peer_ids: &[u64],
    online: bool,
) -> Result<Response, Fail> {
    for id in peer_ids {
        if let Some(mut p) = kv.get::<PeerRec>(Table::Peers, &peer_key(*id))? {
            if p.online != online {
                p.online = online;
                kv.put(Table::Peers, peer_key(*id), &p)?;
                if online {
                    offline::clear(kv, *id);
                } else {
                    offline::stamp(kv, *id, now_ms);
                }
            }
        }
    }
    Ok(Response::Done)
}

/// Signs the caller's peer `peer_id` off: it goes offline now, stamped with `now_ms`, as the
/// liveness sweep marks a silent peer ([`set_online`]). A peer already offline stays as it is.
///
/// # Errors
/// [`ApiError::NotLoggedIn`]; [`ApiError::PeerNotFound`] if the peer is unknown or someone
/// else's.
pub fn sign_off(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    peer_id: u64,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    own_peer(kv, peer_id, &user)?;
    set_online(kv, now_ms, &[peer_id], false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{peer_public_key, signed_in};
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;

    fn peer(kv: &MemKv, id: u64) -> Option<PeerRec> {
        kv.get(Table::Peers, &peer_key(id)).unwrap()
    }

    #[test]
    fn a_peer_id_belongs_to_the_user_who_registered_it_first() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        let (k1, k2) = (peer_public_key(1), peer_public_key(2));
        register(&mut kv, 0, &ann, 7, "127.0.0.1:1", &k1).unwrap();
        // The owner again, with a new address and a new key (a wiped home): both replaced.
        register(&mut kv, 0, &ann, 7, "127.0.0.1:2", &k2).unwrap();
        let p = peer(&kv, 7).unwrap();
        assert_eq!(
            (p.username.as_str(), p.addr.as_str(), p.online, p.public_key),
            ("ann", "127.0.0.1:2", true, k2)
        );
        assert!(matches!(
            register(&mut kv, 0, &bob, 7, "127.0.0.1:3", &k1),
            Err(Fail::Api(ApiError::InvalidRequest(why))) if why.contains("another user")
        ));
        assert_eq!(peer(&kv, 7).unwrap().public_key, k2, "bob changed nothing");
        assert!(matches!(
            register(&mut kv, 0, &[9; 32], 8, "127.0.0.1:3", &k1),
            Err(Fail::Api(ApiError::NotLoggedIn))
        ));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            register(&mut kv, 0, &ann, 8, "127.0.0.1:3", &identity),
            Err(Fail::Api(ApiError::InvalidRequest(why))) if why.contains("Ed25519")
        ));
        assert!(peer(&kv, 8).is_none());
    }

    #[test]
    fn a_peer_address_must_be_1_to_256_bytes() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        for bad in [String::new(), "x".repeat(MAX_PEER_ADDR_BYTES + 1)] {
            assert!(matches!(
                register(&mut kv, 0, &ann, 7, &bad, &peer_public_key(1)),
                Err(Fail::Api(ApiError::InvalidRequest(_)))
            ));
        }
        assert!(peer(&kv, 7).is_none());
        register(
            &mut kv,
            0,
            &ann,
            7,
            &"x".repeat(MAX_PEER_ADDR_BYTES),
            &peer_public_key(1),
        )
        .unwrap();
    }

    #[test]
    fn known_peers_go_offline_and_back_and_unknown_ones_are_skipped() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        register(&mut kv, 0, &ann, 7, "127.0.0.1:1", &peer_public_key(1)).unwrap();
        set_online(&mut kv, 50, &[7, 8], false).unwrap();
        assert!(!peer(&kv, 7).unwrap().online);
        assert!(peer(&kv, 8).is_none());
        assert_eq!(offline::since(&kv, 7).unwrap(), Some(50));
        assert_eq!(offline::since(&kv, 8).unwrap(), None);
        // Marked offline again: the first time stays.
        set_online(&mut kv, 60, &[7], false).unwrap();
        assert_eq!(offline::since(&kv, 7).unwrap(), Some(50));
        set_online(&mut kv, 70, &[7], true).unwrap();
        assert!(peer(&kv, 7).unwrap().online);
        assert_eq!(offline::since(&kv, 7).unwrap(), None);
        // Registering again brings an offline peer back too.
        set_online(&mut kv, 80, &[7], false).unwrap();
        register(&mut kv, 90, &ann, 7, "127.0.0.1:1", &peer_public_key(1)).unwrap();
        assert!(peer(&kv, 7).unwrap().online);
        assert_eq!(offline::since(&kv, 7).unwrap(), None);
    }

    #[test]
    fn only_the_owner_signs_a_peer_off_and_it_is_stamped_offline() {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        register(&mut kv, 0, &ann, 7, "127.0.0.1:1", &peer_public_key(1)).unwrap();
        assert!(matches!(
            sign_off(&mut kv, 10, &bob, 7),
            Err(Fail::Api(ApiError::PeerNotFound(7)))
        ));
        assert!(peer(&kv, 7).unwrap().online, "bob changed nothing");
        assert!(matches!(
            sign_off(&mut kv, 10, &ann, 8),
            Err(Fail::Api(ApiError::PeerNotFound(8)))
        ));
        sign_off(&mut kv, 20, &ann, 7).unwrap();
        assert!(!peer(&kv, 7).unwrap().online);
        assert_eq!(offline::since(&kv, 7).unwrap(), Some(20));
        // Registering again signs it on.
        register(&mut kv, 30, &ann, 7, "127.0.0.1:1", &peer_public_key(1)).unwrap();
        assert!(peer(&kv, 7).unwrap().online);
    }
}
