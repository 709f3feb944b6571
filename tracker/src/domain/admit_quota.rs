//! [`admit_quota`]: the leader's quota checks before it proposes a client's command, after
//! [`super::admit::admit`]'s (so a write refused for another reason gets that refusal, as apply
//! would give it). Each is one counter read ([`super::quota`]) or the group record apply reads
//! anyway; apply checks again, deterministically, against the limits in its state.

use super::error::Fail;
use super::kv::{KvRead, Table};
use super::lookup::{group, session_user};
use super::quota::{self, Counted};
use super::records::{file_key, peer_key};
use crate::cmd::Op;

/// Refuses `op` if it would add an item past its owner's quota (see the module doc); a write
/// that adds nothing (a known peer id, a file already registered, a request already filed) is
/// never refused here.
///
/// # Errors
/// [`proto::ApiError::QuotaExceeded`]; [`Fail::Store`]. Other refusals are left to apply.
pub fn admit_quota(kv: &impl KvRead, now_ms: u64, op: &Op) -> Result<(), Fail> {
    match op {
        Op::CreateGroup { token, .. } => {
            let user = session_user(kv, token, now_ms)?;
            quota::check(kv, Counted::GroupsOwned, &user)
        }
        Op::JoinGroup { token, group: name } => {
            let user = session_user(kv, token, now_ms)?;
            match group(kv, name) {
                Ok(g) if !g.members.contains(&user) && !g.requests.contains(&user) => {
                    quota::check_pending(kv, g.requests.len())
                }
                // The rule refuses an unknown group or a member; a repeated request adds none.
                _ => Ok(()),
            }
        }
        Op::RegisterPeer { token, peer_id, .. } => {
            if kv.get_raw(Table::Peers, &peer_key(*peer_id))?.is_some() {
                return Ok(());
            }
            let user = session_user(kv, token, now_ms)?;
            quota::check(kv, Counted::PeerIds, &user)
        }
        Op::RegisterFile {
            group, manifest, ..
        } => {
            if kv
                .get_raw(Table::Files, &file_key(group, &manifest.name))?
                .is_some()
            {
                return Ok(());
            }
            quota::check(kv, Counted::FilesInGroup, group)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::QuotaUpdate;
    use crate::domain::fixtures::{
        file_in, group_of, manifest, peer_of, peer_public_key, signed_in,
    };
    use crate::domain::mem_kv::MemKv;
    use proto::quota::Quota;
    use proto::ApiError;

    fn one_of_each(kv: &mut MemKv) {
        quota::set_limits(
            kv,
            &QuotaUpdate {
                groups_per_user: Some(1),
                files_per_group: Some(1),
                peer_ids_per_user: Some(1),
                pending_requests_per_group: Some(1),
            },
        )
        .unwrap();
    }

    fn quota_of(r: Result<(), Fail>) -> Option<Quota> {
        match r {
            Ok(()) => None,
            Err(Fail::Api(ApiError::QuotaExceeded { quota, limit: 1 })) => Some(quota),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_quota_is_checked_before_proposing_and_a_write_adding_nothing_passes() {
        let mut kv = MemKv::new();
        one_of_each(&mut kv);
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        let eve = signed_in(&mut kv, "eve", 3);
        let create = Op::CreateGroup {
            token: ann,
            group: "h".into(),
        };
        assert_eq!(quota_of(admit_quota(&kv, 0, &create)), None);
        group_of(&mut kv, "g", "ann", &[]);
        quota::add(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        assert_eq!(
            quota_of(admit_quota(&kv, 0, &create)),
            Some(Quota::GroupsPerUser)
        );

        let join = |token| Op::JoinGroup {
            token,
            group: "g".into(),
        };
        assert_eq!(quota_of(admit_quota(&kv, 0, &join(bob))), None);
        crate::domain::rules::group::join(&mut kv, 0, &bob, "g").unwrap();
        assert_eq!(quota_of(admit_quota(&kv, 0, &join(bob))), None);
        assert_eq!(
            quota_of(admit_quota(&kv, 0, &join(eve))),
            Some(Quota::PendingRequestsPerGroup)
        );

        let register = |peer_id| Op::RegisterPeer {
            token: ann,
            peer_id,
            addr: "127.0.0.1:1".into(),
            peer_key: peer_public_key(peer_id),
        };
        peer_of(&mut kv, 7, "ann");
        quota::add(&mut kv, Counted::PeerIds, "ann").unwrap();
        assert_eq!(quota_of(admit_quota(&kv, 0, &register(7))), None);
        assert_eq!(
            quota_of(admit_quota(&kv, 0, &register(8))),
            Some(Quota::PeerIdsPerUser)
        );

        let file = |name: &str| Op::RegisterFile {
            token: ann,
            peer_id: 7,
            group: "g".into(),
            manifest: manifest(name, 2),
        };
        assert_eq!(quota_of(admit_quota(&kv, 0, &file("a"))), None);
        file_in(&mut kv, "g", manifest("a", 2), "ann");
        quota::add(&mut kv, Counted::FilesInGroup, "g").unwrap();
        assert_eq!(quota_of(admit_quota(&kv, 0, &file("a"))), None);
        assert_eq!(
            quota_of(admit_quota(&kv, 0, &file("b"))),
            Some(Quota::FilesPerGroup)
        );
    }
}
