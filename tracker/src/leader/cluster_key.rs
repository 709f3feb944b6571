//! The cluster's Ed25519 ticket signing key: created once by the first leader (random bytes chosen
//! before proposing, see `ensure_cluster_key` in [`crate::tasks`]), replicated like any state, so
//! every tracker can sign download tickets after a failover and seeders can verify them offline
//! with the public key.

use proto::ticket::{SignedTicket, Ticket};
use proto::tracker_msg::FileManifest;
use proto::ApiError;

use crate::domain::kv::{KvRead, Table};
use crate::domain::records::CLUSTER_SIGNING_KEY;

/// How far a ticket's validity starts before its issue time, for clock skew between tracker and
/// seeder.
const CLOCK_SKEW_MS: u64 = 60_000;

/// The replicated secret key, if the cluster has one yet (a read error counts as none).
pub fn secret(kv: &impl KvRead) -> Option<[u8; 32]> {
    let bytes = kv.get_raw(Table::Cluster, CLUSTER_SIGNING_KEY).ok()??;
    bytes.as_slice().try_into().ok()
}

/// The key, or the refusal a client gets while the cluster has none.
///
/// # Errors
/// [`ApiError::Unavailable`] if the cluster has no key yet (the leader creates it at once).
pub fn require(secret: Option<[u8; 32]>) -> Result<[u8; 32], ApiError> {
    secret.ok_or_else(|| ApiError::Unavailable("the cluster key is not created yet; retry".into()))
}

/// Signs a ticket letting `username`'s daemon with public key `downloader_key` fetch `manifest`
/// of `group` from `now_ms` for `ttl_ms`.
///
/// # Errors
/// [`ApiError::Internal`] if signing fails.
pub fn issue(
    key: &[u8; 32],
    (now_ms, ttl_ms): (u64, u64),
    username: &str,
    group: &str,
    manifest: &FileManifest,
    downloader_key: [u8; 32],
) -> Result<SignedTicket, ApiError> {
    let ticket = Ticket {
        username: username.to_string(),
        group: group.to_string(),
        file_name: manifest.name.clone(),
        file_hash: manifest.file_hash,
        not_before_ms: now_ms.saturating_sub(CLOCK_SKEW_MS),
        expires_at_ms: now_ms.saturating_add(ttl_ms),
        downloader_key,
    };
    SignedTicket::sign(&ticket, key).map_err(|e| ApiError::Internal(e.to_string()))
}
