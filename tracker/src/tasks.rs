//! The node's background loops, each given what it needs when [`crate::node`] spawns it:
//! - [`task_sweep`]: while this node leads, marks silent peers offline in batches, prunes idle
//!   at-most-once client records, expired sessions ([`SessionPruner`]) and peers offline for
//!   long ([`PeerPruner`]), and on each new term
//!   creates the cluster key if there is none ([`ensure_cluster_key`]);
//! - [`task_watch_elections`]: a leaderless voter calls an election itself to break split-vote ties
//!   ([`crate::election::watchdog`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use rand::RngCore;

use crate::app::group_commit::GroupCommit;
use crate::app::state::StateView;
use crate::app::wall_ms;
use crate::cmd::{Cmd, Op, MAX_PEERS_PRUNED_PER_ENTRY, MAX_PRUNED_PER_ENTRY};
use crate::election::leader_contact::LeaderContact;
use crate::election::watchdog::Watchdog;
use crate::leader::liveness::Liveness;
use crate::raft_net::pre_vote;
use crate::raft_types::{NodeId, Raft};
use proto::tls::NodeTls;

/// How often the leader looks for silent peers.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// How often the leader prunes idle at-most-once records.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What the sweep needs.
pub struct Sweep {
    /// The Raft handle (its metrics say whether and in which term this node leads).
    pub raft: Raft,
    /// The leader's last-seen table.
    pub liveness: Arc<Liveness>,
    /// Where the sweep's commands are proposed.
    pub writes: GroupCommit,
    /// The committed state (the peers table, the cluster key).
    pub state: StateView,
    /// At-most-once records of clients idle this long are pruned.
    pub client_record_ttl: Duration,
    /// How often expired sessions (and peers offline for long) are deleted.
    pub session_prune_every: Duration,
    /// A peer offline this long is forgotten.
    pub peer_forget_after: Duration,
}

/// Runs forever: while this node leads, marks silent peers offline in batches and prunes idle
/// client records; on each new term, grants every peer a fresh lease and ensures the cluster key.
pub async fn task_sweep(sweep: Sweep) {
    let Sweep {
        raft,
        liveness,
        writes,
        state,
        client_record_ttl,
        session_prune_every,
        peer_forget_after,
    } = sweep;
    let mut sessions = SessionPruner::default();
    let mut peers = PeerPruner::new(peer_forget_after);
    let mut last_session_prune = Instant::now();
    let ttl_ms = u64::try_from(client_record_ttl.as_millis()).unwrap_or(u64::MAX);
    let mut led_term: Option<u64> = None;
    let mut leader_since = Instant::now();
    let mut last_prune = Instant::now();
    let mut scanned_table = false;
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let m = raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            led_term = None;
            continue;
        }
        if led_term != Some(m.current_term) {
            led_term = Some(m.current_term);
            leader_since = Instant::now();
            scanned_table = false;
            liveness.reset();
            ensure_cluster_key(&writes, &state).await;
            continue;
        }
        let now = Instant::now();
        if now.duration_since(last_prune) >= PRUNE_EVERY {
            last_prune = now;
            let cmd = Cmd {
                origin: None,
                now_ms: wall_ms(),
                op: Op::PruneClients {
                    before_ms: wall_ms().saturating_sub(ttl_ms),
                },
            };
            if let Err(e) = writes.propose(cmd).await {
                tracing::warn!(%e, "could not prune idle client records");
            }
        }
        if now.duration_since(last_session_prune) >= session_prune_every {
            last_session_prune = now;
            sessions.pass(&writes, &state).await;
            peers.pass(&writes, &state).await;
        }
        let mut silent = liveness.take_expired(now);
        if !scanned_table && now.saturating_duration_since(leader_since) > liveness.fresh_lease() {
            scanned_table = true;
            silent.extend(online_peers_not_heard_from(&state, &liveness));
        }
        if silent.is_empty() {
            continue;
        }
        tracing::info!(count = silent.len(), "marking silent peers offline");
        let counters = &crate::counters::COUNTERS;
        crate::counters::bump(&counters.offline_sweeps);
        counters.peers_marked_offline.fetch_add(
            u64::try_from(silent.len()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let cmd = Cmd {
            origin: None,
            now_ms: wall_ms(),
            op: Op::SetPeersOnline {
                peer_ids: silent,
                online: false,
            },
        };
        if let Err(e) = writes.propose(cmd).await {
            tracing::warn!(%e, "could not mark silent peers offline");
        }
    }
}

