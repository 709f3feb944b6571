//! The admin's membership list: every voter and learner of the leader's membership, with the
//! addresses the membership records. The caller ([`super::admin`]) has checked the credential.

use proto::tracker_msg::{Member, Response};
use proto::ApiError;

use crate::app::App;

/// The leader's membership (the latest it knows, committed or not), by id.
///
/// # Errors
/// `NotLeader` or `Unavailable` on a node that does not lead.
pub fn list(app: &App) -> Result<Response, ApiError> {
    app.check_leader()?;
    // Cloned out of the watch: holding its borrow would stall the Raft core.
    let config = app.raft.metrics().borrow().membership_config.clone();
    let membership = config.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    let members = membership
        .nodes()
        .map(|(id, node)| Member {
            id: *id,
            api_addr: node.api_addr.clone(),
            raft_addr: node.raft_addr.clone(),
            voter: voters.contains(id),
        })
        .collect();
    Ok(Response::Members(members))
}
