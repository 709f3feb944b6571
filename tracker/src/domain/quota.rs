//! Quotas: the cluster's limits (stored in the cluster table under [`CLUSTER_QUOTAS`], the
//! defaults of [`QuotaLimits::default`] until an admin sets one) and the counters they are
//! checked against, so a check is one read, never a scan.
//!
//! A counter lives in [`Table::Counts`] under `kind | owner` ([`Counted`]) and is kept by the
//! rules that add and remove what it counts: groups a user owns (a group's creation, its
//! ownership passing on, its removal), files of a group (registration, unpublishing, the
//! group's removal), peer ids of a user (a new id's registration, the pruning of a stale peer).
//! Pending join requests are not counted here: the group record holds them, and its list's
//! length is the count. A counter at zero is deleted.
//!
//! Lowering a limit below a count refuses new items only; nothing is deleted. State written
//! before the counters existed starts them at zero, so decrements saturate there.

use proto::quota::{Quota, QuotaLimits};
use proto::ApiError;

use super::error::Fail;
use super::kv::{KvRead, KvWrite, StoreError, Table};
use super::records::{QuotasRec, CLUSTER_QUOTAS};
use crate::cmd::QuotaUpdate;

/// What a counter counts; the discriminant is the first byte of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Groups the owner (a username) owns.
    GroupsOwned = 1,
    /// Files registered in the owner (a group name).
    FilesInGroup = 2,
    /// Peer ids the owner (a username) registered.
    PeerIds = 3,
}

impl Counted {
    /// The quota that limits it.
    pub fn quota(self) -> Quota {
        match self {
            Counted::GroupsOwned => Quota::GroupsPerUser,
            Counted::FilesInGroup => Quota::FilesPerGroup,
            Counted::PeerIds => Quota::PeerIdsPerUser,
        }
    }
}

/// Key of the counter of `kind` for `owner`.
fn count_key(kind: Counted, owner: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + owner.len());
    k.push(kind as u8);
    k.extend_from_slice(owner.as_bytes());
    k
}

/// The limits in force: the stored ones, else the defaults.
///
/// # Errors
/// Storage errors, or a stored record that does not decode.
pub fn limits(kv: &impl KvRead) -> Result<QuotaLimits, StoreError> {
    Ok(kv
        .get::<QuotasRec>(Table::Cluster, CLUSTER_QUOTAS)?
        .map(QuotaLimits::from)
        .unwrap_or_default())
}

/// Stores the limits with `changes` applied and returns them.
///
/// # Errors
/// Storage errors.
pub fn set_limits(kv: &mut impl KvWrite, changes: &QuotaUpdate) -> Result<QuotaLimits, Fail> {
    let l = limits(kv)?.with(&(*changes).into());
    kv.put(Table::Cluster, CLUSTER_QUOTAS.to_vec(), &QuotasRec::from(l))?;
    Ok(l)
}

/// The counter of `kind` for `owner` (0 if none).
///
/// # Errors
/// Storage errors, or a stored count that is not 8 bytes.
pub fn count(kv: &impl KvRead, kind: Counted, owner: &str) -> Result<u64, StoreError> {
    match kv.get_raw(Table::Counts, &count_key(kind, owner))? {
        None => Ok(0),
        Some(bytes) => {
            let b: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    table: Table::Counts,
                    reason: format!("a count of {} bytes", bytes.len()),
                })?;
            Ok(u64::from_be_bytes(b))
        }
    }
}

fn store_count(kv: &mut impl KvWrite, kind: Counted, owner: &str, n: u64) {
    let key = count_key(kind, owner);
    if n == 0 {
        kv.delete(Table::Counts, key);
    } else {
        kv.put_raw(Table::Counts, key, n.to_be_bytes().to_vec());
    }
}

/// Refuses if `owner` already has as many of `kind` as its quota allows.
///
/// # Errors
/// [`ApiError::QuotaExceeded`]; storage errors.
pub fn check(kv: &impl KvRead, kind: Counted, owner: &str) -> Result<(), Fail> {
    let limit = limits(kv)?.get(kind.quota());
    if count(kv, kind, owner)? >= limit {
        return Err(ApiError::QuotaExceeded {
            quota: kind.quota(),
            limit,
        }
        .into());
    }
    Ok(())
}

/// Counts one more of `kind` for `owner`, if its quota allows.
///
/// # Errors
/// [`ApiError::QuotaExceeded`] (nothing counted); storage errors.
pub fn charge(kv: &mut impl KvWrite, kind: Counted, owner: &str) -> Result<(), Fail> {
    check(kv, kind, owner)?;
    add(kv, kind, owner)?;
    Ok(())
}