/// Sessions looked at per page of the scan (the scan holds off batch writes for one page).
const SESSION_SCAN_PAGE: usize = 4096;
/// Pages one pass looks at; the next pass goes on from there, so a pass stays short however many
/// sessions there are.
const SESSION_PAGES_PER_PASS: usize = 64;

/// Deletes expired sessions: each pass scans the next pages of the sessions table (a cursor kept
/// from pass to pass, back to the start at the end) and proposes their expired tokens in entries
/// of at most [`MAX_PRUNED_PER_ENTRY`]. Expired sessions are refused from their expiry on
/// whether or not they are deleted yet; this only keeps the table from growing without bound.
#[derive(Debug, Default)]
pub struct SessionPruner {
    /// Where the next page starts (`None`: the first session).
    after: Option<Vec<u8>>,
}

impl SessionPruner {
    /// One pass; returns how many sessions it proposed to delete. Errors are logged and end the
    /// pass (the next one starts over from the cursor).
    pub async fn pass(&mut self, writes: &GroupCommit, state: &StateView) -> usize {
        let now_ms = wall_ms();
        let pruned = prune_pages(
            &mut self.after,
            Pruning {
                what: "expired sessions",
                pages: SESSION_PAGES_PER_PASS,
                per_entry: MAX_PRUNED_PER_ENTRY,
            },
            (writes, state),
            move |view, after| view.expired_sessions_page(now_ms, after, SESSION_SCAN_PAGE),
            |chunk| Op::PruneSessions {
                tokens: chunk.to_vec(),
            },
            now_ms,
        )
        .await;
        if pruned > 0 {
            tracing::info!(pruned, "deleted expired sessions");
        }
        pruned
    }
}

/// What one kind of pruning is called in the log, how many pages a pass scans, and how many
/// items one entry deletes.
struct Pruning {
    what: &'static str,
    pages: usize,
    per_entry: usize,
}

/// One pass of a pruner: scans up to `how.pages` pages with `scan` from the cursor `after` (kept
/// for the next pass, back to `None` at the end of the table) on the blocking pool, and proposes
/// what each page found in entries of at most `how.per_entry` items made by `op`. Returns how
/// many items it proposed; an error is logged and ends the pass.
async fn prune_pages<T, S, O>(
    after: &mut Option<Vec<u8>>,
    how: Pruning,
    (writes, state): (&GroupCommit, &StateView),
    scan: S,
    op: O,
    now_ms: u64,
) -> usize
where
    T: Send + 'static,
    S: Fn(
            &StateView,
            Option<&[u8]>,
        ) -> Result<(Vec<T>, Option<Vec<u8>>), crate::domain::kv::StoreError>
        + Clone
        + Send
        + 'static,
    O: Fn(&[T]) -> Op,
{
    let mut pruned = 0;
    for _ in 0..how.pages {
        let (view, from, scan) = (state.clone(), after.take(), scan.clone());
        let page = tokio::task::spawn_blocking(move || scan(&view, from.as_deref())).await;
        let (items, next) = match page {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                tracing::warn!(%e, what = how.what, "could not scan for pruning");
                return pruned;
            }
            Err(e) => {
                tracing::warn!(%e, what = how.what, "the pruning scan did not finish");
                return pruned;
            }
        };
        for chunk in items.chunks(how.per_entry) {
            let cmd = Cmd {
                origin: None,
                now_ms,
                op: op(chunk),
            };
            if let Err(e) = writes.propose(cmd).await {
                tracing::warn!(%e, what = how.what, "could not propose the pruning");
                return pruned;
            }
            pruned += chunk.len();
        }
        *after = next;
        if after.is_none() {
            break;
        }
    }
    pruned
}

/// Stamps looked at per page of the offline peers' scan.
const PEER_SCAN_PAGE: usize = 4096;
/// Pages of stamps one pass looks at (the next pass goes on from there).
const PEER_PAGES_PER_PASS: usize = 16;

/// Forgets peers offline for longer than `forget_after`: each pass scans the next pages of the
/// offline stamps (a cursor kept from pass to pass) and proposes the stale peers in entries of
/// at most [`MAX_PEERS_PRUNED_PER_ENTRY`]. The entry carries the cutoff this leader chose from
/// its clock; apply forgets only peers still offline since then.
#[derive(Debug)]
pub struct PeerPruner {
    /// How long a peer may stay offline before it is forgotten.
    forget_after: Duration,
    /// Where the next page starts (`None`: the first stamp).
    after: Option<Vec<u8>>,
}

