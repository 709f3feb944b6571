//! Cluster administration: node status (local), adding learners, changing voters and removing
//! nodes, showing and setting the quotas (leader; [`super::quotas`]), listing the members
//! ([`super::members`]) and exporting snapshots ([`super::snapshot`]).
//!
//! Only an admin connection ([`Role::Admin`]: its client certificate is valid for
//! `admin.tracker`) may change or list the membership, change or read the quotas, export a
//! snapshot, or ask for the state digest; every such request from
//! another connection is refused before it does anything ([`require_admin`]). Two requests stay
//! open to every connection because every client needs them and they reveal nothing a
//! `NotLeader` answer does not: `Status` without the digest (read from the Raft metrics, no lock
//! the apply path takes) and `AwaitLeader` (the failover question of every client).

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::{ChangeMembers, ServerState};
use tracing::Instrument;

use proto::tracker_msg::{AdminRequest, NodeStatus, Response};
use proto::ApiError;

use crate::app::group_commit::write_error;
use crate::app::App;
use crate::raft_types::NodeInfo;

/// What a client API connection may do, from the certificate it presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No certificate, or one not valid for `admin.tracker`: a user's peer, whatever it logged
    /// in as.
    User,
    /// A certificate of the cluster CA valid for `admin.tracker`.
    Admin,
}

/// The refusal of an admin-only request on a user connection.
fn require_admin(role: Role) -> Result<(), ApiError> {
    match role {
        Role::Admin => Ok(()),
        Role::User => Err(ApiError::Forbidden(
            "admin credential required: pass --admin-cert/--admin-key or run on the cluster DIR"
                .into(),
        )),
    }
}

