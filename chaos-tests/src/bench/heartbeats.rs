//! `bench heartbeats`: many simulated peers (default 100 000) registered with high concurrency,
//! then heartbeating at the intervals the tracker hands them, over a few multiplexed connections.
//! Over a steady window it reports the leader's CPU share and memory, heartbeat latency, the
//! heartbeat rate, and the rate of Raft entries the heartbeats cause (which should be far below
//! the heartbeat rate: liveness lives in the leader's memory).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::sync::mpsc;

use proto::tracker_msg::{NodeStatus, PeerActivity};
use proto::TrackerClient;

use super::fixture::{find_leader, ClusterOpts, Fixture, FixtureSpec};
use super::heartbeat_sim::{
    beat_period, population, register_all, spawn_shard, ShardCtx, ShardStats, Window,
};
use super::procfs::{status_mib, CpuSample};
use super::stats::{fmt, print_json, print_table, Latencies, Summary};

/// Options of `bench heartbeats`.
#[derive(Debug, Clone, clap::Args)]
pub struct HeartbeatsArgs {
    /// Simulated peers (try 1000000).
    #[arg(long, default_value_t = 100_000)]
    pub peers: usize,
    /// Users owning them (one session each).
    #[arg(long, default_value_t = 32)]
    pub users: usize,
    /// Connections (one client each) the heartbeats are multiplexed over.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Heartbeats in flight per connection at most.
    #[arg(long, default_value_t = 256)]
    pub in_flight: usize,
    /// Concurrent registration clients (one RegisterPeer write in flight each).
    #[arg(long, default_value_t = 256)]
    pub register_concurrency: usize,
    /// Seconds between the end of registration and the steady window.
    #[arg(long, default_value_t = 5)]
    pub warmup_secs: u64,
    /// Seconds of the steady window.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Interval the trackers hand idle peers (--peer-idle-secs; the tracker's default is 60).
    #[arg(long, default_value_t = 20)]
    pub idle_secs: u64,
    /// Interval for seeding peers (--peer-active-secs; default 15).
    #[arg(long, default_value_t = 5)]
    pub active_secs: u64,
    /// Interval for transferring peers (--peer-transferring-secs; default 5).
    #[arg(long, default_value_t = 2)]
    pub transferring_secs: u64,
    /// Percent of peers idle, active, transferring.
    #[arg(long, value_delimiter = ',', default_value = "80,15,5")]
    pub mix: Vec<u32>,
    /// Also run with every interval set to SECS (fixed heartbeats, a fresh cluster) and print
    /// both runs in one table: fixed against the adaptive intervals given above.
    #[arg(long, value_name = "SECS")]
    pub compare_fixed: Option<u64>,
    /// Print one JSON object instead of the JSON lines and the table (with --compare-fixed).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cluster: ClusterOpts,
}

/// The registration phase.
#[derive(Debug, Serialize)]
pub struct RegisterResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Peers registered.
    pub peers: usize,
    /// Concurrent registration clients.
    pub concurrency: usize,
    /// Wall time.
    pub seconds: f64,
    /// peers / seconds.
    pub per_sec: f64,
    /// RegisterPeer latency.
    pub latency: Summary,
    /// Raft entries appended during registration (one per RegisterPeer, plus any other).
    pub raft_entries: u64,
    /// CPU of the leader during registration, in cores.
    pub leader_cpu_cores: f64,
    /// Whether leadership moved during registration (the CPU figure is then of the old leader).
    pub leader_changed: bool,
}

/// The steady window.
#[derive(Debug, Serialize)]
pub struct SteadyResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Simulated peers.
    pub peers: usize,
    /// Connections.
    pub connections: usize,
    /// Window length.
    pub seconds: f64,
    /// Heartbeats/s the peers would send at the intervals handed out.
    pub target_per_sec: f64,
    /// Heartbeats/s sent.
    pub sent_per_sec: f64,
    /// Heartbeat latency.
    pub latency: Summary,
    /// Error answers in the window.
    pub errors: u64,
    /// The first error seen.
    pub first_error: Option<String>,
    /// p99 of how late a heartbeat left after it was due (the load generator keeping up).
    pub send_lag_p99_ms: f64,
    /// Leader CPU, in cores (1.0 = one core busy).
    pub leader_cpu_cores: f64,
    /// This load generator's CPU, in cores.
    pub generator_cpu_cores: f64,
    /// Leader resident memory at the end of the window.
    pub leader_rss_mib: f64,
    /// Leader peak resident memory (VmHWM).
    pub leader_peak_rss_mib: f64,
    /// Raft entries appended per second by the leader during the window.
    pub raft_entries_per_sec: f64,
    /// Whether leadership moved during the window (the figures are then mixed).
    pub leader_changed: bool,
}

