//! `GET /livez` and `GET /readyz`: whether the process answers, and whether this node is fit to
//! serve: it knows a leader, that leader heard from a quorum recently (on the leader openraft's
//! quorum-ack age; on a follower the last AppendEntries it accepted, the signal the election
//! watchdog goes by), and its applied index is close to the committed index. The decision is
//! [`readiness`], a pure function of what the node knows, so it is tested without a cluster.

use std::time::Duration;

use openraft::ServerState;

use crate::raft_types::{NodeId, NodeInfo};

/// openraft's metrics as this crate types them.
pub type Metrics = openraft::RaftMetrics<NodeId, NodeInfo>;

/// What [`readiness`] compares the metrics with.
#[derive(Debug, Clone, Copy)]
pub struct ReadyLimits {
    /// A leader whose quorum acknowledged nothing for longer is not ready (the same limit the
    /// leader checks before it accepts a write).
    pub quorum_ack: Duration,
    /// A follower that accepted no AppendEntries for longer is not ready (`--election-silence-ms`).
    pub leader_silence: Duration,
    /// Most entries the applied index may trail the committed index (`--ready-max-apply-lag`).
    pub max_apply_lag: u64,
}

/// `Ok` if the node is ready, else a one-line reason.
///
/// `committed` is the committed index openraft last saved on this node; `leader_silent_for`
/// how long ago this node last accepted an AppendEntries.
///
/// # Errors
/// The reason the node is not ready.
pub fn readiness(
    m: &Metrics,
    committed: Option<u64>,
    leader_silent_for: Duration,
    limits: ReadyLimits,
) -> Result<(), String> {
    if m.state == ServerState::Shutdown {
        return Err("raft is shut down".into());
    }
    let Some(leader) = m.current_leader else {
        return Err(format!(
            "no known leader (this node is a {}; an election is running or no quorum is reachable)",
            role_name(m.state)
        ));
    };
    if m.state == ServerState::Leader {
        let limit = crate::config::saturating_millis(limits.quorum_ack);
        match m.millis_since_quorum_ack {
            None => return Err("this leader has not heard from a quorum yet".into()),
            Some(ms) if ms > limit => {
                return Err(format!(
                    "this leader has not heard from a quorum for {ms} ms (limit {limit} ms)"
                ))
            }
            Some(_) => {}
        }
    } else if leader_silent_for > limits.leader_silence {
        return Err(format!(
            "no AppendEntries from leader {leader} for {} ms (limit {} ms)",
            leader_silent_for.as_millis(),
            limits.leader_silence.as_millis()
        ));
    }
    let applied = m.last_applied.map(|l| l.index);
    let lag = apply_lag(committed, applied);
    if lag > limits.max_apply_lag {
        return Err(format!(
            "applied index {} is {lag} entries behind the committed index {} (limit {})",
            applied.map_or("none".into(), |a| a.to_string()),
            committed.map_or("none".into(), |c| c.to_string()),
            limits.max_apply_lag
        ));
    }
    Ok(())
}

/// Entries committed but not applied yet.
pub fn apply_lag(committed: Option<u64>, applied: Option<u64>) -> u64 {
    match (committed, applied) {
        (Some(c), Some(a)) => c.saturating_sub(a),
        (Some(c), None) => c.saturating_add(1),
        (None, _) => 0,
    }
}

/// The role's name as `cluster status` prints it.
pub fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId};

    const LIMITS: ReadyLimits = ReadyLimits {
        quorum_ack: Duration::from_millis(280),
        leader_silence: Duration::from_millis(1000),
        max_apply_lag: 10,
    };

    fn metrics(state: ServerState, leader: Option<u64>, applied: u64) -> Metrics {
        let mut m = Metrics::new_initial(1);
        m.state = state;
        m.current_leader = leader;
        m.last_applied = Some(LogId::new(CommittedLeaderId::new(1, 1), applied));
        m
    }

    #[test]
    fn a_node_without_a_leader_is_not_ready() {
        let m = metrics(ServerState::Candidate, None, 5);
        let why = readiness(&m, Some(5), Duration::ZERO, LIMITS).unwrap_err();
        assert!(
            why.contains("no known leader") && why.contains("candidate"),
            "{why}"
        );
    }

    #[test]
    fn a_leader_is_ready_while_its_quorum_answers() {
        let mut m = metrics(ServerState::Leader, Some(1), 5);
        m.millis_since_quorum_ack = Some(40);
        assert_eq!(
            readiness(&m, Some(5), Duration::from_secs(9), LIMITS),
            Ok(())
        );
        m.millis_since_quorum_ack = Some(900);
        let why = readiness(&m, Some(5), Duration::ZERO, LIMITS).unwrap_err();
        assert!(why.contains("900 ms"), "{why}");
        m.millis_since_quorum_ack = None;
        assert!(readiness(&m, Some(5), Duration::ZERO, LIMITS).is_err());
    }

    #[test]
    fn a_follower_is_ready_while_the_leader_is_heard() {
        let m = metrics(ServerState::Follower, Some(2), 5);
        assert_eq!(
            readiness(&m, Some(5), Duration::from_millis(50), LIMITS),
            Ok(())
        );
        let why = readiness(&m, Some(5), Duration::from_millis(1500), LIMITS).unwrap_err();
        assert!(why.contains("leader 2") && why.contains("1500 ms"), "{why}");
    }

    #[test]
    fn applying_far_behind_the_commit_index_is_not_ready() {
        let m = metrics(ServerState::Follower, Some(2), 5);
        assert_eq!(readiness(&m, Some(15), Duration::ZERO, LIMITS), Ok(()));
        let why = readiness(&m, Some(16), Duration::ZERO, LIMITS).unwrap_err();
        assert!(why.contains("11 entries behind"), "{why}");
        assert_eq!(apply_lag(None, None), 0);
        assert_eq!(apply_lag(Some(3), None), 4);
    }
}
