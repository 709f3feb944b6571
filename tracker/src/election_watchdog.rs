//! Guard against openraft 0.9's split-vote livelock: its election timeout is drawn once per
//! process, so two survivors can keep tying. If this voter has seen no leader for longer than
//! twice the maximum election timeout, it triggers an election after a random extra delay.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use rand::Rng;

use crate::app::App;

/// Runs forever, checking a few times per election timeout.
pub async fn task_watch(app: Arc<App>) {
    let max = Duration::from_millis(app.config.args.election_max_ms);
    let mut leaderless_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(max / 3).await;
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
            let jitter = rand::thread_rng().gen_range(0..max.as_millis().max(1) as u64);
            tokio::time::sleep(Duration::from_millis(jitter)).await;
            if app.raft.metrics().borrow().current_leader.is_none() {
                tracing::info!("no leader for a while; triggering an election");
                let _ = app.raft.trigger().elect().await;
            }
            leaderless_since = None;
        }
    }
}
