//! The cluster's Ed25519 ticket signing key: created once by the first leader (random bytes chosen
//! before proposing), replicated like any state, so every tracker can sign download tickets after
//! a failover and seeders can verify them offline with the public key.

use rand::RngCore;

use proto::ticket::{SignedTicket, Ticket};
use proto::tracker_msg::FileManifest;
use proto::ApiError;

use crate::app::{wall_ms, App};
use crate::cmd::{Cmd, Op};
use crate::domain::kv::{KvRead, Table};
use crate::domain::records::CLUSTER_SIGNING_KEY;
use crate::store::overlay::Committed;
use crate::store::sm_trees::SmTrees;

/// The replicated secret key, if the cluster has one yet.
pub fn secret(trees: &SmTrees) -> Option<[u8; 32]> {
    let bytes = Committed(trees)
        .get_raw(Table::Cluster, CLUSTER_SIGNING_KEY)
        .ok()??;
    bytes.as_slice().try_into().ok()
}

/// On a new leader: proposes a fresh key if the cluster has none.
pub async fn ensure(app: &App) {
    if secret(&app.trees).is_some() {
        return;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let cmd = Cmd {
        origin: None,
        now_ms: wall_ms(),
        op: Op::SetClusterKey { secret: key },
    };
    match app.propose(cmd).await {
        Ok(_) => tracing::info!("cluster ticket key created"),
        Err(e) => tracing::warn!(%e, "could not create the cluster ticket key; will retry"),
    }
}

/// Signs a ticket letting `username` fetch `manifest` of `group` for the configured time.
///
/// # Errors
/// [`ApiError::Unavailable`] if the cluster has no key yet (the leader creates it at once).
pub fn issue(
    app: &App,
    username: &str,
    group: &str,
    manifest: &FileManifest,
) -> Result<SignedTicket, ApiError> {
    let key = secret(&app.trees)
        .ok_or_else(|| ApiError::Unavailable("the cluster key is not created yet; retry".into()))?;
    let now = wall_ms();
    let ticket = Ticket {
        username: username.to_string(),
        group: group.to_string(),
        file_name: manifest.name.clone(),
        file_hash: manifest.file_hash,
        // Allow for clock skew between tracker and seeder.
        not_before_ms: now.saturating_sub(60_000),
        expires_at_ms: now.saturating_add(app.config.args.ticket_ttl_secs.saturating_mul(1000)),
    };
    SignedTicket::sign(&ticket, &key).map_err(|e| ApiError::Internal(e.to_string()))
}
