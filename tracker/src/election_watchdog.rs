//! Guard against openraft 0.9's split-vote livelock: its election timeout is drawn once per
//! process and elections only start on its tick (every 1.5 heartbeats), so two candidates whose
//! ticks line up keep tying round after round. If this voter has seen no leader for longer than
//! twice the maximum election timeout (failed rounds, or a follower whose timer never fires), it
//! triggers an election itself after a random delay, off the tick, which breaks the tie.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use rand::Rng;

use crate::app::App;

/// Runs forever, checking several times per election timeout.
pub async fn task_watch(app: Arc<App>) {
    let max = Duration::from_millis(app.config.args.election_max_ms);
    let mut leaderless_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(max / 7).await;
        let m = app.raft.metrics().borrow().clone();
        let is_voter = m
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == app.id);
        if m.current_leader.is_some() || !is_voter || m.state == ServerState::Learner {
            leaderless_since = None;
            continue;
        }
        let since = *leaderless_since.get_or_insert_with(Instant::now);
        if since.elapsed() > max * 2 {
            let jitter = rand::thread_rng().gen_range(0..(max.as_millis() as u64 / 2).max(1));
            tokio::time::sleep(Duration::from_millis(jitter)).await;
            let m = app.raft.metrics().borrow().clone();
            if m.current_leader.is_none() {
                tracing::info!("no leader for a while; triggering an election");
                let _ = app.raft.trigger().elect().await;
            }
            leaderless_since = None;
        }
    }
}
