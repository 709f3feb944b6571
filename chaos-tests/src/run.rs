//! One chaos run: a cluster, a client workload, a schedule of faults drawn from a seeded RNG, then
//! the checkers. Produces a [`Report`] (JSON) and a short human summary; each read violation
//! comes with the operations and faults around it ([`crate::timeline`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use proto::tracker_msg::{Response, WriteOp};
use proto::{ClientConfig, TrackerClient};

use crate::faults::{Fault, Injector};
use crate::history::{History, Outcome};
use crate::peer_workload::{DownloadReport, PeerWorkload, PeerWorkloadConfig};
use crate::procs::start_cluster_behind_proxies;
pub use crate::scenario::{FaultRecord, Scenario};
use crate::state_check::OpCounts;
use crate::timeline::{Anchor, Sources, ViolationContext};

/// Cross-client findings spelled out in the violations (all are counted).
const CROSS_CLIENT_LISTED: usize = 20;

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Fault schedule.
    pub scenario: Scenario,
    /// Seed of every random choice (printed; rerun with it to reproduce).
    pub seed: u64,
    /// How long faults are injected.
    pub duration: Duration,
    /// Time between faults.
    pub interval: Duration,
    /// Stop after this many faults (as well as after `duration`).
    pub max_faults: Option<usize>,
    /// Concurrent clients.
    pub clients: usize,
    /// Nodes in the cluster.
    pub nodes: u64,
    /// Real peer daemons downloading real files during the faults (`None`: no peers).
    pub peers: Option<PeerWorkloadConfig>,
    /// Keep the run's directory (node logs and data, peer files) even when the run passes; it is
    /// always kept when a checker finds something.
    pub keep: bool,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario.
    pub scenario: Scenario,
    /// Seed.
    pub seed: u64,
    /// Seconds of faults.
    pub duration_secs: f64,
    /// Writes sent.
    pub writes_sent: usize,
    /// Writes acknowledged.
    pub writes_acked: usize,
    /// Writes refused definitely.
    pub writes_failed: usize,
    /// Writes with unknown outcome.
    pub writes_unknown: usize,
    /// Reads checked for read-your-writes.
    pub reads_checked: u64,
    /// Listings checked against every client's writes acknowledged before they were sent.
    pub cross_client_checked: u64,
    /// Listings that missed a write some client had acknowledged before they were sent.
    pub cross_client_violations: usize,
    /// The other client-library writes (join, accept, register_file, report_have).
    pub ops: BTreeMap<String, OpCounts>,
    /// What the peer daemons' downloads did, if they ran.
    pub downloads: Option<DownloadReport>,
    /// Every fault.
    pub faults: Vec<FaultRecord>,
    /// Failover times in ms: min, median, p99, max.
    pub failover_ms: Option<[u64; 4]>,
    /// Time for all nodes to reach one digest after the faults stopped.
    pub convergence_ms: u64,
    /// Everything a checker found wrong (empty means the run passed).
    pub violations: Vec<String>,
    /// The earliest read violations with the operations and faults around them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violation_contexts: Vec<ViolationContext>,
    /// The run's directory, if it was kept (node logs under `cluster/node-*/tracker.log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_dir: Option<std::path::PathBuf>,
}

