//! The client workload of a chaos run: each client signs up, registers two peer ids, then creates
//! uniquely named groups one after another and, every few writes, lists the groups to check that
//! it sees every group it was told was created (read-your-writes across failover) and never fewer
//! than before (monotonic reads). Between group creations it also joins other clients' groups,
//! accepts requests to its own, registers files and reports chunks ([`crate::client_ops`]).
//! Every write and read goes into the [`History`] with the node that answered it; the listings
//! also keep the workload groups they showed, for [`crate::cross_client`].

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proto::tls::ClientTls;
use proto::tracker_msg::{GroupSummary, ReadRequest, Response, SessionToken, WriteOp};
use proto::{ClientConfig, TrackerClient};

use crate::client_ops::ClientOps;
use crate::history::{History, Outcome, ReadKind, ReadRecord, ReadViolation, WriteRecord};
use crate::seen_groups::{group_name, SeenGroups};

pub use crate::client_ops::USER_PREFIX;

/// Username and password of client `id`.
pub fn credentials(id: usize) -> (String, String) {
    (format!("{USER_PREFIX}{id}"), format!("password-{id}"))
}

/// The tracker client settings of the workload (and of the checkers), trusting `tls`.
pub fn client_config(trackers: Vec<String>, tls: ClientTls) -> ClientConfig {
    let mut cfg = ClientConfig::new(trackers, tls);
    cfg.deadline = Duration::from_secs(10);
    cfg.attempt_timeout = Duration::from_secs(2);
    cfg
}

/// Runs client `id` until `stop` is set.
pub async fn task_client(
    id: usize,
    trackers: Vec<String>,
    tls: ClientTls,
    history: Arc<History>,
    stop: Arc<AtomicBool>,
) {
    let Ok(client) = TrackerClient::new(client_config(trackers, tls)) else {
        return;
    };
    let (user, password) = credentials(id);
    let mut token = None;
    while token.is_none() && !stop.load(Ordering::Relaxed) {
        let _ = client
            .write(WriteOp::CreateUser {
                username: user.clone(),
                password: password.clone(),
                display_name: None,
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
    let mut ops = ClientOps::new(id, &user);
    if !ops.register_peers(&client, &token, &stop).await {
        return;
    }
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut last_seen_count = 0usize;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let key = group_name(id, seq);
        let sent_ms = history.now_ms();
        let (answer, served_by) = client
            .write_traced(WriteOp::CreateGroup {
                token,
                group: key.clone(),
            })
            .await;
        let done_us = history.now_us();
        let outcome = Outcome::of(&answer);
        if outcome == Outcome::Acked {
            acked.insert(key.clone());
            ops.group_created(&key);
        }
        history.record_write(WriteRecord {
            client: id,
            key,
            sent_ms,
            done_ms: done_us / 1000,
            done_us,
            outcome,
            served_by,
        });
        if seq.is_multiple_of(2) {
            ops.file_step(&client, &token, &history).await;
        }
        if seq % 5 == 2 {
            ops.accept_step(&client, &token, &history).await;
        }
        if seq.is_multiple_of(5) {
            if let Some((listed_ms, groups)) = list_groups(id, &client, &token, &history).await {
                let violation = check_listing(id, listed_ms, &groups, &acked, &mut last_seen_count);
                history.record_read_check(violation);
                ops.join_step(&client, &token, &history, &groups).await;
            }
        }
    }
}

/// Lists every group as client `id`, records the read (with the workload groups it showed) and
/// returns when it was sent and the listing, if the cluster answered one.
async fn list_groups(
    id: usize,
    client: &TrackerClient,
    token: &SessionToken,
    history: &History,
) -> Option<(u64, Vec<GroupSummary>)> {
    let sent_us = history.now_us();
    let sent_ms = sent_us / 1000;
    let token = *token;
    let (answer, served_by) = proto::pages::collect_traced(
        client,
        |page| ReadRequest::ListGroups { token, page },
        |r| match r {
            Response::Groups(page) => Some(page),
            _ => None,
        },
    )
    .await;
    let done_ms = history.now_ms();
    let outcome = Outcome::of(&answer);
    let groups = answer.ok();
    let seen = groups
        .as_ref()
        .map(|g| SeenGroups::of(g.iter().map(|g| g.name.as_str())));
    history.record_read(ReadRecord {
        client: id,
        kind: ReadKind::ListGroups,
        key: String::new(),
        sent_ms,
        sent_us,
        done_ms,
        outcome,
        served_by,
        answer: groups
            .as_ref()
            .map(|g| format!("{} groups", g.len()))
            .unwrap_or_default(),
        seen,
    });
    groups.map(|g| (sent_ms, g))
}

/// Read-your-writes and monotonic reads of client `id` over one listing of every group, sent
/// at `sent_ms`.
fn check_listing(
    id: usize,
    sent_ms: u64,
    groups: &[GroupSummary],
    acked: &BTreeSet<String>,
    last_seen_count: &mut usize,
) -> Option<ReadViolation> {
    let prefix = format!("c{id}-");
    let mine: BTreeSet<&str> = groups
        .iter()
        .map(|g| g.name.as_str())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|k| !mine.contains(k.as_str()))
        .collect();
    let violation = if !missing.is_empty() {
        Some(ReadViolation {
            client: id,
            what: format!("read misses acknowledged writes {missing:?}"),
            at_ms: sent_ms,
            missing: missing.into_iter().cloned().collect(),
        })
    } else if mine.len() < *last_seen_count {
        Some(ReadViolation {
            client: id,
            what: format!(
                "read went backwards: {} groups after {}",
                mine.len(),
                last_seen_count
            ),
            at_ms: sent_ms,
            missing: Vec::new(),
        })
    } else {
        None
    };
    *last_seen_count = (*last_seen_count).max(mine.len());
    violation
}
