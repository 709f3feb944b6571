//! `cluster quotas show|set`: the cluster's quotas (groups owned per user, files per group, peer
//! ids per user, pending join requests per group), read from and changed through the leader
//! with the admin credential: DIR's, or with `--trackers` the one `--ca`, `--admin-cert` and
//! `--admin-key` name.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use proto::quota::{Quota, QuotaChanges, QuotaLimits};
use proto::tracker_msg::{AdminRequest, Response};

use super::target::AdminTarget as Target;

/// Flags of `cluster quotas`.
#[derive(Debug, Args)]
pub struct QuotasArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Print the quotas in force (the defaults until an admin sets one).
    Show {
        #[command(flatten)]
        target: Target,
        /// Print a JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change some quotas; the others stay. Lowering one refuses new items only: nothing
    /// already there is deleted.
    Set {
        #[command(flatten)]
        target: Target,
        /// Groups one user may own.
        #[arg(long)]
        groups_per_user: Option<u64>,
        /// Files one group may hold.
        #[arg(long)]
        files_per_group: Option<u64>,
        /// Peer ids one user may register.
        #[arg(long)]
        peer_ids_per_user: Option<u64>,
        /// Join requests one group may have waiting.
        #[arg(long)]
        pending_requests_per_group: Option<u64>,
        /// Print the quotas now in force as a JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `cluster quotas`.
///
/// # Errors
/// If the cluster cannot be reached or refuses (without the admin credential: `Forbidden`).
pub async fn run(a: QuotasArgs) -> anyhow::Result<()> {
    match a.action {
        Action::Show { target, json } => {
            let limits = ask(&target, AdminRequest::GetQuotas)
                .await
                .context("while reading the quotas")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&limits)?);
            } else {
                print_table(&limits);
            }
        }
        Action::Set {
            target,
            groups_per_user,
            files_per_group,
            peer_ids_per_user,
            pending_requests_per_group,
            json,
        } => {
            let changes = QuotaChanges {
                groups_per_user,
                files_per_group,
                peer_ids_per_user,
                pending_requests_per_group,
            };
            if changes.is_empty() {
                bail!(
                    "name a quota to set: --groups-per-user, --files-per-group, \
                     --peer-ids-per-user or --pending-requests-per-group"
                );
            }
            let limits = ask(&target, AdminRequest::SetQuotas(changes))
                .await
                .context("while setting the quotas")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&limits)?);
            } else {
                print_table(&limits);
            }
        }
    }
    Ok(())
}

async fn ask(target: &Target, request: AdminRequest) -> anyhow::Result<QuotaLimits> {
    match target.admin_client()?.admin(request).await? {
        Response::Quotas(limits) => Ok(limits),
        other => bail!("the tracker answered {other:?} instead of the quotas"),
    }
}

fn print_table(limits: &QuotaLimits) {
    for quota in Quota::ALL {
        println!(
            "{:<34} {:>12}   (--{})",
            quota.to_string(),
            limits.get(quota),
            quota.flag()
        );
    }
}
