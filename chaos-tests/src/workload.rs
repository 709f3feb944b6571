//! The client workload of a chaos run: each client signs up, then creates uniquely named groups
//! one after another and, every few writes, lists the groups to check that it sees every group it
//! was told was created (read-your-writes across failover) and never fewer than before
//! (monotonic reads).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::tracker_msg::{ReadRequest, Response, WriteOp};
use proto::{ApiError, ClientConfig, TrackerClient};

use crate::history::{History, Outcome, ReadViolation, WriteRecord};

/// Runs client `id` until `stop` is set.
pub async fn task_client(
    id: usize,
    trackers: Vec<String>,
    history: Arc<History>,
    stop: Arc<AtomicBool>,
) {
    let mut cfg = ClientConfig::new(trackers);
    cfg.deadline = Duration::from_secs(10);
    cfg.attempt_timeout = Duration::from_secs(2);
    let Ok(client) = TrackerClient::new(cfg) else {
        return;
    };
    let user = format!("chaos{id}");
    let password = format!("password-{id}");
    let mut token = None;
    while token.is_none() && !stop.load(Ordering::Relaxed) {
        let _ = client
            .write(WriteOp::CreateUser {
                username: user.clone(),
                password: password.clone(),
            })
            .await;
        if let Ok(Response::Session { token: t, .. }) = client
            .write(WriteOp::Login {
                username: user.clone(),
                password: password.clone(),
            })
            .await
        {
            token = Some(t);
        }
    }
    let Some(token) = token else { return };
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut last_seen_count = 0usize;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let key = format!("c{id}-{seq:06}");
        let sent_ms = history.now_ms();
        let outcome = match client
            .write(WriteOp::CreateGroup {
                token: token.clone(),
                group: key.clone(),
            })
            .await
        {
            Ok(_) => Outcome::Acked,
            Err(
                e @ (ApiError::NoTrackerReachable { .. }
                | ApiError::Unavailable(_)
                | ApiError::NotLeader { .. }),
            ) => Outcome::Unknown(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        if outcome == Outcome::Acked {
            acked.insert(key.clone());
        }
        history.record_write(WriteRecord {
            client: id,
            key,
            sent_ms,
            done_ms: history.now_ms(),
            outcome,
        });
        if seq.is_multiple_of(5) {
            if let Ok(Response::Groups(groups)) = client
                .read(ReadRequest::ListGroups {
                    token: token.clone(),
                })
                .await
            {
                let prefix = format!("c{id}-");
                let mine: BTreeSet<String> = groups
                    .into_iter()
                    .map(|g| g.name)
                    .filter(|n| n.starts_with(&prefix))
                    .collect();
                let missing: Vec<&String> = acked.iter().filter(|k| !mine.contains(*k)).collect();
                let violation = if !missing.is_empty() {
                    Some(ReadViolation {
                        client: id,
                        what: format!("read misses acknowledged writes {missing:?}"),
                    })
                } else if mine.len() < last_seen_count {
                    Some(ReadViolation {
                        client: id,
                        what: format!(
                            "read went backwards: {} groups after {}",
                            mine.len(),
                            last_seen_count
                        ),
                    })
                } else {
                    None
                };
                last_seen_count = last_seen_count.max(mine.len());
                history.record_read(violation);
            }
        }
    }
}