/// One row of the fixed-against-adaptive table.
#[derive(Debug, Serialize)]
pub struct CompareRow {
    /// `fixed` or `adaptive`.
    pub mode: &'static str,
    /// Idle, active and transferring intervals handed out, in seconds.
    pub intervals_secs: [u64; 3],
    /// The steady window.
    pub steady: SteadyResult,
}

/// The table of `--compare-fixed`: one row per mode.
pub fn compare_table(rows: &[CompareRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let s = &r.steady;
            let [i, a, t] = r.intervals_secs;
            vec![
                r.mode.to_string(),
                format!("{i}/{a}/{t}"),
                s.peers.to_string(),
                fmt(s.sent_per_sec * s.seconds, 0),
                fmt(s.seconds, 0),
                fmt(s.target_per_sec, 0),
                fmt(s.sent_per_sec, 0),
                fmt(s.leader_cpu_cores, 2),
                fmt(s.latency.p50_ms, 2),
                fmt(s.latency.p99_ms, 2),
                s.errors.to_string(),
            ]
        })
        .collect()
}

/// Runs the benchmark (twice with `--compare-fixed`).
///
/// # Errors
/// If the cluster, the setup or the registration fails.
pub async fn run(args: HeartbeatsArgs) -> anyhow::Result<()> {
    let Some(fixed) = args.compare_fixed else {
        return run_one(args).await;
    };
    anyhow::ensure!(fixed >= 1, "--compare-fixed must be at least 1 second");
    let mut rows = Vec::new();
    let adaptive = [args.idle_secs, args.active_secs, args.transferring_secs];
    for (mode, [idle, active, transferring]) in [("fixed", [fixed; 3]), ("adaptive", adaptive)] {
        let one = HeartbeatsArgs {
            idle_secs: idle,
            active_secs: active,
            transferring_secs: transferring,
            ..args.clone()
        };
        let (reg, steady) = measure_run(&one).await?;
        if !args.json {
            print_json(&reg)?;
            print_json(&steady)?;
        }
        rows.push(CompareRow {
            mode,
            intervals_secs: [idle, active, transferring],
            steady,
        });
    }
    if args.json {
        return print_json(&serde_json::json!({ "scenario": "heartbeats-compare", "rows": rows }));
    }
    print_table(
        &[
            "MODE",
            "INTERVALS_S",
            "PEERS",
            "REQUESTS",
            "WINDOW_S",
            "TARGET/S",
            "REQUESTS/S",
            "LEADER_CPU",
            "P50_MS",
            "P99_MS",
            "ERRORS",
        ],
        &compare_table(&rows),
    );
    Ok(())
}

/// One cluster, one registration, one steady window.
async fn measure_run(args: &HeartbeatsArgs) -> anyhow::Result<(RegisterResult, SteadyResult)> {
    let mix: [u32; 3] =
        args.mix.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!("--mix takes three percentages: idle,active,transferring")
        })?;
    anyhow::ensure!(mix.iter().sum::<u32>() == 100, "--mix must add up to 100");
    anyhow::ensure!(
        args.idle_secs >= 1 && args.active_secs >= 1 && args.transferring_secs >= 1,
        "the intervals must be at least 1 second"
    );
    let u32_peers = u32::try_from(args.peers).context("--peers is too large")?;
    let mut tracker_args = vec![
        format!("--peer-idle-secs={}", args.idle_secs),
        format!("--peer-active-secs={}", args.active_secs),
        format!("--peer-transferring-secs={}", args.transferring_secs),
        // Every simulated peer connects from 127.0.0.1, so one address holds all of the
        // registration clients and heartbeat connections (and, across a leader change, their
        // old connections until they close): room for twice that, over the default per-source cap.
        format!(
            "--max-connections-per-source={}",
            (args.register_concurrency + args.connections + 64) * 2
        ),
    ];
    tracker_args.extend(args.cluster.tracker_args.iter().cloned());
    let spec = FixtureSpec {
        nodes: args.cluster.nodes,
        tracker_args,
        users: args.users.max(1),
        peers: 0,
        files: 0,
        chunks_per_file: 1,
        keep: args.cluster.keep,
    };
    let fixture = Fixture::start("heartbeats", &spec).await?;
    let outcome = measure(&fixture, args, mix, u32_peers).await;
    fixture.stop();
    outcome
}

