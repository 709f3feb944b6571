//! The final-state checker of the client-library writes other than group creation
//! ([`OpRecord`]s), run once the faults have stopped and the nodes have converged:
//! - an acknowledged join leaves the user a member or with a request pending; an acknowledged
//!   accept leaves the user a member; every group's member count equals the users that see
//!   themselves as members (nobody was added twice);
//! - an acknowledged file registration is listed with the registered size, chunk count and hash
//!   (and an unknown one, if listed, with exactly those); an acknowledged chunk report shows in
//!   the reporting peer's availability;
//! - nothing the workload sends should be refused, so a definite refusal is a finding, and its
//!   effect must be absent. The one exception: an accept refused because the request is gone,
//!   after an earlier accept of the same request whose outcome is unknown (that one applied).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use serde::Serialize;

use proto::tracker_msg::{
    FileSummary, GroupSummary, PeerActivity, ReadRequest, Response, SessionToken, Source, WriteOp,
};
use proto::{ApiError, TrackerClient};

use crate::history::{OpKind, OpRecord, Outcome};
use crate::workload::{client_config, credentials, USER_PREFIX};

/// How many of one kind of write were sent and what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// Sent.
    pub sent: usize,
    /// Acknowledged.
    pub acked: usize,
    /// Refused.
    pub failed: usize,
    /// Outcome unknown.
    pub unknown: usize,
}

/// Counts by [`OpKind::label`].
pub fn op_counts(ops: &[OpRecord]) -> BTreeMap<String, OpCounts> {
    let mut out: BTreeMap<String, OpCounts> = BTreeMap::new();
    for o in ops {
        let c = out.entry(o.op.label().to_string()).or_default();
        c.sent += 1;
        match o.outcome {
            Outcome::Acked => c.acked += 1,
            Outcome::Failed(_) => c.failed += 1,
            Outcome::Unknown(_) => c.unknown += 1,
        }
    }
    out
}

/// Checks every op against the cluster's final state; returns what is wrong.
///
/// # Errors
/// If the cluster cannot be read (no tracker answers, a workload user cannot log in).
pub async fn check(
    trackers: &[String],
    tls: &proto::tls::ClientTls,
    clients: usize,
    ops: &[OpRecord],
) -> anyhow::Result<Vec<String>> {
    let client = TrackerClient::new(client_config(trackers.to_vec(), tls.clone()))?;
    let mut tokens: BTreeMap<String, SessionToken> = BTreeMap::new();
    for id in 0..clients {
        let (username, password) = credentials(id);
        match client
            .write(WriteOp::Login {
                username: username.clone(),
                password,
            })
            .await
        {
            Ok(Response::Session { token, .. }) => {
                tokens.insert(username, token);
            }
            // A client that never signed up sent nothing.
            Err(ApiError::BadCredentials) => {}
            other => bail!("checker: cannot log in as {username}: {other:?}"),
        }
    }
    let mut views: BTreeMap<String, BTreeMap<String, GroupSummary>> = BTreeMap::new();
    for (user, token) in &tokens {
        let groups = proto::pages::all_groups(&client, *token).await?;
        views.insert(
            user.clone(),
            groups.into_iter().map(|g| (g.name.clone(), g)).collect(),
        );
    }
    let mut violations = check_membership(&views, ops);
    violations.extend(check_files(&client, &tokens, ops).await?);
    Ok(violations)
}

fn user_of(o: &OpRecord) -> String {
    credentials(o.client).0
}

