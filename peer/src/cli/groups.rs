//! `peer group create|join|leave|requests|accept|reject|remove|list`.

use clap::Subcommand;
use serde::Serialize;

use super::{output, Ctx};
use crate::ops::groups::{self, ChangeOutcome, GroupChange};

/// `peer group ...`
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group you own.
    Create {
        /// Group name.
        group: String,
        /// Anyone may join without your acceptance.
        #[arg(long)]
        open: bool,
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
    /// Owner: refuse a join request (the user may ask again).
    Reject {
        /// Group name.
        group: String,
        /// User to refuse.
        username: String,
    },
    /// Owner: remove a member (not yourself: use `leave`); their peers stop being sources.
    Remove {
        /// Group name.
        group: String,
        /// Member to remove.
        username: String,
    },
    /// Every group: owner, members, whether it is open, whether you are in or pending.
    List,
}

#[derive(Serialize)]
struct GroupRow {
    name: String,
    owner: String,
    /// The owner's display name, if they gave one.
    owner_display_name: Option<String>,
    members: u32,
    member: bool,
    pending: bool,
    /// Anyone may join without the owner's acceptance.
    open: bool,
}

/// `--json` of `group create`, `join`, `leave`, `accept`, `reject` and `remove`: the group, the
/// user the change is about, and where that user now stands in it.
#[derive(Serialize)]
struct MembershipJson<'a> {
    group: &'a str,
    /// The user concerned: you, or with `accept`, `reject` or `remove` the user named.
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
        GroupCmd::Create { group, open } => {
            let create = if open {
                GroupChange::CreateOpen
            } else {
                GroupChange::Create
            };
            groups::change(&tracker, home, &group, create).await?;
            let me = home.session()?.username;
            let json = MembershipJson {
                group: &group,
                username: &me,
                standing: "owner",
            };
            let text = if open {
                format!("open group {group} created; you own it and anyone may join")
            } else {
                format!("group {group} created; you own it")
            };
            done(ctx, json, &text)?;
        }
        GroupCmd::Join { group } => {
            let outcome = groups::change(&tracker, home, &group, GroupChange::Join).await?;
            let me = home.session()?.username;
            let joined = outcome == ChangeOutcome::Joined;
            let json = MembershipJson {
                group: &group,
                username: &me,
                standing: if joined { "member" } else { "pending" },
            };
            let text = if joined {
                format!("you are now a member of {group} (an open group)")
            } else {
                format!(
                    "join request for {group} sent; the owner accepts it with \
                     `peer group accept {group} <you>`"
                )
            };
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
        GroupCmd::Reject { group, username } => {
            let reject = GroupChange::Reject(username.clone());
            groups::change(&tracker, home, &group, reject).await?;
            let json = MembershipJson {
                group: &group,
                username: &username,
                standing: "none",
            };
            let text = format!("join request of {username} for {group} refused");
            done(ctx, json, &text)?;
        }
        GroupCmd::Remove { group, username } => {
            let remove = GroupChange::Remove(username.clone());
            groups::change(&tracker, home, &group, remove).await?;
            let json = MembershipJson {
                group: &group,
                username: &username,
                standing: "none",
            };
            done(ctx, json, &format!("{username} removed from {group}"))?;
        }
        GroupCmd::List => {
            let rows: Vec<GroupRow> = groups::list(&tracker, home)
                .await?
                .into_iter()
                .map(|g| GroupRow {
                    name: g.name,
                    owner: g.owner,
                    owner_display_name: g.owner_display_name,
                    members: g.member_count,
                    member: g.is_member,
                    pending: g.request_pending,
                    open: g.open,
                })
                .collect();
            if ctx.json {
                output::json(&rows)?;
            } else {
                println!(
                    "{:<24} {:<16} {:>7}  {:<6}  YOU",
                    "GROUP", "OWNER", "MEMBERS", "ACCESS"
                );
                for r in rows {
                    let access = if r.open { "open" } else { "closed" };
                    let you = if r.member {
                        "member"
                    } else if r.pending {
                        "pending"
                    } else {
                        "-"
                    };
                    let owner = match &r.owner_display_name {
                        Some(d) => format!("{} ({d})", r.owner),
                        None => r.owner.clone(),
                    };
                    println!(
                        "{:<24} {:<16} {:>7}  {:<6}  {}",
                        r.name, owner, r.members, access, you
                    );
                }
            }
        }
    }
    Ok(())
}
