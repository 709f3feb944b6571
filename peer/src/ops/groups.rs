//! Groups as the home's user sees and changes them: create (closed or open), join, leave, the
//! owner's pending requests, accepting or refusing them, removing a member, and the list of
//! every group.

use proto::tracker_msg::{GroupSummary, Response, WriteOp};
use proto::TrackerClient;

use crate::error::TrackerOpError;
use crate::home::Home;

/// One write about a group by the home's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// Create a group the user owns.
    Create,
    /// Ask the owner to let the user in.
    Join,
    /// Leave (or withdraw a pending request).
    Leave,
    /// Owner: accept the join request of this user.
    Accept(String),
    /// Create an open group the user owns: anyone who joins is a member at once.
    CreateOpen,
    /// Owner: refuse the join request of this user (they may ask again).
    Reject(String),
    /// Owner: remove this member (not the owner).
    Remove(String),
}

/// Where a change left the user it was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Done as asked (for a join: the request waits for the owner).
    Done,
    /// A join of an open group: the user is a member at once.
    Joined,
}

/// Applies `change` to `group` for the home's user.
///
/// # Errors
/// Not logged in, or the tracker's refusal (exists, not found, not owner, quota, ...).
pub async fn change(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
    change: GroupChange,
) -> Result<ChangeOutcome, TrackerOpError> {
    let token = home.session()?.token;
    let group = group.to_string();
    let op = match change {
        GroupChange::Create => WriteOp::CreateGroup { token, group },
        GroupChange::Join => WriteOp::JoinGroup { token, group },
        GroupChange::Leave => WriteOp::LeaveGroup { token, group },
        GroupChange::Accept(username) => WriteOp::AcceptJoin {
            token,
            group,
            username,
        },
        GroupChange::CreateOpen => WriteOp::CreateOpenGroup { token, group },
        GroupChange::Reject(username) => WriteOp::RejectJoin {
            token,
            group,
            username,
        },
        GroupChange::Remove(username) => WriteOp::RemoveMember {
            token,
            group,
            username,
        },
    };
    Ok(match tracker.write(op).await? {
        Response::Joined => ChangeOutcome::Joined,
        _ => ChangeOutcome::Done,
    })
}

/// Every group, as the home's user sees them (every page).
///
/// # Errors
/// Not logged in, or the tracker's refusal.
pub async fn list(
    tracker: &TrackerClient,
    home: &Home,
) -> Result<Vec<GroupSummary>, TrackerOpError> {
    let token = home.session()?.token;
    Ok(proto::pages::all_groups(tracker, token).await?)
}

/// The pending join requests of `group`, oldest first (owner only).
///
/// # Errors
/// Not logged in, not the owner, no such group.
pub async fn requests(
    tracker: &TrackerClient,
    home: &Home,
    group: &str,
) -> Result<Vec<String>, TrackerOpError> {
    let token = home.session()?.token;
    Ok(proto::pages::all_requests(tracker, token, group).await?)
}
