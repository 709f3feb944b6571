//! Closed-loop clients: each has its own `TrackerClient` (so its own client id and one write in
//! flight) and sends its next request as soon as the previous one is answered, until stopped.
//! Every request is logged with its start and end, so a scenario can cut any window out of the
//! run afterwards.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use tokio::task::JoinHandle;

use proto::tracker_msg::{ReadRequest, WriteOp};

use super::fixture::World;
use super::stats::{Latencies, Summary};

/// One request a client sends.
#[derive(Debug, Clone)]
pub enum Call {
    /// A replicated write.
    Write(WriteOp),
    /// A linearizable read.
    Read(ReadRequest),
}

/// Chooses a client's next request: (client index, request number, the client's RNG) ->
/// (kind label, request).
pub type NextCall = Arc<dyn Fn(usize, u64, &mut StdRng) -> (&'static str, Call) + Send + Sync>;

/// One answered (or failed) request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Label given by [`NextCall`].
    pub kind: &'static str,
    /// Sent.
    pub start: Instant,
    /// Answered.
    pub end: Instant,
    /// Whether the answer was a success.
    pub ok: bool,
}

/// Everything one client did.
#[derive(Debug, Default)]
pub struct ClientLog {
    /// Every request, in order.
    pub samples: Vec<Sample>,
    /// The first error answer, if any.
    pub first_error: Option<String>,
}

/// Running clients.
pub struct Clients {
    handles: Vec<JoinHandle<ClientLog>>,
    stop: Arc<AtomicBool>,
}

impl Clients {
    /// Starts `n` clients against `world`'s trackers.
    ///
    /// # Errors
    /// If a client cannot be created.
    pub fn start(world: &World, n: usize, next: NextCall) -> anyhow::Result<Clients> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let client = world.client()?;
            let (stop, next) = (stop.clone(), next.clone());
            handles.push(tokio::spawn(async move {
                let mut rng = StdRng::from_entropy();
                let mut log = ClientLog::default();
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (kind, call) = next(i, seq, &mut rng);
                    seq += 1;
                    let start = Instant::now();
                    let result = match call {
                        Call::Write(op) => client.write(op).await,
                        Call::Read(op) => client.read(op).await,
                    };
                    let end = Instant::now();
                    if let Err(e) = &result {
                        log.first_error
                            .get_or_insert_with(|| format!("{kind}: {e}"));
                    }
                    log.samples.push(Sample {
                        kind,
                        start,
                        end,
                        ok: result.is_ok(),
                    });
                }
                log
            }));
        }
        Ok(Clients { handles, stop })
    }

    /// Stops every client after its request in flight and returns their logs (a client stuck
    /// longer than 30 s is abandoned).
    pub async fn stop(self) -> Vec<ClientLog> {
        self.stop.store(true, Ordering::Relaxed);
        let mut logs = Vec::new();
        for h in self.handles {
            match tokio::time::timeout(Duration::from_secs(30), h).await {
                Ok(Ok(log)) => logs.push(log),
                Ok(Err(e)) => tracing::warn!(%e, "a bench client panicked"),
                Err(_) => tracing::warn!("a bench client did not stop within 30 s"),
            }
        }
        logs
    }
}

/// Throughput and latency of the requests answered within a window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowStats {
    /// Window length.
    pub seconds: f64,
    /// Successful answers in the window.
    pub ops: u64,
    /// ops / seconds.
    pub ops_per_sec: f64,
    /// Error answers in the window.
    pub errors: u64,
    /// The first error any client saw (whole run).
    pub first_error: Option<String>,
    /// Latency of the successful answers.
    pub latency: Summary,
    /// Latency by request kind.
    pub by_kind: BTreeMap<&'static str, Summary>,
}

/// Statistics of the requests answered in `[from, to)`.
pub fn window(logs: &[ClientLog], from: Instant, to: Instant) -> WindowStats {
    let mut all = Latencies::new();
    let mut by_kind: BTreeMap<&'static str, Latencies> = BTreeMap::new();
    let mut errors = 0;
    for s in logs.iter().flat_map(|l| &l.samples) {
        if s.end < from || s.end >= to {
            continue;
        }
        if !s.ok {
            errors += 1;
            continue;
        }
        all.record(s.end - s.start);
        by_kind.entry(s.kind).or_default().record(s.end - s.start);
    }
    let seconds = to.saturating_duration_since(from).as_secs_f64();
    let ops = all.len() as u64;
    WindowStats {
        seconds,
        ops,
        ops_per_sec: if seconds > 0.0 {
            ops as f64 / seconds
        } else {
            0.0
        },
        errors,
        first_error: logs.iter().find_map(|l| l.first_error.clone()),
        latency: all.summary(),
        by_kind: by_kind.into_iter().map(|(k, l)| (k, l.summary())).collect(),
    }
}
