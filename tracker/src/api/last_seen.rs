//! Last-seen times of online peers: not replicated (a heartbeat is no log entry), so the leader
//! that answers a listing adds them from its liveness table. An offline peer's last seen, the
//! time it went offline, is replicated and comes from the query itself.

use std::time::Instant;

use proto::tracker_msg::{Page, Response};

use crate::app::wall_ms;
use crate::leader::liveness::Liveness;

/// The wall-clock time (ms since the epoch) of this leader's last word from `peer_id`.
fn seen_at(liveness: &Liveness, peer_id: u64, now: Instant, now_ms: u64) -> Option<u64> {
    let at = liveness.last_seen(peer_id)?;
    let ago = u64::try_from(now.saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX);
    Some(now_ms.saturating_sub(ago))
}

/// A [`Response::Sources`] with the last seen of its online sources filled in.
pub fn of_sources(liveness: &Liveness, listed: Response) -> Response {
    match listed {
        Response::Sources {
            manifest,
            mut sources,
            ticket,
            next,
        } => {
            let (now, now_ms) = (Instant::now(), wall_ms());
            for s in sources.iter_mut().filter(|s| s.online) {
                s.last_seen_ms = seen_at(liveness, s.peer_id, now, now_ms);
            }
            Response::Sources {
                manifest,
                sources,
                ticket,
                next,
            }
        }
        other => other,
    }
}

/// A [`Response::GroupPeers`] with every peer's last seen filled in.
pub fn of_peers(liveness: &Liveness, listed: Response) -> Response {
    match listed {
        Response::GroupPeers(Page { mut items, next }) => {
            let (now, now_ms) = (Instant::now(), wall_ms());
            for p in &mut items {
                p.last_seen_ms = seen_at(liveness, p.peer_id, now, now_ms);
            }
            Response::GroupPeers(Page { items, next })
        }
        other => other,
    }
}