/// Joins, accepts and member counts.
fn check_membership(
    views: &BTreeMap<String, BTreeMap<String, GroupSummary>>,
    ops: &[OpRecord],
) -> Vec<String> {
    let mut v = Vec::new();
    let seen = |user: &str, group: &str| views.get(user).and_then(|m| m.get(group));
    for o in ops {
        match (&o.op, &o.outcome) {
            (OpKind::Join { group, user }, outcome) => {
                let s = seen(user, group);
                let present = s.is_some_and(|s| s.is_member || s.request_pending);
                match outcome {
                    Outcome::Acked if !present => v.push(format!(
                        "acknowledged join of {user} to {group} is absent (neither member nor pending)"
                    )),
                    Outcome::Failed(why) => {
                        v.push(format!("join of {user} to {group} refused unexpectedly: {why}"));
                        if present {
                            v.push(format!("refused join of {user} to {group} is present"));
                        }
                    }
                    _ => {}
                }
            }
            (OpKind::Accept { group, user }, outcome) => {
                let member = seen(user, group).is_some_and(|s| s.is_member);
                match outcome {
                    Outcome::Acked if !member => v.push(format!(
                        "acknowledged accept of {user} into {group} is absent: not a member"
                    )),
                    Outcome::Failed(why) => {
                        let earlier_unknown = ops.iter().any(|p| {
                            p.sent_ms < o.sent_ms
                                && matches!(p.outcome, Outcome::Unknown(_))
                                && p.op == o.op
                        });
                        if !earlier_unknown {
                            v.push(format!(
                                "accept of {user} into {group} refused unexpectedly: {why}"
                            ));
                        } else if !member {
                            v.push(format!(
                                "accept of {user} into {group} refused after an unknown accept, but {user} is no member"
                            ));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // Exactly once: every member of a workload group is a workload user who sees itself as one.
    let mut members: BTreeMap<&str, (u32, BTreeSet<&str>)> = BTreeMap::new();
    for (user, groups) in views {
        for (name, g) in groups {
            if !g.owner.starts_with(USER_PREFIX) {
                continue;
            }
            let e = members.entry(name).or_default();
            e.0 = g.member_count;
            if g.is_member {
                e.1.insert(user);
            }
        }
    }
    for (group, (count, users)) in members {
        if count as usize != users.len() {
            v.push(format!(
                "group {group} counts {count} members but {} users are members ({users:?})",
                users.len()
            ));
        }
    }
    v
}

/// Registered files and chunk reports.
async fn check_files(
    client: &TrackerClient,
    tokens: &BTreeMap<String, SessionToken>,
    ops: &[OpRecord],
) -> anyhow::Result<Vec<String>> {
    let mut v = Vec::new();
    let token_of = |user: &str| tokens.get(user).cloned();
    // (user, group) -> files listed.
    let mut listed: BTreeMap<(String, String), BTreeMap<String, FileSummary>> = BTreeMap::new();
    for o in ops {
        let OpKind::RegisterFile { group, manifest } = &o.op else {
            continue;
        };
        let user = user_of(o);
        let Some(token) = token_of(&user) else {
            v.push(format!("{user} registered files but cannot log in"));
            continue;
        };
        let key = (user.clone(), group.clone());
        if !listed.contains_key(&key) {
            let files = proto::pages::all_files(client, token, group).await?;
            listed.insert(
                key.clone(),
                files.into_iter().map(|f| (f.name.clone(), f)).collect(),
            );
        }
        let found = listed.get(&key).and_then(|m| m.get(&manifest.name));
        let same = found.is_some_and(|f| {
            f.size_bytes == manifest.size_bytes
                && f.file_hash == manifest.file_hash
                && f.chunk_count as usize == manifest.chunk_hashes.len()
        });
        let name = &manifest.name;
        match &o.outcome {
            Outcome::Acked if !same => v.push(format!(
                "acknowledged file {group}/{name} is {}",
                if found.is_some() {
                    "listed with other contents"
                } else {
                    "absent"
                }
            )),
            Outcome::Unknown(_) if found.is_some() && !same => v.push(format!(
                "file {group}/{name} (outcome unknown) is listed with other contents"
            )),
            Outcome::Failed(why) => {
                v.push(format!("file {group}/{name} refused unexpectedly: {why}"));
                if found.is_some() {
                    v.push(format!("refused file {group}/{name} is listed"));
                }
            }
            _ => {}
        }
    }
    // Chunk reports, grouped by (user, peer, group, file).
    let mut reports: BTreeMap<(String, u64, String, String), Vec<&OpRecord>> = BTreeMap::new();
    for o in ops {
        if let OpKind::ReportHave {
            group,
            name,
            peer_id,
            ..
        } = &o.op
        {
            reports
                .entry((user_of(o), *peer_id, group.clone(), name.clone()))
                .or_default()
                .push(o);
        }
    }
    let mut beaten: BTreeSet<u64> = BTreeSet::new();
    for ((user, peer_id, group, name), recs) in reports {
        let Some(token) = token_of(&user) else {
            v.push(format!("{user} reported chunks but cannot log in"));
            continue;
        };
        // Only online peers are listed as sources: a heartbeat brings this one back first.
        if beaten.insert(peer_id) {
            client
                .read(ReadRequest::Heartbeat {
                    token,
                    peer_id,
                    activity: PeerActivity::Active,
                })
                .await?;
        }
        let sources: Vec<Source> = proto::pages::all_sources(client, token, &group, &name, None)
            .await?
            .sources;
        let bits = sources
            .iter()
            .find(|s| s.peer_id == peer_id)
            .map(|s| s.bitfield.clone())
            .unwrap_or_default();
        let held = |c: u32| {
            bits.get(c as usize / 8)
                .is_some_and(|b| b & (1 << (c % 8)) != 0)
        };
        for o in recs {
            let OpKind::ReportHave { chunks, .. } = &o.op else {
                continue;
            };
            match &o.outcome {
                Outcome::Acked => {
                    let missing: Vec<&u32> = chunks.iter().filter(|c| !held(**c)).collect();
                    if !missing.is_empty() {
                        v.push(format!(
                            "acknowledged report of chunks {missing:?} of {group}/{name} by peer {peer_id:x} is absent"
                        ));
                    }
                }
                Outcome::Failed(why) => {
                    v.push(format!(
                        "report of {group}/{name} by peer {peer_id:x} refused unexpectedly: {why}"
                    ));
                    if chunks.iter().any(|c| held(*c)) {
                        v.push(format!(
                            "refused report of chunks {chunks:?} of {group}/{name} is present"
                        ));
                    }
                }
                Outcome::Unknown(_) => {}
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: usize, sent_ms: u64, op: OpKind, outcome: Outcome) -> OpRecord {
        OpRecord {
            client,
            op,
            sent_ms,
            done_ms: sent_ms + 1,
            outcome,
            served_by: None,
        }
    }

    fn summary(name: &str, owner: &str, members: u32, member: bool, pending: bool) -> GroupSummary {
        GroupSummary {
            name: name.into(),
            owner: owner.into(),
            member_count: members,
            is_member: member,
            request_pending: pending,
            open: false,
            owner_display_name: None,
        }
    }

    /// chaos0 owns g; chaos1's view of g is (member, pending); g counts `count` members.
    fn views(
        count: u32,
        member: bool,
        pending: bool,
    ) -> BTreeMap<String, BTreeMap<String, GroupSummary>> {
        let mut v = BTreeMap::new();
        v.insert(
            "chaos0".to_string(),
            BTreeMap::from([("g".to_string(), summary("g", "chaos0", count, true, false))]),
        );
        v.insert(
            "chaos1".to_string(),
            BTreeMap::from([(
                "g".to_string(),
                summary("g", "chaos0", count, member, pending),
            )]),
        );
        v
    }

    fn join() -> OpKind {
        OpKind::Join {
            group: "g".into(),
            user: "chaos1".into(),
        }
    }

    fn accept() -> OpKind {
        OpKind::Accept {
            group: "g".into(),
            user: "chaos1".into(),
        }
    }

    #[test]
    fn acked_join_and_accept_seen_as_member_pass() {
        let ops = [
            op(1, 1, join(), Outcome::Acked),
            op(0, 2, accept(), Outcome::Acked),
        ];
        assert_eq!(
            check_membership(&views(2, true, false), &ops),
            Vec::<String>::new()
        );
        let pending_only = [op(1, 1, join(), Outcome::Acked)];
        assert!(check_membership(&views(1, false, true), &pending_only).is_empty());
    }

    #[test]
    fn lost_join_and_lost_accept_are_found() {
        let ops = [op(1, 1, join(), Outcome::Acked)];
        assert_eq!(check_membership(&views(1, false, false), &ops).len(), 1);
        let ops = [
            op(1, 1, join(), Outcome::Acked),
            op(0, 2, accept(), Outcome::Acked),
        ];
        let v = check_membership(&views(1, false, true), &ops);
        assert!(v.iter().any(|m| m.contains("accept")), "{v:?}");
    }

    #[test]
    fn a_refused_join_must_be_absent_and_is_reported() {
        let ops = [op(1, 1, join(), Outcome::Failed("no".into()))];
        assert_eq!(check_membership(&views(1, false, false), &ops).len(), 1);
        assert_eq!(check_membership(&views(1, false, true), &ops).len(), 2);
    }

    #[test]
    fn a_refused_accept_is_fine_only_after_an_unknown_one_that_applied() {
        let retried = [
            op(1, 1, join(), Outcome::Acked),
            op(0, 2, accept(), Outcome::Unknown("timeout".into())),
            op(0, 5, accept(), Outcome::Failed("no such request".into())),
        ];
        assert!(check_membership(&views(2, true, false), &retried).is_empty());
        assert_eq!(check_membership(&views(1, false, true), &retried).len(), 1);
        let alone = [
            op(1, 1, join(), Outcome::Acked),
            op(0, 5, accept(), Outcome::Failed("no such request".into())),
        ];
        assert_eq!(check_membership(&views(2, true, false), &alone).len(), 1);
    }

    #[test]
    fn a_member_added_twice_shows_in_the_count() {
        let v = check_membership(&views(3, true, false), &[]);
        assert_eq!(v.len(), 1, "{v:?}");
    }

    #[test]
    fn counts_by_kind() {
        let ops = [
            op(1, 1, join(), Outcome::Acked),
            op(1, 2, join(), Outcome::Unknown("t".into())),
            op(0, 3, accept(), Outcome::Failed("f".into())),
        ];
        let c = op_counts(&ops);
        assert_eq!(
            c.get("join"),
            Some(&OpCounts {
                sent: 2,
                acked: 1,
                failed: 0,
                unknown: 1
            })
        );
        assert_eq!(c.get("accept").map(|c| c.failed), Some(1));
    }
}
