//! Membership changes through the leader, for any cluster the admin credential reaches: list the
//! members, add a node that is already running (learner, caught up, then voter), remove one.
//! `cluster member` uses these against `--trackers` or a DIR; `cluster add-node` and
//! `cluster remove-node` use them after starting or before stopping a local node.

use std::time::{Duration, Instant};

use proto::tls::ClientTls;
use proto::tracker_msg::{AdminRequest, Member, NodeStatus, Response};
use proto::{ApiError, TrackerClient};

/// How long one status question to a node may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a node to add may take to answer (it may just have been started).
const NODE_UP_WAIT: Duration = Duration::from_secs(10);
/// Pause between two looks at a catching-up node.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Why a membership change failed.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    /// The cluster refused or could not be reached.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The node is a voter already.
    #[error("node {0} is already a voter")]
    AlreadyVoter(u64),
    /// Another member has one of the new node's addresses.
    #[error("node {other} already uses {addr}; give node {id} addresses of its own")]
    AddressTaken {
        /// The new node.
        id: u64,
        /// The member that has the address.
        other: u64,
        /// The address.
        addr: String,
    },
    /// The new node does not answer, or another node answers at its address.
    #[error("{0}")]
    NotRunning(String),
    /// The node is not a member.
    #[error("node {0} is not a member (see `cluster member list`)")]
    NotMember(u64),
    /// The node is the only voter.
    #[error(
        "node {0} is the last voter: add another voter first (`cluster member add`), then remove it"
    )]
    LastVoter(u64),
    /// The learner did not catch up in time.
    #[error("node {id} did not catch up within {within:?}: it applied {applied:?}, the leader was at {target} when the wait began; it stays a learner (run `cluster member add` again, or remove it)")]
    CatchUp {
        /// The node.
        id: u64,
        /// The wait.
        within: Duration,
        /// Where it got to.
        applied: Option<u64>,
        /// The leader's applied index when the wait began.
        target: u64,
    },
    /// An answer of the wrong kind.
    #[error("the tracker answered {0} instead")]
    Unexpected(String),
}

/// A node to add: it runs already, started without `--initial-cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joining {
    /// Its Raft id.
    pub id: u64,
    /// Its client API address.
    pub api_addr: String,
    /// Its Raft address.
    pub raft_addr: String,
}

/// How far a learner has come, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUpProgress {
    /// What it has applied.
    pub applied: Option<u64>,
    /// What it must reach (the leader's applied index when the wait began).
    pub target: u64,
}

/// Every member of the leader's membership, by id.
///
/// # Errors
/// [`MembersError::Api`] (e.g. `Forbidden` without the admin credential).
pub async fn list(client: &TrackerClient) -> Result<Vec<Member>, MembersError> {
    match client.admin(AdminRequest::Members).await? {
        Response::Members(m) => Ok(m),
        other => Err(MembersError::Unexpected(format!("{other:?}"))),
    }
}

/// The voters among `members`.
pub fn voters(members: &[Member]) -> Vec<u64> {
    members.iter().filter(|m| m.voter).map(|m| m.id).collect()
}

