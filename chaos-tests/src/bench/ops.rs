//! `bench ops`: the latency of each client operation (average, p95, p99) with the cluster holding
//! 1 000, 10 000 and 100 000 registered peers. At each level the population is first filled with
//! many concurrent RegisterPeer writes (not measured), then each operation is sent a fixed number
//! of times by a few closed-loop clients: register (the level's last peers), publish
//! (RegisterFile of a new file), request sources (FileSources with a ticket), list (ListFiles,
//! first page) and heartbeat. User creation is hashed with argon2 on purpose, so it is measured
//! once, at the start, with a small count and one client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use proto::tracker_msg::{PageRequest, PeerActivity, ReadRequest, WriteOp};

use super::fixture::{manifest, ClusterOpts, Fixture, FixtureSpec, World};
use super::load::Call;
use super::stats::{fmt, print_json, print_table, Latencies, Summary};

/// Options of `bench ops`.
#[derive(Debug, Clone, clap::Args)]
pub struct OpsArgs {
    /// Registered peers (clients) the cluster holds at each level, in increasing order.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    pub clients: Vec<usize>,
    /// Requests measured per operation and level (at most the first level).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Closed-loop clients sending the measured requests (one in flight each).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Concurrent clients filling the population (not measured).
    #[arg(long, default_value_t = 256)]
    pub fill_concurrency: usize,
    /// Users owning the peers (one session each).
    #[arg(long, default_value_t = 32)]
    pub users: usize,
    /// Files registered before the levels (FileSources asks for them).
    #[arg(long, default_value_t = 32)]
    pub files: usize,
    /// Chunks per file (512 KiB each).
    #[arg(long, default_value_t = 64)]
    pub chunks: u32,
    /// Users created one after another to measure CreateUser (argon2-bound); 0 skips it.
    #[arg(long, default_value_t = 20)]
    pub user_samples: usize,
    /// Print one JSON object instead of the JSON lines and the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cluster: ClusterOpts,
}

/// One operation measured at one level.
#[derive(Debug, Clone, Serialize)]
pub struct OpResult {
    /// Scenario name.
    pub scenario: &'static str,
    /// Registered peers in the cluster while measured (for register: at the end).
    pub clients: usize,
    /// Operation name.
    pub op: &'static str,
    /// Closed-loop clients sending it.
    pub concurrency: usize,
    /// Wall time of the requests.
    pub seconds: f64,
    /// Successful answers per second.
    pub ops_per_sec: f64,
    /// Error answers.
    pub errors: u64,
    /// The first error answer.
    pub first_error: Option<String>,
    /// Latency of the successful answers.
    pub latency: Summary,
}

/// What a phase did.
struct Phase {
    elapsed: Duration,
    latency: Latencies,
    errors: u64,
    first_error: Option<String>,
}

/// Builds request `index` of a phase.
type MakeCall = Arc<dyn Fn(usize, &mut StdRng) -> Call + Send + Sync>;

/// Sends `total` requests made by `make` from `concurrency` closed-loop clients.
async fn phase(
    world: &World,
    concurrency: usize,
    total: usize,
    make: MakeCall,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.clamp(1, total.max(1)) {
        let client = world.client()?;
        let (next, make) = (next.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            // Connect (TLS handshake, leader found) before the measured requests.
            let _ = client.read(ReadRequest::ClusterKey).await;
            let mut rng = StdRng::from_entropy();
            let mut out = Phase {
                elapsed: Duration::ZERO,
                latency: Latencies::new(),
                errors: 0,
                first_error: None,
            };
            loop {
                let idx = next.fetch_add(1, Ordering::Relaxed);
                if idx >= total {
                    break;
                }
                let call = make(idx, &mut rng);
                let t = Instant::now();
                let result = match call {
                    Call::Write(op) => client.write(op).await,
                    Call::Read(op) => client.read(op).await,
                };
                match result {
                    Ok(_) => out.latency.record(t.elapsed()),
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            out
        }));
    }
    let mut all = Phase {
        elapsed: Duration::ZERO,
        latency: Latencies::new(),
        errors: 0,
        first_error: None,
    };
    for w in workers {
        let p = w.await.context("a bench client panicked")?;
        all.latency.extend(p.latency);
        all.errors += p.errors;
        if all.first_error.is_none() {
            all.first_error = p.first_error;
        }
    }
    all.elapsed = started.elapsed();
    Ok(all)
}

