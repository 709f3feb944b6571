//! [`ApiError`]: every failure a tracker reports to a client, as a typed, serializable variant
//! with a message that says what happened and what to do.

use serde::{Deserialize, Serialize};

/// An error answered by a tracker (or produced by the client library while trying to reach one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// This node is not the leader; the client should retry at `leader_api_addr`.
    #[error("this tracker is not the leader (leader: {})", leader_api_addr.as_deref().unwrap_or("unknown, election in progress"))]
    NotLeader {
        /// Raft id of the leader, if known.
        leader_id: Option<u64>,
        /// Client API address of the leader, if known.
        leader_api_addr: Option<String>,
    },
    /// The node cannot reach a quorum or timed out; retry on another tracker.
    #[error("tracker unavailable: {0}; retry, or run `cluster status` to see which nodes are up")]
    Unavailable(String),
    /// No tracker of the configured list answered before the deadline.
    #[error("no tracker answered at {trackers} after {attempts} tries ({last_error}); check the tracker list or run `cluster status`")]
    NoTrackerReachable {
        /// The tracker list that was tried.
        trackers: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error seen.
        last_error: String,
    },
    /// Username or password is wrong.
    #[error("bad credentials: wrong username or password")]
    BadCredentials,
    /// The session token is unknown or expired.
    #[error("not logged in or session expired: run `peer login <username>`")]
    NotLoggedIn,
    /// The username is taken.
    #[error("user {0:?} already exists: pick another name or log in")]
    UserExists(String),
    /// No such user.
    #[error("no user named {0:?}")]
    UserNotFound(String),
    /// The group name is taken.
    #[error("group {0:?} already exists: join it with `peer group join`")]
    GroupExists(String),
    /// No such group.
    #[error("no group named {0:?}: list groups with `peer group list`")]
    GroupNotFound(String),
    /// The caller must be a member of the group.
    #[error("you are not a member of group {0:?}: ask to join with `peer group join`")]
    NotMember(String),
    /// The caller must own the group.
    #[error("only the owner of group {0:?} can do that")]
    NotOwner(String),
    /// The caller already belongs to the group.
    #[error("you are already a member of group {0:?}")]
    AlreadyMember(String),
    /// There is no pending join request from that user.
    #[error("no pending join request from {user:?} in group {group:?}")]
    NoSuchRequest {
        /// Group name.
        group: String,
        /// Username whose request was expected.
        user: String,
    },
    /// No such file in the group: never shared, or unpublished.
    #[error("no file named {name:?} in group {group:?} (never shared, or unpublished): list files with `peer files {group}`")]
    FileNotFound {
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
    /// A file with that name but other content is already registered.
    #[error(
        "group {group:?} already has a different file named {name:?}: upload with another --name"
    )]
    FileConflict {
        /// Group name.
        group: String,
        /// File name.
        name: String,
    },
    /// No such peer, or the peer belongs to another user.
    #[error("unknown peer {0}: restart the peer daemon so it registers again")]
    PeerNotFound(u64),
    /// The request is malformed or breaks a rule; the message names the rule.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client and server speak different protocol versions.
    #[error("protocol version mismatch: client {client}, server {server}; use matching builds")]
    VersionMismatch {
        /// Version the client sent.
        client: u32,
        /// Version the server speaks.
        server: u32,
    },
    /// A write carried a serial number older than the last one applied for its client.
    #[error(
        "stale request: serial {serial} is older than the last applied {last} for this client"
    )]
    StaleRequest {
        /// Serial the request carried.
        serial: u64,
        /// Last serial applied for this client id.
        last: u64,
    },
    /// The request needs the admin credential and this connection did not present it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The tracker hit an internal error; the message says which.
    #[error("internal tracker error: {0}")]
    Internal(String),
    /// Too many failed logins for this account or from this address; no password is checked
    /// until the delay has passed (not retried automatically: retrying only waits longer).
    #[error("too many failed logins for this account or from this address: try again in {} s", retry_after_ms.div_ceil(1000))]
    TooManyFailedLogins {
        /// How long until the next attempt is allowed.
        retry_after_ms: u64,
    },
    /// The write would take its owner (user or group) past a quota; nothing was changed.
    #[error("quota reached: at most {limit} {quota}; {}, or ask the cluster admin to raise it with `cluster quotas set --{} N`", quota.remedy(), quota.flag())]
    QuotaExceeded {
        /// Which limit.
        quota: crate::quota::Quota,
        /// Its value now.
        limit: u64,
    },
}

impl ApiError {
    /// Whether a client should retry the same request on another (or the same) tracker.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::NotLeader { .. } | ApiError::Unavailable(_))
    }
}