/// One run, printed as JSON lines and a table.
async fn run_one(args: HeartbeatsArgs) -> anyhow::Result<()> {
    let (reg, steady) = measure_run(&args).await?;
    if args.json {
        return print_json(&serde_json::json!({ "register": reg, "steady": steady }));
    }
    print_json(&reg)?;
    print_json(&steady)?;
    let rows = vec![
        vec!["peers registered".into(), reg.peers.to_string()],
        vec!["registrations/s".into(), fmt(reg.per_sec, 0)],
        vec![
            "leader CPU registering".into(),
            fmt(reg.leader_cpu_cores, 2),
        ],
        vec![
            "register p50 / p99 ms".into(),
            format!(
                "{} / {}",
                fmt(reg.latency.p50_ms, 2),
                fmt(reg.latency.p99_ms, 2)
            ),
        ],
        vec!["heartbeats/s target".into(), fmt(steady.target_per_sec, 0)],
        vec!["heartbeats/s sent".into(), fmt(steady.sent_per_sec, 0)],
        vec![
            "heartbeat p50 / p99 ms".into(),
            format!(
                "{} / {}",
                fmt(steady.latency.p50_ms, 2),
                fmt(steady.latency.p99_ms, 2)
            ),
        ],
        vec!["heartbeat errors".into(), steady.errors.to_string()],
        vec!["leader CPU (cores)".into(), fmt(steady.leader_cpu_cores, 2)],
        vec![
            "generator CPU (cores)".into(),
            fmt(steady.generator_cpu_cores, 2),
        ],
        vec![
            "leader RSS / peak MiB".into(),
            format!(
                "{} / {}",
                fmt(steady.leader_rss_mib, 0),
                fmt(steady.leader_peak_rss_mib, 0)
            ),
        ],
        vec!["Raft entries/s".into(), fmt(steady.raft_entries_per_sec, 2)],
        vec!["send lag p99 ms".into(), fmt(steady.send_lag_p99_ms, 1)],
        vec![
            "leader changed (reg / window)".into(),
            format!("{} / {}", reg.leader_changed, steady.leader_changed),
        ],
    ];
    print_table(&["HEARTBEATS", "VALUE"], &rows);
    if let Some(e) = &steady.first_error {
        println!("first error: {e}");
    }
    Ok(())
}

/// The current leader's status (without the state digest), asked only outside the measured
/// window.
async fn leader_status(fixture: &Fixture) -> anyhow::Result<NodeStatus> {
    let (_, id) = find_leader(
        fixture.world.trackers.clone(),
        fixture.world.tls.clone(),
        Duration::from_secs(30),
    )
    .await
    .context("no leader answered a read within 30 s")?;
    let addr = fixture
        .cluster
        .nodes
        .get(&id)
        .map(|s| s.api_addr.clone())
        .unwrap_or_default();
    TrackerClient::node_status(&addr, &fixture.world.tls, false, Duration::from_secs(30))
        .await
        .with_context(|| format!("status of the leader at {addr}"))
}