fn result(clients: usize, op: &'static str, concurrency: usize, p: Phase) -> OpResult {
    let seconds = p.elapsed.as_secs_f64();
    OpResult {
        scenario: "ops",
        clients,
        op,
        concurrency,
        seconds,
        ops_per_sec: p.latency.len() as f64 / seconds.max(1e-9),
        errors: p.errors,
        first_error: p.first_error,
        latency: p.latency.summary(),
    }
}

/// The simulated peers: peer `i` belongs to user `i % users` and has id `base + i`.
#[derive(Clone, Copy)]
struct Population {
    base: u64,
    users: usize,
    key: [u8; 32],
}

impl Population {
    fn peer(&self, i: usize) -> (usize, u64) {
        (i % self.users.max(1), self.base + i as u64)
    }

    fn register(&self, world: &World, i: usize) -> Call {
        let (user, peer_id) = self.peer(i);
        Call::Write(WriteOp::RegisterPeer {
            token: world.tokens[user],
            peer_id,
            addr: format!("10.{}.{}.{}:6881", (i >> 16) & 255, (i >> 8) & 255, i & 255),
            peer_key: self.key,
        })
    }
}

/// Checks the options.
///
/// # Errors
/// Levels not increasing or too small for the samples, or zero counts.
pub fn check(args: &OpsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.clients.is_empty(),
        "--clients needs at least one level"
    );
    anyhow::ensure!(args.samples >= 1, "--samples must be at least 1");
    anyhow::ensure!(
        args.users >= 1 && args.files >= 1,
        "--users and --files must be at least 1"
    );
    anyhow::ensure!(
        args.clients.windows(2).all(|w| w[0] < w[1]),
        "--clients must be increasing"
    );
    anyhow::ensure!(
        args.clients[0] >= args.samples,
        "the first level of --clients must hold at least --samples peers"
    );
    Ok(())
}

/// Runs the benchmark.
///
/// # Errors
/// If the options are wrong, or the cluster or the setup fails.
pub async fn run(args: OpsArgs) -> anyhow::Result<()> {
    check(&args)?;
    let mut tracker_args = vec![
        // Every client connects from 127.0.0.1: room for the fill clients and more.
        format!(
            "--max-connections-per-source={}",
            (args.fill_concurrency + args.concurrency + 64) * 2
        ),
    ];
    tracker_args.extend(args.cluster.tracker_args.iter().cloned());
    let spec = FixtureSpec {
        nodes: args.cluster.nodes,
        tracker_args,
        users: args.users,
        peers: args.users,
        files: args.files,
        chunks_per_file: args.chunks.max(1),
        keep: args.cluster.keep,
    };
    let fixture = Fixture::start("ops", &spec).await?;
    let outcome = measure(&fixture.world, &args).await;
    fixture.stop();
    let rows = outcome?;
    if args.json {
        return print_json(&serde_json::json!({ "scenario": "ops", "rows": rows }));
    }
    print_table(
        &[
            "OP", "CLIENTS", "SAMPLES", "OPS/S", "AVG_MS", "P95_MS", "P99_MS", "ERRORS",
        ],
        &table(&rows),
    );
    if let Some(e) = rows.iter().find_map(|r| r.first_error.clone()) {
        println!("first error: {e}");
    }
    Ok(())
}

/// The table: one row per operation and level.
pub fn table(rows: &[OpResult]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.op.to_string(),
                r.clients.to_string(),
                r.latency.count.to_string(),
                fmt(r.ops_per_sec, 0),
                fmt(r.latency.mean_ms, 2),
                fmt(r.latency.p95_ms, 2),
                fmt(r.latency.p99_ms, 2),
                r.errors.to_string(),
            ]
        })
        .collect()
}

