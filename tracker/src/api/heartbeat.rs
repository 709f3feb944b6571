//! A peer's heartbeat, answered by the leader from memory: it records the heartbeat in the
//! liveness table and tells the peer its next interval. A read in the protocol, it proposes one
//! write when an offline peer comes back (marking it online).

use proto::tracker_msg::{PeerActivity, Response, SessionToken};
use proto::ApiError;

use super::token::session_bytes;
use crate::app::{wall_ms, App};
use crate::cmd::{Cmd, Op};
use crate::domain::error::Fail;
use crate::domain::kv::{KvRead, Table};
use crate::domain::lookup::session_user;
use crate::domain::records::{peer_key, PeerRec};

/// Records a heartbeat of the caller's peer `peer_id` on the leader.
///
/// # Errors
/// `NotLeader` or `Unavailable` off a healthy leader, `NotLoggedIn`, `PeerNotFound` if the peer is
/// unknown or someone else's.
pub async fn handle(
    app: &App,
    token: &SessionToken,
    peer_id: u64,
    activity: PeerActivity,
) -> Result<Response, ApiError> {
    app.check_leader()?;
    let username =
        session_user(&app.state.kv(), &session_bytes(token)?, wall_ms()).map_err(Fail::into_api)?;
    let read_peer = || -> Result<Option<PeerRec>, ApiError> {
        app.state
            .kv()
            .get(Table::Peers, &peer_key(peer_id))
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    let mut peer = read_peer()?;
    if peer.is_none() {
        // A new leader may not have applied the registration yet: catch up, then look again.
        app.read_barrier().await?;
        peer = read_peer()?;
    }
    let peer = match peer {
        Some(p) if p.username == username => p,
        _ => return Err(ApiError::PeerNotFound(peer_id)),
    };
    let interval = app.liveness.heartbeat(peer_id, activity);
    crate::counters::bump(&crate::counters::COUNTERS.heartbeats);
    if !peer.online {
        let cmd = Cmd {
            origin: None,
            now_ms: wall_ms(),
            op: Op::SetPeersOnline {
                peer_ids: vec![peer_id],
                online: true,
            },
        };
        app.writes.propose(cmd).await?;
    }
    Ok(Response::Heartbeat {
        interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
    })
}