/// Handles one admin request from a connection of `role`.
///
/// # Errors
/// [`ApiError::Forbidden`] for an admin-only request on a user connection, else any
/// [`ApiError`].
pub async fn handle(app: &App, a: AdminRequest, role: Role) -> Result<Response, ApiError> {
    let span = tracing::debug_span!("admin", node = app.id, ?role);
    async move {
        match &a {
            AdminRequest::Status { digest: false } | AdminRequest::AwaitLeader { .. } => {}
            AdminRequest::Status { digest: true }
            | AdminRequest::AddLearner { .. }
            | AdminRequest::ChangeMembership { .. }
            | AdminRequest::RemoveNode { .. }
            | AdminRequest::GetQuotas
            | AdminRequest::SetQuotas(_)
            | AdminRequest::Members
            | AdminRequest::SnapshotBegin { .. }
            | AdminRequest::SnapshotRead { .. }
            | AdminRequest::SnapshotEnd { .. } => require_admin(role)?,
        }
        match a {
            AdminRequest::Status { digest } => Ok(Response::Status(status(app, digest).await?)),
            AdminRequest::AddLearner {
                node_id,
                api_addr,
                raft_addr,
            } => {
                app.check_leader()?;
                let node = NodeInfo {
                    api_addr,
                    raft_addr,
                };
                let fut = app.raft.add_learner(node_id, node, true);
                match tokio::time::timeout(app.request_timeout() * 10, fut).await {
                    Err(_) => Err(ApiError::Unavailable("adding the learner timed out".into())),
                    Ok(Ok(_)) => Ok(Response::Done),
                    Ok(Err(e)) => Err(write_error(app.id, e)),
                }
            }
            AdminRequest::AwaitLeader {
                not_api_addr,
                max_wait_ms,
            } => await_leader(app, not_api_addr, max_wait_ms).await,
            AdminRequest::RemoveNode { node_id } => remove_node(app, node_id).await,
            AdminRequest::GetQuotas => super::quotas::show(app).await,
            AdminRequest::SetQuotas(changes) => super::quotas::set(app, changes).await,
            AdminRequest::Members => super::members::list(app),
            AdminRequest::SnapshotBegin { local } => super::snapshot::begin(app, local).await,
            AdminRequest::SnapshotRead { id, offset, len } => {
                super::snapshot::read(app, id, offset, len).await
            }
            AdminRequest::SnapshotEnd { id } => Ok(super::snapshot::end(app, id)),
            AdminRequest::ChangeMembership { voters } => {
                app.check_leader()?;
                if voters.is_empty() {
                    return Err(ApiError::InvalidRequest(
                        "the voter set cannot be empty".into(),
                    ));
                }
                let set: BTreeSet<u64> = voters.into_iter().collect();
                let fut = app.raft.change_membership(set, false);
                match tokio::time::timeout(app.request_timeout() * 10, fut).await {
                    Err(_) => Err(ApiError::Unavailable("membership change timed out".into())),
                    Ok(Ok(_)) => Ok(Response::Done),
                    Ok(Err(e)) => Err(write_error(app.id, e)),
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// Removes `node_id` from the voters (if it is one), then from the learners.
async fn remove_node(app: &App, node_id: u64) -> Result<Response, ApiError> {
    app.check_leader()?;
    let membership = app.raft.metrics().borrow().membership_config.clone();
    let membership = membership.membership();
    let is_voter = membership.voter_ids().any(|v| v == node_id);
    let is_learner = membership.learner_ids().any(|l| l == node_id);
    if !is_voter && !is_learner {
        return Ok(Response::Done);
    }
    if is_voter && membership.voter_ids().count() == 1 {
        return Err(ApiError::InvalidRequest(format!(
            "node {node_id} is the last voter; add another voter before removing it"
        )));
    }
    let budget = app.request_timeout() * 10;
    // Without `retain`, a removed voter does not stay behind as a learner.
    let ids = BTreeSet::from([node_id]);
    let change = if is_voter {
        ChangeMembers::RemoveVoters(ids)
    } else {
        ChangeMembers::RemoveNodes(ids)
    };
    match tokio::time::timeout(budget, app.raft.change_membership(change, false)).await {
        Err(_) => Err(ApiError::Unavailable(format!(
            "removing node {node_id} timed out; retry, it is safe"
        ))),
        Ok(Ok(_)) => Ok(Response::Done),
        Ok(Err(e)) => Err(write_error(app.id, e)),
    }
}

/// Longest a client may park an [`AdminRequest::AwaitLeader`] on a node.
const MAX_AWAIT_LEADER: Duration = Duration::from_secs(3);

/// Answers the leader this node knows once it is sure that leader is alive: at once if this node
/// leads or knows a leader other than `not_api_addr` (the one the client could not reach), else as
/// soon as an AppendEntries arrives after the question (a new leader, or the old one back). When
/// the wait runs out, `NotLeader` with whatever it knows.
async fn await_leader(
    app: &App,
    not_api_addr: Option<String>,
    max_wait_ms: u64,
) -> Result<Response, ApiError> {
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(max_wait_ms).min(MAX_AWAIT_LEADER);
    let mut metrics = app.raft.metrics();
    let mut contact = app.leader_contact.subscribe();
    contact.borrow_and_update();
    let mut heard_from_leader = false;
    loop {
        // Clone out of the watch: holding the borrow across an await would stall RaftCore.
        let (leader_id, api_addr, leading) = {
            let m = metrics.borrow_and_update();
            let id = m.current_leader;
            let addr = id.and_then(|l| {
                m.membership_config
                    .membership()
                    .get_node(&l)
                    .map(|n| n.api_addr.clone())
            });
            (id, addr, m.state == ServerState::Leader)
        };
        if let (Some(leader_id), Some(api_addr)) = (leader_id, api_addr.clone()) {
            let other = not_api_addr.as_deref() != Some(api_addr.as_str());
            if leading || other || heard_from_leader {
                return Ok(Response::Leader {
                    leader_id,
                    api_addr,
                });
            }
        }
        tokio::select! {
            changed = metrics.changed() => {
                if changed.is_err() {
                    return Err(ApiError::Unavailable(format!("node {} is stopping", app.id)));
                }
            }
            changed = contact.changed() => {
                if changed.is_err() {
                    return Err(ApiError::Unavailable(format!("node {} is stopping", app.id)));
                }
                heard_from_leader = true;
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(ApiError::NotLeader {
                    leader_id,
                    leader_api_addr: api_addr,
                });
            }
        }
    }
}

/// This node's view from its Raft metrics, and if `with_digest` a digest taken at a stable
/// `last_applied`. The digest reads every data table under the read gate (apply waits for it),
/// so it is admin-only and runs on the blocking pool, not on the executor that serves requests.
async fn status(app: &App, with_digest: bool) -> Result<NodeStatus, ApiError> {
    let digest = if with_digest {
        let state = app.state.clone();
        let digest = tokio::task::spawn_blocking(move || state.stable_digest())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Some(digest)
    } else {
        None
    };
    let m = app.raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let role = match m.state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    };
    let leader_api_addr = m
        .current_leader
        .and_then(|l| membership.get_node(&l).map(|n| n.api_addr.clone()));
    Ok(NodeStatus {
        node_id: app.id,
        role: role.to_string(),
        term: m.current_term,
        last_log_index: m.last_log_index,
        last_applied: m.last_applied.map(|l| l.index),
        snapshot_index: m.snapshot.map(|l| l.index),
        purged_index: m.purged.map(|l| l.index),
        leader_id: m.current_leader,
        leader_api_addr,
        voters: membership.voter_ids().collect(),
        learners: membership.learner_ids().collect(),
        pid: std::process::id(),
        digest,
    })
}