impl Report {
    /// A few lines for people.
    pub fn summary(&self) -> String {
        let ops: Vec<String> = self
            .ops
            .iter()
            .map(|(k, c)| format!("{k} {}/{}/{}/{}", c.sent, c.acked, c.failed, c.unknown))
            .collect();
        let downloads = self.downloads.as_ref().map_or_else(
            || "no peer workload".to_string(),
            |d| {
                format!(
                    "downloads: {} started, {} completed, {} failed, {} unfinished; {:.1} MiB verified byte-identical",
                    d.started,
                    d.completed,
                    d.failed,
                    d.unfinished,
                    d.bytes_verified as f64 / f64::from(1u32 << 20)
                )
            },
        );
        let f = self
            .failover_ms
            .map(|[a, b, c, d]| format!("failover ms min {a} / median {b} / p99 {c} / max {d}"))
            .unwrap_or_else(|| "no failover measured".into());
        let mut text = format!(
            "scenario {:?} seed {} ({:.0} s): {} writes sent, {} acked, {} failed, {} unknown; {} reads checked; \
             {} listings checked for other clients' acknowledged writes, {} missed some\n\
             other writes (sent/acked/failed/unknown): {}\n{downloads}\n\
             {} faults; {f}; converged in {} ms\nviolations ({}): {}",
            self.scenario,
            self.seed,
            self.duration_secs,
            self.writes_sent,
            self.writes_acked,
            self.writes_failed,
            self.writes_unknown,
            self.reads_checked,
            self.cross_client_checked,
            self.cross_client_violations,
            ops.join(", "),
            self.faults.len(),
            self.convergence_ms,
            self.violations.len(),
            if self.violations.is_empty() { "none".to_string() } else { self.violations.join("; ") }
        );
        if !self.violation_contexts.is_empty() {
            text.push_str(&format!(
                "\naround the first {} read violation(s) (times in ms since the run started; node N tT aA = \
                 answered by node N in term T at applied index A):",
                self.violation_contexts.len()
            ));
            for c in &self.violation_contexts {
                text.push('\n');
                text.push_str(&c.render());
            }
        }
        text
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs one scenario end to end.
///
/// # Errors
/// Only if the cluster cannot be started or stopped; checker findings go into the report.
pub async fn run(cfg: RunConfig) -> anyhow::Result<Report> {
    let root = tempfile::Builder::new().prefix("chaos-").tempdir()?;
    let (cluster, net) = start_cluster_behind_proxies(
        &root.path().join("cluster"),
        cfg.nodes,
        cfg.scenario.tracker_args(),
    )
    .await?;
    let trackers = cluster.tracker_list();
    // Workload clients and checkers are users: no client certificate.
    let user_tls = cluster.user_tls().clone();
    let history = Arc::new(History::new());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..cfg.clients)
        .map(|id| {
            tokio::spawn(crate::workload::task_client(
                id,
                trackers.clone(),
                user_tls.clone(),
                history.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let peers = match &cfg.peers {
        Some(p) => Some(
            PeerWorkload::start(
                root.path(),
                &cluster.trackers(),
                &cluster.ca_file(),
                cfg.seed,
                p,
            )
            .await?,
        ),
        None => None,
    };
    let mut inj = Injector {
        cluster,
        net,
        history: history.clone(),
        rng: StdRng::seed_from_u64(cfg.seed),
        faults: Vec::new(),
        violations: Vec::new(),
    };
    let started = Instant::now();
    while started.elapsed() < cfg.duration && cfg.max_faults.is_none_or(|n| inj.faults.len() < n) {
        tokio::time::sleep(cfg.interval).await;
        let fault = Fault::next(cfg.scenario, &mut inj.rng);
        inj.inject(fault).await?;
    }
    let Injector {
        mut cluster,
        net,
        mut faults,
        violations: fault_violations,
        ..
    } = inj;
    net.heal();
    let mut violations = fault_violations;
    // Let the workload see a healthy cluster for a moment, then stop it. A cluster that cannot
    // elect a leader once every fault is healed is a finding of its own.
    if let Err(e) = cluster.wait_leader(Duration::from_secs(20)).await {
        violations.push(format!(
            "no leader 20 s after the faults stopped: {e}; nodes: {}",
            describe_nodes(&cluster).await
        ));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = tokio::time::timeout(Duration::from_secs(30), c).await;
    }
    let (downloads, peer_violations) = match peers {
        Some(p) => {
            let (report, v) = p.finish(cfg.duration).await;
            (Some(report), v)
        }
        None => (None, Vec::new()),
    };
    let writes = history.writes();
    let reads = history.reads();
    let mut anchors: Vec<Anchor> = Vec::new();
    for v in history.read_violations() {
        let text = format!("client {}: {}", v.client, v.what);
        anchors.push(Anchor {
            violation: text.clone(),
            at_ms: v.at_ms,
            reader: v.client,
            keys: v.missing,
        });
        violations.push(text);
    }
    let cross = crate::cross_client::check(&writes, &reads);
    for (i, f) in cross.findings.iter().enumerate() {
        let text = format!("client {} (other clients' writes): {}", f.client, f.what);
        anchors.push(Anchor {
            violation: text.clone(),
            at_ms: f.at_ms,
            reader: f.client,
            keys: f.missing.clone(),
        });
        if i < CROSS_CLIENT_LISTED {
            violations.push(text);
        }
    }
    if cross.findings.len() > CROSS_CLIENT_LISTED {
        violations.push(format!(
            "... and {} more listings missing other clients' acknowledged writes",
            cross.findings.len() - CROSS_CLIENT_LISTED
        ));
    }
    violations.extend(peer_violations);

    // Failover time of each fault: to the first acknowledgement completed after it.
    for f in &mut faults {
        f.failover_ms = writes
            .iter()
            .filter(|w| w.outcome == Outcome::Acked && w.done_ms >= f.at_ms)
            .map(|w| w.done_ms - f.at_ms)
            .min();
    }
    let mut fo: Vec<u64> = faults.iter().filter_map(|f| f.failover_ms).collect();
    fo.sort_unstable();
    let failover_ms = (!fo.is_empty()).then(|| {
        [
            fo[0],
            percentile(&fo, 0.5),
            percentile(&fo, 0.99),
            fo[fo.len() - 1],
        ]
    });

    // Every node converges to one digest.
    for id in cluster.nodes.keys().copied().collect::<Vec<_>>() {
        if !cluster.is_running(id) {
            cluster.start_node(id)?;
        }
    }
    let converge_start = Instant::now();
    if let Err(e) = cluster.wait_converged(Duration::from_secs(30)).await {
        violations.push(format!("convergence: {e}"));
    }
    let convergence_ms = u64::try_from(converge_start.elapsed().as_millis()).unwrap_or(u64::MAX);

    // Acknowledged writes are present exactly once; definitely failed ones are absent. A final
    // state that cannot be read is reported with every node's view, not as a crash of the run.
    let ops = history.ops();
    let anchors = merge_anchors(anchors);
    let sources = Sources {
        writes: &writes,
        ops: &ops,
        reads: &reads,
        faults: &faults,
    };
    let violation_contexts: Vec<ViolationContext> = anchors
        .iter()
        .take(crate::timeline::MAX_CONTEXTS)
        .map(|a| crate::timeline::context(a, sources))
        .collect();
    let final_state = async {
        let mut found = check_writes(&trackers, &user_tls, &writes).await?;
        found.extend(crate::state_check::check(&trackers, &user_tls, cfg.clients, &ops).await?);
        anyhow::Ok(found)
    };
    match final_state.await {
        Ok(found) => violations.extend(found),
        Err(e) => violations.push(format!(
            "cannot read the final state: {e:#}; nodes: {}",
            describe_nodes(&cluster).await
        )),
    }

    // No process left behind, no port left open.
    let addrs: Vec<String> = cluster
        .nodes
        .values()
        .flat_map(|s| {
            let raft = cluster.raft_listen.get(&s.id).unwrap_or(&s.raft_addr);
            [s.api_addr.clone(), raft.clone()]
        })
        .collect();
    let pids: Vec<u32> = cluster
        .nodes
        .keys()
        .filter_map(|id| cluster.pid(*id))
        .collect();
    cluster.stop_all(Duration::from_secs(10));
    drop(net);
    violations.extend(crate::procs::left_behind(&pids, &addrs));
    let kept_dir = (cfg.keep || !violations.is_empty()).then(|| root.keep());
    let count_of = |pred: fn(&Outcome) -> bool| writes.iter().filter(|w| pred(&w.outcome)).count();
    Ok(Report {
        scenario: cfg.scenario,
        seed: cfg.seed,
        duration_secs: cfg.duration.as_secs_f64(),
        writes_sent: writes.len(),
        writes_acked: count_of(|o| *o == Outcome::Acked),
        writes_failed: count_of(|o| matches!(o, Outcome::Failed(_))),
        writes_unknown: count_of(|o| matches!(o, Outcome::Unknown(_))),
        reads_checked: history.read_count(),
        cross_client_checked: cross.checked,
        cross_client_violations: cross.findings.len(),
        ops: crate::state_check::op_counts(&ops),
        downloads,
        faults,
        failover_ms,
        convergence_ms,
        violations,
        violation_contexts,
        kept_dir,
    })
}

/// One anchor per violating read (both checkers may flag the same listing), earliest first.
fn merge_anchors(anchors: Vec<Anchor>) -> Vec<Anchor> {
    let mut by_read: BTreeMap<(u64, usize), Anchor> = BTreeMap::new();
    for a in anchors {
        match by_read.get_mut(&(a.at_ms, a.reader)) {
            Some(m) => {
                m.violation = format!("{} | {}", m.violation, a.violation);
                m.keys.extend(a.keys);
                m.keys.sort();
                m.keys.dedup();
            }
            None => {
                by_read.insert((a.at_ms, a.reader), a);
            }
        }
    }
    by_read.into_values().collect()
}

/// Checks the workload's group-creating writes against the final group list: acknowledged ones
/// present exactly once, refused ones absent.
async fn check_writes(
    trackers: &[String],
    tls: &proto::tls::ClientTls,
    writes: &[crate::history::WriteRecord],
) -> anyhow::Result<Vec<String>> {
    let checker = TrackerClient::new(ClientConfig::new(trackers.to_vec(), tls.clone()))?;
    let _ = checker
        .write(WriteOp::CreateUser {
            username: "checker".into(),
            password: "checker-pw".into(),
            display_name: None,
        })
        .await;
    let token = match checker
        .write(WriteOp::Login {
            username: "checker".into(),
            password: "checker-pw".into(),
        })
        .await?
    {
        Response::Session { token, .. } => token,
        other => anyhow::bail!("unexpected login answer {other:?}"),
    };
    let listed = proto::pages::all_groups(&checker, token).await?;
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for g in listed {
        *count.entry(g.name).or_default() += 1;
    }
    let mut violations = Vec::new();
    for w in writes {
        let n = count.get(&w.key).copied().unwrap_or(0);
        match &w.outcome {
            Outcome::Acked if n != 1 => {
                violations.push(format!("acknowledged write {} present {n} times", w.key))
            }
            Outcome::Failed(why) if n != 0 => violations.push(format!(
                "write {} was refused ({why}) but is present",
                w.key
            )),
            Outcome::Failed(why) => violations.push(format!(
                "write {} refused unexpectedly: {why} (applied twice?)",
                w.key
            )),
            _ => {}
        }
    }
    Ok(violations)
}

/// One line per node: role, term, leader, membership and log position, or why it did not answer.
async fn describe_nodes(cluster: &cluster::LocalCluster) -> String {
    cluster
        .statuses()
        .await
        .into_iter()
        .map(|(spec, st)| match st {
            Ok(s) => format!(
                "node {} {} term {} leader {:?} voters {:?} learners {:?} log {:?} applied {:?}",
                s.node_id,
                s.role,
                s.term,
                s.leader_id,
                s.voters,
                s.learners,
                s.last_log_index,
                s.last_applied
            ),
            Err(e) => format!("node {} unreachable: {e}", spec.id),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}
