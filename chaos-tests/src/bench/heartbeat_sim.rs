//! Simulated peer daemons for `bench heartbeats`: many peers multiplexed over a few tracker
//! connections. Registration workers register peers with high concurrency (one write in flight
//! per worker) and hand each registered peer to a shard, which sends its first heartbeat at once
//! (as a daemon does after registering) and the next ones at the interval the tracker returns,
//! beating early like the daemon (2/3 of the interval, 1/2 when transferring).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use proto::tracker_msg::{PeerActivity, ReadRequest, Response, SessionToken, WriteOp};
use proto::{ApiError, TrackerClient};

use super::stats::Latencies;

/// One simulated peer.
#[derive(Debug, Clone, Copy)]
pub struct SimPeer {
    /// Peer id.
    pub peer_id: u64,
    /// Index of its user's session token.
    pub user: u32,
    /// What it reports doing (fixed for the run).
    pub activity: PeerActivity,
}

/// `n` peers of `users` users; `mix` is the percentage idle, active and transferring.
pub fn population(n: usize, users: usize, mix: [u32; 3], first_id: u64) -> Vec<SimPeer> {
    (0..n)
        .map(|i| {
            // Spread the activities over the index instead of in blocks.
            let r = (i as u64).wrapping_mul(7919) % 100;
            let activity = if r < u64::from(mix[0]) {
                PeerActivity::Idle
            } else if r < u64::from(mix[0] + mix[1]) {
                PeerActivity::Active
            } else {
                PeerActivity::Transferring
            };
            SimPeer {
                peer_id: first_id + i as u64,
                user: u32::try_from(i % users.max(1)).unwrap_or(0),
                activity,
            }
        })
        .collect()
}

/// How long a daemon waits after a heartbeat answered with `interval`.
pub fn beat_period(activity: PeerActivity, interval: Duration) -> Duration {
    let interval = interval.clamp(Duration::from_millis(500), Duration::from_secs(120));
    if activity == PeerActivity::Transferring {
        interval / 2
    } else {
        interval * 2 / 3
    }
}

/// The measurement window, set by the scenario and read by the shards.
pub struct Window {
    base: Instant,
    /// Microseconds since `base`; 0 = not set.
    start_us: AtomicU64,
    end_us: AtomicU64,
    stop: AtomicBool,
}

