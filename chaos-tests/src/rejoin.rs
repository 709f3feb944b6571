//! The wipe-and-rejoin fault: SIGKILL a node (usually a follower, sometimes the leader), delete
//! its data directory, and bring it back the documented way through the admin API: remove it from
//! the cluster (voters and learners), restart it empty (not as a founder), add it as a learner so
//! it catches up (by snapshot once the leader has purged its log), then make it a voter again.
//! A node whose rejoin did not finish is the next one wiped, so at most one voter is ever missing.

use std::time::Duration;

use anyhow::{bail, Context};
use rand::Rng;

use cluster::NodeSpec;
use proto::tracker_msg::AdminRequest;
use proto::TrackerClient;

use crate::faults::Injector;

/// Bound on each step of a rejoin.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

impl Injector {
    /// Wipes one node and makes it rejoin; a rejoin that fails is a violation.
    ///
    /// # Errors
    /// Only if the node cannot be spawned.
    pub async fn wipe_and_rejoin(&mut self) -> anyhow::Result<()> {
        let status = self.leader().await;
        let leader = status.as_ref().map(|s| s.node_id);
        let ids = self.node_ids();
        // A node that is not a voter (an earlier rejoin did not finish) is wiped and rejoined
        // first: wiping a voter meanwhile could leave too few voters holding the data.
        let unfinished = status
            .as_ref()
            .and_then(|s| ids.iter().copied().find(|id| !s.voters.contains(id)));
        let followers: Vec<u64> = ids.iter().copied().filter(|&i| Some(i) != leader).collect();
        let victim = match (unfinished, leader, self.rng.gen_bool(0.25)) {
            (Some(u), _, _) => Some(u),
            (None, Some(l), true) => Some(l),
            _ if !followers.is_empty() => followers
                .get(self.rng.gen_range(0..followers.len()))
                .copied(),
            _ => leader,
        };
        let Some(spec) = victim.and_then(|v| self.cluster.nodes.get(&v).cloned()) else {
            return Ok(());
        };
        self.cluster.kill(spec.id);
        // The node's `--data-dir` (its log file next to it is kept for the post-mortem).
        let db = spec.data_dir.join("db");
        if let Err(e) = std::fs::remove_dir_all(&db) {
            self.violations
                .push(format!("cannot wipe {}: {e}", db.display()));
        }
        let role = if unfinished.is_some() {
            "unfinished"
        } else if victim == leader {
            "leader"
        } else {
            "follower"
        };
        let fault = self.record(&format!("WipeAndRejoin/{role}"), vec![spec.id]);
        let started = std::time::Instant::now();
        match self.rejoin(&spec).await {
            Ok(how) => {
                let ms = started.elapsed().as_millis();
                self.faults[fault].detail = format!("rejoined in {ms} ms; {how}");
            }
            Err(e) => {
                self.faults[fault].detail = format!("rejoin failed: {e:#}");
                self.violations.push(format!(
                    "node {} could not rejoin after its data was wiped: {e:#}",
                    spec.id
                ));
                // Whatever happened, the node runs again so the run can go on.
                if !self.cluster.is_running(spec.id) {
                    self.cluster.start_node(spec.id)?;
                }
            }
        }
        self.finish(fault);
        Ok(())
    }

    /// Remove, restart empty, add as learner, wait until caught up, promote. Returns a summary.
    async fn rejoin(&mut self, spec: &NodeSpec) -> anyhow::Result<String> {
        let id = spec.id;
        let mut cfg = self.cluster.admin_config();
        cfg.deadline = STEP_TIMEOUT;
        cfg.attempt_timeout = STEP_TIMEOUT;
        let admin = TrackerClient::new(cfg)?;

        // Out of the voters and the learners: the leader must forget what it had replicated to
        // the node's old incarnation, or it would go on from there.
        self.cluster.wait_leader(STEP_TIMEOUT).await?;
        admin
            .admin(AdminRequest::RemoveNode { node_id: id })
            .await
            .with_context(|| format!("while removing node {id} from the cluster"))?;

        // Restarted as a node that is not a founder: it waits, empty, to be added.
        self.cluster.remove_spec(id);
        self.cluster.add_spec(spec.clone());
        self.cluster.start_node(id)?;

        let leader = self.cluster.wait_leader(STEP_TIMEOUT).await?;
        admin
            .admin(AdminRequest::AddLearner {
                node_id: id,
                api_addr: spec.api_addr.clone(),
                raft_addr: spec.raft_addr.clone(),
            })
            .await
            .with_context(|| format!("while adding node {id} as a learner"))?;
        self.cluster.wait_caught_up(id, STEP_TIMEOUT).await?;

        let mut voters = self.cluster.wait_leader(STEP_TIMEOUT).await?.voters;
        voters.push(id);
        admin
            .admin(AdminRequest::ChangeMembership { voters })
            .await
            .with_context(|| format!("while making node {id} a voter again"))?;

        // The leader answers once a quorum has the new membership; the rejoined node may learn of
        // it a moment later, so its own view is awaited (bounded), not read once.
        let status = wait_voter(&spec.api_addr, self.cluster.admin_tls(), id).await?;
        // A leader that had purged its log cannot have sent the log from the start.
        if let (Some(purged), None) = (leader.purged_index, status.snapshot_index) {
            bail!(
                "node {id} caught up without a snapshot although the leader had purged its log up to {purged}"
            );
        }
        Ok(match status.snapshot_index {
            Some(i) => format!("installed a snapshot at index {i}"),
            None => "caught up by log replay (nothing purged yet)".into(),
        })
    }
}

/// Polls node `id` at `api_addr` until its own status lists it as a voter, for at most
/// [`STEP_TIMEOUT`]; returns that status.
async fn wait_voter(
    api_addr: &str,
    tls: &proto::tls::ClientTls,
    id: u64,
) -> anyhow::Result<proto::tracker_msg::NodeStatus> {
    let deadline = std::time::Instant::now() + STEP_TIMEOUT;
    loop {
        let status = TrackerClient::node_status(api_addr, tls, false, Duration::from_secs(2))
            .await
            .with_context(|| format!("while asking the rejoined node {id} for its status"))?;
        if status.voters.contains(&id) {
            return Ok(status);
        }
        if std::time::Instant::now() >= deadline {
            bail!("node {id} is not a voter {STEP_TIMEOUT:?} after rejoining: {status:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
