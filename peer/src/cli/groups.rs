//! `peer group create|join|leave|requests|accept|list`.

use clap::Subcommand;
use serde::Serialize;

use super::{output, Ctx};
use crate::ops::groups::{self, GroupChange};

/// `peer group ...`
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group you own.
    Create {
        /// Group name.
        group: String,
    },
    /// Ask the owner to let you in.
    Join {
        /// Group name.
        group: String,
    },
    /// Leave a group (or withdraw your pending request).
    Leave {
        /// Group name.
        group: String,
    },
    /// Owner: list pending join requests.
    Requests {
        /// Group name.
        group: String,
    },
    /// Owner: accept a join request.
    Accept {
        /// Group name.
        group: String,
        /// User to let in.
        username: String,
    },
    /// Every group: owner, members, whether you are in or pending.
    List,
}

#[derive(Serialize)]
struct GroupRow {
    name: String,
    owner: String,
    members: u32,
    member: bool,
    pending: bool,
}

/// `--json` of `group create`, `join`, `leave` and `accept`: the group, the user the change is
/// about, and where that user now stands in it.
#[derive(Serialize)]
struct MembershipJson<'a> {
    group: &'a str,
    /// The user concerned: you, or with `accept` the user let in.
    username: &'a str,
    /// `owner`, `member`, `pending` (a join request waits for the owner) or `none`.
    standing: &'static str,
}

/// Prints the outcome of a membership change: `text`, or with `--json` the object.
fn done(ctx: &Ctx, json: MembershipJson<'_>, text: &str) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(&json);
    }
    println!("{text}");
    Ok(())
}

/// Runs `peer group ...`.
///
/// # Errors
/// The tracker's refusal (not found, not owner, ...).
pub async fn run(ctx: &Ctx, cmd: GroupCmd) -> anyhow::Result<()> {
    ctx.token()?;
    let tracker = ctx.tracker()?;
    let home = &ctx.home;
    match cmd {
        GroupCmd::Create { group } => {
            groups::change(&tracker, home, &group, GroupChange::Create).await?;
            let me = home.session()?.username;
            let json = MembershipJson {
                group: &group,
                username: &me,
                standing: "owner",
            };
            done(ctx, json, &format!("group {group} created; you own it"))?;
        }
        GroupCmd::Join { group } => {
            groups::change(&tracker, home, &group, GroupChange::Join).await?;
            let me = home.session()?.username;
            let json = MembershipJson {
                group: &group,
                username: &me,
                standing: "pending",
            };
            let text = format!(
                "join request for {group} sent; the owner accepts it with \
                 `peer group accept {group} <you>`"
            );
            done(ctx, json, &text)?;
        }
        GroupCmd::Leave { group } => {
            groups::change(&tracker, home, &group, GroupChange::Leave).await?;
            let me = home.session()?.username;
            let json = MembershipJson {
                group: &group,
                username: &me,
                standing: "none",
            };
            done(ctx, json, &format!("left {group}"))?;
        }
        GroupCmd::Requests { group } => {
            let users = groups::requests(&tracker, home, &group).await?;
            if ctx.json {
                output::json(&users)?;
            } else if users.is_empty() {
                println!("no pending requests");
            } else {
                for u in users {
                    println!("{u}");
                }
            }
        }
        GroupCmd::Accept { group, username } => {
            let accept = GroupChange::Accept(username.clone());
            groups::change(&tracker, home, &group, accept).await?;
            let json = MembershipJson {
                group: &group,
                username: &username,
                standing: "member",
            };
            done(ctx, json, &format!("{username} is now a member of {group}"))?;
        }
        GroupCmd::List => {
            let rows: Vec<GroupRow> = groups::list(&tracker, home)
                .await?
                .into_iter()
                .map(|g| GroupRow {
                    name: g.name,
                    owner: g.owner,
                    members: g.member_count,
                    member: g.is_member,
                    pending: g.request_pending,
                })
                .collect();
            if ctx.json {
                output::json(&rows)?;
            } else {
                println!("{:<24} {:<16} {:>7}  YOU", "GROUP", "OWNER", "MEMBERS");
                for r in rows {
                    let you = if r.member {
                        "member"
                    } else if r.pending {
                        "pending"
                    } else {
                        "-"
                    };
                    println!("{:<24} {:<16} {:>7}  {}", r.name, r.owner, r.members, you);
                }
            }
        }
    }
    Ok(())
}