impl Window {
    /// No window yet.
    pub fn new() -> Self {
        Window {
            base: Instant::now(),
            start_us: AtomicU64::new(0),
            end_us: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    fn us(&self, t: Instant) -> u64 {
        u64::try_from(t.duration_since(self.base).as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Opens the window now.
    pub fn open(&self) {
        self.start_us
            .store(self.us(Instant::now()), Ordering::SeqCst);
    }

    /// Closes the window now.
    pub fn close(&self) {
        self.end_us.store(self.us(Instant::now()), Ordering::SeqCst);
    }

    /// Tells the shards to stop sending and drain.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn contains(&self, t: Instant) -> bool {
        let (s, e) = (
            self.start_us.load(Ordering::Relaxed),
            self.end_us.load(Ordering::Relaxed),
        );
        let t = self.us(t);
        s != 0 && t >= s && (e == 0 || t < e)
    }
}

impl Default for Window {
    fn default() -> Self {
        Window::new()
    }
}

/// What one shard saw inside the window.
#[derive(Debug, Default)]
pub struct ShardStats {
    /// Heartbeats sent.
    pub sent: u64,
    /// Latency of the answered ones.
    pub latency: Latencies,
    /// How late each was sent after it was due (the load generator keeping up).
    pub lag: Latencies,
    /// Error answers.
    pub errors: u64,
    /// The first error (any time).
    pub first_error: Option<String>,
}

/// Shared inputs of every shard.
#[derive(Clone)]
pub struct ShardCtx {
    /// Every simulated peer.
    pub peers: Arc<Vec<SimPeer>>,
    /// Session token of each user.
    pub tokens: Arc<Vec<SessionToken>>,
    /// The measurement window.
    pub window: Arc<Window>,
    /// Heartbeats in flight per shard (its connection).
    pub max_in_flight: usize,
    /// Period used after an error, by activity (idle, active, transferring).
    pub fallback: [Duration; 3],
}

type Answer = (u32, Instant, Result<Response, ApiError>);

/// Starts a shard on its own client (one connection to the leader); it heartbeats each peer
/// index received on `rx`.
pub fn spawn_shard(
    ctx: ShardCtx,
    client: Arc<TrackerClient>,
    mut rx: mpsc::UnboundedReceiver<u32>,
) -> JoinHandle<ShardStats> {
    tokio::spawn(async move {
        let mut due: BinaryHeap<Reverse<(Instant, u32)>> = BinaryHeap::new();
        let mut in_flight: JoinSet<Answer> = JoinSet::new();
        let mut stats = ShardStats::default();
        let mut rx_open = true;
        let mut stopped_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if ctx.window.stop.load(Ordering::Relaxed) {
                let since = *stopped_at.get_or_insert(now);
                if in_flight.is_empty() || now.duration_since(since) > Duration::from_secs(20) {
                    break;
                }
            } else {
                while in_flight.len() < ctx.max_in_flight {
                    match due.peek() {
                        Some(Reverse((at, _))) if *at <= now => {}
                        _ => break,
                    }
                    let Some(Reverse((at, idx))) = due.pop() else {
                        break;
                    };
                    let Some(p) = ctx.peers.get(idx as usize).copied() else {
                        continue;
                    };
                    let token = ctx.tokens.get(p.user as usize).cloned().unwrap_or_default();
                    let sent = Instant::now();
                    if ctx.window.contains(sent) {
                        stats.sent += 1;
                        stats.lag.record(sent.saturating_duration_since(at));
                    }
                    let client = client.clone();
                    in_flight.spawn(async move {
                        let req = ReadRequest::Heartbeat {
                            token,
                            peer_id: p.peer_id,
                            activity: p.activity,
                        };
                        (idx, sent, client.read(req).await)
                    });
                }
            }
            let can_send = in_flight.len() < ctx.max_in_flight && stopped_at.is_none();
            let wake = match due.peek() {
                Some(Reverse((at, _))) if can_send => (*at).min(now + Duration::from_millis(100)),
                _ => now + Duration::from_millis(100),
            };
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let Ok((idx, sent, result)) = done else { continue };
                    let end = Instant::now();
                    let counted = ctx.window.contains(sent);
                    let Some(p) = ctx.peers.get(idx as usize) else { continue };
                    let period = match result {
                        Ok(Response::Heartbeat { interval_ms }) => {
                            if counted {
                                stats.latency.record(end - sent);
                            }
                            beat_period(p.activity, Duration::from_millis(interval_ms))
                        }
                        other => {
                            if counted {
                                stats.errors += 1;
                            }
                            stats.first_error.get_or_insert_with(|| format!("{other:?}"));
                            ctx.fallback[activity_index(p.activity)]
                        }
                    };
                    due.push(Reverse((end + period, idx)));
                }
                got = rx.recv(), if rx_open => match got {
                    Some(idx) => due.push(Reverse((Instant::now(), idx))),
                    None => rx_open = false,
                },
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        stats
    })
}

fn activity_index(a: PeerActivity) -> usize {
    match a {
        PeerActivity::Idle => 0,
        PeerActivity::Active => 1,
        PeerActivity::Transferring => 2,
    }
}

/// What registration took.
#[derive(Debug)]
pub struct Registration {
    /// Wall time.
    pub elapsed: Duration,
    /// Latency of each RegisterPeer write.
    pub latency: Latencies,
}

/// Registers every peer with `concurrency` clients (one write in flight each) and hands each
/// registered peer to shard `index % shards.len()`. Prints progress to stderr every 10 s.
///
/// # Errors
/// The first refused registration.
pub async fn register_all(
    trackers: &[String],
    tls: &proto::tls::ClientTls,
    ctx: &ShardCtx,
    concurrency: usize,
    shards: &[mpsc::UnboundedSender<u32>],
) -> anyhow::Result<Registration> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let total = ctx.peers.len();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let client = TrackerClient::new(proto::ClientConfig::new(trackers.to_vec(), tls.clone()))?;
        let (ctx, next, done, shards) = (ctx.clone(), next.clone(), done.clone(), shards.to_vec());
        workers.push(tokio::spawn(async move {
            let peer_key = crate::client_ops::fake_peer_key();
            let mut latency = Latencies::new();
            loop {
                let idx = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = ctx.peers.get(idx).copied() else {
                    break;
                };
                let op = WriteOp::RegisterPeer {
                    token: ctx.tokens.get(p.user as usize).cloned().unwrap_or_default(),
                    peer_id: p.peer_id,
                    addr: format!(
                        "10.{}.{}.{}:6881",
                        (idx >> 16) & 255,
                        (idx >> 8) & 255,
                        idx & 255
                    ),
                    peer_key,
                };
                let t = Instant::now();
                client
                    .write(op)
                    .await
                    .map_err(|e| anyhow::anyhow!("registering peer {}: {e}", p.peer_id))?;
                latency.record(t.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
                if let (Ok(i), Some(shard)) =
                    (u32::try_from(idx), shards.get(idx % shards.len().max(1)))
                {
                    let _ = shard.send(i);
                }
            }
            Ok::<_, anyhow::Error>(latency)
        }));
    }
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let n = done.load(Ordering::Relaxed);
                let secs = started.elapsed().as_secs_f64();
                eprintln!("registered {n} / {total} peers ({:.0}/s)", n as f64 / secs);
            }
        })
    };
    let mut latency = Latencies::new();
    let mut failure = None;
    for w in workers {
        match w.await {
            Ok(Ok(l)) => latency.extend(l),
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(anyhow::anyhow!("a registration worker panicked: {e}"));
            }
        }
    }
    progress.abort();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Registration {
        elapsed: started.elapsed(),
        latency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_follows_the_mix() {
        let p = population(10_000, 7, [80, 15, 5], 100);
        let count = |a| p.iter().filter(|s| s.activity == a).count();
        assert_eq!(count(PeerActivity::Idle), 8000);
        assert_eq!(count(PeerActivity::Active), 1500);
        assert_eq!(count(PeerActivity::Transferring), 500);
        assert_eq!(p[9].peer_id, 109);
        assert!(p.iter().all(|s| s.user < 7));
    }

    #[test]
    fn beats_early_like_the_daemon() {
        let s = Duration::from_secs(3);
        assert_eq!(beat_period(PeerActivity::Idle, s), Duration::from_secs(2));
        assert_eq!(
            beat_period(PeerActivity::Transferring, s),
            Duration::from_millis(1500)
        );
        assert_eq!(
            beat_period(PeerActivity::Idle, Duration::ZERO),
            Duration::from_millis(500) * 2 / 3
        );
    }

    #[test]
    fn window_bounds() {
        let w = Window::new();
        assert!(!w.contains(Instant::now()));
        w.open();
        std::thread::sleep(Duration::from_millis(2));
        assert!(w.contains(Instant::now()));
        w.close();
        std::thread::sleep(Duration::from_millis(2));
        assert!(!w.contains(Instant::now()));
    }
}
