//! Quotas: the four per-owner limits a cluster enforces ([`Quota`]), their values
//! ([`QuotaLimits`], with the defaults of a cluster that never set them) and a change to some of
//! them ([`QuotaChanges`]), as `cluster quotas` and the admin API carry them.

use serde::{Deserialize, Serialize};

/// One of the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quota {
    /// Groups one user owns (created, or inherited when the owner left).
    GroupsPerUser,
    /// Files registered in one group.
    FilesPerGroup,
    /// Peer ids registered by one user.
    PeerIdsPerUser,
    /// Join requests waiting in one group.
    PendingRequestsPerGroup,
}

impl Quota {
    /// Every quota, in the order `cluster quotas show` lists them.
    pub const ALL: [Quota; 4] = [
        Quota::GroupsPerUser,
        Quota::FilesPerGroup,
        Quota::PeerIdsPerUser,
        Quota::PendingRequestsPerGroup,
    ];

    /// The flag of `cluster quotas set` that changes it (without the dashes).
    pub fn flag(self) -> &'static str {
        match self {
            Quota::GroupsPerUser => "groups-per-user",
            Quota::FilesPerGroup => "files-per-group",
            Quota::PeerIdsPerUser => "peer-ids-per-user",
            Quota::PendingRequestsPerGroup => "pending-requests-per-group",
        }
    }

    /// What the user can do about reaching it, besides asking the admin.
    pub fn remedy(self) -> &'static str {
        match self {
            Quota::GroupsPerUser => "leave a group you own first",
            Quota::FilesPerGroup => "register it in another group",
            Quota::PeerIdsPerUser => {
                "reuse an existing peer home; peers offline for long are forgotten"
            }
            Quota::PendingRequestsPerGroup => "the owner must accept some requests first",
        }
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quota::GroupsPerUser => "groups owned per user",
            Quota::FilesPerGroup => "files per group",
            Quota::PeerIdsPerUser => "peer ids per user",
            Quota::PendingRequestsPerGroup => "pending join requests per group",
        })
    }
}

/// The value of every quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLimits {
    /// [`Quota::GroupsPerUser`].
    pub groups_per_user: u64,
    /// [`Quota::FilesPerGroup`].
    pub files_per_group: u64,
    /// [`Quota::PeerIdsPerUser`].
    pub peer_ids_per_user: u64,
    /// [`Quota::PendingRequestsPerGroup`].
    pub pending_requests_per_group: u64,
}

impl Default for QuotaLimits {
    /// The limits of a cluster whose admin never set any: far above what a person uses, low
    /// enough that one account cannot grow the state without bound. A group record holds its
    /// pending requests, so 10,000 of them keep it under a megabyte.
    fn default() -> Self {
        QuotaLimits {
            groups_per_user: 1_000,
            files_per_group: 100_000,
            peer_ids_per_user: 64,
            pending_requests_per_group: 10_000,
        }
    }
}

impl QuotaLimits {
    /// The value of `quota`.
    pub fn get(&self, quota: Quota) -> u64 {
        match quota {
            Quota::GroupsPerUser => self.groups_per_user,
            Quota::FilesPerGroup => self.files_per_group,
            Quota::PeerIdsPerUser => self.peer_ids_per_user,
            Quota::PendingRequestsPerGroup => self.pending_requests_per_group,
        }
    }

    /// These limits with `changes` applied (a limit not named stays as it is).
    pub fn with(mut self, changes: &QuotaChanges) -> Self {
        let pairs = [
            (&mut self.groups_per_user, changes.groups_per_user),
            (&mut self.files_per_group, changes.files_per_group),
            (&mut self.peer_ids_per_user, changes.peer_ids_per_user),
            (
                &mut self.pending_requests_per_group,
                changes.pending_requests_per_group,
            ),
        ];
        for (limit, change) in pairs {
            if let Some(v) = change {
                *limit = v;
            }
        }
        self
    }
}

/// New values for some quotas; `None` leaves one as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaChanges {
    /// New [`Quota::GroupsPerUser`].
    pub groups_per_user: Option<u64>,
    /// New [`Quota::FilesPerGroup`].
    pub files_per_group: Option<u64>,
    /// New [`Quota::PeerIdsPerUser`].
    pub peer_ids_per_user: Option<u64>,
    /// New [`Quota::PendingRequestsPerGroup`].
    pub pending_requests_per_group: Option<u64>,
}

impl QuotaChanges {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == QuotaChanges::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_replace_only_the_limits_they_name() {
        let base = QuotaLimits::default();
        let changed = base.with(&QuotaChanges {
            files_per_group: Some(3),
            ..QuotaChanges::default()
        });
        assert_eq!(changed.get(Quota::FilesPerGroup), 3);
        for q in [
            Quota::GroupsPerUser,
            Quota::PeerIdsPerUser,
            Quota::PendingRequestsPerGroup,
        ] {
            assert_eq!(changed.get(q), base.get(q));
        }
        assert!(QuotaChanges::default().is_empty());
        assert_eq!(base.with(&QuotaChanges::default()), base);
    }
}
