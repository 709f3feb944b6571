//! What a leader keeps beyond the replicated state: peers' last heartbeats ([`liveness`]), failed
//! logins ([`login_throttle`]) and the cluster's ticket signing key ([`cluster_key`]). The loops that act on them are in
//! [`crate::tasks`].

pub mod cluster_key;
pub mod liveness;
pub mod login_throttle;