/// Adds `node`, which must be running: as a learner, then, once it has applied as far as the
/// leader had when the wait began (within `catch_up`, `progress` told at every look), as a
/// voter. Returns the voters after the change. A node that is a learner already goes on from
/// there, so an interrupted add can be run again.
///
/// # Errors
/// [`MembersError`]: a voter already, an address in use, the node not answering as itself, not
/// caught up in time, or the cluster's refusal.
pub async fn add(
    client: &TrackerClient,
    tls: &ClientTls,
    node: &Joining,
    catch_up: Duration,
    mut progress: impl FnMut(CatchUpProgress),
) -> Result<Vec<u64>, MembersError> {
    let members = list(client).await?;
    for m in &members {
        if m.id == node.id && m.voter {
            return Err(MembersError::AlreadyVoter(node.id));
        }
        if m.id != node.id {
            for addr in [&node.api_addr, &node.raft_addr] {
                if *addr == m.api_addr || *addr == m.raft_addr {
                    return Err(MembersError::AddressTaken {
                        id: node.id,
                        other: m.id,
                        addr: addr.clone(),
                    });
                }
            }
        }
    }
    let status = node_status_within(tls, &node.api_addr, NODE_UP_WAIT)
        .await
        .map_err(|e| {
            MembersError::NotRunning(format!(
                "node {} does not answer at {}: {e}; start it there first (`tracker --id {} \
             --api-addr {} --raft-addr {}` with its certificate, without --initial-cluster)",
                node.id, node.api_addr, node.id, node.api_addr, node.raft_addr
            ))
        })?;
    if status.node_id != node.id {
        return Err(MembersError::NotRunning(format!(
            "node {} answers at {}, not node {}",
            status.node_id, node.api_addr, node.id
        )));
    }
    client
        .admin(AdminRequest::AddLearner {
            node_id: node.id,
            api_addr: node.api_addr.clone(),
            raft_addr: node.raft_addr.clone(),
        })
        .await?;
    wait_caught_up(client, tls, node, catch_up, &mut progress).await?;
    let mut voters = voters(&list(client).await?);
    if !voters.contains(&node.id) {
        voters.push(node.id);
    }
    match client
        .admin(AdminRequest::ChangeMembership {
            voters: voters.clone(),
        })
        .await?
    {
        Response::Done => Ok(voters),
        other => Err(MembersError::Unexpected(format!("{other:?}"))),
    }
}

/// Waits until the learner has applied as far as the leader had when the wait began (a fixed
/// target: under steady writes the leader keeps moving ahead).
async fn wait_caught_up(
    client: &TrackerClient,
    tls: &ClientTls,
    node: &Joining,
    within: Duration,
    progress: &mut impl FnMut(CatchUpProgress),
) -> Result<(), MembersError> {
    let deadline = Instant::now() + within;
    let leader_addr = match client.leader_hint() {
        Some(a) => a,
        None => leader_addr(client).await?,
    };
    let target = node_status(tls, &leader_addr)
        .await?
        .last_applied
        .unwrap_or(0);
    loop {
        let applied = node_status(tls, &node.api_addr)
            .await
            .ok()
            .and_then(|s| s.last_applied);
        progress(CatchUpProgress { applied, target });
        if applied >= Some(target) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(MembersError::CatchUp {
                id: node.id,
                within,
                applied,
                target,
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The leader's client address, by asking the cluster.
async fn leader_addr(client: &TrackerClient) -> Result<String, MembersError> {
    match client
        .admin(AdminRequest::AwaitLeader {
            not_api_addr: None,
            max_wait_ms: 2000,
        })
        .await?
    {
        Response::Leader { api_addr, .. } => Ok(api_addr),
        other => Err(MembersError::Unexpected(format!("{other:?}"))),
    }
}

/// Asks `addr` for its status until it answers or `within` has passed (a node just started may
/// not listen yet).
async fn node_status_within(
    tls: &ClientTls,
    addr: &str,
    within: Duration,
) -> Result<NodeStatus, ApiError> {
    let deadline = Instant::now() + within;
    loop {
        match node_status(tls, addr).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}

async fn node_status(tls: &ClientTls, addr: &str) -> Result<NodeStatus, ApiError> {
    TrackerClient::node_status(addr, tls, false, STATUS_TIMEOUT).await
}

/// Takes node `id` out of the voters and the learners; returns the voters after the change.
///
/// # Errors
/// [`MembersError::NotMember`], [`MembersError::LastVoter`], or the cluster's refusal.
pub async fn remove(client: &TrackerClient, id: u64) -> Result<Vec<u64>, MembersError> {
    let members = list(client).await?;
    let Some(member) = members.iter().find(|m| m.id == id) else {
        return Err(MembersError::NotMember(id));
    };
    let mut voters = voters(&members);
    if member.voter && voters.len() == 1 {
        return Err(MembersError::LastVoter(id));
    }
    match client
        .admin(AdminRequest::RemoveNode { node_id: id })
        .await?
    {
        Response::Done => {
            voters.retain(|&v| v != id);
            Ok(voters)
        }
        other => Err(MembersError::Unexpected(format!("{other:?}"))),
    }
}
