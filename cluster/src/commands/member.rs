//! `cluster member list|add|remove`: the membership of any cluster the admin credential reaches
//! (`--trackers` and the credential flags, or a DIR), changed through the leader
//! ([`cluster::members`]). `add` takes a node the operator already started elsewhere.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use cluster::members::{self, CatchUpProgress, Joining};
use proto::tracker_msg::Member;

use super::target::AdminTarget;

/// Flags of `cluster member`.
#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Every voter and learner with its client and Raft address, as the leader sees them.
    List {
        #[command(flatten)]
        target: AdminTarget,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a node that is already running (started with its certificate and without
    /// --initial-cluster): as a learner, then, once it has caught up, as a voter.
    Add {
        #[command(flatten)]
        target: AdminTarget,
        /// Raft id of the new node.
        #[arg(long)]
        id: u64,
        /// Its client API address, as other hosts reach it.
        #[arg(long)]
        api_addr: String,
        /// Its Raft address, as other hosts reach it.
        #[arg(long)]
        raft_addr: String,
        /// Longest wait for it to catch up, in seconds.
        #[arg(long, env = "CLUSTER_CATCH_UP_SECS", default_value_t = 120)]
        catch_up_secs: u64,
        /// Print the result as JSON (progress goes to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Take a node out of the voters and the learners (the last voter cannot be removed). The
    /// node keeps running: stop it yourself.
    Remove {
        #[command(flatten)]
        target: AdminTarget,
        /// Raft id of the node.
        #[arg(long)]
        id: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// One member as `list --json` prints it.
#[derive(Debug, Serialize)]
struct Row<'a> {
    id: u64,
    api_addr: &'a str,
    raft_addr: &'a str,
    role: &'static str,
}

fn role(m: &Member) -> &'static str {
    if m.voter {
        "voter"
    } else {
        "learner"
    }
}

/// What `add --json` and `remove --json` print.
#[derive(Debug, Serialize)]
struct Changed {
    id: u64,
    action: &'static str,
    voters: Vec<u64>,
}

/// Runs `cluster member`.
///
/// # Errors
/// If the cluster cannot be reached, refuses (`Forbidden` without the admin credential), or the
/// change cannot be made.
pub async fn run(a: MemberArgs) -> anyhow::Result<()> {
    match a.action {
        Action::List { target, json } => {
            let list = members::list(&target.admin_client()?)
                .await
                .context("while listing the members")?;
            if json {
                let rows: Vec<Row> = list
                    .iter()
                    .map(|m| Row {
                        id: m.id,
                        api_addr: &m.api_addr,
                        raft_addr: &m.raft_addr,
                        role: role(m),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<4} {:<22} {:<22} ROLE", "ID", "API", "RAFT");
                for m in &list {
                    println!(
                        "{:<4} {:<22} {:<22} {}",
                        m.id,
                        m.api_addr,
                        m.raft_addr,
                        role(m)
                    );
                }
            }
        }
        Action::Add {
            target,
            id,
            api_addr,
            raft_addr,
            catch_up_secs,
            json,
        } => {
            let config = target.config()?;
            let tls = config.tls.clone();
            let client = proto::TrackerClient::new(config)?;
            let node = Joining {
                id,
                api_addr,
                raft_addr,
            };
            eprintln!("adding node {id} as a learner");
            let voters = members::add(
                &client,
                &tls,
                &node,
                Duration::from_secs(catch_up_secs),
                progress_printer(id),
            )
            .await
            .with_context(|| format!("while adding node {id}"))?;
            if json {
                let out = Changed {
                    id,
                    action: "added",
                    voters,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("node {id} is a voter; voters now {voters:?}");
            }
        }
        Action::Remove { target, id, json } => {
            let voters = members::remove(&target.admin_client()?, id)
                .await
                .with_context(|| format!("while removing node {id}"))?;
            if json {
                let out = Changed {
                    id,
                    action: "removed",
                    voters,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("node {id} removed; voters now {voters:?}; stop its process yourself");
            }
        }
    }
    Ok(())
}

/// Prints a learner's progress on stderr at most once a second, and when it is done.
pub(super) fn progress_printer(id: u64) -> impl FnMut(CatchUpProgress) {
    let mut last: Option<Instant> = None;
    move |p: CatchUpProgress| {
        let done = p.applied >= Some(p.target);
        if done || last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last = Some(Instant::now());
            let at = p.applied.map_or("nothing".to_string(), |a| a.to_string());
            eprintln!(
                "node {id} has applied {at} of {}{}",
                p.target,
                if done { ": caught up" } else { "" }
            );
        }
    }
}
