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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use proto::tracker_msg::{FileManifest, PeerActivity, PeerSummary, Source};

    fn liveness() -> Liveness {
        let s = Duration::from_secs(1);
        Liveness::new(s, s, s, 3)
    }

    fn source(peer_id: u64, online: bool, last_seen_ms: Option<u64>) -> Source {
        Source {
            peer_id,
            username: "ann".into(),
            addr: "127.0.0.1:1".into(),
            peer_key: [0; 32],
            bitfield: vec![1],
            online,
            last_seen_ms,
        }
    }

    #[test]
    fn online_sources_get_the_leaders_time_and_offline_ones_keep_theirs() {
        let l = liveness();
        l.heartbeat(1, PeerActivity::Idle);
        let listed = Response::Sources {
            manifest: FileManifest {
                name: "f".into(),
                size_bytes: 1,
                chunk_size_bytes: 1,
                chunk_hashes: vec![[0; 20]],
                file_hash: [0; 20],
            },
            sources: vec![
                source(1, true, None),
                source(2, true, None),
                source(3, false, Some(5)),
            ],
            ticket: None,
            next: None,
        };
        let before = wall_ms();
        let Response::Sources { sources, .. } = of_sources(&l, listed) else {
            panic!("not sources");
        };
        let seen = sources[0].last_seen_ms.expect("heard from");
        assert!(
            seen <= wall_ms() && seen + 1000 >= before,
            "{seen} vs {before}"
        );
        assert_eq!(sources[1].last_seen_ms, None, "never heard from this term");
        assert_eq!(sources[2].last_seen_ms, Some(5), "the offline stamp stays");
    }

    #[test]
    fn a_peer_that_signed_off_has_no_leader_time_any_more() {
        let l = liveness();
        l.registered(4);
        let page = |id| {
            Response::GroupPeers(Page {
                items: vec![PeerSummary {
                    peer_id: id,
                    username: "ann".into(),
                    addr: "127.0.0.1:1".into(),
                    last_seen_ms: None,
                    files_seeded: 0,
                }],
                next: None,
            })
        };
        let Response::GroupPeers(p) = of_peers(&l, page(4)) else {
            panic!("not peers");
        };
        assert!(p.items[0].last_seen_ms.is_some());
        l.forget(4);
        let Response::GroupPeers(p) = of_peers(&l, page(4)) else {
            panic!("not peers");
        };
        assert_eq!(p.items[0].last_seen_ms, None);
    }
}
