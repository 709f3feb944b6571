//! `bench failover`: writes from concurrent clients while the tracker leader is SIGKILLed again
//! and again (restarted shortly after each kill). For each kill: the time from the kill to the
//! first write acknowledged after it, by any client; then min / median / p99 / max. Also the time
//! until some node answers a linearizable read again, to tell the election from the clients'
//! backoff.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::fixture::{find_leader, ClusterOpts, Fixture, FixtureSpec};
use super::load::{window, Clients, WindowStats};
use super::stats::{fmt, percentile, print_json, print_table};
use super::writes::{write_mix, MixOpts};

/// Options of `bench failover`.
#[derive(Debug, Clone, clap::Args)]
pub struct FailoverArgs {
    /// Concurrent writing clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Leader kills.
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
    /// Milliseconds from a kill to the restart of the killed node.
    #[arg(long, default_value_t = 500)]
    pub restart_after_ms: u64,
    /// Milliseconds of undisturbed writes before each kill.
    #[arg(long, default_value_t = 2000)]
    pub settle_ms: u64,
    #[command(flatten)]
    pub mix: MixOpts,
    /// Users owning the clients' peers.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Files registered before the run (ReportHave goes to them).
    #[arg(long, default_value_t = 32)]
    pub files: usize,
    #[command(flatten)]
    pub cluster: ClusterOpts,
}

/// One kill.
#[derive(Debug, Serialize)]
pub struct KillResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// 1-based kill number.
    pub kill: usize,
    /// The leader killed.
    pub node: u64,
    /// From the kill until a node answered a linearizable read (polled every 10 ms): a new
    /// leader confirmed by a quorum, the server side of the failover.
    pub election_ms: Option<f64>,
    /// From the SIGKILL (process reaped) to the first write acknowledged after it.
    pub failover_ms: Option<f64>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct FailoverResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Concurrent clients.
    pub clients: usize,
    /// Kills with a failover measured.
    pub kills_measured: usize,
    /// Failover ms: min, median, p99, max.
    pub failover_ms: Option<[f64; 4]>,
    /// Writes over the whole run, kills included.
    #[serde(flatten)]
    pub writes: WindowStats,
}

/// Runs the benchmark.
///
/// # Errors
/// If the cluster or the setup fails, or a leader is not found between kills.
pub async fn run(args: FailoverArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.files >= 1, "--files must be at least 1");
    let spec = FixtureSpec {
        nodes: args.cluster.nodes,
        tracker_args: args.cluster.tracker_args.clone(),
        users: args.users,
        peers: args.clients,
        files: args.files,
        chunks_per_file: args.mix.chunks.max(1),
        keep: args.cluster.keep,
    };
    let mut fixture = Fixture::start("failover", &spec).await?;
    let next = write_mix(fixture.world.clone(), args.mix.clone(), "fo".into());
    let clients = Clients::start(&fixture.world, args.clients, next)?;
    let started = Instant::now();
    let settle = Duration::from_millis(args.settle_ms);
    let mut kills: Vec<(u64, Instant, Option<Duration>)> = Vec::new();
    let nodes = fixture.cluster.tracker_list();
    let tls = fixture.world.tls.clone();
    let outcome: anyhow::Result<()> = async {
        for _ in 0..args.kills {
            tokio::time::sleep(settle).await;
            let (_, victim) = find_leader(nodes.clone(), tls.clone(), Duration::from_secs(30))
                .await
                .context("no leader answered a read within 30 s before a kill")?;
            fixture.cluster.kill(victim);
            let at = Instant::now();
            let election = tokio::spawn(find_leader(
                nodes.clone(),
                tls.clone(),
                Duration::from_secs(30),
            ));
            tokio::time::sleep(Duration::from_millis(args.restart_after_ms)).await;
            fixture.cluster.start_node(victim)?;
            let elected = election.await.ok().flatten().map(|(t, _)| t - at);
            kills.push((victim, at, elected));
        }
        tokio::time::sleep(settle).await;
        find_leader(nodes.clone(), tls.clone(), Duration::from_secs(30))
            .await
            .context("no leader answered a read within 30 s after the last kill")?;
        Ok(())
    }
    .await;
    let ended = Instant::now();
    let logs = clients.stop().await;
    fixture.stop();
    outcome?;

    let mut acks: Vec<Instant> = logs
        .iter()
        .flat_map(|l| &l.samples)
        .filter(|s| s.ok)
        .map(|s| s.end)
        .collect();
    acks.sort_unstable();
    let mut rows = Vec::new();
    for (k, &(node, at, elected)) in kills.iter().enumerate() {
        let first = acks.get(acks.partition_point(|&a| a <= at)).copied();
        let r = KillResult {
            scenario: "failover-kill",
            kill: k + 1,
            node,
            election_ms: elected.map(|d| d.as_secs_f64() * 1000.0),
            failover_ms: first.map(|a| (a - at).as_secs_f64() * 1000.0),
        };
        print_json(&r)?;
        rows.push(r);
    }
    let mut us: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.failover_ms)
        .map(|ms| (ms * 1000.0) as u64)
        .collect();
    us.sort_unstable();
    let ms = |p: f64| percentile(&us, p) as f64 / 1000.0;
    let result = FailoverResult {
        scenario: "failover",
        clients: args.clients,
        kills_measured: us.len(),
        failover_ms: (!us.is_empty()).then(|| [ms(0.0), ms(0.5), ms(0.99), ms(1.0)]),
        writes: window(&logs, started, ended),
    };
    print_json(&result)?;
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.kill.to_string(),
                r.node.to_string(),
                r.election_ms.map_or("-".into(), |m| fmt(m, 0)),
                r.failover_ms.map_or("-".into(), |m| fmt(m, 0)),
            ]
        })
        .collect();
    print_table(&["KILL", "LEADER", "ELECTION_MS", "FAILOVER_MS"], &table);
    match result.failover_ms {
        Some([a, b, c, d]) => println!(
            "failover ms: min {a:.0} / median {b:.0} / p99 {c:.0} / max {d:.0} ({} kills)",
            us.len()
        ),
        None => println!("no failover measured"),
    }
    println!(
        "writes: {:.0}/s over the run, {} errors{}",
        result.writes.ops_per_sec,
        result.writes.errors,
        result
            .writes
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    Ok(())
}