async fn measure(world: &Arc<World>, args: &OpsArgs) -> anyhow::Result<Vec<OpResult>> {
    let emit = |r: &OpResult| -> anyhow::Result<()> {
        if !args.json {
            print_json(r)?;
        }
        Ok(())
    };
    let mut rows = Vec::new();
    if args.user_samples > 0 {
        let tag: u32 = rand::random();
        let make: MakeCall = Arc::new(move |i, _| {
            Call::Write(WriteOp::CreateUser {
                username: format!("ops-{tag:x}-{i}"),
                password: format!("bench-pw-ops-{i}"),
                display_name: None,
            })
        });
        let p = phase(world, 1, args.user_samples, make).await?;
        let r = result(world.peers.len(), "create_user", 1, p);
        emit(&r)?;
        rows.push(r);
    }
    let pop = Population {
        base: (rand::random::<u64>() >> 24) + (1 << 32),
        users: world.tokens.len(),
        key: crate::client_ops::fake_peer_key(),
    };
    let mut registered = 0usize;
    for (level, &n) in args.clients.iter().enumerate() {
        let fill_to = n - args.samples;
        if fill_to > registered {
            let (w, from) = (world.clone(), registered);
            let make: MakeCall = Arc::new(move |i, _| pop.register(&w, from + i));
            let t = Instant::now();
            let p = phase(world, args.fill_concurrency, fill_to - from, make).await?;
            if p.errors > 0 {
                anyhow::bail!(
                    "filling to {fill_to} peers: {} refused, first: {}",
                    p.errors,
                    p.first_error.unwrap_or_default()
                );
            }
            eprintln!(
                "filled {fill_to} peers in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            registered = fill_to;
        }
        let (w, from) = (world.clone(), registered);
        let make: MakeCall = Arc::new(move |i, _| pop.register(&w, from + i));
        let p = phase(world, args.concurrency, args.samples, make).await?;
        registered += args.samples;
        rows.push(result(registered, "register", args.concurrency, p));

        let (w, count) = (world.clone(), registered);
        let make: MakeCall = Arc::new(move |i, rng| {
            let (user, peer_id) = pop.peer(rng.gen_range(0..count));
            let name = format!("ops-l{level}-{i}.bin");
            Call::Write(WriteOp::RegisterFile {
                token: w.tokens[user],
                peer_id,
                group: w.group.clone(),
                manifest: manifest(&name, 16),
            })
        });
        let p = phase(world, args.concurrency, args.samples, make).await?;
        rows.push(result(registered, "publish", args.concurrency, p));

        let (w, count) = (world.clone(), registered);
        let make: MakeCall = Arc::new(move |_, rng| {
            let (user, peer_id) = pop.peer(rng.gen_range(0..count));
            let name = w.files[rng.gen_range(0..w.files.len())].clone();
            Call::Read(ReadRequest::FileSources {
                token: w.tokens[user],
                group: w.group.clone(),
                name,
                peer_id: Some(peer_id),
                include_offline: false,
                page: PageRequest::default(),
            })
        });
        let p = phase(world, args.concurrency, args.samples, make).await?;
        rows.push(result(registered, "sources", args.concurrency, p));

        let w = world.clone();
        let make: MakeCall = Arc::new(move |_, rng| {
            Call::Read(ReadRequest::ListFiles {
                token: w.tokens[rng.gen_range(0..w.tokens.len())],
                group: w.group.clone(),
                page: PageRequest::default(),
            })
        });
        let p = phase(world, args.concurrency, args.samples, make).await?;
        rows.push(result(registered, "list", args.concurrency, p));

        let (w, count) = (world.clone(), registered);
        let make: MakeCall = Arc::new(move |_, rng| {
            let (user, peer_id) = pop.peer(rng.gen_range(0..count));
            Call::Read(ReadRequest::Heartbeat {
                token: w.tokens[user],
                peer_id,
                activity: PeerActivity::Idle,
            })
        });
        let p = phase(world, args.concurrency, args.samples, make).await?;
        rows.push(result(registered, "heartbeat", args.concurrency, p));
        for r in &rows[rows.len() - 5..] {
            emit(r)?;
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        a: OpsArgs,
    }

    #[test]
    fn levels_parse_and_are_checked() {
        let c = Cli::try_parse_from(["bench", "--clients", "1000,10000,100000"]).unwrap();
        assert_eq!(c.a.clients, vec![1000, 10_000, 100_000]);
        assert!(check(&c.a).is_ok());
        let down = Cli::try_parse_from(["bench", "--clients", "10000,1000"]).unwrap();
        assert!(check(&down.a).is_err());
        let small = Cli::try_parse_from(["bench", "--clients", "100", "--samples", "500"]).unwrap();
        assert!(check(&small.a).is_err());
    }

    #[test]
    fn population_spreads_peers_over_users() {
        let p = Population {
            base: 100,
            users: 3,
            key: [0; 32],
        };
        assert_eq!(p.peer(0), (0, 100));
        assert_eq!(p.peer(4), (1, 104));
    }

    #[test]
    fn table_shows_mean_and_tail() {
        let mut l = Latencies::new();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let p = Phase {
            elapsed: Duration::from_secs(2),
            latency: l,
            errors: 1,
            first_error: Some("x".into()),
        };
        let t = table(&[result(1000, "list", 4, p)]);
        assert_eq!(
            t[0],
            vec!["list", "1000", "100", "50", "50.50", "95.00", "99.00", "1"]
        );
    }
}