/// Counts one more of `kind` for `owner`, whatever its quota (ownership passed on to it).
///
/// # Errors
/// Storage errors.
pub fn add(kv: &mut impl KvWrite, kind: Counted, owner: &str) -> Result<(), StoreError> {
    let n = count(kv, kind, owner)?;
    store_count(kv, kind, owner, n.saturating_add(1));
    Ok(())
}

/// Counts one fewer of `kind` for `owner` (never below zero).
///
/// # Errors
/// Storage errors.
pub fn release(kv: &mut impl KvWrite, kind: Counted, owner: &str) -> Result<(), StoreError> {
    let n = count(kv, kind, owner)?;
    store_count(kv, kind, owner, n.saturating_sub(1));
    Ok(())
}

/// Drops the counter of `kind` for `owner` (what it counted is gone with its owner).
pub fn clear(kv: &mut impl KvWrite, kind: Counted, owner: &str) {
    kv.delete(Table::Counts, count_key(kind, owner));
}

/// Refuses a new join request for a group that has `pending` waiting.
///
/// # Errors
/// [`ApiError::QuotaExceeded`]; storage errors.
pub fn check_pending(kv: &impl KvRead, pending: usize) -> Result<(), Fail> {
    let limit = limits(kv)?.pending_requests_per_group;
    if u64::try_from(pending).unwrap_or(u64::MAX) >= limit {
        return Err(ApiError::QuotaExceeded {
            quota: Quota::PendingRequestsPerGroup,
            limit,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mem_kv::MemKv;

    #[test]
    fn limits_default_until_set_and_a_change_keeps_the_others() {
        let mut kv = MemKv::new();
        assert_eq!(limits(&kv).unwrap(), QuotaLimits::default());
        let l = set_limits(
            &mut kv,
            &QuotaUpdate {
                peer_ids_per_user: Some(2),
                ..QuotaUpdate::default()
            },
        )
        .unwrap();
        assert_eq!(l.peer_ids_per_user, 2);
        assert_eq!(l.files_per_group, QuotaLimits::default().files_per_group);
        assert_eq!(limits(&kv).unwrap(), l);
    }

    #[test]
    fn a_counter_is_charged_up_to_its_limit_released_and_never_negative() {
        let mut kv = MemKv::new();
        set_limits(
            &mut kv,
            &QuotaUpdate {
                groups_per_user: Some(2),
                ..QuotaUpdate::default()
            },
        )
        .unwrap();
        charge(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        charge(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        assert!(matches!(
            charge(&mut kv, Counted::GroupsOwned, "ann"),
            Err(Fail::Api(ApiError::QuotaExceeded {
                quota: Quota::GroupsPerUser,
                limit: 2
            }))
        ));
        assert_eq!(count(&kv, Counted::GroupsOwned, "ann").unwrap(), 2);
        // Counters are per kind and per owner.
        assert_eq!(count(&kv, Counted::GroupsOwned, "bob").unwrap(), 0);
        assert_eq!(count(&kv, Counted::PeerIds, "ann").unwrap(), 0);
        release(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        charge(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        for _ in 0..3 {
            release(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        }
        assert_eq!(count(&kv, Counted::GroupsOwned, "ann").unwrap(), 0);
        assert_eq!(kv.len(Table::Counts), 0, "a zero count is not stored");
        // A transfer counts past the limit; new items are refused until it is below again.
        for _ in 0..3 {
            add(&mut kv, Counted::GroupsOwned, "ann").unwrap();
        }
        assert!(check(&kv, Counted::GroupsOwned, "ann").is_err());
        clear(&mut kv, Counted::GroupsOwned, "ann");
        assert!(check(&kv, Counted::GroupsOwned, "ann").is_ok());
    }

    #[test]
    fn a_count_that_is_not_eight_bytes_is_corrupt() {
        let mut kv = MemKv::new();
        kv.put_raw(Table::Counts, count_key(Counted::PeerIds, "ann"), vec![1]);
        assert!(matches!(
            count(&kv, Counted::PeerIds, "ann"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn pending_requests_are_checked_against_their_limit() {
        let mut kv = MemKv::new();
        assert!(check_pending(&kv, 9_999).is_ok());
        assert!(check_pending(&kv, 10_000).is_err());
        set_limits(
            &mut kv,
            &QuotaUpdate {
                pending_requests_per_group: Some(0),
                ..QuotaUpdate::default()
            },
        )
        .unwrap();
        assert!(matches!(
            check_pending(&kv, 0),
            Err(Fail::Api(ApiError::QuotaExceeded {
                quota: Quota::PendingRequestsPerGroup,
                limit: 0
            }))
        ));
    }
}
