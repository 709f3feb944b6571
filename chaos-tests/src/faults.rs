//! The faults a chaos run injects, one method each: crashes, pauses, a whole-cluster restart,
//! a partitioned leader, slow links, and (in [`crate::rejoin`]) a wiped node rejoining.
//!
//! Each fault appends a [`FaultRecord`] when it happens and sets its end when it is over (the
//! node restarted or resumed, the links healed, the rejoin done); anything a fault itself finds
//! wrong (an isolated leader acknowledging a write, a wiped node that cannot rejoin) goes into
//! `violations`.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use tokio::time::Instant;

use cluster::LocalCluster;
use proto::connection::Connection;
use proto::tracker_msg::{NodeStatus, Request, WriteOp, WriteRequest};
use proto::TrackerClient;

use crate::history::History;
use crate::proxy::{Cut, FaultNet, LinkRule};
use crate::scenario::{FaultRecord, Scenario};

/// The nodes' maximum election timeout (the tracker's default `--election-max-ms`; a unit test
/// keeps the two equal).
pub const ELECTION_MAX: Duration = Duration::from_millis(140);
/// The trackers' default `--election-silence-ms`: how long followers wait out a leader whose
/// connections stay open but carry nothing (a stopped process) before they campaign.
pub const ELECTION_SILENCE: Duration = Duration::from_millis(1000);

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL the leader, restart it shortly after.
    LeaderKill,
    /// SIGKILL a random node, restart it shortly after.
    RandomKill,
    /// SIGSTOP the leader for a few election timeouts.
    PauseLeader,
    /// SIGKILL every node, restart them all on their data.
    WholeClusterRestart,
    /// Cut the leader off from the others for a few election timeouts, then heal.
    PartitionLeader,
    /// Add 20-100 ms to random directed links for a while.
    SlowLinks,
    /// SIGKILL a node, wipe its data, remove it, add it back as a learner, promote it.
    WipeAndRejoin,
    /// SIGKILL the leader and start it again at once, so it is back before an election.
    RestartLeader,
}

impl Fault {
    /// The next fault of `scenario`'s schedule.
    pub fn next(scenario: Scenario, rng: &mut StdRng) -> Fault {
        match scenario {
            Scenario::LeaderKills => Fault::LeaderKill,
            Scenario::RandomKills => Fault::RandomKill,
            Scenario::PauseLeader => Fault::PauseLeader,
            Scenario::WholeClusterRestart => Fault::WholeClusterRestart,
            Scenario::PartitionLeader => Fault::PartitionLeader,
            Scenario::WipeAndRejoin => Fault::WipeAndRejoin,
            Scenario::RestartLeader => Fault::RestartLeader,
            // Each fault equally likely; the restart joined last (a seed's mixed schedule from
            // before it is not reproduced).
            Scenario::Mixed => match rng.gen_range(0..8) {
                0 => Fault::LeaderKill,
                1 => Fault::RandomKill,
                2 => Fault::PauseLeader,
                3 => Fault::WholeClusterRestart,
                4 => Fault::PartitionLeader,
                5 => Fault::SlowLinks,
                6 => Fault::WipeAndRejoin,
                _ => Fault::RestartLeader,
            },
        }
    }
}

/// Everything a fault acts on, and what the faults recorded.
pub struct Injector {
    /// The cluster (nodes behind `net`'s proxies).
    pub cluster: LocalCluster,
    /// The proxies in front of the nodes' Raft ports.
    pub net: FaultNet,
    /// The run's history (for timestamps).
    pub history: Arc<History>,
    /// Every random choice.
    pub rng: StdRng,
    /// Every fault injected so far.
    pub faults: Vec<FaultRecord>,
    /// What the faults themselves found wrong.
    pub violations: Vec<String>,
}

impl Injector {
    /// Injects one fault and waits until it is over (nodes restarted, links healed).
    ///
    /// # Errors
    /// Only if a node cannot be spawned again.
    pub async fn inject(&mut self, fault: Fault) -> anyhow::Result<()> {
        match fault {
            Fault::LeaderKill | Fault::RandomKill => self.kill_one(fault).await,
            Fault::PauseLeader => {
                self.pause_leader().await;
                Ok(())
            }
            Fault::WholeClusterRestart => self.whole_cluster_restart().await,
            Fault::PartitionLeader => {
                self.partition_leader().await;
                Ok(())
            }
            Fault::SlowLinks => {
                self.slow_links().await;
                Ok(())
            }
            Fault::WipeAndRejoin => self.wipe_and_rejoin().await,
            Fault::RestartLeader => self.restart_leader().await,
        }
    }

