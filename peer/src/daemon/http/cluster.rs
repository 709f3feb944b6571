//! `GET /api/v1/cluster`: each tracker of the client's list asked for its status directly (the
//! `Status` any client may ask for: Raft role, term and indexes, no state digest), in parallel,
//! within [`NODE_TIMEOUT`] each.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::json;

use proto::TrackerClient;

use super::HttpState;

/// How long one node has to answer.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(2);

/// One node as shown.
#[derive(Debug, Serialize)]
pub struct NodeRow {
    id: Option<u64>,
    api_addr: String,
    reachable: bool,
    role: Option<String>,
    term: Option<u64>,
    last_log_index: Option<u64>,
    applied: Option<u64>,
    leader_id: Option<u64>,
    error: Option<String>,
}

/// `GET /api/v1/cluster`: `{"leader", "nodes", "reachable"}`.
pub async fn status(State(s): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    let tls = s.daemon.tracker_tls.clone();
    let asks: Vec<_> = s
        .daemon
        .tracker
        .trackers()
        .into_iter()
        .map(|addr| {
            let tls = tls.clone();
            tokio::spawn(async move {
                let answer = TrackerClient::node_status(&addr, &tls, false, NODE_TIMEOUT).await;
                (addr, answer)
            })
        })
        .collect();
    let mut nodes = Vec::with_capacity(asks.len());
    for ask in asks {
        let Ok((addr, answer)) = ask.await else {
            continue;
        };
        nodes.push(match answer {
            Ok(n) => NodeRow {
                id: Some(n.node_id),
                api_addr: addr,
                reachable: true,
                role: Some(n.role),
                term: Some(n.term),
                last_log_index: n.last_log_index,
                applied: n.last_applied,
                leader_id: n.leader_id,
                error: None,
            },
            Err(e) => NodeRow {
                id: None,
                api_addr: addr,
                reachable: false,
                role: None,
                term: None,
                last_log_index: None,
                applied: None,
                leader_id: None,
                error: Some(e.to_string()),
            },
        });
    }
    // The leader of the highest term any node reports.
    let leader = nodes
        .iter()
        .filter(|n| n.reachable)
        .max_by_key(|n| (n.term, n.leader_id.is_some()))
        .and_then(|n| n.leader_id);
    let reachable = nodes.iter().filter(|n| n.reachable).count();
    Json(json!({ "leader": leader, "nodes": nodes, "reachable": reachable }))
}