async fn measure(
    fixture: &Fixture,
    args: &HeartbeatsArgs,
    mix: [u32; 3],
    n: u32,
) -> anyhow::Result<(RegisterResult, SteadyResult)> {
    let world = &fixture.world;
    let first_id = (rand::random::<u64>() >> 24) + 1;
    let peers = Arc::new(population(n as usize, world.tokens.len(), mix, first_id));
    let interval = |a| match a {
        PeerActivity::Idle => Duration::from_secs(args.idle_secs),
        PeerActivity::Active => Duration::from_secs(args.active_secs),
        PeerActivity::Transferring => Duration::from_secs(args.transferring_secs),
    };
    let target_per_sec: f64 = peers
        .iter()
        .map(|p| 1.0 / beat_period(p.activity, interval(p.activity)).as_secs_f64())
        .sum();
    let fallback = [
        PeerActivity::Idle,
        PeerActivity::Active,
        PeerActivity::Transferring,
    ]
    .map(|a| beat_period(a, interval(a)));
    let window = Arc::new(Window::new());
    let ctx = ShardCtx {
        peers,
        tokens: Arc::new(world.tokens.clone()),
        window: window.clone(),
        max_in_flight: args.in_flight.max(1),
        fallback,
    };
    let mut senders = Vec::new();
    let mut shards = Vec::new();
    for _ in 0..args.connections.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        shards.push(spawn_shard(ctx.clone(), Arc::new(world.client()?), rx));
    }

    let before = leader_status(fixture).await?;
    let cpu_before = CpuSample::take(before.pid);
    let registration = register_all(
        &world.trackers,
        &world.tls,
        &ctx,
        args.register_concurrency,
        &senders,
    )
    .await;
    drop(senders);
    let registration = match registration {
        Ok(r) => r,
        Err(e) => {
            window.stop();
            return Err(e);
        }
    };
    let cpu_after = CpuSample::take(before.pid);
    let after = leader_status(fixture).await?;
    let reg_secs = registration.elapsed.as_secs_f64();
    let reg = RegisterResult {
        scenario: "heartbeats-register",
        peers: n as usize,
        concurrency: args.register_concurrency,
        seconds: reg_secs,
        per_sec: f64::from(n) / reg_secs.max(1e-9),
        latency: registration.latency.summary(),
        raft_entries: entries_between(&before, &after),
        leader_cpu_cores: match (cpu_before, cpu_after) {
            (Some(a), Some(b)) => a.cores_until(&b),
            _ => 0.0,
        },
        leader_changed: changed(&before, &after),
    };

    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    let s0 = leader_status(fixture).await?;
    let (cpu0, self0) = (CpuSample::take(s0.pid), CpuSample::take_self());
    window.open();
    let opened = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    window.close();
    let secs = opened.elapsed().as_secs_f64();
    let (cpu1, self1) = (CpuSample::take(s0.pid), CpuSample::take_self());
    let s1 = leader_status(fixture).await?;
    let rss = status_mib(s0.pid, "VmRSS").unwrap_or(0.0);
    let peak = status_mib(s0.pid, "VmHWM").unwrap_or(0.0);
    window.stop();
    let mut all = ShardStats::default();
    for s in shards {
        if let Ok(st) = s.await {
            all.sent += st.sent;
            all.errors += st.errors;
            all.latency.extend(st.latency);
            all.lag.extend(st.lag);
            if all.first_error.is_none() {
                all.first_error = st.first_error;
            }
        }
    }
    let cores = |a: Option<CpuSample>, b: Option<CpuSample>| match (a, b) {
        (Some(a), Some(b)) => a.cores_until(&b),
        _ => 0.0,
    };
    let steady = SteadyResult {
        scenario: "heartbeats",
        peers: n as usize,
        connections: args.connections,
        seconds: secs,
        target_per_sec,
        sent_per_sec: all.sent as f64 / secs,
        latency: all.latency.summary(),
        errors: all.errors,
        first_error: all.first_error,
        send_lag_p99_ms: lag_p99(&all.lag),
        leader_cpu_cores: cores(cpu0, cpu1),
        generator_cpu_cores: cores(self0, self1),
        leader_rss_mib: rss,
        leader_peak_rss_mib: peak,
        raft_entries_per_sec: entries_between(&s0, &s1) as f64 / secs,
        leader_changed: changed(&s0, &s1),
    };
    Ok((reg, steady))
}

/// Whether leadership moved between two leader statuses.
fn changed(a: &NodeStatus, b: &NodeStatus) -> bool {
    a.node_id != b.node_id || a.term != b.term
}

fn entries_between(a: &NodeStatus, b: &NodeStatus) -> u64 {
    b.last_log_index
        .unwrap_or(0)
        .saturating_sub(a.last_log_index.unwrap_or(0))
}

fn lag_p99(l: &Latencies) -> f64 {
    l.summary().p99_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(peers: usize, seconds: f64, sent_per_sec: f64, cpu: f64) -> SteadyResult {
        SteadyResult {
            scenario: "heartbeats",
            peers,
            connections: 16,
            seconds,
            target_per_sec: sent_per_sec,
            sent_per_sec,
            latency: Summary::default(),
            errors: 0,
            first_error: None,
            send_lag_p99_ms: 0.0,
            leader_cpu_cores: cpu,
            generator_cpu_cores: 0.0,
            leader_rss_mib: 0.0,
            leader_peak_rss_mib: 0.0,
            raft_entries_per_sec: 0.0,
            leader_changed: false,
        }
    }

    #[test]
    fn compare_table_counts_requests_of_the_window() {
        let rows = vec![
            CompareRow {
                mode: "fixed",
                intervals_secs: [5; 3],
                steady: steady(1000, 10.0, 300.0, 0.5),
            },
            CompareRow {
                mode: "adaptive",
                intervals_secs: [60, 15, 5],
                steady: steady(1000, 10.0, 40.0, 0.1),
            },
        ];
        let t = compare_table(&rows);
        assert_eq!(t[0][..6], ["fixed", "5/5/5", "1000", "3000", "10", "300"]);
        assert_eq!(t[1][1], "60/15/5");
        assert_eq!(t[1][3], "400");
        assert_eq!(t[1][7], "0.10");
    }

    #[test]
    fn compare_fixed_parses() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            a: HeartbeatsArgs,
        }
        let c = Cli::try_parse_from(["bench", "--compare-fixed", "5", "--json"]).unwrap();
        assert_eq!(c.a.compare_fixed, Some(5));
        assert!(c.a.json);
        assert!(Cli::try_parse_from(["bench", "--compare-fixed", "x"]).is_err());
    }
}
