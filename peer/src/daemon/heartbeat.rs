//! Heartbeats to the tracker leader at the interval it hands back; re-registers the peer if the
//! tracker no longer knows it (the leader forgets peers offline for long, with what they
//! seeded), and then announces its shares again.

use std::sync::Arc;
use std::time::Duration;

use proto::tracker_msg::{PeerActivity, ReadRequest, Response};
use proto::ApiError;

use super::Daemon;

/// How often a daemon without a session looks for one (a `peer login` on the command line).
const NOT_LOGGED_IN_RECHECK: Duration = Duration::from_secs(2);

/// Runs forever.
pub async fn task_heartbeat(daemon: Arc<Daemon>) {
    let mut interval = Duration::from_secs(5);
    loop {
        let activity = daemon.activity();
        let Ok(token) = daemon.token() else {
            // Nobody is logged in on this home yet (or any more): nothing to tell the tracker.
            tokio::time::sleep(NOT_LOGGED_IN_RECHECK).await;
            continue;
        };
        let result = daemon
            .tracker
            .read(ReadRequest::Heartbeat {
                token,
                peer_id: daemon.peer_id,
                activity,
            })
            .await;
        match result {
            Ok(Response::Heartbeat { interval_ms }) => {
                interval = Duration::from_millis(interval_ms.clamp(500, 120_000));
            }
            Ok(other) => tracing::warn!(?other, "unexpected heartbeat answer"),
            Err(ApiError::PeerNotFound(_)) => {
                tracing::warn!("the tracker does not know this peer; registering again");
                match daemon.register().await {
                    Ok(()) => super::reannounce_shares(&daemon).await,
                    Err(e) => tracing::warn!(%e, "re-registration failed"),
                }
            }
            Err(e) => tracing::warn!(%e, "heartbeat failed"),
        }
        // Beat somewhat faster than asked, so one lost beat does not cost the lease.
        let next = if activity == PeerActivity::Transferring {
            interval / 2
        } else {
            interval * 2 / 3
        };
        tokio::time::sleep(next).await;
    }
}
