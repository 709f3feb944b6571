//! Pre-vote (the Raft thesis, section 9.6), done beside openraft 0.9, which has none. A campaign
//! raises the candidate's term, and the leader steps down as soon as any answer carries that
//! higher term, even when the others still hear it fine. So before a campaign that no closed
//! connection justifies (a silent leader, or no leader for a while; see
//! [`crate::election::watchdog`]), the node asks every other voter whether it still hears a
//! leader ([`super::client::ask_hears_leader`]), and campaigns only if, with itself, a majority
//! does not. A voter that does not answer in time counts as hearing one.

use std::time::Duration;

use crate::raft_types::{NodeId, Raft};
use proto::tls::NodeTls;

/// Whether a majority of the voters, node `id` included, hears no leader; each other voter gets
/// `ttl` to answer. `Err` says which voters still hear one, for the log.
///
/// # Errors
/// A one-line reason when the campaign should not start.
pub async fn majority_hears_no_leader(
    raft: &Raft,
    id: NodeId,
    tls: &NodeTls,
    ttl: Duration,
) -> Result<(), String> {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: Vec<NodeId> = membership.voter_ids().collect();
    let mut asks = tokio::task::JoinSet::new();
    for v in voters.iter().copied().filter(|&v| v != id) {
        let Some(addr) = membership.get_node(&v).map(|n| n.raft_addr.clone()) else {
            continue;
        };
        let tls = tls.clone();
        asks.spawn(async move {
            (
                v,
                super::client::ask_hears_leader(id, v, addr, tls, ttl).await,
            )
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = asks.join_next().await {
        if let Ok(answer) = joined {
            answers.push(answer);
        }
    }
    let silent = 1 + answers
        .iter()
        .filter(|(_, a)| matches!(a, Ok(false)))
        .count();
    if silent * 2 > voters.len() {
        return Ok(());
    }
    let heard: Vec<String> = answers
        .iter()
        .map(|(v, a)| match a {
            Ok(true) => format!("node {v} hears a leader"),
            Ok(false) => format!("node {v} hears none"),
            Err(e) => format!("node {v}: {e}"),
        })
        .collect();
    Err(heard.join("; "))
}