    /// Appends a record of a fault that starts now; returns its index for [`Injector::finish`].
    pub fn record(&mut self, kind: &str, nodes: Vec<u64>) -> usize {
        self.faults.push(FaultRecord {
            kind: kind.to_string(),
            nodes,
            at_ms: self.history.now_ms(),
            end_ms: None,
            failover_ms: None,
            detail: String::new(),
        });
        self.faults.len() - 1
    }

    /// Marks fault `index` (from [`Injector::record`]) as over now.
    pub fn finish(&mut self, index: usize) {
        let now = self.history.now_ms();
        if let Some(f) = self.faults.get_mut(index) {
            f.end_ms = Some(now);
        }
    }

    /// The current leader's status, if the cluster agrees on one within 10 s.
    pub async fn leader(&self) -> Option<NodeStatus> {
        self.cluster.wait_leader(Duration::from_secs(10)).await.ok()
    }

    /// Every node id.
    pub fn node_ids(&self) -> Vec<u64> {
        self.cluster.nodes.keys().copied().collect()
    }

    async fn kill_one(&mut self, fault: Fault) -> anyhow::Result<()> {
        let victim = if fault == Fault::LeaderKill {
            self.leader().await.map(|s| s.node_id)
        } else {
            let ids = self.node_ids();
            ids.get(self.rng.gen_range(0..ids.len())).copied()
        };
        let Some(victim) = victim else { return Ok(()) };
        self.cluster.kill(victim);
        let kind = if fault == Fault::LeaderKill {
            "LeaderKills"
        } else {
            "RandomKills"
        };
        let fault = self.record(kind, vec![victim]);
        tokio::time::sleep(Duration::from_millis(self.rng.gen_range(200..1000))).await;
        self.cluster.start_node(victim)?;
        self.finish(fault);
        Ok(())
    }