impl PeerPruner {
    /// A pruner that forgets peers offline longer than `forget_after`.
    pub fn new(forget_after: Duration) -> Self {
        PeerPruner {
            forget_after,
            after: None,
        }
    }

    /// One pass; returns how many peers it proposed to forget. Errors are logged and end the
    /// pass (the next one starts over from the cursor).
    pub async fn pass(&mut self, writes: &GroupCommit, state: &StateView) -> usize {
        let now_ms = wall_ms();
        let forget_ms = u64::try_from(self.forget_after.as_millis()).unwrap_or(u64::MAX);
        let offline_before_ms = now_ms.saturating_sub(forget_ms);
        let pruned = prune_pages(
            &mut self.after,
            Pruning {
                what: "stale peers",
                pages: PEER_PAGES_PER_PASS,
                per_entry: MAX_PEERS_PRUNED_PER_ENTRY,
            },
            (writes, state),
            move |view, after| view.stale_peers_page(offline_before_ms, after, PEER_SCAN_PAGE),
            |chunk| Op::PrunePeers {
                peer_ids: chunk.to_vec(),
                offline_before_ms,
            },
            now_ms,
        )
        .await;
        if pruned > 0 {
            tracing::info!(pruned, "forgot peers offline for long");
        }
        pruned
    }
}

/// Online peers in the peers table that this leader has not heard of this term (run once per
/// term, after the fresh lease every peer got at the leader change has run out).
fn online_peers_not_heard_from(state: &StateView, liveness: &Liveness) -> Vec<u64> {
    let mut ids = Vec::new();
    let scanned = state.visit_online_peers(|id| {
        if !liveness.knows(id) {
            ids.push(id);
        }
    });
    if let Err(e) = scanned {
        tracing::warn!(%e, "could not scan the peers table");
    }
    ids
}

/// On a new leader: proposes a fresh cluster key (random bytes chosen here, so every node applies
/// the same key) if the cluster has none.
pub async fn ensure_cluster_key(writes: &GroupCommit, state: &StateView) {
    if state.cluster_secret().is_some() {
        return;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let cmd = Cmd {
        origin: None,
        now_ms: wall_ms(),
        op: Op::SetClusterKey { secret: key },
    };
    match writes.propose(cmd).await {
        Ok(_) => tracing::info!("cluster ticket key created"),
        Err(e) => tracing::warn!(%e, "could not create the cluster ticket key; will retry"),
    }
}

/// Runs forever on node `id`: when this voter has seen no leader for a while, it triggers an
/// election after a random delay ([`Watchdog`]).
pub async fn task_watch_elections(
    raft: Raft,
    id: NodeId,
    mut watchdog: Watchdog,
    contact: Arc<LeaderContact>,
    tls: NodeTls,
) {
    loop {
        tokio::time::sleep(watchdog.check_every()).await;
        let due = |watchdog: &Watchdog| {
            let m = raft.metrics().borrow().clone();
            Watchdog::leaderless_voter(&m, id) || watchdog.silence_due(&m, id, contact.silent_for())
        };
        let why = {
            let m = raft.metrics().borrow().clone();
            if watchdog.due(Watchdog::leaderless_voter(&m, id), Instant::now()) {
                "no leader for a while"
            } else if watchdog.silence_due(&m, id, contact.silent_for()) {
                "the leader's connection is open but silent"
            } else {
                continue;
            }
        };
        tokio::time::sleep(watchdog.jitter()).await;
        if !due(&watchdog) {
            continue;
        }
        match pre_vote::majority_hears_no_leader(&raft, id, &tls, watchdog.pre_vote_ttl()).await {
            Ok(()) if due(&watchdog) => {
                tracing::info!(
                    why,
                    silent_ms = contact.silent_for().as_millis() as u64,
                    "triggering an election"
                );
                crate::counters::bump(&crate::counters::COUNTERS.elections_started);
                let _ = raft.trigger().elect().await;
            }
            Ok(()) => {}
            Err(heard) => {
                tracing::info!(why, %heard, "not campaigning: a majority still hears a leader");
            }
        }
        // One campaign (or one refused pre-vote) per silence limit at most.
        tokio::time::sleep(watchdog.between_attempts()).await;
    }
}