    /// SIGKILLs the leader and starts it again at once (no pause), so it is back before the
    /// followers' election timeout; openraft restores a node whose own vote was committed as
    /// leader of the same term. Records what the cluster settled on.
    async fn restart_leader(&mut self) -> anyhow::Result<()> {
        let Some(old) = self.leader().await else {
            return Ok(());
        };
        self.cluster.kill(old.node_id);
        let fault = self.record("RestartLeader", vec![old.node_id]);
        let killed = Instant::now();
        self.cluster.start_node(old.node_id)?;
        self.finish(fault);
        // Bounded: the next fault comes whatever the cluster says.
        let settled = self.cluster.wait_leader(Duration::from_secs(5)).await;
        let ms = u64::try_from(killed.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.faults[fault].detail = match settled {
            Ok(st) if st.node_id == old.node_id && st.term == old.term => {
                format!(
                    "node {} leads term {} again ({ms} ms after the kill)",
                    st.node_id, st.term
                )
            }
            Ok(st) => format!(
                "node {} led term {}; node {} leads term {} {ms} ms after the kill",
                old.node_id, old.term, st.node_id, st.term
            ),
            Err(e) => format!("no agreed leader 5 s after the restart: {e}"),
        };
        Ok(())
    }

    async fn pause_leader(&mut self) {
        let Some(victim) = self.leader().await.map(|s| s.node_id) else {
            return;
        };
        self.cluster.signal(victim, libc::SIGSTOP);
        let fault = self.record("PauseLeader", vec![victim]);
        tokio::time::sleep(ELECTION_SILENCE + ELECTION_MAX * 4).await;
        self.cluster.signal(victim, libc::SIGCONT);
        self.finish(fault);
    }

    async fn whole_cluster_restart(&mut self) -> anyhow::Result<()> {
        let ids = self.node_ids();
        for id in &ids {
            self.cluster.kill(*id);
        }
        let fault = self.record("WholeClusterRestart", ids.clone());
        tokio::time::sleep(Duration::from_millis(300)).await;
        for id in ids {
            self.cluster.start_node(id)?;
        }
        self.finish(fault);
        Ok(())
    }

    /// Cuts the leader off from every other node (both ways, or one way), keeps it cut for a few
    /// election timeouts, then heals. While cut off, a write sent to it directly must not be
    /// acknowledged.
    async fn partition_leader(&mut self) {
        let Some(old) = self.leader().await else {
            return;
        };
        let others: Vec<u64> = self
            .node_ids()
            .into_iter()
            .filter(|&id| id != old.node_id)
            .collect();
        let cut = match self.rng.gen_range(0..4) {
            0 | 1 => Cut::Both,
            2 => Cut::Outgoing,
            _ => Cut::Incoming,
        };
        let cut_at = Instant::now();
        let heal_at = cut_at + ELECTION_MAX * self.rng.gen_range(5..=10);
        self.net.isolate(old.node_id, &others, cut);
        let fault = self.record(&format!("PartitionLeader/{cut:?}"), vec![old.node_id]);
        // Each Raft connection opens with a hello/welcome round trip and every RPC waits for
        // its reply, so even a one-way cut stops the old leader's heartbeats: the others elect.
        let new_leader = self.wait_new_leader(&others, old.term, heal_at).await;
        // Probe once the old leader's last quorum contact is older than its lease (twice the
        // election timeout), so it must refuse at once rather than hold the write.
        tokio::time::sleep_until(cut_at + ELECTION_MAX * 3).await;
        let probe = self.probe_isolated(old.node_id, heal_at).await;
        tokio::time::sleep_until(heal_at).await;
        self.net.heal();
        self.finish(fault);
        self.faults[fault].detail = match new_leader {
            Some((id, ms)) => format!("node {id} elected after {ms} ms; {probe}"),
            None => format!("no new leader before the heal; {probe}"),
        };
    }

    /// The first of `candidates` to report itself leader in a term above `old_term`, and after
    /// how many ms, polled until `until`.
    async fn wait_new_leader(
        &self,
        candidates: &[u64],
        old_term: u64,
        until: Instant,
    ) -> Option<(u64, u64)> {
        let started = Instant::now();
        while Instant::now() < until {
            for spec in self
                .cluster
                .nodes
                .values()
                .filter(|s| candidates.contains(&s.id))
            {
                let st = TrackerClient::node_status(
                    &spec.api_addr,
                    self.cluster.admin_tls(),
                    false,
                    Duration::from_millis(300),
                );
                if let Ok(st) = st.await {
                    if st.role == "leader" && st.term > old_term {
                        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                        return Some((st.node_id, ms));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Sends one write straight to `node` (no failover) and records a violation if it is
    /// acknowledged before `until`. Returns what the node answered.
    async fn probe_isolated(&mut self, node: u64, until: Instant) -> String {
        let Some(addr) = self.cluster.nodes.get(&node).map(|s| s.api_addr.clone()) else {
            return String::new();
        };
        let request = Request::Write(WriteRequest {
            client_id: self.rng.gen(),
            serial: 1,
            op: WriteOp::CreateUser {
                username: format!("probe{}", self.faults.len()),
                password: "probe-password".into(),
                display_name: None,
            },
        });
        let tls = self.cluster.user_tls().clone();
        let attempt = async {
            let conn = Connection::open(&addr, &tls, Duration::from_millis(500)).await?;
            conn.call(request).await
        };
        match tokio::time::timeout_at(until, attempt).await {
            Err(_) => format!("a write sent to node {node} got no answer while it was cut off"),
            Ok(Err(e)) => format!("a write sent to node {node} failed: {e}"),
            Ok(Ok(Err(e))) => format!("a write sent to node {node} was refused: {e}"),
            Ok(Ok(Ok(answer))) => {
                self.violations.push(format!(
                    "node {node} acknowledged a write ({answer:?}) while cut off from the majority"
                ));
                format!("node {node} ACKNOWLEDGED a write while cut off")
            }
        }
    }

    /// Delays random directed links by 20-100 ms each for 1-3 s, then heals.
    async fn slow_links(&mut self) {
        let ids = self.node_ids();
        let mut slowed = Vec::new();
        for &from in &ids {
            for &to in ids.iter().filter(|&&to| to != from) {
                if self.rng.gen_bool(0.5) {
                    slowed.push((from, to, self.rng.gen_range(20..=100u64)));
                }
            }
        }
        if slowed.is_empty() && ids.len() > 1 {
            slowed.push((ids[0], ids[1], self.rng.gen_range(20..=100)));
        }
        for &(from, to, ms) in &slowed {
            self.net
                .set(from, to, LinkRule::Delay(Duration::from_millis(ms)));
        }
        let mut nodes: Vec<u64> = slowed.iter().flat_map(|&(f, t, _)| [f, t]).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let fault = self.record("SlowLinks", nodes);
        self.faults[fault].detail = slowed
            .iter()
            .map(|(f, t, ms)| format!("{f}->{t} +{ms} ms"))
            .collect::<Vec<_>>()
            .join(", ");
        tokio::time::sleep(Duration::from_millis(self.rng.gen_range(1000..3000))).await;
        self.net.heal();
        self.finish(fault);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    fn tracker_default_ms(id: &str) -> Option<u64> {
        tracker::config::Args::command()
            .get_arguments()
            .find(|a| a.get_id() == id)
            .and_then(|a| a.get_default_values().first())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u64>().ok())
    }

    #[test]
    fn election_max_and_silence_are_the_tracker_defaults() {
        assert_eq!(
            tracker_default_ms("election_max_ms"),
            Some(super::ELECTION_MAX.as_millis() as u64),
            "faults::ELECTION_MAX must follow tracker's --election-max-ms default"
        );
        assert_eq!(
            tracker_default_ms("election_silence_ms"),
            Some(super::ELECTION_SILENCE.as_millis() as u64),
            "faults::ELECTION_SILENCE must follow tracker's --election-silence-ms default"
        );
    }
}
